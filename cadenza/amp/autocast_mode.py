"""``torch.amp.autocast_mode``: autocast, and the ``custom_fwd``/``custom_bwd`` decorators of
custom autograd Functions. Inside an enabled region, GEMMs (``linear``, ``matmul`` and so
convolutions) round their float32 inputs to the region's dtype and return it (computed in
float32, as reduced-precision GEMMs accumulate), and losses such as cross-entropy compute in
float32: the primitives declare which (``Op.autocast``). Whether it is on is tracked per
device type, so ``custom_fwd(cast_inputs=...)`` casts as PyTorch's does."""
from __future__ import annotations

import functools
import warnings

from .. import dtypes as _dt
from .._dispatch import state as _state
from ..autograd.grad_mode import _DecoratorContextManager
from .._tensor import Tensor

__all__ = ["autocast_decorator", "autocast", "is_autocast_available", "custom_fwd",
           "custom_bwd"]

# device type -> stack of (enabled, dtype) of the autocast regions entered
_regions: dict = {}


def _enabled(device_type: str) -> bool:
    stack = _regions.get(device_type)
    return bool(stack) and stack[-1][0]


def _dtype(device_type: str):
    stack = _regions.get(device_type)
    return stack[-1][1] if stack else None


class autocast(_DecoratorContextManager):
    def __init__(self, device_type="cpu", dtype=None, enabled=True, cache_enabled=None):
        if not isinstance(device_type, str):
            raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
        self.device_type, self.dtype, self.enabled = device_type, dtype, enabled
        self.cache_enabled = cache_enabled

    def __enter__(self):
        # the region's dtype is checked before anything changes: a refused dtype leaves no
        # region behind
        low = _low_dtype(self.device_type, self.dtype) \
            if self.device_type in ("cpu", "cuda") and self.enabled else None
        _regions.setdefault(self.device_type, []).append((bool(self.enabled), self.dtype))
        self._outer = _state.autocast
        if self.device_type in ("cpu", "cuda"):
            # ops read the innermost enabled region's dtype (bfloat16 on CPU, float16 on CUDA
            # by default); a disabled region turns autocast off inside it
            _state.autocast = low
        return self

    def __exit__(self, *exc):
        _regions[self.device_type].pop()
        _state.autocast = self._outer
        return False

    def clone(self):
        return type(self)(self.device_type, self.dtype, self.enabled, self.cache_enabled)


def _low_dtype(device_type, dtype):
    if dtype is None:
        return _dt.bfloat16 if device_type == "cpu" else _dt.float16
    dtype = _dt.to_dtype(dtype)
    if dtype not in (_dt.bfloat16, _dt.float16):
        raise RuntimeError(f"autocast: expected dtype torch.bfloat16 or torch.float16 for "
                           f"device_type {device_type!r}, got {dtype}")
    return dtype


def autocast_decorator(autocast_instance, func):
    """``func`` run inside ``autocast_instance`` (what ``@autocast()`` does)."""
    return autocast_instance(func)


def is_autocast_available(device_type: str) -> bool:
    return device_type in ("cpu", "cuda")


def _cast(value, dtype):
    if isinstance(value, Tensor):
        return value.to(dtype) if value.is_floating_point() else value
    if isinstance(value, (list, tuple)):
        return type(value)(_cast(v, dtype) for v in value)
    if isinstance(value, dict):
        return {k: _cast(v, dtype) for k, v in value.items()}
    return value


def custom_fwd(fwd=None, *, device_type: str, cast_inputs=None):
    """Decorate a custom Function's ``forward``: inside an enabled autocast region of
    ``device_type`` with ``cast_inputs``, floating inputs are cast to it and the forward runs
    with autocast off; ``custom_bwd`` then runs backward in the forward's autocast state."""
    if not isinstance(device_type, str):
        raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
    if fwd is None:
        return functools.partial(custom_fwd, device_type=device_type, cast_inputs=cast_inputs)

    @functools.wraps(fwd)
    def decorate_fwd(*args, **kwargs):
        ctx = args[0]
        ctx._dtype = _dtype(device_type)
        on = _enabled(device_type)
        if cast_inputs is None:
            ctx._fwd_used_autocast = on
            return fwd(*args, **kwargs)
        ctx._fwd_used_autocast = False
        if not on:
            return fwd(*args, **kwargs)
        with autocast(device_type=device_type, enabled=False):
            return fwd(*_cast(args, cast_inputs), **_cast(kwargs, cast_inputs))
    return decorate_fwd


def custom_bwd(bwd=None, *, device_type: str):
    """Decorate a custom Function's ``backward`` (see ``custom_fwd``)."""
    if not isinstance(device_type, str):
        raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
    if bwd is None:
        return functools.partial(custom_bwd, device_type=device_type)

    @functools.wraps(bwd)
    def decorate_bwd(*args, **kwargs):
        ctx = args[0]
        with autocast(device_type=device_type, enabled=getattr(ctx, "_fwd_used_autocast", False),
                      dtype=getattr(ctx, "_dtype", None)):
            return bwd(*args, **kwargs)
    return decorate_bwd


# torch's top-level autocast queries (torch.is_autocast_enabled ...): cadenza's __init__ reads
# them from here on first use
def is_autocast_enabled(device_type: str = "cuda") -> bool:
    """Whether the innermost autocast region of ``device_type`` is enabled (no argument:
    CUDA's, as torch's deprecated form)."""
    return _enabled(device_type)


def get_autocast_dtype(device_type: str):
    """The dtype autocast regions of ``device_type`` compute in: the innermost region's, else
    the device's default (bfloat16 on CPU, float16 on CUDA)."""
    return _dtype(device_type) or _low_dtype(device_type, None)


def is_autocast_cpu_enabled() -> bool:
    return _enabled("cpu")


def get_autocast_cpu_dtype():
    return get_autocast_dtype("cpu")


def get_autocast_gpu_dtype():
    return get_autocast_dtype("cuda")


def device_autocast(device_type: str):
    """The class of ``torch.<device_type>.amp.autocast(args...)``, the deprecated spelling of
    ``torch.amp.autocast(device_type, args...)`` (with torch's FutureWarning)."""
    class autocast_(autocast):
        def __init__(self, enabled=True, dtype=None, cache_enabled=True):
            warnings.warn(f"`torch.{device_type}.amp.autocast(args...)` is deprecated. Please "
                          f"use `torch.amp.autocast('{device_type}', args...)` instead.",
                          FutureWarning, stacklevel=2)
            super().__init__(device_type, dtype=dtype, enabled=enabled,
                             cache_enabled=cache_enabled)

        def clone(self):
            return autocast(device_type, self.dtype, self.enabled, self.cache_enabled)
    autocast_.__name__ = autocast_.__qualname__ = "autocast"
    autocast_.__doc__ = (f"``torch.{device_type}.amp.autocast(args...)``: "
                         f"``torch.amp.autocast('{device_type}', args...)``.")
    return autocast_
