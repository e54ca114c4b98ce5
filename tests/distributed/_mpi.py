"""Run a scenario on several MPI ranks from pytest: a subprocess per scenario, with a timeout.

    from _mpi import run_mpi          # tests/distributed is on sys.path (no __init__.py)

    def test_allreduce(tmp_path):
        r = run_mpi('''
            import gradcore as gc, gradcore.distributed as dist
            dist.init_process_group("mpi")
            t = gc.ones(3) * (dist.get_rank() + 1)
            dist.all_reduce(t)
            assert t.tolist() == [3.0] * 3, t
            print("ok", dist.get_rank())
        ''', n=2, tmp_path=tmp_path, check=True)
        assert r.stdout.count("ok") == 2

or with the fixture from tests/distributed/conftest.py: ``def test_x(mpi): mpi(script, n=3)``
(``n=3`` on this 2-core machine oversubscribes automatically; ``oversubscribe=True`` forces it).

The script (Python source, dedented, written to ``tmp_path``; or a path to an existing file)
runs as ``mpiexec -n N ... python -m mpi4py script.py args`` with the flags gradcore-run adds
(``gradcore.distributed.run.build_command``), so an unhandled exception on a rank aborts the
job. A job still running after ``timeout`` seconds (a hang: mismatched collectives, a rank
that died without aborting) is killed with its whole process group and the test fails with
the output so far. Without mpi4py or an mpiexec the calling test is skipped.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Mapping, Optional, Sequence, Union

import pytest

REPO = Path(__file__).resolve().parents[2]

# The world sizes every scenario should pass at: @pytest.mark.parametrize("n", WORLD_SIZES).
# 3 ranks on a 2-core machine run oversubscribed (gradcore-run adds --oversubscribe itself);
# an odd size catches algorithms that only work for powers of two.
WORLD_SIZES = (2, 3)


def mpiexec_or_skip() -> str:
    """The mpiexec gradcore-run would use; skips the calling test when mpi4py or it is missing."""
    pytest.importorskip("mpi4py")
    from gradcore.distributed.run import find_mpiexec

    exe = find_mpiexec()
    if exe is None:
        pytest.skip("no mpiexec (pip install 'gradcore[distributed]')")
    return exe


def _script_path(script: Union[str, os.PathLike], tmp_path: Optional[Path]) -> Path:
    if isinstance(script, os.PathLike) or ("\n" not in script and script.endswith(".py")):
        return Path(script)
    directory = Path(tmp_path) if tmp_path is not None else Path(tempfile.mkdtemp(prefix="mpi-"))
    k = 0
    while (directory / f"scenario_{k}.py").exists():
        k += 1
    path = directory / f"scenario_{k}.py"
    path.write_text(textwrap.dedent(script).lstrip("\n"))
    return path


def _kill_group(proc: "subprocess.Popen[str]") -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def run_launcher(argv: Sequence[str], *, timeout: float = 60,
                 env: Optional[Mapping[str, str]] = None,
                 cwd: Optional[Union[str, os.PathLike]] = None) -> "subprocess.CompletedProcess[str]":
    """Runs ``argv`` (a whole command) in its own process group; a job past ``timeout``
    seconds is killed (group and all) and fails the test with its output."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    proc = subprocess.Popen(list(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=full_env, cwd=cwd, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        out, err = proc.communicate()
        pytest.fail(f"MPI job still running after {timeout} s (a hang?), killed: {list(argv)}\n"
                    f"--- stdout ---\n{out}\n--- stderr ---\n{err}")
    finally:
        _kill_group(proc)  # ranks left behind by a failed launch
    return subprocess.CompletedProcess(list(argv), proc.returncode, out, err)


def run_mpi(script: Union[str, os.PathLike], n: int = 2, *, timeout: float = 60,
            oversubscribe: Optional[bool] = None, args: Sequence[str] = (),
            env: Optional[Mapping[str, str]] = None, threads: Optional[int] = None,
            tmp_path: Optional[Path] = None, mpiexec_options: Sequence[str] = (),
            check: bool = False) -> "subprocess.CompletedProcess[str]":
    """Runs ``script`` on ``n`` ranks; returns the CompletedProcess (text stdout/stderr).

    ``oversubscribe``: None = as gradcore-run decides (when n exceeds the usable CPUs),
    True = always. ``threads``: pool threads per rank (default 1). ``env``: extra variables
    for the ranks. ``mpiexec_options``: extra mpiexec options (e.g. ``["--mca", "btl",
    "self,tcp"]``). ``check=True``: a non-zero exit fails the test, showing both streams.
    """
    exe = mpiexec_or_skip()
    from gradcore.distributed.run import build_command

    path = _script_path(script, tmp_path)
    launch = ["-n", str(n)]
    if threads is not None:
        launch += ["--threads", str(threads)]
    if oversubscribe:
        launch.append("--oversubscribe")
    launch += list(mpiexec_options) + ["--", str(path)] + list(args)
    full_env = dict(os.environ)
    full_env.update(env or {})
    # Let the ranks' own flags come from the environment the job will see.
    plan = build_command(launch, mpiexec=exe, environ=full_env, python=sys.executable)
    r = run_launcher(plan.command, timeout=timeout, env=env, cwd=path.parent)
    if check and r.returncode != 0:
        pytest.fail(f"MPI job failed with status {r.returncode} ({n} ranks, {path})\n"
                    f"--- stdout ---\n{r.stdout}\n--- stderr ---\n{r.stderr}")
    return r
