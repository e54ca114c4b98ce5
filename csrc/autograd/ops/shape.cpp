// shape.cpp — reshape (a view), permute/transpose, expand, detach, slicing, dtype
// conversion, factories and the in-place writes used by optimizers and init.
#include <cmath>

#include "autograd/ops/common.h"

namespace gradcore::ops {
using autograd::make_node;
using autograd::needs_record;
using autograd::set_history;

namespace {

struct ReshapeBackward final : Node {
  Shape in_shape;
  const char* name() const override { return "ReshapeBackward"; }
  tensor_list apply(tensor_list&& g) override { return {reshape(g[0], in_shape)}; }
};

struct PermuteBackward final : Node {
  std::vector<int64_t> inverse;
  const char* name() const override { return "PermuteBackward"; }
  tensor_list apply(tensor_list&& g) override { return {permute(g[0], inverse)}; }
};

struct ExpandBackward final : Node {
  Shape in_shape;
  const char* name() const override { return "ExpandBackward"; }
  tensor_list apply(tensor_list&& g) override { return {sum_to(g[0], in_shape)}; }
};

struct SliceBackward final : Node {
  Shape in_shape;
  int64_t start = 0;
  const char* name() const override { return "SliceBackward"; }
  tensor_list apply(tensor_list&& g) override { return {slice0_backward(g[0], in_shape, start)}; }
};

// slice0_backward's own backward: slice the gradient again.
struct SliceScatterBackward final : Node {
  int64_t start = 0, stop = 0;
  const char* name() const override { return "SliceScatterBackward"; }
  tensor_list apply(tensor_list&& g) override { return {slice0(g[0], start, stop)}; }
};

struct ToDtypeBackward final : Node {
  DType in_dtype;
  const char* name() const override { return "ToCopyBackward"; }
  tensor_list apply(tensor_list&& g) override { return {to_dtype(g[0], in_dtype)}; }
};

struct CloneBackward final : Node {
  const char* name() const override { return "CloneBackward"; }
  tensor_list apply(tensor_list&& g) override { return {g[0]}; }
};

// A new contiguous tensor of `shape` read from x through element `strides` (permute, expand).
TensorPtr gather(const Tensor& x, const Shape& shape, const std::vector<int64_t>& strides) {
  TensorPtr y = empty(shape, x.dtype);
  dispatch(x.dtype, [&](auto t) {
    using T = decltype(t);
    kernels::strided_copy<T>(static_cast<int>(shape.size()), shape.data(), x.data<T>(), strides.data(), y->data<T>());
    return 0;
  });
  return y;
}

void check_inplace(const TensorPtr& t, const char* op) {
  GC_CHECK(!(autograd::grad_enabled() && t->needs_grad()), RuntimeError, op,
           ": in-place write to a tensor that requires grad; wrap it in gc.no_grad()");
  GC_CHECK(!tangent(t), RuntimeError, op, ": in-place write to a dual tensor (forward-mode AD) is not supported");
  t->storage->version++;
}

}  // namespace

TensorPtr reshape(const TensorPtr& x, const Shape& shape_in) {
  Shape shape = shape_in;
  int64_t infer = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      GC_CHECK(infer < 0, ValueError, "reshape: only one dimension can be -1, got ", shape_str(shape_in));
      infer = static_cast<int64_t>(i);
      shape[i] = 1;
    } else {
      GC_CHECK(shape[i] >= 0, ValueError, "reshape: invalid shape ", shape_str(shape_in));
    }
  }
  int64_t known = shape_numel(shape);  // See Note [Shape overflow] (core/tensor.cpp)
  if (infer >= 0) {
    GC_CHECK(known != 0 && x->numel % known == 0, ValueError, "reshape: cannot reshape ", shape_str(x->shape),
             " to ", shape_str(shape_in));
    shape[infer] = x->numel / known;
    known *= shape[infer];
  }
  GC_CHECK(known == x->numel, ValueError, "reshape: cannot reshape ", shape_str(x->shape), " (", x->numel,
           " elements) to ", shape_str(shape_in));
  TensorPtr y = alias(*x);
  y->shape = shape;
  forward_rule(y, {x.get()}, [&] { return reshape(tangent(x), shape); });
  if (needs_record({x.get()})) {
    auto n = make_node<ReshapeBackward>({x});
    n->in_shape = x->shape;
    set_history(y, n);
  }
  return y;
}

TensorPtr permute(const TensorPtr& x, const std::vector<int64_t>& dims) {
  const int64_t nd = x->ndim();
  GC_CHECK(static_cast<int64_t>(dims.size()) == nd, ValueError, "permute: ", dims.size(),
           " dims given for a tensor of shape ", shape_str(x->shape));
  std::vector<int64_t> perm(nd), inverse(nd, -1);
  for (int64_t i = 0; i < nd; ++i) {
    perm[i] = normalize_dim(dims[i], nd);
    GC_CHECK(inverse[perm[i]] < 0, ValueError, "permute: repeated dim ", dims[i]);
    inverse[perm[i]] = i;
  }
  Shape shape(nd);
  std::vector<int64_t> xstride(nd), strides(nd);
  int64_t st = 1;
  for (int64_t d = nd - 1; d >= 0; --d) { xstride[d] = st; st *= x->shape[d]; }
  for (int64_t i = 0; i < nd; ++i) { shape[i] = x->shape[perm[i]]; strides[i] = xstride[perm[i]]; }
  TensorPtr y = gather(*x, shape, strides);
  forward_rule(y, {x.get()}, [&] { return permute(tangent(x), perm); });
  if (needs_record({x.get()})) {
    auto n = make_node<PermuteBackward>({x});
    n->inverse = inverse;
    set_history(y, n);
  }
  return y;
}

TensorPtr transpose(const TensorPtr& x, int64_t dim0, int64_t dim1) {
  const int64_t nd = x->ndim();
  std::vector<int64_t> dims(nd);
  for (int64_t i = 0; i < nd; ++i) dims[i] = i;
  if (nd == 0) return reshape(x, x->shape);
  int64_t a = normalize_dim(dim0, nd), b = normalize_dim(dim1, nd);
  std::swap(dims[a], dims[b]);
  return permute(x, dims);
}

TensorPtr expand(const TensorPtr& x, const Shape& shape) {
  if (x->shape == shape) return x;
  const int64_t nd = static_cast<int64_t>(shape.size()), lead = nd - x->ndim();
  GC_CHECK(lead >= 0 && nd <= kernels::kMaxDims, ValueError, "expand: cannot broadcast ", shape_str(x->shape), " to ",
           shape_str(shape));
  std::vector<int64_t> strides(nd);
  int64_t st = 1;
  for (int64_t d = nd - 1; d >= 0; --d) {
    if (d < lead) { strides[d] = 0; continue; }
    int64_t xd = x->shape[d - lead];
    GC_CHECK(xd == shape[d] || xd == 1, ValueError, "expand: cannot broadcast ", shape_str(x->shape), " to ",
             shape_str(shape));
    strides[d] = xd == 1 ? 0 : st;
    st *= xd;
  }
  TensorPtr y = gather(*x, shape, strides);
  forward_rule(y, {x.get()}, [&] { return expand(tangent(x), shape); });
  if (needs_record({x.get()})) {
    auto n = make_node<ExpandBackward>({x});
    n->in_shape = x->shape;
    set_history(y, n);
  }
  return y;
}

TensorPtr detach(const TensorPtr& x) { return alias(*x); }

TensorPtr contiguous_copy(const TensorPtr& x) {
  TensorPtr y = empty(x->shape, x->dtype);
  dispatch(x->dtype, [&](auto t) {
    using T = decltype(t);
    kernels::copy<T>(x->data<T>(), y->data<T>(), x->numel);
    return 0;
  });
  forward_rule(y, {x.get()}, [&] { return contiguous_copy(tangent(x)); });
  if (needs_record({x.get()})) set_history(y, make_node<CloneBackward>({x}));
  return y;
}

TensorPtr slice0(const TensorPtr& x, int64_t start, int64_t stop) {
  GC_CHECK(x->ndim() >= 1, IndexError, "slicing a 0-dim tensor");
  const int64_t n0 = x->shape[0];
  start = start < 0 ? std::max<int64_t>(start + n0, 0) : std::min(start, n0);
  stop = stop < 0 ? std::max<int64_t>(stop + n0, 0) : std::min(stop, n0);
  if (stop < start) stop = start;
  int64_t row = n0 ? x->numel / n0 : 0;
  TensorPtr y = alias(*x);
  y->offset = x->offset + start * row;
  y->shape[0] = stop - start;
  y->numel = (stop - start) * row;
  forward_rule(y, {x.get()}, [&] { return slice0(tangent(x), start, stop); });
  if (needs_record({x.get()})) {
    auto n = make_node<SliceBackward>({x});
    n->in_shape = x->shape;
    n->start = start;
    set_history(y, n);
  }
  return y;
}

TensorPtr slice0_backward(const TensorPtr& g, const Shape& in_shape, int64_t start) {
  // Scatter g into zeros of in_shape at rows [start, start + g.shape[0]). Linear in g, so
  // the forward rule is the same scatter of the tangent, and the backward slices.
  TensorPtr out = zeros(in_shape, g->dtype);
  int64_t row = in_shape.empty() || in_shape[0] == 0 ? 0 : out->numel / in_shape[0];
  TensorPtr dst = alias(*out);
  dst->offset = start * row;
  dst->numel = g->numel;
  dst->shape = g->shape;
  copy_(dst, detach(g));
  forward_rule(out, {g.get()}, [&] { return slice0_backward(tangent(g), in_shape, start); });
  if (needs_record({g.get()})) {
    auto n = make_node<SliceScatterBackward>({g});
    n->start = start;
    n->stop = start + (g->shape.empty() ? 0 : g->shape[0]);
    set_history(out, n);
  }
  return out;
}

TensorPtr to_dtype(const TensorPtr& x, DType dtype) {
  if (x->dtype == dtype) return x;
  TensorPtr y = empty(x->shape, dtype);
  if (dtype == DType::Float64) kernels::cast<float, double>(x->data<float>(), y->data<double>(), x->numel);
  else kernels::cast<double, float>(x->data<double>(), y->data<float>(), x->numel);
  forward_rule(y, {x.get()}, [&] { return to_dtype(tangent(x), dtype); });
  if (needs_record({x.get()})) {
    auto n = make_node<ToDtypeBackward>({x});
    n->in_dtype = x->dtype;
    set_history(y, n);
  }
  return y;
}

// ---- factories ----
TensorPtr full(const Shape& shape, double value, DType dtype) {
  TensorPtr t = empty(shape, dtype);
  dispatch(dtype, [&](auto z) {
    using T = decltype(z);
    kernels::fill<T>(t->data<T>(), static_cast<T>(value), t->numel);
    return 0;
  });
  return t;
}
TensorPtr zeros(const Shape& shape, DType dtype) { return full(shape, 0.0, dtype); }
TensorPtr scalar_like(const Tensor& like, double value) { return full({}, value, like.dtype); }

TensorPtr rand(const Shape& shape, DType dtype, double low, double high) {
  TensorPtr t = empty(shape, dtype);
  uniform_(t, low, high);
  return t;
}

TensorPtr randn(const Shape& shape, DType dtype, double mean, double std) {
  TensorPtr t = empty(shape, dtype);
  normal_(t, mean, std);
  return t;
}

TensorPtr arange(double start, double stop, double step, DType dtype) {
  GC_CHECK(step != 0, ValueError, "arange: step must be nonzero");
  GC_CHECK(std::isfinite(start) && std::isfinite(stop) && std::isfinite(step), ValueError,
           "arange: start, stop and step must be finite");
  double n = std::ceil((stop - start) / step);
  GC_CHECK(n <= 9.0e15, ValueError, "arange: ", n, " elements from ", start, " to ", stop, " step ", step,
           " is more than any memory holds");
  int64_t count = n > 0 ? static_cast<int64_t>(n) : 0;
  TensorPtr t = empty({count}, dtype);
  dispatch(dtype, [&](auto z) {
    using T = decltype(z);
    T* p = t->data<T>();
    for (int64_t i = 0; i < count; ++i) p[i] = static_cast<T>(start + static_cast<double>(i) * step);
    return 0;
  });
  return t;
}

// ---- in-place ----
void copy_(const TensorPtr& dst, const TensorPtr& src) {
  GC_CHECK(dst->shape == src->shape, ValueError, "copy_: shape mismatch ", shape_str(dst->shape), " vs ",
           shape_str(src->shape));
  check_inplace(dst, "copy_");
  if (dst->dtype == src->dtype) {
    dispatch(dst->dtype, [&](auto z) {
      using T = decltype(z);
      kernels::copy<T>(src->data<T>(), dst->data<T>(), dst->numel);
      return 0;
    });
  } else if (dst->dtype == DType::Float64) {
    kernels::cast<float, double>(src->data<float>(), dst->data<double>(), dst->numel);
  } else {
    kernels::cast<double, float>(src->data<double>(), dst->data<float>(), dst->numel);
  }
}

void fill_(const TensorPtr& dst, double value) {
  check_inplace(dst, "fill_");
  dispatch(dst->dtype, [&](auto z) {
    using T = decltype(z);
    kernels::fill<T>(dst->data<T>(), static_cast<T>(value), dst->numel);
    return 0;
  });
}

void uniform_(const TensorPtr& dst, double low, double high) {
  GC_CHECK(low <= high, ValueError, "uniform_: low (", low, ") must be <= high (", high, ")");
  check_inplace(dst, "uniform_");
  uint64_t seed;
  uint64_t off = rng_reserve(kernels::rng_blocks(dst->numel), &seed);
  dispatch(dst->dtype, [&](auto z) {
    using T = decltype(z);
    kernels::rng_uniform<T>(dst->data<T>(), dst->numel, seed, off, static_cast<T>(low), static_cast<T>(high));
    return 0;
  });
}

void normal_(const TensorPtr& dst, double mean, double std) {
  GC_CHECK(std >= 0, ValueError, "normal_: std must be >= 0, got ", std);
  check_inplace(dst, "normal_");
  uint64_t seed;
  uint64_t off = rng_reserve(kernels::rng_blocks(dst->numel), &seed);
  dispatch(dst->dtype, [&](auto z) {
    using T = decltype(z);
    kernels::rng_normal<T>(dst->data<T>(), dst->numel, seed, off, static_cast<T>(mean), static_cast<T>(std));
    return 0;
  });
}

void scalar_inplace(const TensorPtr& dst, BinaryOp op, double s) {
  check_inplace(dst, "in-place scalar op");
  dispatch(dst->dtype, [&](auto z) {
    using T = decltype(z);
    kernels::binary_scalar<T>(op, dst->data<T>(), static_cast<T>(s), dst->data<T>(), dst->numel, false);
    return 0;
  });
}

void add_inplace(const TensorPtr& dst, const TensorPtr& src, double alpha) {
  GC_CHECK(dst->shape == src->shape, ValueError, "add_: shape mismatch ", shape_str(dst->shape), " vs ",
           shape_str(src->shape));
  check_same_dtype(*dst, *src, "add_");
  check_inplace(dst, "add_");
  dispatch(dst->dtype, [&](auto z) {
    using T = decltype(z);
    kernels::axpby<T>(static_cast<T>(alpha), src->data<T>(), T(1), dst->data<T>(), dst->numel);
    return 0;
  });
}

}  // namespace gradcore::ops
