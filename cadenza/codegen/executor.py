"""Run a compiled graph: fused nodes call their generated C kernel through ctypes, every other
node runs as the NumPy interpreter runs it (matmul and convolution stay BLAS calls).

Kernel outputs are written into arrays the executor allocates; inputs are passed as pointers
to C-contiguous arrays of the recorded dtype (a non-contiguous view is copied first).

Each node is a closure (``KernelRunner._step``); then ``program.install`` replaces every run of
two or more consecutive kernel calls (with the views between them) by one call of a generated C
function (``codegen/program.py``), keeping the closures as that step's fallback.
"""
from __future__ import annotations

import ctypes
import sys
import time

import numpy as np

from .._config import c_programs, debug_level
from ..backend import ckernels
from ..backend.cpu import address_reader
from ..ops import attention
from ..graph.interpret import Interpreter
from ..graph.ir import Fused, Graph, Value, dense_strides, empty_in_order
from ..graph.passes import write_in_place
from ..graph.passes.fuse_gemm_epilogue import GemmEpilogue
from ..graph.passes.fuse_reductions import standalone
from . import blas
from . import gemv
from .blas import address
from . import cache
from . import program
from . import render_rows
from .render_c import render_graph

STATS = {"kernels": 0, "programs": 0, "builds": 0, "disk_cache_hits": 0,
         "build_seconds": 0.0}
_noticed: set = set()


def _notice(msg: str, key: str | None = None) -> None:
    if (key or msg) not in _noticed:
        _noticed.add(key or msg)
        print(f"cadenza.compile: {msg}", file=sys.stderr)


def make_runner(graph: Graph, backend: str = "c", inplace: dict | None = None):
    """A callable ``runner(arrays) -> arrays`` for ``graph`` on ``backend`` ("c" or "numpy").
    ``inplace``: output value id -> input value id whose buffer receives it afterwards (a
    write-back); a kernel may then write the output there directly (see KernelRunner)."""
    if backend != "c":
        return Interpreter(graph, inplace)
    kernels = []
    for n in graph.nodes:
        if isinstance(n.op, GemmEpilogue):     # the product is a BLAS call, its epilogue a kernel
            kernels.append((f"cz_kernel_{len(kernels)}", n.op.epilogue))
        elif isinstance(n.op, Fused):
            kernels.append((f"cz_kernel_{len(kernels)}", n.op))
        elif render_rows.supported(n):
            kernels.append((f"cz_kernel_{len(kernels)}", n))
    # products (BLAS calls) and float32 attention (its C kernel) need no kernel library
    products = any(n.op_name in ("matmul", "linear", "scaled_dot_product_attention")
                   for n in graph.nodes)
    if not kernels and not products:
        return Interpreter(graph, inplace)
    if cache.compiler() is None:
        _notice("no C compiler found (set CC); running graphs with the NumPy interpreter")
        return Interpreter(graph, inplace)
    names = {id(k): name for name, k in kernels}
    safe = _safe_inplace(graph, inplace or {})
    # runs of kernel calls as one C function each (codegen/program.py)
    segs = program.plan(graph, names, safe, write_in_place.nodes(graph, inplace),
                        {v.id for v in graph.outputs}) if c_programs() else []
    if not kernels and not segs:    # products only: no kernel library
        return KernelRunner(graph, None, {}, "", {}, inplace)
    source = render_graph(kernels) + program.source(segs)
    if debug_level() >= 3:
        print(f"[cadenza] kernel source:\n{source}", file=sys.stderr)
    t0 = time.perf_counter()
    try:
        try:
            lib, path, cached = cache.build(source)
        except cache.CompileError:
            if not segs:
                raise
            # the kernels alone (a program the compiler refuses costs only its speed)
            segs = []
            source = render_graph(kernels)
            lib, path, cached = cache.build(source)
            _notice("building programs failed; calling kernels one by one",
                    key="programs failed")
    except cache.CompileError as e:
        # one line, once per process (each graph's failure names another temporary file):
        # the compiler's first error line, not its whole log
        log = str(e).splitlines() or [""]
        err = next((ln.strip() for ln in log[1:] if "error" in ln), log[-1].strip())
        _notice(f"building kernels failed, using the NumPy interpreter: {log[0]} {err}",
                key="build failed")
        return Interpreter(graph, inplace)
    STATS["build_seconds"] += time.perf_counter() - t0
    STATS["disk_cache_hits" if cached else "builds"] += 1
    STATS["kernels"] += len(kernels)
    STATS["programs"] += len(segs)
    runner = KernelRunner(graph, lib, names, source, safe, inplace)
    if segs:
        program.install(runner, segs, lib)
    return runner


def _safe_inplace(graph: Graph, inplace: dict) -> dict:
    """The write-backs an elementwise kernel can compute in place: output id -> input id.

    Safe when the kernel reads the old value element by element at the same position it
    writes (same shape and dtype, no broadcast) and nothing after the kernel reads the old
    value or a view of it (the memory plan's storage lifetimes); each element is loaded
    before it is stored."""
    plan = getattr(graph, "plan", None)
    if not inplace or plan is None:
        return {}
    reads_after = plan.storage_end   # an input's storage is its own root
    safe = {}
    for i, n in enumerate(graph.nodes):
        k = n.op
        if not isinstance(k, Fused) or k.reduction is not None or isinstance(k, GemmEpilogue):
            continue
        for v in k.outputs:
            src = inplace.get(v.id)
            if src is None or reads_after.get(src, -1) > i or v.shape != k.shape:
                continue
            ins = [u for u in k.inputs if u.id == src]
            if ins and ins[0].shape == v.shape and ins[0].dtype == v.dtype:
                safe[v.id] = src
    return safe


def _byte_strides(v) -> list:
    """(dim, byte stride) of the dims over 1 of ``v``'s dense array in ``v.order``."""
    st = dense_strides(v.shape, v.order)
    return [(d, st[d] * v.dtype.itemsize) for d in range(len(v.shape)) if v.shape[d] != 1]


class _KernelOnly:
    """Stands for a fused node where only its kernel (``op``) is needed (an epilogue's)."""
    __slots__ = ("op",)

    def __init__(self, op):
        self.op = op


class KernelRunner(Interpreter):
    """The interpreter, with fused nodes replaced by calls into the kernel library."""

    def __init__(self, graph: Graph, lib, names: dict, source: str, inplace: dict | None = None,
                 writebacks: dict | None = None):
        self.inplace = inplace or {}
        self.lib = lib
        self.names = names
        self.source = source
        plan = getattr(graph, "plan", None)
        self.assign = plan.assign if plan is not None else {}
        self.slot_bytes = plan.slots if plan is not None else []
        self.arena: dict[int, np.ndarray] = {}     # value id -> its view of an arena buffer
        self.arena_buffers: dict[int, np.ndarray] = {}   # slot -> its bytes (made on use)
        # graph inputs and constants: the same array objects from call to call (mostly)
        self.stable_ids = {n.out.id for n in graph.nodes if n.op in ("input", "const")}
        super().__init__(graph, writebacks)

    def _planned(self, vid, dt, shape, order=None):
        """The arena view for a planned kernel output (buffers made on first use, kept)."""
        a = self.arena.get(vid)
        if a is None:
            s = self.assign[vid]
            if s not in self.arena_buffers:
                self.arena_buffers[s] = np.empty(self.slot_bytes[s], np.uint8)
            n = int(np.prod(shape, dtype=np.int64)) * np.dtype(dt).itemsize
            flat = self.arena_buffers[s][:n].view(dt)
            if order is None:
                a = flat.reshape(shape)
            else:
                a = flat.reshape([shape[d] for d in order]).transpose(np.argsort(order))
            self.arena[vid] = a
        return a


    def _step(self, n):
        if id(n) in self.names:
            return self._row_step(n)
        if n.op_name == "scaled_dot_product_attention" and n.out.dtype == np.float32 and \
                ckernels.attention_kernels() is not None:
            return self._attention_step(n)
        if n.op_name in ("matmul", "linear") and blas.library() is not None:
            run = self._gemm_step(n)
            if run is not None:
                return run
        return super()._step(n)

    def _gemm_step(self, n):
        """A matmul or linear node as one call into ``blas`` (None: not a product it takes)."""
        linear = n.op_name == "linear"
        vals = [v for v in n.inputs if v is not None or not linear]   # linear's bias may be None
        if any(not isinstance(v, Value) for v in vals) or len(vals) not in ((2, 3) if linear
                                                                            else (2,)) or \
                any(v.dtype != n.out.dtype for v in vals):
            return None
        a_shape, b_shape = vals[0].shape, vals[1].shape
        if linear:
            if len(a_shape) != 2 or len(b_shape) != 2:
                return None
            b_shape = b_shape[::-1]
        if gemv.suits(a_shape, b_shape, n.out.dtype) and gemv.library() is not None:
            return self._gemv_step(n, vals, linear)
        if not blas.suits(a_shape, b_shape, n.out.dtype):
            return None
        exact = n.out.dtype == np.float64
        gemm = blas.Gemm(blas.library(), n.out.dtype, n.out.shape, exact, copies=not linear)
        return self._product_step(n, vals, linear, gemm, False)

    def _gemv_step(self, n, vals, linear):
        """A single-row product (1, k) @ (k, n) as NumPy's gemv call on this thread
        (``codegen/gemv.py``): bitwise NumPy's, without waking OpenBLAS's threads."""
        call = gemv.Gemv(gemv.library(), n.out.dtype, n.out.shape[1], vals[0].shape[1])
        return self._product_step(n, vals, linear, call, not linear)

    def _product_step(self, n, vals, linear, call, copies):
        """Run ``call(a, b, bias)`` (b: linear's weight transposed) on the node's arrays, or
        NumPy when they are not arrays of the recorded dtype or ``call`` refuses them (None).
        ``copies``: first make the copies Matmul.forward makes (ops.linalg._blas_layout)."""
        fallback = super()._step(n)
        ids = [v.id for v in vals]
        out_id, dt = n.out.id, n.out.dtype

        def run(env):
            arrs = [env[i] for i in ids]
            r = None
            if all(type(x) is np.ndarray and x.dtype == dt for x in arrs):
                a, b = arrs[0], arrs[1]
                bias = arrs[2] if linear and len(arrs) > 2 else None
                if bias is not None and not bias.flags.c_contiguous:
                    bias = np.ascontiguousarray(bias)
                if copies:
                    if not (a.flags.c_contiguous or a.flags.f_contiguous):
                        a = np.ascontiguousarray(a)
                    if not (b.flags.c_contiguous or b.flags.f_contiguous):
                        b = np.ascontiguousarray(b)
                r = call(a, b.T if linear else b, bias)
            if r is None:
                fallback(env)
            else:
                env[out_id] = r
        return run

    def _attention_step(self, n):
        """Float32 attention (ops/attention.py) calling its C kernel with the operands' offsets
        and row strides worked out once per layout (a decoding step's four attention calls
        spent longer in the forward's generic argument handling than in the kernel); any
        other input (a layout that needs a copy, another dtype) runs the op's forward."""
        fwd = ckernels.attention_kernels()[0]
        vals = list(n.inputs) + [None] * (4 - len(n.inputs))
        ids = [v.id if isinstance(v, Value) else None for v in vals[:4]]
        if ids[3] is None and vals[3] is not None:      # a constant mask: the generic path
            return super()._step(n)
        scale, causal = float(n.attrs["scale"]), int(bool(n.attrs["causal"]))
        fallback = super()._step(n)
        out_id, out_shape = n.out.id, n.out.shape
        memo: dict = {}
        f32 = np.float32
        zero, minus_inf = f32(0), f32(-np.inf)

        def additive(mask):      # as ops.attention._additive
            if mask is None:
                return None
            if mask.dtype == np.bool_:
                return np.where(mask, zero, minus_inf)
            return mask.astype(f32, copy=False)

        def plan(q, k, v, mask):
            """(offsets kept alive, the kernel's layout arguments) or False (the generic path)."""
            m = additive(mask)
            (q2, qoff, qs, qo), (k2, koff, ks, ko), (v2, voff, vs, vo), (m2, moff, ms, mo), _ = \
                attention._kernel_args(q, k, v, m)
            if q2 is not q or k2 is not k or v2 is not v or \
                    (m is not None and m2.ctypes.data != m.ctypes.data):
                return False      # an operand copied (the mask broadcast along the keys...)
            return ((qoff, koff, voff, moff),
                    (qo, ko, vo, mo, int(np.prod(q.shape[:-2])), q.shape[-2], k.shape[-2],
                     q.shape[-1], v.shape[-1], qs, ks, vs, ms))

        def run(env):
            q, k, v = env[ids[0]], env[ids[1]], env[ids[2]]
            mask = None if ids[3] is None else env[ids[3]]
            if type(q) is np.ndarray and type(k) is np.ndarray and type(v) is np.ndarray and \
                    q.dtype == f32 and k.dtype == f32 and v.dtype == f32 and \
                    (mask is None or type(mask) is np.ndarray):
                key = (q.shape, q.strides, k.shape, k.strides, v.shape, v.strides,
                       None if mask is None else (mask.shape, mask.strides, mask.dtype.char))
                got = memo.get(key)
                if got is None:
                    got = plan(q, k, v, mask)
                    if len(memo) < 8:
                        memo[key] = got
                if got is not False:
                    m = additive(mask)
                    out = np.empty(out_shape, f32)
                    fwd(address(q), address(k), address(v), None if m is None else address(m),
                        address(out), *got[1], scale, causal)
                    env[out_id] = out
                    return
            fallback(env)
        return run

    def _gemm_epilogue_step(self, n):
        """A product, the reshapes of its value and its epilogue kernel
        (graph/passes/fuse_gemm_epilogue.py): the product call, then the kernel writing its
        first output of the product's shape and dtype over the product (the kernel reads each
        element before it writes it; nothing else reads the product)."""
        k: GemmEpilogue = n.op
        p = k.product
        product = None
        if blas.library() is not None:
            product = self._gemm_step(p)
        if product is None:
            product = super()._step(p)
        views = [super(KernelRunner, self)._step(w) for w in k.views]
        last = (k.views[-1] if k.views else p).out
        into = next(({v.id: last.id} for v in k.epilogue.outputs
                     if v.shape == last.shape and v.dtype == last.dtype), None)
        epilogue = self._fused_step(_KernelOnly(k.epilogue), into)
        inner = [p.out.id] + [w.out.id for w in k.views]

        def run(env):
            product(env)
            for view in views:
                view(env)
            epilogue(env)
            for i in inner:
                env[i] = None
        return run

    def _row_step(self, n):
        """A row primitive (softmax, norms, cross entropy...) run by its C kernel."""
        fn = getattr(self.lib, self.names[id(n)])
        vals = render_rows.arguments(n)
        tmpl = render_rows.template(n)
        ce = tmpl.counts_bad
        fn.restype = ctypes.c_int64 if ce else None
        fn.argtypes = [ctypes.c_void_p] * (len(vals) + 1)
        ins = [(v.id, v.dtype) for v in vals]
        out_id, out_dt, out_shape = n.out.id, n.out.dtype, n.out.shape
        where = n.src
        classes = vals[tmpl.x_arg].shape[-1] if ce else 0

        def run(env):
            arrays = []
            for vid, dt in ins:
                a = env[vid]
                if type(a) is not np.ndarray or a.dtype != dt or not a.flags.c_contiguous:
                    a = np.ascontiguousarray(a, dtype=dt)
                arrays.append(a)
            out = np.empty(out_shape, out_dt)
            bad = fn(*[address(a) for a in arrays], address(out))
            if bad:
                raise IndexError(f"cross_entropy: expected class indices in [0, {classes}) or "
                                 f"ignore_index, got {bad} out of range ({where})")
            env[out_id] = out
        return run

    def _fused_step(self, n, into: dict | None = None):
        """A fused node as one kernel call. ``into``: output id -> id of an input whose
        buffer (the kernel's own, fresh) receives that output (an epilogue writing over its
        product)."""
        k: Fused = n.op
        if isinstance(k, GemmEpilogue):
            return self._gemm_epilogue_step(n)
        fn = getattr(self.lib, self.names[id(k)])
        fn.restype = None
        fn.argtypes = [ctypes.c_void_p] * (len(k.inputs) + len(k.outputs))
        # inputs are read in the memory order eager had them (Value.order), outputs written
        # in it: the kernel was generated for those strides
        ins = [(v.id, v.dtype, v.shape, v.order, _byte_strides(v)) for v in k.inputs]
        outs = [(v.id, v.dtype, v.shape, v.order, v.id in self.assign) for v in k.outputs]
        planned = self._planned
        # outputs written straight into the buffer of the input they replace (a write-back)
        writes = {**self.inplace, **(into or {})}
        inplace = [(j, writes[v.id], [x for x, u in enumerate(k.inputs)
                                      if u.id != writes[v.id]])
                   for j, v in enumerate(k.outputs) if v.id in writes and v.order is None]
        # a lone reduction handed an array not dense in the recorded order (a view): NumPy's
        # sum, whose order follows the array's strides (a dense copy would sum in another)
        numpy = super()._fused_step(n) if standalone(k) else None
        arena = self.arena
        ndarray = np.ndarray
        reader = address_reader()
        read, off = reader if reader is not None else (None, 0)
        # inputs whose array is the same object from call to call (graph inputs: parameters,
        # optimizer state; constants; arena views): the one that passed the checks last call
        # and its address, kept (a held graph input costs no memory; an array's layout and data
        # pointer never change)
        stable = [v.id in self.stable_ids or v.id in self.assign for v in k.inputs]
        seen: list = [None] * len(ins)
        seen_at = [0] * len(ins)
        positions = range(len(ins))

        def run(env):
            arrays = []
            addrs = []
            for i in positions:
                vid, dt, shape, order, strides = ins[i]
                a = env[vid]
                if a is seen[i]:
                    arrays.append(a)
                    addrs.append(seen_at[i])
                    continue
                if order is None:
                    if type(a) is not ndarray or a.dtype != dt or not a.flags.c_contiguous:
                        if numpy is not None:
                            return numpy(env)
                        a = np.ascontiguousarray(a, dtype=dt)
                elif type(a) is not ndarray or a.dtype != dt or \
                        any(a.strides[d] != st for d, st in strides):
                    if numpy is not None:
                        return numpy(env)
                    b = empty_in_order(shape, dt, order)
                    b[...] = a
                    a = b
                arrays.append(a)
                at = read(id(a) + off).value if read is not None else address(a)
                addrs.append(at)
                if stable[i] and a is env[vid]:
                    seen[i] = a
                    seen_at[i] = at
            results = [None] * len(outs)
            for j, src, others in inplace:
                dest = env[src]
                if type(dest) is ndarray and dest.flags.c_contiguous and dest.flags.writeable:
                    # no other input overlaps it (every array here is dense: its bytes are
                    # [address, address + nbytes), the bounds np.may_share_memory compares)
                    d0 = address(dest)
                    d1 = d0 + dest.nbytes
                    for x in others:
                        a0 = addrs[x]
                        if a0 < d1 and d0 < a0 + arrays[x].nbytes:
                            break
                    else:
                        results[j] = dest
            # planned outputs: the arena's views (made once, kept); the others fresh
            for j, (vid, dt, shape, order, p) in enumerate(outs):
                if results[j] is None:
                    results[j] = (arena.get(vid) if vid in arena else
                                  planned(vid, dt, shape, order)) if p else \
                        empty_in_order(shape, dt, order)
            if read is not None:
                addrs += [read(id(r) + off).value for r in results]
            else:
                addrs += [address(r) for r in results]
            fn(*addrs)
            for (vid, _, _, _, _), r in zip(outs, results):
                env[vid] = r
        return run
