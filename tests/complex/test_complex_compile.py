"""The compiler (C kernels, ONNX) has no complex numbers: a function with complex values raises
a clear TraceError (fullgraph=True) or runs eagerly with a warning (fullgraph=False), with
eager's results and gradients, never a wrong compiled result."""
import warnings

import numpy as np
import pytest

import cadenza
from cadenza.errors import TraceError


def _rotary_loss(x):
    z = cadenza.view_as_complex(x.reshape(*x.shape[:-1], -1, 2))
    fc = cadenza.polar(cadenza.ones(z.shape[-1]), cadenza.arange(z.shape[-1]) * 0.3)
    return cadenza.view_as_real(z * fc).flatten(-2).pow(2).sum()


def _spectral(x):
    return cadenza.fft.rfft(x).abs().sum()


@pytest.mark.parametrize("fn", [_rotary_loss, _spectral, lambda x: (x * 1j).abs().sum(),
                                lambda x: x + cadenza.tensor([1j]).real])
def test_fullgraph_raises_trace_error(fn):
    x = cadenza.randn(2, 4)
    with pytest.raises(TraceError, match="complex tensors are not supported by the compiler"):
        cadenza.compile(fn)(x)


@pytest.mark.parametrize("fn", [_rotary_loss, _spectral])
def test_fallback_to_eager_matches_eager(fn):
    x = cadenza.randn(3, 8, requires_grad=True)
    want = fn(x)
    want.backward()
    g_eager = x.grad.numpy().copy()
    x.grad = None
    cf = cadenza.compile(fn, fullgraph=False)
    with pytest.warns(UserWarning, match="complex"):
        got = cf(x)
    got.backward()
    np.testing.assert_allclose(got.item(), want.item(), rtol=1e-6)
    np.testing.assert_allclose(x.grad.numpy(), g_eager, rtol=1e-6)
    x.grad = None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = cf(x)       # later calls run eagerly without tracing again
    np.testing.assert_allclose(again.item(), want.item(), rtol=1e-6)


def test_complex_inside_a_module_with_fullgraph_false():
    lin = cadenza.nn.Linear(8, 8)

    def step(x):
        return _rotary_loss(lin(x))
    x = cadenza.randn(2, 8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = cadenza.compile(step, fullgraph=False)(x)
    np.testing.assert_allclose(got.item(), step(x).item(), rtol=1e-6)
