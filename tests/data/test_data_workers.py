"""DataLoader worker processes against torch.utils.data's: the same batches, worker_init_fn
and get_worker_info() inside the worker, torch's per-worker seeding, persistent workers,
IterableDataset sharding, errors re-raised naming the worker, timeouts, dead workers, and
the thread fallback where processes cannot work. Tiny datasets: each loader starts in
well under a second (fork)."""
import os
import random
import subprocess
import sys
import time

import numpy as np
import pytest
import torch as T

import cadenza as C
from cadenza.data import DataLoader, Dataset, IterableDataset, get_worker_info
from cadenza.data import dataloader as dl_mod
from cadenza.data._worker import generate_state


def _lib(L):
    return L.utils.data


def _ids(L, n=11):
    """A map-style dataset returning (index, worker id, offset set by worker_init_fn)."""
    class DS(_lib(L).Dataset):
        offset = 0

        def __len__(self):
            return n

        def __getitem__(self, i):
            info = _lib(L).get_worker_info()
            return L.tensor([i, info.id, info.dataset.offset, info.num_workers])
    return DS()


def _init(worker_id):
    info = (C.utils.data.get_worker_info() or T.utils.data.get_worker_info())
    info.dataset.offset += 100 * (worker_id + 1)


def _run(L, ds, **kw):
    return [b.tolist() if hasattr(b, "tolist") else b for b in _lib(L).DataLoader(ds, **kw)]


def test_map_dataset_batches_workers_and_init_fn_match_torch():
    kw = dict(batch_size=3, num_workers=2, worker_init_fn=_init, prefetch_factor=1)
    got = _run(C, _ids(C), **kw)
    assert got == _run(T, _ids(T), **kw)
    assert {row[1] for b in got for row in b} == {0, 1}
    assert get_worker_info() is None
    C.manual_seed(3)
    ref = _run(C, list(range(11)), batch_size=4, shuffle=True)
    C.manual_seed(3)
    shuffled = _run(C, _ids(C), batch_size=4, shuffle=True, num_workers=2)
    assert [[r[0] for r in b] for b in shuffled] == ref


class _Shards(IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        info = get_worker_info() or T.utils.data.get_worker_info()
        return iter(range(info.id, self.n, info.num_workers))


class _ShardsT(_Shards, T.utils.data.IterableDataset):
    pass


class _Whole(IterableDataset):
    def __iter__(self):
        return iter(range(5))


class _WholeT(_Whole, T.utils.data.IterableDataset):
    pass


@pytest.mark.parametrize("kw", [dict(batch_size=3, drop_last=True), dict(batch_size=None)])
def test_iterable_dataset_sharding_matches_torch(kw):
    assert _run(C, _Shards(10), num_workers=2, **kw) == _run(T, _ShardsT(10), num_workers=2,
                                                             **kw)


def test_iterable_dataset_unsharded_is_read_by_every_worker_as_torch():
    assert _run(C, _Whole(), num_workers=2, batch_size=2) == \
        _run(T, _WholeT(), num_workers=2, batch_size=2)


class _Seeds(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        info = get_worker_info()
        return C.tensor([info.id, info.seed, np.random.randint(1 << 30),
                         int(random.random() * 1e9), int(C.randint(0, 1 << 30, (1,)))])


def test_workers_seeded_as_torch():
    rows = [r for b in _run(C, _Seeds(), batch_size=1, num_workers=2) for r in b]
    for wid, seed, np_draw, py_draw, c_draw in rows[:2]:    # each worker's first item
        base = seed - wid
        np.random.seed(generate_state(base, wid))
        assert np_draw == np.random.randint(1 << 30)
        random.seed(seed)
        assert py_draw == int(random.random() * 1e9)
        C.manual_seed(seed)
        assert c_draw == int(C.randint(0, 1 << 30, (1,)))
    assert rows[0][1] - rows[0][0] == rows[1][1] - rows[1][0]   # one base seed


class _Pids(Dataset):
    def __init__(self):
        self.inits = 0

    def __len__(self):
        return 4

    def __getitem__(self, i):
        info = get_worker_info() or T.utils.data.get_worker_info()
        return [os.getpid(), info.dataset.inits]


class _PidsT(_Pids, T.utils.data.Dataset):
    pass


def _count_init(worker_id):
    info = get_worker_info() or T.utils.data.get_worker_info()
    info.dataset.inits += 1


@pytest.mark.parametrize("lib", ["cadenza", "torch"])
def test_persistent_workers_keep_processes_and_init_once(lib):
    L, ds = (C, _Pids()) if lib == "cadenza" else (T, _PidsT())
    loader = _lib(L).DataLoader(ds, batch_size=2, num_workers=2, persistent_workers=True,
                                worker_init_fn=_count_init)
    passes = []
    for _ in range(2):
        passes.append([(int(p), int(n)) for b in loader for p, n in zip(*b)])
    next(iter(loader))      # a pass abandoned half-way leaves nothing for the next
    passes.append([(int(p), int(n)) for b in loader for p, n in zip(*b)])
    assert passes[0] == passes[1] == passes[2]
    assert {n for _, n in passes[0]} == {1} and len({p for p, _ in passes[0]}) == 2
    assert os.getpid() not in {p for p, _ in passes[0]}


class _Bad(Dataset):
    def __len__(self):
        return 6

    def __getitem__(self, i):
        if i == 3:
            raise KeyError("boom")
        if i == 5:
            raise ValueError("bad value")
        return i


class _BadT(_Bad, T.utils.data.Dataset):
    pass


def test_worker_errors_reraised_naming_the_worker_as_torch():
    for L, ds in ((C, _Bad()), (T, _BadT())):
        with pytest.raises(KeyError) as e:
            _run(L, ds, batch_size=1, num_workers=2)
        first = str(e.value).splitlines()[0]
        assert first == "Caught KeyError in DataLoader worker process 1."
        assert "boom" in str(e.value)

    def bad_init(worker_id):
        raise ValueError(f"init {worker_id}")
    with pytest.raises(ValueError, match="Caught ValueError in DataLoader worker process 0"):
        _run(C, list(range(4)), batch_size=2, num_workers=1, worker_init_fn=bad_init)


class _Sleepy(Dataset):
    def __len__(self):
        return 2

    def __getitem__(self, i):
        time.sleep(1)
        return i


class _Dies(Dataset):
    def __len__(self):
        return 2

    def __getitem__(self, i):
        os._exit(3)


def test_timeout_and_dead_worker(monkeypatch):
    with pytest.raises(RuntimeError, match=r"DataLoader timed out after 0.2 seconds"):
        _run(C, _Sleepy(), num_workers=1, timeout=0.2)
    monkeypatch.setattr(dl_mod, "_LIVENESS_S", 0.1)
    with pytest.raises(RuntimeError, match=r"DataLoader worker \(pid\(s\) \d+\) exited "
                                           r"unexpectedly"):
        _run(C, _Dies(), num_workers=1)


def test_thread_fallback_only_where_processes_cannot_work():
    class Local(Dataset):    # defined in a function: cannot be pickled for spawn
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return [i, os.getpid()]
    with pytest.warns(UserWarning, match="cannot be pickled"):
        got = [[t.tolist() for t in b] for b in DataLoader(
            Local(), batch_size=2, num_workers=2, multiprocessing_context="spawn")]
    assert got == [[[0, 1], [os.getpid()] * 2], [[2, 3], [os.getpid()] * 2],
                   [[4], [os.getpid()]]]
    with pytest.raises(ValueError):
        DataLoader(Local(), num_workers=2, multiprocessing_context="no-such-method")


_ORPHAN = """
import os
import cadenza.data._worker as W
from cadenza.data import DataLoader
W._WATCHDOG_S = 0.1
dl = DataLoader(list(range(100)), batch_size=2, num_workers=2, persistent_workers=True)
it = iter(dl)
next(it)
print(" ".join(str(p.pid) for p in dl._workers.procs), flush=True)
os._exit(0)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_workers_of_a_killed_main_process_exit():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = subprocess.run([sys.executable, "-c", _ORPHAN], capture_output=True, text=True,
                         timeout=60, env={**os.environ, "PYTHONPATH": root})
    pids = [int(p) for p in out.stdout.split()]
    assert len(pids) == 2, out.stderr
    deadline = time.time() + 10
    while time.time() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.05)
    assert not any(_alive(p) for p in pids)


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False
