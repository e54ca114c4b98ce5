// index_ops.cpp — the index op family as gc.* functions and Tensor methods, with PyTorch's
// signatures: index_select, gather, take_along_dim, scatter (src / value, reduce=),
// scatter_add, scatter_reduce, index_add, index_fill, index_put, masked_fill,
// masked_select, masked_scatter, nonzero (as_tuple), argwhere, where(condition), and the
// in-place methods (scatter_ scatter_add_ scatter_reduce_ index_add_ index_fill_ index_put_
// masked_fill_ masked_scatter_). The ops live in autograd/ops/index.cpp; here only argument
// conversion (a number or a 0-dim tensor as the value, the reduce names, index tuples) and
// GIL release. Also gradcore.IndexOutOfBoundsError, the exception of out-of-range indices.
#include "autograd/ops.h"
#include "bindings/common.h"

namespace gradcore::bindings {
namespace {

PyObject* g_index_bounds = nullptr;  // gradcore.IndexOutOfBoundsError, created at import

using ops::Scalar;

ops::Scalar number_arg(py::handle v, const char* fn, const char* what) {
  Scalar s;
  if (parse_scalar(v, s)) return s;
  throw TypeError(std::string(fn) + "(): argument '" + what + "' must be a Number or a 0-dim Tensor, not " +
                  type_display_name(v));
}

ops::ScatterMode scatter_mode(py::handle reduce) {
  if (reduce.is_none()) return ops::ScatterMode::ASSIGN;
  GC_CHECK(py::isinstance<py::str>(reduce), TypeError, "scatter(): reduce must be a string ('add' or 'multiply')");
  std::string r = reduce.cast<std::string>();
  if (r == "add") return ops::ScatterMode::ADD;
  if (r == "multiply") return ops::ScatterMode::MULTIPLY;
  throw RuntimeError("reduce argument must be either add or multiply.");
}

void check_sparse_grad(bool sparse_grad) {
  GC_CHECK(!sparse_grad, RuntimeError, "gather(): sparse_grad=True is not supported: gradcore has no sparse tensors "
                                       "(the gradient is dense with sparse_grad=False)");
}

// index_put's indices: a tuple or list of index tensors (int64/int32, or bool/uint8 masks,
// which stand for the indices of their true elements, one tensor per mask dim).
std::vector<TensorPtr> index_list(py::handle indices, const char* fn) {
  GC_CHECK(py::isinstance<py::tuple>(indices) || py::isinstance<py::list>(indices), TypeError, fn,
           "(): argument 'indices' must be a tuple of Tensors, not ",
           type_display_name(indices));
  std::vector<TensorPtr> out;
  size_t k = 0;
  for (auto it : indices) {
    GC_CHECK(py::isinstance<Tensor>(it), TypeError, "expected Tensor as element ", k, " in argument 1, but got ",
             type_display_name(it));
    TensorPtr t = it.cast<TensorPtr>();
    if (t->dtype == DType::Bool || t->dtype == DType::UInt8) {
      for (TensorPtr& c : ops::nonzero_indices(t)) out.push_back(c);
    } else {
      GC_CHECK(t->dtype == DType::Int64 || t->dtype == DType::Int32, IndexError,
               "tensors used as indices must be long, int, byte or bool tensors");
      out.push_back(t);
    }
    ++k;
  }
  GC_CHECK(!out.empty(), RuntimeError, fn, "(): indices must hold at least one index tensor");
  return out;
}

void check_index_put_values(const Tensor& x, const Tensor& values) {
  GC_CHECK(values.dtype == x.dtype, DTypeError, "Index put requires the source and destination dtypes match, got ",
           dtype_torch_name(x.dtype), " for the destination and ", dtype_torch_name(values.dtype), " for the source.");
}

py::tuple as_tuple(const std::vector<TensorPtr>& ts) {
  py::tuple t(ts.size());
  for (size_t i = 0; i < ts.size(); ++i) t[i] = py::cast(ts[i]);
  return t;
}

py::object nonzero_fn(const TensorPtr& x, bool tuple) {
  if (tuple) {
    std::vector<TensorPtr> cols;
    {
      py::gil_scoped_release nogil;
      cols = ops::nonzero_indices(x);
    }
    return as_tuple(cols);
  }
  TensorPtr r;
  {
    py::gil_scoped_release nogil;
    r = ops::nonzero(x);
  }
  return py::cast(r);
}

// A value argument (index_fill, masked_fill): a 0-dim tensor, or a number.
template <class OnTensor, class OnNumber>
TensorPtr with_value(py::handle value, const char* fn, OnTensor on_tensor, OnNumber on_number) {
  if (py::isinstance<Tensor>(value)) {
    TensorPtr v = value.cast<TensorPtr>();
    py::gil_scoped_release nogil;
    return on_tensor(v);
  }
  Scalar s = number_arg(value, fn, "value");
  py::gil_scoped_release nogil;
  return on_number(s);
}

}  // namespace

void bind_index_ops(py::module_& m, TensorClass& cls) {
  {
    py::tuple bases = py::make_tuple(py::handle(PyExc_IndexError), py::handle(PyExc_RuntimeError));
    g_index_bounds = PyErr_NewExceptionWithDoc(
        "gradcore.IndexOutOfBoundsError",
        "An index outside [-size, size) (or [0, size) where negative indices are not allowed) given to an index op "
        "(gather, scatter, index_select, index_add, ...). An IndexError and, as PyTorch raises for several of "
        "these ops, a RuntimeError.",
        bases.ptr(), nullptr);
    if (!g_index_bounds) throw py::error_already_set();
    m.attr("IndexOutOfBoundsError") = py::handle(g_index_bounds);
    // Registered after the module's translator, so tried before it (pybind11 tries the newest first).
    py::register_exception_translator([](std::exception_ptr p) {
      try {
        if (p) std::rethrow_exception(p);
      } catch (const ops::IndexBoundsError& e) {
        PyErr_SetString(g_index_bounds, e.what());
      }
    });
  }
  using GilRelease = py::call_guard<py::gil_scoped_release>;

  // ---- index_select / gather / take_along_dim ----
  const char* index_select_doc =
      "The slices of input at index (1-D int64/int32) along dim; differentiable (backward: index_add).";
  m.def("index_select", &ops::index_select, py::arg("input"), py::arg("dim"), py::arg("index"), GilRelease(),
        index_select_doc);
  cls.def("index_select", &ops::index_select, py::arg("dim"), py::arg("index"), GilRelease(), index_select_doc);
  auto gather_fn = [](const TensorPtr& x, int64_t dim, const TensorPtr& index, bool sparse_grad) {
    check_sparse_grad(sparse_grad);
    py::gil_scoped_release nogil;
    return ops::gather(x, dim, index);
  };
  const char* gather_doc =
      "out[i][j] = input[index[i][j]][j] (dim 0; likewise for any dim); index int64/int32 with input's number of "
      "dims, no larger than input outside dim. Differentiable (backward: scatter_add).";
  m.def("gather", gather_fn, py::arg("input"), py::arg("dim"), py::arg("index"), py::kw_only(),
        py::arg("sparse_grad") = false, gather_doc);
  cls.def("gather", gather_fn, py::arg("dim"), py::arg("index"), py::kw_only(), py::arg("sparse_grad") = false,
          gather_doc);
  auto take_fn = [](const TensorPtr& x, const TensorPtr& indices, std::optional<int64_t> dim) {
    py::gil_scoped_release nogil;
    return ops::take_along_dim(x, indices, dim ? &*dim : nullptr);
  };
  const char* take_doc =
      "input gathered at indices along dim (both broadcast except along dim; negative indices count from the end), "
      "or from the flattened input when dim is None. indices must be int64.";
  m.def("take_along_dim", take_fn, py::arg("input"), py::arg("indices"), py::arg("dim") = py::none(), take_doc);
  cls.def("take_along_dim", take_fn, py::arg("indices"), py::arg("dim") = py::none(), take_doc);

  // ---- scatter / scatter_add / scatter_reduce ----
  const char* scatter_doc =
      "input with src (or the number value) written at index along dim: self[index[i][j]][j] = src[i][j] (dim 0). "
      "Repeated indices: the last write wins. reduce='add'/'multiply' combines instead (not differentiable, as in "
      "PyTorch).";
  // scatter / scatter_ with a src tensor or a number value: one body each, in place or not.
  auto scatter_src_fn = [](bool inplace) {
    return [inplace](const TensorPtr& x, int64_t dim, const TensorPtr& index, const TensorPtr& src, py::handle reduce) {
      ops::ScatterMode mode = scatter_mode(reduce);
      py::gil_scoped_release nogil;
      return inplace ? ops::scatter_(x, dim, index, src, mode) : ops::scatter(x, dim, index, src, mode);
    };
  };
  auto scatter_value_fn = [](bool inplace) {
    return [inplace](const TensorPtr& x, int64_t dim, const TensorPtr& index, py::handle value, py::handle reduce) {
      ops::ScatterMode mode = scatter_mode(reduce);
      Scalar s = number_arg(value, inplace ? "scatter_" : "scatter", "value");
      py::gil_scoped_release nogil;
      return inplace ? ops::scatter_(x, dim, index, s, mode) : ops::scatter(x, dim, index, s, mode);
    };
  };
  auto scatter_src = scatter_src_fn(false), scatter_src_ = scatter_src_fn(true);
  auto scatter_value = scatter_value_fn(false), scatter_value_ = scatter_value_fn(true);
  m.def("scatter", scatter_src, py::arg("input"), py::arg("dim"), py::arg("index"), py::arg("src"), py::kw_only(),
        py::arg("reduce") = py::none(), scatter_doc);
  m.def("scatter", scatter_value, py::arg("input"), py::arg("dim"), py::arg("index"), py::arg("value"),
        py::kw_only(), py::arg("reduce") = py::none(), scatter_doc);
  cls.def("scatter", scatter_src, py::arg("dim"), py::arg("index"), py::arg("src"), py::kw_only(),
          py::arg("reduce") = py::none(), scatter_doc);
  cls.def("scatter", scatter_value, py::arg("dim"), py::arg("index"), py::arg("value"), py::kw_only(),
          py::arg("reduce") = py::none(), scatter_doc);
  cls.def("scatter_", scatter_src_, py::arg("dim"), py::arg("index"), py::arg("src"), py::kw_only(),
          py::arg("reduce") = py::none(), "scatter in place.");
  cls.def("scatter_", scatter_value_, py::arg("dim"), py::arg("index"), py::arg("value"), py::kw_only(),
          py::arg("reduce") = py::none(), "scatter in place.");
  const char* scatter_add_doc =
      "input with src added at index along dim: self[index[i][j]][j] += src[i][j] (dim 0). Repeated indices sum, "
      "in index order (deterministic for any thread count).";
  m.def("scatter_add", &ops::scatter_add, py::arg("input"), py::arg("dim"), py::arg("index"), py::arg("src"),
        GilRelease(), scatter_add_doc);
  cls.def("scatter_add", &ops::scatter_add, py::arg("dim"), py::arg("index"), py::arg("src"), GilRelease(),
          scatter_add_doc);
  cls.def("scatter_add_", &ops::scatter_add_, py::arg("dim"), py::arg("index"), py::arg("src"), GilRelease(),
          "scatter_add in place.");
  auto scatter_reduce_fn = [](const TensorPtr& x, int64_t dim, const TensorPtr& index, const TensorPtr& src,
                              const std::string& reduce, bool include_self) {
    ops::ScatterReduce r = ops::parse_scatter_reduce(reduce);
    py::gil_scoped_release nogil;
    return ops::scatter_reduce(x, dim, index, src, r, include_self);
  };
  auto scatter_reduce_fn_ = [](const TensorPtr& x, int64_t dim, const TensorPtr& index, const TensorPtr& src,
                               const std::string& reduce, bool include_self) {
    ops::ScatterReduce r = ops::parse_scatter_reduce(reduce);
    py::gil_scoped_release nogil;
    return ops::scatter_reduce_(x, dim, index, src, r, include_self);
  };
  const char* scatter_reduce_doc =
      "input with src reduced into it at index along dim; reduce is 'sum', 'prod', 'mean', 'amax' or 'amin'; "
      "include_self=False leaves self's values out of the positions reached. Differentiable (amax/amin: the "
      "gradient is shared evenly among the elements equal to the result).";
  m.def("scatter_reduce", scatter_reduce_fn, py::arg("input"), py::arg("dim"), py::arg("index"), py::arg("src"),
        py::arg("reduce"), py::kw_only(), py::arg("include_self") = true, scatter_reduce_doc);
  cls.def("scatter_reduce", scatter_reduce_fn, py::arg("dim"), py::arg("index"), py::arg("src"), py::arg("reduce"),
          py::kw_only(), py::arg("include_self") = true, scatter_reduce_doc);
  cls.def("scatter_reduce_", scatter_reduce_fn_, py::arg("dim"), py::arg("index"), py::arg("src"), py::arg("reduce"),
          py::kw_only(), py::arg("include_self") = true, "scatter_reduce in place.");

  // ---- index_add / index_fill / index_put ----
  auto index_add_fn = [](const TensorPtr& x, int64_t dim, const TensorPtr& index, const TensorPtr& source,
                         py::handle alpha) {
    Scalar a = number_arg(alpha, "index_add", "alpha");
    py::gil_scoped_release nogil;
    return ops::index_add(x, dim, index, source, a);
  };
  auto index_add_fn_ = [](const TensorPtr& x, int64_t dim, const TensorPtr& index, const TensorPtr& source,
                          py::handle alpha) {
    Scalar a = number_arg(alpha, "index_add_", "alpha");
    py::gil_scoped_release nogil;
    return ops::index_add_(x, dim, index, source, a);
  };
  const char* index_add_doc =
      "input + alpha * source added into the slices at index (1-D) along dim; repeated indices sum, in index order.";
  m.def("index_add", index_add_fn, py::arg("input"), py::arg("dim"), py::arg("index"), py::arg("source"),
        py::kw_only(), py::arg("alpha") = 1, index_add_doc);
  cls.def("index_add", index_add_fn, py::arg("dim"), py::arg("index"), py::arg("source"), py::kw_only(),
          py::arg("alpha") = 1, index_add_doc);
  cls.def("index_add_", index_add_fn_, py::arg("dim"), py::arg("index"), py::arg("source"), py::kw_only(),
          py::arg("alpha") = 1, "index_add in place.");
  auto index_fill_fn = [](const TensorPtr& x, int64_t dim, const TensorPtr& index, py::handle value) {
    return with_value(value, "index_fill", [&](const TensorPtr& v) { return ops::index_fill(x, dim, index, v); },
                      [&](const Scalar& s) { return ops::index_fill(x, dim, index, s); });
  };
  auto index_fill_fn_ = [](const TensorPtr& x, int64_t dim, const TensorPtr& index, py::handle value) {
    return with_value(value, "index_fill_", [&](const TensorPtr& v) { return ops::index_fill_(x, dim, index, v); },
                      [&](const Scalar& s) { return ops::index_fill_(x, dim, index, s); });
  };
  const char* index_fill_doc =
      "input with the slices at index (1-D int64; negative indices count from the end) along dim set to value (a "
      "number or a 0-dim tensor, differentiable).";
  m.def("index_fill", index_fill_fn, py::arg("input"), py::arg("dim"), py::arg("index"), py::arg("value"),
        index_fill_doc);
  cls.def("index_fill", index_fill_fn, py::arg("dim"), py::arg("index"), py::arg("value"), index_fill_doc);
  cls.def("index_fill_", index_fill_fn_, py::arg("dim"), py::arg("index"), py::arg("value"), "index_fill in place.");
  auto index_put_fn = [](const TensorPtr& x, py::handle indices, const TensorPtr& values, bool accumulate) {
    std::vector<TensorPtr> idx = index_list(indices, "index_put");
    check_index_put_values(*x, *values);
    py::gil_scoped_release nogil;
    return ops::index_put(x, idx, values, accumulate);
  };
  auto index_put_fn_ = [](const TensorPtr& x, py::handle indices, const TensorPtr& values, bool accumulate) {
    std::vector<TensorPtr> idx = index_list(indices, "index_put_");
    check_index_put_values(*x, *values);
    py::gil_scoped_release nogil;
    return ops::index_put_(x, idx, values, accumulate);
  };
  const char* index_put_doc =
      "input with input[indices] = values (broadcast); accumulate=True adds instead (repeated indices sum). indices "
      "is a tuple of int64/int32 tensors or bool masks; values has input's dtype.";
  m.def("index_put", index_put_fn, py::arg("input"), py::arg("indices"), py::arg("values"),
        py::arg("accumulate") = false, index_put_doc);
  m.def("index_put_", index_put_fn_, py::arg("input"), py::arg("indices"), py::arg("values"),
        py::arg("accumulate") = false, "index_put in place.");
  cls.def("index_put", index_put_fn, py::arg("indices"), py::arg("values"), py::arg("accumulate") = false,
          index_put_doc);
  cls.def("index_put_", index_put_fn_, py::arg("indices"), py::arg("values"), py::arg("accumulate") = false,
          "index_put in place.");

  // ---- masked ops ----
  auto masked_fill_fn = [](const TensorPtr& x, const TensorPtr& mask, py::handle value) {
    return with_value(value, "masked_fill", [&](const TensorPtr& v) { return ops::masked_fill(x, mask, v); },
                      [&](const Scalar& s) { return ops::masked_fill(x, mask, s); });
  };
  auto masked_fill_fn_ = [](const TensorPtr& x, const TensorPtr& mask, py::handle value) {
    return with_value(value, "masked_fill_", [&](const TensorPtr& v) { return ops::masked_fill_(x, mask, v); },
                      [&](const Scalar& s) { return ops::masked_fill_(x, mask, s); });
  };
  const char* masked_fill_doc =
      "input with value (a number or a 0-dim tensor, differentiable) where the bool mask is true; input and mask "
      "broadcast together.";
  m.def("masked_fill", masked_fill_fn, py::arg("input"), py::arg("mask"), py::arg("value"), masked_fill_doc);
  cls.def("masked_fill", masked_fill_fn, py::arg("mask"), py::arg("value"), masked_fill_doc);
  cls.def("masked_fill_", masked_fill_fn_, py::arg("mask"), py::arg("value"),
          "masked_fill in place (the mask broadcasts to this tensor's shape).");
  const char* masked_select_doc =
      "The elements of input where the bool mask is true (both broadcast), as a 1-D tensor in row-major order.";
  auto masked_select_fn = [](const TensorPtr& x, const TensorPtr& mask) { return ops::masked_select(x, mask); };
  m.def("masked_select", masked_select_fn, py::arg("input"), py::arg("mask"), GilRelease(), masked_select_doc);
  cls.def("masked_select", masked_select_fn, py::arg("mask"), GilRelease(), masked_select_doc);
  const char* masked_scatter_doc =
      "input with the elements where the bool mask is true replaced, in row-major order, by source's first "
      "elements (source needs at least as many elements as the mask has true ones).";
  m.def("masked_scatter", &ops::masked_scatter, py::arg("input"), py::arg("mask"), py::arg("source"), GilRelease(),
        masked_scatter_doc);
  cls.def("masked_scatter", &ops::masked_scatter, py::arg("mask"), py::arg("source"), GilRelease(),
          masked_scatter_doc);
  cls.def("masked_scatter_", &ops::masked_scatter_, py::arg("mask"), py::arg("source"), GilRelease(),
          "masked_scatter in place (the mask broadcasts to this tensor's shape).");

  // ---- nonzero / argwhere / where(condition) ----
  const char* nonzero_doc =
      "The indices of the nonzero elements: an (n, ndim) int64 tensor, or with as_tuple=True one 1-D tensor per "
      "dim (a 0-dim input counts as 1-D).";
  m.def("nonzero", &nonzero_fn, py::arg("input"), py::kw_only(), py::arg("as_tuple") = false, nonzero_doc);
  cls.def("nonzero", &nonzero_fn, py::kw_only(), py::arg("as_tuple") = false, nonzero_doc);
  auto argwhere = [](const TensorPtr& x) { return ops::nonzero(x); };
  m.def("argwhere", argwhere, py::arg("input"), GilRelease(), "nonzero(input): an (n, ndim) int64 tensor.");
  cls.def("argwhere", argwhere, GilRelease(), "nonzero(): an (n, ndim) int64 tensor.");
  // gc.where(condition) = nonzero(condition, as_tuple=True); an overload of where(condition, input, other).
  m.def("where", [](const TensorPtr& cond) { return nonzero_fn(cond, true); }, py::arg("condition"),
        "where(condition): nonzero(condition, as_tuple=True).");
}

}  // namespace gradcore::bindings
