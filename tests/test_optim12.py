"""Issue 12 optimizers (Adamax, NAdam, RAdam, Adadelta, ASGD, LBFGS) and LR schedulers,
step by step against PyTorch (torch.optim with foreach=False, the executable reference)."""
from __future__ import annotations

import copy
import math
import warnings

import numpy as np
import pytest

import gradcore as gc
import gradcore.nn as nn
import gradcore.optim as optim
from gradcore.optim import lr_scheduler

NP_DTYPE = {gc.float32: np.float32, gc.float64: np.float64}
SHAPES = [(5, 4), (4,), (3, 2, 2), (37, 29)]

CONFIGS = [
    ("Adamax", dict(lr=0.01)),
    ("Adamax", dict(lr=0.02, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.1)),
    ("Adamax", dict(lr=0.01, weight_decay=0.05, maximize=True)),
    ("NAdam", dict(lr=0.01)),
    ("NAdam", dict(lr=0.01, betas=(0.8, 0.9), momentum_decay=0.01, weight_decay=0.1)),
    ("NAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    ("NAdam", dict(lr=0.01, weight_decay=0.02, maximize=True)),
    ("RAdam", dict(lr=0.01)),
    ("RAdam", dict(lr=0.01, betas=(0.5, 0.6), weight_decay=0.1)),  # rho_t > 5 early: the rectified branch
    ("RAdam", dict(lr=0.01, betas=(0.9, 0.8), weight_decay=0.1, decoupled_weight_decay=True)),
    ("RAdam", dict(lr=0.01, betas=(0.7, 0.7), maximize=True)),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.8, eps=1e-4, weight_decay=0.1)),
    ("Adadelta", dict(lr=0.3, maximize=True)),
    ("ASGD", dict(lr=0.01)),
    ("ASGD", dict(lr=0.05, lambd=0.01, alpha=0.5, t0=5, weight_decay=0.1)),  # mu != 1 after t0 steps
    ("ASGD", dict(lr=0.05, t0=3, maximize=True)),
]


def _ids(cfg):
    name, kw = cfg
    return name + "-" + "-".join(f"{k}={v}" for k, v in kw.items())


def _grads(rng, steps, shapes=SHAPES):
    out = []
    for _ in range(steps):
        scale = 10.0 ** rng.uniform(-2, 1)
        gs = []
        for s in shapes:
            g = rng.standard_normal(s) * scale
            g.reshape(-1)[::7] = 0.0
            gs.append(g)
        out.append(gs)
    return out


def _pair(torch, rng, dtype, shapes=SHAPES):
    init = [rng.standard_normal(s) for s in shapes]
    npdt = NP_DTYPE[dtype]
    return ([nn.Parameter(gc.tensor(a.astype(npdt))) for a in init],
            [torch.nn.Parameter(torch.tensor(a.astype(npdt))) for a in init])


def _set_grads(torch, gparams, tparams, grads, dtype):
    npdt = NP_DTYPE[dtype]
    for gp, tp, g in zip(gparams, tparams, grads):
        gp.grad = None if g is None else gc.tensor(g.astype(npdt))
        tp.grad = None if g is None else torch.tensor(g.astype(npdt))


def _value(v):
    if hasattr(v, "detach"):
        return np.asarray(v.detach().numpy(), dtype=np.float64)
    return np.float64(v)


def _assert_state_close(gsd, tsd, rtol, atol):
    assert sorted(gsd["state"]) == sorted(tsd["state"])
    for idx, tst in tsd["state"].items():
        gst = gsd["state"][idx]
        assert set(gst) == set(tst), (idx, set(gst), set(tst))
        for k, tv in tst.items():
            np.testing.assert_allclose(_value(gst[k]), _value(tv), rtol=rtol, atol=atol, err_msg=f"{idx}.{k}")
    assert len(gsd["param_groups"]) == len(tsd["param_groups"])
    for gg, tg in zip(gsd["param_groups"], tsd["param_groups"]):
        assert set(gg) == set(tg), (set(gg) ^ set(tg))
        for k, tv in tg.items():
            if k != "foreach":  # torch's run here passes foreach=False
                assert gg[k] == (list(tv) if isinstance(tv, tuple) and isinstance(gg[k], list) else tv), k


@pytest.mark.parametrize("dtype", [gc.float64, gc.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("cfg", CONFIGS, ids=_ids)
def test_trajectory_and_state_match_torch(cfg, dtype):
    torch = pytest.importorskip("torch")
    name, kw = cfg
    rtol, atol = (1e-10, 1e-12) if dtype == gc.float64 else (2e-5, 2e-6)
    rng = np.random.default_rng(3)
    gparams, tparams = _pair(torch, rng, dtype)
    start = [p.detach().numpy().copy() for p in gparams]
    gopt = getattr(optim, name)(gparams, **kw)
    topt = getattr(torch.optim, name)(tparams, foreach=False, **kw)
    for step, grads in enumerate(_grads(rng, 20)):
        if step == 4:
            grads[1] = None  # a parameter without a gradient is skipped (its step count too)
        _set_grads(torch, gparams, tparams, grads, dtype)
        gopt.step()
        topt.step()
        for i, (gp, tp) in enumerate(zip(gparams, tparams)):
            np.testing.assert_allclose(gp.detach().numpy(), tp.detach().numpy(), rtol=rtol, atol=atol,
                                       err_msg=f"step {step} param {i}")
    assert not np.allclose(gparams[0].detach().numpy(), start[0])
    _assert_state_close(gopt.state_dict(), topt.state_dict(), rtol, atol)


@pytest.mark.parametrize("cfg", CONFIGS[::2], ids=_ids)
def test_state_dict_round_trip_and_torch_state_loads(cfg):
    torch = pytest.importorskip("torch")
    name, kw = cfg
    rng = np.random.default_rng(5)
    gparams, tparams = _pair(torch, rng, gc.float64, shapes=[(3, 2), (4,)])
    gopt = getattr(optim, name)(gparams, **kw)
    topt = getattr(torch.optim, name)(tparams, foreach=False, **kw)
    grads = _grads(rng, 12, shapes=[(3, 2), (4,)])
    for g in grads[:6]:
        _set_grads(torch, gparams, tparams, g, gc.float64)
        gopt.step()
        topt.step()
    # gradcore -> gradcore, and torch -> gradcore (tensors converted)
    g2 = [nn.Parameter(p.detach().clone()) for p in gparams]
    g3 = [nn.Parameter(p.detach().clone()) for p in gparams]
    o2 = getattr(optim, name)(g2, lr=123.0)
    o2.load_state_dict(copy.deepcopy(gopt.state_dict()))
    tsd = topt.state_dict()
    conv = {"state": {i: {k: (gc.tensor(v.numpy()) if torch.is_tensor(v) else v) for k, v in st.items()}
                      for i, st in tsd["state"].items()},
            "param_groups": copy.deepcopy(tsd["param_groups"])}
    o3 = getattr(optim, name)(g3, lr=123.0)
    o3.load_state_dict(conv)
    assert o2.param_groups[0]["lr"] == kw.get("lr", gopt.defaults["lr"])
    for g in grads[6:]:
        _set_grads(torch, gparams + g2 + g3, tparams * 3, g * 3, gc.float64)
        for o in (gopt, o2, o3, topt):
            o.step()
    for a, b, c, t in zip(gparams, g2, g3, tparams):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
        np.testing.assert_allclose(c.detach().numpy(), t.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_default_hyperparameters_and_param_group_keys_match_torch():
    torch = pytest.importorskip("torch")
    for name in ["Adamax", "NAdam", "RAdam", "Adadelta", "ASGD", "LBFGS", "SGD", "Adam", "AdamW", "RMSprop",
                 "Adagrad"]:
        g = getattr(optim, name)([nn.Parameter(gc.ones(2))])
        t = getattr(torch.optim, name)([torch.nn.Parameter(torch.ones(2))])
        gg, tg = g.param_groups[0], t.param_groups[0]
        assert set(gg) == set(tg), name
        for k in tg:
            if k != "params":
                assert (list(gg[k]) if isinstance(gg[k], tuple) else gg[k]) == \
                    (list(tg[k]) if isinstance(tg[k], tuple) else tg[k]), (name, k)


@pytest.mark.parametrize("name, kw", [
    ("Adam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),  # torch's Adam as AdamW
    ("Adam", dict(lr=0.01, foreach=True, fused=False, capturable=True)),
    ("SGD", dict(lr=0.1, momentum=0.9, foreach=False, fused=True)),
    ("RMSprop", dict(lr=0.01, foreach=True, capturable=False)),
    ("Adagrad", dict(lr=0.1, foreach=False)),
])
def test_existing_optimizers_take_torchs_implementation_flags(name, kw):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(11)
    gparams, tparams = _pair(torch, rng, gc.float64, shapes=[(3, 2), (4,)])
    gopt = getattr(optim, name)(gparams, **kw)
    tkw = {k: v for k, v in kw.items() if k not in ("foreach", "fused", "capturable")}
    topt = getattr(torch.optim, name)(tparams, foreach=False, **tkw)
    for grads in _grads(rng, 8, shapes=[(3, 2), (4,)]):
        _set_grads(torch, gparams, tparams, grads, gc.float64)
        gopt.step()
        topt.step()
    for a, b in zip(gparams, tparams):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-10, atol=1e-12)
    with pytest.raises(NotImplementedError, match="differentiable"):
        getattr(optim, name)(gparams, differentiable=True)


@pytest.mark.parametrize("name", ["NAdam", "ASGD", "Adamax"])
def test_duplicate_parameters_and_empty_tensors_like_torch(name):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(12)
    gparams, tparams = _pair(torch, rng, gc.float64, shapes=[(3,), (0, 2), (2,)])
    kw = dict(lr=0.05, t0=2) if name == "ASGD" else dict(lr=0.05)
    with pytest.warns(UserWarning, match="duplicate parameters"):
        gopt = getattr(optim, name)(gparams + gparams[:1], **kw)
    with pytest.warns(UserWarning, match="duplicate parameters"):
        topt = getattr(torch.optim, name)(tparams + tparams[:1], foreach=False, **kw)
    for grads in _grads(rng, 6, shapes=[(3,), (0, 2), (2,)]):
        _set_grads(torch, gparams, tparams, grads, gc.float64)
        gopt.step()
        topt.step()
    for a, b in zip(gparams, tparams):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-10, atol=1e-12)
    _assert_state_close(gopt.state_dict(), topt.state_dict(), 1e-10, 1e-12)


def test_per_group_options_and_add_param_group_match_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(8)
    shapes = [(3,), (2, 2), (4,)]
    gparams, tparams = _pair(torch, rng, gc.float64, shapes=shapes)
    gopt = optim.NAdam([{"params": gparams[:1]}, {"params": gparams[1:2], "lr": 0.05, "betas": (0.5, 0.9)}],
                       lr=0.01, weight_decay=0.01)
    topt = torch.optim.NAdam([{"params": tparams[:1]}, {"params": tparams[1:2], "lr": 0.05, "betas": (0.5, 0.9)}],
                             lr=0.01, weight_decay=0.01, foreach=False)
    for i, grads in enumerate(_grads(rng, 10, shapes=shapes)):
        if i == 4:
            gopt.add_param_group({"params": gparams[2:], "momentum_decay": 0.02})
            topt.add_param_group({"params": tparams[2:], "momentum_decay": 0.02})
        _set_grads(torch, gparams, tparams, grads, gc.float64)
        gopt.step()
        topt.step()
    for a, b in zip(gparams, tparams):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-10, atol=1e-12)
    assert gopt.param_groups[2]["lr"] == 0.01 and gopt.param_groups[2]["momentum_decay"] == 0.02
    with pytest.raises(ValueError, match="more than one parameter group"):
        gopt.add_param_group({"params": gparams[:1]})
    with pytest.raises(ValueError):
        torch.optim.NAdam([{"params": tparams[:1]}, {"params": tparams[:1]}])
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.ASGD([{"params": gparams[:1]}, {"params": gparams[:1]}])


def test_zero_grad_and_closure():
    p = nn.Parameter(gc.tensor([1.0, 2.0]))
    opt = optim.Adamax([p], lr=0.1)
    (p * p).sum().backward()
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(p.grad.numpy(), [0.0, 0.0])
    opt.zero_grad()
    assert p.grad is None

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    assert float(opt.step(closure)) == pytest.approx(5.0)
    assert p.detach().numpy()[0] < 1.0


@pytest.mark.parametrize("name, kw, match", [
    ("Adamax", dict(lr=-1.0), "Invalid learning rate"),
    ("Adamax", dict(betas=(1.0, 0.9)), "Invalid beta parameter at index 0"),
    ("Adamax", dict(eps=-1.0), "Invalid epsilon value"),
    ("NAdam", dict(momentum_decay=-0.1), "Invalid momentum_decay value"),
    ("NAdam", dict(betas=(0.9, 1.5)), "Invalid beta parameter at index 1"),
    ("NAdam", dict(weight_decay=-0.1), "Invalid weight_decay value"),
    ("RAdam", dict(lr=-0.1), "Invalid learning rate"),
    ("Adadelta", dict(rho=1.5), "Invalid rho value"),
    ("Adadelta", dict(eps=-1e-3), "Invalid epsilon value"),
    ("ASGD", dict(lr=-0.1), "Invalid learning rate"),
    ("ASGD", dict(weight_decay=-0.1), "Invalid weight_decay value"),
    ("LBFGS", dict(lr=-1.0), "Invalid learning rate"),
])
def test_bad_hyperparameters_raise_like_torch(name, kw, match):
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueError, match=match):
        getattr(torch.optim, name)([torch.nn.Parameter(torch.ones(2))], **kw)
    with pytest.raises(ValueError, match=match):
        getattr(optim, name)([nn.Parameter(gc.ones(2))], **kw)


def test_bad_input_types_and_flags():
    p = nn.Parameter(gc.ones(2))
    with pytest.raises(TypeError):
        optim.RAdam([p], lr="fast")
    with pytest.raises(TypeError):
        optim.NAdam(p)  # a Tensor, not an iterable of them
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.Adadelta([])
    with pytest.raises(NotImplementedError, match="differentiable"):
        optim.Adamax([p], differentiable=True)
    # foreach / capturable select PyTorch implementations: accepted, same result
    for kw in (dict(foreach=True), dict(capturable=True), dict(foreach=False)):
        q = nn.Parameter(gc.tensor([1.0, -2.0]))
        q.grad = gc.tensor([0.5, 0.5])
        optim.NAdam([q], lr=0.1, **kw).step()
        r = nn.Parameter(gc.tensor([1.0, -2.0]))
        r.grad = gc.tensor([0.5, 0.5])
        optim.NAdam([r], lr=0.1).step()
        np.testing.assert_array_equal(q.detach().numpy(), r.detach().numpy())
    with pytest.raises(ValueError, match="parameter groups"):
        optim.LBFGS([{"params": [p]}, {"params": [nn.Parameter(gc.ones(1))]}])
    with pytest.raises(TypeError, match="closure"):
        optim.LBFGS([p]).step()


def test_core_step_checks_scalars():
    p = nn.Parameter(gc.ones(3, dtype=gc.float64))
    p.grad = gc.ones(3, dtype=gc.float64)
    steps = gc.zeros(1, dtype=gc.float64)
    with pytest.raises(ValueError, match="scalars"):
        gc._core.optim_step("asgd", [p], [[gc.zeros(3, dtype=gc.float64)]], steps, lr=0.1)
    with pytest.raises(ValueError, match="scalars"):
        gc._core.optim_step("nadam", [p], [[gc.zeros(3, dtype=gc.float64)], [gc.zeros(3, dtype=gc.float64)]],
                            steps, lr=0.1, scalars=gc.ones(2, dtype=gc.float32))
    np.testing.assert_array_equal(p.detach().numpy(), [1.0, 1.0, 1.0])  # nothing written
    assert steps.numpy()[0] == 0.0
    with pytest.raises(ValueError, match="unknown optimizer"):
        gc._core.optim_step("adamz", [p], [], steps, lr=0.1)


def test_nan_gradient_propagates_like_torch():
    torch = pytest.importorskip("torch")
    for name in ["Adamax", "NAdam", "RAdam", "Adadelta", "ASGD"]:
        g = nn.Parameter(gc.tensor([1.0, 2.0, 3.0]))
        t = torch.nn.Parameter(torch.tensor([1.0, 2.0, 3.0]))
        g.grad = gc.tensor([float("nan"), 1.0, float("inf")])
        t.grad = torch.tensor([float("nan"), 1.0, float("inf")])
        getattr(optim, name)([g]).step()
        getattr(torch.optim, name)([t], foreach=False).step()
        np.testing.assert_allclose(g.detach().numpy(), t.detach().numpy(), rtol=1e-6, equal_nan=True,
                                   err_msg=name)


# --------------------------------------------------------------------------------------
# LBFGS
# --------------------------------------------------------------------------------------
def _regression(lib, dtype, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((40, 3))
    y = x @ np.array([1.5, -2.0, 0.5]) + 0.3 + 0.1 * np.sin(3 * x[:, 0])
    npdt = np.float64 if dtype == "float64" else np.float32
    X, Y = lib.tensor(x.astype(npdt)), lib.tensor(y.astype(npdt))
    w = lib.nn.Parameter(lib.tensor(np.zeros(3, dtype=npdt)))
    b = lib.nn.Parameter(lib.tensor(np.zeros(1, dtype=npdt)))
    return X, Y, w, b


@pytest.mark.parametrize("line_search", [None, "strong_wolfe"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_lbfgs_matches_torch_step_by_step(line_search, dtype):
    torch = pytest.importorskip("torch")
    runs = {}
    for lib in (torch, gc):
        X, Y, w, b = _regression(lib, dtype)
        opt = (torch.optim if lib is torch else optim).LBFGS([w, b], lr=0.8 if line_search is None else 1,
                                                             max_iter=5, history_size=3,
                                                             line_search_fn=line_search)

        def closure():
            opt.zero_grad()
            r = X @ w + b - Y
            loss = (r * r).mean() + 0.01 * (w * w * w * w).sum()
            loss.backward()
            return loss

        with warnings.catch_warnings():  # torch's LBFGS float()s a loss that requires grad (its own warning)
            warnings.filterwarnings("ignore", "Converting a tensor with requires_grad", UserWarning)
            losses = [float(opt.step(closure)) for _ in range(6)]
        st = opt.state_dict()["state"][0]
        runs[lib.__name__] = (losses, w.detach().numpy().copy(), st["func_evals"], st["n_iter"])
    (tl, tw, tf, tn), (gl, gw, gf, gn) = runs["torch"], runs["gradcore"]
    tol = 1e-9 if dtype == "float64" else 1e-4
    np.testing.assert_allclose(gl, tl, rtol=tol, atol=tol)
    np.testing.assert_allclose(gw, tw, rtol=tol, atol=tol)
    if dtype == "float64":
        # float32: whether a tolerance_change test stops an iteration one evaluation early
        # depends on the last bits of a reduction, which differ between kernel ISAs.
        assert (gf, gn) == (tf, tn)
    assert gl[-1] < gl[0]


def test_lbfgs_state_dict_round_trip_continues_identically():
    X, Y, w, b = _regression(gc, "float64")
    w2, b2 = nn.Parameter(w.detach().clone()), nn.Parameter(b.detach().clone())
    opt = optim.LBFGS([w, b], max_iter=3, line_search_fn="strong_wolfe")

    def make_closure(o, w_, b_):
        def closure():
            o.zero_grad()
            r = X @ w_ + b_ - Y
            loss = (r * r).mean()
            loss.backward()
            return loss
        return closure

    opt.step(make_closure(opt, w, b))
    opt2 = optim.LBFGS([w2, b2], max_iter=3, line_search_fn="strong_wolfe")
    with gc.no_grad():
        w2.copy_(w)
        b2.copy_(b)
    opt2.load_state_dict(opt.state_dict())
    for _ in range(2):
        opt.step(make_closure(opt, w, b))
        opt2.step(make_closure(opt2, w2, b2))
    np.testing.assert_array_equal(w.detach().numpy(), w2.detach().numpy())


# --------------------------------------------------------------------------------------
# Schedulers: get_last_lr() over 30 steps, three parameter groups, against torch
# --------------------------------------------------------------------------------------
def _opts(torch, kind="SGD"):
    def groups(lib):
        P = lib.nn.Parameter
        return [{"params": [P(lib.ones(2))]}, {"params": [P(lib.ones(1))], "lr": 0.5},
                {"params": [P(lib.ones(3))], "lr": 0.02}]
    if kind == "SGD":
        return optim.SGD(groups(gc), lr=0.1, momentum=0.9), torch.optim.SGD(groups(torch), lr=0.1, momentum=0.9)
    return optim.Adam(groups(gc), lr=0.1), torch.optim.Adam(groups(torch), lr=0.1)


def _run_pair(torch, make, steps=30, kind="SGD", metrics=None, epochs=None):
    gopt, topt = _opts(torch, kind)
    gs, ts = make(lr_scheduler, gopt), make(torch.optim.lr_scheduler, topt)
    glrs, tlrs = [gs.get_last_lr()], [ts.get_last_lr()]
    moms = []
    for i in range(steps):
        gopt.step()
        topt.step()
        args = () if metrics is None else (metrics[i],)
        if epochs is not None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                gs.step(*args, epochs[i])
                ts.step(*args, epochs[i])
        else:
            gs.step(*args)
            ts.step(*args)
        glrs.append(gs.get_last_lr())
        tlrs.append(ts.get_last_lr())
        assert [g["lr"] for g in gopt.param_groups] == [float(x) for x in glrs[-1]]
        key = "betas" if kind == "Adam" else "momentum"
        moms.append(([g[key] for g in gopt.param_groups], [g[key] for g in topt.param_groups]))
    return np.array(glrs, dtype=np.float64), np.array(tlrs, dtype=np.float64), gs, ts, moms


SCHEDULERS = [
    ("StepLR", lambda m, o: m.StepLR(o, step_size=4, gamma=0.5)),
    ("MultiStepLR", lambda m, o: m.MultiStepLR(o, milestones=[3, 7, 7, 20], gamma=0.3)),
    ("ExponentialLR", lambda m, o: m.ExponentialLR(o, gamma=0.9)),
    ("CosineAnnealingLR", lambda m, o: m.CosineAnnealingLR(o, T_max=7, eta_min=0.001)),
    ("LambdaLR", lambda m, o: m.LambdaLR(o, lambda e: 0.95 ** e)),
    ("MultiplicativeLR", lambda m, o: m.MultiplicativeLR(o, [lambda e: 0.9, lambda e: 0.99, lambda e: 1.0])),
    ("LinearLR", lambda m, o: m.LinearLR(o, start_factor=0.25, end_factor=0.9, total_iters=10)),
    ("ConstantLR", lambda m, o: m.ConstantLR(o, factor=0.3, total_iters=6)),
    ("PolynomialLR", lambda m, o: m.PolynomialLR(o, total_iters=12, power=2.0)),
    ("CosineAnnealingWarmRestarts", lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=4, T_mult=2, eta_min=0.01)),
    ("CosineAnnealingWarmRestarts-1", lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=5)),
    ("CyclicLR-triangular", lambda m, o: m.CyclicLR(o, base_lr=0.01, max_lr=[0.1, 0.2, 0.3], step_size_up=4)),
    ("CyclicLR-triangular2", lambda m, o: m.CyclicLR(o, 0.01, 0.1, step_size_up=3, step_size_down=5,
                                                     mode="triangular2")),
    ("CyclicLR-exp_range", lambda m, o: m.CyclicLR(o, 0.01, 0.1, step_size_up=5, mode="exp_range", gamma=0.9,
                                                   cycle_momentum=False)),
    ("OneCycleLR-cos", lambda m, o: m.OneCycleLR(o, max_lr=[0.1, 0.5, 1.0], total_steps=30)),
    ("OneCycleLR-linear-3", lambda m, o: m.OneCycleLR(o, max_lr=0.2, epochs=6, steps_per_epoch=5,
                                                      anneal_strategy="linear", three_phase=True, div_factor=10.0,
                                                      final_div_factor=100.0, pct_start=0.25)),
    ("SequentialLR", lambda m, o: m.SequentialLR(o, [m.LinearLR(o, start_factor=0.1, total_iters=5),
                                                     m.ExponentialLR(o, gamma=0.9), m.StepLR(o, 3)],
                                                 milestones=[5, 15])),
    ("ChainedScheduler", lambda m, o: m.ChainedScheduler([m.ConstantLR(o, factor=0.5, total_iters=4),
                                                          m.ExponentialLR(o, gamma=0.95)])),
]


@pytest.mark.parametrize("name, make", SCHEDULERS, ids=[s[0] for s in SCHEDULERS])
def test_scheduler_lrs_match_torch(name, make):
    torch = pytest.importorskip("torch")
    g, t, gs, ts, moms = _run_pair(torch, make)
    np.testing.assert_allclose(g, t, rtol=1e-12, atol=1e-15)
    assert len(set(map(tuple, g.tolist()))) > 1  # the schedule moved
    for gm, tm in moms:
        np.testing.assert_allclose(np.array(gm, dtype=float), np.array(tm, dtype=float), rtol=1e-12)


@pytest.mark.parametrize("make", [
    lambda m, o: m.OneCycleLR(o, max_lr=0.3, total_steps=31, pct_start=0.4),
    lambda m, o: m.CyclicLR(o, 0.01, 0.1, step_size_up=4, base_momentum=0.7, max_momentum=0.95),
], ids=["OneCycleLR", "CyclicLR"])
def test_cycle_momentum_drives_adam_betas_like_torch(make):
    torch = pytest.importorskip("torch")
    g, t, _, _, moms = _run_pair(torch, make, kind="Adam")
    np.testing.assert_allclose(g, t, rtol=1e-12)
    for gm, tm in moms:
        np.testing.assert_allclose(np.array(gm, dtype=float), np.array(tm, dtype=float), rtol=1e-12)
    assert len({m[0][0][0] for m in moms}) > 3


@pytest.mark.parametrize("kw", [
    dict(),
    dict(mode="max", factor=0.5, patience=2, threshold=0.1, threshold_mode="abs", cooldown=2, min_lr=0.01),
    dict(patience=1, cooldown=1, min_lr=[0.0, 0.3, 0.001], eps=1e-3),
    dict(mode="max", threshold_mode="rel", patience=0),
])
def test_reduce_lr_on_plateau_matches_torch(kw):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    metrics = list(np.concatenate([np.linspace(1, 0.5, 6), 0.5 + 0.01 * rng.standard_normal(24)]))
    g, t, gs, ts, _ = _run_pair(torch, lambda m, o: m.ReduceLROnPlateau(o, **kw), metrics=metrics)
    np.testing.assert_allclose(g, t, rtol=1e-12)
    for k in ("best", "num_bad_epochs", "cooldown_counter", "last_epoch"):
        assert gs.state_dict()[k] == ts.state_dict()[k], k


def test_closed_form_with_epoch_argument_matches_torch():
    torch = pytest.importorskip("torch")
    epochs = [1, 2, 5, 3, 9, 9, 14, 0, 20, 7] * 3
    for make in [lambda m, o: m.StepLR(o, 3, 0.5), lambda m, o: m.MultiStepLR(o, [2, 6, 6], 0.5),
                 lambda m, o: m.ExponentialLR(o, 0.9), lambda m, o: m.CosineAnnealingLR(o, 10, 0.01),
                 lambda m, o: m.LinearLR(o, 0.2, 1.0, 8), lambda m, o: m.ConstantLR(o, 0.5, 6),
                 lambda m, o: m.PolynomialLR(o, 10, 1.5), lambda m, o: m.LambdaLR(o, lambda e: 1 / (1 + e))]:
        g, t, *_ = _run_pair(torch, make, epochs=epochs)
        np.testing.assert_allclose(g, t, rtol=1e-12)
    o = optim.SGD([nn.Parameter(gc.ones(1))], lr=0.1)
    s = lr_scheduler.StepLR(o, 2)
    o.step()
    with pytest.warns(UserWarning, match="epoch parameter"):
        s.step(3)


def test_warm_restarts_fractional_epochs_match_torch():
    torch = pytest.importorskip("torch")
    epochs = [0.5 * i + 0.1 * (i % 3) for i in range(30)]
    for tm in (1, 2, 3):
        g, t, *_ = _run_pair(torch, lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=tm, eta_min=0.001),
                             epochs=epochs)
        np.testing.assert_allclose(g, t, rtol=1e-12)


@pytest.mark.parametrize("name, make", [s for s in SCHEDULERS if s[0] not in ("SequentialLR", "ChainedScheduler")],
                         ids=[s[0] for s in SCHEDULERS if s[0] not in ("SequentialLR", "ChainedScheduler")])
def test_scheduler_resume_with_last_epoch_and_state_dict(name, make):
    torch = pytest.importorskip("torch")
    for lib, mod, o_mod in ((torch, torch.optim.lr_scheduler, torch.optim), (gc, lr_scheduler, optim)):
        def groups():
            return [{"params": [lib.nn.Parameter(lib.ones(2))]}, {"params": [lib.nn.Parameter(lib.ones(1))], "lr": 0.3},
                    {"params": [lib.nn.Parameter(lib.ones(1))], "lr": 0.05}]
        o = o_mod.SGD(groups(), lr=0.1, momentum=0.9)
        s = make(mod, o)
        for _ in range(9):
            o.step()
            s.step()
        sd = s.state_dict()
        keys = set(sd)  # (torch's CyclicLR.load_state_dict pops from the dict it is given)
        # a fresh optimizer resumed from the optimizer state (initial_lr, ...) and the scheduler state
        o2 = o_mod.SGD(groups(), lr=0.1, momentum=0.9)
        o2.load_state_dict(o.state_dict())
        s2 = make(mod, o2)
        s2.load_state_dict(sd)
        for g2, g1 in zip(o2.param_groups, o.param_groups):
            g2["lr"] = g1["lr"]
        seq1, seq2 = [], []
        for _ in range(12):
            o.step()
            o2.step()
            s.step()
            s2.step()
            seq1.append(s.get_last_lr())
            seq2.append(s2.get_last_lr())
        if lib is torch:
            want = (seq1, keys)
        else:
            np.testing.assert_allclose(np.array(seq2, dtype=float), np.array(seq1, dtype=float), rtol=1e-12)
            np.testing.assert_allclose(np.array(seq1, dtype=float), np.array(want[0], dtype=float), rtol=1e-12)
            assert keys == want[1], keys ^ want[1]


def test_last_epoch_resume_matches_torch():
    torch = pytest.importorskip("torch")
    for make in [lambda m, o: m.StepLR(o, 3, 0.5, last_epoch=7), lambda m, o: m.CosineAnnealingLR(o, 10, 0.01, 4),
                 lambda m, o: m.ExponentialLR(o, 0.9, last_epoch=3),
                 lambda m, o: m.CosineAnnealingWarmRestarts(o, 4, 2, last_epoch=6)]:
        runs = []
        for lib, mod, o_mod in ((torch, torch.optim.lr_scheduler, torch.optim), (gc, lr_scheduler, optim)):
            o = o_mod.SGD([lib.nn.Parameter(lib.ones(1))], lr=0.2)
            o.param_groups[0]["initial_lr"] = 0.4
            s = make(mod, o)
            lrs = [s.get_last_lr()]
            for _ in range(15):
                o.step()
                s.step()
                lrs.append(s.get_last_lr())
            runs.append(np.array(lrs, dtype=float))
        np.testing.assert_allclose(runs[1], runs[0], rtol=1e-12)
    with pytest.raises(KeyError, match="initial_lr"):
        lr_scheduler.StepLR(optim.SGD([nn.Parameter(gc.ones(1))], lr=0.1), 2, last_epoch=3)


def test_scheduler_bad_input_raises_like_torch():
    torch = pytest.importorskip("torch")
    cases = [
        (ValueError, lambda m, o: m.ConstantLR(o, factor=1.5)),
        (ValueError, lambda m, o: m.LinearLR(o, start_factor=0)),
        (ValueError, lambda m, o: m.LinearLR(o, end_factor=2)),
        (ValueError, lambda m, o: m.OneCycleLR(o, max_lr=0.1)),
        (ValueError, lambda m, o: m.OneCycleLR(o, max_lr=0.1, total_steps=0)),
        (ValueError, lambda m, o: m.OneCycleLR(o, max_lr=0.1, total_steps=10, anneal_strategy="exp")),
        (ValueError, lambda m, o: m.OneCycleLR(o, max_lr=[0.1, 0.2], total_steps=10)),
        (ValueError, lambda m, o: m.OneCycleLR(o, max_lr=0.1, total_steps=10, pct_start=1.5)),
        (ValueError, lambda m, o: m.CyclicLR(o, 0.1, 1.0, mode="square")),
        (ValueError, lambda m, o: m.ReduceLROnPlateau(o, factor=1.0)),
        (ValueError, lambda m, o: m.ReduceLROnPlateau(o, mode="median")),
        (ValueError, lambda m, o: m.ReduceLROnPlateau(o, threshold_mode="pct")),
        (ValueError, lambda m, o: m.ReduceLROnPlateau(o, min_lr=[0.1, 0.2])),
        (ValueError, lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=0)),
        (ValueError, lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=0)),
        (ValueError, lambda m, o: m.SequentialLR(o, [m.StepLR(o, 2)], milestones=[3])),
        (ValueError, lambda m, o: m.SequentialLR(o, [], milestones=[])),
        (ValueError, lambda m, o: m.ChainedScheduler([])),
        (ValueError, lambda m, o: m.SequentialLR(o, [m.ReduceLROnPlateau(o), m.StepLR(o, 2)], milestones=[3])),
        (ValueError, lambda m, o: m.LambdaLR(o, [lambda e: 1.0, lambda e: 1.0])),
        (TypeError, lambda m, o: m.MultiplicativeLR(o, 0.5)),
        (TypeError, lambda m, o: m.ExponentialLR(object(), 0.5)),
        (TypeError, lambda m, o: m.OneCycleLR("opt", max_lr=0.1, total_steps=5)),
    ]
    for exc, make in cases:
        with pytest.raises(exc):
            make(torch.optim.lr_scheduler, torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], lr=0.1))
        with pytest.raises(exc):
            make(lr_scheduler, optim.SGD([nn.Parameter(gc.ones(1))], lr=0.1))
    o = optim.SGD([nn.Parameter(gc.ones(1))], lr=0.1)
    s = lr_scheduler.OneCycleLR(o, max_lr=0.1, total_steps=3)
    o.step()
    for _ in range(3):
        s.step()
    with pytest.raises(ValueError, match="Tried to step 4 times"):
        s.step()
    with pytest.raises(ValueError, match="non-negative epoch"):
        lr_scheduler.CosineAnnealingWarmRestarts(o, T_0=2).step(-1)
    with pytest.raises(ValueError, match="momentum or beta1"):
        lr_scheduler.OneCycleLR(optim.Adadelta([nn.Parameter(gc.ones(1))]), max_lr=0.1, total_steps=5)


def test_get_lr_outside_step_warns_like_torch():
    s = lr_scheduler.ExponentialLR(optim.SGD([nn.Parameter(gc.ones(1))], lr=0.1), 0.5)
    with pytest.warns(UserWarning, match="get_last_lr"):
        s.get_lr()
    assert math.isclose(s.get_last_lr()[0], 0.1)


def test_scheduler_step_before_optimizer_step_warns_like_torch():
    torch = pytest.importorskip("torch")
    for mod, o_mod, lib in ((torch.optim.lr_scheduler, torch.optim, torch), (lr_scheduler, optim, gc)):
        o = o_mod.SGD([lib.nn.Parameter(lib.ones(1))], lr=0.1)
        s = mod.StepLR(o, 2)
        with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
            s.step()
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            o.step()  # the wrapped step still steps, and later scheduler steps are quiet
            s.step()
        o2 = o_mod.SGD([lib.nn.Parameter(lib.ones(1))], lr=0.1)
        s2 = mod.ExponentialLR(o2, 0.5)
        s3 = mod.ExponentialLR(o2, 0.5)  # a second scheduler does not wrap twice
        o2.step()
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            s2.step()
            s3.step()
        assert o2.param_groups[0]["lr"] == pytest.approx(0.025)
        o3 = o_mod.SGD([lib.nn.Parameter(lib.ones(1))], lr=0.1)
        s4 = mod.ExponentialLR(o3, 0.5)
        o3.step = lambda closure=None: None  # overridden after the scheduler was made
        with pytest.warns(UserWarning, match="has been overridden"):
            s4.step()
