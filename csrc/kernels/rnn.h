// rnn.h — one recurrent layer in one direction over a whole sequence (issue 16): Elman RNN
// (tanh / relu), LSTM (with an optional projection) and GRU, forward and backward through
// time. Raw contiguous buffers, no Tensor; the caller (autograd/ops/rnn.cpp) allocates every
// buffer, the kernel never does.
//
// Layout (PackedSequence semantics, also used for padded input with every batch size B):
//   x[N, I]        the steps one after another; step t holds rows off[t] .. off[t] + bs[t]
//                  (off[t] = bs[0] + ... + bs[t-1]); bs is non-increasing, so step t works
//                  on the first bs[t] sequences of the batch.
//   h[B, P]        the running hidden state (P = proj_size, or H without projection); the
//                  rows a step does not touch keep their state, so at the end h holds h_n.
//   c[B, H]        LSTM's running cell state.
// reverse: the steps run from T - 1 down to 0; a sequence enters with h0 at its last step.
//
// Gate order is PyTorch's: LSTM i, f, g, o; GRU r, z, n. Per layer and direction the
// forward is one GEMM for the input projections of all steps, then per step one GEMM
// h W_hh^T and the fused cell (gates, activations, state update in one pass over the
// rows; the sigmoid / tanh rows run the ISA table's vector loops), plus for LSTM with
// projection one GEMM h = hp W_hr^T. The backward walks the steps in the opposite order:
// per step the fused cell backward and one GEMM dh = dgates W_hh (and dhp = dh W_hr), then
// one GEMM each for dx, dW_ih, dW_hh (and dW_hr) over all steps at once.
//
// Note [RNN determinism]: the cell loops are elementwise per row (rows split over threads
// change nothing), the GEMMs never split K, and the bias gradients are sum_axis column
// sums; results are bitwise identical for any GRADCORE_NUM_THREADS.
#pragma once
#include <cstdint>

namespace gradcore::kernels {

enum RnnMode : int { RNN_TANH = 0, RNN_RELU = 1, RNN_LSTM = 2, RNN_GRU = 3 };

// Gates per mode (G): 1, 1, 4, 3. Saved gate values per row: G * H, except GRU: 4 * H
// (r, z, n and the recurrent part of n, h W_hn^T + b_hn).
inline int rnn_gates(int mode) { return mode == RNN_LSTM ? 4 : mode == RNN_GRU ? 3 : 1; }
inline int rnn_saved_gates(int mode) { return mode == RNN_GRU ? 4 : rnn_gates(mode); }

template <class T>
struct RnnLayer {
  int mode = RNN_LSTM;
  int64_t steps = 0;                    // T
  const int64_t* batch_sizes = nullptr;  // [T], non-increasing, bs[0] = B
  int64_t B = 0, I = 0, H = 0, P = 0;   // P = proj_size or H
  bool reverse = false;
  const T* w_ih = nullptr;  // [G H, I]
  const T* w_hh = nullptr;  // [G H, P]
  const T* b_ih = nullptr;  // [G H] or null
  const T* b_hh = nullptr;  // [G H] or null
  const T* w_hr = nullptr;  // [P, H] or null (LSTM projection)
};

// What the forward writes and the backward reads (N = sum of the batch sizes).
template <class T>
struct RnnSaved {
  T* gates = nullptr;  // [N, rnn_saved_gates * H] activated gates
  T* hprev = nullptr;  // [N, P] the state each step starts from
  T* cprev = nullptr;  // [N, H] LSTM: the cell state each step starts from
  T* ctanh = nullptr;  // [N, H] LSTM: tanh of the new cell state
  T* hp = nullptr;     // [N, H] LSTM with projection: o * tanh(c) before the projection
};

// x[N, I] -> out[N, P]; h[B, P] holds h0 on entry and h_n on return, c[B, H] likewise
// (LSTM). work: rnn_forward_work values of scratch.
inline int64_t rnn_forward_work(int mode, int64_t B, int64_t H, int64_t P) { return (B + P) * rnn_gates(mode) * H; }
template <class T>
void rnn_layer_forward(const RnnLayer<T>& L, const T* x, T* out, T* h, T* c, const RnnSaved<T>& s, T* work);

// Values of scratch rnn_layer_backward needs.
int64_t rnn_backward_work(int mode, int64_t N, int64_t B, int64_t H, int64_t P);

// Gradients from dout[N, P] (null: zero), dh[B, P] (dh_n on entry, dh0 on return) and dc[B, H]
// (LSTM: dc_n on entry, dc0 on return). Each output may be null (not wanted); dx[N, I],
// dw_ih[G H, I], dw_hh[G H, P], db_ih / db_hh[G H], dw_hr[P, H] are overwritten.
template <class T>
void rnn_layer_backward(const RnnLayer<T>& L, const T* x, const T* dout, T* dh, T* dc, const RnnSaved<T>& s, T* dx,
                        T* dw_ih, T* dw_hh, T* db_ih, T* db_hh, T* dw_hr, T* work);

}  // namespace gradcore::kernels
