// hooks.h — gradient hooks on tensors: Tensor.register_hook and retain_grad.
//
//   HookHandle h = autograd::register_hook(t, [](const TensorPtr& g) { return ops::mul_scalar(g, 2); });
//   h.remove();
//
// A hook is a GradHook (core/tensor.h): the engine calls it with the gradient arriving for
// the tensor and uses its non-null result instead (engine.cpp, run_pre_hooks). The
// bindings wrap a Python callable as one (bindings/function.cpp).
#pragma once
#if defined(GC_LAYER_CPU) || defined(GC_LAYER_KERNELS) || defined(GC_LAYER_CORE)
#error "the autograd layer is above cpu, kernels and core (layers: csrc/README.md)"
#endif
#include <functional>

#include "core/tensor.h"

namespace gradcore::autograd {

// Takes a registered hook out again; holds the tensor (or its grad_fn) weakly only.
// remove() is idempotent.
struct HookHandle {
  std::function<void()> remover;
  void remove();
};

// Runs fn on every gradient computed w.r.t. t (backward and grad): on t's grad_fn by
// output slot for a non-leaf, on t itself for a leaf. RuntimeError when t does not require
// grad. gc_object: see HookEntry (core/tensor.h).
HookHandle register_hook(const TensorPtr& t, GradHook fn, void* gc_object = nullptr);

// Keep a non-leaf's gradient in .grad after backward() (a no-op for leaves and when already
// retained). RuntimeError when t does not require grad.
void retain_grad(const TensorPtr& t);

// The hook list of t (node=false: the leaf's own; node=true: its grad_fn's) when nothing
// but the caller's one reference owns the tensor and the list, else null. See Note
// [Tensors in Python's GC] (bindings/function.cpp).
const HookList* exclusive_hooks(const TensorPtr& t, bool node);
// Drops the lists exclusive_hooks returns (and the callables they hold).
void clear_exclusive_hooks(const TensorPtr& t);

}  // namespace gradcore::autograd
