// attention.cpp — the fused attention kernels (see attention.h, Note [Flash attention on
// the CPU]). The two products of a tile go through gemm(); the row work between them
// (mask, running max, exp, sums) is vectorisable loops and the table's exp.
#include "kernels/attention.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "cpu/parallel.h"
#include "kernels/dispatch.h"
#include "kernels/gemm_plan.h"
#include "kernels/kernel_api.h"
#include "kernels/table.h"
#include "kernels/tasks.h"
#include "kernels/workspace.h"

namespace gradcore::kernels {
namespace {

thread_local Workspace tl_attn;  // one thread's tiles

constexpr int64_t kAttnRows = 64;   // queries per tile
constexpr int64_t kAttnCols = 128;  // keys per tile

// Keys per tile: kAttnCols, fewer for wide heads so K_j, V_j and the score tile stay in L2.
int64_t key_tile(int64_t E, int64_t Ev) {
  const int64_t w = std::max(E, Ev);
  return w <= 128 ? kAttnCols : std::max<int64_t>(16, kAttnCols * 128 / w / 16 * 16);
}

constexpr double kInf = std::numeric_limits<double>::infinity();

// Row reductions in one partial per vector lane, combined in lane order (a single float
// accumulator is a scalar dependency chain: the compiler may not reassociate it). The max
// ignores NaN, as the scalar form did; the sum's order is fixed, so results stay the same
// for any thread count.
constexpr int64_t kLanes = 16;
template <class T>
T row_max(const T* x, int64_t n) {
  T part[kLanes];
  for (int64_t l = 0; l < kLanes; ++l) part[l] = T(-kInf);
  int64_t c = 0;
  for (; c + kLanes <= n; c += kLanes)
    for (int64_t l = 0; l < kLanes; ++l) part[l] = x[c + l] > part[l] ? x[c + l] : part[l];
  T mx = T(-kInf);
  for (; c < n; ++c) mx = x[c] > mx ? x[c] : mx;
  for (int64_t l = 0; l < kLanes; ++l) mx = part[l] > mx ? part[l] : mx;
  return mx;
}
template <class T>
T row_sum(const T* x, int64_t n) {
  T part[kLanes] = {};
  int64_t c = 0;
  for (; c + kLanes <= n; c += kLanes)
    for (int64_t l = 0; l < kLanes; ++l) part[l] += x[c + l];
  T sum = T(0);
  for (; c < n; ++c) sum += x[c];
  for (int64_t l = 0; l < kLanes; ++l) sum += part[l];
  return sum;
}
template <class T>
T row_dot(const T* x, const T* y, int64_t n) {
  T part[kLanes] = {};
  int64_t c = 0;
  for (; c + kLanes <= n; c += kLanes)
    for (int64_t l = 0; l < kLanes; ++l) part[l] += x[c + l] * y[c + l];
  T sum = T(0);
  for (; c < n; ++c) sum += x[c] * y[c];
  for (int64_t l = 0; l < kLanes; ++l) sum += part[l];
  return sum;
}

// The score tile s [br, bc] of problem p, queries i0.., keys j0..: scale * Q K^T + mask,
// -inf above the causal diagonal.
template <class T>
void score_tile(const AttnProblem<T>& a, int64_t p, int64_t i0, int64_t br, int64_t j0, int64_t bc, T* s) {
  const T* q = a.q + a.q_off[p] + i0 * a.E;
  const T* k = a.k + a.k_off[p] + j0 * a.E;
  gemm<T>(false, true, br, bc, a.E, static_cast<T>(a.scale), q, a.E, k, a.E, T(0), s, bc);
  if (a.mask) {
    const T* m = a.mask + a.m_off[p] + j0;
    for (int64_t r = 0; r < br; ++r) {
      const T* mr = m + (i0 + r) * a.m_ld;
      T* sr = s + r * bc;
      for (int64_t c = 0; c < bc; ++c) sr[c] += mr[c];
    }
  }
  if (a.causal && j0 + bc - 1 > i0) {
    const T ninf = -std::numeric_limits<T>::infinity();
    for (int64_t r = 0; r < br; ++r) {
      const int64_t first = std::max<int64_t>(0, i0 + r + 1 - j0);  // first masked column
      T* sr = s + r * bc;
      for (int64_t c = first; c < bc; ++c) sr[c] = ninf;
    }
  }
}

// z [br, bc] = the dropout factors (keep / (1 - p)) of the tile.
template <class T>
void dropout_tile(const AttnProblem<T>& a, int64_t p, int64_t i0, int64_t br, int64_t j0, int64_t bc, T* z) {
  const T pd = static_cast<T>(a.dropout_p), keep = static_cast<T>(1.0 / (1.0 - a.dropout_p));
  for (int64_t r = 0; r < br; ++r) {
    T* zr = z + r * bc;
    rng_uniform_at<T>(zr, (p * a.L + i0 + r) * a.S + j0, bc, a.seed, a.offset);
    for (int64_t c = 0; c < bc; ++c) zr[c] = zr[c] >= pd ? keep : T(0);
  }
}

// Key tiles [0, n) that query rows [i0, i0 + br) may see.
template <class T>
int64_t visible_keys(const AttnProblem<T>& a, int64_t i0, int64_t br) {
  return a.causal ? std::min(a.S, i0 + br) : a.S;
}

}  // namespace

template <class T>
void attention_forward(const AttnProblem<T>& a, T* out, T* lse) {
  const int64_t L = a.L, S = a.S, E = a.E, Ev = a.Ev;
  if (a.P == 0 || L == 0) return;
  const int64_t br = kAttnRows, bcmax = key_tile(E, Ev);
  const int64_t qtiles = (L + br - 1) / br, tasks = a.P * qtiles;
  const auto& tk = table<T>();
  const auto vexp = tk.unary[UNARY_EXP];
  const bool drop = a.dropout_p > 0;
  const double fmas = double(a.P) * L * S * (E + Ev) * (a.causal ? 0.5 : 1.0);
  run_tasks(tasks, task_threads<T>(tasks, fmas), [&](int64_t t) {
    const int64_t p = t / qtiles, i0 = (t % qtiles) * br, rows = std::min(br, L - i0);
    // scratch: s [br, bc], z [br, bc], o [br, Ev], m, l [br]
    const size_t need = sizeof(T) * (2 * br * bcmax + br * Ev + 2 * br);
    T* s = static_cast<T*>(tl_attn.get(need));
    T* z = s + br * bcmax;
    T* o = z + br * bcmax;
    T* m = o + br * Ev;
    T* l = m + br;
    const T ninf = -std::numeric_limits<T>::infinity();
    std::fill(o, o + rows * Ev, T(0));
    std::fill(m, m + rows, ninf);
    std::fill(l, l + rows, T(0));
    const int64_t send = visible_keys(a, i0, rows);
    for (int64_t j0 = 0; j0 < send; j0 += bcmax) {
      const int64_t bc = std::min(bcmax, send - j0);
      score_tile(a, p, i0, rows, j0, bc, s);
      if (drop) dropout_tile(a, p, i0, rows, j0, bc, z);
      for (int64_t r = 0; r < rows; ++r) {
        T* sr = s + r * bc;
        const T mx = row_max(sr, bc);
        const T mn = std::max(m[r], mx);
        if (mn == ninf) {  // every key so far masked: no weight
          std::fill(sr, sr + bc, T(0));
          continue;
        }
        for (int64_t c = 0; c < bc; ++c) sr[c] -= mn;
        vexp(sr, sr, bc);
        const T sum = row_sum(sr, bc);
        const T alpha = std::exp(m[r] - mn);  // 0 when m was -inf
        l[r] = l[r] * alpha + sum;
        m[r] = mn;
        if (alpha != T(1)) {
          T* orow = o + r * Ev;
          for (int64_t c = 0; c < Ev; ++c) orow[c] *= alpha;
        }
        if (drop) {
          const T* zr = z + r * bc;
          for (int64_t c = 0; c < bc; ++c) sr[c] *= zr[c];
        }
      }
      gemm<T>(false, false, rows, Ev, bc, T(1), s, bc, a.v + a.v_off[p] + j0 * Ev, Ev, T(1), o, Ev);
    }
    T* outp = out + (p * L + i0) * Ev;
    T* lsep = lse + p * L + i0;
    for (int64_t r = 0; r < rows; ++r) {
      const T* orow = o + r * Ev;
      T* dst = outp + r * Ev;
      if (l[r] > T(0)) {
        const T inv = T(1) / l[r];
        for (int64_t c = 0; c < Ev; ++c) dst[c] = orow[c] * inv;
        lsep[r] = m[r] + std::log(l[r]);
      } else {
        std::fill(dst, dst + Ev, T(0));
        lsep[r] = static_cast<T>(kInf);
      }
    }
  });
}

template <class T>
void attention_backward(const AttnProblem<T>& a, const T* g, const T* out, const T* lse, T* dq, T* dk, T* dv) {
  const int64_t L = a.L, S = a.S, E = a.E, Ev = a.Ev;
  if (a.P == 0) return;
  if (dq) std::fill(dq, dq + a.P * L * E, T(0));
  if (dk) std::fill(dk, dk + a.P * S * E, T(0));
  if (dv) std::fill(dv, dv + a.P * S * Ev, T(0));
  if (L == 0 || S == 0) return;
  const int64_t br = kAttnRows, bc = key_tile(E, Ev);
  const int64_t qtiles = (L + br - 1) / br, ktiles = (S + bc - 1) / bc;
  const auto& tk = table<T>();
  const auto vexp = tk.unary[UNARY_EXP];
  const bool drop = a.dropout_p > 0;
  const T scale = static_cast<T>(a.scale);
  const double fmas = double(a.P) * L * S * (3 * E + 2 * Ev) * (a.causal ? 0.5 : 1.0);
  const int threads = task_threads<T>(a.P * ktiles, fmas);
  // One task per problem when the problems alone fill the threads: dQ accumulates in the
  // same pass. Otherwise tasks are (problem, key tile) for dK / dV and a second pass of
  // (problem, query tile) tasks forms dQ. Both sum in the same order (attention.h).
  const bool fused_dq = threads <= 1 || a.P >= 2 * threads;

  // D = rowsum(dO o O), per problem and row
  const size_t dbytes = sizeof(T) * a.P * L;
  Workspace dws;
  T* D = static_cast<T*>(dws.get(dbytes));
  for (int64_t i = 0; i < a.P * L; ++i) {
    const T* gr = g + i * Ev;
    const T* orow = out + i * Ev;
    D[i] = row_dot(gr, orow, Ev);
  }

  // The tile (i0, j0) of problem p: ds = P o (dP - D) in s; pd = P o Z in z (for dV).
  auto tile = [&](int64_t p, int64_t i0, int64_t rows, int64_t j0, int64_t cols, T* s, T* dp, T* z) {
    score_tile(a, p, i0, rows, j0, cols, s);
    const T* lp = lse + p * L + i0;
    for (int64_t r = 0; r < rows; ++r) {
      T* sr = s + r * cols;
      const T sub = lp[r];
      for (int64_t c = 0; c < cols; ++c) sr[c] -= sub;
      vexp(sr, sr, cols);
    }
    const T* gi = g + (p * L + i0) * Ev;
    const T* vj = a.v + a.v_off[p] + j0 * Ev;
    gemm<T>(false, true, rows, cols, Ev, T(1), gi, Ev, vj, Ev, T(0), dp, cols);  // [br, bc] = dO V^T
    if (drop) {
      dropout_tile(a, p, i0, rows, j0, cols, z);
      for (int64_t x = 0; x < rows * cols; ++x) dp[x] *= z[x];
    }
    if (dv) {  // [bc, Ev] += (P o Z)^T [br, bc]^T x dO [br, Ev]
      const T* pz = s;
      if (drop) {
        for (int64_t x = 0; x < rows * cols; ++x) z[x] *= s[x];
        pz = z;
      }
      gemm<T>(true, false, cols, Ev, rows, T(1), pz, cols, gi, Ev, T(1), dv + (p * S + j0) * Ev, Ev);
    }
    const T* Dp = D + p * L + i0;
    for (int64_t r = 0; r < rows; ++r) {
      T* sr = s + r * cols;
      const T* dpr = dp + r * cols;
      const T dr = Dp[r];
      for (int64_t c = 0; c < cols; ++c) sr[c] *= dpr[c] - dr;
    }
  };
  auto scratch = [&](T*& s, T*& dp, T*& z) {
    s = static_cast<T*>(tl_attn.get(sizeof(T) * 3 * br * bc));
    dp = s + br * bc;
    z = dp + br * bc;
  };
  // dK_j, dV_j (and dQ when fused) over the query tiles that see key tile j.
  auto key_task = [&](int64_t p, int64_t jt, bool with_dq) {
    T *s, *dp, *z;
    scratch(s, dp, z);
    const int64_t j0 = jt * bc, cols = std::min(bc, S - j0);
    const int64_t ifirst = a.causal ? j0 / br : 0;  // earlier query tiles see none of it
    for (int64_t it = ifirst; it < qtiles; ++it) {
      const int64_t i0 = it * br, rows = std::min(br, L - i0);
      if (a.causal && j0 > i0 + rows - 1) continue;
      tile(p, i0, rows, j0, cols, s, dp, z);
      const T* qi = a.q + a.q_off[p] + i0 * E;
      const T* kj = a.k + a.k_off[p] + j0 * E;
      if (dk) gemm<T>(true, false, cols, E, rows, scale, s, cols, qi, E, T(1), dk + (p * S + j0) * E, E);
      if (with_dq && dq) gemm<T>(false, false, rows, E, cols, scale, s, cols, kj, E, T(1), dq + (p * L + i0) * E, E);
    }
  };
  if (fused_dq) {
    run_tasks(a.P, threads, [&](int64_t p) {
      for (int64_t jt = 0; jt < ktiles; ++jt) key_task(p, jt, true);
    });
    return;
  }
  if (dk || dv) run_tasks(a.P * ktiles, threads, [&](int64_t t) { key_task(t / ktiles, t % ktiles, false); });
  if (!dq) return;
  dv = nullptr;  // the second pass forms dQ only
  const int qthreads = task_threads<T>(a.P * qtiles, fmas);
  run_tasks(a.P * qtiles, qthreads, [&](int64_t t) {
    T *s, *dp, *z;
    scratch(s, dp, z);
    const int64_t p = t / qtiles, i0 = (t % qtiles) * br, rows = std::min(br, L - i0);
    const int64_t send = visible_keys(a, i0, rows);
    for (int64_t j0 = 0; j0 < send; j0 += bc) {
      const int64_t cols = std::min(bc, S - j0);
      tile(p, i0, rows, j0, cols, s, dp, z);
      gemm<T>(false, false, rows, E, cols, scale, s, cols, a.k + a.k_off[p] + j0 * E, E, T(1),
              dq + (p * L + i0) * E, E);
    }
  });
}

template void attention_forward<float>(const AttnProblem<float>&, float*, float*);
template void attention_forward<double>(const AttnProblem<double>&, double*, double*);
template void attention_backward<float>(const AttnProblem<float>&, const float*, const float*, const float*, float*,
                                        float*, float*);
template void attention_backward<double>(const AttnProblem<double>&, const double*, const double*, const double*,
                                         double*, double*, double*);

}  // namespace gradcore::kernels
