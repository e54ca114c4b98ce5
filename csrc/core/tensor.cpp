#include "core/tensor.h"

#include <atomic>
#include <mutex>
#include <new>
#include <sstream>

#include "cpu/allocator.h"
#include "cpu/fork.h"

namespace gradcore {

const char* dtype_name(DType d) { return d == DType::Float32 ? "float32" : "float64"; }

std::string shape_str(const Shape& s) {
  std::ostringstream os;
  os << "(";
  for (size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  if (s.size() == 1) os << ",";
  os << ")";
  return os.str();
}

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) {
    GC_CHECK(d >= 0, ValueError, "negative dimension in shape ", shape_str(s));
    if (d != 0 && n > (int64_t(1) << 56) / d) throw std::bad_alloc();
    n *= d;
  }
  return n;
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
  try {
    t->numel = shape_numel(shape);
  } catch (const std::bad_alloc&) {
    throw AllocError("cannot allocate a tensor of shape " + shape_str(shape) + ": the size overflows");
  }
  t->shape = shape;
  t->dtype = dtype;
  auto st = std::make_shared<Storage>();
  st->nbytes = t->nbytes();
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

TensorPtr alias(const Tensor& t) {
  auto a = std::make_shared<Tensor>();
  a->storage = t.storage;
  a->offset = t.offset;
  a->shape = t.shape;
  a->numel = t.numel;
  a->dtype = t.dtype;
  return a;
}

TensorPtr from_blob(void* data, const Shape& shape, DType dtype, void (*release)(void*), void* ctx) {
  auto t = std::make_shared<Tensor>();
  t->numel = shape_numel(shape);
  t->shape = shape;
  t->dtype = dtype;
  auto st = std::make_shared<Storage>();
  st->data = data;
  st->nbytes = t->nbytes();
  st->release = release;
  st->ctx = ctx;
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
std::mutex g_rng_mu;
uint64_t g_seed = 67280421310721ull;
uint64_t g_offset = 0;
// A child of fork() gets a consistent (seed, offset) and an unlocked g_rng_mu. See Note
// [Fork safety] (cpu/fork.cpp).
[[maybe_unused]] const bool g_rng_fork_registered = cpu::register_fork_lock(
    cpu::FORK_RANK_RNG, [] { g_rng_mu.lock(); }, [] { g_rng_mu.unlock(); }, [] { g_rng_mu.unlock(); });
}  // namespace

void manual_seed(uint64_t seed) {
  std::lock_guard<std::mutex> g(g_rng_mu);
  g_seed = seed;
  g_offset = 0;
}

uint64_t initial_seed() {
  std::lock_guard<std::mutex> g(g_rng_mu);
  return g_seed;
}

uint64_t rng_reserve(int64_t nblocks, uint64_t* seed) {
  std::lock_guard<std::mutex> g(g_rng_mu);
  *seed = g_seed;
  uint64_t off = g_offset;
  g_offset += static_cast<uint64_t>(nblocks);
  return off;
}

}  // namespace gradcore
