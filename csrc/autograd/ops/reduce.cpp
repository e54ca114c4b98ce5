// reduce.cpp — sum mean max over all dims or a set of dims (keepdim), and sum_to.
#include <algorithm>

#include "autograd/ops/common.h"

namespace gradcore::ops {
using autograd::make_node;
using autograd::needs_record;
using autograd::SavedTensor;
using autograd::set_history;

namespace {

// Sorted, unique, normalised dims; empty input means all dims.
std::vector<int64_t> norm_dims(const std::vector<int64_t>& dims, int64_t ndim, const char* op) {
  std::vector<int64_t> out;
  if (dims.empty()) {
    for (int64_t d = 0; d < ndim; ++d) out.push_back(d);
    return out;
  }
  for (int64_t d : dims) out.push_back(normalize_dim(d, ndim));
  std::sort(out.begin(), out.end());
  GC_CHECK(std::adjacent_find(out.begin(), out.end()) == out.end(), ValueError, op, ": repeated dim");
  return out;
}

Shape keepdim_shape(const Shape& s, const std::vector<int64_t>& dims) {
  Shape k = s;
  for (int64_t d : dims) k[d] = 1;
  return k;
}

Shape reduced_shape(const Shape& s, const std::vector<int64_t>& dims, bool keepdim) {
  if (keepdim) return keepdim_shape(s, dims);
  Shape r;
  for (int64_t i = 0; i < static_cast<int64_t>(s.size()); ++i)
    if (!std::binary_search(dims.begin(), dims.end(), i)) r.push_back(s[i]);
  return r;
}

enum class RKind { Sum, Max };

// Reduces runs of adjacent dims in one (outer, n, inner) pass each, last run first.
TensorPtr reduce_forward(RKind kind, const TensorPtr& x, const std::vector<int64_t>& dims) {
  TensorPtr cur = x;
  Shape shape = x->shape;
  size_t i = dims.size();
  while (i > 0) {
    size_t j = i - 1;
    while (j > 0 && dims[j - 1] == dims[j] - 1) --j;
    int64_t d0 = dims[j], d1 = dims[i - 1];  // reduce dims [d0, d1]
    int64_t outer = 1, n = 1, inner = 1;
    for (int64_t d = 0; d < d0; ++d) outer *= shape[d];
    for (int64_t d = d0; d <= d1; ++d) n *= shape[d];
    for (int64_t d = d1 + 1; d < static_cast<int64_t>(shape.size()); ++d) inner *= shape[d];
    for (int64_t d = d0; d <= d1; ++d) shape[d] = 1;
    TensorPtr out = empty(shape, x->dtype);
    if (cur->numel == 0) {  // never loop over the dims of an empty tensor (one may be 2**62)
      if (out->numel) out = zeros(shape, x->dtype);  // max refuses zero-size dims up front
      cur = out;
      i = j;
      continue;
    }
    dispatch(x->dtype, [&](auto t) {
      using T = decltype(t);
      if (kind == RKind::Sum) {
        if (outer == 1 && inner == 1) out->data<T>()[0] = kernels::sum_all<T>(cur->data<T>(), n);
        else kernels::sum_axis<T>(cur->data<T>(), out->data<T>(), outer, n, inner);
      } else {
        if (outer == 1 && inner == 1) out->data<T>()[0] = kernels::max_all<T>(cur->data<T>(), n);
        else kernels::max_axis<T>(cur->data<T>(), out->data<T>(), outer, n, inner);
      }
      return 0;
    });
    cur = out;
    i = j;
  }
  return cur;  // keepdim shape
}

struct SumBackward final : Node {
  Shape in_shape, kd_shape;
  const char* name() const override { return "SumBackward"; }
  tensor_list apply(tensor_list&& g) override { return {expand(reshape(g[0], kd_shape), in_shape)}; }
};

// Note [max gradient at ties and NaN]: ties share the gradient evenly (mask / count), as
// torch.amax and torch.max() do. A NaN maximum follows PyTorch's two conventions:
// * max over all dims (torch.max(x)): the NaN elements share the gradient evenly;
// * max over given dims (torch.amax(x, dim)): no element equals NaN, so the mask is empty and
//   the whole slice gets 0 / 0 = NaN.
struct MaxBackward final : Node {
  SavedTensor x_, y_;  // y_ in keepdim shape
  Shape kd_shape;
  bool all_dims = false;  // x.max() without dims
  const char* name() const override { return "MaxBackward"; }
  tensor_list apply(tensor_list&& g) override {
    TensorPtr x = x_.unpack(this), y = y_.unpack(this);
    TensorPtr mask = eq(detach(x), detach(y));
    if (all_dims && x->numel > 0) {
      const bool nan_max = dispatch(y->dtype, [&](auto t) {
        using T = decltype(t);
        const T v = y->data<T>()[0];
        return v != v;
      });
      if (nan_max) mask = rsub_scalar(eq(detach(x), detach(x)), 1.0);  // 1 where x is NaN
    }
    TensorPtr share = div(mask, sum_kd(mask));
    return {mul(expand(reshape(g[0], kd_shape), x->shape), share)};
  }
  TensorPtr sum_kd(const TensorPtr& m) const {
    std::vector<int64_t> dims;
    for (size_t d = 0; d < kd_shape.size(); ++d)
      if (kd_shape[d] == 1 && m->shape[d] != 1) dims.push_back(static_cast<int64_t>(d));
    autograd::GradModeGuard no_grad(false);
    return dims.empty() ? m : sum(m, dims, true);
  }
  void release_saved() override { x_.reset(); y_.reset(); }
  std::vector<std::pair<std::string, TensorPtr>> saved_tensors() const override { return {{"self", x_.raw()}, {"result", y_.raw()}}; }
};

}  // namespace

int64_t normalize_dim(int64_t dim, int64_t ndim) {
  int64_t n = ndim == 0 ? 1 : ndim;  // a 0-dim tensor accepts dim 0 / -1, as in PyTorch
  GC_CHECK(dim >= -n && dim < n, IndexError, "dim ", dim, " is out of range for a tensor with ", ndim,
           " dimension(s) (expected in [", -n, ", ", n - 1, "])");
  return dim < 0 ? dim + n : dim;
}

TensorPtr sum(const TensorPtr& x, const std::vector<int64_t>& dims_in, bool keepdim) {
  if (x->ndim() == 0) {
    if (!dims_in.empty()) for (int64_t d : dims_in) normalize_dim(d, 0);
    TensorPtr y = contiguous_copy(detach(x));
    forward_rule(y, {x.get()}, [&] { return contiguous_copy(tangent(x)); });
    if (needs_record({x.get()})) {
      auto n = make_node<SumBackward>({x});
      n->in_shape = x->shape;
      n->kd_shape = x->shape;
      set_history(y, n);
    }
    return y;
  }
  std::vector<int64_t> dims = norm_dims(dims_in, x->ndim(), "sum");
  TensorPtr kd = reduce_forward(RKind::Sum, x, dims);
  TensorPtr y = alias(*kd);
  y->shape = reduced_shape(x->shape, dims, keepdim);
  forward_rule(y, {x.get()}, [&] { return sum(tangent(x), dims, keepdim); });
  if (needs_record({x.get()})) {
    auto n = make_node<SumBackward>({x});
    n->in_shape = x->shape;
    n->kd_shape = kd->shape;
    set_history(y, n);
  }
  return y;
}

TensorPtr mean(const TensorPtr& x, const std::vector<int64_t>& dims_in, bool keepdim) {
  std::vector<int64_t> dims = x->ndim() == 0 ? std::vector<int64_t>{} : norm_dims(dims_in, x->ndim(), "mean");
  int64_t count = 1;
  for (int64_t d : dims) count *= x->shape[d];
  // NOTE: the mean of an empty selection is NaN, as in NumPy and PyTorch.
  return mul_scalar(sum(x, dims_in, keepdim), count == 0 ? __builtin_nan("") : 1.0 / static_cast<double>(count));
}

TensorPtr max(const TensorPtr& x, const std::vector<int64_t>& dims_in, bool keepdim) {
  if (x->ndim() == 0) {
    for (int64_t d : dims_in) normalize_dim(d, 0);
    return sum(x, {}, false);  // identity with a gradient of 1
  }
  std::vector<int64_t> dims = norm_dims(dims_in, x->ndim(), "max");
  for (int64_t d : dims)
    GC_CHECK(x->shape[d] > 0, ValueError, "max: reduction over a zero-size dimension of shape ", shape_str(x->shape));
  TensorPtr kd = reduce_forward(RKind::Max, x, dims);
  TensorPtr y = alias(*kd);
  y->shape = reduced_shape(x->shape, dims, keepdim);
  forward_rule(y, {x.get()}, [&] {  // the tangent averaged over the tied maxima
    TensorPtr mask = eq(x, kd);
    return div(sum(mul(tangent(x), mask), dims, keepdim), sum(mask, dims, keepdim));
  });
  if (needs_record({x.get()})) {
    auto n = make_node<MaxBackward>({x});
    n->x_ = SavedTensor(x, false);
    n->y_ = SavedTensor(kd, false);
    n->kd_shape = kd->shape;
    n->all_dims = dims_in.empty();
    set_history(y, n);
  }
  return y;
}

TensorPtr sum_to(const TensorPtr& x, const Shape& shape) {
  if (x->shape == shape) return x;
  const int64_t lead = x->ndim() - static_cast<int64_t>(shape.size());
  GC_CHECK(lead >= 0, ValueError, "sum_to: cannot sum ", shape_str(x->shape), " to ", shape_str(shape));
  std::vector<int64_t> dims;
  for (int64_t d = 0; d < x->ndim(); ++d) {
    if (d < lead) { dims.push_back(d); continue; }
    int64_t want = shape[d - lead];
    GC_CHECK(want == x->shape[d] || want == 1, ValueError, "sum_to: cannot sum ", shape_str(x->shape), " to ",
             shape_str(shape));
    if (want == 1 && x->shape[d] != 1) dims.push_back(d);
  }
  TensorPtr s = dims.empty() ? x : sum(x, dims, true);
  return reshape(s, shape);
}

}  // namespace gradcore::ops
