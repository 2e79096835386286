"""Samplers, datasets and random_split."""
import numpy as np
import pytest
import torch as T

import cadenza as C
from cadenza.data import (BatchSampler, ChainDataset, ConcatDataset, RandomSampler,
                          SequentialSampler, StackDataset, Subset, SubsetRandomSampler,
                          TensorDataset, WeightedRandomSampler, random_split)


def test_sequential_and_batch_sampler_match_torch():
    for n, bs, drop in [(10, 3, False), (10, 3, True), (9, 3, True), (1, 4, False)]:
        c = BatchSampler(SequentialSampler(range(n)), bs, drop)
        t = T.utils.data.BatchSampler(T.utils.data.SequentialSampler(range(n)), bs, drop)
        assert list(c) == list(t) and len(c) == len(t)
    with pytest.raises(ValueError):
        BatchSampler(range(3), 0, False)
    with pytest.raises(ValueError):
        BatchSampler(range(3), 2, 1)


def test_random_sampler():
    g = C.Generator().manual_seed(0)
    s = RandomSampler(range(10), generator=g)
    a = list(s)
    assert sorted(a) == list(range(10)) and len(s) == 10
    r = list(RandomSampler(range(5), replacement=True, num_samples=70, generator=g))
    assert len(r) == 70 and set(r) <= set(range(5)) and len(set(r)) > 1
    C.manual_seed(3)
    x = list(RandomSampler(range(50)))
    C.manual_seed(3)
    assert list(RandomSampler(range(50))) == x
    with pytest.raises(ValueError):
        RandomSampler([], generator=g)
    with pytest.raises(TypeError):
        RandomSampler(range(3), replacement=1)


def test_random_sampler_num_samples_counts():
    s = list(RandomSampler(range(4), num_samples=10, generator=C.Generator().manual_seed(1)))
    assert len(s) == 10
    counts = np.bincount(s, minlength=4)
    assert counts.min() >= 2 and counts.max() <= 3


def test_subset_and_weighted_samplers():
    g = C.Generator().manual_seed(0)
    assert sorted(SubsetRandomSampler([4, 8, 15], generator=g)) == [4, 8, 15]
    w = list(WeightedRandomSampler([0.0, 0.0, 1.0, 0.0], 20, generator=g))
    assert w == [2] * 20
    w = list(WeightedRandomSampler([1.0, 1.0, 1.0], 3, replacement=False, generator=g))
    assert sorted(w) == [0, 1, 2]
    with pytest.raises(ValueError):
        WeightedRandomSampler([[1.0]], 2)
    with pytest.raises(ValueError):
        WeightedRandomSampler([1.0], 0)


def test_random_split_sizes_disjoint_reproducible():
    ds = list(range(103))
    for lengths in ([0.8, 0.1, 0.1], [50, 53], [0.5, 0.5], [1.0]):
        parts = random_split(ds, lengths, generator=C.Generator().manual_seed(1))
        tparts = T.utils.data.random_split(ds, lengths,
                                           generator=T.Generator().manual_seed(1))
        assert [len(p) for p in parts] == [len(p) for p in tparts]
        flat = [x for p in parts for x in p]
        assert sorted(flat) == ds
    a = random_split(ds, [0.3, 0.7], generator=C.Generator().manual_seed(9))
    b = random_split(ds, [0.3, 0.7], generator=C.Generator().manual_seed(9))
    assert [list(p) for p in a] == [list(p) for p in b]
    C.manual_seed(2)
    c = random_split(ds, [3, 100])
    C.manual_seed(2)
    assert list(random_split(ds, [3, 100])[0]) == list(c[0])
    with pytest.raises(ValueError):
        random_split(ds, [10, 10])
    with pytest.warns(UserWarning):
        random_split(list(range(2)), [0.1, 0.1, 0.8])


def test_datasets():
    x, y = C.arange(6).reshape(3, 2), C.arange(3)
    td = TensorDataset(x, y)
    assert len(td) == 3 and td[1][0].tolist() == [2, 3] and td[1][1].item() == 1
    with pytest.raises(ValueError):
        TensorDataset(x, C.arange(4))
    cd = ConcatDataset([[0, 1], [2, 3, 4]])
    tcd = T.utils.data.ConcatDataset([[0, 1], [2, 3, 4]])
    assert [cd[i] for i in range(-5, 5)] == [tcd[i] for i in range(-5, 5)]
    assert cd.cumulative_sizes == tcd.cumulative_sizes
    with pytest.raises(IndexError):
        cd[5]
    s = Subset([10, 20, 30, 40], [3, 1])
    assert len(s) == 2 and list(s) == [40, 20]
    assert list(ChainDataset([range(2), range(1)])) == [0, 1, 0]
    assert StackDataset(a=[1, 2], b=[3, 4])[1] == {"a": 2, "b": 4}
    assert len(td + td) == 6
