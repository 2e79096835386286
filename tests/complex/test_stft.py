"""torch.stft and the window functions vs PyTorch: values and the gradient of a real loss."""
import numpy as np
import pytest
import torch

import cadenza
from complex_helpers import rarray, check

X = rarray(2, 50)

CFGS = [dict(n_fft=16), dict(n_fft=16, hop_length=5, win_length=12, window="hann"),
        dict(n_fft=8, center=False, window="hamming"),
        dict(n_fft=16, normalized=True, window="hann", pad_mode="constant"),
        dict(n_fft=10, onesided=False, window="hann"), dict(n_fft=16, win_length=10),
        dict(n_fft=12, hop_length=3, pad_mode="replicate")]


def _kwargs(L, cfg):
    """cfg with its window name made the library's float64 window of win_length."""
    kw = dict(cfg)
    w = kw.pop("window", None)
    if w:
        kw["window"] = getattr(L, w + "_window")(kw.get("win_length", kw["n_fft"]),
                                                  dtype=L.float64)
    return kw


def _stft(cfg, one_d=False):
    def run(L, x):
        return L.stft(x[0] if one_d else x, return_complex=True, **_kwargs(L, cfg))
    return run


@pytest.mark.parametrize("i", range(len(CFGS)))
def test_stft(i):
    check(_stft(CFGS[i]), X, rtol=1e-6, atol=1e-8)


def test_stft_1d_and_float32_and_real_output():
    check(_stft(CFGS[1], one_d=True), X)
    check(_stft(CFGS[0]), X.astype(np.float32), rtol=1e-4, atol=1e-4)
    check(lambda L, x: L.stft(x, 16, window=L.hann_window(16, dtype=L.float64),
                              return_complex=False), X)


def test_multi_resolution_stft_loss():
    """The multi-resolution STFT loss audio models train with (spectral convergence + log
    magnitude), gradients vs torch."""
    y = rarray(2, 50, seed=7)

    def loss(L, x, y):
        total = 0
        for n_fft, hop in ((16, 4), (8, 2)):
            w = L.hann_window(n_fft, dtype=L.float64)
            sx = L.stft(x, n_fft, hop, window=w, return_complex=True).abs() + 1e-7
            sy = L.stft(y, n_fft, hop, window=w, return_complex=True).abs() + 1e-7
            total = total + L.norm(sy - sx) / L.norm(sy) + (sy.log() - sx.log()).abs().mean()
        return total
    check(loss, X, y, requires=(0,))


@pytest.mark.parametrize("name", ["hann_window", "hamming_window"])
@pytest.mark.parametrize("n", [0, 1, 2, 7, 16])
@pytest.mark.parametrize("periodic", [True, False])
def test_windows(name, n, periodic):
    t = getattr(torch, name)(n, periodic=periodic, dtype=torch.float64)
    c = getattr(cadenza, name)(n, periodic=periodic, dtype=cadenza.float64)
    assert c.dtype is cadenza.float64 and tuple(c.shape) == tuple(t.shape)
    np.testing.assert_allclose(c.numpy(), t.numpy(), atol=1e-12)
    assert getattr(cadenza, name)(5).dtype is cadenza.float32


@pytest.mark.parametrize("bad", [
    lambda L: L.stft(L.ones(20), 8),
    lambda L: L.stft(L.ones(20), 8, win_length=9, return_complex=True),
    lambda L: L.stft(L.ones(2, 2, 20), 8, return_complex=True),
    lambda L: L.stft(L.ones(20), 8, window=L.ones(5), return_complex=True),
])
def test_stft_errors(bad):
    with pytest.raises(RuntimeError):
        bad(torch)
    with pytest.raises(RuntimeError):
        bad(cadenza)


ICFGS = [dict(n_fft=16), dict(n_fft=16, hop_length=4, window="hann"),
         dict(n_fft=16, hop_length=5, win_length=12, window="hann", length=47),
         dict(n_fft=8, hop_length=2, window="hamming", center=False),
         dict(n_fft=16, hop_length=4, window="hann", normalized=True, length=60),
         dict(n_fft=10, hop_length=3, window="hann", onesided=False)]


@pytest.mark.parametrize("i", range(len(ICFGS)))
def test_istft_inverts_stft_with_grads(i):
    cfg = dict(ICFGS[i])
    length = cfg.pop("length", None)

    def run(L, x):
        kw = _kwargs(L, cfg)
        s = L.stft(x, return_complex=True, **kw)
        kw.pop("onesided", None)
        return L.istft(s * 1.5, length=length, onesided=cfg.get("onesided"), **kw)
    check(run, X)
    check(lambda L, s: L.istft(s, 16, 4, window=L.hann_window(16, dtype=L.float64)),
          (rarray(9, 13, seed=3) + 1j * rarray(9, 13, seed=4)))


@pytest.mark.parametrize("name", ["hann_window", "hamming_window", "bartlett_window",
                                  "blackman_window", "kaiser_window"])
def test_window_functions_match_torch(name):
    for length in (0, 1, 2, 5, 8, 33):
        for periodic in (True, False):
            c = getattr(cadenza, name)(length, periodic, dtype=cadenza.float64)
            t = getattr(torch, name)(length, periodic, dtype=torch.float64)
            np.testing.assert_allclose(c.numpy(), t.numpy(), atol=1e-12)
    assert getattr(cadenza, name)(4).dtype is cadenza.float32
    c = cadenza.kaiser_window(9, False, 3.5, dtype=cadenza.float64)
    np.testing.assert_allclose(c.numpy(), torch.kaiser_window(9, False, 3.5,
                                                              dtype=torch.float64).numpy(),
                               atol=1e-12)


def test_isreal_and_tensor_stft_methods():
    z = cadenza.tensor([1 + 0j, 2 + 1j, float("nan") + 0j])
    tz = torch.tensor([1 + 0j, 2 + 1j, float("nan") + 0j])
    assert z.isreal().tolist() == tz.isreal().tolist()
    assert cadenza.ones(3).isreal().tolist() == [True, True, True]
    x = np.random.default_rng(0).standard_normal(64)
    c = cadenza.tensor(x).stft(16, return_complex=True)
    t = torch.tensor(x).stft(16, return_complex=True)
    np.testing.assert_allclose(c.numpy(), t.numpy(), atol=1e-10)
    np.testing.assert_allclose(c.istft(16).numpy(), t.istft(16).numpy(), atol=1e-10)
