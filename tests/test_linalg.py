"""Linear algebra (issue 12): matmul's full rules, bmm / baddbmm / addmm / addmv / addr, dot,
vdot, outer, inner, tensordot, einsum, kron, chain_matmul, and gradcore.linalg, against torch.

Gradients of every op here are checked by the op_table rows (gradcheck, gradgradcheck, forward
mode, NaN/inf against torch); this file checks values, dtypes, shapes (hypothesis for the
broadcasting rules), 0-size batches and k = 0, thread-count bitwise independence, no copies of
broadcast operands, and the exception types torch raises for bad input.
"""
from __future__ import annotations

import itertools
from typing import Any, List, Tuple

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import gradcore as gc

torch = pytest.importorskip("torch")


def _t(a: np.ndarray) -> Any:
    return torch.from_numpy(np.array(a, order="C"))


def _g(a: np.ndarray) -> gc.Tensor:
    return gc.from_numpy(np.array(a, order="C"))


def _close(got: gc.Tensor, want: Any, rtol: float = 1e-5, atol: float = 1e-5) -> None:
    g = got.detach().numpy()
    w = want.detach().numpy()
    assert g.shape == w.shape, (g.shape, w.shape)
    assert g.dtype == w.dtype, (g.dtype, w.dtype)
    np.testing.assert_allclose(g, w, rtol=rtol, atol=atol)


RNG = np.random.default_rng(12)


def _rand(*shape: int, dtype: Any = np.float32) -> np.ndarray:
    return RNG.standard_normal(shape).astype(dtype)


# ---------------------------------------------------------------------------------------
# matmul: every rank combination, broadcasting, layouts
# ---------------------------------------------------------------------------------------

@st.composite
def _matmul_shapes(draw: Any) -> Tuple[Tuple[int, ...], Tuple[int, ...]]:
    m, k, n = (draw(st.integers(0, 5)) for _ in range(3))
    na, nb = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    nbatch = max(na, nb) - 2
    batch = [draw(st.integers(0, 3)) for _ in range(max(nbatch, 0))]

    def side(nd: int, tail: List[int]) -> Tuple[int, ...]:
        if nd == 1:
            return (tail[0] if len(tail) == 1 else k,)
        lead = batch[len(batch) - (nd - 2):] if nd > 2 else []
        lead = [1 if draw(st.booleans()) else s for s in lead]  # size-1 dims broadcast
        return tuple(lead) + tuple(tail)
    a = side(na, [m, k]) if na > 1 else (k,)
    b = side(nb, [k, n]) if nb > 1 else (k,)
    return a, b


@settings(max_examples=120, deadline=None)
@given(_matmul_shapes(), st.booleans(), st.booleans(), st.sampled_from([np.float32, np.float64]))
def test_matmul_matches_torch_for_any_ranks(shapes: Any, ta: bool, tb: bool, dt: Any) -> None:
    sa, sb = shapes
    rng = np.random.default_rng(abs(hash((sa, sb))) % 2**32)
    # stored with the last two dims swapped when ta/tb: the operand is a transposed view
    A = rng.standard_normal(sa).astype(dt)
    B = rng.standard_normal(sb).astype(dt)
    ga, gb = _g(A), _g(B)
    if ta and A.ndim >= 2:
        ga = _g(np.swapaxes(A, -1, -2)).transpose(-1, -2)
    if tb and B.ndim >= 2:
        gb = _g(np.swapaxes(B, -1, -2)).transpose(-1, -2)
    want = torch.matmul(_t(A), _t(B))
    _close(gc.matmul(ga, gb), want, 1e-4, 1e-4)
    _close(ga @ gb, want, 1e-4, 1e-4)


def test_matmul_broadcast_batch_is_not_copied_and_grads_sum() -> None:
    A = _rand(1, 3, 4, 5)
    B = _rand(6, 1, 5, 2)
    ga = gc.tensor(A, requires_grad=True)
    gb = gc.tensor(B, requires_grad=True)
    ta, tb = _t(A).requires_grad_(), _t(B).requires_grad_()
    out = ga @ gb
    tout = ta @ tb
    _close(out, tout)
    up = _rand(*out.shape)
    out.backward(_g(up))
    tout.backward(_t(up))
    _close(ga.grad, ta.grad, 1e-4, 1e-4)
    _close(gb.grad, tb.grad, 1e-4, 1e-4)
    # an expanded (stride 0) batch operand gives the same values as its materialised copy
    e = _g(A).expand(6, 3, 4, 5)
    np.testing.assert_array_equal((e @ _g(B)).numpy(), (_g(np.ascontiguousarray(np.broadcast_to(A, (6, 3, 4, 5))))
                                                         @ _g(B)).numpy())


@pytest.mark.parametrize("sa,sb", [((2, 3, 4), (4,)), ((4,), (2, 4, 3)), ((3,), (5, 2, 3, 1)), ((2, 1, 3, 4), (4, 2)),
                                   ((5, 4), (3, 4, 2)), ((2, 3, 4), (2, 4, 5))])
def test_matmul_1d_nd_and_grad(sa: Tuple[int, ...], sb: Tuple[int, ...]) -> None:
    A, B = _rand(*sa, dtype=np.float64), _rand(*sb, dtype=np.float64)
    ga, gb = gc.tensor(A, requires_grad=True), gc.tensor(B, requires_grad=True)
    ta, tb = _t(A).requires_grad_(), _t(B).requires_grad_()
    out, tout = gc.matmul(ga, gb), torch.matmul(ta, tb)
    _close(out, tout, 1e-12, 1e-12)
    out.sum().backward()
    tout.sum().backward()
    _close(ga.grad, ta.grad, 1e-12, 1e-12)
    _close(gb.grad, tb.grad, 1e-12, 1e-12)


@pytest.mark.parametrize("sa,sb", [((0, 3, 4), (4, 5)), ((2, 3, 0), (2, 0, 5)), ((2, 0, 3), (1, 3, 4)),
                                   ((0, 2, 3), (0, 3, 1)), ((3, 1, 0), (0,)), ((2, 3, 0), (0, 4))])
def test_matmul_zero_sizes(sa: Tuple[int, ...], sb: Tuple[int, ...]) -> None:
    A, B = _rand(*sa), _rand(*sb)
    ga, gb = gc.tensor(A, requires_grad=True), gc.tensor(B, requires_grad=True)
    out = gc.matmul(ga, gb)
    _close(out, torch.matmul(_t(A), _t(B)))
    out.sum().backward()
    assert ga.grad.shape == ga.shape and gb.grad.shape == gb.shape
    assert not np.any(ga.grad.numpy()) and not np.any(gb.grad.numpy())


def test_batched_matmul_bitwise_independent_of_threads() -> None:
    A = _rand(16, 48, 40)
    B = _rand(16, 40, 56)
    C = _rand(3, 1, 200, 160)
    D = _rand(1, 4, 160, 180)
    n0 = gc.get_num_threads()
    try:
        outs = []
        for nt in (1, 2, 3):
            gc.set_num_threads(nt)
            outs.append(((_g(A) @ _g(B)).numpy().copy(), (_g(C) @ _g(D)).numpy().copy(),
                         (_g(A).transpose(-1, -2).transpose(-1, -2) @ _g(B)).numpy().copy()))
    finally:
        gc.set_num_threads(n0)
    for o in outs[1:]:
        for x, y in zip(outs[0], o):
            np.testing.assert_array_equal(x, y)
    np.testing.assert_allclose(outs[0][0], A @ B, rtol=1e-4, atol=1e-4)


def test_matmul_errors_match_torch() -> None:
    cases = [((2, 3, 4), (2, 5, 4)), ((2, 3, 4), (3, 4, 5)), ((3,), (4,)), ((2, 3), (4,)), ((3,), (4, 5)),
             ((), (4, 5)), ((2, 2, 3), (4,))]
    for sa, sb in cases:
        with pytest.raises(RuntimeError):
            torch.matmul(torch.ones(sa), torch.ones(sb))
        with pytest.raises(RuntimeError):
            gc.matmul(gc.ones(*sa) if sa else gc.tensor(1.0), gc.ones(*sb))
    with pytest.raises(RuntimeError):
        gc.matmul(gc.ones(2, 3), gc.ones(3, 2, dtype=gc.float64))


# ---------------------------------------------------------------------------------------
# bmm and the add* family
# ---------------------------------------------------------------------------------------

def test_bmm_values_and_errors() -> None:
    A, B = _rand(3, 4, 5), _rand(3, 5, 2)
    _close(gc.bmm(_g(A), _g(B)), torch.bmm(_t(A), _t(B)))
    _close(_g(A).bmm(_g(B)), torch.bmm(_t(A), _t(B)))
    _close(gc.bmm(_g(np.swapaxes(A, 1, 2).copy()).transpose(1, 2), _g(B)), torch.bmm(_t(A), _t(B)))
    for sa, sb in [((2, 3), (2, 3, 4)), ((2, 3, 4), (3, 4, 4)), ((2, 3, 4), (2, 5, 4)), ((2, 3, 4), (4, 4))]:
        with pytest.raises(RuntimeError):
            torch.bmm(torch.ones(sa), torch.ones(sb))
        with pytest.raises(RuntimeError):
            gc.bmm(gc.ones(*sa), gc.ones(*sb))
    _close(gc.bmm(_g(_rand(0, 2, 3)), _g(_rand(0, 3, 4))), torch.bmm(_t(_rand(0, 2, 3)), _t(_rand(0, 3, 4))))


@pytest.mark.parametrize("beta,alpha", [(1, 1), (0.5, 2.0), (0, 1.5), (2, 0)])
def test_add_family(beta: float, alpha: float) -> None:
    inp, m1, m2 = _rand(3, 1), _rand(3, 4), _rand(4, 5)
    _close(gc.addmm(_g(inp), _g(m1), _g(m2), beta=beta, alpha=alpha),
           torch.addmm(_t(inp), _t(m1), _t(m2), beta=beta, alpha=alpha))
    _close(_g(inp).addmm(_g(m1), _g(m2), beta=beta, alpha=alpha),
           _t(inp).addmm(_t(m1), _t(m2), beta=beta, alpha=alpha))
    v, M, x = _rand(3), _rand(3, 4), _rand(4)
    _close(gc.addmv(_g(v), _g(M), _g(x), beta=beta, alpha=alpha),
           torch.addmv(_t(v), _t(M), _t(x), beta=beta, alpha=alpha))
    a, b = _rand(5), _rand(3)
    base = _rand(5, 3)
    _close(gc.addr(_g(base), _g(a), _g(b), beta=beta, alpha=alpha),
           torch.addr(_t(base), _t(a), _t(b), beta=beta, alpha=alpha))
    inp3, b1, b2 = _rand(1, 3, 5), _rand(2, 3, 4), _rand(2, 4, 5)
    _close(gc.baddbmm(_g(inp3), _g(b1), _g(b2), beta=beta, alpha=alpha),
           torch.baddbmm(_t(inp3), _t(b1), _t(b2), beta=beta, alpha=alpha))


def test_beta_zero_ignores_nan_input() -> None:
    inp = np.full((3, 5), np.nan, np.float32)
    m1, m2 = _rand(3, 4), _rand(4, 5)
    _close(gc.addmm(_g(inp), _g(m1), _g(m2), beta=0), torch.addmm(_t(inp), _t(m1), _t(m2), beta=0))


# ---------------------------------------------------------------------------------------
# vector products, tensordot, kron
# ---------------------------------------------------------------------------------------

def test_vector_products() -> None:
    a, b = _rand(5, dtype=np.float64), _rand(5, dtype=np.float64)
    _close(gc.dot(_g(a), _g(b)), torch.dot(_t(a), _t(b)), 1e-12, 1e-12)
    _close(_g(a).dot(_g(b)), torch.dot(_t(a), _t(b)), 1e-12, 1e-12)
    _close(gc.vdot(_g(a), _g(b)), torch.vdot(_t(a), _t(b)), 1e-12, 1e-12)
    _close(gc.outer(_g(a), _g(b[:3])), torch.outer(_t(a), _t(b[:3])), 1e-12, 1e-12)
    _close(gc.ger(_g(a), _g(b)), torch.ger(_t(a), _t(b)), 1e-12, 1e-12)
    M = _rand(3, 5, dtype=np.float64)
    _close(gc.mv(_g(M), _g(a)), torch.mv(_t(M), _t(a)), 1e-12, 1e-12)
    _close(_g(M).mv(_g(a)), torch.mv(_t(M), _t(a)), 1e-12, 1e-12)
    X, Y = _rand(2, 3, 4, dtype=np.float64), _rand(5, 4, dtype=np.float64)
    _close(gc.inner(_g(X), _g(Y)), torch.inner(_t(X), _t(Y)), 1e-12, 1e-12)
    _close(gc.inner(_g(a), _g(b)), torch.inner(_t(a), _t(b)), 1e-12, 1e-12)
    s = np.array(2.5)
    _close(gc.inner(_g(s), _g(X)), torch.inner(_t(s), _t(X)), 1e-12, 1e-12)
    for f, tf, args in [(gc.dot, torch.dot, [(3,), (4,)]), (gc.dot, torch.dot, [(3, 1), (3,)]),
                        (gc.mv, torch.mv, [(2, 3), (4,)]), (gc.inner, torch.inner, [(2, 3), (4, 2)]),
                        (gc.outer, torch.outer, [(2, 3), (3,)])]:
        with pytest.raises(RuntimeError):
            tf(*[torch.ones(s) for s in args])
        with pytest.raises(RuntimeError):
            f(*[gc.ones(*s) for s in args])


@pytest.mark.parametrize("sa,sb,dims", [((2, 3, 4), (3, 4, 5), 2), ((2, 3), (3, 4), 1), ((2, 3), (4, 5), 0),
                                        ((2, 3, 4), (4, 2, 5), ([0, 2], [1, 0])), ((3, 4), (4, 3), ([1, 0], [0, 1])),
                                        ((2, 3, 4), (2, 3, 4), 3), ((0, 3), (3, 2), 1), ((2, 0), (0, 3), 1)])
def test_tensordot(sa: Any, sb: Any, dims: Any) -> None:
    A, B = _rand(*sa, dtype=np.float64), _rand(*sb, dtype=np.float64)
    _close(gc.tensordot(_g(A), _g(B), dims=dims), torch.tensordot(_t(A), _t(B), dims=dims), 1e-12, 1e-12)


def test_tensordot_errors() -> None:
    for sa, sb, dims in [((2, 3), (4, 3), 1), ((2, 3), (4, 3), ([1], [1, 0])), ((2, 3), (3, 4), -1)]:
        with pytest.raises(RuntimeError):
            torch.tensordot(torch.ones(sa), torch.ones(sb), dims=dims)
        with pytest.raises(RuntimeError):
            gc.tensordot(gc.ones(*sa), gc.ones(*sb), dims=dims)


@pytest.mark.parametrize("sa,sb", [((2, 3), (4, 5)), ((3,), (2,)), ((2, 1, 3), (4, 2)), ((2,), (3, 2, 2)), ((), (3,)),
                                   ((0, 2), (3, 1))])
def test_kron(sa: Any, sb: Any) -> None:
    A, B = _rand(*sa, dtype=np.float64), _rand(*sb, dtype=np.float64)
    _close(gc.kron(_g(A), _g(B)), torch.kron(_t(A), _t(B)), 1e-12, 1e-12)
    np.testing.assert_allclose(gc.kron(_g(A), _g(B)).numpy(), np.kron(A, B), rtol=1e-12)


def test_chain_matmul_and_multi_dot() -> None:
    ms = [_rand(2, 3, dtype=np.float64), _rand(3, 4, dtype=np.float64), _rand(4, 2, dtype=np.float64)]
    want = torch.linalg.multi_dot([_t(m) for m in ms])
    _close(gc.linalg.multi_dot([_g(m) for m in ms]), want, 1e-12, 1e-12)
    _close(gc.chain_matmul(*[_g(m) for m in ms]), want, 1e-12, 1e-12)
    v1, v2 = _rand(2, dtype=np.float64), _rand(2, dtype=np.float64)
    _close(gc.linalg.multi_dot([_g(v1)] + [_g(m) for m in ms] + [_g(v2)]),
           torch.linalg.multi_dot([_t(v1)] + [_t(m) for m in ms] + [_t(v2)]), 1e-12, 1e-12)
    with pytest.raises(RuntimeError):
        gc.linalg.multi_dot([_g(ms[0])])
    with pytest.raises(RuntimeError):
        torch.linalg.multi_dot([_t(ms[0])])


# ---------------------------------------------------------------------------------------
# einsum
# ---------------------------------------------------------------------------------------

EINSUM_CASES = [
    ("ij,jk->ik", [(2, 3), (3, 4)]), ("ij,jk", [(2, 3), (3, 4)]), ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("bhtd,bhsd->bhts", [(2, 3, 4, 5), (2, 3, 6, 5)]), ("ii->i", [(4, 4)]), ("ii", [(4, 4)]), ("ij->", [(2, 3)]),
    ("ij->ji", [(2, 3)]), ("i,i->", [(5,), (5,)]), ("i,j->ij", [(3,), (4,)]), ("...ij,...jk->...ik", [(2, 1, 3, 4), (5, 4, 2)]),
    ("...ii->...i", [(2, 3, 3)]), ("i...->...", [(3, 2, 4)]), ("ab,bc,cd->ad", [(2, 3), (3, 4), (4, 5)]),
    ("iij,jk->ik", [(3, 3, 2), (2, 4)]), ("ijk,ikl,ilm->jm", [(2, 3, 4), (2, 4, 5), (2, 5, 6)]),
    ("bn,anm,bm->ba", [(3, 4), (2, 4, 5), (3, 5)]), ("ba", [(2, 3)]), ("Ab,bA->", [(2, 3), (3, 2)]),
    ("i j , j k -> i k", [(2, 3), (3, 4)]), ("ij,ij->ij", [(2, 3), (2, 3)]), ("ij,kj->ik", [(2, 0), (3, 0)]),
    ("ij,jk->ik", [(0, 3), (3, 2)]), ("ij,j->i", [(3, 1), (4,)]), ("bij,bjk->bik", [(1, 2, 3), (4, 3, 2)]),
    ("iji->j", [(2, 3, 2)]), ("...", [(2, 3)]), ("ij->...", [(2, 3)]), ("Ba", [(2, 3)]), ("bA", [(2, 3)]), ("i,i,i->i", [(3,), (3,), (3,)]),
]


@pytest.mark.parametrize("eq,shapes", EINSUM_CASES)
def test_einsum_matches_torch(eq: str, shapes: List[Tuple[int, ...]]) -> None:
    arrs = [_rand(*s, dtype=np.float64) for s in shapes]
    want = torch.einsum(eq, *[_t(a) for a in arrs])
    _close(gc.einsum(eq, *[_g(a) for a in arrs]), want, 1e-12, 1e-12)
    _close(gc.einsum(eq, [_g(a) for a in arrs]), want, 1e-12, 1e-12)
    # gradients against torch
    gs = [gc.tensor(a, dtype=gc.float64, requires_grad=True) for a in arrs]
    ts = [_t(a).requires_grad_() for a in arrs]
    out, tout = gc.einsum(eq, *gs), torch.einsum(eq, *ts)
    if tout.numel():
        up = np.random.default_rng(1).standard_normal(tuple(tout.shape))
        gg = gc.grad([out], gs, [_g(up)])
        tg = torch.autograd.grad([tout], ts, [_t(up)])
        for a, b in zip(gg, tg):
            _close(a, b, 1e-12, 1e-12)


def test_einsum_float32_close_to_matmul() -> None:
    q, k = _rand(2, 3, 7, 5), _rand(2, 3, 6, 5)
    np.testing.assert_array_equal(gc.einsum("bhtd,bhsd->bhts", _g(q), _g(k)).numpy(),
                                  (_g(q) @ _g(k).transpose(-1, -2)).numpy())


@pytest.mark.parametrize("eq,shapes", [
    ("ij,jk", [(2, 3)]), ("ij", [(2, 3), (3, 2)]), ("ij,jk->ik", [(2, 3), (4, 2)]), ("ij->k", [(2, 3)]),
    ("i1->i", [(2, 3)]), ("ijk->i", [(2, 3)]), ("ij->ii", [(2, 3)]), ("ii->i", [(2, 3)]),
    ("ij,jk->ik->", [(2, 3), (3, 3)]), ("i.j->i", [(2, 3)]), ("...i...->i", [(2, 3)])
])
def test_einsum_errors_match_torch(eq: str, shapes: List[Tuple[int, ...]]) -> None:
    with pytest.raises(RuntimeError) as te:
        torch.einsum(eq, *[torch.ones(s) for s in shapes])
    with pytest.raises(type(te.value)):
        gc.einsum(eq, *[gc.ones(*s) for s in shapes])


# ---------------------------------------------------------------------------------------
# gradcore.linalg
# ---------------------------------------------------------------------------------------

def _spd(*shape: int, dtype: Any = np.float64) -> np.ndarray:
    a = RNG.standard_normal(shape)
    n = shape[-1]
    return (a @ np.swapaxes(a, -1, -2) + n * np.eye(n)).astype(dtype)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(3, 3), (2, 4, 4), (2, 1, 2, 2), (0, 3, 3)])
def test_linalg_values(dt: Any, shape: Tuple[int, ...]) -> None:
    tol = 1e-4 if dt == np.float32 else 1e-10
    A = _spd(*shape, dtype=dt)
    gA, tA = _g(A), _t(A)
    _close(gc.linalg.inv(gA), torch.linalg.inv(tA), tol, tol)
    _close(gc.inverse(gA), torch.inverse(tA), tol, tol)
    _close(gc.linalg.det(gA), torch.linalg.det(tA), tol, tol)
    _close(gc.det(gA), torch.det(tA), tol, tol)
    s, l = gc.linalg.slogdet(gA)
    ts, tl = torch.linalg.slogdet(tA)
    _close(s, ts, tol, tol)
    _close(l, tl, tol, tol)
    assert type(gc.linalg.slogdet(gA)).__name__ == type(torch.linalg.slogdet(tA)).__name__
    _close(gc.linalg.slogdet(gA).logabsdet, torch.linalg.slogdet(tA).logabsdet, tol, tol)
    _close(gc.linalg.cholesky(gA), torch.linalg.cholesky(tA), tol, tol)
    _close(gc.linalg.cholesky(gA, upper=True), torch.linalg.cholesky(tA, upper=True), tol, tol)
    _close(gc.cholesky(gA, True), torch.linalg.cholesky(tA, upper=True), tol, tol)  # torch.cholesky warns
    B = _rand(*shape[:-1], 2, dtype=dt)
    _close(gc.linalg.solve(gA, _g(B)), torch.linalg.solve(tA, _t(B)), tol, tol)
    b = _rand(*shape[:-1], dtype=dt)
    _close(gc.linalg.solve(gA, _g(b)), torch.linalg.solve(tA, _t(b)), tol, tol)
    Bl = _rand(*shape[:-2], 2, shape[-1], dtype=dt)
    _close(gc.linalg.solve(gA, _g(Bl), left=False), torch.linalg.solve(tA, _t(Bl), left=False), tol, tol)
    w, V = gc.linalg.eigh(gA)
    tw, tV = torch.linalg.eigh(tA)
    _close(w, tw, tol, tol)
    # eigenvectors up to sign: compare |V| and the reconstruction
    np.testing.assert_allclose(np.abs(V.numpy()), np.abs(tV.numpy()), rtol=tol * 10, atol=tol * 10)
    _close(gc.linalg.eigvalsh(gA, UPLO="U"), torch.linalg.eigvalsh(tA, UPLO="U"), tol, tol)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(3, 3), (4, 2), (2, 3, 5), (0, 3, 2)])
def test_linalg_svd_qr_values(dt: Any, shape: Tuple[int, ...]) -> None:
    tol = 1e-4 if dt == np.float32 else 1e-10
    A = _rand(*shape, dtype=dt)
    gA, tA = _g(A), _t(A)
    for full in (False, True):
        U, S, Vh = gc.linalg.svd(gA, full_matrices=full)
        tU, tS, tVh = torch.linalg.svd(tA, full_matrices=full)
        assert U.shape == tU.shape and Vh.shape == tVh.shape
        _close(S, tS, tol, tol)
        k = S.shape[-1]
        rec = (U.numpy()[..., :, :k] * S.numpy()[..., None, :]) @ Vh.numpy()[..., :k, :]
        np.testing.assert_allclose(rec, A, rtol=tol * 10, atol=tol * 10)
        # orthonormal columns / rows
        np.testing.assert_allclose(np.swapaxes(U.numpy(), -1, -2) @ U.numpy(), np.broadcast_to(np.eye(U.shape[-1]),
                                   tuple(U.shape[:-2]) + (U.shape[-1],) * 2), atol=tol * 10)
    _close(gc.linalg.svdvals(gA), torch.linalg.svdvals(tA), tol, tol)
    for mode in ("reduced", "complete"):
        Q, R = gc.linalg.qr(gA, mode=mode)
        tQ, tR = torch.linalg.qr(tA, mode=mode)
        assert Q.shape == tQ.shape and R.shape == tR.shape
        np.testing.assert_allclose(Q.numpy() @ R.numpy(), A, rtol=tol * 10, atol=tol * 10)
        np.testing.assert_allclose(np.abs(R.numpy()), np.abs(tR.numpy()), rtol=tol * 10, atol=tol * 10)
    _, R = gc.linalg.qr(gA, mode="r")
    np.testing.assert_allclose(np.abs(R.numpy()), np.abs(torch.linalg.qr(tA, mode="r")[1].numpy()), rtol=tol * 10,
                               atol=tol * 10)
    _close(gc.linalg.pinv(gA), torch.linalg.pinv(tA), tol * 10, tol * 10)


def test_linalg_errors_match_torch() -> None:
    sing = np.zeros((2, 2))
    for f, tf in [(gc.linalg.inv, torch.linalg.inv), (gc.linalg.cholesky, torch.linalg.cholesky),
                  (lambda a: gc.linalg.solve(a, gc.ones(2, dtype=gc.float64)),
                   lambda a: torch.linalg.solve(a, torch.ones(2, dtype=torch.float64)))]:
        with pytest.raises(torch.linalg.LinAlgError):
            tf(_t(sing))
        with pytest.raises(gc.linalg.LinAlgError):
            f(_g(sing))
    assert issubclass(gc.linalg.LinAlgError, RuntimeError)
    with pytest.raises(gc.linalg.LinAlgError):
        gc.linalg.cholesky(_g(-np.eye(2)))
    bad: List[Any] = [
        (lambda m: m.linalg.inv, (2, 3)), (lambda m: m.linalg.det, (2, 3)), (lambda m: m.linalg.inv, (3,)),
        (lambda m: (lambda a: m.linalg.eigh(a, UPLO="X")), (2, 2)),
        (lambda m: (lambda a: m.linalg.qr(a, mode="x")), (2, 2)),
        (lambda m: (lambda a: m.linalg.solve(a, a[:1])), (2, 2)),
    ]
    for get, shape in bad:
        with pytest.raises(RuntimeError):
            get(torch)(torch.ones(shape, dtype=torch.float64))
        with pytest.raises(RuntimeError):
            get(gc)(gc.ones(*shape, dtype=gc.float64))
    with pytest.raises(RuntimeError):
        torch.linalg.inv(torch.ones(2, 2, dtype=torch.int64))
    with pytest.raises(RuntimeError):
        gc.linalg.inv(gc.ones(2, 2, dtype=gc.int64))


def test_linalg_top_level_aliases_and_methods() -> None:
    A = _spd(3, 3)
    gA, tA = _g(A), _t(A)
    _close(gA.det(), tA.det(), 1e-10, 1e-10)
    _close(gA.inverse(), tA.inverse(), 1e-10, 1e-10)
    _close(gc.logdet(gA), torch.logdet(tA), 1e-10, 1e-10)
    _close(gc.logdet(-gA), torch.logdet(-tA), 1e-10, 1e-10)
    _close(gc.slogdet(gA)[1], torch.slogdet(tA)[1], 1e-10, 1e-10)
    _close(gc.linalg.matmul(gA, gA), torch.linalg.matmul(tA, tA), 1e-10, 1e-10)
    _close(gc.pinverse(gA), torch.pinverse(tA), 1e-8, 1e-8)


def test_det_gradient_at_a_singular_matrix_is_the_cofactor_matrix() -> None:
    """det's gradient where det is exactly 0: the cofactor matrix adj(A)^T (nonzero at rank
    n - 1, 0 at rank n - 2), not a LinAlgError and not 0. PyTorch 2.13 gives the same or 0,
    depending on whether its LAPACK's LU rounds det to exactly 0, so the oracle is the
    cofactor formula; next to it in the batch a regular matrix keeps det A^{-T} (PyTorch's)."""
    torch = pytest.importorskip("torch")
    m = np.array([[[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, 0.0, 1.0]], [[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [1.0, 0.0, 4.0]],
                  [[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [3.0, 6.0, 9.0]]])
    g = gc.tensor(m, requires_grad=True)
    gc.linalg.det(g).sum().backward()

    def cofactors(a: np.ndarray) -> np.ndarray:
        c = np.empty_like(a)
        for i in range(3):
            for j in range(3):
                c[i, j] = (-1) ** (i + j) * np.linalg.det(np.delete(np.delete(a, i, 0), j, 1))
        return c

    assert float(gc.linalg.det(gc.tensor(m[0]))) == 0.0
    np.testing.assert_allclose(g.grad.numpy()[0], cofactors(m[0]), rtol=1e-12, atol=1e-12)
    assert np.abs(g.grad.numpy()[0]).max() == pytest.approx(4.0)
    np.testing.assert_allclose(g.grad.numpy()[2], 0.0, atol=1e-12)   # rank 1: every cofactor is 0
    t = torch.tensor(m[1:2], requires_grad=True)
    torch.linalg.det(t).sum().backward()
    np.testing.assert_allclose(g.grad.numpy()[1], t.grad.numpy()[0], rtol=1e-12, atol=1e-12)
