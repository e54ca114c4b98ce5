"""Gradient diagnostics: module hooks (vs NumPy formulas and torch), grad_stats, GradientMonitor.

Oracles: hand-derived gradients of ``y = x W^T + b`` in NumPy, and PyTorch's module hooks
(``register_forward_pre_hook``, ``register_forward_hook``, ``register_full_backward_hook``,
``register_full_backward_pre_hook``) on the same network with copied weights, in float64.
Tanh and Sigmoid keep the networks smooth (no ReLU kinks in gradient comparisons).
"""
from __future__ import annotations

import os
import math
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any, List, Optional, Tuple

import numpy as np
import pytest

import gradcore as gc
import gradcore.nn as nn
import gradcore.nn.functional as F
from gradcore.data import DataLoader, TensorDataset
from gradcore.nn.hooks import RemovableHandle
from gradcore.nn.utils import ActivationStats, GradientMonitor, GradientWarning, grad_stats
from gradcore.train import fit

# The source tree (GRADCORE_SOURCE_ROOT when tools/test_wheel.sh runs a copy of the tests).
ROOT = Path(os.environ.get("GRADCORE_SOURCE_ROOT") or Path(__file__).resolve().parents[1])


def _np(t: Optional[gc.Tensor]) -> Optional[np.ndarray]:
    return None if t is None else np.array(t.detach().numpy(), copy=True)


def _net() -> nn.Sequential:
    gc.manual_seed(3)
    return nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double()


def _torch_twin(m: nn.Sequential) -> Any:
    torch = pytest.importorskip("torch")
    tm = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2)).double()
    with torch.no_grad():
        for (k, p), (tk, tp) in zip(m.named_parameters(), tm.named_parameters()):
            assert k == tk
            tp.copy_(torch.from_numpy(_np(p)))
    return tm


def _assert_grads_equal(ours: Tuple[Any, ...], theirs: Tuple[Any, ...]) -> None:
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        assert (a is None) == (b is None), (a, b)
        if a is not None:
            np.testing.assert_allclose(_np(a), b.detach().numpy(), rtol=1e-12, atol=1e-14)


X = np.random.default_rng(0).normal(size=(5, 3))


# ---- forward hooks ----------------------------------------------------------------------

def test_forward_pre_hook_modifies_input_like_torch() -> None:
    m = _net()
    tm = _torch_twin(m)
    import torch

    seen: List[Any] = []
    h = m.register_forward_pre_hook(lambda mod, args: (args[0] * 2.0,))
    m[2].register_forward_pre_hook(lambda mod, args: seen.append((mod, len(args))))  # returns None: no change
    tm.register_forward_pre_hook(lambda mod, args: (args[0] * 2.0,))
    x = gc.tensor(X, dtype=gc.float64)
    out = m(x)
    np.testing.assert_allclose(out.detach().numpy(), tm(torch.from_numpy(X)).detach().numpy(), rtol=1e-12)
    assert seen == [(m[2], 1)]
    h.remove()
    np.testing.assert_allclose(m(x).detach().numpy(), tm[2](tm[1](tm[0](torch.from_numpy(X)))).detach().numpy(), rtol=1e-12)
    # A non-tuple return value is the single argument.
    with m.register_forward_pre_hook(lambda mod, args: args[0] * 0.0):
        np.testing.assert_allclose(m(x).detach().numpy(), m[2](m[1](m[0](gc.zeros(5, 3, dtype=gc.float64)))).detach().numpy())


def test_forward_hook_modifies_output_and_sees_args() -> None:
    m = _net()
    tm = _torch_twin(m)
    import torch

    got: List[Any] = []

    def hook(mod: nn.Module, args: Tuple[Any, ...], out: gc.Tensor) -> gc.Tensor:
        got.append((mod, args[0].shape, out.shape))
        return out * 3.0 + 1.0

    m[1].register_forward_hook(hook)
    tm[1].register_forward_hook(lambda mod, args, out: out * 3.0 + 1.0)
    x = gc.tensor(X, dtype=gc.float64, requires_grad=True)
    tx = torch.tensor(X, requires_grad=True)
    y, ty = m(x), tm(tx)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-12)
    assert got == [(m[1], (5, 4), (5, 4))]
    # The replacement is part of the graph: gradients match torch's.
    (y ** 2).sum().backward()
    (ty ** 2).sum().backward()
    np.testing.assert_allclose(x.grad.detach().numpy(), tx.grad.detach().numpy(), rtol=1e-11)
    np.testing.assert_allclose(m[0].weight.grad.detach().numpy(), tm[0].weight.grad.detach().numpy(), rtol=1e-11)


def test_hooks_on_sequential_child_fire_despite_fusion() -> None:
    """Sequential fuses Linear + activation; a hooked child must still see its own input/output."""
    gc.manual_seed(0)
    m = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2), nn.Sigmoid())
    x = gc.randn(6, 3)
    fused = m(x).detach().numpy().copy()
    outs: List[np.ndarray] = []
    with m[1].register_forward_hook(lambda mod, args, out: outs.append(_np(out))), \
            m[2].register_forward_pre_hook(lambda mod, args: outs.append(_np(args[0]))):
        assert m[1]._has_hooks and m[2]._has_hooks
        np.testing.assert_allclose(m(x).detach().numpy(), fused, rtol=1e-6, atol=1e-7)
    assert len(outs) == 2
    np.testing.assert_allclose(outs[0], np.maximum(_np(F.linear(x, m[0].weight, m[0].bias)), 0), rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(outs[0], outs[1])
    assert not m[1]._has_hooks and not m[2]._has_hooks  # back to the fused fast path
    m(x)
    assert len(outs) == 2


# ---- backward hooks ---------------------------------------------------------------------

def test_full_backward_hook_linear_matches_numpy() -> None:
    """y = x W^T + b, L = sum(y * G): grad_output = G, grad_input = G W."""
    rng = np.random.default_rng(1)
    lin = nn.Linear(3, 4).double()
    G = rng.normal(size=(5, 4))
    rec: List[Any] = []
    lin.register_full_backward_hook(lambda mod, gi, go: rec.append((mod, gi, go)))
    x = gc.tensor(X, dtype=gc.float64, requires_grad=True)
    (lin(x) * gc.tensor(G, dtype=gc.float64)).sum().backward()
    assert len(rec) == 1
    mod, gi, go = rec[0]
    assert mod is lin and len(gi) == 1 and len(go) == 1
    np.testing.assert_allclose(_np(go[0]), G, rtol=1e-13)
    np.testing.assert_allclose(_np(gi[0]), G @ lin.weight.detach().numpy(), rtol=1e-13)
    np.testing.assert_allclose(x.grad.detach().numpy(), G @ lin.weight.detach().numpy(), rtol=1e-13)
    np.testing.assert_allclose(lin.weight.grad.detach().numpy(), G.T @ X, rtol=1e-13)


@pytest.mark.parametrize("x_requires_grad", [True, False])
def test_full_backward_hooks_match_torch(x_requires_grad: bool) -> None:
    m = _net()
    tm = _torch_twin(m)
    import torch

    rec: List[Any] = []
    trec: List[Any] = []
    pre: List[Any] = []
    tpre: List[Any] = []
    for i, (mod, tmod) in enumerate([(m[0], tm[0]), (m[1], tm[1]), (m[2], tm[2]), (m, tm)]):
        mod.register_full_backward_hook(lambda md, gi, go, i=i: rec.append((i, gi, go)))
        tmod.register_full_backward_hook(lambda md, gi, go, i=i: trec.append((i, gi, go)))
        mod.register_full_backward_pre_hook(lambda md, go, i=i: pre.append((i, go)))
        tmod.register_full_backward_pre_hook(lambda md, go, i=i: tpre.append((i, go)))
    x = gc.tensor(X, dtype=gc.float64, requires_grad=x_requires_grad)
    tx = torch.tensor(X, requires_grad=x_requires_grad)
    with warnings.catch_warnings():
        # torch warns that a full backward hook fires at the outputs when no input requires grad
        warnings.simplefilter("ignore", UserWarning)
        (m(x) ** 2).sum().backward()
        (tm(tx) ** 2).sum().backward()
    assert [r[0] for r in rec] == [r[0] for r in trec]
    assert [r[0] for r in pre] == [r[0] for r in tpre]
    for (i, gi, go), (_, tgi, tgo) in zip(rec, trec):
        _assert_grads_equal(gi, tgi)
        _assert_grads_equal(go, tgo)
    for (_, go), (_, tgo) in zip(pre, tpre):
        _assert_grads_equal(go, tgo)
    if not x_requires_grad:
        assert rec[-1][1] == (None,) and [r[1][0] is None for r in rec if r[0] == 0] == [True]


def test_backward_hook_replacing_grad_input_changes_upstream_like_torch() -> None:
    m = _net()
    tm = _torch_twin(m)
    import torch

    # Scale the gradient leaving the Tanh by 3: everything upstream (Linear 0, x) triples.
    m[1].register_full_backward_hook(lambda mod, gi, go: (gi[0] * 3.0,))
    tm[1].register_full_backward_hook(lambda mod, gi, go: (gi[0] * 3.0,))
    x = gc.tensor(X, dtype=gc.float64, requires_grad=True)
    tx = torch.tensor(X, requires_grad=True)
    (m(x) ** 2).sum().backward()
    (tm(tx) ** 2).sum().backward()
    np.testing.assert_allclose(x.grad.detach().numpy(), tx.grad.detach().numpy(), rtol=1e-11)
    np.testing.assert_allclose(m[0].weight.grad.detach().numpy(), tm[0].weight.grad.detach().numpy(), rtol=1e-11)
    np.testing.assert_allclose(m[2].weight.grad.detach().numpy(), tm[2].weight.grad.detach().numpy(), rtol=1e-11)

    plain = _net()
    xp = gc.tensor(X, dtype=gc.float64, requires_grad=True)
    (plain(xp) ** 2).sum().backward()
    np.testing.assert_allclose(x.grad.detach().numpy(), 3 * xp.grad.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(m[0].weight.grad.detach().numpy(), 3 * plain[0].weight.grad.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(m[2].weight.grad.detach().numpy(), plain[2].weight.grad.detach().numpy(), rtol=1e-12)


def test_backward_pre_hook_replacing_grad_output_like_torch() -> None:
    m = _net()
    tm = _torch_twin(m)
    import torch

    seen: List[Any] = []
    m[2].register_full_backward_pre_hook(lambda mod, go: (go[0] * -2.0,))
    m[2].register_full_backward_hook(lambda mod, gi, go: seen.append(_np(go[0])))
    tm[2].register_full_backward_pre_hook(lambda mod, go: (go[0] * -2.0,))
    x = gc.tensor(X, dtype=gc.float64, requires_grad=True)
    tx = torch.tensor(X, requires_grad=True)
    y = m(x)
    (y ** 2).sum().backward()
    (tm(tx) ** 2).sum().backward()
    np.testing.assert_allclose(m[2].weight.grad.detach().numpy(), tm[2].weight.grad.detach().numpy(), rtol=1e-11)
    np.testing.assert_allclose(x.grad.detach().numpy(), tx.grad.detach().numpy(), rtol=1e-11)
    np.testing.assert_allclose(seen[0], -2.0 * 2.0 * y.detach().numpy(), rtol=1e-12)  # the full hook sees the new one


def test_backward_hook_with_mixed_inputs_matches_torch() -> None:
    """Positional non-tensor and no-grad inputs get None in grad_input; two outputs."""
    torch = pytest.importorskip("torch")

    class Mix(nn.Module):
        def forward(self, a: Any, k: float, b: Any, c: Any) -> Tuple[Any, Any, float]:
            return a * b * k, (a + c).tanh(), 7.0

    class TMix(torch.nn.Module):
        def forward(self, a: Any, k: float, b: Any, c: Any) -> Tuple[Any, Any, float]:
            return a * b * k, (a + c).tanh(), 7.0

    rng = np.random.default_rng(2)
    A, B, C = (rng.normal(size=(2, 3)) for _ in range(3))
    rec: List[Any] = []
    trec: List[Any] = []
    mod, tmod = Mix(), TMix()
    mod.register_full_backward_hook(lambda md, gi, go: rec.append((gi, go)))
    tmod.register_full_backward_hook(lambda md, gi, go: trec.append((gi, go)))
    a, b, c = (gc.tensor(v, dtype=gc.float64, requires_grad=r) for v, r in ((A, True), (B, False), (C, True)))
    ta, tb, tc = (torch.tensor(v, requires_grad=r) for v, r in ((A, True), (B, False), (C, True)))
    p, q, s = mod(a, 2.0, b, c)
    tp, tq, ts = tmod(ta, 2.0, tb, tc)
    assert s == ts == 7.0 and not b.requires_grad
    (p.sum() + (q * q).sum()).backward()
    (tp.sum() + (tq * tq).sum()).backward()
    gi, go = rec[0]
    tgi, tgo = trec[0]
    assert gi[1] is None and gi[2] is None and go[2] is None
    # NOTE: torch passes zeros for a tensor input that does not require grad (b); gradcore
    # passes None, as for every input without a gradient.
    assert float(tgi[2].abs().sum()) == 0.0
    _assert_grads_equal(gi[:2] + gi[3:], tgi[:2] + tgi[3:])
    _assert_grads_equal(go, tgo)
    np.testing.assert_allclose(a.grad.detach().numpy(), ta.grad.detach().numpy(), rtol=1e-12)


def test_backward_hook_checks_and_errors() -> None:
    lin = nn.Linear(3, 2)
    x = gc.randn(4, 3, requires_grad=True)
    with lin.register_full_backward_hook(lambda mod, gi, go: (gi[0], gi[0])):
        with pytest.raises(RuntimeError, match="returned 2 gradients, but expected 1"):
            lin(x).sum().backward()

    def boom(mod: Any, gi: Any, go: Any) -> None:
        raise ValueError("boom from hook")

    with lin.register_full_backward_hook(boom):
        with pytest.raises(ValueError, match="boom from hook"):
            lin(x).sum().backward()
    with pytest.raises(TypeError, match="callable"):
        lin.register_forward_hook(3)  # type: ignore[arg-type]
    # No input requires grad: the hook runs at the outputs and may not replace grad_input.
    xc = gc.randn(4, 3)
    calls: List[Any] = []
    with lin.register_full_backward_hook(lambda mod, gi, go: calls.append(gi)):
        lin(xc).sum().backward()
    assert calls == [(None,)]
    with lin.register_full_backward_hook(lambda mod, gi, go: (gc.zeros(4, 3),)):
        with pytest.raises(RuntimeError, match="must return None"):
            lin(xc).sum().backward()


def test_backward_hooks_inactive_without_grad_and_input_unchanged() -> None:
    lin = nn.Linear(3, 2)
    calls: List[Any] = []
    lin.register_full_backward_hook(lambda mod, gi, go: calls.append(1))
    x = gc.randn(4, 3, requires_grad=True)
    with gc.no_grad():
        y = lin(x)
    assert not y.requires_grad and calls == []
    # The caller's tensor is not modified; its grad arrives through the identity node.
    y = lin(x)
    assert x.grad_fn is None and x.is_leaf
    y.sum().backward()
    assert calls == [1]
    np.testing.assert_allclose(x.grad.detach().numpy(), np.tile(lin.weight.detach().numpy().sum(0), (4, 1)), rtol=1e-6)


def test_handle_removal_order_and_context_manager() -> None:
    lin = nn.Linear(2, 2)
    order: List[str] = []
    h1 = lin.register_forward_hook(lambda m, a, o: order.append("a"))
    h2 = lin.register_forward_hook(lambda m, a, o: order.append("b"))
    h3 = lin.register_forward_hook(lambda m, a, o: order.append("first"), prepend=True)
    assert isinstance(h1, RemovableHandle)
    x = gc.randn(1, 2)
    lin(x)
    assert order == ["first", "a", "b"]
    h1.remove()
    h1.remove()  # idempotent
    order.clear()
    lin(x)
    assert order == ["first", "b"]
    h2.remove()
    assert lin._has_hooks
    h3.remove()
    assert not lin._has_hooks  # the fast path again
    order.clear()
    lin(x)
    assert order == []
    bw: List[int] = []
    xg = gc.randn(1, 2, requires_grad=True)
    with lin.register_full_backward_hook(lambda m, gi, go: bw.append(1)) as h:
        assert isinstance(h, RemovableHandle) and lin._has_hooks
        lin(xg).sum().backward()
    lin(xg).sum().backward()
    assert bw == [1] and not lin._has_hooks
    # A handle outliving its module does nothing.
    tmp = nn.Linear(2, 2)
    h = tmp.register_forward_hook(lambda m, a, o: None)
    del tmp
    h.remove()


# ---- grad_stats ---------------------------------------------------------------------------

def test_grad_stats_matches_numpy() -> None:
    gc.manual_seed(1)
    m = nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 3), nn.Linear(3, 2, bias=False))
    m[3].weight.requires_grad = False
    x = gc.randn(8, 5)
    F.cross_entropy(m(x), [0, 1] * 4).backward()
    stats = grad_stats(m)
    assert list(stats) == ["0.weight", "0.bias", "2.weight", "2.bias", "3.weight"]
    for name, p in m.named_parameters():
        s = stats[name]
        pn = np.linalg.norm(p.detach().numpy().astype(np.float64))
        assert math.isclose(s.param_norm, pn, rel_tol=1e-6)
        if p.grad is None:
            assert name == "3.weight" and s.grad_norm is None and s.grad_mean_abs is None and s.ratio is None
            continue
        g = p.grad.detach().numpy().astype(np.float64)
        assert math.isclose(s.grad_norm, np.linalg.norm(g), rel_tol=1e-6)
        assert math.isclose(s.grad_mean_abs, np.abs(g).mean(), rel_tol=1e-6)
        assert math.isclose(s.ratio, np.linalg.norm(g) / pn, rel_tol=1e-6)
    # A zero parameter with a nonzero gradient: ratio inf.
    nn.init.zeros_(m[0].bias)
    assert grad_stats(m)["0.bias"].ratio == math.inf


# ---- GradientMonitor ----------------------------------------------------------------------

def _mlp(depth: int, act: type, he: bool, width: int = 32, seed: int = 0) -> nn.Sequential:
    gc.manual_seed(seed)
    layers: List[nn.Module] = []
    for i in range(depth):
        lin = nn.Linear(16 if i == 0 else width, 4 if i == depth - 1 else width)
        if he:
            nn.init.kaiming_normal_(lin.weight, nonlinearity="relu")
            nn.init.zeros_(lin.bias)
        layers.append(lin)
        if i < depth - 1:
            layers.append(act())
    return nn.Sequential(*layers)


def _data(n: int = 64) -> Tuple[gc.Tensor, np.ndarray]:
    rng = np.random.default_rng(5)
    y = rng.integers(0, 4, n)
    return gc.tensor((rng.normal(size=(4, 16))[y] + rng.normal(size=(n, 16))).astype(np.float32)), y


def _step(model: nn.Module, monitor: GradientMonitor) -> Any:
    x, y = _data()
    model.zero_grad()
    F.cross_entropy(model(x), y).backward()
    return monitor.step()


def test_monitor_warns_on_deep_sigmoid_net_naming_layers() -> None:
    model = _mlp(12, nn.Sigmoid, he=False)
    with GradientMonitor(model) as mon:
        msg = r"vanishing gradients at step 1 in \d+ of 12 layers: '0' \(Linear\)"
        with pytest.warns(GradientWarning, match=msg) as rec:
            norms = _step(model, mon)
    w = rec[0].message
    assert isinstance(w, GradientWarning) and w.kind == "vanishing" and w.step == 1
    assert w.layers[0] == "0" and "22" not in w.layers  # the last layer is the reference
    top = max(norms.values())
    assert set(w.layers) == {k for k, v in norms.items() if v < 1e-3 * top}
    assert norms["0"] < 1e-6 * norms["22"]
    assert list(mon.history) == [str(2 * i) for i in range(12)] and mon.steps == 1
    assert all(mon.layers[k] == "Linear" for k in mon.layers)
    assert {(s, k) for s, k, kind, _ in mon.issues} == {(1, k) for k in w.layers}
    # The same state on the next step does not warn again (pytest turns warnings into errors).
    _step(model, mon)
    assert mon.steps == 2 and len(mon.issues) >= 2 * len(w.layers)


def test_monitor_silent_on_healthy_relu_net() -> None:
    model = _mlp(6, nn.ReLU, he=True)
    mon = GradientMonitor(model)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        for _ in range(3):
            _step(model, mon)
    assert not [r for r in rec if issubclass(r.category, GradientWarning)]
    assert mon.issues == [] and mon.steps == 3
    norms = [v[-1] for v in mon.history.values()]
    assert max(norms) / min(norms) < 100
    mon.remove()


def test_monitor_exploding_and_nonfinite() -> None:
    model = _mlp(4, nn.ReLU, he=True, width=16)
    with gc.no_grad():  # x10 per layer: each layer's gradient grows ~10^3 (the other three layers' gains)
        for lin in (model[0], model[2], model[4], model[6]):
            lin.weight.mul_(10.0)
    mon = GradientMonitor(model)
    with pytest.warns(GradientWarning, match=r"exploding gradients at step 1 in \d of 4 layers: '0' \(Linear\)") as rec:
        norms = _step(model, mon)
    exploding = rec[0].message
    assert isinstance(exploding, GradientWarning) and exploding.kind == "exploding"
    assert set(exploding.layers) == {k for k, v in norms.items() if v > 1e3} and len(exploding.layers) >= 2
    # Non-finite norms explode whatever the threshold.
    mon2 = GradientMonitor(nn.Linear(3, 2), explode_threshold=1e30)
    lin = mon2.model
    lin.weight.grad = gc.full((2, 3), float("nan"))
    with pytest.warns(GradientWarning, match=r"exploding gradients at step 1 in layer: 'Linear' \(Linear\) nan"):
        mon2.step()
    mon.remove()
    mon2.remove()


def test_monitor_warns_again_after_recovery_and_warn_false() -> None:
    lin = nn.Linear(3, 2)
    mon = GradientMonitor(lin)
    lin.weight.grad, lin.bias.grad = gc.zeros(2, 3), gc.zeros(2)
    with pytest.warns(GradientWarning, match=r"vanishing .*'Linear' \(Linear\) 0 .*< 1e-12"):
        mon.step()
    mon.step()  # still vanishing: silent
    lin.weight.grad = gc.ones(2, 3)
    mon.step()  # recovered
    lin.weight.grad = gc.zeros(2, 3)
    with pytest.warns(GradientWarning, match="vanishing gradients at step 4"):
        mon.step()
    assert mon.history["Linear"] == [0.0, 0.0, math.sqrt(6.0), 0.0]
    quiet = GradientMonitor(lin, warn=False)
    quiet.step()
    assert [i[2] for i in quiet.issues] == ["vanishing"]
    # Layers without gradients are skipped (NaN in the history), never flagged.
    lin.weight.grad = lin.bias.grad = None
    quiet.step()
    assert math.isnan(quiet.history["Linear"][-1]) and len(quiet.issues) == 1
    with pytest.raises(ValueError):
        GradientMonitor(lin, vanish_threshold=2.0)


def test_monitor_activation_stats() -> None:
    gc.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 50), nn.ReLU(), nn.Linear(50, 50), nn.Sigmoid(), nn.Linear(50, 50),
                          nn.Tanh())
    with gc.no_grad():
        model[2].weight.mul_(40.0)  # pushes the sigmoid into saturation
    mon = GradientMonitor(model, warn=False)
    x = gc.randn(32, 4)
    outs = {}
    y0 = F.linear(x, model[0].weight, model[0].bias)
    outs["1"] = np.maximum(y0.detach().numpy(), 0)
    y2 = F.linear(gc.tensor(outs["1"]), model[2].weight, model[2].bias)
    outs["3"] = 1 / (1 + np.exp(-y2.detach().numpy().astype(np.float64)))
    model(x).sum().backward()
    mon.step()
    relu = mon.activation_history["1"][0]
    assert isinstance(relu, ActivationStats) and relu.frac_saturated is None
    assert math.isclose(relu.frac_zero, (outs["1"] == 0).mean(), abs_tol=1e-12)
    assert math.isclose(relu.mean, outs["1"].mean(), rel_tol=1e-5)
    assert math.isclose(relu.std, outs["1"].std(), rel_tol=1e-5)
    sig = mon.activation_history["3"][0]
    expected = ((outs["3"] < 0.01) | (outs["3"] > 0.99)).mean()
    assert expected > 0.3 and abs(sig.frac_saturated - expected) <= 2 / outs["3"].size  # float32 vs float64 at the edge
    assert mon.activation_history["5"][0].frac_saturated is not None
    assert set(mon.activation_history) == {"0", "1", "2", "3", "4", "5"}
    # Forward passes without grad (evaluation) are not recorded.
    with gc.no_grad():
        model(x)
    model.zero_grad()
    mon.step()
    assert len(mon.activation_history["1"]) == 1 and len(mon.history["0"]) == 2
    assert "grad norm" in mon.summary()
    mon.remove()
    assert not any(m._has_hooks for m in model.modules())


def test_monitor_as_fit_callback() -> None:
    model = _mlp(3, nn.ReLU, he=True, width=16)
    x, y = _data(96)
    loader = DataLoader(TensorDataset(x.detach().numpy(), y), batch_size=32)
    epochs: List[int] = []

    class EpochEnd:
        def on_epoch_end(self, epoch: int, history: Any) -> None:
            epochs.append(epoch)
            assert len(history["loss"]) == epoch

    with GradientMonitor(model) as mon:
        hist = fit(model, nn.CrossEntropyLoss(), gc.optim.SGD(model.parameters(), lr=0.05), loader, epochs=2,
                   progress=False, log=lambda s: None, callbacks=[mon, EpochEnd()])
    assert mon.steps == 6 and all(len(v) == 6 for v in mon.history.values())
    assert epochs == [1, 2] and len(hist["loss"]) == 2
    assert not any(m._has_hooks for m in model.modules())
    # Without callbacks fit is unchanged.
    fit(model, nn.CrossEntropyLoss(), gc.optim.SGD(model.parameters(), lr=0.05), loader, progress=False,
        log=lambda s: None)


# ---- the example ------------------------------------------------------------------------------

def test_vanishing_gradients_example(tmp_path: Path) -> None:
    out_png = tmp_path / "vg.png"
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "vanishing_gradients.py"), "--out", str(out_png)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "20-layer sigmoid MLP" in out and "20-layer ReLU MLP, He init" in out
    assert "GradientWarning: vanishing gradients at step 1" in out and "'0' (Linear)" in out
    assert "GradientMonitor warnings, ReLU+He net: 0" in out
    rows = [line.split() for line in out.splitlines() if line.split()[:1] and line.split()[0].isdigit()]
    assert [r[0] for r in rows] == [str(i) for i in range(1, 21)] * 2
    sig = [float(r[2]) for r in rows[:20]]
    relu = [float(r[2]) for r in rows[20:]]
    assert sig[0] < 1e-8 * sig[-1] and max(relu) < 100 * min(relu)
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert "no plot" in out
    else:
        assert out_png.stat().st_size > 0


def test_tensor_norms_match_numpy() -> None:
    """_core.tensor_norms (behind grad_stats and GradientMonitor): one norm per tensor, NaN for None."""
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal((7, 5)).astype(np.float32), rng.standard_normal(33), np.zeros(0)]
    tensors = [gc.tensor(a) for a in arrays]
    for p in (1.0, 2.0, 3.0, float("inf")):
        got = gc._core.tensor_norms([*tensors, None], p).detach().numpy()
        want = [np.linalg.norm(a.astype(np.float64).ravel(), p) if a.size else 0.0 for a in arrays]
        np.testing.assert_allclose(got[:3], want, rtol=1e-12)
        assert np.isnan(got[3])
    with pytest.raises(ValueError):
        gc._core.tensor_norms(tensors, -1.0)
    with pytest.raises(TypeError):
        gc._core.tensor_norms([1.0], 2.0)
