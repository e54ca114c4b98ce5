// tensor.cpp — the Tensor class: dtype objects, construction and conversion (NumPy in and
// out, zero-copy and strided), properties, item/tolist, factories. No numerics here.
#include <cstring>

#include "autograd/node.h"
#include "autograd/ops.h"
#include "autograd/variable.h"
#include "bindings/common.h"
#include "kernels/kernel_api.h"

namespace gradcore::bindings {

namespace {
py::module_ np() {
  static py::module_& m = *new py::module_(py::module_::import("numpy"));  // leaked: outlives the interpreter
  return m;
}

void release_pyobject(void* ctx) {
  py::gil_scoped_acquire gil;
  Py_XDECREF(static_cast<PyObject*>(ctx));
}

// ---- dtype objects: one Python object per DType (`t.dtype is gc.float32`) ----
struct DTypeObj {
  DType d;
};
PyObject* g_dtype_objs[kNumDTypes] = {};
PyTypeObject* g_dtype_type = nullptr;

const char* np_name(DType d) {
  switch (d) {
    case DType::BFloat16: return nullptr;  // NumPy has no bfloat16
    default: return dtype_name(d);
  }
}

std::optional<DType> dtype_from_np_name(const std::string& n) {
  for (int i = 0; i < kNumDTypes; ++i) {
    DType d = static_cast<DType>(i);
    if (n == dtype_name(d)) return d;
  }
  return std::nullopt;
}
}  // namespace

py::handle dtype_object(DType d) { return g_dtype_objs[static_cast<int>(d)]; }

bool dtype_from_object(py::handle obj, DType* out) {
  if (!g_dtype_type || !PyObject_TypeCheck(obj.ptr(), g_dtype_type)) return false;
  *out = obj.cast<DTypeObj&>().d;
  return true;
}

bool is_dtype_none(py::handle obj) { return obj.is_none(); }

DType parse_dtype(py::handle obj, DType fallback) {
  if (obj.is_none()) return fallback;
  DType d;
  if (dtype_from_object(obj, &d)) return d;
  // Python's own types, as PyTorch reads them: float -> float64, int -> int64, bool -> bool.
  if (obj.ptr() == reinterpret_cast<PyObject*>(&PyFloat_Type)) return DType::Float64;
  if (obj.ptr() == reinterpret_cast<PyObject*>(&PyLong_Type)) return DType::Int64;
  if (obj.ptr() == reinterpret_cast<PyObject*>(&PyBool_Type)) return DType::Bool;
  py::object dt;
  try {
    dt = np().attr("dtype")(obj);
  } catch (py::error_already_set&) {
    throw TypeError("unsupported dtype " + std::string(py::str(py::repr(obj))) + " (use gc.float32, gc.int64, ...)");
  }
  std::string name = py::str(dt.attr("name"));
  if (auto r = dtype_from_np_name(name)) return *r;
  throw TypeError("unsupported dtype " + name + " (gradcore has float32, float64, float16, bfloat16, int64, int32, "
                  "int16, int8, uint8 and bool)");
}

void check_requires_grad(const Tensor& t, bool requires_grad) { autograd::check_requires_grad(t, requires_grad); }

void check_device(py::handle device) {
  if (device.is_none()) return;
  std::string s = py::isinstance<py::str>(device) ? device.cast<std::string>()
                                                   : std::string(py::str(device.attr("type")));
  if (s.rfind("cpu", 0) == 0 && (s.size() == 3 || s == "cpu:0")) return;
  throw RuntimeError("gradcore runs on the CPU only; device '" + s + "' is not available");
}

TensorPtr tensor_from_numpy(py::array arr) {
  std::string kind = py::str(arr.dtype().attr("name"));
  auto dt = dtype_from_np_name(kind);
  GC_CHECK(dt.has_value(), TypeError, "can't convert np.ndarray of type numpy.", kind,
           ". The only supported types are: float64, float32, float16, int64, int32, int16, int8, uint8, and bool.");
  GC_CHECK(arr.dtype().attr("byteorder").cast<std::string>() != ">", ValueError,
           "given numpy array has byte order different from the native byte order. Conversion between byte orders "
           "is currently not supported.");
  GC_CHECK(arr.writeable(), ValueError,
           "from_numpy: the array is read-only, and a tensor sharing it could write to it; use gc.tensor() to copy");
  const py::ssize_t es = arr.itemsize();
  Shape shape(arr.shape(), arr.shape() + arr.ndim()), strides(arr.ndim());
  int64_t extent = 1;
  const Shape contiguous = contiguous_strides(shape);
  for (py::ssize_t i = 0; i < arr.ndim(); ++i) {
    const py::ssize_t st = arr.strides()[i];
    if (shape[i] <= 1 || arr.size() == 0) {  // the stride of a size-1 dim is never used
      strides[i] = contiguous[i];
      continue;
    }
    GC_CHECK(st >= 0, ValueError,
             "At least one stride in the given numpy array is negative, and tensors with negative strides are not "
             "currently supported. (You can probably work around this by making a copy of your array  with "
             "array.copy().) ");
    GC_CHECK(st % es == 0, ValueError, "given numpy array strides not a multiple of the element byte size. Copy the "
                                       "numpy array to reallocate the memory.");
    strides[i] = st / es;
    if (shape[i] > 1) extent += (shape[i] - 1) * strides[i];
  }
  if (arr.size() == 0) extent = 0;
  PyObject* owner = arr.ptr();
  Py_INCREF(owner);
  return from_blob(const_cast<void*>(arr.data()), shape, strides, *dt, static_cast<size_t>(extent) * es,
                   release_pyobject, owner);
}

// The dtype PyTorch infers for nested lists holding NumPy scalars: the promotion of every
// element's own dtype (Python bool/int/float -> bool/int64/the default dtype; a NumPy
// scalar its dtype), which differs from NumPy's (tensor([np.int32(1), 2.5]) is float32,
// tensor([np.float16(1), np.int32(2)]) float16). False when no NumPy scalar is inside.
bool infer_list_dtype(py::handle o, DType& acc, bool& seen, bool& numpy_seen, int depth = 0) {
  if (depth > 64) return false;
  DType d;
  if (PyList_Check(o.ptr()) || PyTuple_Check(o.ptr())) {
    for (py::handle e : py::reinterpret_borrow<py::sequence>(o))
      if (!infer_list_dtype(e, acc, seen, numpy_seen, depth + 1)) return false;
    return true;
  }
  if (py::isinstance(o, np().attr("generic"))) {  // first: np.float64 is also a Python float
    auto nd = dtype_from_np_name(py::str(o.attr("dtype").attr("name")));
    if (!nd) return false;
    d = *nd;
    numpy_seen = true;
  } else if (PyBool_Check(o.ptr())) {
    d = DType::Bool;
  } else if (PyLong_Check(o.ptr())) {
    d = DType::Int64;
  } else if (PyFloat_Check(o.ptr())) {
    d = ops::default_dtype();
  } else {
    return false;
  }
  acc = seen ? promote_types(acc, d) : d;
  seen = true;
  return true;
}

TensorPtr tensor_from_data(py::handle data, std::optional<DType> dtype) {
  if (py::isinstance<Tensor>(data)) {
    TensorPtr src = data.cast<TensorPtr>();
    TensorPtr out = empty(src->shape, dtype.value_or(src->dtype));
    ops::cast_values(out, ops::detach(src));
    return out;
  }
  if (is_dlpack_object(data)) {  // a PyTorch or JAX tensor: its values through DLPack, then copied
    TensorPtr src = tensor_from_dlpack_detached(data);
    TensorPtr out = empty(src->shape, dtype.value_or(src->dtype));
    ops::cast_values(out, src);
    return out;
  }
  py::object arr;
  const bool is_array = py::isinstance<py::array>(data);
  if (is_array) {
    arr = py::reinterpret_borrow<py::object>(data);
  } else {
    // Lists, tuples, scalars: NumPy parses them (ragged input raises NumPy's ValueError).
    if (py::isinstance<py::str>(data) || py::isinstance<py::bytes>(data) || data.is_none())
      throw TypeError("new(): invalid data type '" + type_display_name(data) + "'");
    arr = np().attr("asarray")(data);
  }
  py::array a = py::reinterpret_borrow<py::array>(arr);
  std::string kind = py::str(a.dtype().attr("kind"));
  std::string name = py::str(a.dtype().attr("name"));
  GC_CHECK(kind == "f" || kind == "i" || kind == "u" || kind == "b", TypeError,
           "tensor(): unsupported element type ", std::string(py::str(a.dtype())),
           " (expected real numbers: float, int or bool)");
  // Inferred as PyTorch: Python floats -> the default dtype, ints -> int64, bools -> bool;
  // NumPy arrays and NumPy scalars keep their dtype.
  const bool numpy_typed = is_array || py::isinstance(data, np().attr("generic"));
  DType def;
  if (auto d = dtype_from_np_name(name); d && numpy_typed) def = *d;
  else if (kind == "f") def = ops::default_dtype();
  else if (kind == "b") def = DType::Bool;
  else def = DType::Int64;
  if (a.size() == 0 && !numpy_typed) def = ops::default_dtype();  // tensor([]) is float32
  if (!numpy_typed && !dtype && (kind == "i" || kind == "u" || kind == "f") && a.size() > 0) {
    DType acc = def;
    bool seen = false, numpy_seen = false;
    if (infer_list_dtype(data, acc, seen, numpy_seen) && numpy_seen) def = acc;
  }
  DType dt = dtype.value_or(def);
  // Python numbers (not NumPy data, which converts as NumPy casts) are range-checked against an
  // integer dtype as PyTorch does: tensor([300], dtype=uint8) raises RuntimeError, tensor(2**63)
  // ValueError; floating dtypes take them unchecked (tensor([1e6], dtype=float16) is inf).
  if (!numpy_typed && a.size() > 0 && kind != "b" && !is_floating(dt) && dt != DType::Bool) {
    GC_CHECK(kind != "u" || a.attr("max")().cast<uint64_t>() <= static_cast<uint64_t>(INT64_MAX), ValueError,
             "Overflow when unpacking long long");
    for (const char* m : {"min", "max"}) {
      py::object v = a.attr(m)();
      ops::check_value_fits(kind == "f" ? ops::Scalar::of(v.cast<double>()) : ops::Scalar::of_int(v.cast<int64_t>()), dt);
    }
  }
  // One NumPy call converts any strides or byte order to a C-contiguous array of dt (through
  // float32 for bfloat16, which NumPy lacks).
  const char* target = dt == DType::BFloat16 ? "float32" : np_name(dt);
  // Under np.errstate(all="ignore"): a cast that overflows (1e6 to float16 is inf) converts
  // silently as in PyTorch, without NumPy's RuntimeWarning.
  py::object quiet = np().attr("errstate")(py::arg("all") = "ignore");
  quiet.attr("__enter__")();
  py::array c;
  try {
    c = np().attr("asarray")(a, py::arg("dtype") = target, py::arg("order") = "C");
  } catch (...) {
    quiet.attr("__exit__")(py::none(), py::none(), py::none());
    throw;
  }
  quiet.attr("__exit__")(py::none(), py::none(), py::none());
  Shape shape(c.shape(), c.shape() + c.ndim());
  TensorPtr out = empty(shape, dt);
  if (dt == DType::BFloat16) {
    TensorPtr f = empty(shape, DType::Float32);
    if (f->numel) std::memcpy(f->data_ptr(), c.data(), f->nbytes());
    ops::cast_values(out, f);
  } else if (out->numel) {
    std::memcpy(out->data_ptr(), c.data(), out->nbytes());
  }
  return out;
}

// Note [NumPy views own the storage]: the array's base is a capsule holding a reference to
// the Storage itself, not to the Tensor: whatever later happens to the tensor (`t.data =
// other`, module.double(), load_state_dict), the view keeps reading and writing the memory
// it was made from, which stays alive until the view dies. Strided tensors give strided
// views.
py::array tensor_to_numpy(const TensorPtr& t) {
  const char* name = np_name(t->dtype);
  GC_CHECK(name, TypeError, "Got unsupported ScalarType BFloat16 (NumPy has no bfloat16; convert with .float())");
  std::vector<py::ssize_t> shape(t->shape.begin(), t->shape.end()), strides(t->shape.size());
  const py::ssize_t es = static_cast<py::ssize_t>(dtype_size(t->dtype));
  for (size_t i = 0; i < shape.size(); ++i) strides[i] = t->strides[i] * es;
  auto* keep = new std::shared_ptr<Storage>(t->storage);
  py::capsule base(keep, [](void* p) { delete static_cast<std::shared_ptr<Storage>*>(p); });
  return py::array(py::dtype(name), shape, strides, t->data_ptr(), base);
}

py::array tensor_numpy(const TensorPtr& t) {
  GC_CHECK(!t->needs_grad(), RuntimeError,
           "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.");
  t->storage->external_writers = true;  // See Note [External writers] (autograd/node.cpp)
  return tensor_to_numpy(t);
}

std::vector<int64_t> parse_dims(py::handle dim) {
  if (dim.is_none()) return {};
  if (py::isinstance<Tensor>(dim)) {  // a tensor is a dim only as a 0-dim integer (never iterated)
    const Tensor& t = *dim.cast<TensorPtr>();
    GC_CHECK(t.ndim() == 0 && !is_floating(t.dtype) && t.dtype != DType::Bool, TypeError,
             "dim must be None, an int or a sequence of ints, got a Tensor of shape ", shape_str(t.shape));
    return {dim.cast<int64_t>()};
  }
  if (py::isinstance<py::int_>(dim) && !py::isinstance<py::bool_>(dim)) return {dim.cast<int64_t>()};
  if (py::isinstance<py::sequence>(dim) && !py::isinstance<py::str>(dim)) {
    std::vector<int64_t> out;
    for (auto d : dim) {
      GC_CHECK(py::isinstance<py::int_>(d) || PyIndex_Check(d.ptr()), TypeError,
               "dim must be an int or a sequence of ints");
      out.push_back(d.cast<int64_t>());
    }
    return out;
  }
  if (PyIndex_Check(dim.ptr()) && !PyFloat_Check(dim.ptr())) return {dim.cast<int64_t>()};
  throw TypeError("dim must be None, an int or a sequence of ints");
}

std::vector<int64_t> parse_labels(py::handle labels) {
  py::array a;
  if (py::isinstance<Tensor>(labels)) {
    TensorPtr t = labels.cast<TensorPtr>();
    if (!is_floating(t->dtype)) {
      GC_CHECK(t->dtype != DType::Bool, TypeError, "cross_entropy: labels must be integers, got a bool tensor");
      GC_CHECK(t->ndim() == 1, ValueError, "cross_entropy: labels must be 1-D, got shape ", shape_str(t->shape));
      TensorPtr l = ops::dense(ops::to_dtype(t, DType::Int64));
      const int64_t* p = l->data<int64_t>();
      return std::vector<int64_t>(p, p + l->numel);
    }
    a = tensor_to_numpy(ops::detach(t->dtype == DType::BFloat16 ? ops::to_dtype(t, DType::Float32) : t));
    py::array whole = np().attr("round")(a);
    GC_CHECK(np().attr("all")(np().attr("isfinite")(a)).cast<bool>() &&
                 np().attr("array_equal")(a, whole).cast<bool>(),
             ValueError, "cross_entropy: float labels must hold whole, finite class indices");
  } else {
    a = np().attr("asarray")(labels);
    // An empty list parses as float64 in NumPy; it is a valid (empty) label list.
    if (a.size() == 0 && a.ndim() == 1) a = np().attr("asarray")(labels, py::arg("dtype") = "int64");
    std::string kind = py::str(a.dtype().attr("kind"));
    GC_CHECK(kind == "i" || kind == "u", TypeError, "cross_entropy: labels must be integers, got dtype ",
             std::string(py::str(a.dtype())));
  }
  GC_CHECK(a.ndim() == 1, ValueError, "cross_entropy: labels must be 1-D, got shape ",
           std::string(py::str(a.attr("shape"))));
  py::array_t<int64_t, py::array::c_style | py::array::forcecast> l(a);
  return std::vector<int64_t>(l.data(), l.data() + l.size());
}

TensorPtr optional_tensor(py::handle obj, const char* what) {
  if (obj.is_none()) return nullptr;
  GC_CHECK(py::isinstance<Tensor>(obj), TypeError, what, " must be a Tensor or None, got ", type_display_name(obj));
  return obj.cast<TensorPtr>();
}

bool parse_scalar(py::handle o, ops::Scalar& out) {
  PyObject* p = o.ptr();
  if (PyBool_Check(p)) { out = ops::Scalar::of_bool(p == Py_True); return true; }
  if (PyLong_Check(p)) {
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(p, &overflow);
    if (overflow) {
      // As PyTorch: an int in [2**63, 2**64) is read as uint64 (its value for floating
      // results, wrapped for integer ones); beyond, or below -2**63, OverflowError.
      if (overflow < 0) {
        PyErr_SetString(PyExc_OverflowError, "can't convert negative int to unsigned");
        throw py::error_already_set();
      }
      unsigned long long u = PyLong_AsUnsignedLongLong(p);
      if (PyErr_Occurred()) {
        PyErr_Clear();
        PyErr_SetString(PyExc_OverflowError, "int too big to convert");
        throw py::error_already_set();
      }
      out = ops::Scalar::of_int(static_cast<int64_t>(u));
      out.d = static_cast<double>(u);
      out.beyond_int64 = true;
      return true;
    }
    out = ops::Scalar::of_int(v);
    return true;
  }
  if (PyFloat_Check(p)) { out = ops::Scalar::of(PyFloat_AS_DOUBLE(p)); return true; }
  static py::object& generic = *new py::object(np().attr("generic"));  // leaked
  if (py::isinstance(o, generic)) {
    std::string kind = py::str(o.attr("dtype").attr("kind"));
    if (kind == "b") { out = ops::Scalar::of_bool(o.cast<bool>()); return true; }
    if (kind == "i" || kind == "u") { out = ops::Scalar::of_int(o.attr("item")().cast<int64_t>()); return true; }
    if (kind == "f") { out = ops::Scalar::of(o.cast<double>()); return true; }
  }
  return false;
}

TensorPtr as_operand(py::handle obj, const Tensor& like) {
  if (py::isinstance<Tensor>(obj)) return obj.cast<TensorPtr>();
  ops::Scalar s;
  if (parse_scalar(obj, s)) return ops::scalar_tensor(s, result_type_with(like, s));
  if (py::isinstance<py::array>(obj)) return tensor_from_data(obj, std::nullopt);
  return tensor_from_data(obj, like.dtype);
}

DType result_type_with(const Tensor& t, const ops::Scalar& s) { return ops::result_type({&t}, {&s}); }

Shape parse_shape(py::args args) {
  auto entry = [](py::handle d) {
    if (py::isinstance<Tensor>(d)) {  // a size may be a 0-dim integer tensor, as in PyTorch
      const Tensor& t = *d.cast<TensorPtr>();
      GC_CHECK(t.ndim() == 0 && !is_floating(t.dtype) && t.dtype != DType::Bool, TypeError,
               "size entries must be ints, got a Tensor of shape ", shape_str(t.shape));
    }
    GC_CHECK((py::isinstance<py::int_>(d) || PyIndex_Check(d.ptr())) && !PyFloat_Check(d.ptr()), TypeError,
             "shape entries must be ints, got ", type_display_name(d));
    try {
      return d.cast<int64_t>();
    } catch (py::cast_error&) {  // an __index__ that fails (a float tensor of another library)
      throw TypeError("shape entries must be ints, got " + type_display_name(d) + " (not an integer)");
    }
  };
  Shape s;
  if (args.size() == 1 && !py::isinstance<py::int_>(args[0]) && !py::isinstance<Tensor>(args[0]) &&
      py::isinstance<py::sequence>(args[0]) && !py::isinstance<py::str>(args[0])) {
    for (auto d : args[0]) s.push_back(entry(d));
    return s;
  }
  for (auto d : args) s.push_back(entry(d));
  return s;
}

namespace {

py::tuple shape_tuple(const Shape& s) {
  py::tuple t(s.size());
  for (size_t i = 0; i < s.size(); ++i) t[i] = py::int_(s[i]);
  return t;
}

namespace {
// gradcore.Size (python/gradcore/_tensor.py, PyTorch's torch.Size: a tuple subclass with
// numel()), registered at import. Built by tuple's own tp_new: no Python call per .shape.
PyTypeObject* g_size_type = nullptr;
}  // namespace

py::object size_object(const Shape& s) {
  py::tuple t = shape_tuple(s);
  if (!g_size_type) return std::move(t);
  py::tuple args = py::make_tuple(t);
  PyObject* r = PyTuple_Type.tp_new(g_size_type, args.ptr(), nullptr);
  if (!r) throw py::error_already_set();
  return py::reinterpret_steal<py::object>(r);
}

// The value of a one-element tensor as a Python number of its kind.
py::object item(const Tensor& t) {
  GC_CHECK(t.numel == 1, RuntimeError, "a Tensor with ", t.numel,
           " elements cannot be converted to Scalar");
  return dispatch_all(t.dtype, [&](auto tag) -> py::object {
    using T = typename decltype(tag)::type;
    T v = *t.data<T>();
    if constexpr (std::is_same_v<T, bool>) return py::bool_(v);
    else if constexpr (std::is_integral_v<T>) return py::int_(static_cast<int64_t>(v));
    else return py::float_(to_f64(v));
  });
}

double item_double(const Tensor& t) {
  GC_CHECK(t.numel == 1, ValueError, "only one element tensors can be converted to Python scalars");  // PyTorch: ValueError
  return dispatch_all(t.dtype, [&](auto tag) { return to_f64(*t.data<typename decltype(tag)::type>()); });
}

// A tensor converted for creation functions: `requires_grad` checked, device checked.
// zeros / ones / empty: a size as varargs, one sequence (tuple, list, gc.Size) or size=.
Shape factory_size(const py::args& args, py::handle size, const char* fn) {
  if (!size.is_none()) {
    GC_CHECK(args.size() == 0, TypeError, fn, "() got multiple values for argument 'size'");
    return parse_shape(py::make_tuple(size));
  }
  return parse_shape(args);  // no size at all: a 0-dim tensor (gradcore's zeros(); PyTorch refuses it)
}

TensorPtr finish(TensorPtr t, bool requires_grad, py::handle device = py::none()) {
  check_device(device);
  check_requires_grad(*t, requires_grad);
  t->requires_grad = requires_grad;
  return t;
}

}  // namespace

void bind_tensor(py::module_& m, TensorClass& cls) {
  // ---- dtypes ----
  py::class_<DTypeObj> dtype_cls(m, "dtype", "Element type of a Tensor (gc.float32, gc.int64, gc.bool, ...).");
  g_dtype_type = reinterpret_cast<PyTypeObject*>(dtype_cls.ptr());
  dtype_cls
      .def_property_readonly("is_floating_point", [](const DTypeObj& d) { return is_floating(d.d); },
                             "True for float32, float64, float16 and bfloat16.")
      .def_property_readonly("is_signed", [](const DTypeObj& d) { return d.d != DType::Bool && d.d != DType::UInt8; },
                             "False for bool and uint8.")
      .def_property_readonly("is_complex", [](const DTypeObj&) { return false; }, "Always False (no complex dtypes).")
      .def_property_readonly("itemsize", [](const DTypeObj& d) { return dtype_size(d.d); }, "Bytes per element.")
      .def("__repr__", [](const DTypeObj& d) { return std::string("gradcore.") + dtype_name(d.d); })
      .def("__reduce__", [](const DTypeObj& d) {
        return py::make_tuple(py::module_::import("builtins").attr("getattr"),
                              py::make_tuple(py::module_::import("gradcore._core"), dtype_name(d.d)));
      });
  for (int i = 0; i < kNumDTypes; ++i) {
    py::object o = py::cast(DTypeObj{static_cast<DType>(i)});
    g_dtype_objs[i] = o.release().ptr();  // leaked: the singletons live as long as the module
    m.attr(dtype_name(static_cast<DType>(i))) = py::handle(g_dtype_objs[i]);
  }
  for (auto [alias, d] : {std::pair{"float", DType::Float32}, {"double", DType::Float64}, {"half", DType::Float16},
                          {"long", DType::Int64}, {"int", DType::Int32}, {"short", DType::Int16}}) {
    m.attr(alias) = dtype_object(d);
  }
  m.def("get_default_dtype", []() { return ops::default_dtype(); }, "The default floating dtype (float32).");
  m.def("set_default_dtype", [](py::handle d) { ops::set_default_dtype(parse_dtype(d, DType::Float32)); },
        py::arg("d"), "Set the dtype Python floats become in tensor() and factories (a floating dtype).");
  m.def("promote_types", [](py::handle a, py::handle b) {
        return promote_types(parse_dtype(a, DType::Float32), parse_dtype(b, DType::Float32));
      }, py::arg("type1"), py::arg("type2"), "The smallest dtype both convert to (torch.promote_types).");
  m.def("can_cast", [](py::handle from, py::handle to) {
        return can_cast(parse_dtype(from, DType::Float32), parse_dtype(to, DType::Float32));
      }, py::arg("from_"), py::arg("to"), "Whether an in-place op may write a `from_` value into a `to` tensor.");
  m.def("result_type", [](py::handle a, py::handle b) {
        ResultType r;
        for (py::handle o : {a, b}) {
          ops::Scalar s;
          if (py::isinstance<Tensor>(o)) {
            const Tensor& t = *o.cast<TensorPtr>();
            r.add_tensor(t.dtype, t.ndim() == 0);
          } else if (parse_scalar(o, s)) {
            r.add_scalar(s.dtype());
          } else {
            throw TypeError("result_type: expected tensors or Python numbers");
          }
        }
        return r.result(ops::default_dtype());
      }, py::arg("tensor1"), py::arg("tensor2"), "The dtype an op on these operands gives (torch.result_type).");

  cls.doc() = "A strided view of a storage of float, integer or bool elements that can record operations for autograd.";
  cls.def(py::init([](py::object data, py::object dtype, bool requires_grad) {
            // Tensor(t) shares t's storage (how nn.Parameter wraps data); anything else is copied.
            TensorPtr out = py::isinstance<Tensor>(data) && dtype.is_none()
                                ? alias(*data.cast<TensorPtr>())
                                : tensor_from_data(data, dtype.is_none() ? std::nullopt
                                                                         : std::optional<DType>(parse_dtype(dtype, DType::Float32)));
            return finish(out, requires_grad);
          }),
          py::arg("data"), py::arg("dtype") = py::none(), py::arg("requires_grad") = false);
  cls.attr("__array_priority__") = 1000;
  cls.attr("__array_ufunc__") = py::none();

  m.def("_set_size_type", [](py::handle tp) {
    GC_CHECK(PyType_Check(tp.ptr()) && PyType_IsSubtype(reinterpret_cast<PyTypeObject*>(tp.ptr()), &PyTuple_Type),
             TypeError, "_set_size_type: expected a tuple subclass");
    g_size_type = reinterpret_cast<PyTypeObject*>(tp.inc_ref().ptr());
  }, "Internal: the class .shape and .size() return (gradcore.Size).");
  cls.def_property_readonly("shape", [](const Tensor& t) { return size_object(t.shape); },
                            "The shape, a gradcore.Size (a tuple of ints).");
  cls.def("size", [](const Tensor& t, py::object dim) -> py::object {
        if (dim.is_none()) return size_object(t.shape);
        GC_CHECK(t.ndim() > 0, IndexError, "dimension specified as ", dim.cast<int64_t>(),
                 " but tensor has no dimensions");
        return py::int_(t.shape[ops::normalize_dim(dim.cast<int64_t>(), t.ndim())]);
      }, py::arg("dim") = py::none(), "The shape (a tuple), or the size of one dim.");
  cls.def("stride", [](const Tensor& t, py::object dim) -> py::object {
        if (dim.is_none()) return shape_tuple(t.strides);
        GC_CHECK(t.ndim() > 0, IndexError, "dimension specified as ", dim.cast<int64_t>(),
                 " but tensor has no dimensions");
        return py::int_(t.strides[ops::normalize_dim(dim.cast<int64_t>(), t.ndim())]);
      }, py::arg("dim") = py::none(), "The strides in elements (a tuple), or the stride of one dim.");
  cls.def("storage_offset", [](const Tensor& t) { return t.offset; }, "The offset of element 0 in the storage, in elements.");
  cls.def("is_contiguous", [](const Tensor& t) { return t.is_contiguous; }, "Whether the strides are row-major.");
  cls.def("data_ptr", [](const Tensor& t) { return reinterpret_cast<uintptr_t>(t.data_ptr()); },
          "The address of element 0.");
  cls.def("element_size", [](const Tensor& t) { return dtype_size(t.dtype); }, "Bytes per element.");
  cls.def_property_readonly("itemsize", [](const Tensor& t) { return dtype_size(t.dtype); }, "Bytes per element.");
  cls.def_property_readonly("nbytes", [](const Tensor& t) { return t.nbytes(); }, "numel() * element_size().");
  cls.def_property_readonly("dtype", [](const Tensor& t) { return t.dtype; }, "The element type.");
  cls.def("is_floating_point", [](const Tensor& t) { return is_floating(t.dtype); }, "Whether the dtype is floating.");
  cls.def_property_readonly("ndim", [](const Tensor& t) { return t.ndim(); }, "The number of dimensions.");
  cls.def("dim", [](const Tensor& t) { return t.ndim(); }, "The number of dimensions.");
  cls.def("ndimension", [](const Tensor& t) { return t.ndim(); }, "The number of dimensions.");
  cls.def("numel", [](const Tensor& t) { return t.numel; }, "The number of elements.");
  cls.def("nelement", [](const Tensor& t) { return t.numel; }, "The number of elements.");
  cls.def("__len__", [](const Tensor& t) {
    GC_CHECK(t.ndim() > 0, TypeError, "len() of a 0-d tensor");
    return t.shape[0];
  });
  cls.def("numpy", &tensor_numpy,
          "A NumPy view of the data (no copy, strided like the tensor); it keeps the storage alive. Raises "
          "RuntimeError for a tensor that requires grad (use .detach().numpy()).");
  // NumPy 2's protocol: copy=None copies only when dtype asks for another type, copy=True
  // always, copy=False never (ValueError when a copy is unavoidable, as NumPy's own arrays).
  cls.def("__array__", [](const TensorPtr& t, py::object dtype, py::object copy) -> py::object {
        py::array a = tensor_numpy(t);
        const bool always = !copy.is_none() && copy.cast<bool>();
        if (!dtype.is_none() && !a.dtype().equal(py::dtype::from_args(dtype))) {
          GC_CHECK(copy.is_none() || always, ValueError,
                   "Unable to avoid copy while creating an array as requested (the tensor is ",
                   dtype_name(t->dtype), ")");
          return a.attr("astype")(dtype);
        }
        return always ? py::object(a.attr("copy")()) : py::object(a);
      }, py::arg("dtype") = py::none(), py::arg("copy") = py::none(),
      "np.asarray(t): the zero-copy view numpy() gives (copied when dtype differs, or copy=True).");
  cls.def("item", [](const Tensor& t) { return item(t); },
          "The value of a one-element tensor as a Python number (float, int or bool by dtype).");
  cls.def("__float__", [](const Tensor& t) { return item_double(t); });
  // int(float) semantics: truncation toward zero; NaN -> ValueError, +-inf -> OverflowError.
  cls.def("__int__", [](const Tensor& t) -> py::object {
    GC_CHECK(t.numel == 1, ValueError, "only one element tensors can be converted to Python scalars");  // PyTorch: ValueError
    if (!is_floating(t.dtype)) return py::int_(item(t));
    PyObject* r = PyLong_FromDouble(item_double(t));
    if (!r) throw py::error_already_set();
    return py::reinterpret_steal<py::object>(r);
  });
  cls.def("__index__", [](const Tensor& t) -> py::object {
    GC_CHECK(!is_floating(t.dtype) && t.numel == 1, TypeError,
             "only integer tensors of a single element can be converted to an index");
    return py::int_(item(t));
  });
  cls.def("__bool__", [](const Tensor& t) {
    GC_CHECK(t.numel == 1, RuntimeError, "Boolean value of Tensor with more than one value is ambiguous");
    return item_double(t) != 0.0 || (is_floating(t.dtype) && item_double(t) != item_double(t));
  });
  cls.def("tolist", [](const TensorPtr& t) -> py::object {
        if (t->dtype == DType::BFloat16) return tensor_to_numpy(ops::to_dtype(ops::detach(t), DType::Float32)).attr("tolist")();
        return tensor_to_numpy(t).attr("tolist")();
      }, "The data as (nested) Python lists of numbers.");
  cls.def("_numpy_view", [](const TensorPtr& t) {
        if (t->dtype == DType::BFloat16) return tensor_to_numpy(ops::to_dtype(ops::detach(t), DType::Float32));
        return tensor_to_numpy(t);
      }, "Internal (repr): a read view of the values, also of tensors that require grad.");
  cls.def("__copy__", [](const TensorPtr& t) { return ops::clone(ops::detach(t)); });
  cls.def("__deepcopy__", [](const TensorPtr& t, py::handle) {
    TensorPtr c = ops::clone(ops::detach(t));
    c->requires_grad = t->is_leaf() && t->requires_grad;
    return c;
  });

  // ---- creation ----
  auto opt_dtype = [](py::handle dtype) {
    return dtype.is_none() ? std::nullopt : std::optional<DType>(parse_dtype(dtype, DType::Float32));
  };
  m.def("tensor", [opt_dtype](py::object data, py::object dtype, py::object device, bool requires_grad) {
        return finish(tensor_from_data(data, opt_dtype(dtype)), requires_grad, device);
      }, py::arg("data"), py::kw_only(), py::arg("dtype") = py::none(), py::arg("device") = py::none(),
      py::arg("requires_grad") = false,
      "Copy data (nested lists, scalars, any NumPy array) into a new tensor. The dtype is inferred as PyTorch "
      "does: Python floats -> the default dtype (float32), ints -> int64, bools -> bool; arrays keep theirs.");
  m.def("as_tensor", [opt_dtype](py::object data, py::object dtype, py::object device) -> TensorPtr {
        check_device(device);
        if (py::isinstance<Tensor>(data)) {
          TensorPtr t = data.cast<TensorPtr>();
          return dtype.is_none() ? t : ops::to_dtype(t, parse_dtype(dtype, t->dtype));
        }
        // An object exposing NumPy's array interface (not DLPack) is viewed, not copied.
        if (!py::isinstance<py::array>(data) && !is_dlpack_object(data) &&
            (py::hasattr(data, "__array_interface__") || py::hasattr(data, "__array_struct__")))
          data = np().attr("asarray")(data);
        if (py::isinstance<py::array>(data)) {
          py::array a = py::reinterpret_borrow<py::array>(data);
          std::string n = py::str(a.dtype().attr("name"));
          auto d = dtype_from_np_name(n);
          if (d && a.writeable() && (dtype.is_none() || parse_dtype(dtype, *d) == *d)) {
            bool ok = true;
            for (py::ssize_t i = 0; i < a.ndim(); ++i) ok &= a.strides()[i] >= 0 && a.strides()[i] % a.itemsize() == 0;
            if (ok && a.dtype().attr("byteorder").cast<std::string>() != ">") return tensor_from_numpy(a);
          }
        }
        if (is_dlpack_object(data)) {  // a PyTorch / JAX tensor: shared through DLPack
          TensorPtr t = tensor_from_dlpack(data, nullptr);
          return dtype.is_none() ? t : ops::to_dtype(t, parse_dtype(dtype, t->dtype));
        }
        return tensor_from_data(data, opt_dtype(dtype));
      }, py::arg("data"), py::arg("dtype") = py::none(), py::arg("device") = py::none(),
      "Like tensor(), but without a copy when possible: a Tensor of the same dtype is returned as is; a NumPy "
      "array (writable, of a gradcore dtype), an object with __array_interface__ and one with __dlpack__ (a "
      "PyTorch or JAX tensor) share memory; anything else (lists, numbers) is copied.");
  m.def("from_numpy", [](py::object arr) {
        GC_CHECK(py::isinstance<py::array>(arr), TypeError, "expected np.ndarray (got ", type_display_name(arr), ")",
                 is_dlpack_object(arr) ? "; gc.from_dlpack() or gc.as_tensor() share the memory of a tensor of "
                                         "another library" : "");
        return tensor_from_numpy(py::reinterpret_borrow<py::array>(arr));
      }, py::arg("ndarray"), "Share the memory of a NumPy array (no copy; any supported dtype and strides).");

  auto factory = [&m](const char* name, double value, const char* doc) {
    m.def(name, [value, name](py::args shape, py::object size, py::object dtype, py::object device,
                              bool requires_grad) {
          DType d = parse_dtype(dtype, ops::default_dtype());
          return finish(ops::full(factory_size(shape, size, name), ops::Scalar::of(value), d), requires_grad, device);
        }, py::kw_only(), py::arg("size") = py::none(), py::arg("dtype") = py::none(), py::arg("device") = py::none(),
        py::arg("requires_grad") = false, doc);
  };
  factory("zeros", 0.0, "zeros(*size, dtype=None, requires_grad=False)");
  factory("ones", 1.0, "ones(*size, dtype=None, requires_grad=False)");
  m.def("empty", [](py::args shape, py::object size, py::object dtype, py::object device, bool requires_grad) {
        return finish(empty(factory_size(shape, size, "empty"), parse_dtype(dtype, ops::default_dtype())),
                      requires_grad, device);
      }, py::kw_only(), py::arg("size") = py::none(), py::arg("dtype") = py::none(), py::arg("device") = py::none(), py::arg("requires_grad") = false,
      "empty(*size, dtype=None): an uninitialised tensor.");
  m.def("full", [](py::object shape, py::handle fill_value, py::object dtype, py::object device, bool requires_grad) {
        ops::Scalar s;
        GC_CHECK(parse_scalar(fill_value, s), TypeError, "full(): fill_value must be a number");
        // PyTorch: the dtype follows fill_value (int -> int64, bool -> bool, float -> default).
        DType def = s.kind == ops::Scalar::FLOAT ? ops::default_dtype() : s.dtype();
        const DType d = parse_dtype(dtype, def);
        ops::check_value_fits(s, d);
        return finish(ops::full(parse_shape(py::make_tuple(shape)), s, d), requires_grad, device);
      }, py::arg("size"), py::arg("fill_value"), py::kw_only(), py::arg("dtype") = py::none(),
      py::arg("device") = py::none(), py::arg("requires_grad") = false,
      "A tensor of the given size filled with fill_value (its dtype follows fill_value).");
  auto like = [&m](const char* name, double value) {
    m.def(name, [value](const TensorPtr& t, py::object dtype, py::object device, bool requires_grad) {
          return finish(ops::full(t->shape, ops::Scalar::of(value), parse_dtype(dtype, t->dtype)), requires_grad, device);
        }, py::arg("input"), py::kw_only(), py::arg("dtype") = py::none(), py::arg("device") = py::none(),
        py::arg("requires_grad") = false,
        "A tensor of input's shape (and dtype unless given) filled with a constant.");
  };
  like("zeros_like", 0.0);
  like("ones_like", 1.0);
  m.def("empty_like", [](const TensorPtr& t, py::object dtype, py::object device, bool requires_grad) {
        return finish(empty(t->shape, parse_dtype(dtype, t->dtype)), requires_grad, device);
      }, py::arg("input"), py::kw_only(), py::arg("dtype") = py::none(), py::arg("device") = py::none(),
      py::arg("requires_grad") = false, "An uninitialised tensor of input's shape and dtype.");
  m.def("full_like", [](const TensorPtr& t, py::handle fill_value, py::object dtype, py::object device,
                        bool requires_grad) {
        ops::Scalar s;
        GC_CHECK(parse_scalar(fill_value, s), TypeError, "full_like(): fill_value must be a number");
        const DType d = parse_dtype(dtype, t->dtype);
        ops::check_value_fits(s, d);
        return finish(ops::full(t->shape, s, d), requires_grad, device);
      }, py::arg("input"), py::arg("fill_value"), py::kw_only(), py::arg("dtype") = py::none(),
      py::arg("device") = py::none(), py::arg("requires_grad") = false,
      "A tensor of input's shape (and dtype unless given) filled with fill_value.");
  // rand / randn and the generators: bindings/random.cpp (issue 12).
  m.def("arange", [](py::handle start, py::handle end, py::handle step, py::object dtype, py::object device,
                     bool requires_grad) {
        ops::Scalar a, b, s = ops::Scalar::of_int(1);
        GC_CHECK(parse_scalar(start, a), TypeError, "arange(): start must be a number");
        if (end.is_none()) { b = a; a = ops::Scalar::of_int(0); }
        else GC_CHECK(parse_scalar(end, b), TypeError, "arange(): end must be a number");
        if (!step.is_none()) GC_CHECK(parse_scalar(step, s), TypeError, "arange(): step must be a number");
        // PyTorch: int64 when start, end and step are all ints, else the default dtype.
        const bool ints = a.kind != ops::Scalar::FLOAT && b.kind != ops::Scalar::FLOAT && s.kind != ops::Scalar::FLOAT;
        DType d = parse_dtype(dtype, ints ? DType::Int64 : ops::default_dtype());
        return finish(ops::arange(a.d, b.d, s.d, d), requires_grad, device);
      }, py::arg("start"), py::arg("end") = py::none(), py::arg("step") = py::none(), py::kw_only(),
      py::arg("dtype") = py::none(), py::arg("device") = py::none(), py::arg("requires_grad") = false,
      "Values from start (inclusive) to end (exclusive) by step; arange(n) counts from 0. int64 for int "
      "arguments, else the default dtype.");
}

}  // namespace gradcore::bindings
