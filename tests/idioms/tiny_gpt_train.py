"""A two-block character GPT as a PyTorch user writes it: fused qkv Linear, split, einsum
attention with a tril causal mask and masked_fill, GELU(tanh) MLP, SiLU, ModuleList,
cross_entropy with label smoothing, AdamW + OneCycleLR, clip_grad_norm_, and sampling with
a seeded Generator (only stream-independent facts of the sample are returned)."""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

V, T, C, H = 11, 8, 16, 2


def main():
    rng = np.random.default_rng(0)

    def param(*shape):
        return nn.Parameter(torch.tensor(rng.standard_normal(shape) * 0.2, dtype=torch.float32))

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.qkv = nn.Linear(C, 3 * C)
            self.proj = nn.Linear(C, C)
            self.ff = nn.Sequential(nn.Linear(C, 4 * C), nn.GELU(approximate="tanh"), nn.Linear(4 * C, C))
            for m in (self.qkv, self.proj, self.ff[0], self.ff[2]):
                m.weight = param(*m.weight.shape)
                m.bias = param(*m.bias.shape)

        def forward(self, x):
            B = x.shape[0]
            q, k, v = self.qkv(x).split(C, dim=-1)
            q, k, v = [t.view(B, T, H, C // H).transpose(1, 2) for t in (q, k, v)]
            att = torch.einsum("bhtd,bhsd->bhts", q, k) / (C // H) ** 0.5
            att = att.masked_fill(torch.tril(torch.ones(T, T)) == 0, float("-inf")).softmax(-1)
            y = (att @ v).transpose(1, 2).reshape(B, T, C)
            x = x + self.proj(y)
            return x + self.ff(F.silu(x))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.tok = param(V, C)
            self.pos = param(T, C)
            self.blocks = nn.ModuleList([Block(), Block()])
            self.head = nn.Linear(C, V)
            self.head.weight = param(V, C)
            self.head.bias = param(V)

        def forward(self, idx):
            x = self.tok[idx] + self.pos
            for b in self.blocks:
                x = b(x)
            return self.head(x)

    m = GPT()
    opt = torch.optim.AdamW(m.parameters(), lr=3e-3, weight_decay=0.1)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1e-2, total_steps=30)
    data = rng.integers(0, V, (64, T + 1))
    losses = []
    for step in range(30):
        b = data[(step * 8) % 64:(step * 8) % 64 + 8]
        x, y = torch.tensor(b[:, :-1]), torch.tensor(b[:, 1:])
        loss = F.cross_entropy(m(x).reshape(-1, V), y.reshape(-1), label_smoothing=0.1)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(m.parameters(), 1.0)
        opt.step()
        sched.step()
        losses.append(loss.item())
    g = torch.Generator().manual_seed(42)
    with torch.no_grad():
        p = torch.softmax(m(torch.tensor(data[:1, :-1]))[0, -1], dim=-1)
    s = torch.multinomial(p, 5, replacement=True, generator=g)
    return {"first": losses[0], "last": losses[-1], "lr": sched.get_last_lr(), "keys": list(m.state_dict())[:6],
            "n_keys": len(m.state_dict()), "sample": [list(s.shape), str(s.dtype), bool((s < V).all())]}
