"""Every collective against NumPy, on however many ranks the job has (run by
tests/distributed/test_collectives.py under mpiexec -n 2 and -n 3)."""
import datetime
import os

import numpy as np

import gradcore as gc
import gradcore.distributed as dist

dist.init_process_group("mpi", timeout=datetime.timedelta(seconds=60))
r, n = dist.get_rank(), dist.get_world_size()
assert dist.is_initialized() and dist.get_backend() == "mpi" and dist.group.WORLD is not None
# torchrun's per-rank variables, for scripts that read them (set at `import gradcore`)
assert [int(os.environ[k]) for k in ("RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE")] == [r, n, n]
local_ranks = [None] * n
dist.all_gather_object(local_ranks, int(os.environ["LOCAL_RANK"]))  # Open MPI's numbering: a permutation
assert sorted(local_ranks) == list(range(n)), local_ranks


def values(rank, shape, dtype):
    """Rank `rank`'s deterministic test values (what every rank can recompute)."""
    rng = np.random.default_rng(100 + rank)
    if dtype == np.bool_:
        return rng.random(shape) < 0.5
    if np.issubdtype(dtype, np.integer):
        return rng.integers(1, 5, size=shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


everyone = lambda shape, dt: np.stack([values(k, shape, dt) for k in range(n)])  # noqa: E731

# all_reduce: every op on every dtype it applies to, contiguous and strided, sync and async.
R = dist.ReduceOp
np_ops = {R.SUM: np.sum, R.PRODUCT: np.prod, R.MIN: np.min, R.MAX: np.max}
for dt, gdt in [(np.float32, gc.float32), (np.float64, gc.float64), (np.int64, gc.int64), (np.int32, gc.int32),
                (np.int16, gc.int16), (np.int8, gc.int8), (np.uint8, gc.uint8)]:
    for op, f in np_ops.items():
        t = gc.from_numpy(values(r, (3, 5), dt).copy())
        dist.all_reduce(t, op=op)
        want = f(everyone((3, 5), dt), axis=0).astype(dt)
        if np.issubdtype(dt, np.floating):
            np.testing.assert_allclose(t.numpy(), want, rtol=1e-5, atol=1e-6)
        else:
            np.testing.assert_array_equal(t.numpy(), want)
    if np.issubdtype(dt, np.integer):
        for op, f in [(R.BAND, np.bitwise_and), (R.BOR, np.bitwise_or), (R.BXOR, np.bitwise_xor)]:
            t = gc.from_numpy(values(r, (4,), dt).copy())
            dist.all_reduce(t, op=op)
            np.testing.assert_array_equal(t.numpy(), f.reduce(everyone((4,), dt), axis=0))
        try:
            dist.all_reduce(gc.from_numpy(values(r, (2,), dt).copy()), op=R.AVG)
            raise AssertionError("AVG on an integer tensor must raise")
        except RuntimeError as e:
            assert "can't be cast" in str(e)
    else:
        t = gc.from_numpy(values(r, (6,), dt).copy())
        dist.all_reduce(t, op=R.AVG)
        np.testing.assert_allclose(t.numpy(), everyone((6,), dt).mean(0), rtol=1e-5, atol=1e-6)
        try:
            dist.all_reduce(gc.from_numpy(values(r, (2,), dt).copy()), op=R.BAND)
            raise AssertionError("BAND on a float tensor must raise")
        except RuntimeError as e:
            assert "non-integral" in str(e)
for op, f in [(R.SUM, np.any), (R.MAX, np.any), (R.MIN, np.all), (R.PRODUCT, np.all)]:
    t = gc.from_numpy(values(r, (7,), np.bool_).copy())
    dist.all_reduce(t, op=op)
    np.testing.assert_array_equal(t.numpy(), f(everyone((7,), np.bool_), axis=0))
for hdt in (gc.float16, gc.bfloat16):
    t = gc.from_numpy(values(r, (9,), np.float32).copy()).to(hdt)
    dist.all_reduce(t)
    want = sum(gc.from_numpy(values(k, (9,), np.float32).copy()).to(hdt).float() for k in range(n))
    np.testing.assert_allclose(t.float().numpy(), want.to(hdt).float().numpy(), rtol=1e-2)
strided = gc.from_numpy(values(r, (4, 6), np.float32).copy()).t()
dist.all_reduce(strided)
np.testing.assert_allclose(strided.numpy(), everyone((4, 6), np.float32).sum(0).T, rtol=1e-5, atol=1e-6)
view = gc.zeros(10)
dist.all_reduce(view[2:5].fill_(float(r)))
np.testing.assert_array_equal(view.numpy(), [0, 0] + [sum(range(n))] * 3 + [0] * 5)
works = [dist.all_reduce(gc.full((100,), float(r + k)), async_op=True) for k in range(3)]
for k, w in enumerate(works):
    assert w.wait() is True and w.is_completed() and w.is_success()
    np.testing.assert_array_equal(w.result()[0].numpy(), np.full(100, sum(q + k for q in range(n)), np.float32))
assert dist.all_reduce(gc.zeros(0)) is None

# broadcast, reduce, from every root
for root in range(n):
    t = gc.from_numpy(values(r, (2, 3), np.float64).copy())
    dist.broadcast(t, src=root)
    np.testing.assert_array_equal(t.numpy(), values(root, (2, 3), np.float64))
    t = gc.from_numpy(values(r, (5,), np.int64).copy())
    dist.reduce(t, dst=root, op=R.MAX)
    if r == root:
        np.testing.assert_array_equal(t.numpy(), everyone((5,), np.int64).max(0))
    t = gc.from_numpy(values(r, (5,), np.float32).copy())
    dist.reduce(t, group_dst=root, op=R.AVG)
    if r == root:
        np.testing.assert_allclose(t.numpy(), everyone((5,), np.float32).mean(0), rtol=1e-5, atol=1e-6)

# gathers and scatters
outs = [gc.empty(2, 3, dtype=gc.int32) for _ in range(n)]
dist.all_gather(outs, gc.from_numpy(values(r, (2, 3), np.int32).copy()))
for k in range(n):
    np.testing.assert_array_equal(outs[k].numpy(), values(k, (2, 3), np.int32))
flat = gc.empty(n * 4)
dist.all_gather_into_tensor(flat, gc.from_numpy(values(r, (4,), np.float32).copy()))
np.testing.assert_array_equal(flat.numpy(), everyone((4,), np.float32).reshape(-1))
stacked = gc.empty(n, 4)
dist.all_gather_into_tensor(stacked, gc.from_numpy(values(r, (4,), np.float32).copy()))
np.testing.assert_array_equal(stacked.numpy(), everyone((4,), np.float32))
out = gc.empty(3)
dist.reduce_scatter_tensor(out, gc.from_numpy(values(r, (3 * n,), np.float32).copy()))
np.testing.assert_allclose(out.numpy(), everyone((3 * n,), np.float32).sum(0)[3 * r:3 * r + 3], rtol=1e-5, atol=1e-6)
for root in range(n):
    gl = [gc.empty(3) for _ in range(n)] if r == root else None
    dist.gather(gc.full((3,), float(r)), gl, dst=root)
    if r == root:
        assert [g.tolist() for g in gl] == [[float(k)] * 3 for k in range(n)]
    got = gc.empty(2, dtype=gc.int64)
    dist.scatter(got, [gc.tensor([k, 10 * k]) for k in range(n)] if r == root else None, src=root)
    assert got.tolist() == [r, 10 * r]
# all_to_all_single: equal splits, then uneven ones (rank k sends k + 1 rows to each peer)
inp = gc.arange(float(n * 2)).reshape(n * 2, 1) + 100 * r
out = gc.empty(n * 2, 1)
dist.all_to_all_single(out, inp)
np.testing.assert_array_equal(out.numpy().ravel(), [100 * k + 2 * r + j for k in range(n) for j in range(2)])
inp = gc.full(((r + 1) * n, 2), float(r))
out = gc.empty(sum(k + 1 for k in range(n)), 2)
dist.all_to_all_single(out, inp, output_split_sizes=[k + 1 for k in range(n)], input_split_sizes=[r + 1] * n)
np.testing.assert_array_equal(out.numpy()[:, 0], [k for k in range(n) for _ in range(k + 1)])

# objects
objs = [{"rank": r}, "x" * (r + 1), None]
dist.broadcast_object_list(objs, src=n - 1)
assert objs == [{"rank": n - 1}, "x" * n, None], objs
got = [None] * n
dist.all_gather_object(got, ("rank", r, list(range(r))))
assert got == [("rank", k, list(range(k))) for k in range(n)]
gl = [None] * n if r == 0 else None
dist.gather_object(r * 3, gl, dst=0)
assert r != 0 or gl == [3 * k for k in range(n)]
so = [None]
dist.scatter_object_list(so, [f"for {k}" for k in range(n)] if r == 0 else None, src=0)
assert so == [f"for {r}"]

# point to point: a ring, blocking and non-blocking, and recv from any source
right, left = (r + 1) % n, (r - 1) % n
w = dist.isend(gc.full((4,), float(r)), dst=right)
buf = gc.empty(4)
dist.recv(buf, src=left)
w.wait()
assert buf.tolist() == [float(left)] * 4
if r != 0:
    dist.send(gc.tensor([r], dtype=gc.int64), dst=0, tag=7)
else:
    senders = set()
    for _ in range(n - 1):
        b = gc.empty(1, dtype=gc.int64)
        senders.add(dist.recv(b, tag=7))
        assert b.item() in senders
    assert senders == set(range(1, n))
w = dist.irecv(gc.empty(2), src=left) if n > 1 else None
dist.send(gc.ones(2), dst=right)
w.wait()

# subgroups: ranks {0, n-1}; the others are not members
sub = dist.new_group([0, n - 1])
if r in (0, n - 1):
    assert dist.get_world_size(sub) == 2 and dist.get_rank(sub) == (0 if r == 0 else 1)
    t = gc.full((2,), float(r + 1))
    dist.all_reduce(t, group=sub)
    assert t.tolist() == [float(n + 1)] * 2
    t = gc.full((1,), float(r))
    dist.broadcast(t, src=n - 1, group=sub)
    assert t.item() == n - 1
    assert dist.get_process_group_ranks(sub) == [0, n - 1]
else:
    assert sub is dist.GroupMember.NON_GROUP_MEMBER and dist.get_rank(sub) == -1

# bad input raises on the rank that makes the mistake, before any message is sent
checks = [
    (TypeError, lambda: dist.all_reduce([gc.ones(2)])),
    (RuntimeError, lambda: dist.broadcast(gc.ones(2), src=n + 3)),
    (RuntimeError, lambda: dist.all_gather([gc.ones(3)] * n, gc.ones(4))),
    (RuntimeError, lambda: dist.all_gather([gc.ones(4)] * (n + 1), gc.ones(4))),
    (RuntimeError, lambda: dist.all_gather_into_tensor(gc.ones(n * 4 + 1), gc.ones(4))),
    (RuntimeError, lambda: dist.reduce_scatter_tensor(gc.ones(2), gc.ones(2 * n + 1))),
    (ValueError, lambda: dist.send(gc.ones(2), dst=r)),
    (ValueError, lambda: dist.recv(gc.ones(2), src=r)),
    (ValueError, lambda: dist.gather(gc.ones(2), None, dst=r)),
    (ValueError, lambda: dist.scatter(gc.ones(2), None, src=r)),
    (ValueError, lambda: dist.init_process_group("mpi")),
    (ValueError, lambda: dist.all_reduce(gc.ones(2), op=R.PREMUL_SUM)),
]
for exc, f in checks:
    try:
        f()
    except exc:
        pass
    else:
        raise AssertionError(f"expected {exc.__name__}")
dist.barrier()
dist.destroy_process_group()
assert not dist.is_initialized()
print(f"OK rank {r}", flush=True)
