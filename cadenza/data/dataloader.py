"""``DataLoader``: batches from a dataset through a sampler and a collate function, with
``torch.utils.data.DataLoader``'s signature and behaviour.

Workers (``num_workers > 0``) are processes, as torch's (``_worker.py`` runs in them): each
is seeded as torch seeds it (``random`` and Cadenza's generator with ``base_seed +
worker_id``, NumPy's from torch's hash of both), runs ``worker_init_fn(worker_id)`` once, and
fetches the index lists the main process sends it round-robin, at most ``prefetch_factor``
batches ahead per worker; batches come back in sampler order, so they equal those of
``num_workers=0``. An iterable dataset is iterated by every worker, each its own copy (shard
it with ``get_worker_info()``, as in torch), its batches interleaved worker by worker. An
error in a worker is raised again in the main process, naming the worker; a worker that dies
raises RuntimeError; ``timeout`` bounds the wait for a batch; ``persistent_workers`` keeps the
processes between passes. The start method is ``multiprocessing_context`` or the platform's
default (fork on Linux: the dataset is inherited, not pickled).

Threads instead of processes only where processes cannot work: a start method that pickles
(spawn, forkserver) with a dataset, collate_fn or worker_init_fn that does not pickle (a
class defined inside a function, a lambda), or a system without working multiprocessing
(no semaphores): torch would fail there; Cadenza warns and loads in ``num_workers`` threads
(NumPy releases the GIL in its kernels, so loading still overlaps compute). Thread workers
share the process's generators (no per-worker seeding) and an iterable dataset is then read
in the main thread. ``pin_memory`` is a no-op on CPU.

>>> import cadenza as torch
>>> from cadenza.data import DataLoader, TensorDataset
>>> ds = TensorDataset(torch.arange(6).float(), torch.arange(6))
>>> [y.tolist() for _, y in DataLoader(ds, batch_size=4)]
[[0, 1, 2, 3], [4, 5]]
"""
from __future__ import annotations

import collections
import itertools
import multiprocessing
import pickle
import queue
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor, TimeoutError as _FutTimeout
from multiprocessing.reduction import ForkingPickler

from .._creation import randint

from ._worker import (ExceptionWrapper, IterableStop, WorkerInfo, _local, empty_queue, fetch,
                      get_worker_info, worker_loop)
from .collate import default_collate, default_convert
from .dataset import IterableDataset
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler

__all__ = ["DataLoader", "get_worker_info", "WorkerInfo"]

# how often a wait without ``timeout`` checks that the workers are alive (seconds)
_LIVENESS_S = 2.0


class _InfiniteConstantSampler(Sampler):
    """The sampler of an iterable dataset: None forever (the dataset decides the samples)."""

    def __iter__(self):
        while True:
            yield None


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


def _start_method(loader):
    """The multiprocessing context of the loader's workers, or None when processes cannot
    work (see the module docstring), after a warning saying why."""
    ctx = loader.multiprocessing_context
    try:
        if ctx is None:
            ctx = multiprocessing.get_context()
        elif isinstance(ctx, str):
            ctx = multiprocessing.get_context(ctx)
    except (ValueError, ImportError, OSError) as e:
        warnings.warn(f"DataLoader: no worker processes ({e}); loading in threads",
                      stacklevel=4)
        return None
    if ctx.get_start_method() != "fork":
        try:
            ForkingPickler.dumps((loader.dataset, loader.collate_fn, loader.worker_init_fn))
        except Exception as e:   # pickling fails in many ways (PicklingError, AttributeError)
            warnings.warn(f"DataLoader: the dataset, collate_fn or worker_init_fn cannot be "
                          f"pickled for '{ctx.get_start_method()}' worker processes ({e}); "
                          "loading in threads instead", stacklevel=4)
            return None
    return ctx


class _ProcessWorkers:
    """``num_workers`` worker processes with one request queue each and one result queue."""

    def __init__(self, loader, base_seed: int, ctx) -> None:
        n = loader.num_workers
        self.iterable = loader._dataset_kind_iterable
        self.data_queue = ctx.Queue()
        self.index_queues, self.procs = [], []
        self.passes = 0
        self.broken = False
        try:
            for wid in range(n):
                iq = ctx.Queue()
                iq.cancel_join_thread()
                p = ctx.Process(target=worker_loop, daemon=True, args=(
                    self.iterable, loader.dataset, iq, self.data_queue, loader._auto_collation,
                    loader.collate_fn, loader.drop_last, loader.batch_size, base_seed,
                    loader.worker_init_fn, wid, n))
                p.start()
                self.index_queues.append(iq)
                self.procs.append(p)
        except BaseException:
            self.shutdown()
            raise

    def get(self, timeout):
        """The next ``(tag, data)`` from any worker; RuntimeError on ``timeout`` or when a
        worker died."""
        while True:
            try:
                return pickle.loads(self.data_queue.get(
                    timeout=timeout if timeout is not None else _LIVENESS_S))
            except queue.Empty:
                if timeout is not None:
                    raise RuntimeError(f"DataLoader timed out after {timeout} seconds") from None
                dead = [p.pid for p in self.procs if not p.is_alive()]
                if dead:
                    self.broken = True
                    raise RuntimeError(f"DataLoader worker (pid(s) "
                                       f"{', '.join(map(str, dead))}) exited unexpectedly") \
                        from None

    def shutdown(self) -> None:
        for iq in self.index_queues:
            try:
                iq.put(None)
            except (OSError, ValueError):
                pass
        for p in self.procs:   # after an error or a timeout a worker may be stuck: no wait
            p.join(timeout=0 if self.broken else 1.0)
            if p.is_alive():
                p.terminate()
                p.join(timeout=1.0)
        for q in self.index_queues + [self.data_queue]:
            empty_queue(q)
            q.close()
            q.join_thread() if q is not self.data_queue else q.cancel_join_thread()
        self.procs, self.index_queues = [], []


class _ThreadPool:
    """The thread fallback: ``num_workers`` threads, each set up once with its WorkerInfo and
    worker_init_fn."""

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
                except BaseException:  # surfaced in the main thread on first fetch
                    errors.append(ExceptionWrapper(where=f"in DataLoader worker thread {wid}"))

        self.errors = errors
        self.pool = ThreadPoolExecutor(n, thread_name_prefix="cadenza-dataloader",
                                       initializer=init)
        self.broken = False

    def shutdown(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


class _Pass:
    """The generator of one pass's batches, apart from the iterator object (which holds it),
    so that dropping the iterator closes the generator at once (a pass abandoned half-way
    stops its worker processes now, not when the garbage collector breaks a cycle)."""

    def __init__(self, loader, sampler_iter, base_seed: int) -> None:
        self._loader, self._sampler_iter, self._base_seed = loader, sampler_iter, base_seed

    def _batches(self):
        ld = self._loader
        if ld.num_workers == 0:
            if ld._dataset_kind_iterable:
                yield from _iter_fetch(iter(ld.dataset), ld._auto_collation, ld.batch_size,
                                       ld.drop_last, ld.collate_fn)
                return
            for idx in self._sampler_iter:
                yield fetch(ld.dataset, idx, ld._auto_collation, ld.collate_fn)
            return
        pool = ld._workers if ld.persistent_workers else None
        if pool is not None and pool.broken:
            pool.shutdown()
            pool = ld._workers = None
        if pool is None:
            ctx = _start_method(ld)
            pool = _ThreadPool(ld, self._base_seed) if ctx is None else \
                _ProcessWorkers(ld, self._base_seed, ctx)
            if ld.persistent_workers:
                ld._workers = pool
        try:
            if isinstance(pool, _ThreadPool):
                yield from self._threaded(pool)
            else:
                yield from self._processes(pool)
        except GeneratorExit:   # a pass abandoned half-way: persistent workers stay
            raise
        except BaseException:
            pool.broken = True
            raise
        finally:
            if not ld.persistent_workers or pool.broken:
                pool.shutdown()
                if ld._workers is pool:
                    ld._workers = None

    def _processes(self, pool):
        """Batches from worker processes, in order: requests go round-robin to the workers
        that still have data, ``prefetch_factor`` per worker ahead; each result is tagged
        (pass, n) so that a pass abandoned half-way (persistent workers) leaves nothing
        behind for the next."""
        ld = self._loader
        nw = ld.num_workers
        pool.passes += 1
        tag = pool.passes
        if pool.iterable and tag > 1:
            for iq in pool.index_queues:
                iq.put(("reset", None))
        active = [True] * nw
        cycle = itertools.cycle(range(nw))
        timeout = ld.timeout if ld.timeout > 0 else None
        sent = received = 0
        waiting = {}     # n -> data that arrived before its turn
        sampler_done = False

        def send():
            nonlocal sent, sampler_done
            if sampler_done or not any(active):
                return
            if pool.iterable:
                indices = None
            else:
                try:
                    indices = next(self._sampler_iter)
                except StopIteration:
                    sampler_done = True
                    return
            wid = next(w for w in cycle if active[w])
            pool.index_queues[wid].put(((tag, sent), indices))
            sent += 1

        for _ in range((ld.prefetch_factor or 2) * nw):
            send()
        while received < sent:
            while received not in waiting:
                (t, n), data = pool.get(timeout)
                if t == tag:
                    waiting[n] = data
            data = waiting.pop(received)
            received += 1
            if isinstance(data, IterableStop):
                active[data.worker_id] = False
                continue
            send()
            if isinstance(data, ExceptionWrapper):
                data.reraise()
            yield data

    def _threaded(self, pool):
        ld = self._loader
        if ld._dataset_kind_iterable:   # threads share one copy: read it in this thread
            yield from _iter_fetch(iter(ld.dataset), ld._auto_collation, ld.batch_size,
                                   ld.drop_last, ld.collate_fn)
            return
        ahead = (ld.prefetch_factor or 2) * ld.num_workers
        pending = collections.deque()
        timeout = ld.timeout if ld.timeout > 0 else None
        try:
            for idx in self._sampler_iter:
                pending.append(pool.pool.submit(fetch, ld.dataset, idx, ld._auto_collation,
                                                ld.collate_fn))
                if len(pending) >= ahead:
                    yield self._result(pending.popleft(), pool, timeout)
            while pending:
                yield self._result(pending.popleft(), pool, timeout)
        finally:
            for f in pending:
                f.cancel()

    @staticmethod
    def _result(fut, pool, timeout):
        if pool.errors:
            pool.errors[0].reraise()
        try:
            return fut.result(timeout)
        except _FutTimeout:
            raise RuntimeError(f"DataLoader timed out after {timeout} seconds") from None


class _DataLoaderIter:
    """One pass over a DataLoader (``iter(loader)``)."""

    def __init__(self, loader) -> None:
        self._loader = loader
        self._num_yielded = 0
        self._sampler_iter = iter(loader._index_sampler)
        # torch draws a base seed (for worker seeds) from the loader's generator per pass
        self._base_seed = int(randint(0, 2 ** 62, (1,), generator=loader.generator).item())
        self._gen = _Pass(loader, self._sampler_iter, self._base_seed)._batches()

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
        if multiprocessing_context is not None:
            if num_workers == 0:
                raise ValueError("multiprocessing_context can only be used with multi-process "
                                 f"loading (num_workers > 0), but got num_workers={num_workers}")
            methods = multiprocessing.get_all_start_methods()
            if isinstance(multiprocessing_context, str):
                if multiprocessing_context not in methods:
                    raise ValueError(f"multiprocessing_context option should specify a valid "
                                     f"start method in {methods!r}, but got "
                                     f"multiprocessing_context={multiprocessing_context!r}")
            elif not isinstance(multiprocessing_context, multiprocessing.context.BaseContext):
                raise TypeError(f"multiprocessing_context option should be a valid context "
                                f"object or a string specifying the start method, but got "
                                f"multiprocessing_context={multiprocessing_context}")
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
