"""Train a small character-level GPT on the fortunes of Debian's ``fortunes`` package, sample
from it, save a safetensors checkpoint and check it in PyTorch.

    apt-get install fortunes          # the text, in /usr/share/games/fortunes
    python examples/train_gpt.py [--data DIR_OR_FILE] [--steps 2000] [--out gpt.safetensors]

The model is GPT-2's block structure at toy size: token and position embeddings, 4 pre-norm
blocks (LayerNorm, causal multi-head self-attention through
``F.scaled_dot_product_attention(..., is_causal=True)``, LayerNorm, a 4x GELU MLP), a final
LayerNorm and a linear head over the characters; 128 dimensions, 4 heads, context 64.
Training: AdamW (weight decay on the matrices only, one parameter group each), linear warmup
then cosine decay (``LambdaLR``), gradient clipping at 1.0, batch 32.

The text: every fortune file (not the ``.dat`` indexes or ``.u8`` links), characters outside
printable ASCII dropped, split 90/10 into train and validation by position. ``--data`` also
takes one text file. The printout has train/validation loss (nats per character) at
intervals, the time per step, and a generated sample.

The checkpoint (``gc.save(model.state_dict(), ...)``: safetensors, no pickle) loads into
``torch_gpt()`` below, the same architecture in PyTorch, built from the same code with
``torch.nn`` in place of ``gradcore.nn``; when torch is installed the script does that and
compares the logits on a validation batch.
"""
from __future__ import annotations

import argparse
import math
import os
import time
from pathlib import Path
from typing import Any, Dict, List, Tuple

import numpy as np

import gradcore as gc
import gradcore.nn as nn

FORTUNES_DIR = "/usr/share/games/fortunes"


def _build(mod: Any, vocab: int, context: int = 64, dim: int = 128, heads: int = 4, layers: int = 4) -> Any:
    """The GPT built from ``mod`` (gradcore.nn or torch.nn): the same modules, so the same
    state_dict keys and shapes, in both libraries."""
    F = mod.functional

    class SelfAttention(mod.Module):  # type: ignore[misc, name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.qkv = mod.Linear(dim, 3 * dim)
            self.proj = mod.Linear(dim, dim)

        def forward(self, x: Any) -> Any:
            B, T, C = x.shape
            q, k, v = self.qkv(x).split(C, dim=2)
            q, k, v = (t.reshape(B, T, heads, C // heads).transpose(1, 2) for t in (q, k, v))
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)   # (B, heads, T, C/heads)
            return self.proj(y.transpose(1, 2).reshape(B, T, C))

    class Block(mod.Module):  # type: ignore[misc, name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.ln1 = mod.LayerNorm(dim)
            self.attn = SelfAttention()
            self.ln2 = mod.LayerNorm(dim)
            self.mlp = mod.Sequential(mod.Linear(dim, 4 * dim), mod.GELU(), mod.Linear(4 * dim, dim))

        def forward(self, x: Any) -> Any:
            x = x + self.attn(self.ln1(x))
            return x + self.mlp(self.ln2(x))

    class GPT(mod.Module):  # type: ignore[misc, name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.context = context
            self.tok = mod.Embedding(vocab, dim)
            self.pos = mod.Embedding(context, dim)
            self.blocks = mod.Sequential(*[Block() for _ in range(layers)])
            self.ln = mod.LayerNorm(dim)
            self.head = mod.Linear(dim, vocab)

        def forward(self, idx: Any) -> Any:
            T = idx.shape[1]
            pos = self.pos.weight[:T]                       # (T, dim), broadcast over the batch
            return self.head(self.ln(self.blocks(self.tok(idx) + pos)))

    return GPT()


def gpt(vocab: int, **kw: Any) -> nn.Module:
    model: nn.Module = _build(nn, vocab, **kw)
    return model


def torch_gpt(vocab: int, **kw: Any) -> Any:
    import torch

    return _build(torch.nn, vocab, **kw)


def read_text(path: str) -> str:
    """The fortunes under ``path`` (a folder: every plain fortune file, sorted; or one file),
    printable ASCII and newlines only."""
    if os.path.isdir(path):
        names = sorted(n for n in os.listdir(path) if not n.endswith((".dat", ".u8"))
                       and os.path.isfile(os.path.join(path, n)) and not os.path.islink(os.path.join(path, n)))
        if not names:
            raise FileNotFoundError(f"no fortune files in {path}")
        raw = b"".join(Path(path, n).read_bytes() for n in names)
    elif os.path.isfile(path):
        raw = Path(path).read_bytes()
    else:
        raise FileNotFoundError(f"{path} not found: apt-get install fortunes, or pass --data FILE")
    return "".join(c for c in raw.decode("latin-1") if c == "\n" or " " <= c <= "~")


def batches(data: np.ndarray, batch: int, context: int, rng: np.random.Generator) -> Tuple[gc.Tensor, gc.Tensor]:
    """``batch`` random windows of ``context`` characters and the next character of each."""
    start = rng.integers(0, len(data) - context - 1, size=batch)
    win = data[start[:, None] + np.arange(context + 1)]
    return gc.from_numpy(win[:, :-1]), gc.from_numpy(win[:, 1:])


def param_groups(model: nn.Module, weight_decay: float) -> List[Dict[str, Any]]:
    """Decay the matrices (Linear weights), not the biases, LayerNorm gains or embeddings."""
    decay = [p for n, p in model.named_parameters() if p.dim() == 2 and not n.startswith(("tok.", "pos."))]
    ids = {id(p) for p in decay}
    rest = [p for p in model.parameters() if id(p) not in ids]
    return [{"params": decay, "weight_decay": weight_decay}, {"params": rest, "weight_decay": 0.0}]


def loss_of(model: nn.Module, x: gc.Tensor, y: gc.Tensor) -> gc.Tensor:
    logits = model(x)
    return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))


def evaluate(model: nn.Module, data: np.ndarray, batch: int, context: int, iters: int) -> float:
    rng = np.random.default_rng(1234)
    model.eval()
    with gc.no_grad():
        total = sum(loss_of(model, *batches(data, batch, context, rng)).item() for _ in range(iters))
    model.train()
    return total / iters


def sample(model: nn.Module, chars: str, n: int, generator: gc.Generator, context: int) -> str:
    """``n`` characters drawn one at a time (temperature 1) after a newline."""
    idx = gc.tensor([[chars.index("\n")]], dtype=gc.int64)
    model.eval()
    with gc.no_grad():
        for _ in range(n):
            logits = model(idx[:, -context:])[:, -1]
            nxt = gc.multinomial(nn.functional.softmax(logits, dim=-1), 1, generator=generator)
            idx = gc.cat([idx, nxt], dim=1)
    model.train()
    return "".join(chars[i] for i in idx[0, 1:].tolist())


def compare_with_torch(path: str, model: nn.Module, x: gc.Tensor, vocab: int, kw: Dict[str, Any]) -> float:
    """Load the checkpoint into ``torch_gpt`` and run both on ``x``: the largest |logit difference|."""
    import torch
    from safetensors.torch import load_file

    tnet = torch_gpt(vocab, **kw)
    tnet.load_state_dict(load_file(path))
    tnet.eval()
    model.eval()
    with torch.no_grad():
        t = tnet(torch.from_numpy(x.numpy())).numpy()
    with gc.no_grad():
        g = model(x).numpy()
    return float(np.abs(t - g).max())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=FORTUNES_DIR, help="a folder of fortune files, or one text file")
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--context", type=int, default=64)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--eval-every", type=int, default=250)
    ap.add_argument("--sample", type=int, default=300, help="characters to generate at the end")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="gpt.safetensors", help="checkpoint path (safetensors)")
    args = ap.parse_args()

    try:
        text = read_text(args.data)
    except FileNotFoundError as e:
        raise SystemExit(str(e))
    chars = "".join(sorted(set(text)))
    lookup = np.zeros(128, dtype=np.int64)
    lookup[[ord(c) for c in chars]] = np.arange(len(chars))
    data = lookup[np.frombuffer(text.encode("ascii"), dtype=np.uint8)]
    split = int(0.9 * len(data))
    train, val = data[:split], data[split:]
    if len(val) <= args.context + 1:
        raise SystemExit(f"{args.data}: {len(data)} characters is too little text for context {args.context}")
    print(f"{len(text):,} characters, vocabulary {len(chars)}, train {len(train):,}, val {len(val):,}")

    gc.manual_seed(args.seed)
    kw = dict(context=args.context, dim=args.dim, heads=args.heads, layers=args.layers)
    model = gpt(len(chars), **kw)
    print(f"{sum(p.numel() for p in model.parameters()):,} parameters")
    opt = gc.optim.AdamW(param_groups(model, args.weight_decay), lr=args.lr, betas=(0.9, 0.95))

    def schedule(step: int) -> float:
        if step < args.warmup:
            return (step + 1) / args.warmup
        progress = (step - args.warmup) / max(1, args.steps - args.warmup)
        return 0.1 + 0.45 * (1.0 + math.cos(math.pi * min(1.0, progress)))   # cosine from 1 to 0.1

    sched = gc.optim.lr_scheduler.LambdaLR(opt, schedule)
    rng = np.random.default_rng(args.seed)
    eval_iters = 20
    t0, last = time.perf_counter(), 0
    for step in range(1, args.steps + 1):
        x, y = batches(train, args.batch_size, args.context, rng)
        loss = loss_of(model, x, y)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        if step % args.eval_every == 0 or step == args.steps:
            dt = (time.perf_counter() - t0) / (step - last)
            val_loss = evaluate(model, val, args.batch_size, args.context, eval_iters)
            print(f"step {step:5d}  train {loss.item():.3f}  val {val_loss:.3f}  "
                  f"lr {sched.get_last_lr()[0]:.2e}  {1000 * dt:.1f} ms/step", flush=True)
            t0, last = time.perf_counter(), step
    print(f"train loss {evaluate(model, train, args.batch_size, args.context, eval_iters):.3f}  "
          f"val loss {evaluate(model, val, args.batch_size, args.context, eval_iters):.3f}")
    if args.sample:
        print("---- sample ----")
        print(sample(model, chars, args.sample, gc.Generator().manual_seed(args.seed), args.context))
        print("----------------")

    gc.save(model.state_dict(), args.out)
    print(f"saved {args.out}")
    try:
        import torch  # noqa: F401
    except ImportError:
        print("torch not installed: skipped the PyTorch check")
        return
    x, _ = batches(val, 8, args.context, np.random.default_rng(0))
    diff = compare_with_torch(args.out, model, x, len(chars), kw)
    print(f"PyTorch, same checkpoint: max |logit difference| {diff:.2e}")


if __name__ == "__main__":
    main()
