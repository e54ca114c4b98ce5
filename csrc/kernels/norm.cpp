// norm.cpp — BatchNorm and the row norms (LayerNorm, GroupNorm, RMSNorm), forward and
// backward, fused (see norm.h for the layouts and Note [Norm determinism]).
//
// Note [Shifted sums]: the statistics of n values come from one pass of sums of d = x - K
// and d * d in double, K being the first value of the channel or row:
//   mean = K + sum(d) / n,   var = sum(d * d) / n - (sum(d) / n)**2
// Shifting by a value of the data keeps the cancellation of the second formula small (its
// error grows with (mean - K)**2 / var, which is O(1) for any real data), so the one-pass
// variance is as accurate as the two-pass one at half the memory traffic. Sums run in
// kLanes independent double accumulators (vectorisable, fixed order), added as a fixed
// tree at the end.
#include "kernels/norm.h"

#include <cmath>
#include <vector>

#include "cpu/parallel.h"
#include "kernels/work.h"

namespace gradcore::kernels {
namespace {

constexpr int kLanes = 32;  // independent accumulators (eight SSE / four AVX registers of floats)
constexpr int kBlock = 8;   // float values per lane summed in float before they reach double

inline double lane_sum(const double* a) {  // a fixed tree over the kLanes lanes
  double h[kLanes];
  for (int j = 0; j < kLanes; ++j) h[j] = a[j];
  for (int w = kLanes / 2; w >= 1; w /= 2)
    for (int j = 0; j < w; ++j) h[j] += h[j + w];
  return h[0];
}

// Note [Blocked lane sums]: a1[j] += sum of u, a2[j] += sum of v over the n terms
// term(i, u, v), in kLanes lanes. For float data each lane first adds kBlock terms in float
// (an error of a few ulp of the block sum) and then adds that block sum into its double
// accumulator, so the data is converted to double once per kBlock values and the loop
// vectorises (measured with the baseline SSE2 build, cache-resident: 28 GB/s against 10 for
// converting every value); double data goes straight into double lanes. The order is
// fixed by n alone (Note [Norm determinism]).
template <class T, class Term>
inline void lane_sums(int64_t n, Term&& term, double* a1, double* a2) {
  int64_t i = 0;
  if constexpr (sizeof(T) == 4) {
    for (; i + kLanes * kBlock <= n; i += kLanes * kBlock) {
      T b1[kLanes] = {}, b2[kLanes] = {};
      for (int r = 0; r < kBlock; ++r)
        for (int j = 0; j < kLanes; ++j) {
          T u, v;
          term(i + r * kLanes + j, u, v);
          b1[j] += u;
          b2[j] += v;
        }
      for (int j = 0; j < kLanes; ++j) { a1[j] += b1[j]; a2[j] += b2[j]; }
    }
    for (; i + kLanes <= n; i += kLanes)  // the rest of a short plane: one term per lane
      for (int j = 0; j < kLanes; ++j) {
        T u, v;
        term(i + j, u, v);
        a1[j] += static_cast<double>(u);
        a2[j] += static_cast<double>(v);
      }
  } else {
    double l1[8] = {}, l2[8] = {};
    for (; i + 8 <= n; i += 8)
      for (int j = 0; j < 8; ++j) {
        T u, v;
        term(i + j, u, v);
        l1[j] += u;
        l2[j] += v;
      }
    for (int j = 0; j < 8; ++j) { a1[j] += l1[j]; a2[j] += l2[j]; }
  }
  for (int j = 0; i < n; ++i, j = (j + 1) % 8) {
    T u, v;
    term(i, u, v);
    a1[8 + j] += static_cast<double>(u);
    a2[8 + j] += static_cast<double>(v);
  }
}

// sum of (p - K) and of (p - K)**2, K exactly representable in T (a value of the data).
template <class T>
inline void shifted_sums(const T* p, int64_t n, double K, double* a1, double* a2) {
  const T k = static_cast<T>(K);
  lane_sums<T>(n, [&](int64_t i, T& u, T& v) { u = p[i] - k; v = u * u; }, a1, a2);
}

// sum of g and of g * (x - m) (the backward's two sums; m the saved mean, in T).
template <class T>
inline void grad_sums(const T* g, const T* x, int64_t n, double m, double* a1, double* a2) {
  const T mt = static_cast<T>(m);
  lane_sums<T>(n, [&](int64_t i, T& u, T& v) { u = g[i]; v = g[i] * (x[i] - mt); }, a1, a2);
}

// grad_sums of g * w (w per element).
template <class T>
inline void weighted_grad_sums(const T* g, const T* x, const T* w, int64_t n, double m, double* a1, double* a2) {
  const T mt = static_cast<T>(m);
  lane_sums<T>(n, [&](int64_t i, T& u, T& v) { u = g[i] * w[i]; v = u * (x[i] - mt); }, a1, a2);
}

// LayerNorm's weight / bias partials of one row: tw += g * xhat, tb += g (restrict: the
// loops vectorise without runtime overlap checks).
template <class T>
void ln_partials(const T* __restrict g, const T* __restrict x, int64_t D, T m, T r, T* __restrict tw,
                 T* __restrict tb) {
  for (int64_t j = 0; j < D; ++j) {
    tw[j] += g[j] * ((x[j] - m) * r);
    tb[j] += g[j];
  }
}
// The same with pass 2's dx = (g w - gm - (x - m) kv) r in one sweep (w null: 1).
template <class T>
void ln_dx_partials(const T* __restrict g, const T* __restrict x, const T* __restrict w, int64_t D, T m, T r, T gm,
                    T kv, T* __restrict dx, T* __restrict tw, T* __restrict tb) {
  if (w) {
    for (int64_t j = 0; j < D; ++j) {
      const T xc = x[j] - m;
      dx[j] = (g[j] * w[j] - gm - xc * kv) * r;
      tw[j] += g[j] * (xc * r);
      tb[j] += g[j];
    }
  } else {
    for (int64_t j = 0; j < D; ++j) {
      const T xc = x[j] - m;
      dx[j] = (g[j] - gm - xc * kv) * r;
      tw[j] += g[j] * (xc * r);
      tb[j] += g[j];
    }
  }
}

// Channels per task in the BatchNorm reductions: one channel when its planes are long,
// else a block of channels read row by row (a channel of S < 16 values per plane would
// touch a cache line per value). Depends only on the shape (Note [Norm determinism]).
constexpr int64_t kChannelBlock = 64;
inline int64_t bn_block(int64_t S) { return S >= 16 ? 1 : kChannelBlock; }

// f(c0, c1) over the channel blocks, split over the threads that pay for `bytes` per element.
template <class T, class F>
void bn_channel_tasks(int64_t N, int64_t C, int64_t S, double bytes, F&& f) {
  const int64_t cb = bn_block(S), ntasks = (C + cb - 1) / cb;
  parallel_split(ntasks, stream_threads<T>(N * C * S, bytes), [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) f(t * cb, std::min(C, (t + 1) * cb));
  });
}

// Per-channel sums over [N, C, S] of channels [c0, c1): s1[c] = sum(d), s2[c] = sum(d*d)
// with d = x - K[c] (stats) — or, with g, s1 = sum(g), s2 = sum(g * (x - K[c])).
template <class T>
void bn_sums(const T* g, const T* x, int64_t N, int64_t C, int64_t S, int64_t c0, int64_t c1, const double* K,
             double* s1, double* s2) {
  if (c1 - c0 == 1 && S >= 16) {
    const int64_t c = c0;
    double a1[kLanes] = {}, a2[kLanes] = {};
    for (int64_t n = 0; n < N; ++n) {
      const int64_t off = (n * C + c) * S;
      if (g) grad_sums(g + off, x + off, S, K[c], a1, a2);
      else shifted_sums(x + off, S, K[c], a1, a2);
    }
    s1[c] = lane_sum(a1);
    s2[c] = lane_sum(a2);
    return;
  }
  double a1[kChannelBlock] = {}, a2[kChannelBlock] = {};
  for (int64_t n = 0; n < N; ++n) {
    const T* xr = x + n * C * S;
    const T* gr = g ? g + n * C * S : nullptr;
    for (int64_t c = c0; c < c1; ++c) {
      const double k = K[c];
      double u = 0, v = 0;
      for (int64_t s = 0; s < S; ++s) {
        const double d = static_cast<double>(xr[c * S + s]) - k;
        if (gr) {
          const double gv = static_cast<double>(gr[c * S + s]);
          u += gv;
          v += gv * d;
        } else {
          u += d;
          v += d * d;
        }
      }
      a1[c - c0] += u;
      a2[c - c0] += v;
    }
  }
  for (int64_t c = c0; c < c1; ++c) { s1[c] = a1[c - c0]; s2[c] = a2[c - c0]; }
}

// y[n, c, :] = x[n, c, :] * a[c] + b[c] (the affine pass), over N * C planes.
template <class T>
void bn_affine(const T* x, T* y, int64_t N, int64_t C, int64_t S, const T* a, const T* b) {
  parallel_split(N * C, stream_threads<T>(N * C * S, 2 * sizeof(T)), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t c = p % C;
      const T av = a[c], bv = b[c];
      const T* xp = x + p * S;
      T* yp = y + p * S;
      for (int64_t s = 0; s < S; ++s) yp[s] = xp[s] * av + bv;
    }
  });
}

}  // namespace

template <class T>
void batch_norm_forward(const T* x, T* y, int64_t N, int64_t C, int64_t S, const T* weight, const T* bias,
                        const T* mean_in, const T* var_in, double eps, T* save_mean, T* save_rstd,
                        double* batch_var) {
  const int64_t M = N * S;
  std::vector<double> mean(C), rstd(C);
  if (mean_in) {
    for (int64_t c = 0; c < C; ++c) {
      mean[c] = static_cast<double>(mean_in[c]);
      rstd[c] = 1.0 / std::sqrt(static_cast<double>(var_in[c]) + eps);
    }
  } else {
    std::vector<double> K(C, 0.0), s1(C, 0.0), s2(C, 0.0);
    if (M > 0)
      for (int64_t c = 0; c < C; ++c) K[c] = static_cast<double>(x[c * S]);
    bn_channel_tasks<T>(N, C, S, sizeof(T), [&](int64_t c0, int64_t c1) {
      bn_sums<T>(nullptr, x, N, C, S, c0, c1, K.data(), s1.data(), s2.data());
    });
    for (int64_t c = 0; c < C; ++c) {
      const double m1 = s1[c] / static_cast<double>(M);
      double var = s2[c] / static_cast<double>(M) - m1 * m1;
      if (var < 0) var = 0;
      mean[c] = K[c] + m1;
      rstd[c] = 1.0 / std::sqrt(var + eps);
      if (batch_var) batch_var[c] = var;
    }
  }
  std::vector<T> a(C), b(C);
  for (int64_t c = 0; c < C; ++c) {
    const double w = weight ? static_cast<double>(weight[c]) : 1.0;
    const double bb = bias ? static_cast<double>(bias[c]) : 0.0;
    a[c] = static_cast<T>(w * rstd[c]);
    b[c] = static_cast<T>(bb - mean[c] * w * rstd[c]);
    save_mean[c] = static_cast<T>(mean[c]);
    save_rstd[c] = static_cast<T>(rstd[c]);
  }
  bn_affine<T>(x, y, N, C, S, a.data(), b.data());
}

template <class T>
void batch_norm_backward(const T* g, const T* x, int64_t N, int64_t C, int64_t S, const T* weight, const T* mean,
                         const T* rstd, bool use_batch_stats, T* dx, T* dweight, T* dbias) {
  const int64_t M = N * S;
  const bool need_sums = dweight || dbias || (dx && use_batch_stats);
  std::vector<double> sg(C, 0.0), sgx(C, 0.0);
  if (need_sums && M > 0) {
    std::vector<double> K(C);
    for (int64_t c = 0; c < C; ++c) K[c] = static_cast<double>(mean[c]);
    bn_channel_tasks<T>(N, C, S, 2 * sizeof(T), [&](int64_t c0, int64_t c1) {
      bn_sums<T>(g, x, N, C, S, c0, c1, K.data(), sg.data(), sgx.data());
    });
  }
  for (int64_t c = 0; c < C; ++c) {
    if (dbias) dbias[c] = static_cast<T>(sg[c]);
    if (dweight) dweight[c] = static_cast<T>(sgx[c] * static_cast<double>(rstd[c]));
  }
  if (!dx) return;
  // dx = w * rstd * (g - mean(g) - (x - mean) * rstd**2 * mean(g * (x - mean)))
  std::vector<T> a(C), k(C), gm(C), m(C);
  for (int64_t c = 0; c < C; ++c) {
    const double r = static_cast<double>(rstd[c]);
    const double w = weight ? static_cast<double>(weight[c]) : 1.0;
    a[c] = static_cast<T>(w * r);
    m[c] = mean[c];
    k[c] = use_batch_stats && M > 0 ? static_cast<T>(r * r * sgx[c] / static_cast<double>(M)) : T(0);
    gm[c] = use_batch_stats && M > 0 ? static_cast<T>(sg[c] / static_cast<double>(M)) : T(0);
  }
  parallel_split(N * C, stream_threads<T>(N * C * S, 3 * sizeof(T)), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t c = p % C;
      const T* gp = g + p * S;
      T* dp = dx + p * S;
      const T av = a[c];
      if (!use_batch_stats) {
        for (int64_t s = 0; s < S; ++s) dp[s] = gp[s] * av;
        continue;
      }
      const T* xp = x + p * S;
      const T kv = k[c], gv = gm[c], mv = m[c];
      for (int64_t s = 0; s < S; ++s) dp[s] = (gp[s] - gv - (xp[s] - mv) * kv) * av;
    }
  });
}

template <class T>
void row_norm_forward(const T* x, T* y, int64_t N, int64_t G, int64_t Cg, int64_t S, const T* weight, const T* bias,
                      double eps, bool rms, T* save_mean, T* save_rstd) {
  const int64_t R = N * G, D = Cg * S;
  parallel_split(R, stream_threads<T>(R * D, 3 * sizeof(T)), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const T* xr = x + r * D;
      T* yr = y + r * D;
      double a1[kLanes] = {}, a2[kLanes] = {};
      const double K = rms || D == 0 ? 0.0 : static_cast<double>(xr[0]);
      shifted_sums(xr, D, K, a1, a2);
      const double m1 = D ? lane_sum(a1) / static_cast<double>(D) : 0.0;
      double var = D ? lane_sum(a2) / static_cast<double>(D) - (rms ? 0.0 : m1 * m1) : 0.0;
      if (var < 0) var = 0;
      const double mean = rms ? 0.0 : K + m1, rstd = 1.0 / std::sqrt(var + eps);
      save_mean[r] = static_cast<T>(mean);
      save_rstd[r] = static_cast<T>(rstd);
      const int64_t c0 = (r % G) * Cg;
      if (S == 1) {  // LayerNorm / RMSNorm: an affine value per element
        const T mt = static_cast<T>(mean), rt = static_cast<T>(rstd);
        if (weight && bias)
          for (int64_t j = 0; j < D; ++j) yr[j] = (xr[j] - mt) * rt * weight[c0 + j] + bias[c0 + j];
        else if (weight)
          for (int64_t j = 0; j < D; ++j) yr[j] = (xr[j] - mt) * rt * weight[c0 + j];
        else if (bias)
          for (int64_t j = 0; j < D; ++j) yr[j] = (xr[j] - mt) * rt + bias[c0 + j];
        else
          for (int64_t j = 0; j < D; ++j) yr[j] = (xr[j] - mt) * rt;
        continue;
      }
      for (int64_t cg = 0; cg < Cg; ++cg) {  // GroupNorm: an affine value per channel
        const double w = weight ? static_cast<double>(weight[c0 + cg]) : 1.0;
        const double b = bias ? static_cast<double>(bias[c0 + cg]) : 0.0;
        const T av = static_cast<T>(w * rstd), bv = static_cast<T>(b - mean * w * rstd);
        const T* xp = xr + cg * S;
        T* yp = yr + cg * S;
        for (int64_t s = 0; s < S; ++s) yp[s] = xp[s] * av + bv;
      }
    }
  });
}

int64_t row_norm_backward_work(int64_t N, int64_t G, int64_t Cg) {
  const int64_t R = N * G, nblocks = (R + kNormRowBlock - 1) / kNormRowBlock;
  return nblocks * 2 * G * Cg;
}

template <class T>
void row_norm_backward(const T* g, const T* x, int64_t N, int64_t G, int64_t Cg, int64_t S, const T* weight,
                       const T* mean, const T* rstd, bool rms, T* dx, T* dweight, T* dbias, double* work) {
  const int64_t R = N * G, D = Cg * S, C = G * Cg;
  const int64_t nblocks = (R + kNormRowBlock - 1) / kNormRowBlock;
  const bool partials = dweight || dbias;
  // Block b's partials: work[b * 2C + c] = sum g * xhat (weight), work[b * 2C + C + c] = sum g (bias).
  parallel_split(nblocks, stream_threads<T>(R * D, 4 * sizeof(T)), [&](int64_t b0, int64_t b1) {
    // LayerNorm's per-element partials of one block, in T (kNormRowBlock terms each).
    std::vector<T> tpart(partials && S == 1 ? 2 * C : 0);
    for (int64_t blk = b0; blk < b1; ++blk) {
      double* pw = partials ? work + blk * 2 * C : nullptr;
      double* pb = partials ? pw + C : nullptr;
      if (partials)
        for (int64_t c = 0; c < 2 * C; ++c) { pw[c] = 0; if (S == 1) tpart[c] = T(0); }
      const int64_t r1 = std::min(R, (blk + 1) * kNormRowBlock);
      for (int64_t r = blk * kNormRowBlock; r < r1; ++r) {
        const T* gr = g + r * D;
        const T* xr = x + r * D;
        const int64_t c0 = (r % G) * Cg;
        const double m = static_cast<double>(mean[r]), rs = static_cast<double>(rstd[r]);
        // Pass 1: sum(g w), sum(g w (x - mean)); the weight / bias partials.
        double s1 = 0, s2 = 0;
        if (S == 1) {  // LayerNorm / RMSNorm: a weight per element
          double a1[kLanes] = {}, a2[kLanes] = {};
          if (weight) {
            weighted_grad_sums(gr, xr, weight + c0, D, m, a1, a2);
          } else {
            grad_sums(gr, xr, D, m, a1, a2);
          }
          s1 = lane_sum(a1);
          s2 = lane_sum(a2);
          if (partials && !dx) {  // in T over the block's rows, added into the double partials at its end
                                  // (with dx: in pass 2, which reads g and x anyway)
            ln_partials(gr, xr, D, static_cast<T>(m), static_cast<T>(rs), tpart.data() + c0, tpart.data() + C + c0);
          }
        }
        for (int64_t cg = 0; S != 1 && cg < Cg; ++cg) {
          const double w = weight ? static_cast<double>(weight[c0 + cg]) : 1.0;
          double a1[kLanes] = {}, a2[kLanes] = {};
          grad_sums(gr + cg * S, xr + cg * S, S, m, a1, a2);
          const double u = lane_sum(a1), v = lane_sum(a2);
          s1 += w * u;
          s2 += w * v;
          if (partials) {
            pw[c0 + cg] += v * rs;
            pb[c0 + cg] += u;
          }
        }
        if (!dx) continue;
        // Pass 2: dx = rstd * (g w - mean(g w) - xhat * mean(g w xhat)).
        const T rt = static_cast<T>(rs), mt = static_cast<T>(m);
        const T gm = rms ? T(0) : static_cast<T>(D ? s1 / static_cast<double>(D) : 0.0);
        const T kv = static_cast<T>(D ? rs * rs * s2 / static_cast<double>(D) : 0.0);
        T* dr = dx + r * D;
        if (S == 1) {
          if (partials)
            ln_dx_partials(gr, xr, weight ? weight + c0 : nullptr, D, mt, rt, gm, kv, dr, tpart.data() + c0,
                           tpart.data() + C + c0);
          else if (weight)
            for (int64_t j = 0; j < D; ++j) dr[j] = (gr[j] * weight[c0 + j] - gm - (xr[j] - mt) * kv) * rt;
          else
            for (int64_t j = 0; j < D; ++j) dr[j] = (gr[j] - gm - (xr[j] - mt) * kv) * rt;
          continue;
        }
        for (int64_t cg = 0; cg < Cg; ++cg) {
          const T w = weight ? weight[c0 + cg] : T(1);
          const T* gp = gr + cg * S;
          const T* xp = xr + cg * S;
          T* dp = dr + cg * S;
          for (int64_t s = 0; s < S; ++s) dp[s] = (gp[s] * w - gm - (xp[s] - mt) * kv) * rt;
        }
      }
      if (partials && S == 1)
        for (int64_t c = 0; c < 2 * C; ++c) pw[c] += static_cast<double>(tpart[c]);
    }
  });
  if (!partials) return;
  // Blocks in order for every channel; channels contiguous in the inner loop.
  parallel_split(C, stream_threads<T>(nblocks * C, 2 * sizeof(double)), [&](int64_t c0, int64_t c1) {
    std::vector<double> sw(c1 - c0, 0.0), sb(c1 - c0, 0.0);
    for (int64_t blk = 0; blk < nblocks; ++blk) {
      const double* pw = work + blk * 2 * C;
      for (int64_t c = c0; c < c1; ++c) {
        sw[c - c0] += pw[c];
        sb[c - c0] += pw[C + c];
      }
    }
    for (int64_t c = c0; c < c1; ++c) {
      if (dweight) dweight[c] = static_cast<T>(sw[c - c0]);
      if (dbias) dbias[c] = static_cast<T>(sb[c - c0]);
    }
  });
}

#define GC_INSTANTIATE(T)                                                                                         \
  template void batch_norm_forward<T>(const T*, T*, int64_t, int64_t, int64_t, const T*, const T*, const T*,      \
                                      const T*, double, T*, T*, double*);                                         \
  template void batch_norm_backward<T>(const T*, const T*, int64_t, int64_t, int64_t, const T*, const T*,         \
                                       const T*, bool, T*, T*, T*);                                               \
  template void row_norm_forward<T>(const T*, T*, int64_t, int64_t, int64_t, int64_t, const T*, const T*, double, \
                                    bool, T*, T*);                                                                \
  template void row_norm_backward<T>(const T*, const T*, int64_t, int64_t, int64_t, int64_t, const T*, const T*,  \
                                     const T*, bool, T*, T*, T*, double*);
GC_INSTANTIATE(float)
GC_INSTANTIATE(double)
#undef GC_INSTANTIATE

}  // namespace gradcore::kernels
