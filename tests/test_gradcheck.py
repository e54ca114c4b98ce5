"""Every differentiable op through ``gc.gradcheck`` (float64 central differences vs the engine).

Kinks are avoided on purpose, because there the derivative is undefined and a finite
difference straddling the kink measures an average of the two one-sided slopes:
* relu / abs get inputs with |x| >= 0.2 (eps is 1e-6, so x +- eps never crosses 0);
* max gets distinct inputs (no ties), so the argmax cannot flip under +-eps;
* log, sqrt and negative/fractional powers get positive inputs; divisors stay away from 0.
Ties in max and values at 0 are covered by hand-derived tests in test_ops.py.

Rule (STYLE.md): a new op means new rows here and in test_ops.py's op table.
"""
from __future__ import annotations

from typing import Any, Callable, Tuple

import numpy as np
import pytest

import gradcore as gc
import gradcore.nn.functional as F

Shapes = Tuple[Tuple[int, ...], ...]

LABELS = np.array([2, 0, 3], dtype=np.int64)

# (name, fn, input shapes, domain)
GRADCHECK_OPS: list = [
    ("add", lambda a, b: a + b, ((2, 3), (2, 3)), "any"),
    ("sub", lambda a, b: a - b, ((2, 3), (2, 3)), "any"),
    ("mul", lambda a, b: a * b, ((2, 3), (2, 3)), "any"),
    ("div", lambda a, b: a / b, ((2, 3), (2, 3)), "away0"),
    ("add_bcast", lambda a, b: a + b, ((2, 3), (3,)), "any"),
    ("sub_bcast", lambda a, b: a - b, ((2, 1), (1, 3)), "any"),
    ("mul_bcast", lambda a, b: a * b, ((2, 1, 3), (4, 1)), "any"),
    ("div_bcast", lambda a, b: a / b, ((3,), (2, 3)), "away0"),
    ("mul_0d", lambda a, b: a * b, ((), (2, 3)), "any"),
    ("add_scalar", lambda x: x + 1.5, ((2, 3),), "any"),
    ("rsub_scalar", lambda x: 2 - x, ((2, 3),), "any"),
    ("mul_scalar", lambda x: x * -3.0, ((2, 3),), "any"),
    ("rmul_scalar", lambda x: 0.5 * x, ((2, 3),), "any"),
    ("div_scalar", lambda x: x / 7, ((2, 3),), "any"),
    ("rdiv_scalar", lambda x: 3 / x, ((2, 3),), "away0"),
    ("pow_2", lambda x: x ** 2, ((2, 3),), "any"),
    ("pow_3", lambda x: x ** 3, ((2, 3),), "any"),
    ("pow_frac", lambda x: x ** 1.7, ((2, 3),), "pos"),
    ("pow_neg", lambda x: x ** -0.5, ((2, 3),), "pos"),
    ("rpow", lambda x: 3 ** x, ((2, 3),), "any"),
    ("neg", lambda x: -x, ((2, 3),), "any"),
    ("exp", lambda x: x.exp(), ((2, 3),), "any"),
    ("log", lambda x: x.log(), ((2, 3),), "pos"),
    ("sqrt", lambda x: x.sqrt(), ((2, 3),), "pos"),
    ("abs", lambda x: x.abs(), ((2, 3),), "away0"),      # away from the kink at 0
    ("tanh", lambda x: x.tanh(), ((2, 3),), "any"),
    ("sigmoid", lambda x: x.sigmoid(), ((2, 3),), "any"),
    ("relu", lambda x: x.relu(), ((2, 3),), "away0"),    # away from the kink at 0
    ("F.relu", lambda x: F.relu(x), ((2, 3),), "away0"),
    ("sum_all", lambda x: x.sum(), ((2, 3, 2),), "any"),
    ("sum_dim", lambda x: x.sum(dim=1), ((2, 3, 2),), "any"),
    ("sum_dims_keep", lambda x: x.sum(dim=(0, 2), keepdim=True), ((2, 3, 2),), "any"),
    ("mean_all", lambda x: x.mean(), ((2, 3, 2),), "any"),
    ("mean_dim", lambda x: x.mean(dim=-1), ((2, 3, 2),), "any"),
    ("mean_dims_keep", lambda x: x.mean(dim=(0, 1), keepdim=True), ((2, 3, 2),), "any"),
    ("max_all", lambda x: x.max(), ((2, 3, 2),), "distinct"),          # no ties
    ("max_dim", lambda x: x.max(dim=1).values, ((2, 3, 2),), "distinct"),  # no ties
    ("amax_dims_keep", lambda x: x.amax(dim=(0, 2), keepdim=True), ((2, 3, 2),), "distinct"),
    ("reshape", lambda x: x.reshape(3, -1), ((2, 3, 2),), "any"),
    ("transpose", lambda x: x.transpose(0, 1), ((2, 3),), "any"),
    ("transpose_3d", lambda x: x.transpose(0, 2), ((2, 3, 2),), "any"),
    (".T", lambda x: x.T, ((2, 3),), "any"),
    ("permute", lambda x: x.permute(1, 2, 0), ((2, 3, 2),), "any"),
    ("matmul_2d", lambda a, b: a @ b, ((2, 3), (3, 4)), "any"),
    ("matmul_1d_2d", lambda a, b: a @ b, ((3,), (3, 4)), "any"),
    ("matmul_2d_1d", lambda a, b: a @ b, ((2, 3), (3,)), "any"),
    ("matmul_nd_2d", lambda a, b: gc.matmul(a, b), ((2, 2, 3), (3, 2)), "any"),
    ("linear", lambda x, w, b: F.linear(x, w, b), ((3, 4), (2, 4), (2,)), "any"),
    ("softmax_d0", lambda x: gc.softmax(x, 0), ((3, 4),), "any"),
    ("softmax_d1", lambda x: gc.softmax(x, 1), ((3, 4),), "any"),
    ("softmax_3d_d1", lambda x: gc.softmax(x, 1), ((2, 3, 2),), "any"),
    ("log_softmax_d0", lambda x: gc.log_softmax(x, 0), ((3, 4),), "any"),
    ("log_softmax_d1", lambda x: gc.log_softmax(x, -1), ((3, 4),), "any"),
    ("log_softmax_3d_d2", lambda x: gc.log_softmax(x, 2), ((2, 3, 2),), "any"),
    ("ce_mean", lambda x: F.cross_entropy(x, LABELS), ((3, 4),), "any"),
    ("ce_sum", lambda x: F.cross_entropy(x, LABELS, reduction="sum"), ((3, 4),), "any"),
    ("ce_none", lambda x: F.cross_entropy(x, LABELS, reduction="none"), ((3, 4),), "any"),
    ("ce_smooth", lambda x: F.cross_entropy(x, LABELS, label_smoothing=0.2), ((3, 4),), "any"),
    ("mse_mean", lambda a, b: F.mse_loss(a, b), ((2, 3), (2, 3)), "any"),
    ("mse_sum", lambda a, b: F.mse_loss(a, b, reduction="sum"), ((2, 3), (2, 3)), "any"),
    ("mse_none", lambda a, b: F.mse_loss(a, b, reduction="none"), ((2, 3), (2, 3)), "any"),
    # compositions: second-order structure through shared inputs
    ("x_times_x", lambda x: x * x, ((2, 3),), "any"),
    ("mlp", lambda x, w: (x @ w).tanh().sum(dim=1), ((3, 4), (4, 2)), "any"),
]


def make_input(shape: Tuple[int, ...], domain: str, rng: np.random.Generator) -> np.ndarray:
    if domain == "any":
        return np.asarray(rng.standard_normal(shape))
    if domain == "pos":
        return np.asarray(rng.uniform(0.5, 2.0, shape))
    if domain == "away0":
        return np.asarray(rng.uniform(0.2, 2.0, shape) * rng.choice([-1.0, 1.0], shape))
    if domain == "distinct":
        n = int(np.prod(shape))
        return ((rng.permutation(n) - n / 2) * 0.3 + 0.05).reshape(shape)
    raise AssertionError(domain)


@pytest.mark.parametrize("name,fn,shapes,domain", GRADCHECK_OPS, ids=[r[0] for r in GRADCHECK_OPS])
def test_gradcheck(name: str, fn: Callable[..., Any], shapes: Shapes, domain: str, rng: np.random.Generator) -> None:
    inputs = [gc.tensor(make_input(s, domain, rng), dtype=gc.float64, requires_grad=True) for s in shapes]
    assert gc.gradcheck(fn, inputs) is True


def test_gradcheck_only_checks_inputs_that_require_grad(rng: np.random.Generator) -> None:
    a = gc.tensor(rng.standard_normal((2, 3)), dtype=gc.float64, requires_grad=True)
    b = gc.tensor(rng.standard_normal((2, 3)), dtype=gc.float64)  # constant
    assert gc.gradcheck(lambda x, y: x * y, [a, b]) is True


def test_gradcheck_promotes_float32_inputs(rng: np.random.Generator) -> None:
    x = gc.tensor(rng.standard_normal((2, 3)), requires_grad=True)  # float32
    assert gc.gradcheck(lambda t: (t * t).sum(), [x]) is True


def test_gradcheck_detects_wrong_gradient(rng: np.random.Generator) -> None:
    # Forward is x*x, but one factor is detached: the engine reports d/dx = x, the truth is 2x.
    x = gc.tensor(rng.uniform(0.5, 2.0, (2, 3)), dtype=gc.float64, requires_grad=True)
    assert issubclass(gc.GradcheckError, RuntimeError)
    with pytest.raises(gc.GradcheckError, match=r"analytical .* numerical"):
        gc.gradcheck(lambda t: t.detach() * t, [x])


def test_gradcheck_names_the_worst_element() -> None:
    # Only element 2 is wrong (its factor is detached and large), so it is the one reported.
    x = gc.tensor([1.0, 1.0, 5.0], dtype=gc.float64, requires_grad=True)
    mask = gc.tensor([0.0, 0.0, 1.0], dtype=gc.float64)

    def f(t: gc.Tensor) -> gc.Tensor:
        # = t*t everywhere; the gradient through the detached half is lost only where mask = 1
        return t * t * (1 - mask) + t.detach() * t * mask

    with pytest.raises(gc.GradcheckError, match=r"\[2\] / d\(input 0\)\[2\]") as info:
        gc.gradcheck(f, [x])
    assert isinstance(info.value, RuntimeError)
    assert "5.0" in str(info.value) and "10.0" in str(info.value)  # analytical 5 vs numerical 10


def test_gradcheck_wrong_gradient_within_tolerance_is_accepted() -> None:
    # A wrong gradient that is smaller than atol is (by contract) not detected.
    x = gc.tensor([1e-7], dtype=gc.float64, requires_grad=True)
    assert gc.gradcheck(lambda t: t.detach() * t, [x]) is True


# ----------------------------------------------------------------------------------------
# Second order: create_graph=True must record the backward itself, so that differentiating a
# gradient gives the true second derivative. Oracle: float64 central differences of the
# (first-order) gradient. Checked quantity: d/dx [ sum_i v_i * (J^T u)_i ] for random u, v
# (a Hessian-vector product for scalar outputs).
# ----------------------------------------------------------------------------------------

SECOND_ORDER_OPS: list = [
    ("mul", lambda a, b: a * b, ((2, 3), (2, 3)), "any"),
    ("div", lambda a, b: a / b, ((2, 3), (2, 3)), "away0"),
    ("pow_3", lambda x: x ** 3, ((2, 3),), "any"),
    ("pow_frac", lambda x: x ** 1.7, ((2, 3),), "pos"),
    ("rpow", lambda x: 3 ** x, ((2, 3),), "any"),
    ("rdiv_scalar", lambda x: 3 / x, ((2, 3),), "away0"),
    ("exp", lambda x: x.exp(), ((2, 3),), "any"),
    ("log", lambda x: x.log(), ((2, 3),), "pos"),
    ("sqrt", lambda x: x.sqrt(), ((2, 3),), "pos"),
    ("tanh", lambda x: x.tanh(), ((2, 3),), "any"),
    ("sigmoid", lambda x: x.sigmoid(), ((2, 3),), "any"),
    ("relu", lambda x: x.relu() * x, ((2, 3),), "away0"),   # relu(x) * x = x^2 on x > 0
    ("abs", lambda x: x.abs() * x, ((2, 3),), "away0"),     # |x| * x: second derivative 2 sign(x)
    ("max_dim", lambda x: x.max(dim=1).values ** 2, ((2, 3),), "distinct"),
    ("mean_sq", lambda x: (x * x).mean(dim=0), ((2, 3),), "any"),
    ("matmul", lambda a, b: (a @ b) ** 2, ((2, 3), (3, 2)), "any"),
    ("linear", lambda x, w, b: F.linear(x, w, b) ** 2, ((3, 4), (2, 4), (2,)), "any"),
    ("softmax", lambda x: gc.softmax(x, 1), ((2, 3),), "any"),
    ("log_softmax", lambda x: gc.log_softmax(x, 0), ((2, 3),), "any"),
    ("cross_entropy", lambda x: F.cross_entropy(x, LABELS[:2]), ((2, 4),), "any"),
    ("mse", lambda a, b: F.mse_loss(a, b), ((2, 3), (2, 3)), "any"),
]


def _first_order_projection(fn: Callable[..., Any], inputs: list, u: np.ndarray, vs: list,
                            create_graph: bool) -> gc.Tensor:
    out = fn(*inputs)
    grads = gc.grad(out, inputs, grad_outputs=gc.tensor(u, dtype=gc.float64), create_graph=create_graph,
                    allow_unused=True)
    total = gc.tensor(0.0, dtype=gc.float64)
    for g, v in zip(grads, vs):
        if g is not None:
            total = total + (g * gc.tensor(v, dtype=gc.float64)).sum()
    return total


@pytest.mark.parametrize("name,fn,shapes,domain", SECOND_ORDER_OPS, ids=[r[0] for r in SECOND_ORDER_OPS])
def test_second_derivative_matches_finite_differences(name: str, fn: Callable[..., Any], shapes: Shapes,
                                                      domain: str, rng: np.random.Generator) -> None:
    inputs = [gc.tensor(make_input(s, domain, rng), dtype=gc.float64, requires_grad=True) for s in shapes]
    out_shape = fn(*inputs).shape
    u = np.asarray(rng.standard_normal(out_shape))
    vs = [np.asarray(rng.standard_normal(s)) for s in shapes]

    h = _first_order_projection(fn, inputs, u, vs, create_graph=True)
    if h.requires_grad:
        analytic = [g.detach().numpy() if g is not None else np.zeros(x.shape)
                    for g, x in zip(gc.grad(h, inputs, allow_unused=True), inputs)]
    else:  # the recorded backward does not depend on the inputs at all
        analytic = [np.zeros(x.shape) for x in inputs]

    eps = 1e-6
    for k, x in enumerate(inputs):
        flat = x.detach().numpy().reshape(-1)
        numeric = np.zeros(flat.size)
        for c in range(flat.size):
            orig = flat[c]
            flat[c] = orig + eps
            hp = _first_order_projection(fn, inputs, u, vs, create_graph=False).item()
            flat[c] = orig - eps
            hm = _first_order_projection(fn, inputs, u, vs, create_graph=False).item()
            flat[c] = orig
            numeric[c] = (hp - hm) / (2 * eps)
        np.testing.assert_allclose(analytic[k].reshape(-1), numeric, rtol=1e-5, atol=1e-6,
                                   err_msg=f"{name}: second derivative w.r.t. input {k}")


def test_create_graph_simple_exp() -> None:
    # d/dx exp(x) = exp(x), and differentiating that again gives exp(x) once more.
    x = gc.tensor(1.0, dtype=gc.float64, requires_grad=True)
    (g,) = gc.grad(x.exp(), x, create_graph=True)
    assert g.item() == pytest.approx(np.e, rel=1e-15)
    assert g.requires_grad
    (gg,) = gc.grad(g, x)
    assert gg.item() == pytest.approx(np.e, rel=1e-15)
