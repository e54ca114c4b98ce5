// norm.cpp — batch_norm, layer_norm, group_norm, rms_norm (issue 15) and their Backward
// nodes. Forward and backward are the fused kernels of kernels/norm.h (one statistics pass
// and one output pass; the backward in two); they save the input, the weight and the
// per-channel / per-row mean and rstd (never xhat).
//
// Note [Composed norms]: with create_graph, or when tangents flow (needs_composed), the
// backward (and, for tangents, the forward) is written with differentiable ops on views of
// the input that put the normalised dims apart:
//   batch_norm   x as [N, C, S]       statistics over dims {0, 2}, weight as [1, C, 1]
//   row norms    x as [N, G, Cg, S]   statistics over dims {2, 3}, weight as [1, G, Cg, 1]
// In training the mean and rstd are recomputed from x with ops, so that second derivatives
// see their dependence on x; in eval (running statistics) they are constants.
#include "autograd/ops/norm.h"

#include <algorithm>
#include <limits>
#include <sstream>
#include <vector>

#include "autograd/grad_mode.h"
#include "autograd/ops/common.h"
#include "kernels/norm.h"

namespace gradcore::ops {
using autograd::make_node;
using autograd::needs_record;
using autograd::SavedTensor;
using autograd::set_history;
using autograd::wants;

namespace {

std::string list_str(const Shape& s) {  // PyTorch's "[2, 3]"
  std::ostringstream o;
  o << "[";
  for (size_t i = 0; i < s.size(); ++i) o << (i ? ", " : "") << s[i];
  o << "]";
  return o.str();
}

// Compute dtype of a norm: float32 / float64 as given, float16 / bfloat16 in float32.
void check_norm_input(const Tensor& x, const char* op) {
  GC_CHECK(is_floating(x.dtype), NotImplementedError, "\"", op, "\" not implemented for '", dtype_torch_name(x.dtype),
           "'");
}

// An optional parameter as a dense tensor of dtype d (differentiable conversion).
TensorPtr param_as(const TensorPtr& p, DType d) { return p ? dense(to_dtype(p, d)) : nullptr; }

struct Composed {
  TensorPtr dx, dw, db;
};

// The statistics of xr over dims (Note [Composed norms]), as ops.
void composed_stats(const TensorPtr& xr, const std::vector<int64_t>& dims, double eps, bool rms, TensorPtr& mu,
                    TensorPtr& rstd) {
  if (rms) {
    mu = nullptr;
    rstd = rsqrt(add_scalar(mean(mul(xr, xr), dims, true), eps));
  } else {
    mu = mean(xr, dims, true);
    rstd = rsqrt(add_scalar(var(xr, dims, 0.0, true), eps));
  }
}

TensorPtr composed_xhat(const TensorPtr& xr, const TensorPtr& mu, const TensorPtr& rstd) {
  return mu ? mul(sub(xr, mu), rstd) : mul(xr, rstd);
}

// y = xhat * w + b from ops; mu / rstd null: batch statistics of xr.
TensorPtr composed_forward(const TensorPtr& xr, const std::vector<int64_t>& dims, const TensorPtr& wr,
                           const TensorPtr& br, double eps, bool rms, TensorPtr mu, TensorPtr rstd) {
  if (!rstd) composed_stats(xr, dims, eps, rms, mu, rstd);
  TensorPtr y = composed_xhat(xr, mu, rstd);
  if (wr) y = mul(y, wr);
  if (br) y = add(y, br);
  return y;
}

// The backward from ops. fixed: mu / rstd are constants (eval); else recomputed from xr.
// wdims: the dims summed for the weight / bias gradients.
Composed composed_backward(const TensorPtr& gr, const TensorPtr& xr, const TensorPtr& wr,
                           const std::vector<int64_t>& dims, const std::vector<int64_t>& wdims, double eps, bool rms,
                           bool fixed, TensorPtr mu, TensorPtr rstd, bool want_x, bool want_w, bool want_b) {
  if (!fixed) composed_stats(xr, dims, eps, rms, mu, rstd);
  Composed r;
  TensorPtr xhat = composed_xhat(xr, mu, rstd);
  if (want_x) {
    TensorPtr gw = wr ? mul(gr, wr) : gr;
    if (fixed) {
      r.dx = mul(gw, rstd);
    } else {
      TensorPtr t = sub(gw, mul(xhat, mean(mul(gw, xhat), dims, true)));
      if (!rms) t = sub(t, mean(gw, dims, true));
      r.dx = mul(t, rstd);
    }
  }
  if (want_w) r.dw = sum(mul(gr, xhat), wdims, false);
  if (want_b) r.db = sum(gr, wdims, false);
  return r;
}

// ---- batch_norm ----

struct BatchNormBackward final : Node {
  SavedTensor x_, w_, mean_, rstd_;
  bool training = true;
  double eps = 1e-5;
  int64_t N = 0, C = 0, S = 0;
  const char* name() const override { return "NativeBatchNormBackward0"; }
  tensor_list apply(tensor_list&& g) override {
    tensor_list r(3);
    TensorPtr x = x_.unpack(this), w = w_.unpack(this), mu = mean_.unpack(this), rs = rstd_.unpack(this);
    const bool wx = wants(*this, 0), ww = wants(*this, 1), wb = wants(*this, 2);
    if (needs_composed({g[0].get(), x.get(), w.get()})) {
      const Shape s3{N, C, S}, c3{1, C, 1};
      Composed c = composed_backward(reshape(g[0], s3), reshape(x, s3), w ? reshape(w, c3) : nullptr, {0, 2}, {0, 2},
                                     eps, false, !training, reshape(mu, c3), reshape(rs, c3), wx, ww, wb);
      if (c.dx) r[0] = reshape(c.dx, x->shape);
      r[1] = c.dw;
      r[2] = c.db;
      return r;
    }
    TensorPtr gd = dense(to_dtype(g[0], x->dtype));
    TensorPtr dx = wx ? empty(x->shape, x->dtype) : nullptr;
    TensorPtr dw = ww ? empty({C}, x->dtype) : nullptr;
    TensorPtr db = wb ? empty({C}, x->dtype) : nullptr;
    dispatch(x->dtype, [&](auto z) {
      using T = decltype(z);
      kernels::batch_norm_backward<T>(gd->data<T>(), x->data<T>(), N, C, S, w ? w->data<T>() : nullptr,
                                      mu->data<T>(), rs->data<T>(), training, dx ? dx->data<T>() : nullptr,
                                      dw ? dw->data<T>() : nullptr, db ? db->data<T>() : nullptr);
      return 0;
    });
    r[0] = dx;
    r[1] = dw;
    r[2] = db;
    return r;
  }
  void release_saved() override { x_.reset(); w_.reset(); mean_.reset(); rstd_.reset(); }
  std::vector<std::pair<std::string, TensorPtr>> saved_tensors() const override {
    return {{"input", x_.raw()}, {"weight", w_.raw()}, {"result1", mean_.raw()}, {"result2", rstd_.raw()}};
  }
};

void check_channel_vector(const TensorPtr& t, int64_t C, const char* what) {
  if (!t) return;
  GC_CHECK(t->numel == C, ShapeError, what, " should contain ", C, " elements not ", t->numel);
}

// r = momentum * stat + (1 - momentum) * r, in double, written in place (no autograd).
void update_running(const TensorPtr& r, const std::vector<double>& stat, double momentum) {
  const int64_t C = static_cast<int64_t>(stat.size());
  TensorPtr old = dense(to_dtype(reshape(detach(r), {C}), DType::Float64));
  TensorPtr nv = empty({C}, DType::Float64);
  const double* o = old->data<double>();
  double* v = nv->data<double>();
  for (int64_t c = 0; c < C; ++c) v[c] = momentum * stat[c] + (1.0 - momentum) * o[c];
  copy_(r, reshape(nv, r->shape));
}

// An empty input normalises to an empty output; its gradient is empty too (the statistics
// of nothing are never formed, and PyTorch leaves the running statistics as they were).
TensorPtr empty_norm(const TensorPtr& x) { return mul_scalar(x, 0.0); }

TensorPtr batch_norm_impl(const TensorPtr& x, const TensorPtr& running_mean, const TensorPtr& running_var,
                          const TensorPtr& weight_in, const TensorPtr& bias_in, bool training, double momentum,
                          double eps) {
  if (x->numel == 0) return empty_norm(x);
  const DType d = x->dtype;
  const int64_t N = x->shape[0], C = x->shape[1];
  int64_t S = 1;
  for (int64_t i = 2; i < x->ndim(); ++i) S *= x->shape[i];
  TensorPtr w = param_as(weight_in, d), b = param_as(bias_in, d);
  const bool use_batch = training || !running_mean || !running_var;
  TensorPtr xd = dense(x);
  TensorPtr rm = !use_batch ? dense(to_dtype(detach(running_mean), d)) : nullptr;
  TensorPtr rv = !use_batch ? dense(to_dtype(detach(running_var), d)) : nullptr;
  TensorPtr save_mean = empty({C}, d), save_rstd = empty({C}, d);
  std::vector<double> bvar(C, 0.0);
  TensorPtr y;
  if (autograd::fw::any_tangent({x.get(), w.get(), b.get()})) {
    // Tangents: the composed forward (Note [Composed norms]); the statistics for the
    // running update come from the kernel's statistics pass below.
    const Shape s3{N, C, S}, c3{1, C, 1};
    TensorPtr mu = rm ? reshape(rm, c3) : nullptr;
    TensorPtr rs = rv ? reshape(rsqrt(add_scalar(rv, eps)), c3) : nullptr;
    y = reshape(composed_forward(reshape(x, s3), {0, 2}, w ? reshape(w, c3) : nullptr, b ? reshape(b, c3) : nullptr,
                                 eps, false, mu, rs),
                x->shape);
    if (!(use_batch && running_mean && running_var)) return y;
  }
  TensorPtr out = empty(x->shape, d);
  dispatch(d, [&](auto z) {
    using T = decltype(z);
    kernels::batch_norm_forward<T>(xd->data<T>(), out->data<T>(), N, C, S, w ? w->data<T>() : nullptr,
                                   b ? b->data<T>() : nullptr, rm ? rm->data<T>() : nullptr,
                                   rv ? rv->data<T>() : nullptr, eps, save_mean->data<T>(), save_rstd->data<T>(),
                                   bvar.data());
    return 0;
  });
  if (use_batch && running_mean && running_var && N * S > 0) {
    autograd::GradModeGuard off(false);
    std::vector<double> bmean(C);
    TensorPtr sm = to_dtype(save_mean, DType::Float64);
    for (int64_t c = 0; c < C; ++c) bmean[c] = sm->data<double>()[c];
    const double M = static_cast<double>(N * S);
    for (int64_t c = 0; c < C; ++c) bvar[c] = M > 1 ? bvar[c] * M / (M - 1) : std::numeric_limits<double>::quiet_NaN();
    update_running(running_mean, bmean, momentum);
    update_running(running_var, bvar, momentum);
  }
  if (y) return y;  // the tangent path's composed output
  if (needs_record({xd.get(), w.get(), b.get()})) {
    auto n = make_node<BatchNormBackward>({xd, w, b});
    n->x_ = SavedTensor(xd, false);
    if (w) n->w_ = SavedTensor(w, false);
    n->mean_ = SavedTensor(save_mean, false);
    n->rstd_ = SavedTensor(save_rstd, false);
    n->training = use_batch;
    n->eps = eps;
    n->N = N;
    n->C = C;
    n->S = S;
    set_history(out, n);
  }
  return out;
}

// ---- row norms: layer_norm, group_norm, rms_norm ----

struct RowNormBackward final : Node {
  SavedTensor x_, w_, mean_, rstd_;
  bool rms = false;
  double eps = 1e-5;
  int64_t N = 0, G = 1, Cg = 0, S = 1;
  Shape w_shape;
  const char* grad_name = "NativeLayerNormBackward0";
  const char* name() const override { return grad_name; }
  tensor_list apply(tensor_list&& g) override {
    tensor_list r(3);
    TensorPtr x = x_.unpack(this), w = w_.unpack(this), mu = mean_.unpack(this), rs = rstd_.unpack(this);
    const bool wx = wants(*this, 0), ww = wants(*this, 1), wb = wants(*this, 2);
    if (needs_composed({g[0].get(), x.get(), w.get()})) {
      const Shape s4{N, G, Cg, S}, c4{1, G, Cg, 1};
      Composed c = composed_backward(reshape(g[0], s4), reshape(x, s4), w ? reshape(w, c4) : nullptr, {2, 3}, {0, 3},
                                     eps, rms, false, nullptr, nullptr, wx, ww, wb);
      if (c.dx) r[0] = reshape(c.dx, x->shape);
      if (c.dw) r[1] = reshape(c.dw, w_shape);
      if (c.db) r[2] = reshape(c.db, w_shape);
      return r;
    }
    TensorPtr gd = dense(to_dtype(g[0], x->dtype));
    TensorPtr dx = wx ? empty(x->shape, x->dtype) : nullptr;
    TensorPtr dw = ww ? empty(w_shape, x->dtype) : nullptr;
    TensorPtr db = wb ? empty(w_shape, x->dtype) : nullptr;
    TensorPtr work = (dw || db) ? empty({kernels::row_norm_backward_work(N, G, Cg)}, DType::Float64) : nullptr;
    dispatch(x->dtype, [&](auto z) {
      using T = decltype(z);
      kernels::row_norm_backward<T>(gd->data<T>(), x->data<T>(), N, G, Cg, S, w ? w->data<T>() : nullptr,
                                    mu->data<T>(), rs->data<T>(), rms, dx ? dx->data<T>() : nullptr,
                                    dw ? dw->data<T>() : nullptr, db ? db->data<T>() : nullptr,
                                    work ? work->data<double>() : nullptr);
      return 0;
    });
    r[0] = dx;
    r[1] = dw;
    r[2] = db;
    return r;
  }
  void release_saved() override { x_.reset(); w_.reset(); mean_.reset(); rstd_.reset(); }
  std::vector<std::pair<std::string, TensorPtr>> saved_tensors() const override {
    return {{"input", x_.raw()}, {"weight", w_.raw()}, {"result1", mean_.raw()}, {"result2", rstd_.raw()}};
  }
};

// x as [N, G, Cg, S]; weight / bias hold G * Cg values (w_shape: their shape).
TensorPtr row_norm_impl(const TensorPtr& x, int64_t N, int64_t G, int64_t Cg, int64_t S, const Shape& w_shape,
                        const TensorPtr& weight_in, const TensorPtr& bias_in, double eps, bool rms,
                        const char* grad_name) {
  if (x->numel == 0) return empty_norm(x);
  const DType d = x->dtype;
  TensorPtr w = param_as(weight_in, d), b = param_as(bias_in, d);
  if (autograd::fw::any_tangent({x.get(), w.get(), b.get()})) {
    const Shape s4{N, G, Cg, S}, c4{1, G, Cg, 1};
    return reshape(composed_forward(reshape(x, s4), {2, 3}, w ? reshape(w, c4) : nullptr,
                                    b ? reshape(b, c4) : nullptr, eps, rms, nullptr, nullptr),
                   x->shape);
  }
  TensorPtr xd = dense(x);
  TensorPtr out = empty(x->shape, d);
  TensorPtr save_mean = empty({N * G}, d), save_rstd = empty({N * G}, d);
  dispatch(d, [&](auto z) {
    using T = decltype(z);
    kernels::row_norm_forward<T>(xd->data<T>(), out->data<T>(), N, G, Cg, S, w ? w->data<T>() : nullptr,
                                 b ? b->data<T>() : nullptr, eps, rms, save_mean->data<T>(), save_rstd->data<T>());
    return 0;
  });
  if (needs_record({xd.get(), w.get(), b.get()})) {
    auto n = make_node<RowNormBackward>({xd, w, b});
    n->x_ = SavedTensor(xd, false);
    if (w) n->w_ = SavedTensor(w, false);
    n->mean_ = SavedTensor(save_mean, false);
    n->rstd_ = SavedTensor(save_rstd, false);
    n->rms = rms;
    n->eps = eps;
    n->N = N;
    n->G = G;
    n->Cg = Cg;
    n->S = S;
    n->w_shape = w_shape;
    n->grad_name = grad_name;
    set_history(out, n);
  }
  return out;
}

// LayerNorm / RMSNorm's checks; returns the number of rows.
int64_t check_normalized_shape(const Tensor& x, const Shape& ns, const TensorPtr& w, const TensorPtr& b) {
  const int64_t k = static_cast<int64_t>(ns.size());
  GC_CHECK(k >= 1, ShapeError, "Expected normalized_shape to be at least 1-dimensional, i.e., containing at least "
           "one element, but got normalized_shape = ", list_str(ns));
  auto shape_ok = [&] {
    if (x.ndim() < k) return false;
    for (int64_t i = 0; i < k; ++i)
      if (x.shape[x.ndim() - k + i] != ns[i]) return false;
    return true;
  };
  GC_CHECK(shape_ok(), ShapeError, "Given normalized_shape=", list_str(ns), ", expected input with shape [*",
           [&] { std::string s; for (int64_t v : ns) s += ", " + std::to_string(v); return s; }(),
           "], but got input of size", list_str(x.shape));
  GC_CHECK(!w || w->shape == ns, ShapeError, "Expected weight to be of same shape as normalized_shape, but got weight "
           "of shape ", list_str(w->shape), " and normalized_shape = ", list_str(ns));
  GC_CHECK(!b || b->shape == ns, ShapeError, "Expected bias to be of same shape as normalized_shape, but got bias of "
           "shape ", list_str(b->shape), " and normalized_shape = ", list_str(ns));
  int64_t rows = 1;
  for (int64_t i = 0; i < x.ndim() - k; ++i) rows *= x.shape[i];
  return rows;
}

}  // namespace

TensorPtr batch_norm(const TensorPtr& x, const TensorPtr& running_mean, const TensorPtr& running_var,
                     const TensorPtr& weight, const TensorPtr& bias, bool training, double momentum, double eps) {
  check_norm_input(*x, "batch_norm");
  GC_CHECK(x->ndim() >= 2, IndexError, "Dimension out of range (expected to be in range of [", -std::max<int64_t>(1, x->ndim()),
           ", ", std::max<int64_t>(1, x->ndim()) - 1, "], but got 1) (batch_norm expects an input (N, C, *), got ",
           list_str(x->shape), ")");
  const int64_t C = x->shape[1];
  check_channel_vector(running_mean, C, "running_mean");
  check_channel_vector(running_var, C, "running_var");
  check_channel_vector(weight, C, "weight");
  check_channel_vector(bias, C, "bias");
  // PyTorch's CPU kernel takes float32 weight / bias with a float16 / bfloat16 input, but no
  // other mix.
  for (const TensorPtr* p : {&weight, &bias, &running_mean, &running_var})
    GC_CHECK(!*p || (*p)->dtype == x->dtype || (!is_f32_or_f64(x->dtype) && (*p)->dtype == DType::Float32),
             DTypeError, "mixed dtype (CPU): all inputs must share same datatype.");
  GC_CHECK(training || (running_mean && running_var), RuntimeError,
           "running_mean and running_var must be defined in evaluation mode");
  return float_op(x, [&](const TensorPtr& xc) {
    return batch_norm_impl(xc, running_mean, running_var, weight, bias, training, momentum, eps);
  });
}

TensorPtr layer_norm(const TensorPtr& x, const Shape& normalized_shape, const TensorPtr& weight,
                     const TensorPtr& bias, double eps) {
  check_norm_input(*x, "LayerNormKernelImpl");
  const int64_t rows = check_normalized_shape(*x, normalized_shape, weight, bias);
  const int64_t D = shape_numel(normalized_shape);
  return float_op(x, [&](const TensorPtr& xc) {
    return row_norm_impl(xc, rows, 1, D, 1, normalized_shape, weight, bias, eps, false, "NativeLayerNormBackward0");
  });
}

TensorPtr rms_norm(const TensorPtr& x, const Shape& normalized_shape, const TensorPtr& weight, double eps) {
  check_norm_input(*x, "rms_norm");
  const int64_t rows = check_normalized_shape(*x, normalized_shape, weight, nullptr);
  const int64_t D = shape_numel(normalized_shape);
  return float_op(x, [&](const TensorPtr& xc) {
    return row_norm_impl(xc, rows, 1, D, 1, normalized_shape, weight, nullptr, eps, true, "RmsNormBackward0");
  });
}

TensorPtr group_norm(const TensorPtr& x, int64_t num_groups, const TensorPtr& weight, const TensorPtr& bias,
                     double eps) {
  check_norm_input(*x, "group_norm");
  GC_CHECK(x->ndim() >= 2, ShapeError, "Expected at least 2 dimensions for input tensor but received ", x->ndim());
  const int64_t N = x->shape[0], C = x->shape[1];
  GC_CHECK(num_groups > 0, ShapeError, "Expected num groups to be greater than 0, got ", num_groups);
  GC_CHECK(C % num_groups == 0, ShapeError, "Expected number of channels in input to be divisible by num_groups, but "
           "got input of shape ", list_str(x->shape), " and num_groups=", num_groups);
  GC_CHECK(!weight || (weight->ndim() == 1 && weight->numel == C), ShapeError, "Expected weight to be a vector of "
           "size equal to the number of channels in input, but got weight of shape ", list_str(weight->shape),
           " and input of shape ", list_str(x->shape));
  GC_CHECK(!bias || (bias->ndim() == 1 && bias->numel == C), ShapeError, "Expected bias to be a vector of size equal "
           "to the number of channels in input, but got bias of shape ", list_str(bias->shape), " and input of shape ",
           list_str(x->shape));
  int64_t S = 1;
  for (int64_t i = 2; i < x->ndim(); ++i) S *= x->shape[i];
  return float_op(x, [&](const TensorPtr& xc) {
    return row_norm_impl(xc, N, num_groups, C / num_groups, S, Shape{C}, weight, bias, eps, false,
                         "NativeGroupNormBackward0");
  });
}

}  // namespace gradcore::ops
