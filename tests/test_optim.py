"""Optimizers, LR schedulers and gradient clipping, with torch.optim as the oracle.

Every optimizer/option combination is run for several steps from the same initial
parameters with the same (random, varying-magnitude) gradients in gradcore and in PyTorch;
parameters must agree after every step. A few hand-computed single steps run without torch.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import gradcore as gc
import gradcore.nn as nn
import gradcore.optim as optim
from gradcore.optim import lr_scheduler

SHAPES = [(5, 4), (4,), (3, 2, 2), (37, 29)]
ISAS = list(gc.backend_info()["supported_isas"])


@pytest.fixture(params=ISAS)
def each_isa(request):
    """Runs a test once per kernel ISA the machine supports (the optimizer updates are per-ISA kernels)."""
    original = gc.backend_info()["isa"]
    gc._core._set_isa(request.param)
    try:
        yield request.param
    finally:
        gc._core._set_isa(original)
NP_DTYPE = {gc.float32: np.float32, gc.float64: np.float64}

# (gradcore class name, kwargs) -- torch.optim has a class of the same name and the same kwargs.
CONFIGS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.5)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.1, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.8, weight_decay=0.05, nesterov=True)),
    ("SGD", dict(lr=0.05, momentum=0.7, dampening=0.3, weight_decay=0.02)),
    ("SGD", dict(lr=0.05, momentum=0.9, maximize=True)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.02, betas=(0.8, 0.95), eps=1e-6)),
    ("Adam", dict(lr=0.01, weight_decay=0.1)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("Adam", dict(lr=0.01, weight_decay=0.05, amsgrad=True, betas=(0.5, 0.9))),
    ("Adam", dict(lr=0.01, weight_decay=0.05, maximize=True)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.02, weight_decay=0.3)),
    ("AdamW", dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
    ("AdamW", dict(lr=0.01, betas=(0.7, 0.9), eps=1e-4, weight_decay=0.0)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, eps=1e-6)),
    ("RMSprop", dict(lr=0.01, centered=True)),
    ("RMSprop", dict(lr=0.01, momentum=0.9)),
    ("RMSprop", dict(lr=0.005, momentum=0.5, centered=True, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, weight_decay=0.2, maximize=True)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.1)),
    ("Adagrad", dict(lr=0.1, weight_decay=0.1)),
    ("Adagrad", dict(lr=0.1, initial_accumulator_value=0.5, eps=1e-3)),
    ("Adagrad", dict(lr=0.2, lr_decay=0.05, weight_decay=0.02, initial_accumulator_value=0.1, maximize=True)),
]


def _ids(cfg):
    name, kw = cfg
    return name + "-" + "-".join(f"{k}={v}" for k, v in kw.items())


def _grads(rng, steps, shapes=SHAPES):
    """Gradients for each step; magnitudes vary a lot so amsgrad's max matters, and some are 0."""
    out = []
    for _ in range(steps):
        scale = 10.0 ** rng.uniform(-2, 1)
        gs = []
        for s in shapes:
            g = rng.standard_normal(s) * scale
            g.reshape(-1)[:: 7] = 0.0
            gs.append(g)
        out.append(gs)
    return out


def _pair(torch, rng, dtype, shapes=SHAPES):
    init = [rng.standard_normal(s) for s in shapes]
    npdt = NP_DTYPE[dtype]
    gparams = [nn.Parameter(gc.tensor(a.astype(npdt))) for a in init]
    tparams = [torch.nn.Parameter(torch.tensor(a.astype(npdt))) for a in init]
    return gparams, tparams


def _set_grads(torch, gparams, tparams, grads, dtype):
    npdt = NP_DTYPE[dtype]
    for gp, tp, g in zip(gparams, tparams, grads):
        if g is None:
            gp.grad = None
            tp.grad = None
        else:
            gp.grad = gc.tensor(g.astype(npdt))
            tp.grad = torch.tensor(g.astype(npdt))


def _assert_params_close(gparams, tparams, rtol, atol, msg=""):
    for i, (gp, tp) in enumerate(zip(gparams, tparams)):
        np.testing.assert_allclose(gp.detach().numpy(), tp.detach().numpy(), rtol=rtol, atol=atol,
                                   err_msg=f"{msg} param {i}")


# --------------------------------------------------------------------------------------
# Parity with torch.optim
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("cfg", CONFIGS, ids=_ids)
def test_trajectory_matches_torch_float64(cfg, each_isa):
    torch = pytest.importorskip("torch")
    name, kw = cfg
    rng = np.random.default_rng(1)
    gparams, tparams = _pair(torch, rng, gc.float64)
    gopt = getattr(optim, name)(gparams, **kw)
    topt = getattr(torch.optim, name)(tparams, **kw)
    for step, grads in enumerate(_grads(rng, 25)):
        _set_grads(torch, gparams, tparams, grads, gc.float64)
        gopt.step()
        topt.step()
        _assert_params_close(gparams, tparams, rtol=1e-10, atol=1e-12, msg=f"step {step}")
    # the parameters actually moved
    assert not np.allclose(gparams[0].detach().numpy(), _pair(torch, np.random.default_rng(1), gc.float64)[0][0]
                           .detach().numpy())


@pytest.mark.parametrize("cfg", CONFIGS, ids=_ids)
def test_trajectory_matches_torch_float32(cfg, each_isa):
    torch = pytest.importorskip("torch")
    name, kw = cfg
    rng = np.random.default_rng(2)
    gparams, tparams = _pair(torch, rng, gc.float32)
    gopt = getattr(optim, name)(gparams, **kw)
    topt = getattr(torch.optim, name)(tparams, **kw)
    for step, grads in enumerate(_grads(rng, 25)):
        _set_grads(torch, gparams, tparams, grads, gc.float32)
        gopt.step()
        topt.step()
        assert gparams[0].dtype == gc.float32
        _assert_params_close(gparams, tparams, rtol=1e-4, atol=1e-5, msg=f"step {step}")


@pytest.mark.parametrize("name,kw", [
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.01)),
    ("AdamW", dict(lr=0.01, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.1)),
])
def test_large_tensors_span_several_work_items(name, kw, each_isa):
    """Tensors larger than one work item (32768 elements) and odd sizes, float32, several threads."""
    torch = pytest.importorskip("torch")
    shapes = [(40001,), (3,)]
    rng = np.random.default_rng(30)
    gparams, tparams = _pair(torch, rng, gc.float32, shapes)
    gopt = getattr(optim, name)(gparams, **kw)
    topt = getattr(torch.optim, name)(tparams, **kw)
    for step, grads in enumerate(_grads(rng, 3, shapes)):
        _set_grads(torch, gparams, tparams, grads, gc.float32)
        gopt.step()
        topt.step()
        _assert_params_close(gparams, tparams, rtol=1e-4, atol=1e-5, msg=f"step {step}")


@pytest.mark.parametrize("name,kw", [
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.01)),
    ("AdamW", dict(lr=0.01, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.1)),
])
def test_params_without_grad_are_skipped_like_torch(name, kw):
    """A parameter whose grad is None on some steps keeps its value and its step count."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    gparams, tparams = _pair(torch, rng, gc.float64)
    gopt = getattr(optim, name)(gparams, **kw)
    topt = getattr(torch.optim, name)(tparams, **kw)
    for step, grads in enumerate(_grads(rng, 12)):
        if step % 3 != 2:
            grads[1] = None          # param 1 only gets a gradient every third step
        if step < 4:
            grads[2] = None          # param 2 starts late
        before = gparams[1].detach().numpy().copy()
        _set_grads(torch, gparams, tparams, grads, gc.float64)
        gopt.step()
        topt.step()
        if grads[1] is None:
            np.testing.assert_array_equal(gparams[1].detach().numpy(), before)
        _assert_params_close(gparams, tparams, rtol=1e-10, atol=1e-12, msg=f"step {step}")


@pytest.mark.parametrize("name,extra", [
    ("SGD", dict(momentum=0.9)),
    ("Adam", dict()),
    ("RMSprop", dict(momentum=0.3)),
    ("Adagrad", dict()),
])
def test_param_groups_match_torch(name, extra):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    gparams, tparams = _pair(torch, rng, gc.float64)
    ggroups = [{"params": gparams[:2]}, {"params": gparams[2:], "lr": 0.003, "weight_decay": 0.1}]
    tgroups = [{"params": tparams[:2]}, {"params": tparams[2:], "lr": 0.003, "weight_decay": 0.1}]
    gopt = getattr(optim, name)(ggroups, lr=0.02, **extra)
    topt = getattr(torch.optim, name)(tgroups, lr=0.02, **extra)
    assert len(gopt.param_groups) == 2
    assert gopt.param_groups[1]["lr"] == 0.003 and gopt.param_groups[0]["lr"] == 0.02
    for step, grads in enumerate(_grads(rng, 8)):
        _set_grads(torch, gparams, tparams, grads, gc.float64)
        gopt.step()
        topt.step()
        _assert_params_close(gparams, tparams, rtol=1e-10, atol=1e-12, msg=f"step {step}")


def test_add_param_group_and_lr_change_midway_match_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    gparams, tparams = _pair(torch, rng, gc.float64)
    gopt = optim.Adam(gparams[:1], lr=0.01)
    topt = torch.optim.Adam(tparams[:1], lr=0.01)
    for step, grads in enumerate(_grads(rng, 10)):
        if step == 3:
            gopt.add_param_group({"params": gparams[1:], "lr": 0.05})
            topt.add_param_group({"params": tparams[1:], "lr": 0.05})
        if step == 6:
            for g in gopt.param_groups + topt.param_groups:
                g["lr"] *= 0.5
        if step < 3:
            grads = [grads[0], None, None]
        _set_grads(torch, gparams, tparams, grads, gc.float64)
        gopt.step()
        topt.step()
        _assert_params_close(gparams, tparams, rtol=1e-10, atol=1e-12, msg=f"step {step}")


ROUND_TRIP = [
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.01)),
    ("AdamW", dict(lr=0.01, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.1, initial_accumulator_value=0.2)),
]


@pytest.mark.parametrize("name,kw", ROUND_TRIP)
def test_state_dict_round_trip_continues_identically(name, kw):
    """Steps 1-5, state_dict -> a fresh optimizer on copied params -> steps 6-12 equal torch."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(6)
    gparams, tparams = _pair(torch, rng, gc.float64)
    gopt = getattr(optim, name)(gparams, **kw)
    topt = getattr(torch.optim, name)(tparams, **kw)
    grads = _grads(rng, 12)
    for g in grads[:5]:
        _set_grads(torch, gparams, tparams, g, gc.float64)
        gopt.step()
        topt.step()
    sd = gopt.state_dict()
    # PyTorch's layout: parameter indices, per-parameter state with torch's buffer names
    tsd = topt.state_dict()
    assert sorted(sd["state"].keys()) == sorted(tsd["state"].keys()) == list(range(len(SHAPES)))
    assert [g["params"] for g in sd["param_groups"]] == [g["params"] for g in tsd["param_groups"]]
    for i in sd["state"]:
        assert set(sd["state"][i]) - {"step"} == set(tsd["state"][i]) - {"step"}
        for k, v in tsd["state"][i].items():
            if k == "step":
                assert float(sd["state"][i]["step"]) == float(v) == 5.0
            else:
                np.testing.assert_allclose(sd["state"][i][k].detach().numpy(), v.detach().numpy(), rtol=1e-10, atol=1e-14)
    for k, v in tsd["param_groups"][0].items():
        if k in sd["param_groups"][0] and k != "params":
            assert sd["param_groups"][0][k] == v, k

    # the state dict is a snapshot: further steps of the original do not change it
    snapshot = {i: {k: (v.detach().numpy().copy() if hasattr(v, "numpy") else v) for k, v in st.items()}
                for i, st in sd["state"].items()}
    copies = [nn.Parameter(p.detach().clone()) for p in gparams]
    for g in grads[5:7]:
        _set_grads(torch, gparams, tparams, g, gc.float64)
        gopt.step()
        topt.step()
    for i, st in sd["state"].items():
        for k, v in st.items():
            if hasattr(v, "numpy"):
                np.testing.assert_array_equal(v.detach().numpy(), snapshot[i][k])
            else:
                assert v == snapshot[i][k]

    # a fresh optimizer (different default hyper-parameters) resumes from the snapshot
    fresh = getattr(optim, name)(copies, lr=123.0)
    fresh.load_state_dict(sd)
    assert fresh.param_groups[0]["lr"] == kw["lr"]
    for g in grads[5:7]:
        for p, gg in zip(copies, g):
            p.grad = gc.tensor(gg)
        fresh.step()
    _assert_params_close(copies, tparams, rtol=1e-10, atol=1e-12, msg="after resume")
    for g in grads[7:]:
        _set_grads(torch, gparams, tparams, g, gc.float64)
        for p, gg in zip(copies, g):
            p.grad = gc.tensor(gg)
        gopt.step()
        fresh.step()
        topt.step()
        _assert_params_close(copies, tparams, rtol=1e-10, atol=1e-12, msg="resumed")
        _assert_params_close(gparams, tparams, rtol=1e-10, atol=1e-12, msg="original")


@pytest.mark.parametrize("name,kw", ROUND_TRIP)
def test_torch_state_dict_loads_into_gradcore(name, kw):
    """A torch optimizer's state dict (tensors converted) resumes in gradcore, and the reverse."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    gparams, tparams = _pair(torch, rng, gc.float64)
    topt = getattr(torch.optim, name)(tparams, **kw)
    grads = _grads(rng, 10)
    for g in grads[:4]:
        _set_grads(torch, gparams, tparams, g, gc.float64)
        topt.step()
    for gp, tp in zip(gparams, tparams):
        gp.data = gc.tensor(tp.detach().numpy().copy())
    tsd = topt.state_dict()
    converted = {
        "state": {i: {k: (float(v.item()) if k == "step" else gc.tensor(v.detach().numpy().copy())) for k, v in st.items()}
                  for i, st in tsd["state"].items()},
        "param_groups": tsd["param_groups"],  # foreach/fused/capturable/... keys included, as torch saves them
    }
    gopt = getattr(optim, name)(gparams, **kw)
    gopt.load_state_dict(converted)
    for g in grads[4:]:
        _set_grads(torch, gparams, tparams, g, gc.float64)
        gopt.step()
        topt.step()
        _assert_params_close(gparams, tparams, rtol=1e-10, atol=1e-12, msg="gradcore resumed from torch")

    # reverse: gradcore state dict -> torch optimizer
    rng2 = np.random.default_rng(8)
    gparams2, tparams2 = _pair(torch, rng2, gc.float64)
    gopt2 = getattr(optim, name)(gparams2, **kw)
    grads2 = _grads(rng2, 8)
    for g in grads2[:4]:
        _set_grads(torch, gparams2, tparams2, g, gc.float64)
        gopt2.step()
    with torch.no_grad():
        for gp, tp in zip(gparams2, tparams2):
            tp.copy_(torch.tensor(gp.detach().numpy()))
    gsd = gopt2.state_dict()
    topt2 = getattr(torch.optim, name)(tparams2, **kw)
    tsd_template = topt2.state_dict()
    tstate = {}
    for i, st in gsd["state"].items():
        entry = {}
        for k, v in st.items():
            if k == "step":
                if name != "SGD":
                    entry[k] = torch.tensor(float(v))
            else:
                entry[k] = torch.tensor(v.detach().numpy().copy())
        tstate[i] = entry
    groups = [dict(tg, **{k: v for k, v in gg.items() if k in tg}) for tg, gg in
              zip(tsd_template["param_groups"], gsd["param_groups"])]
    topt2.load_state_dict({"state": tstate, "param_groups": groups})
    for g in grads2[4:]:
        _set_grads(torch, gparams2, tparams2, g, gc.float64)
        gopt2.step()
        topt2.step()
        _assert_params_close(gparams2, tparams2, rtol=1e-10, atol=1e-12, msg="torch resumed from gradcore")


def test_state_dict_survives_gc_save_load(tmp_path):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(9)
    gparams, tparams = _pair(torch, rng, gc.float64)
    kw = dict(lr=0.01, amsgrad=True, weight_decay=0.01, betas=(0.8, 0.99))
    gopt = optim.Adam(gparams, **kw)
    topt = torch.optim.Adam(tparams, **kw)
    grads = _grads(rng, 10)
    for g in grads[:5]:
        _set_grads(torch, gparams, tparams, g, gc.float64)
        gopt.step()
        topt.step()
    gc.save(gopt.state_dict(), tmp_path / "opt.safetensors")
    loaded = gc.load(tmp_path / "opt.safetensors")
    assert loaded["param_groups"][0]["betas"] == (0.8, 0.99)
    assert sorted(loaded["state"]) == list(range(len(SHAPES)))
    copies = [nn.Parameter(p.detach().clone()) for p in gparams]
    fresh = optim.Adam(copies, lr=1.0)
    fresh.load_state_dict(loaded)
    for g in grads[5:]:
        _set_grads(torch, copies, tparams, g, gc.float64)
        fresh.step()
        topt.step()
        _assert_params_close(copies, tparams, rtol=1e-10, atol=1e-12)


def test_zero_grad_and_closure():
    p = nn.Parameter(gc.tensor([1.0, 2.0], dtype=gc.float64))
    opt = optim.SGD([p], lr=0.5)
    p.grad = gc.tensor([1.0, 1.0], dtype=gc.float64)
    opt.zero_grad(set_to_none=False)
    assert p.grad is not None
    np.testing.assert_array_equal(p.grad.detach().numpy(), [0.0, 0.0])
    opt.zero_grad()
    assert p.grad is None

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert loss.item() == pytest.approx(5.0)
    np.testing.assert_allclose(p.detach().numpy(), [0.0, 0.0])   # p - 0.5 * 2p


def test_step_is_one_core_call_per_group(monkeypatch):
    from gradcore import _core

    calls = []
    real = _core.optim_step

    def spy(*args, **kwargs):
        calls.append((args, kwargs.get("check_only", False)))
        return real(*args, **kwargs)

    monkeypatch.setattr(_core, "optim_step", spy)
    params = [nn.Parameter(gc.ones(3, 2)) for _ in range(5)]
    for p in params:
        p.grad = gc.ones(3, 2)
    opt = optim.Adam([{"params": params[:3]}, {"params": params[3:], "lr": 0.1}])
    opt.step()
    # every group is checked first (a bad last group must not leave the first updated), then updated
    assert [(len(a[1]), check) for a, check in calls] == [(3, True), (2, True), (3, False), (2, False)]
    calls.clear()
    optim.Adam(params).step()
    assert [(len(a[1]), check) for a, check in calls] == [(5, False)]   # one group: one call, no separate check


def test_invalid_hyperparameters_raise():
    p = [nn.Parameter(gc.ones(2))]
    with pytest.raises(ValueError):
        optim.SGD(p, lr=-1.0)
    with pytest.raises(ValueError):
        optim.SGD(p, lr=0.1, nesterov=True)         # nesterov needs momentum
    with pytest.raises(ValueError):
        optim.Adam(p, betas=(1.0, 0.999))
    with pytest.raises(ValueError):
        optim.Adam(p, eps=-1.0)
    with pytest.raises(ValueError):
        optim.RMSprop(p, alpha=-0.1)
    with pytest.raises(ValueError):
        optim.Adagrad(p, lr_decay=-0.1)
    with pytest.raises(ValueError):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError):
        optim.SGD([{"params": p}, {"params": p}], lr=0.1)  # a parameter in two groups


# --------------------------------------------------------------------------------------
# Hand-computed single steps (no torch)
# --------------------------------------------------------------------------------------
def _one_step(opt_cls, p0, g, **kw):
    p = nn.Parameter(gc.tensor(np.array(p0, dtype=np.float64)))
    opt = opt_cls([p], **kw)
    p.grad = gc.tensor(np.array(g, dtype=np.float64))
    opt.step()
    return p.detach().numpy(), opt, p


def test_sgd_single_step_by_hand():
    p, _, _ = _one_step(optim.SGD, [1.0, -2.0], [0.5, 0.25], lr=0.1, weight_decay=0.1)
    # d = g + wd p = [0.6, 0.05]
    np.testing.assert_allclose(p, [1.0 - 0.06, -2.0 - 0.005], rtol=1e-14)
    # momentum: two steps, buf1 = d1; buf2 = 0.9 buf1 + (1 - 0.5) d2
    pp = nn.Parameter(gc.tensor([0.0], dtype=gc.float64))
    opt = optim.SGD([pp], lr=1.0, momentum=0.9, dampening=0.5)
    pp.grad = gc.tensor([1.0], dtype=gc.float64)
    opt.step()
    assert pp.item() == pytest.approx(-1.0)
    pp.grad = gc.tensor([2.0], dtype=gc.float64)
    opt.step()
    assert pp.item() == pytest.approx(-1.0 - (0.9 * 1.0 + 0.5 * 2.0))
    # nesterov: p -= lr * (g + m * buf), buf = g on the first step
    p, _, _ = _one_step(optim.SGD, [0.0], [1.0], lr=1.0, momentum=0.9, nesterov=True)
    np.testing.assert_allclose(p, [-1.9])


def test_adam_single_step_by_hand():
    # first step: m_hat = g, v_hat = g^2 -> p -= lr * g / (|g| + eps)
    p, _, _ = _one_step(optim.Adam, [1.0, 1.0], [0.5, -4.0], lr=0.1, eps=1e-8)
    np.testing.assert_allclose(p, [1.0 - 0.1 * 0.5 / (0.5 + 1e-8), 1.0 + 0.1 * 4.0 / (4.0 + 1e-8)], rtol=1e-13)
    # L2 weight decay enters the gradient: g' = 0.5 + 0.5 * 1 = 1 -> same sign step of lr
    p, _, _ = _one_step(optim.Adam, [1.0], [0.5], lr=0.1, weight_decay=0.5, eps=0.0)
    np.testing.assert_allclose(p, [0.9], rtol=1e-13)
    # AdamW: p *= 1 - lr*wd, then the Adam step on the raw gradient
    p, _, _ = _one_step(optim.AdamW, [1.0], [0.5], lr=0.1, weight_decay=0.5, eps=0.0)
    np.testing.assert_allclose(p, [1.0 * (1 - 0.05) - 0.1], rtol=1e-13)
    # second step by hand
    pp = nn.Parameter(gc.tensor([0.0], dtype=gc.float64))
    opt = optim.Adam([pp], lr=0.1, betas=(0.9, 0.99), eps=1e-8)
    for g in (1.0, 3.0):
        pp.grad = gc.tensor([g], dtype=gc.float64)
        opt.step()
    m = 0.9 * (0.1 * 1.0) + 0.1 * 3.0
    v = 0.99 * (0.01 * 1.0) + 0.01 * 9.0
    m_hat, v_hat = m / (1 - 0.9 ** 2), v / (1 - 0.99 ** 2)
    expected = -0.1 * 1.0 / (1.0 + 1e-8) - 0.1 * m_hat / (math.sqrt(v_hat) + 1e-8)
    assert pp.item() == pytest.approx(expected, rel=1e-12)


def test_rmsprop_and_adagrad_single_step_by_hand():
    p, _, _ = _one_step(optim.RMSprop, [1.0], [2.0], lr=0.01, alpha=0.9, eps=1e-8)
    # s = 0.1 * 4 = 0.4; p -= lr * g / (sqrt(s) + eps)
    np.testing.assert_allclose(p, [1.0 - 0.01 * 2.0 / (math.sqrt(0.4) + 1e-8)], rtol=1e-13)
    p, _, _ = _one_step(optim.RMSprop, [1.0], [2.0], lr=0.01, alpha=0.9, eps=1e-8, centered=True)
    # a = 0.2; avg = sqrt(0.4 - 0.04) + eps
    np.testing.assert_allclose(p, [1.0 - 0.01 * 2.0 / (math.sqrt(0.36) + 1e-8)], rtol=1e-13)
    p, _, _ = _one_step(optim.Adagrad, [1.0], [2.0], lr=0.1, initial_accumulator_value=5.0, eps=0.0)
    # sum = 5 + 4 = 9; p -= 0.1 * 2 / 3
    np.testing.assert_allclose(p, [1.0 - 0.2 / 3.0], rtol=1e-13)
    # lr_decay: clr = lr / (1 + (t - 1) * lr_decay) at step t = 2
    pp = nn.Parameter(gc.tensor([0.0], dtype=gc.float64))
    opt = optim.Adagrad([pp], lr=1.0, lr_decay=1.0, eps=0.0)
    for _ in range(2):
        pp.grad = gc.tensor([1.0], dtype=gc.float64)
        opt.step()
    assert pp.item() == pytest.approx(-1.0 - 0.5 / math.sqrt(2.0), rel=1e-13)


# --------------------------------------------------------------------------------------
# LR schedulers vs torch
# --------------------------------------------------------------------------------------
def _sched_pair(torch, make_g, make_t, epochs=30):
    gp = [nn.Parameter(gc.ones(2))]
    tp = [torch.nn.Parameter(torch.ones(2))]
    gopt = optim.SGD([{"params": gp}, {"params": [nn.Parameter(gc.ones(1))], "lr": 0.5}], lr=0.1)
    topt = torch.optim.SGD([{"params": tp}, {"params": [torch.nn.Parameter(torch.ones(1))], "lr": 0.5}], lr=0.1)
    gs, ts = make_g(gopt), make_t(topt)
    glrs, tlrs = [gs.get_last_lr()], [ts.get_last_lr()]
    for _ in range(epochs):
        gopt.step()
        topt.step()
        gs.step()
        ts.step()
        glrs.append(gs.get_last_lr())
        tlrs.append(ts.get_last_lr())
        assert [g["lr"] for g in gopt.param_groups] == glrs[-1]
    return np.array(glrs), np.array(tlrs)


def test_step_lr_matches_torch():
    torch = pytest.importorskip("torch")
    g, t = _sched_pair(torch, lambda o: lr_scheduler.StepLR(o, step_size=4, gamma=0.5),
                       lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=4, gamma=0.5))
    np.testing.assert_allclose(g, t, rtol=1e-12)
    assert g[-1, 0] < g[0, 0]


def test_cosine_annealing_lr_matches_torch():
    torch = pytest.importorskip("torch")
    g, t = _sched_pair(torch, lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=10, eta_min=0.001),
                       lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=10, eta_min=0.001), epochs=35)
    np.testing.assert_allclose(g, t, rtol=1e-9, atol=1e-12)
    assert g[10, 0] == pytest.approx(0.001)
    assert g[20, 0] == pytest.approx(0.1)        # past T_max the cosine goes back up, as in PyTorch


def test_lambda_lr_matches_torch():
    torch = pytest.importorskip("torch")
    fns = [lambda e: 0.9 ** e, lambda e: 1.0 / (1 + e)]
    g, t = _sched_pair(torch, lambda o: lr_scheduler.LambdaLR(o, fns),
                       lambda o: torch.optim.lr_scheduler.LambdaLR(o, fns))
    np.testing.assert_allclose(g, t, rtol=1e-12)
    g1, t1 = _sched_pair(torch, lambda o: lr_scheduler.LambdaLR(o, lambda e: 0.5 ** (e // 3)),
                         lambda o: torch.optim.lr_scheduler.LambdaLR(o, lambda e: 0.5 ** (e // 3)))
    np.testing.assert_allclose(g1, t1, rtol=1e-12)


def test_scheduler_state_dict_resumes():
    p = [nn.Parameter(gc.ones(1))]
    opt = optim.SGD(p, lr=0.2)
    sched = lr_scheduler.StepLR(opt, step_size=3, gamma=0.5)
    for _ in range(4):
        opt.step()
        sched.step()
    sd = sched.state_dict()
    assert "optimizer" not in sd and sd["last_epoch"] == 4
    opt2 = optim.SGD([nn.Parameter(gc.ones(1))], lr=0.2)
    sched2 = lr_scheduler.StepLR(opt2, step_size=100, gamma=0.9)
    sched2.load_state_dict(sd)
    # step() is chainable (PyTorch's form): it continues from the group's lr, which a resume
    # restores with the optimizer state
    opt2.param_groups[0]["lr"] = opt.param_groups[0]["lr"]
    for _ in range(5):
        sched.step()
        sched2.step()
        assert sched2.get_last_lr() == sched.get_last_lr()
    assert sched.get_last_lr()[0] == pytest.approx(0.2 * 0.5 ** 3)


def test_scheduler_drives_the_optimizer_like_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(10)
    gparams, tparams = _pair(torch, rng, gc.float64)
    gopt = optim.SGD(gparams, lr=0.1, momentum=0.9)
    topt = torch.optim.SGD(tparams, lr=0.1, momentum=0.9)
    gs = lr_scheduler.StepLR(gopt, step_size=2, gamma=0.3)
    ts = torch.optim.lr_scheduler.StepLR(topt, step_size=2, gamma=0.3)
    for grads in _grads(rng, 8):
        _set_grads(torch, gparams, tparams, grads, gc.float64)
        gopt.step()
        topt.step()
        gs.step()
        ts.step()
    _assert_params_close(gparams, tparams, rtol=1e-10, atol=1e-12)


# --------------------------------------------------------------------------------------
# Gradient clipping
# --------------------------------------------------------------------------------------
def _clip_pair(torch, rng, dtype=np.float64, scale=1.0):
    shapes = [(7, 3), (3,), (2, 2, 5)]
    gp, tp = [], []
    for s in shapes:
        a = rng.standard_normal(s).astype(dtype)
        g = (rng.standard_normal(s) * scale).astype(dtype)
        p = nn.Parameter(gc.tensor(a))
        p.grad = gc.tensor(g)
        q = torch.nn.Parameter(torch.tensor(a))
        q.grad = torch.tensor(g)
        gp.append(p)
        tp.append(q)
    return gp, tp


@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf, 3.0])
@pytest.mark.parametrize("max_norm", [0.5, 1e6])
def test_clip_grad_norm_matches_torch(norm_type, max_norm, each_isa):
    torch = pytest.importorskip("torch")
    gp, tp = _clip_pair(torch, np.random.default_rng(11))
    gnorm = nn.utils.clip_grad_norm_(gp, max_norm, norm_type=norm_type)
    tnorm = torch.nn.utils.clip_grad_norm_(tp, max_norm, norm_type=norm_type)
    assert float(gnorm.item()) == pytest.approx(float(tnorm.item()), rel=1e-12)
    for p, q in zip(gp, tp):
        np.testing.assert_allclose(p.grad.detach().numpy(), q.grad.detach().numpy(), rtol=1e-12, atol=1e-15)
    total = float(gnorm.item())
    if max_norm < total:
        after = nn.utils.clip_grad_norm_(gp, 1e9, norm_type=norm_type).item()
        assert after == pytest.approx(max_norm, rel=1e-5)


def test_clip_grad_norm_float32_single_tensor_and_missing_grads():
    torch = pytest.importorskip("torch")
    gp, tp = _clip_pair(torch, np.random.default_rng(12), dtype=np.float32, scale=5.0)
    gp[1].grad = None
    tp[1].grad = None
    gnorm = nn.utils.clip_grad_norm_(gp, 1.0)
    tnorm = torch.nn.utils.clip_grad_norm_(tp, 1.0)
    assert float(gnorm.item()) == pytest.approx(float(tnorm.item()), rel=1e-5)
    assert gp[1].grad is None
    for p, q in zip([gp[0], gp[2]], [tp[0], tp[2]]):
        np.testing.assert_allclose(p.grad.detach().numpy(), q.grad.detach().numpy(), rtol=1e-5, atol=1e-7)
    # a single tensor instead of an iterable
    single = nn.Parameter(gc.tensor([3.0, 4.0]))
    single.grad = gc.tensor([3.0, 4.0])
    n = nn.utils.clip_grad_norm_(single, 1.0)
    assert n.item() == pytest.approx(5.0)
    np.testing.assert_allclose(single.grad.detach().numpy(), [0.6, 0.8], rtol=1e-5)


def test_clip_grad_norm_nonfinite():
    p = nn.Parameter(gc.tensor([1.0, 2.0]))
    p.grad = gc.tensor([float("nan"), 1.0])
    with pytest.raises(RuntimeError):
        nn.utils.clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
    q = nn.Parameter(gc.tensor([1.0, 2.0]))
    q.grad = gc.tensor([float("inf"), 1.0])
    assert math.isinf(nn.utils.clip_grad_norm_([q], 1.0, norm_type=math.inf).item())


def test_clip_grad_value_matches_torch(each_isa):
    torch = pytest.importorskip("torch")
    gp, tp = _clip_pair(torch, np.random.default_rng(13), scale=2.0)
    nn.utils.clip_grad_value_(gp, 0.7)
    torch.nn.utils.clip_grad_value_(tp, 0.7)
    for p, q in zip(gp, tp):
        np.testing.assert_array_equal(p.grad.detach().numpy(), q.grad.detach().numpy())
        assert np.abs(p.grad.detach().numpy()).max() <= 0.7
    assert any((np.abs(p.grad.detach().numpy()) == 0.7).any() for p in gp)


# --------------------------------------------------------------------------------------
# Transactional state changes: a step or load_state_dict that raises changes nothing
# --------------------------------------------------------------------------------------
def _snapshot(opt):
    """Everything an optimizer holds, as plain values: parameters, hyper-parameters, state (buffers and steps)."""
    params = [p.detach().numpy().copy() for g in opt.param_groups for p in g["params"]]
    groups = [{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups]
    sd = opt.state_dict()
    state = {i: {k: (v.detach().numpy().copy() if hasattr(v, "numpy") else v) for k, v in st.items()}
             for i, st in sd["state"].items()}
    raw = {id(p): {k: (v.detach().numpy().copy() if hasattr(v, "numpy") else v) for k, v in st.items()}
           for p, st in opt.state.items()}
    return params, groups, state, raw


def _assert_same(a, b):
    pa, ga, sa, ra = a
    pb, gb, sb, rb = b
    assert len(pa) == len(pb)
    for x, y in zip(pa, pb):
        np.testing.assert_array_equal(x, y)
    assert ga == gb
    for s1, s2 in ((sa, sb), (ra, rb)):
        assert s1.keys() == s2.keys()
        for i in s1:
            assert s1[i].keys() == s2[i].keys()
            for k in s1[i]:
                np.testing.assert_array_equal(s1[i][k], s2[i][k])


def _trained(name, kw, groups=2, steps=3, seed=20):
    """An optimizer over SHAPES float64 params in `groups` groups, after `steps` steps, and its grads."""
    rng = np.random.default_rng(seed)
    params = [nn.Parameter(gc.tensor(rng.standard_normal(s))) for s in SHAPES]
    spec = [{"params": params[:2]}, {"params": params[2:], "lr": kw["lr"] / 2}] if groups == 2 else params
    opt = getattr(optim, name)(spec, **kw)
    grads = _grads(rng, steps + 1)
    for g in grads[:steps]:
        for p, gg in zip(params, g):
            p.grad = gc.tensor(gg)
        opt.step()
    for p, gg in zip(params, grads[steps]):
        p.grad = gc.tensor(gg)
    return opt, params


@pytest.mark.parametrize("name,kw", ROUND_TRIP)
@pytest.mark.parametrize("groups", [1, 2])
@pytest.mark.parametrize("bad", ["state_shape", "state_dtype", "hyper_type", "hyper_tuple"])
def test_failed_step_changes_nothing(name, kw, groups, bad):
    """The bad entry is in the LAST parameter (or group): a step that updated as it went would
    already have moved the first ones. After the error, a good step matches a twin optimizer.

    (``.grad`` assignment already refuses a gradient of the wrong shape or dtype; a parameter
    whose ``.data`` was replaced by another shape or dtype no longer matches its state buffers.)"""
    opt, params = _trained(name, kw, groups)
    twin, twin_params = _trained(name, kw, groups)
    last = params[-1]
    data, grad = last.detach().clone(), last.grad
    if bad == "state_shape":
        last.data = gc.zeros(3, dtype=gc.float64)
        last.grad = gc.ones(3, dtype=gc.float64)
        exc = ValueError
    elif bad == "state_dtype":
        last.data = data.to(gc.float32)
        last.grad = grad.to(gc.float32)
        exc = TypeError
    elif bad == "hyper_type":
        opt.param_groups[-1]["lr"] = "fast"
        exc = TypeError
    else:
        key = "betas" if name.startswith("Adam") else "lr_decay" if name == "Adagrad" else "momentum"
        old = opt.param_groups[-1][key]
        opt.param_groups[-1][key] = ("a", "b") if key == "betas" else None
        exc = TypeError
    before = _snapshot(opt)
    with pytest.raises(exc):
        opt.step()
    _assert_same(_snapshot(opt), before)
    if bad.startswith("state"):
        last.data = data
        last.grad = grad
    elif bad == "hyper_type":
        opt.param_groups[-1]["lr"] = twin.param_groups[-1]["lr"]
    else:
        opt.param_groups[-1][key] = old
    opt.step()
    twin.step()
    _assert_params_close(params, twin_params, rtol=0, atol=0)
    _assert_same(_snapshot(opt)[:3] + ({},), _snapshot(twin)[:3] + ({},))   # state by index (ids differ)


def test_failed_core_step_changes_nothing_state_buffer():
    """_core.optim_step itself: a bad state buffer of the last parameter -> nothing written (params, buffers, steps)."""
    from gradcore import _core

    ps = [nn.Parameter(gc.ones(4, dtype=gc.float64)) for _ in range(3)]
    for p in ps:
        p.grad = gc.ones(4, dtype=gc.float64)
    steps = gc.zeros(3, dtype=gc.float64)
    for bad_buf, exc in [(gc.zeros(4, dtype=gc.float32), TypeError), (gc.zeros(5, dtype=gc.float64), ValueError),
                         (None, ValueError)]:
        m = [gc.zeros(4, dtype=gc.float64) for _ in ps]
        v = [gc.zeros(4, dtype=gc.float64) for _ in ps[:-1]] + [bad_buf]
        with pytest.raises(exc):
            _core.optim_step("adam", ps, [m, v, [None] * 3], steps, lr=0.1)
        for p in ps:
            np.testing.assert_array_equal(p.detach().numpy(), np.ones(4))
        for buf in m:
            np.testing.assert_array_equal(buf.detach().numpy(), np.zeros(4))
        np.testing.assert_array_equal(steps.detach().numpy(), [0.0, 0.0, 0.0])
    # a step count that is not a non-negative integer is a bad state too
    for bad_step in (-1.0, 2.5, float("nan")):
        steps = gc.tensor(np.array([3.0, 3.0, bad_step]))
        with pytest.raises(ValueError, match="step count"):
            _core.optim_step("adagrad", ps, [[gc.zeros(4, dtype=gc.float64) for _ in ps]], steps, lr=0.1)
        np.testing.assert_array_equal(ps[0].detach().numpy(), np.ones(4))
        assert steps.detach().numpy()[0] == 3.0
    # check_only validates and writes nothing
    steps = gc.zeros(3, dtype=gc.float64)
    _core.optim_step("sgd", ps, [], steps, lr=0.1, check_only=True)
    np.testing.assert_array_equal(steps.detach().numpy(), [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(ps[2].detach().numpy(), np.ones(4))


def test_core_step_refuses_buffers_that_share_memory():
    """The same tensor twice, or a state buffer that is a parameter: work items would race. ValueError, nothing written."""
    from gradcore import _core

    p, q = nn.Parameter(gc.ones(3, dtype=gc.float64)), nn.Parameter(gc.ones(3, dtype=gc.float64))
    for t in (p, q):
        t.grad = gc.ones(3, dtype=gc.float64)
    steps = gc.zeros(3, dtype=gc.float64)
    with pytest.raises(ValueError, match="share memory"):
        _core.optim_step("sgd", [p, q, p], [], steps, lr=0.1)
    with pytest.raises(ValueError, match="share memory"):
        _core.optim_step("sgd", [p, q], [[gc.zeros(3, dtype=gc.float64), p]], gc.zeros(2, dtype=gc.float64),
                         lr=0.1, momentum=0.9)
    np.testing.assert_array_equal(p.detach().numpy(), np.ones(3))
    np.testing.assert_array_equal(steps.detach().numpy(), np.zeros(3))


def _bad_state_dicts(name, sd):
    """(label, state dict, exception type) — each one bad in a single place, as late as possible."""
    import copy as _copy

    def edit(fn):
        d = {"state": {i: dict(st) for i, st in sd["state"].items()},
             "param_groups": [dict(g, params=list(g["params"])) for g in sd["param_groups"]]}
        fn(d)
        return d

    last = max(sd["state"])
    buf = next(k for k in sd["state"][last] if k != "step")
    out = [
        ("not_a_dict", [sd["state"], sd["param_groups"]], TypeError),
        ("no_param_groups", {"state": sd["state"]}, KeyError),
        ("no_state", {"param_groups": sd["param_groups"]}, KeyError),
        ("group_no_params", edit(lambda d: d["param_groups"][-1].pop("params")), KeyError),
        ("extra_group", edit(lambda d: d["param_groups"].append(_copy.deepcopy(d["param_groups"][-1]))), ValueError),
        ("short_group", edit(lambda d: d["param_groups"][-1].update(params=d["param_groups"][-1]["params"][:-1])),
         ValueError),
        ("duplicate_ids", edit(lambda d: d["param_groups"][-1].update(params=[0] * len(d["param_groups"][-1]["params"]))),
         ValueError),
        ("id_not_int", edit(lambda d: d["param_groups"][-1]["params"].__setitem__(-1, "x")), TypeError),
        ("unknown_state_id", edit(lambda d: d["state"].__setitem__(99, dict(d["state"][last]))), ValueError),
        ("entry_not_dict", edit(lambda d: d["state"].__setitem__(last, 5)), TypeError),
        ("buffer_shape", edit(lambda d: d["state"][last].__setitem__(buf, gc.zeros(2))), ValueError),
        ("buffer_not_tensor", edit(lambda d: d["state"][last].__setitem__(buf, np.zeros(SHAPES[last]))), TypeError),
        ("step_negative", edit(lambda d: d["state"][last].__setitem__("step", -1.0)), ValueError),
        ("step_fraction", edit(lambda d: d["state"][last].__setitem__("step", 2.5)), ValueError),
        ("step_str", edit(lambda d: d["state"][last].__setitem__("step", "3")), TypeError),
        ("lr_str", edit(lambda d: d["param_groups"][-1].__setitem__("lr", "fast")), TypeError),
        ("lr_negative", edit(lambda d: d["param_groups"][-1].__setitem__("lr", -0.1)), ValueError),
        ("lr_nan", edit(lambda d: d["param_groups"][-1].__setitem__("lr", float("nan"))), ValueError),
        ("weight_decay_none", edit(lambda d: d["param_groups"][-1].__setitem__("weight_decay", None)), TypeError),
    ]
    if name.startswith("Adam"):
        out += [("betas_short", edit(lambda d: d["param_groups"][-1].__setitem__("betas", (0.9,))), TypeError),
                ("beta_range", edit(lambda d: d["param_groups"][-1].__setitem__("betas", (0.9, 1.5))), ValueError),
                # torch's Adam honours decoupled_weight_decay, so does gradcore's: not an error
                ("differentiable", edit(lambda d: d["param_groups"][-1].__setitem__("differentiable", True)),
                 NotImplementedError)]
    if name == "SGD":
        out += [("momentum_negative", edit(lambda d: d["param_groups"][-1].__setitem__("momentum", -0.5)), ValueError),
                ("nesterov_dampening", edit(lambda d: d["param_groups"][-1].__setitem__("dampening", 0.5)), ValueError)]
    if name == "RMSprop":
        out += [("alpha_negative", edit(lambda d: d["param_groups"][-1].__setitem__("alpha", -0.5)), ValueError)]
    if name == "Adagrad":
        out += [("lr_decay_negative", edit(lambda d: d["param_groups"][-1].__setitem__("lr_decay", -1.0)), ValueError)]
    return out


@pytest.mark.parametrize("name,kw", ROUND_TRIP)
def test_bad_load_state_dict_changes_nothing(name, kw):
    """Every kind of bad dict raises (PyTorch's types) and leaves state, groups and hyper-parameters as they
    were; the optimizer then continues exactly like a twin that never saw them."""
    opt, params = _trained(name, kw)
    twin, twin_params = _trained(name, kw)
    # a valid dict from another run, so that a partial load would be visible
    other, _ = _trained(name, dict(kw, lr=kw["lr"] * 3), seed=21)
    sd = other.state_dict()
    before = _snapshot(opt)
    cases = _bad_state_dicts(name, sd)
    assert len(cases) >= 19
    for label, bad, exc in cases:
        with pytest.raises(exc):
            opt.load_state_dict(bad)
        _assert_same(_snapshot(opt), before)
    opt.step()
    twin.step()
    _assert_params_close(params, twin_params, rtol=0, atol=0)
    # and the valid dict still loads
    opt.load_state_dict(sd)
    assert opt.param_groups[0]["lr"] == kw["lr"] * 3


def test_load_state_dict_group_errors_match_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(22)
    gparams, tparams = _pair(torch, rng, gc.float64)
    gopt = optim.Adam([{"params": gparams[:2]}, {"params": gparams[2:]}], lr=0.1)
    topt = torch.optim.Adam([{"params": tparams[:2]}, {"params": tparams[2:]}], lr=0.1)
    gsd, tsd = gopt.state_dict(), topt.state_dict()
    for edit in (lambda d: d["param_groups"].pop(),
                 lambda d: d["param_groups"][1].update(params=d["param_groups"][1]["params"][:1]),
                 lambda d: d.pop("param_groups")):
        g = {"state": dict(gsd["state"]), "param_groups": [dict(x) for x in gsd["param_groups"]]}
        t = {"state": dict(tsd["state"]), "param_groups": [dict(x) for x in tsd["param_groups"]]}
        edit(g)
        edit(t)
        with pytest.raises(Exception) as te:
            topt.load_state_dict(t)
        with pytest.raises(type(te.value)) as ge:
            gopt.load_state_dict(g)
        if isinstance(te.value, ValueError):
            assert str(ge.value) == str(te.value)


# --------------------------------------------------------------------------------------
# Duplicate parameters, sets, NaN learning rates
# --------------------------------------------------------------------------------------
DUPLICATE_CONFIGS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.05)),
    ("AdamW", dict(lr=0.01, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.1)),
]


@pytest.mark.parametrize("cfg", DUPLICATE_CONFIGS, ids=_ids)
def test_duplicate_parameters_warn_and_update_like_torch(cfg):
    """A parameter listed several times in one group: PyTorch's UserWarning (same text), and
    PyTorch's updates (one per occurrence, shared state; SGD's first-step rule per occurrence)."""
    torch = pytest.importorskip("torch")
    name, kw = cfg
    rng = np.random.default_rng(23)
    gparams, tparams = _pair(torch, rng, gc.float64, SHAPES[:3])
    order = [0, 1, 0, 2, 0, 1]
    with pytest.warns(UserWarning, match="duplicate parameters") as gw:
        gopt = getattr(optim, name)([gparams[i] for i in order], **kw)
    with pytest.warns(UserWarning, match="duplicate parameters") as tw:
        topt = getattr(torch.optim, name)([tparams[i] for i in order], **kw)
    assert str(gw[0].message) == str(tw[0].message)
    for step, grads in enumerate(_grads(rng, 6, SHAPES[:3])):
        if step == 3:
            grads[1] = None
        _set_grads(torch, gparams, tparams, grads, gc.float64)
        gopt.step()
        topt.step()
        _assert_params_close(gparams, tparams, rtol=1e-10, atol=1e-12, msg=f"step {step}")
    tsd, gsd = topt.state_dict(), gopt.state_dict()
    assert [g["params"] for g in gsd["param_groups"]] == [g["params"] for g in tsd["param_groups"]]
    for i, st in tsd["state"].items():
        if "step" in st:
            assert gsd["state"][i]["step"] == float(st["step"])


def test_duplicates_across_groups_and_sets_raise_like_torch():
    torch = pytest.importorskip("torch")
    gp, tp = nn.Parameter(gc.ones(2)), torch.nn.Parameter(torch.ones(2))
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.SGD([{"params": [gp]}, {"params": [gp]}], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        torch.optim.SGD([{"params": [tp]}, {"params": [tp]}], lr=0.1)
    with pytest.raises(TypeError) as te:
        torch.optim.SGD([{"params": {tp}}], lr=0.1)
    with pytest.raises(TypeError) as ge:
        optim.SGD([{"params": {gp}}], lr=0.1)
    assert str(ge.value) == str(te.value) and "ordered collections" in str(ge.value)
    # a set of parameters (not of a group) is accepted by both
    assert len(torch.optim.SGD({tp}, lr=0.1).param_groups[0]["params"]) == 1
    assert len(optim.SGD({gp}, lr=0.1).param_groups[0]["params"]) == 1


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad"])
def test_nan_and_non_number_hyperparameters_raise(name):
    p = [nn.Parameter(gc.ones(2))]
    with pytest.raises(ValueError, match="Invalid learning rate: nan"):
        getattr(optim, name)(p, lr=float("nan"))
    with pytest.raises(TypeError, match="lr must be a number"):
        getattr(optim, name)(p, lr="0.1")
    with pytest.raises(ValueError, match="Invalid learning rate"):
        getattr(optim, name)(p, lr=0.1).add_param_group({"params": [nn.Parameter(gc.ones(1))], "lr": -1.0})


def test_adam_beta_messages_match_torch():
    torch = pytest.importorskip("torch")
    for betas in [(1.0, 0.9), (0.9, -0.1), (float("nan"), 0.9)]:
        with pytest.raises(ValueError) as te:
            torch.optim.Adam([torch.nn.Parameter(torch.ones(1))], betas=betas)
        with pytest.raises(ValueError) as ge:
            optim.Adam([nn.Parameter(gc.ones(1))], betas=betas)
        assert str(ge.value) == str(te.value)


def test_scheduler_load_state_dict_is_checked_first():
    opt = optim.SGD([{"params": [nn.Parameter(gc.ones(1))]}, {"params": [nn.Parameter(gc.ones(1))]}], lr=0.2)
    sched = lr_scheduler.StepLR(opt, step_size=3, gamma=0.5)
    for _ in range(4):
        opt.step()
        sched.step()
    before = dict(sched.__dict__)
    good = sched.state_dict()
    bad = [([1, 2], TypeError), ({**good, "optimizer": None}, ValueError), ({**good, "base_lrs": [0.1]}, ValueError),
           ({**good, "base_lrs": ["a", "b"]}, TypeError), ({**good, "last_epoch": 2.5}, TypeError),
           ({**good, "_last_lr": None}, ValueError), ({**good, 3: 1}, TypeError),
           ({**good, "lr_lambdas": [{"x": 1}, None]}, ValueError)]
    for sd, exc in bad:
        with pytest.raises(exc):
            sched.load_state_dict(sd)
        assert sched.__dict__ == before and sched.optimizer is opt
    sched.load_state_dict({**good, "lr_lambdas": [None, None], "last_epoch": 7})   # torch's LambdaLR layout
    assert sched.last_epoch == 7 and "lr_lambdas" not in sched.__dict__


def test_state_dict_after_a_group_changed_reads_each_parameters_own_step():
    """Parameters inserted into a group after a step: each state entry keeps its own step count
    (the counts were read by position in the old group, so they shifted or ran out)."""
    a, b, c = (nn.Parameter(gc.ones(2, dtype=gc.float64)) for _ in range(3))
    opt = optim.Adam([a, b], lr=0.1)
    a.grad = gc.ones(2, dtype=gc.float64)
    opt.step()                      # a: 1 step, b: none
    b.grad = gc.ones(2, dtype=gc.float64)
    opt.step()                      # a: 2, b: 1
    opt.param_groups[0]["params"].insert(0, c)
    sd = opt.state_dict()
    assert sd["param_groups"][0]["params"] == [0, 1, 2]
    assert sd["state"][1]["step"] == 2.0 and sd["state"][2]["step"] == 1.0 and 0 not in sd["state"]


def test_adam_amsgrad_max_propagates_nan_like_torch_maximum():
    """v_hat = max(v_hat, v) is torch.maximum: a NaN already in v_hat (e.g. from a loaded state) stays NaN."""
    torch = pytest.importorskip("torch")
    w, g = np.array([1.0, -2.0, 0.5]), np.array([0.1, -0.3, 0.2])
    p = nn.Parameter(gc.tensor(w))
    tp = torch.nn.Parameter(torch.tensor(w))
    opt = gc.optim.Adam([p], lr=0.1, amsgrad=True)
    topt = torch.optim.Adam([tp], lr=0.1, amsgrad=True)
    for step in range(2):
        p.grad = gc.tensor(g)
        tp.grad = torch.tensor(g)
        opt.step()
        topt.step()
        if step == 0:
            opt.state[p]["max_exp_avg_sq"].detach().numpy()[1] = np.nan
            topt.state[tp]["max_exp_avg_sq"][1] = float("nan")
    got, want = p.detach().numpy(), tp.detach().numpy()
    np.testing.assert_array_equal(np.isnan(got), [False, True, False])
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_optimizer_declarations_are_read_from_cpp():
    """Note [Optimizer declarations]: the state slots and hyper-parameters are declared once in C++."""
    from gradcore import _core

    specs = _core.optimizer_specs()
    classes = {"sgd": optim.SGD, "adam": optim.Adam, "rmsprop": optim.RMSprop, "adagrad": optim.Adagrad,
               "adamax": optim.Adamax, "nadam": optim.NAdam, "radam": optim.RAdam, "adadelta": optim.Adadelta,
               "asgd": optim.ASGD}
    assert set(specs) == set(classes)
    for kind, cls in classes.items():
        assert cls.state_names == specs[kind]["states"] and cls.scalar_names == specs[kind]["scalars"]
        assert "lr" in specs[kind]["hyper"]
    assert specs["adam"]["states"] == ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")  # PyTorch's state keys
    assert optim.AdamW.state_names == optim.Adam.state_names
    assert _core.optim_slots("sgd", lr=0.1) == [False]
    assert _core.optim_slots("sgd", lr=0.1, momentum=0.9) == [True]
    assert _core.optim_slots("adam", lr=0.1, amsgrad=True) == [True, True, True]
    assert _core.optim_slots("rmsprop", lr=0.1, centered=True) == [True, False, True]


def test_core_step_rejects_undeclared_or_non_numeric_hyper():
    from gradcore import _core

    p = nn.Parameter(gc.ones(3))
    p.grad = gc.ones(3)
    steps = gc.zeros(1, dtype=gc.float64)
    with pytest.raises(ValueError, match="sgd has no hyper-parameter 'betas'"):
        _core.optim_step("sgd", [p], [], steps, lr=0.1, betas=0.9)
    with pytest.raises(TypeError, match="'lr' must be a number"):
        _core.optim_step("sgd", [p], [], steps, lr="fast")
    np.testing.assert_array_equal(p.detach().numpy(), [1.0, 1.0, 1.0])
    _core.optim_step("sgd", [p], [], steps, lr=np.float32(0.5))  # anything with __float__
    np.testing.assert_allclose(p.detach().numpy(), [0.5, 0.5, 0.5])


@pytest.mark.parametrize("dtype", [gc.float32, gc.float64])
def test_optimizer_state_flushes_denormals_and_leaves_ieee_elsewhere(dtype, each_isa):
    # Note [Optimizer state flushes denormals]: a moment that decays into the denormal range
    # becomes 0 (PyTorch keeps it; the difference is below the smallest normal number) and
    # the parameter is what PyTorch computes; ops outside the optimizer keep denormals.
    np_dt = NP_DTYPE[dtype]
    tiny = np.finfo(np_dt).tiny
    p = nn.Parameter(gc.tensor([1.0, -2.0, 0.5], dtype=dtype))
    opt = optim.Adam([p], lr=1e-3)
    p.grad = gc.tensor([0.1, -0.2, 0.3], dtype=dtype)
    opt.step()
    state = opt.state[p]
    state["exp_avg"].copy_(gc.tensor([tiny * 0.25, tiny * 4, 0.0], dtype=dtype))  # denormal, normal, zero
    before = p.detach().numpy().copy()
    p.grad = gc.zeros(3, dtype=dtype)
    opt.step()
    m = state["exp_avg"].numpy()
    assert m[0] == 0.0                                    # 0.9 * denormal: flushed
    # a normal moment: within the smallest normal number of IEEE's (PyTorch's lerp form
    # m + 0.1 (g - m) has a denormal increment here, which is flushed)
    assert abs(float(m[1]) - 0.9 * float(np_dt(tiny * 4))) < tiny
    np.testing.assert_array_equal(p.detach().numpy()[[0, 2]], before[[0, 2]])
    # the control register is restored: denormal arithmetic outside the step is IEEE
    x = gc.tensor([tiny], dtype=dtype) * 0.25
    assert x.numpy()[0] == np_dt(tiny) * np_dt(0.25) and x.numpy()[0] > 0
