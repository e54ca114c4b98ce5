"""``gradcore-bench``: gradcore against its peers, side by side in one run, as ratios.

    gradcore-bench peak|gemm|mlp-step|tiny-step|op-overhead|elementwise|unary|indexing|matmul-batched|epoch|conv|cnn-step|gpt-step|lstm-step|attention|ddp|all
                   [--threads N] [--batch B ...] [--repeat R] [--json PATH]

Each workload is timed for gradcore and for every available peer (NumPy always; PyTorch,
``torch.compile``, ``jax.jit`` and micrograd when installed) on the same data and thread
count, interleaved; the table shows the median time (min-max) and the ratio peer / gradcore
(> 1: gradcore is faster). A peer that cannot be imported or fails to compile is skipped
with a note (``"skipped": {peer: reason}`` in the JSON row). With ``--threads N`` the
process pins itself (every thread) to the first N CPUs it may run on before any peer
starts its thread pool, and sets ``XLA_FLAGS`` for jax; the header records the CPUs.
``peak`` measures the machine's FMA peak (per ISA, on 1 and N threads) and the STREAM
triad bandwidth; every GFLOP/s figure of a run is also shown as a fraction of the FMA peak
of the ISA in use on the run's thread count (the "peak" column).
Run it under ``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE`` so NumPy uses its best
kernel; the header says which BLAS kernel each peer used.
"""
from __future__ import annotations

import argparse
import functools
import importlib.metadata
import json
import os
import platform
import re
import statistics
import sys
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

import gradcore as gc

Timer = Callable[[], object]  # a timed call; its result is discarded


def _progress(msg: str) -> None:
    if sys.stderr.isatty():
        sys.stderr.write("\r\033[K" + msg)
        sys.stderr.flush()
    else:
        sys.stderr.write(msg + "\n")


def _measure(fns: Dict[str, Timer], repeat: int, min_time: float = 0.2) -> Dict[str, List[float]]:
    """Interleaved samples: each round times every contender once (>= min_time each)."""
    for f in fns.values():  # warm-up
        f()
    loops: Dict[str, int] = {}
    for name, f in fns.items():
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < min_time / 4 or n == 0:
            f()
            n += 1
        per = (time.perf_counter() - t0) / n
        loops[name] = max(1, int(min_time / max(per, 1e-9)))
    samples: Dict[str, List[float]] = {k: [] for k in fns}
    for _ in range(repeat):
        for name, f in fns.items():
            n = loops[name]
            t0 = time.perf_counter()
            for _ in range(n):
                f()
            samples[name].append((time.perf_counter() - t0) / n)
    return samples


def _torch() -> Any:
    try:
        import torch

        return torch
    except ImportError:
        return None


def _micrograd() -> Any:
    try:
        import micrograd.engine  # noqa: F401
        import micrograd.nn

        return micrograd
    except ImportError:
        return None


# ---- pinning: every contender on the same cores -------------------------------------------
def pin_threads(n: int) -> List[int]:
    """Pin this process (every thread it has now; threads started later inherit the mask) to
    the first ``n`` CPUs of the set it may run on, and return them. Done before jax starts
    XLA's thread pool, which is sized from the affinity mask. Without
    ``os.sched_setaffinity`` (not Linux) nothing is pinned and the allowed set is returned."""
    if not hasattr(os, "sched_setaffinity"):
        return sorted(range(os.cpu_count() or 1))
    cpus = sorted(os.sched_getaffinity(0))[:n]
    try:
        tids = [int(t) for t in os.listdir("/proc/self/task")]
    except OSError:
        tids = [0]
    for tid in tids:
        try:
            os.sched_setaffinity(tid, cpus)
        except OSError:  # a thread that ended meanwhile
            pass
    return cpus


def xla_flags(threads: int, existing: str = "") -> str:
    """``XLA_FLAGS`` for ``threads`` intra-op threads: ``existing`` plus, on one thread,
    ``--xla_cpu_multi_thread_eigen=false`` (Eigen's dot/conv single-threaded). XLA CPU
    (jaxlib 0.10) has no thread-count flag: its intra-op pool is sized from the affinity mask,
    so pin_threads is what holds jax to N cores. The often-quoted bare
    ``intra_op_parallelism_threads=1`` is no XLA flag: ignored after a ``--`` flag, taken for
    a flag file (fatal) on its own, and ``--intra_op_parallelism_threads`` is fatal."""
    flags = "--xla_cpu_multi_thread_eigen=false" if threads == 1 else ""
    return " ".join(f for f in (existing.strip(), flags) if f)


def _affinity() -> Optional[List[int]]:
    return sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None


def cpu_model(cpuinfo: Optional[str] = None) -> Dict[str, Any]:
    """Model name, family and model number of the first CPU in ``/proc/cpuinfo`` (or the
    given text); the keys present are those found."""
    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo") as f:
                cpuinfo = f.read()
        except OSError:
            cpuinfo = ""
    found: Dict[str, Any] = {}
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if not line.strip() and found:
            break  # end of the first processor block
        if key == "model name":
            found["cpu"] = value
        elif key == "cpu family" and value.isdigit():
            found["cpu_family"] = int(value)
        elif key == "model" and value.isdigit():
            found["cpu_model"] = int(value)
    return found


def cpu_slug(cpuinfo: Optional[str] = None) -> str:
    """A file-name-safe name for this CPU: the model name's words, lower case, then family and
    model number (``AMD EPYC`` family 25 model 17: ``amd-epyc-f25m17``), so machines whose
    model names are the same get different result files."""
    info = cpu_model(cpuinfo)
    slug = re.sub(r"[^a-z0-9]+", "-", info.get("cpu", platform.machine() or "cpu").lower()).strip("-") or "cpu"
    if "cpu_family" in info:
        slug += f"-f{info['cpu_family']}m{info.get('cpu_model', 0)}"
    return slug


# ---- compiled peers: jax.jit (XLA) and torch.compile (inductor) ------------------------------
def _jax() -> Any:
    """jax, imported on first use: after main() pinned the process and set XLA_FLAGS.
    ImportError when it is not installed (the peer is then skipped)."""
    import jax

    return jax


def _skip_reason(e: BaseException) -> str:
    msg = str(e).strip().splitlines()
    return f"{type(e).__name__}: {msg[0][:160]}" if msg else type(e).__name__


def _add_peer(fns: Dict[str, Timer], skipped: Dict[str, str], name: str, make: Callable[[], Timer]) -> None:
    """``fns[name] = make()`` after one untimed call (it compiles: compile time stays out of
    the timing); if importing, building or compiling fails, ``skipped[name]`` gets the
    reason instead and the run goes on."""
    try:
        f = make()
        f()
    except Exception as e:  # ImportError, or whatever the compiler raises
        skipped[name] = _skip_reason(e)
        _progress(f"{name} skipped: {skipped[name]}")
        return
    fns[name] = f


def _jax_matmul(A: np.ndarray, B: np.ndarray, ta: bool, tb: bool) -> Timer:
    """A jitted float32 matmul of op(A) op(B) (the transposes inside the jitted function)."""
    jax = _jax()
    mm = jax.jit(lambda a, b: (a.T if ta else a) @ (b.T if tb else b))
    a, b = jax.device_put(A), jax.device_put(B)
    return lambda: mm(a, b).block_until_ready()


def _linear_weights(model: Any) -> List[Tuple[np.ndarray, np.ndarray]]:
    """(W, b) of each Linear of a gradcore Sequential, copied to NumPy (W is (out, in))."""
    ps = [np.array(p.detach().numpy()) for p in model.parameters()]
    return list(zip(ps[0::2], ps[1::2]))


def _jax_step(weights: Sequence[Tuple[np.ndarray, np.ndarray]], act: str, loss: str, optimizer: str, lr: float,
              X: np.ndarray, Y: np.ndarray) -> Timer:
    """The training step a JAX user writes: a pure ``step(params, opt_state, x, y) -> (params,
    opt_state, loss)`` built on ``jax.value_and_grad``, under ``jax.jit`` with params and
    optimizer state donated (updated in place); f32. The MLP is gradcore's (same initial
    weights, ``act`` between the Linears), ``loss`` is "cross_entropy" (integer labels) or
    "mse", ``optimizer`` "adam" (PyTorch's defaults) or "sgd"."""
    jax = _jax()
    jnp, tree_map = jax.numpy, jax.tree_util.tree_map
    activation = {"relu": jax.nn.relu, "tanh": jnp.tanh}[act]

    def loss_fn(params: Any, x: Any, y: Any) -> Any:
        for i, (W, b) in enumerate(params):
            x = x @ W.T + b
            if i < len(params) - 1:
                x = activation(x)
        if loss == "cross_entropy":
            return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(x), y[:, None], axis=1))
        return jnp.mean((x - y) ** 2)

    def update(params: Any, state: Any, grads: Any) -> Tuple[Any, Any]:
        if optimizer == "sgd":
            return tree_map(lambda p, g: p - lr * g, params, grads), state
        t, m, v = state
        t = t + 1
        m = tree_map(lambda m, g: 0.9 * m + 0.1 * g, m, grads)
        v = tree_map(lambda v, g: 0.999 * v + 0.001 * g * g, v, grads)
        step_size = lr / (1 - 0.9 ** t)
        bc2 = 1 - 0.999 ** t
        params = tree_map(lambda p, m, v: p - step_size * m / (jnp.sqrt(v / bc2) + 1e-8), params, m, v)
        return params, (t, m, v)

    @functools.partial(jax.jit, donate_argnums=(0, 1))
    def step(params: Any, state: Any, x: Any, y: Any) -> Any:
        value, grads = jax.value_and_grad(loss_fn)(params, x, y)
        params, state = update(params, state, grads)
        return params, state, value

    params = [(jnp.asarray(W), jnp.asarray(b)) for W, b in weights]
    state = (jnp.zeros((), jnp.float32), tree_map(jnp.zeros_like, params), tree_map(jnp.zeros_like, params))
    carry: List[Any] = [params, state if optimizer == "adam" else ()]
    x, y = jax.device_put(X), jax.device_put(Y)

    def run() -> None:
        carry[0], carry[1], value = step(carry[0], carry[1], x, y)
        value.block_until_ready()

    return run


def _torch_step(torch: Any, sizes: Sequence[int], act: str, loss: str, make_opt: Callable[[Any], Any],
                X: np.ndarray, Y: np.ndarray) -> Callable[[], None]:
    """A PyTorch MLP (``sizes``, ``act`` between the Linears), its optimizer and the eager
    training step a user writes: zero_grad, forward, loss, backward, step."""
    layers: List[Any] = []
    for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
        layers += [torch.nn.Linear(n_in, n_out)] + ([{"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh}[act]()]
                                                     if i < len(sizes) - 2 else [])
    model = torch.nn.Sequential(*layers)
    opt = make_opt(model.parameters())
    loss_fn = {"cross_entropy": torch.nn.functional.cross_entropy, "mse": torch.nn.functional.mse_loss}[loss]
    tx, ty = torch.from_numpy(X), torch.from_numpy(Y)

    def step() -> None:
        opt.zero_grad()
        loss_fn(model(tx), ty).backward()
        opt.step()

    return step


def _torch_compiled(sizes: Sequence[int], act: str, loss: str, make_opt: Callable[[Any], Any],
                    X: np.ndarray, Y: np.ndarray) -> Timer:
    """The eager peer's training step under ``torch.compile`` (inductor): what PyTorch's docs
    suggest for a training step, compiling the whole step function rather than only the model.
    Dynamo breaks the graph at ``zero_grad()`` and ``backward()`` (torch 2.13: two graphs):
    forward + loss (with its AOTAutograd backward) and the optimizer step each become inductor
    code. ImportError without torch."""
    return _compile_step(lambda: _torch_step(_torch(), sizes, act, loss, make_opt, X, Y))


def _row(workload: str, case: str, samples: Dict[str, List[float]], unit: str = "ms",
         flops: Optional[float] = None, skipped: Optional[Dict[str, str]] = None) -> Dict[str, Any]:
    scale = 1e3 if unit == "ms" else 1e6
    med = {k: statistics.median(v) for k, v in samples.items()}
    row: Dict[str, Any] = {"workload": workload, "case": case, "unit": unit, "results": {}}
    if skipped:
        row["skipped"] = dict(skipped)
    for k, v in samples.items():
        r = {"median": med[k] * scale, "min": min(v) * scale, "max": max(v) * scale}
        if k != "gradcore" and "gradcore" in med:
            r["ratio"] = med[k] / med["gradcore"]
        if flops:
            r["gflops"] = flops / med[k] / 1e9
        row["results"][k] = r
    return row


# ---- workloads ----------------------------------------------------------------------
GEMM_SHAPES = [(64, 64, 64), (128, 128, 128), (256, 256, 256), (512, 512, 512), (1024, 1024, 1024),
               (2048, 2048, 2048), (128, 784, 512), (128, 512, 256), (128, 256, 10), (512, 784, 512)]


def bench_gemm(args: argparse.Namespace) -> List[Dict[str, Any]]:
    """float32 GEMM at MLP-typical and square shapes (and the two backward layouts), with GFLOP/s."""
    torch = _torch()
    rows = []
    rng = np.random.default_rng(0)
    shapes = [(M, K, N, False, False) for M, K, N in GEMM_SHAPES]
    shapes += [(784, 128, 512, True, False), (128, 512, 784, False, True)]  # dW = X^T dY, dX = dY W^T
    for M, K, N, ta, tb in shapes:
        if M * N * K > 2048 ** 3 // 2 and args.quick:
            continue
        _progress(f"gemm {M}x{K}x{N}")
        A = rng.standard_normal((K, M) if ta else (M, K)).astype(np.float32)
        B = rng.standard_normal((N, K) if tb else (K, N)).astype(np.float32)
        ga, gb = gc.from_numpy(A), gc.from_numpy(B)
        An, Bn = (A.T if ta else A), (B.T if tb else B)
        fns: Dict[str, Timer] = {"gradcore": lambda: gc.mm(ga, gb, trans_a=ta, trans_b=tb),
                                 "numpy": lambda: np.matmul(An, Bn)}
        if torch is not None:
            tA, tB = torch.from_numpy(A), torch.from_numpy(B)
            tAo, tBo = (tA.T if ta else tA), (tB.T if tb else tB)
            fns["torch"] = lambda: torch.mm(tAo, tBo)
        skipped: Dict[str, str] = {}
        _add_peer(fns, skipped, "jax.jit", lambda: _jax_matmul(A, B, ta, tb))
        name = f"({M},{K},{N})" + (" A^T" if ta else "") + (" B^T" if tb else "")
        rows.append(_row("gemm", name, _measure(fns, args.repeat), "ms", 2.0 * M * N * K, skipped))
    return rows


def _mlp_numpy(batch: int, rng: np.random.Generator) -> Timer:
    """A from-scratch NumPy MLP 784-512-256-10 with explicit backward and Adam."""
    sizes = [784, 512, 256, 10]
    Ws = [rng.standard_normal((i, o)).astype(np.float32) * np.float32(1 / np.sqrt(i)) for i, o in zip(sizes, sizes[1:])]
    bs = [np.zeros(o, np.float32) for o in sizes[1:]]
    params = Ws + bs
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    X = rng.standard_normal((batch, 784)).astype(np.float32)
    y = rng.integers(0, 10, batch)
    t = [0]

    def step() -> None:
        hs = [X]
        for i, (W, b) in enumerate(zip(Ws, bs)):
            z = hs[-1] @ W + b
            hs.append(np.maximum(z, 0) if i < 2 else z)
        z = hs[-1]
        p = np.exp(z - z.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        p[np.arange(batch), y] -= 1
        d = p / batch
        grads_W: List[Any] = [None] * 3
        grads_b: List[Any] = [None] * 3
        for i in (2, 1, 0):
            grads_W[i] = hs[i].T @ d
            grads_b[i] = d.sum(0)
            if i:
                d = (d @ Ws[i].T) * (hs[i] > 0)
        t[0] += 1
        bc1, bc2 = 1 - 0.9 ** t[0], 1 - 0.999 ** t[0]
        for k, g in enumerate(grads_W + grads_b):
            m[k] *= 0.9
            m[k] += 0.1 * g
            v[k] *= 0.999
            v[k] += 0.001 * g * g
            params[k] -= (1e-3 / bc1) * m[k] / (np.sqrt(v[k] / bc2) + 1e-8)

    return step


def bench_mlp_step(args: argparse.Namespace) -> List[Dict[str, Any]]:
    """One Adam training step of a 784-512-256-10 MLP per batch size."""
    torch = _torch()
    rows = []
    for batch in args.batch or [1, 16, 128, 512]:
        _progress(f"mlp-step batch {batch}")
        rng = np.random.default_rng(0)
        X = rng.standard_normal((batch, 784)).astype(np.float32)
        y = rng.integers(0, 10, batch)
        gc.manual_seed(0)
        model = gc.nn.Sequential(gc.nn.Linear(784, 512), gc.nn.ReLU(), gc.nn.Linear(512, 256), gc.nn.ReLU(),
                                 gc.nn.Linear(256, 10))
        opt = gc.optim.Adam(model.parameters(), lr=1e-3)
        gx = gc.from_numpy(X)

        def gc_step() -> None:
            opt.zero_grad()
            loss = gc.nn.functional.cross_entropy(model(gx), y)
            loss.backward()
            opt.step()

        fns: Dict[str, Timer] = {"gradcore": gc_step, "numpy": _mlp_numpy(batch, rng)}
        sizes = [784, 512, 256, 10]
        if torch is not None:
            for name, fused in (("torch", False), ("torch-fused", True)):
                fns[name] = _torch_step(torch, sizes, "relu", "cross_entropy",
                                        functools.partial(torch.optim.Adam, lr=1e-3, fused=fused), X, y)
        skipped: Dict[str, str] = {}
        _add_peer(fns, skipped, "torch.compile", lambda: _torch_compiled(
            sizes, "relu", "cross_entropy", lambda ps: _torch().optim.Adam(ps, lr=1e-3), X, y))
        _add_peer(fns, skipped, "jax.jit",
                  lambda: _jax_step(_linear_weights(model), "relu", "cross_entropy", "adam", 1e-3, X, y))
        flops = 6.0 * batch * (784 * 512 + 512 * 256 + 256 * 10)
        rows.append(_row("mlp-step", f"batch {batch}", _measure(fns, args.repeat), "ms", flops, skipped))
    return rows


def bench_tiny_step(args: argparse.Namespace) -> List[Dict[str, Any]]:
    """One SGD step of a tiny 2-16-16-1 MLP (per-op overhead dominates; micrograd joins when installed)."""
    torch, mg = _torch(), _micrograd()
    rows = []
    for batch in args.batch or [1, 32]:
        _progress(f"tiny-step batch {batch}")
        rng = np.random.default_rng(0)
        X = rng.standard_normal((batch, 2)).astype(np.float32)
        Y = rng.standard_normal((batch, 1)).astype(np.float32)
        model = gc.nn.Sequential(gc.nn.Linear(2, 16), gc.nn.Tanh(), gc.nn.Linear(16, 16), gc.nn.Tanh(),
                                 gc.nn.Linear(16, 1))
        opt = gc.optim.SGD(model.parameters(), lr=1e-2)
        gx, gy = gc.from_numpy(X), gc.from_numpy(Y)

        def gc_step() -> None:
            opt.zero_grad()
            gc.nn.functional.mse_loss(model(gx), gy).backward()
            opt.step()

        fns: Dict[str, Timer] = {"gradcore": gc_step}
        sizes = [2, 16, 16, 1]
        if torch is not None:
            fns["torch"] = _torch_step(torch, sizes, "tanh", "mse", functools.partial(torch.optim.SGD, lr=1e-2), X, Y)
        skipped: Dict[str, str] = {}
        _add_peer(fns, skipped, "torch.compile", lambda: _torch_compiled(
            sizes, "tanh", "mse", lambda ps: _torch().optim.SGD(ps, lr=1e-2), X, Y))
        _add_peer(fns, skipped, "jax.jit", lambda: _jax_step(_linear_weights(model), "tanh", "mse", "sgd", 1e-2, X, Y))
        if mg is not None:
            from micrograd.nn import MLP

            net = MLP(2, [16, 16, 1])
            xs = [[float(v) for v in row] for row in X]
            ys = [float(v) for v in Y[:, 0]]

            def mg_step() -> None:
                net.zero_grad()
                loss = sum((net(x) - t) ** 2 for x, t in zip(xs, ys)) * (1.0 / len(xs))
                loss.backward()
                for p in net.parameters():
                    p.data -= 1e-2 * p.grad

            fns["micrograd"] = mg_step
        rows.append(_row("tiny-step", f"batch {batch}", _measure(fns, args.repeat), "ms", skipped=skipped))
    return rows


def bench_op_overhead(args: argparse.Namespace) -> List[Dict[str, Any]]:
    """Fixed cost of one op on 1-element tensors, with and without autograd, and a tiny graph."""
    torch = _torch()
    rows = []
    _progress("op-overhead")
    a, b = gc.ones(1), gc.ones(1)
    ag, bg = gc.ones(1, requires_grad=True), gc.ones(1, requires_grad=True)
    na, nb = np.ones(1, np.float32), np.ones(1, np.float32)
    fns: Dict[str, Timer] = {"gradcore": lambda: a + b, "numpy": lambda: na + nb}
    fns_g: Dict[str, Timer] = {"gradcore": lambda: ag + bg}
    w, x = gc.ones(1, requires_grad=True), gc.ones(1)

    def gc_graph() -> None:
        ((x * w + w).tanh() * w).sum().backward()

    fns_graph: Dict[str, Timer] = {"gradcore": gc_graph}
    if torch is not None:
        ta, tb = torch.ones(1), torch.ones(1)
        tag, tbg = torch.ones(1, requires_grad=True), torch.ones(1, requires_grad=True)
        fns["torch"] = lambda: ta + tb
        fns_g["torch"] = lambda: tag + tbg
        tw, tx = torch.ones(1, requires_grad=True), torch.ones(1)
        fns_graph["torch"] = lambda: ((tx * tw + tw).tanh() * tw).sum().backward()
    rows.append(_row("op-overhead", "a + b", _measure(fns, args.repeat), "us"))
    rows.append(_row("op-overhead", "a + b (requires_grad)", _measure(fns_g, args.repeat), "us"))
    rows.append(_row("op-overhead", "4-op graph fwd+bwd", _measure(fns_graph, args.repeat), "us"))
    return rows


def bench_elementwise(args: argparse.Namespace) -> List[Dict[str, Any]]:
    """relu, add, exp, a comparison and where over 16 Mi float32 elements, with effective
    memory bandwidth."""
    torch = _torch()
    rows = []
    n = 16 * 1024 * 1024
    rng = np.random.default_rng(0)
    xa = rng.standard_normal(n).astype(np.float32)
    xb = rng.standard_normal(n).astype(np.float32)
    ca = xa > xb
    ga, gb, gcond = gc.from_numpy(xa), gc.from_numpy(xb), gc.from_numpy(ca)
    for name, gfn, nfn, tfn, nbytes in (
        ("relu", lambda: ga.relu(), lambda: np.maximum(xa, 0), "relu", 8),
        ("add", lambda: ga + gb, lambda: xa + xb, "add", 12),
        ("exp", lambda: ga.exp(), lambda: np.exp(xa), "exp", 8),
        ("x<y", lambda: ga < gb, lambda: xa < xb, "lt", 9),
        ("where", lambda: gc.where(gcond, ga, gb), lambda: np.where(ca, xa, xb), "where", 13),
    ):
        _progress(f"elementwise {name}")
        fns: Dict[str, Timer] = {"gradcore": gfn, "numpy": nfn}
        if torch is not None:
            ta, tb, tc = torch.from_numpy(xa), torch.from_numpy(xb), torch.from_numpy(ca)
            fns["torch"] = {"relu": lambda: torch.relu(ta), "add": lambda: ta + tb, "exp": lambda: torch.exp(ta),
                            "lt": lambda: ta < tb, "where": lambda: torch.where(tc, ta, tb)}[tfn]
        row = _row("elementwise", f"{name} 16Mi", _measure(fns, args.repeat), "ms")
        for k, r in row["results"].items():
            r["GB/s"] = nbytes * n / (r["median"] / 1e3) / 1e9
        rows.append(row)
    return rows


# The unary kernels of the issue-12 table: (name, gradcore, NumPy (None: NumPy has none), torch).
_UNARY_CASES: List[Tuple[str, Callable[[Any], Any], Optional[Callable[[np.ndarray], Any]], Callable[[Any, Any], Any]]] = [
    ("exp", lambda t: t.exp(), np.exp, lambda th, t: th.exp(t)),
    ("log", lambda t: t.log(), np.log, lambda th, t: th.log(t)),
    ("log1p", lambda t: t.log1p(), np.log1p, lambda th, t: th.log1p(t)),
    ("tanh", lambda t: t.tanh(), np.tanh, lambda th, t: th.tanh(t)),
    ("sigmoid", lambda t: t.sigmoid(), lambda a: 1 / (1 + np.exp(-a)), lambda th, t: th.sigmoid(t)),
    ("erf", lambda t: t.erf(), None, lambda th, t: th.erf(t)),
    ("gelu", lambda t: gc.nn.functional.gelu(t), None, lambda th, t: th.nn.functional.gelu(t)),
    ("silu", lambda t: gc.nn.functional.silu(t), lambda a: a / (1 + np.exp(-a)), lambda th, t: th.nn.functional.silu(t)),
    ("softplus", lambda t: gc.nn.functional.softplus(t), lambda a: np.logaddexp(0, a),
     lambda th, t: th.nn.functional.softplus(t)),
    ("sin", lambda t: t.sin(), np.sin, lambda th, t: th.sin(t)),
    ("cos", lambda t: t.cos(), np.cos, lambda th, t: th.cos(t)),
]


def bench_unary(args: argparse.Namespace) -> List[Dict[str, Any]]:
    """The vectorised unary kernels (exp log log1p tanh sigmoid erf gelu silu softplus sin cos)
    over 16 Mi and 256x784 float32 elements, against NumPy (where it has the function, else
    its usual composition) and torch, with the elements per nanosecond."""
    torch = _torch()
    rows = []
    rng = np.random.default_rng(0)
    for shape, label in (((16 * 1024 * 1024,), "16Mi"), ((256, 784), "256x784")):
        xa = rng.uniform(0.01, 4.0, shape).astype(np.float32)  # positive: log/log1p defined
        ga = gc.from_numpy(xa)
        ta = torch.from_numpy(xa) if torch is not None else None
        for name, gfn, nfn, tfn in _UNARY_CASES:
            _progress(f"unary {name} {label}")
            fns: Dict[str, Timer] = {"gradcore": (lambda f: lambda: f(ga))(gfn)}
            if nfn is not None:
                fns["numpy"] = (lambda f: lambda: f(xa))(nfn)
            if torch is not None:
                fns["torch"] = (lambda f: lambda: f(torch, ta))(tfn)
            row = _row("unary", f"{name} {label}", _measure(fns, args.repeat), "ms")
            for r in row["results"].values():
                r["GB/s"] = 8 * xa.size / (r["median"] / 1e3) / 1e9
            rows.append(row)
    return rows


def bench_indexing(args: argparse.Namespace) -> List[Dict[str, Any]]:
    """Gathers and scatters over x (10^5, 512) float32: x[idx] and its backward (the scatter-add
    of the gradient into zeros), x[mask] (half true), a basic-indexing view, index_select, gather."""
    torch = _torch()
    rows = []
    n, d = 100_000, 512
    rng = np.random.default_rng(0)
    xa = rng.standard_normal((n, d)).astype(np.float32)
    ia = rng.integers(0, n, n)
    ma = rng.random((n, d)) < 0.5
    ra = rng.random(n) < 0.5
    ja = rng.integers(0, d, (n, 64))
    gx, gi, gm, gr, gj = gc.from_numpy(xa), gc.from_numpy(ia), gc.from_numpy(ma), gc.from_numpy(ra), gc.from_numpy(ja)
    g3 = gx.reshape(1000, 100, d)
    # the gradient of x[idx] flowing back: the engine runs zeros.index_put_((idx,), g, accumulate=True)
    gg = gc.from_numpy(xa[::-1].copy())
    cases: List[Tuple[str, Timer, Any]] = [
        ("x[idx] fwd", lambda: gx[gi], lambda t: (lambda: t["x"][t["i"]])),
        ("x[idx] bwd (scatter-add)", lambda: gc.zeros(n, d).index_put_((gi,), gg, accumulate=True),
         lambda t: (lambda: torch.zeros(n, d).index_put_((t["i"],), t["g"], accumulate=True))),
        ("x[mask] (50%)", lambda: gx[gm], lambda t: (lambda: t["x"][t["m"]])),
        ("x[rowmask] (50%)", lambda: gx[gr], lambda t: (lambda: t["x"][t["r"]])),
        ("x[:, -1, :] (view)", lambda: g3[:, -1, :], lambda t: (lambda: t["x3"][:, -1, :])),
        ("index_select(x, 0, idx)", lambda: gc.index_select(gx, 0, gi),
         lambda t: (lambda: torch.index_select(t["x"], 0, t["i"]))),
        ("gather(x, 1, (1e5, 64))", lambda: gc.gather(gx, 1, gj), lambda t: (lambda: torch.gather(t["x"], 1, t["j"]))),
    ]
    tt: Dict[str, Any] = {}
    if torch is not None:
        tt = {"x": torch.from_numpy(xa), "i": torch.from_numpy(ia), "m": torch.from_numpy(ma),
              "r": torch.from_numpy(ra), "j": torch.from_numpy(ja), "g": torch.from_numpy(gg.numpy())}
        tt["x3"] = tt["x"].reshape(1000, 100, d)
    for name, gfn, tfn in cases:
        _progress(f"indexing {name}")
        fns: Dict[str, Timer] = {"gradcore": gfn}
        if torch is not None:
            fns["torch"] = tfn(tt)
        rows.append(_row("indexing", name, _measure(fns, args.repeat), "ms"))
    return rows


# --- linalg12: batched matmul ---
BMM_SHAPES = [((32, 64, 64), (32, 64, 64)), ((8, 4, 128, 32), (8, 4, 32, 128))]


def _bmm_timer(a: Any, b: Any, transposed: bool, matmul: Any = None) -> Timer:
    """a @ b, or a^T @ b^T of the last two dims (transposed views; np.swapaxes for NumPy)."""
    if transposed:
        if matmul is not None:
            return lambda: matmul(np.swapaxes(a, -1, -2), np.swapaxes(b, -1, -2))
        return lambda: a.transpose(-1, -2) @ b.transpose(-1, -2)
    if matmul is not None:
        return lambda: matmul(a, b)
    return lambda: a @ b


def bench_matmul_batched(args: argparse.Namespace) -> List[Dict[str, Any]]:
    """float32 batched matmul (broadcast batch dims) at attention-like shapes, the same with
    transposed operands (``x.transpose(-1, -2)`` views: transpose flags, no copies), and
    einsum("bhtd,bhsd->bhts") against the equivalent q @ k.transpose(-1, -2)."""
    torch = _torch()
    rows = []
    rng = np.random.default_rng(0)
    for sa, sb in BMM_SHAPES:
        A = rng.standard_normal(sa).astype(np.float32)
        B = rng.standard_normal(sb).astype(np.float32)
        flops = 2.0 * float(np.prod(sa[:-1])) * sa[-1] * sb[-1]
        for form in ("A@B", "A^T@B^T"):
            # A^T @ B^T: the stored arrays have the last two dims swapped, the product is the same shape
            An = np.ascontiguousarray(np.swapaxes(A, -1, -2)) if form != "A@B" else A
            Bn = np.ascontiguousarray(np.swapaxes(B, -1, -2)) if form != "A@B" else B
            fns: Dict[str, Timer] = {"gradcore": _bmm_timer(gc.from_numpy(An), gc.from_numpy(Bn), form != "A@B"),
                                     "numpy": _bmm_timer(An, Bn, form != "A@B", np.matmul)}
            if torch is not None:
                fns["torch"] = _bmm_timer(torch.from_numpy(An), torch.from_numpy(Bn), form != "A@B")
            name = f"{sa}@{sb}".replace(" ", "") + ("" if form == "A@B" else " T")
            _progress(f"matmul-batched {name}")
            rows.append(_row("bmm", name, _measure(fns, args.repeat), "ms", flops))
    # attention scores: q (b, h, t, d), k (b, h, s, d)
    q = rng.standard_normal((8, 4, 128, 32)).astype(np.float32)
    k = rng.standard_normal((8, 4, 128, 32)).astype(np.float32)
    gq, gk = gc.from_numpy(q), gc.from_numpy(k)
    flops = 2.0 * 8 * 4 * 128 * 128 * 32
    eq = "bhtd,bhsd->bhts"
    fns = {"gradcore": lambda: gc.einsum(eq, gq, gk),
           "gradcore-matmul": lambda: gq @ gk.transpose(-1, -2),
           "numpy": lambda: np.einsum(eq, q, k, optimize=True)}
    if torch is not None:
        tq, tk = torch.from_numpy(q), torch.from_numpy(k)
        fns["torch"] = lambda: torch.einsum(eq, tq, tk)
    _progress("matmul-batched einsum")
    rows.append(_row("bmm", "einsum " + eq, _measure(fns, args.repeat), "ms", flops))
    return rows


# ---- epoch: one Fashion-MNIST epoch through the DataLoader; worker processes ------------------
class _TimedLoader:
    """Wraps a loader's iterator and sums the seconds spent inside its ``__next__``."""

    def __init__(self, loader: Any) -> None:
        self.loader, self.seconds = loader, 0.0

    def __iter__(self) -> Any:
        it = iter(self.loader)
        while True:
            t0 = time.perf_counter()
            try:
                batch = next(it)
            except StopIteration:
                self.seconds += time.perf_counter() - t0
                return
            self.seconds += time.perf_counter() - t0
            yield batch


class _SlowDataset:
    """About 1 ms per ``__getitem__``: pure-Python work (a stand-in for decoding/augmenting;
    needs a free core per worker to speed up), or with ``wait`` a 1 ms sleep (a stand-in for
    reading a file; overlaps whatever the cores are doing)."""

    def __init__(self, n: int, wait: bool = False) -> None:
        self.n, self.wait = n, wait
        self.x = np.random.default_rng(0).standard_normal((n, 64)).astype(np.float32)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> Tuple[np.ndarray, int]:
        if self.wait:
            time.sleep(1e-3)
        else:
            end = time.perf_counter() + 1e-3
            acc = 0
            while time.perf_counter() < end:
                acc += 1
        return self.x[i], i % 10


def bench_epoch(args: argparse.Namespace) -> List[Dict[str, Any]]:
    """One training epoch of Fashion-MNIST (60000 images) with the mlp-step model at batch 128
    through ``DataLoader(TensorDataset(X, y), shuffle=True)``, gradcore vs PyTorch with its own
    DataLoader; the note is the loader's share of the epoch (time inside ``__next__``). Then
    ``workers``: an epoch of a dataset with ~1 ms of Python per sample, ``num_workers=2`` vs 0."""
    from gradcore.utils.data import DataLoader, TensorDataset, load_fashion_mnist

    torch = _torch()
    _progress("epoch: loading Fashion-MNIST")
    X, y, _, _ = load_fashion_mnist()
    epochs = max(1, min(args.repeat, 3))
    gc.manual_seed(0)
    model = gc.nn.Sequential(gc.nn.Linear(784, 512), gc.nn.ReLU(), gc.nn.Linear(512, 256), gc.nn.ReLU(),
                             gc.nn.Linear(256, 10))
    opt = gc.optim.Adam(model.parameters(), lr=1e-3)
    gloader: Any = DataLoader(TensorDataset(X, y), batch_size=128, shuffle=True)

    def gc_epoch(limit: Optional[int] = None) -> float:
        timed = _TimedLoader(gloader)
        for k, (xb, yb) in enumerate(timed):
            opt.zero_grad()
            gc.nn.functional.cross_entropy(model(xb), yb).backward()
            opt.step()
            if limit is not None and k + 1 >= limit:
                break
        return timed.seconds

    runs: Dict[str, Callable[[Optional[int]], float]] = {"gradcore": gc_epoch}
    if torch is not None:
        torch.manual_seed(0)
        tm = torch.nn.Sequential(torch.nn.Linear(784, 512), torch.nn.ReLU(), torch.nn.Linear(512, 256),
                                 torch.nn.ReLU(), torch.nn.Linear(256, 10))
        topt = torch.optim.Adam(tm.parameters(), lr=1e-3)
        tloader = torch.utils.data.DataLoader(
            torch.utils.data.TensorDataset(torch.from_numpy(X), torch.from_numpy(y)), batch_size=128, shuffle=True)

        def t_epoch(limit: Optional[int] = None) -> float:
            timed = _TimedLoader(tloader)
            for k, (xb, yb) in enumerate(timed):
                topt.zero_grad()
                torch.nn.functional.cross_entropy(tm(xb), yb).backward()
                topt.step()
                if limit is not None and k + 1 >= limit:
                    break
            return timed.seconds

        runs["torch"] = t_epoch
    samples: Dict[str, List[float]] = {k: [] for k in runs}
    shares: Dict[str, List[float]] = {k: [] for k in runs}
    for f in runs.values():  # warm-up: a few batches each
        f(20)
    for e in range(epochs):
        for name, f in runs.items():
            _progress(f"epoch {e + 1}/{epochs} {name}")
            t0 = time.perf_counter()
            inside = f(None)
            total = time.perf_counter() - t0
            samples[name].append(total)
            shares[name].append(inside / total)
    row = _row("epoch", "fashion-mnist b128", samples, "ms")
    for name in runs:
        row["results"][name]["note"] = f"loader {100 * statistics.median(shares[name]):.1f}%"
    rows = [row]

    n = 1000
    for kind, slow in (("cpu", _SlowDataset(n)), ("sleep", _SlowDataset(n, wait=True))):
        def drain(make: Callable[..., Any], workers: int, slow: _SlowDataset = slow) -> Timer:
            return lambda: sum(1 for _ in make(slow, batch_size=10, num_workers=workers))

        wruns: Dict[str, Timer] = {"gradcore": drain(DataLoader, 2), "gradcore-w0": drain(DataLoader, 0)}
        if torch is not None:
            wruns["torch-w2"] = drain(torch.utils.data.DataLoader, 2)
        wsamples: Dict[str, List[float]] = {k: [] for k in wruns}
        for e in range(epochs):
            for name, g in wruns.items():
                _progress(f"epoch workers ({kind}) {e + 1}/{epochs} {name}")
                t0 = time.perf_counter()
                g()
                wsamples[name].append(time.perf_counter() - t0)
        wrow = _row("epoch", f"workers=2 vs 0, 1ms {kind} x{n}", wsamples, "ms")
        for name, r in wrow["results"].items():
            r["note"] = f"{n / statistics.median(wsamples[name]):.0f} samples/s"
        rows.append(wrow)
    return rows


# ---- conv and cnn-step: convolutions fwd+bwd; LeNet-5 and ResNet-8 training steps ---------------
# (name, batch, in channels, out channels, size, kernel, groups); stride 1, "same" padding.
CONV_CASES: List[Tuple[str, int, int, int, int, int, int]] = [
    ("3x3 64->64 @56 b8", 8, 64, 64, 56, 3, 1),
    ("3x3 128->128 @28 b8", 8, 128, 128, 28, 3, 1),
    ("1x1 64->256 @56 b8", 8, 64, 256, 56, 1, 1),
    ("dw3x3 64 @56 b8", 8, 64, 64, 56, 3, 64),
]


def conv_flops(batch: int, cin: int, cout: int, k: int, h_out: int, w_out: int, groups: int = 1) -> float:
    """FLOPs of one pass of a convolution: 2 K (C / groups) R S H' W' per image."""
    return 2.0 * batch * cout * (cin // groups) * k * k * h_out * w_out


def _torch_conv_fwd_bwd(torch: Any, X: np.ndarray, Wt: np.ndarray, G: np.ndarray, pad: int, groups: int) -> Timer:
    tx = torch.from_numpy(X).requires_grad_()
    tw = torch.from_numpy(Wt).requires_grad_()
    tg = torch.from_numpy(G)

    def run() -> None:
        tx.grad = tw.grad = None
        torch.nn.functional.conv2d(tx, tw, padding=pad, groups=groups).backward(tg)

    return run


def _torch_conv_compiled(X: np.ndarray, Wt: np.ndarray, G: np.ndarray, pad: int, groups: int) -> Timer:
    """The eager peer's forward + backward under ``torch.compile`` (inductor)."""
    return _compile_step(lambda: _torch_conv_fwd_bwd(_torch(), X, Wt, G, pad, groups))


def _jax_conv_fwd_bwd(X: np.ndarray, Wt: np.ndarray, G: np.ndarray, pad: int, groups: int) -> Timer:
    """The forward and both gradients (``jax.vjp`` of ``lax.conv_general_dilated``) under jax.jit."""
    jax = _jax()

    def conv(x: Any, w: Any) -> Any:
        return jax.lax.conv_general_dilated(x, w, (1, 1), [(pad, pad), (pad, pad)], feature_group_count=groups)

    def fwd_bwd(x: Any, w: Any, g: Any) -> Any:
        out, vjp = jax.vjp(conv, x, w)
        return out, vjp(g)

    jitted = jax.jit(fwd_bwd)

    x, w, g = jax.device_put(X), jax.device_put(Wt), jax.device_put(G)
    return lambda: jax.block_until_ready(jitted(x, w, g))


def bench_conv(args: argparse.Namespace) -> List[Dict[str, Any]]:
    """float32 2-D convolution forward + backward (input and weight gradients) at ResNet-like
    shapes: 3x3 64->64 at 56x56 and 128->128 at 28x28, a 1x1 64->256 and a depthwise 3x3, batch
    8; GFLOP/s from 3 passes of 2 K (C/groups) R S H' W' per image."""
    torch = _torch()
    rows = []
    rng = np.random.default_rng(0)
    F = gc.nn.functional
    for name, n, cin, cout, size, k, groups in CONV_CASES:
        _progress(f"conv {name}")
        pad = k // 2
        X = rng.standard_normal((n, cin, size, size)).astype(np.float32)
        Wt = (rng.standard_normal((cout, cin // groups, k, k)) / np.sqrt(cin // groups * k * k)).astype(np.float32)
        G = rng.standard_normal((n, cout, size, size)).astype(np.float32)
        gx, gw, gg = gc.from_numpy(X).requires_grad_(), gc.from_numpy(Wt).requires_grad_(), gc.from_numpy(G)

        def gc_run(gx: Any = gx, gw: Any = gw, gg: Any = gg, pad: int = pad, groups: int = groups) -> None:
            gx.grad = gw.grad = None
            F.conv2d(gx, gw, padding=pad, groups=groups).backward(gg)

        fns: Dict[str, Timer] = {"gradcore": gc_run}
        if torch is not None:
            fns["torch"] = _torch_conv_fwd_bwd(torch, X, Wt, G, pad, groups)
        skipped: Dict[str, str] = {}
        _add_peer(fns, skipped, "torch.compile", lambda: _torch_conv_compiled(X, Wt, G, pad, groups))
        _add_peer(fns, skipped, "jax.jit", lambda: _jax_conv_fwd_bwd(X, Wt, G, pad, groups))
        flops = 3 * conv_flops(n, cin, cout, k, size, size, groups)
        rows.append(_row("conv", name, _measure(fns, args.repeat), "ms", flops, skipped))
    return rows


def _lenet(mod: Any) -> Any:
    """LeNet-5 for 28x28 (examples/train_lenet.py's): conv 6@5x5 pad 2, ReLU, max-pool,
    conv 16@5x5, ReLU, max-pool, 400-120-84-10; ``mod`` is gradcore.nn or torch.nn."""
    return mod.Sequential(mod.Conv2d(1, 6, 5, padding=2), mod.ReLU(), mod.MaxPool2d(2),
                          mod.Conv2d(6, 16, 5), mod.ReLU(), mod.MaxPool2d(2), mod.Flatten(),
                          mod.Linear(400, 120), mod.ReLU(), mod.Linear(120, 84), mod.ReLU(), mod.Linear(84, 10))


LENET_FLOPS = conv_flops(1, 1, 6, 5, 28, 28) + conv_flops(1, 6, 16, 5, 10, 10) + 2.0 * (400 * 120 + 120 * 84 + 84 * 10)


def _resnet8(mod: Any) -> Any:
    """ResNet-8 for 28x28 (examples/train_resnet.py's): conv 3x3 16 + BatchNorm + ReLU, one
    BasicBlock per stage at 16, 32 (stride 2), 64 (stride 2) channels (1x1 conv + BatchNorm
    shortcuts where the shape changes), global average pooling, Linear(64, 10)."""
    relu = mod.functional.relu

    class BasicBlock(mod.Module):  # type: ignore[misc]
        def __init__(self, cin: int, cout: int, stride: int) -> None:
            super().__init__()
            self.conv1 = mod.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = mod.BatchNorm2d(cout)
            self.conv2 = mod.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = mod.BatchNorm2d(cout)
            self.shortcut = mod.Identity() if stride == 1 and cin == cout else mod.Sequential(
                mod.Conv2d(cin, cout, 1, stride, bias=False), mod.BatchNorm2d(cout))

        def forward(self, x: Any) -> Any:
            out = relu(self.bn1(self.conv1(x)))
            return relu(self.bn2(self.conv2(out)) + self.shortcut(x))

    return mod.Sequential(mod.Conv2d(1, 16, 3, 1, 1, bias=False), mod.BatchNorm2d(16), mod.ReLU(),
                          BasicBlock(16, 16, 1), BasicBlock(16, 32, 2), BasicBlock(32, 64, 2),
                          mod.AdaptiveAvgPool2d(1), mod.Flatten(), mod.Linear(64, 10))


RESNET8_FLOPS = (conv_flops(1, 1, 16, 3, 28, 28) + 2 * conv_flops(1, 16, 16, 3, 28, 28)
                 + conv_flops(1, 16, 32, 3, 14, 14) + conv_flops(1, 32, 32, 3, 14, 14) + conv_flops(1, 16, 32, 1, 14, 14)
                 + conv_flops(1, 32, 64, 3, 7, 7) + conv_flops(1, 64, 64, 3, 7, 7) + conv_flops(1, 32, 64, 1, 7, 7)
                 + 2.0 * 64 * 10)


def _torch_cnn_step(torch: Any, build: Callable[[Any], Any], state: Dict[str, np.ndarray], fused: bool,
                    X: np.ndarray, Y: np.ndarray) -> Timer:
    """The PyTorch twin (gradcore's initial weights) and its eager Adam step."""
    model = build(torch.nn)
    model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in state.items()})
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, fused=fused)
    tx, ty = torch.from_numpy(X), torch.from_numpy(Y)

    def step() -> None:
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(tx), ty).backward()
        opt.step()

    return step


def _torch_cnn_compiled(build: Callable[[Any], Any], state: Dict[str, np.ndarray], X: np.ndarray,
                        Y: np.ndarray) -> Timer:
    return _compile_step(lambda: _torch_cnn_step(_torch(), build, state, False, X, Y))


def _jax_lenet_step(state: Dict[str, np.ndarray], X: np.ndarray, Y: np.ndarray, lr: float = 1e-3) -> Timer:
    """LeNet-5's Adam step as a JAX user writes it (pure, jitted, donated params and state)."""
    jax = _jax()
    jnp, lax, tree_map = jax.numpy, jax.lax, jax.tree_util.tree_map

    def pool(x: Any) -> Any:
        return lax.reduce_window(x, -jnp.inf, lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")

    def loss_fn(p: Any, x: Any, y: Any) -> Any:
        x = lax.conv_general_dilated(x, p["0.weight"], (1, 1), [(2, 2), (2, 2)]) + p["0.bias"][None, :, None, None]
        x = pool(jax.nn.relu(x))
        x = lax.conv_general_dilated(x, p["3.weight"], (1, 1), "VALID") + p["3.bias"][None, :, None, None]
        x = pool(jax.nn.relu(x)).reshape(x.shape[0], -1)
        x = jax.nn.relu(x @ p["7.weight"].T + p["7.bias"])
        x = jax.nn.relu(x @ p["9.weight"].T + p["9.bias"])
        x = x @ p["11.weight"].T + p["11.bias"]
        return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(x), y[:, None], axis=1))

    @functools.partial(jax.jit, donate_argnums=(0, 1))
    def step(p: Any, s: Any, x: Any, y: Any) -> Any:
        value, g = jax.value_and_grad(loss_fn)(p, x, y)
        t, m, v = s
        t = t + 1
        m = tree_map(lambda m, g: 0.9 * m + 0.1 * g, m, g)
        v = tree_map(lambda v, g: 0.999 * v + 0.001 * g * g, v, g)
        step_size, bc2 = lr / (1 - 0.9 ** t), 1 - 0.999 ** t
        p = tree_map(lambda p, m, v: p - step_size * m / (jnp.sqrt(v / bc2) + 1e-8), p, m, v)
        return p, (t, m, v), value

    params = {k: jnp.asarray(v) for k, v in state.items()}
    carry: List[Any] = [params, (jnp.zeros((), jnp.float32), tree_map(jnp.zeros_like, params),
                                 tree_map(jnp.zeros_like, params))]
    x, y = jax.device_put(X), jax.device_put(Y)

    def run() -> None:
        carry[0], carry[1], value = step(carry[0], carry[1], x, y)
        value.block_until_ready()

    return run


def bench_cnn_step(args: argparse.Namespace) -> List[Dict[str, Any]]:
    """One training step (zero_grad, forward, cross-entropy, backward, Adam(lr=1e-3)) of LeNet-5
    on 28x28 at batch 1, 32, 128 and of ResNet-8 (16-32-64 channels, BatchNorm) at batch 32,
    against PyTorch eager (default and fused Adam), torch.compile and (LeNet) jax.jit, all from
    gradcore's initial weights; GFLOP/s from the conv and linear FLOPs x 3 (fwd + 2 bwd)."""
    torch = _torch()
    rows = []
    cases: List[Tuple[str, Callable[[Any], Any], int, float]] = [
        ("lenet5", _lenet, b, LENET_FLOPS) for b in (args.batch or [1, 32, 128])]
    cases.append(("resnet8", _resnet8, 32, RESNET8_FLOPS))
    for arch, build, batch, flops in cases:
        case = f"{arch} batch {batch}"
        if arch == "resnet8" and not hasattr(gc.nn, "BatchNorm2d"):
            rows.append({"workload": "cnn-step", "case": case, "unit": "ms", "results": {},
                         "skipped": {"gradcore": "gc.nn.BatchNorm2d not available"}})
            continue
        _progress(f"cnn-step {case}")
        rng = np.random.default_rng(0)
        pool = rng.standard_normal((4, batch, 1, 28, 28)).astype(np.float32)  # varied inputs
        labels = rng.integers(0, 10, (4, batch))
        X, Y = pool[0], labels[0]
        gc.manual_seed(0)
        model = build(gc.nn)
        model.train()
        state = {k: np.array(v.detach().numpy()) for k, v in model.state_dict().items()}
        opt = gc.optim.Adam(model.parameters(), lr=1e-3)
        gxs = [gc.from_numpy(p) for p in pool]
        gys = [gc.from_numpy(lab) for lab in labels]
        it = [0]

        def gc_step(model: Any = model, opt: Any = opt, gxs: Any = gxs, gys: Any = gys, it: List[int] = it) -> None:
            i = it[0] = (it[0] + 1) % len(gxs)
            opt.zero_grad()
            gc.nn.functional.cross_entropy(model(gxs[i]), gys[i]).backward()
            opt.step()

        fns: Dict[str, Timer] = {"gradcore": gc_step}
        if torch is not None:
            for name, fused in (("torch", False), ("torch-fused", True)):
                fns[name] = _torch_cnn_step(torch, build, state, fused, X, Y)
        skipped: Dict[str, str] = {}
        _add_peer(fns, skipped, "torch.compile", lambda: _torch_cnn_compiled(build, state, X, Y))
        if arch == "lenet5":
            _add_peer(fns, skipped, "jax.jit", lambda: _jax_lenet_step(state, X, Y))
        else:
            skipped["jax.jit"] = "no JAX twin of ResNet-8 (BatchNorm running statistics) written"
        rows.append(_row("cnn-step", case, _measure(fns, args.repeat), "ms", 3 * batch * flops, skipped))
    return rows


# ---- gpt-step: a small GPT's AdamW training step --------------------------------------------

GPT_SHAPE = dict(vocab=96, context=64, dim=128, heads=4, layers=4)


def _gpt(mod: Any, vocab: int, context: int, dim: int, heads: int, layers: int) -> Any:
    """examples/train_gpt.py's GPT: token + position embeddings, pre-norm blocks (causal
    self-attention through F.scaled_dot_product_attention, a 4x GELU MLP), LayerNorm, head."""
    F = mod.functional

    class Block(mod.Module):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.ln1, self.ln2 = mod.LayerNorm(dim), mod.LayerNorm(dim)
            self.qkv, self.proj = mod.Linear(dim, 3 * dim), mod.Linear(dim, dim)
            self.mlp = mod.Sequential(mod.Linear(dim, 4 * dim), mod.GELU(), mod.Linear(4 * dim, dim))

        def forward(self, x: Any) -> Any:
            B, T, C = x.shape
            q, k, v = (t.reshape(B, T, heads, C // heads).transpose(1, 2) for t in self.qkv(self.ln1(x)).split(C, 2))
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(B, T, C)
            x = x + self.proj(y)
            return x + self.mlp(self.ln2(x))

    class GPT(mod.Module):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.tok, self.pos = mod.Embedding(vocab, dim), mod.Embedding(context, dim)
            self.blocks = mod.Sequential(*[Block() for _ in range(layers)])
            self.ln, self.head = mod.LayerNorm(dim), mod.Linear(dim, vocab)

        def forward(self, idx: Any) -> Any:
            return self.head(self.ln(self.blocks(self.tok(idx) + self.pos.weight[:idx.shape[1]])))

    return GPT()


def gpt_gemm_flops(batch: int, vocab: int, context: int, dim: int, heads: int, layers: int) -> float:
    """The forward GEMM FLOPs of one batch: qkv, projection, MLP, q kT and p v (causal
    attention counted in full, as the dense formula), the head."""
    n = batch * context
    per_layer = 2.0 * n * dim * (3 * dim + dim + 8 * dim) + 2 * 2.0 * batch * context * context * dim
    return layers * per_layer + 2.0 * n * dim * vocab


def bench_gpt_step(args: argparse.Namespace) -> List[Dict[str, Any]]:
    """One AdamW step (zero_grad, forward, cross-entropy over (B T, V), backward, clip_grad_norm_
    at 1.0, step) of examples/train_gpt.py's GPT (4 layers, 4 heads, 128 dims, context 64) at
    batch 32, against PyTorch eager (default and fused AdamW) and torch.compile, all from
    gradcore's initial weights; GFLOP/s from the GEMM FLOPs x 3 (fwd + 2 bwd)."""
    torch = _torch()
    rows = []
    shape = GPT_SHAPE
    for batch in args.batch or [32]:
        case = f"gpt 4x128 ctx 64 batch {batch}"
        if not (hasattr(gc.nn, "Embedding") and hasattr(gc.nn.functional, "scaled_dot_product_attention")):
            rows.append({"workload": "gpt-step", "case": case, "unit": "ms", "results": {},
                         "skipped": {"gradcore": "gc.nn.Embedding or F.scaled_dot_product_attention not available"}})
            continue
        _progress(f"gpt-step {case}")
        rng = np.random.default_rng(0)
        X = rng.integers(0, shape["vocab"], (batch, shape["context"]))
        Y = rng.integers(0, shape["vocab"], (batch, shape["context"]))
        gc.manual_seed(0)
        model = _gpt(gc.nn, **shape)
        state = {k: np.array(v.detach().numpy()) for k, v in model.state_dict().items()}

        def make_step(lib: Any, model: Any, opt: Any, x: Any, y: Any) -> Timer:
            def step() -> None:
                opt.zero_grad()
                logits = model(x)
                lib.nn.functional.cross_entropy(logits.reshape(-1, shape["vocab"]), y.reshape(-1)).backward()
                lib.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                opt.step()
            return step

        fns: Dict[str, Timer] = {
            "gradcore": make_step(gc, model, gc.optim.AdamW(model.parameters(), lr=1e-3), gc.from_numpy(X),
                                  gc.from_numpy(Y))}
        skipped: Dict[str, str] = {}

        def torch_step(fused: bool) -> Timer:
            assert torch is not None
            tm = _gpt(torch.nn, **shape)
            tm.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in state.items()})
            return make_step(torch, tm, torch.optim.AdamW(tm.parameters(), lr=1e-3, fused=fused),
                             torch.from_numpy(X), torch.from_numpy(Y))

        if torch is not None:
            fns["torch"] = torch_step(False)
            fns["torch-fused"] = torch_step(True)
        _add_peer(fns, skipped, "torch.compile", lambda: _compile_step(lambda: torch_step(False)))
        rows.append(_row("gpt-step", case, _measure(fns, args.repeat), "ms", 3 * gpt_gemm_flops(batch, **shape),
                         skipped))
    return rows


def _compile_step(make: Callable[[], Timer]) -> Timer:
    """``torch.compile`` of the eager step that ``make`` builds (ImportError without torch)."""
    torch = _torch()
    if torch is None:
        raise ImportError("torch not installed")
    compiled: Timer = torch.compile(make())
    return compiled


def bench_peak(args: argparse.Namespace) -> List[Dict[str, Any]]:
    """The machine's FMA peak per ISA (1 and N threads) and the STREAM triad: the yardsticks."""
    rows = []
    nt = gc.get_num_threads()
    counts = sorted({1, nt})
    for isa in gc.backend_info()["supported_isas"]:
        _progress(f"peak {isa}")
        for t in counts:
            g = gc._core._fma_peak(isa, threads=t, seconds=0.3)
            rows.append({"workload": "peak", "case": f"fma {isa} {t}t", "unit": "ms",
                         "results": {"gradcore": {"median": 0.0, "min": 0.0, "max": 0.0, "gflops": g}}})
    for t in counts:
        _progress(f"triad {t}t")
        gbs = gc._core._triad(1 << 24, threads=t, seconds=0.5)
        rows.append({"workload": "peak", "case": f"triad 64 MiB {t}t", "unit": "ms",
                     "results": {"gradcore": {"median": 0.0, "min": 0.0, "max": 0.0, "GB/s": gbs}}})
    return rows


# ---- lstm-step: one nn.LSTM layer, forward + backward + Adam ---------------------------------
# (case, T, batch, input_size, hidden_size)
LSTM_CASES: List[Tuple[str, int, int, int, int]] = [("1x256 T50 b64 in256", 50, 64, 256, 256)]


def _lstm_flops(T: int, B: int, I: int, H: int) -> float:
    """GEMM FLOPs of one LSTM layer, forward and backward (x 3): the input and recurrent projections."""
    return 3 * 2.0 * T * B * 4 * H * (I + H)


def bench_lstm_step(args: argparse.Namespace) -> List[Dict[str, Any]]:
    """One training step (zero_grad, nn.LSTM forward, mean of out**2 + c_n, backward,
    Adam(lr=1e-3)) of a 1-layer LSTM over a padded batch, against PyTorch eager with the same
    initial weights and input."""
    torch = _torch()
    rows = []
    for case, T, B, I, H in LSTM_CASES:
        _progress(f"lstm-step {case}")
        rng = np.random.default_rng(0)
        X = rng.standard_normal((T, B, I)).astype(np.float32)
        gc.manual_seed(0)
        model = gc.nn.LSTM(I, H)
        state = {k: np.array(v.detach().numpy()) for k, v in model.state_dict().items()}
        opt = gc.optim.Adam(model.parameters(), lr=1e-3)
        gx = gc.from_numpy(X)

        def gc_step(model: Any = model, opt: Any = opt, gx: Any = gx) -> None:
            opt.zero_grad()
            out, (h, c) = model(gx)
            ((out * out).mean() + c.mean()).backward()
            opt.step()

        fns: Dict[str, Timer] = {"gradcore": gc_step}
        if torch is not None:
            tm = torch.nn.LSTM(I, H)
            tm.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
            topt = torch.optim.Adam(tm.parameters(), lr=1e-3)
            tx = torch.from_numpy(X)

            def torch_step(tm: Any = tm, topt: Any = topt, tx: Any = tx) -> None:
                topt.zero_grad()
                out, (h, c) = tm(tx)
                ((out * out).mean() + c.mean()).backward()
                topt.step()

            fns["torch"] = torch_step
        rows.append(_row("lstm-step", case, _measure(fns, args.repeat), "ms", _lstm_flops(T, B, I, H)))
    return rows


# ---- attention: fused scaled-dot-product attention fwd+bwd, causal -------------------------
ATTN_CASES: List[Tuple[str, int, int, int, int]] = [("b8 h4 t256 d32", 8, 4, 256, 32), ("b1 h8 t1024 d64", 1, 8, 1024, 64)]


def bench_attention(args: argparse.Namespace) -> List[Dict[str, Any]]:
    """float32 causal F.scaled_dot_product_attention forward + backward (dq, dk, dv) against
    torch eager; GFLOP/s from the causal half of 2 (fwd) + 4 (bwd) products of 2 T^2 D each."""
    torch = _torch()
    rows = []
    rng = np.random.default_rng(0)
    F = gc.nn.functional
    for name, b, h, t, d in ATTN_CASES:
        _progress(f"attention {name}")
        Q, K, V, G = (rng.standard_normal((b, h, t, d)).astype(np.float32) for _ in range(4))
        gq, gk, gv = (gc.from_numpy(a).requires_grad_() for a in (Q, K, V))
        gg = gc.from_numpy(G)

        def gc_run(gq: Any = gq, gk: Any = gk, gv: Any = gv, gg: Any = gg) -> None:
            gq.grad = gk.grad = gv.grad = None
            F.scaled_dot_product_attention(gq, gk, gv, is_causal=True).backward(gg)

        fns: Dict[str, Timer] = {"gradcore": gc_run}
        if torch is not None:
            tq, tk, tv = (torch.from_numpy(a).requires_grad_() for a in (Q, K, V))
            tg = torch.from_numpy(G)

            def torch_run(tq: Any = tq, tk: Any = tk, tv: Any = tv, tg: Any = tg) -> None:
                tq.grad = tk.grad = tv.grad = None
                torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, is_causal=True).backward(tg)

            fns["torch"] = torch_run
        flops = 6.0 * 2 * b * h * t * t * d / 2
        rows.append(_row("attention", name, _measure(fns, args.repeat), "ms", flops, {}))
    return rows


DDP_STEPS = 20  # timed steps per round of each job
DDP_JOB_REPEATS = 3  # runs of each job (interleaved); the median is reported


def _ddp_job(framework: str, mode: str, ranks: int, batch: int, steps: int, rounds: int) -> Dict[str, Any]:
    """Runs gradcore.distributed._bench on `ranks` processes (gradcore-run for gradcore,
    torchrun with gloo for torch; one plain process for mode "local"); its rank-0 JSON."""
    import subprocess

    worker = ["-m", "gradcore.distributed._bench", "--framework", framework, "--mode", mode, "--batch", str(batch),
              "--steps", str(steps), "--rounds", str(rounds)]
    env = dict(os.environ)
    if mode == "local" and ranks == 1:
        cmd = [sys.executable] + worker
    elif framework == "gradcore":
        from gradcore.distributed.run import build_command
        cmd = build_command(["-n", str(ranks), "--"] + worker, environ=env).command
    else:
        import socket

        env["GLOO_SOCKET_IFNAME"] = "lo"
        with socket.socket() as sock:  # a free port for each job (a reused one may linger in TIME_WAIT)
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(ranks), "--master_addr",
               "127.0.0.1", "--master_port", str(port)] + worker
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
    # torch 2.13's gloo ranks can abort in their teardown after the measurement was printed
    # ("terminate called without an active exception", seen on an Intel Xeon VM): the
    # figures are complete then, so they are used.
    teardown_abort = framework == "torch" and "terminate called without an active exception" in done.stderr
    if (done.returncode != 0 and not teardown_abort) or not lines:
        raise RuntimeError(f"{' '.join(cmd[:3])}... exited {done.returncode}: {done.stderr.strip()[-300:]}")
    out: Dict[str, Any] = json.loads(lines[-1])
    return out


def bench_ddp(args: argparse.Namespace) -> List[Dict[str, Any]]:
    """Data-parallel training steps of the mlp-step model (784-512-256-10, Adam) at a batch per
    rank, one thread per rank: DistributedDataParallel on 2 ranks (gradcore on MPI, PyTorch
    on gloo) against one rank without DDP. Notes: weak scaling (samples/s of the ranks over
    one rank's), the DDP step over the local step, and how much of the allreduce time (timed
    alone) is hidden behind backward."""
    ranks = min(2, len(os.sched_getaffinity(0)))
    rows = []
    for batch in args.batch or [128]:
        _progress(f"ddp batch {batch}")
        steps, rounds = DDP_STEPS, 3
        samples: Dict[str, List[float]] = {}
        skipped: Dict[str, str] = {}
        # (framework, mode, ranks); "2 ranks alone": the same local step on every rank at
        # once with no communication, i.e. how far the machine itself scales.
        jobs = {"gradcore": ("gradcore", "ddp", ranks), "gradcore 1 rank": ("gradcore", "local", 1),
                f"gradcore {ranks} ranks alone": ("gradcore", "local", ranks),
                "torch DDP": ("torch", "ddp", ranks), "torch 1 rank": ("torch", "local", 1)}
        runs: Dict[str, List[Dict[str, Any]]] = {}
        for _ in range(DDP_JOB_REPEATS):  # the jobs interleaved: this machine's speed drifts
            for name, (fw, mode, n) in jobs.items():
                if name in skipped:
                    continue
                if fw == "torch" and _torch() is None:
                    skipped[name] = "torch is not installed"
                    continue
                try:
                    runs.setdefault(name, []).append(_ddp_job(fw, mode, n, batch, steps, rounds))
                except Exception as e:  # no MPI, no torchrun, a failed job
                    skipped[name] = _skip_reason(e)
                    runs.pop(name, None)
        info: Dict[str, Dict[str, Any]] = {}
        for name, rs in runs.items():
            samples[name] = [r["step_ms"] / 1e3 for r in rs]
            ars = [r["allreduce_ms"] for r in rs if r["allreduce_ms"] is not None]
            info[name] = {"step_ms": statistics.median(r["step_ms"] for r in rs),
                          "allreduce_ms": statistics.median(ars) if ars else None}
        flops = 6.0 * batch * (784 * 512 + 512 * 256 + 256 * 10)
        row = _row("ddp", f"batch {batch}/rank, {ranks} ranks x 1 thread", samples, "ms", flops, skipped)
        for name, local in (("gradcore", "gradcore 1 rank"), ("torch DDP", "torch 1 rank")):
            if name in info and local in info:
                d, loc, ar = info[name]["step_ms"], info[local]["step_ms"], info[name]["allreduce_ms"] or 0.0
                hidden = max(0.0, min(1.0, (loc + ar - d) / ar)) if ar > 0 else 0.0
                row["results"][name]["note"] = (f"scaling {ranks * loc / d:.2f}x, step {d / loc:.2f}x local, "
                                                f"allreduce {ar:.2f} ms {100 * hidden:.0f}% hidden")
        rows.append(row)
    return rows


WORKLOADS = {"peak": bench_peak, "gemm": bench_gemm, "mlp-step": bench_mlp_step, "tiny-step": bench_tiny_step,
             "op-overhead": bench_op_overhead, "elementwise": bench_elementwise, "indexing": bench_indexing,
             "unary": bench_unary, "matmul-batched": bench_matmul_batched, "epoch": bench_epoch,
             "conv": bench_conv, "cnn-step": bench_cnn_step, "gpt-step": bench_gpt_step,
             "lstm-step": bench_lstm_step, "attention": bench_attention, "ddp": bench_ddp}


def machine_info() -> Dict[str, Any]:
    """Python, CPU, gradcore backend, peer versions and BLAS kernels, for the report header."""
    info: Dict[str, Any] = {"python": platform.python_version(), "machine": platform.machine(),
                            "cpus": os.cpu_count(), "gradcore": gc.__version__, "backend": gc.backend_info(),
                            "numpy": np.__version__,
                            "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
                            "affinity": _affinity(), "XLA_FLAGS": os.environ.get("XLA_FLAGS")}
    info.update(cpu_model())
    info["cpu_slug"] = cpu_slug()
    try:
        from threadpoolctl import threadpool_info

        info["blas"] = [{k: p.get(k) for k in ("internal_api", "version", "architecture", "num_threads",
                                                 "filepath")} for p in threadpool_info()]
    except ImportError:
        info["blas"] = "threadpoolctl not installed"
    torch = _torch()
    info["torch"] = torch.__version__ if torch is not None else None
    try:
        info["jax"] = importlib.metadata.version("jax")
    except importlib.metadata.PackageNotFoundError:
        info["jax"] = None
    info["micrograd"] = _micrograd() is not None
    return info


def render(rows: List[Dict[str, Any]], info: Dict[str, Any]) -> str:
    """The results as a plain-text table with a header describing the machine."""
    family = f" (family {info['cpu_family']} model {info.get('cpu_model')})" if "cpu_family" in info else ""
    out = [f"gradcore {info['gradcore']} | ISA {info['backend']['isa']} | threads {info['backend']['num_threads']}"
           f" | {info.get('cpu', info['machine'])}{family} | CPUs {info.get('affinity')}"
           f" | XLA_FLAGS={info.get('XLA_FLAGS') or ''}"]
    if isinstance(info.get("blas"), list):
        for b in info["blas"]:
            out.append(f"peer BLAS: {b.get('internal_api')} {b.get('version')} kernel={b.get('architecture')} "
                       f"threads={b.get('num_threads')}")
    out.append(f"peers: numpy {info['numpy']}, torch {info['torch'] or 'not installed'} (eager, torch.compile), "
               f"jax {info.get('jax') or 'not installed'} (jax.jit), "
               f"micrograd {'yes' if info['micrograd'] else 'not installed'}")
    out.append("")
    peak = info.get("fma_peak_gflops")
    if peak:
        out.append(f"FMA peak ({info['backend']['isa']}, {info['backend']['num_threads']} threads): {peak:.1f} GFLOP/s")
    out.append(f"{'workload':<12} {'case':<26} {'peer':<14} {'median':>10} {'min-max':>19} {'ratio':>7} {'GFLOP/s':>8}"
               f" {'peak':>5}")
    for row in rows:
        for peer, r in row["results"].items():
            ratio = f"{r['ratio']:.2f}x" if "ratio" in r else ""
            gf = f"{r['gflops']:.1f}" if "gflops" in r else (f"{r['GB/s']:.1f}GB/s" if "GB/s" in r else "")
            gf = f"{gf} {r['note']}".strip() if "note" in r else gf
            frac = f"{100 * r['gflops'] / peak:.0f}%" if peak and "gflops" in r and row["workload"] != "peak" else ""
            out.append(f"{row['workload']:<12} {row['case']:<26} {peer:<14} {r['median']:>8.3f}{row['unit']:<2} "
                       f"{r['min']:>8.3f}-{r['max']:<8.3f}  {ratio:>7} {gf:>8} {frac:>5}")
    out.append("ratio = peer time / gradcore time (> 1: gradcore is faster)")
    for row in rows:
        for peer, reason in row.get("skipped", {}).items():
            out.append(f"note: {peer} skipped for {row['workload']} {row['case']}: {reason}")
    return "\n".join(out)


def main(argv: Optional[List[str]] = None) -> int:
    """The ``gradcore-bench`` command line (see the module docstring); returns the exit code."""
    ap = argparse.ArgumentParser(prog="gradcore-bench", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("workload", choices=list(WORKLOADS) + ["all"])
    ap.add_argument("--threads", type=int, default=None, help="threads for gradcore and every peer")
    ap.add_argument("--batch", type=int, nargs="*", default=None, help="batch sizes (mlp-step, tiny-step, cnn-step's LeNet, gpt-step)")
    ap.add_argument("--repeat", type=int, default=5, help="samples per contender (median reported)")
    ap.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    ap.add_argument("--quick", action="store_true", help="skip the largest GEMM")
    args = ap.parse_args(argv)
    if args.repeat < 1:
        ap.error("--repeat must be >= 1")
    if args.threads is not None:
        if args.threads < 1:
            ap.error("--threads must be >= 1")
        # Pin first, so every pool started from here on (torch's OpenMP, XLA's) sees N CPUs;
        # XLA reads XLA_FLAGS when jax creates its CPU client (jax is imported lazily, later).
        pin_threads(args.threads)
        os.environ["XLA_FLAGS"] = xla_flags(args.threads, os.environ.get("XLA_FLAGS", ""))
        gc.set_num_threads(args.threads)
        torch = _torch()
        if torch is not None:
            torch.set_num_threads(args.threads)
        try:
            from threadpoolctl import threadpool_limits

            threadpool_limits(args.threads)
        except ImportError:
            pass
    names = list(WORKLOADS) if args.workload == "all" else [args.workload]
    rows: List[Dict[str, Any]] = []
    for name in names:
        rows += WORKLOADS[name](args)
    _progress("done")
    if sys.stderr.isatty():
        sys.stderr.write("\n")
    info = machine_info()
    if any("gflops" in r for row in rows for r in row["results"].values()):
        info["fma_peak_gflops"] = gc._core._fma_peak(info["backend"]["isa"], threads=gc.get_num_threads(), seconds=0.3)
        for row in rows:
            for r in row["results"].values():
                if "gflops" in r and row["workload"] != "peak":
                    r["fraction_of_peak"] = r["gflops"] / info["fma_peak_gflops"]
    print(render(rows, info))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": info, "rows": rows, "time": time.strftime("%Y-%m-%dT%H:%M:%S")}, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
