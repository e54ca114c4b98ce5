"""torch.tensor([...]) dtype inference, .item(), .tolist(), dtype conversions, integer labels."""
import torch


def main():
    a = torch.tensor([1, 2, 3])
    b = torch.tensor([1.0, 2, 3])
    c = torch.tensor([True, False])
    d = torch.tensor([[1, 2], [3, 4]], dtype=torch.float64)
    e = torch.tensor(3.5)
    mixed = a + b
    labels = torch.tensor([0, 1, 1, 0]).long()
    return {"dtypes": [str(t.dtype) for t in (a, b, c, d, e, mixed, labels, a / 2, a // 2, c.sum(), a.float())],
            "item": e.item(), "int_item": a[1].item(), "tolist": d.tolist(), "shape": list(d.shape),
            "numel": d.numel(), "ndim": d.dim(), "size1": d.size(1), "int_div": (a / 2).tolist(),
            "floor": (torch.tensor([-3, 3]) // 2).tolist(), "mod": (torch.tensor([-3, 3]) % 2).tolist(),
            "bool_list": c.tolist(), "long": b.long().tolist(), "float_of_bool": c.float().tolist()}
