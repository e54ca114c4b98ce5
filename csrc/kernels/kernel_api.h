// kernel_api.h — the kernel layer's entry points used by autograd ops.
//
// Each function works on raw, contiguous, row-major buffers; it picks the ISA variant from
// cpu::kernels() and splits work over the thread pool where that pays. Results never
// depend on the number of threads (fixed chunking, fixed combination order).
// All templates are instantiated for float and double in the .cpp files.
#pragma once
#include <cstddef>
#include <cstdint>

#include "kernels/kernels.h"

namespace gradcore::kernels {

// C = alpha * op(A) @ op(B) + beta * C, row-major; op(A) is M x K, op(B) is K x N.
//   transA: A is stored K x M (lda >= M), else M x K (lda >= K); likewise transB.
// When beta == 0, C is not read. Never splits K across threads.
// An epilogue, when given, is applied to each tile of C right after its last K block,
// while the tile is in cache: C[i, j] = act(C[i, j] + bias[j]) (bias may be null;
// act is a UnaryOp or -1 for none). This is Linear's fused bias + activation.
template <class T>
struct GemmEpilogue {
  const T* bias = nullptr;
  int act = -1;
};
template <class T>
void gemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda,
          const T* B, int64_t ldb, T beta, T* C, int64_t ldc, const GemmEpilogue<T>* epilogue = nullptr);

// Linear's fused backward pass over the (rows, cols) output gradient g:
//   gpre = g * act'(saved)   (saved: the output y for relu/sigmoid/tanh, the
//                            pre-activation z for gelu; act -1 means gpre = g)
//   db[j] = sum_i gpre[i, j] (Note [Blocked column sums], column_sum.h; db may be null)
template <class T>
void linear_act_backward(int act, const T* g, const T* saved, T* gpre, T* db, int64_t rows, int64_t cols);

constexpr int kMaxDims = 16;

// out[idx] = op(a[idx . sa], b[idx . sb]) over `shape` (ndim dims, element strides; a
// stride of 0 broadcasts). out is contiguous with that shape.
template <class T>
void binary(BinaryOp op, int ndim, const int64_t* shape, const T* a, const int64_t* sa, const T* b,
            const int64_t* sb, T* out);
template <class T>
void binary_scalar(BinaryOp op, const T* a, T s, T* out, int64_t n, bool scalar_first);
template <class T>
void unary(UnaryOp op, const T* x, T* y, int64_t n);
template <class T>
void pow_scalar(const T* x, T p, T* y, int64_t n);
template <class T>
void axpby(T alpha, const T* x, T beta, T* y, int64_t n);
// RELU/SIGMOID/TANH take the forward output y; GELU/GELU_TANH take the input x.
enum ActBackward { ACT_RELU, ACT_SIGMOID, ACT_TANH, ACT_GELU, ACT_GELU_TANH };
template <class T>
void activation_backward(ActBackward act, const T* g, const T* y, T* out, int64_t n);
template <class T>
void leaky_relu(const T* x, T slope, T* y, int64_t n);
template <class T>
void leaky_relu_backward(const T* g, const T* x, T slope, T* out, int64_t n);
template <class T>
void fill(T* y, T value, int64_t n);
template <class T>
void copy(const T* x, T* y, int64_t n);
// Gather into contiguous y of shape `yshape`: y[idx] = x[idx . xstrides] (element
// strides; 0 broadcasts). Permute and expand (broadcast_to) are both this.
template <class T>
void strided_copy(int ndim, const int64_t* yshape, const T* x, const int64_t* xstrides, T* y);
template <class T, class U>
void cast(const T* x, U* y, int64_t n);
// dst[idx . dst_strides] = src[idx . src_strides] over `shape`, strides in BYTES (0
// broadcasts the source), elements of `elsize` bytes (1, 2, 4 or 8). Threaded.
void copy_strided(size_t elsize, int ndim, const int64_t* shape, const void* src, const int64_t* src_strides,
                  void* dst, const int64_t* dst_strides);

// Reductions over the middle axis of an (outer, n, inner) view. Sums are pairwise or
// blocked in fixed chunks (Note [Deterministic reductions], reduce.cpp): accurate for any
// n and bitwise independent of the thread count.
template <class T>
void sum_axis(const T* x, T* y, int64_t outer, int64_t n, int64_t inner);
template <class T>
void max_axis(const T* x, T* y, int64_t outer, int64_t n, int64_t inner);
template <class T>
T sum_all(const T* x, int64_t n);
template <class T>
T max_all(const T* x, int64_t n);
template <class T>
T dot(const T* x, const T* y, int64_t n);
template <class T>
bool all_finite(const T* x, int64_t n);  // no NaN and no +-inf
// A 64-bit hash of nbytes bytes (not cryptographic): any change of the bytes changes it
// with overwhelming probability. Used to detect writes that bypass the version counter.
uint64_t checksum(const void* p, size_t nbytes);

// Softmax family over the middle axis of (outer, n, inner).
template <class T>
void softmax(const T* x, T* y, int64_t outer, int64_t n, int64_t inner, bool log);
// dx = y * (g - sum(g*y))  (softmax)   |   dx = g - exp(y) * sum(g)  (log_softmax, y = log-probs)
template <class T>
void softmax_backward(const T* g, const T* y, T* dx, int64_t outer, int64_t n, int64_t inner, bool log);

// Fused softmax + cross-entropy over logits [N, C] with integer labels (already range
// checked). Writes per-row losses (N) and the softmax probabilities (N x C) for backward.
// Target distribution: (1 - smoothing) * onehot + smoothing / C.
template <class T>
void cross_entropy_forward(const T* logits, const int64_t* labels, int64_t N, int64_t C, T smoothing,
                           T* row_loss, T* probs);
// dlogits[i, c] = scale_i * (probs[i, c] - target[i, c]), scale_i = row_scale[i * rs_step].
template <class T>
void cross_entropy_backward(const T* probs, const int64_t* labels, int64_t N, int64_t C, T smoothing,
                            const T* row_scale, int64_t rs_step, T* dlogits);

// ---- optimizer updates (optim.cpp): one call updates every tensor of a group ----
// Update rules follow PyTorch's torch.optim to the letter (see python/gradcore/optim.py).
enum OptimKind {
  OPT_SGD, OPT_ADAM, OPT_RMSPROP, OPT_ADAGRAD,
  // issue 12: these five run the plain loops of optim.cpp (one generic unit, no table entry)
  OPT_ADAMAX, OPT_NADAM, OPT_RADAM, OPT_ADADELTA, OPT_ASGD,
};  // OptimHyper: kernels.h
// Per-tensor coefficients the op layer computes from the step count and the per-parameter
// scalar state (kOptimCoefs doubles per tensor, coef[i * kOptimCoefs + j]):
//   Adamax   {lr / (1 - beta1^t)}
//   NAdam    {1 - beta2^t, -lr (1 - mu_t) / (1 - prod_t), -lr mu_{t+1} / (1 - prod_t mu_{t+1})}
//   RAdam    {1 - beta1^t, 1 - beta2^t, rect_t (0 when rho_t <= 5: no adaptive term)}
//   ASGD     {eta, mu} (the values before this step's update of eta and mu)
// Unused for the other kinds (coef may be null).
constexpr int kOptimCoefs = 3;
// Tensor i has sizes[i] elements at params[i] / grads[i]; state0..2[i] are its state
// buffers (null when unused): SGD {momentum}; Adam {exp_avg, exp_avg_sq, max_exp_avg_sq};
// RMSprop {square_avg, momentum_buffer, grad_avg}; Adagrad {sum}; Adamax {exp_avg, exp_inf};
// NAdam and RAdam {exp_avg, exp_avg_sq}; Adadelta {square_avg, acc_delta}; ASGD {ax}.
// steps[i] is the step number after this update (1 on the first). Work is split in fixed
// chunks over threads.
template <class T>
void optim_step(OptimKind kind, const OptimHyper& h, int64_t count, T* const* params, const T* const* grads,
                T* const* state0, T* const* state1, T* const* state2, const int64_t* sizes, const int64_t* steps,
                const double* coef = nullptr);
// Sum over tensors of sum(|g|^p) (p = 2: squares), fixed order; p = inf: max |g|.
template <class T>
double grad_norm_pow(int64_t count, const T* const* grads, const int64_t* sizes, double p);
// Counter-based RNG (Philox4x32-10): element i of a draw depends only on (seed, offset, i).
// `offset` counts 128-bit Philox blocks; a draw of n values uses rng_blocks(n) blocks.
int64_t rng_blocks(int64_t n);
template <class T>
void rng_uniform(T* y, int64_t n, uint64_t seed, uint64_t offset, T low, T high);
template <class T>
void rng_normal(T* y, int64_t n, uint64_t seed, uint64_t offset, T mean, T std);

}  // namespace gradcore::kernels
