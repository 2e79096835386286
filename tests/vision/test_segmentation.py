"""cadenza.vision.models.segmentation vs torchvision 0.28: state-dict keys (digests in
fixtures/segmentation_keys.json) and "out"/"aux" logits with the same deterministic weights in
eval and train mode (fixtures/segmentation.npz, every 4th pixel; record_fixtures.py
segmentation)."""
import json
import os
import sys

import numpy as np
import pytest

import cadenza as torch
from cadenza import nn
from cadenza.vision import models
from cadenza.vision.models import segmentation

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import _model_weights as mw  # noqa: E402

REF = np.load(os.path.join(HERE, "fixtures", "segmentation.npz"))
with open(os.path.join(HERE, "fixtures", "segmentation_keys.json")) as f:
    KEYS = json.load(f)


@pytest.mark.parametrize("name", sorted(KEYS))
def test_state_dict_keys_match_torchvision(name):
    assert mw.key_digest(mw.build_segmentation(segmentation, name).state_dict()) == KEYS[name]


def _check(name, mode, out):
    keys = sorted(k for k in REF.files if k.startswith(f"{name}/{mode}/"))
    assert sorted(f"{name}/{mode}/{k}" for k in out) == keys
    for key in keys:
        ref = REF[key]
        got = out[key.rsplit("/", 1)[1]].detach().numpy()[..., ::4, ::4]
        np.testing.assert_allclose(got, ref, rtol=1e-3,
                                   atol=1e-3 * max(1.0, float(np.abs(ref).max())), err_msg=key)


@pytest.mark.parametrize("name", list(mw.SEGMENTATION))
def test_logits_match_torchvision(name):
    model = mw.build_segmentation(segmentation, name)
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    model.load_state_dict({k: torch.from_numpy(a) for k, a in mw.arrays(shapes).items()},
                          strict=True)
    x = torch.from_numpy(mw.segmentation_batch())
    model.eval()
    with torch.no_grad():
        out = model(x)
    assert tuple(out["out"].shape) == (2, 5, 48, 40)
    _check(name, "eval", out)
    model.train()
    mw.no_dropout(model, nn.Dropout)
    _check(name, "train", model(x))


def test_builders_and_weights():
    assert models.list_models(segmentation) == sorted(
        ["deeplabv3_mobilenet_v3_large", "deeplabv3_resnet101", "deeplabv3_resnet50",
         "fcn_resnet101", "fcn_resnet50", "lraspp_mobilenet_v3_large"])
    assert "fcn_resnet50" not in models.list_models(models)
    assert "fcn_resnet50" in models.list_models()
    w = models.get_model_weights("fcn_resnet50")
    assert w is segmentation.FCN_ResNet50_Weights and w.DEFAULT.meta["categories"][15] == \
        "person"
    assert models.get_weight("LRASPP_MobileNet_V3_Large_Weights.DEFAULT") is \
        segmentation.LRASPP_MobileNet_V3_Large_Weights.COCO_WITH_VOC_LABELS_V1
    with pytest.raises(RuntimeError, match="no local weight file"):
        segmentation.fcn_resnet50(weights="DEFAULT")
    with pytest.raises(RuntimeError, match="no local weight file"):     # torchvision's default
        segmentation.deeplabv3_resnet50(num_classes=3)                 # backbone weights
    with pytest.raises(ValueError, match="num_classes"):
        segmentation.lraspp_mobilenet_v3_large(weights="DEFAULT", num_classes=3)
    with pytest.raises(NotImplementedError, match="auxiliary"):
        segmentation.lraspp_mobilenet_v3_large(weights_backbone=None, aux_loss=True)
    m = models.get_model("deeplabv3_mobilenet_v3_large", weights_backbone=None, num_classes=2)
    assert m.aux_classifier is None and isinstance(m.classifier[0], segmentation.ASPP)
    m.eval()
    with torch.no_grad():
        assert tuple(m(torch.rand(1, 3, 33, 47))["out"].shape) == (1, 2, 33, 47)


def test_intermediate_layer_getter():
    from cadenza.vision.models._utils import IntermediateLayerGetter
    net = models.resnet18()
    getter = IntermediateLayerGetter(net, {"layer1": "feat1", "layer3": "feat2"})
    assert list(getter.keys())[-1] == "layer3"
    out = getter(torch.rand(1, 3, 64, 64))
    assert [(k, tuple(v.shape)) for k, v in out.items()] == [("feat1", (1, 64, 16, 16)),
                                                            ("feat2", (1, 256, 4, 4))]
    with pytest.raises(ValueError, match="return_layers are not present"):
        IntermediateLayerGetter(net, {"head": "x"})
