"""x.view(-1), x.t(), .contiguous(), unsqueeze/squeeze, flatten, permute, reshape, .T."""
import torch


def main():
    x = torch.arange(24.0).view(2, 3, 4)
    flat = x.view(-1)
    t = x[0].t()
    tc = t.contiguous()
    p = x.permute(2, 0, 1)
    out = {"flat_sum": flat.sum().item(), "t": t.tolist(), "t_contig": t.is_contiguous(),
           "tc_contig": tc.is_contiguous(), "tc_view": tc.view(-1).tolist(), "p_shape": list(p.shape),
           "p_reshape": p.reshape(4, 6).tolist(), "unsq": list(x.unsqueeze(1).shape),
           "sq": list(x[:, :1].squeeze(1).shape), "flatten": list(x.flatten(1).shape),
           "T": x[1].T.tolist(), "batch_flat": list(x.view(x.size(0), -1).shape), "strides": list(p.stride())}
    x.view(-1)[5] = 100.0  # writes through a view reach the base
    out["after_write"] = x[0, 1].tolist()
    return out
