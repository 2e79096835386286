"""torch.utils.checkpoint: the same values and gradients as without checkpointing (and as
torch), activations recomputed in backward (the function runs again), dropout replayed with the
same random numbers, both variants' rules on which tensors get gradients."""
import warnings

import numpy as np
import pytest
import torch as T

import cadenza as C
from cadenza.utils.checkpoint import checkpoint, checkpoint_sequential


def _mlp(lib, seed=0):
    lib.manual_seed(seed)
    return lib.nn.Sequential(lib.nn.Linear(4, 8), lib.nn.Tanh(), lib.nn.Linear(8, 8),
                             lib.nn.ReLU(), lib.nn.Linear(8, 2))


def _copy_weights(src, dst):
    for (n, p), (_, q) in zip(src.named_parameters(), dst.named_parameters()):
        q.data = C.tensor(p.detach().numpy().copy())


@pytest.mark.parametrize("reentrant", [True, False])
def test_values_and_gradients_match_torch(reentrant):
    tm = _mlp(T)
    cm = _mlp(C)
    _copy_weights(tm, cm)
    xn = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    xt = T.tensor(xn, requires_grad=True)
    xc = C.tensor(xn, requires_grad=True)
    yt = T.utils.checkpoint.checkpoint(tm, xt, use_reentrant=reentrant)
    yc = checkpoint(cm, xc, use_reentrant=reentrant)
    np.testing.assert_allclose(yc.detach().numpy(), yt.detach().numpy(), rtol=1e-5, atol=1e-6)
    (yt ** 2).sum().backward()
    (yc ** 2).sum().backward()
    np.testing.assert_allclose(xc.grad.numpy(), xt.grad.numpy(), rtol=1e-4, atol=1e-6)
    for p, q in zip(tm.parameters(), cm.parameters()):
        np.testing.assert_allclose(q.grad.numpy(), p.grad.detach().numpy(), rtol=1e-4,
                                   atol=1e-6)


@pytest.mark.parametrize("reentrant", [True, False])
def test_the_function_runs_again_in_backward(reentrant):
    calls = []
    lin = C.nn.Linear(3, 3)

    def f(x):
        calls.append(C.is_grad_enabled())
        return lin(x).sin()
    x = C.randn(2, 3, requires_grad=True)
    y = checkpoint(f, x, use_reentrant=reentrant)
    assert len(calls) == 1
    y.sum().backward()
    assert len(calls) == 2 and calls[1] is True  # recomputed with grad on
    ref = C.autograd.grad(lin(x).sin().sum(), x)[0]
    np.testing.assert_allclose(x.grad.numpy(), ref.numpy(), rtol=1e-6)


def test_reentrant_forward_keeps_no_graph():
    x = C.randn(2, 3, requires_grad=True)
    seen = []

    def f(v):
        h = v * 2
        seen.append(h.requires_grad)
        return h.exp()
    y = checkpoint(f, x, use_reentrant=True)
    assert seen == [False] and y.requires_grad
    assert y.grad_fn is not None


@pytest.mark.parametrize("reentrant", [True, False])
def test_dropout_is_replayed(reentrant):
    drop = C.nn.Dropout(0.5)
    lin = C.nn.Linear(6, 6)
    x = C.randn(4, 6, requires_grad=True)
    C.manual_seed(3)
    y = checkpoint(lambda v: drop(lin(v)), x, use_reentrant=reentrant)
    y.sum().backward()
    g = x.grad.clone()
    x.grad = None
    C.manual_seed(3)
    y2 = drop(lin(x))
    y2.sum().backward()
    np.testing.assert_array_equal(y.detach().numpy(), y2.detach().numpy())
    np.testing.assert_allclose(g.numpy(), x.grad.numpy(), rtol=1e-6)


def test_parameters_get_grads_without_input_grad_only_non_reentrant():
    for lib, ck in ((C, checkpoint), (T, T.utils.checkpoint.checkpoint)):
        lin = lib.nn.Linear(3, 2)
        x = lib.randn(4, 3)
        ck(lin, x, use_reentrant=False).sum().backward()
        assert lin.weight.grad is not None
        lin2 = lib.nn.Linear(3, 2)
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            y = ck(lin2, x, use_reentrant=True)
        assert not y.requires_grad and lin2.weight.grad is None
        assert any("None of the inputs have requires_grad=True" in str(m.message) for m in w)


def test_non_reentrant_kwargs_tuples_and_autograd_grad():
    lin = C.nn.Linear(3, 3)

    def f(a, b, *, scale):
        return lin(a) * scale, (b * 2).sum(), "tag"
    a = C.randn(2, 3, requires_grad=True)
    b = C.randn(2, 3, requires_grad=True)
    out = checkpoint(f, a, b, scale=3.0, use_reentrant=False)
    assert out[2] == "tag"
    ga, gb, gw = C.autograd.grad(out[0].sum() + out[1], (a, b, lin.weight))
    ra, rb, rw = C.autograd.grad((lin(a) * 3.0).sum() + (b * 2).sum(), (a, b, lin.weight))
    for u, v in ((ga, ra), (gb, rb), (gw, rw)):
        np.testing.assert_allclose(u.numpy(), v.numpy(), rtol=1e-6)
    with pytest.raises(ValueError, match="Unexpected keyword"):
        checkpoint(f, a, b, scale=3.0, use_reentrant=True)


def test_use_reentrant_warning_and_sequential():
    model = _mlp(C)
    tmodel = _mlp(T)
    _copy_weights(tmodel, model)
    xn = np.ones((3, 4), np.float32)
    x = C.tensor(xn, requires_grad=True)
    xt = T.tensor(xn, requires_grad=True)
    with pytest.warns(UserWarning, match="use_reentrant"):
        checkpoint(model, x)
    y = checkpoint_sequential(model, 2, x, use_reentrant=False)
    yt = T.utils.checkpoint.checkpoint_sequential(tmodel, 2, xt, use_reentrant=False)
    np.testing.assert_allclose(y.detach().numpy(), yt.detach().numpy(), rtol=1e-5, atol=1e-6)
    y.sum().backward()
    yt.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-4, atol=1e-6)
