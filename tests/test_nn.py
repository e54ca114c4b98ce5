"""gradcore.nn: Module API, layers, activations, losses, init, Dropout, with PyTorch as the oracle."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import gradcore as gc
import gradcore.nn as nn
import gradcore.nn.functional as F
from gradcore.nn import init

NP = {gc.float32: np.float32, gc.float64: np.float64}


def _g(a, requires_grad=False, dtype=np.float64):
    return gc.tensor(np.asarray(a, dtype=dtype), requires_grad=requires_grad)


def _t(torch, a, requires_grad=False, dtype=np.float64):
    return torch.tensor(np.asarray(a, dtype=dtype), requires_grad=requires_grad)


def _copy_weights_to_torch(torch, gmodel, tmodel):
    sd = {k: torch.tensor(v.detach().numpy().copy()) for k, v in gmodel.state_dict().items()}
    tmodel.load_state_dict(sd)


# --------------------------------------------------------------------------------------
# Module API
# --------------------------------------------------------------------------------------
class TwoLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(gc.ones(3))
        self.fc1 = nn.Linear(4, 3)
        self.act = nn.Tanh()
        self.fc2 = nn.Linear(3, 2, bias=False)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)) * self.scale)


def test_named_parameters_order_and_names_match_torch():
    torch = pytest.importorskip("torch")

    class TTwoLayer(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = torch.nn.Parameter(torch.ones(3))
            self.fc1 = torch.nn.Linear(4, 3)
            self.act = torch.nn.Tanh()
            self.fc2 = torch.nn.Linear(3, 2, bias=False)

    g, t = TwoLayer(), TTwoLayer()
    assert [n for n, _ in g.named_parameters()] == [n for n, _ in t.named_parameters()]
    assert [tuple(p.shape) for p in g.parameters()] == [tuple(p.shape) for p in t.parameters()]
    assert list(g.state_dict()) == list(t.state_dict())
    assert [n for n, _ in g.named_modules()] == [n for n, _ in t.named_modules()]
    assert [type(m).__name__ for m in g.children()] == [type(m).__name__ for m in t.children()]
    assert [n for n, _ in g.named_children()] == ["fc1", "act", "fc2"]
    assert [n for n, _ in g.named_parameters(recurse=False)] == ["scale"]


def test_sequential_state_dict_keys_and_shapes_match_torch():
    torch = pytest.importorskip("torch")
    g = nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Dropout(0.2), nn.Linear(5, 4, bias=False), nn.GELU(),
                      nn.Sequential(nn.Linear(4, 3), nn.Tanh()), nn.Linear(3, 2))
    t = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.ReLU(), torch.nn.Dropout(0.2),
                            torch.nn.Linear(5, 4, bias=False), torch.nn.GELU(),
                            torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Tanh()), torch.nn.Linear(3, 2))
    gsd, tsd = g.state_dict(), t.state_dict()
    assert list(gsd) == list(tsd)
    assert "5.0.weight" in gsd and "3.bias" not in gsd
    for k in gsd:
        assert tuple(gsd[k].shape) == tuple(tsd[k].shape), k
    # loads one to one
    _copy_weights_to_torch(torch, g, t)
    g.load_state_dict({k: gc.tensor(v.detach().numpy()) for k, v in t.state_dict().items()})
    assert len(g) == 7 and isinstance(g[0], nn.Linear) and isinstance(g[-1], nn.Linear)


def test_shared_module_state_dict_keys_match_torch():
    """Weight tying: PyTorch's state_dict lists a shared module under every name it has."""
    torch = pytest.importorskip("torch")
    lin = nn.Linear(3, 3)
    g = nn.Sequential(lin, nn.ReLU(), lin)
    tlin = torch.nn.Linear(3, 3)
    t = torch.nn.Sequential(tlin, torch.nn.ReLU(), tlin)
    # parameters() deduplicates, as in PyTorch
    assert len(list(g.parameters())) == len(list(t.parameters())) == 2
    assert [n for n, _ in g.named_parameters()] == [n for n, _ in t.named_parameters()]
    assert len(list(g.modules())) == len(list(t.modules())) == 3
    # state_dict does not (so a tied torch checkpoint loads one to one)
    assert list(g.state_dict()) == list(t.state_dict())


def test_parameters_dedup_shared_parameter():
    m = nn.Module()
    p = nn.Parameter(gc.ones(2))
    m.a = p
    m.b = p
    m.c = nn.Parameter(gc.zeros(1))
    params = list(m.parameters())
    assert len(params) == 2 and params[0] is p
    assert [n for n, _ in m.named_parameters()] == ["a", "c"]


def test_train_eval_propagates():
    inner = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))
    model = nn.Sequential(nn.Linear(2, 2), inner, TwoLayer())
    assert all(m.training for m in model.modules())
    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    assert len(list(model.modules())) == 9
    inner.train()
    assert inner.training and inner[1].training and not model.training
    model.train()
    assert all(m.training for m in model.modules())
    model.train(False)
    assert not inner[1].training


def test_repr_matches_torch():
    torch = pytest.importorskip("torch")
    g = nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Sigmoid(), nn.Tanh(), nn.GELU(approximate="tanh"),
                      nn.LeakyReLU(0.2), nn.Softmax(dim=1), nn.Flatten(), nn.Identity(),
                      nn.Sequential(nn.Linear(2, 1, bias=False)))
    t = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.ReLU(), torch.nn.Sigmoid(), torch.nn.Tanh(),
                            torch.nn.GELU(approximate="tanh"), torch.nn.LeakyReLU(0.2), torch.nn.Softmax(dim=1),
                            torch.nn.Flatten(), torch.nn.Identity(),
                            torch.nn.Sequential(torch.nn.Linear(2, 1, bias=False)))
    assert repr(g) == repr(t)
    assert "Linear(in_features=3, out_features=2, bias=True)" in repr(g)
    assert "Dropout(p=0.25" in repr(nn.Dropout(0.25))


def test_load_state_dict_strict_errors():
    model = nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 1))
    good = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
    before = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}

    missing = dict(good)
    del missing["2.bias"]
    with pytest.raises(nn.StateDictError, match=r"2\.bias") as ei:
        model.load_state_dict(missing)
    assert isinstance(ei.value, RuntimeError) and isinstance(ei.value, KeyError)
    assert isinstance(ei.value, ValueError)
    assert "Missing" in str(ei.value)

    unexpected = dict(good, **{"3.weight": np.zeros((1, 1), np.float32)})
    with pytest.raises(RuntimeError, match=r"Unexpected.*3\.weight"):
        model.load_state_dict(unexpected)

    wrong = dict(good)
    wrong["0.weight"] = np.zeros((3, 2), np.float32)   # transposed shape
    with pytest.raises(ValueError, match=r"0\.weight") as ei:
        model.load_state_dict(wrong)
    assert "(3, 2)" in str(ei.value) and "(2, 3)" in str(ei.value)

    # a failed load leaves the module untouched, even if other keys were fine
    bad = {k: v + 1.0 for k, v in good.items()}
    bad["2.weight"] = np.zeros((5, 5), np.float32)
    with pytest.raises(KeyError):
        model.load_state_dict(bad)
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v.detach().numpy(), before[k])

    with pytest.raises(TypeError):
        model.load_state_dict([("0.weight", good["0.weight"])])


def test_load_state_dict_non_strict_returns_key_lists():
    torch = pytest.importorskip("torch")
    g = nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 1))
    t = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.ReLU(), torch.nn.Linear(2, 1))
    sd = {k: v.detach().numpy().copy() for k, v in t.state_dict().items()}
    del sd["2.bias"]
    sd["extra.weight"] = np.ones((2, 2), np.float32)
    res = g.load_state_dict(sd, strict=False)
    tres = t.load_state_dict({k: torch.tensor(v) for k, v in sd.items()}, strict=False)
    assert list(res.missing_keys) == list(tres.missing_keys) == ["2.bias"]
    assert list(res.unexpected_keys) == list(tres.unexpected_keys) == ["extra.weight"]
    missing_keys, unexpected_keys = res
    assert missing_keys == ["2.bias"]
    np.testing.assert_array_equal(g[0].weight.detach().numpy(), sd["0.weight"])
    # shape mismatches are errors even when not strict (as in PyTorch)
    sd["0.weight"] = np.zeros((1, 1), np.float32)
    with pytest.raises(nn.StateDictError):
        g.load_state_dict(sd, strict=False)


def test_state_dict_shares_storage_and_load_copies():
    lin = nn.Linear(2, 2)
    sd = lin.state_dict()
    with gc.no_grad():
        lin.weight.fill_(3.0)
    np.testing.assert_array_equal(sd["weight"].detach().numpy(), np.full((2, 2), 3.0, np.float32))
    src = {"weight": np.arange(4, dtype=np.float64).reshape(2, 2), "bias": np.zeros(2)}
    lin.load_state_dict(src)
    src["weight"][0, 0] = 99.0
    assert lin.weight.dtype == gc.float32
    np.testing.assert_array_equal(lin.weight.detach().numpy(), [[0, 1], [2, 3]])


def test_zero_grad_and_double():
    model = nn.Sequential(nn.Linear(3, 2), nn.Tanh(), nn.Linear(2, 1))
    params = list(model.parameters())
    model(gc.ones(4, 3)).sum().backward()
    assert all(p.grad is not None for p in params)
    model.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.detach().numpy().any() for p in params)
    model.zero_grad()
    assert all(p.grad is None for p in params)
    model.double()
    assert [p.dtype for p in model.parameters()] == [gc.float64] * 4
    assert all(a is b for a, b in zip(params, model.parameters()))
    out = model(gc.ones(4, 3, dtype=gc.float64))
    assert out.dtype == gc.float64
    model.float()
    assert model[0].weight.dtype == gc.float32


def test_parameter_basics():
    p = nn.Parameter(gc.ones(2, 3))
    assert isinstance(p, gc.Tensor) and p.requires_grad and p.is_leaf
    assert repr(p).startswith("Parameter containing:")
    q = nn.Parameter(gc.ones(2), requires_grad=False)
    assert not q.requires_grad


def test_register_buffer_in_state_dict():
    m = nn.Linear(2, 2)
    m.register_buffer("running", gc.zeros(2))
    assert "running" in m.state_dict()
    assert "running" not in dict(m.named_parameters())
    m.load_state_dict({"weight": np.ones((2, 2)), "bias": np.ones(2), "running": np.full(2, 7.0)})
    np.testing.assert_array_equal(m.running.detach().numpy(), [7.0, 7.0])


# --------------------------------------------------------------------------------------
# Linear / MLP vs torch
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("bias", [True, False])
def test_linear_forward_backward_matches_torch(bias):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    g = nn.Linear(5, 3, bias=bias).double()
    t = torch.nn.Linear(5, 3, bias=bias).double()
    _copy_weights_to_torch(torch, g, t)
    x = rng.standard_normal((7, 5))
    up = rng.standard_normal((7, 3))
    gx, tx = _g(x, True), _t(torch, x, True)
    gy, ty = g(gx), t(tx)
    np.testing.assert_allclose(gy.detach().numpy(), ty.detach().numpy(), rtol=1e-12, atol=1e-14)
    (gy * _g(up)).sum().backward()
    (ty * _t(torch, up)).sum().backward()
    np.testing.assert_allclose(gx.grad.detach().numpy(), tx.grad.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(g.weight.grad.detach().numpy(), t.weight.grad.detach().numpy(), rtol=1e-12, atol=1e-14)
    if bias:
        np.testing.assert_allclose(g.bias.grad.detach().numpy(), t.bias.grad.detach().numpy(), rtol=1e-12, atol=1e-14)
    else:
        assert g.bias is None
    # the functional form with the same weights
    fy = F.linear(_g(x), g.weight.detach(), g.bias.detach() if bias else None)
    np.testing.assert_allclose(fy.detach().numpy(), ty.detach().numpy(), rtol=1e-12, atol=1e-14)


def _mlp_pair(torch, dtype=gc.float64):
    g = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 12), nn.Tanh(), nn.Linear(12, 4))
    t = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 12), torch.nn.Tanh(),
                            torch.nn.Linear(12, 4))
    if dtype == gc.float64:
        g.double()
        t.double()
    _copy_weights_to_torch(torch, g, t)
    return g, t


@pytest.mark.parametrize("dtype,rtol", [(gc.float64, 1e-11), (gc.float32, 1e-4)])
def test_mlp_forward_backward_matches_torch(dtype, rtol):
    torch = pytest.importorskip("torch")
    g, t = _mlp_pair(torch, dtype)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((10, 8)).astype(NP[dtype])
    y = rng.integers(0, 4, 10)
    gl = F.cross_entropy(g(gc.tensor(x)), y)
    tl = torch.nn.functional.cross_entropy(t(torch.tensor(x)), torch.tensor(y))
    assert gl.item() == pytest.approx(tl.item(), rel=rtol)
    gl.backward()
    tl.backward()
    for (n, p), (tn, q) in zip(g.named_parameters(), t.named_parameters()):
        assert n == tn
        np.testing.assert_allclose(p.grad.detach().numpy(), q.grad.detach().numpy(), rtol=rtol, atol=rtol * 1e-2, err_msg=n)


FUSABLE = ["ReLU", "Sigmoid", "Tanh", "GELU", "GELUtanh"]


def _act_pair(torch, name):
    if name == "GELUtanh":
        return nn.GELU(approximate="tanh"), torch.nn.GELU(approximate="tanh")
    return getattr(nn, name)(), getattr(torch.nn, name)()


@pytest.mark.parametrize("act", FUSABLE)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("rows", [1, 3, 70])
@pytest.mark.parametrize("dtype,rtol", [(gc.float64, 1e-11), (gc.float32, 1e-4)])
def test_sequential_linear_activation_matches_torch(act, bias, rows, dtype, rtol):
    """Sequential(Linear, act, Linear): forward, input and weight gradients equal torch's."""
    torch = pytest.importorskip("torch")
    ga, ta = _act_pair(torch, act)
    g = nn.Sequential(nn.Linear(37, 45, bias=bias), ga, nn.Linear(45, 5))
    t = torch.nn.Sequential(torch.nn.Linear(37, 45, bias=bias), ta, torch.nn.Linear(45, 5))
    if dtype == gc.float64:
        g.double()
        t.double()
    _copy_weights_to_torch(torch, g, t)
    rng = np.random.default_rng(rows)
    x = (rng.standard_normal((rows, 37)) * 2).astype(NP[dtype])
    up = rng.standard_normal((rows, 5)).astype(NP[dtype])
    gx, tx = gc.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    gy, ty = g(gx), t(tx)
    np.testing.assert_allclose(gy.detach().numpy(), ty.detach().numpy(), rtol=rtol, atol=rtol * 1e-1)
    # the same as running the modules one by one
    step = gx.detach()
    for m in g:
        step = m(step)
    np.testing.assert_allclose(gy.detach().numpy(), step.detach().numpy(), rtol=rtol, atol=rtol * 1e-2)
    (gy * gc.tensor(up)).sum().backward()
    (ty * torch.tensor(up)).sum().backward()
    np.testing.assert_allclose(gx.grad.detach().numpy(), tx.grad.detach().numpy(), rtol=rtol, atol=rtol * 1e-1)
    for (n, p), q in zip(g.named_parameters(), t.parameters()):
        np.testing.assert_allclose(p.grad.detach().numpy(), q.grad.detach().numpy(), rtol=rtol, atol=rtol * 1e-1, err_msg=n)


def test_mlp_adam_training_matches_torch():
    """Same weights, same batches, Adam: parameters agree after every step (float64)."""
    torch = pytest.importorskip("torch")
    g, t = _mlp_pair(torch)
    gopt = gc.optim.Adam(g.parameters(), lr=1e-2, weight_decay=1e-3)
    topt = torch.optim.Adam(t.parameters(), lr=1e-2, weight_decay=1e-3)
    rng = np.random.default_rng(2)
    for step in range(15):
        x = rng.standard_normal((16, 8))
        y = rng.integers(0, 4, 16)
        gopt.zero_grad()
        topt.zero_grad()
        gl = nn.CrossEntropyLoss()(g(_g(x)), y)
        tl = torch.nn.CrossEntropyLoss()(t(_t(torch, x)), torch.tensor(y))
        gl.backward()
        tl.backward()
        gopt.step()
        topt.step()
        assert gl.item() == pytest.approx(tl.item(), rel=1e-10)
        for (n, p), q in zip(g.named_parameters(), t.parameters()):
            np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-9, atol=1e-11,
                                       err_msg=f"step {step} {n}")


# --------------------------------------------------------------------------------------
# Activations vs torch
# --------------------------------------------------------------------------------------
def _activation_cases(torch):
    tn = torch.nn
    return [
        ("ReLU", nn.ReLU(), tn.ReLU()),
        ("Sigmoid", nn.Sigmoid(), tn.Sigmoid()),
        ("Tanh", nn.Tanh(), tn.Tanh()),
        ("LeakyReLU", nn.LeakyReLU(), tn.LeakyReLU()),
        ("LeakyReLU0.2", nn.LeakyReLU(0.2), tn.LeakyReLU(0.2)),
        ("GELU", nn.GELU(), tn.GELU()),
        ("GELUtanh", nn.GELU(approximate="tanh"), tn.GELU(approximate="tanh")),
        ("Softmax-1", nn.Softmax(dim=-1), tn.Softmax(dim=-1)),
        ("Softmax0", nn.Softmax(dim=0), tn.Softmax(dim=0)),
        ("Softmax1", nn.Softmax(dim=1), tn.Softmax(dim=1)),
        ("Flatten", nn.Flatten(), tn.Flatten()),
        ("Flatten0", nn.Flatten(0, 1), tn.Flatten(0, 1)),
        ("Identity", nn.Identity(), tn.Identity()),
        ("Dropout-eval", nn.Dropout(0.7).eval(), tn.Dropout(0.7).eval()),
    ]


ACT_NAMES = ["ReLU", "Sigmoid", "Tanh", "LeakyReLU", "LeakyReLU0.2", "GELU", "GELUtanh", "Softmax-1",
             "Softmax0", "Softmax1", "Flatten", "Flatten0", "Identity", "Dropout-eval"]


@pytest.mark.parametrize("name", ACT_NAMES)
@pytest.mark.parametrize("dtype,rtol", [(gc.float64, 1e-12), (gc.float32, 2e-5)])
def test_activation_modules_match_torch(name, dtype, rtol):
    torch = pytest.importorskip("torch")
    gm, tm = {n: (a, b) for n, a, b in _activation_cases(torch)}[name]
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((4, 3, 5)) * 3).astype(NP[dtype])
    x[0, 0, :3] = [0.0, 30.0, -30.0]
    up = rng.standard_normal(tm(torch.tensor(x)).shape).astype(NP[dtype])
    gx, tx = gc.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    gy, ty = gm(gx), tm(tx)
    assert tuple(gy.shape) == tuple(ty.shape)
    assert gy.dtype == dtype
    np.testing.assert_allclose(gy.detach().numpy(), ty.detach().numpy(), rtol=rtol, atol=rtol * 1e-2)
    (gy * gc.tensor(up)).sum().backward()
    (ty * torch.tensor(up)).sum().backward()
    np.testing.assert_allclose(gx.grad.detach().numpy(), tx.grad.detach().numpy(), rtol=rtol * 10, atol=rtol * 1e-1)


@pytest.mark.parametrize("fname", ["relu", "sigmoid", "tanh", "gelu", "leaky_relu", "softplus", "softmax",
                                   "log_softmax"])
def test_functional_activations_match_torch(fname):
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    rng = np.random.default_rng(4)
    x = rng.standard_normal((6, 7)) * 4
    x[0, :4] = [0.0, 50.0, -50.0, 1e-3]
    gx, tx = _g(x, True), _t(torch, x, True)
    gy = getattr(F, fname)(gx, dim=-1) if fname in ("softmax", "log_softmax") else getattr(F, fname)(gx)
    ty = getattr(tf, fname)(tx, dim=-1) if fname in ("softmax", "log_softmax") else getattr(tf, fname)(tx)
    np.testing.assert_allclose(gy.detach().numpy(), ty.detach().numpy(), rtol=1e-12, atol=1e-14)
    up = rng.standard_normal(x.shape)
    (gy * _g(up)).sum().backward()
    (ty * _t(torch, up)).sum().backward()
    np.testing.assert_allclose(gx.grad.detach().numpy(), tx.grad.detach().numpy(), rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_float32_vanishes_for_very_negative_inputs(approximate):
    """GELU(x) -> 0 for x -> -inf (PyTorch gives -0.0); no error that grows with |x|."""
    torch = pytest.importorskip("torch")
    x = np.array([-8.0, -10.0, -30.0, -100.0, -1000.0, -1e4], np.float32)
    y = F.gelu(gc.tensor(x), approximate).detach().numpy()
    ty = torch.nn.functional.gelu(torch.tensor(x), approximate=approximate).detach().numpy()
    np.testing.assert_allclose(y, ty, rtol=0, atol=1e-7)


def test_gelu_rejects_unknown_approximation():
    with pytest.raises(ValueError):
        nn.GELU(approximate="sigmoid")


# --------------------------------------------------------------------------------------
# Losses vs torch
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.1, 0.35])
def test_cross_entropy_matches_torch(reduction, label_smoothing):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    logits = rng.standard_normal((9, 5)) * 3
    logits[0] = [100.0, -100.0, 0.0, 50.0, -3.0]           # extreme logits stay finite
    y = rng.integers(0, 5, 9)
    gx, tx = _g(logits, True), _t(torch, logits, True)
    gl = nn.CrossEntropyLoss(reduction=reduction, label_smoothing=label_smoothing)(gx, y)
    tl = torch.nn.CrossEntropyLoss(reduction=reduction, label_smoothing=label_smoothing)(tx, torch.tensor(y))
    np.testing.assert_allclose(gl.detach().numpy(), tl.detach().numpy(), rtol=1e-12, atol=1e-13)
    up = rng.standard_normal(tuple(tl.shape))
    (gl * _g(up)).sum().backward()
    (tl * _t(torch, up)).sum().backward()
    np.testing.assert_allclose(gx.grad.detach().numpy(), tx.grad.detach().numpy(), rtol=1e-11, atol=1e-13)
    # functional form and list labels
    fl = F.cross_entropy(_g(logits), y.tolist(), reduction=reduction, label_smoothing=label_smoothing)
    np.testing.assert_allclose(fl.detach().numpy(), tl.detach().numpy(), rtol=1e-12, atol=1e-13)


def test_cross_entropy_rejects_bad_labels():
    # IndexError "Target 3 is out of bounds." as PyTorch (was ValueError before issue 12)
    with pytest.raises(IndexError, match="Target 3 is out of bounds"):
        F.cross_entropy(gc.zeros(2, 3), np.array([0, 3]))
    with pytest.raises(IndexError, match="Target -1 is out of bounds"):
        F.cross_entropy(gc.zeros(2, 3), np.array([-1, 0]))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_loss_matches_torch(reduction):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(6)
    a, b = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    gx, tx = _g(a, True), _t(torch, a, True)
    gl = nn.MSELoss(reduction=reduction)(gx, _g(b))
    tl = torch.nn.MSELoss(reduction=reduction)(tx, _t(torch, b))
    np.testing.assert_allclose(gl.detach().numpy(), tl.detach().numpy(), rtol=1e-12)
    up = rng.standard_normal(tuple(tl.shape))
    (gl * _g(up)).sum().backward()
    (tl * _t(torch, up)).sum().backward()
    np.testing.assert_allclose(gx.grad.detach().numpy(), tx.grad.detach().numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("pos_weight", [None, [1.0, 3.0, 0.5]])
def test_bce_with_logits_matches_torch(reduction, pos_weight):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    x = rng.standard_normal((5, 3)) * 4
    x[0] = [200.0, -200.0, 0.0]
    y = rng.uniform(0, 1, (5, 3))
    y[1] = [0.0, 1.0, 1.0]
    gx, tx = _g(x, True), _t(torch, x, True)
    gpw = None if pos_weight is None else _g(pos_weight)
    tpw = None if pos_weight is None else _t(torch, pos_weight)
    gl = nn.BCEWithLogitsLoss(reduction=reduction, pos_weight=gpw)(gx, _g(y))
    tl = torch.nn.BCEWithLogitsLoss(reduction=reduction, pos_weight=tpw)(tx, _t(torch, y))
    assert np.isfinite(gl.detach().numpy()).all()
    np.testing.assert_allclose(gl.detach().numpy(), tl.detach().numpy(), rtol=1e-12, atol=1e-13)
    up = rng.standard_normal(tuple(tl.shape))
    (gl * _g(up)).sum().backward()
    (tl * _t(torch, up)).sum().backward()
    np.testing.assert_allclose(gx.grad.detach().numpy(), tx.grad.detach().numpy(), rtol=1e-11, atol=1e-13)


def test_bce_with_logits_shape_mismatch():
    with pytest.raises(ValueError):
        F.binary_cross_entropy_with_logits(gc.zeros(2, 3), gc.zeros(3, 2))


# --------------------------------------------------------------------------------------
# init
# --------------------------------------------------------------------------------------
def test_calculate_gain_matches_torch():
    torch = pytest.importorskip("torch")
    for nl in ["linear", "conv2d", "sigmoid", "tanh", "relu", "selu"]:
        assert init.calculate_gain(nl) == pytest.approx(torch.nn.init.calculate_gain(nl), rel=1e-15), nl
    for slope in [None, 0.2, 1.0]:
        assert init.calculate_gain("leaky_relu", slope) == pytest.approx(
            torch.nn.init.calculate_gain("leaky_relu", slope), rel=1e-15)
    with pytest.raises(ValueError):
        init.calculate_gain("swish")


SHAPE = (300, 400)          # fan_in 400, fan_out 300
SHAPE4 = (64, 32, 5, 5)     # fan_in 800, fan_out 1600


def _check_uniform(a, bound):
    assert np.abs(a).max() <= bound * (1 + 1e-6)
    assert np.abs(a).max() > 0.99 * bound
    assert abs(a.mean()) < 0.02 * bound
    assert a.std() == pytest.approx(bound / math.sqrt(3), rel=0.02)


def _check_normal(a, std):
    assert abs(a.mean()) < 0.02 * std
    assert a.std() == pytest.approx(std, rel=0.02)
    assert np.abs(a).max() > 3 * std    # not a uniform


@pytest.mark.parametrize("shape", [SHAPE, SHAPE4])
def test_xavier_init_statistics(shape):
    gc.manual_seed(11)
    fan_in = shape[1] * int(np.prod(shape[2:]))
    fan_out = shape[0] * int(np.prod(shape[2:]))
    t = gc.zeros(*shape)
    assert init.xavier_uniform_(t, gain=2.0) is t
    _check_uniform(t.detach().numpy(), 2.0 * math.sqrt(6.0 / (fan_in + fan_out)))
    init.xavier_normal_(t, gain=0.5)
    _check_normal(t.detach().numpy(), 0.5 * math.sqrt(2.0 / (fan_in + fan_out)))


@pytest.mark.parametrize("shape", [SHAPE, SHAPE4])
@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
@pytest.mark.parametrize("nonlinearity,a", [("relu", 0.0), ("leaky_relu", 0.1), ("tanh", 0.0), ("linear", 0.0)])
def test_kaiming_init_statistics(shape, mode, nonlinearity, a):
    torch = pytest.importorskip("torch")
    fan_in = shape[1] * int(np.prod(shape[2:]))
    fan_out = shape[0] * int(np.prod(shape[2:]))
    fan = fan_in if mode == "fan_in" else fan_out
    gain = torch.nn.init.calculate_gain(nonlinearity, a)
    gc.manual_seed(12)
    t = gc.zeros(*shape, dtype=gc.float64)
    init.kaiming_uniform_(t, a=a, mode=mode, nonlinearity=nonlinearity)
    _check_uniform(t.detach().numpy(), gain * math.sqrt(3.0 / fan))
    init.kaiming_normal_(t, a=a, mode=mode, nonlinearity=nonlinearity)
    _check_normal(t.detach().numpy(), gain / math.sqrt(fan))


def test_basic_init_functions():
    gc.manual_seed(13)
    t = gc.zeros(200, 300)
    init.uniform_(t, -2.0, 5.0)
    a = t.detach().numpy()
    assert a.min() >= -2.0 and a.max() <= 5.0 and a.min() < -1.9 and a.max() > 4.9
    assert a.mean() == pytest.approx(1.5, abs=0.05)
    init.normal_(t, 3.0, 0.5)
    assert t.detach().numpy().mean() == pytest.approx(3.0, abs=0.01)
    assert t.detach().numpy().std() == pytest.approx(0.5, rel=0.02)
    init.constant_(t, 1.25)
    assert (t.detach().numpy() == 1.25).all()
    init.zeros_(t)
    assert not t.detach().numpy().any()
    init.ones_(t)
    assert (t.detach().numpy() == 1.0).all()
    with pytest.raises(ValueError):
        init.xavier_uniform_(gc.zeros(5))
    with pytest.raises(ValueError):
        init.kaiming_normal_(gc.zeros(3, 3), mode="fan_avg")


def test_init_on_parameter_keeps_it_a_leaf():
    p = nn.Parameter(gc.zeros(4, 4))
    init.kaiming_uniform_(p)
    assert p.requires_grad and p.is_leaf and p.grad_fn is None
    assert p.detach().numpy().any()


def test_init_reproducible_with_manual_seed():
    def draw():
        t = gc.zeros(20, 30)
        init.xavier_uniform_(t)
        u = gc.zeros(20, 30)
        init.kaiming_normal_(u)
        return t.detach().numpy().copy(), u.detach().numpy().copy()

    gc.manual_seed(1234)
    a1, b1 = draw()
    gc.manual_seed(1234)
    a2, b2 = draw()
    gc.manual_seed(4321)
    a3, _ = draw()
    np.testing.assert_array_equal(a1, a2)
    np.testing.assert_array_equal(b1, b2)
    assert not np.array_equal(a1, a3)
    assert not np.array_equal(a1.ravel()[:100], b1.ravel()[:100])


def test_linear_default_init_bounds_and_reproducible():
    gc.manual_seed(0)
    lin = nn.Linear(256, 200)
    bound = 1.0 / math.sqrt(256)
    w, b = lin.weight.detach().numpy(), lin.bias.detach().numpy()
    assert w.shape == (200, 256) and b.shape == (200,)
    assert w.dtype == np.float32
    _check_uniform(w.astype(np.float64), bound)
    assert np.abs(b).max() <= bound and np.abs(b).max() > 0.9 * bound
    assert len(np.unique(b)) == 200
    gc.manual_seed(0)
    lin2 = nn.Linear(256, 200)
    np.testing.assert_array_equal(lin2.weight.detach().numpy(), w)
    np.testing.assert_array_equal(lin2.bias.detach().numpy(), b)
    lin3 = nn.Linear(256, 200)
    assert not np.array_equal(lin3.weight.detach().numpy(), w)
    assert lin.weight.requires_grad and lin.bias.requires_grad


# --------------------------------------------------------------------------------------
# Dropout
# --------------------------------------------------------------------------------------
def test_dropout_eval_is_identity():
    x = gc.randn(50, 40)
    d = nn.Dropout(0.5).eval()
    np.testing.assert_array_equal(d(x).detach().numpy(), x.detach().numpy())
    np.testing.assert_array_equal(F.dropout(x, 0.9, training=False).detach().numpy(), x.detach().numpy())


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_train_fraction_and_scale(p):
    gc.manual_seed(14)
    x = gc.tensor(np.random.default_rng(8).uniform(1.0, 2.0, (200, 500)).astype(np.float32))
    y = nn.Dropout(p)(x).detach().numpy()
    zero = y == 0
    assert zero.mean() == pytest.approx(p, abs=0.01)
    np.testing.assert_allclose(y[~zero], x.detach().numpy()[~zero] / (1 - p), rtol=1e-6)


def test_dropout_reproducible_and_gradient_is_mask_times_scale():
    p = 0.3
    x0 = np.random.default_rng(9).uniform(1.0, 2.0, (64, 33))
    gc.manual_seed(7)
    x = _g(x0, True)
    y = F.dropout(x, p)
    gc.manual_seed(7)
    y2 = F.dropout(_g(x0), p)
    np.testing.assert_array_equal(y.detach().numpy(), y2.detach().numpy())
    y3 = F.dropout(_g(x0), p)
    assert not np.array_equal(y2.detach().numpy(), y3.detach().numpy())      # a fresh mask for the next call
    up = np.random.default_rng(10).standard_normal(x0.shape)
    (y * _g(up)).sum().backward()
    mask = y.detach().numpy() != 0
    np.testing.assert_allclose(x.grad.detach().numpy(), up * mask / (1 - p), rtol=1e-12)


def test_dropout_edge_probabilities():
    x = gc.randn(10, 10)
    np.testing.assert_array_equal(nn.Dropout(0.0)(x).detach().numpy(), x.detach().numpy())
    y = nn.Dropout(1.0)(x).detach().numpy()
    assert np.isfinite(y).all() and not y.any()
    with pytest.raises(ValueError):
        nn.Dropout(1.5)
    with pytest.raises(ValueError):
        nn.Dropout(-0.1)


def test_dropout_in_model_follows_train_eval():
    model = nn.Sequential(nn.Identity(), nn.Dropout(0.5))
    x = gc.ones(100, 100)
    assert (model(x).detach().numpy() == 0).any()
    model.eval()
    np.testing.assert_array_equal(model(x).detach().numpy(), np.ones((100, 100), np.float32))


def test_flatten_module_shapes():
    x = gc.zeros(2, 3, 4, 5)
    assert tuple(nn.Flatten()(x).shape) == (2, 60)
    assert tuple(nn.Flatten(0, 2)(x).shape) == (24, 5)
    assert tuple(F.flatten(x).shape) == (120,)
    with pytest.raises(IndexError):
        F.flatten(x, 3, 1)
