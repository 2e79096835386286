"""python -m cadenza.compat resolves torchvision[.x] to cadenza.vision[.x]."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SCRIPT = """
import torchvision
import torchvision.transforms as T
from torchvision import datasets, models
from torchvision.transforms import functional as F
from torchvision.models import resnet18
import torchvision.utils as vutils
from torchvision.ops import nms
print(torchvision.__name__, T.__name__, datasets.__name__, F.__name__, vutils.__name__)
print(resnet18.__module__, nms.__module__)
try:
    import torchvision.io_missing
except ModuleNotFoundError as e:
    print("ERR", e)
"""


def test_torchvision_resolves_to_cadenza_vision(tmp_path):
    script = tmp_path / "s.py"
    script.write_text(SCRIPT)
    r = subprocess.run([sys.executable, "-m", "cadenza.compat", str(script)], cwd=tmp_path,
                       capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, PYTHONPATH=ROOT))
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == ("cadenza.vision cadenza.vision.transforms cadenza.vision.datasets "
                        "cadenza.vision.transforms.functional cadenza.vision.utils")
    assert lines[1].startswith("cadenza.vision.models")
    assert lines[1].endswith("cadenza.vision.ops.boxes")  # as torchvision.ops.boxes.nms
    assert lines[2].startswith("ERR") and "torchvision.io_missing" in lines[2]


MODELS_SCRIPT = """
import torch
import torchvision
from torchvision.models import efficientnet_b0, EfficientNet_B0_Weights
from torchvision.models.googlenet import GoogLeNetOutputs
from torchvision.models.swin_transformer import SwinTransformer
from torchvision.models.vision_transformer import VisionTransformer
m = torchvision.models.get_model("mobilenet_v3_small", weights=None, num_classes=4)
m.eval()
with torch.no_grad():
    print(tuple(m(torch.randn(1, 3, 32, 32)).shape))
print(EfficientNet_B0_Weights.DEFAULT, GoogLeNetOutputs.__name__, SwinTransformer.__module__)
print(torchvision.models.get_model_weights("resnet50").DEFAULT)
"""


def test_torchvision_models_through_compat(tmp_path):
    script = tmp_path / "m.py"
    script.write_text(MODELS_SCRIPT)
    r = subprocess.run([sys.executable, "-m", "cadenza.compat", str(script)], cwd=tmp_path,
                       capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, PYTHONPATH=ROOT))
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.splitlines() == [
        "(1, 4)", "EfficientNet_B0_Weights.IMAGENET1K_V1 GoogLeNetOutputs "
        "cadenza.vision.models.swin_transformer", "ResNet50_Weights.IMAGENET1K_V2"]


V2_SCRIPT = """
import torch
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F
import torchvision.models.segmentation as seg
img = tv_tensors.Image(torch.arange(3 * 20 * 30).reshape(3, 20, 30).remainder(251).to(torch.uint8))
boxes = tv_tensors.BoundingBoxes([[2, 3, 12, 15], [20, 5, 29, 19], [0, 0, 1, 1]], format="XYXY",
                                 canvas_size=(20, 30))
masks = tv_tensors.Mask(torch.zeros(3, 20, 30, dtype=torch.uint8))
target = {"boxes": boxes, "masks": masks, "labels": torch.tensor([1, 2, 3])}
t = v2.Compose([v2.Resize((40, 60)), v2.RandomHorizontalFlip(p=1.0), v2.CenterCrop(36),
                v2.ToDtype(torch.float32, scale=True), v2.SanitizeBoundingBoxes(min_size=3)])
out_img, out_t = t(img, target)
print(type(out_img).__name__, tuple(out_img.shape), str(out_img.dtype).split(".")[-1])
print(type(out_t["boxes"]).__name__, out_t["boxes"].tolist(), out_t["boxes"].canvas_size)
print(out_t["labels"].tolist(), tuple(out_t["masks"].shape), type(out_t["masks"]).__name__)
print(F.convert_bounding_box_format(out_t["boxes"], new_format="CXCYWH").tolist())
print(type(out_img + 1).__name__, type(out_t["boxes"].clone()).__name__)
m = seg.lraspp_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=3).eval()
with torch.no_grad():
    print(tuple(m(out_img[None])["out"].shape))
"""
# the output of V2_SCRIPT with torch 2.13 + torchvision 0.28
V2_EXPECTED = ["Image (3, 36, 36) float32",
               "BoundingBoxes [[24, 4, 36, 28], [0, 8, 8, 36]] (36, 36)",
               "[1, 2] (2, 36, 36) Mask", "[[30, 16, 12, 24], [4, 22, 8, 28]]",
               "Tensor BoundingBoxes", "(1, 3, 36, 36)"]


def test_tv_tensors_v2_and_segmentation_through_compat(tmp_path):
    script = tmp_path / "d.py"
    script.write_text(V2_SCRIPT)
    r = subprocess.run([sys.executable, "-m", "cadenza.compat", str(script)], cwd=tmp_path,
                       capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, PYTHONPATH=ROOT))
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.splitlines() == V2_EXPECTED
