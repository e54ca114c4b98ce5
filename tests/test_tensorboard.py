"""gradcore.utils.tensorboard.SummaryWriter and fit(log_dir=): event files read back with
TensorBoard's own EventAccumulator, and compared with what torch.utils.tensorboard writes."""
from __future__ import annotations

import importlib
import os
import socket
import sys
import time

import numpy as np
import pytest

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402
from tensorboard.plugins.hparams import plugin_data_pb2  # noqa: E402

import gradcore as gc  # noqa: E402
import gradcore.nn as nn  # noqa: E402
from gradcore.train import fit  # noqa: E402
from gradcore.utils.tensorboard import SummaryWriter  # noqa: E402


def _read(d):
    acc = EventAccumulator(str(d), size_guidance={"scalars": 0, "histograms": 0, "tensors": 0})
    acc.Reload()
    return acc


def _next_second():
    """Event files are read in name order, and a name starts with the second it was created
    in (then host, pid and a counter that sorts as text): a file that must be read after
    another one is created in a later second."""
    t = int(time.time())
    while int(time.time()) == t:
        time.sleep(0.01)


def _runs(d):
    return sorted(os.path.relpath(r, d) for r, _, files in os.walk(d) if any("tfevents" in f for f in files))


def test_scalars_from_numbers_arrays_and_tensors(tmp_path):
    with SummaryWriter(str(tmp_path)) as w:
        assert w.get_logdir() == str(tmp_path)
        w.add_scalar("loss", 0.5, 0)
        w.add_scalar("loss", np.float32(0.25), 1)
        w.add_scalar("loss", gc.tensor([0.125]), 2)
        w.add_scalar("loss", np.array([[3]]), 3, walltime=1234.5)
        w.add_scalar("half", gc.tensor(1.5, dtype=gc.bfloat16), 0)
    acc = _read(tmp_path)
    ev = acc.Scalars("loss")
    assert [(e.step, e.value) for e in ev] == [(0, 0.5), (1, 0.25), (2, 0.125), (3, 3.0)]
    assert ev[3].wall_time == 1234.5
    assert acc.Scalars("half")[0].value == 1.5


def test_non_scalar_is_an_assertion_error_as_in_torch(tmp_path):
    with SummaryWriter(str(tmp_path)) as w:
        with pytest.raises(AssertionError, match="one element"):
            w.add_scalar("x", gc.ones(3))
    torch = pytest.importorskip("torch")
    from torch.utils.tensorboard import SummaryWriter as TorchWriter

    with TorchWriter(str(tmp_path / "t")) as tw:
        with pytest.raises(AssertionError):
            tw.add_scalar("x", torch.ones(3))


def test_same_files_and_values_as_torch(tmp_path):
    """add_scalars' sub-run layout, histograms (buckets included), text and hparams read
    back the same from our files as from torch.utils.tensorboard's."""
    torch = pytest.importorskip("torch")
    from torch.utils.tensorboard import SummaryWriter as TorchWriter

    values = np.random.default_rng(0).standard_normal(500)
    for name, W in (("ours", SummaryWriter), ("torch", TorchWriter)):
        with W(str(tmp_path / name)) as w:
            w.add_scalars("a/b", {"x": 1.0, "y": 2}, 3)
            w.add_histogram("h", gc.tensor(values) if name == "ours" else torch.tensor(values), 1)
            w.add_histogram("h10", values, 2, bins=10)
            w.add_histogram("hmax", values, 3, max_bins=20)
            w.add_histogram("hfd", values, 4, bins="fd")
            w.add_text("note", "**hello** é", 5)
            w.add_hparams({"lr": 0.1, "layers": 3, "opt": "adam", "bn": False}, {"hp/acc": 0.75},
                          hparam_domain_discrete={"opt": ["adam", "sgd"]}, run_name="trial")
    ours, theirs = tmp_path / "ours", tmp_path / "torch"
    assert _runs(ours) == _runs(theirs) == [".", "a_b_x", "a_b_y", "trial"]
    for run in ("a_b_x", "a_b_y"):
        a, b = _read(ours / run), _read(theirs / run)
        assert [(e.step, e.value) for e in a.Scalars("a/b")] == [(e.step, e.value) for e in b.Scalars("a/b")]
    a, b = _read(ours), _read(theirs)
    for tag in ("h", "h10", "hmax", "hfd"):
        ha, hb = a.Histograms(tag)[0], b.Histograms(tag)[0]
        assert ha.step == hb.step
        assert ha.histogram_value == hb.histogram_value, tag
    assert a.Histograms("h")[0].histogram_value.num == 500
    assert a.Histograms("h")[0].histogram_value.sum == pytest.approx(values.sum(), abs=1e-9)
    ta, tb = a.Tensors("note/text_summary")[0], b.Tensors("note/text_summary")[0]
    assert ta.tensor_proto.string_val == tb.tensor_proto.string_val == ["**hello** é".encode()]
    assert ta.step == 5
    assert set(a.PluginTagToContent("text")) == set(b.PluginTagToContent("text"))
    ha, hb = _read(ours / "trial"), _read(theirs / "trial")
    assert [(e.step, e.value) for e in ha.Scalars("hp/acc")] == [(e.step, e.value) for e in hb.Scalars("hp/acc")]
    ca, cb = ha.PluginTagToContent("hparams"), hb.PluginTagToContent("hparams")
    assert set(ca) == set(cb) == {"_hparams_/experiment", "_hparams_/session_start_info", "_hparams_/session_end_info"}
    for tag in ca:
        assert plugin_data_pb2.HParamsPluginData.FromString(ca[tag]) == \
            plugin_data_pb2.HParamsPluginData.FromString(cb[tag]), tag
    start = plugin_data_pb2.HParamsPluginData.FromString(ca["_hparams_/session_start_info"]).session_start_info
    assert start.hparams["lr"].number_value == 0.1 and start.hparams["opt"].string_value == "adam"
    assert start.hparams["layers"].number_value == 3
    assert start.hparams["bn"].number_value == 0  # a bool is a number in torch's files, so in ours


def test_hparams_bad_input(tmp_path):
    with SummaryWriter(str(tmp_path)) as w:
        with pytest.raises(TypeError):
            w.add_hparams([("lr", 0.1)], {})
        with pytest.raises(ValueError, match="should be one of"):
            w.add_hparams({"lr": [0.1]}, {"m": 1.0})
        with pytest.raises(TypeError, match="hparam_domain_discrete"):
            w.add_hparams({"opt": "adam"}, {"m": 1.0}, hparam_domain_discrete={"opt": [1, 2]})


def test_graph_of_a_model(tmp_path):
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Linear(3, 4), nn.Tanh())
            self.head = nn.Linear(4, 2)

        def forward(self, x):
            h = self.body(x)
            return self.head(h * h)

    gc.manual_seed(0)
    model = Net()
    x = gc.randn(5, 3)
    with SummaryWriter(str(tmp_path)) as w:
        w.add_graph(model, x)
    graph = _read(tmp_path).Graph()
    nodes = {n.name: n for n in graph.node}
    for name in ("input/0", "output/0", "body/0/weight", "body/0/bias", "head/weight", "head/bias"):
        assert name in nodes, sorted(nodes)
    assert nodes["body/0/weight"].op == "Parameter" and nodes["input/0"].op == "IO Node"
    assert nodes["body/0/weight"].attr["shape"].s == b"[4, 3]"
    ops = [n for n in graph.node if "Backward" in n.op]
    assert len(ops) >= 3 and any(n.op.startswith("Mul") for n in ops)  # the linears and h * h
    by_scope = {n.name: set(n.input) for n in ops}
    first = [k for k, ins in by_scope.items() if "body/0/weight" in ins]
    assert len(first) == 1 and first[0].startswith("body/0/") and "input/0" in by_scope[first[0]]
    assert len(nodes["output/0"].input) == 1 and nodes["output/0"].input[0].startswith("head/")
    for n in graph.node:  # every edge points at a node of the graph
        assert all(i in nodes for i in n.input), n.name
    assert all(p.grad is None for p in model.parameters())  # drawing the graph trains nothing
    assert not x.requires_grad


def test_purge_step_hides_the_crashed_runs_tail(tmp_path):
    with SummaryWriter(str(tmp_path), filename_suffix=".a") as w:
        for s in range(10):
            w.add_scalar("x", float(s), s)
    _next_second()
    with SummaryWriter(str(tmp_path), purge_step=5, filename_suffix=".b") as w:
        for s in range(5, 8):
            w.add_scalar("x", 100.0 + s, s)
    ev = _read(tmp_path).Scalars("x")
    assert [e.step for e in ev] == list(range(8))
    assert [e.value for e in ev][5:] == [105.0, 106.0, 107.0]


def test_default_log_dir_and_reopen_after_close(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    w = SummaryWriter(comment="_lr0.1")
    d = w.get_logdir()
    assert d.startswith("runs" + os.sep) and d.endswith(socket.gethostname() + "_lr0.1")
    w.add_scalar("a", 1.0, 0)
    w.close()
    _next_second()
    w.add_scalar("a", 2.0, 1)  # a closed writer reopens a new file, as torch's does
    w.flush()
    w.close()
    assert [e.value for e in _read(tmp_path / d).Scalars("a")] == [1.0, 2.0]


def test_import_without_tensorboard_names_the_extra(monkeypatch):
    monkeypatch.delitem(sys.modules, "gradcore.utils.tensorboard")
    for name in [m for m in sys.modules if m == "tensorboard" or m.startswith("tensorboard.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "tensorboard", None)
    with pytest.raises(ImportError, match=r"gradcore\[tensorboard\]"):
        importlib.import_module("gradcore.utils.tensorboard")
    monkeypatch.undo()
    assert importlib.import_module("gradcore.utils.tensorboard").SummaryWriter is SummaryWriter


def test_fit_log_dir(tmp_path):
    rng = np.random.default_rng(0)
    x = gc.tensor(rng.standard_normal((24, 4)).astype(np.float32))
    y = gc.tensor(rng.integers(0, 3, 24).astype(np.int64))
    batches = [(x[i:i + 8], y[i:i + 8]) for i in range(0, 24, 8)]
    gc.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 3))
    opt = gc.optim.SGD(model.parameters(), lr=0.1)
    sched = gc.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)

    class Norms:  # the reference: each step's gradient norms, computed in float64 by NumPy
        seen = []

        def on_after_backward(self, m, loss):
            self.seen.append({n: float(np.linalg.norm(p.grad.numpy().astype(np.float64)))
                              for n, p in m.named_parameters()})

    hist = fit(model, nn.CrossEntropyLoss(), opt, batches, epochs=3, val_loader=batches[:1], progress=False,
               log=lambda s: None, scheduler=sched, callbacks=[Norms()], log_dir=str(tmp_path))
    acc = _read(tmp_path)
    tags = set(acc.Tags()["scalars"])
    names = [n for n, _ in model.named_parameters()]
    assert {"loss/train", "accuracy/train", "loss/val", "accuracy/val", "lr/group0", "loss/train_step"} <= tags
    assert {f"grad_norm/{n}" for n in names} <= tags
    assert [(e.step, e.value) for e in acc.Scalars("loss/train")] == \
        [(3 * (i + 1), pytest.approx(v, rel=1e-6)) for i, v in enumerate(hist["loss"])]
    assert [(e.step, e.value) for e in acc.Scalars("epoch")] == [(3, 1), (6, 2), (9, 3)]
    assert [e.value for e in acc.Scalars("accuracy/val")] == pytest.approx(hist["val_accuracy"], rel=1e-6)
    assert [e.value for e in acc.Scalars("lr/group0")] == pytest.approx([0.1, 0.05, 0.025])
    assert [e.step for e in acc.Scalars("loss/train_step")] == list(range(1, 10))
    for n in names:
        got = [(e.step, e.value) for e in acc.Scalars(f"grad_norm/{n}")]
        assert [s for s, _ in got] == list(range(1, 10))
        assert [v for _, v in got] == pytest.approx([step[n] for step in Norms.seen], rel=1e-5)


def test_fit_resume_purges_what_the_interrupted_run_logged_after_its_checkpoint(tmp_path):
    rng = np.random.default_rng(1)
    x = gc.tensor(rng.standard_normal((16, 4)).astype(np.float32))
    y = gc.tensor(rng.integers(0, 2, 16).astype(np.int64))
    batches = [(x[i:i + 8], y[i:i + 8]) for i in range(0, 16, 8)]

    def run(epochs, resume):
        gc.manual_seed(0)
        model = nn.Linear(4, 2)
        return fit(model, nn.CrossEntropyLoss(), gc.optim.SGD(model.parameters(), lr=0.1), batches, epochs=epochs,
                   progress=False, log=lambda s: None, log_dir=str(tmp_path / "tb"),
                   checkpoint_dir=str(tmp_path / "ck"), resume=resume)

    run(2, False)  # checkpoint after step 4
    with SummaryWriter(str(tmp_path / "tb"), filename_suffix=".crashed") as w:  # logged, then the crash
        for step in (5, 6):
            w.add_scalar("loss/train_step", -1.0, step)
        w.add_scalar("loss/train", -1.0, 6)
    _next_second()
    hist = run(3, True)
    acc = _read(tmp_path / "tb")
    steps = [e.step for e in acc.Scalars("loss/train_step")]
    assert steps == [1, 2, 3, 4, 5, 6]
    assert all(e.value >= 0 for e in acc.Scalars("loss/train_step"))
    assert [(e.step, e.value) for e in acc.Scalars("loss/train")] == \
        [(2 * (i + 1), pytest.approx(v, rel=1e-6)) for i, v in enumerate(hist["loss"])]
