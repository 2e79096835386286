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
    """A case's output as a NumPy array (PIL images via np.asarray, tensors via .numpy())."""
    if hasattr(out, "numpy"):
        return np.ascontiguousarray(out.numpy())
    return np.ascontiguousarray(np.asarray(out))
