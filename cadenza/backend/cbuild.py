"""Build C source into a shared library with the system C compiler, cached on disk.

The cache key is a hash of the source, the flags, the compiler's version and the CPU's feature
flags (kernels are built with -march=native, so a cache shared between different machines must
not hand one a library it cannot run). A second process compiling the same graph loads the
library from ``<cache_dir>/kernels/<key>.so`` without running the compiler. Libraries are
written to a temporary name and renamed, so a crash or a concurrent build never leaves a
half-written file under the final name.
"""
from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import tempfile

from .._config import cache_dir
import platform

FLAGS = ["-O3", "-march=native", "-fopenmp", "-ffp-contract=off", "-fno-math-errno", "-fwrapv",
         "-std=gnu11", "-shared", "-fPIC", "-w"]
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


_foreign: list = []


def foreign_openmp() -> bool:
    """Was an OpenMP runtime loaded by another library before our first kernel library?

    OpenMP threads that spin after a parallel region steal the cores BLAS is about to use
    (measured: 4x slower training steps on 2 cores), so ours are told to sleep
    (OMP_WAIT_POLICY=PASSIVE, read once when the runtime starts). A runtime someone else
    started (PyTorch ships its own libgomp, with spinning threads, and ours would share it:
    same soname) cannot be changed: then kernels run on the calling thread, which measured
    2x faster than sharing it (bench/compiled.py W1 beside torch). Decided once per process."""
    if not _foreign:
        try:
            with open("/proc/self/maps") as f:
                maps = f.read()
        except OSError:
            maps = ""
        _foreign.append(any(n in maps for n in ("libgomp", "libiomp", "libomp")))
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    return _foreign[0]


def parallel_kernels() -> bool:
    """Whether kernels split large loops over OpenMP threads (``CADENZA_PARALLEL_KERNELS=0/1``
    decides; by default yes from 4 cores up, without a foreign OpenMP runtime). On 2 cores
    OpenBLAS's worker spins on the second core after every matmul and a parallel kernel waits
    for it: measured 2x slower attention softmax than running on the calling thread."""
    env = parallel_env()
    if env is not None:
        return env
    return (os.cpu_count() or 1) >= 4 and not foreign_openmp()


def parallel_env():
    v = os.environ.get("CADENZA_PARALLEL_KERNELS")
    return None if v in (None, "") else v != "0"


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
    if not parallel_kernels():
        ctypes.c_int.in_dll(lib, "cz_parallel").value = 0
    _loaded[path] = lib
    return lib, path, cached
