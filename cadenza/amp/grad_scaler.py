"""``torch.amp.grad_scaler``: GradScaler, disabled unless asked for explicitly without CUDA,
as torch does."""
from __future__ import annotations

import warnings

import numpy as np

from enum import Enum

from ..backend import cuda as _cuda_backend

__all__ = ["OptState", "GradScaler"]


class OptState(Enum):
    """Where an optimizer is in GradScaler's step (PyTorch's enum)."""
    READY = 0
    UNSCALED = 1
    STEPPED = 2


class GradScaler:
    """Loss scaling for fp16 training; with enabled=False (the default without CUDA) every
    method is the identity, as in PyTorch."""

    def __init__(self, device="cuda", init_scale=2.0 ** 16, growth_factor=2.0,
                 backoff_factor=0.5, growth_interval=2000, enabled=True):
        self._enabled = bool(enabled) and (device != "cuda" or _cuda_backend.is_available())
        self._scale = float(init_scale)
        self._growth_factor, self._backoff_factor = growth_factor, backoff_factor
        self._growth_interval, self._growth_tracker = growth_interval, 0
        self._found_inf = False
        self._unscaled = set()

    def is_enabled(self) -> bool:
        return self._enabled

    def scale(self, outputs):
        if not self._enabled:
            return outputs
        if isinstance(outputs, (list, tuple)):
            return type(outputs)(o * self._scale for o in outputs)
        return outputs * self._scale

    def unscale_(self, optimizer):
        if not self._enabled or id(optimizer) in self._unscaled:
            return
        inv = 1.0 / self._scale
        for group in optimizer.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    p.grad._data *= inv
                    if not np.all(np.isfinite(p.grad._data)):
                        self._found_inf = True
        self._unscaled.add(id(optimizer))

    def step(self, optimizer, *args, **kwargs):
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        self.unscale_(optimizer)
        if self._found_inf:
            return None
        return optimizer.step(*args, **kwargs)

    def update(self, new_scale=None):
        if not self._enabled:
            return
        if new_scale is not None:
            self._scale = float(new_scale)
        elif self._found_inf:
            self._scale *= self._backoff_factor
            self._growth_tracker = 0
        else:
            self._growth_tracker += 1
            if self._growth_tracker == self._growth_interval:
                self._scale *= self._growth_factor
                self._growth_tracker = 0
        self._found_inf = False
        self._unscaled.clear()

    def get_scale(self) -> float:
        return self._scale if self._enabled else 1.0

    def state_dict(self):
        return {"scale": self._scale, "growth_factor": self._growth_factor,
                "backoff_factor": self._backoff_factor, "growth_interval": self._growth_interval,
                "_growth_tracker": self._growth_tracker} if self._enabled else {}

    def load_state_dict(self, state):
        if state:
            self._scale = state["scale"]
            self._growth_tracker = state.get("_growth_tracker", 0)


def device_grad_scaler(device_type: str):
    """The class of ``torch.<device_type>.amp.GradScaler(args...)``, the deprecated spelling
    of ``torch.amp.GradScaler(device_type, args...)`` (with torch's FutureWarning)."""
    class GradScaler_(GradScaler):
        def __init__(self, init_scale=2.0 ** 16, growth_factor=2.0, backoff_factor=0.5,
                     growth_interval=2000, enabled=True):
            warnings.warn(f"`torch.{device_type}.amp.GradScaler(args...)` is deprecated. "
                          f"Please use `torch.amp.GradScaler('{device_type}', args...)` "
                          "instead.", FutureWarning, stacklevel=2)
            super().__init__(device_type, init_scale=init_scale, growth_factor=growth_factor,
                             backoff_factor=backoff_factor, growth_interval=growth_interval,
                             enabled=enabled)
    GradScaler_.__name__ = GradScaler_.__qualname__ = "GradScaler"
    return GradScaler_
