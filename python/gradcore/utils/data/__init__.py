"""``gradcore.utils.data`` (also ``gradcore.data``): PyTorch's ``torch.utils.data`` —
datasets, samplers, ``default_collate`` and the ``DataLoader`` (with worker processes) — plus
gradcore's IDX reader for (Fashion-)MNIST (``read_idx``, ``load_fashion_mnist``).

>>> from gradcore.utils.data import DataLoader, TensorDataset
>>> loader = DataLoader(TensorDataset(X, y), batch_size=128, shuffle=True)
"""
from gradcore.utils.data import _utils
from gradcore.utils.data._idx import FASHION_MNIST_DIR, load_fashion_mnist, read_idx
from gradcore.utils.data._utils.collate import default_collate, default_convert
from gradcore.utils.data._utils.worker import get_worker_info
from gradcore.utils.data.dataset import (
    ChainDataset, ConcatDataset, Dataset, IterableDataset, StackDataset, Subset, TensorDataset, random_split,
)
from gradcore.utils.data.sampler import (
    BatchSampler, RandomSampler, Sampler, SequentialSampler, SubsetRandomSampler, WeightedRandomSampler,
)
from gradcore.utils.data.distributed import DistributedSampler
from gradcore.utils.data.dataloader import DataLoader, _DatasetKind
from gradcore.utils.data import dataloader, dataset, distributed, sampler

__all__ = [
    "BatchSampler", "ChainDataset", "ConcatDataset", "DataLoader", "Dataset", "DistributedSampler",
    "FASHION_MNIST_DIR", "IterableDataset", "RandomSampler", "Sampler", "SequentialSampler", "StackDataset",
    "Subset", "SubsetRandomSampler", "TensorDataset", "WeightedRandomSampler", "default_collate",
    "default_convert", "get_worker_info", "load_fashion_mnist", "random_split", "read_idx",
]
