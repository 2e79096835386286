"""PyTorch's NumPy-compatible keyword aliases, given to every public function and Tensor method
in one place: PyTorch's argument parser accepts ``axis=`` for a parameter named ``dim`` and
``keepdims=`` for ``keepdim`` on all its native functions (``x.sum(axis=1, keepdims=True)``,
``torch.cat(ts, axis=0)``). ``numpy_aliases`` wraps a function whose signature has ``dim`` or
``keepdim`` (and not the alias itself) so that the alias is renamed before the call; the others
are returned unchanged, so elementwise hot paths pay nothing."""
from __future__ import annotations

import functools
import inspect

__all__ = ["numpy_aliases", "alias_namespace", "alias_class"]

_ALIASES = (("axis", "dim"), ("keepdims", "keepdim"))


def numpy_aliases(fn):
    """``fn`` accepting ``axis``/``keepdims`` for its ``dim``/``keepdim`` parameters."""
    if getattr(fn, "__numpy_aliases__", False) or not inspect.isfunction(fn):
        return fn
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return fn
    pairs = tuple((alias, name) for alias, name in _ALIASES
                  if name in params and alias not in params)
    if not pairs:
        return fn

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if kwargs:
            for alias, name in pairs:
                if alias in kwargs:
                    if name in kwargs:
                        raise TypeError(f"{fn.__name__}() got multiple values for argument "
                                        f"'{name}' (given as '{name}' and as its alias "
                                        f"'{alias}')")
                    kwargs[name] = kwargs.pop(alias)
        return fn(*args, **kwargs)
    wrapper.__numpy_aliases__ = True
    return wrapper


def alias_namespace(namespace: dict, names) -> None:
    """Wrap the functions ``names`` of a module namespace in place."""
    for name in names:
        fn = namespace.get(name)
        if fn is not None:
            namespace[name] = numpy_aliases(fn)


def alias_class(cls) -> None:
    """Wrap every public method of ``cls`` (its own and its mixins') in place on ``cls``."""
    for name in dir(cls):
        if name.startswith("__"):
            continue
        attr = inspect.getattr_static(cls, name)
        if inspect.isfunction(attr):
            wrapped = numpy_aliases(attr)
            if wrapped is not attr:
                setattr(cls, name, wrapped)
