"""Compiled mode on W1-W4 (../shared/WORKLOADS.md), issue 4: Cadenza eager, Cadenza compiled,
PyTorch eager and torch.compile side by side in one run, plus W1's compile time, cold and from
the on-disk kernel cache.

    python bench/compiled.py                     # backend "c" (cadenza.compile(backend="c"))
    python bench/compiled.py --backend numpy     # the NumPy graph interpreter
    python bench/compiled.py --quick             # few steps/tokens: checks that it all runs
    python bench/compiled.py --only w1,compile-time --no-torch-compile

What is compiled:
- W1, W3, W4: Cadenza compiles the whole training step (zero_grad, forward, loss, backward,
  optimizer step) with ``cadenza.compile(step)``; PyTorch compiles the model with
  ``torch.compile(model)`` (what torch users do: dynamo graph-breaks at ``loss.backward()`` and
  the optimizer step stays eager).
- W2: Cadenza compiles the whole greedy step: ``model.forward_step(..., inplace=True)`` with
  its KV cache as explicit tensors written in place, the argmax, and the position (a 0-d
  tensor) advanced in place, attending over the first multiple of 64 cache slots that holds
  the tokens so far (one graph for the prompt, one per window for new tokens); PyTorch
  compiles the model (``torch.compile(model)``) and writes its cache in place.

Each workload prints one line with the four throughputs, the ratios compiled/pytorch-eager and
compiled/cadenza-eager (with the issue's targets), torch.compile/pytorch-eager, and the
/proc/stat busy note (the most other processes held during any of the four timings), then a
check line: the compiled run's losses (W2: greedy tokens) against the eager run's from the same
seed (a mismatch prints "!!! MISMATCH"), compile/recompile counts and first-call times. A
variant that fails prints "n/a" with a one-line reason.

Compile time: W1's training step is compiled in a fresh subprocess with an empty temporary
CADENZA_CACHE_DIR (cold), then in a second fresh subprocess with the same directory (disk
cache); each prints its first and second call (call 1 creates AdamW's state, so its trace is a
warm-up that is not optimised or built; call 2 traces the steady state and builds it) and the
steady compiled and eager step times for reference.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(1, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import w3_mlp_train  # noqa: E402
import w4_cnn_train  # noqa: E402
from _gpt_common import W1, W1_BATCH, gpt_train_step, w1_data, w1_model  # noqa: E402
from _gpt_common import copy_weights, torch_gpt  # noqa: E402
from common import BusyCheck, busy_note, cpu_model, train_throughput  # noqa: E402

# (timed steps, warm-up steps); the compiled step compiles on call 1 and recompiles once on
# call 2 (.grad None -> set), so warm-up is at least 2
STEPS = {"w1": (20, 5), "w3": (w3_mlp_train.STEPS, w3_mlp_train.WARM),
         "w4": (w4_cnn_train.STEPS, w4_cnn_train.WARM)}
QUICK = {"w1": (3, 2), "w3": (10, 2), "w4": (4, 2)}
W2_NEW, W2_PROMPT, W2_RUNS, W2_QUICK_NEW = 256, 16, 3, 24
RTOL, ATOL = 1e-3, 1e-5  # float32 drift allowed between compiled and eager losses
TARGETS = {"w1": (1.0, 1.3), "w3": (1.0, None), "w4": (None, None), "w2": (None, None)}
ALL = ("w1", "w2", "w3", "w4", "compile-time")


class Variant:
    """One of the four columns: its label, library and how it compiles (None: eager)."""

    def __init__(self, label, lib, compile=None):
        self.label, self.lib, self.compile = label, lib, compile
        self.value = self.reason = None
        self.record: dict = {}   # losses (W2: greedy tokens), first_call, other_cores
        self.notes: list = []

    losses = property(lambda self: self.record.get("losses") or [])


def variants(args):
    import cadenza
    import torch
    out = [Variant("cadenza eager", cadenza),
           Variant(f"cadenza compiled[{args.backend}]", cadenza,
                   ("step", lambda f: cadenza.compile(f, backend=args.backend))),
           Variant("pytorch eager", torch)]
    if args.torch_compile:
        out.append(Variant("torch.compile(model)", torch, ("model", torch.compile)))
    return out


def one_line(e: BaseException) -> str:
    lines = [s for s in str(e).splitlines() if s.strip()]
    return f"{type(e).__name__}: {lines[0] if lines else ''}"[:300]


def attempt(v: Variant, fn) -> None:
    """v.value = fn(v); an exception becomes v.reason; Cadenza's warnings (a backend fallback,
    a function that runs eagerly) and compile counters become v.notes."""
    import cadenza
    cadenza.compiler.reset_stats()
    with warnings.catch_warnings(record=True) as caught, BusyCheck() as busy:
        warnings.simplefilter("always")
        try:
            v.value = fn(v)
        except Exception as e:  # noqa: BLE001 - a failing variant prints n/a, others go on
            v.reason = one_line(e)
    # other processes during the timed window; the whole attempt where there was none
    v.record.setdefault("other_cores", busy.other_cores)
    for w in caught:
        msg = str(w.message).splitlines()[0]
        if "cadenza" in msg and msg not in v.notes:
            v.notes.append(msg)
    if v.lib is cadenza and v.compile is not None:
        s = cadenza.compiler.stats()
        v.notes.append(f"compiles {s['compiles']} (recompiles {s['recompiles']}), cache hits "
                       f"{s['cache_hits']}, eager fallbacks {s['eager_fallbacks']}"
                       + codegen_stats(s))


def codegen_stats(s: dict) -> str:
    """The C backend's counters, where this version of cadenza has them."""
    if "kernels" not in s:
        return ""
    return (f", kernels {s['kernels']}, C builds {s['builds']} ({s['build_seconds']:.2f} s), "
            f"disk cache hits {s['disk_cache_hits']}")


def fmt(v: Variant) -> str:
    return f"{v.value:,.2f}" if v.value is not None else "n/a"


def ratio(a: Variant, b: Variant, lower_is_better=False, target=None) -> str:
    if a.value is None or b.value is None:
        return "n/a"
    r = b.value / a.value if lower_is_better else a.value / b.value
    return f"{r:.2f}x" + (f" (target >= {target}x)" if target else "")


def compare(name, ref: Variant, v: Variant, what="losses") -> str:
    """One phrase: do v's losses (or tokens) match the eager reference from the same seed?"""
    if not v.losses or not ref.losses:
        return f"{v.label}: not checked"
    if what == "tokens":
        if v.losses == ref.losses:
            return f"{v.label}: greedy tokens == eager ({len(v.losses)} tokens)"
        i = next((i for i, (a, b) in enumerate(zip(v.losses, ref.losses)) if a != b),
                 min(len(v.losses), len(ref.losses)))
        return mismatch(f"!!! MISMATCH {name} {v.label}: greedy tokens differ from eager from "
                        f"token {i}")
    import numpy as np
    a, b = np.array(v.losses), np.array(ref.losses)
    if a.shape != b.shape:
        return f"{v.label}: {len(a)} losses vs {len(b)} eager, not compared"
    if np.array_equal(a, b):
        return f"{v.label}: losses == eager bitwise ({len(a)} steps)"
    diff = float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-12)))
    if np.allclose(a, b, rtol=RTOL, atol=ATOL):
        return f"{v.label}: losses == eager within tolerance (max rel diff {diff:.1e})"
    return mismatch(f"!!! MISMATCH {name} {v.label}: losses differ from eager (max rel diff "
                    f"{diff:.1e}, rtol {RTOL}); first steps {a[:3].tolist()} vs {b[:3].tolist()}")


MISMATCHES: list = []


def mismatch(msg: str) -> str:
    MISMATCHES.append(msg)
    return msg


def report(key, title, unit, vs, lower_is_better=False):
    ce, cc, te = vs[0], vs[1], vs[2]
    tc = vs[3] if len(vs) > 3 else None
    t_torch, t_cad = TARGETS[key]
    cols = " | ".join(f"{v.label} {fmt(v)}" for v in vs)
    ratios = (f"compiled/pytorch-eager {ratio(cc, te, lower_is_better, t_torch)}, "
              f"compiled/cadenza-eager {ratio(cc, ce, lower_is_better, t_cad)}")
    if tc is not None:
        ratios += f", torch.compile/pytorch-eager {ratio(tc, te, lower_is_better)}"
    busy = [v.record["other_cores"] for v in vs if v.record.get("other_cores") is not None]
    print(f"{title} ({unit}): {cols} || {ratios} {busy_note(max(busy) if busy else None)}")
    what, name = ("tokens" if key == "w2" else "losses"), key.upper()
    checks = [compare(name, ce, cc, what)] + ([compare(name, te, tc, what)] if tc else [])
    print("  check: " + "; ".join(checks))
    for v in vs:
        extra = []
        if v.record.get("first_call") is not None:
            extra.append(f"first call {v.record['first_call']:.2f} s")
        extra += v.notes
        if v.reason:
            extra.append(f"n/a: {v.reason}")
        if extra:
            print(f"  {v.label}: " + "; ".join(extra))
    sys.stdout.flush()


# --------------------------------------------------------------------------- W1, W3, W4
def train_workload(key, title, run, args):
    """Each variant ``args.rounds`` times, round-robin (a slow phase of a shared machine then
    hits every variant alike), reporting the median throughput."""
    steps, warm = (QUICK if args.quick else STEPS)[key]
    vs = variants(args)
    values: dict = {id(v): [] for v in vs}
    for r in range(args.rounds):
        for v in vs:
            notes = list(v.notes)
            attempt(v, lambda v: run(v.lib, compile=v.compile, record=v.record, steps=steps,
                                     warm=warm))
            if r:
                v.notes = notes           # the first round's compile counts and warnings
            if v.value is not None:
                values[id(v)].append(v.value)
    for v in vs:
        v.value = statistics.median(values[id(v)]) if values[id(v)] else None
    unit = "tokens/s" if key == "w1" else "samples/s"
    rounds = f", median of {args.rounds} rounds" if args.rounds > 1 else ""
    report(key, f"{title}, {steps} steps after {warm} warm-up{rounds}", unit, vs)


def w1_run(lib, compile=None, record=None, steps=20, warm=5):
    """W1 training tokens/s through common.train_throughput (the W1 step, not cross-entropy
    over a classifier's output)."""
    from cadenza.models.gpt import GPTConfig
    cfg = GPTConfig(**W1)
    model, opt = w1_model(lib, cfg)
    x, y = w1_data(cfg)
    return train_throughput(lib, model, opt, [lib.from_numpy(x)], [lib.from_numpy(y)], warm,
                            steps, W1_BATCH * cfg.block_size, compile=compile,
                            record=record, make_step=lambda lib, m, o: gpt_train_step(m, o))


# --------------------------------------------------------------------------------- W2
def w2(args):
    import numpy as np
    import cadenza
    import torch
    from cadenza.models.gpt import GPT, GPTConfig, KVCache
    new = W2_QUICK_NEW if args.quick else W2_NEW
    runs = 1 if args.quick else W2_RUNS
    cfg = GPTConfig(**dict(W1, block_size=512))
    prompt = np.random.default_rng(0).integers(0, 256, (1, W2_PROMPT))

    def cadenza_gen(fwd, n, cache):
        """Greedy decoding as GPT.generate does it, through ``fwd`` (the model or its compiled
        form); one cache object is reused (pos reset) so a compiled fwd sees the same one."""
        cache.pos = 0
        with cadenza.no_grad():
            logits, _ = fwd(cadenza.from_numpy(prompt), cache=cache)       # prefill
            out = []
            for _ in range(n):
                nxt = logits[:, -1, :].argmax(dim=-1, keepdim=True)        # (1, 1)
                out.append(int(nxt.item()))
                logits, _ = fwd(nxt, cache=cache)
        return out

    def greedy_step(model):
        """One whole greedy step, to compile: model.forward_step writing the cache (past_k,
        past_v) in place and attending over its first ``window`` slots, the next token's
        argmax, and the position (a 0-d tensor) advanced in place."""
        def step(tok, pk, pv, pos, window):
            logits, _, _ = model.forward_step(tok, pk, pv, pos, inplace=True, window=window)
            pos.add_(tok.shape[1])
            return logits[:, -1, :].argmax(dim=-1, keepdim=True)            # (1, 1)
        return step

    def explicit_gen(model, step, n):
        """Greedy decoding of n tokens through ``step`` = (compiled) greedy_step(model): the
        cache is tensors of prompt + ``new`` slots (one size: a probe of a few tokens uses the
        same graphs), one graph for the prompt, one per attention window for new tokens."""
        with cadenza.no_grad():
            pk, pv = model.empty_cache(1, W2_PROMPT + new)
            pos = cadenza.tensor(0)
            nxt = step(cadenza.from_numpy(prompt), pk, pv, pos, window(W2_PROMPT))
            out = []
            for i in range(n):
                out.append(int(nxt.item()))
                nxt = step(nxt, pk, pv, pos, window(W2_PROMPT + i + 1))
        return out

    def window(tokens):
        """Attention over the first multiple of 64 slots that holds ``tokens`` (a graph per
        window: at most 5 here), as eager attends over the tokens so far."""
        return min(W2_PROMPT + new, -(-tokens // 64) * 64)

    def torch_gen(fwd, n):
        with torch.no_grad():       # the KV cache of bench/w2_gpt_generate.py
            caches = [{} for _ in range(cfg.n_layer)]
            logits, _ = fwd(torch.from_numpy(prompt), caches=caches)
            out, pos = [], W2_PROMPT
            for _ in range(n):
                nxt = logits[:, -1].argmax(-1, keepdim=True)
                out.append(int(nxt))
                logits, _ = fwd(nxt, caches=caches, start=pos)
                pos += 1
        return out

    def warmed(v, gen):
        """``gen`` after two untimed calls (compiles, recompiles); the first call's time."""
        for i in range(2):
            t = time.perf_counter()
            gen()
            if i == 0:
                v.record["first_call"] = time.perf_counter() - t
        return gen

    def prepare(v):
        """The variant's decoding loop, compiled, checked and warmed up."""
        if v.lib is cadenza:
            cadenza.manual_seed(0)
            model = GPT(cfg).eval()
            cache = KVCache(cfg, 1)
            if v.compile is None:
                return warmed(v, lambda: cadenza_gen(model, new, cache))
            # the decode step with its cache as explicit tensors (GPT.forward_step): one graph
            # for every position; forward(cache=KVCache) changes cache.pos, a Python int,
            # which a compiled call refuses to replay (TraceError)
            step = cadenza.compile(greedy_step(model), backend=args.backend)
            probe = explicit_gen(model, step, 8)
            ref = vs[0].losses[:8]
            s = cadenza.compiler.stats()
            if ref and probe != ref:
                v.record["losses"] = probe
                raise RuntimeError(f"compiled decode gives other greedy tokens than eager "
                                   f"({probe} vs {ref})")
            if s["compiles"] > 2:
                raise RuntimeError(f"recompiles during decoding ({s['compiles']} compiles)")
            return warmed(v, lambda: explicit_gen(model, step, new))
        cadenza.manual_seed(0)
        tm = torch_gpt(cfg).eval()
        copy_weights(GPT(cfg), tm)
        fwd = tm if v.compile is None else torch.compile(tm)
        return warmed(v, lambda: torch_gen(fwd, new))

    vs = variants(args)       # prepare() compiles the model itself, by v.compile is not None
    gens: dict = {}
    for v in vs:
        attempt(v, lambda v: gens.__setitem__(id(v), prepare(v)))
        if id(v) in gens and v is vs[0]:     # eager's tokens: the reference of the others
            v.record["losses"] = gens[id(v)]()
    # timed runs round-robin: a slow phase of the shared machine hits every variant alike
    times: dict = {id(v): [] for v in vs if id(v) in gens}
    with BusyCheck() as busy:
        for _ in range(runs):
            for v in vs:
                if id(v) in gens:
                    t = time.perf_counter()
                    v.record["losses"] = gens[id(v)]()
                    times[id(v)].append((time.perf_counter() - t) * 1e3 / new)
    for v in vs:
        if id(v) in gens:
            v.value = statistics.median(times[id(v)])
            v.record["other_cores"] = busy.other_cores
    runs_note = f"median of {runs}" if runs > 1 else "1 run"
    report("w2", f"W2 gpt-generate, {new} new tokens, {runs_note} round-robin",
           "ms/token, lower is better", vs, lower_is_better=True)


# ----------------------------------------------------------------------- compile time
def compile_time_child(backend: str) -> None:
    """In a fresh process: W1's step eager (2 calls), then compiled (4 calls); JSON out."""
    import cadenza
    from cadenza.models.gpt import GPTConfig
    cfg = GPTConfig(**W1)
    x, y = (cadenza.from_numpy(a) for a in w1_data(cfg))
    res = {}
    for name, wrap in (("eager", None),
                       ("compiled", lambda f: cadenza.compile(f, backend=backend))):
        model, opt = w1_model(cadenza, cfg)
        step = gpt_train_step(model, opt)
        if wrap is not None:
            step = wrap(step)
        times = []
        for _ in range(4 if wrap else 2):
            t = time.perf_counter()
            float(step(x, y).item())
            times.append(time.perf_counter() - t)
        res[name] = times
    res["stats"] = cadenza.compiler.stats()
    print("RESULT " + json.dumps(res))


def compile_time(args):
    cache = tempfile.mkdtemp(prefix="cadenza-bench-cache-")
    env = dict(os.environ, CADENZA_CACHE_DIR=cache)
    cmd = [sys.executable, os.path.abspath(__file__), "--compile-time-child",
           "--backend", args.backend]
    out = {}
    try:
        for phase in ("cold", "disk cache"):
            with BusyCheck(children=True) as busy:
                p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
            line = [s for s in p.stdout.splitlines() if s.startswith("RESULT ")]
            if p.returncode or not line:
                err = (p.stderr.strip().splitlines() or ["no output"])[-1]
                print(f"W1 compile time ({phase}): n/a (child exited {p.returncode}: {err})")
                return
            out[phase] = r = json.loads(line[0][7:])
            files = sum(len(f) for _, _, f in os.walk(cache))
            size = sum(os.path.getsize(os.path.join(d, f))
                       for d, _, fs in os.walk(cache) for f in fs)
            c, e = r["compiled"], r["eager"]
            target = 10.0 if phase == "cold" else 1.0
            # the first call traces, optimises, generates code and runs the step once; the
            # second traces the steady state (call 1 created the optimizer state); minus the
            # steady steps: compile time
            steady = min(c[2:])
            overhead = c[0] + c[1] - 2 * steady
            print(f"W1 compile time, {phase} (backend {args.backend}, fresh process): first call "
                  f"{c[0]:.2f} s, second call {c[1]:.2f} s (traced again: call 1 created the "
                  "optimizer state), steady compiled step "
                  f"{steady:.3f} s => compile ~{overhead:.2f} s (target <= {target:.0f} s); "
                  f"eager step {e[1]:.3f} s (first eager call {e[0]:.2f} s); cache dir "
                  f"{files} files, {size / 1024:.0f} KiB; compiles {r['stats']['compiles']}"
                  f"{codegen_stats(r['stats'])} {busy.note()}")
    finally:
        shutil.rmtree(cache, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--backend", default="c", choices=("c", "numpy"))
    ap.add_argument("--quick", action="store_true", help="few steps and tokens")
    ap.add_argument("--only", default=",".join(ALL), help=f"comma list of {','.join(ALL)}")
    ap.add_argument("--no-torch-compile", dest="torch_compile", action="store_false",
                    help="skip torch.compile (its first compile takes a minute)")
    ap.add_argument("--rounds", type=int, default=3,
                    help="W1/W3/W4: run the variants this many times round-robin, report the "
                         "median (default 3; --quick uses 1)")
    ap.add_argument("--compile-time-child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.quick:
        args.rounds = 1
    if args.compile_time_child:
        compile_time_child(args.backend)
        return
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    bad = [s for s in only if s not in ALL]
    if bad:
        ap.error(f"--only: expected names from {ALL}, got {bad}")
    import torch
    print(f"cadenza.compile backend={args.backend!r}; torch {torch.__version__}, "
          f"{cpu_model()}, {os.cpu_count()} cores{', --quick' if args.quick else ''}")
    sys.stdout.flush()
    if "w1" in only:
        train_workload("w1", "W1 gpt-train", w1_run, args)
    if "w2" in only:
        w2(args)
    if "w3" in only:
        train_workload("w3", "W3 mlp-train", w3_mlp_train.run, args)
    if "w4" in only:
        train_workload("w4", "W4 cnn-train", w4_cnn_train.run, args)
    if "compile-time" in only:
        compile_time(args)
    if MISMATCHES:
        print(f"!!! {len(MISMATCHES)} MISMATCH(ES) between compiled and eager results:")
        for m in MISMATCHES:
            print("  " + m)


if __name__ == "__main__":
    main()
