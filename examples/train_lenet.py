"""Train LeNet-5 on Fashion-MNIST, save a safetensors checkpoint, check it in PyTorch.

    apt-get install dataset-fashion-mnist     # the real files, in /usr/share/datasets/fashion-mnist
    python examples/train_lenet.py [--root DIR] [--epochs 10] [--out lenet.safetensors]

LeNet-5 as usually adapted to 28x28 inputs: conv 6@5x5 (padding 2) -> ReLU -> max-pool 2
-> conv 16@5x5 -> ReLU -> max-pool 2 -> 400 -> 120 -> 84 -> 10 (ReLU and max pooling
rather than the original tanh and average pooling: ``--act tanh --pool avg`` gives those).
Reaches >= 90 % test accuracy in 10 epochs; prints the time of every epoch. The checkpoint
(``gc.save(model.state_dict(), ...)``: safetensors, no pickle) is a plain state dict that
``torch_lenet()`` below - the same architecture written in PyTorch - loads with
``load_state_dict``; when torch is installed the script does that and compares the logits on
the test set. ``--limit N`` trains and tests on the first N images only (a smoke run).
"""
from __future__ import annotations

import argparse
import time
from typing import Any, Tuple

import numpy as np

import gradcore as gc
import gradcore.nn as nn
from gradcore.data import FASHION_MNIST_DIR, DataLoader, TensorDataset, load_fashion_mnist
from gradcore.train import evaluate

MEAN, STD = 0.2860, 0.3530  # Fashion-MNIST's training-set pixel mean and standard deviation


def _layers(mod: Any, act: str, pool: str) -> list:
    """The LeNet-5 layer list, built from ``mod`` (gradcore.nn or torch.nn): the same
    architecture and so the same state_dict keys in both libraries."""
    Act = {"relu": mod.ReLU, "tanh": mod.Tanh}[act]
    Pool = {"max": mod.MaxPool2d, "avg": mod.AvgPool2d}[pool]
    return [mod.Conv2d(1, 6, 5, padding=2), Act(), Pool(2),       # 6 x 28 x 28 -> 6 x 14 x 14
            mod.Conv2d(6, 16, 5), Act(), Pool(2),                 # 16 x 10 x 10 -> 16 x 5 x 5
            mod.Flatten(),
            mod.Linear(16 * 5 * 5, 120), Act(),
            mod.Linear(120, 84), Act(),
            mod.Linear(84, 10)]


def lenet(act: str = "relu", pool: str = "max") -> nn.Sequential:
    return nn.Sequential(*_layers(nn, act, pool))


def torch_lenet(act: str = "relu", pool: str = "max") -> Any:
    """The same network in PyTorch (its state_dict keys and shapes are gradcore's)."""
    import torch

    return torch.nn.Sequential(*_layers(torch.nn, act, pool))


def images(x: np.ndarray) -> np.ndarray:
    """(N, 784) floats in [0, 1] -> normalised (N, 1, 28, 28) float32."""
    return ((x.reshape(-1, 1, 28, 28) - MEAN) / STD).astype(np.float32)


def compare_with_torch(path: str, model: nn.Module, x: np.ndarray, act: str, pool: str) -> Tuple[float, float]:
    """Load the checkpoint at ``path`` into ``torch_lenet`` and run both networks on ``x``:
    (largest |logit difference|, fraction of equal predictions)."""
    import torch
    from safetensors.torch import load_file

    tnet = torch_lenet(act, pool)
    tnet.load_state_dict(load_file(path))
    tnet.eval()
    model.eval()
    with torch.no_grad():
        t_out = tnet(torch.from_numpy(x)).numpy()
    with gc.no_grad():
        g_out = model(gc.from_numpy(x)).numpy()
    return float(np.abs(t_out - g_out).max()), float((t_out.argmax(1) == g_out.argmax(1)).mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", default=FASHION_MNIST_DIR, help="folder with the four IDX files (.gz or raw)")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--act", choices=("relu", "tanh"), default="relu")
    ap.add_argument("--pool", choices=("max", "avg"), default="max")
    ap.add_argument("--limit", type=int, default=None, help="use only the first N train and test images")
    ap.add_argument("--out", default="lenet.safetensors", help="checkpoint path (safetensors)")
    args = ap.parse_args()

    try:
        x_train, y_train, x_test, y_test = load_fashion_mnist(args.root)
    except FileNotFoundError as e:
        raise SystemExit(str(e))
    if args.limit is not None:
        x_train, y_train, x_test, y_test = x_train[:args.limit], y_train[:args.limit], x_test[:args.limit], \
            y_test[:args.limit]
    x_train, x_test = images(x_train), images(x_test)
    gc.manual_seed(args.seed)
    model = lenet(args.act, args.pool)
    opt = gc.optim.Adam(model.parameters(), lr=args.lr)
    sched = gc.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.epochs)
    loss_fn = nn.CrossEntropyLoss()
    train_loader = DataLoader(TensorDataset(x_train, y_train), batch_size=args.batch_size, shuffle=True,
                              generator=gc.Generator().manual_seed(args.seed))
    test_loader = DataLoader(TensorDataset(x_test, y_test), batch_size=1000)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"gradcore {gc.__version__} | ISA {gc.backend_info()['isa']} | threads {gc.get_num_threads()}")
    print(f"Fashion-MNIST: {len(x_train)} train / {len(x_test)} test images from {args.root}")
    print(f"LeNet-5 ({args.act}, {args.pool} pooling): {n_params} parameters")
    for epoch in range(1, args.epochs + 1):
        model.train()
        t0 = time.perf_counter()
        total = 0.0
        for xb, yb in train_loader:
            opt.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            total += loss.item() * len(yb)
        dt = time.perf_counter() - t0
        sched.step()
        res = evaluate(model, loss_fn, test_loader)
        print(f"epoch {epoch}  train loss {total / len(x_train):.4f}  test acc {res['accuracy'] * 100:.2f} %  "
              f"epoch time {dt:.2f} s")

    gc.save(model.state_dict(), args.out)
    print(f"checkpoint: {args.out} (safetensors)")
    try:
        import torch  # noqa: F401
    except ImportError:
        print("torch not installed: PyTorch check skipped")
        return
    diff, agree = compare_with_torch(args.out, model, x_test, args.act, args.pool)
    print(f"PyTorch twin from the checkpoint: max |logit difference| {diff:.2e}, same prediction on "
          f"{agree * 100:.2f} % of the test images")
    if diff > 1e-3:
        raise SystemExit("the PyTorch twin's logits differ from gradcore's")


if __name__ == "__main__":
    main()
