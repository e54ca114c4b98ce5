"""Folding an eval-mode BatchNorm into the convolution or linear layer before it (PyTorch's
``torch.nn.utils.fusion``), re-exported by ``gradcore.nn.utils``.

For y = BN(conv(x)) with running statistics (mu, var), BN weight g and bias beta:
  W' = W * (g / sqrt(var + eps)) along the output-channel dim (dim 1 for a transposed conv),
  b' = (b - mu) * g / sqrt(var + eps) + beta.
Written against the conv module's ``weight`` (out, in / groups, *k) and ``bias`` (or None).
"""
from __future__ import annotations

import copy
from typing import Any, Optional, Tuple

from gradcore import _core
from gradcore._core import Tensor
from gradcore.nn.module import Parameter

__all__ = ["fuse_conv_bn_eval", "fuse_conv_bn_weights", "fuse_linear_bn_eval", "fuse_linear_bn_weights"]


def fuse_conv_bn_weights(conv_w: Tensor, conv_b: Optional[Tensor], bn_rm: Tensor, bn_rv: Tensor, bn_eps: float,
                         bn_w: Optional[Tensor], bn_b: Optional[Tensor],
                         transpose: bool = False) -> Tuple[Parameter, Parameter]:
    """The fused (weight, bias) Parameters, in the conv's dtypes."""
    w_dtype = conv_w.dtype
    b_dtype = conv_b.dtype if conv_b is not None else w_dtype
    w_req = conv_w.requires_grad
    b_req = conv_b.requires_grad if conv_b is not None else False
    cw, rm, rv = conv_w.detach(), bn_rm.detach(), bn_rv.detach()
    cb = conv_b.detach() if conv_b is not None else _core.zeros_like(rm)
    gw = bn_w.detach() if bn_w is not None else _core.ones_like(rm)
    gb = bn_b.detach() if bn_b is not None else _core.zeros_like(rm)
    rsq = _core.rsqrt(rv + bn_eps)
    shape = ([1, -1] if transpose else [-1, 1]) + [1] * (cw.dim() - 2)
    fused_w = (cw * (gw * rsq).reshape(shape)).to(w_dtype)
    fused_b = ((cb - rm) * rsq * gw + gb).to(b_dtype)
    return Parameter(fused_w, w_req), Parameter(fused_b, b_req)


def fuse_conv_bn_eval(conv: Any, bn: Any, transpose: bool = False) -> Any:
    """A copy of ``conv`` computing ``bn(conv(x))`` (both in eval mode)."""
    assert not (conv.training or bn.training), "Fusion only for eval!"
    fused = copy.deepcopy(conv)
    assert bn.running_mean is not None and bn.running_var is not None
    fused.weight, fused.bias = fuse_conv_bn_weights(fused.weight, fused.bias, bn.running_mean, bn.running_var,
                                                    bn.eps, bn.weight, bn.bias, transpose)
    return fused


def fuse_linear_bn_weights(linear_w: Tensor, linear_b: Optional[Tensor], bn_rm: Tensor, bn_rv: Tensor,
                           bn_eps: float, bn_w: Tensor, bn_b: Tensor) -> Tuple[Parameter, Parameter]:
    """The fused (weight, bias) Parameters of a Linear followed by a BatchNorm1d."""
    w_req = linear_w.requires_grad
    b_req = linear_b.requires_grad if linear_b is not None else False
    rm = bn_rm.detach()
    lb = linear_b.detach() if linear_b is not None else _core.zeros_like(rm)
    scale = bn_w.detach() * _core.rsqrt(bn_rv.detach() + bn_eps)
    fused_w = linear_w.detach() * scale.unsqueeze(-1)
    fused_b = (lb - rm) * scale + bn_b.detach()
    return Parameter(fused_w, w_req), Parameter(fused_b, b_req)


def fuse_linear_bn_eval(linear: Any, bn: Any) -> Any:
    """A copy of ``linear`` computing ``bn(linear(x))`` (both in eval mode)."""
    assert not (linear.training or bn.training), "Fusion only for eval!"
    fused = copy.deepcopy(linear)
    assert linear.out_features == bn.num_features or bn.num_features == 1, (
        "To fuse, linear.out_features == bn.num_features or bn.num_features == 1")
    assert bn.running_mean is not None and bn.running_var is not None
    fused.weight, fused.bias = fuse_linear_bn_weights(fused.weight, fused.bias, bn.running_mean, bn.running_var,
                                                      bn.eps, bn.weight, bn.bias)
    return fused
