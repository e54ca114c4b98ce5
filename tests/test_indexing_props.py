"""Property tests: Tensor.__getitem__ / __setitem__ against PyTorch (and NumPy).

Random shapes and random keys mixing ints, slices (negative bounds, steps), None, Ellipsis,
Python bools, integer index arrays (lists, NumPy arrays, tensors of several int dtypes,
broadcast against each other) and bool masks (NumPy arrays, tensors, lists). A key is drawn
as an abstract list of components and rendered three times: for gradcore, for torch and
for NumPy.

Oracles:
* torch, always: values, shape and dtype of ``x[key]``; ``x[key] = v`` (random broadcast
  value); the gradient of ``(x[key] * w).sum()``.
* NumPy, for the keys where NumPy and PyTorch agree: PyTorch treats an int (and a 0-dim
  integer tensor or array) as a basic index even next to advanced ones, NumPy as an advanced
  one, which moves the advanced dims when they are not adjacent. Keys with an int *and* an
  advanced index (an index array, a mask, or a Python bool: a 0-dim mask in both) are
  checked against torch only.
Duplicate positions in a setitem key make the written value unspecified (PyTorch does not
define which write wins), so such keys write one scalar.
"""
from __future__ import annotations

from typing import Any, List, Tuple

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gradcore as gc

torch = pytest.importorskip("torch")

SETTINGS = settings(max_examples=150, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

Comp = Tuple[Any, ...]  # ("int", i) | ("slice", a, b, c) | ("none",) | ("ellipsis",) | ("bool", v)
#                         | ("arr", int ndarray, container) | ("mask", bool ndarray, container)

INT_CONTAINERS = ["list", "np64", "np32", "t64", "t32", "t16"]
MASK_CONTAINERS = ["np", "tensor", "list"]
GC_INT = {"t64": gc.int64, "t32": gc.int32, "t16": gc.int16}
TORCH_INT = {"t64": torch.int64, "t32": torch.int32, "t16": torch.int16}


@st.composite
def shapes(draw: Any) -> Tuple[int, ...]:
    nd = draw(st.integers(1, 4))
    return tuple(draw(st.lists(st.integers(0, 4) if draw(st.integers(0, 9)) == 0 else st.integers(1, 4),
                               min_size=nd, max_size=nd)))


@st.composite
def keys(draw: Any, shape: Tuple[int, ...]) -> List[Comp]:
    """A valid key for `shape` (torch accepts it), as abstract components."""
    nd = len(shape)
    k = draw(st.integers(0, nd))                            # dims the key addresses explicitly
    ell = draw(st.one_of(st.none(), st.integers(0, k)))     # position of the Ellipsis, if any
    if ell is None:
        runs = [list(range(k))]
    else:
        runs = [list(range(ell)), list(range(nd - (k - ell), nd))]
    n_adv = draw(st.integers(0, 3))
    use_mask = draw(st.booleans()) and n_adv > 0
    bshape: Tuple[int, ...] = draw(st.lists(st.integers(0, 3) if draw(st.booleans()) else st.integers(1, 3),
                                            min_size=0, max_size=2).map(tuple))
    mask_len = None
    comps: List[Comp] = []
    adv_left = n_adv
    for r, run in enumerate(runs):
        i = 0
        while i < len(run):
            d, n = run[i], shape[run[i]]
            if draw(st.integers(0, 5)) == 0:                 # a non-consuming item
                comps.append(draw(st.sampled_from([("none",), ("bool", True), ("bool", False)])))
                continue
            kinds = ["slice", "slice"] + (["int"] if n > 0 else [])
            if adv_left > 0:
                kinds += ["arr", "arr"] + (["mask"] if use_mask and mask_len is None else [])
            kind = draw(st.sampled_from(kinds))
            if kind == "int":
                comps.append(("int", draw(st.integers(-n, n - 1))))
                i += 1
            elif kind == "slice":
                bound = st.one_of(st.none(), st.integers(-n - 2, n + 2))
                comps.append(("slice", draw(bound), draw(bound), draw(st.sampled_from([None, 1, 2, 3]))))
                i += 1
            elif kind == "arr":
                adv_left -= 1
                if use_mask:  # broadcast against a 1-d mask index: shape (L,), (1,) or ()
                    ashape = draw(st.sampled_from([(-1,), (1,), ()]))
                else:         # a shape broadcastable to bshape
                    lead = draw(st.integers(0, len(bshape)))
                    ashape = tuple(s if draw(st.booleans()) else 1 for s in bshape[lead:])
                comps.append(("arr", ashape, n, draw(st.sampled_from(INT_CONTAINERS))))
                i += 1
            else:  # mask over dims run[i : i+m] (consecutive, same run)
                adv_left -= 1
                m = draw(st.integers(1, len(run) - i))
                mshape = tuple(shape[j] for j in run[i:i + m])
                size = int(np.prod(mshape))
                mask_len = draw(st.integers(0, size))
                comps.append(("mask", mshape, mask_len, draw(st.sampled_from(MASK_CONTAINERS))))
                i += m
        if r == 0 and ell is not None:
            comps.append(("ellipsis",))
    # Resolve array contents now that the mask length (if any) is known.
    seed = draw(st.integers(0, 2 ** 31))
    rng = np.random.default_rng(seed)
    out: List[Comp] = []
    for c in comps:
        if c[0] == "arr":
            ashape, n, cont = c[1], c[2], c[3]
            ashape = tuple((mask_len or 0) if s == -1 else s for s in ashape)  # no mask drawn: empty
            if n == 0:  # only an empty index array fits a dim of size 0
                ashape = ashape if any(s == 0 for s in ashape) else (0,) + ashape[1:] if ashape else (0,)
            vals = rng.integers(-n, max(n, 1), size=ashape) if n > 0 else np.zeros(ashape, np.int64)
            out.append(("arr", vals.astype(np.int64), cont))
        elif c[0] == "mask":
            mshape, L, cont = c[1], c[2], c[3]
            flat = np.zeros(int(np.prod(mshape)), bool)
            flat[rng.choice(flat.size, size=L, replace=False)] = True
            out.append(("mask", flat.reshape(mshape), cont))
        else:
            out.append(c)
    return out


def render(comps: List[Comp], lib: str) -> Any:
    items = []
    for c in comps:
        kind = c[0]
        if kind == "int":
            items.append(c[1])
        elif kind == "slice":
            items.append(slice(c[1], c[2], c[3]))
        elif kind == "none":
            items.append(None)
        elif kind == "ellipsis":
            items.append(Ellipsis)
        elif kind == "bool":
            items.append(c[1])
        elif kind == "arr":
            a, cont = c[1], c[2]
            if cont == "list" and a.ndim == 0:
                cont = "np64"  # a 0-d list is an int: keep it an array
            if cont == "list":
                items.append(a.tolist())
            elif cont == "np64":
                items.append(a.astype(np.int64))
            elif cont == "np32":
                items.append(a.astype(np.int32))
            elif lib == "numpy":
                items.append(a)
            elif lib == "torch":
                items.append(torch.tensor(a, dtype=TORCH_INT[cont]))
            else:
                items.append(gc.tensor(a.tolist(), dtype=GC_INT[cont]) if a.size else gc.tensor(a, dtype=GC_INT[cont]))
        else:  # mask
            m, cont = c[1], c[2]
            if cont == "list" and m.ndim > 1:
                cont = "np"  # a nested list of bools: torch reads it as a bool tensor too, see below
            if cont == "list":
                items.append(m.tolist())
            elif lib == "numpy" or (cont == "np" and (lib == "gc" or m.ndim < 2)):
                items.append(m)  # torch counts an ndarray as one dim next to an Ellipsis: give it a tensor
            elif lib == "torch":
                items.append(torch.from_numpy(m.copy()))
            else:
                items.append(gc.from_numpy(m.copy()))
    return tuple(items)


def is_advanced(c: Comp) -> bool:
    """An advanced index for PyTorch (a 0-dim integer array is an int; a bool a 0-dim mask)."""
    return c[0] == "mask" or c[0] == "bool" or (c[0] == "arr" and c[1].ndim > 0)


def numpy_agrees(comps: List[Comp]) -> bool:
    """NumPy and PyTorch agree unless an int or a None sits next to an advanced index.

    (PyTorch applies None as a basic unsqueeze first, so a None before non-adjacent advanced
    indices stays in front of them; NumPy moves the advanced dims in front of everything.
    NumPy also counts an Ellipsis between advanced indices as separating them when it
    stands for no dim; PyTorch does not.)
    """
    adv = [i for i, c in enumerate(comps) if is_advanced(c)]
    has_scalar = any(c[0] in ("int", "none") or (c[0] == "arr" and c[1].ndim == 0) for c in comps)
    ell_between = any(c[0] == "ellipsis" for c in comps[adv[0]:adv[-1]]) if adv else False
    return not ((adv and has_scalar) or ell_between)


def torch_getitem(xt: Any, comps: List[Comp]) -> Any:
    try:
        return xt[render(comps, "torch")]
    except IndexError:
        return None  # e.g. an empty index array next to a non-empty one that cannot broadcast


def make_data(shape: Tuple[int, ...], dtype: str, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if dtype == "bool":
        return np.asarray(rng.random(shape) < 0.5)
    a = rng.integers(-50, 50, size=shape)
    return a.astype(dtype)


DTYPES = ["float32", "float64", "int64", "int16", "uint8", "bool"]


def check_same(got: gc.Tensor, want: Any) -> None:
    assert tuple(got.shape) == tuple(want.shape)
    assert str(got.dtype).split(".")[-1] == str(want.dtype).split(".")[-1]
    np.testing.assert_array_equal(got.numpy(), want.numpy())


@SETTINGS
@given(data=st.data(), dtype=st.sampled_from(DTYPES), seed=st.integers(0, 2 ** 31))
def test_getitem_matches_torch_and_numpy(data: Any, dtype: str, seed: int) -> None:
    shape = data.draw(shapes())
    comps = data.draw(keys(shape))
    a = make_data(shape, dtype, seed)
    want = torch_getitem(torch.from_numpy(a.copy()), comps)
    x = gc.from_numpy(a.copy())
    if want is None:
        # IndexError as torch (index arrays that do not broadcast too: "shape mismatch").
        with pytest.raises(IndexError):
            x[render(comps, "gc")]
        return
    got = x[render(comps, "gc")]
    check_same(got, want)
    if numpy_agrees(comps):
        np.testing.assert_array_equal(got.numpy(), a[render(comps, "numpy")])
    # Basic keys give views that share memory (PyTorch: a view iff no advanced index).
    if not any(is_advanced(c) for c in comps) and got.numel() > 0:
        assert got.storage_offset() == want.storage_offset()
        assert got.stride() == want.stride()


@SETTINGS
@given(data=st.data(), dtype=st.sampled_from(DTYPES), seed=st.integers(0, 2 ** 31),
       vkind=st.sampled_from(["scalar", "full", "broadcast", "0dim"]))
def test_setitem_matches_torch(data: Any, dtype: str, seed: int, vkind: str) -> None:
    shape = data.draw(shapes())
    comps = data.draw(keys(shape))
    a = make_data(shape, dtype, seed)
    xt = torch.from_numpy(a.copy())
    region = torch_getitem(xt, comps)
    if region is None:
        return
    # Positions written: duplicates make the outcome unspecified, so write a scalar then.
    pos = torch.arange(max(xt.numel(), 1))[: xt.numel()].reshape(xt.shape)[render(comps, "torch")]
    if pos.numel() != torch.unique(pos).numel():
        vkind = "scalar"
    rng = np.random.default_rng(seed + 1)
    rshape = tuple(region.shape)
    if vkind == "scalar":
        v_np: Any = True if dtype == "bool" else int(rng.integers(-9, 9))
        v_gc, v_t = v_np, v_np
    else:
        if vkind == "full":
            vshape = rshape
        elif vkind == "0dim":
            vshape = ()
        else:
            lead = data.draw(st.integers(0, len(rshape)))
            vshape = tuple(s if data.draw(st.booleans()) else 1 for s in rshape[lead:])
        v_np = make_data(vshape, dtype, seed + 2)
        v_gc, v_t = gc.from_numpy(v_np.copy()), torch.from_numpy(v_np.copy())
    xt[render(comps, "torch")] = v_t
    x = gc.from_numpy(a.copy())
    x[render(comps, "gc")] = v_gc
    check_same(x, xt)


@SETTINGS
@given(data=st.data(), seed=st.integers(0, 2 ** 31))
def test_getitem_gradient_matches_torch(data: Any, seed: int) -> None:
    shape = data.draw(shapes())
    comps = data.draw(keys(shape))
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape)
    xt = torch.tensor(a, requires_grad=True)
    yt = torch_getitem(xt, comps)
    if yt is None:
        return
    w = rng.standard_normal(tuple(yt.shape))
    (yt * torch.from_numpy(w)).sum().backward()
    x = gc.tensor(a, requires_grad=True)
    y = x[render(comps, "gc")]
    (y * gc.from_numpy(w)).sum().backward()
    assert x.grad is not None
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-12, atol=1e-12)


# Fixed cases that the random keys reach only rarely: masks given as (nested) lists of bools.
M2 = [[True, False, True], [False, True, True]]


@pytest.mark.parametrize("shape,key", [
    ((2, 3, 4), (M2,)),                          # a nested list of bools: a 2-d mask
    ((2, 3, 4), (M2, ...)),
    ((4, 2, 3, 2), (slice(None), M2, 0)),
    ((2, 3, 4), ([True, False],)),               # a list of bools: a 1-d mask
    ((2, 3, 4), (slice(None), [True, False, True])),
    ((2, 3), ([True, False], [0])),
])
def test_list_masks(shape: Tuple[int, ...], key: Any) -> None:
    a = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)
    want = torch.from_numpy(a.copy())[key]
    got = gc.from_numpy(a.copy())[key]
    check_same(got, want)


# Python bools are 0-dim masks in PyTorch (an advanced index: a copy, broadcast with the other
# advanced indices); 0-dim integer tensors / arrays are ints (a select: a view).
@pytest.mark.parametrize("shape,key", [
    ((0,), (True, True, slice(None))),
    ((1,), (True, slice(None, None, 2))),
    ((2, 3, 4), ([0, 1], True, slice(None), [1, 0])),
    ((2, 3, 4), (True, [0, 1])),
    ((2, 3, 4), (False, [0], ...)),
    ((2, 3), (True, 0)),
    ((2, 3, 4), ("t0", slice(None), [0, 1])),      # a 0-dim int tensor is an int: not adjacent
    ((2, 3, 4), ("t0_16", slice(None), [0, 1])),   # any integer dtype (int16 only when 0-dim)
    ((2, 3, 4), ("np0", slice(None), [0, 1])),
    ((3,), ("np0",)),
    ((3,), ("np0_u8",)),                           # a 0-dim uint8 array is a mask
    ((3,), ("tTrue", 0)),                          # a 0-dim bool tensor consumes no dim
])
def test_bool_and_zero_dim_keys(shape: Tuple[int, ...], key: Any) -> None:
    def rendered(lib: Any) -> Any:
        conv = {"t0": lambda: lib.tensor(1), "t0_16": lambda: lib.tensor(1, dtype=lib.int16),
                "np0": lambda: np.array(1), "np0_u8": lambda: np.array(1, np.uint8),
                "tTrue": lambda: lib.tensor(True)}
        return tuple(conv[k]() if isinstance(k, str) else k for k in key)
    a = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)
    xt, x = torch.from_numpy(a.copy()), gc.from_numpy(a.copy())
    want, got = xt[rendered(torch)], x[rendered(gc)]
    check_same(got, want)
    # View iff torch's result is one: a write through the result reaches the base iff in torch.
    got.fill_(-1)
    want.fill_(-1)
    check_same(x, xt)
    xt[rendered(torch)] = 7
    x[rendered(gc)] = 7
    check_same(x, xt)


def test_unbroadcastable_index_arrays_raise_index_error() -> None:
    x = gc.zeros(3, 3)
    with pytest.raises(IndexError, match=r"shape mismatch: .* shapes \[2\], \[3\]"):
        x[[0, 1], [0, 1, 2]]
    with pytest.raises(IndexError, match="shape mismatch"):
        x[[0, 1], [0, 1, 2]] = 1.0
