"""Classification accuracy from logits: argmax, ==, .float().mean(), per-class counts."""
import torch


def main():
    logits = torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 0.3], [1.0, 3.0, 0.0],
                           [-1.0, -2.0, -0.5], [0.0, 0.0, 5.0], [4.0, 1.0, 1.0]])
    labels = torch.tensor([0, 2, 1, 0, 2, 1])
    preds = logits.argmax(dim=1)
    correct = (preds == labels)
    acc = correct.float().mean().item()
    _, top = torch.max(logits, 1)
    per_class = [int(((preds == c) & correct).sum()) for c in range(3)]
    return {"preds": preds.tolist(), "acc": acc, "n_correct": correct.sum().item(),
            "same_as_max": bool((top == preds).all()), "per_class": per_class,
            "acc_dtype": str(correct.float().mean().dtype), "sum_dtype": str(correct.sum().dtype)}
