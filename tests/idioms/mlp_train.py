"""A tiny MLP trained with nn.Sequential, F.cross_entropy and optim.SGD(momentum) from fixed weights."""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def main():
    rng = np.random.default_rng(0)
    X = torch.tensor(rng.standard_normal((16, 4)).astype(np.float32))
    y = torch.tensor((rng.standard_normal(16) > 0).astype(np.int64))
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    with torch.no_grad():
        for m in model:
            if isinstance(m, nn.Linear):
                m.weight.copy_(torch.tensor(rng.standard_normal(tuple(m.weight.shape)).astype(np.float32) * 0.5))
                m.bias.copy_(torch.tensor(rng.standard_normal(tuple(m.bias.shape)).astype(np.float32) * 0.1))
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    losses = []
    for _ in range(15):
        opt.zero_grad()
        loss = F.cross_entropy(model(X), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    with torch.no_grad():
        acc = (model(X).argmax(1) == y).float().mean().item()
    return {"losses": losses, "acc": acc, "n_params": sum(p.numel() for p in model.parameters())}
