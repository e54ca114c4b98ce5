#include "autograd/node.h"

#include <atomic>
#include <cstdint>
#include <mutex>

#include "autograd/function.h"
#include "autograd/grad_mode.h"
#include "autograd/hooks.h"
#include "autograd/ops.h"
#include "cpu/fork.h"
#include "kernels/kernel_api.h"

namespace gradcore {

namespace {
std::atomic<uint64_t> g_sequence_nr{0};

// Note [Leaf locks]: summing into a leaf's .grad and creating its AccumulateGrad take a
// lock of that leaf, not one process-wide mutex, so backward passes of independent graphs
// on several threads accumulate in parallel, and two that reach the same leaf add one
// after the other (.grad is the sum of both, as in PyTorch). The locks are a fixed table
// picked by the leaf's address: two leaves may share one (which only costs a wait), and,
// unlike a mutex per leaf, the table can be taken whole before fork() (Note [Fork
// safety], cpu/fork.cpp), so a child that goes on training its copy of the model never
// finds a leaf locked by a thread it does not have. Rules: a thread holds at most one leaf
// lock (only the fork prepare handler takes them all, in table order); under it nothing
// calls Python or drops the last reference to a tensor (its buffer may be Python-owned);
// a create_graph sum, which records a node (and in anomaly mode calls Python for the
// creation site), runs outside the lock (AccumulateGrad::apply).
constexpr int kLeafLockBits = 8;
struct alignas(64) LeafLock {
  std::mutex mu;
};
LeafLock g_leaf_locks[1 << kLeafLockBits];

std::mutex& leaf_lock(const Tensor* leaf) {
  uint64_t h = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(leaf)) * 0x9E3779B97F4A7C15ull;  // Fibonacci hashing
  return g_leaf_locks[h >> (64 - kLeafLockBits)].mu;
}

[[maybe_unused]] const bool g_fork_registered = cpu::register_fork_lock(
    cpu::FORK_RANK_LEAF,
    [] {
      for (LeafLock& l : g_leaf_locks) l.mu.lock();
    },
    [] {
      for (LeafLock& l : g_leaf_locks) l.mu.unlock();
    },
    [] {
      for (LeafLock& l : g_leaf_locks) l.mu.unlock();
    });
}  // namespace

Node::Node() : sequence_nr(g_sequence_nr.fetch_add(1, std::memory_order_relaxed)) {}

Node::~Node() {
  // See Note [Deferred node release] (core/tensor.h).
  for (auto& e : next_edges) release_node(std::move(e.fn));
}

namespace autograd {

// Note [External writers]: a version counter sees only gradcore's own in-place writes.
// Memory that NumPy can write too (from_numpy's array, a writable t.numpy() view) can
// change under a saved tensor without a version bump. For such storages, a saved tensor
// that requires grad (a parameter sharing a NumPy buffer) also records a checksum of its
// bytes, and unpack() compares it: a write through NumPy between forward and backward
// raises instead of corrupting the gradient. Storages gradcore alone writes pay nothing.
namespace {

std::string describe_saved(const Tensor& t, const Node* owner, bool is_output, uint32_t output_nr) {
  std::string s = std::string("[gradcore.") + (t.dtype == DType::Float32 ? "FloatTensor " : "DoubleTensor ") +
                  shape_str(t.shape) + "]";
  if (is_output) s += detail::concat(", which is output ", output_nr, " of ", owner->name(), ",");
  else if (t.grad_fn) s += detail::concat(", which is output ", t.output_nr, " of ", t.grad_fn->name(), ",");
  return s;
}

constexpr const char* kInplaceHint =
    " Hint: enable anomaly detection to find the operation that failed to compute its gradient, with "
    "gc.autograd.set_detect_anomaly(True).";

// The bytes the tensor can reach (a view: the span of its storage it covers).
uint64_t storage_checksum(const Tensor& t) {
  int64_t lo, hi;
  t.storage_extent(&lo, &hi);
  const size_t es = dtype_size(t.dtype);
  return kernels::checksum(static_cast<const char*>(t.storage->data) + lo * es, static_cast<size_t>(hi - lo) * es);
}

}  // namespace

namespace {
thread_local SaveRedirect* t_redirect = nullptr;
}  // namespace

SaveRedirect::SaveRedirect(const Storage* s, std::function<TensorPtr(const TensorPtr&)> c)
    : storage(s), copy(std::move(c)), prev(t_redirect) {
  t_redirect = this;
}
SaveRedirect::~SaveRedirect() { t_redirect = prev; }

SavedTensor::SavedTensor(const TensorPtr& t_in, bool is_output) {
  if (!t_in) return;
  // Note [Saving what an in-place op overwrites]
  const TensorPtr& t = (!is_output && t_redirect && t_in->storage.get() == t_redirect->storage)
                           ? t_redirect->copy(t_in) : t_in;
  was_defined_ = true;
  is_output_ = is_output;
  version_ = t->storage->version;
  if (!is_output) storage_ = t->storage;
  if (t->storage->external_writers && (is_output || t->needs_grad())) {
    checksum_ = storage_checksum(*t);
    has_checksum_ = true;
  }
  // An output is saved before set_history links it to the node that saves it, and it
  // will require grad through that node.
  requires_grad_ = is_output || t->needs_grad();
  output_nr_ = t->output_nr;
  data_ = is_output ? alias(*t) : t;  // Note [Saved outputs]
  if (is_output) {  // keep a forward-mode tangent (forward-over-reverse differentiates the backward)
    data_->fw_grad = t->fw_grad;
    data_->fw_level = t->fw_level;
  }
}

void throw_released(const Node* n) {
  throw RuntimeError(detail::concat(
      "Trying to backward through the graph a second time (", n->name(),
      "), or to use its saved tensors after they were freed. Saved intermediate values are freed "
      "by backward() and gc.grad(); pass retain_graph=True to backward twice."));
}

TensorPtr SavedTensor::unpack(const Node* owner) const {
  if (!was_defined_) return nullptr;
  if (!data_) throw_released(owner);
  if (storage_ && data_->storage != storage_)
    throw RuntimeError(detail::concat(
        "one of the variables needed for gradient computation has been replaced by an assignment to .data: ",
        describe_saved(*data_, owner, is_output_, output_nr_), " uses another storage than when ", owner->name(),
        " saved it.", kInplaceHint));
  if (data_->storage->version != version_)
    throw RuntimeError(detail::concat(
        "one of the variables needed for gradient computation has been modified by an inplace operation: ",
        describe_saved(*data_, owner, is_output_, output_nr_), " is at version ", data_->storage->version,
        "; expected version ", version_, " instead.", kInplaceHint));
  if (has_checksum_ && storage_checksum(*data_) != checksum_)
    throw RuntimeError(detail::concat(
        "one of the variables needed for gradient computation has been modified through NumPy: ",
        describe_saved(*data_, owner, is_output_, output_nr_),
        " shares memory with a NumPy array that was written after ", owner->name(),
        " saved it. Copy the data (gc.tensor(array) or .clone()) before training on it, or write to it only "
        "between backward and the next forward."));
  if (!is_output_) return data_;
  // Rebuild the output's link to its own node (needed when the backward is recorded).
  TensorPtr t = alias(*data_);
  t->fw_grad = data_->fw_grad;
  t->fw_level = data_->fw_level;
  if (requires_grad_) {
    t->grad_fn = const_cast<Node*>(owner)->shared_from_this();
    t->output_nr = output_nr_;
    t->requires_grad = true;
  }
  return t;
}

tensor_list AccumulateGrad::apply(tensor_list&& grads) {
  TensorPtr g = std::move(grads[0]);
  if (!g) return {};
  GC_CHECK(g->shape == variable->shape, RuntimeError, "AccumulateGrad: gradient of shape ", shape_str(g->shape),
           " for a leaf of shape ", shape_str(variable->shape));
  accumulate(std::move(g));
  // Tensor.register_post_accumulate_grad_hook: with the leaf's lock released (a hook calls
  // Python, and may read or write .grad), on this thread.
  run_post_accumulate_hooks(variable);
  return {};
}

void AccumulateGrad::accumulate(TensorPtr g) {
  std::mutex& mu = leaf_lock(variable.get());  // Note [Leaf locks]
  if (grad_enabled()) {
    // create_graph: keep the gradient's own history, accumulate out of place. The sum is
    // recorded, so it runs outside the lock; it is published only if no other thread
    // changed .grad meanwhile, else it is redone on the new value.
    for (;;) {
      TensorPtr seen, updated;
      {
        std::lock_guard<std::mutex> lock(mu);
        seen = variable->grad;
      }
      updated = seen ? ops::add(seen, g) : ops::contiguous(g);  // .grad is contiguous (kernels read it flat)
      std::lock_guard<std::mutex> lock(mu);
      if (variable->grad == seen) {
        variable->grad = std::move(updated);  // `seen` keeps the old value alive past the lock
        return;
      }
    }
  }
  TensorPtr replaced;  // released after the lock (declared first)
  std::lock_guard<std::mutex> lock(mu);
  if (!variable->grad) {
    // Steal the buffer when nobody else can see it; otherwise copy.
    bool exclusive = g.use_count() == 1 && g->storage.use_count() == 1 && g->is_contiguous && !g->needs_grad();
    if (exclusive) {
      variable->grad = g;
    } else {  // a contiguous copy (g may be a view: an expanded 0-dim tensor, a transpose)
      TensorPtr c = empty(g->shape, g->dtype);
      ops::copy_values(c, g);
      variable->grad = c;
    }
  } else if (variable->grad->needs_grad()) {
    replaced = variable->grad;
    variable->grad = ops::add(ops::detach(replaced), g);
  } else {
    ops::add_inplace(variable->grad, g, 1.0);
  }
}

std::shared_ptr<Node> grad_accumulator(const TensorPtr& t) {
  if (!t->requires_grad || t->grad_fn) return nullptr;
  std::lock_guard<std::mutex> lock(leaf_lock(t.get()));  // two threads must not create two
  std::shared_ptr<Node> acc = t->grad_accumulator.lock();
  if (!acc) {
    acc = std::make_shared<AccumulateGrad>(t);
    t->grad_accumulator = acc;
  }
  return acc;
}

std::shared_ptr<Node> existing_grad_accumulator(const TensorPtr& t) {
  std::lock_guard<std::mutex> lock(leaf_lock(t.get()));
  return t->grad_accumulator.lock();
}

Edge gradient_edge(const TensorPtr& t) {
  // A view whose base was given a new history by an in-place op on another of its views
  // (Note [In-place ops], ops/inplace.cpp) first takes a grad_fn from that history.
  if (t->view && t->view->base_grad_fn != t->view->base->grad_fn.get()) ops::refresh_view_grad_fn(t);
  if (t->grad_fn) return Edge{t->grad_fn, t->output_nr};
  return Edge{grad_accumulator(t), 0};
}

}  // namespace autograd
}  // namespace gradcore
