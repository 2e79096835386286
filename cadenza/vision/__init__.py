"""cadenza.vision: torchvision's API (transforms, datasets, models, ops, utils) on Cadenza.

Under ``python -m cadenza.compat`` every ``import torchvision[.x]`` resolves here, as ``torch``
resolves to ``cadenza``. Image work needs Pillow (the ``vision`` extra), loaded on first use."""
from . import transforms, datasets, models, ops, utils, io
from .transforms.functional import InterpolationMode  # noqa: F401

__version__ = "0.28.0+cadenza"

_image_backend = "PIL"


def get_image_backend() -> str:
    return _image_backend


def set_image_backend(backend) -> None:
    global _image_backend
    if backend != "PIL":
        raise ValueError(f"cadenza.vision: only the 'PIL' image backend is supported, "
                         f"got {backend!r}")
    _image_backend = backend
