"""``gradcore.utils`` (PyTorch's ``torch.utils``): ``data`` (datasets, samplers, DataLoader)
and ``tensorboard`` (``SummaryWriter``; imported on demand, it needs the optional
``tensorboard`` package)."""
from gradcore.utils import data

__all__ = ["data"]
