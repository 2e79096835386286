"""``torch._dynamo``, the part programs touch: ``config`` (``suppress_errors = True`` makes
``cadenza.compile`` run what it cannot capture eagerly instead of raising; the other
settings are accepted) and ``reset()``."""
from __future__ import annotations

from .compiler import dynamo_config as config, reset

__all__ = ["config", "reset"]
