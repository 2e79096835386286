"""float32 GEMM rate of candidate BLAS libraries at the workloads' product shapes (issue 12).

    python bench/blas_libs.py                       # all libraries found, 1 and 2 threads
    python bench/blas_libs.py --rounds 5 --libs numpy,mkl --threads 1,2
    python bench/blas_libs.py --only w1 --quick

Libraries (each one found is measured; absent ones are skipped with a note):
- ``numpy``: the OpenBLAS NumPy's wheel bundles (what ``cadenza.backend.blas`` falls back to),
  called through ctypes as ``codegen/blas.py`` calls it; ``np.matmul``: the same library
  through NumPy (what eager ``matmul`` pays, copies and dispatch included).
- ``mkl``: oneMKL's ``libmkl_rt`` from the ``mkl`` wheel (``cblas_sgemm_64``), with its
  OpenMP threads (``mkl``) and its sequential layer (``mkl-seq``, 1 thread only: what the
  pool's tasks would call).
- ``openblas64`` / ``openblas32``: the newer OpenBLAS of the ``scipy-openblas64``/``32`` wheels.
- ``blis``: BLIS as the ``blis`` wheel builds it (``bli_sgemm``, strides instead of transposes).
- ``torch``: ``torch.mm`` (the oracle: the rate PyTorch's own steps get).

Shapes: every product of one compiled training step of W1 (gpt-train), W3 (mlp-train) and W4's
linear layers (as ``cadenza.codegen.blas.Gemm`` records them: forward x W^T is NT, input
gradients g W are NN, weight gradients g^T x are TN with the long batch sum inside) and W4's
convolution products (ops/conv.py: W cols, W^T g, cols g^T). Each row prints GFLOP/s per
library and thread count; the ``step`` rows weigh each shape by its count in one step (time of
all the step's products), the figure that decides whether a library pays.

The machine is shared: each (library, threads) runs in its own process (no library's spinning
threads or cache state reaches another's figures), the processes of one round run one after
another in a shuffled order, and the figure is the median over rounds of each process's best
rate. Ratios are against ``numpy`` at the same thread count. Nothing is asserted.
"""
from __future__ import annotations

import argparse
import ctypes
import glob
import json
import os
import random
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

N, T = "N", "T"
# (m, n, k, trans a, trans b, count per step) of one training step's products
SHAPES = {
    "w1": [(2048, 768, 256, N, T, 4), (2048, 256, 256, N, T, 4), (2048, 1024, 256, N, T, 4),
           (2048, 256, 1024, N, T, 4),                                     # forward x W^T
           (2048, 256, 768, N, N, 4), (2048, 256, 256, N, N, 5), (2048, 1024, 256, N, N, 4),
           (2048, 256, 1024, N, N, 4),                                     # input grads g W
           (768, 256, 2048, T, N, 4), (256, 256, 2048, T, N, 5), (1024, 256, 2048, T, N, 4),
           (256, 1024, 2048, T, N, 4)],                                    # weight grads g^T x
    "w3": [(128, 512, 784, N, T, 1), (128, 512, 512, N, T, 1), (128, 10, 512, N, T, 1),
           (128, 512, 10, N, N, 1), (128, 512, 512, N, N, 1),
           (10, 512, 128, T, N, 1), (512, 512, 128, T, N, 1), (512, 784, 128, T, N, 1)],
    "w4": [(64, 128, 3136, N, T, 1), (64, 3136, 128, N, N, 1), (128, 3136, 64, T, N, 1),
           (32, 50176, 9, N, N, 1), (64, 12544, 288, N, N, 1),             # conv forward
           (288, 12544, 64, T, N, 1),                                      # conv input grad
           (9, 32, 50176, N, T, 1), (288, 64, 12544, N, T, 1)],            # conv weight grads
}
LIBS = ("numpy", "np.matmul", "mkl", "mkl-seq", "openblas64", "openblas32", "blis", "torch")


def _site():
    import numpy as np
    return os.path.dirname(os.path.dirname(np.__file__))


class Cblas:
    """A cblas_sgemm through ctypes: ``(ta, tb, m, n, k, A, lda, B, ldb, C, ldc)``."""

    def __init__(self, path, sym, bits, set_threads=None, threads=1, preload=()):
        for p in preload:
            ctypes.CDLL(p, mode=ctypes.RTLD_GLOBAL)
        lib = ctypes.CDLL(path)
        self.fn = getattr(lib, sym)
        i = ctypes.c_int64 if bits == 64 else ctypes.c_int32
        self.fn.restype = None
        self.fn.argtypes = [ctypes.c_int] * 3 + [i] * 3 + [
            ctypes.c_float, ctypes.c_void_p, i, ctypes.c_void_p, i, ctypes.c_float,
            ctypes.c_void_p, i]
        if set_threads:
            f = getattr(lib, set_threads)
            f.argtypes = [ctypes.c_int]
            f(threads)

    def prepare(self, a, b, c, ta, tb, m, n, k):
        args = (101, 112 if ta == T else 111, 112 if tb == T else 111, m, n, k, 1.0,
                a.ctypes.data, a.shape[1], b.ctypes.data, b.shape[1], 0.0, c.ctypes.data, n)
        fn, keep = self.fn, (a, b, c)     # the arrays live as long as the call
        return lambda: fn(*args) and keep


class Blis:
    """BLIS's typed API ``bli_sgemm`` (row/column strides; single-threaded as the wheel
    builds it unless ``BLIS_NUM_THREADS`` says otherwise)."""

    def __init__(self, threads):
        import blis
        path = glob.glob(os.path.join(os.path.dirname(blis.__file__), "cy.*.so"))[0]
        lib = ctypes.CDLL(path)
        self.fn = lib.bli_sgemm
        i64 = ctypes.c_int64
        self.fn.restype = None
        self.fn.argtypes = [ctypes.c_int, ctypes.c_int, i64, i64, i64, ctypes.c_void_p,
                            ctypes.c_void_p, i64, i64, ctypes.c_void_p, i64, i64,
                            ctypes.c_void_p, ctypes.c_void_p, i64, i64]
        st = getattr(lib, "bli_thread_set_num_threads", None)
        if st is not None:
            st.argtypes = [i64]
            st(threads)
        self.one, self.zero = ctypes.c_float(1.0), ctypes.c_float(0.0)

    def prepare(self, a, b, c, ta, tb, m, n, k):
        # a holds op(A) row-major when N, its transpose when T: give op(A)'s strides instead
        rsa, csa = (a.shape[1], 1) if ta == N else (1, a.shape[1])
        rsb, csb = (b.shape[1], 1) if tb == N else (1, b.shape[1])
        args = (0, 0, m, n, k, ctypes.byref(self.one), a.ctypes.data, rsa, csa, b.ctypes.data,
                rsb, csb, ctypes.byref(self.zero), c.ctypes.data, n, 1)
        fn, keep = self.fn, (a, b, c)
        return lambda: fn(*args) and keep


class NpMatmul:
    def prepare(self, a, b, c, ta, tb, m, n, k):
        import numpy as np
        x = a.T if ta == T else a
        y = b.T if tb == T else b
        return lambda: np.matmul(x, y, out=c)


class Torch:
    def __init__(self, threads):
        import torch
        torch.set_num_threads(threads)
        self.torch = torch

    def prepare(self, a, b, c, ta, tb, m, n, k):
        t = self.torch
        x, y, o = t.from_numpy(a), t.from_numpy(b), t.from_numpy(c)
        x = x.t() if ta == T else x
        y = y.t() if tb == T else y
        return lambda: t.mm(x, y, out=o)


def load(name, threads):
    """The library ``name`` at ``threads`` threads, or raises (absent)."""
    site = _site()
    if name == "numpy":
        import numpy as np
        root = os.path.dirname(np.__file__)
        paths = sorted(glob.glob(os.path.join(root, "..", "numpy.libs", "*openblas*.so*")) +
                       glob.glob(os.path.join(root, ".libs", "*openblas*.so*")))
        for p in paths:
            lib = ctypes.CDLL(p)
            for s, st in (("scipy_cblas_sgemm64_", "scipy_openblas_set_num_threads64_"),
                          ("cblas_sgemm64_", "openblas_set_num_threads64_"),
                          ("cblas_sgemm", "openblas_set_num_threads")):
                if hasattr(lib, s):
                    return Cblas(p, s, 64 if "64" in s else 32,
                                 st if hasattr(lib, st) else None, threads)
        raise OSError("no OpenBLAS beside NumPy")
    if name == "np.matmul":
        return NpMatmul()
    if name in ("mkl", "mkl-seq"):
        cands = glob.glob(os.path.join(sys.prefix, "lib", "libmkl_rt.so*"))
        if not cands:
            raise OSError("mkl wheel not installed")
        return Cblas(sorted(cands)[-1], "cblas_sgemm_64", 64, "MKL_Set_Num_Threads", threads)
    if name in ("openblas64", "openblas32"):
        pkg = "scipy_openblas64" if name == "openblas64" else "scipy_openblas32"
        cands = glob.glob(os.path.join(site, pkg, "lib", "lib*.so"))
        if not cands:
            raise OSError(f"{pkg} wheel not installed")
        if name == "openblas64":
            return Cblas(cands[0], "scipy_cblas_sgemm64_", 64,
                         "scipy_openblas_set_num_threads64_", threads)
        return Cblas(cands[0], "scipy_cblas_sgemm", 32, "scipy_openblas_set_num_threads",
                     threads)
    if name == "blis":
        return Blis(threads)
    if name == "torch":
        return Torch(threads)
    raise ValueError(name)


def worker(name, threads, only, budget):
    """Best GFLOP/s of each shape (JSON on stdout), one library at one thread count."""
    import numpy as np
    lib = load(name, threads)
    rng = np.random.default_rng(0)
    out = {}
    for key in only:
        for m, n, k, ta, tb, _ in SHAPES[key]:
            a = rng.standard_normal((k, m) if ta == T else (m, k), dtype=np.float32)
            b = rng.standard_normal((n, k) if tb == T else (k, n), dtype=np.float32)
            c = np.empty((m, n), np.float32)
            call = lib.prepare(a, b, c, ta, tb, m, n, k)
            call()
            ref = np.matmul(a.T if ta == T else a, b.T if tb == T else b)
            err = float(np.abs(c - ref).max() / (np.abs(ref).max() + 1e-30))
            if err > 1e-5:
                raise RuntimeError(f"{name} wrong at {m}x{n}x{k} {ta}{tb}: rel err {err}")
            flop = 2.0 * m * n * k
            reps = max(1, int(budget * 2e10 / flop / 20))
            best = float("inf")
            for _ in range(3):
                t = time.perf_counter()
                for _ in range(reps):
                    call()
                best = min(best, (time.perf_counter() - t) / reps)
            out[f"{key} {m}x{n}x{k} {ta}{tb}"] = flop / best / 1e9
    print(json.dumps(out))


def inproc(libs, only, rounds, budget, clock=time.perf_counter):
    """Single-threaded libraries in one process, interleaved call by call (no library has
    threads that spin between calls at 1 thread, so they can share a process): per shape, the
    median over ``rounds`` of each library's time for a batch of calls, taken in turns.
    ``clock``: ``time.thread_time`` counts only the CPU time this thread got (on a loaded
    machine the time other processes held the core does not count against a library)."""
    import numpy as np
    loaded = {}
    for name in libs:
        try:
            loaded[name] = load(name, 1)
        except Exception as e:          # noqa: BLE001 - an absent library is skipped
            print(f"skipped {name}: {e}")
    rng = np.random.default_rng(0)
    med: dict = {(n, 1): {} for n in loaded}
    for key in only:
        for m, n, k, ta, tb, _ in SHAPES[key]:
            a = rng.standard_normal((k, m) if ta == T else (m, k), dtype=np.float32)
            b = rng.standard_normal((n, k) if tb == T else (k, n), dtype=np.float32)
            calls = {}
            for name, lib in loaded.items():
                c = np.empty((m, n), np.float32)
                calls[name] = lib.prepare(a, b, c, ta, tb, m, n, k)
                calls[name]()
            flop = 2.0 * m * n * k
            reps = max(1, int(budget * 1e9 / flop))
            times = {name: [] for name in loaded}
            for r in range(rounds):
                for name in (list(loaded) if r % 2 == 0 else list(loaded)[::-1]):
                    t = clock()
                    for _ in range(reps):
                        calls[name]()
                    times[name].append((clock() - t) / reps)
            for name in loaded:
                med[(name, 1)][f"{key} {m}x{n}x{k} {ta}{tb}"] = \
                    flop / statistics.median(times[name]) / 1e9
    return {c: [v] for c, v in med.items()}


def split_modes(only, rounds, budget):
    """One float32 product over 2+ threads through Cadenza's helper (backend/blas.py, on the
    float32 library of this process): BLAS's own threads ("own"), the pool's row blocks
    ("rows"), the pool's blocks of the longer side ("auto"), interleaved call by call (wall
    time: threads)."""
    import numpy as np
    sys.path.insert(1, os.path.dirname(HERE))
    from cadenza.backend import blas
    lib = blas.library()
    rng = np.random.default_rng(0)
    modes = ("own", "rows", "auto")
    med: dict = {(mode, 2): {} for mode in modes}
    for key in only:
        for m, n, k, ta, tb, _ in SHAPES[key]:
            a = rng.standard_normal((k, m) if ta == T else (m, k), dtype=np.float32)
            b = rng.standard_normal((n, k) if tb == T else (k, n), dtype=np.float32)
            x, y = (a.T if ta == T else a), (b.T if tb == T else b)
            calls = {}
            for mode in modes:
                g = blas.Gemm(lib, np.float32, (m, n), exact=False)
                g.split = mode != "own"
                blas.SPLIT_DIM = mode
                g(x, y)
                calls[mode] = (lambda g=g: g(x, y))
            flop = 2.0 * m * n * k
            reps = max(1, int(budget * 1e9 / flop))
            times = {mode: [] for mode in modes}
            for r in range(rounds):
                for mode in (modes if r % 2 == 0 else modes[::-1]):
                    t = time.perf_counter()
                    for _ in range(reps):
                        calls[mode]()
                    times[mode].append((time.perf_counter() - t) / reps)
            for mode in modes:
                med[(mode, 2)][f"{key} {m}x{n}x{k} {ta}{tb}"] = \
                    flop / statistics.median(times[mode]) / 1e9
    return {c: [v] for c, v in med.items()}


# end to end: (label, environment, modes) of each configuration --e2e runs
E2E = [("numpy", {"CADENZA_BLAS": "numpy"}, ("compiled", "eager")),
       ("numpy+split", {"CADENZA_BLAS": "numpy", "CADENZA_GEMM_SPLIT": "1"},
        ("compiled", "eager")),
       ("mkl", {"CADENZA_BLAS": "mkl"}, ("compiled", "eager"))]


def e2e_child(key, mode, steps):
    """Steps/s of workload ``key`` in Cadenza (``mode``: compiled or eager), this process's
    BLAS (JSON on stdout)."""
    sys.path.insert(1, os.path.dirname(HERE))
    import cadenza
    from cadenza.backend import blas
    import step_profile
    w, _ = step_profile.build(key, cadenza, compiled=mode == "compiled")
    for _ in range(2):
        w.step()
    t = time.perf_counter()
    for _ in range(steps):
        w.step()
    dt = (time.perf_counter() - t) / steps
    print(json.dumps({"steps_s": 1.0 / dt, "f32": blas.float32_library()}))


def e2e(only, rounds, steps):
    """Each configuration of E2E in its own process per workload and mode, rounds interleaved
    (shuffled order), medians; ratios against ``numpy`` in the same mode."""
    from common import BusyCheck
    runs = [(label, env, key, mode) for label, env, modes in E2E for key in only
            for mode in modes]
    got: dict = {}
    with BusyCheck(children=True) as busy:
        for r in range(rounds):
            order = runs[:]
            random.Random(r).shuffle(order)
            for label, env, key, mode in order:
                p = subprocess.run([sys.executable, __file__, "--e2e-child", key, mode,
                                    str(steps)], capture_output=True, text=True,
                                   env=dict(os.environ, **env))
                if p.returncode != 0:
                    print(f"{label} {key} {mode}: failed: "
                          f"{(p.stderr.strip().splitlines() or ['?'])[-1]}")
                    continue
                res = json.loads(p.stdout.strip().splitlines()[-1])
                if label == "mkl" and res["f32"] != "mkl":
                    print("mkl: not in use (the mkl extra is not installed)")
                    continue
                got.setdefault((label, key, mode), []).append(res["steps_s"])
                print(f"round {r + 1}: {key} {mode} {label}: {res['steps_s']:.3f} steps/s",
                      flush=True)
    print(f"\nend to end: steps/s, median of {rounds} rounds (ratio to numpy, same mode)")
    for key in only:
        for mode in ("compiled", "eager"):
            base = got.get(("numpy", key, mode))
            for label, _, modes in E2E:
                v = got.get((label, key, mode))
                if mode not in modes or not v:
                    continue
                med = statistics.median(v)
                rat = f"{med / statistics.median(base):.2f}x" if base else "-"
                print(f"{key} {mode:<9} {label:<12} {med:8.3f} steps/s  {rat}  "
                      f"(runs: {', '.join(f'{x:.3f}' for x in v)})")
    print(f"\n{busy.note()}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--libs", default=",".join(LIBS))
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--only", default="w1,w3,w4")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--budget", type=float, default=1.0, help="time scale of one shape")
    ap.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    ap.add_argument("--inproc", action="store_true",
                    help="1 thread, every library in this process, interleaved call by call")
    ap.add_argument("--e2e", action="store_true",
                    help="W1/W3 steps/s, compiled and eager, with each BLAS configuration")
    ap.add_argument("--steps", type=int, default=4, help="timed steps per --e2e process")
    ap.add_argument("--e2e-child", nargs=3, help=argparse.SUPPRESS)
    ap.add_argument("--split", action="store_true",
                    help="one product over 2 threads in Cadenza's helper: own threads, pool "
                         "row blocks, pool row/column blocks")
    ap.add_argument("--cpu-time", action="store_true",
                    help="with --inproc: time by this thread's CPU time (a loaded machine)")
    args = ap.parse_args()
    only = args.only.split(",")
    if args.worker:
        worker(args.worker[0], int(args.worker[1]), only, args.budget)
        return
    if args.e2e_child:
        e2e_child(args.e2e_child[0], args.e2e_child[1], int(args.e2e_child[2]))
        return
    from common import BusyCheck, cpu_model
    rounds = 1 if args.quick else args.rounds
    budget = 0.2 if args.quick else args.budget
    threads = [int(t) for t in args.threads.split(",")]
    configs = [(lib, th) for th in threads for lib in args.libs.split(",")
               if not (lib == "mkl-seq" and th != 1)]
    print(f"CPU: {cpu_model()} ({os.cpu_count()} cores); {rounds} rounds", flush=True)
    if args.e2e:
        e2e([k for k in only if k in ("w1", "w3", "w4")], rounds, args.steps)
        return
    if args.split:
        with BusyCheck() as busy:
            res = split_modes(only, max(rounds, 5), budget)
        table(res, [2], only, base="own")
        print(f"\n{busy.note()}")
        return
    if args.inproc:
        for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[v] = "1"
        os.environ["MKL_THREADING_LAYER"] = "SEQUENTIAL"
        libs = [x for x in args.libs.split(",") if x not in ("mkl", "np.matmul")]
        with BusyCheck() as busy:
            res = inproc(libs, only, max(rounds, 5), budget,
                         time.thread_time if args.cpu_time else time.perf_counter)
        table(res, [1], only)
        print(f"\n{busy.note()}" + (" (timed by thread CPU time)" if args.cpu_time else ""))
        return
    res: dict = {c: [] for c in configs}
    absent: dict = {}
    with BusyCheck(children=True) as busy:
        for r in range(rounds):
            order = configs[:]
            random.Random(r).shuffle(order)
            for lib, th in order:
                if (lib, th) in absent:
                    continue
                env = dict(os.environ)
                for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                          "BLIS_NUM_THREADS"):
                    env[v] = str(th)
                if lib == "mkl-seq":
                    env["MKL_THREADING_LAYER"] = "SEQUENTIAL"
                p = subprocess.run([sys.executable, __file__, "--worker", lib, str(th),
                                    "--only", args.only, "--budget", str(budget)],
                                   capture_output=True, text=True, env=env)
                if p.returncode != 0:
                    absent[(lib, th)] = (p.stderr.strip().splitlines() or ["?"])[-1]
                    continue
                res[(lib, th)].append(json.loads(p.stdout.strip().splitlines()[-1]))
            if r < rounds - 1:
                print(f"-- after round {r + 1}", flush=True)
                table(res, threads, only)
    for c, why in absent.items():
        print(f"skipped {c[0]} at {c[1]} threads: {why}")
    table(res, threads, only)
    print(f"\n{busy.note()}")


def table(res, threads, only, base="numpy"):
    configs = [c for c in res if res[c]]
    med = {c: {s: statistics.median(r[s] for r in res[c]) for s in res[c][0]} for c in configs}
    for th in threads:
        cols = [c for c in configs if c[1] == th]
        print(f"\n{th} thread(s): GFLOP/s (ratio to {base})")
        base = (base, th)
        print(f"{'shape':<28}" + "".join(f"{c[0]:>18}" for c in cols))
        for key in only:
            total = {c: 0.0 for c in cols}
            flops = 0.0
            for m, n, k, ta, tb, cnt in SHAPES[key]:
                s = f"{key} {m}x{n}x{k} {ta}{tb}"
                row = f"{s:<28}"
                for c in cols:
                    g = med[c][s]
                    total[c] += cnt * 2.0 * m * n * k / g / 1e9
                    rat = f" ({g / med[base][s]:.2f})" if base in med else ""
                    row += f"{g:>11.1f}{rat:>7}"
                flops += cnt * 2.0 * m * n * k
                print(row)
            row = f"{key + ' step (weighted)':<28}"
            for c in cols:
                g = flops / total[c] / 1e9
                rat = f" ({total[base] / total[c]:.2f})" if base in total else ""
                row += f"{g:>11.1f}{rat:>7}"
            print(row)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
