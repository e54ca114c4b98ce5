// math.cpp — the elementwise math ops, generated from the registries of ops.h
// (GC_UNARY_FLOAT_OPS, GC_BINARY_FLOAT_OPS), plus square, logit, nan_to_num, round(decimals).
//
// Note [One op, one row]
// ~~~~~~~~~~~~~~~~~~~~~~
// An elementwise op is one row of its registry: forward, backward and forward-mode rule side
// by side. This file turns each row into the op's function and Backward node; the bindings
// (bindings/ops.cpp) turn it into gradcore.name, Tensor.name and Tensor.name_; the live
// registry (_core._elementwise_ops) is what tools/gen_stub.py writes the stub and the export
// list python/gradcore/_ops.py from; tests/op_table.py's ELEMENTWISE table has one row per
// op, checked against the registry (tests/test_elementwise.py), and every suite reads it.
// Adding an op: its kernel where it needs a new one (kernels_impl.inc + GC_UNARY_KERNELS),
// its registry row, its test row, then tools/gen_stub.py.
#include <cmath>
#include <limits>
#include <type_traits>

#include "autograd/ops/common.h"

namespace gradcore::ops {
using autograd::make_node;
using autograd::needs_record;
using autograd::SavedTensor;
using autograd::set_history;
using autograd::wants;

namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kLn2 = 0.69314718055994530942;
constexpr double kLn10 = 2.30258509299404568402;
constexpr double kTwoOverSqrtPi = 1.12837916709551257390;
constexpr double kSqrtPiOver2 = 0.88622692545275801365;

// ---- scalar bodies of the S(...) forwards ----
template <class T>
T erfinv_value(T y) {
  // Giles' single-precision-style initial guess in double, then two Newton steps on
  // erf(x) - y (quadratic convergence: full double precision). +-1 -> +-inf, |y| > 1 -> NaN.
  const double v = static_cast<double>(y);
  if (!(v > -1.0 && v < 1.0)) {
    if (v == 1.0) return std::numeric_limits<T>::infinity();
    if (v == -1.0) return -std::numeric_limits<T>::infinity();
    return std::numeric_limits<T>::quiet_NaN();
  }
  if (v == 0.0) return y;  // keeps the sign of zero
  double w = -std::log((1.0 - v) * (1.0 + v)), x;
  if (w < 6.25) {
    w -= 3.125;
    double p = -3.6444120640178196996e-21;
    for (double c : {-1.685059138182016589e-19, 1.2858480715256400167e-18, 1.115787767802518096e-17,
                     -1.333171662854620906e-16, 2.0972767875968561637e-17, 6.6376381343583238325e-15,
                     -4.0545662729752068639e-14, -8.1519341976054721522e-14, 2.6335093153082322977e-12,
                     -1.2975133253453532498e-11, -5.4154120542946279317e-11, 1.051212273321532285e-09,
                     -4.1126339803469836976e-09, -2.9070369957882005086e-08, 4.2347877827932403518e-07,
                     -1.3654692000834678645e-06, -1.3882523362786468719e-05, 0.0001867342080340571352,
                     -0.00074070253416626697512, -0.0060336708714301490533, 0.24015818242558961693,
                     1.6536545626831027356})
      p = p * w + c;
    x = p * v;
  } else if (w < 16.0) {
    w = std::sqrt(w) - 3.25;
    double p = 2.2137376921775787049e-09;
    for (double c : {9.0756561938885390979e-08, -2.7517406297064545428e-07, 1.8239629214389227755e-08,
                     1.5027403968909827627e-06, -4.013867526981545969e-06, 2.9234449089955446044e-06,
                     1.2475304481671778723e-05, -4.7318229009055733981e-05, 6.8284851459573175448e-05,
                     2.4031110387097893999e-05, -0.0003550375203628474796, 0.00095328937973738049703,
                     -0.0016882755560235047313, 0.0024914420961078508066, -0.0037512085075692412107,
                     0.005370914553590063617, 1.0052589676941592334, 3.0838856104922207635})
      p = p * w + c;
    x = p * v;
  } else {
    w = std::sqrt(w) - 5.0;
    double p = -2.7109920616438573243e-11;
    for (double c : {-2.5556418169965252055e-10, 1.5076572693500548083e-09, -3.7894654401267369937e-09,
                     7.6157012080783393804e-09, -1.4960026627149240478e-08, 2.9147953450901080826e-08,
                     -6.7711997758452339498e-08, 2.2900482228026654717e-07, -9.9298272942317002539e-07,
                     4.5260625972231537039e-06, -1.9681778105531670567e-05, 7.5995277030017761139e-05,
                     -0.00021503011930044477347, -0.00013871931833623122026, 1.0103004648645343977,
                     4.8499064014085844221})
      p = p * w + c;
    x = p * v;
  }
  for (int it = 0; it < 2; ++it) {
    const double err = std::erf(x) - v;
    x -= err / (kTwoOverSqrtPi * std::exp(-x * x));
  }
  return static_cast<T>(x);
}

template <class T>
T sinc_value(T v) {
  if (v == T(0)) return T(1);
  const T px = static_cast<T>(kPi) * v;
  return std::sin(px) / px;
}

template <class T>
T fmod_value(T a, T b) { return std::fmod(a, b); }

template <class T>
T xlogy_value(T a, T b) {
  if (b != b) return b;  // NaN in y propagates even when x is 0
  if (a == T(0)) return T(0);
  return a * std::log(b);
}

template <class T>
T logaddexp_value(T a, T b) {
  if (std::isinf(a) && a == b) return a;  // inf + inf, -inf + -inf
  const T m = a > b ? a : b;
  if (a != a || b != b) return a + b;
  return m + std::log1p(std::exp(-std::fabs(a - b)));
}

template <class T>
T logaddexp2_value(T a, T b) {
  if (std::isinf(a) && a == b) return a;
  const T m = a > b ? a : b;
  if (a != a || b != b) return a + b;
  return m + std::log1p(std::exp2(-std::fabs(a - b))) / static_cast<T>(kLn2);
}

// ---- helpers of the grad columns (differentiable ops) ----
TensorPtr constant(const TensorPtr& t) { return detach(t); }

// d sinc / dx = (cos(pi x) - sinc(x)) / x, 0 at x = 0 (the division guarded so that no
// NaN reaches a double backward).
TensorPtr sinc_derivative(const TensorPtr& x) {
  TensorPtr zero = eq(x, zeros({}, x->dtype));
  TensorPtr safe = where(zero, full({}, 1.0, x->dtype), x);
  TensorPtr d = div(sub(cos(mul_scalar(safe, kPi)), sinc(safe)), safe);
  return where(zero, zeros({}, x->dtype), d);
}

// copysign's gradient in a: y / a (+-1), 0 where a is 0 (PyTorch's).
TensorPtr copysign_ratio(const TensorPtr& a, const TensorPtr& y) {
  TensorPtr zero = eq(a, zeros({}, a->dtype));
  TensorPtr safe = where(zero, full({}, 1.0, a->dtype), a);
  return where(zero, zeros({}, a->dtype), constant(div(y, safe)));
}

TensorPtr zeros_like_g(const TensorPtr& g, const TensorPtr&) { return zeros(g->shape, g->dtype); }

TensorPtr trunc_div(const TensorPtr& a, const TensorPtr& b) {
  autograd::GradModeGuard off(false);
  return rounding(RoundOp::TRUNC, div(detach(a), detach(b)));
}

// xlogy's gradient in a: log(b), 0 where a is 0 and b is not NaN (PyTorch's xlogy(a != 0, b)).
TensorPtr xlogy_self_factor(const TensorPtr& a, const TensorPtr& b) {
  TensorPtr nz = to_dtype(compare(CmpOp::NE, a, zeros({}, a->dtype)), b->dtype);
  return xlogy(nz, b);
}

// ---- the generic unary op ----
struct KernelForward { UnaryOp op; };
template <class F>
struct ScalarForward { F f; };
template <class F>
ScalarForward(F) -> ScalarForward<F>;
#define K(NAME) KernelForward{UNARY_##NAME}
#define S(...) ScalarForward{[](auto v) { return static_cast<decltype(v)>(__VA_ARGS__); }}

enum class Saves { IN, OUT, NONE };
enum class Ints { FLOAT, REFUSE };

TensorPtr forward_of(const KernelForward& k, const TensorPtr& x) { return unary_forward(k.op, x); }

template <class F>
TensorPtr forward_of(const ScalarForward<F>& s, const TensorPtr& x) {
  TensorPtr y = empty(x->shape, x->dtype);
  if (x->numel == 0) return y;
  dispatch(x->dtype, [&](auto t) {
    using T = decltype(t);
    iterate(*y, kernels::typed_row<T, T>([&](T v) { return s.f(v); }), *x);
    return 0;
  });
  return y;
}

template <class Row>
struct UnaryMathBackward final : Node {
  SavedTensor saved_;
  const char* name() const override { return Row::node; }
  tensor_list apply(tensor_list&& g) override {
    TensorPtr s = saved_.unpack(this);
    return {Row::grad(g[0], Row::saves == Saves::IN ? s : nullptr, Row::saves == Saves::OUT ? s : nullptr)};
  }
  void release_saved() override { saved_.reset(); }
  std::vector<std::pair<std::string, TensorPtr>> saved_tensors() const override {
    if (Row::saves == Saves::NONE) return {};
    return {{Row::saves == Saves::OUT ? "result" : "self", saved_.raw()}};
  }
};

template <class Row>
TensorPtr unary_math(const TensorPtr& x_in, const char* name) {
  GC_CHECK(Row::ints == Ints::FLOAT || is_floating(x_in->dtype), NotImplementedError, "\"", name,
           "_cpu\" not implemented for '", dtype_torch_name(x_in->dtype), "'");
  return float_op(x_in, [&](const TensorPtr& x) {
    TensorPtr y = Row::forward(x);
    // Note [Forward rules after set_history] (unary.cpp): the rule runs once y is linked to
    // its node, and a saved output is saved after the rule.
    std::shared_ptr<UnaryMathBackward<Row>> n;
    if (needs_record({x.get()})) {
      n = make_node<UnaryMathBackward<Row>>({x});
      set_history(y, n);
    }
    forward_rule(y, {x.get()}, [&] { return Row::grad(tangent(x), x, y); });
    if (n && Row::saves != Saves::NONE) n->saved_ = SavedTensor(Row::saves == Saves::OUT ? y : x, Row::saves == Saves::OUT);
    return y;
  });
}

#define GC_UNARY_ROW(op_name, NODE, FORWARD, SAVES, GRAD, INTS, DOC)                                       \
  struct op_name##_row {                                                                                   \
    static constexpr const char* node = NODE;                                                              \
    static constexpr Saves saves = Saves::SAVES;                                                           \
    static constexpr Ints ints = Ints::INTS;                                                               \
    static TensorPtr forward(const TensorPtr& x) { return forward_of(FORWARD, x); }                        \
    static TensorPtr grad(const TensorPtr& g, [[maybe_unused]] const TensorPtr& x,                         \
                          [[maybe_unused]] const TensorPtr& y) {                                           \
      return GRAD;                                                                                         \
    }                                                                                                      \
  };
GC_UNARY_FLOAT_OPS(GC_UNARY_ROW)
#undef GC_UNARY_ROW

// ---- the generic binary op ----
enum Other { TENSOR, NUMBER };

template <class Row>
struct BinaryMathBackward final : Node {
  SavedTensor a_, b_, y_;
  Shape a_shape, b_shape;
  const char* name() const override { return Row::node; }
  tensor_list apply(tensor_list&& g) override {
    tensor_list r(2);
    TensorPtr a = a_.unpack(this), b = b_.unpack(this), y = y_.unpack(this);
    if (wants(*this, 0)) r[0] = sum_to(Row::grad_a(g[0], a, b, y), a_shape);
    if (wants(*this, 1)) r[1] = sum_to(Row::grad_b(g[0], a, b, y), b_shape);
    return r;
  }
  void release_saved() override { a_.reset(); b_.reset(); y_.reset(); }
  std::vector<std::pair<std::string, TensorPtr>> saved_tensors() const override {
    return {{"self", a_.raw()}, {"other", b_.raw()}, {"result", y_.raw()}};
  }
};

// Integer operands of a row whose results stay integers (fmod): C's truncated remainder.
TensorPtr integer_fmod(const TensorPtr& a_in, const TensorPtr& b_in, DType rt) {
  TensorPtr a = to_dtype(a_in, rt), b = to_dtype(b_in, rt);
  TensorPtr y = empty(broadcast_shapes(a->shape, b->shape, "fmod"), rt);
  if (y->numel == 0) return y;
  dispatch_arith(rt, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
      iterate(*y, kernels::typed_row<T, T, T>([](T u, T v) {
        GC_CHECK(v != 0, RuntimeError, "ZeroDivisionError");
        return static_cast<T>(v == T(-1) ? T(0) : u % v);  // INT_MIN % -1 is UB; the result is 0
      }), *a, *b);
    }
    return 0;
  });
  return y;
}

template <class Row>
TensorPtr binary_math(const TensorPtr& a_in, const TensorPtr& b_in) {
  DType rt = result_type({a_in.get(), b_in.get()});
  if (!is_floating(rt)) {
    refuse_integers(*(is_floating(a_in->dtype) ? b_in : a_in), Row::ints);
    if (Row::ints[0] == '=' && rt != DType::Bool) return integer_fmod(a_in, b_in, rt);
    rt = default_dtype();
  }
  const DType ct = is_f32_or_f64(rt) ? rt : DType::Float32;
  TensorPtr a = to_dtype(a_in, ct), b = to_dtype(b_in, ct);
  TensorPtr y = empty(broadcast_shapes(a->shape, b->shape, Row::op), ct);
  if (y->numel) {
    dispatch(ct, [&](auto t) {
      using T = decltype(t);
      iterate(*y, kernels::typed_row<T, T, T>([](T u, T v) { return Row::template f<T>(u, v); }), *a, *b);
      return 0;
    });
  }
  std::shared_ptr<BinaryMathBackward<Row>> n;
  if (needs_record({a.get(), b.get()})) {
    n = make_node<BinaryMathBackward<Row>>({a, b});
    n->a_shape = a->shape;
    n->b_shape = b->shape;
    set_history(y, n);
  }
  forward_rule(y, {a.get(), b.get()}, [&] {
    TensorPtr ta = tangent(a), tb = tangent(b);
    TensorPtr da = ta ? Row::grad_a(ta, a, b, y) : nullptr, db = tb ? Row::grad_b(tb, a, b, y) : nullptr;
    TensorPtr d = da && db ? add(da, db) : (da ? da : db);
    return d->shape == y->shape ? d : expand(d, y->shape);
  });
  if (n) {
    n->a_ = SavedTensor(a, false);
    n->b_ = SavedTensor(b, false);
    n->y_ = SavedTensor(y, true);
  }
  return ct != rt ? to_dtype(y, rt) : y;
}

#define GC_BINARY_ROW(op_name, NODE, FORWARD, GRAD_A, GRAD_B, OTHER, INTS, DOC)                             \
  struct op_name##_row {                                                                                    \
    static constexpr const char* node = NODE;                                                               \
    static constexpr const char* ints = INTS;                                                               \
    static constexpr const char* op = #op_name;                                                             \
    template <class T>                                                                                      \
    static T f(T a, T b) { return static_cast<T>(FORWARD); }                                                \
    static TensorPtr grad_a(const TensorPtr& g, [[maybe_unused]] const TensorPtr& a,                        \
                            [[maybe_unused]] const TensorPtr& b, [[maybe_unused]] const TensorPtr& y) {     \
      return GRAD_A;                                                                                        \
    }                                                                                                       \
    static TensorPtr grad_b(const TensorPtr& g, [[maybe_unused]] const TensorPtr& a,                        \
                            [[maybe_unused]] const TensorPtr& b, [[maybe_unused]] const TensorPtr& y) {     \
      return GRAD_B;                                                                                        \
    }                                                                                                       \
  };
GC_BINARY_FLOAT_OPS(GC_BINARY_ROW)
#undef GC_BINARY_ROW
#undef K
#undef S

}  // namespace

#define GC_DEFINE_UNARY(op_name, ...) \
  TensorPtr op_name(const TensorPtr& x) { return unary_math<op_name##_row>(x, #op_name); }
GC_UNARY_FLOAT_OPS(GC_DEFINE_UNARY)
#undef GC_DEFINE_UNARY
#define GC_DEFINE_BINARY(op_name, ...) \
  TensorPtr op_name(const TensorPtr& a, const TensorPtr& b) { return binary_math<op_name##_row>(a, b); }
GC_BINARY_FLOAT_OPS(GC_DEFINE_BINARY)
#undef GC_DEFINE_BINARY

TensorPtr square(const TensorPtr& x) {
  // PyTorch's square is pow(x, 2): integers stay integers (bool becomes int64).
  if (x->dtype == DType::Bool) return pow(to_dtype(x, DType::Int64), Scalar::of_int(2));
  return pow(x, Scalar::of_int(2));
}

TensorPtr nan_to_num(const TensorPtr& x, const double* nan, const double* posinf, const double* neginf) {
  if (!is_floating(x->dtype)) return clone(x);
  return float_op(x, [&](const TensorPtr& xf) {
    TensorPtr y = empty(xf->shape, xf->dtype);
    dispatch(xf->dtype, [&](auto t) {
      using T = decltype(t);
      // PyTorch's defaults: NaN -> 0, +-inf -> the dtype's (the original dtype's) extremes.
      const double big = x->dtype == DType::Float16 ? 65504.0
                         : x->dtype == DType::BFloat16 ? 3.3895313892515355e38
                                                       : static_cast<double>(std::numeric_limits<T>::max());
      const T vn = static_cast<T>(nan ? *nan : 0.0);
      const T vp = static_cast<T>(posinf ? *posinf : big), vm = static_cast<T>(neginf ? *neginf : -big);
      if (y->numel)
        iterate(*y, kernels::typed_row<T, T>([=](T v) { return v != v ? vn : v == std::numeric_limits<T>::infinity() ? vp : v == -std::numeric_limits<T>::infinity() ? vm : v; }), *xf);
      return 0;
    });
    // The gradient passes where x is finite (PyTorch's NanToNumBackward0).
    TensorPtr keep;
    {
      autograd::GradModeGuard off(false);
      keep = classify(FloatClass::FINITE, detach(xf));
    }
    TensorPtr zero = zeros({}, xf->dtype);
    // Recorded as a masked identity: y = where(finite, x, y_const) has the right value and gradient.
    if (needs_record({xf.get()}) || autograd::fw::any_tangent({xf.get()})) return where(keep, xf, y);
    return y;
  });
}

TensorPtr round_decimals(const TensorPtr& x, int64_t decimals) {
  if (decimals == 0) return rounding(RoundOp::ROUND, x);
  refuse_integers(*x, "round_cpu");
  return float_op(x, [&](const TensorPtr& xf) {
    // PyTorch's: for decimals > 0, nearbyint(x * 10**d) / 10**d; for d < 0, nearbyint(x / 10**-d) * 10**-d.
    TensorPtr y = empty(xf->shape, xf->dtype);
    const bool neg_d = decimals < 0;
    dispatch(xf->dtype, [&](auto t) {
      using T = decltype(t);
      const T ten = static_cast<T>(std::pow(10.0, static_cast<double>(neg_d ? -decimals : decimals)));
      if (y->numel) {
        if (neg_d) iterate(*y, kernels::typed_row<T, T>([=](T v) { return std::nearbyint(v / ten) * ten; }), *xf);
        else iterate(*y, kernels::typed_row<T, T>([=](T v) { return std::nearbyint(v * ten) / ten; }), *xf);
      }
      return 0;
    });
    return with_zero_gradient(y, xf, "RoundBackward1");  // gradient 0, like round
  });
}

}  // namespace gradcore::ops
