"""cadenza.vision.transforms vs torchvision's recorded outputs (fixtures/transforms.npz, made by
record_fixtures.py): PIL images exactly, tensors closely."""
import os
import sys

import numpy as np
import pytest

Image = pytest.importorskip("PIL.Image")

import cadenza as torch  # noqa: E402
from cadenza.vision import transforms as T  # noqa: E402
from cadenza.vision.transforms import functional as F  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import _cases  # noqa: E402

REF = np.load(os.path.join(HERE, "fixtures", "transforms.npz"))


def _run(kind, fn, args, kw):
    img = _cases.make_input(kind, Image, torch.from_numpy)
    return getattr(F, fn)(img, *args, **_cases.resolve_kwargs(kw, F.InterpolationMode))


@pytest.mark.parametrize("name,kind,fn,args,kw", _cases.cases(), ids=[c[0] for c in _cases.cases()])
def test_matches_torchvision(name, kind, fn, args, kw):
    out = _run(kind, fn, args, kw)
    if kind.startswith("pil"):
        assert Image.isImageType(out) if hasattr(Image, "isImageType") else True
    _cases.check_against(_cases.as_array(out), REF[name], kind, fn)


def test_conversions():
    ims = _cases.inputs()
    rgb = Image.fromarray(ims["rgb"])
    np.testing.assert_array_equal(F.to_tensor(rgb).numpy(), REF["to_tensor/rgb"])
    np.testing.assert_array_equal(T.ToTensor()(Image.fromarray(ims["gray"])).numpy(),
                                  REF["to_tensor/gray"])
    np.testing.assert_array_equal(T.PILToTensor()(rgb).numpy(), REF["pil_to_tensor/rgb"])
    t = torch.from_numpy(ims["rgb"].transpose(2, 0, 1).astype(np.float32) / 255)
    np.testing.assert_array_equal(np.asarray(T.ToPILImage()(t * 0.999)), REF["to_pil_image/float"])
    np.testing.assert_allclose(T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])(t).numpy(),
                               REF["normalize"], rtol=1e-6, atol=1e-6)
    assert F.to_tensor(ims["gray"]).shape == (1, _cases.H, _cases.W)
    assert T.ToPILImage()(torch.zeros(1, 4, 5)).mode == "L"


def test_import_cadenza_does_not_load_pil():
    import subprocess
    code = ("import sys, cadenza, cadenza.vision; "
            "from cadenza.vision import transforms, datasets, models, utils, ops; "
            "print('PIL' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       cwd=os.path.dirname(os.path.dirname(HERE)), timeout=120)
    assert r.stdout.strip() == "False", r.stdout + r.stderr


def _img():
    return Image.fromarray(_cases.inputs()["rgb2"])


RANDOM = [
    lambda: T.RandomCrop(10, padding=2),
    lambda: T.RandomCrop(30, pad_if_needed=True, padding_mode="reflect"),
    lambda: T.RandomResizedCrop(12),
    lambda: T.RandomHorizontalFlip(),
    lambda: T.RandomVerticalFlip(),
    lambda: T.RandomRotation(25),
    lambda: T.ColorJitter(0.4, 0.4, 0.4, 0.1),
    lambda: T.RandomApply([T.ColorJitter(0.5), T.Grayscale(3)], p=0.5),
]


@pytest.mark.parametrize("make", RANDOM)
@pytest.mark.parametrize("as_tensor", [False, True])
def test_random_transforms_follow_the_seed(make, as_tensor):
    t = make()
    img = _img()
    if as_tensor:
        img = F.to_tensor(img)
    outs = []
    for _ in range(2):
        torch.manual_seed(3)
        outs.append([_cases.as_array(t(img)) for _ in range(6)])
    for a, b in zip(*outs):
        np.testing.assert_array_equal(a, b)
    shapes_or_values = {a.tobytes() for a in outs[0]}
    assert len(shapes_or_values) > 1, "six draws gave the same output"


def test_random_transforms_use_the_functional_ops():
    img = _img()
    torch.manual_seed(5)
    i, j, h, w = T.RandomResizedCrop.get_params(img, (0.08, 1.0), (3 / 4, 4 / 3))
    torch.manual_seed(5)
    out = T.RandomResizedCrop(9)(img)
    np.testing.assert_array_equal(np.asarray(out),
                                  np.asarray(F.resized_crop(img, i, j, h, w, [9, 9])))
    torch.manual_seed(6)
    angle = T.RandomRotation.get_params([-30.0, 30.0])
    torch.manual_seed(6)
    np.testing.assert_array_equal(np.asarray(T.RandomRotation(30)(img)),
                                  np.asarray(F.rotate(img, angle)))
    torch.manual_seed(8)
    fn_idx, b, c, s, hh = T.ColorJitter.get_params((0.5, 1.5), (0.6, 1.4), None, (-0.1, 0.1))
    assert sorted(fn_idx.tolist()) == [0, 1, 2, 3] and s is None
    assert 0.5 <= b <= 1.5 and 0.6 <= c <= 1.4 and -0.1 <= hh <= 0.1


def test_compose_lambda_and_errors():
    t = T.Compose([T.Resize(8), T.CenterCrop(8), T.ToTensor(), T.Lambda(lambda x: x * 2)])
    out = t(_img())
    assert tuple(out.shape) == (3, 8, 8) and float(out.max()) <= 2.0
    assert "Resize" in repr(t)
    with pytest.raises(TypeError, match="PIL Image or a Tensor"):
        F.hflip([1, 2, 3])
    with pytest.raises(ValueError, match="hue_factor"):
        F.adjust_hue(_img(), 0.7)
    with pytest.raises(TypeError, match="float tensor"):
        F.normalize(torch.zeros(3, 2, 2, dtype=torch.uint8), [0.5] * 3, [0.5] * 3)
    with pytest.raises(ValueError, match="larger than the input"):
        T.RandomCrop(40)(_img())
    with pytest.raises(ValueError, match="padding"):
        F.pad(_img(), [1, 2, 3])


def test_batched_tensor_transforms():
    x = torch.rand(4, 3, 17, 23)
    out = F.resize(x, [8, 9])
    assert tuple(out.shape) == (4, 3, 8, 9)
    np.testing.assert_allclose(out[2].numpy(), F.resize(x[2], [8, 9]).numpy(), atol=1e-6)
    assert tuple(F.hflip(x).shape) == (4, 3, 17, 23)
    np.testing.assert_array_equal(F.hflip(x).numpy(), x.numpy()[..., ::-1])


@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
@pytest.mark.parametrize("size", [[9, 13], [30, 41]])
def test_tensor_resize_without_antialias_is_interpolate(mode, size):
    """antialias=False on tensors is plain interpolation, as torchvision (torch's interpolate)."""
    real_torch = pytest.importorskip("torch")
    x = np.random.RandomState(0).rand(2, 3, 17, 23).astype(np.float32)
    got = F.resize(torch.from_numpy(x), size, F.InterpolationMode(mode), antialias=False)
    ref = real_torch.nn.functional.interpolate(real_torch.from_numpy(x), size=size, mode=mode,
                                               align_corners=False)
    np.testing.assert_allclose(got.numpy(), ref.numpy(), rtol=1e-5, atol=1e-5)
