"""``torch.utils.data._utils``: the collate helpers programs import from
``torch.utils.data._utils.collate``."""
from . import collate  # noqa: F401

__all__ = ["collate"]
