"""``torch.cuda.amp`` (deprecated in PyTorch for ``torch.amp``, still common in programs):
autocast and GradScaler for the ``"cuda"`` device type, and ``custom_fwd``/``custom_bwd``."""
from .autocast_mode import autocast, custom_bwd, custom_fwd
from .grad_scaler import GradScaler
from . import autocast_mode, grad_scaler  # noqa: F401

__all__ = ["autocast", "custom_bwd", "custom_fwd", "GradScaler"]
