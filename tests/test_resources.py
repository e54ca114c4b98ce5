"""Resources: memory stays flat, graphs die without the cycle collector, fork and
threadpoolctl work with gradcore's thread pool, anomaly mode names the failing op.

* soak: 5,000 Adam steps of a small MLP keep the process RSS within 5 % (step 500 vs 5000)
  and the caching allocator's live bytes (and its count of system allocations) constant;
* a plain training loop with the cycle collector disabled frees every step's tensors by
  reference counting alone (weakrefs die, ``gc.get_objects()`` does not grow, and a final
  ``gc.collect()`` finds nothing created by the loop);
* ``os.fork()`` after the pool has run leaves a child whose parallel ops still work (run in
  a subprocess with a timeout, so a deadlocked child fails the test instead of hanging it);
* threadpoolctl sees and limits the pool (``user_api="gradcore"``);
* ``gradcore.autograd.detect_anomaly()`` raises on a NaN/Inf gradient naming the backward
  op and the file:line where the op was created; outside the mode backward completes.

The stdlib ``gc`` module is used here, so gradcore is imported as ``gcore``.
"""
from __future__ import annotations

import gc
import os
import subprocess
import sys
import textwrap
import weakref
from typing import Any, List

import numpy as np
import pytest

import gradcore as gcore
import gradcore.nn as nn
import gradcore.nn.functional as F

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


def _mlp_and_data(seed: int = 0) -> Any:
    gcore.manual_seed(seed)
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((512, 32)).astype(np.float32)
    Y = rng.integers(0, 10, 512).astype(np.int64)
    model = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 10))
    opt = gcore.optim.Adam(model.parameters(), lr=1e-3)
    return model, opt, X, Y


# ---- soak ---------------------------------------------------------------------------------

def test_soak_5000_steps_rss_and_allocator_flat() -> None:
    model, opt, X, Y = _mlp_and_data()
    batch = 16
    nb = X.shape[0] // batch
    checkpoints = {}
    losses = []
    for step in range(1, 5001):
        i = (step % nb) * batch
        xb = gcore.from_numpy(X[i:i + batch])
        yb = Y[i:i + batch]
        loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step in (1, 100):
            losses.append(loss.item())
        if step in (100, 500, 1000, 2500, 5000):
            checkpoints[step] = (rss_bytes(), dict(gcore._core._allocator_stats()))
    losses.append(loss.item())

    rss500, stats500 = checkpoints[500]
    rss5000, stats5000 = checkpoints[5000]
    growth = (rss5000 - rss500) / rss500
    print(f"soak: RSS step 500 {rss500 / 2**20:.2f} MiB, step 5000 {rss5000 / 2**20:.2f} MiB "
          f"({100 * growth:+.3f} %); allocator at 500: {stats500}; at 5000: {stats5000}")
    assert abs(growth) <= 0.05, f"RSS grew {100 * growth:.2f} % between step 500 and 5000"
    # live bytes after warm-up are the same at every checkpoint (the same set of tensors is
    # alive at the same point of every step: parameters, Adam state, last loss/graph)
    lives = {s: st["live_bytes"] for s, (_, st) in checkpoints.items()}
    assert len(set(lives.values())) == 1, f"allocator live bytes drift: {lives}"
    assert stats500["live_bytes"] > 0
    # steady state means no new system allocations: every buffer comes from the cache
    allocs = {s: st["system_allocs"] for s, (_, st) in checkpoints.items()}
    assert len(set(allocs.values())) == 1, f"allocator keeps asking the system for memory: {allocs}"
    assert stats5000["cache_hits"] > stats500["cache_hits"]
    # and it actually trained
    assert np.isfinite(losses).all() and losses[-1] < losses[0]


# ---- reference cycles ---------------------------------------------------------------------

def test_training_loop_frees_graphs_without_cycle_collector() -> None:
    model, opt, X, Y = _mlp_and_data(1)
    lin1, lin2 = model[0], model[2]
    refs: List[Any] = []
    counts = {}
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        for step in range(400):
            i = (step % 32) * 16
            xb = gcore.tensor(X[i:i + 16], requires_grad=True)  # a leaf that gets a .grad
            h = F.linear(xb, lin1.weight, lin1.bias)
            a = h.relu()
            logits = F.linear(a, lin2.weight, lin2.bias)
            probs = gcore.softmax(logits, 1)
            loss = F.cross_entropy(logits, Y[i:i + 16]) + (probs * probs).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            g = xb.grad
            assert g is not None
            if step in (10, 50, 100):
                refs += [weakref.ref(t) for t in (xb, h, a, logits, probs, loss, g)]
            if step in (100, 399):
                counts[step] = len(gc.get_objects())
        # rebind the loop variables: now nothing from the recorded steps may survive
        del xb, h, a, logits, probs, loss, g
        alive = [r for r in refs if r() is not None]
        counts["end"] = len(gc.get_objects())
        found = gc.collect()  # still disabled for automatic runs; an explicit call works
    finally:
        if was_enabled:
            gc.enable()
    assert gc.isenabled() == was_enabled
    print(f"cycles: gc.get_objects() counts {counts}, gc.collect() found {found}, {len(refs)} weakrefs checked")
    assert not alive, f"{len(alive)} tensors from earlier steps are still alive without gc.collect()"
    growth = counts[399] - counts[100]
    assert growth <= 20, f"gc.get_objects() grew by {growth} over 299 steps: {counts}"
    assert found == 0, f"gc.collect() found {found} unreachable objects: the loop created reference cycles"


def test_graph_held_only_by_output_dies_with_it() -> None:
    """The output -> grad_fn -> saved inputs chain is freed when the output goes, and the
    allocator gets every byte back."""
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        baseline = gcore._core._allocator_stats()["live_bytes"]
        x = gcore.randn(8, 8, requires_grad=True)
        mid = (x * 2).tanh()
        mid_ref = weakref.ref(mid)
        out = (mid @ mid).sum()  # the graph saves `mid` (twice)
        del mid
        out_ref = weakref.ref(out)
        grad_fn = out.grad_fn
        assert grad_fn is not None
        peak = gcore._core._allocator_stats()["live_bytes"]
        del out, grad_fn
        dead_out = out_ref() is None
        del x
        after = gcore._core._allocator_stats()["live_bytes"]
        found = gc.collect()
    finally:
        if was_enabled:
            gc.enable()
    assert dead_out
    assert mid_ref() is None
    assert found == 0
    assert peak > baseline
    assert after == baseline, f"live bytes {after} after freeing everything, {baseline} before"


# ---- fork ---------------------------------------------------------------------------------

FORK_SCRIPT = textwrap.dedent(
    r"""
    import os, sys
    import numpy as np
    import gradcore as gc

    gc.set_num_threads(2)
    rng = np.random.default_rng(0)
    a = rng.standard_normal((384, 320)).astype(np.float64)
    b = rng.standard_normal((320, 352)).astype(np.float64)
    ref = a @ b
    ta, tb = gc.tensor(a, dtype=gc.float64), gc.tensor(b, dtype=gc.float64)
    # use the pool in the parent (matmul, a big elementwise op and a reduction)
    for _ in range(3):
        got = (ta @ tb).detach().numpy()
    assert np.allclose(got, ref, rtol=1e-10, atol=1e-9)
    big = gc.randn(1 << 20, dtype=gc.float64)
    s_parent = float((big * 2.0).sum().item())

    def child_work():
        ok = True
        c = (ta @ tb).detach().numpy()
        ok &= bool(np.allclose(c, ref, rtol=1e-10, atol=1e-9))
        ok &= gc.get_num_threads() == 2
        gc.set_num_threads(2)
        c2 = (gc.tensor(b.T.copy(), dtype=gc.float64) @ gc.tensor(a.T.copy(), dtype=gc.float64)).detach().numpy()
        ok &= bool(np.allclose(c2, ref.T, rtol=1e-10, atol=1e-9))
        s = float((big * 2.0).sum().item())
        ok &= s == s_parent  # fixed-order reductions: bitwise the same
        # autograd through parallel kernels in the child
        x = gc.tensor(a, dtype=gc.float64, requires_grad=True)
        (x @ tb).sum().backward()
        ok &= bool(np.allclose(x.grad.detach().numpy(), np.broadcast_to(b.sum(axis=1), a.shape), rtol=1e-10, atol=1e-9))
        return ok

    pid = os.fork()
    if pid == 0:
        try:
            ok = child_work()
        except BaseException as e:
            print("child error:", repr(e), flush=True)
            ok = False
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    # the parent's pool still works after the fork
    got = (ta @ tb).detach().numpy()
    parent_ok = bool(np.allclose(got, ref, rtol=1e-10, atol=1e-9))
    # a second generation: fork from the child of a fork
    pid2 = os.fork()
    if pid2 == 0:
        try:
            pid3 = os.fork()
            if pid3 == 0:
                os._exit(0 if child_work() else 1)
            _, st3 = os.waitpid(pid3, 0)
            ok = os.waitstatus_to_exitcode(st3) == 0 and child_work()
        except BaseException as e:
            print("grandchild error:", repr(e), flush=True)
            ok = False
        os._exit(0 if ok else 1)
    _, status2 = os.waitpid(pid2, 0)
    print("child", os.waitstatus_to_exitcode(status), "grandchildren", os.waitstatus_to_exitcode(status2),
          "parent", parent_ok)
    print("FORK_OK" if os.waitstatus_to_exitcode(status) == 0 and os.waitstatus_to_exitcode(status2) == 0
          and parent_ok else "FORK_FAILED")
    """
)


def test_fork_after_thread_pool_use_leaves_working_child(tmp_path: Any) -> None:
    script = tmp_path / "fork_scenario.py"
    script.write_text(FORK_SCRIPT)
    env = dict(os.environ)
    env.pop("GRADCORE_NUM_THREADS", None)
    try:
        proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60, env=env)
    except subprocess.TimeoutExpired as e:  # a deadlocked pool in the child
        pytest.fail(f"fork scenario hung (> 60 s): stdout={e.stdout!r} stderr={e.stderr!r}")
    assert proc.returncode == 0, f"rc={proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    assert proc.stdout.strip().splitlines()[-1] == "FORK_OK", proc.stdout + proc.stderr


# ---- threadpoolctl ------------------------------------------------------------------------

def test_threadpoolctl_sees_and_limits_gradcore_pool(restore_threads: int) -> None:
    threadpoolctl = pytest.importorskip("threadpoolctl")
    gcore.set_num_threads(2)
    infos = [i for i in threadpoolctl.threadpool_info() if i["user_api"] == "gradcore"]
    assert len(infos) == 1, threadpoolctl.threadpool_info()
    assert infos[0]["num_threads"] == gcore.get_num_threads() == 2
    assert infos[0]["version"] == gcore.__version__

    a = gcore.randn(200, 300, dtype=gcore.float64)
    b = gcore.randn(300, 250, dtype=gcore.float64)
    ref = a.detach().numpy() @ b.detach().numpy()
    with threadpoolctl.threadpool_limits(limits=1, user_api="gradcore"):
        assert gcore.get_num_threads() == 1
        assert gcore.backend_info()["num_threads"] == 1
        inner = [i for i in threadpoolctl.threadpool_info() if i["user_api"] == "gradcore"]
        assert inner[0]["num_threads"] == 1
        np.testing.assert_allclose((a @ b).detach().numpy(), ref, rtol=1e-10, atol=1e-10)
    assert gcore.get_num_threads() == 2
    np.testing.assert_allclose((a @ b).detach().numpy(), ref, rtol=1e-10, atol=1e-10)

    # the controller object form works too
    ctl = threadpoolctl.ThreadpoolController()
    with ctl.limit(limits=1, user_api="gradcore"):
        assert gcore.get_num_threads() == 1
    assert gcore.get_num_threads() == 2


# ---- anomaly mode -------------------------------------------------------------------------

def _line_of(marker: str) -> int:
    with open(__file__) as f:
        for n, line in enumerate(f, 1):
            if marker in line and "_line_of" not in line:
                return n
    raise AssertionError(marker)


def test_detect_anomaly_names_op_and_creation_site() -> None:
    assert not gcore.autograd.is_anomaly_enabled()
    x = gcore.tensor([0.0, 1.0, 4.0], dtype=gcore.float64, requires_grad=True)
    with gcore.autograd.detect_anomaly():
        assert gcore.autograd.is_anomaly_enabled()
        y = x.sqrt()  # ANOMALY-SQRT
        loss = (y * 3.0).sum()
        with pytest.raises(RuntimeError) as info:
            loss.backward()
    assert not gcore.autograd.is_anomaly_enabled()
    msg = str(info.value)
    assert "SqrtBackward0" in msg, msg
    assert f"{os.path.basename(__file__)}:{_line_of('# ANOMALY-SQRT')}" in msg, msg
    assert "nan" in msg.lower() or "inf" in msg.lower(), msg

    # outside the mode the same backward completes, with inf in .grad
    x2 = gcore.tensor([0.0, 1.0, 4.0], dtype=gcore.float64, requires_grad=True)
    (x2.sqrt() * 3.0).sum().backward()
    g = x2.grad.detach().numpy()
    assert np.isinf(g[0]) and g[0] > 0
    np.testing.assert_allclose(g[1:], [1.5, 0.75])


def test_detect_anomaly_log_of_zero_names_log_backward() -> None:
    x = gcore.tensor([[0.0, 2.0], [1.0, 3.0]], requires_grad=True)
    with gcore.autograd.detect_anomaly():
        h = x * 1.0
        y = gcore.log(h)  # ANOMALY-LOG
        loss = y.mean()
        with pytest.raises(RuntimeError) as info:
            loss.backward()
    msg = str(info.value)
    assert "LogBackward0" in msg, msg
    assert f"{os.path.basename(__file__)}:{_line_of('# ANOMALY-LOG')}" in msg, msg
    assert not gcore.autograd.is_anomaly_enabled()

    x2 = gcore.tensor([[0.0, 2.0], [1.0, 3.0]], requires_grad=True)
    gcore.log(x2 * 1.0).mean().backward()
    g = x2.grad.detach().numpy()
    assert np.isinf(g[0, 0])
    np.testing.assert_allclose(g.reshape(-1)[1:], [0.125, 0.25, 1 / 12], rtol=1e-6)


def test_detect_anomaly_nan_from_zero_times_inf() -> None:
    """0 * inf in a backward is NaN: the op whose backward produced it is named."""
    x = gcore.tensor([0.0, 1.0], dtype=gcore.float64, requires_grad=True)
    with gcore.autograd.detect_anomaly():
        s = x.sqrt()  # ANOMALY-NAN
        y = (s * gcore.tensor([0.0, 1.0], dtype=gcore.float64)).sum()
        with pytest.raises(RuntimeError, match="SqrtBackward0") as info:
            y.backward()
    assert f"{os.path.basename(__file__)}:{_line_of('# ANOMALY-NAN')}" in str(info.value)
    x2 = gcore.tensor([0.0, 1.0], dtype=gcore.float64, requires_grad=True)
    (x2.sqrt() * gcore.tensor([0.0, 1.0], dtype=gcore.float64)).sum().backward()
    assert np.isnan(x2.grad.detach().numpy()[0])


def test_detect_anomaly_restores_mode_after_exception_and_finite_backward_passes() -> None:
    with pytest.raises(ZeroDivisionError):
        with gcore.autograd.detect_anomaly():
            raise ZeroDivisionError
    assert not gcore.autograd.is_anomaly_enabled()
    # a finite backward under the mode is unaffected
    x = gcore.tensor([1.0, 4.0], dtype=gcore.float64, requires_grad=True)
    with gcore.autograd.detect_anomaly():
        x.sqrt().sum().backward()
    np.testing.assert_allclose(x.grad.detach().numpy(), [0.5, 0.25])
    assert not gcore.autograd.is_anomaly_enabled()
