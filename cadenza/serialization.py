"""``torch.serialization``: ``save`` / ``load`` and the allow-list of classes ``load`` may
restore (``add_safe_globals``, ``safe_globals``, ``get_safe_globals``, ``clear_safe_globals``).

Checkpoints are safetensors files with a JSON description of the objects (see
``cadenza.io.checkpoint``); Cadenza writes no pickle. Files written by PyTorch's ``torch.save``
are read by an unpickler that calls only allow-listed rebuild functions
(``cadenza.io.torch_format``), extended by ``add_safe_globals``. ``cadenza.io._allow`` states which
classes load accepts under ``weights_only=True`` / ``False``.

>>> import io, cadenza as torch
>>> buf = io.BytesIO(); torch.save(torch.nn.Linear(2, 1), buf); _ = buf.seek(0)
>>> torch.load(buf, weights_only=True)  # Cadenza's own modules are allowed
Linear(in_features=2, out_features=1, bias=True)
"""
from .io._allow import (UnsafeGlobalError, add_safe_globals, clear_safe_globals,  # noqa: F401
                        get_safe_globals, safe_globals)
from .io._format import MAX_HEADER as _MAX_HEADER  # noqa: F401
from .io.checkpoint import load, save

DEFAULT_PROTOCOL = 2  # torch's constant; Cadenza writes no pickle protocol

__all__ = ["save", "load", "add_safe_globals", "safe_globals", "get_safe_globals",
           "clear_safe_globals", "default_restore_location", "DEFAULT_PROTOCOL",
           "UnsafeGlobalError"]


def default_restore_location(storage, location: str):
    """Where ``load`` puts a tensor saved at ``location`` without ``map_location``: Cadenza
    stores CPU tensors, so this returns ``storage`` as it is (``'cpu'``) and otherwise moves it
    to ``location``, as ``map_location`` callables that fall back to it expect."""
    if location == "cpu" or not hasattr(storage, "to"):
        return storage
    return storage.to(location)
