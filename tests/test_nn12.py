"""Issue 12 (nn12): the nn Module API, containers, losses and non-elementwise functional ops,
each checked against PyTorch on the same inputs (values, gradients, reprs, state_dict keys,
exception types)."""
from __future__ import annotations

import copy
import math
import warnings
from collections import OrderedDict
from typing import Any, Callable, Dict, List, Tuple

import numpy as np
import pytest

import gradcore as gc
import gradcore.nn as nn
import gradcore.nn.functional as F

torch = pytest.importorskip("torch")
tF = torch.nn.functional

R = np.random.default_rng(12)


def _u(*shape: int, lo: float = -2.0, hi: float = 2.0) -> np.ndarray:
    return R.uniform(lo, hi, shape)


def _ints(hi: int, *shape: int) -> np.ndarray:
    return R.integers(0, hi, shape).astype(np.int64)


def _pm1(*shape: int) -> np.ndarray:
    return R.choice([-1.0, 1.0], shape)


# name -> (fn(F, lib, *tensors), [(array, requires_grad)])
# Float arrays are cast to the dtype under test; integer arrays stay int64.
X34, X34b, P34 = _u(3, 4), _u(3, 4), R.uniform(0.05, 0.95, (3, 4))
Y3 = np.array([2, 0, 3], np.int64)
Y3I = np.array([2, -100, 3], np.int64)
X3425, Y325 = _u(3, 4, 2, 5), _ints(4, 3, 2, 5)
Y325[0, 0, :2] = 1  # ignored below
W4 = np.array([0.5, 2.0, 1.0, 1.5])
SOFT = R.uniform(0.0, 1.0, (3, 4))
SOFT /= SOFT.sum(1, keepdims=True)
X5, X5b, X5c = _u(5), _u(5), _u(5)
V34 = R.uniform(0.1, 2.0, (3, 4))
CASES: Dict[str, Tuple[Callable[..., Any], List[Tuple[np.ndarray, bool]]]] = {}
for red in ("mean", "sum", "none"):
    CASES[f"cross_entropy_{red}"] = (lambda F, L, x, y, r=red: F.cross_entropy(x, y, reduction=r),
                                     [(X34, True), (Y3, False)])
    CASES[f"cross_entropy_w_ign_ls_{red}"] = (
        lambda F, L, x, y, w, r=red: F.cross_entropy(x, y, weight=w, ignore_index=-100, label_smoothing=0.2,
                                                     reduction=r), [(X34, True), (Y3I, False), (W4, False)])
    CASES[f"cross_entropy_nd_{red}"] = (
        lambda F, L, x, y, w, r=red: F.cross_entropy(x, y, weight=w, ignore_index=1, reduction=r),
        [(X3425, True), (Y325, False), (W4, False)])
    CASES[f"cross_entropy_prob_{red}"] = (
        lambda F, L, x, y, w, r=red: F.cross_entropy(x, y, weight=w, label_smoothing=0.1, reduction=r),
        [(X34, True), (SOFT, True), (W4, False)])
    CASES[f"nll_{red}"] = (lambda F, L, x, y, w, r=red: F.nll_loss(F.log_softmax(x, dim=1), y, weight=w,
                                                                  reduction=r),
                           [(X34, True), (Y3I, False), (W4, False)])
    CASES[f"bce_{red}"] = (lambda F, L, x, y, w, r=red: F.binary_cross_entropy(x, y, weight=w, reduction=r),
                           [(P34, True), (SOFT, True), (W4, False)])
    CASES[f"bce_logits_{red}"] = (
        lambda F, L, x, y, w, pw, r=red: F.binary_cross_entropy_with_logits(x, y, weight=w, pos_weight=pw,
                                                                            reduction=r),
        [(X34 * 3, True), (P34, True), (W4, False), (W4[::-1].copy(), False)])
    CASES[f"mse_{red}"] = (lambda F, L, x, y, r=red: F.mse_loss(x, y, reduction=r), [(X34, True), (X34b, True)])
    CASES[f"l1_{red}"] = (lambda F, L, x, y, r=red: F.l1_loss(x, y, reduction=r), [(X34, True), (X34b, True)])
    CASES[f"smooth_l1_{red}"] = (lambda F, L, x, y, r=red: F.smooth_l1_loss(x, y, reduction=r, beta=0.7),
                                 [(X34, True), (X34b, True)])
    CASES[f"huber_{red}"] = (lambda F, L, x, y, r=red: F.huber_loss(x, y, reduction=r, delta=0.6),
                             [(X34, True), (X34b, True)])
    CASES[f"poisson_{red}"] = (lambda F, L, x, y, r=red: F.poisson_nll_loss(x, y, reduction=r),
                               [(X34, True), (V34 * 2, False)])
    CASES[f"gaussian_{red}"] = (lambda F, L, x, y, v, r=red: F.gaussian_nll_loss(x, y, v, reduction=r),
                                [(X34, True), (X34b, True), (V34, True)])
    CASES[f"margin_ranking_{red}"] = (
        lambda F, L, a, b, y, r=red: F.margin_ranking_loss(a, b, y, margin=0.3, reduction=r),
        [(X5, True), (X5b, True), (_pm1(5), False)])
    CASES[f"hinge_{red}"] = (lambda F, L, x, y, r=red: F.hinge_embedding_loss(x, y, margin=1.5, reduction=r),
                             [(X34, True), (_pm1(3, 4), False)])
    CASES[f"cosine_embedding_{red}"] = (
        lambda F, L, a, b, y, r=red: F.cosine_embedding_loss(a, b, y, margin=0.2, reduction=r),
        [(X34, True), (X34b, True), (_pm1(3), False)])
    CASES[f"triplet_{red}"] = (
        lambda F, L, a, p, n, r=red: F.triplet_margin_loss(a, p, n, margin=2.0, reduction=r),
        [(X34, True), (X34b, True), (_u(3, 4), True)])
    CASES[f"multi_margin_{red}"] = (lambda F, L, x, y, r=red: F.multi_margin_loss(x, y, reduction=r),
                                    [(X34, True), (Y3, False)])
    CASES[f"multilabel_soft_margin_{red}"] = (
        lambda F, L, x, y, w, r=red: F.multilabel_soft_margin_loss(x, y, weight=w, reduction=r),
        [(X34, True), ((P34 > 0.5).astype(np.float64), False), (W4, False)])
    CASES[f"soft_margin_{red}"] = (lambda F, L, x, y, r=red: F.soft_margin_loss(x, y, reduction=r),
                                   [(X34, True), (_pm1(3, 4), False)])
    CASES[f"multilabel_margin_{red}"] = (
        lambda F, L, x, y, r=red: F.multilabel_margin_loss(x, y, reduction=r),
        [(X34, True), (np.array([[3, 0, -1, 1], [1, 2, 3, -1], [0, 0, -1, -1]], np.int64), False)])
for red in ("batchmean", "sum", "none"):
    CASES[f"kl_div_{red}"] = (lambda F, L, x, y, r=red: F.kl_div(x, y, reduction=r),
                              [(np.log(SOFT[::-1].copy()), True), (SOFT, True)])
    # zero targets (0 log 0 = 0); no target gradient there (torch's is NaN, gradcore's finite)
    CASES[f"kl_div_zero_t_{red}"] = (lambda F, L, x, y, r=red: F.kl_div(x, y, reduction=r),
                                     [(np.log(SOFT[::-1].copy()), True), (np.where(SOFT > 0.3, 0.0, SOFT), False)])
    CASES[f"kl_div_logt_{red}"] = (lambda F, L, x, y, r=red: F.kl_div(x, y, reduction=r, log_target=True),
                                   [(np.log(SOFT[::-1].copy()), True), (np.log(SOFT), True)])
CASES.update({
    "cross_entropy_unbatched": (lambda F, L, x, y: F.cross_entropy(x, y), [(X5, True), (np.array(3), False)]),
    "cross_entropy_all_options_nd_ls": (
        lambda F, L, x, y, w: F.cross_entropy(x, y, weight=w, ignore_index=1, label_smoothing=0.3),
        [(X3425, True), (Y325, False), (W4, False)]),
    "nll_unbatched": (lambda F, L, x, y: F.nll_loss(x, y), [(X5, True), (np.array(1), False)]),
    "poisson_full_nolog": (lambda F, L, x, y: F.poisson_nll_loss(x, y, log_input=False, full=True),
                           [(V34, True), (V34[::-1] * 3, False)]),
    "gaussian_full_homosc": (lambda F, L, x, y, v: F.gaussian_nll_loss(x, y, v, full=True),
                             [(X34, True), (X34b, True), (V34[:, :1].copy(), True)]),
    "gaussian_var_nolast": (lambda F, L, x, y, v: F.gaussian_nll_loss(x, y, v, eps=0.5),
                            [(X34, True), (X34b, True), (V34[:, 0].copy(), True)]),
    "triplet_swap_p1": (lambda F, L, a, p, n: F.triplet_margin_loss(a, p, n, p=1, swap=True, margin=3.0),
                        [(X34, True), (X34b, True), (_u(3, 4), True)]),
    "multi_margin_p2_w": (lambda F, L, x, y, w: F.multi_margin_loss(x, y, p=2, margin=0.8, weight=w),
                          [(X34, True), (Y3, False), (W4, False)]),
    "smooth_l1_beta0": (lambda F, L, x, y: F.smooth_l1_loss(x, y, beta=0.0), [(X34, True), (X34b, True)]),
    "mse_bcast_target": (lambda F, L, x, y: F.mse_loss(x, y), [(X34, True), (X34b[0].copy(), True)]),
    "softmax_dtype": (lambda F, L, x: F.softmax(x, dim=0, dtype=L.float64), [(X34, True)]),
    "log_softmax_dtype": (lambda F, L, x: F.log_softmax(x, 1, dtype=L.float64), [(X34, True)]),
    "softmin": (lambda F, L, x: F.softmin(x, dim=1), [(X34, True)]),
    "glu": (lambda F, L, x: F.glu(x, 1), [(X34, True)]),
    "glu_d0": (lambda F, L, x: F.glu(x, dim=0), [(X34[:2], True)]),
    "prelu_1": (lambda F, L, x, w: F.prelu(x, w), [(X34, True), (np.array([0.3]), True)]),
    "prelu_c": (lambda F, L, x, w: F.prelu(x, w), [(X3425, True), (W4 / 4, True)]),
    "normalize": (lambda F, L, x: F.normalize(x), [(X34, True)]),
    "normalize_p1_d0": (lambda F, L, x: F.normalize(x, p=1.0, dim=0), [(X34, True)]),
    "normalize_p3": (lambda F, L, x: F.normalize(x, p=3.0, dim=-1), [(X34, True)]),
    "cosine_similarity": (lambda F, L, a, b: F.cosine_similarity(a, b), [(X34, True), (X34b, True)]),
    "cosine_similarity_bcast": (lambda F, L, a, b: F.cosine_similarity(a, b, dim=-1),
                                [(X34, True), (X34b[:1].copy(), True)]),
    "pairwise_distance": (lambda F, L, a, b: F.pairwise_distance(a, b), [(X34, True), (X34b, True)]),
    "pairwise_distance_p1_keep": (lambda F, L, a, b: F.pairwise_distance(a, b, p=1.0, keepdim=True),
                                  [(X34, True), (X34b, True)]),
    "pairwise_distance_inf": (lambda F, L, a, b: F.pairwise_distance(a, b, p=math.inf), [(X34, True), (X34b, True)]),
    "linear": (lambda F, L, x, w, b: F.linear(x, w, b), [(X34, True), (_u(2, 4), True), (_u(2), True)]),
    "bilinear": (lambda F, L, a, b, w, c: F.bilinear(a, b, w, c),
                 [(X34, True), (_u(3, 5), True), (_u(2, 4, 5), True), (_u(2), True)]),
    "bilinear_nd_nobias": (lambda F, L, a, b, w: F.bilinear(a, b, w),
                           [(_u(2, 3, 4), True), (_u(2, 3, 5), True), (_u(2, 4, 5), True)]),
})


def _both(name: str, dtype: str) -> Tuple[List[Any], List[Any]]:
    fn, spec = CASES[name]
    out = []
    for lib, Fm in ((gc, F), (torch, tF)):
        ts = []
        for a, rg in spec:
            if a.dtype.kind == "f":
                ts.append(lib.tensor(a.astype(dtype), requires_grad=rg))
            else:
                ts.append(lib.tensor(a))
        y = fn(Fm, lib, *ts)
        up = np.random.default_rng(1).uniform(0.5, 1.5, tuple(y.shape)).astype(str(y.dtype).split(".")[-1])
        grads = lib.autograd.grad([y], [t for t in ts if t.requires_grad], [lib.tensor(up)], allow_unused=True) \
            if any(t.requires_grad for t in ts) else []
        out.append([y] + list(grads))
    return out[0], out[1]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", list(CASES))
def test_values_and_gradients_match_torch(name: str, dtype: str) -> None:
    rtol, atol = (1e-10, 1e-12) if dtype == "float64" else (2e-5, 2e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # mse broadcasting: checked in its own test
        got, want = _both(name, dtype)
    assert len(got) == len(want)
    for i, (g, t) in enumerate(zip(got, want)):
        if t is None:
            assert g is None or not np.asarray(g.detach().numpy()).any(), f"{name}: grad {i}"
            continue
        assert g is not None, f"{name}: grad {i} missing"
        assert tuple(g.shape) == tuple(t.shape), f"{name}: output {i} shape"
        assert str(g.dtype).split(".")[-1] == str(t.dtype).split(".")[-1], f"{name}: output {i} dtype"
        np.testing.assert_allclose(g.detach().numpy(), t.detach().numpy(), rtol=rtol, atol=atol,
                                   err_msg=f"{name} output {i}")
