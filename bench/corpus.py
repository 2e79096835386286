"""Wall time of the compat program corpus (tests/programs) under PyTorch and under Cadenza.

Each program runs as a subprocess twice per round: ``python prog.py`` (real PyTorch) and
``python -m cadenza.compat prog.py`` (Cadenza), alternating which goes first round by round,
in a fresh temporary directory, with a timeout. The table gives the median seconds of each
and the ratio torch/cadenza (higher is better: > 1 means the program ran faster under
Cadenza), then the median and the minimum ratio over the programs (issue 12's targets:
median >= 1.0x, none below 0.7x). A benchmark, not a test: it asserts nothing.

    python bench/corpus.py                       # every case, one round
    python bench/corpus.py --rounds 3 --only mini_gpt,makemore-transformer
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile

from common import BusyCheck, cpu_model

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "programs"))
from program_specs import CASES, missing_requirements, run  # noqa: E402

MODES = {"torch": True, "cadenza": False}


def time_case(case, torch_mode, timeout):
    """Seconds of one run of ``case``, or None when it failed or timed out (the reason is
    printed to stderr)."""
    with tempfile.TemporaryDirectory() as tmp:
        try:
            r, dt, value = run(case, torch_mode=torch_mode, cwd=tmp, timeout=timeout)
        except subprocess.TimeoutExpired:
            print(f"{case.id} ({'torch' if torch_mode else 'cadenza'}): timed out after "
                  f"{timeout} s", file=sys.stderr)
            return None
    if value is None:
        tail = (r.stderr or "").strip().splitlines()[-1:] or ["no metric line"]
        print(f"{case.id} ({'torch' if torch_mode else 'cadenza'}): failed: {tail[0]}",
              file=sys.stderr)
        return None
    return dt


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--only", default="", help="comma list of case ids (default: all)")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds per run")
    a = ap.parse_args(argv)
    only = [s.strip() for s in a.only.split(",") if s.strip()]
    known = {c.id for c in CASES}
    bad = [s for s in only if s not in known]
    if bad:
        ap.error(f"--only: unknown case ids {bad}; known: {sorted(known)}")
    cases = [c for c in CASES if (not only or c.id in only) and not missing_requirements(c)]
    print(f"{cpu_model()}, {os.cpu_count()} cores; {len(cases)} programs, {a.rounds} round(s), "
          f"torch and cadenza alternating, median seconds")
    print("| program | torch s | cadenza s | ratio torch/cadenza |")
    print("|---|---:|---:|---:|")
    ratios = {}
    with BusyCheck(children=True) as busy:
        for case in cases:
            got = {m: [] for m in MODES}
            for r in range(a.rounds):
                order = list(MODES) if r % 2 == 0 else list(reversed(MODES))
                for m in order:
                    dt = time_case(case, MODES[m], a.timeout)
                    if dt is not None:
                        got[m].append(dt)
            med = {m: statistics.median(v) if v else None for m, v in got.items()}
            if med["torch"] and med["cadenza"]:
                ratios[case.id] = med["torch"] / med["cadenza"]
                cell = f"{ratios[case.id]:.2f}x"
            else:
                cell = "failed"
            fmt = {m: "-" if v is None else f"{v:.2f}" for m, v in med.items()}
            print(f"| {case.id} | {fmt['torch']} | {fmt['cadenza']} | {cell} |", flush=True)
    if ratios:
        worst = min(ratios, key=ratios.get)
        print(f"\nmedian ratio {statistics.median(ratios.values()):.2f}x, min "
              f"{ratios[worst]:.2f}x ({worst}); {len(ratios)}/{len(cases)} programs timed "
              f"{busy.note()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
