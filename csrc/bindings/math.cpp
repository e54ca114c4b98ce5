// math.cpp (bindings) — generated from the registries of ops.h (Note [One op, one row],
// autograd/ops/math.cpp): for each row gradcore.name, Tensor.name and Tensor.name_ (in
// place); for each activation row _core.name (the F functions wrap them); the registry
// itself as _core._elementwise_ops (what tools/gen_stub.py writes python/gradcore/_ops.py
// from) and _core._activations. Plus the few hand-written ones with parameters.
#include <cmath>
#include <optional>

#include "autograd/ops.h"
#include "bindings/common.h"

namespace gradcore::bindings {
namespace {
using GilRelease = py::call_guard<py::gil_scoped_release>;
using Unary = TensorPtr (*)(const TensorPtr&);
using Binary = TensorPtr (*)(const TensorPtr&, const TensorPtr&);
enum Other { TENSOR, NUMBER };

template <class F>
TensorPtr in_place(const TensorPtr& self, const char* name, F f) {
  py::gil_scoped_release nogil;
  return ops::apply_inplace(self, name, [&](const TensorPtr& x) { return f(x); });
}

// `other` of a binary row: a Tensor, or (where PyTorch takes one) a Python number as a
// 0-dim operand of the promoted dtype.
TensorPtr binary_other(py::handle other, const Tensor& self, Other kind, const char* name) {
  if (is_tensor(other)) return tensor_of(other);
  ops::Scalar s;
  GC_CHECK(kind == NUMBER && parse_scalar(other, s), TypeError, name, "(): argument 'other' (position 2) must be Tensor, not ",
           py::str(py::type::handle_of(other).attr("__name__")).cast<std::string>());
  return as_operand(other, self);
}

}  // namespace

void bind_math(py::module_& m, TensorClass& cls) {
  py::list names;
#define GC_BIND_UNARY(op_name, NODE, FWD, SAVES, GRAD, INTS, DOC)                                   \
  m.def(#op_name, static_cast<Unary>(&ops::op_name), py::arg("input"), GilRelease(), DOC);          \
  cls.def(#op_name, static_cast<Unary>(&ops::op_name), GilRelease(), DOC);                          \
  cls.def(#op_name "_", [](const TensorPtr& t) { return in_place(t, #op_name "_", &ops::op_name); }, \
          "In-place form of " #op_name ".");                                                        \
  names.append(#op_name);
  GC_UNARY_FLOAT_OPS(GC_BIND_UNARY)
#undef GC_BIND_UNARY
#define GC_BIND_ALIAS(alias, op_name)                                                              \
  m.def(#alias, static_cast<Unary>(&ops::op_name), py::arg("input"), GilRelease(), "Alias of " #op_name "."); \
  cls.def(#alias, static_cast<Unary>(&ops::op_name), GilRelease(), "Alias of " #op_name ".");       \
  cls.def(#alias "_", [](const TensorPtr& t) { return in_place(t, #alias "_", &ops::op_name); },   \
          "In-place form of " #alias ".");                                                          \
  names.append(#alias);
  GC_UNARY_ALIASES(GC_BIND_ALIAS)
#undef GC_BIND_ALIAS
#define GC_BIND_BINARY(op_name, NODE, FWD, GA, GB, OTHER, INTS, DOC)                                              \
  m.def(#op_name, [](const TensorPtr& a, py::handle b) {                                                   \
        TensorPtr bt = binary_other(b, *a, OTHER, #op_name);                                                 \
        py::gil_scoped_release nogil;                                                                       \
        return ops::op_name(a, bt);                                                                         \
      }, py::arg("input"), py::arg("other"), DOC);                                                          \
  cls.def(#op_name, [](const TensorPtr& a, py::handle b) {                                                 \
        TensorPtr bt = binary_other(b, *a, OTHER, #op_name);                                                 \
        py::gil_scoped_release nogil;                                                                       \
        return ops::op_name(a, bt);                                                                         \
      }, py::arg("other"), DOC);                                                                            \
  cls.def(#op_name "_", [](const TensorPtr& a, py::handle b) {                                             \
        TensorPtr bt = binary_other(b, *a, OTHER, #op_name);                                                 \
        return in_place(a, #op_name "_", [&](const TensorPtr& x) { return ops::op_name(x, bt); });          \
      }, py::arg("other"), "In-place form of " #op_name ".");                                               \
  names.append(#op_name);
  GC_BINARY_FLOAT_OPS(GC_BIND_BINARY)
#undef GC_BIND_BINARY
  m.def("_elementwise_ops", [names] { return names; }, "The elementwise registry ops (Note [One op, one row]).");

  py::list acts;
#define GC_BIND_ACTIVATION(op_name, NODE, FWD, BWD, SAVES, INTS, GRAD, DOC)                                \
  m.def(#op_name, static_cast<Unary>(&ops::op_name), py::arg("input"), GilRelease(), DOC);           \
  acts.append(#op_name);
  GC_ACTIVATIONS(GC_BIND_ACTIVATION)
#undef GC_BIND_ACTIVATION
  m.def("_activations", [acts] { return acts; }, "The activation registry (GC_ACTIVATIONS): what F.linear fuses.");
  // PyTorch's Tensor methods and in-place forms among the activations.
  struct Method { const char* name; const char* in_place_name; Unary f; };
  for (Method md : {Method{"relu", "relu_", &ops::relu}, Method{"sigmoid", "sigmoid_", &ops::sigmoid},
                    Method{"tanh", "tanh_", &ops::tanh}}) {
    cls.def(md.name, md.f, GilRelease(), "The activation of the same name.");
    cls.def(md.in_place_name, [md](const TensorPtr& t) { return in_place(t, md.in_place_name, md.f); },
            "In-place form of the op without the underscore.");
  }

  // ---- hand-written, with parameters ----
  m.def("square", &ops::square, py::arg("input"), GilRelease(), "x ** 2 (integers stay integers).");
  cls.def("square", &ops::square, GilRelease(), "x ** 2 (integers stay integers).");
  cls.def("square_", [](const TensorPtr& t) { return in_place(t, "square_", &ops::square); }, "In-place square.");
  auto logit = [](const TensorPtr& x, std::optional<double> eps) {
    py::gil_scoped_release nogil;
    return ops::logit(x, eps ? &*eps : nullptr);
  };
  m.def("logit", logit, py::arg("input"), py::arg("eps") = py::none(), "log(x / (1 - x)), x clamped to [eps, 1 - eps].");
  cls.def("logit", logit, py::arg("eps") = py::none(), "log(x / (1 - x)), x clamped to [eps, 1 - eps].");
  cls.def("logit_", [](const TensorPtr& t, std::optional<double> eps) {
    return in_place(t, "logit_", [&](const TensorPtr& x) { return ops::logit(x, eps ? &*eps : nullptr); });
  }, py::arg("eps") = py::none(), "In-place logit.");
  auto nan_to_num = [](const TensorPtr& x, std::optional<double> nan, std::optional<double> posinf,
                       std::optional<double> neginf) {
    py::gil_scoped_release nogil;
    return ops::nan_to_num(x, nan ? &*nan : nullptr, posinf ? &*posinf : nullptr, neginf ? &*neginf : nullptr);
  };
  const char* n2n = "NaN -> nan (0), +inf -> posinf, -inf -> neginf (the dtype's extremes by default).";
  m.def("nan_to_num", nan_to_num, py::arg("input"), py::arg("nan") = 0.0, py::arg("posinf") = py::none(),
        py::arg("neginf") = py::none(), n2n);
  cls.def("nan_to_num", nan_to_num, py::arg("nan") = 0.0, py::arg("posinf") = py::none(),
          py::arg("neginf") = py::none(), n2n);
  cls.def("nan_to_num_", [](const TensorPtr& t, std::optional<double> nan, std::optional<double> posinf,
                            std::optional<double> neginf) {
    return in_place(t, "nan_to_num_", [&](const TensorPtr& x) {
      return ops::nan_to_num(x, nan ? &*nan : nullptr, posinf ? &*posinf : nullptr, neginf ? &*neginf : nullptr);
    });
  }, py::arg("nan") = 0.0, py::arg("posinf") = py::none(), py::arg("neginf") = py::none(), "In-place nan_to_num.");

  auto round = [](const TensorPtr& x, int64_t decimals) {
    py::gil_scoped_release nogil;
    return ops::round_decimals(x, decimals);
  };
  const char* round_doc = "x rounded to `decimals` places (default: the nearest integer), halves to even.";
  m.def("round", round, py::arg("input"), py::kw_only(), py::arg("decimals") = 0, round_doc);
  cls.def("round", round, py::kw_only(), py::arg("decimals") = 0, round_doc);
  cls.def("round_", [](const TensorPtr& t, int64_t decimals) {
    return in_place(t, "round_", [&](const TensorPtr& x) { return ops::round_decimals(x, decimals); });
  }, py::kw_only(), py::arg("decimals") = 0, "In-place round.");
  m.def("elu", &ops::elu, py::arg("input"), py::arg("alpha") = 1.0, py::arg("scale") = 1.0,
        py::arg("input_scale") = 1.0, GilRelease(), "x > 0 ? scale x : scale alpha (exp(x input_scale) - 1).");
  m.def("_softplus", static_cast<TensorPtr (*)(const TensorPtr&, double, double)>(&ops::softplus), py::arg("input"),
        py::arg("beta") = 1.0, py::arg("threshold") = 20.0, GilRelease(),
        "log(1 + exp(beta x)) / beta, x itself where beta x > threshold.");
  m.def("hardtanh", &ops::hardtanh, py::arg("input"), py::arg("min_val") = -1.0, py::arg("max_val") = 1.0,
        GilRelease(), "min(max(x, min_val), max_val).");
  m.def("threshold", &ops::threshold, py::arg("input"), py::arg("threshold"), py::arg("value"), GilRelease(),
        "x where x > threshold, else value.");
  m.def("softshrink", &ops::softshrink, py::arg("input"), py::arg("lambd") = 0.5, GilRelease(),
        "x - lambd above lambd, x + lambd below -lambd, else 0.");
  m.def("hardshrink", &ops::hardshrink, py::arg("input"), py::arg("lambd") = 0.5, GilRelease(),
        "x where |x| > lambd, else 0.");
  m.def("_apply_inplace", [](const TensorPtr& self, const std::string& name, py::function f) {
    return ops::apply_inplace(self, name.c_str(), [&](const TensorPtr& x) { return f(x).cast<TensorPtr>(); });
  }, py::arg("self"), py::arg("name"), py::arg("fn"),
     "self = fn(self) in place, recorded as PyTorch's in-place ops are (F.elu(x, inplace=True), ...).");
}

}  // namespace gradcore::bindings
