// binary.cpp — add sub mul div (broadcasting), scalar forms, pow with a scalar exponent.
// Backward of a broadcast operand sums over the broadcast dims (sum_to).
#include "autograd/ops/common.h"

namespace gradcore::ops {
using autograd::make_node;
using autograd::needs_record;
using autograd::SavedTensor;
using autograd::set_history;
using autograd::wants;

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  size_t n = a.size() > b.size() ? a.size() : b.size();
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    GC_CHECK(da == db || da == 1 || db == 1, ValueError, op, ": shapes ", shape_str(a), " and ", shape_str(b),
             " cannot be broadcast together");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

namespace {

// Element strides of `s` broadcast to `out` (0 on broadcast dims).
void broadcast_strides(const Shape& s, const Shape& out, int64_t* strides) {
  size_t lead = out.size() - s.size();
  int64_t st = 1;
  for (size_t i = out.size(); i-- > 0;) {
    if (i < lead) { strides[i] = 0; continue; }
    int64_t d = s[i - lead];
    strides[i] = (d == 1 && out[i] != 1) ? 0 : st;
    st *= d;
  }
}

TensorPtr binary_forward(BinaryOp op, const TensorPtr& a, const TensorPtr& b, const char* name) {
  check_same_dtype(*a, *b, name);
  Shape shape = a->shape == b->shape ? a->shape : broadcast_shapes(a->shape, b->shape, name);
  GC_CHECK(shape.size() <= static_cast<size_t>(kernels::kMaxDims), ValueError, name, ": too many dimensions");
  TensorPtr out = empty(shape, a->dtype);
  if (out->numel == 0) return out;
  dispatch(a->dtype, [&](auto t) {
    using T = decltype(t);
    if (a->shape == b->shape) {
      int64_t n = out->numel, one = 1;
      kernels::binary<T>(op, 1, &n, a->data<T>(), &one, b->data<T>(), &one, out->data<T>());
      return 0;
    }
    int64_t sa[kernels::kMaxDims], sb[kernels::kMaxDims];
    broadcast_strides(a->shape, shape, sa);
    broadcast_strides(b->shape, shape, sb);
    kernels::binary<T>(op, static_cast<int>(shape.size()), shape.data(), a->data<T>(), sa, b->data<T>(), sb,
                       out->data<T>());
    return 0;
  });
  return out;
}

TensorPtr scalar_forward(BinaryOp op, const TensorPtr& a, double s, bool scalar_first) {
  TensorPtr out = empty(a->shape, a->dtype);
  dispatch(a->dtype, [&](auto t) {
    using T = decltype(t);
    kernels::binary_scalar<T>(op, a->data<T>(), static_cast<T>(s), out->data<T>(), a->numel, scalar_first);
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

// d(x^p) = p x^(p-1) dx: PowBackward's formula and pow's forward rule.
TensorPtr pow_grad(const TensorPtr& g, const TensorPtr& x, double p) {
  if (p == 0.0) return mul_scalar(g, 0.0);
  if (p == 1.0) return g;
  if (p == 2.0) return mul(g, mul_scalar(x, 2.0));
  return mul(g, mul_scalar(pow_scalar(x, p - 1.0), p));
}

struct AddBackward final : Node {
  Shape a_shape, b_shape;
  double b_sign = 1.0;  // -1 for sub
  const char* name() const override { return b_sign > 0 ? "AddBackward" : "SubBackward"; }
  tensor_list apply(tensor_list&& g) override {
    tensor_list r(2);
    if (wants(*this, 0)) r[0] = sum_to(g[0], a_shape);
    if (wants(*this, 1)) r[1] = sum_to(b_sign > 0 ? g[0] : neg(g[0]), b_shape);
    return r;
  }
};

struct MulBackward final : Node {
  SavedTensor a_, b_;
  const char* name() const override { return "MulBackward"; }
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
  const char* name() const override { return "DivBackward"; }
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

// a + s, a * s, s - a: the gradient is g * factor.
struct ScaleBackward final : Node {
  double factor = 1.0;
  const char* name_ = "AddBackward";
  const char* name() const override { return name_; }
  tensor_list apply(tensor_list&& g) override { return {scale(g[0], factor)}; }
};

struct PowBackward final : Node {
  SavedTensor x_;
  double p = 1.0;
  const char* name() const override { return "PowBackward"; }
  tensor_list apply(tensor_list&& g) override { return {pow_grad(g[0], x_.unpack(this), p)}; }
  void release_saved() override { x_.reset(); }
  std::vector<std::pair<std::string, TensorPtr>> saved_tensors() const override { return {{"self", x_.raw()}}; }
};

// x / s: the gradient is g / s (a true division, as the forward).
struct DivScalarBackward final : Node {
  double s = 1.0;
  const char* name() const override { return "DivBackward"; }
  tensor_list apply(tensor_list&& g) override { return {div_scalar(g[0], s)}; }
};

// s / x: the gradient is -g * (s / x) / x.
struct RdivBackward final : Node {
  SavedTensor x_, y_;
  const char* name() const override { return "RdivBackward"; }
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

TensorPtr add_sub(const TensorPtr& a, const TensorPtr& b, bool is_sub) {
  TensorPtr out = binary_forward(is_sub ? BINARY_SUB : BINARY_ADD, a, b, is_sub ? "sub" : "add");
  forward_rule(out, {a.get(), b.get()}, [&] { return combine(tangent(a), tangent(b), is_sub); });
  if (needs_record({a.get(), b.get()})) {
    auto n = make_node<AddBackward>({a, b});
    n->a_shape = a->shape;
    n->b_shape = b->shape;
    n->b_sign = is_sub ? -1.0 : 1.0;
    set_history(out, n);
  }
  return out;
}

}  // namespace

TensorPtr add(const TensorPtr& a, const TensorPtr& b) { return add_sub(a, b, false); }
TensorPtr sub(const TensorPtr& a, const TensorPtr& b) { return add_sub(a, b, true); }

TensorPtr mul(const TensorPtr& a, const TensorPtr& b) {
  TensorPtr out = binary_forward(BINARY_MUL, a, b, "mul");
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
  return out;
}

TensorPtr div(const TensorPtr& a, const TensorPtr& b) {
  TensorPtr out = binary_forward(BINARY_DIV, a, b, "div");
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
  return out;
}

TensorPtr eq(const TensorPtr& a, const TensorPtr& b) {
  autograd::GradModeGuard no_grad(false);
  return binary_forward(BINARY_EQ, a, b, "eq");
}

TensorPtr add_scalar(const TensorPtr& a, double s) {
  return record_scale(scalar_forward(BINARY_ADD, a, s, false), a, 1.0, "AddBackward");
}
TensorPtr mul_scalar(const TensorPtr& a, double s) {
  return record_scale(scalar_forward(BINARY_MUL, a, s, false), a, s, "MulBackward");
}
TensorPtr rsub_scalar(const TensorPtr& a, double s) {
  return record_scale(scalar_forward(BINARY_SUB, a, s, true), a, -1.0, "RsubBackward");
}
TensorPtr div_scalar(const TensorPtr& a, double s) {
  TensorPtr out = scalar_forward(BINARY_DIV, a, s, false);  // one IEEE division, as NumPy
  forward_rule(out, {a.get()}, [&] { return div_scalar(tangent(a), s); });
  if (needs_record({a.get()})) {
    auto n = make_node<DivScalarBackward>({a});
    n->s = s;
    set_history(out, n);
  }
  return out;
}

TensorPtr rdiv_scalar(const TensorPtr& a, double s) {
  TensorPtr out = scalar_forward(BINARY_DIV, a, s, true);
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

TensorPtr pow_scalar(const TensorPtr& a, double p) {
  TensorPtr out = empty(a->shape, a->dtype);
  dispatch(a->dtype, [&](auto t) {
    using T = decltype(t);
    kernels::pow_scalar<T>(a->data<T>(), static_cast<T>(p), out->data<T>(), a->numel);
    return 0;
  });
  forward_rule(out, {a.get()}, [&] { return pow_grad(tangent(a), a, p); });
  if (needs_record({a.get()})) {
    auto n = make_node<PowBackward>({a});
    n->x_ = SavedTensor(a, false);
    n->p = p;
    set_history(out, n);
  }
  return out;
}

}  // namespace gradcore::ops
