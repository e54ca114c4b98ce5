"""nn.Embedding / F.embedding and nn.EmbeddingBag / F.embedding_bag (issue 16) against torch:
values and gradients (weight, per_sample_weights) over argument grids in float32 and float64,
max_norm renormalisation in place, double backward and forward mode of embedding, gradcheck,
bitwise equality for 1 and 2 threads, module attributes / reprs / init, and bad inputs with
torch's exception types and messages.

Blind spots: max-mode gradchecks use distinct values (a tie or NaN has no derivative);
sparse=True is refused when a gradient would be recorded (gradcore has no sparse tensors)."""
from __future__ import annotations

import itertools
from typing import Any, Dict, List, Optional

import numpy as np
import pytest

import gradcore as gc
import gradcore.nn as nn
import gradcore.nn.functional as F

torch = pytest.importorskip("torch")

DT = {np.float32: (gc.float32, torch.float32, 1e-5), np.float64: (gc.float64, torch.float64, 1e-12)}


def _pair(a: np.ndarray, dtype: Any, grad: bool = True) -> Any:
    g = gc.tensor(a, dtype=DT[dtype][0], requires_grad=grad)
    t = torch.tensor(a, dtype=DT[dtype][1], requires_grad=grad)
    return g, t


def _close(a: Any, b: Any, tol: float) -> None:
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=tol, atol=tol)


# ---- embedding ----

EMB_GRID = list(itertools.product([(7,), (2, 5), (3, 2, 4), ()], [None, 2, -1], [False, True],
                                  [np.float32, np.float64], ["int64", "int32"]))


@pytest.mark.parametrize("ishape,padding_idx,scale,dtype,itype", EMB_GRID)
def test_embedding_matches_torch(ishape: Any, padding_idx: Optional[int], scale: bool, dtype: Any, itype: str,
                                 rng: np.random.Generator) -> None:
    V, D = 6, 5
    w = rng.standard_normal((V, D))
    idx = rng.integers(0, V, size=ishape)
    if idx.size:
        idx.flat[0] = 2  # the padding row (and repeats) appear
    gw, tw = _pair(w, dtype)
    gi = gc.tensor(idx, dtype=getattr(gc, itype))
    ti = torch.tensor(idx, dtype=getattr(torch, itype))
    y = F.embedding(gi, gw, padding_idx=padding_idx, scale_grad_by_freq=scale)
    ty = torch.nn.functional.embedding(ti, tw, padding_idx=padding_idx, scale_grad_by_freq=scale)
    assert tuple(y.shape) == tuple(ty.shape) and y.grad_fn.name() == "EmbeddingBackward0"
    _close(y, ty, DT[dtype][2])
    g = rng.standard_normal(tuple(ty.shape))
    (y * gc.tensor(g, dtype=DT[dtype][0])).sum().backward()
    (ty * torch.tensor(g, dtype=DT[dtype][1])).sum().backward()
    _close(gw.grad, tw.grad, DT[dtype][2])


def test_embedding_max_norm_in_place() -> None:
    for nt in [2.0, 1.0, 3.0, float("inf")]:
        base = np.arange(24, dtype=np.float64).reshape(6, 4) - 10
        gw = gc.tensor(base, requires_grad=True)
        tw = torch.tensor(base, requires_grad=True)
        idx = [[1, 3], [3, 4]]
        y = F.embedding(gc.tensor(idx), gw, max_norm=2.0, norm_type=nt)
        ty = torch.nn.functional.embedding(torch.tensor(idx), tw, max_norm=2.0, norm_type=nt)
        _close(y, ty, 1e-12)
        _close(gw, tw, 1e-12)  # rows 1, 3, 4 renormalised, the others untouched
        y.sum().backward()
        ty.sum().backward()
        _close(gw.grad, tw.grad, 1e-12)
    m = nn.Embedding(10, 3, max_norm=1.0)
    m(gc.tensor([1, 2]))
    norms = np.linalg.norm(m.weight.detach().numpy(), axis=1)
    assert (norms[[1, 2]] <= 1.0 + 1e-6).all()


def test_embedding_double_backward_and_forward_mode(rng: np.random.Generator) -> None:
    idx = gc.tensor([[0, 2, 2], [4, 1, 2]])
    w = gc.tensor(rng.standard_normal((5, 3)), requires_grad=True)
    # padding_idx and scale_grad_by_freq make the gradient differ from the derivative on
    # purpose (PyTorch's definition): the plain lookup is checked as a function of w, the
    # gradient map with every option as a (linear) function of the incoming gradient.
    assert gc.autograd.gradcheck(lambda w: F.embedding(idx, w), [w])
    assert gc.autograd.gradgradcheck(lambda w: F.embedding(idx, w), [w])
    for pad, scale in [(-1, False), (2, False), (-1, True), (1, True)]:
        g = gc.tensor(rng.standard_normal((2, 3, 3)), requires_grad=True)

        def f(g: gc.Tensor, pad: int = pad, scale: bool = scale) -> gc.Tensor:
            return gc._core._embedding_dense_backward(g, idx, 5, pad, scale)
        assert gc.autograd.gradcheck(f, [g])
        assert gc.autograd.gradgradcheck(f, [g])
    # the second derivative through the gradient, against torch (no scale_grad_by_freq,
    # where torch's double backward leaves out the 1 / count)
    w0 = rng.standard_normal((5, 3))
    g0 = rng.standard_normal((2, 3, 3))
    res = []
    for L in (gc, torch):
        w = L.tensor(w0, requires_grad=True)
        gy = L.tensor(g0, requires_grad=True)
        y = L.nn.functional.embedding(L.tensor([[0, 2, 2], [4, 1, 2]]), w, padding_idx=1)
        (gw,) = L.autograd.grad(y, [w], gy, create_graph=True)
        (gg,) = L.autograd.grad((gw * gw).sum(), [gy])
        res.append((gw.detach().numpy(), gg.numpy(), gw.grad_fn.name()))
    np.testing.assert_allclose(res[0][0], res[1][0], rtol=1e-12)
    np.testing.assert_allclose(res[0][1], res[1][1], rtol=1e-12)
    assert res[0][2] == res[1][2] == "EmbeddingDenseBackwardBackward0"


def test_embedding_any_weight_dtype_and_layout() -> None:
    w = np.arange(12).reshape(4, 3)
    for dt in ["int64", "int32", "float16", "uint8"]:
        y = F.embedding(gc.tensor([[3, 0]]), gc.tensor(w, dtype=getattr(gc, dt)))
        ty = torch.nn.functional.embedding(torch.tensor([[3, 0]]), torch.tensor(w, dtype=getattr(torch, dt)))
        np.testing.assert_array_equal(y.numpy(), ty.numpy())
    wt = gc.tensor(w.T.astype(np.float64), requires_grad=True)  # non-contiguous rows: the transpose
    y = F.embedding(gc.tensor([0, 2, 2]), wt.T)
    np.testing.assert_array_equal(y.detach().numpy(), w[[0, 2, 2]])
    y.sum().backward()
    np.testing.assert_array_equal(wt.grad.numpy(), np.array([[1, 0, 2, 0]] * 3, dtype=np.float64))
    # float16 gradient
    wh = gc.tensor(w, dtype=gc.float16, requires_grad=True)
    F.embedding(gc.tensor([1, 1]), wh).sum().backward()
    assert wh.grad.dtype == gc.float16 and wh.grad.numpy()[1].tolist() == [2, 2, 2]


def test_embedding_threads_bitwise(restore_threads: int, rng: np.random.Generator) -> None:
    V, D, N = 300, 520, 4000  # column blocks and many repeats
    w = rng.standard_normal((V, D)).astype(np.float32)
    idx = rng.integers(0, 20, size=N)
    g = rng.standard_normal((N, D)).astype(np.float32)
    out = []
    for threads in [1, 2]:
        gc.set_num_threads(threads)
        gw = gc.tensor(w, requires_grad=True)
        y = F.embedding(gc.tensor(idx), gw, padding_idx=3, scale_grad_by_freq=True)
        y.backward(gc.tensor(g))
        b = gc.tensor(w, requires_grad=True)
        yb = F.embedding_bag(gc.tensor(idx), b, gc.tensor(np.arange(0, N, 7)), mode="mean")
        yb.backward(gc.tensor(g[: yb.shape[0]]))
        bm = gc.tensor(w, requires_grad=True)
        ym = F.embedding_bag(gc.tensor(idx), bm, gc.tensor(np.arange(0, N, 7)), mode="max")
        ym.backward(gc.tensor(g[: ym.shape[0]]))
        out.append([y.detach().numpy(), gw.grad.numpy(), yb.detach().numpy(), b.grad.numpy(), bm.grad.numpy()])
    for a, b2 in zip(*out):
        np.testing.assert_array_equal(a, b2)


def test_embedding_module() -> None:
    gc.manual_seed(0)
    m = nn.Embedding(1000, 8, padding_idx=-3)
    assert m.padding_idx == 997 and repr(m) == "Embedding(1000, 8, padding_idx=997)"
    w = m.weight.detach().numpy()
    assert (w[997] == 0).all() and abs(w.std() - 1) < 0.05 and m.weight.requires_grad
    assert list(m.state_dict().keys()) == ["weight"]
    assert repr(nn.Embedding(5, 3, max_norm=1.0, norm_type=3.0, scale_grad_by_freq=True, sparse=True)) == \
        "Embedding(5, 3, max_norm=1.0, norm_type=3.0, scale_grad_by_freq=True, sparse=True)"
    e = nn.Embedding.from_pretrained(gc.ones(4, 2), padding_idx=1)
    assert not e.weight.requires_grad and e.weight.detach().numpy()[1].tolist() == [1, 1]
    assert nn.Embedding.from_pretrained(gc.ones(4, 2), freeze=False).weight.requires_grad
    assert not nn.Embedding(5, 3, _freeze=True).weight.requires_grad
    assert nn.Embedding(5, 3, dtype=gc.float64).weight.dtype == gc.float64
    x = gc.tensor([[1, 2], [3, 1]])
    assert tuple(m(x).shape) == (2, 2, 8)


@pytest.mark.parametrize("fn,exc,msg", [
    (lambda: F.embedding(gc.tensor([1.0]), gc.randn(5, 3)), RuntimeError,
     "Expected tensor for argument #1 'indices' to have one of the following scalar types: Long, Int; but got "
     "torch.FloatTensor instead (while checking arguments for embedding)"),
    (lambda: F.embedding(gc.tensor([5]), gc.randn(5, 3)), IndexError, "index out of range in self"),
    (lambda: F.embedding(gc.tensor([-1]), gc.randn(5, 3)), IndexError, "index out of range in self"),
    (lambda: F.embedding(gc.tensor([1]), gc.randn(5)), RuntimeError, "'weight' must be 2-D"),
    (lambda: F.embedding(gc.tensor([1]), gc.randn(5, 3), padding_idx=5), AssertionError,
     "Padding_idx must be within num_embeddings"),
    (lambda: F.embedding(gc.tensor([1]), gc.randn(5, 3), padding_idx=-6), AssertionError,
     "Padding_idx must be within num_embeddings"),
    (lambda: F.embedding(gc.tensor([1]), gc.randn(0, 3)), RuntimeError,
     "index_select(): self indexing axis dim should be positive"),
    (lambda: nn.Embedding(5, 3, padding_idx=5), AssertionError, "Padding_idx must be within num_embeddings"),
    (lambda: nn.Embedding(5, 3, _weight=gc.randn(4, 3)), AssertionError,
     "Shape of weight does not match num_embeddings and embedding_dim"),
    (lambda: nn.Embedding.from_pretrained(gc.randn(3)), AssertionError,
     "Embeddings parameter is expected to be 2-dimensional"),
    (lambda: F.embedding([1], gc.randn(5, 3)), TypeError, "embedding(): argument 'indices' (position 2) must be Tensor"),
])
def test_embedding_bad_inputs(fn: Any, exc: Any, msg: str) -> None:
    with pytest.raises(exc) as e:
        fn()
    assert msg in str(e.value)


def test_embedding_sparse_refused_only_with_a_gradient() -> None:
    w = gc.randn(5, 3, requires_grad=True)
    with pytest.raises(NotImplementedError, match="sparse=True is not supported"):
        F.embedding(gc.tensor([1]), w, sparse=True)
    with gc.no_grad():
        assert tuple(F.embedding(gc.tensor([1]), w, sparse=True).shape) == (1, 3)
    assert tuple(nn.Embedding.from_pretrained(gc.randn(4, 2), sparse=True)(gc.tensor([0])).shape) == (1, 2)
    with pytest.raises(NotImplementedError, match="sparse=True is not supported"):
        F.embedding_bag(gc.tensor([[1, 2]]), w, sparse=True, mode="sum")


# ---- embedding_bag ----

def _bag_cases() -> List[Dict[str, Any]]:
    cases: List[Dict[str, Any]] = []
    for mode, pad, last, psw, scale in itertools.product(["sum", "mean", "max"], [None, 1, -2], [False, True],
                                                         [False, True], [False]):
        if psw and mode != "sum":
            continue
        cases.append(dict(mode=mode, padding_idx=pad, include_last_offset=last, psw=psw, scale_grad_by_freq=scale))
    return cases


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", _bag_cases(), ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
def test_embedding_bag_matches_torch(case: Dict[str, Any], dtype: Any, rng: np.random.Generator) -> None:
    V, D = 7, 4
    w = rng.permutation(V * D).reshape(V, D) / 3.0 - 4  # distinct values: max has one argmax
    idx = np.array([1, 0, 1, 5, 6, 2, 1, 1, 3, 4, 0])
    offsets = np.array([0, 3, 3, 6, 7, 9]) if not case["include_last_offset"] else np.array([0, 3, 3, 6, 7, 9, 11])
    kw = {k: v for k, v in case.items() if k != "psw"}
    ps = rng.random(idx.shape)
    res = []
    for L, pw in ((gc, None), (torch, None)):
        tdt = DT[dtype][0] if L is gc else DT[dtype][1]
        wt = L.tensor(w, dtype=tdt, requires_grad=True)
        p = L.tensor(ps, dtype=tdt, requires_grad=True) if case["psw"] else None
        y = L.nn.functional.embedding_bag(L.tensor(idx), wt, L.tensor(offsets), per_sample_weights=p, **kw)
        g = L.tensor(np.linspace(-1, 2, y.numel()).reshape(tuple(y.shape)), dtype=tdt)
        (y * g).sum().backward()
        res.append([y.detach().numpy(), wt.grad.numpy()] + ([p.grad.numpy()] if p is not None else []))
        assert y.grad_fn.name() == "EmbeddingBagBackward0"
    for a, b in zip(*res):
        np.testing.assert_allclose(a, b, rtol=DT[dtype][2], atol=DT[dtype][2])


def test_embedding_bag_scale_grad_by_freq(rng: np.random.Generator) -> None:
    # NOTE: torch 2.13's CPU embedding_bag scales some rows by another row's count (indices
    # [2, 0, 0] give row 2 a factor 1/2); gradcore divides each row's gradient by its own
    # count, as F.embedding does: one-element bags reproduce torch's F.embedding gradient.
    idx = np.array([1, 0, 1, 5, 6, 2, 1, 1, 3, 4, 0])
    g = rng.standard_normal((idx.size, 3))
    gw = gc.tensor(np.zeros((7, 3)), requires_grad=True)
    F.embedding_bag(gc.tensor(idx), gw, gc.tensor(np.arange(idx.size)), mode="sum",
                    scale_grad_by_freq=True).backward(gc.tensor(g))
    tw = torch.zeros(7, 3, dtype=torch.float64, requires_grad=True)
    torch.nn.functional.embedding(torch.tensor(idx), tw, scale_grad_by_freq=True).backward(torch.tensor(g))
    np.testing.assert_allclose(gw.grad.numpy(), tw.grad.numpy(), rtol=1e-12)
    # mean bags: 1 / bag size and 1 / count together
    gm = gc.tensor(np.zeros((7, 3)), requires_grad=True)
    F.embedding_bag(gc.tensor(idx), gm, gc.tensor([0, 4]), mode="mean", scale_grad_by_freq=True).sum().backward()
    counts = np.bincount(idx, minlength=7)
    expect = (np.bincount(idx[:4], minlength=7) / 4 + np.bincount(idx[4:], minlength=7) / 7) / np.maximum(counts, 1)
    np.testing.assert_allclose(gm.grad.numpy()[:, 0], expect, rtol=1e-12)


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_embedding_bag_2d_and_module(mode: str, rng: np.random.Generator) -> None:
    w = rng.standard_normal((6, 3))
    idx = np.array([[0, 1, 5], [2, 2, 3]])
    res = []
    for L in (gc, torch):
        m = L.nn.EmbeddingBag.from_pretrained(L.tensor(w), freeze=False, mode=mode, padding_idx=5)
        y = m(L.tensor(idx))
        y.sum().backward()
        res.append((y.detach().numpy(), m.weight.grad.numpy(), repr(m)))
    np.testing.assert_allclose(res[0][0], res[1][0], rtol=1e-12)
    np.testing.assert_allclose(res[0][1], res[1][1], rtol=1e-12)
    assert res[0][2] == res[1][2]


def test_embedding_bag_module_attributes() -> None:
    gc.manual_seed(0)
    eb = nn.EmbeddingBag(5, 3, padding_idx=2)
    assert eb.mode == "mean" and (eb.weight.detach().numpy()[2] == 0).all()
    assert repr(eb) == "EmbeddingBag(5, 3, mode='mean', padding_idx=2)"
    assert repr(nn.EmbeddingBag(5, 3, max_norm=1., norm_type=1., scale_grad_by_freq=True, mode='max', sparse=True,
                                include_last_offset=True, padding_idx=-1)) == \
        "EmbeddingBag(5, 3, max_norm=1.0, norm_type=1.0, scale_grad_by_freq=True, mode='max', padding_idx=4)"
    assert not nn.EmbeddingBag.from_pretrained(gc.randn(4, 2)).weight.requires_grad
    y = eb(gc.tensor([0, 1, 2, 3]), gc.tensor([0, 2]), )
    assert tuple(y.shape) == (2, 3)


def test_embedding_bag_empty_bags_nan_and_max_norm() -> None:
    w = gc.tensor([[1.0, float("nan")], [float("nan"), 2.0], [3.0, 0.0]])
    for order in ([0, 1, 2], [2, 1, 0]):
        a = F.embedding_bag(gc.tensor(order), w, gc.tensor([0]), mode="max").numpy()
        b = torch.nn.functional.embedding_bag(torch.tensor(order), torch.tensor(w.numpy()), torch.tensor([0]),
                                              mode="max").numpy()
        np.testing.assert_array_equal(a, b)
    for mode in ["sum", "mean", "max"]:
        y = F.embedding_bag(gc.tensor([0, 1]), w, gc.tensor([0, 0, 2, 2]), mode=mode)
        assert (y.numpy()[[0, 2, 3]] == 0).all()
    base = np.arange(12.0).reshape(4, 3)
    gw, tw = gc.tensor(base), torch.tensor(base)
    F.embedding_bag(gc.tensor([[1, 3]]), gw, max_norm=1.5)
    torch.nn.functional.embedding_bag(torch.tensor([[1, 3]]), tw, max_norm=1.5)
    np.testing.assert_allclose(gw.numpy(), tw.numpy(), rtol=1e-12)


def test_embedding_bag_gradcheck(rng: np.random.Generator) -> None:
    w = gc.tensor(rng.permutation(20).reshape(5, 4) / 7.0, requires_grad=True)
    p = gc.tensor(rng.random(6), requires_grad=True)
    idx, off = gc.tensor([0, 1, 4, 2, 2, 3]), gc.tensor([0, 2, 2, 5])
    for mode in ["sum", "mean", "max"]:
        def f(w: gc.Tensor, mode: str = mode) -> gc.Tensor:
            return F.embedding_bag(idx, w, off, mode=mode, padding_idx=3)
        assert gc.autograd.gradcheck(f, [w], check_forward_ad=False)

    def fs(w: gc.Tensor, p: gc.Tensor) -> gc.Tensor:
        return F.embedding_bag(idx, w, off, mode="sum", per_sample_weights=p, padding_idx=3)
    assert gc.autograd.gradcheck(fs, [w, p], check_forward_ad=False)


_W = gc.randn(5, 3)
_I = gc.tensor([0, 1, 2, 3, 4, 1])
_O = gc.tensor([0, 2, 2, 5])


@pytest.mark.parametrize("fn,exc,msg", [
    (lambda: F.embedding_bag(_I, _W, _O, mode="foo"), ValueError, "mode has to be one of sum, mean or max"),
    (lambda: F.embedding_bag(_I, _W), ValueError, "offsets has to be a 1D Tensor but got None"),
    (lambda: F.embedding_bag(_I.view(2, 3), _W, _O), ValueError, "if input is 2D, then offsets has to be None"),
    (lambda: F.embedding_bag(_I.view(1, 2, 3), _W), ValueError,
     "input has to be 1D or 2D Tensor, but got Tensor of dimension 3"),
    (lambda: F.embedding_bag(_I, _W, _O, per_sample_weights=gc.rand(6)), NotImplementedError,
     "per_sample_weights is only supported for mode='sum' (got mode='mean')"),
    (lambda: F.embedding_bag(_I, _W, _O, mode="sum", per_sample_weights=gc.rand(5)), ValueError,
     "then it must have the same shape as the input"),
    (lambda: F.embedding_bag(_I, _W, _O, mode="sum", per_sample_weights=gc.rand(6).double()), RuntimeError,
     "Expected tensor for argument #1 'weight' to have the same type as tensor for argument #1 'per_sample_weights'; "
     "but type torch.FloatTensor does not equal torch.DoubleTensor (while checking arguments for embedding_bag)"),
    (lambda: F.embedding_bag(_I, _W, gc.tensor([1, 2])), RuntimeError, "offsets[0] has to be 0, i.e., the first"),
    (lambda: F.embedding_bag(_I, _W, gc.tensor([0, 3, 9])), RuntimeError,
     "offsets[-1] can not be greater than input's length 6 but got offsets[-1] of 9"),
    (lambda: F.embedding_bag(_I, _W, gc.tensor([0, 3, 2])), RuntimeError, "offsets"),
    (lambda: F.embedding_bag(_I, _W, gc.tensor([0.0])), RuntimeError, "scalar types: Long, Int"),
    (lambda: F.embedding_bag(_I + 5, _W, gc.tensor([0])), RuntimeError,
     "Index 0 of input takes value 5 which is not in the valid range [0, 5)"),
    (lambda: F.embedding_bag(_I, _W, gc.tensor([[0]])), ValueError, "offsets has to be a 1D Tensor"),
    (lambda: F.embedding_bag(_I, _W, _O, padding_idx=5), RuntimeError,
     "padding_idx must be within the number of embeddings, -5 through 4, but got 5"),
    (lambda: F.embedding_bag(_I, gc.randn(5), _O), ValueError, "weight has to be a 2D Tensor"),
    (lambda: F.embedding_bag(_I, _W.long(), _O), RuntimeError,
     "Expected tensor for argument #1 'weight' to have one of the following scalar types: Half, BFloat16, Float, "
     "Double; but got torch.LongTensor instead"),
    (lambda: F.embedding_bag(_I, _W, _O, mode="max", scale_grad_by_freq=True), ValueError,
     "max mode does not support scaling the gradient by the frequency"),
    (lambda: F.embedding_bag(_I, _W, gc.tensor([], dtype=gc.int64), include_last_offset=True), RuntimeError,
     "include_last_offset: number of offset should be at least 1"),
    (lambda: F.embedding_bag(gc.zeros(2, 0, dtype=gc.int64), _W), RuntimeError, "step must be nonzero"),
    (lambda: nn.EmbeddingBag(5, 3, padding_idx=7), AssertionError, "padding_idx must be within num_embeddings"),
])
def test_embedding_bag_bad_inputs(fn: Any, exc: Any, msg: str) -> None:
    with pytest.raises(exc) as e:
        fn()
    assert msg in str(e.value)


def test_embedding_bag_forward_ad_refused_as_torch() -> None:
    import gradcore.autograd.forward_ad as fwAD
    with fwAD.dual_level():
        d = fwAD.make_dual(gc.randn(5, 3), gc.randn(5, 3))
        with pytest.raises(NotImplementedError, match="forward AD with _embedding_bag"):
            F.embedding_bag(_I, d, _O)


def test_index_shapes_property() -> None:
    hypothesis = pytest.importorskip("hypothesis")
    st = hypothesis.strategies

    @hypothesis.settings(max_examples=40, deadline=None)
    @hypothesis.given(st.lists(st.integers(0, 3), min_size=0, max_size=4), st.integers(1, 6), st.integers(0, 5),
                      st.integers(0, 2 ** 31))
    def check(shape: List[int], V: int, D: int, seed: int) -> None:
        r = np.random.default_rng(seed)
        w = r.standard_normal((V, D))
        idx = r.integers(0, V, size=tuple(shape))
        gw = gc.tensor(w, requires_grad=True)
        y = F.embedding(gc.tensor(idx), gw)
        assert tuple(y.shape) == tuple(shape) + (D,)
        np.testing.assert_array_equal(y.detach().numpy(), w[idx])
        y.sum().backward()
        np.testing.assert_array_equal(gw.grad.numpy()[:, 0] if D else np.zeros(V),
                                      np.bincount(idx.ravel(), minlength=V).astype(float) if D else np.zeros(V))
    check()


def test_embedding_bag_create_graph_as_torch() -> None:
    # PyTorch has no derivative of a bag's gradients: differentiating them raises (its types
    # and messages); the first-order values are unchanged.
    res = []
    for L in (gc, torch):
        w = L.tensor(np.arange(15.0).reshape(5, 3), requires_grad=True)
        p = L.tensor(np.linspace(0.5, 2, 6), requires_grad=True)
        y = L.nn.functional.embedding_bag(L.tensor([0, 1, 4, 2, 2, 3]), w, L.tensor([0, 2, 2, 5]), mode="sum",
                                          per_sample_weights=p)
        gw, gp = L.autograd.grad((y * y).sum(), [w, p], create_graph=True)
        res.append((gw.detach().numpy(), gp.detach().numpy(), gw.grad_fn.name()))
        with pytest.raises(RuntimeError, match="_embedding_bag_per_sample_weights_backward is not implemented"):
            L.autograd.grad(gp.sum(), [p], retain_graph=True)
        with pytest.raises(NotImplementedError, match="the derivative for '_embedding_bag_backward' is not implemented"):
            L.autograd.grad(gw.sum(), [w])
    np.testing.assert_allclose(res[0][0], res[1][0], rtol=1e-12)
    np.testing.assert_allclose(res[0][1], res[1][1], rtol=1e-12)
    assert res[0][2] == res[1][2]
