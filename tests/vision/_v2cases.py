"""The transforms.v2 / tv_tensors cases shared by record_fixtures.py (torchvision, ``record_v2``)
and test_tv_tensors.py (Cadenza). Every function takes the library's modules (``tv``: an object
with ``tv_tensors`` and ``F`` = transforms.v2.functional, ``T`` = transforms.v2) and ``torch``, and
builds its inputs from a fixed NumPy seed, so both sides see the same data."""
import numpy as np

H, W = 20, 30
FORMATS = ["XYXY", "XYWH", "CXCYWH"]
PERSP_START = [[0, 0], [29, 0], [29, 19], [0, 19]]
PERSP_END = [[3, 2], [27, 1], [28, 17], [1, 18]]


def xyxy_boxes():
    return np.array([[1, 2, 10, 12], [5, 4, 29, 19], [0, 0, 3, 3], [12, 8, 22, 16],
                     [25, 15, 30, 20]], dtype=np.float64)


def boxes_in(fmt):
    """The XYXY boxes in ``fmt`` (float64 array, exact small numbers)."""
    b = xyxy_boxes().copy()
    if fmt == "XYWH":
        b[:, 2:] -= b[:, :2]
    elif fmt == "CXCYWH":
        wh = b[:, 2:] - b[:, :2]
        b[:, :2] = b[:, :2] + wh / 2
        b[:, 2:] = wh
    return b


def displacement():
    rs = np.random.RandomState(11)
    return (rs.rand(1, H, W, 2).astype(np.float32) - 0.5) * 0.2


def mask():
    rs = np.random.RandomState(3)
    m = np.zeros((H, W), np.uint8)
    m[3:14, 5:20] = 1
    m[10:18, 15:28] = 2
    m[rs.rand(H, W) < 0.05] = 3
    return m


def image():
    rs = np.random.RandomState(5)
    yy, xx = np.mgrid[0:H, 0:W]
    smooth = np.stack([xx * 255 // W, yy * 255 // H, (xx + yy) * 255 // (H + W)], 0)
    return np.clip(smooth + rs.randint(-20, 20, (3, H, W)), 0, 255).astype(np.uint8)


def geometry_calls(torch):
    """(name, functional, args, kwargs) applied to boxes, masks and images."""
    disp = torch.from_numpy(displacement())
    return [
        ("resize", "resize", ([10, 15],), {}),
        ("resize_short", "resize", ([12],), {}),
        ("resize_max", "resize", ([12],), {"max_size": 16}),
        ("hflip", "horizontal_flip", (), {}),
        ("vflip", "vertical_flip", (), {}),
        ("crop", "crop", (3, 4, 10, 12), {}),
        ("center_crop", "center_crop", ([10, 12],), {}),
        ("center_crop_big", "center_crop", ([26, 36],), {}),
        ("resized_crop", "resized_crop", (2, 3, 12, 15, [10, 8]), {}),
        ("pad", "pad", ([2, 3, 4, 5],), {}),
        ("pad_int", "pad", (3,), {}),
        ("affine", "affine", (), {"angle": 17.0, "translate": [2, -3], "scale": 1.2,
                                  "shear": [5.0, 3.0]}),
        ("affine_center", "affine", (), {"angle": -25.0, "translate": [0, 0], "scale": 0.8,
                                         "shear": [0.0, 0.0], "center": [5, 6]}),
        ("rotate", "rotate", (30.0,), {}),
        ("rotate_expand", "rotate", (-40.0,), {"expand": True}),
        ("rotate_center", "rotate", (15.0,), {"center": [4, 3]}),
        ("perspective", "perspective", (PERSP_START, PERSP_END), {}),
        ("elastic", "elastic", (disp,), {}),
    ]


def box_inputs(tv, torch):
    """name -> BoundingBoxes: each format, float32 and int64."""
    out = {}
    for fmt in FORMATS:
        b = boxes_in(fmt)
        out[f"{fmt}/f32"] = tv.tv_tensors.BoundingBoxes(torch.from_numpy(b.astype(np.float32)),
                                                        format=fmt, canvas_size=(H, W))
        out[f"{fmt}/i64"] = tv.tv_tensors.BoundingBoxes(
            torch.from_numpy(np.floor(b).astype(np.int64)), format=fmt, canvas_size=(H, W))
    return out


def run_functionals(tv, torch):
    """name -> array (and name/canvas -> canvas size) for every call on boxes, masks and
    images (uint8 Image, float Image)."""
    F = tv.F
    out = {}
    boxes = box_inputs(tv, torch)
    m2 = tv.tv_tensors.Mask(torch.from_numpy(mask()))
    m3 = tv.tv_tensors.Mask(torch.from_numpy(np.stack([mask(), mask()[::-1].copy()])))
    img = tv.tv_tensors.Image(torch.from_numpy(image()))
    imgf = tv.tv_tensors.Image(torch.from_numpy(image().astype(np.float32) / 255))
    for name, fn, args, kw in geometry_calls(torch):
        for bname, b in boxes.items():
            r = getattr(F, fn)(b, *args, **kw)
            out[f"{name}/boxes/{bname}"] = r.as_subclass(torch.Tensor).numpy()
            out[f"{name}/boxes/{bname}/canvas"] = np.array(r.canvas_size)
        for mname, m in (("mask2", m2), ("mask3", m3)):
            out[f"{name}/{mname}"] = getattr(F, fn)(m, *args, **kw).as_subclass(
                torch.Tensor).numpy()
        if fn in ("perspective", "elastic"):
            for iname, im in (("u8", img), ("f32", imgf)):
                out[f"{name}/image/{iname}"] = getattr(F, fn)(im, *args, **kw).as_subclass(
                    torch.Tensor).numpy()
            if fn == "perspective":
                out[f"{name}/image/u8_fill"] = F.perspective(img, *args, fill=[10, 200, 30],
                                                             **kw).as_subclass(
                                                                 torch.Tensor).numpy()
                out[f"{name}/image/nearest"] = F.perspective(img, *args,
                                                             interpolation=_mode(tv, "nearest"),
                                                             **kw).as_subclass(
                                                                 torch.Tensor).numpy()
    for bname, b in boxes.items():
        for fmt in FORMATS:
            out[f"convert/{bname}/{fmt}"] = F.convert_bounding_box_format(
                b, new_format=fmt).as_subclass(torch.Tensor).numpy()
        wild = tv.tv_tensors.BoundingBoxes(b.as_subclass(torch.Tensor) * 2 - 7, format=b.format,
                                           canvas_size=(H, W))
        out[f"clamp/{bname}"] = F.clamp_bounding_boxes(wild).as_subclass(torch.Tensor).numpy()
        kept, valid = F.sanitize_bounding_boxes(wild, min_size=2.0)
        out[f"sanitize/{bname}"] = valid.numpy()
    return out


def _mode(tv, name):
    return tv.T.InterpolationMode(name)


RANDOM = [
    ("RandomResizedCrop", lambda T: T.RandomResizedCrop(12, scale=(0.3, 1.0))),
    ("RandomCrop", lambda T: T.RandomCrop(12, padding=[1, 2], pad_if_needed=True)),
    ("RandomCrop_big", lambda T: T.RandomCrop((24, 26), pad_if_needed=True, fill=5)),
    ("RandomAffine", lambda T: T.RandomAffine(20, translate=(0.1, 0.2), scale=(0.8, 1.2),
                                              shear=(-5, 5, -3, 3))),
    ("RandomRotation", lambda T: T.RandomRotation(35, expand=True)),
    ("RandomZoomOut", lambda T: T.RandomZoomOut(fill=7, side_range=(1.0, 2.0), p=1.0)),
    ("RandomPerspective", lambda T: T.RandomPerspective(0.4, p=1.0)),
    ("ElasticTransform", lambda T: T.ElasticTransform(alpha=30.0, sigma=4.0)),
    ("RandomIoUCrop", lambda T: T.RandomIoUCrop()),
    ("ScaleJitter", lambda T: T.ScaleJitter((16, 24), scale_range=(0.5, 1.5))),
    ("RandomShortestSize", lambda T: T.RandomShortestSize([10, 14], max_size=20)),
]


def sample(tv, torch):
    """An image, XYXY float boxes, a mask stack and labels, as a dict."""
    return {"image": tv.tv_tensors.Image(torch.from_numpy(image())),
            "boxes": tv.tv_tensors.BoundingBoxes(torch.from_numpy(
                xyxy_boxes().astype(np.float32)), format="XYXY", canvas_size=(H, W)),
            "masks": tv.tv_tensors.Mask(torch.from_numpy(np.stack([mask()] * 5))),
            "labels": torch.arange(5)}


def params_to_json(params, torch):
    """Parameters as JSON values; tensors as {"tensor": list, "dtype": str}."""
    out = {}
    for k, v in params.items():
        if isinstance(v, torch.Tensor):
            out[k] = {"tensor": v.tolist(), "dtype": str(v.dtype).split(".")[-1]}
        else:
            out[k] = list(v) if isinstance(v, tuple) else v
    return out


def params_from_json(params, torch):
    return {k: torch.tensor(v["tensor"], dtype=getattr(torch, v["dtype"]))
            if isinstance(v, dict) else v for k, v in params.items()}


def pipeline(T):
    """A deterministic pipeline over the whole sample."""
    return T.Compose([T.Resize(14), T.CenterCrop(12), T.Pad([1, 2]),
                      T.RandomHorizontalFlip(p=1.0), T.ConvertBoundingBoxFormat("CXCYWH"),
                      T.ClampBoundingBoxes(), T.SanitizeBoundingBoxes()])


def repr_cases(T, torch):
    """(a Compose pipeline, a list of transforms) whose reprs are compared; GaussianBlur and
    RandomErasing are left out (v2 stores sigma/value as lists, Cadenza's v1 classes as given)."""
    pipeline = T.Compose([
        T.ToImage(), T.RandomResizedCrop(size=(224, 224), antialias=True),
        T.RandomHorizontalFlip(p=0.5), T.ToDtype(torch.float32, scale=True),
        T.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]),
        T.RandomPhotometricDistort(p=1), T.RandomZoomOut(fill={T.InterpolationMode: 0}),
        T.RandomIoUCrop(), T.SanitizeBoundingBoxes(), T.Resize(12), T.Pad(2),
        T.RandomRotation(10), T.ColorJitter(0.2), T.GaussianNoise()])
    each = [T.ToImage(), T.Normalize(mean=[0.5], std=[0.2]), T.ColorJitter(0.2, 0.1),
            T.ColorJitter(hue=0.1), T.Resize(12), T.Resize((3, 4), max_size=None),
            T.Grayscale(3), T.RandomGrayscale(), T.RandomInvert(), T.RandomPosterize(4),
            T.RandomSolarize(100), T.RandomAdjustSharpness(2), T.RandomAutocontrast(),
            T.RandomEqualize(), T.AutoAugment(), T.RandAugment(), T.TrivialAugmentWide(),
            T.AugMix(), T.CenterCrop(10), T.RandomCrop(32, padding=4), T.FiveCrop(3),
            T.TenCrop(3), T.RandomAffine(10), T.ElasticTransform(), T.RandomPerspective(),
            T.Lambda(lambda x: x), T.RandomApply([T.ColorJitter(0.4)], p=0.8),
            T.RandomChoice([T.ToImage()]), T.ConvertBoundingBoxFormat("XYWH"),
            T.ClampBoundingBoxes(), T.JPEG(50), T.ToPureTensor(), T.Identity(),
            T.LinearTransformation(torch.eye(3), torch.zeros(3)),
            T.ConvertImageDtype(torch.float32), T.PILToTensor(), T.ToPILImage(),
            T.MixUp(num_classes=3), T.CutMix(num_classes=3)]
    return pipeline, each
