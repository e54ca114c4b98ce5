// common.h — helpers shared by the op files: dtype dispatch, operand conversion, the
// strided iteration over tensors, checks.
#pragma once
#include "autograd/forward_ad.h"
#include "autograd/function.h"
#include "autograd/node.h"
#include "autograd/ops.h"
#include "core/tensor.h"
#include "kernels/kernel_api.h"
#include "kernels/strided.h"

namespace gradcore::ops {
using autograd::fw::forward_rule;
using autograd::fw::tangent;

// True when a fused op must take its composed path: recording a differentiable backward
// (create_graph) or propagating forward-mode tangents through the composed ops' rules.
inline bool needs_composed(std::initializer_list<const Tensor*> inputs) {
  return autograd::needs_record(inputs) || autograd::fw::any_tangent(inputs);
}

// Calls f(T{}) with T = float or double by the tensor's dtype. Only for float32/float64
// tensors: ops convert other dtypes first (float_op below).
template <class F>
inline auto dispatch(DType d, F&& f) {
  if (d == DType::Float32) return f(float{});
  GC_CHECK(d == DType::Float64, RuntimeError, "internal: a float32/float64 kernel got a ", dtype_name(d), " tensor");
  return f(double{});
}

inline void check_same_dtype(const Tensor& a, const Tensor& b, const char* op) {
  GC_CHECK(a.dtype == b.dtype, TypeError, op, ": dtype mismatch (", dtype_name(a.dtype), " vs ",
           dtype_name(b.dtype), "); convert one with .to(dtype) or .float()/.double()");
}

inline bool is_f32_or_f64(DType d) { return d == DType::Float32 || d == DType::Float64; }

// Runs a float32/float64 op: integer and bool inputs compute in the default dtype (PyTorch's
// exp of an int tensor is float32), float16/bfloat16 ones in float32, converted back.
template <class F>
inline TensorPtr float_op(const TensorPtr& x, F&& f) {
  if (is_f32_or_f64(x->dtype)) return f(x);
  if (is_floating(x->dtype)) return to_dtype(f(to_dtype(x, DType::Float32)), x->dtype);
  return f(to_dtype(x, default_dtype()));
}

// PyTorch's NotImplementedError for ops without integer kernels: `kernel` names the kernel
// in its message ("silu_cpu"); "" and "=" (the registries' integer-accepting columns) pass.
inline void refuse_integers(const Tensor& x, const char* kernel) {
  GC_CHECK(is_floating(x.dtype) || kernel[0] == 0 || kernel[0] == '=', NotImplementedError, "\"", kernel,
           "\" not implemented for '", dtype_torch_name(x.dtype), "'");
}

// Refuses integer and bool tensors for ops that only make sense on floating point.
inline void check_floating(const Tensor& t, const char* op) {
  GC_CHECK(is_floating(t.dtype), TypeError, op, ": expected a floating point tensor, got ", dtype_name(t.dtype),
           " (convert with .float())");
}

// Pointer to the lowest element of a non-overlapping, dense tensor (its data as one block).
template <class T>
inline T* block_begin(const Tensor& t) {
  int64_t lo, hi;
  t.storage_extent(&lo, &hi);
  return static_cast<T*>(t.storage->data) + lo;
}

// out[i] = row callback over out and the inputs broadcast to out's shape (strided engine).
template <class Row, class... Ts>
inline void iterate(const Tensor& out, Row&& row, const Ts&... ins) {
  constexpr int N = 1 + sizeof...(Ts);
  const int nd = static_cast<int>(out.shape.size());
  GC_CHECK(nd <= kernels::kMaxDims, ValueError, "too many dimensions (", nd, ")");
  int64_t st[N][kernels::kMaxDims];
  const int64_t es = static_cast<int64_t>(dtype_size(out.dtype));
  for (int i = 0; i < nd; ++i) st[0][i] = out.strides[i] * es;
  int k = 1;
  ((broadcast_byte_strides(ins, out.shape, st[k]), ++k), ...);
  char* ptrs[N] = {static_cast<char*>(out.data_ptr()), static_cast<char*>(ins.data_ptr())...};
  const int64_t* sp[N];
  for (int j = 0; j < N; ++j) sp[j] = st[j];
  kernels::for_each_row<N>(nd, out.shape.data(), ptrs, sp, row);
}

// y = the table kernel `op` of a float32/float64 x of any layout: a dense input (contiguous
// or a permuted block) is read as one block and the output takes its layout; others are
// made contiguous first (unary.cpp). No autograd.
TensorPtr unary_forward(UnaryOp op, const TensorPtr& x);
// Records y = f(x) for a piecewise-constant f: gradient and tangent 0 (a Node named `node`).
TensorPtr with_zero_gradient(const TensorPtr& y, const TensorPtr& x, const char* node);

}  // namespace gradcore::ops
