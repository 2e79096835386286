"""``DataLoader``: batches from a dataset through a sampler and a collate function, with
``torch.utils.data.DataLoader``'s signature and behaviour.

Workers: with ``num_workers > 0`` a map-style dataset's batches are fetched by a pool of
``num_workers`` threads (``worker_init_fn(worker_id)`` runs once in each; ``get_worker_info()``
describes the thread), at most ``prefetch_factor * num_workers`` batches ahead, and yielded in
sampler order, so the batches equal those of ``num_workers=0``. NumPy releases the GIL in its
kernels, so loading overlaps compute. Iterable datasets are always read in the main thread
(one copy of the stream, same batches as ``num_workers=0``). ``pin_memory`` is a no-op on CPU.

>>> import cadenza as torch
>>> from cadenza.data import DataLoader, TensorDataset
>>> ds = TensorDataset(torch.arange(6).float(), torch.arange(6))
>>> [y.tolist() for _, y in DataLoader(ds, batch_size=4)]
[[0, 1, 2, 3], [4, 5]]
"""
from __future__ import annotations

import collections
import itertools
import threading
from concurrent.futures import ThreadPoolExecutor, TimeoutError as _FutTimeout

from .._creation import randint

from .collate import default_collate, default_convert
from .dataset import IterableDataset
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler

__all__ = ["DataLoader", "get_worker_info", "WorkerInfo"]

_local = threading.local()


class WorkerInfo:
    """What ``get_worker_info()`` returns inside a worker: id, num_workers, seed, dataset."""

    def __init__(self, id: int, num_workers: int, seed: int, dataset) -> None:
        self.id, self.num_workers, self.seed, self.dataset = id, num_workers, seed, dataset

    def __repr__(self) -> str:
        return (f"WorkerInfo(id={self.id}, num_workers={self.num_workers}, "
                f"seed={self.seed}, dataset={self.dataset!r})")


def get_worker_info():
    """The current worker's ``WorkerInfo``, or None in the main process/thread.

    >>> get_worker_info() is None
    True
    """
    return getattr(_local, "info", None)


class _InfiniteConstantSampler(Sampler):
    """The sampler of an iterable dataset: None forever (the dataset decides the samples)."""

    def __iter__(self):
        while True:
            yield None


def _fetch(dataset, indices, auto_collation: bool, collate_fn):
    if auto_collation:
        getitems = getattr(dataset, "__getitems__", None)
        data = getitems(indices) if callable(getitems) else [dataset[i] for i in indices]
        return collate_fn(data)
    return collate_fn(dataset[indices])


def _iter_fetch(it, auto_collation: bool, batch_size, drop_last: bool, collate_fn):
    """Batches from an iterable dataset's iterator, read in the calling thread."""
    if not auto_collation:
        for sample in it:
            yield collate_fn(sample)
        return
    while True:
        batch = list(itertools.islice(it, batch_size))
        if not batch or (drop_last and len(batch) < batch_size):
            return
        yield collate_fn(batch)


class _ThreadPool:
    """``num_workers`` threads, each set up once with its WorkerInfo and worker_init_fn."""

    def __init__(self, loader, base_seed: int) -> None:
        n = loader.num_workers
        ids = itertools.count()
        lock = threading.Lock()
        errors = []

        def init():
            with lock:
                wid = next(ids)
            _local.info = WorkerInfo(wid, n, base_seed + wid, loader.dataset)
            if loader.worker_init_fn is not None:
                try:
                    loader.worker_init_fn(wid)
                except BaseException as e:  # surfaced in the main thread on first fetch
                    errors.append(e)

        self.errors = errors
        self.pool = ThreadPoolExecutor(n, thread_name_prefix="cadenza-dataloader",
                                       initializer=init)

    def shutdown(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


class _DataLoaderIter:
    """One pass over a DataLoader (``iter(loader)``)."""

    def __init__(self, loader) -> None:
        self._loader = loader
        self._num_yielded = 0
        self._sampler_iter = iter(loader._index_sampler)
        # torch draws a base seed (for worker seeds) from the loader's generator per pass
        self._base_seed = int(randint(0, 2 ** 62, (1,), generator=loader.generator).item())
        self._gen = self._batches()

    def _batches(self):
        ld = self._loader
        if ld._dataset_kind_iterable:
            yield from _iter_fetch(iter(ld.dataset), ld._auto_collation, ld.batch_size,
                                   ld.drop_last, ld.collate_fn)
            return
        if ld.num_workers == 0:
            for idx in self._sampler_iter:
                yield _fetch(ld.dataset, idx, ld._auto_collation, ld.collate_fn)
            return
        yield from self._threaded()

    def _threaded(self):
        ld = self._loader
        pool = ld._workers if ld.persistent_workers else None
        if pool is None:
            pool = _ThreadPool(ld, self._base_seed)
            if ld.persistent_workers:
                ld._workers = pool
        ahead = (ld.prefetch_factor or 2) * ld.num_workers
        pending = collections.deque()
        timeout = ld.timeout if ld.timeout > 0 else None
        try:
            for idx in self._sampler_iter:
                pending.append(pool.pool.submit(_fetch, ld.dataset, idx, ld._auto_collation,
                                                ld.collate_fn))
                if len(pending) >= ahead:
                    yield self._result(pending.popleft(), pool, timeout)
            while pending:
                yield self._result(pending.popleft(), pool, timeout)
        finally:
            for f in pending:
                f.cancel()
            if not ld.persistent_workers:
                pool.shutdown()

    @staticmethod
    def _result(fut, pool, timeout):
        if pool.errors:
            raise pool.errors[0]
        try:
            return fut.result(timeout)
        except _FutTimeout:
            raise RuntimeError(f"DataLoader timed out after {timeout} seconds") from None

    def __iter__(self):
        return self

    def __next__(self):
        batch = next(self._gen)
        self._num_yielded += 1
        return batch

    def __len__(self) -> int:
        return len(self._loader)

    def __del__(self):
        gen = getattr(self, "_gen", None)
        if gen is not None:
            gen.close()


_FROZEN = ("batch_size", "batch_sampler", "sampler", "drop_last", "dataset",
           "persistent_workers")


class DataLoader:
    """Iterate a dataset in batches: ``for x, y in DataLoader(ds, batch_size=32, shuffle=True)``.

    Shuffling draws a new permutation per pass from ``generator`` (default: the global
    generator), so ``cadenza.manual_seed`` or restoring the generator's state reproduces the
    order. ``batch_size=None`` disables batching (samples go through ``default_convert``).

    >>> import cadenza as torch
    >>> loader = DataLoader(list(range(5)), batch_size=2, drop_last=True)
    >>> len(loader), [b.tolist() for b in loader]
    (2, [[0, 1], [2, 3]])
    """

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None,
                 num_workers: int = 0, collate_fn=None, pin_memory: bool = False,
                 drop_last: bool = False, timeout: float = 0, worker_init_fn=None,
                 multiprocessing_context=None, generator=None, *, prefetch_factor=None,
                 persistent_workers: bool = False, pin_memory_device: str = "",
                 in_order: bool = True) -> None:
        if not isinstance(num_workers, int) or num_workers < 0:
            raise ValueError(f"DataLoader: expected num_workers >= 0, got {num_workers!r}")
        if timeout < 0:
            raise ValueError(f"DataLoader: expected timeout >= 0, got {timeout!r}")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("DataLoader: prefetch_factor needs num_workers > 0 (it is the "
                             "number of batches loaded in advance by each worker)")
        if prefetch_factor is not None and prefetch_factor < 0:
            raise ValueError(f"DataLoader: expected prefetch_factor >= 0, got {prefetch_factor}")
        if persistent_workers and num_workers == 0:
            raise ValueError("DataLoader: persistent_workers option needs num_workers > 0")
        iterable = isinstance(dataset, IterableDataset)
        if iterable:
            if shuffle not in (None, False):
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified shuffle "
                                 f"option, but got shuffle={shuffle}")
            if sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified sampler "
                                 f"option, but got sampler={sampler}")
            if batch_sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified "
                                 f"batch_sampler option, but got batch_sampler={batch_sampler}")
        shuffle = bool(shuffle)
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("DataLoader: batch_sampler option is mutually exclusive with "
                                 "batch_size, shuffle, sampler, and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("DataLoader: batch_size=None option disables auto-batching and is "
                             "mutually exclusive with drop_last")
        if sampler is None:
            if iterable:
                sampler = _InfiniteConstantSampler()
            elif shuffle:
                sampler = RandomSampler(dataset, generator=generator)
            else:
                sampler = SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        if collate_fn is None:
            collate_fn = default_collate if (batch_size is not None or
                                             batch_sampler is not None) else default_convert
        self.dataset = dataset
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.num_workers = num_workers
        self.collate_fn = collate_fn
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.generator = generator
        self.prefetch_factor = prefetch_factor
        self.persistent_workers = persistent_workers
        self.in_order = in_order
        self._dataset_kind_iterable = iterable
        self._workers = None
        self._initialized = True

    def __setattr__(self, name, value):
        if getattr(self, "_initialized", False) and name in _FROZEN:
            raise ValueError(f"{name} attribute should not be set after "
                             f"{type(self).__name__} is initialized")
        super().__setattr__(name, value)

    @property
    def _auto_collation(self) -> bool:
        return self.batch_sampler is not None

    @property
    def _index_sampler(self):
        return self.batch_sampler if self._auto_collation else self.sampler

    def __iter__(self) -> _DataLoaderIter:
        return _DataLoaderIter(self)

    def __len__(self) -> int:
        if self._dataset_kind_iterable:
            n = len(self.dataset)  # TypeError when the stream has no length, as in torch
            if self.batch_size is not None:
                if self.drop_last:
                    return n // self.batch_size
                return -(-n // self.batch_size)
            return n
        return len(self._index_sampler)

    def __del__(self):
        w = self.__dict__.get("_workers")
        if w is not None:
            w.shutdown()
