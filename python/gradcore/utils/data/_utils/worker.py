"""DataLoader worker processes: the worker loop, ``get_worker_info``, exception transport and
the shared-memory transport of tensors.

Tensor transport: a tensor pickled by ``multiprocessing`` (``ForkingPickler``, which queues
and spawned processes use) is written once into a fresh file under ``/dev/shm`` and pickled as
(path, dtype, shape). The receiver maps the file, unlinks it at once (the mapping stays valid;
nothing is left behind once the last tensor over it dies) and wraps the mapping zero-copy with
``gc.from_numpy``. A worker names its files with the prefix its iterator gave it, so the main
process can remove files of batches that were never received (a worker killed mid-write, an
iterator shut down with batches in flight).
"""
from __future__ import annotations

import mmap
import os
import random
import sys
import traceback
from dataclasses import dataclass
from multiprocessing.reduction import ForkingPickler
from typing import Any, Callable, Optional, Tuple

import numpy as np

from gradcore import _core
from gradcore._core import Tensor

__all__ = ["ExceptionWrapper", "WorkerInfo", "get_worker_info"]

SHM_DIR = "/dev/shm"
# Seconds a worker waits for an index before checking that its parent is still alive.
MP_STATUS_CHECK_INTERVAL = 0.2


@dataclass(frozen=True)
class WorkerInfo:
    """What ``get_worker_info()`` returns inside a worker: ``id`` (0..num_workers-1),
    ``num_workers``, ``seed`` (the seed gradcore's default generator got: base_seed + id) and
    ``dataset`` (this worker's copy)."""

    id: int
    num_workers: int
    seed: int
    dataset: Any


_worker_info: Optional[WorkerInfo] = None


def get_worker_info() -> Optional[WorkerInfo]:
    """This worker's ``WorkerInfo`` inside a DataLoader worker process; None in the main process."""
    return _worker_info


# ---- exceptions ---------------------------------------------------------------------------
class KeyErrorMessage(str):
    """A str whose repr is itself, so ``KeyError(msg)`` prints the traceback readably."""

    def __repr__(self) -> str:
        return str(self)


class ExceptionWrapper:
    """An exception caught in a worker, carried to the main process as its type and formatted
    traceback (exception objects need not pickle); ``reraise()`` raises the same type there."""

    def __init__(self, exc_info: Optional[Tuple[Any, Any, Any]] = None, where: str = "in background") -> None:
        if exc_info is None:
            exc_info = sys.exc_info()
        self.exc_type: Any = exc_info[0]
        self.exc_msg = "".join(traceback.format_exception(*exc_info))
        self.where = where

    def reraise(self) -> None:
        msg = f"Caught {self.exc_type.__name__} {self.where}.\nOriginal {self.exc_msg}"
        if self.exc_type is KeyError:
            msg = KeyErrorMessage(msg)
        elif getattr(self.exc_type, "message", None):
            raise self.exc_type(message=msg)
        try:
            exception = self.exc_type(msg)
        except Exception:  # a type that cannot be built from one message
            raise RuntimeError(msg) from None
        raise exception


# ---- shared-memory tensor transport -----------------------------------------------------
_shm_prefix: Optional[str] = None  # set in a worker: its iterator's file-name prefix
_shm_counter = 0


def _shm_path() -> str:
    global _shm_counter
    _shm_counter += 1
    prefix = _shm_prefix if _shm_prefix is not None else f"gradcore_{os.getpid()}"
    return os.path.join(SHM_DIR, f"{prefix}_{os.getpid()}_{_shm_counter}")


def _rebuild_tensor_shm(path: str, dtype: str, shape: Tuple[int, ...], as_bf16: bool, requires_grad: bool) -> Tensor:
    fd = os.open(path, os.O_RDWR)
    try:
        size = os.fstat(fd).st_size
        mm = mmap.mmap(fd, size)
    finally:
        os.close(fd)
        os.unlink(path)
    arr = np.frombuffer(mm, dtype=np.dtype(dtype)).reshape(shape)  # keeps mm alive as long as the tensor
    t = _core.from_numpy(arr)
    if as_bf16:
        t = t.to(_core.bfloat16)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _rebuild_tensor_copy(arr: np.ndarray, as_bf16: bool, requires_grad: bool) -> Tensor:
    t = _core.from_numpy(arr)
    if as_bf16:
        t = t.to(_core.bfloat16)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _reduce_tensor(t: Tensor) -> Tuple[Callable[..., Tensor], Tuple[Any, ...]]:
    """Pickle a tensor for another process: its data goes through one /dev/shm file (written
    once here, mapped there), its dtype, shape and requires_grad in the message."""
    src = t.detach()
    as_bf16 = src.dtype == _core.bfloat16
    if as_bf16:  # NumPy has no bfloat16: carry it as float32 (exact), convert back on arrival
        src = src.to(_core.float32)
    arr = np.ascontiguousarray(src.numpy())
    if arr.nbytes == 0:
        return _rebuild_tensor_copy, (arr.copy(), as_bf16, bool(t.requires_grad))
    path = _shm_path()
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        view = memoryview(arr.reshape(-1).view(np.uint8).data)
        done = 0
        while done < len(view):
            done += os.write(fd, view[done:])
    except BaseException:
        os.close(fd)
        os.unlink(path)
        raise
    os.close(fd)
    return _rebuild_tensor_shm, (path, arr.dtype.str, tuple(arr.shape), as_bf16, bool(t.requires_grad))


ForkingPickler.register(Tensor, _reduce_tensor)


def remove_shm_files(prefix: str) -> None:
    """Unlink every /dev/shm file whose name starts with ``prefix`` (batches never received)."""
    try:
        names = os.listdir(SHM_DIR)
    except OSError:
        return
    for name in names:
        if name.startswith(prefix):
            try:
                os.unlink(os.path.join(SHM_DIR, name))
            except OSError:
                pass


# ---- the worker loop ----------------------------------------------------------------------
class _IterableDatasetStopIteration:
    """Sent by a worker whose iterable dataset is exhausted."""

    def __init__(self, worker_id: int) -> None:
        self.worker_id = worker_id


class _ResumeIteration:
    """Sent to persistent workers at the start of each epoch after the first."""


def _seed_worker(seed: int) -> None:
    random.seed(seed)
    _core.manual_seed(seed)
    np.random.seed(seed % (2**32))


def worker_loop(dataset_kind: int, dataset: Any, index_queue: Any, data_queue: Any, done_event: Any,
                auto_collation: bool, collate_fn: Callable[[Any], Any], drop_last: bool, base_seed: int,
                init_fn: Optional[Callable[[int], None]], worker_id: int, num_workers: int, shm_prefix: str,
                parent_pid: int, fast: Any = None) -> None:
    """Run in a worker process: read (task index, sampler index) pairs from ``index_queue``,
    fetch and collate, put the pickled (task index, batch or ExceptionWrapper) on ``data_queue``; exit on
    None, on ``done_event``, or when the parent process is gone."""
    global _worker_info, _shm_prefix
    from gradcore.utils.data._utils.fetch import create_fetcher

    try:
        import signal

        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle
    except (ValueError, OSError):
        pass
    _shm_prefix = shm_prefix
    _core.set_num_threads(1)  # as PyTorch's workers: parallelism comes from the processes, not threads in each
    seed = base_seed + worker_id
    _seed_worker(seed)
    _worker_info = WorkerInfo(id=worker_id, num_workers=num_workers, seed=seed, dataset=dataset)
    init_exception: Optional[ExceptionWrapper] = None
    fetcher: Any = None
    try:
        if init_fn is not None:
            init_fn(worker_id)
        fetcher = create_fetcher(dataset_kind, dataset, auto_collation, collate_fn, drop_last, fast)
    except Exception:
        init_exception = ExceptionWrapper(where=f"in DataLoader worker process {worker_id}")
    exhausted = False
    while True:
        # index_queue is a SimpleQueue (no feeder thread in the main process): poll, then get.
        if not index_queue._reader.poll(MP_STATUS_CHECK_INTERVAL):
            if done_event.is_set() or os.getppid() != parent_pid:
                break
            continue
        r = index_queue.get()
        if r is None:
            break
        if isinstance(r, _ResumeIteration):
            data_queue.put(bytes(ForkingPickler.dumps((r, None))))
            exhausted = False
            if init_exception is None:
                fetcher = create_fetcher(dataset_kind, dataset, auto_collation, collate_fn, drop_last, fast)
            continue
        if done_event.is_set() or exhausted:
            continue  # the main process stops reading; keep draining indices until None
        idx, index = r
        data: Any
        if init_exception is not None:
            data, init_exception = init_exception, None
        else:
            try:
                data = fetcher.fetch(index)
            except StopIteration:
                if dataset_kind == 1:
                    data = _IterableDatasetStopIteration(worker_id)
                    exhausted = True
                else:
                    data = ExceptionWrapper(where=f"in DataLoader worker process {worker_id}")
            except Exception:
                data = ExceptionWrapper(where=f"in DataLoader worker process {worker_id}")
        # Pickled here, not in the queue's feeder thread, so that a batch that cannot be pickled
        # (or a full /dev/shm) becomes an error the main process re-raises instead of a lost batch.
        try:
            payload = bytes(ForkingPickler.dumps((idx, data)))
        except Exception:
            payload = bytes(ForkingPickler.dumps(
                (idx, ExceptionWrapper(where=f"in DataLoader worker process {worker_id}"))))
        del data
        data_queue.put(payload)
    if os.getppid() != parent_pid:  # the main process died without shutting us down
        data_queue.cancel_join_thread()  # nobody reads any more: do not block on a full pipe
        remove_shm_files(shm_prefix)  # and nobody will map the batches in flight
    data_queue.close()
    data_queue.join_thread()  # flush what this worker sent (the main process drains while it waits)
