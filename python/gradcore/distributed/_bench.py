"""The worker of ``gradcore-bench ddp``: times training steps of the mlp-step model
(784-512-256-10, Adam, cross-entropy) on one rank of a job, for gradcore (MPI) or PyTorch
(gloo, under torchrun), with or without DistributedDataParallel. Rank 0 prints one JSON line.

    python -m gradcore.distributed._bench --framework gradcore --mode local --batch 128
    gradcore-run -n 2 -m gradcore.distributed._bench --mode ddp ...     (what the bench runs)

Each rank runs one thread pinned to one core (its MPI binding, or core ``rank`` under
torchrun). ``allreduce_ms`` is the time of the gradient allreduces alone (gradcore: the DDP
buckets one after another; torch: one flat allreduce of all gradients), so that the bench
can say how much of it DDP hides behind backward.
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import statistics
import time
from typing import Any, Callable, List

import numpy as np


def _time_steps(step: Callable[[], None], steps: int, rounds: int, sync: Callable[[], None]) -> List[float]:
    for _ in range(3):
        step()
    out = []
    for _ in range(rounds):
        sync()
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        out.append((time.perf_counter() - t0) / steps)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--framework", choices=("gradcore", "torch"), default="gradcore")
    ap.add_argument("--mode", choices=("local", "ddp"), default="ddp")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    cpus = sorted(os.sched_getaffinity(0))
    rank_env = int(os.environ.get("RANK", os.environ.get("OMPI_COMM_WORLD_RANK", "0")))
    if len(cpus) > 1:  # torchrun does not bind; MPI already did (one core per rank)
        os.sched_setaffinity(0, {cpus[rank_env % len(cpus)]})
    lib: Any = importlib.import_module(args.framework)
    lib.set_num_threads(1)
    dist = lib.distributed
    ddp_mode = args.mode == "ddp"
    if ddp_mode:
        dist.init_process_group("gloo" if args.framework == "torch" else "mpi")
    rank = dist.get_rank() if ddp_mode else 0
    world = dist.get_world_size() if ddp_mode else 1
    rng = np.random.default_rng(rank)
    x = lib.from_numpy(rng.standard_normal((args.batch, 784)).astype(np.float32))
    y = lib.from_numpy(rng.integers(0, 10, args.batch))
    lib.manual_seed(0)
    nn = lib.nn
    model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, 10))
    net: Any = nn.parallel.DistributedDataParallel(model) if ddp_mode else model
    opt = lib.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()

    def step() -> None:
        opt.zero_grad()
        loss_fn(net(x), y).backward()
        opt.step()

    sync = dist.barrier if ddp_mode else (lambda: None)
    times = _time_steps(step, args.steps, args.rounds, sync)
    allreduce: List[float] = []
    if ddp_mode:
        if args.framework == "gradcore":
            bufs = [b.buffer for b in net.buckets]
        else:
            bufs = [lib.cat([p.grad.reshape(-1) for p in model.parameters()])]

        def reduce_all() -> None:
            for b in bufs:
                dist.all_reduce(b)
        allreduce = _time_steps(reduce_all, args.steps, args.rounds, sync)
        dist.destroy_process_group()
    if rank == 0:
        print(json.dumps({"framework": args.framework, "mode": args.mode, "world": world, "batch": args.batch,
                          "step_ms": statistics.median(times) * 1e3,
                          "allreduce_ms": statistics.median(allreduce) * 1e3 if allreduce else None,
                          "params": sum(p.numel() for p in model.parameters())}), flush=True)


if __name__ == "__main__":
    main()
