// norm.h — the normalisation ops (issue 15): batch_norm, layer_norm, group_norm, rms_norm.
// Defined with their Backward nodes in norm.cpp; forward and backward are the fused kernels
// of kernels/norm.h, and the composed formulas (ops) take over for create_graph and
// forward-mode tangents (needs_composed).
//
//   TensorPtr y = ops::batch_norm(x, running_mean, running_var, weight, bias,
//                                 /*training=*/true, /*momentum=*/0.1, /*eps=*/1e-5);
//
// Null tensors are absent arguments (no running statistics, no affine weight / bias).
// float16 / bfloat16 inputs compute in float32 (float_op); weight and bias are converted to
// the input's compute dtype. Errors are PyTorch's (ShapeError is a ValueError and a
// RuntimeError).
#pragma once
#include "core/tensor.h"

namespace gradcore::ops {

// x [N, C, *]: per-channel statistics over N and the spatial dims. training: normalise with
// the batch statistics and, when given, update running_mean / running_var in place
// (r = (1 - momentum) r + momentum stat, the variance unbiased), never recorded. Not
// training: normalise with the running statistics.
TensorPtr batch_norm(const TensorPtr& x, const TensorPtr& running_mean, const TensorPtr& running_var,
                     const TensorPtr& weight, const TensorPtr& bias, bool training, double momentum, double eps);
// Statistics over the last len(normalized_shape) dims; weight / bias of normalized_shape.
TensorPtr layer_norm(const TensorPtr& x, const Shape& normalized_shape, const TensorPtr& weight,
                     const TensorPtr& bias, double eps);
// x [N, C, *]: statistics over each of num_groups groups of C / num_groups channels;
// weight / bias [C].
TensorPtr group_norm(const TensorPtr& x, int64_t num_groups, const TensorPtr& weight, const TensorPtr& bias,
                     double eps);
// x / sqrt(mean(x**2) + eps) over the last len(normalized_shape) dims, times weight.
TensorPtr rms_norm(const TensorPtr& x, const Shape& normalized_shape, const TensorPtr& weight, double eps);

}  // namespace gradcore::ops
