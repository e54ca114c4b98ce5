"""Manual mini-batching: slicing x[i:i+bs], a shuffled order from a fixed permutation, concatenating outputs."""
import torch


def main():
    data = torch.arange(20.0).view(10, 2)
    order = torch.tensor([3, 7, 1, 0, 9, 2, 8, 5, 4, 6])
    bs = 4
    sums, sizes, outs = [], [], []
    for i in range(0, len(order), bs):
        batch = data[order[i:i + bs]]
        sums.append(batch.sum().item())
        sizes.append(batch.shape[0])
        outs.append(batch * 2)
    full = torch.cat(outs, dim=0)
    stacked = torch.stack([data[0], data[1]])
    eye = torch.eye(3)
    return {"sums": sums, "sizes": sizes, "full": full.tolist(), "stacked": stacked.tolist(), "eye": eye.tolist()}
