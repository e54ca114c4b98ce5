"""A small classifier built from nn.ModuleList / nn.ModuleDict, trained with log_softmax + nll_loss
and cross_entropy(label_smoothing=...), state_dict round trip into a fresh copy (fixed weights, no RNG)."""

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(4, 8), nn.Linear(8, 8)])
        self.heads = nn.ModuleDict({"cls": nn.Linear(8, 3), "aux": nn.Linear(8, 3)})
        self.act = nn.Tanh()
        self.register_buffer("steps", torch.zeros(1))

    def forward(self, x):
        for layer in self.layers:
            x = self.act(layer(x))
        return self.heads["cls"](x), self.heads["aux"](x)


def main():
    rng = np.random.default_rng(1)
    X = torch.tensor(rng.standard_normal((24, 4)).astype(np.float32))
    y = torch.tensor(rng.integers(0, 3, 24).astype(np.int64))
    model = Net()
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(torch.tensor(rng.standard_normal(tuple(p.shape)).astype(np.float32) * 0.4))
    opt = torch.optim.SGD(model.parameters(), lr=0.2, momentum=0.5)
    losses = []
    for _ in range(12):
        opt.zero_grad()
        cls, aux = model(X)
        loss = F.nll_loss(F.log_softmax(cls, dim=1), y) + 0.5 * F.cross_entropy(aux, y, label_smoothing=0.1)
        loss.backward()
        opt.step()
        with torch.no_grad():
            model.steps += 1
        losses.append(loss.item())
    fresh = Net()
    result = fresh.load_state_dict(model.state_dict())
    with torch.no_grad():
        cls, _ = fresh(X)
        acc = (cls.argmax(1) == y).float().mean().item()
        weighted = F.cross_entropy(cls, y, weight=torch.tensor([1.0, 2.0, 0.5]), ignore_index=1).item()
    return {"losses": losses, "acc": acc, "weighted": weighted, "steps": fresh.steps.item(),
            "keys": list(model.state_dict().keys()), "missing": list(result.missing_keys),
            "n_modules": len(list(model.modules())), "heads": list(model.heads.keys()),
            "repr_first": repr(model).split("\n")[1]}
