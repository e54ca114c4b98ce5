#include "core/tensor.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <new>
#include <sstream>

#include "cpu/allocator.h"
#include "cpu/fork.h"

namespace gradcore {

std::string shape_str(const Shape& s) {
  std::ostringstream os;
  os << "(";
  for (size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  if (s.size() == 1) os << ",";
  os << ")";
  return os.str();
}

// Note [Shape overflow]: the product of a shape's non-zero dims must fit in int64 even when
// another dim is 0, so that every dim, stride and byte offset computed from the shape later
// fits too (a reshape of an empty tensor to (2**62, 4) is refused, as PyTorch refuses it).
// A zero-element shape with a huge dim is legal in any position: zeros(2**57, 0) as zeros(0, 2**57).
int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  bool empty = false;
  for (int64_t d : s) {
    GC_CHECK(d >= 0, ShapeError, "negative dimension in shape ", shape_str(s));  // ValueError + RuntimeError (PyTorch)
    if (d == 0) { empty = true; continue; }
    GC_CHECK(!__builtin_mul_overflow(n, d, &n), ValueError, "shape ", shape_str(s),
             " has more elements than a 64-bit size can count");
  }
  return empty ? 0 : n;
}

Shape contiguous_strides(const Shape& shape) {
  Shape st(shape.size());
  int64_t acc = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    st[i] = acc;
    acc *= shape[i] ? shape[i] : 1;
  }
  return st;
}

void Tensor::refresh_contiguous() {
  is_contiguous = true;
  if (numel <= 1) return;
  int64_t expected = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    if (shape[i] == 1) continue;
    if (strides[i] != expected) { is_contiguous = false; return; }
    expected *= shape[i];
  }
}

void Tensor::storage_extent(int64_t* lo, int64_t* hi) const {
  *lo = *hi = offset;
  if (numel == 0) return;
  int64_t a = offset, b = offset;
  for (size_t i = 0; i < shape.size(); ++i) {
    const int64_t span = (shape[i] - 1) * strides[i];
    if (span < 0) a += span; else b += span;
  }
  *lo = a;
  *hi = b + 1;
}

bool Tensor::non_overlapping_and_dense() const {
  if (is_contiguous) return true;
  // Sorted by stride, each dim must step over exactly the dims inside it.
  std::vector<size_t> order;
  for (size_t i = 0; i < shape.size(); ++i)
    if (shape[i] != 1) order.push_back(i);
  std::sort(order.begin(), order.end(), [&](size_t x, size_t y) { return strides[x] < strides[y]; });
  int64_t expected = 1;
  for (size_t i : order) {
    if (strides[i] != expected) return false;
    expected *= shape[i];
  }
  return true;
}

bool Tensor::non_overlapping() const {
  if (is_contiguous) return true;
  std::vector<size_t> order;
  for (size_t i = 0; i < shape.size(); ++i)
    if (shape[i] != 1) order.push_back(i);
  std::sort(order.begin(), order.end(), [&](size_t x, size_t y) { return strides[x] < strides[y]; });
  int64_t span = 1;  // one past the largest offset the inner dims reach
  for (size_t i : order) {
    if (strides[i] < span) return false;
    span += strides[i] * (shape[i] - 1);
  }
  return true;
}

Storage::~Storage() {
  if (release) release(ctx);
  else cpu::free(data, nbytes);
}

uint64_t next_hook_id() {
  static std::atomic<uint64_t> id{0};
  return ++id;
}

Tensor::~Tensor() {
  if (grad_fn) release_node(std::move(grad_fn));
}

namespace {
// std::bad_alloc with a message (Python sees MemoryError with this text).
struct AllocError : std::bad_alloc {
  std::string msg;
  explicit AllocError(std::string m) : msg(std::move(m)) {}
  const char* what() const noexcept override { return msg.c_str(); }
};
}  // namespace

TensorPtr empty(const Shape& shape, DType dtype) {
  auto t = std::make_shared<Tensor>();
  t->numel = shape_numel(shape);
  t->shape = shape;
  t->strides = contiguous_strides(shape);
  t->dtype = dtype;
  auto st = std::make_shared<Storage>();
  size_t nbytes;
  if (__builtin_mul_overflow(static_cast<size_t>(t->numel), dtype_size(dtype), &nbytes) ||
      nbytes > (size_t(1) << 62))
    throw AllocError("cannot allocate a tensor of shape " + shape_str(shape) + ": more bytes than any memory holds");
  st->nbytes = nbytes;
  try {
    st->data = cpu::alloc(st->nbytes);
  } catch (const std::bad_alloc&) {
    throw AllocError("cannot allocate " + std::to_string(st->nbytes) + " bytes for a tensor of shape " +
                     shape_str(shape));
  }
  t->storage = std::move(st);
  return t;
}

TensorPtr empty_like(const Tensor& t) { return empty(t.shape, t.dtype); }

TensorPtr empty_like_layout(const Tensor& t, DType dtype) {
  if (t.is_contiguous || !t.non_overlapping_and_dense()) return empty(t.shape, dtype);
  // Same dim order as t: allocate the permuted contiguous tensor, then view it back.
  const size_t nd = t.shape.size();
  std::vector<size_t> order(nd);  // outermost first
  for (size_t i = 0; i < nd; ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) { return t.strides[x] > t.strides[y]; });
  Shape perm_shape(nd);
  for (size_t i = 0; i < nd; ++i) perm_shape[i] = t.shape[order[i]];
  TensorPtr out = empty(perm_shape, dtype);
  Shape strides(nd);
  for (size_t i = 0; i < nd; ++i) strides[order[i]] = out->strides[i];
  out->shape = t.shape;
  out->strides = strides;
  out->refresh_contiguous();
  return out;
}

TensorPtr alias(const Tensor& t) {
  auto a = std::make_shared<Tensor>();
  a->storage = t.storage;
  a->offset = t.offset;
  a->shape = t.shape;
  a->strides = t.strides;
  a->numel = t.numel;
  a->dtype = t.dtype;
  a->is_contiguous = t.is_contiguous;
  return a;
}

TensorPtr as_strided_alias(const Tensor& t, Shape shape, Shape strides, int64_t offset) {
  auto a = std::make_shared<Tensor>();
  a->storage = t.storage;
  a->offset = offset;
  a->numel = shape_numel(shape);
  a->shape = std::move(shape);
  a->strides = std::move(strides);
  a->dtype = t.dtype;
  a->refresh_contiguous();
  int64_t lo, hi;
  a->storage_extent(&lo, &hi);
  GC_CHECK(a->numel == 0 || (lo >= 0 && static_cast<size_t>(hi) * dtype_size(t.dtype) <= t.storage->nbytes),
           RuntimeError, "view of shape ", shape_str(a->shape), " with strides ", shape_str(a->strides),
           " and offset ", offset, " reaches outside its storage");
  return a;
}

TensorPtr from_blob(void* data, const Shape& shape, const Shape& strides, DType dtype, size_t nbytes,
                    void (*release)(void*), void* ctx) {
  auto t = std::make_shared<Tensor>();
  t->numel = shape_numel(shape);
  t->shape = shape;
  t->strides = strides.empty() && !shape.empty() ? contiguous_strides(shape) : strides;
  t->dtype = dtype;
  t->refresh_contiguous();
  auto st = std::make_shared<Storage>();
  st->data = data;
  st->nbytes = nbytes;
  st->release = release;
  st->ctx = ctx;
  st->external_writers = true;
  t->storage = std::move(st);
  return t;
}

void release_node(std::shared_ptr<Node>&& n) {
  thread_local std::vector<std::shared_ptr<Node>> pending;
  thread_local bool draining = false;
  if (!n) return;
  if (n.use_count() > 1) { n.reset(); return; }  // not the last reference: nothing cascades
  pending.push_back(std::move(n));
  if (draining) return;
  draining = true;
  while (!pending.empty()) {
    std::shared_ptr<Node> p = std::move(pending.back());
    pending.pop_back();
    p.reset();  // may push this node's edges and saved tensors' nodes onto `pending`
  }
  draining = false;
}

namespace {
std::mutex g_rng_mu;  // guards the fields of every Generator (Note [Generators], tensor.h)
// A child of fork() gets a consistent (seed, offset) and an unlocked g_rng_mu. See Note
// [Fork safety] (cpu/fork.cpp).
[[maybe_unused]] const bool g_rng_fork_registered = cpu::register_fork_lock(
    cpu::FORK_RANK_RNG, [] { g_rng_mu.lock(); }, [] { g_rng_mu.unlock(); }, [] { g_rng_mu.unlock(); });
}  // namespace

void Generator::manual_seed(uint64_t seed) {
  std::lock_guard<std::mutex> g(g_rng_mu);
  seed_ = seed;
  offset_ = 0;
}

uint64_t Generator::initial_seed() const {
  std::lock_guard<std::mutex> g(g_rng_mu);
  return seed_;
}

uint64_t Generator::reserve(int64_t nblocks, uint64_t* seed) {
  std::lock_guard<std::mutex> g(g_rng_mu);
  *seed = seed_;
  uint64_t off = offset_;
  offset_ += static_cast<uint64_t>(nblocks);
  return off;
}

void Generator::get_state(uint64_t* seed, uint64_t* offset) const {
  std::lock_guard<std::mutex> g(g_rng_mu);
  *seed = seed_;
  *offset = offset_;
}

void Generator::set_state(uint64_t seed, uint64_t offset) {
  std::lock_guard<std::mutex> g(g_rng_mu);
  seed_ = seed;
  offset_ = offset;
}

const GeneratorPtr& default_generator() {
  static const GeneratorPtr* g = new GeneratorPtr(std::make_shared<Generator>());  // leaked: lives for ever
  return *g;
}

void manual_seed(uint64_t seed) { default_generator()->manual_seed(seed); }

uint64_t initial_seed() { return default_generator()->initial_seed(); }

uint64_t rng_reserve(int64_t nblocks, uint64_t* seed, Generator* gen) {
  return (gen ? gen : default_generator().get())->reserve(nblocks, seed);
}

}  // namespace gradcore
