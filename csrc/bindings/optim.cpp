// optim.cpp — binds the fused optimizer step and gradient clipping.
#include "autograd/ops.h"
#include "bindings/common.h"

namespace gradcore::bindings {

void bind_optim(py::module_& m) {
  // Hyper-parameters as keywords, checked against the kind's declaration (Note [Optimizer
  // declarations], autograd/ops/optim.cpp).
  auto hyper_values = [](const py::kwargs& kw) {
    ops::HyperValues out;
    for (auto item : kw) {
      const std::string name = py::cast<std::string>(item.first);
      const py::handle v = item.second;
      double value;
      try {
        value = py::cast<double>(v);  // anything with __float__ (a bool, a NumPy scalar, a 1-element tensor)
      } catch (const py::cast_error&) {
        throw TypeError("optim_step: hyper-parameter '" + name + "' must be a number, got " +
                        py::str(py::type::of(v).attr("__name__")).cast<std::string>());
      }
      out.emplace_back(name, value);
    }
    return out;
  };
  m.def("optim_step", [hyper_values](const std::string& kind, const tensor_list& params, const py::list& state_lists,
                                     const TensorPtr& steps, bool check_only, py::handle scalars, const py::kwargs& kw) {
        // State slots may be None (buffers an option does not use).
        std::vector<tensor_list> states;
        for (py::handle lst : state_lists) {
          tensor_list one;
          for (py::handle t : lst) one.push_back(optional_tensor(t, "optim_step: state"));
          states.push_back(std::move(one));
        }
        const ops::HyperValues hyper = hyper_values(kw);
        const TensorPtr sc = optional_tensor(scalars, "optim_step: scalars");
        py::gil_scoped_release nogil;
        ops::optim_step(kind, hyper, params, states, steps, check_only, sc);
      },
      py::arg("kind"), py::arg("params"), py::arg("states"), py::arg("steps"), py::kw_only(),
      py::arg("check_only") = false, py::arg("scalars") = py::none(),
      "One fused update of every parameter with a .grad (kind: one of optimizer_specs()). Hyper-parameters "
      "are keywords, the names optimizer_specs()[kind]['hyper'] declares (a missing one takes the C++ "
      "default). Everything is checked before anything is written: an error changes nothing. "
      "check_only=True only checks. scalars: the per-parameter scalar state (optimizer_specs()[kind]['scalars']), "
      "a float64 tensor updated in place (rounded to float32 when round_scalars).");
  m.def("optimizer_specs", [] {
        py::dict out;
        auto tup = [](const std::vector<std::string>& v) { return py::tuple(py::cast(v)); };
        for (const ops::OptimizerSpec& s : ops::optimizer_specs())
          out[py::str(s.kind)] = py::dict(py::arg("hyper") = tup(s.hyper), py::arg("states") = tup(s.states),
                                          py::arg("scalars") = tup(s.scalars));
        return out;
      },
      "What each fused optimizer reads and keeps: {kind: {'hyper': names, 'states': slot names in kernel order, "
      "'scalars': per-parameter scalar state names}}.");
  m.def("optim_slots", [hyper_values](const std::string& kind, const py::kwargs& kw) {
        return ops::optim_slots_used(kind, hyper_values(kw));
      }, py::arg("kind"),
      "Which of the kind's state slots these hyper-parameters (keywords) use.");
  m.def("grad_norm", &ops::grad_norm, py::arg("params"), py::arg("norm_type") = 2.0,
        py::call_guard<py::gil_scoped_release>(), "Norm of all the parameters' .grad together (one pass).");
  m.def("tensor_norms", [](py::sequence tensors, double norm_type) {
        tensor_list ts;
        for (auto item : tensors) ts.push_back(optional_tensor(item, "tensor_norms: tensors"));
        py::gil_scoped_release nogil;
        return ops::tensor_norms(ts, norm_type);
      }, py::arg("tensors"), py::arg("norm_type") = 2.0,
      "The norm of each tensor's values (NaN for None) as a float64 tensor, one pass each.");
  m.def("scale_grads", &ops::scale_grads, py::arg("params"), py::arg("factor"),
        py::call_guard<py::gil_scoped_release>(), "Multiply every parameter's .grad by factor, in place.");
  m.def("clamp_grads", &ops::clamp_grads, py::arg("params"), py::arg("clip_value"),
        py::call_guard<py::gil_scoped_release>(), "Clamp every parameter's .grad into [-clip_value, clip_value].");
}

}  // namespace gradcore::bindings
