"""Functional attention (issue 16), re-exported by ``gradcore.nn.functional``.

``scaled_dot_product_attention`` is one fused C++ op each way (``gradcore._core``,
csrc/autograd/ops/attention.cpp): FlashAttention tiles with an online softmax, the backward
recomputing them from the saved output and logsumexp.
"""
from __future__ import annotations

import math
import warnings
from typing import Any, Optional, Tuple

import gradcore as gc
from gradcore import _core
from gradcore._core import Tensor

__all__ = ["scaled_dot_product_attention", "multi_head_attention_forward"]


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor, attn_mask: Optional[Tensor] = None,
                                 dropout_p: float = 0.0, is_causal: bool = False, scale: Optional[float] = None,
                                 enable_gqa: bool = False) -> Tensor:
    """``softmax(query @ key.transpose(-2, -1) * scale + attn_mask) @ value`` with dropout on the
    probabilities; ``attn_mask`` is boolean (True takes part) or additive, ``is_causal`` masks
    keys after each query (top-left aligned); ``scale`` defaults to ``1 / sqrt(E)``."""
    return _core.scaled_dot_product_attention(query, key, value, attn_mask, float(dropout_p), bool(is_causal),
                                              None if scale is None else float(scale), bool(enable_gqa))


def _mha_shape_check(query: Tensor, key: Tensor, value: Tensor, key_padding_mask: Optional[Tensor],
                     attn_mask: Optional[Tensor], num_heads: int) -> bool:
    """Whether the input is batched (query 3-D) or not (2-D); PyTorch's AssertionErrors otherwise."""
    if query.dim() not in (2, 3):
        raise AssertionError(f"query should be unbatched 2D or batched 3D tensor but received {query.dim()}-D "
                             f"query tensor")
    batched = query.dim() == 3
    kind = "batched (3-D)" if batched else "unbatched (2-D)"
    if key.dim() != query.dim() or value.dim() != query.dim():
        raise AssertionError(f"For {kind} `query`, expected `key` and `value` to be {query.dim()}-D but found "
                             f"{key.dim()}-D and {value.dim()}-D tensors respectively")
    if key_padding_mask is not None and key_padding_mask.dim() != query.dim() - 1:
        raise AssertionError(f"For {kind} `query`, expected `key_padding_mask` to be `None` or "
                             f"{query.dim() - 1}-D but found {key_padding_mask.dim()}-D tensor instead")
    if attn_mask is not None:
        if attn_mask.dim() not in (2, 3):
            raise AssertionError(f"For {kind} `query`, expected `attn_mask` to be `None`, 2-D or 3-D but found "
                                 f"{attn_mask.dim()}-D tensor instead")
        if not batched and attn_mask.dim() == 3:
            expected = (num_heads, query.shape[0], key.shape[0])
            if tuple(attn_mask.shape) != expected:
                raise AssertionError(f"Expected `attn_mask` shape to be {expected} but got {tuple(attn_mask.shape)}")
    return batched


def _canonical_mask(mask: Optional[Tensor], name: str, dtype: Any, other: Optional[Tensor] = None,
                    other_name: str = "") -> Optional[Tensor]:
    """A bool mask as an additive float mask of ``dtype`` (True: -inf); a float mask as is.
    PyTorch's deprecation warning when ``other`` (the other mask) has another dtype."""
    if mask is None:
        return None
    if mask.dtype != gc.bool and not mask.is_floating_point():
        raise AssertionError(f"only bool and floating types of {name} are supported")
    if other is not None and other.dtype != mask.dtype:
        warnings.warn(f"Support for mismatched {name} and {other_name} is deprecated. Use same type for both "
                      f"instead.", stacklevel=3)
    if mask.dtype == gc.bool:
        return gc.zeros(mask.shape, dtype=dtype).masked_fill(mask, float("-inf"))
    return mask


def multi_head_attention_forward(
        query: Tensor, key: Tensor, value: Tensor, embed_dim_to_check: int, num_heads: int,
        in_proj_weight: Optional[Tensor], in_proj_bias: Optional[Tensor], bias_k: Optional[Tensor],
        bias_v: Optional[Tensor], add_zero_attn: bool, dropout_p: float, out_proj_weight: Tensor,
        out_proj_bias: Optional[Tensor], training: bool = True, key_padding_mask: Optional[Tensor] = None,
        need_weights: bool = True, attn_mask: Optional[Tensor] = None, use_separate_proj_weight: bool = False,
        q_proj_weight: Optional[Tensor] = None, k_proj_weight: Optional[Tensor] = None,
        v_proj_weight: Optional[Tensor] = None, static_k: Optional[Tensor] = None, static_v: Optional[Tensor] = None,
        average_attn_weights: bool = True, is_causal: bool = False) -> Tuple[Tensor, Optional[Tensor]]:
    """PyTorch's ``F.multi_head_attention_forward`` (what ``nn.MultiheadAttention`` runs):
    ``query`` (L, N, E) or unbatched (L, E), ``key``/``value`` (S, N, kdim/vdim); returns the
    output (L, N, E) and the attention weights (N, L, S) averaged over heads, (N, H, L, S),
    or None when ``need_weights`` is False. Masks: boolean True (or -inf) excludes a key;
    ``attn_mask`` (L, S) or (N * H, L, S), ``key_padding_mask`` (N, S). Without weights the
    attention is the fused kernel; with them, the composed formula (the weights must exist)."""
    from gradcore.nn import functional as F

    batched = _mha_shape_check(query, key, value, key_padding_mask, attn_mask, num_heads)
    if not batched:
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    L, N, E = query.shape
    S = key.shape[0]
    key_padding_mask = _canonical_mask(key_padding_mask, "key_padding_mask", query.dtype, attn_mask, "attn_mask")
    if is_causal and attn_mask is None:
        raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use the Transformer module "
                           "method `generate_square_subsequent_mask` to create this mask.")
    if is_causal and key_padding_mask is None and not need_weights:
        attn_mask = None  # the kernel's own causal masking replaces the mask
    else:
        attn_mask = _canonical_mask(attn_mask, "attn_mask", query.dtype)
        if key_padding_mask is not None:
            is_causal = False
    if E != embed_dim_to_check:
        raise AssertionError(f"was expecting embedding dimension of {embed_dim_to_check}, but got {E}")
    H = num_heads
    hd = E // H
    if hd * H != E:
        raise AssertionError(f"embed_dim {E} not divisible by num_heads {H}")
    if use_separate_proj_weight:
        if tuple(key.shape[:2]) != tuple(value.shape[:2]):
            raise AssertionError(f"key's sequence and batch dims {tuple(key.shape[:2])} do not match value's "
                                 f"{tuple(value.shape[:2])}")
    elif tuple(key.shape) != tuple(value.shape):
        raise AssertionError(f"key shape {tuple(key.shape)} does not match value shape {tuple(value.shape)}")
    # input projections: self-attention with packed weights is one GEMM
    bq = bk = bv = None
    if in_proj_bias is not None:
        bq, bk, bv = in_proj_bias[:E], in_proj_bias[E:2 * E], in_proj_bias[2 * E:]
    if not use_separate_proj_weight:
        if in_proj_weight is None:
            raise AssertionError("use_separate_proj_weight is False but in_proj_weight is None")
        if query is key and key is value:
            q, k, v = F.linear(query, in_proj_weight, in_proj_bias).split(E, dim=-1)
        else:
            wq, wk, wv = in_proj_weight[:E], in_proj_weight[E:2 * E], in_proj_weight[2 * E:]
            q, k, v = F.linear(query, wq, bq), F.linear(key, wk, bk), F.linear(value, wv, bv)
    else:
        for name, w in (("q", q_proj_weight), ("k", k_proj_weight), ("v", v_proj_weight)):
            if w is None:
                raise AssertionError(f"use_separate_proj_weight is True but {name}_proj_weight is None")
        assert q_proj_weight is not None and k_proj_weight is not None and v_proj_weight is not None
        q, k, v = F.linear(query, q_proj_weight, bq), F.linear(key, k_proj_weight, bk), F.linear(value, v_proj_weight, bv)
    if attn_mask is not None:
        if attn_mask.dim() == 2:
            if tuple(attn_mask.shape) != (L, S):
                raise RuntimeError(f"The shape of the 2D attn_mask is {tuple(attn_mask.shape)}, but should be "
                                   f"{(L, S)}.")
            attn_mask = attn_mask.unsqueeze(0)
        elif attn_mask.dim() == 3:
            if tuple(attn_mask.shape) != (N * H, L, S):
                raise RuntimeError(f"The shape of the 3D attn_mask is {tuple(attn_mask.shape)}, but should be "
                                   f"{(N * H, L, S)}.")
        else:
            raise RuntimeError(f"attn_mask's dimension {attn_mask.dim()} is not supported")
    if bias_k is not None and bias_v is not None:
        if static_k is not None:
            raise AssertionError("bias cannot be added to static key.")
        if static_v is not None:
            raise AssertionError("bias cannot be added to static value.")
        k = gc.cat([k, bias_k.repeat(1, N, 1)])
        v = gc.cat([v, bias_v.repeat(1, N, 1)])
        if attn_mask is not None:
            attn_mask = F.pad(attn_mask, (0, 1))
        if key_padding_mask is not None:
            key_padding_mask = F.pad(key_padding_mask, (0, 1))
    elif bias_k is not None:
        raise AssertionError("bias_k is set but bias_v is None")
    elif bias_v is not None:
        raise AssertionError("bias_v is set but bias_k is None")
    # (L, N, E) -> (N * H, L, hd), as PyTorch lays the heads out
    q = q.reshape(L, N * H, hd).transpose(0, 1)
    k = _static_or_heads(k, static_k, "static_k", N * H, hd)
    v = _static_or_heads(v, static_v, "static_v", N * H, hd)
    if add_zero_attn:
        k = gc.cat([k, gc.zeros((N * H, 1, hd), dtype=k.dtype)], dim=1)
        v = gc.cat([v, gc.zeros((N * H, 1, hd), dtype=v.dtype)], dim=1)
        if attn_mask is not None:
            attn_mask = F.pad(attn_mask, (0, 1))
        if key_padding_mask is not None:
            key_padding_mask = F.pad(key_padding_mask, (0, 1))
    S = k.shape[1]
    if key_padding_mask is not None:
        if key_padding_mask.shape[0] != N:
            raise AssertionError(f"Expected key_padded_mask.shape[0] to be {N}, but got {key_padding_mask.shape[0]}")
        if key_padding_mask.shape[1] != S:
            raise AssertionError(f"Expected key_padded_mask.shape[1] to be {S}, but got {key_padding_mask.shape[1]}")
        kpm = key_padding_mask.reshape(N, 1, 1, S).expand(N, H, 1, S).reshape(N * H, 1, S)
        attn_mask = kpm if attn_mask is None else attn_mask + kpm
    p = float(dropout_p) if training else 0.0
    if need_weights:
        if is_causal and attn_mask is None:
            raise AssertionError("FIXME: is_causal not implemented for need_weights")
        scores = gc.matmul(q * math.sqrt(1.0 / hd), k.transpose(-2, -1))
        if attn_mask is not None:
            scores = scores + attn_mask
        w = F.softmax(scores, dim=-1)
        if p > 0.0:
            w = F.dropout(w, p=p)
        out = gc.matmul(w, v).transpose(0, 1).reshape(L * N, E)
        out = F.linear(out, out_proj_weight, out_proj_bias).reshape(L, N, E)
        weights = w.reshape(N, H, L, S)
        if average_attn_weights:
            weights = weights.mean(dim=1)
        if not batched:
            out, weights = out.squeeze(1), weights.squeeze(0)
        return out, weights
    if attn_mask is not None:
        attn_mask = (attn_mask.unsqueeze(0) if attn_mask.shape[0] == 1 else attn_mask.reshape(N, H, -1, S))
        attn_mask = attn_mask.expand(N, H, L, S)
    out = scaled_dot_product_attention(q.reshape(N, H, L, hd), k.reshape(N, H, S, hd), v.reshape(N, H, S, hd),
                                       attn_mask, p, is_causal)
    out = F.linear(out.permute(2, 0, 1, 3).reshape(L * N, E), out_proj_weight, out_proj_bias).reshape(L, N, E)
    return (out if batched else out.squeeze(1)), None


def _static_or_heads(t: Tensor, static: Optional[Tensor], name: str, nh: int, hd: int) -> Tensor:
    """(S, N, E) projected keys/values as (N * H, S, hd), or the caller's ``static`` ones."""
    if static is None:
        return t.reshape(t.shape[0], nh, hd).transpose(0, 1)
    if static.shape[0] != nh:
        raise AssertionError(f"expecting {name}.size(0) of {nh}, but got {static.shape[0]}")
    if static.shape[2] != hd:
        raise AssertionError(f"expecting {name}.size(2) of {hd}, but got {static.shape[2]}")
    return static
