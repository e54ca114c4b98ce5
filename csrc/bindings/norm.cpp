// norm.cpp — bindings of the normalisation ops (issue 15): batch_norm, layer_norm,
// group_norm, rms_norm. Argument conversion only; the numerics are autograd/ops/norm.cpp.
#include "autograd/ops/norm.h"
#include "bindings/common.h"

namespace gradcore::bindings {
namespace {
Shape parse_normalized_shape(py::handle s) {
  Shape out;
  if (py::isinstance<py::int_>(s)) {
    out.push_back(s.cast<int64_t>());
    return out;
  }
  GC_CHECK(py::isinstance<py::list>(s) || py::isinstance<py::tuple>(s), TypeError,
           "normalized_shape must be an int or a list / tuple of ints, not ", type_display_name(s));
  py::sequence seq = py::reinterpret_borrow<py::sequence>(s);
  GC_CHECK(seq.size() <= 64, TypeError, "normalized_shape has ", seq.size(), " dims; a tensor has at most 64");
  for (py::handle v : seq) out.push_back(v.cast<int64_t>());
  return out;
}
}  // namespace

void bind_norm(py::module_& m) {
  m.def("batch_norm", [](const TensorPtr& x, py::object running_mean, py::object running_var, py::object weight,
                         py::object bias, bool training, double momentum, double eps) {
        TensorPtr rm = optional_tensor(running_mean, "batch_norm: running_mean");
        TensorPtr rv = optional_tensor(running_var, "batch_norm: running_var");
        TensorPtr w = optional_tensor(weight, "batch_norm: weight");
        TensorPtr b = optional_tensor(bias, "batch_norm: bias");
        py::gil_scoped_release nogil;
        return ops::batch_norm(x, rm, rv, w, b, training, momentum, eps);
      }, py::arg("input"), py::arg("running_mean") = py::none(), py::arg("running_var") = py::none(),
      py::arg("weight") = py::none(), py::arg("bias") = py::none(), py::arg("training") = false,
      py::arg("momentum") = 0.1, py::arg("eps") = 1e-5,
      "Batch normalisation of input (N, C, *) over N and the spatial dims, one fused kernel each way; in training "
      "the running statistics (when given) are updated in place.");
  m.def("layer_norm", [](const TensorPtr& x, py::object normalized_shape, py::object weight, py::object bias,
                         double eps) {
        Shape ns = parse_normalized_shape(normalized_shape);
        TensorPtr w = optional_tensor(weight, "layer_norm: weight");
        TensorPtr b = optional_tensor(bias, "layer_norm: bias");
        py::gil_scoped_release nogil;
        return ops::layer_norm(x, ns, w, b, eps);
      }, py::arg("input"), py::arg("normalized_shape"), py::arg("weight") = py::none(), py::arg("bias") = py::none(),
      py::arg("eps") = 1e-5, "Layer normalisation over the last len(normalized_shape) dims (fused kernels).");
  m.def("group_norm", [](const TensorPtr& x, int64_t num_groups, py::object weight, py::object bias, double eps) {
        TensorPtr w = optional_tensor(weight, "group_norm: weight");
        TensorPtr b = optional_tensor(bias, "group_norm: bias");
        py::gil_scoped_release nogil;
        return ops::group_norm(x, num_groups, w, b, eps);
      }, py::arg("input"), py::arg("num_groups"), py::arg("weight") = py::none(), py::arg("bias") = py::none(),
      py::arg("eps") = 1e-5, "Group normalisation of input (N, C, *) over groups of C / num_groups channels.");
  m.def("rms_norm", [](const TensorPtr& x, py::object normalized_shape, py::object weight, double eps) {
        Shape ns = parse_normalized_shape(normalized_shape);
        TensorPtr w = optional_tensor(weight, "rms_norm: weight");
        py::gil_scoped_release nogil;
        return ops::rms_norm(x, ns, w, eps);
      }, py::arg("input"), py::arg("normalized_shape"), py::arg("weight") = py::none(), py::arg("eps") = 1e-6,
      "x / sqrt(mean(x**2) + eps) * weight over the last len(normalized_shape) dims (fused kernels).");
}

}  // namespace gradcore::bindings
