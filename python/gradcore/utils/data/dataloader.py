"""``DataLoader`` (PyTorch's ``torch.utils.data.dataloader``): batches from a dataset, in this
process or in worker processes.

Arguments, defaults, validation and errors are PyTorch's. What gradcore adds:

- A fast path: a ``TensorDataset`` (or a bare tensor / NumPy array as the dataset) with the
  default ``collate_fn`` and automatic batching is gathered with one ``index_select`` per
  tensor and batch (C++, no Python per sample), with the contents and dtypes that
  ``default_collate`` over the samples would give (a list of tensors for a TensorDataset, a
  tensor for a bare tensor). With the built-in sequential/random samplers the epoch's order
  is one index tensor, sliced per batch.
- Worker processes (``num_workers > 0``) return batches through shared memory: a worker writes
  each tensor once into a /dev/shm file and the main process maps it without a copy (see
  ``_utils/worker.py``).

A deliberate difference: gradcore's old ``DataLoader(X, y, batch_size=...)`` form is gone;
passing several arrays positionally raises a TypeError that names ``TensorDataset``.
"""
from __future__ import annotations

import itertools
import multiprocessing
import multiprocessing.context
import os
import queue
import time
import warnings
import weakref
from multiprocessing.reduction import ForkingPickler
from typing import Any, Callable, Dict, Generic, Iterable, Iterator, List, Optional, Tuple, TypeVar

import numpy as np

from gradcore import _core
from gradcore._core import Generator, Tensor
from gradcore.utils.data._utils import collate as _collate
from gradcore.utils.data._utils import worker as _worker
from gradcore.utils.data._utils.fetch import ITERABLE, MAP, create_fetcher
from gradcore.utils.data.dataset import IterableDataset, TensorDataset, _as_tensor
from gradcore.utils.data.sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler

__all__ = ["DataLoader", "default_collate", "default_convert", "get_worker_info"]

default_collate = _collate.default_collate
default_convert = _collate.default_convert
get_worker_info = _worker.get_worker_info

T_co = TypeVar("T_co", covariant=True)

FastSource = Tuple[Tuple[Tensor, ...], bool]  # (tensors, single): gather these; single: yield a tensor, not a list


class _DatasetKind:
    Map = MAP
    Iterable = ITERABLE


class _InfiniteConstantSampler(Sampler[None]):
    """The index "sampler" of an iterable dataset: None forever (the dataset decides the end)."""

    def __iter__(self) -> Iterator[None]:
        while True:
            yield None


def _draw_seed(generator: Optional[Generator]) -> int:
    return int(_core.empty((), dtype=_core.int64).random_(generator=generator).item())


_iterator_ids = itertools.count()


class DataLoader(Generic[T_co]):
    """Iterate over ``dataset`` in batches (PyTorch's ``DataLoader``; see the module docstring).

    >>> loader = DataLoader(TensorDataset(X, y), batch_size=128, shuffle=True)
    >>> for xb, yb in loader: ...

    ``shuffle=True`` uses ``RandomSampler(dataset, generator=generator)``: with
    ``generator=None`` each epoch's order is seeded from the default generator, so
    ``gc.manual_seed`` makes it reproducible. ``pin_memory`` is accepted and does nothing (CPU
    only). ``in_order=False`` is accepted; batches still arrive in order.
    """

    dataset: Any
    batch_size: Optional[int]
    num_workers: int
    pin_memory: bool
    drop_last: bool
    timeout: float
    sampler: Any
    prefetch_factor: Optional[int]
    __initialized = False

    def __init__(self, dataset: Any, batch_size: Optional[int] = 1, shuffle: Optional[bool] = None,
                 sampler: Any = None, batch_sampler: Any = None, num_workers: int = 0,
                 collate_fn: Optional[Callable[[Any], Any]] = None, pin_memory: bool = False, drop_last: bool = False,
                 timeout: float = 0, worker_init_fn: Optional[Callable[[int], None]] = None,
                 multiprocessing_context: Any = None, generator: Optional[Generator] = None, *,
                 prefetch_factor: Optional[int] = None, persistent_workers: bool = False,
                 pin_memory_device: str = "", in_order: bool = True) -> None:
        for name, value in (("batch_size", batch_size), ("shuffle", shuffle), ("sampler", sampler),
                            ("batch_sampler", batch_sampler)):
            if isinstance(value, (np.ndarray, Tensor)):
                raise TypeError(
                    f"DataLoader got an array as {name}: the first argument is the dataset, and several arrays are "
                    f"no longer accepted positionally (gradcore's old DataLoader(X, y, ...) form). Use "
                    f"DataLoader(TensorDataset(X, y), batch_size=..., shuffle=...), as with PyTorch.")
        if num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to disable "
                             "multiprocessing.")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in multiprocessing.let num_workers > 0 "
                             "to enable multiprocessing, otherwise set prefetch_factor to None.")
        elif num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        elif prefetch_factor is not None and prefetch_factor < 0:
            raise ValueError("prefetch_factor option should be non-negative")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")

        self.dataset = dataset
        self.num_workers = num_workers
        self.prefetch_factor = prefetch_factor
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.in_order = in_order

        if isinstance(dataset, IterableDataset):
            self._dataset_kind = _DatasetKind.Iterable
            if shuffle not in {False, None}:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified shuffle option, but got "
                                 f"shuffle={shuffle}")
            if sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified sampler option, but got "
                                 f"sampler={sampler}")
            if batch_sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified batch_sampler option, but "
                                 f"got batch_sampler={batch_sampler}")
        else:
            shuffle = bool(shuffle)
            self._dataset_kind = _DatasetKind.Map

        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, and "
                                 "drop_last")
            batch_size = None
            drop_last = False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually exclusive with drop_last")

        if sampler is None:
            if self._dataset_kind == _DatasetKind.Iterable:
                sampler = _InfiniteConstantSampler()
            elif shuffle:
                sampler = RandomSampler(dataset, generator=generator)
            else:
                sampler = SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)

        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.generator = generator
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn
        self.persistent_workers = persistent_workers
        self._fast_cache: Optional[Tuple[Tensor, ...]] = None
        self.__initialized = True
        self._IterableDataset_len_called: Optional[int] = None
        self._iterator: Optional[_BaseDataLoaderIter] = None

    @property
    def multiprocessing_context(self) -> Any:
        return self.__multiprocessing_context

    @multiprocessing_context.setter
    def multiprocessing_context(self, multiprocessing_context: Any) -> None:
        if multiprocessing_context is not None:
            if self.num_workers > 0:
                if isinstance(multiprocessing_context, str):
                    valid = multiprocessing.get_all_start_methods()
                    if multiprocessing_context not in valid:
                        raise ValueError(f"multiprocessing_context option should specify a valid start method in "
                                         f"{valid!r}, but got multiprocessing_context={multiprocessing_context!r}")
                    multiprocessing_context = multiprocessing.get_context(multiprocessing_context)
                if not isinstance(multiprocessing_context, multiprocessing.context.BaseContext):
                    raise TypeError(f"multiprocessing_context option should be a valid context object or a string "
                                    f"specifying the start method, but got "
                                    f"multiprocessing_context={multiprocessing_context}")
            else:
                raise ValueError(f"multiprocessing_context can only be used with multi-process loading "
                                 f"(num_workers > 0), but got num_workers={self.num_workers}")
        self.__multiprocessing_context = multiprocessing_context

    def __setattr__(self, attr: str, val: Any) -> None:
        if self.__initialized and attr in ("batch_size", "batch_sampler", "sampler", "drop_last", "dataset",
                                           "persistent_workers"):
            raise ValueError(f"{attr} attribute should not be set after {self.__class__.__name__} is initialized")
        super().__setattr__(attr, val)

    @property
    def _auto_collation(self) -> bool:
        return self.batch_sampler is not None

    @property
    def _index_sampler(self) -> Any:
        return self.batch_sampler if self._auto_collation else self.sampler

    def _fast_source(self) -> Optional[FastSource]:
        """The tensors to gather batches from with index_select, when the result equals
        default_collate over the samples; else None."""
        if self.collate_fn is not default_collate or not self._auto_collation:
            return None
        ds = self.dataset
        if isinstance(ds, TensorDataset) and type(ds).__getitem__ is TensorDataset.__getitem__:
            if ds.tensors and all(isinstance(t, Tensor) and t.dim() >= 1 for t in ds.tensors):
                return tuple(ds.tensors), False
            return None
        if isinstance(ds, Tensor):
            return ((ds,), True) if ds.dim() >= 1 else None
        if isinstance(ds, np.ndarray) and ds.ndim >= 1:
            if self._fast_cache is None:
                t = _as_tensor(ds)
                if not isinstance(t, Tensor):
                    return None
                object.__setattr__(self, "_fast_cache", (t,))
            assert self._fast_cache is not None
            return self._fast_cache, True
        return None

    def _get_iterator(self) -> "_BaseDataLoaderIter":
        if self.num_workers == 0:
            return _SingleProcessDataLoaderIter(self)
        return _MultiProcessingDataLoaderIter(self)

    def __iter__(self) -> "_BaseDataLoaderIter":
        if self.persistent_workers and self.num_workers > 0:
            if self._iterator is None:
                self._iterator = self._get_iterator()
            else:
                self._iterator._reset(self)
            return self._iterator
        return self._get_iterator()

    def __len__(self) -> int:
        if self._dataset_kind == _DatasetKind.Iterable:
            length = len(self.dataset)
            self._IterableDataset_len_called = length
            if self.batch_size is not None:
                if self.drop_last:
                    return length // self.batch_size
                return (length + self.batch_size - 1) // self.batch_size
            return length
        return len(self._index_sampler)


class _BaseDataLoaderIter:
    def __init__(self, loader: DataLoader[Any]) -> None:
        self._dataset = loader.dataset
        self._dataset_kind = loader._dataset_kind
        self._IterableDataset_len_called = loader._IterableDataset_len_called
        self._auto_collation = loader._auto_collation
        self._drop_last = loader.drop_last
        self._index_sampler = loader._index_sampler
        self._num_workers = loader.num_workers
        self._prefetch_factor = loader.prefetch_factor
        self._timeout = loader.timeout
        self._collate_fn = loader.collate_fn
        self._fast = loader._fast_source()
        self._sampler_iter: Optional[Iterator[Any]] = iter(self._index_sampler)
        self._base_seed = _draw_seed(loader.generator)
        self._persistent_workers = loader.persistent_workers
        self._num_yielded = 0

    def __iter__(self) -> "_BaseDataLoaderIter":
        return self

    def _reset(self, loader: DataLoader[Any], first_iter: bool = False) -> None:
        self._sampler_iter = iter(self._index_sampler)
        self._num_yielded = 0
        self._IterableDataset_len_called = loader._IterableDataset_len_called

    def _next_index(self) -> Any:
        assert self._sampler_iter is not None
        return next(self._sampler_iter)

    def _next_data(self) -> Any:
        raise NotImplementedError

    def __next__(self) -> Any:
        data = self._next_data()
        self._num_yielded += 1
        if (self._dataset_kind == _DatasetKind.Iterable and self._IterableDataset_len_called is not None
                and self._num_yielded > self._IterableDataset_len_called):
            msg = (f"Length of IterableDataset {self._dataset} was reported to be {self._IterableDataset_len_called}"
                   f"(when accessing len(dataloader)), but {self._num_yielded} samples have been fetched. ")
            if self._num_workers > 0:
                msg += ("For multiprocessing data-loading, this could be caused by not properly configuring the "
                        "IterableDataset replica at each worker.")
            warnings.warn(msg, stacklevel=2)
        return data

    def __len__(self) -> int:
        return len(self._index_sampler)

    def __getstate__(self) -> Any:
        raise NotImplementedError(f"{self.__class__.__name__} cannot be pickled")


class _SingleProcessDataLoaderIter(_BaseDataLoaderIter):
    def __init__(self, loader: DataLoader[Any]) -> None:
        super().__init__(loader)
        if self._timeout != 0:
            raise AssertionError("_SingleProcessDataLoaderIter requires timeout == 0")
        self._fetcher = create_fetcher(self._dataset_kind, self._dataset, self._auto_collation, self._collate_fn,
                                       self._drop_last, self._fast)
        # With the built-in samplers, the fast path slices one index tensor per epoch.
        bs = self._index_sampler
        self._slices = (self._fast is not None and type(bs) is BatchSampler
                        and type(bs.sampler) in (SequentialSampler, RandomSampler))
        self._epoch_index: Optional[Tensor] = None
        self._pos = 0

    def _reset(self, loader: DataLoader[Any], first_iter: bool = False) -> None:
        super()._reset(loader, first_iter)
        self._epoch_index, self._pos = None, 0

    def _next_data(self) -> Any:
        if self._slices:
            bs = self._index_sampler
            if self._epoch_index is None:
                self._epoch_index = bs.sampler._index_tensor()
            n = self._epoch_index.shape[0]
            lo = self._pos
            hi = min(lo + bs.batch_size, n)
            if lo >= n or (bs.drop_last and hi - lo < bs.batch_size):
                raise StopIteration
            self._pos = hi
            return self._fetcher.gather(self._epoch_index[lo:hi])
        return self._fetcher.fetch(self._next_index())


class _MultiProcessingDataLoaderIter(_BaseDataLoaderIter):
    """Workers fetch and collate; the main process hands out batches in sampler order, keeping
    ``prefetch_factor * num_workers`` tasks in flight, and watches for dead workers."""

    def __init__(self, loader: DataLoader[Any]) -> None:
        super().__init__(loader)
        assert self._prefetch_factor is not None and self._num_workers > 0
        ctx = loader.multiprocessing_context or multiprocessing.get_context()
        self._shm_prefix = f"gradcore_dl_{os.getpid()}_{next(_iterator_ids)}_"
        self._worker_init_fn = loader.worker_init_fn
        self._workers: List[Any] = []
        self._index_queues: List[Any] = []
        self._data_queue = ctx.Queue()
        self._workers_done_event = ctx.Event()
        self._owner_pid = os.getpid()
        self._shutdown = False
        # Files of batches still in flight when the interpreter exits without collecting this
        # iterator (its __del__ does not run then) are removed at exit all the same.
        weakref.finalize(self, _worker.remove_shm_files, self._shm_prefix)
        try:
            for i in range(self._num_workers):
                # A SimpleQueue writes in the calling thread: the main process runs no queue feeder
                # threads (so nothing races with closing the queues, and a fork copies no half-sent data).
                iq = ctx.SimpleQueue()
                w = ctx.Process(
                    target=_worker.worker_loop,
                    args=(self._dataset_kind, self._dataset, iq, self._data_queue, self._workers_done_event,
                          self._auto_collation, self._collate_fn, self._drop_last, self._base_seed,
                          self._worker_init_fn, i, self._num_workers, self._shm_prefix, os.getpid(), self._fast),
                    daemon=True)
                w.start()
                self._index_queues.append(iq)
                self._workers.append(w)
        except BaseException:
            self._shutdown_workers()
            raise
        self._reset(loader, first_iter=True)

    def _reset(self, loader: DataLoader[Any], first_iter: bool = False) -> None:
        super()._reset(loader, first_iter)
        self._send_idx = 0  # the next task index to send
        self._rcvd_idx = 0  # the next task index to hand out
        self._task_info: Dict[int, Tuple[Any, ...]] = {}  # task -> (worker,) or (worker, data) when early
        self._tasks_outstanding = 0
        self._workers_status = [True] * self._num_workers
        self._worker_queue_idx_cycle = itertools.cycle(range(self._num_workers))
        if not first_iter:  # persistent workers: restart their fetchers, wait until all did
            for q in self._index_queues:
                q.put(_worker._ResumeIteration())
            pending = self._num_workers
            while pending > 0:
                idx, _ = self._get_data()
                if isinstance(idx, _worker._ResumeIteration):
                    pending -= 1
        assert self._prefetch_factor is not None
        for _ in range(self._prefetch_factor * self._num_workers):
            self._try_put_index()

    def _try_put_index(self) -> None:
        try:
            index = self._next_index()
        except StopIteration:
            return
        for _ in range(self._num_workers):
            worker_id = next(self._worker_queue_idx_cycle)
            if self._workers_status[worker_id]:
                break
        else:
            return  # every worker has exhausted its iterable dataset
        self._index_queues[worker_id].put((self._send_idx, index))
        self._task_info[self._send_idx] = (worker_id,)
        self._tasks_outstanding += 1
        self._send_idx += 1

    def _check_workers(self) -> None:
        dead = [w for i, w in enumerate(self._workers) if self._workers_status[i] and not w.is_alive()]
        if dead:
            pids = ", ".join(str(w.pid) for w in dead)
            codes = ", ".join(str(w.exitcode) for w in dead)
            self._shutdown_workers()
            raise RuntimeError(f"DataLoader worker (pid(s) {pids}) exited unexpectedly (exit code(s) {codes}; a "
                               f"negative code is the signal that killed it)")

    def _get_data(self) -> Tuple[Any, Any]:
        """The next (task index, data) from any worker; RuntimeError when a worker died or
        ``timeout`` seconds pass without one."""
        deadline = time.monotonic() + self._timeout if self._timeout > 0 else None
        while True:
            wait = _worker.MP_STATUS_CHECK_INTERVAL
            if deadline is not None:
                wait = min(wait, max(deadline - time.monotonic(), 0.0))
            try:
                payload = self._data_queue.get(timeout=wait)
            except queue.Empty:
                self._check_workers()
                if deadline is not None and time.monotonic() >= deadline:
                    self._shutdown_workers()
                    raise RuntimeError(f"DataLoader timed out after {self._timeout} seconds") from None
                continue
            # Inter-process messages from this loader's own workers, decoded as multiprocessing's
            # Queue.get would (no file is ever unpickled); tensors in them map /dev/shm files.
            result: Tuple[Any, Any] = ForkingPickler.loads(payload)
            return result

    def _next_data(self) -> Any:
        if self._shutdown:
            raise StopIteration
        while True:
            while self._rcvd_idx < self._send_idx:
                info = self._task_info.get(self._rcvd_idx)
                if info is not None and (len(info) == 2 or self._workers_status[info[0]]):
                    break
                self._task_info.pop(self._rcvd_idx, None)  # its worker is exhausted: skip it
                self._rcvd_idx += 1
            else:
                if not self._persistent_workers:
                    self._shutdown_workers()
                raise StopIteration
            if len(self._task_info[self._rcvd_idx]) == 2:
                data = self._task_info.pop(self._rcvd_idx)[1]
                self._rcvd_idx += 1
                return self._process_data(data)
            idx, data = self._get_data()
            self._tasks_outstanding -= 1
            if isinstance(data, _worker._IterableDatasetStopIteration):
                self._workers_status[data.worker_id] = False
                if not self._persistent_workers:
                    self._index_queues[data.worker_id].put(None)
                self._try_put_index()
                continue
            if idx != self._rcvd_idx:
                self._task_info[idx] += (data,)  # early: keep it until its turn
                continue
            del self._task_info[idx]
            self._rcvd_idx += 1
            return self._process_data(data)

    def _process_data(self, data: Any) -> Any:
        self._try_put_index()
        if isinstance(data, _worker.ExceptionWrapper):
            data.reraise()
        return data

    def _shutdown_workers(self) -> None:
        """Stop the workers, drop batches still in flight and their shared-memory files; safe
        to call twice (and from ``__del__``)."""
        if getattr(self, "_shutdown", True) or os.getpid() != self._owner_pid:
            return  # done already, or a forked copy of this object (in a worker) being collected
        self._shutdown = True
        try:
            self._workers_done_event.set()
            for q in self._index_queues:
                try:
                    q.put(None)
                except (OSError, ValueError):
                    pass
            # Keep reading while they exit, so that none blocks flushing into a full pipe.
            deadline = time.monotonic() + 1.0  # then terminate: a worker stuck in __getitem__ is not waited for
            while any(w.is_alive() for w in self._workers) and time.monotonic() < deadline:
                try:
                    self._data_queue.get(timeout=0.02)
                except (queue.Empty, OSError, EOFError, ValueError):
                    pass
            for w in self._workers:
                w.join(timeout=1.0)
                if w.is_alive():
                    w.terminate()
                    w.join(timeout=1.0)
            while True:
                try:
                    self._data_queue.get_nowait()
                except (queue.Empty, OSError, EOFError, ValueError):
                    break
        finally:
            for q in self._index_queues:
                q.close()
            self._data_queue.cancel_join_thread()
            self._data_queue.close()
            for w in self._workers:
                if not w.is_alive():
                    w.close()
            _worker.remove_shm_files(self._shm_prefix)

    def __del__(self) -> None:
        self._shutdown_workers()

