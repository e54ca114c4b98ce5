// variable.h — a Tensor's autograd state as user code sets it: requires_grad, .grad,
// .data and detach_() (PyTorch's Variable methods). Each checks what PyTorch checks.
#pragma once
#if defined(GC_LAYER_CPU) || defined(GC_LAYER_KERNELS) || defined(GC_LAYER_CORE)
#error "the autograd layer is above cpu, kernels and core (layers: csrc/README.md)"
#endif
#include "core/tensor.h"

namespace gradcore::autograd {

// RuntimeError (PyTorch's) when an integer or bool tensor would require grad.
void check_requires_grad(const Tensor& t, bool requires_grad);
// `t.requires_grad = v`: leaves only (on a non-leaf, True changes nothing, False raises).
void set_requires_grad(Tensor& t, bool requires_grad);
// `t.requires_grad_(v)`: as set_requires_grad, with PyTorch's shorter message.
void requires_grad_(Tensor& t, bool requires_grad);
// `t.grad = g` (null clears): g must match t's shape and dtype; stored contiguous.
void set_grad(Tensor& t, const TensorPtr& grad);
// `t.data = src`: t now uses src's storage, shape and dtype, outside the graph.
void set_data(Tensor& t, const TensorPtr& src);
// `t.detach_()`: t leaves the graph in place (not for a view of a base that needs grad).
void detach_(Tensor& t);

}  // namespace gradcore::autograd
