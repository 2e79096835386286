"""More torchvision.transforms classes: random erasing, blur, affine warps, grey conversion,
choice/order of transforms, five/ten crops, the random colour ops and the linear (whitening)
transform. Random parameters come from Cadenza's default generator."""
from __future__ import annotations

import math
import numbers

import cadenza as torch
from cadenza import nn
from . import functional as F
from .functional import InterpolationMode

__all__ = ["RandomErasing", "GaussianBlur", "RandomAffine", "RandomGrayscale", "RandomChoice",
           "RandomOrder", "FiveCrop", "TenCrop", "RandomInvert", "RandomPosterize",
           "RandomSolarize", "RandomAdjustSharpness", "RandomAutocontrast", "RandomEqualize",
           "LinearTransformation", "RandomPerspective", "ElasticTransform"]


def _uniform(lo, hi) -> float:
    return float(torch.empty(1).uniform_(float(lo), float(hi)).item())


def _coin(p) -> bool:
    return float(torch.rand(1).item()) < p


def _randint(lo, hi) -> int:
    return int(torch.randint(lo, hi, (1,)).item())


def _pair_range(value, name, center=0):
    """A number d as (center - d, center + d); a pair as it is."""
    if isinstance(value, numbers.Number):
        if value < 0:
            raise ValueError(f"If {name} is a single number, it must be positive.")
        return [center - float(value), center + float(value)]
    if len(value) != 2:
        raise ValueError(f"{name} should be a sequence of length 2.")
    return [float(v) for v in value]


class RandomErasing(nn.Module):
    """With probability p, erase a random rectangle of a tensor image (area a fraction in
    ``scale`` of the image, aspect ratio in ``ratio``) with ``value`` (a number, per-channel
    values, or 'random' for normal noise)."""

    def __init__(self, p=0.5, scale=(0.02, 0.33), ratio=(0.3, 3.3), value=0, inplace=False):
        super().__init__()
        if not isinstance(value, (numbers.Number, str, tuple, list)):
            raise TypeError("Argument value should be either a number or str or a sequence")
        if isinstance(value, str) and value != "random":
            raise ValueError("If value is str, it should be 'random'")
        if not isinstance(scale, (tuple, list)) or not isinstance(ratio, (tuple, list)):
            raise TypeError("Scale and ratio should be a sequence")
        if scale[0] > scale[1] or ratio[0] > ratio[1]:
            raise ValueError("Scale and ratio should be of kind (min, max)")
        if scale[0] < 0 or scale[1] > 1:
            raise ValueError("Scale should be between 0 and 1")
        if p < 0 or p > 1:
            raise ValueError("Random erasing probability should be between 0 and 1")
        self.p, self.scale, self.ratio, self.value, self.inplace = p, scale, ratio, value, \
            inplace

    @staticmethod
    def get_params(img, scale, ratio, value=None):
        c, h, w = img.shape[-3], img.shape[-2], img.shape[-1]
        area = h * w
        log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
        for _ in range(10):
            erase_area = area * _uniform(scale[0], scale[1])
            aspect = math.exp(_uniform(log_ratio[0], log_ratio[1]))
            eh = int(round(math.sqrt(erase_area * aspect)))
            ew = int(round(math.sqrt(erase_area / aspect)))
            if not (eh < h and ew < w):
                continue
            if value is None:
                v = torch.empty((c, eh, ew), dtype=torch.float32).normal_()
            else:
                v = torch.tensor(value)[:, None, None]
            i, j = _randint(0, h - eh + 1), _randint(0, w - ew + 1)
            return i, j, eh, ew, v
        return 0, 0, h, w, img

    def forward(self, img):
        if not _coin(self.p):
            return img
        if isinstance(self.value, numbers.Number):
            value = [float(self.value)]
        elif isinstance(self.value, str):
            value = None
        else:
            value = [float(v) for v in self.value]
        if value is not None and len(value) not in (1, img.shape[-3]):
            raise ValueError(f"If value is a sequence, it should have either a single value or "
                             f"{img.shape[-3]} (number of input channels)")
        i, j, h, w, v = self.get_params(img, self.scale, self.ratio, value)
        return F.erase(img, i, j, h, w, v.to(img.dtype) if v is not img else v, self.inplace)

    def __repr__(self):
        return (f"{type(self).__name__}(p={self.p}, scale={self.scale}, ratio={self.ratio}, "
                f"value={self.value}, inplace={self.inplace})")


class GaussianBlur(nn.Module):
    """Gaussian blur with sigma drawn uniformly from ``sigma`` (a range or one value)."""

    def __init__(self, kernel_size, sigma=(0.1, 2.0)):
        super().__init__()
        ks = (kernel_size, kernel_size) if isinstance(kernel_size, int) else tuple(kernel_size)
        if len(ks) != 2 or any(k <= 0 or k % 2 == 0 for k in ks):
            raise ValueError("Kernel size value should be an odd and positive number.")
        if isinstance(sigma, numbers.Number):
            if sigma <= 0:
                raise ValueError("If sigma is a single number, it must be positive.")
            sigma = (float(sigma), float(sigma))
        elif not (len(sigma) == 2 and 0 < sigma[0] <= sigma[1]):
            raise ValueError("sigma values should be positive and of the form (min, max).")
        self.kernel_size, self.sigma = ks, tuple(sigma)

    @staticmethod
    def get_params(sigma_min, sigma_max):
        return _uniform(sigma_min, sigma_max)

    def forward(self, img):
        s = self.get_params(self.sigma[0], self.sigma[1])
        return F.gaussian_blur(img, list(self.kernel_size), [s, s])

    def __repr__(self):
        return f"{type(self).__name__}(kernel_size={self.kernel_size}, sigma={self.sigma})"


class RandomAffine(nn.Module):
    """A random affine warp: rotation in ``degrees``, translation up to ``translate``
    fractions of the size, scale in ``scale``, shear in ``shear`` (x, or x then y ranges)."""

    def __init__(self, degrees, translate=None, scale=None, shear=None,
                 interpolation=InterpolationMode.NEAREST, fill=0, center=None):
        super().__init__()
        self.degrees = _pair_range(degrees, "degrees")
        if translate is not None and not all(0.0 <= t <= 1.0 for t in translate):
            raise ValueError("translation values should be between 0 and 1")
        if scale is not None and any(s <= 0 for s in scale):
            raise ValueError("scale values should be positive")
        self.translate, self.scale = translate, scale
        if shear is None or isinstance(shear, numbers.Number) or len(shear) == 2:
            self.shear = shear if shear is None else _pair_range(shear, "shear")
        elif len(shear) == 4:
            self.shear = [float(s) for s in shear]
        else:
            raise ValueError("shear should be a number or a sequence of length 2 or 4")
        self.interpolation, self.fill, self.center = interpolation, fill, center

    @staticmethod
    def get_params(degrees, translate, scale_ranges, shears, img_size):
        angle = _uniform(degrees[0], degrees[1])
        if translate is not None:
            mx, my = float(translate[0] * img_size[0]), float(translate[1] * img_size[1])
            tx, ty = int(round(_uniform(-mx, mx))), int(round(_uniform(-my, my)))
        else:
            tx, ty = 0, 0
        scale = _uniform(scale_ranges[0], scale_ranges[1]) if scale_ranges is not None else 1.0
        sx = sy = 0.0
        if shears is not None:
            sx = _uniform(shears[0], shears[1])
            if len(shears) == 4:
                sy = _uniform(shears[2], shears[3])
        return angle, (tx, ty), scale, (sx, sy)

    def forward(self, img):
        c, h, w = F.get_dimensions(img)
        fill = self.fill
        if isinstance(img, torch.Tensor) and isinstance(fill, (int, float)):
            fill = [float(fill)] * c
        angle, tr, sc, sh = self.get_params(self.degrees, self.translate, self.scale,
                                            self.shear, [w, h])
        return F.affine(img, angle, list(tr), sc, list(sh), interpolation=self.interpolation,
                        fill=fill, center=self.center)

    def __repr__(self):
        return (f"{type(self).__name__}(degrees={self.degrees}, translate={self.translate}, "
                f"scale={self.scale}, shear={self.shear})")


class RandomGrayscale(nn.Module):
    """With probability p, grey the image (keeping its number of channels)."""

    def __init__(self, p=0.1):
        super().__init__()
        self.p = p

    def forward(self, img):
        c = F.get_dimensions(img)[0]
        return F.rgb_to_grayscale(img, num_output_channels=c) if _coin(self.p) else img

    def __repr__(self):
        return f"{type(self).__name__}(p={self.p})"


class RandomChoice:
    """Apply one of ``transforms``, chosen with weights ``p`` (uniform by default)."""

    def __init__(self, transforms, p=None):
        if not isinstance(transforms, (list, tuple)):
            raise TypeError("Argument transforms should be a sequence")
        if p is not None and len(p) != len(transforms):
            raise ValueError(f"Length of p doesn't match the number of transforms: {len(p)} != "
                             f"{len(transforms)}")
        self.transforms, self.p = transforms, p

    def __call__(self, *args):
        weights = torch.tensor(self.p if self.p is not None else [1.0] * len(self.transforms),
                               dtype=torch.float64)
        idx = int(torch.multinomial(weights, 1).item())
        return self.transforms[idx](*args)

    def __repr__(self):
        return f"{type(self).__name__}(transforms={self.transforms}, p={self.p})"


class RandomOrder:
    """Apply ``transforms`` in a random order."""

    def __init__(self, transforms):
        if not isinstance(transforms, (list, tuple)):
            raise TypeError("Argument transforms should be a sequence")
        self.transforms = transforms

    def __call__(self, img):
        for i in torch.randperm(len(self.transforms)).tolist():
            img = self.transforms[i](img)
        return img

    def __repr__(self):
        return f"{type(self).__name__}(transforms={self.transforms})"


class FiveCrop(nn.Module):
    def __init__(self, size):
        super().__init__()
        self.size = (size, size) if isinstance(size, numbers.Number) else tuple(size)

    def forward(self, img):
        return F.five_crop(img, self.size)

    def __repr__(self):
        return f"{type(self).__name__}(size={self.size})"


class TenCrop(nn.Module):
    def __init__(self, size, vertical_flip=False):
        super().__init__()
        self.size = (size, size) if isinstance(size, numbers.Number) else tuple(size)
        self.vertical_flip = vertical_flip

    def forward(self, img):
        return F.ten_crop(img, self.size, self.vertical_flip)

    def __repr__(self):
        return f"{type(self).__name__}(size={self.size}, vertical_flip={self.vertical_flip})"


def _random_op(name, fn, params=()):
    """A transform class applying ``fn(img, *params)`` with probability p."""
    def __init__(self, *args, p=0.5):
        nn.Module.__init__(self)
        if len(args) == len(params) + 1:      # p given positionally, as torchvision allows
            *args, p = args
        if len(args) > len(params):
            raise TypeError(f"{name} takes {len(params) + 1} positional arguments")
        for k, v in zip(params, args):
            setattr(self, k, v)
        missing = [k for k in params[len(args):]]
        if missing:
            raise TypeError(f"{name}() missing required argument(s): {missing}")
        self.p = p

    def forward(self, img):
        return fn(img, *(getattr(self, k) for k in params)) if _coin(self.p) else img

    def __repr__(self):
        inner = ", ".join(f"{k}={getattr(self, k)}" for k in params + ("p",))
        return f"{name}({inner})"
    return type(name, (nn.Module,), {"__init__": __init__, "forward": forward,
                                     "__repr__": __repr__,
                                     "__doc__": f"``{fn.__name__}`` with probability p."})


RandomInvert = _random_op("RandomInvert", F.invert)
RandomPosterize = _random_op("RandomPosterize", F.posterize, ("bits",))
RandomSolarize = _random_op("RandomSolarize", F.solarize, ("threshold",))
RandomAdjustSharpness = _random_op("RandomAdjustSharpness", F.adjust_sharpness,
                                   ("sharpness_factor",))
RandomAutocontrast = _random_op("RandomAutocontrast", F.autocontrast)
RandomEqualize = _random_op("RandomEqualize", F.equalize)


class LinearTransformation(nn.Module):
    """``(x.flatten() - mean_vector) @ transformation_matrix``, reshaped back (ZCA
    whitening)."""

    def __init__(self, transformation_matrix, mean_vector):
        super().__init__()
        n = transformation_matrix.shape[0]
        if tuple(transformation_matrix.shape) != (n, n):
            raise ValueError(f"transformation_matrix should be square. Got "
                             f"{tuple(transformation_matrix.shape)} rectangular matrix.")
        if mean_vector.shape[0] != n:
            raise ValueError(f"mean_vector should have the same length {mean_vector.shape[0]} "
                             f"as any one of the dimensions of the transformation_matrix "
                             f"[{tuple(transformation_matrix.shape)}]")
        self.transformation_matrix, self.mean_vector = transformation_matrix, mean_vector

    def forward(self, tensor):
        shape = tuple(tensor.shape)
        n = self.transformation_matrix.shape[0]
        if shape[-3] * shape[-2] * shape[-1] != n:
            raise ValueError(f"Input tensor and transformation matrix have incompatible shape."
                             f"[{shape[-3]} x {shape[-2]} x {shape[-1]}] != {n}")
        flat = tensor.reshape(-1, n) - self.mean_vector
        return (flat @ self.transformation_matrix.to(flat.dtype)).reshape(shape)


def _perspective_points(width, height, distortion_scale):
    """torchvision's random corner displacement: (startpoints, endpoints)."""
    half_h, half_w = height // 2, width // 2
    bound_h = int(distortion_scale * half_h) + 1
    bound_w = int(distortion_scale * half_w) + 1
    topleft = [_randint(0, bound_w), _randint(0, bound_h)]
    topright = [_randint(width - bound_w, width), _randint(0, bound_h)]
    botright = [_randint(width - bound_w, width), _randint(height - bound_h, height)]
    botleft = [_randint(0, bound_w), _randint(height - bound_h, height)]
    startpoints = [[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]]
    return startpoints, [topleft, topright, botright, botleft]


class RandomPerspective(nn.Module):
    """With probability p, a perspective warp moving each corner by up to
    ``distortion_scale`` of half the size."""

    def __init__(self, distortion_scale=0.5, p=0.5, interpolation=InterpolationMode.BILINEAR,
                 fill=0):
        super().__init__()
        self.p = p
        self.interpolation = F._interp(interpolation)
        self.distortion_scale = distortion_scale
        if fill is None:
            fill = 0
        elif not isinstance(fill, (list, tuple, numbers.Number)):
            raise TypeError("Fill should be either a sequence or a number.")
        self.fill = fill

    get_params = staticmethod(_perspective_points)

    def forward(self, img):
        fill = self.fill
        channels, height, width = F.get_dimensions(img)
        if isinstance(img, torch.Tensor):
            fill = [float(fill)] * channels if isinstance(fill, (int, float)) else \
                [float(f) for f in fill]
        if _coin(self.p):
            start, end = self.get_params(width, height, self.distortion_scale)
            return F.perspective(img, start, end, self.interpolation, fill)
        return img

    def __repr__(self):
        return f"{type(self).__name__}(p={self.p})"


def _float_pair(x, name):
    if not isinstance(x, (float, list, tuple)):
        raise TypeError(f"{name} should be float or a sequence of floats. Got {type(x)}")
    if isinstance(x, (list, tuple)):
        if len(x) != 2:
            raise ValueError(f"If {name} is a sequence its length should be 2. Got {len(x)}")
        if not all(isinstance(v, float) for v in x):
            raise TypeError(f"{name} should be a sequence of floats. Got {type(x[0])}")
        return list(x)
    return [float(x), float(x)]


def _elastic_displacement(alpha, sigma, size):
    """torchvision's random displacement field [1, H, W, 2]: uniform noise in [-1, 1],
    Gaussian-blurred (kernel int(8 sigma + 1), made odd), times alpha over the width/height."""
    parts = []
    for a, s, n in ((alpha[0], sigma[0], size[1]), (alpha[1], sigma[1], size[0])):
        d = torch.rand([1, 1] + list(size)) * 2 - 1
        if s > 0.0:
            ks = int(8 * s + 1)
            ks += 1 - ks % 2
            d = F.gaussian_blur(d, [ks, ks], list(sigma))
        parts.append(d * a / n)
    return torch.cat(parts, 1).permute(0, 2, 3, 1)


class ElasticTransform(nn.Module):
    """Elastic displacement of the pixels (alpha: strength, sigma: smoothness)."""

    def __init__(self, alpha=50.0, sigma=5.0, interpolation=InterpolationMode.BILINEAR, fill=0):
        super().__init__()
        self.alpha, self.sigma = _float_pair(alpha, "alpha"), _float_pair(sigma, "sigma")
        self.interpolation = F._interp(interpolation)
        if isinstance(fill, (int, float)):
            fill = [float(fill)]
        elif isinstance(fill, (list, tuple)):
            fill = [float(f) for f in fill]
        else:
            raise TypeError(f"fill should be int or float or a list or tuple of them. Got "
                            f"{type(fill)}")
        self.fill = fill

    get_params = staticmethod(_elastic_displacement)

    def forward(self, tensor):
        _, height, width = F.get_dimensions(tensor)
        displacement = self.get_params(self.alpha, self.sigma, [height, width])
        return F.elastic_transform(tensor, displacement, self.interpolation, self.fill)

    def __repr__(self):
        return (f"{type(self).__name__}(alpha={self.alpha}, sigma={self.sigma}, "
                f"interpolation={self.interpolation}, fill={self.fill})")
