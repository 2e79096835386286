"""Build C source into a shared library with the system C compiler, cached on disk.

The cache key is a hash of the source, the flags, the compiler's version and the CPU's feature
flags (kernels are built with -march=native, so a cache shared between different machines must
not hand one a library it cannot run). A second process compiling the same graph loads the
library from ``<cache_dir>/kernels/<key>.so`` without running the compiler. Libraries are
written to a temporary name and renamed, so a crash or a concurrent build never leaves a
half-written file under the final name.

Libraries whose source calls the thread pool (``cpool.POOL_HEADER``) get ``cz_pool`` pointed at
the pool's runtime library (``runtime()``, built here like any library); ``kernel_threads()``,
``set_kernel_threads()`` and ``pool_stats()`` are its settings and counters.
"""
from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import tempfile

from .._config import cache_dir
from .cpool import POOL_HEADER, RUNTIME
import platform

# -fopenmp-simd: the `omp simd` pragmas only (threads come from cpool.RUNTIME, not OpenMP)
FLAGS = ["-O3", "-march=native", "-fopenmp-simd", "-pthread", "-ffp-contract=off",
         "-fno-math-errno", "-fwrapv", "-std=gnu11", "-shared", "-fPIC", "-w"]
# vectorised libm (glibc's libmvec); without it (another libc) kernels call scalar libm
VECTOR_MATH = ["-DCZ_VECTOR_MATH", "-lmvec"]
_compiler_id: dict = {}
_loaded: dict = {}


class CompileError(RuntimeError):
    """The C compiler rejected generated source (a bug in codegen): the message has its log."""


def compiler() -> str | None:
    """The C compiler to use (``$CC`` or ``cc``), or None when there is none."""
    cc = os.environ.get("CC") or "cc"
    return shutil.which(cc)


def _identity(cc: str) -> str:
    if cc not in _compiler_id:
        try:
            version = subprocess.run([cc, "--version"], capture_output=True, text=True,
                                     timeout=30).stdout
        except (OSError, subprocess.SubprocessError):
            version = ""
        _compiler_id[cc] = version + _cpu_flags()
    return _compiler_id[cc]


def _cpu_flags() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return line
    except OSError:
        pass
    return platform.processor() or platform.machine()


_runtime: dict = {}


def kernel_threads() -> int:
    """Threads a kernel's tasks are shared over: ``CADENZA_KERNEL_THREADS`` if set, 1 with
    ``CADENZA_PARALLEL_KERNELS=0``, else the cores this process may use."""
    v = os.environ.get("CADENZA_KERNEL_THREADS")
    if v:
        return max(1, int(v))
    if os.environ.get("CADENZA_PARALLEL_KERNELS") == "0":
        return 1
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def runtime():
    """The pool's library (built once, cached like kernels), or None without a compiler."""
    if "lib" not in _runtime:
        _runtime["lib"] = None
        try:
            lib = build(RUNTIME)[0]
        except (CompileError, OSError):
            return None
        lib.cz_run.restype = None
        lib.cz_run.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int]
        ctypes.c_int.in_dll(lib, "cz_threads").value = kernel_threads()
        ctypes.c_int64.in_dll(lib, "cz_spin_ns").value = \
            int(float(os.environ.get("CADENZA_POOL_SPIN_US", "50")) * 1000)
        ctypes.c_double.in_dll(lib, "cz_backoff_wait").value = \
            float(os.environ.get("CADENZA_POOL_BACKOFF_US", "200")) * 1e-6
        _runtime["lib"] = lib
    return _runtime["lib"]


def set_kernel_threads(n: int | None = None) -> int:
    """Set the pool's thread count for every kernel from now on (None: back to
    ``kernel_threads()``); returns the previous count. Results do not depend on it."""
    lib = runtime()
    if lib is None:
        return 1
    v = ctypes.c_int.in_dll(lib, "cz_threads")
    prev = v.value
    v.value = kernel_threads() if n is None else max(1, int(n))
    return prev


def pool_stats() -> dict:
    """The pool's counters: jobs shared between threads, back-offs (the caller waited longer
    for a worker than it worked: the next 64 jobs run on the caller alone, products' blocks
    only after a wait over ``CADENZA_POOL_BACKOFF_US``, default 200 us), seconds waited
    and seconds worked by the caller in shared jobs, tasks run by workers, jobs offered
    (calls with more than one task, shared or run on the caller alone) and the tasks of the
    shared jobs (``worker_tasks / shared_tasks``: the share the second core took)."""
    lib = runtime()
    if lib is None:
        return {}
    v = list((ctypes.c_double * 7).in_dll(lib, "cz_stats"))
    return {"shared_jobs": int(v[0]), "backoffs": int(v[1]), "waited_s": v[2], "worked_s": v[3],
            "worker_tasks": int(v[4]), "jobs": int(v[5]), "shared_tasks": int(v[6])}


def library_key(source: str, cc: str) -> str:
    h = hashlib.sha256()
    for part in (source, " ".join(FLAGS + VECTOR_MATH), _identity(cc)):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()[:32]


def build(source: str) -> tuple[ctypes.CDLL, str, bool]:
    """(library, path, from_cache). Raises CompileError if the compiler fails."""
    cc = compiler()
    if cc is None:
        raise CompileError("no C compiler found (set CC or install cc)")
    key = library_key(source, cc)
    folder = os.path.join(cache_dir(), "kernels")
    path = os.path.join(folder, f"{key}.so")
    if path in _loaded:
        return _loaded[path], path, True
    cached = os.path.exists(path)
    if not cached:
        os.makedirs(folder, exist_ok=True)
        fd, tmp_c = tempfile.mkstemp(suffix=".c", dir=folder)
        tmp_so = tmp_c[:-2] + ".so"
        try:
            with os.fdopen(fd, "w") as f:
                f.write(source)
            for extra in (VECTOR_MATH, []):
                proc = subprocess.run([cc, *FLAGS, tmp_c, "-o", tmp_so, *extra, "-lm"],
                                      capture_output=True, text=True)
                if proc.returncode == 0:
                    break
            if proc.returncode != 0:
                raise CompileError(f"{cc} failed on generated kernels ({tmp_c}):\n"
                                   f"{proc.stderr[-4000:]}")
            os.replace(tmp_so, path)
            os.replace(tmp_c, path[:-3] + ".c")      # kept beside it for reading
        finally:
            for p in (tmp_so,):
                if os.path.exists(p):
                    os.unlink(p)
    lib = ctypes.CDLL(path)
    rest = source.replace(POOL_HEADER, "")
    if "cz_for(" in rest or "cz_pool" in rest:       # a library with tasks: attach the pool
        pool = runtime()
        if pool is not None:
            ctypes.c_void_p.in_dll(lib, "cz_pool").value = \
                ctypes.cast(pool.cz_run, ctypes.c_void_p).value
    _loaded[path] = lib
    return lib, path, cached
