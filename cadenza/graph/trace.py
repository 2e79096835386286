"""Real-value tracing: ``cadenza.compile`` runs the user's function once, eagerly, with a Tracer
installed in ``grad_mode.state.tracer``; every primitive that goes through ``ops.apply`` is also
recorded as a graph node. The traced call therefore *is* an eager call: its results and state
updates are eager's, and the graph replays them on later calls.

Tensors are identified by their storage view (data pointer, shape, strides, dtype), so aliases
(``p.data``, ``detach()``) share a value and an in-place write into a tensor updates what every
alias reads. All arrays seen are kept alive for the trace so addresses are never reused.

- A tensor first seen that the trace did not create (parameter, buffer, optimizer state, grad,
  closure tensor) becomes a *lifted* graph input, read live from that tensor on each call.
- Tensors made by creation functions during the trace become ``const`` nodes (a snapshot);
  random creation functions become ``random`` nodes that draw again at run time.
- ``commit_inplace`` (every in-place op) records "this storage now holds value V"; at the end
  the final value of each lifted tensor that changed becomes an output written back into it.
- Anything needing a concrete value (``.item()``, ``bool(t)``, printing, data-dependent shapes)
  raises ``TraceError`` naming the user's line, or with ``fullgraph=False`` abandons the trace
  (the call finishes eagerly) and the compiler runs that function eagerly from then on.
"""
from __future__ import annotations

import weakref

import numpy as np

from .._dispatch import state as _state, user_line, DispatchObserver
from ..errors import TraceError
from .ir import Graph, Ref, Value, memory_order
from .pytree import flatten_result
from .._trace_hooks import traced_random, host_scalar, number  # noqa: F401  (re-exported)
from .._tensor import Tensor, _make
from ..dtypes import from_numpy_dtype
from ..ops._registry import _floatify, _promote
from ..ops.elementwise import Cast

STALE = object()   # a storage view whose bytes were changed through another, overlapping view


def _key(a):
    ai = getattr(a, "__array_interface__", None) or a.__cuda_array_interface__
    return (ai["data"][0], a.shape, a.strides, a.dtype.str)


def _root(a):
    while isinstance(getattr(a, "base", None), type(a)):
        a = a.base
    return a


class Lifted:
    """A graph input: where to read it (``src``: ("arg", i), ("tensor", t), ("grad", owner))."""
    __slots__ = ("src", "value", "array", "name")

    def __init__(self, src, value, array, name):
        self.src, self.value, self.array, self.name = src, value, array, name

    def resolve(self, leaves):
        kind, obj = self.src
        if kind == "arg":
            return leaves[obj]
        if kind == "tensor":
            return obj
        if kind == "hyper":            # an optimizer hyperparameter, read on every call
            group, key = obj
            return _make(np.asarray(float(number(group[key])), dtype=np.float64))
        return obj.grad


class TraceResult:
    """What a finished trace hands the compiler: the graph and how to bind its outputs."""

    def __init__(self):
        self.graph: Graph | None = None
        self.lifted: list[Lifted] = []
        self.writebacks: list[tuple[int, int]] = []   # (lifted index, output index)
        self.grad_sets: list[tuple[object, int]] = []  # (param, output index): fresh .grad
        self.grad_objs: list[tuple[object, int]] = []  # (param, lifted index): .grad = that obj
        self.grad_clears: list[object] = []            # params whose .grad becomes None
        self.attr_sets: list[tuple[object, str, int]] = []  # (obj, name, output index): set
        #                                                    after each call (module.aux_loss)
        self.template = None     # the returned structure with ("out", i) / ("obj", j) leaves
        self.needs_autograd = False


class Tracer(DispatchObserver):
    """Records primitives into a Graph while the traced function runs eagerly."""

    def __init__(self, names=None, grad_owner=None, fullgraph: bool = True):
        self.graph = Graph()
        self.env: dict = {}
        self.arrays: dict = {}     # key -> weak references to the live arrays with that key
        self.roots: dict = {}      # id(root array) -> keys of arrays viewing it
        # id(root array) -> that root, for every value not a constant (weak: freed with it)
        self.traced_roots = weakref.WeakValueDictionary()
        self._refs: dict = {}      # id(weakref) -> weakref (kept so their callbacks fire)
        self.lifted: list[Lifted] = []
        self.paused = 0
        self.names = names or {}            # id(tensor) -> readable name
        self.grad_owner = grad_owner or {}  # id(grad at start) -> its parameter
        self.start_grads: dict = {}         # id(p) -> (p, p.grad when first seen)
        self.backward_ran = False
        self.grads_read: set = set()        # id(param) whose starting .grad the graph reads
        self.grads_cleared: set = set()     # id(param) set to None before any read/backward
        self.hypers: dict = {}              # (id(group), key) -> its 0-d input tensor
        self.hyper_used: list = []          # (param group, key) read as graph inputs
        self.group_names: dict = {}         # id(param group) -> readable name
        self.failed: str | None = None
        self.fullgraph = fullgraph
        self.arg_objs: dict = {}            # id(argument tensor) -> lifted index
        self.arg_grad_lines: dict = {}      # id(argument tensor) -> where backward() set .grad

    # ------------------------------------------------------------------ installation
    def __enter__(self):
        if _state.tracer is not None:
            raise TraceError("compile: a compiled function called while another is being traced"
                             f" ({user_line()}); compile the outer function only")
        _state.tracer = self
        return self

    def __exit__(self, *exc):
        if _state.tracer is self:
            _state.tracer = None
        self._refs.clear()      # drop the weak references' callbacks (and their cycle)
        return False

    def fail(self, msg: str, eager: bool = False) -> None:
        """A construct that cannot be captured: raise, or (fullgraph=False, or ``eager``: a
        limit of the compiler, not of the user's code) stop tracing so the rest of this call
        runs eagerly."""
        if self.fullgraph and not eager:
            raise TraceError(msg)
        if self.failed is None:
            self.failed = msg
        if _state.tracer is self:
            _state.tracer = None

    # ------------------------------------------------------------------ values
    def _define(self, k, arr, v):
        self._hold(k, arr)
        v.order = memory_order(arr)
        self.env[k] = v
        if v.producer.op != "const":
            root = _root(arr)
            self.traced_roots[id(root)] = root

    def _hold(self, k, arr):
        # Values are keyed by memory (address, shape, strides, dtype), so a key must be
        # forgotten the moment its last array dies: freed memory is reused by the next array,
        # which is a new value. Weak references (not a list keeping every array alive, as
        # before) let the trace free intermediates as eager does: the trace of W1's step ran
        # 2.8x slower than the step itself, faulting in ~1 GB of fresh memory.
        # Every array object that reads a key must hold it, not only the first one: a
        # transpose of a (1, 1) tensor is a new array with its input's key; when the input
        # died first, the key was forgotten while the transpose still held the value, and the
        # next op lifted it as a graph input replaying the traced call's bytes (issue 14).
        refs = self.arrays.get(k)
        if refs is None:
            refs = self.arrays[k] = []
            self.roots.setdefault(id(_root(arr)), set()).add(k)
        if not any(r() is arr for r in refs):
            rid = id(_root(arr))
            r = weakref.ref(arr, lambda r, k=k, rid=rid: self._forget(r, k, rid))
            refs.append(r)
            self._refs[id(r)] = r

    def _forget(self, r, k, rid) -> None:
        self._refs.pop(id(r), None)
        refs = self.arrays.get(k)
        if refs is None:
            return
        refs[:] = [x for x in refs if x is not r and x() is not None]
        if not refs:
            del self.arrays[k]
            self.env.pop(k, None)
            keys = self.roots.get(rid)
            if keys is not None:
                keys.discard(k)
                if not keys:
                    del self.roots[rid]

    def _live_array(self, k):
        for r in self.arrays.get(k, ()):
            a = r()
            if a is not None:
                return a
        return None

    def _emit(self, op, inputs, attrs, shape, dtype, name=""):
        return self.graph.add_node(op, inputs, attrs, shape, dtype, user_line(True), name)

    def value_of(self, t) -> Value:
        a = t._data
        k = _key(a)
        v = self.env.get(k)
        if v is None:
            return self._lift(t, a, k)
        if v is STALE:
            self.fail(f"compile: a tensor is read after the memory it views was changed by an "
                      f"in-place op on an overlapping view ({user_line()}); use out-of-place "
                      "ops or clone() the view before the write")
            return self._lift(t, a, k)
        self._hold(k, a)
        return v

    def _lift(self, t, a, k, src=None, name=None) -> Value:
        if src is None and self._views_traced(a):
            # a raw NumPy view of a value this trace computes (``_make(x._data[...])``): as an
            # input it would replay the first call's bytes, so refuse rather than go stale
            self.fail(f"compile: a tensor was made from a traced tensor's memory outside the "
                      f"recorded ops ({user_line()}); this is a Cadenza bug: please report it")
        if src is None:
            owner = self.grad_owner.get(id(t))
            if owner is not None:
                src, name = ("grad", owner), self.names.get(id(owner), "param") + ".grad"
                self.grads_read.add(id(owner))
            else:
                src = ("tensor", t)
                name = self.names.get(id(t)) or f"lifted{len(self.lifted)}"
        v = self.graph.add_node("input", [], {}, a.shape, a.dtype, name=name)
        self.lifted.append(Lifted(src, v, a, name))
        self._define(k, a, v)
        return v

    def _computed(self, t) -> bool:
        """Whether ``t`` holds a value this trace computed (not an input, not a constant)."""
        v = self.env.get(_key(t._data))
        return v is STALE or (v is not None and v.producer.op not in ("input", "const"))

    def _views_traced(self, a) -> bool:
        root = _root(a)
        if self.traced_roots.get(id(root)) is root:
            # memory a traced value lives in (or lived in: its keys may all be forgotten
            # while the root array is alive), so not an outside tensor: its bytes are this
            # call's, and an input reading them would replay them on every call
            return True
        for k2 in self.roots.get(id(root), ()):
            v = self.env.get(k2)
            if v is STALE or (v is not None and v.producer.op != "const"):
                return True
        return False

    def add_arg(self, t, index: int, name: str) -> None:
        a = t._data
        k = _key(a)
        if k not in self.env:
            self._lift(t, a, k, ("arg", index), name)
            self.arg_objs[id(t)] = len(self.lifted) - 1

    def placeholder(self, arr, name: str) -> Value:
        """A graph input that no tensor feeds (compiled autograd's incoming gradients): ``arr``
        is its value for the rest of this trace; the runtime passes the real one."""
        v = self.graph.add_node("input", [], {}, arr.shape, arr.dtype, name=name)
        self._define(_key(arr), arr, v)
        return v

    def is_const(self, t) -> bool:
        v = self.env.get(_key(t._data))
        return v is not None and v is not STALE and v.producer.op == "const"

    # ------------------------------------------------------------------ hooks
    def record(self, op, args, attrs, t) -> None:
        """Called by ``ops.apply`` after an op ran eagerly: add its node."""
        if self.paused:
            return
        if op.name == "nonzero":
            self.fail(f"compile: nonzero has a data-dependent output shape ({user_line()}); "
                      "use cadenza.where with a mask instead")
            return
        if t._data.dtype.kind == "c" or any(isinstance(a, Tensor) and a._data.dtype.kind == "c"
                                            for a in args):
            self._no_complex(op.name)
            return
        arrs = [a._data if isinstance(a, Tensor) else a for a in args]
        parr = arrs
        if op.promote:
            parr = _promote(op, args, parr)
        if op.to_float:
            parr = _floatify(args, parr)
        ins = []
        for a, x, px in zip(args, arrs, parr):
            if isinstance(a, Tensor):
                v = self.value_of(a)
                if px.dtype != x.dtype:   # the promotion apply() did, made explicit
                    v = self._emit(Cast, [v], {"dtype": from_numpy_dtype(px.dtype)}, px.shape,
                                   px.dtype)
                ins.append(v)
            else:
                ins.append(px)
        if attrs:
            attrs = self._ref_attrs(op, attrs, ins)
            if attrs is None:
                return
        out = t._data
        k = _key(out)
        cur = self.env.get(k)
        if cur is not None and cur is not STALE:
            self._hold(k, out)   # the same bytes seen the same way: the value it already has
            return
        self._define(k, out, self._emit(op, ins, attrs, out.shape, out.dtype))

    def _ref_attrs(self, op, attrs, ins):
        """Traced arrays inside attributes (tensor indices) become Refs to extra inputs."""
        found = {}

        def walk(a):
            if isinstance(a, np.ndarray):
                v = self.env.get(_key(a))
                if v is STALE or (v is not None and v.producer.op != "const"):
                    if a.dtype == np.bool_ and op.name == "getitem":
                        raise _DataDependent
                    if v is STALE:
                        v = self.value_of(_Arr(a))
                    if v.id not in found:
                        found[v.id] = len(ins)
                        ins.append(v)
                    return Ref(found[v.id])
                return a
            if isinstance(a, tuple):
                return tuple(walk(x) for x in a)
            if isinstance(a, list):
                return [walk(x) for x in a]
            return a
        try:
            return {k: walk(a) for k, a in attrs.items()}
        except _DataDependent:
            self.fail(f"compile: indexing with a boolean mask has a data-dependent shape "
                      f"({user_line()}); use cadenza.where(mask, x, 0) or masked_fill instead")
            return None

    def created(self, t) -> None:
        """A tensor made by a creation function during the trace: a constant snapshot."""
        if self.paused:
            return
        a = t._data
        if a.dtype.kind == "c":
            self._no_complex("a complex constant")
            return
        arr = a.copy()
        self._define(_key(a), a, self._emit("const", [], {"value": arr}, a.shape, a.dtype))

    def _no_complex(self, what: str) -> None:
        # the C kernels and ONNX export have no complex numbers: the function runs eagerly
        # (whatever fullgraph says: a PyTorch program with complex maths must still run)
        self.fail(f"compile: complex tensors are not supported by the compiler ({what} at "
                  f"{user_line()})", eager=True)

    def random(self, fn, args, kwargs):
        """Run random creation ``fn`` eagerly and record it as a ``random`` node."""
        ins = []

        def tmpl(x):
            if isinstance(x, Tensor):
                ins.append(self.value_of(x))
                return Ref(len(ins) - 1)
            if isinstance(x, (list, tuple)) and any(isinstance(y, Tensor) for y in x):
                return type(x)(tmpl(y) for y in x)
            return x
        targs = tuple(tmpl(a) for a in args)
        tkw = {k: tmpl(v) for k, v in kwargs.items()}
        self.paused += 1
        try:
            out = fn(*args, **kwargs)
        finally:
            self.paused -= 1
        a = out._data
        v = self._emit("random", ins, {"fn": fn, "args": targs, "kwargs": tkw}, a.shape, a.dtype,
                       name=fn.__name__)
        self._define(_key(a), a, v)
        return out

    def hyper_input(self, group, key):
        """``group[key]`` as a 0-d float64 graph input (see ``_trace_hooks.hyper``)."""
        k = (id(group), key)
        t = self.hypers.get(k)
        if t is None:
            arr = np.asarray(float(number(group[key])), dtype=np.float64)
            name = f"{self.group_names.get(id(group), 'param_group')}['{key}']"
            val = self.graph.add_node("input", [], {}, (), np.float64, name=name)
            self.graph.host_inputs.add(val.id)
            self.lifted.append(Lifted(("hyper", (group, key)), val, arr, name))
            self._define(_key(arr), arr, val)
            t = self.hypers[k] = _make(arr)     # kept: the value stays this input's
            self.hyper_used.append((group, key))
        return t

    def host(self, fn, tensors):
        """``fn(*floats) -> float`` on 0-d tensors, as a ``host`` node; returns a 0-d float64
        Tensor holding the same Python float maths eager mode computes with ``.item()``."""
        ins = [self.value_of(t) for t in tensors]
        arr = np.asarray(fn(*[float(t._data) for t in tensors]), dtype=np.float64)
        v = self._emit("host", ins, {"fn": fn}, (), np.float64)
        self._define(_key(arr), arr, v)
        return _make(arr)

    def commit(self, target, out) -> None:
        """``target``'s storage is about to hold ``out``'s value (an in-place op)."""
        if self.paused:
            return
        self.value_of(target)         # lift it first if this is its first appearance
        v = self.value_of(out)
        ta = target._data
        if out._data.dtype != ta.dtype:
            v = self._emit(Cast, [v], {"dtype": from_numpy_dtype(ta.dtype)}, ta.shape, ta.dtype)
        k = _key(ta)
        for k2 in list(self.roots.get(id(_root(ta)), ())):
            a2 = self._live_array(k2)
            if k2 != k and a2 is not None and np.may_share_memory(a2, ta):
                self.env[k2] = STALE
        self.env[k] = v

    def concrete(self, t, what: str) -> None:
        """``t``'s concrete value is needed (``.item()``, ``bool()``, printing)."""
        if self.paused or self.is_const(t):
            return
        hint = {"bool": "cannot branch on a traced Tensor; use cadenza.where or mark it static",
                "print": "print it outside the compiled function (return it)"}.get(
            what, "keep it a Tensor (return it and convert outside the compiled function) "
                  "or mark it static")
        what = {"bool": "Python control flow (bool)", "print": "printing"}.get(what, what)
        self.fail(f"compile: {what} needs the value of a traced Tensor ({user_line()}); {hint}")

    def note_cleared(self, p) -> None:
        """``p.grad = None`` by zero_grad(set_to_none=True): if nothing read the starting
        ``.grad`` and no backward ran yet, the graph does not depend on whether it was None
        (the usual step: zero_grad, forward, backward, step), so that guard can go."""
        if not self.backward_ran and id(p) not in self.grads_read:
            self.grads_cleared.add(id(p))

    def note_grad(self, t) -> None:
        if id(t) not in self.start_grads:
            self.start_grads[id(t)] = (t, t.grad)
            if id(t) in self.arg_objs:   # backward() is accumulating into an argument
                self.arg_grad_lines[id(t)] = user_line()

    # ------------------------------------------------------------------ the end
    def finish(self, result, flatten) -> TraceResult:
        """Turn the trace into a TraceResult: outputs, write-backs and .grad updates."""
        res = TraceResult()
        g = self.graph
        n_out = [0]

        def out(v, label):
            g.add_output(v, label)
            n_out[0] += 1
            return n_out[0] - 1
        leaves, rebuild = flatten(result)
        by_obj = {id(L.src[1]): j for j, L in enumerate(self.lifted) if L.src[0] == "tensor"}
        by_obj.update(self.arg_objs)
        tmpl = []
        for i, x in enumerate(leaves):
            if isinstance(x, Tensor):
                if x.grad_fn is not None and not self.backward_ran:
                    res.needs_autograd = True
                j = by_obj.get(id(x))
                if j is not None:
                    tmpl.append(("obj", j))
                else:
                    tmpl.append(("out", out(self.value_of(x), f"out{i}=")))
            else:
                if _holds_tensor(x, lambda t: id(t) not in by_obj and self._computed(t)):
                    # a record built by the function (a dataclass of outputs): the graph
                    # would hand back this same object, with this call's values, every time
                    self.fail(f"compile: the compiled function returns a {type(x).__name__} "
                              "holding tensors; return tensors in tuples, lists or dicts")
                tmpl.append(("py", x))
        res.template = (tmpl, rebuild)
        for (p, g0) in list(self.start_grads.values()):
            g1 = p.grad
            if g1 is g0:
                continue
            if id(p) in self.arg_objs:
                # the .grad update is bound to this call's argument object, so later calls
                # would write into it instead of theirs
                self.fail(f"compile: backward() sets .grad of the argument "
                          f"{self.lifted[self.arg_objs[id(p)]].name} "
                          f"({self.arg_grad_lines.get(id(p), user_line())}), which compiled "
                          "mode does not support yet; return cadenza.autograd.grad(loss, inputs) "
                          "instead, or keep the tensor outside the arguments (a parameter)")
            if g1 is None:
                res.grad_clears.append(p)
                continue
            v = self.value_of(g1)
            lifted = [j for j, L in enumerate(self.lifted) if L.value is v and
                      L.src[0] == "tensor" and L.src[1] is g1]
            if lifted:
                res.grad_objs.append((p, lifted[0]))
            else:
                res.grad_sets.append((p, out(v, f"{self.names.get(id(p), 'param')}.grad=")))
        for j, L in enumerate(self.lifted):
            cur = self.env.get(_key(L.array))
            if cur is STALE:
                self.fail(f"compile: {L.name} was changed through an in-place write into a view "
                          "of it; this is not supported in compiled mode yet (write to the whole "
                          "tensor, or use out-of-place ops)")
            if L.src[0] == "tensor" and L.src[1]._data is not L.array:
                self.fail(f"compile: {L.name}.data was rebound inside the compiled function; "
                          "use copy_() to change a tensor's values in compiled mode")
            if cur is not None and cur is not STALE and cur is not L.value:
                res.writebacks.append((j, out(cur, f"{L.name}<-")))
        res.graph = g
        res.lifted = self.lifted
        return res


class _DataDependent(Exception):
    pass


def _holds_tensor(x, counts, depth=0) -> bool:
    """Whether a returned non-tensor object (a dataclass or other record, its lists and
    dicts) holds, up to two levels down, a tensor for which ``counts(t)`` is true."""
    if isinstance(x, Tensor):
        return counts(x)
    if depth > 1 or isinstance(x, (str, bytes, int, float, complex, type(None))):
        return False
    items = x.values() if isinstance(x, dict) else x if isinstance(x, (list, tuple)) else \
        getattr(x, "__dict__", {}).values()
    return any(_holds_tensor(v, counts, depth + 1) for v in items)


class _Arr:
    """Minimal tensor-like wrapper so value_of can take a raw array (for stale attrs)."""
    __slots__ = ("_data",)

    def __init__(self, a):
        self._data = a


def trace(fn, *args) -> Graph:
    """The raw traced Graph of ``fn(*args)`` (tensor arguments only; no passes, no guards),
    for inspection and pass tests: ``print(trace(f, x))``."""
    tr = Tracer()
    with tr:
        for i, a in enumerate(args):
            if isinstance(a, Tensor):
                tr.add_arg(a, i, f"x{i}" if len(args) > 1 else "x")
        res = tr.finish(fn(*args), flatten_result)
    return res.graph
