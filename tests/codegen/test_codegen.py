"""C codegen: kernel source snapshots, the C backend against the NumPy interpreter (bit for bit
for arithmetic, comparisons, where, casts, max/min and sums; a few ulp for libm functions), on
every elementwise primitive and on random chains, broadcasts and reductions (hypothesis), the
disk cache across processes, the fallback without a C compiler, and CADENZA_DEBUG=3.

Every distinct graph costs one C compiler run, so each test puts many cases into one graph."""
import contextlib
import json
import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cadenza
import cadenza.ops as O
from cadenza.codegen import make_runner, render_rows
from cadenza.codegen.executor import KernelRunner
from cadenza.codegen.render_c import render_kernel
from cadenza.graph.interpret import Interpreter
from cadenza.graph.ir import Fused
from cadenza.graph.passes import fuse_elementwise
from cadenza.graph.pipeline import optimize
from cadenza.graph.trace import trace

from _cc import require_cc

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# a fixed sample of 12 graphs per property (one compiler run each); CADENZA_TEST_EXAMPLES=500
# searches further with fresh random examples
_EXAMPLES = os.environ.get("CADENZA_TEST_EXAMPLES")
SETTINGS = settings(max_examples=int(_EXAMPLES or 12), deadline=None,
                    derandomize=not _EXAMPLES, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _same(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def _same_but_nan(a, b):
    """Bit for bit, except that any NaN equals any NaN: which NaN an operation on two NaNs
    returns depends on the operand order the C compiler picks for a commutative op."""
    a, b = np.array(a), np.array(b)
    if a.dtype.kind == "f" and a.shape == b.shape:
        both = np.isnan(a) & np.isnan(b)
        a[both] = b[both] = 0
    return _same(a, b)


@contextlib.contextmanager
def _every_node_a_kernel():
    """Single elementwise nodes become kernels too (normally only from 16K elements)."""
    old = fuse_elementwise.SINGLE_MIN_SIZE
    fuse_elementwise.SINGLE_MIN_SIZE = 1
    try:
        yield
    finally:
        fuse_elementwise.SINGLE_MIN_SIZE = old


def _both(fn, arrays):
    """(graph, C results, NumPy-interpreter results) of ``fn`` traced on ``arrays``."""
    require_cc()
    g = optimize(trace(fn, *[cadenza.tensor(a) for a in arrays]), check=True)
    runner = make_runner(g, "c")
    assert isinstance(runner, KernelRunner), "no kernel was built"
    return g, runner(list(arrays)), Interpreter(g)(list(arrays))


def _kernels(g):
    return [n.op for n in g.nodes if isinstance(n.op, Fused)]


def _ulps(got, want, n, what):
    eps = float(np.finfo(want.dtype).eps)
    np.testing.assert_allclose(got, want, rtol=n * eps, atol=n * eps, err_msg=what)


# ---------------------------------------------------------------------------- source snapshots
def _kernel_source(fn, *shapes):
    g = optimize(trace(fn, *[cadenza.ones(*s) for s in shapes]))
    (k,) = _kernels(g)
    return render_kernel(k, "k")


def test_elementwise_kernel_source():
    src = _kernel_source(lambda x, b: (x * 2 + b).relu(), (4, 8), (8,))
    assert src == textwrap.dedent("""\
        void k(const float *restrict in0, const float *restrict in1, float *restrict out0) {
            for (int64_t r = 0; r < 4; r++) {
                int64_t rr = r;
                const int64_t i0 = rr;
                const int64_t b0 = i0 * 8;
                const int64_t b1 = 0;
                const int64_t b2 = i0 * 8;
                #pragma omp simd
                for (int64_t j = 0; j < 8; j++) {
                    const float v0 = (float)in0[b0 + j];
                    const float v1 = (float)in1[b1 + j];
                    float v2 = (v0 * ((float)0x1.0000000000000p+1));
                    float v3 = (v2 + v1);
                    float v4 = CZ_MAX(v3, 0);
                    out0[b2 + j] = v4;
                }
            }
        }""")


def test_reduction_kernel_source():
    src = _kernel_source(lambda x, m: (x - m).exp().sum(-1), (4, 8), (4, 1))
    assert src == textwrap.dedent("""\
        void k(const float *restrict in0, const float *restrict in1, float *restrict red) {
            float *buf = (float *)malloc(sizeof(float) * 8);
            for (int64_t r = 0; r < 4; r++) {
                #pragma omp simd
                for (int64_t q = 0; q < 8; q++) {
                    const float v0 = (float)in0[r * 8 + q];
                    const float v1 = (float)in1[r + 0];
                    float v2 = (v0 - v1);
                    float v3 = exp(v2);
                    buf[q] = v3;
                }
                red[r] = (float)0 + cz_pairwise_f(buf, 8);
            }
            free(buf);
        }""")


# ---------------------------------------------------------------------------- every primitive
SPECIAL = [0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -1.0, 0.5, -2.5, 2.5, 3.0, 1e-30]
EXACT_FLOAT = {
    "add": lambda x, y: x + y, "sub": lambda x, y: x - y, "mul": lambda x, y: x * y,
    "div": lambda x, y: x / y, "neg": lambda x, y: -x, "abs": lambda x, y: x.abs(),
    "sqrt": lambda x, y: x.sqrt(), "rsqrt": lambda x, y: x.rsqrt(),
    "reciprocal": lambda x, y: x.reciprocal(), "maximum": O.maximum, "minimum": O.minimum,
    "relu": lambda x, y: x.relu(),
    "relu_backward": lambda x, y: O.apply(O.REGISTRY["relu_backward"], x, y),
    "clamp": lambda x, y: x.clamp(-0.5, 0.0),
    "clamp_min": lambda x, y: x.clamp(min=0.0), "clamp_max": lambda x, y: x.clamp(max=-0.0),
    "floor": lambda x, y: x.floor(), "ceil": lambda x, y: x.ceil(),
    "trunc": lambda x, y: x.trunc(), "round": lambda x, y: x.round(),
    "sign": lambda x, y: x.sign(), "remainder": lambda x, y: x % y, "fmod": O.fmod,
    "floor_divide": lambda x, y: x // y,
    "nextafter": lambda x, y: cadenza.nextafter(x, y),
    "square": lambda x, y: x * x, "pow2": lambda x, y: x ** 2,
    "eq": lambda x, y: x == y, "ne": lambda x, y: x != y, "lt": lambda x, y: x < y,
    "le": lambda x, y: x <= y, "gt": lambda x, y: x > y, "ge": lambda x, y: x >= y,
    "where": lambda x, y: O.where(x > y, x, y), "to_int64": lambda x, y: x.to(cadenza.int64),
    "to_int32": lambda x, y: x.to(cadenza.int32), "to_bool": lambda x, y: x.to(cadenza.bool),
    "logical_and": O.logical_and, "logical_or": O.logical_or,
    "logical_xor": O.logical_xor, "logical_not": lambda x, y: O.logical_not(x),
}
# libm primitives that need their own case (a domain, a second input, no public function);
# the others run through their public function
LIBM_FLOAT = {
    "exp": lambda x: x.exp(), "log": lambda x: x.abs().log(), "expm1": lambda x: x.expm1(),
    "log1p": lambda x: x.abs().log1p(), "sin": lambda x: x.sin(), "cos": lambda x: x.cos(),
    "tan": lambda x: x.tan(), "tanh": lambda x: x.tanh(), "sinh": lambda x: x.sinh(),
    "cosh": lambda x: x.cosh(), "asin": lambda x: x.clamp(-1, 1).asin(),
    "acos": lambda x: x.clamp(-1, 1).acos(), "atan": lambda x: x.atan(),
    "atan2": lambda x: O.atan2(x, x + 1), "erf": lambda x: x.erf(),
    "sigmoid": lambda x: x.sigmoid(), "gelu": lambda x: cadenza.nn.functional.gelu(x),
    "gelu_tanh": lambda x: cadenza.nn.functional.gelu(x, approximate="tanh"),
    "pow": lambda x: x.abs() ** 1.7,
    # derivative primitives: gradient (input 0) times the derivative at x (input 1)
    "gelu_backward": lambda x: O.apply(O.REGISTRY["gelu_backward"], x + 1, x),
    "gelu_tanh_backward": lambda x: O.apply(O.REGISTRY["gelu_tanh_backward"], x + 1, x),
}
# C functions of a c_expr that are exact (correctly rounded or exact by IEEE 754); any other
# function call is a libm approximation, checked within a few ulp
EXACT_C_FUNCTIONS = {"sqrt", "fabs", "floor", "ceil", "trunc", "nearbyint", "fmod", "isnan",
                     "isinf", "isfinite", "nextafter", "signbit"}


def _libm_primitives():
    """Registered elementwise primitives whose C lowering calls a libm approximation."""
    out = set()
    for name, op in O.REGISTRY.items():
        if op.kind == "elementwise" and op.c_expr:
            # a callable lowering picks its expression by attributes: check each form
            forms = [op.c_expr({"min": 0.0, "max": 1.0}), op.c_expr({"min": 0.0}),
                     op.c_expr({"max": 1.0})] if callable(op.c_expr) else [op.c_expr]
            calls = {c for f in forms for c in re.findall(r"\b([a-z_][a-z0-9_]*)\(", f)}
            # CZ_POW (render_c.py): products for exponents 3, -2, -0.5, libm's pow otherwise
            if calls - EXACT_C_FUNCTIONS or any("CZ_POW(" in f for f in forms):
                out.add(name)
    return out
EXACT_INT = {
    "add": lambda x, y: x + y, "sub": lambda x, y: x - y, "mul": lambda x, y: x * y,
    "neg": lambda x, y: -x, "maximum": O.maximum, "minimum": O.minimum,
    "relu": lambda x, y: x.relu(), "sign": lambda x, y: x.sign(),
    "eq": lambda x, y: x == y, "lt": lambda x, y: x < y, "ge": lambda x, y: x >= y,
    "where": lambda x, y: O.where(x > y, x, y), "and": lambda x, y: x & y,
    "or": lambda x, y: x | y, "xor": lambda x, y: x ^ y, "not": lambda x, y: ~x,
    "to_float64": lambda x, y: x.to(cadenza.float64),
    "to_float32": lambda x, y: x.to(cadenza.float32), "add_scalar": lambda x, y: x + 7,
    "le": lambda x, y: x <= y, "ne": lambda x, y: x != y, "logical_and": O.logical_and,
    "logical_or": O.logical_or, "logical_xor": O.logical_xor,
    "logical_not": lambda x, y: O.logical_not(x),
}
EXACT_BOOL = {
    "and": lambda x, y: x & y, "or": lambda x, y: x | y, "xor": lambda x, y: x ^ y,
    "not": lambda x, y: ~x, "logical_and": O.logical_and,
    "logical_not": lambda x, y: O.logical_not(x), "eq": lambda x, y: x == y,
    "where": lambda x, y: O.where(x, y, x), "to_int64": lambda x, y: x.to(cadenza.int64),
    "to_float32": lambda x, y: x.to(cadenza.float32), "ne": lambda x, y: x != y,
    "bitwise_and": O.bitwise_and, "bitwise_or": O.bitwise_or, "bitwise_xor": O.bitwise_xor,
    "bitwise_not": lambda x, y: O.bitwise_not(x),
}


def _grid(dtype):
    """Every pair of special values, and some larger normal values, as two flat arrays."""
    if dtype is None:                   # libm functions: finite values (float64 erf of NaN
        v = np.linspace(-9, 9, 23)      # raises in eager mode)
        x, y = np.meshgrid(v, v)
        return x.ravel().copy(), y.ravel().copy()
    if dtype == np.bool_:
        return np.array([0, 0, 1, 1] * 5, bool), np.array([0, 1, 0, 1] * 5, bool)
    if np.dtype(dtype).kind in "iu":
        info = np.iinfo(dtype)
        v = np.array([0, 1, -1, 2, -7, 100, info.max, info.min, info.max - 1], dtype)
    else:
        v = np.array(SPECIAL + list(np.random.default_rng(0).standard_normal(5) * 10), dtype)
    x, y = np.meshgrid(v, v)
    return x.ravel().copy(), y.ravel().copy()


def _check_table(table, dtype, exact=True):
    x, y = _grid(dtype if exact else None)
    x, y = x.astype(dtype), y.astype(dtype)
    with _every_node_a_kernel(), np.errstate(all="ignore"):
        g, got, want = _both(lambda a, b: [f(a, b) for f in table.values()], [x, y])
    members = {m.op.name for k in _kernels(g) for m in k.members}
    loose = [n for n in g.nodes if not isinstance(n.op, (str, Fused)) and
             n.op.kind == "elementwise"]
    assert not loose, f"not run as kernels: {loose}"
    for name, a, b in zip(table, got, want):
        what = f"{name}[{np.dtype(dtype).name}]"
        if exact:
            assert _same(a, b), f"{what}\n{a}\n{b}"
        else:
            _ulps(a, b, 4, what)
    return members


def _primitives(table, dtype):
    """The primitives the functions of ``table`` record (traced, not compiled)."""
    x, y = (cadenza.tensor(a.astype(dtype)) for a in _grid(dtype))
    with np.errstate(all="ignore"):
        g = trace(lambda a, b: [f(a, b) for f in table.values()], x, y)
    return {n.op.name for n in g.nodes if not isinstance(n.op, str)}


# dtype kind -> the tables run in that kind, and registered C lowerings they need not reach:
# bitwise ops take no floats (eager raises); C's libm lowerings are checked within a few ulp
# by test_every_libm_primitive_within_a_few_ulp; isnan/isinf/isfinite/signbit have a c_expr but
# never join a kernel (they compute in their bool output's dtype, which their c_kinds refuse)
_TABLES = {"f": ([EXACT_FLOAT], {"bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not",
                                 "isnan", "isinf", "isfinite", "signbit"}),
           "i": ([EXACT_INT], set()), "b": ([EXACT_BOOL], set())}


def test_tables_cover_every_c_lowering():
    """Each registered elementwise primitive with an exact C lowering is in the tables above
    for every dtype kind its ``c_kinds`` admits; a new primitive fails here until added."""
    dtype = {"f": np.float32, "i": np.int64, "b": np.bool_}
    for kind, (tables, excluded) in _TABLES.items():
        covered = set().union(*(_primitives(t, dtype[kind]) for t in tables))
        want = {n for n, op in O.REGISTRY.items() if op.kind == "elementwise" and
                op.c_expr is not None and op.c_exact and kind in op.c_kinds}
        assert not want - covered - excluded, f"{kind}: not in a table: {want - covered}"
        assert excluded <= set(O.REGISTRY), f"stale exclusions {excluded - set(O.REGISTRY)}"


def test_every_row_kernel_has_a_template():
    declared = {op.row_kernel for op in O.REGISTRY.values() if op.row_kernel}
    assert declared == set(render_rows.TEMPLATES)


def test_every_exact_float_primitive_bitwise():
    for dt in (np.float32, np.float64):
        members = _check_table(EXACT_FLOAT, dt)
        assert {"add", "div", "sqrt", "clamp", "where", "cast", "remainder", "sign", "eq",
                "logical_xor", "maximum"} <= members


def test_every_libm_primitive_within_a_few_ulp():
    libm = _libm_primitives()
    stale = set(LIBM_FLOAT) - libm
    assert not stale, f"LIBM_FLOAT lists primitives that are not libm calls: {sorted(stale)}"
    # every libm primitive runs: a one-input one through its public function (outside its
    # domain both sides give NaN), others through their LIBM_FLOAT case
    cases = {k: LIBM_FLOAT.get(k) or (lambda f: lambda x: f(x))(getattr(O, k))
             for k in sorted(libm)}
    table = {k: (lambda f: lambda x, y: f(x * 0.25))(f) for k, f in cases.items()}
    for dt in (np.float32, np.float64):
        members = _check_table(table, dt, exact=False)
        assert libm <= members, f"not run in a kernel: {sorted(libm - members)}"


def test_every_integer_and_bool_primitive_bitwise():
    for dt in (np.int64, np.int32):
        members = _check_table(EXACT_INT, dt)
        assert {"add", "mul", "neg", "where", "cast", "bitwise_not", "sign"} <= members
    members = _check_table(EXACT_BOOL, np.bool_)
    assert {"logical_and", "logical_xor", "logical_not", "eq", "where", "cast"} <= members


def test_signed_zero_ties_follow_numpy():
    """NumPy's maximum/minimum return the second operand on a tie (relu(-0.0) is +0.0, a
    one-bound clamp gives the bound) while its two-bound clip keeps x; NaN propagates."""
    v = [-0.0, 0.0, np.nan, 1.0, -1.0]
    x, y = (np.array(a * 3) for a in zip(*[(p, q) for p in v for q in v]))

    def f(a, b):
        return [a.relu(), O.maximum(a, b), O.minimum(a, b), a.clamp(min=0.0), a.clamp(max=-0.0),
                a.clamp(0.0, 1.0), a.clamp(-0.0, 0.0)]
    for dt in (np.float32, np.float64):
        with _every_node_a_kernel():
            _, got, want = _both(f, [x.astype(dt), y.astype(dt)])
        for i, (a, b) in enumerate(zip(got, want)):
            assert _same(a, b), (i, np.signbit(a), np.signbit(b))


# ---------------------------------------------------------------------------- random chains
BINARY = ["add", "sub", "mul", "div", "maximum", "minimum", "where"]
UNARY = ["neg", "relu", "abs", "sqrt", "square", "clamp", "add_c", "mul_c", "rsub_c"]


def _apply(op, acc, other):
    return {
        "add": lambda: acc + other, "sub": lambda: other - acc, "mul": lambda: acc * other,
        "div": lambda: acc / other, "maximum": lambda: O.maximum(acc, other),
        "minimum": lambda: O.minimum(other, acc),
        "where": lambda: O.where(acc > other, acc, other * 0.5),
        "neg": lambda: -acc, "relu": lambda: acc.relu(), "abs": lambda: acc.abs(),
        "sqrt": lambda: acc.abs().sqrt(), "square": lambda: acc * acc,
        "clamp": lambda: acc.clamp(-1.5, 2.0), "add_c": lambda: acc + 0.1,
        "mul_c": lambda: acc * 3, "rsub_c": lambda: 1 - acc,
    }[op]()


@st.composite
def _broadcast_shape(draw, full):
    nd = draw(st.integers(0, len(full)))
    tail = full[len(full) - nd:]
    return tuple(1 if draw(st.booleans()) else s for s in tail)


@st.composite
def _chain_case(draw):
    nd = draw(st.integers(1, 4))
    limit = {1: 40, 2: 40, 3: 12, 4: 6}[nd]
    full = tuple(draw(st.lists(st.integers(1, limit), min_size=nd, max_size=nd)))
    shapes = [full] + [draw(_broadcast_shape(full)) for _ in range(draw(st.integers(1, 2)))]
    ops = draw(st.lists(st.sampled_from(BINARY + UNARY), min_size=2, max_size=7))
    picks = draw(st.lists(st.integers(0, 9), min_size=len(ops), max_size=len(ops)))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    specials = draw(st.booleans())
    seed = draw(st.integers(0, 2 ** 16))
    return shapes, ops, picks, dtype, specials, seed


def _chain_arrays(shapes, dtype, specials, seed):
    rng = np.random.default_rng(seed)
    out = []
    for s in shapes:
        a = rng.standard_normal(s).astype(dtype)
        if specials and a.size:
            flat = a.reshape(-1)
            idx = rng.integers(0, flat.size, max(1, flat.size // 4))
            flat[idx] = rng.choice(np.array(SPECIAL, dtype), idx.size)
        out.append(a)
    return out


@SETTINGS
@given(st.lists(_chain_case(), min_size=1, max_size=4))
def test_random_elementwise_chains_bitwise(cases):
    arrays, spans = [], []
    for shapes, _, _, dtype, specials, seed in cases:
        spans.append((len(arrays), len(shapes)))
        arrays += _chain_arrays(shapes, dtype, specials, seed)

    def f(*xs):
        outs = []
        for (start, n), (_, ops, picks, _, _, _) in zip(spans, cases):
            vals = list(xs[start:start + n])
            acc = vals[0]
            for op, p in zip(ops, picks):
                acc = _apply(op, acc, vals[p % len(vals)])
                vals.append(acc)
            outs.append(acc)
        return outs
    with np.errstate(all="ignore"):
        _, got, want = _both(f, arrays)
    for i, (a, b) in enumerate(zip(got, want)):
        assert _same_but_nan(a, b), (i, cases[i])


# ---------------------------------------------------------------------------- reductions
@st.composite
def _reduction_case(draw):
    nd = draw(st.integers(1, 4))
    limit = {1: 40, 2: 40, 3: 12, 4: 8}[nd]
    shape = tuple(draw(st.lists(st.integers(1, limit), min_size=nd, max_size=nd)))
    k = draw(st.integers(1, nd))
    dims = tuple(range(nd - k, nd)) if draw(st.booleans()) else tuple(range(k))
    # the second operand: the full shape, a 0-d scalar, or statistics kept over the reduced dims
    kind = draw(st.sampled_from(["full", "scalar", "stats"]))
    other = shape if kind == "full" else () if kind == "scalar" else \
        tuple(1 if d in dims else s for d, s in enumerate(shape))
    op = draw(st.sampled_from(["sum", "amax", "amin"]))
    prologue = draw(st.sampled_from(["mul_add", "sub_abs", "square"]))
    return (shape, other, dims, op, prologue, draw(st.booleans()),
            draw(st.sampled_from([np.float32, np.float64])), draw(st.integers(0, 2 ** 16)))


def _prologue(kind, x, o):
    if kind == "mul_add":
        return x * 1.5 + o
    if kind == "sub_abs":
        return (x - o).abs()
    return x * x * o


@SETTINGS
@given(st.lists(_reduction_case(), min_size=1, max_size=5))
def test_random_reductions_with_prologue_bitwise(cases):
    arrays = []
    for shape, other, _, _, _, _, dtype, seed in cases:
        rng = np.random.default_rng(seed)
        arrays += [rng.standard_normal(shape).astype(dtype),
                   rng.standard_normal(other).astype(dtype)]

    def f(*xs):
        return [getattr(_prologue(pro, xs[2 * i], xs[2 * i + 1]), op)(dim=dims, keepdim=keep)
                for i, (_, _, dims, op, pro, keep, _, _) in enumerate(cases)]
    g, got, want = _both(f, arrays)
    # every case has a kernel-friendly layout: its reduction runs inside a kernel
    assert sum(1 for k in _kernels(g) if k.reduction is not None) == len(cases)
    for i, (a, b) in enumerate(zip(got, want)):
        assert _same(a, b), (i, cases[i])


# ---------------------------------------------------------------------------- process-level
_SCRIPT = textwrap.dedent("""
    import json, numpy as np, cadenza

    def fn(x, b):
        return ((x * 2 + b).relu() - 1).sum(-1), (x - b) * 0.5
    x = cadenza.tensor(np.linspace(-3, 3, 24).reshape(4, 6))
    b = cadenza.tensor(np.linspace(-1, 1, 6))
    f = cadenza.compile(fn)
    got = [t.numpy() for t in f(x, b)]
    got2 = [t.numpy() for t in f(x * 2, b)]
    want = [t.numpy() for t in fn(x, b)] + [t.numpy() for t in fn(x * 2, b)]
    ok = all(g.tobytes() == w.tobytes() for g, w in zip(got + got2, want))
    print(json.dumps({"ok": ok, "stats": cadenza.compiler.stats()}))
""")


def _run_script(tmp_path, **env):
    full = dict(os.environ, CADENZA_CACHE_DIR=str(tmp_path / "cache"), CADENZA_DEBUG="0",
                PYTHONPATH=ROOT, **env)
    proc = subprocess.run([sys.executable, "-c", _SCRIPT], capture_output=True, text=True,
                          env=full, cwd=str(tmp_path), timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc.stderr


def test_disk_cache_across_processes(tmp_path):
    require_cc()
    first, err = _run_script(tmp_path)
    assert first["ok"] and err == ""
    assert first["stats"]["builds"] == 1 and first["stats"]["disk_cache_hits"] == 0
    assert first["stats"]["kernels"] >= 2
    libs = sorted(p.name for p in (tmp_path / "cache" / "kernels").iterdir())
    assert [p.rsplit(".", 1)[1] for p in libs] == ["c", "so"]   # the source is kept beside it
    second, err = _run_script(tmp_path)
    assert second["ok"] and err == ""
    assert second["stats"]["builds"] == 0 and second["stats"]["disk_cache_hits"] == 1
    assert sorted(p.name for p in (tmp_path / "cache" / "kernels").iterdir()) == libs


def test_no_compiler_falls_back_with_one_notice(tmp_path):
    out, err = _run_script(tmp_path, CC=str(tmp_path / "no-such-cc"))
    assert out["ok"] and out["stats"]["builds"] == 0 and out["stats"]["kernels"] == 0
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("cadenza.compile: ") and "C compiler" in \
        lines[0], err


def test_failing_compiler_falls_back_with_one_notice(tmp_path):
    cc = tmp_path / "broken-cc"
    cc.write_text("#!/bin/sh\necho 'kernels.c:1:1: error: something went wrong' >&2\n"
                  "echo 'one more line of log' >&2\nexit 1\n")
    cc.chmod(0o755)
    out, err = _run_script(tmp_path, CC=str(cc))
    assert out["ok"] and out["stats"]["builds"] == 0
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("cadenza.compile: building kernels failed"), \
        err
    assert "error: something went wrong" in lines[0]


def test_debug_3_prints_kernel_source(monkeypatch, capsys):
    require_cc()
    monkeypatch.setenv("CADENZA_DEBUG", "3")
    f = cadenza.compile(lambda x: (x * 3 - 2).relu().sum(-1))
    x = cadenza.tensor(np.arange(12.0).reshape(3, 4))
    assert _same(f(x).numpy(), ((np.arange(12.0).reshape(3, 4) * 3 - 2).clip(0)).sum(-1))
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert "[cadenza] kernel source:" in text
    assert "void cz_kernel_0(const double *restrict in0, double *restrict red) {" in text
    assert "after fuse_reductions" in text          # level 3 includes level 2's graphs


def test_parallel_kernels_equal_the_interpreter(monkeypatch):
    # large enough for the pool's paths (chunked 1-d loops, rows, column blocks, row
    # kernels); tests/codegen/test_threads.py compares thread counts
    require_cc()
    rng = np.random.default_rng(7)
    x = cadenza.from_numpy(rng.standard_normal((512, 1024)))
    b = cadenza.from_numpy(rng.standard_normal(1024))

    def f(x, b):
        h = (x * 2 + b).relu()
        return h, (h * x).sum(-1), (h - x).sum(0), (x * b).amax(-1)

    g = optimize(trace(f, x, b))
    runner = make_runner(g, "c")
    assert isinstance(runner, KernelRunner)
    import ctypes
    assert ctypes.c_void_p.in_dll(runner.lib, "cz_pool").value      # attached to the pool
    got = runner([x._data, b._data])
    want = Interpreter(g)([x._data, b._data])
    for a, w in zip(got, want):
        assert np.array_equal(a, w)          # float64 sums: bit for bit, threads or not
    x32 = cadenza.from_numpy(rng.standard_normal((64, 4, 128, 128)).astype(np.float32))
    g2 = optimize(trace(lambda s: s.softmax(-1), x32))
    got2 = make_runner(g2, "c")([x32._data])[0]
    np.testing.assert_allclose(got2, x32.softmax(-1).numpy(), rtol=1e-5, atol=1e-7)


def test_write_backs_computed_in_place_are_exact_and_keep_the_buffer():
    require_cc()
    rng = np.random.default_rng(3)
    p = cadenza.from_numpy(rng.standard_normal((64, 64)))
    p_ref = cadenza.from_numpy(p.numpy().copy())
    buf = p._data

    def f(p):
        y = p.detach() * 3                  # reads the old value ...
        with cadenza.no_grad():
            p.mul_(0.5).add_(1)             # ... in the kernel that overwrites it
        return y + p

    c = cadenza.compile(f)
    for _ in range(3):
        got, want = c(p), f(p_ref)
        assert np.array_equal(got.numpy(), want.numpy())
        assert np.array_equal(p.numpy(), p_ref.numpy())
    assert p._data is buf and p._version >= 3      # each call counts as a modification
    runner = c.cache[-1].run_graph
    assert isinstance(runner, KernelRunner) and runner.inplace     # it did run in place


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("e", [3, 3.0, -2, -0.5, 1.7])
def test_scalar_pow_equals_eager_bitwise(dtype, e):
    """x ** 3 / -2 / -0.5 are products in eager (torch's kernel); the C lowering (CZ_POW) makes
    the same products, so a fused kernel gives eager's bits (other exponents: libm's pow)."""
    x = cadenza.tensor(np.random.default_rng(0).uniform(0.1, 3.0, (64, 33)).astype(dtype))
    f = cadenza.compile(lambda t: (t * 1.5) ** e + 1)
    want, got = (x * 1.5) ** e + 1, f(x)
    if e == 1.7:
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=4e-7 if dtype == np.float32
                                   else 1e-15)
    else:
        assert got.numpy().tobytes() == want.numpy().tobytes()
