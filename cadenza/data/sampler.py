"""Samplers: iterables of dataset indices (or, for ``BatchSampler``, of index lists), with
``torch.utils.data``'s behaviour. Random samplers draw from ``generator=`` or, when it is None,
from a fresh generator seeded by one draw from the default generator, so
``cadenza.manual_seed`` makes them reproducible.

>>> import cadenza as torch
>>> list(BatchSampler(SequentialSampler(range(5)), batch_size=2, drop_last=False))
[[0, 1], [2, 3], [4]]
"""
from __future__ import annotations

__all__ = ["Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler",
           "WeightedRandomSampler", "BatchSampler"]


def _is_bool(x) -> bool:
    return isinstance(x, bool)


def _positive_int(name: str, value, owner: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{owner}: expected {name} to be a positive integer, "
                         f"got {name}={value!r}")
    return value


def _fresh_generator():
    """torch's recipe: seed a private generator with one draw from the default one."""
    from .. import Generator, randint
    seed = int(randint(0, 2 ** 62, (1,)).item())
    return Generator().manual_seed(seed)


class Sampler:
    """Base class: subclasses define ``__iter__`` over indices (and ``__len__`` if known).

    >>> class Evens(Sampler):
    ...     def __iter__(self): return iter([0, 2, 4])
    >>> list(Evens())
    [0, 2, 4]
    """

    def __init__(self, data_source=None) -> None:
        pass

    def __iter__(self):
        raise NotImplementedError("Subclasses of Sampler should implement __iter__.")


class SequentialSampler(Sampler):
    """``0, 1, ..., len(data_source) - 1``.

    >>> list(SequentialSampler("abc"))
    [0, 1, 2]
    """

    def __init__(self, data_source) -> None:
        self.data_source = data_source

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(Sampler):
    """Random indices: a fresh permutation per pass (``num_samples`` may exceed the length:
    several permutations are chained), or uniform draws with ``replacement=True``.

    >>> import cadenza as torch
    >>> sorted(RandomSampler(range(4), generator=torch.Generator().manual_seed(0)))
    [0, 1, 2, 3]
    """

    def __init__(self, data_source, replacement: bool = False, num_samples=None,
                 generator=None) -> None:
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        if not _is_bool(replacement):
            raise TypeError(f"RandomSampler: expected replacement to be a boolean, "
                            f"got replacement={replacement!r}")
        _positive_int("num_samples", self.num_samples, "RandomSampler")

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self):
        from .. import randint, randperm
        n = len(self.data_source)
        g = self.generator if self.generator is not None else _fresh_generator()
        m = self.num_samples
        if self.replacement:
            for _ in range(m // 32):
                yield from randint(0, n, (32,), generator=g).tolist()
            yield from randint(0, n, (m % 32,), generator=g).tolist()
        else:
            for _ in range(m // n):
                yield from randperm(n, generator=g).tolist()
            yield from randperm(n, generator=g).tolist()[:m % n]

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given indices in random order.

    >>> import cadenza as torch
    >>> sorted(SubsetRandomSampler([5, 7, 9], generator=torch.Generator().manual_seed(1)))
    [5, 7, 9]
    """

    def __init__(self, indices, generator=None) -> None:
        self.indices = indices
        self.generator = generator

    def __iter__(self):
        from .. import randperm
        for i in randperm(len(self.indices), generator=self.generator).tolist():
            yield self.indices[i]

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """``num_samples`` indices drawn with probability proportional to ``weights``.

    >>> import cadenza as torch
    >>> list(WeightedRandomSampler([0.0, 1.0], 3, generator=torch.Generator().manual_seed(0)))
    [1, 1, 1]
    """

    def __init__(self, weights, num_samples: int, replacement: bool = True,
                 generator=None) -> None:
        from .. import as_tensor, float64
        _positive_int("num_samples", num_samples, "WeightedRandomSampler")
        if not _is_bool(replacement):
            raise ValueError(f"WeightedRandomSampler: expected replacement to be a boolean, "
                             f"got replacement={replacement!r}")
        w = as_tensor(weights, dtype=float64)
        if w.ndim != 1:
            raise ValueError(f"WeightedRandomSampler: expected weights to be a 1d sequence, "
                             f"got shape {tuple(w.shape)}")
        self.weights = w
        self.num_samples = num_samples
        self.replacement = replacement
        self.generator = generator

    def __iter__(self):
        from .. import multinomial
        yield from multinomial(self.weights, self.num_samples, self.replacement,
                               generator=self.generator).tolist()

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler):
    """Group another sampler's indices into lists of ``batch_size`` (the last one shorter
    unless ``drop_last``).

    >>> list(BatchSampler(range(5), 2, drop_last=True))
    [[0, 1], [2, 3]]
    """

    def __init__(self, sampler, batch_size: int, drop_last: bool) -> None:
        _positive_int("batch_size", batch_size, "BatchSampler")
        if not _is_bool(drop_last):
            raise ValueError(f"BatchSampler: expected drop_last to be a boolean, "
                             f"got drop_last={drop_last!r}")
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last

    def __iter__(self):
        batch = []
        for idx in self.sampler:
            batch.append(idx)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self) -> int:
        n = len(self.sampler)
        if self.drop_last:
            return n // self.batch_size
        return (n + self.batch_size - 1) // self.batch_size
