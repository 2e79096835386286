"""The augmentation functions (invert, posterize, solarize, sharpness, autocontrast, equalize,
gamma, gaussian blur, affine, five/ten crop) vs torchvision's recorded outputs
(fixtures/augment.npz, tests/vision/record_fixtures.py augment), and the transform classes
built on them (RandomErasing ... AutoAugment, RandAugment, TrivialAugmentWide)."""
import os
import sys

import numpy as np
import pytest

import cadenza as torch
from cadenza.vision import transforms as T
from cadenza.vision.transforms import functional as F

Image = pytest.importorskip("PIL.Image")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import _cases  # noqa: E402

REF = np.load(os.path.join(HERE, "fixtures", "augment.npz"))
CASES = _cases.augment_cases()


def _img(kind):
    return _cases.make_input(kind, Image, torch.from_numpy)


@pytest.mark.parametrize("name,kind,fn,args,kw", CASES, ids=[c[0] for c in CASES])
def test_matches_torchvision(name, kind, fn, args, kw):
    out = getattr(F, fn)(_img(kind), *args, **_cases.resolve_kwargs(kw, F.InterpolationMode))
    _cases.check_against(_cases.as_array(out), REF[name], kind, fn)


def test_functional_errors():
    t = _img("t_float")
    with pytest.raises(TypeError, match="uint8"):
        F.posterize(t, 3)
    with pytest.raises(ValueError, match="bits"):
        F.posterize(_img("t_uint8"), 9)
    with pytest.raises(ValueError, match="odd"):
        F.gaussian_blur(t, 4)
    with pytest.raises(ValueError, match="positive"):
        F.gaussian_blur(t, 3, -1.0)
    with pytest.raises(ValueError, match="bigger"):
        F.five_crop(t, 100)
    with pytest.raises(TypeError, match="Tensor"):
        F.erase(_img("pil_rgb"), 0, 0, 2, 2, 0)


def test_erase_and_random_erasing():
    t = torch.ones(3, 10, 12)
    out = F.erase(t, 2, 3, 4, 5, torch.zeros(3, 1, 1))
    assert float(out[:, 2:6, 3:8].sum()) == 0 and float(out.sum()) == 3 * 120 - 3 * 20
    assert float(t.sum()) == 360                     # not in place by default
    torch.manual_seed(0)
    erased = T.RandomErasing(p=1.0, value="random")(t)
    assert float((erased != 1).float().mean()) > 0
    torch.manual_seed(0)
    e2 = T.RandomErasing(p=1.0, value=(0.1, 0.2, 0.3), scale=(0.1, 0.2))(t)
    changed = (e2 != 1).any(0)
    assert 0.1 * 120 * 0.5 <= int(changed.sum()) <= 0.2 * 120 * 1.5
    assert T.RandomErasing(p=0.0)(t) is t
    with pytest.raises(ValueError):
        T.RandomErasing(scale=(0.5, 0.1))


@pytest.mark.parametrize("make", [
    lambda: T.GaussianBlur(3, (0.5, 1.0)), lambda: T.RandomAffine(20, (0.1, 0.1), (0.9, 1.1), 5),
    lambda: T.RandomAffine(0, shear=(-5, 5, -5, 5)), lambda: T.RandomGrayscale(1.0),
    lambda: T.RandomInvert(0.5), lambda: T.RandomPosterize(4, p=1.0),
    lambda: T.RandomSolarize(128, p=1.0), lambda: T.RandomAdjustSharpness(2, p=1.0),
    lambda: T.RandomAutocontrast(p=1.0), lambda: T.RandomEqualize(p=1.0),
    lambda: T.AutoAugment(T.AutoAugmentPolicy.CIFAR10),
    lambda: T.AutoAugment(T.AutoAugmentPolicy.IMAGENET),
    lambda: T.AutoAugment(T.AutoAugmentPolicy.SVHN), lambda: T.RandAugment(),
    lambda: T.TrivialAugmentWide(),
    lambda: T.RandomChoice([T.RandomHorizontalFlip(1.0), T.RandomVerticalFlip(1.0)], [0.5, 0.5]),
    lambda: T.RandomOrder([T.RandomHorizontalFlip(1.0), T.RandomInvert(1.0)])])
@pytest.mark.parametrize("kind", ["pil_rgb", "t_uint8"])
def test_random_transforms_keep_type_and_follow_the_seed(make, kind):
    outs = []
    for _ in range(2):
        torch.manual_seed(3)
        t = make()
        outs.append([_cases.as_array(t(_img(kind))) for _ in range(5)])
        res = t(_img(kind))
        assert isinstance(res, Image.Image if kind == "pil_rgb" else torch.Tensor)
    for a, b in zip(*outs):
        np.testing.assert_array_equal(a, b)
    assert repr(make())


def test_random_ops_are_the_functional_ops_at_p1():
    img = _img("pil_rgb")
    np.testing.assert_array_equal(np.asarray(T.RandomPosterize(3, p=1.0)(img)),
                                  np.asarray(F.posterize(img, 3)))
    np.testing.assert_array_equal(np.asarray(T.RandomGrayscale(1.0)(img)),
                                  np.asarray(F.rgb_to_grayscale(img, 3)))
    crops = T.TenCrop(6)(img)
    assert len(crops) == 10 and crops[0].size == (6, 6)
    assert len(T.FiveCrop((4, 5))(_img("t_float"))) == 5


def test_autoaugment_policies_cover_every_op():
    torch.manual_seed(0)
    img = _img("t_uint8")
    for policy in T.AutoAugmentPolicy:
        aa = T.AutoAugment(policy)
        assert len(aa.policies) == 25
        for _ in range(20):
            out = aa(img)
            assert out.dtype is torch.uint8 and tuple(out.shape) == tuple(img.shape)
    ta = T.TrivialAugmentWide()
    for _ in range(30):
        ta(_img("pil_rgb"))


def test_linear_transformation_whitens():
    x = torch.rand(3, 2, 2)
    m = torch.eye(12) * 2.0
    mean = torch.full((12,), 0.5)
    out = T.LinearTransformation(m, mean)(x)
    np.testing.assert_allclose(out.numpy(), ((x.reshape(-1) - 0.5) * 2).reshape(3, 2, 2).numpy(),
                               atol=1e-6)
    with pytest.raises(ValueError, match="square"):
        T.LinearTransformation(torch.ones(3, 4), torch.ones(3))
