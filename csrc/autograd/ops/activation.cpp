// activation.cpp — the activations, generated from GC_ACTIVATIONS (ops.h), and the
// parameterised ones (elu/celu, softplus(beta, threshold), hardtanh, threshold, shrinks).
//
// Note [One activation, one descriptor]
// ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
// A GC_ACTIVATIONS row gives the forward kernel, the fused backward kernel, what the backward
// saves and the composed gradient. From it come: the op name(x) and its Backward node, the
// fused backward op name_backward(g, s) (one kernel pass; while recording or propagating
// tangents, the composed formula, so create_graph and forward mode work), and the Activation
// descriptor through which Linear fuses the activation into the GEMM epilogue and its
// one-pass backward (linalg.cpp) and the bindings map F.linear's `activation=` strings.
#include <cmath>
#include <string>

#include "autograd/ops/common.h"

namespace gradcore::ops {
using autograd::make_node;
using autograd::needs_record;
using autograd::SavedTensor;
using autograd::set_history;

namespace {

constexpr double kSeluAlpha = 1.6732632423543772848170429916717;
constexpr double kSeluScale = 1.0507009873554804934193349852946;

// ---- helpers of the composed-gradient column ----
TensorPtr fscalar(double v, DType d) { return full({}, v, d); }

// relu's kernel mask (1 where y > 0 or y is NaN: threshold_backward) as a constant.
TensorPtr relu_mask(const TensorPtr& y) {
  autograd::GradModeGuard off(false);
  return relu_backward(full(y->shape, 1.0, y->dtype), detach(y));
}

// 1 where lo < x < hi else 0, a constant (hardtanh's and hardsigmoid's mask).
TensorPtr band_mask(const TensorPtr& x, double lo, double hi) {
  autograd::GradModeGuard off(false);
  TensorPtr xd = detach(x);
  Scalar l = Scalar::of(lo), h = Scalar::of(hi);
  return to_dtype(logical(LogicOp::AND, compare(CmpOp::GT, xd, l), compare(CmpOp::LT, xd, h)), x->dtype);
}

// 1 except where x <= lo or x >= hi (so 1 at NaN): PyTorch's hardtanh_backward mask, a constant.
TensorPtr hardtanh_mask(const TensorPtr& x, double lo, double hi) {
  autograd::GradModeGuard off(false);
  TensorPtr xd = detach(x);
  Scalar l = Scalar::of(lo), h = Scalar::of(hi);
  return to_dtype(logical_not(logical(LogicOp::OR, compare(CmpOp::LE, xd, l), compare(CmpOp::GE, xd, h))), x->dtype);
}

// The quotient rule of x / (1 + |x|), as PyTorch's composition differentiates it.
TensorPtr softsign_grad(const TensorPtr& g, const TensorPtr& x) {
  TensorPtr d = add_scalar(abs(x), 1.0);
  return sub(div(g, d), div(mul(mul(g, x), sign(x)), mul(d, d)));
}

TensorPtr gelu_derivative(const TensorPtr& x, bool tanh_approximation) {
  if (tanh_approximation) {
    // 0.5 (1 + t) + 0.5 x (1 - t^2) u',  u = c (x + 0.044715 x^3), t = tanh(u)
    const double c = 0.7978845608028654;
    TensorPtr x2 = mul(x, x);
    TensorPtr t = tanh(mul_scalar(add(x, mul_scalar(mul(x2, x), 0.044715)), c));
    TensorPtr du = mul_scalar(add_scalar(mul_scalar(x2, 3 * 0.044715), 1.0), c);
    return add(mul_scalar(add_scalar(t, 1.0), 0.5), mul(mul_scalar(x, 0.5), mul(rsub_scalar(mul(t, t), 1.0), du)));
  }
  // Phi(x) + x phi(x)
  TensorPtr cdf = mul_scalar(add_scalar(erf(mul_scalar(x, 0.7071067811865476)), 1.0), 0.5);
  TensorPtr pdf = mul_scalar(exp(mul_scalar(mul(x, x), -0.5)), 0.3989422804014327);
  return add(cdf, mul(x, pdf));
}

TensorPtr silu_derivative(const TensorPtr& x) {  // s (1 + x (1 - s))
  TensorPtr s = sigmoid(x);
  return mul(s, add_scalar(mul(x, rsub_scalar(s, 1.0)), 1.0));
}

TensorPtr mish_derivative(const TensorPtr& x) {  // t + x sigmoid(x) (1 - t^2), t = tanh(softplus(x))
  TensorPtr t = tanh(softplus(x, 1.0, 1e300));
  return add(t, mul(mul(x, sigmoid(x)), rsub_scalar(mul(t, t), 1.0)));
}

// softplus(beta, threshold)': sigmoid(beta x), 1 where beta x > threshold.
TensorPtr softplus_derivative(const TensorPtr& x, double beta, double threshold) {
  TensorPtr above;
  {
    autograd::GradModeGuard off(false);
    above = compare(CmpOp::GT, mul_scalar(detach(x), beta), Scalar::of(threshold));
  }
  return where(above, fscalar(1.0, x->dtype), sigmoid(mul_scalar(x, beta)));
}

TensorPtr hardswish_derivative(const TensorPtr& x) {  // 0 below -3, x/3 + 1/2 up to 3, 1 above
  TensorPtr below, inside;
  {
    autograd::GradModeGuard off(false);
    TensorPtr xd = detach(x);
    below = compare(CmpOp::LT, xd, Scalar::of(-3.0));
    inside = compare(CmpOp::LE, xd, Scalar::of(3.0));
  }
  TensorPtr mid = add_scalar(mul_scalar(x, 1.0 / 3), 0.5);
  return where(below, fscalar(0.0, x->dtype), where(inside, mid, fscalar(1.0, x->dtype)));
}

TensorPtr selu_derivative(const TensorPtr& x) {  // scale above 0, scale alpha e^x below
  TensorPtr nonpos;  // x <= 0 (not at NaN, where PyTorch's gradient is g * scale)
  {
    autograd::GradModeGuard off(false);
    nonpos = compare(CmpOp::LE, detach(x), Scalar::of(0.0));
  }
  return where(nonpos, mul_scalar(exp(x), kSeluScale * kSeluAlpha), fscalar(kSeluScale, x->dtype));
}

// ---- the generated activations ----
enum Saves { IN, OUT };

template <class Row>
struct ActivationBackward final : Node {
  SavedTensor saved_;
  const char* name() const override { return Row::node; }
  tensor_list apply(tensor_list&& g) override { return {Row::fused_grad(g[0], saved_.unpack(this))}; }
  void release_saved() override { saved_.reset(); }
  std::vector<std::pair<std::string, TensorPtr>> saved_tensors() const override {
    return {{Row::saves == OUT ? "result" : "self", saved_.raw()}};
  }
};

// g * act'(.) from s: one pass of the fused kernel, or the composed formula while recording
// (create_graph) or propagating tangents.
template <class Row>
TensorPtr fused_backward(const TensorPtr& g, const TensorPtr& s) {
  GC_CHECK(g->shape == s->shape, ValueError, Row::op, " backward: ", shape_str(g->shape), " vs ", shape_str(s->shape));
  if (needs_composed({g.get(), s.get()})) return Row::composed(g, s);
  TensorPtr out = empty(g->shape, g->dtype);
  TensorPtr gd = dense(g), sd = dense(s);
  if (out->numel) {
    dispatch(g->dtype, [&](auto t) {
      using T = decltype(t);
      kernels::activation_backward<T>(Row::bwd, gd->data<T>(), sd->data<T>(), out->data<T>(), g->numel);
      return 0;
    });
  }
  return out;
}

template <class Row>
TensorPtr activation_op(const TensorPtr& x_in) {
  if (!is_floating(x_in->dtype)) {
    refuse_integers(*x_in, Row::ints);
    if (Row::ints[0] == '=') {  // integer results: relu, relu6
      if (Row::fwd == UNARY_RELU) return relu_integer(x_in);
      Scalar lo = Scalar::of_int(0), hi = Scalar::of_int(6);
      return clamp(x_in, &lo, &hi);
    }
  }
  return float_op(x_in, [](const TensorPtr& x) {
    TensorPtr y = unary_forward(Row::fwd, x);
    // Note [Forward rules after set_history] (unary.cpp).
    std::shared_ptr<ActivationBackward<Row>> n;
    if (needs_record({x.get()})) {
      n = make_node<ActivationBackward<Row>>({x});
      set_history(y, n);
    }
    forward_rule(y, {x.get()}, [&] { return Row::fused_grad(tangent(x), Row::saves == OUT ? y : x); });
    if (n) n->saved_ = SavedTensor(Row::saves == OUT ? y : x, Row::saves == OUT);
    return y;
  });
}

#define GC_ACTIVATION_ROW(op_name, NODE, FWD, BWD, SAVES, INTS, GRAD, DOC)                              \
  struct op_name##_act {                                                                               \
    static constexpr const char* op = #op_name;                                                        \
    static constexpr const char* ints = INTS;                                                          \
    static constexpr const char* node = NODE;                                                          \
    static constexpr UnaryOp fwd = UNARY_##FWD;                                                        \
    static constexpr ActBackward bwd = ACT_##BWD;                                    \
    static constexpr Saves saves = SAVES;                                                              \
    static TensorPtr composed(const TensorPtr& g, const TensorPtr& s) { return GRAD; }                 \
    static TensorPtr fused_grad(const TensorPtr& g, const TensorPtr& s);                               \
  };
GC_ACTIVATIONS(GC_ACTIVATION_ROW)
#undef GC_ACTIVATION_ROW

}  // namespace

#define GC_DEFINE_ACTIVATION(op_name, ...)                                                                    \
  TensorPtr op_name(const TensorPtr& x) { return activation_op<op_name##_act>(x); }                          \
  TensorPtr op_name##_backward(const TensorPtr& g, const TensorPtr& s) { return fused_backward<op_name##_act>(g, s); } \
  TensorPtr op_name##_act::fused_grad(const TensorPtr& g, const TensorPtr& s) { return op_name##_backward(g, s); }
GC_ACTIVATIONS(GC_DEFINE_ACTIVATION)
#undef GC_DEFINE_ACTIVATION

const std::vector<Activation>& activations() {
  static const std::vector<Activation> table = {
#define GC_DESCRIPTOR(op_name, NODE, FWD, BWD, SAVES, INTS, GRAD, DOC) \
  Activation{#op_name, UNARY_##FWD, ACT_##BWD, SAVES == IN, &op_name, &op_name##_backward},
      GC_ACTIVATIONS(GC_DESCRIPTOR)
#undef GC_DESCRIPTOR
  };
  return table;
}

const Activation* find_activation(const std::string& name) {
  for (const Activation& a : activations())
    if (name == a.name) return &a;
  return nullptr;
}

TensorPtr gelu(const TensorPtr& x, bool tanh_approximation) { return tanh_approximation ? gelu_tanh(x) : gelu(x); }
TensorPtr gelu_backward(const TensorPtr& g, const TensorPtr& x, bool tanh_approximation) {
  return tanh_approximation ? gelu_tanh_backward(g, x) : gelu_backward(g, x);
}

// ---- parameterised activations: the scalar engine forward, composed gradients ----
namespace {

// y = f(x) elementwise for a float32/float64 x (no autograd).
template <class F>
TensorPtr scalar_map(const TensorPtr& x, F f) {
  TensorPtr y = empty(x->shape, x->dtype);
  if (y->numel == 0) return y;
  dispatch(x->dtype, [&](auto t) {
    using T = decltype(t);
    iterate(*y, kernels::typed_row<T, T>([&](T v) { return static_cast<T>(f(static_cast<double>(v))); }), *x);
    return 0;
  });
  return y;
}

// The gradient of a parameterised activation: g * d(x) with d composed (differentiable).
struct ParamActBackward final : Node {
  SavedTensor x_;
  const char* node_ = "";
  std::function<TensorPtr(const TensorPtr&)> derivative;
  const char* name() const override { return node_; }
  tensor_list apply(tensor_list&& g) override { return {mul(g[0], derivative(x_.unpack(this)))}; }
  void release_saved() override { x_.reset(); }
  std::vector<std::pair<std::string, TensorPtr>> saved_tensors() const override { return {{"self", x_.raw()}}; }
};

template <class F>
TensorPtr param_activation(const TensorPtr& x_in, const char* node, F forward,
                           std::function<TensorPtr(const TensorPtr&)> derivative) {
  return float_op(x_in, [&](const TensorPtr& x) {
    TensorPtr y = scalar_map(x, forward);
    forward_rule(y, {x.get()}, [&] { return mul(tangent(x), derivative(x)); });
    if (needs_record({x.get()})) {
      auto n = make_node<ParamActBackward>({x});
      n->x_ = SavedTensor(x, false);
      n->node_ = node;
      n->derivative = derivative;
      set_history(y, n);
    }
    return y;
  });
}

// A piecewise-constant derivative: value `inside` where the mask holds, else `outside`.
TensorPtr piecewise(const TensorPtr& x, const std::function<bool(double)>& in, double inside, double outside) {
  autograd::GradModeGuard off(false);
  return scalar_map(detach(x), [=](double v) { return in(v) ? inside : outside; });
}

}  // namespace

TensorPtr elu(const TensorPtr& x, double alpha, double scale, double input_scale) {
  refuse_integers(*x, "elu_cpu");
  // PyTorch's elu kernel: x > 0 ? scale x : scale alpha (exp(x input_scale) - 1)
  return param_activation(x, "EluBackward0", [=](double v) {
    return v > 0 ? scale * v : scale * alpha * std::expm1(v * input_scale);
  }, [=](const TensorPtr& xs) {
    TensorPtr nonpos;  // x <= 0 (not at NaN: PyTorch's elu_backward gives g * scale there)
    {
      autograd::GradModeGuard off(false);
      nonpos = compare(CmpOp::LE, detach(xs), Scalar::of(0.0));
    }
    return where(nonpos, mul_scalar(exp(mul_scalar(xs, input_scale)), scale * alpha * input_scale),
                 full({}, scale, xs->dtype));
  });
}

TensorPtr softplus(const TensorPtr& x, double beta, double threshold) {
  if (beta == 1.0 && threshold == 20.0) return softplus(x);
  refuse_integers(*x, "softplus_cpu");
  return param_activation(x, "SoftplusBackward0", [=](double v) {
    const double bv = v * beta;
    return bv > threshold ? v : std::log1p(std::exp(bv)) / beta;
  }, [=](const TensorPtr& xs) { return softplus_derivative(xs, beta, threshold); });
}

TensorPtr hardtanh(const TensorPtr& x, double lo, double hi) {
  if (lo == 0.0 && hi == 6.0) return relu6(x);
  if (!is_floating(x->dtype)) {  // integer results, as PyTorch's clamp
    Scalar l = Scalar::of(lo), h = Scalar::of(hi);
    return to_dtype(clamp(x, &l, &h), x->dtype);
  }
  return param_activation(x, "HardtanhBackward0", [=](double v) { return v < lo ? lo : (v > hi ? hi : v); },
                          [=](const TensorPtr& xs) { return hardtanh_mask(xs, lo, hi); });
}

TensorPtr threshold(const TensorPtr& x, double th, double value) {
  if (!is_floating(x->dtype)) {  // integer results
    TensorPtr below = compare(CmpOp::LE, x, Scalar::of(th));
    return where(below, to_dtype(full({}, value, DType::Float64), x->dtype), x);
  }
  return param_activation(x, "ThresholdBackward0", [=](double v) { return v <= th ? value : v; },
                          [=](const TensorPtr& xs) { return piecewise(xs, [=](double v) { return v <= th; }, 0.0, 1.0); });
}

TensorPtr softshrink(const TensorPtr& x, double l) {
  refuse_integers(*x, "softshrink_check");
  GC_CHECK(l >= 0, RuntimeError, "lambda must be greater or equal to 0, but found to be ", l, ".");
  return param_activation(x, "SoftshrinkBackward0", [=](double v) { return v > l ? v - l : (v < -l ? v + l : 0.0 * v); },
                          [=](const TensorPtr& xs) {
                            return piecewise(xs, [=](double v) { return v >= -l && v <= l; }, 0.0, 1.0);
                          });
}

TensorPtr logit(const TensorPtr& x, const double* eps_in) {
  // PyTorch's logit_backward: 0 outside [eps, 1 - eps] (not at NaN; NaN outside [0, 1]
  // without eps), else g / (x (1 - x)).
  const bool has_eps = eps_in != nullptr;
  const double lo = has_eps ? *eps_in : 0.0, hi = 1.0 - lo;
  return param_activation(x, "LogitBackward0", [=](double v) {
    const double c = has_eps ? (v < lo ? lo : (v > hi ? hi : v)) : v;
    return std::log(c / (1.0 - c));
  }, [=](const TensorPtr& xs) {
    // Without eps, NaN outside [0, 1] (PyTorch's).
    TensorPtr d = rdiv_scalar(mul(xs, rsub_scalar(xs, 1.0)), 1.0);
    TensorPtr outside;
    {
      autograd::GradModeGuard off(false);
      TensorPtr xd = detach(xs);
      outside = logical(LogicOp::OR, compare(CmpOp::LT, xd, Scalar::of(lo)), compare(CmpOp::GT, xd, Scalar::of(hi)));
    }
    return where(outside, full({}, has_eps ? 0.0 : std::nan(""), xs->dtype), d);
  });
}

TensorPtr hardshrink(const TensorPtr& x, double l) {
  refuse_integers(*x, "hardshrink_cpu");
  return param_activation(x, "HardshrinkBackward0", [=](double v) { return v >= -l && v <= l ? 0.0 : v; },
                          [=](const TensorPtr& xs) {
                            return piecewise(xs, [=](double v) { return v >= -l && v <= l; }, 0.0, 1.0);
                          });
}

}  // namespace gradcore::ops
