// shape.cpp — dtype conversion, factories and the first-dim slice used by data loading.
#include <cmath>
#include <type_traits>

#include "autograd/ops/common.h"

namespace gradcore::ops {
using autograd::make_node;
using autograd::needs_record;
using autograd::set_history;

namespace {

struct ToDtypeBackward final : Node {
  DType in_dtype;
  const char* name() const override { return "ToCopyBackward0"; }
  tensor_list apply(tensor_list&& g) override { return {to_dtype(g[0], in_dtype)}; }
};

// dst = src converted elementwise (same shape), any layouts.
void cast_into(const TensorPtr& dst, const TensorPtr& src) {
  if (dst->numel == 0) return;
  if (src->dtype == dst->dtype) { copy_values(dst, src); return; }
  if (src->is_contiguous && dst->is_contiguous && src->shape == dst->shape) {
    if (src->dtype == DType::Float32 && dst->dtype == DType::Float64) {
      kernels::cast<float, double>(src->data<float>(), dst->data<double>(), dst->numel);
      return;
    }
    if (src->dtype == DType::Float64 && dst->dtype == DType::Float32) {
      kernels::cast<double, float>(src->data<double>(), dst->data<float>(), dst->numel);
      return;
    }
  }
  dispatch_all(dst->dtype, [&](auto to) {
    using To = typename decltype(to)::type;
    dispatch_all(src->dtype, [&](auto from) {
      using From = typename decltype(from)::type;
      iterate(*dst, kernels::typed_row<To, From>([](From v) { return cast_value<To, From>(v); }), *src);
      return 0;
    });
    return 0;
  });
}

}  // namespace

void cast_values(const TensorPtr& dst, const TensorPtr& src) { cast_into(dst, src); }

TensorPtr to_dtype(const TensorPtr& x, DType dtype) {
  if (x->dtype == dtype) return x;
  TensorPtr y = empty_like_layout(*x, dtype);
  cast_into(y, x);
  if (is_floating(x->dtype) && is_floating(dtype)) {
    forward_rule(y, {x.get()}, [&] { return to_dtype(tangent(x), dtype); });
    if (needs_record({x.get()})) {
      auto n = make_node<ToDtypeBackward>({x});
      n->in_dtype = x->dtype;
      set_history(y, n);
    }
  }
  return y;
}

TensorPtr slice0(const TensorPtr& x, int64_t start, int64_t stop) {
  GC_CHECK(x->ndim() >= 1, IndexError, "slicing a 0-dim tensor");
  return slice(x, 0, start, stop, 1);
}

// ---- factories ----
TensorPtr scalar_tensor(const Scalar& s, DType dtype) {
  TensorPtr t = empty({}, dtype);
  dispatch_all(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    T v;
    if (s.kind == Scalar::FLOAT || (s.beyond_int64 && is_floating(dtype))) v = from_f64<T>(s.d);  // uint64 range
    else v = cast_value<T, int64_t>(s.i);
    *t->data<T>() = v;
    return 0;
  });
  return t;
}

TensorPtr full(const Shape& shape, const Scalar& value, DType dtype) {
  TensorPtr t = empty(shape, dtype);
  if (t->numel == 0) return t;
  if (dtype == DType::Float32 || dtype == DType::Float64) {
    dispatch(dtype, [&](auto z) {
      using T = decltype(z);
      kernels::fill<T>(t->data<T>(), static_cast<T>(value.d), t->numel);
      return 0;
    });
    return t;
  }
  TensorPtr v = scalar_tensor(value, dtype);
  copy_values(t, v);
  return t;
}
TensorPtr zeros(const Shape& shape, DType dtype) { return full(shape, Scalar::of(0.0), dtype); }
TensorPtr scalar_like(const Tensor& like, double value) { return full({}, value, like.dtype); }

TensorPtr rand(const Shape& shape, DType dtype, double low, double high, Generator* gen) {
  TensorPtr t = empty(shape, dtype);
  uniform_(t, low, high, gen);
  return t;
}

TensorPtr randn(const Shape& shape, DType dtype, double mean, double std, Generator* gen) {
  TensorPtr t = empty(shape, dtype);
  normal_(t, mean, std, gen);
  return t;
}

// PyTorch's arange: for an integer dtype start, end and step are first truncated to
// integers (a float step that truncates to 0 is a ValueError, as PyTorch's); the length is
// ceil((end - start) / step) on the given values, except for int64, whose length comes from
// the truncated bounds: (end - start + step - sign(step)) / step in integer arithmetic.
TensorPtr arange(double start, double stop, double step, DType dtype) {
  GC_CHECK(dtype != DType::Bool, NotImplementedError, "\"arange_cpu\" not implemented for 'Bool'");
  GC_CHECK(step != 0, RuntimeError, "step must be nonzero");
  GC_CHECK(std::isfinite(start) && std::isfinite(stop), RuntimeError, "unsupported range: ", start, " -> ", stop);
  GC_CHECK(std::isfinite(step), RuntimeError, "arange: step must be finite");
  const bool integral = !is_floating(dtype);
  if (integral) {
    GC_CHECK(std::trunc(step) != 0, ValueError, "step must be nonzero");
    GC_CHECK(std::fabs(start) < 9.2e18 && std::fabs(stop) < 9.2e18 && std::fabs(step) < 9.2e18, RuntimeError,
             "arange: bounds out of the int64 range");
  }
  const double xs = integral ? std::trunc(start) : start, xe = integral ? std::trunc(stop) : stop;
  const double xst = integral ? std::trunc(step) : step;
  GC_CHECK((xst > 0 && xe >= xs) || (xst < 0 && xe <= xs), RuntimeError,
           "upper bound and lower bound inconsistent with step sign");
  double n;
  if (dtype == DType::Int64) {
    const int64_t a = static_cast<int64_t>(xs), b = static_cast<int64_t>(xe), c = static_cast<int64_t>(xst);
    n = static_cast<double>((b - a + c - (c > 0 ? 1 : -1)) / c);
  } else {
    n = std::ceil((stop - start) / step);
  }
  GC_CHECK(n <= 9.0e15, RuntimeError, "arange: ", n, " elements from ", start, " to ", stop, " step ", step,
           " is more than any memory holds");
  int64_t count = n > 0 ? static_cast<int64_t>(n) : 0;
  TensorPtr t = empty({count}, dtype);
  dispatch_all(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* p = t->data<T>();
    if (integral) {
      const int64_t a = static_cast<int64_t>(xs), c = static_cast<int64_t>(xst);
      for (int64_t i = 0; i < count; ++i) {
        if constexpr (std::is_integral_v<T>) p[i] = static_cast<T>(a + i * c);  // exact beyond 2**53
        else p[i] = from_f64<T>(static_cast<double>(a + i * c));
      }
    } else {
      for (int64_t i = 0; i < count; ++i) p[i] = from_f64<T>(start + static_cast<double>(i) * step);
    }
    return 0;
  });
  return t;
}

}  // namespace gradcore::ops
