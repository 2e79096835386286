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
]


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
