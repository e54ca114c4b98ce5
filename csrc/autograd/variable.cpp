#include "autograd/variable.h"

#include "autograd/ops.h"

namespace gradcore::autograd {

void check_requires_grad(const Tensor& t, bool requires_grad) {
  GC_CHECK(!requires_grad || is_floating(t.dtype), RuntimeError,
           "Only Tensors of floating point and complex dtype can require gradients");
}

void set_requires_grad(Tensor& t, bool requires_grad) {
  check_requires_grad(t, requires_grad);
  if (!t.is_leaf()) {
    GC_CHECK(requires_grad, RuntimeError, "you can only change requires_grad of leaf tensors; use .detach() to get a "
                                          "tensor outside the graph");
    return;
  }
  t.requires_grad = requires_grad;
}

void requires_grad_(Tensor& t, bool requires_grad) {
  check_requires_grad(t, requires_grad);
  GC_CHECK(t.is_leaf() || requires_grad, RuntimeError, "you can only change requires_grad of leaf tensors");
  if (t.is_leaf()) t.requires_grad = requires_grad;
}

void set_grad(Tensor& t, const TensorPtr& grad) {
  if (!grad) { t.grad = nullptr; return; }
  GC_CHECK(grad->shape == t.shape, ValueError, "grad of shape ", shape_str(grad->shape), " for a tensor of shape ",
           shape_str(t.shape));
  GC_CHECK(grad->dtype == t.dtype, TypeError, "grad dtype ", dtype_name(grad->dtype), " for a tensor of dtype ",
           dtype_name(t.dtype));
  t.grad = grad->is_contiguous ? grad : ops::contiguous(grad);  // optimizers read .grad as one block
}

void set_data(Tensor& t, const TensorPtr& src) {
  GC_CHECK(src, TypeError, "data must be a Tensor");
  t.storage = src->storage;
  t.offset = src->offset;
  t.shape = src->shape;
  t.strides = src->strides;
  t.numel = src->numel;
  t.dtype = src->dtype;
  t.is_contiguous = src->is_contiguous;
  t.grad = nullptr;
}

void detach_(Tensor& t) {
  GC_CHECK(!t.view || !t.view->base->needs_grad(), RuntimeError, "Can't detach views in-place. Use detach() instead.");
  t.grad_fn = nullptr;
  t.requires_grad = false;
  t.view = nullptr;
}

}  // namespace gradcore::autograd
