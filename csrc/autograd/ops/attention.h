// attention.h — scaled_dot_product_attention (issue 16): one fused op, forward and backward
// the tiled kernels of kernels/attention.h (Note [Flash attention on the CPU]); under
// create_graph or with forward-mode tangents the composed formula (matmul, softmax) runs
// instead, so higher derivatives exist.
//
//   TensorPtr o = ops::scaled_dot_product_attention(q, k, v, /*attn_mask=*/nullptr,
//                                                   /*dropout_p=*/0.0, /*is_causal=*/true,
//                                                   /*scale=*/nullptr, /*enable_gqa=*/false);
//
// q (..., L, E), k (..., S, E), v (..., S, Ev); leading dims broadcast, and with enable_gqa
// the head dim (-3) of k / v may divide q's. attn_mask: bool (True takes part) or additive
// float, broadcastable to (..., L, S). Errors are PyTorch's.
#pragma once
#include "core/tensor.h"

namespace gradcore::ops {

TensorPtr scaled_dot_product_attention(const TensorPtr& q, const TensorPtr& k, const TensorPtr& v,
                                       const TensorPtr& attn_mask, double dropout_p, bool is_causal,
                                       const double* scale, bool enable_gqa);

}  // namespace gradcore::ops
