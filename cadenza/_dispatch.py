"""The bottom of the package: the process-wide switches every op reads, and the one protocol
through which tracing (``cadenza.graph``) and compiling (``cadenza.compiler``) observe eager
execution.

Eager code never imports ``graph`` or ``compiler``. While ``cadenza.compile`` traces a call it
installs a :class:`DispatchObserver` (the tracer) in ``state.tracer``; eager code on its few
hook points
(``ops.apply``, creation functions, in-place commits, the autograd engine, ``zero_grad``,
conversions that need a concrete value) checks ``state.tracer is not None`` (one attribute
load on the hot path) and calls the protocol's methods. The profiler
(``cadenza.autograd.profiler``) hooks ``ops.apply`` and the engine the same way, through
``state.profiler``. Objects whose Python state a compiled
call depends on (Modules, Optimizers) are found through :func:`register_stateful`, not by
importing ``nn`` or ``optim``.
"""
from __future__ import annotations

import linecache
from operator import attrgetter
import os
import sys

PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


class _State:
    """Process-wide switches read on every op. One instance, ``state``: its fields are slots
    (an attribute load of a slot is ~3x cheaper than one of a class attribute, and ``apply``
    reads them on every op).

    ``plain`` is True while none of the six hooks of ``apply`` is on (no anomaly detection,
    no tracer, no profiler, no autocast region, no saved-tensor hooks, no inference mode): the
    one field the hot path reads for all six. The hook fields are properties whose setters
    keep it up to date."""
    __slots__ = ("grad_enabled", "inference_seen", "anomaly_check_nan", "in_backward", "plain",
                 "saved_hooks_off", "_anomaly", "_tracer", "_profiler", "_autocast",
                 "_saved_hooks", "_inference")

    def __init__(self):
        self.grad_enabled = True
        self._inference = False   # inside torch.inference_mode: outputs are inference tensors
        self.inference_seen = False   # inference_mode was ever on (inference tensors may exist)
        self.anomaly_check_nan = True
        self.in_backward = 0      # > 0 while the engine runs backward rules
        self._anomaly = False
        self._tracer = None       # the installed DispatchObserver while compile traces a call
        self._profiler = None     # the recorder of cadenza.autograd.profiler while it records
        self._autocast = None     # the reduced-precision dtype inside an enabled autocast region
        # (pack, unpack) of the innermost torch.autograd.graph.saved_tensors_hooks, and the
        # message of disable_saved_tensors_hooks while it is on (autograd/graph.py)
        self._saved_hooks = None
        self.saved_hooks_off = None
        self.plain = True

    def _hooks_changed(self):
        self.plain = not self._anomaly and self._tracer is None and self._profiler is None \
            and self._autocast is None and self._saved_hooks is None and not self._inference


def _hook_field(slot):
    def set_(self, value):
        setattr(self, slot, value)
        self._hooks_changed()
    return property(attrgetter(slot), set_)


_State.anomaly = _hook_field("_anomaly")
_State.tracer = _hook_field("_tracer")
_State.profiler = _hook_field("_profiler")
_State.autocast = _hook_field("_autocast")
_State.saved_hooks = _hook_field("_saved_hooks")
_State.inference = _hook_field("_inference")
state = _State()


class DispatchObserver:
    """What eager execution tells an observer (the tracer of ``cadenza.graph.trace``).

    Every method is called only while the observer is installed in ``state.tracer``;
    ``paused`` > 0 means the observer asked not to be told (it is running eager code itself).
    """
    paused = 0
    backward_ran = False   # set by the autograd engine when backward() runs under observation

    def record(self, op, args, attrs, out) -> None:
        """A primitive ran through ``ops.apply`` and produced ``out``."""
        raise NotImplementedError

    def created(self, t) -> None:
        """A creation function made ``t`` (a constant of the observed computation)."""
        raise NotImplementedError

    def commit(self, t, new) -> None:
        """An in-place op wrote ``new``'s value into ``t``'s storage."""
        raise NotImplementedError

    def concrete(self, t, what: str) -> None:
        """Python needs ``t``'s value (``item()``, ``bool``, printing): ``what`` names it."""
        raise NotImplementedError

    def is_const(self, t) -> bool:
        """Whether ``t`` is a constant of the observed computation (safe to read raw)."""
        raise NotImplementedError

    def fail(self, message: str) -> None:
        """The computation cannot be captured: ``message`` says where and what to do."""
        raise NotImplementedError

    def note_grad(self, t) -> None:
        """The engine accumulated a gradient into ``t.grad``."""
        raise NotImplementedError

    def note_cleared(self, p) -> None:
        """``zero_grad(set_to_none=True)`` set ``p.grad`` to None."""
        raise NotImplementedError

    def random(self, fn, args, kwargs):
        """A random creation function is called: return its result (drawn again on replay)."""
        raise NotImplementedError

    def host(self, fn, args):
        """Python float maths on 0-d tensors (optimizer scalars): return a 0-d tensor."""
        raise NotImplementedError

    def hyper_input(self, group: dict, key: str):
        """An optimizer hyperparameter ``group[key]`` read as an input on every replay."""
        raise NotImplementedError


# ----------------------------------------------------------------------------- stateful objects
_STATEFUL: dict = {}   # class -> kind ("module", "optimizer")


def register_stateful(cls: type, kind: str) -> type:
    """Declare that instances of ``cls`` hold state a compiled call depends on (``nn.Module``
    registers as "module", ``optim.Optimizer`` as "optimizer"); guards look them up here."""
    _STATEFUL[cls] = kind
    return cls


def stateful_kind(obj) -> str | None:
    """"module", "optimizer" or None for any object."""
    for cls, kind in _STATEFUL.items():
        if isinstance(obj, cls):
            return kind
    return None


def stateful_types() -> tuple:
    return tuple(_STATEFUL)


# ----------------------------------------------------------------------------- user frames
def user_frame(skip: int = 1):
    """(filename, lineno, function name) of the innermost frame outside the cadenza package:
    where errors, graph nodes and anomaly reports point."""
    f = sys._getframe(skip)
    while f is not None and f.f_code.co_filename.startswith(PACKAGE_DIR):
        f = f.f_back
    if f is None:
        return ("<unknown>", 0, "")
    return (f.f_code.co_filename, f.f_lineno, f.f_code.co_name)


def user_line(short: bool = False) -> str:
    """'file:line' of the user's frame (``short``: the file's base name only)."""
    fn, ln, _ = user_frame(2)
    return f"{os.path.basename(fn) if short else fn}:{ln}"


def user_source() -> str:
    """'file:line in func: code' of the user's frame (anomaly reports)."""
    fn, ln, name = user_frame(2)
    if not ln:
        return "<unknown source>"
    code = linecache.getline(fn, ln).strip()
    return f"{fn}:{ln} in {name}: {code}"
