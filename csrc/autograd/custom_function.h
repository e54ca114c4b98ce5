// custom_function.h — the graph node of a user-defined Function (gc.autograd.Function).
//
// The Function's forward runs outside (in Python, with recording off); record_function
// then records one node whose backward is a callback:
//
//   struct MyBackward final : autograd::FunctionBackward {
//     tensor_list operator()(const tensor_list& saved, const tensor_list& grads) override { ... }
//   };
//   autograd::record_function("MyFn", std::make_unique<MyBackward>(), inputs, outputs, saved);
//
// The bindings implement the callback by calling the Python trampoline
// (gradcore.autograd.function._run_backward) under the GIL (bindings/function.cpp).
#pragma once
#if defined(GC_LAYER_CPU) || defined(GC_LAYER_KERNELS) || defined(GC_LAYER_CORE)
#error "the autograd layer is above cpu, kernels and core (layers: csrc/README.md)"
#endif
#include <memory>
#include <string>

#include "core/tensor.h"

namespace gradcore::autograd {

// The backward of one Function application. saved: the saved tensors, unpacked (version
// checked; null where None was saved); grads: one per output (null where none arrived).
// Returns one gradient (or null) per input; extra entries are ignored, missing ones null.
// Destroyed with the node, possibly on an engine thread.
struct FunctionBackward {
  virtual ~FunctionBackward() = default;
  virtual tensor_list operator()(const tensor_list& saved, const tensor_list& grads) = 0;
};

// Records the node: inputs are the Function's arguments (null for non-tensors; an edge for
// each that requires grad), outputs get it as grad_fn (null entries are skipped), saved
// are the tensors given to ctx.save_for_backward (null for None; outputs among them are
// saved as outputs, Note [Saved outputs]).
void record_function(const std::string& name, std::unique_ptr<FunctionBackward> backward, const tensor_list& inputs,
                     const tensor_list& outputs, const tensor_list& saved);

}  // namespace gradcore::autograd
