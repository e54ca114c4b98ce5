// ops.h — THE op index: one declaration per op (our derivatives.yaml).
//
// Each op is defined, with its Backward node, in one file under csrc/autograd/ops/. Ops
// check their arguments (PyTorch's exception types: ShapeError for shapes that do not fit,
// TypeError for dtypes, IndexError for dims and indices), promote dtypes as
// torch.result_type (Note [Type promotion], core/dtype.h), accept inputs of any layout
// (views), allocate the output, make one kernel call and, when grad mode is on and an input
// needs grad, record a Node. Backward formulas call these same functions, so
// create_graph=True works, and each op's forward-mode rule sits beside its backward.
#pragma once
#if defined(GC_LAYER_CPU) || defined(GC_LAYER_KERNELS) || defined(GC_LAYER_CORE)
#error "the autograd layer is above cpu, kernels and core (layers: csrc/README.md)"
#endif
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "kernels/kernel_api.h"

namespace gradcore::ops {

// A Python number as an operand: its kind takes part in type promotion as a "wrapped
// scalar" (a float counts as the default dtype, an int as int64, a bool as bool).
struct Scalar {
  enum Kind : uint8_t { BOOL, INT, FLOAT } kind = FLOAT;
  int64_t i = 0;
  double d = 0;
  bool beyond_int64 = false;  // a Python int in [2**63, 2**64): i wrapped, d its value (PyTorch's uint64)
  static Scalar of(double v) { Scalar s; s.kind = FLOAT; s.d = v; s.i = 0; return s; }
  static Scalar of_int(int64_t v) { Scalar s; s.kind = INT; s.i = v; s.d = static_cast<double>(v); return s; }
  static Scalar of_bool(bool v) { Scalar s; s.kind = BOOL; s.i = v; s.d = v; return s; }
  DType dtype() const { return kind == FLOAT ? DType::Float64 : kind == INT ? DType::Int64 : DType::Bool; }
};

// The process-wide default floating dtype (gc.set_default_dtype): float32 unless changed.
DType default_dtype();
void set_default_dtype(DType d);
// torch.result_type of the operands (null tensors and scalars skipped).
DType result_type(std::initializer_list<const Tensor*> tensors, std::initializer_list<const Scalar*> scalars = {});

// ---- binary.cpp: broadcasting arithmetic (every dtype, promoted) ----
TensorPtr add(const TensorPtr& a, const TensorPtr& b);
TensorPtr sub(const TensorPtr& a, const TensorPtr& b);
TensorPtr mul(const TensorPtr& a, const TensorPtr& b);
TensorPtr div(const TensorPtr& a, const TensorPtr& b);                 // true division (ints -> float)
TensorPtr floor_divide(const TensorPtr& a, const TensorPtr& b);        // Python's //, floor
TensorPtr remainder(const TensorPtr& a, const TensorPtr& b);           // Python's %, sign of b
TensorPtr add(const TensorPtr& a, const Scalar& s);                    // a + s
TensorPtr sub(const TensorPtr& a, const Scalar& s);                    // a - s
TensorPtr rsub(const TensorPtr& a, const Scalar& s);                   // s - a
TensorPtr mul(const TensorPtr& a, const Scalar& s);
TensorPtr div(const TensorPtr& a, const Scalar& s);                    // a / s (one IEEE division)
TensorPtr rdiv(const TensorPtr& a, const Scalar& s);                   // s / a
TensorPtr floor_divide(const TensorPtr& a, const Scalar& s);
TensorPtr rfloor_divide(const TensorPtr& a, const Scalar& s);
TensorPtr remainder(const TensorPtr& a, const Scalar& s);
TensorPtr rremainder(const TensorPtr& a, const Scalar& s);
TensorPtr pow(const TensorPtr& a, const Scalar& p);                    // a ** p
TensorPtr pow(const TensorPtr& a, const TensorPtr& b);                 // a ** b (broadcast)
TensorPtr rpow(const TensorPtr& a, const Scalar& s);                   // s ** a
// Float shorthands used by backward formulas (the tensor's dtype is kept).
inline TensorPtr add_scalar(const TensorPtr& a, double s) { return add(a, Scalar::of(s)); }
inline TensorPtr mul_scalar(const TensorPtr& a, double s) { return mul(a, Scalar::of(s)); }
inline TensorPtr rsub_scalar(const TensorPtr& a, double s) { return rsub(a, Scalar::of(s)); }
inline TensorPtr rdiv_scalar(const TensorPtr& a, double s) { return rdiv(a, Scalar::of(s)); }
inline TensorPtr div_scalar(const TensorPtr& a, double s) { return div(a, Scalar::of(s)); }
inline TensorPtr pow_scalar(const TensorPtr& a, double p) { return pow(a, Scalar::of(p)); }
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

// ---- compare.cpp: comparisons, logic, selection (bool results have no gradient) ----
enum class CmpOp { EQ, NE, LT, LE, GT, GE };
TensorPtr compare(CmpOp op, const TensorPtr& a, const TensorPtr& b);
TensorPtr compare(CmpOp op, const TensorPtr& a, const Scalar& s);
TensorPtr eq(const TensorPtr& a, const TensorPtr& b);                  // shorthand (max's backward)
enum class LogicOp { AND, OR, XOR };
TensorPtr logical(LogicOp op, const TensorPtr& a, const TensorPtr& b);  // bool result
TensorPtr logical_not(const TensorPtr& a);
TensorPtr bitwise(LogicOp op, const TensorPtr& a, const TensorPtr& b);  // & | ^ on bool / integers
TensorPtr bitwise(LogicOp op, const TensorPtr& a, const Scalar& s);
TensorPtr bitwise_not(const TensorPtr& a);
enum class FloatClass { NAN_, INF, POSINF, NEGINF, FINITE };
TensorPtr classify(FloatClass c, const TensorPtr& x);                   // isnan, isinf, ... (bool)
// where(cond, x, y): cond bool (or any dtype, nonzero = true); differentiable in x and y.
TensorPtr where(const TensorPtr& cond, const TensorPtr& x, const TensorPtr& y);
TensorPtr lerp(const TensorPtr& x, const TensorPtr& end, const TensorPtr& weight);  // x + weight (end - x)
TensorPtr maximum(const TensorPtr& a, const TensorPtr& b);              // NaN propagates
TensorPtr minimum(const TensorPtr& a, const TensorPtr& b);
// clamp with optional scalar or tensor bounds (null / nullopt = unbounded).
TensorPtr clamp(const TensorPtr& x, const Scalar* lo, const Scalar* hi);
TensorPtr clamp(const TensorPtr& x, const TensorPtr& lo, const TensorPtr& hi);
bool equal(const TensorPtr& a, const TensorPtr& b);                     // same shape and values

// ---- unary.cpp: the hand-written unary ops (integer forms, parameters, no gradient) ----
TensorPtr neg(const TensorPtr& x);
TensorPtr abs(const TensorPtr& x);
TensorPtr sign(const TensorPtr& x);                           // gradient 0
TensorPtr relu_integer(const TensorPtr& x);                   // relu of integer tensors (bool refused)
TensorPtr leaky_relu(const TensorPtr& x, double negative_slope);
enum class RoundOp { FLOOR, CEIL, TRUNC, ROUND };               // round: half to even
TensorPtr rounding(RoundOp op, const TensorPtr& x);            // gradient 0; integers unchanged
// Zeroes each element with probability p (counter-based RNG), scales the rest by 1/(1-p).
TensorPtr dropout(const TensorPtr& x, double p);

// ---- math.cpp: the elementwise math registries (Note [One op, one row]) ----
//
// Each row below is a whole op: the generated C++ function, its Backward node and
// forward-mode rule (math.cpp), its bindings gradcore.name / Tensor.name / Tensor.name_ in
// place (bindings/ops.cpp), its stub and export (tools/gen_stub.py writes _core.pyi and
// python/gradcore/_ops.py from the live registry) — and one row of tests/op_table.py's
// ELEMENTWISE table, which every test suite reads. Columns:
//   forward  K(NAME): the kernel table's UNARY_NAME (vectorised per ISA, dense blocks), or
//            S(expr of v): a scalar expression (float or double v) run by the strided engine;
//   saves    IN (x), OUT (y) or NONE: what the backward keeps;
//   grad     the input's gradient from the output's `g` and x or y, composed of
//            differentiable ops, so create_graph records it. Elementwise ops have a diagonal
//            Jacobian, so the forward-mode rule is the same expression with g the tangent;
//   ints     FLOAT: integer/bool inputs compute in the default dtype (PyTorch's sin of an
//            int tensor is float32); REFUSE: NotImplementedError, as PyTorch's.
//
// X(name, grad_fn name, forward, saves, grad, ints, doc)
#define GC_UNARY_FLOAT_OPS(X)                                                                                   \
  X(exp, "ExpBackward0", K(EXP), OUT, mul(g, y), FLOAT, "e**x elementwise.")                                     \
  X(log, "LogBackward0", K(LOG), IN, div(g, x), FLOAT, "Natural logarithm elementwise.")                         \
  X(sqrt, "SqrtBackward0", K(SQRT), OUT, div(g, mul_scalar(y, 2.0)), FLOAT, "Square root elementwise.")          \
  X(erf, "ErfBackward0", K(ERF), IN, mul(g, mul_scalar(exp(neg(mul(x, x))), kTwoOverSqrtPi)), FLOAT,             \
    "The error function elementwise.")                                                                         \
  X(erfc, "ErfcBackward0", K(ERFC), IN, mul(g, mul_scalar(exp(neg(mul(x, x))), -kTwoOverSqrtPi)), FLOAT,         \
    "1 - erf(x), accurate where erf(x) is near 1.")                                                             \
  X(erfinv, "ErfinvBackward0", S(erfinv_value(v)), OUT, mul(g, mul_scalar(exp(mul(y, y)), kSqrtPiOver2)), FLOAT, \
    "The inverse of erf on (-1, 1).")                                                                          \
  X(exp2, "Exp2Backward0", S(std::exp2(v)), OUT, mul(g, mul_scalar(y, kLn2)), FLOAT, "2**x elementwise.")       \
  X(expm1, "Expm1Backward0", K(EXPM1), OUT, mul(g, add_scalar(y, 1.0)), FLOAT, "exp(x) - 1, accurate near 0.")  \
  X(log2, "Log2Backward0", S(std::log2(v)), IN, div(g, mul_scalar(x, kLn2)), FLOAT, "Base-2 logarithm.")        \
  X(log10, "Log10Backward0", S(std::log10(v)), IN, div(g, mul_scalar(x, kLn10)), FLOAT, "Base-10 logarithm.")  \
  X(log1p, "Log1PBackward0", K(LOG1P), IN, div(g, add_scalar(x, 1.0)), FLOAT, "log(1 + x), accurate near 0.")  \
  X(sin, "SinBackward0", K(SIN), IN, mul(g, cos(x)), FLOAT, "Sine elementwise.")                               \
  X(cos, "CosBackward0", K(COS), IN, mul(g, neg(sin(x))), FLOAT, "Cosine elementwise.")                        \
  X(tan, "TanBackward0", S(std::tan(v)), OUT, mul(g, add_scalar(mul(y, y), 1.0)), FLOAT, "Tangent.")            \
  X(asin, "AsinBackward0", S(std::asin(v)), IN, div(g, sqrt(rsub_scalar(mul(x, x), 1.0))), FLOAT, "Arcsine.")   \
  X(acos, "AcosBackward0", S(std::acos(v)), IN, neg(div(g, sqrt(rsub_scalar(mul(x, x), 1.0)))), FLOAT,          \
    "Arccosine.")                                                                                              \
  X(atan, "AtanBackward0", S(std::atan(v)), IN, div(g, add_scalar(mul(x, x), 1.0)), FLOAT, "Arctangent.")       \
  X(sinh, "SinhBackward0", S(std::sinh(v)), IN, mul(g, cosh(x)), FLOAT, "Hyperbolic sine.")                    \
  X(cosh, "CoshBackward0", S(std::cosh(v)), IN, mul(g, sinh(x)), FLOAT, "Hyperbolic cosine.")                  \
  X(asinh, "AsinhBackward0", S(std::asinh(v)), IN, div(g, sqrt(add_scalar(mul(x, x), 1.0))), FLOAT,             \
    "Inverse hyperbolic sine.")                                                                                \
  X(acosh, "AcoshBackward0", S(std::acosh(v)), IN, div(g, sqrt(add_scalar(mul(x, x), -1.0))), FLOAT,            \
    "Inverse hyperbolic cosine.")                                                                              \
  X(atanh, "AtanhBackward0", S(std::atanh(v)), IN, div(g, rsub_scalar(mul(x, x), 1.0)), FLOAT,                  \
    "Inverse hyperbolic tangent.")                                                                             \
  X(rsqrt, "RsqrtBackward0", S(1 / std::sqrt(v)), OUT, mul(g, mul_scalar(mul(y, mul(y, y)), -0.5)), FLOAT,      \
    "1 / sqrt(x).")                                                                                            \
  X(reciprocal, "ReciprocalBackward0", S(1 / v), OUT, neg(mul(g, mul(y, y))), FLOAT, "1 / x.")                 \
  X(frac, "FracBackward0", S(v - std::trunc(v)), NONE, g, REFUSE, "x - trunc(x), the fractional part.")         \
  X(sinc, "SincBackward0", S(sinc_value(v)), IN, mul(g, sinc_derivative(x)), FLOAT, "sin(pi x) / (pi x), 1 at 0.") \
  X(deg2rad, "Deg2RadBackward0", S(v * kPi / 180), NONE, mul_scalar(g, kPi / 180), FLOAT, "Degrees to radians.") \
  X(rad2deg, "Rad2DegBackward0", S(v * 180 / kPi), NONE, mul_scalar(g, 180 / kPi), FLOAT, "Radians to degrees.")
// Other spellings of the rows above (PyTorch's aliases): X(alias, name).
#define GC_UNARY_ALIASES(X) \
  X(arcsin, asin) X(arccos, acos) X(arctan, atan) X(arcsinh, asinh) X(arccosh, acosh) X(arctanh, atanh)

// Binary rows, broadcasting with PyTorch's type promotion (integer and bool results compute
// in the default dtype). The forward is a scalar expression of a and b; grad_a and grad_b
// are each input's gradient from the output's `g`, a, b and the output y (differentiable
// ops; summed to the input's shape). The forward-mode rule is grad_a(tangent a) +
// grad_b(tangent b). `other` is a tensor, or a Python number where PyTorch takes one (NUMBER);
// `ints` as GC_ACTIVATIONS' ("=": integer operands give an integer result, fmod's).
// X(name, grad_fn name, forward, grad_a, grad_b, other, ints, doc)
#define GC_BINARY_FLOAT_OPS(X)                                                                                  \
  X(atan2, "Atan2Backward0", std::atan2(a, b), div(mul(g, b), add(mul(a, a), mul(b, b))),                        \
    neg(div(mul(g, a), add(mul(a, a), mul(b, b)))), TENSOR, "", "The angle of (b, a) in (-pi, pi].")            \
  X(hypot, "HypotBackward0", std::hypot(a, b), mul(g, div(a, y)), mul(g, div(b, y)), TENSOR, "hypot_cpu",       \
    "sqrt(a**2 + b**2) without overflow.")                                                                     \
  X(copysign, "CopysignBackward0", std::copysign(a, b), mul(g, copysign_ratio(a, y)), zeros_like_g(g, b), NUMBER, \
    "", "|a| with the sign of b.")                                                                             \
  X(fmod, "FmodBackward1", fmod_value(a, b), g, neg(mul(g, trunc_div(a, b))), NUMBER, "=",                       \
    "The C remainder of a / b (the sign of a).")                                                               \
  X(xlogy, "XlogyBackward0", xlogy_value(a, b), mul(g, xlogy_self_factor(a, b)), mul(g, div(a, b)), NUMBER, "",  \
    "a * log(b), 0 where a is 0 (unless b is NaN).")                                                            \
  X(logaddexp, "LogaddexpBackward0", logaddexp_value(a, b), div(g, add_scalar(exp(sub(b, a)), 1.0)),             \
    div(g, add_scalar(exp(sub(a, b)), 1.0)), TENSOR, "logaddexp_cpu", "log(exp(a) + exp(b)), stable.")          \
  X(logaddexp2, "Logaddexp2Backward0", logaddexp2_value(a, b), div(g, add_scalar(exp2(sub(b, a)), 1.0)),         \
    div(g, add_scalar(exp2(sub(a, b)), 1.0)), TENSOR, "logaddexp2_cpu", "log2(2**a + 2**b), stable.")

#define GC_DECLARE_UNARY(name, ...) TensorPtr name(const TensorPtr& x);
GC_UNARY_FLOAT_OPS(GC_DECLARE_UNARY)
#define GC_DECLARE_BINARY(name, ...) TensorPtr name(const TensorPtr& a, const TensorPtr& b);
GC_BINARY_FLOAT_OPS(GC_DECLARE_BINARY)
#undef GC_DECLARE_BINARY
TensorPtr square(const TensorPtr& x);                          // x ** 2 (integers stay integers)
TensorPtr logit(const TensorPtr& x, const double* eps);        // log(x / (1 - x)), x clamped to [eps, 1 - eps]
TensorPtr nan_to_num(const TensorPtr& x, const double* nan, const double* posinf, const double* neginf);
TensorPtr round_decimals(const TensorPtr& x, int64_t decimals);  // round(x * 10**d) / 10**d

// ---- activation.cpp: the activations (Note [One activation, one descriptor]) ----
//
// Each row is a whole activation: the op name(x), its fused backward op name_backward(g, s)
// (one kernel pass; the composed formula while recording), its grad_fn, and its descriptor,
// through which F.linear(x, w, b, activation=name) fuses it into the GEMM epilogue and
// LinearBackward's one-pass gradient. Columns: the forward kernel (UNARY_*), the backward
// kernel (ACT_*), what the backward needs (OUT: the output y, IN: the input x), and the
// composed gradient from g and s (differentiable ops; also the forward-mode rule).
// X(name, grad_fn name, forward kernel, backward kernel, saves, composed grad, doc)
#define GC_ACTIVATIONS(X)                                                                                       \
  X(relu, "ReluBackward0", RELU, RELU, OUT, "=", mul(g, relu_mask(s)), "max(x, 0) elementwise.")                      \
  X(sigmoid, "SigmoidBackward0", SIGMOID, SIGMOID, OUT, "", mul(g, mul(s, rsub_scalar(s, 1.0))),                     \
    "1 / (1 + exp(-x)), stable for any x.")                                                                    \
  X(tanh, "TanhBackward0", TANH, TANH, OUT, "", mul(g, rsub_scalar(mul(s, s), 1.0)), "Hyperbolic tangent.")          \
  X(gelu, "GeluBackward0", GELU, GELU, IN, "GeluKernelImpl", mul(g, gelu_derivative(s, false)), "x * Phi(x), exact (erf).")       \
  X(gelu_tanh, "GeluBackward0", GELU_TANH, GELU_TANH, IN, "GeluKernelImpl", mul(g, gelu_derivative(s, true)),                      \
    "GELU's tanh approximation.")                                                                              \
  X(silu, "SiluBackward0", SILU, SILU, IN, "silu_cpu", mul(g, silu_derivative(s)), "x * sigmoid(x) (swish).")               \
  X(mish, "MishBackward0", MISH, MISH, IN, "mish_cpu", mul(g, mish_derivative(s)), "x * tanh(softplus(x)).")                \
  X(softplus, "SoftplusBackward0", SOFTPLUS, SOFTPLUS, IN, "softplus_cpu", mul(g, softplus_derivative(s, 1.0, 20.0)),            \
    "log(1 + exp(x)), stable; x itself above 20.")                                                              \
  X(hardswish, "HardswishBackward0", HARDSWISH, HARDSWISH, IN, "hardswish_cpu", mul(g, hardswish_derivative(s)),                 \
    "x * relu6(x + 3) / 6.")                                                                                   \
  X(hardsigmoid, "HardsigmoidBackward0", HARDSIGMOID, HARDSIGMOID, IN, "hardsigmoid_cpu",                                           \
    mul(g, mul_scalar(band_mask(s, -3.0, 3.0), 1.0f / 6.0f)), "relu6(x + 3) / 6.")                                  \
  X(softsign, "DivBackward0", SOFTSIGN, SOFTSIGN, IN, "", softsign_grad(g, s),                   \
    "x / (1 + |x|).")                                                                                          \
  X(logsigmoid, "LogSigmoidBackward0", LOGSIGMOID, LOGSIGMOID, IN, "log_sigmoid_cpu", mul(g, sigmoid(neg(s))),                     \
    "log(sigmoid(x)), stable.")                                                                                \
  X(selu, "EluBackward0", SELU, SELU, IN, "elu_cpu", mul(g, selu_derivative(s)), "scale * (max(0, x) + min(0, alpha (e**x - 1))).") \
  X(relu6, "HardtanhBackward0", RELU6, RELU6, IN, "=", mul(g, hardtanh_mask(s, 0.0, 6.0)), "min(max(x, 0), 6).")

GC_ACTIVATIONS(GC_DECLARE_UNARY)
#define GC_DECLARE_ACT_BACKWARD(name, ...) TensorPtr name##_backward(const TensorPtr& grad, const TensorPtr& saved);
GC_ACTIVATIONS(GC_DECLARE_ACT_BACKWARD)
#undef GC_DECLARE_ACT_BACKWARD
#undef GC_DECLARE_UNARY
TensorPtr gelu(const TensorPtr& x, bool tanh_approximation);
TensorPtr gelu_backward(const TensorPtr& grad, const TensorPtr& input, bool tanh_approximation);
// The descriptor of an activation row, by name ("relu", ...); null when there is none.
struct Activation {
  const char* name;
  UnaryOp forward;                 // also the GEMM epilogue's
  ActBackward backward;   // the fused backward kernel
  bool saves_input;                // the backward needs x (else the output y)
  TensorPtr (*op)(const TensorPtr& x);
  TensorPtr (*grad)(const TensorPtr& g, const TensorPtr& saved);  // name_backward
};
const Activation* find_activation(const std::string& name);
const std::vector<Activation>& activations();
// Parameterised activations (the scalar engine; composed backward formulas).
TensorPtr elu(const TensorPtr& x, double alpha, double scale, double input_scale);  // elu, celu
TensorPtr softplus(const TensorPtr& x, double beta, double threshold);
TensorPtr hardtanh(const TensorPtr& x, double min_val, double max_val);
TensorPtr threshold(const TensorPtr& x, double threshold, double value);
TensorPtr softshrink(const TensorPtr& x, double lambd);
TensorPtr hardshrink(const TensorPtr& x, double lambd);

// ---- reduce.cpp ----
// dims empty = all dims. Negative dims count from the end; out of range -> IndexError.
// `dtype` (optional) is the accumulation and result dtype; integer sums accumulate in int64.
TensorPtr sum(const TensorPtr& x, const std::vector<int64_t>& dims, bool keepdim, const DType* dtype = nullptr);
TensorPtr mean(const TensorPtr& x, const std::vector<int64_t>& dims, bool keepdim, const DType* dtype = nullptr);
// torch.amax / torch.amin over dims (empty: all). Ties share the gradient evenly; at a NaN
// extreme its whole slice gets NaN (Note [max gradient at ties and NaN], reduce.cpp).
TensorPtr amax(const TensorPtr& x, const std::vector<int64_t>& dims, bool keepdim);
TensorPtr amin(const TensorPtr& x, const std::vector<int64_t>& dims, bool keepdim);
// dims empty: torch.max(x) / torch.min(x), the extreme of all elements (keepdim keeps size-1
// dims), whose ties, or NaNs at a NaN extreme, share the gradient; else amax / amin.
TensorPtr max(const TensorPtr& x, const std::vector<int64_t>& dims, bool keepdim);
TensorPtr min(const TensorPtr& x, const std::vector<int64_t>& dims, bool keepdim);
// grad (broadcast to input's shape) shared evenly by the elements of input equal to the
// 0-dim `value`, or by its NaNs when value is NaN (PyTorch's evenly_distribute_backward).
TensorPtr evenly_distribute_backward(const TensorPtr& grad, const TensorPtr& input, const TensorPtr& value);
// The product over one dim, or of all elements (dim null). Integers and bool multiply in
// int64 unless `dtype` is given. Zeros get PyTorch's gradient (no division by them).
TensorPtr prod(const TensorPtr& x, const int64_t* dim, bool keepdim, const DType* dtype = nullptr);
// Truth values (nonzero, NaN included, is true) reduced over dims (empty: all): bool results
// (uint8 for uint8 input, as PyTorch); count_nonzero gives int64. No gradient.
TensorPtr any(const TensorPtr& x, const std::vector<int64_t>& dims, bool keepdim);
TensorPtr all(const TensorPtr& x, const std::vector<int64_t>& dims, bool keepdim);
TensorPtr count_nonzero(const TensorPtr& x, const std::vector<int64_t>& dims);
// Sum `x` down to `shape` (the inverse of broadcasting).
TensorPtr sum_to(const TensorPtr& x, const Shape& shape);

// ---- sort.cpp: selection, ordering and scans along one dim; unique, bincount, histc ----
// Ties, NaN and indices as PyTorch's, see Note [Order, ties and NaN] (sort.cpp). A 0-dim
// tensor takes dim 0 / -1 as one lane of one element. Values picked by indices carry the
// gradient back to those positions (Note [Index-selected values]); indices are int64.
struct ValuesIndices {
  TensorPtr values, indices;
};
ValuesIndices max_dim(const TensorPtr& x, int64_t dim, bool keepdim);    // torch.max(x, dim)
ValuesIndices min_dim(const TensorPtr& x, int64_t dim, bool keepdim);
TensorPtr argmax(const TensorPtr& x, const int64_t* dim, bool keepdim);  // dim null: index into the flattened x
TensorPtr argmin(const TensorPtr& x, const int64_t* dim, bool keepdim);
ValuesIndices sort(const TensorPtr& x, int64_t dim, bool descending, bool stable);  // always stable
TensorPtr argsort(const TensorPtr& x, int64_t dim, bool descending, bool stable);
ValuesIndices topk(const TensorPtr& x, int64_t k, int64_t dim, bool largest, bool sorted);  // always sorted
ValuesIndices kthvalue(const TensorPtr& x, int64_t k, int64_t dim, bool keepdim);           // k from 1
ValuesIndices median(const TensorPtr& x, int64_t dim, bool keepdim);  // the lower middle; NaN if any
TensorPtr median(const TensorPtr& x);  // of all elements (0-dim); the gradient shared by equal elements
ValuesIndices mode(const TensorPtr& x, int64_t dim, bool keepdim);
ValuesIndices cummax(const TensorPtr& x, int64_t dim);
ValuesIndices cummin(const TensorPtr& x, int64_t dim);
// Running sums / products along dim (reverse: from the end), in `dtype`, else int64 for
// integers and bool, else x's dtype; floating values accumulate in double.
TensorPtr cumsum(const TensorPtr& x, int64_t dim, const DType* dtype = nullptr, bool reverse = false);
TensorPtr cumprod(const TensorPtr& x, int64_t dim, const DType* dtype = nullptr, bool reverse = false);
// The sorted distinct values of x (NaNs all distinct, last), with the group of each element
// (x's shape) and each group's size when asked (null otherwise). No gradient.
struct UniqueResult {
  TensorPtr values, inverse, counts;
};
UniqueResult unique(const TensorPtr& x, bool return_inverse, bool return_counts);
// Occurrences of each value of a 1-D non-negative integer tensor (summed weights when given).
TensorPtr bincount(const TensorPtr& x, const TensorPtr& weights, int64_t minlength);
// Counts of x in `bins` equal bins over [min, max] (the data's range when min == max).
TensorPtr histc(const TensorPtr& x, int64_t bins, double min, double max);
// out[..i..] = x[..index[..i..]..] along dim (torch.gather with index shaped like x except
// along dim), and the adjoint: zeros(shape) with src added at index along dim. Each is the
// other's backward; the gradient of the selecting ops above. Thin forms of gather and
// scatter_add (index.cpp).
TensorPtr gather_along(const TensorPtr& x, int64_t dim, const TensorPtr& index);
TensorPtr scatter_add_along(const TensorPtr& src, int64_t dim, const TensorPtr& index, const Shape& shape);

// ---- view.cpp: views share their input's storage (Note [View autograd]) ----
TensorPtr as_strided(const TensorPtr& x, const Shape& size, const Shape& stride, int64_t storage_offset);
TensorPtr view(const TensorPtr& x, const Shape& shape);       // RuntimeError when not viewable
TensorPtr reshape(const TensorPtr& x, const Shape& shape);    // a view when possible, else a copy
TensorPtr permute(const TensorPtr& x, const std::vector<int64_t>& dims);
TensorPtr transpose(const TensorPtr& x, int64_t dim0, int64_t dim1);
TensorPtr expand(const TensorPtr& x, const Shape& shape);    // -1 keeps a dim; stride 0 on new ones
TensorPtr select(const TensorPtr& x, int64_t dim, int64_t index);
// x[start:stop:step] along dim, with Python's clamping of start/stop; step > 0.
TensorPtr slice(const TensorPtr& x, int64_t dim, int64_t start, int64_t stop, int64_t step);
TensorPtr narrow(const TensorPtr& x, int64_t dim, int64_t start, int64_t length);
TensorPtr squeeze(const TensorPtr& x, const std::vector<int64_t>& dims);   // empty = every size-1 dim
TensorPtr unsqueeze(const TensorPtr& x, int64_t dim);
TensorPtr diagonal(const TensorPtr& x, int64_t offset, int64_t dim1, int64_t dim2);
TensorPtr unfold(const TensorPtr& x, int64_t dim, int64_t size, int64_t step);
TensorPtr detach(const TensorPtr& x);
TensorPtr clone(const TensorPtr& x);                         // a copy in x's layout (differentiable)
TensorPtr contiguous(const TensorPtr& x);                    // x when contiguous, else a copy
inline TensorPtr contiguous_copy(const TensorPtr& x) { return clone(x); }
// g placed into zeros of in_shape through `replay` (a view op applied to the zeros); the
// backward of select/slice/diagonal/unfold/as_strided. Differentiable.
TensorPtr view_scatter(const TensorPtr& g, const Shape& in_shape, const std::function<TensorPtr(const TensorPtr&)>& replay);
int64_t normalize_dim(int64_t dim, int64_t ndim);
// ---- layout helpers for op code (no autograd) ----
TensorPtr dense(const TensorPtr& x);                         // x, or a contiguous copy of its values
void copy_values(const TensorPtr& dst, const TensorPtr& src);  // dst = src (broadcast), same dtype
void broadcast_byte_strides(const Tensor& t, const Shape& shape, int64_t* out);
// dst (a view that overlaps itself) += src (contiguous, same shape), sequentially.
void accumulate_overlapping(const TensorPtr& dst, const TensorPtr& src);

// ---- index.cpp: advanced indexing (Note [Advanced indexing]) ----
// idx: one entry per leading dim of x, null for ":", else an int64/int32 tensor.
TensorPtr index(const TensorPtr& x, const std::vector<TensorPtr>& idx);
// x with x[idx] = values (broadcast), or += when accumulate; out of place, differentiable.
TensorPtr index_put(const TensorPtr& x, const std::vector<TensorPtr>& idx, const TensorPtr& values, bool accumulate);
TensorPtr index_put_(const TensorPtr& x, const std::vector<TensorPtr>& idx, const TensorPtr& values, bool accumulate);
// The coordinates of the nonzero (true) elements: one int64 tensor per dim of x.
std::vector<TensorPtr> nonzero_indices(const TensorPtr& x);
TensorPtr nonzero(const TensorPtr& x);                        // (count, ndim) int64

// ---- index.cpp: the index op family (Note [Dim-wise index ops], Note [Masked ops]) ----
// Index tensors are int64 (int32 too where PyTorch takes it), masks bool; dims may be
// negative; a 0-dim tensor counts as one element. Every index is checked before anything
// is written. Out-of-range indices raise IndexBoundsError: Python's
// gradcore.IndexOutOfBoundsError, an IndexError naming the index and the size that is also
// a RuntimeError (what PyTorch raises for gather, scatter and index_add).
struct IndexBoundsError : IndexError { using IndexError::IndexError; };
TensorPtr index_select(const TensorPtr& x, int64_t dim, const TensorPtr& index);
TensorPtr gather(const TensorPtr& x, int64_t dim, const TensorPtr& index);
// torch.take_along_dim: x and indices broadcast except along dim, negative indices wrap;
// dim null: both flattened.
TensorPtr take_along_dim(const TensorPtr& x, const TensorPtr& indices, const int64_t* dim);
// scatter's reduce= ("add", "multiply"); PyTorch has no derivative for the reducing forms.
enum class ScatterMode { ASSIGN, ADD, MULTIPLY };
TensorPtr scatter(const TensorPtr& x, int64_t dim, const TensorPtr& index, const TensorPtr& src,
                  ScatterMode mode = ScatterMode::ASSIGN);
TensorPtr scatter(const TensorPtr& x, int64_t dim, const TensorPtr& index, const Scalar& value,
                  ScatterMode mode = ScatterMode::ASSIGN);
TensorPtr scatter_add(const TensorPtr& x, int64_t dim, const TensorPtr& index, const TensorPtr& src);
enum class ScatterReduce { SUM, PROD, MEAN, AMAX, AMIN };
ScatterReduce parse_scatter_reduce(const std::string& reduce);  // "sum" "prod" "mean" "amax" "amin"
TensorPtr scatter_reduce(const TensorPtr& x, int64_t dim, const TensorPtr& index, const TensorPtr& src,
                         ScatterReduce reduce, bool include_self);
// x + alpha * (source rows added at index along dim); repeated indices sum (in index order).
TensorPtr index_add(const TensorPtr& x, int64_t dim, const TensorPtr& index, const TensorPtr& source,
                    const Scalar& alpha);
TensorPtr index_fill(const TensorPtr& x, int64_t dim, const TensorPtr& index, const Scalar& value);
TensorPtr index_fill(const TensorPtr& x, int64_t dim, const TensorPtr& index, const TensorPtr& value);  // 0-dim
// x and mask broadcast together (the in-place forms: mask broadcast to x's shape).
TensorPtr masked_fill(const TensorPtr& x, const TensorPtr& mask, const Scalar& value);
TensorPtr masked_fill(const TensorPtr& x, const TensorPtr& mask, const TensorPtr& value);  // 0-dim value
// 1-D, in row-major order; as_getitem: x[mask] (recorded as PyTorch's IndexBackward0).
TensorPtr masked_select(const TensorPtr& x, const TensorPtr& mask, bool as_getitem = false);
// x with its masked elements replaced, in row-major order, by source's first elements.
TensorPtr masked_scatter(const TensorPtr& x, const TensorPtr& mask, const TensorPtr& source);
// In-place forms (Note [In-place ops]): straight into x's memory when nothing is recorded.
TensorPtr scatter_(const TensorPtr& x, int64_t dim, const TensorPtr& index, const TensorPtr& src,
                   ScatterMode mode = ScatterMode::ASSIGN);
TensorPtr scatter_(const TensorPtr& x, int64_t dim, const TensorPtr& index, const Scalar& value,
                   ScatterMode mode = ScatterMode::ASSIGN);
TensorPtr scatter_add_(const TensorPtr& x, int64_t dim, const TensorPtr& index, const TensorPtr& src);
TensorPtr scatter_reduce_(const TensorPtr& x, int64_t dim, const TensorPtr& index, const TensorPtr& src,
                          ScatterReduce reduce, bool include_self);
TensorPtr index_add_(const TensorPtr& x, int64_t dim, const TensorPtr& index, const TensorPtr& source,
                     const Scalar& alpha);
TensorPtr index_fill_(const TensorPtr& x, int64_t dim, const TensorPtr& index, const Scalar& value);
TensorPtr index_fill_(const TensorPtr& x, int64_t dim, const TensorPtr& index, const TensorPtr& value);
TensorPtr masked_fill_(const TensorPtr& x, const TensorPtr& mask, const Scalar& value);
TensorPtr masked_fill_(const TensorPtr& x, const TensorPtr& mask, const TensorPtr& value);
TensorPtr masked_scatter_(const TensorPtr& x, const TensorPtr& mask, const TensorPtr& source);

// ---- shape.cpp: conversion, factories, in-place writes ----
// A copy converted to dtype (x itself when it already has it); differentiable between floats.
TensorPtr to_dtype(const TensorPtr& x, DType dtype);
TensorPtr slice0(const TensorPtr& x, int64_t start, int64_t stop);  // x[start:stop], a view
TensorPtr zeros(const Shape& shape, DType dtype);
TensorPtr full(const Shape& shape, const Scalar& value, DType dtype);
inline TensorPtr full(const Shape& shape, double value, DType dtype) { return full(shape, Scalar::of(value), dtype); }
TensorPtr scalar_like(const Tensor& like, double value);      // 0-dim tensor with like's dtype
TensorPtr scalar_tensor(const Scalar& s, DType dtype);        // 0-dim tensor of dtype
// A Python number written into a tensor of dtype d (fill_, full, x[i] = v, masked_fill ...),
// checked as PyTorch's: RuntimeError "value cannot be converted to type ... without overflow"
// for an integer dtype's out-of-range values (and inf / NaN), a float dtype's finite values
// beyond its max. Arithmetic with a scalar (u8 + 300) wraps as PyTorch's and is not checked.
void check_value_fits(const Scalar& v, DType d);
// rand / randn / uniform_ / normal_ draw from gen (null: the default generator).
TensorPtr rand(const Shape& shape, DType dtype, double low, double high, Generator* gen = nullptr);
TensorPtr randn(const Shape& shape, DType dtype, double mean, double std, Generator* gen = nullptr);
TensorPtr arange(double start, double stop, double step, DType dtype);

// ---- inplace.cpp: in-place writes (Note [In-place ops]) ----
// Every in-place op bumps the storage version. In grad mode, when self or the source takes
// part in autograd, the write is recorded: a leaf that requires grad (or a view of one)
// refuses it, a non-leaf takes the op's history, and a view gives its base a new history
// (CopySlices). `outofplace(self)` computes the new value; it must have self's shape.
TensorPtr apply_inplace(const TensorPtr& self, const char* op, const std::function<TensorPtr(const TensorPtr&)>& outofplace,
                        std::initializer_list<const Tensor*> sources = {});
// "base with the region replay(base) replaced by value (broadcast)", out of place and
// differentiable in both (PyTorch's CopySlices): __setitem__ in grad mode.
TensorPtr view_put(const TensorPtr& base, const std::function<TensorPtr(const TensorPtr&)>& replay,
                   const TensorPtr& value);
// A view whose base got a new history since its grad_fn was set takes a fresh one.
void refresh_view_grad_fn(const TensorPtr& view);
void cast_values(const TensorPtr& dst, const TensorPtr& src);  // dst = src converted (same shape), no autograd
// Whether apply_inplace takes its recorded path (grad mode with self or a source needing
// grad, or a forward-mode tangent on either).
bool inplace_records(const Tensor& self, std::initializer_list<const Tensor*> sources);
void copy_(const TensorPtr& dst, const TensorPtr& src);       // broadcasts src; converts dtype
void fill_(const TensorPtr& dst, const Scalar& value, const char* op = "fill_");  // op: the name errors and grad_fn use
inline void fill_(const TensorPtr& dst, double value) { fill_(dst, Scalar::of(value)); }
void uniform_(const TensorPtr& dst, double low, double high, Generator* gen = nullptr);
void normal_(const TensorPtr& dst, double mean, double std, Generator* gen = nullptr);
void add_inplace(const TensorPtr& dst, const TensorPtr& src, double alpha);  // dst += alpha * src (no autograd)
void check_inplace(const TensorPtr& t, const char* op);       // refuses what apply_inplace would refuse, bumps version

// ---- linalg.cpp ----
// op(a) @ op(b) for 2-D a, b with transpose flags (never materialises a transpose; a
// transposed view is passed to GEMM as a flag too).
TensorPtr mm(const TensorPtr& a, const TensorPtr& b, bool trans_a, bool trans_b);
// torch.matmul: 1-D . 1-D dot, 1-D / 2-D as rows and columns, N-D @ 2-D with the leading
// dims folded into GEMM rows (when that is a view), else batched over the broadcast batch
// dims (Note [Batched matmul], linalg.cpp).
TensorPtr matmul(const TensorPtr& a, const TensorPtr& b);
// torch.bmm: 3-D @ 3-D with equal batch sizes (no broadcasting).
TensorPtr bmm(const TensorPtr& a, const TensorPtr& b);
// act(x @ w^T + b), with w of shape (out, in) as in PyTorch; b may be null; act null (none)
// or any activation descriptor (find_activation), fused into the GEMM epilogue (and its
// derivative into one backward pass with db).
TensorPtr linear(const TensorPtr& x, const TensorPtr& w, const TensorPtr& b, const Activation* act = nullptr);

// ---- loss.cpp ----
enum class Reduction { None, Mean, Sum };
Reduction parse_reduction(const std::string& s);
TensorPtr softmax(const TensorPtr& x, int64_t dim);
TensorPtr log_softmax(const TensorPtr& x, int64_t dim);
// Fused log-softmax + NLL over logits (N, C) and integer labels (N).
TensorPtr cross_entropy(const TensorPtr& logits, const std::vector<int64_t>& labels, Reduction reduction,
                        double label_smoothing);
TensorPtr mse_loss(const TensorPtr& input, const TensorPtr& target, Reduction reduction);

// ---- optim.cpp: fused optimizer updates and gradient clipping (no autograd) ----
// One call updates every parameter that has a .grad. `states` holds up to three lists of
// state tensors (same length as params; null entries unused), `steps` is a float64 tensor
// with one step counter per parameter, incremented here for the parameters updated.
// Everything is checked before anything is written (a throw changes nothing); check_only
// stops after the checks. See Note [Transactional optimizer step] in ops/optim.cpp.
// `scalars` (issue 12) is the per-parameter scalar state of NAdam (mu_product) and ASGD
// (eta, mu): a float64 tensor of 1 or 2 entries per parameter, updated here; null otherwise.
// `hyper`: (name, value) pairs of the hyper-parameters the optimizer declares (booleans as
// 0 / 1); an undeclared name is a ValueError, a missing one takes OptimHyper's default.
using HyperValues = std::vector<std::pair<std::string, double>>;
void optim_step(const std::string& kind, const HyperValues& hyper, const tensor_list& params,
                const std::vector<tensor_list>& states, const TensorPtr& steps, bool check_only = false,
                const TensorPtr& scalars = nullptr);
// Note [Optimizer declarations] (ops/optim.cpp): what each optimizer kind reads and keeps,
// declared once; gradcore.optim reads it through the bindings.
struct OptimizerSpec {
  std::string kind;
  std::vector<std::string> hyper;    // hyper-parameters, OptimHyper's field names
  std::vector<std::string> states;   // state slots in the kernel's order (PyTorch's state names)
  std::vector<std::string> scalars;  // per-parameter scalar state (0-dim in state_dict)
};
const std::vector<OptimizerSpec>& optimizer_specs();
// Which of the kind's state slots these hyper-parameters use (unused slots stay None).
std::vector<bool> optim_slots_used(const std::string& kind, const HyperValues& hyper);
// The norm of all .grad tensors together (one pass); 0-dim float64 tensor.
TensorPtr grad_norm(const tensor_list& params, double norm_type);
// The norm_type-norm of each tensor's own values (null entries give NaN), one kernel pass
// each, accumulated in float64; a float64 tensor of shape (len(tensors),).
TensorPtr tensor_norms(const tensor_list& tensors, double norm_type);
void scale_grads(const tensor_list& params, double factor);
void clamp_grads(const tensor_list& params, double clip_value);

// ---- stats.cpp: variance, logsumexp, norms (issue 12, reduce12) ----
// Reductions over dims (empty: all; negative count from the end; out of range IndexError,
// repeated RuntimeError), each output element computed from its lane of values in double.
// var divides by max(0, n - correction) (n: the elements reduced), two-pass with the mean's
// rounding error removed; integer input is refused (RuntimeError, as PyTorch).
TensorPtr var(const TensorPtr& x, const std::vector<int64_t>& dims, double correction, bool keepdim);
TensorPtr std_dev(const TensorPtr& x, const std::vector<int64_t>& dims, double correction, bool keepdim);  // sqrt(var)
// (var or std when take_sqrt, mean): torch.var_mean / torch.std_mean.
std::pair<TensorPtr, TensorPtr> var_mean(const TensorPtr& x, const std::vector<int64_t>& dims, double correction,
                                         bool keepdim, bool take_sqrt);
// log(sum(exp(x))) over dims, the maximum subtracted (+inf gives +inf, all -inf -inf,
// nothing -inf); integers compute in the default dtype. Gradient: softmax.
TensorPtr logsumexp(const TensorPtr& x, const std::vector<int64_t>& dims, bool keepdim);
// The running logsumexp along dim (reverse: from the end); floating input only.
TensorPtr logcumsumexp(const TensorPtr& x, int64_t dim, bool reverse = false);
// torch.linalg.vector_norm: ord inf / -inf (max / min |x|), 0 (nonzero count), any other
// float ((sum |x|^ord)^(1/ord)); floating input only. PyTorch's subgradient 0 where the norm
// is 0 (ord < 1: where x is 0).
TensorPtr vector_norm(const TensorPtr& x, double ord, const std::vector<int64_t>& dims, bool keepdim);
// ---- concat.cpp (issue 12, shape ops): the copying data-movement ops ----
// torch.cat: inputs promoted to their result_type, joined along dim (one block copy each);
// 1-D (0,) inputs are skipped as PyTorch's legacy rule (Note [Legacy empty cat inputs]).
TensorPtr cat(const tensor_list& tensors, int64_t dim);
// torch.flip: the order of elements reversed along each of dims (a copy; duplicates refused).
TensorPtr flip(const TensorPtr& x, const std::vector<int64_t>& dims);
// torch.diag_embed: zeros with x's last dim written on the offset diagonal of dims
// (dim1, dim2) of the result (ndim + 1 dims); the adjoint of diagonal.
TensorPtr diag_embed(const TensorPtr& x, int64_t offset, int64_t dim1, int64_t dim2);
// ---- random.cpp: random sampling and creation (issue 12) ----
// Every sampler draws from gen (null: the default generator), see Note [Generators]
// (core/tensor.h); none is differentiable. In-place fills check and bump like fill_.
void exponential_(const TensorPtr& dst, double lambd, Generator* gen);
void cauchy_(const TensorPtr& dst, double median, double sigma, Generator* gen);
void log_normal_(const TensorPtr& dst, double mean, double std, Generator* gen);
void geometric_(const TensorPtr& dst, double p, Generator* gen);     // any non-bool dtype (values >= 1)
// Integers in [low, high) (high - low may be up to 2**64: `range`, 0 meaning 2**64);
// random_ with no bounds is [0, 2**digits] for floats, [0, max] for integers (bounds
// computed by random_bounds).
void random_(const TensorPtr& dst, int64_t low, uint64_t range, Generator* gen);
void random_bounds(DType d, int64_t* low, uint64_t* range);
void bernoulli_(const TensorPtr& dst, double p, Generator* gen);
void bernoulli_(const TensorPtr& dst, const TensorPtr& p, Generator* gen);  // p broadcast to dst
TensorPtr bernoulli(const TensorPtr& p, Generator* gen);                    // 0/1 with probability p, p's dtype
TensorPtr poisson(const TensorPtr& rates, Generator* gen);
TensorPtr multinomial(const TensorPtr& probs, int64_t num_samples, bool replacement, Generator* gen);
TensorPtr randperm(int64_t n, DType dtype, Generator* gen);
TensorPtr randint(const Shape& shape, int64_t low, int64_t high, DType dtype, Generator* gen);
TensorPtr eye(int64_t n, int64_t m, DType dtype);
// steps values from start to end (both included); logspace: base ** linspace.
TensorPtr linspace(double start, double end, int64_t steps, DType dtype);
TensorPtr logspace(double start, double end, int64_t steps, double base, DType dtype);

}  // namespace gradcore::ops
