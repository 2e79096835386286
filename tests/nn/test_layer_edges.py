"""Layer edge cases the module fuzzer (tests/fuzz/module_fuzz.py) found, each against torch."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
import cadenza  # noqa: E402


def _both(fn):
    out = []
    for lib in (torch, cadenza):
        try:
            out.append(fn(lib))
        except Exception as e:  # noqa: BLE001 - the error class is compared
            out.append(e)
    return out


def _np(t):
    return t.detach().numpy() if hasattr(t, "detach") else t


@pytest.mark.parametrize("cls", ["LayerNorm", "RMSNorm"])
def test_norm_of_a_single_row(cls):
    x = np.random.default_rng(0).standard_normal(4)

    def run(lib):
        m = getattr(lib.nn, cls)(4).double()
        xt = lib.tensor(x, requires_grad=True)
        y = m(xt)
        (y * lib.arange(4.0, dtype=lib.float64)).sum().backward()
        return _np(y), _np(xt.grad), _np(m.weight.grad)
    t, c = _both(run)
    for a, b in zip(t, c):
        np.testing.assert_allclose(b, a, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("dims", [1, 2, 3])
def test_conv_transpose_output_padding_below_dilation(dims):
    """output_padding may reach the stride when the dilation is larger (torch's rule)."""
    x = np.random.default_rng(1).standard_normal((1, 2) + (4,) * dims)

    def run(lib):
        torch.manual_seed(0)
        tm = getattr(torch.nn, f"ConvTranspose{dims}d")(2, 3, 2, stride=1, padding=1,
                                                         dilation=2, output_padding=1).double()
        m = getattr(lib.nn, f"ConvTranspose{dims}d")(2, 3, 2, stride=1, padding=1, dilation=2,
                                                      output_padding=1).double()
        m.load_state_dict({k: lib.tensor(v.detach().numpy()) for k, v in
                           tm.state_dict().items()})
        xt = lib.tensor(x, requires_grad=True)
        y = m(xt)
        y.sum().backward()
        return _np(y), _np(xt.grad)
    t, c = _both(run)
    for a, b in zip(t, c):
        np.testing.assert_allclose(b, a, rtol=1e-10, atol=1e-12)


def test_conv_transpose_output_padding_too_large():
    def run(lib):
        m = lib.nn.ConvTranspose2d(1, 1, 2, stride=2, dilation=1, output_padding=2)
        return m(lib.zeros(1, 1, 3, 3))
    t, c = _both(run)
    assert isinstance(t, RuntimeError) and isinstance(c, RuntimeError)


def test_cross_entropy_probability_target_refuses_ignore_index():
    def run(lib):
        x = lib.zeros(2, 3)
        return lib.nn.functional.cross_entropy(x, lib.full((2, 3), 1 / 3), ignore_index=1)
    t, c = _both(run)
    assert isinstance(t, RuntimeError) and isinstance(c, RuntimeError)
    # the default ignore_index (-100) is fine
    for lib in (torch, cadenza):
        lib.nn.functional.cross_entropy(lib.zeros(2, 3), lib.full((2, 3), 1 / 3))


@pytest.mark.parametrize("shape,groups", [((1, 3), 3), ((1, 2, 1, 1), 2), ((1, 4), 2),
                                          ((2, 3), 3)])
def test_group_norm_needs_two_values_per_group(shape, groups):
    def run(lib):
        return _np(lib.nn.GroupNorm(groups, shape[1])(lib.ones(*shape)))
    t, c = _both(run)
    if isinstance(t, Exception):
        assert isinstance(c, type(t)), (t, c)
    else:
        np.testing.assert_allclose(c, t, atol=1e-6)


def test_batch_norm_of_an_empty_batch():
    def run(lib):
        m = lib.nn.BatchNorm1d(3)
        y = m(lib.zeros(0, 3))
        return tuple(y.shape), _np(m.running_mean), _np(m.running_var)
    t, c = _both(run)
    assert t[0] == c[0]
    np.testing.assert_array_equal(c[1], t[1])
    np.testing.assert_array_equal(c[2], t[2])
