"""The argument forms PyTorch's argument parser accepts on all its native functions, given to
every public function and Tensor method in one place:

- NumPy-style aliases: ``axis=`` for a parameter named ``dim`` and ``keepdims=`` for
  ``keepdim`` (``x.sum(axis=1, keepdims=True)``, ``torch.cat(ts, axis=0)``);
- a ``*varargs`` parameter given by its name as one sequence (``torch.zeros(size=(2, 3))``,
  ``x.reshape(shape=(3, 2))``, ``x.permute(dims=(1, 0))``).

``numpy_aliases`` wraps a function whose signature has one of these (and not the alias
itself); the others are returned unchanged, so elementwise hot paths pay nothing."""
from __future__ import annotations

import functools
import inspect

__all__ = ["numpy_aliases", "alias_namespace", "alias_class"]

_ALIASES = (("axis", "dim"), ("keepdims", "keepdim"))
_SHAPE_NAMES = ("size", "shape", "sizes")


def _parameters(fn):
    """(parameter names in order, the ``*varargs`` name or None, how many parameters stand
    before it) of a function, as ``inspect.signature`` gives them, read from the code object:
    this runs for ~1,200 functions at import, where ``inspect.signature`` cost ~15 ms. None when
    the signature cannot be read that way (a ``__signature__`` override)."""
    fn = inspect.unwrap(fn)
    if hasattr(fn, "__signature__") or not inspect.isfunction(fn):
        try:
            sig = inspect.signature(fn).parameters
        except (TypeError, ValueError):
            return None
        names = tuple(sig)
        star = next((p.name for p in sig.values() if p.kind is p.VAR_POSITIONAL), None)
        return names, star, names.index(star) if star else 0
    code = fn.__code__
    n_pos, n_kw = code.co_argcount, code.co_kwonlyargcount
    names = code.co_varnames
    star = names[n_pos + n_kw] if code.co_flags & inspect.CO_VARARGS else None
    varkw = names[n_pos + n_kw + (star is not None)] \
        if code.co_flags & inspect.CO_VARKEYWORDS else None
    ordered = names[:n_pos] + ((star,) if star else ()) + names[n_pos:n_pos + n_kw] + \
        ((varkw,) if varkw else ())
    return ordered, star, n_pos if star else 0


def numpy_aliases(fn):
    """``fn`` accepting ``axis``/``keepdims`` for its ``dim``/``keepdim`` parameters and its
    ``*varargs`` (with the parameters before them) by name."""
    if getattr(fn, "__numpy_aliases__", False) or not inspect.isfunction(fn):
        return fn
    found = _parameters(fn)
    if found is None:
        return fn
    params, star, n_before = found
    pairs = tuple((alias, name) for alias, name in _ALIASES
                  if name in params and alias not in params)
    before = params[:n_before] if star else ()
    # torch names a shape ``size`` (view, expand, zeros) or ``shape`` (reshape): take either
    star_names = frozenset((star,) + (_SHAPE_NAMES if star in _SHAPE_NAMES else ())) \
        if star else frozenset()
    star_names = star_names.difference(set(params) - {star})
    if not pairs and star is None:
        return fn

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if kwargs:
            given = star_names.intersection(kwargs) if star_names else ()
            if given:
                key = min(given)
                if len(given) > 1 or len(args) > n_before:
                    raise TypeError(f"{fn.__name__}() got multiple values for argument "
                                    f"'{key}'")
                # the parameters before it given by name too (torch.reshape(input=x, shape=s))
                args = args + tuple(kwargs.pop(name) for name in before[len(args):]
                                    if name in kwargs) + (kwargs.pop(key),)
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
    """Wrap the functions ``names`` of a module namespace in place (aliases such as
    ``concat = cat`` stay one object)."""
    done: dict = {}
    for name in names:
        fn = namespace.get(name)
        if fn is not None:
            if id(fn) not in done:
                done[id(fn)] = numpy_aliases(fn)
            namespace[name] = done[id(fn)]


def alias_class(cls) -> None:
    """Wrap every public method of ``cls`` (its own and its mixins') in place on ``cls``."""
    done: dict = {}
    # each name as the class finds it: the first class of the MRO defining it (what
    # inspect.getattr_static returns for plain class attributes, at a fraction of its cost)
    attrs = {}
    for klass in reversed(cls.__mro__):
        attrs.update(klass.__dict__)
    for name, attr in attrs.items():
        if name.startswith("__"):
            continue
        if inspect.isfunction(attr):
            if id(attr) not in done:
                done[id(attr)] = numpy_aliases(attr)
            if done[id(attr)] is not attr:
                setattr(cls, name, done[id(attr)])
