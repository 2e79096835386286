"""Compiled vs eager for every entry of the op table (tests/ops/opinfo.py).

(a) Inference: ``cadenza.compile(fn)`` traces on one sample, then runs the cached graph on a
    second sample of the same structure with different data (Maker seed 1). Both results must
    equal eager's; a value baked into the graph at trace time (raw NumPy on ``._data``, a
    returned record kept as is) shows up as a mismatch on the second call.
(b) Gradients, for differentiable entries: a compiled step computes the op, a weighted loss
    and ``backward()``; the leaves live outside the arguments (as parameters do), get the
    second sample's data in place before the second (cached) call, and their ``.grad`` must
    equal eager's.

Equality is bitwise for every dtype on the NumPy backend: the interpreter calls each node's own
forward, exactly as eager does, and every pass is bit-exact. A backend with its own kernels
gets its tolerance in BACKENDS (fused C loops may contract to FMA or reassociate sums).

Entries that cannot be compiled (data-dependent output shapes, Python values read from
tensors) are listed in UNCAPTURABLE with the reason: they must raise TraceError naming the
user's line, and with ``fullgraph=False`` run eagerly with the eager result.
"""
import os
import re
import sys
import warnings

import numpy as np
import pytest

import cadenza
from cadenza.errors import TraceError

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "ops"))
from opinfo import OPS, Maker  # noqa: E402  (the op table lives beside the op tests)
from ops_helpers import convert_sample, flat_outputs, float_outputs  # noqa: E402

# backend -> (rtol, atol) against eager, None for bit-for-bit equality, or "c" (see _tol)
BACKENDS = {"numpy": None, "c": "c"}
# The C backend is bit for bit with eager except where C's libm (or a row kernel of
# codegen/render_rows.py, float32 only) computes a transcendental function or a reordered
# row reduction: entries using one of these primitives (by name or prims) get C_ULPS ulps.
# The primitives say so themselves (``c_exact = False`` or a ``row_kernel``), so a new one
# cannot be missed; composites over them are named too, for entries that list no prims.
C_INEXACT = {n for n, op in cadenza.ops.REGISTRY.items() if not op.c_exact or op.row_kernel} | {
    "exp2", "log2", "log10", "erfc", "silu", "logsumexp", "scaled_dot_product_attention"}
C_ULPS = 4
# Each traced graph with a kernel costs one C compiler run (~0.1 s; all C cases of this file from
# a cold cache: ~60 s): the C backend runs on a representative subset, every entry in one dtype
# of each kind (its first float, first integer, bool) and every other gradient entry, ~30 s.
# The lowering of every elementwise primitive in every dtype is checked in one graph per dtype
# by tests/codegen/test_codegen.py.


def _c_dtypes(dtypes):
    firsts = {}
    for dt in dtypes:
        firsts.setdefault(np.dtype(dt).kind if dt != "bfloat16" else "V", dt)
    return [dt for dt in dtypes if dt in firsts.values()]


def _cases(ops, c_ops):
    """(op, backend) parameters with ids ``<op>-<backend>``: every op on every backend but C,
    the ops of ``c_ops`` on C."""
    return [pytest.param(op, b, id=f"{op.name}-{b}") for b in BACKENDS for op in ops
            if b != "c" or op in c_ops]


def _tol(backend, op):
    tol = BACKENDS[backend]
    if tol != "c":
        return tol
    return C_ULPS if C_INEXACT & ({op.name} | set(op.prims or ())) else None



def _mask_index(s):
    """A boolean mask among the index arguments (not the indexed input itself)."""
    return any(a.dtype == np.bool_ for a in _arrays(type(s)(*s.args[1:])))


# op name -> (which samples, why they cannot be compiled); "grad" entries apply to (b) only
UNCAPTURABLE = {
    "nonzero": (lambda s: True, "output shape is the number of nonzero elements"),
    "argwhere": (lambda s: True, "output shape is the number of nonzero elements"),
    "unique": (lambda s: True, "output shape is the number of distinct values"),
    "masked_select": (lambda s: True, "output shape is the number of True mask elements"),
    "masked_scatter": (lambda s: True, "how many source elements it reads depends on the mask"),
    "bincount": (lambda s: True, "output length is the largest index + 1"),
    "one_hot": (lambda s: len(s.args) == 1 and "num_classes" not in s.kwargs,
                "without num_classes the width is the largest index + 1"),
    "getitem": (_mask_index, "a boolean mask selects a data-dependent number of elements"),
    "repeat_interleave": (lambda s: isinstance(s.args[1], np.ndarray),
                          "tensor repeats give a data-dependent length"),
    "equal": (lambda s: s.args[0].shape == s.args[1].shape,   # else False from the shapes
              "returns a Python bool computed from the values"),
    "allclose": (lambda s: True, "returns a Python bool computed from the values"),
    # --- Tensor methods (issue 10)
    "frexp": (lambda s: True, "NumPy's frexp of the values (two outputs): not recorded yet"),
    "histogram": (lambda s: True, "the bin edges come from the values' range"),
    "unique_consecutive": (lambda s: True, "output shape is the number of runs"),
    "nonzero_static": (lambda s: True, "the nonzero positions are found on the host"),
    "sparse.coalesce": (lambda s: True, "the entries kept depend on the index values"),
    "to_sparse": (lambda s: True, "the number of entries is the number of nonzeros"),
    "sparse.softmax": (lambda s: True, "its groups of entries are read from the indices"),
    "sparse.log_softmax": (lambda s: True, "its groups of entries are read from the indices"),
    "lu_unpack": (lambda s: True, "the row swaps (pivots) are read as Python values"),
    "lu_solve": (lambda s: True, "the row swaps (pivots) are read as Python values"),
    "linalg.lu_solve": (lambda s: True, "the row swaps (pivots) are read as Python values"),
    # functional composites (tests/ops/opinfo_nn.py)
    "max_pool1d": (lambda s: s.kwargs.get("return_indices"),
                   "return_indices=True is not supported in compiled mode"),
    "max_pool2d:indices": (lambda s: s.kwargs.get("return_indices"),
                           "return_indices=True is not supported in compiled mode"),
    "max_pool2d:ties": (lambda s: s.kwargs.get("return_indices"),
                        "return_indices=True is not supported in compiled mode"),
    "max_pool1d_with_indices": (lambda s: True,
                                "return_indices=True is not supported in compiled mode"),
    "max_pool2d_with_indices": (lambda s: True,
                                "return_indices=True is not supported in compiled mode"),
    "embedding_bag:offsets": (lambda s: True, "the bags' extents come from the offsets"),
    "ctc_loss": (lambda s: True, "the recursion's shape comes from the targets and lengths"),
    **{n: (lambda s: True, "the windows come from the random samples' values") for n in (
        "fractional_max_pool2d", "fractional_max_pool3d", "fractional_max_pool2d_with_indices",
        "fractional_max_pool3d_with_indices")},
}
UNCAPTURABLE_GRAD = {
    "index_put": (_mask_index, "the values' gradient is grad[mask], a data-dependent shape"),
}
# where a TraceError may point
_USER_FILES = ("test_op_table_compiled.py", "opinfo.py", "opinfo_nn.py", "opinfo_linalg.py")


def _arrays(s):
    out = []

    def walk(x):
        if isinstance(x, np.ndarray):
            out.append(x)
        elif isinstance(x, (list, tuple)):
            for v in x:
                walk(v)
    walk(s.args)
    walk(tuple(s.kwargs.values()))
    return out


def _with_arrays(s, other):
    """Sample ``s`` with its arrays replaced by ``other``'s (the same call, other data): the
    non-array arguments (slices, dims, dtypes) stay the very same objects."""
    it = iter(_arrays(other))

    def sub(x):
        if isinstance(x, np.ndarray):
            y = next(it)
            assert y.shape == x.shape and y.dtype == x.dtype
            return y
        if isinstance(x, (list, tuple)):
            return type(x)(sub(v) for v in x)
        return x
    s2 = type(s)()
    s2.args = sub(s.args)
    s2.kwargs = {k: sub(v) for k, v in s.kwargs.items()}
    return s2


def _pairs(op, gen, dtype):
    """(sample, same sample with other data) for each sample of the entry."""
    return list(zip(gen(Maker(dtype, seed=0)), gen(Maker(dtype, seed=1))))


def _np(out):
    return [np.asarray(o.detach()._data) if isinstance(o, cadenza.Tensor) else o
            for o in flat_outputs(out)]


def _assert_equal(got, want, tol, what):
    assert len(got) == len(want), f"{what}: {len(got)} outputs, eager {len(want)}"
    for i, (g, w) in enumerate(zip(got, want)):
        tag = f"{what} output {i}"
        if not isinstance(w, np.ndarray):
            assert type(g) is type(w) and (g == w or g != g and w != w), f"{tag}: {g} vs {w}"
            continue
        assert isinstance(g, np.ndarray), f"{tag}: {type(g).__name__}, eager a tensor"
        assert g.shape == w.shape and g.dtype == w.dtype, \
            f"{tag}: {g.dtype}{g.shape} vs eager {w.dtype}{w.shape}"
        if tol is None or w.dtype.kind not in "fc":
            # bitwise: same bytes (NaN payloads and signed zeros included)
            assert g.tobytes() == w.tobytes(), f"{tag}: differs from eager\n{g}\n{w}"
        elif isinstance(tol, int):      # a few units in the last place of the dtype
            # (absolute: of the output's scale, as a sum that cancels to a small value keeps
            # the rounding of its large terms: eager's and the graph's softmax kernels differ
            # in the last bits, and an attention output summed from values ~10 to -0.4 shows it)
            eps = float(np.finfo(w.dtype).eps)
            finite = np.abs(w[np.isfinite(w)]) if w.size else np.zeros(1)
            scale = max(1.0, float(finite.max())) if finite.size else 1.0
            np.testing.assert_allclose(g, w, rtol=tol * eps, atol=tol * eps * scale,
                                       err_msg=tag)
        else:
            np.testing.assert_allclose(g, w, rtol=tol[0], atol=tol[1], err_msg=tag)


def _call(fn, s):
    args, kwargs, _ = convert_sample(s, "cd")
    return fn(*args, **kwargs)


def _skip(table, op, s):
    entry = table.get(op.name)
    return entry is not None and entry[0](s)


def _check_trace_error(err, what):
    msg = str(err)
    assert msg.startswith("compile:"), f"{what}: {msg}"
    m = re.search(r"\(([^()]+\.py):(\d+)\)", msg)
    assert m and os.path.basename(m.group(1)) in _USER_FILES and int(m.group(2)) > 0, \
        f"{what}: the error should name the user's line: {msg}"


# ----------------------------------------------------------------------------- (a) inference
@pytest.mark.parametrize("op,backend", _cases(OPS, OPS))
def test_compiled_inference_matches_eager(op, backend):
    tol = _tol(backend, op)
    cd = op.cd
    for dt in (_c_dtypes(op.dtypes) if backend == "c" else op.dtypes):
        for k, (s1, s2) in enumerate(_pairs(op, op.samples, dt)):
            what = f"{op.name}[{dt}] sample {k}"
            s2 = _with_arrays(s1, s2)
            try:
                want1, want2 = _np(_call(cd, s1)), _np(_call(cd, s2))
            except Exception:  # noqa: BLE001 - bad-input samples: tests/ops checks the error
                continue

            def fn(*args, **kwargs):
                return cd(*args, **kwargs)
            cf = cadenza.compile(fn, backend=backend)
            if _skip(UNCAPTURABLE, op, s1):
                with pytest.raises(TraceError) as e:
                    _call(cf, s1)
                _check_trace_error(e.value, what)
                lazy = cadenza.compile(fn, backend=backend, fullgraph=False)
                with pytest.warns(UserWarning, match="runs eagerly"):
                    _assert_equal(_np(_call(lazy, s1)), want1, None, what + " (fullgraph=False)")
                continue
            st0 = cadenza.compiler.stats()
            with warnings.catch_warnings():
                warnings.simplefilter("error")      # no eager fallback, no notice
                _assert_equal(_np(_call(cf, s1)), want1, tol, what + " (traced call)")
                st1 = cadenza.compiler.stats()
                _assert_equal(_np(_call(cf, s2)), want2, tol, what + " (cached graph)")
            st2 = cadenza.compiler.stats()
            assert st1["compiles"] == st0["compiles"] + 1, what
            assert st2["cache_hits"] == st1["cache_hits"] + 1, f"{what}: the second call " \
                                                               "did not hit the cache"
            assert st2["eager_fallbacks"] == st0["eager_fallbacks"], what


# ----------------------------------------------------------------------------- (b) gradients
def _eager_grads(cd, s, ws):
    args, kwargs, leaves = convert_sample(s, "cd", grad=True)
    outs = float_outputs(cd(*args, **kwargs))
    sum((o * w).sum() for o, w in zip(outs, ws)).backward()
    return [None if lf.grad is None else np.asarray(lf.grad._data) for lf in leaves]


GRAD_OPS = [o for o in OPS if o.grad]


@pytest.mark.parametrize("op,backend", _cases(GRAD_OPS, GRAD_OPS[::2]))
def test_compiled_backward_matches_eager(op, backend):
    tol = _tol(backend, op)
    cd = op.cd
    for k, (s1, s2) in enumerate(_pairs(op, op.grad_samples or op.samples, "float64")):
        what = f"{op.name} sample {k}"
        s2 = _with_arrays(s1, s2)
        args, kwargs, leaves = convert_sample(s1, "cd", grad=True)
        probe = float_outputs(cd(*args, **kwargs))
        if not probe:
            continue
        rng = np.random.default_rng(k)
        ws = [cadenza.tensor(rng.standard_normal(tuple(o.shape))) for o in probe]
        tensors = [t for t in flat_outputs(list(args) + list(kwargs.values()))
                   if isinstance(t, cadenza.Tensor)]
        for t in leaves:
            t.grad = None

        def step():
            # args, kwargs and ws are read through the closure: the leaves play parameters
            outs = float_outputs(cd(*args, **kwargs))
            sum((o * w).sum() for o, w in zip(outs, ws)).backward()

        cf = cadenza.compile(step, backend=backend)
        if _skip(UNCAPTURABLE_GRAD, op, s1) or _skip(UNCAPTURABLE, op, s1):
            with pytest.raises(TraceError) as e:
                cf()
            _check_trace_error(e.value, what)
            continue
        st0 = cadenza.compiler.stats()
        for call, s in enumerate((s1, s2)):
            if call:   # the second sample's data, written into the same tensors
                with cadenza.no_grad():
                    for t, a in zip(tensors, _arrays(s)):
                        t.copy_(cadenza.tensor(a))
                for t in leaves:
                    t.grad = None
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                cf()
            want = _eager_grads(cd, s, ws)
            got = [None if lf.grad is None else np.asarray(lf.grad._data) for lf in leaves]
            assert [g is None for g in got] == [w is None for w in want], what
            _assert_equal([g for g in got if g is not None], [w for w in want if w is not None],
                          tol, f"{what} call {call + 1} grads")
        st = cadenza.compiler.stats()
        assert st["compiles"] == st0["compiles"] + 1, what
        assert st["cache_hits"] == st0["cache_hits"] + 1, f"{what}: no cache hit"
