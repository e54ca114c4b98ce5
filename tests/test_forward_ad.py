"""Forward-mode AD: ``jvp`` for every op, ``jacobian(mode="fwd")``, dual-tensor semantics.

* every op of the shared table (``tests/op_table.py``): forward-mode Jacobian columns match
  central differences (``gradcheck(check_forward_ad=True)``); ``jvp`` and ``vjp`` are
  adjoint (<w, J v> == <J^T w, v>); ``jacobian(mode="fwd") == jacobian(mode="rev")``;
  reverse over forward (``gc.grad`` of a ``jvp(create_graph=True)``) is the Hessian-vector
  product;
* ``jvp`` against ``torch.func.jvp``; float32 forward mode;
* ``make_dual`` / ``unpack_dual`` / ``dual_level`` semantics and errors;
* a hypothesis property test: random broadcastable shapes for add/sub/mul/div, the jvp
  equals the NumPy formula.
"""
from __future__ import annotations

import os
import sys
from typing import Any, Callable, Dict, List, Tuple

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gradcore as gc
import gradcore.nn.functional as F
from gradcore.autograd import forward_ad as fwAD
from gradcore.autograd import functional as AF
from gradcore.autograd import gradcheck

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # op_table.py sits next to this file
from op_table import OPS, case, leaf, num_hvp  # noqa: E402

# Known bugs go here as (set of op names, reason) pairs passed to _params, each a strict
# xfail. Fixed so far: rules using the op's output ran before the output was linked to its
# node (reverse over forward missed d(output)/dx); linear's fused GELU pre-activation.
RULE_USES_OUTPUT = ""
RULE_USES_OUTPUT_OPS: set = set()
FUSED_GELU = ""
FUSED_GELU_OPS: set = set()


def _params(*bug_sets: Tuple[set, str]) -> List[Any]:
    return [pytest.param(n, id=n, marks=[pytest.mark.xfail(strict=True, reason=r) for s, r in bug_sets if n in s])
            for n in OPS]


def _f64(a: Any) -> gc.Tensor:
    return gc.tensor(np.asarray(a, dtype=np.float64), dtype=gc.float64)


def _random_like(rng: np.random.Generator, ts: List[gc.Tensor]) -> List[np.ndarray]:
    return [rng.standard_normal(tuple(t.shape)) for t in ts]


# ---------------------------------------------------------------------------------------
# every op
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", _params())
def test_forward_mode_matches_central_differences(name: str) -> None:
    fn, args, tol = case(name)
    assert gradcheck(fn, args, check_forward_ad=True, **tol)


@pytest.mark.parametrize("name", _params())
def test_jvp_is_adjoint_of_vjp(name: str) -> None:
    """<w, J v> (one forward pass) == <J^T w, v> (one reverse pass); J v == J_rev v."""
    fn, args, _ = case(name)
    rtol = 1e-6 if OPS[name].lowp else 1e-10  # lowp: the op rounds through float32
    rng = np.random.default_rng(17)
    vs = _random_like(rng, args)
    out, jv = AF.jvp(fn, tuple(args), tuple(_f64(v) for v in vs))
    ref = fn(*args)
    assert isinstance(out, gc.Tensor) and isinstance(jv, gc.Tensor)  # a Tensor for a Tensor-valued fn
    assert not out.requires_grad and not jv.requires_grad  # detached without create_graph
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-14, atol=1e-15)
    assert jv.shape == ref.shape and jv.dtype == gc.float64

    w = rng.standard_normal(tuple(ref.shape))
    _, vjp = AF.vjp(fn, tuple(args), _f64(w))
    lhs = float(np.sum(w * jv.detach().numpy()))
    rhs = float(sum(np.sum(g.detach().numpy() * v) for g, v in zip(vjp, vs)))
    assert lhs == pytest.approx(rhs, rel=rtol, abs=1e-12)

    # J v with J built row by row from reverse-mode passes
    J = AF.jacobian(fn, tuple(args), mode="rev")
    n_out = ref.numel()
    jv_rev = sum(Jj.detach().numpy().reshape(n_out, -1) @ v.reshape(-1) for Jj, v in zip(J, vs))
    np.testing.assert_allclose(jv.detach().numpy().reshape(-1), jv_rev, rtol=rtol, atol=1e-12)


@pytest.mark.parametrize("name", _params())
def test_jacobian_fwd_equals_rev(name: str) -> None:
    fn, args, _ = case(name)
    Jf = AF.jacobian(fn, tuple(args), mode="fwd")
    Jr = AF.jacobian(fn, tuple(args), mode="rev")
    out_shape = tuple(fn(*args).shape)
    assert isinstance(Jf, tuple) and len(Jf) == len(args) == len(Jr)
    for a, jf, jr in zip(args, Jf, Jr):
        assert jf.shape == out_shape + tuple(a.shape) == jr.shape
        np.testing.assert_allclose(jf.detach().numpy(), jr.detach().numpy(), rtol=1e-12, atol=1e-14)
    # something nonzero is being compared (every op of the table but x ** 0 depends on its inputs)
    assert any(np.any(j.detach().numpy() != 0) for j in Jf) == (name not in ("pow_0", "round_decimals"))


@pytest.mark.parametrize("name", _params((RULE_USES_OUTPUT_OPS, RULE_USES_OUTPUT), (FUSED_GELU_OPS, FUSED_GELU)))
def test_reverse_over_forward_is_hvp(name: str) -> None:
    """gc.grad of jvp(f, x, v, create_graph=True) for f = <w, op(x)> is H v."""
    fn, args, _ = case(name)
    rng = np.random.default_rng(23)
    w = _f64(rng.standard_normal(tuple(fn(*args).shape)))

    def f(*xs: gc.Tensor) -> gc.Tensor:
        return (fn(*xs) * w).sum()

    vs = _random_like(rng, args)
    _, jv = AF.jvp(f, tuple(args), tuple(_f64(v) for v in vs), create_graph=True)
    jv = jv[0] if isinstance(jv, tuple) else jv
    # J v of a scalar function is the directional derivative <grad f, v>
    gs = gc.grad([f(*args)], args, allow_unused=True)
    rtol = 1e-6 if OPS[name].lowp else 1e-10
    np.testing.assert_allclose(jv.detach().numpy(), sum(np.sum(g.detach().numpy() * v) for g, v in zip(gs, vs)), rtol=rtol, atol=1e-12)
    if jv.requires_grad:
        hs = gc.grad([jv], args, allow_unused=True)
        hv = [np.zeros(a.shape) if h is None else h.detach().numpy() for h, a in zip(hs, args)]
    else:  # the directional derivative does not depend on x: H v = 0
        hv = [np.zeros(a.shape) for a in args]
    for h, ref in zip(hv, num_hvp(f, args, vs)):
        np.testing.assert_allclose(h, ref, rtol=1e-4, atol=1e-6)


# ---------------------------------------------------------------------------------------
# against torch.func.jvp
# ---------------------------------------------------------------------------------------

RNG = np.random.default_rng(99)
X_MLP = RNG.uniform(-1, 1, (5, 3))
Y_MLP = np.array([0, 2, 1, 2, 0])
PARAMS = [RNG.uniform(-0.8, 0.8, s) for s in [(4, 3), (4,), (3, 4), (3,)]]
X6 = RNG.uniform(-1.5, 1.5, 6)


def _torch_cases(torch: Any) -> Dict[str, Callable[..., Any]]:
    tF = torch.nn.functional
    X, Y = torch.tensor(X_MLP), torch.tensor(Y_MLP)
    return {
        "elementwise": lambda x: (x.tanh() * x.exp() + x.sigmoid() / (x ** 2 + 1)).sqrt(),
        "activations": lambda x: tF.gelu(x) + tF.gelu(x, approximate="tanh") * tF.softplus(x) + tF.leaky_relu(x, 0.2),
        "softmax_logsoftmax": lambda x: tF.softmax(x.reshape(2, 3), 1) * tF.log_softmax(x.reshape(2, 3), 0),
        "reductions": lambda x: x.reshape(2, 3).amax(1) * x.reshape(3, 2).mean(0).sum() + x.abs().sum(),
        "mlp_loss": lambda w1, b1, w2, b2: tF.cross_entropy(
            tF.linear(torch.tanh(tF.linear(X, w1, b1)), w2, b2), Y, label_smoothing=0.05),
        "mlp_logits": lambda w1, b1, w2, b2: tF.linear(torch.relu(tF.linear(X, w1, b1) + 0.3), w2, b2),
        "multi_output": lambda a, b: (a * b, (a @ b.reshape(6, 1)).exp()),
    }


GC_CASES: Dict[str, Tuple[Callable[..., Any], List[np.ndarray]]] = {
    "elementwise": (lambda x: (x.tanh() * x.exp() + x.sigmoid() / (x ** 2 + 1)).sqrt(), [X6]),
    "activations": (lambda x: F.gelu(x) + F.gelu(x, approximate="tanh") * F.softplus(x) + F.leaky_relu(x, 0.2), [X6]),
    "softmax_logsoftmax": (lambda x: F.softmax(x.reshape(2, 3), 1) * F.log_softmax(x.reshape(2, 3), 0), [X6]),
    "reductions": (lambda x: x.reshape(2, 3).amax(1) * x.reshape(3, 2).mean(0).sum() + abs(x).sum(), [X6]),
    "mlp_loss": (lambda w1, b1, w2, b2: F.cross_entropy(
        F.linear(F.linear(_f64(X_MLP), w1, b1, activation="tanh"), w2, b2), Y_MLP, label_smoothing=0.05), PARAMS),
    "mlp_logits": (lambda w1, b1, w2, b2: F.linear(F.relu(F.linear(_f64(X_MLP), w1, b1) + 0.3), w2, b2), PARAMS),
    "multi_output": (lambda a, b: (a * b, (a @ b.reshape(6, 1)).exp()),
                     [X6.reshape(1, 6) * 0.3, X6[::-1].copy() * 0.3]),
}


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")  # inside torch.func
@pytest.mark.parametrize("name", sorted(GC_CASES))
def test_jvp_matches_torch_func_jvp(name: str) -> None:
    torch = pytest.importorskip("torch")
    fn, arrays = GC_CASES[name]
    tfn = _torch_cases(torch)[name]
    rng = np.random.default_rng(4)
    vs = [rng.standard_normal(a.shape) for a in arrays]
    out, jv = AF.jvp(fn, tuple(_f64(a) for a in arrays), tuple(_f64(v) for v in vs))
    tout, tjv = torch.func.jvp(tfn, tuple(torch.tensor(a) for a in arrays), tuple(torch.tensor(v) for v in vs))
    outs, jvs = (out, jv) if isinstance(out, tuple) else ((out,), (jv,))
    touts, tjvs = (tout, tjv) if isinstance(tout, tuple) else ((tout,), (tjv,))
    assert len(outs) == len(touts) and len(jvs) == len(tjvs)
    for o, to, j, tj in zip(outs, touts, jvs, tjvs):
        np.testing.assert_allclose(o.detach().numpy(), to.detach().numpy(), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(j.detach().numpy(), tj.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_jacobian_fwd_matches_torch_for_tuple_inputs_and_outputs() -> None:
    torch = pytest.importorskip("torch")
    fn, arrays = GC_CASES["multi_output"]
    tfn = _torch_cases(torch)["multi_output"]
    J = AF.jacobian(fn, tuple(_f64(a) for a in arrays), mode="fwd")
    Jt = torch.autograd.functional.jacobian(tfn, tuple(torch.tensor(a) for a in arrays))
    assert len(J) == len(Jt) == 2 and all(len(r) == 2 for r in J)
    for i in range(2):
        for j in range(2):
            assert tuple(J[i][j].shape) == tuple(Jt[i][j].shape)
            np.testing.assert_allclose(J[i][j].detach().numpy(), Jt[i][j].detach().numpy(), rtol=1e-12, atol=1e-14)


# ---------------------------------------------------------------------------------------
# float32
# ---------------------------------------------------------------------------------------

def test_forward_mode_in_float32() -> None:
    rng = np.random.default_rng(8)
    x, v = rng.uniform(-1, 1, (3, 4)), rng.standard_normal((3, 4))
    w, b = rng.uniform(-1, 1, (2, 4)), rng.uniform(-1, 1, 2)

    def f(x: gc.Tensor, w: gc.Tensor, b: gc.Tensor) -> gc.Tensor:
        return F.softmax(F.linear(x.tanh() * x.exp(), w, b, activation="sigmoid"), -1) + (x ** 2).mean(dim=1,
                                                                                               keepdim=True)

    zeros = lambda a: np.zeros_like(a)  # noqa: E731
    outs = {}
    for dt, npdt in ((gc.float32, np.float32), (gc.float64, np.float64)):
        prim = tuple(gc.tensor(a.astype(npdt), dtype=dt) for a in (x, w, b))
        tans = tuple(gc.tensor(a.astype(npdt), dtype=dt) for a in (v, zeros(w), zeros(b)))
        out, jv = AF.jvp(f, prim, tans)
        assert out.dtype == dt and jv.dtype == dt
        outs[dt] = jv.detach().numpy().astype(np.float64)
    np.testing.assert_allclose(outs[gc.float32], outs[gc.float64], rtol=1e-4, atol=1e-6)
    assert np.abs(outs[gc.float64]).max() > 1e-3


def test_tangent_follows_dtype_conversion() -> None:
    x, v = np.array([0.5, -1.0, 2.0]), np.array([1.0, 2.0, -0.5])
    with fwAD.dual_level():
        d = fwAD.make_dual(_f64(x), _f64(v))
        y32 = (d.float() * 3.0).exp()
        p, t = fwAD.unpack_dual(y32)
        assert t is not None and t.dtype == gc.float32 and p.dtype == gc.float32
        np.testing.assert_allclose(t.detach().numpy(), 3 * v * np.exp(3 * x), rtol=1e-5)
        back = fwAD.unpack_dual(y32.double()).tangent
        assert back is not None and back.dtype == gc.float64
        np.testing.assert_allclose(back.detach().numpy(), t.detach().numpy().astype(np.float64), rtol=0)


# ---------------------------------------------------------------------------------------
# dual tensors: semantics and errors
# ---------------------------------------------------------------------------------------

def test_make_dual_and_unpack_dual_semantics() -> None:
    x, v = _f64([1.0, 2.0, 3.0]), _f64([0.5, 0.25, -1.0])
    plain = _f64([4.0, 5.0, 6.0])
    with fwAD.dual_level():
        d = fwAD.make_dual(x, v)
        primal, tangent = fwAD.unpack_dual(d)
        np.testing.assert_array_equal(primal.detach().numpy(), x.detach().numpy())
        np.testing.assert_array_equal(tangent.detach().numpy(), v.detach().numpy())
        assert np.shares_memory(d.detach().numpy(), x.detach().numpy())  # make_dual is a view of the primal
        assert fwAD.unpack_dual(primal).tangent is None  # the unpacked primal carries no tangent
        # a plain tensor, and an op on plain tensors only: no tangent
        assert fwAD.unpack_dual(plain).tangent is None
        assert fwAD.unpack_dual(plain.exp()).tangent is None
        # mixed: the tangent flows only from the dual operand
        y = d * plain + plain
        np.testing.assert_allclose(fwAD.unpack_dual(y).tangent.detach().numpy(), v.detach().numpy() * plain.detach().numpy())
        # namedtuple fields
        u = fwAD.unpack_dual(d.exp())
        np.testing.assert_allclose(u.tangent.detach().numpy(), np.exp(x.detach().numpy()) * v.detach().numpy(), rtol=1e-14)
        np.testing.assert_allclose(u.primal.detach().numpy(), np.exp(x.detach().numpy()), rtol=1e-14)
        # detach drops the tangent, like torch
        assert fwAD.unpack_dual(d.detach()).tangent is None
        # with gc.no_grad() tangents still flow (forward mode is independent of grad mode)
        with gc.no_grad():
            t = fwAD.unpack_dual(d.tanh()).tangent
        assert t is not None
        np.testing.assert_allclose(t.detach().numpy(), (1 - np.tanh(x.detach().numpy()) ** 2) * v.detach().numpy(), rtol=1e-14)


def test_dual_of_a_tensor_that_requires_grad_records_for_reverse_mode() -> None:
    xn, vn = np.array([0.3, -0.4, 1.2]), np.array([1.0, -2.0, 0.5])
    x = leaf(xn)
    with fwAD.dual_level():
        d = fwAD.make_dual(x, _f64(vn))
        y = (d.exp() * d).sum()
        jv = fwAD.unpack_dual(y).tangent
        (g,) = gc.grad(y, x)
    np.testing.assert_allclose(g.detach().numpy(), np.exp(xn) * (1 + xn), rtol=1e-14)
    np.testing.assert_allclose(jv.detach().numpy(), np.sum(np.exp(xn) * (1 + xn) * vn), rtol=1e-14)


def test_make_dual_errors() -> None:
    x = _f64([1.0, 2.0])
    with pytest.raises(RuntimeError, match="dual level"):
        fwAD.make_dual(x, _f64([1.0, 1.0]))
    with fwAD.dual_level():
        with pytest.raises(ValueError, match=r"\(3,\).*\(2,\)"):
            fwAD.make_dual(x, _f64([1.0, 2.0, 3.0]))
        with pytest.raises(TypeError, match="float32"):
            fwAD.make_dual(x, gc.tensor([1.0, 2.0], dtype=gc.float32))
        with pytest.raises(TypeError):
            fwAD.make_dual(x, [1.0, 2.0])  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            fwAD.unpack_dual(np.ones(2))  # type: ignore[arg-type]
        # the failed calls left the level usable
        assert fwAD.unpack_dual(fwAD.make_dual(x, _f64([3.0, 4.0]))).tangent is not None


def test_nested_dual_level_raises_and_outer_level_survives() -> None:
    x, v = _f64([1.0, 2.0]), _f64([1.0, -1.0])
    with fwAD.dual_level():
        d = fwAD.make_dual(x, v)
        with pytest.raises(RuntimeError, match="already active"):
            with fwAD.dual_level():
                pass  # pragma: no cover
        with pytest.raises(RuntimeError, match="already active"):
            fwAD.enter_dual_level()
        np.testing.assert_array_equal(fwAD.unpack_dual(d * 2.0).tangent.detach().numpy(), [2.0, -2.0])
    # and a fresh level can be opened afterwards
    with fwAD.dual_level():
        assert fwAD.unpack_dual(fwAD.make_dual(x, v)).tangent is not None


def test_tangents_vanish_when_the_level_exits() -> None:
    x, v = _f64([1.0, 2.0]), _f64([1.0, -1.0])
    with fwAD.dual_level():
        d = fwAD.make_dual(x, v)
        y = d.exp()
        assert fwAD.unpack_dual(y).tangent is not None
    assert fwAD.unpack_dual(d).tangent is None
    assert fwAD.unpack_dual(y).tangent is None
    # ops after the exit compute plain values
    z = y * d
    assert fwAD.unpack_dual(z).tangent is None
    np.testing.assert_allclose(z.detach().numpy(), np.exp([1.0, 2.0]) * [1.0, 2.0], rtol=1e-14)
    # a new level does not revive the old tangents
    with fwAD.dual_level():
        assert fwAD.unpack_dual(d).tangent is None and fwAD.unpack_dual(y).tangent is None
        assert fwAD.unpack_dual(d * 2.0).tangent is None
    # an exception inside the block still closes the level
    with pytest.raises(ZeroDivisionError):
        with fwAD.dual_level():
            1 / 0
    with pytest.raises(RuntimeError, match="dual level"):
        fwAD.make_dual(x, v)


@pytest.mark.parametrize("write,value,tan", [
    ("copy_", [5.0, 6.0], [0.0, 0.0]), ("add_tensor", [0.5, 1.4], [1.0, -1.0]), ("add_scalar", [2.0, 3.0], [1.0, -1.0]),
    ("mul_", [0.5, 1.0], [0.5, -0.5]), ("fill_", [3.0, 3.0], [0.0, 0.0]), ("zero_", [0.0, 0.0], [0.0, 0.0]),
])
@pytest.mark.parametrize("grad_mode", [False, True])
def test_in_place_write_to_a_dual_tensor_updates_its_tangent(write: str, value: List[float], tan: List[float],
                                                              grad_mode: bool) -> None:
    # The values and tangents PyTorch 2.13 gives (torch.autograd.forward_ad, same writes).
    x, v = _f64([1.0, 2.0]), _f64([1.0, -1.0])
    other = _f64([5.0, 6.0])
    writes: Dict[str, Callable[[gc.Tensor], Any]] = {
        "copy_": lambda p: p.copy_(other),
        "add_tensor": lambda p: p.add_(other, alpha=-0.1),  # an optimizer-style update
        "add_scalar": lambda p: p.add_(1.0),
        "mul_": lambda p: p.mul_(0.5),
        "fill_": lambda p: p.fill_(3.0),
        "zero_": lambda p: p.zero_(),
    }
    with fwAD.dual_level():
        d = fwAD.make_dual(x, v)
        with gc.set_grad_enabled(grad_mode):
            writes[write](d)
        primal, tangent = fwAD.unpack_dual(d)
        np.testing.assert_allclose(primal.detach().numpy(), value, rtol=1e-15)
        np.testing.assert_allclose(tangent.detach().numpy(), tan, rtol=1e-15)
    # outside the level the same write is allowed again (no tangent any more)
    with gc.no_grad():
        writes[write](d)


def test_jvp_argument_checks() -> None:
    x = _f64([1.0, 2.0])
    with pytest.raises(ValueError, match="shape"):
        AF.jvp(lambda t: t.exp(), x, _f64([1.0, 2.0, 3.0]))
    with pytest.raises(TypeError, match="dtype"):
        AF.jvp(lambda t: t.exp(), x, gc.tensor([1.0, 2.0], dtype=gc.float32))
    with pytest.raises(RuntimeError, match="single element"):
        AF.jvp(lambda t: t.exp(), x)
    # a one-element primal may omit its tangent (ones)
    out, jv = AF.jvp(lambda t: t.exp() * 2.0, _f64([0.5]))
    np.testing.assert_allclose(jv.detach().numpy(), 2 * np.exp([0.5]), rtol=1e-14)
    # the dual level is closed again after jvp, also after an error inside func
    with pytest.raises(ZeroDivisionError):
        AF.jvp(lambda t: 1 / 0, x, x)
    with fwAD.dual_level():
        pass
    with pytest.raises(ValueError, match="mode"):
        AF.jacobian(lambda t: t, x, mode="forward")


def test_jvp_of_an_output_independent_of_the_input_is_zero() -> None:
    x, c = _f64([1.0, 2.0]), _f64([3.0, 4.0])
    out, (ja, jb) = AF.jvp(lambda a, b: (c.exp(), a * 0.0 + b), (x, x), (_f64([1.0, 1.0]), _f64([0.0, 2.0])))
    np.testing.assert_allclose(out[0].detach().numpy(), np.exp([3.0, 4.0]), rtol=1e-15)
    np.testing.assert_array_equal(ja.detach().numpy(), [0.0, 0.0])  # no tangent reaches c.exp(): zeros, not None
    np.testing.assert_array_equal(jb.detach().numpy(), [0.0, 2.0])


def test_jvp_create_graph_keeps_the_caller_graph() -> None:
    """jvp(create_graph=True) is differentiable w.r.t. the primals and the tangents."""
    xn, vn = np.array([0.2, -0.5, 0.9]), np.array([1.0, 0.5, -2.0])
    x, v = leaf(xn), leaf(vn)
    _, jv = AF.jvp(lambda t: (t ** 3).sum(), x, v, create_graph=True)
    assert jv.requires_grad
    np.testing.assert_allclose(jv.detach().numpy(), np.sum(3 * xn ** 2 * vn), rtol=1e-14)
    gx, gv = gc.grad(jv, [x, v])
    np.testing.assert_allclose(gx.detach().numpy(), 6 * xn * vn, rtol=1e-14)  # H v
    np.testing.assert_allclose(gv.detach().numpy(), 3 * xn ** 2, rtol=1e-14)  # the gradient


def test_reverse_over_forward_equals_hvp_for_a_composed_function() -> None:
    torch = pytest.importorskip("torch")
    # built from ops whose tangent rules are differentiable (see RULE_USES_OUTPUT for the others)
    xn, vn = np.array([0.4, 1.3, 0.7, 1.9]), np.array([0.5, -1.0, 2.0, 0.25])
    A = np.random.default_rng(1).standard_normal((3, 4))

    def f(x: Any, lib: Any) -> Any:
        At = lib(A)
        if isinstance(x, gc.Tensor):
            h = F.gelu(At @ x.log()) * F.softplus(x[0:3]) + gc._core.erf(x[1:4]) ** 2
            return F.mse_loss(h, lib(np.ones(3))) + (x ** 1.5).sum()
        tF = torch.nn.functional
        h = tF.gelu(At @ x.log()) * tF.softplus(x[0:3]) + torch.erf(x[1:4]) ** 2
        return tF.mse_loss(h, lib(np.ones(3))) + (x ** 1.5).sum()

    x = leaf(xn)
    _, jv = AF.jvp(lambda t: f(t, _f64), x, _f64(vn), create_graph=True)
    (hv,) = gc.grad(jv, x)
    _, thv = torch.autograd.functional.hvp(lambda t: f(t, torch.tensor), torch.tensor(xn), torch.tensor(vn))
    np.testing.assert_allclose(hv.detach().numpy(), thv.detach().numpy(), rtol=1e-10, atol=1e-12)
    _, hv2 = AF.hvp(lambda t: f(t, _f64), x, _f64(vn))
    np.testing.assert_allclose(hv2.detach().numpy(), thv.detach().numpy(), rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------------------------------
# property: broadcasting binary ops, jvp == NumPy formula
# ---------------------------------------------------------------------------------------

BINARY: Dict[str, Tuple[Callable[..., Any], Callable[..., np.ndarray], Callable[..., np.ndarray]]] = {
    # name -> (gradcore op, numpy forward, numpy jvp(a, b, va, vb))
    "add": (lambda a, b: a + b, np.add, lambda a, b, va, vb: va + vb),
    "sub": (lambda a, b: a - b, np.subtract, lambda a, b, va, vb: va - vb),
    "mul": (lambda a, b: a * b, np.multiply, lambda a, b, va, vb: va * b + a * vb),
    "div": (lambda a, b: a / b, np.divide, lambda a, b, va, vb: va / b - a * vb / b ** 2),
}


@settings(max_examples=60, deadline=None, database=None)
@given(
    shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, min_side=1, max_side=4),
    op=st.sampled_from(sorted(BINARY)),
    which=st.sampled_from(["both", "a", "b"]),
    seed=st.integers(0, 2 ** 32 - 1),
)
def test_property_broadcast_jvp_matches_numpy(shapes: Any, op: str, which: str, seed: int) -> None:
    sa, sb = shapes.input_shapes
    rng = np.random.default_rng(seed)
    a = np.asarray(rng.standard_normal(sa))
    b = np.asarray(rng.uniform(0.5, 2.0, sb) * rng.choice([-1.0, 1.0], sb))  # a divisor: away from 0
    va = np.asarray(rng.standard_normal(sa)) if which in ("both", "a") else np.zeros(sa)
    vb = np.asarray(rng.standard_normal(sb)) if which in ("both", "b") else np.zeros(sb)
    fn, np_fn, np_jvp = BINARY[op]
    with fwAD.dual_level():
        ta = fwAD.make_dual(_f64(a), _f64(va)) if which in ("both", "a") else _f64(a)
        tb = fwAD.make_dual(_f64(b), _f64(vb)) if which in ("both", "b") else _f64(b)
        primal, tangent = fwAD.unpack_dual(fn(ta, tb))
    assert tangent is not None
    assert primal.shape == tangent.shape == shapes.result_shape
    np.testing.assert_allclose(primal.detach().numpy(), np_fn(a, b), rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(tangent.detach().numpy(), np.broadcast_to(np_jvp(a, b, va, vb), shapes.result_shape),
                               rtol=1e-12, atol=1e-13)
    # the same through the functional API
    _, jv = AF.jvp(fn, (_f64(a), _f64(b)), (_f64(va), _f64(vb)))
    np.testing.assert_allclose(jv.detach().numpy(), tangent.detach().numpy(), rtol=0, atol=0)
