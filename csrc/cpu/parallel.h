// parallel.h — gradcore's persistent thread pool.
//
// One pool per process, created on first use with GRADCORE_NUM_THREADS threads (default:
// the CPUs this process may run on). The calling thread takes part in the work, so a
// pool of n threads has n - 1 workers. Workers spin briefly after a job, then sleep.
//
//   cpu::parallel_for(ntasks, [&](int64_t task) { ... });  // every task runs exactly once
//
// Tasks are handed out dynamically; code that needs thread-count-independent results
// (reductions) makes its task boundaries independent of the thread count and combines
// the per-task results in task order. Called from inside a task, or while another Python
// thread holds the pool, parallel_for simply runs the tasks inline on the caller.
// After fork() the child builds a fresh pool on first use.
#pragma once
#include <cstdint>
#include <utility>

namespace gradcore::cpu {

constexpr int kMaxThreads = 512;  // a pool larger than this is a mistake, not a configuration

int get_num_threads();
void set_num_threads(int n);   // clamped to [1, kMaxThreads]; rebuilds the pool

// Non-owning callable reference (no allocation per call).
class TaskRef {
 public:
  template <class F>
  TaskRef(F& f) : obj_(&f), call_([](void* o, int64_t i) { (*static_cast<F*>(o))(i); }) {}
  void operator()(int64_t i) const { call_(obj_, i); }
 private:
  void* obj_;
  void (*call_)(void*, int64_t);
};

void parallel_for_impl(int64_t ntasks, TaskRef fn, int max_threads);

// max_threads > 0: at most that many threads (the caller included) take part.
template <class F>
inline void parallel_for(int64_t ntasks, F&& fn, int max_threads = 0) {
  if (ntasks <= 0) return;
  if (ntasks == 1 || max_threads == 1) {
    for (int64_t i = 0; i < ntasks; ++i) fn(i);
    return;
  }
  parallel_for_impl(ntasks, TaskRef(fn), max_threads);
}

// What a parallel job costs on the current pool beyond its work, measured once per process
// and pool size (Note [Measuring the pool's cost], parallel.cpp; all zero for a 1-thread pool or inside
// a pool task): a fixed part (publishing the job, every worker joining, the caller waiting
// for the last) and a part per byte of operands the workers read from the caller's cache.
struct PoolCost {
  double fixed_ns = 0;
  double per_byte_ns = 0;
};
PoolCost pool_cost();

// Note [Threads that pay]: a job split over t threads takes about
//   T(t) = T(1) / t + fixed + per_byte * moved * (t - 1) / t
// where T(1) is its work on one thread (work_ns, from a rate the kernels measured), moved the
// operand bytes the workers read out of the caller's cache, and fixed and per_byte the
// pool's measured costs. split_threads takes the t <= threads with the least T(t), and only
// when that saves at least kMinSaving of T(1); with nothing measured (fixed == 0) it takes
// every thread. The margin is wide because the rates are best-case (small products do not
// reach the micro-kernel's peak) and the costs are measured on an idle pool: measured on
// Zen 4 (2 threads, float32) a 64^3 product, predicted to save 29 %, ran no faster split;
// (16, 784, 128), predicted 44 %, ran 1.5x faster. GEMM, elementwise, reductions and the
// optimizer steps all decide through it.
constexpr double kMinSaving = 0.3;
int split_threads(double work_ns, double moved_bytes, int threads, const PoolCost& c);

// split_threads on the current pool for work that moves nothing between cores: loops that
// cut [0, n) into the same contiguous ranges as the loops before them (a chain of
// elementwise ops on one shape: each thread reads what it wrote). Measured on Zen 4
// (2 threads), counting the pool's per-byte cost there kept 65536-element adds and
// 262144-element tanh on one thread although both ran 1.8x faster split. 1 on a 1-thread
// pool or inside a pool task.
int paying_threads(double work_ns);

// Split [0, n) into at most get_num_threads() (or max_threads) contiguous ranges of
// >= grain elements and run fn(begin, end) on each. Only for work whose result does not
// depend on the split.
template <class F>
inline void parallel_range(int64_t n, int64_t grain, F&& fn, int max_threads = 0) {
  int64_t nt = get_num_threads();
  if (max_threads > 0 && max_threads < nt) nt = max_threads;
  int64_t chunks = grain > 0 ? (n + grain - 1) / grain : 1;
  if (chunks > nt) chunks = nt;
  if (chunks <= 1) { if (n > 0) fn(int64_t(0), n); return; }
  int64_t per = (n + chunks - 1) / chunks;
  parallel_for(chunks, [&](int64_t c) {
    int64_t b = c * per, e = b + per < n ? b + per : n;
    if (b < e) fn(b, e);
  });
}

}  // namespace gradcore::cpu
