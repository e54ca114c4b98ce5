// optim.cpp — multi-tensor optimizer updates and the gradient norm.
//
// One call updates every tensor of a parameter group. The tensors are cut into work items
// of at most kChunk elements (fixed, whatever the thread count), the pool runs the items,
// and each element is updated by exactly one thread: results never depend on threads.
// The formulas are PyTorch's (torch/optim/*.py, single-tensor "foreach=False" paths).
#include <cmath>
#include <vector>

#include "cpu/parallel.h"
#include "kernels/kernel_api.h"

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

template <class T>
void sgd(const OptimHyper& h, T* p, const T* g, T* buf, int64_t n, bool first) {
  const T lr = T(h.lr), wd = T(h.weight_decay), mom = T(h.momentum), damp = T(h.dampening);
  const T sign = h.maximize ? T(-1) : T(1);
  for (int64_t i = 0; i < n; ++i) {
    T d = sign * g[i] + wd * p[i];
    if (mom != T(0)) {
      buf[i] = first ? d : mom * buf[i] + (T(1) - damp) * d;
      d = h.nesterov ? d + mom * buf[i] : buf[i];
    }
    p[i] -= lr * d;
  }
}

template <class T>
void adam(const OptimHyper& h, T* p, const T* g, T* m, T* v, T* vmax, int64_t n, int64_t step) {
  const T lr = T(h.lr), b1 = T(h.beta1), b2 = T(h.beta2), eps = T(h.eps), wd = T(h.weight_decay);
  const T sign = h.maximize ? T(-1) : T(1);
  const double bc1 = 1.0 - std::pow(h.beta1, static_cast<double>(step));
  const double bc2 = 1.0 - std::pow(h.beta2, static_cast<double>(step));
  const T step_size = T(h.lr / bc1);
  const T bc2_sqrt = T(std::sqrt(bc2));
  const T decay = T(1.0 - h.lr * h.weight_decay);
  for (int64_t i = 0; i < n; ++i) {
    T gi = sign * g[i];
    if (h.decoupled) p[i] *= decay;          // AdamW
    else if (wd != T(0)) gi += wd * p[i];    // Adam's L2 penalty
    m[i] = b1 * m[i] + (T(1) - b1) * gi;     // m.lerp_(g, 1 - b1)
    v[i] = b2 * v[i] + (T(1) - b2) * gi * gi;
    T denom;
    if (h.amsgrad) {
      vmax[i] = vmax[i] > v[i] ? vmax[i] : v[i];
      denom = std::sqrt(vmax[i]) / bc2_sqrt + eps;
    } else {
      denom = std::sqrt(v[i]) / bc2_sqrt + eps;
    }
    p[i] -= step_size * m[i] / denom;
  }
  (void)lr;
}

template <class T>
void rmsprop(const OptimHyper& h, T* p, const T* g, T* sq, T* buf, T* gavg, int64_t n) {
  const T lr = T(h.lr), a = T(h.alpha), eps = T(h.eps), wd = T(h.weight_decay), mom = T(h.momentum);
  const T sign = h.maximize ? T(-1) : T(1);
  for (int64_t i = 0; i < n; ++i) {
    T gi = sign * g[i] + wd * p[i];
    sq[i] = a * sq[i] + (T(1) - a) * gi * gi;
    T avg;
    if (h.centered) {
      gavg[i] = a * gavg[i] + (T(1) - a) * gi;  // grad_avg.lerp_(g, 1 - alpha)
      avg = std::sqrt(sq[i] - gavg[i] * gavg[i]) + eps;
    } else {
      avg = std::sqrt(sq[i]) + eps;
    }
    if (mom > T(0)) {
      buf[i] = mom * buf[i] + gi / avg;
      p[i] -= lr * buf[i];
    } else {
      p[i] -= lr * gi / avg;
    }
  }
}

template <class T>
void adagrad(const OptimHyper& h, T* p, const T* g, T* sum, int64_t n, int64_t step) {
  const T clr = T(h.lr / (1.0 + static_cast<double>(step - 1) * h.lr_decay));
  const T eps = T(h.eps), wd = T(h.weight_decay);
  const T sign = h.maximize ? T(-1) : T(1);
  for (int64_t i = 0; i < n; ++i) {
    T gi = sign * g[i] + wd * p[i];
    sum[i] += gi * gi;
    p[i] -= clr * gi / (std::sqrt(sum[i]) + eps);
  }
}

}  // namespace

template <class T>
void optim_step(OptimKind kind, const OptimHyper& h, int64_t count, T* const* params, const T* const* grads,
                T* const* state0, T* const* state1, T* const* state2, const int64_t* sizes, const int64_t* steps) {
  std::vector<Item> items = make_items(count, sizes);
  cpu::parallel_for(static_cast<int64_t>(items.size()), [&](int64_t w) {
    const Item& it = items[w];
    const int64_t t = it.tensor, b = it.begin, n = it.end - it.begin;
    T* p = params[t] + b;
    const T* g = grads[t] + b;
    auto at = [&](T* const* s) { return s && s[t] ? s[t] + b : nullptr; };
    switch (kind) {
      case OPT_SGD: sgd(h, p, g, at(state0), n, steps[t] == 1); break;
      case OPT_ADAM: adam(h, p, g, at(state0), at(state1), at(state2), n, steps[t]); break;
      case OPT_RMSPROP: rmsprop(h, p, g, at(state0), at(state1), at(state2), n); break;
      case OPT_ADAGRAD: adagrad(h, p, g, at(state0), n, steps[t]); break;
    }
  });
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
  });
  double total = 0;
  for (double v : part) total = inf ? (v > total || v != v ? v : total) : total + v;
  return total;
}

template void optim_step<float>(OptimKind, const OptimHyper&, int64_t, float* const*, const float* const*, float* const*,
                                float* const*, float* const*, const int64_t*, const int64_t*);
template void optim_step<double>(OptimKind, const OptimHyper&, int64_t, double* const*, const double* const*,
                                 double* const*, double* const*, double* const*, const int64_t*, const int64_t*);
template double grad_norm_pow<float>(int64_t, const float* const*, const int64_t*, double);
template double grad_norm_pow<double>(int64_t, const double* const*, const int64_t*, double);

}  // namespace gradcore::kernels
