"""Activations: extreme inputs, in-place identity, dtype handling, randomness, error messages.
The comparisons with torch (forward, gradients at random points and at the kinks, gradcheck,
compiled) are op-table entries: tests/ops/opinfo_nn.py."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import cadenza
import cadenza.nn.functional as F
from functional_helpers import check, rng

X = rng(0).standard_normal((3, 5)) * 3

def test_softmax_stable_and_masked_rows():
    x = np.array([[1000.0, 1001.0, -1000.0], [-np.inf, 0.0, 1.0]])
    check(lambda a: F.softmax(a, 1), lambda a: TF.softmax(a, 1), x)
    check(lambda a: F.log_softmax(a, 1), lambda a: TF.log_softmax(a, 1), x)
    full = cadenza.tensor([[-np.inf, -np.inf]])
    assert np.isnan(F.softmax(full, 1).numpy()).all()


def test_softmax_dtype_and_implicit_dim():
    x = cadenza.tensor(X.astype(np.float32))
    out = F.softmax(x, 1, dtype=cadenza.float64)
    assert out.dtype is cadenza.float64
    with pytest.warns(UserWarning):
        y = F.softmax(x)
    np.testing.assert_allclose(y.numpy(), TF.softmax(torch.from_numpy(X.astype(np.float32)), 1),
                               rtol=1e-5)
    assert x.softmax(-1).shape == x.shape


def test_inplace_variants():
    for cfn, tfn in ((lambda a: F.relu(a, inplace=True), lambda a: TF.relu(a, inplace=True)),
                     (lambda a: F.leaky_relu(a, 0.1, True), lambda a: TF.leaky_relu(a, 0.1, True)),
                     (lambda a: F.hardtanh(a, inplace=True),
                      lambda a: TF.hardtanh(a, inplace=True)),
                     (lambda a: F.elu(a, inplace=True), lambda a: TF.elu(a, inplace=True))):
        c = cadenza.tensor(X.copy())
        t = torch.from_numpy(X.copy())
        r = cfn(c)
        tfn(t)
        assert r is c
        np.testing.assert_allclose(c.numpy(), t.numpy())


def test_no_nan_gradients_for_large_inputs():
    x = cadenza.tensor([1000.0, -1000.0, 50.0], dtype=cadenza.float64, requires_grad=True)
    for fn in (F.elu, F.selu, F.celu, F.softplus, F.mish, F.logsigmoid, F.silu):
        x.grad = None
        fn(x).sum().backward()
        assert np.isfinite(x.grad.numpy()).all(), fn.__name__
    x.grad = None
    F.normalize(cadenza.zeros(2, 3, dtype=cadenza.float64, requires_grad=True)).sum().backward()


def test_gumbel_softmax():
    cadenza.manual_seed(0)
    y = F.gumbel_softmax(cadenza.randn(4, 5), tau=0.5)
    np.testing.assert_allclose(y.sum(-1).numpy(), 1.0, rtol=1e-5)
    h = F.gumbel_softmax(cadenza.randn(4, 5, requires_grad=True), hard=True)
    assert set(np.unique(h.detach().numpy())) <= {0.0, 1.0}
    h.sum().backward()


def test_errors():
    with pytest.raises(cadenza.ShapeError, match="glu: expected an even size"):
        F.glu(cadenza.ones(3))
    with pytest.raises(cadenza.ShapeError, match="prelu: expected"):
        F.prelu(cadenza.ones(2, 3), cadenza.ones(4))
    with pytest.raises(cadenza.DTypeError, match="softmax: expected a floating point"):
        F.softmax(cadenza.tensor([1, 2]), 0)
    with pytest.raises(ValueError, match="gelu: expected approximate"):
        F.gelu(cadenza.ones(2), approximate="fast")
    with pytest.raises(IndexError):
        F.softmax(cadenza.ones(2, 2), 3)
