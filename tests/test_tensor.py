"""Tensor construction, factories, metadata, conversion back to Python, and backend info."""
from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import numpy as np
import pytest

import gradcore as gc

SUPPORTED_ISAS = list(gc.backend_info()["supported_isas"])


# ---- gc.tensor -----------------------------------------------------------------------------

def test_tensor_from_nested_lists() -> None:
    t = gc.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert t.shape == (2, 3) and isinstance(t.shape, tuple)
    assert t.ndim == 2 and t.dtype == gc.float32 and t.numel() == 6
    assert t.tolist() == [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
    assert not t.requires_grad and t.is_leaf and t.grad is None


def test_tensor_from_scalars() -> None:
    # PyTorch's inference: float -> the default dtype, int -> int64, bool -> bool; item() of that kind
    for v, dtype, kind in ((2.5, gc.float32, float), (3, gc.int64, int), (True, gc.bool, bool)):
        t = gc.tensor(v)
        assert t.shape == () and t.ndim == 0 and t.dtype == dtype
        assert t.item() == v
        assert type(t.item()) is kind and type(t.tolist()) is kind


@pytest.mark.parametrize("data,dtype", [
    ([1, 2, 3], gc.int64),                               # as torch.tensor
    ([1.0, 2, 3], gc.float32),
    (np.arange(4), gc.int64),                            # NumPy arrays keep their dtype
    (np.arange(4, dtype=np.float32), gc.float32),
    (np.arange(4, dtype=np.float16), gc.float16),
    (np.arange(4, dtype=np.float64), gc.float64),
    (np.array([True, False]), gc.bool),
    (np.array(1.5), gc.float64),                         # 0-d float64 array
    (np.arange(3, dtype=np.uint8), gc.uint8),
], ids=["list", "mixed_list", "int64", "f32", "f16", "f64", "bool", "0d_f64", "u8"])
def test_tensor_dtype_inference(data: Any, dtype: Any) -> None:
    t = gc.tensor(data)
    assert t.dtype == dtype
    np.testing.assert_array_equal(t.detach().numpy(), np.asarray(data, dtype=np.float64))


@pytest.mark.parametrize("dtype,np_dtype", [(gc.float32, np.float32), (gc.float64, np.float64)])
def test_tensor_explicit_dtype(dtype: Any, np_dtype: Any) -> None:
    t = gc.tensor(np.array([1.0, 1.0 / 3.0]), dtype=dtype)
    assert t.dtype == dtype and t.detach().numpy().dtype == np_dtype
    assert t.detach().numpy()[1] == np_dtype(1.0 / 3.0)


@pytest.mark.parametrize("make", [
    lambda a: a.T,
    lambda a: a[:, ::2],
    lambda a: a[::-1],
    lambda a: np.asfortranarray(a),
    lambda a: a[1:, 1:3],
    lambda a: np.broadcast_to(a[0], (5, 4)),
], ids=["transposed", "strided", "reversed", "fortran", "sliced", "broadcast_view"])
@pytest.mark.parametrize("np_dtype", [np.float32, np.float64])
def test_tensor_from_non_contiguous_numpy(make: Any, np_dtype: Any) -> None:
    a = np.arange(12, dtype=np_dtype).reshape(3, 4) * 1.5
    view = make(a)
    t = gc.tensor(view)
    assert t.shape == view.shape
    np.testing.assert_array_equal(t.detach().numpy(), view)


def test_tensor_copies() -> None:
    a = np.arange(4, dtype=np.float32)
    t = gc.tensor(a)
    a[0] = 99.0
    assert t.tolist() == [0.0, 1.0, 2.0, 3.0]
    assert not np.shares_memory(t.detach().numpy(), a)


def test_tensor_requires_grad_flag() -> None:
    t = gc.tensor([1.0], requires_grad=True)
    assert t.requires_grad and t.is_leaf and t.grad_fn is None


def test_empty_tensors() -> None:
    assert gc.tensor([]).shape == (0,)
    e = gc.zeros(2, 0)
    assert e.shape == (2, 0) and e.numel() == 0 and e.tolist() == [[], []]
    assert e.sum().item() == 0.0
    assert e.sum(dim=1).tolist() == [0.0, 0.0]


# ---- repr -----------------------------------------------------------------------------------

def test_repr_like_pytorch() -> None:
    assert repr(gc.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert repr(gc.tensor([1.0, 2.0], requires_grad=True)) == "tensor([1., 2.], requires_grad=True)"
    assert repr(gc.tensor(3.5)) == "tensor(3.5000)"
    assert repr(gc.tensor([1.0, 2.0], dtype=gc.float64)) == "tensor([1., 2.], dtype=gradcore.float64)"
    y = gc.tensor([1.0, 2.0], requires_grad=True) * 2
    assert repr(y) == "tensor([2., 4.], grad_fn=<MulBackward0>)"
    assert repr(gc.tensor([[1.0, 2.0], [3.0, 4.0]])) == "tensor([[1., 2.],\n        [3., 4.]])"


# ---- factories ------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [gc.float32, gc.float64])
def test_constant_factories(dtype: Any) -> None:
    z = gc.zeros(2, 3, dtype=dtype)
    o = gc.ones(4, dtype=dtype, requires_grad=True)
    f = gc.full((2, 2), -1.5, dtype=dtype)
    assert z.shape == (2, 3) and z.dtype == dtype and z.tolist() == [[0.0] * 3] * 2
    assert o.requires_grad and o.is_leaf and o.tolist() == [1.0] * 4
    assert f.tolist() == [[-1.5, -1.5], [-1.5, -1.5]] and f.dtype == dtype
    assert gc.zeros((2, 3)).shape == (2, 3)  # a shape tuple works too
    zl, ol = gc.zeros_like(f), gc.ones_like(f)
    assert zl.shape == (2, 2) and zl.dtype == dtype and zl.tolist() == [[0.0, 0.0]] * 2
    assert ol.dtype == dtype and ol.tolist() == [[1.0, 1.0]] * 2
    assert gc.zeros().shape == ()


def test_default_dtype_is_float32() -> None:
    for t in (gc.zeros(2), gc.ones(2), gc.full((2,), 1.0), gc.randn(2), gc.rand(2), gc.arange(3.0)):
        assert t.dtype == gc.float32
    assert gc.arange(3).dtype == gc.int64 and gc.full((2,), 1).dtype == gc.int64  # as PyTorch


@pytest.mark.parametrize("args,expected", [
    ((5,), [0, 1, 2, 3, 4]),
    ((1, 5), [1, 2, 3, 4]),
    ((1, 6, 2), [1, 3, 5]),
    ((5, 0, -2), [5, 3, 1]),
    ((0, 1, 0.25), [0.0, 0.25, 0.5, 0.75]),
    ((3, 3), []),
], ids=["end", "start_end", "step", "negative_step", "fractional", "empty"])
def test_arange(args: Any, expected: Any) -> None:
    t = gc.arange(*args)
    np.testing.assert_array_equal(t.detach().numpy(), np.arange(*args, dtype=np.float64))
    assert t.tolist() == expected
    all_int = all(isinstance(a, int) for a in args)
    assert t.dtype == (gc.int64 if all_int else gc.float32)


def test_random_factories_shapes() -> None:
    assert gc.randn(2, 3).shape == (2, 3)
    assert gc.rand(4).shape == (4,)
    assert gc.randn(2, dtype=gc.float64).dtype == gc.float64
    assert gc.randn(3, requires_grad=True).requires_grad


# ---- conversion -----------------------------------------------------------------------------

def test_tolist_and_item() -> None:
    t = gc.tensor([[1.5, -2.0]], dtype=gc.float64)
    assert t.tolist() == [[1.5, -2.0]]
    assert gc.tensor([[7.25]]).item() == 7.25
    assert gc.tensor([0.1], dtype=gc.float64).item() == 0.1
    assert gc.tensor([0.1]).item() == float(np.float32(0.1))


def test_numpy_dtype_and_shape() -> None:
    for dtype, np_dtype in ((gc.float32, np.float32), (gc.float64, np.float64)):
        a = gc.ones(2, 3, dtype=dtype).detach().numpy()
        assert a.dtype == np_dtype and a.shape == (2, 3) and a.flags.c_contiguous


def test_transpose_property_T() -> None:
    t = gc.tensor(np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(t.T.detach().numpy(), np.arange(6.0).reshape(2, 3).T)
    assert t.T.T.tolist() == t.tolist()


# ---- backend ----------------------------------------------------------------------------------

def test_backend_info_contents() -> None:
    info = gc.backend_info()
    for key in ("isa", "supported_isas", "num_threads", "compiler", "build_type", "gemm_blocking"):
        assert key in info, key
    assert info["isa"] in info["supported_isas"]
    assert "generic" in info["supported_isas"]
    assert info["num_threads"] == gc.get_num_threads() >= 1
    for dt in ("float32", "float64"):
        blk = info["gemm_blocking"][dt]
        assert all(blk[k] >= 1 for k in ("mr", "nr", "mc", "kc", "nc"))
        assert blk["mc"] % blk["mr"] == 0 and blk["nc"] % blk["nr"] == 0


def test_set_isa_switches_and_reports(isa: str) -> None:
    assert gc.backend_info()["isa"] == isa
    a = gc.tensor(np.arange(6.0).reshape(2, 3))
    A = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal((a @ a.T).detach().numpy(), A @ A.T)


def test_set_num_threads_round_trip(restore_threads: int) -> None:
    gc.set_num_threads(1)
    assert gc.get_num_threads() == 1 and gc.backend_info()["num_threads"] == 1
    gc.set_num_threads(3)
    assert gc.get_num_threads() == 3
    assert (gc.ones(100_000).sum()).item() == 100_000.0


@pytest.mark.parametrize("level", SUPPORTED_ISAS)
def test_gradcore_isa_env_var_selects_level_at_import(level: str) -> None:
    env = dict(os.environ, GRADCORE_ISA=level)
    code = ("import gradcore as gc, numpy as np; "
            "print(gc.backend_info()['isa']); "
            "print((gc.tensor(np.ones((3, 5))) @ gc.tensor(np.ones((5, 2)))).tolist())")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert lines[-2] == level
    assert lines[-1] == "[[5.0, 5.0], [5.0, 5.0], [5.0, 5.0]]"


def test_gradcore_num_threads_env_var() -> None:
    env = dict(os.environ, GRADCORE_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", "import gradcore as gc; print(gc.get_num_threads())"],
                         env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "1"
