"""Masked loss averaging over padded sequences: mask from lengths, (loss * mask).sum() / mask.sum()."""
import torch


def main():
    pred = torch.tensor([[0.1, 0.9, 0.3, 0.0], [0.5, 0.5, 0.2, 0.7], [1.0, 0.0, 0.0, 0.0]], requires_grad=True)
    target = torch.tensor([[0.0, 1.0, 0.0, 9.0], [1.0, 0.0, 0.0, 1.0], [1.0, 9.0, 9.0, 9.0]])
    lengths = torch.tensor([3, 4, 1])
    mask = torch.arange(4)[None, :] < lengths[:, None]
    err = (pred - target) ** 2
    loss = (err * mask).sum() / mask.sum()
    loss.backward()
    per_seq = (err * mask.float()).sum(dim=1) / lengths
    return {"loss": loss.item(), "grad": pred.grad.tolist(), "per_seq": per_seq.tolist(),
            "mask": mask.tolist(), "n": int(mask.sum())}
