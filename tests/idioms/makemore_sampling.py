"""makemore-style bigram character model: counts -> probabilities -> torch.multinomial sampling
with a seeded torch.Generator, then the same model trained by gradient descent with an embedding
lookup W[ix] (no one_hot). gradcore's random stream is not torch's, so the sampled names are not
returned: only stream-independent results are (the counts, the losses, and checks that sampling
is reproducible for a seed, draws only known characters, and matches the probabilities)."""
import torch
import torch.nn.functional as F

WORDS = ["emma", "olivia", "ava", "isabella", "sophia", "charlotte", "mia", "amelia", "harper", "evelyn",
         "abigail", "emily", "elizabeth", "mila", "ella", "avery", "sofia", "camila", "aria", "scarlett",
         "victoria", "madison", "luna", "grace", "chloe", "penelope", "layla", "riley", "zoey", "nora"]


def sample(P, itos, g, n):
    names = []
    for _ in range(n):
        ix, out = 0, []
        while True:
            ix = torch.multinomial(P[ix], num_samples=1, replacement=True, generator=g).item()
            if ix == 0:
                break
            out.append(itos[ix])
        names.append("".join(out))
    return names


def main():
    chars = sorted(set("".join(WORDS)))
    stoi = {s: i + 1 for i, s in enumerate(chars)}
    stoi["."] = 0
    itos = {i: s for s, i in stoi.items()}
    V = len(stoi)
    N = torch.zeros((V, V), dtype=torch.int32)
    xs, ys = [], []
    for w in WORDS:
        cs = ["."] + list(w) + ["."]
        for a, b in zip(cs, cs[1:]):
            N[stoi[a], stoi[b]] += 1
            xs.append(stoi[a])
            ys.append(stoi[b])
    P = (N + 1).float()
    P /= P.sum(1, keepdim=True)
    xs, ys = torch.tensor(xs), torch.tensor(ys)
    nll = -P[xs, ys].log().mean()

    g = torch.Generator().manual_seed(2147483647)
    names = sample(P, itos, g, 20)
    repro = sample(P, itos, torch.Generator().manual_seed(2147483647), 20) == names
    known = all(c in stoi for name in names for c in name)
    draws = torch.multinomial(P[0], 20000, replacement=True, generator=g)
    freq = torch.bincount(draws, minlength=V).float() / 20000
    freq_ok = (freq - P[0]).abs().max().item() < 0.02

    # The same bigram model as a single layer trained by gradient descent: logits = W[ix].
    W = torch.zeros((V, V), requires_grad=True)
    losses = []
    for _ in range(40):
        logits = W[xs]
        counts = logits.exp()
        probs = counts / counts.sum(1, keepdim=True)
        loss = -probs[torch.arange(len(xs)), ys].log().mean() + 0.01 * (W ** 2).mean()
        W.grad = None
        loss.backward()
        with torch.no_grad():
            W -= 50 * W.grad
        losses.append(loss.item())
    gt = torch.Generator().manual_seed(2147483647)
    trained = []
    for _ in range(5):
        ix, out = 0, []
        while True:
            p = F.softmax(W[ix].detach(), dim=0)
            ix = torch.multinomial(p, 1, replacement=True, generator=gt).item()
            if ix == 0:
                break
            out.append(itos[ix])
        trained.append("".join(out))
    return {"total": N.sum().item(), "row0": N[0].tolist(), "nll": nll.item(), "losses": losses[::8],
            "repro": repro, "known": known, "freq_ok": freq_ok, "n_names": len(names),
            "trained_known": all(c in stoi for name in trained for c in name),
            "learned": losses[-1] < losses[0] - 0.5}
