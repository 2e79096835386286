"""``nn.parallel``: DataParallel (a pass-through on one device) and DistributedDataParallel
(averages gradients across the ranks of an MPI process group, see ``distributed.py``)."""
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


from .distributed import DistributedDataParallel  # noqa: E402


__all__ = ["DataParallel", "DistributedDataParallel"]
