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
#include <cstring>

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
    p.bshape = p.bshape.empty() && k == static_cast<size_t>(first) ? idx[k]->shape
                                                                   : broadcast_shapes(p.bshape, idx[k]->shape, "index");
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
  dispatch_arith(dst->dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* d = dst->data<T>();
    const T* s = values->data<T>();
    for_each_gather(p, [&](int64_t xo, int64_t oi, int64_t rs, int64_t c0, int64_t c1) {
      if constexpr (std::is_same_v<T, bool>) {
        for (int64_t c = c0; c < c1; ++c) d[xo + c * rs] = d[xo + c * rs] || s[oi + c];
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

}  // namespace gradcore::ops
