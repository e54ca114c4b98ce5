"""Linear regression with hand-written SGD: p -= lr * p.grad under no_grad, grad.zero_()."""
import torch


def main():
    x = torch.tensor([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [2.0, 1.0], [0.5, -1.0], [-1.0, 2.0]])
    y = x @ torch.tensor([1.5, -2.0]) + 0.5
    w = torch.zeros(2, requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    lr = 0.1
    losses = []
    for _ in range(30):
        loss = ((x @ w + b - y) ** 2).mean()
        loss.backward()
        with torch.no_grad():
            w -= lr * w.grad
            b -= lr * b.grad
        w.grad.zero_()
        b.grad.zero_()
        losses.append(loss.item())
    return {"losses": losses, "w": w.tolist(), "b": b.item(), "leaf": w.is_leaf, "req": w.requires_grad}
