"""``weights.transforms()`` (torchvision's inference presets) and the documented metadata of the
weights entries (``num_params``, ``min_size``): sums recorded from torchvision 0.28 on the
same inputs; the recorded parameter counts equal those of Cadenza's own builders."""
import numpy as np
import pytest

import cadenza as torch
from cadenza.vision import models
from cadenza.vision.transforms import InterpolationMode

Image = pytest.importorskip("PIL.Image")

# weights entry -> (output shape on the PIL image, sum on it, sum on the float tensor,
# num_params, min_size), from torchvision 0.28
RECORDED = {
    "RegNet_Y_400MF_Weights.IMAGENET1K_V2":
        ((3, 224, 224), 32999.930666710716, 32933.08710305321, 4344144, (1, 1)),
    "EfficientNet_B3_Weights.IMAGENET1K_V1":
        ((3, 300, 300), 59130.583862191066, 60040.57802329316, 12233232, (1, 1)),
    "ViT_B_16_Weights.IMAGENET1K_SWAG_E2E_V1":
        ((3, 384, 384), 96527.8316902779, 95435.09506236919, 86859496, (384, 384)),
    "LRASPP_MobileNet_V3_Large_Weights.COCO_WITH_VOC_LABELS_V1":
        ((3, 520, 668), 235140.21798284492, 225740.97698330463, 3221538, (1, 1)),
    "FasterRCNN_ResNet50_FPN_Weights.COCO_V1":
        ((3, 70, 90), 9444.890384102706, 9406.783604333337, 41755286, (1, 1)),
}


def _inputs():
    rs = np.random.RandomState(0)
    pil = Image.fromarray(rs.randint(0, 256, (70, 90, 3)).astype(np.uint8))
    return pil, torch.from_numpy(rs.rand(3, 70, 90).astype(np.float32))


@pytest.mark.parametrize("name", sorted(RECORDED))
def test_preset_and_meta_match_torchvision(name):
    shape, pil_sum, float_sum, num_params, min_size = RECORDED[name]
    weights = models.get_weight(name)
    preset = weights.transforms()
    pil, f = _inputs()
    a, b = preset(pil), preset(f)
    assert tuple(a.shape) == shape and a.dtype == torch.float32
    # PIL resizes bit-identically to torchvision; the float tensor path is float32 rounding
    assert abs(a.double().sum().item() - pil_sum) < 1e-6 * abs(pil_sum) + 1e-3
    assert abs(b.double().sum().item() - float_sum) < 1e-5 * abs(float_sum)
    assert weights.meta["num_params"] == num_params and weights.meta["min_size"] == min_size


def test_preset_options_and_repr():
    weights = models.RegNet_Y_400MF_Weights.IMAGENET1K_V2
    _, f = _inputs()
    # antialias=False is passed through (torchvision: 32933.08761209465)
    no_aa = weights.transforms(antialias=False)(f).double().sum().item()
    assert abs(no_aa - 32933.08761209465) < 0.5
    preset = models.get_model_weights("efficientnet_b3").DEFAULT.transforms()
    assert preset.crop_size == [300] and preset.resize_size == [320]
    assert preset.interpolation == InterpolationMode.BICUBIC
    assert "crop_size=[300]" in repr(preset) and "resize_size=[320]" in preset.describe()
    assert models.ResNet50_Weights.DEFAULT.transforms().resize_size == [232]


@pytest.mark.parametrize("name", ["shufflenet_v2_x0_5", "regnet_y_400mf"])
def test_num_params_of_our_builders(name):
    model = models.get_model(name, weights=None)
    count = sum(p.numel() for p in model.parameters())
    assert count == models.get_model_weights(name).DEFAULT.meta["num_params"]
