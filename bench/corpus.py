"""Wall time of the compat program corpus (tests/programs) under PyTorch and under Cadenza.

Each program runs as a subprocess twice per round: ``python prog.py`` (real PyTorch) and
``python -m cadenza.compat prog.py`` (Cadenza), alternating which goes first round by round,
in a fresh temporary directory, with a timeout. The table gives the median seconds of each
and the ratio torch/cadenza (higher is better: > 1 means the program ran faster under
Cadenza), then the median and the minimum ratio over the programs (issue 12's targets:
median >= 1.0x, none below 0.7x). ``--ref`` also runs Cadenza from an earlier commit (a
detached worktree, as bench/before_after.py makes) in the same rounds: a before/after column.
A benchmark, not a test: it asserts nothing.

Import time: each round also times, before each program, per framework, a program that only
imports it (``import torch``, ``torch.nn``, ``torch.nn.functional``, ``torch.optim``,
``torch.utils.data``; the same file through ``cadenza.compat`` for Cadenza) -- interpreter
start-up included. The "run"
columns subtract that median from each program's time, so their ratio compares what the
program itself does, not PyTorch's ~2.5 s import against Cadenza's ~0.1 s.

``--why N``: for the N programs with the lowest run ratio, runs each once more under cProfile
(``python -m cProfile -m cadenza.compat prog.py``) and prints one line: its top functions by
own time (NumPy's compute is inside the Python function that calls it).

    python bench/corpus.py                       # every case, one round
    python bench/corpus.py --rounds 3 --only mini_gpt,makemore-transformer
    python bench/corpus.py --ref main --only char_lstm,transformer_seq2seq
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

from before_after import checkout
from common import BusyCheck, cpu_model

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "programs"))
from program_specs import CASES, HERE as PROGRAMS, METRIC, missing_requirements  # noqa: E402


IMPORT_ONLY = ("import torch\nimport torch.nn\nimport torch.nn.functional\nimport torch.optim\n"
               "import torch.utils.data\nprint('final_import 0')\n")


def run_script(script, args, tree, timeout, pre=()):
    """(seconds, CompletedProcess) of ``script`` under real PyTorch (``tree`` None) or
    ``cadenza.compat`` from that source tree, in a fresh temporary directory; (None, reason)
    when it timed out. ``pre``: interpreter options before the module (cProfile)."""
    cmd = [sys.executable, *pre] + ([] if tree is None else ["-m", "cadenza.compat"]) + [
        script, *args]
    env = dict(os.environ, PYTHONHASHSEED="0", OMP_NUM_THREADS="1")
    env.pop("PYTHONPATH", None)
    if tree is not None:
        env["PYTHONPATH"] = tree
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        try:
            r = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, env=env,
                               timeout=timeout)
        except subprocess.TimeoutExpired:
            return None, f"timed out after {timeout} s"
        return time.perf_counter() - t0, r


def time_case(case, tree, timeout, label):
    """Seconds of one run of ``case`` (real PyTorch when ``tree`` is None, else
    ``cadenza.compat`` from that source tree), or None when it failed or timed out (the reason
    is printed to stderr). As program_specs.run, with the tree as a parameter."""
    dt, r = run_script(os.path.join(PROGRAMS, case.script), case.args, tree, timeout)
    if dt is None:
        print(f"{case.id} ({label}): {r}", file=sys.stderr)
        return None
    if r.returncode != 0 or not any(m.group(1) == case.metric
                                    for m in METRIC.finditer(r.stdout)):
        tail = (r.stderr or "").strip().splitlines()[-1:] or ["no metric line"]
        print(f"{case.id} ({label}): failed: {tail[0]}", file=sys.stderr)
        return None
    return dt


def import_seconds(tree, reps=2):
    """Seconds of a fresh process that only imports torch (``tree`` None) or Cadenza through
    cadenza.compat (start-up included), the fastest of ``reps`` runs."""
    with tempfile.TemporaryDirectory() as tmp:
        script = os.path.join(tmp, "import_only.py")
        with open(script, "w") as f:
            f.write(IMPORT_ONLY)
        out = []
        for _ in range(reps):
            dt, r = run_script(script, (), tree, 120)
            if dt is None or r.returncode != 0:
                raise RuntimeError(f"importing under {tree or 'torch'} failed: "
                                   f"{r if dt is None else r.stderr.strip()[-300:]}")
            out.append(dt)
    return min(out)


def _is_import(key) -> bool:
    fname, _, func = key
    return fname.startswith("<frozen importlib") or func in (
        "<built-in method builtins.compile>", "<built-in method marshal.loads>",
        "<built-in method _imp.create_dynamic>", "<built-in method _imp.exec_dynamic>",
        "<module>")


def why(case, tree, timeout, top=3) -> str:
    """One line: ``case``'s top functions by own time under cProfile through cadenza.compat."""
    import pstats
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "prof.out")
        dt, r = run_script(os.path.join(PROGRAMS, case.script), case.args, tree, timeout,
                           pre=("-m", "cProfile", "-o", out))
        if dt is None or r.returncode != 0 or not os.path.exists(out):
            return f"{case.id}: profile failed ({r if dt is None else r.returncode})"
        st = pstats.Stats(out)
        rows = sorted(st.stats.items(), key=lambda kv: -kv[1][2])
        total = sum(v[2] for _, v in rows) or 1.0
        # imports (module code compiled and run: no .pyc where bytecode is not written) apart
        imports = sum(v[2] for k, v in rows if _is_import(k))
        parts = [f"imports {100 * imports / total:.0f}%"]
        for (fname, line, func), (_, calls, tt, _, _) in [r for r in rows
                                                           if not _is_import(r[0])][:top]:
            where = fname.replace(os.sep, "/")
            where = where.split("/cadenza/", 1)[1] if "/cadenza/" in where else \
                os.path.basename(where)
            parts.append(f"{func} ({where}:{line}) {100 * tt / total:.0f}% in {calls} calls")
        return f"{case.id}: {dt:.1f} s under cProfile; own time: " + "; ".join(parts)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--only", default="", help="comma list of case ids (default: all)")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds per run")
    ap.add_argument("--ref", default=None,
                    help="also time Cadenza at this earlier commit (e.g. main)")
    ap.add_argument("--why", type=int, default=0, metavar="N",
                    help="profile the N programs with the lowest run ratio (cProfile)")
    a = ap.parse_args(argv)
    only = [s.strip() for s in a.only.split(",") if s.strip()]
    known = {c.id for c in CASES}
    bad = [s for s in only if s not in known]
    if bad:
        ap.error(f"--only: unknown case ids {bad}; known: {sorted(known)}")
    cases = [c for c in CASES if (not only or c.id in only) and not missing_requirements(c)]
    trees = {"torch": None, "cadenza": ROOT}
    if a.ref:
        trees = {"torch": None, "before": checkout(a.ref), "cadenza": ROOT}
    print(f"{cpu_model()}, {os.cpu_count()} cores; {len(cases)} programs, {a.rounds} round(s), "
          f"{', '.join(trees)} alternating, median seconds"
          + (f"; before = {a.ref}, cadenza = this tree" if a.ref else ""))
    imports = {m: [] for m in trees}

    def time_imports(r, into=None, reps=2):
        for m in (list(trees) if r % 2 == 0 else list(reversed(trees))):
            v = import_seconds(trees[m], reps)
            imports[m].append(v)
            if into is not None:
                into[m].append(v)
    time_imports(0)
    imp = {m: statistics.median(v) for m, v in imports.items()}
    print("import only (start-up included), s: "
          + ", ".join(f"{m} {v:.2f}" for m, v in imp.items()))
    cols = [f"{m} s" for m in trees]
    extra = ["ratio torch/before", "speedup before/cadenza"] if a.ref else []
    run_cols = ["torch run s", "cadenza run s", "run ratio torch/cadenza"]
    print("| program | " + " | ".join(cols + ["ratio torch/cadenza"] + extra + run_cols) + " |")
    print("|---|" + "---:|" * (len(cols) + 1 + len(extra) + len(run_cols)))
    ratios, before, run_ratios = {}, {}, {}
    with BusyCheck(children=True) as busy:
        for case in cases:
            got = {m: [] for m in trees}
            case_imports = {m: [] for m in trees}   # next to the program: the load drifts
            for r in range(a.rounds):
                time_imports(r, case_imports, reps=1)
                order = list(trees) if r % 2 == 0 else list(reversed(trees))
                for m in order:
                    dt = time_case(case, trees[m], a.timeout, m)
                    if dt is not None:
                        got[m].append(dt)
            med = {m: statistics.median(v) if v else None for m, v in got.items()}
            cells = ["-" if v is None else f"{v:.2f}" for v in med.values()]
            if med["torch"] and med["cadenza"]:
                ratios[case.id] = med["torch"] / med["cadenza"]
                cells.append(f"{ratios[case.id]:.2f}x")
            else:
                cells.append("failed")
            if a.ref:
                if med["torch"] and med["before"]:
                    before[case.id] = med["torch"] / med["before"]
                    cells.append(f"{before[case.id]:.2f}x")
                else:
                    cells.append("failed")
                cells.append(f"{med['before'] / med['cadenza']:.2f}x"
                             if med["before"] and med["cadenza"] else "-")
            imp = {m: statistics.median(v) for m, v in case_imports.items()}
            if med["torch"] and med["cadenza"]:
                # what the program itself took: its time less its framework's import
                rt, rc = med["torch"] - imp["torch"], med["cadenza"] - imp["cadenza"]
                run_ratios[case.id] = max(rt, 0.01) / max(rc, 0.01)
                cells += [f"{rt:.2f}", f"{rc:.2f}", f"{run_ratios[case.id]:.2f}x"]
            else:
                cells += ["-", "-", "failed"]
            print(f"| {case.id} | " + " | ".join(cells) + " |", flush=True)
    for label, rs in (("", ratios), ("before: ", before), ("run (import subtracted): ",
                                                          run_ratios)):
        if rs:
            worst = min(rs, key=rs.get)
            print(f"\n{label}median ratio torch/cadenza {statistics.median(rs.values()):.2f}x, "
                  f"min {rs[worst]:.2f}x ({worst}); {len(rs)}/{len(cases)} programs timed")
    print("import only, s (median over rounds): " + ", ".join(
        f"{m} {statistics.median(v):.2f}" for m, v in imports.items()))
    print(busy.note())
    if a.why and run_ratios:
        slow = sorted(run_ratios, key=run_ratios.get)[:a.why]
        print("\nslowest relative to PyTorch (run ratio), top functions by own time:")
        by_id = {c.id: c for c in cases}
        for cid in slow:
            print(f"  {run_ratios[cid]:.2f}x " + why(by_id[cid], trees["cadenza"], a.timeout),
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
