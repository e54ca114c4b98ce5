"""Weights both ways between gradcore and PyTorch (needs torch: pip install torch).

    python examples/torch_interop.py

Trains a small MLP in gradcore, loads its weights into the same PyTorch model and checks
that both give the same outputs; then trains the PyTorch model and loads its
``state_dict()`` straight into gradcore (torch tensors are read through DLPack: no copy on
the way in, no Python lists). Runs in a few seconds.
"""
from __future__ import annotations

import argparse
from typing import Any, Tuple

import numpy as np

import gradcore as gc
import gradcore.nn as nn
import gradcore.nn.functional as F

SIZES = (8, 32, 3)


def make_data(seed: int, n: int = 512) -> Tuple[np.ndarray, np.ndarray]:
    """Three Gaussian blobs in 8 dimensions."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(0.0, 2.0, size=(SIZES[-1], SIZES[0]))
    y = rng.integers(0, SIZES[-1], size=n)
    x = centers[y] + rng.normal(size=(n, SIZES[0]))
    return x.astype(np.float32), y.astype(np.int64)


def gradcore_mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(SIZES[0], SIZES[1]), nn.ReLU(), nn.Linear(SIZES[1], SIZES[2]))


def torch_mlp(torch: Any) -> Any:
    tnn = torch.nn
    return tnn.Sequential(tnn.Linear(SIZES[0], SIZES[1]), tnn.ReLU(), tnn.Linear(SIZES[1], SIZES[2]))


def train_gradcore(model: nn.Module, x: np.ndarray, y: np.ndarray, steps: int = 100) -> float:
    opt = gc.optim.Adam(model.parameters(), lr=1e-2)
    xb, yb = gc.from_numpy(x), gc.from_numpy(y)
    for _ in range(steps):
        loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return float(loss.item())


def train_torch(torch: Any, model: Any, x: np.ndarray, y: np.ndarray, steps: int = 100) -> float:
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    xb, yb = torch.from_numpy(x), torch.from_numpy(y)
    for _ in range(steps):
        loss = torch.nn.functional.cross_entropy(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return float(loss.item())


def gradcore_to_torch(torch: Any, seed: int = 0) -> float:
    """Train in gradcore, load into PyTorch; the largest output difference."""
    x, y = make_data(seed)
    gc.manual_seed(seed)
    g = gradcore_mlp()
    loss = train_gradcore(g, x, y)
    t = torch_mlp(torch)
    # torch.from_dlpack shares each gradcore tensor's memory; load_state_dict copies it in.
    t.load_state_dict({k: torch.from_dlpack(v.detach()) for k, v in g.state_dict().items()})
    with gc.no_grad(), torch.no_grad():
        diff = np.abs(g(gc.from_numpy(x)).numpy() - t(torch.from_numpy(x)).numpy()).max()
    print(f"gradcore -> PyTorch: trained loss {loss:.4f}, max output difference {diff:.2e}")
    return float(diff)


def torch_to_gradcore(torch: Any, seed: int = 0) -> float:
    """Train in PyTorch, load its state_dict into gradcore; the largest output difference."""
    x, y = make_data(seed + 1)
    torch.manual_seed(seed)
    t = torch_mlp(torch)
    loss = train_torch(torch, t, x, y)
    g = gradcore_mlp()
    g.load_state_dict(t.state_dict())  # torch tensors, read through DLPack
    with gc.no_grad(), torch.no_grad():
        diff = np.abs(g(gc.from_numpy(x)).numpy() - t(torch.from_numpy(x)).numpy()).max()
    print(f"PyTorch -> gradcore: trained loss {loss:.4f}, max output difference {diff:.2e}")
    return float(diff)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    try:
        import torch
    except ImportError:
        raise SystemExit("this example needs PyTorch: pip install torch")
    torch.set_num_threads(1)
    for diff in (gradcore_to_torch(torch, args.seed), torch_to_gradcore(torch, args.seed)):
        assert diff < 1e-5, f"outputs differ by {diff}"
    print("outputs agree both ways")


if __name__ == "__main__":
    main()
