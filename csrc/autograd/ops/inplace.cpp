// inplace.cpp — in-place writes: the recorded path (a non-leaf takes the op's history; a
// view gives its base a new one, PyTorch's CopySlices), copy_, fill_, the RNG fills.
//
// Note [In-place ops]: every in-place write bumps the storage's version (shared by all
// views), so a tensor saved for backward and modified afterwards is detected. Outside
// grad mode, or when neither self nor the source takes part in autograd, the write is
// just a kernel into self's memory. Otherwise:
//   - self a leaf that requires grad, or a view of one: RuntimeError, as PyTorch;
//   - the new value r = op(self) is computed out of place (recorded as usual), written
//     into self's memory, and self takes r's history (grad_fn);
//   - if self is a view of `base`, base gets a new history instead: CopySlices(base's old
//     history, r): its gradient is the incoming one with the view's region zeroed for the
//     old base, and the region itself for r. self's grad_fn is then a view of the new base.
//     Other views of the base notice (their base's grad_fn changed) and regenerate theirs
//     when next used (autograd::gradient_edge).
#include <cstring>
#include <limits>

#include "autograd/ops/common.h"
#include "core/tensor.h"

namespace gradcore::ops {
using autograd::make_node;
using autograd::needs_record;
using autograd::set_history;

namespace {

using Replay = std::function<TensorPtr(const TensorPtr&)>;

// g with the region `replay` selects set to zero (self-adjoint, so its own backward).
TensorPtr zero_region(const TensorPtr& g, const Replay& replay);

struct ZeroRegionBackward final : Node {
  Replay replay;
  const char* name() const override { return "CopySlices"; }
  tensor_list apply(tensor_list&& g) override { return {zero_region(g[0], replay)}; }
};

TensorPtr zero_region(const TensorPtr& g, const Replay& replay) {
  TensorPtr out = empty(g->shape, g->dtype);
  copy_values(out, g);
  {
    autograd::GradModeGuard off(false);
    autograd::fw::DisableGuard no_tangent;
    TensorPtr region = replay(out);
    TensorPtr z = zeros({}, g->dtype);
    copy_values(region, z);
  }
  forward_rule(out, {g.get()}, [&] { return zero_region(tangent(g), replay); });  // linear: the same map
  if (needs_record({g.get()})) {
    auto n = make_node<ZeroRegionBackward>({g});
    n->replay = replay;
    set_history(out, n);
  }
  return out;
}

// The history of a constant written over self (zero_, fill_, copy_ of a constant): the
// overwritten values get a zero gradient. PyTorch's names for the common ones.
struct OverwriteBackward final : Node {
  const char* op = "";
  const char* name() const override {
    if (std::strcmp(op, "zero_") == 0) return "ZeroBackward0";
    if (std::strcmp(op, "copy_") == 0) return "CopyBackwards";
    return "FillBackward0";
  }
  tensor_list apply(tensor_list&& g) override { return {zeros(g[0]->shape, g[0]->dtype)}; }
};

// The history of "base with the region `replay` selects replaced by value": edge 0 the
// base (its gradient with the region zeroed), edge 1 the value (the region, summed to the
// value's shape when it was broadcast). PyTorch calls this node CopySlices.
struct CopySlices final : Node {
  Replay replay;
  Shape value_shape;
  const char* name() const override { return "CopySlices"; }
  tensor_list apply(tensor_list&& g) override {
    tensor_list r(2);
    if (autograd::wants(*this, 0)) r[0] = zero_region(g[0], replay);
    if (autograd::wants(*this, 1)) r[1] = sum_to(contiguous(replay(g[0])), value_shape);
    return r;
  }
};

[[noreturn]] void throw_leaf_inplace(bool view) {
  if (view)
    throw RuntimeError("a view of a leaf Variable that requires grad is being used in an in-place operation.");
  throw RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.");
}

}  // namespace

TensorPtr view_put(const TensorPtr& base, const Replay& replay, const TensorPtr& value) {
  TensorPtr out = empty_like_layout(*base, base->dtype);
  copy_values(out, base);
  TensorPtr v = value->dtype == base->dtype ? value : to_dtype(value, base->dtype);
  {
    autograd::GradModeGuard off(false);
    autograd::fw::DisableGuard no_tangent;
    TensorPtr region = replay(out);
    GC_CHECK(broadcast_shapes(region->shape, v->shape, "setitem") == region->shape, ShapeError,
             "shape mismatch: value tensor of shape ", shape_str(v->shape),
             " cannot be broadcast to indexing result of shape ", shape_str(region->shape));
    copy_values(region, v);
  }
  forward_rule(out, {base.get(), v.get()}, [&] {
    TensorPtr tb = tangent(base), tv = tangent(v);
    return view_put(tb ? tb : zeros(base->shape, base->dtype), replay, tv ? tv : zeros(v->shape, v->dtype));
  });
  if (needs_record({base.get(), v.get()})) {
    auto n = make_node<CopySlices>({base, v});
    n->replay = replay;
    n->value_shape = v->shape;
    set_history(out, n);
  }
  return out;
}

// Regenerates a view's grad_fn from its base's current history (see Note [In-place ops]).
void refresh_view_grad_fn(const TensorPtr& v) {
  const ViewInfo& info = *v->view;
  const TensorPtr& base = info.base;
  if (!base->needs_grad()) return;
  TensorPtr fresh;
  {
    autograd::fw::DisableGuard no_tangent;
    autograd::GradModeGuard on(true);
    fresh = info.replay(base);  // a view of base with base's current history
  }
  v->grad_fn = fresh->grad_fn;
  v->output_nr = fresh->output_nr;
  v->requires_grad = true;
  v->view->base_grad_fn = base->grad_fn.get();
}

// PyTorch refuses in-place writes where several indices share one element (an expanded
// view): the result would depend on the order of the writes. An empty tensor has no element.
void check_no_internal_overlap(const Tensor& t) {
  if (t.numel == 0) return;
  for (size_t i = 0; i < t.shape.size(); ++i)
    GC_CHECK(!(t.strides[i] == 0 && t.shape[i] > 1), RuntimeError,
             "unsupported operation: more than one element of the written-to tensor refers to a single memory "
             "location. Please clone() the tensor before performing the operation.");
}

void check_inplace(const TensorPtr& t, const char* op) {
  check_no_internal_overlap(*t);
  if (autograd::grad_enabled()) {
    if (t->is_leaf() && t->requires_grad) throw_leaf_inplace(false);
    if (t->view && t->view->base->is_leaf() && t->view->base->requires_grad) throw_leaf_inplace(true);
  }
  GC_CHECK(!tangent(t), RuntimeError, op, ": in-place write to a dual tensor (forward-mode AD) is not supported");
  t->storage->version++;
}

bool inplace_records(const Tensor& self, std::initializer_list<const Tensor*> sources) {
  const bool grad = autograd::grad_enabled();
  if (grad && self.needs_grad()) return true;
  // Forward mode: a dual self or source takes the recorded path too (the new value's tangent).
  const bool fw = autograd::fw::active();
  if (fw && tangent(&self)) return true;
  for (const Tensor* s : sources)
    if (s && ((grad && s->needs_grad()) || (fw && tangent(s)))) return true;
  return false;
}

TensorPtr apply_inplace(const TensorPtr& self, const char* op, const Replay& outofplace,
                        std::initializer_list<const Tensor*> sources) {
  const bool grad = autograd::grad_enabled();
  const bool record = inplace_records(*self, sources);
  if (!record) {
    TensorPtr r;
    {
      autograd::GradModeGuard off(false);
      r = outofplace(self);
    }
    GC_CHECK(can_cast(r->dtype, self->dtype), RuntimeError, "result type ", dtype_torch_name(r->dtype),
             " can't be cast to the desired output type ", dtype_torch_name(self->dtype));
    check_inplace(self, op);
    TensorPtr src = r->dtype == self->dtype ? r : to_dtype(r, self->dtype);
    if (src->storage != self->storage || src->data_ptr() != self->data_ptr()) copy_values(self, src);
    return self;
  }
  check_no_internal_overlap(*self);
  const bool is_view = self->view != nullptr;
  if (grad) {
    if (self->is_leaf() && self->requires_grad) throw_leaf_inplace(false);
    if (is_view && self->view->base->is_leaf() && self->view->base->requires_grad) throw_leaf_inplace(true);
  }
  TensorPtr r;
  {
    // Note [Saving what an in-place op overwrites] (node.h): what op(self) saves from
    // self's storage is a clone made now, before the write (one per tensor saved).
    std::vector<std::pair<const Tensor*, TensorPtr>> copies;
    autograd::SaveRedirect redirect(self->storage.get(), [&copies](const TensorPtr& t) {
      for (const auto& [saved, copy] : copies)
        if (saved == t.get()) return copy;
      autograd::SaveRedirect off(nullptr, {});
      TensorPtr c = clone(t);
      copies.emplace_back(t.get(), c);
      return c;
    });
    r = outofplace(self);
  }
  GC_CHECK(can_cast(r->dtype, self->dtype), RuntimeError, "result type ", dtype_torch_name(r->dtype),
           " can't be cast to the desired output type ", dtype_torch_name(self->dtype));
  GC_CHECK(r->shape == self->shape, ShapeError, op, ": output with shape ", shape_str(self->shape),
           " doesn't match the broadcast shape ", shape_str(r->shape));
  if (r->dtype != self->dtype) r = to_dtype(r, self->dtype);
  // A leaf that requires grad as the new value (copy_ of a leaf): self takes a node of its
  // own, so the gradient reaches that leaf (taking the leaf's empty grad_fn would leave self
  // a leaf that requires grad, and the gradient would stop at self).
  if (grad && r->requires_grad && !r->grad_fn) r = clone(r);
  if (grad && !r->needs_grad() && (self->needs_grad() || (is_view && self->view->base->needs_grad()))) {
    // A constant overwrites a value that requires grad (zero_, fill_, copy_ from a constant,
    // a view's region): the region's gradient is zero from now on, and self keeps requiring
    // grad, as in PyTorch.
    if (r->storage == self->storage) r = clone(r);
    auto n = make_node<OverwriteBackward>({self});
    n->op = op;
    set_history(r, n);
  }
  copy_values(self, r);
  self->storage->version++;
  // The new tangent is the new value's (zeros when it has none but self had one: copy_ or
  // fill_ of a constant into a dual tensor, as PyTorch).
  TensorPtr tr = tangent(r);
  if (!tr && tangent(self)) tr = zeros(self->shape, self->dtype);
  if (!is_view) {
    if (grad) {
      self->grad_fn = r->grad_fn;
      self->output_nr = r->output_nr;
      self->requires_grad = r->needs_grad();
    }
    if (tr) autograd::fw::set_tangent(self, tr);
    return self;
  }
  // CopySlices: the base's new history (its memory already holds the new values).
  const TensorPtr base = self->view->base;
  const auto& replay = self->view->replay;
  if (grad && r->needs_grad()) {
    auto n = make_node<CopySlices>({base, r});
    n->replay = replay;
    n->value_shape = r->shape;
    set_history(base, n);
    refresh_view_grad_fn(self);
  }
  const TensorPtr tb = tangent(base);
  if (tr || tb) {
    autograd::fw::DisableGuard no_tangent;
    TensorPtr nt = view_put(tb ? tb : zeros(base->shape, base->dtype), replay, tr ? tr : zeros(r->shape, r->dtype));
    autograd::fw::set_tangent(base, nt);
    autograd::fw::set_tangent(self, replay(nt));
  }
  return self;
}

void copy_(const TensorPtr& dst, const TensorPtr& src) {
  broadcast_shapes(dst->shape, src->shape, "copy_");
  GC_CHECK(broadcast_shapes(dst->shape, src->shape, "copy_") == dst->shape, ShapeError, "copy_: the source of shape ",
           shape_str(src->shape), " cannot be broadcast to the destination's shape ", shape_str(dst->shape));
  apply_inplace(dst, "copy_", [&](const TensorPtr&) {
    // The new value: src broadcast to dst's shape, in dst's dtype (differentiable in src).
    TensorPtr v = to_dtype(src, dst->dtype);
    if (v->shape != dst->shape) v = expand(v, dst->shape);
    if (v->storage == dst->storage) v = clone(v);  // overlapping source: copy it first
    return v;
  }, {src.get()});
}

void fill_(const TensorPtr& dst, const Scalar& value, const char* op) {
  apply_inplace(dst, op, [&](const TensorPtr& self) {
    return expand(scalar_tensor(value, self->dtype), self->shape);
  });
}

namespace {
// RNG fills write straight into dst (contiguous), or into a temporary then copied.
// `kernel` names PyTorch's kernel in the error for a non-floating dst (NotImplementedError).
template <class Fill>
void rng_fill(const TensorPtr& dst, const char* op, const char* kernel, Fill&& fill) {
  GC_CHECK(is_floating(dst->dtype), NotImplementedError, "\"", kernel, "\" not implemented for '",
           dtype_torch_name(dst->dtype), "'");
  check_inplace(dst, op);
  // A strided float64 dst draws float64 samples too (a float32 temporary would round them).
  TensorPtr target = dst->is_contiguous && is_f32_or_f64(dst->dtype)
                         ? dst
                         : empty(dst->shape, dst->dtype == DType::Float64 ? DType::Float64 : DType::Float32);
  if (target->dtype == DType::Float32) fill(target->data<float>(), float{});
  else fill(target->data<double>(), double{});
  if (target != dst) cast_values(dst, target);
}
}  // namespace

void uniform_(const TensorPtr& dst, double low, double high, Generator* gen) {
  GC_CHECK(low <= high, RuntimeError, "uniform_ expects to return a [from, to) range, but found from=", low,
           " > to=", high);
  // PyTorch: both ends and their distance must be finite values of the dtype (else inf/NaN samples).
  if (is_floating(dst->dtype)) {
    const double mx = dst->dtype == DType::Float64 ? std::numeric_limits<double>::max()
                    : dst->dtype == DType::Float16 ? 65504.0
                    : dst->dtype == DType::BFloat16 ? 3.3895313892515355e38 : std::numeric_limits<float>::max();
    const char* tn = dst->dtype == DType::Float64 ? "double" : dst->dtype == DType::Float16 ? "c10::Half"
                   : dst->dtype == DType::BFloat16 ? "c10::BFloat16" : "float";
    GC_CHECK(low >= -mx && low <= mx, RuntimeError, "from is out of bounds for ", tn);
    GC_CHECK(high >= -mx && high <= mx, RuntimeError, "to is out of bounds for ", tn);
    GC_CHECK(high - low <= mx, RuntimeError, "uniform_ expects to-from <= std::numeric_limits<", tn,
             ">::max(), but found to=", high, " and from=", low, " which result in to-from to exceed the limit");
  }
  uint64_t seed;
  uint64_t off = rng_reserve(kernels::rng_blocks(dst->numel), &seed, gen);
  rng_fill(dst, "uniform_", "check_uniform_bounds", [&](auto* p, auto z) {
    using T = decltype(z);
    kernels::rng_uniform<T>(p, dst->numel, seed, off, static_cast<T>(low), static_cast<T>(high));
  });
}

void normal_(const TensorPtr& dst, double mean, double std, Generator* gen) {
  GC_CHECK(std >= 0, RuntimeError, "normal expects std >= 0.0, but found std ", std);
  uint64_t seed;
  uint64_t off = rng_reserve(kernels::rng_blocks(dst->numel), &seed, gen);
  rng_fill(dst, "normal_", "normal_kernel_cpu", [&](auto* p, auto z) {
    using T = decltype(z);
    kernels::rng_normal<T>(p, dst->numel, seed, off, static_cast<T>(mean), static_cast<T>(std));
  });
}

void add_inplace(const TensorPtr& dst, const TensorPtr& src, double alpha) {
  GC_CHECK(dst->shape == src->shape, ShapeError, "add_: shape mismatch ", shape_str(dst->shape), " vs ",
           shape_str(src->shape));
  check_same_dtype(*dst, *src, "add_");
  check_inplace(dst, "add_");
  if (dst->is_contiguous && src->is_contiguous && is_f32_or_f64(dst->dtype)) {
    dispatch(dst->dtype, [&](auto z) {
      using T = decltype(z);
      kernels::axpby<T>(static_cast<T>(alpha), src->data<T>(), T(1), dst->data<T>(), dst->numel);
      return 0;
    });
    return;
  }
  autograd::GradModeGuard off(false);
  TensorPtr r = add(dst, alpha == 1.0 ? src : mul_scalar(src, alpha));
  copy_values(dst, r);
}

void accumulate_overlapping(const TensorPtr& dst, const TensorPtr& src) {
  // dst[idx] += src[idx] for every idx in order; dst may reach an element several times.
  const int nd = static_cast<int>(dst->shape.size());
  std::vector<int64_t> idx(nd, 0);
  dispatch_arith(dst->dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (!std::is_same_v<T, bool>) {
      T* d = dst->data<T>();
      const T* s = src->data<T>();
      for (int64_t i = 0; i < dst->numel; ++i) {
        int64_t off = 0;
        for (int k = 0; k < nd; ++k) off += idx[k] * dst->strides[k];
        d[off] = static_cast<T>(d[off] + s[i]);
        for (int k = nd - 1; k >= 0; --k) {
          if (++idx[k] < dst->shape[k]) break;
          idx[k] = 0;
        }
      }
    }
    return 0;
  });
}

}  // namespace gradcore::ops
