"""Run a Graph with the NumPy backend: each primitive node calls its op's
``forward(xp, *arrays, **attrs)`` exactly as ``ops.apply`` does in eager mode (promotions were
recorded as explicit ``cast`` nodes), ``random`` nodes call their creation function again so
they draw from the same generator in the same order, ``host`` nodes evaluate their Python float
maths. The graph is turned into a list of small closures once (``Interpreter(graph)``), then
each call is one loop over them."""
from __future__ import annotations

import contextlib
import time

import numpy as np

from .ir import (Fused, Graph, Value, substitute_refs, has_refs, ref_filler, _refs_in,
                 memory_order, empty_in_order)
from .passes import write_in_place
from .._tensor import _make
from ..backend import xp_of
from ..backend.cpu import FP_QUIET, fp_state


def _xp(arrays):
    x0 = arrays[0] if arrays else None
    if x0 is None or type(x0) is np.ndarray or not hasattr(x0, "__cuda_array_interface__"):
        return np
    return xp_of(x0)


def _array(r):
    """A forward's result as an array: NumPy scalars become 0-d arrays, device arrays stay."""
    return r if hasattr(r, "__cuda_array_interface__") else np.asarray(r)


class Interpreter:
    """``Interpreter(graph)(input_arrays) -> output arrays``. ``writebacks``: output value id
    -> input value id whose array receives it after the call (compiled.py's write-backs): index
    writes into such an input may then run in place (``passes/write_in_place.py``)."""

    def __init__(self, graph: Graph, writebacks: dict | None = None):
        self.graph = graph
        self.write_into = write_in_place.nodes(graph, writebacks)
        self.n_values = graph._next
        self.input_ids = [v.id for v in graph.inputs]
        self.output_ids = [v.id for v in graph.outputs]
        plan = getattr(graph, "plan", None)
        release = plan.release if plan is not None else {}
        # (step, value ids to drop after it): memory planning frees each value at its last use
        self.steps = [(self._step(n), tuple(release.get(i, ()))) for i, n in
                      enumerate(graph.nodes) if n.op != "input"]
        self.const_roots = {id(n.attrs["value"]) for n in graph.nodes if n.op == "const"}

    def _step(self, n):
        if isinstance(n.op, Fused):
            return self._fused_step(n)
        run = self._op_step(n)
        if getattr(n.op, "kind", None) != "elementwise" or len(n.out.shape) < 2:
            return run
        out, order = n.out.id, n.out.order

        def laid_out(env):     # the memory order eager gave it (forward is NumPy's ufunc)
            run(env)
            r = env[out]
            if type(r) is np.ndarray and memory_order(r) != order:
                env[out] = b = empty_in_order(r.shape, r.dtype, order)
                b[...] = r
        return laid_out

    def _op_step(self, n):
        out = n.out.id
        ins = [(True, x.id) if isinstance(x, Value) else (False, x) for x in n.inputs]
        if n.op == "const":
            value = n.attrs["value"]

            def run(env):
                env[out] = value
            return run
        if n.op == "host":
            fn = n.attrs["fn"]
            ids = [i for _, i in ins]

            def run(env):
                r = np.asarray(fn(*[float(env[i]) for i in ids]), dtype=np.float64)
                # a graph on a device keeps its host maths there too: CuPy ops refuse NumPy
                env[out] = r if self.device_xp is None else self.device_xp.asarray(r)
            return run
        if n.op == "random":
            return self._random_step(n, ins, out)
        if id(n) in self.write_into:
            return self._index_write_step(n, ins, out)
        forward = n.op.forward
        attrs = n.attrs
        if has_refs(attrs):
            nargs = len(ins) - len({i for a in attrs.values() for i in _refs_in(a)})
            fill = ref_filler(attrs)

            def run(env):
                arrs = [env[x] if v else x for v, x in ins]
                kw = fill(arrs)
                r = forward(_xp(arrs), *arrs[:nargs], **kw)
                env[out] = r if type(r) is np.ndarray else _array(r)
            return run
        if len(ins) == 1 and ins[0][0]:
            i0 = ins[0][1]

            def run(env):
                a = env[i0]
                r = forward(np if type(a) is np.ndarray else _xp([a]), a, **attrs)
                env[out] = r if type(r) is np.ndarray else _array(r)
            return run

        def run(env):
            arrs = [env[x] if v else x for v, x in ins]
            r = forward(_xp(arrs), *arrs, **attrs)
            env[out] = r if type(r) is np.ndarray else _array(r)
        return run

    def _fused_step(self, n):
        """A fused kernel without generated code: its members, one NumPy call each."""
        steps = [self._step(m) for m in n.op.members]

        def run(env):
            for step in steps:
                step(env)
        return run

    @staticmethod
    def _index_write_step(n, ins, out):
        """``index_put`` into its destination's own buffer (no copy): the old value is dead
        and the buffer is this call's to overwrite (``write_in_place``). A read-only or
        non-array destination takes the copying path."""
        forward, attrs = n.op.forward, n.attrs
        nargs = len(ins) - len({i for a in attrs.values() for i in _refs_in(a)})
        fill = ref_filler(attrs)

        def run(env):
            arrs = [env[x] if v else x for v, x in ins]
            kw = fill(arrs)
            dest = arrs[0]
            flags = getattr(dest, "flags", None)
            if flags is not None and flags.writeable:
                dest[kw["index"]] = arrs[1]
                env[out] = dest
            else:
                env[out] = forward(_xp(arrs), *arrs[:nargs], **kw)
        return run

    @staticmethod
    def _random_step(n, ins, out):
        fn = n.attrs["fn"]
        targs, tkw = n.attrs["args"], n.attrs["kwargs"]

        def run(env):
            tensors = [_make(env[x]) for _, x in ins]
            args = substitute_refs(targs, tensors)
            kwargs = substitute_refs(tkw, tensors)
            env[out] = fn(*args, **kwargs)._data
        return run

    device_xp = None      # the device array module of the current call (None: NumPy)
    prof = None           # the Profile of an open ``timed()`` block

    def __call__(self, arrays):
        dev = next((a for a in arrays if type(a) is not np.ndarray and
                    hasattr(a, "__cuda_array_interface__")), None)
        self.device_xp = None if dev is None else _xp([dev])
        env = [None] * self.n_values
        host = self.graph.host_inputs if dev is not None else ()
        for i, a in zip(self.input_ids, arrays):
            if i in host:                       # a Python number (an lr) joins the device,
                a = self.device_xp.asarray(a)   # as eager moves a CPU operand of a CUDA op
            env[i] = a
        if self.prof is not None:
            self.prof.calls += 1
        token = fp_state.set(FP_QUIET)  # inf/nan results are silent, as in eager mode
        try:
            for step, dead in self.steps:
                step(env)
                for i in dead:
                    env[i] = None
        finally:
            fp_state.reset(token)
        return [env[i] for i in self.output_ids]


    @contextlib.contextmanager
    def timed(self):
        """Within ``with runner.timed() as prof:`` every call times each node (wall clock)
        into ``prof`` (a Profile: seconds per node, summed over the calls): where a compiled
        step's time goes, per kernel, BLAS product and NumPy call."""
        nodes = getattr(self, "step_nodes", None) or \
            [n for n in self.graph.nodes if n.op != "input"]   # (a program stands for its run)
        prof = Profile(nodes)
        spent = prof.seconds
        plain = self.steps

        def timed(j, step):
            def run(env):
                t = time.perf_counter()
                step(env)
                spent[j] += time.perf_counter() - t
            return run
        self.steps = [(timed(j, st), dead) for j, (st, dead) in enumerate(plain)]
        self.prof = prof
        try:
            yield prof
        finally:
            self.steps, self.prof = plain, None


class Profile:
    """Seconds per node of a graph's calls (``Interpreter.timed``), summed over ``calls``;
    ``rows()`` is [(seconds per call, node)] in execution order, ``by_op()`` sums them by op
    name (fused kernels as ``fused``), ``str()`` is a table by op and the slowest nodes."""

    def __init__(self, nodes):
        self.nodes = nodes
        self.seconds = [0.0] * len(nodes)
        self.calls = 0

    @property
    def rows(self) -> list:
        c = max(self.calls, 1)
        return [(t / c, n) for t, n in zip(self.seconds, self.nodes)]

    @staticmethod
    def _name(n) -> str:
        # a fused node is "fused", a product with its epilogue "linear+epilogue"
        return getattr(n.op, "label", "fused") if isinstance(n.op, Fused) else n.op_name

    def by_op(self) -> dict:
        out: dict = {}
        for t, n in self.rows:
            out[self._name(n)] = out.get(self._name(n), 0.0) + t
        return dict(sorted(out.items(), key=lambda kv: -kv[1]))

    def __str__(self, top: int = 15) -> str:
        total = sum(t for t, _ in self.rows) or 1e-12
        lines = [f"{total * 1e3:.3f} ms per call in {len(self.rows)} nodes ({self.calls} calls)"]
        lines += [f"  {k:24s} {t * 1e3:9.3f} ms {100 * t / total:5.1f}%"
                  for k, t in self.by_op().items()]
        lines.append("slowest nodes:")
        for t, n in sorted(self.rows, key=lambda r: -r[0])[:top]:
            what = (",".join(m.op_name for m in n.op.members)[:40] if isinstance(n.op, Fused)
                    else "")
            ins = ", ".join(v.type for v in n.uses()[:3])
            lines.append(f"  {t * 1e3:9.3f} ms {self._name(n)} {what} {n.out.type} <- {ins}")
        return "\n".join(lines)


def run(graph: Graph, arrays):
    """Interpret ``graph`` once on ``arrays`` (one per graph input)."""
    return Interpreter(graph)(arrays)
