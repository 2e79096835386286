"""nn.init: statistics of each initialiser, gains, generator reproducibility, no graph."""
import math

import numpy as np
import pytest
import torch

import cadenza
import cadenza.nn as nn
from cadenza.nn import init
from cadenza.random import fill_normal


def _w(*shape):
    return nn.Parameter(cadenza.empty(*shape))


@pytest.mark.parametrize("name, param", [("linear", None), ("conv2d", None), ("sigmoid", None),
                                         ("tanh", None), ("relu", None), ("leaky_relu", None),
                                         ("leaky_relu", 0.2), ("selu", None)])
def test_calculate_gain(name, param):
    assert init.calculate_gain(name, param) == pytest.approx(
        torch.nn.init.calculate_gain(name, param))
    with pytest.raises(ValueError):
        init.calculate_gain("nope")


def test_uniform_normal_constant():
    w = _w(200, 300)
    assert init.uniform_(w, -2, 3) is w
    a = w.detach().numpy()
    assert a.min() >= -2 and a.max() <= 3 and abs(a.mean() - 0.5) < 0.05
    init.normal_(w, 1.0, 2.0)
    a = w.detach().numpy()
    assert abs(a.mean() - 1) < 0.03 and abs(a.std() - 2) < 0.03
    init.constant_(w, 0.5)
    assert np.all(w.detach().numpy() == 0.5)
    init.ones_(w)
    assert np.all(w.detach().numpy() == 1)
    init.zeros_(w)
    assert np.all(w.detach().numpy() == 0)
    assert w.grad_fn is None and w.is_leaf and w.requires_grad
    init.eye_(w)
    assert np.array_equal(w.detach().numpy(), np.eye(200, 300))


def test_xavier_kaiming_std():
    w = _w(256, 128, 3)
    fan_in, fan_out = 128 * 3, 256 * 3
    init.xavier_uniform_(w, gain=2.0)
    a = 2.0 * math.sqrt(6 / (fan_in + fan_out))
    assert np.abs(w.detach().numpy()).max() <= a
    assert w.detach().numpy().std() == pytest.approx(a / math.sqrt(3), rel=0.02)
    init.xavier_normal_(w)
    assert w.detach().numpy().std() == pytest.approx(math.sqrt(2 / (fan_in + fan_out)), rel=0.02)
    init.kaiming_uniform_(w, nonlinearity="relu")
    assert w.detach().numpy().std() == pytest.approx(math.sqrt(2 / fan_in), rel=0.02)
    init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu")
    assert w.detach().numpy().std() == pytest.approx(math.sqrt(2 / fan_out), rel=0.02)
    init.kaiming_normal_(w, a=0.2)
    assert w.detach().numpy().std() == pytest.approx(
        math.sqrt(2 / (1 + 0.04) / fan_in), rel=0.02)
    with pytest.raises(ValueError):
        init.kaiming_normal_(w, mode="fan_avg")
    with pytest.raises(ValueError):
        init.xavier_uniform_(_w(5))


def test_trunc_normal():
    w = _w(400, 250)
    init.trunc_normal_(w, mean=0.5, std=1.0, a=-1.0, b=1.5)
    a = w.detach().numpy()
    assert a.min() >= -1.0 and a.max() <= 1.5
    t = torch.empty(400, 250)
    torch.nn.init.trunc_normal_(t, mean=0.5, std=1.0, a=-1.0, b=1.5)
    assert a.mean() == pytest.approx(t.mean().item(), abs=0.02)
    assert a.std() == pytest.approx(t.std().item(), abs=0.02)
    init.trunc_normal_(w, std=0.02)
    assert w.detach().numpy().std() == pytest.approx(0.02, rel=0.03)


def test_orthogonal_and_dirac():
    w = _w(6, 10)
    init.orthogonal_(w, gain=2.0)
    a = w.detach().numpy().astype(np.float64)
    np.testing.assert_allclose(a @ a.T, 4 * np.eye(6), atol=1e-5)
    c = _w(4, 4, 3, 3)
    init.dirac_(c)
    x = cadenza.randn(1, 4, 5, 5)
    y = cadenza.nn.functional.conv2d(x, c.detach(), padding=1)
    np.testing.assert_allclose(y.numpy(), x.numpy(), atol=1e-6)


def test_generator_reproducible():
    g1, g2 = cadenza.Generator().manual_seed(3), cadenza.Generator().manual_seed(3)
    a, b = _w(4, 5), _w(4, 5)
    init.kaiming_uniform_(a, generator=g1)
    init.kaiming_uniform_(b, generator=g2)
    assert np.array_equal(a.detach().numpy(), b.detach().numpy())
    cadenza.manual_seed(7)
    l1 = nn.Linear(3, 3).weight.detach().numpy().copy()
    cadenza.manual_seed(7)
    l2 = nn.Linear(3, 3).weight.detach().numpy()
    assert np.array_equal(l1, l2)


def _ks_normal(z):
    """Kolmogorov-Smirnov distance of the sample ``z`` from N(0, 1)."""
    z = np.sort(np.asarray(z, dtype=np.float64))
    cdf = np.array([0.5 * (1 + math.erf(v / math.sqrt(2))) for v in z[::7]])
    n = z.size
    k = np.arange(0, n, 7)
    return max(np.abs(cdf - (k + 1) / n).max(), np.abs(cdf - k / n).max())


def test_float32_normal_sampler_distribution():
    # float32 tensors draw float32 (Box-Muller, random.fill_normal), float64 the ziggurat
    cadenza.manual_seed(5)
    w = init.normal_(cadenza.empty(100_001), 0.5, 3.0)     # odd: the last pair is cut
    z = (w.numpy().astype(np.float64) - 0.5) / 3.0
    n = z.size
    assert abs(z.mean()) < 5 / math.sqrt(n) and abs(z.var() - 1) < 5 * math.sqrt(2 / n)
    assert abs((z ** 4).mean() - 3) < 5 * math.sqrt(96 / n)
    assert _ks_normal(z) < 1.95 / math.sqrt(n)              # p = 0.001
    for c in (2.0, 3.0, 3.5):                               # tails, past the 2^-8 refinement
        p = math.erfc(c / math.sqrt(2))
        assert abs((np.abs(z) > c).mean() - p) < 5 * math.sqrt(p / n)
    assert np.isfinite(z).all()


class _EdgeRng:
    """A NumPy-Generator stand-in whose float32 draws are all 1 - 2^-24 (so every
    Box-Muller u = 1 - draw is 2^-24, under the refinement threshold) and whose float64 draws
    are all 1 - 2^-40."""

    def random(self, size=None, dtype=np.float64, out=None):
        v = 1 - 2.0 ** (-24 if np.dtype(dtype) == np.float32 else -40)
        if out is None:
            return np.full(size, v, dtype=dtype)
        out.fill(v)
        return out


def test_normal_tail_refined_past_float32_resolution():
    out = np.empty(6, np.float32)
    fill_normal(_EdgeRng(), out, 0.0, 1.0)
    # u = 2^-40 * 2^-8: r = sqrt(96 ln 2) = 8.16, beyond float32 uniforms' 5.77
    r = math.sqrt(96 * math.log(2))
    assert np.abs(out).max() == pytest.approx(r, rel=1e-4)


def test_float64_stream_is_numpys():
    # float64 tensors keep NumPy's float64 streams, as before the float32 fast path
    g = cadenza.Generator().manual_seed(11)
    ref = np.random.Generator(np.random.PCG64(11))
    w = cadenza.empty(17, 9, dtype=cadenza.float64)
    init.uniform_(w, -0.3, 0.7, generator=g)
    assert np.array_equal(w.numpy(), ref.uniform(-0.3, 0.7, (17, 9)))
    init.normal_(w, 0.5, 2.0, generator=g)
    assert np.array_equal(w.numpy(), ref.normal(0.5, 2.0, (17, 9)))


def test_float32_paths_reproducible_and_consistent():
    def draw(t, fn):
        cadenza.manual_seed(3)
        fn(t)
        return t
    for fn in (init.normal_, init.uniform_, init.trunc_normal_,
               lambda t: init.kaiming_uniform_(t, a=math.sqrt(5))):
        a = draw(cadenza.empty(70, 33), fn).numpy()
        assert np.array_equal(a, draw(cadenza.empty(70, 33), fn).numpy())
        # a non-contiguous view and a float16 tensor draw the same float32 numbers
        base = cadenza.zeros(33, 70)
        draw(base.t(), fn)
        assert np.array_equal(base.t().numpy(), a)
        h = draw(cadenza.empty(70, 33, dtype=cadenza.float16), fn).numpy()
        assert np.array_equal(h, a.astype(np.float16))
        v = cadenza.empty(70, 33)
        ver = v._version
        fn(v)
        assert v._version > ver


def test_trunc_normal_float32_edges_stay_finite_inside():
    # u = -1 would give erfinv = -inf, clipped to a (here -100 std): draws are midpoints
    class Zero(_EdgeRng):
        def random(self, size=None, dtype=np.float64, out=None):
            out.fill(0)
            return out
    t = cadenza.empty(5)
    orig = init._rng
    init._rng = lambda g: Zero()
    try:
        init.trunc_normal_(t, std=0.02)
    finally:
        init._rng = orig
    assert np.all(t.numpy() > -0.2) and np.all(t.numpy() < -0.05)


def test_tensor_fills_and_randn_draw_through_the_init_samplers():
    # Tensor.normal_/uniform_, randn/rand and nn.init draw through cadenza.random's samplers:
    # one seed, one stream, whichever entry point; float32 draws float32, float64 NumPy's
    def draw(fn, dtype):
        g = cadenza.Generator().manual_seed(3)
        return fn(g, dtype).numpy()
    for dt in (cadenza.float32, cadenza.float64):
        a = draw(lambda g, d: cadenza.empty(5, 7, dtype=d).normal_(0.5, 2.0, generator=g), dt)
        b = draw(lambda g, d: init.normal_(cadenza.empty(5, 7, dtype=d), 0.5, 2.0, generator=g),
                 dt)
        c = draw(lambda g, d: cadenza.randn(5, 7, dtype=d, generator=g) * 2.0 + 0.5, dt)
        assert a.dtype == (np.float32 if dt is cadenza.float32 else np.float64)
        assert np.array_equal(a, b) and np.allclose(a, c, rtol=1e-6, atol=1e-6)
        u = draw(lambda g, d: cadenza.empty(5, 7, dtype=d).uniform_(-1.0, 3.0, generator=g), dt)
        v = draw(lambda g, d: init.uniform_(cadenza.empty(5, 7, dtype=d), -1.0, 3.0,
                                            generator=g), dt)
        assert np.array_equal(u, v) and u.min() >= -1.0 and u.max() <= 3.0
    ref = np.random.Generator(np.random.PCG64(3))
    assert np.array_equal(draw(lambda g, d: cadenza.empty(5, 7, dtype=d).normal_(
        0.5, 2.0, generator=g), cadenza.float64), ref.normal(0.5, 2.0, (5, 7)))
    # a non-contiguous float32 view and a tensor that requires grad take the copying path
    w = cadenza.zeros(6, 4)
    w[:, 1].normal_()
    assert (w[:, 0] == 0).all() and (w[:, 1] != 0).all()
    p = cadenza.nn.Parameter(cadenza.zeros(3))
    with pytest.raises(RuntimeError, match="leaf Variable"):
        p.normal_()
    z = cadenza.empty(40_000).normal_(1.0, 2.0).numpy()
    assert abs(z.mean() - 1.0) < 0.1 and abs(z.std() - 2.0) < 0.1
