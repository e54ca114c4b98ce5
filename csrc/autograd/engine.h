// engine.h — reverse-mode execution of the recorded graph.
//
//   autograd::backward({loss}, {nullptr}, /*retain_graph=*/false, /*create_graph=*/false);
//   tensor_list g = autograd::grad({y}, {x, w}, {nullptr}, false, false, /*allow_unused=*/false);
//
// See Note [Engine] in engine.cpp.
#pragma once
#if defined(GC_LAYER_CPU) || defined(GC_LAYER_KERNELS) || defined(GC_LAYER_CORE)
#error "the autograd layer is above cpu, kernels and core (layers: csrc/README.md)"
#endif
#include "core/tensor.h"

namespace gradcore::autograd {

// Accumulates d(outputs)/d(leaf) into every reachable leaf's .grad.
// grad_outputs[i] may be null only for a one-element output (it is then 1).
void backward(const tensor_list& outputs, const tensor_list& grad_outputs, bool retain_graph, bool create_graph);

// Returns d(outputs)/d(inputs) without touching any .grad. An input the outputs do not
// depend on gives null when allow_unused, else RuntimeError.
tensor_list grad(const tensor_list& outputs, const tensor_list& inputs, const tensor_list& grad_outputs,
                 bool retain_graph, bool create_graph, bool allow_unused);

}  // namespace gradcore::autograd
