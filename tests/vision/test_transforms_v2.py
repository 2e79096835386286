"""transforms.v2 for images: the same results as the v1 transforms on the image leaf of any
input structure, labels and other leaves untouched; ToImage/ToDtype; MixUp/CutMix."""
import numpy as np
import pytest

import cadenza as torch
from cadenza.vision import transforms as T
from cadenza.vision.transforms import v2

Image = pytest.importorskip("PIL.Image")


def _pil():
    rs = np.random.RandomState(0)
    return Image.fromarray(rs.randint(0, 256, (20, 26, 3)).astype(np.uint8))


@pytest.mark.parametrize("make", [
    lambda M: M.Resize(12), lambda M: M.CenterCrop(9), lambda M: M.Grayscale(3),
    lambda M: M.Pad(2, fill=7), lambda M: M.RandomHorizontalFlip(1.0),
    lambda M: M.GaussianBlur(3, 1.0), lambda M: M.RandomInvert(1.0)])
def test_v2_equals_v1_on_images(make):
    img = _pil()
    np.testing.assert_array_equal(np.asarray(make(v2)(img)), np.asarray(make(T)(img)))
    t = torch.from_numpy(np.asarray(img).transpose(2, 0, 1).copy())
    # uint8 tensors: v2 resizes with torch's uint8 kernel, v1 in float32 (as torchvision): the
    # two round differently by one in places
    got, want = make(v2)(t).numpy().astype(int), make(T)(t).numpy().astype(int)
    assert np.abs(got - want).max() <= 1


def test_structures_pass_labels_through():
    img = _pil()
    t = v2.Compose([v2.ToImage(), v2.ToDtype(torch.float32, scale=True), v2.CenterCrop(10)])
    out, label = t(img, 3)
    assert tuple(out.shape) == (3, 10, 10) and label == 3
    d = t({"image": img, "label": torch.tensor(4), "name": "x"})
    assert tuple(d["image"].shape) == (3, 10, 10) and int(d["label"]) == 4 and d["name"] == "x"
    pair = t([img, 7])
    assert isinstance(pair, list) and pair[1] == 7
    # with pure tensors only the first tensor leaf is the image
    a, b = v2.CenterCrop(4)(torch.ones(3, 8, 8), torch.ones(3, 8, 8))
    assert tuple(a.shape) == (3, 4, 4) and tuple(b.shape) == (3, 8, 8)


def test_random_params_follow_the_seed():
    img = _pil()
    t = v2.Compose([v2.RandomResizedCrop(12), v2.RandomHorizontalFlip(), v2.ColorJitter(0.3, 0.3),
                    v2.RandomRotation(10), v2.TrivialAugmentWide()])
    outs = []
    for _ in range(2):
        torch.manual_seed(5)
        outs.append([np.asarray(t(img)) for _ in range(4)])
    for a, b in zip(*outs):
        np.testing.assert_array_equal(a, b)


def test_to_image_and_to_dtype():
    img = _pil()
    t = v2.ToImage()(img)
    assert t.dtype is torch.uint8 and tuple(t.shape) == (3, 20, 26)
    np.testing.assert_array_equal(t.numpy(), np.asarray(img).transpose(2, 0, 1))
    arr = v2.ToImage()(np.asarray(img))
    np.testing.assert_array_equal(arr.numpy(), t.numpy())
    f = v2.ToDtype(torch.float32, scale=True)(t)
    np.testing.assert_allclose(f.numpy(), t.numpy() / 255.0, atol=1e-7)
    assert v2.ToDtype(torch.float32)(t).max() > 1
    back = v2.ToDtype(torch.uint8, scale=True)(f)
    np.testing.assert_array_equal(back.numpy(), t.numpy())
    assert v2.ToDtype({torch.Tensor: torch.float64})(t.as_subclass(torch.Tensor)).dtype is \
        torch.float64
    assert v2.ToDtype({"others": None})(t) is t
    with pytest.raises(ValueError):
        v2.ToDtype("float32")
    assert v2.functional.to_image(img).dtype is torch.uint8


def test_mixup_and_cutmix():
    torch.manual_seed(0)
    x, y = torch.rand(6, 3, 8, 8), torch.tensor([0, 1, 2, 3, 0, 1])
    for M in (v2.MixUp(alpha=0.4, num_classes=4), v2.CutMix(num_classes=4)):
        xm, ym = M(x, y)
        assert tuple(xm.shape) == tuple(x.shape) and tuple(ym.shape) == (6, 4)
        np.testing.assert_allclose(ym.sum(1).numpy(), np.ones(6), atol=1e-6)
        lam = float(ym[0, 0])     # sample 0 is class 0 mixed with sample 5 (class 1)
        assert 0.0 <= lam <= 1.0
    with pytest.raises(ValueError, match="4 dims"):
        v2.MixUp(num_classes=4)(torch.rand(3, 8, 8), y)


def test_reprs_match_torchvision():
    """repr of a pipeline and of each transform as torchvision 0.28 prints them
    (fixtures/v2_reprs.json, record_fixtures.py reprs; _v2cases.repr_cases builds both)."""
    import json
    import os
    import _v2cases
    with open(os.path.join(os.path.dirname(__file__), "fixtures", "v2_reprs.json")) as f:
        want = json.load(f)
    pipeline, each = _v2cases.repr_cases(v2, torch)
    assert repr(pipeline) == want["pipeline"]
    assert [repr(x).replace("cadenza.", "") for x in each] == want["each"]
