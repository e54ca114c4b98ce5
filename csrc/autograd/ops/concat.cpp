// concat.cpp — issue 12 (shape ops): cat and flip, the two data-movement ops of the shape
// family that copy. The other shape ops (stack, split, roll, repeat, pad, ...) are
// compositions of these and of the views of view.cpp (python/gradcore/_shape_ops.py), so
// their backward, forward-mode rule and create_graph come from these ops' rules.
//
//   cat({a, b}, 0)      // (2,3) + (4,3) -> (6,3): one strided block copy per input
//   flip(x, {0, -1})    // one copy reading x with the flipped dims' strides negated
//   diag_embed(v, 0, -2, -1)  // (B, n) -> (B, n, n): v written on the diagonals of zeros
#include <algorithm>

#include "autograd/ops/common.h"

namespace gradcore::ops {
using autograd::make_node;
using autograd::needs_record;
using autograd::set_history;

namespace {

// Note [Legacy empty cat inputs]: as PyTorch, a 1-D tensor of shape (0,) may be concatenated
// with tensors of any rank: it is skipped in the shape checks and in the copy (it still
// takes part in type promotion). When every input is such a tensor the result is one too.
bool skipped(const Tensor& t) { return t.ndim() == 1 && t.shape[0] == 0; }

// The gradient of cat: slices of g along dim (views), converted back to each input's dtype.
struct CatBackward final : Node {
  int64_t dim = 0;
  std::vector<int64_t> starts, sizes;  // per input; size -1: a skipped (0,) input
  std::vector<DType> dtypes;
  const char* name() const override { return "CatBackward0"; }
  tensor_list apply(tensor_list&& g) override {
    tensor_list out(sizes.size());
    for (size_t i = 0; i < sizes.size(); ++i) {
      if (!autograd::wants(*this, i)) continue;
      TensorPtr gi = sizes[i] < 0 ? zeros({0}, g[0]->dtype) : narrow(g[0], dim, starts[i], sizes[i]);
      out[i] = to_dtype(gi, dtypes[i]);
    }
    return out;
  }
};

struct FlipBackward final : Node {
  std::vector<int64_t> dims;
  const char* name() const override { return "FlipBackward0"; }
  tensor_list apply(tensor_list&& g) override { return {flip(g[0], dims)}; }
};

}  // namespace

TensorPtr cat(const tensor_list& tensors, int64_t dim) {
  GC_CHECK(!tensors.empty(), ValueError, "torch.cat(): expected a non-empty list of Tensors");
  const Tensor* ref = nullptr;  // the first input that is not skipped: the shape reference
  DType dtype = tensors[0]->dtype;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = *tensors[i];
    GC_CHECK(t.ndim() > 0, RuntimeError, "zero-dimensional tensor (at position ", i, ") cannot be concatenated");
    dtype = i == 0 ? t.dtype : promote_types(dtype, t.dtype);
    if (!ref && !skipped(t)) ref = &t;
  }
  // Only (0,) inputs: PyTorch checks no dim; the result is (0,) (still recorded below).
  const int64_t nd = ref ? ref->ndim() : 1;
  const int64_t d = ref ? normalize_dim(dim, nd) : 0;
  int64_t total = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = *tensors[i];
    if (skipped(t)) continue;
    GC_CHECK(t.ndim() == nd, RuntimeError, "Tensors must have same number of dimensions: got ", nd, " and ", t.ndim());
    for (int64_t k = 0; k < nd; ++k)
      GC_CHECK(k == d || t.shape[k] == ref->shape[k], RuntimeError, "Sizes of tensors must match except in dimension ",
               d, ". Expected size ", ref->shape[k], " but got size ", t.shape[k], " for tensor number ", i,
               " in the list.");
    total += t.shape[d];
  }
  Shape shape = ref ? ref->shape : Shape{0};
  shape[d] = total;
  TensorPtr out = empty(shape, dtype);
  std::vector<int64_t> starts(tensors.size(), 0), sizes(tensors.size(), -1);
  {
    // One strided block copy (or converting copy) per input into its slice of out.
    autograd::GradModeGuard off(false);
    autograd::fw::DisableGuard no_tangent;
    int64_t start = 0;
    for (size_t i = 0; i < tensors.size(); ++i) {
      const TensorPtr& t = tensors[i];
      if (skipped(*t)) continue;
      starts[i] = start;
      sizes[i] = t->shape[d];
      if (t->numel > 0) {
        TensorPtr region = narrow(out, d, start, t->shape[d]);
        if (t->dtype == dtype) copy_values(region, t);
        else cast_values(region, t);
      }
      start += t->shape[d];
    }
  }
  if (!is_floating(dtype)) return out;
  bool record = autograd::grad_enabled(), tangents = autograd::fw::active();
  bool any_grad = false, any_tan = false;
  for (const TensorPtr& t : tensors) {
    any_grad = any_grad || t->needs_grad();
    any_tan = any_tan || (tangents && tangent(t));
  }
  if (any_tan) {
    TensorPtr tan;
    {
      autograd::fw::DisableGuard off;
      tensor_list ts;
      for (const TensorPtr& t : tensors) {
        TensorPtr ti = tangent(t);
        ts.push_back(ti ? ti : zeros(t->shape, dtype));
      }
      tan = cat(ts, d);
    }
    autograd::fw::set_tangent(out, tan);
  }
  if (record && any_grad) {
    auto n = std::make_shared<CatBackward>();
    n->next_edges.reserve(tensors.size());
    for (const TensorPtr& t : tensors)
      n->next_edges.push_back(t->needs_grad() ? autograd::gradient_edge(t) : autograd::Edge{});
    n->dim = d;
    n->starts = starts;
    n->sizes = sizes;
    for (const TensorPtr& t : tensors) n->dtypes.push_back(t->dtype);
    set_history(out, n);
  }
  return out;
}

TensorPtr flip(const TensorPtr& x, const std::vector<int64_t>& dims) {
  const int64_t nd = x->ndim();
  std::vector<bool> flipped(std::max<int64_t>(nd, 1), false);
  std::vector<int64_t> norm;
  for (int64_t dim : dims) {
    const int64_t d = normalize_dim(dim, nd);
    GC_CHECK(!flipped[d], RuntimeError, "dim ", d, " appears multiple times in the list of dims");
    flipped[d] = true;
    norm.push_back(d);
  }
  TensorPtr out = empty(x->shape, x->dtype);
  if (out->numel > 0) {
    // out[i] = x[n-1-i] along each flipped dim: x read from its last element there with the
    // stride negated (byte strides; the strided engine orders dims by |stride|).
    GC_CHECK(nd <= kernels::kMaxDims, ValueError, "too many dimensions (", nd, ")");
    const int64_t es = static_cast<int64_t>(dtype_size(x->dtype));
    int64_t ss[kernels::kMaxDims], ds[kernels::kMaxDims];
    const char* src = static_cast<const char*>(x->data_ptr());
    for (int64_t k = 0; k < nd; ++k) {
      ds[k] = out->strides[k] * es;
      ss[k] = x->strides[k] * es;
      if (flipped[k]) {
        src += (x->shape[k] - 1) * ss[k];
        ss[k] = -ss[k];
      }
    }
    kernels::copy_strided(static_cast<size_t>(es), static_cast<int>(nd), out->shape.data(), src, ss, out->data_ptr(), ds);
  }
  if (is_floating(x->dtype)) {
    forward_rule(out, {x.get()}, [&] { return flip(tangent(x), norm); });
    if (needs_record({x.get()})) {
      auto n = make_node<FlipBackward>({x});
      n->dims = norm;
      set_history(out, n);
    }
  }
  return out;
}

TensorPtr diag_embed(const TensorPtr& x, int64_t offset, int64_t dim1, int64_t dim2) {
  const int64_t nd = x->ndim() + 1;
  const int64_t a = normalize_dim(dim1, nd), b = normalize_dim(dim2, nd);
  GC_CHECK(a != b, RuntimeError, "diagonal dimensions cannot be identical ", dim1, ", ", dim2);
  const int64_t n = (x->ndim() > 0 ? x->shape.back() : 1) + (offset < 0 ? -offset : offset);
  Shape shape;
  for (int64_t d = 0, k = 0; d < nd; ++d) shape.push_back(d == a || d == b ? n : x->shape[k++]);
  auto replay = [offset, a, b](const TensorPtr& t) { return diagonal(t, offset, a, b); };
  if (!is_floating(x->dtype)) {
    // NOTE: no autograd for these dtypes, and view_scatter's accumulating path (taken for a
    // region that is not dense, as a diagonal) adds, which bool cannot: a plain copy.
    TensorPtr out = zeros(shape, x->dtype);
    copy_values(replay(out), x);
    return out;
  }
  // The inverse of diagonal(out, offset, a, b), whose last dim is x's last: its backward is
  // that diagonal of the gradient (view_scatter's rule), its tangent the same scatter.
  return view_scatter(x, shape, replay);
}

}  // namespace gradcore::ops
