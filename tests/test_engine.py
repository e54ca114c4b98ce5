"""The reverse-mode engine and the runtime around it.

Graph structure (fan-out, diamonds, accumulation, retain_graph, a 10^6-node chain),
grad mode (nesting, decorators, thread-locality), gc.grad, explicit upstream gradients,
Python threads running independent graphs, thread-count independence of results,
zero-copy NumPy interop, and RNG reproducibility. Expected values are hand-derived.
"""
from __future__ import annotations

import gc as pygc
import os
import threading
import warnings
import time
from typing import Any, Dict, List, Tuple

import numpy as np
import pytest

import gradcore as gc
import gradcore.nn.functional as F


def f64(data: Any, requires_grad: bool = False) -> gc.Tensor:
    return gc.tensor(data, dtype=gc.float64, requires_grad=requires_grad)


# ----------------------------------------------------------------------------------------
# graph structure
# ----------------------------------------------------------------------------------------

def test_diamond_sums_both_paths() -> None:
    # a = exp(x); d = (2a) * (3a) = 6 exp(2x); dd/dx = 12 exp(2x)
    x = f64([0.3, -0.7], requires_grad=True)
    a = x.exp()
    d = (a * 2) * (a * 3)
    d.backward(f64([1.0, 1.0]))
    np.testing.assert_allclose(x.grad.detach().numpy(), 12 * np.exp(2 * np.array([0.3, -0.7])), rtol=1e-14)


def test_fan_out_of_a_leaf_into_many_ops() -> None:
    # y = x + x + x*x + x/2 -> dy/dx = 2 + 2x + 0.5
    x = f64([1.0, -2.0, 4.0], requires_grad=True)
    y = (x + x + x * x + x / 2).sum()
    y.backward()
    np.testing.assert_allclose(x.grad.detach().numpy(), 2.5 + 2 * np.array([1.0, -2.0, 4.0]), rtol=1e-15)


def test_fan_out_of_an_intermediate_node() -> None:
    # h = x*x is used by three consumers: y = h + 2h + h*h -> dy/dx = (3 + 2h) * 2x
    x = f64([1.5], requires_grad=True)
    h = x * x
    y = (h + 2 * h + h * h).sum()
    y.backward()
    assert x.grad.item() == pytest.approx((3 + 2 * 2.25) * 3.0, rel=1e-15)


def test_leaf_grad_accumulates_across_backward_calls() -> None:
    x = f64([1.0, 2.0], requires_grad=True)
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.detach().numpy(), [3.0, 3.0])
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad.detach().numpy(), [5.0, 7.0])  # 3 + 2x


def test_grad_is_none_until_backward_and_only_on_leaves_that_require_grad() -> None:
    x = f64([1.0, 2.0], requires_grad=True)
    c = f64([5.0, 6.0])
    assert x.grad is None
    y = (x * c).sum()
    y.backward()
    np.testing.assert_array_equal(x.grad.detach().numpy(), [5.0, 6.0])
    assert c.grad is None


def test_retain_graph_allows_a_second_backward() -> None:
    x = f64([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_array_equal(x.grad.detach().numpy(), [4.0, 8.0])
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()  # the second call did not retain


@pytest.mark.parametrize("build", [
    lambda x: (x * x).sum(),           # saves tensors
    lambda x: (x + 1).sum(),           # saves nothing but shapes
    lambda x: (-x).sum(),
    lambda x: x.reshape(-1).sum(),
    lambda x: x.sum(),                 # a single node straight onto the leaf
    lambda x: (x * 2).mean(),
    lambda x: (3 - x).sum(),
    lambda x: (x + x).sum(),
    lambda x: x.reshape(2, 1).T.sum(),
    lambda x: F.cross_entropy(x.reshape(1, 2), [0]),
], ids=["mul", "add_scalar", "neg", "reshape", "sum", "mul_scalar_mean", "rsub", "add_self", "T", "ce"])
def test_second_backward_through_freed_graph_raises(build: Any) -> None:
    x = f64([1.0, 2.0], requires_grad=True)
    y = build(x)
    y.backward()
    first = x.grad.detach().numpy().copy()
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()
    np.testing.assert_array_equal(x.grad.detach().numpy(), first)  # the failed call accumulated nothing


def test_backward_through_partly_freed_graph_raises() -> None:
    x = f64([1.0, 2.0], requires_grad=True)
    z = x * x
    z.sum().backward()
    with pytest.raises(RuntimeError, match="second time"):
        (z * 2).sum().backward()


def test_million_node_chain_backpropagates_iteratively() -> None:
    # y = x * c^N with c = 1 + 1e-6 and N = 10^6: dy/dx = c^N ~= e.
    # A recursive engine (or recursive node destructor) would overflow the C stack here.
    n, c = 10 ** 6, 1.000001
    x = f64(1.0, requires_grad=True)
    y = x
    for _ in range(n):
        y = y * c
    y.backward()
    assert x.grad.item() == pytest.approx(c ** n, rel=1e-9)
    assert y.item() == pytest.approx(c ** n, rel=1e-9)
    del y  # tearing the chain down must not recurse either


def test_million_node_chain_torn_down_without_backward() -> None:
    x = gc.tensor(0.0, requires_grad=True)
    y = x
    for _ in range(10 ** 6):
        y = y + 1.0
    assert y.item() == 10 ** 6
    del y
    pygc.collect()
    assert (x + 1).item() == 1.0  # the process is alive and working


def test_backward_with_explicit_gradient() -> None:
    x = f64([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)
    y = x * 3
    g = np.array([[1.0, -1.0, 0.5], [2.0, 0.0, -3.0]])
    y.backward(f64(g))
    np.testing.assert_array_equal(x.grad.detach().numpy(), 3 * g)


def test_backward_non_scalar_without_gradient_raises() -> None:
    x = f64([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="scalar"):
        (x * 2).backward()


def test_backward_gradient_shape_mismatch_raises() -> None:
    x = f64([1.0, 2.0], requires_grad=True)
    with pytest.raises(ValueError, match=r"\(3,\).*\(2,\)"):
        (x * 2).backward(f64([1.0, 2.0, 3.0]))


def test_grad_fn_and_leaf_metadata() -> None:
    x = f64([1.0, 2.0], requires_grad=True)
    w = f64([3.0, 4.0], requires_grad=True)
    assert x.is_leaf and x.grad_fn is None
    p = x * w
    s = p.sum()
    assert not p.is_leaf and p.requires_grad
    assert p.grad_fn.name() == "MulBackward0"
    assert s.grad_fn.name() == "SumBackward0"
    nf = s.grad_fn.next_functions
    assert len(nf) == 1 and nf[0][0].name() == "MulBackward0"
    assert len(p.grad_fn.next_functions) == 2
    d = p.detach()
    assert d.is_leaf and not d.requires_grad and d.grad_fn is None
    np.testing.assert_array_equal(d.detach().numpy(), [3.0, 8.0])
    # a leaf's requires_grad can be switched on and off
    c = f64([1.0])
    c.requires_grad = True
    assert (c * 2).requires_grad
    c.requires_grad = False
    assert not (c * 2).requires_grad
    # ops on tensors that do not require grad build no graph
    k = f64([1.0]) * 2
    assert k.is_leaf and not k.requires_grad and k.grad_fn is None


def test_detach_shares_storage_and_cuts_the_graph() -> None:
    x = f64([1.0, 2.0], requires_grad=True)
    d = x.detach()
    d.detach().numpy()[0] = 10.0
    assert x.tolist() == [10.0, 2.0]
    y = (x * d).sum()
    y.backward()
    np.testing.assert_array_equal(x.grad.detach().numpy(), [10.0, 2.0])  # only the non-detached path


# ----------------------------------------------------------------------------------------
# gc.grad
# ----------------------------------------------------------------------------------------

def test_grad_returns_tuple_and_does_not_touch_dot_grad() -> None:
    x = f64([1.0, -2.0], requires_grad=True)
    w = f64([3.0, 0.5], requires_grad=True)
    y = (x * x * w).sum()
    res = gc.grad(y, [x, w])
    assert isinstance(res, tuple) and len(res) == 2
    np.testing.assert_array_equal(res[0].detach().numpy(), [6.0, -2.0])   # 2xw
    np.testing.assert_array_equal(res[1].detach().numpy(), [1.0, 4.0])    # x^2
    assert x.grad is None and w.grad is None


def test_grad_single_tensor_input() -> None:
    x = f64([2.0], requires_grad=True)
    (g,) = gc.grad((x ** 3).sum(), x)
    assert g.item() == 12.0


def test_grad_unused_input() -> None:
    x = f64([1.0], requires_grad=True)
    unused = f64([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="allow_unused"):
        gc.grad((x * 2).sum(), [x, unused])
    gx, gu = gc.grad((x * 2).sum(), [x, unused], allow_unused=True)
    assert gx.item() == 2.0 and gu is None


def test_grad_with_grad_outputs() -> None:
    x = f64([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    y = x * x
    g = np.array([[1.0, 0.0], [-1.0, 0.5]])
    (gx,) = gc.grad(y, x, grad_outputs=f64(g))
    np.testing.assert_array_equal(gx.detach().numpy(), 2 * x.detach().numpy() * g)
    assert x.grad is None


def test_grad_frees_graph_unless_retained() -> None:
    x = f64([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    (g1,) = gc.grad(y, x, retain_graph=True)
    (g2,) = gc.grad(y, x)
    np.testing.assert_array_equal(g1.detach().numpy(), g2.detach().numpy())
    with pytest.raises(RuntimeError, match="second time"):
        gc.grad(y, x)


def test_grad_create_graph_gives_second_derivative() -> None:
    # y = sum(x^3): dy/dx = 3x^2, d/dx sum(3x^2) = 6x
    x = f64([1.0, -2.0, 0.5], requires_grad=True)
    (g,) = gc.grad((x ** 3).sum(), x, create_graph=True)
    assert g.requires_grad
    np.testing.assert_allclose(g.detach().numpy(), 3 * x.detach().numpy() ** 2, rtol=1e-15)
    (gg,) = gc.grad(g.sum(), x)
    np.testing.assert_allclose(gg.detach().numpy(), 6 * x.detach().numpy(), rtol=1e-15)


def test_backward_create_graph_records_the_gradient() -> None:
    x = f64([1.0, 2.0], requires_grad=True)
    (x ** 3).sum().backward(create_graph=True)
    assert x.grad.requires_grad
    np.testing.assert_array_equal(x.grad.detach().numpy(), [3.0, 12.0])
    (gg,) = gc.grad(x.grad.sum(), x)
    np.testing.assert_array_equal(gg.detach().numpy(), [6.0, 12.0])


def test_grad_of_several_outputs_sums_them() -> None:
    x = f64([1.0, 2.0], requires_grad=True)
    y1 = (x * 2).sum()
    y2 = (x * x).sum()
    (g,) = gc.grad([y1, y2], [x])
    np.testing.assert_array_equal(g.detach().numpy(), 2 + 2 * x.detach().numpy())


# ----------------------------------------------------------------------------------------
# grad mode
# ----------------------------------------------------------------------------------------

def test_no_grad_and_enable_grad_nest() -> None:
    x = f64([1.0], requires_grad=True)
    assert gc.is_grad_enabled()
    with gc.no_grad():
        assert not gc.is_grad_enabled()
        y = x * 2
        assert not y.requires_grad and y.grad_fn is None
        with gc.enable_grad():
            assert gc.is_grad_enabled()
            z = x * 2
            assert z.requires_grad and z.grad_fn is not None
            with gc.no_grad():
                assert not (x * 2).requires_grad
            assert (x * 2).requires_grad
        assert not (x * 2).requires_grad
    assert gc.is_grad_enabled()
    assert (x * 2).requires_grad


def test_grad_mode_restored_after_exception() -> None:
    with pytest.raises(KeyError):
        with gc.no_grad():
            raise KeyError("boom")
    assert gc.is_grad_enabled()


def test_no_grad_and_enable_grad_as_decorators() -> None:
    x = f64([1.0], requires_grad=True)

    @gc.no_grad()
    def frozen(t: gc.Tensor) -> gc.Tensor:
        return t * 2

    @gc.enable_grad()
    def tracked(t: gc.Tensor) -> gc.Tensor:
        return t * 2

    assert frozen.__name__ == "frozen"
    assert not frozen(x).requires_grad
    assert gc.is_grad_enabled()
    with gc.no_grad():
        assert tracked(x).requires_grad
        assert not gc.is_grad_enabled()


def test_grad_mode_is_thread_local() -> None:
    x = f64([1.0], requires_grad=True)
    results: Dict[str, Any] = {}
    inside = threading.Event()
    checked = threading.Event()

    def worker() -> None:
        with gc.no_grad():
            inside.set()
            checked.wait(10)
            results["worker_enabled"] = gc.is_grad_enabled()
            results["worker_rg"] = (x * 2).requires_grad

    t = threading.Thread(target=worker)
    t.start()
    assert inside.wait(10)
    # The worker sits inside no_grad right now; this thread must be unaffected.
    results["main_enabled"] = gc.is_grad_enabled()
    results["main_rg"] = (x * 2).requires_grad
    checked.set()
    t.join(10)
    assert results == {"worker_enabled": False, "worker_rg": False, "main_enabled": True, "main_rg": True}

    # And a thread started inside no_grad begins with grad mode on (its own default).
    seen: List[bool] = []
    with gc.no_grad():
        t = threading.Thread(target=lambda: seen.append(gc.is_grad_enabled()))
        t.start()
        t.join(10)
    assert seen == [True]


# ----------------------------------------------------------------------------------------
# Python threads, thread counts
# ----------------------------------------------------------------------------------------

def _train(seed: int, steps: int = 8) -> Tuple[np.ndarray, np.ndarray, float]:
    """A small independent regression model trained by plain gradient descent."""
    rng = np.random.default_rng(seed)
    X = gc.tensor(rng.standard_normal((96, 48)))
    Y = gc.tensor(rng.standard_normal((96, 4)))
    labels = rng.integers(0, 4, 96)
    W = gc.tensor(rng.standard_normal((48, 4)) * 0.1, requires_grad=True)
    b = gc.tensor(np.zeros(4), requires_grad=True)
    loss_val = 0.0
    for _ in range(steps):
        out = (X @ W + b).tanh()
        loss = F.mse_loss(out, Y) + F.cross_entropy(out, labels)
        gW, gb = gc.grad(loss, [W, b])
        loss_val = loss.item()
        with gc.no_grad():
            W = (W - 0.5 * gW).detach()
            b = (b - 0.5 * gb).detach()
        W.requires_grad = True
        b.requires_grad = True
    return W.detach().numpy().copy(), b.detach().numpy().copy(), loss_val


def test_independent_graphs_on_python_threads_match_sequential() -> None:
    seeds = [11, 22, 33, 44]
    sequential = [_train(s) for s in seeds]
    results: List[Any] = [None] * len(seeds)
    errors: List[BaseException] = []
    barrier = threading.Barrier(len(seeds))

    def worker(i: int) -> None:
        try:
            barrier.wait(10)
            for _ in range(3):  # repeat to give the threads time to overlap
                results[i] = _train(seeds[i])
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(seeds))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    for seq, par in zip(sequential, results):
        np.testing.assert_array_equal(par[0], seq[0])
        np.testing.assert_array_equal(par[1], seq[1])
        assert par[2] == seq[2]
    # sanity: the four models are really different and training did something
    assert not np.array_equal(sequential[0][0], sequential[1][0])


def test_kernels_release_the_gil() -> None:
    # While one thread sits in one long matmul, a pure-Python loop on this thread keeps running.
    # If the kernel held the GIL, this thread would be frozen for the whole call.
    rng = np.random.default_rng(0)
    a = gc.tensor(rng.standard_normal((1500, 1500)), dtype=gc.float64)
    started, done = threading.Event(), threading.Event()
    kernel_time: List[float] = []

    def worker() -> None:
        started.set()
        t0 = time.perf_counter()
        a @ a
        kernel_time.append(time.perf_counter() - t0)
        done.set()

    t0 = time.perf_counter()
    n = 0
    while time.perf_counter() - t0 < 0.05:  # calibrate this thread's loop rate alone
        n += 1
    rate = n / (time.perf_counter() - t0)

    t = threading.Thread(target=worker)
    t.start()
    started.wait(10)
    count = 0
    while not done.is_set():
        count += 1
    t.join(60)
    # GIL released: this loop shares the CPUs with the kernel's threads (~1/2 to 2/3 of a core).
    # GIL held: it gets at most the few ms before the call starts.
    assert count > 0.2 * rate * kernel_time[0], (count, rate, kernel_time)


def _thread_sensitive_results() -> Dict[str, np.ndarray]:
    rng = np.random.default_rng(3)
    out: Dict[str, np.ndarray] = {}
    for dt, name in ((gc.float32, "f32"), (gc.float64, "f64")):
        a = gc.tensor(rng.standard_normal((301, 257)), dtype=dt, requires_grad=True)
        b = gc.tensor(rng.standard_normal((257, 299)), dtype=dt, requires_grad=True)
        big = gc.tensor(rng.standard_normal(1_000_003), dtype=dt)
        m = gc.tensor(rng.standard_normal((300, 1001)), dtype=dt)
        c = a @ b
        out[f"matmul_{name}"] = c.detach().numpy().copy()
        out[f"sum_{name}"] = big.sum().detach().numpy().copy()
        out[f"mean_{name}"] = big.mean().detach().numpy().copy()
        out[f"sum_dim0_{name}"] = m.sum(dim=0).detach().numpy().copy()
        out[f"sum_dim1_{name}"] = m.sum(dim=1).detach().numpy().copy()
        out[f"max_dim1_{name}"] = m.max(dim=1).values.detach().numpy().copy()
        out[f"softmax_{name}"] = gc.softmax(m, 1).detach().numpy().copy()
        out[f"log_softmax_d0_{name}"] = gc.log_softmax(m, 0).detach().numpy().copy()
        out[f"ce_{name}"] = F.cross_entropy(m, np.arange(300) % 1001).detach().numpy().copy()
        (c * c).sum().backward()
        out[f"matmul_grad_a_{name}"] = a.grad.detach().numpy().copy()
        out[f"matmul_grad_b_{name}"] = b.grad.detach().numpy().copy()
    return out


def test_results_bitwise_identical_for_1_and_2_threads(restore_threads: int) -> None:
    gc.set_num_threads(1)
    assert gc.get_num_threads() == 1
    one = _thread_sensitive_results()
    gc.set_num_threads(2)
    assert gc.get_num_threads() == 2
    two = _thread_sensitive_results()
    for k in one:
        np.testing.assert_array_equal(one[k], two[k], err_msg=k)
    # and the values are right, not just consistent (same draws as _thread_sensitive_results)
    rng = np.random.default_rng(3)
    for name, np_dtype, rtol in (("f32", np.float32, 2e-5), ("f64", np.float64, 1e-12)):
        a = rng.standard_normal((301, 257)).astype(np_dtype).astype(np.float64)
        b = rng.standard_normal((257, 299)).astype(np_dtype).astype(np.float64)
        big = rng.standard_normal(1_000_003).astype(np_dtype).astype(np.float64)
        m = rng.standard_normal((300, 1001)).astype(np_dtype).astype(np.float64)
        c = a @ b
        scale = np.abs(a) @ np.abs(b)
        assert np.all(np.abs(two[f"matmul_{name}"] - c) <= 300 * rtol * scale)
        np.testing.assert_allclose(two[f"sum_{name}"], big.sum(), rtol=rtol * 100, atol=rtol * 1000)
        np.testing.assert_allclose(two[f"mean_{name}"], big.mean(), rtol=rtol * 100, atol=rtol)
        np.testing.assert_allclose(two[f"sum_dim0_{name}"], m.sum(axis=0), rtol=rtol * 10, atol=rtol * 100)
        np.testing.assert_allclose(two[f"sum_dim1_{name}"], m.sum(axis=1), rtol=rtol * 10, atol=rtol * 100)
        np.testing.assert_array_equal(two[f"max_dim1_{name}"], m.max(axis=1).astype(np_dtype))
        lsm = m - m.max(axis=1, keepdims=True)
        lsm = lsm - np.log(np.exp(lsm).sum(axis=1, keepdims=True))
        np.testing.assert_allclose(two[f"softmax_{name}"], np.exp(lsm), rtol=rtol * 10, atol=rtol)
        lsm0 = m - m.max(axis=0, keepdims=True)
        lsm0 = lsm0 - np.log(np.exp(lsm0).sum(axis=0, keepdims=True))
        np.testing.assert_allclose(two[f"log_softmax_d0_{name}"], lsm0, rtol=rtol * 10, atol=rtol * 10)
        ce = -lsm[np.arange(300), np.arange(300) % 1001].mean()
        np.testing.assert_allclose(two[f"ce_{name}"], ce, rtol=rtol * 10)
        np.testing.assert_allclose(two[f"matmul_grad_a_{name}"], 2 * c @ b.T, rtol=rtol * 100,
                                   atol=300 * rtol * np.max(np.abs(2 * c @ b.T)))


def test_set_num_threads_while_other_threads_compute(restore_threads: int) -> None:
    # Rebuilding the pool must not break (or deadlock) jobs running on other Python threads.
    rng = np.random.default_rng(4)
    a = gc.tensor(rng.standard_normal((200, 200)))
    big = gc.tensor(rng.standard_normal(500_000))
    mm_ref, sum_ref = (a @ a).detach().numpy().copy(), big.sum().item()
    stop = threading.Event()
    errors: List[str] = []

    def worker() -> None:
        try:
            while not stop.is_set():
                if not np.array_equal((a @ a).detach().numpy(), mm_ref):
                    errors.append("matmul changed")
                if big.sum().item() != sum_ref:
                    errors.append("sum changed")
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        for i in range(60):
            gc.set_num_threads(1 + i % 3)
            time.sleep(0.002)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert not any(t.is_alive() for t in threads), "a worker thread hung"
    assert not errors, errors[:5]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_pool_works_in_a_forked_child() -> None:
    # After fork the pool's worker threads do not exist in the child; it must build a new one
    # instead of waiting forever for the dead ones (DataLoader workers fork).
    rng = np.random.default_rng(6)
    a = gc.tensor(rng.standard_normal((256, 256)))
    ref = (a @ a).detach().numpy().copy()
    big = gc.ones(1_000_000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # py>=3.12: fork of a threaded process
        pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        code = 1
        try:
            ok = np.array_equal((a @ a).detach().numpy(), ref) and big.sum().item() == 1_000_000.0
            code = 0 if ok else 2
        finally:
            os._exit(code)
    deadline = time.time() + 60
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.time() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            pytest.fail("forked child hung in the thread pool")
        time.sleep(0.01)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status


# ----------------------------------------------------------------------------------------
# NumPy interop
# ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("np_dtype", [np.float32, np.float64])
def test_from_numpy_of_unaligned_memory_under_every_isa(np_dtype: Any, isa: str) -> None:
    # from_numpy shares numpy's buffer, which need not be 64-byte aligned (unlike gradcore's
    # own storage): SIMD kernels must not assume alignment.
    itemsize = np.dtype(np_dtype).itemsize
    buf = np.zeros(64 * 64 + 64, dtype=np_dtype)
    offset = next(i for i in range(1, 64) if (buf[i:].ctypes.data % 64) != 0)
    a = buf[offset:offset + 64 * 64]
    assert a.flags.c_contiguous and a.ctypes.data % 64 != 0 and a.ctypes.data % itemsize == 0
    a[:] = np.linspace(-2.0, 2.0, a.size)
    t = gc.from_numpy(a)
    assert np.shares_memory(t.detach().numpy(), a)
    A = a.astype(np.float64)
    rtol = 1e-5 if np_dtype == np.float32 else 1e-12
    np.testing.assert_allclose((t * 2 + t).exp().detach().numpy(), np.exp(3 * A), rtol=rtol)
    np.testing.assert_allclose(t.sum().item(), A.sum(), rtol=rtol, atol=1e-4)
    m = t.reshape(64, 64)
    np.testing.assert_allclose((m @ m).detach().numpy(), A.reshape(64, 64) @ A.reshape(64, 64), rtol=rtol, atol=1e-4)
    np.testing.assert_allclose(gc.softmax(m, 1).detach().numpy().sum(axis=1), np.ones(64), rtol=rtol)
    np.testing.assert_allclose(m.max(dim=0).values.detach().numpy(), A.reshape(64, 64).max(axis=0), rtol=rtol)


@pytest.mark.parametrize("np_dtype,dtype", [(np.float32, gc.float32), (np.float64, gc.float64)])
def test_from_numpy_is_zero_copy(np_dtype: Any, dtype: Any) -> None:
    a = np.arange(6, dtype=np_dtype).reshape(2, 3)
    t = gc.from_numpy(a)
    assert t.dtype == dtype and t.shape == (2, 3)
    a[0, 1] = 42.0
    assert t.tolist()[0][1] == 42.0
    t.detach().numpy()[1, 2] = -7.0
    assert a[1, 2] == -7.0
    assert np.shares_memory(t.detach().numpy(), a)


def test_from_numpy_keeps_the_array_alive() -> None:
    t = gc.from_numpy(np.arange(1000, dtype=np.float64))
    pygc.collect()
    junk = [np.full(1000, 9.0) for _ in range(50)]
    assert t.tolist() == list(range(1000))
    del junk


def test_from_numpy_does_not_make_read_only_memory_writable() -> None:
    # np.frombuffer over an immutable bytes object is read-only. Sharing it must not hand out
    # a writable alias (refusing it is fine too).
    buf = bytes(16)
    a = np.frombuffer(buf, dtype=np.float32)
    assert not a.flags.writeable
    try:
        t = gc.from_numpy(a)
    except (ValueError, TypeError):
        return
    assert not t.detach().numpy().flags.writeable, "from_numpy turned read-only memory into a writable tensor"


def test_numpy_is_zero_copy_view() -> None:
    t = gc.tensor([[1.0, 2.0], [3.0, 4.0]])
    v1, v2 = t.detach().numpy(), t.detach().numpy()
    assert np.shares_memory(v1, v2)
    assert v1.dtype == np.float32 and v1.shape == (2, 2)
    v1[0, 0] = 100.0
    assert t.tolist() == [[100.0, 2.0], [3.0, 4.0]]
    assert v2[0, 0] == 100.0


def test_numpy_view_keeps_storage_alive_after_tensor_is_deleted() -> None:
    t = gc.tensor(np.arange(4096, dtype=np.float64), dtype=gc.float64)
    v = t.detach().numpy()
    del t
    pygc.collect()
    # Churn the caching allocator with same-sized blocks: a released block would be reused
    # and overwritten here.
    junk = [gc.full((4096,), 7.0, dtype=gc.float64) for _ in range(20)]
    junk2 = [gc.ones(4096, dtype=gc.float64) * 3.0 for _ in range(20)]
    np.testing.assert_array_equal(v, np.arange(4096, dtype=np.float64))
    del junk, junk2


def test_grad_numpy_view_survives_the_tensor() -> None:
    x = gc.tensor([1.0, 2.0], requires_grad=True)
    (x * 5).sum().backward()
    g = x.grad.detach().numpy()
    del x
    pygc.collect()
    junk = [gc.zeros(2) + 1 for _ in range(20)]
    np.testing.assert_array_equal(g, [5.0, 5.0])
    del junk


# ----------------------------------------------------------------------------------------
# RNG
# ----------------------------------------------------------------------------------------

def test_manual_seed_reproducible() -> None:
    gc.manual_seed(1234)
    a1, r1 = gc.randn(3, 5).detach().numpy().copy(), gc.rand(7).detach().numpy().copy()
    gc.manual_seed(1234)
    a2, r2 = gc.randn(3, 5).detach().numpy().copy(), gc.rand(7).detach().numpy().copy()
    np.testing.assert_array_equal(a1, a2)
    np.testing.assert_array_equal(r1, r2)
    gc.manual_seed(1235)
    assert not np.array_equal(gc.randn(3, 5).detach().numpy(), a1)
    # successive draws differ
    gc.manual_seed(1234)
    assert not np.array_equal(gc.randn(3, 5).detach().numpy(), gc.randn(3, 5).detach().numpy())


def test_rng_distribution_and_thread_independence(restore_threads: int) -> None:
    draws = {}
    for n in (1, 2):
        gc.set_num_threads(n)
        gc.manual_seed(99)
        draws[n] = (gc.randn(200_003).detach().numpy().copy(), gc.rand(200_003).detach().numpy().copy())
    np.testing.assert_array_equal(draws[1][0], draws[2][0])
    np.testing.assert_array_equal(draws[1][1], draws[2][1])
    z, u = draws[1]
    assert abs(z.mean()) < 0.01 and abs(z.std() - 1.0) < 0.01
    assert u.min() >= 0.0 and u.max() < 1.0
    assert abs(u.mean() - 0.5) < 0.01 and abs(u.var() - 1 / 12) < 0.005
    # float32 uniforms carry ~24 random bits: ~n^2 / 2^25 ~= 1200 birthday collisions are expected.
    assert len(np.unique(u)) > 200_003 - 3000
