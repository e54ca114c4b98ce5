"""The op table: every differentiable op, checked by one helper against independent oracles.

Each row of ``OPS`` names an op, its gradcore form, a NumPy reference formula, the shapes of
its tensor inputs and the domain they are drawn from. ``helper_test_op`` then checks

* the forward value against the NumPy formula (evaluated in float64 on exactly the values
  given to gradcore), in float32 and in float64, under every ISA the machine supports;
* when PyTorch is importable: the forward value AND the gradient of every input (for a
  random upstream gradient) against PyTorch, in both dtypes and under every ISA.

Rule (STYLE.md): a new op means new rows here and in ``test_gradcheck.py``.

Blind spots, on purpose: inputs avoid kinks (relu/abs at 0, ties in max; ties get their own
hand-derived test below), log/sqrt/negative powers get positive inputs, and divisors are
kept away from 0. Shapes are small so tolerances can be tight; ``test_gemm.py`` covers
large matrix shapes.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Callable, Optional, Tuple

import numpy as np
import pytest

import gradcore as gc
import gradcore.nn.functional as F


def _import_torch() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            import torch
        except ImportError:
            return None
    return torch


torch = _import_torch()


# ----------------------------------------------------------------------------------------
# NumPy reference formulas
# ----------------------------------------------------------------------------------------

def np_sigmoid(x: np.ndarray) -> np.ndarray:
    # Two-branch form: never overflows, exact for large |x|.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def np_log_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    m = np.max(x, axis=axis, keepdims=True)
    return x - m - np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))


def np_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    return np.exp(np_log_softmax(x, axis))


def np_reduce(v: np.ndarray, reduction: str) -> np.ndarray:
    if reduction == "mean":
        return np.asarray(v.mean())
    if reduction == "sum":
        return np.asarray(v.sum())
    return v


def np_cross_entropy(x: np.ndarray, labels: Any, reduction: str = "mean", label_smoothing: float = 0.0) -> np.ndarray:
    labels = np.asarray(labels)
    lsm = np_log_softmax(x, 1)
    nll = -lsm[np.arange(x.shape[0]), labels]
    smooth = -lsm.mean(axis=1)  # = (1/C) * sum_c -log p_c
    return np_reduce((1.0 - label_smoothing) * nll + label_smoothing * smooth, reduction)


def np_mse(a: np.ndarray, b: np.ndarray, reduction: str = "mean") -> np.ndarray:
    return np_reduce((a - b) ** 2, reduction)


# ----------------------------------------------------------------------------------------
# The table
# ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Op:
    name: str
    gc_fn: Callable[..., Any]
    np_fn: Callable[..., Any]
    shapes: Tuple[Tuple[int, ...], ...]
    domain: Any = "any"  # one domain for all inputs, or a tuple with one per input
    torch_fn: Optional[Callable[..., Any]] = None  # None: gc_fn works on torch tensors as written
    atol32: float = 2e-5  # absolute tolerance of float32 forward (values are O(1) unless noted)

    def domains(self) -> Tuple[str, ...]:
        if isinstance(self.domain, str):
            return (self.domain,) * len(self.shapes)
        return tuple(self.domain)


LABELS = [1, 0, 4, 2]          # class labels for the (4, 5) logits rows
LABELS_NP = np.array(LABELS, dtype=np.int64)
S = (5, 37)                    # 185 elements: SIMD bodies plus ragged tails for every vector width
M3 = (2, 3, 4)


def _tf():
    return torch.nn.functional


OPS = [
    # ---- binary arithmetic, same shape -------------------------------------------------
    Op("add", lambda a, b: a + b, np.add, (S, S)),
    Op("sub", lambda a, b: a - b, np.subtract, (S, S)),
    Op("mul", lambda a, b: a * b, np.multiply, (S, S)),
    Op("div", lambda a, b: a / b, np.divide, (S, S), ("any", "away0")),
    Op("gc.add", lambda a, b: gc.add(a, b), np.add, (M3, M3), torch_fn=lambda a, b: torch.add(a, b)),
    Op("gc.sub", lambda a, b: gc.sub(a, b), np.subtract, (M3, M3), torch_fn=lambda a, b: torch.sub(a, b)),
    Op("gc.mul", lambda a, b: gc.mul(a, b), np.multiply, (M3, M3), torch_fn=lambda a, b: torch.mul(a, b)),
    Op("gc.div", lambda a, b: gc.div(a, b), np.divide, (M3, M3), ("any", "away0"),
       torch_fn=lambda a, b: torch.div(a, b)),
    # ---- broadcasting pairs ------------------------------------------------------------
    Op("add_bcast_row", lambda a, b: a + b, np.add, ((3, 4), (4,))),
    Op("add_bcast_outer", lambda a, b: a + b, np.add, ((3, 1), (1, 4))),
    Op("add_bcast_0d", lambda a, b: a + b, np.add, ((), (3, 4))),
    Op("sub_bcast_outer", lambda a, b: a - b, np.subtract, ((3, 1), (1, 4))),
    Op("sub_bcast_lead", lambda a, b: a - b, np.subtract, ((4,), (2, 3, 4))),
    Op("mul_bcast_mid", lambda a, b: a * b, np.multiply, ((2, 3, 4), (3, 1))),
    Op("mul_bcast_both", lambda a, b: a * b, np.multiply, ((5, 1, 3), (4, 1))),
    Op("div_bcast_col", lambda a, b: a / b, np.divide, ((3, 4), (3, 1)), ("any", "away0")),
    Op("div_bcast_num", lambda a, b: a / b, np.divide, ((1, 4), (3, 4)), ("any", "away0")),
    Op("add_bcast_wide", lambda a, b: a + b, np.add, ((3, 1), (1, 37))),
    Op("sub_bcast_vec", lambda a, b: a - b, np.subtract, (S, (37,))),
    Op("mul_bcast_col_wide", lambda a, b: a * b, np.multiply, ((5, 1), S)),
    Op("div_bcast_0d_wide", lambda a, b: a / b, np.divide, (S, ()), ("any", "away0")),
    # ---- scalars, incl. reflected forms -------------------------------------------------
    Op("add_scalar", lambda x: x + 2.5, lambda x: x + 2.5, (S,)),
    Op("radd_scalar", lambda x: 2.5 + x, lambda x: 2.5 + x, (S,)),
    Op("sub_scalar", lambda x: x - 2, lambda x: x - 2, (S,)),
    Op("rsub_scalar", lambda x: 2 - x, lambda x: 2 - x, (S,)),
    Op("mul_scalar", lambda x: x * 3, lambda x: x * 3, (S,)),
    Op("rmul_scalar", lambda x: -1.5 * x, lambda x: -1.5 * x, (S,)),
    Op("div_scalar", lambda x: x / 4, lambda x: x / 4, (S,)),
    Op("rdiv_scalar", lambda x: 3 / x, lambda x: 3 / x, (S,), "away0"),
    Op("pow_2", lambda x: x ** 2, lambda x: x ** 2, (S,)),
    Op("pow_3", lambda x: x ** 3, lambda x: x ** 3, (S,)),
    Op("pow_half", lambda x: x ** 0.5, np.sqrt, (S,), "pos"),
    Op("pow_neg", lambda x: x ** -1.5, lambda x: x ** -1.5, (S,), "pos"),
    Op("rpow", lambda x: 2 ** x, lambda x: 2.0 ** x, (S,)),
    Op("gc.pow", lambda x: gc.pow(x, 2.5), lambda x: x ** 2.5, (M3,), "pos", torch_fn=lambda x: torch.pow(x, 2.5)),
    # ---- unary --------------------------------------------------------------------------
    Op("neg", lambda x: -x, np.negative, (S,)),
    Op("gc.neg", lambda x: gc.neg(x), np.negative, (M3,), torch_fn=lambda x: torch.neg(x)),
    Op("exp", lambda x: x.exp(), np.exp, (S,)),
    Op("log", lambda x: x.log(), np.log, (S,), "pos"),
    Op("sqrt", lambda x: x.sqrt(), np.sqrt, (S,), "pos"),
    Op("abs", lambda x: x.abs(), np.abs, (S,), "away0"),  # away from the kink at 0
    Op("abs_builtin", lambda x: abs(x), np.abs, (M3,), "away0"),
    Op("tanh", lambda x: x.tanh(), np.tanh, (S,)),
    Op("tanh_large", lambda x: x.tanh(), np.tanh, (S,), "large"),
    Op("sigmoid", lambda x: x.sigmoid(), np_sigmoid, (S,)),
    Op("sigmoid_large", lambda x: x.sigmoid(), np_sigmoid, (S,), "large"),  # no overflow / NaN
    Op("relu", lambda x: x.relu(), lambda x: np.maximum(x, 0.0), (S,), "away0"),  # away from the kink
    Op("gc.exp", lambda x: gc.exp(x), np.exp, (M3,), torch_fn=lambda x: torch.exp(x)),
    Op("gc.log", lambda x: gc.log(x), np.log, (M3,), "pos", torch_fn=lambda x: torch.log(x)),
    Op("gc.sqrt", lambda x: gc.sqrt(x), np.sqrt, (M3,), "pos", torch_fn=lambda x: torch.sqrt(x)),
    Op("gc.abs", lambda x: gc.abs(x), np.abs, (M3,), "away0", torch_fn=lambda x: torch.abs(x)),
    Op("gc.tanh", lambda x: gc.tanh(x), np.tanh, (M3,), torch_fn=lambda x: torch.tanh(x)),
    Op("gc.sigmoid", lambda x: gc.sigmoid(x), np_sigmoid, (M3,), torch_fn=lambda x: torch.sigmoid(x)),
    Op("gc.relu", lambda x: gc.relu(x), lambda x: np.maximum(x, 0.0), (M3,), "away0",
       torch_fn=lambda x: torch.relu(x)),
    Op("F.relu", lambda x: F.relu(x), lambda x: np.maximum(x, 0.0), (M3,), "away0",
       torch_fn=lambda x: _tf().relu(x)),
    Op("F.sigmoid", lambda x: F.sigmoid(x), np_sigmoid, (M3,), torch_fn=lambda x: torch.sigmoid(x)),
    Op("F.tanh", lambda x: F.tanh(x), np.tanh, (M3,), torch_fn=lambda x: torch.tanh(x)),
    # ---- reductions (max inputs are distinct: no ties) ----------------------------------
    Op("sum_all", lambda x: x.sum(), np.sum, (M3,)),
    Op("sum_all_wide", lambda x: x.sum(), np.sum, (S,)),
    Op("sum_d0", lambda x: x.sum(dim=0), lambda x: x.sum(axis=0), (M3,)),
    Op("sum_d1_keep", lambda x: x.sum(dim=1, keepdim=True), lambda x: x.sum(axis=1, keepdims=True), (M3,)),
    Op("sum_dneg1", lambda x: x.sum(dim=-1), lambda x: x.sum(axis=-1), (M3,)),
    Op("sum_d02", lambda x: x.sum(dim=(0, 2)), lambda x: x.sum(axis=(0, 2)), (M3,)),
    Op("sum_d02_keep", lambda x: x.sum(dim=(0, 2), keepdim=True), lambda x: x.sum(axis=(0, 2), keepdims=True), (M3,)),
    Op("sum_d1_wide", lambda x: x.sum(dim=1), lambda x: x.sum(axis=1), (S,)),
    Op("sum_d0_wide", lambda x: x.sum(dim=0), lambda x: x.sum(axis=0), (S,)),
    Op("sum_all_keep", lambda x: x.sum(keepdim=True), lambda x: x.sum(keepdims=True), (M3,),
       torch_fn=lambda x: x.sum(dim=(0, 1, 2), keepdim=True)),
    Op("gc.sum", lambda x: gc.sum(x, dim=1), lambda x: x.sum(axis=1), (M3,), torch_fn=lambda x: torch.sum(x, dim=1)),
    Op("mean_all", lambda x: x.mean(), np.mean, (M3,)),
    Op("mean_d0", lambda x: x.mean(dim=0), lambda x: x.mean(axis=0), (M3,)),
    Op("mean_d1_keep", lambda x: x.mean(dim=1, keepdim=True), lambda x: x.mean(axis=1, keepdims=True), (M3,)),
    Op("mean_dneg1", lambda x: x.mean(dim=-1), lambda x: x.mean(axis=-1), (M3,)),
    Op("mean_d12", lambda x: x.mean(dim=(1, 2)), lambda x: x.mean(axis=(1, 2)), (M3,)),
    Op("mean_d02_keep", lambda x: x.mean(dim=(0, 2), keepdim=True), lambda x: x.mean(axis=(0, 2), keepdims=True),
       (M3,)),
    Op("mean_d0_wide", lambda x: x.mean(dim=0), lambda x: x.mean(axis=0), (S,)),
    Op("mean_all_keep", lambda x: x.mean(keepdim=True), lambda x: x.mean(keepdims=True), (M3,),
       torch_fn=lambda x: x.mean(dim=(0, 1, 2), keepdim=True)),
    Op("gc.mean", lambda x: gc.mean(x, dim=0, keepdim=True), lambda x: x.mean(axis=0, keepdims=True), (M3,),
       torch_fn=lambda x: torch.mean(x, dim=0, keepdim=True)),
    Op("max_all", lambda x: x.max(), np.max, (M3,), "distinct", torch_fn=lambda x: torch.amax(x)),
    Op("max_all_wide", lambda x: x.max(), np.max, (S,), "distinct", torch_fn=lambda x: torch.amax(x)),
    Op("max_d0", lambda x: x.max(dim=0).values, lambda x: x.max(axis=0), (M3,), "distinct",
       torch_fn=lambda x: torch.max(x, dim=0).values),
    Op("max_d1_keep", lambda x: x.max(dim=1, keepdim=True).values, lambda x: x.max(axis=1, keepdims=True), (M3,),
       "distinct", torch_fn=lambda x: torch.max(x, dim=1, keepdim=True).values),
    Op("max_dneg1", lambda x: x.max(dim=-1)[0], lambda x: x.max(axis=-1), (M3,), "distinct",
       torch_fn=lambda x: torch.max(x, dim=-1)[0]),
    Op("amax_d02", lambda x: x.amax(dim=(0, 2)), lambda x: x.max(axis=(0, 2)), (M3,), "distinct",
       torch_fn=lambda x: torch.amax(x, dim=(0, 2))),
    Op("amax_d02_keep", lambda x: x.amax(dim=(0, 2), keepdim=True), lambda x: x.max(axis=(0, 2), keepdims=True),
       (M3,), "distinct", torch_fn=lambda x: torch.amax(x, dim=(0, 2), keepdim=True)),
    Op("max_d0_wide", lambda x: x.max(dim=0).values, lambda x: x.max(axis=0), (S,), "distinct",
       torch_fn=lambda x: torch.max(x, dim=0).values),
    Op("amax_all_keep", lambda x: x.amax(keepdim=True), lambda x: x.max(keepdims=True), (M3,), "distinct",
       torch_fn=lambda x: torch.amax(x, dim=(0, 1, 2), keepdim=True)),
    Op("gc.max", lambda x: gc.max(x, dim=1).values, lambda x: x.max(axis=1), (S,), "distinct",
       torch_fn=lambda x: torch.max(x, dim=1).values),
    # ---- shape ----------------------------------------------------------------------------
    Op("reshape", lambda x: x.reshape(6, 4), lambda x: x.reshape(6, 4), (M3,)),
    Op("reshape_neg1", lambda x: x.reshape(4, -1), lambda x: x.reshape(4, -1), (M3,)),
    Op("reshape_flat", lambda x: x.reshape(-1), lambda x: x.reshape(-1), (M3,)),
    Op("gc.reshape", lambda x: gc.reshape(x, (3, 8)), lambda x: x.reshape(3, 8), (M3,),
       torch_fn=lambda x: torch.reshape(x, (3, 8))),
    Op("transpose", lambda x: x.transpose(0, 1), lambda x: x.T, ((3, 5),)),
    Op("transpose_3d", lambda x: x.transpose(0, 2), lambda x: np.swapaxes(x, 0, 2), (M3,)),
    Op("transpose_neg", lambda x: x.transpose(-1, -2), lambda x: np.swapaxes(x, -1, -2), (M3,)),
    Op("gc.transpose", lambda x: gc.transpose(x, 0, 1), lambda x: x.T, ((3, 5),),
       torch_fn=lambda x: torch.transpose(x, 0, 1)),
    Op(".T", lambda x: x.T, lambda x: x.T, ((3, 5),)),
    Op("permute", lambda x: x.permute(2, 0, 1), lambda x: np.transpose(x, (2, 0, 1)), (M3,)),
    Op("gc.permute", lambda x: gc.permute(x, (1, 2, 0)), lambda x: np.transpose(x, (1, 2, 0)), (M3,),
       torch_fn=lambda x: torch.permute(x, (1, 2, 0))),
    # ---- matmul ---------------------------------------------------------------------------
    Op("matmul_2d", lambda a, b: a @ b, np.matmul, ((3, 4), (4, 5))),
    Op("matmul_2d_odd", lambda a, b: a @ b, np.matmul, ((7, 9), (9, 17))),
    Op("matmul_1d_2d", lambda a, b: a @ b, np.matmul, ((4,), (4, 5))),
    Op("matmul_2d_1d", lambda a, b: a @ b, np.matmul, ((3, 4), (4,))),
    Op("matmul_1d_1d", lambda a, b: a @ b, np.matmul, ((4,), (4,))),
    Op("matmul_3d_2d", lambda a, b: a @ b, np.matmul, ((2, 3, 4), (4, 5))),
    Op("matmul_4d_2d", lambda a, b: a @ b, np.matmul, ((2, 2, 3, 4), (4, 5))),
    Op("gc.matmul", lambda a, b: gc.matmul(a, b), np.matmul, ((3, 4), (4, 2)),
       torch_fn=lambda a, b: torch.matmul(a, b)),
    Op("F.linear", lambda x, w, b: F.linear(x, w, b), lambda x, w, b: x @ w.T + b, ((5, 3), (4, 3), (4,)),
       torch_fn=lambda x, w, b: _tf().linear(x, w, b)),
    Op("F.linear_nobias", lambda x, w: F.linear(x, w), lambda x, w: x @ w.T, ((5, 3), (4, 3)),
       torch_fn=lambda x, w: _tf().linear(x, w)),
    Op("F.linear_3d", lambda x, w, b: F.linear(x, w, b), lambda x, w, b: x @ w.T + b, ((2, 5, 3), (4, 3), (4,)),
       torch_fn=lambda x, w, b: _tf().linear(x, w, b)),
]

# ---- softmax / log_softmax over every dim (and F./method forms) ---------------------------
SM = (3, 4, 5)
for _d in (0, 1, 2, -1):
    OPS += [
        Op(f"softmax_d{_d}", lambda x, d=_d: gc.softmax(x, d), lambda x, d=_d: np_softmax(x, d), (SM,),
           torch_fn=lambda x, d=_d: torch.softmax(x, d)),
        Op(f"log_softmax_d{_d}", lambda x, d=_d: gc.log_softmax(x, d), lambda x, d=_d: np_log_softmax(x, d), (SM,),
           torch_fn=lambda x, d=_d: torch.log_softmax(x, d)),
    ]
OPS += [
    Op("softmax_2d_d0", lambda x: gc.softmax(x, 0), lambda x: np_softmax(x, 0), ((4, 37),),
       torch_fn=lambda x: torch.softmax(x, 0)),
    Op("softmax_2d_d1", lambda x: gc.softmax(x, 1), lambda x: np_softmax(x, 1), ((4, 37),),
       torch_fn=lambda x: torch.softmax(x, 1)),
    Op("softmax_large", lambda x: gc.softmax(x, 1), lambda x: np_softmax(x, 1), ((4, 37),), "large",
       torch_fn=lambda x: torch.softmax(x, 1)),
    Op("log_softmax_large", lambda x: gc.log_softmax(x, 1), lambda x: np_log_softmax(x, 1), ((4, 37),), "large",
       torch_fn=lambda x: torch.log_softmax(x, 1), atol32=5e-4),
    Op("F.softmax", lambda x: F.softmax(x, dim=1), lambda x: np_softmax(x, 1), (SM,),
       torch_fn=lambda x: _tf().softmax(x, dim=1)),
    Op("F.log_softmax", lambda x: F.log_softmax(x, dim=0), lambda x: np_log_softmax(x, 0), (SM,),
       torch_fn=lambda x: _tf().log_softmax(x, dim=0)),
    Op("softmax_method", lambda x: x.softmax(-1), lambda x: np_softmax(x, -1), (SM,)),
    Op("log_softmax_method", lambda x: x.log_softmax(1), lambda x: np_log_softmax(x, 1), (SM,)),
    # ---- cross_entropy ----------------------------------------------------------------------
    Op("ce_mean", lambda x: F.cross_entropy(x, LABELS_NP), lambda x: np_cross_entropy(x, LABELS), ((4, 5),),
       torch_fn=lambda x: _tf().cross_entropy(x, torch.tensor(LABELS))),
    Op("ce_list_labels", lambda x: F.cross_entropy(x, LABELS), lambda x: np_cross_entropy(x, LABELS), ((4, 5),),
       torch_fn=lambda x: _tf().cross_entropy(x, torch.tensor(LABELS))),
    Op("ce_int32_labels", lambda x: F.cross_entropy(x, LABELS_NP.astype(np.int32)),
       lambda x: np_cross_entropy(x, LABELS), ((4, 5),),
       torch_fn=lambda x: _tf().cross_entropy(x, torch.tensor(LABELS))),
    Op("ce_sum", lambda x: F.cross_entropy(x, LABELS_NP, reduction="sum"),
       lambda x: np_cross_entropy(x, LABELS, "sum"), ((4, 5),),
       torch_fn=lambda x: _tf().cross_entropy(x, torch.tensor(LABELS), reduction="sum")),
    Op("ce_none", lambda x: F.cross_entropy(x, LABELS_NP, reduction="none"),
       lambda x: np_cross_entropy(x, LABELS, "none"), ((4, 5),),
       torch_fn=lambda x: _tf().cross_entropy(x, torch.tensor(LABELS), reduction="none")),
    Op("ce_smooth", lambda x: F.cross_entropy(x, LABELS_NP, label_smoothing=0.1),
       lambda x: np_cross_entropy(x, LABELS, "mean", 0.1), ((4, 5),),
       torch_fn=lambda x: _tf().cross_entropy(x, torch.tensor(LABELS), label_smoothing=0.1)),
    Op("ce_smooth_none", lambda x: F.cross_entropy(x, LABELS_NP, reduction="none", label_smoothing=0.25),
       lambda x: np_cross_entropy(x, LABELS, "none", 0.25), ((4, 5),),
       torch_fn=lambda x: _tf().cross_entropy(x, torch.tensor(LABELS), reduction="none", label_smoothing=0.25)),
    Op("ce_smooth_sum", lambda x: F.cross_entropy(x, LABELS_NP, reduction="sum", label_smoothing=0.3),
       lambda x: np_cross_entropy(x, LABELS, "sum", 0.3), ((4, 5),),
       torch_fn=lambda x: _tf().cross_entropy(x, torch.tensor(LABELS), reduction="sum", label_smoothing=0.3)),
    # logits of +-1000: a naive exp overflows; losses are O(1000), so float32 gets an O(ulp(1000)) atol.
    Op("ce_large", lambda x: F.cross_entropy(x, LABELS_NP), lambda x: np_cross_entropy(x, LABELS), ((4, 5),),
       "large", torch_fn=lambda x: _tf().cross_entropy(x, torch.tensor(LABELS)), atol32=5e-4),
    Op("ce_large_none", lambda x: F.cross_entropy(x, LABELS_NP, reduction="none"),
       lambda x: np_cross_entropy(x, LABELS, "none"), ((4, 5),), "large",
       torch_fn=lambda x: _tf().cross_entropy(x, torch.tensor(LABELS), reduction="none"), atol32=5e-4),
    Op("ce_large_smooth", lambda x: F.cross_entropy(x, LABELS_NP, label_smoothing=0.1),
       lambda x: np_cross_entropy(x, LABELS, "mean", 0.1), ((4, 5),), "large",
       torch_fn=lambda x: _tf().cross_entropy(x, torch.tensor(LABELS), label_smoothing=0.1), atol32=5e-4),
    Op("ce_wide", lambda x: F.cross_entropy(x, [36, 0, 17]), lambda x: np_cross_entropy(x, [36, 0, 17]), ((3, 37),),
       torch_fn=lambda x: _tf().cross_entropy(x, torch.tensor([36, 0, 17]))),
    # ---- mse_loss -----------------------------------------------------------------------------
    Op("mse_mean", lambda a, b: F.mse_loss(a, b), np_mse, ((3, 4), (3, 4)),
       torch_fn=lambda a, b: _tf().mse_loss(a, b)),
    Op("mse_sum", lambda a, b: F.mse_loss(a, b, reduction="sum"), lambda a, b: np_mse(a, b, "sum"),
       ((3, 4), (3, 4)), torch_fn=lambda a, b: _tf().mse_loss(a, b, reduction="sum")),
    Op("mse_none", lambda a, b: F.mse_loss(a, b, reduction="none"), lambda a, b: np_mse(a, b, "none"),
       (M3, M3), torch_fn=lambda a, b: _tf().mse_loss(a, b, reduction="none")),
]

assert len({op.name for op in OPS}) == len(OPS), "op names must be unique (they are the test ids)"


# ----------------------------------------------------------------------------------------
# The helper
# ----------------------------------------------------------------------------------------

def make_input(shape: Tuple[int, ...], domain: str, rng: np.random.Generator) -> np.ndarray:
    if domain == "any":
        x = rng.standard_normal(shape)
    elif domain == "pos":
        x = rng.uniform(0.5, 2.0, shape)
    elif domain == "away0":  # |x| >= 0.2: clear of kinks at 0 and of division blow-ups
        x = rng.uniform(0.2, 2.0, shape) * rng.choice([-1.0, 1.0], shape)
    elif domain == "distinct":  # all different (also in float32), so max has no ties
        n = int(np.prod(shape))
        x = ((rng.permutation(n) - n / 2) * 0.25 + 0.125).reshape(shape)
    elif domain == "large":  # +-1000: overflow bait for exp-based ops
        x = rng.choice([-1000.0, 1000.0], shape) + rng.standard_normal(shape)
    else:
        raise AssertionError(f"unknown domain {domain}")
    return np.asarray(x, dtype=np.float64)


TOL = {
    # dtype: (forward rtol, forward atol, gradient rtol, gradient atol)
    "float32": (2e-5, None, 1e-4, 2e-5),
    "float64": (1e-10, 1e-12, 1e-9, 1e-11),
}


def helper_test_op(op: Op, dtype: Any, rng: np.random.Generator) -> None:
    dname = "float32" if dtype == gc.float32 else "float64"
    np_dtype = np.float32 if dtype == gc.float32 else np.float64
    rtol, atol, grtol, gatol = TOL[dname]
    if atol is None:  # float32: the row's own absolute tolerance also bounds its gradients
        atol = op.atol32
        gatol = max(gatol, op.atol32)

    xs = [make_input(s, d, rng).astype(np_dtype) for s, d in zip(op.shapes, op.domains())]

    # ---- forward vs NumPy (reference in float64 on the very same values) ----
    ref = np.asarray(op.np_fn(*[x.astype(np.float64) for x in xs]))
    ts = [gc.tensor(x, dtype=dtype, requires_grad=True) for x in xs]
    out = op.gc_fn(*ts)
    assert isinstance(out, gc.Tensor)
    assert out.dtype == dtype, f"{op.name}: output dtype {out.dtype} != {dtype}"
    assert out.shape == ref.shape, f"{op.name}: shape {out.shape} != numpy {ref.shape}"
    assert out.requires_grad and out.grad_fn is not None
    got = out.detach().numpy()
    assert np.all(np.isfinite(got)), f"{op.name}: non-finite output {got}"
    np.testing.assert_allclose(got, ref, rtol=rtol, atol=atol, err_msg=f"{op.name} forward vs numpy ({dname})")

    if torch is None:
        return

    # ---- forward and gradients vs PyTorch ----
    tts = [torch.tensor(x, requires_grad=True) for x in xs]
    tout = (op.torch_fn or op.gc_fn)(*tts)
    assert tuple(tout.shape) == out.shape
    np.testing.assert_allclose(got, tout.detach().numpy(), rtol=rtol, atol=atol,
                               err_msg=f"{op.name} forward vs torch ({dname})")

    upstream = np.asarray(rng.standard_normal(out.shape), dtype=np_dtype)
    out.backward(gc.tensor(upstream, dtype=dtype))
    tout.backward(torch.from_numpy(upstream.copy()))
    for i, (t, tt) in enumerate(zip(ts, tts)):
        assert t.grad is not None, f"{op.name}: input {i} got no gradient"
        assert t.grad.shape == t.shape and t.grad.dtype == dtype
        np.testing.assert_allclose(t.grad.detach().numpy(), tt.grad.detach().numpy(), rtol=grtol, atol=gatol,
                                   err_msg=f"{op.name} d/d(input {i}) vs torch ({dname})")


@pytest.mark.parametrize("dtype", [gc.float32, gc.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("op", OPS, ids=[op.name for op in OPS])
def test_op(op: Op, dtype: Any, isa: str, rng: np.random.Generator) -> None:
    helper_test_op(op, dtype, rng)


def test_torch_oracle_is_exercised() -> None:
    """The torch half of helper_test_op runs whenever torch is installed (as in CI)."""
    torch_mod = pytest.importorskip("torch")
    assert torch is torch_mod


# ----------------------------------------------------------------------------------------
# Hand-derived cases the table deliberately avoids
# ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [gc.float32, gc.float64], ids=["f32", "f64"])
def test_max_gradient_split_between_ties(dtype: Any, isa: str) -> None:
    x = gc.tensor([1.0, 3.0, 3.0, 2.0], dtype=dtype, requires_grad=True)
    y = x.max()
    assert y.item() == 3.0
    y.backward()
    np.testing.assert_array_equal(x.grad.detach().numpy(), [0.0, 0.5, 0.5, 0.0])

    x = gc.tensor([[5.0, 5.0, 5.0], [1.0, 4.0, 4.0]], dtype=dtype, requires_grad=True)
    x.amax(dim=1).backward(gc.tensor([3.0, 1.0], dtype=dtype))
    np.testing.assert_allclose(x.grad.detach().numpy(), [[1.0, 1.0, 1.0], [0.0, 0.5, 0.5]], rtol=1e-6)


def test_max_gradient_ties_match_torch_amax() -> None:
    torch_mod = pytest.importorskip("torch")
    data = np.array([[2.0, 7.0, 7.0, 1.0], [7.0, 7.0, 7.0, 7.0], [0.0, -1.0, 0.0, 3.0]])
    x = gc.tensor(data, requires_grad=True)
    tx = torch_mod.tensor(data, requires_grad=True)
    x.amax(dim=1).sum().backward()
    torch_mod.amax(tx, dim=1).sum().backward()
    np.testing.assert_allclose(x.grad.detach().numpy(), tx.grad.detach().numpy(), rtol=1e-12)


@pytest.mark.parametrize("dtype", [gc.float32, gc.float64], ids=["f32", "f64"])
def test_relu_and_abs_values_at_zero(dtype: Any) -> None:
    # Forward at the kink is well defined; (the gradient there is a convention, not tested).
    x = gc.tensor([-2.0, 0.0, 3.0], dtype=dtype)
    assert x.relu().tolist() == [0.0, 0.0, 3.0]
    assert x.abs().tolist() == [2.0, 0.0, 3.0]


@pytest.mark.parametrize("dtype", [gc.float32, gc.float64], ids=["f32", "f64"])
def test_cross_entropy_extreme_logits_exact(dtype: Any) -> None:
    # Hand-derived: logits [1000, -1000] with label 0 -> loss 0 (exactly, up to exp(-2000));
    # label 1 -> loss 2000. Gradient of the mean: (softmax - onehot) / N.
    x = gc.tensor([[1000.0, -1000.0], [1000.0, -1000.0]], dtype=dtype, requires_grad=True)
    loss = F.cross_entropy(x, [0, 1], reduction="none")
    np.testing.assert_allclose(loss.detach().numpy(), [0.0, 2000.0], rtol=1e-6, atol=1e-6)
    F.cross_entropy(x, [0, 1]).backward()
    np.testing.assert_allclose(x.grad.detach().numpy(), [[0.0, 0.0], [0.5, -0.5]], atol=1e-7)
    assert np.all(np.isfinite(x.grad.detach().numpy()))


def test_softmax_rows_sum_to_one_for_large_inputs(isa: str) -> None:
    x = gc.tensor([[1000.0, 999.0, -1000.0], [-1e4, -1e4, -1e4]])
    p = gc.softmax(x, 1).detach().numpy()
    assert np.all(np.isfinite(p))
    np.testing.assert_allclose(p.sum(axis=1), [1.0, 1.0], rtol=1e-6)
    np.testing.assert_allclose(p[1], [1 / 3] * 3, rtol=1e-6)
    np.testing.assert_allclose(p[0], np_softmax(np.array([1000.0, 999.0, -1000.0]), 0), rtol=1e-6)


# ----------------------------------------------------------------------------------------
# Accuracy of the elementwise math kernels over their whole range, per ISA
# ----------------------------------------------------------------------------------------

SWEEPS = {
    # name: (inputs, float64 reference)
    "exp": (np.concatenate([np.linspace(-87.0, 88.0, 50001), np.linspace(-1e-3, 1e-3, 1001)]), np.exp),
    "log": (np.concatenate([np.geomspace(1e-37, 1e37, 50001), np.linspace(0.5, 2.0, 5001)]), np.log),
    "sqrt": (np.geomspace(1e-37, 1e37, 50001), np.sqrt),
    "tanh": (np.concatenate([np.linspace(-20.0, 20.0, 50001), np.geomspace(1e-30, 1e-2, 1001),
                             -np.geomspace(1e-30, 1e-2, 1001)]), np.tanh),
    "sigmoid": (np.concatenate([np.linspace(-80.0, 80.0, 50001), np.linspace(-1e-3, 1e-3, 1001)]), np_sigmoid),
}


@pytest.mark.parametrize("dtype", [gc.float32, gc.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("name", sorted(SWEEPS))
def test_unary_accuracy_sweep(name: str, dtype: Any, isa: str) -> None:
    # A few ulp everywhere (2 ulp of float32 is <= 2.4e-7 relative): SIMD polynomial
    # approximations must hold up over the whole range, not just near 0.
    np_dtype = np.float32 if dtype == gc.float32 else np.float64
    rtol = 3e-7 if dtype == gc.float32 else 1e-15
    x, ref_fn = SWEEPS[name]
    xs = x.astype(np_dtype)
    got = getattr(gc.tensor(xs, dtype=dtype), name)().detach().numpy().astype(np.float64)
    ref = ref_fn(xs.astype(np.float64))
    np.testing.assert_allclose(got, ref, rtol=rtol, atol=0, err_msg=f"{name} {isa}")


@pytest.mark.parametrize("dtype", [gc.float32, gc.float64], ids=["f32", "f64"])
def test_exp_denormal_results_within_one_ulp(dtype: Any, isa: str) -> None:
    np_dtype, int_dtype = (np.float32, np.int32) if dtype == gc.float32 else (np.float64, np.int64)
    lo, hi = (-103.9, -87.4) if dtype == gc.float32 else (-744.0, -708.5)
    x = np.linspace(lo, hi, 20001).astype(np_dtype)
    ref = np.exp(x.astype(np.longdouble)).astype(np_dtype)
    got = gc.tensor(x, dtype=dtype).exp().detach().numpy()
    ulps = np.abs(got.view(int_dtype).astype(np.int64) - ref.view(int_dtype).astype(np.int64))
    assert ulps.max() <= 1, f"exp off by {ulps.max()} ulp at x={x[ulps.argmax()]!r} ({isa})"


INF, NAN = float("inf"), float("nan")
# Inputs whose results are exact in both dtypes (IEEE / C99 Annex F values, or saturation
# far beyond the last representable step), so every ISA must agree bit for bit.
SPECIAL = {
    "exp": [(INF, INF), (-INF, 0.0), (0.0, 1.0), (1000.0, INF), (-1000.0, 0.0), (NAN, NAN)],
    "log": [(INF, INF), (0.0, -INF), (-1.0, NAN), (1.0, 0.0), (NAN, NAN)],
    "sqrt": [(INF, INF), (0.0, 0.0), (-1.0, NAN), (4.0, 2.0), (NAN, NAN)],
    "tanh": [(INF, 1.0), (-INF, -1.0), (0.0, 0.0), (20.0, 1.0), (-20.0, -1.0), (100.0, 1.0), (NAN, NAN)],
    "sigmoid": [(INF, 1.0), (-INF, 0.0), (0.0, 0.5), (800.0, 1.0), (-800.0, 0.0), (NAN, NAN)],
    "relu": [(INF, INF), (-INF, 0.0), (0.0, 0.0), (-3.0, 0.0), (3.0, 3.0), (NAN, NAN)],  # NaN propagates, as in torch
    "abs": [(INF, INF), (-INF, INF), (-0.0, 0.0), (-3.0, 3.0), (NAN, NAN)],
}


@pytest.mark.parametrize("dtype", [gc.float32, gc.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("name", sorted(SPECIAL))
def test_unary_special_values(name: str, dtype: Any, isa: str) -> None:
    pairs = SPECIAL[name]
    # Repeat the pattern so every value lands both in SIMD bodies and in the scalar tail.
    x = np.array([p[0] for p in pairs] * 11)
    expected = np.array([p[1] for p in pairs] * 11)
    got = getattr(gc.tensor(x, dtype=dtype), name)().detach().numpy()
    np.testing.assert_array_equal(got, expected, err_msg=f"{name} {isa}")


# ----------------------------------------------------------------------------------------
# Reductions: accuracy beyond float32's integer range; label forms for cross_entropy
# ----------------------------------------------------------------------------------------

def test_float32_sum_does_not_stall_at_2_pow_24(isa: str) -> None:
    # A single float32 running sum stops growing at 2^24 (x + 1 == x there); chunked /
    # pairwise summation keeps this exact. 2^24 + 1000 is exactly representable.
    n = 2 ** 24 + 1000
    ones = gc.ones(n)
    assert ones.sum().item() == float(n)
    assert ones.mean().item() == 1.0
    assert ones.reshape(1, n).sum(dim=1).item() == float(n)
    assert ones.reshape(n, 1).sum(dim=0).item() == float(n)


_CE_X = np.random.default_rng(11).standard_normal((4, 5))
_CE_LABELS = [3, 0, 4, 1]


@pytest.mark.parametrize("labels", [
    _CE_LABELS,
    tuple(_CE_LABELS),
    np.array(_CE_LABELS, dtype=np.int64),
    np.array(_CE_LABELS, dtype=np.int32),
    np.array(_CE_LABELS, dtype=np.int16),
    np.array(_CE_LABELS, dtype=np.uint8),
    np.array([3, 9, 0, 9, 4, 9, 1, 9], dtype=np.int64)[::2],   # non-contiguous view
    np.array(_CE_LABELS[::-1], dtype=np.int32)[::-1],          # negative stride
    np.array([[3, 0], [4, 1]]).T.copy().T.reshape(-1),          # F-ordered round trip
], ids=["list", "tuple", "int64", "int32", "int16", "uint8", "strided", "reversed", "fortran"])
def test_cross_entropy_label_forms(labels: Any) -> None:
    x = gc.tensor(_CE_X, dtype=gc.float64)
    got = F.cross_entropy(x, labels, reduction="none").detach().numpy()
    np.testing.assert_allclose(got, np_cross_entropy(_CE_X, _CE_LABELS, "none"), rtol=1e-13)


# ----------------------------------------------------------------------------------------
# IEEE arithmetic: + - * / are correctly rounded, so they must equal NumPy bit for bit
# ----------------------------------------------------------------------------------------

ARITH = {
    "add": (lambda a, b: a + b), "sub": (lambda a, b: a - b),
    "mul": (lambda a, b: a * b), "div": (lambda a, b: a / b),
}


@pytest.mark.parametrize("dtype", [gc.float32, gc.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("op", sorted(ARITH))
def test_arithmetic_bitwise_equal_to_numpy(op: str, dtype: Any, isa: str) -> None:
    # A Python scalar takes the tensor's dtype (as in NumPy 2 / PyTorch), then one IEEE
    # operation rounds once. Anything else (e.g. x * (1/s) for x / s) is off by an ulp.
    np_dtype = np.float32 if dtype == gc.float32 else np.float64
    rng = np.random.default_rng(8)
    a = rng.standard_normal(4099).astype(np_dtype)
    b = rng.standard_normal(4099).astype(np_dtype)
    f = ARITH[op]
    ta, tb = gc.tensor(a, dtype=dtype), gc.tensor(b, dtype=dtype)
    np.testing.assert_array_equal(f(ta, tb).detach().numpy(), f(a, b), err_msg=f"tensor {op} tensor")
    np.testing.assert_array_equal(f(ta, tb[:1].reshape(())).detach().numpy(), f(a, b[:1].reshape(())),
                                  err_msg=f"tensor {op} 0-d tensor")
    for s in (0.1, 3.0, -7.3, 1e-3):
        np.testing.assert_array_equal(f(ta, s).detach().numpy(), f(a, np_dtype(s)), err_msg=f"tensor {op} {s}")
        np.testing.assert_array_equal(f(s, ta).detach().numpy(), f(np_dtype(s), a), err_msg=f"{s} {op} tensor")


@pytest.mark.parametrize("dtype", [gc.float32, gc.float64], ids=["f32", "f64"])
def test_division_by_tiny_and_huge_scalars(dtype: Any) -> None:
    # Quotients that are perfectly representable must not overflow or underflow on the way.
    np_dtype = np.float32 if dtype == gc.float32 else np.float64
    tiny = 1e-39 if dtype == gc.float32 else 1e-310   # subnormal: 1 / tiny overflows
    x = np.array([1e-30, -2e-31], dtype=np_dtype)
    with np.errstate(all="raise"):
        expected = x / np_dtype(tiny)                # ~1e9 (f32) / ~1e280 (f64): finite
        expected_r = np_dtype(1e-30) / np.array([tiny, -tiny], dtype=np_dtype)
    np.testing.assert_array_equal((gc.tensor(x, dtype=dtype) / tiny).detach().numpy(), expected)
    np.testing.assert_array_equal((1e-30 / gc.tensor([tiny, -tiny], dtype=dtype)).detach().numpy(), expected_r)
