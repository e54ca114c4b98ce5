// stats.cpp — bindings of the statistics reductions (issue 12, reduce12): var / std and
// their *_mean forms, logsumexp, logcumsumexp, and the vector norm under gradcore.linalg.
// Argument forms follow PyTorch's overloads; the numerics are in autograd/ops/stats.cpp.
#include "autograd/ops.h"
#include "bindings/common.h"

namespace gradcore::bindings {
namespace {

using GilRelease = py::call_guard<py::gil_scoped_release>;

// var / std arguments: dim (None, int, sequence; a bool in dim's place is the positional
// `unbiased` of var(input, unbiased)), unbiased (bool or None), correction (number or None).
struct VarArgs {
  std::vector<int64_t> dims;
  double correction = 1;
};

VarArgs parse_var_args(const char* op, py::handle dim, py::handle unbiased, py::handle correction) {
  VarArgs a;
  py::handle unb = unbiased;
  if (py::isinstance<py::bool_>(dim)) {
    GC_CHECK(unbiased.is_none(), TypeError, op, "() received an invalid combination of arguments: unbiased given twice");
    unb = dim;
  } else {
    a.dims = parse_dims(dim);
  }
  if (!unb.is_none()) {
    GC_CHECK(py::isinstance<py::bool_>(unb), TypeError, op, "(): argument 'unbiased' must be bool, not ",
             type_display_name(unb));
    GC_CHECK(correction.is_none(), TypeError, op,
             "() received an invalid combination of arguments: give either unbiased or correction, not both");
    a.correction = unb.cast<bool>() ? 1.0 : 0.0;
  } else if (!correction.is_none()) {
    GC_CHECK(!py::isinstance<py::bool_>(correction) &&
                 (py::isinstance<py::int_>(correction) || py::isinstance<py::float_>(correction)),
             TypeError, op, "(): argument 'correction' must be Number, not ",
             type_display_name(correction));
    a.correction = correction.cast<double>();
  }
  return a;
}

// PyTorch's UserWarning when nothing is left to divide by.
void warn_dof(const char* op, const Tensor& x, const Tensor& out, double correction) {
  const double n = static_cast<double>(x.numel) / static_cast<double>(std::max<int64_t>(1, out.numel));
  if (n - correction > 0) return;
  std::string msg = std::string(op) +
                    "(): degrees of freedom is <= 0. Correction should be strictly less than the reduction factor "
                    "(input numel divided by output numel).";
  if (PyErr_WarnEx(PyExc_UserWarning, msg.c_str(), 1) < 0) throw py::error_already_set();
}

}  // namespace

void bind_stats(py::module_& m, TensorClass& cls) {
  for (bool is_std : {false, true}) {
    const char* name = is_std ? "std" : "var";
    auto f = [is_std, name](const TensorPtr& x, py::handle dim, py::handle unbiased, bool keepdim, py::handle correction) {
      VarArgs a = parse_var_args(name, dim, unbiased, correction);
      TensorPtr y;
      {
        py::gil_scoped_release nogil;
        y = is_std ? ops::std_dev(x, a.dims, a.correction, keepdim) : ops::var(x, a.dims, a.correction, keepdim);
      }
      warn_dof(name, *x, *y, a.correction);
      return y;
    };
    const char* doc = is_std ? "Standard deviation over dim (None: all), dividing by N - correction (unbiased=True: 1)."
                             : "Variance over dim (None: all), dividing by N - correction (unbiased=True: 1); two-pass, "
                               "stable for a large mean with a small spread.";
    m.def(name, f, py::arg("input"), py::arg("dim") = py::none(), py::arg("unbiased") = py::none(),
          py::arg("keepdim") = false, py::kw_only(), py::arg("correction") = py::none(), doc);
    cls.def(name, f, py::arg("dim") = py::none(), py::arg("unbiased") = py::none(), py::arg("keepdim") = false,
            py::kw_only(), py::arg("correction") = py::none(), doc);
    const char* mname = is_std ? "std_mean" : "var_mean";
    m.def(mname, [is_std, mname](const TensorPtr& x, py::handle dim, py::handle unbiased, bool keepdim,
                                 py::handle correction) {
      VarArgs a = parse_var_args(mname, dim, unbiased, correction);
      std::pair<TensorPtr, TensorPtr> r;
      {
        py::gil_scoped_release nogil;
        r = ops::var_mean(x, a.dims, a.correction, keepdim, is_std);
      }
      warn_dof(mname, *x, *r.first, a.correction);
      return py::make_tuple(r.first, r.second);
    }, py::arg("input"), py::arg("dim") = py::none(), py::arg("unbiased") = py::none(), py::arg("keepdim") = false,
          py::kw_only(), py::arg("correction") = py::none(),
          is_std ? "(std, mean) over dim, as std and mean." : "(var, mean) over dim, as var and mean.");
  }
  auto lse = [](const TensorPtr& x, py::handle dim, bool keepdim) {
    std::vector<int64_t> dims = parse_dims(dim);
    py::gil_scoped_release nogil;
    return ops::logsumexp(x, dims, keepdim);
  };
  const char* lse_doc = "log(sum(exp(x))) over dim (int or tuple), the maximum subtracted: stable for any magnitude.";
  m.def("logsumexp", lse, py::arg("input"), py::arg("dim"), py::arg("keepdim") = false, lse_doc);
  cls.def("logsumexp", lse, py::arg("dim"), py::arg("keepdim") = false, lse_doc);
  auto lcse = [](const TensorPtr& x, int64_t dim) {
    if (!is_floating(x->dtype)) {
      std::string msg = std::string("\"logcumsumexp_out_cpu\" not implemented for '") + dtype_torch_name(x->dtype) + "'";
      PyErr_SetString(PyExc_NotImplementedError, msg.c_str());
      throw py::error_already_set();
    }
    py::gil_scoped_release nogil;
    return ops::logcumsumexp(x, dim, false);
  };
  const char* lcse_doc = "The running log(sum(exp(x))) along dim, stable for any magnitude.";
  m.def("logcumsumexp", lcse, py::arg("input"), py::arg("dim"), lcse_doc);
  cls.def("logcumsumexp", lcse, py::arg("dim"), lcse_doc);
  m.def("_linalg_vector_norm", [](const TensorPtr& x, double ord, py::handle dim, bool keepdim) {
    std::vector<int64_t> dims = parse_dims(dim);
    py::gil_scoped_release nogil;
    return ops::vector_norm(x, ord, dims, keepdim);
  }, py::arg("input"), py::arg("ord"), py::arg("dim"), py::arg("keepdim"),
        "The kernel of gradcore.linalg.vector_norm (floating input, dim None or () for all dims).");
}

}  // namespace gradcore::bindings
