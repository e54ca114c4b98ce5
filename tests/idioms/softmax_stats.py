"""Softmax / log_softmax probabilities, normalisation by mean, a manual NLL with gather-free indexing."""
import torch


def main():
    logits = torch.tensor([[1.0, 2.0, 3.0], [1.0, 1.0, 1.0], [-2.0, 0.0, 2.0]], requires_grad=True)
    targets = torch.tensor([2, 0, 1])
    probs = torch.softmax(logits, dim=1)
    logp = torch.log_softmax(logits, dim=-1)
    nll = -logp[torch.arange(3), targets].mean()
    nll.backward()
    x = torch.tensor([[1.0, 10.0], [2.0, 20.0], [3.0, 30.0]])
    centered = x - x.mean(dim=0, keepdim=True)
    scaled = centered / centered.abs().max(dim=0).values
    return {"probs": probs.tolist(), "rowsum": probs.sum(1).tolist(), "nll": nll.item(),
            "grad": logits.grad.tolist(), "centered": centered.tolist(), "scaled": scaled.tolist(),
            "exp_log": torch.exp(logp).sum().item()}
