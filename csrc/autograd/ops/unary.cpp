// unary.cpp — the hand-written unary ops: neg, abs, sign (also for integers, as in PyTorch),
// relu on integers, leaky_relu, dropout, rounding. The registry ops are in math.cpp and
// activation.cpp.
#include <cmath>
#include <type_traits>

#include "autograd/ops/common.h"

namespace gradcore::ops {
using autograd::make_node;
using autograd::needs_record;
using autograd::SavedTensor;
using autograd::set_history;

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

namespace {

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

// abs' = sign(x): 0 at 0 and at NaN (sign(0), sign(NaN)), as in PyTorch.
struct AbsBackward final : Node {
  SavedTensor x_;
  const char* name() const override { return "AbsBackward0"; }
  tensor_list apply(tensor_list&& g) override { return {mul(g[0], sign(x_.unpack(this)))}; }
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
TensorPtr abs(const TensorPtr& x) {
  if (!is_floating(x->dtype)) return x->dtype == DType::Bool ? clone(x) : integer_unary(UNARY_ABS, x);
  return float_op(x, [](const TensorPtr& x) {
    TensorPtr y = unary_forward(UNARY_ABS, x);
    forward_rule(y, {x.get()}, [&] { return mul(tangent(x), sign(x)); });
    if (needs_record({x.get()})) {
      auto n = make_node<AbsBackward>({x});
      n->x_ = SavedTensor(x, false);
      set_history(y, n);
    }
    return y;
  });
}
TensorPtr relu_integer(const TensorPtr& x) {
  GC_CHECK(x->dtype != DType::Bool, RuntimeError, "\"clamp_min_cpu\" not implemented for 'Bool'");
  return integer_unary(UNARY_RELU, x);
}
namespace {
// The backward of piecewise-constant ops (sign, floor, ceil, trunc, round): zero.
struct ZeroGradBackward final : Node {
  const char* name_ = "FloorBackward0";
  const char* name() const override { return name_; }
  tensor_list apply(tensor_list&& g) override { return {zeros(g[0]->shape, g[0]->dtype)}; }
};
}  // namespace

TensorPtr with_zero_gradient(const TensorPtr& y, const TensorPtr& x, const char* node) {
  forward_rule(y, {x.get()}, [&] { return zeros(x->shape, x->dtype); });
  if (needs_record({x.get()})) {
    auto n = make_node<ZeroGradBackward>({x});
    n->name_ = node;
    set_history(y, n);
  }
  return y;
}

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

TensorPtr leaky_relu_impl(const TensorPtr& x, double slope);

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
