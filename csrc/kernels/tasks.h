// tasks.h — independent GEMM-sized tasks on the pool (conv's images and groups, attention's
// query and key tiles): how many threads pay for them, and running them.
#pragma once
#include <algorithm>
#include <cstdint>

#include "cpu/parallel.h"
#include "kernels/gemm_plan.h"

namespace gradcore::kernels {

// Threads worth waking for `fmas` multiply-adds split over `tasks` independent tasks.
template <class T>
int task_threads(int64_t tasks, double fmas) {
  if (tasks < 2 || cpu::get_num_threads() <= 1) return 1;
  return static_cast<int>(std::min<int64_t>(tasks, gemm_threads(fmas, 0, gemm_machine_for<T>())));
}

// fn(t) for t in [0, tasks) on `threads` threads, or on the caller (whose GEMMs may then
// split themselves).
template <class F>
void run_tasks(int64_t tasks, int threads, F&& fn) {
  if (threads > 1) {
    cpu::parallel_range(tasks, 1, [&](int64_t b, int64_t e) {
      for (int64_t t = b; t < e; ++t) fn(t);
    }, threads);
  } else {
    for (int64_t t = 0; t < tasks; ++t) fn(t);
  }
}

}  // namespace gradcore::kernels
