"""Top-k predictions, max(dim) values/indices, sort and argsort, keepdim reductions."""
import torch


def main():
    scores = torch.tensor([[0.1, 0.7, 0.2, 0.9], [0.5, 0.4, 0.3, 0.2], [0.0, -1.0, 2.0, 1.0]])
    vals, idx = scores.topk(2, dim=1)
    mx, amx = scores.max(dim=1)
    s, order = torch.sort(scores[0], descending=True)
    labels = torch.tensor([3, 1, 2])
    top2_hit = (idx == labels.unsqueeze(1)).any(dim=1).float().mean().item()
    norm = scores - scores.max(dim=1, keepdim=True).values
    return {"vals": vals.tolist(), "idx": idx.tolist(), "mx": mx.tolist(), "amx": amx.tolist(),
            "sorted": s.tolist(), "order": order.tolist(), "top2": top2_hit, "norm": norm.tolist(),
            "min_all": scores.min().item(), "argmin": scores.argmin().item(), "sum0": scores.sum(0).tolist()}
