"""torchvision.transforms.v2.functional for images: the v1 functions plus ``to_image`` and
``to_dtype``."""
from __future__ import annotations

import numpy as np

import cadenza as torch
from ..functional import *  # noqa: F401,F403
from ..functional import __all__ as _v1_all
from ..functional import convert_image_dtype, pil_to_tensor

__all__ = list(_v1_all) + ["to_image", "to_dtype"]


def to_image(inpt):
    """PIL image or HWC ndarray -> CHW tensor (same dtype)."""
    if isinstance(inpt, np.ndarray):
        a = inpt[:, :, None] if inpt.ndim == 2 else inpt
        return torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)))
    if isinstance(inpt, torch.Tensor):
        return inpt
    return pil_to_tensor(inpt)


def to_dtype(inpt, dtype, scale=False):
    return convert_image_dtype(inpt, dtype) if scale else inpt.to(dtype)
