"""In-place updates: running averages, clamp_, +=, mul_/add_, zero_, under no_grad on parameters."""
import torch


def main():
    running = torch.zeros(3)
    for v in ([1.0, 2.0, 3.0], [3.0, 2.0, 1.0], [0.0, 0.0, 6.0]):
        running.mul_(0.9).add_(0.1 * torch.tensor(v))
    p = torch.tensor([0.5, -1.5, 2.5], requires_grad=True)
    (p ** 2).sum().backward()
    with torch.no_grad():
        p.add_(p.grad, alpha=-0.1)
        p.clamp_(-1.0, 1.0)
    q = torch.tensor([1, 2, 3])
    q += 1
    q *= 2
    r = torch.ones(2, 2)
    r[0] += 5
    z = torch.ones(3)
    z.zero_()
    return {"running": running.tolist(), "p": p.tolist(), "q": q.tolist(), "q_dtype": str(q.dtype),
            "r": r.tolist(), "z": z.tolist(), "p_leaf": p.is_leaf}
