"""cadenza.fft vs torch.fft: values, dtypes and gradients of a real loss for every transform,
each size argument, dims and normalization mode; helpers; errors."""
import numpy as np
import pytest
import torch

import cadenza
from complex_helpers import carray, rarray, check

NORMS = [None, "backward", "forward", "ortho"]
R1 = rarray(3, 8)
C1 = carray(3, 8)
R3 = rarray(2, 4, 6, seed=1)
C3 = carray(2, 4, 6, seed=1)
CH = carray(3, 5, seed=2)  # a one-sided spectrum (5 bins: 8 or 9 points)


def F(name, *args, **kw):
    return lambda L, x: getattr(L.fft, name)(x, *args, **kw)


CASES = {
    "fft_real": (F("fft"), R1), "fft_complex": (F("fft"), C1),
    "fft_n_pad": (F("fft", n=11), C1), "fft_n_trim": (F("fft", n=5), R1),
    "fft_dim0": (F("fft", dim=0), C1),
    "ifft": (F("ifft"), C1), "ifft_real_n": (F("ifft", n=6), R1),
    "fft2": (F("fft2"), C3), "fft2_s": (F("fft2", s=(3, 7)), R3),
    "ifft2": (F("ifft2", dim=(0, 2)), C3),
    "fftn": (F("fftn"), C3), "fftn_s_only": (F("fftn", s=(5, 4)), C3),
    "fftn_dim": (F("fftn", dim=(0, -1)), R3), "ifftn": (F("ifftn", s=(2, 3, 4)), C3),
    "rfft": (F("rfft"), R1), "rfft_odd_n": (F("rfft", n=7), R1),
    "rfft_dim0": (F("rfft", dim=0), R1),
    "irfft": (F("irfft"), CH), "irfft_odd": (F("irfft", n=9), CH),
    "irfft_pad": (F("irfft", n=14), CH), "irfft_trim": (F("irfft", n=4), CH),
    "irfft_dim0": (F("irfft", dim=0), CH),
    "rfft2": (F("rfft2"), R3), "rfft2_s": (F("rfft2", s=(5, 5)), R3),
    "irfft2": (F("irfft2"), C3), "irfft2_s": (F("irfft2", s=(3, 9)), C3),
    "rfftn": (F("rfftn"), R3), "rfftn_dim": (F("rfftn", dim=(2, 0)), R3),
    "irfftn": (F("irfftn"), C3), "irfftn_s": (F("irfftn", s=(4, 5), dim=(0, 1)), C3),
    "hfft": (F("hfft"), CH), "hfft_n": (F("hfft", n=7), CH),
    "ihfft": (F("ihfft"), R1), "ihfft_n": (F("ihfft", n=5), R1),
    "hfft2": (F("hfft2"), C3), "ihfft2": (F("ihfft2"), R3),
    "hfftn": (F("hfftn", s=(3, 4, 8)), C3), "ihfftn": (F("ihfftn"), R3),
}


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("name", sorted(CASES))
def test_transform(name, norm):
    fn, x = CASES[name]
    check(lambda L, t: fn(L, t) if norm is None else _with_norm(fn, L, t, norm), x)


def _with_norm(fn, L, t, norm):
    real = L.fft

    class _Fft:  # the same call with norm= added
        def __getattr__(self, n):
            return lambda *a, **k: getattr(real, n)(*a, norm=norm, **k)

    class _L:
        fft = _Fft()
    return fn(_L, t)


@pytest.mark.parametrize("name", ["fft", "rfft", "irfft", "fft2", "rfftn", "ihfft"])
def test_float32_gives_complex64(name):
    x = (CH if name == "irfft" else R3).astype(np.complex64 if name == "irfft" else np.float32)
    check(lambda L, t: getattr(L.fft, name)(t), x, rtol=1e-5, atol=1e-5)


def test_integer_input():
    for L in (torch, cadenza):
        assert str(L.fft.fft(L.arange(4)).dtype).endswith("complex64")
        assert str(L.fft.rfft(L.arange(4)).dtype).endswith("complex64")
    np.testing.assert_allclose(cadenza.fft.fft(cadenza.arange(4)).numpy(),
                               torch.fft.fft(torch.arange(4)).numpy())


def test_spectral_loss_trains_like_torch():
    """A spectral loss on a linear layer's output: |rfft(pred)| - |rfft(target)| (L1)."""
    w, x, y = rarray(16, 16, seed=3), rarray(4, 16, seed=4), rarray(4, 16, seed=5)

    def loss(L, w, x, y):
        p = x @ w
        mag = L.fft.rfft(p, norm="ortho").abs()
        tgt = L.fft.rfft(y, norm="ortho").abs()
        spec = (mag - tgt).abs().mean()
        back = L.fft.irfft(L.fft.rfft(p), n=16)
        return spec + (back - y).pow(2).mean()
    check(loss, w, x, y, requires=(0,))


def test_double_backward():
    out = []
    for L in (torch, cadenza):
        x = L.tensor(R1, requires_grad=True)
        y = L.fft.rfft(x * x).abs().sum() + L.fft.irfft(L.fft.fft(x)[..., :5]).pow(2).sum()
        (g,) = L.autograd.grad(y, x, create_graph=True)
        (gg,) = L.autograd.grad(g.pow(2).sum(), x)
        out.append((g.detach().numpy(), gg.numpy()))
    np.testing.assert_allclose(out[1][0], out[0][0], rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(out[1][1], out[0][1], rtol=1e-6, atol=1e-8)


def test_gradcheck():
    from cadenza.autograd.gradcheck import gradcheck, gradgradcheck
    x = cadenza.tensor(R1, requires_grad=True)
    z = cadenza.tensor(CH, requires_grad=True)
    assert gradcheck(lambda t: cadenza.fft.rfft(t, norm="ortho").abs(), (x,))
    assert gradcheck(lambda t: cadenza.fft.irfft(t, n=9), (z,))
    assert gradgradcheck(lambda t: cadenza.fft.fft(t * t, norm="forward"), (z[:, :3],))


@pytest.mark.parametrize("call", [
    lambda L: L.fft.fftfreq(5), lambda L: L.fft.fftfreq(6, 0.25),
    lambda L: L.fft.rfftfreq(6, 0.5, dtype=L.float64), lambda L: L.fft.rfftfreq(7),
    lambda L: L.fft.fftshift(L.arange(6).reshape(2, 3)),
    lambda L: L.fft.ifftshift(L.arange(6).reshape(2, 3)),
    lambda L: L.fft.fftshift(L.arange(10.).reshape(2, 5), dim=1),
    lambda L: L.fft.ifftshift(L.arange(10.).reshape(2, 5), dim=(1,)),
    lambda L: L.fft.fftshift(L.fft.fftfreq(7)),
])
def test_helpers(call):
    t, c = call(torch), call(cadenza)
    assert str(t.dtype).split(".")[1] == c.dtype.name
    np.testing.assert_allclose(c.numpy(), t.numpy(), rtol=1e-6)


def test_shift_grad():
    check(lambda L, x: L.fft.fftshift(L.fft.fft(x), dim=-1), C1)


@pytest.mark.parametrize("bad", [
    lambda L: L.fft.fft(L.ones(4), norm="bad"),
    lambda L: L.fft.fft(L.ones(4), n=0),
    lambda L: L.fft.rfft(L.ones(4) + 0j),
    lambda L: L.fft.irfft(L.ones(1) + 0j),
    lambda L: L.fft.fft(L.ones(4).half()),
    lambda L: L.fft.fftn(L.ones(2, 3), dim=(0, 0)),
    lambda L: L.fft.fftn(L.ones(2, 3), s=(4, 5), dim=(0,)),
])
def test_errors_match_torch(bad):
    with pytest.raises(RuntimeError) as t:
        bad(torch)
    with pytest.raises(RuntimeError) as c:
        bad(cadenza)
    assert str(c.value).split(":")[0] == str(t.value).split(":")[0]


@pytest.mark.parametrize("bad", [lambda L: L.fft.fft(L.ones(())),
                                 lambda L: L.fft.fft(L.ones(4), dim=3)])
def test_index_errors(bad):
    with pytest.raises(IndexError):
        bad(torch)
    with pytest.raises(IndexError):
        bad(cadenza)
