"""A collective one rank never joins (timeout naming it) and, under
GRADCORE_DISTRIBUTED_DEBUG=DETAIL, collectives of different shapes (a mismatch raised on
every rank). Argument: "timeout" or "mismatch"."""
import datetime
import os
import sys
import time

import gradcore as gc
import gradcore.distributed as dist

dist.init_process_group("mpi", timeout=datetime.timedelta(seconds=2))
r, n = dist.get_rank(), dist.get_world_size()
dist.all_reduce(gc.ones(3))  # collective #1 works everywhere
if sys.argv[1] == "timeout":
    if r == n - 1:
        time.sleep(8)  # never joins collective #2 in time
        os._exit(0)
    try:
        dist.all_reduce(gc.ones(3))
    except RuntimeError as e:
        print(f"TIMEOUT rank {r}: {e}", flush=True)
        os._exit(0)
    print(f"NO ERROR rank {r}", flush=True)
    os._exit(1)
else:
    assert os.environ.get("GRADCORE_DISTRIBUTED_DEBUG") == "DETAIL"
    try:
        dist.all_reduce(gc.ones(3 + (r == 1)))
    except RuntimeError as e:
        print(f"MISMATCH rank {r}: {e}", flush=True)
    if r == 0:  # a bad argument on one rank raises before it takes a sequence number
        try:
            dist.broadcast(gc.ones(2), src=99)
        except RuntimeError:
            pass
    dist.all_reduce(gc.ones(2))  # the group still works: the mismatched op never started
    dist.destroy_process_group()
    print(f"OK rank {r}", flush=True)
