// conv.h — convolution kernels over raw, contiguous N C [D] [H] W buffers (1 to 3 spatial
// dims; unused leading spatial dims have size 1, kernel 1, stride 1, padding 0).
//
// Note [Convolution on GEMM]: per image and group, the output is one product
//   Y[Kg, P] = W[Kg, Cg*R] @ col[Cg*R, P]
// (Kg = out channels per group, Cg = in channels per group, R = kernel taps, P = output
// positions), where col holds the input patches. col is never built for the whole batch
// or even a whole image: it is filled one tile of output positions at a time, sized so the
// tile (Cg*R rows) stays in half of one core's L2 next to the GEMM's packed blocks, and
// the product of each tile goes straight into its columns of Y (ldc = P). A pointwise
// convolution (1x1, stride 1, no padding) multiplies the image itself, with no col.
// The backward reuses the same tiles: the input gradient is col2im(W^T @ dY) (the columns
// of W^T dY added back to the input positions they came from), the weight gradient
// dW += dY_tile @ col_tile^T, both as GEMM transpose flags (no transpose copied).
// Depthwise convolutions (one input channel per group) run a direct loop over the kernel
// taps instead: their GEMM would have one row.
// Threads: images are independent, so the forward and the input gradient split the batch
// when that pays (Note [Threads that pay]); a single image leaves the threading to GEMM.
// The weight gradient sums over the batch in fixed chunks of images (kWeightChunks at
// most, chosen from the batch size alone) combined in chunk order, so every result is
// bitwise the same for any thread count.
#pragma once
#include <cstdint>

namespace gradcore::kernels {

struct ConvGeom {
  int64_t batch = 1, in_ch = 1, out_ch = 1, groups = 1;
  // D, H, W
  int64_t in[3] = {1, 1, 1}, out[3] = {1, 1, 1}, ker[3] = {1, 1, 1};
  int64_t stride[3] = {1, 1, 1}, pad[3] = {0, 0, 0}, dil[3] = {1, 1, 1};

  int64_t cg() const { return in_ch / groups; }
  int64_t kg() const { return out_ch / groups; }
  int64_t taps() const { return ker[0] * ker[1] * ker[2]; }
  int64_t in_size() const { return in[0] * in[1] * in[2]; }
  int64_t out_size() const { return out[0] * out[1] * out[2]; }
  bool pointwise() const {
    for (int d = 0; d < 3; ++d)
      if (ker[d] != 1 || stride[d] != 1 || pad[d] != 0) return false;
    return true;
  }
  bool depthwise() const { return groups == in_ch && groups > 1; }
};

// y[N, out_ch, out...] = conv(x[N, in_ch, in...], w[out_ch, cg, ker...]) + b (b may be null).
template <class T>
void conv_forward(const ConvGeom& g, const T* x, const T* w, const T* b, T* y);
// The gradients of conv_forward from gy[N, out_ch, out...]; each output may be null:
// gx[N, in_ch, in...], gw[out_ch, cg, ker...], gb[out_ch] (all overwritten).
template <class T>
void conv_backward(const ConvGeom& g, const T* x, const T* w, const T* gy, T* gx, T* gw, T* gb);
// F.unfold / F.fold over the whole channel dim (groups ignored): cols[N, in_ch * R, P]
// from x[N, in_ch, in...], and x (overwritten) = the sum of cols added back.
template <class T>
void im2col(const ConvGeom& g, const T* x, T* cols);
template <class T>
void col2im(const ConvGeom& g, const T* cols, T* x);

}  // namespace gradcore::kernels
