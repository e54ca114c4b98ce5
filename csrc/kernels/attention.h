// attention.h — fused scaled-dot-product attention (FlashAttention on the CPU), forward and
// backward, over raw contiguous buffers.
//
// Note [Flash attention on the CPU]: a problem p (one batch element and head of the output)
// is  O = softmax(scale * Q K^T + M) V  with Q [L, E], K [S, E], V [S, Ev], M an additive
// mask (0 / -inf from a boolean one) and, when is_causal, -inf above the diagonal
// (top-left aligned: row i sees keys j <= i). The (L x S) score matrix is never formed:
// a tile of kAttnRows queries meets the keys one tile of kAttnCols at a time,
//   S_t = scale * Q_i K_j^T + M_ij                       (GEMM, [br, bc])
//   m' = max(m, rowmax S_t);  P = exp(S_t - m')          (online softmax, per row)
//   l = l * exp(m - m') + rowsum P;  O = O * exp(m - m') + (P o Z) V_j     (GEMM, [br, Ev])
// and O / l is written once at the end with the row's logsumexp lse = m + log l. Z is the
// dropout mask (keep / (1 - p)), regenerated from (seed, offset) wherever it is needed:
// element (p, i, j) keeps when u >= dropout_p, u the uniform with index (p * L + i) * S + j
// of the Philox stream at `offset` (the value gc.rand(P, L, S) would draw there). Key tiles
// entirely above the causal diagonal are skipped. A row with every key masked has l = 0:
// its output is 0 and its lse +inf (PyTorch's safe softmax), so its gradient is 0.
//
// Backward (FlashAttention-2): with D_i = rowsum(dO o O) and P = exp(S_t - lse) recomputed,
//   dV_j += (P o Z)^T dO_i,  dP = (dO_i V_j^T) o Z,  dS = P o (dP - D_i),
//   dK_j += scale * dS^T Q_i,  dQ_i += scale * dS K_j.
// dK_j and dV_j sum over the query tiles in ascending order, dQ_i over the key tiles in
// ascending order, whichever thread runs them, so results are bitwise independent of the
// thread count (forward: tasks are (problem, query tile), each written by one thread).
#pragma once
#include <cstdint>

namespace gradcore::kernels {

template <class T>
struct AttnProblem {
  int64_t P = 0;  // problems
  int64_t L = 0, S = 0, E = 0, Ev = 0;
  // Problem p reads q + q_off[p] ([L, E] row-major), k + k_off[p] ([S, E]), v + v_off[p]
  // ([S, Ev]); mask (nullable) + m_off[p]: additive [L, S] with row stride m_ld (0: one
  // row for every query).
  const T* q = nullptr;
  const T* k = nullptr;
  const T* v = nullptr;
  const T* mask = nullptr;
  const int64_t* q_off = nullptr;
  const int64_t* k_off = nullptr;
  const int64_t* v_off = nullptr;
  const int64_t* m_off = nullptr;
  int64_t m_ld = 0;
  double scale = 1.0;
  bool causal = false;
  double dropout_p = 0.0;  // 0: none
  uint64_t seed = 0, offset = 0;
};

// out [P, L, Ev] and lse [P, L] (contiguous).
template <class T>
void attention_forward(const AttnProblem<T>& a, T* out, T* lse);
// g, out [P, L, Ev], lse [P, L]; dq [P, L, E], dk [P, S, E], dv [P, S, Ev] (contiguous, per
// problem: the caller sums the problems that share a key / value). Any of dq / dk / dv may
// be null (not wanted).
template <class T>
void attention_backward(const AttnProblem<T>& a, const T* g, const T* out, const T* lse, T* dq, T* dk, T* dv);

}  // namespace gradcore::kernels
