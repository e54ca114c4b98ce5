// peak.cpp — the machine's FMA peak and memory bandwidth, for gradcore-bench peak (every
// benchmark figure is also quoted as a fraction of these).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <vector>

#include "cpu/allocator.h"
#include "kernels/dispatch.h"
#include "cpu/parallel.h"
#include "kernels/kernel_api.h"

namespace gradcore::kernels {
namespace {
double now_ns() {
  return std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

double fma_peak_gflops(const KernelTable& t, int threads, double seconds) {
  if (threads < 1) threads = 1;
  // Calibrate the step count to ~1 ms per call on one thread, then run for `seconds`; the
  // best rate of the calls is the peak (other tenants and the scheduler only slow it).
  float sink = 0;
  int64_t reps = 1 << 12;
  for (;;) {
    const double t0 = now_ns();
    t.fma_peak(reps, &sink);
    if (now_ns() - t0 > 1e6 || reps > (int64_t(1) << 32)) break;
    reps *= 2;
  }
  double best = 0;
  const double end = now_ns() + seconds * 1e9;
  while (now_ns() < end) {
    std::atomic<int> started{0};
    std::vector<double> flops(threads, 0.0);
    const double t0 = now_ns();
    cpu::parallel_for(threads, [&](int64_t i) {
      started.fetch_add(1);
      float s = 0;
      flops[i] = t.fma_peak(reps, &s);
      if (s == 12345.f) started.fetch_add(1);  // keeps s alive
    }, threads);
    const double dt = now_ns() - t0;
    double total = 0;
    for (double f : flops) total += f;
    best = std::max(best, total / dt);
  }
  return best;  // flops per ns = GFLOP/s
}

double triad_gbs(int64_t n, int threads, double seconds) {
  if (n < 1024) n = 1024;
  std::vector<float> a(n), b(n, 1.0f), c(n, 2.0f);
  const float s = 3.0f;
  auto run = [&] {
    cpu::parallel_range(n, 1 << 14, [&](int64_t lo, int64_t hi) {
      float* __restrict pa = a.data();
      const float* __restrict pb = b.data();
      const float* __restrict pc = c.data();
      for (int64_t i = lo; i < hi; ++i) pa[i] = pb[i] + s * pc[i];
    }, threads);
  };
  run();
  double best = 0;
  const double end = now_ns() + seconds * 1e9;
  while (now_ns() < end) {
    const double t0 = now_ns();
    run();
    best = std::max(best, 3.0 * sizeof(float) * double(n) / (now_ns() - t0));  // STREAM's count
  }
  return best;
}

}  // namespace gradcore::kernels
