// attention.cpp — scaled_dot_product_attention (issue 16) and its Backward node. Forward and
// backward are the fused tiled kernels of kernels/attention.h; the node saves q, k, v, the
// output, the per-row logsumexp, the additive mask and the dropout stream (seed, offset),
// never the probabilities or the dropout mask.
//
// Note [Attention problems]: the output's leading dims (the broadcast of q's, k's, v's and
// the mask's, k / v heads repeated under enable_gqa) are flattened into P problems; the
// kernels read each operand of problem p at an offset into its own contiguous buffer, so a
// broadcast or shared (GQA) key is never copied. Gradients come back per problem and are
// summed to each operand's shape with ops (reduce_to).
//
// Note [Composed attention]: with create_graph, or when tangents flow, the same function is
// written with differentiable ops on (..., L, S) scores: softmax(scale q k^T + mask) (rows
// with every key masked give 0, like PyTorch's safe softmax), times the regenerated dropout
// factors, @ v; its backward is the FlashAttention formulas as ops.
#include "autograd/ops/attention.h"

#include <cmath>
#include <limits>
#include <sstream>
#include <vector>

#include "autograd/grad_mode.h"
#include "autograd/ops/common.h"
#include "kernels/attention.h"

namespace gradcore::ops {
using autograd::make_node;
using autograd::needs_record;
using autograd::SavedTensor;
using autograd::set_history;
using autograd::wants;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

const char* c10_name(DType d) {  // PyTorch's C++ type names in these messages
  switch (d) {
    case DType::Float32: return "float";
    case DType::Float64: return "double";
    case DType::Float16: return "c10::Half";
    case DType::BFloat16: return "c10::BFloat16";
    case DType::Int64: return "long int";
    case DType::Int32: return "int";
    case DType::Int16: return "short int";
    case DType::Int8: return "signed char";
    case DType::UInt8: return "unsigned char";
    case DType::Bool: return "bool";
  }
  return "?";
}

Shape batch_of(const Shape& s) { return Shape(s.begin(), s.end() - 2); }

// Broadcast of a and b (right-aligned, checked right to left as PyTorch does); `trailing`
// dims follow them in the numbering of the message.
Shape broadcast_batch(const Shape& a, const Shape& b, size_t trailing) {
  const size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t r = 0; r < n; ++r) {  // r-th dim from the right
    const int64_t da = r < a.size() ? a[a.size() - 1 - r] : 1;
    const int64_t db = r < b.size() ? b[b.size() - 1 - r] : 1;
    GC_CHECK(da == db || da == 1 || db == 1, RuntimeError, "The size of tensor a (", da,
             ") must match the size of tensor b (", db, ") at non-singleton dimension ", n - 1 - r);
    out[n - 1 - r] = da == 1 ? db : da;
  }
  (void)trailing;
  return out;
}

// Element offsets of each problem into a contiguous tensor with batch dims xb (right-aligned
// to `batch`) and `inner` elements per problem; a dim of size 1 broadcasts, and the last
// batch dim (the heads) may be a divisor of the output's (GQA: head h reads h / rep).
std::vector<int64_t> problem_offsets(const Shape& batch, const Shape& xb, int64_t inner) {
  const size_t nb = batch.size(), nx = xb.size();
  int64_t P = 1;
  for (int64_t s : batch) P *= s;
  std::vector<int64_t> stride(nb, 0);
  int64_t st = inner;
  for (size_t i = 0; i < nx; ++i) {
    const size_t dx = nx - 1 - i, d = nb - 1 - i;
    stride[d] = xb[dx] == 1 ? 0 : st;
    st *= xb[dx];
  }
  std::vector<int64_t> off(P);
  std::vector<int64_t> coord(nb, 0);
  for (int64_t p = 0; p < P; ++p) {
    int64_t o = 0;
    for (size_t d = 0; d < nb; ++d) {
      const size_t i = nb - 1 - d;
      if (i >= nx || stride[d] == 0) continue;
      const int64_t xs = xb[nx - 1 - i];
      o += (xs == batch[d] ? coord[d] : coord[d] / (batch[d] / xs)) * stride[d];
    }
    off[p] = o;
    for (size_t d = nb; d-- > 0;) {
      if (++coord[d] < batch[d]) break;
      coord[d] = 0;
    }
  }
  return off;
}

// x (..., H, S, E) with its heads repeated to Hq (repeat_interleave along -3), a view.
TensorPtr repeat_heads(const TensorPtr& x, int64_t Hq) {
  if (x->ndim() < 3) return x;
  const int64_t nd = x->ndim(), H = x->shape[nd - 3];
  if (H == Hq || H == 1) return x;
  Shape e = x->shape;
  e.insert(e.begin() + (nd - 2), Hq / H);
  Shape r = x->shape;
  r[nd - 3] = Hq;
  return reshape(expand(unsqueeze(x, nd - 2), e), r);
}

// g (batch..., R, C), the gradient of an operand of shape `shape` broadcast (and, for
// heads dividing Hq, repeated) to it: summed back, with ops.
TensorPtr reduce_to(const TensorPtr& g, const Shape& shape, int64_t Hq) {
  const int64_t nd = static_cast<int64_t>(shape.size());
  if (nd >= 3 && shape[nd - 3] != Hq && shape[nd - 3] != 1) {
    Shape rep = shape;  // the operand with Hq heads
    rep[nd - 3] = Hq;
    TensorPtr t = sum_to(g, rep);
    Shape split = shape;
    split.insert(split.begin() + (nd - 2), Hq / shape[nd - 3]);
    return sum(reshape(t, split), {nd - 2}, false);
  }
  return g->shape == shape ? g : sum_to(g, shape);
}

// The dropout factors (u >= p) / (1 - p) of the whole (batch..., L, S) score block.
TensorPtr dropout_factors(const Shape& shape, DType d, double p, uint64_t seed, uint64_t offset) {
  TensorPtr z = empty(shape, d);
  dispatch(d, [&](auto zz) {
    using T = decltype(zz);
    T* zp = z->data<T>();
    const int64_t n = z->numel;
    kernels::rng_uniform<T>(zp, n, seed, offset, T(0), T(1));
    const T pt = static_cast<T>(p), keep = static_cast<T>(1.0 / (1.0 - p));
    for (int64_t i = 0; i < n; ++i) zp[i] = zp[i] >= pt ? keep : T(0);
    return 0;
  });
  return z;
}

TensorPtr causal_additive(int64_t L, int64_t S, DType d) {
  TensorPtr m = zeros({L, S}, d);
  dispatch(d, [&](auto zz) {
    using T = decltype(zz);
    T* mp = m->data<T>();
    for (int64_t i = 0; i < L; ++i)
      for (int64_t j = i + 1; j < S; ++j) mp[i * S + j] = -std::numeric_limits<T>::infinity();
    return 0;
  });
  return m;
}

struct Config {
  Shape batch;  // the output's leading dims
  int64_t P = 0, L = 0, S = 0, E = 0, Ev = 0, Hq = 0;
  double scale = 1, dropout_p = 0;
  bool causal = false;
  uint64_t seed = 0, offset = 0;
  int64_t m_ld = 0;
  std::vector<int64_t> q_off, k_off, v_off, m_off;
};

struct Probs {
  TensorPtr p, pz;  // softmax (safe) and times the dropout factors
};

// Note [Composed attention]: the probabilities from ops.
Probs composed_probs(const TensorPtr& q, const TensorPtr& ke, const TensorPtr& madd, const Config& c,
                     const TensorPtr& z) {
  TensorPtr s = mul_scalar(matmul(q, transpose(ke, -2, -1)), c.scale);
  if (madd) s = add(s, madd);
  if (c.causal) s = add(s, causal_additive(c.L, c.S, q->dtype));
  TensorPtr dead;
  {
    autograd::GradModeGuard off(false);
    dead = compare(CmpOp::EQ, amax(detach(s), {-1}, true), Scalar::of(-kInf));
  }
  s = masked_fill(s, dead, Scalar::of(0.0));
  Probs r;
  r.p = masked_fill(softmax(s, -1), dead, Scalar::of(0.0));
  r.pz = z ? mul(r.p, z) : r.p;
  return r;
}

template <class T>
void fill_problem(kernels::AttnProblem<T>& a, const Config& c, const TensorPtr& q, const TensorPtr& k,
                  const TensorPtr& v, const TensorPtr& madd) {
  a.P = c.P; a.L = c.L; a.S = c.S; a.E = c.E; a.Ev = c.Ev;
  a.q = q->data<T>(); a.k = k->data<T>(); a.v = v->data<T>();
  a.mask = madd ? madd->data<T>() : nullptr;
  a.q_off = c.q_off.data(); a.k_off = c.k_off.data(); a.v_off = c.v_off.data();
  a.m_off = madd ? c.m_off.data() : nullptr;
  a.m_ld = c.m_ld;
  a.scale = c.scale; a.causal = c.causal;
  a.dropout_p = c.dropout_p; a.seed = c.seed; a.offset = c.offset;
}

struct SdpaBackward final : Node {
  SavedTensor q_, k_, v_, out_, lse_, mask_;
  Config c;
  const char* name() const override { return "ScaledDotProductFlashAttentionForCpuBackward0"; }
  tensor_list apply(tensor_list&& g) override {
    tensor_list r(3);
    TensorPtr q = q_.unpack(this), k = k_.unpack(this), v = v_.unpack(this);
    TensorPtr madd = mask_.unpack(this);
    const bool wq = wants(*this, 0), wk = wants(*this, 1), wv = wants(*this, 2);
    const DType d = q->dtype;
    TensorPtr gd = g[0];
    if (!gd) return r;
    Shape full_q = c.batch, full_k = c.batch, full_v = c.batch;
    full_q.push_back(c.L); full_q.push_back(c.E);
    full_k.push_back(c.S); full_k.push_back(c.E);
    full_v.push_back(c.S); full_v.push_back(c.Ev);
    if (needs_composed({gd.get(), q.get(), k.get(), v.get()})) {
      TensorPtr ke = repeat_heads(k, c.Hq), ve = repeat_heads(v, c.Hq);
      Shape zs = c.batch;
      zs.push_back(c.L); zs.push_back(c.S);
      TensorPtr z = c.dropout_p > 0 ? dropout_factors(zs, d, c.dropout_p, c.seed, c.offset) : nullptr;
      Probs pr = composed_probs(q, ke, madd, c, z);
      TensorPtr gg = to_dtype(gd, d);
      if (wv) r[2] = reduce_to(matmul(transpose(pr.pz, -2, -1), gg), v->shape, c.Hq);
      if (wq || wk) {
        TensorPtr dp = matmul(gg, transpose(ve, -2, -1));
        if (z) dp = mul(dp, z);
        TensorPtr ds = mul(pr.p, sub(dp, sum(mul(dp, pr.p), {-1}, true)));
        if (wq) r[0] = reduce_to(mul_scalar(matmul(ds, ke), c.scale), q->shape, c.Hq);
        if (wk) r[1] = reduce_to(mul_scalar(matmul(transpose(ds, -2, -1), q), c.scale), k->shape, c.Hq);
      }
      return r;
    }
    TensorPtr out = out_.unpack(this), lse = lse_.unpack(this);
    TensorPtr gc = contiguous(to_dtype(gd, d));
    if (gc->shape != out->shape) gc = contiguous(expand(gc, out->shape));
    TensorPtr dq = wq ? empty(full_q, d) : nullptr;
    TensorPtr dk = wk ? empty(full_k, d) : nullptr;
    TensorPtr dv = wv ? empty(full_v, d) : nullptr;
    dispatch(d, [&](auto zz) {
      using T = decltype(zz);
      kernels::AttnProblem<T> a;
      fill_problem(a, c, q, k, v, madd);
      kernels::attention_backward<T>(a, gc->data<T>(), out->data<T>(), lse->data<T>(), dq ? dq->data<T>() : nullptr,
                                     dk ? dk->data<T>() : nullptr, dv ? dv->data<T>() : nullptr);
      return 0;
    });
    if (dq) r[0] = reduce_to(dq, q->shape, c.Hq);
    if (dk) r[1] = reduce_to(dk, k->shape, c.Hq);
    if (dv) r[2] = reduce_to(dv, v->shape, c.Hq);
    return r;
  }
  void release_saved() override { q_.reset(); k_.reset(); v_.reset(); out_.reset(); lse_.reset(); mask_.reset(); }
  std::vector<std::pair<std::string, TensorPtr>> saved_tensors() const override {
    return {{"query", q_.raw()}, {"key", k_.raw()}, {"value", v_.raw()}, {"output", out_.raw()},
            {"logsumexp", lse_.raw()}};
  }
};

// float32 / float64 q, k, v (contiguous, same dtype), checked; madd: the additive mask
// (contiguous (mask batch..., Lm, S)) or null.
TensorPtr sdpa_impl(const TensorPtr& q, const TensorPtr& k, const TensorPtr& v, const TensorPtr& madd, Config c) {
  const DType d = q->dtype;
  Shape out_shape = c.batch;
  out_shape.push_back(c.L); out_shape.push_back(c.Ev);
  if (autograd::fw::any_tangent({q.get(), k.get(), v.get()})) {
    Shape zs = c.batch;
    zs.push_back(c.L); zs.push_back(c.S);
    TensorPtr z;
    if (c.dropout_p > 0) {
      c.offset = rng_reserve(kernels::rng_blocks(shape_numel(zs)), &c.seed);
      z = dropout_factors(zs, d, c.dropout_p, c.seed, c.offset);
    }
    Probs pr = composed_probs(q, repeat_heads(k, c.Hq), madd, c, z);
    TensorPtr o = matmul(pr.pz, repeat_heads(v, c.Hq));
    return o->shape == out_shape ? o : expand(o, out_shape);
  }
  if (c.dropout_p > 0 && c.P * c.L * c.S > 0)
    c.offset = rng_reserve(kernels::rng_blocks(c.P * c.L * c.S), &c.seed);
  TensorPtr out = empty(out_shape, d);
  TensorPtr lse = empty({c.P, c.L}, d);
  dispatch(d, [&](auto zz) {
    using T = decltype(zz);
    kernels::AttnProblem<T> a;
    fill_problem(a, c, q, k, v, madd);
    kernels::attention_forward<T>(a, out->data<T>(), lse->data<T>());
    return 0;
  });
  if (needs_record({q.get(), k.get(), v.get()})) {
    auto n = make_node<SdpaBackward>({q, k, v});
    n->c = std::move(c);
    n->q_ = SavedTensor(q, false);
    n->k_ = SavedTensor(k, false);
    n->v_ = SavedTensor(v, false);
    if (madd) n->mask_ = SavedTensor(madd, false);
    set_history(out, n);
    n->out_ = SavedTensor(out, true);
    n->lse_ = SavedTensor(lse, false);
  }
  return out;
}

}  // namespace

TensorPtr scaled_dot_product_attention(const TensorPtr& q_in, const TensorPtr& k_in, const TensorPtr& v_in,
                                       const TensorPtr& attn_mask, double dropout_p, bool is_causal,
                                       const double* scale, bool enable_gqa) {
  GC_CHECK(q_in->dtype == k_in->dtype && q_in->dtype == v_in->dtype, RuntimeError,
           "Expected query, key, and value to have the same dtype, but got query.dtype: ", c10_name(q_in->dtype),
           " key.dtype: ", c10_name(k_in->dtype), " and value.dtype: ", c10_name(v_in->dtype), " instead.");
  GC_CHECK(q_in->ndim() >= 2 && k_in->ndim() >= 2 && v_in->ndim() >= 2, RuntimeError,
           "Expected query, key, and value to all be  at least 2 dimensional, but got query.dim: ", q_in->ndim(),
           " key.dim: ", k_in->ndim(), " and value.dim: ", v_in->ndim(), " instead.");
  GC_CHECK(is_floating(q_in->dtype), RuntimeError, "expected scalar type Float but found ",
           dtype_torch_name(q_in->dtype));
  if (attn_mask) {
    const DType md = attn_mask->dtype;
    GC_CHECK(md == DType::Bool || md == DType::Float32 || md == q_in->dtype, RuntimeError,
             "Expected attn_mask dtype to be bool or float or to match query dtype, but got attn_mask.dtype: ",
             c10_name(md), " and  query.dtype: ", c10_name(q_in->dtype), " instead.");
    GC_CHECK(!is_causal, RuntimeError,
             "_scaled_dot_product_attention: Explicit attn_mask should not be set when is_causal=True");
  }
  {
    std::ostringstream os;
    os << dropout_p;
    GC_CHECK(dropout_p >= 0.0 && dropout_p <= 1.0, RuntimeError,
             "dropout probability has to be between 0 and 1, but got ", os.str());
  }
  const int64_t qd = q_in->ndim(), kd = k_in->ndim(), vd = v_in->ndim();
  Config c;
  c.L = q_in->shape[qd - 2];
  c.E = q_in->shape[qd - 1];
  c.S = k_in->shape[kd - 2];
  c.Ev = v_in->shape[vd - 1];
  Shape qb = batch_of(q_in->shape), kb = batch_of(k_in->shape), vb = batch_of(v_in->shape);
  c.Hq = qd >= 3 ? q_in->shape[qd - 3] : 1;
  if (enable_gqa && qd >= 3 && kd >= 3 && vd >= 3) {
    const int64_t Hk = kb.back(), Hv = vb.back();
    GC_CHECK(Hk > 0 && Hv > 0 && c.Hq % Hk == 0 && c.Hq % Hv == 0, RuntimeError,
             "Number of heads in key and value must divide the number of heads in ");
    kb.back() = c.Hq;  // repeated (Note [Attention problems])
    vb.back() = c.Hq;
  }
  c.batch = broadcast_batch(broadcast_batch(qb, kb, 2), vb, 2);
  Shape mb;
  if (attn_mask) {
    GC_CHECK(attn_mask->ndim() >= 2, IndexError, "Dimension out of range (expected to be in range of [-1, 0], but got -2)");
    Shape scores = c.batch;
    scores.push_back(c.L); scores.push_back(c.S);
    broadcast_batch(scores, attn_mask->shape, 0);
    mb = batch_of(attn_mask->shape);
    c.batch = broadcast_batch(c.batch, mb, 2);
  }
  c.P = shape_numel(c.batch);
  GC_CHECK(k_in->shape[kd - 1] == c.E, RuntimeError, "Expected size for first two dimensions of batch2 tensor to be: [",
           c.P, ", ", c.E, "] but got: [", c.P, ", ", k_in->shape[kd - 1], "].");
  GC_CHECK(v_in->shape[vd - 2] == c.S, RuntimeError, "Expected size for first two dimensions of batch2 tensor to be: [",
           c.P, ", ", c.S, "] but got: [", c.P, ", ", v_in->shape[vd - 2], "].");
  c.scale = scale ? *scale : 1.0 / std::sqrt(static_cast<double>(c.E));
  c.causal = is_causal;
  c.dropout_p = dropout_p;
  return float_op(q_in, [&](const TensorPtr& qf) {
    const DType d = qf->dtype;
    TensorPtr q = contiguous(qf), k = contiguous(to_dtype(k_in, d)), v = contiguous(to_dtype(v_in, d));
    TensorPtr madd;
    if (attn_mask) {
      autograd::GradModeGuard off(false);
      TensorPtr m = detach(attn_mask);
      TensorPtr a = m->dtype == DType::Bool ? masked_fill(zeros(m->shape, d), logical_not(m), Scalar::of(-kInf))
                                            : to_dtype(m, d);
      Shape ms = mb;
      const int64_t Lm = m->shape[m->ndim() - 2];
      ms.push_back(Lm); ms.push_back(c.S);
      madd = contiguous(expand(a, ms));
      c.m_ld = Lm == 1 ? 0 : c.S;
      c.m_off = problem_offsets(c.batch, mb, Lm * c.S);
    }
    Config cc = c;
    cc.q_off = problem_offsets(c.batch, batch_of(q->shape), c.L * c.E);
    cc.k_off = problem_offsets(c.batch, batch_of(k->shape), c.S * c.E);
    cc.v_off = problem_offsets(c.batch, batch_of(v->shape), c.S * c.Ev);
    return sdpa_impl(q, k, v, madd, std::move(cc));
  });
}

}  // namespace gradcore::ops
