"""C kernels for the row-wise fused primitives (softmax, log_softmax, layer/RMS norm, cross
entropy and their derivative primitives): one pass per row, rows in parallel, instead of the
several NumPy passes of their eager forward.

They are used for float32 only. Their eager results are defined up to rounding (pairwise sums,
NumPy's vectorised exp), and these kernels reorder sums and use libm, so float64 graphs keep
the NumPy forward and stay bit-identical to eager; float32 results agree to a few ulp.
Row maxima are ``x > m ? x : m`` (one vector max instruction; GCC leaves ``fmax`` reductions
scalar: the cross-entropy kernel ran 5x slower with it): a NaN it skips still makes its row
NaN, as in eager, through exp(NaN - max) in the sum. Each op is normalised over its last
dimension (``dim=-1``, ``k=1``), the layout every model here uses; other layouts run the NumPy
forward.

A primitive names its template in its ``row_kernel`` field (``TEMPLATES`` below holds them).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np

from ..graph.ir import Value

F32 = np.dtype(np.float32)
PARALLEL_ROWS = 1 << 15      # elements: smaller ops run on one thread
TASK_ELEMENTS = 1 << 14      # elements per task of a parallel kernel (claimed one by one)


@dataclass(frozen=True)
class RowTemplate:
    """A row kernel, named by the primitives that use it (their ``row_kernel`` field)."""
    render: object           # (node, fname, values) -> C source
    ok: object               # (node, values, x) -> whether this node's layout is supported
    x_arg: int               # the argument holding the rows (its last dim is the row)
    counts_bad: bool = False  # returns the number of rows with an out-of-range target


def template(n) -> RowTemplate | None:
    """The row kernel primitive node ``n`` declares, or None."""
    op = n.op
    return None if isinstance(op, str) else TEMPLATES.get(op.row_kernel)


def supported(n) -> bool:
    """Can primitive node ``n`` run as a row kernel?"""
    t = template(n)
    if t is None or n.out.dtype != F32 or 0 in n.out.shape:
        return False
    if any(x is not None and not isinstance(x, Value) for x in n.inputs):
        return False
    values = arguments(n)
    return t.ok(n, values, values[t.x_arg])


def _ce_ok(n, values, x) -> bool:
    t = values[-1]
    return len(x.shape) == 2 and t.dtype == np.int64 and \
        all(v.dtype == F32 for v in values if v is not t)


def _softmax_ok(n, values, x) -> bool:
    if any(v.dtype != F32 for v in values):
        return False
    nd = len(x.shape)
    return nd >= 1 and n.attrs.get("dim", -1) % nd == nd - 1 and \
        all(v.shape == x.shape for v in values) and (not n.attrs.get("causal") or nd >= 2)


def _norm_ok(n, values, x) -> bool:
    if any(v.dtype != F32 for v in values):
        return False
    return n.attrs.get("k", 1) == 1 and len(values[0].shape) >= 1


def arguments(n) -> list:
    """The Values passed to the kernel, in its parameter order (output follows)."""
    return [x for x in n.inputs if isinstance(x, Value)]


def parallel_function(head: str, params: list[str], tasks: int, body: list[str],
                      setup: tuple = (), shared: tuple = (), finish: tuple = ()) -> str:
    """C for ``head(params) { ... }`` whose work is ``tasks`` independent tasks: ``body`` (lines
    of one task, reading its number from ``t`` and the parameters and ``shared`` variables by
    name) becomes a task function run over the pool (``cz_for``); ``setup`` lines (declaring
    the ``shared`` variables) run before, ``finish`` lines after every task. One task: a plain
    function (its body must not read ``t``). Tasks must write disjoint memory, so results are
    the same on any number of threads."""
    fname = head.split()[-1]
    start = [f"{head}({', '.join(params)}) {{", *("    " + x for x in setup)]
    end = [*("    " + x for x in finish), "}"]
    if tasks <= 1:
        return "\n".join(start + ["    " + x for x in body] + end)
    decls = list(params) + list(shared)
    names = [d.split()[-1].lstrip("*") for d in decls]
    task = [f"static void {fname}_task(void *cz_ctx, const int64_t t) {{",
            "    void *const *cz_a = cz_ctx;",
            *(f"    {d} = cz_a[{i}];" for i, d in enumerate(decls)),
            *("    " + x for x in body), "}"]
    call = ["    void *cz_a[] = {" + ", ".join(f"(void *){n}" for n in names) + "};",
            f"    cz_for({fname}_task, cz_a, {tasks});"]
    return "\n".join(task + start + call + end)


def row_tasks(rows: int, n: int) -> tuple[int, int]:
    """(tasks, rows per task) for ``rows`` rows of ``n`` elements: one task below
    PARALLEL_ROWS elements, else blocks of about TASK_ELEMENTS elements."""
    if rows * n < PARALLEL_ROWS or rows < 2:
        return 1, rows
    per = max(1, min(rows // 2, TASK_ELEMENTS // max(n, 1)))
    return -(-rows // per), per


def task_rows(tasks: int, per: int, rows: int, var: str = "r", step: int = 1) -> str:
    """The loop header over task ``t``'s ``per`` of ``rows`` (all of them for one task)."""
    if tasks <= 1:
        return f"for (int64_t {var} = 0; {var} < {rows}; {var} += {step}) {{".replace(
            " += 1)", "++)")
    return (f"for (int64_t {var} = t * {per}, {var}1 = (t + 1) * {per} < {rows} ? "
            f"(t + 1) * {per} : {rows}; {var} < {var}1; {var} += {step}) {{").replace(
                " += 1)", "++)")


def _row_loop(rows: int, n: int) -> tuple[int, str]:
    """(tasks, the loop header over this task's rows ``r``)."""
    tasks, per = row_tasks(rows, n)
    return tasks, task_rows(tasks, per, rows)


def _flit(v: float) -> str:
    return f"((float){float(np.float32(v)).hex()})"


def render(n, fname: str) -> str:
    return template(n).render(n, fname, arguments(n))


def _rows_of(shape) -> tuple[int, int]:
    N = int(shape[-1])
    return int(np.prod(shape[:-1], dtype=np.int64)), N


def _softmax_family(n, fname: str, vals: list, name: str) -> str:
    R, N = _rows_of(vals[-1].shape)
    causal = bool(n.attrs.get("causal", False))
    L = int(vals[-1].shape[-2]) if causal else 0
    scale = float(n.attrs.get("scale", 1.0))
    visible = f"int64_t nv = (r % {L}) + 1; if (nv > {N}) nv = {N};" if causal else \
        f"const int64_t nv = {N};"
    scaled = f" * {_flit(scale)}" if scale != 1.0 else ""
    tasks, loop = _row_loop(R, N)
    params = [f"const float *restrict in{i}" for i in range(len(vals))] + ["float *restrict out"]
    head = ["    " + loop, f"        {visible}", f"        float *restrict o = out + r * {N};"]
    rows = [f"        const float *restrict a{i} = in{i} + r * {N};" for i in range(len(vals))]
    if name == "softmax":
        body = ["        float m = -INFINITY;",
                "        #pragma omp simd reduction(max:m)",
                f"        for (int64_t j = 0; j < nv; j++) {{ float z = a0[j]{scaled}; o[j] = z;"
                " m = z > m ? z : m; }",
                "        float s = 0;",
                "        #pragma omp simd reduction(+:s)",
                "        for (int64_t j = 0; j < nv; j++) { float e = exp(o[j] - m); o[j] = e;"
                " s += e; }",
                "        for (int64_t j = 0; j < nv; j++) o[j] = o[j] / s;",
                f"        for (int64_t j = nv; j < {N}; j++) o[j] = 0;"]
    elif name == "softmax_backward":      # scale * y (g - sum(g y)); in0 = g, in1 = y
        body = ["        float s = 0;",
                "        #pragma omp simd reduction(+:s)",
                "        for (int64_t j = 0; j < nv; j++) s += a0[j] * a1[j];",
                "        #pragma omp simd",
                f"        for (int64_t j = 0; j < nv; j++) o[j] = (a0[j] * a1[j] - a1[j] * s)"
                f"{scaled};",
                f"        for (int64_t j = nv; j < {N}; j++) o[j] = 0;"]
    elif name == "log_softmax":
        body = ["        float m = -INFINITY;",
                "        #pragma omp simd reduction(max:m)",
                "        for (int64_t j = 0; j < nv; j++) m = a0[j] > m ? a0[j] : m;",
                "        float s = 0;",
                "        #pragma omp simd reduction(+:s)",
                "        for (int64_t j = 0; j < nv; j++) s += exp(a0[j] - m);",
                "        const float ls = log(s);",
                "        #pragma omp simd",
                "        for (int64_t j = 0; j < nv; j++) o[j] = (a0[j] - m) - ls;"]
    else:                                  # log_softmax_backward: g - exp(y) sum(g)
        body = ["        float s = 0;",
                "        #pragma omp simd reduction(+:s)",
                "        for (int64_t j = 0; j < nv; j++) s += a0[j];",
                "        #pragma omp simd",
                "        for (int64_t j = 0; j < nv; j++) o[j] = a0[j] - exp(a1[j]) * s;"]
    return parallel_function(f"void {fname}", params, tasks,
                             [x[4:] for x in head + rows + body] + ["}"])


def _stats_lines(center: bool, N: int, eps: float) -> list[str]:
    """Per-row mean (if centred) and s = 1 / sqrt(var + eps) of row pointer ``x``."""
    lines = []
    if center:
        lines += ["        float mean = 0;", "        #pragma omp simd reduction(+:mean)",
                  f"        for (int64_t j = 0; j < {N}; j++) mean += x[j];",
                  f"        mean = mean * {_flit(1.0 / N)};"]
    d = "(x[j] - mean)" if center else "x[j]"
    lines += ["        float var = 0;", "        #pragma omp simd reduction(+:var)",
              f"        for (int64_t j = 0; j < {N}; j++) var += {d} * {d};",
              f"        const float s = 1 / sqrt(var * {_flit(1.0 / N)} + {_flit(eps)});"]
    return lines


def _norm(n, fname: str, vals: list, center: bool, part: str) -> str:
    eps = float(n.attrs.get("eps", 1e-5))
    xh = "((x[j] - mean) * s)" if center else "(x[j] * s)"
    if part == "weight_grad":
        # sum over rows of g * xh (with ``bias``: and of g, after it): one partial sum per
        # task (a fixed block of rows), the partials added in task order, so the result does
        # not depend on the thread count
        g, x = vals
        R, N = _rows_of(x.shape)
        M = 2 * N if n.attrs.get("bias", False) else N
        tasks, loop = _row_loop(R, N)
        acc = f"acc[j] += g[j] * {xh};" + (f" acc[j + {N}] += g[j];" if M > N else "")
        body = [loop,
                f"    const float *restrict x = in1 + r * {N};",
                f"    const float *restrict g = in0 + r * {N};",
                *(x[4:] for x in _stats_lines(center, N, eps)),
                "    #pragma omp simd",
                f"    for (int64_t j = 0; j < {N}; j++) {{ {acc} }}",
                "}"]
        return parallel_function(
            f"void {fname}", ["const float *restrict in0", "const float *restrict in1",
                              "float *restrict out"], tasks,
            [f"float *restrict acc = part{' + t * ' + str(M) if tasks > 1 else ''};", *body],
            setup=[f"float *part = (float *)calloc((size_t){tasks} * {M}, sizeof(float));"],
            shared=["float *part"],
            finish=[f"for (int64_t j = 0; j < {M}; j++) {{ float s = 0;",
                    f"    for (int64_t q = 0; q < {tasks}; q++) s += part[q * {M} + j];",
                    "    out[j] = s; }", "free(part);"])
    x = vals[1] if part == "backward" else vals[0]
    R, N = _rows_of(x.shape)
    params = [f"const float *restrict in{i}" for i in range(len(vals))] + ["float *restrict out"]
    tasks, loop = _row_loop(R, N)
    lines = ["    " + loop, f"        float *restrict o = out + r * {N};"]
    if part == "backward":               # s (v - xh mean(v xh) - mean(v)), v = g w
        has_w = len(vals) > 2
        v = "(g[j] * in2[j])" if has_w else "g[j]"
        lines += [f"        const float *restrict g = in0 + r * {N};",
                  f"        const float *restrict x = in1 + r * {N};",
                  *_stats_lines(center, N, eps),
                  "        float c = 0, mv = 0;",
                  "        #pragma omp simd reduction(+:c, mv)",
                  f"        for (int64_t j = 0; j < {N}; j++) {{ c += {v} * {xh}; mv += {v}; }}",
                  f"        c = c * {_flit(1.0 / N)};",
                  f"        mv = {'mv * ' + _flit(1.0 / N) if center else '0'};",
                  "        #pragma omp simd",
                  f"        for (int64_t j = 0; j < {N}; j++) o[j] = (({v} - {xh} * c) - mv) * s;"]
    else:                                 # y = xh w + b (either may be absent)
        present = [isinstance(a, Value) for a in (list(n.inputs) + [None, None])[1:3]]
        w = "in1" if present[0] else None
        b = ("in2" if present[0] else "in1") if present[1] else None
        y = xh + (f" * {w}[j]" if w else "") + (f" + {b}[j]" if b else "")
        lines += [f"        const float *restrict x = in0 + r * {N};",
                  *_stats_lines(center, N, eps),
                  "        #pragma omp simd",
                  f"        for (int64_t j = 0; j < {N}; j++) o[j] = {y};"]
    return parallel_function(f"void {fname}", params, tasks, [x[4:] for x in lines] + ["}"])


def _cross_entropy(n, fname: str, vals: list, backward: bool) -> str:
    """Returns the number of rows whose target is outside [0, C) (and not ignore_index): the
    executor raises instead of letting the kernel read out of bounds."""
    ii = int(n.attrs.get("ignore_index", -100))
    x = vals[1] if backward else vals[0]
    R, C = (int(s) for s in x.shape)
    if backward:
        params = ["const float *restrict g", "const float *restrict xs",
                  "const int64_t *restrict ts", "float *restrict out"]
    else:
        params = ["const float *restrict xs", "const int64_t *restrict ts",
                  "float *restrict out"]
    tasks, loop = _row_loop(R, C)
    lines = ["    int64_t nbad = 0;", "    " + loop,
             f"        const float *restrict x = xs + r * {C};",
             "        const int64_t t = ts[r];",
             f"        const int keep = t != {ii}LL;",
             f"        if (keep && (t < 0 || t >= {C})) {{ nbad++; continue; }}",
             "        float m = -INFINITY;",
             "        #pragma omp simd reduction(max:m)",
             f"        for (int64_t j = 0; j < {C}; j++) m = x[j] > m ? x[j] : m;"]
    if backward:
        lines += [f"        float *restrict o = out + r * {C};",
                  "        const float gk = keep ? g[r] : 0;",
                  "        float s = 0;",
                  "        #pragma omp simd reduction(+:s)",
                  f"        for (int64_t j = 0; j < {C}; j++) {{ float e = exp(x[j] - m); "
                  "o[j] = e; s += e; }",
                  "        const float f = gk / s;",
                  "        #pragma omp simd",
                  f"        for (int64_t j = 0; j < {C}; j++) o[j] = o[j] * f;",
                  "        if (keep) o[t] -= gk;"]
    else:
        lines += ["        float s = 0;",
                  "        #pragma omp simd reduction(+:s)",
                  f"        for (int64_t j = 0; j < {C}; j++) s += exp(x[j] - m);",
                  "        out[r] = keep ? (log(s) + m) - x[t] : 0;"]
    lines += ["    }", "    if (nbad) __atomic_fetch_add(cz_bad, nbad, __ATOMIC_RELAXED);"]
    return parallel_function(f"int64_t {fname}", params, tasks, [x[4:] for x in lines],
                             setup=["int64_t bad = 0, *cz_bad = &bad;"],
                             shared=["int64_t *cz_bad"], finish=["return bad;"])


def _softmax_template(name: str) -> RowTemplate:
    return RowTemplate(partial(_softmax_family, name=name), _softmax_ok, -1)


def _norm_templates(prefix: str, center: bool) -> dict:
    return {prefix: RowTemplate(partial(_norm, center=center, part="forward"), _norm_ok, 0),
            prefix + "_backward": RowTemplate(partial(_norm, center=center, part="backward"),
                                              _norm_ok, 1),
            prefix + "_weight_grad": RowTemplate(
                partial(_norm, center=center, part="weight_grad"), _norm_ok, 1)}


TEMPLATES = {
    **{k: _softmax_template(k) for k in ("softmax", "softmax_backward", "log_softmax",
                                         "log_softmax_backward")},
    **_norm_templates("layer_norm", True), **_norm_templates("rms_norm", False),
    "cross_entropy": RowTemplate(partial(_cross_entropy, backward=False), _ce_ok, 0, True),
    "cross_entropy_backward": RowTemplate(partial(_cross_entropy, backward=True), _ce_ok, 1,
                                          True),
}
