// conv.cpp — torch.convolution (convolution and transposed convolution over 1 to 3 spatial
// dims, groups, dilation) and im2col / col2im, on the kernels of kernels/conv.h.
//
// A transposed convolution is the input gradient of the convolution whose output it reads:
// ConvGeom always describes that (forward) convolution, so conv_transpose(x, w) is
// conv_backward's input gradient with x as dY, and its own backward is conv_forward (dx)
// and conv_backward's weight gradient with the roles of x and dY swapped.
// Under create_graph (or forward-mode tangents) the backward is composed from
// differentiable ops: the input gradient is the opposite convolution, the weight gradient
// a batched matmul of dY with im2col(x), so every higher derivative exists.
#include "autograd/ops/conv.h"

#include <sstream>

#include "autograd/ops/common.h"
#include "kernels/conv.h"

namespace gradcore::ops {
using autograd::make_node;
using autograd::needs_record;
using autograd::SavedTensor;
using autograd::set_history;
using autograd::wants;
using kernels::ConvGeom;

namespace {

// "[1, 3, 28, 28]", as PyTorch prints sizes in its convolution messages.
std::string list_str(const Shape& s) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  os << "]";
  return os.str();
}
// "(3, 3)"
std::string tuple_str(const std::vector<int64_t>& v) {
  std::ostringstream os;
  os << "(";
  for (size_t i = 0; i < v.size(); ++i) os << (i ? ", " : "") << v[i];
  os << ")";
  return os.str();
}
// "(8 x 8)"
std::string size_str(const int64_t* v, int nd) {
  std::ostringstream os;
  os << "(";
  for (int i = 0; i < nd; ++i) os << (i ? " x " : "") << v[i];
  os << ")";
  return os.str();
}

struct ConvSpec {
  std::vector<int64_t> stride, padding, dilation, output_padding;
  int64_t groups = 1;
  bool transposed = false;
};

// Spatial vectors into ConvGeom's 3 slots (leading slots neutral).
void put3(int64_t (&dst)[3], const std::vector<int64_t>& v, int nd, int64_t neutral) {
  for (int d = 0; d < 3; ++d) dst[d] = neutral;
  for (int i = 0; i < nd; ++i) dst[3 - nd + i] = v[i];
}

void check_spatial_arg(const std::vector<int64_t>& v, int nd, const char* what) {
  GC_CHECK(static_cast<int>(v.size()) == nd, RuntimeError, "expected ", what,
           " to be a single integer value or a list of ", nd,
           " values to match the convolution dimensions, but got ", what, "=", list_str(Shape(v.begin(), v.end())));
}

// The geometry (of the forward convolution, Note above) and the output shape; PyTorch's
// checks in its order.
ConvGeom conv_geom(const Tensor& x, const Tensor& w, const Tensor* b, const ConvSpec& s, Shape& out_shape) {
  const int wd = static_cast<int>(w.ndim());
  GC_CHECK(wd >= 3 && wd <= 5, RuntimeError, "convolution: expected a 3-, 4- or 5-dimensional weight, got weight of size ",
           list_str(w.shape));
  const int nd = wd - 2;
  check_spatial_arg(s.stride, nd, "stride");
  check_spatial_arg(s.padding, nd, "padding");
  check_spatial_arg(s.dilation, nd, "dilation");
  if (s.transposed) check_spatial_arg(s.output_padding, nd, "output_padding");
  GC_CHECK(x.ndim() == w.ndim(), RuntimeError, "Expected ", wd, "-dimensional input for ", wd,
           "-dimensional weight ", list_str(w.shape), ", but got ", x.ndim(), "-dimensional input of size ",
           list_str(x.shape), " instead");
  for (int64_t v : s.stride) GC_CHECK(v > 0, RuntimeError, "non-positive stride is not supported");
  for (int64_t v : s.padding) GC_CHECK(v >= 0, RuntimeError, "negative padding is not supported");
  for (int64_t v : s.output_padding) GC_CHECK(v >= 0, RuntimeError, "negative output_padding is not supported");
  for (int64_t v : s.dilation)
    GC_CHECK(v > 0, RuntimeError, "dilation should be greater than zero, but got ",
             list_str(Shape(s.dilation.begin(), s.dilation.end())));
  GC_CHECK(s.groups > 0, RuntimeError, "non-positive groups is not supported");
  const int64_t G = s.groups;
  GC_CHECK(w.shape[0] >= G, RuntimeError, "Given groups=", G, ", expected weight to be at least ", G,
           " at dimension 0, but got weight of size ", list_str(w.shape), " instead");
  GC_CHECK(w.shape[0] % G == 0, RuntimeError, "Given groups=", G, ", expected weight to be divisible by ", G,
           " at dimension 0, but got weight of size [", list_str(w.shape), "] instead");
  const int64_t C = x.shape[1];
  const int64_t out_ch = s.transposed ? w.shape[1] * G : w.shape[0];
  if (s.transposed) {
    GC_CHECK(C == w.shape[0], RuntimeError, "Given transposed=1, weight of size ", list_str(w.shape),
             ", expected input", list_str(x.shape), " to have ", w.shape[0], " channels, but got ", C,
             " channels instead");
  } else {
    GC_CHECK(C == w.shape[1] * G, RuntimeError, "Given groups=", G, ", weight of size ", list_str(w.shape),
             ", expected input", list_str(x.shape), " to have ", w.shape[1] * G, " channels, but got ", C,
             " channels instead");
  }
  if (b)
    GC_CHECK(b->ndim() == 1 && b->shape[0] == out_ch, RuntimeError, "Given ", s.transposed ? "transposed=1, " : "",
             "weight of size ", list_str(w.shape), ", expected bias to be 1-dimensional with ", out_ch,
             " elements, but got bias of size ", list_str(b->shape), " instead");
  int64_t in[3], ker[3], outv[3];
  for (int i = 0; i < nd; ++i) {
    in[i] = x.shape[2 + i];
    ker[i] = w.shape[2 + i];
  }
  if (!s.transposed) {
    int64_t padded[3], eff[3];
    bool fits = true;
    for (int i = 0; i < nd; ++i) {
      padded[i] = in[i] + 2 * s.padding[i];
      eff[i] = s.dilation[i] * (ker[i] - 1) + 1;
      fits = fits && padded[i] >= eff[i];
    }
    GC_CHECK(fits, RuntimeError, "Calculated padded input size per channel: ", size_str(padded, nd),
             ". Kernel size: ", size_str(eff, nd), ". Kernel size can't be greater than actual input size");
    for (int i = 0; i < nd; ++i) outv[i] = (padded[i] - eff[i]) / s.stride[i] + 1;
  } else {
    bool op_ok = true, positive = true;
    for (int i = 0; i < nd; ++i) {
      op_ok = op_ok && (s.output_padding[i] < s.stride[i] || s.output_padding[i] < s.dilation[i]);
      outv[i] = (in[i] - 1) * s.stride[i] - 2 * s.padding[i] + s.dilation[i] * (ker[i] - 1) + s.output_padding[i] + 1;
      positive = positive && outv[i] > 0;
    }
    if (!op_ok) {
      static const char* names[3][3] = {{"width", "", ""}, {"height", "width", ""}, {"depth", "height", "width"}};
      std::ostringstream os;
      os << "output padding must be smaller than either stride or dilation, but got";
      for (int i = 0; i < nd; ++i) os << " output_padding_" << names[nd - 1][i] << ": " << s.output_padding[i];
      for (int i = 0; i < nd; ++i) os << " stride_" << names[nd - 1][i] << ": " << s.stride[i];
      for (int i = 0; i < nd; ++i) os << " dilation_" << names[nd - 1][i] << ": " << s.dilation[i];
      GC_CHECK(false, RuntimeError, os.str());
    }
    GC_CHECK(positive, RuntimeError, "Given input size per channel: ", size_str(in, nd),
             ". Calculated output size per channel: ", size_str(outv, nd), ". Output size is too small");
  }
  ConvGeom g;
  g.batch = x.shape[0];
  g.groups = G;
  std::vector<int64_t> inv(in, in + nd), kv(ker, ker + nd), ov(outv, outv + nd);
  // The forward convolution: a transposed one reads its output and writes its input.
  put3(g.in, s.transposed ? ov : inv, nd, 1);
  put3(g.out, s.transposed ? inv : ov, nd, 1);
  put3(g.ker, kv, nd, 1);
  put3(g.stride, s.stride, nd, 1);
  put3(g.pad, s.padding, nd, 0);
  put3(g.dil, s.dilation, nd, 1);
  g.in_ch = s.transposed ? out_ch : C;
  g.out_ch = s.transposed ? C : out_ch;
  out_shape = {x.shape[0], out_ch};
  for (int i = 0; i < nd; ++i) out_shape.push_back(outv[i]);
  return g;
}

// The output_padding that makes the transposed convolution of an (out)-sized input give
// back exactly `in` (the input gradient of a strided convolution).
std::vector<int64_t> output_padding_for(const ConvGeom& g, int nd) {
  std::vector<int64_t> op(nd);
  for (int i = 0; i < nd; ++i) {
    const int d = 3 - nd + i;
    op[i] = g.in[d] - ((g.out[d] - 1) * g.stride[d] - 2 * g.pad[d] + g.dil[d] * (g.ker[d] - 1) + 1);
  }
  return op;
}

std::vector<int64_t> spatial_dims(int nd) {
  std::vector<int64_t> dims = {0};
  for (int i = 0; i < nd; ++i) dims.push_back(2 + i);
  return dims;
}

TensorPtr im2col_geom(const TensorPtr& x, const ConvGeom& g, int nd);
TensorPtr col2im_geom(const TensorPtr& cols, const ConvGeom& g, int nd);

// dW of the forward convolution g from its input xin and output gradient gout, composed:
// sum over the batch of (dY_g @ im2col(x)_g^T), per group.
TensorPtr weight_grad_composed(const TensorPtr& xin, const TensorPtr& gout, const ConvGeom& g, int nd,
                               const Shape& w_shape) {
  ConvGeom all = g;
  all.groups = 1;
  const int64_t N = g.batch, G = g.groups, P = g.out_size();
  TensorPtr cols = reshape(im2col_geom(xin, all, nd), {N, G, g.cg() * g.taps(), P});
  TensorPtr gy = reshape(gout, {N, G, g.kg(), P});
  TensorPtr prod = sum(matmul(gy, transpose(cols, 2, 3)), {0}, false);  // (G, Kg, Cg R)
  return reshape(prod, w_shape);
}

struct ConvolutionBackward final : Node {
  SavedTensor x_, w_;
  ConvSpec spec;
  ConvGeom geom;
  int nd = 2;
  Shape x_shape, w_shape;
  const char* name() const override { return "ConvolutionBackward0"; }
  tensor_list apply(tensor_list&& grads) override {
    tensor_list r(3);
    TensorPtr x = x_.unpack(this), w = w_.unpack(this);
    const TensorPtr gy = dense(grads[0]);
    const bool wx = wants(*this, 0), ww = wants(*this, 1), wb = wants(*this, 2);
    if (wb) r[2] = sum(gy, spatial_dims(nd), false);
    if (!wx && !ww) return r;
    if (needs_composed({gy.get(), x.get(), w.get()})) {
      ConvSpec opp = spec;
      opp.transposed = !spec.transposed;
      if (!spec.transposed) opp.output_padding = output_padding_for(geom, nd);
      if (wx) r[0] = convolution(gy, w, nullptr, opp.stride, opp.padding, opp.dilation, opp.transposed,
                                 opp.output_padding, opp.groups);
      if (ww) r[1] = spec.transposed ? weight_grad_composed(gy, x, geom, nd, w_shape)
                                     : weight_grad_composed(x, gy, geom, nd, w_shape);
      return r;
    }
    TensorPtr gx = wx ? empty(x_shape, gy->dtype) : nullptr;
    TensorPtr gw = ww ? empty(w_shape, gy->dtype) : nullptr;
    TensorPtr wd = w ? dense(w) : nullptr, xd = x ? dense(x) : nullptr;
    dispatch(gy->dtype, [&](auto z) {
      using T = decltype(z);
      auto ptr = [](const TensorPtr& t) { return t ? t->data<T>() : nullptr; };
      if (!spec.transposed) {
        kernels::conv_backward<T>(geom, ptr(xd), ptr(wd), gy->data<T>(), ptr(gx), ptr(gw), nullptr);
      } else {
        // x is the forward convolution's output gradient, gy its input.
        if (gx) kernels::conv_forward<T>(geom, gy->data<T>(), wd->data<T>(), nullptr, gx->data<T>());
        if (gw) kernels::conv_backward<T>(geom, gy->data<T>(), nullptr, xd->data<T>(), nullptr, gw->data<T>(), nullptr);
      }
      return 0;
    });
    r[0] = gx;
    r[1] = gw;
    return r;
  }
  void release_saved() override { x_.reset(); w_.reset(); }
  std::vector<std::pair<std::string, TensorPtr>> saved_tensors() const override {
    return {{"input", x_.raw()}, {"weight", w_.raw()}};
  }
};

// im2col and col2im are linear and each other's adjoint: each one's backward is the other.
struct Im2ColBackward final : Node {
  ConvGeom geom;
  int nd = 2;
  bool adjoint = false;  // true: this is col2im's backward (an im2col)
  const char* name() const override { return adjoint ? "Col2ImBackward0" : "Im2ColBackward0"; }
  tensor_list apply(tensor_list&& g) override {
    tensor_list r(1);
    if (wants(*this, 0)) r[0] = adjoint ? im2col_geom(g[0], geom, nd) : col2im_geom(g[0], geom, nd);
    return r;
  }
};

TensorPtr im2col_geom(const TensorPtr& x_in, const ConvGeom& g, int nd) {
  TensorPtr x = dense(x_in);
  TensorPtr cols = empty({g.batch, g.in_ch * g.taps(), g.out_size()}, x->dtype);
  dispatch(x->dtype, [&](auto z) {
    using T = decltype(z);
    kernels::im2col<T>(g, x->data<T>(), cols->data<T>());
    return 0;
  });
  forward_rule(cols, {x_in.get()}, [&] { return im2col_geom(tangent(x_in), g, nd); });
  if (needs_record({x_in.get()})) {
    auto n = make_node<Im2ColBackward>({x_in});
    n->geom = g;
    n->nd = nd;
    set_history(cols, n);
  }
  return cols;
}

TensorPtr col2im_geom(const TensorPtr& c_in, const ConvGeom& g, int nd) {
  TensorPtr c = dense(c_in);
  Shape xs = {g.batch, g.in_ch};
  for (int i = 0; i < nd; ++i) xs.push_back(g.in[3 - nd + i]);
  TensorPtr x = empty(xs, c->dtype);
  dispatch(c->dtype, [&](auto z) {
    using T = decltype(z);
    kernels::col2im<T>(g, c->data<T>(), x->data<T>());
    return 0;
  });
  forward_rule(x, {c_in.get()}, [&] { return col2im_geom(tangent(c_in), g, nd); });
  if (needs_record({c_in.get()})) {
    auto n = make_node<Im2ColBackward>({c_in});
    n->geom = g;
    n->nd = nd;
    n->adjoint = true;
    set_history(x, n);
  }
  return x;
}

void check_conv_dtypes(const Tensor& x, const Tensor& w, const Tensor* b) {
  GC_CHECK(x.dtype == w.dtype, RuntimeError, "expected scalar type ", dtype_torch_name(x.dtype), " but found ",
           dtype_torch_name(w.dtype));
  if (b)
    GC_CHECK(b->dtype == x.dtype, RuntimeError, "Input type (", dtype_name(x.dtype), ") and bias type (",
             dtype_name(b->dtype), ") should be the same");
}

}  // namespace

TensorPtr convolution(const TensorPtr& x, const TensorPtr& w, const TensorPtr& b, const std::vector<int64_t>& stride,
                      const std::vector<int64_t>& padding, const std::vector<int64_t>& dilation, bool transposed,
                      const std::vector<int64_t>& output_padding, int64_t groups) {
  check_conv_dtypes(*x, *w, b.get());
  ConvSpec spec{stride, padding, dilation, output_padding, groups, transposed};
  const int nd = static_cast<int>(w->ndim()) - 2;
  if (spec.output_padding.empty()) spec.output_padding.assign(nd > 0 ? nd : 0, 0);
  Shape out_shape;
  const ConvGeom g = conv_geom(*x, *w, b.get(), spec, out_shape);
  if (!is_f32_or_f64(x->dtype)) {
    // Integer convolutions compute in float64 (exact below 2^53); float16 / bfloat16 in float32.
    const DType ct = is_floating(x->dtype) ? DType::Float32 : DType::Float64;
    TensorPtr y = convolution(to_dtype(x, ct), to_dtype(w, ct), b ? to_dtype(b, ct) : nullptr, stride, padding,
                              dilation, transposed, spec.output_padding, groups);
    return to_dtype(y, x->dtype);
  }
  TensorPtr xd = dense(x), wd = dense(w), bd = b ? dense(b) : nullptr;
  TensorPtr y = empty(out_shape, x->dtype);
  dispatch(x->dtype, [&](auto z) {
    using T = decltype(z);
    const T* bp = bd ? bd->data<T>() : nullptr;
    if (!transposed) {
      kernels::conv_forward<T>(g, xd->data<T>(), wd->data<T>(), bp, y->data<T>());
    } else {
      kernels::conv_backward<T>(g, nullptr, wd->data<T>(), xd->data<T>(), y->data<T>(), nullptr, nullptr);
      if (bp) {
        const int64_t C = out_shape[1], plane = y->numel / (out_shape[0] > 0 ? out_shape[0] * C : 1);
        T* yp = y->data<T>();
        for (int64_t n = 0; n < out_shape[0]; ++n)
          for (int64_t c = 0; c < C; ++c) {
            T* row = yp + (n * C + c) * plane;
            for (int64_t p = 0; p < plane; ++p) row[p] += bp[c];
          }
      }
    }
    return 0;
  });
  std::shared_ptr<ConvolutionBackward> n;  // Note [Forward rules after set_history] (unary.cpp)
  if (needs_record({x.get(), w.get(), b.get()})) {
    n = make_node<ConvolutionBackward>({x, w, b});
    n->spec = spec;
    n->geom = g;
    n->nd = nd;
    n->x_shape = x->shape;
    n->w_shape = w->shape;
    set_history(y, n);
  }
  forward_rule(y, {x.get(), w.get(), b.get()}, [&] {
    TensorPtr tx = tangent(x), tw = tangent(w), tb = tangent(b);
    TensorPtr dy = tx ? convolution(tx, w, nullptr, stride, padding, dilation, transposed, spec.output_padding, groups)
                      : nullptr;
    if (tw) {
      TensorPtr d = convolution(x, tw, nullptr, stride, padding, dilation, transposed, spec.output_padding, groups);
      dy = dy ? add(dy, d) : d;
    }
    if (tb) {
      Shape bs(out_shape.size(), 1);
      bs[1] = out_shape[1];
      TensorPtr d = expand(reshape(tb, bs), out_shape);
      dy = dy ? add(dy, d) : d;
    }
    return dy;
  });
  if (n) {
    if (w->needs_grad()) n->x_ = SavedTensor(x, false);
    if (x->needs_grad() || w->needs_grad()) n->w_ = SavedTensor(w, false);
  }
  return y;
}

namespace {
// The geometry of F.unfold / F.fold over `in` (spatial sizes of the image side).
ConvGeom unfold_geom(int64_t batch, int64_t channels, const std::vector<int64_t>& in,
                     const std::vector<int64_t>& kernel_size, const std::vector<int64_t>& dilation,
                     const std::vector<int64_t>& padding, const std::vector<int64_t>& stride, const char* op) {
  const int nd = static_cast<int>(in.size());
  GC_CHECK(nd >= 1 && nd <= 3, ValueError, op, ": expected 1 to 3 spatial dims, got ", nd);
  for (const auto* v : {&kernel_size, &dilation, &padding, &stride})
    GC_CHECK(static_cast<int>(v->size()) == nd, ValueError, op,
             ": kernel_size, dilation, padding and stride must have one entry per spatial dim (", nd, ")");
  for (int i = 0; i < nd; ++i) {
    GC_CHECK(kernel_size[i] > 0, RuntimeError, "kernel size should be greater than zero, but got kernel_size=",
             list_str(Shape(kernel_size.begin(), kernel_size.end())));
    GC_CHECK(stride[i] > 0, RuntimeError, "stride should be greater than zero, but got stride=",
             list_str(Shape(stride.begin(), stride.end())));
    GC_CHECK(dilation[i] > 0, RuntimeError, "dilation should be greater than zero, but got dilation=",
             list_str(Shape(dilation.begin(), dilation.end())));
    GC_CHECK(padding[i] >= 0, RuntimeError, "padding should be non-negative, but got padding=",
             list_str(Shape(padding.begin(), padding.end())));
  }
  ConvGeom g;
  g.batch = batch;
  g.in_ch = channels;
  g.out_ch = channels;
  std::vector<int64_t> out(nd);
  bool ok = true;
  for (int i = 0; i < nd; ++i) {
    const int64_t span = in[i] + 2 * padding[i] - (dilation[i] * (kernel_size[i] - 1) + 1);
    out[i] = span >= 0 ? span / stride[i] + 1 : 0;
    ok = ok && out[i] >= 1;
  }
  GC_CHECK(ok, RuntimeError, "Given ", std::string(op) == "col2im" ? "output_size=" : "input with spatial size ",
           tuple_str(in), ", kernel_size=", tuple_str(kernel_size), ", dilation=", tuple_str(dilation), ", padding=", tuple_str(padding),
           ", calculated shape of the array of sliding blocks as ", tuple_str(out),
           ", but its components must be at least one.");
  put3(g.in, in, nd, 1);
  put3(g.out, out, nd, 1);
  put3(g.ker, kernel_size, nd, 1);
  put3(g.stride, stride, nd, 1);
  put3(g.pad, padding, nd, 0);
  put3(g.dil, dilation, nd, 1);
  return g;
}
}  // namespace

TensorPtr im2col(const TensorPtr& x, const std::vector<int64_t>& kernel_size, const std::vector<int64_t>& dilation,
                 const std::vector<int64_t>& padding, const std::vector<int64_t>& stride) {
  GC_CHECK(x->ndim() >= 3 && x->ndim() <= 5, RuntimeError, "im2col: expected a batched input (N, C, *spatial), got ",
           list_str(x->shape));
  std::vector<int64_t> in(x->shape.begin() + 2, x->shape.end());
  const ConvGeom g = unfold_geom(x->shape[0], x->shape[1], in, kernel_size, dilation, padding, stride, "im2col");
  if (!is_f32_or_f64(x->dtype)) {
    const DType ct = is_floating(x->dtype) ? DType::Float32 : DType::Float64;
    return to_dtype(im2col(to_dtype(x, ct), kernel_size, dilation, padding, stride), x->dtype);
  }
  return im2col_geom(x, g, static_cast<int>(in.size()));
}

TensorPtr col2im(const TensorPtr& cols, const std::vector<int64_t>& output_size, const std::vector<int64_t>& kernel_size,
                 const std::vector<int64_t>& dilation, const std::vector<int64_t>& padding,
                 const std::vector<int64_t>& stride) {
  GC_CHECK(cols->ndim() == 3, RuntimeError, "col2im: expected a batched input (N, C * prod(kernel_size), L), got ",
           list_str(cols->shape));
  int64_t R = 1;
  for (int64_t k : kernel_size) R *= k;
  GC_CHECK(R > 0 && cols->shape[1] % R == 0, RuntimeError,
           "Expected size of input's dimension 1 to be divisible by the product of kernel_size, but got "
           "input.size(1)=", cols->shape[1], " and kernel_size=", tuple_str(kernel_size), ".");
  const ConvGeom g =
      unfold_geom(cols->shape[0], cols->shape[1] / R, output_size, kernel_size, dilation, padding, stride, "col2im");
  std::ostringstream blocks;
  for (int i = 0; i < static_cast<int>(output_size.size()); ++i)
    blocks << (i ? " * " : "") << g.out[3 - output_size.size() + i];
  GC_CHECK(cols->shape[2] == g.out_size(), RuntimeError, "Given output_size=", tuple_str(output_size), ", kernel_size=",
           tuple_str(kernel_size), ", dilation=", tuple_str(dilation), ", padding=", tuple_str(padding), ", stride=", tuple_str(stride),
           ", expected size of input's dimension 2 to match the calculated number of sliding blocks ", blocks.str(),
           " = ", g.out_size(), ", but got input.size(2)=", cols->shape[2], ".");
  if (!is_f32_or_f64(cols->dtype)) {
    const DType ct = is_floating(cols->dtype) ? DType::Float32 : DType::Float64;
    return to_dtype(col2im(to_dtype(cols, ct), output_size, kernel_size, dilation, padding, stride), cols->dtype);
  }
  return col2im_geom(cols, g, static_cast<int>(output_size.size()));
}

}  // namespace gradcore::ops
