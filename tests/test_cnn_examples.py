"""The CNN examples (examples/train_lenet.py, examples/train_resnet.py): the checkpoint each
saves loads into the same architecture written in PyTorch and gives the same logits, and each
script runs end to end on a tiny Fashion-MNIST stand-in (IDX files written here, so neither
the Debian data package nor a full training run is needed)."""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

import gradcore as gc

ROOT = Path(os.environ.get("GRADCORE_SOURCE_ROOT") or Path(__file__).resolve().parents[1])


def _example(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", ROOT / "examples" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _train_steps(model: Any, x: np.ndarray, y: np.ndarray, steps: int = 2) -> None:
    opt = gc.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(steps):
        opt.zero_grad()
        gc.nn.functional.cross_entropy(model(gc.from_numpy(x)), gc.from_numpy(y)).backward()
        opt.step()


def _check_twin(model: Any, twin: Any, path: Path, x: np.ndarray) -> None:
    """``model``'s checkpoint at ``path``, loaded into ``twin``: same keys, shapes, and logits
    (eval mode) as gradcore's."""
    torch = pytest.importorskip("torch")
    from safetensors.torch import load_file

    state = load_file(str(path))
    assert set(state) == set(twin.state_dict())
    for k, v in twin.state_dict().items():
        assert tuple(state[k].shape) == tuple(v.shape), k
    twin.load_state_dict(state)
    twin.eval()
    model.eval()
    with torch.no_grad():
        t_out = twin(torch.from_numpy(x)).numpy()
    with gc.no_grad():
        g_out = model(gc.from_numpy(x)).numpy()
    np.testing.assert_allclose(g_out, t_out, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(g_out.argmax(1), t_out.argmax(1))


@pytest.mark.parametrize("act,pool", [("relu", "max"), ("tanh", "avg")])
def test_lenet_checkpoint_loads_into_the_pytorch_twin(tmp_path: Path, act: str, pool: str) -> None:
    pytest.importorskip("torch")
    ex = _example("train_lenet")
    rng = np.random.default_rng(1)
    x = rng.standard_normal((16, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, 16)
    gc.manual_seed(0)
    model = ex.lenet(act, pool)
    _train_steps(model, x, y)
    path = tmp_path / "lenet.safetensors"
    gc.save(model.state_dict(), str(path))
    _check_twin(model, ex.torch_lenet(act, pool), path, x)
    fresh = ex.lenet(act, pool)
    fresh.load_state_dict(gc.load(str(path)))
    with gc.no_grad():
        np.testing.assert_array_equal(fresh.eval()(gc.from_numpy(x)).numpy(), model(gc.from_numpy(x)).numpy())


def test_lenet_script_smoke(tmp_path: Path, tiny_fashion: Path) -> None:
    out_path = tmp_path / "ckpt.safetensors"
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "train_lenet.py"), "--root", str(tiny_fashion),
                           "--epochs", "1", "--batch-size", "32", "--out", str(out_path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "64 train / 32 test images" in proc.stdout
    assert "epoch 1 " in proc.stdout and "epoch time" in proc.stdout and "test acc" in proc.stdout
    assert out_path.exists() and set(gc.load(str(out_path))) == set(_example("train_lenet").lenet().state_dict())
    try:
        import torch  # noqa: F401
    except ImportError:
        return
    assert "PyTorch twin from the checkpoint" in proc.stdout


def test_lenet_script_without_data_says_where_to_get_it(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "train_lenet.py"), "--root", str(tmp_path),
                           "--out", str(tmp_path / "x.safetensors")], capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "dataset-fashion-mnist" in proc.stderr


needs_bn = pytest.mark.skipif(not hasattr(gc.nn, "BatchNorm2d"), reason="gc.nn.BatchNorm2d not available")


@needs_bn
@pytest.mark.parametrize("blocks", [1, 2])
def test_resnet_checkpoint_loads_into_the_pytorch_twin(tmp_path: Path, blocks: int) -> None:
    pytest.importorskip("torch")
    ex = _example("train_resnet")
    rng = np.random.default_rng(2)
    x = rng.standard_normal((8, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, 8)
    gc.manual_seed(0)
    model = ex.resnet(blocks)
    _train_steps(model, x, y)  # moves the weights and the BatchNorm running statistics
    state = model.state_dict()
    assert float(state["1.num_batches_tracked"].item()) == 2
    path = tmp_path / "resnet.safetensors"
    gc.save(state, str(path))
    _check_twin(model, ex.torch_resnet(blocks), path, x)


@needs_bn
def test_resnet_augmentation_is_crops_and_flips() -> None:
    ex = _example("train_resnet")
    x = gc.from_numpy(np.random.default_rng(3).standard_normal((64, 1, 28, 28)).astype(np.float32))
    out = ex.augment(x, 2, gc.Generator().manual_seed(0)).numpy()
    assert out.shape == (64, 1, 28, 28)
    xn = x.numpy()
    fill = np.float32(-ex.MEAN / ex.STD)
    padded = np.pad(xn, ((0, 0), (0, 0), (2, 2), (2, 2)), constant_values=fill)
    kinds = set()
    for i in range(64):  # every output is one crop of the padded image, flipped or not
        found = [(dy, dx, f) for dy in range(5) for dx in range(5) for f in (False, True)
                 if np.array_equal((lambda c: c[..., ::-1] if f else c)(padded[i, :, dy:dy + 28, dx:dx + 28]), out[i])]
        assert found, i
        kinds.add(found[0][2])
    assert kinds == {False, True}
    flips_only = ex.augment(x, 0, gc.Generator().manual_seed(0)).numpy()
    assert all(np.array_equal(flips_only[i], xn[i]) or np.array_equal(flips_only[i], xn[i, ..., ::-1]) for i in range(64))


@needs_bn
def test_resnet_script_smoke(tmp_path: Path, tiny_fashion: Path) -> None:
    out_path = tmp_path / "ckpt.safetensors"
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "train_resnet.py"), "--root", str(tiny_fashion),
                           "--epochs", "1", "--batch-size", "32", "--out", str(out_path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "64 train / 32 test images" in proc.stdout and "ResNet-8" in proc.stdout
    assert "epoch 1 " in proc.stdout and "epoch time" in proc.stdout
    assert out_path.exists() and set(gc.load(str(out_path))) == set(_example("train_resnet").resnet().state_dict())
    try:
        import torch  # noqa: F401
    except ImportError:
        return
    assert "PyTorch twin from the checkpoint" in proc.stdout
