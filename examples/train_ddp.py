"""Train the Fashion-MNIST MLP (784-512-256-10) or LeNet-5 data-parallel on several processes.

    gradcore-run -n 2 examples/train_ddp.py [--model mlp|lenet] [--epochs 3] [--batch-size 128]
    # the same script on PyTorch (gloo), for comparison:
    torchrun --nproc_per_node 2 examples/train_ddp.py --framework torch

Every rank reads its own share of the training set (``DistributedSampler``, reshuffled each
epoch with ``set_epoch``), ``DistributedDataParallel`` averages the gradients, rank 0 logs
and writes the checkpoint (``ddp.module.state_dict()``: safetensors, no ``module.`` prefix),
and every rank evaluates on the test set (the figures agree: the parameters are the same on
every rank). ``--batch-size`` is per rank: the global batch is ranks x batch size.
``--numpy-init SEED`` draws the initial weights from NumPy so that gradcore and PyTorch start
from the same model; with ``--no-shuffle`` they also see the same batches, and their final
parameters agree within float tolerance (tests/distributed/test_ddp_example.py).
"""
from __future__ import annotations

import argparse
import importlib
import os
import time
from typing import Any, Dict

import numpy as np


def build(lib: Any, model: str) -> Any:
    nn = lib.nn
    if model == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(),
                             nn.Linear(256, 10))
    return nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                         nn.Linear(84, 10))


def numpy_state(model: Any, seed: int) -> Dict[str, np.ndarray]:
    """PyTorch-style uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)) weights drawn from NumPy."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, p in model.state_dict().items():
        shape = tuple(p.shape)
        fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else None
        if fan_in is None:  # a bias: its layer's weight came just before
            fan_in = int(np.prod(prev[1:]))
        prev = shape
        out[name] = rng.uniform(-1, 1, size=shape).astype(np.float32) / np.sqrt(fan_in)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--framework", choices=("gradcore", "torch"), default="gradcore")
    ap.add_argument("--model", choices=("mlp", "lenet"), default="mlp")
    ap.add_argument("--root", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=128, help="per rank")
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--limit", type=int, default=None, help="use only the first N train and test images")
    ap.add_argument("--numpy-init", type=int, default=None, metavar="SEED")
    ap.add_argument("--no-shuffle", action="store_true")
    ap.add_argument("--out", default="ddp.safetensors", help="rank 0's checkpoint (safetensors)")
    ap.add_argument("--dump", default=None, help="rank 0 also saves the final parameters here (.npz)")
    args = ap.parse_args()

    lib = importlib.import_module(args.framework)
    dist = lib.distributed
    from gradcore.data import load_fashion_mnist  # the IDX reader (NumPy arrays, either framework)

    dist.init_process_group("gloo" if args.framework == "torch" else "mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    DataLoader, TensorDataset = lib.utils.data.DataLoader, lib.utils.data.TensorDataset
    DistributedSampler = lib.utils.data.distributed.DistributedSampler
    DDP = lib.nn.parallel.DistributedDataParallel

    try:
        x_train, y_train, x_test, y_test = load_fashion_mnist(args.root)
    except FileNotFoundError as e:
        raise SystemExit(str(e))
    if args.limit is not None:
        x_train, y_train, x_test, y_test = (a[:args.limit] for a in (x_train, y_train, x_test, y_test))
    shape = (-1, 1, 28, 28)
    x_train, x_test = ((x.reshape(shape) - 0.2860) / 0.3530 for x in (x_train, x_test))
    train = TensorDataset(lib.from_numpy(x_train.astype(np.float32)), lib.from_numpy(y_train))
    test = TensorDataset(lib.from_numpy(x_test.astype(np.float32)), lib.from_numpy(y_test))

    lib.manual_seed(args.seed)
    model = build(lib, args.model)
    if args.numpy_init is not None:
        model.load_state_dict({k: lib.from_numpy(v) for k, v in numpy_state(model, args.numpy_init).items()})
    ddp = DDP(model)  # rank 0's weights are broadcast to every rank here
    opt = lib.optim.SGD(ddp.parameters(), lr=args.lr, momentum=0.9)
    loss_fn = lib.nn.CrossEntropyLoss()
    sampler = DistributedSampler(train, shuffle=not args.no_shuffle, seed=args.seed)
    loader = DataLoader(train, batch_size=args.batch_size, sampler=sampler)
    test_loader = DataLoader(test, batch_size=1000)
    if rank == 0:
        print(f"{args.framework} {lib.__version__}: {world} ranks x batch {args.batch_size}, "
              f"{len(sampler)} of {len(train)} training images per rank, {args.model} with "
              f"{sum(p.numel() for p in model.parameters())} parameters", flush=True)
    for epoch in range(1, args.epochs + 1):
        sampler.set_epoch(epoch)
        ddp.train()
        t0 = time.perf_counter()
        total, seen = 0.0, 0
        for xb, yb in loader:
            opt.zero_grad()
            loss = loss_fn(ddp(xb), yb)
            loss.backward()
            opt.step()
            total += loss.item() * len(yb)
            seen += len(yb)
        dt = time.perf_counter() - t0
        ddp.eval()
        correct = 0
        with lib.no_grad():
            for xb, yb in test_loader:
                correct += int((model(xb).argmax(1) == yb).sum().item())
        if rank == 0:
            print(f"epoch {epoch}  train loss (rank 0's share) {total / max(seen, 1):.4f}  test acc "
                  f"{100.0 * correct / len(test):.2f} %  epoch time {dt:.2f} s  "
                  f"({world * seen / dt:.0f} images/s over all ranks)", flush=True)
    if rank == 0:
        state = {k: v.detach().contiguous() for k, v in ddp.module.state_dict().items()}
        if args.framework == "torch":
            from safetensors.torch import save_file
            save_file(state, args.out + ".tmp")
            os.replace(args.out + ".tmp", args.out)
        else:
            lib.save(state, args.out)
        if args.dump:
            np.savez(args.dump, **{k: v.numpy() for k, v in state.items()})
        print(f"checkpoint: {args.out}", flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
