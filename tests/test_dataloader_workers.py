"""DataLoader worker processes (num_workers > 0): determinism against num_workers=0, order,
shared-memory transport and cleanup, worker errors, killed workers, timeout, spawn,
worker_init_fn / get_worker_info, iterable-dataset sharding, persistent workers.

Datasets live at module level so that the spawn context can pickle them. torch is imported
inside the one test that compares with it, so that spawned workers do not import it.
"""
import gc as pygc
import os
import signal
import time

import numpy as np
import pytest

import gradcore as gc
from gradcore.utils.data import DataLoader, IterableDataset, TensorDataset, get_worker_info


def _gen(seed):
    g = gc.Generator()
    g.manual_seed(seed)
    return g


class Squares:
    """Deterministic map-style dataset with mixed sample types (not a Dataset subclass)."""

    def __init__(self, n=23, slow=None, kill_at=None, raise_at=None, sleep_at=None):
        self.n, self.slow, self.kill_at, self.raise_at, self.sleep_at = n, slow, kill_at, raise_at, sleep_at

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if i == self.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        if i == self.raise_at:
            raise KeyError(f"no sample {i}") if i % 2 else ValueError(f"broken sample {i}")
        if i == self.sleep_at:
            time.sleep(3.0)
        if self.slow is not None and i in self.slow:
            time.sleep(0.05)
        return {"x": gc.full((2, 3), float(i)), "i": i, "f": i / 4, "a": np.arange(3, dtype=np.int32) * i,
                "s": f"#{i}"}


class WhoAmI:
    """Samples report the worker that produced them."""

    def __len__(self):
        return 8

    def __getitem__(self, i):
        info = get_worker_info()
        return [info.id, info.num_workers, info.seed, gc.initial_seed(), os.getpid(), int(getattr(info.dataset,
                                                                                                  "tag", -1)), i]


class Shards(IterableDataset):
    """An iterable dataset that splits range(start, end) between workers (PyTorch's recipe)."""

    def __init__(self, start, end, info_fn=get_worker_info):
        self.start, self.end, self.info_fn = start, end, info_fn

    def __iter__(self):
        info = self.info_fn()
        if info is None:
            return iter(range(self.start, self.end))
        return iter(range(self.start + info.id, self.end, info.num_workers))


def _init_tag(worker_id):
    get_worker_info().dataset.tag = 100 + worker_id


def norm(batch):
    if isinstance(batch, gc.Tensor):
        return (str(batch.dtype), batch.numpy().tolist())
    if isinstance(batch, dict):
        return {k: norm(v) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return [norm(v) for v in batch]
    return batch


def _epoch(loader):
    return [norm(b) for b in loader]


def _shm_files():
    return sorted(n for n in os.listdir("/dev/shm") if n.startswith(f"gradcore_dl_{os.getpid()}_"))


@pytest.fixture(autouse=True)
def _no_leaks():
    import multiprocessing

    before = set(multiprocessing.active_children())
    yield
    pygc.collect()
    assert _shm_files() == []
    ours = [p for p in multiprocessing.active_children() if p not in before]
    for p in ours:  # a worker may still be exiting: give it a moment, then none may be left
        p.join(timeout=2)
    assert [p for p in ours if p.is_alive()] == []


def test_workers_equal_single_process_bitwise():
    ds = Squares(23, slow={0, 1, 2, 9})  # slow samples make results arrive out of order
    want = _epoch(DataLoader(ds, batch_size=3, shuffle=True, generator=_gen(5)))
    got = _epoch(DataLoader(ds, batch_size=3, shuffle=True, generator=_gen(5), num_workers=2))
    assert got == want
    X = np.random.default_rng(0).standard_normal((50, 4)).astype(np.float32)
    tds = TensorDataset(X, np.arange(50))
    want = _epoch(DataLoader(tds, batch_size=8, shuffle=True, generator=_gen(1), drop_last=True))
    got = _epoch(DataLoader(tds, batch_size=8, shuffle=True, generator=_gen(1), drop_last=True, num_workers=2,
                            prefetch_factor=1))
    assert got == want
    # batch_size=None (no batching) and a custom collate_fn
    assert _epoch(DataLoader(ds, batch_size=None, num_workers=2)) == _epoch(DataLoader(ds, batch_size=None))
    fn = len
    assert list(DataLoader(ds, batch_size=5, collate_fn=fn, num_workers=2)) == [5, 5, 5, 5, 3]


def test_batches_arrive_through_shared_memory():
    ds = TensorDataset(np.arange(40, dtype=np.float64).reshape(20, 2))
    loader = DataLoader(ds, batch_size=4, num_workers=2)
    batches = list(loader)
    assert _shm_files() == []  # mapped and unlinked on arrival
    xb = batches[1][0]
    assert xb.dtype == gc.float64 and xb.numpy().tolist() == [[8, 9], [10, 11], [12, 13], [14, 15]]
    xb[0, 0] = -1.0  # writable, and not the dataset's memory
    assert ds.tensors[0][4, 0].item() == 8.0


@pytest.mark.parametrize("dtype", [gc.float32, gc.float64, gc.float16, gc.bfloat16, gc.int64, gc.int32, gc.uint8,
                                   gc.bool])
def test_shared_memory_tensor_round_trip(dtype):
    from multiprocessing.reduction import ForkingPickler
    import pickle

    t = (gc.arange(12, dtype=gc.float32).reshape(3, 4) % 3).to(dtype)
    for src in (t, t.t(), t[:0]):
        back = pickle.loads(ForkingPickler.dumps(src))
        assert back.dtype == src.dtype and tuple(back.shape) == tuple(src.shape)
        assert back.to(gc.float64).numpy().tolist() == src.to(gc.float64).numpy().tolist()
    w = gc.ones(2, requires_grad=True)
    assert pickle.loads(ForkingPickler.dumps(w)).requires_grad


def test_early_break_and_del_clean_up():
    loader = DataLoader(Squares(40), batch_size=2, num_workers=2)
    it = iter(loader)
    next(it)
    workers = list(it._workers)
    del it
    pygc.collect()
    for w in workers:
        with pytest.raises(ValueError):  # closed: it was joined
            w.is_alive()


def test_worker_exception_is_reraised_with_its_traceback():
    loader = DataLoader(Squares(10, raise_at=4), batch_size=2, num_workers=2)
    with pytest.raises(ValueError) as e:
        list(loader)
    msg = str(e.value)
    assert "Caught ValueError in DataLoader worker process" in msg
    assert "broken sample 4" in msg and "__getitem__" in msg and "Traceback" in msg
    loader = DataLoader(Squares(10, raise_at=5), batch_size=2, num_workers=2)
    with pytest.raises(KeyError, match="no sample 5"):
        list(loader)


def test_killed_worker_raises_instead_of_hanging():
    loader = DataLoader(Squares(10, kill_at=3), batch_size=2, num_workers=2)
    t0 = time.monotonic()
    with pytest.raises(RuntimeError, match=r"DataLoader worker \(pid\(s\) \d+\) exited unexpectedly"):
        list(loader)
    assert time.monotonic() - t0 < 30


def test_timeout():
    loader = DataLoader(Squares(6, sleep_at=0), batch_size=2, num_workers=1, timeout=0.3)
    with pytest.raises(RuntimeError, match="DataLoader timed out after 0.3 seconds"):
        list(loader)


def test_spawn_context_with_module_level_dataset():
    ds = Squares(9)
    want = _epoch(DataLoader(ds, batch_size=4, shuffle=True, generator=_gen(2)))
    got = _epoch(DataLoader(ds, batch_size=4, shuffle=True, generator=_gen(2), num_workers=2,
                            multiprocessing_context="spawn"))
    assert got == want
    # a TensorDataset of gradcore tensors travels to spawned workers through shared memory
    import multiprocessing

    tds = TensorDataset(np.arange(30, dtype=np.float32).reshape(10, 3), np.arange(10))
    want = _epoch(DataLoader(tds, batch_size=4))
    got = _epoch(DataLoader(tds, batch_size=4, num_workers=1, multiprocessing_context=multiprocessing.get_context(
        "spawn")))
    assert got == want


def test_worker_info_seeds_and_worker_init_fn():
    g = _gen(11)
    rows = [r for batch in DataLoader(WhoAmI(), batch_size=2, num_workers=2, worker_init_fn=_init_tag, generator=g)
            for r in zip(*[t.tolist() for t in batch])]
    base = int(gc.empty((), dtype=gc.int64).random_(generator=_gen(11)).item())  # the loader's first draw
    assert sorted(r[-1] for r in rows) == list(range(8))
    for wid, nw, seed, initial, pid, tag, _ in rows:
        assert wid in (0, 1) and nw == 2
        assert seed == base + wid and initial == seed  # gc.manual_seed(base_seed + id) in the worker
        assert tag == 100 + wid and pid != os.getpid()
    assert {r[0] for r in rows} == {0, 1}


def test_iterable_dataset_sharded_like_torch():
    torch = pytest.importorskip("torch")
    class TShards(torch.utils.data.IterableDataset):
        def __iter__(self):
            return iter(Shards(3, 20, torch.utils.data.get_worker_info))

    want = [b.tolist() for b in torch.utils.data.DataLoader(TShards(), batch_size=3, num_workers=2)]
    got = [b.tolist() for b in DataLoader(Shards(3, 20), batch_size=3, num_workers=2)]
    assert got == want
    assert sorted(sum(got, [])) == list(range(3, 20))
    assert [b.tolist() for b in DataLoader(Shards(0, 5), batch_size=2)] == [[0, 1], [2, 3], [4]]


def test_persistent_workers():
    ds = WhoAmI()
    loader = DataLoader(ds, batch_size=2, num_workers=2, persistent_workers=True, generator=_gen(0))
    pids = []
    for _ in range(2):
        rows = [r for batch in loader for r in zip(*[t.tolist() for t in batch])]
        assert sorted(r[-1] for r in rows) == list(range(8))
        pids.append({r[4] for r in rows})
    assert pids[0] == pids[1] and len(pids[0]) == 2  # the same two processes served both epochs
    loader._iterator._shutdown_workers()
    # the first epoch equals num_workers=0's; the next is a new order (the iterator, hence the
    # base seed, is kept across epochs, as in PyTorch)
    sq = Squares(11)
    want = _epoch(DataLoader(sq, batch_size=3, shuffle=True, generator=_gen(4)))
    pl = DataLoader(sq, batch_size=3, shuffle=True, generator=_gen(4), num_workers=2, persistent_workers=True)
    first, second = _epoch(pl), _epoch(pl)
    assert first == want and second != first
    assert sorted(sum((b["i"][1] for b in second), [])) == list(range(11))
    pl._iterator._shutdown_workers()


def test_unpicklable_batch_is_an_error_not_a_hang():
    loader = DataLoader(list(range(4)), batch_size=2, num_workers=1, collate_fn=lambda b: (lambda: b))
    with pytest.raises(Exception, match="DataLoader worker process 0"):
        list(loader)


def test_workers_exit_when_the_main_process_dies(tmp_path):
    import subprocess
    import sys

    script = tmp_path / "orphan.py"
    script.write_text(
        "import os, sys\n"
        "from gradcore.utils.data import DataLoader\n"
        "it = iter(DataLoader(list(range(100)), batch_size=2, num_workers=2))\n"
        "next(it)\n"
        "print(os.getpid(), ' '.join(str(w.pid) for w in it._workers), flush=True)\n"
        "os._exit(0)\n")  # no cleanup at all: the workers must notice on their own
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    main, *pids = [int(p) for p in out.stdout.split()]
    assert len(pids) == 2

    def alive(pid):
        try:
            with open(f"/proc/{pid}/stat") as f:
                return f.read().split(")")[-1].split()[0] != "Z"
        except OSError:
            return False

    deadline = time.monotonic() + 10
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(alive(p) for p in pids)
    assert [n for n in os.listdir("/dev/shm") if n.startswith(f"gradcore_dl_{main}_")] == []  # batches in flight
