"""Loss modules vs torch.nn: values and input gradients (float64)."""
import numpy as np
import pytest
import torch

import cadenza
import cadenza.nn as nn
from helpers import rand

LOGITS = rand(6, 4)
LABELS = np.array([0, 3, 1, 1, 2, 3])
LABELS_IGN = np.array([0, -100, 1, 1, 2, 3])
PROBS = 1 / (1 + np.exp(-rand(6, 4, seed=1)))
TARGET01 = (rand(6, 4, seed=2) > 0).astype(np.float64)
W = np.array([1.0, 2.0, 0.5, 1.5])


def _both(name, **kw):
    ck = {k: cadenza.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
    tk = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
    return getattr(nn, name)(**ck), getattr(torch.nn, name)(**tk)


CASES = [
    ("CrossEntropyLoss", {}, (LOGITS, LABELS)),
    ("CrossEntropyLoss", {"weight": W, "label_smoothing": 0.1}, (LOGITS, LABELS)),
    ("CrossEntropyLoss", {"reduction": "sum", "ignore_index": -100}, (LOGITS, LABELS_IGN)),
    ("CrossEntropyLoss", {"weight": W}, (LOGITS, LABELS_IGN)),
    ("CrossEntropyLoss", {"reduction": "none"}, (rand(2, 4, 3), LABELS[:6].reshape(2, 3))),
    ("CrossEntropyLoss", {}, (LOGITS, np.exp(rand(6, 4, seed=4)) /
                              np.exp(rand(6, 4, seed=4)).sum(1, keepdims=True))),
    ("NLLLoss", {}, (LOGITS, LABELS)),
    ("NLLLoss", {"weight": W, "reduction": "sum"}, (LOGITS, LABELS_IGN)),
    ("MSELoss", {}, (LOGITS, PROBS)),
    ("MSELoss", {"reduction": "sum"}, (LOGITS, PROBS)),
    ("L1Loss", {}, (LOGITS, PROBS)),
    ("SmoothL1Loss", {"beta": 0.5}, (LOGITS, PROBS)),
    ("HuberLoss", {"delta": 0.7}, (LOGITS, PROBS)),
    ("BCELoss", {}, (PROBS, TARGET01)),
    ("BCELoss", {"weight": W}, (PROBS, TARGET01)),
    ("BCEWithLogitsLoss", {}, (LOGITS, TARGET01)),
    ("BCEWithLogitsLoss", {"pos_weight": W, "reduction": "none"}, (LOGITS, TARGET01)),
    ("KLDivLoss", {"reduction": "batchmean"}, (np.log(PROBS), PROBS)),
    ("KLDivLoss", {"reduction": "sum", "log_target": True}, (np.log(PROBS), np.log(PROBS))),
    ("SoftMarginLoss", {}, (LOGITS, TARGET01 * 2 - 1)),
    ("NLLLoss2d", {}, (rand(2, 4, 3, 3), np.array([[[0, 1, 3]] * 3, [[2, 2, 1]] * 3]))),
    ("PoissonNLLLoss", {}, (LOGITS, PROBS * 3)),
    ("PoissonNLLLoss", {"log_input": False, "full": True, "reduction": "none"},
     (PROBS, PROBS * 3)),
    ("HingeEmbeddingLoss", {"margin": 0.5}, (LOGITS, TARGET01 * 2 - 1)),
    ("MultiLabelMarginLoss", {}, (LOGITS, np.array([[3, 0, -1, 1], [1, 2, 0, 3], [-1, 0, 0, 0],
                                                    [2, -1, 3, 3], [0, 0, -1, 2],
                                                    [1, 3, 2, -1]]))),
    ("MultiLabelSoftMarginLoss", {"weight": W}, (LOGITS, TARGET01)),
    ("MultiMarginLoss", {}, (LOGITS, LABELS)),
    ("MultiMarginLoss", {"p": 2, "margin": 0.5, "weight": W, "reduction": "none"},
     (LOGITS, LABELS)),
]


@pytest.mark.filterwarnings("ignore:`NLLLoss2d` has been deprecated")
@pytest.mark.parametrize("name, kw, args", CASES)
def test_loss_matches_torch(name, kw, args):
    cm, tm = _both(name, **kw)
    # only the first argument (the prediction) gets a gradient
    x = cadenza.tensor(args[0], requires_grad=True)
    xt = torch.tensor(args[0], requires_grad=True)
    rest_c = [cadenza.tensor(a) for a in args[1:]]
    rest_t = [torch.tensor(a) for a in args[1:]]
    yc, yt = cm(x, *rest_c), tm(xt, *rest_t)
    np.testing.assert_allclose(yc.detach().numpy(), yt.detach().numpy(), rtol=1e-7, atol=1e-12)
    g = rand(*yt.shape, seed=7) if yt.ndim else np.array(1.3)
    (yc * cadenza.tensor(g)).sum().backward()
    (yt * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-7, atol=1e-12)
    assert repr(cm) == repr(tm)
    assert list(cm.state_dict()) == list(tm.state_dict())


def test_legacy_reduction_args():
    assert nn.MSELoss(size_average=False).reduction == "sum"
    assert nn.MSELoss(reduce=False).reduction == "none"
    assert nn.CrossEntropyLoss().reduction == "mean"


def test_loss_float32_and_errors():
    loss = nn.CrossEntropyLoss()(cadenza.randn(4, 3), cadenza.tensor([0, 1, 2, 0]))
    assert loss.dtype == cadenza.float32 and loss.ndim == 0
    with pytest.raises((ValueError, RuntimeError)):
        nn.MSELoss(reduction="avg")(cadenza.zeros(2), cadenza.zeros(2))


SIGNS = np.array([1.0, -1.0, 1.0, -1.0, 1.0, 1.0])


@pytest.mark.parametrize("name, kw, args", [
    ("MarginRankingLoss", {"margin": 0.3}, (rand(6), rand(6, seed=1), SIGNS)),
    ("TripletMarginLoss", {"margin": 0.5, "p": 1.0, "swap": True},
     (LOGITS, rand(6, 4, seed=1), rand(6, 4, seed=2))),
    ("TripletMarginWithDistanceLoss", {"reduction": "none"},
     (LOGITS, rand(6, 4, seed=1), rand(6, 4, seed=2))),
    ("GaussianNLLLoss", {"full": True}, (LOGITS, rand(6, 4, seed=1), PROBS)),
    ("CosineEmbeddingLoss", {"margin": 0.2}, (LOGITS, rand(6, 4, seed=1), SIGNS)),
])
def test_multi_input_losses(name, kw, args):
    cm, tm = _both(name, **kw)
    ci = [cadenza.tensor(a, requires_grad=a.dtype.kind == "f" and i < 2)
          for i, a in enumerate(args)]
    ti = [torch.tensor(a, requires_grad=a.dtype.kind == "f" and i < 2)
          for i, a in enumerate(args)]
    yc, yt = cm(*ci), tm(*ti)
    np.testing.assert_allclose(yc.detach().numpy(), yt.detach().numpy(), rtol=1e-7)
    yc.sum().backward()
    yt.sum().backward()
    for c, t in zip(ci[:2], ti[:2]):
        np.testing.assert_allclose(c.grad.numpy(), t.grad.numpy(), rtol=1e-7, atol=1e-12)
    assert repr(cm) == repr(tm)


def test_triplet_with_custom_distance():
    def cdist(a, b):
        return 1 - nn.functional.cosine_similarity(a, b)

    def tdist(a, b):
        return 1 - torch.nn.functional.cosine_similarity(a, b)
    cm = nn.TripletMarginWithDistanceLoss(distance_function=cdist, margin=0.4)
    tm = torch.nn.TripletMarginWithDistanceLoss(distance_function=tdist, margin=0.4)
    a, p, n = LOGITS, rand(6, 4, seed=1), rand(6, 4, seed=2)
    np.testing.assert_allclose(cm(*map(cadenza.tensor, (a, p, n))).item(),
                               tm(*map(torch.tensor, (a, p, n))).item(), rtol=1e-10)
    with pytest.raises(ValueError, match="margin"):
        nn.TripletMarginLoss(margin=0)
    with pytest.raises(ValueError, match="p == 1"):
        nn.MultiMarginLoss(p=3)


@pytest.mark.parametrize("kw", [dict(), dict(reduction="sum", blank=4),
                                dict(reduction="none", zero_infinity=True)])
def test_ctc_loss_module(kw):
    """CTC through log_softmax (torch's CTC gradient is only right composed with it)."""
    cm, tm = _both("CTCLoss", **kw)
    logits = rand(8, 3, 5)
    targets = np.array([[1, 2, 2, 3], [3, 1, 0, 0], [1, 1, 1, 1]])
    if kw.get("blank") == 4:
        targets = targets % 4
    else:
        targets = np.where(targets == 0, 2, targets)
    il, tl = np.array([8, 6, 3]), np.array([4, 2, 3])       # sample 3 is impossible
    cx = cadenza.tensor(logits, requires_grad=True)
    tx = torch.tensor(logits, requires_grad=True)
    yc = cm(cx.log_softmax(2), cadenza.tensor(targets), cadenza.tensor(il), cadenza.tensor(tl))
    yt = tm(tx.log_softmax(2), torch.tensor(targets), torch.tensor(il), torch.tensor(tl))
    np.testing.assert_allclose(yc.detach().numpy(), yt.detach().numpy(), rtol=1e-8)
    if np.isfinite(yt.detach().numpy()).all():
        yc.sum().backward()
        yt.sum().backward()
        np.testing.assert_allclose(cx.grad.numpy(), tx.grad.numpy(), rtol=1e-7, atol=1e-12)
    assert repr(cm) == repr(tm)


def test_linear_cross_entropy_loss_module():
    for kw in (dict(), dict(bias=True, label_smoothing=0.1, ignore_index=1),
               dict(out_features=(2,), reduction="sum")):
        cm = nn.LinearCrossEntropyLoss(3, 5, dtype=cadenza.float64, **kw)
        tm = torch.nn.LinearCrossEntropyLoss(3, 5, dtype=torch.float64, **kw)
        assert repr(cm) == repr(tm)
        assert list(cm.state_dict()) == list(tm.state_dict())
        tm.load_state_dict({k: torch.tensor(v.numpy()) for k, v in cm.state_dict().items()})
        x = rand(4, 3)
        t = np.array([[0, 4], [2, 1], [3, 3], [1, 0]]) if "out_features" in kw else \
            np.array([0, 4, 2, 1])
        cx, tx = cadenza.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        yc, yt = cm(cx, cadenza.tensor(t)), tm(tx, torch.tensor(t))
        np.testing.assert_allclose(yc.item(), yt.item(), rtol=1e-10)
        yc.backward()
        yt.backward()
        np.testing.assert_allclose(cx.grad.numpy(), tx.grad.numpy(), rtol=1e-8)
        np.testing.assert_allclose(cm.linear.weight.grad.numpy(),
                                   tm.linear.weight.grad.numpy(), rtol=1e-8)
    assert nn.LinearCrossEntropyOptions(batch_chunk_size=8).batch_chunk_size == 8


def test_adaptive_log_softmax_with_loss():
    cm = nn.AdaptiveLogSoftmaxWithLoss(8, 20, [5, 10, 15], div_value=2.0, head_bias=True,
                                       dtype=cadenza.float64)
    tm = torch.nn.AdaptiveLogSoftmaxWithLoss(8, 20, [5, 10, 15], div_value=2.0,
                                             head_bias=True, dtype=torch.float64)
    assert repr(cm) == repr(tm) and list(cm.state_dict()) == list(tm.state_dict())
    tm.load_state_dict({k: torch.tensor(v.numpy()) for k, v in cm.state_dict().items()})
    x, t = rand(6, 8), np.array([0, 7, 12, 19, 3, 14])
    cx, tx = cadenza.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    co, to = cm(cx, cadenza.tensor(t)), tm(tx, torch.tensor(t))
    np.testing.assert_allclose(co.output.detach().numpy(), to.output.detach().numpy(),
                               rtol=1e-10)
    co.loss.backward()
    to.loss.backward()
    np.testing.assert_allclose(cx.grad.numpy(), tx.grad.numpy(), rtol=1e-8)
    for (n, p), (_, q) in zip(cm.named_parameters(), tm.named_parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-8, err_msg=n)
    np.testing.assert_allclose(cm.log_prob(cadenza.tensor(x)).detach().numpy(),
                               tm.log_prob(torch.tensor(x)).detach().numpy(), rtol=1e-10)
    np.testing.assert_array_equal(cm.predict(cadenza.tensor(x)).numpy(),
                                  tm.predict(torch.tensor(x)).numpy())
    one = cm(cadenza.tensor(x[0]), cadenza.tensor(t[0]))
    assert one.output.shape == () and abs(one.output.item() - co.output[0].item()) < 1e-12
    with pytest.raises(RuntimeError, match="Target values"):
        cm(cadenza.tensor(x), cadenza.tensor(np.array([0, 1, 2, 3, 4, 20])))
