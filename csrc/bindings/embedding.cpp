// embedding.cpp — bindings of the embedding ops (issue 16): the private kernels behind
// gradcore.nn.functional's embedding and embedding_bag (nn/_functional_sparse.py), which
// does torch.nn.functional's Python-side checks; the rest is in autograd/ops/embedding.cpp.
#include "autograd/ops/embedding.h"
#include "bindings/common.h"

namespace gradcore::bindings {

void bind_embedding(py::module_& m) {
  using GilRelease = py::call_guard<py::gil_scoped_release>;
  m.def("_embedding", &ops::embedding, py::arg("weight"), py::arg("indices"), py::arg("padding_idx") = -1,
        py::arg("scale_grad_by_freq") = false, py::arg("sparse") = false, GilRelease(),
        "torch.embedding: weight[indices] (padding_idx < 0: none).");
  m.def("_embedding_dense_backward", &ops::embedding_dense_backward, py::arg("grad_output"), py::arg("indices"),
        py::arg("num_weights"), py::arg("padding_idx"), py::arg("scale_grad_by_freq"), GilRelease(),
        "The weight gradient of embedding (differentiable).");
  m.def("_embedding_renorm_", &ops::embedding_renorm_, py::arg("weight"), py::arg("indices"), py::arg("max_norm"),
        py::arg("norm_type"), GilRelease(), "max_norm: the indexed rows renormalised in place (no autograd).");
  m.def("_embedding_bag", [](const TensorPtr& weight, const TensorPtr& indices, const TensorPtr& offsets,
                             bool scale_grad_by_freq, int mode, bool sparse, py::handle per_sample_weights,
                             bool include_last_offset, std::optional<int64_t> padding_idx) {
        TensorPtr psw = optional_tensor(per_sample_weights, "embedding_bag: per_sample_weights");
        py::gil_scoped_release nogil;
        return ops::embedding_bag(weight, indices, offsets, scale_grad_by_freq, mode, sparse, psw, include_last_offset,
                                  padding_idx);
      },
      py::arg("weight"), py::arg("indices"), py::arg("offsets"), py::arg("scale_grad_by_freq"), py::arg("mode"),
      py::arg("sparse"), py::arg("per_sample_weights") = py::none(), py::arg("include_last_offset") = false,
      py::arg("padding_idx") = py::none(),
      "torch.embedding_bag on 1-D indices and offsets (mode 0 sum, 1 mean, 2 max): the bags' values.");
}

}  // namespace gradcore::bindings
