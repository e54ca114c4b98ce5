"""``gradcore.multiprocessing``: Python's ``multiprocessing``, plus ``spawn`` for data-parallel
scripts written for ``torch.multiprocessing.spawn``.

PyTorch's ``spawn(fn, args, nprocs)`` starts ``nprocs`` processes that each call
``fn(rank, *args)`` and meet in ``init_process_group("gloo", rank=rank, world_size=nprocs)``.
gradcore's process groups run on MPI, whose ranks must be started together by ``mpiexec``;
so ``spawn`` called in a plain process re-runs the program (the same script or ``-m``
module, the same arguments) on ``nprocs`` MPI ranks through ``gradcore-run``, and waits for
the job. Inside that job, the same ``spawn`` call runs ``fn(rank, *args)`` with the rank's
MPI rank and then ends the process (``sys.exit(0)``), so what follows ``spawn`` in the
program runs only in the original process, as with PyTorch.

The difference to know: each rank runs the program from its start, so code before the
``spawn`` call runs on every rank too (PyTorch's children skip the ``if __name__ ==
"__main__":`` block). Keep it to argument parsing and setup that is safe to repeat. A rank
that raises ends the whole job (its rank and traceback are printed) and ``spawn`` raises
:class:`ProcessRaisedException` in the original process.
"""
from __future__ import annotations

import multiprocessing as _mp
import os
import subprocess
import sys
from multiprocessing import *  # noqa: F401,F403  (torch.multiprocessing re-exports it too)
from typing import Any, Callable, Optional, Sequence

__all__ = list(getattr(_mp, "__all__", [])) + [
    "spawn", "start_processes", "ProcessException", "ProcessRaisedException", "ProcessExitedException"]

# Set for the ranks of a job that spawn() started: the nprocs it was asked for.
_SPAWNED = "GRADCORE_SPAWN_NPROCS"


class ProcessException(Exception):
    """A process started by :func:`spawn` failed (PyTorch's base class)."""

    def __init__(self, msg: str, error_index: int = -1, pid: Optional[int] = None) -> None:
        super().__init__(msg)
        self.msg = msg
        self.error_index = error_index
        self.pid = pid


class ProcessRaisedException(ProcessException):
    """A rank raised: the job ended with a non-zero status; the rank's traceback was printed
    by the job (gradcore prints ``[rank R] Traceback ...`` before aborting)."""


class ProcessExitedException(ProcessException):
    """The job ended with a non-zero status without a Python exception (a signal, sys.exit)."""

    def __init__(self, msg: str, error_index: int = -1, pid: Optional[int] = None, exit_code: int = 0,
                 signal_name: Optional[str] = None) -> None:
        super().__init__(msg, error_index, pid)
        self.exit_code = exit_code
        self.signal_name = signal_name


def _program() -> Sequence[str]:
    """How this process's program was started: ``["-m", module]`` or ``[script]``."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if spec is not None and spec.name not in ("__main__", "mpi4py.__main__"):
        name = spec.name[:-len(".__main__")] if spec.name.endswith(".__main__") else spec.name
        return ["-m", name]
    script = sys.argv[0] if sys.argv else ""
    if not script or script == "-c" or not os.path.isfile(script):
        raise RuntimeError("gradcore.multiprocessing.spawn: the program must be a script file or a -m module "
                           "(it is re-run on each MPI rank; an interactive session or python -c cannot be); "
                           "or launch the script with `gradcore-run -n N script.py` and call the function "
                           "directly with the rank")
    return [script]


def spawn(fn: Callable[..., Any], args: Sequence[Any] = (), nprocs: int = 1, join: bool = True,
          daemon: bool = False, start_method: str = "spawn") -> None:
    """Runs ``fn(rank, *args)`` on ``nprocs`` MPI ranks (see the module docstring); returns
    when all have finished. Raises :class:`ProcessRaisedException` when a rank failed."""
    if not isinstance(nprocs, int) or isinstance(nprocs, bool) or nprocs < 1:
        raise ValueError(f"nprocs must be a positive integer, got {nprocs!r}")
    if not join:
        raise NotImplementedError("gradcore.multiprocessing.spawn(join=False) is not supported: the ranks run as "
                                  "one MPI job, which spawn waits for")
    asked = os.environ.get(_SPAWNED)
    if asked is not None and os.environ.get("OMPI_COMM_WORLD_SIZE"):
        size, rank = int(os.environ["OMPI_COMM_WORLD_SIZE"]), int(os.environ["OMPI_COMM_WORLD_RANK"])
        if nprocs != size:
            raise ValueError(f"gradcore.multiprocessing.spawn: nprocs={nprocs} on a rank of a {size}-rank job "
                             f"(the program asked spawn for {asked}; it must ask the same on every rank)")
        fn(rank, *args)
        sys.stdout.flush()
        sys.exit(0)
    from gradcore.distributed.run import build_command

    env = dict(os.environ)
    env[_SPAWNED] = str(nprocs)
    plan = build_command(["-n", str(nprocs), "--", *_program(), *sys.argv[1:]], environ=env)
    sys.stdout.flush()
    sys.stderr.flush()
    rc = subprocess.call(plan.command, env=env)
    if rc < 0:
        raise ProcessExitedException(f"process 0 terminated with signal {-rc}", 0, exit_code=rc,
                                     signal_name=str(-rc))
    if rc != 0:
        raise ProcessRaisedException(f"a process of the {nprocs}-rank job failed (exit status {rc}); "
                                     f"its rank and traceback are printed above", 0)


def start_processes(fn: Callable[..., Any], args: Sequence[Any] = (), nprocs: int = 1, join: bool = True,
                    daemon: bool = False, start_method: str = "spawn") -> None:
    """PyTorch's general form of :func:`spawn` (every start method runs as spawn does here)."""
    spawn(fn, args, nprocs, join, daemon, start_method)
