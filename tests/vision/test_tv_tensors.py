"""tv_tensors and transforms.v2 on boxes, masks and images, against torchvision 0.28's outputs
recorded by record_fixtures.py (``record_v2``: fixtures/v2.npz, v2_params.json)."""
import copy
import json
import os
import pickle
import types

import numpy as np
import pytest

import cadenza as torch
from cadenza.vision import tv_tensors
from cadenza.vision.transforms import v2

import _v2cases as c

pytest.importorskip("PIL.Image")

HERE = os.path.dirname(os.path.abspath(__file__))
FIX = np.load(os.path.join(HERE, "fixtures", "v2.npz"))
with open(os.path.join(HERE, "fixtures", "v2_params.json")) as f:
    PARAMS = json.load(f)
LIB = types.SimpleNamespace(tv_tensors=tv_tensors, F=v2.functional, T=v2)


@pytest.fixture(scope="module")
def ours():
    return c.run_functionals(LIB, torch)


def _plain(x):
    return x.as_subclass(torch.Tensor).numpy()


def _close(name, got, want):
    assert got.shape == want.shape, (name, got.shape, want.shape)
    assert got.dtype == want.dtype, (name, got.dtype, want.dtype)
    if np.issubdtype(want.dtype, np.floating):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4, err_msg=name)
    else:
        np.testing.assert_array_equal(got, want, err_msg=name)


BOX_KEYS = sorted(k for k in FIX.files if "/boxes/" in k and not k.startswith(("random/",
                                                                                 "pipeline/")))
OTHER_KEYS = sorted(k for k in FIX.files if k.startswith(("convert/", "clamp/", "sanitize/")))


@pytest.mark.parametrize("key", BOX_KEYS + OTHER_KEYS)
def test_box_functionals_match_torchvision(ours, key):
    _close(key, np.asarray(ours[key]), FIX[key])


MASK_KEYS = sorted(k for k in FIX.files if k.endswith(("/mask2", "/mask3")))


@pytest.mark.parametrize("key", MASK_KEYS)
def test_mask_functionals_match_torchvision(ours, key):
    _close(key, np.asarray(ours[key]), FIX[key])


IMAGE_KEYS = sorted(k for k in FIX.files if "/image/" in k)


@pytest.mark.parametrize("key", IMAGE_KEYS)
def test_grid_warps_match_torchvision(ours, key):
    _close(key, np.asarray(ours[key]), FIX[key])


RESIZING = ("RandomResizedCrop", "ScaleJitter", "RandomShortestSize")


@pytest.mark.parametrize("name", [n for n, _ in c.RANDOM])
def test_random_transforms_replay_torchvision_params(name):
    """torchvision's transform() of the sample with the parameters it drew; Cadenza's
    transform() with the same parameters gives the same image, boxes (and canvas) and masks."""
    t = dict(c.RANDOM)[name](v2)
    params = c.params_from_json(PARAMS[name], torch)
    if name == "ElasticTransform":
        params = {"displacement": torch.from_numpy(FIX[f"random/{name}/displacement"])}
    smp = c.sample(LIB, torch)
    for key, x in smp.items():
        if key == "labels":
            continue
        y = t.transform(x, params)
        assert type(y) is type(x), (name, key, type(y))
        want = FIX[f"random/{name}/{key}"]
        got = _plain(y)
        if key == "boxes":
            assert tuple(y.canvas_size) == tuple(FIX[f"random/{name}/boxes/canvas"])
            _close(f"{name}/boxes", got, want)
            continue
        assert got.shape == want.shape, (name, key, got.shape, want.shape)
        if key == "image" and name in RESIZING:
            # uint8 tensor resize (Pillow per channel) vs torchvision's kernel: within 1
            assert np.abs(got.astype(int) - want.astype(int)).max() <= 1, name
        else:
            np.testing.assert_array_equal(got, want, err_msg=f"{name}/{key}")


def test_pipeline_over_a_sample_matches_torchvision():
    res = c.pipeline(v2)(c.sample(LIB, torch))
    assert isinstance(res["image"], tv_tensors.Image)
    assert isinstance(res["masks"], tv_tensors.Mask)
    assert res["boxes"].format is tv_tensors.BoundingBoxFormat.CXCYWH
    assert tuple(res["boxes"].canvas_size) == tuple(FIX["pipeline/boxes/canvas"])
    for key in ("boxes", "masks", "labels"):
        _close(key, _plain(res[key]), FIX[f"pipeline/{key}"])
    diff = np.abs(_plain(res["image"]).astype(int) - FIX["pipeline/image"].astype(int))
    assert diff.max() <= 1


def test_random_pipeline_keeps_boxes_on_the_image():
    """Random geometry moves a one-box mask and its box together: the box stays the mask's
    bounding box (up to a pixel of rounding)."""
    m = np.zeros((40, 50), np.uint8)
    m[10:25, 12:30] = 1
    sample = {"image": tv_tensors.Image(torch.from_numpy(np.stack([m * 200] * 3))),
              "boxes": tv_tensors.BoundingBoxes([[12, 10, 30, 25]], format="XYXY",
                                                canvas_size=(40, 50), dtype=torch.float32),
              "masks": tv_tensors.Mask(torch.from_numpy(m[None].copy()))}
    t = v2.Compose([v2.RandomHorizontalFlip(), v2.RandomVerticalFlip(), v2.RandomZoomOut(
        p=1.0, side_range=(1.0, 1.5)), v2.RandomCrop((36, 44), pad_if_needed=True),
        v2.Resize(30), v2.RandomRotation([90, 90], expand=True)])
    for seed in range(5):
        torch.manual_seed(seed)
        out = t(sample)
        mm = _plain(out["masks"])[0]
        ys, xs = np.nonzero(mm)
        box = _plain(out["boxes"])[0]
        assert tuple(out["boxes"].canvas_size) == tuple(mm.shape)
        np.testing.assert_allclose(box, [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1],
                                   atol=1.01)


def test_tv_tensor_types_metadata_and_return_type():
    b = tv_tensors.BoundingBoxes([[1, 2, 10, 12], [0, 0, 3, 3]], format="xywh",
                                 canvas_size=(20, 30))
    assert b.format is tv_tensors.BoundingBoxFormat.XYWH and b.clamping_mode == "soft"
    assert type(b + 1) is torch.Tensor and type(b[0]) is torch.Tensor
    for kept in (b.clone(), b.to(torch.float32), b.detach(), b.requires_grad_(False)):
        assert type(kept) is tv_tensors.BoundingBoxes and kept.canvas_size == (20, 30)
    assert type(b.clone().add_(1)) is torch.Tensor     # in-place methods unwrap, as torchvision
    with tv_tensors.set_return_type("TVTensor"):
        doubled = b * 2
        assert type(doubled) is tv_tensors.BoundingBoxes and doubled.format == b.format
        assert all(type(p) is tv_tensors.BoundingBoxes for p in b.unbind(0))
    assert type(b * 2) is torch.Tensor
    tv_tensors.set_return_type("tvtensor")
    try:
        assert type(tv_tensors.Image(torch.zeros(3, 2, 2)).float()) is tv_tensors.Image
    finally:
        tv_tensors.set_return_type("Tensor")
    with pytest.raises(ValueError, match="return_type"):
        tv_tensors.set_return_type("numpy")
    assert tuple(tv_tensors.Image(torch.zeros(4, 5)).shape) == (1, 4, 5)
    with pytest.raises(ValueError, match="2D or higher"):
        tv_tensors.Image(torch.zeros(3))
    with pytest.raises(ValueError, match="4D or higher"):
        tv_tensors.Video(torch.zeros(3, 4, 5))
    with pytest.raises(ValueError, match="1D or 2D"):
        tv_tensors.BoundingBoxes(torch.zeros(1, 2, 4), format="XYXY", canvas_size=(2, 2))
    with pytest.raises(ValueError, match="clamping_mode"):
        tv_tensors.BoundingBoxes([0, 0, 1, 1], format="XYXY", canvas_size=(2, 2),
                                 clamping_mode="x")
    with pytest.raises(ValueError, match="floating point"):
        tv_tensors.BoundingBoxes([[0, 0, 1, 1, 0]], format="XYWHR", canvas_size=(2, 2))
    w = tv_tensors.wrap(torch.ones(1, 4), like=b, canvas_size=(5, 6))
    assert type(w) is tv_tensors.BoundingBoxes and w.canvas_size == (5, 6) and w.format == b.format
    for copied in (copy.deepcopy(b), pickle.loads(pickle.dumps(b))):
        assert type(copied) is tv_tensors.BoundingBoxes and copied.canvas_size == (20, 30)
        np.testing.assert_array_equal(_plain(copied), _plain(b))
    assert repr(b).startswith("BoundingBoxes([[ 1,  2, 10, 12],\n               [ 0,")
    assert repr(b).endswith("format=BoundingBoxFormat.XYWH, canvas_size=(20, 30), "
                            "clamping_mode=soft)")
    Image = pytest.importorskip("PIL.Image")
    pil = Image.fromarray(np.arange(12, dtype=np.uint8).reshape(3, 4))
    assert tuple(tv_tensors.Image(pil).shape) == (1, 3, 4)
    assert tuple(tv_tensors.Mask(pil).shape) == (1, 3, 4)


def test_pure_tensor_rule_and_passthrough():
    img = tv_tensors.Image(torch.zeros(3, 8, 8))
    extra = torch.zeros(3, 8, 8)
    a, b = v2.CenterCrop(4)(img, extra)
    assert tuple(a.shape) == (3, 4, 4) and tuple(b.shape) == (3, 8, 8)   # Image present
    a, b = v2.CenterCrop(4)(torch.zeros(3, 8, 8), torch.zeros(3, 8, 8))
    assert tuple(a.shape) == (3, 4, 4) and tuple(b.shape) == (3, 8, 8)   # first pure tensor
    m = tv_tensors.Mask(torch.ones(8, 8, dtype=torch.uint8))
    bx = tv_tensors.BoundingBoxes([[1, 1, 4, 4]], format="XYXY", canvas_size=(8, 8))
    out = v2.ColorJitter(brightness=0.5)(img, m, bx)        # colour: masks/boxes untouched
    assert out[1] is m and out[2] is bx
    with pytest.raises(ValueError, match="multiple HxW"):
        v2.RandomResizedCrop(4)(img, tv_tensors.Mask(torch.ones(5, 5)))
    with pytest.raises(TypeError, match="bounding boxes"):
        v2.RandomIoUCrop()(img)


def test_to_dtype_dict_and_sanitize_labels():
    smp = c.sample(LIB, torch)
    out = v2.ToDtype({tv_tensors.Image: torch.float32, tv_tensors.Mask: torch.int64,
                      "others": None}, scale=True)(smp)
    assert out["image"].dtype is torch.float32 and float(out["image"].max()) <= 1.0
    assert out["masks"].dtype is torch.int64 and out["boxes"].dtype is torch.float32
    with pytest.raises(ValueError, match="No dtype was specified"):
        v2.ToDtype({tv_tensors.Image: torch.float32})(smp)
    smp["boxes"] = tv_tensors.BoundingBoxes([[0, 0, 5, 5], [3, 3, 3.5, 9], [40, 0, 45, 5],
                                             [2, 2, 9, 9], [1, 1, 1, 1]], format="XYXY",
                                            canvas_size=(c.H, c.W))
    out = v2.SanitizeBoundingBoxes()(smp)
    np.testing.assert_array_equal(out["labels"].numpy(), [0, 3])
    assert tuple(out["masks"].shape) == (2, c.H, c.W) and tuple(out["boxes"].shape) == (2, 4)
    img, target = v2.SanitizeBoundingBoxes()(smp["image"], {"boxes": smp["boxes"],
                                                            "labels": smp["labels"]})
    assert tuple(target["labels"].shape) == (2,)
    with pytest.raises(ValueError, match="min_size"):
        v2.SanitizeBoundingBoxes(min_size=0.5)
    with pytest.raises(ValueError, match="labels"):
        v2.SanitizeBoundingBoxes()({"boxes": smp["boxes"]})


def test_clamping_mode_none_and_set_clamping_mode():
    b = tv_tensors.BoundingBoxes([[-5.0, -5.0, 40.0, 30.0]], format="XYXY", canvas_size=(20, 30),
                                 clamping_mode=None)
    np.testing.assert_array_equal(_plain(v2.functional.crop(b, 2, 3, 10, 10)),
                                  [[-8, -7, 37, 28]])
    np.testing.assert_array_equal(_plain(v2.ClampBoundingBoxes("hard")(b)), [[0, 0, 30, 20]])
    s = v2.SetClampingMode("soft")(b)
    assert s.clamping_mode == "soft" and b.clamping_mode is None
    np.testing.assert_array_equal(_plain(v2.functional.crop(s, 2, 3, 10, 10)),
                                  [[0, 0, 10, 10]])
    with pytest.raises(ValueError, match="rotated"):
        v2.functional.horizontal_flip(tv_tensors.BoundingBoxes(
            [[1.0, 1.0, 2.0, 2.0, 30.0]], format="XYWHR", canvas_size=(5, 5)))


def test_v2_only_transforms():
    torch.manual_seed(0)
    img = tv_tensors.Image(torch.from_numpy(c.image()))
    perm = v2.RandomChannelPermutation()
    out = perm(img)
    assert type(out) is tv_tensors.Image
    assert sorted(_plain(out)[:, 0, 0].tolist()) == sorted(c.image()[:, 0, 0].tolist())
    np.testing.assert_array_equal(_plain(v2.functional.permute_channels(img, [2, 0, 1])),
                                  c.image()[[2, 0, 1]])
    f = v2.ToDtype(torch.float32, scale=True)(img)
    noisy = v2.GaussianNoise(sigma=0.05)(f)
    assert type(noisy) is tv_tensors.Image and 0 <= float(noisy.min()) <= float(noisy.max()) <= 1
    assert 0.02 < float((noisy - f).std()) < 0.08
    with pytest.raises(ValueError, match="float"):
        v2.GaussianNoise()(img)
    j = v2.JPEG((60, 90))(img)
    assert type(j) is tv_tensors.Image and j.dtype is torch.uint8
    assert np.abs(_plain(j).astype(int) - c.image().astype(int)).mean() < 12
    with pytest.raises(ValueError, match="quality"):
        v2.JPEG(0)
    Image = pytest.importorskip("PIL.Image")
    pil = Image.fromarray(c.image().transpose(1, 2, 0))
    assert v2.JPEG(80)(pil).size == pil.size
    sj = v2.ScaleJitter((16, 24), scale_range=(0.5, 0.5))(img)
    assert tuple(sj.shape) == (3, 5, 8)     # min(24 / 20, 16 / 30) * 0.5 of (20, 30)
    rs = v2.RandomShortestSize(10, max_size=12)(img)
    assert tuple(rs.shape) == (3, 8, 12)


def test_custom_transform_protocol():
    class AddOffset(v2.Transform):
        def make_params(self, flat_inputs):
            return {"dx": 2}

        def transform(self, inpt, params):
            if isinstance(inpt, tv_tensors.BoundingBoxes):
                return tv_tensors.wrap(inpt + torch.tensor([params["dx"], 0, params["dx"], 0]),
                                       like=inpt)
            return inpt
    b = tv_tensors.BoundingBoxes([[1, 1, 2, 2]], format="XYXY", canvas_size=(5, 5))
    img, out, label = AddOffset()(torch.zeros(3, 5, 5), b, 4)
    assert type(out) is tv_tensors.BoundingBoxes and _plain(out).tolist() == [[3, 1, 4, 2]]
    assert label == 4


def test_photometric_distort_rgb_and_temporal_subsample():
    img = tv_tensors.Image(torch.from_numpy(c.image()))
    t = v2.RandomPhotometricDistort(p=1.0)
    torch.manual_seed(4)
    p = t.make_params([img])
    assert all(p[k] is not None for k in ("brightness_factor", "contrast_factor",
                                          "saturation_factor", "hue_factor"))
    assert sorted(p["channel_permutation"]) == [0, 1, 2]
    out = t.transform(img, p)
    F = v2.functional
    x = img.as_subclass(torch.Tensor)
    x = F.adjust_brightness(x, p["brightness_factor"])
    if p["contrast_before"]:
        x = F.adjust_contrast(x, p["contrast_factor"])
    x = F.adjust_hue(F.adjust_saturation(x, p["saturation_factor"]), p["hue_factor"])
    if not p["contrast_before"]:
        x = F.adjust_contrast(x, p["contrast_factor"])
    x = x[p["channel_permutation"]]
    assert type(out) is tv_tensors.Image
    np.testing.assert_array_equal(_plain(out), x.numpy())
    m = tv_tensors.Mask(torch.zeros(c.H, c.W))
    assert v2.RandomPhotometricDistort(p=1.0)(img, m)[1] is m
    grey = tv_tensors.Image(torch.rand(1, 4, 5))
    rgb = v2.RGB()(grey)
    assert type(rgb) is tv_tensors.Image and tuple(rgb.shape) == (3, 4, 5)
    np.testing.assert_array_equal(_plain(rgb)[2], _plain(grey)[0])
    vid = tv_tensors.Video(torch.arange(8.0).reshape(8, 1, 1, 1).expand(8, 3, 2, 2))
    sub = v2.UniformTemporalSubsample(3)(vid)
    assert type(sub) is tv_tensors.Video and _plain(sub)[:, 0, 0, 0].tolist() == [0, 3, 7]
    assert v2.query_chw([img, m]) == (3, c.H, c.W) and v2.query_size([img, m]) == (c.H, c.W)
    assert v2.has_all([img, m], tv_tensors.Image, tv_tensors.Mask)
    assert not v2.has_any([m], tv_tensors.Image)
    assert v2.functional.adjust_brightness_image is v2.functional.adjust_brightness
