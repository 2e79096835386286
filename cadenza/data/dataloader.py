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
        from .. import empty, int64
        self._loader = loader
        self._num_yielded = 0
        self._sampler_iter = iter(loader._index_sampler)
        # torch draws a base seed (for worker seeds) from the loader's generator per pass
        self._base_seed = int(empty((), dtype=int64).random_(generator=loader.generator).item()) \
            if hasattr(empty((), dtype=int64), "random_") else 0
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
