// optim.cpp — multi-tensor optimizer updates and the gradient norm.
//
// One call updates every tensor of a parameter group. The tensors are cut into work items
// of at most kChunk elements (fixed, whatever the thread count), the pool runs the items,
// and each element is updated by exactly one thread: results never depend on threads.
// The per-chunk loops are table entries (kernels_impl.inc), vectorised per ISA; the
// formulas are PyTorch's (torch/optim/*.py, single-tensor "foreach=False" paths).
//
// Issue 12's optimizers (Adamax, NAdam, RAdam, Adadelta, ASGD) take per-tensor coefficients
// (coef: kOptimCoefs doubles per tensor, computed by the op layer from the step counts).
#include <cmath>
#include <vector>
#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
#include <xmmintrin.h>
#define GC_HAVE_MXCSR 1
#endif

#include "cpu/parallel.h"
#include "kernels/kernel_api.h"
#include "kernels/table.h"
#include "kernels/work.h"

namespace gradcore::kernels {
namespace {

constexpr int64_t kChunk = 1 << 15;

struct Item { int64_t tensor, begin, end; };

std::vector<Item> make_items(int64_t count, const int64_t* sizes) {
  std::vector<Item> items;
  for (int64_t t = 0; t < count; ++t)
    for (int64_t b = 0; b < sizes[t]; b += kChunk) items.push_back({t, b, b + kChunk < sizes[t] ? b + kChunk : sizes[t]});
  return items;
}

int64_t total_size(int64_t count, const int64_t* sizes) {
  int64_t n = 0;
  for (int64_t t = 0; t < count; ++t) n += sizes[t];
  return n;
}

// Note [Optimizer state flushes denormals]
// Moments of a parameter whose gradient stays zero (a dead ReLU unit, a class never seen)
// decay geometrically (Adam's m by beta1 = 0.9 per step) and reach the denormal range
// (|x| < 1.2e-38 in float32) after some 800 steps. On Intel cores every instruction with
// a denormal operand or result takes a microcode assist of ~100 cycles: measured on a
// Sapphire-Rapids-class Xeon, Adam over 536k elements took 0.37 ms with normal state and
// 3.1-4.4 ms with denormal moments, so a 784-512-256-10 MLP's step at batch 1 slowed from
// 0.64 to 2.0 ms within 1000 steps. The update loops therefore run with the SSE control
// register's flush-to-zero and denormals-are-zero bits set (and restored after each work
// item; other ops and other code keep IEEE denormals): a denormal state value becomes 0.
// What that changes is below float32's smallest normal number: a moment differs from
// PyTorch's by less than 1.2e-38, and the parameter not at all (an update of that size
// is far below half an ulp of any normal parameter). PyTorch (which keeps denormals
// unless torch.set_flush_denormal(True)) pays the assists instead.
class FlushDenormals {
 public:
#ifdef GC_HAVE_MXCSR
  FlushDenormals() : saved_(_mm_getcsr()) { _mm_setcsr(saved_ | kFtz | kDaz); }
  ~FlushDenormals() { _mm_setcsr(saved_); }
#else
  FlushDenormals() = default;  // no control register to set: IEEE denormals stay
#endif
  FlushDenormals(const FlushDenormals&) = delete;
  FlushDenormals& operator=(const FlushDenormals&) = delete;
#ifdef GC_HAVE_MXCSR

 private:
  static constexpr unsigned kFtz = 0x8000, kDaz = 0x0040;
  unsigned saved_;
#endif
};

}  // namespace

template <class T>
void optim_step(OptimKind kind, const OptimHyper& h, int64_t count, T* const* params, const T* const* grads,
                T* const* state0, T* const* state1, T* const* state2, const int64_t* sizes, const int64_t* steps,
                const double* coef) {
  const TypedKernels<T>& k = table<T>();
  std::vector<Item> items = make_items(count, sizes);
  // Per element: the parameter read and written, the gradient read, each state read and written.
  const int states = (state0 != nullptr) + (state1 != nullptr) + (state2 != nullptr);
  const int threads = stream_threads<T>(total_size(count, sizes), (3 + 2 * states) * sizeof(T));
  cpu::parallel_for(static_cast<int64_t>(items.size()), [&](int64_t w) {
    const FlushDenormals ftz;  // Note [Optimizer state flushes denormals]
    const Item& it = items[w];
    const int64_t t = it.tensor, b = it.begin, n = it.end - it.begin;
    T* p = params[t] + b;
    const T* g = grads[t] + b;
    auto at = [&](T* const* s) { return s && s[t] ? s[t] + b : nullptr; };
    switch (kind) {
      case OPT_SGD: k.sgd_update(&h, p, g, at(state0), n, steps[t] == 1); break;
      case OPT_ADAM: k.adam_update(&h, p, g, at(state0), at(state1), at(state2), n, steps[t]); break;
      case OPT_RMSPROP: k.rmsprop_update(&h, p, g, at(state0), at(state1), at(state2), n); break;
      case OPT_ADAGRAD: k.adagrad_update(&h, p, g, at(state0), n, steps[t]); break;
      case OPT_ADAMAX: k.adamax_update(&h, p, g, at(state0), at(state1), n, coef + t * kOptimCoefs); break;
      case OPT_NADAM: k.nadam_update(&h, p, g, at(state0), at(state1), n, coef + t * kOptimCoefs); break;
      case OPT_RADAM: k.radam_update(&h, p, g, at(state0), at(state1), n, coef + t * kOptimCoefs); break;
      case OPT_ADADELTA: k.adadelta_update(&h, p, g, at(state0), at(state1), n); break;
      case OPT_ASGD: k.asgd_update(&h, p, g, at(state0), n, coef + t * kOptimCoefs); break;
    }
  }, threads);
}

template <class T>
double grad_norm_pow(int64_t count, const T* const* grads, const int64_t* sizes, double p) {
  std::vector<Item> items = make_items(count, sizes);
  std::vector<double> part(items.size());
  const bool inf = std::isinf(p);
  cpu::parallel_for(static_cast<int64_t>(items.size()), [&](int64_t w) {
    const Item& it = items[w];
    const T* g = grads[it.tensor];
    double acc = 0;
    for (int64_t i = it.begin; i < it.end; ++i) {
      double a = std::fabs(static_cast<double>(g[i]));
      if (inf) acc = a > acc || a != a ? a : acc;
      else acc += p == 2.0 ? a * a : p == 1.0 ? a : std::pow(a, p);
    }
    part[w] = acc;
  }, stream_threads<T>(total_size(count, sizes), sizeof(T)));
  double total = 0;
  for (double v : part) total = inf ? (v > total || v != v ? v : total) : total + v;
  return total;
}

template void optim_step<float>(OptimKind, const OptimHyper&, int64_t, float* const*, const float* const*, float* const*,
                                float* const*, float* const*, const int64_t*, const int64_t*, const double*);
template void optim_step<double>(OptimKind, const OptimHyper&, int64_t, double* const*, const double* const*,
                                 double* const*, double* const*, double* const*, const int64_t*, const int64_t*,
                                 const double*);
template double grad_norm_pow<float>(int64_t, const float* const*, const int64_t*, double);
template double grad_norm_pow<double>(int64_t, const double* const*, const int64_t*, double);

}  // namespace gradcore::kernels
