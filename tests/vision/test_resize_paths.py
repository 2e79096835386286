"""Antialiased resize of uint8 image tensors equals torch's uint8 kernel bit for bit (torchvision
resizes uint8 tensors with it), and the torchvision submodule paths scripts import from exist."""
import importlib

import numpy as np
import pytest

import cadenza
from cadenza.vision.transforms import functional as F
from cadenza.vision.transforms import v2

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
def test_uint8_antialiased_resize_matches_torch(mode):
    rs = np.random.RandomState(0)
    for h, w, oh, ow in [(32, 32, 28, 28), (40, 30, 17, 23), (20, 20, 31, 27), (9, 33, 9, 8)]:
        a = rs.randint(0, 256, (3, h, w)).astype(np.uint8)
        want = torch.nn.functional.interpolate(torch.from_numpy(a)[None], size=(oh, ow),
                                               mode=mode, antialias=True,
                                               align_corners=False)[0].numpy()
        got = F.resize(cadenza.from_numpy(a), [oh, ow], interpolation=F.InterpolationMode(mode),
                       antialias=True)
        assert got.dtype == cadenza.uint8
        np.testing.assert_array_equal(got.numpy(), want)
        got_v2 = v2.Resize((oh, ow), interpolation=F.InterpolationMode(mode),
                           antialias=True)(cadenza.from_numpy(a))
        np.testing.assert_array_equal(got_v2.numpy(), want)


SUBMODULES = {
    "models.segmentation.deeplabv3": ["DeepLabV3", "DeepLabHead", "ASPP"],
    "models.segmentation.fcn": ["FCN", "FCNHead", "fcn_resnet50"],
    "models.segmentation.lraspp": ["LRASPP", "lraspp_mobilenet_v3_large"],
    "models.mobilenet": ["mobilenet_v2", "mobilenet_v3_small", "MobileNetV3"],
    "ops.focal_loss": ["sigmoid_focal_loss"], "ops.giou_loss": ["generalized_box_iou_loss"],
    "ops.diou_loss": ["distance_box_iou_loss"], "ops.ciou_loss": ["complete_box_iou_loss"],
    "ops.roi_align": ["roi_align", "RoIAlign"], "ops.roi_pool": ["roi_pool", "RoIPool"],
    "ops.ps_roi_align": ["ps_roi_align"], "ops.ps_roi_pool": ["ps_roi_pool"],
    "ops.stochastic_depth": ["stochastic_depth", "StochasticDepth"],
    "datasets.voc": ["VOCSegmentation", "VOCDetection"], "datasets.celeba": ["CelebA"],
    "datasets.stl10": ["STL10"], "datasets.flowers102": ["Flowers102"],
    "datasets.oxford_iiit_pet": ["OxfordIIITPet"],
}


@pytest.mark.parametrize("path", sorted(SUBMODULES))
def test_torchvision_submodule_paths(path):
    mod = importlib.import_module("cadenza.vision." + path)
    parent = importlib.import_module("cadenza.vision." + path.split(".")[0])
    for name in SUBMODULES[path]:
        assert name in mod.__all__
        # the same object as the package-level name (torchvision re-exports them too)
        assert getattr(mod, name) is getattr(parent, name, getattr(mod, name))
