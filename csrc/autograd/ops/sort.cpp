// sort.cpp — ops along one dim that select, order or scan: max/min(dim) with their indices,
// argmax/argmin, sort/argsort, topk, kthvalue, median, mode, cummax/cummin, cumsum/cumprod;
// the whole-tensor counts unique, bincount and histc; and gather_along / scatter_add_along,
// the index pair the gradients of the selecting ops are written with.
//
// Note [Order, ties and NaN]: every op here orders values by one strict total order on
// (value, position): numbers by value, NaN after every number, equal values by position.
// So sort puts NaN last ascending and first descending, topk counts NaN as the largest,
// kthvalue sees it as the largest element; and sorting is stable whatever `stable` says
// (PyTorch's default sort gives the same for lanes of <= 16 elements and may order ties
// differently in longer ones), topk/kthvalue pick among equal values by position (PyTorch's
// pick is unspecified). Where PyTorch fixes the answer, so do we: max/min/argmax/argmin
// along a dim give the first extreme, and with a NaN in the lane NaN and the first NaN's
// index; median with a NaN gives NaN and the first NaN's index; mode gives the smallest of
// the most frequent values and the last index of it (NaN never equals NaN: it never
// repeats); cummax/cummin move to every later equal value (>= / <=) and to every NaN.
// Threads split the lanes, never a lane (lanes.h): results do not depend on the thread count.
//
// Note [Index-selected values]: the values of max/min(dim), sort, topk, kthvalue,
// median(dim), mode and cummax/cummin are elements of x picked by the indices, so their
// gradient is the incoming one added back at those positions (scatter_add_along) and their
// tangent is x's tangent picked at them (gather_along); both are differentiable, each the
// other's backward, so higher-order gradients work. Integer and bool inputs give no gradient;
// float16/bfloat16 inputs are ordered as float32 (exact) and converted back.
#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

#include "autograd/ops/common.h"
#include "autograd/ops/lanes.h"
#include "cpu/parallel.h"

namespace gradcore::ops {
using autograd::make_node;
using autograd::needs_record;
using autograd::SavedTensor;
using autograd::set_history;

namespace {

// ---- kernels on contiguous data, lane by lane (raw pointers and sizes) ----

template <class T>
inline bool nan_of(T v) {
  if constexpr (std::is_floating_point_v<T>) return v != v;
  else return false;
}

template <class T>
struct Key {
  T v;
  int64_t i;
};
// Note [Order, ties and NaN], ascending and descending (ties still by position).
template <class T>
struct Ascending {
  bool operator()(const Key<T>& a, const Key<T>& b) const {
    if (a.v < b.v) return true;
    if (b.v < a.v) return false;
    const bool an = nan_of(a.v), bn = nan_of(b.v);
    if (an != bn) return bn;
    return a.i < b.i;
  }
};
template <class T>
struct Descending {
  bool operator()(const Key<T>& a, const Key<T>& b) const {
    if (b.v < a.v) return true;
    if (a.v < b.v) return false;
    const bool an = nan_of(a.v), bn = nan_of(b.v);
    if (an != bn) return an;
    return a.i < b.i;
  }
};

template <class T>
void load_lane(const T* x, const Lanes& L, int64_t b, std::vector<Key<T>>& buf) {
  buf.resize(static_cast<size_t>(L.n));
  for (int64_t i = 0; i < L.n; ++i) buf[i] = {x[b + i * L.inner], i};
}

// max/min along the lanes: the first extreme, or the first NaN.
template <class T, bool Max>
inline bool beats(T a, T cur) {
  if constexpr (std::is_floating_point_v<T>) {
    if (cur != cur) return false;
    if (a != a) return true;
  }
  return Max ? cur < a : a < cur;
}

template <class T, bool Max>
void extreme_lanes(const T* x, const Lanes& L, T* vals, int64_t* idx) {
  if (L.inner == 1) {  // contiguous lanes: the extreme (vectorised), then its first position
    for_lanes(L, [&](int64_t l0, int64_t l1) {
      for (int64_t l = l0; l < l1; ++l) {
        const T* p = x + l * L.n;
        const T m = lane_extreme<T, Max>(p, L.n);
        int64_t i = 0;
        if (nan_of(m)) {
          while (!nan_of(p[i])) ++i;
        } else {
          while (!(p[i] == m)) ++i;
        }
        vals[l] = m;
        idx[l] = i;
      }
    });
    return;
  }
  for_lane_blocks(L, [&](int64_t o, int64_t j0, int64_t j1) {
    const T* xo = x + o * L.n * L.inner;
    T* v = vals + o * L.inner;
    int64_t* id = idx + o * L.inner;
    for (int64_t j = j0; j < j1; ++j) { v[j] = xo[j]; id[j] = 0; }
    for (int64_t i = 1; i < L.n; ++i) {
      const T* row = xo + i * L.inner;
      for (int64_t j = j0; j < j1; ++j)
        if (beats<T, Max>(row[j], v[j])) { v[j] = row[j]; id[j] = i; }
    }
  });
}

// cummax/cummin: the running extreme moves to a later equal value and to every NaN.
template <class T, bool Max>
inline bool takes(T a, T cur) {
  if constexpr (std::is_floating_point_v<T>) {
    if (a != a) return true;
    if (cur != cur) return false;
  }
  return Max ? !(a < cur) : !(cur < a);
}

template <class T, bool Max>
void cum_extreme_lanes(const T* x, const Lanes& L, T* vals, int64_t* idx) {
  if (L.n == 0) return;
  for_lane_blocks(L, [&](int64_t o, int64_t j0, int64_t j1) {
    const int64_t off = o * L.n * L.inner;
    T cur[kLaneBlock];
    int64_t at[kLaneBlock];
    for (int64_t i = 0; i < L.n; ++i) {
      const int64_t r = off + i * L.inner;
      for (int64_t j = j0; j < j1; ++j) {
        const T a = x[r + j];
        if (i == 0 || takes<T, Max>(a, cur[j - j0])) { cur[j - j0] = a; at[j - j0] = i; }
        vals[r + j] = cur[j - j0];
        idx[r + j] = at[j - j0];
      }
    }
  });
}

// cumsum / cumprod, in scan order (reverse: from the end). Floating values accumulate in
// double (PyTorch's CPU accumulation type), each output rounded once; integers in uint64
// (two's complement wrap-around, never undefined behaviour).
template <class T>
using ScanAcc = std::conditional_t<std::is_floating_point_v<T>, double, uint64_t>;

template <class T, bool Prod>
void scan_lanes(const T* x, T* y, const Lanes& L, bool reverse) {
  using Acc = ScanAcc<T>;
  if (L.inner == 1) {  // contiguous lanes
    for_lanes(L, [&](int64_t l0, int64_t l1) {
      for (int64_t l = l0; l < l1; ++l) {
        const T* xl = x + l * L.n;
        T* yl = y + l * L.n;
        Acc acc = Prod ? Acc(1) : Acc(0);
        for (int64_t s = 0; s < L.n; ++s) {
          const int64_t i = reverse ? L.n - 1 - s : s;
          acc = Prod ? static_cast<Acc>(acc * static_cast<Acc>(xl[i])) : static_cast<Acc>(acc + static_cast<Acc>(xl[i]));
          yl[i] = static_cast<T>(acc);
        }
      }
    });
    return;
  }
  for_lane_blocks(L, [&](int64_t o, int64_t j0, int64_t j1) {
    Acc acc[kLaneBlock];
    for (int64_t j = j0; j < j1; ++j) acc[j - j0] = Prod ? Acc(1) : Acc(0);
    const int64_t off = o * L.n * L.inner;
    for (int64_t s = 0; s < L.n; ++s) {
      const int64_t r = off + (reverse ? L.n - 1 - s : s) * L.inner;
      for (int64_t j = j0; j < j1; ++j) {
        const Acc v = static_cast<Acc>(x[r + j]);
        acc[j - j0] = Prod ? static_cast<Acc>(acc[j - j0] * v) : static_cast<Acc>(acc[j - j0] + v);
        y[r + j] = static_cast<T>(acc[j - j0]);
      }
    }
  });
}

// The first-order gradient of cumprod (y = cumprod(x), g the incoming gradient), lane by
// lane in scan order p = 0..n-1 (reversed positions for reverse). z is the first zero:
// before it dx_p = sum_{p<=q<z} y_q g_q / x_p (PyTorch's formula: the sum accumulated from
// the end in double, rounded, then divided); at it dx_z = y_{z-1} * sum_{z<=q<z2} g_q *
// prod_{z<r<=q} x_r (z2 the second zero); after it 0 (every product there holds x_z = 0).
template <class T>
void cumprod_backward_lanes(const T* x, const T* y, const T* g, T* dx, const Lanes& L, bool reverse) {
  for_lanes(L, [&](int64_t l0, int64_t l1) {
    for (int64_t l = l0; l < l1; ++l) {
      const int64_t b = L.base(l);
      auto at = [&](int64_t p) { return b + (reverse ? L.n - 1 - p : p) * L.inner; };
      int64_t z = L.n;
      for (int64_t p = 0; p < L.n; ++p)
        if (x[at(p)] == T(0)) { z = p; break; }
      double acc = 0;
      for (int64_t p = L.n - 1; p >= 0; --p) {
        const int64_t e = at(p);
        if (p > z) { dx[e] = T(0); continue; }
        if (p == z) continue;
        acc += static_cast<double>(static_cast<T>(y[e] * g[e]));
        dx[e] = static_cast<T>(static_cast<T>(acc) / x[e]);
      }
      if (z < L.n) {
        double s = 0, run = 1;
        for (int64_t q = z; q < L.n; ++q) {
          if (q > z) {
            if (x[at(q)] == T(0)) break;
            run *= static_cast<double>(x[at(q)]);
          }
          s += static_cast<double>(g[at(q)]) * run;
        }
        const double before = z == 0 ? 1.0 : static_cast<double>(y[at(z - 1)]);
        dx[at(z)] = static_cast<T>(before * s);
      }
    }
  });
}

template <class T>
void sort_lanes(const T* x, const Lanes& L, bool descending, T* vals, int64_t* idx) {
  for_lanes(L, [&](int64_t l0, int64_t l1) {
    std::vector<Key<T>> buf;
    for (int64_t l = l0; l < l1; ++l) {
      const int64_t b = L.base(l);
      load_lane(x, L, b, buf);
      if (descending) std::sort(buf.begin(), buf.end(), Descending<T>());
      else std::sort(buf.begin(), buf.end(), Ascending<T>());
      for (int64_t i = 0; i < L.n; ++i) {
        vals[b + i * L.inner] = buf[i].v;
        idx[b + i * L.inner] = buf[i].i;
      }
    }
  });
}

// The k first of each lane in the order (largest: descending), sorted; outputs (outer, k, inner).
template <class T>
void topk_lanes(const T* x, const Lanes& L, int64_t k, bool largest, T* vals, int64_t* idx) {
  if (k == 0) return;
  for_lanes(L, [&](int64_t l0, int64_t l1) {
    std::vector<Key<T>> buf;
    for (int64_t l = l0; l < l1; ++l) {
      const int64_t b = L.base(l);
      auto pick = [&](auto cmp) {
        if (k * 16 <= L.n) {  // few of many: a heap of the k best so far (its top the worst kept)
          buf.resize(static_cast<size_t>(k));
          for (int64_t i = 0; i < k; ++i) buf[i] = {x[b + i * L.inner], i};
          std::make_heap(buf.begin(), buf.end(), cmp);
          for (int64_t i = k; i < L.n; ++i) {
            const Key<T> e{x[b + i * L.inner], i};
            if (!cmp(e, buf.front())) continue;  // no better than the k-th best: most elements stop here
            std::pop_heap(buf.begin(), buf.end(), cmp);
            buf.back() = e;
            std::push_heap(buf.begin(), buf.end(), cmp);
          }
        } else {
          load_lane(x, L, b, buf);
          if (k < L.n) std::nth_element(buf.begin(), buf.begin() + (k - 1), buf.end(), cmp);
        }
        std::sort(buf.begin(), buf.begin() + k, cmp);
      };
      if (largest) pick(Descending<T>());
      else pick(Ascending<T>());
      const int64_t ob = (l / L.inner) * k * L.inner + l % L.inner;
      for (int64_t i = 0; i < k; ++i) {
        vals[ob + i * L.inner] = buf[i].v;
        idx[ob + i * L.inner] = buf[i].i;
      }
    }
  });
}

// Element k (0-based) of each lane in ascending order; nan_first: a lane with a NaN gives its
// first NaN instead (median). Outputs one per lane.
template <class T>
void select_lanes(const T* x, const Lanes& L, int64_t k, bool nan_first, T* vals, int64_t* idx) {
  for_lanes(L, [&](int64_t l0, int64_t l1) {
    std::vector<Key<T>> buf;
    for (int64_t l = l0; l < l1; ++l) {
      const int64_t b = L.base(l);
      if (nan_first) {
        int64_t i = 0;
        while (i < L.n && !nan_of(x[b + i * L.inner])) ++i;
        if (i < L.n) {
          vals[l] = x[b + i * L.inner];
          idx[l] = i;
          continue;
        }
      }
      load_lane(x, L, b, buf);
      std::nth_element(buf.begin(), buf.begin() + k, buf.end(), Ascending<T>());
      vals[l] = buf[k].v;
      idx[l] = buf[k].i;
    }
  });
}

// The most frequent value of each lane (the smallest among equally frequent ones) and the
// last position it occurs at.
template <class T>
void mode_lanes(const T* x, const Lanes& L, T* vals, int64_t* idx) {
  for_lanes(L, [&](int64_t l0, int64_t l1) {
    std::vector<Key<T>> buf;
    for (int64_t l = l0; l < l1; ++l) {
      load_lane(x, L, L.base(l), buf);
      std::sort(buf.begin(), buf.end(), Ascending<T>());
      int64_t best = 0, best_len = 0, run = 0;
      for (int64_t i = 0; i < L.n; ++i) {
        ++run;
        if (i + 1 == L.n || !(buf[i].v == buf[i + 1].v)) {  // a run ends at i
          if (run > best_len) { best_len = run; best = i; }
          run = 0;
        }
      }
      vals[l] = buf[best].v;
      idx[l] = buf[best].i;
    }
  });
}

// ---- op helpers ----

inline bool is_half(DType d) { return is_floating(d) && !is_f32_or_f64(d); }

int64_t size_along(const Tensor& x, int64_t d) { return x.ndim() ? x.shape[d] : 1; }

Shape with_size(const Shape& s, int64_t d, int64_t size) {
  Shape k = s;
  if (!k.empty()) k[d] = size;
  return k;
}

Shape without_dim(const Shape& s, int64_t d) {
  Shape r = s;
  if (!r.empty()) r.erase(r.begin() + d);
  return r;
}

// kd (contiguous) seen with another shape of the same numel, sharing its storage.
TensorPtr shaped(const TensorPtr& kd, const Shape& shape) {
  if (kd->shape == shape) return kd;
  TensorPtr y = alias(*kd);
  y->strides = contiguous_strides(shape);
  y->shape = shape;
  y->refresh_contiguous();
  return y;
}

void check_dim_nonempty(const Tensor& x, int64_t d, const char* op) {
  GC_CHECK(x.ndim() == 0 || x.shape[d] > 0, IndexError, op, "(): Expected reduction dim ", d,
           " to have non-zero size.");
}

// See Note [Index-selected values].
struct IndexedValuesBackward final : Node {
  const char* name_ = "";
  SavedTensor idx_;  // int64, x's ndim (size 1 at dim for the reducing ops)
  Shape in_shape;
  int64_t dim = 0;
  bool squeezed = false;  // the values lost `dim` (keepdim=False)
  const char* name() const override { return name_; }
  tensor_list apply(tensor_list&& g) override {
    TensorPtr gi = squeezed ? unsqueeze(g[0], dim) : g[0];
    return {scatter_add_along(gi, dim, idx_.unpack(this), in_shape)};
  }
  void release_saved() override { idx_.reset(); }
  std::vector<std::pair<std::string, TensorPtr>> saved_tensors() const override { return {{"indices", idx_.raw()}}; }
};

// r.values (idx_kd's values, possibly without dim d) gets its tangent and history.
void record_indexed(const ValuesIndices& r, const TensorPtr& x, int64_t d, const TensorPtr& idx_kd, bool squeezed,
                    const char* name) {
  if (!is_floating(x->dtype)) return;
  forward_rule(r.values, {x.get()}, [&] { return reshape(gather_along(tangent(x), d, idx_kd), r.values->shape); });
  if (needs_record({x.get()})) {
    auto n = make_node<IndexedValuesBackward>({x});
    n->name_ = name;
    n->idx_ = SavedTensor(idx_kd, false);
    n->in_shape = x->shape;
    n->dim = d;
    n->squeezed = squeezed && x->ndim() > 0;
    set_history(r.values, n);
  }
}

// A reducing selection (one value per lane): the kernel writes values and indices in the
// keepdim layout; the results drop dim unless keepdim, and the values record the gradient.
template <class Kernel>
ValuesIndices reduce_select(const TensorPtr& x, int64_t d, bool keepdim, const char* node_name, Kernel&& kernel) {
  const Shape kd = with_size(x->shape, d, 1);
  TensorPtr vals = empty(kd, x->dtype), idx = empty(kd, DType::Int64);
  TensorPtr xd = dense(x);
  if (vals->numel > 0) {
    dispatch_arith(x->dtype, [&](auto tag) {
      using T = typename decltype(tag)::type;
      kernel(xd->data<T>(), lanes_of(x->shape, d), vals->data<T>(), idx->data<int64_t>());
      return 0;
    });
  }
  const Shape out = keepdim ? kd : without_dim(x->shape, d);
  ValuesIndices r{shaped(vals, out), shaped(idx, out)};
  record_indexed(r, x, d, idx, !keepdim, node_name);
  return r;
}

ValuesIndices halves_back(ValuesIndices r, DType d) {
  r.values = to_dtype(r.values, d);
  return r;
}

ValuesIndices extreme_dim(const TensorPtr& x, int64_t dim, bool keepdim, bool is_max) {
  const char* op = is_max ? "max" : "min";
  if (is_half(x->dtype)) return halves_back(extreme_dim(to_dtype(x, DType::Float32), dim, keepdim, is_max), x->dtype);
  const int64_t d = normalize_dim(dim, x->ndim());
  check_dim_nonempty(*x, d, op);
  return reduce_select(x, d, keepdim, is_max ? "MaxBackward0" : "MinBackward0", [&](auto* xp, const Lanes& L, auto* v, int64_t* i) {
    using T = std::remove_const_t<std::remove_pointer_t<decltype(xp)>>;
    if (is_max) extreme_lanes<T, true>(xp, L, v, i);
    else extreme_lanes<T, false>(xp, L, v, i);
  });
}

TensorPtr arg_extreme(const TensorPtr& x, const int64_t* dim, bool keepdim, bool is_max) {
  const char* op = is_max ? "argmax" : "argmin";
  GC_CHECK(x->dtype != DType::Bool, RuntimeError, op, "(): does not support bool input");
  autograd::GradModeGuard no_grad(false);
  autograd::fw::DisableGuard no_tangent;
  if (dim) return extreme_dim(x, *dim, keepdim, is_max).indices;
  GC_CHECK(x->numel > 0, IndexError, op, "(): Expected reduction dim to be specified for input.numel() == 0.");
  TensorPtr i = extreme_dim(reshape(x, {x->numel}), 0, false, is_max).indices;
  return keepdim ? reshape(i, Shape(x->shape.size(), 1)) : i;
}

ValuesIndices cum_extreme(const TensorPtr& x, int64_t dim, bool is_max) {
  if (is_half(x->dtype)) return halves_back(cum_extreme(to_dtype(x, DType::Float32), dim, is_max), x->dtype);
  const int64_t d = normalize_dim(dim, x->ndim());
  TensorPtr vals = empty(x->shape, x->dtype), idx = empty(x->shape, DType::Int64);
  TensorPtr xd = dense(x);
  if (x->numel > 0) {
    dispatch_arith(x->dtype, [&](auto tag) {
      using T = typename decltype(tag)::type;
      if (is_max) cum_extreme_lanes<T, true>(xd->data<T>(), lanes_of(x->shape, d), vals->data<T>(), idx->data<int64_t>());
      else cum_extreme_lanes<T, false>(xd->data<T>(), lanes_of(x->shape, d), vals->data<T>(), idx->data<int64_t>());
      return 0;
    });
  }
  ValuesIndices r{vals, idx};
  record_indexed(r, x, d, idx, false, is_max ? "CummaxBackward0" : "CumminBackward0");
  return r;
}

// The dtype a cumsum / cumprod / prod computes and returns: `dtype`, else int64 for integers
// and bool, else x's own.
DType scan_dtype(const Tensor& x, const DType* dtype) {
  if (dtype) return *dtype;
  return is_floating(x.dtype) ? x.dtype : DType::Int64;
}

TensorPtr scan(const TensorPtr& x, int64_t d, bool prod, bool reverse) {
  TensorPtr y = empty(x->shape, x->dtype);
  if (x->numel == 0) return y;
  TensorPtr xd = dense(x);
  dispatch_arith(x->dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const Lanes L = lanes_of(x->shape, d);
    if (prod) scan_lanes<T, true>(xd->data<T>(), y->data<T>(), L, reverse);
    else scan_lanes<T, false>(xd->data<T>(), y->data<T>(), L, reverse);
    return 0;
  });
  return y;
}

struct CumsumBackward final : Node {
  int64_t dim = 0;
  bool reverse = false;
  const char* name() const override { return "CumsumBackward0"; }
  tensor_list apply(tensor_list&& g) override { return {cumsum(g[0], dim, nullptr, !reverse)}; }
};

// Bool masks (no autograd) over the last two dims of an (n, n) block: eye (i == k) and the
// positions q a scan reaches from p (q >= p, or q <= p in reverse), row p, column q.
TensorPtr square_mask(int64_t n, bool eye, bool reverse) {
  TensorPtr m = empty({n, n}, DType::Bool);
  bool* p = m->data<bool>();
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = 0; c < n; ++c) p[r * n + c] = eye ? r == c : (reverse ? c <= r : c >= r);
  return m;
}

// P[.., p, q] = the scan product up to q of x with x_p replaced by 1, for x (.., n): the
// derivative of y_q = cumprod(x)_q by x_p where q is reached from p. Composed of ops (so
// differentiable), O(n^2): only used for higher-order gradients of inputs with zeros.
TensorPtr cumprod_partials(const TensorPtr& xl, bool reverse) {
  const int64_t n = xl->shape.back();
  Shape big = xl->shape;
  big.insert(big.end() - 1, n);
  TensorPtr rows = expand(unsqueeze(xl, -2), big);
  TensorPtr one = scalar_tensor(Scalar::of(1.0), xl->dtype);
  return cumprod(where(square_mask(n, true, false), one, rows), -1, nullptr, reverse);
}

bool has_zero(const TensorPtr& x) {
  autograd::GradModeGuard no_grad(false);
  autograd::fw::DisableGuard no_tangent;
  TensorPtr z = compare(CmpOp::EQ, detach(x), Scalar::of(0.0));
  return sum(z, {}, false)->data<int64_t>()[0] > 0;
}

// The gradient of y = cumprod(x) along d for the incoming g (PyTorch's cumprod_backward).
TensorPtr cumprod_backward(const TensorPtr& g, const TensorPtr& x, const TensorPtr& y, int64_t d, bool reverse) {
  if (x->numel <= 1 || size_along(*x, d) == 1) return g;
  if (!has_zero(x)) return div(cumsum(mul(y, g), d, nullptr, !reverse), x);
  if (!autograd::grad_enabled()) {  // first order: O(n) per lane, zeros handled
    TensorPtr dx = empty(x->shape, x->dtype), xd = dense(x), yd = dense(y), gd = dense(g);
    dispatch(x->dtype, [&](auto t) {
      using T = decltype(t);
      cumprod_backward_lanes<T>(xd->data<T>(), yd->data<T>(), gd->data<T>(), dx->data<T>(), lanes_of(x->shape, d),
                                reverse);
      return 0;
    });
    return dx;
  }
  // create_graph with zeros: dx_p = sum over q reached from p of g_q * P[p, q].
  const int64_t last = x->ndim() - 1;
  TensorPtr xl = transpose(x, d, last), gl = transpose(g, d, last);
  TensorPtr terms = mul(cumprod_partials(xl, reverse), unsqueeze(gl, -2));
  TensorPtr dx = sum(where(square_mask(xl->shape.back(), false, reverse), terms, zeros({}, x->dtype)), {-1}, false);
  return transpose(dx, d, last);
}

// Its tangent: dy_q = sum over p reaching q of t_p * P[p, q] (y * cumsum(t / x) without zeros).
TensorPtr cumprod_jvp(const TensorPtr& t, const TensorPtr& x, const TensorPtr& y, int64_t d, bool reverse) {
  if (x->numel <= 1 || size_along(*x, d) == 1) return t;
  if (!has_zero(x)) return mul(y, cumsum(div(t, x), d, nullptr, reverse));
  const int64_t last = x->ndim() - 1;
  TensorPtr xl = transpose(x, d, last), tl = transpose(t, d, last);
  TensorPtr terms = mul(cumprod_partials(xl, reverse), unsqueeze(tl, -1));
  TensorPtr dy = sum(where(square_mask(xl->shape.back(), false, reverse), terms, zeros({}, x->dtype)), {-2}, false);
  return transpose(dy, d, last);
}

struct CumprodBackward final : Node {
  SavedTensor x_, y_;
  int64_t dim = 0;
  bool reverse = false;
  const char* name() const override { return "CumprodBackward0"; }
  tensor_list apply(tensor_list&& g) override {
    return {cumprod_backward(g[0], x_.unpack(this), y_.unpack(this), dim, reverse)};
  }
  void release_saved() override { x_.reset(); y_.reset(); }
  std::vector<std::pair<std::string, TensorPtr>> saved_tensors() const override { return {{"self", x_.raw()}, {"result", y_.raw()}}; }
};

}  // namespace

// The public gather / scatter_add (index.cpp: one implementation, with their Backward nodes
// and forward rules); float16/bfloat16 gradients are summed in float32.
TensorPtr gather_along(const TensorPtr& x, int64_t dim, const TensorPtr& index) { return gather(x, dim, index); }

TensorPtr scatter_add_along(const TensorPtr& src, int64_t dim, const TensorPtr& index, const Shape& shape) {
  if (is_half(src->dtype))
    return to_dtype(scatter_add_along(to_dtype(src, DType::Float32), dim, index, shape), src->dtype);
  GC_CHECK(src->shape == index->shape, RuntimeError, "scatter_add_along(): src ", shape_str(src->shape),
           " and index ", shape_str(index->shape), " must have the same shape");
  return scatter_add(zeros(shape, src->dtype), dim, index, src);
}

ValuesIndices max_dim(const TensorPtr& x, int64_t dim, bool keepdim) { return extreme_dim(x, dim, keepdim, true); }
ValuesIndices min_dim(const TensorPtr& x, int64_t dim, bool keepdim) { return extreme_dim(x, dim, keepdim, false); }
TensorPtr argmax(const TensorPtr& x, const int64_t* dim, bool keepdim) { return arg_extreme(x, dim, keepdim, true); }
TensorPtr argmin(const TensorPtr& x, const int64_t* dim, bool keepdim) { return arg_extreme(x, dim, keepdim, false); }

ValuesIndices sort(const TensorPtr& x, int64_t dim, bool descending, bool stable) {
  if (is_half(x->dtype)) return halves_back(sort(to_dtype(x, DType::Float32), dim, descending, stable), x->dtype);
  const int64_t d = normalize_dim(dim, x->ndim());
  TensorPtr vals = empty(x->shape, x->dtype), idx = empty(x->shape, DType::Int64);
  if (x->numel > 0) {
    TensorPtr xd = dense(x);
    dispatch_arith(x->dtype, [&](auto tag) {
      using T = typename decltype(tag)::type;
      sort_lanes<T>(xd->data<T>(), lanes_of(x->shape, d), descending, vals->data<T>(), idx->data<int64_t>());
      return 0;
    });
  }
  ValuesIndices r{vals, idx};
  record_indexed(r, x, d, idx, false, stable ? "SortBackward1" : "SortBackward0");
  return r;
}

TensorPtr argsort(const TensorPtr& x, int64_t dim, bool descending, bool stable) {
  autograd::GradModeGuard no_grad(false);
  autograd::fw::DisableGuard no_tangent;
  return sort(x, dim, descending, stable).indices;
}

ValuesIndices topk(const TensorPtr& x, int64_t k, int64_t dim, bool largest, bool sorted) {
  GC_CHECK(x->dtype != DType::Bool, RuntimeError, "topk does not support bool dtypes on CPU");
  if (is_half(x->dtype)) return halves_back(topk(to_dtype(x, DType::Float32), k, dim, largest, sorted), x->dtype);
  const int64_t d = normalize_dim(dim, x->ndim());
  const int64_t n = size_along(*x, d);
  GC_CHECK(k >= 0 && k <= n, RuntimeError, "selected index k out of range");
  if (x->ndim() == 0) k = 1;  // NOTE: PyTorch gives a 0-dim tensor's element for k = 0 too
  const Shape out = x->ndim() ? with_size(x->shape, d, k) : Shape{};
  TensorPtr vals = empty(out, x->dtype), idx = empty(out, DType::Int64);
  if (vals->numel > 0) {
    TensorPtr xd = dense(x);
    dispatch_arith(x->dtype, [&](auto tag) {
      using T = typename decltype(tag)::type;
      topk_lanes<T>(xd->data<T>(), lanes_of(x->shape, d), k, largest, vals->data<T>(), idx->data<int64_t>());
      return 0;
    });
  }
  ValuesIndices r{vals, idx};
  record_indexed(r, x, d, idx, false, "TopkBackward0");
  return r;
}

ValuesIndices kthvalue(const TensorPtr& x, int64_t k, int64_t dim, bool keepdim) {
  const int64_t d = normalize_dim(dim, x->ndim());
  check_dim_nonempty(*x, d, "kthvalue");
  GC_CHECK(x->dtype != DType::Bool || x->ndim() == 0, RuntimeError, "\"kthvalue_cpu\" not implemented for 'Bool'");
  if (is_half(x->dtype)) return halves_back(kthvalue(to_dtype(x, DType::Float32), k, dim, keepdim), x->dtype);
  GC_CHECK(k >= 1 && k <= size_along(*x, d), RuntimeError, "kthvalue(): selected number k out of range for dimension ", d);
  return reduce_select(x, d, keepdim, "KthvalueBackward0", [&](auto* xp, const Lanes& L, auto* v, int64_t* i) {
    select_lanes(xp, L, k - 1, false, v, i);
  });
}

ValuesIndices median(const TensorPtr& x, int64_t dim, bool keepdim) {
  const int64_t d = normalize_dim(dim, x->ndim());
  check_dim_nonempty(*x, d, "median");
  GC_CHECK(x->dtype != DType::Bool, RuntimeError, "\"median_cpu\" not implemented for 'Bool'");
  if (is_half(x->dtype)) return halves_back(median(to_dtype(x, DType::Float32), dim, keepdim), x->dtype);
  const int64_t mid = (size_along(*x, d) - 1) / 2;
  return reduce_select(x, d, keepdim, "MedianBackward1", [&](auto* xp, const Lanes& L, auto* v, int64_t* i) {
    select_lanes(xp, L, mid, true, v, i);
  });
}

namespace {
struct MedianBackward final : Node {  // the gradient shared by the elements equal to the median
  SavedTensor x_, y_;
  const char* name() const override { return "MedianBackward0"; }
  tensor_list apply(tensor_list&& g) override {
    return {evenly_distribute_backward(g[0], x_.unpack(this), y_.unpack(this))};
  }
  void release_saved() override { x_.reset(); y_.reset(); }
  std::vector<std::pair<std::string, TensorPtr>> saved_tensors() const override { return {{"self", x_.raw()}, {"result", y_.raw()}}; }
};
}  // namespace

TensorPtr median(const TensorPtr& x) {
  if (x->numel == 0) return full({}, Scalar::of(__builtin_nan("")), x->dtype);  // NaN (integers: its conversion)
  GC_CHECK(x->dtype != DType::Bool, RuntimeError, "\"median_cpu\" not implemented for 'Bool'");
  if (is_half(x->dtype)) return to_dtype(median(to_dtype(x, DType::Float32)), x->dtype);
  TensorPtr y;
  {
    autograd::GradModeGuard no_grad(false);
    autograd::fw::DisableGuard no_tangent;
    y = median(reshape(detach(x), {x->numel}), 0, false).values;
  }
  if (is_floating(x->dtype)) {
    std::shared_ptr<MedianBackward> n;  // Note [Forward rules after set_history] (unary.cpp)
    if (needs_record({x.get()})) {
      n = make_node<MedianBackward>({x});
      set_history(y, n);
    }
    forward_rule(y, {x.get()}, [&] {  // the tangent averaged over the elements equal to the median
      TensorPtr share = evenly_distribute_backward(scalar_tensor(Scalar::of(1.0), x->dtype), x, y);
      return sum(mul(share, tangent(x)), {}, false);
    });
    if (n) {
      n->x_ = SavedTensor(x, false);
      n->y_ = SavedTensor(y, true);
    }
  }
  return y;
}

ValuesIndices mode(const TensorPtr& x, int64_t dim, bool keepdim) {
  if (is_half(x->dtype)) return halves_back(mode(to_dtype(x, DType::Float32), dim, keepdim), x->dtype);
  const int64_t d = normalize_dim(dim, x->ndim());
  check_dim_nonempty(*x, d, "mode");
  return reduce_select(x, d, keepdim, "ModeBackward0", [&](auto* xp, const Lanes& L, auto* v, int64_t* i) {
    mode_lanes(xp, L, v, i);
  });
}

ValuesIndices cummax(const TensorPtr& x, int64_t dim) { return cum_extreme(x, dim, true); }
ValuesIndices cummin(const TensorPtr& x, int64_t dim) { return cum_extreme(x, dim, false); }

TensorPtr cumsum(const TensorPtr& x_in, int64_t dim, const DType* dtype, bool reverse) {
  TensorPtr x = to_dtype(x_in, scan_dtype(*x_in, dtype));
  if (is_half(x->dtype)) return to_dtype(cumsum(to_dtype(x, DType::Float32), dim, nullptr, reverse), x->dtype);
  const int64_t d = normalize_dim(dim, x->ndim());
  TensorPtr y = scan(x, d, false, reverse);
  if (!is_floating(x->dtype)) return y;
  forward_rule(y, {x.get()}, [&] { return cumsum(tangent(x), d, nullptr, reverse); });
  if (needs_record({x.get()})) {
    auto n = make_node<CumsumBackward>({x});
    n->dim = d;
    n->reverse = reverse;
    set_history(y, n);
  }
  return y;
}

TensorPtr cumprod(const TensorPtr& x_in, int64_t dim, const DType* dtype, bool reverse) {
  TensorPtr x = to_dtype(x_in, scan_dtype(*x_in, dtype));
  if (is_half(x->dtype)) return to_dtype(cumprod(to_dtype(x, DType::Float32), dim, nullptr, reverse), x->dtype);
  const int64_t d = normalize_dim(dim, x->ndim());
  TensorPtr y = scan(x, d, true, reverse);
  if (!is_floating(x->dtype)) return y;
  std::shared_ptr<CumprodBackward> n;  // Note [Forward rules after set_history] (unary.cpp)
  if (needs_record({x.get()})) {
    n = make_node<CumprodBackward>({x});
    set_history(y, n);
  }
  forward_rule(y, {x.get()}, [&] { return cumprod_jvp(tangent(x), x, y, d, reverse); });
  if (n) {
    n->x_ = SavedTensor(x, false);
    n->y_ = SavedTensor(y, true);
    n->dim = d;
    n->reverse = reverse;
  }
  return y;
}

UniqueResult unique(const TensorPtr& x, bool return_inverse, bool return_counts) {
  if (is_half(x->dtype)) {
    UniqueResult r = unique(to_dtype(detach(x), DType::Float32), return_inverse, return_counts);
    r.values = to_dtype(r.values, x->dtype);
    return r;
  }
  UniqueResult r;
  TensorPtr xd = dense(x);
  const int64_t n = x->numel;
  dispatch_arith(x->dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* p = xd->data<T>();
    std::vector<Key<T>> keys(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) keys[i] = {p[i], i};
    std::sort(keys.begin(), keys.end(), Ascending<T>());
    std::vector<int64_t> starts;  // where each distinct value's run begins
    for (int64_t i = 0; i < n; ++i)
      if (i == 0 || !(keys[i - 1].v == keys[i].v)) starts.push_back(i);
    const int64_t m = static_cast<int64_t>(starts.size());
    r.values = empty({m}, x->dtype);
    r.counts = empty({m}, DType::Int64);
    r.inverse = empty(x->shape, DType::Int64);
    T* v = r.values->data<T>();
    int64_t* c = r.counts->data<int64_t>();
    int64_t* inv = r.inverse->data<int64_t>();
    for (int64_t g = 0; g < m; ++g) {
      const int64_t s = starts[g], e = g + 1 < m ? starts[g + 1] : n;
      v[g] = keys[s].v;
      c[g] = e - s;
      for (int64_t i = s; i < e; ++i) inv[keys[i].i] = g;
    }
    return 0;
  });
  if (!return_inverse) r.inverse = nullptr;
  if (!return_counts) r.counts = nullptr;
  return r;
}

TensorPtr bincount(const TensorPtr& x, const TensorPtr& weights, int64_t minlength) {
  GC_CHECK(x->dtype != DType::Bool && !is_floating(x->dtype), RuntimeError, "\"bincount_cpu\" not implemented for '",
           dtype_torch_name(x->dtype), "'");
  GC_CHECK(minlength >= 0, RuntimeError, "minlength should be >= 0");
  // NOTE: PyTorch's empty input gives int64 zeros, with or without weights.
  if (x->ndim() == 1 && x->numel == 0) return zeros({minlength}, DType::Int64);
  GC_CHECK(x->ndim() == 1, RuntimeError, "bincount only supports 1-d non-negative integral inputs.");
  GC_CHECK(!weights || (weights->ndim() == 1 && weights->numel == x->numel), RuntimeError,
           "weights should be 1-d and have the same length as input");
  TensorPtr xi = to_dtype(dense(x), DType::Int64);
  const int64_t* p = xi->data<int64_t>();
  int64_t top = -1;
  for (int64_t i = 0; i < x->numel; ++i) {
    GC_CHECK(p[i] >= 0, RuntimeError, "bincount only supports 1-d non-negative integral inputs.");
    top = std::max(top, p[i]);
  }
  const int64_t len = std::max(top + 1, minlength);
  const DType out_dtype = !weights ? DType::Int64 : weights->dtype == DType::Float32 ? DType::Float32 : DType::Float64;
  TensorPtr out = zeros({len}, out_dtype);
  if (!weights) {
    int64_t* o = out->data<int64_t>();
    for (int64_t i = 0; i < x->numel; ++i) ++o[p[i]];
    return out;
  }
  TensorPtr w;
  {
    autograd::GradModeGuard no_grad(false);
    w = dense(to_dtype(detach(weights), out_dtype));
  }
  dispatch(out_dtype, [&](auto t) {  // sequential sums, in input order (PyTorch's)
    using T = decltype(t);
    T* o = out->data<T>();
    const T* wp = w->data<T>();
    for (int64_t i = 0; i < x->numel; ++i) o[p[i]] += wp[i];
    return 0;
  });
  return out;
}

TensorPtr histc(const TensorPtr& x, int64_t bins, double lo, double hi) {
  GC_CHECK(is_floating(x->dtype), RuntimeError, "\"histogram_cpu\" not implemented for '", dtype_torch_name(x->dtype), "'");
  GC_CHECK(bins > 0, RuntimeError, "torch.histc: bins must be > 0, but got ", bins);
  if (is_half(x->dtype)) return to_dtype(histc(to_dtype(detach(x), DType::Float32), bins, lo, hi), x->dtype);
  TensorPtr xd = dense(x);
  if (lo == hi && x->numel > 0) {  // the data's range (NaN when it holds a NaN)
    autograd::GradModeGuard no_grad(false);
    autograd::fw::DisableGuard no_tangent;
    lo = to_dtype(amin(detach(x), {}, false), DType::Float64)->data<double>()[0];
    hi = to_dtype(amax(detach(x), {}, false), DType::Float64)->data<double>()[0];
  }
  if (lo == hi) {
    lo -= 1;
    hi += 1;
  }
  GC_CHECK(std::isfinite(lo) && std::isfinite(hi), RuntimeError, "torch.histc: range of [", lo, ", ", hi,
           "] is not finite");
  GC_CHECK(lo < hi, RuntimeError, "torch.histc: max must be larger than min");
  TensorPtr out = empty({bins}, x->dtype);
  dispatch(x->dtype, [&](auto t) {
    using T = decltype(t);
    // PyTorch's linear bin search: the edges in T, bin (x - lo) * bins / (hi - lo) rounded
    // down, x == hi in the last bin; values outside [lo, hi] and NaN are not counted.
    const T l = static_cast<T>(lo), h = static_cast<T>(hi), nb = static_cast<T>(bins);
    const T* p = xd->data<T>();
    std::vector<int64_t> counts(static_cast<size_t>(bins), 0);
    for (int64_t i = 0; i < x->numel; ++i) {
      const T v = p[i];
      if (!(v >= l && v <= h)) continue;
      int64_t b = static_cast<int64_t>((v - l) * nb / (h - l));
      if (b >= bins) b = bins - 1;
      ++counts[b];
    }
    T* o = out->data<T>();
    for (int64_t b = 0; b < bins; ++b) o[b] = static_cast<T>(counts[b]);
    return 0;
  });
  return out;
}

}  // namespace gradcore::ops
