"""``gradcore.utils`` (PyTorch's ``torch.utils``): ``data`` (datasets, samplers, DataLoader)."""
from gradcore.utils import data

__all__ = ["data"]
