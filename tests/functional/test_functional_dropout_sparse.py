"""Dropout (random: statistics and reproducibility) and embedding's in-place max_norm and errors.
Evaluation-mode dropout and embedding vs torch are op-table entries: tests/ops/opinfo_nn.py."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import cadenza
import cadenza.nn.functional as F
from functional_helpers import rng

R = rng(4)


def test_dropout_statistics_and_scaling():
    cadenza.manual_seed(0)
    x = cadenza.ones(200, 100, requires_grad=True)
    y = F.dropout(x, 0.3)
    v = y.detach().numpy()
    assert set(np.unique(v)) <= {0.0, np.float32(1 / 0.7)}
    assert abs((v == 0).mean() - 0.3) < 0.02
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), v)  # gradient uses the same mask


def test_dropout_reproducible_and_eval():
    x = cadenza.randn(5, 6)
    cadenza.manual_seed(7)
    a = F.dropout(x, 0.5).numpy()
    cadenza.manual_seed(7)
    b = F.dropout(x, 0.5).numpy()
    np.testing.assert_array_equal(a, b)
    assert F.dropout(x, 0.5, training=False) is x
    assert (F.dropout(x, 1.0).numpy() == 0).all()
    assert F.dropout(x, 0.0) is x
    c = x.clone()
    r = F.dropout(c, 0.5, inplace=True)
    assert r is c
    with pytest.raises(ValueError, match="dropout probability"):
        F.dropout(x, 1.5)


@pytest.mark.parametrize("fn,shape,lead", [(F.dropout1d, (4, 8, 5), 2),
                                           (F.dropout2d, (4, 8, 3, 3), 2),
                                           (F.dropout3d, (2, 8, 2, 2, 2), 2),
                                           (F.dropout2d, (8, 3, 3), 1)])
def test_channel_dropout_zeroes_whole_channels(fn, shape, lead):
    cadenza.manual_seed(1)
    y = fn(cadenza.ones(*shape), 0.5).numpy()
    flat = y.reshape(y.shape[:lead] + (-1,))  # one row per (sample, channel)
    assert np.all((flat == 0).all(-1) | (flat == 2).all(-1))
    with pytest.raises(cadenza.ShapeError):
        fn(cadenza.ones(3), 0.5)


def test_alpha_dropout_keeps_moments():
    cadenza.manual_seed(2)
    x = cadenza.randn(400, 250)
    y = F.alpha_dropout(x, 0.2, training=True).numpy()
    assert abs(y.mean()) < 0.02 and abs(y.std() - 1) < 0.02
    y2 = F.feature_alpha_dropout(cadenza.randn(50, 40, 30), 0.2, training=True)
    assert y2.shape == (50, 40, 30)


def test_embedding_max_norm_renormalises_in_place():
    idx = np.array([0, 2, 2])
    w = R.standard_normal((4, 3)) * 3
    cw, tw = cadenza.tensor(w.copy()), torch.tensor(w.copy())
    a = F.embedding(cadenza.tensor(idx), cw, max_norm=1.0)
    b = TF.embedding(torch.tensor(idx), tw, max_norm=1.0)
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6)
    np.testing.assert_allclose(cw.numpy(), tw.numpy(), rtol=1e-6)


def test_embedding_errors_and_one_hot():
    w = cadenza.randn(5, 3)
    with pytest.raises(cadenza.DTypeError, match="embedding: expected integer indices"):
        F.embedding(cadenza.tensor([0.0, 1.0]), w)
    with pytest.raises(IndexError):
        F.embedding(cadenza.tensor([5]), w)
    with pytest.raises(cadenza.ShapeError, match="2-d weight"):
        F.embedding(cadenza.tensor([0]), cadenza.ones(5))
    t = np.array([0, 3, 1])
    np.testing.assert_array_equal(F.one_hot(cadenza.tensor(t), 5).numpy(),
                                  TF.one_hot(torch.tensor(t), 5).numpy())


def test_nn_functional_reexports_everything():
    import cadenza.functional as CF
    for name in CF.__all__:
        assert getattr(F, name) is getattr(CF, name)
    missing = [n for n in ("relu", "gelu", "softmax", "cross_entropy", "layer_norm", "rms_norm",
                           "scaled_dot_product_attention", "conv2d", "max_pool2d", "interpolate",
                           "dropout", "embedding", "one_hot", "linear", "pad", "unfold", "fold")
               if not hasattr(F, n)]
    assert not missing
