// autograd.cpp — binds grad mode, the engine (backward, grad), Node and the Tensor's
// autograd properties.
#include <atomic>

#include "autograd/engine.h"
#include "autograd/function.h"
#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "autograd/ops.h"
#include "autograd/variable.h"
#include "bindings/common.h"

namespace gradcore::bindings {
namespace {

tensor_list to_list(py::handle obj, const char* what, bool allow_none) {
  tensor_list out;
  if (obj.is_none()) {
    GC_CHECK(allow_none, TypeError, what, " must be a Tensor or a sequence of Tensors, got None");
    return out;
  }
  if (py::isinstance<Tensor>(obj)) { out.push_back(obj.cast<TensorPtr>()); return out; }
  GC_CHECK(py::isinstance<py::sequence>(obj), TypeError, what, " must be a Tensor or a sequence of Tensors");
  for (auto item : obj) {
    if (item.is_none() && allow_none) { out.push_back(nullptr); continue; }
    GC_CHECK(py::isinstance<Tensor>(item), TypeError, what, " must contain only Tensors, got ",
             type_display_name(item));
    out.push_back(item.cast<TensorPtr>());
  }
  return out;
}

// backward(create_graph=True) leaves each leaf's .grad holding a graph that refers back to
// the leaf (a reference cycle through C++ that only `leaf.grad = None` breaks). PyTorch
// warns once per process with this text; so do we.
void warn_create_graph_cycle(bool create_graph) {
  static std::atomic<bool> warned{false};
  if (!create_graph || warned.exchange(true)) return;
  if (PyErr_WarnEx(PyExc_UserWarning,
                   "Using backward() with create_graph=True will create a reference cycle between the parameter "
                   "and its gradient which can cause a memory leak. We recommend using autograd.grad when creating "
                   "the graph to avoid this. If you have to use this function, make sure to reset the .grad fields "
                   "of your parameters to None after use to break the cycle and avoid the leak.",
                   1) < 0)
    throw py::error_already_set();
}

}  // namespace

void bind_autograd(py::module_& m, TensorClass& cls) {
  m.def("is_grad_enabled", &autograd::grad_enabled, "Whether operations are recorded on this thread.");
  m.def("set_grad_enabled", &autograd::set_grad_enabled, py::arg("mode"), "Turn op recording on or off for this thread.");
  m.def("is_anomaly_enabled", &autograd::anomaly_enabled, "Whether anomaly mode is on (see set_anomaly_enabled).");
  m.def("set_anomaly_enabled", &autograd::set_anomaly_enabled, py::arg("mode"),
        "Anomaly mode: record where each op is created and check every gradient for NaN/Inf.");
  // The creation site is the innermost Python frame outside the gradcore package
  // (file:line in function), found by walking frames: cheap enough to leave on.
  autograd::set_creation_site_hook([]() -> std::string {
    py::gil_scoped_acquire gil;
    try {
      // Leaked on purpose: a static py::object would be released after the interpreter.
      static py::object& getframe = *new py::object(py::module_::import("sys").attr("_getframe"));
      static std::string pkg_dir = py::str(py::module_::import("os.path").attr("dirname")(
          py::module_::import("gradcore").attr("__file__")));
      py::object f = getframe(0);
      while (!f.is_none()) {
        py::object code = f.attr("f_code");
        std::string file = py::str(code.attr("co_filename"));
        if (file.rfind(pkg_dir, 0) != 0)  // outside the gradcore package
          return file + ":" + std::string(py::str(f.attr("f_lineno"))) + " in " +
                 std::string(py::str(code.attr("co_name")));
        f = f.attr("f_back");
      }
    } catch (py::error_already_set&) {
    }
    return std::string();
  });

  py::class_<Node, std::shared_ptr<Node>>(m, "Node", "A recorded backward function (a tensor's grad_fn).")
      .def("name", [](const Node& n) { return std::string(n.name()); }, "The backward function's name, e.g. 'MulBackward'.")
      .def_property_readonly("next_functions", [](const Node& n) {
        py::tuple t(n.next_edges.size());
        for (size_t i = 0; i < n.next_edges.size(); ++i) {
          const auto& e = n.next_edges[i];
          t[i] = py::make_tuple(e.fn ? py::cast(e.fn) : py::none(), e.input_nr);
        }
        return t;
      }, "(node or None, output index) for each input of the op, as in PyTorch.")
      .def_property_readonly("saved_tensors", [](const Node& n) {
        py::dict d;
        for (auto& [k, v] : n.saved_tensors())
          if (v) d[py::str(k)] = v;
        return d;
      }, "The tensors this node saved for backward, by name (empty once freed).")
      .def_property_readonly("variable", [](const Node& n) -> py::object {
        if (auto* acc = dynamic_cast<const autograd::AccumulateGrad*>(&n)) return py::cast(acc->variable);
        return py::none();
      }, "For an AccumulateGrad node: the leaf tensor it accumulates into.")
      .def_property_readonly("released", [](const Node& n) { return n.released(); },
                             "True once a backward without retain_graph freed this node's saved values.")
      .def_property_readonly("output_shape", [](const Node& n) -> py::object {
        if (n.out_ndim < 0) return py::none();
        py::tuple t(n.out_ndim);
        for (int i = 0; i < n.out_ndim; ++i) t[i] = n.out_dims[i];
        return t;
      }, "Shape of the op's (first) output, as recorded in the forward pass (None if unknown).")
      .def_property_readonly("output_dtype", [](const Node& n) -> py::object {
        if (n.out_ndim < 0) return py::none();
        return py::str(dtype_name(n.out_dtype));
      }, "dtype name of the op's (first) output ('float32'/'float64'), None if unknown.")
      .def("__repr__", [](const Node& n) { return std::string("<") + n.name() + ">"; });

  cls.def_property("requires_grad", [](const Tensor& t) { return t.needs_grad(); }, &autograd::set_requires_grad,
                   "Whether operations on this tensor are recorded; settable on leaves.");
  cls.def("requires_grad_", [](const TensorPtr& t, bool v) {
    autograd::requires_grad_(*t, v);
    return t;
  }, py::arg("requires_grad") = true, "Set requires_grad on a leaf in place; returns the tensor.");
  cls.def_property("grad", [](const Tensor& t) { return t.grad; },
      [](Tensor& t, py::object g) {
        GC_CHECK(g.is_none() || py::isinstance<Tensor>(g), TypeError, "grad must be a Tensor or None");
        autograd::set_grad(t, g.is_none() ? nullptr : g.cast<TensorPtr>());
      },
      "The accumulated gradient (leaves), or None.");
  cls.def_property_readonly("_version", [](const Tensor& t) { return t.storage->version; },
                            "The version counter (PyTorch's t._version): in-place writes to the tensor or any view of "
                            "its storage bump it; backward checks saved tensors against it.");
  cls.def_property_readonly("is_leaf", [](const Tensor& t) { return t.is_leaf(); },
                            "True for tensors not produced by a recorded op.");
  cls.def_property_readonly("grad_fn", [](const Tensor& t) { return t.grad_fn; },
                            "The Node that produced this tensor, or None for leaves.");
  cls.def_property("data", [](const TensorPtr& t) { return ops::detach(t); },
      &autograd::set_data, "A tensor sharing this storage, outside the graph. Assigning swaps the storage (no graph).");
  cls.def("backward", [](const TensorPtr& t, py::object gradient, py::object retain_graph, bool create_graph) {
        TensorPtr g = gradient.is_none() ? nullptr : as_operand(gradient, *t);
        bool retain = retain_graph.is_none() ? create_graph : retain_graph.cast<bool>();
        warn_create_graph_cycle(create_graph);
        py::gil_scoped_release nogil;
        autograd::backward({t}, {g}, retain, create_graph);
      }, py::arg("gradient") = py::none(), py::arg("retain_graph") = py::none(), py::arg("create_graph") = false,
      "Accumulate the gradient of this tensor into the .grad of every leaf it depends on.");

  m.def("backward", [](py::object tensors, py::object grad_tensors, py::object retain_graph, bool create_graph) {
        tensor_list outs = to_list(tensors, "tensors", false);
        tensor_list grads = to_list(grad_tensors, "grad_tensors", true);
        bool retain = retain_graph.is_none() ? create_graph : retain_graph.cast<bool>();
        warn_create_graph_cycle(create_graph);
        py::gil_scoped_release nogil;
        autograd::backward(outs, grads, retain, create_graph);
      }, py::arg("tensors"), py::arg("grad_tensors") = py::none(), py::arg("retain_graph") = py::none(),
      py::arg("create_graph") = false,
      "Accumulate the gradients of tensors (with grad_tensors for non-scalars) into the leaves' .grad.");

  m.def("grad", [](py::object outputs, py::object inputs, py::object grad_outputs, py::object retain_graph,
                   bool create_graph, bool allow_unused) -> py::object {
        tensor_list outs = to_list(outputs, "outputs", false);
        tensor_list ins = to_list(inputs, "inputs", false);
        tensor_list gos = to_list(grad_outputs, "grad_outputs", true);
        bool retain = retain_graph.is_none() ? create_graph : retain_graph.cast<bool>();
        tensor_list res;
        {
          py::gil_scoped_release nogil;
          res = autograd::grad(outs, ins, gos, retain, create_graph, allow_unused);
        }
        py::tuple t(res.size());
        for (size_t i = 0; i < res.size(); ++i) t[i] = res[i] ? py::cast(res[i]) : py::none();
        return t;
      }, py::arg("outputs"), py::arg("inputs"), py::arg("grad_outputs") = py::none(),
      py::arg("retain_graph") = py::none(), py::arg("create_graph") = false, py::arg("allow_unused") = false,
      "Gradients of outputs w.r.t. inputs, as a tuple, without touching any .grad.");
}

}  // namespace gradcore::bindings
