// optim.cpp — the fused optimizer step and gradient clipping: argument checks, then one
// multi-tensor kernel call over every parameter of a group. No autograd here.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "autograd/ops/common.h"

namespace gradcore::ops {
namespace {

kernels::OptimKind parse_kind(const std::string& kind) {
  if (kind == "sgd") return kernels::OPT_SGD;
  if (kind == "adam") return kernels::OPT_ADAM;
  if (kind == "rmsprop") return kernels::OPT_RMSPROP;
  if (kind == "adagrad") return kernels::OPT_ADAGRAD;
  if (kind == "adamax") return kernels::OPT_ADAMAX;
  if (kind == "nadam") return kernels::OPT_NADAM;
  if (kind == "radam") return kernels::OPT_RADAM;
  if (kind == "adadelta") return kernels::OPT_ADADELTA;
  if (kind == "asgd") return kernels::OPT_ASGD;
  throw ValueError("unknown optimizer kind '" + kind + "'");
}

// Per-parameter scalar state the op layer keeps in `scalars` (ns entries per parameter):
// NAdam {mu_product}, ASGD {eta, mu}.
int64_t scalar_count(kernels::OptimKind kind) {
  return kind == kernels::OPT_NADAM ? 1 : kind == kernels::OPT_ASGD ? 2 : 0;
}

double round_scalar(const OptimHyper& h, double x) { return h.round_scalars ? static_cast<double>(static_cast<float>(x)) : x; }

// The kernel's coefficients for one parameter at step t (after the increment), updating its
// scalar state `sc` in place: PyTorch's per-tensor Python arithmetic (in double), with the
// scalar state rounded as PyTorch's float32 state tensors round it (see kernels.h).
void step_coefficients(kernels::OptimKind kind, const OptimHyper& h, double t, double* sc, double* c) {
  switch (kind) {
    case kernels::OPT_ADAMAX: c[0] = h.lr / (1.0 - std::pow(h.beta1, t)); break;
    case kernels::OPT_NADAM: {
      const double mu = h.beta1 * (1.0 - 0.5 * std::pow(0.96, t * h.momentum_decay));
      const double mu_next = h.beta1 * (1.0 - 0.5 * std::pow(0.96, (t + 1.0) * h.momentum_decay));
      // mu_product *= mu: a float32 product when the state is float32.
      sc[0] = h.round_scalars ? static_cast<double>(static_cast<float>(sc[0]) * static_cast<float>(mu)) : sc[0] * mu;
      c[0] = 1.0 - std::pow(h.beta2, t);
      c[1] = -h.lr * (1.0 - mu) / (1.0 - sc[0]);
      c[2] = (-h.lr * mu_next) / (1.0 - sc[0] * mu_next);
      break;
    }
    case kernels::OPT_RADAM: {
      c[0] = 1.0 - std::pow(h.beta1, t);
      c[1] = 1.0 - std::pow(h.beta2, t);
      const double rho_inf = 2.0 / (1.0 - h.beta2) - 1.0;
      const double rho_t = rho_inf - 2.0 * t * std::pow(h.beta2, t) / c[1];
      // rho_t > 5: the rectified adaptive step; else plain momentum (marked by -1).
      c[2] = rho_t > 5.0 ? std::sqrt((rho_t - 4.0) * (rho_t - 2.0) * rho_inf / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t))
                         : -1.0;
      break;
    }
    case kernels::OPT_ASGD: {
      c[0] = sc[0];  // eta and mu of the previous step drive this one
      c[1] = sc[1];
      sc[0] = round_scalar(h, h.lr / std::pow(1.0 + h.lambd * h.lr * t, h.alpha));
      sc[1] = round_scalar(h, 1.0 / std::max(1.0, t - h.t0));
      break;
    }
    default: break;
  }
}

// Parameters that have a gradient, checked once.
tensor_list with_grads(const tensor_list& params, const char* what) {
  tensor_list out;
  for (size_t i = 0; i < params.size(); ++i) {
    const TensorPtr& p = params[i];
    GC_CHECK(p, TypeError, what, ": parameter ", i, " is None");
    if (!p->grad) continue;
    GC_CHECK(p->grad->shape == p->shape, ValueError, what, ": gradient ", shape_str(p->grad->shape),
             " for a parameter of shape ", shape_str(p->shape));
    check_same_dtype(*p, *p->grad, what);
    GC_CHECK(p->grad->is_contiguous, RuntimeError, what, ": parameter ", i, " has a non-contiguous gradient");
    out.push_back(p);
  }
  return out;
}

}  // namespace

// Note [Transactional optimizer step]
// optim_step checks everything it will touch (parameters, gradients, state buffers, step
// counters, memory overlap) before it writes anything: a call that throws leaves every
// parameter, state buffer, step counter and version counter as it was. Python's
// Optimizer.step relies on this, and calls with check_only for every group first when a
// step spans several groups, so that a bad last group cannot leave the first ones updated.
namespace {

// What one validated call will write: the parameters with a gradient (by index) and the
// raw pointers the kernel gets.
struct StepPlan {
  std::vector<size_t> index;
  std::vector<int64_t> sizes;
  std::vector<void*> p_ptr, g_ptr, s_ptr[3];
};

StepPlan plan_step(const std::string& kind_name, kernels::OptimKind kind, const OptimHyper& h,
                   const tensor_list& params, const std::vector<tensor_list>& states, const TensorPtr& steps,
                   const TensorPtr& scalars) {
  const size_t n = params.size();
  GC_CHECK(states.size() <= 3, ValueError, "optim_step: at most 3 state lists");
  for (const auto& s : states)
    GC_CHECK(s.size() == n, ValueError, "optim_step: ", s.size(), " state tensors for ", n, " parameters");
  GC_CHECK(steps && steps->dtype == DType::Float64 && steps->numel == static_cast<int64_t>(n), ValueError,
           "optim_step: steps must be a float64 tensor with one entry per parameter");
  const double* step_data = steps->data<double>();
  const int64_t ns = scalar_count(kind);
  if (ns) {
    GC_CHECK(scalars && scalars->dtype == DType::Float64 && scalars->is_contiguous &&
                 scalars->numel == ns * static_cast<int64_t>(n),
             ValueError, "optim_step: ", kind_name, " needs scalars, a contiguous float64 tensor of ", ns,
             " entries per parameter");
    GC_CHECK(scalars->storage != steps->storage, ValueError, "optim_step: scalars and steps share memory");
  }
  // The buffers each update reads and writes must be there (see kernels.h for the slots).
  const bool two = kind == kernels::OPT_ADAMAX || kind == kernels::OPT_NADAM || kind == kernels::OPT_RADAM ||
                   kind == kernels::OPT_ADADELTA;
  const bool need[3] = {
      kind != kernels::OPT_SGD || h.momentum != 0.0,
      kind == kernels::OPT_ADAM || (kind == kernels::OPT_RMSPROP && h.momentum > 0.0) || two,
      (kind == kernels::OPT_ADAM && h.amsgrad) || (kind == kernels::OPT_RMSPROP && h.centered)};
  for (size_t k = 0; k < 3; ++k) {
    if (!need[k]) continue;
    GC_CHECK(k < states.size(), ValueError, "optim_step: ", kind_name, " with these options needs state list ", k);
    for (size_t i = 0; i < n; ++i)
      GC_CHECK(states[k][i], ValueError, "optim_step: ", kind_name, " needs state buffer ", k, " for parameter ", i);
  }
  StepPlan plan;
  if (n == 0) return plan;
  GC_CHECK(params[0], TypeError, "optim_step: parameter 0 is None");
  const DType dt = params[0]->dtype;
  // Byte ranges the kernel writes, with the parameter they belong to: they must not overlap,
  // or work items of different tensors would race on the same memory.
  struct Range { uintptr_t begin, end; size_t param; };
  std::vector<Range> written;
  for (size_t i = 0; i < n; ++i) {
    const TensorPtr& p = params[i];
    GC_CHECK(p, TypeError, "optim_step: parameter ", i, " is None");
    GC_CHECK(p->dtype == dt, TypeError, "optim_step: parameters of one group must share a dtype (",
             dtype_name(dt), " vs ", dtype_name(p->dtype), ")");
    if (!p->grad) continue;
    GC_CHECK(p->grad->shape == p->shape, ValueError, "optim_step: gradient ", shape_str(p->grad->shape),
             " for parameter ", i, " of shape ", shape_str(p->shape));
    check_same_dtype(*p, *p->grad, "optim_step");
    // The fused kernels read every buffer as one block of numel elements.
    GC_CHECK(p->is_contiguous && p->grad->is_contiguous, RuntimeError, "optim_step: parameter ", i,
             " (or its gradient) is not contiguous; optimizers update contiguous parameters (use .contiguous())");
    GC_CHECK(dt == DType::Float32 || dt == DType::Float64, TypeError,
             "optim_step: the fused optimizers update float32 and float64 parameters, got ", dtype_name(dt));
    const double st = step_data[i];
    GC_CHECK(st >= 0 && st < 9007199254740992.0 && st == std::floor(st), ValueError,
             "optim_step: step count ", st, " of parameter ", i, " is not a non-negative integer");
    const uintptr_t nbytes = static_cast<uintptr_t>(p->numel) * dtype_size(dt);
    auto add_range = [&](const TensorPtr& t) {
      const uintptr_t b = reinterpret_cast<uintptr_t>(t->data_ptr());
      if (nbytes) written.push_back({b, b + nbytes, i});
    };
    add_range(p);
    plan.index.push_back(i);
    plan.sizes.push_back(p->numel);
    plan.p_ptr.push_back(p->data_ptr());
    plan.g_ptr.push_back(p->grad->data_ptr());
    for (size_t k = 0; k < 3; ++k) {
      const TensorPtr* s = k < states.size() && states[k][i] ? &states[k][i] : nullptr;
      if (s) {
        GC_CHECK((*s)->shape == p->shape, ValueError, "optim_step: state buffer ", shape_str((*s)->shape),
                 " does not match parameter ", i, " of shape ", shape_str(p->shape));
        GC_CHECK((*s)->dtype == dt, TypeError, "optim_step: state buffer of dtype ", dtype_name((*s)->dtype),
                 " for parameter ", i, " of dtype ", dtype_name(dt));
        GC_CHECK((*s)->is_contiguous, RuntimeError, "optim_step: state buffer for parameter ", i, " is not contiguous");
        add_range(*s);
      }
      plan.s_ptr[k].push_back(s ? (*s)->data_ptr() : nullptr);
    }
  }
  std::sort(written.begin(), written.end(), [](const Range& a, const Range& b) { return a.begin < b.begin; });
  for (size_t j = 1; j < written.size(); ++j)
    GC_CHECK(written[j].begin >= written[j - 1].end, ValueError, "optim_step: parameters ", written[j - 1].param,
             " and ", written[j].param, " (or their state buffers) share memory; each must be updated once");
  return plan;
}

}  // namespace

void optim_step(const std::string& kind_name, const OptimHyper& h, const tensor_list& params,
                const std::vector<tensor_list>& states, const TensorPtr& steps, bool check_only,
                const TensorPtr& scalars) {
  const kernels::OptimKind kind = parse_kind(kind_name);
  StepPlan plan = plan_step(kind_name, kind, h, params, states, steps, scalars);  // throws before any write
  if (check_only || plan.index.empty()) return;
  double* step_data = steps->data<double>();
  const int64_t ns = scalar_count(kind);
  double* sc = ns ? scalars->data<double>() : nullptr;
  if (sc) scalars->storage->version++;
  std::vector<int64_t> step_now;
  std::vector<double> coef(plan.index.size() * kernels::kOptimCoefs, 0.0);
  for (size_t j = 0; j < plan.index.size(); ++j) {
    const size_t i = plan.index[j];
    params[i]->storage->version++;
    for (const auto& s : states)
      if (s[i]) s[i]->storage->version++;
    step_data[i] += 1.0;
    step_now.push_back(static_cast<int64_t>(step_data[i]));
    step_coefficients(kind, h, step_data[i], sc ? sc + ns * static_cast<int64_t>(i) : nullptr,
                      coef.data() + j * kernels::kOptimCoefs);
  }
  const int64_t count = static_cast<int64_t>(plan.sizes.size());
  dispatch(params[0]->dtype, [&](auto z) {
    using T = decltype(z);
    auto cast = [](std::vector<void*>& v) { return reinterpret_cast<T* const*>(v.data()); };
    kernels::optim_step<T>(kind, h, count, cast(plan.p_ptr), reinterpret_cast<const T* const*>(plan.g_ptr.data()),
                           cast(plan.s_ptr[0]), cast(plan.s_ptr[1]), cast(plan.s_ptr[2]), plan.sizes.data(),
                           step_now.data(), coef.data());
    return 0;
  });
}

TensorPtr grad_norm(const tensor_list& params, double norm_type) {
  GC_CHECK(norm_type > 0 || std::isinf(norm_type), ValueError, "norm_type must be positive, got ", norm_type);
  tensor_list ps = with_grads(params, "clip_grad_norm_");
  TensorPtr out = zeros({}, DType::Float64);
  if (ps.empty()) return out;
  double acc = 0;
  const bool inf = std::isinf(norm_type);
  for (DType dt : {DType::Float32, DType::Float64}) {
    std::vector<const void*> ptrs;
    std::vector<int64_t> sizes;
    for (const auto& p : ps)
      if (p->dtype == dt) { ptrs.push_back(p->grad->data_ptr()); sizes.push_back(p->numel); }
    if (ptrs.empty()) continue;
    double part = dispatch(dt, [&](auto z) {
      using T = decltype(z);
      return kernels::grad_norm_pow<T>(static_cast<int64_t>(ptrs.size()), reinterpret_cast<const T* const*>(ptrs.data()),
                                       sizes.data(), norm_type);
    });
    acc = inf ? (part > acc || part != part ? part : acc) : acc + part;
  }
  out->data<double>()[0] = inf ? acc : std::pow(acc, 1.0 / norm_type);
  return out;
}

TensorPtr tensor_norms(const tensor_list& tensors, double norm_type) {
  GC_CHECK(norm_type > 0 || std::isinf(norm_type), ValueError, "norm_type must be positive, got ", norm_type);
  TensorPtr out = empty({static_cast<int64_t>(tensors.size())}, DType::Float64);
  double* o = out->data<double>();
  const bool inf = std::isinf(norm_type);
  for (size_t i = 0; i < tensors.size(); ++i) {
    const TensorPtr& t = tensors[i];
    if (!t) { o[i] = __builtin_nan(""); continue; }
    const TensorPtr td = dense(t);
    const void* ptr = td->data_ptr();
    const int64_t n = t->numel;
    double part = dispatch(t->dtype, [&](auto z) {
      using T = decltype(z);
      return kernels::grad_norm_pow<T>(1, reinterpret_cast<const T* const*>(&ptr), &n, norm_type);
    });
    o[i] = inf ? part : std::pow(part, 1.0 / norm_type);
  }
  return out;
}

void scale_grads(const tensor_list& params, double factor) {
  for (const auto& p : with_grads(params, "clip_grad_norm_")) {
    p->grad->storage->version++;
    dispatch(p->dtype, [&](auto z) {
      using T = decltype(z);
      kernels::axpby<T>(static_cast<T>(factor), p->grad->data<T>(), T(0), p->grad->data<T>(), p->numel);
      return 0;
    });
  }
}

void clamp_grads(const tensor_list& params, double clip) {
  GC_CHECK(clip >= 0, ValueError, "clip_grad_value_: clip_value must be >= 0, got ", clip);
  for (const auto& p : with_grads(params, "clip_grad_value_")) {
    p->grad->storage->version++;
    dispatch(p->dtype, [&](auto z) {
      using T = decltype(z);
      T* g = p->grad->data<T>();
      const T c = static_cast<T>(clip);
      for (int64_t i = 0; i < p->numel; ++i) g[i] = g[i] > c ? c : (g[i] < -c ? -c : g[i]);
      return 0;
    });
  }
}

}  // namespace gradcore::ops
