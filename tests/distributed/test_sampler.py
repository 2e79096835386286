"""DistributedSampler (no MPI needed: num_replicas and rank given) against torch's."""
import pytest
import torch as T

from cadenza.utils.data import DistributedSampler


def shards(n, world, **kw):
    return [list(DistributedSampler(range(n), num_replicas=world, rank=r, **kw))
            for r in range(world)]


def test_matches_torch_without_shuffle():
    # torch shuffles with its own randperm: compare what does not depend on the RNG
    for n in range(0, 13):
        for world in (1, 2, 3, 4):
            for drop in (False, True):
                for r in range(world):
                    c = DistributedSampler(range(n), world, r, shuffle=False, drop_last=drop)
                    t = T.utils.data.DistributedSampler(range(n), world, r, shuffle=False,
                                                        drop_last=drop)
                    assert list(c) == list(t) and len(c) == len(t), (n, world, r, drop)


@pytest.mark.parametrize("n,world", [(10, 2), (11, 2), (7, 3), (2, 4), (100, 4)])
def test_shards_disjoint_and_covering(n, world):
    for epoch in (0, 1):
        parts = []
        for r in range(world):
            s = DistributedSampler(range(n), world, r, shuffle=True, seed=5, drop_last=True)
            s.set_epoch(epoch)
            parts.append(list(s))
        flat = [i for p in parts for i in p]
        assert len(flat) == len(set(flat)) == (n // world) * world  # disjoint, none padded
        padded = shards(n, world, seed=5)
        allp = [i for p in padded for i in p]
        assert set(allp) == set(range(n))  # covering
        assert len(allp) == -(-n // world) * world and all(len(p) == len(padded[0])
                                                          for p in padded)


def test_shuffle_depends_on_seed_and_epoch_only():
    a = shards(50, 2, seed=1)
    assert a == shards(50, 2, seed=1) and a != shards(50, 2, seed=2)
    s = DistributedSampler(range(50), 2, 0, seed=1)
    e0 = list(s)
    s.set_epoch(1)
    assert list(s) != e0 and sorted(list(s) + shards(50, 2, seed=1)[1]) != []
    assert a[0] != list(range(0, 50, 2))  # shuffled


def test_errors():
    with pytest.raises(ValueError, match="Invalid rank 2"):
        DistributedSampler(range(4), num_replicas=2, rank=2)
    with pytest.raises(RuntimeError, match="init_process_group"):
        DistributedSampler(range(4))
