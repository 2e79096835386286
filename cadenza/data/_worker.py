"""DataLoader workers as processes, as ``torch.utils.data``'s: what runs in a worker
(``worker_loop``: seeding, ``worker_init_fn``, fetching index lists or the next batch of an
iterable dataset), ``WorkerInfo``/``get_worker_info``, and an exception carried back to the
main process (``ExceptionWrapper``: re-raised there naming the worker, as torch does)."""
from __future__ import annotations

import os
import pickle
import queue
import random
import signal
import sys
import threading
import traceback


import numpy as np

from ..random import manual_seed

__all__ = ["WorkerInfo", "get_worker_info", "worker_loop", "ExceptionWrapper",
           "IterableStop", "generate_state"]

_WATCHDOG_S = 5.0              # how often an idle worker checks that its main process lives
_local = threading.local()     # a thread worker's info (the fallback: see dataloader.py)
_info = [None]                 # a worker process's info (set once, in the worker)


class WorkerInfo:
    """What ``get_worker_info()`` returns inside a worker: id, num_workers, seed, dataset
    (the worker's own copy)."""

    def __init__(self, id: int, num_workers: int, seed: int, dataset) -> None:
        self.id, self.num_workers, self.seed, self.dataset = id, num_workers, seed, dataset

    def __setattr__(self, key, value):
        if key in self.__dict__:
            raise RuntimeError(f"Cannot assign attributes to {type(self).__name__} objects")
        super().__setattr__(key, value)

    def __repr__(self) -> str:
        return (f"WorkerInfo(id={self.id}, num_workers={self.num_workers}, "
                f"seed={self.seed}, dataset={self.dataset!r})")


def get_worker_info():
    """The current worker's ``WorkerInfo``, or None in the main process.

    >>> get_worker_info() is None
    True
    """
    return getattr(_local, "info", None) or _info[0]


class KeyErrorMessage(str):
    """A KeyError's message printed as it is (KeyError shows the repr of its argument)."""

    def __repr__(self):
        return self


class ExceptionWrapper:
    """An exception raised in a worker, with its traceback as text (tracebacks do not
    pickle); ``reraise()`` raises it again in the main process: "Caught KeyError in
    DataLoader worker process 1. Original Traceback ...", as torch does."""

    def __init__(self, exc_info=None, where="in background"):
        exc_info = exc_info or sys.exc_info()
        self.exc_type = exc_info[0]
        self.exc_msg = "".join(traceback.format_exception(*exc_info))
        self.where = where

    def reraise(self):
        msg = f"Caught {self.exc_type.__name__} {self.where}.\nOriginal {self.exc_msg}"
        if self.exc_type is KeyError:
            msg = KeyErrorMessage(msg)
        try:
            exc = self.exc_type(msg)
        except Exception:   # an exception class that takes other arguments
            raise RuntimeError(msg) from None
        raise exc


class IterableStop:
    """A worker's iterable dataset is exhausted (sent once, then the worker idles)."""

    def __init__(self, worker_id: int) -> None:
        self.worker_id = worker_id


def generate_state(base_seed: int, worker_id: int) -> list:
    """The NumPy seed of worker ``worker_id`` (4 words): torch's hash of the base seed and the
    worker id (torch/utils/data/_utils/worker.py), so ``np.random`` in a worker draws as in
    torch's worker with the same base seed."""
    mask = 0xFFFFFFFF
    mult_a, mult_b = 0x931E8875, 0x58F38DED
    consts = [0x43B0D7E5, 0x8B51F9DD]
    entropy = [worker_id, base_seed & mask, base_seed >> 32, 0]

    def hash_a(value):
        value = (value ^ consts[0]) & mask
        consts[0] = (consts[0] * mult_a) & mask
        value = (value * consts[0]) & mask
        return (value ^ (value >> 16)) & mask

    def mix(x, y):
        r = (((0xCA01F9DD * x) & mask) - ((0x4973F715 * y) & mask)) & mask
        return (r ^ (r >> 16)) & mask

    pool = [hash_a(e) for e in entropy]
    for i_src in range(4):
        for i_dst in range(4):
            if i_src != i_dst:
                pool[i_dst] = mix(pool[i_dst], hash_a(pool[i_src]))
    state = []
    for v in pool:
        v = (v ^ consts[1]) & mask
        consts[1] = (consts[1] * mult_b) & mask
        v = (v * consts[1]) & mask
        state.append((v ^ (v >> 16)) & mask)
    return state


def seed_worker(base_seed: int, worker_id: int) -> int:
    """Seed a worker as torch does: Python's ``random`` and Cadenza's generator with
    ``base_seed + worker_id``, NumPy's global generator from ``generate_state``."""
    seed = base_seed + worker_id
    random.seed(seed)
    manual_seed(seed)
    np.random.seed(generate_state(base_seed, worker_id))
    return seed


def fetch(dataset, indices, auto_collation: bool, collate_fn):
    """One batch of a map-style dataset."""
    if auto_collation:
        getitems = getattr(dataset, "__getitems__", None)
        data = getitems(indices) if callable(getitems) else [dataset[i] for i in indices]
        return collate_fn(data)
    return collate_fn(dataset[indices])


def next_batch(it, auto_collation: bool, batch_size, drop_last: bool, collate_fn):
    """The next batch of an iterable dataset's iterator (StopIteration at its end)."""
    if not auto_collation:
        return collate_fn(next(it))
    batch = []
    for sample in it:
        batch.append(sample)
        if len(batch) == batch_size:
            break
    if not batch or (drop_last and len(batch) < batch_size):
        raise StopIteration
    return collate_fn(batch)


def worker_loop(iterable, dataset, index_queue, data_queue, auto_collation, collate_fn,
                drop_last, batch_size, base_seed, init_fn, worker_id, num_workers):
    """A worker process: seed, set up (``worker_init_fn``), then answer requests from
    ``index_queue`` until None: ``(n, indices)`` -> ``(n, batch)`` on ``data_queue``
    (``(n, ExceptionWrapper)`` when it raises); for an iterable dataset ``(n, None)`` asks for
    the next batch of this worker's own iterator, ``(n, IterableStop)`` once it is exhausted,
    and ``("reset", None)`` starts a new pass (persistent workers)."""
    where = f"in DataLoader worker process {worker_id}"
    # Ctrl-C is the main process's to handle (it stops the workers); a worker whose main
    # process died (killed) stops by itself instead of waiting forever
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = os.getppid()
    init_error = None
    try:
        seed = seed_worker(base_seed, worker_id)
        _info[0] = WorkerInfo(worker_id, num_workers, seed, dataset)
        if init_fn is not None:
            init_fn(worker_id)
    except Exception:
        init_error = ExceptionWrapper(where=where)
    it = None
    exhausted = False
    while True:
        try:
            req = index_queue.get(timeout=_WATCHDOG_S)
        except queue.Empty:
            if os.getppid() != parent:
                return
            continue
        except (KeyboardInterrupt, EOFError, OSError):
            return
        if req is None:
            data_queue.cancel_join_thread()
            return
        n, indices = req
        if n == "reset":
            it, exhausted = None, False
            continue
        if init_error is not None:
            _put(data_queue, n, init_error, where)
            init_error = None   # reported once; the main process then shuts the workers down
            continue
        if iterable and exhausted:
            _put(data_queue, n, IterableStop(worker_id), where)
            continue
        try:
            if iterable:
                if it is None:
                    it = iter(dataset)
                out = next_batch(it, auto_collation, batch_size, drop_last, collate_fn)
            else:
                out = fetch(dataset, indices, auto_collation, collate_fn)
        except StopIteration:
            exhausted = True
            out = IterableStop(worker_id)
        except Exception:
            out = ExceptionWrapper(where=where)
        _put(data_queue, n, out, where)
        del out


def _put(data_queue, n, out, where) -> None:
    """Send ``(n, out)`` pickled here, so that a batch that does not pickle is reported as
    this worker's error (a Queue's feeder thread would drop it silently)."""
    try:
        msg = pickle.dumps((n, out), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        msg = pickle.dumps((n, ExceptionWrapper(where=where)), protocol=pickle.HIGHEST_PROTOCOL)
    data_queue.put(msg)


def empty_queue(q) -> None:
    """Drop what is left in a queue (shutting down)."""
    try:
        while True:
            q.get_nowait()
    except (queue.Empty, OSError, EOFError, ValueError):
        pass
