"""The detection backbones and builders against torchvision (fixtures/detection_builders.npz,
recorded by record_detection_builders.py with the settings of _detection_builders.py): which
parameters ``trainable_layers`` freezes, state-dict keys, builder settings; and
GeneralizedRCNN's mode-dependent outputs and refusals of bad targets, the constructors' argument
errors and the loading of version-1 MaskRCNNHeads keys."""
import os
import sys
import warnings

import numpy as np
import pytest

import cadenza as torch
from cadenza import nn
from cadenza.vision import ops
from cadenza.vision.models import mobilenetv2, mobilenetv3, resnet
from cadenza.vision.models import detection as det
from cadenza.vision.models.detection import backbone_utils as bu
from cadenza.vision.models.detection.anchor_utils import AnchorGenerator
from cadenza.vision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
from cadenza.vision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import _detection_builders as cases  # noqa: E402

REF = np.load(os.path.join(HERE, "fixtures", "detection_builders.npz"))
FAMILIES = {"resnet": resnet, "mobilenet_v2": mobilenetv2, "mobilenet_v3": mobilenetv3}


@pytest.mark.parametrize("tag", sorted(cases.FREEZING))
def test_trainable_layers_freeze_what_torchvision_freezes(tag):
    family, name, norm, extract = cases.FREEZING[tag]
    norm = {"BatchNorm2d": nn.BatchNorm2d, "FrozenBatchNorm2d": ops.FrozenBatchNorm2d}[norm]
    with torch.device("meta"):  # names and shapes only: no time spent drawing weights
        net = getattr(FAMILIES[family], name)(weights=None, norm_layer=norm)
    for k in cases.layer_counts(tag):
        cases.unfreeze(net)
        with torch.device("meta"):
            module = getattr(bu, extract[0])(net, *extract[1:], k)
        assert cases.frozen(module) == list(REF[f"{tag}/{k}/frozen"]), f"trainable_layers={k}"
        if k == 0:
            assert cases.keys(module) == list(REF[f"{tag}/keys"])
    with pytest.raises(ValueError, match=r"trainable_layers should be in the range \[0,"):
        getattr(bu, extract[0])(net, *extract[1:], max(cases.layer_counts(tag)) + 1)


@pytest.mark.parametrize("name", sorted(cases.BUILDERS))
def test_builder_keys_and_settings(name):
    with pytest.warns(UserWarning, match="trainable_backbone_layers"), torch.device("meta"):
        model = getattr(det, name)(**cases.BUILDERS[name])
    assert cases.keys(model) == list(REF[f"{name}/keys"])
    np.testing.assert_allclose(cases.settings(model), REF[f"{name}/settings"])


def test_trainable_layer_and_returned_layer_checks():
    assert bu._validate_trainable_layers(True, None, 5, 3) == 3
    assert bu._validate_trainable_layers(True, 0, 5, 3) == 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert bu._validate_trainable_layers(False, None, 6, 3) == 6
    with pytest.warns(UserWarning, match="no pretrained|neither weights"):
        assert bu._validate_trainable_layers(False, 2, 6, 3) == 6
    for bad in (-1, 6):
        with pytest.raises(ValueError, match=r"range \[0,5\], got " + str(bad)):
            bu._validate_trainable_layers(True, bad, 5, 3)
    with torch.device("meta"):
        net = resnet.resnet18(weights=None)
    for bad in ([0, 2], [2, 5]):
        with pytest.raises(ValueError, match=r"returned_layers .*\[1,4\]"):
            bu._resnet_fpn_extractor(net, 3, returned_layers=bad)
    with torch.device("meta"):
        backbone = bu._resnet_fpn_extractor(net, 3, returned_layers=[2, 4])
        maps = backbone(torch.zeros(1, 3, 64, 64))  # shapes only
    assert backbone.body.return_layers == {"layer2": "0", "layer4": "1"}
    assert backbone.out_channels == 256
    assert [(k, tuple(v.shape)) for k, v in maps.items()] == [
        ("0", (1, 256, 8, 8)), ("1", (1, 256, 2, 2)), ("pool", (1, 256, 1, 1))]


class _Backbone(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, stride=4, padding=1)
        self.out_channels = 4

    def forward(self, x):
        return self.conv(x)  # a single map: GeneralizedRCNN names it "0"


def _tiny_faster_rcnn():
    return det.FasterRCNN(_Backbone(), min_size=32, max_size=40,
                          rpn_anchor_generator=AnchorGenerator(((8, 16),), ((1.0,),)),
                          box_roi_pool=ops.MultiScaleRoIAlign(["0"], 2, 2),
                          box_head=TwoMLPHead(16, 8), box_predictor=FastRCNNPredictor(8, 3))


def _target(*boxes):
    return {"boxes": torch.tensor(boxes, dtype=torch.float32),
            "labels": torch.ones(len(boxes), dtype=torch.int64)}


def test_generalized_rcnn_outputs_and_target_checks():
    torch.manual_seed(0)
    model = _tiny_faster_rcnn()
    images = [torch.rand(3, 32, 40), torch.rand(3, 28, 36)]
    good = [_target([1.0, 2.0, 15.0, 19.0]), _target([3.0, 1.0, 9.0, 20.0], [0, 0, 30, 20])]
    losses = model(images, good)  # training mode: the loss dict
    assert sorted(losses) == ["loss_box_reg", "loss_classifier", "loss_objectness",
                              "loss_rpn_box_reg"]
    for message, targets in [
            ("targets should not be none", None),
            ("positive height and width.*\\[1.0, 2.0, 1.0, 9.0\\].*index 0",
             [_target([1.0, 2.0, 1.0, 9.0]), good[1]]),
            ("positive height and width.*invalid box .* index 1",  # after resizing
             [good[0], _target([1.0, 2.0, 5.0, 9.0], [5.0, 9.0, 4.0, 12.0])]),
            ("shape \\[N, 4\\]", [{"boxes": torch.zeros(4), "labels": torch.ones(1)}] * 2),
            ("of type Tensor", [{"boxes": [[1.0, 2.0, 5.0, 9.0]], "labels": None}] * 2)]:
        with pytest.raises(AssertionError, match=message):
            model(images, targets)
    model.eval()
    with torch.no_grad():
        detections = model(images)
    assert [sorted(d) for d in detections] == [["boxes", "labels", "scores"]] * 2
    assert model.eager_outputs({"a": 1}, [2]) == [2]
    model.train()
    assert model.eager_outputs({"a": 1}, [2]) == {"a": 1}


def test_constructor_argument_errors():
    with pytest.raises(ValueError, match="out_channels"):
        det.FasterRCNN(nn.Sequential(nn.ReLU()), 3)
    with pytest.raises(TypeError, match="rpn_anchor_generator"):
        det.FasterRCNN(_Backbone(), 3, rpn_anchor_generator=object())
    with pytest.raises(TypeError, match="box_roi_pool"):
        det.FasterRCNN(_Backbone(), 3, box_roi_pool=object())
    with pytest.raises(ValueError, match="num_classes should be None"):
        det.FasterRCNN(_Backbone(), 3, box_predictor=FastRCNNPredictor(8, 3))
    with pytest.raises(ValueError, match="num_classes should not be None"):
        det.FasterRCNN(_Backbone())
    with pytest.raises(TypeError, match="mask_roi_pool"):
        det.MaskRCNN(_Backbone(), 3, mask_roi_pool=object())
    with pytest.raises(ValueError, match="num_classes should be None"):
        det.MaskRCNN(_Backbone(), 3, mask_predictor=MaskRCNNPredictor(4, 4, 3))
    predictor = FastRCNNPredictor(4, 3)
    with pytest.raises(AssertionError, match=r"\[1,1\] instead of \[2, 2\]"):
        predictor(torch.zeros(2, 4, 2, 2))
    assert [tuple(t.shape) for t in predictor(torch.zeros(2, 4, 1, 1))] == [(2, 3), (2, 12)]


def test_mask_heads_load_version_1_keys():
    """Old checkpoints name the mask head's convs mask_fcn1, mask_fcn2, ... (bare convs)."""
    source, target = MaskRCNNHeads(4, (6, 6), 2), MaskRCNNHeads(4, (6, 6), 2)
    old = {f"mask_fcn{int(k[0]) + 1}.{k.split('.')[-1]}": v + 1
           for k, v in source.state_dict().items()}
    assert sorted(old) == ["mask_fcn1.bias", "mask_fcn1.weight", "mask_fcn2.bias",
                           "mask_fcn2.weight"]
    target.load_state_dict(old)
    for k, v in source.state_dict().items():
        np.testing.assert_array_equal(target.state_dict()[k].numpy(), (v + 1).numpy())
