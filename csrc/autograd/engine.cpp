// Note [Engine]
// backward()/grad() run in three iterative passes over the graph reachable from the
// outputs' grad_fns (no recursion anywhere, so a chain of a million nodes is fine):
//   1. discover: depth-first with an explicit stack, counting for every node the edges
//      that point at it from reachable nodes (its dependencies);
//   2. order: Kahn's algorithm on those counts gives a topological order in which a node
//      comes after every node that sends it a gradient;
//   3. execute in that order: each node's input buffer holds the sum of the gradients sent
//      to it (Note [Gradient accumulation order]: summed in execution order, which is
//      deterministic), apply() maps them to its inputs' gradients, and, unless
//      retain_graph, its saved values are released.
// grad() marks the nodes that lead to a requested input and runs only those; it reads
// the gradient arriving at each input's edge and never runs AccumulateGrad.
// The engine runs with grad mode = create_graph, so a recorded backward is differentiable.
//
// Note [Concurrent backward on one graph]
// Several Python threads may run backward()/grad() at once (the GIL is released). On
// independent graphs they share only leaves (Note [Leaf locks], node.cpp). On one graph
// without retain_graph, two passes must not both use the saved values: each node is
// claimed just before apply() by an atomic compare-and-swap of Node::use_state (0 ->
// kReleased); the claim that loses raises "Trying to backward through the graph a second
// time" before running the node. Both passes start at the same root, so exactly one
// succeeds and the other raises before it reaches any leaf (its gradient is not summed
// twice). A pass with retain_graph=True registers as a user for the duration of apply()
// (so the saved values cannot be freed under it) and raises if the node was claimed; a
// pass without retain_graph that finds users raises too (it neither frees the values under
// them nor waits: a wait could deadlock a backward started from inside a Function's
// backward). A claim is given back if apply() throws, as before. AccumulateGrad nodes are
// never claimed (backward() of a leaf itself accumulates every time, as in PyTorch).
// Decision, against torch 2.13 (measured): PyTorch raises on reuse only for nodes whose
// saved tensors were freed: for y = (x*x).sum() and y = (x*2).sum() (its MulBackward0
// saves the wrapped 2) a second y.backward() raises, for y = (x+1).sum() it succeeds and
// doubles x.grad. Two threads calling y.backward() at once race in PyTorch: both succeed
// (x.grad doubled) in about a third of runs, for both graphs. gradcore keeps its stricter
// rule (README, "Errors"): every node is freed by a backward without retain_graph, even one
// that saves nothing, so a second backward raises for all three graphs, sequentially and
// concurrently, and exactly one of two concurrent backward calls succeeds. Matching
// PyTorch per node would mean copying which ops save wrapped scalars (gradcore's x*2 saves
// nothing), and a mismatch there would double a gradient silently; a clear error instead
// of PyTorch's silent second pass is the difference the project allows.
#include "autograd/engine.h"

#include <unordered_map>
#include <vector>

#include "autograd/forward_ad.h"
#include "autograd/function.h"
#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "autograd/ops.h"
#include "kernels/kernel_api.h"

namespace gradcore::autograd {
namespace {

struct NodeState {
  int dependencies = 0;
  bool needed = true;
  tensor_list buffer;  // one slot per node output
};

TensorPtr accumulate(const TensorPtr& a, const TensorPtr& b) {
  if (!a) return b;
  if (!b) return a;
  if (!grad_enabled() && a.use_count() == 1 && a->storage.use_count() == 1 && a->is_contiguous && !a->needs_grad() &&
      !fw::tangent(a) && !fw::tangent(b)) {
    ops::add_inplace(a, b, 1.0);  // nobody else sees `a`: sum in place
    return a;
  }
  return ops::add(a, b);
}

struct GraphTask {
  std::unordered_map<Node*, NodeState> state;
  std::vector<Node*> order;

  void discover(const std::vector<Edge>& roots) {
    std::vector<Node*> stack;
    for (const Edge& e : roots) {
      if (!e.valid()) continue;
      if (state.emplace(e.fn.get(), NodeState{}).second) stack.push_back(e.fn.get());
    }
    while (!stack.empty()) {
      Node* n = stack.back();
      stack.pop_back();
      for (const Edge& e : n->next_edges) {
        if (!e.valid()) continue;
        auto [it, inserted] = state.try_emplace(e.fn.get());
        it->second.dependencies++;
        if (inserted) stack.push_back(e.fn.get());
      }
    }
  }

  void topological_order(const std::vector<Edge>& roots) {
    std::unordered_map<Node*, int> deps;
    deps.reserve(state.size());
    for (auto& [n, s] : state) deps[n] = s.dependencies;
    std::vector<Node*> ready;
    for (const Edge& e : roots)
      if (e.valid() && deps[e.fn.get()] == 0) {
        deps[e.fn.get()] = -1;  // queued once even if several roots share it
        ready.push_back(e.fn.get());
      }
    order.reserve(state.size());
    while (!ready.empty()) {
      Node* n = ready.back();
      ready.pop_back();
      order.push_back(n);
      for (const Edge& e : n->next_edges)
        if (e.valid() && --deps[e.fn.get()] == 0) ready.push_back(e.fn.get());
    }
  }
};

// One apply() of a node by one pass. See Note [Concurrent backward on one graph].
class NodeUse {
 public:
  NodeUse(Node* n, bool retain_graph) : n_(n->is_accumulator() ? nullptr : n), retain_(retain_graph) {
    if (!n_) return;
    if (retain_) {
      uint32_t s = n_->use_state.load(std::memory_order_acquire);
      do {
        if (s & Node::kReleased) { n_ = nullptr; throw_released(n); }
      } while (!n_->use_state.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel));
      return;
    }
    uint32_t expected = 0;
    if (n_->use_state.compare_exchange_strong(expected, Node::kReleased, std::memory_order_acq_rel)) return;
    n_ = nullptr;
    if (expected & Node::kReleased) throw_released(n);
    throw RuntimeError(detail::concat(
        "backward without retain_graph through ", n->name(),
        " while another backward with retain_graph=True is using its saved tensors (on another thread): "
        "they cannot be freed under it. Pass retain_graph=True to both, or run them one after the other."));
  }
  NodeUse(const NodeUse&) = delete;
  NodeUse& operator=(const NodeUse&) = delete;
  // apply() succeeded: without retain_graph the saved values are freed now, for good.
  void done() {
    if (!n_) return;
    if (retain_) n_->use_state.fetch_sub(1, std::memory_order_acq_rel);
    else n_->release_saved();
    n_ = nullptr;
  }
  ~NodeUse() {  // apply() threw: the node keeps its saved values and can run again
    if (!n_) return;
    if (retain_) n_->use_state.fetch_sub(1, std::memory_order_acq_rel);
    else n_->use_state.store(0, std::memory_order_release);
  }

 private:
  Node* n_;
  bool retain_;
};

// Anomaly mode: a gradient with NaN/Inf names the op that produced it and where it was created.
void check_finite(const Node& n, const tensor_list& grads) {
  for (size_t i = 0; i < grads.size(); ++i) {
    const TensorPtr& g = grads[i];
    if (!g || g->numel == 0 || !is_floating(g->dtype)) continue;
    TensorPtr d = ops::dense(g->dtype == DType::Float32 || g->dtype == DType::Float64 ? g
                                                                                    : ops::to_dtype(g, DType::Float32));
    bool finite = d->dtype == DType::Float32 ? kernels::all_finite<float>(d->data<float>(), d->numel)
                                             : kernels::all_finite<double>(d->data<double>(), d->numel);
    GC_CHECK(finite, RuntimeError, "Function '", n.name(), "' returned nan/inf values in its ", i,
             "th output (the gradient for its input ", i, ")",
             n.creation_site.empty() ? std::string(". Enable gc.autograd.detect_anomaly() before the forward pass to see where the op was created.")
                                     : ". The op was created at " + n.creation_site);
  }
}

// Tensor hooks: a non-leaf's hooks sit on its grad_fn (by output slot), a leaf's on the
// tensor (run where its AccumulateGrad would receive the gradient). A hook may return a
// replacement, which must keep the shape and dtype. retain_grad() hooks run last and only
// in backward(). The list is copied first: a hook may remove itself. A leaf's
// post-accumulate-grad hooks run later, inside its AccumulateGrad::apply (so only in
// backward(), once per pass, after the summed gradient landed in .grad; node.cpp).
void run_pre_hooks(Node* n, tensor_list& grads, bool capturing) {
  const HookList* list = n->is_accumulator() ? static_cast<AccumulateGrad*>(n)->variable->hooks.get()
                                             : n->pre_hooks.get();
  if (!list || list->empty()) return;
  HookList hooks = *list;
  for (int pass = 0; pass < 2; ++pass) {
    for (const HookEntry& h : hooks) {
      if (h.retain != (pass == 1) || h.slot >= grads.size() || !grads[h.slot]) continue;
      if (h.retain && capturing) continue;
      TensorPtr r = h.fn(grads[h.slot]);
      if (!r) continue;
      const TensorPtr& g = grads[h.slot];
      GC_CHECK(r->shape == g->shape, ValueError, "hook returned a gradient of shape ", shape_str(r->shape),
               " for a gradient of shape ", shape_str(g->shape), " (in ", n->name(), ")");
      GC_CHECK(r->dtype == g->dtype, TypeError, "hook returned a gradient of dtype ", dtype_name(r->dtype),
               " for a gradient of dtype ", dtype_name(g->dtype), " (in ", n->name(), ")");
      grads[h.slot] = std::move(r);
    }
  }
}

Edge root_edge(const TensorPtr& t, size_t i) {
  GC_CHECK(t, TypeError, "backward: output ", i, " is None");
  GC_CHECK(t->needs_grad(), RuntimeError, "element ", i,
           " of tensors does not require grad and does not have a grad_fn");
  return gradient_edge(t);
}

TensorPtr root_grad(const TensorPtr& out, const TensorPtr& g) {
  if (!g) {
    GC_CHECK(out->numel == 1, RuntimeError, "grad can be implicitly created only for scalar outputs (got shape ",
             shape_str(out->shape), "); pass gradient=");
    return ops::full(out->shape, 1.0, out->dtype);
  }
  GC_CHECK(g->shape == out->shape, ValueError, "backward: gradient shape ", shape_str(g->shape),
           " does not match output shape ", shape_str(out->shape));
  GC_CHECK(g->dtype == out->dtype, TypeError, "backward: gradient dtype ", dtype_name(g->dtype),
           " does not match output dtype ", dtype_name(out->dtype));
  return g;
}

// Runs the graph. With `capture` non-empty (grad()), returns the gradients arriving at
// those edges and runs no AccumulateGrad; otherwise leaves accumulate.
tensor_list run(const tensor_list& outputs, const tensor_list& grad_outputs, bool retain_graph, bool create_graph,
                const std::vector<Edge>* capture) {
  GC_CHECK(grad_outputs.empty() || grad_outputs.size() == outputs.size(), ValueError, "got ", grad_outputs.size(),
           " gradients for ", outputs.size(), " outputs");
  GradModeGuard mode(create_graph);
  std::vector<Edge> roots;
  for (size_t i = 0; i < outputs.size(); ++i) roots.push_back(root_edge(outputs[i], i));

  GraphTask task;
  task.discover(roots);
  task.topological_order(roots);

  for (size_t i = 0; i < outputs.size(); ++i) {
    TensorPtr g = root_grad(outputs[i], grad_outputs.empty() ? nullptr : grad_outputs[i]);
    NodeState& s = task.state[roots[i].fn.get()];
    s.buffer.resize(roots[i].fn->num_outputs());
    s.buffer[roots[i].input_nr] = accumulate(s.buffer[roots[i].input_nr], g);
  }

  // grad(): which nodes are captured, and which lead to a captured node.
  std::unordered_map<Node*, std::vector<std::pair<size_t, uint32_t>>> captured;  // node -> (result idx, slot)
  tensor_list results;
  if (capture) {
    results.resize(capture->size());
    for (size_t i = 0; i < capture->size(); ++i)
      if ((*capture)[i].valid()) captured[(*capture)[i].fn.get()].push_back({i, (*capture)[i].input_nr});
    for (auto it = task.order.rbegin(); it != task.order.rend(); ++it) {
      Node* n = *it;
      bool needed = false;
      if (!n->is_accumulator()) {
        for (const Edge& e : n->next_edges) {
          if (!e.valid()) continue;
          if (captured.count(e.fn.get()) || task.state[e.fn.get()].needed) { needed = true; break; }
        }
      }
      task.state[n].needed = needed;
    }
  }

  for (Node* n : task.order) {
    NodeState& s = task.state[n];
    tensor_list grads = std::move(s.buffer);
    if (capture) {
      auto c = captured.find(n);
      if (c == captured.end() && !s.needed) continue;
      run_pre_hooks(n, grads, true);
      if (c != captured.end())
        for (auto [idx, slot] : c->second)
          if (slot < grads.size()) results[idx] = grads[slot];
      if (!s.needed) continue;
    } else {
      run_pre_hooks(n, grads, false);
    }
    bool any = false;
    for (auto& g : grads) any |= g != nullptr;
    if (!any) continue;
    NodeUse use(n, retain_graph);
    tensor_list in_grads = n->apply(std::move(grads));
    if (anomaly_enabled()) check_finite(*n, in_grads);
    use.done();
    for (size_t i = 0; i < n->next_edges.size() && i < in_grads.size(); ++i) {
      const Edge& e = n->next_edges[i];
      if (!e.valid() || !in_grads[i]) continue;
      NodeState& ns = task.state[e.fn.get()];
      if (ns.buffer.empty()) ns.buffer.resize(e.fn->num_outputs());
      ns.buffer[e.input_nr] = accumulate(ns.buffer[e.input_nr], std::move(in_grads[i]));
    }
  }
  return results;
}

}  // namespace

void backward(const tensor_list& outputs, const tensor_list& grad_outputs, bool retain_graph, bool create_graph) {
  run(outputs, grad_outputs, retain_graph, create_graph, nullptr);
}

tensor_list grad(const tensor_list& outputs, const tensor_list& inputs, const tensor_list& grad_outputs,
                 bool retain_graph, bool create_graph, bool allow_unused) {
  std::vector<Edge> capture;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const TensorPtr& t = inputs[i];
    GC_CHECK(t, TypeError, "grad: input ", i, " is None");
    GC_CHECK(t->needs_grad(), RuntimeError, "grad: input ", i, " does not require grad");
    // A leaf that no graph has used yet has no accumulator: its gradient is unused, unless
    // the leaf is itself one of the outputs (d x / d x): then its accumulator is the root.
    bool is_output = false;
    for (const TensorPtr& o : outputs) is_output |= o == t;
    if (t->grad_fn) capture.push_back(Edge{t->grad_fn, t->output_nr});
    else if (is_output) capture.push_back(gradient_edge(t));
    else capture.push_back(Edge{existing_grad_accumulator(t), 0});
  }
  tensor_list res = run(outputs, grad_outputs, retain_graph, create_graph, &capture);
  for (size_t i = 0; i < res.size(); ++i) {
    GC_CHECK(res[i] || allow_unused, RuntimeError, "grad: input ", i,
             " was not used in the graph of the outputs (pass allow_unused=True to get None)");
    if (res[i] && !create_graph) res[i] = ops::detach(res[i]);
  }
  return res;
}

}  // namespace gradcore::autograd
