"""W6 import: how long `import <framework>` takes in a fresh process, Cadenza vs PyTorch, median
of 7 processes each. Bytecode is compiled first (what `pip install` gives), so the figure is
the import itself, not compiling. The headline figure is timed inside the child around the
import statement; the whole process (interpreter start-up included) is printed beside it.
Target: import cadenza <= 0.15 s with every optional extra installed (none may load at start-up).
"""
from __future__ import annotations

import compileall
import importlib.util
import os
import platform
import statistics
import subprocess
import sys
import time

from common import BusyCheck, cpu_model, report

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET_S = 0.15
# cadenza's optional extras (pyproject.toml): each must load on first use only
EXTRAS = ("ml_dtypes", "safetensors", "tqdm", "matplotlib", "tokenizers", "onnx",
          "onnxruntime", "mpi4py", "cupy", "PIL")
_CHILD = ("import sys, time; t = time.perf_counter(); import {mod}; "
          "print(time.perf_counter() - t); print(' '.join(m for m in {extras!r} "
          "if m in sys.modules))")


def _env():
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    # what an installed package gives: bytecode cached and read
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def time_import(mod, n=7):
    """(median seconds of the import statement, median seconds of the whole process, the
    optional extras the import loaded)."""
    env = _env()
    code = _CHILD.format(mod=mod, extras=EXTRAS)
    subprocess.run([sys.executable, "-c", code], check=True, env=env,  # warm the OS caches
                   capture_output=True)
    inner, outer, loaded = [], [], ""
    for _ in range(n):
        t = time.perf_counter()
        r = subprocess.run([sys.executable, "-c", code], check=True, env=env,
                           capture_output=True, text=True)
        outer.append(time.perf_counter() - t)
        lines = r.stdout.splitlines()
        inner.append(float(lines[0]))
        loaded = lines[1] if len(lines) > 1 else ""
    return statistics.median(inner), statistics.median(outer), loaded


def main():
    compileall.compile_dir(os.path.join(ROOT, "cadenza"), quiet=1)
    installed = [m for m in EXTRAS if importlib.util.find_spec(m) is not None]
    print(f"CPU: {cpu_model()}; Python {platform.python_version()}")
    print(f"optional extras installed: {' '.join(installed) or 'none'}")
    with BusyCheck(children=True) as busy:
        base = time_import("sys")
        numpy = time_import("numpy")
        ours = time_import("cadenza")
        theirs = time_import("torch")
    print(f"whole process (interpreter start-up included): cadenza {ours[1]:.3f} s | pytorch "
          f"{theirs[1]:.3f} s | bare interpreter {base[1]:.3f} s")
    print(f"numpy's own import (cadenza's floor): {numpy[0]:.3f} s")
    print(f"extras loaded by import cadenza: {ours[2] or 'none'}")
    report("W6 import", ours[0], theirs[0], "s", higher_is_better=False, extra=busy.note())
    met = ours[0] <= TARGET_S and not ours[2]
    print(f"W6 target import cadenza <= {TARGET_S} s, no extra loaded: "
          f"{'met' if met else 'NOT met'} ({ours[0]:.3f} s)")


if __name__ == "__main__":
    main()
