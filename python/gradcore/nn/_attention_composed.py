"""F.scaled_dot_product_attention as the composition PyTorch documents:
softmax(q kT * scale + mask) v, with dropout on the weights. This is a stand-in: each head's
(L x S) score matrix is materialised (O(L S) memory), and there is no fused, tiled kernel yet
(issue 16 asks for one). Values, gradients (any order: it is made of differentiable ops) and
errors are PyTorch's; a row that every mask entry excludes gives zeros, as torch 2.13's CPU
kernel does (not NaN)."""
from __future__ import annotations

import math
from typing import Optional

import gradcore as gc
from gradcore import Tensor

__all__ = ["scaled_dot_product_attention"]


def _check(query: Tensor, key: Tensor, value: Tensor, attn_mask: Optional[Tensor], dropout_p: float,
           is_causal: bool, enable_gqa: bool) -> None:
    if attn_mask is not None and is_causal:
        raise RuntimeError("_scaled_dot_product_attention: Explicit attn_mask should not be set when is_causal=True")
    if not 0.0 <= dropout_p <= 1.0:
        raise RuntimeError(f"dropout probability has to be between 0 and 1, but got {dropout_p}")
    for name, t in (("query", query), ("key", key), ("value", value)):
        if t.dim() < 2:
            raise RuntimeError(f"scaled_dot_product_attention: {name} must have at least 2 dimensions, got {t.dim()}")
    if not (query.dtype == key.dtype == value.dtype):
        raise RuntimeError(f"Expected query, key, and value to have the same dtype, but got query.dtype: "
                           f"{query.dtype} key.dtype: {key.dtype} and value.dtype: {value.dtype} instead.")
    if query.shape[-1] != key.shape[-1]:
        raise RuntimeError(f"scaled_dot_product_attention: query's last dimension ({query.shape[-1]}) must equal "
                           f"key's ({key.shape[-1]})")
    if key.shape[-2] != value.shape[-2]:
        raise RuntimeError(f"scaled_dot_product_attention: key and value must have the same sequence length, "
                           f"got {key.shape[-2]} and {value.shape[-2]}")
    if attn_mask is not None and attn_mask.dtype != gc.bool and attn_mask.dtype != query.dtype \
            and not attn_mask.is_floating_point():
        raise RuntimeError(f"Expected attn_mask dtype to be bool or float or to match query dtype, but got "
                           f"attn_mask.dtype: {attn_mask.dtype} and  query.dtype: {query.dtype} instead.")
    if enable_gqa and query.dim() >= 3 and key.dim() >= 3:
        hq, hk, hv = query.shape[-3], key.shape[-3], value.shape[-3]
        if hq % hk or hq % hv:
            raise RuntimeError("Number of heads in key and value must divide the number of heads in query")


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor, attn_mask: Optional[Tensor] = None,
                                 dropout_p: float = 0.0, is_causal: bool = False, scale: Optional[float] = None,
                                 enable_gqa: bool = False) -> Tensor:
    """Attention of ``query`` (..., L, E) over ``key`` (..., S, E) and ``value`` (..., S, Ev):
    softmax(query keyT * scale + mask) value, scale 1/sqrt(E) by default. ``attn_mask``:
    boolean (True takes part) or additive, broadcastable to (..., L, S); ``is_causal``: the
    top-left-aligned lower triangle; ``dropout_p`` drops attention weights (always, as
    torch's functional form does); ``enable_gqa``: key/value heads (dim -3) shared by groups
    of query heads."""
    _check(query, key, value, attn_mask, dropout_p, is_causal, enable_gqa)
    L, S = query.shape[-2], key.shape[-2]
    if enable_gqa and query.dim() >= 3 and key.dim() >= 3:
        hq = query.shape[-3]
        if key.shape[-3] != hq:
            key = key.repeat_interleave(hq // key.shape[-3], dim=-3)
        if value.shape[-3] != hq:
            value = value.repeat_interleave(hq // value.shape[-3], dim=-3)
    s = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    scores = gc.matmul(query, key.transpose(-2, -1)) * s
    if is_causal:
        attn_mask = gc.ones(L, S, dtype=gc.bool).tril()
    if attn_mask is not None:
        if attn_mask.dtype == gc.bool:
            scores = scores.masked_fill(attn_mask.logical_not(), float("-inf"))
        else:
            scores = scores + attn_mask.to(scores.dtype)
        with gc.no_grad():
            live = (scores != float("-inf")).any(-1, keepdim=True)
        if not bool(live.all()):
            scores = gc.where(live, scores, gc.zeros((), dtype=scores.dtype))
            weights = gc.softmax(scores, dim=-1) * live.to(scores.dtype)
        else:
            weights = gc.softmax(scores, dim=-1)
    else:
        weights = gc.softmax(scores, dim=-1)
    if dropout_p > 0.0:
        weights = gc.nn.functional.dropout(weights, dropout_p, training=True)
    return gc.matmul(weights, value)
