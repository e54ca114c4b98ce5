"""Memory safety and silent wrong answers (issue 10): shape overflow, huge Python ints,
NumPy views that outlive storage swaps, numpy() on tensors that require grad, writes to
saved tensors (in place, .data, through NumPy), and reference cycles through hooks and
create_graph. Each test stands for a class of bugs; the property tests draw its members.
"""
import gc as pygc
import os
import subprocess
import sys
import textwrap
from typing import Any, Callable, List

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gradcore as gc
import gradcore.nn as nn
from gradcore import _core

INT64_MAX = 2 ** 63 - 1


def _live() -> int:
    return int(_core._allocator_stats()["live_bytes"])


# ---- 1. shape arithmetic never overflows ---------------------------------------------

def _product_of_nonzero(shape: List[int]) -> int:
    p = 1
    for d in shape:
        if d:
            p *= d
    return p


dims = st.one_of(st.integers(0, 4), st.sampled_from([2 ** 20, 2 ** 31, 2 ** 40, 2 ** 57, 2 ** 62, INT64_MAX]))


@settings(max_examples=300, deadline=None)
@given(st.lists(dims, min_size=1, max_size=4), st.booleans())
def test_zero_element_shapes_are_legal_or_value_error(shape: List[int], empty: bool) -> None:
    """zeros(shape with a 0 somewhere) never allocates per element and never wraps around:
    it works (numel 0) or raises ValueError naming the shape, exactly when the product of
    the non-zero dims overflows int64."""
    if empty:
        shape = shape + [0]
    overflow = _product_of_nonzero(shape) > INT64_MAX
    if 0 not in shape and not overflow and _product_of_nonzero(shape) > 2 ** 24:
        return  # a real (huge) allocation: MemoryError is right there, tested elsewhere
    if overflow:
        with pytest.raises(ValueError, match=r"shape \("):
            gc.zeros(*shape)
        return
    t = gc.zeros(*shape)
    assert t.shape == tuple(shape)
    assert t.numel() == (0 if 0 in shape else _product_of_nonzero(shape))
    # reductions and elementwise ops over it never loop over the huge dims
    for d in range(len(shape)):
        rest = shape[:d] + shape[d + 1:]
        if 0 in rest or _product_of_nonzero(rest) <= 2 ** 16:  # else a real, huge output
            r = t.sum(d, keepdim=bool(d % 2))
            assert r.numel() == (0 if 0 in rest else _product_of_nonzero(rest))
            assert r.sum().item() == 0.0
    assert (t * 2.0).shape == t.shape
    assert t.sum().item() == 0.0


@settings(max_examples=200, deadline=None)
@given(st.lists(dims, min_size=1, max_size=4))
def test_reshape_of_empty_tensor_checks_overflow(target: List[int]) -> None:
    t = gc.zeros(0)
    overflow = _product_of_nonzero(target) > INT64_MAX
    if 0 in target and not overflow:
        assert t.reshape(*target).shape == tuple(target)
    else:
        with pytest.raises(ValueError):
            t.reshape(*target)


def test_issue_examples_for_shapes() -> None:
    with pytest.raises(ValueError, match=r"\(4611686018427387904, 4\)"):
        gc.zeros(0).reshape(2 ** 62, 4)
    assert gc.zeros(2 ** 57, 0).shape == (2 ** 57, 0)
    assert gc.zeros(0, 2 ** 57).shape == (0, 2 ** 57)
    assert gc.zeros(2 ** 57, 0).sum(0).shape == (0,)
    assert gc.zeros(2 ** 57, 0).sum().item() == 0.0
    with pytest.raises(MemoryError):  # a real 2**40 x 3 output: MemoryError, never a wrapped size
        gc.zeros(2 ** 40, 0) @ gc.zeros(0, 3)
    out = gc.zeros(0, 5) @ gc.zeros(5, 7)
    assert out.shape == (0, 7)
    assert gc.zeros(2 ** 60, 0).reshape(0, 2 ** 62).shape == (0, 2 ** 62)


HUGE = [2 ** 63, 2 ** 64, -2 ** 63 - 1, 10 ** 30]


@pytest.mark.parametrize("value", HUGE)
@pytest.mark.parametrize("call", [
    lambda v: gc.zeros(v),
    lambda v: gc.zeros(2, v),
    lambda v: gc.ones((v, 2)),
    lambda v: gc.full((v,), 1.0),
    lambda v: gc.randn(v),
    lambda v: gc.rand(1, v),
    lambda v: gc.zeros(4).reshape(v),
    lambda v: gc.zeros(4).view(2, v),
    lambda v: gc.zeros(2, 2).sum(v),
    lambda v: gc.zeros(2, 2).sum((0, v)),
    lambda v: gc.zeros(2, 2).mean(v),
    lambda v: gc.zeros(2, 2).max(v),
    lambda v: gc.zeros(2, 2).transpose(0, v),
    lambda v: gc.zeros(2, 2).permute(0, v),
    lambda v: gc.zeros(2, 2).size(v),
    lambda v: gc.zeros(3)[v],
    lambda v: gc.softmax(gc.zeros(2, 2), v),
    lambda v: gc.zeros(2, 2).flatten(v),
], ids=["zeros", "zeros2", "ones", "full", "randn", "rand", "reshape", "view", "sum", "sum_tuple", "mean",
        "max", "transpose", "permute", "size", "getitem", "softmax", "flatten"])
def test_huge_python_ints_give_overflow_error_naming_the_value(call: Callable[[int], Any], value: int) -> None:
    with pytest.raises(OverflowError, match=str(value).lstrip("-")[:12]) as info:
        call(value)
    # also the exception types PyTorch raises for the same mistake in one context or another
    assert isinstance(info.value, (ValueError, IndexError, TypeError))
    assert isinstance(info.value, gc.IntOverflowError)
    assert "Unable to cast" not in str(info.value)


@pytest.mark.parametrize("value, exc", [(float("nan"), ValueError), (float("inf"), OverflowError),
                                        (float("-inf"), OverflowError)])
def test_int_of_nan_or_inf_raises_like_python(value: float, exc: type) -> None:
    with pytest.raises(exc) as gc_info:
        int(gc.tensor(value))
    with pytest.raises(exc) as py_info:
        int(value)
    assert str(gc_info.value) == str(py_info.value)


def test_int_truncates_like_python() -> None:
    for v in [2.7, -2.7, 1e30, -0.5, 3.0]:
        assert int(gc.tensor(v, dtype=gc.float64)) == int(v)


# ---- 2. NumPy views never dangle -----------------------------------------------------

def _swaps() -> List[Callable[[], Any]]:
    """Ways of making a parameter use another storage, each returning (tensor, swap)."""
    def data_assign() -> Any:
        t = gc.ones(64)
        return t, lambda: setattr(t, "data", gc.zeros(64))

    def module_double() -> Any:
        m = nn.Linear(8, 8)
        return m.weight, lambda: m.double()

    def module_float() -> Any:
        m = nn.Linear(8, 8).double()
        return m.weight, lambda: m.float()

    def load_state_dict_dtype() -> Any:  # float64 values into float32 parameters
        m = nn.Linear(8, 8)
        sd = {k: v.detach().to(gc.float64) * 0 for k, v in m.state_dict().items()}
        return m.weight, lambda: m.load_state_dict(sd)

    def optimizer_reload() -> Any:
        m = nn.Linear(8, 8)
        opt = gc.optim.Adam(m.parameters(), lr=1e-3)
        m(gc.randn(4, 8)).sum().backward()
        opt.step()
        buf = opt.state[m.weight]["exp_avg"]
        sd = opt.state_dict()
        return buf, lambda: opt.load_state_dict(sd)

    return [data_assign, module_double, module_float, load_state_dict_dtype, optimizer_reload]


@pytest.mark.parametrize("make", _swaps(), ids=lambda f: f.__name__)
def test_numpy_view_keeps_its_own_storage(make: Callable[[], Any]) -> None:
    t, swap = make()
    view = t.detach().numpy()
    before = view.copy()
    swap()
    if np.shares_memory(view, t.detach().numpy()):  # updated in place (load_state_dict copies, as
        before = t.detach().numpy().astype(view.dtype)  # PyTorch does): the view sees the new values
    pygc.collect()
    filler = [gc.full((64,), 7.0) for _ in range(50)]  # reuse any freed block
    filler += [gc.full((8, 8), 9.0, dtype=gc.float64) for _ in range(50)]
    np.testing.assert_array_equal(view, before)  # still the memory it was made from
    view[...] = 3.0  # writing it touches nothing else
    for f in filler:
        assert not np.any(f.numpy() == 3.0)
    del filler


def test_numpy_view_survives_storage_swap_without_cache_subprocess() -> None:
    # With the allocator cache off, a freed storage goes straight back to the system: a
    # dangling view would read unmapped or reused memory (a crash or garbage).
    code = textwrap.dedent("""
        import gc as pygc, numpy as np, gradcore as gc, gradcore.nn as nn
        for _ in range(50):
            t = gc.ones(1 << 16)
            a = t.detach().numpy()
            t.data = gc.zeros(1 << 16)
            m = nn.Linear(256, 256); w = m.weight.detach().numpy(); w0 = w.copy(); m.double()
            pygc.collect()
            junk = [gc.full((1 << 16,), 5.0) for _ in range(4)]
            assert (a == 1.0).all() and (w == w0).all()
            a[:] = 2.0; w[:] = 2.0
            assert all((j.numpy() == 5.0).all() for j in junk)
        print("OK")
    """)
    env = dict(os.environ, GRADCORE_CACHE_LIMIT_MB="0")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip() == "OK"


def test_numpy_view_keeps_from_numpy_array_alive() -> None:
    a = np.arange(6, dtype=np.float32)
    t = gc.from_numpy(a)
    v = t.numpy()
    del a, t
    pygc.collect()
    np.testing.assert_array_equal(v, np.arange(6, dtype=np.float32))


# ---- 4. no silent gradient corruption ------------------------------------------------

def test_numpy_of_tensor_that_requires_grad_raises_like_pytorch() -> None:
    msg = "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead."
    x = gc.ones(3, requires_grad=True)
    for t in (x, x * 2, nn.Linear(2, 2).weight):
        with pytest.raises(RuntimeError) as info:
            t.numpy()
        assert str(info.value) == msg
        with pytest.raises(RuntimeError, match="requires grad"):
            np.asarray(t)
        assert t.detach().numpy().shape == t.shape  # the suggested spelling works
    assert isinstance(x.tolist(), list)  # tolist() works, as in PyTorch


def _saved_modifications() -> List[Any]:
    """(name, build) where build() returns (loss, mutate): loss saved a tensor that mutate writes."""
    def leaf_inplace() -> Any:
        x = gc.randn(5, requires_grad=True)
        loss = (x * x).sum()

        def mutate() -> None:
            with gc.no_grad():
                x.mul_(2.0)
        return loss, mutate

    def leaf_data_assign() -> Any:
        x = gc.randn(5, requires_grad=True)
        loss = (x * x).sum()
        return loss, lambda: setattr(x, "data", gc.randn(5))

    def leaf_data_inplace() -> Any:
        x = gc.randn(5, requires_grad=True)
        loss = (x * x).sum()
        return loss, lambda: x.data.fill_(3.0)

    def leaf_copy() -> Any:
        x = gc.randn(5, requires_grad=True)
        loss = x.exp().sum() + (x * x).sum()

        def mutate() -> None:
            with gc.no_grad():
                x.copy_(gc.zeros(5))
        return loss, mutate

    def saved_output_inplace() -> Any:
        x = gc.randn(5, requires_grad=True)
        y = x.exp()
        loss = y.sum()

        def mutate() -> None:
            with gc.no_grad():
                y.mul_(2.0)
        return loss, mutate

    def fused_linear_weight() -> Any:
        m = nn.Linear(4, 3)
        x = gc.randn(2, 4, requires_grad=True)
        loss = gc.relu(m(x)).sum()

        def mutate() -> None:
            with gc.no_grad():
                m.weight.add_(1.0)
        return loss, mutate

    def fused_linear_relu_output() -> Any:
        m = nn.Sequential(nn.Linear(4, 3), nn.ReLU())
        x = gc.randn(2, 4)
        y = m(x)
        loss = (y * 1.0).sum()

        def mutate() -> None:
            with gc.no_grad():
                y.fill_(0.0)
        return loss, mutate

    def fused_linear_input() -> Any:
        m = nn.Sequential(nn.Linear(4, 3), nn.Tanh())
        x = gc.randn(2, 4)
        loss = m(x).sum()

        def mutate() -> None:
            with gc.no_grad():
                x.add_(1.0)
        return loss, mutate

    def optimizer_step_between() -> Any:
        m = nn.Linear(4, 3)
        opt = gc.optim.SGD(m.parameters(), lr=0.1)
        loss = m(gc.randn(2, 4)).sum()
        m(gc.randn(2, 4)).sum().backward()

        def mutate() -> None:
            opt.step()  # updates weight in place between this loss's forward and backward
        return loss, mutate

    def from_numpy_buffer() -> Any:
        a = np.ones(5, dtype=np.float32)
        w = gc.from_numpy(a).requires_grad_()
        loss = (w * w).sum()

        def mutate() -> None:
            a[2] = 5.0
        return loss, mutate

    def exported_numpy_view() -> Any:
        w = gc.randn(5)
        view = w.numpy()
        w.requires_grad_()
        loss = (w * w).sum()

        def mutate() -> None:
            view[0] += 1.0
        return loss, mutate

    return [leaf_inplace, leaf_data_assign, leaf_data_inplace, leaf_copy, saved_output_inplace,
            fused_linear_weight, fused_linear_relu_output, fused_linear_input, optimizer_step_between,
            from_numpy_buffer, exported_numpy_view]


@pytest.mark.parametrize("build", _saved_modifications(), ids=lambda f: f.__name__)
def test_write_to_saved_tensor_is_detected_at_backward(build: Callable[[], Any]) -> None:
    loss, mutate = build()
    mutate()
    with pytest.raises(RuntimeError, match="one of the variables needed for gradient computation has been"):
        loss.backward()


@pytest.mark.parametrize("build", _saved_modifications(), ids=lambda f: f.__name__)
def test_without_the_write_backward_succeeds(build: Callable[[], Any]) -> None:
    loss, _ = build()
    loss.backward()  # the detection has no false positive


def test_inplace_message_names_version_and_node_like_pytorch() -> None:
    x = gc.randn(3, requires_grad=True)
    y = x.exp()
    loss = y.sum()
    with gc.no_grad():
        y.mul_(2.0)
    with pytest.raises(RuntimeError) as info:
        loss.backward()
    m = str(info.value)
    assert "modified by an inplace operation: [gradcore.FloatTensor (3,)]" in m
    assert "which is output 0 of ExpBackward" in m
    assert "is at version 1; expected version 0 instead" in m


def test_inplace_on_leaf_that_requires_grad_is_refused() -> None:
    x = gc.randn(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="requires grad"):
        x.mul_(2.0)
    np.testing.assert_array_equal(x.grad is None, True)


def test_numpy_write_between_backward_and_next_forward_is_fine() -> None:
    a = np.ones(4, dtype=np.float32)
    w = gc.from_numpy(a).requires_grad_()
    (w * w).sum().backward()
    a[:] = 2.0  # after backward: legal (the next forward sees the new values)
    w.grad = None
    (w * w).sum().backward()
    np.testing.assert_array_equal(w.grad.detach().numpy(), 4.0)


# ---- 8. no leaks through hooks and graphs --------------------------------------------

def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _flat(pattern: Callable[[], None], n: int = 2000) -> None:
    for _ in range(50):
        pattern()
    pygc.collect()
    live0, rss0 = _live(), _rss()
    for _ in range(n):
        pattern()
    pygc.collect()
    grown = _live() - live0
    assert grown <= 64 * 1024, f"allocator live bytes grew by {grown} over {n} iterations"
    assert _rss() - rss0 < 32 * 2 ** 20, "RSS grew by more than 32 MiB"


def test_leaf_hook_referring_to_its_own_tensor_is_collected() -> None:
    def pattern() -> None:
        t = gc.randn(1024, requires_grad=True)
        t.register_hook(lambda g: g * t.detach())
    _flat(pattern)


def test_non_leaf_hook_referring_to_its_own_tensor_is_collected() -> None:
    def pattern() -> None:
        x = gc.randn(1024, requires_grad=True)
        y = x * 2.0
        y.register_hook(lambda g: g + y.detach())
    _flat(pattern)


def test_hook_cycle_collected_after_backward() -> None:
    def pattern() -> None:
        x = gc.randn(256, requires_grad=True)
        y = x * 3.0
        seen = []
        y.register_hook(lambda g: seen.append(y) or None)
        y.sum().backward()
        assert x.grad is not None and len(seen) == 1
    _flat(pattern)


def test_hook_kept_while_graph_needs_it() -> None:
    """The collector must not clear a hook that something other than the wrapper keeps alive."""
    calls = []
    x = gc.randn(4, requires_grad=True)
    y = x * 2.0
    y.register_hook(lambda g: calls.append(1) or g * 10.0)
    z = (y * 1.0).sum()  # z's graph holds y's node
    del y
    pygc.collect()
    z.backward()
    assert calls == [1]
    np.testing.assert_allclose(x.grad.detach().numpy(), 20.0)


def test_create_graph_cycle_freed_by_resetting_grad() -> None:
    def pattern() -> None:
        x = gc.randn(512, requires_grad=True, dtype=gc.float64)
        (x * x * x).sum().backward(create_graph=True)
        x.grad = None
    _flat(pattern)


def test_create_graph_backward_warns_once_like_pytorch() -> None:
    code = textwrap.dedent("""
        import warnings, gradcore as gc
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            x = gc.randn(3, requires_grad=True)
            (x * x).sum().backward(create_graph=True)
            x.grad = None
            (x * x).sum().backward(create_graph=True)
            g, = gc.grad((x * x).sum(), x, create_graph=True)   # grad() makes no cycle
            (x * x).sum().backward()                             # neither does plain backward
        msgs = [str(i.message) for i in w if i.category is UserWarning]
        print(len(msgs)); print(msgs[0] if msgs else "")
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    count, msg = r.stdout.split("\n", 1)
    assert count == "1"
    assert msg.startswith("Using backward() with create_graph=True will create a reference cycle between the "
                          "parameter and its gradient which can cause a memory leak.")
