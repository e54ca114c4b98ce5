// pool.h — pooling and resampling kernels over (N*C) planes of NCHW tensors.
//
// Note [Pooling planes]: every kernel here sees its input as `planes` contiguous planes
// (the N*C planes of an NC[D][H]W tensor) of up to three spatial dims, padded in front to
// (D, H, W) with size-1 dims: a 1-d pool has D = H = 1, kernel 1, stride 1, padding 0. An
// output element depends only on its own plane, and every backward writes only into its own
// plane, so the planes are split over threads in contiguous runs and the results are
// bitwise the same for any thread count (the scatters of the backward stay in one thread).
// Indices (max pool, adaptive max pool) are int64 offsets into the flattened spatial plane,
// (d * H + h) * W + w, as PyTorch's.
//
//   PoolShape g{planes, {1, H, W}, {1, OH, OW}, {1, kh, kw}, {1, sh, sw}, {0, ph, pw}, {1, dh, dw}};
//   kernels::max_pool_forward<float>(x, y, idx, g);
//   kernels::pool_index_backward<float>(gy, idx, gx, planes, H * W, OH * OW);
#pragma once
#include <cstdint>

#include "kernels/kernels.h"

namespace gradcore::kernels {

struct PoolShape {
  int64_t planes = 0;
  int64_t in[3] = {1, 1, 1}, out[3] = {1, 1, 1};  // (D, H, W) of a plane
  int64_t k[3] = {1, 1, 1}, s[3] = {1, 1, 1}, p[3] = {0, 0, 0}, d[3] = {1, 1, 1};
  int64_t in_plane() const { return in[0] * in[1] * in[2]; }
  int64_t out_plane() const { return out[0] * out[1] * out[2]; }
};

// y = the window maxima, idx = their positions. NaN wins (the last NaN of a window), ties
// keep the first; the window's first valid position when every value is -inf (PyTorch's).
// T: float, double, and the integer types int64_t, int32_t, int16_t, int8_t, uint8_t.
template <class T>
void max_pool_forward(const T* x, T* y, int64_t* idx, const PoolShape& g);
// Adaptive windows: output o of a dim of sizes (in, out) covers [floor(o in / out),
// ceil((o + 1) in / out)). Kernel, stride, padding and dilation of g are unused.
template <class T>
void adaptive_max_pool_forward(const T* x, T* y, int64_t* idx, const PoolShape& g);
// gx = 0, then gx[plane][idx] += gy[plane] in output order (indices outside the plane are
// skipped). The backward of both max pools.
template <class T>
void pool_index_backward(const T* gy, const int64_t* idx, T* gx, int64_t planes, int64_t in_plane, int64_t out_plane);

// Average pooling (PyTorch's divisor: divisor_override when nonzero, else the window size,
// clipped to the padded input when count_include_pad, else to the input). T as
// max_pool_forward; integer types sum in int64 and divide with truncation, as PyTorch's.
template <class T>
void avg_pool_forward(const T* x, T* y, const PoolShape& g, bool count_include_pad, int64_t divisor_override);
// gx = the adjoint of avg_pool_forward applied to gy (float, double).
template <class T>
void avg_pool_backward(const T* gy, T* gx, const PoolShape& g, bool count_include_pad, int64_t divisor_override);
// Adaptive average pooling and its adjoint (float, double).
template <class T>
void adaptive_avg_pool_forward(const T* x, T* y, const PoolShape& g);
template <class T>
void adaptive_avg_pool_backward(const T* gy, T* gx, const PoolShape& g);

// Resampling (F.interpolate) of the planes from `in` to `out` per dim. scales[i] > 0: the
// user's scale factor of dim i (used for the source coordinate, as PyTorch's when
// recompute_scale_factor is off), else in / out. align_corners: linear only.
enum InterpMode { INTERP_NEAREST = 0, INTERP_NEAREST_EXACT = 1, INTERP_LINEAR = 2 };
struct InterpShape {
  int64_t planes = 0;
  int64_t in[3] = {1, 1, 1}, out[3] = {1, 1, 1};
  double scales[3] = {0, 0, 0};
  int mode = INTERP_NEAREST;
  bool align_corners = false;
};
template <class T>
void interpolate_forward(const T* x, T* y, const InterpShape& g);
// gx = the adjoint of interpolate_forward applied to gy (float, double).
template <class T>
void interpolate_backward(const T* gy, T* gx, const InterpShape& g);

}  // namespace gradcore::kernels
