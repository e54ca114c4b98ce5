// reduce.cpp — sum mean prod amax amin max min any all count_nonzero over all dims or a set
// of dims (keepdim), and sum_to. (max/min along one dim with indices: sort.cpp.)
#include <algorithm>
#include <type_traits>

#include "autograd/ops/common.h"
#include "autograd/ops/lanes.h"
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

enum class RKind { Sum, Max, Min };

// Integer / bool reductions over the middle axis of (outer, n, inner): exact, so a plain
// loop (sums accumulate in the output type, int64; max / min of bool are any / all).
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
      } else if (kind == RKind::Max) {
        T m = p[0];
        for (int64_t i = 1; i < n; ++i) m = p[i * inner] > m ? p[i * inner] : m;
        y[k] = static_cast<Acc>(m);
      } else {
        T m = p[0];
        for (int64_t i = 1; i < n; ++i) m = p[i * inner] < m ? p[i * inner] : m;
        y[k] = static_cast<Acc>(m);
      }
    }
  });
}

// The minimum of floats over the middle axis of (outer, n, inner), NaN propagating (the
// table has max kernels only): lane_extreme along contiguous lanes, else rows of lanes at once.
template <class T>
void min_axis(const T* x, T* y, int64_t outer, int64_t n, int64_t inner) {
  const Lanes L{outer, n, inner};
  if (inner == 1) {
    for_lanes(L, [&](int64_t l0, int64_t l1) {
      for (int64_t l = l0; l < l1; ++l) y[l] = lane_extreme<T, false>(x + l * n, n);
    });
    return;
  }
  for_lane_blocks(L, [&](int64_t o, int64_t j0, int64_t j1) {
    const T* xo = x + o * n * inner;
    T* yo = y + o * inner;
    for (int64_t j = j0; j < j1; ++j) yo[j] = xo[j];
    for (int64_t i = 1; i < n; ++i)
      for (int64_t j = j0; j < j1; ++j) {
        const T v = xo[i * inner + j];
        yo[j] = v < yo[j] || v != v ? v : yo[j];
      }
  });
}

// Reduces runs of adjacent dims in one (outer, n, inner) pass each, last run first.
// float32/float64 run the table's pairwise kernels; integer and bool inputs the exact loop
// above (sums in `out_dtype`, int64); the input is made contiguous first. An empty
// selection sums to 0 and has min 1 (all() of nothing is true); max / min otherwise
// refuse zero-size dims up front.
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
      if (out->numel) out = kind == RKind::Min ? full(shape, 1.0, out_dtype) : zeros(shape, out_dtype);
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
      } else if (kind == RKind::Min) {
        min_axis<T>(cur->data<T>(), out->data<T>(), outer, n, inner);
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
// torch.amax and torch.max() do (amin and min alike). A NaN extreme follows PyTorch's two
// conventions:
// * over all elements (torch.max(x), torch.min(x), torch.median(x)): the NaN elements share
//   the gradient evenly (evenly_distribute_backward);
// * over given dims, or all dims through amax/amin (torch.amax(x, dim)): no element equals
//   NaN, so the mask is empty and the whole slice gets 0 / 0 = NaN.
// (max/min along one dim with indices, torch.max(x, dim), give it to the index: sort.cpp.)
struct ExtremeBackward final : Node {
  SavedTensor x_, y_;  // y_ in keepdim shape
  Shape kd_shape;
  bool is_max = true;
  bool whole = false;  // x.max() / x.min() of all elements
  const char* name() const override {
    return whole ? (is_max ? "MaxBackward1" : "MinBackward1") : (is_max ? "AmaxBackward0" : "AminBackward0");
  }
  tensor_list apply(tensor_list&& g) override {
    TensorPtr x = x_.unpack(this), y = y_.unpack(this);
    if (whole) return {evenly_distribute_backward(reshape(g[0], kd_shape), x, y)};
    TensorPtr mask = to_dtype(eq(detach(x), detach(y)), x->dtype);
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
  // float16 / bfloat16: sum and scale in float32, rounded once (a float16 sum overflows to inf
  // long before the mean does: mean of 5000 x 30000.0 is 30000, as in PyTorch).
  if (!is_f32_or_f64(x->dtype))
    return float_op(x, [&](const TensorPtr& xf) { return mean(xf, dims_in, keepdim, nullptr); });
  std::vector<int64_t> dims = x->ndim() == 0 ? std::vector<int64_t>{} : norm_dims(dims_in, x->ndim(), "mean");
  int64_t count = 1;
  for (int64_t d : dims) count *= x->shape[d];
  // NOTE: the mean of an empty selection is NaN, as in NumPy and PyTorch.
  return mul_scalar(sum(x, dims_in, keepdim), count == 0 ? __builtin_nan("") : 1.0 / static_cast<double>(count));
}

namespace {
// amax / amin / max / min over dims (empty: all); `whole` for max() / min() of all elements.
TensorPtr extreme(const TensorPtr& x_in, const std::vector<int64_t>& dims_in, bool keepdim, bool is_max, bool whole,
                  const char* op) {
  if (is_floating(x_in->dtype) && !is_f32_or_f64(x_in->dtype))
    return float_op(x_in, [&](const TensorPtr& x) { return extreme(x, dims_in, keepdim, is_max, whole, op); });
  const TensorPtr& x = x_in;
  if (x->ndim() == 0) {
    for (int64_t d : dims_in) normalize_dim(d, 0);
    return is_floating(x->dtype) ? sum(x, {}, false) : clone(x);  // identity with a gradient of 1
  }
  GC_CHECK(!(dims_in.empty() && x->numel == 0), RuntimeError, op,
           "(): Expected reduction dim to be specified for input.numel() == 0. Specify the reduction dim with "
           "the 'dim' argument.");
  std::vector<int64_t> dims = norm_dims(dims_in, x->ndim(), op);
  for (int64_t d : dims)
    GC_CHECK(x->shape[d] > 0, IndexError, op, "(): Expected reduction dim ", d,
             " to have non-zero size (input shape ", shape_str(x->shape), ")");
  TensorPtr kd = reduce_forward(is_max ? RKind::Max : RKind::Min, x, dims, x->dtype);
  TensorPtr y = with_shape(kd, reduced_shape(x->shape, dims, keepdim));
  if (!is_floating(x->dtype)) return y;
  forward_rule(y, {x.get()}, [&] {  // the tangent averaged over the tied extremes
    if (whole) return reshape(sum(mul(evenly_distribute_backward(scalar_like(*x, 1.0), x, kd), tangent(x)), {}, false), y->shape);
    TensorPtr mask = to_dtype(eq(x, kd), x->dtype);
    return div(sum(mul(tangent(x), mask), dims, keepdim), sum(mask, dims, keepdim));
  });
  if (needs_record({x.get()})) {
    auto n = make_node<ExtremeBackward>({x});
    n->x_ = SavedTensor(x, false);
    n->y_ = SavedTensor(kd, false);
    n->kd_shape = kd->shape;
    n->is_max = is_max;
    n->whole = whole;
    set_history(y, n);
  }
  return y;
}
}  // namespace

TensorPtr amax(const TensorPtr& x, const std::vector<int64_t>& dims, bool keepdim) {
  return extreme(x, dims, keepdim, true, false, "amax");
}
TensorPtr amin(const TensorPtr& x, const std::vector<int64_t>& dims, bool keepdim) {
  return extreme(x, dims, keepdim, false, false, "amin");
}
TensorPtr max(const TensorPtr& x, const std::vector<int64_t>& dims, bool keepdim) {
  return extreme(x, dims, keepdim, true, dims.empty(), "max");
}
TensorPtr min(const TensorPtr& x, const std::vector<int64_t>& dims, bool keepdim) {
  return extreme(x, dims, keepdim, false, dims.empty(), "min");
}

TensorPtr evenly_distribute_backward(const TensorPtr& grad, const TensorPtr& input, const TensorPtr& value) {
  TensorPtr mask;
  {
    autograd::GradModeGuard no_grad(false);
    autograd::fw::DisableGuard no_tangent;
    TensorPtr x = detach(input), v = detach(value);
    const bool nan_value = v->numel == 1 && is_floating(v->dtype) && dispatch(v->dtype, [&](auto t) {
      using T = decltype(t);
      const T e = dense(v)->data<T>()[0];
      return e != e;
    });
    TensorPtr m = nan_value ? classify(FloatClass::NAN_, x) : eq(x, v);
    mask = to_dtype(m, input->dtype);
    mask = div(mask, sum(mask, {}, false));
  }
  return mul(grad, mask);
}

// ---- prod ----
namespace {
template <class T>
using ProdAcc = std::conditional_t<std::is_floating_point_v<T>, double, uint64_t>;

// The product of each lane (floating: accumulated in double, rounded once; integers: uint64,
// two's complement wrap-around; contiguous lanes in eight interleaved partial products).
template <class T>
void prod_lanes(const T* x, const Lanes& L, T* y) {
  using Acc = ProdAcc<T>;
  if (L.inner == 1) {  // contiguous lanes: eight running products (no latency chain), combined
    for_lanes(L, [&](int64_t l0, int64_t l1) {
      for (int64_t l = l0; l < l1; ++l) {
        const T* p = x + l * L.n;
        Acc a[8] = {1, 1, 1, 1, 1, 1, 1, 1};
        int64_t i = 0;
        for (; i + 8 <= L.n; i += 8)
          for (int k = 0; k < 8; ++k) a[k] = static_cast<Acc>(a[k] * static_cast<Acc>(p[i + k]));
        for (; i < L.n; ++i) a[0] = static_cast<Acc>(a[0] * static_cast<Acc>(p[i]));
        y[l] = static_cast<T>(static_cast<Acc>(static_cast<Acc>(a[0] * a[1]) * static_cast<Acc>(a[2] * a[3])) *
                              static_cast<Acc>(static_cast<Acc>(a[4] * a[5]) * static_cast<Acc>(a[6] * a[7])));
      }
    });
    return;
  }
  for_lane_blocks(L, [&](int64_t o, int64_t j0, int64_t j1) {
    Acc acc[kLaneBlock];
    for (int64_t j = j0; j < j1; ++j) acc[j - j0] = 1;
    const T* xo = x + o * L.n * L.inner;
    for (int64_t i = 0; i < L.n; ++i)
      for (int64_t j = j0; j < j1; ++j) acc[j - j0] = static_cast<Acc>(acc[j - j0] * static_cast<Acc>(xo[i * L.inner + j]));
    for (int64_t j = j0; j < j1; ++j) y[o * L.inner + j] = static_cast<T>(acc[j - j0]);
  });
}

// prod's gradient where x holds zeros, first order: g * (prod of the lane before p) *
// (prod after p), each running product accumulated in double and rounded, as PyTorch's
// exclusive cumprods (safe with zeros; no division).
template <class T>
void prod_backward_lanes(const T* x, const T* g, const Lanes& L, T* dx) {
  for_lanes(L, [&](int64_t l0, int64_t l1) {
    std::vector<T> before(static_cast<size_t>(L.n));
    for (int64_t l = l0; l < l1; ++l) {
      const int64_t b = L.base(l);
      const T gl = g[l];
      double run = 1;
      for (int64_t i = 0; i < L.n; ++i) {
        before[i] = static_cast<T>(run);
        run *= static_cast<double>(x[b + i * L.inner]);
      }
      run = 1;
      for (int64_t i = L.n - 1; i >= 0; --i) {
        dx[b + i * L.inner] = static_cast<T>(gl * static_cast<T>(before[i] * static_cast<T>(run)));
        run *= static_cast<double>(x[b + i * L.inner]);
      }
    }
  });
}

// x with its elements along d shifted one place (toward the end, or toward the start for
// `back`), a 1 filling the freed place; differentiable (view_put).
TensorPtr shifted(const TensorPtr& x, int64_t d, bool back) {
  const int64_t n = x->shape[d];
  TensorPtr ones = full(x->shape, 1.0, x->dtype);
  if (n <= 1) return ones;
  return view_put(ones, [d, n, back](const TensorPtr& b) { return narrow(b, d, back ? 0 : 1, n - 1); },
                  narrow(x, d, back ? 1 : 0, n - 1));
}

// PyTorch's prod_backward: g (keepdim layout) times result / x when x has no zeros; with
// zeros the products of the lane without each element (all zeros for the product of all
// elements with two or more zeros, first order). Composed of ops under create_graph.
TensorPtr prod_backward(const TensorPtr& g, const TensorPtr& x, const TensorPtr& y, int64_t d, bool whole) {
  if (x->ndim() == 0) return g;
  int64_t zeros_in_x;
  {
    autograd::GradModeGuard no_grad(false);
    autograd::fw::DisableGuard no_tangent;
    zeros_in_x = sum(compare(CmpOp::EQ, detach(x), Scalar::of(0.0)), {}, false)->data<int64_t>()[0];
  }
  if (zeros_in_x == 0) return mul(g, div(y, x));
  if (whole) {
    if (!autograd::grad_enabled() && zeros_in_x > 1) return zeros(x->shape, x->dtype);
    TensorPtr flat = reshape(x, {x->numel});
    return reshape(prod_backward(reshape(g, {1}), flat, reshape(y, {1}), 0, false), x->shape);
  }
  if (autograd::grad_enabled()) {  // create_graph: exclusive products as ops (O(n), differentiable)
    TensorPtr before = cumprod(shifted(x, d, false), d, nullptr, false);
    TensorPtr after = cumprod(shifted(x, d, true), d, nullptr, true);
    return mul(g, mul(before, after));
  }
  TensorPtr dx = empty(x->shape, x->dtype), xd = dense(x), gd = dense(g);
  dispatch(x->dtype, [&](auto t) {
    using T = decltype(t);
    prod_backward_lanes<T>(xd->data<T>(), gd->data<T>(), lanes_of(x->shape, d), dx->data<T>());
    return 0;
  });
  return dx;
}

struct ProdBackward final : Node {
  SavedTensor x_, y_;  // y_: the result (its own shape)
  Shape kd_shape;
  int64_t dim = 0;
  bool whole = false;
  const char* name() const override { return whole ? "ProdBackward0" : "ProdBackward1"; }
  tensor_list apply(tensor_list&& g) override {
    return {prod_backward(reshape(g[0], kd_shape), x_.unpack(this), reshape(y_.unpack(this), kd_shape), dim, whole)};
  }
  void release_saved() override { x_.reset(); y_.reset(); }
  std::vector<std::pair<std::string, TensorPtr>> saved_tensors() const override { return {{"self", x_.raw()}, {"result", y_.raw()}}; }
};
}  // namespace

TensorPtr prod(const TensorPtr& x_in, const int64_t* dim, bool keepdim, const DType* dtype) {
  TensorPtr x = to_dtype(x_in, dtype ? *dtype : is_floating(x_in->dtype) ? x_in->dtype : DType::Int64);
  if (is_floating(x->dtype) && !is_f32_or_f64(x->dtype))
    return float_op(x, [&](const TensorPtr& xf) { return prod(xf, dim, keepdim, nullptr); });
  const bool whole = dim == nullptr;
  const int64_t d = whole ? 0 : normalize_dim(*dim, x->ndim());
  TensorPtr lanes_x = whole ? reshape(x, {x->numel}) : x;  // prod() of all elements: one lane
  Shape kd = whole ? Shape(x->shape.size(), 1) : (x->ndim() ? x->shape : Shape{});
  if (!whole && x->ndim()) kd[d] = 1;
  TensorPtr y = empty(kd, x->dtype);
  if (y->numel > 0) {
    TensorPtr xd = dense(lanes_x);
    const Lanes L = lanes_of(lanes_x->shape, whole ? 0 : d);
    dispatch_arith(x->dtype, [&](auto tag) {
      using T = typename decltype(tag)::type;
      if constexpr (std::is_same_v<T, bool>) {
        throw RuntimeError("internal: prod of bool");  // bool computes in int64
      } else {
        prod_lanes<T>(xd->data<T>(), L, y->data<T>());
      }
      return 0;
    });
  }
  const Shape out = whole ? (keepdim ? kd : Shape{}) : (keepdim || x->ndim() == 0 ? kd : reduced_shape(x->shape, {d}, false));
  TensorPtr r = with_shape(y, out);
  if (!is_floating(x->dtype)) return r;
  // See Note [Forward rules after set_history] (unary.cpp): the rule and the backward use
  // the result through its history (its derivative matters for second order).
  std::shared_ptr<ProdBackward> n;
  if (needs_record({x.get()})) {
    n = make_node<ProdBackward>({x});
    set_history(r, n);
  }
  forward_rule(r, {x.get()}, [&] {  // sum over the lane of d prod / dx_p * t_p
    TensorPtr partials = prod_backward(full(kd, 1.0, x->dtype), x, reshape(r, kd), d, whole);
    TensorPtr t = mul(partials, tangent(x));
    return whole ? reshape(sum(t, {}, false), out) : sum(t, {d}, keepdim);
  });
  if (n) {
    n->x_ = SavedTensor(x, false);
    n->y_ = SavedTensor(r, true);
    n->kd_shape = kd;
    n->dim = d;
    n->whole = whole;
  }
  return r;
}

// ---- any / all / count_nonzero: truth values (nonzero, NaN included, is true) ----
namespace {
TensorPtr truth_reduce(const TensorPtr& x, const std::vector<int64_t>& dims_in, bool keepdim, bool is_any) {
  autograd::GradModeGuard no_grad(false);
  autograd::fw::DisableGuard no_tangent;
  const DType out_dtype = x->dtype == DType::UInt8 ? DType::UInt8 : DType::Bool;  // PyTorch keeps uint8
  TensorPtr b = to_dtype(detach(x), DType::Bool);
  if (x->ndim() == 0) {
    for (int64_t d : dims_in) normalize_dim(d, 0);
    return to_dtype(clone(b), out_dtype);
  }
  std::vector<int64_t> dims = norm_dims(dims_in, x->ndim(), is_any ? "any" : "all");
  TensorPtr kd = reduce_forward(is_any ? RKind::Max : RKind::Min, b, dims, DType::Bool);
  return to_dtype(with_shape(kd, reduced_shape(x->shape, dims, keepdim)), out_dtype);
}
}  // namespace

TensorPtr any(const TensorPtr& x, const std::vector<int64_t>& dims, bool keepdim) {
  return truth_reduce(x, dims, keepdim, true);
}
TensorPtr all(const TensorPtr& x, const std::vector<int64_t>& dims, bool keepdim) {
  return truth_reduce(x, dims, keepdim, false);
}
TensorPtr count_nonzero(const TensorPtr& x, const std::vector<int64_t>& dims) {
  autograd::GradModeGuard no_grad(false);
  autograd::fw::DisableGuard no_tangent;
  return sum(to_dtype(detach(x), DType::Bool), dims, false);
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
