// compare.cpp — comparisons (bool results), logical and bitwise ops, isnan & co, where,
// maximum/minimum, clamp, equal, any/all. Operands of different dtypes are promoted
// (torch.result_type) and compared in the common dtype; float16/bfloat16 compare in float32.
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

// The dtype two operands are compared / selected in.
DType common_dtype(const TensorPtr& a, const TensorPtr& b) {
  DType d = result_type({a.get(), b.get()});
  return is_floating(d) && !is_f32_or_f64(d) ? DType::Float32 : d;
}

template <class T>
bool cmp_value(CmpOp op, T a, T b) {
  switch (op) {
    case CmpOp::EQ: return a == b;
    case CmpOp::NE: return a != b;
    case CmpOp::LT: return a < b;
    case CmpOp::LE: return a <= b;
    case CmpOp::GT: return a > b;
    case CmpOp::GE: return a >= b;
  }
  return false;
}

TensorPtr compare_same(CmpOp op, const TensorPtr& a, const TensorPtr& b, const char* name) {
  Shape shape = broadcast_shapes(a->shape, b->shape, name);
  TensorPtr out = empty(shape, DType::Bool);
  if (out->numel == 0) return out;
  dispatch_arith(a->dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    switch (op) {  // one loop per op (vectorised)
      case CmpOp::EQ: iterate(*out, kernels::typed_row<bool, T, T>([](T x, T y) { return x == y; }), *a, *b); break;
      case CmpOp::NE: iterate(*out, kernels::typed_row<bool, T, T>([](T x, T y) { return x != y; }), *a, *b); break;
      case CmpOp::LT: iterate(*out, kernels::typed_row<bool, T, T>([](T x, T y) { return x < y; }), *a, *b); break;
      case CmpOp::LE: iterate(*out, kernels::typed_row<bool, T, T>([](T x, T y) { return x <= y; }), *a, *b); break;
      case CmpOp::GT: iterate(*out, kernels::typed_row<bool, T, T>([](T x, T y) { return x > y; }), *a, *b); break;
      case CmpOp::GE: iterate(*out, kernels::typed_row<bool, T, T>([](T x, T y) { return x >= y; }), *a, *b); break;
    }
    return 0;
  });
  return out;
}

const char* cmp_name(CmpOp op) {
  static const char* n[] = {"eq", "ne", "lt", "le", "gt", "ge"};
  return n[static_cast<int>(op)];
}

// The logical value of any element (nonzero, NaN included, is true).
TensorPtr as_bool(const TensorPtr& x) { return x->dtype == DType::Bool ? x : to_dtype(x, DType::Bool); }

template <class T>
T logic_value(LogicOp op, T a, T b) {
  switch (op) {
    case LogicOp::AND: return a & b;
    case LogicOp::OR: return a | b;
    case LogicOp::XOR: return a ^ b;
  }
  return a;
}

struct WhereBackward final : Node {
  TensorPtr cond;  // bool: no grad, not a saved value that can change
  Shape x_shape, y_shape;
  const char* name() const override { return "WhereBackward0"; }
  tensor_list apply(tensor_list&& g) override {
    tensor_list r(3);
    TensorPtr zero = zeros({}, g[0]->dtype);
    if (wants(*this, 1)) r[1] = sum_to(where(cond, g[0], zero), x_shape);
    if (wants(*this, 2)) r[2] = sum_to(where(cond, zero, g[0]), y_shape);
    return r;
  }
};

// maximum / minimum: the gradient goes to the larger (smaller) operand, half each on ties.
struct MaxMinBackward final : Node {
  SavedTensor a_, b_;
  bool is_max = true;
  const char* name() const override { return is_max ? "MaximumBackward0" : "MinimumBackward0"; }
  tensor_list apply(tensor_list&& g) override {
    tensor_list r(2);
    TensorPtr a = a_.unpack(this), b = b_.unpack(this);
    TensorPtr wa, wb;  // PyTorch's: where(a == b, 1/2, 1), zeroed where the operand loses
    {
      autograd::GradModeGuard off(false);
      TensorPtr ad = detach(a), bd = detach(b);
      const DType dt = g[0]->dtype;
      TensorPtr share = where(compare(CmpOp::EQ, ad, bd), scalar_tensor(Scalar::of(0.5), dt),
                              scalar_tensor(Scalar::of(1.0), dt));
      TensorPtr zero = zeros({}, dt);
      wa = where(compare(is_max ? CmpOp::LT : CmpOp::GT, ad, bd), zero, share);
      wb = where(compare(is_max ? CmpOp::GT : CmpOp::LT, ad, bd), zero, share);
    }
    if (wants(*this, 0)) r[0] = sum_to(mul(g[0], wa), a->shape);
    if (wants(*this, 1)) r[1] = sum_to(mul(g[0], wb), b->shape);
    return r;
  }
  void release_saved() override { a_.reset(); b_.reset(); }
};

template <class T>
T max_nan(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    if (a != a) return a;
    if (b != b) return b;
  }
  return a > b ? a : b;
}
template <class T>
T min_nan(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    if (a != a) return a;
    if (b != b) return b;
  }
  return a < b ? a : b;
}

TensorPtr maxmin(const TensorPtr& a_in, const TensorPtr& b_in, bool is_max) {
  const DType dt = common_dtype(a_in, b_in);
  TensorPtr a = to_dtype(a_in, dt), b = to_dtype(b_in, dt);
  Shape shape = broadcast_shapes(a->shape, b->shape, is_max ? "maximum" : "minimum");
  TensorPtr out = empty(shape, dt);
  if (out->numel) {
    dispatch_arith(dt, [&](auto tag) {
      using T = typename decltype(tag)::type;
      if (is_max) iterate(*out, kernels::typed_row<T, T, T>([](T x, T y) { return max_nan(x, y); }), *a, *b);
      else iterate(*out, kernels::typed_row<T, T, T>([](T x, T y) { return min_nan(x, y); }), *a, *b);
      return 0;
    });
  }
  if (is_floating(dt)) {
    forward_rule(out, {a.get(), b.get()}, [&] {
      TensorPtr ta = tangent(a), tb = tangent(b);
      TensorPtr pick_a = to_dtype(compare(is_max ? CmpOp::GE : CmpOp::LE, a, b), dt);
      TensorPtr za = ta ? mul(ta, pick_a) : nullptr;
      TensorPtr zb = tb ? mul(tb, rsub_scalar(pick_a, 1.0)) : nullptr;
      return za && zb ? add(za, zb) : (za ? za : zb);
    });
    if (needs_record({a.get(), b.get()})) {
      auto n = make_node<MaxMinBackward>({a, b});
      n->a_ = SavedTensor(a, false);
      n->b_ = SavedTensor(b, false);
      n->is_max = is_max;
      set_history(out, n);
    }
  }
  DType want = result_type({a_in.get(), b_in.get()});
  return want != dt ? to_dtype(out, want) : out;
}

// clamp's gradients, PyTorch's formulas: x gets g where lo <= x <= hi (not at NaN); lo gets
// g where x < lo < hi; hi gets g where x > hi or hi < lo.
struct ClampBackward final : Node {
  SavedTensor x_, lo_, hi_;
  const char* name() const override { return "ClampBackward1"; }
  tensor_list apply(tensor_list&& g) override {
    tensor_list r(3);
    TensorPtr x = x_.unpack(this), lo = lo_.unpack(this), hi = hi_.unpack(this);
    TensorPtr keep, to_lo, to_hi;  // bool masks
    {
      autograd::GradModeGuard off(false);
      TensorPtr xd = detach(x), ld = lo ? detach(lo) : nullptr, hd = hi ? detach(hi) : nullptr;
      TensorPtr ge = ld ? compare(CmpOp::GE, xd, ld) : nullptr, le = hd ? compare(CmpOp::LE, xd, hd) : nullptr;
      keep = ge && le ? logical(LogicOp::AND, ge, le) : (ge ? ge : le);
      if (ld) {
        to_lo = compare(CmpOp::LT, xd, ld);
        if (hd) to_lo = logical(LogicOp::AND, to_lo, compare(CmpOp::LT, ld, hd));
      }
      if (hd) {
        to_hi = compare(CmpOp::GT, xd, hd);
        if (ld) to_hi = logical(LogicOp::OR, to_hi, compare(CmpOp::LT, hd, ld));
      }
    }
    TensorPtr zero = zeros({}, g[0]->dtype);
    if (wants(*this, 0)) r[0] = where(keep, g[0], zero);
    if (wants(*this, 1) && lo) r[1] = sum_to(where(to_lo, g[0], zero), lo->shape);
    if (wants(*this, 2) && hi) r[2] = sum_to(where(to_hi, g[0], zero), hi->shape);
    return r;
  }
  void release_saved() override { x_.reset(); lo_.reset(); hi_.reset(); }
};

}  // namespace

TensorPtr compare(CmpOp op, const TensorPtr& a, const TensorPtr& b) {
  const DType dt = common_dtype(a, b);
  return compare_same(op, to_dtype(a, dt), to_dtype(b, dt), cmp_name(op));
}

TensorPtr compare(CmpOp op, const TensorPtr& a, const Scalar& s) {
  DType dt = result_type({a.get()}, {&s});
  if (is_floating(dt) && !is_f32_or_f64(dt)) dt = DType::Float32;
  return compare_same(op, to_dtype(a, dt), scalar_tensor(s, dt), cmp_name(op));
}

TensorPtr eq(const TensorPtr& a, const TensorPtr& b) { return compare(CmpOp::EQ, a, b); }

TensorPtr logical(LogicOp op, const TensorPtr& a, const TensorPtr& b) {
  TensorPtr x = as_bool(a), y = as_bool(b);
  Shape shape = broadcast_shapes(x->shape, y->shape, "logical");
  TensorPtr out = empty(shape, DType::Bool);
  if (out->numel == 0) return out;
  switch (op) {
    case LogicOp::AND: iterate(*out, kernels::typed_row<bool, bool, bool>([](bool p, bool q) { return p && q; }), *x, *y); break;
    case LogicOp::OR: iterate(*out, kernels::typed_row<bool, bool, bool>([](bool p, bool q) { return p || q; }), *x, *y); break;
    case LogicOp::XOR: iterate(*out, kernels::typed_row<bool, bool, bool>([](bool p, bool q) { return p != q; }), *x, *y); break;
  }
  return out;
}

TensorPtr logical_not(const TensorPtr& a) {
  TensorPtr x = as_bool(a);
  TensorPtr out = empty(x->shape, DType::Bool);
  if (out->numel) iterate(*out, kernels::typed_row<bool, bool>([](bool p) { return !p; }), *x);
  return out;
}

TensorPtr bitwise(LogicOp op, const TensorPtr& a_in, const TensorPtr& b_in) {
  const DType dt = result_type({a_in.get(), b_in.get()});
  static const char* names[] = {"bitwise_and", "bitwise_or", "bitwise_xor"};
  GC_CHECK(!is_floating(dt), TypeError, "\"", names[static_cast<int>(op)], "_cpu\" not implemented for '",
           dtype_torch_name(dt), "' (bitwise ops need bool or integer tensors)");
  if (dt == DType::Bool) return logical(op, a_in, b_in);
  TensorPtr a = to_dtype(a_in, dt), b = to_dtype(b_in, dt);
  Shape shape = broadcast_shapes(a->shape, b->shape, names[static_cast<int>(op)]);
  TensorPtr out = empty(shape, dt);
  if (out->numel == 0) return out;
  dispatch_arith(dt, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_integral_v<T>) {
      switch (op) {
        case LogicOp::AND: iterate(*out, kernels::typed_row<T, T, T>([](T p, T q) { return static_cast<T>(p & q); }), *a, *b); break;
        case LogicOp::OR: iterate(*out, kernels::typed_row<T, T, T>([](T p, T q) { return static_cast<T>(p | q); }), *a, *b); break;
        case LogicOp::XOR: iterate(*out, kernels::typed_row<T, T, T>([](T p, T q) { return static_cast<T>(p ^ q); }), *a, *b); break;
      }
    }
    return 0;
  });
  return out;
}

TensorPtr bitwise(LogicOp op, const TensorPtr& a, const Scalar& s) {
  GC_CHECK(s.kind != Scalar::FLOAT, TypeError, "bitwise ops need bool or integer operands, got a float");
  DType dt = result_type({a.get()}, {&s});
  return bitwise(op, a, scalar_tensor(s, dt));
}

TensorPtr bitwise_not(const TensorPtr& a) {
  GC_CHECK(!is_floating(a->dtype), TypeError, "\"bitwise_not_cpu\" not implemented for '",
           dtype_torch_name(a->dtype), "' (~ needs a bool or integer tensor)");
  if (a->dtype == DType::Bool) return logical_not(a);
  TensorPtr out = empty(a->shape, a->dtype);
  if (out->numel == 0) return out;
  dispatch_arith(a->dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>)
      iterate(*out, kernels::typed_row<T, T>([](T p) { return static_cast<T>(~p); }), *a);
    return 0;
  });
  return out;
}

TensorPtr classify(FloatClass c, const TensorPtr& x_in) {
  TensorPtr out = empty(x_in->shape, DType::Bool);
  if (out->numel == 0) return out;
  if (!is_floating(x_in->dtype)) {  // integers: never NaN or inf
    copy_values(out, scalar_tensor(Scalar::of_bool(c == FloatClass::FINITE), DType::Bool));
    return out;
  }
  TensorPtr x = is_f32_or_f64(x_in->dtype) ? x_in : to_dtype(x_in, DType::Float32);
  dispatch(x->dtype, [&](auto z) {
    using T = decltype(z);
    const T inf = std::numeric_limits<T>::infinity();
    switch (c) {
      case FloatClass::NAN_: iterate(*out, kernels::typed_row<bool, T>([](T v) { return v != v; }), *x); break;
      case FloatClass::INF: iterate(*out, kernels::typed_row<bool, T>([inf](T v) { return v == inf || v == -inf; }), *x); break;
      case FloatClass::POSINF: iterate(*out, kernels::typed_row<bool, T>([inf](T v) { return v == inf; }), *x); break;
      case FloatClass::NEGINF: iterate(*out, kernels::typed_row<bool, T>([inf](T v) { return v == -inf; }), *x); break;
      case FloatClass::FINITE: iterate(*out, kernels::typed_row<bool, T>([inf](T v) { return v - v == T(0); }), *x); break;
    }
    return 0;
  });
  return out;
}

TensorPtr where(const TensorPtr& cond_in, const TensorPtr& x_in, const TensorPtr& y_in) {
  GC_CHECK(cond_in->dtype == DType::Bool || cond_in->dtype == DType::UInt8, RuntimeError,
           "where expected condition to be a boolean tensor, but got a tensor with dtype ",
           dtype_torch_name(cond_in->dtype));
  TensorPtr cond = as_bool(cond_in);
  const DType want = result_type({x_in.get(), y_in.get()});
  const DType dt = is_floating(want) && !is_f32_or_f64(want) ? DType::Float32 : want;
  TensorPtr x = to_dtype(x_in, dt), y = to_dtype(y_in, dt);
  Shape shape = broadcast_shapes(broadcast_shapes(cond->shape, x->shape, "where"), y->shape, "where");
  TensorPtr out = empty(shape, dt);
  if (out->numel) {
    dispatch_arith(dt, [&](auto tag) {
      using T = typename decltype(tag)::type;
      iterate(*out, kernels::typed_row<T, bool, T, T>([](bool c, T a, T b) { return kernels::select_bits(c, a, b); }),
              *cond, *x, *y);
      return 0;
    });
  }
  if (is_floating(dt)) {
    forward_rule(out, {x.get(), y.get()}, [&] {
      TensorPtr tx = tangent(x), ty = tangent(y);
      TensorPtr zero = zeros({}, dt);
      return where(cond, tx ? tx : zero, ty ? ty : zero);
    });
    if (needs_record({x.get(), y.get()})) {
      auto n = make_node<WhereBackward>({nullptr, x, y});
      n->cond = cond;
      n->x_shape = x->shape;
      n->y_shape = y->shape;
      set_history(out, n);
    }
  }
  return want != dt ? to_dtype(out, want) : out;
}

// lerp: PyTorch's two-sided formula, exact at weight 1 and with its inf/NaN pattern:
// |w| < 0.5 ? x + w (end - x) : end - (end - x)(1 - w). Gradients are PyTorch's:
// x gets g (1 - w), end gets g w, weight gets g (end - x).
struct LerpBackward final : Node {
  SavedTensor x_, end_, w_;
  Shape x_shape, end_shape, w_shape;
  const char* name() const override { return "LerpBackward1"; }
  tensor_list apply(tensor_list&& g) override {
    tensor_list r(3);
    TensorPtr x = x_.unpack(this), end = end_.unpack(this), w = w_.unpack(this);
    if (wants(*this, 0)) r[0] = sum_to(mul(g[0], rsub_scalar(w, 1.0)), x_shape);
    if (wants(*this, 1)) r[1] = sum_to(mul(g[0], w), end_shape);
    if (wants(*this, 2)) r[2] = sum_to(mul(g[0], sub(end, x)), w_shape);
    return r;
  }
};

TensorPtr lerp(const TensorPtr& x_in, const TensorPtr& end_in, const TensorPtr& w_in) {
  const DType want = result_type({x_in.get(), end_in.get(), w_in.get()});
  for (const TensorPtr& t : {x_in, end_in})  // PyTorch's lerp takes floating input and end only
    GC_CHECK(is_floating(t->dtype), RuntimeError, "\"lerp_kernel_scalar\" not implemented for '",
             dtype_torch_name(t->dtype), "'");
  const DType dt = is_f32_or_f64(want) ? want : DType::Float32;
  TensorPtr x = to_dtype(x_in, dt), end = to_dtype(end_in, dt), w = to_dtype(w_in, dt);
  Shape shape = broadcast_shapes(broadcast_shapes(x->shape, end->shape, "lerp"), w->shape, "lerp");
  TensorPtr out = empty(shape, dt);
  if (out->numel) {
    dispatch(dt, [&](auto zero) {
      using T = decltype(zero);
      iterate(*out, kernels::typed_row<T, T, T, T>([](T a, T b, T t) {
                return std::abs(t) < T(0.5) ? a + t * (b - a) : b - (b - a) * (T(1) - t);
              }), *x, *end, *w);
      return 0;
    });
  }
  forward_rule(out, {x.get(), end.get(), w.get()}, [&] {
    TensorPtr tx = tangent(x), te = tangent(end), tw = tangent(w);
    TensorPtr acc;
    auto plus = [&acc](TensorPtr t) { acc = acc ? add(acc, t) : t; };
    if (tx) plus(mul(tx, rsub_scalar(w, 1.0)));
    if (te) plus(mul(te, w));
    if (tw) plus(mul(tw, sub(end, x)));
    return acc;
  });
  if (needs_record({x.get(), end.get(), w.get()})) {
    auto n = make_node<LerpBackward>({x, end, w});
    n->x_ = SavedTensor(x, false);
    n->end_ = SavedTensor(end, false);
    n->w_ = SavedTensor(w, false);
    n->x_shape = x->shape;
    n->end_shape = end->shape;
    n->w_shape = w->shape;
    set_history(out, n);
  }
  return want != dt ? to_dtype(out, want) : out;
}

TensorPtr maximum(const TensorPtr& a, const TensorPtr& b) { return maxmin(a, b, true); }
TensorPtr minimum(const TensorPtr& a, const TensorPtr& b) { return maxmin(a, b, false); }

TensorPtr clamp(const TensorPtr& x, const Scalar* lo, const Scalar* hi) {
  GC_CHECK(lo || hi, RuntimeError, "torch.clamp: At least one of 'min' or 'max' must not be None");
  DType dt = result_type({x.get()}, {lo, hi});
  TensorPtr lt = lo ? scalar_tensor(*lo, dt) : nullptr, ht = hi ? scalar_tensor(*hi, dt) : nullptr;
  return clamp(x, lt, ht);
}

TensorPtr clamp(const TensorPtr& x_in, const TensorPtr& lo_in, const TensorPtr& hi_in) {
  GC_CHECK(lo_in || hi_in, RuntimeError, "torch.clamp: At least one of 'min' or 'max' must not be None");
  const DType want = result_type({x_in.get(), lo_in.get(), hi_in.get()});
  const DType dt = is_floating(want) && !is_f32_or_f64(want) ? DType::Float32 : want;
  TensorPtr x = to_dtype(x_in, dt);
  TensorPtr lo = lo_in ? to_dtype(lo_in, dt) : nullptr, hi = hi_in ? to_dtype(hi_in, dt) : nullptr;
  Shape shape = x->shape;
  if (lo) shape = broadcast_shapes(shape, lo->shape, "clamp");
  if (hi) shape = broadcast_shapes(shape, hi->shape, "clamp");
  TensorPtr out = empty(shape, dt);
  if (out->numel) {
    // min(max(x, lo), hi), NaN in x propagating (PyTorch); when lo > hi every value is hi.
    dispatch_arith(dt, [&](auto tag) {
      using T = typename decltype(tag)::type;
      // v < l ? l : v keeps a NaN v (the compare is false); a NaN bound wins via l != l.
      auto clip_lo = [](T v, T l) {
        T r = v < l ? l : v;
        if constexpr (std::is_floating_point_v<T>) r = l != l ? l : r;
        return r;
      };
      auto clip_hi = [](T v, T h) {
        T r = v > h ? h : v;
        if constexpr (std::is_floating_point_v<T>) r = h != h ? h : r;
        return r;
      };
      if (lo && hi) iterate(*out, kernels::typed_row<T, T, T, T>([=](T v, T l, T h) { return clip_hi(clip_lo(v, l), h); }), *x, *lo, *hi);
      else if (lo) iterate(*out, kernels::typed_row<T, T, T>([=](T v, T l) { return clip_lo(v, l); }), *x, *lo);
      else iterate(*out, kernels::typed_row<T, T, T>([=](T v, T h) { return clip_hi(v, h); }), *x, *hi);
      return 0;
    });
  }
  if (is_floating(dt)) {
    forward_rule(out, {x.get(), lo.get(), hi.get()}, [&] {  // the backward's masks, on the tangents
      TensorPtr tx = tangent(x);
      TensorPtr ge = lo ? compare(CmpOp::GE, x, lo) : nullptr, le = hi ? compare(CmpOp::LE, x, hi) : nullptr;
      TensorPtr keep = ge && le ? logical(LogicOp::AND, ge, le) : (ge ? ge : le);
      TensorPtr zero = zeros({}, dt);
      TensorPtr r = tx ? where(keep, tx, zero) : zeros(out->shape, dt);
      if (lo && tangent(lo)) {
        TensorPtr m = compare(CmpOp::LT, x, lo);
        if (hi) m = logical(LogicOp::AND, m, compare(CmpOp::LT, lo, hi));
        r = add(r, where(m, tangent(lo), zero));
      }
      if (hi && tangent(hi)) {
        TensorPtr m = compare(CmpOp::GT, x, hi);
        if (lo) m = logical(LogicOp::OR, m, compare(CmpOp::LT, hi, lo));
        r = add(r, where(m, tangent(hi), zero));
      }
      return r;
    });
    if (needs_record({x.get(), lo.get(), hi.get()})) {
      auto n = make_node<ClampBackward>({x, lo, hi});
      n->x_ = SavedTensor(x, false);
      n->lo_ = SavedTensor(lo, false);
      n->hi_ = SavedTensor(hi, false);
      set_history(out, n);
    }
  }
  return want != dt ? to_dtype(out, want) : out;
}

bool equal(const TensorPtr& a, const TensorPtr& b) {
  if (a->shape != b->shape) return false;
  if (a->numel == 0) return true;
  autograd::GradModeGuard off(false);
  TensorPtr ne = compare(CmpOp::NE, a, b);
  TensorPtr n = sum(ne, {}, false);
  return *n->data<int64_t>() == 0;
}

}  // namespace gradcore::ops
