"""``torch.cpu.amp`` (deprecated in PyTorch for ``torch.amp``): autocast and GradScaler for
the ``"cpu"`` device type, with the FutureWarning torch gives for these spellings."""
from __future__ import annotations

from ...amp.autocast_mode import device_autocast
from ...amp.grad_scaler import device_grad_scaler

__all__ = ["autocast", "GradScaler"]

autocast = device_autocast("cpu")
GradScaler = device_grad_scaler("cpu")
