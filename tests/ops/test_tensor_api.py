"""Tensor API basics vs torch: repr, conversions, zero-copy interop, dtype casts, generators
and random sampling."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import cadenza


def _repr_pair(data, **kw):
    c = repr(cadenza.tensor(data, **{k: getattr(cadenza, v) if k == "dtype" else v
                                     for k, v in kw.items()}))
    t = repr(torch.tensor(data, **{k: getattr(torch, v) if k == "dtype" else v
                                   for k, v in kw.items()}))
    return c, t.replace("torch.", "cadenza.")


@pytest.mark.parametrize("data,kw", [
    ([1.0, 2.5, -3.0], {}),
    ([[1.0, 2.0], [3.0, 4.0]], {}),
    ([1.0, 2.0], {"dtype": "float64"}),
    ([1, 2, 3], {}),
    ([1, 2], {"dtype": "int32"}),
    ([True, False], {}),
    (3.5, {}),
    (7, {}),
    ([], {}),
    ([1.0, 2.0], {"requires_grad": True}),
    ([0.001, 1000.0], {}),
    ([1.5, float("nan"), float("inf")], {}),
])
def test_repr_matches_torch(data, kw):
    c, t = _repr_pair(data, **kw)
    assert c == t


def test_repr_grad_fn_names():
    x = cadenza.tensor([1.0, 2.0], requires_grad=True)
    xt = torch.tensor([1.0, 2.0], requires_grad=True)
    for f in (lambda a: a * 2, lambda a: a + 1, lambda a: a.exp(), lambda a: a.sum(),
              lambda a: a.reshape(2, 1), lambda a: a[0]):
        c, t = f(x), f(xt)
        assert c.grad_fn.name() == t.grad_fn.name()
        assert repr(c) == repr(t).replace("torch.", "cadenza.")
    ct = f(x)
    assert "grad_fn=<" in repr(ct)


def test_item_tolist():
    assert cadenza.tensor(2.5).item() == 2.5
    assert isinstance(cadenza.tensor(3).item(), int)
    assert cadenza.tensor([True]).item() is True
    assert cadenza.tensor([[1, 2], [3, 4]]).tolist() == [[1, 2], [3, 4]]
    assert cadenza.tensor(1.5).tolist() == 1.5
    with pytest.raises(RuntimeError):
        cadenza.tensor([1.0, 2.0]).item()
    with pytest.raises(RuntimeError):
        torch.tensor([1.0, 2.0]).item()


def test_numpy_and_from_numpy_share_memory():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    t = cadenza.from_numpy(a)
    a[0, 0] = 100
    assert t[0, 0].item() == 100
    n = t.numpy()
    n[1, 1] = -5
    assert a[1, 1] == -5 and np.shares_memory(n, a)
    with pytest.raises(RuntimeError):
        cadenza.tensor([1.0], requires_grad=True).numpy()
    assert np.asarray(t) is not None and np.shares_memory(np.asarray(t), a)
    assert np.array(t, dtype=np.float64).dtype == np.float64
    with pytest.raises(TypeError):
        cadenza.from_numpy([1, 2])


def test_as_tensor_shares_memory_without_cast():
    a = np.ones(3)
    t = cadenza.as_tensor(a)
    a[0] = 5
    assert t[0].item() == 5
    t2 = cadenza.as_tensor(a, dtype=cadenza.float32)
    a[1] = 7
    assert t2[1].item() == 1


def test_dlpack_roundtrip_with_torch_shares_memory():
    c = cadenza.arange(6, dtype=cadenza.float32)
    t = torch.from_dlpack(c)
    t[0] = 42
    assert c[0].item() == 42
    src = torch.arange(4, dtype=torch.float64)
    c2 = cadenza.from_dlpack(src)
    src[1] = -1
    assert c2[1].item() == -1 and c2.dtype == cadenza.float64
    # and with numpy
    n = np.from_dlpack(c)
    n[2] = 9
    assert c[2].item() == 9
    c3 = cadenza.from_dlpack(np.ones(2, dtype=np.int64))
    assert c3.dtype == cadenza.int64


def test_to_dtype_and_copy_semantics():
    x = cadenza.tensor([1.7, -2.2])
    assert x.to(cadenza.float32) is x
    assert x.to(cadenza.float32, copy=True) is not x
    y = x.to(cadenza.int64)
    assert y.dtype == cadenza.int64 and y.tolist() == [1, -2]  # truncation like torch
    assert x.double().dtype == cadenza.float64 and x.half().dtype == cadenza.float16
    with pytest.raises(RuntimeError):  # a string names a device, as in torch
        x.to("float64")
    assert x.to(torch_like := cadenza.zeros(1, dtype=cadenza.int32)).dtype == cadenza.int32
    assert torch_like.dtype == cadenza.int32
    assert x.bool().tolist() == [True, True]
    assert x.type() == "torch.FloatTensor"
    g = cadenza.tensor([1.0, 2.0], requires_grad=True)
    h = g.to(cadenza.float64)
    assert h.requires_grad and h.grad_fn is not None
    h.sum().backward()
    assert g.grad.dtype == cadenza.float32 and g.grad.tolist() == [1.0, 1.0]


def test_shape_basics():
    x = cadenza.zeros(2, 3, 4)
    assert x.shape == (2, 3, 4) and x.size(-1) == 4 and x.ndim == 3 and x.numel() == 24
    assert repr(x.shape) == "cadenza.Size([2, 3, 4])"
    assert x.stride() == torch.zeros(2, 3, 4).stride()
    assert x.transpose(0, 2).stride() == torch.zeros(2, 3, 4).transpose(0, 2).stride()
    assert not x.transpose(0, 1).is_contiguous()
    assert len(x) == 2
    with pytest.raises(TypeError):
        len(cadenza.tensor(1.0))


def test_views_share_memory():
    x = cadenza.zeros(2, 3)
    v = x.view(6)
    v[0] = 1
    assert x[0, 0].item() == 1
    s = x[:, 1]
    s[1] = 5
    assert x[1, 1].item() == 5
    with pytest.raises(RuntimeError):
        x.t().view(6)


# ----------------------------------------------------------------------------- random
def test_generator_state_reproducibility():
    g = cadenza.Generator().manual_seed(123)
    a = cadenza.rand(5, generator=g)
    state = g.get_state()
    b = cadenza.randn(3, generator=g)
    g.set_state(state)
    b2 = cadenza.randn(3, generator=g)
    assert b.tolist() == b2.tolist()
    g2 = cadenza.Generator().manual_seed(123)
    assert cadenza.rand(5, generator=g2).tolist() == a.tolist()
    assert g.initial_seed() == 123
    with pytest.raises(RuntimeError):
        g.set_state(cadenza.tensor([1, 2, 3], dtype=cadenza.uint8))



def test_randint_one_element_draws_continue_the_same_stream():
    # a (1,)-shaped randint takes NumPy's scalar draw: the same numbers, in the same order, as
    # one draw of many, whatever the bounds and dtype
    for low, high in ((3, 8), (-5, 2 ** 40)):
        g1, g2 = cadenza.Generator().manual_seed(7), cadenza.Generator().manual_seed(7)
        ones = [cadenza.randint(low, high, (1,), generator=g1, dtype=dt)
                for dt in (None, cadenza.float64, cadenza.int32)]
        many = cadenza.randint(low, high, (3,), generator=g2)
        assert [t.shape for t in ones] == [(1,)] * 3
        assert [t.dtype for t in ones] == [cadenza.int64, cadenza.float64, cadenza.int32]
        assert [t.tolist() for t in ones] == [many[k:k + 1].to(t.dtype).tolist()
                                              for k, t in enumerate(ones)]
        assert cadenza.rand(2, generator=g1).tolist() == cadenza.rand(2, generator=g2).tolist()

def test_manual_seed_reproducibility_and_rng_state():
    cadenza.manual_seed(0)
    a = cadenza.randn(4)
    cadenza.manual_seed(0)
    assert cadenza.randn(4).tolist() == a.tolist()
    st = cadenza.get_rng_state()
    x = cadenza.rand(3)
    cadenza.set_rng_state(st)
    assert cadenza.rand(3).tolist() == x.tolist()
    # fork_rng starts from the current state and restores it on exit: the draws inside it
    # repeat the ones that follow it, and do not advance the generator outside
    st = cadenza.get_rng_state()
    after = cadenza.rand(4).tolist()
    cadenza.set_rng_state(st)
    with cadenza.random.fork_rng():
        assert cadenza.rand(4).tolist() == after
        cadenza.rand(10)
    assert cadenza.rand(4).tolist() == after
    assert cadenza.rand(4).tolist() != after


def test_rand_dtype_and_range():
    g = cadenza.Generator().manual_seed(1)
    r = cadenza.rand(1000, generator=g, dtype=cadenza.float64)
    assert r.dtype == cadenza.float64 and 0 <= r.min().item() and r.max().item() < 1
    n = cadenza.randn(20000, generator=g)
    assert abs(n.mean().item()) < 0.05 and abs(n.std().item() - 1) < 0.05
    with pytest.raises(RuntimeError):
        cadenza.rand(2, dtype=cadenza.int64)


def test_randint():
    g = cadenza.Generator().manual_seed(2)
    r = cadenza.randint(3, 7, (2000,), generator=g)
    assert r.dtype == cadenza.int64 and r.shape == (2000,)
    vals, counts = np.unique(r.numpy(), return_counts=True)
    assert vals.tolist() == [3, 4, 5, 6]
    assert counts.min() > 400
    r2 = cadenza.randint(5, (3, 2), generator=g)
    assert r2.shape == (3, 2) and 0 <= r2.min().item() and r2.max().item() < 5
    assert cadenza.randint(0, 2, (4,), dtype=cadenza.int32).dtype == cadenza.int32
    with pytest.raises(RuntimeError):
        cadenza.randint(5, 5, (2,))
    g1, g2 = cadenza.Generator().manual_seed(9), cadenza.Generator().manual_seed(9)
    assert cadenza.randint(0, 100, (10,), generator=g1).tolist() == \
        cadenza.randint(0, 100, (10,), generator=g2).tolist()


def test_randperm():
    g = cadenza.Generator().manual_seed(3)
    p = cadenza.randperm(10, generator=g)
    assert p.dtype == cadenza.int64 and sorted(p.tolist()) == list(range(10))
    assert cadenza.randperm(0).shape == (0,)
    g1, g2 = cadenza.Generator().manual_seed(4), cadenza.Generator().manual_seed(4)
    assert cadenza.randperm(20, generator=g1).tolist() == \
        cadenza.randperm(20, generator=g2).tolist()


def test_multinomial_with_replacement_statistics():
    g = cadenza.Generator().manual_seed(5)
    w = cadenza.tensor([1.0, 2.0, 7.0])
    s = cadenza.multinomial(w, 20000, replacement=True, generator=g)
    assert s.shape == (20000,) and s.dtype == cadenza.int64
    freq = np.bincount(s.numpy(), minlength=3) / 20000
    np.testing.assert_allclose(freq, [0.1, 0.2, 0.7], atol=0.02)
    batch = cadenza.multinomial(cadenza.tensor([[0.0, 1.0], [1.0, 0.0]]), 5, True, generator=g)
    assert batch.tolist() == [[1] * 5, [0] * 5]


def test_multinomial_without_replacement():
    g = cadenza.Generator().manual_seed(6)
    w = cadenza.tensor([1.0, 1.0, 1.0, 0.0, 5.0])
    for _ in range(20):
        s = cadenza.multinomial(w, 4, generator=g).tolist()
        assert len(set(s)) == 4 and 3 not in s[:4] or s[-1] == 3
    first = [cadenza.multinomial(w, 1, generator=g).item() for _ in range(2000)]
    freq = np.bincount(first, minlength=5) / 2000
    np.testing.assert_allclose(freq, [0.125, 0.125, 0.125, 0.0, 0.625], atol=0.04)
    with pytest.raises(RuntimeError):
        cadenza.multinomial(w, 6)
    with pytest.raises(RuntimeError):
        torch.multinomial(torch.tensor([1.0, 1.0, 1.0, 0.0, 5.0]), 6)
    with pytest.raises(RuntimeError):
        cadenza.multinomial(cadenza.tensor([1.0, -1.0]), 1)
    g1, g2 = cadenza.Generator().manual_seed(7), cadenza.Generator().manual_seed(7)
    assert cadenza.multinomial(w, 3, generator=g1).tolist() == \
        cadenza.multinomial(w, 3, generator=g2).tolist()


def test_binomial_against_torch():
    g = cadenza.Generator().manual_seed(8)
    c, p = cadenza.full((20000,), 30.0), cadenza.full((20000,), 0.2)
    x = cadenza.binomial(c, p, generator=g)
    assert x.dtype == cadenza.float32 and tuple(x.shape) == (20000,)
    assert abs(x.mean().item() - 6.0) < 0.1 and abs(x.var().item() - 4.8) < 0.25
    assert (x == x.round()).all() and x.min().item() >= 0 and x.max().item() <= 30
    g1, g2 = cadenza.Generator().manual_seed(3), cadenza.Generator().manual_seed(3)
    counts = cadenza.tensor([10.0, 20.0, 0.0])
    assert cadenza.binomial(counts, cadenza.tensor(0.5), generator=g1).tolist() == \
        cadenza.binomial(counts, cadenza.tensor(0.5), generator=g2).tolist()
    # a probability above 1 draws every trial, as torch's sampler
    for lib in (torch, cadenza):
        full = lib.binomial(lib.tensor([10.0, 4.0]), lib.tensor([1.5, 1.0]))
        assert full.tolist() == [10.0, 4.0]
        assert lib.binomial(lib.tensor([5.0]), lib.tensor([0.0])).tolist() == [0.0]
        with pytest.raises(ValueError, match="binomial only supports floating-point dtypes"):
            lib.binomial(lib.tensor([3, 4]), lib.tensor([0.5, 0.5]))
        with pytest.raises(RuntimeError, match="Found dtype Float but expected Double"):
            lib.binomial(lib.tensor([3.0], dtype=lib.float64), lib.tensor([0.5]))


def test_bernoulli_and_normal():
    g = cadenza.Generator().manual_seed(8)
    p = cadenza.full((10000,), 0.3)
    b = cadenza.bernoulli(p, generator=g)
    assert b.dtype == cadenza.float32 and abs(b.mean().item() - 0.3) < 0.03
    n = cadenza.normal(2.0, 0.5, (10000,), generator=g)
    assert abs(n.mean().item() - 2.0) < 0.03


def test_tensor_of_python_numbers_infers_as_torch():
    """tensor() of flat lists and lists of rows of Python numbers (its fast path: element types
    read in one pass) gives torch's dtype and values; other data (ragged rows, a number
    beside a row, ints beyond int64) takes the general path and fails or converts as torch."""
    cases = [[1.0, 2.0], [1, 2], [True, False], [1, 2.5], [True, 1], [True, 2.0],
             [[1.0, 2.0], [3.0, 4.0]], [[1, 2], [3.5, 4]], [(1, 2), (3, 4)], (1.5,), [],
             [[]], [[], []], [[True], [False]]]
    for data in cases:
        for dt in (None, "uint8", "float64"):
            kw = {} if dt is None else {"dtype": dt}
            c = cadenza.tensor(data, **{k: getattr(cadenza, v) for k, v in kw.items()})
            t = torch.tensor(data, **{k: getattr(torch, v) for k, v in kw.items()})
            assert str(c.dtype).split(".")[1] == str(t.dtype).split(".")[1], data
            np.testing.assert_array_equal(c.numpy(), t.numpy())
    for data in ([[1, 2], [3]], [[1.0], 2.0]):
        with pytest.raises(ValueError):
            cadenza.tensor(data)
