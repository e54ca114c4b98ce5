"""A small regression fitted with L-BFGS and a strong-Wolfe line search (the closure API), in
float64 (near the optimum, float32 rounding decides the line search's branches)."""
import torch


def main():
    x = torch.tensor([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [2.0, 1.0], [0.5, -1.0], [-1.0, 2.0],
                      [1.5, 0.5], [-0.5, -0.5]], dtype=torch.float64)
    noise = torch.tensor([0.1, -0.1, 0.05, 0.0, -0.05, 0.1, 0.0, -0.1], dtype=torch.float64)
    y = x @ torch.tensor([1.5, -2.0], dtype=torch.float64) + 0.5 + noise
    w = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], lr=1, max_iter=3, history_size=5, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        r = x @ w + b - y
        loss = (r * r).mean() + 0.05 * (w * w * w * w).sum()
        loss.backward()
        return loss

    losses = [opt.step(closure).item() for _ in range(5)]
    state = opt.state_dict()["state"][0]
    return {"losses": losses, "w": w.tolist(), "b": b.item(), "func_evals": state["func_evals"],
            "n_iter": state["n_iter"]}
