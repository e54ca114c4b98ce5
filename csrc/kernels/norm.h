// norm.h — fused normalisation kernels: BatchNorm over channels, and the row norms
// (LayerNorm, GroupNorm, RMSNorm) over rows. Raw contiguous buffers, no Tensor.
//
// Layouts (row-major, contiguous):
//   BatchNorm   x[N, C, S]      S = prod(spatial dims); channel c is N planes of S values
//   row norms   x[N, G, Cg, S]  a row is one (n, g): D = Cg * S values, normalised together;
//                               the affine weight / bias index is the channel g * Cg + cg
//               LayerNorm: G = 1, Cg = D (the normalized_shape), S = 1
//               GroupNorm: G groups of Cg = C / G channels of S values each
//
// Forward: one pass for the statistics (shifted sums, Note [Shifted sums]) and one for the
// output. It saves the mean and rstd = 1 / sqrt(var + eps) per channel (BatchNorm) or per
// row, never xhat. Backward: one pass for sum(dy) and sum(dy * (x - mean)) (per channel, or
// per row together with the weight / bias partials), one for dx.
//
// Note [Norm determinism]: every statistic is summed by one thread in an order fixed by the
// shape (a BatchNorm channel, a row); the weight / bias gradients of the row norms are
// partial sums over fixed blocks of kNormRowBlock rows, combined in block order. Results are
// therefore bitwise identical for any GRADCORE_NUM_THREADS.
#pragma once
#include <cstdint>

namespace gradcore::kernels {

constexpr int64_t kNormRowBlock = 32;

// Training (mean_in == null): per-channel batch statistics; batch_var (nullable, C doubles)
// receives the biased variance (the caller updates the running statistics). Eval: mean_in
// and var_in are the running statistics. weight / bias may be null (1 / 0).
template <class T>
void batch_norm_forward(const T* x, T* y, int64_t N, int64_t C, int64_t S, const T* weight, const T* bias,
                        const T* mean_in, const T* var_in, double eps, T* save_mean, T* save_rstd,
                        double* batch_var);
// use_batch_stats: dx includes the terms through the batch mean and variance (training).
// dx, dweight, dbias may each be null (not wanted).
template <class T>
void batch_norm_backward(const T* g, const T* x, int64_t N, int64_t C, int64_t S, const T* weight, const T* mean,
                         const T* rstd, bool use_batch_stats, T* dx, T* dweight, T* dbias);

// rms: no mean is subtracted (RMSNorm; save_mean is written 0). bias ignored when null.
template <class T>
void row_norm_forward(const T* x, T* y, int64_t N, int64_t G, int64_t Cg, int64_t S, const T* weight, const T* bias,
                      double eps, bool rms, T* save_mean, T* save_rstd);
// Doubles of scratch row_norm_backward needs when dweight or dbias is wanted.
int64_t row_norm_backward_work(int64_t N, int64_t G, int64_t Cg);
template <class T>
void row_norm_backward(const T* g, const T* x, int64_t N, int64_t G, int64_t Cg, int64_t S, const T* weight,
                       const T* mean, const T* rstd, bool rms, T* dx, T* dweight, T* dbias, double* work);

}  // namespace gradcore::kernels
