"""The tutorials' hand-written layers as gradcore graph nodes (gc.autograd.Function).

Run:  python examples/layers_from_scratch.py

Each layer (MulLayer, AddLayer, Relu, Affine, SoftmaxWithLoss) is a Function with its own
forward and backward written with gradcore ops; gradcore records it as one node of the C++
graph and calls back into Python for its backward. Two checks against the built-in ops:

1. The shopping receipt (2 apples at 100, 3 oranges at 150, tax 1.1) built from MulLayer
   and AddLayer: the total and all five gradients, next to the same graph of built-in ops.
2. A two-layer MLP (Affine -> Relu -> Affine -> SoftmaxWithLoss) trained with plain SGD on
   scikit-learn's 8x8 digits (a synthetic 10-class data set when scikit-learn is missing).
   At the first step every layer's gradients (parameters and activations) are compared
   with the same network built from gc.nn.Linear, ReLU and cross_entropy.
"""
import time

import numpy as np

import gradcore as gc
import gradcore.nn as nn
import gradcore.nn.functional as F
from gradcore.autograd import Function
from gradcore.data import DataLoader, TensorDataset

f64 = gc.float64


# ---- the layers ---------------------------------------------------------------------------

class MulLayer(Function):
    """out = x * y;  dx = dout * y, dy = dout * x."""

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        return x * y

    @staticmethod
    def backward(ctx, dout):
        x, y = ctx.saved_tensors
        return dout * y, dout * x


class AddLayer(Function):
    """out = x + y;  the gradient passes through unchanged to both."""

    @staticmethod
    def forward(ctx, x, y):
        return x + y

    @staticmethod
    def backward(ctx, dout):
        return dout, dout


class Relu(Function):
    """out = x where x > 0, else 0;  dx = dout where x > 0, else 0 (the tutorial's mask)."""

    @staticmethod
    def forward(ctx, x):
        mask = gc.tensor((x.detach().numpy() > 0).astype(np.float64), dtype=x.dtype)
        ctx.save_for_backward(mask)
        return x * mask

    @staticmethod
    def backward(ctx, dout):
        (mask,) = ctx.saved_tensors
        return dout * mask


class Affine(Function):
    """out = x @ W + b;  dx = dout @ W.T, dW = x.T @ dout, db = sum of dout over the batch."""

    @staticmethod
    def forward(ctx, x, W, b):
        ctx.save_for_backward(x, W)
        return x @ W + b

    @staticmethod
    def backward(ctx, dout):
        x, W = ctx.saved_tensors
        return dout @ W.T, x.T @ dout, dout.sum(0)


class SoftmaxWithLoss(Function):
    """loss = mean cross-entropy of softmax(x) against integer labels;  dx = (y - t) / N.

    The labels are a NumPy array, not a tensor: their gradient is None.
    """

    @staticmethod
    def forward(ctx, x, labels):
        n, c = x.shape
        onehot = np.zeros((n, c))
        onehot[np.arange(n), labels] = 1.0
        t = gc.tensor(onehot, dtype=x.dtype)
        ctx.save_for_backward(x.softmax(1), t)
        return -(t * x.log_softmax(1)).sum() * (1.0 / n)

    @staticmethod
    def backward(ctx, dout):
        y, t = ctx.saved_tensors
        return (y - t) * (dout * (1.0 / y.shape[0])), None


def leaf(v):
    return gc.tensor(v, dtype=f64, requires_grad=True)


# ---- 1. the shopping receipt --------------------------------------------------------------

def shopping_receipt() -> None:
    print("1. Shopping receipt from MulLayer / AddLayer: (apple * n_apple + orange * n_orange) * tax")
    values = {"apple": 100.0, "n_apple": 2.0, "orange": 150.0, "n_orange": 3.0, "tax": 1.1}

    ours = {k: leaf(v) for k, v in values.items()}
    apple_price = MulLayer.apply(ours["apple"], ours["n_apple"])
    orange_price = MulLayer.apply(ours["orange"], ours["n_orange"])
    total = MulLayer.apply(AddLayer.apply(apple_price, orange_price), ours["tax"])
    total.backward()

    ref = {k: leaf(v) for k, v in values.items()}
    ref_total = (ref["apple"] * ref["n_apple"] + ref["orange"] * ref["n_orange"]) * ref["tax"]
    ref_total.backward()

    by_hand = {"apple": 2.2, "n_apple": 110.0, "orange": 3.3, "n_orange": 165.0, "tax": 650.0}
    print(f"  total = {total.item():.4f}   (built-in ops: {ref_total.item():.4f}, by hand: 715)   "
          f"graph root: {total.grad_fn.name()}")
    assert np.isclose(total.item(), ref_total.item()) and np.isclose(total.item(), 715.0)
    for k in values:
        g, g_ref = ours[k].grad.item(), ref[k].grad.item()
        print(f"  d total / d {k:<9} = {g:10.4f}   (built-in ops: {g_ref:10.4f}, by hand: {by_hand[k]})")
        assert np.isclose(g, g_ref, rtol=1e-12) and np.isclose(g, by_hand[k], rtol=1e-12), k


# ---- 2. an MLP from the layers ------------------------------------------------------------

def load_data(rng: np.random.Generator):
    try:
        from sklearn.datasets import load_digits

        digits = load_digits()
        X, y, name = digits.data / 16.0, digits.target.astype(np.int64), "sklearn digits (8x8)"
    except ImportError:
        # 10 Gaussian clusters in 64 dimensions, overlapping enough that training matters.
        centers = rng.standard_normal((10, 64))
        y = rng.integers(0, 10, 1800)
        X, name = centers[y] + 2.5 * rng.standard_normal((1800, 64)), "synthetic 10-class blobs"
    order = rng.permutation(len(X))
    n_test = len(X) // 5
    test, train = order[:n_test], order[n_test:]
    mean, std = X[train].mean(0), X[train].std(0) + 1e-3
    X = (X - mean) / std
    return X[train], y[train], X[test], y[test], name


def custom_forward(x, params, labels, keep=None):
    W1, b1, W2, b2 = params
    z1 = Affine.apply(x, W1, b1)
    a1 = Relu.apply(z1)
    logits = Affine.apply(a1, W2, b2)
    loss = SoftmaxWithLoss.apply(logits, labels)
    if keep is not None:
        keep.update(z1=z1, a1=a1, logits=logits)
    return loss, logits


def check_against_builtin(x, labels, params) -> None:
    """One forward/backward of both networks from the same weights; compare every gradient."""
    acts = {}
    loss, _ = custom_forward(x, params, labels, keep=acts)
    for t in acts.values():
        t.retain_grad()
    loss.backward()

    W1, b1, W2, b2 = params
    lin1, lin2 = nn.Linear(W1.shape[0], W1.shape[1], dtype=f64), nn.Linear(W2.shape[0], W2.shape[1], dtype=f64)
    with gc.no_grad():  # gc.nn.Linear stores weight as (out, in): the transpose of Affine's W
        lin1.weight.copy_(W1.T)
        lin1.bias.copy_(b1)
        lin2.weight.copy_(W2.T)
        lin2.bias.copy_(b2)
    z1 = lin1(x)
    a1 = nn.ReLU()(z1)
    logits = lin2(a1)
    ref_loss = F.cross_entropy(logits, labels)
    ref_acts = {"z1": z1, "a1": a1, "logits": logits}
    for t in ref_acts.values():
        t.retain_grad()
    ref_loss.backward()

    print(f"  step-0 check against gc.nn (Linear, ReLU, cross_entropy): loss {loss.item():.6f} vs "
          f"{ref_loss.item():.6f}")
    assert np.isclose(loss.item(), ref_loss.item(), rtol=1e-12)
    pairs = [("dW1", W1.grad.detach().numpy(), lin1.weight.grad.detach().numpy().T), ("db1", b1.grad.detach().numpy(), lin1.bias.grad.detach().numpy()),
             ("dW2", W2.grad.detach().numpy(), lin2.weight.grad.detach().numpy().T), ("db2", b2.grad.detach().numpy(), lin2.bias.grad.detach().numpy())]
    pairs += [(f"d{k}", acts[k].grad.detach().numpy(), ref_acts[k].grad.detach().numpy()) for k in ("logits", "a1", "z1")]
    for name, got, ref in pairs:
        err = np.abs(got - ref).max()
        ok = np.allclose(got, ref, rtol=1e-10, atol=1e-12)
        print(f"    {name:<8} shape {str(got.shape):<10} max |Function - built-in| = {err:.1e}  {'ok' if ok else 'MISMATCH'}")
        assert ok, name
    for p in params:
        p.grad = None


def accuracy(X, y, params) -> float:
    with gc.no_grad():
        W1, b1, W2, b2 = params
        logits = Affine.apply(Relu.apply(Affine.apply(gc.tensor(X, dtype=f64), W1, b1)), W2, b2)
    return float((logits.detach().numpy().argmax(1) == y).mean())


def mlp(steps: int = 400, batch_size: int = 64, lr: float = 0.1, hidden: int = 100, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    Xtr, ytr, Xte, yte, name = load_data(rng)
    d, k = Xtr.shape[1], int(ytr.max()) + 1
    print(f"\n2. MLP Affine({d}->{hidden}) -> Relu -> Affine({hidden}->{k}) -> SoftmaxWithLoss, all Functions")
    print(f"  data: {name}, {len(Xtr)} train / {len(Xte)} test")
    params = [leaf(rng.normal(0, np.sqrt(2 / d), (d, hidden))), leaf(np.zeros(hidden)),  # He init
              leaf(rng.normal(0, np.sqrt(2 / hidden), (hidden, k))), leaf(np.zeros(k))]

    loader = DataLoader(TensorDataset(Xtr, ytr), batch_size=batch_size, shuffle=True, drop_last=True,
                        generator=gc.Generator().manual_seed(seed))
    check_against_builtin(gc.tensor(Xtr[:batch_size], dtype=f64), ytr[:batch_size], params)

    t0, step, losses = time.perf_counter(), 0, []
    while step < steps:
        for xb, yb in loader:
            loss, _ = custom_forward(xb, params, yb)
            loss.backward()
            with gc.no_grad():  # plain SGD, written out: p -= lr * dp
                for p in params:
                    p.add_(p.grad, alpha=-lr)
                    p.grad = None
            losses.append(loss.item())
            step += 1
            if step % 100 == 0:
                print(f"  step {step:4d}  mean loss of the last 100 batches {np.mean(losses[-100:]):.4f}")
            if step == steps:
                break
    train_acc, test_acc = accuracy(Xtr, ytr, params), accuracy(Xte, yte, params)
    print(f"  {steps} SGD steps in {time.perf_counter() - t0:.2f} s: train accuracy {train_acc * 100:.1f} %, "
          f"test accuracy {test_acc * 100:.1f} %")
    assert np.mean(losses[-50:]) < np.mean(losses[:50]), "the loss did not go down"
    assert test_acc > 0.8, f"test accuracy {test_acc:.3f}: training did not work"


def main() -> None:
    shopping_receipt()
    mlp()


if __name__ == "__main__":
    main()
