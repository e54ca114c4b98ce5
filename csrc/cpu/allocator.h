// allocator.h — caching, 64-byte-aligned host allocator.
//
// Every tensor storage and every kernel workspace comes from here. Freed blocks go to a
// size-class free list and are handed out again, so a training step after warm-up neither
// calls malloc nor faults pages in. Size classes are 4 per power of two (worst-case waste
// 25 %). The cache is capped (GRADCORE_CACHE_LIMIT_MB, default 2048); past the cap freed
// blocks go straight back to the system.
//
//   void* p = gradcore::cpu::alloc(nbytes);   // throws std::bad_alloc when impossible
//   gradcore::cpu::free(p, nbytes);           // same nbytes as alloc
#pragma once
#include <cstddef>
#include <cstdint>

namespace gradcore::cpu {

constexpr size_t kAlignment = 64;

void* alloc(size_t nbytes);
void free(void* p, size_t nbytes);

struct AllocatorStats {
  int64_t live_bytes;      // handed out and not yet freed
  int64_t cached_bytes;    // held in free lists
  int64_t system_allocs;   // calls that reached the system allocator
  int64_t cache_hits;
};
AllocatorStats allocator_stats();
void empty_cache();        // return every cached block to the system

}  // namespace gradcore::cpu
