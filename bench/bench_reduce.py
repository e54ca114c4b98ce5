"""Reduction timings (gradcore-bench has no reduction case): sum over each axis of a few
large and a few training-sized float32/float64 shapes, and Linear's bias gradient (median
of N runs).

    python bench/bench_reduce.py [threads] [out.json]
"""
import sys, time, json
import numpy as np
import gradcore as gc

def med(f, reps):
    f()
    ts = []
    for _ in range(reps):
        t = time.perf_counter(); f(); ts.append(time.perf_counter() - t)
    return sorted(ts)[len(ts) // 2]

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
gc.set_num_threads(threads)
rng = np.random.default_rng(0)
res = {}
cases = [((2**20, 64), np.float32), ((64, 2**20), np.float32), ((4096, 4096), np.float32),
         ((2**20, 64), np.float64), ((4096, 4096), np.float64), ((256, 512), np.float32),
         ((1024, 1000), np.float32), ((64, 32, 512), np.float32)]
for shape, dt in cases:
    x = gc.tensor(rng.standard_normal(shape).astype(dt))
    nbytes = x.numel() * np.dtype(dt).itemsize
    reps = 7 if nbytes > 2**24 else 200
    for ax in list(range(len(shape))) + [None]:
        f = (lambda: x.sum()) if ax is None else (lambda ax=ax: x.sum(dim=ax))
        t = med(f, reps)
        key = f"{np.dtype(dt).name} {shape} dim={ax}"
        res[key] = t
        print(f"{key:40s} {t*1e3:9.3f} ms  {nbytes/t/1e9:6.1f} GB/s", flush=True)
# Linear backward db (bias gradient) + relu mask: linear_act_backward via F.linear
import gradcore.nn.functional as F
for rows, cin, cout in [(256, 512, 512), (4096, 256, 1024), (2**16, 64, 64)]:
    x = gc.randn(rows, cin); w = gc.randn(cout, cin, requires_grad=True); b = gc.randn(cout, requires_grad=True)
    y = F.linear(x, w, b, activation="relu"); g = gc.randn(rows, cout)
    def f():
        gc.grad(y, [b], g, retain_graph=True)
    t = med(f, 30)
    key = f"linear_relu db ({rows},{cin})->{cout}"
    res[key] = t
    print(f"{key:40s} {t*1e3:9.3f} ms", flush=True)
if len(sys.argv) > 2:
    json.dump(res, open(sys.argv[2], "w"), indent=1)
