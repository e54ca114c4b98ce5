// optim.cpp — binds the fused optimizer step and gradient clipping.
#include "autograd/ops.h"
#include "bindings/common.h"

namespace gradcore::bindings {

void bind_optim(py::module_& m) {
  m.def("optim_step", [](const std::string& kind, const tensor_list& params, const py::list& state_lists,
                         const TensorPtr& steps, double lr, double momentum, double dampening, double weight_decay,
                         double beta1, double beta2, double eps, double alpha, double lr_decay, bool nesterov,
                         bool amsgrad, bool decoupled, bool centered, bool maximize, bool check_only, double rho,
                         double lambd, double t0, double momentum_decay, bool round_scalars, py::handle scalars) {
        // State slots may be None (buffers an option does not use).
        std::vector<tensor_list> states;
        for (py::handle lst : state_lists) {
          tensor_list one;
          for (py::handle t : lst) one.push_back(optional_tensor(t, "optim_step: state"));
          states.push_back(std::move(one));
        }
        OptimHyper h;
        h.lr = lr; h.momentum = momentum; h.dampening = dampening; h.weight_decay = weight_decay;
        h.beta1 = beta1; h.beta2 = beta2; h.eps = eps; h.alpha = alpha; h.lr_decay = lr_decay;
        h.nesterov = nesterov; h.amsgrad = amsgrad; h.decoupled = decoupled; h.centered = centered;
        h.maximize = maximize;
        h.rho = rho; h.lambd = lambd; h.t0 = t0; h.momentum_decay = momentum_decay; h.round_scalars = round_scalars;
        const TensorPtr sc = optional_tensor(scalars, "optim_step: scalars");
        py::gil_scoped_release nogil;
        ops::optim_step(kind, h, params, states, steps, check_only, sc);
      },
      py::arg("kind"), py::arg("params"), py::arg("states"), py::arg("steps"), py::kw_only(), py::arg("lr"),
      py::arg("momentum") = 0.0, py::arg("dampening") = 0.0, py::arg("weight_decay") = 0.0, py::arg("beta1") = 0.9,
      py::arg("beta2") = 0.999, py::arg("eps") = 1e-8, py::arg("alpha") = 0.99, py::arg("lr_decay") = 0.0,
      py::arg("nesterov") = false, py::arg("amsgrad") = false, py::arg("decoupled") = false,
      py::arg("centered") = false, py::arg("maximize") = false, py::arg("check_only") = false,
      py::arg("rho") = 0.9, py::arg("lambd") = 1e-4, py::arg("t0") = 1e6, py::arg("momentum_decay") = 4e-3,
      py::arg("round_scalars") = true, py::arg("scalars") = py::none(),
      "One fused update of every parameter with a .grad (kind: sgd, adam, rmsprop, adagrad, adamax, nadam, radam, "
      "adadelta, asgd). Everything is checked before anything is written: an error changes nothing. "
      "check_only=True only checks. scalars: the per-parameter scalar state of nadam (mu_product) and asgd "
      "(eta, mu), a float64 tensor updated in place (rounded to float32 when round_scalars).");
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
