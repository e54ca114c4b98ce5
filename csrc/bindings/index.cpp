// index.cpp — Tensor.__getitem__ / __setitem__: PyTorch's indexing.
//
// A key is parsed left to right into basic steps (int -> select, slice -> slice, None ->
// unsqueeze, Ellipsis), applied as views, and advanced indices (integer tensors, lists,
// NumPy arrays; bool masks become the indices of their true elements), which are gathered
// at the end by ops::index with PyTorch's placement of the advanced dims (Note [Advanced
// indexing], ops/index.cpp). As in PyTorch (and unlike NumPy) an int, and a 0-dim integer
// tensor or array, is always a basic index; True/False is a 0-dim mask (a new dim of size 1
// or 0 indexed by [0] or []: an advanced index, so it broadcasts with the other advanced
// indices and the result is a copy). __getitem__ of basic indices alone is a view. __setitem__ writes through the
// view (or index_put_); in grad mode, when the tensor or the value takes part in autograd,
// it is recorded as an in-place op whose new value is "self with the region replaced".
#include "autograd/grad_mode.h"
#include "autograd/ops.h"
#include "bindings/common.h"

namespace gradcore::bindings {
namespace {

// One basic step, replayable on any tensor of the indexed tensor's shape.
struct Step {
  enum Kind { SELECT, SLICE, UNSQUEEZE } kind;
  int64_t dim, a = 0, b = 0, c = 1;  // select: a = index; slice: start a, stop b, step c
};

TensorPtr apply_steps(const TensorPtr& x, const std::vector<Step>& steps) {
  TensorPtr cur = x;
  for (const Step& s : steps) {
    switch (s.kind) {
      case Step::SELECT: cur = ops::select(cur, s.dim, s.a); break;
      case Step::SLICE: cur = ops::slice(cur, s.dim, s.a, s.b, s.c); break;
      case Step::UNSQUEEZE: cur = ops::unsqueeze(cur, s.dim); break;
    }
  }
  return cur;
}

struct ParsedKey {
  std::vector<Step> steps;          // basic indexing, in order
  std::vector<TensorPtr> advanced;  // per dim of the basic result: null or an int64 index tensor
  bool has_advanced = false;
};

bool is_index_sequence(py::handle o) {
  return py::isinstance<py::list>(o) || py::isinstance<py::array>(o) || py::isinstance<py::tuple>(o);
}

TensorPtr index_tensor_of(py::handle o) {
  TensorPtr t;
  if (py::isinstance<Tensor>(o)) {
    t = o.cast<TensorPtr>();
  } else {
    py::object arr = py::module_::import("numpy").attr("asarray")(o);
    std::string kind = py::str(arr.attr("dtype").attr("kind"));
    if (arr.attr("size").cast<int64_t>() == 0 && kind == "f") arr = py::module_::import("numpy").attr("asarray")(o, py::arg("dtype") = "int64");
    t = tensor_from_data(arr, std::nullopt);
  }
  GC_CHECK(!is_floating(t->dtype), IndexError, "tensors used as indices must be long, int, byte or bool tensors");
  return t;
}

// A 0-dim tensor or NumPy array of an integer dtype other than bool/uint8 (those are masks):
// PyTorch reads it as an int (a select, so a view), not as an advanced index.
bool is_zero_dim_int(py::handle o) {
  if (py::isinstance<Tensor>(o)) {
    const Tensor& t = *o.cast<TensorPtr>();
    return t.ndim() == 0 && !is_floating(t.dtype) && t.dtype != DType::Bool && t.dtype != DType::UInt8;
  }
  if (py::isinstance<py::array>(o)) {
    std::string kind = py::str(o.attr("dtype").attr("kind"));
    return o.attr("ndim").cast<int64_t>() == 0 &&
           (kind == "i" || (kind == "u" && o.attr("dtype").attr("itemsize").cast<int64_t>() > 1));
  }
  return false;
}

int64_t dims_consumed(py::handle o) {
  if (o.is_none() || o.ptr() == Py_Ellipsis || PyBool_Check(o.ptr())) return 0;
  if (py::isinstance<Tensor>(o)) {
    const Tensor& t = *o.cast<TensorPtr>();
    return t.dtype == DType::Bool || t.dtype == DType::UInt8 ? t.ndim() : 1;  // a 0-dim mask adds a dim
  }
  if (py::isinstance<py::array>(o)) {
    std::string kind = py::str(o.attr("dtype").attr("kind"));
    int64_t nd = o.attr("ndim").cast<int64_t>();
    return kind == "b" ? std::max<int64_t>(nd, 1) : 1;
  }
  return 1;
}

// PyTorch (after NumPy's old heuristic) reads a non-tuple sequence key as a tuple of indices
// when it is shorter than 32 and holds a tensor, a sequence, a slice, None or Ellipsis:
// x[[rows, cols]] is x[rows, cols] and x[[[0, 1], [1, 2]]] is x[[0, 1], [1, 2]], while
// x[[0, 1]] stays one index list. A NumPy array key is never read so. PyTorch warns that this
// is deprecated; gradcore does the same, with the same warning, so that results agree.
bool sequence_as_tuple(py::handle key) {
  if (py::isinstance<py::tuple>(key) || py::isinstance<Tensor>(key) || py::isinstance<py::array>(key) ||
      py::isinstance<py::str>(key) || !PySequence_Check(key.ptr()))
    return false;
  const Py_ssize_t n = PySequence_Size(key.ptr());
  if (n < 0) {
    PyErr_Clear();
    return false;
  }
  if (n >= 32) return false;
  for (Py_ssize_t i = 0; i < n; ++i) {
    py::object o = py::reinterpret_steal<py::object>(PySequence_GetItem(key.ptr(), i));
    if (!o) {
      PyErr_Clear();
      return false;
    }
    if (py::isinstance<Tensor>(o) || PySequence_Check(o.ptr()) || PySlice_Check(o.ptr()) || o.is_none() ||
        o.ptr() == Py_Ellipsis)
      return true;
  }
  return false;
}

ParsedKey parse_key(const Tensor& x, py::handle key) {
  py::tuple items = py::isinstance<py::tuple>(key) ? py::reinterpret_borrow<py::tuple>(key)
                    : py::make_tuple(key);
  if (!py::isinstance<py::tuple>(key) && sequence_as_tuple(key)) {
    if (PyErr_WarnEx(PyExc_UserWarning,
                     "Using a non-tuple sequence for multidimensional indexing is deprecated (as in PyTorch); use "
                     "x[tuple(seq)] instead of x[seq]. PyTorch plans to read it as a tensor index, x[tensor(seq)], "
                     "which will give an error or a different result", 1) < 0)
      throw py::error_already_set();
    items = py::reinterpret_steal<py::tuple>(PySequence_Tuple(key.ptr()));
  }
  int64_t consumed = 0;
  bool ellipsis = false;
  for (auto it : items) {
    if (it.ptr() == Py_Ellipsis) {
      GC_CHECK(!ellipsis, IndexError, "an index can only have a single ellipsis ('...')");
      ellipsis = true;
    }
    consumed += dims_consumed(it);
  }
  GC_CHECK(consumed <= x.ndim(), IndexError, "too many indices for tensor of dimension ", x.ndim());
  ParsedKey pk;
  Shape shape = x.shape;  // the shape of the basic result so far
  int64_t d = 0;          // current dim in that result
  auto set_adv = [&](int64_t dim, TensorPtr t) {
    if (static_cast<int64_t>(pk.advanced.size()) <= dim) pk.advanced.resize(dim + 1);
    pk.advanced[dim] = std::move(t);
    pk.has_advanced = true;
  };
  for (auto it : items) {
    PyObject* p = it.ptr();
    if (p == Py_None) {
      pk.steps.push_back({Step::UNSQUEEZE, d});
      shape.insert(shape.begin() + d, 1);
      ++d;
    } else if (p == Py_Ellipsis) {
      d += x.ndim() - consumed;  // the full slices the ellipsis stands for
    } else if (PyBool_Check(p)) {  // a 0-dim mask: a new dim of size 1 indexed by [0] (True) or [] (False)
      pk.steps.push_back({Step::UNSQUEEZE, d});
      shape.insert(shape.begin() + d, 1);
      set_adv(d, ops::full(Shape{p == Py_True ? 1 : 0}, 0.0, DType::Int64));
      ++d;
    } else if (PySlice_Check(p)) {
      Py_ssize_t start, stop, step;
      if (PySlice_Unpack(p, &start, &stop, &step) < 0) throw py::error_already_set();
      GC_CHECK(step > 0, ValueError, "step must be greater than zero");
      const int64_t n = shape[d];
      PySlice_AdjustIndices(static_cast<Py_ssize_t>(n), &start, &stop, step);
      pk.steps.push_back({Step::SLICE, d, start, std::max<int64_t>(stop, start), step});
      shape[d] = stop > start ? (stop - start + step - 1) / step : 0;
      ++d;
    } else if ((PyLong_Check(p) || (PyIndex_Check(p) && !py::isinstance<Tensor>(it) && !py::isinstance<py::array>(it)) ||
                is_zero_dim_int(it)) &&
               !PyFloat_Check(p)) {
      const int64_t i = is_zero_dim_int(it) ? it.attr("item")().cast<int64_t>() : it.cast<int64_t>();
      const int64_t n = shape[d];
      GC_CHECK(i >= -n && i < n, IndexError, "index ", i, " is out of bounds for dimension ", d, " with size ", n);
      pk.steps.push_back({Step::SELECT, d, i});
      shape.erase(shape.begin() + d);
    } else if (py::isinstance<Tensor>(it) || is_index_sequence(it)) {
      TensorPtr t = index_tensor_of(it);
      if (t->dtype == DType::Bool || t->dtype == DType::UInt8) {
        const int64_t k = std::max<int64_t>(t->ndim(), 1);
        if (t->ndim() == 0) {  // a 0-dim mask: a new dim of size 1 (true) or 0 (false)
          pk.steps.push_back({Step::UNSQUEEZE, d});
          shape.insert(shape.begin() + d, 1);
          TensorPtr idx = ops::nonzero_indices(t)[0];
          set_adv(d, idx);
          ++d;
          continue;
        }
        for (int64_t j = 0; j < k; ++j) {
          GC_CHECK(d + j < static_cast<int64_t>(shape.size()) && t->shape[j] == shape[d + j], IndexError,
                   "The shape of the mask ", shape_str(t->shape), " at index ", j,
                   " does not match the shape of the indexed tensor ", shape_str(shape), " at index ", d + j);
        }
        std::vector<TensorPtr> cols = ops::nonzero_indices(t);
        for (int64_t j = 0; j < k; ++j) set_adv(d + j, cols[j]);
        d += k;
      } else {
        set_adv(d, t);
        ++d;
      }
    } else if (py::isinstance<py::str>(it)) {
      throw TypeError("new(): invalid data type 'str'");  // PyTorch reads a str key as a sequence
    } else {
      throw IndexError(std::string("only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables "
                                   "are valid indices (got ") + type_display_name(it) +
                       ")");
    }
  }
  return pk;
}

TensorPtr getitem(const TensorPtr& t, py::handle key) {
  // Fast path: t[i].
  if (PyLong_Check(key.ptr()) && !PyBool_Check(key.ptr())) {
    GC_CHECK(t->ndim() > 0, IndexError, "invalid index of a 0-dim tensor. Use `tensor.item()` in Python or "
                                        "`tensor.item<T>()` in C++ to convert a 0-dim tensor to a number");
    const int64_t i = key.cast<int64_t>();
    py::gil_scoped_release nogil;
    return ops::select(t, 0, i);
  }
  // x[mask] with a bool mask of x's own shape: its true elements in row-major order, one pass
  // (ops::masked_select; recorded as PyTorch records the index, IndexBackward0).
  if (py::isinstance<Tensor>(key)) {
    TensorPtr k = key.cast<TensorPtr>();
    if (k->dtype == DType::Bool && k->ndim() > 0 && k->shape == t->shape) {
      py::gil_scoped_release nogil;
      return ops::masked_select(t, k, true);
    }
  }
  ParsedKey pk = parse_key(*t, key);
  py::gil_scoped_release nogil;
  TensorPtr cur = apply_steps(t, pk.steps);
  if (!pk.has_advanced) return cur;
  return ops::index(cur, pk.advanced);
}

void setitem(const TensorPtr& t, py::handle key, py::handle value) {
  ParsedKey pk = parse_key(*t, key);
  TensorPtr v;
  ops::Scalar s;
  if (py::isinstance<Tensor>(value)) v = value.cast<TensorPtr>();
  else if (parse_scalar(value, s)) {
    ops::check_value_fits(s, t->dtype);
    v = ops::scalar_tensor(s, t->dtype);
  }
  else v = tensor_from_data(value, t->dtype);
  // As PyTorch (slicePrefix1sDims), the value's leading size-1 dims are dropped before it is
  // broadcast: x[0] = row.unsqueeze(0) writes the row.
  while (v->ndim() > 0 && v->shape[0] == 1) v = ops::select(v, 0, 0);
  py::gil_scoped_release nogil;
  const bool record = ops::inplace_records(*t, {v.get()});
  if (!record) {
    TensorPtr cur = apply_steps(t, pk.steps);
    if (pk.has_advanced) {
      ops::index_put_(cur, pk.advanced, v, false);
    } else {
      ops::copy_(cur, v);
    }
    return;
  }
  std::vector<Step> steps = pk.steps;
  auto replay = [steps](const TensorPtr& x) { return apply_steps(x, steps); };
  ops::apply_inplace(t, "__setitem__", [&](const TensorPtr& self) {
    if (!pk.has_advanced) return ops::view_put(self, replay, v);
    TensorPtr sub = replay(self);
    return ops::view_put(self, replay, ops::index_put(sub, pk.advanced, v, false));
  }, {v.get()});
}

}  // namespace

void bind_index(py::module_& m, TensorClass& cls) {
  cls.def("__getitem__", &getitem, py::arg("key"),
          "PyTorch's indexing: ints, slices, None, ..., bool masks and integer index tensors / lists / arrays. "
          "Basic indices give a view; advanced ones a gather (differentiable; repeated indices sum in backward).");
  cls.def("__setitem__", &setitem, py::arg("key"), py::arg("value"),
          "Write value (broadcast, converted to this dtype) into the indexed region; recorded in grad mode.");
}

}  // namespace gradcore::bindings
