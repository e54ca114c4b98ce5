// tensor.h — gradcore's Tensor: dense, row-major, contiguous, float32 or float64.
//
//   TensorPtr t = empty({2, 3}, DType::Float32);   // uninitialised, from the caching allocator
//   float* p = t->data<float>();
//
// A Tensor is always contiguous; views exist only where they are free (reshape, slicing the
// first dimension) and share the Storage with an element offset. Storage is reference
// counted; it either comes from cpu::alloc or wraps foreign memory (a NumPy array) with a
// release callback that drops the owner.
//
// Autograd state sits in the tensor as plain fields the engine owns: `grad_fn` (the Node
// that produced a non-leaf), `grad` (accumulated by AccumulateGrad for leaves) and a weak
// link to the leaf's accumulator. See Note [Deferred node release] in tensor.cpp.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/check.h"

namespace gradcore {

enum class DType : uint8_t { Float32 = 0, Float64 = 1 };
inline size_t dtype_size(DType d) { return d == DType::Float32 ? 4 : 8; }
const char* dtype_name(DType d);

using Shape = std::vector<int64_t>;
std::string shape_str(const Shape& s);   // "(2, 3)", "(5,)", "()"
int64_t shape_numel(const Shape& s);     // ValueError on negative dims and on int64 overflow

struct Storage {
  void* data = nullptr;
  size_t nbytes = 0;
  // Foreign memory: release(data, ctx) is called instead of cpu::free.
  void (*release)(void* ctx) = nullptr;
  void* ctx = nullptr;
  uint64_t version = 0;  // bumped by in-place writes (optimizer steps, copy_)
  // True when code outside gradcore may write this memory without bumping `version`: the
  // NumPy array a from_numpy tensor wraps, or storage handed out as a writable NumPy view.
  // See Note [External writers] (autograd/node.cpp).
  bool external_writers = false;
  Storage() = default;
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  ~Storage();
};

struct Node;
struct Tensor;
using TensorPtr = std::shared_ptr<Tensor>;
using tensor_list = std::vector<TensorPtr>;

// Gradient hooks (Tensor.register_hook). A hook sees the gradient arriving for output
// `slot` of a node (or for a leaf) before it is used; a non-null return replaces it.
// `retain` marks the retain_grad() hook, which runs after the others and only in backward().
using GradHook = std::function<TensorPtr(const TensorPtr&)>;
struct HookEntry {
  uint64_t id;
  uint32_t slot;
  GradHook fn;
  bool retain = false;
  // The Python callable `fn` keeps alive, if any (opaque here): the bindings show it to
  // Python's cycle collector. See Note [Tensors in Python's GC] (bindings/function.cpp).
  void* gc_object = nullptr;
};
using HookList = std::vector<HookEntry>;
uint64_t next_hook_id();

struct Tensor {
  std::shared_ptr<Storage> storage;
  int64_t offset = 0;  // in elements
  Shape shape;
  int64_t numel = 0;
  DType dtype = DType::Float32;

  // --- autograd (owned by csrc/autograd) ---
  bool requires_grad = false;            // meaningful on leaves; non-leaves derive it from grad_fn
  TensorPtr grad;                        // accumulated gradient (leaves, or retain_grad)
  std::shared_ptr<Node> grad_fn;         // null for leaves
  uint32_t output_nr = 0;
  std::weak_ptr<Node> grad_accumulator;  // leaves: their AccumulateGrad, while a graph holds it
  bool retains_grad = false;
  std::shared_ptr<HookList> hooks;       // leaves: hooks run on the gradient before accumulation

  // --- forward-mode AD (csrc/autograd/forward_ad.h) ---
  // The tangent of a dual tensor; it counts only while fw_level is the active dual level.
  TensorPtr fw_grad;
  uint64_t fw_level = 0;

  ~Tensor();

  bool is_leaf() const { return !grad_fn; }
  bool needs_grad() const { return requires_grad || grad_fn != nullptr; }
  int64_t ndim() const { return static_cast<int64_t>(shape.size()); }
  void* data_ptr() const { return static_cast<char*>(storage->data) + offset * dtype_size(dtype); }
  template <class T>
  T* data() const { return static_cast<T*>(data_ptr()); }
  size_t nbytes() const { return static_cast<size_t>(numel) * dtype_size(dtype); }
};

// Uninitialised contiguous tensor from the caching allocator.
TensorPtr empty(const Shape& shape, DType dtype);
TensorPtr empty_like(const Tensor& t);
// A new Tensor sharing t's storage (no autograd history): detach() and saved outputs.
TensorPtr alias(const Tensor& t);
// Wrap foreign memory (zero-copy). `release(ctx)` is called when the storage dies.
TensorPtr from_blob(void* data, const Shape& shape, DType dtype, void (*release)(void*), void* ctx);

// Note [Deferred node release]: dropping the last reference to a long chain of Nodes
// (a million-op graph) must not recurse once per node. Tensor and Node destructors hand
// their Node references to release_node(), which frees them from an explicit work-list.
void release_node(std::shared_ptr<Node>&& n);

// Global RNG state (seeded by gc.manual_seed); reserve() hands out disjoint counter ranges.
void manual_seed(uint64_t seed);
uint64_t initial_seed();
uint64_t rng_reserve(int64_t nblocks, uint64_t* seed);  // returns the offset

}  // namespace gradcore
