// node.h — the recorded graph: Node, Edge, SavedTensor, AccumulateGrad.
//
// A Node is the backward of one op application. Its `next_edges` point at the Nodes that
// produced its inputs (or at a leaf's AccumulateGrad); edge i receives the gradient w.r.t.
// input i. apply() maps the gradients w.r.t. the node's outputs to gradients w.r.t. its
// inputs (a null entry means "no gradient"); it is written with the same op functions as
// forward code, so with grad mode on (create_graph=True) the backward is itself recorded.
//
//   struct ExpBackward final : Node {           // see csrc/autograd/ops/unary.cpp
//     SavedTensor result_;
//     tensor_list apply(tensor_list&& g) override { return {mul(g[0], result_.unpack(this))}; }
//   };
#pragma once
#if defined(GC_LAYER_CPU) || defined(GC_LAYER_KERNELS) || defined(GC_LAYER_CORE)
#error "the autograd layer is above cpu, kernels and core (layers: csrc/README.md)"
#endif
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace gradcore::autograd {

struct Edge {
  std::shared_ptr<Node> fn;
  uint32_t input_nr = 0;  // which output of `fn` this edge feeds
  bool valid() const { return fn != nullptr; }
};

}  // namespace gradcore::autograd

namespace gradcore {

struct Node : std::enable_shared_from_this<Node> {
  std::vector<autograd::Edge> next_edges;
  uint64_t sequence_nr;
  // Who is using the saved values: kReleased once a backward without retain_graph has
  // claimed the node (it frees them after apply), plus the number of backwards with
  // retain_graph inside apply(). See Note [Concurrent backward on one graph] (engine.cpp).
  static constexpr uint32_t kReleased = 1u << 31;
  std::atomic<uint32_t> use_state{0};
  std::string creation_site;  // filled in anomaly mode only (see grad_mode.h)
  std::unique_ptr<HookList> pre_hooks;  // Tensor.register_hook on this node's outputs
  // Shape and dtype of output 0, recorded by set_history for graph pictures (gc.viz);
  // out_ndim < 0 when unknown or more than kMaxMetaDims dims.
  static constexpr int kMaxMetaDims = 6;
  int8_t out_ndim = -1;
  DType out_dtype = DType::Float32;
  int64_t out_dims[kMaxMetaDims] = {};

  Node();
  virtual ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  virtual const char* name() const = 0;
  virtual tensor_list apply(tensor_list&& grads) = 0;
  virtual void release_saved() {}
  virtual uint32_t num_outputs() const { return 1; }
  virtual bool is_accumulator() const { return false; }
  // Saved tensors, for graph pictures (name, tensor); empty once released.
  virtual std::vector<std::pair<std::string, TensorPtr>> saved_tensors() const { return {}; }

  // Saved values freed (or being consumed) by a backward without retain_graph.
  bool released() const { return use_state.load(std::memory_order_acquire) & kReleased; }

  void set_output_meta(const Tensor& t) {
    out_dtype = t.dtype;
    out_ndim = t.shape.size() <= kMaxMetaDims ? static_cast<int8_t>(t.shape.size()) : -1;
    for (int i = 0; i < out_ndim; ++i) out_dims[i] = t.shape[i];
  }
};

namespace autograd {

// Note [Saved outputs]: a node that saves its own output (exp, tanh, sigmoid, relu,
// softmax) must not hold a strong reference from the output Tensor back to itself, or the
// pair would never be freed. It stores an alias without grad_fn and rebuilds the link on
// unpack(). Saved inputs are held as they are. On unpack the saved tensor must still use
// the storage it used when saved (`t.data = other` swaps it) at the same version (in-place
// writes bump it); otherwise backward raises PyTorch's "modified by an inplace operation"
// error instead of giving a wrong gradient. See also Note [External writers] (node.cpp).
// Note [Saving what an in-place op overwrites]: the recorded path of an in-place op
// (ops::apply_inplace) computes r = op(self) out of place and then writes r into self's
// memory. An op that saves its input (abs, log, pow, clamp, mul by a tensor ...) would then
// hold a value that the write modifies, and backward would refuse it. While such an op runs,
// apply_inplace installs a SaveRedirect for self's storage: a SavedTensor of an input that
// lives in that storage saves `copy(t)` instead (a differentiable clone made before the
// write, as PyTorch saves `original_self`). Thread-local; nests.
struct SaveRedirect {
  const Storage* storage;
  std::function<TensorPtr(const TensorPtr&)> copy;
  SaveRedirect* prev;
  SaveRedirect(const Storage* s, std::function<TensorPtr(const TensorPtr&)> c);
  ~SaveRedirect();
  SaveRedirect(const SaveRedirect&) = delete;
  SaveRedirect& operator=(const SaveRedirect&) = delete;
};

class SavedTensor {
 public:
  SavedTensor() = default;
  SavedTensor(const TensorPtr& t, bool is_output);
  TensorPtr unpack(const Node* owner) const;
  void reset() { data_.reset(); }
  bool defined() const { return data_ != nullptr || was_defined_; }
  const TensorPtr& raw() const { return data_; }
 private:
  TensorPtr data_;
  bool is_output_ = false;
  bool was_defined_ = false;
  bool requires_grad_ = false;
  uint32_t output_nr_ = 0;
  uint64_t version_ = 0;
  std::shared_ptr<Storage> storage_;  // inputs: the storage saved (kept so that a swap is seen)
  uint64_t checksum_ = 0;             // storages with external writers: their bytes when saved
  bool has_checksum_ = false;
};

// Accumulates into leaf.grad. Never released; shared by every graph that uses the leaf.
// Concurrent backward passes sum into .grad under the leaf's lock (Note [Leaf locks]).
// Then, with the lock released, apply() runs the leaf's post-accumulate-grad hooks (hooks.h).
struct AccumulateGrad final : Node {
  TensorPtr variable;
  explicit AccumulateGrad(TensorPtr v) : variable(std::move(v)) {}
  const char* name() const override { return "AccumulateGrad"; }
  tensor_list apply(tensor_list&& grads) override;
  bool is_accumulator() const override { return true; }

 private:
  void accumulate(TensorPtr g);  // .grad += g, under the leaf's lock
};

// Raised by nodes whose saved values were freed. See engine.cpp.
[[noreturn]] void throw_released(const Node* n);

}  // namespace autograd
}  // namespace gradcore
