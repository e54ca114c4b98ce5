"""makemore: a character-level MLP language model (Bengio et al. 2003) on an English word list.

    sudo apt-get install -y wamerican      # /usr/share/dict/american-english
    python examples/makemore.py [--data FILE] [--steps N] [--seed S]

Each word, lowercased (only words of the letters a-z kept), is read as '...word.' : the model
predicts every next character from the 3 before it. The 27 characters (a-z and '.', which
starts and ends a word) are embedded in 10 dims (nn.Embedding), the 3 embeddings
concatenated into a 200-unit tanh layer, then a softmax over the 27 characters
(F.cross_entropy). Words are split 80/10/10 into train/dev/test with a fixed seed; minibatch
Adam with a step decay of the learning rate. Prints the train and dev loss at intervals, the
time per step, the final losses and words sampled from the model (gc.multinomial with a
seeded gc.Generator).
"""
import argparse
import math
import random
import time
from typing import List, Tuple

import gradcore as gc
import gradcore.nn as nn
import gradcore.nn.functional as F

BLOCK = 3  # characters of context


def load_words(path: str) -> List[str]:
    with open(path, encoding="utf-8", errors="ignore") as f:
        words = {w.strip().lower() for w in f}
    return sorted(w for w in words if w and all("a" <= c <= "z" for c in w))


def build(words: List[str], stoi: dict) -> Tuple[gc.Tensor, gc.Tensor]:
    xs, ys = [], []
    for w in words:
        ctx = [0] * BLOCK
        for ch in w + ".":
            ix = stoi[ch]
            xs.append(ctx)
            ys.append(ix)
            ctx = ctx[1:] + [ix]
    return gc.tensor(xs, dtype=gc.int64), gc.tensor(ys, dtype=gc.int64)


class MLP(nn.Module):
    def __init__(self, vocab: int, n_embd: int = 10, n_hidden: int = 200) -> None:
        super().__init__()
        self.emb = nn.Embedding(vocab, n_embd)
        self.hidden = nn.Linear(BLOCK * n_embd, n_hidden)
        self.out = nn.Linear(n_hidden, vocab)

    def forward(self, x: gc.Tensor) -> gc.Tensor:
        e = self.emb(x)                                   # (B, 3, 10)
        h = gc.tanh(self.hidden(e.view(e.shape[0], -1)))  # (B, 200)
        return self.out(h)                                # (B, 27) logits


@gc.no_grad()
def split_loss(model: MLP, X: gc.Tensor, Y: gc.Tensor, chunk: int = 65536) -> float:
    total, n = 0.0, X.shape[0]
    for i in range(0, n, chunk):
        xb, yb = X[i:i + chunk], Y[i:i + chunk]
        total += F.cross_entropy(model(xb), yb, reduction="sum").item()
    return total / max(n, 1)


@gc.no_grad()
def sample(model: MLP, itos: dict, g: gc.Generator, n: int, max_len: int = 30) -> List[str]:
    words = []
    for _ in range(n):
        ctx, out = [0] * BLOCK, []
        for _ in range(max_len):
            probs = F.softmax(model(gc.tensor([ctx])), dim=1)
            ix = gc.multinomial(probs[0], num_samples=1, generator=g).item()
            if ix == 0:
                break
            out.append(itos[ix])
            ctx = ctx[1:] + [ix]
        words.append("".join(out))
    return words


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="/usr/share/dict/american-english", help="word list, one word a line")
    ap.add_argument("--steps", type=int, default=30000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--lr", type=float, default=1e-2)
    ap.add_argument("--eval-every", type=int, default=0, help="steps between loss reports (default: steps / 10)")
    ap.add_argument("--samples", type=int, default=10)
    args = ap.parse_args()

    try:
        words = load_words(args.data)
    except FileNotFoundError:
        raise SystemExit(f"no word list at {args.data}: sudo apt-get install -y wamerican, or pass --data FILE")
    random.Random(args.seed).shuffle(words)
    chars = sorted(set("".join(words)))
    stoi = {c: i + 1 for i, c in enumerate(chars)}
    stoi["."] = 0
    itos = {i: c for c, i in stoi.items()}
    n1, n2 = int(0.8 * len(words)), int(0.9 * len(words))
    Xtr, Ytr = build(words[:n1], stoi)
    Xdev, Ydev = build(words[n1:n2], stoi)
    Xte, Yte = build(words[n2:], stoi)
    print(f"{len(words)} words, {len(stoi)} characters; examples train {Xtr.shape[0]}, dev {Xdev.shape[0]}, "
          f"test {Xte.shape[0]}")

    gc.manual_seed(args.seed)
    model = MLP(len(stoi))
    print(f"{sum(p.numel() for p in model.parameters())} parameters")
    opt = gc.optim.Adam(model.parameters(), lr=args.lr)
    # step decay: the learning rate divided by 10 after half and again after 80 % of the steps
    milestones = [args.steps // 2, int(args.steps * 0.8)]
    sched = gc.optim.lr_scheduler.MultiStepLR(opt, milestones=milestones, gamma=0.1)
    g = gc.Generator().manual_seed(args.seed)
    every = args.eval_every or max(args.steps // 10, 1)
    ntr = Xtr.shape[0]
    t0 = time.perf_counter()
    running, seen = 0.0, 0
    for step in range(1, args.steps + 1):
        ix = gc.randint(0, ntr, (args.batch_size,), generator=g)
        loss = F.cross_entropy(model(Xtr[ix]), Ytr[ix])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        running += loss.item()
        seen += 1
        if step % every == 0 or step == args.steps:
            dt = (time.perf_counter() - t0) / step * 1e3
            dev = split_loss(model, Xdev, Ydev)
            print(f"step {step:6d}  lr {opt.param_groups[0]['lr']:.0e}  train (batches) {running / seen:.4f}  "
                  f"dev {dev:.4f}  {dt:.3f} ms/step", flush=True)
            running, seen = 0.0, 0
    elapsed = time.perf_counter() - t0
    print(f"trained {args.steps} steps in {elapsed:.1f} s ({elapsed / max(args.steps, 1) * 1e3:.3f} ms/step, "
          f"{elapsed / max(args.steps * args.batch_size / max(ntr, 1), 1e-9):.1f} s/epoch)")
    tr, dev, te = split_loss(model, Xtr, Ytr), split_loss(model, Xdev, Ydev), split_loss(model, Xte, Yte)
    print(f"final loss (nats/char): train {tr:.4f}  dev {dev:.4f}  test {te:.4f}  "
          f"(uniform: {math.log(len(stoi)):.4f})")
    print("samples:")
    for w in sample(model, itos, g, args.samples):
        print("  " + w)


if __name__ == "__main__":
    main()
