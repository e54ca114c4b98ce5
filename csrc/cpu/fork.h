// fork.h — a child created by fork() at any moment gets gradcore in a usable state.
//
// fork() copies only the calling thread. A mutex that another thread held at that instant
// stays locked for ever in the child, and the data it guards may be half-updated. So every
// process-wide lock that a child may need is registered here, once, by a static
// initialiser in its own file, and the pthread_atfork handlers of fork.cpp take all of
// them before the fork (in rank order) and release them after it, in the parent and in
// the child. See Note [Fork safety] in fork.cpp.
//
//   namespace {
//   std::mutex g_mu;
//   const bool g_fork_registered = cpu::register_fork_lock(
//       cpu::FORK_RANK_RNG, [] { g_mu.lock(); }, [] { g_mu.unlock(); }, [] { g_mu.unlock(); });
//   }
//
// prepare() must block until no other thread is inside the critical section and must
// never wait for the GIL (the forking thread holds it); child() may also reset state that
// belongs to threads the child does not have (the thread pool's workers).
#pragma once

namespace gradcore::cpu {

// The lock hierarchy, outermost first: prepare() runs in increasing rank, parent() and
// child() in decreasing rank. Code holding a registered lock may take only locks of a
// higher rank (else the fork could deadlock against it).
enum ForkRank : int {
  FORK_RANK_STATICS = 0,     // cpu: one-time initialisations (prepare waits for one in flight)
  FORK_RANK_LEAF = 10,       // autograd: a leaf's accumulation lock (held while summing into .grad)
  FORK_RANK_DUAL = 20,       // autograd: forward-mode dual tensors of the active level
  FORK_RANK_POOL = 30,       // cpu: the thread pool's handle (the pool itself is abandoned)
  FORK_RANK_RNG = 40,        // core: the global RNG's seed and offset
  FORK_RANK_ALLOCATOR = 50,  // cpu: the caching allocator's free lists (innermost)
};

using ForkHook = void (*)();

// Call only from a static initialiser (when the extension is loaded). Returns true, so it
// can initialise a namespace-scope constant. A hook may be null (nothing to do).
bool register_fork_lock(ForkRank rank, ForkHook prepare, ForkHook parent, ForkHook child);

}  // namespace gradcore::cpu
