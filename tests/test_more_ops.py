"""The issue 12 leftovers (python/gradcore/_more_ops.py) against PyTorch: tril_/triu_,
diagflat, block_diag, cartesian_prod, combinations, unravel_index, addbmm(_), the three
*_scatter ops, einsum's sublist form and integer matmul/mm/bmm/@.

Values and dtypes against torch, gradients against torch's (and gc.gradcheck in float64);
gradgradcheck, forward mode and NaN/Inf come from the op_table rows. 0-size tensors and bad
input (torch's exception types) too.
"""
from __future__ import annotations

from typing import Any, Callable, Tuple

import numpy as np
import pytest

import gradcore as gc
from torch_compare import same as _same  # noqa: E402
from gradcore import _linalg_ops

torch = pytest.importorskip("torch")

INT_DTYPES = ["int8", "uint8", "int16", "int32", "int64"]


def _close(g: Any, t: Any) -> None:
    assert tuple(g.shape) == tuple(t.shape)
    np.testing.assert_allclose(g.detach().numpy(), t.detach().numpy(), rtol=1e-12, atol=1e-12)


def _rand(shape: Tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape)


def _leaves(*arrays: np.ndarray) -> Tuple[list, list]:
    g = [gc.tensor(a, requires_grad=True) for a in arrays]
    t = [torch.tensor(a, requires_grad=True) for a in arrays]
    return g, t


def _grads_match(gfn: Callable[..., Any], tfn: Callable[..., Any], *arrays: np.ndarray) -> None:
    """Values and the gradients of sum(out * w) (w fixed, random) match torch's."""
    g, t = _leaves(*arrays)
    go, to = gfn(*g), tfn(*t)
    _close(go, to)
    w = _rand(tuple(to.shape), 99)
    (go * gc.tensor(w)).sum().backward()
    (to * torch.tensor(w)).sum().backward()
    for a, b in zip(g, t):
        _close(a.grad, b.grad)


def _raises_like(gfn: Callable[[], Any], tfn: Callable[[], Any]) -> None:
    """gradcore raises an exception of the type torch raises."""
    with pytest.raises(Exception) as te:
        tfn()
    with pytest.raises(type(te.value)):
        gfn()


# ---- tril_ / triu_ ----
@pytest.mark.parametrize("name", ["tril_", "triu_"])
@pytest.mark.parametrize("diagonal", [-2, 0, 1, 5])
def test_tri_inplace_values(name: str, diagonal: int) -> None:
    a = _rand((2, 3, 4))
    g, t = gc.tensor(a), torch.tensor(a)
    r = getattr(g, name)(diagonal)
    getattr(t, name)(diagonal)
    assert r is g
    _same(g, t)
    gi, ti = gc.tensor(np.arange(12).reshape(3, 4)), torch.arange(12).reshape(3, 4)
    _same(getattr(gi, name)(diagonal=diagonal), getattr(ti, name)(diagonal=diagonal))


@pytest.mark.parametrize("name", ["tril_", "triu_"])
def test_tri_inplace_autograd(name: str) -> None:
    a = _rand((3, 3))

    def f(lib: Any) -> Callable[[Any], Any]:
        def run(x: Any) -> Any:
            y = x * 2.0
            getattr(y, name)(-1 if name == "tril_" else 1)
            return y
        return run

    _grads_match(f(gc), f(torch), a)
    x = gc.tensor(a, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        getattr(x, name)()
    with pytest.raises(RuntimeError):
        getattr(gc.ones(3), name)()


# ---- diagflat / block_diag ----
@pytest.mark.parametrize("shape", [(), (3,), (2, 2), (2, 0), (0,)])
@pytest.mark.parametrize("offset", [0, 1, -2])
def test_diagflat(shape: Tuple[int, ...], offset: int) -> None:
    a = np.arange(int(np.prod(shape))).reshape(shape)
    _same(gc.diagflat(gc.tensor(a), offset), torch.diagflat(torch.tensor(a), offset))
    _same(gc.tensor(a).diagflat(offset=offset), torch.tensor(a).diagflat(offset=offset))


def test_diagflat_grad() -> None:
    _grads_match(lambda x: gc.diagflat(x, 1), lambda x: torch.diagflat(x, 1), _rand((2, 2)))


def test_block_diag_values_and_promotion() -> None:
    cases = [
        (np.array(1), np.array([2.0, 3.0], dtype=np.float32), np.ones((2, 2), dtype=np.int32)),
        (np.array(1.5), np.ones(2, dtype=np.float32)),
        (np.ones((0, 3)), np.ones((2, 0))),
        (np.array([True]), np.array([[True, False]])),
        (np.arange(6).reshape(2, 3).astype(np.int8), np.arange(2).astype(np.uint8)),
    ]
    for arrays in cases:
        _same(gc.block_diag(*[gc.tensor(a) for a in arrays]), torch.block_diag(*[torch.tensor(a) for a in arrays]))
    _same(gc.block_diag(), torch.block_diag())


def test_block_diag_grad_and_errors() -> None:
    _grads_match(lambda a, b, c: gc.block_diag(a, b, c), lambda a, b, c: torch.block_diag(a, b, c),
                 _rand((2, 3)), _rand((2,), 1), _rand((), 2))
    _raises_like(lambda: gc.block_diag(gc.ones(2, 2, 2)), lambda: torch.block_diag(torch.ones(2, 2, 2)))
    _raises_like(lambda: gc.block_diag(gc.ones(1), True), lambda: torch.block_diag(torch.ones(1), True))


# ---- cartesian_prod / combinations ----
def test_cartesian_prod() -> None:
    a, b, c = np.array([1, 2]), np.array([3, 4, 5]), np.array([7])
    _same(gc.cartesian_prod(gc.tensor(a), gc.tensor(b), gc.tensor(c)),
          torch.cartesian_prod(torch.tensor(a), torch.tensor(b), torch.tensor(c)))
    _same(gc.cartesian_prod(gc.tensor(a)), torch.cartesian_prod(torch.tensor(a)))
    _same(gc.cartesian_prod(gc.ones(0), gc.ones(2)), torch.cartesian_prod(torch.ones(0), torch.ones(2)))
    _grads_match(lambda x, y: gc.cartesian_prod(x, y), lambda x, y: torch.cartesian_prod(x, y),
                 _rand((3,)), _rand((2,), 1))
    _raises_like(lambda: gc.cartesian_prod(), lambda: torch.cartesian_prod())
    _raises_like(lambda: gc.cartesian_prod(gc.ones(2, 2)), lambda: torch.cartesian_prod(torch.ones(2, 2)))
    _raises_like(lambda: gc.cartesian_prod(gc.tensor(1)), lambda: torch.cartesian_prod(torch.tensor(1)))
    _raises_like(lambda: gc.cartesian_prod(gc.tensor([1]), gc.tensor([1.0])),
                 lambda: torch.cartesian_prod(torch.tensor([1]), torch.tensor([1.0])))


@pytest.mark.parametrize("n", [0, 1, 4])
@pytest.mark.parametrize("r", [0, 1, 2, 3, 5])
@pytest.mark.parametrize("rep", [False, True])
def test_combinations(n: int, r: int, rep: bool) -> None:
    a = np.arange(10, 10 + n)
    _same(gc.combinations(gc.tensor(a), r, rep), torch.combinations(torch.tensor(a), r, rep))
    _same(gc.combinations(gc.tensor(a), r=r, with_replacement=rep),
          torch.combinations(torch.tensor(a), r=r, with_replacement=rep))


def test_combinations_grad_and_errors() -> None:
    _grads_match(lambda x: gc.combinations(x, 2, True), lambda x: torch.combinations(x, 2, True), _rand((4,)))
    _grads_match(lambda x: gc.combinations(x, 3), lambda x: torch.combinations(x, 3), _rand((5,)))
    _same(gc.combinations(gc.tensor([1.0, 2.0])), torch.combinations(torch.tensor([1.0, 2.0])))
    _raises_like(lambda: gc.combinations(gc.ones(3), -1), lambda: torch.combinations(torch.ones(3), -1))
    _raises_like(lambda: gc.combinations(gc.ones(2, 2)), lambda: torch.combinations(torch.ones(2, 2)))
    _raises_like(lambda: gc.combinations(gc.tensor(1.0)), lambda: torch.combinations(torch.tensor(1.0)))


# ---- unravel_index ----
@pytest.mark.parametrize("dtype", ["int64", "int32", "int16", "int8", "uint8"])
def test_unravel_index_values(dtype: str) -> None:
    idx = np.array([[0, 5, 3], [7, 1, 2]], dtype=dtype)
    for shape in [(2, 3), [3, 4], (2, 1, 3), 5, (1,), (True, 3)]:
        _same(gc.unravel_index(gc.tensor(idx), shape), torch.unravel_index(torch.tensor(idx), shape))


def test_unravel_index_wraps_and_edges() -> None:
    idx = np.array([6, -1, -6, -7, 100, 2**40])
    for shape in [(2, 3), (7, 5, 3), ()]:
        _same(gc.unravel_index(gc.tensor(idx), shape), torch.unravel_index(torch.tensor(idx), shape))
    _same(gc.unravel_index(gc.tensor(4), (2, 3)), torch.unravel_index(torch.tensor(4), (2, 3)))
    _same(gc.unravel_index(gc.tensor(2**62), (2**40, 2**40)), torch.unravel_index(torch.tensor(2**62), (2**40, 2**40)))
    e = np.array([], dtype=np.int64)
    _same(gc.unravel_index(gc.tensor(e), (2, 3)), torch.unravel_index(torch.tensor(e), (2, 3)))
    # a Python int works as a 0-dim tensor (torch raises AttributeError for it: a torch bug)
    _same(gc.unravel_index(5, (2, 3)), torch.unravel_index(torch.tensor(5), (2, 3)))


def test_unravel_index_errors() -> None:
    for idx, shape in [([1.0], (2, 3)), ([True], (2, 3)), ([1], (2, -3)), ([1], (2.0, 3)), ([1], (0, 3))]:
        _raises_like(lambda: gc.unravel_index(gc.tensor(idx), shape),
                     lambda: torch.unravel_index(torch.tensor(idx), shape))
    with pytest.raises(TypeError):
        gc.unravel_index(gc.tensor([1]), gc.tensor([2, 3]))
    with pytest.raises(TypeError):
        torch.unravel_index(torch.tensor([1]), torch.tensor([2, 3]))
    with pytest.raises(TypeError):
        gc.unravel_index([1], (2, 3))


# ---- addbmm ----
@pytest.mark.parametrize("beta,alpha", [(1, 1), (0.5, 2.0), (0, -1.5)])
@pytest.mark.parametrize("ishape", [(3, 4), (4,), (1, 1)])
def test_addbmm_values_and_grads(beta: float, alpha: float, ishape: Tuple[int, ...]) -> None:
    _grads_match(lambda i, a, b: gc.addbmm(i, a, b, beta=beta, alpha=alpha),
                 lambda i, a, b: torch.addbmm(i, a, b, beta=beta, alpha=alpha),
                 _rand(ishape), _rand((5, 3, 2), 1), _rand((5, 2, 4), 2))
    _grads_match(lambda i, a, b: i.addbmm(a, b, beta=beta, alpha=alpha),
                 lambda i, a, b: i.addbmm(a, b, beta=beta, alpha=alpha),
                 _rand(ishape), _rand((2, 3, 2), 1), _rand((2, 2, 4), 2))


def test_addbmm_gradcheck() -> None:
    i, a, b = (gc.tensor(_rand(s, k), requires_grad=True) for k, s in enumerate([(3, 4), (2, 3, 2), (2, 2, 4)]))
    assert gc.autograd.gradcheck(lambda i, a, b: gc.addbmm(i, a, b, beta=0.5, alpha=2.0), (i, a, b))


def test_addbmm_special_values_dtypes_and_empty() -> None:
    nan = np.full((3, 4), np.nan)
    a, b = _rand((5, 3, 2), 1), _rand((5, 2, 4), 2)
    _close(gc.addbmm(gc.tensor(nan), gc.tensor(a), gc.tensor(b), beta=0),
           torch.addbmm(torch.tensor(nan), torch.tensor(a), torch.tensor(b), beta=0))
    for beta, alpha in [(2, 3), (0.5, 1), (1, 2.5)]:
        ints = [np.arange(12).reshape(3, 4), np.arange(30).reshape(5, 3, 2) - 7, np.arange(40).reshape(5, 2, 4)]
        _same(gc.addbmm(*[gc.tensor(x) for x in ints], beta=beta, alpha=alpha),
              torch.addbmm(*[torch.tensor(x) for x in ints], beta=beta, alpha=alpha))
    for bs, k in [(0, 2), (5, 0)]:
        _same(gc.addbmm(gc.ones(3, 4), gc.ones(bs, 3, k), gc.ones(bs, k, 4), beta=2),
              torch.addbmm(torch.ones(3, 4), torch.ones(bs, 3, k), torch.ones(bs, k, 4), beta=2))


def test_addbmm_inplace() -> None:
    i, a, b = _rand((3, 4)), _rand((5, 3, 2), 1), _rand((5, 2, 4), 2)
    g, t = gc.tensor(i), torch.tensor(i)
    r = g.addbmm_(gc.tensor(a), gc.tensor(b), beta=0.5, alpha=2)
    t.addbmm_(torch.tensor(a), torch.tensor(b), beta=0.5, alpha=2)
    assert r is g
    _close(g, t)

    # gradients flow to the batches when only they require grad, and through a non-leaf self
    def f(lib: Any) -> Callable[..., Any]:
        def run(s: Any, x: Any, y: Any) -> Any:
            z = lib.zeros(3, 4, dtype=lib.float64)
            z.addbmm_(x, y)
            w = s * 3.0
            w.addbmm_(x, y, alpha=0.5)
            return z + w
        return run

    _grads_match(f(gc), f(torch), i, a, b)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        gc.tensor(i, requires_grad=True).addbmm_(gc.tensor(a), gc.tensor(b))


def test_addbmm_errors() -> None:
    def both(i: Tuple[int, ...], a: Tuple[int, ...], b: Tuple[int, ...], dt: Any = None) -> None:
        _raises_like(lambda: gc.addbmm(gc.ones(i), gc.ones(a), gc.ones(b, dtype=dt and gc.float64)),
                     lambda: torch.addbmm(torch.ones(i), torch.ones(a), torch.ones(b, dtype=dt and torch.float64)))
    both((3, 4), (5, 3, 2), (4, 2, 4))
    both((3, 4), (5, 3, 2), (5, 3, 4))
    both((1, 3, 4), (5, 3, 2), (5, 2, 4))
    both((3, 4), (5, 3, 2), (5, 2, 4), "f64")
    both((3, 4), (5, 3, 2), (2, 4))
    both((3, 4), (2,), (5, 2, 4))
    both((3, 4), (), (5, 2, 4))
    _raises_like(lambda: gc.addbmm(gc.ones(3, 4, dtype=gc.float64), gc.ones(5, 3, 2), gc.ones(5, 2, 4)),
                 lambda: torch.addbmm(torch.ones(3, 4, dtype=torch.float64), torch.ones(5, 3, 2),
                                      torch.ones(5, 2, 4)))
    _raises_like(lambda: gc.ones(3, 4).addbmm_(gc.ones(5, 3, 2, dtype=gc.float64), gc.ones(5, 2, 4, dtype=gc.float64)),
                 lambda: torch.ones(3, 4).addbmm_(torch.ones(5, 3, 2, dtype=torch.float64),
                                                  torch.ones(5, 2, 4, dtype=torch.float64)))
    _raises_like(lambda: gc.addbmm(gc.ones(3, 4), gc.ones(5, 3, 2), gc.ones(5, 2, 4), 2, 3),
                 lambda: torch.addbmm(torch.ones(3, 4), torch.ones(5, 3, 2), torch.ones(5, 2, 4), 2, 3))
    b1 = gc.tensor([[[True]]])
    _raises_like(lambda: gc.addbmm(gc.tensor([[True]]), b1, b1),
                 lambda: torch.addbmm(torch.tensor([[True]]), torch.tensor([[[True]]]), torch.tensor([[[True]]])))


# ---- slice_scatter / select_scatter / diagonal_scatter ----
SLICE_CASES = [
    ((4, 4), (2, 4), dict(start=2)),
    ((4, 4), (4, 2), dict(dim=1, start=1, end=None, step=2)),
    ((4, 4), (4, 2), dict(dim=-1, start=-2)),
    ((4, 4), (4, 0), dict(dim=1, start=10)),
    ((4, 4), (4, 0), dict(dim=1, start=3, end=1)),
    ((4, 4), (4, 3), dict(dim=1, start=1, end=100)),
    ((4, 4), (2, 4), dict(start=-10, end=2)),
    ((3, 5, 2), (3, 2, 2), dict(dim=1, start=0, end=4, step=3)),
    ((0, 3), (0, 1), dict(dim=1, end=1)),
]


@pytest.mark.parametrize("ishape,sshape,kw", SLICE_CASES)
def test_slice_scatter(ishape: Tuple[int, ...], sshape: Tuple[int, ...], kw: dict) -> None:
    _grads_match(lambda i, s: gc.slice_scatter(i, s, **kw), lambda i, s: torch.slice_scatter(i, s, **kw),
                 _rand(ishape), _rand(sshape, 1))
    _grads_match(lambda i, s: i.slice_scatter(s, **kw), lambda i, s: i.slice_scatter(s, **kw),
                 _rand(ishape), _rand(sshape, 1))


def test_slice_scatter_dtypes_and_errors() -> None:
    z = np.zeros((4, 4), dtype=np.float32)
    for src in [np.ones((4, 4)), np.ones((4, 4), dtype=np.int64)]:
        _same(gc.slice_scatter(gc.tensor(z), gc.tensor(src)), torch.slice_scatter(torch.tensor(z), torch.tensor(src)))
    _same(gc.slice_scatter(gc.tensor(z.astype(np.int64)), gc.ones(4, 4)),
          torch.slice_scatter(torch.tensor(z.astype(np.int64)), torch.ones(4, 4)))
    _same(gc.tensor(z).slice_scatter(gc.ones(2, 4), 0, 2), torch.tensor(z).slice_scatter(torch.ones(2, 4), 0, 2))
    for sshape, kw in [((2, 4), {}), ((4, 3), dict(dim=1)), ((4,), dict(dim=1)), ((2, 4), dict(step=0)),
                       ((2, 4), dict(step=-1)), ((2, 4), dict(dim=2)), ((4, 1), dict(dim=1, start=10))]:
        _raises_like(lambda: gc.slice_scatter(gc.tensor(z), gc.ones(*sshape), **kw),
                     lambda: torch.slice_scatter(torch.tensor(z), torch.ones(*sshape), **kw))
    _raises_like(lambda: gc.slice_scatter(gc.zeros(()), gc.ones(())),
                 lambda: torch.slice_scatter(torch.zeros(()), torch.ones(())))


@pytest.mark.parametrize("ishape,dim,index", [((4, 4), 0, 1), ((4, 4), 1, -1), ((2, 3, 4), 2, 0), ((3,), 0, 2),
                                              ((2, 0), 0, 1)])
def test_select_scatter(ishape: Tuple[int, ...], dim: int, index: int) -> None:
    sshape = ishape[:dim] + ishape[dim + 1:]
    _grads_match(lambda i, s: gc.select_scatter(i, s, dim, index),
                 lambda i, s: torch.select_scatter(i, s, dim, index), _rand(ishape), _rand(sshape, 1))
    _grads_match(lambda i, s: i.select_scatter(s, dim, index), lambda i, s: i.select_scatter(s, dim, index),
                 _rand(ishape), _rand(sshape, 1))


def test_select_scatter_errors_and_dtypes() -> None:
    z = np.zeros((4, 4), dtype=np.float32)
    _same(gc.select_scatter(gc.tensor(z), gc.ones(4, dtype=gc.float64), 1, 0),
          torch.select_scatter(torch.tensor(z), torch.ones(4, dtype=torch.float64), 1, 0))
    _same(gc.select_scatter(gc.tensor(z), gc.ones(4), 1, gc.tensor(1)),
          torch.select_scatter(torch.tensor(z), torch.ones(4), 1, torch.tensor(1)))
    for sshape, dim, index in [((4,), 1, 4), ((4,), 1, -5), ((3,), 1, 0), ((1, 4), 1, 0), ((), 1, 0), ((4,), 2, 0)]:
        _raises_like(lambda: gc.select_scatter(gc.tensor(z), gc.ones(sshape), dim, index),
                     lambda: torch.select_scatter(torch.tensor(z), torch.ones(sshape), dim, index))
    _raises_like(lambda: gc.select_scatter(gc.zeros(()), gc.ones(()), 0, 0),
                 lambda: torch.select_scatter(torch.zeros(()), torch.ones(()), 0, 0))


@pytest.mark.parametrize("ishape,offset,d1,d2", [((3, 4), 0, 0, 1), ((3, 4), 1, 0, 1), ((3, 4), -1, 0, 1),
                                                 ((3, 4), 5, 0, 1), ((2, 3, 4), 0, 0, 1), ((2, 3, 4), 1, 2, 0),
                                                 ((2, 3, 4), -1, -1, 1), ((3, 4), 0, 1, 0), ((0, 3), 0, 0, 1)])
def test_diagonal_scatter(ishape: Tuple[int, ...], offset: int, d1: int, d2: int) -> None:
    sshape = tuple(torch.zeros(ishape).diagonal(offset, d1, d2).shape)
    _grads_match(lambda i, s: gc.diagonal_scatter(i, s, offset, d1, d2),
                 lambda i, s: torch.diagonal_scatter(i, s, offset, d1, d2), _rand(ishape), _rand(sshape, 1))
    assert gc.diagonal_scatter(gc.zeros(ishape), gc.ones(sshape), offset, d1, d2).is_contiguous()
    _grads_match(lambda i, s: i.diagonal_scatter(s, offset=offset, dim1=d1, dim2=d2),
                 lambda i, s: i.diagonal_scatter(s, offset=offset, dim1=d1, dim2=d2), _rand(ishape), _rand(sshape, 1))


def test_scatters_gradcheck_and_src_only_grad() -> None:
    i = gc.tensor(_rand((3, 4)), requires_grad=True)
    s = gc.tensor(_rand((3, 2), 1), requires_grad=True)
    assert gc.autograd.gradcheck(lambda i, s: gc.slice_scatter(i, s, 1, 1, None, 2), (i, s))
    assert gc.autograd.gradcheck(lambda i, s: gc.diagonal_scatter(i, s[:, 0], 1), (i, s))
    assert gc.autograd.gradcheck(lambda i, s: gc.select_scatter(i, s[:, 1], 1, 2), (i, s))
    # only src requires grad: the result still does, and src gets its region's gradient
    out = gc.diagonal_scatter(gc.zeros(3, 4, dtype=gc.float64), s[:, 0])
    assert out.requires_grad
    (out * gc.tensor(_rand((3, 4), 5))).sum().backward()
    np.testing.assert_allclose(s.grad.numpy()[:, 0], np.diagonal(_rand((3, 4), 5)))


def test_diagonal_scatter_errors_and_dtypes() -> None:
    z = np.zeros((3, 4), dtype=np.float32)
    _same(gc.diagonal_scatter(gc.tensor(z), gc.ones(3, dtype=gc.float64)),
          torch.diagonal_scatter(torch.tensor(z), torch.ones(3, dtype=torch.float64)))
    _same(gc.diagonal_scatter(gc.tensor(z), gc.ones(0), 5), torch.diagonal_scatter(torch.tensor(z), torch.ones(0), 5))
    for sshape, args in [((2,), (5,)), ((4,), ()), ((1,), ()), ((3,), (0, 0, 0)), ((3,), (0, 0, 2))]:
        _raises_like(lambda: gc.diagonal_scatter(gc.tensor(z), gc.ones(*sshape), *args),
                     lambda: torch.diagonal_scatter(torch.tensor(z), torch.ones(*sshape), *args))
    _raises_like(lambda: gc.diagonal_scatter(gc.zeros(3), gc.ones(3)),
                 lambda: torch.diagonal_scatter(torch.zeros(3), torch.ones(3)))


# ---- einsum sublists ----
def test_einsum_sublist_matches_torch() -> None:
    a, b, c = _rand((2, 3)), _rand((3, 4), 1), _rand((5, 2, 3), 2)
    cases: list = [
        lambda A, B, C: (A, [0, 1], B, [1, 2], [0, 2]),
        lambda A, B, C: (A, [0, 1], B, [1, 2]),
        lambda A, B, C: (A, [0, 1]),
        lambda A, B, C: (A, [1, 0]),
        lambda A, B, C: (A, [0, 1], []),
        lambda A, B, C: (A, [Ellipsis, 1], B, [1, 2], [Ellipsis, 2]),
        lambda A, B, C: (C, [Ellipsis, 0, 1], B, [1, 2]),
        lambda A, B, C: (C, [25, 0, 51], A, [0, 51], [25]),
        lambda A, B, C: (A, (0, True)),
        lambda A, B, C: (A, [0, 1], B, [1, 2], C, [3, 0, 1], [3, 2]),
    ]
    for case in cases:
        ga, gb, gcc = (gc.tensor(x, requires_grad=True) for x in (a, b, c))
        ta, tb, tc = (torch.tensor(x, requires_grad=True) for x in (a, b, c))
        go, to = gc.einsum(*case(ga, gb, gcc)), torch.einsum(*case(ta, tb, tc))
        _close(go, to)
        go.sum().backward()
        to.sum().backward()
        for g, t in ((ga, ta), (gb, tb), (gcc, tc)):
            assert (g.grad is None) == (t.grad is None)
            if t.grad is not None:
                _close(g.grad, t.grad)
    # the string forms still work
    _close(gc.einsum("ij,jk->ik", gc.tensor(a), gc.tensor(b)), torch.einsum("ij,jk->ik", torch.tensor(a),
                                                                          torch.tensor(b)))


def test_einsum_sublist_errors() -> None:
    a, b = np.ones((2, 3)), np.ones((3, 4))
    G, T = (gc.tensor(a), gc.tensor(b)), (torch.tensor(a), torch.tensor(b))
    cases: list = [
        lambda A, B: (A, [0, 52]), lambda A, B: (A, [0, -1]), lambda A, B: (A, [0, 1.0]), lambda A, B: (A,),
        lambda A, B: (A, [0]), lambda A, B: (A, [0, 1], B, [1, 2], [0, 0]), lambda A, B: (A, [0, 1], B, [1, 2], [3]),
        lambda A, B: (A, 0), lambda A, B: (A, [Ellipsis, 1], B, [1, Ellipsis]),
    ]
    for case in cases:
        _raises_like(lambda: gc.einsum(*case(*G)), lambda: torch.einsum(*case(*T)))


# ---- integer matmul ----
def _ints(shape: Tuple[int, ...], dtype: str, seed: int, lo: int = -100, hi: int = 100) -> np.ndarray:
    info = np.iinfo(dtype)
    return np.random.default_rng(seed).integers(max(lo, info.min), min(hi, info.max) + 1, shape).astype(dtype)


@pytest.mark.parametrize("dtype", INT_DTYPES)
@pytest.mark.parametrize("sa,sb", [((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 4)), ((2, 3), (3, 4)),
                                   ((5, 1, 2, 3), (4, 3, 2)), ((2, 0), (0, 3)), ((0, 3), (3, 2)), ((2, 2, 3), (3,))])
def test_int_matmul_values(dtype: str, sa: Tuple[int, ...], sb: Tuple[int, ...]) -> None:
    a, b = _ints(sa, dtype, 1), _ints(sb, dtype, 2)
    ga, gb, ta, tb = gc.tensor(a), gc.tensor(b), torch.tensor(a), torch.tensor(b)
    want = torch.matmul(ta, tb)
    _same(gc.matmul(ga, gb), want)
    _same(ga @ gb, want)
    _same(ga.matmul(gb), want)
    if len(sa) == 2 and len(sb) == 2:
        _same(gc.mm(ga, gb), torch.mm(ta, tb))
        _same(ga.mm(gb), torch.mm(ta, tb))
        _same(gc.mm(ga.t(), gb.t(), trans_a=True, trans_b=True), torch.mm(ta, tb))
        _same(gc.bmm(ga[None], gb[None]), torch.bmm(ta[None], tb[None]))
        _same(ga[None].bmm(gb[None]), torch.bmm(ta[None], tb[None]))


@pytest.mark.parametrize("dtype", INT_DTYPES)
def test_int_matmul_wraps_like_torch(dtype: str) -> None:
    info = np.iinfo(dtype)
    a, b = _ints((3, 7), dtype, 3, info.min, info.max), _ints((7, 2), dtype, 4, info.min, info.max)
    _same(gc.tensor(a) @ gc.tensor(b), torch.tensor(a) @ torch.tensor(b))
    g, t = gc.tensor(a), torch.tensor(a)
    g @= gc.tensor(b)
    t @= torch.tensor(b)
    _same(g, t)
    big = np.array([2**62, 2**62, 2**63 - 1])
    _same(gc.matmul(gc.tensor(big), gc.tensor([3, 5, 7])), torch.matmul(torch.tensor(big), torch.tensor([3, 5, 7])))


def test_int_matmul_blocks_over_k(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_linalg_ops, "_INT_MM_BLOCK", 7)  # several k-blocks, the last one partial
    a, b = _ints((2, 3, 10), "int64", 5, -10**12, 10**12), _ints((2, 10, 4), "int64", 6, -10**12, 10**12)
    _same(gc.bmm(gc.tensor(a), gc.tensor(b)), torch.bmm(torch.tensor(a), torch.tensor(b)))
    # exact above 2**53, where a float GEMM would round
    x = np.array([[2**53 + 1, 3]])
    _same(gc.mm(gc.tensor(x), gc.tensor(x.T.copy())), torch.mm(torch.tensor(x), torch.tensor(x.T.copy())))


def test_int_matmul_errors() -> None:
    x = np.array([[1, 2], [3, 4]])
    pairs: list = [
        (lambda L: L.matmul(L.tensor(x).bool(), L.tensor(x).bool())),
        (lambda L: L.mm(L.tensor(x).bool(), L.tensor(x).bool())),
        (lambda L: L.bmm(L.tensor(x).bool()[None], L.tensor(x).bool()[None])),
        (lambda L: L.matmul(L.tensor(x).bool()[0], L.tensor(x).bool()[0])),
        (lambda L: L.matmul(L.tensor(x).int(), L.tensor(x))),
        (lambda L: L.matmul(L.tensor(x), L.tensor(x).float())),
        (lambda L: L.tensor(x).float() @ L.tensor(x)),
        (lambda L: L.mm(L.tensor(x).int(), L.tensor(x))),
        (lambda L: L.bmm(L.tensor(x).int()[None], L.tensor(x)[None])),
        (lambda L: L.matmul(L.ones(2, 3, dtype=L.long), L.ones(4, 3, dtype=L.long))),
        (lambda L: L.mm(L.tensor(x), L.tensor(x)[0])),
        (lambda L: L.bmm(L.tensor(x), L.tensor(x))),
        (lambda L: L.bmm(L.ones(2, 2, 3, dtype=L.long), L.ones(3, 3, 2, dtype=L.long))),
        (lambda L: L.matmul(L.tensor(1), L.tensor(x))),
        (lambda L: L.matmul(L.ones(2, 2, 3, dtype=L.long), L.ones(3, 3, 2, dtype=L.long))),
    ]
    for f in pairs:
        _raises_like(lambda: f(gc), lambda: f(torch))


def test_float_matmul_unchanged() -> None:
    a, b = _rand((2, 3, 4)), _rand((4, 5), 1)
    _grads_match(lambda x, y: x @ y, lambda x, y: x @ y, a, b)
    _grads_match(lambda x, y: gc.matmul(x, y), lambda x, y: torch.matmul(x, y), a, b)
    _grads_match(lambda x, y: gc.mm(x, y), lambda x, y: torch.mm(x, y), a[0], b)
    _grads_match(lambda x, y: gc.bmm(x, y), lambda x, y: torch.bmm(x, y), a, _rand((2, 4, 3), 2))


@pytest.mark.parametrize("name", ["addmm", "baddbmm", "addbmm"])
def test_beta_zero_input_still_takes_part(name: str) -> None:
    # beta == 0 ignores input's values (NaN too) but input still gets a (zero) gradient
    shapes = {"addmm": [(2, 4), (2, 3), (3, 4)], "baddbmm": [(2, 2, 4), (2, 2, 3), (2, 3, 4)],
              "addbmm": [(2, 4), (5, 2, 3), (5, 3, 4)]}[name]
    arrays = [_rand(s, k) for k, s in enumerate(shapes)]
    arrays[0][0, ...] = np.nan
    gi = gc.tensor(arrays[0], requires_grad=True)
    ti = torch.tensor(arrays[0], requires_grad=True)
    go = getattr(gc, name)(gi, gc.tensor(arrays[1]), gc.tensor(arrays[2]), beta=0)
    to = getattr(torch, name)(ti, torch.tensor(arrays[1]), torch.tensor(arrays[2]), beta=0)
    _close(go, to)
    go.sum().backward()
    to.sum().backward()
    _close(gi.grad, ti.grad)


def test_copy_of_a_leaf_routes_the_gradient_to_it() -> None:
    # dst.copy_(leaf) (and fill_ with a 0-dim leaf) used to leave dst a leaf that requires grad,
    # so the gradient stopped at dst (addbmm_ and other Python in-place ops write through copy_)
    for lib in (gc, torch):
        s = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        v = lib.tensor(2.0, requires_grad=True)
        z = lib.zeros(3)
        z.copy_(s)
        w = lib.zeros(2)
        w.fill_(v)
        assert not z.is_leaf and not w.is_leaf
        ((z * 2).sum() + w.sum()).backward()
        np.testing.assert_array_equal(s.grad.numpy(), [2.0, 2.0, 2.0])
        assert float(v.grad) == 2.0


# ---- every other product for integer (and bool) operands: einsum, tensordot, dot, mv, addmm, ... ----
_EINSUM_INT = [("ij,jk->ik", ((3, 4), (4, 5))), ("ij->i", ((3, 4),)), ("ij->", ((3, 4),)), ("ii->i", ((4, 4),)),
               ("ii", ((4, 4),)), ("i,i->", ((4,), (4,))), ("i,j->ij", ((4,), (3,))),
               ("bij,bjk->bik", ((2, 3, 4), (2, 4, 5))), ("ij,ij->ij", ((3, 4), (3, 4))),
               ("ij,ij->", ((3, 4), (3, 4))), ("ij,ij->i", ((3, 4), (3, 4))),
               ("ij,jk,kl->il", ((3, 4), (4, 5), (5, 2))), ("...j,jk->...k", ((2, 3, 4), (4, 5))),
               ("ij,kj->ik", ((3, 4), (2, 4))), ("ij,jk->ik", ((3, 1), (1, 4)))]


def _int_or_bool(shape: Tuple[int, ...], dtype: str, seed: int) -> np.ndarray:
    if dtype == "bool":
        return np.random.default_rng(seed).integers(0, 2, shape).astype(bool)
    return _ints(shape, dtype, seed, -100, 100)


def _agree(gfn: Callable[[], Any], tfn: Callable[[], Any]) -> None:
    """Both give the same values and dtype, or both raise the same exception type."""
    try:
        want = tfn()
    except Exception as e:  # noqa: BLE001 - any of torch's exceptions is the oracle
        with pytest.raises(type(e)):
            gfn()
        return
    _same(gfn(), want)


@pytest.mark.parametrize("dtype", INT_DTYPES + ["bool"])
@pytest.mark.parametrize("eq,shapes", _EINSUM_INT, ids=[f"{e}:{len(s)}" for e, s in _EINSUM_INT])
def test_int_einsum(dtype: str, eq: str, shapes: Tuple[Tuple[int, ...], ...]) -> None:
    xs = [_int_or_bool(s, dtype, i) for i, s in enumerate(shapes)]
    _agree(lambda: gc.einsum(eq, *[gc.tensor(x) for x in xs]), lambda: torch.einsum(eq, *[torch.tensor(x) for x in xs]))


_INT_PRODUCTS: list = [
    ("tensordot", lambda L, a, b, v, w, c, d, i, ib, s: L.tensordot(c, d, dims=([2], [1]))),
    ("tensordot1", lambda L, a, b, v, w, c, d, i, ib, s: L.tensordot(a, b, 1)),
    ("dot", lambda L, a, b, v, w, c, d, i, ib, s: L.dot(v, w)),
    ("vdot", lambda L, a, b, v, w, c, d, i, ib, s: L.vdot(v, w)),
    ("mv", lambda L, a, b, v, w, c, d, i, ib, s: L.mv(a, v)),
    ("inner", lambda L, a, b, v, w, c, d, i, ib, s: L.inner(a, a)),
    ("outer", lambda L, a, b, v, w, c, d, i, ib, s: L.outer(v, w)),
    ("kron", lambda L, a, b, v, w, c, d, i, ib, s: L.kron(a, a)),
    ("multi_dot", lambda L, a, b, v, w, c, d, i, ib, s: L.linalg.multi_dot([a, b])),
    ("linalg.matmul", lambda L, a, b, v, w, c, d, i, ib, s: L.linalg.matmul(c, d)),
    ("Tensor.dot", lambda L, a, b, v, w, c, d, i, ib, s: v.dot(w)),
    ("Tensor.mv", lambda L, a, b, v, w, c, d, i, ib, s: a.mv(v)),
] + [
    (f"{name} alpha={al} beta={be}", fn) for al, be in [(1, 1), (2, 3), (2.7, 0.5), (0, 1), (3, 0)]
    for name, fn in [
        ("addmm", lambda L, a, b, v, w, c, d, i, ib, s, al=al, be=be: L.addmm(i, a, b, alpha=al, beta=be)),
        ("baddbmm", lambda L, a, b, v, w, c, d, i, ib, s, al=al, be=be: L.baddbmm(ib, c, d, alpha=al, beta=be)),
        ("addbmm", lambda L, a, b, v, w, c, d, i, ib, s, al=al, be=be: L.addbmm(i, c, d, alpha=al, beta=be)),
        ("addmv", lambda L, a, b, v, w, c, d, i, ib, s, al=al, be=be: L.addmv(a[:, 0], a, v, alpha=al, beta=be)),
        ("addr", lambda L, a, b, v, w, c, d, i, ib, s, al=al, be=be: L.addr(s, v, w, alpha=al, beta=be)),
        ("Tensor.addmm", lambda L, a, b, v, w, c, d, i, ib, s, al=al, be=be: i.addmm(a, b, alpha=al, beta=be)),
    ]
]


@pytest.mark.parametrize("dtype", INT_DTYPES + ["bool"])
@pytest.mark.parametrize("name,fn", _INT_PRODUCTS, ids=[n for n, _ in _INT_PRODUCTS])
def test_int_products(dtype: str, name: str, fn: Callable[..., Any]) -> None:
    shapes = [(3, 4), (4, 5), (4,), (4,), (2, 3, 4), (2, 4, 5), (3, 5), (2, 3, 5), (4, 4)]
    xs = [_int_or_bool(s, dtype, i) for i, s in enumerate(shapes)]
    _agree(lambda: fn(gc, *[gc.tensor(x) for x in xs]), lambda: fn(torch, *[torch.tensor(x) for x in xs]))
