"""The compiler (C kernels, ONNX) has no complex numbers: a function with complex values runs
eagerly with one warning naming the line, whatever ``fullgraph`` says (a PyTorch program that
compiles a model with rotary embeddings must still run), with eager's results and gradients,
never a wrong compiled result."""
import warnings

import numpy as np
import pytest

import cadenza


def _rotary_loss(x):
    z = cadenza.view_as_complex(x.reshape(*x.shape[:-1], -1, 2))
    fc = cadenza.polar(cadenza.ones(z.shape[-1]), cadenza.arange(z.shape[-1]) * 0.3)
    return cadenza.view_as_real(z * fc).flatten(-2).pow(2).sum()


def _spectral(x):
    return cadenza.fft.rfft(x).abs().sum()


@pytest.mark.parametrize("fn", [_rotary_loss, _spectral, lambda x: (x * 1j).abs().sum(),
                                lambda x: x + cadenza.tensor([1j]).real])
@pytest.mark.parametrize("fullgraph", [True, False])
def test_complex_runs_eagerly_with_a_warning(fn, fullgraph):
    x = cadenza.randn(2, 4)
    with pytest.warns(UserWarning, match="complex tensors are not supported by the compiler "
                                         r"\(.*test_complex_compile.py"):
        got = cadenza.compile(fn, fullgraph=fullgraph)(x)
    np.testing.assert_allclose(got.numpy(), fn(x).numpy(), rtol=1e-6)


@pytest.mark.parametrize("fn", [_rotary_loss, _spectral])
@pytest.mark.parametrize("fullgraph", [True, False])
def test_fallback_to_eager_matches_eager(fn, fullgraph):
    x = cadenza.randn(3, 8, requires_grad=True)
    want = fn(x)
    want.backward()
    g_eager = x.grad.numpy().copy()
    x.grad = None
    cf = cadenza.compile(fn, fullgraph=fullgraph)
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


def test_compiled_module_with_rotary_trains_like_eager():
    """A compiled module whose forward uses complex rotary embeddings: loss and gradients as
    eager, over a few optimizer steps."""
    class Rotary(cadenza.nn.Module):
        def __init__(self):
            super().__init__()
            cadenza.manual_seed(0)
            self.lin = cadenza.nn.Linear(8, 8)

        def forward(self, x):
            return _rotary_loss(self.lin(x))

    def run(compiled):
        m = Rotary()
        lin = m.lin
        opt = cadenza.optim.SGD(m.parameters(), lr=0.1)
        fwd = cadenza.compile(m) if compiled else m
        x = cadenza.randn(2, 8, generator=cadenza.Generator().manual_seed(1))
        losses = []
        for _ in range(3):
            loss = fwd(x)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        return losses, lin.weight.detach().numpy().copy()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        eager = run(False)
        compiled = run(True)
    np.testing.assert_allclose(compiled[0], eager[0], rtol=1e-6)
    np.testing.assert_allclose(compiled[1], eager[1], rtol=1e-6)


def test_compiled_whole_step_with_complex_falls_back():
    lin = cadenza.nn.Linear(8, 8)

    def step(x):
        return _rotary_loss(lin(x))
    x = cadenza.randn(2, 8)
    with pytest.warns(UserWarning, match="complex"):
        got = cadenza.compile(step)(x)
    np.testing.assert_allclose(got.item(), step(x).item(), rtol=1e-6)
