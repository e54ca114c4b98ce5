// linalg.cpp — mm with transpose flags, matmul (NumPy/PyTorch rules, batched with broadcast
// batch dims), bmm, and linear (x @ w^T + b, bias fused).
// Backward uses mm's transpose flags, so no transpose is ever materialised.
#include "autograd/ops/common.h"

namespace gradcore::ops {
using autograd::make_node;
using autograd::needs_record;
using autograd::SavedTensor;
using autograd::set_history;
using autograd::wants;

namespace {
// c = 0: the product of operands with an empty inner dimension.
void fill_zero(Tensor& c) {
  dispatch(c.dtype, [&](auto z) {
    using T = decltype(z);
    kernels::fill<T>(c.data<T>(), T(0), c.numel);
    return 0;
  });
}
}  // namespace

namespace {

// How a 2-D operand reaches GEMM without a copy: row-major rows with leading dim `ld`, or
// (flip) column-major, i.e. its transpose stored row-major. False when neither (a copy).
bool matrix_layout(int64_t r, int64_t c, int64_t s0, int64_t s1, int64_t& ld, bool& flip) {
  const int64_t rr = r > 1 ? r : 1, cc = c > 1 ? c : 1;
  if ((s1 == 1 || c == 1) && (r == 1 || s0 >= cc)) { ld = r == 1 ? cc : s0; flip = false; return true; }
  if ((s0 == 1 || r == 1) && (c == 1 || s1 >= rr)) { ld = c == 1 ? rr : s1; flip = true; return true; }
  return false;
}
bool gemm_layout(const Tensor& t, int64_t& ld, bool& flip) {
  return matrix_layout(t.shape[0], t.shape[1], t.strides[0], t.strides[1], ld, flip);
}
// The same for the matrices (last two dims) of an N-D operand.
bool batch_layout(const Tensor& t, int64_t& ld, bool& flip) {
  const size_t n = t.shape.size();
  return matrix_layout(t.shape[n - 2], t.shape[n - 1], t.strides[n - 2], t.strides[n - 1], ld, flip);
}

// C = op(A) @ op(B) (+ C when accumulate) into contiguous C; A and B of any layout: a
// transposed view goes to GEMM as a transpose flag, other strided views are copied.
void gemm_into(const TensorPtr& a_in, const TensorPtr& b_in, bool ta, bool tb, Tensor& c, bool accumulate) {
  const int64_t M = c.shape[0], N = c.shape[1];
  const int64_t K = ta ? a_in->shape[0] : a_in->shape[1];
  int64_t lda = 0, ldb = 0;
  bool fa = false, fb = false;
  TensorPtr a = gemm_layout(*a_in, lda, fa) ? a_in : dense(a_in);
  TensorPtr b = gemm_layout(*b_in, ldb, fb) ? b_in : dense(b_in);
  gemm_layout(*a, lda, fa);
  gemm_layout(*b, ldb, fb);
  dispatch(a->dtype, [&](auto z) {
    using T = decltype(z);
    kernels::gemm<T>(ta != fa, tb != fb, M, N, K, T(1), a->data<T>(), lda, b->data<T>(), ldb, accumulate ? T(1) : T(0),
                     c.data<T>(), N);
    return 0;
  });
}

// matmul's operands: float32/float64 of one dtype (float16/bfloat16 compute in float32).
void check_matmul_dtypes(const Tensor& a, const Tensor& b, const char* op) {
  GC_CHECK(is_floating(a.dtype) && is_floating(b.dtype), TypeError, op,
           ": integer and bool tensors are not supported (gradcore's GEMM is floating point); got ",
           dtype_name(a.dtype), " and ", dtype_name(b.dtype), ", convert with .float() or .double()");
  GC_CHECK(a.dtype == b.dtype, DTypeError, op, ": expected both operands to have the same dtype, but got: ",
           dtype_name(a.dtype), " != ", dtype_name(b.dtype));
}

struct MmBackward final : Node {
  SavedTensor a_, b_;
  bool ta = false, tb = false;
  const char* name() const override { return "MmBackward0"; }
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

// Linear (+ fused activation). Forward: one GEMM whose epilogue adds the bias and applies
// the activation per C tile. Backward: one pass computes gpre = g * act'(.) and
// db = sum_rows(gpre) together, then two GEMMs with transpose flags.
struct LinearBackward final : Node {
  SavedTensor x_, w_, b_, act_saved_;  // x as 2-D (rows, in); act_saved_: y, or z when the activation saves its input
  const Activation* act = nullptr;
  const char* name() const override { return "LinearBackward0"; }
  tensor_list apply(tensor_list&& g) override {
    tensor_list r(3);
    TensorPtr x = x_.unpack(this), w = w_.unpack(this);
    const TensorPtr gy = dense(g[0]);  // [rows, out]
    TensorPtr gpre, db;
    if (needs_composed({gy.get(), x.get(), w.get(), act_saved_.raw().get()})) {
      // create_graph or forward-mode tangents: the same formula from differentiable ops.
      TensorPtr sv = act ? act_saved_.unpack(this) : nullptr;
      if (act && act->saves_input) {
        // The saved pre-activation z has no history; rebuild it from x, w, b so that
        // act''(z) dz reaches x, w and b in the recorded backward.
        TensorPtr b = b_.unpack(this);
        sv = mm(x, w, false, true);
        if (b) sv = add(sv, b);
      }
      gpre = act ? act->grad(gy, sv) : gy;
      if (wants(*this, 2)) db = sum(gpre, {0}, false);
    } else {
      TensorPtr sv = act ? act_saved_.unpack(this) : nullptr;
      gpre = act ? empty(gy->shape, gy->dtype) : gy;
      if (wants(*this, 2)) db = empty({gy->shape[1]}, gy->dtype);
      if (act || db) {
        dispatch(gy->dtype, [&](auto z) {
          using T = decltype(z);
          kernels::linear_act_backward<T>(act ? act->backward : -1, gy->data<T>(), sv ? sv->data<T>() : nullptr, gpre->data<T>(),
                                          db ? db->data<T>() : nullptr, gy->shape[0], gy->shape[1]);
          return 0;
        });
      }
    }
    if (wants(*this, 0)) r[0] = mm(gpre, w, false, false);   // [rows, in]  = [rows, out] x [out, in]
    if (wants(*this, 1)) r[1] = mm(gpre, x, true, false);    // [out, in]   = [rows, out]^T x [rows, in]
    r[2] = db;                                               // [out]
    return r;
  }
  void release_saved() override { x_.reset(); w_.reset(); b_.reset(); act_saved_.reset(); }
  std::vector<std::pair<std::string, TensorPtr>> saved_tensors() const override {
    return {{"input", x_.raw()}, {"weight", w_.raw()}, {"activation", act_saved_.raw()}};
  }
};

// Note [Batched matmul]: C[..., M, N] = A[..., M, K] @ B[..., K, N] over the broadcast of
// the batch dims. The batch is one gemm_batched call over per-matrix pointers: a batch dim
// of size 1 (or missing) reuses the same matrix (offset stride 0, never expanded in
// memory), and matrices stored transposed (a .transpose(-1, -2) view) reach GEMM as a
// transpose flag. Backward: dA = sum_to(G @ B^T, A.shape), dB = sum_to(A^T @ G, B.shape),
// the same op on transposed views (flags again), composed, so create_graph works.
TensorPtr batched_matmul(const TensorPtr& a, const TensorPtr& b);

struct BmmBackward final : Node {
  SavedTensor a_, b_;
  Shape a_shape, b_shape;
  const char* name() const override { return "BmmBackward0"; }
  tensor_list apply(tensor_list&& g) override {
    tensor_list r(2);
    if (wants(*this, 0)) r[0] = sum_to(batched_matmul(g[0], transpose(b_.unpack(this), -1, -2)), a_shape);
    if (wants(*this, 1)) r[1] = sum_to(batched_matmul(transpose(a_.unpack(this), -1, -2), g[0]), b_shape);
    return r;
  }
  void release_saved() override { a_.reset(); b_.reset(); }
  std::vector<std::pair<std::string, TensorPtr>> saved_tensors() const override { return {{"self", a_.raw()}, {"mat2", b_.raw()}}; }
};

// Element strides of t's batch dims (all but the last two) aligned to the broadcast batch
// shape `batch`: 0 where t has no such dim or a size-1 one.
std::vector<int64_t> batch_strides(const Tensor& t, const Shape& batch) {
  const int64_t nb = static_cast<int64_t>(batch.size()), nt = t.ndim() - 2;
  std::vector<int64_t> st(batch.size(), 0);
  for (int64_t i = 0; i < nt; ++i) {
    const int64_t d = nb - nt + i;
    st[d] = t.shape[i] == 1 ? 0 : t.strides[i];
  }
  return st;
}

TensorPtr batched_matmul(const TensorPtr& a_in, const TensorPtr& b_in) {
  const int64_t na = a_in->ndim(), nb = b_in->ndim();
  const int64_t M = a_in->shape[na - 2], K = a_in->shape[na - 1], Kb = b_in->shape[nb - 2], N = b_in->shape[nb - 1];
  const Shape ba(a_in->shape.begin(), a_in->shape.end() - 2), bb(b_in->shape.begin(), b_in->shape.end() - 2);
  Shape batch = broadcast_shapes(ba, bb, "matmul");
  GC_CHECK(K == Kb, ShapeError, "Expected size for first two dimensions of batch2 tensor to be: [",
           shape_numel(batch), ", ", K, "] but got: [", shape_numel(batch), ", ", Kb, "]. (matmul: ",
           shape_str(a_in->shape), " @ ", shape_str(b_in->shape), ")");
  Shape out_shape = batch;
  out_shape.push_back(M);
  out_shape.push_back(N);
  TensorPtr c = empty(out_shape, a_in->dtype);
  if (c->numel && K == 0) {
    fill_zero(*c);  // an empty sum
  } else if (c->numel) {
    int64_t lda = 0, ldb = 0;
    bool fa = false, fb = false;
    TensorPtr a = batch_layout(*a_in, lda, fa) ? a_in : dense(a_in);
    TensorPtr b = batch_layout(*b_in, ldb, fb) ? b_in : dense(b_in);
    batch_layout(*a, lda, fa);
    batch_layout(*b, ldb, fb);
    const int64_t nbatch = shape_numel(batch), nd = static_cast<int64_t>(batch.size());
    const std::vector<int64_t> sa = batch_strides(*a, batch), sb = batch_strides(*b, batch);
    std::vector<int64_t> ao(nbatch), bo(nbatch), idx(batch.size(), 0);
    int64_t oa = 0, ob = 0;
    for (int64_t i = 0; i < nbatch; ++i) {  // odometer over the batch index, last dim fastest
      ao[i] = oa;
      bo[i] = ob;
      for (int64_t d = nd - 1; d >= 0; --d) {
        oa += sa[d];
        ob += sb[d];
        if (++idx[d] < batch[d]) break;
        oa -= sa[d] * batch[d];
        ob -= sb[d] * batch[d];
        idx[d] = 0;
      }
    }
    dispatch(c->dtype, [&](auto z) {
      using T = decltype(z);
      kernels::gemm_batched<T>(fa, fb, M, N, K, T(1), a->data<T>(), lda, ao.data(), b->data<T>(), ldb, bo.data(),
                               T(0), c->data<T>(), N, M * N, nbatch);
      return 0;
    });
  }
  forward_rule(c, {a_in.get(), b_in.get()}, [&] {  // d(A B) = dA B + A dB
    TensorPtr da = tangent(a_in), db = tangent(b_in);
    TensorPtr l = da ? batched_matmul(da, b_in) : nullptr, r = db ? batched_matmul(a_in, db) : nullptr;
    return l && r ? add(l, r) : (l ? l : r);
  });
  if (needs_record({a_in.get(), b_in.get()})) {
    auto n = make_node<BmmBackward>({a_in, b_in});
    n->a_shape = a_in->shape;
    n->b_shape = b_in->shape;
    if (b_in->needs_grad()) n->a_ = SavedTensor(a_in, false);
    if (a_in->needs_grad()) n->b_ = SavedTensor(b_in, false);
    set_history(c, n);
  }
  return c;
}

// Whether reshape(t, {numel / last, last}) is a view (the leading dims fold into rows).
bool folds_to_rows(const Tensor& t) {
  const int64_t n = t.ndim();
  int64_t expect = t.strides[n - 1] == 1 || t.shape[n - 1] == 1 ? t.shape[n - 1] : -1;
  if (expect < 0) return false;
  for (int64_t i = n - 2; i >= 0; --i) {
    if (t.shape[i] != 1 && t.strides[i] != expect) return false;
    expect *= t.shape[i];
  }
  return true;
}

}  // namespace

TensorPtr mm(const TensorPtr& a, const TensorPtr& b, bool ta, bool tb) {
  GC_CHECK(a->ndim() == 2 && b->ndim() == 2, ShapeError, "mm: expected 2-D operands, got ", shape_str(a->shape),
           " and ", shape_str(b->shape));
  check_matmul_dtypes(*a, *b, "mm");
  if (!is_f32_or_f64(a->dtype))
    return to_dtype(mm(to_dtype(a, DType::Float32), to_dtype(b, DType::Float32), ta, tb), a->dtype);
  const int64_t M = ta ? a->shape[1] : a->shape[0], K = ta ? a->shape[0] : a->shape[1];
  const int64_t Kb = tb ? b->shape[1] : b->shape[0], N = tb ? b->shape[0] : b->shape[1];
  GC_CHECK(K == Kb, ShapeError, "mat1 and mat2 shapes cannot be multiplied (", M, "x", K, " and ", Kb, "x", N,
           "): op(a) ", shape_str({M, K}), " @ op(b) ", shape_str({Kb, N}));
  TensorPtr c = empty({M, N}, a->dtype);
  if (c->numel && K == 0) {
    fill_zero(*c);  // an empty sum
  } else if (c->numel) {
    gemm_into(a, b, ta, tb, *c, false);
  }
  forward_rule(c, {a.get(), b.get()}, [&] {  // d(op(A) op(B)) = op(dA) op(B) + op(A) op(dB)
    TensorPtr da = tangent(a), db = tangent(b);
    TensorPtr l = da ? mm(da, b, ta, tb) : nullptr, r = db ? mm(a, db, ta, tb) : nullptr;
    return l && r ? add(l, r) : (l ? l : r);
  });
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
  GC_CHECK(na >= 1 && nb >= 1, ShapeError, "both arguments to matmul need to be at least 1D, but they are ", na,
           "D and ", nb, "D");
  check_matmul_dtypes(*a, *b, "matmul");
  if (!is_f32_or_f64(a->dtype)) return to_dtype(matmul(to_dtype(a, DType::Float32), to_dtype(b, DType::Float32)), a->dtype);
  const int64_t ka = a->shape[na - 1], kb = b->shape[nb >= 2 ? nb - 2 : 0];
  if (ka != kb) {  // PyTorch's message for each case, then both shapes
    const std::string shapes = std::string("; matmul: ") + shape_str(a->shape) + " @ " + shape_str(b->shape);
    const int64_t rows = ka ? a->numel / ka : 0;
    GC_CHECK(!(na == 1 && nb == 1), ShapeError, "inconsistent tensor size, expected tensor [", ka, "] and src [", kb,
             "] to have the same number of elements, but got ", ka, " and ", kb, " elements respectively", shapes);
    GC_CHECK(!(na == 2 && nb == 1), ShapeError, "size mismatch, got input (", a->shape[0], "), mat (", a->shape[0],
             "x", ka, "), vec (", kb, ")", shapes);
    GC_CHECK(!(nb <= 2), ShapeError, "mat1 and mat2 shapes cannot be multiplied (", na == 1 ? 1 : rows, "x", ka,
             " and ", kb, "x", nb == 2 ? b->shape[1] : 1, ")", shapes);
    GC_CHECK(false, ShapeError, "Expected size for first two dimensions of batch2 tensor to be: [",
             nb > 2 ? b->shape[0] : 1, ", ", ka, "] but got: [", nb > 2 ? b->shape[0] : 1, ", ", kb, "]", shapes);
  }
  if (na == 1 && nb == 1) {
    return reshape(mm(reshape(a, {1, ka}), reshape(b, {kb, 1}), false, false), {});
  }
  if (na <= 2 && nb <= 2) {  // 1-D operands as a row (left) or a column (right), then mm
    TensorPtr c = mm(na == 1 ? reshape(a, {1, ka}) : a, nb == 1 ? reshape(b, {kb, 1}) : b, false, false);
    if (na == 1) return reshape(c, {c->shape[1]});
    return nb == 1 ? reshape(c, {c->shape[0]}) : c;
  }
  if (nb <= 2 && folds_to_rows(*a)) {
    // N-D @ 2-D (or 1-D): the leading dims fold into the rows of one GEMM (a view).
    Shape out_shape(a->shape.begin(), a->shape.end() - 1);
    TensorPtr a2 = reshape(a, {ka ? a->numel / ka : shape_numel(out_shape), ka});
    TensorPtr c = mm(a2, nb == 1 ? reshape(b, {kb, 1}) : b, false, false);
    if (nb == 2) out_shape.push_back(b->shape[1]);
    return reshape(c, out_shape);
  }
  // Batched (Note [Batched matmul]): a 1-D left operand is one row, a 1-D right one a column.
  TensorPtr c = batched_matmul(na == 1 ? unsqueeze(a, 0) : a, nb == 1 ? unsqueeze(b, 1) : b);
  if (na == 1) return squeeze(c, {-2});
  if (nb == 1) return squeeze(c, {-1});
  return c;
}

TensorPtr bmm(const TensorPtr& a, const TensorPtr& b) {
  GC_CHECK(a->ndim() == 3, ShapeError, "batch1 must be a 3D tensor");
  GC_CHECK(b->ndim() == 3, ShapeError, "batch2 must be a 3D tensor");
  check_matmul_dtypes(*a, *b, "bmm");
  GC_CHECK(b->shape[0] == a->shape[0] && b->shape[1] == a->shape[2], ShapeError,
           "Expected size for first two dimensions of batch2 tensor to be: [", a->shape[0], ", ", a->shape[2],
           "] but got: [", b->shape[0], ", ", b->shape[1], "].");
  if (!is_f32_or_f64(a->dtype)) return to_dtype(bmm(to_dtype(a, DType::Float32), to_dtype(b, DType::Float32)), a->dtype);
  return batched_matmul(a, b);
}

TensorPtr linear(const TensorPtr& x, const TensorPtr& w, const TensorPtr& b, const Activation* act) {
  GC_CHECK(w->ndim() == 2, ValueError, "linear: weight must be 2-D (out_features, in_features), got ",
           shape_str(w->shape));
  GC_CHECK(x->ndim() >= 1, ValueError, "linear: input must have at least one dimension");
  check_matmul_dtypes(*x, *w, "linear");
  if (b) check_matmul_dtypes(*x, *b, "linear");
  if (!is_f32_or_f64(x->dtype)) {
    TensorPtr y = linear(to_dtype(x, DType::Float32), to_dtype(w, DType::Float32),
                         b ? to_dtype(b, DType::Float32) : nullptr, act);
    return to_dtype(y, x->dtype);
  }
  const int64_t in = w->shape[1], out = w->shape[0];
  GC_CHECK(x->shape.back() == in, ValueError, "linear: input ", shape_str(x->shape), " does not match weight ",
           shape_str(w->shape), " (expected last dim ", in, ")");
  if (b) {
    check_same_dtype(*x, *b, "linear");
    GC_CHECK(b->ndim() == 1 && b->shape[0] == out, ValueError, "linear: bias ", shape_str(b->shape),
             " does not match weight ", shape_str(w->shape));
  }
  if (in == 0) {  // an empty product: the bias (or 0) through the activation, composed
    Shape os(x->shape.begin(), x->shape.end() - 1);
    os.push_back(out);
    TensorPtr z = b ? add(zeros(os, x->dtype), b) : zeros(os, x->dtype);
    return act ? act->op(z) : z;
  }
  Shape out_shape(x->shape.begin(), x->shape.end() - 1);
  // x as 2-D (rows, in); the reshape is recorded, so x's gradient comes back in x's shape.
  TensorPtr x2 = x->ndim() == 2 ? x : reshape(x, {shape_numel(out_shape), in});
  out_shape.push_back(out);
  // An activation whose backward needs its input (GELU, SiLU, ...) keeps the pre-activation
  // z and is applied after the GEMM; the others run in its epilogue.
  const bool is_gelu = act && act->saves_input;
  TensorPtr y = empty({x2->shape[0], out}, x->dtype);
  TensorPtr xd = dense(x2), wd = dense(w), bd = b ? dense(b) : nullptr;
  dispatch(x->dtype, [&](auto z) {
    using T = decltype(z);
    kernels::GemmEpilogue<T> ep;
    ep.bias = bd ? bd->data<T>() : nullptr;
    ep.act = !act || is_gelu ? -1 : act->forward;
    if (y->numel)
      kernels::gemm<T>(false, true, y->shape[0], out, in, T(1), xd->data<T>(), in, wd->data<T>(), in, T(0),
                       y->data<T>(), out, (ep.bias || ep.act >= 0) ? &ep : nullptr);
    return 0;
  });
  TensorPtr z_pre;
  if (is_gelu) {
    z_pre = y;
    y = empty(z_pre->shape, z_pre->dtype);
    dispatch(x->dtype, [&](auto z) {
      using T = decltype(z);
      kernels::unary<T>(act->forward, z_pre->data<T>(), y->data<T>(), y->numel);
      return 0;
    });
  }
  std::shared_ptr<LinearBackward> n;  // Note [Forward rules after set_history] (unary.cpp)
  if (needs_record({x.get(), w.get(), b.get()})) {
    n = make_node<LinearBackward>({x2, w, b});
    n->act = act;
    set_history(y, n);
  }
  forward_rule(y, {x2.get(), w.get(), b.get()}, [&] {
    // dz = dx w^T + x dw^T + db, then through the activation as LinearBackward does.
    TensorPtr tx = tangent(x2), tw = tangent(w), tb = tangent(b);
    TensorPtr dz = tx ? mm(tx, w, false, true) : nullptr;
    if (tw) dz = dz ? add(dz, mm(x2, tw, false, true)) : mm(x2, tw, false, true);
    if (tb) dz = dz ? add(dz, tb) : expand(tb, y->shape);
    // While recording, the pre-activation is recomputed in the graph (z_pre has none).
    TensorPtr z = z_pre;
    if (is_gelu && n) {
      z = mm(x2, w, false, true);
      if (b) z = add(z, b);
    }
    return act ? act->grad(dz, is_gelu ? z : y) : dz;
  });
  if (n) {
    if (w->needs_grad() || is_gelu) n->x_ = SavedTensor(x2, false);
    n->w_ = SavedTensor(w, false);
    if (is_gelu) {
      n->act_saved_ = SavedTensor(z_pre, false);
      n->b_ = SavedTensor(b, false);
    } else if (act) {
      n->act_saved_ = SavedTensor(y, true);
    }
  }
  if (out_shape == y->shape) return y;
  return reshape(y, out_shape);
}

}  // namespace gradcore::ops
