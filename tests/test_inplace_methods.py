"""The in-place methods and augmented operators of issue 11 item 6, against PyTorch.

Each case runs the same call on a gradcore and a torch tensor and compares the values, the
identity of the result (in-place methods return ``self``), the version counter bump, the
gradient through the in-place op on a non-leaf, and PyTorch's refusals (a leaf that requires
grad; a float result into an integer tensor; broadcasting that would grow ``self``).
"""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Tuple

import numpy as np
import pytest

import gradcore as gc

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(11)
X = RNG.uniform(0.5, 2.0, (3, 4))
ROW = RNG.uniform(0.5, 2.0, (4,))
COL = RNG.uniform(0.5, 2.0, (3, 1))
SQUARE = RNG.uniform(-1.0, 1.0, (4, 4))

Call = Callable[[Any, Any], Any]  # (module, self) -> result


def _t(lib: Any, a: np.ndarray) -> Any:
    return lib.tensor(a.copy())


# name -> call(lib, x): every method of the list except the index family (tested in
# tests/test_index_ops.py) and the random fills (below).
CASES: Dict[str, Call] = {
    "add_tensor": lambda lib, x: x.add_(_t(lib, ROW)),
    "add_alpha": lambda lib, x: x.add_(_t(lib, COL), alpha=-0.5),
    "add_scalar": lambda lib, x: x.add_(2),
    "sub_tensor": lambda lib, x: x.sub_(_t(lib, ROW)),
    "sub_alpha": lambda lib, x: x.sub_(_t(lib, ROW), alpha=3),
    "mul_tensor": lambda lib, x: x.mul_(_t(lib, COL)),
    "mul_scalar": lambda lib, x: x.mul_(-1.5),
    "div_tensor": lambda lib, x: x.div_(_t(lib, ROW)),
    "div_floor": lambda lib, x: x.div_(_t(lib, ROW), rounding_mode="floor"),
    "div_trunc": lambda lib, x: x.div_(-0.3, rounding_mode="trunc"),
    "pow_scalar": lambda lib, x: x.pow_(2.5),
    "pow_tensor": lambda lib, x: x.pow_(_t(lib, ROW)),
    "clamp_": lambda lib, x: x.clamp_(0.8, 1.5),
    "clamp_tensor": lambda lib, x: x.clamp_(min=_t(lib, ROW)),
    "clamp_min_": lambda lib, x: x.clamp_min_(1.0),
    "clamp_max_": lambda lib, x: x.clamp_max_(1.0),
    "exp_": lambda lib, x: x.exp_(),
    "log_": lambda lib, x: x.log_(),
    "sqrt_": lambda lib, x: x.sqrt_(),
    "neg_": lambda lib, x: x.neg_(),
    "abs_": lambda lib, x: x.neg_().abs_(),
    "relu_": lambda lib, x: x.sub_(1.2).relu_(),
    "sigmoid_": lambda lib, x: x.sigmoid_(),
    "tanh_": lambda lib, x: x.tanh_(),
    "zero_": lambda lib, x: x.zero_(),
    "fill_scalar": lambda lib, x: x.fill_(3.25),
    "fill_tensor": lambda lib, x: x.fill_(lib.tensor(-2.0, dtype=lib.float64)),
    "copy_": lambda lib, x: x.copy_(_t(lib, ROW)),
    "lerp_scalar": lambda lib, x: x.lerp_(_t(lib, ROW), 0.25),
    "lerp_tensor": lambda lib, x: x.lerp_(_t(lib, ROW), _t(lib, COL) - 1.0),
    "addcmul_": lambda lib, x: x.addcmul_(_t(lib, ROW), _t(lib, COL), value=-0.5),
    "addcdiv_": lambda lib, x: x.addcdiv_(_t(lib, ROW), _t(lib, COL), value=2),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_inplace_method_matches_torch(name: str) -> None:
    call = CASES[name]
    g, t = _t(gc, X), _t(torch, X)
    v0 = g._version
    rg, rt = call(gc, g), call(torch, t)
    assert rg is g and rt is t, "an in-place method returns self"
    np.testing.assert_allclose(g.numpy(), t.numpy(), rtol=1e-12, atol=1e-12)
    assert g._version > v0, "the version counter is bumped"


# div(rounding_mode="floor") is floor_divide, whose derivative neither library implements
# (gradcore raises, as for floor_divide; torch 2.13 returns zeros for the div spelling).
_NO_GRADIENT = {"div_floor"}


@pytest.mark.parametrize("name", sorted(set(CASES) - _NO_GRADIENT))
def test_inplace_method_gradient_matches_torch(name: str) -> None:
    """On a non-leaf that requires grad the op is recorded; the gradient reaches the leaf
    (zero for the overwriting ones: zero_, fill_, copy_)."""
    call = CASES[name]
    w = RNG.uniform(-1.0, 1.0, X.shape)
    grads = []
    for lib in (gc, torch):
        leaf = lib.tensor(X.copy(), requires_grad=True)
        y = leaf * 1.0
        call(lib, y)
        (y * lib.tensor(w)).sum().backward()
        grads.append(leaf.grad.numpy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", ["add_tensor", "mul_scalar", "exp_", "clamp_", "lerp_scalar", "addcmul_", "zero_"])
def test_inplace_on_leaf_requiring_grad_raises_like_torch(name: str) -> None:
    leaf = gc.tensor(X.copy(), requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place operation"):
        CASES[name](gc, leaf)
    np.testing.assert_array_equal(leaf.detach().numpy(), X)  # state left as it was
    with gc.no_grad():
        CASES[name](gc, leaf)  # allowed under no_grad, as in PyTorch


def test_inplace_refuses_to_broadcast_self() -> None:
    small = gc.tensor(ROW.copy())
    with pytest.raises(RuntimeError):
        small.add_(gc.tensor(X))
    with pytest.raises(RuntimeError):
        torch.tensor(ROW).add_(torch.tensor(X))
    np.testing.assert_array_equal(small.numpy(), ROW)


@pytest.mark.parametrize("name", ["normal_", "uniform_", "bernoulli_"])
def test_random_fills(name: str) -> None:
    gc.manual_seed(0)
    x = gc.zeros(20000, dtype=gc.float64)
    v0 = x._version
    if name == "normal_":
        assert x.normal_(1.0, 2.0) is x
        a = x.numpy()
        assert abs(a.mean() - 1.0) < 0.1 and abs(a.std() - 2.0) < 0.1
    elif name == "uniform_":
        assert x.uniform_(-3.0, -1.0) is x
        a = x.numpy()
        assert a.min() >= -3.0 and a.max() < -1.0 and abs(a.mean() + 2.0) < 0.05
    else:
        assert x.bernoulli_(0.25) is x
        a = x.numpy()
        assert set(np.unique(a)) <= {0.0, 1.0} and abs(a.mean() - 0.25) < 0.02
    assert x._version > v0


# ---- augmented assignment: a += b updates the object in place -----------------------------
AUG: List[Tuple[str, str, Any]] = [
    ("+=", "float64", 1.5), ("-=", "float64", "row"), ("*=", "float64", "col"), ("/=", "float64", 4),
    ("//=", "float64", "row"), ("%=", "float64", -0.7), ("**=", "float64", 2), ("@=", "float64", "square"),
    ("+=", "int64", 3), ("-=", "int32", "introw"), ("*=", "int64", -2), ("//=", "int64", -3), ("%=", "int64", 3),
    ("&=", "int64", 6), ("|=", "int32", 5), ("^=", "int64", "introw"), ("&=", "bool", "boolrow"),
    ("|=", "bool", True), ("^=", "bool", "boolrow"), ("/=", "float32", 3), ("**=", "int64", 2),
]


def _operand(lib: Any, spec: Any) -> Any:
    arrays = {"row": ROW, "col": COL, "square": SQUARE,
              "introw": np.array([1, -2, 3, 4]), "boolrow": np.array([True, False, True, False])}
    if isinstance(spec, str):
        return lib.tensor(arrays[spec])
    return spec


@pytest.mark.parametrize(("op", "dtype", "other"), AUG, ids=[f"{o}-{d}-{v}" for o, d, v in AUG])
def test_augmented_assignment_is_in_place(op: str, dtype: str, other: Any) -> None:
    base = (X * 10 - 7).round() if dtype != "bool" else (X > 1.2)
    out = []
    for lib in (gc, torch):
        x = lib.tensor(base.copy()).to(getattr(lib, dtype))
        alias = x
        scope = {"x": x, "y": _operand(lib, other)}
        exec(f"x {op} y", {}, scope)
        if lib is gc or op != "@=":  # torch has no __imatmul__: its x @= y rebinds x
            assert scope["x"] is alias, f"x {op} y must update x in place, not rebind it"
        out.append((scope["x"].numpy(), str(scope["x"].dtype).split(".")[-1]))
    np.testing.assert_allclose(out[0][0], out[1][0], rtol=1e-6)
    assert out[0][1] == out[1][1]


@pytest.mark.parametrize("op", ["+=", "*=", "/=", "-="])
def test_float_result_into_int_tensor_raises_like_torch(op: str) -> None:
    for lib in (gc, torch):
        x = lib.tensor([1, 2, 3])
        with pytest.raises(RuntimeError, match="can't be cast to the desired output type"):
            exec(f"x {op} 1.5", {}, {"x": x})
        np.testing.assert_array_equal(x.numpy(), [1, 2, 3])


def test_sgd_update_under_no_grad_updates_parameter() -> None:
    """The hand-written SGD idiom ``p -= lr * p.grad`` trains (it used to rebind ``p``)."""
    p = gc.tensor([1.0, -2.0], requires_grad=True)
    alias = p
    (p * p).sum().backward()
    with gc.no_grad():
        p -= 0.1 * p.grad
    assert p is alias and p.requires_grad and p.is_leaf
    np.testing.assert_allclose(p.detach().numpy(), [0.8, -1.6])


def test_imatmul_with_a_new_shape_rebinds_like_torch() -> None:
    """x @= w with w (4, 5): the product (3, 5) cannot live in x, so x is rebound to it, as
    in PyTorch (whose @= always rebinds); x's old object is untouched."""
    for lib in (gc, torch):
        x = lib.tensor(X.copy())
        old = x
        x @= lib.tensor(RNG.uniform(-1, 1, (4, 5)))
        assert tuple(x.shape) == (3, 5) and x is not old
        np.testing.assert_array_equal(old.numpy(), X)
