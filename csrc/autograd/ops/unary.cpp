// unary.cpp — neg exp log sqrt abs tanh sigmoid relu, and their fused backward ops.
// Float ops on integer inputs compute in the default dtype (float_op); neg, abs, sign and
// relu also exist for integers, as in PyTorch.
#include <cmath>
#include <type_traits>

#include "autograd/ops/common.h"

namespace gradcore::ops {
using autograd::make_node;
using autograd::needs_record;
using autograd::SavedTensor;
using autograd::set_history;

namespace {

// y = op(x) for float32/float64 x of any layout: a dense input (contiguous or a permuted
// block) is read as one block and the output takes its layout; others are made contiguous.
TensorPtr unary_forward(UnaryOp op, const TensorPtr& x_in) {
  TensorPtr x = x_in->non_overlapping_and_dense() ? x_in : dense(x_in);
  TensorPtr y = empty_like_layout(*x, x->dtype);
  if (x->numel == 0) return y;
  dispatch(x->dtype, [&](auto t) {
    using T = decltype(t);
    kernels::unary<T>(op, block_begin<T>(*x), block_begin<T>(*y), x->numel);
    return 0;
  });
  return y;
}

// Integer and bool versions of the ops PyTorch defines on them (neg, abs, sign, relu).
TensorPtr integer_unary(UnaryOp op, const TensorPtr& x) {
  GC_CHECK(!(x->dtype == DType::Bool && op == UNARY_NEG), RuntimeError,
           "Negation, the `-` operator, on a bool tensor is not supported. If you are trying to invert a mask, use "
           "the `~` or `logical_not()` operator instead.");
  TensorPtr y = empty(x->shape, x->dtype);
  dispatch_arith(x->dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_integral_v<T>) {
      using U = std::make_unsigned_t<std::conditional_t<std::is_same_v<T, bool>, int, T>>;
      switch (op) {
        case UNARY_NEG:
          iterate(*y, kernels::typed_row<T, T>([](T v) { return static_cast<T>(U(0) - static_cast<U>(v)); }), *x);
          break;
        case UNARY_ABS:
          iterate(*y, kernels::typed_row<T, T>([](T v) { return v < T(0) ? static_cast<T>(U(0) - static_cast<U>(v)) : v; }), *x);
          break;
        case UNARY_SIGN:
          iterate(*y, kernels::typed_row<T, T>([](T v) { return static_cast<T>((T(0) < v) - (v < T(0))); }), *x);
          break;
        default:  // relu
          iterate(*y, kernels::typed_row<T, T>([](T v) { return v > T(0) ? v : T(0); }), *x);
          break;
      }
    }
    return 0;
  });
  return y;
}

// A unary op whose backward needs its input (log, abs) or its output (exp, sqrt, tanh,
// sigmoid, relu). `Formula` maps (grad, saved) to the input's gradient.
template <class Formula>
struct UnaryBackward final : Node {
  SavedTensor saved_;
  bool saved_is_output_ = false;
  const char* name() const override { return Formula::name; }
  tensor_list apply(tensor_list&& g) override { return {Formula::grad(g[0], saved_.unpack(this))}; }
  void release_saved() override { saved_.reset(); }
  std::vector<std::pair<std::string, TensorPtr>> saved_tensors() const override {
    return {{saved_is_output_ ? "result" : "self", saved_.raw()}};
  }
};

template <class Formula>
TensorPtr unary_op(UnaryOp op, const TensorPtr& x) {
  TensorPtr y = unary_forward(op, x);
  // Note [Forward rules after set_history]: a rule that uses the output runs once the
  // output is linked to its node (so reverse mode can differentiate the tangent), and a
  // saved output is saved after the rule (so it keeps its tangent for forward-over-reverse).
  std::shared_ptr<UnaryBackward<Formula>> n;
  if (needs_record({x.get()})) {
    n = make_node<UnaryBackward<Formula>>({x});
    set_history(y, n);
  }
  // Elementwise, so the forward rule is the backward formula applied to the tangent.
  forward_rule(y, {x.get()}, [&] { return Formula::grad(tangent(x), Formula::saves_output ? y : x); });
  if (n) {
    n->saved_is_output_ = Formula::saves_output;
    n->saved_ = SavedTensor(Formula::saves_output ? y : x, Formula::saves_output);
  }
  return y;
}

struct ExpF { static constexpr const char* name = "ExpBackward0"; static constexpr bool saves_output = true;
  static TensorPtr grad(const TensorPtr& g, const TensorPtr& y) { return mul(g, y); } };
struct LogF { static constexpr const char* name = "LogBackward0"; static constexpr bool saves_output = false;
  static TensorPtr grad(const TensorPtr& g, const TensorPtr& x) { return div(g, x); } };
struct SqrtF { static constexpr const char* name = "SqrtBackward0"; static constexpr bool saves_output = true;
  static TensorPtr grad(const TensorPtr& g, const TensorPtr& y) { return div(g, mul_scalar(y, 2.0)); } };
// NOTE: abs'(0) = 0 and abs'(NaN) = 0 (sign(0), sign(NaN)), as in PyTorch.
struct AbsF { static constexpr const char* name = "AbsBackward0"; static constexpr bool saves_output = false;
  static TensorPtr grad(const TensorPtr& g, const TensorPtr& x) { return mul(g, sign(x)); } };
// d erf / dx = 2/sqrt(pi) exp(-x^2)
struct ErfF { static constexpr const char* name = "ErfBackward0"; static constexpr bool saves_output = false;
  static TensorPtr grad(const TensorPtr& g, const TensorPtr& x) {
    return mul(g, mul_scalar(exp(neg(mul(x, x))), 1.1283791670955126));
  } };
// softplus' = sigmoid
struct SoftplusF { static constexpr const char* name = "SoftplusBackward0"; static constexpr bool saves_output = false;
  static TensorPtr grad(const TensorPtr& g, const TensorPtr& x) { return mul(g, sigmoid(x)); } };
struct TanhF { static constexpr const char* name = "TanhBackward0"; static constexpr bool saves_output = true;
  static TensorPtr grad(const TensorPtr& g, const TensorPtr& y) { return tanh_backward(g, y); } };
struct SigmoidF { static constexpr const char* name = "SigmoidBackward0"; static constexpr bool saves_output = true;
  static TensorPtr grad(const TensorPtr& g, const TensorPtr& y) { return sigmoid_backward(g, y); } };
struct ReluF { static constexpr const char* name = "ReluBackward0"; static constexpr bool saves_output = true;
  static TensorPtr grad(const TensorPtr& g, const TensorPtr& y) { return relu_backward(g, y); } };

// Fused activation backward: one kernel pass when nothing records; while recording
// (create_graph) the same formula composed from differentiable ops.
TensorPtr act_backward(kernels::ActBackward act, const TensorPtr& g, const TensorPtr& y) {
  GC_CHECK(g->shape == y->shape, ValueError, "activation backward: ", shape_str(g->shape), " vs ",
           shape_str(y->shape));
  if (needs_composed({g.get(), y.get()})) {
    switch (act) {
      // The kernel's mask (1 where y > 0 or y is NaN) as a constant factor.
      case kernels::ACT_RELU: return mul(g, act_backward(kernels::ACT_RELU, full(y->shape, 1.0, y->dtype), detach(y)));
      case kernels::ACT_SIGMOID: return mul(g, mul(y, rsub_scalar(y, 1.0)));
      case kernels::ACT_TANH: return mul(g, rsub_scalar(mul(y, y), 1.0));
      default: break;
    }
  }
  TensorPtr out = empty(g->shape, g->dtype);
  TensorPtr gd = dense(g), yd = dense(y);
  dispatch(g->dtype, [&](auto t) {
    using T = decltype(t);
    kernels::activation_backward<T>(act, gd->data<T>(), yd->data<T>(), out->data<T>(), g->numel);
    return 0;
  });
  return out;
}

struct GeluBackward final : Node {
  SavedTensor x_;
  bool tanh_approx = false;
  const char* name() const override { return "GeluBackward0"; }
  tensor_list apply(tensor_list&& g) override { return {gelu_backward(g[0], x_.unpack(this), tanh_approx)}; }
  void release_saved() override { x_.reset(); }
  std::vector<std::pair<std::string, TensorPtr>> saved_tensors() const override { return {{"self", x_.raw()}}; }
};

// g * (x > 0 ? 1 : slope): one kernel pass, or (recording / tangents) composed with the
// mask a constant. Also leaky_relu's forward rule (elementwise: jvp = backward of tangent).
TensorPtr leaky_relu_grad(const TensorPtr& gy, const TensorPtr& x, double slope) {
  if (needs_composed({gy.get()})) {
    TensorPtr step = unary_forward(UNARY_STEP, detach(x));
    return mul(gy, add_scalar(mul_scalar(step, 1.0 - slope), slope));
  }
  TensorPtr out = empty(x->shape, x->dtype);
  TensorPtr gd = dense(gy), xd = dense(x);
  dispatch(x->dtype, [&](auto t) {
    using T = decltype(t);
    kernels::leaky_relu_backward<T>(gd->data<T>(), xd->data<T>(), static_cast<T>(slope), out->data<T>(), x->numel);
    return 0;
  });
  return out;
}

struct LeakyReluBackward final : Node {
  SavedTensor x_;
  double slope = 0.01;
  const char* name() const override { return "LeakyReluBackward0"; }
  tensor_list apply(tensor_list&& g) override { return {leaky_relu_grad(g[0], x_.unpack(this), slope)}; }
  void release_saved() override { x_.reset(); }
  std::vector<std::pair<std::string, TensorPtr>> saved_tensors() const override { return {{"self", x_.raw()}}; }
};

struct NegBackward final : Node {
  const char* name() const override { return "NegBackward0"; }
  tensor_list apply(tensor_list&& g) override { return {neg(g[0])}; }
};

}  // namespace

TensorPtr neg(const TensorPtr& x) {
  if (!is_floating(x->dtype)) return integer_unary(UNARY_NEG, x);
  return float_op(x, [](const TensorPtr& x) {
    TensorPtr y = unary_forward(UNARY_NEG, x);
    forward_rule(y, {x.get()}, [&] { return neg(tangent(x)); });
    if (needs_record({x.get()})) set_history(y, make_node<NegBackward>({x}));
    return y;
  });
}
#define GC_FLOAT_UNARY(fn, F, OP) \
  TensorPtr fn(const TensorPtr& x) { return float_op(x, [](const TensorPtr& x) { return unary_op<F>(OP, x); }); }
GC_FLOAT_UNARY(exp, ExpF, UNARY_EXP)
GC_FLOAT_UNARY(log, LogF, UNARY_LOG)
GC_FLOAT_UNARY(sqrt, SqrtF, UNARY_SQRT)
GC_FLOAT_UNARY(tanh, TanhF, UNARY_TANH)
GC_FLOAT_UNARY(sigmoid, SigmoidF, UNARY_SIGMOID)
GC_FLOAT_UNARY(erf, ErfF, UNARY_ERF)
GC_FLOAT_UNARY(softplus, SoftplusF, UNARY_SOFTPLUS)
#undef GC_FLOAT_UNARY
TensorPtr abs(const TensorPtr& x) {
  if (!is_floating(x->dtype)) return x->dtype == DType::Bool ? clone(x) : integer_unary(UNARY_ABS, x);
  return float_op(x, [](const TensorPtr& x) { return unary_op<AbsF>(UNARY_ABS, x); });
}
TensorPtr relu(const TensorPtr& x) {
  if (!is_floating(x->dtype)) {
    GC_CHECK(x->dtype != DType::Bool, RuntimeError, "\"clamp_min_cpu\" not implemented for 'Bool'");
    return integer_unary(UNARY_RELU, x);
  }
  return float_op(x, [](const TensorPtr& x) { return unary_op<ReluF>(UNARY_RELU, x); });
}
namespace {
// The backward of piecewise-constant ops (sign, floor, ceil, trunc, round): zero.
struct ZeroGradBackward final : Node {
  const char* name_ = "FloorBackward0";
  const char* name() const override { return name_; }
  tensor_list apply(tensor_list&& g) override { return {zeros(g[0]->shape, g[0]->dtype)}; }
};
}  // namespace

TensorPtr sign(const TensorPtr& x) {
  if (!is_floating(x->dtype)) return x->dtype == DType::Bool ? clone(x) : integer_unary(UNARY_SIGN, x);
  return float_op(x, [](const TensorPtr& x) {
    TensorPtr y = unary_forward(UNARY_SIGN, x);
    // PyTorch's sign is differentiable with a zero gradient (SignBackward0), so a graph
    // through it alone still reaches its inputs.
    forward_rule(y, {x.get()}, [&] { return zeros(x->shape, x->dtype); });
    if (needs_record({x.get()})) {
      auto n = make_node<ZeroGradBackward>({x});
      n->name_ = "SignBackward0";
      set_history(y, n);
    }
    return y;
  });
}

TensorPtr gelu_impl(const TensorPtr& x, bool tanh_approximation);
TensorPtr leaky_relu_impl(const TensorPtr& x, double slope);

TensorPtr gelu(const TensorPtr& x_in, bool tanh_approximation) {
  return float_op(x_in, [&](const TensorPtr& x) { return gelu_impl(x, tanh_approximation); });
}

TensorPtr gelu_impl(const TensorPtr& x, bool tanh_approximation) {
  TensorPtr y = unary_forward(tanh_approximation ? UNARY_GELU_TANH : UNARY_GELU, x);
  forward_rule(y, {x.get()}, [&] { return gelu_backward(tangent(x), x, tanh_approximation); });
  if (needs_record({x.get()})) {
    auto n = make_node<GeluBackward>({x});
    n->x_ = SavedTensor(x, false);
    n->tanh_approx = tanh_approximation;
    set_history(y, n);
  }
  return y;
}

TensorPtr gelu_backward(const TensorPtr& g, const TensorPtr& x, bool tanh_approximation) {
  GC_CHECK(g->shape == x->shape, ValueError, "gelu backward: ", shape_str(g->shape), " vs ", shape_str(x->shape));
  if (needs_composed({g.get(), x.get()})) {
    if (tanh_approximation) {
      // 0.5 (1 + t) + 0.5 x (1 - t^2) u',  u = c (x + 0.044715 x^3), t = tanh(u)
      const double c = 0.7978845608028654;
      TensorPtr x2 = mul(x, x);
      TensorPtr t = tanh(mul_scalar(add(x, mul_scalar(mul(x2, x), 0.044715)), c));
      TensorPtr du = mul_scalar(add_scalar(mul_scalar(x2, 3 * 0.044715), 1.0), c);
      TensorPtr d = add(mul_scalar(add_scalar(t, 1.0), 0.5), mul(mul_scalar(x, 0.5), mul(rsub_scalar(mul(t, t), 1.0), du)));
      return mul(g, d);
    }
    // Phi(x) + x phi(x)
    TensorPtr cdf = mul_scalar(add_scalar(erf(mul_scalar(x, 0.7071067811865476)), 1.0), 0.5);
    TensorPtr pdf = mul_scalar(exp(mul_scalar(mul(x, x), -0.5)), 0.3989422804014327);
    return mul(g, add(cdf, mul(x, pdf)));
  }
  TensorPtr out = empty(g->shape, g->dtype);
  TensorPtr gd = dense(g), xd = dense(x);
  dispatch(g->dtype, [&](auto t) {
    using T = decltype(t);
    kernels::activation_backward<T>(tanh_approximation ? kernels::ACT_GELU_TANH : kernels::ACT_GELU, gd->data<T>(),
                                    xd->data<T>(), out->data<T>(), g->numel);
    return 0;
  });
  return out;
}

TensorPtr leaky_relu(const TensorPtr& x_in, double slope) {
  return float_op(x_in, [&](const TensorPtr& x) { return leaky_relu_impl(x, slope); });
}

TensorPtr leaky_relu_impl(const TensorPtr& x, double slope) {
  TensorPtr y = empty(x->shape, x->dtype);
  TensorPtr xd = dense(x);
  dispatch(x->dtype, [&](auto t) {
    using T = decltype(t);
    kernels::leaky_relu<T>(xd->data<T>(), static_cast<T>(slope), y->data<T>(), x->numel);
    return 0;
  });
  forward_rule(y, {x.get()}, [&] { return leaky_relu_grad(tangent(x), x, slope); });
  if (needs_record({x.get()})) {
    auto n = make_node<LeakyReluBackward>({x});
    n->x_ = SavedTensor(x, false);
    n->slope = slope;
    set_history(y, n);
  }
  return y;
}

TensorPtr dropout(const TensorPtr& x, double p) {
  GC_CHECK(p >= 0.0 && p <= 1.0, ValueError, "dropout probability has to be between 0 and 1, but got ", p);
  check_floating(*x, "dropout");
  if (p == 0.0) return x;
  TensorPtr mask;
  {
    autograd::GradModeGuard no_grad(false);
    // mask = (u >= p) / (1 - p), u ~ U[0, 1): a constant the gradient is multiplied by.
    TensorPtr u = rand(x->shape, x->dtype, 0.0, 1.0);
    mask = p >= 1.0 ? zeros(x->shape, x->dtype) : mul_scalar(unary_forward(UNARY_STEP, add_scalar(u, -p)), 1.0 / (1.0 - p));
  }
  return mul(x, mask);
}

TensorPtr relu_backward(const TensorPtr& g, const TensorPtr& y) { return act_backward(kernels::ACT_RELU, g, y); }
TensorPtr sigmoid_backward(const TensorPtr& g, const TensorPtr& y) { return act_backward(kernels::ACT_SIGMOID, g, y); }
TensorPtr tanh_backward(const TensorPtr& g, const TensorPtr& y) { return act_backward(kernels::ACT_TANH, g, y); }

TensorPtr rounding(RoundOp op, const TensorPtr& x_in) {
  if (!is_floating(x_in->dtype)) return clone(x_in);  // integers are already whole
  if (!is_f32_or_f64(x_in->dtype)) return to_dtype(rounding(op, to_dtype(x_in, DType::Float32)), x_in->dtype);
  const TensorPtr& x = x_in;
  TensorPtr y = empty(x->shape, x->dtype);
  if (y->numel) {
    dispatch(x->dtype, [&](auto z) {
      using T = decltype(z);
      switch (op) {
        case RoundOp::FLOOR: iterate(*y, kernels::typed_row<T, T>([](T v) { return std::floor(v); }), *x); break;
        case RoundOp::CEIL: iterate(*y, kernels::typed_row<T, T>([](T v) { return std::ceil(v); }), *x); break;
        case RoundOp::TRUNC: iterate(*y, kernels::typed_row<T, T>([](T v) { return std::trunc(v); }), *x); break;
        case RoundOp::ROUND: iterate(*y, kernels::typed_row<T, T>([](T v) { return std::nearbyint(v); }), *x); break;
      }
      return 0;
    });
  }
  forward_rule(y, {x.get()}, [&] { return zeros(x->shape, x->dtype); });
  if (needs_record({x.get()})) {
    auto n = make_node<ZeroGradBackward>({x});
    static const char* names[] = {"FloorBackward0", "CeilBackward0", "TruncBackward0", "RoundBackward0"};
    n->name_ = names[static_cast<int>(op)];
    set_history(y, n);
  }
  return y;
}

}  // namespace gradcore::ops
