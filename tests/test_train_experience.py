"""Issue 13, items 4 and 5: fit's progress bar, checkpoints that round-trip every value type,
and resuming (by hand and through fit(checkpoint_dir=, resume=True)) bitwise."""
from __future__ import annotations

import io
import math
import os
import sys
from collections import OrderedDict

import numpy as np
import pytest

import gradcore as gc
import gradcore.nn as nn
from gradcore.train import fit


class Batches:
    """A tiny loader: batches of (x, y), reshuffled every epoch from its own Generator
    (like a DataLoader's ``generator``); len() is the number of batches."""

    def __init__(self, x, y, batch_size, seed=0):
        self.x, self.y, self.bs = x, y, batch_size
        self.generator = gc.Generator()
        self.generator.manual_seed(seed)

    def __len__(self):
        return -(-self.x.shape[0] // self.bs)

    def __iter__(self):
        perm = gc.randperm(self.x.shape[0], generator=self.generator)
        for i in range(len(self)):
            idx = perm[i * self.bs:(i + 1) * self.bs]
            yield self.x[idx], self.y[idx]


def _data(n=48, seed=1):
    rng = np.random.default_rng(seed)
    x = gc.tensor(rng.standard_normal((n, 5)).astype(np.float32))
    y = gc.tensor(rng.integers(0, 3, n).astype(np.int64))
    return x, y


def _objects(seed):
    gc.manual_seed(seed)
    model = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Dropout(0.3), nn.Linear(8, 3))
    opt = gc.optim.Adam(model.parameters(), lr=0.05, weight_decay=0.01)
    sched = gc.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.7)
    return model, opt, sched


def _bits(model):
    return {k: v.detach().numpy().tobytes() for k, v in model.state_dict().items()}


# --------------------------------------------------------------------------------------
# checkpoint round trip
# --------------------------------------------------------------------------------------
def _same(a, b, path="root"):
    """Equal values of exactly the same types, recursively (tensors: dtype, shape, bits)."""
    assert type(a) is type(b), f"{path}: {type(a).__name__} came back as {type(b).__name__}"
    if isinstance(a, dict):
        assert list(a) == list(b), f"{path}: keys {list(a)} came back as {list(b)}"
        for k in a:
            _same(a[k], b[k], f"{path}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (u, v) in enumerate(zip(a, b)):
            _same(u, v, f"{path}[{i}]")
    elif isinstance(a, gc.Tensor):
        assert a.dtype == b.dtype and tuple(a.shape) == tuple(b.shape), path
        fa = a.float() if a.dtype == gc.bfloat16 else a
        fb = b.float() if b.dtype == gc.bfloat16 else b
        assert fa.detach().numpy().tobytes() == fb.detach().numpy().tobytes(), path
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b), path
    elif isinstance(a, float):
        assert a == b and math.copysign(1, a) == math.copysign(1, b), f"{path}: {a!r} came back as {b!r}"
    else:
        assert a == b, f"{path}: {a!r} came back as {b!r}"


def test_checkpoint_round_trips_every_value_type(tmp_path):
    x, y = _data()
    model, opt, sched = _objects(0)
    for xb, yb in Batches(x, y, 16):
        opt.zero_grad()
        nn.functional.cross_entropy(model(xb), yb).backward()
        opt.step()
    sched.step()
    g = gc.Generator()
    g.manual_seed(7)
    gc.rand(3, generator=g)
    dtypes = [gc.float32, gc.float64, gc.float16, gc.bfloat16, gc.int64, gc.int32, gc.int16, gc.int8, gc.uint8,
              gc.bool]
    tensors = {str(dt): (gc.arange(-3, 3).reshape(2, 3) * 1.25).to(dt) for dt in dtypes}
    tensors["scalar"] = gc.tensor(2.5)
    tensors["empty"] = gc.zeros(0, 4)
    ck = {"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(), "epoch": 3,
          "rng": gc.get_rng_state(), "gen": g.get_state(), "tensors": tensors,
          "meta": {"int": 1, "big": 2**70, "neg": -5, "float": 1.0, "negzero": -0.0, "tiny": 5e-324,
                   "inf": float("inf"), "nan": float("nan"), "none": None, "true": True, "false": False,
                   "str": "héllo \"quoted\" \n", "empty_str": "", "list": [1, 2.0, "3", None, [4]],
                   "tuple": (0.9, 0.999), "nested_tuple": ((1, 2), [3, (4,)]), "empty_list": [], "empty_tuple": (),
                   "empty_dict": {}, "int_keys": {0: {"a": 1}, -2: [1], 10: "x"}, "ordered": OrderedDict(b=1, a=2)}}
    path = tmp_path / "ck.safetensors"
    gc.save(ck, path)
    back = gc.load(path)
    _same(ck, back)
    assert isinstance(back["model"], OrderedDict)  # as torch.load gives a module's state_dict back
    assert isinstance(back["optimizer"]["param_groups"][0]["betas"], tuple)
    assert type(back["scheduler"]["last_epoch"]) is int and type(back["optimizer"]["state"][0]["step"]) is float
    # and it loads into fresh objects, which then hold the same state
    model2, opt2, sched2 = _objects(5)
    model2.load_state_dict(back["model"])
    opt2.load_state_dict(back["optimizer"])
    sched2.load_state_dict(back["scheduler"])
    _same(opt.state_dict(), opt2.state_dict())
    assert sched2.state_dict() == sched.state_dict()
    g2 = gc.Generator().set_state(back["gen"])
    assert gc.equal(gc.rand(4, generator=g2), gc.rand(4, generator=g))


def test_flat_state_dict_keeps_its_order_and_type(tmp_path):
    sd = OrderedDict([("z.weight", gc.ones(2)), ("a.bias", gc.zeros(1))])
    gc.save(sd, tmp_path / "m.safetensors")
    back = gc.load(tmp_path / "m.safetensors")
    assert isinstance(back, OrderedDict) and list(back) == ["z.weight", "a.bias"]
    plain = {"b": gc.ones(1), "a": gc.ones(1)}  # unsorted plain dict: order kept too
    gc.save(plain, tmp_path / "p.safetensors")
    back = gc.load(tmp_path / "p.safetensors")
    assert type(back) is dict and list(back) == ["b", "a"]


# --------------------------------------------------------------------------------------
# resuming by hand: bitwise the same continuation
# --------------------------------------------------------------------------------------
def _steps(model, opt, sched, loader, epochs):
    for _ in range(epochs):
        model.train()
        for xb, yb in loader:
            opt.zero_grad()
            nn.functional.cross_entropy(model(xb), yb).backward()
            opt.step()
        sched.step()


def test_resume_by_hand_is_bitwise_the_uninterrupted_run(tmp_path):
    x, y = _data()
    model, opt, sched = _objects(0)
    loader = Batches(x, y, 10, seed=3)
    _steps(model, opt, sched, loader, 5)
    reference = _bits(model)

    model, opt, sched = _objects(0)
    loader = Batches(x, y, 10, seed=3)
    _steps(model, opt, sched, loader, 2)
    gc.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
             "epoch": 2, "rng": gc.get_rng_state(), "loader_gen": loader.generator.get_state(),
             "meta": {"note": "after epoch 2"}}, tmp_path / "ck.safetensors")
    del model, opt, sched, loader
    gc.manual_seed(1234)  # the crash: nothing of the old process survives
    ck = gc.load(tmp_path / "ck.safetensors")
    model, opt, sched = _objects(99)  # different initial weights, overwritten by the checkpoint
    loader = Batches(x, y, 10, seed=42)
    model.load_state_dict(ck["model"])
    opt.load_state_dict(ck["optimizer"])
    sched.load_state_dict(ck["scheduler"])
    gc.set_rng_state(ck["rng"])
    loader.generator.set_state(ck["loader_gen"])
    _steps(model, opt, sched, loader, 5 - ck["epoch"])
    assert _bits(model) == reference
    assert opt.param_groups[0]["lr"] == 0.05 * 0.7 ** 5 or math.isclose(opt.param_groups[0]["lr"], 0.05 * 0.7 ** 5)


# --------------------------------------------------------------------------------------
# fit(checkpoint_dir=, resume=True)
# --------------------------------------------------------------------------------------
def _fit(tmp, epochs, seed=0, resume=False, **kw):
    x, y = _data()
    model, opt, sched = _objects(seed)
    loader = Batches(x, y, 12, seed=4)
    val = [(x[:8], y[:8])]
    hist = fit(model, nn.CrossEntropyLoss(), opt, loader, epochs=epochs, val_loader=val, progress=False,
               log=lambda s: None, scheduler=sched, checkpoint_dir=tmp, resume=resume, **kw)
    return model, opt, hist


def test_fit_resume_is_bitwise_the_uninterrupted_run(tmp_path):
    model, opt, ref_hist = _fit(None, 4)
    reference = _bits(model)
    ck_dir = tmp_path / "ck"
    _fit(str(ck_dir), 2)
    assert os.listdir(ck_dir) == ["last.safetensors"]  # atomic: no temporary file left behind
    assert gc.load(ck_dir / "last.safetensors")["epoch"] == 2
    gc.manual_seed(4321)
    model2, opt2, hist = _fit(str(ck_dir), 4, seed=77, resume=True)
    assert _bits(model2) == reference
    for k in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert hist[k] == ref_hist[k] and len(hist[k]) == 4
    assert len(hist["epoch_time"]) == 4
    assert gc.load(ck_dir / "last.safetensors")["epoch"] == 4
    # resuming a finished run trains no further
    model3, _, hist3 = _fit(str(ck_dir), 4, seed=5, resume=True)
    assert _bits(model3) == reference and hist3["loss"] == ref_hist["loss"]


def test_fit_resume_without_a_checkpoint_starts_fresh(tmp_path):
    model, _, hist = _fit(str(tmp_path / "none_yet"), 2, resume=True)
    ref, _, ref_hist = _fit(None, 2)
    assert _bits(model) == _bits(ref) and hist["loss"] == ref_hist["loss"]
    assert os.path.exists(tmp_path / "none_yet" / "last.safetensors")


def test_fit_resume_bad_input(tmp_path):
    with pytest.raises(ValueError, match="checkpoint_dir"):
        _fit(None, 1, resume=True)
    with pytest.raises(ValueError, match="epochs"):
        _fit(None, -1)
    with pytest.raises(TypeError, match="epochs"):
        _fit(None, 2.0)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "last.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all}")
    with pytest.raises(ValueError, match="last.safetensors"):
        _fit(str(bad), 1, resume=True)
    other = tmp_path / "other"
    other.mkdir()
    gc.save({"epoch": 1, "weights": gc.ones(2)}, other / "last.safetensors")  # not fit's
    with pytest.raises(ValueError, match=r"last.safetensors.*not a fit\(\) checkpoint"):
        _fit(str(other), 1, resume=True)
    ck = tmp_path / "ck"
    _fit(str(ck), 1)
    x, y = _data()
    gc.manual_seed(0)
    wrong = nn.Sequential(nn.Linear(5, 4), nn.Linear(4, 3))  # another architecture
    opt = gc.optim.Adam(wrong.parameters(), lr=0.05)
    with pytest.raises(ValueError, match="last.safetensors"):
        fit(wrong, nn.CrossEntropyLoss(), opt, Batches(x, y, 12, seed=4), epochs=2, progress=False,
            log=lambda s: None, scheduler=gc.optim.lr_scheduler.StepLR(opt, 1), checkpoint_dir=str(ck), resume=True)


# --------------------------------------------------------------------------------------
# progress bar
# --------------------------------------------------------------------------------------
class FakeTTY(io.StringIO):
    def isatty(self):
        return True


def _small_fit(progress, log=None):
    x, y = _data(24)
    model, opt, _ = _objects(0)
    lines = []
    fit(model, nn.CrossEntropyLoss(), opt, Batches(x, y, 8), epochs=2, progress=progress,
        log=log or lines.append)
    return lines


def test_progress_true_draws_bars_with_rate_loss_and_accuracy(capsys):
    pytest.importorskip("tqdm")
    lines = _small_fit(True)
    err = capsys.readouterr().err
    assert "epoch 2/2" in err and "batch/s" in err and "loss=" in err and "acc=" in err
    assert "run_eta=" in err  # the whole run's ETA
    assert len(lines) == 2 and lines[0].startswith("epoch 1/2  loss")


def test_progress_false_and_auto_off_a_terminal_are_silent(capsys):
    pytest.importorskip("tqdm")
    for progress in (False, None):  # capsys' stderr is not a terminal
        _small_fit(progress)
        captured = capsys.readouterr()
        assert captured.err == "" and captured.out == ""


def test_progress_auto_on_a_terminal(monkeypatch, capsys):
    pytest.importorskip("tqdm")
    tty = FakeTTY()
    monkeypatch.setattr(sys, "stderr", tty)
    _small_fit(None, log=print)
    out = capsys.readouterr().out
    assert "batch/s" in tty.getvalue() and "loss=" in tty.getvalue()
    # with the default log=print the epoch lines go through the bar's write (stdout here)
    assert "epoch 1/2  loss" in out + tty.getvalue()


def test_progress_without_tqdm(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "tqdm", None)  # import tqdm now raises ImportError
    with pytest.raises(ImportError, match=r"gradcore\[progress\]"):
        _small_fit(True)
    monkeypatch.setattr(sys, "stderr", FakeTTY())
    assert len(_small_fit(None)) == 2  # auto: silent, no error
    assert sys.stderr.getvalue() == ""
