#include "cpu/allocator.h"

#include <cstdlib>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

#include "cpu/fork.h"

namespace gradcore::cpu {
namespace {

// Round nbytes up to one of 4 classes per power of two (>= 64 bytes).
size_t size_class(size_t n) {
  if (n <= 64) return 64;
  int msb = 63 - __builtin_clzll(static_cast<unsigned long long>(n - 1));  // 2^msb < n <= 2^(msb+1)
  size_t step = size_t(1) << (msb - 2 > 6 ? msb - 2 : 6);
  return (n + step - 1) / step * step;
}

size_t cache_limit() {
  static const size_t limit = [] {
    const char* s = std::getenv("GRADCORE_CACHE_LIMIT_MB");
    long mb = s ? std::atol(s) : 2048;
    return static_cast<size_t>(mb < 0 ? 0 : mb) << 20;
  }();
  return limit;
}

struct Cache {
  std::mutex mu;
  std::unordered_map<size_t, std::vector<void*>> free_lists;
  AllocatorStats stats{0, 0, 0, 0};
};
Cache& cache() {
  static Cache* c = new Cache();  // leaked on purpose: outlives every static tensor
  return *c;
}

// fork() waits until no thread is inside the cache's critical section, so the child gets
// consistent free lists and an unlocked mutex. See Note [Fork safety] (cpu/fork.cpp).
[[maybe_unused]] const bool g_fork_registered = register_fork_lock(
    FORK_RANK_ALLOCATOR,
    [] {
      cache_limit();  // a one-time initialisation in flight elsewhere completes first
      cache().mu.lock();
    },
    [] { cache().mu.unlock(); }, [] { cache().mu.unlock(); });

}  // namespace

void* alloc(size_t nbytes) {
  size_t cls = size_class(nbytes == 0 ? 1 : nbytes);
  if (cls < nbytes) throw std::bad_alloc();  // overflow
  Cache& c = cache();
  {
    std::lock_guard<std::mutex> g(c.mu);
    auto it = c.free_lists.find(cls);
    if (it != c.free_lists.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      c.stats.cached_bytes -= cls;
      c.stats.live_bytes += cls;
      c.stats.cache_hits++;
      return p;
    }
  }
  void* p = std::aligned_alloc(kAlignment, cls);
  if (!p) {
    empty_cache();
    p = std::aligned_alloc(kAlignment, cls);
    if (!p) throw std::bad_alloc();
  }
  std::lock_guard<std::mutex> g(c.mu);
  c.stats.live_bytes += cls;
  c.stats.system_allocs++;
  return p;
}

void free(void* p, size_t nbytes) {
  if (!p) return;
  size_t cls = size_class(nbytes == 0 ? 1 : nbytes);
  Cache& c = cache();
  {
    std::lock_guard<std::mutex> g(c.mu);
    c.stats.live_bytes -= cls;
    if (static_cast<size_t>(c.stats.cached_bytes) + cls <= cache_limit()) {
      c.free_lists[cls].push_back(p);
      c.stats.cached_bytes += cls;
      return;
    }
  }
  std::free(p);
}

AllocatorStats allocator_stats() {
  Cache& c = cache();
  std::lock_guard<std::mutex> g(c.mu);
  return c.stats;
}

void empty_cache() {
  Cache& c = cache();
  std::lock_guard<std::mutex> g(c.mu);
  for (auto& [cls, list] : c.free_lists) {
    for (void* p : list) std::free(p);
    c.stats.cached_bytes -= static_cast<int64_t>(cls * list.size());
    list.clear();
  }
}

}  // namespace gradcore::cpu
