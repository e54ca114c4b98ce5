"""gradcore.data (DataLoader, IDX reader, Fashion-MNIST loader) and gradcore.train (fit, evaluate, plot)."""
from __future__ import annotations

import gzip
import os
import struct

import numpy as np
import pytest

import gradcore as gc
import gradcore.nn as nn
from gradcore.data import DataLoader, TensorDataset, load_fashion_mnist, read_idx
from gradcore.train import evaluate, fit, plot_history


# --------------------------------------------------------------------------------------
# DataLoader
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("n,bs", [(10, 3), (12, 4), (5, 8), (1, 1), (100, 7)])
def test_batch_counts_and_sizes(n, bs):
    X = np.arange(n * 2, dtype=np.float32).reshape(n, 2)
    for drop_last in (False, True):
        loader = DataLoader(TensorDataset(X), batch_size=bs, drop_last=drop_last)
        batches = [b for (b,) in loader]
        expected = n // bs if drop_last else -(-n // bs)
        assert len(loader) == len(batches) == expected
        sizes = [b.shape[0] for b in batches]
        if drop_last:
            assert all(s == bs for s in sizes)
        else:
            assert sum(sizes) == n and all(s == bs for s in sizes[:-1]) and 0 < sizes[-1] <= bs
    # without shuffling the order is the array order; a bare array yields tensors (its rows)
    got = np.concatenate([b.detach().numpy() for b in DataLoader(X, batch_size=bs)])
    np.testing.assert_array_equal(got, X)


def _gen(seed):
    g = gc.Generator()
    g.manual_seed(seed)
    return g


def test_shuffle_covers_every_index_once_per_epoch_and_reshuffles():
    n = 53
    idx = np.arange(n)
    loader = DataLoader(TensorDataset(idx.astype(np.float64), idx), batch_size=8, shuffle=True, generator=_gen(3))
    orders = []
    for _ in range(3):
        xs, ys = [], []
        for xb, yb in loader:
            xs.append(xb.detach().numpy())
            ys.append(yb.numpy())
        x, y = np.concatenate(xs), np.concatenate(ys)
        assert sorted(y.tolist()) == list(range(n))          # each index exactly once
        np.testing.assert_array_equal(x, y.astype(np.float64))  # arrays stay aligned
        orders.append(y)
    assert not np.array_equal(orders[0], idx)                   # actually shuffled
    assert not np.array_equal(orders[0], orders[1])             # a new order each epoch
    assert not np.array_equal(orders[1], orders[2])
    # the same seed gives the same sequence of orders; another seed a different one
    again = DataLoader(TensorDataset(idx.astype(np.float64), idx), batch_size=8, shuffle=True, generator=_gen(3))
    for expected in orders:
        np.testing.assert_array_equal(np.concatenate([yb.numpy() for _, yb in again]), expected)
    other = DataLoader(TensorDataset(idx.astype(np.float64), idx), batch_size=8, shuffle=True, generator=_gen(4))
    assert not np.array_equal(np.concatenate([yb.numpy() for _, yb in other]), orders[0])


def test_shuffle_with_drop_last_drops_different_items():
    idx = np.arange(10)
    loader = DataLoader(TensorDataset(idx), batch_size=4, shuffle=True, drop_last=True, generator=_gen(0))
    seen = []
    for _ in range(6):
        ys = np.concatenate([yb.numpy() for (yb,) in loader])
        assert len(ys) == 8 and len(set(ys.tolist())) == 8
        seen.append(frozenset(ys.tolist()))
    assert len(set(seen)) > 1


def test_unseeded_shuffle_follows_manual_seed():
    idx = np.arange(40)
    gc.manual_seed(5)
    a = np.concatenate([yb.numpy() for (yb,) in DataLoader(TensorDataset(idx), batch_size=40, shuffle=True)])
    gc.manual_seed(5)
    b = np.concatenate([yb.numpy() for (yb,) in DataLoader(TensorDataset(idx), batch_size=40, shuffle=True)])
    np.testing.assert_array_equal(a, b)
    assert sorted(a.tolist()) == list(range(40))


def test_yielded_dtypes_are_the_arrays_dtypes():
    # PyTorch's default_collate keeps each tensor's dtype (no int -> int64 or float16 -> float32 conversion)
    n = 6
    arrays = [np.ones((n, 3), np.float32), np.ones((n, 2), np.float64), np.ones(n, np.float16),
              np.arange(n, dtype=np.int32), np.arange(n, dtype=np.uint8), np.zeros(n, bool), np.arange(n)]
    want = [gc.float32, gc.float64, gc.float16, gc.int32, gc.uint8, gc.bool, gc.int64]
    for shuffle in (False, True):
        batch = next(iter(DataLoader(TensorDataset(*arrays), batch_size=4, shuffle=shuffle)))
        assert isinstance(batch, list) and len(batch) == len(arrays)
        for t, a, dt in zip(batch, arrays, want):
            assert isinstance(t, gc.Tensor) and t.dtype == dt and tuple(t.shape) == (4,) + a.shape[1:]
            assert not t.requires_grad
        if not shuffle:
            np.testing.assert_array_equal(batch[3].numpy(), arrays[3][:4])


def test_non_contiguous_inputs_are_batched_correctly():
    base = np.arange(60, dtype=np.float64).reshape(10, 6)
    views = [np.asfortranarray(base), base[:, ::2], base[::-1]]
    for v in views:
        for shuffle in (False, True):
            loader = DataLoader(TensorDataset(v, np.arange(10)), batch_size=3, shuffle=shuffle)
            for xb, idx in loader:
                np.testing.assert_array_equal(xb.detach().numpy(), v[idx.numpy()])


def test_accepts_tensors_and_validates():
    X = gc.tensor(np.arange(12, dtype=np.float32).reshape(6, 2))
    y = gc.tensor([0, 1, 0, 1, 1, 0])
    xb, yb = next(iter(DataLoader(TensorDataset(X, y), batch_size=6)))
    np.testing.assert_array_equal(xb.detach().numpy(), X.detach().numpy())
    np.testing.assert_array_equal(yb.numpy(), y.numpy())
    with pytest.raises(AssertionError, match="Size mismatch"):
        TensorDataset(np.zeros((5, 2)), np.zeros(4))
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(np.zeros((5, 2)), batch_size=0)
    with pytest.raises(TypeError, match="TensorDataset"):  # the old DataLoader(X, y) form
        DataLoader(np.zeros((5, 2)), np.zeros(5))
    with pytest.raises(TypeError):
        DataLoader(batch_size=2)


def test_batches_are_usable_by_a_model():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 4)).astype(np.float32)
    y = rng.integers(0, 3, 20)
    model = nn.Linear(4, 3)
    for xb, yb in DataLoader(TensorDataset(X, y), batch_size=6, shuffle=True):
        loss = nn.CrossEntropyLoss()(model(xb), yb)
        assert np.isfinite(loss.item())


# --------------------------------------------------------------------------------------
# IDX files
# --------------------------------------------------------------------------------------
IDX_CODES = {np.dtype("uint8"): 0x08, np.dtype("int8"): 0x09, np.dtype("int16"): 0x0B, np.dtype("int32"): 0x0C,
             np.dtype("float32"): 0x0D, np.dtype("float64"): 0x0E}


def _idx_bytes(arr):
    arr = np.asarray(arr)
    header = bytes([0, 0, IDX_CODES[arr.dtype], arr.ndim]) + b"".join(struct.pack(">I", d) for d in arr.shape)
    return header + arr.astype(arr.dtype.newbyteorder(">")).tobytes()


@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "float32", "float64"])
@pytest.mark.parametrize("compressed", [False, True])
def test_read_idx_round_trip(tmp_path, dtype, compressed):
    rng = np.random.default_rng(1)
    if dtype.startswith("float"):
        arr = rng.standard_normal((3, 4, 5)).astype(dtype)
    else:
        info = np.iinfo(dtype)
        arr = rng.integers(info.min, info.max, (3, 4, 5), endpoint=True).astype(dtype)
    data = _idx_bytes(arr)
    path = tmp_path / ("a.idx" + (".gz" if compressed else ""))
    path.write_bytes(gzip.compress(data) if compressed else data)
    out = read_idx(path)
    assert out.shape == (3, 4, 5)
    assert out.dtype == np.dtype(dtype)          # native byte order, same kind
    assert out.dtype.isnative
    np.testing.assert_array_equal(out, arr)


def test_read_idx_labels_and_images_shapes(tmp_path):
    labels = np.array([9, 0, 0, 3, 0, 2], np.uint8)
    images = np.arange(6 * 28 * 28, dtype=np.int64).astype(np.uint8).reshape(6, 28, 28)
    (tmp_path / "l").write_bytes(_idx_bytes(labels))
    (tmp_path / "i.gz").write_bytes(gzip.compress(_idx_bytes(images)))
    np.testing.assert_array_equal(read_idx(tmp_path / "l"), labels)
    np.testing.assert_array_equal(read_idx(str(tmp_path / "i.gz")), images)


def _malformed(tmp_path):
    good = _idx_bytes(np.arange(12, dtype=np.uint8).reshape(3, 4))
    return {
        "empty": b"",
        "short": b"\0\0",
        "bad_magic": b"\1\0" + good[2:],
        "unknown_type": good[:2] + b"\x07" + good[3:],
        "truncated_header": good[:6],
        "truncated_data": good[:-1],
        "extra_data": good + b"\0",
        "wrong_ndim": good[:3] + b"\x03" + good[4:],
        "huge_dims": b"\0\0\x08\x02" + struct.pack(">II", 2**32 - 1, 2**32 - 1) + b"\0" * 8,
        "overflowing_dims": b"\0\0\x08\x03" + struct.pack(">III", 2**31, 2**31, 4),
    }


@pytest.mark.parametrize("name", ["empty", "short", "bad_magic", "unknown_type", "truncated_header",
                                  "truncated_data", "extra_data", "wrong_ndim", "huge_dims", "overflowing_dims"])
@pytest.mark.parametrize("compressed", [False, True])
def test_read_idx_malformed_raises_value_error(tmp_path, name, compressed):
    data = _malformed(tmp_path)[name]
    path = tmp_path / ("bad" + (".gz" if compressed else ""))
    path.write_bytes(gzip.compress(data) if compressed else data)
    with pytest.raises(ValueError):
        read_idx(path)


def test_read_idx_broken_gzip_raises_value_error(tmp_path):
    """A truncated or non-gzip .gz file is a malformed file: ValueError, like every other one."""
    raw = _idx_bytes(np.arange(1000, dtype=np.uint8))
    gz = gzip.compress(raw)
    (tmp_path / "trunc.gz").write_bytes(gz[: len(gz) // 2])
    with pytest.raises(ValueError):
        read_idx(tmp_path / "trunc.gz")
    (tmp_path / "plain.gz").write_bytes(raw)
    with pytest.raises(ValueError):
        read_idx(tmp_path / "plain.gz")


_BOMB_RSS = """
import resource, sys
from gradcore.data import read_idx
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    read_idx(sys.argv[1])
except ValueError as e:
    print("ValueError", e, file=sys.stderr)
else:
    sys.exit("no ValueError")
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)   # MiB (ru_maxrss is in KiB)
"""


def test_read_idx_gzip_bomb_is_rejected_without_inflating_it(tmp_path):
    """A header promising 10 bytes, then 256 MiB of zeros in ~270 KB of gzip (concatenated
    members inflate as one stream): ValueError, and the peak RSS of a fresh process grows by
    far less than the bomb (an unbounded ``gzip.open(...).read()`` grows it by >= 256 MiB)."""
    import subprocess
    import sys

    zeros = gzip.compress(b"\0" * (1 << 20), 9)
    bomb = tmp_path / "bomb.gz"
    bomb.write_bytes(gzip.compress(_idx_bytes(np.arange(10, dtype=np.uint8))) + zeros * 256)
    assert bomb.stat().st_size < 400_000
    proc = subprocess.run([sys.executable, "-c", _BOMB_RSS, str(bomb)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout) < 100, f"peak RSS grew by {proc.stdout.strip()} MiB"
    assert "trailing data" in proc.stderr and "(10,)" in proc.stderr


_HUGE_HEADERS = {
    # dims whose product overflows int64 (and wraps to 0 in int64 arithmetic)
    "wraps_to_zero": (b"\0\0\x08\x03" + struct.pack(">III", 2**31, 2**31, 4), "(2147483648, 2147483648, 4)"),
    # a zero dim does not make absurd other dims legal (NumPy refuses this shape too)
    "zero_and_huge": (b"\0\0\x0e\x03" + struct.pack(">III", 0, 2**32 - 1, 2**32 - 1), "(0, 4294967295, 4294967295)"),
    # 255 dims of 2**32 - 1
    "many_dims": (b"\0\0\x08\xff" + struct.pack(">I", 2**32 - 1) * 255, "(4294967295, 4294967295"),
}


@pytest.mark.parametrize("name", sorted(_HUGE_HEADERS))
@pytest.mark.parametrize("compressed", [False, True])
def test_read_idx_overflowing_shape_names_it(tmp_path, name, compressed):
    header, shape_text = _HUGE_HEADERS[name]
    path = tmp_path / ("h" + (".gz" if compressed else ""))
    path.write_bytes(gzip.compress(header) if compressed else header)
    with pytest.raises(ValueError, match="overflows int64") as ei:
        read_idx(path)
    assert shape_text in str(ei.value)


@pytest.mark.parametrize("compressed", [False, True])
def test_read_idx_zero_size_with_large_dims_is_legal(tmp_path, compressed):
    """(0, 2**31, 4) holds no element and its non-zero dims fit: an empty array, like NumPy's."""
    header = b"\0\0\x0c\x03" + struct.pack(">III", 0, 2**31, 4)
    path = tmp_path / ("z" + (".gz" if compressed else ""))
    path.write_bytes(gzip.compress(header) if compressed else header)
    out = read_idx(path)
    assert out.shape == (0, 2**31, 4) and out.dtype == np.int32 and out.size == 0
    # a huge promise with no data behind it is a truncated file, found without allocating it
    promise = header[:4] + struct.pack(">III", 2**20, 2**20, 2**20)
    path.write_bytes(gzip.compress(promise) if compressed else promise)
    with pytest.raises(ValueError, match="expected 4611686018427387904 bytes"):
        read_idx(path)


def test_read_idx_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "nope")


def test_load_fashion_mnist_missing_files_message(tmp_path):
    with pytest.raises(FileNotFoundError) as ei:
        load_fashion_mnist(str(tmp_path))
    msg = str(ei.value)
    assert str(tmp_path) in msg
    assert "train-images-idx3-ubyte" in msg
    assert "dataset-fashion-mnist" in msg


def test_load_fashion_mnist_from_small_files(tmp_path):
    rng = np.random.default_rng(2)
    tr_x = rng.integers(0, 256, (5, 28, 28)).astype(np.uint8)
    tr_y = rng.integers(0, 10, 5).astype(np.uint8)
    te_x = rng.integers(0, 256, (3, 28, 28)).astype(np.uint8)
    te_y = rng.integers(0, 10, 3).astype(np.uint8)
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(_idx_bytes(tr_x)))
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(_idx_bytes(tr_y))
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(_idx_bytes(te_x))
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(_idx_bytes(te_y)))
    X, y, Xt, yt = load_fashion_mnist(str(tmp_path))
    assert X.shape == (5, 784) and X.dtype == np.float32 and Xt.shape == (3, 784)
    assert y.dtype == np.int64 and yt.dtype == np.int64
    np.testing.assert_allclose(X, tr_x.reshape(5, -1) / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(yt, te_y)
    assert 0.0 <= X.min() and X.max() <= 1.0
    # only one file missing: still the helpful message
    os.remove(tmp_path / "t10k-labels-idx1-ubyte.gz")
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte"):
        load_fashion_mnist(str(tmp_path))


# --------------------------------------------------------------------------------------
# fit / evaluate / plot_history
# --------------------------------------------------------------------------------------
def _blobs(n=200, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    centers = np.array([[4.0, 0.0], [-4.0, 0.0], [0.0, 4.0]])
    X = (centers[y] + rng.standard_normal((n, 2)) * 0.6).astype(np.float32)
    return X, y


def _setup(seed=0):
    gc.manual_seed(seed)
    X, y = _blobs()
    Xv, yv = _blobs(90, seed=1)
    model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 3))
    opt = gc.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    return model, opt, DataLoader(TensorDataset(X, y), batch_size=32, shuffle=True, generator=_gen(seed)), DataLoader(TensorDataset(Xv, yv), batch_size=50)


def test_fit_reaches_high_accuracy_and_history_shape():
    model, opt, loader, val = _setup()
    lines = []
    hist = fit(model, nn.CrossEntropyLoss(), opt, loader, epochs=6, val_loader=val, progress=False, log=lines.append)
    assert set(hist) == {"loss", "accuracy", "val_loss", "val_accuracy", "epoch_time"}
    assert all(len(v) == 6 for v in hist.values())
    assert len(lines) == 6 and "epoch 6/6" in lines[-1]
    assert hist["accuracy"][-1] >= 0.97
    assert hist["val_accuracy"][-1] >= 0.97
    assert hist["loss"][-1] < hist["loss"][0]
    assert all(t >= 0 for t in hist["epoch_time"])
    assert model.training                      # fit leaves the model in training mode
    ev = evaluate(model, nn.CrossEntropyLoss(), val)
    assert ev["accuracy"] == pytest.approx(hist["val_accuracy"][-1])
    assert ev["loss"] == pytest.approx(hist["val_loss"][-1], rel=1e-5)
    assert model.training


def test_fit_metrics_are_what_they_claim():
    """history['accuracy'] / ['loss'] are the example-weighted means over the epoch's batches."""
    gc.manual_seed(0)
    X, y = _blobs(50)
    model = nn.Linear(2, 3)
    opt = gc.optim.SGD(model.parameters(), lr=0.0)      # no learning: every batch sees the same model
    loader = DataLoader(TensorDataset(X, y), batch_size=16)
    hist = fit(model, nn.CrossEntropyLoss(), opt, loader, epochs=1, progress=False, log=lambda s: None)
    out = model(gc.tensor(X))
    acc = float((out.detach().numpy().argmax(1) == y).mean())
    loss = nn.CrossEntropyLoss()(out, y).item()
    assert hist["accuracy"][0] == pytest.approx(acc)
    assert hist["loss"][0] == pytest.approx(loss, rel=1e-5)


def test_evaluate_uses_eval_mode():
    gc.manual_seed(0)
    X, y = _blobs(64)
    model = nn.Sequential(nn.Linear(2, 3), nn.Dropout(0.9))
    loader = DataLoader(TensorDataset(X, y), batch_size=64)
    a = evaluate(model, nn.CrossEntropyLoss(), loader)
    b = evaluate(model, nn.CrossEntropyLoss(), loader)
    assert a == b                          # dropout off: deterministic
    model.eval()
    assert a["loss"] == pytest.approx(nn.CrossEntropyLoss()(model(gc.tensor(X)), y).item(), rel=1e-6)
    model.train()
    evaluate(model, nn.CrossEntropyLoss(), loader)
    assert model.training and model[1].training


def test_fit_is_bitwise_reproducible():
    def run():
        model, opt, loader, val = _setup(seed=3)
        hist = fit(model, nn.CrossEntropyLoss(), opt, loader, epochs=3, val_loader=val, progress=False,
                   log=lambda s: None)
        return hist, [p.detach().numpy().copy() for p in model.parameters()]

    h1, p1 = run()
    h2, p2 = run()
    for k in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert h1[k] == h2[k]
    for a, b in zip(p1, p2):
        np.testing.assert_array_equal(a, b)


def test_fit_regression_has_no_accuracy_and_scheduler_steps_per_epoch():
    gc.manual_seed(0)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 3)).astype(np.float32)
    Y = (X @ np.array([[1.0], [-2.0], [0.5]], np.float32)).astype(np.float32)
    model = nn.Linear(3, 1)
    opt = gc.optim.SGD(model.parameters(), lr=0.1)
    sched = gc.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    hist = fit(model, nn.MSELoss(), opt, DataLoader(TensorDataset(X, Y), batch_size=16), epochs=5, progress=False,
               log=lambda s: None, scheduler=sched)
    assert "accuracy" not in hist and len(hist["loss"]) == 5
    assert hist["loss"][-1] < 0.05 * hist["loss"][0]
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1 * 0.5 ** 2)


def test_plot_history_writes_png(tmp_path):
    pytest.importorskip("matplotlib")
    hist = {"loss": [1.0, 0.5, 0.3], "val_loss": [1.1, 0.6, 0.4], "accuracy": [0.5, 0.8, 0.9],
            "val_accuracy": [0.4, 0.7, 0.85], "epoch_time": [0.1, 0.1, 0.1]}
    path = tmp_path / "hist.png"
    assert plot_history(hist, str(path)) is True
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000


def test_plot_history_of_a_regression_run(tmp_path):
    """fit() on a regression task returns no accuracy; plotting that history must work cleanly."""
    pytest.importorskip("matplotlib")
    path2 = tmp_path / "reg.png"
    assert plot_history({"loss": [3.0, 2.0], "epoch_time": [0.1, 0.1]}, str(path2)) is True
    assert path2.read_bytes()[:4] == b"\x89PNG"
