"""``torch.jit``: ``script`` and ``trace`` return working functions and modules, compiled by
``cadenza.compile`` where the code can be captured.

Cadenza has no TorchScript language: ``script(fn_or_module)`` and ``trace(fn_or_module,
example_inputs)`` both compile the Python code with ``cadenza.compile(..., fullgraph=False)``.
Code that compile cannot capture (data-dependent Python control flow, printing tensors ...)
runs eagerly instead, with one warning naming the reason, so a scripted or traced model
always gives the results and gradients of the eager one. ``trace`` runs the example inputs
once (as PyTorch does), which also compiles that specialisation; unlike a PyTorch trace, a
call with other shapes or control flow taking another branch is recompiled (or run eagerly),
never silently wrong.

A scripted module is a ``ScriptModule`` (an ``nn.Module``) sharing its parameters, buffers,
submodules and attributes with the original module; methods of the original class are
reachable on it. ``jit.save`` writes it in Cadenza's checkpoint format (a safetensors file, no
pickle, no TorchScript archive) and ``jit.load`` reads it back and scripts it again: the
module's class must be importable in the loading program, under ``torch.load``'s rules
(``cadenza.serialization``).

>>> import cadenza as torch
>>> @torch.jit.script
... def f(x):
...     return (x * 2).sum()
>>> f(torch.ones(3))
tensor(6.)
"""
from __future__ import annotations

import builtins
import contextlib
import inspect
import typing

from ..compiler.compiled import CompiledFunction
from ..io import checkpoint as _ckpt
from ..nn.modules.module import Module
from ..futures import Future, fork as _fork, wait as _wait

__all__ = ["script", "trace", "trace_module", "save", "load", "ignore", "unused", "export",
           "is_scripting", "is_tracing", "script_method", "Final", "annotate", "ScriptModule",
           "RecursiveScriptModule", "ScriptFunction", "TopLevelTracedModule", "Attribute",
           "freeze", "optimize_for_inference", "fork", "wait", "script_if_tracing",
           "interface", "isinstance", "enable_onednn_fusion", "onednn_fusion_enabled",
           "set_fusion_strategy", "strict_fusion", "Future"]

Final = typing.Final
_isinstance = builtins.isinstance  # this module defines torch.jit.isinstance
_FORMAT = "cadenza.jit"
_tracing = [0]   # > 0 while trace() runs its example inputs


def _compiled(fn, name: str) -> CompiledFunction:
    return CompiledFunction(fn, fullgraph=False, name=f"torch.jit: {name}")


class ScriptFunction:
    """What ``script(fn)`` / ``trace(fn, ...)`` return: calls go through the compiled
    function; ``code`` is the Python source, ``graph`` the captured graph (after a call)."""

    def __init__(self, fn) -> None:
        self._fn = fn
        self.__wrapped__ = fn
        self.__name__ = getattr(fn, "__name__", type(fn).__name__)
        self.__qualname__ = getattr(fn, "__qualname__", self.__name__)
        self.__doc__ = getattr(fn, "__doc__", None)
        self._compiled = _compiled(fn, self.__qualname__)

    def __call__(self, *args, **kwargs):
        return self._compiled(*args, **kwargs)

    name = property(lambda self: self.__name__)
    qualified_name = property(lambda self: f"{self._fn.__module__}.{self.__qualname__}")
    graph = property(lambda self: self._compiled.graph)
    inlined_graph = graph
    code = property(lambda self: _source(self._fn))

    def __repr__(self) -> str:
        return f"<cadenza.jit.ScriptFunction {self.__qualname__}>"


def _source(fn) -> str:
    try:
        return inspect.getsource(fn)
    except (OSError, TypeError):
        return f"<source of {getattr(fn, '__qualname__', fn)!r} unavailable>"


class ScriptModule(Module):
    """``torch.jit.ScriptModule``: the base class of scripted and traced modules."""


class RecursiveScriptModule(ScriptModule):
    """A scripted module: the original module's state (one shared ``__dict__``: parameters,
    buffers, submodules, hooks, attributes) with ``forward`` compiled. Attributes that
    ``nn.Module`` lacks (the original class's own methods) come from the original module."""

    __slots__ = ("_jit_orig", "_jit_forward")

    def __init__(self, module) -> None:
        # no Module.__init__: the state is the original module's, not a copy
        object.__setattr__(self, "__dict__", module.__dict__)
        object.__setattr__(self, "_jit_orig", module)
        object.__setattr__(self, "_jit_forward",
                           _compiled(module.forward, f"{type(module).__name__}.forward"))

    def forward(self, *args, **kwargs):
        return self._jit_forward(*args, **kwargs)

    def __getattr__(self, name):
        try:
            return Module.__getattr__(self, name)
        except AttributeError:
            pass
        if name.startswith("_jit_"):
            raise AttributeError(name)
        return getattr(object.__getattribute__(self, "_jit_orig"), name)

    @property
    def original_name(self) -> str:
        return type(self._jit_orig).__name__

    graph = property(lambda self: self._jit_forward.graph)
    inlined_graph = graph
    code = property(lambda self: _source(type(self._jit_orig).forward))

    def save(self, f, _extra_files=None) -> None:
        save(self, f, _extra_files)

    # containers (Sequential, ModuleList, ModuleDict) index and iterate as the original does
    def __getitem__(self, idx):
        return self._jit_orig[idx]

    def __len__(self) -> int:
        return len(self._jit_orig)

    def __iter__(self):
        return iter(self._jit_orig)

    def __contains__(self, item) -> bool:
        return item in self._jit_orig

    def extra_repr(self) -> str:
        return self._jit_orig.extra_repr()

    def _get_name(self) -> str:
        return type(self._jit_orig).__name__

    def __repr__(self) -> str:
        return repr(self._jit_orig)

    def __reduce_ex__(self, protocol):
        raise TypeError("a scripted module is saved with torch.jit.save (or save its "
                        "original module / state_dict with torch.save)")


class TopLevelTracedModule(RecursiveScriptModule):
    """What ``trace(module, example_inputs)`` returns."""

    __slots__ = ()


def _scriptable(obj) -> bool:
    return getattr(obj, "_torchscript_modifier", None) not in ("ignore", "unused")


def script(obj, optimize=None, _frames_up=0, _rcb=None, example_inputs=None):
    """Compile a function or Module (see the module docstring); a class is returned as it
    is, an already scripted object unchanged."""
    if _isinstance(obj, (RecursiveScriptModule, ScriptFunction)):
        return obj
    if _isinstance(obj, Module):
        return RecursiveScriptModule(obj)
    if _isinstance(obj, type):
        return obj  # TorchScript classes: plain Python classes here
    if not callable(obj):
        raise RuntimeError(f"torch.jit.script: expected a function, method or Module, got "
                           f"{type(obj).__name__}")
    if not _scriptable(obj):
        return obj
    return ScriptFunction(obj)


def _as_tuple(example_inputs):
    if example_inputs is None:
        return ()
    return example_inputs if _isinstance(example_inputs, tuple) else (example_inputs,)


def trace(func, example_inputs=None, optimize=None, check_trace=True, check_inputs=None,
          check_tolerance=1e-5, strict=True, _force_outplace=False, _module_class=None,
          _compilation_unit=None, example_kwarg_inputs=None, _store_inputs=True):
    """Compile ``func`` (a function or Module) and run it once on ``example_inputs`` (a tuple,
    or one tensor), as PyTorch's trace runs it; ``check_*``, ``strict`` and the other flags
    are accepted (a Cadenza trace is checked by its guards on every call)."""
    if example_inputs is None and example_kwarg_inputs is None:
        raise RuntimeError("torch.jit.trace: example_inputs (or example_kwarg_inputs) is "
                           "required")
    if _isinstance(func, Module):
        traced = (func if _isinstance(func, RecursiveScriptModule)
                  else TopLevelTracedModule(func))
    elif callable(func):
        traced = func if _isinstance(func, ScriptFunction) else ScriptFunction(func)
    else:
        raise RuntimeError(f"torch.jit.trace: expected a function or Module, got "
                           f"{type(func).__name__}")
    _tracing[0] += 1
    try:
        traced(*_as_tuple(example_inputs), **(example_kwarg_inputs or {}))
    finally:
        _tracing[0] -= 1
    return traced


def trace_module(mod, inputs, optimize=None, check_trace=True, check_inputs=None,
                 check_tolerance=1e-5, strict=True, _force_outplace=False,
                 _module_class=None, _compilation_unit=None, example_inputs_is_kwarg=False,
                 _store_inputs=True):
    """``trace`` of ``mod`` given ``{method name: example inputs}``; ``forward`` is compiled,
    other methods stay reachable (and eager) on the result."""
    if not _isinstance(mod, Module) or not _isinstance(inputs, dict):
        raise AttributeError("torch.jit.trace_module: expected a Module and a dict of "
                             "method name -> example inputs")
    traced = TopLevelTracedModule(mod)
    _tracing[0] += 1
    try:
        for name, ex in inputs.items():
            method = traced.forward if name == "forward" else getattr(traced, name)
            if example_inputs_is_kwarg:
                method(**ex)
            else:
                method(*_as_tuple(ex))
    finally:
        _tracing[0] -= 1
    return traced


def save(m, f, _extra_files=None) -> None:
    """Write a scripted/traced module (or any Module) to ``f`` in Cadenza's checkpoint format;
    ``_extra_files`` ({name: str or bytes}) are stored with it."""
    if _isinstance(m, RecursiveScriptModule):
        m = m._jit_orig
    if not _isinstance(m, Module):
        raise TypeError(f"torch.jit.save: expected a ScriptModule, got {type(m).__name__}")
    extra = {k: v.encode() if _isinstance(v, str) else bytes(v)
             for k, v in (_extra_files or {}).items()}
    _ckpt.save({"format": _FORMAT, "module": m, "extra_files": extra}, f)


def load(f, map_location=None, _extra_files=None, _restore_shapes=False):
    """Read what ``save`` wrote and script it again. The module's class must be importable
    here (Cadenza stores no code); ``_extra_files`` given as {name: ""} is filled in."""
    obj = _ckpt.load(f, map_location=map_location)
    if not (_isinstance(obj, dict) and obj.get("format") == _FORMAT):
        raise RuntimeError(f"torch.jit.load: {f!r} was not written by torch.jit.save "
                           "(load checkpoints with torch.load)")
    if _extra_files is not None:
        for k in _extra_files:
            if k in obj["extra_files"]:
                _extra_files[k] = obj["extra_files"][k]
    return RecursiveScriptModule(obj["module"])


def _modifier(kind):
    def mark(fn):
        try:
            fn._torchscript_modifier = kind
        except AttributeError:
            pass
        return fn
    return mark


def ignore(drop=False, **kwargs):
    """``@torch.jit.ignore`` (or ``@torch.jit.ignore(drop=True)``): leave the function as
    Python. Everything is Python here, so the function is returned as it is."""
    if callable(drop):
        return _modifier("ignore")(drop)
    return _modifier("unused" if drop else "ignore")


unused = _modifier("unused")
export = _modifier("export")


def script_method(fn):
    """``@torch.jit.script_method`` of old ``ScriptModule`` subclasses: a plain method here
    (the subclass is an ``nn.Module``; script or trace the instance to compile it)."""
    return fn


def is_scripting() -> bool:
    """False: Cadenza runs (and compiles) Python; no TorchScript compiler reads the code."""
    return False


def is_tracing() -> bool:
    """True while ``trace`` runs its example inputs."""
    return _tracing[0] > 0


def annotate(the_type, the_value):
    return the_value


def Attribute(value, type=None):
    """``torch.jit.Attribute(value, type)`` in eager code: the value itself."""
    return value


def freeze(mod, preserved_attrs=None, optimize_numerics=True):
    """The module in eval mode (PyTorch folds its parameters into constants; compiled code
    here already specialises on them)."""
    if mod.training:
        raise RuntimeError("Freezing is currently only implemented for modules in eval mode. "
                           "Please call .eval() on your module before freezing.")
    return mod


def optimize_for_inference(mod, other_methods=None):
    return freeze(mod.eval() if mod.training else mod)


def fork(func, *args, **kwargs) -> Future:
    """Runs the call now (Cadenza has no interpreter threads) and returns a completed
    ``torch.futures.Future``."""
    return _fork(func, *args, **kwargs)


def wait(future: Future):
    return _wait(future)


def script_if_tracing(fn):
    return fn


def interface(obj):
    return obj


def isinstance(obj, target_type) -> bool:  # noqa: A001  (torch.jit.isinstance)
    """``torch.jit.isinstance``: ``isinstance`` that also understands ``List[int]``-style
    types (checked on the container and its items)."""
    origin = typing.get_origin(target_type)
    if origin is None:
        return _isinstance(obj, target_type)
    args = typing.get_args(target_type)
    if not _isinstance(obj, origin):
        return False
    if origin in (list, set, frozenset) and args:
        return all(isinstance(x, args[0]) for x in obj)
    if origin is dict and args:
        return all(isinstance(k, args[0]) and isinstance(v, args[1]) for k, v in obj.items())
    if origin is tuple and args:
        return len(obj) == len(args) and all(isinstance(x, t) for x, t in zip(obj, args))
    return True


_onednn = [False]


def enable_onednn_fusion(enabled: bool) -> None:
    _onednn[0] = bool(enabled)


def onednn_fusion_enabled() -> bool:
    return _onednn[0]


def set_fusion_strategy(strategy):
    """Accepted; returns the previous strategy (Cadenza's compiler fuses on its own)."""
    prev, _strategy[0] = _strategy[0], list(strategy)
    return prev


_strategy = [[("STATIC", 2), ("DYNAMIC", 10)]]


@contextlib.contextmanager
def strict_fusion():
    yield
