"""``torch._dynamo``, the part programs touch: ``config`` (``suppress_errors = True`` makes
``cadenza.compile`` run what it cannot capture eagerly instead of raising; the other
settings are accepted), ``reset()`` and ``eval_frame.OptimizedModule`` (the class of a
compiled module, which programs test for to reach ``_orig_mod``)."""
from __future__ import annotations

import types

from .compiler import dynamo_config as config, reset, OptimizedModule

eval_frame = types.SimpleNamespace(OptimizedModule=OptimizedModule)

__all__ = ["config", "reset", "eval_frame", "OptimizedModule"]
