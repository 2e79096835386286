"""Before/after: run the eager workload scripts (W1-W5) on an earlier commit and on this tree,
alternating round by round in one session, and print each one's Cadenza/PyTorch ratio (the
ratio is what survives a noisy machine: both libraries run in the same process), the median
per tree and the change. A refactor that claims "no slowdown" shows it here.

    python bench/before_after.py --ref 1d13d1d --rounds 3
    python bench/before_after.py --ref main~5 --only w3,w5 --compiled
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile

from common import cpu_model

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SCRIPTS = {"w1": "w1_gpt_train.py", "w2": "w2_gpt_generate.py", "w3": "w3_mlp_train.py",
           "w4": "w4_cnn_train.py", "w5": "w5_op_overhead.py"}
# "... ratio 0.93x of pytorch", "W1 ratio cadenza/pytorch eager: 0.70x (target >= 0.7x)",
# "compiled/pytorch-eager 0.96x": every ratio on such a line, targets ("= 0.7x") excluded
RATIO = re.compile(r"(?<!= )\b(\d+\.\d+)x\b")


def checkout(ref: str) -> str:
    """A detached worktree of ``ref`` (made once, reused by later runs)."""
    sha = subprocess.check_output(["git", "-C", ROOT, "rev-parse", "--short", ref],
                                  text=True).strip()
    path = os.path.join(tempfile.gettempdir(), f"cadenza-before-{sha}")
    if not os.path.isdir(path):
        subprocess.check_call(["git", "-C", ROOT, "worktree", "add", "--detach", path, sha],
                              stdout=subprocess.DEVNULL)
    return path


def run(tree: str, args: list) -> tuple[list, str]:
    """The ratios one script printed (in order) and its output."""
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    out = subprocess.run([sys.executable] + args, cwd=tree, env=env, capture_output=True,
                         text=True, timeout=1800)
    text = out.stdout + out.stderr
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} in {tree} failed:\n{text[-2000:]}")
    lines = [ln for ln in out.stdout.splitlines() if "ratio" in ln or "pytorch-eager" in ln]
    return [float(r) for ln in lines for r in RATIO.findall(ln)], out.stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ref", required=True, help="the earlier commit (e.g. 1d13d1d, main~3)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--only", default=",".join(SCRIPTS), help="comma list of w1..w5")
    ap.add_argument("--compiled", action="store_true",
                    help="also bench/compiled.py --quick (W1, W3, W4 compiled vs PyTorch)")
    a = ap.parse_args()
    only = [s.strip() for s in a.only.split(",") if s.strip()]
    bad = [s for s in only if s not in SCRIPTS]
    if bad:
        ap.error(f"--only: expected names from {sorted(SCRIPTS)}, got {bad}")
    trees = {"before": checkout(a.ref), "after": ROOT}
    jobs = {w: [os.path.join("bench", SCRIPTS[w])] for w in only}
    if a.compiled:
        jobs["compiled"] = [os.path.join("bench", "compiled.py"), "--quick", "--only",
                            "w1,w3,w4", "--no-torch-compile"]
    print(f"{cpu_model()}, {os.cpu_count()} cores; before = {a.ref}, after = this tree; "
          f"{a.rounds} round(s), alternating")
    got: dict = {(j, t): [] for j in jobs for t in trees}
    for r in range(a.rounds):
        for job, argv in jobs.items():
            order = list(trees) if r % 2 == 0 else list(reversed(trees))
            for t in order:
                ratios, text = run(trees[t], argv)
                got[(job, t)].append(ratios)
                lines = [ln for ln in text.splitlines()
                         if "ratio" in ln or "pytorch-eager" in ln]
                print(f"round {r + 1} {job:8s} {t:6s}: " + " ; ".join(lines))
                sys.stdout.flush()
    print("\nmedian ratios, before -> after (W2's is Cadenza/PyTorch ms per token: lower is "
          "better; every other one is Cadenza's speed relative to PyTorch: higher is better):")
    for job in jobs:
        before, after = got[(job, "before")], got[(job, "after")]
        for k in range(min(len(before[0]), len(after[0]))):
            b = statistics.median(x[k] for x in before)
            f = statistics.median(x[k] for x in after)
            label = job if len(before[0]) == 1 else f"{job}[{k}]"
            print(f"  {label:12s} {b:.3f} -> {f:.3f}  ({(f / b - 1) * 100:+.1f}%)")


if __name__ == "__main__":
    main()
