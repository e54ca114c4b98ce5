"""``gradcore.nn.parallel`` (PyTorch's ``torch.nn.parallel``): DistributedDataParallel."""
from gradcore.nn.parallel.distributed import DistributedDataParallel

__all__ = ["DistributedDataParallel"]
