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
    assert lines[1].startswith("cadenza.vision.models") and lines[1].endswith("cadenza.vision.ops")
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
