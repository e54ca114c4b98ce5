// sort.cpp — binds the selection, ordering and scan ops of autograd/ops/sort.cpp as Tensor
// methods and module functions with PyTorch's signatures: max/min in their three forms,
// argmax/argmin, sort/argsort, topk, kthvalue, median, mode, cummax/cummin, cumsum/cumprod,
// unique, bincount, histc. (values, indices) results are gradcore.return_types named tuples.
#include "autograd/ops.h"
#include "bindings/common.h"

namespace gradcore::bindings {
namespace {

using GilRelease = py::call_guard<py::gil_scoped_release>;

// gradcore.return_types.<name>((values, indices)), the classes made once by that module.
py::object named(const char* name, const ops::ValuesIndices& r) {
  static py::handle module;  // a reference kept for the process (the module lives as long)
  if (!module) module = py::module_::import("gradcore.return_types").release();
  return module.attr(name)(py::make_tuple(r.values, r.indices));
}

std::string type_name(py::handle o) { return type_display_name(o); }  // torch.Tensor, not "Tensor"

// An int argument given as a py::object (ints and __index__ objects; not bool, float, Tensor).
bool as_dim(py::handle o, int64_t* out) {
  if (py::isinstance<py::bool_>(o) || PyFloat_Check(o.ptr()) || py::isinstance<Tensor>(o)) return false;
  if (!PyLong_Check(o.ptr()) && !PyIndex_Check(o.ptr())) return false;
  *out = o.cast<int64_t>();
  return true;
}

// max / min: (input) -> 0-dim tensor; (input, dim, keepdim=False) -> (values, indices);
// (input, other) -> elementwise maximum / minimum.
py::object extreme(bool is_max, const TensorPtr& x, py::handle dim, py::handle keepdim, py::handle other) {
  const char* op = is_max ? "max" : "min";
  if (py::isinstance<Tensor>(dim) && other.is_none()) {
    other = dim;
    dim = py::none();
  }
  if (!other.is_none()) {
    GC_CHECK(py::isinstance<Tensor>(other), TypeError, op, "(): argument 'other' must be Tensor, not ",
             type_name(other));
    GC_CHECK(dim.is_none() && keepdim.is_none(), TypeError, op,
             "(): received an invalid combination of arguments: other with dim or keepdim");
    TensorPtr b = other.cast<TensorPtr>(), r;
    {
      py::gil_scoped_release nogil;
      r = is_max ? ops::maximum(x, b) : ops::minimum(x, b);
    }
    return py::cast(r);
  }
  if (dim.is_none()) {
    GC_CHECK(keepdim.is_none(), TypeError, op, "(): keepdim needs dim (for all dims kept as size 1 use amax/amin)");
    TensorPtr r;
    {
      py::gil_scoped_release nogil;
      r = is_max ? ops::max(x, {}, false) : ops::min(x, {}, false);
    }
    return py::cast(r);
  }
  int64_t d = 0;
  GC_CHECK(as_dim(dim, &d), TypeError, op, "(): argument 'dim' must be int, not ", type_name(dim),
           py::isinstance<py::tuple>(dim) || py::isinstance<py::list>(dim) ? " (several dims: use amax/amin)" : "");
  const bool kd = !keepdim.is_none() && keepdim.cast<bool>();
  ops::ValuesIndices r;
  {
    py::gil_scoped_release nogil;
    r = is_max ? ops::max_dim(x, d, kd) : ops::min_dim(x, d, kd);
  }
  return named(op, r);
}

py::object arg_extreme(bool is_max, const TensorPtr& x, py::handle dim, bool keepdim) {
  int64_t d = 0;
  const bool has_dim = !dim.is_none();
  GC_CHECK(!has_dim || as_dim(dim, &d), TypeError, is_max ? "argmax" : "argmin",
           "(): argument 'dim' must be int, not ", type_name(dim));
  TensorPtr r;
  {
    py::gil_scoped_release nogil;
    r = is_max ? ops::argmax(x, has_dim ? &d : nullptr, keepdim) : ops::argmin(x, has_dim ? &d : nullptr, keepdim);
  }
  return py::cast(r);
}

py::object median(const TensorPtr& x, py::handle dim, bool keepdim) {
  if (dim.is_none()) {
    GC_CHECK(!keepdim, TypeError, "median(): keepdim needs dim");
    TensorPtr r;
    {
      py::gil_scoped_release nogil;
      r = ops::median(x);
    }
    return py::cast(r);
  }
  int64_t d = 0;
  GC_CHECK(as_dim(dim, &d), TypeError, "median(): argument 'dim' must be int, not ", type_name(dim));
  ops::ValuesIndices r;
  {
    py::gil_scoped_release nogil;
    r = ops::median(x, d, keepdim);
  }
  return named("median", r);
}

py::object unique(const TensorPtr& x, bool sorted, bool return_inverse, bool return_counts, py::handle dim) {
  if (!dim.is_none()) {
    PyErr_SetString(PyExc_NotImplementedError, "unique(dim=...) is not supported by gradcore yet (only dim=None)");
    throw py::error_already_set();
  }
  ops::UniqueResult r;
  {
    py::gil_scoped_release nogil;
    r = ops::unique(x, return_inverse, return_counts);  // always sorted (PyTorch's CPU unique sorts too)
  }
  if (!return_inverse && !return_counts) return py::cast(r.values);
  py::list out;
  out.append(r.values);
  if (return_inverse) out.append(r.inverse);
  if (return_counts) out.append(r.counts);
  return py::tuple(out);
}

DType* opt_dtype(py::handle dtype, DType& store) {
  if (dtype.is_none()) return nullptr;
  store = parse_dtype(dtype, DType::Float32);
  return &store;
}

}  // namespace

void bind_sort(py::module_& m, TensorClass& cls) {
  // ---- max / min: three forms ----
  for (bool is_max : {true, false}) {
    const char* name = is_max ? "max" : "min";
    auto f = [is_max](const TensorPtr& x, py::handle dim, py::handle keepdim, py::handle other) {
      return extreme(is_max, x, dim, keepdim, other);
    };
    const char* doc = is_max
        ? "max(input): the largest element (a 0-dim tensor; NaN if any is NaN; ties share the gradient). "
          "max(input, dim, keepdim=False): (values, indices) along dim, the first maximum's index (a NaN and its "
          "index when the slice has one); the gradient goes to that index. max(input, other): elementwise maximum."
        : "min(input): the smallest element (a 0-dim tensor; NaN if any is NaN; ties share the gradient). "
          "min(input, dim, keepdim=False): (values, indices) along dim, the first minimum's index (a NaN and its "
          "index when the slice has one); the gradient goes to that index. min(input, other): elementwise minimum.";
    m.def(name, f, py::arg("input"), py::arg("dim") = py::none(), py::arg("keepdim") = py::none(), py::kw_only(),
          py::arg("other") = py::none(), doc);
    cls.def(name, f, py::arg("dim") = py::none(), py::arg("keepdim") = py::none(), py::kw_only(),
            py::arg("other") = py::none(), doc);
    auto a = [is_max](const TensorPtr& x, py::handle dim, bool keepdim) { return arg_extreme(is_max, x, dim, keepdim); };
    const char* adoc = is_max ? "The index of the first maximum along dim, or in the flattened input (dim=None); "
                                "NaN counts as the maximum. int64."
                              : "The index of the first minimum along dim, or in the flattened input (dim=None); "
                                "NaN counts as the minimum. int64.";
    m.def(is_max ? "argmax" : "argmin", a, py::arg("input"), py::arg("dim") = py::none(), py::arg("keepdim") = false, adoc);
    cls.def(is_max ? "argmax" : "argmin", a, py::arg("dim") = py::none(), py::arg("keepdim") = false, adoc);
  }

  // ---- ordering ----
  auto sort_fn = [](const TensorPtr& x, int64_t dim, bool descending, py::handle stable) {
    const bool st = !stable.is_none() && stable.cast<bool>();
    ops::ValuesIndices r;
    {
      py::gil_scoped_release nogil;
      r = ops::sort(x, dim, descending, st);
    }
    return named("sort", r);
  };
  const char* sort_doc =
      "(values, indices) sorted along dim; NaN last (first when descending). Always stable: equal elements keep "
      "their order. The gradient goes back through the indices.";
  m.def("sort", sort_fn, py::arg("input"), py::arg("dim") = -1, py::arg("descending") = false, py::kw_only(),
        py::arg("stable") = py::none(), sort_doc);
  cls.def("sort", sort_fn, py::arg("dim") = -1, py::arg("descending") = false, py::kw_only(),
          py::arg("stable") = py::none(), sort_doc);
  auto argsort_fn = [](const TensorPtr& x, int64_t dim, bool descending, bool stable) {
    return ops::argsort(x, dim, descending, stable);
  };
  const char* argsort_doc = "The indices that sort input along dim (stable; NaN last, first when descending).";
  m.def("argsort", argsort_fn, py::arg("input"), py::arg("dim") = -1, py::arg("descending") = false, py::kw_only(),
        py::arg("stable") = false, GilRelease(), argsort_doc);
  cls.def("argsort", argsort_fn, py::arg("dim") = -1, py::arg("descending") = false, py::kw_only(),
          py::arg("stable") = false, GilRelease(), argsort_doc);
  auto topk_fn = [](const TensorPtr& x, int64_t k, int64_t dim, bool largest, bool sorted) {
    ops::ValuesIndices r;
    {
      py::gil_scoped_release nogil;
      r = ops::topk(x, k, dim, largest, sorted);
    }
    return named("topk", r);
  };
  const char* topk_doc =
      "(values, indices) of the k largest (or smallest) elements along dim, in order (also for sorted=False); NaN "
      "counts as the largest; equal elements by position.";
  m.def("topk", topk_fn, py::arg("input"), py::arg("k"), py::arg("dim") = -1, py::arg("largest") = true,
        py::arg("sorted") = true, topk_doc);
  cls.def("topk", topk_fn, py::arg("k"), py::arg("dim") = -1, py::arg("largest") = true, py::arg("sorted") = true,
          topk_doc);
  auto kth_fn = [](const TensorPtr& x, int64_t k, int64_t dim, bool keepdim) {
    ops::ValuesIndices r;
    {
      py::gil_scoped_release nogil;
      r = ops::kthvalue(x, k, dim, keepdim);
    }
    return named("kthvalue", r);
  };
  const char* kth_doc = "(values, indices) of the k-th smallest element along dim (k from 1; NaN counts as the largest).";
  m.def("kthvalue", kth_fn, py::arg("input"), py::arg("k"), py::arg("dim") = -1, py::arg("keepdim") = false, kth_doc);
  cls.def("kthvalue", kth_fn, py::arg("k"), py::arg("dim") = -1, py::arg("keepdim") = false, kth_doc);
  const char* median_doc =
      "median(input): the lower of the two middle elements of all (a 0-dim tensor; NaN if any is NaN; equal elements "
      "share the gradient). median(input, dim, keepdim=False): (values, indices) along dim (NaN and the first NaN's "
      "index when the slice has one).";
  m.def("median", &median, py::arg("input"), py::arg("dim") = py::none(), py::arg("keepdim") = false, median_doc);
  cls.def("median", &median, py::arg("dim") = py::none(), py::arg("keepdim") = false, median_doc);
  auto mode_fn = [](const TensorPtr& x, int64_t dim, bool keepdim) {
    ops::ValuesIndices r;
    {
      py::gil_scoped_release nogil;
      r = ops::mode(x, dim, keepdim);
    }
    return named("mode", r);
  };
  const char* mode_doc =
      "(values, indices): the most frequent value along dim (the smallest of equally frequent ones) and the last "
      "index where it occurs.";
  m.def("mode", mode_fn, py::arg("input"), py::arg("dim") = -1, py::arg("keepdim") = false, mode_doc);
  cls.def("mode", mode_fn, py::arg("dim") = -1, py::arg("keepdim") = false, mode_doc);

  // ---- scans ----
  for (bool is_max : {true, false}) {
    const char* name = is_max ? "cummax" : "cummin";
    auto f = [is_max, name](const TensorPtr& x, int64_t dim) {
      ops::ValuesIndices r;
      {
        py::gil_scoped_release nogil;
        r = is_max ? ops::cummax(x, dim) : ops::cummin(x, dim);
      }
      return named(name, r);
    };
    const char* doc = is_max ? "(values, indices) of the running maximum along dim (the latest index of equal "
                               "values; NaN once seen)."
                             : "(values, indices) of the running minimum along dim (the latest index of equal "
                               "values; NaN once seen).";
    m.def(name, f, py::arg("input"), py::arg("dim"), doc);
    cls.def(name, f, py::arg("dim"), doc);
  }
  for (bool is_prod : {false, true}) {
    const char* name = is_prod ? "cumprod" : "cumsum";
    auto f = [is_prod](const TensorPtr& x, int64_t dim, py::handle dtype) {
      DType store;
      DType* dt = opt_dtype(dtype, store);
      py::gil_scoped_release nogil;
      return is_prod ? ops::cumprod(x, dim, dt) : ops::cumsum(x, dim, dt);
    };
    const char* doc = is_prod ? "Running products along dim (integers and bool in int64 unless dtype is given); "
                                "zeros get PyTorch's gradient."
                              : "Running sums along dim (integers and bool in int64 unless dtype is given; floating "
                                "values accumulate in double).";
    m.def(name, f, py::arg("input"), py::arg("dim"), py::kw_only(), py::arg("dtype") = py::none(), doc);
    cls.def(name, f, py::arg("dim"), py::kw_only(), py::arg("dtype") = py::none(), doc);
  }

  // ---- counting ----
  const char* unique_doc =
      "The sorted distinct elements (NaNs each distinct), and with return_inverse each element's index into them, "
      "with return_counts how often each occurs (a tuple then). Always sorted.";
  m.def("unique", &unique, py::arg("input"), py::arg("sorted") = true, py::arg("return_inverse") = false,
        py::arg("return_counts") = false, py::arg("dim") = py::none(), unique_doc);
  cls.def("unique", &unique, py::arg("sorted") = true, py::arg("return_inverse") = false,
          py::arg("return_counts") = false, py::arg("dim") = py::none(), unique_doc);
  auto bincount_fn = [](const TensorPtr& x, py::handle weights, int64_t minlength) {
    TensorPtr w = optional_tensor(weights, "bincount(): weights");
    py::gil_scoped_release nogil;
    return ops::bincount(x, w, minlength);
  };
  const char* bincount_doc =
      "How often each value 0..max occurs in a 1-D non-negative integer tensor (at least minlength bins); with "
      "weights their sums (float32 weights sum in float32, others in float64).";
  m.def("bincount", bincount_fn, py::arg("input"), py::arg("weights") = py::none(), py::arg("minlength") = 0,
        bincount_doc);
  cls.def("bincount", bincount_fn, py::arg("weights") = py::none(), py::arg("minlength") = 0, bincount_doc);
  auto histc_fn = [](const TensorPtr& x, int64_t bins, double lo, double hi) { return ops::histc(x, bins, lo, hi); };
  const char* histc_doc =
      "Counts of the elements in `bins` equal bins over [min, max] (the data's range when min == max); elements "
      "outside, and NaN, are not counted. Floating tensors only.";
  m.def("histc", histc_fn, py::arg("input"), py::arg("bins") = 100, py::arg("min") = 0.0, py::arg("max") = 0.0,
        GilRelease(), histc_doc);
  cls.def("histc", histc_fn, py::arg("bins") = 100, py::arg("min") = 0.0, py::arg("max") = 0.0, GilRelease(), histc_doc);
}

}  // namespace gradcore::bindings
