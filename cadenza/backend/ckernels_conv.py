"""Convolution's matrix products (ops/conv.py) on Cadenza's thread pool: one product split into
tasks of row blocks x column blocks (x chunks of the inner dimension, whose partial products
are then summed in chunk order), each task one single-threaded call into NumPy's OpenBLAS
(backend/openblas.py). OpenBLAS's own threads wait for each other inside every product: on a
loaded 2-core EPYC np.matmul of W4's first layer (32x9)(9x50176) took 24 ms against 1.3 ms as
tasks of the pool; and between the pool's kernels and BLAS's threads both spinning, W4's
weight-gradient products ran at a fifth of the machine's GEMM rate.

The split is a function of the product's shape only (``blocks``), never of the thread count,
so results do not depend on it. Blocks of rows or columns leave every element's sum over the
inner dimension as one BLAS call makes it; chunks of the inner dimension (only for products
with a small output and a long sum: weight gradients) round differently from one call, the
same way on every path. ``product`` runs the same blocks through ``np.matmul`` when the C
library is not there (no compiler, no OpenBLAS beside NumPy, ``ckernels.enabled`` off).
float64 products run their blocks one after another with BLAS's own threads, as np.matmul
calls it, so both paths give the same bits (as codegen/blas.py keeps float64 exact); float32
blocks are the pool's tasks with single-threaded BLAS, whose sgemm takes another path for
small products than its threaded one: within rounding of the NumPy form.
"""
from __future__ import annotations

import ctypes

import numpy as np

from . import ckernels, openblas
from .cpool import POOL_HEADER

_SOURCE = r"""
#include <stdlib.h>
#include <string.h>
""" + POOL_HEADER + r"""
typedef int64_t I;
typedef void (*sgemm_t)(int, int, int, I, I, I, float, const float *, I, const float *, I,
                        float, float *, I);
typedef void (*dgemm_t)(int, int, int, I, I, I, double, const double *, I, const double *, I,
                        double, double *, I);
typedef int (*local_t)(int);
static sgemm_t cz_sgemm;
static dgemm_t cz_dgemm;
static local_t cz_local;

void cz_conv_blas_init(void *s, void *d, void *l) { cz_sgemm = s; cz_dgemm = d; cz_local = l; }

/* the cut before block p of `parts` over `total` (ops share the formula: ckernels_conv.cuts) */
static inline I cz_cut(I total, I parts, I p, I align) {
    if (p <= 0) return 0;
    if (p >= parts) return total;
    return total * p / parts / align * align;
}

#define CZ_CONV_GEMM(S, T, GEMM)                                                              \
typedef struct { I M, N, K, mb, nb, kc, lda, ldb; int ta, tb; const T *A, *B; T *C, *part;  \
                 I sums; int exact; } gemm_job_##S;                                                                             \
/* task t: row block p, column block q, inner chunk c (t = (p * nb + q) * kc + c) */          \
static void gemm_task_##S(void *ctx, int64_t t) {                                             \
    const gemm_job_##S *j = ctx;                                                              \
    I c = t % j->kc, q = t / j->kc % j->nb, p = t / j->kc / j->nb;                            \
    I r0 = cz_cut(j->M, j->mb, p, 8), r1 = cz_cut(j->M, j->mb, p + 1, 8);                     \
    I c0 = cz_cut(j->N, j->nb, q, 16), c1 = cz_cut(j->N, j->nb, q + 1, 16);                   \
    I k0 = cz_cut(j->K, j->kc, c, 16), k1 = cz_cut(j->K, j->kc, c + 1, 16);                   \
    if (r1 <= r0 || c1 <= c0) return;                                                         \
    if (cz_local && !j->exact) cz_local(1);                                                   \
    const T *a = j->A + (j->ta == 111 ? r0 * j->lda + k0 : k0 * j->lda + r0);                 \
    const T *b = j->B + (j->tb == 111 ? k0 * j->ldb + c0 : c0 * j->ldb + k0);                 \
    T *out = j->kc == 1 ? j->C : j->part + c * j->M * j->N;                                   \
    if (k1 <= k0) {                                                                           \
        for (I r = r0; r < r1; r++) memset(out + r * j->N + c0, 0, sizeof(T) * (c1 - c0));    \
        return;                                                                               \
    }                                                                                         \
    GEMM(101, j->ta, j->tb, r1 - r0, c1 - c0, k1 - k0, (T)1, a, j->lda, b, j->ldb, (T)0,      \
         out + r0 * j->N + c0, j->N);                                                         \
}                                                                                             \
/* C[e] = part[0][e] + part[1][e] + ... in chunk order, over `sums` tasks of elements */      \
static void gemm_sum_##S(void *ctx, int64_t t) {                                              \
    const gemm_job_##S *j = ctx;                                                              \
    I total = j->M * j->N, e0 = total * t / j->sums, e1 = total * (t + 1) / j->sums;          \
    for (I e = e0; e < e1; e++) {                                                             \
        T s = j->part[e];                                                                     \
        for (I c = 1; c < j->kc; c++) s += j->part[c * total + e];                            \
        j->C[e] = s;                                                                          \
    }                                                                                         \
}                                                                                             \
/* C (M x N, contiguous) = op(A) op(B); ta/tb 111 (as stored) or 112 (transposed), lda/ldb   \
   their leading dimensions; part: kc * M * N scratch when kc > 1. exact: the blocks one     \
   after another on this thread, each a BLAS call with BLAS's own threads, as np.matmul      \
   makes it (float64: the same bits as the NumPy form) */                                    \
void cz_conv_gemm_##S(I M, I N, I K, const T *A, int ta, I lda, const T *B, int tb, I ldb,    \
                      T *C, T *part, I mb, I nb, I kc, int exact) {                           \
    gemm_job_##S j = {M, N, K, mb, nb, kc, lda, ldb, ta, tb, A, B, C, part,                   \
                      M * N >= 4096 ? 64 : 1, exact};                                         \
    if (exact) {                                                                              \
        for (I t = 0; t < mb * nb * kc; t++) gemm_task_##S(&j, t);                            \
    } else {                                                                                  \
        int prev = cz_local ? cz_local(1) : 0;                                                \
        cz_for(gemm_task_##S, &j, mb * nb * kc);                                              \
        if (cz_local) cz_local(prev);                                                         \
    }                                                                                         \
    if (kc > 1) cz_for(gemm_sum_##S, &j, j.sums);                                             \
}
CZ_CONV_GEMM(f32, float, cz_sgemm)
CZ_CONV_GEMM(f64, double, cz_dgemm)
"""

_state: dict = {}
_TASK_FLOPS = 1 << 23     # about 8 MFLOP per task (a fraction of a millisecond)
_MAX_TASKS = 32
_NO_TRANS, _TRANS = 111, 112


def library():
    """The built library with OpenBLAS attached, or None (no compiler, no OpenBLAS)."""
    if "lib" not in _state:
        _state["lib"] = None
        ptrs = openblas.pointers() if ckernels.lib() is not None else None
        if ptrs is not None:
            from . import cbuild  # reason: its subprocess/hashlib/tempfile load on first use
            try:
                lib = cbuild.build(_SOURCE)[0]
            except (cbuild.CompileError, OSError):
                lib = None
            if lib is not None:
                lib.cz_conv_blas_init(*ptrs)
                P, L, i = ctypes.c_void_p, ctypes.c_int64, ctypes.c_int
                for s in ("f32", "f64"):
                    fn = getattr(lib, f"cz_conv_gemm_{s}")
                    fn.argtypes, fn.restype = [L, L, L, P, i, L, P, i, L, P, P, L, L, L, i], None
            _state["lib"] = lib
    return _state["lib"]


def blocks(m: int, n: int, k: int) -> tuple[int, int, int]:
    """(row blocks, column blocks, inner chunks) of an (m x k)(k x n) product: about one task
    per 8 MFLOP (at most 32), columns split first (blocks of >= 128), then rows (>= 64), then
    the inner dimension (chunks of >= 1024) when the output is too small to split."""
    want = max(1, min(_MAX_TASKS, 2 * m * n * k // _TASK_FLOPS))
    nb = max(1, min(want, n // 128))
    mb = max(1, min(want // nb, m // 64))
    kc = max(1, min(want // (nb * mb), k // 1024))
    return mb, nb, kc


def cuts(total: int, parts: int, align: int) -> list[int]:
    """Block boundaries, as the C kernel's cz_cut computes them."""
    return [0] + [total * p // parts // align * align for p in range(1, parts)] + [total]


def _operand(a):
    """(trans flag, leading dimension) of a 2-d array for BLAS, or None."""
    sz = a.itemsize
    s0, s1 = a.strides
    r, c = a.shape
    if r == 1:
        s0 = c * sz
    if c == 1:
        s1 = sz
    if s1 == sz and s0 % sz == 0 and s0 // sz >= c:
        return _NO_TRANS, s0 // sz
    if s0 == sz and s1 % sz == 0 and s1 // sz >= r:
        return _TRANS, s1 // sz
    return None


def product(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a (m, k) @ b (k, n), NumPy float32/float64 arrays of one dtype, in ``blocks``."""
    m, k = a.shape
    n = b.shape[1]
    mb, nb, kc = blocks(m, n, k)
    out = np.empty((m, n), dtype=a.dtype)
    part = np.empty((kc, m, n), dtype=a.dtype) if kc > 1 else None
    # NumPy multiplies a row or a column by gemv (another rounding than gemm): those stay NumPy's
    lib = library() if ckernels.enabled and a.dtype in (np.float32, np.float64) and \
        b.dtype == a.dtype and min(m, n) > 1 else None
    if lib is not None:
        la, lb = _operand(a), _operand(b)
        if la is None:
            a = np.ascontiguousarray(a)
            la = _operand(a)
        if lb is None:
            b = np.ascontiguousarray(b)
            lb = _operand(b)
        fn = lib.cz_conv_gemm_f32 if a.dtype == np.float32 else lib.cz_conv_gemm_f64
        fn(m, n, k, a.ctypes.data, la[0], la[1], b.ctypes.data, lb[0], lb[1], out.ctypes.data,
           ckernels.ptr(part), mb, nb, kc, int(a.dtype == np.float64))
        return out
    rows, cols, inner = cuts(m, mb, 8), cuts(n, nb, 16), cuts(k, kc, 16)
    dst = out if part is None else part
    for c in range(kc):
        d = dst if part is None else dst[c]
        for p in range(mb):
            for q in range(nb):
                r0, r1, c0, c1 = rows[p], rows[p + 1], cols[q], cols[q + 1]
                if r1 > r0 and c1 > c0:
                    np.matmul(a[r0:r1, inner[c]:inner[c + 1]],
                              b[inner[c]:inner[c + 1], c0:c1], out=d[r0:r1, c0:c1])
    if part is not None:
        np.copyto(out, part[0])
        for c in range(1, kc):
            out += part[c]
    return out
