// conv.cpp — binds torch.convolution and im2col / col2im (autograd/ops/conv.h); the
// argument normalisation of F.conv*d, F.unfold and F.fold is Python's (nn/_functional_conv.py).
#include "autograd/ops/conv.h"
#include "bindings/common.h"

namespace gradcore::bindings {

void bind_conv(py::module_& m) {
  using V = std::vector<int64_t>;
  m.def("convolution", [](const TensorPtr& x, const TensorPtr& w, py::handle bias, const V& stride, const V& padding,
                          const V& dilation, bool transposed, const V& output_padding, int64_t groups) {
        TensorPtr b = optional_tensor(bias, "convolution: bias");
        py::gil_scoped_release nogil;
        return ops::convolution(x, w, b, stride, padding, dilation, transposed, output_padding, groups);
      },
      py::arg("input"), py::arg("weight"), py::arg("bias"), py::arg("stride"), py::arg("padding"),
      py::arg("dilation"), py::arg("transposed"), py::arg("output_padding"), py::arg("groups"),
      "torch.convolution: N-d convolution or transposed convolution of a batched input (N, C, *spatial).");
  m.def("im2col", &ops::im2col, py::arg("input"), py::arg("kernel_size"), py::arg("dilation"), py::arg("padding"),
        py::arg("stride"), py::call_guard<py::gil_scoped_release>(),
        "Sliding blocks of a batched input (N, C, *spatial) -> (N, C * prod(kernel_size), L) (F.unfold).");
  m.def("col2im", &ops::col2im, py::arg("input"), py::arg("output_size"), py::arg("kernel_size"), py::arg("dilation"),
        py::arg("padding"), py::arg("stride"), py::call_guard<py::gil_scoped_release>(),
        "Sums sliding blocks (N, C * prod(kernel_size), L) back into (N, C, *output_size) (F.fold).");
}

}  // namespace gradcore::bindings
