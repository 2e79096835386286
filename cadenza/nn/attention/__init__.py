"""``torch.nn.attention``: the scaled-dot-product-attention backend selection API.

Cadenza has one attention implementation (``F.scaled_dot_product_attention``, the math
formulation, fused where the compiler can); ``sdpa_kernel`` validates and records the backends
a program allows, restores them on exit, so
programs written for PyTorch's kernel selection run unchanged with the same results.

>>> import cadenza as torch
>>> from cadenza.nn.attention import SDPBackend, sdpa_kernel
>>> with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
...     torch.nn.functional.scaled_dot_product_attention(*[torch.ones(1, 2, 3)] * 3).shape
cadenza.Size([1, 2, 3])
"""
from __future__ import annotations

import contextlib
import enum

__all__ = ["SDPBackend", "sdpa_kernel", "WARN_FOR_UNFUSED_KERNELS"]

WARN_FOR_UNFUSED_KERNELS = False


class SDPBackend(enum.IntEnum):
    """The attention backends PyTorch names (values as torch's)."""
    ERROR = -1
    MATH = 0
    FLASH_ATTENTION = 1
    EFFICIENT_ATTENTION = 2
    CUDNN_ATTENTION = 3
    OVERRIDEABLE = 4


_ALL = [SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH,
        SDPBackend.CUDNN_ATTENTION, SDPBackend.OVERRIDEABLE]
_enabled: list = list(_ALL)


def _cur_sdpa_kernel_backends(with_priority: bool = False) -> list:
    """The backends allowed now (all, outside any ``sdpa_kernel`` block), as torch's."""
    return list(_enabled)


@contextlib.contextmanager
def sdpa_kernel(backends, set_priority: bool = False):
    """Allow only ``backends`` (an SDPBackend or a list) for scaled dot-product attention
    inside the block; the previous selection is restored on exit."""
    global _enabled
    if not isinstance(backends, (list, SDPBackend)):
        raise AssertionError(f"Backend must be an instance of SDPBackend or a list of "
                             f"SDPBackend instances, got {type(backends).__name__}")
    if isinstance(backends, SDPBackend):
        backends = [backends]
    backends = list(dict.fromkeys(backends))
    for b in backends:
        if not isinstance(b, SDPBackend):
            raise AssertionError(f"Backend must be an instance of SDPBackend, got "
                                 f"{type(b).__name__}")
    previous = _enabled
    _enabled = backends
    try:
        yield {}
    finally:
        _enabled = previous
