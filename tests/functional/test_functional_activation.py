import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import cadenza
import cadenza.nn.functional as F
from cadenza.autograd import gradcheck, gradgradcheck
from functional_helpers import check, rng

X = rng(0).standard_normal((3, 5)) * 3
X[0, :3] = [0.0, 3.0, -3.0]  # kinks of relu / hardswish / hardsigmoid

UNARY = {
    "relu": (F.relu, TF.relu),
    "relu6": (F.relu6, TF.relu6),
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.2), lambda x: TF.leaky_relu(x, 0.2)),
    "elu": (lambda x: F.elu(x, 1.3), lambda x: TF.elu(x, 1.3)),
    "selu": (F.selu, TF.selu),
    "celu": (lambda x: F.celu(x, 0.7), lambda x: TF.celu(x, 0.7)),
    "gelu_tanh": (lambda x: F.gelu(x, approximate="tanh"),
                  lambda x: TF.gelu(x, approximate="tanh")),
    "silu": (F.silu, TF.silu),
    "mish": (F.mish, TF.mish),
    "softplus": (F.softplus, TF.softplus),
    "softplus_beta": (lambda x: F.softplus(x, 2.0, 3.0), lambda x: TF.softplus(x, 2.0, 3.0)),
    "softsign": (F.softsign, TF.softsign),
    "hardtanh": (lambda x: F.hardtanh(x, -2.0, 2.5), lambda x: TF.hardtanh(x, -2.0, 2.5)),
    "hardsigmoid": (F.hardsigmoid, TF.hardsigmoid),
    "hardswish": (F.hardswish, TF.hardswish),
    "sigmoid": (F.sigmoid, TF.sigmoid),
    "tanh": (F.tanh, TF.tanh),
    "logsigmoid": (F.logsigmoid, TF.logsigmoid),
    "threshold": (lambda x: F.threshold(x, 0.5, -2.0), lambda x: TF.threshold(x, 0.5, -2.0)),
    "tanhshrink": (F.tanhshrink, TF.tanhshrink),
    "softshrink": (F.softshrink, TF.softshrink),
    "hardshrink": (F.hardshrink, TF.hardshrink),
    "rrelu_eval": (F.rrelu, TF.rrelu),
    "softmax0": (lambda x: F.softmax(x, 0), lambda x: TF.softmax(x, 0)),
    "softmax1": (lambda x: F.softmax(x, dim=-1), lambda x: TF.softmax(x, dim=-1)),
    "log_softmax": (lambda x: F.log_softmax(x, 1), lambda x: TF.log_softmax(x, 1)),
    "softmin": (lambda x: F.softmin(x, 1), lambda x: TF.softmin(x, 1)),
    "glu": (lambda x: F.glu(x, 0)[:1], lambda x: TF.glu(x[:2], 0)[:1]),
    "normalize": (F.normalize, TF.normalize),
    "normalize_p1": (lambda x: F.normalize(x, 1, 0), lambda x: TF.normalize(x, 1, 0)),
    "normalize_p3": (lambda x: F.normalize(x, 3, 1), lambda x: TF.normalize(x, 3, 1)),
}


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_vs_torch(name):
    cfn, tfn = UNARY[name]
    if name == "glu":
        x = X[:2]
        check(lambda a: F.glu(a, 0), lambda a: TF.glu(a, 0), x)
        return
    check(cfn, tfn, X)


def test_unary_float32_forward():
    x = X.astype(np.float32)
    for name, (cfn, tfn) in UNARY.items():
        if name == "glu":
            continue
        out = cfn(cadenza.tensor(x))
        assert out.dtype is cadenza.float32, name
        np.testing.assert_allclose(out.numpy(), tfn(torch.from_numpy(x)).numpy(), atol=1e-5,
                                   rtol=1e-5, err_msg=name)


def test_gelu_exact():
    # erf has a ~1e-7 relative error without SciPy: looser tolerance
    check(F.gelu, TF.gelu, X, atol=1e-6, rtol=1e-6, gatol=1e-6, grtol=1e-5)


def test_prelu():
    x = rng(1).standard_normal((2, 3, 4))
    check(F.prelu, TF.prelu, x, np.array([0.1, -0.2, 0.3]))
    check(F.prelu, TF.prelu, x, np.array([0.25]))


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


def test_inplace_through_graph():
    c = cadenza.tensor(X.copy(), requires_grad=True)
    t = torch.from_numpy(X.copy()).requires_grad_()
    (F.relu(c * 2, inplace=True) ** 2).sum().backward()
    (TF.relu(t * 2, inplace=True) ** 2).sum().backward()
    np.testing.assert_allclose(c.grad.numpy(), t.grad.numpy())


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


@pytest.mark.parametrize("fn", [F.gelu, F.mish, lambda x: F.softmax(x, 1),
                                lambda x: F.log_softmax(x, 0), F.logsigmoid,
                                lambda x: F.normalize(x, dim=1)])
def test_gradcheck(fn):
    x = cadenza.tensor(rng(3).standard_normal((2, 3)), requires_grad=True)
    assert gradcheck(fn, (x,))
    assert gradgradcheck(fn, (x,))


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
