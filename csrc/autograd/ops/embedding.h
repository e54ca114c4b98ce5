// embedding.h — the embedding ops (issue 16): torch.embedding (a row gather of a
// [rows, dim] weight by an index tensor of any shape), its dense backward (a deterministic
// scatter, Note [Embedding gradient scatter], kernels/embedding.h), embedding_renorm_
// (max_norm) and torch.embedding_bag (sum / mean / max bags, fused forward and backward).
// Checks and messages as PyTorch's; the Python layer (nn/_functional_sparse.py) does the
// argument checks torch.nn.functional does in Python.
//
//   TensorPtr y = ops::embedding(weight, indices, /*padding_idx=*/-1, false, false);   // indices.shape + [dim]
//   TensorPtr b = ops::embedding_bag(weight, idx1d, offsets, false, kernels::BAG_MEAN, false, nullptr, false, {});
#pragma once
#if defined(GC_LAYER_CPU) || defined(GC_LAYER_KERNELS) || defined(GC_LAYER_CORE)
#error "the autograd layer is above cpu, kernels and core (layers: csrc/README.md)"
#endif
#include <optional>

#include "autograd/ops.h"

namespace gradcore::ops {

// weight[indices] with PyTorch's gradient: rows summed back (none to padding_idx >= 0; each
// row's gradient divided by its count when scale_grad_by_freq). sparse with a gradient to
// record: NotImplementedError (gradcore has no sparse tensors). Gradient, double backward
// and tangent are recorded ops (EmbeddingBackward0, EmbeddingDenseBackwardBackward0).
TensorPtr embedding(const TensorPtr& weight, const TensorPtr& indices, int64_t padding_idx, bool scale_grad_by_freq,
                    bool sparse);
// The gradient of embedding wrt a weight of num_weights rows: grad [*indices.shape, dim] ->
// [num_weights, dim]. Differentiable (in grad).
TensorPtr embedding_dense_backward(const TensorPtr& grad, const TensorPtr& indices, int64_t num_weights,
                                   int64_t padding_idx, bool scale_grad_by_freq);
// max_norm: the rows of weight that indices name, renormalised in place (no autograd; the
// storage version is bumped). Returns weight.
TensorPtr embedding_renorm_(const TensorPtr& weight, const TensorPtr& indices, double max_norm, double norm_type);
// torch.embedding_bag on 1-D indices and 1-D offsets (mode: kernels::BagMode); the bags'
// values [bags, dim]. Gradients for weight and per_sample_weights (sum mode).
TensorPtr embedding_bag(const TensorPtr& weight, const TensorPtr& indices, const TensorPtr& offsets,
                        bool scale_grad_by_freq, int mode, bool sparse, const TensorPtr& per_sample_weights,
                        bool include_last_offset, std::optional<int64_t> padding_idx);

}  // namespace gradcore::ops
