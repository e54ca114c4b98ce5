"""Boolean masks: x[mask] = 0, x[x < 0], x[:, -1], torch.where, mask counting."""
import torch


def main():
    x = torch.tensor([[1.0, -2.0, 3.0], [-4.0, 5.0, -6.0], [7.0, 8.0, -9.0]])
    neg = x < 0
    picked = x[neg]
    y = x.clone()
    y[neg] = 0
    z = x.clone()
    z[z > 4] = -1.0
    leaky = torch.where(x > 0, x, 0.1 * x)
    last = x[:, -1]
    rows = x[torch.tensor([True, False, True])]
    cols = x[:, [0, 2]]
    return {"picked": picked.tolist(), "y": y.tolist(), "z": z.tolist(), "leaky": leaky.tolist(),
            "last": last.tolist(), "n_neg": int(neg.sum()), "rows": rows.tolist(), "cols": cols.tolist(),
            "any": bool(neg.any()), "all_rows": (x.abs() > 0).all(dim=1).tolist(), "mask_dtype": str(neg.dtype)}
