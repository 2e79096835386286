"""Wall time of the compat program corpus (tests/programs) under PyTorch and under Cadenza.

Each program runs as a subprocess twice per round: ``python prog.py`` (real PyTorch) and
``python -m cadenza.compat prog.py`` (Cadenza), alternating which goes first round by round,
in a fresh temporary directory, with a timeout. The table gives the median seconds of each
and the ratio torch/cadenza (higher is better: > 1 means the program ran faster under
Cadenza), then the median and the minimum ratio over the programs (issue 12's targets:
median >= 1.0x, none below 0.7x). ``--ref`` also runs Cadenza from an earlier commit (a
detached worktree, as bench/before_after.py makes) in the same rounds: a before/after column.
A benchmark, not a test: it asserts nothing.

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


def time_case(case, tree, timeout, label):
    """Seconds of one run of ``case`` (real PyTorch when ``tree`` is None, else
    ``cadenza.compat`` from that source tree), or None when it failed or timed out (the reason
    is printed to stderr). As program_specs.run, with the tree as a parameter."""
    cmd = [sys.executable] + ([] if tree is None else ["-m", "cadenza.compat"]) + [
        os.path.join(PROGRAMS, case.script), *case.args]
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
            print(f"{case.id} ({label}): timed out after {timeout} s", file=sys.stderr)
            return None
        dt = time.perf_counter() - t0
    if r.returncode != 0 or not any(m.group(1) == case.metric
                                    for m in METRIC.finditer(r.stdout)):
        tail = (r.stderr or "").strip().splitlines()[-1:] or ["no metric line"]
        print(f"{case.id} ({label}): failed: {tail[0]}", file=sys.stderr)
        return None
    return dt


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--only", default="", help="comma list of case ids (default: all)")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds per run")
    ap.add_argument("--ref", default=None,
                    help="also time Cadenza at this earlier commit (e.g. main)")
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
    cols = [f"{m} s" for m in trees]
    extra = ["ratio torch/before", "speedup before/cadenza"] if a.ref else []
    print("| program | " + " | ".join(cols + ["ratio torch/cadenza"] + extra) + " |")
    print("|---|" + "---:|" * (len(cols) + 1 + len(extra)))
    ratios, before = {}, {}
    with BusyCheck(children=True) as busy:
        for case in cases:
            got = {m: [] for m in trees}
            for r in range(a.rounds):
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
            print(f"| {case.id} | " + " | ".join(cells) + " |", flush=True)
    for label, rs in (("", ratios), ("before: ", before)):
        if rs:
            worst = min(rs, key=rs.get)
            print(f"\n{label}median ratio torch/cadenza {statistics.median(rs.values()):.2f}x, "
                  f"min {rs[worst]:.2f}x ({worst}); {len(rs)}/{len(cases)} programs timed")
    print(busy.note())
    return 0


if __name__ == "__main__":
    sys.exit(main())
