"""Data loading with ``torch.utils.data``'s API (also importable as ``cadenza.utils.data``).

>>> import cadenza as torch
>>> from cadenza.data import DataLoader, TensorDataset
>>> ds = TensorDataset(torch.randn(10, 3), torch.arange(10))
>>> x, y = next(iter(DataLoader(ds, batch_size=4, shuffle=True)))
>>> tuple(x.shape), tuple(y.shape)
((4, 3), (4,))
"""
from .collate import default_collate, default_convert
from .dataloader import DataLoader, WorkerInfo, get_worker_info
from .dataset import (ChainDataset, ConcatDataset, Dataset, IterableDataset, StackDataset,
                      Subset, TensorDataset, random_split)
from .sampler import (BatchSampler, DistributedSampler, RandomSampler, Sampler,
                      SequentialSampler, SubsetRandomSampler, WeightedRandomSampler)

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "ConcatDataset", "ChainDataset",
           "StackDataset", "Subset", "random_split", "Sampler", "SequentialSampler",
           "RandomSampler", "SubsetRandomSampler", "WeightedRandomSampler", "BatchSampler",
           "DistributedSampler",
           "DataLoader", "default_collate", "default_convert", "get_worker_info", "WorkerInfo"]
