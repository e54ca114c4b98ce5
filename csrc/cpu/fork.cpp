// Note [Fork safety]
// os.fork() may run while other Python threads are inside gradcore with the GIL released
// (allocating, running the pool, accumulating gradients). The child has only the forking
// thread. Two ways to keep its locks usable:
//   (a) re-create each mutex in the child (placement new): cheap, but the data it guarded
//       may be half-updated (a free list in the middle of push_back, a shared_ptr being
//       assigned), and the child would crash later instead of hanging;
//   (b) take every lock in the prepare handler and release it in parent and child (the
//       classic approach, also glibc's own for malloc): the fork waits until no thread is
//       inside a critical section, so the child inherits consistent data and unlocked locks.
// gradcore does (b) for every process-wide lock (fork.h lists them, outermost first). It
// is safe because of two rules the registrants keep:
//   1. No thread holding a registered lock ever waits for the GIL (the forking thread holds
//      it while prepare runs). In particular nothing that calls Python, or may drop the last
//      reference to a Python-owned buffer, runs inside those critical sections.
//   2. A holder of a registered lock takes only locks of a higher rank, and prepare takes
//      them in increasing rank, so prepare can always wait its turn.
// Every critical section is short (a free-list update, a gradient sum), so the fork is
// delayed by at most that much. Thread-pool workers are not locks: the child abandons
// the parent's pool object (its threads do not exist there; it is neither joined nor
// destroyed) and builds a fresh pool on first use. One-time initialisations (function-local
// statics: the kernel table, the allocator's cache) are touched by prepare, which waits for
// one in flight on another thread; the child would otherwise wait for it for ever.
#include "cpu/fork.h"

#include <pthread.h>

#include <cstdio>
#include <cstdlib>

namespace gradcore::cpu {
namespace {

struct Entry {
  int rank;
  ForkHook prepare, parent, child;
};

// Constant-initialised (zeroed before any static initialiser runs), so registration from
// another file's static initialiser is safe whatever the initialisation order.
constexpr int kMaxEntries = 16;
Entry g_entries[kMaxEntries];
int g_count = 0;

void run_prepare() {
  for (int i = 0; i < g_count; ++i)
    if (g_entries[i].prepare) g_entries[i].prepare();
}
void run_parent() {
  for (int i = g_count; i-- > 0;)
    if (g_entries[i].parent) g_entries[i].parent();
}
void run_child() {
  for (int i = g_count; i-- > 0;)
    if (g_entries[i].child) g_entries[i].child();
}

}  // namespace

bool register_fork_lock(ForkRank rank, ForkHook prepare, ForkHook parent, ForkHook child) {
  if (g_count == kMaxEntries) {
    std::fputs("gradcore: too many fork locks registered (raise kMaxEntries in cpu/fork.cpp)\n", stderr);
    std::abort();
  }
  if (g_count == 0 && pthread_atfork(run_prepare, run_parent, run_child) != 0) {
    std::fputs("gradcore: pthread_atfork failed; fork() with threads inside gradcore is unsafe\n", stderr);
  }
  // Keep the table sorted by rank (stable: equal ranks in registration order).
  int i = g_count++;
  for (; i > 0 && g_entries[i - 1].rank > rank; --i) g_entries[i] = g_entries[i - 1];
  g_entries[i] = Entry{rank, prepare, parent, child};
  return true;
}

}  // namespace gradcore::cpu
