// optim.cpp — the fused optimizer step and gradient clipping: argument checks, then one
// multi-tensor kernel call over every parameter of a group. No autograd here.
#include <cmath>

#include "autograd/ops/common.h"

namespace gradcore::ops {
namespace {

kernels::OptimKind parse_kind(const std::string& kind) {
  if (kind == "sgd") return kernels::OPT_SGD;
  if (kind == "adam") return kernels::OPT_ADAM;
  if (kind == "rmsprop") return kernels::OPT_RMSPROP;
  if (kind == "adagrad") return kernels::OPT_ADAGRAD;
  throw ValueError("unknown optimizer kind '" + kind + "'");
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
    out.push_back(p);
  }
  return out;
}

}  // namespace

void optim_step(const std::string& kind_name, const OptimHyper& h, const tensor_list& params,
                const std::vector<tensor_list>& states, const TensorPtr& steps) {
  const kernels::OptimKind kind = parse_kind(kind_name);
  const size_t n = params.size();
  GC_CHECK(states.size() <= 3, ValueError, "optim_step: at most 3 state lists");
  for (const auto& s : states)
    GC_CHECK(s.size() == n, ValueError, "optim_step: ", s.size(), " state tensors for ", n, " parameters");
  GC_CHECK(steps && steps->dtype == DType::Float64 && steps->numel == static_cast<int64_t>(n), ValueError,
           "optim_step: steps must be a float64 tensor with one entry per parameter");
  double* step_data = steps->data<double>();
  // The buffers each update reads and writes must be there (see kernels.h for the slots).
  const bool need[3] = {
      kind != kernels::OPT_SGD || h.momentum != 0.0,
      kind == kernels::OPT_ADAM || (kind == kernels::OPT_RMSPROP && h.momentum > 0.0),
      (kind == kernels::OPT_ADAM && h.amsgrad) || (kind == kernels::OPT_RMSPROP && h.centered)};
  for (size_t k = 0; k < 3; ++k) {
    if (!need[k]) continue;
    GC_CHECK(k < states.size(), ValueError, "optim_step: ", kind_name, " with these options needs state list ", k);
    for (size_t i = 0; i < n; ++i)
      GC_CHECK(states[k][i], ValueError, "optim_step: ", kind_name, " needs state buffer ", k, " for parameter ", i);
  }
  if (n == 0) return;
  const DType dt = params[0]->dtype;
  std::vector<int64_t> sizes, step_now;
  std::vector<void*> p_ptr, g_ptr, s_ptr[3];
  for (size_t i = 0; i < n; ++i) {
    const TensorPtr& p = params[i];
    GC_CHECK(p, TypeError, "optim_step: parameter ", i, " is None");
    GC_CHECK(p->dtype == dt, TypeError, "optim_step: parameters of one group must share a dtype (",
             dtype_name(dt), " vs ", dtype_name(p->dtype), ")");
    if (!p->grad) continue;
    GC_CHECK(p->grad->shape == p->shape, ValueError, "optim_step: gradient ", shape_str(p->grad->shape),
             " for a parameter of shape ", shape_str(p->shape));
    check_same_dtype(*p, *p->grad, "optim_step");
    p_ptr.push_back(p->data_ptr());
    g_ptr.push_back(p->grad->data_ptr());
    for (size_t k = 0; k < 3; ++k) {
      const TensorPtr* s = k < states.size() && states[k][i] ? &states[k][i] : nullptr;
      if (s) {
        GC_CHECK((*s)->shape == p->shape, ValueError, "optim_step: state buffer ", shape_str((*s)->shape),
                 " does not match parameter ", shape_str(p->shape));
        GC_CHECK((*s)->dtype == dt, TypeError, "optim_step: state buffer of dtype ", dtype_name((*s)->dtype),
                 " for a parameter of dtype ", dtype_name(dt));
        (*s)->storage->version++;
      }
      s_ptr[k].push_back(s ? (*s)->data_ptr() : nullptr);
    }
    p->storage->version++;
    step_data[i] += 1.0;
    step_now.push_back(static_cast<int64_t>(step_data[i]));
    sizes.push_back(p->numel);
  }
  const int64_t count = static_cast<int64_t>(sizes.size());
  dispatch(dt, [&](auto z) {
    using T = decltype(z);
    auto cast = [](std::vector<void*>& v) { return reinterpret_cast<T* const*>(v.data()); };
    kernels::optim_step<T>(kind, h, count, cast(p_ptr), reinterpret_cast<const T* const*>(g_ptr.data()), cast(s_ptr[0]),
                           cast(s_ptr[1]), cast(s_ptr[2]), sizes.data(), step_now.data());
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
    const void* ptr = t->data_ptr();
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
