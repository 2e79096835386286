"""The transform cases shared by record_fixtures.py (torchvision) and test_transforms.py
(Cadenza): (name, input, function, args, kwargs). Interpolation modes are given by value
("bilinear") and turned into each library's InterpolationMode."""
import numpy as np

H, W = 17, 23


def inputs():
    """The same images, made from a fixed NumPy seed, as uint8 HWC arrays."""
    rs = np.random.RandomState(1234)
    rgb = rs.randint(0, 256, (H, W, 3)).astype(np.uint8)
    # a smooth gradient plus noise, so resizes and rotations have structure to move
    yy, xx = np.mgrid[0:H, 0:W]
    smooth = np.stack([xx * 255 // W, yy * 255 // H, (xx + yy) * 255 // (H + W)], -1)
    rgb2 = np.clip(smooth + rs.randint(-20, 20, (H, W, 3)), 0, 255).astype(np.uint8)
    gray = rs.randint(0, 256, (H, W)).astype(np.uint8)
    return {"rgb": rgb, "rgb2": rgb2, "gray": gray}


GEOMETRY = [
    ("resize_short10", "resize", ([10],), {}),
    ("resize_int30_up", "resize", (30,), {}),
    ("resize_hw_bicubic", "resize", ([9, 31],), {"interpolation": "bicubic"}),
    ("resize_nearest", "resize", ([11, 7],), {"interpolation": "nearest"}),
    ("resize_maxsize", "resize", (12,), {"max_size": 14}),
    ("center_crop10", "center_crop", (10,), {}),
    ("center_crop_8x12", "center_crop", ([8, 12],), {}),
    ("center_crop_pad", "center_crop", ([20, 30],), {}),
    ("crop", "crop", (3, 4, 9, 11), {}),
    ("crop_oob", "crop", (-2, -3, 10, 30), {}),
    ("resized_crop", "resized_crop", (2, 3, 12, 15, [10, 8]), {}),
    ("pad2", "pad", (2,), {}),
    ("pad_edge", "pad", ([1, 2],), {"padding_mode": "edge"}),
    ("pad_reflect", "pad", ([1, 2, 3, 4],), {"padding_mode": "reflect"}),
    ("pad_symmetric", "pad", ([3, 1, 2, 0],), {"padding_mode": "symmetric"}),
    ("hflip", "hflip", (), {}),
    ("vflip", "vflip", (), {}),
    ("rotate30", "rotate", (30.0,), {}),
    ("rotate45_bilinear_expand", "rotate", (45.0,), {"interpolation": "bilinear",
                                                    "expand": True}),
    ("rotate15_center", "rotate", (-15.0,), {"center": [3, 4]}),
]

COLOUR = [
    ("bright06", "adjust_brightness", (0.6,), {}),
    ("bright14", "adjust_brightness", (1.4,), {}),
    ("contrast05", "adjust_contrast", (0.5,), {}),
    ("contrast17", "adjust_contrast", (1.7,), {}),
    ("sat03", "adjust_saturation", (0.3,), {}),
    ("sat18", "adjust_saturation", (1.8,), {}),
    ("hue02", "adjust_hue", (0.2,), {}),
    ("hue_m037", "adjust_hue", (-0.37,), {}),
    ("gray1", "rgb_to_grayscale", (), {}),
    ("gray3", "rgb_to_grayscale", (), {"num_output_channels": 3}),
]

PIL_FILLS = [("pad_fill", "pad", ([2, 1],), {"fill": (10, 200, 30)}),
             ("rotate_fill", "rotate", (20.0,), {"fill": (255, 0, 128)})]


# the augmentation functions (fixtures/augment.npz): name, function, args, kwargs, input kinds
_ALL = ("pil_rgb", "pil_gray", "t_float", "t_uint8")
_RGB = ("pil_rgb", "t_float", "t_uint8")
AUGMENT = [
    ("invert", "invert", (), {}, _ALL),
    ("posterize3", "posterize", (3,), {}, ("pil_rgb", "t_uint8")),
    ("solarize100", "solarize", (100,), {}, ("pil_rgb", "t_uint8")),
    ("solarize04", "solarize", (0.4,), {}, ("t_float",)),
    ("sharp03", "adjust_sharpness", (0.3,), {}, _RGB),
    ("sharp25", "adjust_sharpness", (2.5,), {}, _RGB),
    ("autocontrast", "autocontrast", (), {}, _RGB),
    ("equalize", "equalize", (), {}, ("pil_rgb", "t_uint8")),
    ("gamma05", "adjust_gamma", (0.5,), {}, _RGB),
    ("gamma22", "adjust_gamma", (2.2, 1.1), {}, _RGB),
    ("blur5", "gaussian_blur", ([5, 5], [1.5, 1.5]), {}, _RGB),
    ("blur3x5", "gaussian_blur", ([3, 5], [0.8, 1.2]), {}, _RGB),
    ("blur3_default", "gaussian_blur", ([3, 3],), {}, _RGB),
    ("affine", "affine", (20.0, [2, -3], 1.2, [10.0, 5.0]), {}, _ALL),
    ("affine_bilinear", "affine", (-35.0, [0, 1], 0.8, [0.0, 0.0]),
     {"interpolation": "bilinear"}, _ALL),
    ("affine_center", "affine", (15.0, [1, 1], 1.0, [5.0, 0.0]), {"center": [3, 4]}, _ALL),
    ("shear_x", "affine", (0.0, [0, 0], 1.0, [16.7, 0.0]), {"center": [0, 0]}, _ALL),
    ("translate", "affine", (0.0, [5, 0], 1.0, [0.0, 0.0]), {}, _ALL),
    ("five_crop", "five_crop", ([8, 10],), {}, _ALL),
    ("perspective", "perspective", ([[0, 0], [22, 0], [22, 16], [0, 16]],
                                    [[2, 1], [21, 0], [22, 14], [1, 15]]), {}, _ALL),
    ("perspective_nearest", "perspective", ([[0, 0], [22, 0], [22, 16], [0, 16]],
                                            [[4, 3], [18, 2], [21, 16], [0, 12]]),
     {"interpolation": "nearest", "fill": [9]}, _ALL),
    ("ten_crop_v", "ten_crop", (7, True), {}, _ALL),
]


def augment_cases():
    return [(f"{name}/{kind}", kind, fn, args, kw)
            for name, fn, args, kw, kinds in AUGMENT for kind in kinds]


def cases():
    """(name, input kind, function, args, kwargs); kinds: pil_rgb, pil_gray, t_float, t_uint8."""
    out = []
    for name, fn, args, kw in GEOMETRY:
        for kind in ("pil_rgb", "pil_gray", "t_float", "t_uint8"):
            out.append((f"{name}/{kind}", kind, fn, args, kw))
    for name, fn, args, kw in COLOUR:
        for kind in ("pil_rgb", "t_float", "t_uint8"):
            out.append((f"{name}/{kind}", kind, fn, args, kw))
    for name, fn, args, kw in PIL_FILLS:
        out.append((f"{name}/pil_rgb", "pil_rgb", fn, args, kw))
    return out


def make_input(kind, Image, from_numpy, image_key="rgb2"):
    """The case input for one library: PIL via ``Image``, tensors via ``from_numpy``."""
    ims = inputs()
    if kind == "pil_rgb":
        return Image.fromarray(ims[image_key])
    if kind == "pil_gray":
        return Image.fromarray(ims["gray"])
    chw = np.ascontiguousarray(ims[image_key].transpose(2, 0, 1))
    if kind == "t_uint8":
        return from_numpy(chw)
    return from_numpy(chw.astype(np.float32) / np.float32(255))


def resolve_kwargs(kw, InterpolationMode):
    kw = dict(kw)
    if "interpolation" in kw:
        kw["interpolation"] = InterpolationMode(kw["interpolation"])
    return kw


def as_array(out):
    """A case's output as a NumPy array (PIL images via np.asarray, tensors via .numpy(),
    tuples of crops stacked)."""
    if isinstance(out, tuple):
        return np.stack([as_array(o) for o in out])
    if hasattr(out, "numpy"):
        return np.ascontiguousarray(out.numpy())
    return np.ascontiguousarray(np.asarray(out))


def check_against(got, ref, kind, fn):
    """A Cadenza output against torchvision's: PIL exactly; tensors within one uint8 step
    (1/255 for floats). Warps of tensors (rotate, affine) are grid-sampled as torchvision's
    (they went through Pillow per channel until 2026-12-04 and differed on ~10% of pixels)."""
    assert got.shape == ref.shape and got.dtype == ref.dtype, (got.shape, ref.shape, got.dtype)
    if kind.startswith("pil"):
        np.testing.assert_array_equal(got, ref)
        return
    tol = 1.0 if kind == "t_uint8" else 1 / 255
    diff = np.abs(got.astype(np.float64) - ref.astype(np.float64))
    assert diff.max() <= tol + 1e-6, float(diff.max())


def draw_cases():
    """(name, torchvision.utils function, kwargs) of the drawing fixtures."""
    return [("boxes", "draw_bounding_boxes", {}),
            ("boxes_wide_colors", "draw_bounding_boxes",
             {"width": 3, "colors": ["red", (0, 255, 0), "#0000ff"]}),
            ("boxes_fill", "draw_bounding_boxes", {"fill": True}),
            ("boxes_labels", "draw_bounding_boxes", {"labels": ["a", "bb", "cat"]}),
            ("masks", "draw_segmentation_masks", {"alpha": 0.6}),
            ("masks_colors", "draw_segmentation_masks", {"alpha": 0.3, "colors": ["red", "blue"]})]


def draw_inputs(from_numpy, fn):
    img = np.random.RandomState(7).randint(0, 256, (3, 30, 40)).astype(np.uint8)
    if fn == "draw_bounding_boxes":
        boxes = np.array([[1, 2, 20, 25], [5, 5, 39, 29], [10, 0, 12, 3]], dtype=np.float32)
        return from_numpy(img), from_numpy(boxes)
    masks = np.zeros((2, 30, 40), bool)
    masks[0, 3:20, 4:30] = True
    masks[1, 15:, 20:] = True
    return from_numpy(img), from_numpy(masks)


# box functions recorded from torchvision.ops (fixtures/boxes.npz): name, function, inputs
# (by key of box_inputs), kwargs. Gradients of sum(output) w.r.t. the float inputs are stored
# as "<name>/grad<i>".
BOX_CASES = [
    ("box_area", "box_area", ("a",), {}),
    ("box_iou", "box_iou", ("a", "b"), {}),
    ("giou", "generalized_box_iou", ("a", "b"), {}),
    ("diou", "distance_box_iou", ("a", "b"), {}),
    ("ciou", "complete_box_iou", ("a", "b"), {}),
    ("giou_loss", "generalized_box_iou_loss", ("a", "a2"), {"reduction": "sum"}),
    ("diou_loss", "distance_box_iou_loss", ("a", "a2"), {"reduction": "mean"}),
    ("ciou_loss", "complete_box_iou_loss", ("a", "a2"), {}),
    ("convert_xywh", "box_convert", ("a",), {"in_fmt": "xyxy", "out_fmt": "xywh"}),
    ("convert_cxcywh", "box_convert", ("a",), {"in_fmt": "xywh", "out_fmt": "cxcywh"}),
    ("convert_back", "box_convert", ("a",), {"in_fmt": "cxcywh", "out_fmt": "xyxy"}),
    ("focal", "sigmoid_focal_loss", ("logits", "targets"), {}),
    ("focal_mean", "sigmoid_focal_loss", ("logits", "targets"),
     {"alpha": -1, "gamma": 1.5, "reduction": "mean"}),
    ("clip", "clip_boxes_to_image", ("a",), {"size": (6, 7)}),
]


def box_inputs():
    rs = np.random.RandomState(3)
    xy = rs.uniform(0, 5, (4, 2))
    wh = rs.uniform(0.5, 4, (4, 2))
    a = np.concatenate([xy, xy + wh], 1)
    xy2 = rs.uniform(0, 5, (4, 2))
    a2 = np.concatenate([xy2, xy2 + rs.uniform(0.5, 4, (4, 2))], 1)
    xy3 = rs.uniform(0, 5, (3, 2))
    b = np.concatenate([xy3, xy3 + rs.uniform(0.5, 4, (3, 2))], 1)
    return {"a": a, "a2": a2, "b": b, "logits": rs.standard_normal((5, 3)),
            "targets": (rs.uniform(size=(5, 3)) > 0.5).astype(np.float64)}


def run_box_case(ops, torch, fn, keys, kw):
    """Output and gradients of one case in one library (float64 inputs)."""
    data = box_inputs()
    ins = [torch.tensor(data[k], requires_grad=k != "targets") for k in keys]
    out = getattr(ops, fn)(*ins, **kw)
    grads = []
    if out.requires_grad:
        out.sum().backward()
        grads = [x.grad.numpy() for x in ins if x.requires_grad]
    return out.detach().numpy(), grads
