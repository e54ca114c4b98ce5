"""Recurrent layers (issue 16): nn.RNN / LSTM / GRU, the cells and nn.utils.rnn against torch
(values and gradients of input, h0, c0 and every parameter), gradcheck, thread-count
independence and PyTorch's errors."""
import os
import subprocess
import sys

import numpy as np
import pytest

import gradcore as gc
from gradcore.nn.utils import rnn as grnn

torch = pytest.importorskip("torch")
trnn = torch.nn.utils.rnn
pytestmark = pytest.mark.filterwarnings("ignore:LSTM with projections is not supported with oneDNN")

TOL = {torch.float32: 2e-5, torch.float64: 1e-10}


def g(t, requires_grad=False):
    return gc.tensor(t.detach().numpy(), requires_grad=requires_grad)


def copy_params(tm, gm):
    gm.load_state_dict({k: g(v) for k, v in tm.state_dict().items()})


def close(a, b, tol):
    a = a.detach().numpy() if hasattr(a, "detach") else np.asarray(a)
    b = b.detach().numpy()
    assert a.shape == b.shape
    np.testing.assert_allclose(a, b, rtol=tol * 10, atol=tol)


def make(mode, dtype, **kw):
    torch.manual_seed(0)
    tm = getattr(torch.nn, mode)(5, 6, **kw).to(dtype)
    gm = getattr(gc.nn, mode)(5, 6, **kw).to(gc.float64 if dtype == torch.float64 else gc.float32)
    copy_params(tm, gm)
    return tm, gm


def loss(out, hid, lstm):
    if isinstance(out, (trnn.PackedSequence, grnn.PackedSequence)):
        out = out.data
    s = (out * out).sum()
    if lstm:
        return s + (hid[0] * 2).sum() + (hid[1] * 3).sum()
    return s + (hid * 2).sum()


def check_grads(tm, gm, tol, pairs):
    for name, p in tm.named_parameters():
        close(p.grad, dict(gm.named_parameters())[name].grad, tol)
    for t, gt in pairs:
        close(t.grad, gt.grad, tol)


GRID = [
    ("LSTM", {}), ("GRU", {}), ("RNN", {}), ("RNN", {"nonlinearity": "relu"}),
    ("LSTM", {"num_layers": 2, "bidirectional": True}), ("GRU", {"num_layers": 2, "batch_first": True}),
    ("RNN", {"bidirectional": True, "bias": False}), ("LSTM", {"proj_size": 3}),
    ("LSTM", {"proj_size": 2, "num_layers": 2, "bidirectional": True, "batch_first": True, "bias": False}),
    ("GRU", {"bidirectional": True, "bias": False}),
]


@pytest.mark.parametrize("mode,kw", GRID)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("given_hx", [False, True])
def test_parity_padded(mode, kw, dtype, given_hx):
    tm, gm = make(mode, dtype, **kw)
    lstm = mode == "LSTM"
    D = 2 if kw.get("bidirectional") else 1
    L = kw.get("num_layers", 1)
    P = kw.get("proj_size", 0) or 6
    shape = (3, 4, 5) if kw.get("batch_first") else (4, 3, 5)
    x = torch.randn(*shape, dtype=dtype, requires_grad=True)
    gx = g(x, True)
    pairs = [(x, gx)]
    thx = ghx = None
    if given_hx:
        h0 = torch.randn(L * D, 3, P, dtype=dtype, requires_grad=True)
        pairs.append((h0, g(h0, True)))
        if lstm:
            c0 = torch.randn(L * D, 3, 6, dtype=dtype, requires_grad=True)
            pairs.append((c0, g(c0, True)))
            thx, ghx = (h0, c0), (pairs[1][1], pairs[2][1])
        else:
            thx, ghx = h0, pairs[1][1]
    to, th = tm(x, thx)
    go, gh = gm(gx, ghx)
    close(to, go, TOL[dtype])
    for a, b in zip(th if lstm else [th], gh if lstm else [gh]):
        close(a, b, TOL[dtype])
    loss(to, th, lstm).backward()
    loss(go, gh, lstm).backward()
    check_grads(tm, gm, TOL[dtype], pairs)


@pytest.mark.parametrize("mode,kw", [("LSTM", {}), ("GRU", {"bidirectional": True}), ("RNN", {}),
                                     ("LSTM", {"proj_size": 2, "num_layers": 2, "bidirectional": True})])
@pytest.mark.parametrize("enforce_sorted", [True, False])
def test_parity_packed(mode, kw, enforce_sorted):
    dtype = torch.float64
    tm, gm = make(mode, dtype, **kw)
    lstm = mode == "LSTM"
    lengths = [5, 3, 3, 1] if enforce_sorted else [3, 5, 1, 3]
    x = torch.randn(5, 4, 5, dtype=dtype, requires_grad=True)
    gx = g(x, True)
    tp = trnn.pack_padded_sequence(x, lengths, enforce_sorted=enforce_sorted)
    gp = grnn.pack_padded_sequence(gx, lengths, enforce_sorted=enforce_sorted)
    close(tp.data, gp.data, 0)
    assert gp.batch_sizes.tolist() == tp.batch_sizes.tolist()
    D = 2 if kw.get("bidirectional") else 1
    P = kw.get("proj_size", 0) or 6
    h0 = torch.randn(kw.get("num_layers", 1) * D, 4, P, dtype=dtype, requires_grad=True)
    gh0 = g(h0, True)
    if lstm:
        c0 = torch.randn(kw.get("num_layers", 1) * D, 4, 6, dtype=dtype, requires_grad=True)
        gc0 = g(c0, True)
        thx, ghx, pairs = (h0, c0), (gh0, gc0), [(x, gx), (h0, gh0), (c0, gc0)]
    else:
        thx, ghx, pairs = h0, gh0, [(x, gx), (h0, gh0)]
    to, th = tm(tp, thx)
    go, gh = gm(gp, ghx)
    assert isinstance(go, grnn.PackedSequence)
    close(to.data, go.data, 1e-10)
    for a, b in zip(th if lstm else [th], gh if lstm else [gh]):
        close(a, b, 1e-10)
    tpad, tl = trnn.pad_packed_sequence(to, batch_first=True)
    gpad, gl = grnn.pad_packed_sequence(go, batch_first=True)
    close(tpad, gpad, 1e-10)
    assert gl.tolist() == tl.tolist()
    (loss(tpad, th, lstm)).backward()
    (loss(gpad, gh, lstm)).backward()
    check_grads(tm, gm, 1e-10, pairs)


@pytest.mark.parametrize("mode", ["LSTM", "GRU", "RNN"])
def test_unbatched(mode):
    tm, gm = make(mode, torch.float64)
    x = torch.randn(4, 5, dtype=torch.float64)
    to, th = tm(x)
    go, gh = gm(g(x))
    close(to, go, 1e-10)
    if mode == "LSTM":
        close(th[0], gh[0], 1e-10)
        close(th[1], gh[1], 1e-10)
        h = (torch.randn(1, 6, dtype=torch.float64), torch.randn(1, 6, dtype=torch.float64))
        close(tm(x, h)[0], gm(g(x), (g(h[0]), g(h[1])))[0], 1e-10)
    else:
        close(th, gh, 1e-10)
        h = torch.randn(1, 6, dtype=torch.float64)
        close(tm(x, h)[0], gm(g(x), g(h))[0], 1e-10)


@pytest.mark.parametrize("cell,kw", [("RNNCell", {}), ("RNNCell", {"nonlinearity": "relu"}), ("LSTMCell", {}),
                                     ("GRUCell", {}), ("GRUCell", {"bias": False})])
@pytest.mark.parametrize("batched", [True, False])
def test_cells(cell, kw, batched):
    torch.manual_seed(0)
    tm = getattr(torch.nn, cell)(5, 6, **kw).double()
    gm = getattr(gc.nn, cell)(5, 6, **kw).double()
    copy_params(tm, gm)
    assert repr(tm) == repr(gm)
    shape = (3, 5) if batched else (5,)
    x = torch.randn(*shape, dtype=torch.float64, requires_grad=True)
    gx = g(x, True)
    hs = (3, 6) if batched else (6,)
    h = torch.randn(*hs, dtype=torch.float64, requires_grad=True)
    gh = g(h, True)
    if cell == "LSTMCell":
        c = torch.randn(*hs, dtype=torch.float64, requires_grad=True)
        gcc = g(c, True)
        th, tc = tm(x, (h, c))
        gh2, gc2 = gm(gx, (gh, gcc))
        close(th, gh2, 1e-10)
        close(tc, gc2, 1e-10)
        (th.sum() + 2 * tc.sum()).backward()
        (gh2.sum() + 2 * gc2.sum()).backward()
        pairs = [(x, gx), (h, gh), (c, gcc)]
    else:
        th = tm(x, h)
        gh2 = gm(gx, gh)
        close(th, gh2, 1e-10)
        (th * th).sum().backward()
        (gh2 * gh2).sum().backward()
        pairs = [(x, gx), (h, gh)]
    check_grads(tm, gm, 1e-10, pairs)
    out = gm(gx)  # hx None
    ref = tm(x)
    close(ref[0] if cell == "LSTMCell" else ref, out[0] if cell == "LSTMCell" else out, 1e-10)


@pytest.mark.parametrize("mode", ["LSTM", "GRU", "RNN"])
def test_gradcheck(mode):
    gc.manual_seed(0)
    kw = {"proj_size": 2} if mode == "LSTM" else {}
    m = getattr(gc.nn, mode)(3, 4, bidirectional=True, **kw).double()
    x = gc.randn(3, 2, 3, dtype=gc.float64, requires_grad=True)
    params = list(m.parameters())

    def f(x, *ps):
        for (name, _), p in zip(m.named_parameters(), ps):
            m._parameters[name] = p
        out, hid = m(x)
        return out.sum() + (hid[1] if mode == "LSTM" else hid).pow(2).sum()

    assert gc.autograd.gradcheck(f, (x, *params), check_forward_ad=False)  # Note [RNN double backward]


def test_repr_and_params():
    tm = torch.nn.LSTM(5, 6, num_layers=2, bidirectional=True, proj_size=3, batch_first=True, dropout=0.5)
    gm = gc.nn.LSTM(5, 6, num_layers=2, bidirectional=True, proj_size=3, batch_first=True, dropout=0.5)
    assert repr(tm) == repr(gm)
    assert [n for n, _ in tm.named_parameters()] == [n for n, _ in gm.named_parameters()]
    assert [tuple(p.shape) for p in tm.parameters()] == [tuple(p.shape) for p in gm.parameters()]
    assert tm._flat_weights_names == gm._flat_weights_names
    assert [[tuple(p.shape) for p in w] for w in tm.all_weights] == \
        [[tuple(p.shape) for p in w] for w in gm.all_weights]
    gm.flatten_parameters()
    bound = 1 / np.sqrt(6)
    assert all(float(p.abs().max()) <= bound for p in gm.parameters())
    assert repr(torch.nn.RNN(2, 3, nonlinearity="relu")) == repr(gc.nn.RNN(2, 3, nonlinearity="relu"))


def test_dropout_between_layers():
    gm = gc.nn.GRU(5, 6, num_layers=2, dropout=0.5)
    x = gc.randn(4, 3, 5)
    gm.eval()
    a, _ = gm(x)
    b, _ = gm(x)
    assert np.array_equal(a.detach().numpy(), b.detach().numpy())
    gm.train()
    c, _ = gm(x)
    assert not np.array_equal(a.detach().numpy(), c.detach().numpy())


def test_errors():
    m = gc.nn.LSTM(10, 20, 1)
    x = gc.randn(5, 3, 10)
    with pytest.raises(RuntimeError, match=r"Expected hidden\[0\] size \(1, 3, 20\), got \[2, 3, 20\]"):
        m(x, (gc.zeros(2, 3, 20), gc.zeros(1, 3, 20)))
    with pytest.raises(RuntimeError, match=r"Expected hidden\[1\] size \(1, 3, 20\), got \[1, 3, 21\]"):
        m(x, (gc.zeros(1, 3, 20), gc.zeros(1, 3, 21)))
    r = gc.nn.GRU(10, 20)
    with pytest.raises(RuntimeError, match=r"^Expected hidden size \(1, 3, 20\), got \[2, 3, 20\]$"):
        r(x, gc.zeros(2, 3, 20))
    with pytest.raises(RuntimeError, match="input.size\\(-1\\) must be equal to input_size. Expected 10, got 4"):
        r(gc.randn(5, 3, 4))
    with pytest.raises(ValueError, match="GRU: Expected input to be 2D or 3D, got 4D instead"):
        r(gc.randn(1, 5, 3, 10))
    with pytest.raises(RuntimeError, match="For batched 3-D input, hx should also be 3-D but got 2-D tensor"):
        r(x, gc.zeros(3, 20))
    with pytest.raises(ValueError, match="does not match weight dtype"):
        r(x.double())
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        gc.nn.LSTM(3, 4, dropout=0.2)
    with pytest.raises(ValueError, match="dropout should be a number in range"):
        gc.nn.GRU(3, 4, dropout=1.5)
    with pytest.raises(ValueError, match="proj_size argument is only supported for LSTM"):
        gc.nn.GRU(3, 4, proj_size=2)
    with pytest.raises(ValueError, match="proj_size has to be smaller than hidden_size"):
        gc.nn.LSTM(3, 4, proj_size=4)
    with pytest.raises(ValueError, match="Unknown nonlinearity 'gelu'"):
        gc.nn.RNN(3, 4, nonlinearity="gelu")
    with pytest.raises(ValueError, match="hidden_size must be greater than zero"):
        gc.nn.RNN(3, 0)
    with pytest.raises(ValueError, match="LSTMCell: Expected input to be 1D or 2D, got 3D instead"):
        gc.nn.LSTMCell(3, 4)(gc.randn(1, 2, 3))


def test_double_backward_refused():
    m = gc.nn.LSTM(3, 4)
    x = gc.randn(2, 1, 3, requires_grad=True)
    out, _ = m(x)
    with pytest.raises(RuntimeError, match="double backward"):
        gc.autograd.grad(out.sum(), x, create_graph=True)


# ---- nn.utils.rnn ----

def test_pad_pack_utils():
    seqs = [torch.randn(n, 2, dtype=torch.float64) for n in (4, 2, 3)]
    gseqs = [g(s, True) for s in seqs]
    for bf in (False, True):
        for side in ("right", "left"):
            close(trnn.pad_sequence(seqs, batch_first=bf, padding_value=-1.0, padding_side=side),
                  grnn.pad_sequence(gseqs, batch_first=bf, padding_value=-1.0, padding_side=side), 0)
    tp = trnn.pack_sequence(seqs, enforce_sorted=False)
    gp = grnn.pack_sequence(gseqs, enforce_sorted=False)
    close(tp.data, gp.data, 0)
    assert gp.sorted_indices.tolist() == tp.sorted_indices.tolist()
    assert gp.unsorted_indices.tolist() == tp.unsorted_indices.tolist()
    for a, b in zip(trnn.unpack_sequence(tp), grnn.unpack_sequence(gp)):
        close(a, b, 0)
    pad, lens = grnn.pad_packed_sequence(gp, total_length=6)
    tpad, tlens = trnn.pad_packed_sequence(tp, total_length=6)
    close(tpad, pad, 0)
    assert lens.tolist() == tlens.tolist()
    for a, b in zip(trnn.unpad_sequence(tpad, tlens), grnn.unpad_sequence(pad, lens)):
        close(a, b, 0)
    (pad * pad).sum().backward()
    for s, gs in zip(seqs, gseqs):
        np.testing.assert_allclose(gs.grad.numpy(), 2 * s.numpy())
    with pytest.raises(ValueError, match="Expected total_length to be at least"):
        grnn.pad_packed_sequence(gp, total_length=2)
    with pytest.raises(RuntimeError, match="`lengths` array must be sorted in decreasing order"):
        grnn.pack_sequence(gseqs)
    with pytest.raises(RuntimeError, match="Length of all samples has to be greater than 0"):
        grnn.pack_padded_sequence(gc.zeros(3, 2, 1), [2, 0])
    assert isinstance(gp.to(gc.float32).data.dtype, type(gc.float32))
    assert gc.nn.utils.rnn.PackedSequence is grnn.PackedSequence


def test_threads_bitwise():
    code = (
        "import gradcore as gc, numpy as np, sys\n"
        "gc.manual_seed(0)\n"
        "m = gc.nn.LSTM(32, 64, num_layers=2, bidirectional=True)\n"
        "x = gc.randn(6, 16, 32, requires_grad=True)\n"
        "o, (h, c) = m(x)\n"
        "(o.sum() + c.sum()).backward()\n"
        "arrs = [o.detach().numpy(), x.grad.numpy()] + [p.grad.numpy() for p in m.parameters()]\n"
        "sys.stdout.write(str(hash(b''.join(a.tobytes() for a in arrs))))\n"
    )
    outs = []
    for n in ("1", "2"):
        env = dict(os.environ, GRADCORE_NUM_THREADS=n, PYTHONHASHSEED="0")
        outs.append(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                                   check=True).stdout)
    assert outs[0] == outs[1]
