// pool.cpp — max / average / adaptive pooling and interpolation over (N*C) planes.
// See Note [Pooling planes] (pool.h): each thread takes a contiguous run of whole planes, so
// every output, and every scatter of a backward, is computed by one thread in one order.
#include "kernels/pool.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#include "cpu/parallel.h"
#include "kernels/work.h"

namespace gradcore::kernels {
namespace {

template <class T>
inline bool is_nan(T v) {
  if constexpr (std::is_floating_point_v<T>) return v != v;
  else return false;
}

template <class T>
inline T lowest_value() {
  if constexpr (std::is_floating_point_v<T>) return -std::numeric_limits<T>::infinity();
  else return std::numeric_limits<T>::lowest();
}

// take ? a : b without a branch (GCC turns the ternary into a jump, which mispredicts on
// half the compares of a max over random data): masks over the values' bits.
template <class T>
inline T select_bits(bool take, T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    using U = std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>;
    U ua, ub;
    std::memcpy(&ua, &a, sizeof(T));
    std::memcpy(&ub, &b, sizeof(T));
    const U m = U(0) - U(take);
    const U r = (ua & m) | (ub & ~m);
    T out;
    std::memcpy(&out, &r, sizeof(T));
    return out;
  } else {
    return take ? a : b;
  }
}
inline int32_t select_i32(bool take, int32_t a, int32_t b) {
  const int32_t m = -int32_t(take);
  return (a & m) | (b & ~m);
}

// Threads for `planes` planes, `work` element visits in all (streaming rate).
inline int plane_threads(int64_t work, double bytes) { return stream_threads<float>(work, bytes); }

// fn(plane) for every plane, in contiguous runs of planes per thread.
template <class F>
void for_planes(int64_t planes, int64_t work, double bytes, F&& fn) {
  if (planes <= 0) return;
  parallel_split(planes, plane_threads(work, bytes), [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; ++p) fn(p);
  });
}

// The adaptive window [start, end) of output o for a dim of sizes (in, out).
inline int64_t adaptive_start(int64_t o, int64_t in, int64_t out) { return (o * in) / out; }
inline int64_t adaptive_end(int64_t o, int64_t in, int64_t out) { return ((o + 1) * in + out - 1) / out; }

// One output's window of a strided (dilated) pool along one dim: the valid positions are
// st, st + d, ... < en.
inline void max_window(int64_t o, const PoolShape& g, int i, int64_t& st, int64_t& en) {
  st = o * g.s[i] - g.p[i];
  en = std::min(st + (g.k[i] - 1) * g.d[i] + 1, g.in[i]);
  while (st < 0) st += g.d[i];
}

}  // namespace

template <class T>
void max_pool_forward(const T* x, T* y, int64_t* idx, const PoolShape& g) {
  if (g.planes <= 0 || g.out_plane() == 0) return;  // nothing to write (and no empty loops over huge dims)
  const int64_t ip = g.in_plane(), op = g.out_plane(), H = g.in[1], W = g.in[2];
  const int64_t win = g.k[0] * g.k[1] * g.k[2];
  // Tiling windows (the common MaxPool2d(k), stride = kernel, no padding or dilation, every
  // window inside the plane): the same scan in the same order, without the per-output
  // window arithmetic, which was most of LeNet's pooling time.
  const bool tiling = g.k[0] == 1 && g.in[0] == 1 && g.p[1] == 0 && g.p[2] == 0 && g.d[1] == 1 && g.d[2] == 1 &&
                      g.s[1] == g.k[1] && g.s[2] == g.k[2] && g.out[1] * g.k[1] <= H && g.out[2] * g.k[2] <= W &&
                      ip < (int64_t(1) << 31);
  for_planes(g.planes, g.planes * op * win, sizeof(T), [&](int64_t plane) {
    const T* xp = x + plane * ip;
    T* yp = y + plane * op;
    int64_t* ix = idx + plane * op;
    int64_t o = 0;
    if (tiling && g.k[1] == 2 && g.k[2] == 2) {
      // 2 x 2: the four candidates unrolled into selects (a branch per compare mispredicted
      // on half of them with real data), positions in the plane as int32 (planes < 2^31)
      const int64_t Wo = g.out[2];
      for (int64_t oh = 0; oh < g.out[1]; ++oh) {
        const T* r0 = xp + 2 * oh * W;
        const T* r1 = r0 + W;
        T* yo = yp + oh * Wo;
        int64_t* io = ix + oh * Wo;
        const int64_t row0 = 2 * oh * W;
        // De-interleaved into contiguous runs first, so the compare-and-select chain below
        // runs over plain arrays, which the compiler vectorises (bit-mask selects on floats
        // and int32 positions alike).
        constexpr int64_t kRun = 256;
        T e0[kRun], o0[kRun], e1[kRun], o1[kRun];
        int32_t at[kRun];
        const int32_t w = static_cast<int32_t>(W);
        for (int64_t s0 = 0; s0 < Wo; s0 += kRun) {
          const int64_t n = Wo - s0 < kRun ? Wo - s0 : kRun;
          for (int64_t j = 0; j < n; ++j) {
            e0[j] = r0[2 * (s0 + j)];
            o0[j] = r0[2 * (s0 + j) + 1];
            e1[j] = r1[2 * (s0 + j)];
            o1[j] = r1[2 * (s0 + j) + 1];
          }
          for (int64_t j = 0; j < n; ++j) {
            const int32_t c = static_cast<int32_t>(2 * (s0 + j));
            T best = e0[j];
            int32_t pos = c;
            bool take = (o0[j] > best) | is_nan(o0[j]);
            best = select_bits(take, o0[j], best);
            pos = select_i32(take, c + 1, pos);
            take = (e1[j] > best) | is_nan(e1[j]);
            best = select_bits(take, e1[j], best);
            pos = select_i32(take, w + c, pos);
            take = (o1[j] > best) | is_nan(o1[j]);
            best = select_bits(take, o1[j], best);
            pos = select_i32(take, w + c + 1, pos);
            yo[s0 + j] = best;
            at[j] = pos;
          }
          for (int64_t j = 0; j < n; ++j) io[s0 + j] = row0 + at[j];
        }
      }
      return;
    }
    if (tiling) {
      const int64_t kh = g.k[1], kw = g.k[2];
      for (int64_t oh = 0; oh < g.out[1]; ++oh)
        for (int64_t ow = 0; ow < g.out[2]; ++ow, ++o) {
          const int64_t base = oh * kh * W + ow * kw;
          T best = lowest_value<T>();
          int64_t at = base;
          for (int64_t ih = 0; ih < kh; ++ih)
            for (int64_t iw = 0; iw < kw; ++iw) {
              const int64_t pos = base + ih * W + iw;
              const T v = xp[pos];
              // selects, not branches (random data mispredicted half the compares): | keeps
              // both tests unconditional so the compiler emits conditional moves
              const bool take = (v > best) | is_nan(v);
              best = take ? v : best;
              at = take ? pos : at;
            }
          yp[o] = best;
          ix[o] = at;
        }
      return;
    }
    for (int64_t od = 0; od < g.out[0]; ++od) {
      int64_t d0, d1;
      max_window(od, g, 0, d0, d1);
      for (int64_t oh = 0; oh < g.out[1]; ++oh) {
        int64_t h0, h1;
        max_window(oh, g, 1, h0, h1);
        for (int64_t ow = 0; ow < g.out[2]; ++ow, ++o) {
          int64_t w0, w1;
          max_window(ow, g, 2, w0, w1);
          T best = lowest_value<T>();
          int64_t at = (d0 < d1 && h0 < h1 && w0 < w1) ? (d0 * H + h0) * W + w0 : -1;
          for (int64_t id = d0; id < d1; id += g.d[0])
            for (int64_t ih = h0; ih < h1; ih += g.d[1]) {
              const int64_t row = (id * H + ih) * W;
              for (int64_t iw = w0; iw < w1; iw += g.d[2]) {
                const T v = xp[row + iw];
                if (v > best || is_nan(v)) {
                  best = v;
                  at = row + iw;
                }
              }
            }
          yp[o] = best;
          ix[o] = at;
        }
      }
    }
  });
}

template <class T>
void adaptive_max_pool_forward(const T* x, T* y, int64_t* idx, const PoolShape& g) {
  if (g.planes <= 0 || g.out_plane() == 0) return;  // nothing to write (and no empty loops over huge dims)
  const int64_t ip = g.in_plane(), op = g.out_plane(), H = g.in[1], W = g.in[2];
  for_planes(g.planes, g.planes * std::max(ip, op), sizeof(T), [&](int64_t plane) {
    const T* xp = x + plane * ip;
    T* yp = y + plane * op;
    int64_t* ix = idx + plane * op;
    int64_t o = 0;
    for (int64_t od = 0; od < g.out[0]; ++od) {
      const int64_t d0 = adaptive_start(od, g.in[0], g.out[0]), d1 = adaptive_end(od, g.in[0], g.out[0]);
      for (int64_t oh = 0; oh < g.out[1]; ++oh) {
        const int64_t h0 = adaptive_start(oh, g.in[1], g.out[1]), h1 = adaptive_end(oh, g.in[1], g.out[1]);
        for (int64_t ow = 0; ow < g.out[2]; ++ow, ++o) {
          const int64_t w0 = adaptive_start(ow, g.in[2], g.out[2]), w1 = adaptive_end(ow, g.in[2], g.out[2]);
          T best = lowest_value<T>();
          int64_t at = (d0 * H + h0) * W + w0;
          for (int64_t id = d0; id < d1; ++id)
            for (int64_t ih = h0; ih < h1; ++ih) {
              const int64_t row = (id * H + ih) * W;
              for (int64_t iw = w0; iw < w1; ++iw) {
                const T v = xp[row + iw];
                if (v > best || is_nan(v)) {
                  best = v;
                  at = row + iw;
                }
              }
            }
          yp[o] = best;
          ix[o] = at;
        }
      }
    }
  });
}

template <class T>
void pool_index_backward(const T* gy, const int64_t* idx, T* gx, int64_t planes, int64_t in_plane, int64_t out_plane) {
  for_planes(planes, planes * (in_plane + out_plane), 2 * sizeof(T), [&](int64_t plane) {
    T* gp = gx + plane * in_plane;
    std::fill(gp, gp + in_plane, T(0));
    const T* gyp = gy + plane * out_plane;
    const int64_t* ix = idx + plane * out_plane;
    for (int64_t o = 0; o < out_plane; ++o) {
      const int64_t i = ix[o];
      if (i >= 0 && i < in_plane) gp[i] += gyp[o];
    }
  });
}

namespace {
// The window of output o along dim i of an average pool: [st, en) inside the input, and the
// extent it had inside the padded input (count_include_pad's count).
inline void avg_window(int64_t o, const PoolShape& g, int i, int64_t& st, int64_t& en, int64_t& padded) {
  st = o * g.s[i] - g.p[i];
  en = std::min(st + g.k[i], g.in[i] + g.p[i]);
  padded = en - st;
  st = std::max<int64_t>(st, 0);
  en = std::min(en, g.in[i]);
}

// f(window, divisor) for every output of one plane, in output order; window = the
// [start, end) of each dim. Empty windows (only reachable through padding) are skipped.
template <class F>
void avg_windows(const PoolShape& g, bool count_include_pad, int64_t divisor_override, F&& f) {
  int64_t o = 0;
  for (int64_t od = 0; od < g.out[0]; ++od) {
    int64_t d0, d1, pd;
    avg_window(od, g, 0, d0, d1, pd);
    for (int64_t oh = 0; oh < g.out[1]; ++oh) {
      int64_t h0, h1, ph;
      avg_window(oh, g, 1, h0, h1, ph);
      for (int64_t ow = 0; ow < g.out[2]; ++ow, ++o) {
        int64_t w0, w1, pw;
        avg_window(ow, g, 2, w0, w1, pw);
        const bool empty = d0 >= d1 || h0 >= h1 || w0 >= w1;
        const int64_t div = divisor_override != 0 ? divisor_override
                            : count_include_pad  ? pd * ph * pw
                                                 : (d1 - d0) * (h1 - h0) * (w1 - w0);
        const int64_t win[6] = {d0, d1, h0, h1, w0, w1};
        f(o, win, div, empty);
      }
    }
  }
}
}  // namespace

template <class T>
void avg_pool_forward(const T* x, T* y, const PoolShape& g, bool count_include_pad, int64_t divisor_override) {
  if (g.planes <= 0 || g.out_plane() == 0) return;  // nothing to write (and no empty loops over huge dims)
  using Acc = std::conditional_t<std::is_floating_point_v<T>, T, int64_t>;
  const int64_t ip = g.in_plane(), op = g.out_plane(), H = g.in[1], W = g.in[2];
  const int64_t win = g.k[0] * g.k[1] * g.k[2];
  for_planes(g.planes, g.planes * op * win, sizeof(T), [&](int64_t plane) {
    const T* xp = x + plane * ip;
    T* yp = y + plane * op;
    avg_windows(g, count_include_pad, divisor_override, [&](int64_t o, const int64_t* w, int64_t div, bool empty) {
      if (empty) {
        yp[o] = T(0);
        return;
      }
      Acc s = 0;
      for (int64_t id = w[0]; id < w[1]; ++id)
        for (int64_t ih = w[2]; ih < w[3]; ++ih) {
          const T* row = xp + (id * H + ih) * W;
          for (int64_t iw = w[4]; iw < w[5]; ++iw) s += row[iw];
        }
      yp[o] = static_cast<T>(s / static_cast<Acc>(div));
    });
  });
}

template <class T>
void avg_pool_backward(const T* gy, T* gx, const PoolShape& g, bool count_include_pad, int64_t divisor_override) {
  if (g.out_plane() == 0) {  // no outputs: a zero gradient
    std::fill(gx, gx + g.planes * g.in_plane(), T(0));
    return;
  }
  const int64_t ip = g.in_plane(), op = g.out_plane(), H = g.in[1], W = g.in[2];
  const int64_t win = g.k[0] * g.k[1] * g.k[2];
  for_planes(g.planes, g.planes * (op * win + ip), 2 * sizeof(T), [&](int64_t plane) {
    T* gp = gx + plane * ip;
    std::fill(gp, gp + ip, T(0));
    const T* gyp = gy + plane * op;
    avg_windows(g, count_include_pad, divisor_override, [&](int64_t o, const int64_t* w, int64_t div, bool empty) {
      if (empty) return;
      const T v = gyp[o] / static_cast<T>(div);
      for (int64_t id = w[0]; id < w[1]; ++id)
        for (int64_t ih = w[2]; ih < w[3]; ++ih) {
          T* row = gp + (id * H + ih) * W;
          for (int64_t iw = w[4]; iw < w[5]; ++iw) row[iw] += v;
        }
    });
  });
}

namespace {
// f(o, window) for the adaptive windows of one plane, in output order.
template <class F>
void adaptive_windows(const PoolShape& g, F&& f) {
  int64_t o = 0;
  for (int64_t od = 0; od < g.out[0]; ++od) {
    const int64_t d0 = adaptive_start(od, g.in[0], g.out[0]), d1 = adaptive_end(od, g.in[0], g.out[0]);
    for (int64_t oh = 0; oh < g.out[1]; ++oh) {
      const int64_t h0 = adaptive_start(oh, g.in[1], g.out[1]), h1 = adaptive_end(oh, g.in[1], g.out[1]);
      for (int64_t ow = 0; ow < g.out[2]; ++ow, ++o) {
        const int64_t w0 = adaptive_start(ow, g.in[2], g.out[2]), w1 = adaptive_end(ow, g.in[2], g.out[2]);
        const int64_t win[6] = {d0, d1, h0, h1, w0, w1};
        f(o, win);
      }
    }
  }
}
}  // namespace

template <class T>
void adaptive_avg_pool_forward(const T* x, T* y, const PoolShape& g) {
  if (g.planes <= 0 || g.out_plane() == 0) return;  // nothing to write (and no empty loops over huge dims)
  const int64_t ip = g.in_plane(), op = g.out_plane(), H = g.in[1], W = g.in[2];
  for_planes(g.planes, g.planes * std::max(ip, op), sizeof(T), [&](int64_t plane) {
    const T* xp = x + plane * ip;
    T* yp = y + plane * op;
    adaptive_windows(g, [&](int64_t o, const int64_t* w) {
      T s = 0;
      for (int64_t id = w[0]; id < w[1]; ++id)
        for (int64_t ih = w[2]; ih < w[3]; ++ih) {
          const T* row = xp + (id * H + ih) * W;
          for (int64_t iw = w[4]; iw < w[5]; ++iw) s += row[iw];
        }
      // Divided by each dim's extent in turn, as PyTorch's (a size-1 dim divides exactly).
      yp[o] = s / static_cast<T>(w[1] - w[0]) / static_cast<T>(w[3] - w[2]) / static_cast<T>(w[5] - w[4]);
    });
  });
}

template <class T>
void adaptive_avg_pool_backward(const T* gy, T* gx, const PoolShape& g) {
  if (g.out_plane() == 0) {  // no outputs: a zero gradient
    std::fill(gx, gx + g.planes * g.in_plane(), T(0));
    return;
  }
  const int64_t ip = g.in_plane(), op = g.out_plane(), H = g.in[1], W = g.in[2];
  for_planes(g.planes, g.planes * 2 * std::max(ip, op), 2 * sizeof(T), [&](int64_t plane) {
    T* gp = gx + plane * ip;
    std::fill(gp, gp + ip, T(0));
    const T* gyp = gy + plane * op;
    adaptive_windows(g, [&](int64_t o, const int64_t* w) {
      const T v = gyp[o] / static_cast<T>(w[1] - w[0]) / static_cast<T>(w[3] - w[2]) / static_cast<T>(w[5] - w[4]);
      for (int64_t id = w[0]; id < w[1]; ++id)
        for (int64_t ih = w[2]; ih < w[3]; ++ih) {
          T* row = gp + (id * H + ih) * W;
          for (int64_t iw = w[4]; iw < w[5]; ++iw) row[iw] += v;
        }
    });
  });
}

namespace {
// Note [Interpolation coordinates]: PyTorch's source index rules (aten UpSample.h), in its
// precisions. nearest: a float scale s (1 / scale_factor when given, else in / out);
// src = min(floor(o * s), in - 1), except out == in (identity) and out == 2 in (o / 2).
// nearest-exact: min(floor((o + 0.5) * s), in - 1). linear: the ratio in T (align_corners:
// (in - 1) / (out - 1), 0 for out == 1); real = ratio * o (align_corners) or
// max(ratio * (o + 0.5) - 0.5, 0); i0 = min(floor(real), in - 1), lambda1 = clamp(real - i0,
// 0, 1), i1 = i0 + 1 unless i0 is the last; out == in copies.
struct Taps {
  std::vector<int64_t> i0, i1;
  std::vector<double> l0, l1;
};

template <class T>
Taps interp_taps(int64_t in, int64_t out, double scale, int mode, bool align_corners) {
  Taps t;
  t.i0.resize(out);
  t.i1.resize(out);
  t.l0.assign(out, 1.0);
  t.l1.assign(out, 0.0);
  if (mode != INTERP_LINEAR) {
    const float s = scale > 0 ? static_cast<float>(1.0 / scale) : static_cast<float>(in) / static_cast<float>(out);
    for (int64_t o = 0; o < out; ++o) {
      int64_t src;
      if (mode == INTERP_NEAREST) {
        if (out == in) src = o;
        else if (out == 2 * in) src = o >> 1;
        else src = std::min(static_cast<int64_t>(std::floor(static_cast<float>(o) * s)), in - 1);
      } else {
        const float f = static_cast<float>((static_cast<double>(o) + 0.5) * static_cast<double>(s));
        src = std::min(static_cast<int64_t>(std::floor(f)), in - 1);
      }
      t.i0[o] = t.i1[o] = src;
    }
    return t;
  }
  T ratio;
  if (align_corners) ratio = out > 1 ? static_cast<T>(in - 1) / static_cast<T>(out - 1) : T(0);
  else ratio = scale > 0 ? static_cast<T>(1.0 / scale) : static_cast<T>(in) / static_cast<T>(out);
  for (int64_t o = 0; o < out; ++o) {
    if (out == in) {
      t.i0[o] = t.i1[o] = o;
      continue;
    }
    T real = align_corners ? ratio * static_cast<T>(o) : ratio * (static_cast<T>(o) + T(0.5)) - T(0.5);
    if (!align_corners && real < T(0)) real = T(0);
    const int64_t i0 = std::min(static_cast<int64_t>(std::floor(static_cast<float>(real))), in - 1);
    const T l1 = std::min(std::max(real - static_cast<T>(i0), T(0)), T(1));
    t.i0[o] = i0;
    t.i1[o] = i0 + (i0 < in - 1 ? 1 : 0);
    t.l1[o] = static_cast<double>(l1);
    t.l0[o] = static_cast<double>(T(1) - l1);
  }
  return t;
}
}  // namespace

template <class T>
void interpolate_forward(const T* x, T* y, const InterpShape& g) {
  if (g.planes <= 0 || g.out[0] * g.out[1] * g.out[2] == 0) return;
  using C = std::conditional_t<std::is_floating_point_v<T>, T, float>;  // integers: nearest only
  Taps t[3];
  for (int i = 0; i < 3; ++i) t[i] = interp_taps<C>(g.in[i], g.out[i], g.scales[i], g.mode, g.align_corners);
  const int64_t H = g.in[1], W = g.in[2];
  const int64_t ip = g.in[0] * H * W, op = g.out[0] * g.out[1] * g.out[2];
  const bool linear = g.mode == INTERP_LINEAR;
  for_planes(g.planes, g.planes * op * (linear ? 8 : 1), sizeof(T), [&](int64_t plane) {
    const T* xp = x + plane * ip;
    T* yp = y + plane * op;
    int64_t o = 0;
    for (int64_t od = 0; od < g.out[0]; ++od) {
      const int64_t d0 = t[0].i0[od], d1 = t[0].i1[od];
      const T ld0 = static_cast<T>(t[0].l0[od]), ld1 = static_cast<T>(t[0].l1[od]);
      for (int64_t oh = 0; oh < g.out[1]; ++oh) {
        const int64_t h0 = t[1].i0[oh], h1 = t[1].i1[oh];
        const T lh0 = static_cast<T>(t[1].l0[oh]), lh1 = static_cast<T>(t[1].l1[oh]);
        const T* r00 = xp + (d0 * H + h0) * W;
        if (!linear) {
          for (int64_t ow = 0; ow < g.out[2]; ++ow, ++o) yp[o] = r00[t[2].i0[ow]];
          continue;
        }
        const T* r01 = xp + (d0 * H + h1) * W;
        const T* r10 = xp + (d1 * H + h0) * W;
        const T* r11 = xp + (d1 * H + h1) * W;
        for (int64_t ow = 0; ow < g.out[2]; ++ow, ++o) {
          const int64_t w0 = t[2].i0[ow], w1 = t[2].i1[ow];
          const T lw0 = static_cast<T>(t[2].l0[ow]), lw1 = static_cast<T>(t[2].l1[ow]);
          // The outer dims' weights outermost, as PyTorch's separable interpolation.
          const T v0 = lh0 * (lw0 * r00[w0] + lw1 * r00[w1]) + lh1 * (lw0 * r01[w0] + lw1 * r01[w1]);
          if (g.in[0] == 1 && g.out[0] == 1) {
            yp[o] = v0;
          } else {
            const T v1 = lh0 * (lw0 * r10[w0] + lw1 * r10[w1]) + lh1 * (lw0 * r11[w0] + lw1 * r11[w1]);
            yp[o] = ld0 * v0 + ld1 * v1;
          }
        }
      }
    }
  });
}

template <class T>
void interpolate_backward(const T* gy, T* gx, const InterpShape& g) {
  if (g.out[0] * g.out[1] * g.out[2] == 0) {
    std::fill(gx, gx + g.planes * g.in[0] * g.in[1] * g.in[2], T(0));
    return;
  }
  Taps t[3];
  for (int i = 0; i < 3; ++i) t[i] = interp_taps<T>(g.in[i], g.out[i], g.scales[i], g.mode, g.align_corners);
  const int64_t H = g.in[1], W = g.in[2];
  const int64_t ip = g.in[0] * H * W, op = g.out[0] * g.out[1] * g.out[2];
  const bool linear = g.mode == INTERP_LINEAR;
  for_planes(g.planes, g.planes * (op * (linear ? 8 : 1) + ip), 2 * sizeof(T), [&](int64_t plane) {
    T* gp = gx + plane * ip;
    std::fill(gp, gp + ip, T(0));
    const T* gyp = gy + plane * op;
    int64_t o = 0;
    for (int64_t od = 0; od < g.out[0]; ++od) {
      const int64_t dd[2] = {t[0].i0[od], t[0].i1[od]};
      const T ld[2] = {static_cast<T>(t[0].l0[od]), static_cast<T>(t[0].l1[od])};
      for (int64_t oh = 0; oh < g.out[1]; ++oh) {
        const int64_t hh[2] = {t[1].i0[oh], t[1].i1[oh]};
        const T lh[2] = {static_cast<T>(t[1].l0[oh]), static_cast<T>(t[1].l1[oh])};
        if (!linear) {
          T* row = gp + (dd[0] * H + hh[0]) * W;
          for (int64_t ow = 0; ow < g.out[2]; ++ow, ++o) row[t[2].i0[ow]] += gyp[o];
          continue;
        }
        const int nd = g.in[0] == 1 && g.out[0] == 1 ? 1 : 2;
        for (int64_t ow = 0; ow < g.out[2]; ++ow, ++o) {
          const int64_t ww[2] = {t[2].i0[ow], t[2].i1[ow]};
          const T lw[2] = {static_cast<T>(t[2].l0[ow]), static_cast<T>(t[2].l1[ow])};
          const T v = gyp[o];
          for (int a = 0; a < nd; ++a)
            for (int b = 0; b < 2; ++b)
              for (int c = 0; c < 2; ++c) {
                const T wgt = (nd == 1 ? T(1) : ld[a]) * lh[b] * lw[c];
                gp[(dd[a] * H + hh[b]) * W + ww[c]] += wgt * v;
              }
        }
      }
    }
  });
}

#define GC_POOL_ANY(T)                                                                                  \
  template void max_pool_forward<T>(const T*, T*, int64_t*, const PoolShape&);                          \
  template void adaptive_max_pool_forward<T>(const T*, T*, int64_t*, const PoolShape&);                 \
  template void avg_pool_forward<T>(const T*, T*, const PoolShape&, bool, int64_t);                     \
  template void interpolate_forward<T>(const T*, T*, const InterpShape&);
#define GC_POOL_FLOAT(T)                                                                                \
  template void pool_index_backward<T>(const T*, const int64_t*, T*, int64_t, int64_t, int64_t);        \
  template void avg_pool_backward<T>(const T*, T*, const PoolShape&, bool, int64_t);                    \
  template void adaptive_avg_pool_forward<T>(const T*, T*, const PoolShape&);                           \
  template void adaptive_avg_pool_backward<T>(const T*, T*, const PoolShape&);                          \
  template void interpolate_backward<T>(const T*, T*, const InterpShape&);
GC_POOL_ANY(float)
GC_POOL_ANY(double)
GC_POOL_ANY(int64_t)
GC_POOL_ANY(int32_t)
GC_POOL_ANY(int16_t)
GC_POOL_ANY(int8_t)
GC_POOL_ANY(uint8_t)
GC_POOL_FLOAT(float)
GC_POOL_FLOAT(double)
#undef GC_POOL_ANY
#undef GC_POOL_FLOAT

}  // namespace gradcore::kernels
