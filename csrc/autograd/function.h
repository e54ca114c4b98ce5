// function.h — helpers every op uses to record itself in the graph.
//
//   TensorPtr exp(const TensorPtr& x) {
//     TensorPtr y = empty_like(*x);
//     kernels::unary(UNARY_EXP, ...);
//     if (autograd::needs_record({x.get()})) {
//       auto n = autograd::make_node<ExpBackward>({x});
//       n->result_ = SavedTensor(y, true);
//       autograd::set_history(y, n);
//     }
//     return y;
//   }
#pragma once
#if defined(GC_LAYER_CPU) || defined(GC_LAYER_KERNELS) || defined(GC_LAYER_CORE)
#error "the autograd layer is above cpu, kernels and core (layers: csrc/README.md)"
#endif
#include <initializer_list>
#include <memory>

#include "autograd/grad_mode.h"
#include "autograd/node.h"

namespace gradcore::autograd {

// True when grad mode is on and any input takes part in autograd.
inline bool needs_record(std::initializer_list<const Tensor*> inputs) {
  if (!grad_enabled()) return false;
  for (const Tensor* t : inputs)
    if (t && t->needs_grad()) return true;
  return false;
}

// The edge a gradient for `t` flows into: its grad_fn, or the leaf's accumulator.
Edge gradient_edge(const TensorPtr& t);
// The leaf's AccumulateGrad, created on first use (null when t does not require grad).
std::shared_ptr<Node> grad_accumulator(const TensorPtr& t);
// The leaf's AccumulateGrad while a live graph holds it, else null (never creates one).
std::shared_ptr<Node> existing_grad_accumulator(const TensorPtr& t);

template <class N, class... Args>
std::shared_ptr<N> make_node(std::initializer_list<TensorPtr> inputs, Args&&... args) {
  auto n = std::make_shared<N>(std::forward<Args>(args)...);
  n->next_edges.reserve(inputs.size());
  for (const TensorPtr& t : inputs) n->next_edges.push_back(t && t->needs_grad() ? gradient_edge(t) : Edge{});
  return n;
}

inline void set_history(const TensorPtr& out, std::shared_ptr<Node> node, uint32_t output_nr = 0) {
  if (anomaly_enabled() && node->creation_site.empty()) node->creation_site = creation_site();
  if (output_nr == 0) node->set_output_meta(*out);
  out->grad_fn = std::move(node);
  out->output_nr = output_nr;
  out->requires_grad = true;
}

// True when the gradient for input i of node n is wanted.
inline bool wants(const Node& n, size_t i) { return i < n.next_edges.size() && n.next_edges[i].valid(); }

}  // namespace gradcore::autograd
