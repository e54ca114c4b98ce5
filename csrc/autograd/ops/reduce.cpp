// reduce.cpp — sum mean max over all dims or a set of dims (keepdim), and sum_to.
#include <algorithm>

#include "autograd/ops/common.h"
#include "cpu/parallel.h"

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

// Integer / bool reductions over the middle axis of (outer, n, inner): exact, so a plain
// loop (sums accumulate in the output type, int64).
template <class T, class Acc>
void generic_reduce(RKind kind, const T* x, Acc* y, int64_t outer, int64_t n, int64_t inner) {
  cpu::parallel_range(outer * inner, 1 << 12, [&](int64_t b, int64_t e) {
    for (int64_t k = b; k < e; ++k) {
      const int64_t o = k / inner, j = k % inner;
      const T* p = x + o * n * inner + j;
      if (kind == RKind::Sum) {
        Acc acc = 0;
        for (int64_t i = 0; i < n; ++i) acc = static_cast<Acc>(acc + static_cast<Acc>(p[i * inner]));
        y[k] = acc;
      } else {
        T m = p[0];
        for (int64_t i = 1; i < n; ++i) m = p[i * inner] > m ? p[i * inner] : m;
        y[k] = static_cast<Acc>(m);
      }
    }
  });
}

// Reduces runs of adjacent dims in one (outer, n, inner) pass each, last run first.
// float32/float64 run the table's pairwise kernels; integer and bool inputs the exact loop
// above (sums in `out_dtype`, int64); the input is made contiguous first.
TensorPtr reduce_forward(RKind kind, const TensorPtr& x_in, const std::vector<int64_t>& dims, DType out_dtype) {
  TensorPtr cur = dense(x_in);
  const TensorPtr& x = cur;
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
    TensorPtr out = empty(shape, out_dtype);
    if (cur->numel == 0) {  // never loop over the dims of an empty tensor (one may be 2**62)
      if (out->numel) out = zeros(shape, out_dtype);  // max refuses zero-size dims up front
      cur = out;
      i = j;
      continue;
    }
    if (!is_f32_or_f64(cur->dtype)) {
      dispatch_arith(cur->dtype, [&](auto tag) {
        using T = typename decltype(tag)::type;
        if (out_dtype == cur->dtype) generic_reduce<T, T>(kind, cur->data<T>(), out->data<T>(), outer, n, inner);
        else generic_reduce<T, int64_t>(kind, cur->data<T>(), out->data<int64_t>(), outer, n, inner);
        return 0;
      });
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
  const char* name() const override { return "SumBackward0"; }
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
  const char* name() const override { return "MaxBackward0"; }
  tensor_list apply(tensor_list&& g) override {
    TensorPtr x = x_.unpack(this), y = y_.unpack(this);
    TensorPtr mask = to_dtype(eq(detach(x), detach(y)), x->dtype);
    if (all_dims && x->numel > 0) {
      const bool nan_max = dispatch(y->dtype, [&](auto t) {
        using T = decltype(t);
        const T v = dense(y)->data<T>()[0];
        return v != v;
      });
      if (nan_max) mask = to_dtype(classify(FloatClass::NAN_, detach(x)), x->dtype);  // 1 where x is NaN
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

namespace {
// kd (keepdim shape, contiguous) seen with the reduced shape.
TensorPtr with_shape(const TensorPtr& kd, Shape shape) {
  TensorPtr y = alias(*kd);
  y->strides = contiguous_strides(shape);
  y->shape = std::move(shape);
  y->refresh_contiguous();
  return y;
}

TensorPtr sum_float(const TensorPtr& x, const std::vector<int64_t>& dims_in, bool keepdim) {
  if (x->ndim() == 0) {
    for (int64_t d : dims_in) normalize_dim(d, 0);
    TensorPtr y = clone(detach(x));
    forward_rule(y, {x.get()}, [&] { return clone(tangent(x)); });
    if (needs_record({x.get()})) {
      auto n = make_node<SumBackward>({x});
      n->in_shape = x->shape;
      n->kd_shape = x->shape;
      set_history(y, n);
    }
    return y;
  }
  std::vector<int64_t> dims = norm_dims(dims_in, x->ndim(), "sum");
  TensorPtr kd = reduce_forward(RKind::Sum, x, dims, x->dtype);
  TensorPtr y = with_shape(kd, reduced_shape(x->shape, dims, keepdim));
  forward_rule(y, {x.get()}, [&] { return sum(tangent(x), dims, keepdim); });
  if (needs_record({x.get()})) {
    auto n = make_node<SumBackward>({x});
    n->in_shape = x->shape;
    n->kd_shape = kd->shape;
    set_history(y, n);
  }
  return y;
}
}  // namespace

TensorPtr sum(const TensorPtr& x_in, const std::vector<int64_t>& dims_in, bool keepdim, const DType* dtype) {
  TensorPtr x = dtype ? to_dtype(x_in, *dtype) : x_in;
  if (!is_floating(x->dtype)) {  // integers and bool: exact sums in int64 (PyTorch's default)
    std::vector<int64_t> dims = x->ndim() == 0 ? std::vector<int64_t>{} : norm_dims(dims_in, x->ndim(), "sum");
    if (x->ndim() == 0) for (int64_t d : dims_in) normalize_dim(d, 0);
    const DType out = dtype ? *dtype : DType::Int64;
    if (x->ndim() == 0) return to_dtype(clone(x), out);
    TensorPtr kd = reduce_forward(RKind::Sum, x, dims, out);
    return with_shape(kd, reduced_shape(x->shape, dims, keepdim));
  }
  return float_op(x, [&](const TensorPtr& xf) { return sum_float(xf, dims_in, keepdim); });
}

TensorPtr mean(const TensorPtr& x_in, const std::vector<int64_t>& dims_in, bool keepdim, const DType* dtype) {
  TensorPtr x = dtype ? to_dtype(x_in, *dtype) : x_in;
  GC_CHECK(is_floating(x->dtype), RuntimeError,
           "mean(): could not infer output dtype. Input dtype must be either a floating point or complex dtype. Got: ",
           dtype_torch_name(x->dtype));
  std::vector<int64_t> dims = x->ndim() == 0 ? std::vector<int64_t>{} : norm_dims(dims_in, x->ndim(), "mean");
  int64_t count = 1;
  for (int64_t d : dims) count *= x->shape[d];
  // NOTE: the mean of an empty selection is NaN, as in NumPy and PyTorch.
  return mul_scalar(sum(x, dims_in, keepdim), count == 0 ? __builtin_nan("") : 1.0 / static_cast<double>(count));
}

TensorPtr max(const TensorPtr& x_in, const std::vector<int64_t>& dims_in, bool keepdim) {
  if (is_floating(x_in->dtype) && !is_f32_or_f64(x_in->dtype))
    return float_op(x_in, [&](const TensorPtr& x) { return max(x, dims_in, keepdim); });
  const TensorPtr& x = x_in;
  if (x->ndim() == 0) {
    for (int64_t d : dims_in) normalize_dim(d, 0);
    return is_floating(x->dtype) ? sum(x, {}, false) : clone(x);  // identity with a gradient of 1
  }
  GC_CHECK(!(dims_in.empty() && x->numel == 0), RuntimeError,
           "max(): Expected reduction dim to be specified for input.numel() == 0. Specify the reduction dim with "
           "the 'dim' argument.");
  std::vector<int64_t> dims = norm_dims(dims_in, x->ndim(), "max");
  for (int64_t d : dims)
    GC_CHECK(x->shape[d] > 0, IndexError, "max(): Expected reduction dim ", d,
             " to have non-zero size (input shape ", shape_str(x->shape), ")");
  TensorPtr kd = reduce_forward(RKind::Max, x, dims, x->dtype);
  TensorPtr y = with_shape(kd, reduced_shape(x->shape, dims, keepdim));
  if (!is_floating(x->dtype)) return y;
  forward_rule(y, {x.get()}, [&] {  // the tangent averaged over the tied maxima
    TensorPtr mask = to_dtype(eq(x, kd), x->dtype);
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
  GC_CHECK(lead >= 0, ShapeError, "sum_to: cannot sum ", shape_str(x->shape), " to ", shape_str(shape));
  std::vector<int64_t> dims;
  for (int64_t d = 0; d < x->ndim(); ++d) {
    if (d < lead) { dims.push_back(d); continue; }
    int64_t want = shape[d - lead];
    GC_CHECK(want == x->shape[d] || want == 1, ShapeError, "sum_to: cannot sum ", shape_str(x->shape), " to ",
             shape_str(shape));
    if (want == 1 && x->shape[d] != 1) dims.push_back(d);
  }
  TensorPtr s = dims.empty() ? x : sum(x, dims, true);
  return reshape(s, shape);
}

}  // namespace gradcore::ops
