// view.cpp — views: tensors that share their input's storage with another shape, strides
// and offset (as_strided, view/reshape, permute/transpose, expand, select, slice, narrow,
// squeeze/unsqueeze, diagonal, unfold), their backward (the inverse view-scatter), and
// copies (contiguous, clone, detach).
//
// Note [View autograd]: a view op records a node whose backward maps the view's gradient
// back to the input's shape. Views that only rearrange (permute, reshape, squeeze) do it
// with the inverse rearrangement; expand sums; the others (select, slice, diagonal,
// unfold, as_strided) scatter: zeros of the input's shape, the same view of them, the
// gradient added in (summed where the view overlaps itself, e.g. unfold). A view of a
// tensor that takes part in autograd also records its ViewInfo: the chain's base and a
// `replay` that makes the same view of any tensor of the base's shape. In-place ops on
// views use it to give the base its new history (CopySlices, see inplace.cpp).
#include <algorithm>
#include <cmath>

#include "autograd/ops/common.h"

namespace gradcore::ops {
using autograd::make_node;
using autograd::needs_record;
using autograd::set_history;

namespace {

using Replay = std::function<TensorPtr(const TensorPtr&)>;

// g placed into zeros of `in_shape` through `replay` (differentiable: its backward replays).
struct ViewScatterBackward final : Node {
  Replay replay;
  const char* name() const override { return "ViewScatterBackward0"; }
  tensor_list apply(tensor_list&& g) override { return {replay(g[0])}; }
};

struct ViewBackward final : Node {
  Shape in_shape;
  Replay replay;
  const char* name_ = "AsStridedBackward0";
  const char* name() const override { return name_; }
  tensor_list apply(tensor_list&& g) override { return {view_scatter(g[0], in_shape, replay)}; }
};

struct ReshapeBackward final : Node {
  Shape in_shape;
  const char* name_ = "ViewBackward0";
  const char* name() const override { return name_; }
  tensor_list apply(tensor_list&& g) override { return {reshape(g[0], in_shape)}; }
};

struct PermuteBackward final : Node {
  std::vector<int64_t> inverse;
  const char* name_ = "PermuteBackward0";
  const char* name() const override { return name_; }
  tensor_list apply(tensor_list&& g) override { return {permute(g[0], inverse)}; }
};

struct ExpandBackward final : Node {
  Shape in_shape;
  const char* name() const override { return "ExpandBackward0"; }
  tensor_list apply(tensor_list&& g) override { return {sum_to(g[0], in_shape)}; }
};

struct CloneBackward final : Node {
  const char* name_ = "CloneBackward0";
  const char* name() const override { return name_; }
  tensor_list apply(tensor_list&& g) override { return {g[0]}; }
};

// Links view y of x into autograd: ViewInfo for in-place ops, the forward-mode rule
// (the same view of the tangent) and, when recording, `node` (made by make()).
// NOTE: only views recorded in grad mode track their base; an in-place op on a view of a
// tensor that needs no grad (with a source that does) records on the view alone, where
// PyTorch would also give the base a history.
template <class MakeNode>
TensorPtr finish_view(const TensorPtr& x, TensorPtr y, Replay replay, MakeNode&& make) {
  forward_rule(y, {x.get()}, [&] { return replay(tangent(x)); });
  if (needs_record({x.get()})) {
    auto info = std::make_shared<ViewInfo>();
    if (x->view) {
      info->base = x->view->base;
      Replay first = x->view->replay;
      info->replay = [first, replay](const TensorPtr& t) { return replay(first(t)); };
    } else {
      info->base = x;
      info->replay = replay;
    }
    info->base_grad_fn = info->base->grad_fn.get();
    y->view = std::move(info);
    set_history(y, make());
  }
  return y;
}

TensorPtr scatter_view(const TensorPtr& x, TensorPtr y, Replay replay, const char* name) {
  return finish_view(x, std::move(y), replay, [&] {
    auto n = make_node<ViewBackward>({x});
    n->in_shape = x->shape;
    n->replay = replay;
    n->name_ = name;
    return n;
  });
}

// New geometry over x's storage.
TensorPtr restride(const TensorPtr& x, Shape shape, Shape strides, int64_t offset) {
  auto y = alias(*x);
  y->numel = shape_numel(shape);
  y->shape = std::move(shape);
  y->strides = std::move(strides);
  y->offset = offset;
  y->refresh_contiguous();
  return y;
}

// PyTorch's view stride computation: the strides of x viewed as `shape`, or false when the
// new shape would need a dim to span two non-contiguous chunks of x.
bool view_strides(const Tensor& x, const Shape& shape, Shape& out) {
  out.assign(shape.size(), 0);
  if (x.numel == 0) {  // PyTorch: the old strides for the same shape, else contiguous ones
    out = shape == x.shape ? x.strides : contiguous_strides(shape);
    return true;
  }
  // No shortcut for contiguous x: the strides of its size-1 dims carry over as PyTorch's do
  // (zeros(1, 1).diagonal().view(1).stride() is (2,)).
  Shape os = x.shape, ost = x.strides;
  if (os.empty()) { os = {1}; ost = {1}; }
  int64_t view_d = static_cast<int64_t>(shape.size()) - 1;
  int64_t chunk_base = ost.back(), tensor_numel = 1, view_numel = 1;
  for (int64_t d = static_cast<int64_t>(os.size()) - 1; d >= 0; --d) {
    tensor_numel *= os[d];
    if (d == 0 || (os[d - 1] != 1 && ost[d - 1] != tensor_numel * chunk_base)) {
      while (view_d >= 0 && (view_numel < tensor_numel || shape[view_d] == 1)) {
        out[view_d] = view_numel * chunk_base;
        view_numel *= shape[view_d];
        --view_d;
      }
      if (view_numel != tensor_numel) return false;
      if (d > 0) {
        chunk_base = ost[d - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  return view_d == -1;
}

// The target shape of view/reshape with at most one -1 inferred (RuntimeError as PyTorch).
Shape infer_shape(const Tensor& x, const Shape& shape_in) {
  Shape shape = shape_in;
  int64_t infer = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      GC_CHECK(infer < 0, ShapeError, "only one dimension can be inferred (reshape to ", shape_str(shape_in), ")");
      infer = static_cast<int64_t>(i);
      shape[i] = 1;
    } else {
      GC_CHECK(shape[i] >= 0, RuntimeError, "invalid shape dimension ", shape[i]);
    }
  }
  int64_t known = shape_numel(shape);  // See Note [Shape overflow] (core/tensor.cpp)
  if (infer >= 0) {
    GC_CHECK(known != 0, RuntimeError, "cannot reshape tensor of 0 elements into shape ", shape_str(shape_in),
             " because the unspecified dimension size -1 can be any value and is ambiguous");
    GC_CHECK(x.numel % known == 0, ShapeError, "shape '", shape_str(shape_in), "' is invalid for input of size ",
             x.numel);
    shape[infer] = x.numel / known;
    known *= shape[infer];
  }
  GC_CHECK(known == x.numel, ShapeError, "shape '", shape_str(shape_in), "' is invalid for input of size ", x.numel);
  return shape;
}

TensorPtr view_impl(const TensorPtr& x, const Shape& shape, const Shape& strides, const char* name) {
  TensorPtr y = restride(x, shape, strides, x->offset);
  return finish_view(x, y, [shape](const TensorPtr& t) { return reshape(t, shape); }, [&] {
    auto n = make_node<ReshapeBackward>({x});
    n->in_shape = x->shape;
    n->name_ = name;
    return n;
  });
}

}  // namespace

int64_t normalize_dim(int64_t dim, int64_t ndim) {
  int64_t n = ndim == 0 ? 1 : ndim;  // a 0-dim tensor accepts dim 0 / -1, as in PyTorch
  GC_CHECK(dim >= -n && dim < n, IndexError, "Dimension out of range (expected to be in range of [", -n, ", ",
           n - 1, "], but got ", dim, ")");
  return dim < 0 ? dim + n : dim;
}

TensorPtr dense(const TensorPtr& x) {
  if (x->is_contiguous) return x;
  TensorPtr y = empty(x->shape, x->dtype);
  copy_values(y, x);
  return y;
}

void copy_values(const TensorPtr& dst, const TensorPtr& src) {
  // dst[...] = src[...] (src broadcast to dst's shape); same dtype; no checks, no version bump.
  if (dst->numel == 0) return;
  const size_t es = dtype_size(dst->dtype);
  const int nd = static_cast<int>(dst->shape.size());
  GC_CHECK(nd <= kernels::kMaxDims, ValueError, "too many dimensions (", nd, ")");
  int64_t ds[kernels::kMaxDims], ss[kernels::kMaxDims];
  for (int i = 0; i < nd; ++i) ds[i] = dst->strides[i] * static_cast<int64_t>(es);
  broadcast_byte_strides(*src, dst->shape, ss);
  kernels::copy_strided(es, nd, dst->shape.data(), src->data_ptr(), ss, dst->data_ptr(), ds);
}

void broadcast_byte_strides(const Tensor& t, const Shape& shape, int64_t* out) {
  const size_t lead = shape.size() - t.shape.size();
  const int64_t es = static_cast<int64_t>(dtype_size(t.dtype));
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i < lead) { out[i] = 0; continue; }
    const int64_t d = t.shape[i - lead];
    out[i] = (d == 1 && shape[i] != 1) ? 0 : t.strides[i - lead] * es;
  }
}

TensorPtr view_scatter(const TensorPtr& g, const Shape& in_shape, const std::function<TensorPtr(const TensorPtr&)>& replay) {
  TensorPtr out = zeros(in_shape, g->dtype);
  TensorPtr region;
  {
    autograd::GradModeGuard off(false);
    autograd::fw::DisableGuard no_tangent;
    region = replay(out);
  }
  if (region->non_overlapping() || region->numel <= 1) {
    copy_values(region, g);
  } else {
    // The view reaches some elements several times (unfold with step < size, as_strided):
    // each occurrence adds its gradient, sequentially (no races, a fixed order).
    accumulate_overlapping(region, dense(g));
  }
  forward_rule(out, {g.get()}, [&] { return view_scatter(tangent(g), in_shape, replay); });
  if (needs_record({g.get()})) {
    auto n = make_node<ViewScatterBackward>({g});
    n->replay = replay;
    set_history(out, n);
  }
  return out;
}

TensorPtr as_strided(const TensorPtr& x, const Shape& size, const Shape& stride, int64_t storage_offset) {
  GC_CHECK(size.size() == stride.size(), RuntimeError, "as_strided: mismatch in length of strides and shape");
  for (int64_t s : stride) GC_CHECK(s >= 0, RuntimeError, "as_strided: Negative strides are not supported at the moment, got strides: ", shape_str(stride));
  TensorPtr y = as_strided_alias(*x, size, stride, storage_offset);
  // Replayed relative to the input's own offset, so that the view of a gradient (offset 0) matches.
  const int64_t rel = storage_offset - x->offset;
  return scatter_view(x, y, [size, stride, rel](const TensorPtr& t) {
    return as_strided(dense(t), size, stride, dense(t)->offset + rel);
  }, "AsStridedBackward0");
}

TensorPtr view(const TensorPtr& x, const Shape& shape_in) {
  Shape shape = infer_shape(*x, shape_in);
  Shape strides;
  GC_CHECK(view_strides(*x, shape, strides), RuntimeError,
           "view size is not compatible with input tensor's size and stride (at least one dimension spans across "
           "two contiguous subspaces). Use .reshape(...) instead.");
  return view_impl(x, shape, strides, "ViewBackward0");
}

TensorPtr reshape(const TensorPtr& x, const Shape& shape_in) {
  Shape shape = infer_shape(*x, shape_in);
  Shape strides;
  if (view_strides(*x, shape, strides)) return view_impl(x, shape, strides, "ViewBackward0");
  return view_impl(contiguous(x), shape, contiguous_strides(shape), "ViewBackward0");
}

TensorPtr permute(const TensorPtr& x, const std::vector<int64_t>& dims) {
  const int64_t nd = x->ndim();
  GC_CHECK(static_cast<int64_t>(dims.size()) == nd, ShapeError,
           "permute(sparse_coo): number of dimensions in the tensor input does not match the length of the desired "
           "ordering of dimensions i.e. input.dim() = ", nd, " is not equal to len(dims) = ", dims.size());
  std::vector<int64_t> perm(nd), inverse(nd, -1);
  for (int64_t i = 0; i < nd; ++i) {
    perm[i] = normalize_dim(dims[i], nd);
    GC_CHECK(inverse[perm[i]] < 0, ShapeError, "permute(): duplicate dims are not allowed (dim ", dims[i],
             " is repeated).");
    inverse[perm[i]] = i;
  }
  Shape shape(nd), strides(nd);
  for (int64_t i = 0; i < nd; ++i) {
    shape[i] = x->shape[perm[i]];
    strides[i] = x->strides[perm[i]];
  }
  TensorPtr y = restride(x, shape, strides, x->offset);
  return finish_view(x, y, [perm](const TensorPtr& t) { return permute(t, perm); }, [&] {
    auto n = make_node<PermuteBackward>({x});
    n->inverse = inverse;
    return n;
  });
}

TensorPtr transpose(const TensorPtr& x, int64_t dim0, int64_t dim1) {
  const int64_t nd = x->ndim();
  int64_t a = normalize_dim(dim0, nd), b = normalize_dim(dim1, nd);
  if (nd == 0) return view_impl(x, x->shape, x->strides, "TransposeBackward0");
  std::vector<int64_t> dims(nd);
  for (int64_t i = 0; i < nd; ++i) dims[i] = i;
  std::swap(dims[a], dims[b]);
  return permute(x, dims);
}

TensorPtr expand(const TensorPtr& x, const Shape& shape_in) {
  if (x->shape == shape_in) return x;
  const int64_t nd = static_cast<int64_t>(shape_in.size()), lead = nd - x->ndim();
  GC_CHECK(lead >= 0, ShapeError, "expand: the number of sizes provided (", nd,
           ") must be greater or equal to the number of dimensions in the tensor (", x->ndim(), ")");
  Shape shape(nd), strides(nd);
  for (int64_t d = 0; d < nd; ++d) {
    const int64_t want = shape_in[d];
    if (d < lead) {
      GC_CHECK(want >= 0, ShapeError, "expand: the expanded size ", want, " is not allowed in a leading, non-existing dimension ", d);
      shape[d] = want;
      strides[d] = 0;  // a new dim of size 1 gets its stride below
      continue;
    }
    const int64_t have = x->shape[d - lead];
    if (want == -1 || want == have) {
      shape[d] = have;
      strides[d] = x->strides[d - lead];
    } else {
      GC_CHECK(have == 1, ShapeError, "The expanded size of the tensor (", want,
               ") must match the existing size (", have, ") at non-singleton dimension ", d, ".  Target sizes: ",
               shape_str(shape_in), ".  Tensor sizes: ", shape_str(x->shape));
      GC_CHECK(want >= 0, ShapeError, "expand: invalid size ", want);
      shape[d] = want;
      strides[d] = 0;
    }
  }
  // As PyTorch (inferExpandGeometry): a new leading dim of size 1 strides over the dims after
  // it; every dim expanded from a 0-dim tensor has stride 0.
  for (int64_t d = x->ndim() > 0 ? lead - 1 : -1; d >= 0; --d)
    if (shape[d] == 1) strides[d] = shape[d + 1] * strides[d + 1];
  shape_numel(shape);  // overflow check
  TensorPtr y = restride(x, shape, strides, x->offset);
  return finish_view(x, y, [shape](const TensorPtr& t) { return expand(t, shape); }, [&] {
    auto n = make_node<ExpandBackward>({x});
    n->in_shape = x->shape;
    return n;
  });
}

TensorPtr select(const TensorPtr& x, int64_t dim, int64_t index) {
  GC_CHECK(x->ndim() > 0, IndexError, "select() cannot be applied to a 0-dim tensor.");
  const int64_t d = normalize_dim(dim, x->ndim()), n = x->shape[d];
  GC_CHECK(index >= -n && index < n, IndexError, "index ", index, " is out of bounds for dimension ", d,
           " with size ", n);
  const int64_t i = index < 0 ? index + n : index;
  Shape shape = x->shape, strides = x->strides;
  shape.erase(shape.begin() + d);
  strides.erase(strides.begin() + d);
  TensorPtr y = restride(x, shape, strides, x->offset + i * x->strides[d]);
  return scatter_view(x, y, [d, i](const TensorPtr& t) { return select(t, d, i); }, "SelectBackward0");
}

TensorPtr slice(const TensorPtr& x, int64_t dim, int64_t start, int64_t stop, int64_t step) {
  GC_CHECK(x->ndim() > 0, IndexError, "slice() cannot be applied to a 0-dim tensor.");
  GC_CHECK(step > 0, ValueError, "step must be greater than zero");
  const int64_t d = normalize_dim(dim, x->ndim()), n = x->shape[d];
  // Python's clamping of start/stop (already normalised by the caller for negative steps).
  auto clamp = [n](int64_t v) { return v < 0 ? std::max<int64_t>(v + n, 0) : std::min(v, n); };
  start = clamp(start);
  stop = clamp(stop);
  const int64_t len = stop > start ? (stop - start + step - 1) / step : 0;
  Shape shape = x->shape, strides = x->strides;
  shape[d] = len;
  strides[d] = x->strides[d] * step;
  // The offset moves to start even when the result is empty, as PyTorch (x[:, 3:3].storage_offset() is 3).
  TensorPtr y = restride(x, shape, strides, x->offset + start * x->strides[d]);
  return scatter_view(x, y, [d, start, stop, step](const TensorPtr& t) { return slice(t, d, start, stop, step); },
                      "SliceBackward0");
}

TensorPtr narrow(const TensorPtr& x, int64_t dim, int64_t start, int64_t length) {
  GC_CHECK(x->ndim() > 0, RuntimeError, "narrow() cannot be applied to a 0-dim tensor.");
  const int64_t d = normalize_dim(dim, x->ndim()), n = x->shape[d];
  GC_CHECK(start >= -n && start <= n, IndexError, "start out of range (expected to be in range of [", -n, ", ", n,
           "], but got ", start, ")");
  if (start < 0) start += n;
  GC_CHECK(length >= 0 && start <= n - length, RuntimeError, "start (", start, ") + length (", length,
           ") exceeds dimension size (", n, ").");
  return slice(x, d, start, start + length, 1);
}

TensorPtr squeeze(const TensorPtr& x, const std::vector<int64_t>& dims) {
  const int64_t nd = x->ndim();
  std::vector<bool> drop(nd, false);
  if (dims.empty()) {
    for (int64_t d = 0; d < nd; ++d) drop[d] = x->shape[d] == 1;
  } else {
    for (int64_t d : dims) {
      int64_t k = normalize_dim(d, nd);
      if (nd > 0 && x->shape[k] == 1) drop[k] = true;
    }
  }
  Shape shape, strides;
  for (int64_t d = 0; d < nd; ++d)
    if (!drop[d]) { shape.push_back(x->shape[d]); strides.push_back(x->strides[d]); }
  return view_impl(x, shape, strides, "SqueezeBackward0");
}

TensorPtr unsqueeze(const TensorPtr& x, int64_t dim) {
  const int64_t nd = x->ndim();
  const int64_t d = normalize_dim(dim, nd + 1);
  Shape shape = x->shape, strides = x->strides;
  const int64_t st = d < nd ? x->strides[d] * x->shape[d] : 1;
  shape.insert(shape.begin() + d, 1);
  strides.insert(strides.begin() + d, st);
  return view_impl(x, shape, strides, "UnsqueezeBackward0");
}

TensorPtr diagonal(const TensorPtr& x, int64_t offset, int64_t dim1, int64_t dim2) {
  const int64_t nd = x->ndim();
  GC_CHECK(nd >= 2, RuntimeError, "diagonal dimensions requested for a tensor with ", nd, " dimensions");
  const int64_t a = normalize_dim(dim1, nd), b = normalize_dim(dim2, nd);
  GC_CHECK(a != b, RuntimeError, "diagonal dimensions cannot be identical ", dim1, ", ", dim2);
  int64_t len, off = x->offset;
  if (offset >= 0) {
    len = std::max<int64_t>(std::min(x->shape[a], x->shape[b] - offset), 0);
    off += len ? offset * x->strides[b] : 0;
  } else {
    len = std::max<int64_t>(std::min(x->shape[a] + offset, x->shape[b]), 0);
    off += len ? -offset * x->strides[a] : 0;
  }
  Shape shape, strides;
  for (int64_t d = 0; d < nd; ++d)
    if (d != a && d != b) { shape.push_back(x->shape[d]); strides.push_back(x->strides[d]); }
  shape.push_back(len);
  strides.push_back(x->strides[a] + x->strides[b]);
  TensorPtr y = restride(x, shape, strides, off);
  return scatter_view(x, y, [offset, a, b](const TensorPtr& t) { return diagonal(t, offset, a, b); },
                      "DiagonalBackward0");
}

TensorPtr unfold(const TensorPtr& x, int64_t dim, int64_t size, int64_t step) {
  const int64_t nd = x->ndim();
  const int64_t d = normalize_dim(dim, nd);
  const int64_t n = nd == 0 ? 1 : x->shape[d];
  GC_CHECK(size >= 0 && size <= n, RuntimeError, "maximum size for tensor at dimension ", d, " is ", n,
           " but size is ", size);
  GC_CHECK(step > 0, RuntimeError, "step is ", step, " but must be > 0");
  Shape shape = x->shape, strides = x->strides;
  if (nd == 0) {
    shape = {size};
    strides = {1};
  } else {
    shape[d] = (n - size) / step + 1;
    strides[d] = x->strides[d] * step;
    shape.push_back(size);
    strides.push_back(x->strides[d]);
  }
  TensorPtr y = restride(x, shape, strides, x->offset);
  return scatter_view(x, y, [d, size, step](const TensorPtr& t) { return unfold(t, d, size, step); },
                      "UnfoldBackward0");
}

TensorPtr detach(const TensorPtr& x) { return alias(*x); }

TensorPtr clone(const TensorPtr& x) {
  TensorPtr y = empty_like_layout(*x, x->dtype);
  copy_values(y, x);
  forward_rule(y, {x.get()}, [&] { return clone(tangent(x)); });
  if (needs_record({x.get()})) set_history(y, make_node<CloneBackward>({x}));
  return y;
}

TensorPtr contiguous(const TensorPtr& x) {
  if (x->is_contiguous) return x;
  TensorPtr y = empty(x->shape, x->dtype);
  copy_values(y, x);
  forward_rule(y, {x.get()}, [&] { return contiguous(tangent(x)); });
  if (needs_record({x.get()})) {
    auto n = make_node<CloneBackward>({x});
    n->name_ = "CloneBackward0";
    set_history(y, n);
  }
  return y;
}

}  // namespace gradcore::ops
