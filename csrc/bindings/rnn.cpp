// rnn.cpp — binding of rnn_layer (issue 16). Argument conversion only; the numerics are
// autograd/ops/rnn.cpp and kernels/rnn.cpp.
#include "autograd/ops/rnn.h"
#include "bindings/common.h"

namespace gradcore::bindings {

void bind_rnn(py::module_& m) {
  m.def("rnn_layer", [](int mode, const TensorPtr& x, std::vector<int64_t> batch_sizes, const TensorPtr& hx,
                        py::object cx, const TensorPtr& w_ih, const TensorPtr& w_hh, py::object b_ih, py::object b_hh,
                        py::object w_hr, bool reverse) -> py::tuple {
        TensorPtr c0 = optional_tensor(cx, "rnn_layer: cx");
        TensorPtr bi = optional_tensor(b_ih, "rnn_layer: bias_ih");
        TensorPtr bh = optional_tensor(b_hh, "rnn_layer: bias_hh");
        TensorPtr wr = optional_tensor(w_hr, "rnn_layer: weight_hr");
        ops::RnnOutputs r;
        {
          py::gil_scoped_release nogil;
          r = ops::rnn_layer(mode, x, batch_sizes, hx, c0, w_ih, w_hh, bi, bh, wr, reverse);
        }
        return py::make_tuple(r.output, r.h_n, r.c_n ? py::cast(r.c_n) : py::none());
      }, py::arg("mode"), py::arg("input"), py::arg("batch_sizes"), py::arg("hx"), py::arg("cx"), py::arg("weight_ih"),
      py::arg("weight_hh"), py::arg("bias_ih"), py::arg("bias_hh"), py::arg("weight_hr"), py::arg("reverse"),
      "One recurrent layer in one direction over a whole sequence (mode 0 RNN tanh, 1 RNN relu, 2 LSTM, 3 GRU): "
      "input [N, I] holds step t's first batch_sizes[t] rows after one another; returns (output [N, P], h_n, c_n "
      "or None). Forward and backward through time are fused C++ kernels.");
}

}  // namespace gradcore::bindings
