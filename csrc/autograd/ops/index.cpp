// index.cpp — advanced indexing: x[idx...] with integer index tensors (a gather), its
// backward and x[idx...] = v (index_put, with accumulate), nonzero (bool masks -> indices).
//
// Note [Advanced indexing]: `idx` has one entry per leading dim of x: null for a full slice
// (":"), else an integer tensor. The index tensors broadcast to one shape B. If they are
// adjacent (no ":" between them) the result is x.shape[:first] + B + x.shape[last+1:],
// otherwise B + the ":" dims (NumPy's and PyTorch's rule). Each position b of B selects the
// element offset sum_k idx_k[b] * stride_k (negative indices count from the end; out of
// range is an IndexError naming the index and the size); the ":" dims are copied as blocks.
// The backward is index_put with accumulate: repeated indices sum. It is race-free and
// deterministic: threads split the ":" block, never the index positions.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "autograd/ops/common.h"
#include "cpu/parallel.h"

namespace gradcore::ops {
using autograd::make_node;
using autograd::needs_record;
using autograd::set_history;

namespace {

// The geometry shared by index and index_put.
struct IndexPlan {
  Shape out_shape;                 // result shape
  Shape bshape;                    // broadcast index shape B
  std::vector<int64_t> offsets;    // element offset (in x's strides) of each b in B
  // The ":" dims: before B (pre) and after (post), with x's sizes and strides.
  Shape pre_shape, pre_strides, post_shape, post_strides;
};

IndexPlan plan_index(const Tensor& x, const std::vector<TensorPtr>& idx) {
  GC_CHECK(idx.size() <= x.shape.size(), IndexError, "too many indices for tensor of dimension ", x.ndim(),
           " (got ", idx.size(), ")");
  IndexPlan p;
  int first = -1, last = -1;
  bool adjacent = true;
  for (size_t k = 0; k < idx.size(); ++k) {
    if (!idx[k]) continue;
    GC_CHECK(idx[k]->dtype == DType::Int64 || idx[k]->dtype == DType::Int32, IndexError,
             "tensors used as indices must be long, int, byte or bool tensors");
    if (first < 0) first = static_cast<int>(k);
    else if (last != static_cast<int>(k) - 1) adjacent = false;
    last = static_cast<int>(k);
    if (k == static_cast<size_t>(first)) {
      p.bshape = idx[k]->shape;
      continue;
    }
    try {
      p.bshape = broadcast_shapes(p.bshape, idx[k]->shape, "index");
    } catch (const ShapeError&) {  // PyTorch's type and message
      std::string shapes;
      for (const TensorPtr& t : idx) {
        if (!t) continue;
        std::string sh = "[";
        for (size_t i = 0; i < t->shape.size(); ++i) sh += (i ? ", " : "") + std::to_string(t->shape[i]);
        shapes += (shapes.empty() ? "" : ", ") + sh + "]";
      }
      throw IndexError("shape mismatch: indexing tensors could not be broadcast together with shapes " + shapes);
    }
  }
  GC_CHECK(first >= 0, RuntimeError, "internal: index() without an index tensor");
  // Offsets of every b: sum over indexed dims of idx_k[b] * stride_k, bounds checked.
  const int64_t nb = shape_numel(p.bshape);
  p.offsets.assign(nb, 0);
  for (size_t k = 0; k < idx.size(); ++k) {
    if (!idx[k]) continue;
    const int64_t size = x.shape[k], stride = x.strides[k];
    TensorPtr ik = to_dtype(idx[k], DType::Int64);
    TensorPtr e = dense(expand(ik, p.bshape));
    const int64_t* v = e->data<int64_t>();
    int64_t bad = 0;
    bool ok = true;
    for (int64_t b = 0; b < nb; ++b) {
      int64_t i = v[b];
      if (i < -size || i >= size) { ok = false; bad = i; break; }
      p.offsets[b] += (i < 0 ? i + size : i) * stride;
    }
    GC_CHECK(ok, IndexError, "index ", bad, " is out of bounds for dimension ", k, " with size ", size);
  }
  // The ":" dims.
  for (size_t d = 0; d < x.shape.size(); ++d) {
    if (d < idx.size() && idx[d]) continue;
    const bool before = adjacent && static_cast<int>(d) < first;
    (before ? p.pre_shape : p.post_shape).push_back(x.shape[d]);
    (before ? p.pre_strides : p.post_strides).push_back(x.strides[d]);
  }
  p.out_shape = p.pre_shape;
  p.out_shape.insert(p.out_shape.end(), p.bshape.begin(), p.bshape.end());
  p.out_shape.insert(p.out_shape.end(), p.post_shape.begin(), p.post_shape.end());
  shape_numel(p.out_shape);
  return p;
}

// Offsets (in elements) of every index of a strided block, in row-major order.
std::vector<int64_t> block_offsets(const Shape& shape, const Shape& strides) {
  std::vector<int64_t> out(static_cast<size_t>(shape_numel(shape)), 0);
  const int nd = static_cast<int>(shape.size());
  std::vector<int64_t> i(nd, 0);
  int64_t off = 0;
  for (size_t n = 0; n < out.size(); ++n) {
    out[n] = off;
    for (int d = nd - 1; d >= 0; --d) {
      off += strides[d];
      if (++i[d] < shape[d]) break;
      off -= strides[d] * shape[d];
      i[d] = 0;
    }
  }
  return out;
}

// Calls f(x_offset, out_index) for every result element, grouped so that each call covers
// one contiguous run of the post block: f(xo, oi, run_stride, run_len).
template <class F>
void for_each_gather(const IndexPlan& p, F&& f, bool parallel_over_post) {
  const std::vector<int64_t> pre = block_offsets(p.pre_shape, p.pre_strides);
  // The post block as runs along its last dim.
  Shape post_outer = p.post_shape, post_outer_st = p.post_strides;
  int64_t run_len = 1, run_stride = 1;
  if (!post_outer.empty()) {
    run_len = post_outer.back();
    run_stride = post_outer_st.back();
    post_outer.pop_back();
    post_outer_st.pop_back();
  }
  const std::vector<int64_t> post = block_offsets(post_outer, post_outer_st);
  const int64_t npre = static_cast<int64_t>(pre.size()), nb = static_cast<int64_t>(p.offsets.size());
  const int64_t npost = static_cast<int64_t>(post.size());
  const int64_t rows = npre * nb;
  if (!parallel_over_post) {
    cpu::parallel_range(rows, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, npost * run_len)),
                        [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const int64_t a = r / nb, b = r % nb;
        const int64_t base = pre[a] + p.offsets[b];
        for (int64_t q = 0; q < npost; ++q) f(base + post[q], (r * npost + q) * run_len, run_stride, 0, run_len);
      }
    });
    return;
  }
  // Accumulation: rows in order inside each thread; threads take disjoint parts of each run.
  cpu::parallel_range(run_len, 64, [&](int64_t c0, int64_t c1) {
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t a = r / nb, b = r % nb;
      const int64_t base = pre[a] + p.offsets[b];
      for (int64_t q = 0; q < npost; ++q) f(base + post[q], (r * npost + q) * run_len, run_stride, c0, c1);
    }
  });
}

TensorPtr index_forward(const TensorPtr& x, const IndexPlan& p) {
  TensorPtr out = empty(p.out_shape, x->dtype);
  if (out->numel == 0) return out;
  const size_t es = dtype_size(x->dtype);
  const char* src = static_cast<const char*>(x->data_ptr());
  char* dst = static_cast<char*>(out->data_ptr());
  for_each_gather(p, [&](int64_t xo, int64_t oi, int64_t rs, int64_t c0, int64_t c1) {
    if (rs == 1) {
      std::memcpy(dst + (oi + c0) * es, src + (xo + c0) * static_cast<int64_t>(es), (c1 - c0) * es);
    } else {
      for (int64_t c = c0; c < c1; ++c) std::memcpy(dst + (oi + c) * es, src + (xo + c * rs) * static_cast<int64_t>(es), es);
    }
  }, false);
  return out;
}

// dst[plan positions] (= or +=) values (already broadcast to the plan's result shape, contiguous).
void index_put_into(const TensorPtr& dst, const IndexPlan& p, const TensorPtr& values, bool accumulate) {
  if (values->numel == 0) return;
  if (!accumulate) {
    const size_t es = dtype_size(dst->dtype);
    char* d = static_cast<char*>(dst->data_ptr());
    const char* s = static_cast<const char*>(values->data_ptr());
    // Serial over index positions: with repeated indices the last write wins, deterministically.
    const std::vector<int64_t> pre = block_offsets(p.pre_shape, p.pre_strides);
    Shape po = p.post_shape, pst = p.post_strides;
    const std::vector<int64_t> post = block_offsets(po, pst);
    const int64_t nb = static_cast<int64_t>(p.offsets.size()), npost = static_cast<int64_t>(post.size());
    for (size_t a = 0; a < pre.size(); ++a)
      for (int64_t b = 0; b < nb; ++b) {
        const int64_t base = pre[a] + p.offsets[b], row = (static_cast<int64_t>(a) * nb + b) * npost;
        for (int64_t q = 0; q < npost; ++q) std::memcpy(d + (base + post[q]) * static_cast<int64_t>(es), s + (row + q) * es, es);
      }
    return;
  }
  // dispatch_all, not dispatch_arith: the 16-bit floats are 2-byte elements (summed in
  // float and rounded back each step), never read as float.
  dispatch_all(dst->dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* d = dst->data<T>();
    const T* s = values->data<T>();
    for_each_gather(p, [&](int64_t xo, int64_t oi, int64_t rs, int64_t c0, int64_t c1) {
      if constexpr (std::is_same_v<T, bool>) {
        for (int64_t c = c0; c < c1; ++c) d[xo + c * rs] = d[xo + c * rs] || s[oi + c];
      } else if constexpr (std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>) {
        for (int64_t c = c0; c < c1; ++c)
          d[xo + c * rs] = from_f64<T>(static_cast<float>(to_f64(d[xo + c * rs])) + static_cast<float>(to_f64(s[oi + c])));
      } else {
        for (int64_t c = c0; c < c1; ++c) d[xo + c * rs] = static_cast<T>(d[xo + c * rs] + s[oi + c]);
      }
    }, true);
    return 0;
  });
}

struct IndexBackward final : Node {
  std::vector<TensorPtr> idx;  // integer tensors: no grad, not modified (copied when given)
  Shape in_shape;
  const char* name() const override { return "IndexBackward0"; }
  tensor_list apply(tensor_list&& g) override { return {index_put(zeros(in_shape, g[0]->dtype), idx, g[0], true)}; }
};

struct IndexPutBackward final : Node {
  std::vector<TensorPtr> idx;
  Shape value_shape;
  bool accumulate = false;
  const char* name() const override { return accumulate ? "IndexPutBackward0" : "IndexPutBackward0"; }
  tensor_list apply(tensor_list&& g) override {
    tensor_list r(2);
    // self: the gradient, with the written positions zeroed (unless accumulated into)
    if (autograd::wants(*this, 0))
      r[0] = accumulate ? g[0] : index_put(g[0], idx, zeros({}, g[0]->dtype), false);
    if (autograd::wants(*this, 1)) r[1] = sum_to(index(g[0], idx), value_shape);
    return r;
  }
};

// Index tensors kept by a node: copies, so that a later in-place write to the user's index
// tensor cannot change the gradient.
std::vector<TensorPtr> frozen(const std::vector<TensorPtr>& idx) {
  std::vector<TensorPtr> out(idx.size());
  for (size_t k = 0; k < idx.size(); ++k)
    if (idx[k]) out[k] = clone(detach(idx[k]));
  return out;
}

}  // namespace

TensorPtr index(const TensorPtr& x, const std::vector<TensorPtr>& idx) {
  IndexPlan p = plan_index(*x, idx);
  TensorPtr out = index_forward(x, p);
  if (is_floating(x->dtype)) {
    forward_rule(out, {x.get()}, [&] { return index(tangent(x), idx); });
    if (needs_record({x.get()})) {
      auto n = make_node<IndexBackward>({x});
      n->idx = frozen(idx);
      n->in_shape = x->shape;
      set_history(out, n);
    }
  }
  return out;
}

TensorPtr index_put(const TensorPtr& x, const std::vector<TensorPtr>& idx, const TensorPtr& values_in, bool accumulate) {
  IndexPlan p = plan_index(*x, idx);
  TensorPtr values = to_dtype(values_in, x->dtype);
  GC_CHECK(broadcast_shapes(p.out_shape, values->shape, "index_put") == p.out_shape, ShapeError,
           "shape mismatch: value tensor of shape ", shape_str(values->shape),
           " cannot be broadcast to indexing result of shape ", shape_str(p.out_shape));
  TensorPtr out = empty_like_layout(*x, x->dtype);
  copy_values(out, x);
  IndexPlan po = plan_index(*out, idx);
  TensorPtr vb = empty(p.out_shape, x->dtype);
  copy_values(vb, values);
  index_put_into(out, po, vb, accumulate);
  if (is_floating(x->dtype)) {
    forward_rule(out, {x.get(), values.get()}, [&] {
      TensorPtr tx = tangent(x), tv = tangent(values);
      return index_put(tx ? tx : zeros(x->shape, x->dtype), idx, tv ? tv : zeros(values->shape, values->dtype),
                       accumulate);
    });
    if (needs_record({x.get(), values.get()})) {
      auto n = make_node<IndexPutBackward>({x, values});
      n->idx = frozen(idx);
      n->value_shape = values->shape;
      n->accumulate = accumulate;
      set_history(out, n);
    }
  }
  return out;
}

TensorPtr index_put_(const TensorPtr& x, const std::vector<TensorPtr>& idx, const TensorPtr& values, bool accumulate) {
  // Out of place only when the write is recorded; otherwise straight into x's memory.
  const bool record = inplace_records(*x, {values.get()});
  if (!record) {
    IndexPlan p = plan_index(*x, idx);
    TensorPtr v = to_dtype(values, x->dtype);
    GC_CHECK(can_cast(values->dtype, x->dtype) || !is_floating(values->dtype) || is_floating(x->dtype), RuntimeError,
             "Index put requires the source and destination dtypes match, got ", dtype_torch_name(x->dtype),
             " for the destination and ", dtype_torch_name(values->dtype), " for the source.");
    GC_CHECK(broadcast_shapes(p.out_shape, v->shape, "index_put_") == p.out_shape, ShapeError,
             "shape mismatch: value tensor of shape ", shape_str(v->shape),
             " cannot be broadcast to indexing result of shape ", shape_str(p.out_shape));
    TensorPtr vb = empty(p.out_shape, x->dtype);
    copy_values(vb, v);
    if (v->storage == x->storage) vb = clone(vb);
    check_inplace(x, "index_put_");
    index_put_into(x, p, vb, accumulate);
    return x;
  }
  return apply_inplace(x, "index_put_", [&](const TensorPtr& self) { return index_put(self, idx, values, accumulate); },
                       {values.get()});
}

std::vector<TensorPtr> nonzero_indices(const TensorPtr& mask_in) {
  TensorPtr mask = dense(mask_in->dtype == DType::Bool ? mask_in : to_dtype(mask_in, DType::Bool));
  const int nd = static_cast<int>(mask->shape.size());
  const bool* m = mask->data<bool>();
  int64_t count = 0;
  for (int64_t i = 0; i < mask->numel; ++i) count += m[i];
  std::vector<TensorPtr> out(std::max(nd, 1));
  std::vector<int64_t*> dst(out.size());
  for (size_t k = 0; k < out.size(); ++k) {
    out[k] = empty({count}, DType::Int64);
    dst[k] = out[k]->data<int64_t>();
  }
  if (nd == 0) {  // a 0-dim mask: one index 0 when true
    if (count) dst[0][0] = 0;
    return out;
  }
  std::vector<int64_t> idx(nd, 0);
  int64_t j = 0;
  for (int64_t i = 0; i < mask->numel; ++i) {
    if (m[i]) {
      for (int k = 0; k < nd; ++k) dst[k][j] = idx[k];
      ++j;
    }
    for (int k = nd - 1; k >= 0; --k) {
      if (++idx[k] < mask->shape[k]) break;
      idx[k] = 0;
    }
  }
  return out;
}

TensorPtr nonzero(const TensorPtr& x) {
  std::vector<TensorPtr> cols = nonzero_indices(x);
  const int64_t n = cols[0]->numel, nd = x->ndim();
  TensorPtr out = empty({n, nd}, DType::Int64);
  int64_t* o = out->data<int64_t>();
  for (int64_t k = 0; k < nd; ++k) {
    const int64_t* c = cols[k]->data<int64_t>();
    for (int64_t i = 0; i < n; ++i) o[i * nd + k] = c[i];
  }
  return out;
}


// =========================================================================================
// The index op family: index_select, gather, take_along_dim, scatter (src, value, reduce=),
// scatter_add, scatter_reduce, index_add, index_fill, and the masked ops (masked_fill,
// masked_select, masked_scatter), each with its Backward node and forward-mode rule, and
// the in-place forms.
//
// Note [Dim-wise index ops]: each dim-wise op walks an iteration shape S (the index's shape
// for gather/scatter, the output's for index_select/index_add/index_fill) split around
// `dim` into A = S[:dim], K = S[dim] and B = S[dim+1:]. Three operands have element strides
// over S: the destination, the source and the index (index_select's 1-D index has stride 0
// over A and B, so one index value serves a whole row). One of destination and source is
// the *indexed* operand: its position along dim is the index value times its stride along
// dim, not k. A and B are coalesced (size-1 dims dropped, neighbours merged where all three
// operands step through them as one) and B's last dim is the inner run. Reads through the
// index (gathers) write each output element once, so threads split the (a, k) rows. Writes
// through the index (scatters, index_add, index_fill) may reach one element from several k:
// threads split the (a, b) columns, and k runs in order inside a thread. Two index positions
// that reach the same element differ only in k, so every element is written by one thread
// in k order: the last write wins, sums are taken in index order, and the results are the
// same for any number of threads.
// =========================================================================================

namespace {

using autograd::SavedTensor;
using autograd::wants;

constexpr int64_t kIndexGrain = 1 << 14;  // elements per task below which one thread runs

// PyTorch prints sizes as [2, 3] in these messages.
std::string dims_str(const Shape& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

// A 0-dim tensor seen as one element of shape (1,): the geometry the index kernels walk.
TensorPtr as_1d(const TensorPtr& t) { return t->ndim() == 0 ? as_strided_alias(*t, {1}, {1}, t->offset) : t; }

bool is_index_dtype(DType d) { return d == DType::Int64 || d == DType::Int32; }

// The index as a dense int64 tensor with every value in [0, size): int32 converted, negative
// values wrapped when `wrap` (PyTorch's index_fill, take_along_dim) and otherwise out of
// range (gather, scatter, index_select, index_add), checked before any use. May return
// `index` itself (dense int64 without negatives).
TensorPtr checked_index(const TensorPtr& index, int64_t size, int64_t dim, bool wrap) {
  TensorPtr ix = dense(index->dtype == DType::Int64 ? index : to_dtype(index, DType::Int64));
  const int64_t* v = ix->data<int64_t>();
  const int64_t n = ix->numel, lo = wrap ? -size : 0;
  std::atomic<bool> bad{false}, neg{false};
  cpu::parallel_range(n, 1 << 16, [&](int64_t b, int64_t e) {
    bool ok = true, ng = false;
    for (int64_t i = b; i < e; ++i) {  // branch-free: vectorises
      ok &= (v[i] >= lo) & (v[i] < size);
      ng |= v[i] < 0;
    }
    if (!ok) bad.store(true, std::memory_order_relaxed);
    if (ng) neg.store(true, std::memory_order_relaxed);
  });
  if (bad.load()) {
    int64_t i = 0;
    while (i < n && v[i] >= lo && v[i] < size) ++i;
    throw IndexBoundsError(detail::concat("index ", v[i], " is out of bounds for dimension ", dim, " with size ", size));
  }
  if (!neg.load()) return ix;
  TensorPtr w = empty(ix->shape, DType::Int64);
  int64_t* o = w->data<int64_t>();
  for (int64_t i = 0; i < n; ++i) o[i] = v[i] < 0 ? v[i] + size : v[i];
  return w;
}

// A tensor a node keeps (an index or a mask): a copy when it is the caller's own tensor, so
// that a later in-place write to it cannot change the gradient.
TensorPtr owned(const TensorPtr& t, const TensorPtr& users) {
  return t->storage == users->storage ? clone(detach(t)) : t;
}

// Element arithmetic of the accumulating ops in every dtype: the 16-bit floats compute in
// float (rounded back each step, as PyTorch's), bool as logic, integers wrap. max/min
// propagate NaN.
template <class T>
struct Arith {
  static T add(T a, T b) { return static_cast<T>(a + b); }
  static T mul(T a, T b) { return static_cast<T>(a * b); }
  static T max(T a, T b) {
    if constexpr (std::is_floating_point_v<T>) {
      if (a != a) return a;
      if (b != b) return b;
    }
    return a < b ? b : a;
  }
  static T min(T a, T b) {
    if constexpr (std::is_floating_point_v<T>) {
      if (a != a) return a;
      if (b != b) return b;
    }
    return b < a ? b : a;
  }
  // v / count (mean): floor division for integers, as PyTorch's scatter_reduce.
  static T div(T v, int64_t c) {
    if constexpr (std::is_floating_point_v<T>) {
      return static_cast<T>(v / static_cast<T>(c));
    } else {
      int64_t q = static_cast<int64_t>(v) / c, r = static_cast<int64_t>(v) % c;
      if (r != 0 && ((r < 0) != (c < 0))) --q;
      return static_cast<T>(q);
    }
  }
};
template <>
struct Arith<bool> {
  static bool add(bool a, bool b) { return a || b; }
  static bool mul(bool a, bool b) { return a && b; }
  static bool max(bool a, bool b) { return a || b; }
  static bool min(bool a, bool b) { return a && b; }
  static bool div(bool v, int64_t) { return v; }
};
template <class H>
struct Arith16 {
  static float f(H v) { return static_cast<float>(to_f64(v)); }
  static H h(float v) { return from_f64<H>(v); }
  static H add(H a, H b) { return h(f(a) + f(b)); }
  static H mul(H a, H b) { return h(f(a) * f(b)); }
  static H max(H a, H b) { return h(Arith<float>::max(f(a), f(b))); }
  static H min(H a, H b) { return h(Arith<float>::min(f(a), f(b))); }
  static H div(H v, int64_t c) { return h(f(v) / static_cast<float>(c)); }
};
template <> struct Arith<Half> : Arith16<Half> {};
template <> struct Arith<BFloat16> : Arith16<BFloat16> {};

// The same byte-width unsigned type for copies (the copying ops move bits, any dtype).
template <class F>
auto dispatch_bytes(size_t es, F&& f) {
  switch (es) {
    case 1: return f(Tag<uint8_t>{});
    case 2: return f(Tag<uint16_t>{});
    case 4: return f(Tag<uint32_t>{});
    default: return f(Tag<uint64_t>{});
  }
}

// ---- the walk (see Note [Dim-wise index ops]) ----
// Operand 0 is the destination, 1 the source, 2 the index; strides in elements.
struct DimWalk {
  int64_t na = 1, K = 0, nbo = 1, run = 1;
  Shape a_shape, bo_shape;
  Shape a_st[3], bo_st[3];
  int64_t k_st[3] = {0, 0, 0}, run_st[3] = {0, 0, 0};
  bool empty() const { return na == 0 || K == 0 || nbo == 0 || run == 0; }
};

void coalesce(const Shape& shape, const Shape* st, size_t lo, size_t hi, Shape& out, Shape* out_st) {
  for (size_t d = lo; d < hi; ++d) {
    if (shape[d] == 1) continue;
    bool merge = !out.empty();
    for (int k = 0; k < 3 && merge; ++k) merge = out_st[k].back() == st[k][d] * shape[d];
    if (merge) {
      out.back() *= shape[d];
      for (int k = 0; k < 3; ++k) out_st[k].back() = st[k][d];
    } else {
      out.push_back(shape[d]);
      for (int k = 0; k < 3; ++k) out_st[k].push_back(st[k][d]);
    }
  }
}

DimWalk make_walk(const Shape& shape, int64_t dim, const Shape (&st)[3]) {
  DimWalk w;
  coalesce(shape, st, 0, static_cast<size_t>(dim), w.a_shape, w.a_st);
  w.K = shape[dim];
  for (int k = 0; k < 3; ++k) w.k_st[k] = st[k][dim];
  coalesce(shape, st, static_cast<size_t>(dim) + 1, shape.size(), w.bo_shape, w.bo_st);
  if (!w.bo_shape.empty()) {
    w.run = w.bo_shape.back();
    w.bo_shape.pop_back();
    for (int k = 0; k < 3; ++k) {
      w.run_st[k] = w.bo_st[k].back();
      w.bo_st[k].pop_back();
    }
  }
  for (int64_t s : w.a_shape) w.na *= s;
  for (int64_t s : w.bo_shape) w.nbo *= s;
  return w;
}

inline int64_t offset_of(int64_t lin, const Shape& shape, const Shape& st) {
  int64_t o = 0;
  for (size_t d = shape.size(); d-- > 0;) {
    o += (lin % shape[d]) * st[d];
    lin /= shape[d];
  }
  return o;
}

// Gathers: threads over the (a, k) rows; body(o_dst, o_src, o_index, n) per run.
template <class Body>
void walk_rows(const DimWalk& w, Body&& body) {
  if (w.empty()) return;
  const int64_t rows = w.na * w.K, per_row = w.nbo * w.run;
  cpu::parallel_range(rows, std::max<int64_t>(1, kIndexGrain / per_row), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t a = r / w.K, k = r % w.K;
      int64_t o[3];
      for (int j = 0; j < 3; ++j) o[j] = offset_of(a, w.a_shape, w.a_st[j]) + k * w.k_st[j];
      for (int64_t bo = 0; bo < w.nbo; ++bo)
        body(o[0] + offset_of(bo, w.bo_shape, w.bo_st[0]), o[1] + offset_of(bo, w.bo_shape, w.bo_st[1]),
             o[2] + offset_of(bo, w.bo_shape, w.bo_st[2]), w.run);
    }
  });
}

// Scatters: threads over a, or over the b columns when A is too small to share; k in order.
template <class Body>
void walk_cols(const DimWalk& w, Body&& body) {
  if (w.empty()) return;
  const int64_t cols = w.nbo * w.run;
  const int64_t nt = cpu::get_num_threads();
  if (w.na >= nt || cols < 256) {
    cpu::parallel_range(w.na, std::max<int64_t>(1, kIndexGrain / (w.K * cols)), [&](int64_t a0, int64_t a1) {
      for (int64_t a = a0; a < a1; ++a) {
        int64_t oa[3];
        for (int j = 0; j < 3; ++j) oa[j] = offset_of(a, w.a_shape, w.a_st[j]);
        for (int64_t k = 0; k < w.K; ++k)
          for (int64_t bo = 0; bo < w.nbo; ++bo)
            body(oa[0] + k * w.k_st[0] + offset_of(bo, w.bo_shape, w.bo_st[0]),
                 oa[1] + k * w.k_st[1] + offset_of(bo, w.bo_shape, w.bo_st[1]),
                 oa[2] + k * w.k_st[2] + offset_of(bo, w.bo_shape, w.bo_st[2]), w.run);
      }
    });
    return;
  }
  cpu::parallel_range(cols, std::max<int64_t>(256, kIndexGrain / std::max<int64_t>(1, w.na * w.K)),
                      [&](int64_t c0, int64_t c1) {
    for (int64_t a = 0; a < w.na; ++a) {
      int64_t oa[3];
      for (int j = 0; j < 3; ++j) oa[j] = offset_of(a, w.a_shape, w.a_st[j]);
      for (int64_t k = 0; k < w.K; ++k) {
        for (int64_t c = c0; c < c1;) {
          const int64_t bo = c / w.run, r = c % w.run, len = std::min(w.run - r, c1 - c);
          int64_t o[3];
          for (int j = 0; j < 3; ++j)
            o[j] = oa[j] + k * w.k_st[j] + offset_of(bo, w.bo_shape, w.bo_st[j]) + r * w.run_st[j];
          body(o[0], o[1], o[2], len);
          c += len;
        }
      }
    }
  });
}

// Strides of t over the iteration shape (t has as many dims), with the indexed dim zeroed.
Shape strides_without(const Tensor& t, int64_t dim) {
  Shape s = t.strides;
  s[dim] = 0;
  return s;
}

// dst[..] = src[.. index ..] (gathers; src is the indexed operand, `ind` its dim stride).
// `extent`: src's size along the gathered dim (for prefetching; 0 = none).
void gather_kernel(const Tensor& dst, const Tensor& src, const Tensor& ix, const DimWalk& w, int64_t ind,
                   int64_t extent = 0) {
  const int64_t sd = w.run_st[0], ss = w.run_st[1], si = w.run_st[2];
  const int64_t* ixp = ix.data<int64_t>();
  dispatch_bytes(dtype_size(dst.dtype), [&](auto tag) {
    using U = typename decltype(tag)::type;
    U* d = static_cast<U*>(dst.data_ptr());
    const U* s = static_cast<const U*>(src.data_ptr());
    if (w.run == 1 && w.nbo == 1) {  // dim innermost (nothing after it): one lane of K per row a
      const int64_t kd = w.k_st[0], ki = w.k_st[2];
      if (w.empty()) return 0;
      cpu::parallel_range(w.na, std::max<int64_t>(1, kIndexGrain / w.K), [&](int64_t a0, int64_t a1) {
        for (int64_t a = a0; a < a1; ++a) {
          U* dp = d + offset_of(a, w.a_shape, w.a_st[0]);
          const U* sp = s + offset_of(a, w.a_shape, w.a_st[1]);
          const int64_t* ip = ixp + offset_of(a, w.a_shape, w.a_st[2]);
          if (kd == 1 && ki == 1 && ind == 1) {
            // Random reads within a row defeat the hardware prefetcher: fetch the row
            // after next (a contiguous lane of `extent` elements) while this one is gathered.
            if (extent > 0 && a + 2 < a1) {
              const char* next = reinterpret_cast<const char*>(s + offset_of(a + 2, w.a_shape, w.a_st[1]));
              for (int64_t off = 0; off < extent * static_cast<int64_t>(sizeof(U)); off += 64)
                __builtin_prefetch(next + off);
            }
            for (int64_t k = 0; k < w.K; ++k) dp[k] = sp[ip[k]];
          } else {
            for (int64_t k = 0; k < w.K; ++k) dp[k * kd] = sp[ip[k * ki] * ind];
          }
        }
      });
      return 0;
    }
    walk_rows(w, [&](int64_t od, int64_t os, int64_t oi, int64_t n) {
      U* dp = d + od;
      const U* sp = s + os;
      const int64_t* ip = ixp + oi;
      if (si == 0) {  // one index value for the run: a row copy
        const U* row = sp + ip[0] * ind;
        if (sd == 1 && ss == 1) std::memcpy(dp, row, static_cast<size_t>(n) * sizeof(U));
        else for (int64_t t = 0; t < n; ++t) dp[t * sd] = row[t * ss];
      } else if (sd == 1 && si == 1 && ss == 1) {
        for (int64_t t = 0; t < n; ++t) dp[t] = sp[t + ip[t] * ind];
      } else {
        for (int64_t t = 0; t < n; ++t) dp[t * sd] = sp[t * ss + ip[t * si] * ind];
      }
    });
    return 0;
  });
}

// dst[.. index ..] = f(dst[.. index ..], src[..]) (scatters; dst is the indexed operand).
template <class T, class F>
void scatter_kernel(const Tensor& dst, const T* src, const Tensor& ix, const DimWalk& w, int64_t ind, F f) {
  const int64_t sd = w.run_st[0], ss = w.run_st[1], si = w.run_st[2];
  const int64_t* ixp = ix.data<int64_t>();
  T* d = static_cast<T*>(dst.data_ptr());
  if (w.run == 1 && w.nbo == 1) {  // dim innermost: one lane of K per row a, k in order in one thread
    const int64_t ks = w.k_st[1], ki = w.k_st[2];
    if (w.empty()) return;
    cpu::parallel_range(w.na, std::max<int64_t>(1, kIndexGrain / w.K), [&](int64_t a0, int64_t a1) {
      for (int64_t a = a0; a < a1; ++a) {
        T* dp = d + offset_of(a, w.a_shape, w.a_st[0]);
        const T* sp = src + offset_of(a, w.a_shape, w.a_st[1]);
        const int64_t* ip = ixp + offset_of(a, w.a_shape, w.a_st[2]);
        for (int64_t k = 0; k < w.K; ++k) {
          T& e = dp[ip[k * ki] * ind];
          e = f(e, sp[k * ks]);
        }
      }
    });
    return;
  }
  walk_cols(w, [&](int64_t od, int64_t os, int64_t oi, int64_t n) {
    T* dp = d + od;
    const T* sp = src + os;
    const int64_t* ip = ixp + oi;
    if (si == 0) {
      T* row = dp + ip[0] * ind;
      if (sd == 1 && ss == 1) {
        for (int64_t t = 0; t < n; ++t) row[t] = f(row[t], sp[t]);
      } else {
        for (int64_t t = 0; t < n; ++t) row[t * sd] = f(row[t * sd], sp[t * ss]);
      }
    } else {
      for (int64_t t = 0; t < n; ++t) {
        T& e = dp[t * sd + ip[t * si] * ind];
        e = f(e, sp[t * ss]);
      }
    }
  });
}

// ---- gather family: argument checks (PyTorch's messages) ----

// gather(x, dim, index): out[p] = x[p with p[dim] = index[p]]. x1/i1 are x/index as_1d.
struct GatherArgs {
  int64_t dim;
  TensorPtr x1, ix;  // x (as_1d), the checked index (as_1d)
};

GatherArgs gather_args(const TensorPtr& x, int64_t dim, const TensorPtr& index, bool wrap, const char* op) {
  GC_CHECK(is_index_dtype(index->dtype), DTypeError, op, "(): Expected dtype int32/int64 for index");
  GatherArgs a;
  a.x1 = as_1d(x);
  TensorPtr i1 = as_1d(index);
  GC_CHECK(a.x1->ndim() == i1->ndim(), ShapeError, "Index tensor must have the same number of dimensions as input tensor");
  a.dim = normalize_dim(dim, x->ndim());
  for (int64_t d = 0; d < a.x1->ndim(); ++d)
    GC_CHECK(d == a.dim || i1->shape[d] <= a.x1->shape[d], ShapeError, "Size does not match at dimension ", d,
             " expected index ", dims_str(index->shape), " to be no larger than self ", dims_str(x->shape),
             " apart from dimension ", a.dim);
  a.ix = checked_index(i1, a.x1->shape[a.dim], a.dim, wrap);
  return a;
}

TensorPtr gather_forward(const GatherArgs& a, const Shape& out_shape) {
  TensorPtr out = empty(out_shape, a.x1->dtype);
  if (out->numel == 0) return out;
  TensorPtr o1 = as_1d(out);
  Shape st[3] = {o1->strides, strides_without(*a.x1, a.dim), a.ix->strides};
  gather_kernel(*o1, *a.x1, *a.ix, make_walk(a.ix->shape, a.dim, st), a.x1->strides[a.dim],
                a.x1->strides[a.dim] == 1 && a.x1->shape[a.dim] <= 4096 ? a.x1->shape[a.dim] : 0);
  return out;
}

// Zero-pads g (the gradient for the first g.shape elements of each dim) to `shape`.
TensorPtr pad_to(const TensorPtr& g, const Shape& shape) {
  if (g->shape == shape) return g;
  Shape gs = g->shape;
  return view_scatter(g, shape, [gs](const TensorPtr& t) {
    TensorPtr v = t;
    for (size_t d = 0; d < gs.size(); ++d)
      if (gs[d] != v->shape[d]) v = narrow(v, static_cast<int64_t>(d), 0, gs[d]);
    return v;
  });
}

struct GatherBackward final : Node {
  TensorPtr index;  // checked int64, owned
  int64_t dim = 0;
  Shape in_shape;
  const char* name() const override { return "GatherBackward0"; }
  tensor_list apply(tensor_list&& g) override {
    return {scatter_add(zeros(in_shape, g[0]->dtype), dim, index, g[0])};
  }
};

TensorPtr gather_impl(const TensorPtr& x, int64_t dim, const TensorPtr& index, bool wrap) {
  GatherArgs a = gather_args(x, dim, index, wrap, "gather");
  TensorPtr out = gather_forward(a, index->shape);
  if (is_floating(x->dtype)) {
    TensorPtr ix = index->ndim() == 0 ? as_strided_alias(*a.ix, {}, {}, a.ix->offset) : a.ix;
    forward_rule(out, {x.get()}, [&] { return gather(tangent(x), a.dim, ix); });
    if (needs_record({x.get()})) {
      auto n = make_node<GatherBackward>({x});
      n->index = owned(ix, index);
      n->dim = a.dim;
      n->in_shape = x->shape;
      set_history(out, n);
    }
  }
  return out;
}

// ---- index_select ----
struct IndexSelectBackward final : Node {
  TensorPtr index;  // 1-D checked int64, owned
  int64_t dim = 0;
  Shape in_shape;
  const char* name() const override { return "IndexSelectBackward0"; }
  tensor_list apply(tensor_list&& g) override {
    return {index_add(zeros(in_shape, g[0]->dtype), dim, index, g[0], Scalar::of_int(1))};
  }
};

// ---- scatter family ----
struct ScatterArgs {
  int64_t dim;
  TensorPtr ix;  // checked index (as_1d)
  TensorPtr src1;  // src (as_1d), or null for a value
};

ScatterArgs scatter_args(const TensorPtr& x, int64_t dim, const TensorPtr& index, const TensorPtr& src, const char* op) {
  GC_CHECK(is_index_dtype(index->dtype), DTypeError, op, "(): Expected dtype int32/int64 for index");
  if (src)
    GC_CHECK(src->dtype == x->dtype, DTypeError, op, "(): Expected self.dtype to be equal to src.dtype (got ",
             dtype_name(x->dtype), " and ", dtype_name(src->dtype), ")");
  ScatterArgs a;
  TensorPtr x1 = as_1d(x), i1 = as_1d(index);
  a.src1 = src ? as_1d(src) : nullptr;
  GC_CHECK(x1->ndim() == i1->ndim(), ShapeError, "Index tensor must have the same number of dimensions as self tensor");
  GC_CHECK(!src || a.src1->ndim() == i1->ndim(), ShapeError,
           "Index tensor must have the same number of dimensions as src tensor");
  a.dim = normalize_dim(dim, x->ndim());
  bool fits = true;
  for (int64_t d = 0; d < x1->ndim(); ++d) {
    if (d != a.dim && i1->shape[d] > x1->shape[d]) fits = false;
    if (src && i1->shape[d] > a.src1->shape[d]) fits = false;
  }
  if (!fits) {
    std::string msg = "Expected index " + dims_str(index->shape) + " to be no larger than self " +
                      dims_str(x->shape) + " apart from dimension " + std::to_string(a.dim);
    if (src) msg += " and to be no larger size than src " + dims_str(src->shape);
    throw ShapeError(msg);
  }
  a.ix = checked_index(i1, x1->shape[a.dim], a.dim, false);
  return a;
}

// The walk of a scatter into dst (any layout) from a source with strides src_st over the index.
DimWalk scatter_walk(const Tensor& dst1, const ScatterArgs& a, const Shape& src_st) {
  Shape st[3] = {strides_without(dst1, a.dim), src_st, a.ix->strides};
  return make_walk(a.ix->shape, a.dim, st);
}

// dst[.. index ..] op= src (or the 0-dim value), in dst's memory.
enum class ScatterOp { ASSIGN, ADD, MUL, AMAX, AMIN, COUNT };

void scatter_into(const TensorPtr& dst, const ScatterArgs& a, const TensorPtr& src_or_value, ScatterOp op) {
  if (a.ix->numel == 0 || dst->numel == 0) return;
  TensorPtr d1 = as_1d(dst);
  const bool value = !a.src1;
  Shape src_st = value ? Shape(a.ix->ndim(), 0) : a.src1->strides;
  DimWalk w = scatter_walk(*d1, a, src_st);
  const TensorPtr& s = value ? src_or_value : a.src1;
  const int64_t ind = d1->strides[a.dim];
  dispatch_all(dst->dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    using A = Arith<T>;
    const T* sp = s->data<T>();
    switch (op) {
      case ScatterOp::ASSIGN: scatter_kernel<T>(*d1, sp, *a.ix, w, ind, [](T, T v) { return v; }); break;
      case ScatterOp::ADD: scatter_kernel<T>(*d1, sp, *a.ix, w, ind, [](T e, T v) { return A::add(e, v); }); break;
      case ScatterOp::MUL: scatter_kernel<T>(*d1, sp, *a.ix, w, ind, [](T e, T v) { return A::mul(e, v); }); break;
      case ScatterOp::AMAX: scatter_kernel<T>(*d1, sp, *a.ix, w, ind, [](T e, T v) { return A::max(e, v); }); break;
      case ScatterOp::AMIN: scatter_kernel<T>(*d1, sp, *a.ix, w, ind, [](T e, T v) { return A::min(e, v); }); break;
      case ScatterOp::COUNT: break;
    }
    return 0;
  });
}

// Counts per element of dst's shape (int64, contiguous) of the index positions reaching it.
TensorPtr scatter_counts(const Shape& dst_shape, const ScatterArgs& a) {
  TensorPtr c = zeros(dst_shape, DType::Int64);
  if (a.ix->numel == 0 || c->numel == 0) return c;
  TensorPtr c1 = as_1d(c);
  TensorPtr one = scalar_tensor(Scalar::of_int(1), DType::Int64);
  DimWalk w = scatter_walk(*c1, a, Shape(a.ix->ndim(), 0));
  scatter_kernel<int64_t>(*c1, one->data<int64_t>(), *a.ix, w, c1->strides[a.dim],
                          [](int64_t e, int64_t v) { return e + v; });
  return c;
}

// The identity of a reduction (what an excluded self starts from).
template <class T>
T reduce_identity(ScatterReduce r) {
  if constexpr (std::is_same_v<T, bool>) {
    return r == ScatterReduce::PROD || r == ScatterReduce::AMIN;
  } else {
    switch (r) {
      case ScatterReduce::PROD: return from_f64<T>(1.0);
      case ScatterReduce::AMAX:
        if constexpr (std::is_integral_v<T>) return std::numeric_limits<T>::lowest();
        else return from_f64<T>(-std::numeric_limits<double>::infinity());
      case ScatterReduce::AMIN:
        if constexpr (std::is_integral_v<T>) return std::numeric_limits<T>::max();
        else return from_f64<T>(std::numeric_limits<double>::infinity());
      default: return from_f64<T>(0.0);
    }
  }
}

void scatter_reduce_into(const TensorPtr& dst, const ScatterArgs& a, ScatterReduce r, bool include_self) {
  if (a.ix->numel == 0 || dst->numel == 0) return;
  if (!include_self) {  // the reached elements start from the identity
    TensorPtr id = empty({}, dst->dtype);
    dispatch_all(dst->dtype, [&](auto tag) {
      using T = typename decltype(tag)::type;
      *id->data<T>() = reduce_identity<T>(r);
      return 0;
    });
    ScatterArgs va = a;
    va.src1 = nullptr;
    scatter_into(dst, va, id, ScatterOp::ASSIGN);
  }
  switch (r) {
    case ScatterReduce::SUM: case ScatterReduce::MEAN: scatter_into(dst, a, nullptr, ScatterOp::ADD); break;
    case ScatterReduce::PROD: scatter_into(dst, a, nullptr, ScatterOp::MUL); break;
    case ScatterReduce::AMAX: scatter_into(dst, a, nullptr, ScatterOp::AMAX); break;
    case ScatterReduce::AMIN: scatter_into(dst, a, nullptr, ScatterOp::AMIN); break;
  }
  if (r != ScatterReduce::MEAN) return;
  TensorPtr counts = scatter_counts(dst->shape, a);
  const int64_t inc = include_self ? 1 : 0;
  dispatch_all(dst->dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    iterate(*dst, kernels::typed_row<T, T, int64_t>([inc](T v, int64_t c) { return c > 0 ? Arith<T>::div(v, c + inc) : v; }),
            *dst, *counts);
    return 0;
  });
}

struct ScatterBackward final : Node {  // scatter(src) (ScatterBackward0) / scatter(value) (ScatterBackward1)
  TensorPtr index;
  int64_t dim = 0;
  Shape src_shape;
  bool value = false;
  const char* name() const override { return value ? "ScatterBackward1" : "ScatterBackward0"; }
  tensor_list apply(tensor_list&& g) override {
    tensor_list r(2);
    if (wants(*this, 0)) r[0] = scatter(g[0], dim, index, Scalar::of(0.0));
    if (wants(*this, 1)) r[1] = pad_to(gather(g[0], dim, index), src_shape);
    return r;
  }
};

// scatter(..., reduce="add"/"multiply"): PyTorch has no derivative for these.
struct NotImplementedBackward final : Node {
  const char* name() const override { return "NotImplemented"; }
  tensor_list apply(tensor_list&&) override {
    throw RuntimeError("the derivative for scatter with reduce='add' or 'multiply' is not implemented (as in "
                       "PyTorch); use scatter_add or scatter_reduce");
  }
};

struct ScatterAddBackward final : Node {
  TensorPtr index;
  int64_t dim = 0;
  Shape src_shape;
  const char* name() const override { return "ScatterAddBackward0"; }
  tensor_list apply(tensor_list&& g) override {
    tensor_list r(2);
    if (wants(*this, 0)) r[0] = g[0];
    if (wants(*this, 1)) r[1] = pad_to(gather(g[0], dim, index), src_shape);
    return r;
  }
};

ScatterOp scatter_op_of(ScatterMode m) {
  return m == ScatterMode::ADD ? ScatterOp::ADD : m == ScatterMode::MULTIPLY ? ScatterOp::MUL : ScatterOp::ASSIGN;
}

}  // namespace

// (ops.h) A Python number written into a tensor of dtype d, checked as PyTorch's: an integer dtype
// refuses values out of its range (and inf / NaN), a float dtype finite values beyond its max.
void check_value_fits(const Scalar& v, DType d) {
  const char* tname = "";
  double lo = 0, hi = 0;
  switch (d) {
    case DType::Int8: tname = "int8_t"; lo = -128; hi = 127; break;
    case DType::UInt8: tname = "uint8_t"; lo = -255; hi = 255; break;  // PyTorch lets -v wrap (c10::overflows)
    case DType::Int16: tname = "int16_t"; lo = -32768; hi = 32767; break;
    case DType::Int32: tname = "int"; lo = -2147483648.0; hi = 2147483647.0; break;
    case DType::Int64: tname = "int64_t"; lo = -9223372036854775808.0; hi = 9223372036854775807.0; break;
    case DType::Float16: tname = "c10::Half"; hi = 65504.0; break;
    case DType::BFloat16: tname = "c10::BFloat16"; hi = 3.3895313892515355e38; break;
    case DType::Float32: tname = "float"; hi = 3.4028234663852886e38; break;
    default: return;  // float64, bool: every value converts
  }
  bool ok;
  if (is_floating(d)) {
    ok = !std::isfinite(v.d) || std::fabs(v.d) <= hi;
  } else if (v.kind == Scalar::FLOAT) {
    ok = std::isfinite(v.d) && v.d > lo - 1 && v.d < hi + 1;
  } else {
    ok = !v.beyond_int64 && (d == DType::Int64 || (static_cast<double>(v.i) >= lo && static_cast<double>(v.i) <= hi));
  }
  GC_CHECK(ok, RuntimeError, "value cannot be converted to type ", tname, " without overflow");
}

namespace {

// The value of a 0-dim tensor as a Scalar (for the range check).
Scalar scalar_of(const TensorPtr& t) {
  TensorPtr v = detach(t);
  if (is_floating(t->dtype)) return Scalar::of(*dense(to_dtype(v, DType::Float64))->data<double>());
  return Scalar::of_int(*dense(to_dtype(v, DType::Int64))->data<int64_t>());
}

}  // namespace

namespace {

TensorPtr tangent_or_zeros(const TensorPtr& t) {
  TensorPtr z = tangent(t);
  return z ? z : zeros(t->shape, t->dtype);
}

// The checked index (computed on the as_1d view) in the caller's index shape again.
TensorPtr in_shape_of(const TensorPtr& ix, const TensorPtr& index) {
  return index->ndim() == 0 ? as_strided_alias(*ix, {}, {}, ix->offset) : ix;
}

// No two indices of t reach one element (sufficient test: by increasing stride, each dim's
// stride exceeds the span of the dims inside it). Slices and transposes pass.
bool no_overlap(const Tensor& t) {
  if (t.is_contiguous || t.numel <= 1) return true;
  std::vector<std::pair<int64_t, int64_t>> dims;
  for (size_t d = 0; d < t.shape.size(); ++d) {
    if (t.shape[d] == 1) continue;
    if (t.strides[d] <= 0) return false;
    dims.emplace_back(t.strides[d], t.shape[d]);
  }
  std::sort(dims.begin(), dims.end());
  int64_t span = 0;
  for (auto [st, sz] : dims) {
    if (st <= span) return false;
    span += st * (sz - 1);
  }
  return true;
}

// The in-place fast path: nothing to record and self safe to write from several threads.
bool direct_write(const TensorPtr& self, std::initializer_list<const Tensor*> sources) {
  return !inplace_records(*self, sources) && no_overlap(*self);
}

// t itself, or a private copy when it shares memory with `self` (read while self is written).
TensorPtr unaliased(const TensorPtr& t, const TensorPtr& self) {
  if (!t || t->storage != self->storage) return t;
  TensorPtr c = empty(t->shape, t->dtype);
  copy_values(c, t);
  return c;
}

// A copy of x in x's layout: the out-of-place ops' destination.
TensorPtr copy_of(const TensorPtr& x) {
  TensorPtr out = empty_like_layout(*x, x->dtype);
  copy_values(out, x);
  return out;
}

// The sorted distinct values of a 1-D int64 tensor.
TensorPtr unique_values(const TensorPtr& ix) {
  TensorPtr d = dense(ix);
  std::vector<int64_t> v(d->data<int64_t>(), d->data<int64_t>() + d->numel);
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  TensorPtr out = empty({static_cast<int64_t>(v.size())}, DType::Int64);
  if (!v.empty()) std::memcpy(out->data<int64_t>(), v.data(), v.size() * sizeof(int64_t));
  return out;
}

// t forwarded unchanged, with a history that raises `msg` if a gradient ever flows through
// it (PyTorch's DelayedError: a derivative that exists only to first order).
struct DelayedErrorBackward final : Node {
  std::string msg;
  const char* name() const override { return "DelayedError"; }
  tensor_list apply(tensor_list&&) override { throw RuntimeError(msg); }
};
TensorPtr delayed_error(const TensorPtr& t, const std::string& msg) {
  TensorPtr out = alias(*t);
  if (needs_record({t.get()})) {
    auto n = make_node<DelayedErrorBackward>({t});
    n->msg = msg;
    set_history(out, n);
  }
  return out;
}

// src narrowed to the index's shape (scatter reads only that corner of a larger src).
TensorPtr fit_to(const TensorPtr& src, const Shape& shape) {
  TensorPtr v = src;
  for (size_t d = 0; d < shape.size() && d < src->shape.size(); ++d)
    if (v->shape[d] != shape[d]) v = narrow(v, static_cast<int64_t>(d), 0, shape[d]);
  return v;
}

// PyTorch's scatter_reduce_backward: the gradients for self and src (src's padded to its
// shape). amax/amin share the gradient evenly among the elements equal to the result (self
// counted when it equals the result); prod divides out each factor (a single zero among a
// position's factors gets the product of the others; several zeros: first order only).
std::pair<TensorPtr, TensorPtr> scatter_reduce_grads(const TensorPtr& g, const TensorPtr& self, const TensorPtr& src,
                                                     const TensorPtr& result, const TensorPtr& index, int64_t dim,
                                                     ScatterReduce reduce, bool include_self) {
  const DType dt = g->dtype;
  TensorPtr src_n = fit_to(src, index->shape);
  TensorPtr gs, gsrc;
  switch (reduce) {
    case ScatterReduce::SUM:
      gs = g;
      gsrc = gather(g, dim, index);
      break;
    case ScatterReduce::MEAN: {
      TensorPtr N;
      {
        autograd::GradModeGuard off(false);
        N = scatter_add(full(g->shape, include_self ? 1.0 : 0.0, dt), dim, index, full(index->shape, 1.0, dt));
        N = masked_fill(N, compare(CmpOp::EQ, N, Scalar::of(0.0)), Scalar::of(1.0));
      }
      gs = div(g, N);
      gsrc = div(gather(g, dim, index), gather(N, dim, index));
      break;
    }
    case ScatterReduce::AMAX: case ScatterReduce::AMIN: {
      TensorPtr self_is, src_is, N;
      {
        autograd::GradModeGuard off(false);
        TensorPtr rd = detach(result);
        self_is = to_dtype(eq(detach(self), rd), dt);
        src_is = to_dtype(eq(detach(src_n), gather(rd, dim, index)), dt);
        N = scatter_add(self_is, dim, index, src_is);
      }
      TensorPtr share = div(g, N);
      gs = mul(self_is, share);
      gsrc = mul(src_is, gather(share, dim, index));
      break;
    }
    case ScatterReduce::PROD: {
      TensorPtr zero_self, src_zero, single_zero;
      bool several_zeros;
      {
        autograd::GradModeGuard off(false);
        zero_self = compare(CmpOp::EQ, detach(self), Scalar::of(0.0));
        src_zero = compare(CmpOp::EQ, detach(src_n), Scalar::of(0.0));
        TensorPtr nz = gather(scatter_add(zeros(self->shape, dt), dim, index, to_dtype(src_zero, dt)), dim, index);
        single_zero = logical(LogicOp::AND, src_zero, compare(CmpOp::EQ, nz, Scalar::of(1.0)));
        TensorPtr nzd = dense(to_dtype(nz, DType::Float64));
        several_zeros = std::any_of(nzd->data<double>(), nzd->data<double>() + nzd->numel, [](double c) { return c > 1; });
      }
      TensorPtr masked_self = masked_fill(self, zero_self, Scalar::of(1.0));
      gs = div(mul(g, scatter_reduce(masked_self, dim, index, src_n, reduce, include_self)), masked_self);
      TensorPtr masked_src = masked_fill(src_n, single_zero, Scalar::of(1.0));
      TensorPtr one_zero = gather(mul(g, scatter_reduce(self, dim, index, masked_src, reduce, include_self)), dim, index);
      TensorPtr others = div(gather(mul(g, result), dim, index), masked_fill(src_n, src_zero, Scalar::of(1.0)));
      gsrc = where(single_zero, one_zero, others);
      if (several_zeros)
        gsrc = delayed_error(gsrc, "scatter_reduce(): Double backward is unsupported for src when >1 zeros in src "
                                   "are scattered to the same position in self");
      break;
    }
  }
  if (!include_self) gs = scatter(gs, dim, index, Scalar::of(0.0));
  return {gs, pad_to(gsrc, src->shape)};
}

struct ScatterReduceBackward final : Node {
  SavedTensor self_, src_, result_;
  TensorPtr index;
  int64_t dim = 0;
  ScatterReduce reduce = ScatterReduce::SUM;
  bool include_self = true;
  Shape src_shape;
  const char* name() const override { return "ScatterReduceBackward0"; }
  tensor_list apply(tensor_list&& g) override {
    TensorPtr self = self_.unpack(this), src = src_.unpack(this), result = result_.unpack(this);
    if (!src) src = zeros(src_shape, g[0]->dtype);  // sum / mean save nothing: only shapes matter
    if (!self) self = zeros(g[0]->shape, g[0]->dtype);
    auto [gs, gsrc] = scatter_reduce_grads(g[0], self, src, result, index, dim, reduce, include_self);
    tensor_list r(2);
    if (wants(*this, 0)) r[0] = gs;
    if (wants(*this, 1)) r[1] = gsrc;
    return r;
  }
  void release_saved() override { self_.reset(); src_.reset(); result_.reset(); }
};

struct IndexAddBackward final : Node {
  TensorPtr index;  // 1-D checked int64
  int64_t dim = 0;
  Scalar alpha;
  Shape source_shape;
  const char* name() const override { return "IndexAddBackward0"; }
  tensor_list apply(tensor_list&& g) override {
    tensor_list r(2);
    if (wants(*this, 0)) r[0] = g[0];
    if (wants(*this, 1)) {
      TensorPtr s = index_select(g[0], dim, index);
      const bool one = alpha.kind == Scalar::FLOAT ? alpha.d == 1.0 : alpha.i == 1;
      if (!one) s = mul(s, alpha);
      r[1] = s->shape == source_shape ? s : reshape(s, source_shape);
    }
    return r;
  }
};

struct IndexFillBackward final : Node {  // IndexFillBackward0 (a number), 1 (a 0-dim tensor)
  TensorPtr index;
  int64_t dim = 0;
  bool tensor_value = false;
  const char* name() const override { return tensor_value ? "IndexFillBackward1" : "IndexFillBackward0"; }
  tensor_list apply(tensor_list&& g) override {
    tensor_list r(2);
    if (wants(*this, 0)) r[0] = index_fill(g[0], dim, index, Scalar::of(0.0));
    if (wants(*this, 1)) r[1] = sum(index_select(g[0], dim, unique_values(index)), {}, false);
    return r;
  }
};

// ---- dim-wise kernels on checked arguments ----

void index_add_into(const TensorPtr& dst, int64_t d, const TensorPtr& ix, const TensorPtr& s1, const Scalar& alpha) {
  if (ix->numel == 0 || dst->numel == 0) return;
  TensorPtr d1 = as_1d(dst);
  Shape ist(d1->ndim(), 0);
  ist[d] = 1;
  Shape st[3] = {strides_without(*d1, d), s1->strides, ist};
  DimWalk w = make_walk(s1->shape, d, st);
  const int64_t ind = d1->strides[d];
  const bool one = alpha.kind == Scalar::FLOAT ? alpha.d == 1.0 : alpha.i == 1;
  dispatch_all(dst->dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    using A = Arith<T>;
    const T* sp = s1->data<T>();
    if (one) {
      scatter_kernel<T>(*d1, sp, *ix, w, ind, [](T e, T v) { return A::add(e, v); });
    } else if constexpr (std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>) {
      const float al = static_cast<float>(alpha.d);
      scatter_kernel<T>(*d1, sp, *ix, w, ind, [al](T e, T v) { return A::h(A::f(e) + al * A::f(v)); });
    } else {
      T al;
      if (alpha.kind == Scalar::FLOAT) al = from_f64<T>(alpha.d);
      else al = cast_value<T, int64_t>(alpha.i);
      scatter_kernel<T>(*d1, sp, *ix, w, ind, [al](T e, T v) { return A::add(e, A::mul(al, v)); });
    }
    return 0;
  });
}

void index_fill_into(const TensorPtr& dst, int64_t d, const TensorPtr& ix, const TensorPtr& value) {
  if (ix->numel == 0 || dst->numel == 0) return;
  TensorPtr d1 = as_1d(dst);
  Shape it = d1->shape;
  it[d] = ix->numel;
  Shape ist(d1->ndim(), 0);
  ist[d] = 1;
  Shape st[3] = {strides_without(*d1, d), Shape(d1->ndim(), 0), ist};
  DimWalk w = make_walk(it, d, st);
  dispatch_bytes(dtype_size(dst->dtype), [&](auto tag) {
    using U = typename decltype(tag)::type;
    scatter_kernel<U>(*d1, static_cast<const U*>(value->data_ptr()), *ix, w, d1->strides[d], [](U, U v) { return v; });
    return 0;
  });
}

struct IndexAddArgs {
  int64_t dim;
  TensorPtr ix, s1;
};

IndexAddArgs index_add_args(const TensorPtr& x, int64_t dim, const TensorPtr& index, const TensorPtr& source,
                            const char* op) {
  GC_CHECK(is_index_dtype(index->dtype), DTypeError, op, "(): Expected dtype int32/int64 for index");
  GC_CHECK(source->dtype == x->dtype, DTypeError, op, "(): self (", dtype_torch_name(x->dtype), ") and source (",
           dtype_torch_name(source->dtype), ") must have the same scalar type");
  GC_CHECK(index->ndim() <= 1, IndexError, op, "(): Index is supposed to be a vector");
  IndexAddArgs a;
  a.dim = normalize_dim(dim, x->ndim());
  TensorPtr x1 = as_1d(x);
  a.s1 = as_1d(source);
  GC_CHECK(a.s1->ndim() == x1->ndim(), ShapeError, op, "(): Indexing dim ", a.dim,
           " is out of bounds of the source tensor with dim ", source->ndim(), " (self has ", x->ndim(), ")");
  for (int64_t k = 0; k < x1->ndim(); ++k)
    GC_CHECK(k == a.dim || a.s1->shape[k] == x1->shape[k], ShapeError,
             "source tensor shape must match self tensor shape, excluding the specified dimension. Got self.shape = ",
             dims_str(x->shape), " source.shape = ", dims_str(source->shape));
  GC_CHECK(index->numel == a.s1->shape[a.dim], ShapeError, op, "(): Number of indices (", index->numel,
           ") should be equal to source.size(dim): (", a.s1->shape[a.dim], "), for dim: ", a.dim);
  a.ix = checked_index(as_1d(index), x1->shape[a.dim], a.dim, false);
  return a;
}

struct IndexFillArgs {
  int64_t dim;
  TensorPtr ix;
};

IndexFillArgs index_fill_args(const TensorPtr& x, int64_t dim, const TensorPtr& index) {
  GC_CHECK(index->dtype == DType::Int64, IndexError, "index_fill_(): Expected dtype int64 for index.");
  GC_CHECK(index->ndim() <= 1, RuntimeError, "Index has to be a vector/scalar");
  IndexFillArgs a;
  a.dim = normalize_dim(dim, x->ndim());
  a.ix = checked_index(as_1d(index), as_1d(x)->shape[a.dim], a.dim, true);
  return a;
}

// The fill value of index_fill / masked_fill as a 0-dim tensor of x's dtype, range-checked.
TensorPtr fill_value(const Scalar& v, DType d) {
  check_value_fits(v, d);
  return scalar_tensor(v, d);
}
TensorPtr fill_value(const TensorPtr& v, DType d, const char* op) {
  GC_CHECK(v->ndim() == 0, RuntimeError, op, " only supports a 0-dimensional value tensor, but got tensor with ",
           v->ndim(), " dimension(s).");
  check_value_fits(scalar_of(v), d);
  return to_dtype(v, d);  // differentiable between floating dtypes
}

}  // namespace

// ---- index_select, gather, take_along_dim ----

TensorPtr index_select(const TensorPtr& x, int64_t dim, const TensorPtr& index) {
  GC_CHECK(is_index_dtype(index->dtype), DTypeError, "index_select(): Expected dtype int32 or int64 for index");
  GC_CHECK(index->ndim() <= 1, IndexError, "index_select(): Index is supposed to be a vector");
  const int64_t d = normalize_dim(dim, x->ndim());
  GC_CHECK(x->ndim() > 0 || index->numel == 1, IndexError, "index_select(): Index to scalar can have only 1 value, got ",
           index->numel, " value(s)");
  TensorPtr x1 = as_1d(x);
  TensorPtr ix = checked_index(as_1d(index), x1->shape[d], d, false);
  Shape out_shape = x->shape;
  if (x->ndim() > 0) out_shape[d] = ix->numel;
  TensorPtr out = empty(out_shape, x->dtype);
  if (out->numel > 0) {
    TensorPtr o1 = as_1d(out);
    Shape ist(o1->ndim(), 0);
    ist[d] = 1;
    Shape st[3] = {o1->strides, strides_without(*x1, d), ist};
    gather_kernel(*o1, *x1, *ix, make_walk(o1->shape, d, st), x1->strides[d]);
  }
  if (is_floating(x->dtype)) {
    forward_rule(out, {x.get()}, [&] { return index_select(tangent(x), d, ix); });
    if (needs_record({x.get()})) {
      auto n = make_node<IndexSelectBackward>({x});
      n->index = owned(ix, index);
      n->dim = d;
      n->in_shape = x->shape;
      set_history(out, n);
    }
  }
  return out;
}

TensorPtr gather(const TensorPtr& x, int64_t dim, const TensorPtr& index) { return gather_impl(x, dim, index, false); }

TensorPtr take_along_dim(const TensorPtr& x, const TensorPtr& indices, const int64_t* dim) {
  GC_CHECK(indices->dtype == DType::Int64, DTypeError, "torch.take_along_dim(): dtype of indices should be Long but got ",
           dtype_torch_name(indices->dtype));
  if (!dim) {  // both flattened; negative indices are out of range here, as in PyTorch
    TensorPtr xf = x->ndim() == 1 ? x : reshape(x, {-1});
    TensorPtr jf = indices->ndim() == 1 ? indices : reshape(indices, {-1});
    return gather_impl(xf, 0, jf, false);
  }
  GC_CHECK(x->ndim() == indices->ndim(), ShapeError,
           "torch.take_along_dim(): input and indices should have the same number of dimensions, but got ", x->ndim(),
           " dimensions for input, and ", indices->ndim(), " dimensions for indices");
  const int64_t d = normalize_dim(*dim, x->ndim());
  if (x->ndim() == 0) return gather_impl(x, d, indices, true);
  Shape xs = x->shape, js = indices->shape;
  xs[d] = js[d] = 1;
  const Shape b = broadcast_shapes(xs, js, "take_along_dim");
  Shape xb = b, jb = b;
  xb[d] = x->shape[d];
  jb[d] = indices->shape[d];
  return gather_impl(xb == x->shape ? x : expand(x, xb), d, jb == indices->shape ? indices : expand(indices, jb), true);
}

// ---- scatter, scatter_add, scatter_reduce ----

ScatterReduce parse_scatter_reduce(const std::string& r) {
  if (r == "sum") return ScatterReduce::SUM;
  if (r == "prod") return ScatterReduce::PROD;
  if (r == "mean") return ScatterReduce::MEAN;
  // NOTE: torch 2.13 also takes "max" and "min" (undocumented) for amax and amin.
  if (r == "amax" || r == "max") return ScatterReduce::AMAX;
  if (r == "amin" || r == "min") return ScatterReduce::AMIN;
  throw RuntimeError("reduce argument must be either sum, prod, mean, amax or amin, got " + r);
}

TensorPtr scatter(const TensorPtr& x, int64_t dim, const TensorPtr& index, const TensorPtr& src, ScatterMode mode) {
  ScatterArgs a = scatter_args(x, dim, index, src, "scatter");
  TensorPtr out = copy_of(x);
  scatter_into(out, a, nullptr, scatter_op_of(mode));
  if (!is_floating(x->dtype)) return out;
  if (mode != ScatterMode::ASSIGN) {
    GC_CHECK(!autograd::fw::any_tangent({x.get(), src.get()}), RuntimeError,
             "forward-mode AD of scatter with reduce='add' or 'multiply' is not implemented (as in PyTorch)");
    if (needs_record({x.get(), src.get()})) set_history(out, make_node<NotImplementedBackward>({x, src}));
    return out;
  }
  TensorPtr ix = in_shape_of(a.ix, index);
  forward_rule(out, {x.get(), src.get()}, [&] { return scatter(tangent_or_zeros(x), a.dim, ix, tangent_or_zeros(src)); });
  if (needs_record({x.get(), src.get()})) {
    auto n = make_node<ScatterBackward>({x, src});
    n->index = owned(ix, index);
    n->dim = a.dim;
    n->src_shape = src->shape;
    set_history(out, n);
  }
  return out;
}

TensorPtr scatter(const TensorPtr& x, int64_t dim, const TensorPtr& index, const Scalar& value, ScatterMode mode) {
  ScatterArgs a = scatter_args(x, dim, index, nullptr, "scatter");
  TensorPtr v = fill_value(value, x->dtype);
  TensorPtr out = copy_of(x);
  scatter_into(out, a, v, scatter_op_of(mode));
  if (!is_floating(x->dtype)) return out;
  if (mode != ScatterMode::ASSIGN) {
    GC_CHECK(!autograd::fw::any_tangent({x.get()}), RuntimeError,
             "forward-mode AD of scatter with reduce='add' or 'multiply' is not implemented (as in PyTorch)");
    if (needs_record({x.get()})) set_history(out, make_node<NotImplementedBackward>({x}));
    return out;
  }
  TensorPtr ix = in_shape_of(a.ix, index);
  forward_rule(out, {x.get()}, [&] { return scatter(tangent(x), a.dim, ix, Scalar::of(0.0)); });
  if (needs_record({x.get()})) {
    auto n = make_node<ScatterBackward>({x});
    n->index = owned(ix, index);
    n->dim = a.dim;
    n->value = true;
    set_history(out, n);
  }
  return out;
}

TensorPtr scatter_add(const TensorPtr& x, int64_t dim, const TensorPtr& index, const TensorPtr& src) {
  ScatterArgs a = scatter_args(x, dim, index, src, "scatter_add");
  TensorPtr out = copy_of(x);
  scatter_into(out, a, nullptr, ScatterOp::ADD);
  if (!is_floating(x->dtype)) return out;
  TensorPtr ix = in_shape_of(a.ix, index);
  forward_rule(out, {x.get(), src.get()}, [&] {
    return scatter_add(tangent_or_zeros(x), a.dim, ix, tangent_or_zeros(src));
  });
  if (needs_record({x.get(), src.get()})) {
    auto n = make_node<ScatterAddBackward>({x, src});
    n->index = owned(ix, index);
    n->dim = a.dim;
    n->src_shape = src->shape;
    set_history(out, n);
  }
  return out;
}

TensorPtr scatter_reduce(const TensorPtr& x, int64_t dim, const TensorPtr& index, const TensorPtr& src,
                         ScatterReduce reduce, bool include_self) {
  ScatterArgs a = scatter_args(x, dim, index, src, "scatter_reduce");
  GC_CHECK(!(reduce == ScatterReduce::MEAN && x->dtype == DType::Bool), DTypeError,
           "scatter_reduce(): reduce='mean' is not implemented for bool tensors");
  TensorPtr out = copy_of(x);
  scatter_reduce_into(out, a, reduce, include_self);
  if (!is_floating(x->dtype)) return out;
  TensorPtr ix = in_shape_of(a.ix, index);
  const bool linear = reduce == ScatterReduce::SUM || reduce == ScatterReduce::MEAN;
  // Before the node saves the result, so that the saved result keeps its tangent (forward
  // over reverse). prod's partials use the result and must be differentiable (reverse over
  // forward): they take a recomputed one with a history of its own, as out's would make a
  // cycle (out's tangent -> out's node -> the saved result -> its tangent).
  forward_rule(out, {x.get(), src.get()}, [&]() -> TensorPtr {
    TensorPtr tx = tangent_or_zeros(x), ts = tangent_or_zeros(src);
    if (linear) return scatter_reduce(tx, a.dim, ix, ts, reduce, include_self);
    // amax / amin / prod: the partial derivatives (the backward of a gradient of ones) times the tangents.
    TensorPtr res = reduce == ScatterReduce::PROD ? scatter_reduce(x, a.dim, ix, src, reduce, include_self) : out;
    auto [ps, psrc] = scatter_reduce_grads(full(out->shape, 1.0, out->dtype), x, src, res, ix, a.dim, reduce,
                                           include_self);
    return scatter_add(mul(ps, tx), a.dim, ix, mul(psrc, ts));
  });
  if (needs_record({x.get(), src.get()})) {
    auto n = make_node<ScatterReduceBackward>({x, src});
    if (!linear) {
      n->self_ = SavedTensor(x, false);
      n->src_ = SavedTensor(src, false);
      n->result_ = SavedTensor(out, true);
    }
    n->index = owned(ix, index);
    n->dim = a.dim;
    n->reduce = reduce;
    n->include_self = include_self;
    n->src_shape = src->shape;
    set_history(out, n);
  }
  return out;
}

// ---- index_add, index_fill ----

TensorPtr index_add(const TensorPtr& x, int64_t dim, const TensorPtr& index, const TensorPtr& source,
                    const Scalar& alpha) {
  IndexAddArgs a = index_add_args(x, dim, index, source, "index_add");
  TensorPtr out = copy_of(x);
  index_add_into(out, a.dim, a.ix, a.s1, alpha);
  if (!is_floating(x->dtype)) return out;
  forward_rule(out, {x.get(), source.get()}, [&] {
    return index_add(tangent_or_zeros(x), a.dim, a.ix, tangent_or_zeros(source), alpha);
  });
  if (needs_record({x.get(), source.get()})) {
    auto n = make_node<IndexAddBackward>({x, source});
    n->index = owned(a.ix, index);
    n->dim = a.dim;
    n->alpha = alpha;
    n->source_shape = source->shape;
    set_history(out, n);
  }
  return out;
}

TensorPtr index_fill(const TensorPtr& x, int64_t dim, const TensorPtr& index, const Scalar& value) {
  IndexFillArgs a = index_fill_args(x, dim, index);
  TensorPtr v = fill_value(value, x->dtype);
  TensorPtr out = copy_of(x);
  index_fill_into(out, a.dim, a.ix, v);
  if (!is_floating(x->dtype)) return out;
  forward_rule(out, {x.get()}, [&] { return index_fill(tangent(x), a.dim, a.ix, Scalar::of(0.0)); });
  if (needs_record({x.get()})) {
    auto n = make_node<IndexFillBackward>({x});
    n->index = owned(a.ix, index);
    n->dim = a.dim;
    set_history(out, n);
  }
  return out;
}

TensorPtr index_fill(const TensorPtr& x, int64_t dim, const TensorPtr& index, const TensorPtr& value) {
  IndexFillArgs a = index_fill_args(x, dim, index);
  TensorPtr v = fill_value(value, x->dtype, "index_fill_");
  TensorPtr out = copy_of(x);
  index_fill_into(out, a.dim, a.ix, v);
  if (!is_floating(x->dtype)) return out;
  forward_rule(out, {x.get(), v.get()}, [&] {
    TensorPtr tv = tangent(v);
    return tv ? index_fill(tangent_or_zeros(x), a.dim, a.ix, tv) : index_fill(tangent(x), a.dim, a.ix, Scalar::of(0.0));
  });
  if (needs_record({x.get(), v.get()})) {
    auto n = make_node<IndexFillBackward>({x, v});
    n->index = owned(a.ix, index);
    n->dim = a.dim;
    n->tensor_value = true;
    set_history(out, n);
  }
  return out;
}

// ---- in-place forms of the dim-wise ops ----

TensorPtr scatter_(const TensorPtr& x, int64_t dim, const TensorPtr& index, const TensorPtr& src, ScatterMode mode) {
  if (direct_write(x, {src.get()})) {
    ScatterArgs a = scatter_args(x, dim, index, src, "scatter_");
    a.ix = unaliased(a.ix, x);
    a.src1 = unaliased(a.src1, x);
    check_inplace(x, "scatter_");
    scatter_into(x, a, nullptr, scatter_op_of(mode));
    return x;
  }
  return apply_inplace(x, "scatter_", [&](const TensorPtr& s) { return scatter(s, dim, index, src, mode); }, {src.get()});
}

TensorPtr scatter_(const TensorPtr& x, int64_t dim, const TensorPtr& index, const Scalar& value, ScatterMode mode) {
  if (direct_write(x, {})) {
    ScatterArgs a = scatter_args(x, dim, index, nullptr, "scatter_");
    TensorPtr v = fill_value(value, x->dtype);
    a.ix = unaliased(a.ix, x);
    check_inplace(x, "scatter_");
    scatter_into(x, a, v, scatter_op_of(mode));
    return x;
  }
  return apply_inplace(x, "scatter_", [&](const TensorPtr& s) { return scatter(s, dim, index, value, mode); });
}

TensorPtr scatter_add_(const TensorPtr& x, int64_t dim, const TensorPtr& index, const TensorPtr& src) {
  if (direct_write(x, {src.get()})) {
    ScatterArgs a = scatter_args(x, dim, index, src, "scatter_add_");
    a.ix = unaliased(a.ix, x);
    a.src1 = unaliased(a.src1, x);
    check_inplace(x, "scatter_add_");
    scatter_into(x, a, nullptr, ScatterOp::ADD);
    return x;
  }
  return apply_inplace(x, "scatter_add_", [&](const TensorPtr& s) { return scatter_add(s, dim, index, src); },
                       {src.get()});
}

TensorPtr scatter_reduce_(const TensorPtr& x, int64_t dim, const TensorPtr& index, const TensorPtr& src,
                          ScatterReduce reduce, bool include_self) {
  if (direct_write(x, {src.get()})) {
    ScatterArgs a = scatter_args(x, dim, index, src, "scatter_reduce_");
    GC_CHECK(!(reduce == ScatterReduce::MEAN && x->dtype == DType::Bool), DTypeError,
             "scatter_reduce(): reduce='mean' is not implemented for bool tensors");
    a.ix = unaliased(a.ix, x);
    a.src1 = unaliased(a.src1, x);
    check_inplace(x, "scatter_reduce_");
    scatter_reduce_into(x, a, reduce, include_self);
    return x;
  }
  // amax / amin / prod save self for backward: apply_inplace saves a copy made before the
  // write (Note [Saving what an in-place op overwrites]).
  return apply_inplace(x, "scatter_reduce_", [&](const TensorPtr& s) {
    return scatter_reduce(s, dim, index, src, reduce, include_self);
  }, {src.get()});
}

TensorPtr index_add_(const TensorPtr& x, int64_t dim, const TensorPtr& index, const TensorPtr& source,
                     const Scalar& alpha) {
  if (direct_write(x, {source.get()})) {
    IndexAddArgs a = index_add_args(x, dim, index, source, "index_add_");
    a.ix = unaliased(a.ix, x);
    a.s1 = unaliased(a.s1, x);
    check_inplace(x, "index_add_");
    index_add_into(x, a.dim, a.ix, a.s1, alpha);
    return x;
  }
  return apply_inplace(x, "index_add_", [&](const TensorPtr& s) { return index_add(s, dim, index, source, alpha); },
                       {source.get()});
}

TensorPtr index_fill_(const TensorPtr& x, int64_t dim, const TensorPtr& index, const Scalar& value) {
  if (direct_write(x, {})) {
    IndexFillArgs a = index_fill_args(x, dim, index);
    TensorPtr v = fill_value(value, x->dtype);
    a.ix = unaliased(a.ix, x);
    check_inplace(x, "index_fill_");
    index_fill_into(x, a.dim, a.ix, v);
    return x;
  }
  return apply_inplace(x, "index_fill_", [&](const TensorPtr& s) { return index_fill(s, dim, index, value); });
}

TensorPtr index_fill_(const TensorPtr& x, int64_t dim, const TensorPtr& index, const TensorPtr& value) {
  if (direct_write(x, {value.get()})) {
    IndexFillArgs a = index_fill_args(x, dim, index);
    TensorPtr v = unaliased(fill_value(value, x->dtype, "index_fill_"), x);
    a.ix = unaliased(a.ix, x);
    check_inplace(x, "index_fill_");
    index_fill_into(x, a.dim, a.ix, v);
    return x;
  }
  return apply_inplace(x, "index_fill_", [&](const TensorPtr& s) { return index_fill(s, dim, index, value); },
                       {value.get()});
}

// ---- masked ops ----
//
// Note [Masked ops]: masked_fill, masked_select and masked_scatter take a bool mask that
// broadcasts with x: out of place both broadcast to a common shape (as PyTorch), in place
// the mask to x's shape. masked_select and masked_scatter visit the true elements in the
// row-major order of that shape: the mask is cut into fixed chunks of kMaskChunk elements,
// the true elements of each chunk are counted in parallel, an exclusive prefix sum of the
// counts gives each chunk its first output (source) position, and the chunks are then
// copied in parallel. Every chunk's writes are its own, so the result does not depend on
// the number of threads; the count comes first, so masked_scatter checks the source's size
// before it writes anything.

namespace {

constexpr int64_t kMaskChunk = 1 << 16;

void check_bool_mask(const Tensor& mask, const char* what) {
  GC_CHECK(mask.dtype == DType::Bool, DTypeError, what, dtype_name(mask.dtype));
}

// Element strides of t broadcast to shape (0 along broadcast dims).
Shape broadcast_strides(const Tensor& t, const Shape& shape) {
  Shape st(shape.size(), 0);
  const size_t lead = shape.size() - t.shape.size();
  for (size_t d = lead; d < shape.size(); ++d)
    if (t.shape[d - lead] != 1) st[d] = t.strides[d - lead];
  return st;
}

// f(i, offset) for the row-major positions [b, e) of shape, offset in strides st.
template <class F>
void for_each_offset(const Shape& shape, const Shape& st, int64_t b, int64_t e, F&& f) {
  const int nd = static_cast<int>(shape.size());
  std::vector<int64_t> idx(nd, 0);
  int64_t off = 0, rem = b;
  for (int d = nd - 1; d >= 0; --d) {
    idx[d] = rem % shape[d];
    rem /= shape[d];
    off += idx[d] * st[d];
  }
  for (int64_t i = b; i < e; ++i) {
    f(i, off);
    for (int d = nd - 1; d >= 0; --d) {
      off += st[d];
      if (++idx[d] < shape[d]) break;
      off -= st[d] * shape[d];
      idx[d] = 0;
    }
  }
}

struct MaskPlan {
  TensorPtr m;                 // the mask, dense, in the iteration shape
  std::vector<int64_t> start;  // first output position of each chunk
  int64_t total = 0;           // true elements
  int64_t chunks() const { return static_cast<int64_t>(start.size()); }
};

MaskPlan plan_mask(const TensorPtr& mask, const Shape& shape) {
  MaskPlan p;
  p.m = dense(mask->shape == shape ? mask : expand(mask, shape));
  const int64_t n = p.m->numel, nch = (n + kMaskChunk - 1) / kMaskChunk;
  const uint8_t* mp = reinterpret_cast<const uint8_t*>(p.m->data<bool>());
  p.start.assign(nch, 0);
  cpu::parallel_for(nch, [&](int64_t c) {
    const int64_t b = c * kMaskChunk, e = std::min(n, b + kMaskChunk);
    int64_t cnt = 0;
    for (int64_t i = b; i < e; ++i) cnt += mp[i];
    p.start[c] = cnt;
  });
  for (int64_t c = 0; c < nch; ++c) {
    const int64_t cnt = p.start[c];
    p.start[c] = p.total;
    p.total += cnt;
  }
  return p;
}

// out (1-D, plan.total elements) = the elements of x (broadcast to shape) where the mask is true.
void masked_select_into(const TensorPtr& out, const TensorPtr& x, const Shape& shape, const MaskPlan& p) {
  if (p.total == 0) return;
  const int64_t n = p.m->numel;
  const uint8_t* mp = reinterpret_cast<const uint8_t*>(p.m->data<bool>());
  const bool flat = x->is_contiguous && x->shape == shape;
  const Shape xs = broadcast_strides(*x, shape);
  dispatch_bytes(dtype_size(x->dtype), [&](auto tag) {
    using U = typename decltype(tag)::type;
    U* o = static_cast<U*>(out->data_ptr());
    const U* xp = static_cast<const U*>(x->data_ptr());
    cpu::parallel_for(p.chunks(), [&](int64_t c) {
      int64_t pos = p.start[c];
      const int64_t b = c * kMaskChunk, e = std::min(n, b + kMaskChunk);
      if (flat) {
        // Branch-free up to the chunk's last true element: a false element's write lands on
        // the slot the next true element overwrites, never past this chunk's range.
        int64_t last = e - 1;
        while (last >= b && !mp[last]) --last;
        for (int64_t i = b; i <= last; ++i) {
          o[pos] = xp[i];
          pos += mp[i];
        }
        return;
      }
      for_each_offset(shape, xs, b, e, [&](int64_t i, int64_t off) {
        if (mp[i]) o[pos++] = xp[off];
      });
    });
    return 0;
  });
}

// dst (in the plan's shape) at its true positions = src's first plan.total elements, in order.
void masked_scatter_into(const TensorPtr& dst, const MaskPlan& p, const TensorPtr& src) {
  if (p.total == 0) return;
  TensorPtr s = dense(src);
  const int64_t n = p.m->numel;
  const uint8_t* mp = reinterpret_cast<const uint8_t*>(p.m->data<bool>());
  dispatch_bytes(dtype_size(dst->dtype), [&](auto tag) {
    using U = typename decltype(tag)::type;
    U* d = static_cast<U*>(dst->data_ptr());
    const U* sp = static_cast<const U*>(s->data_ptr());
    cpu::parallel_for(p.chunks(), [&](int64_t c) {
      int64_t pos = p.start[c];
      const int64_t b = c * kMaskChunk, e = std::min(n, b + kMaskChunk);
      if (dst->is_contiguous) {
        for (int64_t i = b; i < e; ++i)
          if (mp[i]) d[i] = sp[pos++];
        return;
      }
      for_each_offset(dst->shape, dst->strides, b, e, [&](int64_t i, int64_t off) {
        if (mp[i]) d[off] = sp[pos++];
      });
    });
    return 0;
  });
}

// out = where(mask, v, x) elementwise (out, x, mask of out's shape or broadcasting to it).
void masked_fill_into(const TensorPtr& out, const TensorPtr& x, const TensorPtr& mask, const TensorPtr& v) {
  if (out->numel == 0) return;
  dispatch_bytes(dtype_size(out->dtype), [&](auto tag) {
    using U = typename decltype(tag)::type;
    const U val = *static_cast<const U*>(v->data_ptr());
    iterate(*out, kernels::typed_row<U, U, bool>([val](U a, bool m) { return m ? val : a; }), *x, *mask);
    return 0;
  });
}

struct MaskedFillBackward final : Node {  // MaskedFillBackward0 (a number), 1 (a 0-dim tensor)
  TensorPtr mask;
  Shape self_shape;
  bool tensor_value = false;
  const char* name() const override { return tensor_value ? "MaskedFillBackward1" : "MaskedFillBackward0"; }
  tensor_list apply(tensor_list&& g) override {
    tensor_list r(2);
    if (wants(*this, 0)) r[0] = sum_to(masked_fill(g[0], mask, Scalar::of(0.0)), self_shape);
    if (wants(*this, 1)) r[1] = sum(where(mask, g[0], zeros({}, g[0]->dtype)), {}, false);
    return r;
  }
};

struct MaskedSelectBackward final : Node {
  TensorPtr mask;
  Shape shape, self_shape;  // the broadcast shape, x's shape
  bool getitem = false;     // x[mask] (PyTorch records it as an index)
  const char* name() const override { return getitem ? "IndexBackward0" : "MaskedSelectBackward0"; }
  tensor_list apply(tensor_list&& g) override {
    return {sum_to(masked_scatter(zeros(shape, g[0]->dtype), mask, g[0]), self_shape)};
  }
};

struct MaskedScatterBackward final : Node {
  TensorPtr mask;
  Shape self_shape, source_shape;
  const char* name() const override { return "MaskedScatterBackward0"; }
  tensor_list apply(tensor_list&& g) override {
    tensor_list r(2);
    if (wants(*this, 0)) r[0] = sum_to(masked_fill(g[0], mask, Scalar::of(0.0)), self_shape);
    if (wants(*this, 1)) {
      TensorPtr sel = masked_select(g[0], mask);  // the gradient of the source elements used, zeros after
      const int64_t n = shape_numel(source_shape), k = sel->numel;
      if (k != n) sel = view_scatter(sel, {n}, [k](const TensorPtr& t) { return slice0(t, 0, k); });
      r[1] = reshape(sel, source_shape);
    }
    return r;
  }
};

const char* kMaskedFillMask = "masked_fill_ only supports boolean masks, but got mask with dtype ";

TensorPtr masked_fill_impl(const TensorPtr& x, const TensorPtr& mask, const TensorPtr& v, bool tensor_value) {
  const Shape shape = broadcast_shapes(x->shape, mask->shape, "masked_fill");
  TensorPtr out = shape == x->shape ? empty_like_layout(*x, x->dtype) : empty(shape, x->dtype);
  masked_fill_into(out, x, mask, v);
  if (!is_floating(x->dtype)) return out;
  forward_rule(out, {x.get(), tensor_value ? v.get() : nullptr}, [&] {
    TensorPtr tv = tensor_value ? tangent(v) : nullptr;
    return tv ? masked_fill(tangent_or_zeros(x), mask, tv) : masked_fill(tangent_or_zeros(x), mask, Scalar::of(0.0));
  });
  if (needs_record({x.get(), tensor_value ? v.get() : nullptr})) {
    auto n = tensor_value ? make_node<MaskedFillBackward>({x, v}) : make_node<MaskedFillBackward>({x});
    n->mask = clone(mask);
    n->self_shape = x->shape;
    n->tensor_value = tensor_value;
    set_history(out, n);
  }
  return out;
}

void check_mask_fits(const Tensor& x, const Tensor& mask, const char* op) {
  const Shape b = broadcast_shapes(x.shape, mask.shape, op);
  GC_CHECK(b == x.shape, ShapeError, "output with shape ", dims_str(x.shape), " doesn't match the broadcast shape ",
           dims_str(b));
}

TensorPtr masked_fill_inplace(const TensorPtr& x, const TensorPtr& mask, const TensorPtr& v,
                              const std::function<TensorPtr(const TensorPtr&)>& outofplace, const Tensor* value_src) {
  check_mask_fits(*x, *mask, "masked_fill_");
  if (direct_write(x, {value_src})) {
    TensorPtr m = unaliased(mask, x), vv = unaliased(v, x);
    check_inplace(x, "masked_fill_");
    masked_fill_into(x, x, m, vv);
    return x;
  }
  return apply_inplace(x, "masked_fill_", outofplace, {value_src});
}

TensorPtr masked_select_impl(const TensorPtr& x, const TensorPtr& mask, bool getitem) {
  GC_CHECK(mask->dtype == DType::Bool, DTypeError, "masked_select: expected BoolTensor for mask");
  const Shape shape = broadcast_shapes(x->shape, mask->shape, "masked_select");
  MaskPlan p = plan_mask(mask, shape);
  TensorPtr out = empty({p.total}, x->dtype);
  masked_select_into(out, x, shape, p);
  if (!is_floating(x->dtype)) return out;
  forward_rule(out, {x.get()}, [&] { return masked_select(tangent(x), mask); });
  if (needs_record({x.get()})) {
    auto n = make_node<MaskedSelectBackward>({x});
    n->mask = clone(mask);
    n->shape = shape;
    n->self_shape = x->shape;
    n->getitem = getitem;
    set_history(out, n);
  }
  return out;
}

void check_masked_scatter(const Tensor& x, const Tensor& mask, const Tensor& source) {
  check_bool_mask(mask, "masked_scatter_ only supports boolean masks, but got mask with dtype ");
  GC_CHECK(source.dtype == x.dtype, DTypeError, "masked_scatter: expected self and source to have same dtypes but got ",
           dtype_torch_name(x.dtype), " and ", dtype_torch_name(source.dtype));
}

void check_source_size(const MaskPlan& p, const Tensor& source) {
  GC_CHECK(p.total <= source.numel, RuntimeError, "masked_scatter: Number of elements of source (", source.numel,
           ") < number of ones in mask (", p.total, ")");
}

}  // namespace

TensorPtr masked_fill(const TensorPtr& x, const TensorPtr& mask, const Scalar& value) {
  check_bool_mask(*mask, kMaskedFillMask);
  return masked_fill_impl(x, mask, fill_value(value, x->dtype), false);
}

TensorPtr masked_fill(const TensorPtr& x, const TensorPtr& mask, const TensorPtr& value) {
  check_bool_mask(*mask, kMaskedFillMask);
  return masked_fill_impl(x, mask, fill_value(value, x->dtype, "masked_fill_"), true);
}

TensorPtr masked_fill_(const TensorPtr& x, const TensorPtr& mask, const Scalar& value) {
  check_bool_mask(*mask, kMaskedFillMask);
  TensorPtr v = fill_value(value, x->dtype);
  return masked_fill_inplace(x, mask, v, [&](const TensorPtr& s) { return masked_fill(s, mask, value); }, nullptr);
}

TensorPtr masked_fill_(const TensorPtr& x, const TensorPtr& mask, const TensorPtr& value) {
  check_bool_mask(*mask, kMaskedFillMask);
  TensorPtr v = fill_value(value, x->dtype, "masked_fill_");
  return masked_fill_inplace(x, mask, v, [&](const TensorPtr& s) { return masked_fill(s, mask, value); }, value.get());
}

TensorPtr masked_select(const TensorPtr& x, const TensorPtr& mask, bool as_getitem) {
  return masked_select_impl(x, mask, as_getitem);
}

TensorPtr masked_scatter(const TensorPtr& x, const TensorPtr& mask, const TensorPtr& source) {
  check_masked_scatter(*x, *mask, *source);
  const Shape shape = broadcast_shapes(x->shape, mask->shape, "masked_scatter");
  MaskPlan p = plan_mask(mask, shape);
  check_source_size(p, *source);
  TensorPtr out = shape == x->shape ? empty_like_layout(*x, x->dtype) : empty(shape, x->dtype);
  copy_values(out, x);
  masked_scatter_into(out, p, source);
  if (!is_floating(x->dtype)) return out;
  forward_rule(out, {x.get(), source.get()}, [&] {
    return masked_scatter(tangent_or_zeros(x), mask, tangent_or_zeros(source));
  });
  if (needs_record({x.get(), source.get()})) {
    auto n = make_node<MaskedScatterBackward>({x, source});
    n->mask = clone(mask);
    n->self_shape = x->shape;
    n->source_shape = source->shape;
    set_history(out, n);
  }
  return out;
}

TensorPtr masked_scatter_(const TensorPtr& x, const TensorPtr& mask, const TensorPtr& source) {
  check_masked_scatter(*x, *mask, *source);
  const Shape b = broadcast_shapes(x->shape, mask->shape, "masked_scatter_");
  GC_CHECK(b == x->shape, ShapeError, "masked_scatter_: a mask of shape ", dims_str(mask->shape),
           " cannot be broadcast to self's shape ", dims_str(x->shape));
  if (direct_write(x, {source.get()})) {
    MaskPlan p = plan_mask(unaliased(mask, x), x->shape);
    check_source_size(p, *source);
    TensorPtr s = unaliased(source, x);
    check_inplace(x, "masked_scatter_");
    masked_scatter_into(x, p, s);
    return x;
  }
  return apply_inplace(x, "masked_scatter_", [&](const TensorPtr& s) { return masked_scatter(s, mask, source); },
                       {source.get()});
}

}  // namespace gradcore::ops
