"""nn.utils.parametrize, nn.utils.parametrizations (weight_norm, spectral_norm, orthogonal)
and the older hook-based nn.utils.weight_norm / spectral_norm, against torch: values,
gradients, state-dict keys, assignment, removal."""
import numpy as np
import pytest

import cadenza
import cadenza.nn as cnn
from cadenza.nn.utils import parametrize as cP

torch = pytest.importorskip("torch")
tnn = torch.nn
tP = torch.nn.utils.parametrize


def _same_weights(cm, tm):
    sd = {k: torch.tensor(v.detach().numpy()) for k, v in cm.state_dict().items()}
    tm.load_state_dict(sd)


def _linear_pair(i=4, o=3):
    cadenza.manual_seed(0)
    cm = cnn.Linear(i, o).double()
    tm = tnn.Linear(i, o).double()
    _same_weights(cm, tm)
    return cm, tm


def _close(c, t, atol=1e-10):
    np.testing.assert_allclose(c.detach().numpy(), t.detach().numpy(), atol=atol, rtol=1e-8)


def _x(*shape, seed=1):
    a = np.random.default_rng(seed).standard_normal(shape)
    return cadenza.tensor(a), torch.tensor(a)


def _run(cm, tm, cx, tx):
    co, to = cm(cx), tm(tx)
    _close(co, to)
    co.pow(2).sum().backward()
    to.pow(2).sum().backward()
    tgrads = dict(tm.named_parameters())
    for name, p in cm.named_parameters():
        _close(p.grad, tgrads[name].grad)
    return co


def _power_iterations_match(cm, tm, *buffers):
    """Start cadenza's power-iteration buffers from torch's (pairs (cadenza, torch)), train
    three steps and evaluate once: same buffers, values and gradients."""
    for c, t in buffers:
        c.copy_(cadenza.tensor(t.numpy()))
    cx, tx = _x(3, 5)
    for _ in range(3):
        cm.zero_grad()
        tm.zero_grad()
        _run(cm, tm, cx, tx)
        for c, t in buffers:
            _close(c, t)
    cm.eval()
    tm.eval()
    _close(cm(cx), tm(tx))
    return cx, tx


class CSym(cnn.Module):
    def forward(self, X):
        return X.triu() + X.triu(1).transpose(-1, -2)

    def right_inverse(self, A):
        return A.triu()


class TSym(tnn.Module):
    def forward(self, X):
        return X.triu() + X.triu(1).transpose(-1, -2)

    def right_inverse(self, A):
        return A.triu()


def test_register_custom_parametrization_matches_torch():
    cm, tm = _linear_pair(3, 3)
    w_obj = cm.weight
    cP.register_parametrization(cm, "weight", CSym())
    tP.register_parametrization(tm, "weight", TSym())
    assert sorted(cm.state_dict()) == sorted(tm.state_dict())
    assert cm.parametrizations.weight.original is w_obj     # optimizers keep working
    _close(cm.weight, tm.weight)
    cx, tx = _x(2, 3)
    _run(cm, tm, cx, tx)
    assert cP.is_parametrized(cm) and cP.is_parametrized(cm, "weight")
    assert not cP.is_parametrized(cm, "bias")
    assert cP.type_before_parametrizations(cm) is cnn.Linear
    assert isinstance(cm, cnn.Linear)
    assert not cP.is_parametrized(cnn.Linear(2, 2))        # other instances are untouched
    # assignment goes through right_inverse into the original, in place
    A = np.random.default_rng(5).standard_normal((3, 3))
    with cadenza.no_grad():
        cm.weight = cadenza.tensor(A)
    with torch.no_grad():
        tm.weight = torch.tensor(A)
    _close(cm.parametrizations.weight.original, tm.parametrizations.weight.original)
    assert cm.parametrizations.weight.original is w_obj
    _close(cm.weight, tm.weight)


def test_stacked_parametrizations_caching_and_removal():
    cm, tm = _linear_pair(3, 3)

    class CScale(cnn.Module):
        def forward(self, X):
            return X * 2.0

    class TScale(tnn.Module):
        def forward(self, X):
            return X * 2.0
    for m, P, sym, scale in ((cm, cP, CSym, CScale), (tm, tP, TSym, TScale)):
        P.register_parametrization(m, "weight", sym())
        P.register_parametrization(m, "weight", scale())
    _close(cm.weight, tm.weight)
    with cP.cached():
        assert cm.weight is cm.weight
    assert cm.weight is not cm.weight
    for leave in (True, False):
        c2, t2 = _linear_pair(3, 3)
        cP.register_parametrization(c2, "weight", CSym())
        tP.register_parametrization(t2, "weight", TSym())
        cP.remove_parametrizations(c2, "weight", leave_parametrized=leave)
        tP.remove_parametrizations(t2, "weight", leave_parametrized=leave)
        assert type(c2) is cnn.Linear and not cP.is_parametrized(c2)
        assert isinstance(c2.weight, cnn.Parameter)
        assert sorted(c2.state_dict()) == sorted(t2.state_dict())
        _close(c2.weight, t2.weight)


def test_parametrization_errors():
    m = cnn.Linear(3, 3)

    class Bad(cnn.Module):
        def forward(self, X):
            return X[:2]
    with pytest.raises(ValueError, match="unsafe"):
        cP.register_parametrization(m, "weight", Bad())
    cP.register_parametrization(m, "weight", Bad(), unsafe=True)
    assert tuple(m.weight.shape) == (2, 3)
    with pytest.raises(ValueError, match="does not have"):
        cP.register_parametrization(cnn.Linear(2, 2), "nope", CSym())
    with pytest.raises(ValueError, match="does not have a parametrization"):
        cP.remove_parametrizations(cnn.Linear(2, 2), "weight")


@pytest.mark.parametrize("dim", [0, 1, None])
def test_weight_norm_parametrization(dim):
    cm, tm = _linear_pair()
    cnn.utils.parametrizations.weight_norm(cm, dim=dim)
    tnn.utils.parametrizations.weight_norm(tm, dim=dim)
    assert sorted(cm.state_dict()) == sorted(tm.state_dict())
    for k, v in tm.state_dict().items():
        _close(cm.state_dict()[k], v)
    cx, tx = _x(5, 4)
    _run(cm, tm, cx, tx)


def test_weight_norm_on_conv():
    cadenza.manual_seed(0)
    cm, tm = cnn.Conv1d(2, 3, 3).double(), tnn.Conv1d(2, 3, 3).double()
    _same_weights(cm, tm)
    cnn.utils.parametrizations.weight_norm(cm)
    tnn.utils.parametrizations.weight_norm(tm)
    cx, tx = _x(2, 2, 7)
    _run(cm, tm, cx, tx)


def test_spectral_norm_parametrization_train_and_eval():
    cm, tm = _linear_pair(5, 4)
    cnn.utils.parametrizations.spectral_norm(cm)
    tnn.utils.parametrizations.spectral_norm(tm)
    assert sorted(cm.state_dict()) == sorted(tm.state_dict())
    # start both from torch's power-iteration vectors
    cpar, tpar = cm.parametrizations.weight[0], tm.parametrizations.weight[0]
    cx, tx = _power_iterations_match(cm, tm, (cpar._u, tpar._u), (cpar._v, tpar._v))
    # the spectral norm of the result is 1 once the iteration converged
    for _ in range(50):
        cm.train()(cx)
    sv = np.linalg.svd(cm.weight.detach().numpy(), compute_uv=False)
    assert sv[0] == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("orthogonal_map", ["matrix_exp", "cayley", "householder"])
@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (3, 5)])
def test_orthogonal_parametrization(orthogonal_map, shape):
    cadenza.manual_seed(0)
    cm, tm = cnn.Linear(shape[1], shape[0]).double(), tnn.Linear(shape[1], shape[0]).double()
    _same_weights(cm, tm)
    cnn.utils.parametrizations.orthogonal(cm, orthogonal_map=orthogonal_map)
    tnn.utils.parametrizations.orthogonal(tm, orthogonal_map=orthogonal_map)
    assert sorted(cm.state_dict()) == sorted(tm.state_dict())
    W = cm.weight.detach().numpy()
    small = W if W.shape[0] >= W.shape[1] else W.T
    np.testing.assert_allclose(small.T @ small, np.eye(small.shape[1]), atol=1e-10)
    # same unconstrained matrix and base -> same weight and gradients as torch
    tsd = tm.state_dict()
    cm.load_state_dict({k: cadenza.tensor(v.numpy()) for k, v in tsd.items()})
    cx, tx = _x(2, shape[1])
    _run(cm, tm, cx, tx)
    # assigning an orthogonal matrix stores it
    Q = np.linalg.qr(np.random.default_rng(3).standard_normal((max(shape), min(shape))))[0]
    Q = Q if shape[0] >= shape[1] else Q.T
    with cadenza.no_grad():
        cm.weight = cadenza.tensor(Q)
    np.testing.assert_allclose(cm.weight.detach().numpy(), Q, atol=1e-10)


def test_old_weight_norm_hook():
    cm, tm = _linear_pair()
    cnn.utils.weight_norm(cm)
    tnn.utils.weight_norm(tm)
    assert sorted(cm.state_dict()) == sorted(tm.state_dict())
    cx, tx = _x(5, 4)
    _run(cm, tm, cx, tx)
    with pytest.raises(RuntimeError, match="two weight_norm"):
        cnn.utils.weight_norm(cm)
    cnn.utils.remove_weight_norm(cm)
    tnn.utils.remove_weight_norm(tm)
    assert sorted(cm.state_dict()) == sorted(tm.state_dict())
    _close(cm.weight, tm.weight)
    with pytest.raises(ValueError, match="not found"):
        cnn.utils.remove_weight_norm(cm)


def test_old_spectral_norm_hook():
    cm, tm = _linear_pair(5, 4)
    cnn.utils.spectral_norm(cm)
    tnn.utils.spectral_norm(tm)
    assert sorted(cm.state_dict()) == sorted(tm.state_dict())
    _power_iterations_match(cm, tm, (cm.weight_u, tm.weight_u), (cm.weight_v, tm.weight_v))
    cnn.utils.remove_spectral_norm(cm)
    tnn.utils.remove_spectral_norm(tm)
    assert sorted(cm.state_dict()) == sorted(tm.state_dict())
    _close(cm.weight, tm.weight)


def test_spectral_norm_on_transposed_conv_uses_dim_1():
    cadenza.manual_seed(0)
    cm = cnn.ConvTranspose2d(3, 2, 3).double()
    cnn.utils.parametrizations.spectral_norm(cm)
    for _ in range(60):
        cm(cadenza.zeros(1, 3, 4, 4, dtype=cadenza.float64))
    W = cm.weight.detach().numpy()
    mat = np.moveaxis(W, 1, 0).reshape(2, -1)
    assert np.linalg.svd(mat, compute_uv=False)[0] == pytest.approx(1.0, abs=1e-6)


def test_optimizer_trains_through_a_parametrization():
    cadenza.manual_seed(0)
    m = cnn.Linear(4, 1)
    cnn.utils.parametrizations.weight_norm(m)
    opt = cadenza.optim.SGD(m.parameters(), lr=0.1)
    x, y = cadenza.randn(16, 4), cadenza.randn(16, 1)
    first = None
    for _ in range(30):
        opt.zero_grad()
        loss = ((m(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
        first = first if first is not None else float(loss)
    assert float(loss) < first
