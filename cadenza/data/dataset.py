"""Datasets: the map-style ``Dataset`` (``__getitem__`` + ``__len__``), ``IterableDataset``
(``__iter__``), and the combinators ``TensorDataset``, ``ConcatDataset``, ``ChainDataset``,
``StackDataset``, ``Subset`` and ``random_split``, with ``torch.utils.data``'s behaviour.

>>> import cadenza as torch
>>> from cadenza.data import TensorDataset, random_split
>>> ds = TensorDataset(torch.arange(10), torch.arange(10) * 2)
>>> train, val = random_split(ds, [0.8, 0.2], generator=torch.Generator().manual_seed(0))
>>> len(train), len(val)
(8, 2)
"""
from __future__ import annotations

import bisect
import itertools
import math
import warnings

from .._creation import randperm

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "ConcatDataset", "ChainDataset",
           "StackDataset", "Subset", "random_split"]


class Dataset:
    """A map-style dataset: subclasses define ``__getitem__(index)`` (and usually ``__len__``).

    >>> class Squares(Dataset):
    ...     def __len__(self): return 4
    ...     def __getitem__(self, i): return i * i
    >>> Squares()[3]
    9
    """

    def __getitem__(self, index):
        raise NotImplementedError("Subclasses of Dataset should implement __getitem__.")

    def __add__(self, other: "Dataset") -> "ConcatDataset":
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """A stream of samples: subclasses define ``__iter__``. With ``num_workers > 0`` every
    worker process iterates its own copy, as in torch: use ``get_worker_info()`` inside
    ``__iter__`` to shard the stream across workers (it returns None in the main process).

    >>> class Count(IterableDataset):
    ...     def __iter__(self): return iter(range(3))
    >>> list(Count())
    [0, 1, 2]
    """

    def __iter__(self):
        raise NotImplementedError("Subclasses of IterableDataset should implement __iter__.")

    def __add__(self, other: "Dataset") -> "ChainDataset":
        return ChainDataset([self, other])


class TensorDataset(Dataset):
    """Samples are ``tuple(t[i] for t in tensors)``; all tensors share their first dim.

    >>> import cadenza as torch
    >>> TensorDataset(torch.zeros(3, 2), torch.arange(3))[1][1]
    tensor(1)
    """

    def __init__(self, *tensors) -> None:
        if tensors and any(tensors[0].size(0) != t.size(0) for t in tensors):
            sizes = [tuple(t.shape) for t in tensors]
            raise ValueError(f"TensorDataset: expected all tensors to have the same size in "
                             f"dim 0, got shapes {sizes}")
        self.tensors = tensors

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __len__(self) -> int:
        return self.tensors[0].size(0) if self.tensors else 0


class StackDataset(Dataset):
    """Zip datasets of equal length: ``StackDataset(a, b)[i] == (a[i], b[i])``; with keywords,
    a dict.

    >>> StackDataset([1, 2], ["a", "b"])[1]
    (2, 'b')
    """

    def __init__(self, *args, **kwargs) -> None:
        if args and kwargs:
            raise ValueError("StackDataset: expected either positional or keyword datasets, "
                             "got both")
        if not args and not kwargs:
            raise ValueError("StackDataset: expected at least one dataset")
        parts = list(args) if args else list(kwargs.values())
        self._length = len(parts[0])
        if any(len(p) != self._length for p in parts):
            raise ValueError(f"StackDataset: expected datasets of equal length, got "
                             f"{[len(p) for p in parts]}")
        self.datasets = tuple(args) if args else dict(kwargs)

    def __getitem__(self, index):
        if isinstance(self.datasets, dict):
            return {k: d[index] for k, d in self.datasets.items()}
        return tuple(d[index] for d in self.datasets)

    def __len__(self) -> int:
        return self._length


class ConcatDataset(Dataset):
    """Map-style datasets end to end.

    >>> ds = ConcatDataset([[0, 1], [2, 3, 4]])
    >>> len(ds), ds[2], ds[-1]
    (5, 2, 4)
    """

    @staticmethod
    def cumsum(sequence):
        return list(itertools.accumulate(len(e) for e in sequence))

    def __init__(self, datasets) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: expected a non-empty iterable of datasets")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise TypeError("ConcatDataset does not support IterableDataset; "
                                "use ChainDataset")
        self.cumulative_sizes = self.cumsum(self.datasets)

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx):
        n = len(self)
        if idx < 0:
            if -idx > n:
                raise ValueError("absolute value of index should not exceed dataset length")
            idx += n
        if idx >= n:
            raise IndexError(f"ConcatDataset: index {idx} out of range for length {n}")
        d = bisect.bisect_right(self.cumulative_sizes, idx)
        start = self.cumulative_sizes[d - 1] if d else 0
        return self.datasets[d][idx - start]


class ChainDataset(IterableDataset):
    """Iterable datasets one after the other.

    >>> list(ChainDataset([range(2), range(3)]))
    [0, 1, 0, 1, 2]
    """

    def __init__(self, datasets) -> None:
        self.datasets = datasets

    def __iter__(self):
        for d in self.datasets:
            yield from d

    def __len__(self) -> int:
        return sum(len(d) for d in self.datasets)


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``.

    >>> Subset([10, 20, 30], [2, 0])[0]
    30
    """

    def __init__(self, dataset, indices) -> None:
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, idx):
        if isinstance(idx, list):
            return self.dataset[[self.indices[i] for i in idx]]
        return self.dataset[self.indices[idx]]

    def __getitems__(self, indices):
        if callable(getattr(self.dataset, "__getitems__", None)):
            return self.dataset.__getitems__([self.indices[i] for i in indices])
        return [self.dataset[self.indices[i]] for i in indices]

    def __len__(self) -> int:
        return len(self.indices)


def _fraction_lengths(lengths, n):
    out = []
    for i, frac in enumerate(lengths):
        if frac < 0 or frac > 1:
            raise ValueError(f"random_split: fraction at index {i} is not between 0 and 1, "
                             f"got {frac}")
        out.append(int(math.floor(n * frac)))
    for i in range(n - sum(out)):  # hand the remainder out round-robin, as torch does
        out[i % len(out)] += 1
    for i, length in enumerate(out):
        if length == 0:
            warnings.warn(f"Length of split at index {i} is 0. "
                          "This might result in an empty dataset.", stacklevel=3)
    return out


def random_split(dataset, lengths, generator=None):
    """Split into non-overlapping random subsets of the given lengths (or fractions summing
    to 1), drawing one permutation from ``generator`` (default: the global one).

    >>> import cadenza as torch
    >>> a, b = random_split(range(10), [3, 7], generator=torch.Generator().manual_seed(42))
    >>> len(a), len(b), sorted(list(a) + list(b)) == list(range(10))
    (3, 7, True)
    """
    lengths = list(lengths)
    n = len(dataset)
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        lengths = _fraction_lengths(lengths, n)
    if sum(lengths) != n:
        raise ValueError(f"random_split: expected the lengths to sum to len(dataset) = {n}, "
                         f"got {lengths} (sum {sum(lengths)})")
    indices = randperm(n, generator=generator).tolist()
    return [Subset(dataset, indices[end - length:end])
            for end, length in zip(itertools.accumulate(lengths), lengths)]
