// linalg.cpp — mm with transpose flags, matmul, and linear (x @ w^T + b, bias fused).
// Backward uses mm's transpose flags, so no transpose is ever materialised.
#include "autograd/ops/common.h"

namespace gradcore::ops {
using autograd::make_node;
using autograd::needs_record;
using autograd::SavedTensor;
using autograd::set_history;
using autograd::wants;

namespace {

// C = op(A) @ op(B) (+ C when accumulate), all contiguous row-major.
void gemm_into(const Tensor& a, const Tensor& b, bool ta, bool tb, Tensor& c, bool accumulate) {
  const int64_t M = c.shape[0], N = c.shape[1];
  const int64_t K = ta ? a.shape[0] : a.shape[1];
  dispatch(a.dtype, [&](auto z) {
    using T = decltype(z);
    kernels::gemm<T>(ta, tb, M, N, K, T(1), a.data<T>(), a.shape[1], b.data<T>(), b.shape[1], accumulate ? T(1) : T(0),
                     c.data<T>(), N);
    return 0;
  });
}

struct MmBackward final : Node {
  SavedTensor a_, b_;
  bool ta = false, tb = false;
  const char* name() const override { return "MmBackward"; }
  tensor_list apply(tensor_list&& g) override {
    tensor_list r(2);
    TensorPtr a = a_.unpack(this), b = b_.unpack(this);
    // C = op(A) op(B):  d op(A) = G op(B)^T,  d op(B) = op(A)^T G
    if (wants(*this, 0)) r[0] = ta ? mm(b, g[0], tb, true) : mm(g[0], b, false, !tb);
    if (wants(*this, 1)) r[1] = tb ? mm(g[0], a, true, ta) : mm(a, g[0], !ta, false);
    return r;
  }
  void release_saved() override { a_.reset(); b_.reset(); }
  std::vector<std::pair<std::string, TensorPtr>> saved_tensors() const override { return {{"self", a_.raw()}, {"mat2", b_.raw()}}; }
};

struct LinearBackward final : Node {
  SavedTensor x_, w_;  // x as 2-D (rows, in)
  const char* name() const override { return "LinearBackward"; }
  tensor_list apply(tensor_list&& g) override {
    tensor_list r(3);
    TensorPtr x = x_.unpack(this), w = w_.unpack(this);
    const TensorPtr& gy = g[0];                                  // [rows, out]
    if (wants(*this, 0)) r[0] = mm(gy, w, false, false);         // [rows, in]  = [rows, out] x [out, in]
    if (wants(*this, 1)) r[1] = mm(gy, x, true, false);          // [out, in]   = [rows, out]^T x [rows, in]
    if (wants(*this, 2)) r[2] = sum(gy, {0}, false);             // [out]
    return r;
  }
  void release_saved() override { x_.reset(); w_.reset(); }
  std::vector<std::pair<std::string, TensorPtr>> saved_tensors() const override { return {{"input", x_.raw()}, {"weight", w_.raw()}}; }
};

}  // namespace

TensorPtr mm(const TensorPtr& a, const TensorPtr& b, bool ta, bool tb) {
  GC_CHECK(a->ndim() == 2 && b->ndim() == 2, ValueError, "mm: expected 2-D operands, got ", shape_str(a->shape),
           " and ", shape_str(b->shape));
  check_same_dtype(*a, *b, "matmul");
  const int64_t M = ta ? a->shape[1] : a->shape[0], K = ta ? a->shape[0] : a->shape[1];
  const int64_t Kb = tb ? b->shape[1] : b->shape[0], N = tb ? b->shape[0] : b->shape[1];
  GC_CHECK(K == Kb, ValueError, "matmul: ", shape_str({M, K}), " @ ", shape_str({Kb, N}),
           ": inner dimensions differ (", K, " != ", Kb, ")");
  TensorPtr c = empty({M, N}, a->dtype);
  gemm_into(*a, *b, ta, tb, *c, false);
  if (needs_record({a.get(), b.get()})) {
    auto n = make_node<MmBackward>({a, b});
    n->ta = ta;
    n->tb = tb;
    if (b->needs_grad()) n->a_ = SavedTensor(a, false);
    if (a->needs_grad()) n->b_ = SavedTensor(b, false);
    set_history(c, n);
  }
  return c;
}

TensorPtr matmul(const TensorPtr& a, const TensorPtr& b) {
  const int64_t na = a->ndim(), nb = b->ndim();
  check_same_dtype(*a, *b, "matmul");
  GC_CHECK(na >= 1 && nb >= 1, ValueError, "matmul: both operands need at least one dimension, got ",
           shape_str(a->shape), " @ ", shape_str(b->shape));
  GC_CHECK(nb <= 2, ValueError, "matmul: ", shape_str(a->shape), " @ ", shape_str(b->shape),
           ": the right operand must be 1-D or 2-D");
  const int64_t ka = a->shape[na - 1], kb = b->shape[0];
  GC_CHECK(ka == kb, ValueError, "matmul: ", shape_str(a->shape), " @ ", shape_str(b->shape),
           ": inner dimensions differ (", ka, " != ", kb, ")");
  TensorPtr b2 = nb == 1 ? reshape(b, {kb, 1}) : b;
  const int64_t N = b2->shape[1];
  if (na == 2) {
    TensorPtr c = mm(a, b2, false, false);
    return nb == 1 ? reshape(c, {a->shape[0]}) : c;
  }
  Shape out_shape(a->shape.begin(), a->shape.end() - 1);
  TensorPtr a2 = reshape(a, {ka ? a->numel / ka : shape_numel(out_shape), ka});
  TensorPtr c = mm(a2, b2, false, false);
  if (nb == 2) out_shape.push_back(N);
  return reshape(c, out_shape);
}

TensorPtr linear(const TensorPtr& x, const TensorPtr& w, const TensorPtr& b) {
  GC_CHECK(w->ndim() == 2, ValueError, "linear: weight must be 2-D (out_features, in_features), got ",
           shape_str(w->shape));
  GC_CHECK(x->ndim() >= 1, ValueError, "linear: input must have at least one dimension");
  check_same_dtype(*x, *w, "linear");
  const int64_t in = w->shape[1], out = w->shape[0];
  GC_CHECK(x->shape.back() == in, ValueError, "linear: input ", shape_str(x->shape), " does not match weight ",
           shape_str(w->shape), " (expected last dim ", in, ")");
  if (b) {
    check_same_dtype(*x, *b, "linear");
    GC_CHECK(b->ndim() == 1 && b->shape[0] == out, ValueError, "linear: bias ", shape_str(b->shape),
             " does not match weight ", shape_str(w->shape));
  }
  Shape out_shape(x->shape.begin(), x->shape.end() - 1);
  // x as 2-D (rows, in); the reshape is recorded, so x's gradient comes back in x's shape.
  TensorPtr x2 = x->ndim() == 2 ? x : reshape(x, {shape_numel(out_shape), in});
  out_shape.push_back(out);
  TensorPtr y = empty({x2->shape[0], out}, x->dtype);
  if (b) {  // bias in every row, then C += X W^T
    dispatch(x->dtype, [&](auto z) {
      using T = decltype(z);
      int64_t shape[2] = {y->shape[0], out}, sb[2] = {0, 1}, sz[2] = {0, 0};
      T zero = T(0);
      kernels::binary<T>(BINARY_ADD, 2, shape, b->data<T>(), sb, &zero, sz, y->data<T>());
      return 0;
    });
  }
  gemm_into(*x2, *w, false, true, *y, b != nullptr);
  if (needs_record({x.get(), w.get(), b.get()})) {
    auto n = make_node<LinearBackward>({x2, w, b});
    n->x_ = SavedTensor(x2, false);
    n->w_ = SavedTensor(w, false);
    set_history(y, n);
  }
  if (out_shape == y->shape) return y;
  return reshape(y, out_shape);
}

}  // namespace gradcore::ops
