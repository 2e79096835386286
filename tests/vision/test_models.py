"""cadenza.vision.models vs torchvision: state-dict keys and shapes (fixtures/model_keys.json),
and logits with the same deterministic weights in eval and train mode (fixtures/models.npz)."""
import json
import os
import sys

import numpy as np
import pytest

import cadenza as torch
from cadenza import nn
from cadenza.vision import models

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import _model_weights as mw  # noqa: E402

REF = np.load(os.path.join(HERE, "fixtures", "models.npz"))
with open(os.path.join(HERE, "fixtures", "model_keys.json")) as f:
    KEYS = json.load(f)


@pytest.mark.parametrize("name", mw.KEY_MODELS)
def test_state_dict_keys_and_shapes_match_torchvision(name):
    sd = getattr(models, name)(num_classes=10).state_dict()
    assert [[k, list(v.shape)] for k, v in sd.items()] == KEYS[name]


def _loaded(name):
    model = getattr(models, name)(num_classes=10)
    shapes = {k: s for k, s in KEYS[name]}
    sd = {k: torch.from_numpy(a) for k, a in mw.arrays(shapes).items()}
    result = model.load_state_dict(sd, strict=True)  # torchvision's keys, strictly
    assert not getattr(result, "missing_keys", []) and not getattr(result, "unexpected_keys", [])
    return model


@pytest.mark.parametrize("name", mw.MODELS)
def test_logits_match_torchvision(name):
    model = _loaded(name)
    x = torch.from_numpy(mw.batch(name))
    model.eval()
    with torch.no_grad():
        np.testing.assert_allclose(model(x).numpy(), REF[f"{name}/eval"], rtol=2e-4, atol=2e-4)
    model.train()
    mw.no_dropout(model, nn.Dropout)
    y = model(x)
    # train-mode batch norm over 4 samples at 1x1 (mobilenet's last blocks) amplifies float32
    # rounding: torchvision's own float32 logits are 9e-4 away from its float64 ones there
    tol = 3e-3 if name == "mobilenet_v2" else 2e-4
    np.testing.assert_allclose(y.detach().numpy(), REF[f"{name}/train"], rtol=tol, atol=tol)
    sd = model.state_dict()
    for key in REF.files:
        if key.startswith(f"{name}/after_train/"):
            np.testing.assert_allclose(sd[key.split("/", 2)[2]].numpy(), REF[key], rtol=tol,
                                       atol=1e-5, err_msg=key)
    y.sum().backward()
    assert all(p.grad is not None for p in model.parameters())


@pytest.mark.parametrize("name", ["resnet50", "vgg11", "alexnet"])
def test_other_models_run_forward_and_backward(name):
    model = getattr(models, name)(num_classes=7)
    x = torch.randn(2, 3, 64, 64)
    y = model(x)
    assert tuple(y.shape) == (2, 7)
    y.sum().backward()


def test_pretrained_weights_need_a_local_file(tmp_path, monkeypatch):
    from cadenza.vision.models import _api
    monkeypatch.setattr(_api, "WEIGHTS_DIR", str(tmp_path))
    with pytest.raises(RuntimeError) as e:
        models.resnet18(weights=models.ResNet18_Weights.DEFAULT)
    msg = str(e.value)
    assert "resnet18-f37072fd.safetensors" in msg and str(tmp_path) in msg
    assert "load_state_dict" in msg and "save_file" in msg
    with pytest.raises(RuntimeError, match="no local weight file"):
        models.mobilenet_v2(pretrained=True)
    with pytest.raises(ValueError, match="num_classes"):
        models.resnet18(weights="IMAGENET1K_V1", num_classes=10)
    with pytest.raises(ValueError, match="has no weights"):
        models.resnet18(weights="IMAGENET9K")
    # a converted file in the weights folder loads strictly
    src = models.squeezenet1_1()
    torch.io.save_safetensors(src.state_dict(),
                              str(tmp_path / "squeezenet1_1-b8a52dc0.safetensors"))
    m = models.squeezenet1_1(weights="DEFAULT")
    np.testing.assert_array_equal(m.features[0].weight.detach().numpy(),
                                  src.features[0].weight.detach().numpy())


def test_model_registry():
    assert {"resnet18", "vgg16_bn", "mobilenet_v2", "squeezenet1_1"} <= set(models.list_models())
    assert isinstance(models.get_model("resnet18", num_classes=3), models.ResNet)
