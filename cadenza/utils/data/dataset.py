"""``torch.utils.data.dataset``'s names (implemented in ``cadenza.data.dataset``)."""
from ...data.dataset import (ChainDataset, ConcatDataset, Dataset, IterableDataset,
                             StackDataset, Subset, TensorDataset, random_split)

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "StackDataset", "ConcatDataset",
           "ChainDataset", "Subset", "random_split"]
