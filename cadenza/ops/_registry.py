"""The op registry and the one dispatch path every primitive goes through.

A primitive is a class registered with ``@register`` that holds everything about one op:
- ``forward(xp, *arrays, **attrs)``: backend arrays in, one array out, written against ``xp``;
- ``backward(ctx, grad)``: the gradient rule, written only in Cadenza Tensor ops, returning one
  gradient (or None) per input; ``ctx`` is the graph node (``ctx.saved``, ``ctx.out``,
  ``ctx.attrs``, ``ctx.shape(i)``);
- ``kind`` (elementwise, reduce, shape, index, library, random, creation) and its lowering:
  ``c_expr`` for fused elementwise kernels, ``onnx`` for export (None: not exportable);
  a ``c_expr`` is a C expression over ``{0}``, ``{1}``... (the inputs), ``{T}`` (the C type the
  op computes in) and named attributes (``{min}``); math functions go by their double names
  (kernels include <tgmath.h>, so ``exp`` of a float is ``expf``), float constants are written
  ``({T})0.5`` and the ``CZ_*`` helpers of codegen/render_c.py follow NumPy where C differs
  (NaN-propagating max/min, Python-style remainder);
- ``saves``: what backward reads ("inputs", "output", "both", "none"), checked against
  version counters so an in-place change of a saved value is reported, never silently used.
Consumers read everything else about an op from these fields too (none keeps a table of op
names): codegen and the fusion passes read ``c_*`` and ``row_kernel``, the memory plan
``view``/``may_alias``, ONNX export ``onnx`` (see ``Op``).
Broadcast gradients are reduced to each input's shape by the engine, not in backward rules.
"""
from __future__ import annotations

import contextvars
import functools
import operator
import warnings as _warnings

import numpy as np

from .._dispatch import state as _state, user_source
from ..autograd.node import NodeClassOf, grad_node, pack_saved
from ..autograd.views import link_view, view_grad_fn
from .._tensor_base import TensorBase as Tensor
from .. import _tensor_base as _tb
from .. import dtypes as _dt
from ..errors import ShapeError, DTypeError, fmt_shape
from ..autograd.anomaly import check_forward
from ..backend import xp_of, layout as _layout
from ..backend.cpu import FP_QUIET, fp_state
from ..backend.meta import MetaArray, to_meta

REGISTRY: dict[str, type] = {}
_REQUIRED = ("name", "kind", "forward", "onnx")
_KINDS = {"elementwise", "reduce", "shape", "index", "library", "random", "creation"}


class Op:
    """Base of primitives; subclasses set the fields checked by ``register``."""
    saves = "inputs"
    promote = False      # binary type promotion (PyTorch rules) before forward
    to_float = False     # integer inputs compute in the default float dtype (exp, div, ...)
    float_result = False  # integer inputs give a float result (true division): operands of
    #                       mixed integer dtypes promote to the default float, never through
    #                       an integer type that would wrap a negative value
    differentiable = True
    node_cls = NodeClassOf()   # the Node subclass of its nodes (autograd/node.py)
    # backward is written as for real numbers and the op is holomorphic: with a complex
    # gradient the engine runs conj(backward(conj(g))) (see ops/complex.py)
    holomorphic = True
    view = False         # output may share memory with input 0
    # backward reads the saved output only to find where the winners are (torch saves their
    # indices instead): an in-place write into the output (``F.max_pool2d`` then
    # ``nn.ReLU(inplace=True)``) snapshots it rather than failing backward's version check
    out_snapshot = False
    may_alias = False    # may hand back its input itself (a no-op cast, clone or move)
    # whether forward may meet NumPy floating-point errors (inf/nan results), which run silent
    # as in PyTorch; None: all kinds but "shape" and "index" (they move values, never compute)
    fp_errors = None
    # --- C lowering (codegen/render_c.py, graph/passes/fuse_elementwise.py)
    # c_expr: a template string (see the module docstring), or a function attrs -> template
    # when the attributes choose the expression (clamp with one bound or two)
    c_expr = None
    c_attrs = frozenset()  # attributes the lowering reads; a node with any other stays NumPy
    # dtype kinds of the compute dtype where C matches NumPy bit for bit: "f" (float), plus "i"
    # (integer), "b" (bool)
    c_kinds = "f"
    c_exact = True       # False: C's libm computes it, within a few ulp of NumPy
    # how operands relate to the compute dtype: "compute" (all of it), "cond" (operand 0 a bool
    # condition, as in where), "any" (any fusable dtype, read as a value or truth value; no
    # float scalars)
    c_operands = "compute"
    c_compute = "output"  # the dtype it computes in: its "output"'s or its first "input"'s
    # c_check(node) -> bool: a further condition on a node's attributes (None: none)
    c_check = None
    # c_reduce: how a fused reduction kernel combines elements ("sum", "max", "min"), or None
    c_reduce = None
    # --- row kernel (codegen/render_rows.py): the name of the C template computing this op row
    # by row on float32, None when there is none
    row_kernel = None
    # --- ONNX export (onnx/): None (not exportable), the name of the ONNX op computing it one to
    # one (same inputs, no attributes), or a function lower(ctx, node, out) that appends the
    # ONNX nodes through ctx (onnx/_lower.py's Ctx)
    onnx_refs = False    # the lowering reads traced tensors inside attributes (getitem)
    # attributes the lowering re-derives from output shapes: with dynamic axes they may change
    # with a size
    onnx_shape_attrs = frozenset()
    # needs_saved(edges) -> which saved inputs backward reads (truth values, one per input),
    # given the node's edges (per input its graph node, truthy, where a gradient flows to it,
    # else None); None: all of them. The rest are not checked for in-place modification
    needs_saved = None
    # --- autocast (cadenza.amp.autocast): "lower" ops (GEMMs) round their float inputs to the
    # region's dtype and give their output in it; "fp32" ops compute reduced-precision inputs
    # in float32, as torch's CPU autocast lists; None: run as given
    autocast = None
    # a Python number operand may reach forward as a 0-d array of the tensor operand's float
    # dtype (NumPy runs a ufunc ~1 us faster on it than on a Python scalar, with bitwise the
    # same result): set only where forward treats both alike (plain ufunc arithmetic), to the
    # C function forward computes on two float arrays of one dtype (``operator.mul``), which
    # the operators' number path (number_dunder) calls directly; False elsewhere. Its forward
    # is written in one of _FP_MODULES (a ufunc called from there runs silent without NumPy's
    # error-state switch: see _fp_quiet_now)
    array_scalars = False
    # --- meta tensors (device='meta': shapes and dtypes, no data; see _meta_run): None runs
    # forward on zero-stride stand-ins (elementwise ops on 0-d ones); a function
    # meta(*arrays, **attrs) -> (arrays, attrs) gives operands of a cheaper forward with the
    # same output shape and dtype (a GEMM's contraction cut to length 1); False: the output's
    # shape depends on the values (nonzero), so meta tensors raise NotImplementedError
    meta = None
    # --- float16 / bfloat16 (torch's "opmath"): an op computing on them computes in float32
    # and rounds its result once, as torch's CPU kernels do (NumPy would round after every
    # step of a composite forward: sigmoid, rsqrt, softmax, GELU, norms). None: every
    # elementwise, reduce and library op; False: run as given (casts, moves, and ops whose
    # result depends on the narrow dtype itself, as nextafter)
    opmath = None
    # how a Python number meets a float16/bfloat16 tensor in an opmath op: rounded to the
    # tensor's dtype first (False, TensorIterator's cast of a wrapped number: add, sub, pow,
    # atan2, comparisons), or taken in float32 as given (True: torch's mul and div kernels
    # read the original scalar)
    opmath_scalars = False
    # elementwise ops: a Python number operand is one of the operands torch's TensorIterator
    # orders the result's dims by (a wrapped 0-d tensor: add, mul, comparisons, where), not a
    # parameter of a unary kernel (pow(x, 2), clamp(x, 0, 1)); see layout.elementwise_strides
    scalar_operands = False
    # the result is row-major whatever the operands' layout, as torch allocates it (reductions,
    # scans, softmax, layer norm); None: every "reduce" op
    contiguous_result = None
    _plan = (None,)      # set by _plan_of


def _camel(name: str) -> str:
    return "".join(p.capitalize() for p in name.split("_"))


def register(cls):
    """Add a primitive to the registry; fail at import if a required field is missing."""
    missing = [f for f in _REQUIRED if f not in cls.__dict__ and not hasattr(cls, f)]
    if cls.differentiable and not hasattr(cls, "backward"):
        missing.append("backward")
    if missing or cls.kind not in _KINDS:
        raise TypeError(f"op {cls.__name__}: missing {missing or 'a valid kind'}")
    if cls.kind == "elementwise" and cls.differentiable and cls.c_expr is None:
        raise TypeError(f"op {cls.__name__}: elementwise ops need a c_expr lowering")
    bad = [f for f, ok in (("c_kinds", set(cls.c_kinds) <= set("fib")),
                           ("c_operands", cls.c_operands in ("compute", "cond", "any")),
                           ("c_compute", cls.c_compute in ("output", "input")),
                           ("c_reduce", cls.c_reduce in (None, "sum", "max", "min")),
                           ("c_attrs", isinstance(cls.c_attrs, frozenset)),
                           ("onnx", cls.onnx is None or isinstance(cls.onnx, str) or
                            callable(cls.onnx))) if not ok]
    if bad:
        raise TypeError(f"op {cls.__name__}: invalid {bad}")
    if cls.array_scalars and getattr(cls.forward, "__module__", None) not in _FP_MODULES:
        # _run skips the error-state switch for them: only the warnings filter of
        # _FP_MODULES keeps a forward elsewhere quiet
        raise TypeError(f"op {cls.__name__}: an array_scalars op's forward is written in one "
                        f"of {_FP_MODULES}")
    if cls.name in REGISTRY:
        raise TypeError(f"op {cls.name} registered twice")
    cls.node_name = _camel(cls.name) + "Backward0"
    if cls.fp_errors is None:
        cls.fp_errors = cls.kind not in ("shape", "index")
    REGISTRY[cls.name] = cls
    plan = _plan_of(cls)
    if plan[11]:
        # every other caller of forward (the graph interpreter, constant folding, programs)
        # computes float16/bfloat16 as eager does; eager's _run checks inline instead
        cls.forward = staticmethod(_opmath_forward(cls, plan[1]))
    return cls


def _opmath_forward(op, raw):
    """``raw`` (an op's forward) computing float16/bfloat16 operands in float32, rounded once
    (``_widened``), for callers that hold arrays and numbers only (no tensors)."""
    def forward(xp, *arrs, **attrs):
        low = _low_of(arrs) if xp is np and attrs.get("dtype") is None else None
        if low is None:
            return raw(xp, *arrs, **attrs)
        return _widened(op, raw, arrs, arrs, attrs, low)
    forward._opmath_raw = raw
    return forward


def _plan_of(op):
    """The fields of ``op`` that dispatch reads on every call, as one tuple stored on the op
    (one class-attribute load per call instead of nine); made at registration (op fields are
    not changed later), or on first use for an op class that was never registered."""
    fp = op.fp_errors
    if fp is None:
        fp = getattr(op, "kind", None) not in ("shape", "index")
    saves = op.saves
    forward = op.forward
    forward = getattr(forward, "_opmath_raw", forward)   # (a registered parent's wrapper)
    opmath = op.opmath
    if opmath is None:
        opmath = getattr(op, "kind", None) in ("elementwise", "reduce", "library") and \
            not (op.may_alias or op.view)
    plan = (op, forward, op.promote, op.to_float, fp, op.view, op.differentiable,
            saves == "inputs" or saves == "both", saves == "output" or saves == "both",
            op.needs_saved, op.array_scalars, opmath, _layout_rule(op))
    op._plan = plan
    return plan


def _layout_rule(op) -> int:
    """How _run lays out ``op``'s result: 1 as torch's elementwise ops (_torch_layout), 2
    row-major (``contiguous_result``), 0 as forward gives it."""
    kind = getattr(op, "kind", None)
    if kind == "elementwise" and not op.may_alias:
        return 1
    rowmajor = op.contiguous_result
    return 2 if (kind == "reduce" if rowmajor is None else rowmajor) else 0


def _promote(op, args, arrs):
    """PyTorch's promotion: cast arrays only when dtypes differ or a scalar raises the
    category (NumPy already keeps the array dtype for same-category Python scalars)."""
    if len(arrs) == 2:  # tensor (op) tensor-or-Python-scalar of one dtype (_run has the
        x, y = arrs     # float cases inline)
        if type(x) is np.ndarray:
            ty = type(y)
            if ty is np.ndarray:
                if x.dtype == y.dtype:
                    return arrs
            elif ty is float and x.dtype.kind == "f":
                return arrs
            elif ty is int and x.dtype.kind in "fiu":
                if x.dtype.kind == "f" or op.to_float or op.float_result:
                    return arrs
                return [x, _wrapped_int(y, x.dtype)]
    first = None
    need = False
    for a, x in zip(args, arrs):
        if isinstance(a, Tensor):
            if first is None:
                first = x.dtype
            elif x.dtype != first:
                need = True
                break
    if not need and first is not None:
        k = first.kind
        bf16 = k == "V"  # bfloat16 (ml_dtypes) is the only supported dtype of kind V
        for a in args:
            if not isinstance(a, Tensor):
                t = type(a)
                if (t is float and k not in "fc") or (t is int and k == "b") or bf16 or (
                        t is complex and k != "c"):
                    need = True
                    break
    if not need:
        if first is not None and first.kind in "iu" and not (op.to_float or op.float_result):
            # a number before the tensor wraps too (-3 // uint8 divides 253 as torch); an op
            # computing in float (-1 / uint8) takes it as it is
            return [_wrapped_int(x, first) if type(a) is int else x for a, x in zip(args, arrs)]
        return arrs
    target = _dt.result_type(*args).np
    if (op.to_float or op.float_result) and target.kind in "iub":
        # an op computing integers in float (div, atan2) casts each operand to float directly:
        # through the integer result type first, uint8 / tensor(-2) would wrap -2 to 254
        target = _dt.get_default_dtype().np
    if target.name == "bfloat16":
        # NumPy widens bfloat16 with a Python scalar to float32: make the scalar bfloat16 too
        return [x.astype(target, copy=False) if isinstance(a, Tensor) else
                target.type(x) if type(a) in (int, float, bool) else x
                for a, x in zip(args, arrs)]
    if target.kind in "iu":   # a Python int beyond the integer dtype wraps, as in torch
        return [x.astype(target, copy=False) if isinstance(a, Tensor) else
                _wrapped_int(x, target) if type(a) is int else x for a, x in zip(args, arrs)]
    return [x.astype(target, copy=False) if isinstance(a, Tensor) else x
            for a, x in zip(args, arrs)]


def _wrapped_int(v, dtype):
    """A Python int as torch converts it to an integer tensor's dtype: wrapped around (two's
    complement: uint8 - 1 is uint8 + 255, int8 + 200 is int8 - 56) when it does not fit,
    where NumPy 2 raises OverflowError."""
    info = np.iinfo(dtype)
    if info.min <= v <= info.max or not -(1 << 63) <= v < (1 << 64):
        return v
    return int(np.array(v & 0xFFFFFFFFFFFFFFFF, dtype=np.uint64).astype(dtype))


# a Python number -> the read-only 0-d array of it, per float dtype (the native dtype objects,
# found by identity: hashing a NumPy dtype costs more than the lookup saves)
_F16, _F32, _F64 = np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64)
_SCALARS16, _SCALARS32, _SCALARS64 = {}, {}, {}


def _scalar_array(v, dtype):
    """The Python number ``v`` as a 0-d array of the float ``dtype`` (cached), which NumPy
    combines with an array of that dtype exactly as it combines the number (NEP 50: a Python
    number takes the array's dtype), only faster; None for a dtype not cached, for zeros (0.0
    and -0.0 are equal keys) and for integers beyond float64's exact range."""
    cache = _SCALARS32 if dtype is _F32 else _SCALARS64 if dtype is _F64 else \
        _SCALARS16 if dtype is _F16 else None
    if cache is None:
        return None
    z = cache.get(v)
    if z is None:
        if v == 0 or (type(v) is int and not -2 ** 53 < v < 2 ** 53):
            return None
        if len(cache) >= 256:   # a loop over ever-new numbers: keep the cache small
            cache.clear()
        token = fp_state.set(FP_QUIET)   # 1e39 as float32 is inf, silently as in the ufunc
        try:
            z = np.array(v, dtype)
        finally:
            fp_state.reset(token)
        z.flags.writeable = False
        cache[v] = z
    return z


def _floatify(args, arrs):
    f = _dt.get_default_dtype().np
    return [x.astype(f) if isinstance(a, Tensor) and x.dtype.kind in "iub" else x
            for a, x in zip(args, arrs)]


# (array class of batched tensors, runner, indexer, in-place committer): set by
# cadenza._batching, which holds vmap's batching rules (a layer above the ops) when it loads
_batched = [None, None, None, None]
_vmap_depth = [0]   # how many vmaps run (an op's attributes may then hold batched arrays)


def set_batching(array_cls, runner, indexer, committer) -> None:
    """Route every op with an operand whose array is ``array_cls`` to ``runner(op, args,
    attrs)``, indexing by such a tensor to ``indexer(input, index)`` and in-place writes of or
    into one to ``committer(self, out)`` (``torch.func.vmap``'s batched tensors)."""
    _batched[:] = [array_cls, runner, indexer, committer]


def _batched_attrs(attrs) -> bool:
    """Whether an op's attributes hold a batched tensor's array (index arrays of getitem)."""
    cls = _batched[0]
    for v in attrs.values():
        if type(v) is cls or ((type(v) is tuple or type(v) is list) and
                              any(type(x) is cls for x in v)):
            return True
    return False


def apply(op, *args, **attrs):
    """Run a primitive eagerly and, when grad mode is on and an input requires grad, record it."""
    if _state.plain:   # no profiler, autocast region, anomaly detection or tracer
        return _run(op, args, attrs)
    return _apply_hooked(op, args, attrs)


def _apply_hooked(op, args, attrs):
    """``apply`` with one of its hooks on: a profile times the call, an autocast region casts
    the operands, anomaly detection records the user's line and checks the output, a tracer
    (compile) adds the op to its graph; inside ``inference_mode`` a new (non-view) output is
    an inference tensor."""
    t = _apply_hooks(op, args, attrs)
    if _state._inference and t._base is None and type(t._vc) is list:
        t._vc = _tb.InferenceVersion((0,))
    return t


def _apply_hooks(op, args, attrs):
    st = _state
    if st.profiler is not None:  # a profile is recording: it times this call of apply
        return st.profiler.op(apply, op, args, attrs)
    if st.autocast is not None and op.autocast is not None:
        return _autocast_apply(op, args, attrs)
    t = _run(op, args, attrs)
    if type(t._data) is _batched[0]:
        return t   # inside vmap: the ops on the batched values were observed one by one
    if st.anomaly:
        node = t.grad_fn   # recorded by this call (a new output tensor has no other)
        if node is not None:
            node.src = user_source()
        check_forward(op, args, t)
    if st.tracer is not None:  # compile is tracing this call: add the op to the graph
        st.tracer.record(op, args, attrs, t)
    return t


def _autocast_apply(op, args, attrs):
    """``op`` inside an autocast region: the casts are recorded ops (gradients flow back in each
    input's own dtype); float64 tensors are never cast, as in torch."""
    low = _state.autocast
    f32 = _dt.float32
    # the casts and the op itself run as given: the raw field, so that ``plain`` stays False
    # (apply then checks each hook, and finds autocast off)
    _state._autocast = None

    def to(a, dtype):
        return a if a.dtype is dtype else apply(REGISTRY["cast"], a, dtype=dtype)

    def eligible(a):   # float32, float16 and bfloat16 (of NumPy kind "V"), never float64
        return isinstance(a, Tensor) and (is_low(a) or a._data.dtype is _F32)
    try:
        if op.autocast == "lower":   # round to the low dtype, compute in float32, give low
            args = [to(to(a, low), f32) if eligible(a) else a for a in args]
            return to(apply(op, *args, **attrs), low)
        return apply(op, *[to(a, f32) if eligible(a) else a for a in args], **attrs)
    finally:
        _state._autocast = low


_fp_get = fp_state.get
_new = object.__new__

# ---- inf/nan silent without switching NumPy's error state per op
# Switching the error state to FP_QUIET and back costs ~0.25 us an op (two context-variable
# writes), ~10% of a small op. Under NumPy's default state (divide, over and invalid: warn) a
# ufunc reports an error only as a RuntimeWarning, and a warning is attributed to the Python
# frame that called the ufunc: the warnings filter below ignores NumPy's floating-point
# warnings from the frames of this module and of ops/binary.py (ops with ``array_scalars``:
# their forwards call one ufunc directly, nothing else), so there the switch can be skipped
# while that filter decides (``_fp_quiet_now``). The user's own state (np.seterr, np.errstate
# blocks) and any filter of theirs placed before it take the switch as before.
_FP_DEFAULT = contextvars.Context().run(fp_state.get)   # NumPy's error state as installed
_FP_MODULES = ("cadenza.ops._registry", "cadenza.ops.binary")
_FP_FILTER_ARGS = ("ignore", "(divide by zero|overflow|underflow|invalid value) encountered in",
                   RuntimeWarning, r"cadenza\.ops\.(_registry|binary)\Z")


def _add_fp_filter():
    """Put the filter in front of the warnings filters; returns it."""
    action, message, category, module = _FP_FILTER_ARGS
    _warnings.filterwarnings(action, message=message, category=category, module=module)
    return _warnings.filters[0]


_FP_FILTER = _add_fp_filter()
if contextvars.Context().run(np.geterr) != {"divide": "warn", "over": "warn",
                                            "under": "ignore", "invalid": "warn"}:
    _FP_DEFAULT = object()   # (not NumPy's usual defaults: always switch)
# (filter list, its length, its first entry) last found to let _FP_FILTER decide: the filters
# are checked again when any of the three changes (a filter added in front, catch_warnings)
_fp_filters = (None, 0, None)


def _fp_filters_ignore(filters) -> bool:
    """Whether the warnings filters ``filters`` ignore NumPy's floating-point warnings from
    ``_FP_MODULES``: _FP_FILTER comes before any filter that might act on them otherwise
    (remembered in ``_fp_filters`` while the list stays as it is). Where the list lacks it
    and nothing else would act on them (Cadenza imported inside a ``catch_warnings`` block,
    which took the filter away on leaving, or the filters reset), it is put back in front."""
    global _fp_filters
    ok = False
    for item in filters:
        if item == _FP_FILTER:
            ok = True
            break
        action, _, category, module, _ = item
        if action != "ignore" and isinstance(category, type) and \
                issubclass(RuntimeWarning, category) and \
                (module is None or any(module.match(m) for m in _FP_MODULES)):
            break
    else:
        _add_fp_filter()
        filters = _warnings.filters
        ok = True
    _fp_filters = (filters, len(filters), filters[0]) if ok else (None, 0, None)
    return ok


def _fp_quiet_now(fs) -> bool:
    """Whether a ufunc called directly from a frame of ``_FP_MODULES`` runs silent as it is,
    given NumPy's current error state ``fs``: the state is FP_QUIET, or NumPy's default with
    the warnings filters ignoring its reports there (number_dunder has this inline)."""
    if fs is FP_QUIET:
        return True
    if fs is not _FP_DEFAULT:
        return False
    filters = _warnings.filters
    c = _fp_filters
    return (filters is c[0] and len(filters) == c[1] and filters[0] is c[2]) or \
        _fp_filters_ignore(filters)
_ndarray = np.ndarray
_generic = np.generic


def _run(op, args, attrs):
    """The op's forward on its operands' arrays (promoted, on one device) -> its output Tensor,
    recorded in the graph when grad mode is on, the op is differentiable and an input requires
    grad. A view op's output shares its input's version counter."""
    plan = op._plan
    if plan[0] is not op:
        plan = _plan_of(op)
    _, forward, promote, to_float, fp_errors, view, differentiable, saves_in, saves_out, \
        needs_saved, array_scalars, opmath, layout_rule = plan
    arrs = []
    req = False
    on_host = True
    numpy_scalars = False
    for a in args:
        if isinstance(a, Tensor):
            x = a._data
            arrs.append(x)
            if a._requires_grad:
                req = True
            elif a._base is not None and a._base._requires_grad and _state.grad_enabled and \
                    view_grad_fn(a):
                req = True    # a view whose base gained a history by an in-place op
            if type(x) is not _ndarray:
                on_host = False
        elif isinstance(a, _generic):  # a NumPy scalar counts as the Python number
            numpy_scalars = True
            arrs.append(a.item())
        else:
            arrs.append(a)
    if numpy_scalars:
        args = tuple(a.item() if isinstance(a, _generic) else a for a in args)
    if _vmap_depth[0]:   # inside vmap: the batching rules run an op on batched tensors
        if not on_host:
            for x in arrs:
                if type(x) is _batched[0]:
                    return _batched[1](op, args, attrs)
        if attrs and _batched_attrs(attrs):
            return _batched[1](op, args, attrs)
    if promote:
        x = arrs[0]
        if len(arrs) != 2 or type(x) is not _ndarray:
            arrs = _promote(op, args, arrs)
        else:  # the hot cases of _promote inline: tensor (op) tensor or number, one float dtype
            y = arrs[1]
            ty = type(y)
            dt = x.dtype
            if ty is _ndarray:
                if y.dtype is not dt:
                    arrs = _promote(op, args, arrs)
            elif (ty is float or ty is int) and (dt is _F32 or dt is _F64):
                if array_scalars:
                    z = (_SCALARS32 if dt is _F32 else _SCALARS64).get(y)
                    if z is None:
                        z = _scalar_array(y, dt)
                    if z is not None:
                        arrs = [x, z]
            else:
                arrs = _promote(op, args, arrs)
    if to_float:
        arrs = _floatify(args, arrs)
    xp = np
    if not on_host:
        for x in arrs:
            if type(x) is MetaArray:
                return _meta_run(op, args, arrs, attrs, req)
        xp, arrs, attrs = _to_device_arrays(arrs, attrs)
    # inf/nan silent, as in PyTorch (array_scalars ops: see _fp_quiet_now)
    loud = fp_errors and (not _fp_quiet_now(_fp_get()) if array_scalars and on_host else
                          _fp_get() is not FP_QUIET)
    if loud:
        token = fp_state.set(FP_QUIET)
    low = None
    if opmath and on_host:
        x = arrs[0]
        dt = x.dtype if type(x) is _ndarray else _first_dtype(arrs)
        if dt is not _F32 and dt is not _F64 and dt is not None and \
                (dt is _F16 or dt.kind == "V") and attrs.get("dtype") is None:
            low = dt
    try:
        if low is None:
            out = forward(xp, *arrs, **attrs)
        else:
            out = _widened(op, forward, args, arrs, attrs, low)
    except (ValueError, IndexError, TypeError) as e:
        raise _explain(op, args, attrs, e) from None
    finally:
        if loud:
            fp_state.reset(token)
    if type(out) is not _ndarray and not hasattr(out, "__cuda_array_interface__") and \
            type(out) is not MetaArray:   # (to_device to 'meta')
        out = xp.asarray(out)  # NumPy returns scalars, not 0-d arrays, from some reductions
    elif layout_rule and type(out) is _ndarray and out.ndim > 1:
        # torch's strides (backend/layout.py); row-major operands give a row-major result
        # (NumPy's too), so only other layouts pay for a look
        if layout_rule == 1:
            for a in args:
                if isinstance(a, Tensor) and not a._data.flags.c_contiguous:
                    out = _torch_layout(op, args, out)
                    break
        elif not out.flags.c_contiguous or _odd_ones(args, out):
            out = np.array(out, order="C")
    t = _new(_tb._tensor_class)   # _make(out), written out: one call less per op
    t._data = out
    t._requires_grad = False
    t.grad = t.grad_fn = t._base = t._accum = None
    t._vc = [0]
    t._retains_grad = False
    t._view = None
    if view and isinstance(args[0], Tensor) and _shares(xp, out, arrs[0]):
        src = args[0]
        t._vc = src._vc
        link_view(t, src)
    if req and differentiable and _state.grad_enabled:
        _record(op, t, args, attrs, saves_in, saves_out, needs_saved)
    return t


def _odd_ones(args, out) -> bool:
    """A row-major result of an operand that is not row-major with size-1 dims whose strides
    are not row-major's (NumPy keeps them from such an operand; torch's are row-major)."""
    x = args[0]._data if args and isinstance(args[0], Tensor) else None
    return x is not None and type(x) is _ndarray and not x.flags.c_contiguous and \
        1 in out.shape and not _layout.standard_c(out)


def _torch_layout(op, args, out):
    """``out`` (an elementwise result NumPy laid out, an operand not row-major) with the
    strides torch gives it (backend/layout.py): the same values, copied only where the
    layouts differ."""
    keep = op.scalar_operands
    return _layout.as_elementwise_result(
        out, [a._data if isinstance(a, Tensor) else None for a in args
              if isinstance(a, Tensor) or keep and isinstance(a, (int, float, complex, bool))])


def _narrow(dt) -> bool:
    """float16 or bfloat16 (ml_dtypes' bfloat16 is of NumPy kind "V"): the dtypes torch's
    CPU kernels compute in float32. (_run tests this inline on its hot path.)"""
    return dt is _F16 or (dt.kind == "V" and dt.itemsize == 2)


def is_low(t) -> bool:
    """A float16 or bfloat16 tensor."""
    return isinstance(t, Tensor) and _narrow(t._data.dtype)


def in_float32(fn, *tensors):
    """``fn(*tensors)`` for a composite that torch computes as one kernel: with a float16 or
    bfloat16 operand, the operands of that dtype widened to float32 and the result rounded
    back once (as the primitives do, see ``_widened``), so that ``silu``, ``lerp``,
    ``addcmul``... of half tensors give torch's values, not those of one rounding per step.
    The casts are recorded ops: gradients flow through them."""
    low = None
    for t in tensors:
        if is_low(t):
            low = t.dtype
            break
    if low is None:
        return fn(*tensors)
    cast, f32 = REGISTRY["cast"], _dt.float32
    out = fn(*[apply(cast, t, dtype=f32) if isinstance(t, Tensor) and t.dtype is low else t
               for t in tensors])
    return apply(cast, out, dtype=low) if out.dtype is f32 else out


def autocast_policy(policy: str):
    """A composite inside an autocast region as torch's CPU autocast treats the one aten op it
    stands for (its inner primitives would otherwise each follow their own policy: a loss
    would stay bfloat16, an interpolation's GEMMs would be lowered). "fp32": float16/bfloat16
    tensor operands computed in float32 (recorded casts), as torch's fp32 list (losses, prod,
    cdist, reflection/replication padding); "none": computed as given, autocast off inside."""
    def decorate(fn):
        @functools.wraps(fn)
        def run(*args, **kwargs):
            low = _state._autocast
            if low is None:
                return fn(*args, **kwargs)
            if policy == "fp32":
                args = [_to_f32(a) for a in args]
                kwargs = {k: _to_f32(v) for k, v in kwargs.items()}
            _state._autocast = None   # (the raw field, as _autocast_apply: plain stays False)
            try:
                return fn(*args, **kwargs)
            finally:
                _state._autocast = low
        return run
    return decorate


def _to_f32(a):
    return apply(REGISTRY["cast"], a, dtype=_dt.float32) if is_low(a) else a


def _first_dtype(arrs):
    for x in arrs:
        if type(x) is _ndarray:
            return x.dtype
    return None


def _low_of(arrs):
    """The dtype of the first array operand when it is float16 or bfloat16, else None."""
    dt = _first_dtype(arrs)
    return dt if dt is not None and _narrow(dt) else None


def _widened(op, forward, args, arrs, attrs, low):
    """``forward`` on float16/bfloat16 (``low``) operands as torch's CPU kernels compute it:
    the operands widened to float32, the result rounded to ``low`` once. A Python number is
    rounded to ``low`` first unless the op reads it as given (``opmath_scalars``); a 0-d
    tensor of another float dtype then keeps its own value too (torch's mul by a 0-d float32
    tensor reads it as a scalar). ``args``: the operands as given (tensors, numbers), ``arrs``
    their promoted arrays."""
    exact = op.opmath_scalars
    wide = []
    for a, x in zip(args, arrs):
        if type(x) is _ndarray:
            if exact and x.ndim == 0 and isinstance(a, Tensor) and a._data.dtype.kind == "f" \
                    and a._data.dtype is not low:
                wide.append(float(a._data))
                continue
            wide.append(x.astype(_F32) if x.dtype is low else x)
        elif type(a) is float or type(a) is int:
            wide.append(a if exact else float(low.type(a)))
        else:
            wide.append(x)
    out = forward(np, *wide, **attrs)
    if getattr(out, "dtype", None) is _F32:   # (a 0-d result may come back as a NumPy scalar)
        out = out.astype(low)
    return out


def _meta_run(op, args, arrs, attrs, req):
    """``_run`` with a meta operand: the output's shape and dtype without computing values.
    An elementwise op runs on 0-d stand-ins of its operands (the dtype) and broadcasts their
    shapes; any other runs its forward (or the cheaper one its ``meta`` field gives) on the
    zero-stride meta arrays (NumPy's view functions cost nothing on them) and keeps its
    output's shapes and dtypes. Meta wins over host operands (internal constants)."""
    _no_values(op, attrs)
    out = None
    if op.kind == "elementwise" and not any(isinstance(v, np.ndarray) for v in attrs.values()):
        try:
            shape = np.broadcast_shapes(*[x.shape for x in arrs if isinstance(x, np.ndarray)])
            out = forward_quiet(op.forward, [np.ones((), x.dtype) if isinstance(
                x, np.ndarray) else x for x in arrs], attrs)
            out = to_meta(np.broadcast_to(np.asarray(out), shape)) if not isinstance(
                out, tuple) else tuple(to_meta(np.broadcast_to(np.asarray(o), shape))
                                       for o in out)
        except Exception:   # shapes that do not broadcast, an unusual forward: the full run
            out = None
    if out is None:
        run_arrs, run_attrs = (arrs, attrs) if op.meta is None else op.meta(*arrs, **attrs)
        try:
            out = forward_quiet(op.forward, run_arrs, run_attrs)
        except (ValueError, IndexError, TypeError) as e:
            raise _explain(op, args, attrs, e) from None
        except RuntimeError:
            # a check of the values (a singular or indefinite matrix: the stand-ins are
            # zeros): once more with identity matrices, which every such check accepts
            try:
                out = forward_quiet(op.forward, [_eyes(x) for x in run_arrs], run_attrs)
            except Exception:
                out = None
            if out is None:
                raise
        out = to_meta(out if not isinstance(out, np.generic) else np.asarray(out))
    t = _tb._make(out)
    if op.view and isinstance(args[0], Tensor):
        t._vc = args[0]._vc
        link_view(t, args[0])
    if req and op.differentiable and _state.grad_enabled:
        plan = op._plan if op._plan[0] is op else _plan_of(op)
        _record(op, t, args, attrs, plan[7], plan[8], plan[9])
    return t


def _eyes(x):
    """A float meta array whose last two dims are square as a stack of identity matrices (a
    stand-in that passes a factorization's value checks); other operands as they are."""
    if type(x) is not MetaArray or x.ndim < 2 or x.shape[-1] != x.shape[-2] or \
            x.dtype.kind not in "fc":
        return x
    return np.broadcast_to(np.eye(x.shape[-1], dtype=x.dtype), x.shape)


def _no_values(op, attrs):
    """Refuse meta operands where the output's shape depends on the values (nonzero, a
    boolean mask), with torch's NotImplementedError."""
    masks = [v for v in attrs.values() if type(v) is MetaArray and v.dtype == np.bool_] + [
        i for v in attrs.values() if type(v) is tuple for i in v
        if type(i) is MetaArray and i.dtype == np.bool_]
    if op.meta is False or masks:
        raise NotImplementedError(
            f"{op.name}: the output's shape depends on the values of a meta tensor (a meta "
            "tensor has none); torch's meta kernels do not implement it either")


def forward_quiet(forward, arrs, attrs):
    """``forward(np, *arrs, **attrs)`` with NumPy's floating-point errors silent."""
    token = fp_state.set(FP_QUIET)
    try:
        return forward(np, *arrs, **attrs)
    finally:
        fp_state.reset(token)


def number_dunder(op, general):
    """The Tensor operator ``self (op) other`` (``__mul__``...) with its hot case inline:
    ``other`` a Python float or int, none of apply's hooks on, an op with ``array_scalars`` on
    a float32/float64 host array that is not a view (W5's ``x * 1.0001 + 0.0001``). That case
    is ``_run(op, (self, other), {})`` with the operand loop, promotion and view steps known in
    advance, and one call per op; ``general(self, other)`` (the operator's full rules) takes
    every other operand, and ``_run`` the other tensors and numbers."""
    plan = op._plan if op._plan[0] is op else _plan_of(op)
    compute, differentiable, saves_in, saves_out = plan[10], plan[6], plan[7], plan[8]
    if not compute:
        return general
    # the ufunc itself where the field names an operator (~40 ns less: no operator deferral
    # step, which two ndarrays never take)
    compute = _UFUNC_OF.get(compute, compute)
    # whether backward reads the tensor operand (the number has no edge, the tensor has one)
    version = plan[9] is None or bool(plan[9]((True, None))[0])

    def dunder(a, s):
        ts = type(s)
        if (ts is not float and ts is not int) or not _state.plain:
            return general(a, s)
        x = a._data
        if type(x) is not _ndarray or a._base is not None:
            return _run(op, (a, s), {})
        dt = x.dtype
        if dt is _F32:
            z = _SCALARS32.get(s)
        elif dt is _F64:
            z = _SCALARS64.get(s)
        else:
            return _run(op, (a, s), {})
        if z is None and (z := _scalar_array(s, dt)) is None:
            return _run(op, (a, s), {})
        # forward(np, x, z) without its Python frame (a float array and a 0-d array of its
        # dtype: nothing to refuse), inf/nan silent as in PyTorch (_fp_quiet_now inline)
        fs = _fp_get()
        if fs is FP_QUIET:
            out = compute(x, z)
        elif fs is _FP_DEFAULT and ((filters := _warnings.filters) is (c := _fp_filters)[0] and
                                    len(filters) == c[1] and filters[0] is c[2] or
                                    _fp_filters_ignore(filters)):
            out = compute(x, z)
        else:
            token = fp_state.set(FP_QUIET)
            try:
                out = compute(x, z)
            finally:
                fp_state.reset(token)
        if type(out) is not _ndarray:
            out = np.asarray(out)  # 0-d (op) 0-d gives a NumPy scalar
        elif out.ndim > 1 and not x.flags.c_contiguous:
            out = _torch_layout(op, (a, s), out)
        t = _new(_tb._tensor_class)
        t._data = out
        t._requires_grad = False
        t.grad = t.grad_fn = t._base = t._accum = None
        t._vc = [0]
        t._retains_grad = False
        t._view = None
        if a._requires_grad and differentiable and _state.grad_enabled:   # _record of (a, s)
            g = a.grad_fn
            if g is not None and g.attrs is _NO_ATTRS:
                # a is the output of number_dunder's node g: of g's input's shape and dtype
                meta = g.meta
                nxt = (g, None)
            else:
                nxt = (g if g is not None else grad_node(a), None)
                meta = _META_NUMBER.get(x.shape)
                if meta is None or meta[0][1] is not dt:
                    meta = _META_NUMBER[x.shape] = (_meta_of(x), None)
            node = _new(op.node_cls)   # Node(op, _NO_ATTRS, nxt, meta) written out
            node.op = op
            node.attrs = _NO_ATTRS
            node.next = nxt
            node.meta = meta
            if saves_in:
                if version:
                    node.saved = (a, s)
                    v = a._vc[0]
                    node.versions = _V0 if v == 0 else (v, None)
                else:   # backward reads the number only (needs_saved): the tensor is not kept
                    sv = _SAVED_NUMBER.get(s)
                    node.saved = sv if sv is not None and type(sv[1]) is ts else \
                        _saved_number(s, ts)
                    node.versions = ()
            else:
                node.saved = node.versions = ()
            if saves_out:
                node.out_data = out
                node.out_version = (t._vc, 0)
            else:
                node.out_data = node.out_version = None
            t.grad_fn = node
            t._requires_grad = True
        return t
    dunder.__name__ = op.name
    return dunder


_UFUNC_OF = {operator.add: np.add, operator.sub: np.subtract, operator.mul: np.multiply,
             operator.truediv: np.true_divide}


def _shares(xp, out, x) -> bool:
    """Whether a view op's output shares memory with its input x. An array that owns its
    memory (base None) shares none; one whose base is x or x's owner is a view of it; other
    cases ask NumPy (a reshape that had to copy has a temporary as base)."""
    b = out.base
    if b is None:
        return False
    return b is x or b is x.base or bool(xp.may_share_memory(out, x))


# shape -> the (shape, dtype) pair of a node's input last made for it: nodes share these pairs
# (every pair a graph keeps is an object the garbage collector walks again and again)
_META: dict = {}


# shape -> ((shape, dtype), None): the metas of a node of ``tensor (op) number`` (number_dunder)
_META_NUMBER: dict = {}
# the attributes of number_dunder's nodes: none, one shared dict (nothing writes into a node's
# attributes), not a new one per op
_NO_ATTRS: dict = {}
# their versions when the tensor operand is at version 0 (most are: fresh op outputs): shared
_V0 = (0, None)
# number -> (None, number): the saved values of number_dunder's nodes whose backward reads the
# number alone (``x * 2.0`` needs 2.0, not x): one shared tuple of untracked objects per number,
# so that a node keeps neither its input tensor alive nor a new container the garbage collector
# walks (W5 spent ~25% of its time in full collections over the graph's containers)
_SAVED_NUMBER: dict = {}


def _saved_number(s, t):
    """The shared ``(None, s)`` of number ``s`` (t: its type; 2 and 2.0 are one key), made
    (number_dunder looks it up inline first)."""
    if len(_SAVED_NUMBER) >= 256:   # a loop over ever-new numbers: keep the cache small
        _SAVED_NUMBER.clear()
    sv = _SAVED_NUMBER[s] = (None, s)
    return sv


def _meta_of(d):
    """The (shape, dtype) pair of array ``d``, shared with earlier nodes' (see _META)."""
    shape = d.shape
    m = _META.get(shape)
    if m is None or m[1] is not d.dtype:
        if len(_META) >= 1024:
            _META.clear()
            _META_NUMBER.clear()
        m = _META[shape] = (shape, d.dtype)
    return m


def _record(op, t, args, attrs, saves_in, saves_out, needs_saved):
    """Make ``t`` the output of a new graph node of ``op``: edges to the nodes of the inputs
    that require grad, their shapes and dtypes, and what backward reads (saved inputs with
    their versions, the output) for the in-place check."""
    nxt = []
    meta = []
    for a in args:
        if isinstance(a, Tensor):
            if a._requires_grad:
                g = a.grad_fn if a._base is None else view_grad_fn(a)
                nxt.append(g if g is not None else grad_node(a))
            else:
                nxt.append(None)
            meta.append(_meta_of(a._data))
        else:
            nxt.append(None)
            meta.append(None)
    # tuples, not the lists: the metas' tuple holds untracked objects only, so the garbage
    # collector stops walking it after its first look (a list it walks as long as it lives)
    node = _new(op.node_cls)   # Node(op, attrs, edges, metas), written out
    node.op = op
    node.attrs = attrs
    node.next = tuple(nxt)
    node.meta = tuple(meta)
    node.versions = ()
    if not saves_in:
        node.saved = ()
    else:
        node.saved = args
        # the versions of the saved inputs backward reads (all, or those needs_saved names
        # given the edges), checked against later in-place writes; () when there are none
        use = needs_saved(nxt) if needs_saved is not None else None
        versions = None
        i = 0
        for a in args:
            if isinstance(a, Tensor) and (use is None or use[i]):
                if versions is None:
                    versions = [None] * len(args)
                versions[i] = a._vc[0]
            i += 1
        if versions is not None:
            node.versions = tuple(versions)
            if _state.inference_seen:
                _refuse_inference_saved(args, versions)
    if saves_out:
        node.out_data = t._data
        vc = t._vc
        node.out_version = (vc, vc[0])
    else:
        node.out_data = node.out_version = None
    t.grad_fn = node
    t._requires_grad = True
    if _state._saved_hooks is not None and (saves_in or saves_out):
        pack_saved(node, t)   # torch.autograd.graph.saved_tensors_hooks is on


def _refuse_inference_saved(args, versions):
    for a, v in zip(args, versions):
        if v is not None and type(a._vc) is _tb.InferenceVersion:
            raise RuntimeError(
                "Inference tensors cannot be saved for backward. Please do not use Tensors "
                "created in inference mode in computation tracked by autograd. To work around "
                "this, you can make a clone to get a normal tensor and use it in autograd, or "
                "use `torch.no_grad()` instead of `torch.inference_mode()`.")


def _xp_of(arr):
    return xp_of(arr)


def _to_device_arrays(arrs, attrs):
    """With an operand on a device (CuPy), bring host arrays among the operands and in the
    attributes (index arrays, masks built by composites) to that device."""
    dev = next(x for x in arrs if hasattr(x, "__cuda_array_interface__"))
    xp = _xp_of(dev)

    def move(v):
        if type(v) is np.ndarray:
            return xp.asarray(v)
        if type(v) is tuple:
            return tuple(move(i) for i in v)
        return v
    return xp, [move(x) for x in arrs], {k: move(v) for k, v in attrs.items()}


def describe(a) -> str:
    if isinstance(a, Tensor):
        return f"{fmt_shape(a._data.shape)} {a.dtype.name}"
    return repr(a)


def _explain(op, args, attrs, err):
    """Turn a backend failure into Cadenza's error: op name, operands, what was expected."""
    check = getattr(op, "check", None)
    if check is not None:
        try:
            check(*args, **attrs)
        except (ShapeError, DTypeError, IndexError) as nice:
            return nice
    operands = ", ".join(describe(a) for a in args)
    msg = str(err).split("\n")[0]
    if isinstance(err, IndexError):
        return IndexError(f"{op.name}: {msg} (operands: {operands})")
    if isinstance(err, TypeError) or "dtype" in msg or "cast" in msg or "ufunc" in msg:
        return DTypeError(f"{op.name}: unsupported operand dtypes {operands}: {msg}")
    return ShapeError(f"{op.name}: operands {operands} do not fit: {msg}")


def _broadcast_error(op_name, *tensors):
    shapes = " and ".join(fmt_shape(t.shape) for t in tensors if isinstance(t, Tensor))
    return ShapeError(f"{op_name}: expected broadcastable shapes, got {shapes}")


# ----------------------------------------------------------------------------- host-only forwards
def on_host(fwd):
    """A forward written for NumPy only (series, ufunc.at, per-row loops): device (CuPy)
    operands and index attributes are copied to the host and the result back to the device."""
    def run(xp, *arrays, **attrs):
        if xp is np:
            return fwd(np, *arrays, **attrs)
        out = fwd(np, *[_host(a) for a in arrays], **{k: _host(v) for k, v in attrs.items()})
        return xp.asarray(out)
    return run


def _host(v):
    if hasattr(v, "__cuda_array_interface__"):
        return v.get()
    if type(v) is tuple:
        return tuple(_host(i) for i in v)
    return v
