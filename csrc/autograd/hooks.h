// hooks.h — gradient hooks on tensors: Tensor.register_hook, retain_grad and
// Tensor.register_post_accumulate_grad_hook.
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
  uint64_t id = 0;  // the hook's id (Python: handle.id)
  void remove();
};

// Runs fn on every gradient computed w.r.t. t (backward and grad): on t's grad_fn by
// output slot for a non-leaf, on t itself for a leaf. RuntimeError when t does not require
// grad. gc_object: see HookEntry (core/tensor.h).
HookHandle register_hook(const TensorPtr& t, GradHook fn, void* gc_object = nullptr);

// Tensor.register_post_accumulate_grad_hook: runs fn(t) each time backward() has updated
// t.grad (once per backward, after the gradients arriving by all paths were summed; never in
// grad(), which accumulates nothing), after t's register_hook hooks, in registration order.
// fn must return null (its tensor, or None, from Python); see run_post_accumulate_hooks.
// RuntimeError when t does not require grad or is not a leaf (PyTorch's messages).
HookHandle register_post_accumulate_grad_hook(const TensorPtr& t, GradHook fn, void* gc_object = nullptr);

// Called by AccumulateGrad::apply after it released the leaf's lock (Note [Leaf locks]), on
// the thread running backward: runs leaf's post-accumulate hooks on a snapshot of the list
// (a hook may remove itself or register others; Note [Post-accumulate hook lists], hooks.cpp). A hook that returns a tensor hands it on to
// the next ones, as PyTorch does, and once all ran RuntimeError "Tensor post accumulate grad
// hooks should return None." An exception from a hook propagates (the later hooks don't run).
void run_post_accumulate_hooks(const TensorPtr& leaf);

// Keep a non-leaf's gradient in .grad after backward() (a no-op for leaves and when already
// retained). RuntimeError when t does not require grad.
void retain_grad(const TensorPtr& t);

// Where a tensor's hooks are kept: on the leaf (register_hook), on its grad_fn (register_hook
// on a non-leaf), on the leaf's post-accumulate list.
enum class HookSite { Leaf, Node, PostAccumulate };
// The hook list of t at `site` when nothing but the caller's one reference owns the tensor
// and the list, else null. See Note [Tensors in Python's GC] (bindings/function.cpp).
const HookList* exclusive_hooks(const TensorPtr& t, HookSite site);
// Drops the lists exclusive_hooks returns (and the callables they hold).
void clear_exclusive_hooks(const TensorPtr& t);

}  // namespace gradcore::autograd
