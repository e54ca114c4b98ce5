"""Shape ops of issue 12 against PyTorch: values for every dtype (the pure data movement
ops), dtype promotion, views that share storage where torch's do (and copies where torch
copies), hypothesis over shapes/dims for cat/stack/split/flip/roll/pad, 0-size tensors, the
padding and Unflatten modules, one_hot, and bad input raising torch's exception types.

Gradients (gradcheck, gradgradcheck, forward mode, NaN/Inf) come from the op_table rows.
"""
from __future__ import annotations

import warnings
from typing import Any, Callable, List, Tuple

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import gradcore as gc
from torch_compare import same as _same  # noqa: E402
import gradcore.nn as gnn
import gradcore.nn.functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional

DTYPES = ["float32", "float64", "int64", "int32", "int16", "int8", "uint8", "bool"]


def _arr(shape: Tuple[int, ...], dtype: str, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if dtype == "bool":
        return rng.random(shape) < 0.5
    if dtype.startswith("float"):
        return rng.standard_normal(shape).astype(dtype)
    return rng.integers(0, 100, shape).astype(dtype)


def _both(a: np.ndarray) -> Tuple[gc.Tensor, Any]:
    return gc.tensor(a), torch.tensor(a)


# (name, fn(mod, *xs) for gc / torch, input shapes, dtypes the case runs for)
def _pad(m: Any) -> Any:
    return F.pad if m is gc else TF.pad


CASES: List[Tuple[str, Callable[..., Any], List[Tuple[int, ...]]]] = [
    ("cat0", lambda m, a, b: m.cat([a, b]), [(2, 3), (4, 3)]),
    ("cat1", lambda m, a, b: m.cat((a, b), dim=1), [(2, 3), (2, 1)]),
    ("concat_neg", lambda m, a, b: m.concat([a, b], -1), [(2, 3, 2), (2, 3, 3)]),
    ("concatenate", lambda m, a, b: m.concatenate([a, b], axis=0), [(1, 3), (2, 3)]),
    ("cat_legacy_empty", lambda m, a, b: m.cat([a, b, a], 1), [(0,), (2, 3)]),
    ("cat_zero_rows", lambda m, a, b: m.cat([a, b]), [(0, 3), (2, 3)]),
    ("stack", lambda m, a, b: m.stack([a, b], -1), [(2, 3), (2, 3)]),
    ("hstack", lambda m, a, b: m.hstack([a, b]), [(2,), (3,)]),
    ("vstack", lambda m, a, b: m.vstack([a, b]), [(3,), (2, 3)]),
    ("dstack", lambda m, a, b: m.dstack([a, b]), [(3,), (1, 3)]),
    ("column_stack", lambda m, a, b: m.column_stack([a, b]), [(3,), (3, 2)]),
    ("flip", lambda m, x: m.flip(x, (0, 2)), [(2, 3, 4)]),
    ("flip_method", lambda m, x: x.flip(-1), [(2, 3)]),
    ("flip_strided", lambda m, x: x.transpose(0, 1)[::2].flip(0, 1), [(4, 5)]),
    ("flip_0d", lambda m, x: m.flip(x, [0]), [()]),
    ("fliplr", lambda m, x: m.fliplr(x), [(2, 3, 2)]),
    ("flipud", lambda m, x: x.flipud(), [(3, 2)]),
    ("roll", lambda m, x: m.roll(x, (1, -5), (0, 1)), [(3, 4)]),
    ("roll_flat", lambda m, x: x.roll(7), [(3, 4)]),
    ("roll_same_dim", lambda m, x: m.roll(x, (1, 2), (0, 0)), [(5, 2)]),
    ("rot90", lambda m, x: m.rot90(x), [(2, 3)]),
    ("rot90_neg", lambda m, x: x.rot90(-1, [1, 2]), [(2, 3, 4)]),
    ("rot90_k2", lambda m, x: x.rot90(2, (0, -1)), [(2, 3, 4)]),
    ("rot90_k0", lambda m, x: x.rot90(4), [(2, 3)]),
    ("repeat", lambda m, x: x.repeat(2, 1, 3), [(2, 3)]),
    ("repeat_zero", lambda m, x: x.repeat(0, 2), [(2, 3)]),
    ("tile", lambda m, x: m.tile(x, (2,)), [(2, 3)]),
    ("tile_long", lambda m, x: x.tile(2, 1, 2), [(2, 3)]),
    ("repeat_interleave", lambda m, x: m.repeat_interleave(x, 2, dim=0), [(2, 3)]),
    ("repeat_interleave_flat", lambda m, x: x.repeat_interleave(2), [(2, 3)]),
    ("repeat_interleave_tensor", lambda m, x: x.repeat_interleave(m.tensor([1, 0, 2]), dim=1), [(2, 3)]),
    ("repeat_interleave_1elem", lambda m, x: x.repeat_interleave(m.tensor([2]), dim=0), [(2, 3)]),
    ("repeat_interleave_output_size", lambda m, x: x.repeat_interleave(m.tensor([1, 3]), dim=0, output_size=4),
     [(2, 3)]),
    ("tril", lambda m, x: m.tril(x), [(3, 4)]),
    ("tril_batched_offset", lambda m, x: x.tril(1), [(2, 3, 4)]),
    ("triu", lambda m, x: m.triu(x, -1), [(4, 3)]),
    ("triu_far", lambda m, x: x.triu(7), [(3, 3)]),
    ("diag_1d", lambda m, x: m.diag(x), [(3,)]),
    ("diag_1d_offset", lambda m, x: x.diag(-2), [(3,)]),
    ("diag_2d", lambda m, x: m.diag(x, 1), [(3, 4)]),
    ("diag_embed", lambda m, x: m.diag_embed(x), [(2, 3)]),
    ("diag_embed_dims", lambda m, x: x.diag_embed(2, 0, 2), [(2, 3)]),
    ("diagonal", lambda m, x: m.diagonal(x, -1, 2, 0), [(3, 2, 4)]),
    ("tensor_split", lambda m, x: m.tensor_split(x, 3, dim=1), [(2, 7)]),
    ("tensor_split_idx", lambda m, x: x.tensor_split([1, -2, 9]), [(5, 2)]),
    ("split_list", lambda m, x: m.split(x, [1, 3], 1), [(2, 4)]),
    ("chunk", lambda m, x: x.chunk(3, 1), [(2, 7)]),
    ("unbind", lambda m, x: m.unbind(x, 1), [(2, 3)]),
    ("squeeze_tuple", lambda m, x: m.squeeze(x, (0, 2)), [(1, 3, 1, 2)]),
    ("unsqueeze", lambda m, x: x.unsqueeze(-1), [(2, 3)]),
    ("flatten", lambda m, x: m.flatten(x, 1, 2), [(2, 3, 4, 1)]),
    ("unflatten", lambda m, x: m.unflatten(x, 1, (2, -1)), [(3, 6)]),
    ("movedim", lambda m, x: m.movedim(x, 0, -1), [(2, 3, 4)]),
    ("moveaxis", lambda m, x: x.moveaxis((0, 2), (1, 0)), [(2, 3, 4)]),
    ("swapaxes", lambda m, x: m.swapaxes(x, 0, 2), [(2, 3, 4)]),
    ("swapdims", lambda m, x: x.swapdims(1, 0), [(2, 3)]),
    ("broadcast_to", lambda m, x: m.broadcast_to(x, (2, 3, 4)), [(3, 1)]),
    ("broadcast_tensors", lambda m, a, b: m.broadcast_tensors(a, b), [(3, 1), (2, 1, 4)]),
    ("meshgrid_ij", lambda m, a, b: m.meshgrid(a, b, indexing="ij"), [(2,), (3,)]),
    ("meshgrid_xy3", lambda m, a, b, c: m.meshgrid(a, b, c, indexing="xy"), [(2,), (3,), (4,)]),
    ("trace", lambda m, x: m.trace(x), [(3, 4)]),
    ("pad_constant", lambda m, x: _pad(m)(x, (1, 2, 0, 1)), [(2, 3)]),
    ("pad_constant_value", lambda m, x: _pad(m)(x, (2, 0), value=1), [(2, 3)]),
    ("pad_constant_fraction", lambda m, x: _pad(m)(x, (1, 1), value=2.5), [(2, 3)]),  # truncated for ints
    ("pad_constant_crop", lambda m, x: _pad(m)(x, (-1, 1, 1, -2)), [(3, 4)]),
    ("pad_constant_3dims", lambda m, x: _pad(m)(x, (1, 0, 0, 1, 1, 1)), [(2, 3, 2)]),
    ("pad_reflect", lambda m, x: _pad(m)(x, (2, 1), mode="reflect"), [(2, 3, 4)]),
    ("pad_reflect_2d", lambda m, x: _pad(m)(x, (1, 1, 2, 0), mode="reflect"), [(2, 3, 4)]),
    ("pad_reflect_3d", lambda m, x: _pad(m)(x, (1, 1, 2, 0, 1, 1), mode="reflect"), [(1, 2, 3, 4, 3)]),
    ("pad_replicate", lambda m, x: _pad(m)(x, (3, 2), mode="replicate"), [(2, 3)]),
    ("pad_replicate_crop", lambda m, x: _pad(m)(x, (-1, 2, 1, 0), mode="replicate"), [(1, 3, 4)]),
    ("pad_circular", lambda m, x: _pad(m)(x, (1, 2, 2, 1), mode="circular"), [(1, 2, 3, 4)]),
    ("pad_circular_full", lambda m, x: _pad(m)(x, (4, 0), mode="circular"), [(2, 4)]),
    ("pad_circular_crop", lambda m, x: _pad(m)(x, (-1, 3, 0, -1), mode="circular"), [(1, 3, 4)]),
]
# torch refuses these dtypes for these cases (its CPU kernels are not instantiated for them)
TORCH_REFUSES = {
    "trace": {"bool"}, "pad_reflect": {"bool"}, "pad_reflect_2d": {"bool"}, "pad_reflect_3d": {"bool"},
    "pad_replicate": {"bool"}, "pad_replicate_crop": {"bool"},
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_values_match_torch(case: Any, dtype: str) -> None:
    name, fn, shapes = case
    if dtype in TORCH_REFUSES.get(name, set()):
        return
    arrays = [_arr(s, dtype, i) for i, s in enumerate(shapes)]
    gs = [gc.tensor(a) for a in arrays]
    ts = [torch.tensor(a) for a in arrays]
    _same(fn(gc, *gs), fn(torch, *ts))


def test_torch_refused_dtypes_are_refused_too() -> None:
    with pytest.raises(NotImplementedError):
        gc.trace(gc.tensor(_arr((3, 3), "bool")))


@pytest.mark.parametrize("pair", [("int32", "bool"), ("uint8", "int8"), ("int64", "float32"), ("float32", "float64"),
                                  ("bool", "uint8"), ("int16", "float64")])
def test_cat_stack_promote_as_torch(pair: Tuple[str, str]) -> None:
    a, b = _arr((2, 3), pair[0], 1), _arr((1, 3), pair[1], 2)
    _same(gc.cat([gc.tensor(a), gc.tensor(b)]), torch.cat([torch.tensor(a), torch.tensor(b)]))
    c = _arr((2, 3), pair[1], 3)
    _same(gc.stack([gc.tensor(a), gc.tensor(c)]), torch.stack([torch.tensor(a), torch.tensor(c)]))
    # a skipped (0,) input still takes part in promotion
    e = np.zeros((0,), dtype=pair[1])
    _same(gc.cat([gc.tensor(e), gc.tensor(a)], 1), torch.cat([torch.tensor(e), torch.tensor(a)], 1))


def test_cat_only_legacy_empty_inputs() -> None:
    e = np.zeros((0,), dtype=np.float32)
    _same(gc.cat([gc.tensor(e), gc.tensor(e)], 3), torch.cat([torch.tensor(e), torch.tensor(e)], 3))


def test_cat_of_only_legacy_empty_inputs_stays_in_the_graph() -> None:
    e = gc.zeros((0,), dtype=gc.float64, requires_grad=True)
    te = torch.zeros((0,), dtype=torch.float64, requires_grad=True)
    out, tout = gc.cat([e, e], 2), torch.cat([te, te], 2)
    assert out.requires_grad == tout.requires_grad
    out.sum().backward()
    tout.sum().backward()
    assert tuple(e.grad.shape) == tuple(te.grad.shape) == (0,)


def test_cat_gradient_flows_to_each_input_and_keeps_dtype() -> None:
    a = gc.tensor([[1.0, 2.0]], dtype=gc.float32, requires_grad=True)
    b = gc.tensor([[3.0, 4.0], [5.0, 6.0]], dtype=gc.float64, requires_grad=True)
    out = gc.cat([a, gc.tensor([[7, 8]]), b])
    assert out.dtype == gc.float64
    w = gc.tensor(np.arange(8.0).reshape(4, 2))
    (out * w).sum().backward()
    assert a.grad.dtype == gc.float32 and b.grad.dtype == gc.float64
    np.testing.assert_array_equal(a.grad.numpy(), [[0.0, 1.0]])
    np.testing.assert_array_equal(b.grad.numpy(), [[4.0, 5.0], [6.0, 7.0]])


def test_grad_fn_names_of_the_copying_ops() -> None:
    x = gc.ones((2, 3), requires_grad=True)
    assert gc.cat([x, x]).grad_fn.name() == "CatBackward0"
    assert x.flip(0).grad_fn.name() == "FlipBackward0"
    assert gc.cat([gc.ones((2, 3)), gc.ones((1, 3))]).grad_fn is None  # nothing requires grad


def test_repeat_interleave_tensor_gradient_is_a_segment_sum() -> None:
    x = gc.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], dtype=gc.float64, requires_grad=True)
    tx = torch.tensor(x.detach().numpy(), requires_grad=True)
    w = np.arange(10.0).reshape(5, 2)
    (x.repeat_interleave(gc.tensor([2, 0, 3]), dim=0) * gc.tensor(w)).sum().backward()
    (tx.repeat_interleave(torch.tensor([2, 0, 3]), dim=0) * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy())


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular", "constant"])
def test_pad_gradient_matches_torch(mode: str) -> None:
    a = _arr((2, 3, 4), "float64")
    x = gc.tensor(a, requires_grad=True)
    tx = torch.tensor(a, requires_grad=True)
    pad = (3, 2, 2, 1)  # reflect's pads stay below the sizes (3, 4)
    w = _arr((2, 3 + 3, 4 + 5), "float64", 5)
    (F.pad(x, pad, mode=mode) * gc.tensor(w)).sum().backward()
    (TF.pad(tx, pad, mode=mode) * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12)


# ---- views share storage where torch's do; copies do not ----
VIEWS = [
    ("split", lambda x: x.split([1, 2], 1)[1]),
    ("chunk", lambda x: x.chunk(2, 0)[1]),
    ("tensor_split", lambda x: x.tensor_split([1], 1)[1]),
    ("unbind", lambda x: x.unbind(0)[1]),
    ("movedim", lambda x: x.movedim(0, 1)),
    ("unflatten", lambda x: x.unflatten(1, (3, 1))),
    ("squeeze_tuple", lambda x: x.unsqueeze(0).squeeze((0,))),
    ("diagonal", lambda x: x.diagonal()),
    ("swapaxes", lambda x: x.swapaxes(0, 1)),
]


@pytest.mark.parametrize("view", VIEWS, ids=[v[0] for v in VIEWS])
def test_views_write_through(view: Any) -> None:
    _, fn = view
    g = gc.tensor(np.arange(6.0).reshape(2, 3))
    t = torch.tensor(np.arange(6.0).reshape(2, 3))
    gv, tv = fn(g), fn(t)
    g0, t0 = g._version, t._version
    gv.mul_(-1.0)
    tv.mul_(-1.0)
    np.testing.assert_array_equal(g.numpy(), t.numpy())
    assert g._version - g0 == t._version - t0 == 1  # one version counter per storage
    assert not np.array_equal(g.numpy(), np.arange(6.0).reshape(2, 3))


def test_broadcast_and_meshgrid_are_views() -> None:
    x = gc.tensor([1.0, 2.0, 3.0])
    b = gc.broadcast_to(x, (2, 3))
    gx, gy = gc.meshgrid(x, gc.tensor([4.0, 5.0]), indexing="ij")
    x.mul_(10.0)
    np.testing.assert_array_equal(b.numpy(), [[10.0, 20.0, 30.0]] * 2)
    np.testing.assert_array_equal(gx.numpy()[:, 0], [10.0, 20.0, 30.0])
    assert tuple(gy.shape) == (3, 2)


COPIES = [
    ("cat", lambda x: gc.cat([x])), ("flip", lambda x: x.flip(0)), ("roll", lambda x: x.roll(1, 1)),
    ("repeat", lambda x: x.repeat(1, 1)), ("tile", lambda x: x.tile((1,))), ("diag_2d", lambda x: x.diag()),
    ("tril", lambda x: x.tril(5)), ("rot90_k0", lambda x: x.rot90(0)), ("pad_zero", lambda x: F.pad(x, (0, 0))),
    ("repeat_interleave", lambda x: x.repeat_interleave(1, dim=0)),
]


@pytest.mark.parametrize("copy", COPIES, ids=[c[0] for c in COPIES])
def test_copies_do_not_alias(copy: Any) -> None:
    _, fn = copy
    x = gc.tensor(np.arange(6.0).reshape(2, 3))
    y = fn(x)
    y.fill_(-1.0)
    np.testing.assert_array_equal(x.numpy(), np.arange(6.0).reshape(2, 3))


# ---- hypothesis over shapes and dims ----
shapes = st.lists(st.integers(0, 4), min_size=1, max_size=4).map(tuple)


@settings(max_examples=40, deadline=None)
@given(shape=shapes, sizes=st.lists(st.integers(0, 3), min_size=1, max_size=3), data=st.data())
def test_cat_and_split_roundtrip_hypothesis(shape: Tuple[int, ...], sizes: List[int], data: Any) -> None:
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    parts = []
    for i, s in enumerate(sizes):
        sh = list(shape)
        sh[dim] = s
        parts.append(_arr(tuple(sh), "float32", i))
    g = gc.cat([gc.tensor(p) for p in parts], dim)
    t = torch.cat([torch.tensor(p) for p in parts], dim)
    _same(g, t)
    _same(g.split(sizes, dim), t.split(sizes, dim))
    _same(gc.stack([gc.tensor(parts[0])] * 2, dim), torch.stack([torch.tensor(parts[0])] * 2, dim))
    k = data.draw(st.integers(1, 4))
    _same(g.chunk(k, dim), t.chunk(k, dim))
    _same(g.tensor_split(k, dim), t.tensor_split(k, dim))


@settings(max_examples=40, deadline=None)
@given(shape=shapes, data=st.data())
def test_flip_roll_hypothesis(shape: Tuple[int, ...], data: Any) -> None:
    nd = len(shape)
    dims = data.draw(st.lists(st.integers(-nd, nd - 1), max_size=nd, unique_by=lambda d: d % nd))
    shifts = data.draw(st.lists(st.integers(-7, 7), min_size=len(dims), max_size=len(dims)))
    a = _arr(shape, "int64")
    g, t = _both(a)
    _same(g.flip(dims), t.flip(dims))
    if dims:
        _same(g.roll(shifts, dims), t.roll(shifts, dims))
    s = data.draw(st.integers(-9, 9))
    _same(g.roll(s), t.roll(s))


@settings(max_examples=40, deadline=None)
@given(shape=st.lists(st.integers(1, 5), min_size=2, max_size=4).map(tuple),
       mode=st.sampled_from(["constant", "reflect", "replicate", "circular"]), data=st.data())
def test_pad_hypothesis(shape: Tuple[int, ...], mode: str, data: Any) -> None:
    nd = len(shape)
    npad = data.draw(st.integers(1, min(3, nd - 1)) if mode != "constant" else st.integers(0, nd))
    if mode != "constant" and nd > npad + 2:
        shape = shape[:npad + 2]
        nd = len(shape)
    pad: List[int] = []
    for k in range(npad):
        n = shape[nd - 1 - k]
        hi = {"reflect": n - 1, "circular": n}.get(mode, 4)
        # negative circular pads: the fixed cases (PyTorch reads uninitialised memory for some)
        lo = 0 if mode in ("reflect", "circular") else -min(n // 2, 2)
        for _ in range(2):
            pad.append(data.draw(st.integers(lo, hi)))
    a = _arr(shape, "float64")
    g, t = _both(a)
    value = data.draw(st.floats(-2, 2)) if mode == "constant" else None
    try:
        expected = TF.pad(t, tuple(pad), mode=mode, value=value)
    except (RuntimeError, NotImplementedError) as e:
        with pytest.raises(type(e)):
            F.pad(g, tuple(pad), mode=mode, value=value)
        return
    _same(F.pad(g, tuple(pad), mode=mode, value=value), expected)


# ---- 0-size tensors ----
def test_zero_size_inputs() -> None:
    a = _arr((0, 3), "float32")
    g, t = _both(a)
    for fn in [lambda m, x: x.flip(0, 1), lambda m, x: x.roll(2, 1), lambda m, x: x.repeat(2, 2),
               lambda m, x: x.tril(), lambda m, x: x.rot90(), lambda m, x: m.stack([x, x]),
               lambda m, x: x.repeat_interleave(3, dim=1), lambda m, x: x.roll(1),
               lambda m, x: (TF if m is torch else F).pad(x, (1, 1, 2, 0)), lambda m, x: x.tensor_split(2, 0),
               lambda m, x: m.diag(x)]:
        _same(fn(gc, g), fn(torch, t))


# ---- one_hot ----
def test_one_hot_matches_torch() -> None:
    a = np.array([[0, 3], [1, 1], [2, 0]])
    _same(F.one_hot(gc.tensor(a)), TF.one_hot(torch.tensor(a)))
    _same(F.one_hot(gc.tensor(a), 6), TF.one_hot(torch.tensor(a), 6))
    _same(F.one_hot(gc.tensor(np.zeros(0, dtype=np.int64)), 3), TF.one_hot(torch.tensor(np.zeros(0, dtype=np.int64)), 3))
    _same(F.one_hot(gc.tensor(2), 3), TF.one_hot(torch.tensor(2), 3))


@pytest.mark.parametrize("args", [([1, -2], -1), ([1, 2], 2), ([1, 2], 0), ([], -1)])
def test_one_hot_errors(args: Any) -> None:
    vals, n = args
    with pytest.raises(RuntimeError) as te:
        TF.one_hot(torch.tensor(vals, dtype=torch.int64), n)
    with pytest.raises(RuntimeError, match=str(te.value).split(".")[0]):
        F.one_hot(gc.tensor(np.array(vals, dtype=np.int64)), n)
    with pytest.raises(RuntimeError, match="LongTensor"):
        F.one_hot(gc.tensor([1, 2], dtype=gc.int32), 3)


# ---- modules ----
MODULES = [
    ("Unflatten", (1, (2, 3)), (2, 6)), ("ZeroPad2d", (1,), (1, 2, 3)), ("ZeroPad1d", ((1, 2),), (2, 3)),
    ("ConstantPad1d", (2, 3.5), (2, 3)), ("ConstantPad2d", ((1, 0, 2, 1), -1.0), (2, 2, 3)),
    ("ReflectionPad1d", (2,), (2, 3)), ("ReflectionPad2d", ((1, 0, 2, 1),), (1, 3, 4)),
    ("ReplicationPad1d", ((3, 1),), (1, 2, 3)), ("ReplicationPad2d", ((1, 0, 0, 1),), (1, 2, 3)),
    ("CircularPad2d", (1,), (1, 1, 2, 3)), ("CircularPad1d", (2,), (1, 3)),
]


@pytest.mark.parametrize("spec", MODULES, ids=[m[0] for m in MODULES])
def test_modules_match_torch(spec: Any) -> None:
    name, args, shape = spec
    gm, tm = getattr(gnn, name)(*args), getattr(torch.nn, name)(*args)
    a = _arr(shape, "float32")
    g, t = _both(a)
    _same(gm(g), tm(t))
    assert repr(gm) == repr(tm)


def test_circular_pad_module_checks_rank() -> None:
    with pytest.raises(ValueError, match="expected 3D or 4D input"):
        gnn.CircularPad2d(1)(gc.zeros((2, 3)))


def test_meshgrid_warns_without_indexing_as_torch() -> None:
    with pytest.warns(UserWarning, match="indexing argument"):
        gx, gy = gc.meshgrid(gc.tensor([1.0, 2.0]), gc.tensor([3.0, 4.0, 5.0]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tx, ty = torch.meshgrid(torch.tensor([1.0, 2.0]), torch.tensor([3.0, 4.0, 5.0]))
    _same((gx, gy), (tx, ty))


def test_broadcast_shapes_and_repeat_interleave_counts() -> None:
    assert tuple(gc.broadcast_shapes((2, 1), (3,), 1)) == tuple(torch.broadcast_shapes((2, 1), (3,), 1))
    assert isinstance(gc.broadcast_shapes((2, 3)), gc.Size)
    _same(gc.repeat_interleave(gc.tensor([2, 0, 1])), torch.repeat_interleave(torch.tensor([2, 0, 1])))


# ---- bad input: torch's exception type ----
def _z(*shape: int) -> Any:
    return lambda m: m.zeros(shape)


ERRORS: List[Tuple[str, Callable[[Any], Any]]] = [
    ("cat_empty_list", lambda m: m.cat([])),
    ("cat_tensor_arg", lambda m: m.cat(m.zeros((2, 3)))),
    ("cat_non_tensor", lambda m: m.cat([m.zeros((2, 3)), 1])),
    ("cat_0d", lambda m: m.cat([m.zeros((2, 3)), m.tensor(1.0)])),
    ("cat_ndim_mismatch", lambda m: m.cat([m.zeros((2, 3)), m.zeros((2,))])),
    ("cat_shape_mismatch", lambda m: m.cat([m.zeros((2, 3)), m.zeros((3, 3))], 1)),
    ("cat_dim_out_of_range", lambda m: m.cat([m.zeros((2, 3)), m.zeros((3, 3))], 2)),
    ("stack_empty", lambda m: m.stack([])),
    ("stack_unequal", lambda m: m.stack([m.zeros((2, 3)), m.zeros((3, 3))])),
    ("stack_dim", lambda m: m.stack([m.zeros((2, 3))], 3)),
    ("hstack_empty", lambda m: m.hstack([])),
    ("flip_dup", lambda m: m.flip(m.zeros((2, 3)), [0, 0])),
    ("flip_dim", lambda m: m.flip(m.zeros((2, 3)), [2])),
    ("flip_int_dims", lambda m: m.flip(m.zeros((2, 3)), 0)),
    ("fliplr_1d", lambda m: m.fliplr(m.zeros((3,)))),
    ("flipud_0d", lambda m: m.flipud(m.tensor(3.0))),
    ("split_sizes_sum", lambda m: m.zeros((2, 3)).split([1, 1], 1)),
    ("chunk_zero", lambda m: m.zeros((2, 3)).chunk(0)),
    ("tensor_split_zero", lambda m: m.tensor_split(m.zeros((4,)), 0)),
    ("tensor_split_0d", lambda m: m.tensor_split(m.tensor(1.0), 2)),
    ("tensor_split_float_tensor", lambda m: m.tensor_split(m.zeros((4,)), m.tensor([1.0]))),
    ("tensor_split_dim", lambda m: m.tensor_split(m.zeros((4,)), (2,), dim=1)),
    ("unbind_dim", lambda m: m.zeros((2, 3)).unbind(2)),
    ("squeeze_tuple_dim", lambda m: m.squeeze(m.zeros((1, 2, 1)), (0, 3))),
    ("unsqueeze_dim", lambda m: m.zeros((2, 3)).unsqueeze(4)),
    ("flatten_order", lambda m: m.zeros((2, 3, 4)).flatten(2, 1)),
    ("unflatten_sizes", lambda m: m.unflatten(m.zeros((2, 6)), 1, (2, 2))),
    ("unflatten_empty", lambda m: m.unflatten(m.zeros((2, 6)), 1, ())),
    ("movedim_len", lambda m: m.movedim(m.zeros((2, 3, 4)), (0, 1), (2,))),
    ("movedim_repeat", lambda m: m.movedim(m.zeros((2, 3, 4)), (0, 0), (1, 2))),
    ("movedim_range", lambda m: m.movedim(m.zeros((2, 3, 4)), 0, 3)),
    ("repeat_short", lambda m: m.zeros((2, 3)).repeat(2)),
    ("repeat_negative", lambda m: m.zeros((2, 3)).repeat(-1, 2)),
    ("repeat_interleave_len", lambda m: m.repeat_interleave(m.zeros((2, 3)), m.tensor([1, 2]), dim=1)),
    ("repeat_interleave_neg", lambda m: m.repeat_interleave(m.zeros((2, 3)), m.tensor([1, -2, 3]), dim=1)),
    ("repeat_interleave_neg_int", lambda m: m.repeat_interleave(m.zeros((2, 3)), -1)),
    ("repeat_interleave_float", lambda m: m.repeat_interleave(m.zeros((2, 3)), m.tensor([1.0, 2.0, 3.0]), dim=1)),
    ("repeat_interleave_2d", lambda m: m.repeat_interleave(m.zeros((2, 3)), m.tensor([[2]]), dim=0)),
    ("repeat_interleave_output_size", lambda m: m.repeat_interleave(m.zeros((2, 3)), m.tensor([1, 2, 3]), dim=1,
                                                                    output_size=5)),
    ("repeat_interleave_dim", lambda m: m.repeat_interleave(m.zeros((2, 3)), 2, dim=5)),
    ("roll_align", lambda m: m.roll(m.zeros((4,)), (1, 2), 0)),
    ("roll_no_shifts", lambda m: m.roll(m.zeros((4,)), ())),
    ("roll_dim", lambda m: m.roll(m.zeros((4,)), 1, 1)),
    ("rot90_ndims", lambda m: m.rot90(m.zeros((2, 3)), 1, (0,))),
    ("rot90_same", lambda m: m.rot90(m.zeros((2, 3)), 1, (0, 0))),
    ("rot90_1d", lambda m: m.rot90(m.zeros((3,)), 1)),
    ("rot90_dim", lambda m: m.rot90(m.zeros((2, 3)), 1, (0, 2))),
    ("tril_1d", lambda m: m.tril(m.zeros((3,)))),
    ("triu_1d", lambda m: m.zeros((3,)).triu()),
    ("diag_3d", lambda m: m.diag(m.zeros((2, 3, 4)))),
    ("diag_embed_same", lambda m: m.diag_embed(m.zeros((2, 3)), 1, 0, 0)),
    ("diag_embed_dim", lambda m: m.diag_embed(m.zeros((2, 3)), 1, 0, 3)),
    ("diagonal_dim", lambda m: m.diagonal(m.zeros((2, 3)), 0, 0, 2)),
    ("trace_1d", lambda m: m.trace(m.zeros((3,)))),
    ("broadcast_shapes", lambda m: m.broadcast_shapes((2, 3), (3, 2))),
    ("broadcast_shapes_neg", lambda m: m.broadcast_shapes((2, -1))),
    ("broadcast_tensors", lambda m: m.broadcast_tensors(m.zeros((2, 3)), m.zeros((3, 2)))),
    ("broadcast_to", lambda m: m.broadcast_to(m.zeros((2, 3)), (3, 2))),
    ("meshgrid_indexing", lambda m: m.meshgrid(m.zeros((2,)), m.zeros((3,)), indexing="ab")),
    ("meshgrid_dtype", lambda m: m.meshgrid(m.zeros((2,)), m.zeros((3,), dtype=m.int64), indexing="ij")),
    ("meshgrid_2d", lambda m: m.meshgrid(m.zeros((2, 2)), m.zeros((3,)), indexing="ij")),
    ("meshgrid_empty", lambda m: m.meshgrid(indexing="ij")),
]


def _pad_m(m: Any) -> Any:
    return TF.pad if m is torch else F.pad


ERRORS += [
    ("pad_odd", lambda m: _pad_m(m)(m.zeros((1, 2, 3)), (1,))),
    ("pad_too_long", lambda m: _pad_m(m)(m.zeros((1, 2, 3)), (1,) * 8)),
    ("pad_mode", lambda m: _pad_m(m)(m.zeros((1, 2, 3)), (1, 1), mode="foo")),
    ("pad_value_reflect", lambda m: _pad_m(m)(m.zeros((1, 2, 3)), (1, 1), mode="reflect", value=1.0)),
    ("pad_reflect_too_big", lambda m: _pad_m(m)(m.zeros((1, 2, 3)), (3, 3), mode="reflect")),
    ("pad_circular_wrap", lambda m: _pad_m(m)(m.zeros((1, 2, 3)), (4, 0), mode="circular")),
    ("pad_reflect_rank", lambda m: _pad_m(m)(m.zeros((1, 2, 3)), (1,) * 6, mode="reflect")),
    ("pad_replicate_1d", lambda m: _pad_m(m)(m.zeros((6,)), (1, 1), mode="replicate")),
    ("pad_circular_5d", lambda m: _pad_m(m)(m.zeros((1, 1, 1, 2, 3)), (1, 1), mode="circular")),
    ("pad_crop_negative", lambda m: _pad_m(m)(m.zeros((1, 2, 3)), (1, 1, -2, -2))),
    ("pad_float", lambda m: _pad_m(m)(m.zeros((1, 2, 3)), (1.5, 1))),
    ("pad_replicate_empty", lambda m: _pad_m(m)(m.zeros((1, 2, 0)), (1, 1), mode="replicate")),
    ("pad_reflect_empty", lambda m: _pad_m(m)(m.zeros((1, 0, 3)), (1, 1), mode="reflect")),
]


@pytest.mark.parametrize("case", ERRORS, ids=[e[0] for e in ERRORS])
def test_bad_input_raises_torch_type(case: Any) -> None:
    _, fn = case
    with pytest.raises(Exception) as te:
        fn(torch)
    with pytest.raises(Exception) as ge:
        fn(gc)
    assert isinstance(ge.value, type(te.value)), (type(ge.value), te.value, ge.value)
    assert str(ge.value), "the message must say what is wrong"


@pytest.mark.parametrize("shape, pad, mode", [
    ((1, 2), (-1, -1), "replicate"), ((1, 2), (-1, -1), "reflect"), ((1, 1, 2), (-2, 0), "replicate"),
    ((1, 2, 2), (-1, -1, -1, -1), "replicate"), ((1, 2, 2), (-1, -1, -1, -1), "reflect"),
    ((1, 2, 2), (0, 0, -1, -1), "replicate"), ((1, 2, 2, 2), (-1, -1, -1, -1, -1, -1), "replicate"),
    ((1, 2, 2, 2), (-1, -1, -1, -1, -1, -1), "reflect"), ((1, 2, 2, 2), (0, 0, 0, 0, -1, -1), "replicate"),
    ((2, 3), (-1, -1), "circular"),
])
def test_pad_crop_to_empty_matches_torch(shape: Tuple[int, ...], pad: Tuple[int, ...], mode: str) -> None:
    # reflect/replicate refuse an output empty in every padded dim, with PyTorch's message
    # (found by test_pad_hypothesis); empty in some padded dims only is allowed, as there
    TF = pytest.importorskip("torch").nn.functional
    import torch
    try:
        expected = tuple(TF.pad(torch.zeros(*shape), pad, mode=mode).shape)
    except RuntimeError as e:
        with pytest.raises(RuntimeError) as got:
            gc.nn.functional.pad(gc.zeros(*shape), pad, mode=mode)
        assert str(got.value) == str(e)
        return
    assert tuple(gc.nn.functional.pad(gc.zeros(*shape), pad, mode=mode).shape) == expected
