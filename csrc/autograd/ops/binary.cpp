// binary.cpp — broadcasting arithmetic on every dtype: add sub mul div, floor_divide and
// remainder (Python's // and %), the scalar forms, pow with a scalar exponent; type
// promotion (torch.result_type) and the default dtype.
//
// float32/float64 results run the ISA table's vector loops (any operand layout, see
// kernels::binary); other dtypes run the strided engine with typed loops (integers wrap
// around on overflow, as in PyTorch); float16/bfloat16 compute in float32. Backward of a
// broadcast operand sums over the broadcast dims (sum_to).
#include <atomic>
#include <cmath>
#include <type_traits>

#include "autograd/ops/common.h"

namespace gradcore::ops {
using autograd::make_node;
using autograd::needs_record;
using autograd::SavedTensor;
using autograd::set_history;
using autograd::wants;

namespace {
std::atomic<DType> g_default_dtype{DType::Float32};
}

DType default_dtype() { return g_default_dtype.load(std::memory_order_relaxed); }
void set_default_dtype(DType d) {
  GC_CHECK(d == DType::Float32 || d == DType::Float64 || d == DType::Float16 || d == DType::BFloat16, TypeError,
           "only floating-point types are supported as the default type, got ", dtype_name(d));
  g_default_dtype.store(d);
}

DType result_type(std::initializer_list<const Tensor*> tensors, std::initializer_list<const Scalar*> scalars) {
  ResultType r;
  for (const Tensor* t : tensors)
    if (t) r.add_tensor(t->dtype, t->ndim() == 0);
  for (const Scalar* s : scalars)
    if (s) r.add_scalar(s->dtype());
  return r.result(default_dtype());
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  if (a == b) return a;
  size_t n = a.size() > b.size() ? a.size() : b.size();
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    GC_CHECK(da == db || da == 1 || db == 1, ShapeError, op, ": the size of tensor a (", da,
             ") must match the size of tensor b (", db, ") at non-singleton dimension ", i, "; shapes ", shape_str(a),
             " and ", shape_str(b), " cannot be broadcast together");
    out[i] = da == 1 ? db : da;
  }
  shape_numel(out);  // See Note [Shape overflow]
  return out;
}

namespace {

enum class Arith { ADD, SUB, MUL, DIV, FLOORDIV, REM };

const char* arith_name(Arith k) {
  switch (k) {
    case Arith::ADD: return "add";
    case Arith::SUB: return "sub";
    case Arith::MUL: return "mul";
    case Arith::DIV: return "div";
    case Arith::FLOORDIV: return "floor_divide";
    case Arith::REM: return "remainder";
  }
  return "?";
}

// Python's floor division and modulo, as PyTorch computes them.
template <class T>
T floordiv_value(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    if (b == 0) return a / b;
    T mod = std::fmod(a, b);
    T d = (a - mod) / b;
    if (mod != 0 && (b < 0) != (mod < 0)) d -= 1;
    if (d == 0) return std::copysign(T(0), a / b);
    T f = std::floor(d);
    return d - f > T(0.5) ? f + 1 : f;
  } else {
    if constexpr (std::is_signed_v<T>) {
      if (b == -1) return static_cast<T>(0 - static_cast<std::make_unsigned_t<T>>(a));  // no INT_MIN / -1 trap
      T q = a / b;
      if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
      return q;
    } else {
      return a / b;
    }
  }
}

template <class T>
T remainder_value(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    T mod = std::fmod(a, b);
    if (mod != 0 && (b < 0) != (mod < 0)) mod += b;
    return mod;
  } else if constexpr (std::is_signed_v<T>) {
    if (b == -1) return 0;
    T r = a % b;
    if (r != 0 && (r < 0) != (b < 0)) r += b;
    return r;
  } else {
    return a % b;
  }
}

// Integer arithmetic in the unsigned type (wrap-around, no UB), bool as logic.
template <class T>
T arith_value(Arith k, T a, T b) {
  if constexpr (std::is_same_v<T, bool>) {
    return k == Arith::MUL ? (a && b) : (a || b);
  } else if constexpr (std::is_integral_v<T>) {
    using U = std::make_unsigned_t<T>;
    switch (k) {
      case Arith::ADD: return static_cast<T>(static_cast<U>(a) + static_cast<U>(b));
      case Arith::SUB: return static_cast<T>(static_cast<U>(a) - static_cast<U>(b));
      case Arith::MUL: return static_cast<T>(static_cast<U>(a) * static_cast<U>(b));
      case Arith::FLOORDIV: return floordiv_value(a, b);
      case Arith::REM: return remainder_value(a, b);
      default: return a;
    }
  } else {
    switch (k) {
      case Arith::ADD: return a + b;
      case Arith::SUB: return a - b;
      case Arith::MUL: return a * b;
      case Arith::DIV: return a / b;
      case Arith::FLOORDIV: return floordiv_value(a, b);
      case Arith::REM: return remainder_value(a, b);
    }
    return a;
  }
}

// a (op) b on tensors of one arithmetic dtype T, broadcast, into a new contiguous tensor.
TensorPtr generic_binary(Arith k, const TensorPtr& a, const TensorPtr& b, DType dt, const char* name) {
  Shape shape = broadcast_shapes(a->shape, b->shape, name);
  TensorPtr out = empty(shape, dt);
  if (out->numel == 0) return out;
  dispatch_arith(dt, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
      if (k == Arith::FLOORDIV || k == Arith::REM) {  // PyTorch: integer division by zero raises
        bool zero = false;
        iterate(*b, kernels::typed_row<T, T>([&zero](T v) { zero |= v == 0; return v; }), *b);
        GC_CHECK(!zero, RuntimeError, "ZeroDivisionError");
      }
    }
    switch (k) {  // one instantiation per op, so each loop vectorises
      case Arith::ADD: iterate(*out, kernels::typed_row<T, T, T>([](T x, T y) { return arith_value(Arith::ADD, x, y); }), *a, *b); break;
      case Arith::SUB: iterate(*out, kernels::typed_row<T, T, T>([](T x, T y) { return arith_value(Arith::SUB, x, y); }), *a, *b); break;
      case Arith::MUL: iterate(*out, kernels::typed_row<T, T, T>([](T x, T y) { return arith_value(Arith::MUL, x, y); }), *a, *b); break;
      case Arith::DIV: iterate(*out, kernels::typed_row<T, T, T>([](T x, T y) { return arith_value(Arith::DIV, x, y); }), *a, *b); break;
      case Arith::FLOORDIV: iterate(*out, kernels::typed_row<T, T, T>([](T x, T y) { return floordiv_value(x, y); }), *a, *b); break;
      case Arith::REM: iterate(*out, kernels::typed_row<T, T, T>([](T x, T y) { return remainder_value(x, y); }), *a, *b); break;
    }
    return 0;
  });
  return out;
}

BinaryOp table_op(Arith k) {
  return k == Arith::ADD ? BINARY_ADD : k == Arith::SUB ? BINARY_SUB : k == Arith::MUL ? BINARY_MUL : BINARY_DIV;
}

// float32/float64 a (op) b of one dtype, any layouts, through the ISA table.
TensorPtr float_binary(BinaryOp op, const TensorPtr& a, const TensorPtr& b, const char* name) {
  Shape shape = broadcast_shapes(a->shape, b->shape, name);
  GC_CHECK(shape.size() <= static_cast<size_t>(kernels::kMaxDims), ValueError, name, ": too many dimensions");
  // Same shape and the same dense layout (e.g. two transposes): one flat pass, output in that layout.
  if (a->shape == b->shape && a->strides == b->strides && !a->is_contiguous && a->non_overlapping_and_dense()) {
    TensorPtr out = empty_like_layout(*a, a->dtype);
    dispatch(a->dtype, [&](auto t) {
      using T = decltype(t);
      int64_t n = out->numel, one = 1;
      kernels::binary<T>(op, 1, &n, block_begin<T>(*a), &one, block_begin<T>(*b), &one, block_begin<T>(*out));
      return 0;
    });
    return out;
  }
  TensorPtr out = empty(shape, a->dtype);
  if (out->numel == 0) return out;
  dispatch(a->dtype, [&](auto t) {
    using T = decltype(t);
    if (a->shape == b->shape && a->is_contiguous && b->is_contiguous) {
      int64_t n = out->numel, one = 1;
      kernels::binary<T>(op, 1, &n, a->data<T>(), &one, b->data<T>(), &one, out->data<T>());
      return 0;
    }
    int64_t sa[kernels::kMaxDims], sb[kernels::kMaxDims];
    broadcast_byte_strides(*a, shape, sa);
    broadcast_byte_strides(*b, shape, sb);
    for (size_t i = 0; i < shape.size(); ++i) { sa[i] /= sizeof(T); sb[i] /= sizeof(T); }
    kernels::binary<T>(op, static_cast<int>(shape.size()), shape.data(), a->data<T>(), sa, b->data<T>(), sb,
                       out->data<T>());
    return 0;
  });
  return out;
}

// ta + tb or ta - tb where either tangent may be missing.
TensorPtr combine(const TensorPtr& ta, const TensorPtr& tb, bool subtract) {
  if (!tb) return ta;
  if (!ta) return subtract ? neg(tb) : tb;
  return subtract ? sub(ta, tb) : add(ta, tb);
}

TensorPtr scale(const TensorPtr& g, double factor) {
  if (factor == 1.0) return g;
  if (factor == -1.0) return neg(g);
  return mul_scalar(g, factor);
}

struct AddBackward final : Node {
  Shape a_shape, b_shape;
  double b_sign = 1.0;  // -1 for sub
  const char* name() const override { return b_sign > 0 ? "AddBackward0" : "SubBackward0"; }
  tensor_list apply(tensor_list&& g) override {
    tensor_list r(2);
    if (wants(*this, 0)) r[0] = sum_to(g[0], a_shape);
    if (wants(*this, 1)) r[1] = sum_to(b_sign > 0 ? g[0] : neg(g[0]), b_shape);
    return r;
  }
};

struct MulBackward final : Node {
  SavedTensor a_, b_;
  const char* name() const override { return "MulBackward0"; }
  tensor_list apply(tensor_list&& g) override {
    tensor_list r(2);
    TensorPtr a = a_.unpack(this), b = b_.unpack(this);
    if (wants(*this, 0)) r[0] = sum_to(mul(g[0], b), a->shape);
    if (wants(*this, 1)) r[1] = sum_to(mul(g[0], a), b->shape);
    return r;
  }
  void release_saved() override { a_.reset(); b_.reset(); }
  std::vector<std::pair<std::string, TensorPtr>> saved_tensors() const override { return {{"self", a_.raw()}, {"other", b_.raw()}}; }
};

struct DivBackward final : Node {
  SavedTensor a_, b_;
  const char* name() const override { return "DivBackward0"; }
  tensor_list apply(tensor_list&& g) override {
    tensor_list r(2);
    TensorPtr a = a_.unpack(this), b = b_.unpack(this);
    TensorPtr g_over_b = div(g[0], b);
    if (wants(*this, 0)) r[0] = sum_to(g_over_b, a->shape);
    // d(a/b)/db = -a / b^2
    if (wants(*this, 1)) r[1] = sum_to(neg(div(mul(g_over_b, a), b)), b->shape);
    return r;
  }
  void release_saved() override { a_.reset(); b_.reset(); }
  std::vector<std::pair<std::string, TensorPtr>> saved_tensors() const override { return {{"self", a_.raw()}, {"other", b_.raw()}}; }
};

// a % b: d/da = 1, d/db = -floor(a / b).
struct RemainderBackward final : Node {
  SavedTensor a_, b_;
  const char* name() const override { return "RemainderBackward0"; }
  tensor_list apply(tensor_list&& g) override {
    tensor_list r(2);
    TensorPtr a = a_.unpack(this), b = b_.unpack(this);
    if (wants(*this, 0)) r[0] = sum_to(g[0], a->shape);
    if (wants(*this, 1)) {
      TensorPtr q;
      {
        autograd::GradModeGuard off(false);
        q = floor_divide(detach(a), detach(b));
      }
      r[1] = sum_to(neg(mul(g[0], q)), b->shape);
    }
    return r;
  }
  void release_saved() override { a_.reset(); b_.reset(); }
};

// The result of an op PyTorch does not differentiate (floor_divide): it requires grad
// like PyTorch's, and backward through it raises PyTorch's error.
struct NotImplementedBackward final : Node {
  const char* what = "floor_divide";
  const char* name() const override { return "NotImplemented"; }
  tensor_list apply(tensor_list&&) override {
    throw RuntimeError(std::string("derivative for aten::") + what + " is not implemented");
  }
};

// a + s, a * s, s - a: the gradient is g * factor.
struct ScaleBackward final : Node {
  double factor = 1.0;
  const char* name_ = "AddBackward0";
  const char* name() const override { return name_; }
  tensor_list apply(tensor_list&& g) override { return {scale(g[0], factor)}; }
};

// d(x^p) = p x^(p-1) dx: PowBackward's formula and pow's forward rule.
TensorPtr pow_grad(const TensorPtr& g, const TensorPtr& x, double p) {
  if (p == 0.0) return mul_scalar(g, 0.0);
  if (p == 1.0) return g;
  if (p == 2.0) return mul(g, mul_scalar(x, 2.0));
  return mul(g, mul_scalar(pow_scalar(x, p - 1.0), p));
}

struct PowBackward final : Node {
  SavedTensor x_;
  double p = 1.0;
  const char* name() const override { return "PowBackward0"; }
  tensor_list apply(tensor_list&& g) override { return {pow_grad(g[0], x_.unpack(this), p)}; }
  void release_saved() override { x_.reset(); }
  std::vector<std::pair<std::string, TensorPtr>> saved_tensors() const override { return {{"self", x_.raw()}}; }
};

// pow with a tensor exponent: PyTorch's gradients (derivatives.yaml, pow.Tensor_Tensor):
// base g * b * a^(b-1), zero where b == 0; exponent g * a^b * log(a), zero where a == 0
// and b >= 0 (where the limit is 0 rather than NaN).
TensorPtr pow_tensor_grads(const TensorPtr& g, const TensorPtr& a, const TensorPtr& b, bool want_a, bool want_b,
                           TensorPtr* ga, TensorPtr* gb) {
  const DType dt = a->dtype;
  TensorPtr zero = zeros({}, dt);
  if (want_a && ga)
    *ga = where(compare(CmpOp::EQ, b, Scalar::of(0.0)), zero, mul(g, mul(b, pow(a, sub(b, Scalar::of(1.0))))));
  if (want_b && gb) {
    TensorPtr at_zero = logical(LogicOp::AND, compare(CmpOp::EQ, a, Scalar::of(0.0)), compare(CmpOp::GE, b, Scalar::of(0.0)));
    *gb = where(at_zero, zero, mul(g, mul(pow(a, b), log(a))));
  }
  return nullptr;
}

struct PowTensorBackward final : Node {
  SavedTensor a_, b_;
  Shape a_shape, b_shape;
  const char* name() const override { return "PowBackward1"; }
  tensor_list apply(tensor_list&& g) override {
    tensor_list r(2);
    TensorPtr a = a_.unpack(this), b = b_.unpack(this), ga, gb;
    pow_tensor_grads(g[0], a, b, wants(*this, 0), wants(*this, 1), &ga, &gb);
    if (ga) r[0] = sum_to(ga, a_shape);
    if (gb) r[1] = sum_to(gb, b_shape);
    return r;
  }
  void release_saved() override { a_.reset(); b_.reset(); }
  std::vector<std::pair<std::string, TensorPtr>> saved_tensors() const override {
    return {{"self", a_.raw()}, {"exponent", b_.raw()}};
  }
};

// x / s: the gradient is g / s (a true division, as the forward).
struct DivScalarBackward final : Node {
  double s = 1.0;
  const char* name() const override { return "DivBackward0"; }
  tensor_list apply(tensor_list&& g) override { return {div_scalar(g[0], s)}; }
};

// s / x: the gradient is -g * (s / x) / x.
struct RdivBackward final : Node {
  SavedTensor x_, y_;
  const char* name() const override { return "RdivBackward0"; }
  tensor_list apply(tensor_list&& g) override {
    TensorPtr x = x_.unpack(this), y = y_.unpack(this);
    return {neg(div(mul(g[0], y), x))};
  }
  void release_saved() override { x_.reset(); y_.reset(); }
  std::vector<std::pair<std::string, TensorPtr>> saved_tensors() const override { return {{"self", x_.raw()}, {"result", y_.raw()}}; }
};

TensorPtr record_scale(const TensorPtr& out, const TensorPtr& a, double factor, const char* name) {
  forward_rule(out, {a.get()}, [&] { return scale(tangent(a), factor); });
  if (needs_record({a.get()})) {
    auto n = make_node<ScaleBackward>({a});
    n->factor = factor;
    n->name_ = name;
    set_history(out, n);
  }
  return out;
}

void check_bool_arith(Arith k, DType a, DType b) {
  GC_CHECK(!(k == Arith::SUB && a == DType::Bool && b == DType::Bool), RuntimeError,
           "Subtraction, the `-` operator, with two bool tensors is not supported. Use the `^` or `logical_xor()` "
           "operator instead.");
  GC_CHECK(!(k == Arith::SUB && (a == DType::Bool || b == DType::Bool)), RuntimeError,
           "Subtraction, the `-` operator, with a bool tensor is not supported. If you are trying to invert a mask, "
           "use the `~` or `logical_not()` operator instead.");
}

// The forward of a tensor-tensor op of any dtypes: promotion, then the table (float32/64),
// float32 (float16/bfloat16) or the typed loops. The operands returned are the promoted ones
// the float path used (for the caller to record).
TensorPtr promoted_forward(Arith k, TensorPtr& a, TensorPtr& b) {
  const char* name = arith_name(k);
  check_bool_arith(k, a->dtype, b->dtype);
  DType rt = result_type({a.get(), b.get()});
  if (k == Arith::DIV && !is_floating(rt)) rt = default_dtype();  // true division
  const DType ct = is_floating(rt) && !is_f32_or_f64(rt) ? DType::Float32 : rt;  // compute dtype
  a = to_dtype(a, ct);
  b = to_dtype(b, ct);
  if (!is_f32_or_f64(ct)) return generic_binary(k, a, b, ct, name);
  if (k == Arith::FLOORDIV || k == Arith::REM) return generic_binary(k, a, b, ct, name);
  return float_binary(table_op(k), a, b, name);
}

TensorPtr arith(Arith k, const TensorPtr& a_in, const TensorPtr& b_in) {
  TensorPtr a = a_in, b = b_in;
  TensorPtr out = promoted_forward(k, a, b);
  const DType rt = out->dtype;
  auto finish = [&](TensorPtr r) {  // float16/bfloat16: back from float32 (recorded)
    DType want = result_type({a_in.get(), b_in.get()});
    if (k == Arith::DIV && !is_floating(want)) want = default_dtype();
    return want != rt ? to_dtype(r, want) : r;
  };
  if (!is_floating(rt)) return out;
  switch (k) {
    case Arith::ADD:
    case Arith::SUB: {
      const bool is_sub = k == Arith::SUB;
      forward_rule(out, {a.get(), b.get()}, [&] { return combine(tangent(a), tangent(b), is_sub); });
      if (needs_record({a.get(), b.get()})) {
        auto n = make_node<AddBackward>({a, b});
        n->a_shape = a->shape;
        n->b_shape = b->shape;
        n->b_sign = is_sub ? -1.0 : 1.0;
        set_history(out, n);
      }
      break;
    }
    case Arith::MUL:
      forward_rule(out, {a.get(), b.get()}, [&] {  // d(ab) = da b + a db
        TensorPtr ta = tangent(a), tb = tangent(b);
        return combine(ta ? mul(ta, b) : nullptr, tb ? mul(a, tb) : nullptr, false);
      });
      if (needs_record({a.get(), b.get()})) {
        auto n = make_node<MulBackward>({a, b});
        // Each operand is needed only for the other's gradient, but both give the shapes.
        n->a_ = SavedTensor(a, false);
        n->b_ = SavedTensor(b, false);
        set_history(out, n);
      }
      break;
    case Arith::DIV:
      if (needs_record({a.get(), b.get()})) {
        auto n = make_node<DivBackward>({a, b});
        n->a_ = SavedTensor(a, false);
        n->b_ = SavedTensor(b, false);
        set_history(out, n);
      }
      forward_rule(out, {a.get(), b.get()}, [&] {  // d(a/b) = (da - (a/b) db) / b
        TensorPtr ta = tangent(a), tb = tangent(b);
        return div(combine(ta, tb ? mul(out, tb) : nullptr, true), b);
      });
      break;
    case Arith::REM:
      forward_rule(out, {a.get(), b.get()}, [&] {
        TensorPtr ta = tangent(a), tb = tangent(b);
        TensorPtr q;
        {
          autograd::GradModeGuard off(false);
          q = floor_divide(detach(a), detach(b));
        }
        return combine(ta, tb ? mul(tb, q) : nullptr, true);
      });
      if (needs_record({a.get(), b.get()})) {
        auto n = make_node<RemainderBackward>({a, b});
        n->a_ = SavedTensor(a, false);
        n->b_ = SavedTensor(b, false);
        set_history(out, n);
      }
      break;
    case Arith::FLOORDIV:
      if (needs_record({a.get(), b.get()})) set_history(out, make_node<NotImplementedBackward>({a, b}));
      break;
  }
  return finish(out);
}

// a (op) s for a Python number s. Fast path: a float32/float64 tensor keeps its dtype and
// runs the table's vector-scalar loop; otherwise s becomes a 0-dim tensor of the promoted dtype.
TensorPtr scalar_arith(Arith k, const TensorPtr& a, const Scalar& s, bool reflected) {
  DType rt = result_type({a.get()}, {&s});
  if (k == Arith::DIV && !is_floating(rt)) rt = default_dtype();
  const bool fast = is_f32_or_f64(rt) && rt == a->dtype && k != Arith::FLOORDIV && k != Arith::REM;
  check_bool_arith(k, reflected ? s.dtype() : a->dtype, reflected ? a->dtype : s.dtype());  // x - True too
  if (!fast) {
    TensorPtr st = scalar_tensor(s, rt);
    return reflected ? arith(k, st, a) : arith(k, a, st);
  }
  TensorPtr x = dense(a);
  TensorPtr out = empty(a->shape, a->dtype);
  dispatch(a->dtype, [&](auto t) {
    using T = decltype(t);
    kernels::binary_scalar<T>(table_op(k), x->data<T>(), static_cast<T>(s.d), out->data<T>(), a->numel, reflected);
    return 0;
  });
  switch (k) {
    case Arith::ADD: return record_scale(out, a, 1.0, "AddBackward0");
    case Arith::SUB: return record_scale(out, a, reflected ? -1.0 : 1.0, reflected ? "RsubBackward1" : "SubBackward0");
    case Arith::MUL: return record_scale(out, a, s.d, "MulBackward0");
    case Arith::DIV:
      if (!reflected) {
        forward_rule(out, {a.get()}, [&] { return div_scalar(tangent(a), s.d); });
        if (needs_record({a.get()})) {
          auto n = make_node<DivScalarBackward>({a});
          n->s = s.d;
          set_history(out, n);
        }
        return out;
      } else {
        std::shared_ptr<RdivBackward> n;  // Note [Forward rules after set_history] (unary.cpp)
        if (needs_record({a.get()})) {
          n = make_node<RdivBackward>({a});
          set_history(out, n);
        }
        forward_rule(out, {a.get()}, [&] { return neg(div(mul(tangent(a), out), a)); });  // d(s/a) = -da (s/a) / a
        if (n) {
          n->x_ = SavedTensor(a, false);
          n->y_ = SavedTensor(out, true);
        }
        return out;
      }
    default: return out;
  }
}

// Integer base ** integer exponent, by squaring (wraps like PyTorch).
template <class T>
T int_pow(T base, int64_t e) {
  using U = std::conditional_t<std::is_same_v<T, bool>, unsigned, std::make_unsigned_t<std::conditional_t<std::is_same_v<T, bool>, int, T>>>;
  U r = 1, b = static_cast<U>(base);
  while (e > 0) {
    if (e & 1) r = static_cast<U>(r * b);
    b = static_cast<U>(b * b);
    e >>= 1;
  }
  return static_cast<T>(r);
}

}  // namespace

TensorPtr add(const TensorPtr& a, const TensorPtr& b) { return arith(Arith::ADD, a, b); }
TensorPtr sub(const TensorPtr& a, const TensorPtr& b) { return arith(Arith::SUB, a, b); }
TensorPtr mul(const TensorPtr& a, const TensorPtr& b) { return arith(Arith::MUL, a, b); }
TensorPtr div(const TensorPtr& a, const TensorPtr& b) { return arith(Arith::DIV, a, b); }
TensorPtr floor_divide(const TensorPtr& a, const TensorPtr& b) { return arith(Arith::FLOORDIV, a, b); }
TensorPtr remainder(const TensorPtr& a, const TensorPtr& b) { return arith(Arith::REM, a, b); }

TensorPtr add(const TensorPtr& a, const Scalar& s) { return scalar_arith(Arith::ADD, a, s, false); }
TensorPtr sub(const TensorPtr& a, const Scalar& s) {
  if (s.kind == Scalar::BOOL || a->dtype == DType::Bool) return scalar_arith(Arith::SUB, a, s, false);
  Scalar n = s;
  n.d = -s.d;
  n.i = static_cast<int64_t>(0 - static_cast<uint64_t>(s.i));
  TensorPtr out = scalar_arith(Arith::ADD, a, n, false);
  if (out->grad_fn && std::string(out->grad_fn->name()) == "AddBackward0")
    static_cast<ScaleBackward*>(out->grad_fn.get())->name_ = "SubBackward0";
  return out;
}
TensorPtr rsub(const TensorPtr& a, const Scalar& s) { return scalar_arith(Arith::SUB, a, s, true); }
TensorPtr mul(const TensorPtr& a, const Scalar& s) { return scalar_arith(Arith::MUL, a, s, false); }
TensorPtr div(const TensorPtr& a, const Scalar& s) { return scalar_arith(Arith::DIV, a, s, false); }
TensorPtr rdiv(const TensorPtr& a, const Scalar& s) { return scalar_arith(Arith::DIV, a, s, true); }
TensorPtr floor_divide(const TensorPtr& a, const Scalar& s) { return scalar_arith(Arith::FLOORDIV, a, s, false); }
TensorPtr rfloor_divide(const TensorPtr& a, const Scalar& s) { return scalar_arith(Arith::FLOORDIV, a, s, true); }
TensorPtr remainder(const TensorPtr& a, const Scalar& s) { return scalar_arith(Arith::REM, a, s, false); }
TensorPtr rremainder(const TensorPtr& a, const Scalar& s) {
  // NOTE: PyTorch has no derivative of remainder(Scalar, Tensor); neither do we (backward raises).
  TensorPtr out;
  {
    autograd::GradModeGuard off(false);
    out = scalar_arith(Arith::REM, detach(a), s, true);
  }
  if (is_floating(out->dtype) && needs_record({a.get()})) {
    auto n = make_node<NotImplementedBackward>({a});
    n->what = "remainder";
    set_history(out, n);
  }
  return out;
}

TensorPtr pow(const TensorPtr& a, const Scalar& p) {
  if (!is_floating(a->dtype)) {
    if (p.kind == Scalar::FLOAT) return pow(to_dtype(a, default_dtype()), p);  // int ** 2.0 -> float
    GC_CHECK(p.i >= 0, RuntimeError, "Integers to negative integer powers are not allowed.");
    TensorPtr out = empty(a->shape, result_type({a.get()}, {&p}));  // bool ** True is bool, ** 2 int64
    TensorPtr x = to_dtype(a, out->dtype);
    const int64_t e = p.i;
    dispatch_arith(out->dtype, [&](auto tag) {
      using T = typename decltype(tag)::type;
      if constexpr (!std::is_floating_point_v<T>)
        iterate(*out, kernels::typed_row<T, T>([e](T v) { return int_pow<T>(v, e); }), *x);
      return 0;
    });
    return out;
  }
  if (!is_f32_or_f64(a->dtype)) return to_dtype(pow(to_dtype(a, DType::Float32), p), a->dtype);
  const double pd = p.d;
  TensorPtr x = dense(a);
  TensorPtr out = empty(a->shape, a->dtype);
  dispatch(a->dtype, [&](auto t) {
    using T = decltype(t);
    kernels::pow_scalar<T>(x->data<T>(), static_cast<T>(pd), out->data<T>(), a->numel);
    return 0;
  });
  forward_rule(out, {a.get()}, [&] { return pow_grad(tangent(a), a, pd); });
  if (needs_record({a.get()})) {
    auto n = make_node<PowBackward>({a});
    n->x_ = SavedTensor(a, false);
    n->p = pd;
    set_history(out, n);
  }
  return out;
}

TensorPtr pow(const TensorPtr& a_in, const TensorPtr& b_in) {
  const DType want = result_type({a_in.get(), b_in.get()});
  Shape shape = broadcast_shapes(a_in->shape, b_in->shape, "pow");
  if (!is_floating(want)) {
    GC_CHECK(want != DType::Bool, RuntimeError, "\"pow\" not implemented for 'Bool'");  // as PyTorch
    const DType dt = want;
    TensorPtr a = to_dtype(a_in, dt), b = to_dtype(b_in, dt);
    TensorPtr out = empty(shape, dt);
    if (out->numel) {
      dispatch_arith(dt, [&](auto tag) {
        using T = typename decltype(tag)::type;
        if constexpr (!std::is_floating_point_v<T>)
          // A negative exponent (PyTorch computes it for tensor exponents): 1 and -1 keep
          // their magnitude, every other base truncates to 0.
          iterate(*out, kernels::typed_row<T, T, T>([](T v, T e) {
            const auto ei = static_cast<int64_t>(e);
            if (ei >= 0) return int_pow<T>(v, ei);
            if (v == T(1)) return T(1);
            if constexpr (std::is_signed_v<T>)
              if (v == T(-1)) return (ei & 1) ? T(-1) : T(1);
            return T(0);
          }), *a, *b);
        return 0;
      });
    }
    return out;
  }
  const DType dt = is_f32_or_f64(want) ? want : DType::Float32;
  TensorPtr a = to_dtype(a_in, dt), b = to_dtype(b_in, dt);
  TensorPtr out = empty(shape, dt);
  if (out->numel) {
    dispatch(dt, [&](auto zero) {
      using T = decltype(zero);
      iterate(*out, kernels::typed_row<T, T, T>([](T v, T e) { return std::pow(v, e); }), *a, *b);
      return 0;
    });
  }
  forward_rule(out, {a.get(), b.get()}, [&] {
    TensorPtr ta = tangent(a), tb = tangent(b), da, db;
    pow_tensor_grads(ta ? ta : zeros({}, dt), a, b, ta != nullptr, false, &da, nullptr);
    pow_tensor_grads(tb ? tb : zeros({}, dt), a, b, false, tb != nullptr, nullptr, &db);
    return da && db ? add(da, db) : (da ? da : db);
  });
  if (needs_record({a.get(), b.get()})) {
    auto n = make_node<PowTensorBackward>({a, b});
    n->a_ = SavedTensor(a, false);
    n->b_ = SavedTensor(b, false);
    n->a_shape = a->shape;
    n->b_shape = b->shape;
    set_history(out, n);
  }
  return want != dt ? to_dtype(out, want) : out;
}

TensorPtr rpow(const TensorPtr& a, const Scalar& s) {
  return pow(scalar_tensor(s, result_type({a.get()}, {&s})), a);
}

}  // namespace gradcore::ops
