"""Process groups on MPI: the default group, ``new_group``, ranks, and the timeout monitor.

A ``ProcessGroup`` owns an MPI communicator (a duplicate of ``COMM_WORLD`` or a split of it),
so that its messages never mix with another group's or with the user's own mpi4py traffic.
Every collective started on a group takes the next sequence number; the number and a
description of the collective in flight are what the monitor reports (Note [Collective
timeouts]).

Note [Collective timeouts]: a rank waiting for a collective polls its MPI request until the
group's timeout. When the timeout passes, it asks every other member, on a private
communicator, which collective of this group it has reached; a monitor thread on each rank
answers from the sequence numbers (threads need ``MPI_THREAD_MULTIPLE``, which mpi4py
requests and Open MPI provides). The RuntimeError then names the collective and the ranks
that did not arrive (those whose count is behind, or that did not answer within a few
seconds). A timed-out collective cannot be cancelled (MPI has no cancel for collectives),
so the group is unusable afterwards, as in PyTorch; an unhandled error aborts the job
(``_abort.install_abort_handler``).
"""
from __future__ import annotations

import datetime
import enum
import os
import sys
import threading
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

__all__ = ["Backend", "ReduceOp", "ProcessGroup", "GroupMember", "group", "init_process_group",
           "destroy_process_group", "new_group", "is_initialized", "is_mpi_available", "is_gloo_available",
           "is_nccl_available", "is_torchelastic_launched", "get_rank", "get_world_size", "get_backend",
           "get_process_group_ranks", "get_global_rank", "get_group_rank", "default_pg_timeout"]

default_pg_timeout = datetime.timedelta(minutes=30)

# Open MPI's non-blocking allreduce (libnbc) picks a binomial tree by default; Rabenseifner's
# reduce-scatter + allgather measured 2-8x faster here for 4-40 MiB buffers. MCA parameters
# are read at MPI_Init, i.e. when mpi4py.MPI is first imported; a user's setting wins.
if "mpi4py.MPI" not in sys.modules:
    os.environ.setdefault("OMPI_MCA_coll_libnbc_iallreduce_algorithm", "3")

# torchrun's variables, for scripts that read them before init_process_group (a torchrun
# script commonly starts with `local_rank = int(os.environ["LOCAL_RANK"])`): under mpiexec
# (gradcore-run) each rank gets RANK, WORLD_SIZE, LOCAL_RANK and LOCAL_WORLD_SIZE from Open
# MPI's own per-rank variables (which win over any inherited from the launching shell).
for _ours, _ompi in (("RANK", "OMPI_COMM_WORLD_RANK"), ("WORLD_SIZE", "OMPI_COMM_WORLD_SIZE"),
                     ("LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_RANK"), ("LOCAL_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_SIZE")):
    if _ompi in os.environ and "OMPI_COMM_WORLD_RANK" in os.environ:
        os.environ[_ours] = os.environ[_ompi]


def _mpi() -> Any:
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise RuntimeError("gradcore.distributed needs mpi4py and Open MPI: pip install 'gradcore[distributed]'") from e
    return MPI


class Backend(str):
    """The backend name (``Backend.MPI == "mpi"``); gradcore's one backend is MPI."""
    UNDEFINED = "undefined"
    GLOO = "gloo"
    NCCL = "nccl"
    UCC = "ucc"
    MPI = "mpi"

    def __new__(cls, name: str) -> "Backend":
        if not isinstance(name, str):
            raise ValueError(f"Backend constructor parameter must be string-ish, but got: {type(name)}")
        return str.__new__(cls, name.lower())


class ReduceOp:
    """``ReduceOp.SUM`` … as in PyTorch. AVG is a sum divided by the group size (floating
    tensors only); PREMUL_SUM is not supported."""

    class RedOpType(enum.IntEnum):
        SUM = 0
        AVG = 1
        PRODUCT = 2
        MIN = 3
        MAX = 4
        BAND = 5
        BOR = 6
        BXOR = 7
        PREMUL_SUM = 8
        UNUSED = 9

    SUM = RedOpType.SUM
    AVG = RedOpType.AVG
    PRODUCT = RedOpType.PRODUCT
    MIN = RedOpType.MIN
    MAX = RedOpType.MAX
    BAND = RedOpType.BAND
    BOR = RedOpType.BOR
    BXOR = RedOpType.BXOR
    PREMUL_SUM = RedOpType.PREMUL_SUM


class ProcessGroup:
    """A set of ranks with its own MPI communicator. ``rank()`` and ``size()`` are this
    process's rank in the group and the group's size; ``ranks`` are the global ranks."""

    def __init__(self, comm: Any, ranks: List[int], timeout: datetime.timedelta, name: str) -> None:
        self.comm = comm
        self.ranks = ranks
        self.timeout = timeout
        self.group_name = name
        self.seq = 0                # collectives started on this group
        self.in_flight = ""         # description of the collective being waited for
        self._debug_comm: Any = None

    def rank(self) -> int:
        return int(self.comm.Get_rank())

    def size(self) -> int:
        return int(self.comm.Get_size())

    def name(self) -> str:
        return "mpi"

    def __repr__(self) -> str:
        return f"ProcessGroup(name={self.group_name!r}, ranks={self.ranks})"


class _NonMember:
    def __repr__(self) -> str:
        return "GroupMember.NON_GROUP_MEMBER"


class GroupMember:
    """``GroupMember.WORLD`` (the default group, None before init) and ``NON_GROUP_MEMBER``
    (what ``new_group`` returns on ranks outside the group)."""
    WORLD: Optional[ProcessGroup] = None
    NON_GROUP_MEMBER: Any = _NonMember()


class group:  # noqa: N801 (PyTorch's name)
    WORLD: Optional[ProcessGroup] = None


class _State:
    def __init__(self) -> None:
        self.world: Optional[ProcessGroup] = None
        self.groups: Dict[str, ProcessGroup] = {}
        self.monitor: Optional["_Monitor"] = None
        self.next_group = 1


_state = _State()


def _debug_detail() -> bool:
    level = os.environ.get("GRADCORE_DISTRIBUTED_DEBUG") or os.environ.get("TORCH_DISTRIBUTED_DEBUG") or ""
    return level.upper() == "DETAIL"


def is_mpi_available() -> bool:
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return False
    return True


def is_gloo_available() -> bool:
    return False


def is_nccl_available() -> bool:
    return False


def is_torchelastic_launched() -> bool:
    return False


def is_initialized() -> bool:
    return _state.world is not None


def _world() -> ProcessGroup:
    if _state.world is None:
        raise ValueError("Default process group has not been initialized, please make sure to call init_process_group.")
    return _state.world


def _resolve(g: Any) -> Any:
    """The group an op runs on: the default one for None; NON_GROUP_MEMBER passes through."""
    if g is None or g is GroupMember.WORLD:
        return _world()
    _world()
    if g is GroupMember.NON_GROUP_MEMBER or isinstance(g, ProcessGroup):
        return g
    raise TypeError(f"group must be a ProcessGroup or None, not {type(g).__name__}")


def init_process_group(backend: Optional[str] = None, init_method: Optional[str] = None,
                       timeout: Optional[datetime.timedelta] = None, world_size: int = -1, rank: int = -1,
                       store: Any = None, group_name: str = "", pg_options: Any = None,
                       device_id: Any = None) -> None:
    """Joins the MPI job as the default process group. Rank and size come from MPI (launch
    with ``gradcore-run -n N script.py``); ``world_size``/``rank``, when given, must agree.
    ``backend`` may be None, "mpi" or "gloo" (both run on MPI: gradcore has one CPU
    transport); "nccl" raises. ``init_method`` and ``store`` are not needed by MPI and are
    ignored. Started by torchrun (or any launcher that sets WORLD_SIZE/RANK) rather than
    mpiexec, every process would be an MPI job of its own: that raises ValueError."""
    if _state.world is not None:
        raise ValueError("trying to initialize the default process group twice!")
    name = Backend(backend) if backend is not None else Backend.MPI
    for part in str(name).replace(",", " ").split():
        b = part.rpartition(":")[2]
        if b not in ("mpi", "gloo"):
            raise RuntimeError(f"gradcore.distributed has only the MPI backend (CPU); backend {backend!r} "
                               "is not available (use 'mpi', or 'gloo', which also runs on MPI)")
    if timeout is not None and not isinstance(timeout, datetime.timedelta):
        raise TypeError(f"Expected timeout argument to be of type datetime.timedelta, got {timeout!r}")
    env_size, env_rank = os.environ.get("WORLD_SIZE"), os.environ.get("RANK")
    launched = os.environ.get("OMPI_COMM_WORLD_SIZE") or os.environ.get("PMI_SIZE")  # set by mpiexec
    if not launched and env_size not in (None, "1"):  # checked before MPI starts in this process
        raise ValueError(f"init_process_group: WORLD_SIZE={env_size} in the environment, but this process was "
                         f"not started by mpiexec: gradcore takes its ranks from MPI, launch with "
                         f"`gradcore-run -n {env_size} script.py` (not torchrun)")
    MPI = _mpi()
    world = MPI.COMM_WORLD
    size, me = world.Get_size(), world.Get_rank()
    if world_size not in (-1, None) and world_size != size:
        raise ValueError(f"init_process_group: world_size={world_size} but MPI started {size} process(es); "
                         f"launch with `gradcore-run -n {world_size} script.py` (rank and size come from MPI)")
    if rank not in (-1, None) and rank != me:
        raise ValueError(f"init_process_group: rank={rank} but this process is MPI rank {me}; "
                         "rank and size come from MPI (gradcore-run)")
    if env_size is not None and env_rank is not None and (int(env_size), int(env_rank)) != (size, me):
        raise ValueError(f"init_process_group: WORLD_SIZE={env_size}, RANK={env_rank} in the environment, "
                         f"but MPI says size {size}, rank {me}: gradcore takes its ranks from MPI, launch with "
                         f"`gradcore-run -n {env_size} script.py` (not torchrun)")
    pg = ProcessGroup(world.Dup(), list(range(size)), timeout or default_pg_timeout, group_name or "0")
    _state.world = pg
    _state.groups = {pg.group_name: pg}
    group.WORLD = pg
    GroupMember.WORLD = pg
    if MPI.Query_thread() == MPI.THREAD_MULTIPLE:
        _state.monitor = _Monitor(world.Dup())
    from gradcore.distributed import _abort
    _abort.install_abort_handler(MPI.COMM_WORLD)


def destroy_process_group(group: Optional[ProcessGroup] = None) -> None:
    """Frees a group's communicator; without an argument, every group, and the default
    group is uninitialised (init_process_group may be called again)."""
    if _state.world is None:
        raise AssertionError("Process group cannot be None")
    if group is not None and group is not _state.world:
        if isinstance(group, ProcessGroup):
            _free(group)
            _state.groups.pop(group.group_name, None)
        return
    if _state.monitor is not None:
        _state.monitor.stop()
        _state.monitor = None
    from gradcore.distributed import _abort
    _abort.uninstall_abort_handler()
    for pg in _state.groups.values():
        _free(pg)
    _state.groups = {}
    _state.world = None
    globals()["group"].WORLD = None
    GroupMember.WORLD = None


def _free(pg: ProcessGroup) -> None:
    for c in (pg.comm, pg._debug_comm):
        if c is not None:
            try:
                c.Free()
            except Exception:  # noqa: BLE001 (already freed, or MPI finalized)
                pass
    pg.comm = None
    pg._debug_comm = None


def new_group(ranks: Optional[Sequence[int]] = None, timeout: Optional[datetime.timedelta] = None,
              backend: Optional[str] = None, pg_options: Any = None, use_local_synchronization: bool = False,
              group_desc: Optional[str] = None, device_id: Any = None, sort_ranks: bool = True) -> Any:
    """A group of the given global ranks (all, when None). Every rank of the default group
    must call it, in the same order; ranks outside get ``GroupMember.NON_GROUP_MEMBER``."""
    world = _world()
    n = world.size()
    members = list(range(n)) if ranks is None else [int(r) for r in ranks]
    if len(members) > n:
        raise ValueError("the new group's world size should be less or equal to the world size set by init_process_group")
    if len(set(members)) != len(members):
        raise ValueError(f"new_group: ranks must be distinct, got {members}")
    for r in members:
        if r < 0 or r >= n:
            raise ValueError("The new group's rank should be within the world_size set by init_process_group")
    if sort_ranks:
        members = sorted(members)
    MPI = _mpi()
    me = world.rank()
    color = 0 if me in members else MPI.UNDEFINED
    key = members.index(me) if me in members else 0
    comm = world.comm.Split(color, key)
    name = str(_state.next_group)
    _state.next_group += 1
    if comm == MPI.COMM_NULL:
        return GroupMember.NON_GROUP_MEMBER
    pg = ProcessGroup(comm, members, timeout or world.timeout, group_desc or name)
    pg.group_name = name
    _state.groups[name] = pg
    return pg


def get_rank(group: Any = None) -> int:
    g = _resolve(group)
    return -1 if g is GroupMember.NON_GROUP_MEMBER else g.rank()


def get_world_size(group: Any = None) -> int:
    g = _resolve(group)
    return -1 if g is GroupMember.NON_GROUP_MEMBER else g.size()


def get_backend(group: Any = None) -> Backend:
    g = _resolve(group)
    if g is GroupMember.NON_GROUP_MEMBER:
        raise ValueError("Invalid process group specified")
    return Backend(Backend.MPI)


def get_process_group_ranks(group: Any) -> List[int]:
    g = _resolve(group)
    return list(g.ranks)


def get_global_rank(group: Any, group_rank: int) -> int:
    g = _resolve(group)
    if group_rank < 0 or group_rank >= len(g.ranks):
        raise ValueError(f"Group rank {group_rank} is not part of group {g}")
    return int(g.ranks[group_rank])


def get_group_rank(group: Any, global_rank: int) -> int:
    g = _resolve(group)
    if global_rank not in g.ranks:
        raise ValueError(f"Global rank {global_rank} is not part of group {g}")
    return int(g.ranks.index(global_rank))


# ---------------------------------------------------------------------------------------------
# Note [Collective timeouts]: the monitor thread and the timeout report.

_QUERY, _REPLY = 1, 2


class _Monitor:
    """Answers peers' "where are you?" queries with this rank's per-group sequence numbers."""

    def __init__(self, comm: Any) -> None:
        self.comm = comm
        self._stop = threading.Event()
        self._lock = threading.Lock()  # one asker at a time uses the communicator for replies
        self.thread = threading.Thread(target=self._run, name="gradcore-distributed-monitor", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        MPI = _mpi()
        status = MPI.Status()
        while not self._stop.wait(0.02):
            try:
                while self.comm.Iprobe(source=MPI.ANY_SOURCE, tag=_QUERY, status=status):
                    src = status.Get_source()
                    self.comm.recv(source=src, tag=_QUERY)
                    state = {name: (pg.seq, pg.in_flight) for name, pg in list(_state.groups.items())}
                    self.comm.send(state, dest=src, tag=_REPLY)
            except Exception:  # noqa: BLE001 (MPI finalized under us at exit)
                return

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(timeout=1.0)
        try:
            self.comm.Free()
        except Exception:  # noqa: BLE001
            pass

    def ask(self, peers: List[int], wait_s: float) -> Dict[int, Dict[str, Tuple[int, str]]]:
        """Each peer's state, for those that answer within wait_s seconds."""
        MPI = _mpi()
        answers: Dict[int, Dict[str, Tuple[int, str]]] = {}
        with self._lock:
            for p in peers:
                self.comm.send(None, dest=p, tag=_QUERY)
            deadline = time.monotonic() + wait_s
            status = MPI.Status()
            while len(answers) < len(peers) and time.monotonic() < deadline:
                if self.comm.Iprobe(source=MPI.ANY_SOURCE, tag=_REPLY, status=status):
                    src = status.Get_source()
                    answers[src] = self.comm.recv(source=src, tag=_REPLY)
                else:
                    time.sleep(0.005)
        return answers


def timeout_error(pg: ProcessGroup, seq: int, desc: str, waited: float) -> RuntimeError:
    """The RuntimeError for collective `seq` of `pg` that waited `waited` seconds."""
    me = _state.world.rank() if _state.world is not None else -1
    head = (f"[rank {me}] gradcore.distributed: {desc} (collective #{seq} of group {pg.group_name}) "
            f"timed out after {waited:.1f} s (timeout {pg.timeout.total_seconds():g} s)")
    if _state.monitor is None:
        return RuntimeError(head + "; the ranks that did not arrive are unknown (MPI has no THREAD_MULTIPLE here)")
    peers = [r for r in pg.ranks if r != me]
    answers = _state.monitor.ask(peers, wait_s=3.0)
    missing, detail = [], []
    for r in peers:
        state = answers.get(r)
        if state is None:
            missing.append(r)
            detail.append(f"rank {r} did not answer")
            continue
        their_seq, their_desc = state.get(pg.group_name, (0, ""))
        if their_seq < seq:
            missing.append(r)
            where = f"is waiting in collective #{their_seq}: {their_desc}" if their_desc else \
                f"has started {their_seq} collective(s) on this group and is not in one"
            detail.append(f"rank {r} {where}")
    if not missing:
        return RuntimeError(head + "; every rank arrived (a transport stall?)")
    return RuntimeError(head + f"; ranks {missing} did not arrive ({'; '.join(detail)}). "
                        "The process group cannot be used after a timeout.")


def fingerprint_check(pg: ProcessGroup, fp: str) -> None:
    """GRADCORE_DISTRIBUTED_DEBUG=DETAIL: every rank compares the collective it is about to
    run with every other rank's and raises the same RuntimeError on all of them on a mismatch."""
    if pg._debug_comm is None:
        pg._debug_comm = pg.comm.Dup()
    import hashlib
    import numpy as np
    digest = np.frombuffer(hashlib.sha1(fp.encode()).digest()[:8], dtype=np.int64).copy()
    all_digests = np.empty(pg.size(), dtype=np.int64)
    req = pg._debug_comm.Iallgather(digest, all_digests)
    wait_requests(pg, [req], pg.seq, f"fingerprint of {fp}")
    if np.all(all_digests == all_digests[0]):
        return
    fps: List[str] = pg._debug_comm.allgather(fp)
    lines = [f"Rank {r} is running collective: {f}" for r, f in zip(pg.ranks, fps)]
    mine = pg.rank()
    other = next(i for i, f in enumerate(fps) if f != fps[mine])
    raise RuntimeError("Detected mismatch between collectives on ranks. "
                       f"Rank {pg.ranks[mine]} is running collective: {fps[mine]}, but Rank {pg.ranks[other]} "
                       f"is running collective: {fps[other]}.\n" + "\n".join(lines))


def wait_requests(pg: ProcessGroup, reqs: List[Any], seq: int, desc: str,
                  timeout: Optional[datetime.timedelta] = None) -> None:
    """Polls reqs to completion (Note [Collective timeouts]); the caller's collective `seq`."""
    if test_all(reqs):
        return
    limit = (timeout or pg.timeout).total_seconds()
    start = time.monotonic()
    pg.in_flight = desc
    spins = 0
    try:
        while not test_all(reqs):
            spins += 1
            if spins > 32:
                os.sched_yield()
            if spins & 255 == 0 and time.monotonic() - start > limit:
                raise timeout_error(pg, seq, desc, time.monotonic() - start)
    finally:
        pg.in_flight = ""


def test_all(reqs: List[Any]) -> bool:
    """Whether every request is complete (progressing them): MPI requests, or objects
    with a Test() method."""
    MPI = _mpi()
    if all(type(r) is MPI.Request for r in reqs):
        return bool(MPI.Request.Testall(reqs))
    return all([r.Test() for r in reqs])
