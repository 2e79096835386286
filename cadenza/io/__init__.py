"""Checkpoints without pickle: ``save`` / ``load`` (nested structures, written atomically) and
``save_safetensors`` / ``load_safetensors`` (flat state dicts, interoperable with the
``safetensors`` package), all in the safetensors format. ``load`` also reads files written by
PyTorch's ``torch.save``, through an allow-listed unpickler (``torch_format``).

>>> import io, cadenza as torch
>>> buf = io.BytesIO(); torch.save({"w": torch.ones(2)}, buf); _ = buf.seek(0)
>>> torch.load(buf)["w"]
tensor([1., 1.])
"""
from ._allow import (UnsafeGlobalError, add_safe_globals, clear_safe_globals,
                     get_safe_globals, safe_globals)
from ._format import CheckpointError
from .checkpoint import load, load_safetensors, save, save_safetensors

__all__ = ["save", "load", "save_safetensors", "load_safetensors", "CheckpointError",
           "UnsafeGlobalError", "add_safe_globals", "safe_globals", "get_safe_globals",
           "clear_safe_globals"]
