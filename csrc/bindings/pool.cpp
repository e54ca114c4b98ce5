// pool.cpp — bindings of the pooling ops (issue 15): the private kernels behind
// gradcore.nn.functional's max_pool*d, avg_pool*d, adaptive_*_pool*d, max_unpool*d and
// interpolate. The Python layer expands int arguments to one entry per spatial dim; the
// checks and numerics are in autograd/ops/pool.cpp.
#include "autograd/ops/pool.h"
#include "bindings/common.h"

namespace gradcore::bindings {

void bind_pool(py::module_& m) {
  using GilRelease = py::call_guard<py::gil_scoped_release>;
  m.def("_max_pool", [](const TensorPtr& x, int nsp, std::vector<int64_t> kernel_size, std::vector<int64_t> stride,
                        std::vector<int64_t> padding, std::vector<int64_t> dilation, bool ceil_mode) {
    ops::ValuesIndices r = ops::max_pool(x, nsp, {kernel_size, stride, padding, dilation, ceil_mode});
    return std::make_pair(r.values, r.indices);
  }, py::arg("input"), py::arg("nsp"), py::arg("kernel_size"), py::arg("stride"), py::arg("padding"),
        py::arg("dilation"), py::arg("ceil_mode"), GilRelease(),
        "max_pool{nsp}d: (values, int64 indices into the flattened spatial plane).");
  m.def("_avg_pool", [](const TensorPtr& x, int nsp, std::vector<int64_t> kernel_size, std::vector<int64_t> stride,
                        std::vector<int64_t> padding, bool ceil_mode, bool count_include_pad,
                        std::optional<int64_t> divisor_override) {
    std::vector<int64_t> dilation(kernel_size.size(), 1);
    return ops::avg_pool(x, nsp, {kernel_size, stride, padding, dilation, ceil_mode}, count_include_pad, divisor_override);
  }, py::arg("input"), py::arg("nsp"), py::arg("kernel_size"), py::arg("stride"), py::arg("padding"),
        py::arg("ceil_mode"), py::arg("count_include_pad"), py::arg("divisor_override") = py::none(), GilRelease(),
        "avg_pool{nsp}d.");
  m.def("_adaptive_avg_pool", &ops::adaptive_avg_pool, py::arg("input"), py::arg("nsp"), py::arg("output_size"),
        GilRelease(), "adaptive_avg_pool{nsp}d (output_size: one int >= 0 per spatial dim).");
  m.def("_adaptive_max_pool", [](const TensorPtr& x, int nsp, std::vector<int64_t> output_size) {
    ops::ValuesIndices r = ops::adaptive_max_pool(x, nsp, output_size);
    return std::make_pair(r.values, r.indices);
  }, py::arg("input"), py::arg("nsp"), py::arg("output_size"), GilRelease(),
        "adaptive_max_pool{nsp}d: (values, int64 indices).");
  m.def("_max_unpool", &ops::max_unpool, py::arg("input"), py::arg("indices"), py::arg("nsp"), py::arg("output_size"),
        GilRelease(), "max_unpool{nsp}d to the spatial output_size.");
  m.def("_interpolate", &ops::interpolate, py::arg("input"), py::arg("nsp"), py::arg("size"), py::arg("scales"),
        py::arg("mode"), py::arg("align_corners"), GilRelease(),
        "F.interpolate's kernels: mode 'nearest', 'nearest-exact' or 'linear'; size (or empty: floor(in * scale)).");
}

}  // namespace gradcore::bindings
