// common.h — conversions shared by the binding files (the only headers that see pybind11).
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>

#include "core/tensor.h"

namespace py = pybind11;

// A Tensor argument never accepts None: pybind11's shared_ptr holder caster would turn
// None into a null pointer, and every op would then dereference it. With this caster a
// None argument fails overload resolution (TypeError). The few arguments that may be
// None (linear's bias, optimizer state slots) take py::object and convert explicitly.
namespace pybind11::detail {
template <>
class type_caster<std::shared_ptr<gradcore::Tensor>>
    : public copyable_holder_caster<gradcore::Tensor, std::shared_ptr<gradcore::Tensor>> {
 public:
  bool load(handle src, bool convert) {
    if (src.is_none()) return false;
    return copyable_holder_caster<gradcore::Tensor, std::shared_ptr<gradcore::Tensor>>::load(src, convert);
  }
};
}  // namespace pybind11::detail

namespace gradcore::bindings {

using TensorClass = py::class_<Tensor, TensorPtr>;

// None -> fallback; gc.float32/gc.float64, NumPy dtypes and their names ("float32").
DType parse_dtype(py::handle obj, DType fallback);
bool is_dtype_none(py::handle obj);
// Copying conversion of anything array-like (nested lists, scalars, any ndarray).
TensorPtr tensor_from_data(py::handle data, std::optional<DType> dtype);
// Zero-copy wrap of a C-contiguous float32/float64 ndarray.
TensorPtr tensor_from_numpy(py::array arr);
// A NumPy view of t's storage that keeps t alive.
py::array tensor_to_numpy(const TensorPtr& t, py::handle owner);
// None -> {} (all dims); int -> {d}; sequence of ints -> dims.
std::vector<int64_t> parse_dims(py::handle dim);
// Labels for cross_entropy: integer ndarray / list / whole-valued Tensor.
std::vector<int64_t> parse_labels(py::handle labels);
// Operand of a binary op: a Tensor, or array-like converted to `like`'s dtype.
TensorPtr as_operand(py::handle obj, const Tensor& like);
Shape parse_shape(py::args args);  // f(2, 3) or f((2, 3)) or f([2, 3])
// None -> null; a Tensor -> it; anything else -> TypeError naming `what`.
TensorPtr optional_tensor(py::handle obj, const char* what);

void bind_tensor(py::module_& m, TensorClass& cls);
void bind_ops(py::module_& m, TensorClass& cls);
void bind_autograd(py::module_& m, TensorClass& cls);
void bind_function(py::module_& m, TensorClass& cls);
void bind_backend(py::module_& m);
void bind_optim(py::module_& m);

}  // namespace gradcore::bindings
