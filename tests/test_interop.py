"""Interop (issue 13): DLPack both ways with NumPy, PyTorch and JAX, __array__ /
__array_interface__, as_tensor / tensor of foreign tensors, PyTorch state dicts in
load_state_dict and gc.save, gc.load's map_location, examples/torch_interop.py.

Sharing is checked by writing through one side and reading the other."""
from __future__ import annotations

import gc as pygc
import os
import subprocess
import sys
import warnings
import weakref
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import gradcore as gc

torch = pytest.importorskip("torch")

ROOT = Path(os.environ.get("GRADCORE_SOURCE_ROOT") or Path(__file__).resolve().parents[1])

# (gradcore dtype, torch dtype, NumPy dtype or None where NumPy has none)
DTYPES = [
    (gc.float32, torch.float32, np.float32), (gc.float64, torch.float64, np.float64),
    (gc.float16, torch.float16, np.float16), (gc.bfloat16, torch.bfloat16, None),
    (gc.int64, torch.int64, np.int64), (gc.int32, torch.int32, np.int32), (gc.int16, torch.int16, np.int16),
    (gc.int8, torch.int8, np.int8), (gc.uint8, torch.uint8, np.uint8), (gc.bool, torch.bool, np.bool_),
]
IDS = [str(d[0]).split(".")[-1] for d in DTYPES]


def values(gdt: Any) -> list:
    return [True, False, True] if gdt is gc.bool else [1, 2, 3]


def new_value(gdt: Any) -> Any:
    return False if gdt is gc.bool else 7


def capsule_name(cap: Any) -> str:
    return repr(cap).split('"')[1]


# ---- DLPack round trips, every dtype, both directions ----
@pytest.mark.parametrize("gdt,tdt,ndt", DTYPES, ids=IDS)
def test_gradcore_to_torch_shares_memory(gdt: Any, tdt: Any, ndt: Any) -> None:
    g = gc.tensor(values(gdt), dtype=gdt)
    t = torch.from_dlpack(g)
    assert t.dtype == tdt and t.tolist() == g.tolist()
    t[0] = new_value(gdt)  # write through torch, read through gradcore
    assert g.tolist()[0] == new_value(gdt)
    g[2] = new_value(gdt)  # and the other way round
    assert t.tolist()[2] == new_value(gdt)


@pytest.mark.parametrize("gdt,tdt,ndt", DTYPES, ids=IDS)
def test_torch_to_gradcore_shares_memory(gdt: Any, tdt: Any, ndt: Any) -> None:
    t = torch.tensor(values(gdt), dtype=tdt)
    g = gc.from_dlpack(t)
    assert g.dtype is gdt and g.tolist() == t.tolist()
    g[0] = new_value(gdt)
    assert t.tolist()[0] == new_value(gdt)
    t[2] = new_value(gdt)
    assert g.tolist()[2] == new_value(gdt)


@pytest.mark.parametrize("gdt,tdt,ndt", [d for d in DTYPES if d[2] is not None], ids=[i for d, i in zip(DTYPES, IDS)
                                                                                      if d[2] is not None])
def test_numpy_both_ways_shares_memory(gdt: Any, tdt: Any, ndt: Any) -> None:
    g = gc.tensor(values(gdt), dtype=gdt)
    a = np.from_dlpack(g)
    assert a.dtype == ndt and a.tolist() == g.tolist()
    a[0] = new_value(gdt)
    assert g.tolist()[0] == new_value(gdt)
    b = np.array(values(gdt), dtype=ndt)
    h = gc.from_dlpack(b)
    assert h.dtype is gdt
    h[1] = new_value(gdt)
    assert b[1] == new_value(gdt)


def test_gradcore_to_gradcore_and_capsules() -> None:
    g = gc.arange(6, dtype=gc.float32)
    h = gc.from_dlpack(g)
    h[0] = 42.0
    assert g[0].item() == 42.0
    # The legacy capsule without max_version, the versioned one with max_version >= (1, 0),
    # as torch 2.13 and NumPy 2 produce them.
    assert capsule_name(g.__dlpack__()) == "dltensor"
    assert capsule_name(g.__dlpack__(max_version=(0, 8))) == "dltensor"
    assert capsule_name(g.__dlpack__(max_version=(1, 0))) == "dltensor_versioned"
    assert capsule_name(g.__dlpack__(max_version=(1, 3))) == "dltensor_versioned"
    assert g.__dlpack_device__() == (1, 0) == tuple(int(v) for v in torch.ones(1).__dlpack_device__())
    for kw in ({}, {"max_version": (1, 0)}):
        t = torch.from_dlpack(g.__dlpack__(**kw))
        assert t.tolist() == g.tolist() and t.data_ptr() == g.data_ptr()
        a = gc.from_dlpack(torch.arange(4).__dlpack__(**kw))
        assert a.tolist() == [0, 1, 2, 3]


def test_capsule_consumed_once() -> None:
    g = gc.arange(3, dtype=gc.float32)
    for kw in ({}, {"max_version": (1, 0)}):
        cap = g.__dlpack__(**kw)
        t = torch.from_dlpack(cap)
        assert t.tolist() == [0.0, 1.0, 2.0]
        with pytest.raises(RuntimeError, match="already consumed"):
            gc.from_dlpack(cap)
        cap = torch.arange(3).__dlpack__(**kw)
        assert gc.from_dlpack(cap).tolist() == [0, 1, 2]
        with pytest.raises(RuntimeError):
            torch.from_dlpack(cap)
        with pytest.raises(RuntimeError, match="already consumed"):
            gc.from_dlpack(cap)
    # A capsule never consumed releases its tensor when it dies (no leak, no crash).
    for _ in range(3):
        g.__dlpack__()
        g.__dlpack__(max_version=(1, 0))
    assert g.tolist() == [0.0, 1.0, 2.0]


# ---- strided, transposed, sliced, 0-d, 0-size ----
def geometries(x: Any) -> list:
    return [x, x.T, x[1:, ::2], x[:, 1], x[0, 0, ...], x[:0], x[1:2, 2:3]]  # x[0, 0, ...]: 0-d, also in NumPy


def test_strided_gradcore_to_torch_and_numpy() -> None:
    base = gc.arange(12, dtype=gc.float64).reshape(3, 4)
    ref = np.arange(12.0).reshape(3, 4)
    for g, r in zip(geometries(base), geometries(ref)):
        t = torch.from_dlpack(g)
        assert tuple(t.shape) == r.shape and np.array_equal(t.numpy(), r)
        assert t.stride() == g.stride() or g.numel() <= 1 or 1 in g.shape
        a = np.from_dlpack(g)
        assert a.shape == r.shape and np.array_equal(a, r)
        if g.numel():
            assert t.data_ptr() == g.data_ptr()
            assert np.shares_memory(a, base.numpy())


def test_strided_torch_and_numpy_to_gradcore() -> None:
    base = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    for t in geometries(base):
        g = gc.from_dlpack(t)
        assert tuple(g.shape) == tuple(t.shape) and np.array_equal(g.numpy(), t.numpy())
        if t.numel():
            assert g.data_ptr() == t.data_ptr()
    g = gc.from_dlpack(base.T)
    g[0, 2] = -1.0  # element (2, 0) of base
    assert base[2, 0].item() == -1.0
    nb = np.arange(12).reshape(3, 4)
    for a in geometries(nb):
        g = gc.from_dlpack(a)
        assert g.shape == a.shape and np.array_equal(g.numpy(), a)
    # An expanded (stride-0) torch view reads as itself.
    e = gc.from_dlpack(torch.arange(3.0).expand(2, 3))
    assert e.tolist() == [[0.0, 1.0, 2.0]] * 2


def test_jax_both_ways() -> None:
    jnp = pytest.importorskip("jax.numpy")
    j = jnp.arange(6.0, dtype=jnp.float32).reshape(2, 3)
    g = gc.from_dlpack(j)
    assert g.dtype is gc.float32 and g.tolist() == np.asarray(j).tolist()
    assert gc.from_dlpack(jnp.ones(2, dtype=jnp.bfloat16)).dtype is gc.bfloat16
    t = gc.arange(6, dtype=gc.float32).reshape(2, 3)
    for view in (t, t.T, t[1:]):
        assert np.array_equal(np.asarray(jnp.from_dlpack(view)), view.numpy())
    assert str(jnp.from_dlpack(gc.ones(2, dtype=gc.bool)).dtype) == "bool"


# ---- lifetime ----
def test_producer_deleted_before_consumer() -> None:
    g = gc.arange(5, dtype=gc.float32) * 2
    t = torch.from_dlpack(g)
    a = np.from_dlpack(g)
    del g
    pygc.collect()
    assert t.tolist() == [0.0, 2.0, 4.0, 6.0, 8.0] and a.tolist() == t.tolist()
    # The export holds the storage, not the Tensor: re-pointing the tensor keeps the memory.
    h = gc.arange(3, dtype=gc.float32)
    t2 = torch.from_dlpack(h)
    h.data = gc.zeros(3)
    assert t2.tolist() == [0.0, 1.0, 2.0]
    # torch -> gradcore: the torch tensor may die first.
    x = torch.arange(4.0)
    y = gc.from_dlpack(x)
    del x
    pygc.collect()
    assert y.tolist() == [0.0, 1.0, 2.0, 3.0]


def test_consumer_releases_the_producer() -> None:
    a = np.arange(4.0)
    ref = weakref.ref(a)
    g = gc.from_dlpack(a)
    del a
    pygc.collect()
    assert ref() is not None and g.tolist() == [0.0, 1.0, 2.0, 3.0]  # kept alive by the import
    del g
    pygc.collect()
    assert ref() is None  # the producer's deleter ran


# ---- __dlpack__ arguments and refusals, as PyTorch's ----
def test_dlpack_requires_grad_refused_like_torch() -> None:
    p = gc.ones(2, requires_grad=True)
    tp = torch.ones(2, requires_grad=True)
    with pytest.raises(BufferError) as ours:
        p.__dlpack__()
    with pytest.raises(BufferError) as theirs:
        tp.__dlpack__()
    assert str(ours.value) == str(theirs.value)
    with pytest.raises(BufferError, match="require gradient"):
        (p * 2).__dlpack__()
    assert torch.from_dlpack(p.detach()).tolist() == [1.0, 1.0]
    with pytest.raises(BufferError):
        torch.as_tensor(p)


def test_dlpack_arguments() -> None:
    g = gc.arange(3, dtype=gc.float32)
    tg = torch.arange(3, dtype=torch.float32)
    for x in (g, tg):
        assert torch.from_dlpack(x.__dlpack__(stream=None)).tolist() == [0.0, 1.0, 2.0]
        assert torch.from_dlpack(x.__dlpack__(stream=-1, dl_device=(1, 0))).tolist() == [0.0, 1.0, 2.0]
        with pytest.raises(AssertionError):
            x.__dlpack__(stream=1)
        with pytest.raises(TypeError):
            x.__dlpack__(stream="s")
    with pytest.raises(BufferError, match="CPU"):
        g.__dlpack__(dl_device=(2, 0))
    with pytest.raises(TypeError):
        g.__dlpack__(None)  # keyword-only, as the standard says
    c = torch.from_dlpack(g.__dlpack__(copy=True, max_version=(1, 0)))
    c[0] = 9.0
    assert g[0].item() == 0.0  # copy=True exports a copy
    assert torch.from_dlpack(g, copy=True).data_ptr() != g.data_ptr()
    assert gc.from_dlpack(tg, copy=True).data_ptr() != tg.data_ptr()
    assert gc.from_dlpack(tg, copy=False).data_ptr() == tg.data_ptr()
    with pytest.raises(RuntimeError, match="CPU only"):
        gc.from_dlpack(tg, device="cuda")


def test_from_dlpack_bad_input() -> None:
    with pytest.raises(TypeError, match="got int"):
        gc.from_dlpack(3)
    with pytest.raises(TypeError, match="got list"):
        gc.from_dlpack([1, 2])

    class OnGPU:
        called = False

        def __dlpack_device__(self) -> tuple:
            return (2, 0)

        def __dlpack__(self, **kw: Any) -> Any:
            OnGPU.called = True
            raise AssertionError("must not be exported")

    with pytest.raises(RuntimeError, match="CUDA:0.*CPU only"):
        gc.from_dlpack(OnGPU())
    assert not OnGPU.called
    for tdt in (torch.complex64, torch.uint16):
        with pytest.raises(TypeError, match="unsupported DLPack dtype"):
            gc.from_dlpack(torch.zeros(2, dtype=tdt))
    # A refused capsule is not consumed: its producer's tensor is still released normally.
    cap = torch.zeros(2, dtype=torch.complex64).__dlpack__()
    with pytest.raises(TypeError):
        gc.from_dlpack(cap)
    assert capsule_name(cap) == "dltensor"
    with pytest.raises(ValueError, match="negative stride"):
        gc.from_dlpack(np.arange(5.0)[::-1])


def test_read_only_numpy() -> None:
    # PyTorch shares a read-only array and ignores the flag; gradcore tensors are always
    # writable, so it copies instead (a write can never reach memory NumPy protects).
    ro = np.arange(3.0)
    ro.flags.writeable = False
    g = gc.from_dlpack(ro)
    assert g.tolist() == [0.0, 1.0, 2.0] and not np.shares_memory(g.numpy(), ro)
    g[0] = 5.0
    assert ro[0] == 0.0
    with pytest.raises(ValueError, match="read-only"):
        gc.from_dlpack(ro, copy=False)
    assert gc.as_tensor(ro).tolist() == [0.0, 1.0, 2.0]


# ---- __array__ / __array_interface__: np.asarray, torch.as_tensor, torch.tensor ----
def test_numpy_and_torch_see_gradcore_memory() -> None:
    g = gc.arange(6, dtype=gc.float32).reshape(2, 3)
    a = np.asarray(g)
    a[0, 0] = 10.0
    assert g[0, 0].item() == 10.0
    t = torch.as_tensor(g)
    assert t.dtype == torch.float32 and t.data_ptr() == g.data_ptr()
    t[1, 2] = -3.0
    assert g[1, 2].item() == -3.0
    g[0, 1] = 7.0
    assert t[0, 1].item() == 7.0 and a[0, 1] == 7.0
    c = torch.tensor(g)  # torch.tensor copies
    c[0, 0] = 0.0
    assert g[0, 0].item() == 10.0 and c.tolist()[1] == g.tolist()[1]
    # 0-d tensors (used to fail with "len() of a 0-d tensor")
    z = gc.tensor(2.5)
    assert torch.as_tensor(z).item() == 2.5 and torch.as_tensor(z).dim() == 0
    assert torch.tensor(z).item() == 2.5 and np.asarray(z).shape == () and float(np.asarray(z)) == 2.5
    assert torch.as_tensor(gc.tensor(3)).dtype == torch.int64
    assert torch.as_tensor(gc.ones(2, dtype=gc.bfloat16)).dtype == torch.bfloat16
    e = gc.zeros(0, 3)
    assert tuple(torch.as_tensor(e).shape) == (0, 3) and np.asarray(e).shape == (0, 3)


def test_array_interface() -> None:
    base = gc.arange(12, dtype=gc.int32).reshape(3, 4)
    ref = np.arange(12, dtype=np.int32).reshape(3, 4)
    for g, r in zip(geometries(base), geometries(ref)):
        ai = g.__array_interface__
        assert ai["version"] == 3 and ai["typestr"] == r.dtype.str and ai["shape"] == r.shape
        a = np.array(g, copy=False) if g.numel() else np.asarray(g)
        assert np.array_equal(a, r)
        if g.numel():
            assert a.__array_interface__["data"][0] == g.data_ptr()
    # The view keeps the storage alive even when the tensor is re-pointed or dies.
    h = gc.arange(3, dtype=gc.float32)

    class Iface:
        __array_interface__ = h.__array_interface__

    v = np.asarray(Iface())
    h.data = gc.zeros(3)
    del h
    pygc.collect()
    assert v.tolist() == [0.0, 1.0, 2.0]
    bf = gc.ones(2, dtype=gc.bfloat16)
    assert not hasattr(bf, "__array_interface__")  # absent, as NumPy cannot express it
    with pytest.raises(TypeError, match="BFloat16"):
        np.asarray(bf)


def test_array_dtype_and_copy() -> None:
    g = gc.arange(3, dtype=gc.float32)
    assert np.asarray(g, dtype=np.float64).dtype == np.float64
    assert np.asarray(g, dtype=np.float32).__array_interface__["data"][0] == g.data_ptr()
    assert g.__array__(copy=True).__array_interface__["data"][0] != g.data_ptr()
    with pytest.raises(ValueError, match="avoid copy"):
        g.__array__(np.float64, copy=False)
    with pytest.raises(ValueError):  # NumPy's own rule, for comparison
        np.arange(3, dtype=np.float32).__array__(np.float64, copy=False)


def test_requires_grad_refused_like_torch() -> None:
    p = gc.ones(2, requires_grad=True)
    tp = torch.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError) as ours:
        np.asarray(p)
    with pytest.raises(RuntimeError) as theirs:
        np.asarray(tp)
    assert str(ours.value) == str(theirs.value)
    assert not hasattr(p, "__array_interface__")  # hasattr() probes stay False, never raise
    with pytest.raises(AttributeError, match="requires grad"):
        p.__array_interface__
    assert np.asarray(p.detach()).tolist() == [1.0, 1.0]


# ---- gc.as_tensor / gc.tensor of foreign data ----
def test_as_tensor() -> None:
    g = gc.arange(3, dtype=gc.float32)
    assert gc.as_tensor(g) is g
    assert gc.as_tensor(g, dtype=gc.float32) is g
    assert gc.as_tensor(g, dtype=gc.float64).dtype is gc.float64
    a = np.arange(3.0)
    ga = gc.as_tensor(a)
    ga[0] = 5.0
    assert a[0] == 5.0
    t = torch.arange(3.0)
    gt = gc.as_tensor(t)
    assert gt.dtype is gc.float32 and gt.data_ptr() == t.data_ptr()
    gt[1] = 8.0
    assert t[1].item() == 8.0
    conv = gc.as_tensor(t, dtype=gc.float64)
    assert conv.dtype is gc.float64 and conv.tolist() == t.tolist()
    lst = [1.0, 2.0]
    assert gc.as_tensor(lst).tolist() == lst and gc.as_tensor(lst).dtype is gc.float32
    with pytest.raises(RuntimeError, match="CPU only"):
        gc.as_tensor(t, device="cuda")


def test_tensor_of_torch_tensor_copies() -> None:
    t = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a foreign tensor converts like an array: no warning
        g = gc.tensor(t)
        g[0, 0] = 100.0
        assert t[0, 0].item() == 1.0 and g.tolist()[1] == [3.0, 4.0]
        assert gc.tensor(t.T).tolist() == t.T.tolist()
        p = torch.ones(2, requires_grad=True)  # a copy of the values (torch.tensor does the same)
        gp = gc.tensor(p, requires_grad=True)
        assert gp.requires_grad and gp.tolist() == [1.0, 1.0]
    assert gc.tensor(t, dtype=gc.int64).dtype is gc.int64
    b = gc.tensor(torch.tensor([1.5, 2.0], dtype=torch.bfloat16))
    assert b.dtype is gc.bfloat16 and b.tolist() == [1.5, 2.0]
    assert gc.Tensor(t).tolist() == t.tolist()


def test_foreign_types_named_in_errors() -> None:
    with pytest.raises(TypeError, match=r"got torch\.Tensor\); gc\.from_dlpack"):
        gc.from_numpy(torch.ones(2))
    with pytest.raises(TypeError) as e:
        gc.from_numpy(torch.ones(2))
    assert "got Tensor" not in str(e.value)
    with pytest.raises(TypeError, match=r"\(got list\)"):
        gc.from_numpy([1.0])


# ---- state dicts and checkpoints ----
def models(seed: int = 0) -> tuple:
    torch.manual_seed(seed)
    tm = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.Tanh(), torch.nn.Linear(7, 2))
    gm = gc.nn.Sequential(gc.nn.Linear(5, 7), gc.nn.Tanh(), gc.nn.Linear(7, 2))
    return tm, gm


def same_outputs(tm: Any, gm: Any) -> float:
    x = np.random.default_rng(0).normal(size=(4, 5)).astype(np.float32)
    with torch.no_grad(), gc.no_grad():
        return float(np.abs(tm(torch.from_numpy(x)).numpy() - gm(gc.from_numpy(x)).numpy()).max())


def test_load_state_dict_from_torch() -> None:
    tm, gm = models()
    assert same_outputs(tm, gm) > 1e-3  # different initialisations
    res = gm.load_state_dict(tm.state_dict())
    assert res.missing_keys == [] and res.unexpected_keys == []
    assert same_outputs(tm, gm) < 1e-6
    # Copied in: later changes to the torch model do not reach the gradcore one.
    with torch.no_grad():
        tm[0].weight.add_(1.0)
    assert same_outputs(tm, gm) > 1e-3
    # Parameters that require grad (keep_vars=True) and a dtype conversion.
    gm64 = gc.nn.Sequential(gc.nn.Linear(5, 7), gc.nn.Tanh(), gc.nn.Linear(7, 2)).double()
    gm64.load_state_dict(tm.state_dict(keep_vars=True))
    assert gm64[0].weight.dtype is gc.float64 and np.allclose(gm64[0].weight.detach().numpy(), tm[0].weight.detach().numpy())
    assert gm64[0].weight.requires_grad
    # assign=True puts (DLPack views of) the torch tensors in place.
    _, ga = models()
    ga.load_state_dict(tm.state_dict(), assign=True)
    assert same_outputs(tm, ga) < 1e-6 and ga[0].weight.requires_grad
    # A wrong shape is reported as for any other value.
    bad = dict(tm.state_dict())
    bad["0.weight"] = torch.zeros(3, 3)
    with pytest.raises(RuntimeError, match="size mismatch for 0.weight"):
        gm.load_state_dict(bad)


def test_save_torch_tensors_and_load_map_location(tmp_path: Path) -> None:
    tm, gm = models(1)
    flat = tmp_path / "flat.safetensors"
    gc.save(tm.state_dict(), flat)
    for ml in (None, "cpu", torch.device("cpu"), gc.device("cpu"), {"cpu": "cpu"}, {"cuda:0": "cpu"}):
        sd = gc.load(flat, map_location=ml)
        assert sorted(sd) == sorted(tm.state_dict())
    assert gc.load(flat, "cpu", weights_only=True)["0.bias"].tolist() == tm[0].bias.tolist()
    gm.load_state_dict(gc.load(flat, map_location="cpu", weights_only=False))
    assert same_outputs(tm, gm) < 1e-6
    nested = {"model": tm.state_dict(), "param": tm[0].weight, "bf16": torch.tensor([1.5], dtype=torch.bfloat16),
              "t": torch.arange(6).reshape(2, 3).T, "step": 3, "mixed": [gc.ones(2), np.zeros(1)]}
    path = tmp_path / "nested.safetensors"
    gc.save(nested, path)
    back = gc.load(path, map_location=torch.device("cpu"))
    assert back["step"] == 3 and back["bf16"].dtype is gc.bfloat16 and back["bf16"].tolist() == [1.5]
    assert back["t"].tolist() == nested["t"].tolist()
    assert np.array_equal(back["param"].numpy(), tm[0].weight.detach().numpy())
    assert back["model"]["2.weight"].tolist() == tm[2].weight.tolist()
    safetensors_torch = pytest.importorskip("safetensors.torch")
    read = safetensors_torch.load_file(str(flat))  # the flat file is a plain safetensors file
    assert torch.equal(read["0.weight"], tm.state_dict()["0.weight"])


@pytest.mark.parametrize("ml,exc", [("cuda", RuntimeError), ("cuda:0", RuntimeError), ("mps", RuntimeError),
                                    ("cpu:1", RuntimeError), ({"cpu": "cuda:1"}, RuntimeError),
                                    ({"cpu": 3}, TypeError), (3, TypeError)])
def test_load_map_location_refused(tmp_path: Path, ml: Any, exc: type) -> None:
    path = tmp_path / "x.safetensors"
    gc.save({"a": gc.ones(1)}, path)
    with pytest.raises(exc, match="CPU only|map_location"):
        gc.load(path, map_location=ml)
    with pytest.raises(RuntimeError, match="CPU only"):
        gc.load(path, map_location=torch.device("cuda"))
    with pytest.raises(TypeError, match="callable"):
        gc.load(path, map_location=lambda storage, loc: storage)


# ---- the example ----
def test_torch_interop_example() -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "torch_interop.py")], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "outputs agree both ways" in proc.stdout
    diffs = [float(line.rsplit(" ", 1)[1]) for line in proc.stdout.splitlines() if "max output difference" in line]
    assert len(diffs) == 2 and max(diffs) < 1e-5


def test_load_bfloat16_with_ml_dtypes_installed(tmp_path: Path) -> None:
    # With ml_dtypes installed (JAX brings it), safetensors hands gc.load a NumPy bfloat16
    # array instead of refusing the dtype; it used to be "unsupported dtype bfloat16".
    pytest.importorskip("ml_dtypes")
    path = tmp_path / "bf16.safetensors"
    gc.save({"w": gc.tensor([1.5, -2.0, 3.0], dtype=gc.bfloat16)}, path)
    w = gc.load(path)["w"]
    assert w.dtype is gc.bfloat16 and w.tolist() == [1.5, -2.0, 3.0]


def test_foreign_types_named_in_op_errors() -> None:
    t = torch.ones(2)
    with pytest.raises(TypeError, match=r"unsupported operand types torch\.Tensor and torch\.Tensor"):
        gc.add(t, t)
    with pytest.raises(TypeError, match=r"bias must be a Tensor or None, got torch\.Tensor"):
        gc.nn.functional.linear(gc.ones(2, 2), gc.ones(2, 2), t)
    with pytest.raises(TypeError, match=r"got torch\.Tensor"):  # was RuntimeError "Unable to cast"
        gc.zeros(t)
    with pytest.raises(TypeError):  # torch refuses it with the same type
        torch.zeros(t)


def test_as_tensor_of_array_interface_shares_memory() -> None:
    a = np.arange(6.0).reshape(2, 3)[:, 1:]

    class Iface:  # NumPy's array interface only (no DLPack, no buffer protocol)
        __array_interface__ = a.__array_interface__

    g = gc.as_tensor(Iface())
    assert g.tolist() == a.tolist()
    g[0, 0] = -5.0
    assert a[0, 0] == -5.0
    c = gc.tensor(Iface())  # tensor() still copies
    c[0, 0] = 1.0
    assert a[0, 0] == -5.0
