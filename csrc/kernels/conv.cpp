// conv.cpp — convolution on the GEMM (Note [Convolution on GEMM], conv.h), the direct
// depthwise loops, and im2col / col2im.
#include "kernels/conv.h"

#include <algorithm>
#include <cstring>

#include "cpu/parallel.h"
#include "kernels/gemm_plan.h"
#include "kernels/kernel_api.h"
#include "kernels/tasks.h"
#include "kernels/table.h"
#include "kernels/work.h"
#include "kernels/workspace.h"

namespace gradcore::kernels {
namespace {

thread_local Workspace tl_col;    // one thread's column tile
thread_local Workspace tl_dcol;   // and its gradient
thread_local Workspace tl_parts;  // the caller's per-chunk weight-gradient partials
thread_local Workspace tl_gy;     // output-gradient rows of several images side by side

constexpr int64_t kWeightChunks = 8;

inline int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
inline int64_t ceil_div(int64_t a, int64_t b) { return -floor_div(-a, b); }

// Visits the output positions [p0, p1) of one kernel tap (kd, kh, kw) of one channel in
// runs along W that share their output row: run(q, n, xo, lo, hi) for the n positions
// starting at p0 + q, whose input elements are x[xo + j * stride_w] for j in [lo, hi)
// (the others fall in the padding; lo = hi = 0 when the whole row does).
template <class Run>
void for_tap_runs(const ConvGeom& g, int64_t kd, int64_t kh, int64_t kw, int64_t p0, int64_t p1, Run&& run) {
  const int64_t Ho = g.out[1], Wo = g.out[2], H = g.in[1], W = g.in[2], D = g.in[0];
  const int64_t sw = g.stride[2];
  const int64_t off_w = kw * g.dil[2] - g.pad[2];
  // ow in [ow_lo, ow_hi) reads inside the row: 0 <= ow * sw + off_w < W
  const int64_t ow_lo = std::max<int64_t>(0, ceil_div(-off_w, sw));
  const int64_t ow_hi = std::min<int64_t>(Wo, floor_div(W - 1 - off_w, sw) + 1);
  // The output row of p0, then row by row (no division per run).
  int64_t ow0 = p0 % Wo, row = p0 / Wo, oh = row % Ho, od = row / Ho;
  int64_t p = p0;
  while (p < p1) {
    const int64_t n = std::min(p1 - p, Wo - ow0);
    const int64_t id = od * g.stride[0] + kd * g.dil[0] - g.pad[0];
    const int64_t ih = oh * g.stride[1] + kh * g.dil[1] - g.pad[1];
    int64_t lo = 0, hi = 0, xo = 0;
    if (id >= 0 && id < D && ih >= 0 && ih < H) {
      lo = std::clamp<int64_t>(ow_lo - ow0, 0, n);
      hi = std::clamp<int64_t>(ow_hi - ow0, lo, n);
      xo = (id * H + ih) * W + ow0 * sw + off_w;
    }
    run(p - p0, n, xo, lo, hi);
    p += n;
    ow0 = 0;
    if (++oh == Ho) {
      oh = 0;
      ++od;
    }
  }
}

// Calls tap(r, kd, kh, kw) for every kernel tap in row-major order.
template <class F>
void for_taps(const ConvGeom& g, F&& tap) {
  int64_t r = 0;
  for (int64_t kd = 0; kd < g.ker[0]; ++kd)
    for (int64_t kh = 0; kh < g.ker[1]; ++kh)
      for (int64_t kw = 0; kw < g.ker[2]; ++kw) tap(r++, kd, kh, kw);
}

// A "same" convolution (stride 1, every output extent equal to the input's): the input
// under tap r of output position p is x[p + tap_shift(r)] wherever it is not padding, so
// one tap's row of a column tile is a single contiguous copy, after which the positions
// that fall in the padding (the rows above/below, |shift_w| columns at each row's ends,
// which the copy filled with the neighbouring row's elements) are zeroed. This replaced a
// memcpy per output row: 3x3 64->64 @56, batch 8, im2col 5 -> ~1 ms on one core.
bool contiguous_taps(const ConvGeom& g) {
  for (int d = 0; d < 3; ++d)
    if (g.stride[d] != 1 || g.out[d] != g.in[d]) return false;
  return true;
}

int64_t tap_shift(const ConvGeom& g, int64_t kd, int64_t kh, int64_t kw) {
  return ((kd * g.dil[0] - g.pad[0]) * g.in[1] + (kh * g.dil[1] - g.pad[1])) * g.in[2] + kw * g.dil[2] - g.pad[2];
}

template <class T>
void fill_zero(T* p, int64_t n) {
  for (int64_t j = 0; j < n; ++j) p[j] = T(0);
}

// Zeroes row[q + j] for the positions [p0, p1) of tap (kd, kh, kw) that read padding.
template <class T>
void zero_padding(const ConvGeom& g, int64_t kd, int64_t kh, int64_t kw, int64_t p0, int64_t p1, T* row) {
  for_tap_runs(g, kd, kh, kw, p0, p1, [&](int64_t q, int64_t n, int64_t, int64_t lo, int64_t hi) {
    fill_zero(row + q, lo);
    fill_zero(row + q + hi, n - hi);
  });
}

// col[(c * R + r) * ldc + (p - p0)] = the input under tap r of output position p, for the
// `channels` channels starting at x, positions [p0, p1).
template <class T>
void im2col_tile(const ConvGeom& g, const T* x, int64_t channels, int64_t p0, int64_t p1, T* col, int64_t ldc) {
  const int64_t R = g.taps(), sw = g.stride[2], plane = g.in_size();
  const bool contiguous = contiguous_taps(g);
  for (int64_t c = 0; c < channels; ++c) {
    const T* xc = x + c * plane;
    for_taps(g, [&](int64_t r, int64_t kd, int64_t kh, int64_t kw) {
      T* row = col + (c * R + r) * ldc;
      if (contiguous) {
        // positions whose shifted index lies inside the plane; the rest is padding
        const int64_t off = tap_shift(g, kd, kh, kw);
        const int64_t a = std::clamp<int64_t>(-off, p0, p1), b = std::clamp<int64_t>(plane - off, a, p1);
        fill_zero(row, a - p0);
        std::memcpy(row + (a - p0), xc + a + off, sizeof(T) * (b - a));
        fill_zero(row + (b - p0), p1 - b);
        zero_padding(g, kd, kh, kw, p0, p1, row);
        return;
      }
      for_tap_runs(g, kd, kh, kw, p0, p1, [&](int64_t q, int64_t n, int64_t xo, int64_t lo, int64_t hi) {
        T* dst = row + q;
        fill_zero(dst, lo);
        if (sw == 1) {
          const T* src = xc + xo;
          for (int64_t j = lo; j < hi; ++j) dst[j] = src[j];  // short runs: no memcpy call
        } else {
          for (int64_t j = lo; j < hi; ++j) dst[j] = xc[xo + j * sw];
        }
        fill_zero(dst + hi, n - hi);
      });
    });
  }
}

// The adjoint of im2col_tile: x[...] += col[...] over the same positions. When col is the
// caller's scratch (`scratch`) and the taps are contiguous, its padding positions are
// zeroed first, so one vector add per tap covers the tile.
template <class T>
void col2im_tile(const ConvGeom& g, const T* col, int64_t ldc, int64_t channels, int64_t p0, int64_t p1, T* x,
                 T* scratch = nullptr) {
  const int64_t R = g.taps(), sw = g.stride[2], plane = g.in_size();
  const auto axpby = table<T>().axpby;
  const bool contiguous = scratch == col && contiguous_taps(g);
  for (int64_t c = 0; c < channels; ++c) {
    T* xc = x + c * plane;
    for_taps(g, [&](int64_t r, int64_t kd, int64_t kh, int64_t kw) {
      const T* row = col + (c * R + r) * ldc;
      if (contiguous) {
        const int64_t off = tap_shift(g, kd, kh, kw);
        const int64_t a = std::clamp<int64_t>(-off, p0, p1), b = std::clamp<int64_t>(plane - off, a, p1);
        zero_padding(g, kd, kh, kw, p0, p1, scratch + (c * R + r) * ldc);
        if (b > a) axpby(T(1), row + (a - p0), T(1), xc + a + off, b - a);
        return;
      }
      for_tap_runs(g, kd, kh, kw, p0, p1, [&](int64_t q, int64_t, int64_t xo, int64_t lo, int64_t hi) {
        if (hi <= lo) return;
        if (sw == 1) {
          axpby(T(1), row + q + lo, T(1), xc + xo + lo, hi - lo);
        } else {
          for (int64_t j = lo; j < hi; ++j) xc[xo + j * sw] += row[q + j];
        }
      });
    });
  }
}

// Output positions per column tile: the tile (rows x positions) in half of one core's L2.
int64_t tile_positions(int64_t rows, int64_t positions, size_t elem, int64_t l2) {
  const int64_t fit = (l2 / 2) / std::max<int64_t>(1, rows * int64_t(elem));
  if (fit >= positions) return positions;
  return std::max<int64_t>(16, fit / 16 * 16);
}

template <class T>
int64_t conv_tile(const ConvGeom& g) {
  return tile_positions(g.cg() * g.taps(), g.out_size(), sizeof(T), gemm_machine_for<T>().caches.l2);
}

template <class T>
void add_bias(const T* b, T* y, int64_t channels, int64_t plane) {
  for (int64_t k = 0; k < channels; ++k) {
    T* yk = y + k * plane;
    const T bk = b[k];
    for (int64_t p = 0; p < plane; ++p) yk[p] += bk;
  }
}

// ---- depthwise: one input channel per group, out channel k reads in channel k / m ----
// Direct loops over output rows (the table's conv_rows*, vectorised along the row) on a
// zero-padded copy of the input plane, so no tap needs a bounds check.

struct PaddedPlane {
  int64_t D, H, W;  // the padded sizes
  bool copy;        // false: no padding, the plane itself
  explicit PaddedPlane(const ConvGeom& g)
      : D(g.in[0] + 2 * g.pad[0]), H(g.in[1] + 2 * g.pad[1]), W(g.in[2] + 2 * g.pad[2]),
        copy(g.pad[0] || g.pad[1] || g.pad[2]) {}
  int64_t size() const { return D * H * W; }
};

// xp = x's plane inside zeros (to_padded), or x = xp's interior.
template <class T>
void copy_padded(const ConvGeom& g, const PaddedPlane& pp, const T* src, T* dst, bool to_padded) {
  if (to_padded) std::memset(dst, 0, sizeof(T) * pp.size());
  for (int64_t d = 0; d < g.in[0]; ++d)
    for (int64_t h = 0; h < g.in[1]; ++h) {
      const int64_t plain = (d * g.in[1] + h) * g.in[2];
      const int64_t padded = ((d + g.pad[0]) * pp.H + h + g.pad[1]) * pp.W + g.pad[2];
      if (to_padded) std::memcpy(dst + padded, src + plain, sizeof(T) * g.in[2]);
      else std::memcpy(dst + plain, src + padded, sizeof(T) * g.in[2]);
    }
}

// fn(y_row, offset of the row's first tap (0, 0, 0) in the padded plane) for every output row.
template <class F>
void for_output_rows(const ConvGeom& g, const PaddedPlane& pp, F&& fn) {
  for (int64_t od = 0; od < g.out[0]; ++od)
    for (int64_t oh = 0; oh < g.out[1]; ++oh)
      fn((od * g.out[1] + oh) * g.out[2], (od * g.stride[0] * pp.H + oh * g.stride[1]) * pp.W);
}

template <class T>
void depthwise_forward(const ConvGeom& g, const T* x, const T* w, const T* b, T* y) {
  const int64_t m = g.kg(), R = g.taps(), P = g.out_size(), Pin = g.in_size(), K = g.out_ch;
  const int64_t kh = g.ker[1], kw = g.ker[2], plane_taps = kh * kw;
  const PaddedPlane pp(g);
  const auto conv_rows = table<T>().conv_rows;
  run_tasks(g.batch * K, task_threads<T>(g.batch * K, double(g.batch) * K * R * P), [&](int64_t t) {
    const int64_t n = t / K, k = t % K;
    const T* xc = x + (n * g.in_ch + k / m) * Pin;
    const T* xp = xc;
    if (pp.copy) {
      T* buf = static_cast<T*>(tl_col.get(sizeof(T) * pp.size()));
      copy_padded(g, pp, xc, buf, true);
      xp = buf;
    }
    const T* wk = w + k * R;
    T* yk = y + t * P;
    const T init = b ? b[k] : T(0);
    for (int64_t p = 0; p < P; ++p) yk[p] = init;
    for_output_rows(g, pp, [&](int64_t row, int64_t off) {
      for (int64_t a = 0; a < g.ker[0]; ++a)
        conv_rows(xp + off + a * g.dil[0] * pp.H * pp.W, pp.W, g.dil[1], g.dil[2], g.stride[2], wk + a * plane_taps,
                  kh, kw, yk + row, g.out[2]);
    });
  });
}

template <class T>
void depthwise_backward(const ConvGeom& g, const T* x, const T* w, const T* gy, T* gx, T* gw) {
  const int64_t m = g.kg(), R = g.taps(), P = g.out_size(), Pin = g.in_size(), C = g.in_ch;
  const int64_t kh = g.ker[1], kw = g.ker[2], plane_taps = kh * kw, dstep = g.dil[0];
  const PaddedPlane pp(g);
  const auto& tab = table<T>();
  // gw partials per (image, out channel, tap), summed over the images in order below.
  T* parts = gw ? static_cast<T*>(tl_parts.get(sizeof(T) * g.batch * g.out_ch * R)) : nullptr;
  const double fmas = double(g.batch) * g.out_ch * R * P * ((gx ? 1 : 0) + (gw ? 1 : 0));
  run_tasks(g.batch * C, task_threads<T>(g.batch * C, fmas), [&](int64_t t) {
    const int64_t n = t / C, c = t % C;
    const T* xp = gw ? x + t * Pin : nullptr;
    T* gxc = gx ? gx + t * Pin : nullptr;
    T* gxp = gxc;
    if (pp.copy) {
      T* buf = static_cast<T*>(tl_col.get(sizeof(T) * pp.size() * 2));
      if (gw) {
        copy_padded(g, pp, x + t * Pin, buf, true);
        xp = buf;
      }
      if (gx) gxp = buf + pp.size();
    }
    if (gxp) std::memset(gxp, 0, sizeof(T) * (pp.copy ? pp.size() : Pin));
    for (int64_t j = 0; j < m; ++j) {
      const int64_t k = c * m + j;
      const T* gyk = gy + (n * g.out_ch + k) * P;
      const T* wk = w ? w + k * R : nullptr;
      T* pk = parts ? parts + (n * g.out_ch + k) * R : nullptr;
      if (pk) std::memset(pk, 0, sizeof(T) * R);
      for_output_rows(g, pp, [&](int64_t row, int64_t off) {
        for (int64_t a = 0; a < g.ker[0]; ++a) {
          const int64_t o = off + a * dstep * pp.H * pp.W;
          if (gxp)
            tab.conv_rows_adjoint(gyk + row, pp.W, g.dil[1], g.dil[2], g.stride[2], wk + a * plane_taps, kh, kw,
                                  gxp + o, g.out[2]);
          if (pk)
            tab.conv_rows_dot(gyk + row, pp.W, g.dil[1], g.dil[2], g.stride[2], xp + o, kh, kw,
                              pk + a * plane_taps, g.out[2]);
        }
      });
    }
    if (gxc && pp.copy) copy_padded(g, pp, gxp, gxc, false);
  });
  if (gw) {
    const int64_t per_image = g.out_ch * R;
    for (int64_t i = 0; i < per_image; ++i) {
      T s = T(0);
      for (int64_t n = 0; n < g.batch; ++n) s += parts[n * per_image + i];
      gw[i] = s;
    }
  }
}

// Images per column tile: an image with fewer output positions than half a tile shares
// its GEMM with the next ones (LeNet's 10x10 maps: one product per image would be mostly
// call overhead). From the shape and the caches alone.
int64_t images_per_tile(const ConvGeom& g, int64_t pt) {
  const int64_t P = g.out_size();
  return P > 0 && pt >= 2 * P ? std::max<int64_t>(1, std::min(pt / P, g.batch)) : 1;
}

// dst[k * ldd + i * P + p] = src image i's rows (k < rows, row stride P, images `image`
// elements apart), or the reverse with to_images.
template <class T>
void gather_images(const T* src, int64_t image, int64_t nb, int64_t rows, int64_t P, T* dst, bool to_images) {
  for (int64_t i = 0; i < nb; ++i)
    for (int64_t k = 0; k < rows; ++k) {
      T* packed = dst + k * nb * P + i * P;
      T* img = const_cast<T*>(src) + i * image + k * P;
      if (to_images) std::memcpy(img, packed, sizeof(T) * P);
      else std::memcpy(packed, img, sizeof(T) * P);
    }
}

}  // namespace

template <class T>
void conv_forward(const ConvGeom& g, const T* x, const T* w, const T* b, T* y) {
  if (g.batch == 0 || g.out_ch == 0 || g.out_size() == 0) return;
  if (g.depthwise()) return depthwise_forward(g, x, w, b, y);
  const int64_t G = g.groups, Cg = g.cg(), Kg = g.kg(), CR = Cg * g.taps(), P = g.out_size(), Pin = g.in_size();
  const int64_t K = g.out_ch, C = g.in_ch;
  const bool pw = g.pointwise();
  const int64_t pt = pw ? P : conv_tile<T>(g);
  const int64_t per = pw ? 1 : images_per_tile(g, pt);
  auto task = [&](int64_t t) {
    const int64_t n0 = t * per, nb = std::min(per, g.batch - n0);
    T* col = pw ? nullptr : static_cast<T*>(tl_col.get(sizeof(T) * CR * std::max(pt, nb * P)));
    T* ys = nb > 1 ? static_cast<T*>(tl_dcol.get(sizeof(T) * Kg * nb * P)) : nullptr;
    for (int64_t grp = 0; grp < G; ++grp) {
      const T* xg = x + (n0 * C + grp * Cg) * Pin;
      const T* wg = w + grp * Kg * CR;
      T* yg = y + (n0 * K + grp * Kg) * P;
      if (pw) {
        gemm<T>(false, false, Kg, P, Cg, T(1), wg, CR, xg, Pin, T(0), yg, P);
      } else if (nb > 1) {
        // nb whole images side by side in one tile, the product gathered back per image
        for (int64_t i = 0; i < nb; ++i) im2col_tile(g, xg + i * C * Pin, Cg, 0, P, col + i * P, nb * P);
        gemm<T>(false, false, Kg, nb * P, CR, T(1), wg, CR, col, nb * P, T(0), ys, nb * P);
        gather_images(yg, K * P, nb, Kg, P, ys, true);
      } else {
        for (int64_t p0 = 0; p0 < P; p0 += pt) {
          const int64_t p1 = std::min(P, p0 + pt);
          im2col_tile(g, xg, Cg, p0, p1, col, p1 - p0);
          gemm<T>(false, false, Kg, p1 - p0, CR, T(1), wg, CR, col, p1 - p0, T(0), yg + p0, P);
        }
      }
    }
    if (b)
      for (int64_t i = 0; i < nb; ++i) add_bias(b, y + (n0 + i) * K * P, K, P);
  };
  const int64_t tasks = (g.batch + per - 1) / per;
  run_tasks(tasks, task_threads<T>(tasks, double(g.batch) * K * CR * P), task);
}

template <class T>
void conv_backward(const ConvGeom& g, const T* x, const T* w, const T* gy, T* gx, T* gw, T* gb) {
  const int64_t N = g.batch, K = g.out_ch, P = g.out_size(), Pin = g.in_size(), C = g.in_ch;
  const int64_t wsize = K * g.cg() * g.taps();
  if (gb) {
    const auto sum = table<T>().sum;
    for (int64_t k = 0; k < K; ++k) {
      double s = 0;
      for (int64_t n = 0; n < N; ++n) s += double(sum(gy + (n * K + k) * P, P));
      gb[k] = T(s);
    }
  }
  if (!gx && !gw) return;
  if (N == 0 || P == 0 || K == 0) {
    if (gx) std::memset(gx, 0, sizeof(T) * N * C * Pin);
    if (gw) std::memset(gw, 0, sizeof(T) * wsize);
    return;
  }
  if (g.depthwise()) return depthwise_backward(g, x, w, gy, gx, gw);
  const int64_t G = g.groups, Cg = g.cg(), Kg = g.kg(), CR = Cg * g.taps();
  const bool pw = g.pointwise();
  const int64_t pt = pw ? P : conv_tile<T>(g);
  const int64_t per = pw ? 1 : images_per_tile(g, pt);
  // The batch in fixed chunks (from N alone); chunk c's weight gradient goes to parts[c].
  const int64_t chunks = gw ? std::min(N, kWeightChunks) : (N + per - 1) / per;
  T* parts = gw && chunks > 1 ? static_cast<T*>(tl_parts.get(sizeof(T) * chunks * wsize)) : nullptr;
  auto chunk = [&](int64_t c) {
    const int64_t n0 = gw ? c * N / chunks : c * per, n1 = gw ? (c + 1) * N / chunks : std::min(N, n0 + per);
    T* gwc = gw ? (parts ? parts + c * wsize : gw) : nullptr;
    const int64_t span = std::max(pt, per * P);
    T* col = !pw && gw ? static_cast<T*>(tl_col.get(sizeof(T) * CR * span)) : nullptr;
    T* dcol = !pw && gx ? static_cast<T*>(tl_dcol.get(sizeof(T) * CR * span)) : nullptr;
    T* gys = !pw && per > 1 ? static_cast<T*>(tl_gy.get(sizeof(T) * Kg * per * P)) : nullptr;
    if (gx && !pw) std::memset(gx + n0 * C * Pin, 0, sizeof(T) * (n1 - n0) * C * Pin);
    for (int64_t a = n0; a < n1; a += per) {
      const int64_t nb = std::min(per, n1 - a);
      for (int64_t grp = 0; grp < G; ++grp) {
        const T* xg = x + (a * C + grp * Cg) * Pin;
        const T* wg = w + grp * Kg * CR;
        const T* gyg = gy + (a * K + grp * Kg) * P;
        T* gxg = gx ? gx + (a * C + grp * Cg) * Pin : nullptr;
        T* gwg = gwc ? gwc + grp * Kg * CR : nullptr;
        if (pw) {
          if (gwg) gemm<T>(false, true, Kg, Cg, P, T(1), gyg, P, xg, Pin, a == n0 ? T(0) : T(1), gwg, CR);
          if (gxg) gemm<T>(true, false, Cg, P, Kg, T(1), wg, CR, gyg, P, T(0), gxg, Pin);
          continue;
        }
        if (nb > 1 || per > 1) {
          // whole images side by side, as in the forward
          const int64_t L = nb * P;
          gather_images(gyg, K * P, nb, Kg, P, gys, false);
          if (gwg) {
            for (int64_t i = 0; i < nb; ++i) im2col_tile(g, xg + i * C * Pin, Cg, 0, P, col + i * P, L);
            gemm<T>(false, true, Kg, CR, L, T(1), gys, L, col, L, a == n0 ? T(0) : T(1), gwg, CR);
          }
          if (gxg) {
            gemm<T>(true, false, CR, L, Kg, T(1), wg, CR, gys, L, T(0), dcol, L);
            for (int64_t i = 0; i < nb; ++i) col2im_tile(g, dcol + i * P, L, Cg, 0, P, gxg + i * C * Pin, dcol + i * P);
          }
          continue;
        }
        for (int64_t p0 = 0; p0 < P; p0 += pt) {
          const int64_t p1 = std::min(P, p0 + pt), np = p1 - p0;
          if (gwg) {
            im2col_tile(g, xg, Cg, p0, p1, col, np);
            gemm<T>(false, true, Kg, CR, np, T(1), gyg + p0, P, col, np, a == n0 && p0 == 0 ? T(0) : T(1), gwg, CR);
          }
          if (gxg) {
            gemm<T>(true, false, CR, np, Kg, T(1), wg, CR, gyg + p0, P, T(0), dcol, np);
            col2im_tile(g, dcol, np, Cg, p0, p1, gxg, dcol);
          }
        }
      }
    }
  };
  const double fmas = double(N) * K * CR * P * ((gx ? 1 : 0) + (gw ? 1 : 0));
  run_tasks(chunks, task_threads<T>(chunks, fmas), chunk);
  if (parts) {
    for (int64_t i = 0; i < wsize; ++i) {
      T s = parts[i];
      for (int64_t c = 1; c < chunks; ++c) s += parts[c * wsize + i];
      gw[i] = s;
    }
  }
}

template <class T>
void im2col(const ConvGeom& g, const T* x, T* cols) {
  const int64_t C = g.in_ch, R = g.taps(), P = g.out_size(), Pin = g.in_size();
  const int threads = stream_threads<T>(g.batch * C * R * P, 2.0 * sizeof(T));
  run_tasks(g.batch, std::min<int64_t>(threads, g.batch), [&](int64_t n) {
    im2col_tile(g, x + n * C * Pin, C, 0, P, cols + n * C * R * P, P);
  });
}

template <class T>
void col2im(const ConvGeom& g, const T* cols, T* x) {
  const int64_t C = g.in_ch, R = g.taps(), P = g.out_size(), Pin = g.in_size();
  const int threads = stream_threads<T>(g.batch * C * R * P, 3.0 * sizeof(T));
  run_tasks(g.batch, std::min<int64_t>(threads, g.batch), [&](int64_t n) {
    std::memset(x + n * C * Pin, 0, sizeof(T) * C * Pin);
    col2im_tile(g, cols + n * C * R * P, P, C, 0, P, x + n * C * Pin);
  });
}

#define GC_INSTANTIATE(T)                                                                               \
  template void conv_forward<T>(const ConvGeom&, const T*, const T*, const T*, T*);                    \
  template void conv_backward<T>(const ConvGeom&, const T*, const T*, const T*, T*, T*, T*);           \
  template void im2col<T>(const ConvGeom&, const T*, T*);                                              \
  template void col2im<T>(const ConvGeom&, const T*, T*);
GC_INSTANTIATE(float)
GC_INSTANTIATE(double)
#undef GC_INSTANTIATE

}  // namespace gradcore::kernels
