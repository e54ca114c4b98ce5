// common.h — conversions shared by the binding files (the only headers that see pybind11).
#pragma once
#if defined(GC_LAYER_CPU) || defined(GC_LAYER_KERNELS) || defined(GC_LAYER_CORE) || defined(GC_LAYER_AUTOGRAD)
#error "pybind11 lives in the bindings only (layers: csrc/README.md)"
#endif
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>
#include <type_traits>

#include "autograd/ops.h"
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

// Note [Int64 arguments]: every int64_t a binding takes (sizes, dims, indices, counts)
// goes through this caster. pybind11's own rejects an int >= 2**63 by failing overload
// resolution ("incompatible function arguments") or, through .cast<int64_t>(), with a
// RuntimeError naming no value. Here a Python int (or anything with __index__, such as
// numpy.int64) out of int64 range raises gradcore.IntOverflowError, an OverflowError that
// is also a ValueError, IndexError and TypeError (PyTorch raises each of those for one
// context or another), naming the value. Floats are refused, as pybind11 does (no silent
// truncation of 1.9 to 1).
static_assert(std::is_same_v<int64_t, long>, "gradcore's bindings assume an LP64 platform");
namespace gradcore::bindings {
[[noreturn]] void throw_int_overflow(PyObject* value);
}
namespace pybind11::detail {
template <>
class type_caster<long> {
 public:
  PYBIND11_TYPE_CASTER(long, const_name("int"));
  bool load(handle src, bool convert) {
    if (!src || PyFloat_Check(src.ptr())) return false;
    if (!PyLong_Check(src.ptr()) && !PyIndex_Check(src.ptr())) return false;
    object index = reinterpret_steal<object>(PyNumber_Index(src.ptr()));
    if (!index) {
      PyErr_Clear();
      return false;
    }
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(index.ptr(), &overflow);
    if (overflow) gradcore::bindings::throw_int_overflow(index.ptr());
    if (v == -1 && PyErr_Occurred()) {
      PyErr_Clear();
      return false;
    }
    value = static_cast<long>(v);
    return true;
  }
  static handle cast(long src, return_value_policy, handle) { return PyLong_FromLong(src); }
};
}  // namespace pybind11::detail

// gradcore's dtypes are Python objects of class gradcore.dtype, one per DType (so that
// `t.dtype is gc.float32`); DType arguments and results convert through them.
namespace gradcore::bindings {
bool is_tensor_object(py::handle h);  // is_tensor below, callable before its definition
py::handle dtype_object(DType d);
bool dtype_from_object(py::handle obj, DType* out);
}  // namespace gradcore::bindings
namespace pybind11::detail {
template <>
struct type_caster<gradcore::DType> {
  PYBIND11_TYPE_CASTER(gradcore::DType, const_name("dtype"));
  bool load(handle src, bool) { return gradcore::bindings::dtype_from_object(src, &value); }
  static handle cast(gradcore::DType d, return_value_policy, handle) {
    return gradcore::bindings::dtype_object(d).inc_ref();
  }
};
// A list of tensors is never a Tensor: a Tensor is a sequence too (len, getitem), and the
// generic list caster would iterate it (a zero-element tensor of shape (2**40, 0) has 2**40
// rows). Anything else converts as pybind11's list caster does.
template <>
struct type_caster<std::vector<std::shared_ptr<gradcore::Tensor>>>
    : list_caster<std::vector<std::shared_ptr<gradcore::Tensor>>, std::shared_ptr<gradcore::Tensor>> {
  bool load(handle src, bool convert) {
    if (gradcore::bindings::is_tensor_object(src)) return false;
    return list_caster<std::vector<std::shared_ptr<gradcore::Tensor>>, std::shared_ptr<gradcore::Tensor>>::load(src,
                                                                                                              convert);
  }
};
}  // namespace pybind11::detail

namespace gradcore::bindings {

using TensorClass = py::class_<Tensor, TensorPtr>;

// Fast Tensor checks for the hot paths (operators): a type check against the registered
// class and a direct read of the instance's holder, without pybind11's type-info lookups.
extern PyTypeObject* g_tensor_type;
inline bool is_tensor(py::handle h) { return g_tensor_type && PyObject_TypeCheck(h.ptr(), g_tensor_type); }
inline TensorPtr tensor_of(py::handle h) {  // h: a Tensor instance (is_tensor)
  if (!py::detail::is_holder_constructed(h.ptr())) return h.cast<TensorPtr>();  // raises
  return reinterpret_cast<py::detail::instance*>(h.ptr())->get_value_and_holder().holder<TensorPtr>();
}
// Operators (+ - * / and unary -) as CPython number slots of the Tensor type: Python calls
// them directly, without a method lookup and pybind11's dispatcher (ops.cpp).
void install_number_slots(PyHeapTypeObject* heap_type);

// None -> fallback; gc dtypes, Python's float/int/bool, NumPy dtypes and their names ("int64").
DType parse_dtype(py::handle obj, DType fallback);
bool is_dtype_none(py::handle obj);
// Copying conversion of anything array-like (nested lists, scalars, any ndarray).
TensorPtr tensor_from_data(py::handle data, std::optional<DType> dtype);
// Zero-copy wrap of a C-contiguous float32/float64 ndarray.
TensorPtr tensor_from_numpy(py::array arr);
// A Python number (bool, int, float, NumPy scalar) as an op operand; false for anything else.
bool parse_scalar(py::handle o, ops::Scalar& out);
// torch.result_type(t, s).
DType result_type_with(const Tensor& t, const ops::Scalar& s);
// device=None / "cpu" / gc.device("cpu") are fine; anything else is a RuntimeError.
void check_device(py::handle device);
// RuntimeError (PyTorch's) when an integer or bool tensor would require grad.
void check_requires_grad(const Tensor& t, bool requires_grad);
// The public t.numpy(): refuses tensors that require grad, marks external writers.
py::array tensor_numpy(const TensorPtr& t);
// A NumPy view of t's storage that keeps the storage alive (for gradcore's own reads; the
// public t.numpy() also refuses tensors that require grad and marks the storage as written
// from outside).
py::array tensor_to_numpy(const TensorPtr& t);
// None -> {} (all dims); int -> {d}; sequence of ints -> dims.
std::vector<int64_t> parse_dims(py::handle dim);
// Labels for cross_entropy: integer ndarray / list / whole-valued Tensor.
std::vector<int64_t> parse_labels(py::handle labels);
// Operand of a binary op: a Tensor; a Python number as a 0-dim tensor of the promoted dtype;
// array-likes converted (NumPy arrays keep their dtype, lists take `like`'s).
TensorPtr as_operand(py::handle obj, const Tensor& like);
Shape parse_shape(py::args args);  // f(2, 3) or f((2, 3)) or f([2, 3])
// None -> null; a Tensor -> it; anything else -> TypeError naming `what`.
TensorPtr optional_tensor(py::handle obj, const char* what);

// py::custom_type_setup of the Tensor class: cycle-collector support (function.cpp).
void tensor_type_setup(PyHeapTypeObject* heap_type);
void bind_tensor(py::module_& m, TensorClass& cls);
void bind_ops(py::module_& m, TensorClass& cls);
void bind_math(py::module_& m, TensorClass& cls);  // math.cpp: the registry ops
void bind_index(py::module_& m, TensorClass& cls);
void bind_index_ops(py::module_& m, TensorClass& cls);  // index_ops.cpp: the index op family
void bind_autograd(py::module_& m, TensorClass& cls);
void bind_function(py::module_& m, TensorClass& cls);
void bind_backend(py::module_& m);
void bind_optim(py::module_& m);
void bind_sort(py::module_& m, TensorClass& cls);  // sort.cpp
// --- reduce12: statistics reductions
void bind_stats(py::module_& m, TensorClass& cls);  // stats.cpp
void bind_shape(py::module_& m, TensorClass& cls);  // shape.cpp: issue 12 shape ops
void bind_random(py::module_& m, TensorClass& cls);  // random.cpp: generators, random ops, creation (issue 12)

// ---- pool.cpp (issue 15): pooling, unpooling, interpolation ----
void bind_pool(py::module_& m);

// ---- interop.cpp (issue 13): DLPack, __array_interface__ ----
void bind_interop(py::module_& m, TensorClass& cls);
void bind_conv(py::module_& m);  // conv.cpp: convolution, im2col / col2im (issue 15)
void bind_norm(py::module_& m);  // norm.cpp: normalisation ops (issue 15)
void bind_embedding(py::module_& m);  // embedding.cpp: embedding, embedding_bag (issue 16)
void bind_rnn(py::module_& m);  // rnn.cpp: recurrent layers (issue 16)
void bind_attention(py::module_& m);  // attention.cpp: scaled_dot_product_attention (issue 16)
// A type's name for error messages: "Tensor" for gradcore's own, "torch.Tensor",
// "numpy.ndarray" for other libraries' (so that a foreign Tensor is not mistaken for ours).
std::string type_display_name(py::handle obj);
// Whether obj is a foreign array-like that speaks DLPack (has __dlpack__; not a gradcore
// Tensor, not a NumPy array, which convert through their own paths).
bool is_dlpack_object(py::handle obj);
// A tensor sharing the memory of obj (an object with __dlpack__, or a DLPack capsule, which
// is consumed). Memory the producer marks read-only is copied; *shared (if given) says
// which happened. Non-CPU producers: RuntimeError.
TensorPtr tensor_from_dlpack(py::handle obj, bool* shared);
// tensor_from_dlpack for copying conversions (tensor()): a foreign tensor that requires
// grad (which refuses to export) is read through its detach().
TensorPtr tensor_from_dlpack_detached(py::handle obj);

}  // namespace gradcore::bindings
