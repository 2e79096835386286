"""Where one step's time goes, per workload (../shared/WORKLOADS.md), Cadenza beside PyTorch.

    python bench/step_profile.py                      # W1-W5 eager, W1-W4 compiled
    python bench/step_profile.py --only w1,w2 --eager # some workloads, one mode
    python bench/step_profile.py --quick --json out.json

For each workload and mode (eager: W1-W5; compiled: W1-W4 through ``cadenza.compile`` of the
whole step, as bench/compiled.py builds it) it prints one table of one step's wall time
(W2: one generated token; W5: the 2000-op chain, also given per op) split into categories that
point at a lever, with PyTorch eager's profile of the same step in the next column and the gap:

- ``GEMM (BLAS)``: time inside matrix products: NumPy's matmul/dot/einsum/tensordot and the
  compiled executor's direct BLAS calls (``codegen/blas.py``). PyTorch: aten::mm, addmm, bmm,
  baddbmm, the convolution kernels and CPU flash attention.
- ``C kernels``: Cadenza's generated C (fused elementwise and row kernels of a compiled graph,
  ``backend/ckernels.py``'s im2col/col2im/pool kernels in eager); PyTorch: every other ATen
  op's self time (its elementwise and reduction kernels).
- ``NumPy compute``: the rest of the op forwards' own time (elementwise ufuncs, reductions,
  softmax/norm composites), by op kind.
- ``memory (copy/alloc)``: shape and index ops (cat, getitem, contiguous...), casts, copies
  (``np.copyto``, ``np.ascontiguousarray``, ``np.concatenate``) and the GEMM ops' own time
  outside the product (operand layout copies). PyTorch: copy_, empty, clone, cat, to...
- ``optimizer``: the whole ``opt.step()`` and ``opt.zero_grad()`` (compiled: the graph nodes
  traced from those lines). PyTorch: everything under its Optimizer.step/zero_grad ranges.
- ``Python overhead``: the step's wall time minus all of the above: dispatch, argument
  handling, autograd engine, module calls (eager; split by cProfile's per-module share of the
  Python time, excluding op forwards and the optimizer), or the executor's per-node Python and
  the compiled call's guard checks, argument binding and write-backs (compiled). PyTorch: wall
  time minus its ops' self time (dispatcher, autograd engine, Python).

How: a plain timed run gives the wall time; a second run with timers on the native entry
points (NumPy's product and copy functions patched for the run, each op's ``forward`` wrapped by
op kind, ``ckernels.kernel``'s functions, ``blas.Gemm``) gives each category's exclusive time;
compiled runs add ``CompiledFunction``'s node profile (``graph.interpret.Profile``, as
``CompiledFunction.profile()`` takes it) with the optimizer's nodes found by their source line;
cProfile splits eager Python time by module; ``cadenza.profiler`` (eager) and
``torch.profiler`` give the top ops (self time, dispatch included). Nothing in cadenza/ is
changed: the wrappers are installed and removed by this script.

Each table ends with the FLOP-bound limit: the workload's FLOPs per step against a large float32
NumPy matmul's GFLOP/s measured just before (the fraction of that peak each library reaches),
and the GFLOP/s of Cadenza's GEMM calls alone (how well the products themselves run).

Named step_profile.py, not profile.py: a bench/profile.py would shadow the standard library's
``profile`` module for every script in bench/ (cProfile imports it, and torch._dynamo imports
cProfile, so torch.compile in bench/compiled.py would fail).

Options: ``--only w1,w2,...``, ``--quick`` (few steps: checks that it runs), ``--eager`` /
``--compiled`` (one mode; default both), ``--no-torch``, ``--steps N``, ``--passes N``,
``--threads N`` (both libraries' BLAS/OpenMP threads; 1 on a loaded machine, where spinning
BLAS threads distort every share), ``--json FILE`` (all numbers, per workload and mode).
The machine is shared: absolute times are noisy, every table carries the /proc/stat busy note;
compare shares and same-run ratios.
"""
from __future__ import annotations

import argparse
import cProfile
import inspect
import json
import os
import pstats
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(1, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _threads_arg(argv):
    """``--threads N`` from the command line (None): read before NumPy loads its BLAS."""
    for i, a in enumerate(argv):
        if a == "--threads" and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith("--threads="):
            return a.split("=", 1)[1]
    return None


if __name__ == "__main__" and _threads_arg(sys.argv[1:]):
    for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
               "CADENZA_GEMM_THREADS"):
        os.environ[_v] = _threads_arg(sys.argv[1:])
import numpy as np  # noqa: E402

import w3_mlp_train  # noqa: E402
import w4_cnn_train  # noqa: E402
from _gpt_common import (W1, W1_BATCH, copy_weights, gpt_train_step, torch_gpt,  # noqa: E402
                         train_flops_per_token, w1_data, w1_model)
from common import BusyCheck, busy_note, cpu_model, matmul_gflops, train_step  # noqa: E402

CATEGORIES = ("GEMM (BLAS)", "C kernels", "NumPy compute", "memory (copy/alloc)", "optimizer",
              "Python overhead")
GEMM, CK, NPC, MEM, OPT, PY = CATEGORIES
TORCH_LABEL = {CK: "ATen compute", NPC: "-"}        # what PyTorch's figure in that row is
ALL = ("w1", "w2", "w3", "w4", "w5")
COMPILED = ("w1", "w2", "w3", "w4")
W2_PROMPT, W2_NEW = 16, 256
W5_OPS = 1000


# ------------------------------------------------------------------------- the workloads
class Workload:
    """One workload in one library: ``step()`` runs one unit (a training step, one generated
    token, the W5 chain); ``reset()`` (untimed, between passes) brings state back (W2's
    cache); ``opt`` the optimizer (None); ``flops`` per step; ``per`` divides a step into the
    figure WORKLOADS.md reports (W5: 2000 ops); ``opt_lines``: (file, line) of the step's
    optimizer calls (compiled graphs name the source line of each node)."""

    def __init__(self, step, flops=0.0, opt=None, reset=None, opt_fn=None, per=1, unit="step"):
        self.step, self.flops, self.opt, self.per, self.unit = step, flops, opt, per, unit
        self.reset = reset or (lambda: None)
        self.opt_lines = _optimizer_lines(opt_fn) if opt_fn is not None else set()


def _optimizer_lines(fn) -> set:
    """{(basename, line)} of the lines in ``fn``'s source that call ``.step(`` or
    ``.zero_grad(`` (the optimizer's part of a training step)."""
    try:
        lines, first = inspect.getsourcelines(fn)
    except (OSError, TypeError):
        return set()
    base = os.path.basename(inspect.getsourcefile(fn) or "")
    return {(base, first + i) for i, s in enumerate(lines)
            if ".step(" in s or ".zero_grad(" in s}


def _train(lib, model, opt, x, y, flops, make=None, compiled=False):
    make = make or (lambda: train_step(lib, model, opt))
    fn = make()
    opt_fn = fn
    if compiled:
        import cadenza
        fn = cadenza.compile(fn)
    return Workload(lambda: fn(x, y), flops, opt, opt_fn=opt_fn), fn


def build(key, lib, compiled=False):
    """(Workload, the compiled function or None) of ``key`` in ``lib``."""
    if key == "w1":
        from cadenza.models.gpt import GPTConfig
        cfg = GPTConfig(**W1)
        model, opt = w1_model(lib, cfg)
        x, y = (lib.from_numpy(a) for a in w1_data(cfg))
        flops = train_flops_per_token(cfg) * W1_BATCH * cfg.block_size
        w, fn = _train(lib, model, opt, x, y, flops, lambda: gpt_train_step(model, opt),
                       compiled)
        return w, fn if compiled else None
    if key in ("w3", "w4"):
        mod = w3_mlp_train if key == "w3" else w4_cnn_train
        model, opt, xs, ys = mod.build(lib)
        w, fn = _train(lib, model, opt, xs[0], ys[0], mod.FLOPS_PER_SAMPLE * mod.B,
                       compiled=compiled)
        return w, fn if compiled else None
    if key == "w2":
        return _w2(lib, compiled)
    if key == "w5":
        def chain():
            x = x0 = lib.ones(16, requires_grad=True)
            for _ in range(W5_OPS):
                x = x * 1.0001 + 0.0001
            x.sum().backward()
            return x0
        return Workload(chain, per=2 * W5_OPS, unit="chain"), None
    raise ValueError(key)


def _w2_flops(cfg) -> float:
    """FLOPs of one decode step at the mean position: 2 per weight of every product, plus
    QK^T and AV over the cache."""
    n = cfg.n_layer * 12 * cfg.n_embd ** 2 + cfg.n_embd * cfg.vocab_size
    mean_pos = W2_PROMPT + W2_NEW / 2
    return 2 * n + cfg.n_layer * 4 * mean_pos * cfg.n_embd


def _w2(lib, compiled):
    """W2's decode step, one token per call (greedy, as bench/compiled.py decodes); the cache
    wraps back to the prompt after W2_NEW tokens (reset between passes)."""
    import cadenza
    from cadenza.models.gpt import GPT, GPTConfig, KVCache
    cfg = GPTConfig(**dict(W1, block_size=512))
    prompt = np.random.default_rng(0).integers(0, 256, (1, W2_PROMPT))
    st: dict = {}
    cadenza.manual_seed(0)
    cm = GPT(cfg).eval()
    if lib is not cadenza:
        import torch
        tm = torch_gpt(cfg).eval()
        copy_weights(cm, tm)

        def reset():
            with torch.no_grad():
                st["caches"] = [{} for _ in range(cfg.n_layer)]
                st["logits"], _ = tm(torch.from_numpy(prompt), caches=st["caches"])
                st["pos"] = W2_PROMPT

        def step():
            if st["pos"] >= W2_PROMPT + W2_NEW:
                reset()
            with torch.no_grad():
                nxt = st["logits"][:, -1].argmax(-1, keepdim=True)
                int(nxt)
                st["logits"], _ = tm(nxt, caches=st["caches"], start=st["pos"])
                st["pos"] += 1
        reset()
        return Workload(step, _w2_flops(cfg), reset=reset, unit="token"), None
    if not compiled:
        cache = KVCache(cfg, 1)

        def reset():
            cache.pos = 0
            with cadenza.no_grad():
                st["logits"], _ = cm(cadenza.from_numpy(prompt), cache=cache)

        def step():
            if cache.pos >= W2_PROMPT + W2_NEW:
                reset()
            with cadenza.no_grad():
                nxt = st["logits"][:, -1, :].argmax(dim=-1, keepdim=True)
                int(nxt.item())
                st["logits"], _ = cm(nxt, cache=cache)
        reset()
        return Workload(step, _w2_flops(cfg), reset=reset, unit="token"), None
    fn = cadenza.compile(cm.forward_step)

    def reset():
        with cadenza.no_grad():
            pk, pv = cm.empty_cache(1, W2_PROMPT + W2_NEW)
            st["logits"], st["pk"], st["pv"] = fn(cadenza.from_numpy(prompt), pk, pv,
                                                  cadenza.tensor(0))
            st["pos"] = W2_PROMPT

    def step():
        if st["pos"] >= W2_PROMPT + W2_NEW:
            reset()
        with cadenza.no_grad():
            nxt = st["logits"][:, -1, :].argmax(dim=-1, keepdim=True)
            int(nxt.item())
            st["logits"], st["pk"], st["pv"] = fn(nxt, st["pk"], st["pv"],
                                                  cadenza.tensor(st["pos"]))
            st["pos"] += 1
    reset()
    return Workload(step, _w2_flops(cfg), reset=reset, unit="token"), fn


# ------------------------------------------------------------------ timing the native parts
class Timers:
    """Exclusive seconds per category of the native entry points, while ``active``: each timed
    call's time minus that of timed calls nested in it goes to its category; inside an
    ``absorb`` region (the optimizer) nothing nested is split off."""

    def __init__(self):
        self.active = False
        self.absorb = 0
        self.totals = dict.fromkeys(CATEGORIES, 0.0)
        self.gemm_flops = 0.0        # FLOPs of the products timed (their GFLOP/s)
        self.stack: list = []        # [child seconds] of the open timed calls
        self.undo: list = []
        self.calls = 0               # timed calls (their own cost is taken off the wall)
        self._cost = self._node_cost = None

    def wrap(self, category, fn, flops=None):
        timers = self
        clock = time.perf_counter

        def timed(*args, **kwargs):
            if not timers.active or timers.absorb:
                return fn(*args, **kwargs)
            timers.calls += 1
            stack = timers.stack
            stack.append(0.0)
            t = clock()
            try:
                return fn(*args, **kwargs)
            finally:
                dt = clock() - t
                child = stack.pop()
                cat = category(args) if callable(category) else category
                timers.totals[cat] += dt - child
                if stack:
                    stack[-1] += dt
                if flops is not None:
                    timers.gemm_flops += flops(args)
        timed.__wrapped__ = fn
        return timed

    def absorbing(self, fn):
        """``fn`` timed whole as the optimizer."""
        timers = self

        def timed(*args, **kwargs):
            if not timers.active or timers.absorb:
                return fn(*args, **kwargs)
            timers.absorb += 1
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                dt = time.perf_counter() - t
                timers.absorb -= 1
                timers.totals[OPT] += dt
                if timers.stack:
                    timers.stack[-1] += dt
        return timed

    def patch(self, obj, name, new):
        self.undo.append((obj, name, obj.__dict__.get(name, _MISSING)
                          if isinstance(obj, type) else getattr(obj, name)))
        setattr(obj, name, new)

    def install(self):
        """Wrap NumPy's products and copies, every registered op's forward, the C kernels of
        backend/ckernels.py and blas.Gemm (inactive until ``active``)."""
        from cadenza.backend import ckernels
        from cadenza.codegen import blas
        from cadenza.ops._registry import REGISTRY, _plan_of
        for name in ("matmul", "dot", "einsum", "tensordot"):
            self.patch(np, name, self.wrap(GEMM, getattr(np, name),
                                           _product_flops if name in ("matmul", "dot")
                                           else None))
        for name in ("copyto", "ascontiguousarray", "concatenate"):
            self.patch(np, name, self.wrap(MEM, getattr(np, name)))
        kernel = ckernels.kernel

        def timed_kernel(name, *arrays):
            fn = kernel(name, *arrays)
            return None if fn is None else self.wrap(CK, fn)
        self.patch(ckernels, "kernel", timed_kernel)
        call = blas.Gemm.__call__
        self.patch(blas.Gemm, "__call__",
                   self.wrap(GEMM, call, lambda a: _product_flops(a[1:3])))
        for op in set(REGISTRY.values()):
            fwd = op.forward
            self.patch(op, "forward", staticmethod(self.wrap(_op_category(op), fwd)))
            _plan_of(op)

    def uninstall(self):
        from cadenza.ops._registry import REGISTRY, _plan_of
        for obj, name, old in reversed(self.undo):
            if old is _MISSING:
                delattr(obj, name)
            else:
                setattr(obj, name, old)
        self.undo.clear()
        for op in set(REGISTRY.values()):
            _plan_of(op)

    def snapshot(self) -> dict:
        return dict(self.totals)

    def cost(self) -> float:
        """Seconds a timed call adds to its caller's wall time (measured once)."""
        if self._cost is None:
            self._cost = self._calibrate(lambda f: self.wrap(NPC, f))
        return self._cost

    def node_cost(self) -> float:
        """Seconds the node profile and the timer deltas add per node execution (about two
        timed wrappers and the delta bookkeeping)."""
        if self._node_cost is None:
            d = dict.fromkeys(CATEGORIES, 0.0)
            self._node_cost = self.cost() + self._calibrate(
                lambda f: _tracked(self, d, lambda env: f()), arg=True)
        return self._node_cost

    def _calibrate(self, make, arg=False, n=20000) -> float:
        saved = (dict(self.totals), self.calls, self.active, self.absorb)
        self.active, self.absorb = True, 0

        def noop():
            return None
        wrapped = make(noop)
        env = [None]
        best = []
        for _ in range(3):
            t = time.perf_counter()
            for _ in range(n):
                wrapped(env) if arg else wrapped()
            t1 = time.perf_counter()
            for _ in range(n):
                noop()
            best.append(((t1 - t) - (time.perf_counter() - t1)) / n)
        self.totals.clear()
        self.totals.update(saved[0])
        self.calls, self.active, self.absorb = saved[1], saved[2], saved[3]
        return max(0.0, min(best))


_MISSING = object()
_MEMORY_OPS = {"cast", "clone", "contiguous", "to_device", "matmul", "linear", "int8_linear"}


def _op_category(op):
    """An op forward's own time (nested timed calls excluded): memory for shape/index/creation
    ops, casts and the GEMM ops' layout work, NumPy compute for the rest."""
    if op.kind in ("shape", "index", "creation") or op.name in _MEMORY_OPS:
        return MEM
    return NPC


def _product_flops(args) -> float:
    """2*M*N*K of a matmul/dot of two arrays (batch dims included); 0 when not arrays."""
    if len(args) < 2:
        return 0.0
    a, b = args[0], args[1]
    sa, sb = getattr(a, "shape", None), getattr(b, "shape", None)
    if not sa or not sb:
        return 0.0
    k = sa[-1]
    out = np.broadcast_shapes(sa[:-2], sb[:-2]) if len(sa) > 2 or len(sb) > 2 else ()
    m = sa[-2] if len(sa) > 1 else 1
    n = sb[-1] if len(sb) > 1 else 1
    return 2.0 * float(np.prod(out)) * m * n * k


# ------------------------------------------------------------------------ measurements
def _per_step(fn, n):
    """Seconds per call of ``fn`` over ``n`` calls."""
    t = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t) / n


def _py_bucket(filename: str, func: str):
    """cProfile's Python time by where it is spent (None: not overhead: the op modules'
    functions (forwards and their helpers, whose own time includes the NumPy calls cProfile
    does not see; ops/_registry.py's dispatch stays) and the optimizer are counted
    elsewhere)."""
    f = filename.replace(os.sep, "/")
    if "/cadenza/" not in f:
        if f == "~" or not f.endswith(".py"):
            return "builtins (isinstance, dict and list methods...)"
        return "NumPy's Python wrappers" if "/numpy/" in f else "caller code (bench, stdlib)"
    rel = f.split("/cadenza/", 1)[1]
    if rel.startswith("optim/"):
        return None
    if (rel.startswith("ops/") and rel != "ops/_registry.py") or rel.startswith("backend/"):
        return None     # op forwards and their helpers: NumPy's time hides inside them
    if rel.startswith("autograd/"):
        return "autograd engine"
    if rel.startswith("nn/"):
        return "module calls (nn)"
    if rel.startswith("models/"):
        return "model code"
    if rel.startswith(("compiler/", "graph/", "codegen/")):
        return "compiled call"
    return "dispatch & arguments (ops, functional, tensor)"


def _cprofile_shares(w: Workload, n: int) -> dict:
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(n):
        w.step()
    prof.disable()
    shares: dict = {}
    for (fname, _, func), (_, _, tt, _, _) in pstats.Stats(prof).stats.items():
        b = _py_bucket(fname, func)
        if b is not None:
            shares[b] = shares.get(b, 0.0) + tt
    tot = sum(shares.values()) or 1.0
    return {k: v / tot for k, v in sorted(shares.items(), key=lambda kv: -kv[1])}


def _top_ops(events, n=10):
    """[(name, calls, self ms per step)] of a key_averages list, slowest first."""
    rows = [(e.key, e.count, e.self_cpu_time_total) for e in events]
    return sorted(rows, key=lambda r: -r[2])[:n]


def profile_cadenza(key, compiled, steps, warm, passes=2):
    """{wall, cats, overhead_split, top, ...} of Cadenza on ``key``. Eager: the timers are
    installed for the timed pass only; compiled: before the compile (the executor keeps the
    op forwards it finds then), inactive outside the timed pass."""
    timers = Timers()
    if compiled:
        timers.install()
    try:
        return _profile_cadenza(key, compiled, steps, warm, timers, passes)
    finally:
        timers.uninstall()


def _profile_cadenza(key, compiled, steps, warm, timers, passes):
    import cadenza
    cadenza.compiler.reset_stats()
    w, fn = build(key, cadenza, compiled)
    for _ in range(warm):
        w.step()
    w.reset()
    with BusyCheck() as busy:
        wall = min(_per_step(w.step, steps) for _ in range(2))
    res = {"wall": wall, "flops": w.flops, "per": w.per, "unit": w.unit}
    if not compiled:
        timers.install()
    try:
        best = None
        for _ in range(passes):       # the least disturbed pass (a shared machine stalls us)
            w.reset()
            r = _timed_pass(w, fn, steps, timers)
            if best is None or r["wall"] < best["wall"]:
                best = r
    finally:
        if not compiled:
            timers.uninstall()
    cats = best["cats"]
    spent = best["wall"] - best["instrumentation"]   # the pass's wall less the timers' cost
    if compiled:
        # timed native calls outside the graph (write-back copies) are not guard/binding time
        inside = sum(sum(d.values()) for _, _, d, _, _ in best["nodes"]["rows"])
        timed_outside = max(0.0, sum(cats.values()) - inside)
        _fold_nodes(cats, best["nodes"], w)
        res["top"] = best["nodes"]["top"]
    else:
        w.reset()
        res["overhead_split"] = _cprofile_shares(w, max(1, steps // 2))
        w.reset()
        with cadenza.profiler.profile() as prof:
            for _ in range(steps):
                w.step()
        res["top"] = [(k, c / steps, t / steps / 1e3) for k, c, t in
                      _top_ops(prof.key_averages(), 40)][:10]
    _close(res, cats, spent)
    if compiled:
        outside = max(0.0, best["wall"] - best["graph"] - timed_outside)
        executor = max(0.0, spent - outside - sum(v for c, v in cats.items() if c != PY))
        tot = (outside + executor) or 1.0
        res["overhead_split"] = {"executor per-node Python (graph call less its nodes' work)":
                                 executor / tot,
                                 "outside the graph (guards, binding, write-backs)":
                                 outside / tot}
        s = cadenza.compiler.stats()
        res["compile_note"] = (f"compiles {s['compiles']} (recompiles {s['recompiles']}), "
                               f"eager fallbacks {s['eager_fallbacks']}")
    res["gemm_gflops"] = (best["gemm_flops"] / best["cats"][GEMM] / 1e9
                          if best["cats"][GEMM] > 0 and best["gemm_flops"] else None)
    res["instrumented_wall"] = best["wall"]
    res["other_cores"] = busy.other_cores
    return res


def _close(res, cats, spent):
    """res["cats"]: ``cats`` (seconds per step of one instrumented pass; Python overhead is
    what the pass spent beyond them) as shares of that pass, scaled to the plain wall time."""
    cats[PY] = 0.0
    measured = sum(cats.values())
    cats[PY] = max(0.0, spent - measured)
    total = max(spent, measured) or 1e-12
    res["shares"] = {c: v / total for c, v in cats.items()}
    res["cats"] = {c: sh * res["wall"] for c, sh in res["shares"].items()}
    res["total"] = res["wall"]


def _timed_pass(w, fn, steps, timers):
    """One pass of ``steps`` steps with the timers on: per step its wall time, each category's
    time, the timers' own estimated cost, GEMM FLOPs; compiled (``fn``): the graph's node
    profile and time inside the graph call."""
    opt_patched = []
    if w.opt is not None and fn is None:
        for name in ("step", "zero_grad"):
            setattr(w.opt, name, timers.absorbing(getattr(w.opt, name)))
            opt_patched.append(name)
    before, calls0, flops0 = timers.snapshot(), timers.calls, timers.gemm_flops
    out = {"nodes": None, "graph": 0.0}
    t = time.perf_counter()
    timers.active = True
    try:
        if fn is not None:
            out["nodes"] = _compiled_nodes(fn, w, steps, timers)
            t = out["nodes"]["t0"]
        else:
            for _ in range(steps):
                w.step()
    finally:
        timers.active = False
        dt = time.perf_counter() - t
        for name in opt_patched:
            delattr(w.opt, name)
    out["wall"] = dt / steps
    out["cats"] = {c: (timers.totals[c] - before[c]) / steps for c in CATEGORIES}
    out["gemm_flops"] = (timers.gemm_flops - flops0) / steps
    cost = (timers.calls - calls0) * timers.cost()
    if out["nodes"] is not None:
        cost += out["nodes"]["execs"] * timers.node_cost()
        out["graph"] = out["nodes"]["graph"] / steps
    out["instrumentation"] = cost / steps
    return out


class _TimedRunner:
    """A compiled graph's runner that also sums the seconds spent inside its calls."""

    def __init__(self, inner):
        self.inner, self.seconds = inner, 0.0

    def __call__(self, arrays):
        t = time.perf_counter()
        try:
            return self.inner(arrays)
        finally:
            self.seconds += time.perf_counter() - t

    def __getattr__(self, name):
        return getattr(self.inner, name)


def _compiled_nodes(fn, w, steps, timers):
    """Run ``steps`` calls with the graph's node profile (``run_graph.timed()``, what
    ``CompiledFunction.profile()`` uses) and each node's timer deltas: per node (seconds,
    node, deltas, is a C kernel, source lines), the top nodes, seconds inside the graph."""
    from cadenza.graph.ir import Fused
    timers.active = False
    w.step()                  # the step's own specialisation is now the most recent
    timers.active = True
    spec = fn.cache[-1] if fn.cache else None
    if spec is None or spec.run_graph is None:
        raise RuntimeError(f"{fn.name} has no compiled graph (it runs eagerly)")
    runner = spec.run_graph
    proxy = spec.run_graph = _TimedRunner(runner)
    with runner.timed() as prof:
        plain = runner.steps
        deltas = [dict.fromkeys(CATEGORIES, 0.0) for _ in plain]
        runner.steps = [(_tracked(timers, deltas[j], st), dead)
                        for j, (st, dead) in enumerate(plain)]
        t0 = time.perf_counter()
        try:
            for _ in range(steps):
                w.step()
        finally:
            runner.steps = plain
            spec.run_graph = runner
    kernels = getattr(runner, "names", {})
    out = {"rows": [], "t0": t0, "graph": proxy.seconds, "steps": steps,
           "execs": len(plain) * prof.calls}
    groups: dict = {}
    for (sec, node), d in zip(zip(prof.seconds, prof.nodes), deltas):
        fused = isinstance(node.op, Fused)
        if fused:
            srcs = [m.src for m in node.op.members]
        elif hasattr(node, "segment"):     # a C program standing for several graph nodes
            srcs = [getattr(n, "src", None) for n in node.segment.nodes]
        else:
            srcs = [node.src]
        out["rows"].append((sec / steps, node, {c: v / steps for c, v in d.items()},
                            fused or id(node) in kernels, srcs))
        name = ("fused[" + ",".join(m.op_name for m in node.op.members)[:48] + "]" if fused
                else node.op_name)
        g = groups.setdefault(f"{name} {node.out.type}", [0, 0.0])
        g[0] += 1
        g[1] += sec
    calls = max(prof.calls, 1)
    out["top"] = sorted(((k, n * calls / steps, t / steps * 1e3) for k, (n, t) in
                         groups.items()), key=lambda r: -r[2])[:10]
    return out


def _tracked(timers, d, st):
    """A node step that adds the timers' growth during it to ``d``."""
    totals = timers.totals

    def run(env):
        before = dict(totals)
        st(env)
        for c, v in totals.items():
            d[c] += v - before[c]
    return run


def _fold_nodes(cats, nodes, w):
    """Compiled: C kernel nodes count whole as C kernels, the optimizer's nodes (traced from
    its source lines) whole as optimizer; other nodes keep what the timers gave them (the rest
    of their time is executor Python)."""
    for sec, node, d, is_kernel, srcs in nodes["rows"]:
        in_opt = any(_src_key(s) in w.opt_lines for s in srcs)
        if in_opt or is_kernel:
            for c, v in d.items():      # move what the timers gave this node
                cats[c] -= v
            cats[OPT if in_opt else CK] += sec


def _src_key(src: str):
    base, _, line = (src or "").rpartition(":")
    try:
        return (os.path.basename(base), int(line))
    except ValueError:
        return None


# ------------------------------------------------------------------------------ PyTorch
_T_GEMM = ("aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm", "aten::addbmm", "aten::dot",
           "aten::mv", "aten::addmv", "aten::_scaled_dot_product_flash_attention_for_cpu",
           "aten::_scaled_dot_product_flash_attention_for_cpu_backward",
           "aten::mkldnn_convolution", "aten::convolution_backward", "aten::_convolution",
           "aten::_mkldnn_convolution", "aten::thnn_conv2d", "aten::_slow_conv2d_forward",
           "aten::_slow_conv2d_backward")
_T_MEM = ("aten::copy_", "aten::empty", "aten::empty_strided", "aten::empty_like", "aten::zeros",
          "aten::zeros_like", "aten::zero_", "aten::fill_", "aten::clone", "aten::contiguous",
          "aten::cat", "aten::stack", "aten::_to_copy", "aten::to", "aten::resize_",
          "aten::new_empty", "aten::new_zeros", "aten::new_empty_strided", "aten::index",
          "aten::index_select", "aten::reshape", "aten::_unsafe_view", "aten::view",
          "aten::as_strided", "aten::transpose", "aten::t", "aten::expand", "aten::permute",
          "aten::slice", "aten::select", "aten::split", "aten::unsqueeze", "aten::squeeze",
          "aten::detach", "aten::detach_", "aten::alias", "aten::ones_like", "aten::ones")


def profile_torch(key, steps, warm):
    import torch
    threads = torch.get_num_threads()
    if key == "w5":
        torch.set_num_threads(1)         # as bench/w5_op_overhead.py
    try:
        w, _ = build(key, torch)
        for _ in range(warm):
            w.step()
        w.reset()
        with BusyCheck() as busy:
            wall = min(_per_step(w.step, steps) for _ in range(2))
        w.reset()
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
            t = time.perf_counter()
            for _ in range(steps):
                w.step()
            spent = (time.perf_counter() - t) / steps
        cats = dict.fromkeys(CATEGORIES, 0.0)
        for e in prof.events():
            name = e.name
            anc, in_opt = e.cpu_parent, name.startswith("Optimizer.")
            while anc is not None and not in_opt:
                in_opt = anc.name.startswith("Optimizer.")
                anc = anc.cpu_parent
            self_s = e.self_cpu_time_total / 1e6 / steps
            if in_opt:
                cats[OPT] += self_s
            elif not name.startswith("aten::"):
                continue             # autograd ranges, Python ranges: overhead
            elif name in _T_GEMM:
                cats[GEMM] += self_s
            elif name in _T_MEM:
                cats[MEM] += self_s
            else:
                cats[CK] += self_s
        top = [(k, c / steps, t / steps / 1e3) for k, c, t in
               _top_ops(prof.key_averages(), 10)]
        res = {"wall": wall, "top": top, "other_cores": busy.other_cores, "per": w.per,
               "flops": w.flops, "instrumented_wall": spent}
        _close(res, cats, spent)
        return res
    finally:
        torch.set_num_threads(threads)


# ------------------------------------------------------------------------------- output
def table(title, ours, theirs, peak) -> str:
    per, unit = ours["per"], ours["unit"]
    scale = 1e3 if per == 1 else 1e6 / per
    u = "ms" if per == 1 else "us/op"
    lines = [title]
    head = f"  {'category':34s} {'cadenza ' + u:>14s} {'%':>6s}"
    if theirs:
        head += f"   {'pytorch ' + u:>14s} {'%':>6s} {'gap ' + u:>11s}"
    lines.append(head)
    for c in CATEGORIES:
        v, pct = ours["cats"][c] * scale, 100 * ours["cats"][c] / ours["total"]
        row = f"  {c:34s} {v:14.3f} {pct:6.1f}"
        if theirs:
            tv = theirs["cats"][c] * scale
            tp = 100 * theirs["cats"][c] / theirs["total"]
            lab = TORCH_LABEL.get(c)
            if lab == "-":
                row += f"   {'-':>14s} {'-':>6s} {v - tv:+11.3f}"
            else:
                row += f"   {tv:14.3f} {tp:6.1f} {v - tv:+11.3f}" + (f"  ({lab})" if lab else "")
        lines.append(row)
        if c == PY:
            for k, s in ours.get("overhead_split", {}).items():
                lines.append(f"    {k:44s} {v * s:10.3f} ({100 * s:.0f}% of overhead)")
    tot = ours["total"] * scale
    row = f"  {'total':34s} {tot:14.3f} {100.0:6.1f}"
    if theirs:
        tt = theirs["total"] * scale
        row += f"   {tt:14.3f} {100.0:6.1f} {tot - tt:+11.3f}"
    lines.append(row)
    if ours["flops"] and peak:
        limit = ours["flops"] / (peak * 1e9)
        s = (f"  FLOP-bound: {ours['flops'] / 1e9:.3f} GFLOP per {unit}; GEMM peak {peak:.1f} "
             f"GFLOP/s measured now -> limit {limit * 1e3:.3f} ms/{unit}; cadenza reaches "
             f"{limit / ours['wall']:.2f} of peak")
        if theirs:
            s += f", pytorch {limit / theirs['wall']:.2f}"
        if ours.get("gemm_gflops"):
            s += (f"; cadenza's GEMM calls run at {ours['gemm_gflops']:.1f} GFLOP/s "
                  f"({ours['gemm_gflops'] / peak:.2f} of peak)")
        lines.append(s)
    lines.append(_top_side_by_side(ours, theirs))
    return "\n".join(lines)


def _top_side_by_side(ours, theirs) -> str:
    def fmt(rows):
        return [f"{k[:40]:40s} {c:6.0f} {t:8.3f}" for k, c, t in rows]
    a = fmt(ours["top"])
    b = fmt(theirs["top"]) if theirs else []
    w = 57
    lines = [f"  {'top ops/kernels, cadenza (calls, ms per ' + ours['unit'] + ')':{w}s}"
             + (f"| top ops, pytorch (calls, self ms per {ours['unit']})" if theirs else "")]
    for i in range(max(len(a), len(b))):
        left = a[i] if i < len(a) else ""
        right = b[i] if i < len(b) else ""
        lines.append(f"  {left:{w}s}" + (f"| {right}" if theirs else ""))
    return "\n".join(lines)


NAMES = {"w1": "W1 gpt-train", "w2": "W2 gpt-generate (per token)", "w3": "W3 mlp-train",
         "w4": "W4 cnn-train", "w5": "W5 op-overhead (per op)"}
STEPS = {"w1": (5, 3), "w2": (64, 8), "w3": (20, 5), "w4": (8, 3), "w5": (5, 2)}
QUICK = {"w1": (2, 3), "w2": (8, 3), "w3": (3, 3), "w4": (2, 3), "w5": (2, 1)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", default=",".join(ALL), help=f"comma list of {','.join(ALL)}")
    ap.add_argument("--quick", action="store_true", help="few steps: checks that it runs")
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--eager", action="store_true", help="eager mode only")
    mode.add_argument("--compiled", action="store_true", help="compiled mode only")
    ap.add_argument("--no-torch", dest="torch", action="store_false",
                    help="without PyTorch's column")
    ap.add_argument("--steps", type=int, help="steps (W2: tokens) per timed pass")
    ap.add_argument("--passes", type=int, help="instrumented passes, the least disturbed "
                    "one is kept (default 2, --quick 1)")
    ap.add_argument("--json", help="write all numbers to this file")
    ap.add_argument("--threads", type=int, help="BLAS/OpenMP threads of both libraries (set "
                    "before NumPy loads; 1 keeps a loaded machine's figures stable)")
    args = ap.parse_args(argv)
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    bad = [s for s in only if s not in ALL]
    if bad:
        ap.error(f"--only: expected names from {ALL}, got {bad}")
    modes = ["eager"] if args.eager else ["compiled"] if args.compiled else ["eager", "compiled"]
    import cadenza
    print(f"CPU: {cpu_model()}, {os.cpu_count()} cores; cadenza {cadenza.__version__}"
          + (", --quick" if args.quick else ""))
    if args.torch:
        import torch
        if args.threads:
            torch.set_num_threads(args.threads)
        print(f"pytorch {torch.__version__}, {torch.get_num_threads()} threads")
    sys.stdout.flush()
    out: dict = {"cpu": cpu_model(), "cores": os.cpu_count(), "results": {}}
    for key in only:
        steps, warm = (QUICK if args.quick else STEPS)[key]
        steps = args.steps or steps
        theirs = None
        if args.torch:
            try:
                theirs = profile_torch(key, steps, warm)
            except Exception as e:  # noqa: BLE001 - the table goes on without it
                print(f"{key}: pytorch profile failed: {type(e).__name__}: {e}")
        for m in modes:
            if m == "compiled" and key not in COMPILED:
                continue
            peak = matmul_gflops(512 if args.quick else 1024, 3 if args.quick else 5)
            try:
                ours = profile_cadenza(key, m == "compiled", steps, warm,
                                       args.passes or (1 if args.quick else 2))
            except Exception as e:  # noqa: BLE001 - one failing workload, others go on
                print(f"== {NAMES[key]}, {m}: n/a ({type(e).__name__}: {e})")
                continue
            busy = max((r["other_cores"] for r in (ours, theirs)
                        if r and r.get("other_cores") is not None), default=None)
            per, unit = ours["per"], ours["unit"]
            ratio = (f"; pytorch eager {theirs['wall'] / per * (1e3 if per == 1 else 1e6):.3f}"
                     f", ratio cadenza/pytorch time {ours['wall'] / theirs['wall']:.2f}x"
                     if theirs else "")
            u = "ms" if per == 1 else "us/op"
            title = (f"== {NAMES[key]}, {m}: cadenza "
                     f"{ours['wall'] / per * (1e3 if per == 1 else 1e6):.3f} {u} per "
                     f"{unit if per == 1 else 'op'}{ratio} ({steps} {unit}s) {busy_note(busy)}")
            print(table(title, ours, theirs, peak))
            print()
            sys.stdout.flush()
            out["results"][f"{key}-{m}"] = {
                "cadenza": _jsonable(ours), "pytorch": _jsonable(theirs), "peak_gflops": peak,
                "steps": steps, "other_cores": busy}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    return out


def _jsonable(r):
    if r is None:
        return None
    keep = ("wall", "total", "cats", "overhead_split", "flops", "per", "unit", "gemm_gflops",
            "other_cores")
    d = {k: r[k] for k in keep if k in r}
    d["top"] = [list(t) for t in r.get("top", [])]
    d["shares"] = {c: v / r["total"] for c, v in r["cats"].items()}
    return d


if __name__ == "__main__":
    main()
