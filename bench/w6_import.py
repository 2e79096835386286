"""W6 import: `python -c "import <framework>"` in a fresh process, median of 5 runs.
Target: import cadenza <= 0.2 s."""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time

from common import BusyCheck, report

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def time_import(mod, n=5):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    # what an installed package gives: bytecode cached (pip compiles it at install time)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    subprocess.run([sys.executable, "-c", f"import {mod}"], check=True, env=env)  # warm caches
    ts = []
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", f"import {mod}"], check=True, env=env)
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def main():
    with BusyCheck() as busy:
        base = time_import("sys")
        numpy = time_import("numpy")
        ours = time_import("cadenza")
        theirs = time_import("torch")
    print(f"(bare interpreter start-up {base:.3f} s and, for cadenza, numpy's own import "
          f"{numpy - base:.3f} s are included; subprocesses count as 'other' in the busy note)")
    report("W6 import", ours, theirs, "s", higher_is_better=False, extra=busy.note())
    print(f"W6 target import cadenza <= 0.2 s: {'met' if ours <= 0.2 else 'NOT met'} "
          f"({ours:.3f} s)")


if __name__ == "__main__":
    main()
