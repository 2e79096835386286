"""Which classes and functions a checkpoint may name: the allow-list of ``load``.

A checkpoint names classes (of the objects it holds: a whole model, an optimizer) and
functions (an activation stored on a module) by module and qualified name. ``load`` turns such
a name into a Python object only through :func:`resolve`, which never imports a module the
program has not imported (except Cadenza's own ``nn``/``optim``/``functional``/``ops``) and
never runs code of the file's choosing: an instance is made with ``cls.__new__(cls)`` and its
saved ``__dict__`` filled in, as pickle's default protocol does, but without pickle's opcodes
that call arbitrary callables.

What is accepted (PyTorch's ``weights_only`` model, with Cadenza's own classes added):

* always: what the user allows with :func:`add_safe_globals` / :func:`safe_globals`, plain
  containers (``OrderedDict``, ``defaultdict``, builtin types used as defaultdict factories),
  and Cadenza's own ``nn.Module`` / ``Optimizer`` / ``LRScheduler`` classes and its functional
  ops (``cadenza.functional.*``, ``cadenza.nn.functional``, ``cadenza.ops.*``);
* with ``weights_only=False`` (and the default ``None``): also classes the program has already
  imported (the loader never imports for the file) that are ``nn.Module``, ``Optimizer`` or
  ``LRScheduler`` subclasses, dataclasses, or ``argparse.Namespace`` / ``types.SimpleNamespace``
  (configs saved next to the model), provided that no class of theirs outside Cadenza defines
  ``__new__`` or ``__setstate__``: loading such an object then runs no code of the class at all,
  only Cadenza's own ``__new__``/``__setstate__``. Enum members are looked up by name in their
  (already imported) class, never constructed. This is how ``model = torch.load(path)`` of a
  user's model works in a program that defines (or imports) the model's class, without letting a
  file call ``os.system`` or any other function: PyTorch's ``weights_only=False`` unpickles
  anything, Cadenza never does. Of functions (hooks registered on a saved module) only the
  running script's own (``__main__``) are accepted this way; a reference is restored, never
  called by ``load``. Any other function needs allow-listing.

Anything else is refused with :class:`UnsafeGlobalError`, naming the class and how to allow it.
"""
from __future__ import annotations

import argparse
import collections
import contextlib
import dataclasses
import enum as _enum
import importlib
import pickle
import re
import sys
import types

from ..nn.modules.module import Module
from ..optim.lr_scheduler.base import LRScheduler
from ..optim.optimizer import Optimizer
from ._format import CheckpointError

__all__ = ["add_safe_globals", "safe_globals", "get_safe_globals", "clear_safe_globals",
           "UnsafeGlobalError", "resolve", "name_of"]


class UnsafeGlobalError(CheckpointError, pickle.UnpicklingError):
    """A checkpoint names a class or function that is not allowed (PyTorch raises
    ``pickle.UnpicklingError`` here; this is both that and a ``RuntimeError``)."""


# (module, qualname) -> object, added by the user; _GIVEN: what they passed (get_safe_globals)
_USER: dict = {}
_GIVEN: dict = {}

# containers and builtin types a checkpoint may name (defaultdict factories, stored types)
_BUILTIN = {(c.__module__, c.__qualname__): c for c in (
    collections.OrderedDict, collections.defaultdict, collections.Counter, dict, list, tuple,
    set, frozenset, int, float, complex, bool, str, bytes, bytearray, type(None))}

# Cadenza's packages whose classes / functions may be named without allow-listing
_OWN_CLASS_PKGS = ("cadenza.nn", "cadenza.optim")
_OWN_FUNC_PKGS = ("cadenza.functional", "cadenza.nn.functional", "cadenza.ops")
_DOTTED = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")
_DATA_CLASSES = (argparse.Namespace, types.SimpleNamespace)


def name_of(obj) -> tuple:
    """(module, qualname) under which ``obj`` (a class or function) is stored."""
    return (getattr(obj, "__module__", None) or "builtins", obj.__qualname__)


def _entry(item):
    if isinstance(item, tuple):  # torch accepts (obj, "module.name") pairs
        if len(item) != 2 or not isinstance(item[1], str):
            raise TypeError(f"add_safe_globals: expected (object, 'module.qualname'), got "
                            f"{item!r}")
        obj, full = item
        mod, _, qual = full.rpartition(".")
        return (mod, qual), obj
    if not callable(item) or not hasattr(item, "__qualname__"):
        raise TypeError(f"add_safe_globals: expected classes or functions, got "
                        f"{type(item).__name__} {item!r:.60}")
    return name_of(item), item


def add_safe_globals(safe_globals: list) -> None:
    """Allow ``load`` to restore these classes (and functions) from any checkpoint.

    >>> import dataclasses
    >>> @dataclasses.dataclass
    ... class Config:
    ...     width: int = 8
    >>> add_safe_globals([Config]); Config in get_safe_globals()
    True
    >>> clear_safe_globals()
    """
    for item in safe_globals:
        key, obj = _entry(item)
        _USER[key] = obj
        _GIVEN[key] = item


def get_safe_globals() -> list:
    """The classes and functions added with :func:`add_safe_globals` (torch's order)."""
    return list(_GIVEN.values())


def clear_safe_globals() -> None:
    """Forget every class and function added with :func:`add_safe_globals`."""
    _USER.clear()
    _GIVEN.clear()


@contextlib.contextmanager
def safe_globals(safe_globals: list):
    """Allow these classes and functions inside the ``with`` block only."""
    saved = dict(_USER), dict(_GIVEN)
    add_safe_globals(safe_globals)
    try:
        yield
    finally:
        clear_safe_globals()
        _USER.update(saved[0])
        _GIVEN.update(saved[1])


def _walk(module, qualname: str):
    """``module.<qualname>`` through the objects' own ``__dict__``s (no ``__getattr__``, no
    properties: looking a name up runs nothing)."""
    obj = module
    for part in qualname.split("."):
        d = getattr(obj, "__dict__", None)
        if not isinstance(d, (dict, types.MappingProxyType)) or part not in d:
            return None
        obj = d[part]
    return obj


def _in(mod: str, pkgs) -> bool:
    return any(mod == p or mod.startswith(p + ".") for p in pkgs)


_STATEFUL = (Module, Optimizer, LRScheduler)


def runs_no_own_code(cls) -> bool:
    """No class in ``cls``'s MRO outside Cadenza (and ``object``) defines ``__new__`` or
    ``__setstate__``: making an instance and setting its state runs only Cadenza's code."""
    for k in cls.__mro__:
        if k is object or (k.__module__ or "").startswith("cadenza."):
            continue
        if "__new__" in vars(k) or "__setstate__" in vars(k):
            return False
    return True


def _data_holder(obj) -> bool:
    """A class ``weights_only=False`` accepts once the program has imported it."""
    return (isinstance(obj, type) and runs_no_own_code(obj)
            and (issubclass(obj, _STATEFUL + _DATA_CLASSES) or dataclasses.is_dataclass(obj)))


def own(obj) -> bool:
    """Whether ``obj`` is one of Cadenza's classes (or functions) that needs no allow-listing:
    its ``__setstate__`` may then run."""
    mod = getattr(obj, "__module__", "") or ""
    if isinstance(obj, type):
        return _in(mod, _OWN_CLASS_PKGS) and issubclass(obj, _STATEFUL)
    return isinstance(obj, types.FunctionType) and _in(mod, _OWN_FUNC_PKGS)


def resolve(module: str, qualname: str, weights_only, where: str, enum=False):
    """The class or function ``module.qualname`` if the rules above allow it, else raise
    :class:`UnsafeGlobalError` (``where`` names the file). ``enum``: the name is an Enum
    class whose member is looked up by name (no instance is made), which ``weights_only=False``
    accepts for any Enum the program has imported."""
    key = (module, qualname)
    if key in _USER:
        return _USER[key]
    if key in _BUILTIN:
        return _BUILTIN[key]
    if not (isinstance(module, str) and isinstance(qualname, str) and _DOTTED.fullmatch(module)
            and _DOTTED.fullmatch(qualname)):
        raise CheckpointError(f"load: {where} names a malformed global {module!r:.80}."
                              f"{qualname!r:.80}")
    obj = None
    if _in(module, _OWN_CLASS_PKGS + _OWN_FUNC_PKGS):
        try:  # Cadenza's own modules only: importing them runs only Cadenza's code
            mod = importlib.import_module(module)
        except Exception:  # not there, or needs a missing extra: the name is refused below
            mod = None
        obj = _walk(mod, qualname) if mod is not None else None
        if obj is not None and own(obj):
            return obj
    elif not weights_only:
        mod = sys.modules.get(module)  # never imported for the file
        obj = _walk(mod, qualname) if mod is not None else None
        if _data_holder(obj) or (module == "__main__" and isinstance(obj, types.FunctionType)
                                 and obj.__module__ == "__main__"):
            return obj
        if enum and isinstance(obj, type) and issubclass(obj, _enum.Enum):
            return obj
    raise UnsafeGlobalError(_refusal(module, qualname, obj, weights_only, where))


def _refusal(module, qualname, obj, weights_only, where) -> str:
    full = f"{module}.{qualname}"
    if obj is None and module in sys.modules:  # only to word the hint
        obj = _walk(sys.modules[module], qualname)
    short = qualname.rsplit(".", 1)[-1]
    msg = (f"load: {where} names {full}, which is not an allowed global "
           f"(weights_only={weights_only}). Cadenza loads only allow-listed classes and "
           "functions and never runs code from a checkpoint. If you trust this file and "
           f"{full} is yours, allow it: cadenza.serialization.add_safe_globals([{short}]) "
           f"(or `with cadenza.serialization.safe_globals([{short}]): ...`).")
    if weights_only and _data_holder(obj):
        msg += (" An nn.Module / Optimizer subclass or a dataclass the program has imported "
                "also loads with weights_only=False.")
    elif obj is None and module not in sys.modules:
        msg += f" (Module {module} is not imported in this program; load never imports one.)"
    elif isinstance(obj, type) and not runs_no_own_code(obj):
        msg += " (It defines __new__ or __setstate__, code that load runs only when allowed.)"
    return msg
