"""Time of the compat program corpus (tests/programs) under PyTorch and under Cadenza.

Each program runs as a subprocess twice per round: under real PyTorch and under
``cadenza.compat`` (Cadenza), alternating which goes first round by round, in a fresh
temporary directory, with a timeout. Both go through one runner (``RUNNER``): it imports the
framework (``torch``, ``torch.nn``, ``torch.nn.functional``, ``torch.optim``,
``torch.utils.data``; through ``cadenza.compat`` for Cadenza), notes the clock, runs the
program with ``runpy`` as ``__main__`` and reports, at exit, the clock again. The "run" columns
are what the program itself took after those imports (measured inside the process, so
PyTorch's ~2.5 s import is apart without subtracting a separately timed, noisy, import run);
the totals are the whole process. The table gives the median seconds and the ratio
torch/cadenza (higher is better: > 1 means the program ran faster under Cadenza), then the
median and the minimum run ratio over the programs (issue 12's targets: median >= 1.0x, none
below 0.7x). ``--ref`` also runs Cadenza from an earlier commit (a detached worktree, as
bench/before_after.py makes) in the same rounds: a before/after column. A benchmark, not a
test: it asserts nothing.

The corpus is tests/programs (program_specs.CASES, outcome: the ``final_<metric>`` line) and
tests/programs/vision (ids ``vision/NAME``, outcome: the ``OUTCOME`` line). The vision programs
import torchvision: under PyTorch it must be importable, ``--torchvision DIR`` puts an unpacked
wheel on the path (record_reference.py says how; its C ops are stubbed as there); without it
those programs are skipped.

``--cpu``: the seconds are CPU time (user + system, the process and the children it waited
for: DataLoader workers), not wall clock, and every thread pool is pinned to one thread on both
sides (OMP/OPENBLAS/MKL_NUM_THREADS=1, CADENZA_KERNEL_THREADS=1): a single-thread ratio that
holds while other processes share the cores (wall clock on a shared machine is mostly noise).

Bytecode: PyTorch's installed package holds its compiled bytecode (.pyc); a source tree run
with PYTHONDONTWRITEBYTECODE set would compile every Cadenza module from source in every run
(~0.4 s CPU per program, some of it in modules imported lazily while the program runs). Each
Cadenza tree is byte-compiled once (``compileall``) before the rounds, as an install would.

``--why N``: for the N programs with the lowest run ratio, runs each once more under cProfile
(``python -m cProfile -m cadenza.compat prog.py``) and prints one line: its top functions by
own time (NumPy's compute is inside the Python function that calls it).

    python bench/corpus.py --cpu                 # every case, one round, CPU time
    python bench/corpus.py --rounds 3 --only mini_gpt,makemore-transformer
    python bench/corpus.py --ref main --only char_lstm,transformer_seq2seq
"""
from __future__ import annotations

import argparse
import compileall
import json
import os
import re
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

VISION = os.path.join(PROGRAMS, "vision")
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
               "CADENZA_KERNEL_THREADS")
OPTIONS = {"cpu": False, "torchvision": None}   # set by main()

# python RUNNER {torch|cadenza} {cpu|wall} prog.py args...: the program under that framework,
# its clock after the framework's imports and at exit on stderr (CORPUS_TIMES import end)
RUNNER = """\
import atexit, os, resource, runpy, sys, time, types
cpu = sys.argv[2] == "cpu"


def clock():
    if not cpu:
        return time.perf_counter()
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


if sys.argv[1] == "cadenza":
    from cadenza import compat
    compat.install()
else:   # torchvision's C ops do not load with the CPU build of torch (record_reference.py)
    sys.modules.setdefault("torchvision._meta_registrations", types.ModuleType("stub"))
import torch, torch.nn, torch.nn.functional, torch.optim, torch.utils.data  # noqa: E401,F401
imported = clock()
atexit.register(lambda: print(f"CORPUS_TIMES {imported!r} {clock()!r}", file=sys.stderr))
sys.argv = sys.argv[3:]
sys.path.insert(0, os.path.dirname(os.path.abspath(sys.argv[0])))
runpy.run_path(sys.argv[0], run_name="__main__")
"""
TIMES = re.compile(r"^CORPUS_TIMES (\S+) (\S+)$", re.M)


class VisionCase:
    """A tests/programs/vision program as a corpus case: done when it prints its OUTCOME line."""

    def __init__(self, name):
        self.id, self.script, self.args = "vision/" + name, os.path.join(VISION, name + ".py"), ()

    def succeeded(self, stdout):
        return any(ln.startswith("OUTCOME ") for ln in stdout.splitlines())


def vision_cases():
    with open(os.path.join(VISION, "reference.json")) as f:
        return [VisionCase(n) for n in sorted(json.load(f))]


def succeeded(case, stdout):
    if isinstance(case, VisionCase):
        return case.succeeded(stdout)
    return any(m.group(1) == case.metric for m in METRIC.finditer(stdout))


def _env(tree, script):
    env = dict(os.environ, PYTHONHASHSEED="0", OMP_NUM_THREADS="1")
    if OPTIONS["cpu"]:
        env.update({v: "1" for v in THREAD_VARS})
    env.pop("PYTHONPATH", None)
    if tree is not None:
        env["PYTHONPATH"] = tree
    elif os.path.dirname(os.path.abspath(script)) == VISION and OPTIONS["torchvision"]:
        env["PYTHONPATH"] = OPTIONS["torchvision"]
    return env


def run_script(script, args, tree, timeout, pre=None):
    """((total, run) seconds, CompletedProcess) of ``script`` under real PyTorch (``tree``
    None) or ``cadenza.compat`` from that source tree, in a fresh temporary directory: the
    whole process and the program after the framework's imports (wall clock, or with
    ``--cpu`` user + system CPU time); (None, reason) when it timed out. ``pre``: interpreter
    options that replace the runner (cProfile: run through ``-m cadenza.compat``; no run
    time then)."""
    mode = "cpu" if OPTIONS["cpu"] else "wall"
    with tempfile.TemporaryDirectory() as tmp:
        if pre is None:
            runner = os.path.join(tmp, "corpus_runner.py")
            with open(runner, "w") as f:
                f.write(RUNNER)
            cmd = [sys.executable, runner, "torch" if tree is None else "cadenza", mode,
                   script, *args]
        else:
            cmd = [sys.executable, *pre, "-m", "cadenza.compat", script, *args]
        work = os.path.join(tmp, "work")
        os.mkdir(work)
        t0 = time.perf_counter()
        c0 = os.times()
        try:
            r = subprocess.run(cmd, cwd=work, capture_output=True, text=True,
                               env=_env(tree, script), timeout=timeout)
        except subprocess.TimeoutExpired:
            return None, f"timed out after {timeout} s"
        c1 = os.times()
        total = (c1.children_user - c0.children_user + c1.children_system
                 - c0.children_system) if OPTIONS["cpu"] else time.perf_counter() - t0
        m = TIMES.findall(r.stderr or "")
        run = float(m[-1][1]) - float(m[-1][0]) if m else None
        return (total, run), r


def time_case(case, tree, timeout, label):
    """(total, run) seconds of one run of ``case`` (real PyTorch when ``tree`` is None, else
    ``cadenza.compat`` from that source tree), or None when it failed or timed out (the reason
    is printed to stderr)."""
    dt, r = run_script(os.path.join(PROGRAMS, case.script), case.args, tree, timeout)
    if dt is None:
        print(f"{case.id} ({label}): {r}", file=sys.stderr)
        return None
    if r.returncode != 0 or not succeeded(case, r.stdout) or dt[1] is None:
        tail = (r.stderr or "").strip().splitlines()[-1:] or ["no metric line"]
        print(f"{case.id} ({label}): failed: {tail[0]}", file=sys.stderr)
        return None
    return dt


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
        return f"{case.id}: {dt[0]:.1f} s under cProfile; own time: " + "; ".join(parts)


def _torch_table(path) -> dict:
    """case id -> (total, run) seconds of PyTorch from a table this script printed."""
    out = {}
    with open(path) as f:
        for line in f:
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) >= 5 and cells[0] not in ("program", "---"):
                try:   # | id | torch s | <trees> s... | torch run s | ...
                    n = (len([c for c in cells if not c.endswith("x")]) - 1) // 2
                    out[cells[0]] = (float(cells[1]), float(cells[1 + n]))
                except ValueError:
                    pass
    return out


def byte_compile(tree) -> None:
    """Write the bytecode of ``tree``'s Cadenza package, as installing it would (see the
    module docstring), quietly; a tree that cannot be written keeps compiling from source."""
    compileall.compile_dir(os.path.join(tree, "cadenza"), quiet=2, workers=1)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--only", default="", help="comma list of case ids (default: all)")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds per run")
    ap.add_argument("--ref", default=None,
                    help="also time Cadenza at this earlier commit (e.g. main), or from this "
                         "source tree (a folder)")
    ap.add_argument("--why", type=int, default=0, metavar="N",
                    help="profile the N programs with the lowest run ratio (cProfile)")
    ap.add_argument("--cpu", action="store_true",
                    help="CPU time of each run (user + system), every thread pool at 1 thread")
    ap.add_argument("--torch-from", default=None, metavar="TABLE",
                    help="take PyTorch's seconds from an earlier run's printed table instead "
                         "of running PyTorch again (its side does not change with Cadenza's)")
    ap.add_argument("--tree", default=ROOT,
                    help="the Cadenza source tree timed as 'cadenza' (default: this one)")
    ap.add_argument("--torchvision", default=os.environ.get("CADENZA_TORCHVISION", "/tmp/tvpkg"),
                    help="folder holding an unpacked torchvision for the PyTorch side of the "
                         "vision programs (default $CADENZA_TORCHVISION or /tmp/tvpkg)")
    a = ap.parse_args(argv)
    OPTIONS["cpu"] = a.cpu
    tv = a.torchvision if a.torchvision and os.path.isdir(
        os.path.join(a.torchvision, "torchvision")) else None
    OPTIONS["torchvision"] = tv
    only = [s.strip() for s in a.only.split(",") if s.strip()]
    every = list(CASES) + vision_cases()
    known = {c.id for c in every}
    bad = [s for s in only if s not in known]
    if bad:
        ap.error(f"--only: unknown case ids {bad}; known: {sorted(known)}")
    cases = [c for c in every if (not only or c.id in only)
             and (isinstance(c, VisionCase) or not missing_requirements(c))]
    if tv is None and any(isinstance(c, VisionCase) for c in cases):
        print("no torchvision for the PyTorch side (--torchvision): vision programs skipped",
              file=sys.stderr)
        cases = [c for c in cases if not isinstance(c, VisionCase)]
    trees = {"torch": None, "cadenza": os.path.abspath(a.tree)}
    if a.ref:
        before = os.path.abspath(a.ref) if os.path.isdir(a.ref) else checkout(a.ref)
        trees = {"torch": None, "before": before, "cadenza": os.path.abspath(a.tree)}
    for t in trees.values():
        if t is not None:
            byte_compile(t)
    print(f"{cpu_model()}, {os.cpu_count()} cores; {len(cases)} programs, {a.rounds} round(s), "
          f"{', '.join(trees)} alternating, median "
          + ("CPU seconds (user + system, one thread each)" if a.cpu else "wall seconds")
          + (f"; before = {a.ref}, cadenza = this tree" if a.ref else ""))
    names = list(trees)
    earlier = _torch_table(a.torch_from) if a.torch_from else None
    if earlier is not None:
        cases = [c for c in cases if c.id in earlier]
        print(f"torch columns from {a.torch_from} (not run again)")
    cols = [f"{m} s" for m in names] + [f"{m} run s" for m in names]
    extra = ["run ratio torch/before", "run speedup before/cadenza"] if a.ref else []
    print("| program | " + " | ".join(cols + ["ratio torch/cadenza", "run ratio torch/cadenza"]
                                       + extra) + " |")
    print("|---|" + "---:|" * (len(cols) + 2 + len(extra)))
    ratios, before, run_ratios = {}, {}, {}
    imports = {m: [] for m in names}
    with BusyCheck(children=True) as busy:
        for case in cases:
            got = {m: [] for m in names}
            for r in range(a.rounds):
                for m in (names if r % 2 == 0 else list(reversed(names))):
                    if m == "torch" and earlier is not None:
                        got[m].append(earlier[case.id])
                        continue
                    dt = time_case(case, trees[m], a.timeout, m)
                    if dt is not None:
                        got[m].append(dt)
                        imports[m].append(dt[0] - dt[1])
            tot = {m: statistics.median(v[0] for v in got[m]) if got[m] else None
                   for m in names}
            run = {m: statistics.median(v[1] for v in got[m]) if got[m] else None
                   for m in names}
            cells = ["-" if v is None else f"{v:.2f}" for v in (*tot.values(), *run.values())]
            if tot["torch"] and tot["cadenza"]:
                ratios[case.id] = tot["torch"] / tot["cadenza"]
                run_ratios[case.id] = max(run["torch"], 0.01) / max(run["cadenza"], 0.01)
                cells += [f"{ratios[case.id]:.2f}x", f"{run_ratios[case.id]:.2f}x"]
            else:
                cells += ["failed", "failed"]
            if a.ref:
                if tot["torch"] and tot["before"]:
                    before[case.id] = max(run["torch"], 0.01) / max(run["before"], 0.01)
                    cells.append(f"{before[case.id]:.2f}x")
                else:
                    cells.append("failed")
                cells.append(f"{max(run['before'], 0.01) / max(run['cadenza'], 0.01):.2f}x"
                             if tot["before"] and tot["cadenza"] else "-")
            print(f"| {case.id} | " + " | ".join(cells) + " |", flush=True)
    for label, rs in (("whole process: ", ratios), ("before, run: ", before),
                      ("run (after the imports): ", run_ratios)):
        if rs:
            worst = min(rs, key=rs.get)
            print(f"\n{label}median ratio torch/cadenza {statistics.median(rs.values()):.2f}x, "
                  f"min {rs[worst]:.2f}x ({worst}); {len(rs)}/{len(cases)} programs timed")
    print("imports (start-up included), s, median over runs: " + ", ".join(
        f"{m} {statistics.median(v):.2f}" for m, v in imports.items() if v))
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
