"""``nn.parallel``: DataParallel (a pass-through on one device) and DistributedDataParallel
(arrives with the MPI backend)."""
from __future__ import annotations

from ..modules.module import Module


class DataParallel(Module):
    """Runs ``module`` on the one available device (Cadenza has no multi-device
    replication); ``model.module`` is the wrapped module, as in PyTorch.

    >>> import cadenza as torch
    >>> dp = torch.nn.DataParallel(torch.nn.Linear(2, 2))
    >>> dp(torch.randn(3, 2)).shape
    cadenza.Size([3, 2])
    """

    def __init__(self, module, device_ids=None, output_device=None, dim: int = 0):
        super().__init__()
        self.module = module
        self.device_ids = device_ids or []
        self.output_device = output_device
        self.dim = dim

    def forward(self, *inputs, **kwargs):
        return self.module(*inputs, **kwargs)


class DistributedDataParallel(Module):
    """Placeholder: data-parallel training over MPI is not implemented yet."""

    def __init__(self, module=None, *args, **kwargs):
        raise RuntimeError("cadenza.distributed is not available yet; it arrives with the MPI "
                           "backend. Train on one process without DistributedDataParallel "
                           "for now.")


__all__ = ["DataParallel", "DistributedDataParallel"]
