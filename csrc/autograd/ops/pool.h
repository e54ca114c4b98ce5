// pool.h — the pooling and resampling ops (issue 15): max / average / adaptive pooling,
// max unpooling and interpolation over NC[D][H]W tensors (or unbatched C[D][H]W ones), with
// `nsp` (1, 2 or 3) spatial dims. Shapes, checks and messages as PyTorch's; the numerics in
// kernels/pool.cpp (Note [Pooling planes]). Argument lists carry one entry per spatial dim
// (the Python layer expands ints and checks their count).
//
//   auto r = ops::max_pool(x, 2, {{3, 3}, {2, 2}, {1, 1}, {1, 1}, false});  // r.values, r.indices
//   TensorPtr y = ops::avg_pool(x, 2, {{2, 2}, {2, 2}, {0, 0}, {1, 1}, true}, true, std::nullopt);
#pragma once
#if defined(GC_LAYER_CPU) || defined(GC_LAYER_KERNELS) || defined(GC_LAYER_CORE)
#error "the autograd layer is above cpu, kernels and core (layers: csrc/README.md)"
#endif
#include <optional>
#include <string>
#include <vector>

#include "autograd/ops.h"

namespace gradcore::ops {

struct PoolArgs {
  std::vector<int64_t> kernel, stride, padding, dilation;  // nsp entries each (dilation: 1s for avg)
  bool ceil_mode = false;
};

// max_pool{nsp}d with indices (int64, into the flattened spatial plane). Gradient: the
// incoming one added back at the indices; tangent: x's tangent gathered at them.
ValuesIndices max_pool(const TensorPtr& x, int nsp, const PoolArgs& a);
// avg_pool{nsp}d; divisor_override (2-d / 3-d) replaces the window count.
TensorPtr avg_pool(const TensorPtr& x, int nsp, const PoolArgs& a, bool count_include_pad,
                   std::optional<int64_t> divisor_override);
// adaptive_{avg,max}_pool{nsp}d to output_size (nsp entries, each >= 0).
TensorPtr adaptive_avg_pool(const TensorPtr& x, int nsp, const std::vector<int64_t>& output_size);
ValuesIndices adaptive_max_pool(const TensorPtr& x, int nsp, const std::vector<int64_t>& output_size);
// max_unpool{nsp}d: zeros of spatial size output_size with x's values written at indices.
TensorPtr max_unpool(const TensorPtr& x, const TensorPtr& indices, int nsp, const std::vector<int64_t>& output_size);
// F.interpolate's kernels: mode "nearest", "nearest-exact" or "linear" (linear / bilinear /
// trilinear by nsp). size: the output's spatial size, or empty to take floor(in * scale)
// from scales; scales (empty or nsp entries) are the user's factors, used for the source
// coordinates (Note [Interpolation coordinates], kernels/pool.cpp).
TensorPtr interpolate(const TensorPtr& x, int nsp, const std::vector<int64_t>& size, const std::vector<double>& scales,
                      const std::string& mode, bool align_corners);

}  // namespace gradcore::ops
