"""Fuzzing: Hypothesis property tests against float64 references, and garbage input.

* ``test_broadcast_binary_*``: random broadcast-compatible shape pairs (0-size and 1-size
  dims included), both dtypes, + - * /, under every ISA the machine supports (``isa``):
  values against NumPy in float64 and the gradients of
  ``sum(out * upstream)`` against the NumPy formulas (upstream times the local derivative,
  summed over the broadcast dimensions), with NaN/Inf sprinkled into some inputs;
* ``test_unary_and_reductions_random_shapes``: unary ops, sum/mean/amax(dim, keepdim) and
  softmax/log_softmax on random shapes with 0-size and 1-size dims, gradients from formulas
  (every ISA);
* ``test_random_graph_*``: random op graphs of depth up to 30 drawn from the op table
  (unary, broadcasting binary, reductions, reshape/transpose/permute, matmul when shapes
  fit, softmax/log_softmax), evaluated in gradcore float64 and replayed in NumPy (every
  node's value) and in PyTorch (values and the gradient of every leaf);
* ``test_garbage_*``: thousands of deterministic garbage calls to every public entry point
  (factories, ops, Tensor methods and operators, nn, losses, optimizers and their state
  dicts, schedulers, autograd, save/load of corrupted files, DataLoader, backend knobs) in a
  separate process: each must return or raise an ``Exception`` (calls that are plainly
  invalid must raise); a crash shows up as a non-zero exit status, a hang as a timeout.
  After a crash the run goes on from the next call, so one run lists every crash;
* ``test_none_or_missing_tensor_arguments_raise_not_crash``: None where the C++ core takes a
  Tensor, one forked child per call;
* ``test_absurd_thread_count_raises_or_works``: a pool that cannot start its threads must
  not hang; ``test_out_of_range_float_arguments_give_truthful_errors``: no wrapped int64.

Every property test counts the examples it ran and checks the count (printed; run with
``-s`` to see it).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import warnings
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gradcore as gc

Shape = Tuple[int, ...]

SETTINGS = dict(deadline=None, database=None, derandomize=False,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.filter_too_much])

COUNTS: Dict[str, int] = {}


def _report(name: str, n: int, minimum: int) -> None:
    COUNTS[name] = n
    print(f"[fuzz] {name}: {n} examples")
    assert n >= minimum, f"{name}: only {n} examples ran (expected >= {minimum})"


# ---- NumPy references --------------------------------------------------------------------

def np_sigmoid(x: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def np_log_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    m = np.max(x, axis=axis, keepdims=True)
    return x - m - np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))


def np_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    return np.exp(np_log_softmax(x, axis))


def sum_to(g: np.ndarray, shape: Shape) -> np.ndarray:
    """The adjoint of np.broadcast_to: sum ``g`` back down to ``shape``."""
    lead = g.ndim - len(shape)
    g = g.sum(axis=tuple(range(lead)))
    axes = tuple(i for i, s in enumerate(shape) if s == 1 and g.shape[i] != 1)
    return g.sum(axis=axes, keepdims=True).reshape(shape)


DTYPES = {"f32": (gc.float32, np.float32), "f64": (gc.float64, np.float64)}


# ========================================================================================
# 1. broadcasting + - * / on random shapes (0-size and 1-size dims), both dtypes
# ========================================================================================

BIN = {
    # name: (gradcore op, numpy op, d/da, d/db) -- local derivatives as float64 NumPy formulas,
    # broadcast to the output shape `s`
    "add": (lambda a, b: a + b, np.add, lambda a, b, s: np.ones(s), lambda a, b, s: np.ones(s)),
    "sub": (lambda a, b: a - b, np.subtract, lambda a, b, s: np.ones(s), lambda a, b, s: -np.ones(s)),
    "mul": (lambda a, b: a * b, np.multiply, lambda a, b, s: np.broadcast_to(b, s),
            lambda a, b, s: np.broadcast_to(a, s)),
    "div": (lambda a, b: a / b, np.divide, lambda a, b, s: np.broadcast_to(1.0 / b, s),
            lambda a, b, s: np.broadcast_to(-a / (b * b), s)),
}


def _operands(seed: int, sa: Shape, sb: Shape, np_dtype: Any, special: bool) -> Tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(sa) * rng.choice([1e-3, 1.0, 1e3])
    b = rng.uniform(0.5, 2.0, sb) * rng.choice([-1.0, 1.0], sb)  # a divisor: away from 0
    if special and a.size:
        flat = a.reshape(-1)
        k = rng.integers(1, flat.size + 1)
        flat[rng.choice(flat.size, size=k, replace=False)] = rng.choice([np.nan, np.inf, -np.inf, -0.0], size=k)
    return np.asarray(a.astype(np_dtype)), np.asarray(b.astype(np_dtype))


@pytest.mark.parametrize("op", sorted(BIN))
def test_broadcast_binary_values_and_grads(op: str, isa: str) -> None:
    gc_fn, np_fn, da, db = BIN[op]
    n = [0]

    @settings(max_examples=100, **SETTINGS)
    @given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, min_side=0, max_side=4),
           dname=st.sampled_from(sorted(DTYPES)), seed=st.integers(0, 2 ** 32 - 1),
           special=st.booleans(), swap=st.booleans())
    def check(shapes: Any, dname: str, seed: int, special: bool, swap: bool) -> None:
        n[0] += 1
        dtype, np_dtype = DTYPES[dname]
        sa, sb = shapes.input_shapes
        a, b = _operands(seed, sa, sb, np_dtype, special)
        if swap and op != "div":  # the special values go to either side (never into a divisor)
            a, b, sa, sb = b, a, sb, sa
        a64, b64 = a.astype(np.float64), b.astype(np.float64)
        with np.errstate(all="ignore"):
            ref = np_fn(a64, b64)
        ta = gc.tensor(a, dtype=dtype, requires_grad=True)
        tb = gc.tensor(b, dtype=dtype, requires_grad=True)
        out = gc_fn(ta, tb)
        assert out.dtype == dtype and out.shape == shapes.result_shape == ref.shape
        rtol, atol = (2e-6, 1e-6) if dname == "f32" else (1e-13, 1e-13)
        scale = float(np.max(np.abs(ref[np.isfinite(ref)]), initial=1.0))
        np.testing.assert_allclose(out.detach().numpy(), ref, rtol=rtol, atol=atol * scale,
                                   err_msg=f"{op} {sa} {sb} {dname} forward")

        rng = np.random.default_rng(seed + 1)
        g = np.asarray(rng.standard_normal(ref.shape).astype(np_dtype))
        out.backward(gc.tensor(g, dtype=dtype))
        g64 = g.astype(np.float64)
        with np.errstate(all="ignore"):
            ga = sum_to(g64 * da(a64, b64, ref.shape), sa)
            gb = sum_to(g64 * db(a64, b64, ref.shape), sb)
        grtol, gatol = (2e-5, 2e-5) if dname == "f32" else (1e-11, 1e-11)
        for name, t, want in (("a", ta, ga), ("b", tb, gb)):
            assert t.grad is not None and t.grad.shape == t.shape and t.grad.dtype == dtype
            got = t.grad.detach().numpy()
            fin = np.isfinite(want)
            terms = max(1, int(np.prod(ref.shape)) // max(1, want.size))  # summed per gradient entry
            gscale = float(np.max(np.abs(want[fin]), initial=1.0)) * terms
            np.testing.assert_allclose(got, want, rtol=grtol, atol=gatol * gscale,
                                       err_msg=f"{op} d/d{name} {sa} {sb} {dname} special={special}")

    check()
    _report(f"broadcast_{op}_{isa}", n[0], 60)


def test_broadcast_incompatible_pairs_raise() -> None:
    n = [0]

    @settings(max_examples=150, **SETTINGS)
    @given(sa=hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=5),
           sb=hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=5),
           op=st.sampled_from(sorted(BIN)))
    def check(sa: Shape, sb: Shape, op: str) -> None:
        try:
            np.broadcast_shapes(sa, sb)
            return
        except ValueError:
            pass
        n[0] += 1
        with pytest.raises(ValueError, match=op):
            BIN[op][0](gc.zeros(*sa), gc.ones(*sb))

    check()
    _report("broadcast_incompatible", n[0], 20)


# ========================================================================================
# 2. unary ops and reductions on random shapes with 0-size and 1-size dims
# ========================================================================================

UNARY = {
    # name: (gradcore, numpy value, numpy derivative given (x, y), domain)
    "neg": (lambda x: -x, np.negative, lambda x, y: -np.ones_like(x), "any"),
    "exp": (lambda x: x.exp(), np.exp, lambda x, y: y, "any"),
    "tanh": (lambda x: x.tanh(), np.tanh, lambda x, y: 1.0 - y * y, "any"),
    "sigmoid": (lambda x: x.sigmoid(), np_sigmoid, lambda x, y: y * (1.0 - y), "any"),
    "relu": (lambda x: x.relu(), lambda x: np.maximum(x, 0.0), lambda x, y: (x > 0).astype(np.float64), "away0"),
    "abs": (lambda x: abs(x), np.abs, lambda x, y: np.sign(x), "away0"),
    "sqrt": (lambda x: x.sqrt(), np.sqrt, lambda x, y: 0.5 / y, "pos"),
    "log": (lambda x: gc.log(x), np.log, lambda x, y: 1.0 / x, "pos"),
}


def _draw_input(rng: np.random.Generator, shape: Shape, domain: str) -> np.ndarray:
    if domain == "pos":
        return rng.uniform(0.3, 3.0, shape)
    if domain == "away0":
        return rng.uniform(0.1, 2.0, shape) * rng.choice([-1.0, 1.0], shape)
    if domain == "distinct":
        n = int(np.prod(shape))
        return ((rng.permutation(n) - n / 2) * 0.25 + 0.125).reshape(shape)
    return rng.standard_normal(shape)


@st.composite
def dims_for(draw: Any, ndim: int) -> Any:
    """None, one dim (maybe negative) or a tuple of distinct dims."""
    if ndim == 0:
        return None
    kind = draw(st.sampled_from(["none", "int", "tuple"]))
    if kind == "none":
        return None
    if kind == "int":
        return draw(st.integers(-ndim, ndim - 1))
    return tuple(draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True)))


def _axes(dim: Any, ndim: int) -> Tuple[int, ...]:
    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, int):
        return (dim % ndim,)
    return tuple(d % ndim for d in dim)


def test_unary_and_reductions_random_shapes(isa: str) -> None:
    n = [0]
    kinds = sorted(UNARY) + ["sum", "mean", "max", "softmax", "log_softmax"]

    @settings(max_examples=300, **SETTINGS)
    @given(shape=hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4),
           kind=st.sampled_from(kinds), dname=st.sampled_from(sorted(DTYPES)),
           seed=st.integers(0, 2 ** 32 - 1), data=st.data())
    def check(shape: Shape, kind: str, dname: str, seed: int, data: Any) -> None:
        n[0] += 1
        dtype, np_dtype = DTYPES[dname]
        rng = np.random.default_rng(seed)
        ndim = len(shape)
        rtol, atol = (5e-6, 2e-6) if dname == "f32" else (1e-12, 1e-13)
        if kind in UNARY:
            gc_fn, np_fn, deriv, domain = UNARY[kind]
            x = np.asarray(_draw_input(rng, shape, domain).astype(np_dtype))
            t = gc.tensor(x, dtype=dtype, requires_grad=True)
            out = gc_fn(t)
            x64 = x.astype(np.float64)
            ref = np_fn(x64)
            g = np.asarray(rng.standard_normal(shape).astype(np_dtype))
            want_grad = g.astype(np.float64) * deriv(x64, ref)
        elif kind in ("sum", "mean", "max"):
            dim = data.draw(dims_for(ndim), label="dim")
            keepdim = data.draw(st.booleans(), label="keepdim")
            axes = _axes(dim, ndim)
            x = np.asarray(_draw_input(rng, shape, "distinct" if kind == "max" else "any").astype(np_dtype))
            t = gc.tensor(x, dtype=dtype, requires_grad=True)
            kw: Dict[str, Any] = {"keepdim": keepdim}
            if dim is not None:
                kw["dim"] = dim
            x64 = x.astype(np.float64)
            if kind == "max" and any(shape[a] == 0 for a in axes):
                with pytest.raises((IndexError, RuntimeError)):  # NumPy raises too: max of nothing (PyTorch's types)
                    t.amax(**kw)
                return
            out = getattr(t, "amax" if kind == "max" else kind)(**kw)
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")  # mean of an empty slice: nan, like NumPy
                ref = getattr(x64, kind)(axis=axes, keepdims=keepdim)
            ref = np.asarray(ref)
            g = np.asarray(rng.standard_normal(ref.shape).astype(np_dtype))
            kshape = tuple(1 if i in axes else side for i, side in enumerate(shape))
            gk = g.astype(np.float64).reshape(kshape)
            if kind == "sum":
                want_grad = np.broadcast_to(gk, shape).copy()
            elif kind == "mean":
                count = int(np.prod([shape[a] for a in axes]))
                want_grad = np.broadcast_to(gk / max(count, 1), shape).copy()
            else:
                want_grad = np.where(x64 == np.max(x64, axis=axes, keepdims=True), gk, 0.0)
        else:  # softmax / log_softmax
            if ndim == 0:
                shape, ndim = (3,), 1
            d = data.draw(st.integers(-ndim, ndim - 1), label="softmax dim")
            x = np.asarray(_draw_input(rng, shape, "any").astype(np_dtype) * 3)
            t = gc.tensor(x, dtype=dtype, requires_grad=True)
            out = getattr(gc, kind)(t, d)
            x64 = x.astype(np.float64)
            if x64.size == 0:
                ref = x64.copy()
            else:
                ref = (np_softmax if kind == "softmax" else np_log_softmax)(x64, d)
            g = np.asarray(rng.standard_normal(shape).astype(np_dtype))
            g64 = g.astype(np.float64)
            if x64.size == 0:
                want_grad = g64
            elif kind == "softmax":
                want_grad = ref * (g64 - np.sum(g64 * ref, axis=d, keepdims=True))
            else:
                want_grad = g64 - np.exp(ref) * np.sum(g64, axis=d, keepdims=True)
        assert out.shape == ref.shape, f"{kind} {shape}: {out.shape} != {ref.shape}"
        assert out.dtype == dtype
        scale = float(np.max(np.abs(ref[np.isfinite(ref)]), initial=1.0))
        np.testing.assert_allclose(out.detach().numpy(), ref, rtol=rtol, atol=atol * scale, err_msg=f"{kind} {shape} {dname}")
        out.backward(gc.tensor(g, dtype=dtype))
        assert t.grad is not None and t.grad.shape == t.shape
        gscale = float(np.max(np.abs(want_grad), initial=1.0))
        grtol, gatol = (2e-5, 2e-5) if dname == "f32" else (1e-11, 1e-12)
        np.testing.assert_allclose(t.grad.detach().numpy(), want_grad, rtol=grtol, atol=gatol * gscale,
                                   err_msg=f"grad of {kind} {shape} {dname}")

    check()
    _report(f"unary_and_reductions_{isa}", n[0], 200)


# ========================================================================================
# 3. random op graphs, depth up to 30, float64, NumPy and PyTorch references
# ========================================================================================

GRAPH_OPS = ["neg", "tanh", "sigmoid", "relu", "abs", "exp", "log", "sqrt",
             "add", "sub", "mul", "div", "scalar", "sum", "mean", "max",
             "reshape", "transpose", "permute", "matmul", "softmax", "log_softmax", "branch"]
MAX_NUMEL = 192
BOUND = 16.0  # values above this get squashed by tanh before the next op


def apply_op(lib: str, kind: str, xs: Sequence[Any], p: Dict[str, Any]) -> Any:
    """One op of the graph, in gradcore ("gc"), NumPy ("np") or PyTorch ("torch")."""
    x = xs[0]
    T = None
    if lib == "torch":
        import torch as T  # noqa: N812
    if kind == "neg":
        return -x
    if kind in ("tanh", "exp", "log", "sqrt"):
        if lib == "gc":
            return getattr(x, kind)()
        return getattr(np if lib == "np" else T, kind)(x)
    if kind == "sigmoid":
        return x.sigmoid() if lib == "gc" else (np_sigmoid(x) if lib == "np" else T.sigmoid(x))
    if kind == "relu":
        return x.relu() if lib == "gc" else (np.maximum(x, 0.0) if lib == "np" else T.relu(x))
    if kind == "abs":
        return abs(x)
    if kind == "square":
        return x * x
    if kind == "add":
        return x + xs[1]
    if kind == "sub":
        return x - xs[1]
    if kind == "mul":
        return x * xs[1]
    if kind == "div":
        return x / xs[1]
    if kind == "scalar":
        c, form = p["c"], p["form"]
        return {"x+c": lambda: x + c, "c+x": lambda: c + x, "x-c": lambda: x - c, "c-x": lambda: c - x,
                "x*c": lambda: x * c, "c*x": lambda: c * x, "x/c": lambda: x / c, "c/x": lambda: c / x}[form]()
    if kind in ("sum", "mean", "max"):
        dim, keep = p["dim"], p["keepdim"]
        if lib == "gc":
            kw: Dict[str, Any] = {"keepdim": keep}
            if dim is not None:
                kw["dim"] = dim
            return getattr(x, "amax" if kind == "max" else kind)(**kw)
        if lib == "np":
            return np.asarray(getattr(x, kind)(axis=dim, keepdims=keep))
        tdim = tuple(range(x.dim())) if dim is None else dim
        if kind == "max":
            return T.amax(x, dim=tdim, keepdim=keep) if x.dim() else x.clone()
        if x.dim() == 0:
            return x * 1.0
        return getattr(x, kind)(dim=tdim, keepdim=keep)
    if kind == "reshape":
        return x.reshape(p["shape"])
    if kind == "transpose":
        a, b = p["dims"]
        return np.swapaxes(x, a, b) if lib == "np" else x.transpose(a, b)
    if kind == "permute":
        return np.transpose(x, p["perm"]) if lib == "np" else x.permute(*p["perm"])
    if kind == "matmul":
        return x @ xs[1]
    if kind in ("softmax", "log_softmax"):
        d = p["dim"]
        if lib == "gc":
            return getattr(gc, kind)(x, d)
        if lib == "np":
            return (np_softmax if kind == "softmax" else np_log_softmax)(x, d)
        return getattr(T, kind)(x, d)
    raise AssertionError(kind)


class Graph:
    """Nodes in creation order: ("leaf", (), {"i": k}) or (kind, input node ids, params)."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.nodes: List[Tuple[str, Tuple[int, ...], Dict[str, Any]]] = []
        self.leaves: List[np.ndarray] = []
        self.values: List[Any] = []  # gradcore tensors

    def shape(self, i: int) -> Shape:
        return tuple(self.values[i].shape)

    def leaf(self, shape: Shape) -> int:
        arr = self.rng.standard_normal(shape)
        self.leaves.append(np.asarray(arr))
        self.nodes.append(("leaf", (), {"i": len(self.leaves) - 1}))
        self.values.append(gc.tensor(arr, dtype=gc.float64, requires_grad=True))
        return len(self.nodes) - 1

    def push(self, kind: str, ins: Tuple[int, ...], p: Optional[Dict[str, Any]] = None) -> int:
        p = p or {}
        out = apply_op("gc", kind, [self.values[i] for i in ins], p)
        assert out.dtype == gc.float64 and out.requires_grad, (kind, p)
        self.nodes.append((kind, ins, p))
        self.values.append(out)
        return len(self.nodes) - 1

    def np_value(self, i: int) -> np.ndarray:
        return self.values[i].detach().numpy()


def _divisors(n: int) -> List[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def _safe_positive(g: Graph, i: int, lo: float) -> int:
    """Node i itself when all its values exceed lo, else i*i + 0.5 (positive-ensured)."""
    v = g.np_value(i)
    if v.size and float(v.min()) > lo:
        return i
    sq = g.push("square", (i,))
    return g.push("scalar", (sq,), {"c": 0.5, "form": "x+c"})


def _safe_divisor(g: Graph, i: int) -> int:
    v = g.np_value(i)
    if v.size and float(np.abs(v).min()) > 0.25:
        return i
    return _safe_positive(g, i, np.inf)


def _near_kink(v: np.ndarray) -> bool:
    a = np.abs(v)
    return bool(np.any((a > 0) & (a < 1e-6)))


def _max_has_near_ties(v: np.ndarray, dim: Any) -> bool:
    axes = _axes(dim, v.ndim) if v.ndim else ()
    if not axes:
        return False
    rest = [a for a in range(v.ndim) if a not in axes]
    m = np.transpose(v, rest + list(axes)).reshape(int(np.prod([v.shape[a] for a in rest])), -1)
    if m.shape[1] < 2:
        return False
    s = np.sort(m, axis=1)
    return bool(np.any(s[:, -1] - s[:, -2] <= 1e-6 * (1.0 + np.abs(s[:, -1]))))


def _compatible_shape(draw: Callable[..., Any], shape: Shape) -> Shape:
    """A shape that broadcasts with ``shape``: drop leading dims, set some dims to 1, maybe add one."""
    nd = len(shape)
    keep = draw(st.integers(0, nd), "kept trailing dims")
    out = [s if draw(st.booleans(), "keep size") else 1 for s in shape[nd - keep:]]
    if draw(st.integers(0, 4), "extra lead") == 0 and len(shape) < 4:
        lead = draw(st.integers(1, 3), "lead size")
        if lead * max(1, int(np.prod(shape))) <= MAX_NUMEL:
            out = [lead] + ([1] * (nd - keep)) + out
    return tuple(out)


def build_graph(data: Any) -> Tuple[Graph, int, int]:
    """Draw a random graph; returns (graph, output node id, depth requested)."""
    def draw(strategy: Any, label: str) -> Any:
        return data.draw(strategy, label=label)

    seed = draw(st.integers(0, 2 ** 32 - 1), "seed")
    g = Graph(np.random.default_rng(seed))
    depth = draw(st.integers(1, 30), "depth")
    shape_st = st.lists(st.integers(1, 4), min_size=0, max_size=3).map(tuple)
    for _ in range(draw(st.integers(1, 3), "initial leaves")):
        cur = g.leaf(draw(shape_st, "leaf shape"))
    for _ in range(depth):
        v = g.np_value(cur)
        shape = g.shape(cur)
        nd = len(shape)
        if v.size and float(np.abs(v).max()) > BOUND:
            cur = g.push("tanh", (cur,))
            continue
        kind = draw(st.sampled_from(GRAPH_OPS), "op")
        if kind in ("relu", "abs") and _near_kink(v):
            kind = "tanh"
        if kind in ("neg", "tanh", "sigmoid", "relu", "abs"):
            cur = g.push(kind, (cur,))
        elif kind == "exp":
            if v.size and float(v.max()) > 2.5:  # clip: squash first, then exp <= e
                cur = g.push("tanh", (cur,))
            cur = g.push("exp", (cur,))
        elif kind in ("log", "sqrt"):
            cur = g.push(kind, (_safe_positive(g, cur, 0.2),))
        elif kind in ("add", "sub", "mul", "div"):
            pool = [i for i in range(len(g.nodes)) if i != cur and
                    _broadcastable(g.shape(i), shape, MAX_NUMEL)]
            if pool and draw(st.booleans(), "reuse a node"):
                other = draw(st.sampled_from(pool), "other node")
            else:
                other = g.leaf(_compatible_shape(draw, shape))
            a, b = (other, cur) if draw(st.booleans(), "swap") else (cur, other)
            if kind == "div":
                b = _safe_divisor(g, b)
            cur = g.push(kind, (a, b))
        elif kind == "scalar":
            form = draw(st.sampled_from(["x+c", "c+x", "x-c", "c-x", "x*c", "c*x", "x/c", "c/x"]), "form")
            c = draw(st.sampled_from([-2.0, -0.5, 0.75, 1.5, 3.0]), "c")
            if form == "c/x":
                cur = _safe_divisor(g, cur)
            cur = g.push("scalar", (cur,), {"c": c, "form": form})
        elif kind in ("sum", "mean", "max"):
            dim = draw(dims_for(nd), "dim")
            keep = draw(st.booleans(), "keepdim") if nd else False
            if kind == "max" and _max_has_near_ties(v, dim):
                kind = "sum"
            cur = g.push(kind, (cur,), {"dim": dim, "keepdim": keep})
        elif kind == "reshape":
            numel = int(np.prod(shape))
            new: List[int] = []
            left = numel
            for _ in range(draw(st.integers(0, 3), "reshape ndim")):
                d = draw(st.sampled_from(_divisors(left)), "reshape dim")
                new.append(d)
                left //= d
            if left != 1 or not new:
                new.append(left)
            if draw(st.booleans(), "use -1"):
                new[draw(st.integers(0, len(new) - 1), "-1 at")] = -1
            cur = g.push("reshape", (cur,), {"shape": tuple(new)})
        elif kind == "transpose" and nd >= 2:
            dims = (draw(st.integers(-nd, nd - 1), "t0"), draw(st.integers(-nd, nd - 1), "t1"))
            cur = g.push("transpose", (cur,), {"dims": dims})
        elif kind == "permute" and nd >= 2:
            perm = tuple(draw(st.permutations(list(range(nd))), "perm"))
            cur = g.push("permute", (cur,), {"perm": perm})
        elif kind == "matmul" and nd >= 1 and int(np.prod(shape)) <= MAX_NUMEL:
            k = shape[-1]
            if draw(st.booleans(), "cur on the right") and nd <= 2:
                k = shape[0]
                cands = [i for i in range(len(g.nodes)) if i != cur and 1 <= len(g.shape(i)) <= 3
                         and g.shape(i)[-1] == k]
                left = draw(st.sampled_from(cands), "left") if cands and draw(st.booleans(), "reuse") else \
                    g.leaf(tuple(draw(st.lists(st.integers(1, 4), max_size=2), "left lead")) + (k,))
                cur = g.push("matmul", (left, cur))
            else:
                cands = [i for i in range(len(g.nodes)) if i != cur and 1 <= len(g.shape(i)) <= 2
                         and g.shape(i)[0] == k]
                right = draw(st.sampled_from(cands), "right") if cands and draw(st.booleans(), "reuse") else \
                    g.leaf((k,) + tuple(draw(st.lists(st.integers(1, 4), max_size=1), "right n")))
                cur = g.push("matmul", (cur, right))
        elif kind in ("softmax", "log_softmax") and nd >= 1:
            cur = g.push(kind, (cur,), {"dim": draw(st.integers(-nd, nd - 1), "softmax dim")})
        elif kind == "branch" and len(g.nodes) > 1:
            cur = draw(st.sampled_from(range(len(g.nodes))), "branch to")  # a dead end stays behind
        else:
            cur = g.push("sigmoid", (cur,))
    return g, cur, depth


def _broadcastable(a: Shape, b: Shape, limit: int) -> bool:
    try:
        s = np.broadcast_shapes(a, b)
    except ValueError:
        return False
    return int(np.prod(s)) <= limit


def _replay_np(g: Graph) -> List[np.ndarray]:
    vals: List[np.ndarray] = []
    for kind, ins, p in g.nodes:
        if kind == "leaf":
            vals.append(g.leaves[p["i"]])
        else:
            vals.append(np.asarray(apply_op("np", kind, [vals[i] for i in ins], p)))
    return vals


OP_COUNTS: Dict[str, int] = {}
GRAPH_STATS = {"nodes": 0, "max_nodes": 0, "leaves": 0, "graphs": 0}  # over the values test's examples


def test_random_graph_values_vs_numpy() -> None:
    n = [0]

    @settings(max_examples=500, **SETTINGS)
    @given(data=st.data())
    def check(data: Any) -> None:
        n[0] += 1
        g, out, _ = build_graph(data)
        GRAPH_STATS["graphs"] += 1
        GRAPH_STATS["nodes"] += len(g.nodes)
        GRAPH_STATS["leaves"] += len(g.leaves)
        for node in g.nodes:
            OP_COUNTS[node[0]] = OP_COUNTS.get(node[0], 0) + 1
        GRAPH_STATS["max_nodes"] = max(GRAPH_STATS["max_nodes"], len(g.nodes))
        ref = _replay_np(g)
        for i, (node, want) in enumerate(zip(g.nodes, ref)):
            got = g.values[i]
            assert got.shape == want.shape, f"node {i} {node}: shape {got.shape} != {want.shape}"
            np.testing.assert_allclose(got.detach().numpy(), want, rtol=1e-9, atol=1e-10,
                                       err_msg=f"node {i} {node[0]} {node[2]} of {len(g.nodes)}")
        # and the backward pass runs and yields finite gradients of the right shapes
        o = g.values[out]
        o.backward(gc.ones_like(o))
        for i, (kind, _, _) in enumerate(g.nodes):
            if kind == "leaf" and g.values[i].grad is not None:
                gr = g.values[i].grad
                assert gr.shape == g.values[i].shape and np.all(np.isfinite(gr.detach().numpy()))

    check()
    _report("graph_values", n[0], 300)
    print(f"[fuzz] graph nodes: {GRAPH_STATS}; by op: {dict(sorted(OP_COUNTS.items()))}")
    # every op of the table was exercised
    assert all(OP_COUNTS.get(k, 0) > 0 for k in GRAPH_OPS if k not in ("branch", "scalar")), OP_COUNTS


def test_random_graph_gradients_vs_torch() -> None:
    torch = pytest.importorskip("torch")
    n = [0]
    depths: List[int] = []

    @settings(max_examples=500, **SETTINGS)
    @given(data=st.data())
    def check(data: Any) -> None:
        n[0] += 1
        g, out, depth = build_graph(data)
        depths.append(depth)
        tvals: List[Any] = []
        tleaves: List[Any] = []
        for kind, ins, p in g.nodes:
            if kind == "leaf":
                t = torch.tensor(g.leaves[p["i"]], dtype=torch.float64, requires_grad=True)
                tleaves.append(t)
                tvals.append(t)
            else:
                tvals.append(apply_op("torch", kind, [tvals[i] for i in ins], p))
        o, to = g.values[out], tvals[out]
        assert tuple(to.shape) == o.shape
        np.testing.assert_allclose(o.detach().numpy(), to.detach().numpy(), rtol=1e-9, atol=1e-10)
        upstream = g.rng.standard_normal(o.shape)
        o.backward(gc.tensor(upstream, dtype=gc.float64))
        to.backward(torch.tensor(upstream, dtype=torch.float64))
        leaf_ids = [i for i, node in enumerate(g.nodes) if node[0] == "leaf"]
        for k, i in enumerate(leaf_ids):
            mine, theirs = g.values[i].grad, tleaves[k].grad
            if theirs is None:
                assert mine is None or not np.any(mine.detach().numpy()), f"leaf {k}: gradcore grad but torch none"
                continue
            assert mine is not None, f"leaf {k} (node {i}) got no gradient; torch has one"
            want = theirs.detach().numpy()
            scale = float(np.max(np.abs(want), initial=1.0))
            np.testing.assert_allclose(mine.detach().numpy(), want, rtol=1e-8, atol=1e-9 * scale,
                                       err_msg=f"d/d(leaf {k}) of a graph of {len(g.nodes)} nodes: "
                                               f"{[(nd[0], nd[1]) for nd in g.nodes]}")

    check()
    _report("graph_gradients", n[0], 300)
    print(f"[fuzz] graph depths: max {max(depths)}, >=20: {sum(d >= 20 for d in depths)}")
    assert max(depths) >= 20


# ========================================================================================
# 4. garbage to every public entry point, in a separate process
# ========================================================================================

GARBAGE_SCRIPT = textwrap.dedent(
    r'''
    import io, json, math, os, random, sys, tempfile, warnings
    import numpy as np
    import gradcore as gc
    import gradcore.nn as nn
    import gradcore.nn.functional as F
    from gradcore.optim import lr_scheduler
    from gradcore.nn import init, utils

    # MODE "random": N random (mutated) calls; "sweep": every entry point x every argument
    # slot x every value of NASTY(). Runs calls START..N-1 (N is capped at the sweep length).
    MODE, SEED, START, N = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    R = random.Random(SEED)
    TMP = tempfile.mkdtemp(prefix="gc_garbage_", dir=os.getcwd())  # the test's tmp_path
    THREADS = gc.get_num_threads()
    ISA = gc.backend_info()["isa"]
    warnings.simplefilter("ignore")
    TRACE = open(os.environ.get("GC_FUZZ_TRACE", os.devnull), "w")
    stats = {"calls": 0, "returned": 0, "raised": 0, "must_raise": 0, "types": {}}
    violations = []

    class Evil:
        def __float__(self): raise ZeroDivisionError("float")
        def __index__(self): raise ZeroDivisionError("index")
        def __int__(self): raise ZeroDivisionError("int")
        def __len__(self): raise ZeroDivisionError("len")
        def __iter__(self): raise ZeroDivisionError("iter")
        def __array__(self, *a, **k): raise ZeroDivisionError("array")
        def __getitem__(self, i): raise ZeroDivisionError("getitem")

    class Liar:  # claims 3 items, has 1
        def __len__(self): return 3
        def __getitem__(self, i):
            if i == 0: return 1.0
            raise IndexError(i)

    class HugeLen:
        def __len__(self): return 2 ** 62
        def __getitem__(self, i): return 0.0

    class IndexLike:
        def __init__(self, v): self.v = v
        def __index__(self): return self.v

    def selfref():
        l = [1.0]
        l.append(l)
        return l

    def deep(n):
        x = 1.0
        for _ in range(n):
            x = [x]
        return x

    def arrays():
        buf = bytearray(4 * 17 + 1)
        return [
            np.zeros((2, 3), np.float32), np.ones(3), np.array(np.nan), np.full((2, 2), np.inf, np.float32),
            np.zeros((0, 3), np.float32), np.arange(6).reshape(2, 3), np.arange(4, dtype=np.int32),
            np.array([2 ** 63 - 1, -2 ** 63]), np.zeros(3, np.uint8), np.array([True, False]),
            np.zeros(2, np.complex64), np.zeros(2, np.float16), np.array([None, 1.0], dtype=object),
            np.array(["a", "b"]), np.array(["2020-01-01"], dtype="datetime64[D]"),
            np.zeros(2, dtype=[("a", "f4"), ("b", "i4")]), np.zeros((3, 4), order="F"),
            np.zeros((4, 6), np.float32)[:, ::2], np.frombuffer(b"\x00" * 16, dtype=np.float32),
            np.arange(4, dtype=">f4"), np.frombuffer(buf, dtype=np.float32, offset=1, count=17),
            np.array(3.0), np.zeros((1,) * 33), np.zeros((2, 0, 3)), np.full(5, 1e38, np.float32),
            np.array([np.nan, np.inf, -np.inf, 0.0, -0.0]), np.ma.array([1.0, 2.0], mask=[0, 1]),
            np.zeros((2, 3), np.float64).T, np.empty((2, 2)).view(np.int64),
        ]

    def tensors():
        y = gc.randn(3, requires_grad=True)
        used = (y * 2).sum()
        used.backward()
        return [
            gc.zeros(2, 3), gc.randn(3, 2), gc.zeros(0, 3), gc.tensor(float("nan")), gc.full((2, 2), float("inf")),
            gc.randn(4, requires_grad=True), gc.randn(2, 3, dtype=gc.float64, requires_grad=True),
            gc.randn(3, requires_grad=True) * 2, gc.zeros(1, 1, 1), gc.arange(0, 6).reshape(2, 3),
            gc.randn(5, 5), gc.zeros(2 ** 40, 0), gc.zeros(0), gc.tensor(3.0), used, y,
            gc.ones(2, 3, dtype=gc.float64), gc.randn(4, 3), gc.randn(3, 4, requires_grad=True),
            gc.tensor([1.0, 2.0, 3.0]).reshape(3, 1), gc.tensor(np.ones((1,) * 20)),
        ]

    def scalars():
        return [
            None, True, False, 0, 1, -1, 2, 3, -7, 64, 2 ** 40, 2 ** 62, 2 ** 63 - 1, 2 ** 63, -2 ** 63, 2 ** 64,
            10 ** 30, 0.0, -0.0, 0.5, 1.5, -2.5, 1e-300, 5e-324, 1e308, float("nan"), float("inf"),
            float("-inf"), np.float32("nan"), np.int64(-1), np.float64("inf"), np.uint64(2 ** 64 - 1),
            np.int8(3), 1j, "abc", "", "float32", "float64", "mean", "none", "relu", b"\x00\xff", bytearray(b"ab"),
            object(), Ellipsis, slice(1, None, 2), print, type, gc.float32, gc.float64, np.float32, np.int64,
            Evil(), Liar(), HugeLen(), IndexLike(2), IndexLike(-5), IndexLike(2 ** 62),
        ]

    def containers():
        return [
            [], [[]], [1, 2, 3], [[1, 2], [3]], [1, "a"], [math.nan, math.inf, -math.inf], [[1.0] * 3] * 2,
            [2 ** 64], [[[]]], {"a": 1}, {}, set(), (1, 2), (2, 3), (0, 3), (2, -3), (-1,), (-1, -1), (2 ** 40,),
            (2 ** 40, 2 ** 40), (2 ** 62, 4), (0, 2 ** 62), (1.5, 2), ("a",), (None,), [2, 3], [[2]], (1,) * 70,
            (0,) * 70, range(3), range(-1, 2), [None], [gc.zeros(2)], [np.zeros(2)], (x for x in range(3)),
            selfref(), deep(80), deep(20), [0, 1, 2 ** 40], [0, 0, 0, 0], [0, -1], [1, 0], [3, 2, 1, 0],
            [Evil()], [1.0, Evil()], (0, 0), (1, 0), (-1, 0), (0, 1), (0, -1), (1, 2, 0),
        ]

    CATS = [scalars, containers, arrays, tensors]

    def garbage():
        return R.choice(R.choice(CATS)())

    def one(v):  # some garbage or the given value
        return garbage() if R.random() < 0.35 else v

    def small_model():
        return nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))

    # ---- entry points: name -> factory of a VALID call (args, kwargs, fn) -------------
    def t23(): return gc.randn(2, 3, requires_grad=R.random() < 0.5)
    def t34(): return gc.randn(3, 4)

    ENTRY = {
        "tensor": lambda: (gc.tensor, [[[1.0, 2.0]]], {"dtype": gc.float32, "requires_grad": False}),
        "from_numpy": lambda: (gc.from_numpy, [np.zeros((2, 3), np.float32)], {}),
        "zeros": lambda: (gc.zeros, [2, 3], {"dtype": gc.float64}),
        "ones": lambda: (gc.ones, [(2, 3)], {}),
        "full": lambda: (gc.full, [(2, 3), 1.5], {"dtype": gc.float32}),
        "zeros_like": lambda: (gc.zeros_like, [t23()], {}),
        "ones_like": lambda: (gc.ones_like, [t23()], {"dtype": gc.float64}),
        "randn": lambda: (gc.randn, [2, 3], {"requires_grad": True}),
        "rand": lambda: (gc.rand, [4], {"dtype": gc.float64}),
        "arange": lambda: (gc.arange, [0, 5, 1], {}),
        "manual_seed": lambda: (gc.manual_seed, [0], {}),
        "add": lambda: (gc.add, [t23(), t23()], {}),
        "sub": lambda: (gc.sub, [t23(), 1.0], {}),
        "mul": lambda: (gc.mul, [t23(), t23()], {}),
        "div": lambda: (gc.div, [t23(), 2.0], {}),
        "pow": lambda: (gc.pow, [t23(), 2.0], {}),
        "matmul": lambda: (gc.matmul, [t23(), t34()], {}),
        "mm": lambda: (gc.mm, [t23(), t34()], {}),
        "mm_trans": lambda: (gc._core.mm, [t34(), t34()], {"trans_a": True}),
        "neg": lambda: (gc.neg, [t23()], {}), "exp": lambda: (gc.exp, [t23()], {}),
        "log": lambda: (gc.log, [t23()], {}), "sqrt": lambda: (gc.sqrt, [t23()], {}),
        "abs": lambda: (gc.abs, [t23()], {}), "tanh": lambda: (gc.tanh, [t23()], {}),
        "sigmoid": lambda: (gc.sigmoid, [t23()], {}), "relu": lambda: (gc.relu, [t23()], {}),
        "sum": lambda: (gc.sum, [t23()], {"dim": 1, "keepdim": True}),
        "mean": lambda: (gc.mean, [t23()], {"dim": (0, 1)}),
        "max": lambda: (gc.max, [t23()], {"dim": -1}),
        "reshape": lambda: (gc.reshape, [t23(), (3, 2)], {}),
        "transpose": lambda: (gc.transpose, [t23(), 0, 1], {}),
        "permute": lambda: (gc.permute, [t23(), (1, 0)], {}),
        "detach": lambda: (gc.detach, [t23()], {}),
        "softmax": lambda: (gc.softmax, [t23(), 1], {}),
        "log_softmax": lambda: (gc.log_softmax, [t23(), 0], {}),
        "set_num_threads": lambda: (gc.set_num_threads, [R.choice([1, 2])], {}),
        "set_grad_enabled": lambda: (gc._core.set_grad_enabled, [True], {}),
        "F.linear": lambda: (F.linear, [t23(), t34().transpose(0, 1), gc.randn(4)], {"activation": "relu"}),
        "F.cross_entropy": lambda: (F.cross_entropy, [t23(), [0, 2]], {"reduction": "mean", "label_smoothing": 0.1}),
        "F.mse_loss": lambda: (F.mse_loss, [t23(), t23()], {"reduction": "sum"}),
        "F.gelu": lambda: (F.gelu, [t23()], {"approximate": "tanh"}),
        "F.leaky_relu": lambda: (F.leaky_relu, [t23(), 0.1], {}),
        "F.softplus": lambda: (F.softplus, [t23()], {}),
        "F.dropout": lambda: (F.dropout, [t23(), 0.3], {"training": True}),
        "F.flatten": lambda: (F.flatten, [t23(), 0, -1], {}),
        "F.bce": lambda: (F.binary_cross_entropy_with_logits, [t23(), gc.rand(2, 3)], {"reduction": "none"}),
        # issue 15: normalisation and channel dropout
        "F.batch_norm": lambda: (F.batch_norm, [gc.randn(4, 3, 2), gc.zeros(3), gc.ones(3), gc.ones(3), gc.zeros(3)],
                                 {"training": True, "momentum": 0.1, "eps": 1e-5}),
        "F.layer_norm": lambda: (F.layer_norm, [t23(), (3,), gc.ones(3), gc.zeros(3)], {"eps": 1e-5}),
        "F.group_norm": lambda: (F.group_norm, [gc.randn(2, 4, 3), 2, gc.ones(4), gc.zeros(4)], {"eps": 1e-5}),
        "F.rms_norm": lambda: (F.rms_norm, [t23(), (3,), gc.ones(3)], {"eps": None}),
        "F.instance_norm": lambda: (F.instance_norm, [gc.randn(2, 3, 4), gc.zeros(3), gc.ones(3)], {}),
        "F.local_response_norm": lambda: (F.local_response_norm, [gc.randn(2, 4, 3), 3], {"alpha": 1e-4}),
        "F.dropout2d": lambda: (F.dropout2d, [gc.randn(2, 3, 2, 2), 0.3], {"training": True}),
        "F.alpha_dropout": lambda: (F.alpha_dropout, [t23(), 0.3], {"training": True}),
        "nn.BatchNorm1d": lambda: (nn.BatchNorm1d, [3], {"momentum": None, "affine": True}),
        "nn.GroupNorm": lambda: (nn.GroupNorm, [2, 4], {"eps": 1e-5}),
        "nn.LayerNorm": lambda: (nn.LayerNorm, [(2, 3)], {"bias": False}),
        "nn.Linear": lambda: (nn.Linear, [3, 4], {"bias": True}),
        "nn.Sequential": lambda: (nn.Sequential, [nn.Linear(2, 2), nn.ReLU()], {}),
        "nn.Dropout": lambda: (nn.Dropout, [0.5], {}),
        "nn.LeakyReLU": lambda: (nn.LeakyReLU, [0.2], {}),
        "nn.CrossEntropyLoss": lambda: (nn.CrossEntropyLoss, [], {"reduction": "sum"}),
        "init.uniform_": lambda: (init.uniform_, [t34(), -1.0, 1.0], {}),
        "init.normal_": lambda: (init.normal_, [t34(), 0.0, 1.0], {}),
        "init.xavier_uniform_": lambda: (init.xavier_uniform_, [t34()], {"gain": 1.0}),
        "init.kaiming_normal_": lambda: (init.kaiming_normal_, [t34()], {"mode": "fan_out"}),
        "init.constant_": lambda: (init.constant_, [t34(), 0.5], {}),
        "init.calculate_gain": lambda: (init.calculate_gain, ["leaky_relu", 0.2], {}),
        "clip_grad_norm_": lambda: (utils.clip_grad_norm_, [_with_grads(), 1.0], {"norm_type": 2.0}),
        "clip_grad_value_": lambda: (utils.clip_grad_value_, [_with_grads(), 0.5], {}),
        "grad": lambda: _grad_call(),
        "backward": lambda: _backward_call(),
        "gradcheck": lambda: (gc.gradcheck, [lambda a: (a * a).sum(), [gc.randn(2, dtype=gc.float64,
                                                                           requires_grad=True)]], {}),
        "save": lambda: (gc.save, [{"w": gc.zeros(2)}, os.path.join(TMP, "s.safetensors")], {}),
        "load": lambda: (gc.load, [_random_file()], {}),
        "DataLoader": lambda: (_iterate_loader, [TensorDataset(np.zeros((5, 2), np.float32), np.arange(5))],
                               {"batch_size": 2, "shuffle": True}),
        "optimizer": lambda: _optimizer_call(),
        "opt.load_state_dict": lambda: _opt_load_call(),
        "scheduler": lambda: _scheduler_call(),
        "model.load_state_dict": lambda: _model_load_call(),
        "model.to": lambda: (small_model().to, [gc.float64], {}),
        "model.call": lambda: (small_model(), [gc.randn(5, 3)], {}),
        "_set_isa": lambda: (gc._core._set_isa, [ISA], {}),
        "optim_step": lambda: _optim_step_call(),
        "grad_norm": lambda: (gc._core.grad_norm, [_with_grads(), 2.0], {}),
        "scale_grads": lambda: (gc._core.scale_grads, [_with_grads(), 0.5], {}),
        "clamp_grads": lambda: (gc._core.clamp_grads, [_with_grads(), 0.5], {}),
        # the index op family and the issue-11 additions (valid calls; garbage is swapped in)
        "gather": lambda: (gc.gather, [t23(), 1, gc.tensor([[0, 2], [1, 1]])], {}),
        "take_along_dim": lambda: (gc.take_along_dim, [t23(), gc.tensor([[0], [2]])], {"dim": 1}),
        "index_select": lambda: (gc.index_select, [t23(), 1, gc.tensor([2, 0, 2])], {}),
        "scatter": lambda: (gc.scatter, [t23(), 1, gc.tensor([[0], [2]]), gc.randn(2, 1)], {}),
        "scatter_value": lambda: (gc.scatter, [t23(), 0, gc.tensor([[1, 0, 1]]), 2.5], {"reduce": "add"}),
        "scatter_add": lambda: (gc.scatter_add, [t23(), 1, gc.tensor([[0, 0], [2, 2]]), gc.randn(2, 2)], {}),
        "scatter_reduce": lambda: (gc.scatter_reduce, [t23(), 1, gc.tensor([[0, 0], [2, 2]]), gc.randn(2, 2),
                                                       R.choice(["sum", "prod", "mean", "amax", "amin"])],
                                   {"include_self": R.random() < 0.5}),
        "index_add": lambda: (gc.index_add, [t23(), 0, gc.tensor([1, 1]), gc.randn(2, 3)], {"alpha": 2}),
        "index_fill": lambda: (gc.index_fill, [t23(), 1, gc.tensor([-1, 0]), -3.0], {}),
        "index_put": lambda: (gc.index_put, [t23(), (gc.tensor([0, 1, 1]),), gc.randn(3)], {"accumulate": True}),
        "masked_fill": lambda: (gc.masked_fill, [t23(), gc.tensor([True, False, True]), 0.5], {}),
        "masked_select": lambda: (gc.masked_select, [t23(), gc.tensor([[True], [False]])], {}),
        "masked_scatter": lambda: (gc.masked_scatter, [t23(), gc.tensor([True, False, True]), gc.randn(6)], {}),
        "nonzero": lambda: (gc.nonzero, [t23()], {"as_tuple": R.random() < 0.5}),
        "where_cond": lambda: (gc.where, [t23() > 0], {}),
        "where": lambda: (gc.where, [t23() > 0, t23(), 0.0], {}),
        "lerp": lambda: (gc.lerp, [t23(), t23(), 0.3], {}),
        "addcmul": lambda: (gc.addcmul, [t23(), t23(), t23()], {"value": 0.5}),
        "pow_tensor": lambda: (gc.pow, [t23().abs(), t23()], {}),
        "sort": lambda: (gc.sort, [t23()], {"dim": -1, "descending": True, "stable": True}),
        "topk": lambda: (gc.topk, [t23(), 2], {"dim": 1, "largest": False}),
        "unique": lambda: (gc.unique, [gc.tensor([3, 1, 3, 2])], {"return_inverse": True, "return_counts": True}),
        # issue 15: pooling, unpooling, interpolation (valid calls; garbage is swapped in)
        "F.max_pool2d": lambda: (F.max_pool2d, [gc.randn(1, 2, 5, 5, requires_grad=R.random() < 0.5), 3],
                                 {"stride": 2, "padding": 1, "dilation": 1, "ceil_mode": True,
                                  "return_indices": True}),
        "F.max_pool1d": lambda: (F.max_pool1d, [gc.randn(2, 7), 2], {"stride": 1, "dilation": 2}),
        "F.avg_pool3d": lambda: (F.avg_pool3d, [gc.randn(1, 1, 4, 4, 4), 2],
                                 {"padding": 1, "count_include_pad": False, "divisor_override": 3}),
        "F.adaptive_avg_pool2d": lambda: (F.adaptive_avg_pool2d, [gc.randn(2, 5, 4), (3, None)], {}),
        "F.adaptive_max_pool2d": lambda: (F.adaptive_max_pool2d, [gc.randn(1, 2, 5, 4), 2], {"return_indices": True}),
        "F.max_unpool2d": lambda: (F.max_unpool2d, [gc.randn(1, 1, 2, 2), gc.tensor([[[[0, 3], [8, 15]]]]), 2], {}),
        "F.interpolate": lambda: (F.interpolate, [gc.randn(1, 2, 3, 4)],
                                  {"scale_factor": 1.5, "mode": R.choice(["nearest", "bilinear", "nearest-exact",
                                                                          "area"]),
                                   "recompute_scale_factor": R.choice([None, True, False])}),
        "F.pixel_shuffle": lambda: (F.pixel_shuffle, [gc.randn(1, 4, 2, 3), 2], {}),
        "F.lp_pool2d": lambda: (F.lp_pool2d, [gc.randn(1, 1, 4, 4), 2.0, 2], {"ceil_mode": True}),
        "nn.MaxPool2d": lambda: (nn.MaxPool2d, [2], {"stride": 1, "padding": 1, "return_indices": True}),
        "tensor_method": lambda: _method_call(),
        "tensor_operator": lambda: _operator_call(),
        "tensor_setattr": lambda: _setattr_call(),
    }

    def _with_grads():
        m = small_model()
        F.cross_entropy(m(gc.randn(4, 3)), [0, 1, 1, 0]).backward()
        ps = list(m.parameters())
        return ps if R.random() < 0.8 else ps[0]

    def _grad_call():
        x = gc.randn(3, requires_grad=True)
        y = (x * x).sum()
        return (gc.grad, [y, [x]], {"grad_outputs": None, "retain_graph": R.random() < 0.5,
                                    "create_graph": R.random() < 0.3, "allow_unused": R.random() < 0.5})

    def _backward_call():
        x = gc.randn(2, 2, requires_grad=True)
        y = x.tanh() * 3
        return (gc.backward, [[y], [gc.ones(2, 2)]], {"retain_graph": None, "create_graph": False})

    def _random_file():
        path = os.path.join(TMP, f"r{R.randrange(10 ** 9)}.safetensors")
        kind = R.randrange(6)
        if kind == 0:
            data = bytes(R.randrange(256) for _ in range(R.randrange(0, 300)))
        else:
            gc.save({"a": gc.randn(3, 2), "b": [1, {"c": gc.zeros(2, dtype=gc.float64)}], "n": None}, path)
            with open(path, "rb") as f:
                data = bytearray(f.read())
            if kind == 1:   # truncate
                data = data[:R.randrange(len(data))]
            elif kind == 2:  # flip bytes
                for _ in range(R.randrange(1, 8)):
                    data[R.randrange(len(data))] = R.randrange(256)
            elif kind == 3:  # rewrite the header
                n = int.from_bytes(data[:8], "little")
                hdr = json.loads(data[8:8 + n])
                k = R.choice([k for k in hdr if k != "__metadata__"])
                field = R.choice(["dtype", "shape", "data_offsets", "meta"])
                if field == "meta":
                    hdr["__metadata__"] = {"gradcore.layout": R.choice(
                        ['{"__tensor__": "zz"}', '{"__list__": 5}', "[[[[", '{"__dict__": {"a": {"__tensor__": 3}}}',
                         json.dumps(deep(200)), '{"__dict__": 1, "__intkeys__": 2}'])}
                else:
                    hdr[k][field] = R.choice([[2 ** 62, 2 ** 62], [-1], [0, 2 ** 63], "BF16", "I8", "F64", "X",
                                              [], [1, 2, 3], None, [0, 8], [8, 0]])
                h = json.dumps(hdr).encode()
                data = len(h).to_bytes(8, "little") + h + bytes(data[8 + n:])
            elif kind == 4:  # absurd header length
                data = (R.choice([2 ** 63, 2 ** 40, len(data), 0]).to_bytes(8, "little", signed=False)
                        + bytes(data[8:]))
            else:
                data = b""
        with open(path, "wb") as f:
            f.write(bytes(data))
        return path

    def _iterate_loader(*arrays, **kw):
        out = []
        for batch in nn_loader(*arrays, **kw):
            out.append(batch)
        return out

    from gradcore.data import DataLoader as nn_loader, TensorDataset

    OPTS = [gc.optim.SGD, gc.optim.Adam, gc.optim.AdamW, gc.optim.RMSprop, gc.optim.Adagrad]
    OPT_KW = {"lr": 0.1, "weight_decay": 0.0, "momentum": 0.9, "betas": (0.9, 0.99), "eps": 1e-8,
              "nesterov": True, "alpha": 0.9, "amsgrad": True, "lr_decay": 0.0, "maximize": False,
              "dampening": 0.0, "centered": True, "initial_accumulator_value": 0.0}

    def _opt_kwargs(cls):
        import inspect
        names = set(inspect.signature(cls.__init__).parameters)
        return {k: v for k, v in OPT_KW.items() if k in names and R.random() < 0.5}

    def _optimizer_call():
        cls = R.choice(OPTS)
        m = small_model()
        params = R.choice([list(m.parameters()), [{"params": list(m.parameters())[:2]},
                                                     {"params": list(m.parameters())[2:], "lr": 0.01}]])
        kw = _opt_kwargs(cls)
        if cls is gc.optim.SGD and kw.get("nesterov") and "momentum" not in kw:
            kw["nesterov"] = False

        def run(params, **kw):
            opt = cls(params, **kw)
            for _ in range(2):
                opt.zero_grad()
                F.cross_entropy(m(gc.randn(4, 3)), [0, 1, 1, 0]).backward()
                opt.step()
            return opt
        return (run, [params], kw)

    def _opt_load_call():
        m = small_model()
        opt = R.choice(OPTS)(m.parameters(), lr=0.01)
        F.cross_entropy(m(gc.randn(4, 3)), [0, 1, 1, 0]).backward()
        opt.step()
        sd = opt.state_dict()
        mut = R.randrange(8)
        if mut == 0 and sd["state"]:
            k = R.choice(list(sd["state"]))
            name = R.choice(list(sd["state"][k]))
            sd["state"][k][name] = garbage()
        elif mut == 1:
            sd["param_groups"][0]["params"] = garbage()
        elif mut == 2:
            sd["param_groups"][0][R.choice(["lr", "eps", "betas", "momentum", "weight_decay"])] = garbage()
        elif mut == 3:
            sd["state"] = garbage()
        elif mut == 4:
            sd["param_groups"] = garbage()
        elif mut == 5 and sd["state"]:
            sd["state"][R.choice([7, -1, 2 ** 40, "x", None])] = dict(next(iter(sd["state"].values())))
        elif mut == 6:
            sd = garbage()

        def run(sd):
            opt.load_state_dict(sd)
            opt.zero_grad()
            F.cross_entropy(m(gc.randn(4, 3)), [0, 1, 1, 0]).backward()
            opt.step()
            return opt.state_dict()
        return (run, [sd], {})

    def _scheduler_call():
        opt = gc.optim.SGD(small_model().parameters(), lr=0.1)
        cls, args = R.choice([(lr_scheduler.StepLR, [opt, 2]), (lr_scheduler.CosineAnnealingLR, [opt, 10]),
                              (lr_scheduler.LambdaLR, [opt, lambda e: 0.9 ** e])])

        def run(*a, **k):
            s = cls(*a, **k)
            for _ in range(3):
                s.step()
            s.load_state_dict(s.state_dict())
            return s.get_last_lr()
        return (run, args, {})

    def _model_load_call():
        m = small_model()
        sd = dict(m.state_dict())
        mut = R.randrange(8)
        keys = list(sd)
        if mut == 0:
            del sd[R.choice(keys)]
        elif mut == 1:
            sd["extra." + R.choice(keys)] = gc.zeros(2)
        elif mut == 2:
            sd[R.choice(keys)] = gc.zeros(R.randrange(5), R.randrange(5))
        elif mut == 3:
            sd[R.choice(keys)] = garbage()
        elif mut == 4:
            k = R.choice(keys)
            sd[k] = np.asarray(sd[k].detach().numpy(), dtype=R.choice([np.int64, np.complex64, np.float16, object, np.bool_]))
        elif mut == 5:
            k = R.choice(keys)
            sd[k] = gc.full(tuple(sd[k].shape), float("nan"), dtype=gc.float64)
        elif mut == 6:
            sd = garbage()
        return (m.load_state_dict, [sd], {"strict": R.choice([True, False, garbage()])})

    def _optim_step_call():
        m = small_model()
        F.cross_entropy(m(gc.randn(4, 3)), [0, 1, 1, 0]).backward()
        ps = list(m.parameters())
        states = [[gc.zeros(*p.shape) for p in ps], [gc.zeros(*p.shape) for p in ps]]
        return (gc._core.optim_step, ["adam", ps, states, gc.zeros(len(ps), dtype=gc.float64)],
                {"lr": 0.1, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.0})

    METHODS = ["add_", "mul_", "copy_", "fill_", "zero_", "expand", "view", "reshape", "sum", "mean", "max",
               "transpose", "permute", "to", "pow", "matmul", "__getitem__", "item", "tolist", "numpy",
               "backward", "requires_grad_", "normal_", "uniform_", "clone", "flatten", "size", "dim", "double",
               "float", "softmax", "log_softmax", "detach", "abs", "exp", "log", "relu", "__repr__", "__len__",
               "__iter__", "__bool__", "__float__", "__int__", "__index__", "__array__", "__setitem__",
               "__deepcopy__", "__reduce_ex__", "__format__", "__contains__", "__eq__", "__lt__", "__hash__"]

    def _method_call():
        t = R.choice(tensors())
        name = R.choice(METHODS)

        def call(*a, **k):
            r = getattr(t, name)(*a, **k)
            if name == "__iter__":
                r = list(r)
            return r
        nargs = R.randrange(0, 4)
        return (call, [garbage() for _ in range(nargs)], {})

    OPERATORS = ["__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__", "__truediv__",
                 "__rtruediv__", "__pow__", "__rpow__", "__matmul__", "__rmatmul__", "__neg__", "__abs__",
                 "__iadd__", "__imul__", "__isub__", "__itruediv__", "__floordiv__", "__mod__", "__and__"]

    def _operator_call():
        t = R.choice(tensors())
        name = R.choice(OPERATORS)
        return (lambda o: getattr(t, name)(o) if name not in ("__neg__", "__abs__") else getattr(t, name)(),
                [R.choice([garbage(), R.choice(tensors())])], {})

    def _setattr_call():
        t = R.choice(tensors())
        name = R.choice(["grad", "requires_grad", "data", "shape", "dtype", "grad_fn", "T", "foo"])

        def run(v):
            setattr(t, name, v)
            out = (t * 2).sum()
            if out.requires_grad:
                out.backward()
            return t.grad
        return (run, [R.choice([garbage(), R.choice(tensors())])], {})

    # ---- calls that MUST raise ------------------------------------------------------
    def _swapped_backward():  # a saved input whose storage .data = swaps: detected at backward
        x = gc.randn(3, requires_grad=True)
        loss = (x * x).sum()
        view = x.detach().numpy()
        x.data = gc.zeros(3)
        view[:] = 1.0  # the view still owns its (old) storage
        loss.backward()

    def must_raise_cases():
        z = gc.zeros
        m = small_model()
        sd = dict(m.state_dict())
        k0 = R.choice(list(sd))
        bad_shape = dict(sd); bad_shape[k0] = gc.zeros(7, 7)
        missing = dict(sd); del missing[k0]
        extra = dict(sd); extra["bogus"] = gc.zeros(1)
        x = gc.randn(3, requires_grad=True)
        y = (x * 2).sum()
        y.backward()
        n = R.choice([-1, -2, -(2 ** 40)])
        huge = R.choice([2 ** 40, 2 ** 50, 2 ** 62])
        raw = os.path.join(TMP, f"junk{R.randrange(10 ** 9)}.safetensors")
        with open(raw, "wb") as f:
            f.write(bytes(R.randrange(256) for _ in range(R.randrange(0, 64))))
        labels = R.choice([[0, 3], [0, -1], [[0], [1]], [0.5, 1.0], ["a", "b"], [0], [0, 1, 2], [],
                           np.array([0, 2 ** 40]), np.array([0.0, np.nan]), np.array([True, False]),
                           np.zeros((2, 1), np.int64), None, "ab", gc.tensor([0.5, 1.0]), np.array([1j, 0])])
        return [
            ("zeros_neg", lambda: gc.zeros(2, n)), ("ones_neg", lambda: gc.ones(n)),
            ("full_neg", lambda: gc.full((n, 2), 1.0)), ("randn_neg", lambda: gc.randn(n, 3)),
            ("rand_neg", lambda: gc.rand(3, n)), ("zeros_huge", lambda: gc.zeros(huge, huge)),
            ("randn_huge", lambda: gc.randn(huge)), ("full_huge", lambda: gc.full((huge, 3), 0.0)),
            ("arange_step0", lambda: gc.arange(0, 3, 0)), ("arange_nan", lambda: gc.arange(0, float("nan"))),
            ("tensor_str", lambda: gc.tensor("abc")), ("tensor_ragged", lambda: gc.tensor([[1.0], [1.0, 2.0]])),
            ("tensor_dict", lambda: gc.tensor({"a": 1})), ("from_numpy_list", lambda: gc.from_numpy([1.0])),
            ("from_numpy_uint16", lambda: gc.from_numpy(np.arange(3, dtype=np.uint16))),
            ("from_numpy_negative_stride", lambda: gc.from_numpy(np.zeros((4, 4))[:, ::-2])),
            ("ce_labels", lambda: F.cross_entropy(gc.randn(2, 3, requires_grad=True), labels)),
            ("ce_1d_logits", lambda: F.cross_entropy(gc.randn(3), [0, 1, 2])),
            ("ce_reduction", lambda: F.cross_entropy(gc.randn(2, 3), [0, 1], reduction="avg")),
            ("ce_smoothing", lambda: F.cross_entropy(gc.randn(2, 3), [0, 1],
                                                     label_smoothing=R.choice([-0.1, 1.5, math.nan]))),
            ("sd_shape", lambda: m.load_state_dict(bad_shape)), ("sd_missing", lambda: m.load_state_dict(missing)),
            ("sd_extra", lambda: m.load_state_dict(extra)), ("sd_list", lambda: m.load_state_dict([1, 2])),
            ("opt_empty", lambda: R.choice(OPTS)([], lr=0.1)),
            ("opt_nontensor", lambda: R.choice(OPTS)([1.0, "a"], lr=0.1)),
            ("opt_tensor", lambda: R.choice(OPTS)(gc.zeros(2, requires_grad=True), lr=0.1)),
            ("opt_neg_lr", lambda: R.choice(OPTS)(m.parameters(), lr=-1.0)),
            ("opt_nonleaf", lambda: R.choice(OPTS)([gc.zeros(2, requires_grad=True) * 2], lr=0.1)),
            ("opt_dup", lambda: R.choice(OPTS)([{"params": [m[0].weight]}, {"params": [m[0].weight]}], lr=0.1)),
            ("opt_bad_group", lambda: R.choice(OPTS)([{"params": list(m.parameters())}, 5], lr=0.1)),
            ("adam_betas", lambda: gc.optim.Adam(m.parameters(), betas=(1.5, 0.9))),
            ("load_junk", lambda: gc.load(raw)), ("load_missing", lambda: gc.load(raw + ".nope")),
            ("reshape_bad", lambda: gc.zeros(2, 3).reshape(R.choice([(4, -1), (7,), (-1, -1), (2, 2), (0, -1)]))),
            ("sum_bad_dim", lambda: gc.zeros(2, 3).sum(dim=R.choice([2, -3, 2 ** 62, (0, 0), (0, 5)]))),
            ("reshape_overflow", lambda: gc.zeros(0).reshape(R.choice([(2 ** 62, 4), (2 ** 40, 2 ** 40, 0, 2 ** 30)]))),
            ("shape_huge_int", lambda: gc.zeros(R.choice([2 ** 63, 2 ** 64, -2 ** 64]))),
            ("index_huge_int", lambda: gc.zeros(3)[R.choice([2 ** 63, -2 ** 70, 3, -4])]),
            ("numpy_requires_grad", lambda: gc.randn(3, requires_grad=True).numpy()),
            ("inplace_expanded", lambda: gc.ones(1).expand(4).add_(1.0)),
            ("inplace_leaf", lambda: gc.ones(3, requires_grad=True).mul_(2.0)),
            ("int_requires_grad", lambda: gc.tensor([1, 2], requires_grad=True)),
            ("int_of_nan", lambda: int(gc.tensor(float("nan")))),
            ("view_not_viewable", lambda: gc.randn(3, 4).t().view(12)),
            ("mask_wrong_shape", lambda: gc.randn(3, 4)[gc.tensor([True, False])]),
            ("float_index", lambda: gc.randn(3)[gc.tensor([0.0, 1.0])]),
            ("storage_swap_backward", lambda: _swapped_backward()),
            ("max_bad_dim", lambda: gc.zeros(2, 3).max(dim=R.choice([2, -3, (1, 1)]))),
            # (2, 3) @ (5, 3, 3) is a valid batched product (issue 12); (5, 4, 3) is not
            ("matmul_bad", lambda: gc.matmul(gc.zeros(2, 3), gc.zeros(R.choice([(4, 5), (2,), (2, 3), (5, 4, 3)])))),
            ("matmul_0d", lambda: gc.matmul(gc.tensor(1.0), gc.zeros(3))),
            ("matmul_dtype", lambda: gc.zeros(2, 2) @ gc.zeros(2, 2, dtype=gc.float64)),
            ("transpose_bad", lambda: gc.zeros(2, 3).transpose(0, 2)),
            ("permute_bad", lambda: gc.zeros(2, 3).permute(R.choice([(0, 0), (0,), (0, 1, 2), (1, 5)]))),
            ("softmax_bad", lambda: gc.softmax(gc.zeros(2, 3), R.choice([2, -3, 100]))),
            ("backward_twice", lambda: y.backward()),
            ("backward_nonscalar", lambda: (gc.randn(3, requires_grad=True) * 2).backward()),
            ("backward_nograd", lambda: gc.zeros(3).sum().backward()),
            ("backward_bad_grad_shape", lambda: (gc.randn(2, requires_grad=True) * 2).backward(gc.zeros(3))),
            ("backward_bad_grad_dtype", lambda: (gc.randn(2, requires_grad=True) * 2).backward(
                gc.zeros(2, dtype=gc.float64))),
            ("backward_garbage_grad", lambda: (gc.randn(2, requires_grad=True) * 2).backward(
                R.choice(["a", [1, 2, 3], object()]))),
            ("grad_unused", lambda: gc.grad((x * 2).sum(), [gc.zeros(1, requires_grad=True)])),
            ("grad_bad_outputs", lambda: gc.grad([1.0], [x])),
            ("set_grad_wrong_shape", lambda: setattr(gc.zeros(3, requires_grad=True), "grad", gc.zeros(4))),
            ("nonleaf_requires_grad_false", lambda: setattr(x * 2, "requires_grad", False)),
            ("item_multi", lambda: gc.zeros(3).item()),
            ("mixed_dtype", lambda: gc.zeros(2, 2) @ gc.zeros(2, 2, dtype=gc.float64)),
            ("set_num_threads_0", lambda: gc.set_num_threads(R.choice([0, -1, -(2 ** 31)]))),
            ("set_isa_bad", lambda: gc._core._set_isa(R.choice(["sse9", "", "AVX512", "neon2"]))),
            ("linear_bad", lambda: F.linear(gc.zeros(2, 3), gc.zeros(4, 5))),
            ("mse_shape", lambda: F.mse_loss(gc.zeros(2, 3), gc.zeros(3, 2))),
            ("dropout_p", lambda: F.dropout(gc.zeros(3), p=R.choice([-0.5, 1.5, math.nan]))),
            # issue 15: normalisation layers with the wrong rank, channel counts or shapes
            ("bn_rank", lambda: nn.BatchNorm2d(3)(z(*R.choice([(2, 3), (2, 3, 4), (1, 2, 3, 4, 5)])))),
            ("bn_batch1", lambda: nn.BatchNorm1d(3)(z(1, 3))),
            ("bn_channels", lambda: nn.BatchNorm1d(4)(z(2, R.choice([3, 5, 0])))),
            ("bn_stats_shape", lambda: F.batch_norm(z(2, 3), z(R.choice([2, 4])), gc.ones(3), training=True)),
            ("gn_groups", lambda: F.group_norm(z(2, 5, 3), R.choice([2, 3, 0, -1, 7]))),
            ("gn_module_groups", lambda: nn.GroupNorm(R.choice([2, 3]), 5)),
            ("ln_shape", lambda: F.layer_norm(z(2, 3), R.choice([(4,), (2, 3, 1), (), (0,), (-3,)]))),
            ("ln_weight", lambda: F.layer_norm(z(2, 3), (3,), z(R.choice([2, 4])))),
            ("rms_shape", lambda: F.rms_norm(z(2, 3), R.choice([(4,), (1, 3)]))),
            ("lrn_rank", lambda: F.local_response_norm(z(*R.choice([(3,), (2, 3)])), 2)),
            ("lrn_size", lambda: F.local_response_norm(z(2, 3, 4), R.choice([0, -1]))),
            ("dropout1d_rank", lambda: F.dropout1d(z(*R.choice([(2,), (2, 3, 4, 5)])))),
            ("norm_int", lambda: R.choice([F.layer_norm, F.rms_norm])(gc.zeros(2, 3, dtype=gc.int64), (3,))),
            ("save_bad", lambda: gc.save({"a": object()}, os.path.join(TMP, "bad.safetensors"))),
            ("loader_bs", lambda: nn_loader(np.zeros((3, 2)), batch_size=R.choice([0, -1, 1.5, "a"]))),
            ("loader_len", lambda: nn_loader(np.zeros((3, 2)), np.zeros(4))),
        ]

    def poke(r):
        """Use what a call returned, the way a user would next."""
        if isinstance(r, gc.Tensor):
            r.detach().numpy(); repr(r)
            if r.numel() and r.requires_grad:
                s = r.sum()
                s.backward(retain_graph=R.random() < 0.5)
            if r.numel() == 1:
                r.item()

    def _short(v):
        try:
            return repr(v)[:400].replace("\n", " ")
        except Exception as e:
            return f"<unrepresentable {type(v).__name__}: {type(e).__name__}>"

    def record(kind, name, exc=None):
        stats["calls"] += 1
        key = f"{name}:{type(exc).__name__}" if exc is not None else f"{name}:ok"
        stats["types"][key] = stats["types"].get(key, 0) + 1

    def run_one(name, fn, args, kwargs, must_raise=False):
        TRACE.write(f"{CALL} {name} args={_short(args)} kwargs={_short(kwargs)}\n")
        TRACE.flush()
        try:
            r = fn(*args, **kwargs)
            if R.random() < 0.5:
                poke(r)
        except Exception as e:
            stats["raised"] += 1
            record("raise", name, e)
            if isinstance(e, SystemError):
                violations.append(f"{name}: SystemError {e!r}"[:300])
            return
        except BaseException as e:  # a KeyboardInterrupt/SystemExit out of a library call
            violations.append(f"{name}: {type(e).__name__} {e!r}"[:300])
            return
        stats["returned"] += 1
        record("ok", name)
        if must_raise:
            violations.append(f"{name}: returned instead of raising (args {args!r:.120})")

    def NASTY():
        return [None, float("nan"), float("inf"), -1, 0, 2 ** 63, -2 ** 63, 2 ** 40, 1.5, "abc", b"x", [], (),
                [[1.0], [2.0, 3.0]], np.zeros((0, 3), np.float32), np.array([np.nan]), np.arange(3),
                np.zeros(2, np.complex64), gc.zeros(0), gc.tensor(float("nan")), gc.zeros(2, 3, dtype=gc.float64),
                gc.randn(3, requires_grad=True) * 2, object(), Evil(), IndexLike(2 ** 62),
                # issue 10/11 classes: ints beyond int64, huge zero-element shapes, strided views,
                # integer and bool tensors, an expanded view
                2 ** 64, -2 ** 64, (2 ** 62, 4), (2 ** 57, 0), gc.zeros(2 ** 40, 0), gc.randn(4, 3).t(),
                gc.arange(6).reshape(2, 3)[:, ::2], gc.tensor([True, False]), gc.tensor([0, 2]),
                gc.ones(1).expand(5), IndexLike(2 ** 64)]

    names = sorted(ENTRY)
    SWEEP = []
    if MODE == "sweep":
        R.seed(0)
        n_nasty = len(NASTY())
        for name in names:
            try:
                _, args0, kwargs0 = ENTRY[name]()
            except Exception:
                continue
            slots = [("arg", j) for j in range(len(args0))] + [("kw", k) for k in kwargs0] + [("extra", None)]
            SWEEP += [(name, slot, v) for slot in slots for v in range(n_nasty)]
        N = min(N, len(SWEEP))
        stats["sweep_len"] = len(SWEEP)

    CALL = START
    for i in range(START, N):
        CALL = i
        R.seed(SEED * 1000003 + i)  # call i is the same whatever ran before it (restartable)
        if i == max(START, N // 2):
            warnings.simplefilter("error")  # second half: warnings are exceptions, as under pytest
        try:
            if MODE == "sweep":
                name, (where, key), vi = SWEEP[i]
                fn, args, kwargs = ENTRY[name]()
                value = NASTY()[vi]
                if where == "arg":
                    args = list(args)
                    args[key] = value
                elif where == "kw":
                    kwargs = dict(kwargs)
                    kwargs[key] = value
                else:
                    args = list(args) + [value]
            elif R.random() < 0.2:
                cases = must_raise_cases()
                name, fn = R.choice(cases)
                stats["must_raise"] += 1
                run_one("MUST:" + name, fn, [], {}, must_raise=True)
                continue
            else:
                name = R.choice(names)
                fn, args, kwargs = ENTRY[name]()
                args = [one(a) for a in args]
                kwargs = {k: one(v) for k, v in kwargs.items()}
                r = R.random()
                if r < 0.1 and args:
                    args = args[:-1]
                elif r < 0.2:
                    args = args + [garbage()]
                elif r < 0.25:
                    kwargs[R.choice(["dim", "dtype", "keepdim", "requires_grad", "bogus", "out"])] = garbage()
        except Exception as e:  # building the case itself hit a library error: that counts too
            stats["raised"] += 1
            record("raise", "setup", e)
            continue
        run_one(name, fn, args, kwargs)
        if gc.get_num_threads() != THREADS:
            gc.set_num_threads(THREADS)
        if not gc.is_grad_enabled():
            gc._core.set_grad_enabled(True)

    # ---- the library still works after all that ----------------------------------------
    warnings.simplefilter("ignore")
    gc._core.set_grad_enabled(True)
    gc._core.set_anomaly_enabled(False)
    gc._core._set_isa(ISA)
    gc.set_num_threads(THREADS)
    a = np.random.default_rng(0).standard_normal((64, 48))
    b = np.random.default_rng(1).standard_normal((48, 32))
    ta = gc.tensor(a, dtype=gc.float64, requires_grad=True)
    out = (ta @ gc.tensor(b, dtype=gc.float64)).tanh().sum()
    out.backward()
    ok = np.allclose(out.item(), np.tanh(a @ b).sum(), rtol=1e-10)
    ok &= np.allclose(ta.grad.detach().numpy(), (1 - np.tanh(a @ b) ** 2) @ b.T, rtol=1e-10, atol=1e-12)
    if not ok:
        violations.append("library gives wrong results after the garbage run")
    stats["violations"] = violations
    print(json.dumps(stats, sort_keys=True))
    print("GARBAGE_FUZZ_DONE", flush=True)
    '''
)


def _run_garbage(tmp_path: Any, mode: str, seed: int, n: int, timeout: int = 150,
                 max_crashes: int = 12) -> Dict[str, Any]:
    """Run calls 0..n-1 of the garbage script. When the process dies, note the call that
    killed it and go on from the next one (each call is generated from (seed, index)), so one
    run reports every kind of crash. Returns the merged statistics plus a "crashes" list."""
    script = tmp_path / "garbage.py"
    script.write_text(GARBAGE_SCRIPT)
    env = dict(os.environ)
    env["GRADCORE_NUM_THREADS"] = "2"
    start, segment = 0, 0
    crashes: List[str] = []
    merged: Dict[str, Any] = {"calls": 0, "returned": 0, "raised": 0, "must_raise": 0, "types": {}, "violations": []}
    while start < n:
        trace = tmp_path / f"trace{segment}.txt"
        env["GC_FUZZ_TRACE"] = str(trace)
        try:
            proc = subprocess.run([sys.executable, str(script), mode, str(seed), str(start), str(n)],
                                  capture_output=True, text=True, timeout=timeout, env=env, cwd=str(tmp_path))
        except subprocess.TimeoutExpired as e:
            out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
            last = trace.read_text().strip().splitlines()[-1:] if trace.exists() else []
            pytest.fail(f"garbage fuzz (seed {seed}) hung for {timeout} s; last call: {last}; stdout: {out[-2000:]}")
        lines = trace.read_text().strip().splitlines() if trace.exists() else []
        if proc.returncode == 0:
            out = proc.stdout.strip().splitlines()
            assert out and out[-1] == "GARBAGE_FUZZ_DONE", proc.stdout[-3000:] + proc.stderr[-3000:]
            stats = json.loads(out[-2])
            for k in ("calls", "returned", "raised", "must_raise"):
                merged[k] += stats[k]
            merged["sweep_len"] = stats.get("sweep_len")
            for k, v in stats["types"].items():
                merged["types"][k] = merged["types"].get(k, 0) + v
            merged["violations"] += stats["violations"]
            break
        merged["calls"] += len(lines)
        last = lines[-1] if lines else f"{start} <before the first call>"
        crashes.append(f"return code {proc.returncode} at call {last[:500]}\n    stderr: {proc.stderr[-600:]!r}")
        if len(crashes) >= max_crashes:
            break
        start = int(last.split(" ", 1)[0]) + 1
        segment += 1
    merged["crashes"] = crashes
    return merged


def _check_garbage_stats(label: str, stats: Dict[str, Any], n: int) -> None:
    entry_points = {k.split(":")[0] for k in stats["types"] if not k.startswith("MUST:")}
    print(f"[fuzz] garbage {label}: {stats['calls']} calls, {stats['raised']} raised, "
          f"{stats['returned']} returned, {stats['must_raise']} must-raise cases, "
          f"{len(entry_points)} entry points, {len(stats['crashes'])} crashes")
    COUNTS[f"garbage_{label}"] = stats["calls"]
    assert not stats["crashes"], (f"garbage calls killed the interpreter ({len(stats['crashes'])} shown; "
                                  f"the run goes on after each):\n" + "\n".join(stats["crashes"]))
    assert stats["calls"] >= n * 0.95
    assert stats["raised"] > n * 0.3 and stats["returned"] > n * 0.05
    assert len(entry_points) >= 70, sorted(entry_points)
    assert not stats["violations"], "\n".join(stats["violations"][:40])


@pytest.mark.parametrize("seed", [1, 2])
def test_garbage_random_calls_never_crash(tmp_path: Any, seed: int) -> None:
    """Valid calls with random arguments swapped for garbage, plus calls that must raise."""
    n = 2500
    _check_garbage_stats(f"random seed {seed}", _run_garbage(tmp_path, "random", seed, n), n)


def test_garbage_sweep_every_argument_never_crashes(tmp_path: Any) -> None:
    """Every entry point x every argument slot (and one extra argument) x every nasty value."""
    stats = _run_garbage(tmp_path, "sweep", 0, 10 ** 6)
    n = stats.get("sweep_len") or stats["calls"]
    assert n >= 3000
    _check_garbage_stats("sweep", stats, n)


# ---- None (or a missing buffer) where the C++ core expects a Tensor ----------------------

NONE_CALLS = [
    "gc.neg(None)", "gc.exp(None)", "gc.log(None)", "gc.sqrt(None)", "gc.abs(None)", "gc.tanh(None)",
    "gc.sigmoid(None)", "gc.relu(None)", "gc._core.erf(None)", "F.softplus(None)", "F.gelu(None)",
    "F.leaky_relu(None)", "F.dropout(None, 0.5)", "gc.mm(None, gc.zeros(2, 2))", "gc.mm(gc.zeros(2, 2), None)",
    "gc.sum(None)", "gc.mean(None)", "gc.max(None)", "gc.reshape(None, (2,))", "gc.transpose(None, 0, 1)",
    "gc.permute(None, (0,))", "gc.detach(None)", "gc.softmax(None, 0)", "gc.log_softmax(None, 0)",
    "gc.zeros_like(None)", "gc.ones_like(None)", "F.linear(None, gc.zeros(2, 2))", "F.linear(gc.zeros(2, 2), None)",
    "gc.Tensor.exp(None)", "gc.Tensor.numpy(None)", "not_implemented_is_error(gc.Tensor.__add__(None, 1))",
    "repr(gc.Tensor.__repr__(None))",
    "gc.add(None, gc.zeros(2))", "F.cross_entropy(None, [0])", "F.mse_loss(None, gc.zeros(2))",
    "F.batch_norm(None, None, None)", "F.layer_norm(None, (2,))", "F.group_norm(None, 1)",
    "F.rms_norm(None, (2,))", "gc._core.batch_norm(None)", "gc._core.layer_norm(gc.zeros(2, 2), None)",
    "gc.backward(None)", "gc.grad(None, None)", "gc.grad([None], [None])", "gc._core.grad_norm([None], 2.0)",
    # the fused optimizer update with fewer state lists than the rule needs, or None buffers
    "gc._core.optim_step('adam', P, [], gc.zeros(len(P), dtype=gc.float64), lr=0.1, beta1=0.9, beta2=0.999, "
    "eps=1e-8, weight_decay=0.0)",
    "gc._core.optim_step('adam', P, [[None] * len(P), [gc.zeros(*p.shape) for p in P]], "
    "gc.zeros(len(P), dtype=gc.float64), lr=0.1, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0)",
    "gc._core.optim_step('sgd', P, [[None] * len(P)], gc.zeros(len(P), dtype=gc.float64), lr=0.1, momentum=0.9, "
    "dampening=0.0, weight_decay=0.0, nesterov=False)",
]

NONE_SCRIPT = textwrap.dedent(
    r"""
    import json, os, sys
    import gradcore as gc
    import gradcore.nn as nn
    import gradcore.nn.functional as F
    m = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    F.cross_entropy(m(gc.randn(4, 3)), [0, 1, 1, 0]).backward()
    P = list(m.parameters())
    gc.set_num_threads(1)
    results = {}

    def not_implemented_is_error(r):  # a binary dunder may decline with NotImplemented
        if r is NotImplemented:
            raise TypeError("NotImplemented")
        return r

    for expr in json.loads(sys.argv[1]):
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:  # each call in its own child: one crash does not hide the next
            try:
                eval(expr)
            except Exception:
                os._exit(0)
            except BaseException:
                os._exit(4)
            os._exit(3)
        _, status = os.waitpid(pid, 0)
        if os.WIFSIGNALED(status):
            results[expr] = f"killed by signal {os.WTERMSIG(status)}"
        elif os.WEXITSTATUS(status) == 3:
            results[expr] = "returned instead of raising"
        elif os.WEXITSTATUS(status) != 0:
            results[expr] = f"exit status {os.WEXITSTATUS(status)}"
    print(json.dumps(results))
    print("NONE_DONE")
    """
)


def test_none_or_missing_tensor_arguments_raise_not_crash(tmp_path: Any) -> None:
    """None where a Tensor is expected must be a TypeError, never a null dereference."""
    script = tmp_path / "none_calls.py"
    script.write_text(NONE_SCRIPT)
    proc = subprocess.run([sys.executable, str(script), json.dumps(NONE_CALLS)], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    lines = proc.stdout.strip().splitlines()
    assert lines[-1] == "NONE_DONE", proc.stdout[-2000:] + proc.stderr[-2000:]
    bad = json.loads(lines[-2])
    assert not bad, f"{len(bad)} of {len(NONE_CALLS)} calls did not raise:\n" + "\n".join(
        f"  {expr}  ->  {what}" for expr, what in bad.items())


# ---- thread counts: an absurd value must not hang or abort the process -------------------

THREADS_SCRIPT = textwrap.dedent(
    r"""
    import resource, sys
    import gradcore as gc
    mode = sys.argv[1]
    if mode == "rlimit":
        # Address space for ~0.5 GiB more than the interpreter uses now: the 499 worker
        # stacks (8 MiB, or 2 MiB at least, each) cannot all be mapped, so starting the pool
        # fails part-way -- as it does on a machine out of memory or threads.
        with open("/proc/self/statm") as f:
            vm = int(f.read().split()[0]) * resource.getpagesize()
        resource.setrlimit(resource.RLIMIT_AS, (vm + 2 ** 29, resource.RLIM_INFINITY))
        n = 500
    else:
        n = 10 ** 6
    try:
        gc.set_num_threads(n)
        x = gc.randn(256, 256)
        y = float((x @ x).sum().item())
        print("ran with", gc.get_num_threads(), "threads", flush=True)
    except Exception as e:  # a clear error is fine too
        print("raised", type(e).__name__, e, flush=True)
    gc.set_num_threads(2)
    x = gc.randn(256, 256)
    print("THREADS_OK", float((x @ x).sum().item()) == float((x @ x).sum().item()), flush=True)
    """
)


@pytest.mark.parametrize("mode", ["rlimit", "million"])
def test_absurd_thread_count_raises_or_works(tmp_path: Any, mode: str) -> None:
    """A thread count the machine cannot start (too many, or thread creation failing under
    a resource limit) must raise or work -- never hang or abort the process."""
    script = tmp_path / "threads.py"
    script.write_text(THREADS_SCRIPT)
    what = "set_num_threads(500) under RLIMIT_AS (thread creation fails)" if mode == "rlimit" else \
        "set_num_threads(10**6)"
    try:
        proc = subprocess.run([sys.executable, str(script), mode], capture_output=True, text=True, timeout=12)
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        pytest.fail(f"{what} then a parallel op: no result after 12 s (hang); stdout: {out!r}")
    assert proc.returncode == 0, f"{what}: rc {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    assert proc.stdout.strip().splitlines()[-1] == "THREADS_OK True", proc.stdout + proc.stderr


def test_out_of_range_float_arguments_give_truthful_errors() -> None:
    """Float -> int64 conversions of huge/inf values are checked, not wrapped (UB in C++)."""
    with pytest.raises((MemoryError, ValueError, OverflowError, RuntimeError)) as info:
        gc.arange(0, 1e30)
    assert "-9223372036854775808" not in str(info.value) and "negative" not in str(info.value), str(info.value)
    with pytest.raises(RuntimeError) as info2:  # PyTorch's type for floating class labels (issue 12)
        gc.nn.functional.cross_entropy(gc.zeros(2, 3), gc.tensor([float("inf"), 0.0]))
    assert "-9223372036854775808" not in str(info2.value), str(info2.value)
