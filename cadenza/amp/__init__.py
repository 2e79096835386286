"""``cadenza.amp``: autocast, GradScaler and the custom Function decorators with PyTorch's names
and module paths (``torch.amp.autocast_mode``, ``torch.amp.grad_scaler``). On the CPU,
autocast keeps float32 compute (a documented difference: results match float32 eager, not
bfloat16 autocast) and GradScaler is disabled unless asked for explicitly, as torch does
without CUDA."""
from .autocast_mode import autocast, custom_bwd, custom_fwd, is_autocast_available
from .grad_scaler import GradScaler
from . import autocast_mode, grad_scaler  # noqa: F401

__all__ = ["autocast", "custom_bwd", "custom_fwd", "GradScaler", "is_autocast_available"]
