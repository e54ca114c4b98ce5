"""Normalisation and channel-dropout layers (issue 15) against PyTorch (the oracle, when
installed) and float64 central differences.

* parity grids: BatchNorm1d/2d/3d over shapes (batch 1 included, non-square) x affine x
  track_running_stats x momentum (None / 0.1) x float32 / float64, three training steps
  (outputs, every gradient, the running-statistics trajectory, num_batches_tracked) and then
  eval; LayerNorm, GroupNorm, InstanceNorm, RMSNorm, LocalResponseNorm likewise (values and
  gradients);
* state_dict keys / shapes / dtypes as PyTorch's, loading PyTorch's state_dict;
* gradcheck (reverse and forward mode) in float64, gradgradcheck (create_graph) for every
  fused op (the composed backward of Note [Composed norms], ops/norm.cpp);
* thread-count independence of the fused kernels (bitwise);
* dropouts: channel-constant masks, keep rate and scale, eval identity, alpha dropout's
  preserved statistics (the masks come from gradcore's generator: statistics, not streams,
  are compared);
* bad input: PyTorch's error types and messages.
Blind spots: float16 / bfloat16 only through one smoke test (they compute in float32).
"""
from __future__ import annotations

import itertools
import warnings
from typing import Any, List, Optional, Tuple

import numpy as np
import pytest

import gradcore as gc
import gradcore.nn as nn
import gradcore.nn.functional as F
from gradcore.autograd import gradcheck, gradgradcheck

torch = pytest.importorskip("torch")

DTYPES = [(gc.float32, torch.float32, 2e-5), (gc.float64, torch.float64, 1e-10)]


def _np(t: Any) -> np.ndarray:
    return np.asarray(t.detach().numpy() if hasattr(t, "detach") else t)


def _close(a: Any, b: Any, tol: float, what: str = "") -> None:
    a, b = _np(a), _np(b)
    assert a.shape == b.shape, (what, a.shape, b.shape)
    scale = max(1.0, float(np.abs(b).max()) if b.size else 1.0)
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol * scale, err_msg=what)


def _copy_params(gm: Any, tm: Any) -> None:
    """The torch module's parameters and buffers into the gradcore one (same names)."""
    gm.load_state_dict(tm.state_dict())


def _randomise(tm: Any, rng: np.random.Generator) -> None:
    with torch.no_grad():
        for p in tm.parameters():
            p.copy_(torch.tensor(rng.standard_normal(tuple(p.shape))))


def _step(gm: Any, tm: Any, x: np.ndarray, gdt: Any, tdt: Any, tol: float, rng: np.random.Generator,
          what: str) -> None:
    """One forward + backward of both modules on x, compared (outputs, input and parameter
    gradients, buffers)."""
    gx = gc.tensor(x, dtype=gdt, requires_grad=True)
    tx = torch.tensor(x, dtype=tdt, requires_grad=True)
    gy, ty = gm(gx), tm(tx)
    _close(gy, ty, tol, what + " out")
    up = rng.standard_normal(tuple(ty.shape))
    gy.backward(gc.tensor(up, dtype=gdt))
    ty.backward(torch.tensor(up, dtype=tdt))
    _close(gx.grad, tx.grad, tol * 10, what + " dx")
    for (n, gp), (_, tp) in zip(gm.named_parameters(), tm.named_parameters()):
        _close(gp.grad, tp.grad, tol * 10, what + " d" + n)
        gp.grad = None
        tp.grad = None
    for (n, gb), (_, tb) in zip(gm.named_buffers(), tm.named_buffers()):
        _close(gb, tb, tol, what + " " + n)


BN_CASES = [
    (nn.BatchNorm1d, torch.nn.BatchNorm1d, (5, 3)),
    (nn.BatchNorm1d, torch.nn.BatchNorm1d, (1, 3, 7)),     # batch 1
    (nn.BatchNorm1d, torch.nn.BatchNorm1d, (4, 2, 19)),
    (nn.BatchNorm2d, torch.nn.BatchNorm2d, (2, 3, 5, 7)),  # non-square
    (nn.BatchNorm2d, torch.nn.BatchNorm2d, (1, 4, 16, 17)),
    (nn.BatchNorm3d, torch.nn.BatchNorm3d, (2, 3, 2, 3, 4)),
]


@pytest.mark.parametrize("case", range(len(BN_CASES)))
@pytest.mark.parametrize("affine,track", [(True, True), (False, True), (True, False), (False, False), ("nobias", True)])
@pytest.mark.parametrize("momentum", [0.1, None])
@pytest.mark.parametrize("dt", range(2))
def test_batchnorm_matches_torch_over_training_steps(case: int, affine: Any, track: bool,
                                                     momentum: Optional[float], dt: int) -> None:
    gcls, tcls, shape = BN_CASES[case]
    gdt, tdt, tol = DTYPES[dt]
    rng = np.random.default_rng(case * 31 + dt)
    c = shape[1]
    kw = dict(momentum=momentum, affine=bool(affine), track_running_stats=track, bias=affine != "nobias")
    tm = tcls(c, **kw).to(tdt)
    gm = gcls(c, **kw).to(gdt)
    _randomise(tm, rng)
    _copy_params(gm, tm)
    for step in range(3):
        x = rng.standard_normal(shape) * 2.5 + 1.5
        _step(gm, tm, x, gdt, tdt, tol, rng, f"train step {step}")
    if track:
        assert int(gm.num_batches_tracked.item()) == 3 and gm.num_batches_tracked.dtype == gc.int64
    gm.eval()
    tm.eval()
    _step(gm, tm, rng.standard_normal(shape), gdt, tdt, tol, rng, "eval")


def test_batchnorm_state_dict_and_loading_torch() -> None:
    for gcls, tcls in [(nn.BatchNorm1d, torch.nn.BatchNorm1d), (nn.BatchNorm2d, torch.nn.BatchNorm2d),
                       (nn.BatchNorm3d, torch.nn.BatchNorm3d)]:
        tm, gm = tcls(4), gcls(4)
        tsd, gsd = tm.state_dict(), gm.state_dict()
        assert list(gsd) == list(tsd) == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
        for k in tsd:
            assert tuple(gsd[k].shape) == tuple(tsd[k].shape), k
            assert str(gsd[k].dtype).split(".")[-1] == str(tsd[k].dtype).split(".")[-1], k
            np.testing.assert_array_equal(_np(gsd[k]), tsd[k].numpy())
        assert [n for n, _ in gm.named_parameters()] == ["weight", "bias"]
        assert [n for n, _ in gm.named_buffers()] == ["running_mean", "running_var", "num_batches_tracked"]
        tm.train()
        for _ in range(2):
            tm(torch.randn(8, 4, *([3] * (tm.weight.dim() and {nn.BatchNorm1d: 1, nn.BatchNorm2d: 2,
                                                                 nn.BatchNorm3d: 3}[gcls]))))
        gm.load_state_dict(tm.state_dict())
        assert int(gm.num_batches_tracked.item()) == 2
        np.testing.assert_allclose(_np(gm.running_var), tm.running_var.numpy(), rtol=1e-6)
        assert repr(gm) == repr(tm)
    gm = nn.BatchNorm2d(3, affine=False, track_running_stats=False)
    assert list(gm.state_dict()) == list(torch.nn.BatchNorm2d(3, affine=False, track_running_stats=False).state_dict())
    assert gm.running_mean is None and gm.weight is None
    # PyTorch's version-1 checkpoints have no num_batches_tracked; it loads as 0
    sd = dict(torch.nn.BatchNorm2d(3).state_dict())
    del sd["num_batches_tracked"]
    m = nn.BatchNorm2d(3)
    m.load_state_dict(sd)
    assert int(m.num_batches_tracked.item()) == 0


def test_batchnorm_reset_and_running_stats_semantics() -> None:
    m = nn.BatchNorm1d(3)
    m(gc.randn(6, 3) * 3 + 1)
    assert float(m.running_mean.abs().sum().item()) > 0
    m.reset_running_stats()
    assert _np(m.running_mean).tolist() == [0, 0, 0] and _np(m.running_var).tolist() == [1, 1, 1]
    assert int(m.num_batches_tracked.item()) == 0
    with gc.no_grad():
        m.weight.fill_(3.0)
    m.reset_parameters()
    assert _np(m.weight).tolist() == [1, 1, 1]
    # running statistics are never part of the graph
    x = gc.randn(6, 3, requires_grad=True)
    y = m(x)
    assert not m.running_mean.requires_grad and m.running_mean.grad_fn is None
    y.sum().backward()
    # eval without tracked statistics normalises with the batch statistics (as PyTorch)
    m2, t2 = nn.BatchNorm1d(3, track_running_stats=False).eval(), torch.nn.BatchNorm1d(3, track_running_stats=False).eval()
    xv = np.random.default_rng(0).standard_normal((5, 3))
    _close(m2(gc.tensor(xv, dtype=gc.float32)), t2(torch.tensor(xv, dtype=torch.float32)), 2e-5)


def test_functional_batch_norm_matches_torch() -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 3, 5))
    rm, rv = rng.standard_normal(3), rng.random(3) + 0.5
    w, b = rng.standard_normal(3), rng.standard_normal(3)
    for training in (True, False):
        grm, grv = gc.tensor(rm), gc.tensor(rv)
        trm, trv = torch.tensor(rm), torch.tensor(rv)
        gy = F.batch_norm(gc.tensor(x), grm, grv, gc.tensor(w), gc.tensor(b), training, 0.3, 1e-3)
        ty = torch.nn.functional.batch_norm(torch.tensor(x), trm, trv, torch.tensor(w), torch.tensor(b), training,
                                            0.3, 1e-3)
        _close(gy, ty, 1e-12)
        _close(grm, trm, 1e-12)
        _close(grv, trv, 1e-12)
    # training without running statistics
    _close(F.batch_norm(gc.tensor(x), None, None, training=True),
           torch.nn.functional.batch_norm(torch.tensor(x), None, None, training=True), 1e-12)


@pytest.mark.parametrize("shape,ns", [((4, 7), (7,)), ((2, 3, 5), (3, 5)), ((1, 6), (6,)), ((3, 2, 4, 33), (33,))])
@pytest.mark.parametrize("affine,bias", [(True, True), (True, False), (False, False)])
@pytest.mark.parametrize("dt", range(2))
def test_layernorm_matches_torch(shape: Tuple[int, ...], ns: Tuple[int, ...], affine: bool, bias: bool,
                                 dt: int) -> None:
    gdt, tdt, tol = DTYPES[dt]
    rng = np.random.default_rng(len(shape) + dt)
    tm = torch.nn.LayerNorm(ns, elementwise_affine=affine, bias=bias).to(tdt)
    gm = nn.LayerNorm(ns, elementwise_affine=affine, bias=bias).to(gdt)
    assert list(gm.state_dict()) == list(tm.state_dict()) and repr(gm) == repr(tm)
    _randomise(tm, rng)
    _copy_params(gm, tm)
    _step(gm, tm, rng.standard_normal(shape) * 3 + 2, gdt, tdt, tol, rng, "layer_norm")


@pytest.mark.parametrize("shape,groups", [((2, 6, 5), 3), ((1, 4, 3, 5), 2), ((3, 4), 4), ((2, 8, 2, 2, 3), 1)])
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("dt", range(2))
def test_groupnorm_matches_torch(shape: Tuple[int, ...], groups: int, affine: bool, dt: int) -> None:
    gdt, tdt, tol = DTYPES[dt]
    rng = np.random.default_rng(groups + dt)
    tm = torch.nn.GroupNorm(groups, shape[1], affine=affine).to(tdt)
    gm = nn.GroupNorm(groups, shape[1], affine=affine).to(gdt)
    assert list(gm.state_dict()) == list(tm.state_dict()) and repr(gm) == repr(tm)
    _randomise(tm, rng)
    _copy_params(gm, tm)
    _step(gm, tm, rng.standard_normal(shape) * 2 - 1, gdt, tdt, tol, rng, "group_norm")


IN_CASES = [
    (nn.InstanceNorm1d, torch.nn.InstanceNorm1d, (3, 4, 6)),
    (nn.InstanceNorm1d, torch.nn.InstanceNorm1d, (4, 6)),        # no batch dim
    (nn.InstanceNorm2d, torch.nn.InstanceNorm2d, (2, 3, 4, 5)),
    (nn.InstanceNorm2d, torch.nn.InstanceNorm2d, (3, 4, 5)),     # no batch dim
    (nn.InstanceNorm3d, torch.nn.InstanceNorm3d, (2, 2, 3, 2, 4)),
]


@pytest.mark.parametrize("case", range(len(IN_CASES)))
@pytest.mark.parametrize("affine,track", [(False, False), (True, False), (True, True), (False, True)])
@pytest.mark.parametrize("dt", range(2))
def test_instancenorm_matches_torch(case: int, affine: bool, track: bool, dt: int) -> None:
    gcls, tcls, shape = IN_CASES[case]
    gdt, tdt, tol = DTYPES[dt]
    rng = np.random.default_rng(case + 7 * dt)
    c = shape[-gcls._no_batch_dim]
    tm = tcls(c, affine=affine, track_running_stats=track).to(tdt)
    gm = gcls(c, affine=affine, track_running_stats=track).to(gdt)
    assert list(gm.state_dict()) == list(tm.state_dict()) and repr(gm) == repr(tm)
    _randomise(tm, rng)
    _copy_params(gm, tm)
    for step in range(2):
        _step(gm, tm, rng.standard_normal(shape) + 1, gdt, tdt, tol, rng, f"instance_norm {step}")
    gm.eval()
    tm.eval()
    _step(gm, tm, rng.standard_normal(shape), gdt, tdt, tol, rng, "instance_norm eval")


@pytest.mark.parametrize("shape,ns", [((4, 7), (7,)), ((2, 3, 5), (3, 5)), ((1, 40), 40)])
@pytest.mark.parametrize("eps", [None, 1e-3])
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("dt", range(2))
def test_rmsnorm_matches_torch(shape: Tuple[int, ...], ns: Any, eps: Optional[float], affine: bool, dt: int) -> None:
    gdt, tdt, tol = DTYPES[dt]
    rng = np.random.default_rng(dt)
    tm = torch.nn.RMSNorm(ns, eps=eps, elementwise_affine=affine).to(tdt)
    gm = nn.RMSNorm(ns, eps=eps, elementwise_affine=affine).to(gdt)
    assert list(gm.state_dict()) == list(tm.state_dict()) and repr(gm) == repr(tm)
    _randomise(tm, rng)
    _copy_params(gm, tm)
    # small values: eps = finfo.eps must matter to be tested
    _step(gm, tm, rng.standard_normal(shape) * (1e-3 if dt == 0 else 1e-7), gdt, tdt, tol * 10, rng, "rms_norm")


@pytest.mark.parametrize("shape", [(2, 6, 5), (1, 7, 3, 4), (2, 5, 2, 3, 2)])
@pytest.mark.parametrize("size", [1, 2, 3, 5, 18, 40])
def test_local_response_norm_matches_torch(shape: Tuple[int, ...], size: int) -> None:
    rng = np.random.default_rng(size)
    tm, gm = torch.nn.LocalResponseNorm(size, alpha=0.1, beta=0.8, k=1.5), nn.LocalResponseNorm(size, 0.1, 0.8, 1.5)
    assert repr(gm) == repr(tm)
    _step(gm, tm, rng.standard_normal(shape) * 2, gc.float64, torch.float64, 1e-10, rng, "lrn")


def test_half_precision_inputs_compute_in_float32() -> None:
    x = np.random.default_rng(3).standard_normal((4, 3, 5))
    for gdt, tdt in [(gc.float16, torch.float16), (gc.bfloat16, torch.bfloat16)]:
        gy = F.layer_norm(gc.tensor(x, dtype=gdt), (5,))
        ty = torch.nn.functional.layer_norm(torch.tensor(x, dtype=tdt), (5,))
        assert gy.dtype == gdt
        np.testing.assert_allclose(_np(gy.float()), ty.float().numpy(), atol=3e-2)
        gy = F.batch_norm(gc.tensor(x, dtype=gdt), None, None, training=True)
        assert gy.dtype == gdt


# ---- gradcheck / gradgradcheck (float64), forward mode included ----------------------------

def _t(rng: np.random.Generator, *shape: int, scale: float = 1.0, shift: float = 0.0) -> gc.Tensor:
    return gc.tensor(rng.standard_normal(shape) * scale + shift, dtype=gc.float64, requires_grad=True)


def _norm_cases() -> List[Tuple[str, Any, List[Any]]]:
    rng = np.random.default_rng(5)
    rm, rv = gc.tensor(rng.standard_normal(3)), gc.tensor(rng.random(3) + 0.5)
    return [
        ("batch_norm_train", lambda x, w, b: F.batch_norm(x, None, None, w, b, True), [_t(rng, 3, 3, 4), _t(rng, 3), _t(rng, 3)]),
        ("batch_norm_train_2d", lambda x, w, b: F.batch_norm(x, None, None, w, b, True),
         [_t(rng, 4, 3), _t(rng, 3), _t(rng, 3)]),
        ("batch_norm_eval", lambda x, w, b: F.batch_norm(x, rm, rv, w, b, False), [_t(rng, 2, 3, 4), _t(rng, 3), _t(rng, 3)]),
        ("batch_norm_noaffine", lambda x: F.batch_norm(x, None, None, training=True), [_t(rng, 2, 3, 5)]),
        ("layer_norm", lambda x, w, b: F.layer_norm(x, (2, 3), w, b), [_t(rng, 3, 2, 3), _t(rng, 2, 3), _t(rng, 2, 3)]),
        ("layer_norm_noaffine", lambda x: F.layer_norm(x, (5,)), [_t(rng, 3, 5)]),
        ("group_norm", lambda x, w, b: F.group_norm(x, 2, w, b), [_t(rng, 2, 4, 3), _t(rng, 4), _t(rng, 4)]),
        ("instance_norm", lambda x, w, b: F.instance_norm(x, weight=w, bias=b), [_t(rng, 2, 3, 4), _t(rng, 3), _t(rng, 3)]),
        ("rms_norm", lambda x, w: F.rms_norm(x, (4,), w, 1e-5), [_t(rng, 3, 4), _t(rng, 4)]),
        ("local_response_norm", lambda x: F.local_response_norm(x, 3, 0.5, 0.75, 1.0), [_t(rng, 2, 4, 3)]),
    ]


@pytest.mark.parametrize("idx", range(10))
def test_gradcheck_reverse_and_forward(idx: int) -> None:
    name, fn, args = _norm_cases()[idx]
    assert gradcheck(fn, args, check_forward_ad=True, atol=1e-6, rtol=1e-4), name


@pytest.mark.parametrize("idx", [0, 1, 2, 4, 6, 8])
def test_gradgradcheck_create_graph(idx: int) -> None:
    name, fn, args = _norm_cases()[idx]
    assert gradgradcheck(fn, args, atol=1e-6, rtol=1e-4), name


def test_double_backward_matches_torch() -> None:
    rng = np.random.default_rng(9)
    x, w, b = rng.standard_normal((4, 3, 5)), rng.standard_normal(3), rng.standard_normal(3)
    for gfn, tfn in [(lambda x, w, b: F.batch_norm(x, None, None, w, b, True),
                      lambda x, w, b: torch.nn.functional.batch_norm(x, None, None, w, b, True)),
                     (lambda x, w, b: F.layer_norm(x.reshape(4, 5, 3), (3,), w, b),
                      lambda x, w, b: torch.nn.functional.layer_norm(x.reshape(4, 5, 3), (3,), w, b))]:
        gs = [gc.tensor(a, requires_grad=True, dtype=gc.float64) for a in (x, w, b)]
        ts = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
        gy, ty = gfn(*gs), tfn(*ts)
        gg = gc.grad((gy * gy * gy).sum(), gs, create_graph=True)
        tg = torch.autograd.grad((ty * ty * ty).sum(), ts, create_graph=True)
        gl = sum((g * g).sum() for g in gg)
        tl = sum((g * g).sum() for g in tg)
        gl.backward()
        tl.backward()
        for g, t in zip(gs, ts):
            _close(g.grad, t.grad, 1e-9)


def test_forward_ad_matches_torch_jvp() -> None:
    from gradcore.autograd import forward_ad as fw
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch's own import-time jit warning
        import torch.autograd.forward_ad as tfw
    rng = np.random.default_rng(11)
    x, v = rng.standard_normal((4, 3, 5)), rng.standard_normal((4, 3, 5))
    w = rng.standard_normal(3)
    with fw.dual_level():
        gx = fw.make_dual(gc.tensor(x), gc.tensor(v))
        gt = fw.unpack_dual(F.batch_norm(gx, None, None, gc.tensor(w), None, True)).tangent
        gl = fw.unpack_dual(F.layer_norm(gx, (5,))).tangent
    with warnings.catch_warnings(), tfw.dual_level():
        warnings.simplefilter("ignore", DeprecationWarning)
        tx = tfw.make_dual(torch.tensor(x), torch.tensor(v))
        tt = tfw.unpack_dual(torch.nn.functional.batch_norm(tx, None, None, torch.tensor(w), None, True)).tangent
        tl = tfw.unpack_dual(torch.nn.functional.layer_norm(tx, (5,))).tangent
    _close(gt, tt, 1e-10)
    _close(gl, tl, 1e-10)


# ---- thread-count independence ----------------------------------------------------------

def test_fused_kernels_bitwise_identical_for_any_thread_count() -> None:
    rng = np.random.default_rng(13)
    x = rng.standard_normal((16, 16, 64, 64)).astype(np.float32)  # large enough to split
    up = rng.standard_normal(x.shape).astype(np.float32)
    w = rng.standard_normal(16).astype(np.float32)

    def run() -> List[np.ndarray]:
        rng2 = np.random.default_rng(14)
        out = []
        lw = gc.tensor(rng2.standard_normal(512).astype(np.float32), requires_grad=True)
        for fn in (lambda t, w: F.batch_norm(t, None, None, w, w, True),
                   lambda t, w: F.batch_norm(t.reshape(16384, 64), None, None, None, None, True),  # channel blocks
                   lambda t, w: F.layer_norm(t.reshape(2048, 512), (512,), lw, lw),
                   lambda t, w: F.rms_norm(t.reshape(2048, 512), (512,), lw),
                   lambda t, w: F.group_norm(t, 4, w, w)):
            t, ww = gc.tensor(x, requires_grad=True), gc.tensor(w, requires_grad=True)
            y = fn(t, ww)
            y.backward(gc.tensor(up).reshape(tuple(y.shape)))
            out += [_np(y).copy(), _np(t.grad).copy()] + ([_np(ww.grad).copy()] if ww.grad is not None else [])
            if lw.grad is not None:
                out.append(_np(lw.grad).copy())
                lw.grad = None
        return out

    before = gc.get_num_threads()
    try:
        gc.set_num_threads(1)
        one = run()
        gc.set_num_threads(max(2, before))
        many = run()
    finally:
        gc.set_num_threads(before)
    for a, b in zip(one, many):
        assert np.array_equal(a, b)


# ---- dropouts -----------------------------------------------------------------------------

@pytest.mark.parametrize("cls,shape", [(nn.Dropout1d, (64, 32, 5)), (nn.Dropout1d, (32, 5)),
                                       (nn.Dropout2d, (64, 32, 3, 3)), (nn.Dropout3d, (32, 32, 2, 2, 2)),
                                       (nn.Dropout3d, (32, 2, 2, 2))])
def test_channel_dropout_masks_and_statistics(cls: Any, shape: Tuple[int, ...]) -> None:
    gc.manual_seed(0)
    p = 0.3
    m = cls(p)
    x = gc.ones(*shape, requires_grad=True)
    y = m(x)
    y.sum().backward()
    ya = _np(y)
    nspatial = {nn.Dropout1d: 1, nn.Dropout2d: 2, nn.Dropout3d: 3}[cls]
    per_channel = ya.reshape(ya.shape[: ya.ndim - nspatial] + (-1,))
    assert np.all(per_channel.min(-1) == per_channel.max(-1))  # one draw per channel
    vals = np.unique(ya)
    assert np.all(np.isclose(vals, 0.0) | np.isclose(vals, 1 / (1 - p), rtol=1e-6))
    draws = per_channel[..., 0]
    keep = float((draws != 0).mean())
    assert abs(keep - (1 - p)) < 4 * np.sqrt(p * (1 - p) / draws.size)  # 4 sigma
    np.testing.assert_array_equal(_np(x.grad), ya)  # gradient = mask * scale
    m.eval()
    np.testing.assert_array_equal(_np(m(x)), _np(x))  # identity (PyTorch returns squeeze(unsqueeze(x)) unbatched)
    assert repr(m) == repr({nn.Dropout1d: torch.nn.Dropout1d, nn.Dropout2d: torch.nn.Dropout2d,
                            nn.Dropout3d: torch.nn.Dropout3d}[cls](p))


def test_alpha_dropout_keeps_selu_statistics() -> None:
    gc.manual_seed(1)
    x = gc.randn(200000)
    for p in (0.2, 0.5):
        y = F.alpha_dropout(x, p, training=True)
        ya = _np(y)
        assert abs(ya.mean()) < 0.02 and abs(ya.std() - 1) < 0.02
        assert F.alpha_dropout(x, p, training=False) is x
    assert float(F.alpha_dropout(x, 1.0, training=True).abs().sum().item()) == 0.0
    m = nn.FeatureAlphaDropout(0.5)
    y = _np(m(gc.randn(4, 64, 10)))
    assert np.all(np.isclose(y.std(-1), 0) | (y.std(-1) > 0.05))
    assert repr(nn.AlphaDropout(0.2)) == repr(torch.nn.AlphaDropout(0.2))


# ---- bad input ----------------------------------------------------------------------------

def _raises_like_torch(gfn: Any, tfn: Any, match: str) -> None:
    with pytest.raises(Exception) as te:
        tfn()
    with pytest.raises(type(te.value) if not isinstance(te.value, RuntimeError) else RuntimeError, match=match):
        gfn()


def test_bad_inputs_raise_torchs_errors() -> None:
    cases = [
        (lambda: nn.BatchNorm1d(3)(gc.zeros(2, 3, 4, 5)), lambda: torch.nn.BatchNorm1d(3)(torch.zeros(2, 3, 4, 5)),
         r"expected 2D or 3D input \(got 4D input\)"),
        (lambda: nn.BatchNorm2d(3)(gc.zeros(2, 3)), lambda: torch.nn.BatchNorm2d(3)(torch.zeros(2, 3)),
         r"expected 4D input \(got 2D input\)"),
        (lambda: nn.BatchNorm3d(3)(gc.zeros(2, 3)), lambda: torch.nn.BatchNorm3d(3)(torch.zeros(2, 3)),
         r"expected 5D input"),
        (lambda: nn.BatchNorm1d(3)(gc.zeros(1, 3)), lambda: torch.nn.BatchNorm1d(3)(torch.zeros(1, 3)),
         "Expected more than 1 value per channel when training"),
        (lambda: nn.BatchNorm1d(4)(gc.zeros(2, 3)), lambda: torch.nn.BatchNorm1d(4)(torch.zeros(2, 3)),
         "running_mean should contain 3 elements not 4"),
        (lambda: nn.GroupNorm(2, 5), lambda: torch.nn.GroupNorm(2, 5), r"num_channels \(5\) must be divisible by num_groups \(2\)"),
        (lambda: F.group_norm(gc.zeros(2, 5, 3), 2), lambda: torch.nn.functional.group_norm(torch.zeros(2, 5, 3), 2),
         "divisible by num_groups"),
        (lambda: F.layer_norm(gc.zeros(2, 3), (4,)), lambda: torch.nn.functional.layer_norm(torch.zeros(2, 3), (4,)),
         r"Given normalized_shape=\[4\], expected input with shape \[\*, 4\], but got input of size\[2, 3\]"),
        (lambda: F.layer_norm(gc.zeros(2, 4), (4,), gc.ones(3)),
         lambda: torch.nn.functional.layer_norm(torch.zeros(2, 4), (4,), torch.ones(3)),
         "Expected weight to be of same shape as normalized_shape"),
        (lambda: F.rms_norm(gc.zeros(2, 3), (4,)), lambda: torch.nn.functional.rms_norm(torch.zeros(2, 3), (4,)),
         "normalized_shape"),
        (lambda: F.local_response_norm(gc.zeros(2, 3), 2),
         lambda: torch.nn.functional.local_response_norm(torch.zeros(2, 3), 2), r"Expected 3D or higher"),
        (lambda: F.dropout1d(gc.zeros(2, 3, 4, 5)), lambda: torch.nn.functional.dropout1d(torch.zeros(2, 3, 4, 5)),
         "dropout1d: Expected 2D or 3D input, but received a 4D input"),
        (lambda: nn.Dropout2d(1.5), lambda: torch.nn.Dropout2d(1.5), "dropout probability has to be between 0 and 1"),
        (lambda: F.alpha_dropout(gc.zeros(3), -0.1), lambda: torch.nn.functional.alpha_dropout(torch.zeros(3), -0.1),
         "dropout probability"),
        (lambda: nn.InstanceNorm1d(3)(gc.zeros(2, 3, 4, 5)),
         lambda: torch.nn.InstanceNorm1d(3)(torch.zeros(2, 3, 4, 5)), r"expected 2D or 3D input \(got 4D input\)"),
        (lambda: nn.InstanceNorm2d(3, affine=True)(gc.zeros(2, 4, 3, 3)),
         lambda: torch.nn.InstanceNorm2d(3, affine=True)(torch.zeros(2, 4, 3, 3)),
         r"expected input's size at dim=1 to match num_features \(3\), but got: 4"),
        (lambda: F.instance_norm(gc.zeros(2, 3, 1)), lambda: torch.nn.functional.instance_norm(torch.zeros(2, 3, 1)),
         "Expected more than 1 spatial element when training"),
    ]
    for gfn, tfn, match in cases:
        _raises_like_torch(gfn, tfn, match)
    with pytest.raises(RuntimeError):
        F.batch_norm(gc.zeros(2, 3), None, None, training=False)
    with pytest.raises(RuntimeError):
        F.layer_norm(gc.zeros(2, 3, dtype=gc.int64), (3,))
    for fn, rank in [(F.dropout2d, 5), (F.dropout3d, 3)]:
        with warnings.catch_warnings(record=True) as rec:
            warnings.simplefilter("always")
            fn(gc.zeros(*([2] * rank)))
        assert any("deprecated" in str(r.message) for r in rec)
    with pytest.warns(UserWarning, match="interpreted as shape"):
        F.dropout2d(gc.zeros(2, 3, 4))


# ---- fusion -------------------------------------------------------------------------------

def test_fuse_linear_bn_eval_matches() -> None:
    rng = np.random.default_rng(17)
    lin, bn = nn.Linear(4, 3), nn.BatchNorm1d(3)
    for _ in range(3):
        bn(lin(gc.tensor(rng.standard_normal((8, 4)), dtype=gc.float32)))
    lin.eval()
    bn.eval()
    fused = nn.utils.fuse_linear_bn_eval(lin, bn)
    x = gc.tensor(rng.standard_normal((5, 4)), dtype=gc.float32)
    _close(fused(x), bn(lin(x)), 1e-5)
    w, b = nn.utils.fuse_conv_bn_weights(lin.weight, None, bn.running_mean, bn.running_var, bn.eps, bn.weight,
                                         bn.bias)
    tw, tb = torch.nn.utils.fuse_conv_bn_weights(torch.tensor(_np(lin.weight)), None,
                                                 torch.tensor(_np(bn.running_mean)), torch.tensor(_np(bn.running_var)),
                                                 bn.eps, torch.tensor(_np(bn.weight)), torch.tensor(_np(bn.bias)))
    _close(w, tw, 1e-6)
    _close(b, tb, 1e-6)
    assert isinstance(w, nn.Parameter)


@pytest.mark.skipif(not hasattr(nn, "Conv2d"), reason="nn.Conv2d is added on a parallel branch; re-run after merge")
@pytest.mark.parametrize("transpose", [False, True])
def test_fuse_conv_bn_eval_matches_unfused(transpose: bool) -> None:
    rng = np.random.default_rng(19)
    if transpose:
        if not hasattr(nn, "ConvTranspose2d"):
            pytest.skip("nn.ConvTranspose2d not merged yet")
        conv = nn.ConvTranspose2d(4, 6, 3)
    else:
        conv = nn.Conv2d(4, 6, 3, groups=2)
    bn = nn.BatchNorm2d(6)
    for _ in range(3):
        bn(conv(gc.tensor(rng.standard_normal((2, 4, 7, 8)), dtype=gc.float32)))
    conv.eval()
    bn.eval()
    fused = nn.utils.fuse_conv_bn_eval(conv, bn, transpose=transpose)
    x = gc.tensor(rng.standard_normal((2, 4, 7, 8)), dtype=gc.float32)
    _close(fused(x), bn(conv(x)), 1e-4)


def test_exports() -> None:
    for name in ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "LayerNorm", "GroupNorm", "InstanceNorm1d",
                 "InstanceNorm2d", "InstanceNorm3d", "RMSNorm", "LocalResponseNorm", "Dropout1d", "Dropout2d",
                 "Dropout3d", "AlphaDropout", "FeatureAlphaDropout"]:
        assert name in nn.__all__ and hasattr(torch.nn, name)
    for name in ["batch_norm", "layer_norm", "group_norm", "instance_norm", "rms_norm", "local_response_norm",
                 "dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout"]:
        assert name in F.__all__ and hasattr(torch.nn.functional, name)
    assert list(itertools.islice(nn.BatchNorm2d(2).parameters(), 3)) != []
