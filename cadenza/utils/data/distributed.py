"""``torch.utils.data.distributed``: ``DistributedSampler`` (implemented in
``cadenza.data.sampler``)."""
from ...data.sampler import DistributedSampler

__all__ = ["DistributedSampler"]
