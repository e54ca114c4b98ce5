// module.cpp — PYBIND11_MODULE(_core): error translation, then each binding file.
#include "bindings/common.h"
#include "core/check.h"

PYBIND11_MODULE(_core, m) {
  using namespace gradcore;
  m.doc() = "gradcore's compiled core: tensor, kernels, autograd engine";
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const gradcore::ValueError& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const gradcore::TypeError& e) {
      PyErr_SetString(PyExc_TypeError, e.what());
    } catch (const gradcore::IndexError& e) {
      PyErr_SetString(PyExc_IndexError, e.what());
    } catch (const gradcore::RuntimeError& e) {
      PyErr_SetString(PyExc_RuntimeError, e.what());
    }
  });
  bindings::TensorClass cls(m, "Tensor");
  bindings::bind_tensor(m, cls);
  bindings::bind_ops(m, cls);
  bindings::bind_autograd(m, cls);
  bindings::bind_function(m, cls);
  bindings::bind_backend(m);
  bindings::bind_optim(m);
}
