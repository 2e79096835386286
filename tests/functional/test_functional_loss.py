import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import cadenza
import cadenza.nn.functional as F
from cadenza.autograd import gradcheck, gradgradcheck
from functional_helpers import check, rng

R = rng(0)
LOGITS = R.standard_normal((4, 5))
TGT = np.array([0, 4, 2, 2])
LOGITS_ND = R.standard_normal((2, 3, 2, 2))
TGT_ND = np.array([[[0, 1], [2, -100]], [[1, 1], [0, 2]]])
W = np.array([0.5, 1.0, 2.0, 1.5, 0.7])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("kw", [{}, {"label_smoothing": 0.1}, {"ignore_index": 2}])
def test_cross_entropy_indices(reduction, kw):
    check(lambda x, t: F.cross_entropy(x, t, reduction=reduction, **kw),
          lambda x, t: TF.cross_entropy(x, t, reduction=reduction, **kw), LOGITS, TGT)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("ls", [0.0, 0.2])
def test_cross_entropy_weighted_nd(reduction, ls):
    w = np.array([0.3, 1.0, 2.0])
    check(lambda x, t, w_: F.cross_entropy(x, t, w_, reduction=reduction, label_smoothing=ls),
          lambda x, t, w_: TF.cross_entropy(x, t, w_, reduction=reduction, label_smoothing=ls),
          LOGITS_ND, TGT_ND, w, nograd=(2,))
    check(lambda x, t: F.cross_entropy(x, t, cadenza.tensor(W), reduction=reduction,
                                       label_smoothing=ls, ignore_index=4),
          lambda x, t: TF.cross_entropy(x, t, torch.tensor(W), reduction=reduction,
                                        label_smoothing=ls, ignore_index=4), LOGITS, TGT)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_probabilities(reduction):
    p = np.abs(R.standard_normal((4, 5)))
    p /= p.sum(1, keepdims=True)
    for kw in ({}, {"label_smoothing": 0.3}):
        check(lambda x, t: F.cross_entropy(x, t, reduction=reduction, **kw),
              lambda x, t: TF.cross_entropy(x, t, reduction=reduction, **kw), LOGITS, p)
    check(lambda x, t: F.cross_entropy(x, t, cadenza.tensor(W), reduction=reduction),
          lambda x, t: TF.cross_entropy(x, t, torch.tensor(W), reduction=reduction), LOGITS, p)


def test_cross_entropy_unbatched_and_float32():
    check(lambda x, t: F.cross_entropy(x, t), lambda x, t: TF.cross_entropy(x, t),
          LOGITS[0], np.array(3))
    x = LOGITS.astype(np.float32)
    out = F.cross_entropy(cadenza.tensor(x), cadenza.tensor(TGT))
    assert out.dtype is cadenza.float32
    np.testing.assert_allclose(out.item(), TF.cross_entropy(torch.tensor(x), torch.tensor(TGT))
                               .item(), rtol=1e-6)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_nll_loss(reduction):
    lp = np.log(np.abs(R.standard_normal((4, 5))) + 0.1)
    check(lambda x, t, w: F.nll_loss(x, t, w, ignore_index=2, reduction=reduction),
          lambda x, t, w: TF.nll_loss(x, t, w, ignore_index=2, reduction=reduction), lp, TGT, W,
          nograd=(2,))
    check(lambda x, t: F.nll_loss(x, t, reduction=reduction),
          lambda x, t: TF.nll_loss(x, t, reduction=reduction), LOGITS_ND, TGT_ND)


PAIR = {
    "mse": (F.mse_loss, TF.mse_loss),
    "l1": (F.l1_loss, TF.l1_loss),
    "smooth_l1": (lambda a, b, **k: F.smooth_l1_loss(a, b, beta=0.7, **k),
                  lambda a, b, **k: TF.smooth_l1_loss(a, b, beta=0.7, **k)),
    "smooth_l1_b0": (lambda a, b, **k: F.smooth_l1_loss(a, b, beta=0.0, **k),
                     lambda a, b, **k: TF.smooth_l1_loss(a, b, beta=0.0, **k)),
    "huber": (lambda a, b, **k: F.huber_loss(a, b, delta=0.8, **k),
              lambda a, b, **k: TF.huber_loss(a, b, delta=0.8, **k)),
    "kl_div": (F.kl_div, TF.kl_div),
    "kl_div_log": (lambda a, b, **k: F.kl_div(a, b, log_target=True, **k),
                   lambda a, b, **k: TF.kl_div(a, b, log_target=True, **k)),
    "soft_margin": (F.soft_margin_loss, TF.soft_margin_loss),
    "poisson_nll": (F.poisson_nll_loss, TF.poisson_nll_loss),
    "bce_logits": (F.binary_cross_entropy_with_logits, TF.binary_cross_entropy_with_logits),
    "multilabel_soft_margin": (F.multilabel_soft_margin_loss, TF.multilabel_soft_margin_loss),
}


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name", sorted(PAIR))
def test_pair_losses(name, reduction):
    cfn, tfn = PAIR[name]
    a = R.standard_normal((3, 4))
    b = R.standard_normal((3, 4))
    if name in ("kl_div", "poisson_nll"):
        b = np.abs(b)
        b[0, 0] = 0.0
    if name in ("bce_logits", "multilabel_soft_margin"):
        b = (b > 0).astype(np.float64)
        a[0, 0] = 0.0
    if name == "soft_margin":
        b = np.sign(b)
    # torch's kl_div gradient w.r.t. a zero target is NaN (ours is finite): not compared
    check(lambda x, y: cfn(x, y, reduction=reduction), lambda x, y: tfn(x, y, reduction=reduction),
          a, b, nograd=(1,) if name in ("kl_div", "soft_margin", "multilabel_soft_margin") else ())


def test_kl_div_batchmean():
    a, b = R.standard_normal((3, 4)), np.abs(R.standard_normal((3, 4)))
    check(lambda x, y: F.kl_div(x, y, reduction="batchmean"),
          lambda x, y: TF.kl_div(x, y, reduction="batchmean"), a, b)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_weighted_regression_losses(reduction):
    a, b = R.standard_normal((3, 4)), R.standard_normal((3, 4))
    w = np.abs(R.standard_normal((3, 4)))
    for cf, tf in ((F.mse_loss, TF.mse_loss), (F.l1_loss, TF.l1_loss),
                   (F.huber_loss, TF.huber_loss)):
        check(lambda x, y, z: cf(x, y, reduction=reduction, weight=z),
              lambda x, y, z: tf(x, y, reduction=reduction, weight=z), a, b, w)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_binary_cross_entropy(reduction):
    p = 1 / (1 + np.exp(-R.standard_normal((3, 4))))
    t = (R.random((3, 4)) > 0.5).astype(np.float64)
    t[0, 0] = 0.3  # soft target
    w = np.abs(R.standard_normal((3, 4)))
    check(lambda x, y: F.binary_cross_entropy(x, y, reduction=reduction),
          lambda x, y: TF.binary_cross_entropy(x, y, reduction=reduction), p, t)
    check(lambda x, y, z: F.binary_cross_entropy(x, y, z, reduction=reduction),
          lambda x, y, z: TF.binary_cross_entropy(x, y, z, reduction=reduction), p, t, w,
          nograd=(2,))
    check(lambda x, y, z: F.binary_cross_entropy(x, y, z, reduction=reduction),
          lambda x, y, z: TF.binary_cross_entropy(x, y, z, reduction=reduction), p, t, w[0],
          nograd=(1, 2))
    # log clamped at -100: exact 0 and 1 give a finite loss
    edge = np.array([0.0, 1.0, 0.5])
    check(lambda x, y: F.binary_cross_entropy(x, y, reduction=reduction),
          lambda x, y: TF.binary_cross_entropy(x, y, reduction=reduction), edge,
          np.array([1.0, 0.0, 1.0]), grad=False)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bce_with_logits_weights(reduction):
    x = R.standard_normal((3, 4)) * 30  # large logits: must not overflow
    t = (R.random((3, 4)) > 0.5).astype(np.float64)
    check(lambda a, b, w, pw: F.binary_cross_entropy_with_logits(a, b, w, reduction=reduction,
                                                                 pos_weight=pw),
          lambda a, b, w, pw: TF.binary_cross_entropy_with_logits(a, b, w, reduction=reduction,
                                                                  pos_weight=pw),
          x, t, np.abs(R.standard_normal(4)), np.abs(R.standard_normal(4)), nograd=(1, 2, 3))


def test_similarity_and_distance():
    a, b = R.standard_normal((3, 4)), R.standard_normal((3, 4))
    check(F.cosine_similarity, TF.cosine_similarity, a, b)
    check(lambda x, y: F.cosine_similarity(x, y, dim=0), lambda x, y: TF.cosine_similarity(x, y, 0),
          a, b[:1])
    check(F.pairwise_distance, TF.pairwise_distance, a, b)
    check(lambda x, y: F.pairwise_distance(x, y, 1.0, keepdim=True),
          lambda x, y: TF.pairwise_distance(x, y, 1.0, keepdim=True), a, b)


@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_margin_losses(reduction):
    a, b, c = R.standard_normal((4, 3)), R.standard_normal((4, 3)), R.standard_normal((4, 3))
    y = np.array([1.0, -1.0, 1.0, -1.0])
    check(lambda p, q, t: F.cosine_embedding_loss(p, q, t, 0.1, reduction=reduction),
          lambda p, q, t: TF.cosine_embedding_loss(p, q, t, 0.1, reduction=reduction), a, b, y,
          grad=True)
    check(lambda p, q, t: F.margin_ranking_loss(p, q, t, 0.2, reduction=reduction),
          lambda p, q, t: TF.margin_ranking_loss(p, q, t, 0.2, reduction=reduction),
          a[:, 0], b[:, 0], y)
    check(lambda p, q, n: F.triplet_margin_loss(p, q, n, swap=True, reduction=reduction),
          lambda p, q, n: TF.triplet_margin_loss(p, q, n, swap=True, reduction=reduction), a, b, c)
    check(lambda p, t: F.hinge_embedding_loss(p, t, reduction=reduction),
          lambda p, t: TF.hinge_embedding_loss(p, t, reduction=reduction), a[:, 0], y)


def test_gaussian_nll():
    a, b = R.standard_normal((3, 4)), R.standard_normal((3, 4))
    v = np.abs(R.standard_normal((3, 4)))
    v[0, 0] = 1e-9
    check(lambda x, y, z: F.gaussian_nll_loss(x, y, z, full=True),
          lambda x, y, z: TF.gaussian_nll_loss(x, y, z, full=True), a, b, v)


def test_gradcheck_losses():
    x = cadenza.tensor(R.standard_normal((3, 4)), requires_grad=True)
    t = cadenza.tensor([0, 3, 1])
    assert gradcheck(lambda a: F.cross_entropy(a, t, label_smoothing=0.1), (x,))
    assert gradgradcheck(lambda a: F.cross_entropy(a, t), (x,))
    y = cadenza.tensor(R.standard_normal((3, 4)))
    assert gradcheck(lambda a: F.binary_cross_entropy_with_logits(a, (y > 0).double()), (x,))
    assert gradgradcheck(lambda a: F.smooth_l1_loss(a, y), (x,))


def test_loss_errors():
    x = cadenza.randn(4, 5)
    with pytest.raises(cadenza.ShapeError, match=r"cross_entropy: expected target.shape == \(4,\)"):
        F.cross_entropy(x, cadenza.tensor([0, 1, 2]))
    with pytest.raises(cadenza.ShapeError, match="cross_entropy: expected probability target"):
        F.cross_entropy(x, cadenza.rand(4, 4))
    with pytest.raises(cadenza.DTypeError, match="nll_loss: expected target of integer"):
        F.nll_loss(x, cadenza.rand(4))
    with pytest.raises(IndexError, match="class indices"):
        F.cross_entropy(x, cadenza.tensor([0, 1, 2, 5]))
    with pytest.raises(cadenza.ShapeError, match="weight.shape"):
        F.cross_entropy(x, cadenza.tensor([0, 1, 2, 3]), weight=cadenza.ones(3))
    with pytest.raises(ValueError, match="reduction"):
        F.mse_loss(x, x, reduction="avg")
    with pytest.raises(cadenza.ShapeError, match="mse_loss: expected target.shape"):
        F.mse_loss(x, cadenza.randn(3, 5))
    with pytest.raises(cadenza.ShapeError, match="binary_cross_entropy: expected"):
        F.binary_cross_entropy(x.sigmoid(), cadenza.rand(5))
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        F.binary_cross_entropy(x * 3, cadenza.rand(4, 5))


def test_mse_broadcast_warns_like_torch():
    with pytest.warns(UserWarning):
        out = F.mse_loss(cadenza.ones(3, 1), cadenza.zeros(3))
    assert out.item() == 1.0


def test_nll_all_ignored_is_nan():
    out = F.cross_entropy(cadenza.randn(2, 3), cadenza.tensor([-100, -100]))
    assert np.isnan(out.item())
