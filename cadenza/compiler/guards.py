"""What a compiled specialisation depends on, and how to check it on each call.

- ``flatten`` (from ``graph.pytree``): arguments and results as leaves of a small pytree.
- ``input_spec``: per argument leaf, tensors by (shape, dtype, device, requires_grad), Python
  scalars by value, other objects by identity; plus the aliasing pattern of tensor arguments.
- ``discover``: the Modules, Optimizers, tensors and Python scalars the function can reach
  (its arguments, ``self``, closure cells, and the globals its code names), giving readable
  names to parameters, buffers and optimizer state and one guard per object:
  training flags, parameter/buffer identities, whether each ``.grad`` is None, optimizer
  hyperparameters and state structure, closure/global tensor identities and global scalars.
"""
from __future__ import annotations

import types
from itertools import chain
from operator import attrgetter, itemgetter

import numpy as np

from .._tensor import Tensor
from .._dispatch import stateful_kind, stateful_types
from ..graph.trace import _root
from ..graph.pytree import flatten, unflatten, flatten_result  # noqa: F401  (used by compiled)
from .._dispatch import state as _state
from ..dtypes import _default as _default_dtype
from ..nn.modules.module import _global_forward_pre_hooks as _global_pre, \
    _global_forward_hooks as _global_post

_SCALARS = (bool, int, float, str, type(None), complex)
_SCALAR_TYPES = frozenset(_SCALARS)
# attribute values a trace bakes in beside scalars: containers (by their items) and functions
# (by identity): ``self.scales[1] = 5.0``, ``self.act = torch.tanh`` between calls trace again
_CONTAINER_TYPES = frozenset((list, tuple, dict))
_CALLABLE_TYPES = frozenset((types.FunctionType, types.BuiltinFunctionType, types.MethodType,
                             types.LambdaType))


def input_spec(leaves, treedef):
    """A hashable description of the call's arguments (the "inputs" guard)."""
    spec = [treedef]
    first: dict = {}
    roots: dict = {}
    for i, x in enumerate(leaves):
        if isinstance(x, Tensor):
            a = x._data
            # contiguity (a trace bakes in is_contiguous() branches; other strides of the same
            # layout replay: a KV-cache window of another cache size does not recompile);
            # views of one buffer passed as different tensors (``f(base, base[1:])``): the
            # trace must see that an in-place write to one changes the other
            r = a if a.base is None else _root(a)
            spec.append(("T", a.shape, a.dtype.str, type(a) is np.ndarray, x._requires_grad,
                         first.setdefault(id(x), i), a.flags.c_contiguous,
                         roots.setdefault(id(r), i)))
        elif isinstance(x, _SCALARS):
            spec.append(("S", type(x).__name__, x.hex() if isinstance(x, float) else x))
        else:
            spec.append(("O", id(x)))
    return tuple(spec)


def describe_spec_change(old, new, paths) -> str:
    if old[0] != new[0]:
        return "argument structure changed"
    for i, (a, b) in enumerate(zip(old[1:], new[1:])):
        if a == b:
            continue
        name = f"argument {paths[i] or i}" if i < len(paths) else f"argument {i}"
        if a[0] == b[0] == "T":
            for what, j in (("shape", 1), ("dtype", 2), ("device", 3), ("requires_grad", 4),
                            ("aliasing", 5), ("contiguous", 6), ("memory sharing", 7)):
                if a[j] != b[j]:
                    fmt = (lambda v: str(np.dtype(v))) if what == "dtype" else \
                        (lambda v: ("cpu" if v else "cuda")) if what == "device" else \
                        (lambda v: tuple(v) if isinstance(v, tuple) else v)
                    return f"{name}.{what}: {fmt(a[j])} -> {fmt(b[j])}"
        if a[0] == b[0] == "S":
            fa = float.fromhex(a[2]) if a[1] == "float" else a[2]
            fb = float.fromhex(b[2]) if b[1] == "float" else b[2]
            return f"{name} (Python {a[1]}): {fa!r} -> {fb!r}"
        return f"{name}: {_kind(a)} -> {_kind(b)}"
    return "argument count changed"


def _kind(s):
    return {"T": "Tensor", "S": f"Python {s[1]}", "O": "another object"}[s[0]]


# ----------------------------------------------------------------------------- guards
class Guard:
    """One thing a specialisation is keyed on: ``get()`` reads its current value, ``label``
    names it in recompile explanations, and ``kind`` says what it guards so the compiler finds
    a guard by what it is, never by its label: "grad_mode", "grads" (which ``.grad`` are None),
    "python_state" (scalar attributes), "module", "optimizer", "identity" (a closure tensor),
    "value" (a closure/global scalar), "items" (a closure/global list or dict), "modes" (default
    dtype, autocast, global hooks), "requires_grad" (of the traced outputs), "lifted"
    (shape and dtype of a tensor read live by the graph)."""
    __slots__ = ("label", "get", "kind", "values", "quick")

    def __init__(self, label: str, get, kind: str, values=None, quick=None):
        self.label, self.get, self.kind = label, get, kind
        # optional cheap form of get() for a guard whose value is a tuple of (label, value)
        # pairs: the values alone, in the same order (no label strings made on every call)
        self.values = values
        # optional: a tuple of every object get() reads its value from (attribute values,
        # parameters, arrays). When each is the very object of the last call whose guard
        # held, the guard holds again without computing get() (compared by identity, in C:
        # a decoding step's module and attribute guards cost ~10x more computed)
        self.quick = quick

    def __repr__(self) -> str:
        return f"Guard({self.label!r}, kind={self.kind!r})"


def find_guard(guards, kind: str) -> int:
    """Index of the (first) guard of ``kind``."""
    return next(i for i, g in enumerate(guards) if g.kind == kind)


# ----------------------------------------------------------------------------- discovery
class Discovery:
    """Objects a function can reach, their readable names, and their guards."""

    def __init__(self):
        self.modules: list = []      # (name, module)
        self.optimizers: list = []   # (name, optimizer)
        self.names: dict = {}        # id(tensor) -> name
        self.params: list = []       # tensors whose .grad the trace may change
        self.guards: list = []       # Guard objects
        self.stateful: list = []     # (name, object): Python attributes a call may read
        self.grad_guarded: list = []  # (name, param): "is .grad None" is part of the key
        self.grad_free: set = set()   # id(param) whose trace cleared .grad before using it
        self._grad_ids: set = set()
        self.group_names: dict = {}  # id(param group) -> "opt.param_groups[0]"
        self.hyper_labels: set = set()  # hyperparameters the trace reads as graph inputs
        self._held = None
        self._objects: list = []
        self._grad_params: list = []
        self.guards.append(Guard("grad is None", self.grad_state, "grads",
                                 quick=self.grad_objects))

    def guard_grad(self, name, p) -> None:
        if id(p) not in self._grad_ids:
            self._grad_ids.add(id(p))
            self.grad_guarded.append((f"{name}.grad is None", p))
            self._grad_params.append(p)

    def grad_state(self) -> tuple:
        """(name, p.grad is None) per parameter whose starting .grad the trace may depend on."""
        free = self.grad_free
        return tuple((name, p.grad is None) for name, p in self.grad_guarded
                     if id(p) not in free)

    def release_grads(self, cleared: set, start: tuple) -> tuple:
        """Stop guarding the parameters in ``cleared``; ``start`` (grad_state() before the
        trace) filtered the same way is the new expected value."""
        self.grad_free = set(cleared)
        return tuple(e for e, (_, p) in zip(start, self.grad_guarded)
                     if id(p) not in self.grad_free)

    def python_state(self, labelled: bool = False) -> tuple:
        """The value of every scalar attribute (int, float, bool, str, None) of the objects
        the function reaches (modules, plain-object arguments) and of plain objects they held
        when traced (``self.cache.pos``); ``labelled`` gives (label, value) pairs. A trace
        bakes such values in as constants, so they are guarded, and a call that changes one
        cannot be replayed (see compiled.py). Runs on every call: plain type checks only."""
        if self._held is None:       # which attributes hold plain objects, found once
            seen = {id(obj) for _, obj in self.stateful}
            self._held = []
            for name, obj in self.stateful:
                held = []
                for k, v in vars(obj).items():     # a config shared by every layer: once
                    if type(v) not in _SCALAR_TYPES and id(v) not in seen and _plain(v):
                        seen.add(id(v))
                        held.append((f"{name}.{k}", v))
                self._held.append((name, obj))
                self._held += held
            self._objects = [obj for _, obj in self._held]
            # mutable containers held in public attributes: their items are quick() objects
            self._mutable = [(obj, k) for obj in self._objects for k, v in vars(obj).items()
                             if type(v) in (list, dict) and not k.startswith("_")]
        out = []
        for name, obj in self._held:
            for k, v in vars(obj).items():
                t = type(v)
                if t in _SCALAR_TYPES:
                    v = v.hex() if t is float else v
                elif t in _CONTAINER_TYPES and not k.startswith("_"):
                    v = _contents(v)
                elif t in _CALLABLE_TYPES:
                    v = ("object", id(v))
                else:
                    continue
                out.append((f"{name}.{k}", v) if labelled else v)
        return tuple(out)

    def python_objects(self) -> tuple:
        """Every attribute value of the objects python_state() reads, and the items (and
        keys) of the lists and dicts among them (its ``quick`` form)."""
        if self._held is None:
            self.python_state()
        base = chain.from_iterable(map(dict.values, map(vars, self._objects)))
        if not self._mutable:
            return tuple(base)
        return tuple(chain(base, chain.from_iterable(
            _items(getattr(obj, k, None)) for obj, k in self._mutable)))

    def grad_objects(self) -> tuple:
        """The ``.grad`` of every guarded parameter (grad_state()'s ``quick`` form)."""
        return tuple(map(_grad_of, self._grad_params))

    def grad_owner(self) -> dict:
        return {id(p.grad): p for p in self.params if p.grad is not None}


_grad_of = attrgetter("grad")
_params_in = itemgetter("params")
_params_of, _buffers_of, _modules_of, _training_of = (
    attrgetter("_parameters"), attrgetter("_buffers"), attrgetter("_modules"),
    attrgetter("training"))


def _plain(obj) -> bool:
    """A user object whose attributes are state (not a tensor, module, function, class...)."""
    return hasattr(obj, "__dict__") and not isinstance(
        obj, stateful_types() + (Tensor, type, types.ModuleType, types.FunctionType,
              types.MethodType, np.ndarray, dict, list, tuple, set, frozenset))


def _code_names(code, out):
    out.update(code.co_names)
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            _code_names(c, out)
    return out


def discover(fn, leaves, leaf_names) -> Discovery:
    d = Discovery()
    seen: set = set()

    def visit(name, obj, container_guard=None, depth=0):
        if id(obj) in seen and not isinstance(obj, _SCALARS):
            return
        kind = stateful_kind(obj)
        if kind == "module":
            seen.add(id(obj))
            d.modules.append((name, obj))
            _module_guards(d, name, obj)
        elif kind == "optimizer":
            seen.add(id(obj))
            d.optimizers.append((name, obj))
            _optimizer_guards(d, name, obj)
        elif isinstance(obj, Tensor):
            seen.add(id(obj))
            d.names.setdefault(id(obj), name)
            if obj._requires_grad and obj.grad_fn is None:
                d.params.append(obj)
                # backward() in the trace either created .grad or accumulated into it
                d.guard_grad(name, obj)
            if container_guard is not None:
                d.guards.append(Guard(f"{name} (identity)", container_guard, "identity"))
        elif isinstance(obj, (list, tuple, dict)) and depth == 0:
            items = obj.items() if isinstance(obj, dict) else enumerate(obj)
            for k, v in items:
                if isinstance(v, Tensor) or stateful_kind(v) is not None:
                    visit(f"{name}[{k!r}]", v, None, 1)
        elif isinstance(obj, _SCALARS) and container_guard is not None:
            d.guards.append(Guard(name, container_guard, "value"))
        elif _plain(obj) and depth == 0:
            seen.add(id(obj))
            d.stateful.append((name, obj))

    for x, p in zip(leaves, leaf_names):
        if not isinstance(x, (Tensor,) + _SCALARS):
            visit(p, x)
    # reads d.stateful when called
    d.guards.append(Guard("Python attributes", d.python_state, "python_state",
                          quick=d.python_objects))
    bound = getattr(fn, "__self__", None)
    if bound is not None:
        visit(type(bound).__name__.lower() if not hasattr(bound, "_modules") else "self", bound)
        fn = fn.__func__
    code = getattr(fn, "__code__", None)
    if code is None:
        return d
    for name, cell in zip(code.co_freevars, getattr(fn, "__closure__", None) or ()):
        try:
            value = cell.cell_contents
        except ValueError:
            continue
        visit(name, value, _cell_getter(cell))
        _guard_object(d, name, value, _cell_getter(cell))
    glb = getattr(fn, "__globals__", {})
    for name in sorted(_code_names(code, set())):
        if name in glb:
            value = glb[name]
            if isinstance(value, (types.ModuleType, type, types.BuiltinFunctionType)):
                continue
            if not isinstance(value, types.FunctionType):
                visit(name, value, _global_getter(glb, name))
            _guard_object(d, name, value, _global_getter(glb, name))
    return d


def _guard_object(d, name, value, getter) -> None:
    """A closure cell or global naming an object (a module, an optimizer, a function, a
    list or dict, a config object) is rebound between calls: trace again (scalars and
    tensors have their guards from visit()). A non-empty list or dict of scalars and tensors
    (a config, a buffer list) is guarded by its items too; one of other objects (shapes a
    hook collects) is not."""
    if isinstance(value, (Tensor,) + _SCALARS):
        return
    d.guards.append(Guard(f"{name} (identity)", getter, "identity"))
    if type(value) in (list, dict) and value and all(
            isinstance(v, (Tensor,) + _SCALARS)
            for v in (value.values() if type(value) is dict else value)):
        d.guards.append(_container_guard(name, value))


def _item_value(v):
    if isinstance(v, Tensor):
        return ("tensor", id(v))
    return _scalar_value(v)


def _contents(c) -> tuple:
    """A list/tuple/dict as the values a trace may have baked in: scalars by value, anything
    else (tensors, modules, nested containers) by identity; one level deep."""
    if type(c) is dict:
        return tuple((k, _item_value(v)) for k, v in c.items())
    return tuple(map(_item_value, c))


def _items(c) -> tuple:
    """The objects _contents(c) reads (keys and values of a dict), for identity checks."""
    if type(c) is dict:
        return (*c, *c.values())
    return tuple(c) if type(c) in (list, tuple) else (c,)


def _container_guard(name, c) -> Guard:
    """The items of a list or dict a function reaches through a closure or a global
    (``cfg['scale'] = 2``, ``buf[0] = t`` between calls trace again)."""
    return Guard(f"{name} (items)", lambda: _contents(c), "items",
                 quick=lambda: _items(c))


def _cell_getter(cell):
    def get():
        try:
            v = cell.cell_contents
        except ValueError:
            return None
        return id(v) if isinstance(v, Tensor) else _scalar_value(v)
    return get


def _global_getter(glb, name):
    def get():
        v = glb.get(name)
        return id(v) if isinstance(v, Tensor) else _scalar_value(v)
    return get


def _scalar_value(v):
    if isinstance(v, float):
        return ("float", v.hex())
    return v if isinstance(v, _SCALARS) else ("object", id(v))


def _module_guards(d, name, m):
    entries = []
    for path, sub in m.named_modules(prefix=name):
        entries.append((sub, path))
        d.stateful.append((path, sub))
        for pn, p in sub._parameters.items():
            if p is not None:
                d.names.setdefault(id(p), f"{path}.{pn}")
                d.params.append(p)
                d.guard_grad(f"{path}.{pn}", p)
        for bn, b in sub._buffers.items():
            if b is not None:
                d.names.setdefault(id(b), f"{path}.{bn}")

    def get():
        out = []
        for sub, path in entries:
            out.append((f"{path}.training", sub.training))
            for pn, p in sub._parameters.items():
                out.append((f"{path}.{pn} (identity)", id(p)))
            for bn, b in sub._buffers.items():
                out.append((f"{path}.{bn} (identity)", id(b)))
            out.append((f"{path} submodules", tuple(sub._modules)))
            # a submodule replaced under the same name: the graph read the old one's
            # parameters and attributes
            out.append((f"{path} submodules (identity)", tuple(map(id, sub._modules.values()))))
            out.append((f"{path} hooks", _hook_ids(sub)))
        return tuple(out)

    def values():
        out = []
        add, extend = out.append, out.extend
        for sub, _ in entries:
            add(sub.training)
            extend(map(id, sub._parameters.values()))
            extend(map(id, sub._buffers.values()))
            add(tuple(sub._modules))
            add(tuple(map(id, sub._modules.values())))
            add(_hook_ids(sub))
        return tuple(out)
    subs = [sub for sub, _ in entries]

    def objects():      # (C-level iteration: no Python loop over the submodules)
        return tuple(chain(map(_training_of, subs),
                           chain.from_iterable(map(dict.values, map(_params_of, subs))),
                           chain.from_iterable(map(dict.values, map(_buffers_of, subs))),
                           chain.from_iterable(map(_modules_of, subs)),
                           chain.from_iterable(map(dict.values, map(_modules_of, subs))),
                           *(chain.from_iterable(map(dict.values, map(h, subs)))
                             for h in _hook_dicts_of)))
    d.guards.append(Guard(name, get, "module", values, objects))


_HOOK_DICTS = ("_forward_pre_hooks", "_forward_hooks", "_backward_hooks", "_backward_pre_hooks")


def _hook_ids(m) -> tuple:
    """The ids of a module's hooks: a hook registered or removed after tracing (the trace ran
    the hooks there were) traces again."""
    dd = m.__dict__
    return tuple(tuple(dd[k]) for k in _HOOK_DICTS)


_hook_dicts_of = tuple(map(attrgetter, _HOOK_DICTS))


def _optimizer_guards(d, name, opt):
    for gi, group in enumerate(opt.param_groups):
        for pi, p in enumerate(group["params"]):
            pname = d.names.get(id(p), f"{name}.param_groups[{gi}].params[{pi}]")
            d.names.setdefault(id(p), pname)
            d.params.append(p)
            d.guard_grad(pname, p)
            for k, v in opt.state.get(p, {}).items():
                if isinstance(v, Tensor):
                    d.names.setdefault(id(v), f"{name}.state[{pname}].{k}")

    for gi, group in enumerate(opt.param_groups):
        d.group_names[id(group)] = f"{name}.param_groups[{gi}]"

    def get():
        out = []
        skip = d.hyper_labels    # read as graph inputs on every call: not part of the key
        for gi, group in enumerate(opt.param_groups):
            for k, v in group.items():
                if k in ("params", "param_names"):
                    continue
                label = f"{name}.param_groups[{gi}]['{k}']"
                if label not in skip:
                    out.append((label, v.item() if isinstance(v, Tensor) else v))
            for pi, p in enumerate(group["params"]):
                pn = f"{name}.param_groups[{gi}].params[{pi}]"
                out.append((f"{pn} (identity)", id(p)))
                st = opt.state.get(p)
                out.append((f"{name}.state[{pi}] keys", tuple(st) if st else ()))
                if st:
                    for k, v in st.items():
                        out.append((f"{name}.state[{pi}]['{k}'] (identity)",
                                    id(v) if isinstance(v, Tensor) else v))
        return tuple(out)

    labels: dict = {}      # (group index, key) -> its label in get()

    def values():       # get()'s values alone, in its order (no label strings per call)
        out = []
        add = out.append
        skip = d.hyper_labels
        state = opt.state
        for gi, group in enumerate(opt.param_groups):
            for k, v in group.items():
                if k == "params" or k == "param_names":
                    continue
                label = labels.get((gi, k))
                if label is None:
                    label = labels[(gi, k)] = f"{name}.param_groups[{gi}]['{k}']"
                if label not in skip:
                    add(v.item() if isinstance(v, Tensor) else v)
            for p in group["params"]:
                add(id(p))
                st = state.get(p)
                if st:
                    add(tuple(st))
                    for v in st.values():
                        add(id(v) if isinstance(v, Tensor) else v)
                else:
                    add(())
        return tuple(out)

    def objects():      # every object values() reads; a tensor hyperparameter (changed in
        groups = opt.param_groups       # place, same object) never passes by identity
        params = list(chain.from_iterable(map(_params_in, groups)))
        states = [s for s in map(opt.state.get, params) if s]
        hyper = list(chain.from_iterable(map(dict.values, groups)))
        if any(isinstance(v, Tensor) for v in hyper):
            hyper.append(object())
        return tuple(chain(hyper, params, states, map(len, states),
                           chain.from_iterable(map(dict.keys, states)),
                           chain.from_iterable(map(dict.values, states))))
    d.guards.append(Guard(name, get, "optimizer", values, objects))


def describe_guard_change(label, old, new) -> str:
    """One readable phrase for a failed guard (tuples of (label, value) are diffed)."""
    if isinstance(old, tuple) and isinstance(new, tuple) and old and \
            isinstance(old[0], tuple) and len(old[0]) == 2 and isinstance(old[0][0], str):
        for a, b in zip(old, new):
            if a != b:
                if a[0] != b[0]:
                    return f"{label}: structure changed ({a[0]} -> {b[0]})"
                return describe_guard_change(a[0], a[1], b[1])
        return f"{label}: structure changed ({len(old)} -> {len(new)} entries)"
    if label.endswith("(identity)"):
        return f"{label[:-len(' (identity)')]}: replaced by another object"
    return f"{label}: {_show(old)} -> {_show(new)}"


def _show(v):
    if isinstance(v, tuple) and len(v) == 2 and v[0] == "float":
        return repr(float.fromhex(v[1]))
    return repr(v)


def grad_mode_guard():
    return Guard("grad mode", lambda: _state.grad_enabled, "grad_mode")


def modes_guard():
    """Process-wide settings a trace bakes in besides grad mode: the default dtype (factory
    calls), the autocast dtype, and the global module forward hooks."""
    return Guard("default dtype / autocast / global hooks", _modes, "modes")


def _modes():
    return (_default_dtype[0], _state._autocast, tuple(_global_pre), tuple(_global_post))
