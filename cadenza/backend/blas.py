"""GEMMs called straight into BLAS, for eager ops and compiled graphs alike: one library per
dtype, found here, used by ``ops/linalg.py`` (eager ``matmul``/``linear`` and their gradients)
and ``codegen/executor.py`` (compiled products).

Which library:
- float64: always the OpenBLAS NumPy's wheel bundles, called as NumPy calls it, so compiled
  float64 steps stay bitwise equal to eager (which runs ``np.matmul``).
- float32: NumPy's OpenBLAS by default (eager calls ``np.matmul``, compiled graphs the same
  OpenBLAS through the helper below); oneMKL with ``CADENZA_BLAS=mkl`` when the optional
  ``mkl`` wheel is installed (``pip install cadenza[blas]``): eager ``matmul``/``linear``
  then call the helper too, so both modes run MKL. Not the default: bench/blas_libs.py on a
  2-core AMD EPYC (Zen 3), thread CPU time at the workloads' shapes, measured MKL 2026.2
  single-threaded at 0.70x of NumPy's OpenBLAS 0.3.31 on W1's products (0.92x W3, 0.75x W4;
  torch.mm, MKL inside, 0.72x); an Intel CPU (AVX-512/AMX paths) is where it may pay. MKL
  runs in its sequential layer: its OpenMP threads would spin between products against
  Cadenza's pool (``backend/cpool.py``), so the pool's threads share its products (row or
  column blocks of one product, the matrices of a batch), as they do every kernel's loops.

NumPy's ``matmul`` on a batch of small matrices (attention's per-head products) calls BLAS once
per matrix and lets OpenBLAS start its threads for each; on 2 cores (and on any loaded machine)
those threads cost more than the products (measured 10x on a loaded 2-core VM: 64 products
of 128x64x128). Here one C call runs the whole batch: matrices (or, for one large product,
row or column blocks of it) are tasks of the pool, each calling BLAS single-threaded
(``openblas_set_num_threads_local(1)``; MKL's sequential layer has no threads), so no BLAS
thread wakes; transposed operands go to BLAS as transposes (no copies); ``linear``'s bias is
added to each block while it is in cache. The pool has no barrier: the calling thread
works through the tasks itself and waits only for tasks a woken worker has claimed (an
OpenMP region waits for every thread to wake: measured 50x slower than one thread on the
loaded VM).

Exactness: float64 products make NumPy's calls exactly (the same gemm per matrix, one after
another with BLAS's own threads, with the operand layout NumPy would choose after the same
copies ``ops.linalg._blas_layout`` makes). float32 batches (and single products, in
blocks) split over the pool's threads and skip copies: equal to NumPy within rounding; eager
and compiled float32 products on MKL make the same calls.

``library()`` builds the C helper bound to the libraries (None without a C compiler, with
``CADENZA_GEMM=0``, or when no known BLAS is found: the executor then keeps NumPy's
``matmul``). ``CADENZA_GEMM_THREADS`` sets the thread count (default: the cores this process
may use; 1 runs products on the calling thread). One float32 product from ``SMALL_FLOPS`` up to
``POOL_BELOW_FLOPS`` (W4's head: 2^26 by default, ``CADENZA_POOL_BELOW_LOG2``) runs over the
pool, eager products too
(``pays``), in blocks fixed by its shape and the machine's cores (``split``: the same bytes on
any thread count): one block per core (``CADENZA_GEMM_BLOCKS`` sets the count), of rows, or
of columns when the product is wider than tall (``CADENZA_GEMM_SPLIT_DIM=rows`` keeps rows);
a row block packs all of B again, a column block all of A. Larger ones (W1's) use OpenBLAS's
own threads; ``CADENZA_GEMM_SPLIT=1`` splits every one over the pool (``SPLIT_PRODUCTS``),
eager's too. Measured on a 2-core AMD EPYC (bench/gemm_in_step.py, bench/compiled.py, issue
12): with the machine to itself (the benchmark at real-time priority, ``chrt -f 10``) W1's
products reach 150-170 GFLOP/s inside the compiled step and isolated alike, on OpenBLAS's
threads or the pool, and the W1 step ran 0-6% slower on the pool; W3's step the same or
faster on the pool. With other processes on the cores it depends on the load: at load ~12
OpenBLAS's threads collapse (W1's weight gradients took 14x their single-thread CPU time,
W3's products 20-100x) and the pool does not (W1's compiled step 1.7x, W3's 10x faster on
it); at load ~8 W1 ran 20% faster on OpenBLAS's threads (the same CPU time: its statically
shared halves got more of the contended cores), W3 20% faster on the pool.
"""
from __future__ import annotations

import ctypes
import glob
import os
import site
import sys

import numpy as np

from .._config import blas_choice
from .ckernels import build_library, pool_stats
from .cpool import POOL_HEADER
from .cpu import address

ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112
PARALLEL_FLOPS = 1 << 22   # a product shares threads only with at least this much work each
SMALL_FLOPS = 1 << 24      # float32 products below this run on the calling thread alone
# one float32 product on OpenBLAS: blocks over the pool, each with single-threaded BLAS
# (True, CADENZA_GEMM_SPLIT=1), or OpenBLAS's own threads (False, the default; see the
# module's text). A library without threads of its own (MKL's sequential layer) always splits.
SPLIT_PRODUCTS = os.environ.get("CADENZA_GEMM_SPLIT", "0") == "1"
# ... except one float32 product from SMALL_FLOPS up to (not including) this many FLOPs: split
# over the pool in every mode. Each of OpenBLAS's threads then has a millisecond of work or
# less, and its threads' wake-up and wait cost as much as the product: on a loaded 2-core EPYC
# W4's linear head (3 products of 51 MFLOP a step, (64x3136)(3136x128) and its two gradients)
# took 120 ms of CPU time a step on OpenBLAS's 2 threads, against 4.2 ms single-threaded; W3's
# products (67-103 MFLOP) ran 1.2-10x faster on the pool on a loaded machine, but with the
# machine quiet (bench/compiled.py, end of the fourth 2026-12-03 session) W3's step ran 1.7x
# SLOWER on the pool (compiled 19,000 vs 33,100 samples/s, PyTorch 25,300) and W4's the same:
# the default stays 2^26 (W4's head on the pool, W3's products on OpenBLAS's threads).
# CADENZA_POOL_BELOW_LOG2=28 moves W3's products to the pool (for a loaded machine).
POOL_BELOW_FLOPS = 1 << int(os.environ.get("CADENZA_POOL_BELOW_LOG2", "26"))
# eager float32 products below this many multiply-adds stay on np.matmul (the helper's
# Python costs a few microseconds a call)
EAGER_MIN_MACS = 1 << 15

# the CBLAS gemm signatures (row-major, 64-bit integers) and OpenBLAS's per-thread thread-count
# setter, for every C source that calls the BLAS directly (this one, backend/ckernels_conv.py)
GEMM_TYPEDEFS = r"""
typedef void (*sgemm_t)(int, int, int, I, I, I, float, const float *, I, const float *, I,
                        float, float *, I);
typedef void (*dgemm_t)(int, int, int, I, I, I, double, const double *, I, const double *, I,
                        double, double *, I);
typedef int (*local_t)(int);
"""

SOURCE = r"""/* generated by cadenza.backend.blas */
#include <stdint.h>
typedef int64_t I;
""" + POOL_HEADER + GEMM_TYPEDEFS + r"""
static sgemm_t cz_sgemm;
static dgemm_t cz_dgemm;
static local_t cz_local_s, cz_local_d;

/* the gemm of each dtype and its library's per-thread thread-count setter (NULL: none, or a
   library without threads) */
void cz_blas_init(void *s, void *d, void *ls, void *ld) {
    cz_sgemm = s; cz_dgemm = d; cz_local_s = ls; cz_local_d = ld;
}

/* C[b] = A[b] B[b] (+ bias) for b < nb, row-major, C contiguous (m x n per matrix); A[b] at
   A + oa[b] (elements), transposed when ta == 112 (lda its leading dimension); same for B.
   parts: blocks per matrix, of rows (parts > 0) or of columns (parts < 0; a block then packs
   its share of B and all of A, where a row block packs all of B: the smaller operand is the
   one packed again); the nb * |parts| tasks are shared over `threads` threads of the pool
   (threads 1, or no pool: in order on this thread), as a long job (cpool.py: it skips the
   back-off small jobs set).
   BLAS itself runs single-threaded: its own threads spin-wait, and on a loaded machine one
   BLAS call per small matrix then costs 10-100x.
   threads < 0: one matrix after another with BLAS's own threads, exactly as NumPy calls it.
   bias_first: the block is filled with the bias and the product added to it (beta = 1: BLAS
   passes over C once, where beta = 0 zeroes C and the bias took a second pass over it; the
   bias then enters each sum first: float32), else the bias is added after the product (the
   order NumPy's matmul + add has: float64, bitwise eager). */
#define CZ_GEMM(NAME, T, GEMM, LOCAL) \
typedef struct { I m, n, k, parts, lda, ldb; const T *A, *B, *bias; const I *oa, *ob; \
                 int ta, tb, cols, bias_first; T *C; } NAME##_job; \
static void NAME##_task(void *ctx, I t) { \
    NAME##_job *j = ctx; \
    I m = j->m, n = j->n, parts = j->parts, b = t / parts, p = t % parts; \
    I len = j->cols ? n : m; \
    I s0 = parts == 1 ? 0 : (len * p / parts) & ~(I)7; \
    I s1 = p == parts - 1 ? len : (len * (p + 1) / parts) & ~(I)7; \
    if (s1 <= s0) return; \
    I r0 = j->cols ? 0 : s0, r1 = j->cols ? m : s1, c0 = j->cols ? s0 : 0, c1 = j->cols ? s1 : n; \
    const T *a = j->A + j->oa[b] + (j->ta == 111 ? r0 * j->lda : r0); \
    const T *bb = j->B + j->ob[b] + (j->tb == 111 ? c0 : c0 * j->ldb); \
    T *c = j->C + b * m * n + r0 * n + c0; \
    int first = j->bias && j->bias_first; \
    if (first) for (I i = 0; i < r1 - r0; i++) for (I q = 0; q < c1 - c0; q++) \
        c[i * n + q] = j->bias[c0 + q]; \
    GEMM(101, j->ta, j->tb, r1 - r0, c1 - c0, j->k, (T)1, a, j->lda, bb, j->ldb, \
         first ? (T)1 : (T)0, c, n); \
    if (j->bias && !first) for (I i = 0; i < r1 - r0; i++) for (I q = 0; q < c1 - c0; q++) \
        c[i * n + q] += j->bias[c0 + q]; \
} \
/* on a pool thread: BLAS single-threaded there too */ \
static void NAME##_pool_task(void *ctx, I t) { \
    if (LOCAL) LOCAL(1); \
    NAME##_task(ctx, t); \
} \
void NAME(I nb, I m, I n, I k, const T *A, const I *oa, int ta, I lda, const T *B, \
          const I *ob, int tb, I ldb, T *C, const T *bias, I parts, int threads, \
          int bias_first) { \
    NAME##_job j = {m, n, k, threads < 0 ? 1 : (parts < 0 ? -parts : parts), lda, ldb, A, B, \
                    bias, oa, ob, ta, tb, parts < 0, bias_first, C}; \
    if (threads < 0) { \
        for (I b = 0; b < nb; b++) NAME##_task(&j, b); \
        return; \
    } \
    int prev = LOCAL ? LOCAL(1) : 0; \
    if (cz_pool && threads > 1) cz_pool(NAME##_pool_task, &j, nb * j.parts, -threads); \
    else for (I t = 0; t < nb * j.parts; t++) NAME##_task(&j, t); \
    if (LOCAL) LOCAL(prev); \
}
CZ_GEMM(cz_gemm_f32, float, cz_sgemm, cz_local_s)
CZ_GEMM(cz_gemm_f64, double, cz_dgemm, cz_local_d)
"""

_state: dict = {}
# (sgemm, dgemm, per-thread thread count) symbol names of OpenBLAS builds, 64-bit integers:
# scipy-openblas (NumPy's wheels), plain OpenBLAS built with INTERFACE64 and a suffix
_OPENBLAS = [("scipy_cblas_sgemm64_", "scipy_cblas_dgemm64_"),
             ("cblas_sgemm64_", "cblas_dgemm64_")]
MKL_SEQUENTIAL = 1       # MKL_THREADING_SEQUENTIAL of mkl_service.h


def _candidates() -> list[str]:
    """Paths of the OpenBLAS libraries NumPy's wheel ships beside it."""
    root = os.path.dirname(np.__file__)
    pats = [os.path.join(root, "..", "numpy.libs", "*openblas*.so*"),
            os.path.join(root, ".libs", "*openblas*.so*")]
    return sorted(p for pat in pats for p in glob.glob(pat))


def _numpy_openblas():
    """(library, sgemm, dgemm, set_num_threads_local or None) of the OpenBLAS beside NumPy,
    or None (NumPy linked to another BLAS, or a 32-bit-integer build)."""
    for path in _candidates():
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for s, d in _OPENBLAS:
            if hasattr(lib, s) and hasattr(lib, d):
                return lib, getattr(lib, s), getattr(lib, d), \
                    getattr(lib, "openblas_set_num_threads_local", None)
    return None


def pointers():
    """(sgemm, dgemm, openblas_set_num_threads_local or None) of NumPy's OpenBLAS as addresses
    for a C library's init function (convolution's kernels call it directly), or None."""
    got = _numpy_openblas()
    if got is None:
        return None
    _, sgemm, dgemm, local = got
    addr = ctypes.cast
    return (addr(sgemm, ctypes.c_void_p), addr(dgemm, ctypes.c_void_p),
            addr(local, ctypes.c_void_p) if local is not None else None)


def mkl_path() -> str | None:
    """The oneMKL runtime library the ``mkl`` wheel installs (``<prefix>/lib/libmkl_rt.so.N``,
    the newest), or None."""
    bases = {sys.prefix, sys.base_prefix, getattr(site, "USER_BASE", None) or ""}
    found = sorted(p for b in bases if b for p in glob.glob(os.path.join(b, "lib",
                                                                          "libmkl_rt.so*")))
    return found[-1] if found else None


def _mkl():
    """(library, sgemm) of oneMKL in its sequential layer, or None (not installed, too old for
    the 64-bit-integer CBLAS, or it fails to load)."""
    path = mkl_path()
    if path is None:
        return None
    try:
        lib = ctypes.CDLL(path)
    except OSError:
        return None
    if not hasattr(lib, "cblas_sgemm_64") or not hasattr(lib, "MKL_Set_Threading_Layer"):
        return None
    lib.MKL_Set_Threading_Layer.argtypes = [ctypes.c_int]
    lib.MKL_Set_Threading_Layer.restype = ctypes.c_int
    lib.MKL_Set_Threading_Layer(MKL_SEQUENTIAL)    # before any other call into MKL
    return lib, lib.cblas_sgemm_64


def float32_library() -> str:
    """The library float32 products run on: ``"numpy"`` (NumPy's BLAS, the default) or
    ``"mkl"`` (``CADENZA_BLAS=mkl``, the ``mkl`` wheel installed and a C compiler to build the
    helper that calls it)."""
    if "f32" not in _state:
        library()
    return _state["f32"]


def library():
    """The helper library with ``cz_gemm_f32``/``cz_gemm_f64`` bound to the BLAS of each dtype
    (``float32_library()``; float64 always NumPy's OpenBLAS), or None (no C compiler,
    ``CADENZA_GEMM=0``, or no BLAS found). Without NumPy's OpenBLAS but with MKL, only
    float32 is bound (``bound``)."""
    if "lib" in _state:
        return _state["lib"]
    _state["lib"], _state["f32"], _state["bound"] = None, "numpy", ()
    if os.environ.get("CADENZA_GEMM", "1") == "0":
        return None
    ob = _numpy_openblas()
    mkl = _mkl() if blas_choice() == "mkl" else None
    if ob is None and mkl is None:
        return None
    lib = build_library(SOURCE)      # None without a C compiler or when the build fails
    if lib is None:
        return None
    ptr = lambda f: None if f is None else ctypes.cast(f, ctypes.c_void_p)
    s_gemm, s_local = (mkl[1], None) if mkl else (ob[1], ob[3])
    d_gemm, d_local = (ob[2], ob[3]) if ob else (None, None)
    lib.cz_blas_init(ptr(s_gemm), ptr(d_gemm), ptr(s_local), ptr(d_local))
    for name in ("cz_gemm_f32", "cz_gemm_f64"):
        f = getattr(lib, name)
        f.restype = None
        f.argtypes = [ctypes.c_int64] * 4 + [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int,
                                              ctypes.c_int64] * 2 + \
            [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int, ctypes.c_int]
    _state["lib"] = lib
    _state["f32"] = "mkl" if mkl else "numpy"
    _state["bound"] = (np.dtype(np.float32),) + ((np.dtype(np.float64),) if ob else ())
    # float32 products: the library splits its own products over its threads (OpenBLAS), or
    # has none and the pool splits them (MKL's sequential layer)
    _state["own_threads"] = mkl is None
    # the pool's tasks can run float32 BLAS single-threaded
    _state["threads_local"] = mkl is not None or ob[3] is not None
    return lib


def bound(dtype) -> bool:
    """Whether ``library()`` calls a BLAS for products of ``dtype``."""
    return library() is not None and np.dtype(dtype) in _state["bound"]


def stats() -> dict:
    """The thread pool's counters (``cadenza.backend.cbuild.pool_stats``; {} without BLAS)."""
    return {} if library() is None else pool_stats()


def cores() -> int:
    """The cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def threads() -> int:
    """Threads a batch of products is shared over (``CADENZA_GEMM_THREADS``; default the cores
    this process may use; 1 without per-thread BLAS thread control)."""
    v = os.environ.get("CADENZA_GEMM_THREADS")
    if v:
        return max(1, int(v))
    if not _state.get("threads_local"):
        return 1
    return cores()


def _operand(a, itemsize):
    """(trans flag, leading dimension) of the matrices of ``a`` (last two dims) as NumPy's
    matmul hands them to BLAS, or None when BLAS cannot take them."""
    sm, sk = a.strides[-2], a.strides[-1]
    rows, cols = a.shape[-2], a.shape[-1]
    if rows == 1:          # the stride of a dimension of size 1 is never used
        sm = cols * itemsize
    if cols == 1:
        sk = itemsize
    if sk == itemsize and sm % itemsize == 0 and sm // itemsize >= cols:
        return NO_TRANS, sm // itemsize
    if sm == itemsize and sk % itemsize == 0 and sk // itemsize >= rows:
        return TRANS, sk // itemsize
    return None


def _offsets(a, batch: tuple, itemsize) -> np.ndarray:
    """Element offsets of the matrices of ``a`` broadcast over ``batch``."""
    lead = a.ndim - 2
    strides = [0] * (len(batch) - lead) + [s // itemsize if d != 1 else 0
                                           for s, d in zip(a.strides[:lead], a.shape[:lead])]
    off = np.zeros(batch, np.int64)
    for ax, s in enumerate(strides):
        if s:
            shape = [1] * len(batch)
            shape[ax] = batch[ax]
            off = off + np.arange(batch[ax], dtype=np.int64).reshape(shape) * s
    return np.ascontiguousarray(off.reshape(-1))


# how one product is split over the pool's threads (bench/blas_libs.py --split): "rows" (row
# blocks, each packing all of B again), "auto" (blocks of the longer of m and n: the block
# packs the other operand again, the smaller one)
SPLIT_DIM = os.environ.get("CADENZA_GEMM_SPLIT_DIM", "auto")
# blocks of one product (CADENZA_GEMM_BLOCKS; 0: one per core, at least two)
BLOCKS = int(os.environ.get("CADENZA_GEMM_BLOCKS", "0") or 0)


def split(m: int, n: int, threads: int, how: str | None = None) -> int:
    """The blocks one (m x n) product is split in over ``threads`` threads: > 0 row blocks,
    < 0 column blocks. Blocks of >= 64 rows (columns), one per thread: each block packs an
    operand again (bench/blas_libs.py: two row blocks of W1's and W3's products cost 0-3%
    more CPU than one call, four 2-15%; blocks of the shorter dimension up to 35%)."""
    how = how or SPLIT_DIM
    if how == "auto" and n > m:
        return -max(1, min(threads, n // 64))
    return max(1, min(threads, m // 64))


class Gemm:
    """One product's call: ``Gemm(lib, dtype, out_shape)(a, b, bias) -> out`` or None when
    the operands do not suit (the caller then uses NumPy)."""

    def __init__(self, lib, dtype, out_shape: tuple, exact: bool, copies: bool = False):
        self.fn = lib.cz_gemm_f32 if dtype == np.float32 else lib.cz_gemm_f64
        self.dtype = np.dtype(dtype)
        self.out_shape = out_shape
        self.exact = exact            # float64: reproduce NumPy's calls bit for bit
        self.copies = copies and exact   # ... after the copies Matmul.forward makes
        self.threads = threads()
        # one product on the library's own threads (OpenBLAS) or in blocks on the pool: None
        # follows SPLIT_PRODUCTS (read at each call: bench/threads.py switches it) and the
        # library (MKL's sequential layer has no threads of its own)
        self.split = None
        self.own = _state.get("own_threads", True)
        self.memo: dict = {}

    def _layout(self, a, b):
        key = (a.strides, b.strides, a.shape, b.shape)
        got = self.memo.get(key)
        if got is None:
            sz = self.dtype.itemsize
            la, lb = _operand(a, sz), _operand(b, sz)
            if la is None or lb is None:
                got = False
            else:
                batch = self.out_shape[:-2]
                m, k, n = a.shape[-2], a.shape[-1], b.shape[-1]
                nb = int(np.prod(batch, dtype=np.int64))
                parts = 1
                if nb == 1 and not self.exact:
                    # one product: blocks by its shape and the machine's cores, not by the
                    # threads that run them (OpenBLAS's edge kernels round other column
                    # blocks differently): the same bytes on any thread count
                    parts = split(m, n, BLOCKS or max(2, cores()))
                elif nb < self.threads and not self.exact:
                    parts = split(m, n, self.threads)
                oa, ob = _offsets(a, batch, sz), _offsets(b, batch, sz)
                # the offset arrays live in the memo with their addresses
                got = (nb, m, n, k, la, lb, (oa, address(oa)), (ob, address(ob)), parts)
            if len(self.memo) < 16:
                self.memo[key] = got
        return got

    def __call__(self, a, b, bias=None):
        if self.copies:
            # the copies eager's Matmul.forward makes (ops.linalg._blas_layout)
            if not (a.flags.c_contiguous or a.flags.f_contiguous):
                a = np.ascontiguousarray(a)
            if not (b.flags.c_contiguous or b.flags.f_contiguous):
                b = np.ascontiguousarray(b)
        pa, pb = address(a), address(b)
        if pa == pb:   # NumPy's syrk case (A A^T of one buffer)
            return None
        got = self._layout(a, b)
        if got is False:
            return None
        nb, m, n, k, (ta, lda), (tb, ldb), (_, poa), (_, pob), parts = got
        out = np.empty(self.out_shape, self.dtype)
        flops = 2 * nb * m * n * k
        pool = self.split
        if pool is None:
            # on OpenBLAS only with per-thread thread control (else its threads run each block)
            pool = not self.own or (_state.get("threads_local", False) and (
                SPLIT_PRODUCTS or SMALL_FLOPS <= flops < POOL_BELOW_FLOPS))
        if self.exact or (nb == 1 and not pool and flops >= SMALL_FLOPS):
            # float64: NumPy's calls exactly. One float32 product from POOL_BELOW_FLOPS on
            # OpenBLAS's own threads (unless CADENZA_GEMM_SPLIT=1)
            threads = -1
        else:
            # a float32 batch, or one product in blocks fixed by its shape (``parts``: the same
            # bytes on any thread count; one thread runs them in order), over the pool; a
            # product below SMALL_FLOPS (a decoding prompt's 16 rows) on this thread alone:
            # OpenBLAS's own threads cost more than it (measured 30 ms a call for
            # (16x256)(256x1024) on a loaded 2-core EPYC, the caller spinning meanwhile)
            threads = self.threads if flops >= SMALL_FLOPS else 1
            # waking a thread costs more than a small product (decoding steps)
            threads = max(1, min(threads, flops // PARALLEL_FLOPS))
            if nb > 1 or flops < SMALL_FLOPS:
                parts = 1 if threads <= 1 else parts
        self.fn(nb, m, n, k, pa, poa, ta, lda, pb, pob, tb, ldb, address(out),
                None if bias is None else address(bias), parts, threads, not self.exact)
        return out


def suits(a_shape: tuple, b_shape: tuple, dtype) -> bool:
    """Whether a product of these (recorded) operand shapes goes to ``Gemm``: float32/64 matrices
    (at least 2-d) without a dimension of 1 in the product (NumPy uses gemv/dot there, which
    round differently from gemm: compiled graphs stay equal to eager on small products), of a
    dtype ``library()`` has a BLAS for."""
    if np.dtype(dtype) not in (np.float32, np.float64) or len(a_shape) < 2 or len(b_shape) < 2:
        return False
    m, k, n = a_shape[-2], a_shape[-1], b_shape[-1]
    return min(m, k, n) > 1 and b_shape[-2] == k and bound(dtype)


# ----------------------------------------------------------------------------- eager products
_eager: dict = {}


def eager_float32() -> bool:
    """Whether eager float32 products go through ``product``, not ``np.matmul``: with MKL in
    use, and with ``CADENZA_GEMM_SPLIT=1`` (products split over the pool, not on OpenBLAS's
    threads: on a loaded 2-core EPYC, W3 eager went from 1.9 to 13 steps/s this way on MKL,
    bench/blas_libs.py --e2e)."""
    on = _state.get("eager")
    if on is None:   # by default nothing is built here: eager keeps np.matmul (or ``pays``)
        on = _state["eager"] = (
            (blas_choice() == "mkl" and mkl_path() is not None and float32_library() == "mkl")
            or (SPLIT_PRODUCTS and bound(np.float32) and _state.get("threads_local", False)))
    return on


def pays(a, b) -> bool:
    """Whether eager's float32 product ``a @ b`` (NumPy arrays) goes to ``product`` when
    ``eager_float32()`` is off: a single product of SMALL_FLOPS to POOL_BELOW_FLOPS FLOPs,
    split over the pool as compiled graphs split it (np.matmul would wake OpenBLAS's threads)."""
    if a.ndim != 2 or b.ndim != 2 or not bound(np.float32):
        return False
    return SMALL_FLOPS <= 2 * a.shape[0] * a.shape[1] * b.shape[-1] < POOL_BELOW_FLOPS


def product(a, b, bias=None):
    """``a @ b`` (+ ``bias``) of float32 NumPy arrays (at least 2-d, the same dtype) on the
    float32 library, as compiled graphs call it; None when it does not suit (shapes that do
    not fit, a dimension of 1, a product too small to pay the call, operands BLAS cannot
    take): the caller uses NumPy."""
    if a.ndim < 2 or b.ndim < 2 or a.dtype != np.float32 or b.dtype != np.float32:
        return None
    m, k, n = a.shape[-2], a.shape[-1], b.shape[-1]
    # ops check their operands only when NumPy fails: what does not fit goes back to NumPy
    # (which fails, and the op's check explains), never to BLAS
    if b.shape[-2] != k or (bias is not None and (bias.shape != (n,) or
                                                  bias.dtype != np.float32)):
        return None
    if min(m, k, n) <= 1 or m * n * k < EAGER_MIN_MACS:
        return None
    key = (a.shape, b.shape)
    g = _eager.get(key)
    if g is None:
        try:
            batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        except ValueError:
            return None
        if len(_eager) >= 256:
            _eager.clear()
        g = _eager[key] = Gemm(library(), np.float32, batch + (m, n), exact=False)
    if bias is not None and not bias.flags.c_contiguous:
        bias = np.ascontiguousarray(bias)
    return g(a, b, bias)
