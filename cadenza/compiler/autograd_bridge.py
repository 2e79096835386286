"""Autograd through a compiled forward (``out = compiled(x); loss(out).backward()``), in the
manner of AOTAutograd.

Trace time (``trace_backward``): the user's function has just run under the tracer and returned
tensors that need autograd. While the tracer is still installed we call the engine's
``autograd.grad(outputs, inputs_that_require_grad, grad_outputs=<placeholders>)``: backward
rules are Tensor ops, so the backward pass is recorded into the same (joint) graph. The engine
is cut at the inputs (their nodes stand in as stubs for the call), so nothing upstream of the
compiled function is run or recorded, and their hooks do not fire during the trace.

``partition`` splits the joint graph: the forward graph computes what the call returns (and
writes back) plus every ``random`` draw; the backward graph computes the input gradients from
the incoming gradients (placeholders), the lifted inputs it reads and the forward values it
needs, which become extra forward outputs ("saved"). Constants are copied rather than saved;
anything else the backward needs that the forward did not compute is recomputed there.

Run time (``Plan.attach``): each returned tensor that needs grad gets a *tap* node; all taps
feed one *hub* node whose edges go to the inputs' grad nodes. The taps stash their gradient and
pass the hub a 0-d dummy, so the hub runs once, after every tap that got a gradient, with one
gradient per output (zeros for outputs the loss did not use), runs the backward graph and hands
the input gradients to the engine, which accumulates them (hooks, ``.grad`` accumulation) as in
eager mode. The hub keeps the saved arrays in ``node.saved`` with the version of every tensor the
backward reads, so the engine frees them after a backward without ``retain_graph`` (a second one
raises as in eager mode) and an in-place change before backward raises eager's error.
Double backward (``create_graph=True``) through a compiled forward raises a clear error.
"""
from __future__ import annotations

import contextlib

import numpy as np

from .._dispatch import state as _state
from ..autograd.node import AccumulateGrad, Node, PackedSaved, grad_node
from ..backend import xp_of
from ..errors import TraceError
from ..graph.ir import Graph, Node as GNode, Value
from ..graph.pipeline import optimize
from ..graph.trace import _root
from .._tensor import Tensor, _make
from ..autograd.engine import grad as autograd_grad
from ..graph.pytree import flatten_result


class Plan:
    """What a specialisation with compiled autograd needs at run time."""

    def __init__(self, name, forward, backward, n_fwd_out, diff_pos, inputs, bwd_lifted,
                 grad_index):
        self.name = name
        self.forward = forward            # Graph: lifted inputs -> fwd outputs + saved
        self.backward = backward          # Graph: grad_outs + bwd_lifted + saved -> grads
        self.backward_runner = None       # set by compiled._make_runner's caller
        self.n_fwd_out = n_fwd_out        # forward outputs before the saved ones
        self.diff_pos = diff_pos          # template positions of outputs that need grad
        self.inputs = inputs              # lifted indices of inputs that get a gradient
        self.bwd_lifted = bwd_lifted      # lifted indices the backward graph reads
        self.grad_index = grad_index      # per entry of inputs: backward output index or None

    def keep(self, arrays, outs, dests):
        """The arrays the backward will read (lifted inputs it uses, then saved values), copied
        where a write-back into ``dests`` (ids of buffer roots) is about to change them."""
        kept = [arrays[j] for j in self.bwd_lifted] + outs[self.n_fwd_out:]
        if dests:
            kept = [a.copy() if id(_root(a)) in dests else a for a in kept]
        return kept

    def attach(self, vals, lifted, arrays, kept):
        """Give the returned tensors ``vals`` that need grad their backward nodes."""
        call = _Call(self, len(self.diff_pos))
        nxt, meta = [], []
        for j in self.inputs:
            t = lifted[j]
            nxt.append(grad_node(t) if t._requires_grad else None)
            a = t._data
            meta.append((a.shape, a.dtype))
        hub = Node(_Hub(call), None, nxt, meta)
        # tensors whose in-place change would corrupt what the backward reads: the lifted
        # inputs it reads, and any input or returned tensor sharing memory with a saved value
        saved = kept[len(self.bwd_lifted):]
        roots = {id(_root(a)) for a in saved}
        check = [lifted[j] for j in self.bwd_lifted]
        read = set(self.bwd_lifted)
        for j, a in enumerate(arrays):
            if j not in read and id(_root(a)) in roots and lifted[j] is not None:
                check.append(lifted[j])
        for t in vals:
            if isinstance(t, Tensor) and id(_root(t._data)) in roots:
                # a stand-in sharing the version counter: holding the returned tensor itself
                # would make a cycle (tensor -> tap -> hub -> tensor) that only gc frees
                proxy = _make(t._data)
                proxy._vc = t._vc
                check.append(proxy)
        hub.saved = tuple(check) + (kept,)
        hub.versions = tuple(t._vc[0] for t in check) + (None,)
        for k, pos in enumerate(self.diff_pos):
            t = vals[pos]
            a = t._data
            call.meta.append((a.shape, a.dtype, np if type(a) is np.ndarray else xp_of(a)))
            t.grad_fn = Node(_Tap(call, k), None, [hub], [((), _DUMMY.dtype)])
            t._requires_grad = True


_DUMMY = np.zeros((), np.float32)


class _Call:
    """One compiled forward call: the gradients its taps stashed for the hub."""
    __slots__ = ("plan", "grads", "meta")

    def __init__(self, plan, n):
        self.plan = plan
        self.grads = [None] * n
        self.meta = []       # per output: (shape, dtype, array module)


class _Tap:
    name = node_name = "CompiledFunctionBackward"

    def __init__(self, call, k):
        self.call, self.k = call, k

    def backward(self, node, g):
        self.call.grads[self.k] = g
        return (_make(_DUMMY),)


class _Hub:
    name = node_name = "CompiledFunctionBackward"

    def __init__(self, call):
        self.call = call

    def backward(self, node, g):
        call = self.call
        plan = call.plan
        if _state.grad_enabled:
            raise RuntimeError(
                f"cadenza.compile: double backward (create_graph=True) through the compiled "
                f"forward of {plan.name} is not supported; compile the function that runs the "
                "backward too, or call the model uncompiled for higher-order gradients")
        grads, call.grads = call.grads, [None] * len(call.grads)
        arrays = []
        for gk, meta in zip(grads, call.meta):
            if gk is not None:
                arrays.append(gk._data)
            else:                 # the loss did not use this output: a zero gradient (torch)
                shape, dtype, xp = meta
                arrays.append(xp.zeros(shape, dtype))
        runner = plan.backward_runner
        outs = runner(arrays + list(node.saved[-1]))
        consts = runner.const_roots   # a gradient that is a graph constant: hand out a copy
        return tuple(None if i is None else
                     _make(outs[i].copy() if id(_root(outs[i])) in consts else outs[i])
                     for i in plan.grad_index)


# ------------------------------------------------------------------------------ trace time
class _Stop:
    """Stands in for an input's grad node while the backward is traced: takes the gradient
    (``autograd.grad`` captures it before calling this) and propagates nothing upstream."""
    name = node_name = "CompiledInputBoundary"

    @staticmethod
    def backward(node, g):
        return ()


_FIELDS = ("op", "next", "meta", "saved", "versions", "out_data", "out_version", "pre_hooks",
           "post_hooks")   # (a freed node's saved is node.FREED: restoring saved restores it)


@contextlib.contextmanager
def _cut_at(nodes):
    kept = [(n, [getattr(n, f) for f in _FIELDS]) for n in nodes]
    try:
        for n in nodes:
            n.pre_hooks = None  # input hooks run at the real backward, not in the trace
            if type(n) is not AccumulateGrad:
                n.op, n.next, n.meta, n.saved, n.versions = _Stop, (), (), (), ()
                n.out_data = n.out_version = n.post_hooks = None
        yield
    finally:
        for n, vals in kept:
            for f, v in zip(_FIELDS, vals):
                setattr(n, f, v)


def trace_backward(tracer, res, result, arg_leaves, name):
    """Record the backward of the traced call into the tracer's graph and partition it.

    Returns a Plan, None when no returned tensor computed by the graph needs grad, or a string
    saying why this specialisation must run eagerly."""
    leaves, _ = flatten_result(result)
    tmpl = res.template[0]
    diff = [(i, x) for i, x in enumerate(leaves)
            if tmpl[i][0] == "out" and isinstance(x, Tensor) and x.grad_fn is not None]
    if not diff:
        return None
    inputs = []
    for j, L in enumerate(res.lifted):
        if L.src[0] != "grad":
            t = L.resolve(arg_leaves)
            if isinstance(t, Tensor) and t._requires_grad:
                inputs.append((j, t))
    written = {j for j, _ in res.writebacks}
    for j, t in inputs:
        if j in written:
            return (f"{res.lifted[j].name} requires grad and is changed in place by the "
                    "function")
    stops = {grad_node(t) for _, t in inputs}
    why = _check_graph([x.grad_fn for _, x in diff], stops, tracer)
    if why:
        return why
    g = tracer.graph
    n_fwd_out = len(g.outputs)
    n_lifted = len(tracer.lifted)
    placeholders, grad_outs = [], []
    for i, x in diff:
        a = x._data
        ph = np.ones_like(a) if type(a) is np.ndarray else a * 0 + 1
        placeholders.append(tracer.placeholder(ph, f"grad_out{i}"))
        grad_outs.append(_make(ph))
    grads = ()
    if inputs:
        full, tracer.fullgraph = tracer.fullgraph, False   # a failure: this call runs eagerly
        try:
            with _cut_at(stops):
                grads = autograd_grad([x for _, x in diff], [t for _, t in inputs],
                                      grad_outputs=grad_outs, retain_graph=True,
                                      allow_unused=True)
        except TraceError as e:
            tracer.failed = tracer.failed or str(e)
        finally:
            tracer.fullgraph = full
        if tracer.failed is not None:
            why, tracer.failed = tracer.failed, None
            _state.tracer = tracer    # fail() uninstalled it; the caller's `with` removes it
            return f"its backward cannot be traced: {why}"
    gvals = [None if gr is None else tracer.value_of(gr) for gr in grads]
    if len(tracer.lifted) != n_lifted:
        return "its backward reads tensors that the forward did not"
    return partition(g, n_fwd_out, placeholders, res, [j for j, _ in inputs], gvals, name,
                     [i for i, _ in diff])


def _check_graph(roots, stops, tracer):
    """Why the eager graph between the outputs and the inputs cannot be compiled, or None:
    Python hooks (register_hook, retain_grad) inside run at backward time, and a leaf that
    requires grad but is not an input of the graph would not receive its gradient."""
    seen = set()
    stack = list(roots)
    while stack:
        n = stack.pop()
        if n is None or n in seen or n in stops:
            continue
        seen.add(n)
        if n.pre_hooks or n.post_hooks:
            return "a tensor inside it has a backward hook or retain_grad()"
        if type(n.saved) is PackedSaved:
            return "saved_tensors_hooks packed what it saved for backward"
        if type(n) is AccumulateGrad:
            t = n.variable
            if t is not None and not tracer.is_const(t):
                return "it reads a tensor that requires grad through an alias"
            continue
        stack.extend(n.next)
    return None


def partition(g, n_fwd_out, placeholders, res, inputs, gvals, name, diff_pos) -> Plan:
    """Split the joint graph ``g`` into optimised forward and backward graphs (module doc)."""
    lifted_ids = {L.value.id: j for j, L in enumerate(res.lifted)}
    in_fwd = _ancestors(g, {v.id for v in g.outputs[:n_fwd_out]}, lambda n: n.op == "random")
    in_bwd = set()
    need = {v.id for v in gvals if v is not None}
    for n in reversed(g.nodes):
        i = n.out.id
        if i in need and n.op != "input" and (i not in in_fwd or n.op == "const"):
            in_bwd.add(i)
            need.update(u.id for u in n.uses())
    # what the backward reads from outside itself, in first-use order
    ph_ids = {v.id for v in placeholders}
    b_lifted, saved, seen = [], [], set()
    for v in [u for n in g.nodes if n.out.id in in_bwd for u in n.uses()] + \
            [v for v in gvals if v is not None]:
        if v.id in in_bwd or v.id in ph_ids or v.id in seen:
            continue
        seen.add(v.id)
        if v.id in lifted_ids:
            b_lifted.append(v)
        else:
            assert v.id in in_fwd, v
            saved.append(v)
    b_lifted.sort(key=lambda v: lifted_ids[v.id])

    fwd = _new_graph(g)
    vmap: dict = {}
    for n in g.nodes:
        if (n.op == "input" and n.out.id in lifted_ids) or n.out.id in in_fwd:
            _clone(fwd, n, vmap)
    for v, lab in zip(g.outputs[:n_fwd_out], g.output_labels[:n_fwd_out]):
        fwd.add_output(vmap[v.id], lab)
    for v in saved:
        fwd.add_output(vmap[v.id], "saved=")

    bwd = _new_graph(g)
    vmap = {}
    for v in placeholders:
        _clone(bwd, v.producer, vmap)
    for v in b_lifted:
        _clone(bwd, v.producer, vmap)
    for v in saved:
        _clone(bwd, v.producer, vmap, as_input="saved " + v.producer.op_name)
    for n in g.nodes:
        if n.out.id in in_bwd:
            _clone(bwd, n, vmap)
    grad_index = []
    for j, v in zip(inputs, gvals):
        if v is None:
            grad_index.append(None)
        else:
            grad_index.append(len(bwd.outputs))
            bwd.add_output(vmap[v.id], f"{res.lifted[j].name}.grad=")
    return Plan(name, optimize(fwd), optimize(bwd), n_fwd_out, diff_pos, inputs,
                [lifted_ids[v.id] for v in b_lifted], grad_index)


def _ancestors(g, need, also):
    """Ids of the non-input nodes that values ``need`` depend on, plus nodes ``also`` picks."""
    found = set()
    for n in reversed(g.nodes):
        if n.op != "input" and (n.out.id in need or also(n)):
            found.add(n.out.id)
            need.update(u.id for u in n.uses())
    return found


def _new_graph(g) -> Graph:
    out = Graph()
    out._next = g._next   # value ids are kept, so the two graphs print like the joint one
    return out


def _clone(graph, n, vmap, as_input=None):
    """Copy node ``n`` into ``graph`` with fresh Values (same ids); ``as_input`` makes its
    value a graph input of that name instead."""
    v = Value(n.out.id, n.out.shape, n.out.dtype, order=n.out.order)
    if as_input is not None:
        node = GNode("input", [], {}, v, "", as_input)
    else:
        ins = [vmap[x.id] if isinstance(x, Value) else x for x in n.inputs]
        node = GNode(n.op, ins, n.attrs, v, n.src, n.name)
    graph.nodes.append(node)
    if node.op == "input":
        graph.inputs.append(v)
    vmap[n.out.id] = v
