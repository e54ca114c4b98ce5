"""Property tests: NumPy broadcasting for add/sub/mul/div, forward and backward.

For random broadcast-compatible shape pairs the forward value must equal NumPy's, and the
gradient of each operand must be the upstream gradient times the local derivative, summed
over the dimensions that operand was broadcast along (NumPy ``sum`` over leading dims and
over dims where the operand has size 1). Incompatible pairs must raise ValueError naming
both shapes.
"""
from __future__ import annotations

import re
from typing import Any, Callable, Dict, Tuple

import hypothesis.extra.numpy as hnp
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import gradcore as gc

SETTINGS = settings(max_examples=50, deadline=None, database=None)

Shape = Tuple[int, ...]


def sum_to(g: np.ndarray, shape: Shape) -> np.ndarray:
    """Reduce a broadcast gradient back to ``shape`` (the adjoint of np.broadcast_to)."""
    lead = g.ndim - len(shape)
    g = g.sum(axis=tuple(range(lead)))
    axes = tuple(i for i, s in enumerate(shape) if s == 1 and g.shape[i] != 1)
    return g.sum(axis=axes, keepdims=True).reshape(shape)


# name -> (gradcore op, numpy forward, local derivative wrt a, local derivative wrt b)
OPS: Dict[str, Tuple[Callable[..., Any], Callable[..., Any], Callable[..., Any], Callable[..., Any]]] = {
    "add": (lambda a, b: a + b, np.add, lambda a, b: np.ones_like(a * b), lambda a, b: np.ones_like(a * b)),
    "sub": (lambda a, b: a - b, np.subtract, lambda a, b: np.ones_like(a * b), lambda a, b: -np.ones_like(a * b)),
    "mul": (lambda a, b: a * b, np.multiply, lambda a, b: np.broadcast_to(b, np.broadcast_shapes(a.shape, b.shape)),
            lambda a, b: np.broadcast_to(a, np.broadcast_shapes(a.shape, b.shape))),
    "div": (lambda a, b: a / b, np.divide, lambda a, b: np.ones_like(a) / b, lambda a, b: -a / b ** 2),
}

DTYPES = {"f32": (gc.float32, np.float32, 1e-5), "f64": (gc.float64, np.float64, 1e-12)}


def operands(seed: int, sa: Shape, sb: Shape, np_dtype: Any) -> Tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(sa).astype(np_dtype)
    # b is also a divisor: keep it away from 0
    b = (rng.uniform(0.5, 2.0, sb) * rng.choice([-1.0, 1.0], sb)).astype(np_dtype)
    return np.asarray(a), np.asarray(b)


@SETTINGS
@given(
    shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, min_side=1, max_side=4),
    op=st.sampled_from(sorted(OPS)),
    dname=st.sampled_from(sorted(DTYPES)),
    seed=st.integers(0, 2 ** 32 - 1),
)
def test_broadcast_forward_and_backward_of_sum(shapes: Any, op: str, dname: str, seed: int) -> None:
    sa, sb = shapes.input_shapes
    dtype, np_dtype, rtol = DTYPES[dname]
    a, b = operands(seed, sa, sb, np_dtype)
    fn, np_fn, da, db = OPS[op]
    ta = gc.tensor(a, dtype=dtype, requires_grad=True)
    tb = gc.tensor(b, dtype=dtype, requires_grad=True)
    y = fn(ta, tb)
    ref = np_fn(a.astype(np.float64), b.astype(np.float64))
    assert y.shape == shapes.result_shape == ref.shape
    assert y.dtype == dtype
    np.testing.assert_allclose(y.detach().numpy(), ref, rtol=rtol, atol=rtol)

    y.sum().backward()  # upstream gradient: all ones of the broadcast shape
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    up = np.ones(ref.shape)
    assert ta.grad.shape == sa and tb.grad.shape == sb
    np.testing.assert_allclose(ta.grad.detach().numpy(), sum_to(up * da(a64, b64), sa), rtol=10 * rtol, atol=10 * rtol)
    np.testing.assert_allclose(tb.grad.detach().numpy(), sum_to(up * db(a64, b64), sb), rtol=10 * rtol, atol=10 * rtol)


@SETTINGS
@given(
    shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, min_side=1, max_side=4),
    op=st.sampled_from(sorted(OPS)),
    seed=st.integers(0, 2 ** 32 - 1),
)
def test_broadcast_backward_with_random_upstream(shapes: Any, op: str, seed: int) -> None:
    sa, sb = shapes.input_shapes
    a, b = operands(seed, sa, sb, np.float64)
    up = np.asarray(np.random.default_rng(seed + 1).standard_normal(shapes.result_shape))
    fn, _, da, db = OPS[op]
    ta = gc.tensor(a, dtype=gc.float64, requires_grad=True)
    tb = gc.tensor(b, dtype=gc.float64, requires_grad=True)
    fn(ta, tb).backward(gc.tensor(up, dtype=gc.float64))
    np.testing.assert_allclose(ta.grad.detach().numpy(), sum_to(up * da(a, b), sa), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(tb.grad.detach().numpy(), sum_to(up * db(a, b), sb), rtol=1e-12, atol=1e-12)


@SETTINGS
@given(
    shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=1, max_dims=3, min_side=0, max_side=3),
    op=st.sampled_from(sorted(OPS)),
)
def test_broadcast_with_zero_sized_dims(shapes: Any, op: str) -> None:
    sa, sb = shapes.input_shapes
    a, b = operands(0, sa, sb, np.float64)
    fn, np_fn, _, _ = OPS[op]
    ta = gc.tensor(a, dtype=gc.float64, requires_grad=True)
    tb = gc.tensor(b, dtype=gc.float64, requires_grad=True)
    y = fn(ta, tb)
    assert y.shape == shapes.result_shape
    np.testing.assert_allclose(y.detach().numpy(), np_fn(a, b), rtol=1e-12)
    y.sum().backward()
    assert ta.grad.shape == sa and tb.grad.shape == sb
    # every element of an operand feeds (#elements of the output) / (#elements of it) outputs,
    # which is 0 when the output is empty, so its gradient is then all zeros
    if y.numel() == 0:
        assert not np.any(ta.grad.detach().numpy()) and not np.any(tb.grad.detach().numpy())


@st.composite
def incompatible_shapes(draw: Any) -> Tuple[Shape, Shape]:
    na, nb = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    sa = list(draw(hnp.array_shapes(min_dims=na, max_dims=na, min_side=1, max_side=4)))
    sb = list(draw(hnp.array_shapes(min_dims=nb, max_dims=nb, min_side=1, max_side=4)))
    k = draw(st.integers(1, min(na, nb)))  # an axis both have, counted from the right
    x, y = draw(st.sampled_from([(2, 3), (3, 2), (2, 4), (4, 3), (3, 4), (0, 2), (5, 0)]))
    sa[-k], sb[-k] = x, y
    return tuple(sa), tuple(sb)


def _shape_text(s: Shape) -> str:
    return re.escape(str(tuple(s)))


@SETTINGS
@given(shapes=incompatible_shapes(), op=st.sampled_from(sorted(OPS)))
def test_incompatible_shapes_raise_value_error(shapes: Tuple[Shape, Shape], op: str) -> None:
    sa, sb = shapes
    try:
        np.broadcast_shapes(sa, sb)
    except ValueError:
        pass
    else:  # pragma: no cover - the strategy only builds incompatible pairs
        raise AssertionError(f"{sa} and {sb} are compatible")
    fn = OPS[op][0]
    ta, tb = gc.zeros(*sa), gc.zeros(*sb)
    try:
        fn(ta, tb)
    except ValueError as e:
        assert re.search(_shape_text(sa) + ".*" + _shape_text(sb), str(e)), str(e)
    else:
        raise AssertionError(f"{op}{sa, sb} did not raise")
