#include "cpu/parallel.h"

#include <sched.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "cpu/fork.h"

namespace gradcore::cpu {
namespace {

thread_local bool tl_in_pool_task = false;

int default_num_threads() {
  if (const char* s = std::getenv("GRADCORE_NUM_THREADS")) {
    int n = std::atoi(s);
    if (n >= 1) return n < kMaxThreads ? n : kMaxThreads;
  }
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n >= 1) return n;
  }
  unsigned n = std::thread::hardware_concurrency();
  return n ? static_cast<int>(n) : 1;
}

// Note [Pool protocol]: a job is published by writing it and then `state_` =
// (generation << 33 | OPEN | active = 0), and bumping `generation_` (under `mu_`, so
// sleeping workers are woken through `cv_`). A worker that notices the new generation
// (spinning briefly, then sleeping) JOINS the job by a CAS that increments `active` while
// the job is still OPEN and of its generation, claims task indices from `next_`, and
// leaves by decrementing `active`. The submitter works on the tasks itself, then CLOSES
// the job (clears OPEN) and waits only for the workers that joined. A worker that is
// asleep or descheduled never delays a job (which matters on an oversubscribed machine).
class Pool {
 public:
  explicit Pool(int nthreads) : nthreads_(nthreads) {
    // Workers start from generation 0 (not from whatever they read when they first run:
    // a job may be published before a new thread gets scheduled).
    // If the system refuses a thread (limits), run with the workers we got.
    for (int i = 1; i < nthreads_; ++i) {
      try {
        workers_.emplace_back([this] { worker_loop(0); });
      } catch (const std::exception&) {
        break;
      }
    }
    nthreads_ = static_cast<int>(workers_.size()) + 1;
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> g(mu_);
      stop_ = true;
      generation_.fetch_add(1);
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
  }
  int size() const { return nthreads_; }

  // Returns false when the pool is busy (another thread is submitting).
  bool run(int64_t ntasks, TaskRef fn) {
    std::unique_lock<std::mutex> submit(submit_mu_, std::try_to_lock);
    if (!submit.owns_lock()) return false;
    job_ = &fn;
    ntasks_ = ntasks;
    next_.store(0, std::memory_order_relaxed);
    uint64_t gen;
    {
      std::lock_guard<std::mutex> g(mu_);
      gen = (generation_.load() + 1) & kGenMask;
      state_.store((gen << kGenShift) | kOpen, std::memory_order_release);
      generation_.store(gen, std::memory_order_release);
    }
    cv_.notify_all();
    work(fn);
    state_.fetch_and(~kOpen, std::memory_order_acq_rel);  // close: nobody joins any more
    int spins = 0;
    while ((state_.load(std::memory_order_acquire) & kActiveMask) != 0) {
      if (++spins > 256) std::this_thread::yield();
    }
    job_ = nullptr;
    return true;
  }

 private:
  static constexpr uint64_t kActiveMask = 0xffffffffull;
  static constexpr uint64_t kOpen = 1ull << 32;
  static constexpr int kGenShift = 33;
  static constexpr uint64_t kGenMask = (1ull << 31) - 1;

  void work(TaskRef& fn) {
    bool prev = tl_in_pool_task;
    tl_in_pool_task = true;
    for (;;) {
      int64_t i = next_.fetch_add(1, std::memory_order_relaxed);
      if (i >= ntasks_) break;
      fn(i);
    }
    tl_in_pool_task = prev;
  }

  bool try_join(uint64_t gen) {
    uint64_t s = state_.load(std::memory_order_acquire);
    for (;;) {
      if ((s >> kGenShift) != gen || !(s & kOpen)) return false;
      if (state_.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel)) return true;
    }
  }

  void worker_loop(uint64_t seen) {
    tl_in_pool_task = true;
    for (;;) {
      // Spin a little before sleeping: back-to-back small jobs are the common case.
      bool got = false;
      for (int s = 0; s < 4000; ++s) {
        if (generation_.load(std::memory_order_acquire) != seen) { got = true; break; }
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
      }
      if (!got) {
        std::unique_lock<std::mutex> lk(mu_);
        // wait_for (not wait): keeps the wheel's libstdc++ requirement at GLIBCXX_3.4.29.
        while (generation_.load() == seen) cv_.wait_for(lk, std::chrono::hours(24));
      }
      {
        std::lock_guard<std::mutex> lk(mu_);
        seen = generation_.load();
        if (stop_) return;
      }
      if (!try_join(seen)) continue;
      TaskRef* job = job_;
      const int64_t n = ntasks_;
      for (;;) {
        int64_t i = next_.fetch_add(1, std::memory_order_relaxed);
        if (i >= n) break;
        (*job)(i);
      }
      state_.fetch_sub(1, std::memory_order_release);
    }
  }

  int nthreads_;
  std::vector<std::thread> workers_;
  std::mutex submit_mu_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<uint64_t> state_{0};
  std::atomic<int64_t> next_{0};
  int64_t ntasks_ = 0;
  TaskRef* job_ = nullptr;
  bool stop_ = false;
};

// g_pool_mu guards the handle (g_pool, g_num_threads), not the pool's work.
std::mutex g_pool_mu;
std::shared_ptr<Pool> g_pool;
int g_num_threads = 0;

// Note [Pool after fork]: the child has none of the pool's worker threads, and a parent
// thread may have been inside Pool::run (holding the pool's submit_mu_, mu_) when it forked.
// The child never touches that Pool again: it is leaked, not destroyed (its destructor
// would join threads that do not exist and lock mutexes that may be held), and a fresh
// pool is built on first use. g_pool_mu itself is taken by prepare (Note [Fork safety],
// cpu/fork.cpp), so the handle is consistent and unlocked in the child.
void abandon_pool_in_child() {
  if (g_pool) new std::shared_ptr<Pool>(std::move(g_pool));  // leaked on purpose
  g_pool.reset();
  g_pool_mu.unlock();
}

[[maybe_unused]] const bool g_fork_registered = register_fork_lock(
    FORK_RANK_POOL, [] { g_pool_mu.lock(); }, [] { g_pool_mu.unlock(); }, abandon_pool_in_child);

std::shared_ptr<Pool> pool() {
  std::lock_guard<std::mutex> g(g_pool_mu);
  if (g_num_threads == 0) g_num_threads = default_num_threads();
  if (!g_pool) g_pool = std::make_shared<Pool>(g_num_threads);
  return g_pool;
}

}  // namespace

int get_num_threads() {
  std::lock_guard<std::mutex> g(g_pool_mu);
  if (g_num_threads == 0) g_num_threads = default_num_threads();
  return g_num_threads;
}

void set_num_threads(int n) {
  if (n < 1) n = 1;
  if (n > kMaxThreads) n = kMaxThreads;
  std::shared_ptr<Pool> old;
  {
    std::lock_guard<std::mutex> g(g_pool_mu);
    if (n == g_num_threads && g_pool) return;
    g_num_threads = n;
    old = std::move(g_pool);
  }
  // `old` is destroyed here (joins its workers) unless a running job still holds it.
}

void parallel_for_impl(int64_t ntasks, TaskRef fn) {
  if (!tl_in_pool_task && get_num_threads() > 1) {
    if (pool()->run(ntasks, fn)) return;
  }
  for (int64_t i = 0; i < ntasks; ++i) fn(i);
}

}  // namespace gradcore::cpu
