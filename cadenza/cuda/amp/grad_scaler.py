"""``torch.cuda.amp.grad_scaler``: ``torch.amp.GradScaler("cuda", args...)`` under its
deprecated name (disabled without CUDA, as in PyTorch)."""
from __future__ import annotations

from ...amp.grad_scaler import device_grad_scaler

__all__ = ["GradScaler"]


GradScaler = device_grad_scaler("cuda")
