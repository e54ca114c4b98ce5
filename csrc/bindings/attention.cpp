// attention.cpp — binding of scaled_dot_product_attention (issue 16). Argument conversion
// only; the numerics are autograd/ops/attention.cpp.
#include "autograd/ops/attention.h"
#include "bindings/common.h"

namespace gradcore::bindings {

void bind_attention(py::module_& m) {
  m.def("scaled_dot_product_attention", [](const TensorPtr& q, const TensorPtr& k, const TensorPtr& v,
                                           py::object attn_mask, double dropout_p, bool is_causal,
                                           std::optional<double> scale, bool enable_gqa) {
        TensorPtr mask = optional_tensor(attn_mask, "scaled_dot_product_attention: attn_mask");
        py::gil_scoped_release nogil;
        return ops::scaled_dot_product_attention(q, k, v, mask, dropout_p, is_causal, scale ? &*scale : nullptr,
                                                 enable_gqa);
      }, py::arg("query"), py::arg("key"), py::arg("value"), py::arg("attn_mask") = py::none(),
      py::arg("dropout_p") = 0.0, py::arg("is_causal") = false, py::arg("scale") = py::none(),
      py::arg("enable_gqa") = false,
      "softmax(query @ key^T * scale + attn_mask) @ value as one fused tiled op (FlashAttention on the CPU); "
      "the backward recomputes the tiles from the saved output and logsumexp.");
}

}  // namespace gradcore::bindings
