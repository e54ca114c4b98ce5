"""Abort the whole MPI job when one rank dies of an unhandled exception.

Without this, a rank that raises under plain ``python train.py`` simply exits, and the other
ranks wait in their next collective forever. :func:`install_abort_handler` (called by
``init_process_group``) replaces ``sys.excepthook`` and ``threading.excepthook`` so that an
unhandled exception, in the main thread or any other thread, prints::

    [rank 1] Traceback (most recent call last):
    [rank 1]   File "train.py", line 12, in <module>
    [rank 1] ValueError: ...

to stderr, flushes stdout and stderr, and calls ``comm.Abort`` (exit status 1, 130 for
``KeyboardInterrupt``): Open MPI then kills every rank, and ``mpiexec`` exits non-zero
within a few seconds.

``python -m mpi4py train.py`` (what ``gradcore-run`` launches) gives the same guarantee for
the main thread on its own, and also turns ``sys.exit(non-zero)`` on one rank into an
abort; the handler adds the rank prefix and covers exceptions in other threads and scripts
started as ``mpiexec ... python train.py``. A ``sys.exit(non-zero)`` on one rank of a job
started without ``-m mpi4py`` is not an exception reaching the hook: the other ranks then
still wait (call ``comm.Abort(code)`` instead, or launch with gradcore-run).
"""
from __future__ import annotations

import sys
import threading
import traceback
from types import TracebackType
from typing import Any, Callable, Optional, Protocol, Type

__all__ = ["install_abort_handler", "uninstall_abort_handler"]

_ExceptHook = Callable[[Type[BaseException], BaseException, Optional[TracebackType]], Any]
_ThreadHook = Callable[[Any], Any]


class _Comm(Protocol):
    def Get_rank(self) -> int: ...

    def Abort(self, errorcode: int = ...) -> Any: ...


class _State:
    comm: Optional[_Comm] = None
    rank: int = -1
    previous: Optional[_ExceptHook] = None
    previous_thread: Optional[_ThreadHook] = None
    aborting = False


_state = _State()


def _mpi_finalized() -> bool:
    mpi = sys.modules.get("mpi4py.MPI")
    if mpi is None:
        return False
    try:
        return bool(mpi.Is_finalized())
    except Exception:  # pragma: no cover - a broken MPI module: do not hide the error
        return False


def _write_prefixed(lines: list[str]) -> None:
    prefix = f"[rank {_state.rank}] "
    text = "".join(prefix + line + "\n" for chunk in lines for line in chunk.rstrip("\n").split("\n"))
    try:
        sys.stderr.write(text)
    except Exception:  # pragma: no cover - stderr closed: still abort
        pass


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except Exception:  # pragma: no cover - a closed stream must not stop the abort
            pass


def _abort(exc_type: Type[BaseException]) -> None:
    comm = _state.comm
    if comm is None or _mpi_finalized():
        return
    _state.aborting = True
    _flush()
    code = 130 if issubclass(exc_type, KeyboardInterrupt) else 1
    comm.Abort(code)


def _print(exc_type: Type[BaseException], exc: BaseException, tb: Optional[TracebackType],
           previous: Optional[Callable[[], Any]]) -> None:
    if previous is None:  # the default hook: our own formatting, every line with the rank
        _write_prefixed(traceback.format_exception(exc_type, exc, tb))
    else:  # a custom hook (IPython, rich, ...) keeps its format, after a line naming the rank
        _write_prefixed([f"unhandled {exc_type.__name__}; aborting the MPI job:"])
        _flush()
        try:
            previous()
        except Exception:
            _write_prefixed(traceback.format_exception(exc_type, exc, tb))


def _is_launcher_frame(tb: TracebackType) -> bool:
    name = tb.tb_frame.f_code.co_filename.replace("\\", "/")
    return name == "<frozen runpy>" or name.endswith(("/runpy.py", "mpi4py/run.py", "mpi4py/__main__.py"))


def _strip_launcher(tb: Optional[TracebackType]) -> Optional[TracebackType]:
    """Drops the leading frames of ``python -m mpi4py`` / runpy, which say nothing about
    the script (only when a frame of the script itself remains)."""
    start = tb
    while tb is not None and _is_launcher_frame(tb):
        tb = tb.tb_next
    return tb if tb is not None else start


def _excepthook(exc_type: Type[BaseException], exc: BaseException,
                tb: Optional[TracebackType]) -> None:
    tb = _strip_launcher(tb)
    prev = _state.previous
    if _state.aborting:  # pragma: no cover - a second exception while aborting
        return
    custom = None if prev is None or prev is sys.__excepthook__ else (lambda: prev(exc_type, exc, tb))
    _print(exc_type, exc, tb, custom)
    _abort(exc_type)


def _thread_excepthook(args: Any) -> None:
    prev = _state.previous_thread
    if issubclass(args.exc_type, SystemExit) or _state.aborting:
        if prev is not None:  # SystemExit in a thread ends only that thread, as without us
            prev(args)
        return
    name = getattr(args.thread, "name", "?")
    exc_value = args.exc_value if args.exc_value is not None else args.exc_type()
    custom = None
    if prev is not None and prev is not threading.__excepthook__:
        custom = lambda: prev(args)  # noqa: E731
    else:
        _write_prefixed([f"Exception in thread {name}:"])
    _print(args.exc_type, exc_value, args.exc_traceback, custom)
    _abort(args.exc_type)


def install_abort_handler(comm: _Comm) -> None:
    """Makes an unhandled exception on this rank abort the whole job through ``comm.Abort``.

    Sets ``sys.excepthook`` and ``threading.excepthook``; the traceback is printed to stderr
    with every line prefixed by ``[rank R]`` (R = ``comm.Get_rank()``), or, when a custom hook
    was installed before, by that hook after a ``[rank R]`` line. Then stdout and stderr are
    flushed and ``comm.Abort(1)`` ends every rank (never a hang). Idempotent: calling it again
    only switches to the new ``comm``. Once MPI is finalized the hooks only print.
    ``python -m mpi4py`` already aborts on an unhandled exception in the main thread (and on
    ``sys.exit(non-zero)``); this adds the rank prefix and covers other threads and scripts
    started with plain ``python``.
    """
    _state.comm = comm
    _state.rank = int(comm.Get_rank())
    _state.aborting = False
    if sys.excepthook is not _excepthook:
        current = sys.excepthook
        _state.previous = current
        sys.excepthook = _excepthook
    if threading.excepthook is not _thread_excepthook:
        _state.previous_thread = threading.excepthook
        threading.excepthook = _thread_excepthook


def uninstall_abort_handler() -> None:
    """Restores the hooks that were there before :func:`install_abort_handler` (for
    ``destroy_process_group``); does nothing when it is not installed."""
    if sys.excepthook is _excepthook:
        sys.excepthook = _state.previous if _state.previous is not None else sys.__excepthook__
    if threading.excepthook is _thread_excepthook:
        threading.excepthook = (_state.previous_thread if _state.previous_thread is not None
                                else threading.__excepthook__)
    _state.comm = None
    _state.previous = None
    _state.previous_thread = None
