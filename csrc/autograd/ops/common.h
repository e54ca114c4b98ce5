// common.h — small helpers shared by the op files (dtype dispatch, checks).
#pragma once
#include "autograd/forward_ad.h"
#include "autograd/function.h"
#include "autograd/node.h"
#include "autograd/ops.h"
#include "core/tensor.h"
#include "kernels/kernel_api.h"

namespace gradcore::ops {
using autograd::fw::forward_rule;
using autograd::fw::tangent;

// True when a fused op must take its composed path: recording a differentiable backward
// (create_graph) or propagating forward-mode tangents through the composed ops' rules.
inline bool needs_composed(std::initializer_list<const Tensor*> inputs) {
  return autograd::needs_record(inputs) || autograd::fw::any_tangent(inputs);
}

// Calls f(T{}) with T = float or double by the tensor's dtype.
template <class F>
inline auto dispatch(DType d, F&& f) {
  if (d == DType::Float32) return f(float{});
  return f(double{});
}

inline void check_same_dtype(const Tensor& a, const Tensor& b, const char* op) {
  GC_CHECK(a.dtype == b.dtype, TypeError, op, ": dtype mismatch (", dtype_name(a.dtype), " vs ",
           dtype_name(b.dtype), "); convert one with .to(dtype) or .float()/.double()");
}

}  // namespace gradcore::ops
