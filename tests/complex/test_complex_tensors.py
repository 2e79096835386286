"""Complex dtypes, promotion, creation, printing, parts/views and the rotary-embedding pattern
vs PyTorch."""
import warnings

import numpy as np
import pytest
import torch

import cadenza
from complex_helpers import carray, rarray, check


def _name(d):
    return str(d).split(".")[1]


def test_dtype_objects():
    for n in ("complex64", "complex128", "cfloat", "cdouble"):
        c, t = getattr(cadenza, n), getattr(torch, n)
        assert c.name == _name(t)
        assert c.is_complex and not c.is_floating_point
        assert c.itemsize == t.itemsize
        assert _name(c.to_real()) == _name(t.to_real())
    assert cadenza.float32.to_complex() is cadenza.complex64
    assert cadenza.float64.to_complex() is cadenza.complex128
    assert not cadenza.float32.is_complex


DT = ["bool", "uint8", "int32", "int64", "float16", "float32", "float64", "complex64",
      "complex128"]


@pytest.mark.parametrize("a", DT)
@pytest.mark.parametrize("b", ["complex64", "complex128"])
def test_promote_types(a, b):
    got = cadenza.promote_types(getattr(cadenza, a), getattr(cadenza, b))
    assert got.name == _name(torch.promote_types(getattr(torch, a), getattr(torch, b)))
    got = cadenza.promote_types(getattr(cadenza, b), getattr(cadenza, a))
    assert got.name == _name(torch.promote_types(getattr(torch, b), getattr(torch, a)))


@pytest.mark.parametrize("a", ["bool", "int32", "int64", "float32", "float64", "complex64",
                               "complex128"])
@pytest.mark.parametrize("other", ["py_complex", "zero_dim_c64", "zero_dim_c128",
                                   "dim_c64", "py_float"])
def test_result_type_with_complex(a, other):
    def make(L):
        x = L.ones(2, dtype=getattr(L, a))
        o = {"py_complex": 1 + 2j, "py_float": 2.5,
             "zero_dim_c64": L.tensor(1j, dtype=L.complex64),
             "zero_dim_c128": L.tensor(1j, dtype=L.complex128),
             "dim_c64": L.ones(2, dtype=L.complex64)}[other]
        return x, o
    tx, to = make(torch)
    cx, co = make(cadenza)
    want = _name(torch.result_type(tx, to))
    assert cadenza.result_type(cx, co).name == want
    assert (cx + co).dtype.name == _name((tx + to).dtype)
    assert (co * cx).dtype.name == _name((to * tx).dtype)


def test_creation():
    for L in (torch, cadenza):
        assert _name(L.tensor([1 + 2j, 3]).dtype) == "complex64"
        assert _name(L.tensor(2j).dtype) == "complex64"
        assert _name(L.tensor([1j], dtype=L.complex128).dtype) == "complex128"
        assert _name(L.tensor(np.array([1j])).dtype) == "complex128"
        assert _name(L.zeros(2, dtype=L.cfloat).dtype) == "complex64"
        assert _name(L.ones(2, 3, dtype=L.complex128).dtype) == "complex128"
        assert _name(L.full((2,), 1 + 1j).dtype) == "complex64"
        assert _name(L.randn(2, dtype=L.complex64).dtype) == "complex64"
        assert _name(L.rand(2, dtype=L.complex128).dtype) == "complex128"
        assert _name(L.zeros_like(L.ones(2, dtype=L.complex64)).dtype) == "complex64"
        assert _name(L.ones(2).cfloat().dtype) == "complex64"
        assert _name(L.ones(2).cdouble().dtype) == "complex128"
        assert _name(L.ones(2).to(L.complex64).dtype) == "complex64"
        assert L.is_complex(L.ones(1, dtype=L.complex64)) and not L.is_complex(L.ones(1))
        assert not L.ones(1, dtype=L.complex64).is_floating_point()
        assert L.tensor([1j]).type() == "torch.ComplexFloatTensor"
        assert L.tensor([1j], dtype=L.complex128).type() == "torch.ComplexDoubleTensor"
        assert _name(L.ones(2).type("torch.ComplexFloatTensor").dtype) == "complex64"
    assert cadenza.tensor([1 + 2j]).item() == 1 + 2j
    assert cadenza.tensor([1 + 2j, 3j]).tolist() == [1 + 2j, 3j]
    assert complex(cadenza.tensor(1 - 1j)) == 1 - 1j


def test_randn_complex_variance():
    z = cadenza.randn(200000, dtype=cadenza.complex128).numpy()
    assert abs(z.real.var() - 0.5) < 0.01 and abs(z.imag.var() - 0.5) < 0.01
    u = cadenza.rand(1000, dtype=cadenza.complex64).numpy()
    assert (u.real >= 0).all() and (u.real < 1).all() and (u.imag >= 0).all()


REPRS = [
    lambda L: L.tensor([1 + 2j, 3 - 4j]),
    lambda L: L.tensor([1.5 + 2j, -3.25 - 4j]),
    lambda L: L.tensor([[0.1234567 + 2j, 3 - 4e-5j]]),
    lambda L: L.tensor([1 + 2j], dtype=L.complex128),
    lambda L: L.tensor(1 + 2j),
    lambda L: L.zeros(2, dtype=L.cfloat, requires_grad=True),
    lambda L: L.tensor([1e10 + 1j, 1]),
    lambda L: L.tensor([float("nan") + 1j, float("inf") - 2j]),
    lambda L: L.arange(40.).reshape(20, 2) * (1 + 1.5j),
    lambda L: L.tensor([[1 + 2j] * 3] * 2, requires_grad=True) * 2,
    lambda L: L.zeros(0, dtype=L.complex64),
]


@pytest.mark.parametrize("i", range(len(REPRS)))
def test_repr_matches_torch(i):
    assert repr(REPRS[i](cadenza)).replace("cadenza", "torch") == repr(REPRS[i](torch))


def test_parts_are_views_and_writable():
    for L in (torch, cadenza):
        z = L.zeros(3, dtype=L.complex64)
        z.real.fill_(3)
        z.imag[0] = 5
        z.real = L.tensor([7., 8., 9.])
        L.view_as_real(z)[1, 1] = -1
        assert z.numpy().tolist() == [7 + 5j, 8 - 1j, 9 + 0j]
        x = L.ones(2)
        assert x.real is x and x.conj() is x
        assert not z.is_conj() and not z.conj().resolve_conj().is_conj()
        assert _name(z.abs().dtype) == "float32" and _name(z.real.dtype) == "float32"
        with pytest.raises(RuntimeError):
            x.imag
        with pytest.raises(RuntimeError):
            L.view_as_real(x)


@pytest.mark.parametrize("bad", [
    lambda L: L.ones(3, 3),
    lambda L: L.ones(3, 4)[:, 1:3],
    lambda L: L.ones(2, 4).t(),
    lambda L: L.ones(3, 2).int(),
    lambda L: L.ones(()),
    lambda L: L.ones(5)[1:5].view(2, 2),
])
def test_view_as_complex_errors(bad):
    with pytest.raises(RuntimeError) as t:
        torch.view_as_complex(bad(torch))
    with pytest.raises(RuntimeError) as c:
        cadenza.view_as_complex(bad(cadenza))
    assert str(c.value).split(",")[0].split(":")[0] == str(t.value).split(",")[0].split(":")[0]


def test_view_as_complex_shares_memory():
    x = cadenza.arange(8.).reshape(2, 2, 2)
    z = cadenza.view_as_complex(x)
    assert z.shape == (2, 2) and z.dtype is cadenza.complex64
    z.mul_(1j)
    assert x[0, 1].tolist() == [-3.0, 2.0]
    assert cadenza.view_as_real(z).shape == (2, 2, 2)


def test_complex_polar_angle():
    re, im = rarray(3, 4), rarray(3, 4, seed=5)
    check(lambda L, a, b: L.complex(a, b), re, im)
    check(lambda L, a, b: L.complex(a, b[0]), re, im)
    check(lambda L, a, b: L.polar(a.abs() + 0.1, b), re, im)
    check(lambda L, a, b: L.polar(a.abs(), b), re.astype(np.float32), im.astype(np.float32),
          rtol=1e-5, atol=1e-6)
    check(lambda L, a: L.angle(a), np.array([-1.5, 0.0, 2.0, np.nan]))
    check(lambda L, a: L.view_as_real(a), carray(3, 2))
    check(lambda L, a: L.view_as_complex(a), rarray(3, 2))
    for bad in [lambda L: L.complex(L.ones(2), L.ones(2).double()),
                lambda L: L.complex(L.ones(2).long(), L.ones(2).long())]:
        with pytest.raises(RuntimeError):
            bad(torch)
        with pytest.raises(RuntimeError):
            bad(cadenza)


def test_casts_between_real_and_complex():
    z = carray(3)
    check(lambda L, a: a.to(L.complex64), z, rtol=1e-6, atol=1e-6)
    check(lambda L, a: a.to(L.complex128) * (1 + 1j), rarray(3))
    check(lambda L, a: a.cfloat() * (1 + 1j), rarray(3, dtype=np.float32), rtol=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check(lambda L, a: a.to(L.float64), z)
        check(lambda L, a: a.float(), z, rtol=1e-6, atol=1e-6)
    with pytest.warns(UserWarning, match="imaginary"):
        cadenza.tensor([1j]).float()


def test_inplace_and_errors():
    for L in (torch, cadenza):
        x = L.ones(2)
        with pytest.raises(RuntimeError):
            x += 1j  # complex result can't be stored into a float tensor
        z = L.ones(2, dtype=L.complex64)
        z += 1j
        z *= 2
        assert z.numpy().tolist() == [2 + 2j, 2 + 2j]
        with pytest.raises(RuntimeError, match="real scalar"):
            L.ones(1, dtype=L.complex64, requires_grad=True).sum().backward()


def _rotary(L, x, dtype):
    """The Llama rotary embedding (precompute_freqs_cis / apply_rotary_emb)."""
    dim, end = x.shape[-1], x.shape[1]
    freqs = 1.0 / (10000.0 ** (L.arange(0, dim, 2)[: (dim // 2)].float() / dim))
    t = L.arange(end, device=freqs.device)
    freqs = L.outer(t, freqs).float()
    freqs_cis = L.polar(L.ones_like(freqs), freqs)
    xq = x.to(dtype)
    xq_ = L.view_as_complex(xq.float().reshape(*xq.shape[:-1], -1, 2))
    fc = freqs_cis.view(1, xq_.shape[1], 1, xq_.shape[-1])
    return L.view_as_real(xq_ * fc).flatten(3).type_as(xq)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_llama_rotary_embedding(dtype):
    x = rarray(2, 5, 3, 8, dtype=np.float32)
    check(lambda L, a: _rotary(L, a, getattr(L, dtype)), x, rtol=1e-5, atol=1e-5)


def test_rotary_in_a_module_trains():
    """An attention-like block with rotary embeddings: loss and parameter grads vs torch."""
    w = rarray(8, 8, seed=4, dtype=np.float32)
    x = rarray(2, 5, 1, 8, seed=6, dtype=np.float32)

    def run(L, x, w):
        q = _rotary(L, x @ w, L.float32)
        return (q * q).mean(-1)
    check(run, x, w, rtol=1e-5, atol=1e-5)


def test_save_load_complex64_buffer(tmp_path):
    """A module with a complex rotary buffer round-trips through cadenza.save/load (the
    safetensors C64 code); torch's safetensors reader sees the same values."""
    class M(cadenza.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = cadenza.nn.Linear(4, 4)
            self.register_buffer("fc", cadenza.polar(cadenza.ones(3), cadenza.arange(3.)))
    m = M()
    p = tmp_path / "m.safetensors"
    cadenza.save(m.state_dict(), p)
    m2 = M()
    m2.fc.zero_()
    m2.load_state_dict(cadenza.load(p))
    assert m2.fc.dtype is cadenza.complex64
    np.testing.assert_array_equal(m2.fc.numpy(), m.fc.numpy())
    from safetensors.torch import load_file
    np.testing.assert_array_equal(load_file(str(p))["fc"].numpy(), m.fc.numpy())
    with pytest.raises(TypeError, match="complex128"):
        cadenza.save({"z": cadenza.ones(2, dtype=cadenza.complex128)}, tmp_path / "z.pt")


WRAPS = [
    lambda L: L.tensor([1., 2000.]),
    lambda L: L.tensor([-0.0, 1.25]),
    lambda L: L.arange(16.).reshape(2, 8) * 1e-5,
    lambda L: L.arange(2000.).reshape(40, 50),
    lambda L: L.arange(24.).reshape(2, 3, 4),
    lambda L: L.arange(30.).reshape(1, 30) * 1e6,
    lambda L: L.view_as_complex(L.arange(2000.).reshape(1000, 2)),
    lambda L: L.view_as_complex(L.arange(4000.).reshape(2000, 2)) / 3,
    lambda L: L.view_as_complex(L.arange(48.).reshape(2, 3, 4, 2)) * (1 - 2j),
    lambda L: L.tensor([-0.0 - 0.0j, 1.25 - 0.5j]).reshape(2, 1),
    lambda L: L.view_as_complex(L.arange(16.).reshape(2, 4, 2)) * 1e-5,
    lambda L: L.ones(2, 40, dtype=L.float64, requires_grad=True),
]


@pytest.mark.parametrize("i", range(len(WRAPS)))
def test_repr_layout_matches_torch(i):
    """torch's element widths (nonzero finite values only), scientific notation for integers
    spanning more than 1000x, elements per line from the widest element, summarization and
    where the suffixes go."""
    assert repr(WRAPS[i](cadenza)).replace("cadenza", "torch") == repr(WRAPS[i](torch))
