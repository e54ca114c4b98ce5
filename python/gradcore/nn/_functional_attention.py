"""Functional attention (issue 16), re-exported by ``gradcore.nn.functional``.

``scaled_dot_product_attention`` is one fused C++ op each way (``gradcore._core``,
csrc/autograd/ops/attention.cpp): FlashAttention tiles with an online softmax, the backward
recomputing them from the saved output and logsumexp.
"""
from __future__ import annotations

from typing import Optional

from gradcore import _core
from gradcore._core import Tensor

__all__ = ["scaled_dot_product_attention"]


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor, attn_mask: Optional[Tensor] = None,
                                 dropout_p: float = 0.0, is_causal: bool = False, scale: Optional[float] = None,
                                 enable_gqa: bool = False) -> Tensor:
    """``softmax(query @ key.transpose(-2, -1) * scale + attn_mask) @ value`` with dropout on the
    probabilities; ``attn_mask`` is boolean (True takes part) or additive, ``is_causal`` masks
    keys after each query (top-left aligned); ``scale`` defaults to ``1 / sqrt(E)``."""
    return _core.scaled_dot_product_attention(query, key, value, attn_mask, float(dropout_p), bool(is_causal),
                                              None if scale is None else float(scale), bool(enable_gqa))
