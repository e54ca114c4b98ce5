// kernel_api.h — the kernel layer's entry points used by autograd ops.
//
// Each function works on raw, contiguous, row-major buffers; it picks the ISA variant from
// kernels::active() and splits work over the thread pool where that pays. Results never
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
// gradcore-bench peak: the FMA peak of table t's probe on `threads` threads (GFLOP/s, the
// best of the calls made in `seconds`), and the STREAM triad a = b + s c over n floats.
double fma_peak_gflops(const KernelTable& t, int threads, double seconds);
double triad_gbs(int64_t n, int threads, double seconds);

// The plan gemm() would execute for this product on this machine (kernels/gemm_plan.h).
struct GemmPlan;
struct GemmMachine;
template <class T>
GemmPlan gemm_plan_for(bool transA, bool transB, int64_t M, int64_t N, int64_t K, bool alpha_zero);
// The machine gemm() plans for, with the current micro-kernel's measured rate.
template <class T>
GemmMachine gemm_machine_for();

// A batch of products C_i = alpha * op(A_i) @ op(B_i) + beta * C_i, i in [0, batch), all
// M x N x K with the same transposes and leading dims: A_i = A + a_off[i], B_i = B + b_off[i]
// (element offsets; equal offsets share one matrix, so a broadcast batch operand is never
// copied), C_i = C + i * c_stride. Each product is one gemm() call; when a single product
// is too small to split well, the batch itself is split over the threads (contiguous runs,
// each product on one thread), so results are bitwise the same for any thread count.
template <class T>
void gemm_batched(bool transA, bool transB, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda,
                  const int64_t* a_off, const T* B, int64_t ldb, const int64_t* b_off, T beta, T* C, int64_t ldc,
                  int64_t c_stride, int64_t batch);

// Linear's fused backward pass over the (rows, cols) output gradient g:
//   gpre = g * act'(saved)   (act an ActBackward; saved: the output y or the
//                            pre-activation z, as its descriptor says; act -1: gpre = g)
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
// out = g * act'(.) from the saved s (the output or the input: the activation's descriptor).
template <class T>
void activation_backward(ActBackward act, const T* g, const T* s, T* out, int64_t n);
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
// Values first .. first + n - 1 of rng_uniform(y, ., seed, offset, 0, 1)'s draw, on the caller.
template <class T>
void rng_uniform_at(T* y, int64_t first, int64_t n, uint64_t seed, uint64_t offset);
template <class T>
void rng_normal(T* y, int64_t n, uint64_t seed, uint64_t offset, T mean, T std);
// Transforms of one uniform per value (same layout as rng_uniform: rng_blocks(n) blocks):
// -log(u) / lambd; median + sigma * tan(pi (u - 1/2)); ceil(log(u) / log(1 - p)) >= 1.
template <class T>
void rng_exponential(T* y, int64_t n, uint64_t seed, uint64_t offset, double lambd);
template <class T>
void rng_cauchy(T* y, int64_t n, uint64_t seed, uint64_t offset, double median, double sigma);
template <class T>
void rng_geometric(T* y, int64_t n, uint64_t seed, uint64_t offset, double p);
// exp(N(mean, std^2)) (rng_normal's layout).
template <class T>
void rng_log_normal(T* y, int64_t n, uint64_t seed, uint64_t offset, T mean, T std);
// low + (64 random bits mod range), wrapping in two's complement; range 0 means 2**64.
// rng_blocks(n) blocks.
void rng_random_int(int64_t* y, int64_t n, uint64_t seed, uint64_t offset, int64_t low, uint64_t range);
// Poisson(rate[i]) for each i (rate >= 0, checked by the caller); uses n blocks (one
// counter per value, see rng.cpp).
void rng_poisson(const double* rate, double* y, int64_t n, uint64_t seed, uint64_t offset);
// k category indices per row of the rows x cats weights w (non-negative, not all zero per
// row), into out (rows x k). Without replacement k <= cats (checked by the caller).
// Uses `rows` blocks. Returns 0, or 1 when a weight is negative / inf / NaN, 2 when a
// row sums to 0 (then nothing is written).
int rng_multinomial(const double* w, int64_t rows, int64_t cats, int64_t k, bool replacement, int64_t* out,
                    uint64_t seed, uint64_t offset);
// A random permutation of 0..n-1 (rng_blocks(n) blocks).
void rng_randperm(int64_t* y, int64_t n, uint64_t seed, uint64_t offset);

}  // namespace gradcore::kernels
