// module.cpp — PYBIND11_MODULE(_core): error translation, then each binding file.
#include "bindings/common.h"
#include "core/check.h"

namespace gradcore::bindings {
PyTypeObject* g_tensor_type = nullptr;
bool is_tensor_object(py::handle h) { return is_tensor(h); }
namespace {
PyObject* g_int_overflow = nullptr;  // gradcore.IntOverflowError, created at import
PyObject* g_shape_error = nullptr;   // gradcore.ShapeError
PyObject* g_dtype_error = nullptr;   // gradcore.DTypeError
}

void throw_int_overflow(PyObject* value) {
  std::string v = py::str(py::handle(value));
  PyErr_Format(g_int_overflow, "%s is out of range for a 64-bit size, dim or index (it must lie in [-2**63, 2**63))",
               v.c_str());
  throw py::error_already_set();
}
}  // namespace gradcore::bindings

PYBIND11_MODULE(_core, m) {
  using namespace gradcore;
  // See Note [Int64 arguments] (common.h).
  {
    py::tuple bases = py::make_tuple(py::handle(PyExc_OverflowError), py::handle(PyExc_ValueError),
                                     py::handle(PyExc_IndexError), py::handle(PyExc_TypeError));
    bindings::g_int_overflow = PyErr_NewExceptionWithDoc(
        "gradcore.IntOverflowError",
        "A Python int outside the int64 range was given as a size, dim or index. It is an OverflowError "
        "and, for code written against PyTorch (which raises each in some context), also a ValueError, "
        "IndexError and TypeError.",
        bases.ptr(), nullptr);
    if (!bindings::g_int_overflow) throw py::error_already_set();
    m.attr("IntOverflowError") = py::handle(bindings::g_int_overflow);
    py::tuple shape_bases = py::make_tuple(py::handle(PyExc_ValueError), py::handle(PyExc_RuntimeError));
    bindings::g_shape_error = PyErr_NewExceptionWithDoc(
        "gradcore.ShapeError",
        "Shapes that do not fit together (broadcasting, view/reshape, matmul, cat). A ValueError and, as "
        "PyTorch raises for the same mistakes, a RuntimeError.",
        shape_bases.ptr(), nullptr);
    if (!bindings::g_shape_error) throw py::error_already_set();
    m.attr("ShapeError") = py::handle(bindings::g_shape_error);
    py::tuple dtype_bases = py::make_tuple(py::handle(PyExc_TypeError), py::handle(PyExc_RuntimeError));
    bindings::g_dtype_error = PyErr_NewExceptionWithDoc(
        "gradcore.DTypeError",
        "Operands of dtypes an op cannot combine. A TypeError and, as PyTorch raises for the same mistakes, a "
        "RuntimeError.",
        dtype_bases.ptr(), nullptr);
    if (!bindings::g_dtype_error) throw py::error_already_set();
    m.attr("DTypeError") = py::handle(bindings::g_dtype_error);
  }
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
    } catch (const gradcore::NotImplementedError& e) {
      PyErr_SetString(PyExc_NotImplementedError, e.what());
    } catch (const gradcore::ShapeError& e) {
      PyErr_SetString(bindings::g_shape_error, e.what());
    } catch (const gradcore::DTypeError& e) {
      PyErr_SetString(bindings::g_dtype_error, e.what());
    }
  });
  bindings::TensorClass cls(m, "Tensor", py::custom_type_setup(bindings::tensor_type_setup));
  bindings::g_tensor_type = reinterpret_cast<PyTypeObject*>(cls.ptr());
  bindings::bind_tensor(m, cls);
  bindings::bind_ops(m, cls);
  bindings::bind_math(m, cls);
  bindings::bind_index(m, cls);
  bindings::bind_index_ops(m, cls);
  bindings::bind_autograd(m, cls);
  bindings::bind_function(m, cls);
  bindings::bind_backend(m);
  bindings::bind_optim(m);
  bindings::bind_sort(m, cls);
  bindings::bind_stats(m, cls);  // reduce12
  bindings::bind_shape(m, cls);  // issue 12: shape ops
  bindings::bind_random(m, cls);  // random.cpp: generators, random ops, creation (issue 12)
  bindings::bind_interop(m, cls);  // interop.cpp: DLPack, __array_interface__ (issue 13)
  bindings::bind_conv(m);  // conv.cpp: convolution, im2col / col2im (issue 15)
  bindings::bind_pool(m);  // pool.cpp: pooling, unpooling, interpolation (issue 15)
  bindings::bind_norm(m);  // norm.cpp: normalisation ops (issue 15)
  bindings::bind_embedding(m);  // embedding.cpp: embedding, embedding_bag (issue 16)
  bindings::bind_rnn(m);  // rnn.cpp: recurrent layers (issue 16)
  bindings::bind_attention(m);  // attention.cpp: scaled_dot_product_attention (issue 16)
}
