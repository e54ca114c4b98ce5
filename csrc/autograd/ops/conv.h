// conv.h (ops) — torch.convolution and im2col / col2im (F.unfold / F.fold), on the kernels
// of kernels/conv.h (Note [Convolution on GEMM]).
#pragma once
#include <vector>

#include "core/tensor.h"

namespace gradcore::ops {

// torch.convolution: x (N, C, *spatial) with 1 to 3 spatial dims, w (K, C / groups, *kernel)
// (transposed: (C, K / groups, *kernel)), b (K) or null; stride, padding, dilation and
// output_padding have one entry per spatial dim. PyTorch's checks and messages.
TensorPtr convolution(const TensorPtr& x, const TensorPtr& w, const TensorPtr& b, const std::vector<int64_t>& stride,
                      const std::vector<int64_t>& padding, const std::vector<int64_t>& dilation, bool transposed,
                      const std::vector<int64_t>& output_padding, int64_t groups);
// F.unfold of x (N, C, *spatial) -> (N, C * prod(kernel), L), and F.fold, its adjoint, of
// cols (N, C * prod(kernel), L) -> (N, C, *output_size). Any of 1 to 3 spatial dims.
TensorPtr im2col(const TensorPtr& x, const std::vector<int64_t>& kernel_size, const std::vector<int64_t>& dilation,
                 const std::vector<int64_t>& padding, const std::vector<int64_t>& stride);
TensorPtr col2im(const TensorPtr& cols, const std::vector<int64_t>& output_size, const std::vector<int64_t>& kernel_size,
                 const std::vector<int64_t>& dilation, const std::vector<int64_t>& padding,
                 const std::vector<int64_t>& stride);

}  // namespace gradcore::ops
