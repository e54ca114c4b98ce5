// ops.cpp — binds the op index (autograd/ops.h): operators, Tensor methods and the
// module-level functional forms. Only argument conversion and GIL release happen here.
#include <cmath>

#include "autograd/ops.h"
#include "bindings/common.h"

namespace gradcore::bindings {
namespace {

using GilRelease = py::call_guard<py::gil_scoped_release>;

enum class Bin { Add, Sub, Mul, Div, Pow, MatMul };

bool scalar_of(py::handle o, double& out) {
  if (PyFloat_Check(o.ptr()) || PyLong_Check(o.ptr())) {
    out = PyFloat_AsDouble(o.ptr());
    if (out == -1.0 && PyErr_Occurred()) throw py::error_already_set();
    return true;
  }
  static py::object& generic = *new py::object(py::module_::import("numpy").attr("generic"));  // leaked
  if (py::isinstance(o, generic)) {
    std::string kind = py::str(o.attr("dtype").attr("kind"));
    if (kind == "f" || kind == "i" || kind == "u" || kind == "b") {
      out = o.cast<double>();
      return true;
    }
  }
  return false;
}

TensorPtr tensor_op(Bin k, const TensorPtr& a, const TensorPtr& b) {
  py::gil_scoped_release nogil;
  switch (k) {
    case Bin::Add: return ops::add(a, b);
    case Bin::Sub: return ops::sub(a, b);
    case Bin::Mul: return ops::mul(a, b);
    case Bin::Div: return ops::div(a, b);
    case Bin::MatMul: return ops::matmul(a, b);
    case Bin::Pow: break;
  }
  throw TypeError("pow: the exponent must be a Python number (tensor exponents are not supported)");
}

TensorPtr scalar_op(Bin k, const TensorPtr& a, double s, bool reflected) {
  py::gil_scoped_release nogil;
  switch (k) {
    case Bin::Add: return ops::add_scalar(a, s);
    case Bin::Sub: return reflected ? ops::rsub_scalar(a, s) : ops::add_scalar(a, -s);
    case Bin::Mul: return ops::mul_scalar(a, s);
    case Bin::Div: return reflected ? ops::rdiv_scalar(a, s) : ops::div_scalar(a, s);
    case Bin::Pow:
      if (!reflected) return ops::pow_scalar(a, s);
      // s ** a = exp(a * ln s)
      GC_CHECK(s > 0, ValueError, "pow: a scalar base must be positive, got ", s);
      return ops::exp(ops::mul_scalar(a, std::log(s)));
    case Bin::MatMul: break;
  }
  throw TypeError("matmul: both operands must be tensors");
}

// a (op) other, or other (op) a when reflected. NotImplemented for foreign types.
py::object binary(Bin k, const TensorPtr& a, py::handle other, bool reflected) {
  if (py::isinstance<Tensor>(other)) {
    TensorPtr b = other.cast<TensorPtr>();
    return py::cast(reflected ? tensor_op(k, b, a) : tensor_op(k, a, b));
  }
  double s;
  if (k != Bin::MatMul && scalar_of(other, s)) return py::cast(scalar_op(k, a, s, reflected));
  if (py::isinstance<py::array>(other) || py::isinstance<py::list>(other) || py::isinstance<py::tuple>(other)) {
    TensorPtr b = as_operand(other, *a);
    return py::cast(reflected ? tensor_op(k, b, a) : tensor_op(k, a, b));
  }
  return py::reinterpret_borrow<py::object>(Py_NotImplemented);
}

TensorPtr require_tensor(py::handle x, const char* fn) {
  if (py::isinstance<Tensor>(x)) return x.cast<TensorPtr>();
  throw TypeError(std::string(fn) + ": expected a gradcore Tensor, got " +
                  std::string(py::str(py::type::of(x).attr("__name__"))));
}

// Functional binary form: gc.add(a, b) with tensors or scalars on either side.
py::object binary_fn(Bin k, py::handle a, py::handle b, const char* name) {
  if (py::isinstance<Tensor>(a)) {
    py::object r = binary(k, a.cast<TensorPtr>(), b, false);
    if (!r.is(py::reinterpret_borrow<py::object>(Py_NotImplemented))) return r;
  } else if (py::isinstance<Tensor>(b)) {
    py::object r = binary(k, b.cast<TensorPtr>(), a, true);
    if (!r.is(py::reinterpret_borrow<py::object>(Py_NotImplemented))) return r;
  }
  throw TypeError(std::string(name) + ": unsupported operand types " + std::string(py::str(py::type::of(a).attr("__name__"))) +
                  " and " + std::string(py::str(py::type::of(b).attr("__name__"))));
}

}  // namespace

void bind_ops(py::module_& m, TensorClass& cls) {
  // ---- operators ----
  struct OpName { const char* fwd; const char* rev; Bin k; };
  for (OpName o : {OpName{"__add__", "__radd__", Bin::Add}, OpName{"__sub__", "__rsub__", Bin::Sub},
                   OpName{"__mul__", "__rmul__", Bin::Mul}, OpName{"__truediv__", "__rtruediv__", Bin::Div},
                   OpName{"__pow__", "__rpow__", Bin::Pow}, OpName{"__matmul__", "__rmatmul__", Bin::MatMul}}) {
    Bin k = o.k;
    cls.def(o.fwd, [k](const TensorPtr& a, py::handle b) { return binary(k, a, b, false); }, py::is_operator());
    cls.def(o.rev, [k](const TensorPtr& a, py::handle b) { return binary(k, a, b, true); }, py::is_operator());
  }
  cls.def("__neg__", &ops::neg, GilRelease());
  cls.def("__pos__", [](const TensorPtr& t) { return t; });

  struct FnName { const char* name; Bin k; const char* doc; };
  for (FnName f : {FnName{"add", Bin::Add, "input + other, broadcasting (NumPy rules); scalars allowed on either side."},
                   FnName{"sub", Bin::Sub, "input - other, broadcasting; scalars allowed on either side."},
                   FnName{"mul", Bin::Mul, "input * other, broadcasting; scalars allowed on either side."},
                   FnName{"div", Bin::Div, "input / other, broadcasting; one IEEE division per element."},
                   FnName{"pow", Bin::Pow, "input ** other with a scalar exponent (or a positive scalar base)."},
                   FnName{"matmul", Bin::MatMul, "Matrix product: 1-D and 2-D operands, and N-D @ 2-D."}}) {
    Bin k = f.k;
    const char* name = f.name;
    m.def(name, [k, name](py::handle a, py::handle b) { return binary_fn(k, a, b, name); }, py::arg("input"),
          py::arg("other"), f.doc);
    cls.def(name, [k, name](py::handle a, py::handle b) { return binary_fn(k, a, b, name); }, py::arg("other"), f.doc);
  }
  m.def("mm", [](const TensorPtr& a, const TensorPtr& b, bool ta, bool tb) { return ops::mm(a, b, ta, tb); },
        py::arg("input"), py::arg("mat2"), py::kw_only(), py::arg("trans_a") = false, py::arg("trans_b") = false,
        GilRelease(), "op(input) @ op(mat2) for 2-D tensors, with transpose flags (no transpose is materialised).");

  // ---- unary ----
  using Unary = TensorPtr (*)(const TensorPtr&);
  struct UName { const char* name; Unary f; const char* doc; };
  for (UName u : {UName{"neg", &ops::neg, "-x elementwise."}, UName{"exp", &ops::exp, "e**x elementwise."},
                  UName{"log", &ops::log, "Natural logarithm elementwise."},
                  UName{"sqrt", &ops::sqrt, "Square root elementwise."},
                  UName{"abs", &ops::abs, "|x| elementwise (gradient 0 at 0)."},
                  UName{"tanh", &ops::tanh, "Hyperbolic tangent elementwise."},
                  UName{"sigmoid", &ops::sigmoid, "1 / (1 + exp(-x)), stable for any x."},
                  UName{"relu", &ops::relu, "max(x, 0) elementwise."}}) {
    m.def(u.name, u.f, py::arg("input"), GilRelease(), u.doc);
    cls.def(u.name, u.f, GilRelease(), u.doc);
  }
  cls.def("__abs__", &ops::abs, GilRelease());
  m.def("erf", &ops::erf, py::arg("input"), GilRelease(), "The error function elementwise.");
  m.def("softplus", &ops::softplus, py::arg("input"), GilRelease(), "log(1 + exp(x)), stable for any x.");
  m.def("gelu", [](const TensorPtr& x, const std::string& approximate) {
        GC_CHECK(approximate == "none" || approximate == "tanh", ValueError,
                 "gelu: approximate must be 'none' or 'tanh', got '", approximate, "'");
        py::gil_scoped_release nogil;
        return ops::gelu(x, approximate == "tanh");
      }, py::arg("input"), py::arg("approximate") = "none", "x * Phi(x) (exact, erf) or its tanh approximation.");
  m.def("leaky_relu", &ops::leaky_relu, py::arg("input"), py::arg("negative_slope") = 0.01, GilRelease(),
        "x if x > 0 else negative_slope * x.");
  m.def("dropout", &ops::dropout, py::arg("input"), py::arg("p") = 0.5, GilRelease(),
        "Zero each element with probability p and scale the rest by 1/(1-p) (training mode).");

  // ---- reductions ----
  using Reduce = TensorPtr (*)(const TensorPtr&, const std::vector<int64_t>&, bool);
  struct RName { const char* name; Reduce f; const char* doc; };
  for (RName r : {RName{"sum", &ops::sum, "Sum over all elements, or over dim (int or tuple); keepdim keeps them as size 1. "
                                          "Pairwise/blocked: accurate for any length, the same for any thread count."},
                  RName{"mean", &ops::mean, "Mean over all elements or over dim (int or tuple), keepdim as in sum."},
                  RName{"max", &ops::max, "Maximum values over all elements or over dim (NumPy's amax: values only; "
                                          "NaN if any element is NaN); the gradient is shared evenly between ties "
                                          "(a NaN maximum: among the NaNs for all elements, as torch.max; NaN over "
                                          "the slice for dim, as torch.amax)."}}) {
    Reduce f = r.f;
    auto fn = [f](const TensorPtr& x, py::object dim, bool keepdim) {
      std::vector<int64_t> dims = parse_dims(dim);
      py::gil_scoped_release nogil;
      return f(x, dims, keepdim);
    };
    m.def(r.name, fn, py::arg("input"), py::arg("dim") = py::none(), py::arg("keepdim") = false, r.doc);
    cls.def(r.name, fn, py::arg("dim") = py::none(), py::arg("keepdim") = false, r.doc);
  }

  // ---- shape ----
  auto reshape = [](const TensorPtr& x, py::args shape) {
    Shape s = parse_shape(shape);
    py::gil_scoped_release nogil;
    return ops::reshape(x, s);
  };
  cls.def("reshape", reshape, "A view with a new shape (one dim may be -1); data is shared.");
  cls.def("view", reshape, "Same as reshape (tensors are always contiguous).");
  m.def("reshape", [](const TensorPtr& x, py::object shape) {
        Shape s = parse_shape(py::make_tuple(shape));
        py::gil_scoped_release nogil;
        return ops::reshape(x, s);
      }, py::arg("input"), py::arg("shape"), "A view with a new shape (one dim may be -1); data is shared.");
  cls.def("flatten", [](const TensorPtr& x, int64_t start_dim) {
        int64_t nd = x->ndim();
        if (nd == 0) return ops::reshape(x, {1});
        int64_t s = ops::normalize_dim(start_dim, nd);
        Shape shape(x->shape.begin(), x->shape.begin() + s);
        shape.push_back(-1);
        return ops::reshape(x, shape);
      }, py::arg("start_dim") = 0, GilRelease(), "Merge dims from start_dim to the end into one (a view).");
  auto transpose = [](const TensorPtr& x, int64_t d0, int64_t d1) { return ops::transpose(x, d0, d1); };
  m.def("transpose", transpose, py::arg("input"), py::arg("dim0") = 0, py::arg("dim1") = 1, GilRelease(),
        "A copy with dims dim0 and dim1 swapped.");
  cls.def("transpose", transpose, py::arg("dim0") = 0, py::arg("dim1") = 1, GilRelease(),
          "A copy with dims dim0 and dim1 swapped.");
  cls.def_property_readonly("T", [](const TensorPtr& x) {
    std::vector<int64_t> dims(x->ndim());
    for (int64_t i = 0; i < x->ndim(); ++i) dims[i] = x->ndim() - 1 - i;
    py::gil_scoped_release nogil;
    return ops::permute(x, dims);
  }, "The tensor with its dimensions reversed (the matrix transpose for 2-D).");
  cls.def("permute", [](const TensorPtr& x, py::args dims) {
    Shape d = parse_shape(dims);
    py::gil_scoped_release nogil;
    return ops::permute(x, d);
  }, "A copy with its dims reordered: result.shape[i] = shape[dims[i]].");
  m.def("permute", [](const TensorPtr& x, py::object dims) {
    Shape d = parse_shape(py::make_tuple(dims));
    py::gil_scoped_release nogil;
    return ops::permute(x, d);
  }, py::arg("input"), py::arg("dims"), "A copy with its dims reordered: result.shape[i] = input.shape[dims[i]].");
  cls.def("expand", [](const TensorPtr& x, py::args shape) {
    Shape s = parse_shape(shape);
    py::gil_scoped_release nogil;
    return ops::expand(x, s);
  }, "A copy broadcast to the given shape (NumPy rules); its gradient sums back.");
  cls.def("detach", &ops::detach, "A new tensor sharing this storage, outside the graph.");
  m.def("detach", &ops::detach, py::arg("input"), "A new tensor sharing the storage, outside the graph.");
  cls.def("clone", &ops::contiguous_copy, GilRelease(), "A copy that stays in the graph.");
  cls.def("to", [](const TensorPtr& x, py::object dtype) {
    DType d = parse_dtype(dtype, x->dtype);
    py::gil_scoped_release nogil;
    return ops::to_dtype(x, d);
  }, py::arg("dtype"), "This tensor in another dtype (itself when the dtype matches); differentiable.");
  cls.def("float", [](const TensorPtr& x) { return ops::to_dtype(x, DType::Float32); }, GilRelease(), "to(float32)");
  cls.def("double", [](const TensorPtr& x) { return ops::to_dtype(x, DType::Float64); }, GilRelease(), "to(float64)");

  // ---- softmax / losses ----
  const char* softmax_doc = "exp(x) / sum(exp(x)) along dim, max-subtracted (stable for any magnitude).";
  const char* log_softmax_doc = "x - logsumexp(x) along dim, numerically stable.";
  m.def("softmax", &ops::softmax, py::arg("input"), py::arg("dim") = -1, GilRelease(), softmax_doc);
  m.def("log_softmax", &ops::log_softmax, py::arg("input"), py::arg("dim") = -1, GilRelease(), log_softmax_doc);
  cls.def("softmax", &ops::softmax, py::arg("dim") = -1, GilRelease(), softmax_doc);
  cls.def("log_softmax", &ops::log_softmax, py::arg("dim") = -1, GilRelease(), log_softmax_doc);
  m.def("cross_entropy", [](py::handle input, py::handle target, const std::string& reduction, double label_smoothing) {
        TensorPtr logits = require_tensor(input, "cross_entropy");
        std::vector<int64_t> labels = parse_labels(target);
        ops::Reduction r = ops::parse_reduction(reduction);
        py::gil_scoped_release nogil;
        return ops::cross_entropy(logits, labels, r, label_smoothing);
      }, py::arg("input"), py::arg("target"), py::arg("reduction") = "mean", py::arg("label_smoothing") = 0.0,
      "Fused log-softmax + negative log-likelihood of integer class labels; numerically stable.");
  m.def("mse_loss", [](py::handle input, py::handle target, const std::string& reduction) {
        TensorPtr a = require_tensor(input, "mse_loss");
        TensorPtr b = as_operand(target, *a);
        ops::Reduction r = ops::parse_reduction(reduction);
        py::gil_scoped_release nogil;
        return ops::mse_loss(a, b, r);
      }, py::arg("input"), py::arg("target"), py::arg("reduction") = "mean",
      "Mean squared error (reduction 'mean', 'sum' or 'none'); shapes must match.");
  m.def("linear", [](const TensorPtr& x, const TensorPtr& w, py::object bias, const std::string& activation) {
        TensorPtr b = optional_tensor(bias, "linear: bias");
        int act = activation == "none"        ? -1
                  : activation == "relu"      ? UNARY_RELU
                  : activation == "sigmoid"   ? UNARY_SIGMOID
                  : activation == "tanh"      ? UNARY_TANH
                  : activation == "gelu"      ? UNARY_GELU
                  : activation == "gelu_tanh" ? UNARY_GELU_TANH
                                              : -2;
        GC_CHECK(act != -2, ValueError, "linear: activation must be none, relu, sigmoid, tanh, gelu or gelu_tanh, got '",
                 activation, "'");
        py::gil_scoped_release nogil;
        return ops::linear(x, w, b, act);
      }, py::arg("input"), py::arg("weight"), py::arg("bias") = py::none(), py::arg("activation") = "none",
      "activation(input @ weight.T + bias), weight of shape (out_features, in_features): one GEMM with the bias "
      "and activation fused into its epilogue.");

  // ---- in-place (no graph) ----
  cls.def("zero_", [](const TensorPtr& t) { ops::fill_(t, 0.0); return t; }, "Fill with zeros in place (no graph).");
  cls.def("fill_", [](const TensorPtr& t, double v) { ops::fill_(t, v); return t; }, py::arg("value"),
          "Fill with value in place (no graph; refused on tensors that require grad unless in no_grad).");
  cls.def("copy_", [](const TensorPtr& t, py::handle src) { ops::copy_(t, as_operand(src, *t)); return t; },
          py::arg("src"), "Copy src (same shape; converted to this dtype) into this tensor in place.");
  cls.def("uniform_", [](const TensorPtr& t, double a, double b) { ops::uniform_(t, a, b); return t; },
          py::arg("a") = 0.0, py::arg("b") = 1.0, "Fill with U(a, b) from gradcore's seeded RNG, in place.");
  cls.def("normal_", [](const TensorPtr& t, double mean, double std) { ops::normal_(t, mean, std); return t; },
          py::arg("mean") = 0.0, py::arg("std") = 1.0, "Fill with N(mean, std^2) from gradcore's seeded RNG, in place.");
  cls.def("add_", [](const TensorPtr& t, py::handle other, double alpha) {
        double s;
        if (scalar_of(other, s)) {
          ops::scalar_inplace(t, BINARY_ADD, alpha * s);
        } else {
          ops::add_inplace(t, as_operand(other, *t), alpha);
        }
        return t;
      }, py::arg("other"), py::kw_only(), py::arg("alpha") = 1.0, "self += alpha * other, in place (no graph).");
  cls.def("mul_", [](const TensorPtr& t, double s) {
        ops::scalar_inplace(t, BINARY_MUL, s);
        return t;
      }, py::arg("other"), "self *= other (a scalar), in place (no graph).");
}

}  // namespace gradcore::bindings
