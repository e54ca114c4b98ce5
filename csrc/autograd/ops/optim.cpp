// optim.cpp — the fused optimizer step and gradient clipping: argument checks, then one
// multi-tensor kernel call over every parameter of a group. No autograd here.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "autograd/ops/common.h"

namespace gradcore::ops {
namespace {

// Note [Optimizer declarations]: one row per optimizer kind, the only place that says which
// hyper-parameters its kernel reads, which state buffers it keeps (their names are
// PyTorch's state_dict keys, in the kernel's slot order), when each buffer is used, and its
// per-parameter scalar state. gradcore.optim builds its state and its optim_step calls from
// these rows (_core.optimizer_specs, _core.optim_slots); optim_step checks against them.
struct HyperField {
  const char* name;
  double OptimHyper::*num;  // one of the two
  bool OptimHyper::*flag;
};
constexpr HyperField kHyperFields[] = {
    {"lr", &OptimHyper::lr, nullptr},           {"momentum", &OptimHyper::momentum, nullptr},
    {"dampening", &OptimHyper::dampening, nullptr}, {"weight_decay", &OptimHyper::weight_decay, nullptr},
    {"beta1", &OptimHyper::beta1, nullptr},     {"beta2", &OptimHyper::beta2, nullptr},
    {"eps", &OptimHyper::eps, nullptr},         {"alpha", &OptimHyper::alpha, nullptr},
    {"lr_decay", &OptimHyper::lr_decay, nullptr}, {"rho", &OptimHyper::rho, nullptr},
    {"lambd", &OptimHyper::lambd, nullptr},     {"t0", &OptimHyper::t0, nullptr},
    {"momentum_decay", &OptimHyper::momentum_decay, nullptr},
    {"nesterov", nullptr, &OptimHyper::nesterov}, {"amsgrad", nullptr, &OptimHyper::amsgrad},
    {"decoupled", nullptr, &OptimHyper::decoupled}, {"centered", nullptr, &OptimHyper::centered},
    {"maximize", nullptr, &OptimHyper::maximize}, {"round_scalars", nullptr, &OptimHyper::round_scalars},
};

struct OptimRow {
  kernels::OptimKind kind;
  OptimizerSpec spec;
  // Whether slot k is used with these hyper-parameters (null: every slot always).
  bool (*uses)(const OptimHyper& h, size_t slot);
};

const std::vector<OptimRow>& optim_rows() {
  static const std::vector<OptimRow> rows = {
      {kernels::OPT_SGD,
       {"sgd", {"lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize"}, {"momentum_buffer"}, {}},
       [](const OptimHyper& h, size_t) { return h.momentum != 0.0; }},
      {kernels::OPT_ADAM,
       {"adam", {"lr", "beta1", "beta2", "eps", "weight_decay", "amsgrad", "decoupled", "maximize"},
        {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"}, {}},
       [](const OptimHyper& h, size_t k) { return k < 2 || h.amsgrad; }},
      {kernels::OPT_RMSPROP,
       {"rmsprop", {"lr", "alpha", "eps", "weight_decay", "momentum", "centered", "maximize"},
        {"square_avg", "momentum_buffer", "grad_avg"}, {}},
       [](const OptimHyper& h, size_t k) { return k == 0 || (k == 1 ? h.momentum > 0.0 : h.centered); }},
      {kernels::OPT_ADAGRAD, {"adagrad", {"lr", "lr_decay", "weight_decay", "eps", "maximize"}, {"sum"}, {}}, nullptr},
      {kernels::OPT_ADAMAX,
       {"adamax", {"lr", "beta1", "beta2", "eps", "weight_decay", "maximize"}, {"exp_avg", "exp_inf"}, {}}, nullptr},
      {kernels::OPT_NADAM,
       {"nadam",
        {"lr", "beta1", "beta2", "eps", "weight_decay", "momentum_decay", "decoupled", "maximize", "round_scalars"},
        {"exp_avg", "exp_avg_sq"},
        {"mu_product"}},
       nullptr},
      {kernels::OPT_RADAM,
       {"radam", {"lr", "beta1", "beta2", "eps", "weight_decay", "decoupled", "maximize"}, {"exp_avg", "exp_avg_sq"}, {}},
       nullptr},
      {kernels::OPT_ADADELTA,
       {"adadelta", {"lr", "rho", "eps", "weight_decay", "maximize"}, {"square_avg", "acc_delta"}, {}}, nullptr},
      {kernels::OPT_ASGD,
       {"asgd", {"lr", "lambd", "alpha", "t0", "weight_decay", "maximize", "round_scalars"}, {"ax"}, {"eta", "mu"}},
       nullptr},
  };
  return rows;
}

const OptimRow& find_row(const std::string& kind) {
  for (const OptimRow& r : optim_rows())
    if (r.spec.kind == kind) return r;
  throw ValueError("unknown optimizer kind '" + kind + "'");
}

// The hyper-parameters of one call, on OptimHyper's defaults; only declared names are taken.
OptimHyper parse_hyper(const OptimRow& row, const HyperValues& values) {
  OptimHyper h;
  for (const auto& [name, value] : values) {
    const auto& declared = row.spec.hyper;
    GC_CHECK(std::find(declared.begin(), declared.end(), name) != declared.end(), ValueError, "optim_step: ",
             row.spec.kind, " has no hyper-parameter '", name, "'");
    for (const HyperField& f : kHyperFields)
      if (name == f.name) {
        if (f.num) h.*f.num = value;
        else h.*f.flag = value != 0.0;
      }
  }
  return h;
}

bool slot_used(const OptimRow& row, const OptimHyper& h, size_t k) {
  return k < row.spec.states.size() && (!row.uses || row.uses(h, k));
}

// Per-parameter scalar state the op layer keeps in `scalars` (ns entries per parameter).
int64_t scalar_count(const OptimRow& row) { return static_cast<int64_t>(row.spec.scalars.size()); }

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

StepPlan plan_step(const OptimRow& row, const OptimHyper& h, const tensor_list& params,
                   const std::vector<tensor_list>& states, const TensorPtr& steps, const TensorPtr& scalars) {
  const std::string& kind_name = row.spec.kind;
  const size_t n = params.size();
  GC_CHECK(states.size() <= 3, ValueError, "optim_step: at most 3 state lists");
  for (const auto& s : states)
    GC_CHECK(s.size() == n, ValueError, "optim_step: ", s.size(), " state tensors for ", n, " parameters");
  GC_CHECK(steps && steps->dtype == DType::Float64 && steps->numel == static_cast<int64_t>(n), ValueError,
           "optim_step: steps must be a float64 tensor with one entry per parameter");
  const double* step_data = steps->data<double>();
  const int64_t ns = scalar_count(row);
  if (ns) {
    GC_CHECK(scalars && scalars->dtype == DType::Float64 && scalars->is_contiguous &&
                 scalars->numel == ns * static_cast<int64_t>(n),
             ValueError, "optim_step: ", kind_name, " needs scalars, a contiguous float64 tensor of ", ns,
             " entries per parameter");
    GC_CHECK(scalars->storage != steps->storage, ValueError, "optim_step: scalars and steps share memory");
  }
  // The buffers each update reads and writes must be there (Note [Optimizer declarations]).
  for (size_t k = 0; k < 3; ++k) {
    if (!slot_used(row, h, k)) continue;
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

const std::vector<OptimizerSpec>& optimizer_specs() {
  static const std::vector<OptimizerSpec> specs = [] {
    std::vector<OptimizerSpec> out;
    for (const OptimRow& r : optim_rows()) {
      for (const std::string& name : r.spec.hyper) {
        bool known = false;
        for (const HyperField& f : kHyperFields) known = known || name == f.name;
        GC_CHECK(known, RuntimeError, "optimizer ", r.spec.kind, " declares '", name, "', not an OptimHyper field");
      }
      out.push_back(r.spec);
    }
    return out;
  }();
  return specs;
}

std::vector<bool> optim_slots_used(const std::string& kind, const HyperValues& hyper) {
  const OptimRow& row = find_row(kind);
  const OptimHyper h = parse_hyper(row, hyper);
  std::vector<bool> used;
  for (size_t k = 0; k < row.spec.states.size(); ++k) used.push_back(slot_used(row, h, k));
  return used;
}

void optim_step(const std::string& kind_name, const HyperValues& hyper, const tensor_list& params,
                const std::vector<tensor_list>& states, const TensorPtr& steps, bool check_only,
                const TensorPtr& scalars) {
  const OptimRow& row = find_row(kind_name);
  const kernels::OptimKind kind = row.kind;
  const OptimHyper h = parse_hyper(row, hyper);
  StepPlan plan = plan_step(row, h, params, states, steps, scalars);  // throws before any write
  if (check_only || plan.index.empty()) return;
  double* step_data = steps->data<double>();
  const int64_t ns = scalar_count(row);
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
