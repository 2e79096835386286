"""Compiled callables: a cache of specialisations, each a traced and optimised Graph with the
guards it was traced under and the bindings that put its outputs back (returned values,
write-backs into tensors changed in place, ``.grad`` updates). A call that returns tensors
needing grad, with backward left to the caller, gets a forward and a backward graph joined by
one autograd node (autograd_bridge.py)."""
from __future__ import annotations

import os
import sys
import warnings

import numpy as np

from .._config import debug_level
from .._tensor import Tensor, _make
from .._dispatch import state as _state
from ..graph.pipeline import optimize
from .._dispatch import user_frame
from ..autograd.profiler import record_function
from ..graph.trace import Lifted, Tracer, _root
from . import autograd_bridge as AB
from ..errors import TraceError
from . import guards as G
import copy
import inspect
from operator import attrgetter, is_
from ..codegen import make_runner
from ..nn.modules.module import Module

STATS = {"compiles": 0, "cache_hits": 0, "eager_fallbacks": 0, "recompiles": 0, "warmups": 0}
MAX_CACHE = 8


class Specialisation:
    """One traced graph and everything needed to check and run it."""

    def __init__(self, spec, guards, expected, backend="c"):
        self.spec = spec
        self.backend = backend
        self.guards = guards          # [G.Guard]
        self.expected = expected      # [value at trace start]
        self.eager = False            # this specialisation runs eagerly (see _trace)
        self.graph = None
        self.run_graph = None
        self.res = None
        self.autograd = None          # AB.Plan: returned tensors get compiled backward nodes
        self.fast = None              # [(getter, expected)] as failed_guard compares them
        self.held = None              # per guard: its quick() objects when it last held
        self.in_arrays = None         # the input arrays of the last call, and their roots'
        self.in_root_ids = None       # ids (see _root_sets)
        self.in_roots = None

    def failed_guard(self):
        """None if every guard holds, else (guard, expected, current). Guards with a cheap
        ``values`` form are compared by their values alone (labels only for the report)."""
        fast = self.fast
        if fast is None or len(fast) != len(self.guards):
            self.fast = fast = [(g.values, tuple(v for _, v in want))
                                if g.values is not None and _labelled(want) else (g.get, want)
                                for g, want in zip(self.guards, self.expected)]
            self.held = [None] * len(fast)
        held = self.held
        for j, ((get, want), guard, full) in enumerate(zip(fast, self.guards, self.expected)):
            quick = guard.quick
            if quick is not None:
                objs = quick()
                last = held[j]
                if last is not None and len(last) == len(objs) and all(map(is_, last, objs)):
                    continue      # the very objects of a call where the guard held
            if get() != want:
                got = guard.get()
                if got != full:
                    return guard, full, got
            if quick is not None:
                held[j] = objs
        return None

    def bind(self, res, plan=None):
        self.res = res
        self.autograd = plan
        self.graph = optimize(res.graph) if plan is None else plan.forward
        backend = self.backend
        if any(type(L.array) is not np.ndarray for L in res.lifted):
            backend = "numpy"   # generated kernels are CPU code: CUDA graphs run op by op
        # write-backs a kernel may compute straight into the tensor's own buffer (no copy
        # after the call); not with a compiled backward, which may read the old values
        inplace = {} if plan is not None else {
            self.graph.outputs[oi].id: res.lifted[j].value.id for j, oi in res.writebacks}
        self.run_graph = _make_runner(self.graph, backend, inplace)
        if plan is not None:
            plan.backward_runner = _make_runner(plan.backward, backend)
        # the shape and dtype of every tensor the graph reads live (parameters, buffers,
        # state): one guard, read in one pass on every call
        # (a hyperparameter is always a 0-d float64 array: nothing to guard)
        live = [L for L in res.lifted if L.src[0] not in ("arg", "hyper")]
        if live:
            guard = _lifted_guard(live)
            self.guards.append(guard)
            self.expected.append(guard.get())
        # how run() finds each graph input: an argument leaf (by index), or a live tensor
        self.sources = [(L.src[1], None) if L.src[0] == "arg" else
                        (None, L.src[1]) if L.src[0] == "tensor" else (None, L)
                        for L in res.lifted]

    def _root_sets(self, arrays):
        """(ids of the buffer roots of the write-backs' destinations, ids of the roots of every
        input array and constant): ``_root`` is taken again only for arrays that are not the
        very objects of the last call (held here; an array's base chain never changes)."""
        held = self.in_arrays
        if held is not None and len(held) == len(arrays) and all(map(is_, arrays, held)):
            return self.in_roots
        if held is None or len(held) != len(arrays):
            held = self.in_arrays = [None] * len(arrays)
            self.in_root_ids = [0] * len(arrays)
        ids = self.in_root_ids
        for i, a in enumerate(arrays):
            if a is not held[i]:
                held[i] = a
                ids[i] = id(_root(a))
        self.in_roots = ({ids[j] for j, _ in self.res.writebacks},
                         set(ids) | self.run_graph.const_roots)
        return self.in_roots

    def run(self, leaves):
        res = self.res
        lifted = [leaves[i] if t is None else t if type(t) is not Lifted else t.resolve(leaves)
                  for i, t in self.sources]
        arrays = [t._data for t in lifted]
        outs = self.run_graph(arrays)
        # write-backs: copy first any value that aliases a buffer about to be overwritten
        dests, owned = self._root_sets(arrays)
        pending = []
        for j, oi in res.writebacks:
            a = outs[oi]
            t = lifted[j]
            if a is t._data:        # a kernel already wrote it there
                t._vc[0] += 1
                continue
            if id(_root(a)) in dests:
                a = a.copy()
            pending.append((t, a))
        plan = self.autograd
        if plan is not None:   # before the write-backs, which may change what backward reads
            kept = plan.keep(arrays, outs, dests if pending else None)
        for t, a in pending:
            np.copyto(t._data, a, casting="unsafe")
            t._vc[0] += 1
        if res.grad_sets:
            handed: set = set()

            def fresh(a):
                r = id(_root(a))
                if r in owned or id(a) in handed:
                    a = a.copy()
                handed.add(id(a))
                return _make(a)
            for p, oi in res.grad_sets:
                p.grad = fresh(outs[oi])
        for p, j in res.grad_objs:
            p.grad = lifted[j]
        for p in res.grad_clears:
            p.grad = None
        for obj, name, oi in res.attr_sets:
            a = outs[oi]
            setattr(obj, name, _make(a if id(_root(a)) not in self.run_graph.const_roots
                                     else a.copy()))
        tmpl, rebuild = res.template
        vals = []
        for kind, x in tmpl:
            if kind == "out":
                a = outs[x]
                vals.append(_make(a) if id(_root(a)) not in self.run_graph.const_roots
                            else _make(a.copy()))
            elif kind == "obj":
                vals.append(lifted[x])
            else:
                vals.append(x)
        if plan is not None:
            plan.attach(vals, lifted, arrays, kept)
        return rebuild(vals)


_data_of = attrgetter("_data")
_requires_grad_of = attrgetter("_requires_grad")


def _labelled(v) -> bool:
    """A guard value made of (label, value) pairs."""
    return isinstance(v, tuple) and all(
        type(e) is tuple and len(e) == 2 and type(e[0]) is str for e in v)


def _make_runner(graph, backend, inplace=None):
    """The one place graphs become runnable: generated kernels, or the NumPy interpreter."""
    return make_runner(graph, backend, inplace)


def _requires_grad_getter(res):
    """The requires_grad flags of captured tensors (arguments' are in the input spec): a
    parameter frozen or unfrozen after tracing changes which outputs need grad."""
    ts = [(L.name, L.src[1]) for L in res.lifted if L.src[0] == "tensor"]
    tensors = [t for _, t in ts]

    def get():
        return tuple((f"{name}.requires_grad", t._requires_grad) for name, t in ts)

    def values():       # (the flags are True/False: compared by identity as quick() objects)
        return tuple(map(_requires_grad_of, tensors))
    return get, values


def _lifted_guard(live) -> G.Guard:
    """The "lifted" guard: (shape, dtype) of each tensor in ``live`` (Lifted entries that are
    not arguments; None for a ``.grad`` that is gone), labelled by name for the report."""
    tensors = [L.src[1] for L in live if L.src[0] == "tensor"]
    others = [L for L in live if L.src[0] != "tensor"]
    names = [f"{L.name} shape/dtype" for L in live if L.src[0] == "tensor"] + \
        [f"{L.name} shape/dtype" for L in others]

    def quick():        # the arrays themselves (an array's shape and dtype are its own)
        return tuple(map(_data_of, tensors))

    def values():
        out = [(a.shape, a.dtype.str) for a in [t._data for t in tensors]]
        for L in others:
            t = L.resolve(())
            out.append(None if t is None else (t._data.shape, t._data.dtype.str))
        return tuple(out)

    def get():
        return tuple(zip(names, values()))
    return G.Guard("live tensors", get, "lifted", values, None if others else quick)


class CompiledFunction:
    """``cadenza.compile(fn)``: call it like ``fn``; ``.graph`` is the latest graph."""

    def __init__(self, fn, fullgraph=True, explain=False, name=None, backend="c"):
        self.fn = fn
        self.backend = backend
        self.fullgraph = fullgraph
        self.explain = explain
        self.cache: list[Specialisation] = []
        self.eager_only = False
        self.name = name or getattr(fn, "__qualname__", None) or repr(fn)
        self.__wrapped__ = fn
        self.__doc__ = getattr(fn, "__doc__", None)

    @property
    def graph(self):
        """The graph of the most recently compiled specialisation (None before the first);
        with compiled autograd, its forward graph."""
        for s in reversed(self.cache):
            if s.graph is not None:
                return s.graph
        return None

    @property
    def backward_graph(self):
        """The backward graph of the most recent specialisation with compiled autograd (the
        function returned tensors that need grad and backward runs outside), else None."""
        for s in reversed(self.cache):
            if s.autograd is not None:
                return s.autograd.backward
        return None

    def profile(self, *args, calls: int = 3, **kwargs):
        """Call ``self(*args, **kwargs)`` ``calls`` times after one untimed call (a first
        call compiles), timing every node of the graph that runs: a ``graph.interpret.Profile``
        (``print`` it for a table by op and the slowest nodes; the forward graph with
        compiled autograd). The calls are real calls (a training step steps)."""
        self(*args, **kwargs)
        s = self.cache[-1] if self.cache else None
        if s is None or s.run_graph is None:
            raise RuntimeError(f"compile: {self.name} has no compiled graph to profile "
                               "(it runs eagerly)")
        with s.run_graph.timed() as prof:
            for _ in range(calls):
                self(*args, **kwargs)
        return prof

    def to_dot(self) -> str:
        g = self.graph
        return g.to_dot() if g is not None else "digraph cadenza {}"

    def __call__(self, *args, **kwargs):
        if _state.tracer is not None:      # called from inside another trace: inline it
            return self.fn(*args, **kwargs)
        if _state.profiler is not None:    # a profile shows the compiled call as one range
            with record_function(f"Torch-Compiled Region: {self.name}"):
                return self._call(args, kwargs)
        return self._call(args, kwargs)

    def _call(self, args, kwargs):
        if self.eager_only:
            STATS["eager_fallbacks"] += 1
            return self.fn(*args, **kwargs)
        leaves, td, paths = G.flatten((args, kwargs))
        spec = G.input_spec(leaves, td)
        for i in range(len(self.cache) - 1, -1, -1):     # most recently used first
            s = self.cache[i]
            if s.spec == spec and s.failed_guard() is None:
                if i != len(self.cache) - 1:     # keep the most recently used last
                    self.cache.append(self.cache.pop(i))
                if s.eager:
                    STATS["eager_fallbacks"] += 1
                    return self.fn(*args, **kwargs)
                STATS["cache_hits"] += 1
                return s.run(leaves)
        if self.cache:
            STATS["recompiles"] += 1
            if self.explain or debug_level() >= 1:
                print(self._why(self.cache[-1], spec, paths), file=sys.stderr)
        return self._trace(args, kwargs, leaves, spec, paths)

    def _why(self, last, spec, paths) -> str:
        fn, ln, _ = user_frame()
        where = f"{os.path.basename(fn)}:{ln}"
        if last.spec != spec:
            reason = G.describe_spec_change(last.spec, spec,
                                            _arg_names(self.fn, None, None, paths))
        else:
            guard, old, new = last.failed_guard() or (G.Guard("?", None, "value"), None, None)
            reason = G.describe_guard_change(guard.label, old, new)
            if guard.kind == "python_state":     # values only on the hot path: name them now
                disc = guard.get.__self__
                for (name, _), a, b in zip(disc.python_state(labelled=True), old, new):
                    if a != b:
                        reason = f"{name}: {G._show(_unhex(a))} -> {G._show(_unhex(b))}"
                        break
        return f"cadenza.compile: recompiling {self.name} (called at {where}): {reason}"

    def _trace(self, args, kwargs, leaves, spec, paths):
        STATS["compiles"] += 1
        arg_names = _arg_names(self.fn, args, kwargs, paths)
        disc = G.discover(self.fn, leaves, arg_names)
        guards = [G.grad_mode_guard(), G.modes_guard()] + disc.guards
        expected = [g.get() for g in guards]
        attrs_before = disc.python_state(labelled=True)
        tensors_before = _tensor_attributes(disc)
        tracer = Tracer(disc.names, disc.grad_owner(), self.fullgraph)
        tracer.group_names = disc.group_names
        for p in disc.params:
            tracer.note_grad(p)
        with tracer:
            for i, x in enumerate(leaves):
                if isinstance(x, Tensor):
                    tracer.add_arg(x, i, arg_names[i])
            result = self.fn(*args, **kwargs)
            res = tracer.finish(result, G.flatten_result) if tracer.failed is None else None
            plan = None
            if res is not None and tracer.failed is None and res.needs_autograd:
                plan = AB.trace_backward(tracer, res, result, leaves, self.name)
        if res is not None and tracer.failed is None:
            _replay_tensor_attributes(tracer, res, plan, tensors_before, _tensor_attributes(disc))
            if tracer.failed is not None and self.fullgraph:
                raise TraceError(f"compile: {self.name}: {tracer.failed} (or use "
                                 "fullgraph=False to run it eagerly)")
        changed = _changed_attribute(attrs_before, disc.python_state(labelled=True))
        if changed is None:
            changed = _changed_items(guards, expected)
        if changed is not None and tracer.failed is None:
            msg = (f"{self.name} changes the Python state {changed} while it runs; a "
                   "compiled call would not repeat that change. Keep such state in a tensor "
                   "updated in place, or pass it as an argument")
            if self.fullgraph:
                raise TraceError(f"compile: {msg} (or use fullgraph=False to run it eagerly)")
            tracer.failed = msg
        if tracer.failed is not None:
            self.eager_only = True
            STATS["eager_fallbacks"] += 1
            mode = " (fullgraph=False)" if not self.fullgraph else ""
            warnings.warn(f"cadenza.compile: {self.name} runs eagerly{mode}: "
                          f"{tracer.failed}", stacklevel=3)
            return result
        # the Python attributes as the call left them (scalars unchanged, checked above;
        # attributes that turned into objects or tensors now look like they will next time)
        i = G.find_guard(guards, "python_state")
        expected[i] = disc.python_state()
        if tracer.grads_cleared:      # zero_grad(set_to_none) came first: no guard needed
            i = G.find_guard(guards, "grads")
            expected[i] = disc.release_grads(tracer.grads_cleared, expected[i])
        stale = _self_invalidated(guards, expected)
        if tracer.hyper_used:         # learning rates etc. are graph inputs: not guarded
            disc.hyper_labels = {f"{disc.group_names[id(g)]}['{k}']"
                                 for g, k in tracer.hyper_used if id(g) in disc.group_names}
            expected = [tuple(e for e in want if not (isinstance(e, tuple) and len(e) == 2
                                                      and e[0] in disc.hyper_labels))
                        if isinstance(want, tuple) else want for want in expected]
        if stale is not None:
            # the call changed what its graph is keyed on (AdamW's state appeared, .grad went
            # from None to a tensor): that graph could never run again, so skip optimising
            # and building it; the next call traces the steady state
            STATS["warmups"] += 1
            if self.explain or debug_level() >= 1:
                print(f"cadenza.compile: {self.name}: this call changed "
                      f"{G.describe_guard_change(*stale)}; its graph is not kept",
                      file=sys.stderr)
            return result
        s = Specialisation(spec, guards, expected, self.backend)
        if isinstance(plan, str):
            s.eager = True
            if self.explain or debug_level() >= 1:
                print(f"cadenza.compile: {self.name} returns tensors that need autograd, but "
                      f"{plan}; this specialisation runs eagerly", file=sys.stderr)
        else:
            s.bind(res, plan)
            attr_guard = _attribute_identity_guard(res, tensors_before)
            if attr_guard is not None:
                s.guards.append(attr_guard)
                s.expected.append(attr_guard.get())
            if expected[0]:   # traced with grad on: outputs need grad iff inputs do
                get, values = _requires_grad_getter(res)
                s.guards.append(G.Guard("requires_grad", get, "requires_grad", values, values))
                s.expected.append(s.guards[-1].get())
        self.cache.append(s)
        if len(self.cache) > MAX_CACHE:
            self.cache.pop(0)
        return result


def _self_invalidated(guards, expected):
    """(label, old, new) if the traced call created optimizer state (a first ``step()``),
    else None. That state never goes back to empty, so the graph keyed on its absence would
    never run again. (Other guards a call changes, such as ``.grad`` going from None to a
    tensor, may be restored by the caller before the next call: ``opt.zero_grad()`` outside.)"""
    for guard, want in zip(guards, expected):
        if not isinstance(want, tuple):
            continue
        got = guard.get()
        if got == want or not isinstance(got, tuple):
            continue
        now = dict(e for e in got if isinstance(e, tuple) and len(e) == 2)
        for e in want:
            if isinstance(e, tuple) and len(e) == 2 and isinstance(e[0], str) and \
                    e[0].endswith(" keys") and e[1] == () and now.get(e[0], ()) != ():
                return e[0], e[1], now[e[0]]
    return None


def _tensor_attributes(disc) -> dict:
    """{(label, id(obj), name): tensor} for the tensor-valued plain attributes of the objects a
    function reaches (``module.aux_loss``; parameters and buffers live in their own stores)."""
    out = {}
    for label, obj in disc.stateful:
        for k, v in vars(obj).items():
            if isinstance(v, Tensor):
                out[(label, id(obj), k)] = (obj, v)
    return out


def _attribute_identity_guard(res, attributes):
    """The "attributes" guard: the graph reads a tensor held in a plain attribute
    (``module.mask``, ``obj.adj``; a sparse one through its index and value tensors) as the
    object it was when traced, so replacing the attribute between calls must trace again
    (it replayed the old tensor before). Attributes the call itself sets are replayed, not
    guarded."""
    held = {}
    for (label, _, name), (obj, v) in attributes.items():
        parts = [t for _, t in v._graph_parts()[1]] if hasattr(v, "_graph_parts") else [v]
        for t in parts:
            held[id(t)] = (f"{label}.{name}", obj, name)
    set_by_call = {(id(obj), name) for obj, name, _ in res.attr_sets}
    read = {}
    for L in res.lifted:
        entry = held.get(id(L.src[1])) if L.src[0] == "tensor" else None
        if entry is not None and (id(entry[1]), entry[2]) not in set_by_call:
            read[(id(entry[1]), entry[2])] = entry
    if not read:
        return None
    entries = list(read.values())
    owners = [(obj, name) for _, obj, name in entries]

    def quick():
        return tuple(getattr(obj, name, None) for obj, name in owners)

    def values():
        return tuple(map(id, quick()))

    def get():
        return tuple((f"{label} (identity)", i) for (label, _, _), i in zip(entries, values()))
    return G.Guard("tensor attributes", get, "attributes", values, quick)


def _replay_tensor_attributes(tracer, res, plan, before, after):
    """A traced call that sets a tensor attribute to a value it computed (MoE's ``aux_loss``)
    must do so on every replay: the value becomes a graph output and the attribute is set from
    it after each call. A tensor attribute set to anything else, or alongside outputs whose
    backward runs outside the graph, cannot be replayed: the call runs eagerly."""
    for key, (obj, v) in after.items():
        old = before.get(key)
        if old is not None and old[1] is v:
            continue
        name = f"{key[0]}.{key[2]}"
        if plan is not None or not tracer._computed(v):
            why = ("its value is not computed by the call" if plan is None else
                   "the compiled call's outputs need a backward outside the graph")
            tracer.failed = (f"it sets the tensor attribute {name}, which a compiled call "
                             f"cannot repeat ({why})")
            return
        res.graph.add_output(tracer.value_of(v), f"{name}=")
        res.attr_sets.append((obj, key[2], len(res.graph.outputs) - 1))


def _changed_attribute(before, after):
    """'name (old -> new)' for the first scalar Python attribute the traced call changed, or
    None. An attribute that became (or stopped being) an object or a tensor is not compared:
    such state is neither guarded nor replayed (MoE's ``aux_loss`` tensor, a lazily built
    cache object)."""
    old = dict(before)
    for label, value in after:
        if label in old and old[label] != value:
            return f"{label} ({G._show(_unhex(old[label]))} -> {G._show(_unhex(value))})"
    return None


def _changed_items(guards, expected):
    """The name of a closure/global list or dict whose items the traced call changed
    (``outs.append(y)``): a replay would not repeat it, and the guard would fail on every
    call."""
    for g, want in zip(guards, expected):
        if g.kind == "items" and g.get() != want:
            return g.label[:-len(" (items)")]
    return None


def _unhex(v):
    if isinstance(v, str):
        try:
            return float.fromhex(v)
        except ValueError:
            return v
    return v


def _arg_names(fn, args, kwargs, paths):
    """Readable names of argument leaves (``x``, ``batch[0]``) for printed graphs."""
    try:
        params = list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        params = []
    names = []
    for p in paths:
        # paths look like [0][i]... (positional) or [1]['name']... (keyword)
        if p.startswith("[0]["):
            rest = p[4:]
            idx = int(rest.split("]")[0])
            tail = rest[len(str(idx)) + 1:]
            base = params[idx] if idx < len(params) else f"arg{idx}"
            names.append(base + tail)
        elif p.startswith("[1]["):
            names.append(p[4:].split("]")[0].strip("'") + p[4:].split("]", 1)[1])
        else:
            names.append(p)
    return names


class OptimizedModule(Module):
    """``cadenza.compile(module)``, torch's ``OptimizedModule``: a Module whose one child is
    the original, ``_orig_mod``, so ``state_dict()``/``named_parameters()`` keys carry the
    ``_orig_mod.`` prefix and ``load_state_dict`` expects it, ``train()``/``eval()``/``to()``
    reach the original, and calls go through the compiled graph. Other attributes are the
    original module's (read and written there, as torch does)."""

    _own = frozenset({"_compiled", "_compile_options", "training"})

    def __init__(self, module, **options):
        super().__init__()
        self._modules["_orig_mod"] = module
        d = self.__dict__
        d["training"] = module.training
        d["_compile_options"] = options
        d["_compiled"] = CompiledFunction(module.__call__, name=type(module).__name__,
                                          **options)

    module = property(lambda self: self._orig_mod)
    graph = property(lambda self: self._compiled.graph)
    backward_graph = property(lambda self: self._compiled.backward_graph)

    def to_dot(self) -> str:
        return self._compiled.to_dot()

    def forward(self, *args, **kwargs):
        return self._compiled(*args, **kwargs)

    def __call__(self, *args, **kwargs):
        if not self._has_hooks():
            return self._compiled(*args, **kwargs)
        return Module.__call__(self, *args, **kwargs)

    def _has_hooks(self):
        d = self.__dict__
        return d["_forward_pre_hooks"] or d["_forward_hooks"] or d["_backward_hooks"] or \
            d["_backward_pre_hooks"]

    def __getattr__(self, name):
        d = self.__dict__
        if name == "_orig_mod":
            return d["_modules"]["_orig_mod"]
        if "_modules" not in d:
            raise AttributeError(name)
        return getattr(d["_modules"]["_orig_mod"], name)

    def __setattr__(self, name, value):
        if name in self._own or hasattr(type(self), name):
            Module.__setattr__(self, name, value)
        else:
            setattr(self._orig_mod, name, value)

    def __delattr__(self, name):
        delattr(self._orig_mod, name)

    def __deepcopy__(self, memo):
        return OptimizedModule(copy.deepcopy(self._orig_mod, memo), **self._compile_options)

    def __reduce__(self):    # pickles as the original module, compiled again when loaded
        return (_compiled_module, (self._orig_mod, self._compile_options))

    # containers (Sequential, ModuleList) index and iterate as the module does
    def __getitem__(self, i):
        return self._orig_mod[i]

    def __len__(self):
        return len(self._orig_mod)

    def __iter__(self):
        return iter(self._orig_mod)

    def _get_name(self) -> str:
        return "OptimizedModule"


CompiledModule = OptimizedModule


def _compiled_module(module, options):
    return OptimizedModule(module, **options)
