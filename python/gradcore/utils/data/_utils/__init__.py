"""Helpers of ``gradcore.utils.data`` (PyTorch's ``torch.utils.data._utils``): ``collate``, ``worker``."""
from gradcore.utils.data._utils import collate, fetch, worker

__all__ = ["collate", "fetch", "worker"]
