// tensor.h — gradcore's Tensor: a strided view of a reference-counted Storage.
//
//   TensorPtr t = empty({2, 3}, DType::Float32);   // contiguous, uninitialised, from the caching allocator
//   float* p = t->data<float>();                    // element (i, j) at p[i * t->strides[0] + j * t->strides[1]]
//
// PyTorch's model: shape, strides (in elements) and an offset into a Storage that several
// tensors (views) may share. View ops (basic indexing, transpose/permute, expand, narrow,
// squeeze/unsqueeze, view/reshape where possible, diagonal, unfold) make new Tensors over the
// same Storage; writes through one are seen by all. `is_contiguous` caches whether the
// strides are row-major for the shape. Kernels take raw pointers of contiguous data (plus
// transpose flags for GEMM); the op layer makes an input contiguous only where a kernel
// needs it. Storage either comes from cpu::alloc or wraps foreign memory (a NumPy array)
// with a release callback that drops the owner. The version counter lives in the Storage,
// shared by every view (autograd's check for saved tensors modified in place).
//
// Autograd state sits in the tensor as plain fields the engine owns: `grad_fn` (the Node
// that produced a non-leaf), `grad` (accumulated by AccumulateGrad for leaves) and a weak
// link to the leaf's accumulator; a view that autograd tracks also knows its base and how
// to replay itself on another tensor (`view`). See Note [Deferred node release] in tensor.cpp.
#pragma once
#if defined(GC_LAYER_CPU) || defined(GC_LAYER_KERNELS)
#error "the cpu and kernel layers work on raw buffers: no Tensor or dtype there (layers: csrc/README.md)"
#endif
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/check.h"
#include "core/dtype.h"
#include "core/small_vec.h"

namespace gradcore {

using Shape = DimVec;  // shapes and strides: up to 6 dims without a heap allocation
std::string shape_str(const Shape& s);   // "(2, 3)", "(5,)", "()"
int64_t shape_numel(const Shape& s);     // ValueError on negative dims and on int64 overflow
Shape contiguous_strides(const Shape& shape);

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
// Post-accumulate-grad hooks (Tensor::post_accumulate_hooks) use the same entry: fn gets the
// leaf itself, and a non-null return (a hook that returned another tensor) is an error.
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

// How a view was made from its base, so that autograd can make the same view of another
// tensor of the base's shape (the backward of a view, and in-place ops on views: PyTorch's
// CopySlices). `base` is the tensor the first view of a chain was taken from; `replay`
// maps any tensor of base's shape to the corresponding view (composed along the chain).
struct ViewInfo {
  TensorPtr base;
  std::function<TensorPtr(const TensorPtr&)> replay;
  // The base's grad_fn when this view's grad_fn was set; when an in-place op on another
  // view of the same base has since given the base a new history, the view's grad_fn is
  // regenerated from it (see autograd/function.cpp).
  const Node* base_grad_fn = nullptr;
};

struct Tensor {
  std::shared_ptr<Storage> storage;
  int64_t offset = 0;  // in elements
  Shape shape;
  Shape strides;       // in elements, one per dim
  int64_t numel = 0;
  DType dtype = DType::Float32;
  bool is_contiguous = true;  // strides == contiguous_strides(shape) (size-1 dims ignored)
  std::shared_ptr<ViewInfo> view;  // set by view ops when the base takes part in autograd

  // --- autograd (owned by csrc/autograd) ---
  bool requires_grad = false;            // meaningful on leaves; non-leaves derive it from grad_fn
  TensorPtr grad;                        // accumulated gradient (leaves, or retain_grad)
  std::shared_ptr<Node> grad_fn;         // null for leaves
  uint32_t output_nr = 0;
  std::weak_ptr<Node> grad_accumulator;  // leaves: their AccumulateGrad, while a graph holds it
  bool retains_grad = false;
  std::shared_ptr<HookList> hooks;       // leaves: hooks run on the gradient before accumulation
  // Leaves: Tensor.register_post_accumulate_grad_hook. Each entry's fn is called with the
  // leaf itself after backward() updated its .grad (autograd/hooks.h); slot and retain are unused.
  std::shared_ptr<HookList> post_accumulate_hooks;

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
  // Recompute is_contiguous after changing shape/strides.
  void refresh_contiguous();
  // The elements this tensor can reach, [lo, hi) in the storage, in elements (for checks).
  void storage_extent(int64_t* lo, int64_t* hi) const;
  // True when no two indices map to the same element (expanded / overlapping views are not).
  bool non_overlapping_and_dense() const;
  // No two indices reach the same element (a sufficient test: sorted by stride, each dim steps
  // past the whole span of the dims inside it). Slices pass; expands and overlapping as_strided fail.
  bool non_overlapping() const;
};

// Uninitialised contiguous tensor from the caching allocator.
TensorPtr empty(const Shape& shape, DType dtype);
TensorPtr empty_like(const Tensor& t);
// Uninitialised tensor with t's shape, dtype and (when t is non-overlapping and dense, e.g. a
// transpose) t's memory layout, as PyTorch's elementwise outputs follow their input's layout.
TensorPtr empty_like_layout(const Tensor& t, DType dtype);
// A new Tensor sharing t's storage and geometry (no autograd history): detach() and saved outputs.
TensorPtr alias(const Tensor& t);
// A new Tensor over t's storage with the given geometry (no autograd history; checked to
// stay inside the storage).
TensorPtr as_strided_alias(const Tensor& t, Shape shape, Shape strides, int64_t offset);
// Wrap foreign memory (zero-copy). `release(ctx)` is called when the storage dies. Strides
// in elements (empty = contiguous); `nbytes` is the size of the whole foreign buffer.
TensorPtr from_blob(void* data, const Shape& shape, const Shape& strides, DType dtype, size_t nbytes,
                    void (*release)(void*), void* ctx);

// Note [Deferred node release]: dropping the last reference to a long chain of Nodes
// (a million-op graph) must not recurse once per node. Tensor and Node destructors hand
// their Node references to release_node(), which frees them from an explicit work-list.
void release_node(std::shared_ptr<Node>&& n);

// ---- random generators (issue 12) ----
// Note [Generators]: a random stream is a pair (seed, offset) read by the counter-based
// kernels of kernels/rng.cpp. A draw that needs n Philox blocks reserves the counters
// [offset, offset + n) under key = seed and advances offset by n, so its values are a
// pure function of (seed, offset) and of nothing else (not the thread count, not the
// order in which other generators are used). gc.Generator objects and the default
// generator (gc.manual_seed, gc.randn without generator=) are instances of this class.
// Every generator's fields are guarded by one process-wide mutex (registered for fork):
// the critical sections are a few loads and stores.
class Generator {
 public:
  Generator() = default;
  void manual_seed(uint64_t seed);  // seed, and restart the stream at offset 0
  uint64_t initial_seed() const;
  uint64_t reserve(int64_t nblocks, uint64_t* seed);  // returns the first reserved offset
  void get_state(uint64_t* seed, uint64_t* offset) const;
  void set_state(uint64_t seed, uint64_t offset);

 private:
  uint64_t seed_ = 67280421310721ull;
  uint64_t offset_ = 0;
};
using GeneratorPtr = std::shared_ptr<Generator>;
// The process-wide default generator (never destroyed).
const GeneratorPtr& default_generator();

// The default generator's seed / stream; rng_reserve draws from `gen` (null: the default).
void manual_seed(uint64_t seed);
uint64_t initial_seed();
uint64_t rng_reserve(int64_t nblocks, uint64_t* seed, Generator* gen = nullptr);  // returns the offset

}  // namespace gradcore
