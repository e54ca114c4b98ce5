// tensor.cpp — the Tensor class: construction and conversion (NumPy in and out),
// properties, repr, indexing and factories. No numerics here.
#include <cstring>

#include "autograd/node.h"
#include "autograd/ops.h"
#include "bindings/common.h"
#include "kernels/kernel_api.h"

namespace gradcore::bindings {

namespace {
py::module_ np() {
  static py::module_& m = *new py::module_(py::module_::import("numpy"));  // leaked: outlives the interpreter
  return m;
}

const char* np_name(DType d) { return d == DType::Float32 ? "float32" : "float64"; }

void release_pyobject(void* ctx) {
  py::gil_scoped_acquire gil;
  Py_XDECREF(static_cast<PyObject*>(ctx));
}
}  // namespace

bool is_dtype_none(py::handle obj) { return obj.is_none(); }

DType parse_dtype(py::handle obj, DType fallback) {
  if (obj.is_none()) return fallback;
  if (py::isinstance<DType>(obj)) return obj.cast<DType>();
  py::object dt;
  try {
    dt = np().attr("dtype")(obj);
  } catch (py::error_already_set&) {
    throw TypeError("unsupported dtype " + std::string(py::str(py::repr(obj))) + " (use gc.float32 or gc.float64)");
  }
  std::string name = py::str(dt.attr("name"));
  if (name == "float32") return DType::Float32;
  if (name == "float64") return DType::Float64;
  throw TypeError("unsupported dtype " + name + " (gradcore tensors are float32 or float64)");
}

TensorPtr tensor_from_numpy(py::array arr) {
  std::string kind = py::str(arr.dtype().attr("name"));
  GC_CHECK(kind == "float32" || kind == "float64", TypeError, "from_numpy: unsupported dtype ", kind,
           " (expected float32 or float64; use gc.tensor() to convert)");
  GC_CHECK(arr.flags() & py::array::c_style, ValueError,
           "from_numpy: the array is not C-contiguous, so memory cannot be shared; use gc.tensor() to copy");
  GC_CHECK(arr.dtype().attr("byteorder").cast<std::string>() != ">", TypeError,
           "from_numpy: big-endian arrays are not supported");
  GC_CHECK(arr.writeable(), ValueError,
           "from_numpy: the array is read-only, and a tensor sharing it could write to it; use gc.tensor() to copy");
  Shape shape(arr.shape(), arr.shape() + arr.ndim());
  PyObject* owner = arr.ptr();
  Py_INCREF(owner);
  return from_blob(const_cast<void*>(arr.data()), shape, kind == "float32" ? DType::Float32 : DType::Float64,
                   release_pyobject, owner);
}

TensorPtr tensor_from_data(py::handle data, std::optional<DType> dtype) {
  if (py::isinstance<Tensor>(data)) {
    TensorPtr src = data.cast<TensorPtr>();
    TensorPtr out = empty(src->shape, dtype.value_or(src->dtype));
    ops::copy_(out, ops::detach(src));
    return out;
  }
  py::object arr;
  if (py::isinstance<py::array>(data)) {
    arr = py::reinterpret_borrow<py::object>(data);
  } else {
    // Lists, tuples, scalars: NumPy parses them (ragged input raises NumPy's ValueError).
    if (py::isinstance<py::str>(data) || py::isinstance<py::bytes>(data) || data.is_none())
      throw TypeError("tensor(): cannot build a tensor from " + std::string(py::str(py::type::of(data).attr("__name__"))));
    arr = np().attr("asarray")(data);
  }
  py::array a = py::reinterpret_borrow<py::array>(arr);
  std::string kind = py::str(a.dtype().attr("kind"));
  GC_CHECK(kind == "f" || kind == "i" || kind == "u" || kind == "b", TypeError,
           "tensor(): unsupported element type ", std::string(py::str(a.dtype())),
           " (expected real numbers: float, int or bool)");
  DType def = std::string(py::str(a.dtype().attr("name"))) == "float64" && py::isinstance<py::array>(data)
                  ? DType::Float64
                  : DType::Float32;
  DType dt = dtype.value_or(def);
  // One NumPy call does the conversion, any strides or byte order -> C-contiguous copy.
  py::array c = np().attr("asarray")(a, py::arg("dtype") = np_name(dt), py::arg("order") = "C");
  Shape shape(c.shape(), c.shape() + c.ndim());
  TensorPtr out = empty(shape, dt);
  if (out->numel) std::memcpy(out->data_ptr(), c.data(), out->nbytes());
  return out;
}

// Note [NumPy views own the storage]: the array's base is a capsule holding a reference to
// the Storage itself, not to the Tensor: whatever later happens to the tensor (`t.data =
// other`, module.double(), load_state_dict), the view keeps reading and writing the memory
// it was made from, which stays alive until the view dies.
py::array tensor_to_numpy(const TensorPtr& t) {
  std::vector<py::ssize_t> shape(t->shape.begin(), t->shape.end()), strides(t->shape.size());
  py::ssize_t st = static_cast<py::ssize_t>(dtype_size(t->dtype));
  for (size_t i = shape.size(); i-- > 0;) { strides[i] = st; st *= shape[i]; }
  auto* keep = new std::shared_ptr<Storage>(t->storage);
  py::capsule base(keep, [](void* p) { delete static_cast<std::shared_ptr<Storage>*>(p); });
  return py::array(py::dtype(np_name(t->dtype)), shape, strides, t->data_ptr(), base);
}

py::array tensor_numpy(const TensorPtr& t) {
  GC_CHECK(!t->needs_grad(), RuntimeError,
           "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.");
  t->storage->external_writers = true;  // See Note [External writers] (autograd/node.cpp)
  return tensor_to_numpy(t);
}

std::vector<int64_t> parse_dims(py::handle dim) {
  if (dim.is_none()) return {};
  if (py::isinstance<py::int_>(dim)) return {dim.cast<int64_t>()};
  if (py::isinstance<py::sequence>(dim) && !py::isinstance<py::str>(dim)) {
    std::vector<int64_t> out;
    for (auto d : dim) {
      GC_CHECK(py::isinstance<py::int_>(d), TypeError, "dim must be an int or a sequence of ints");
      out.push_back(d.cast<int64_t>());
    }
    GC_CHECK(!out.empty(), ValueError, "dim must not be an empty sequence");
    return out;
  }
  throw TypeError("dim must be None, an int or a sequence of ints");
}

std::vector<int64_t> parse_labels(py::handle labels) {
  py::array a;
  if (py::isinstance<Tensor>(labels)) {
    TensorPtr t = labels.cast<TensorPtr>();
    a = tensor_to_numpy(t);
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
  GC_CHECK(py::isinstance<Tensor>(obj), TypeError, what, " must be a Tensor or None, got ",
           std::string(py::str(py::type::of(obj).attr("__name__"))));
  return obj.cast<TensorPtr>();
}

TensorPtr as_operand(py::handle obj, const Tensor& like) {
  if (py::isinstance<Tensor>(obj)) return obj.cast<TensorPtr>();
  return tensor_from_data(obj, like.dtype);
}

Shape parse_shape(py::args args) {
  if (args.size() == 1 && (py::isinstance<py::tuple>(args[0]) || py::isinstance<py::list>(args[0]))) {
    Shape s;
    for (auto d : args[0]) {
      GC_CHECK(py::isinstance<py::int_>(d), TypeError, "shape entries must be ints, got ",
               std::string(py::str(py::type::of(d).attr("__name__"))));
      s.push_back(d.cast<int64_t>());
    }
    return s;
  }
  Shape s;
  for (auto d : args) {
    GC_CHECK(py::isinstance<py::int_>(d), TypeError, "shape entries must be ints, got ",
             std::string(py::str(py::type::of(d).attr("__name__"))));
    s.push_back(d.cast<int64_t>());
  }
  return s;
}

namespace {

py::tuple shape_tuple(const Shape& s) {
  py::tuple t(s.size());
  for (size_t i = 0; i < s.size(); ++i) t[i] = py::int_(s[i]);
  return t;
}

double item(const Tensor& t) {
  GC_CHECK(t.numel == 1, ValueError, "item(): only one-element tensors can be converted to a Python scalar, got shape ",
           shape_str(t.shape));
  return t.dtype == DType::Float32 ? static_cast<double>(*t.data<float>()) : *t.data<double>();
}

std::string tensor_repr(const TensorPtr& t, py::handle self) {
  py::array a = tensor_to_numpy(t);
  std::string body = py::str(np().attr("array2string")(a, py::arg("separator") = ", ", py::arg("prefix") = "tensor("));
  std::string r = "tensor(" + body;
  if (t->numel == 0) r += ", size=" + shape_str(t->shape);
  if (t->dtype == DType::Float64) r += ", dtype=gradcore.float64";
  if (t->grad_fn) r += std::string(", grad_fn=<") + t->grad_fn->name() + ">";
  else if (t->requires_grad) r += ", requires_grad=True";
  return r + ")";
}

TensorPtr getitem(const TensorPtr& t, py::handle key) {
  GC_CHECK(t->ndim() > 0, IndexError, "invalid index of a 0-dim tensor");
  const int64_t n0 = t->shape[0];
  if (py::isinstance<py::int_>(key)) {
    int64_t i = key.cast<int64_t>();
    GC_CHECK(i >= -n0 && i < n0, IndexError, "index ", i, " is out of bounds for dimension 0 with size ", n0);
    if (i < 0) i += n0;
    TensorPtr row = ops::slice0(t, i, i + 1);
    return ops::reshape(row, Shape(t->shape.begin() + 1, t->shape.end()));
  }
  if (py::isinstance<py::slice>(key)) {
    py::ssize_t start, stop, step, len;
    if (!py::reinterpret_borrow<py::slice>(key).compute(static_cast<py::ssize_t>(n0), &start, &stop, &step, &len))
      throw py::error_already_set();
    GC_CHECK(step == 1, IndexError, "only slices with step 1 are supported");
    return ops::slice0(t, start, start + len);
  }
  throw TypeError("gradcore tensors support an int or a slice on the first dimension; use .numpy() for more");
}

}  // namespace

void bind_tensor(py::module_& m, TensorClass& cls) {
  py::enum_<DType>(m, "dtype", "Element type of a Tensor")
      .value("float32", DType::Float32)
      .value("float64", DType::Float64);
  m.attr("float32") = DType::Float32;
  m.attr("float64") = DType::Float64;

  cls.doc() = "A dense, contiguous float32/float64 array that can record operations for autograd.";
  cls.def(py::init([](py::object data, py::object dtype, bool requires_grad) {
            // Tensor(t) shares t's storage (how nn.Parameter wraps data); anything else is copied.
            TensorPtr out = py::isinstance<Tensor>(data) && dtype.is_none()
                                ? alias(*data.cast<TensorPtr>())
                                : tensor_from_data(data, dtype.is_none() ? std::nullopt
                                                                         : std::optional<DType>(parse_dtype(dtype, DType::Float32)));
            out->requires_grad = requires_grad;
            return out;
          }),
          py::arg("data"), py::arg("dtype") = py::none(), py::arg("requires_grad") = false);
  cls.attr("__array_priority__") = 1000;
  cls.attr("__array_ufunc__") = py::none();

  cls.def_property_readonly("shape", [](const Tensor& t) { return shape_tuple(t.shape); }, "The shape, a tuple of ints.");
  cls.def("size", [](const Tensor& t, py::object dim) -> py::object {
        if (dim.is_none()) return shape_tuple(t.shape);
        return py::int_(t.shape[ops::normalize_dim(dim.cast<int64_t>(), t.ndim())]);
      }, py::arg("dim") = py::none(), "The shape (a tuple), or the size of one dim.");
  cls.def_property_readonly("dtype", [](const Tensor& t) { return t.dtype; }, "gradcore.float32 or gradcore.float64.");
  cls.def_property_readonly("ndim", [](const Tensor& t) { return t.ndim(); }, "The number of dimensions.");
  cls.def("dim", [](const Tensor& t) { return t.ndim(); }, "The number of dimensions.");
  cls.def("numel", [](const Tensor& t) { return t.numel; }, "The number of elements.");
  cls.def("__len__", [](const Tensor& t) {
    GC_CHECK(t.ndim() > 0, TypeError, "len() of a 0-d tensor");
    return t.shape[0];
  });
  cls.def("numpy", &tensor_numpy,
          "A NumPy view of the data (no copy); it keeps the storage alive. Raises RuntimeError for a "
          "tensor that requires grad (use .detach().numpy()).");
  cls.def("__array__", [](const TensorPtr& t, py::object dtype, py::object copy) -> py::object {
        py::array a = tensor_numpy(t);
        if (!dtype.is_none()) return a.attr("astype")(dtype);
        if (!copy.is_none() && copy.cast<bool>()) return a.attr("copy")();
        return a;
      }, py::arg("dtype") = py::none(), py::arg("copy") = py::none());
  cls.def("item", [](const Tensor& t) { return item(t); }, "The value of a one-element tensor as a Python float.");
  cls.def("__float__", [](const Tensor& t) { return item(t); });
  // int(float) semantics: truncation toward zero; NaN -> ValueError, +-inf -> OverflowError.
  cls.def("__int__", [](const Tensor& t) {
    PyObject* r = PyLong_FromDouble(item(t));
    if (!r) throw py::error_already_set();
    return py::reinterpret_steal<py::object>(r);
  });
  cls.def("__bool__", [](const Tensor& t) {
    GC_CHECK(t.numel == 1, ValueError, "the truth value of a tensor with more than one element is ambiguous");
    return item(t) != 0.0;
  });
  cls.def("tolist", [](const TensorPtr& t) { return tensor_to_numpy(t).attr("tolist")(); },
          "The data as (nested) Python lists of floats.");
  cls.def("__repr__", [](py::object self) { return tensor_repr(self.cast<TensorPtr>(), self); });
  cls.def("__getitem__", [](const TensorPtr& t, py::handle key) { return getitem(t, key); });
  cls.def("__copy__", [](const TensorPtr& t) { return ops::contiguous_copy(ops::detach(t)); });
  cls.def("__deepcopy__", [](const TensorPtr& t, py::handle) {
    TensorPtr c = ops::contiguous_copy(ops::detach(t));
    c->requires_grad = t->is_leaf() && t->requires_grad;
    return c;
  });

  m.def("tensor", [](py::object data, py::object dtype, bool requires_grad) {
        TensorPtr t = tensor_from_data(data, dtype.is_none() ? std::nullopt
                                                             : std::optional<DType>(parse_dtype(dtype, DType::Float32)));
        t->requires_grad = requires_grad;
        return t;
      }, py::arg("data"), py::arg("dtype") = py::none(), py::arg("requires_grad") = false,
      "Copy data (nested lists, scalars, any NumPy array) into a new tensor. dtype defaults to float32 "
      "(float64 for float64 NumPy arrays).");
  m.def("from_numpy", [](py::object arr) {
        GC_CHECK(py::isinstance<py::array>(arr), TypeError, "from_numpy expects a numpy.ndarray, got ",
                 std::string(py::str(py::type::of(arr).attr("__name__"))));
        return tensor_from_numpy(py::reinterpret_borrow<py::array>(arr));
      }, py::arg("array"), "Share the memory of a C-contiguous float32/float64 NumPy array (no copy).");

  auto factory = [&m](const char* name, double value, const char* doc) {
    m.def(name, [value](py::args shape, py::object dtype, bool requires_grad) {
          TensorPtr t = ops::full(parse_shape(shape), value, parse_dtype(dtype, DType::Float32));
          t->requires_grad = requires_grad;
          return t;
        }, py::kw_only(), py::arg("dtype") = py::none(), py::arg("requires_grad") = false, doc);
  };
  factory("zeros", 0.0, "zeros(*shape, dtype=None, requires_grad=False)");
  factory("ones", 1.0, "ones(*shape, dtype=None, requires_grad=False)");
  m.def("full", [](py::object shape, double value, py::object dtype, bool requires_grad) {
        TensorPtr t = ops::full(parse_shape(py::make_tuple(shape)), value, parse_dtype(dtype, DType::Float32));
        t->requires_grad = requires_grad;
        return t;
      }, py::arg("shape"), py::arg("fill_value"), py::kw_only(), py::arg("dtype") = py::none(),
      py::arg("requires_grad") = false, "A tensor of the given shape filled with fill_value.");
  auto like = [&m](const char* name, double value) {
    m.def(name, [value](const TensorPtr& t, py::object dtype, bool requires_grad) {
          TensorPtr out = ops::full(t->shape, value, parse_dtype(dtype, t->dtype));
          out->requires_grad = requires_grad;
          return out;
        }, py::arg("input"), py::kw_only(), py::arg("dtype") = py::none(), py::arg("requires_grad") = false,
        "A tensor of input's shape (and dtype unless given) filled with a constant.");
  };
  like("zeros_like", 0.0);
  like("ones_like", 1.0);
  m.def("randn", [](py::args shape, py::object dtype, bool requires_grad) {
        TensorPtr t = ops::randn(parse_shape(shape), parse_dtype(dtype, DType::Float32), 0.0, 1.0);
        t->requires_grad = requires_grad;
        return t;
      }, py::kw_only(), py::arg("dtype") = py::none(), py::arg("requires_grad") = false,
      "Standard normal samples from gradcore's counter-based RNG (seed with manual_seed).");
  m.def("rand", [](py::args shape, py::object dtype, bool requires_grad) {
        TensorPtr t = ops::rand(parse_shape(shape), parse_dtype(dtype, DType::Float32), 0.0, 1.0);
        t->requires_grad = requires_grad;
        return t;
      }, py::kw_only(), py::arg("dtype") = py::none(), py::arg("requires_grad") = false,
      "Uniform samples in [0, 1) from gradcore's counter-based RNG (seed with manual_seed).");
  m.def("arange", [](double start, py::object stop, double step, py::object dtype, bool requires_grad) {
        double b = start, e = 0;
        if (stop.is_none()) { e = start; b = 0; } else { e = stop.cast<double>(); }
        TensorPtr t = ops::arange(b, e, step, parse_dtype(dtype, DType::Float32));
        t->requires_grad = requires_grad;
        return t;
      }, py::arg("start"), py::arg("end") = py::none(), py::arg("step") = 1.0, py::kw_only(),
      py::arg("dtype") = py::none(), py::arg("requires_grad") = false,
      "Values from start (inclusive) to end (exclusive) by step; arange(n) counts from 0.");
  m.def("manual_seed", [](int64_t seed) { manual_seed(static_cast<uint64_t>(seed)); }, py::arg("seed"),
        "Seed gradcore's random number generator (randn, rand, init, dropout).");
  m.def("initial_seed", []() { return initial_seed(); }, "The seed of gradcore's RNG (set by manual_seed).");
}

}  // namespace gradcore::bindings
