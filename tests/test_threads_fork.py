"""Threads and fork: gradient accumulation from several Python threads, concurrent
backward calls on one graph, and ``os.fork()`` while other threads are inside gradcore.

* independent graphs on two threads, each into its own leaves: gradients equal the NumPy
  formula (nothing serialises them on one lock, but only correctness is asserted here);
* two threads summing into one leaf, many times, with and without create_graph: .grad is
  exactly the sum of every gradient (float64, integer-valued, so exact);
* a create_graph backward whose leaf gradient is itself a leaf that requires grad (it used
  to deadlock the process-wide accumulation mutex on itself);
* two threads calling backward()/gc.grad() on one graph without retain_graph: exactly one
  succeeds and the other raises RuntimeError, the leaf gradient is not doubled; beside a
  pass with retain_graph=True, every pass that succeeds is counted in .grad exactly once;
* 300 forks while a training thread (MLP forward/backward/SGD step, pooled GEMMs, randn)
  and an allocation-heavy backward thread run: every child works (pooled matmul, randn,
  alloc, an op under anomaly mode, a backward through the parent's model) and exits 0.
  Run in a subprocess: a hung child is killed after a deadline and fails the test.

Thread helpers run daemon threads joined with a timeout, so a deadlock fails the test
instead of hanging the suite.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from typing import Any, Callable, List

import numpy as np
import pytest

import gradcore as gc
from gradcore.autograd import Function

JOIN_TIMEOUT_S = 60.0


def f64(data: Any, requires_grad: bool = False) -> gc.Tensor:
    return gc.tensor(data, dtype=gc.float64, requires_grad=requires_grad)


def run_threads(targets: List[Callable[[], None]]) -> List[BaseException]:
    """Runs each target on its own daemon thread; returns the exceptions they raised.

    Fails the test (instead of hanging) when a thread has not finished after JOIN_TIMEOUT_S.
    """
    errors: List[BaseException] = []
    lock = threading.Lock()

    def wrap(fn: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                fn()
            except BaseException as e:  # reported to the test, not to threading's hook
                with lock:
                    errors.append(e)
        return run

    threads = [threading.Thread(target=wrap(fn), daemon=True) for fn in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(JOIN_TIMEOUT_S)
    hung = [t for t in threads if t.is_alive()]
    assert not hung, f"{len(hung)} thread(s) still running after {JOIN_TIMEOUT_S} s (deadlock?)"
    return errors


# ---- parallel accumulation --------------------------------------------------------------

def test_independent_graphs_on_two_threads_give_the_numpy_gradients(rng: np.random.Generator) -> None:
    # loss = sum((x @ W)^2): dW = 2 x^T (x W), accumulated over `iters` backward calls.
    iters = 25
    xs = [rng.standard_normal((96, 80)) for _ in range(2)]
    ws = [rng.standard_normal((80, 72)) for _ in range(2)]
    leaves = [f64(w, requires_grad=True) for w in ws]
    barrier = threading.Barrier(2)

    def worker(i: int) -> Callable[[], None]:
        def run() -> None:
            x = f64(xs[i])
            barrier.wait()
            for _ in range(iters):
                ((x @ leaves[i]) ** 2).sum().backward()
        return run

    assert run_threads([worker(0), worker(1)]) == []
    for i in range(2):
        expected = iters * 2.0 * xs[i].T @ (xs[i] @ ws[i])
        np.testing.assert_allclose(leaves[i].grad.detach().numpy(), expected, rtol=1e-11, atol=1e-9)


@pytest.mark.parametrize("create_graph", [False, True], ids=["plain", "create_graph"])
def test_two_threads_summing_into_one_leaf_lose_nothing(create_graph: bool) -> None:
    # d/dw sum(w * c_t) = c_t: after `iters` calls per thread, w.grad = iters * (c_0 + c_1)
    # exactly (small integers in float64). The leaf is large so that the in-place sums of
    # the two threads overlap; create_graph sums out of place (a recorded add).
    n, iters = 1 << 15, 40 if create_graph else 150
    w = f64(np.ones(n), requires_grad=True)
    consts = [np.arange(n) % 7 + 1.0, np.arange(n) % 5 + 10.0]
    barrier = threading.Barrier(2)

    def worker(c: np.ndarray) -> Callable[[], None]:
        def run() -> None:
            ct = f64(c)
            barrier.wait()
            for _ in range(iters):
                (w * ct).sum().backward(create_graph=create_graph)
        return run

    assert run_threads([worker(consts[0]), worker(consts[1])]) == []
    np.testing.assert_array_equal(w.grad.detach().numpy(), iters * (consts[0] + consts[1]))
    assert w.grad.requires_grad is False  # no input of the recorded sums requires grad


def test_create_graph_accumulation_when_the_gradient_is_a_leaf_that_requires_grad() -> None:
    # y = x + 0 passes the upstream gradient v through unchanged, so x.grad becomes v itself
    # (a leaf requiring grad); the second backward records x.grad + v, which needs v's own
    # AccumulateGrad. Summing under the accumulation lock made that deadlock.
    x = f64([1.0, 2.0], requires_grad=True)
    v = f64([3.0, 5.0], requires_grad=True)

    def run() -> None:
        for _ in range(2):
            (x + 0).backward(v, create_graph=True)

    assert run_threads([run]) == []
    np.testing.assert_array_equal(x.grad.detach().numpy(), [6.0, 10.0])
    assert x.grad.requires_grad
    x.grad.sum().backward()  # d/dv sum(v + v) = 2
    np.testing.assert_array_equal(v.grad.detach().numpy(), [2.0, 2.0])


# ---- concurrent backward on one graph ---------------------------------------------------

GRAPHS = {
    # name: (build(x) -> scalar, d/dx as a NumPy formula)
    "mul_self": (lambda x: (x * x).sum(), lambda a: 2 * a),     # saves tensors
    "mul_scalar": (lambda x: (x * 2.0).sum(), lambda a: np.full_like(a, 2.0)),
    "add_scalar": (lambda x: (x + 1.0).sum(), lambda a: np.ones_like(a)),  # saves nothing
    "exp_mean": (lambda x: x.exp().mean(), lambda a: np.exp(a) / a.size),
}


@pytest.mark.parametrize("api", ["backward", "grad"])
@pytest.mark.parametrize("graph", list(GRAPHS))
def test_concurrent_backward_on_one_graph_exactly_one_succeeds(graph: str, api: str) -> None:
    build, formula = GRAPHS[graph]
    a = np.linspace(-1.0, 1.0, 4096)
    for rep in range(200):  # repeated: the claim race is decided in microseconds
        x = f64(a, requires_grad=True)
        y = build(x)
        barrier = threading.Barrier(2)
        results: List[Any] = []

        def call() -> None:
            barrier.wait()
            if api == "backward":
                y.backward()
            else:
                results.append(gc.grad(y, x)[0].detach().numpy())

        errors = run_threads([call, call])
        assert len(errors) == 1, f"rep {rep}: {len(errors)} of 2 concurrent calls raised: {errors!r}"
        assert isinstance(errors[0], RuntimeError) and "second time" in str(errors[0]), repr(errors[0])
        if api == "backward":
            np.testing.assert_allclose(x.grad.detach().numpy(), formula(a), rtol=1e-14, err_msg=f"rep {rep}")
        else:
            assert x.grad is None and len(results) == 1
            np.testing.assert_allclose(results[0], formula(a), rtol=1e-14, err_msg=f"rep {rep}")


class _Gate(Function):
    """y = 3 x. Its backward counts its calls, says that it is running, and waits to be let go."""

    calls = 0
    inside = threading.Event()
    release = threading.Event()

    @staticmethod
    def forward(ctx: Any, x: gc.Tensor) -> gc.Tensor:
        ctx.save_for_backward(x)
        return x * 3.0

    @staticmethod
    def backward(ctx: Any, g: gc.Tensor) -> gc.Tensor:
        _Gate.calls += 1
        _Gate.inside.set()
        _Gate.release.wait(5.0)
        return g * 3.0


@pytest.mark.parametrize("first_retains", [False, True], ids=["first_frees", "first_retains"])
def test_backward_while_another_is_inside_the_same_node_raises(first_retains: bool) -> None:
    # Deterministic version of the race: the second backward (without retain_graph) starts
    # while the first is inside the root node's backward. It must raise at once instead of
    # running the node a second time (doubling x.grad) or freeing values in use.
    _Gate.calls = 0
    _Gate.inside.clear()
    _Gate.release.clear()
    a = np.array([1.0, -2.0, 0.5])
    x = f64(a, requires_grad=True)
    y = _Gate.apply((x * x).sum())  # the gate is the root: both passes start there

    first_errors: List[BaseException] = []

    def first() -> None:
        try:
            y.backward(retain_graph=first_retains)
        except BaseException as e:
            first_errors.append(e)

    t = threading.Thread(target=first, daemon=True)
    t.start()
    try:
        assert _Gate.inside.wait(JOIN_TIMEOUT_S)
        match = "retain_graph=True is using" if first_retains else "second time"
        with pytest.raises(RuntimeError, match=match):
            y.backward()
    finally:
        _Gate.release.set()
        t.join(JOIN_TIMEOUT_S)
    assert not t.is_alive() and first_errors == []
    assert _Gate.calls == 1
    np.testing.assert_array_equal(x.grad.detach().numpy(), 3 * 2 * a)
    if first_retains:  # the failed pass took nothing: the graph still works, once more
        y.backward()
        np.testing.assert_array_equal(x.grad.detach().numpy(), 2 * 3 * 2 * a)
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_concurrent_backward_on_a_graph_with_two_leaves_sums_nothing_twice() -> None:
    ra, rb = np.linspace(0.5, 1.5, 2048), np.linspace(-2.0, 2.0, 2048)
    for rep in range(60):
        a, b = f64(ra, requires_grad=True), f64(rb, requires_grad=True)
        y = (a * a).sum() + (b + 1.0).sum() + (a * b).mean()
        barrier = threading.Barrier(2)

        def call() -> None:
            barrier.wait()
            y.backward()

        errors = run_threads([call, call])
        assert len(errors) == 1 and isinstance(errors[0], RuntimeError), f"rep {rep}: {errors!r}"
        np.testing.assert_allclose(a.grad.detach().numpy(), 2 * ra + rb / ra.size, rtol=1e-13)
        np.testing.assert_allclose(b.grad.detach().numpy(), 1.0 + ra / ra.size, rtol=1e-13)


def test_backward_with_retain_graph_beside_one_that_frees() -> None:
    # Retain first: both succeed. Free first: the retaining pass raises. A freeing pass that
    # finds the retaining one inside a node raises rather than free the values under it.
    # Whatever happens, each pass that returned is in .grad exactly once, and nothing crashes.
    a = np.linspace(-1.0, 1.0, 4096)
    g = 2 * a * np.exp(a * a)
    for rep in range(80):
        x = f64(a, requires_grad=True)
        y = (x * x).exp().sum()
        barrier = threading.Barrier(2)
        ok: List[bool] = []

        def call(retain: bool) -> Callable[[], None]:
            def run() -> None:
                barrier.wait()
                y.backward(retain_graph=retain)
                ok.append(retain)
            return run

        errors = run_threads([call(True), call(False)])
        assert all(isinstance(e, RuntimeError) for e in errors), repr(errors)
        assert len(ok) + len(errors) == 2 and len(ok) >= 1, f"rep {rep}: {errors!r}"
        np.testing.assert_allclose(x.grad.detach().numpy(), len(ok) * g, rtol=1e-13, err_msg=f"rep {rep}")
        if False in ok:  # the freeing pass ran to the end: the graph is gone
            with pytest.raises(RuntimeError, match="second time"):
                y.backward(retain_graph=True)


# ---- fork beside running threads --------------------------------------------------------

FORK_SCRIPT = textwrap.dedent(
    r"""
    import json, os, signal, sys, threading, time, warnings
    import numpy as np
    import gradcore as gc
    import gradcore.nn as nn
    import gradcore.nn.functional as F

    N_FORKS, CHILD_DEADLINE_S = int(sys.argv[1]), float(sys.argv[2])
    # Python 3.12+ warns that fork() with threads may deadlock the child: that is the point.
    warnings.filterwarnings("ignore", message=".*use of fork.*", category=DeprecationWarning)
    gc.set_num_threads(2)
    rng = np.random.default_rng(0)
    A, B = rng.standard_normal((192, 160)), rng.standard_normal((160, 176))
    REF = A @ B
    X = rng.standard_normal((256, 64)).astype(np.float32)
    Y = rng.integers(0, 10, 256).astype(np.int64)
    gc.manual_seed(1)
    model = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 10))
    stop = threading.Event()
    steps = [0, 0]
    errors = []

    def train():  # forward/backward/step, pooled GEMMs, randn, allocator churn
        try:
            opt = gc.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
            xb = gc.tensor(X)
            while not stop.is_set():
                opt.zero_grad()
                loss = F.cross_entropy(model(xb + gc.randn(256, 64) * 0.01), Y)
                loss.backward()
                opt.step()
                for n in (7, 1000, 40000, 3 << 16):
                    (gc.ones(n) * 2.0).sum()
                if not np.isfinite(loss.item()):
                    raise RuntimeError("loss is not finite")
                steps[0] += 1
        except BaseException as e:
            errors.append("train: " + repr(e))

    def churn():  # the engine allocates and frees thousands of small buffers without the GIL
        try:
            c = gc.ones(16, requires_grad=True)
            h = c
            for _ in range(2000):
                h = h * 1.0001 + 0.5
            h = h.sum()
            while not stop.is_set():
                h.backward(retain_graph=True)
                steps[1] += 1
        except BaseException as e:
            errors.append("churn: " + repr(e))

    def child_work():
        ta, tb = gc.tensor(A, dtype=gc.float64), gc.tensor(B, dtype=gc.float64)
        if not np.allclose((ta @ tb).detach().numpy(), REF, rtol=1e-10, atol=1e-9):  # pooled GEMM
            return 3
        if (gc.ones(1 << 18, dtype=gc.float64) * 2.0).sum().item() != 2.0 * (1 << 18):
            return 4
        r = gc.randn(4000, dtype=gc.float64).detach().numpy()
        if not 0.8 < float(r.std()) < 1.2 or np.array_equal(r, gc.randn(4000, dtype=gc.float64).detach().numpy()):
            return 5
        with gc.autograd.detect_anomaly():
            x = gc.tensor(A, dtype=gc.float64, requires_grad=True)
            (x * x).sum().backward()
            if not np.allclose(x.grad.detach().numpy(), 2 * A):
                return 6
            z = gc.tensor([0.0, 1.0], dtype=gc.float64, requires_grad=True)
            try:
                (z.log() * 0.0).sum().backward()  # 0 * inf: LogBackward returns nan
                return 7
            except RuntimeError as e:
                if "LogBackward" not in str(e):
                    return 8
        model.zero_grad()  # the parent's model, whose leaves a parent thread was updating
        F.cross_entropy(model(gc.tensor(X)), Y).backward()
        if not all(p.grad is not None and np.isfinite(p.grad.detach().numpy()).all() for p in model.parameters()):
            return 9
        return 0

    threads = [threading.Thread(target=train), threading.Thread(target=churn)]
    for t in threads:
        t.start()
    while min(steps) < 2 and not errors:
        time.sleep(0.01)
    codes, first_bad = {}, None
    for i in range(N_FORKS):
        pid = os.fork()
        if pid == 0:
            code = 2
            try:
                code = child_work()
            except BaseException as e:
                print("child error:", repr(e), flush=True)
            os._exit(code)
        deadline = time.monotonic() + CHILD_DEADLINE_S
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                rc = os.waitstatus_to_exitcode(status)
                break
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                rc = "hung"
                break
            time.sleep(0.0005)
        codes[str(rc)] = codes.get(str(rc), 0) + 1
        if rc != 0:
            first_bad = first_bad or f"fork {i}: {rc}"
            break  # fail fast
    stop.set()
    for t in threads:
        t.join(60)
    print(json.dumps({"codes": codes, "first_bad": first_bad, "steps": steps, "errors": errors,
                      "threads_alive": sum(t.is_alive() for t in threads)}))
    """
)


def test_fork_beside_training_threads_leaves_working_children(tmp_path: Any) -> None:
    import json

    script = tmp_path / "fork_threads.py"
    script.write_text(FORK_SCRIPT)
    env = dict(os.environ)
    env.pop("GRADCORE_NUM_THREADS", None)
    n_forks, child_deadline_s = 300, 10.0
    try:
        proc = subprocess.run([sys.executable, str(script), str(n_forks), str(child_deadline_s)],
                              capture_output=True, text=True, timeout=240, env=env)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"fork scenario did not finish (> 240 s): stdout={e.stdout!r} stderr={e.stderr!r}")
    assert proc.returncode == 0, f"rc={proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["first_bad"] is None, report  # "hung": a child deadlocked (killed after the deadline)
    assert report["codes"] == {"0": n_forks}, report
    assert report["errors"] == [] and report["threads_alive"] == 0, report
    assert min(report["steps"]) >= 2, report  # both parent threads really ran during the forks
