// stats.cpp — variance / standard deviation, logsumexp, logcumsumexp and vector norms
// (issue 12, reduce12).
//
// The reductions here run over any set of dims: the input is seen with its reduced dims
// moved last and made contiguous (see `ReducedLanes`), so each output element is one lane
// of n contiguous values, and a lane kernel (raw pointers and sizes, accumulating in
// double) computes it; threads split the lanes, never a lane, so results do not depend on
// the thread count. The backward nodes write PyTorch's formulas with the differentiable
// ops of ops.h, so create_graph=True works; each op's forward-mode rule sits beside it.
#include <algorithm>
#include <cmath>
#include <limits>

#include "autograd/ops/common.h"
#include "autograd/ops/lanes.h"

namespace gradcore::ops {
using autograd::make_node;
using autograd::needs_record;
using autograd::SavedTensor;
using autograd::set_history;

namespace {

// Sorted, unique, normalised dims; empty means all dims. A 0-dim tensor takes 0 / -1.
std::vector<int64_t> stat_dims(const std::vector<int64_t>& dims, int64_t ndim) {
  std::vector<int64_t> out;
  if (dims.empty()) {
    for (int64_t d = 0; d < ndim; ++d) out.push_back(d);
    return out;
  }
  for (int64_t d : dims) out.push_back(normalize_dim(d, ndim));
  if (ndim == 0) return {};
  std::sort(out.begin(), out.end());
  auto rep = std::adjacent_find(out.begin(), out.end());
  GC_CHECK(rep == out.end(), RuntimeError, "dim ", rep == out.end() ? 0 : *rep,
           " appears multiple times in the list of dims");
  return out;
}

// x seen as `lanes` contiguous lanes of n elements: the kept dims first (in order), the
// reduced dims last. `kd` is the keepdim shape, `out` the result shape.
struct ReducedLanes {
  TensorPtr data;  // contiguous, detached
  int64_t lanes = 1, n = 1;
  Shape kd, out;
};

ReducedLanes reduced_lanes(const TensorPtr& x, const std::vector<int64_t>& dims, bool keepdim) {
  ReducedLanes r;
  std::vector<int64_t> order;
  r.kd = x->shape;
  for (int64_t d = 0; d < x->ndim(); ++d)
    if (!std::binary_search(dims.begin(), dims.end(), d)) {
      order.push_back(d);
      r.lanes *= x->shape[d];
      r.out.push_back(x->shape[d]);
    } else if (keepdim) {
      r.out.push_back(1);
    }
  for (int64_t d : dims) {
    order.push_back(d);
    r.n *= x->shape[d];
    r.kd[d] = 1;
  }
  autograd::GradModeGuard no_grad(false);
  autograd::fw::DisableGuard no_tangent;
  TensorPtr v = detach(x);
  r.data = dense(x->ndim() ? permute(v, order) : v);
  return r;
}

// Runs f(l0, l1) over the lanes (threaded; lanes of any length, empty ones included).
template <class F>
void over_lanes(const ReducedLanes& r, F&& f) {
  for_lanes(Lanes{r.lanes, std::max<int64_t>(r.n, 1), 1}, f);
}

// ---- lane kernels: x holds `lanes` rows of n contiguous values; double accumulation ----

// Two-pass variance: the mean, then the squared deviations with the rounding error of the
// mean removed ((sum d)^2 / n, the "corrected two-pass" formula), so a large mean with a
// small spread keeps its digits. divisor = max(0, n - correction) as PyTorch.
template <class T>
void var_lanes(const T* x, int64_t l0, int64_t l1, int64_t n, double correction, T* var, T* mean) {
  const double divisor = std::max(0.0, static_cast<double>(n) - correction);
  for (int64_t l = l0; l < l1; ++l) {
    const T* p = x + l * n;
    double s = 0;
    for (int64_t i = 0; i < n; ++i) s += static_cast<double>(p[i]);
    const double m = s / static_cast<double>(n);  // NaN for n == 0, as PyTorch's mean
    double ss = 0, sd = 0;
    for (int64_t i = 0; i < n; ++i) {
      const double d = static_cast<double>(p[i]) - m;
      ss += d * d;
      sd += d;
    }
    double v = n ? (ss - sd * sd / static_cast<double>(n)) : std::numeric_limits<double>::quiet_NaN();
    if (v < 0) v = 0;
    var[l] = static_cast<T>(v / divisor);
    if (mean) mean[l] = static_cast<T>(m);
  }
}

// log(sum(exp(x))) with the lane's maximum subtracted; an infinite maximum is not
// subtracted (PyTorch's convention: +inf gives +inf, all -inf gives -inf), NaN propagates,
// an empty lane gives -inf.
template <class T>
void logsumexp_lanes(const T* x, int64_t l0, int64_t l1, int64_t n, T* y) {
  for (int64_t l = l0; l < l1; ++l) {
    const T* p = x + l * n;
    double m = -std::numeric_limits<double>::infinity();
    bool nan = false;
    for (int64_t i = 0; i < n; ++i) {
      const double v = static_cast<double>(p[i]);
      nan |= v != v;
      m = v > m ? v : m;
    }
    if (nan) {
      y[l] = std::numeric_limits<T>::quiet_NaN();
      continue;
    }
    const double shift = std::isinf(m) ? 0.0 : m;
    double s = 0;
    for (int64_t i = 0; i < n; ++i) s += std::exp(static_cast<double>(p[i]) - shift);
    y[l] = static_cast<T>(std::log(s) + shift);
  }
}

// The running log(sum(exp)) of each lane of (outer, n, inner), from the start or the end:
// r = max(r, v) + log1p(exp(-|r - v|)), with PyTorch's infinities (-inf is the identity).
template <class T>
void logcumsumexp_lanes(const T* x, T* y, const Lanes& L, bool reverse) {
  for_lanes(L, [&](int64_t l0, int64_t l1) {
    for (int64_t l = l0; l < l1; ++l) {
      const int64_t b = L.base(l);
      double r = -std::numeric_limits<double>::infinity();
      for (int64_t k = 0; k < L.n; ++k) {
        const int64_t i = b + (reverse ? L.n - 1 - k : k) * L.inner;
        const double v = static_cast<double>(x[i]);
        if (v != v || r != r) {
          r = std::numeric_limits<double>::quiet_NaN();
        } else {
          const double hi = std::max(r, v), lo = std::min(r, v);
          r = std::isinf(lo) && lo < 0 ? hi : (hi == lo && std::isinf(hi) ? hi : hi + std::log1p(std::exp(lo - hi)));
        }
        y[i] = static_cast<T>(r);
      }
    }
  });
}

// The ord-norm of each lane: inf / -inf the largest / smallest |x| (NaN propagates), 0 the
// count of nonzeros, 1 sum |x|, 2 sqrt(sum x^2), else (sum |x|^ord)^(1/ord).
template <class T>
void vector_norm_lanes(const T* x, int64_t l0, int64_t l1, int64_t n, double ord, T* y) {
  const double inf = std::numeric_limits<double>::infinity();
  for (int64_t l = l0; l < l1; ++l) {
    const T* p = x + l * n;
    double acc;
    if (std::isinf(ord)) {
      acc = ord > 0 ? 0.0 : inf;
      bool nan = false;
      for (int64_t i = 0; i < n; ++i) {
        const double a = std::fabs(static_cast<double>(p[i]));
        nan |= a != a;
        acc = ord > 0 ? std::max(acc, a) : std::min(acc, a);
      }
      if (nan) acc = std::numeric_limits<double>::quiet_NaN();
    } else if (ord == 0) {
      acc = 0;
      for (int64_t i = 0; i < n; ++i) acc += p[i] != T(0) ? 1.0 : 0.0;
    } else if (ord == 1) {
      acc = 0;
      for (int64_t i = 0; i < n; ++i) acc += std::fabs(static_cast<double>(p[i]));
    } else if (ord == 2) {
      acc = 0;
      for (int64_t i = 0; i < n; ++i) acc += static_cast<double>(p[i]) * static_cast<double>(p[i]);
      acc = std::sqrt(acc);
    } else {
      acc = 0;
      for (int64_t i = 0; i < n; ++i) acc += std::pow(std::fabs(static_cast<double>(p[i])), ord);
      acc = std::pow(acc, 1.0 / ord);
    }
    y[l] = static_cast<T>(acc);
  }
}

// kd-shaped view of a reduced result (contiguous).
TensorPtr as_kd(const TensorPtr& y, const Shape& kd) { return reshape(y, kd); }

// ---- var ----
struct VarBackward final : Node {
  SavedTensor x_;
  std::vector<int64_t> dims;
  Shape kd;
  double scale = 0;  // 2 / (n - correction)
  const char* name() const override { return "VarBackward0"; }
  tensor_list apply(tensor_list&& g) override {
    TensorPtr x = x_.unpack(this);
    // [x] = [kd] * 2 (x - mean) / (n - correction)
    TensorPtr dev = sub(x, mean(x, dims, true));
    return {mul(reshape(g[0], kd), mul_scalar(dev, scale))};
  }
  void release_saved() override { x_.reset(); }
  std::vector<std::pair<std::string, TensorPtr>> saved_tensors() const override { return {{"self", x_.raw()}}; }
};

TensorPtr var_float(const TensorPtr& x, const std::vector<int64_t>& dims_in, double correction, bool keepdim,
                    TensorPtr* mean_out) {
  std::vector<int64_t> dims = stat_dims(dims_in, x->ndim());
  ReducedLanes r = reduced_lanes(x, dims, keepdim);
  TensorPtr v = empty(r.out, x->dtype);
  TensorPtr m = mean_out ? empty(r.out, x->dtype) : nullptr;
  dispatch(x->dtype, [&](auto t) {
    using T = decltype(t);
    const T* px = r.data->template data<T>();
    T* pv = v->template data<T>();
    T* pm = m ? m->template data<T>() : nullptr;
    over_lanes(r, [&](int64_t l0, int64_t l1) { var_lanes<T>(px, l0, l1, r.n, correction, pv, pm); });
    return 0;
  });
  const double scale = 2.0 / (static_cast<double>(r.n) - correction);
  forward_rule(v, {x.get()}, [&] {
    TensorPtr dev = sub(x, mean(x, dims, true));
    return mul_scalar(sum(mul(dev, tangent(x)), dims, keepdim), scale);
  });
  std::shared_ptr<VarBackward> n;
  if (needs_record({x.get()})) {
    n = make_node<VarBackward>({x});
    n->x_ = SavedTensor(x, false);
    n->dims = dims;
    n->kd = r.kd;
    n->scale = scale;
    set_history(v, n);
  }
  if (mean_out) *mean_out = m;
  return v;
}

void check_var_input(const Tensor& x) {
  GC_CHECK(is_floating(x.dtype), RuntimeError, "std and var only support floating point and complex dtypes");
}

// ---- std ----
// PyTorch's std_backward: var's gradient times g / (2 std), 0 where std is 0 (a constant
// slice: sqrt's infinite slope is not taken, unlike sqrt(var)).
TensorPtr std_grad(const TensorPtr& g_kd, const TensorPtr& x, const TensorPtr& s_kd, const std::vector<int64_t>& dims,
                   double n_minus_c) {
  TensorPtr zero = scalar_like(*x, 0.0), one = scalar_like(*x, 1.0);
  TensorPtr at0 = compare(CmpOp::EQ, s_kd, Scalar::of(0.0));
  TensorPtr scale = where(at0, zero, div(g_kd, mul_scalar(where(at0, one, s_kd), n_minus_c)));
  return mul(sub(x, mean(x, dims, true)), scale);  // [x] = (x - mean) g / ((n - c) std)
}

struct StdBackward final : Node {
  SavedTensor x_, y_;
  std::vector<int64_t> dims;
  Shape kd;
  double n_minus_c = 0;
  const char* name() const override { return "StdBackward0"; }
  tensor_list apply(tensor_list&& g) override {
    TensorPtr x = x_.unpack(this), y = y_.unpack(this);
    return {std_grad(reshape(g[0], kd), x, reshape(y, kd), dims, n_minus_c)};
  }
  void release_saved() override { x_.reset(); y_.reset(); }
  std::vector<std::pair<std::string, TensorPtr>> saved_tensors() const override {
    return {{"self", x_.raw()}, {"result", y_.raw()}};
  }
};

TensorPtr std_float(const TensorPtr& x, const std::vector<int64_t>& dims_in, double correction, bool keepdim) {
  std::vector<int64_t> dims = stat_dims(dims_in, x->ndim());
  TensorPtr y, kd_t;
  Shape kd = x->shape;
  int64_t n = 1;
  for (int64_t d : dims) {
    n *= x->shape[d];
    kd[d] = 1;
  }
  {
    autograd::GradModeGuard no_grad(false);
    autograd::fw::DisableGuard no_tangent;
    y = sqrt(var_float(detach(x), dims, correction, keepdim, nullptr));
  }
  const double n_minus_c = static_cast<double>(n) - correction;
  std::shared_ptr<StdBackward> node;
  if (needs_record({x.get()})) {
    node = make_node<StdBackward>({x});
    node->x_ = SavedTensor(x, false);
    node->dims = dims;
    node->kd = kd;
    node->n_minus_c = n_minus_c;
    set_history(y, node);
  }
  // See Note [Saved result with a tangent].
  forward_rule(y, {x.get()}, [&] {
    return sum(std_grad(tangent(x), x, reshape(y, kd), dims, n_minus_c), dims, keepdim);
  });
  if (node) node->y_ = SavedTensor(y, true);
  return y;
}

// ---- logsumexp ----
struct LogsumexpBackward final : Node {
  SavedTensor x_, y_;
  Shape kd;
  const char* name() const override { return "LogsumexpBackward0"; }
  tensor_list apply(tensor_list&& g) override {
    TensorPtr x = x_.unpack(this), y = y_.unpack(this);
    // [x] = [kd] * softmax = [kd] * exp(x - logsumexp)
    return {mul(reshape(g[0], kd), exp(sub(x, reshape(y, kd))))};
  }
  void release_saved() override { x_.reset(); y_.reset(); }
  std::vector<std::pair<std::string, TensorPtr>> saved_tensors() const override {
    return {{"self", x_.raw()}, {"result", y_.raw()}};
  }
};

TensorPtr logsumexp_float(const TensorPtr& x, const std::vector<int64_t>& dims_in, bool keepdim) {
  std::vector<int64_t> dims = stat_dims(dims_in, x->ndim());
  ReducedLanes r = reduced_lanes(x, dims, keepdim);
  TensorPtr y = empty(r.out, x->dtype);
  dispatch(x->dtype, [&](auto t) {
    using T = decltype(t);
    const T* px = r.data->template data<T>();
    T* py = y->template data<T>();
    over_lanes(r, [&](int64_t l0, int64_t l1) { logsumexp_lanes<T>(px, l0, l1, r.n, py); });
    return 0;
  });
  std::shared_ptr<LogsumexpBackward> n;
  if (needs_record({x.get()})) {
    n = make_node<LogsumexpBackward>({x});
    n->x_ = SavedTensor(x, false);
    n->kd = r.kd;
    set_history(y, n);
  }
  // Note [Saved result with a tangent]: the rule runs after set_history (it reads y, whose
  // history reverse-over-forward needs) and y is saved after the rule (the saved result
  // carries its tangent into forward-over-reverse).
  forward_rule(y, {x.get()}, [&] {
    return sum(mul(tangent(x), exp(sub(x, as_kd(y, r.kd)))), dims, keepdim);
  });
  if (n) n->y_ = SavedTensor(y, true);
  return y;
}

// ---- logcumsumexp ----
// sum over a running window of w_j exp(a_j - b_i), stably: exp(logcumsumexp(log|w| + a) - b)
// for the positive and the negative w apart. The window is j <= i (from the start), or
// j >= i for `reverse`. NOTE: a dropped term takes the dtype's lowest finite value, not
// -inf (as PyTorch): with -inf, a window of dropped terms has logcumsumexp -inf, and the
// derivative of this formula (create_graph) meets inf - inf.
TensorPtr weighted_window_exp(const TensorPtr& w, const TensorPtr& a, const TensorPtr& b, int64_t dim, bool reverse) {
  const double lowest = a->dtype == DType::Float32 ? static_cast<double>(std::numeric_limits<float>::lowest())
                                                   : std::numeric_limits<double>::lowest();
  const TensorPtr ninf = scalar_like(*a, lowest);
  const TensorPtr log_abs = log(abs(w));
  auto part = [&](CmpOp side) {
    TensorPtr lw = where(compare(side, w, Scalar::of(0.0)), log_abs, ninf);
    return exp(sub(logcumsumexp(add(lw, a), dim, reverse), b));
  };
  return sub(part(CmpOp::GT), part(CmpOp::LT));
}

// PyTorch's stable gradient: dx_j = sum_{i >= j} g_i exp(x_j - y_i) (the reverse window
// of g exp(-y), times exp(x)); the tangent dy_i = sum_{j <= i} t_j exp(x_j - y_i).
struct LogcumsumexpBackward final : Node {
  SavedTensor x_, y_;
  int64_t dim = 0;
  bool reverse = false;
  const char* name() const override { return "LogcumsumexpBackward0"; }
  tensor_list apply(tensor_list&& g) override {
    TensorPtr x = x_.unpack(this), y = y_.unpack(this);
    return {weighted_window_exp(g[0], neg(y), neg(x), dim, !reverse)};
  }
  void release_saved() override { x_.reset(); y_.reset(); }
  std::vector<std::pair<std::string, TensorPtr>> saved_tensors() const override {
    return {{"self", x_.raw()}, {"result", y_.raw()}};
  }
};

TensorPtr logcumsumexp_float(const TensorPtr& x, int64_t dim_in, bool reverse) {
  const int64_t dim = normalize_dim(dim_in, x->ndim());
  TensorPtr xd;
  {
    autograd::GradModeGuard no_grad(false);
    autograd::fw::DisableGuard no_tangent;
    xd = dense(detach(x));
  }
  TensorPtr y = empty(x->shape, x->dtype);
  if (x->numel) {
    const Lanes L = lanes_of(x->shape, x->ndim() ? dim : 0);
    dispatch(x->dtype, [&](auto t) {
      using T = decltype(t);
      logcumsumexp_lanes<T>(xd->template data<T>(), y->template data<T>(), L, reverse);
      return 0;
    });
  }
  std::shared_ptr<LogcumsumexpBackward> n;
  if (needs_record({x.get()})) {
    n = make_node<LogcumsumexpBackward>({x});
    n->x_ = SavedTensor(x, false);
    n->dim = dim;
    n->reverse = reverse;
    set_history(y, n);
  }
  // See Note [Saved result with a tangent].
  forward_rule(y, {x.get()}, [&] {
    return weighted_window_exp(tangent(x), x, y, dim, reverse);
  });
  if (n) n->y_ = SavedTensor(y, true);
  return y;
}

// ---- vector_norm ----
// PyTorch's norm_backward: 0 for ord 0; sgn(x) g for 1; x g / norm for 2; for inf / -inf
// the elements at the extreme (or NaN) share g evenly with sgn(x); else
// sgn(x) |x|^(ord-1) g / norm^(ord-1) (x |x|^(ord-2) for ord >= 2). Wherever the norm is 0
// the subgradient 0 is taken (ord < 1: where x is 0).
TensorPtr norm_backward(const TensorPtr& g_kd, const TensorPtr& x, const TensorPtr& norm_kd, double ord,
                        const std::vector<int64_t>& dims) {
  const TensorPtr zero = scalar_like(*x, 0.0);
  if (ord == 0) return zeros(x->shape, x->dtype);  // not 0 * g: a NaN upstream gradient stays out, as PyTorch
  if (ord == 1) return mul(sign(x), g_kd);
  if (std::isinf(ord)) {
    TensorPtr ax = abs(x);
    TensorPtr mask;
    {
      autograd::GradModeGuard no_grad(false);
      autograd::fw::DisableGuard no_tangent;
      TensorPtr a = detach(ax);
      mask = to_dtype(logical(LogicOp::OR, eq(a, detach(norm_kd)), classify(FloatClass::NAN_, a)), x->dtype);
      mask = div(mask, sum(mask, dims, true));
    }
    return mul(sign(x), mul(g_kd, mask));
  }
  TensorPtr nz = compare(CmpOp::EQ, norm_kd, Scalar::of(0.0));
  if (ord == 2) return mul(x, where(nz, zero, div(g_kd, norm_kd)));
  if (ord < 1) {
    TensorPtr xz = compare(CmpOp::EQ, x, Scalar::of(0.0));
    TensorPtr scaled = mul(sign(x), where(xz, zero, pow(abs(x), Scalar::of(ord - 1))));
    return mul(mul(scaled, g_kd), pow(norm_kd, Scalar::of(1 - ord)));
  }
  TensorPtr scaled = ord < 2 ? mul(sign(x), pow(abs(x), Scalar::of(ord - 1))) : mul(x, pow(abs(x), Scalar::of(ord - 2)));
  return mul(scaled, where(nz, zero, div(g_kd, pow(norm_kd, Scalar::of(ord - 1)))));
}

struct NormBackward final : Node {
  SavedTensor x_, y_;
  std::vector<int64_t> dims;
  Shape kd;
  double ord = 2;
  const char* name() const override { return "LinalgVectorNormBackward0"; }
  tensor_list apply(tensor_list&& g) override {
    TensorPtr x = x_.unpack(this), y = y_.unpack(this);
    return {norm_backward(reshape(g[0], kd), x, reshape(y, kd), ord, dims)};
  }
  void release_saved() override { x_.reset(); y_.reset(); }
  std::vector<std::pair<std::string, TensorPtr>> saved_tensors() const override {
    return {{"self", x_.raw()}, {"result", y_.raw()}};
  }
};

TensorPtr vector_norm_float(const TensorPtr& x, double ord, const std::vector<int64_t>& dims_in, bool keepdim) {
  std::vector<int64_t> dims = stat_dims(dims_in, x->ndim());
  if (ord < 0 || std::isinf(ord)) {  // max / min-like norms of nothing have no identity
    for (int64_t d : dims)
      GC_CHECK(x->shape[d] != 0, RuntimeError, "linalg.vector_norm cannot compute the ", ord,
               " norm on the dimension ", d, " because this dimension is empty and the operation does not have an identity");
    GC_CHECK(!(x->numel == 0 && dims.empty() && x->ndim() > 0), RuntimeError, "linalg.vector_norm cannot compute the ",
             ord, " norm on an empty tensor because the operation does not have an identity");
  }
  ReducedLanes r = reduced_lanes(x, dims, keepdim);
  TensorPtr y = empty(r.out, x->dtype);
  dispatch(x->dtype, [&](auto t) {
    using T = decltype(t);
    const T* px = r.data->template data<T>();
    T* py = y->template data<T>();
    over_lanes(r, [&](int64_t l0, int64_t l1) { vector_norm_lanes<T>(px, l0, l1, r.n, ord, py); });
    return 0;
  });
  std::shared_ptr<NormBackward> n;
  if (needs_record({x.get()})) {
    n = make_node<NormBackward>({x});
    n->x_ = SavedTensor(x, false);
    n->dims = dims;
    n->kd = r.kd;
    n->ord = ord;
    set_history(y, n);
  }
  // See Note [Saved result with a tangent].
  forward_rule(y, {x.get()}, [&] {
    // d norm = sum(norm_backward(1) * t): the same subgradients as the backward
    TensorPtr w = norm_backward(scalar_like(*x, 1.0), x, as_kd(y, r.kd), ord, dims);
    return sum(mul(w, tangent(x)), dims, keepdim);
  });
  if (n) n->y_ = SavedTensor(y, true);
  return y;
}

}  // namespace

TensorPtr var(const TensorPtr& x, const std::vector<int64_t>& dims, double correction, bool keepdim) {
  check_var_input(*x);
  return float_op(x, [&](const TensorPtr& xf) { return var_float(xf, dims, correction, keepdim, nullptr); });
}

TensorPtr std_dev(const TensorPtr& x, const std::vector<int64_t>& dims, double correction, bool keepdim) {
  check_var_input(*x);
  return float_op(x, [&](const TensorPtr& xf) { return std_float(xf, dims, correction, keepdim); });
}

std::pair<TensorPtr, TensorPtr> var_mean(const TensorPtr& x, const std::vector<int64_t>& dims, double correction,
                                         bool keepdim, bool take_sqrt) {
  check_var_input(*x);
  TensorPtr v = take_sqrt ? nullptr : var(x, dims, correction, keepdim);
  return {take_sqrt ? std_dev(x, dims, correction, keepdim) : v, mean(x, dims, keepdim)};
}

TensorPtr logsumexp(const TensorPtr& x_in, const std::vector<int64_t>& dims, bool keepdim) {
  // integers and bool compute in the default dtype, as PyTorch's
  TensorPtr x = is_floating(x_in->dtype) ? x_in : to_dtype(x_in, default_dtype());
  return float_op(x, [&](const TensorPtr& xf) { return logsumexp_float(xf, dims, keepdim); });
}

TensorPtr logcumsumexp(const TensorPtr& x, int64_t dim, bool reverse) {
  // integer input: NotImplementedError in the binding, as PyTorch's
  GC_CHECK(is_floating(x->dtype), TypeError, "logcumsumexp: expected a floating point tensor, got ",
           dtype_torch_name(x->dtype));
  return float_op(x, [&](const TensorPtr& xf) { return logcumsumexp_float(xf, dim, reverse); });
}

TensorPtr vector_norm(const TensorPtr& x, double ord, const std::vector<int64_t>& dims, bool keepdim) {
  GC_CHECK(is_floating(x->dtype), RuntimeError,
           "linalg.vector_norm: Expected a floating point or complex tensor as input. Got ", dtype_torch_name(x->dtype));
  return float_op(x, [&](const TensorPtr& xf) { return vector_norm_float(xf, ord, dims, keepdim); });
}

}  // namespace gradcore::ops
