"""gradcore.utils.data (= gradcore.data) against torch.utils.data: datasets, samplers, collate,
DataLoader contents and dtypes, argument validation. Worker processes: test_dataloader_workers.py."""
import collections
import importlib
import math

import numpy as np
import pytest

import gradcore as gc
from gradcore.utils import data as gdata

torch = pytest.importorskip("torch")
tdata = torch.utils.data


# ---- helpers --------------------------------------------------------------------------
def norm(x):
    """A comparable picture of a batch: containers by kind, tensors as (dtype name, array)."""
    if isinstance(x, gc.Tensor):
        return ("T", str(x.dtype).split(".")[-1], x.detach().numpy().tolist())
    if isinstance(x, torch.Tensor):
        return ("T", str(x.dtype).split(".")[-1], x.detach().numpy().tolist())
    if isinstance(x, tuple) and hasattr(x, "_fields"):
        return ("namedtuple", type(x).__name__, [norm(v) for v in x])
    if isinstance(x, (list, tuple)):
        return (type(x).__name__, [norm(v) for v in x])
    if isinstance(x, dict):
        return ("dict", {k: norm(v) for k, v in x.items()})
    return ("obj", x)


def both(fn):
    """fn(module) for gradcore.utils.data and torch.utils.data, normalised."""
    return norm(fn(gdata, gc)), norm(fn(tdata, torch))


def _gen(seed):
    g = gc.Generator()
    g.manual_seed(seed)
    return g


# ---- module layout ------------------------------------------------------------------
def test_module_aliases_and_names():
    import gradcore.data
    import gradcore.utils.data
    from gradcore.data.distributed import DistributedSampler as A
    from gradcore.utils.data.distributed import DistributedSampler as B

    assert gradcore.data is gradcore.utils.data is gc.utils.data is gc.data
    assert A is B
    for sub in ("dataset", "sampler", "dataloader", "distributed"):
        assert importlib.import_module(f"gradcore.data.{sub}") is importlib.import_module(f"gradcore.utils.data.{sub}")
    for name in ("read_idx", "load_fashion_mnist", "FASHION_MNIST_DIR"):
        assert hasattr(gradcore.data, name)
    torch_names = {"BatchSampler", "ChainDataset", "ConcatDataset", "DataLoader", "Dataset", "DistributedSampler",
                   "IterableDataset", "RandomSampler", "Sampler", "SequentialSampler", "StackDataset", "Subset",
                   "SubsetRandomSampler", "TensorDataset", "WeightedRandomSampler", "default_collate",
                   "default_convert", "get_worker_info", "random_split"}
    assert torch_names <= set(gdata.__all__)
    for name in gdata.__all__:
        assert hasattr(gdata, name)
    assert gdata.get_worker_info() is None


# ---- datasets -------------------------------------------------------------------------
def test_tensor_dataset_and_size_mismatch():
    X = np.arange(12, dtype=np.float32).reshape(6, 2)
    ds = gdata.TensorDataset(X, np.arange(6))
    assert len(ds) == 6 and len(ds.tensors) == 2
    assert np.shares_memory(ds.tensors[0].numpy(), X)  # zero-copy for a writable C-contiguous array
    assert norm(ds[2]) == norm(tdata.TensorDataset(torch.from_numpy(X), torch.arange(6))[2])
    for mod, lib in ((gdata, gc), (tdata, torch)):
        with pytest.raises(AssertionError, match="Size mismatch between tensors"):
            mod.TensorDataset(lib.zeros(3, 2), lib.zeros(4))


def test_subset_concat_stack_chain():
    def build(mod, lib):
        a = mod.TensorDataset(lib.arange(5), lib.arange(5) * 10)
        b = mod.TensorDataset(lib.arange(3) + 100, lib.arange(3))
        cat = a + b
        sub = mod.Subset(cat, [7, 0, 6])
        st = mod.StackDataset(lib.arange(4), lib.arange(4) * 2)
        std = mod.StackDataset(x=lib.arange(4), y=lib.arange(4) * 3)
        return [cat.cumulative_sizes, len(cat), cat[-1], cat[5], cat[4], len(sub), sub[0], sub.__getitems__([1, 2]),
                st[1], st.__getitems__([0, 3]), std[2], std.__getitems__([1])]

    g, t = both(build)
    assert g == t
    for mod, lib in ((gdata, gc), (tdata, torch)):
        cat = mod.ConcatDataset([mod.TensorDataset(lib.arange(3))])
        with pytest.raises(ValueError, match="absolute value"):
            cat[-4]
        with pytest.raises(AssertionError, match="empty"):
            mod.ConcatDataset([])
        with pytest.raises(ValueError, match="Size mismatch"):
            mod.StackDataset(lib.arange(3), lib.arange(4))
        with pytest.raises(ValueError, match="At least one"):
            mod.StackDataset()

    class It(gdata.IterableDataset):
        def __init__(self, n):
            self.n = n

        def __iter__(self):
            return iter(range(self.n))

        def __len__(self):
            return self.n

    ch = It(2) + It(3)
    assert isinstance(ch, gdata.ChainDataset) and list(ch) == [0, 1, 0, 1, 2] and len(ch) == 5
    with pytest.raises(AssertionError, match="IterableDataset"):
        gdata.ConcatDataset([It(2)])


@pytest.mark.parametrize("n,lengths", [(10, [0.3, 0.7]), (11, [0.5, 0.5]), (7, [0.1, 0.2, 0.7]), (30, [0.3, 0.3, 0.4]),
                                       (5, [1 / 3, 1 / 3, 1 / 3]), (12, [5, 7]), (101, [0.25] * 4)])
def test_random_split_lengths_match_torch(n, lengths):
    g = gdata.random_split(range(n), lengths, generator=_gen(0))
    t = tdata.random_split(range(n), lengths, generator=torch.Generator().manual_seed(0))
    assert [len(s) for s in g] == [len(s) for s in t]
    assert sorted(i for s in g for i in s) == list(range(n))  # a partition


def test_random_split_bad_input_and_reproducibility():
    for mod in (gdata, tdata):
        with pytest.raises(ValueError, match="Sum of input lengths"):
            mod.random_split(range(10), [3, 3])
        with pytest.raises(ValueError, match="Sum of input lengths"):
            mod.random_split(range(10), [0.5, 0.6])
        with pytest.raises(ValueError, match="between 0 and 1"):
            mod.random_split(range(10), [1.5, -0.5])
        with pytest.warns(UserWarning, match="Length of split at index . is 0"):
            mod.random_split(range(2), [0.9, 0.05, 0.05])
    gc.manual_seed(3)
    a = [list(s) for s in gdata.random_split(range(20), [0.5, 0.5])]
    gc.manual_seed(3)
    b = [list(s) for s in gdata.random_split(range(20), [0.5, 0.5])]
    assert a == b
    assert [list(s) for s in gdata.random_split(range(20), [0.5, 0.5], generator=_gen(1))] == \
        [list(s) for s in gdata.random_split(range(20), [0.5, 0.5], generator=_gen(1))]


# ---- samplers -------------------------------------------------------------------------
def test_unshuffled_samplers_equal_torch():
    for n in (0, 1, 7, 10):
        assert list(gdata.SequentialSampler(range(n))) == list(tdata.SequentialSampler(range(n)))
    for bs, drop in ((1, False), (3, False), (3, True), (4, True), (11, False), (11, True)):
        g = gdata.BatchSampler(gdata.SequentialSampler(range(10)), bs, drop)
        t = tdata.BatchSampler(tdata.SequentialSampler(range(10)), bs, drop)
        assert list(g) == list(t) and len(g) == len(t)
    assert list(gdata.BatchSampler([5, 3, 1], 2, False)) == [[5, 3], [1]]  # any iterable of indices


@pytest.mark.parametrize("n", [1, 4, 10, 11, 13])
@pytest.mark.parametrize("replicas", [1, 2, 3, 4])
@pytest.mark.parametrize("drop_last", [False, True])
def test_distributed_sampler_unshuffled_equals_torch(n, replicas, drop_last):
    ds = list(range(n))
    for rank in range(replicas):
        g = gdata.DistributedSampler(ds, num_replicas=replicas, rank=rank, shuffle=False, drop_last=drop_last)
        t = tdata.DistributedSampler(ds, num_replicas=replicas, rank=rank, shuffle=False, drop_last=drop_last)
        assert list(g) == list(t)
        assert (len(g), g.num_samples, g.total_size) == (len(t), t.num_samples, t.total_size)


def test_distributed_sampler_shuffled_structure():
    n, R = 11, 3
    per_rank = [list(gdata.DistributedSampler(range(n), num_replicas=R, rank=r, seed=5)) for r in range(R)]
    # one permutation shared by all ranks, padded with its head, strided by rank
    total = [per_rank[i % R][i // R] for i in range(R * len(per_rank[0]))]
    head = total[:n]
    assert sorted(head) == list(range(n)) and total[n:] == head[:len(total) - n]
    s = gdata.DistributedSampler(range(n), num_replicas=R, rank=1, seed=5)
    first = list(s)
    assert list(s) == first  # same epoch: same order
    s.set_epoch(1)
    assert list(s) != first
    assert list(gdata.DistributedSampler(range(n), num_replicas=R, rank=1, seed=5)) == first
    for mod in (gdata, tdata):
        with pytest.raises(ValueError, match="Invalid rank"):
            mod.DistributedSampler(range(4), num_replicas=2, rank=2)
        with pytest.raises(ValueError, match="process group"):
            mod.DistributedSampler(range(4))


def test_random_samplers_index_sets():
    gc.manual_seed(0)
    perm = list(gdata.RandomSampler(range(10)))
    assert sorted(perm) == list(range(10))
    s = gdata.RandomSampler(range(4), num_samples=10)
    out = list(s)
    assert len(out) == len(s) == 10 and sorted(out[:4]) == [0, 1, 2, 3] and sorted(out[4:8]) == [0, 1, 2, 3]
    r = list(gdata.RandomSampler(range(3), replacement=True, num_samples=50, generator=_gen(1)))
    assert len(r) == 50 and set(r) <= {0, 1, 2}
    assert list(gdata.RandomSampler(range(9), generator=_gen(2))) == list(gdata.RandomSampler(range(9),
                                                                                               generator=_gen(2)))
    gc.manual_seed(4)
    a = list(gdata.RandomSampler(range(30)))
    gc.manual_seed(4)
    assert list(gdata.RandomSampler(range(30))) == a
    sub = list(gdata.SubsetRandomSampler([3, 9, 27], generator=_gen(0)))
    assert sorted(sub) == [3, 9, 27]
    w = list(gdata.WeightedRandomSampler([0.0, 1.0, 0.0, 2.0], 20, generator=_gen(0)))
    assert len(w) == 20 and set(w) <= {1, 3}
    w = list(gdata.WeightedRandomSampler([1, 1, 1, 1], 4, replacement=False))
    assert sorted(w) == [0, 1, 2, 3]


def test_sampler_bad_input_matches_torch():
    class NoLen:
        def __getitem__(self, i):
            return i

    cases = [
        lambda m: m.RandomSampler(range(3), replacement=1),
        lambda m: m.RandomSampler(range(3), num_samples=0),
        lambda m: m.RandomSampler(NoLen()),
        lambda m: list(m.SequentialSampler(NoLen())),
        lambda m: m.WeightedRandomSampler([1.0, 2.0], 0),
        lambda m: m.WeightedRandomSampler([[1.0, 2.0]], 2),
        lambda m: m.WeightedRandomSampler([1.0, 2.0], 2, replacement=None),
        lambda m: m.BatchSampler(range(3), 0, False),
        lambda m: m.BatchSampler(range(3), 2, None),
        lambda m: m.DataLoader(NoLen(), shuffle=True),
        lambda m: len(m.DataLoader(NoLen())),
    ]
    for case in cases:
        with pytest.raises(Exception) as te:
            case(tdata)
        with pytest.raises(type(te.value)):
            case(gdata)


# ---- collate --------------------------------------------------------------------------
Point = collections.namedtuple("Point", ["x", "y"])


def _samples(lib, np_ok=True):
    arr = (lambda i: np.full((2,), i, np.float32)) if np_ok else (lambda i: lib.full((2,), float(i)))
    return [
        [lib.tensor([1.0, 2.0]), lib.tensor([3.0, 4.0])],
        [lib.tensor([1, 2]), lib.tensor([3, 4])],
        [np.arange(3, dtype=np.int32) + i for i in range(2)],
        [np.float32(1.5), np.float32(2.5)],
        [np.int16(3), np.int16(4)],
        [1.5, 2.5],
        [1, 2],
        [True, False],
        ["a", "b"],
        [b"x", b"y"],
        [{"a": 1, "b": arr(1)}, {"a": 2, "b": arr(2)}],
        [(1, 2.0, "s"), (3, 4.0, "t")],
        [[1, 2], [3, 4]],
        [Point(1, lib.tensor(1.0)), Point(2, lib.tensor(2.0))],
        [{"n": [Point(1.0, {"z": 2})], "t": (lib.zeros(2, 2), 5)}, {"n": [Point(3.0, {"z": 4})],
                                                                    "t": (lib.ones(2, 2), 6)}],
    ]


def test_default_collate_matches_torch():
    for g_batch, t_batch in zip(_samples(gc), _samples(torch)):
        assert norm(gdata.default_collate(g_batch)) == norm(tdata.default_collate(t_batch))


def test_default_convert_matches_torch():
    for make in (lambda lib: np.arange(4, dtype=np.int32), lambda lib: {"a": np.float64(2.0), "b": [np.ones(2), "s"]},
                 lambda lib: (np.zeros(1), 3), lambda lib: Point(np.int64(1), "p"), lambda lib: 7, lambda lib: "s",
                 lambda lib: np.array(["a", "b"])):
        g, t = gdata.default_convert(make(gc)), tdata.default_convert(make(torch))
        if isinstance(t, np.ndarray):
            assert isinstance(g, np.ndarray) and g.tolist() == t.tolist()
        else:
            assert norm(g) == norm(t)


def test_default_collate_errors_match_torch():
    bad = [lambda lib: [lib.zeros(2), lib.zeros(3)],
           lambda lib: [[1, 2], [1]],
           lambda lib: [object(), object()],
           lambda lib: [np.array(["a"]), np.array(["b"])]]
    for make in bad:
        with pytest.raises(Exception) as te:
            tdata.default_collate(make(torch))
        with pytest.raises(type(te.value)) as ge:
            gdata.default_collate(make(gc))
        assert str(ge.value).split(";")[0].split(",")[0] == str(te.value).split(";")[0].split(",")[0]


# ---- DataLoader contents vs torch -----------------------------------------------------------------
class MapDS:
    """A torch-style map-style dataset (no base class): dict samples with mixed types."""

    def __init__(self, lib, n=10):
        self.lib, self.n = lib, n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if not 0 <= i < self.n:
            raise IndexError(i)
        return {"x": self.lib.full((3,), float(i)), "y": i, "name": f"s{i}", "w": np.float32(i) / 2}

    def __iter__(self):  # never used by the loader: a map-style dataset is read by index
        raise AssertionError("the DataLoader iterated a map-style dataset")


def _loaders():
    X = np.arange(30, dtype=np.float32).reshape(10, 3)
    y = np.arange(10) % 3
    return [
        lambda m, lib: m.DataLoader(m.TensorDataset(lib.from_numpy(X), lib.from_numpy(y)), batch_size=4),
        lambda m, lib: m.DataLoader(m.TensorDataset(lib.from_numpy(X), lib.from_numpy(y)), batch_size=4,
                                    drop_last=True),
        lambda m, lib: m.DataLoader(m.TensorDataset(lib.from_numpy(X)), 3),
        lambda m, lib: m.DataLoader(lib.from_numpy(X), batch_size=4),
        lambda m, lib: m.DataLoader(X, batch_size=4),
        lambda m, lib: m.DataLoader(y, batch_size=4),
        lambda m, lib: m.DataLoader(MapDS(lib), batch_size=3),
        lambda m, lib: m.DataLoader(MapDS(lib), batch_size=None),
        lambda m, lib: m.DataLoader(m.TensorDataset(lib.from_numpy(X)), batch_size=None),
        lambda m, lib: m.DataLoader(list(range(7)), batch_size=2, collate_fn=lambda b: sum(b)),
        lambda m, lib: m.DataLoader(MapDS(lib), batch_sampler=[[3, 1], [0], [9, 8, 7]]),
        lambda m, lib: m.DataLoader(m.TensorDataset(lib.from_numpy(X)), batch_sampler=[[3, 1], [0], [9, 8, 7]]),
        lambda m, lib: m.DataLoader(m.TensorDataset(lib.from_numpy(X)), sampler=[9, 0, 4], batch_size=2),
        lambda m, lib: m.DataLoader(m.Subset(m.TensorDataset(lib.from_numpy(X)), [1, 5, 2]), batch_size=2),
        lambda m, lib: m.DataLoader(m.StackDataset(a=lib.from_numpy(X), b=lib.from_numpy(y)), batch_size=4),
        lambda m, lib: m.DataLoader(m.ConcatDataset([MapDS(lib, 2), MapDS(lib, 3)]), batch_size=2),
        lambda m, lib: m.DataLoader(list(range(5)), sampler=m.DistributedSampler(range(5), 2, 1, shuffle=False),
                                    batch_size=2),
    ]


@pytest.mark.parametrize("k", range(len(_loaders())))
def test_dataloader_batches_equal_torch(k):
    make = _loaders()[k]
    gl, tl = make(gdata, gc), make(tdata, torch)
    assert len(gl) == len(tl)
    assert norm(list(gl)) == norm(list(tl))
    assert norm(list(gl)) == norm(list(tl))  # a second epoch


class Stream(gdata.IterableDataset):
    def __init__(self, n, lib, with_len=True):
        self.n, self.lib, self.with_len = n, lib, with_len

    def __iter__(self):
        for i in range(self.n):
            yield self.lib.tensor([i, i * i])

    def __len__(self):
        if not self.with_len:
            raise TypeError("no len")
        return self.n


class TStream(tdata.IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        for i in range(self.n):
            yield torch.tensor([i, i * i])

    def __len__(self):
        return self.n


@pytest.mark.parametrize("kw", [{"batch_size": 3}, {"batch_size": 3, "drop_last": True}, {"batch_size": None},
                                {"batch_size": 2, "collate_fn": lambda b: len(b)}])
def test_iterable_dataset_batches_equal_torch(kw):
    gl, tl = gdata.DataLoader(Stream(7, gc), **kw), tdata.DataLoader(TStream(7), **kw)
    assert len(gl) == len(tl)
    assert norm(list(gl)) == norm(list(tl))


def test_iterable_len_overrun_warns_like_torch():
    class Liar(Stream):
        def __len__(self):
            return 2

    loader = gdata.DataLoader(Liar(4, gc), batch_size=None)
    assert len(loader) == 2
    with pytest.warns(UserWarning, match="was reported to be 2"):
        list(loader)


def test_shuffle_and_generator():
    X = np.arange(50)
    ds = gdata.TensorDataset(X)
    a = [b.tolist() for (b,) in gdata.DataLoader(ds, batch_size=8, shuffle=True, generator=_gen(7))]
    b = [b.tolist() for (b,) in gdata.DataLoader(ds, batch_size=8, shuffle=True, generator=_gen(7))]
    assert a == b and sorted(sum(a, [])) == list(range(50)) and sum(a, []) != list(range(50))
    # the fast path (one index_select per batch) and the per-sample path give the same batches
    slow = [b.tolist() for (b,) in gdata.DataLoader(ds, batch_size=8, shuffle=True, generator=_gen(7),
                                                    collate_fn=lambda s: gdata.default_collate(s))]
    assert slow == a
    gc.manual_seed(1)
    c = [b.tolist() for (b,) in gdata.DataLoader(ds, batch_size=8, shuffle=True)]
    gc.manual_seed(1)
    d = [b.tolist() for (b,) in gdata.DataLoader(ds, batch_size=8, shuffle=True)]
    assert c == d


def test_fast_path_dtypes_and_copies():
    X = np.arange(20, dtype=np.float64).reshape(10, 2)
    ds = gdata.TensorDataset(X, np.arange(10, dtype=np.uint8), np.zeros(10, bool))
    xb, yb, mb = next(iter(gdata.DataLoader(ds, batch_size=4)))
    assert (xb.dtype, yb.dtype, mb.dtype) == (gc.float64, gc.uint8, gc.bool)
    xb[0, 0] = -1.0  # a batch is a copy, as torch's stack makes one
    assert X[0, 0] == 0.0
    # out-of-range indices from a custom sampler raise what indexing one sample raises
    with pytest.raises(IndexError):
        list(gdata.DataLoader(ds, sampler=[0, 99], batch_size=2))


def test_map_style_dataset_is_never_iterated():
    loader = gdata.DataLoader(MapDS(gc, 5), batch_size=2, shuffle=True)
    assert sum(len(b["y"]) for b in loader) == 5


def test_dataloader_attributes():
    ds = gdata.TensorDataset(np.arange(5))
    fn = gdata.default_collate
    loader = gdata.DataLoader(ds, batch_size=2, drop_last=True, collate_fn=fn)
    assert loader.dataset is ds and loader.batch_size == 2 and loader.drop_last
    assert loader.num_workers == 0 and loader.collate_fn is fn
    assert isinstance(loader.sampler, gdata.SequentialSampler) and isinstance(loader.batch_sampler, gdata.BatchSampler)
    assert isinstance(gdata.DataLoader(ds, shuffle=True).sampler, gdata.RandomSampler)
    assert gdata.DataLoader(ds, batch_size=None).collate_fn is gdata.default_convert
    for mod in (gdata, tdata):
        loader = mod.DataLoader(list(range(5)))
        with pytest.raises(ValueError, match="should not be set"):
            loader.batch_size = 3


def test_dataloader_argument_validation_matches_torch():
    class It(gdata.IterableDataset):
        def __iter__(self):
            return iter([1])

    class TIt(tdata.IterableDataset):
        def __iter__(self):
            return iter([1])

    ds = list(range(6))
    cases = [
        dict(num_workers=-1), dict(timeout=-1), dict(prefetch_factor=2), dict(num_workers=1, prefetch_factor=-1),
        dict(persistent_workers=True), dict(sampler=[0, 1], shuffle=True),
        dict(batch_sampler=[[0]], batch_size=2), dict(batch_sampler=[[0]], shuffle=True),
        dict(batch_sampler=[[0]], drop_last=True), dict(batch_sampler=[[0]], sampler=[0]),
        dict(batch_size=None, drop_last=True), dict(batch_size=0), dict(batch_size=1.5),
        dict(multiprocessing_context="fork"), dict(num_workers=1, multiprocessing_context="nope"),
        dict(num_workers=1, multiprocessing_context=3),
    ]
    for kw in cases:
        with pytest.raises(Exception) as te:
            tdata.DataLoader(ds, **kw)
        with pytest.raises(type(te.value)) as ge:
            gdata.DataLoader(ds, **kw)
        assert str(ge.value)[:30] == str(te.value)[:30], kw
    for kw in (dict(shuffle=True), dict(sampler=[0]), dict(batch_sampler=[[0]])):
        with pytest.raises(ValueError, match="IterableDataset"):
            tdata.DataLoader(TIt(), **kw)
        with pytest.raises(ValueError, match="IterableDataset"):
            gdata.DataLoader(It(), **kw)
    with pytest.raises(AssertionError, match="timeout"):
        iter(gdata.DataLoader(ds, timeout=1))
    # the old gradcore form DataLoader(X, y): a clear TypeError naming TensorDataset
    with pytest.raises(TypeError, match="TensorDataset"):
        gdata.DataLoader(np.zeros((4, 2)), np.zeros(4))
    with pytest.raises(TypeError, match="TensorDataset"):
        gdata.DataLoader(gc.zeros(4, 2), gc.zeros(4))


def test_bad_collate_output_and_bad_samples():
    # a collate_fn returning something odd is passed through as torch does; one that raises propagates
    assert list(gdata.DataLoader(list(range(3)), batch_size=2, collate_fn=lambda b: None)) == [None, None]

    def boom(b):
        raise ValueError("bad collate")

    with pytest.raises(ValueError, match="bad collate"):
        list(gdata.DataLoader(list(range(3)), batch_size=2, collate_fn=boom))
    with pytest.raises(RuntimeError, match="stack expects each tensor to be equal size"):
        list(gdata.DataLoader([gc.zeros(2), gc.zeros(3)], batch_size=2))


def test_len_for_samplers():
    ds = list(range(10))
    for kw in ({"batch_size": 3}, {"batch_size": 3, "drop_last": True}, {"batch_size": None},
               {"sampler": gdata.RandomSampler(ds, replacement=True, num_samples=25), "batch_size": 4}):
        tkw = dict(kw)
        if "sampler" in tkw:
            tkw["sampler"] = tdata.RandomSampler(ds, replacement=True, num_samples=25)
        assert len(gdata.DataLoader(ds, **kw)) == len(tdata.DataLoader(ds, **tkw)) == len(list(gdata.DataLoader(ds,
                                                                                                               **kw)))
    assert math.ceil(10 / 3) == len(gdata.DataLoader(Stream(10, gc), batch_size=3))
