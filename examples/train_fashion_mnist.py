"""Train a 784-512-256-10 MLP on Fashion-MNIST read from its IDX files.

    apt-get install dataset-fashion-mnist     # the real files, in /usr/share/datasets/fashion-mnist
    python examples/train_fashion_mnist.py [--root DIR] [--epochs 5]

Reaches >= 88 % test accuracy in 5 epochs; prints the time of every epoch.
"""
import argparse
import time

import gradcore as gc
import gradcore.nn as nn
from gradcore.data import FASHION_MNIST_DIR, DataLoader, TensorDataset, load_fashion_mnist
from gradcore.train import evaluate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", default=FASHION_MNIST_DIR, help="folder with the four IDX files (.gz or raw)")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    try:
        x_train, y_train, x_test, y_test = load_fashion_mnist(args.root)
    except FileNotFoundError as e:
        raise SystemExit(str(e))
    gc.manual_seed(args.seed)
    model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, 10))
    opt = gc.optim.Adam(model.parameters(), lr=args.lr)
    sched = gc.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.epochs)  # settles the last epoch
    loss_fn = nn.CrossEntropyLoss()
    train_loader = DataLoader(TensorDataset(x_train, y_train), batch_size=args.batch_size, shuffle=True,
                              generator=gc.Generator().manual_seed(args.seed))
    test_loader = DataLoader(TensorDataset(x_test, y_test), batch_size=1000)
    print(f"gradcore {gc.__version__} | ISA {gc.backend_info()['isa']} | threads {gc.get_num_threads()}")
    print(f"Fashion-MNIST: {len(x_train)} train / {len(x_test)} test images from {args.root}")
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


if __name__ == "__main__":
    main()
