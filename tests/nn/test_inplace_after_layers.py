"""An in-place activation right after a layer (``nn.ReLU(inplace=True)`` after Linear on 3-d
input, Conv1d, Conv2d without bias, AvgPool2d): torch's layer outputs are not views, so this
common pattern must run and give torch's gradients, eager and compiled."""
import numpy as np
import pytest
import torch

import cadenza


def _model(m, kind):
    nn = m.nn
    layer = {"linear3d": lambda: nn.Linear(4, 3), "conv1d": lambda: nn.Conv1d(4, 3, 1),
             "conv2d_nobias": lambda: nn.Conv2d(4, 3, 1, bias=False),
             "avgpool": lambda: nn.Sequential(nn.Conv2d(4, 3, 1), nn.AvgPool2d(2))}[kind]()
    return nn.Sequential(layer, nn.ReLU(inplace=True))


SHAPES = {"linear3d": (2, 5, 4), "conv1d": (2, 4, 5), "conv2d_nobias": (2, 4, 4, 4),
          "avgpool": (2, 4, 4, 4)}


@pytest.mark.parametrize("kind", sorted(SHAPES))
@pytest.mark.parametrize("compiled", [False, True])
def test_inplace_activation_after_layer_matches_torch(kind, compiled):
    x = np.random.default_rng(0).standard_normal(SHAPES[kind]).astype(np.float32)
    tm = _model(torch, kind)
    cm = _model(cadenza, kind)
    cm.load_state_dict({k: cadenza.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    tm(torch.tensor(x)).square().sum().backward()
    run = cadenza.compile(cm) if compiled else cm
    run(cadenza.tensor(x)).square().sum().backward()
    for (name, tp), cp in zip(tm.named_parameters(), cm.parameters()):
        np.testing.assert_allclose(cp.grad.numpy(), tp.grad.numpy(), rtol=1e-4, atol=1e-5,
                                   err_msg=name)
