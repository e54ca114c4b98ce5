#include "cpu/parallel.h"

#include <sched.h>

#include <algorithm>
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
  bool run(int64_t ntasks, TaskRef fn, int max_threads) {
    std::unique_lock<std::mutex> submit(submit_mu_, std::try_to_lock);
    if (!submit.owns_lock()) return false;
    job_ = &fn;
    ntasks_ = ntasks;
    max_joiners_ = max_threads > 0 && max_threads < nthreads_ ? uint64_t(max_threads - 1) : uint64_t(nthreads_);
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
      if ((s >> kGenShift) != gen || !(s & kOpen) || (s & kActiveMask) >= max_joiners_) return false;
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
  uint64_t max_joiners_ = 0;
  TaskRef* job_ = nullptr;
 public:
  std::mutex cost_mu;  // one measurement at a time (pool_cost)
 private:
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

void parallel_for_impl(int64_t ntasks, TaskRef fn, int max_threads) {
  if (!tl_in_pool_task && get_num_threads() > 1) {
    if (pool()->run(ntasks, fn, max_threads)) return;
  }
  for (int64_t i = 0; i < ntasks; ++i) fn(i);
}

namespace {

// The lower quartile of the times (ns) of kJobs runs of `job` (robust to the VM's and the
// scheduler's hiccups, which only ever add time).
template <class F>
double median_ns(F&& job) {
  constexpr int kJobs = 31;
  double samples[kJobs];
  for (int j = 0; j < kJobs; ++j) {
    auto t0 = std::chrono::steady_clock::now();
    if (!job()) return -1;
    samples[j] = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
  }
  std::sort(samples, samples + kJobs);
  return samples[kJobs / 4];
}

// Note [Measuring the pool's cost]: after warming up (until every worker has joined a
// job, at most 20 ms: a new pool's threads may not have been scheduled yet), three
// timings, each the lower quartile of 31 runs.
//   fixed:    jobs of one task per thread whose tasks wait (at most 1 ms) until all have
//             started: publishing, every worker joining, the caller waiting for the last.
//   per byte: the caller writes a 512 KiB buffer, then n threads each sum 1/n of it,
//             against the caller summing all of it alone: what remains after the fixed
//             cost and the split work is the price of moving the others' shares out of
//             the caller's cache (what a worker pays for operands the caller just wrote).
constexpr double kJoinWaitNs = 1e6;  // a task waits at most this long for the others

PoolCost measure_cost(Pool& p) {
  PoolCost c;
  const int n = p.size();
  {
    std::atomic<int> joined{0};
    const auto start = std::chrono::steady_clock::now();
    while (joined.load() < 3 * (n - 1) && std::chrono::steady_clock::now() - start < std::chrono::milliseconds(20)) {
      std::atomic<int> arrived{0};
      auto task = [&](int64_t) {
        if (arrived.fetch_add(1) > 0) joined.fetch_add(1);
        auto t0 = std::chrono::steady_clock::now();
        while (arrived.load() < n && std::chrono::steady_clock::now() - t0 < std::chrono::microseconds(200)) {
        }
      };
      if (!p.run(n, TaskRef(task), 0)) return PoolCost{-1, 0};
    }
  }
  auto fixed = median_ns([&] {
    std::atomic<int> arrived{0};
    auto task = [&](int64_t) {
      arrived.fetch_add(1);
      auto t0 = std::chrono::steady_clock::now();
      while (arrived.load() < n && std::chrono::steady_clock::now() - t0 < std::chrono::nanoseconds(int64_t(kJoinWaitNs))) {
      }
    };
    return p.run(n, TaskRef(task), 0);
  });
  if (fixed < 0) return PoolCost{-1, 0};
  constexpr int64_t kWords = (512 << 10) / 8;
  std::vector<uint64_t> buf(kWords);
  std::atomic<uint64_t> sink{0};
  uint64_t stamp = 1;
  auto sum = [&](int64_t b, int64_t e) {
    uint64_t acc = 0;
    for (int64_t i = b; i < e; ++i) acc += buf[i];
    sink.fetch_add(acc, std::memory_order_relaxed);
  };
  auto refill = [&] {
    ++stamp;
    for (int64_t i = 0; i < kWords; ++i) buf[i] = stamp + i;
  };
  // Each timing includes the refill (the same in both), so the difference is the split's.
  const double seq = median_ns([&] { refill(); sum(0, kWords); return true; });
  const double par = median_ns([&] {
    refill();
    const int64_t per = (kWords + n - 1) / n;
    auto task = [&](int64_t t) { sum(t * per, std::min<int64_t>(kWords, (t + 1) * per)); };
    return p.run(n, TaskRef(task), 0);
  });
  if (par < 0) return PoolCost{-1, 0};
  const double refill_ns = median_ns([&] { refill(); return true; });
  const double sum_ns = seq - refill_ns > 0 ? seq - refill_ns : 0;
  const double moved = double(kWords * 8) * (n - 1) / n;
  const double extra = par - refill_ns - sum_ns / n - fixed;
  c.fixed_ns = fixed;
  c.per_byte_ns = extra > 0 ? extra / moved : 0;
  return c;
}

}  // namespace

// Measured once per process and pool size (a property of the machine, not of one pool:
// tests and DataLoader workers rebuild pools often). A fork's child inherits the figures.
struct CostSlot {
  std::atomic<bool> done{false};
  double fixed_ns = 0, per_byte_ns = 0;
  // A measurement whose workers often missed the 1 ms join window (the CPUs were busy) is used
  // but not kept: measured again on a call at least kRetry later.
  std::chrono::steady_clock::time_point retry_after{};
  bool have_provisional = false;
};
constexpr auto kRetry = std::chrono::milliseconds(200);
CostSlot g_cost_slots[kMaxThreads + 1];

PoolCost pool_cost() {
  if (tl_in_pool_task) return PoolCost{};
  std::shared_ptr<Pool> p = pool();
  const int n = p->size();
  if (n <= 1) return PoolCost{};
  CostSlot& slot = g_cost_slots[n];
  if (slot.done.load(std::memory_order_acquire)) return PoolCost{slot.fixed_ns, slot.per_byte_ns};
  std::lock_guard<std::mutex> g(p->cost_mu);
  if (slot.done.load(std::memory_order_acquire)) return PoolCost{slot.fixed_ns, slot.per_byte_ns};
  const auto now = std::chrono::steady_clock::now();
  if (slot.have_provisional && now < slot.retry_after) return PoolCost{slot.fixed_ns, slot.per_byte_ns};
  PoolCost c = measure_cost(*p);
  if (c.fixed_ns < 0) return PoolCost{};  // another thread holds the pool: measure later
  slot.fixed_ns = c.fixed_ns;
  slot.per_byte_ns = c.per_byte_ns;
  if (c.fixed_ns >= kJoinWaitNs / 2) {
    slot.have_provisional = true;
    slot.retry_after = now + kRetry;
    return c;
  }
  slot.done.store(true, std::memory_order_release);
  return c;
}

int split_threads(double work_ns, double moved_bytes, int threads, const PoolCost& c) {
  if (threads <= 1) return 1;
  if (!(c.fixed_ns > 0)) return threads;  // nothing measured
  int best = 1;
  double best_time = work_ns * (1 - kMinSaving);
  for (int t = 2; t <= threads; ++t) {
    const double tt = work_ns / t + c.fixed_ns + c.per_byte_ns * moved_bytes * (t - 1) / t;
    if (tt < best_time) {
      best = t;
      best_time = tt;
    }
  }
  return best;
}

int paying_threads(double work_ns) {
  const int n = get_num_threads();
  if (n <= 1 || tl_in_pool_task) return 1;
  const CostSlot& slot = g_cost_slots[n];
  const PoolCost c = slot.done.load(std::memory_order_acquire) ? PoolCost{slot.fixed_ns, slot.per_byte_ns} : pool_cost();
  // An unmeasured pool (another Python thread held it) splits nothing that needs a model.
  if (!(c.fixed_ns > 0)) return 1;
  return split_threads(work_ns, 0, n, c);
}

}  // namespace gradcore::cpu
