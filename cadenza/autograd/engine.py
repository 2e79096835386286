"""The backward engine: walks the dynamic graph from the roots in dependency order, calling each
node's backward rule (written in Tensor ops, so ``create_graph=True`` records the backward pass
itself and higher-order gradients work), reducing broadcast gradients to each input's shape in
this one place, and accumulating into leaves' ``.grad``.

Two shortcuts of a plain walk (no create_graph, capture, anomaly mode, tracer or profiler) save
whole-array passes without changing a value: the gradient of a block read (``x[t]``, split,
chunk) is added into x's pending gradient block by block (``_slice_grad``) instead of padded
to x's shape first, and a leaf keeps a gradient array nothing else holds as its ``.grad``
instead of a copy (``_sole_array``)."""
from __future__ import annotations

import sys

import numpy as np

from .grad_mode import state
from .node import FREED, AccumulateGrad, GradientEdge, PackedSaved, grad_node
from .._tensor_base import TensorBase as Tensor, _make
from ..dtypes import from_numpy_dtype
from ..errors import ShapeError
from ..ops import apply, sum_to
from ..ops.binary import Add
from ..ops.index import GetItem, block_of
from ..ops.complex import conj, real
from ..ops.inplace import commit_inplace
from ..ops.views import Clone
from ..backend.cpu import FP_QUIET, fp_state
from ..backend.layout import same_layout_as, suggest_format
from .anomaly import check_backward

_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)
_FREED = ("Trying to backward through the graph a second time (or directly access saved tensors "
          "after they have already been freed). Saved intermediate values of the graph are freed "
          "when you call .backward() or autograd.grad(). Specify retain_graph=True if you need "
          "to backward through the graph a second time.")


def _root_grads(tensors, grads):
    if state.tracer is not None:
        state.tracer.backward_ran = True
    roots = []
    for i, (t, g) in enumerate(zip(tensors, grads)):
        if not isinstance(t, Tensor):
            raise TypeError(f"backward: expected Tensors as outputs, got {type(t).__name__}")
        if not t._requires_grad:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not have "
                               "a grad_fn")
        if g is None:
            if t._data.size != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            if t._data.dtype.kind == "c":
                raise RuntimeError("grad can be implicitly created only for real scalar "
                                   f"outputs but got {t.dtype}")
            g = _make(np.ones_like(t._data) if type(t._data) is np.ndarray
                      else t._data * 0 + 1)
            if state.tracer is not None:  # the seed is a constant of the compiled graph
                state.tracer.created(g)
        elif not isinstance(g, Tensor):
            g = _make(np.asarray(g, dtype=t._data.dtype))
        if tuple(g.shape) != tuple(t.shape):
            raise ShapeError(f"backward: expected gradient of shape {tuple(t.shape)} for output "
                             f"{i}, got {tuple(g.shape)}")
        roots.append((grad_node(t), g))
    return roots


def _toposort_deps(roots):
    """Count, for every reachable node, how many reachable edges point at it (each node's
    edges are walked once: a node is pushed when its first edge is counted). The roots start
    at 0 (they are walked from the start, never pushed again)."""
    deps = {n: 0 for n, _ in roots}
    stack = [None, *deps]  # None: the bottom (a list never emptied is never reallocated)
    push = stack.append
    count = deps.get
    while True:
        n = stack.pop()
        if n is None:
            break
        for nxt in n.next:
            if nxt is not None:
                c = count(nxt)
                if c is None:
                    deps[nxt] = 1
                    push(nxt)
                else:
                    deps[nxt] = c + 1
    return deps


def _check_versions(node):
    for t, v in zip(node.saved, node.versions):
        if v is not None and isinstance(t, Tensor) and t._vc[0] != v:
            _raise_modified(node, t, v)
    ov = node.out_version
    if ov is not None and ov[0][0] != ov[1]:
        raise RuntimeError(
            "one of the variables needed for gradient computation has been modified by an "
            f"inplace operation: the output of {node.name()} is at version {ov[0][0]}; "
            f"expected version {ov[1]} instead. Hint: replace the in-place op with its "
            "out-of-place form (x = x.add(1) rather than x.add_(1)).")


def _raise_modified(node, t, v):
    raise RuntimeError(
        "one of the variables needed for gradient computation has been modified by an inplace "
        f"operation: [{t.dtype} {list(t.shape)}], which is an input of {node.name()}, is at "
        f"version {t._vc[0]}; expected version {v} instead. Hint: replace the in-place op with "
        "its out-of-place form (x = x.add(1) rather than x.add_(1)).")


_final_callbacks = []


def queue_callback(fn) -> None:
    """Run ``fn()`` once, when the current (outermost) backward pass has finished (torch's
    ``Variable._execution_engine.queue_callback``); DistributedDataParallel uses it to reduce
    gradients after the last one is accumulated."""
    if not state.in_backward:
        raise RuntimeError("queue_callback: expected to be called during a backward pass")
    _final_callbacks.append(fn)


def run_backward(roots, retain_graph, create_graph, capture=None, accumulate=True):
    """Propagate gradients from ``roots`` [(node, grad)]. With ``capture`` (a dict node ->
    None), the total gradient reaching each of those nodes is stored there instead of
    accumulating into leaves."""
    deps = _toposort_deps(roots)
    grads = {}
    for n, g in roots:
        grads[n] = grads[n] + g if n in grads else g
    # None at the bottom ends the walk (a list never emptied is never reallocated)
    ready = [None, *dict.fromkeys(n for n, _ in roots if deps.get(n, 0) == 0)]
    prev_mode = state.grad_enabled
    state.grad_enabled = bool(create_graph)
    state.in_backward += 1
    anomaly = state.anomaly
    fp_token = fp_state.set(FP_QUIET)  # inf/nan gradients are silent, as in PyTorch
    free = not retain_graph
    take = grads.pop
    current = grads.get
    # nodes whose pending gradient is an array this walk made and nothing else holds (blocks
    # written into zeros by _slice_grad): later blocks are added into it in place
    owned = set()
    plain = not create_graph and capture is None and not anomaly and state.tracer is None
    profiler = state._profiler
    # the node made ready last, with its gradient: the top of the ready stack, held apart from
    # it and from grads (a chain's next node is then reached without a push, pop, store and
    # take); it is pushed (with its gradient stored) before any other node is
    carry = carry_g = None
    try:
        while True:
            if carry is not None:
                node = carry
                g = carry_g
                carry = carry_g = None
            else:
                node = ready.pop()
                if node is None:
                    break
                g = take(node)
                if owned:
                    owned.discard(node)
            op = node.op
            if op is GetItem and plain and not node.pre_hooks and \
                    not node.post_hooks and profiler is None and \
                    _slice_grad(node, g, grads, owned):
                nxt = node.next[0]
                if deps[nxt] == 1:
                    ready.append(nxt)
                else:
                    deps[nxt] -= 1
                continue
            if node.pre_hooks:
                for hook in list(node.pre_hooks):
                    r = hook(g)
                    if r is not None:
                        g = r
            if capture is not None and node in capture:
                prev = capture[node]
                capture[node] = g if prev is None else prev + g
            if type(node) is AccumulateGrad:
                if accumulate:
                    if profiler is not None:  # a profile records the engine's steps
                        profiler.backward(
                            node, lambda: _accumulate(node, g, create_graph, _make))
                    else:
                        # the walk's own names drop their references, so that a gradient
                        # nothing else holds is seen as such (_accumulate then keeps it)
                        grads_in = gi = d = cur = r = prev = None
                        sole = _getrefcount(g) == _LOCAL_REFS and _sole_array(g._data)
                        _accumulate(node, g, create_graph, _make, sole)
                continue
            saved = node.saved
            if saved is FREED:
                raise RuntimeError(_FREED)
            packed = None
            vs = node.versions
            ov = node.out_version
            if vs or ov is not None:  # saved values to check
                if type(saved) is PackedSaved:   # saved_tensors_hooks: unpack them
                    packed = saved
                    packed.unpack_into(node)
                else:   # _check_versions inline (a version is taken of tensors only)
                    for t, v in zip(saved, vs):
                        if v is not None and t._vc[0] != v:
                            _check_versions(node)
                    if ov is not None and ov[0][0] != ov[1]:
                        _check_versions(node)
            gdt = g._data.dtype
            if gdt is not _F32 and gdt is not _F64 and gdt.kind == "c" and \
                    getattr(op, "holomorphic", False):
                grads_in = _holomorphic_backward(node, g)
            elif profiler is not None:
                grads_in = profiler.backward(node, lambda: node.op.backward(node, g))
            else:
                grads_in = op.backward(node, g)
            if type(grads_in) is not tuple:
                grads_in = (grads_in,)
            if anomaly:
                check_backward(node, g, grads_in)
            if node.post_hooks:
                for hook in list(node.post_hooks):
                    r = hook(grads_in, (g,))
                    if r is not None:
                        grads_in = _hook_grads(hook, r, grads_in)
            if packed is not None and not free:
                packed.restore(node)   # unpacked again by the next backward
            elif free and (saved or node.out_data is not None):
                node.saved = FREED
                node.out_data = None
                node.out_version = None
            metas = node.meta
            i = -1
            for nxt in node.next:   # (by position: ~3x cheaper than a zip of three tuples)
                i += 1
                if nxt is None:
                    continue
                gi = grads_in[i] if i < len(grads_in) else None
                if gi is not None:
                    d = gi._data
                    meta = metas[i]
                    if d.dtype is not meta[1] or d.shape != meta[0]:
                        gi = _conform(gi, meta)
                    cur = current(nxt)
                    if deps[nxt] == 1:   # its last edge (the count is not read again): ready
                        if cur is not None:
                            gi = cur + gi if not gi.is_sparse else gi + cur
                            del grads[nxt]
                            if owned:
                                owned.discard(nxt)
                        if carry is not None:
                            grads[carry] = carry_g
                            ready.append(carry)
                        carry = nxt
                        carry_g = gi
                        continue
                    grads[nxt] = gi if cur is None else cur + gi if not gi.is_sparse else \
                        gi + cur
                    if owned:
                        owned.discard(nxt)
                left = deps[nxt] - 1
                deps[nxt] = left
                if left == 0:
                    if carry is not None:
                        grads[carry] = carry_g
                        ready.append(carry)
                        carry = carry_g = None
                    if nxt in grads:
                        ready.append(nxt)
                    else:
                        _skip(nxt, deps, grads, ready)
        while state.in_backward == 1 and _final_callbacks:
            _final_callbacks.pop(0)()
    finally:
        fp_state.reset(fp_token)
        state.grad_enabled = prev_mode
        state.in_backward -= 1
        if not state.in_backward:
            _final_callbacks.clear()


def _slice_grad(node, g, grads, owned) -> bool:
    """The gradient of ``x[index]`` (a block of x: integers and unit-step slices) added into
    x's pending gradient in place of GetItem's backward (g padded with zeros to x's shape, then
    added to what x already has): the first block is written into zeros, later ones (split,
    chunk, x[t] in a loop) add into that array's block only. The sums are the padded ones,
    element by element in the same order (but for the sign of a zero). False: not such a
    node, and the general path runs."""
    nxt = node.next[0]
    if nxt is None:
        return False
    shape, dt = node.meta[0]
    d = g._data
    if type(d) is not np.ndarray or d.dtype is not dt:
        return False
    blk = block_of(node.attrs["index"], shape)
    if blk is None:
        return False
    pads, block = blk
    region = tuple(slice(b, n - e) for (b, e), n in zip(pads, shape))
    d = d.reshape(block)
    cur = grads.get(nxt)
    if cur is not None and nxt in owned:
        cur._data[region] += d
        return True
    if cur is not None:
        c = cur._data
        if type(c) is not np.ndarray or c.dtype is not dt or c.shape != shape:
            return False
        z = c.copy()
        z[region] += d
    else:
        z = np.zeros(shape, dt)
        z[region] += d      # added to zeros, as the padded sum: -0.0 becomes +0.0 there too
    grads[nxt] = _make(z)
    owned.add(nxt)
    return True


def _hook_grads(hook, r, grads_in):
    """What a node's post-hook returned, checked as torch does: one gradient per input."""
    r = tuple(r) if isinstance(r, (tuple, list)) else (r,)
    if len(r) != len(grads_in):
        name = getattr(hook, "__name__", hook)
        raise RuntimeError(f"hook '{name}' has returned an incorrect number of values "
                           f"(got {len(r)}, but expected {len(grads_in)})")
    return r


def _conform(gi, meta):
    """The gradient ``gi`` of an input with (shape, dtype) ``meta``: broadcast dims summed away,
    the real part for a real input of a complex op, cast to the input's dtype."""
    shape, dt = meta
    if gi.is_sparse:   # a sparse gradient (an embedding's with sparse=True): as it is
        return gi
    if gi._data.shape != shape:
        gi = sum_to(gi, shape)
    d = gi._data
    if d.dtype != dt:
        if d.dtype.kind == "c" and dt.kind != "c":
            gi = real(gi)  # a real input of a complex op
        if gi._data.dtype != dt:
            gi = gi.to(from_numpy_dtype(dt))
    return gi


def _holomorphic_backward(node, g):
    """A real-number backward rule applied to a complex gradient: conj(rule(conj(g))), which is
    g * conj(f'(z)), PyTorch's convention (see ops/complex.py)."""
    r = node.op.backward(node, conj(g))
    if type(r) is not tuple:
        r = (r,)
    return tuple(None if x is None else conj(x) for x in r)


def _skip(node, deps, grads, ready):
    """A node that received no gradient at all: release its dependents' counts."""
    stack = [node]
    while stack:
        n = stack.pop()
        for nxt in n.next:
            if nxt is None:
                continue
            deps[nxt] -= 1
            if deps[nxt] == 0:
                if nxt in grads:
                    ready.append(nxt)
                else:
                    stack.append(nxt)


_getrefcount = getattr(sys, "getrefcount", None)


def _local_refs():
    x = object()
    return _getrefcount(x) if _getrefcount is not None else -1


def _array_refs(a):
    return _getrefcount(a) if _getrefcount is not None else -1


# sys.getrefcount of an object held by one local name (the name and the call's argument), and
# of an array held by one tensor's slot alone, passed to _sole_array: measured, not assumed
_LOCAL_REFS = _local_refs()
_ARRAY_REFS = _array_refs(_make(np.empty(1))._data)


def _sole_array(a) -> bool:
    """Whether array ``a`` (a tensor's _data) owns its memory and nothing but that tensor
    holds it (no view, no other tensor, no cache): a leaf may then keep it as its .grad."""
    return type(a) is np.ndarray and a.base is None and a.flags.writeable and \
        _getrefcount is not None and _getrefcount(a) == _ARRAY_REFS + 1


def _accumulate(node, g, create_graph, _make, sole=False):
    """Add ``g`` into the leaf's .grad; ``sole``: g and its array are referenced by this walk
    alone (nothing else can see them change), so a new .grad takes the array without a copy."""
    t = node.variable
    if t is None:
        return
    tracer = state.tracer
    if g.is_sparse or (t.grad is not None and t.grad.is_sparse):
        # sparse + sparse stays sparse (entries concatenated), as in torch
        t.grad = g if t.grad is None else t.grad + g if t.grad.is_sparse else g + t.grad
    elif tracer is not None and not create_graph:
        _accumulate_traced(tracer, t, g)
    elif t.grad is None:
        # Own a fresh buffer: a gradient array can be shared by several leaves (add's backward
        # hands the same tensor to both inputs) and optimizers update .grad in place.
        # (torch's layout contract: the leaf's strides where it is dense, as a channels-last
        # parameter's; row-major otherwise)
        if create_graph:
            t.grad = g
        else:
            arr = g._data
            if arr.strides != t._data.strides:
                laid = same_layout_as(arr, t._data)
                sole = sole or laid is not arr
                arr = laid
            if not sole:
                arr = arr.copy() if arr.flags["C_CONTIGUOUS"] else arr.copy(order="K")
            t.grad = _make(arr)
    elif create_graph or t.grad._requires_grad:
        t.grad = t.grad + g
    else:
        if t.grad._data.shape != g._data.shape:
            raise ShapeError(f"backward: existing .grad has shape {tuple(t.grad.shape)}, new "
                             f"gradient {tuple(g.shape)}")
        t.grad._data += g._data
    if node.post_hooks:
        for hook in list(node.post_hooks):
            hook((), (g,))


def _accumulate_traced(tracer, t, g):
    """_accumulate while compile traces: the same values through recorded ops (a clone for a
    new .grad, an in-place add for an existing one) instead of raw array copies."""
    tracer.note_grad(t)
    if t.grad is None:
        fmt = suggest_format(t._data)   # a channels-last leaf's .grad is channels-last
        t.grad = apply(Clone, g) if fmt == "contiguous_format" else \
            apply(Clone, g, memory_format=fmt)
    elif t.grad._requires_grad:
        t.grad = t.grad + g
    else:
        if t.grad._data.shape != g._data.shape:
            raise ShapeError(f"backward: existing .grad has shape {tuple(t.grad.shape)}, new "
                             f"gradient {tuple(g.shape)}")
        commit_inplace(t.grad, apply(Add, t.grad, g))


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """cadenza.autograd.backward: sum of d(tensors)/d(leaves) into leaves' .grad."""
    if isinstance(tensors, Tensor):
        tensors = (tensors,)
    tensors = tuple(tensors)
    if grad_tensors is None:
        grad_tensors = (None,) * len(tensors)
    elif isinstance(grad_tensors, Tensor):
        grad_tensors = (grad_tensors,)
    if retain_graph is None:
        retain_graph = create_graph
    roots = _root_grads(tensors, tuple(grad_tensors))
    if inputs is not None:
        if isinstance(inputs, Tensor):
            inputs = (inputs,)
        capture = {grad_node(t): None for t in inputs}
        run_backward(roots, retain_graph, create_graph, capture=capture, accumulate=False)
        for t in inputs:
            g = capture[grad_node(t)]
            if g is None:
                continue
            if t.grad is None:
                t.grad = g if create_graph else _make(g._data.copy())
            else:
                t.grad = t.grad + g
        return
    run_backward(roots, retain_graph, create_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         only_inputs=True, allow_unused=None, is_grads_batched=False, materialize_grads=False):
    """cadenza.autograd.grad: gradients of outputs w.r.t. inputs, returned (not accumulated)."""
    single = isinstance(outputs, Tensor)
    outputs = (outputs,) if single else tuple(outputs)
    inputs_t = (inputs,) if isinstance(inputs, (Tensor, GradientEdge)) else tuple(inputs)
    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    elif isinstance(grad_outputs, Tensor):
        grad_outputs = (grad_outputs,)
    if retain_graph is None:
        retain_graph = create_graph
    if allow_unused is None:
        allow_unused = materialize_grads
    for i, t in enumerate(inputs_t):
        if type(t) is not GradientEdge and not t._requires_grad:
            raise RuntimeError(f"One of the differentiated Tensors (input {i}) does not require "
                               "grad")
    nodes = [t.node if type(t) is GradientEdge else grad_node(t) for t in inputs_t]
    roots = _root_grads(outputs, tuple(grad_outputs))
    capture = dict.fromkeys(nodes)
    run_backward(roots, retain_graph, create_graph, capture=capture, accumulate=False)
    result = []
    for i, (t, node) in enumerate(zip(inputs_t, nodes)):
        g = capture[node]
        if g is None:
            if materialize_grads and type(t) is not GradientEdge:
                g = _make(np.zeros_like(t._data))
            elif not allow_unused:
                raise RuntimeError(f"One of the differentiated Tensors (input {i}) appears to not "
                                   "have been used in the graph. Set allow_unused=True if this "
                                   "is the desired behavior.")
        elif not create_graph:
            g = g.detach()
        result.append(g)
    return tuple(result)
