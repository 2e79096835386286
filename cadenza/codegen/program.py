"""Programs: runs of consecutive C-runnable nodes of a compiled graph as one generated C function
(``cz_program_N(char **p)``), called once through ctypes instead of one Python closure per node.

A decoding step (batch 1) is ~100 small nodes whose kernels take microseconds each; per node the
executor's closure (argument checks, addresses, allocation) cost about as much again. A program
runs the same kernel calls with the same arguments in the same order, so its results are the
executor's bit for bit:

- views (``reshape``, ``view``, basic ``getitem``, ``permute``... any op whose ``forward`` hands
  back a view of its input) are pointer offsets worked out once, by running the op's forward on
  a stand-in array of the input's layout;
- fused and row kernels are direct calls into the graph's kernel library (the program is in the
  same translation unit);
- single-row products call ``codegen/gemv.py``'s ``cz_gemv_f32``/``cz_gemv_f64`` (NumPy's gemv on
  the calling thread), products with an epilogue then call the epilogue kernel;
- float32 attention calls the attention kernel of ``backend/ckernels.py`` (a boolean mask is
  turned into the additive float mask first, as ``np.where(mask, 0, -inf)``).

Layouts are static: every value has a *root* (a graph input, the output of a node that is not a
view, or a kernel's output) and a byte offset and strides into it. ``p`` holds the roots' base
addresses: external roots (read from the executor's environment on each call and checked: a
NumPy array of the recorded dtype and shape, C-contiguous; anything else runs the nodes'
closures instead), a scratch buffer for values no later step reads, a fresh block for the values
later steps or the caller read, and fixed entries (function and offset-table addresses).
"""
from __future__ import annotations

import ctypes

import numpy as np

from ..backend import ckernels
from ..graph.ir import Fused, Ref, Value, has_refs
from ..graph.passes.fuse_gemm_epilogue import GemmEpilogue
from ..ops import attention
from . import blas, gemv, render_rows
from .blas import address

ALIGN = 64
MIN_KERNELS = 2       # a run with fewer kernel calls stays closures (nothing to gain)


class Lay:
    """Where a value lives: ``root`` (the value id whose array holds it), byte ``off`` into
    it, ``shape``, byte ``strides`` and ``dtype``."""
    __slots__ = ("root", "off", "shape", "strides", "dtype")

    def __init__(self, root, off, shape, strides, dtype):
        self.root, self.off, self.shape, self.strides = root, off, tuple(shape), tuple(strides)
        self.dtype = np.dtype(dtype)

    def contiguous(self) -> bool:
        """C-contiguous (size-1 dims' strides ignored)."""
        acc = self.dtype.itemsize
        for n, s in zip(reversed(self.shape), reversed(self.strides)):
            if n != 1 and s != acc:
                return False
            acc *= n
        return True

    def dummy(self):
        """A stand-in array of this layout (from offset 0), and its buffer."""
        if any(s < 0 for s in self.strides):
            return None, None
        extent = sum((n - 1) * s for n, s in zip(self.shape, self.strides)) if \
            0 not in self.shape else 0
        buf = np.zeros(extent // self.dtype.itemsize + 1, self.dtype)
        return np.lib.stride_tricks.as_strided(buf, self.shape, self.strides), buf


def _root_lay(v: Value) -> Lay:
    """A fresh dense array of ``v`` (C order; or ``v.order``)."""
    if v.order is None:
        return Lay(v.id, 0, v.shape, np.empty(v.shape, v.dtype).strides if 0 not in v.shape
                   else [0] * len(v.shape), v.dtype)
    # the strides empty_in_order gives (a size-1 dim's too: they escape as the user's arrays)
    st, acc = [0] * len(v.shape), v.dtype.itemsize
    for d in reversed(v.order):
        st[d] = acc
        acc *= v.shape[d]
    return Lay(v.id, 0, v.shape, st, v.dtype)


def _view_lay(n, lays: dict):
    """The layout of view node ``n``'s output from its input's, or None (not a plain view
    of a C-ordered root with static attributes)."""
    op = n.op
    if isinstance(op, str) or isinstance(op, Fused) or not getattr(op, "view", False):
        return None
    if not n.inputs or not isinstance(n.inputs[0], Value) or has_refs(n.attrs) or \
            any(isinstance(x, Value) for x in n.inputs[1:]):
        return None
    src = lays.get(n.inputs[0].id)
    if src is None or not lays[src.root].contiguous():
        return None
    arr, buf = src.dummy()
    if arr is None:
        return None
    try:
        r = op.forward(np, arr, *n.inputs[1:], **n.attrs)
    except Exception:       # noqa: BLE001  (a stand-in the op refuses: not a static view)
        return None
    if type(r) is not np.ndarray or r.shape != n.out.shape or r.dtype != n.out.dtype or \
            not np.shares_memory(r, buf):
        return None
    off = r.__array_interface__["data"][0] - buf.__array_interface__["data"][0]
    return Lay(src.root, src.off + off, r.shape, r.strides, r.dtype)


class _Call:
    """One kernel call of a program: ``reads`` (value ids), ``writes`` (value ids it defines,
    with their layouts), ``emit(ptr, fixed) -> C statements``."""
    __slots__ = ("node", "reads", "writes", "emit", "writes_into")

    def __init__(self, node, reads, writes, emit):
        self.node, self.reads, self.writes, self.emit = node, reads, writes, emit
        self.writes_into = None     # the root id an in-place index write stores into


def _flit(x: float) -> str:
    return f"{float(x).hex()}"


class Planner:
    """Finds the programs of a graph (``segments``) and writes their C source."""

    def __init__(self, graph, names: dict, inplace: dict, write_into: set):
        self.graph = graph
        self.names = names            # id(kernel or node) -> C function name
        self.inplace = inplace        # output id -> input id (a kernel writing in place)
        self.write_into = write_into  # ids of index writes done in place
        self.lays: dict = {}

    # ------------------------------------------------------------------ classification
    def _lay_ok_for_kernel(self, v: Value) -> bool:
        """A kernel reads ``v`` as the executor hands it: dense in ``v.order`` (C order when
        None)."""
        lay = self.lays.get(v.id)
        if lay is None or lay.dtype != v.dtype or lay.shape != v.shape:
            return False
        want = _root_lay(v)
        return all(n == 1 or a == b for n, a, b in zip(v.shape, lay.strides, want.strides))

    def _kernel_call(self, n):
        """A fused or row kernel node as a call, or None."""
        k = n.op
        if isinstance(k, GemmEpilogue):
            return self._epilogue_call(n)
        if isinstance(k, Fused):
            name = self.names.get(id(k))
            if name is None or any(v.id in self.inplace for v in k.outputs):
                return None
            if not all(self._lay_ok_for_kernel(v) for v in k.inputs):
                return None
            ins, outs = [v.id for v in k.inputs], list(k.outputs)

            def emit(ptr, fixed):
                args = [ptr(i) for i in ins] + [ptr(v.id) for v in outs]
                return [f"{name}({', '.join(args)});"]
            return _Call(n, ins, outs, emit)
        name = self.names.get(id(n))
        if name is None or render_rows.template(n).counts_bad:
            return None
        vals = render_rows.arguments(n)
        if not all(self._lay_ok_for_kernel(v) and v.order is None for v in vals) or \
                n.out.order is not None:
            return None
        ins = [v.id for v in vals]
        out = n.out

        def emit(ptr, fixed):
            return [f"{name}({', '.join([ptr(i) for i in ins] + [ptr(out.id)])});"]
        return _Call(n, ins, [out], emit)

    def _gemv_args(self, n):
        """(a, b-of-x@b, bias, out) ids and the gemv call's static arguments for a single-row
        product node, or None (the executor's ``_gemm_step``/``_gemv_step`` conditions)."""
        if n.op_name not in ("matmul", "linear") or gemv.library() is None:
            return None
        linear = n.op_name == "linear"
        vals = [v for v in n.inputs if v is not None or not linear]
        if any(not isinstance(v, Value) for v in vals) or \
                len(vals) not in ((2, 3) if linear else (2,)) or \
                any(v.dtype != n.out.dtype for v in vals) or n.out.order is not None:
            return None
        a, w = self.lays.get(vals[0].id), self.lays.get(vals[1].id)
        if a is None or w is None or len(a.shape) != 2 or len(w.shape) != 2:
            return None
        b_shape, b_strides = (w.shape[::-1], w.strides[::-1]) if linear else (w.shape, w.strides)
        if not gemv.suits(a.shape, b_shape, n.out.dtype):
            return None
        isz = n.out.dtype.itemsize
        if not linear:     # matmul copies operands that are neither C- nor F-contiguous
            for lay in (a, w):
                t = Lay(0, 0, lay.shape[::-1], lay.strides[::-1], lay.dtype)
                if not (lay.contiguous() or t.contiguous()):
                    return None
        got = gemv.layout(b_shape, b_strides, isz)
        if got is None or a.strides[1] <= 0 or a.strides[1] % isz:
            return None
        bias = vals[2] if len(vals) > 2 else None
        if bias is not None and not self._lay_ok_for_kernel(bias):
            return None
        call = gemv.Gemv(gemv.library(), n.out.dtype, n.out.shape[1], a.shape[1])
        static = (got[0], a.shape[1], n.out.shape[1], got[1], a.strides[1] // isz, call.parts)
        return vals[0].id, vals[1].id, None if bias is None else bias.id, static

    def _gemv_emit(self, n, got, out_id):
        a, b, bias, (order, k, nn, ldb, incx, parts) = got
        fn = "f32" if n.out.dtype == np.float32 else "f64"

        def emit(ptr, fixed):
            g = fixed(("gemv", fn))
            return [f"((cz_gemv_t){g})({order}, {k}, {nn}, {ptr(b)}, {ldb}, {ptr(a)}, {incx}, "
                    f"{ptr(out_id)}, {'0' if bias is None else ptr(bias)}, {parts});"]
        return emit

    def _gemv_call(self, n):
        got = self._gemv_args(n)
        if got is None:
            return None
        reads = [i for i in got[:3] if i is not None]
        return _Call(n, reads, [n.out], self._gemv_emit(n, got, n.out.id))

    def _epilogue_call(self, n):
        k: GemmEpilogue = n.op
        name = self.names.get(id(k.epilogue))
        if name is None or any(v.id in self.inplace for v in k.outputs):
            return None
        got = self._gemv_args(k.product)
        if got is None:
            return None
        self.lays[k.product.out.id] = _root_lay(k.product.out)
        for w in k.views:
            lay = _view_lay(w, self.lays)
            if lay is None:
                return None
            self.lays[w.out.id] = lay
        if not all(self._lay_ok_for_kernel(v) for v in k.epilogue.inputs):
            return None
        prod = self._gemv_emit(k.product, got, k.product.out.id)
        ins, outs = [v.id for v in k.epilogue.inputs], list(k.epilogue.outputs)
        inner = [k.product.out.id] + [w.out.id for w in k.views]
        reads = [i for i in got[:3] if i is not None] + [i for i in ins if i not in inner]

        def emit(ptr, fixed):
            args = [ptr(i) for i in ins] + [ptr(v.id) for v in outs]
            return prod(ptr, fixed) + [f"{name}({', '.join(args)});"]
        return _Call(n, reads, [k.product.out] + outs, emit)

    def _attention_call(self, n):
        if n.op_name != "scaled_dot_product_attention" or n.out.dtype != np.float32 or \
                ckernels.attention_kernels() is None or n.out.order is not None:
            return None
        vals = list(n.inputs) + [None] * (4 - len(n.inputs))
        if any(not isinstance(v, Value) or v.dtype != np.float32 for v in vals[:3]):
            return None
        mask = vals[3]
        if mask is not None and (not isinstance(mask, Value) or
                                 mask.dtype not in (np.bool_, np.float32) or
                                 not self._lay_ok_for_kernel(mask) or mask.order is not None):
            return None
        lays = [self.lays.get(v.id) for v in vals[:3]]
        if any(x is None for x in lays):
            return None
        dummies = [x.dummy()[0] for x in lays]
        if any(d is None for d in dummies):
            return None
        m = None if mask is None else np.zeros(mask.shape, np.float32)
        try:
            (q2, qoff, qs, qo), (k2, koff, ks, ko), (v2, voff, vs, vo), (m2, moff, ms, mo), _ = \
                attention._kernel_args(*dummies, m)
        except Exception:      # noqa: BLE001  (shapes the kernel refuses: the closure's path)
            return None
        if q2 is not dummies[0] or k2 is not dummies[1] or v2 is not dummies[2] or \
                (m is not None and m2.__array_interface__["data"][0] !=
                 m.__array_interface__["data"][0]):
            return None
        q, kk, v = dummies
        BH, L, S, D, Dv = int(np.prod(q.shape[:-2])), q.shape[-2], kk.shape[-2], q.shape[-1], \
            v.shape[-1]
        scale, causal = float(n.attrs["scale"]), int(bool(n.attrs["causal"]))
        ids = [x.id for x in vals[:3]]
        out = n.out
        # the additive mask (float32, the mask's shape) lives in scratch: a value of its own
        madd = None
        if mask is not None and mask.dtype == np.bool_:
            madd = Value(-(out.id + 1), mask.shape, np.float32)
            self.lays[madd.id] = _root_lay(madd)
        offsets = (qoff, koff, voff, moff)
        count = int(np.prod(mask.shape)) if mask is not None else 0

        def emit(ptr, fixed):
            f = fixed(("sdpa", None))
            offs = [fixed(("array", o)) if o is not None else "0" for o in offsets]
            lines = []
            mptr = "0"
            if mask is not None:
                mptr = ptr(mask.id)
                if madd is not None:
                    lines.append(f"{{ const unsigned char *b = {ptr(mask.id)}; "
                                 f"float *m = {ptr(madd.id)}; "
                                 f"for (cz_i i = 0; i < {count}; i++) "
                                 f"m[i] = b[i] ? 0.0f : -INFINITY; }}")
                    mptr = ptr(madd.id)
            lines.append(f"((cz_sdpa_t){f})({ptr(ids[0])}, {ptr(ids[1])}, {ptr(ids[2])}, "
                         f"{mptr}, {ptr(out.id)}, {', '.join(offs)}, {BH}, {L}, {S}, {D}, "
                         f"{Dv}, {qs}, {ks}, {vs}, {ms}, (float){_flit(scale)}, {causal});")
            return lines
        reads = ids + ([mask.id] if mask is not None else [])
        return _Call(n, reads, ([madd] if madd is not None else []) + [out], emit)

    def _index_put_call(self, n):
        """An index write into its destination's own buffer (``write_in_place``) with one
        int64 index array (length T) among integers and slices, the value of the indexed
        shape and dtype: per index, a bounds check (out of range: the program returns 1 and
        the nodes' closures run instead, raising NumPy's error) then a strided copy. Its output
        is the destination itself."""
        if id(n) not in self.write_into or n.attrs.get("accumulate") or len(n.inputs) != 3:
            return None
        x, v, ix = n.inputs
        index = n.attrs.get("index")
        if not all(isinstance(u, Value) for u in n.inputs) or not isinstance(index, tuple) or \
                ix.dtype != np.int64 or len(ix.shape) != 1 or v.dtype != x.dtype:
            return None
        refs = [d for d, e in enumerate(index) if isinstance(e, Ref)]
        if refs != [d for d, e in enumerate(index) if not isinstance(e, (int, slice))] or \
                len(refs) != 1 or index[refs[0]].index != 2 or \
                any(type(e) is bool for e in index):
            return None
        lx, lv, li = self.lays.get(x.id), self.lays.get(v.id), self.lays.get(ix.id)
        if lx is None or lv is None or li is None or lx.off != 0 or \
                lx.shape != x.shape or not lx.contiguous() or lv.shape != v.shape:
            return None
        d = refs[0]
        arr, buf = lx.dummy()
        basic = tuple(0 if i == d else e for i, e in enumerate(index))
        try:
            sub = arr[basic]             # the slots of index 0: ints and slices, a view
            want = np.empty(x.shape, np.uint8)[tuple(np.zeros(ix.shape, np.int64)
                                                     if i == d else e
                                                     for i, e in enumerate(index))].shape
        except (IndexError, TypeError, ValueError):
            return None
        if not isinstance(sub, np.ndarray) or not np.shares_memory(sub, buf) or \
                want != v.shape:
            return None
        T = ix.shape[0]
        adv = [i for i, e in enumerate(index) if not isinstance(e, slice)]
        together = adv == list(range(adv[0], adv[-1] + 1))
        jpos = sum(1 for i, e in enumerate(index) if isinstance(e, slice) and i < adv[0]) \
            if together else 0
        vstr = list(lv.strides)
        vj = vstr.pop(jpos)
        if len(vstr) != sub.ndim or tuple(v.shape[:jpos] + v.shape[jpos + 1:]) != sub.shape:
            return None
        base = sub.__array_interface__["data"][0] - buf.__array_interface__["data"][0]
        N, SD = x.shape[d], lx.strides[d]
        ct = {1: "uint8_t", 2: "uint16_t", 4: "uint32_t", 8: "uint64_t"}.get(x.dtype.itemsize)
        if ct is None:
            return None
        loops = [(n_, ds, vs) for n_, ds, vs in zip(sub.shape, sub.strides, vstr)]
        li_ok = li.contiguous()
        if not li_ok:
            return None
        out = n.out

        def emit(ptr, fixed):
            lines = [f"{{ const int64_t *ix = {ptr(ix.id)}; char *d0 = (char *){ptr(x.id)} + "
                     f"{base}; const char *v0 = {ptr(v.id)};",
                     f"  for (cz_i j = 0; j < {T}; j++) {{ int64_t i = ix[j] < 0 ? ix[j] + {N} "
                     f": ix[j]; if (i < 0 || i >= {N}) return 1; }}",
                     f"  for (cz_i j = 0; j < {T}; j++) {{",
                     f"    int64_t i = ix[j] < 0 ? ix[j] + {N} : ix[j];",
                     f"    char *d = d0 + i * {SD}; const char *v = v0 + j * {vj};"]
            idx_d, idx_v = [], []
            for a, (cnt, ds, vs) in enumerate(loops):
                lines.append("    " + "  " * a + f"for (cz_i a{a} = 0; a{a} < {cnt}; a{a}++)")
                idx_d.append(f"a{a} * {ds}")
                idx_v.append(f"a{a} * {vs}")
            dexp = " + ".join(["0"] + idx_d)
            vexp = " + ".join(["0"] + idx_v)
            lines.append("    " + "  " * len(loops) +
                         f"*({ct} *)(d + {dexp}) = *(const {ct} *)(v + {vexp});")
            lines.append("  }")
            lines.append("}")
            return lines
        # the output is the destination's buffer: the same root
        self.lays[out.id] = lx
        call = _Call(n, [x.id, v.id, ix.id], [], emit)
        call.writes_into = lx.root
        return call

    def classify(self, n):
        """"view" (a static view: its layout is in ``lays``), a _Call, or None (a closure)."""
        if n.op == "input" or n.op == "const":
            self.lays[n.out.id] = _root_lay(n.out) if n.op == "input" else \
                _const_lay(n)
            return None
        if id(n) not in self.write_into and not isinstance(n.op, (str, Fused)):
            lay = _view_lay(n, self.lays)
            if lay is not None:
                self.lays[n.out.id] = lay
                return "view"
        call = None
        if id(n) in self.write_into:
            call = self._index_put_call(n)
            if call is not None:
                return call
        elif isinstance(n.op, Fused) or id(n) in self.names:
            call = self._kernel_call(n)
        elif n.op_name in ("matmul", "linear") and blas.library() is not None:
            call = self._gemv_call(n)
        elif n.op_name == "scaled_dot_product_attention":
            call = self._attention_call(n)
        # a kernel's output, or what a closure makes: a fresh array (checked when a program
        # reads it); a product's epilogue and attention's mask set their inner values' own
        for v in n.outs:
            self.lays[v.id] = _root_lay(v)
        return call


def _const_lay(n) -> Lay:
    a = n.attrs["value"]
    if type(a) is not np.ndarray:
        return _root_lay(n.out)
    return Lay(n.out.id, 0, a.shape, a.strides, a.dtype)


HEADER = r"""
/* programs (codegen/program.py): runs of kernel calls (int64_t: I is complex.h's macro) */
#include <math.h>
typedef int64_t cz_i;
typedef void (*cz_gemv_t)(int, cz_i, cz_i, const void *, cz_i, const void *, cz_i, void *,
                          const void *, int);
typedef void (*cz_sdpa_t)(const void *, const void *, const void *, const void *, void *,
                          const void *, const void *, const void *, const void *, cz_i, cz_i,
                          cz_i, cz_i, cz_i, cz_i, cz_i, cz_i, cz_i, float, int);
"""


class Segment:
    """One program: its nodes (views and calls, in order), the C function's name, and what
    ``install`` needs to run it."""

    def __init__(self, index: int, nodes: list, calls: list):
        self.index = index
        self.nodes = nodes
        self.calls = calls
        self.name = f"cz_program_{index}"
        self.ext: list = []          # (slot, value id, Lay) read from the environment
        self.fixed: list = []        # (slot, (kind, object)) set once
        self.positions: list = []    # the nodes' positions in graph.nodes
        self.direct: list = []       # value ids its nodes read from outside it
        self.ext_roots: list = []    # roots of the values it reads, defined outside it
        self.reads: list = []        # value ids read from the environment (ext roots, inputs)
        self.escapes: list = []      # (value id, Lay, ("block", root's offset) or ("arena",
        #                              root id) or None: a view of an external root)
        self.arena: list = []        # (slot, Value): roots written into the memory plan's arena
        self.scratch_bytes = 0
        self.block_bytes = 0
        self.scratch_slot = self.block_slot = -1
        self.slots = 0
        self.writes_into: set = set()   # external roots an index write stores into
        self.source = ""


def plan(graph, names: dict, inplace: dict, write_into: set, outputs_read: set) -> list:
    """The programs of ``graph``: a list of (position of each node in graph.nodes, Segment).
    ``outputs_read``: value ids the caller reads after the call (outputs, write-backs)."""
    p = Planner(graph, names, inplace, write_into)
    runs, cur = [], []
    for i, n in enumerate(graph.nodes):
        got = p.classify(n)
        if n.op in ("input", "const"):
            continue
        if got is None:
            runs.append(cur)
            cur = []
        else:
            cur.append((i, n, got))
    runs.append(cur)
    runs = [r for r in runs if sum(isinstance(g, _Call) for _, _, g in r) >= MIN_KERNELS]
    if not runs:
        return []
    segs = []
    in_seg: dict = {}
    for r in runs:
        s = Segment(len(segs), [n for _, n, _ in r], [g for _, _, g in r if g != "view"])
        s.positions = [i for i, _, _ in r]
        for i in s.positions:
            in_seg[i] = s
        segs.append(s)
    # who reads what: direct inputs of closures, (direct inputs + roots) of programs
    lays = p.lays
    defined: dict = {}
    for s in segs:
        for n in s.nodes:
            for v in n.outs:
                defined[v.id] = s
        for c in s.calls:
            for v in c.writes:
                defined[v.id] = s
    read_by_other: set = set(outputs_read)
    for s in segs:
        direct, roots = [], []
        for n, c in _node_calls(s):
            ins = c.reads if c is not None else [n.inputs[0].id]
            for i in ins:
                if defined.get(i) is not s:
                    direct.append(i)
                lay = lays[i]
                if defined.get(lay.root) is not s:
                    roots.append(lay.root)
        s.direct = list(dict.fromkeys(direct))
        s.ext_roots = list(dict.fromkeys(roots))
        read_by_other.update(s.direct)
        read_by_other.update(s.ext_roots)
    for i, n in enumerate(graph.nodes):
        if i not in in_seg and n.op not in ("input", "const"):
            read_by_other.update(u.id for u in n.uses())
    plan_ = getattr(graph, "plan", None)
    assign = plan_.assign if plan_ is not None else {}
    for s in segs:
        _layout_segment(s, lays, defined, read_by_other, assign)
    return segs


def _node_calls(s):
    """(node, its _Call or None for a view) of segment ``s``."""
    calls = {id(c.node): c for c in s.calls}
    return [(n, calls.get(id(n))) for n in s.nodes]


def _aligned(n: int) -> int:
    return -(-n // ALIGN) * ALIGN


def _layout_segment(s: Segment, lays: dict, defined: dict, read_by_other: set,
                    assign: dict) -> None:
    """Slots, scratch and block offsets, escapes and the C source of segment ``s``.
    ``assign``: the memory plan's arena slots (graph/passes/plan_memory.py): a value read
    after the program that has one is written into its arena buffer, as the closures do."""
    mine = [v for c in s.calls for v in c.writes]          # values the calls write (roots)
    # values that live in another value's buffer: views, an index write's destination
    view_vals = [v for n, c in _node_calls(s) for v in n.outs if lays[v.id].root != v.id]
    esc_views = [v for v in view_vals if v.id in read_by_other]
    esc_roots = {v.id for v in mine if v.id in read_by_other} | \
        {lays[v.id].root for v in esc_views if defined.get(lays[v.id].root) is s}
    slot = 0
    ext_slot = {}
    for r in s.ext_roots:
        ext_slot[r] = slot
        s.ext.append((slot, r, lays[r]))
        slot += 1
    s.scratch_slot, s.block_slot = slot, slot + 1
    slot += 2
    where: dict = {}          # root id -> (slot, byte offset)
    for v in mine:
        nbytes = _aligned(max(int(np.prod(v.shape, dtype=np.int64)) * v.dtype.itemsize, 1))
        if v.id in esc_roots and v.id in assign:
            where[v.id] = (slot, 0)
            s.arena.append((slot, v))
            s.escapes.append((v.id, lays[v.id], ("arena", v.id)))
            slot += 1
        elif v.id in esc_roots:
            where[v.id] = (s.block_slot, s.block_bytes)
            s.escapes.append((v.id, lays[v.id], ("block", s.block_bytes)))
            s.block_bytes += nbytes
        else:
            where[v.id] = (s.scratch_slot, s.scratch_bytes)
            s.scratch_bytes += nbytes
    arena = {v.id for _, v in s.arena}
    for v in esc_views:
        lay = lays[v.id]
        if lay.root in arena:
            s.escapes.append((v.id, lay, ("arena", lay.root)))
        elif lay.root in where:
            s.escapes.append((v.id, lay, ("block", where[lay.root][1])))
        else:
            s.escapes.append((v.id, lay, None))       # a view of an external root
    fixed: dict = {}

    def fix(key) -> str:
        k = (key[0], id(key[1]) if key[0] == "array" else key[1])
        if k not in fixed:
            fixed[k] = (len(s.fixed) + slot, key)
            s.fixed.append(fixed[k])
        return f"p[{fixed[k][0]}]"

    def ptr(vid) -> str:
        lay = lays[vid]
        if lay.root in ext_slot:
            return f"(void *)(p[{ext_slot[lay.root]}] + {lay.off})"
        sl, off = where[lay.root]
        return f"(void *)(p[{sl}] + {off + lay.off})"

    body = []
    for c in s.calls:
        body += ["    " + line for line in c.emit(ptr, fix)]
    s.slots = slot + len(s.fixed)
    s.reads = list(dict.fromkeys(s.direct + s.ext_roots))
    s.writes_into = {c.writes_into for c in s.calls if c.writes_into is not None}
    s.source = f"int {s.name}(char **p) {{\n" + "\n".join(body) + "\n    return 0;\n}\n"


def source(segs: list) -> str:
    """The C source of the programs (after the graph's kernels: they call them)."""
    if not segs:
        return ""
    return HEADER + "\n".join(s.source for s in segs)


class ProgramNode:
    """Stands for a program in a profile (``graph.interpret.Profile``): its nodes' names."""
    op = None

    def __init__(self, s: Segment):
        self.segment = s
        self.op_name = f"program ({len(s.calls)} calls)"
        self.out = s.nodes[-1].out

    def uses(self) -> list:
        return []


def _fixed_address(kind, obj) -> int:
    if kind == "gemv":
        return ctypes.cast(getattr(gemv.library(), f"cz_gemv_{obj}"), ctypes.c_void_p).value
    if kind == "sdpa":
        return ctypes.cast(ckernels.attention_kernels()[0], ctypes.c_void_p).value
    return obj.ctypes.data         # an offset table of the attention kernel


def runner_step(s: Segment, lib, fallback: list, cached: set, planned):
    """The executor's step for program ``s``: ``run(env)``. ``fallback``: the closures of its
    nodes, run instead when an external array is not as recorded. ``cached``: root ids whose
    array stays the same object across calls (inputs, constants): checked once per object."""
    fn = getattr(lib, s.name)
    fn.restype = ctypes.c_int
    fn.argtypes = [ctypes.c_void_p]
    fixed = [(slot, _fixed_address(kind, obj)) for slot, (kind, obj) in s.fixed]
    keep = [obj for _, (_, obj) in s.fixed]         # noqa: F841  (offset tables stay alive)
    ext = []
    root_lay = {}
    for slot, vid, lay in s.ext:
        c_order = lay.contiguous()
        ext.append((slot, vid, lay.shape, lay.dtype, None if c_order else lay.strides,
                    vid in cached, vid in s.writes_into))
        root_lay[vid] = lay
    # (value id, shape, dtype, strides, offset, block offset of its root or None, root id,
    # whether it is the whole external root: then that very array, as the closure gives it)
    escapes = []
    for vid, lay, src in s.escapes:
        r = root_lay.get(lay.root)
        whole = (src is None and r is not None and lay.off == 0 and lay.shape == r.shape and
                 lay.strides == r.strides and lay.dtype == r.dtype) or \
            (src is not None and src[0] == "arena" and vid == lay.root)
        boff = src[1] if src is not None and src[0] == "block" else None
        escapes.append((vid, lay.shape, lay.dtype, lay.strides, lay.off, boff, lay.root,
                        whole))
    arrays: dict = {}          # arena root id -> its arena array (kept across calls)
    contexts: list = []
    sslot, bslot, nbytes, sbytes = s.scratch_slot, s.block_slot, s.block_bytes, s.scratch_bytes

    def context():
        tbl = np.zeros(max(s.slots, 1), np.uint64)
        for slot, addr in fixed:
            tbl[slot] = addr
        scratch = np.empty(max(sbytes, ALIGN) + ALIGN, np.uint8)
        base = scratch.ctypes.data
        tbl[sslot] = base + (-base % ALIGN)
        for slot, v in s.arena:
            a = arrays[v.id] = planned(v.id, v.dtype, v.shape, v.order)
            tbl[slot] = a.ctypes.data
        return tbl, tbl.ctypes.data, [None] * len(ext), scratch

    def run(env):
        ctx = contexts.pop() if contexts else context()
        tbl, taddr, held, _ = ctx
        try:
            for j, (slot, vid, shape, dt, strides, keep_it, written) in enumerate(ext):
                a = env[vid]
                if a is held[j]:
                    continue
                if type(a) is not np.ndarray or a.dtype != dt or a.shape != shape or \
                        not (a.flags.c_contiguous if strides is None else
                             all(n == 1 or x == y for n, x, y in zip(shape, a.strides,
                                                                      strides))) or \
                        (written and not a.flags.writeable):
                    for step in fallback:
                        step(env)
                    return
                tbl[slot] = address(a)
                held[j] = a if keep_it else None
            blk = None
            if nbytes:
                blk = np.empty(nbytes, np.uint8)
                tbl[bslot] = address(blk)
            if fn(taddr):       # an index out of range: the closures raise NumPy's error
                for step in fallback:
                    step(env)
                return
            for vid, shape, dt, strides, off, boff, root, whole in escapes:
                if whole:
                    env[vid] = arrays[root] if root in arrays else env[root]
                elif boff is not None:
                    env[vid] = np.ndarray(shape, dt, buffer=blk, offset=boff + off,
                                          strides=strides)
                else:
                    env[vid] = np.ndarray(shape, dt, buffer=arrays[root] if root in arrays
                                          else env[root], offset=off, strides=strides)
        finally:
            contexts.append(ctx)
    run.keep = keep
    return run


def install(runner, segs: list, lib) -> None:
    """Replace the closures of ``runner`` (a graph.interpret.Interpreter) for the nodes of
    ``segs`` by one step per program; constants' steps move first and every value is
    released after its last reader (programs read the roots of the views they take)."""
    graph = runner.graph
    positions = [i for i, n in enumerate(graph.nodes) if n.op != "input"]
    closure = {i: step for i, (step, _) in zip(positions, runner.steps)}
    seg_at: dict = {}
    for s in segs:
        for i in s.positions:
            seg_at[i] = s
    cached = {n.out.id for n in graph.nodes if n.op in ("input", "const")}
    order = [i for i in positions if graph.nodes[i].op == "const"] + \
        [i for i in positions if graph.nodes[i].op != "const"]
    steps, step_nodes, reads, writes = [], [], [], []
    for i in order:
        s = seg_at.get(i)
        n = graph.nodes[i]
        if s is None:
            steps.append(closure[i])
            step_nodes.append(n)
            reads.append([u.id for u in n.uses()])
            writes.append([v.id for v in n.outs])
        elif i == s.positions[0]:
            steps.append(runner_step(s, lib, [closure[j] for j in s.positions], cached,
                                     runner._planned))
            step_nodes.append(ProgramNode(s))
            reads.append(s.reads)
            writes.append([vid for vid, _, _ in s.escapes])
    keep = set(runner.output_ids)
    last: dict = {}
    for j, (r, w) in enumerate(zip(reads, writes)):
        for vid in w:
            last.setdefault(vid, j)
        for vid in r:
            last[vid] = j
    dead: list = [[] for _ in steps]
    for vid, j in last.items():
        if vid not in keep:
            dead[j].append(vid)
    runner.steps = [(st, tuple(d)) for st, d in zip(steps, dead)]
    runner.step_nodes = step_nodes
