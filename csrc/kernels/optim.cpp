// optim.cpp — multi-tensor optimizer updates and the gradient norm.
//
// One call updates every tensor of a parameter group. The tensors are cut into work items
// of at most kChunk elements (fixed, whatever the thread count), the pool runs the items,
// and each element is updated by exactly one thread: results never depend on threads.
// The per-chunk loops are table entries (kernels_impl.inc), vectorised per ISA; the
// formulas are PyTorch's (torch/optim/*.py, single-tensor "foreach=False" paths).
//
// Issue 12's optimizers (Adamax, NAdam, RAdam, Adadelta, ASGD) are the plain loops below,
// compiled once in this generic unit (no ISA table entry): branch-free inner loops with
// hyper-parameters in locals, so the compiler vectorises them for the baseline ISA. Each
// follows PyTorch's single-tensor operation order (lerp, mul + addcmul, addcdiv with a
// scalar value) so float32 trajectories stay within rounding of torch's.
#include <cmath>
#include <vector>

#include "cpu/parallel.h"
#include "kernels/kernel_api.h"
#include "kernels/table.h"

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

// torch.lerp's two-sided formula (weight < 0.5: from the start, else from the end).
template <class T>
inline T lerp_to(T start, T end, T w) {
  return w < T(0.5) ? start + w * (end - start) : end - (end - start) * (T(1) - w);
}
// torch.maximum: NaN in either operand propagates.
template <class T>
inline T max_nan(T a, T b) {
  return a != a ? a : (b != b ? b : (a > b ? a : b));
}

template <class T>
void adamax_loop(const OptimHyper& h, T* __restrict p, const T* __restrict g, T* __restrict m, T* __restrict u,
                 int64_t n, const double* c) {
  const T sign = h.maximize ? T(-1) : T(1), wd = T(h.weight_decay), w = T(1.0 - h.beta1), b2 = T(h.beta2);
  const T eps = T(h.eps), nclr = T(-c[0]);
  for (int64_t i = 0; i < n; ++i) {
    const T gi = sign * g[i] + wd * p[i];
    const T mi = lerp_to(m[i], gi, w);
    const T ui = max_nan(u[i] * b2, std::fabs(gi) + eps);
    m[i] = mi; u[i] = ui;
    p[i] = p[i] + nclr * (mi / ui);
  }
}

// NAdam and RAdam share the moment updates; `decay` is AdamW-style (1 - lr wd), `l2` the
// coupled weight decay (one of the two is neutral).
template <class T>
void nadam_loop(const OptimHyper& h, T* __restrict p, const T* __restrict g, T* __restrict m, T* __restrict v,
                int64_t n, const double* c) {
  const T sign = h.maximize ? T(-1) : T(1);
  const T l2 = h.decoupled ? T(0) : T(h.weight_decay);
  const T decay = h.decoupled ? T(1.0 - h.lr * h.weight_decay) : T(1);
  const T w = T(1.0 - h.beta1), b2 = T(h.beta2), omb2 = T(1.0 - h.beta2), eps = T(h.eps);
  const T bc2 = T(c[0]), cg = T(c[1]), cm = T(c[2]);
  for (int64_t i = 0; i < n; ++i) {
    const T pi = p[i] * decay;
    const T gi = sign * g[i] + l2 * pi;
    const T mi = lerp_to(m[i], gi, w);
    const T vi = v[i] * b2 + omb2 * gi * gi;
    m[i] = mi; v[i] = vi;
    const T denom = std::sqrt(vi / bc2) + eps;
    const T q = pi + cg * (gi / denom);
    p[i] = q + cm * (mi / denom);
  }
}

template <class T>
void radam_loop(const OptimHyper& h, T* __restrict p, const T* __restrict g, T* __restrict m, T* __restrict v,
                int64_t n, const double* c) {
  const T sign = h.maximize ? T(-1) : T(1);
  const T l2 = h.decoupled ? T(0) : T(h.weight_decay);
  const T decay = h.decoupled ? T(1.0 - h.lr * h.weight_decay) : T(1);
  const T w = T(1.0 - h.beta1), b2 = T(h.beta2), omb2 = T(1.0 - h.beta2), eps = T(h.eps), lr = T(h.lr);
  const T bc1 = T(c[0]), bc2_sqrt = T(std::sqrt(c[1])), rect = T(c[2]);
  const bool adaptive = c[2] >= 0;
  for (int64_t i = 0; i < n; ++i) {
    const T pi = p[i] * decay;
    const T gi = sign * g[i] + l2 * pi;
    const T mi = lerp_to(m[i], gi, w);
    const T vi = v[i] * b2 + omb2 * gi * gi;
    m[i] = mi; v[i] = vi;
    const T step = (mi / bc1) * lr;
    p[i] = adaptive ? pi - step * (bc2_sqrt / (std::sqrt(vi) + eps)) * rect : pi - step;
  }
}

template <class T>
void adadelta_loop(const OptimHyper& h, T* __restrict p, const T* __restrict g, T* __restrict sq,
                   T* __restrict acc, int64_t n) {
  const T sign = h.maximize ? T(-1) : T(1), wd = T(h.weight_decay), rho = T(h.rho), omr = T(1.0 - h.rho);
  const T eps = T(h.eps), nlr = T(-h.lr);
  for (int64_t i = 0; i < n; ++i) {
    const T gi = sign * g[i] + wd * p[i];
    const T s = sq[i] * rho + omr * gi * gi;
    const T std_ = std::sqrt(s + eps);
    const T delta = std::sqrt(acc[i] + eps) / std_ * gi;
    sq[i] = s;
    acc[i] = acc[i] * rho + omr * delta * delta;
    p[i] = p[i] + nlr * delta;
  }
}

template <class T>
void asgd_loop(const OptimHyper& h, T* __restrict p, const T* __restrict g, T* __restrict ax, int64_t n,
               const double* c) {
  const T sign = h.maximize ? T(-1) : T(1), wd = T(h.weight_decay);
  const T decay = T(1.0 - h.lambd * c[0]), neta = T(-c[0]), mu = T(c[1]);
  const bool copy = c[1] == 1.0;  // torch copies p into ax while mu is exactly 1
  for (int64_t i = 0; i < n; ++i) {
    const T gi = sign * g[i] + wd * p[i];
    const T pi = p[i] * decay + neta * gi;
    p[i] = pi;
    ax[i] = copy ? pi : ax[i] + (pi - ax[i]) * mu;
  }
}

}  // namespace

template <class T>
void optim_step(OptimKind kind, const OptimHyper& h, int64_t count, T* const* params, const T* const* grads,
                T* const* state0, T* const* state1, T* const* state2, const int64_t* sizes, const int64_t* steps,
                const double* coef) {
  const TypedKernels<T>& k = table<T>();
  std::vector<Item> items = make_items(count, sizes);
  cpu::parallel_for(static_cast<int64_t>(items.size()), [&](int64_t w) {
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
      case OPT_ADAMAX: adamax_loop(h, p, g, at(state0), at(state1), n, coef + t * kOptimCoefs); break;
      case OPT_NADAM: nadam_loop(h, p, g, at(state0), at(state1), n, coef + t * kOptimCoefs); break;
      case OPT_RADAM: radam_loop(h, p, g, at(state0), at(state1), n, coef + t * kOptimCoefs); break;
      case OPT_ADADELTA: adadelta_loop(h, p, g, at(state0), at(state1), n); break;
      case OPT_ASGD: asgd_loop(h, p, g, at(state0), n, coef + t * kOptimCoefs); break;
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
                                float* const*, float* const*, const int64_t*, const int64_t*, const double*);
template void optim_step<double>(OptimKind, const OptimHyper&, int64_t, double* const*, const double* const*,
                                 double* const*, double* const*, double* const*, const int64_t*, const int64_t*,
                                 const double*);
template double grad_norm_pow<float>(int64_t, const float* const*, const int64_t*, double);
template double grad_norm_pow<double>(int64_t, const double* const*, const int64_t*, double);

}  // namespace gradcore::kernels
