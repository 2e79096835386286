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
from cadenza.vision.ops import StochasticDepth

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import _model_weights as mw  # noqa: E402

REF = np.load(os.path.join(HERE, "fixtures", "models.npz"))
with open(os.path.join(HERE, "fixtures", "model_keys.json")) as f:
    KEYS = json.load(f)


@pytest.mark.parametrize("name", mw.KEY_MODELS)
def test_state_dict_keys_and_shapes_match_torchvision(name):
    with torch.device("meta"):   # keys and shapes only: no weights drawn (VGG's are 100M+)
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


# --- the families added later: EfficientNet, ViT, DenseNet, MobileNetV3, ShuffleNetV2,
# GoogLeNet, Inception v3, ResNeXt / Wide ResNet, RegNet, ConvNeXt, MNASNet
MORE = np.load(os.path.join(HERE, "fixtures", "models_more.npz"))
with open(os.path.join(HERE, "fixtures", "model_keys_more.json")) as f:
    DIGESTS = json.load(f)
SLOW = os.environ.get("CADENZA_SLOW_TESTS") == "1"


def _check_keys(name):
    with torch.device("meta"):   # keys and shapes only: no weights drawn
        sd = models.get_model(name, num_classes=10).state_dict()
    assert mw.key_digest(sd) == DIGESTS[name], (
        f"{name}: state-dict keys/shapes differ from torchvision's; first keys: "
        f"{[(k, tuple(v.shape)) for k, v in list(sd.items())[:6]]}")


@pytest.mark.filterwarnings("ignore:The default weight initialization")  # as torchvision's
@pytest.mark.parametrize("name", mw.MORE_KEY_MODELS)
def test_more_state_dict_keys_and_shapes_match_torchvision(name):
    _check_keys(name)


@pytest.mark.skipif(not SLOW, reason="large models: set CADENZA_SLOW_TESTS=1")
@pytest.mark.parametrize("name", mw.SLOW_KEY_MODELS)
def test_large_state_dict_keys_and_shapes_match_torchvision(name):
    _check_keys(name)


def _more_tol(name, mode):
    # train-mode batch norm over 4 samples at 1x1 spatial size amplifies float32 rounding
    # (see mobilenet_v2 above); the deep 1x1 tails of these nets do that
    return 3e-3 if mode == "train" else 5e-4


@pytest.mark.parametrize("name", list(mw.MORE_MODELS))
def test_more_logits_match_torchvision(name):
    model = mw.build(models, name)
    assert mw.key_digest(model.state_dict()) == DIGESTS[name]
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    model.load_state_dict({k: torch.from_numpy(a) for k, a in mw.arrays(shapes).items()},
                          strict=True)
    x = torch.from_numpy(mw.more_batch(name))
    model.eval()
    tol = _more_tol(name, "eval")
    # float32 rounding grows with the activations' scale (random weights give logits in the
    # hundreds): the absolute tolerance is relative to the largest reference value
    ref = MORE[f"{name}/eval"]
    with torch.no_grad():
        np.testing.assert_allclose(model(x).numpy(), ref, rtol=tol,
                                   atol=tol * max(1.0, float(np.abs(ref).max())))
    model.train()
    mw.no_dropout(model, (nn.Dropout, StochasticDepth))
    ys = mw.outputs(model(x))
    assert len(ys) == len([k for k in MORE.files if k.startswith(f"{name}/train")])
    tol = _more_tol(name, "train")
    for i, y in enumerate(ys):
        ref = MORE[f"{name}/train{i}"]
        np.testing.assert_allclose(y.detach().numpy(), ref, rtol=tol,
                                   atol=tol * max(1.0, float(np.abs(ref).max())),
                                   err_msg=f"{name} train output {i}")
    sd = model.state_dict()
    for key in MORE.files:
        if key.startswith(f"{name}/after_train/"):
            np.testing.assert_allclose(sd[key.split("/", 2)[2]].numpy()[:32], MORE[key],
                                       rtol=tol, atol=1e-5, err_msg=key)
    sum(y.sum() for y in ys).backward()
    assert all(p.grad is not None for p in model.parameters())


def test_stochastic_depth_and_dropout_are_active_in_train_mode():
    torch.manual_seed(0)
    model = models.efficientnet_b0(num_classes=4, stochastic_depth_prob=0.5)
    x = torch.randn(4, 3, 32, 32)
    model.train()
    a, b = model(x), model(x)
    assert not np.allclose(a.detach().numpy(), b.detach().numpy())
    model.eval()
    with torch.no_grad():
        np.testing.assert_array_equal(model(x).numpy(), model(x).numpy())


def test_googlenet_and_inception_outputs():
    g = models.googlenet(num_classes=5, init_weights=False)
    g.train()
    out = g(torch.randn(2, 3, 32, 32))
    assert type(out).__name__ == "GoogLeNetOutputs" and out.logits.shape == (2, 5)
    assert out.aux_logits1.shape == (2, 5) and out.aux_logits2.shape == (2, 5)
    g.eval()
    assert tuple(g(torch.randn(2, 3, 32, 32)).shape) == (2, 5)
    inc = models.inception_v3(num_classes=3, init_weights=False)
    assert inc.AuxLogits is not None and inc.aux_logits
    inc.eval()
    with torch.no_grad():
        assert tuple(inc(torch.randn(1, 3, 75, 75)).shape) == (1, 3)


def test_vit_checks_image_size():
    vit = models.VisionTransformer(**mw._VIT_TINY, num_classes=3)
    assert tuple(vit(torch.randn(2, 3, 32, 32)).shape) == (2, 3)
    with pytest.raises(ValueError, match="image size"):
        vit(torch.randn(2, 3, 40, 40))
    with pytest.raises(ValueError, match="indivisible"):
        models.VisionTransformer(30, 8, 1, 2, 16, 32)
    assert models.vit_b_32(image_size=64, num_classes=2).seq_length == 5


def test_builders_reject_conflicting_kwargs():
    with pytest.raises(ValueError, match="groups"):
        models.resnext50_32x4d(groups=2)
    with pytest.raises(ValueError, match="width_per_group"):
        models.wide_resnet50_2(width_per_group=64)


def test_densenet_loads_torchvision_old_style_keys(tmp_path, monkeypatch):
    """torchvision's published DenseNet files name 'norm1' as 'norm.1' (and so on)."""
    from cadenza.vision.models import _api
    monkeypatch.setattr(_api, "WEIGHTS_DIR", str(tmp_path))
    src = models.densenet121()
    old = {k.replace("norm1", "norm.1").replace("conv2", "conv.2"): v
           for k, v in src.state_dict().items() if not k.endswith("num_batches_tracked")}
    assert "features.denseblock1.denselayer1.norm.1.weight" in old
    torch.io.save_safetensors(old, str(tmp_path / "densenet121-a639ec97.safetensors"))
    m = models.densenet121(weights=models.DenseNet121_Weights.IMAGENET1K_V1)
    np.testing.assert_array_equal(
        m.features.denseblock1.denselayer1.conv2.weight.detach().numpy(),
        src.features.denseblock1.denselayer1.conv2.weight.detach().numpy())


@pytest.mark.parametrize("name", ["efficientnet_b0", "vit_b_16", "googlenet", "inception_v3",
                                  "regnet_y_400mf", "convnext_tiny", "mnasnet0_5",
                                  "shufflenet_v2_x1_0", "mobilenet_v3_large"])
def test_more_pretrained_weights_need_a_local_file(name, tmp_path, monkeypatch):
    from cadenza.vision.models import _api
    monkeypatch.setattr(_api, "WEIGHTS_DIR", str(tmp_path))
    weights_cls = models.get_model_weights(name)
    with pytest.raises(RuntimeError, match="Cadenza does not download"):
        models.get_model(name, weights="DEFAULT")
    assert weights_cls.DEFAULT.url.startswith("https://download.pytorch.org/models/")
    with pytest.raises(ValueError, match="num_classes"):
        models.get_model(name, weights=weights_cls.DEFAULT, num_classes=10)


def test_model_registry_covers_torchvision_classification():
    names = set(models.list_models())
    for n in ["efficientnet_b7", "efficientnet_v2_l", "vit_b_16", "vit_l_16", "densenet201",
              "mobilenet_v3_small", "shufflenet_v2_x2_0", "googlenet", "inception_v3",
              "resnext101_32x8d", "wide_resnet101_2", "regnet_y_400mf", "regnet_x_32gf",
              "convnext_base", "mnasnet1_3"]:
        assert n in names
    assert models.get_model_builder("ViT_B_16") is models.vit_b_16
    assert isinstance(models.get_model("mnasnet0_5", num_classes=3), models.MNASNet)
    assert models.list_models(include="efficientnet_b*") == [f"efficientnet_b{i}"
                                                             for i in range(8)]
    assert "vit_b_16" not in models.list_models(exclude="vit*")
    assert models.get_model_weights("resnet50") is models.ResNet50_Weights
    assert models.get_model_weights(models.densenet121) is models.DenseNet121_Weights
    assert models.get_weight("ResNet50_Weights.IMAGENET1K_V1") is \
        models.ResNet50_Weights.IMAGENET1K_V1
    with pytest.raises(ValueError, match="Unknown model"):
        models.get_model("resnet9000")


with open(os.path.join(HERE, "fixtures", "model_weights.json")) as f:
    WEIGHTS = json.load(f)
NOT_YET = set()


def test_every_torchvision_classification_builder_exists():
    assert set(WEIGHTS) - set(models.list_models()) == NOT_YET


@pytest.mark.parametrize("name", sorted(set(WEIGHTS) - NOT_YET))
def test_weights_enums_match_torchvision(name):
    enum_name, default, files = WEIGHTS[name]
    enum = models.get_model_weights(name)
    assert enum.__name__ == enum_name and getattr(models, enum_name) is enum
    assert enum.DEFAULT.name == default
    assert {k: v.url.rsplit("/", 1)[1] for k, v in enum.__members__.items()
            if k != "DEFAULT"} == files
    assert all(v.value.filename == os.path.splitext(files[k])[0] + ".safetensors"
               for k, v in enum.__members__.items() if k != "DEFAULT")


def test_vit_weights_fix_the_image_size(tmp_path, monkeypatch):
    from cadenza.vision.models import _api
    monkeypatch.setattr(_api, "WEIGHTS_DIR", str(tmp_path))
    with pytest.raises(ValueError, match="image_size"):
        models.vit_b_16(weights="IMAGENET1K_SWAG_E2E_V1", image_size=224)
    with pytest.raises(RuntimeError, match="vit_b_16_swag-9ac1b537.safetensors"):
        models.vit_b_16(weights="IMAGENET1K_SWAG_E2E_V1")
