"""``torch.utils.data.dataloader``'s names (implemented in ``cadenza.data.dataloader``)."""
from ...data.collate import default_collate, default_convert
from ...data.dataloader import DataLoader, WorkerInfo, get_worker_info

__all__ = ["DataLoader", "get_worker_info", "default_collate", "default_convert", "WorkerInfo"]
