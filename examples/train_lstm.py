"""A character-level LSTM language model on the text of Debian's ``fortunes`` package.

    apt-get install -y fortunes && python examples/train_lstm.py

Reads the plain-text fortune files of /usr/share/games/fortunes (not the *.dat indexes nor
the *.u8 copies), or --data FILE, maps characters to ids, and trains embedding -> 1-layer
nn.LSTM -> Linear with Adam and truncated backpropagation through time on random windows.
Prints the train and validation loss (nats per character) and a sample of generated text.
"""
import argparse
import math
import time
from pathlib import Path
from typing import Any, List

import numpy as np

import gradcore as gc
import gradcore.nn as nn
import gradcore.nn.functional as F

FORTUNES = Path("/usr/share/games/fortunes")


def read_text(data: str) -> str:
    if data:
        return Path(data).read_text(encoding="utf-8", errors="replace")
    if not FORTUNES.is_dir():
        raise SystemExit(f"{FORTUNES} not found: apt-get install -y fortunes, or pass --data FILE")
    files = sorted(p for p in FORTUNES.rglob("*") if p.is_file() and p.suffix not in (".dat", ".u8"))
    return "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in files)


class CharLSTM(nn.Module):
    def __init__(self, vocab: int, embed: int, hidden: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, embed)
        self.lstm = nn.LSTM(embed, hidden, batch_first=True)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, ids: Any, state: Any = None) -> Any:
        out, state = self.lstm(self.embed(ids), state)
        return self.head(out), state


def batch(data: np.ndarray, rng: np.random.Generator, batch_size: int, seq_len: int) -> Any:
    starts = rng.integers(0, len(data) - seq_len - 1, batch_size)
    x = np.stack([data[s:s + seq_len] for s in starts])
    y = np.stack([data[s + 1:s + seq_len + 1] for s in starts])
    return gc.from_numpy(x.astype(np.int64)), gc.from_numpy(y.astype(np.int64))


def sample(model: CharLSTM, chars: List[str], start: str, n: int, rng: np.random.Generator) -> str:
    stoi = {c: i for i, c in enumerate(chars)}
    ids = [stoi.get(c, 0) for c in start]
    out = list(start)
    with gc.no_grad():
        logits, state = model(gc.tensor([ids]))
        for _ in range(n):
            p = F.softmax(logits[0, -1], dim=-1).numpy().astype(np.float64)
            nxt = int(rng.choice(len(chars), p=p / p.sum()))
            out.append(chars[nxt])
            logits, state = model(gc.tensor([[nxt]]), state)
    return "".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="", help="a text file instead of the fortunes")
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--seq-len", type=int, default=64)
    ap.add_argument("--embed", type=int, default=64)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--sample", type=int, default=300, help="characters to generate at the end")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    text = read_text(args.data)
    chars = sorted(set(text))
    stoi = {c: i for i, c in enumerate(chars)}
    data = np.array([stoi[c] for c in text], dtype=np.int64)
    split = int(0.9 * len(data))
    train, val = data[:split], data[split:]
    if len(val) < args.seq_len + 2:
        val = train
    print(f"{len(text)} characters, vocabulary {len(chars)}, train {len(train)}, val {len(val)}")

    gc.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    model = CharLSTM(len(chars), args.embed, args.hidden)
    opt = gc.optim.Adam(model.parameters(), lr=args.lr)
    t0 = time.perf_counter()
    every = max(1, args.steps // 10)
    for step in range(1, args.steps + 1):
        x, y = batch(train, rng, args.batch_size, args.seq_len)
        logits, _ = model(x)
        loss = F.cross_entropy(logits.reshape(-1, len(chars)), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % every == 0 or step == args.steps:
            with gc.no_grad():
                vx, vy = batch(val, rng, args.batch_size, args.seq_len)
                vlogits, _ = model(vx)
                vloss = F.cross_entropy(vlogits.reshape(-1, len(chars)), vy.reshape(-1))
            print(f"step {step:5d}  train loss {float(loss):.3f}  val loss {float(vloss):.3f}  "
                  f"({time.perf_counter() - t0:.1f} s)")
            assert math.isfinite(float(loss))
    print("sample:")
    print(sample(model, chars, text[:1] or " ", args.sample, rng))


if __name__ == "__main__":
    main()
