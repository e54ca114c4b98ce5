// pool.cpp — pooling, unpooling and interpolation ops (issue 15), with their Backward nodes
// and forward-mode rules. Every op views its input as (N*C) planes (Note [Pooling planes],
// kernels/pool.h); an unbatched C[D][H]W input runs as a batch of one.
//
// Note [Linear pooling maps]: average pooling, adaptive average pooling and interpolation
// are linear maps y = A x of the planes, so each is one LinearMap (its geometry) applied
// forward (A x) or as its adjoint (A^T g): the backward of the forward map is the adjoint,
// the backward of the adjoint is the forward map again, and the tangent of either is the
// same map applied to the tangent. Both directions are recorded ops, so create_graph and
// forward-mode AD work to any order with one kernel pair per map.
//
// Note [Max pool gradient]: the values of max pooling are elements of x picked by the
// indices (as Note [Index-selected values], sort.cpp): the gradient is the incoming one
// added back at the indices of each plane (one kernel pass, or scatter_add_along on the
// flattened planes when that must be recorded), the tangent x's tangent gathered there.
#include "autograd/ops/pool.h"

#include <cmath>
#include <memory>
#include <sstream>

#include "autograd/ops/common.h"
#include "kernels/pool.h"

namespace gradcore::ops {
using autograd::make_node;
using autograd::needs_record;
using autograd::SavedTensor;
using autograd::set_history;

namespace {

enum class Kind { MAX, AVG, ADAPTIVE_AVG, ADAPTIVE_MAX, UNPOOL };

std::string sizes_str(const Shape& s) {  // PyTorch's "[2, 0, 4]"
  std::ostringstream o;
  o << "[";
  for (size_t i = 0; i < s.size(); ++i) o << (i ? ", " : "") << s[i];
  o << "]";
  return o.str();
}

std::string braces_str(const std::vector<int64_t>& s) {  // PyTorch's "{-1, -1}"
  std::ostringstream o;
  o << "{";
  for (size_t i = 0; i < s.size(); ++i) o << (i ? ", " : "") << s[i];
  o << "}";
  return o.str();
}

// Calls f(T{}) for the dtypes the forward kernels take.
template <class F>
auto dispatch_any(DType d, F&& f) {
  switch (d) {
    case DType::Float32: return f(float{});
    case DType::Float64: return f(double{});
    case DType::Int64: return f(int64_t{});
    case DType::Int32: return f(int32_t{});
    case DType::Int16: return f(int16_t{});
    case DType::Int8: return f(int8_t{});
    case DType::UInt8: return f(uint8_t{});
    default: break;
  }
  GC_CHECK(false, RuntimeError, "internal: a pooling kernel got a ", dtype_name(d), " tensor");
  return f(float{});
}

void check_nsp(int nsp) { GC_CHECK(nsp >= 1 && nsp <= 3, ValueError, "pooling: 1, 2 or 3 spatial dims, got ", nsp); }

void check_arg_len(const std::vector<int64_t>& v, int nsp, const char* op, const char* what) {
  GC_CHECK(static_cast<int>(v.size()) == nsp, ValueError, op, ": ", what, " must have ", nsp, " entries, got ",
           v.size());
}

// The argument sizes PyTorch computes in (32-bit) int: larger ones are its "integer out of range".
void check_int_range(const std::vector<int64_t>& v) {
  for (int64_t e : v) GC_CHECK(e >= -(int64_t(1) << 31) && e < (int64_t(1) << 31), RuntimeError, "integer out of range");
}

std::string op_name(Kind k, int nsp) {
  const char* base = k == Kind::MAX ? "max_pool" : k == Kind::AVG ? "avg_pool" : k == Kind::ADAPTIVE_AVG ? "adaptive_avg_pool"
                     : k == Kind::ADAPTIVE_MAX ? "adaptive_max_pool" : "max_unpool";
  return std::string(base) + std::to_string(nsp) + "d";
}

// The rank check of each op, with PyTorch's message (they differ op by op), and the
// empty-dims checks that come with it. Dims after the batch dim must be nonzero for the
// strided pools (checked later, after the argument checks, as PyTorch's order).
void check_rank(const Tensor& x, int nsp, Kind k) {
  const int64_t nd = x.ndim();
  const bool rank_ok = nd == nsp + 1 || nd == nsp + 2;
  const std::string name = op_name(k, nsp);
  if (nsp == 1 && k != Kind::MAX && k != Kind::UNPOOL) {
    GC_CHECK(rank_ok, RuntimeError, "Expected 2 to 3 dimensions, but got ", nd, "-dimensional tensor for argument #1 'self' (while checking arguments for ",
             name, ")");
  }
  switch (k) {
    case Kind::MAX:
      if (nsp == 1) {
        bool ok = rank_ok;
        for (int64_t i = nd - 2; ok && i < nd; ++i) ok = x.shape[i] != 0;
        GC_CHECK(ok, RuntimeError, "max_pool1d: Expected 2D or 3D (batch mode) tensor with optional 0 dim batch size for input, but got:",
                 sizes_str(x.shape));
      } else {
        GC_CHECK(rank_ok, RuntimeError, "non-empty ", nsp + 1, "D or ", nsp + 2, "D (batch mode) tensor expected for input");
      }
      break;
    case Kind::AVG:
      if (nsp == 2)
        GC_CHECK(rank_ok, RuntimeError, "Expected 3D or 4D (batch mode) tensor with optional 0 dim batch size for input, but got:",
                 sizes_str(x.shape));
      if (nsp == 3) GC_CHECK(rank_ok, RuntimeError, "non-empty 4D or 5D (batch mode) tensor expected for input");
      break;
    case Kind::ADAPTIVE_AVG:
    case Kind::ADAPTIVE_MAX: {
      if (nsp > 1)
        GC_CHECK(rank_ok, RuntimeError, name, "(): Expected ", nsp + 1, "D or ", nsp + 2, "D tensor, but got: ",
                 sizes_str(x.shape));
      // Adaptive average pooling allows empty channels; both refuse empty spatial dims.
      const int64_t first = k == Kind::ADAPTIVE_MAX ? nd - nsp - 1 : nd - nsp;
      for (int64_t i = nd == nsp + 1 ? std::max<int64_t>(first, 0) : std::max<int64_t>(first, 1); i < nd; ++i)
        GC_CHECK(x.shape[i] != 0, RuntimeError, name,
                 "(): Expected input to have non-zero size for non-batch dimensions, but input has sizes ",
                 sizes_str(x.shape), " with dimension ", i, " being empty");
      break;
    }
    case Kind::UNPOOL: {
      GC_CHECK(rank_ok, RuntimeError, "Input to max_unpooling", nsp, "d should be a ", nsp + 1, "d or ", nsp + 2,
               "d Tensor, but got a tensor with ", nd, " dimensions.");
      for (int64_t i = nd == nsp + 1 ? 0 : 1; i < nd; ++i)
        GC_CHECK(x.shape[i] != 0, RuntimeError, "max_unpooling", nsp,
                 "d(): Expected input to have non-zero size for non-batch dimensions, but got ", sizes_str(x.shape),
                 " with dimension ", i, " being empty.");
      break;
    }
  }
}

TensorPtr batched(const TensorPtr& x, int nsp) { return x->ndim() == nsp + 1 ? unsqueeze(x, 0) : x; }

// The planes of a batched input: in[] padded in front with 1s.
kernels::PoolShape plane_shape(const Tensor& xb, int nsp) {
  kernels::PoolShape g;
  g.planes = xb.shape[0] * xb.shape[1];
  for (int i = 0; i < nsp; ++i) g.in[3 - nsp + i] = xb.shape[2 + i];
  return g;
}

Shape out_shape_of(const Tensor& xb, int nsp, const int64_t* out) {
  Shape s{xb.shape[0], xb.shape[1]};
  for (int i = 0; i < nsp; ++i) s.push_back(out[3 - nsp + i]);
  return s;
}

inline int64_t div_floor(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

// "kH: 1 kW: 0" / "kT: 0 kH: 0 kW: 0": PyTorch's 2-d messages show a 1-d pool as (1, k).
std::string dims_msg(const char* prefix, const std::vector<int64_t>& v, int nsp) {
  static const char* names[3] = {"T", "H", "W"};
  std::ostringstream o;
  const int n = nsp == 3 ? 3 : 2;
  for (int i = 0; i < n; ++i) {
    const int src = i - (n - nsp);
    o << (i ? " " : "") << prefix << names[3 - n + i] << ": " << (src < 0 ? 1 : v[src]);
  }
  return o.str();
}

// Output geometry of a strided pool, checked in PyTorch's order and words.
kernels::PoolShape strided_geometry(const Tensor& xb, bool unbatched, int nsp, const PoolArgs& a, bool is_max) {
  kernels::PoolShape g = plane_shape(xb, nsp);
  const std::string name = op_name(is_max ? Kind::MAX : Kind::AVG, nsp);
  check_int_range(a.kernel);
  check_int_range(a.stride);
  check_int_range(a.padding);
  check_int_range(a.dilation);
  const bool one_d_max = is_max && nsp == 1;
  for (int i = 0; i < nsp; ++i) {
    const int64_t k = a.kernel[i], s = a.stride[i], p = a.padding[i], d = a.dilation[i];
    if (one_d_max) {
      GC_CHECK(k > 0, RuntimeError, "max_pool1d() kernel_size must be greater than zero, but got ", k);
      GC_CHECK(s > 0, RuntimeError, "max_pool1d() stride must be greater than zero, but got ", s);
      GC_CHECK(p >= 0, RuntimeError, "max_pool1d() padding must be non-negative, but got ", p);
      GC_CHECK(p <= k / 2, RuntimeError, "max_pool1d() padding should be at most half of kernel size, but got padding=", p,
               " and kernel_size=", k);
      GC_CHECK(d > 0, RuntimeError, "max_pool1d() dilation must be greater than zero, but got ", d);
    } else {
      GC_CHECK(s != 0, RuntimeError, "stride should not be zero");
      GC_CHECK(p >= 0, RuntimeError, "pad must be non-negative, but got pad: ", p);
      GC_CHECK(p <= ((k - 1) * d + 1) / 2, RuntimeError, "pad should be at most half of effective kernel size, but got pad=", p,
               ", kernel_size=", k, " and dilation=", d);
    }
    const int j = 3 - nsp + i;
    const int64_t in = g.in[j];
    int64_t out = div_floor(in + 2 * p - d * (k - 1) - 1 + (a.ceil_mode ? s - 1 : 0), s) + 1;
    if (a.ceil_mode && (out - 1) * s >= in + p) --out;
    g.out[j] = out;
    g.k[j] = k;
    g.s[j] = s;
    g.p[j] = p;
    g.d[j] = d;
  }
  const int64_t C = xb.shape[1];
  if (one_d_max) {
    GC_CHECK(g.out[2] >= 1, RuntimeError, "max_pool1d() Invalid computed output size: ", g.out[2]);
    return g;
  }
  bool kpos = true, spos = true, dpos = true;
  for (int i = 0; i < nsp; ++i) {
    kpos = kpos && a.kernel[i] > 0;
    spos = spos && a.stride[i] > 0;
    dpos = dpos && a.dilation[i] > 0;
  }
  GC_CHECK(kpos, RuntimeError, "kernel size should be greater than zero, but got ", dims_msg("k", a.kernel, nsp));
  GC_CHECK(spos, RuntimeError, "stride should be greater than zero, but got ", dims_msg("d", a.stride, nsp));
  GC_CHECK(dpos, RuntimeError, "dilation should be greater than zero, but got ", dims_msg("dilation", a.dilation, nsp));
  // Empty dims after the batch dim.
  Shape shown = xb.shape;
  if (unbatched) shown.erase(shown.begin());
  if (nsp < 3) {
    if (!is_max && nsp == 1) shown.insert(shown.end() - 1, 1);  // avg_pool1d runs as avg_pool2d
    bool ok = true;
    for (size_t i = shown.size() == 3 ? 0 : 1; i < shown.size(); ++i) ok = ok && shown[i] != 0;
    GC_CHECK(ok, RuntimeError, "Expected 3D or 4D (batch mode) tensor with optional 0 dim batch size for input, but got:",
             sizes_str(shown));
  } else {
    for (size_t i = shown.size() == 4 ? 0 : 1; i < shown.size(); ++i)
      GC_CHECK(shown[i] != 0, RuntimeError, is_max ? "max_pool3d_with_indices_out_cpu_template()" : "avg_pool3d()",
               ": Expected input's non-batch dimensions to have positive length, but input has a shape of ",
               sizes_str(shown), " and non-batch dimension ", shown[i], " has length zero!");
    if (!is_max)
      GC_CHECK(g.in[0] >= g.k[0] && g.in[1] >= g.k[1] && g.in[2] >= g.k[2], RuntimeError, "input image (T: ", g.in[0],
               " H: ", g.in[1], " W: ", g.in[2], ") smaller than kernel size (kT: ", g.k[0], " kH: ", g.k[1],
               " kW: ", g.k[2], ")");
  }
  if (is_max) {  // PyTorch's second padding check: at most half of the (undilated) kernel
    bool pad_ok = true;
    for (int j = 0; j < 3; ++j) pad_ok = pad_ok && g.p[j] <= g.k[j] / 2;
    if (nsp == 2)
      GC_CHECK(pad_ok, RuntimeError, "pad should be smaller than or equal to half of kernel size, but got padW = ", g.p[2],
               ", padH = ", g.p[1], ", kW = ", g.k[2], ", kH = ", g.k[1]);
    else
      GC_CHECK(pad_ok, RuntimeError, "pad should be smaller than or equal to half of kernel size, but got kT: ", g.k[0],
               " kW: ", g.k[2], " kH: ", g.k[1], " padT: ", g.p[0], " padW: ", g.p[2], " padH: ", g.p[1]);
  }
  bool out_ok = true;
  for (int i = 0; i < nsp; ++i) out_ok = out_ok && g.out[3 - nsp + i] >= 1;
  if (!out_ok) {
    const int n = nsp == 3 ? 3 : 2;
    std::ostringstream in_s, out_s;
    in_s << C;
    out_s << C;
    for (int j = 3 - n; j < 3; ++j) {
      in_s << "x" << g.in[j];
      out_s << "x" << g.out[j];
    }
    GC_CHECK(false, RuntimeError, "Given input size: (", in_s.str(), "). Calculated output size: (", out_s.str(),
             "). Output size is too small");
  }
  return g;
}

void check_pool_args(const PoolArgs& a, int nsp, const char* op) {
  check_arg_len(a.kernel, nsp, op, "kernel_size");
  check_arg_len(a.stride, nsp, op, "stride");
  check_arg_len(a.padding, nsp, op, "padding");
  check_arg_len(a.dilation, nsp, op, "dilation");
}

// float16 / bfloat16 compute in float32 (exact for max; converted back).
bool reduced_float(DType d) { return d == DType::Float16 || d == DType::BFloat16; }

// ---- max pooling: values + indices (Note [Max pool gradient]) ----

struct MaxPoolBackward final : Node {
  std::string name_;
  SavedTensor idx_;
  Shape in_shape;
  int64_t planes = 0, in_plane = 0, out_plane = 0;
  const char* name() const override { return name_.c_str(); }
  tensor_list apply(tensor_list&& g) override {
    TensorPtr idx = idx_.unpack(this);
    if (needs_composed({g[0].get()})) {  // create_graph: a recorded scatter_add, whose backward is the gather
      TensorPtr g2 = reshape(g[0], {planes, out_plane});
      return {reshape(scatter_add_along(g2, 1, reshape(idx, {planes, out_plane}), {planes, in_plane}), in_shape)};
    }
    TensorPtr gy = dense(g[0]), id = dense(idx);
    TensorPtr gx = empty(in_shape, gy->dtype);
    dispatch(gy->dtype, [&](auto z) {
      using T = decltype(z);
      kernels::pool_index_backward<T>(gy->data<T>(), id->data<int64_t>(), gx->data<T>(), planes, in_plane, out_plane);
      return 0;
    });
    return {gx};
  }
  void release_saved() override { idx_.reset(); }
  std::vector<std::pair<std::string, TensorPtr>> saved_tensors() const override { return {{"indices", idx_.raw()}}; }
};

// y, idx of the batched input xb computed; records the gradient and tangent of y.
void record_max(const TensorPtr& y, const TensorPtr& idx, const TensorPtr& xb, const kernels::PoolShape& g,
                const std::string& name) {
  if (!is_floating(xb->dtype)) return;
  const int64_t planes = g.planes, ip = g.in_plane(), op = g.out_plane();
  if (needs_record({xb.get()})) {
    auto n = make_node<MaxPoolBackward>({xb});
    n->name_ = name;
    n->idx_ = SavedTensor(idx, false);
    n->in_shape = xb->shape;
    n->planes = planes;
    n->in_plane = ip;
    n->out_plane = op;
    set_history(y, n);
  }
  forward_rule(y, {xb.get()}, [&] {
    TensorPtr t = reshape(tangent(xb), {planes, ip});
    return reshape(gather_along(t, 1, reshape(idx, {planes, op})), y->shape);
  });
}

using MaxKernel = void (*)(const void*, void*, int64_t*, const kernels::PoolShape&);

ValuesIndices run_max(const TensorPtr& x, int nsp, const kernels::PoolShape& g, bool adaptive, const std::string& grad_name) {
  const TensorPtr xb = batched(x, nsp);
  Shape os = out_shape_of(*xb, nsp, g.out);
  TensorPtr y = empty(os, xb->dtype), idx = empty(os, DType::Int64);
  TensorPtr xd = dense(xb);
  dispatch_any(xb->dtype, [&](auto z) {
    using T = decltype(z);
    if (adaptive) kernels::adaptive_max_pool_forward<T>(xd->data<T>(), y->data<T>(), idx->data<int64_t>(), g);
    else kernels::max_pool_forward<T>(xd->data<T>(), y->data<T>(), idx->data<int64_t>(), g);
    return 0;
  });
  record_max(y, idx, xb, g, grad_name);
  if (xb != x) return {squeeze(y, {0}), squeeze(idx, {0})};
  return {y, idx};
}

// ---- the linear maps (Note [Linear pooling maps]) ----

struct LinearMap {
  enum MapKind { AVG, ADAPTIVE_AVG, INTERP } kind = AVG;
  kernels::PoolShape pool;
  bool count_include_pad = true;
  int64_t divisor = 0;
  kernels::InterpShape interp;
  Shape in_shape, out_shape;  // batched
  std::string name, adjoint_name;
};
using MapPtr = std::shared_ptr<const LinearMap>;

TensorPtr apply_map(const TensorPtr& x, const MapPtr& m, bool adjoint);

struct LinearMapBackward final : Node {
  MapPtr map;
  bool adjoint = false;  // this node is the backward of the adjoint map
  const char* name() const override { return adjoint ? map->adjoint_name.c_str() : map->name.c_str(); }
  tensor_list apply(tensor_list&& g) override { return {apply_map(g[0], map, !adjoint)}; }
};

TensorPtr apply_map(const TensorPtr& x, const MapPtr& m, bool adjoint) {
  const Shape& want = adjoint ? m->out_shape : m->in_shape;
  GC_CHECK(x->shape == want, ShapeError, m->name, ": expected a tensor of shape ", shape_str(want), ", got ",
           shape_str(x->shape));
  TensorPtr xd = dense(x);
  TensorPtr y = empty(adjoint ? m->in_shape : m->out_shape, x->dtype);
  dispatch(x->dtype, [&](auto z) {
    using T = decltype(z);
    const T* src = xd->data<T>();
    T* dst = y->data<T>();
    switch (m->kind) {
      case LinearMap::AVG:
        if (adjoint) kernels::avg_pool_backward<T>(src, dst, m->pool, m->count_include_pad, m->divisor);
        else kernels::avg_pool_forward<T>(src, dst, m->pool, m->count_include_pad, m->divisor);
        break;
      case LinearMap::ADAPTIVE_AVG:
        if (adjoint) kernels::adaptive_avg_pool_backward<T>(src, dst, m->pool);
        else kernels::adaptive_avg_pool_forward<T>(src, dst, m->pool);
        break;
      case LinearMap::INTERP:
        if (adjoint) kernels::interpolate_backward<T>(src, dst, m->interp);
        else kernels::interpolate_forward<T>(src, dst, m->interp);
        break;
    }
    return 0;
  });
  if (needs_record({x.get()})) {
    auto n = make_node<LinearMapBackward>({x});
    n->map = m;
    n->adjoint = adjoint;
    set_history(y, n);
  }
  forward_rule(y, {x.get()}, [&] { return apply_map(tangent(x), m, adjoint); });
  return y;
}

// The map on a batched float32/float64 xb; the result unbatched again when x was.
TensorPtr run_map(const TensorPtr& x, const TensorPtr& xb, const MapPtr& m) {
  TensorPtr y = apply_map(xb, m, false);
  return xb != x ? squeeze(y, {0}) : y;
}

std::string grad_name(const char* base, int nsp) { return std::string(base) + std::to_string(nsp) + "DBackward0"; }

}  // namespace

ValuesIndices max_pool(const TensorPtr& x, int nsp, const PoolArgs& a) {
  check_nsp(nsp);
  const std::string name = op_name(Kind::MAX, nsp);
  check_pool_args(a, nsp, name.c_str());
  check_rank(*x, nsp, Kind::MAX);
  GC_CHECK(x->dtype != DType::Bool && (nsp != 1 || is_floating(x->dtype)), NotImplementedError, "\"",
           nsp == 1 ? "max_pool1d_impl" : name.c_str(), "\" not implemented for '", dtype_torch_name(x->dtype), "'");
  if (reduced_float(x->dtype)) {
    ValuesIndices r = max_pool(to_dtype(x, DType::Float32), nsp, a);
    return {to_dtype(r.values, x->dtype), r.indices};
  }
  const TensorPtr xb = batched(x, nsp);
  kernels::PoolShape g = strided_geometry(*xb, xb != x, nsp, a, true);
  return run_max(x, nsp, g, false, "MaxPool" + std::to_string(nsp) + "DWithIndicesBackward0");
}

ValuesIndices adaptive_max_pool(const TensorPtr& x, int nsp, const std::vector<int64_t>& output_size) {
  check_nsp(nsp);
  const std::string name = op_name(Kind::ADAPTIVE_MAX, nsp);
  check_arg_len(output_size, nsp, name.c_str(), "output_size");
  check_rank(*x, nsp, Kind::ADAPTIVE_MAX);
  for (int64_t o : output_size)
    GC_CHECK(o >= 0, RuntimeError, name, ": elements of output_size must be greater than or equal to 0 but received ",
             sizes_str(Shape(output_size.begin(), output_size.end())));
  GC_CHECK(is_floating(x->dtype), NotImplementedError, "\"", nsp == 3 ? "adaptive_max_pool3d_cpu" : "adaptive_max_pool2d",
           "\" not implemented for '", dtype_torch_name(x->dtype), "'");
  if (reduced_float(x->dtype)) {
    ValuesIndices r = adaptive_max_pool(to_dtype(x, DType::Float32), nsp, output_size);
    return {to_dtype(r.values, x->dtype), r.indices};
  }
  const TensorPtr xb = batched(x, nsp);
  kernels::PoolShape g = plane_shape(*xb, nsp);
  for (int i = 0; i < nsp; ++i) g.out[3 - nsp + i] = output_size[i];
  shape_numel(out_shape_of(*xb, nsp, g.out));  // overflow check
  return run_max(x, nsp, g, true, grad_name("AdaptiveMaxPool", nsp));
}

TensorPtr avg_pool(const TensorPtr& x, int nsp, const PoolArgs& a, bool count_include_pad,
                   std::optional<int64_t> divisor_override) {
  check_nsp(nsp);
  const std::string name = op_name(Kind::AVG, nsp);
  check_pool_args(a, nsp, name.c_str());
  check_rank(*x, nsp, Kind::AVG);
  GC_CHECK(x->dtype != DType::Bool, NotImplementedError, "\"", nsp == 3 ? "avg_pool3d_out_frame" : "avg_pool2d",
           "\" not implemented for '", dtype_torch_name(x->dtype), "'");
  if (reduced_float(x->dtype))
    return to_dtype(avg_pool(to_dtype(x, DType::Float32), nsp, a, count_include_pad, divisor_override), x->dtype);
  const TensorPtr xb = batched(x, nsp);
  kernels::PoolShape g = strided_geometry(*xb, xb != x, nsp, a, false);
  if (divisor_override) {
    GC_CHECK(*divisor_override != 0, RuntimeError, "divisor must be not zero");
    check_int_range({*divisor_override});
  }
  const int64_t divisor = divisor_override ? *divisor_override : 0;
  if (!is_floating(x->dtype)) {  // integers: sum in int64, truncating division; no gradient
    Shape os = out_shape_of(*xb, nsp, g.out);
    TensorPtr y = empty(os, xb->dtype), xd = dense(xb);
    dispatch_any(xb->dtype, [&](auto z) {
      using T = decltype(z);
      kernels::avg_pool_forward<T>(xd->data<T>(), y->data<T>(), g, count_include_pad, divisor);
      return 0;
    });
    return xb != x ? squeeze(y, {0}) : y;
  }
  auto m = std::make_shared<LinearMap>();
  m->kind = LinearMap::AVG;
  m->pool = g;
  m->count_include_pad = count_include_pad;
  m->divisor = divisor;
  m->in_shape = xb->shape;
  m->out_shape = out_shape_of(*xb, nsp, g.out);
  m->name = grad_name("AvgPool", nsp);
  m->adjoint_name = m->name;
  m->adjoint_name.insert(m->adjoint_name.size() - 1, "Backward");
  return run_map(x, xb, m);
}

TensorPtr adaptive_avg_pool(const TensorPtr& x, int nsp, const std::vector<int64_t>& output_size) {
  check_nsp(nsp);
  const std::string name = op_name(Kind::ADAPTIVE_AVG, nsp);
  check_arg_len(output_size, nsp, name.c_str(), "output_size");
  check_rank(*x, nsp, Kind::ADAPTIVE_AVG);
  for (int64_t o : output_size)
    GC_CHECK(o >= 0, RuntimeError, nsp == 3 ? "adaptive_avg_pool3d" : "adaptive_avg_pool2d",
             ": elements of output_size must be greater than or equal to 0 but received ",
             braces_str(output_size));
  GC_CHECK(is_floating(x->dtype), NotImplementedError, "\"", nsp == 3 ? "adaptive_avg_pool3d_cpu" : "adaptive_avg_pool2d",
           "\" not implemented for '", dtype_torch_name(x->dtype), "'");
  if (reduced_float(x->dtype)) return to_dtype(adaptive_avg_pool(to_dtype(x, DType::Float32), nsp, output_size), x->dtype);
  const TensorPtr xb = batched(x, nsp);
  auto m = std::make_shared<LinearMap>();
  m->kind = LinearMap::ADAPTIVE_AVG;
  m->pool = plane_shape(*xb, nsp);
  for (int i = 0; i < nsp; ++i) m->pool.out[3 - nsp + i] = output_size[i];
  m->in_shape = xb->shape;
  m->out_shape = out_shape_of(*xb, nsp, m->pool.out);
  shape_numel(m->out_shape);
  m->name = grad_name("AdaptiveAvgPool", nsp);
  m->adjoint_name = m->name;
  m->adjoint_name.insert(m->adjoint_name.size() - 1, "Backward");
  return run_map(x, xb, m);
}

TensorPtr max_unpool(const TensorPtr& x, const TensorPtr& indices, int nsp, const std::vector<int64_t>& output_size) {
  check_nsp(nsp);
  const std::string name = op_name(Kind::UNPOOL, nsp);
  check_arg_len(output_size, nsp, name.c_str(), "output_size");
  GC_CHECK(indices->dtype == DType::Int64, RuntimeError, "elements in indices should be type int64 but got: ",
           dtype_torch_name(indices->dtype));
  check_rank(*x, nsp, Kind::UNPOOL);
  GC_CHECK(x->shape == indices->shape, RuntimeError, "Expected shape of indices to be same as that of the input tensor (",
           sizes_str(x->shape), ") but got indices tensor with shape: ", sizes_str(indices->shape));
  GC_CHECK(x->dtype != DType::Bool, NotImplementedError, "\"max_unpooling", nsp, "d_forward_out_cpu_frame\" not implemented for 'Bool'");
  int64_t out_plane = 1;
  for (int64_t o : output_size) {
    GC_CHECK(o > 0, RuntimeError, name, ": output_size must be positive, got ", sizes_str(Shape(output_size.begin(), output_size.end())));
    out_plane = shape_numel({out_plane, o});
  }
  const TensorPtr xb = batched(x, nsp), ib = batched(indices, nsp);
  const int64_t planes = xb->shape[0] * xb->shape[1];
  const int64_t in_plane = planes ? xb->numel / planes : 0;
  {  // every index inside the output plane (PyTorch's message)
    TensorPtr id = dense(ib);
    const int64_t* p = id->data<int64_t>();
    for (int64_t i = 0; i < id->numel; ++i) {
      if (p[i] >= 0 && p[i] < out_plane) continue;
      std::ostringstream sz;
      for (int j = 0; j < nsp; ++j) sz << (j ? "x" : "") << output_size[j];
      GC_CHECK(false, RuntimeError, "Found an invalid max index: ", p[i], " (output volumes are of size ", sz.str(), ")");
    }
  }
  Shape os{xb->shape[0], xb->shape[1]};
  for (int64_t o : output_size) os.push_back(o);
  TensorPtr out = scatter(zeros({planes, out_plane}, xb->dtype), 1, reshape(ib, {planes, in_plane}),
                          reshape(xb, {planes, in_plane}));
  TensorPtr y = reshape(out, os);
  return xb != x ? squeeze(y, {0}) : y;
}

TensorPtr interpolate(const TensorPtr& x, int nsp, const std::vector<int64_t>& size, const std::vector<double>& scales,
                      const std::string& mode, bool align_corners) {
  check_nsp(nsp);
  const int kmode = mode == "nearest" ? kernels::INTERP_NEAREST
                    : mode == "nearest-exact" ? kernels::INTERP_NEAREST_EXACT
                    : mode == "linear" ? kernels::INTERP_LINEAR : -1;
  GC_CHECK(kmode >= 0, ValueError, "interpolate: mode must be 'nearest', 'nearest-exact' or 'linear', got '", mode, "'");
  GC_CHECK(x->ndim() == nsp + 2, RuntimeError, "interpolate: expected a ", nsp + 2, "-D input for ", nsp,
           " spatial dims, got ", shape_str(x->shape));
  GC_CHECK(size.empty() || static_cast<int>(size.size()) == nsp, ValueError, "interpolate: size must have ", nsp, " entries");
  GC_CHECK(scales.empty() || static_cast<int>(scales.size()) == nsp, ValueError, "interpolate: scale_factor must have ", nsp,
           " entries");
  GC_CHECK(!size.empty() || !scales.empty(), ValueError, "either size or scale_factor should be defined");
  static const char* lin_names[3] = {"upsample_linear1d", "upsample_bilinear2d", "upsample_trilinear3d"};
  const std::string kname = kmode == kernels::INTERP_LINEAR ? lin_names[nsp - 1]
                            : (kmode == kernels::INTERP_NEAREST ? "upsample_nearest" : "_upsample_nearest_exact") +
                                  std::to_string(nsp) + "d";
  GC_CHECK(is_floating(x->dtype) || (x->dtype == DType::UInt8 && kmode != kernels::INTERP_LINEAR), NotImplementedError,
           "\"", kname, "\" not implemented for '", dtype_torch_name(x->dtype), "'");
  if (reduced_float(x->dtype)) return to_dtype(interpolate(to_dtype(x, DType::Float32), nsp, size, scales, mode, align_corners), x->dtype);
  kernels::InterpShape g;
  g.planes = x->shape[0] * x->shape[1];
  g.mode = kmode;
  g.align_corners = align_corners;
  bool ok = true;
  for (int i = 0; i < nsp; ++i) {
    const int j = 3 - nsp + i;
    const int64_t in = x->shape[2 + i];
    g.in[j] = in;
    if (!size.empty()) {
      g.out[j] = size[i];
    } else {
      const double o = std::floor(static_cast<double>(in) * scales[i]);
      GC_CHECK(std::isfinite(o) && std::fabs(o) < 9.0e15, RuntimeError, "interpolate: scale_factor ", scales[i],
               " gives an output size out of range for input size ", in);
      g.out[j] = static_cast<int64_t>(o);
    }
    if (!scales.empty()) g.scales[j] = scales[i];
    ok = ok && in > 0 && g.out[j] > 0;
  }
  if (!ok) {
    static const char* names[3] = {"D", "H", "W"};
    std::ostringstream in_s, out_s;
    for (int i = 0; i < nsp; ++i) {
      const int j = 3 - nsp + i;
      in_s << (i ? ", " : "") << names[j] << ": " << g.in[j];
      out_s << (i ? ", " : "") << names[j] << ": " << g.out[j];
    }
    GC_CHECK(false, RuntimeError, "Input and output sizes should be greater than 0, but got input (", in_s.str(),
             ") output (", out_s.str(), ")");
  }
  Shape os{x->shape[0], x->shape[1]};
  for (int i = 0; i < nsp; ++i) os.push_back(g.out[3 - nsp + i]);
  shape_numel(os);
  if (x->dtype == DType::UInt8) {  // nearest of uint8 images: a copy of picked values, no gradient
    TensorPtr y = empty(os, x->dtype), xd = dense(x);
    kernels::interpolate_forward<uint8_t>(xd->data<uint8_t>(), y->data<uint8_t>(), g);
    return y;
  }
  auto m = std::make_shared<LinearMap>();
  m->kind = LinearMap::INTERP;
  m->interp = g;
  m->in_shape = x->shape;
  m->out_shape = os;
  static const char* lin_grad[3] = {"UpsampleLinear1DBackward0", "UpsampleBilinear2DBackward0", "UpsampleTrilinear3DBackward0"};
  m->name = kmode == kernels::INTERP_LINEAR ? std::string(lin_grad[nsp - 1])
            : grad_name(kmode == kernels::INTERP_NEAREST ? "UpsampleNearest" : "UpsampleNearestExact", nsp);
  m->adjoint_name = m->name;
  m->adjoint_name.insert(m->adjoint_name.size() - 1, "Backward");
  return run_map(x, x, m);
}

}  // namespace gradcore::ops
