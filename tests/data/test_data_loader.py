"""DataLoader and default_collate against torch.utils.data on the same datasets."""
import collections
import threading

import numpy as np
import pytest
import torch as T

import cadenza as C
from cadenza.data import (DataLoader, Dataset, IterableDataset, TensorDataset, default_collate,
                          default_convert, get_worker_info)


def to_np(x):
    """Nested batch -> nested structure of NumPy arrays / plain values, for either framework."""
    if isinstance(x, (C.Tensor, T.Tensor)):
        return np.asarray(x.detach().numpy() if isinstance(x, T.Tensor) else x.numpy())
    if isinstance(x, dict):
        return {k: to_np(v) for k, v in x.items()}
    if isinstance(x, tuple) and hasattr(x, "_fields"):
        return (type(x).__name__,) + tuple(to_np(v) for v in x)
    if isinstance(x, (list, tuple)):
        return type(x)(to_np(v) for v in x)
    return x


def assert_same(a, b):
    a, b = to_np(a), to_np(b)
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            assert_same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert_same(x, y)
    else:
        assert a == b


Point = collections.namedtuple("Point", "x y")


class MixedDataset:
    """A map-style dataset (no base class needed) yielding every collatable kind."""

    def __init__(self, n=7):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        def arr(mod):
            return mod.tensor([i, i + 0.5]) if mod is not np else np.array([i, i + 0.5])
        return {"t": arr(self.mod), "np": np.arange(3, dtype=np.float32) * i,
                "npf": np.float64(i) / 2, "i": i, "f": i / 3, "b": i % 2 == 0,
                "s": f"s{i}", "tup": (i, float(i)), "lst": [i, i * 2],
                "pt": Point(i, np.int32(i))}


def loaders(ds_c, ds_t, **kw):
    return DataLoader(ds_c, **kw), T.utils.data.DataLoader(ds_t, **kw)


@pytest.mark.parametrize("kw", [dict(batch_size=3), dict(batch_size=3, drop_last=True),
                                dict(batch_size=1), dict(batch_size=None),
                                dict(batch_size=2, num_workers=2)])
def test_mixed_collation_matches_torch(kw):
    dc, dt = MixedDataset(), MixedDataset()
    dc.mod, dt.mod = C, T
    lc, lt = loaders(dc, dt, **kw)
    if kw.get("batch_size", 1) is not None:
        assert len(lc) == len(lt)
    bc, bt = list(lc), list(lt)
    assert len(bc) == len(bt)
    for a, b in zip(bc, bt):
        assert_same(a, b)


def test_tensor_dataset_matches_torch():
    x = np.random.default_rng(0).standard_normal((10, 3)).astype(np.float32)
    y = np.arange(10)
    lc, lt = loaders(TensorDataset(C.tensor(x), C.tensor(y)),
                     T.utils.data.TensorDataset(T.tensor(x), T.tensor(y)), batch_size=4)
    for a, b in zip(lc, lt):
        assert_same(a, b)


def test_default_collate_and_convert_cases():
    assert_same(default_collate([True, False]), T.utils.data.default_collate([True, False]))
    assert_same(default_collate([np.float32(1), np.float32(2)]),
                T.utils.data.default_collate([np.float32(1), np.float32(2)]))
    arg = (np.zeros(2), 3, "a")
    assert_same(default_convert(arg), T.utils.data.default_convert(arg))
    assert_same(default_convert({"a": np.float32(2)}),
                T.utils.data.default_convert({"a": np.float32(2)}))
    with pytest.raises(RuntimeError, match="equal size"):
        default_collate([[1, 2], [1]])
    with pytest.raises(TypeError, match="default_collate"):
        default_collate([object(), object()])
    with pytest.raises(RuntimeError):
        default_collate([C.zeros(2), C.zeros(3)])


class Stream(IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(range(self.n))


class StreamT(T.utils.data.IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(range(self.n))


@pytest.mark.parametrize("kw", [dict(batch_size=3), dict(batch_size=3, drop_last=True),
                                dict(batch_size=None)])
def test_iterable_dataset_matches_torch(kw):
    lc, lt = loaders(Stream(8), StreamT(8), **kw)
    bc, bt = list(lc), list(lt)
    assert len(bc) == len(bt)
    for a, b in zip(bc, bt):
        assert_same(a, b)
    # worker processes: each reads its own copy of the stream, as torch's do
    c_workers = list(DataLoader(Stream(8), num_workers=2, **kw))
    t_workers = list(T.utils.data.DataLoader(StreamT(8), num_workers=2, **kw))
    assert len(c_workers) == len(t_workers) == 2 * len(bt)
    for a, b in zip(c_workers, t_workers):
        assert_same(a, b)


def test_iterable_dataset_options_rejected():
    with pytest.raises(ValueError, match="shuffle"):
        DataLoader(Stream(3), shuffle=True)
    with pytest.raises(ValueError, match="sampler"):
        DataLoader(Stream(3), sampler=[0, 1])
    with pytest.raises(TypeError):
        len(DataLoader(Stream(3)))


def test_option_validation():
    ds = list(range(10))
    with pytest.raises(ValueError, match="mutually exclusive"):
        DataLoader(ds, sampler=[0], shuffle=True)
    with pytest.raises(ValueError, match="mutually exclusive"):
        DataLoader(ds, batch_sampler=[[0]], batch_size=2)
    with pytest.raises(ValueError, match="num_workers"):
        DataLoader(ds, num_workers=-1)
    with pytest.raises(ValueError, match="prefetch_factor"):
        DataLoader(ds, prefetch_factor=2)
    loader = DataLoader(ds)
    with pytest.raises(ValueError, match="should not be set"):
        loader.batch_size = 3


def test_batch_sampler_and_custom_collate():
    ds = list(range(10))
    got = list(DataLoader(ds, batch_sampler=[[3, 1], [0]], collate_fn=lambda b: b))
    assert got == [[3, 1], [0]]
    assert len(DataLoader(ds, batch_sampler=[[3, 1], [0]])) == 2


def test_shuffle_reproducible_with_manual_seed_and_generator():
    ds = list(range(20))
    C.manual_seed(123)
    a = [b.tolist() for b in DataLoader(ds, batch_size=5, shuffle=True)]
    C.manual_seed(123)
    b = [b.tolist() for b in DataLoader(ds, batch_size=5, shuffle=True)]
    assert a == b and sorted(sum(a, [])) == ds and sum(a, []) != ds
    g = C.Generator().manual_seed(7)
    loader = DataLoader(ds, batch_size=5, shuffle=True, generator=g)
    state = g.get_state()
    e1 = [b.tolist() for b in loader]
    e2 = [b.tolist() for b in loader]
    assert e1 != e2  # each pass draws a new permutation from the generator
    g.set_state(state)  # resuming: restore the generator, get the same epoch again
    assert [b.tolist() for b in loader] == e1
    assert [b.tolist() for b in loader] == e2
    g2 = C.Generator().manual_seed(7)
    assert [b.tolist() for b in DataLoader(ds, batch_size=5, shuffle=True, generator=g2)] == e1


def test_shuffle_draws_from_default_generator():
    ds = list(range(20))
    C.manual_seed(5)
    state = C.get_rng_state()
    a = [b.tolist() for b in DataLoader(ds, batch_size=20, shuffle=True)]
    assert C.get_rng_state().tolist() != state.tolist()  # the pass drew from it
    C.set_rng_state(state)
    assert [b.tolist() for b in DataLoader(ds, batch_size=20, shuffle=True)] == a


class Slow(Dataset):
    def __len__(self):
        return 23

    def __getitem__(self, i):
        info = get_worker_info()
        assert info is not None and 0 <= info.id < 3 and info.num_workers == 3
        return C.tensor([i, threading.get_ident() % 7])


def test_workers_same_batches_in_order():
    C.manual_seed(0)
    ref = [b.tolist() for b in DataLoader(list(range(23)), batch_size=4, shuffle=True)]
    C.manual_seed(0)
    loader = DataLoader(Slow(), batch_size=4, shuffle=True, num_workers=3, prefetch_factor=1)
    got = [b[:, 0].tolist() for b in loader]
    assert got == ref
    loader = DataLoader(Slow(), batch_size=4, num_workers=3, persistent_workers=True)
    for _ in range(2):
        assert [b[:, 0].tolist() for b in loader] == [list(range(i, min(i + 4, 23)))
                                                      for i in range(0, 23, 4)]
    assert get_worker_info() is None


def test_worker_exception_propagates():
    class Bad(Dataset):
        def __len__(self):
            return 8

        def __getitem__(self, i):
            if i == 5:
                raise KeyError("boom")
            return i
    with pytest.raises(KeyError, match="boom"):
        list(DataLoader(Bad(), batch_size=2, num_workers=2))


def test_utils_data_alias():
    import cadenza.utils.data as ud
    from cadenza.utils.data.dataloader import DataLoader as DL
    assert ud.DataLoader is DataLoader is DL and C.utils.data.TensorDataset is TensorDataset
    assert ud.DistributedSampler is C.data.DistributedSampler
