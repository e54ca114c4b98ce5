"""Random view chains against PyTorch and NumPy.

A chain of view ops (transpose, permute, select, slice with a step, narrow, squeeze,
unsqueeze, view/reshape, expand, diagonal, unfold, T, mT, split, chunk, unbind) is drawn
for a random shape and applied to a gradcore tensor, a torch tensor and a NumPy array of
*base positions* (``arange(numel)`` with the base's shape): that array, sent through the
same chain with NumPy's ops, says which base element each view element is, so it is the
oracle for values and for writes (NumPy's reshape may copy, positions survive a copy).

Checked: values; shape, ``stride()``, ``storage_offset()``, ``is_contiguous()`` equal
torch's after every step; ``view`` where torch refuses (a non-viewable layout) raises
RuntimeError as torch; a write through the last view lands in the base where the
positions say (or is refused, as torch refuses, for overlapping views); a write to the
base is seen in the view; ``numpy()`` of a view is a strided view of the same memory; the
gradient through the chain equals torch's.
"""
from __future__ import annotations

from typing import Any, Callable, List, Tuple

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gradcore as gc

torch = pytest.importorskip("torch")

SETTINGS = settings(max_examples=120, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# A step: (name, args). apply_step(lib, x, step) runs it on a gradcore/torch tensor;
# np_step(p, step) on the NumPy positions array.
Step = Tuple[str, Tuple[Any, ...]]


def draw_step(draw: Any, shape: Tuple[int, ...]) -> Step:
    nd = len(shape)
    kinds = ["unsqueeze", "view", "reshape", "expand"]
    if nd >= 1:
        kinds += ["select", "slice", "narrow", "split", "chunk", "unbind", "unfold", "squeeze", "permute"]
    if nd >= 2:
        kinds += ["transpose", "diagonal", "mT"]
    if nd == 2:
        kinds += ["T"]
    kind = draw(st.sampled_from(kinds))
    d = draw(st.integers(0, nd - 1)) if nd else 0
    n = shape[d] if nd else 0
    if kind == "select" and n == 0:
        kind = "slice"
    if kind == "transpose":
        return kind, (d, draw(st.integers(-nd, nd - 1)))
    if kind == "permute":
        return kind, tuple(draw(st.permutations(range(nd))))
    if kind == "select":
        return kind, (d, draw(st.integers(-n, n - 1)))
    if kind == "slice":
        b = st.one_of(st.none(), st.integers(-n - 1, n + 1))
        return kind, (d, draw(b), draw(b), draw(st.sampled_from([None, 1, 2, 3])))
    if kind == "narrow":
        start = draw(st.integers(0, n))
        return kind, (d, start, draw(st.integers(0, n - start)))
    if kind in ("split", "chunk"):
        k = draw(st.integers(1, max(n, 1) + 1))
        pieces = -(-n // k) if kind == "split" else len(torch.zeros(n).chunk(k))
        return kind, (k, d, draw(st.integers(0, max(pieces - 1, 0))))
    if kind == "unbind":
        if n == 0:
            return "slice", (d, None, None, None)
        return kind, (d, draw(st.integers(0, n - 1)))
    if kind == "unfold":
        size = draw(st.integers(0, n))
        return kind, (d, size, draw(st.integers(1, 3)))
    if kind == "squeeze":
        return kind, (draw(st.sampled_from([None, d])),)
    if kind == "unsqueeze":
        return kind, (draw(st.integers(-nd - 1, nd)),)
    if kind == "diagonal":
        d2 = draw(st.sampled_from([e for e in range(nd) if e != d]))
        return kind, (draw(st.integers(-3, 3)), d, d2)
    if kind == "expand":
        new = tuple(draw(st.sampled_from([-1, 2])) if s == 1 else -1 for s in shape)
        lead = tuple(draw(st.lists(st.integers(1, 2), min_size=0 if nd else 1, max_size=1)))
        return kind, lead + new
    if kind in ("view", "reshape"):
        numel = int(np.prod(shape))
        if numel == 0:
            return kind, (tuple(shape[::-1]) if draw(st.booleans()) else (0, 5),)
        divs = [k for k in range(1, numel + 1) if numel % k == 0]
        a = draw(st.sampled_from(divs))
        return kind, (draw(st.sampled_from([(numel,), (-1,), (a, -1), (a, numel // a), (1, -1, a), ()] if numel == 1
                                           else [(numel,), (-1,), (a, -1), (a, numel // a), (1, -1, a)])),)
    return kind, ()


def apply_step(x: Any, step: Step) -> Any:
    kind, a = step
    if kind == "slice":
        d, s0, s1, s2 = a
        return x[(slice(None),) * d + (slice(s0, s1, s2),)]
    if kind in ("split", "chunk"):
        k, d, i = a
        return getattr(x, kind)(k, d)[i]
    if kind == "unbind":
        return x.unbind(a[0])[a[1]]
    if kind == "squeeze":
        return x.squeeze() if a[0] is None else x.squeeze(a[0])
    if kind in ("T", "mT"):
        return getattr(x, kind)
    if kind == "permute":
        return x.permute(*a)
    if kind == "expand":
        return x.expand(*a)
    if kind in ("view", "reshape"):
        return getattr(x, kind)(*a[0]) if a[0] else getattr(x, kind)(())
    return getattr(x, kind)(*a)


def np_step(p: np.ndarray, step: Step) -> np.ndarray:
    kind, a = step
    if kind == "transpose":
        return np.swapaxes(p, *a)
    if kind == "permute":
        return np.transpose(p, a)
    if kind == "select":
        return p[(slice(None),) * a[0] + (a[1],)]
    if kind == "slice":
        d, s0, s1, s2 = a
        return p[(slice(None),) * d + (slice(s0, s1, s2),)]
    if kind == "narrow":
        d, start, length = a
        return p[(slice(None),) * d + (slice(start, start + length),)]
    if kind == "split":
        k, d, i = a
        return p[(slice(None),) * d + (slice(i * k, (i + 1) * k),)]
    if kind == "chunk":
        k, d, i = a
        size = -(-p.shape[d] // k) if p.shape[d] else 0
        return p[(slice(None),) * d + (slice(i * size, (i + 1) * size),)]
    if kind == "unbind":
        return p[(slice(None),) * a[0] + (a[1],)]
    if kind == "squeeze":
        if a[0] is None:
            return p.reshape(tuple(s for s in p.shape if s != 1))
        return np.squeeze(p, a[0]) if p.shape[a[0]] == 1 else p
    if kind == "unsqueeze":
        d = a[0] if a[0] >= 0 else a[0] + p.ndim + 1
        return np.expand_dims(p, d)
    if kind in ("view", "reshape"):
        return p.reshape(a[0])
    if kind == "expand":
        lead = len(a) - p.ndim
        return np.broadcast_to(p, tuple(s if s != -1 else p.shape[i - lead] for i, s in enumerate(a)))
    if kind == "diagonal":
        off, d1, d2 = a
        return np.diagonal(p, off, d1, d2)
    if kind == "unfold":
        d, size, stepk = a
        w = np.lib.stride_tricks.sliding_window_view(p, size, axis=d) if size <= p.shape[d] else None
        return np.take(w, np.arange(0, w.shape[d], stepk), axis=d)
    if kind == "T":
        return p.T
    if kind == "mT":
        return np.swapaxes(p, -1, -2)
    raise AssertionError(kind)


@st.composite
def chains(draw: Any) -> Tuple[Tuple[int, ...], List[Step]]:
    nd = draw(st.integers(0, 4))
    shape = tuple(draw(st.lists(st.integers(1, 4) if draw(st.integers(0, 8)) else st.integers(0, 4),
                                min_size=nd, max_size=nd)))
    steps: List[Step] = []
    cur = torch.zeros(shape)
    for _ in range(draw(st.integers(1, 5))):
        step = draw_step(draw, tuple(cur.shape))
        try:
            nxt = apply_step(cur, step)
        except RuntimeError:
            if step[0] != "view":
                raise
            steps.append(("badview", step[1]))  # torch refuses this view: gradcore must too
            step = ("reshape", step[1])
            nxt = apply_step(cur, step)
        steps.append(step)
        cur = nxt
    return shape, steps


def run_chain(x: Any, steps: List[Step], check: Callable[[Any, int], None] = lambda y, i: None) -> Any:
    i = 0
    while i < len(steps):
        step = steps[i]
        if step[0] == "badview":
            with pytest.raises(RuntimeError):  # view of a non-viewable layout: torch's RuntimeError
                apply_step(x, ("view", step[1]))
            i += 1
            continue
        x = apply_step(x, step)
        check(x, i)
        i += 1
    return x


def layout(t: Any) -> Tuple[Any, ...]:
    # Every stride, size-1 dims included (they address nothing, but scripts print them);
    # an empty tensor has no layout to observe.
    if t.numel() == 0:
        return tuple(t.shape), t.is_contiguous()
    return tuple(t.shape), tuple(t.stride()), t.storage_offset(), t.is_contiguous()


@SETTINGS
@given(chain=chains())
def test_view_chain_layout_values_and_writes(chain: Tuple[Tuple[int, ...], List[Step]]) -> None:
    shape, steps = chain
    numel = int(np.prod(shape))
    base_np = np.arange(numel, dtype=np.float32).reshape(shape)
    xt = torch.from_numpy(base_np.copy())
    x = gc.from_numpy(base_np.copy())
    ts: List[Any] = []
    yt = run_chain(xt, steps, lambda y, i: ts.append(y))
    k = [0]

    def same_layout(y: Any, i: int) -> None:
        assert layout(y) == layout(ts[k[0]]), steps[: i + 1]
        k[0] += 1
    y = run_chain(x, steps, same_layout)
    pos = np.arange(numel).reshape(shape)
    for s in steps:
        if s[0] != "badview":
            pos = np_step(pos, s)
    pos = np.asarray(pos)
    np.testing.assert_array_equal(y.numpy(), base_np.reshape(-1)[pos])
    np.testing.assert_array_equal(y.numpy(), yt.numpy())

    # numpy() of the view: the same memory, torch's strides (in bytes).
    yn = y.numpy()
    is_view = yt.untyped_storage().data_ptr() == xt.untyped_storage().data_ptr()
    if y.numel() > 0 and is_view:
        assert np.shares_memory(yn, x.numpy())
        assert [s for s, n in zip(yn.strides, yn.shape) if n != 1] == \
            [4 * s for s, n in zip(yt.stride(), yt.shape) if n != 1]

    # A write through the view: where the positions say, or refused as torch refuses it.
    src = np.arange(100, 100 + y.numel(), dtype=np.float32).reshape(tuple(y.shape))
    try:
        yt.copy_(torch.from_numpy(src))
        refused = False
    except RuntimeError:
        refused = True
    if refused:
        with pytest.raises(RuntimeError):
            y.copy_(gc.from_numpy(src))
        return
    if len(np.unique(pos)) != pos.size:
        return  # overlapping windows (unfold): the outcome of the write is unspecified
    y.copy_(gc.from_numpy(src))
    want = base_np.reshape(-1).copy()
    if is_view:  # else a reshape copied: the base is untouched
        want[pos.reshape(-1)] = src.reshape(-1)
    np.testing.assert_array_equal(x.numpy().reshape(-1), want)
    np.testing.assert_array_equal(x.numpy(), xt.numpy())
    # A write to the base is seen in the view (not in a copy).
    x.fill_(-3.0)
    assert (y.numpy() == -3.0).all() if is_view else (y.numpy() == src).all()


@SETTINGS
@given(chain=chains(), seed=st.integers(0, 2 ** 31))
def test_view_chain_gradient_matches_torch(chain: Tuple[Tuple[int, ...], List[Step]], seed: int) -> None:
    shape, steps = chain
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape)
    xt = torch.tensor(a, requires_grad=True)
    yt = run_chain(xt, steps)
    w = rng.standard_normal(tuple(yt.shape))
    (yt * torch.from_numpy(w)).sum().backward()
    x = gc.tensor(a, requires_grad=True)
    y = run_chain(x, steps)
    (y * gc.from_numpy(w)).sum().backward()
    assert x.grad is not None
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("make,shape", [
    (lambda lib: lib.arange(12.0).reshape(3, 4).t(), (-1,)),
    (lambda lib: lib.arange(24.0).reshape(2, 3, 4).permute(2, 0, 1), (8, 3)),
    (lambda lib: lib.arange(24.0).reshape(2, 3, 4)[:, ::2], (-1,)),
])
def test_view_of_non_viewable_layout_raises(make: Callable[[Any], Any], shape: Tuple[int, ...]) -> None:
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        make(torch).view(*shape)
    with pytest.raises(RuntimeError):
        make(gc).view(*shape)
    np.testing.assert_array_equal(make(gc).reshape(*shape).numpy(), make(torch).reshape(*shape).numpy())


def test_write_to_expanded_view_raises() -> None:
    for lib in (torch, gc):
        x = lib.zeros(3)
        e = x.expand(2, 3)
        with pytest.raises(RuntimeError):
            e.add_(1)
        with pytest.raises(RuntimeError):
            e.mul_(gc.ones(2, 3) if lib is gc else torch.ones(2, 3))
        with pytest.raises(RuntimeError):
            e.copy_(lib.ones(2, 3))
        assert x.tolist() == [0.0, 0.0, 0.0]
    # (torch's fill_ writes through an expanded view unchecked; gradcore refuses it too.)


def test_expand_new_leading_dim_strides_and_empty_write() -> None:
    # A new leading dim of size 1 strides over the dims after it (torch's inferExpandGeometry).
    for shape, size in [((2,), (1, -1)), ((2, 3), (1, 1, 2, -1)), ((), (1,)), ((3,), (2, 1, -1))]:
        assert gc.zeros(shape).expand(*size).stride() == torch.zeros(shape).expand(*size).stride()
    # An expanded empty tensor has no element written twice: copy_ into it is allowed.
    for lib in (torch, gc):
        e = lib.zeros(0).expand(2, -1)
        e.copy_(lib.zeros(2, 0))
        assert tuple(e.shape) == (2, 0)
