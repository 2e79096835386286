"""The one place Pillow is imported (lazily: ``import cadenza`` and ``import cadenza.vision``
never load it). Install it with the ``vision`` extra: ``pip install cadenza[vision]``."""
from __future__ import annotations

import sys


def pil():
    """The ``PIL`` package with ``Image``, ``ImageOps``, ``ImageEnhance``, ``ImageColor``,
    ``ImageDraw`` and ``ImageFont`` loaded."""
    try:
        import PIL.Image, PIL.ImageOps, PIL.ImageEnhance  # noqa: E401
        import PIL.ImageColor, PIL.ImageDraw, PIL.ImageFont  # noqa: E401
    except ImportError:
        raise ImportError("cadenza.vision needs Pillow for image work: "
                          "pip install 'cadenza[vision]' (or pip install pillow)") from None
    return PIL


def is_pil_image(obj) -> bool:
    """True for a PIL image; never imports Pillow (no image can exist before it is loaded)."""
    mod = sys.modules.get("PIL.Image")
    return mod is not None and isinstance(obj, mod.Image)
