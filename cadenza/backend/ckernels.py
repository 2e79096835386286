"""Hand-written C kernels that eager NumPy ops call through ctypes: the data movement around
convolution's whole-batch GEMM (the (O, N, L) <-> (N, O, L) transposes with the bias added;
im2col, col2im and the GEMMs are backend/ckernels_conv.py's) and max pooling's gradient over
overlapping windows; and float32 scaled dot-product attention, forward and backward
(ops/attention.py), which computes (within rounding of the composite, not bit for bit: see the
attention section below).

The library is built on first use with the system C compiler into the same disk cache as the
compiled graphs' kernels (backend/cbuild.py), so a process pays the compiler once per machine.
``lib()`` is None when there is no compiler or the build fails: every caller then runs its NumPy
form, which computes the same values in the same order (the layout kernels only move data), so
the two paths agree bit for bit. The recurrent step kernels (_RNN_TEMPLATE, ops/activation.py's
layer primitives) are the exception: they compute sigmoid/tanh with libm, within a few ulp of
their NumPy form.
``enabled`` switches the kernels off in-process (tests compare both paths).
"""
from __future__ import annotations

import ctypes

import numpy as np

from .cpool import POOL_HEADER
from .cpu import address

enabled = True
_state: dict = {}

_TEMPLATE = r"""
#include <stdlib.h>
#include <string.h>
#include <math.h>
""" + POOL_HEADER + r"""
/* a kernel's arguments and the function computing iterations [lo, hi) of its outer loop: the
   loop is split into up to 64 tasks of consecutive iterations over the thread pool (one task
   below 32K elements of work); iterations write disjoint outputs */
typedef struct cz_args {
    const void *p[5]; void *o; long v[14]; long total, tasks;
    void (*range)(const struct cz_args *, long, long);
    double d;
} cz_args;
static void cz_args_task(void *p, int64_t t) {
    const cz_args *a = p;
    a->range(a, a->total * t / a->tasks, a->total * (t + 1) / a->tasks);
}
static void cz_split(cz_args *a, long total, long work) {
    a->total = total;
    a->tasks = work < (1L << 15) || total < 2 ? 1 : total < 64 ? total : 64;
    cz_for(cz_args_task, a, a->tasks);
}
#define CZ_W 16      /* columns summed at once by add_rows (one vector register or two) */
#define DEFINE(T, S)                                                                          \
/* out[n, o, l] = src[o, n, l] (+ bias[o]): the GEMM's (O, N*L) result as NCHW */             \
static void onl_to_nol_range_##S(const cz_args* a, long lo, long hi) {                        \
    const T* restrict src = a->p[0]; const T* restrict bias = a->p[1]; T* restrict out = a->o; \
    long O = a->v[0], N = a->v[1], L = a->v[2];                                               \
    for (long u = lo; u < hi; u++) {                                                          \
        long n = u / O, o = u % O;                                                            \
        const T* s = src + (o * N + n) * L; T* d = out + (n * O + o) * L;                     \
        if (bias) { T b = bias[o]; for (long l = 0; l < L; l++) d[l] = s[l] + b; }            \
        else for (long l = 0; l < L; l++) d[l] = s[l];                                        \
    }                                                                                         \
}                                                                                             \
void cz_onl_to_nol_##S(const T* restrict src, const T* restrict bias, T* restrict out,        \
                       long O, long N, long L) {                                              \
    cz_args a = {{src, bias}, out, {O, N, L}, 0, 0, onl_to_nol_range_##S};                    \
    cz_split(&a, N * O, N * O * L);                                                           \
}                                                                                             \
/* max pooling's gradient where windows overlap: each window's winner is its first real       \
   element equal to out (the last NaN when out is NaN), and gx sums g over the windows each   \
   element wins from 0, window element k = i*kw + j by k, as ops/pool.py scatters it (where   \
   windows do not overlap NumPy's strided passes are as fast) */                              \
static void maxpool_bwd_range_##S(const cz_args* a, long lo, long hi) {                       \
    const T* restrict g = a->p[0]; const T* restrict x = a->p[1];                             \
    const T* restrict out = a->p[2]; T* restrict gx = a->o;                                   \
    long H = a->v[0], W = a->v[1], kh = a->v[2], kw = a->v[3], sh = a->v[4], sw = a->v[5];    \
    long ph = a->v[6], pw = a->v[7], dh = a->v[8], dw = a->v[9], oh = a->v[10];               \
    long ow = a->v[11];                                                                       \
    {                                                                                         \
    int* win = malloc(sizeof(int) * oh * ow);                                                 \
    for (long p = lo; p < hi; p++) {                                                          \
        const T* src = x + p * H * W; const T* o_ = out + p * oh * ow;                        \
        const T* gp = g + p * oh * ow; T* dst = gx + p * H * W;                               \
        for (long e = 0; e < H * W; e++) dst[e] = 0;                                          \
        for (long yo = 0; yo < oh; yo++) for (long xo = 0; xo < ow; xo++) {                   \
            T o = o_[yo * ow + xo]; long best = -1, nan = o != o;                             \
            for (long i = 0; i < kh && (nan || best < 0); i++) {                              \
                long r = yo * sh - ph + i * dh;                                               \
                if (r < 0 || r >= H) continue;                                                \
                for (long j = 0; j < kw; j++) {                                               \
                    long q = xo * sw - pw + j * dw;                                           \
                    if (q < 0 || q >= W) continue;                                            \
                    T v = src[r * W + q];                                                     \
                    if (nan ? v != v : v == o) { best = i * kw + j; if (!nan) break; }        \
                }                                                                             \
            }                                                                                 \
            win[yo * ow + xo] = (int)best;                                                    \
        }                                                                                     \
        for (long k = 0; k < kh * kw; k++) {                                                  \
            long i = k / kw, j = k - i * kw;                                                  \
            for (long yo = 0; yo < oh; yo++) for (long xo = 0; xo < ow; xo++) {               \
                long r = yo * sh - ph + i * dh, q = xo * sw - pw + j * dw;                    \
                if (win[yo * ow + xo] == k) dst[r * W + q] += gp[yo * ow + xo];               \
            }                                                                                 \
        }                                                                                     \
    }                                                                                         \
    free(win);                                                                                \
    }                                                                                         \
}                                                                                             \
void cz_maxpool_bwd_##S(const T* restrict g, const T* restrict x, const T* restrict out,      \
                        T* restrict gx, long P, long H, long W, long kh, long kw, long sh,    \
                        long sw, long ph, long pw, long dh, long dw, long oh, long ow) {      \
    cz_args a = {{g, x, out}, gx, {H, W, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow}, 0, 0,       \
                 maxpool_bwd_range_##S};                                                      \
    cz_split(&a, P, P * (H * W + oh * ow * kh * kw));                                         \
}                                                                                             \
/* out[o, n, l] = src[n, o, l]: a gradient (N, O, L) as the GEMM's (O, N*L) operand */        \
static void nol_to_onl_range_##S(const cz_args* a, long lo, long hi) {                        \
    const T* restrict src = a->p[0]; T* restrict out = a->o;                                  \
    long O = a->v[0], N = a->v[1], L = a->v[2];                                               \
    for (long u = lo; u < hi; u++) {                                                          \
        long o = u / N, n = u % N;                                                            \
        const T* s = src + (n * O + o) * L; T* d = out + (o * N + n) * L;                     \
        for (long l = 0; l < L; l++) d[l] = s[l];                                             \
    }                                                                                         \
}                                                                                             \
void cz_nol_to_onl_##S(const T* restrict src, T* restrict out, long O, long N, long L) {      \
    cz_args a = {{src}, out, {O, N, L}, 0, 0, nol_to_onl_range_##S};                          \
    cz_split(&a, O * N, O * N * L);                                                           \
} \
/* res[0, w) = NumPy's pairwise sum (loops_utils.h, strided: how np.add.reduceat sums a run)  \
   of rows ord[0, n) of v (row stride D) at columns [c, c + w), w <= CZ_W */                  \
static void add_rows_pairwise_##S(const T* restrict v, const long* ord, long n, long D,      \
                                  long c, long w, T* restrict res) {                          \
    if (n < 8) {                                                                              \
        for (long j = 0; j < w; j++) res[j] = -(T)0;                                          \
        for (long i = 0; i < n; i++) {                                                        \
            const T* x = v + ord[i] * D + c;                                                  \
            for (long j = 0; j < w; j++) res[j] += x[j];                                      \
        }                                                                                     \
    } else if (n <= 128) {                                                                    \
        T r[8][CZ_W];                                                                         \
        for (int k = 0; k < 8; k++) {                                                         \
            const T* x = v + ord[k] * D + c;                                                  \
            for (long j = 0; j < w; j++) r[k][j] = x[j];                                      \
        }                                                                                     \
        long i = 8;                                                                           \
        for (; i < n - (n % 8); i += 8) for (int k = 0; k < 8; k++) {                         \
            const T* x = v + ord[i + k] * D + c;                                              \
            for (long j = 0; j < w; j++) r[k][j] += x[j];                                     \
        }                                                                                     \
        for (long j = 0; j < w; j++)                                                          \
            res[j] = ((r[0][j] + r[1][j]) + (r[2][j] + r[3][j])) +                            \
                     ((r[4][j] + r[5][j]) + (r[6][j] + r[7][j]));                             \
        for (; i < n; i++) {                                                                  \
            const T* x = v + ord[i] * D + c;                                                  \
            for (long j = 0; j < w; j++) res[j] += x[j];                                      \
        }                                                                                     \
    } else {                                                                                  \
        long n2 = n / 2; n2 -= n2 % 8;                                                        \
        T rest[CZ_W];                                                                         \
        add_rows_pairwise_##S(v, ord, n2, D, c, w, res);                                      \
        add_rows_pairwise_##S(v, ord + n2, n - n2, D, c, w, rest);                            \
        for (long j = 0; j < w; j++) res[j] += rest[j];                                       \
    }                                                                                         \
}                                                                                             \
/* out[r] += the rows of v indexed r, for output rows [lo, hi): rows ord[start[r], start[r+1]) \
   of v (in their order in the index) summed as np.add.reduceat sums a run (the first, plus   \
   the pairwise sum of the rest), then added to the row */                                    \
static void add_rows_range_##S(const cz_args* a, long lo, long hi) {                          \
    const T* restrict v = a->p[0]; const long* start = a->p[1]; const long* ord = a->p[2];    \
    T* restrict out = a->o; long D = a->v[0];                                                 \
    T res[CZ_W];                                                                              \
    for (long r = lo; r < hi; r++) {                                                          \
        long s0 = start[r], n = start[r + 1] - s0;                                            \
        if (n == 0) continue;                                                                 \
        const T* first = v + ord[s0] * D; T* o = out + r * D;                                 \
        for (long c = 0; c < D; c += CZ_W) {                                                  \
            long w = D - c < CZ_W ? D - c : CZ_W;                                             \
            if (n == 1) { for (long j = 0; j < w; j++) o[c + j] += first[c + j]; continue; }  \
            add_rows_pairwise_##S(v, ord + s0 + 1, n - 1, D, c, w, res);                      \
            for (long j = 0; j < w; j++) o[c + j] += first[c + j] + res[j];                   \
        }                                                                                     \
    }                                                                                         \
}                                                                                             \
/* out[idx[k]] += v[k] for k < N (rows of D elements; out has R rows; an index below 0        \
   counts from the end), repeats summed: ops/index.py's _add_rows (a stable sort by index,   \
   np.add.reduceat per run) bit for bit, on any number of threads: the rows of v are grouped  \
   by index in their order (a counting sort), tasks are blocks of output rows. An index out  \
   of range sets *bad and writes nothing. */                                                  \
void cz_add_rows_##S(T* restrict out, const int64_t* restrict idx, const T* restrict v,      \
                     long R, long N, long D, long* bad) {                                     \
    long* start = calloc(R + 2, sizeof(long));                                                \
    long* ord = malloc(sizeof(long) * (N > 0 ? N : 1));                                       \
    *bad = 0;                                                                                 \
    for (long k = 0; k < N; k++) {                                                            \
        long i = idx[k] < 0 ? idx[k] + R : idx[k];                                            \
        if (i < 0 || i >= R) { *bad = 1; break; }                                             \
        start[i + 2]++;                                                                       \
    }                                                                                         \
    if (!*bad) {                                                                              \
        for (long r = 2; r < R + 2; r++) start[r] += start[r - 1];                            \
        for (long k = 0; k < N; k++) {                                                        \
            long i = idx[k] < 0 ? idx[k] + R : idx[k];                                        \
            ord[start[i + 1]++] = k;                                                          \
        }                                                                                     \
        cz_args a = {{v, start, ord}, out, {D}, 0, 0, add_rows_range_##S};                    \
        cz_split(&a, R, N * D);                                                               \
    }                                                                                         \
    free(start); free(ord);                                                                   \
}

DEFINE(float, f32)
DEFINE(double, f64)
"""

_SUFFIX = {np.dtype(np.float32): "f32", np.dtype(np.float64): "f64"}
_P = ctypes.c_void_p
_L = ctypes.c_long
_SIGNATURES = {"onl_to_nol": [_P, _P, _P, _L, _L, _L], "nol_to_onl": [_P, _P, _L, _L, _L],
               "maxpool_bwd": [_P, _P, _P, _P] + [_L] * 13,
               "add_rows": [_P, _P, _P, _L, _L, _L, _P]}

# Kernels of the CNN layers kept apart from the template above (their own macro): batch norm
# (2x2 max pooling, forward and gradient, is backend/ckernels_conv.py's).
_CNN_TEMPLATE = r"""
#define DEFINE_CNN(T, S)                                                                      \
/* batch norm over x (N, C, S) per channel c. Sums run in double in 8 lanes (a fixed order:   \
   it vectorises and gives the same bits on every call): sa = sum (a - ma), sb = sum (a - ma) \
   (b - mb) over the channel's N blocks of S */                                              \
static void cz_bn_sums_##S(const T* restrict a, const T* restrict b, double ma, double mb,   \
                           long N, long C, long S, long c, double* sa, double* sb) {          \
    double la[8] = {0}, lb[8] = {0};                                                          \
    for (long n = 0; n < N; n++) {                                                            \
        const T* restrict p = a + (n * C + c) * S;                                            \
        const T* restrict q = b + (n * C + c) * S;                                            \
        long s = 0;                                                                           \
        for (; s + 8 <= S; s += 8) for (int k = 0; k < 8; k++) {                              \
            double v = (double)p[s + k] - ma;                                                 \
            la[k] += v; lb[k] += v * ((double)q[s + k] - mb);                                 \
        }                                                                                     \
        for (; s < S; s++) {                                                                  \
            double v = (double)p[s] - ma;                                                     \
            la[s & 7] += v; lb[s & 7] += v * ((double)q[s] - mb);                             \
        }                                                                                     \
    }                                                                                         \
    *sa = ((la[0] + la[1]) + (la[2] + la[3])) + ((la[4] + la[5]) + (la[6] + la[7]));          \
    *sb = ((lb[0] + lb[1]) + (lb[2] + lb[3])) + ((lb[4] + lb[5]) + (lb[6] + lb[7]));          \
}                                                                                             \
/* stats[c] = the channel's mean, stats[C + c] its biased variance (two passes) */           \
static void bn_stats_range_##S(const cz_args* A, long lo, long hi) {                      \
    const T* restrict x = A->p[0]; T* restrict stats = A->o;                                  \
    long N = A->v[0], C = A->v[1], S = A->v[2];                                               \
    double M = (double)(N * S);                                                               \
    for (long c = lo; c < hi; c++) {                                                          \
        double sx, sq, d;                                                                     \
        cz_bn_sums_##S(x, x, 0, 0, N, C, S, c, &sx, &sq);                                     \
        double m = sx / M;                                                                    \
        cz_bn_sums_##S(x, x, m, m, N, C, S, c, &d, &sq);                                      \
        stats[c] = (T)m; stats[C + c] = (T)(sq / M);                                          \
    }                                                                                         \
}                                                                                             \
void cz_bn_stats_##S(const T* restrict x, T* restrict stats, long N, long C, long S) {        \
    cz_args A = {{x}, stats, {N, C, S}, 0, 0, bn_stats_range_##S, 0};                     \
    cz_split(&A, C, 2 * N * C * S);                                                       \
}                                                                                             \
/* out = (x - mean) * (w / sqrt(var + eps)) + b per channel (w, b NULL: 1, 0) */             \
static void bn_apply_range_##S(const cz_args* A, long lo, long hi) {                      \
    const T* restrict x = A->p[0]; const T* restrict stats = A->p[1];                         \
    const T* restrict w = A->p[2]; const T* restrict b = A->p[3]; T* restrict out = A->o;     \
    long C = A->v[1], S = A->v[2]; double eps = A->d;                                         \
    for (long u = lo; u < hi; u++) {                                                          \
        long n = u / C, c = u % C;                                                            \
        T m = stats[c], sh = b ? b[c] : (T)0;                                                 \
        T sc = (T)((w ? (double)w[c] : 1.0) / sqrt((double)stats[C + c] + eps));              \
        const T* restrict p = x + (n * C + c) * S; T* restrict d = out + (n * C + c) * S;     \
        for (long s = 0; s < S; s++) d[s] = (p[s] - m) * sc + sh;                             \
    }                                                                                         \
}                                                                                             \
void cz_bn_apply_##S(const T* restrict x, const T* restrict stats, const T* restrict w,       \
                     const T* restrict b, T* restrict out, long N, long C, long S,            \
                     double eps) {                                                            \
    cz_args A = {{x, stats, w, b}, out, {N, C, S}, 0, 0, bn_apply_range_##S, eps};        \
    cz_split(&A, N * C, N * C * S);                                                       \
}                                                                                             \
/* the training-mode input gradient: gx = (g - mean(g) - (x - m) k) w s, with s = 1 /       \
   sqrt(var + eps) and k = s^2 mean(g (x - m)) (the batch statistics' own gradient) */       \
static void bn_bwd_range_##S(const cz_args* A, long lo, long hi) {                        \
    const T* restrict g = A->p[0]; const T* restrict x = A->p[1];                             \
    const T* restrict stats = A->p[2]; const T* restrict w = A->p[3]; T* restrict gx = A->o;  \
    long N = A->v[0], C = A->v[1], S = A->v[2]; double eps = A->d;                            \
    double M = (double)(N * S);                                                               \
    for (long c = lo; c < hi; c++) {                                                          \
        double sg, sgx, sd = 1.0 / sqrt((double)stats[C + c] + eps);                          \
        T m = stats[c];                                                                       \
        cz_bn_sums_##S(g, x, 0, (double)m, N, C, S, c, &sg, &sgx);                            \
        T k1 = (T)(sg / M), k2 = (T)(sgx * sd * sd / M);                                      \
        T a = (T)((w ? (double)w[c] : 1.0) * sd);                                             \
        for (long n = 0; n < N; n++) {                                                        \
            const T* restrict gp = g + (n * C + c) * S;                                       \
            const T* restrict p = x + (n * C + c) * S;                                        \
            T* restrict d = gx + (n * C + c) * S;                                             \
            for (long s = 0; s < S; s++) d[s] = ((gp[s] - k1) - (p[s] - m) * k2) * a;         \
        }                                                                                     \
    }                                                                                         \
}                                                                                             \
void cz_bn_bwd_##S(const T* restrict g, const T* restrict x, const T* restrict stats,         \
                   const T* restrict w, T* restrict gx, long N, long C, long S, double eps) { \
    cz_args A = {{g, x, stats, w}, gx, {N, C, S}, 0, 0, bn_bwd_range_##S, eps};           \
    cz_split(&A, C, 2 * N * C * S);                                                       \
}                                                                                             \
/* the affine parameters' gradients: out[c] = sum g (x - m) s (weight), out[C + c] = sum g */ \
static void bn_param_range_##S(const cz_args* A, long lo, long hi) {                      \
    const T* restrict g = A->p[0]; const T* restrict x = A->p[1];                             \
    const T* restrict stats = A->p[2]; T* restrict out = A->o;                                \
    long N = A->v[0], C = A->v[1], S = A->v[2]; double eps = A->d;                            \
    for (long c = lo; c < hi; c++) {                                                          \
        double sg, sgx;                                                                       \
        cz_bn_sums_##S(g, x, 0, (double)stats[c], N, C, S, c, &sg, &sgx);                     \
        out[c] = (T)(sgx / sqrt((double)stats[C + c] + eps)); out[C + c] = (T)sg;             \
    }                                                                                         \
}                                                                                             \
void cz_bn_param_##S(const T* restrict g, const T* restrict x, const T* restrict stats,       \
                     T* restrict out, long N, long C, long S, double eps) {                   \
    cz_args A = {{g, x, stats}, out, {N, C, S}, 0, 0, bn_param_range_##S, eps};           \
    cz_split(&A, C, N * C * S);                                                           \
}

DEFINE_CNN(float, f32)
DEFINE_CNN(double, f64)
"""
_D = ctypes.c_double
_SIGNATURES.update({"bn_stats": [_P, _P] + [_L] * 3, "bn_apply": [_P] * 5 + [_L] * 3 + [_D],
                    "bn_bwd": [_P] * 5 + [_L] * 3 + [_D], "bn_param": [_P] * 4 + [_L] * 3 + [_D]})

# nn.LSTM's step (ops/activation.py's lstm_layer): the elementwise part of one time step in one
# pass, instead of ~20 NumPy calls over (N, 4H) gates. Sigmoid splits by sign as the C lowering
# of ops/unary.py's Sigmoid does; exp/tanh are libm's (within a few ulp of NumPy's, not bitwise:
# the NumPy form is the fallback).
_RNN_TEMPLATE = r"""
#ifdef CZ_VECTOR_MATH
/* glibc's libmvec: SIMD exp/tanh, so the step loops below vectorise (as in codegen/render_c) */
#pragma omp declare simd notinbranch
extern float (expf)(float);
#pragma omp declare simd notinbranch
extern double (exp)(double);
#pragma omp declare simd notinbranch
extern float (tanhf)(float);
#pragma omp declare simd notinbranch
extern double (tanh)(double);
#endif
/* no-trapping-math: lets GCC turn the sign split's select into vector blends (the values are
   IEEE's either way; only the assumption that a comparison may trap goes) */
#define CZ_RNN_FN __attribute__((optimize("no-trapping-math")))
#define DEFINE_RNN(T, S, E, TH, AB)                                                           \
/* sigmoid split by sign, as the C lowering of ops/unary.py's Sigmoid (branch-free: selects) */ \
static inline CZ_RNN_FN T cz_sig_##S(T x) {                                                   \
    T e = E(-AB(x)), d = 1 + e, p = 1 / d, q = e / d;                                         \
    return x >= 0 ? p : q;                                                                    \
}                                                                                             \
/* out = [h' | c'] (N, 2H) from the gates z = (hw + b) + xw, [i | f | g | o] (N, 4H) each (b  \
   (4H,)), and c (row stride ldc): c' = sig(f) c + sig(i) tanh(g), h' = sig(o) tanh(c')       \
   */                                                                                         \
CZ_RNN_FN void cz_lstm_fwd_##S(const T* restrict hw, const T* restrict b, const T* restrict xw, \
                     const T* restrict c, T* restrict out, long N, long H, long ldc) {        \
    for (long n = 0; n < N; n++) {                                                            \
        const T* restrict hr = hw + n * 4 * H; const T* restrict xr = xw + n * 4 * H;         \
        const T* restrict cr = c + n * ldc; T* restrict o = out + n * 2 * H;                  \
        _Pragma("omp simd")                                                                   \
        for (long j = 0; j < H; j++) {                                                        \
            T zi = (hr[j] + b[j]) + xr[j];                                                    \
            T zf = (hr[H + j] + b[H + j]) + xr[H + j];                                        \
            T zg = (hr[2 * H + j] + b[2 * H + j]) + xr[2 * H + j];                            \
            T zo = (hr[3 * H + j] + b[3 * H + j]) + xr[3 * H + j];                            \
            T i = cz_sig_##S(zi), f = cz_sig_##S(zf), g = TH(zg), og = cz_sig_##S(zo);        \
            T cn = f * cr[j] + i * g;                                                         \
            o[H + j] = cn; o[j] = og * TH(cn);                                                \
        }                                                                                     \
    }                                                                                         \
}                                                                                             \
/* one step back: gh = gout_h + dh, gc = gout_c + dc, dcn = gc + gh o (1-tc^2),               \
   dz = [dcn g i(1-i) | dcn c f(1-f) | dcn i(1-g^2) | gh tc o(1-o)], dc <- dcn f; rows with   \
   live[n] == 0 (live NULL: all live) pass through: dz = 0, dc <- gc. gh is written to ghout. \
   gout (N, 2H); z (N, 4H); c, cn: the step's incoming and outgoing cell state, row strides   \
   ldc, ldn; dc, ghout (N, H) */                                                              \
CZ_RNN_FN void cz_lstm_bwd_##S(const T* restrict gout, const T* restrict dh, T* restrict dc,  \
                     const T* restrict z, const T* restrict c, const T* restrict cn,          \
                     const unsigned char* restrict live, T* restrict dz, T* restrict ghout,   \
                     long N, long H, long ldc, long ldn) {                                    \
    for (long n = 0; n < N; n++) {                                                            \
        const T* restrict zr = z + n * 4 * H; const T* restrict gr = gout + n * 2 * H;        \
        const T* restrict cr = c + n * ldc; const T* restrict cnr = cn + n * ldn;             \
        const T* restrict dhr = dh + n * H;                                                   \
        T* restrict d = dz + n * 4 * H; T* restrict dcr = dc + n * H;                         \
        T* restrict ghr = ghout + n * H;                                                      \
        if (live != NULL && !live[n]) {                                                       \
            for (long j = 0; j < H; j++) {                                                    \
                ghr[j] = gr[j] + dhr[j]; dcr[j] = gr[H + j] + dcr[j];                         \
                d[j] = d[H + j] = d[2 * H + j] = d[3 * H + j] = 0;                            \
            }                                                                                 \
            continue;                                                                         \
        }                                                                                     \
        _Pragma("omp simd")                                                                   \
        for (long j = 0; j < H; j++) {                                                        \
            T gh = gr[j] + dhr[j], gc = gr[H + j] + dcr[j];                                   \
            T i = cz_sig_##S(zr[j]), f = cz_sig_##S(zr[H + j]), g = TH(zr[2 * H + j]);        \
            T o = cz_sig_##S(zr[3 * H + j]), tc = TH(cnr[j]);                                 \
            T dcn = gc + gh * (o * (1 - tc * tc));                                            \
            d[j] = dcn * (g * i * (1 - i));                                                   \
            d[H + j] = dcn * (cr[j] * f * (1 - f));                                           \
            d[2 * H + j] = dcn * (i * (1 - g * g));                                           \
            d[3 * H + j] = gh * (tc * o * (1 - o));                                           \
            dcr[j] = dcn * f; ghr[j] = gh;                                                    \
        }                                                                                     \
    }                                                                                         \
}                                                                                             \
/* GRU: out = h' (N, H) from xw = x W_ih^T + b_ih and hw = h W_hh^T, [r | z | n] (N, 3H) each, \
   b = b_hh (3H,) and h (row stride ldh): r, z = sig(xw + (hw + b)), n = tanh(xw_n + r (hw_n + \
   b_n)), h' = (1 - z) n + z h */                                                             \
CZ_RNN_FN void cz_gru_fwd_##S(const T* restrict hw, const T* restrict b, const T* restrict xw, \
                              const T* restrict h, T* restrict out, long N, long H,           \
                              long ldh) {                                                     \
    for (long m = 0; m < N; m++) {                                                            \
        const T* restrict hr = hw + m * 3 * H; const T* restrict xr = xw + m * 3 * H;         \
        const T* restrict hp = h + m * ldh; T* restrict o = out + m * H;                      \
        _Pragma("omp simd")                                                                   \
        for (long j = 0; j < H; j++) {                                                        \
            T r = cz_sig_##S(xr[j] + (hr[j] + b[j]));                                         \
            T z = cz_sig_##S(xr[H + j] + (hr[H + j] + b[H + j]));                             \
            T n = TH(r * (hr[2 * H + j] + b[2 * H + j]) + xr[2 * H + j]);                     \
            o[j] = (1 - z) * n + z * hp[j];                                                   \
        }                                                                                     \
    }                                                                                         \
}                                                                                             \
/* one GRU step back, for g = gout + dh: dxw = [dr | dz | dn], dhw = [dr | dz | dn r] (N, 3H), \
   gz = g z (the direct part of h's gradient), with dz = g (h - n) z (1-z), dn = g (1-z)       \
   (1-n^2), dr = dn hn r (1-r), hn = hw_n + b_n; rows with live[n] == 0 (live NULL: all live)  \
   pass through: dxw = dhw = 0, gz = g */                                                    \
CZ_RNN_FN void cz_gru_bwd_##S(const T* restrict gout, const T* restrict dh,                   \
                              const T* restrict hw, const T* restrict b,                      \
                              const T* restrict xw, const T* restrict h,                      \
                              const unsigned char* restrict live, T* restrict dxw,            \
                              T* restrict dhw, T* restrict gz, long N, long H, long ldh) {    \
    for (long m = 0; m < N; m++) {                                                            \
        const T* restrict hr = hw + m * 3 * H; const T* restrict xr = xw + m * 3 * H;         \
        const T* restrict hp = h + m * ldh; const T* restrict gr = gout + m * H;              \
        const T* restrict dhr = dh + m * H; T* restrict gzr = gz + m * H;                     \
        T* restrict dx = dxw + m * 3 * H; T* restrict dw = dhw + m * 3 * H;                   \
        if (live != NULL && !live[m]) {                                                       \
            for (long j = 0; j < H; j++) gzr[j] = gr[j] + dhr[j];                             \
            for (long j = 0; j < 3 * H; j++) dx[j] = dw[j] = 0;                               \
            continue;                                                                         \
        }                                                                                     \
        _Pragma("omp simd")                                                                   \
        for (long j = 0; j < H; j++) {                                                        \
            T g = gr[j] + dhr[j], hn = hr[2 * H + j] + b[2 * H + j];                          \
            T r = cz_sig_##S(xr[j] + (hr[j] + b[j]));                                         \
            T z = cz_sig_##S(xr[H + j] + (hr[H + j] + b[H + j]));                             \
            T n = TH(r * hn + xr[2 * H + j]);                                                 \
            T dz = g * (hp[j] - n) * z * (1 - z), dn = g * (1 - z) * (1 - n * n);             \
            T dr = dn * hn * r * (1 - r);                                                     \
            dx[j] = dw[j] = dr; dx[H + j] = dw[H + j] = dz;                                   \
            dx[2 * H + j] = dn; dw[2 * H + j] = dn * r; gzr[j] = g * z;                       \
        }                                                                                     \
    }                                                                                         \
}                                                                                             \
/* LSTMCell's step (ops/activation.py's LstmCell) on its gate pre-activations z (N, 4H) and   \
   cell state c (N, H), each operation as the NumPy form orders it: out = [h' | c'] (N, 2H)   \
   */                                                                                         \
CZ_RNN_FN void cz_lstm_cell_##S(const T* restrict z, const T* restrict c, T* restrict out,    \
                                long N, long H) {                                             \
    for (long n = 0; n < N; n++) {                                                            \
        const T* restrict zr = z + n * 4 * H; const T* restrict cr = c + n * H;               \
        T* restrict o = out + n * 2 * H;                                                      \
        _Pragma("omp simd")                                                                   \
        for (long j = 0; j < H; j++) {                                                        \
            T i = cz_sig_##S(zr[j]), f = cz_sig_##S(zr[H + j]), g = TH(zr[2 * H + j]);        \
            T og = cz_sig_##S(zr[3 * H + j]);                                                 \
            T cn = f * cr[j] + i * g;                                                         \
            o[H + j] = cn; o[j] = og * TH(cn);                                                \
        }                                                                                     \
    }                                                                                         \
}                                                                                             \
/* its gradient for gout = [dh' | dc'] (N, 2H): out = [dz | dc] (N, 5H), dcn = dc' + dh' o    \
   (1-tc^2), dz = [dcn g i(1-i) | dcn c f(1-f) | dcn i(1-g^2) | dh' tc o(1-o)], dc = dcn f     \
   (_lstm_cell_grad's operations in its order) */                                             \
CZ_RNN_FN void cz_lstm_cell_bwd_##S(const T* restrict gout, const T* restrict z,              \
                                    const T* restrict c, T* restrict out, long N, long H) {   \
    for (long n = 0; n < N; n++) {                                                            \
        const T* restrict zr = z + n * 4 * H; const T* restrict cr = c + n * H;               \
        const T* restrict gr = gout + n * 2 * H; T* restrict d = out + n * 5 * H;             \
        _Pragma("omp simd")                                                                   \
        for (long j = 0; j < H; j++) {                                                        \
            T i = cz_sig_##S(zr[j]), f = cz_sig_##S(zr[H + j]), g = TH(zr[2 * H + j]);        \
            T o = cz_sig_##S(zr[3 * H + j]);                                                  \
            T tc = TH(f * cr[j] + i * g), gh = gr[j];                                         \
            T dcn = gr[H + j] + gh * o * (1 - tc * tc);                                       \
            d[j] = dcn * g * i * (1 - i);                                                     \
            d[H + j] = dcn * cr[j] * f * (1 - f);                                             \
            d[2 * H + j] = dcn * i * (1 - g * g);                                             \
            d[3 * H + j] = gh * tc * o * (1 - o);                                             \
            d[4 * H + j] = dcn * f;                                                           \
        }                                                                                     \
    }                                                                                         \
}                                                                                             \
/* GRUCell's step (ops/activation.py's GruCell) on xw, hw (N, 3H) and h (N, H), each          \
   operation as the NumPy form orders it: r, z = sig(xw + hw), n = tanh(r hw_n + xw_n),       \
   out = h' = (1 - z) n + z h (N, H) */                                                       \
CZ_RNN_FN void cz_gru_cell_##S(const T* restrict xw, const T* restrict hw,                   \
                               const T* restrict h, T* restrict out, long N, long H) {        \
    for (long m = 0; m < N; m++) {                                                            \
        const T* restrict xr = xw + m * 3 * H; const T* restrict hr = hw + m * 3 * H;         \
        const T* restrict hp = h + m * H; T* restrict o = out + m * H;                        \
        _Pragma("omp simd")                                                                   \
        for (long j = 0; j < H; j++) {                                                        \
            T r = cz_sig_##S(xr[j] + hr[j]), z = cz_sig_##S(xr[H + j] + hr[H + j]);           \
            T n = TH(r * hr[2 * H + j] + xr[2 * H + j]);                                      \
            o[j] = (1 - z) * n + z * hp[j];                                                   \
        }                                                                                     \
    }                                                                                         \
}                                                                                             \
/* its gradient for g (N, H): out = [dxw | dhw | dh] (N, 7H), dxw = [dr | dz | dn],           \
   dhw = [dr | dz | dn r], dh = g z, dz = g (h - n) z (1-z), dn = g (1-z) (1-n^2),             \
   dr = dn hw_n r (1-r) (_gru_cell_grad's operations in its order) */                         \
CZ_RNN_FN void cz_gru_cell_bwd_##S(const T* restrict g, const T* restrict xw,                 \
                                   const T* restrict hw, const T* restrict h,                 \
                                   T* restrict out, long N, long H) {                         \
    for (long m = 0; m < N; m++) {                                                            \
        const T* restrict xr = xw + m * 3 * H; const T* restrict hr = hw + m * 3 * H;         \
        const T* restrict hp = h + m * H; const T* restrict gr = g + m * H;                   \
        T* restrict d = out + m * 7 * H;                                                      \
        _Pragma("omp simd")                                                                   \
        for (long j = 0; j < H; j++) {                                                        \
            T r = cz_sig_##S(xr[j] + hr[j]), z = cz_sig_##S(xr[H + j] + hr[H + j]);           \
            T hn = hr[2 * H + j], n = TH(r * hn + xr[2 * H + j]), gj = gr[j];                 \
            T dz = gj * (hp[j] - n) * z * (1 - z), dn = gj * (1 - z) * (1 - n * n);           \
            T dr = dn * hn * r * (1 - r);                                                     \
            d[j] = d[3 * H + j] = dr; d[H + j] = d[4 * H + j] = dz;                           \
            d[2 * H + j] = dn; d[5 * H + j] = dn * r; d[6 * H + j] = gj * z;                  \
        }                                                                                     \
    }                                                                                         \
}

DEFINE_RNN(float, f32, expf, tanhf, fabsf)
DEFINE_RNN(double, f64, exp, tanh, fabs)
"""
_SIGNATURES.update({"lstm_fwd": [_P] * 5 + [_L] * 3, "lstm_bwd": [_P] * 9 + [_L] * 4,
                    "gru_fwd": [_P] * 5 + [_L] * 3, "gru_bwd": [_P] * 10 + [_L] * 3,
                    "lstm_cell": [_P] * 3 + [_L] * 2, "lstm_cell_bwd": [_P] * 4 + [_L] * 2,
                    "gru_cell": [_P] * 4 + [_L] * 2, "gru_cell_bwd": [_P] * 5 + [_L] * 2})


def _cbuild():
    from . import cbuild  # reason: its subprocess/hashlib/tempfile load on first use
    return cbuild


def pool_stats() -> dict:
    """The thread pool's counters (``cbuild.pool_stats``), cbuild loaded on first use."""
    return _cbuild().pool_stats()


def build_library(source):
    """``source`` built (or loaded from the disk cache) as a ctypes library, or None when no C
    compiler is found or building fails; for every module of hand-written kernels (and the
    BLAS helper), so that none loads the compiler machinery at ``import cadenza``."""
    cbuild = _cbuild()
    if cbuild.compiler() is None:
        return None
    try:
        return cbuild.build(source)[0]
    except (cbuild.CompileError, OSError):
        return None


def lib():
    """The ctypes library, built (or loaded from the disk cache) on the first call; None when
    no C compiler is found or building fails (callers use their NumPy form)."""
    if "lib" not in _state:
        _state["lib"] = None
        built = build_library(_TEMPLATE + _CNN_TEMPLATE + _RNN_TEMPLATE)
        if built is not None:
            for name, args in _SIGNATURES.items():
                for suffix in _SUFFIX.values():
                    fn = getattr(built, f"cz_{name}_{suffix}")
                    fn.argtypes, fn.restype = args, None
        _state["lib"] = built
    return _state["lib"]


def kernel(name: str, *arrays):
    """The C function ``name`` for the arrays' dtype (float32/float64 NumPy arrays, all
    C-contiguous), or None when the NumPy form must run."""
    if not enabled:
        return None
    dt = arrays[0].dtype
    suffix = _SUFFIX.get(dt)
    if suffix is None or not all(type(a) is np.ndarray and a.dtype == dt and
                                 a.flags.c_contiguous for a in arrays):
        return None
    built = lib()
    return None if built is None else getattr(built, f"cz_{name}_{suffix}")


def ptr(a) -> int | None:
    return None if a is None else address(a)


# ------------------------------------------------------------------------------- attention
# Fused scaled dot-product attention on float32 (ops/attention.py), forward and backward, one
# task per (batch, head) (per key/value head and its query group in backward, which sums
# their key/value gradients). A block of BR query rows at a time: its scores against every key
# it may see (causal: keys j <= i only) in a (BR, S) buffer that stays in cache, the row
# softmax in place, then the value product; backward recomputes the probabilities the same way
# (no (L, S) tensor is kept between the passes) and forms dV, dP, dS, dQ, dK block by block.
# The products are register-blocked 6x16 tiles of GCC vector types (AVX2 FMAs where the CPU
# has them), each causal tile limited to the keys its rows see (the masked triangle is skipped
# but for the tiles' corners): within rounding of the composite's BLAS products, not bit for
# bit. The row softmax runs on whole AVX2 vectors (libmvec's expf), K and V are transposed in
# 8x8 register blocks, and strided operands the products stream (heads inside one projection)
# are copied dense first. W1's attention (B 16, H 4, T 128, D 64, causal), one thread: forward
# 4.2 -> 3.2 ms, backward 9.3 -> 7.0 ms with these (2026-12-04, loaded 2-core EPYC, interleaved
# runs). The backward writes dq, dk, dv at their own offsets and row strides: three arrays, or
# the (B, L, 3, H, D) gradient of the projection q, k, v were split from (``merged``, set by
# graph/passes/combine_padded_sums.py: no copy after the kernel). Heads are split into tasks
# over the thread pool (each task with its own scratch), like the kernels above.
_ATTENTION = r"""
#ifdef __AVX__
#include <immintrin.h>
#endif
#ifdef CZ_VECTOR_MATH
#pragma omp declare simd notinbranch
extern float expf(float);
#endif
typedef float cz_v8 __attribute__((vector_size(32), aligned(4)));
#ifdef __FMA__
#define CZ_FMA8(a, b, c) ((cz_v8)_mm256_fmadd_ps((__m256)(a), (__m256)(b), (__m256)(c)))
#else
#define CZ_FMA8(a, b, c) ((a) * (b) + (c))
#endif
#define CZ_BR 64

/* C (m x n, row stride ldc) = (or +=, acc) A B: A's element (i, p) at a[i*ars + p*acs] (a
   transposed A is acs = 1), B row p at b + p*ldb (contiguous). R rows by 16 columns per
   tile (12 accumulators at R = 6); cz_mm_tile picks R at run time. */
static inline __attribute__((always_inline)) void cz_mm_rows(
        const int R, long n, long k, const float* a, long ars, long acs, const float* b,
        long ldb, float* c, long ldc, int acc) {
    long j = 0;
    for (; j + 16 <= n; j += 16) {
        cz_v8 s0[6], s1[6];
        for (int r = 0; r < R; r++) {
            if (acc) { s0[r] = *(const cz_v8*)(c + r * ldc + j);
                       s1[r] = *(const cz_v8*)(c + r * ldc + j + 8); }
            else { s0[r] = (cz_v8){0}; s1[r] = (cz_v8){0}; }
        }
        for (long p = 0; p < k; p++) {
            cz_v8 b0 = *(const cz_v8*)(b + p * ldb + j), b1 = *(const cz_v8*)(b + p * ldb + j + 8);
            for (int r = 0; r < R; r++) {
                float x = a[r * ars + p * acs];
                cz_v8 av = {x, x, x, x, x, x, x, x};
                s0[r] = CZ_FMA8(av, b0, s0[r]);
                s1[r] = CZ_FMA8(av, b1, s1[r]);
            }
        }
        for (int r = 0; r < R; r++) {
            *(cz_v8*)(c + r * ldc + j) = s0[r];
            *(cz_v8*)(c + r * ldc + j + 8) = s1[r];
        }
    }
    for (; j + 8 <= n; j += 8) {
        cz_v8 s0[6];
        for (int r = 0; r < R; r++)
            s0[r] = acc ? *(const cz_v8*)(c + r * ldc + j) : (cz_v8){0};
        for (long p = 0; p < k; p++) {
            cz_v8 b0 = *(const cz_v8*)(b + p * ldb + j);
            for (int r = 0; r < R; r++) {
                float x = a[r * ars + p * acs];
                cz_v8 av = {x, x, x, x, x, x, x, x};
                s0[r] = CZ_FMA8(av, b0, s0[r]);
            }
        }
        for (int r = 0; r < R; r++) *(cz_v8*)(c + r * ldc + j) = s0[r];
    }
    for (; j < n; j++)
        for (int r = 0; r < R; r++) {
            float s = acc ? c[r * ldc + j] : 0.0f;
            for (long p = 0; p < k; p++) s += a[r * ars + p * acs] * b[p * ldb + j];
            c[r * ldc + j] = s;
        }
}

/* cz_mm_rows for R = 1..6 rows (a tile's row count known only at run time) */
static inline __attribute__((always_inline)) void cz_mm_tile(
        long R, long n, long k, const float* a, long ars, long acs, const float* b, long ldb,
        float* c, long ldc, int acc) {
    switch (R) {
    case 6: cz_mm_rows(6, n, k, a, ars, acs, b, ldb, c, ldc, acc); break;
    case 5: cz_mm_rows(5, n, k, a, ars, acs, b, ldb, c, ldc, acc); break;
    case 4: cz_mm_rows(4, n, k, a, ars, acs, b, ldb, c, ldc, acc); break;
    case 3: cz_mm_rows(3, n, k, a, ars, acs, b, ldb, c, ldc, acc); break;
    case 2: cz_mm_rows(2, n, k, a, ars, acs, b, ldb, c, ldc, acc); break;
    default: cz_mm_rows(1, n, k, a, ars, acs, b, ldb, c, ldc, acc); break;
    }
}

/* Causal products tile by tile (6 rows, or 6 keys): each tile limited to the keys its rows
   see (or the rows that see its keys), so the masked triangle is neither computed nor read
   beyond the tile's own corner (rounded up to 8 columns: whole vectors; the softmax writes
   zeros there). Every tile has 6 rows but the last. */
#define CZ_TILE 6
static inline long cz_tile_rows(long r0, long rows) {
    return rows - r0 < CZ_TILE ? rows - r0 : CZ_TILE;
}

/* Scores: C (rows x keys) = A (rows x k) Bt (k x keys), keys < jn; causal: row i0 + r takes
   keys j <= i0 + r only (the tile's columns up to its last row's, rounded up to 8) */
static void cz_mm_scores(long rows, long k, long jn, long i0, int causal, const float* a,
                         long lda, const float* bt, long ldb, float* c, long ldc) {
    for (long r0 = 0; r0 < rows; r0 += CZ_TILE) {
        long R = cz_tile_rows(r0, rows), n = jn;
        if (causal) {
            n = (i0 + r0 + R + 7) & ~7L;
            if (n > jn) n = jn;
        }
        cz_mm_tile(R, n, k, a + r0 * lda, lda, 1, bt, ldb, c + r0 * ldc, ldc, 0);
    }
}

/* C (rows x n, row stride ldc) = A (rows x keys, row stride lda) B (keys x n): a tile's
   products over the keys its last row sees (A is zero beyond each row's own) */
static void cz_mm_rows_by_keys(long rows, long n, long jn, long i0, int causal,
                               const float* a, long lda, const float* b, long ldb, float* c,
                               long ldc) {
    for (long r0 = 0; r0 < rows; r0 += CZ_TILE) {
        long R = cz_tile_rows(r0, rows);
        long k = causal && i0 + r0 + R < jn ? i0 + r0 + R : jn;
        cz_mm_tile(R, n, k, a + r0 * lda, lda, 1, b, ldb, c + r0 * ldc, ldc, 0);
    }
}

/* C (keys x n) += A^T B for A (rows x keys, row stride lda), B (rows x n): a tile of keys
   j0.. takes the rows i >= j0 only (A is zero above the diagonal) */
static void cz_mm_keys_by_rows(long rows, long n, long jn, long i0, int causal,
                               const float* a, long lda, const float* b, long ldb, float* c,
                               long ldc) {
    for (long j0 = 0; j0 < jn; j0 += CZ_TILE) {
        long R = cz_tile_rows(j0, jn);
        long r = causal && j0 > i0 ? j0 - i0 : 0;
        if (r >= rows) break;
        cz_mm_tile(R, n, rows - r, a + r * lda + j0, 1, lda, b + r * ldb, ldb, c + j0 * ldc,
                   ldc, 1);
    }
}

/* out (rows x cols, contiguous) = the transpose of src (cols x rows, row stride ld): 8 x 8
   blocks through AVX registers where the CPU has them (the strided element loop cost a tenth
   of the backward), the edges element by element */
static void cz_pack_t(const float* src, long ld, long cols, long rows, float* out) {
    long j0 = 0, d0 = 0;
#ifdef __AVX__
    for (; j0 + 8 <= cols; j0 += 8)
        for (d0 = 0; d0 + 8 <= rows; d0 += 8) {
            const float* s0 = src + j0 * ld + d0;
            __m256 r0 = _mm256_loadu_ps(s0), r1 = _mm256_loadu_ps(s0 + ld);
            __m256 r2 = _mm256_loadu_ps(s0 + 2 * ld), r3 = _mm256_loadu_ps(s0 + 3 * ld);
            __m256 r4 = _mm256_loadu_ps(s0 + 4 * ld), r5 = _mm256_loadu_ps(s0 + 5 * ld);
            __m256 r6 = _mm256_loadu_ps(s0 + 6 * ld), r7 = _mm256_loadu_ps(s0 + 7 * ld);
            __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
            __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
            __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
            __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
            r0 = _mm256_shuffle_ps(t0, t2, 0x44); r1 = _mm256_shuffle_ps(t0, t2, 0xEE);
            r2 = _mm256_shuffle_ps(t1, t3, 0x44); r3 = _mm256_shuffle_ps(t1, t3, 0xEE);
            r4 = _mm256_shuffle_ps(t4, t6, 0x44); r5 = _mm256_shuffle_ps(t4, t6, 0xEE);
            r6 = _mm256_shuffle_ps(t5, t7, 0x44); r7 = _mm256_shuffle_ps(t5, t7, 0xEE);
            float* o = out + d0 * cols + j0;
            _mm256_storeu_ps(o, _mm256_permute2f128_ps(r0, r4, 0x20));
            _mm256_storeu_ps(o + cols, _mm256_permute2f128_ps(r1, r5, 0x20));
            _mm256_storeu_ps(o + 2 * cols, _mm256_permute2f128_ps(r2, r6, 0x20));
            _mm256_storeu_ps(o + 3 * cols, _mm256_permute2f128_ps(r3, r7, 0x20));
            _mm256_storeu_ps(o + 4 * cols, _mm256_permute2f128_ps(r0, r4, 0x31));
            _mm256_storeu_ps(o + 5 * cols, _mm256_permute2f128_ps(r1, r5, 0x31));
            _mm256_storeu_ps(o + 6 * cols, _mm256_permute2f128_ps(r2, r6, 0x31));
            _mm256_storeu_ps(o + 7 * cols, _mm256_permute2f128_ps(r3, r7, 0x31));
        }
    for (long j = 0; j < j0; j++)          /* the rows' last columns (rows % 8 of them) */
        for (long d = d0; d < rows; d++) out[d * cols + j] = src[j * ld + d];
#endif
    for (long j = j0; j < cols; j++)       /* the last rows (cols % 8 of them): every column */
        for (long d = 0; d < rows; d++) out[d * cols + j] = src[j * ld + d];
}

/* rows x cols of src (row stride ld) as a dense block (buf, or src itself when it is one):
   the products stream their B operand's rows, and rows a large stride apart (heads inside
   a (B, T, 3, H, D) projection) fall into a few L1 sets and evict each other */
static const float* cz_dense(const float* src, long ld, long rows, long cols, float* buf) {
    if (ld == cols || rows < 2) return src;
    for (long i = 0; i < rows; i++) memcpy(buf + i * cols, src + i * ld, sizeof(float) * cols);
    return buf;
}

/* The keys query block [i0, i1) sees: all S, or j <= i (causal, torch's tril(ones(L, S))) */
static inline long cz_keys(long i1, long S, int causal) {
    return causal ? (i1 < S ? i1 : S) : S;
}

static void cz_softmax_scores(float* x, long lim, long jn, const float* mr, float scale);

/* P = softmax(scale Q Kt + mask) for query rows [i0, i1) into p (rows x jn), jn the keys the
   block sees; rows whose keys are all masked are zeros (torch's math backend). kt: K
   transposed (D x S). mask: additive (0 / -inf for bool masks), row i at mask + i*ms. */
static void cz_probs(const float* q, long qs, const float* kt, long S, long D,
                     const float* mask, long ms, long i0, long i1, long jn, float scale,
                     int causal, float* p) {
    long rows = i1 - i0;
    /* kt has S columns; only the first jn are read */
    cz_mm_scores(rows, D, jn, i0, causal, q + i0 * qs, qs, kt, S, p, jn);
    for (long r = 0; r < rows; r++) {
        long i = i0 + r, lim = causal ? (i + 1 < jn ? i + 1 : jn) : jn;
        cz_softmax_scores(p + r * jn, lim, jn, mask ? mask + i * ms : 0, scale);
    }
}

/* The entries of a row of lim visible ones (of jn) that the row passes cover: lim rounded up
   to whole vectors of 8 where the row has room (the padding is masked), else lim */
static inline long cz_padded(long lim, long jn) {
    long n = (lim + 7) & ~7L;
    return n <= jn ? n : lim;
}

/* One row of scores x (jn of them, the first lim visible) -> its probabilities in place:
   softmax(scale x + mask row mr); the keys from lim on (the causal triangle) are zeros. The
   passes run over whole vectors, the padding past lim masked (-inf, then 0). */
#if defined(__AVX2__) && defined(CZ_VECTOR_MATH)
__m256 _ZGVdN8v_expf(__m256);    /* libmvec's expf on 8 lanes (what the simd loops call) */
static inline float cz_hmax8(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    return _mm_cvtss_f32(_mm_max_ss(m, _mm_shuffle_ps(m, m, 1)));
}
static inline float cz_hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_shuffle_ps(s, s, 1)));
}
/* cz_softmax_scores on whole vectors (n a multiple of 8): the rows are short (a causal row
   has as many keys as its index), and the simd loops' per-row set-up and reductions through
   memory cost as much as their work. The last vector's lanes from lim on are masked. */
static int cz_softmax_avx2(float* x, long lim, long n, const float* mr, float scale) {
    const __m256 vs = _mm256_set1_ps(scale), ninf = _mm256_set1_ps(-INFINITY);
    const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256 keep = _mm256_castsi256_ps(_mm256_cmpgt_epi32(
        _mm256_set1_epi32((int)(lim - (n - 8))), lanes));
    __m256 vm = ninf;
    for (long j = 0; j < n; j += 8) {
        __m256 z = _mm256_mul_ps(_mm256_loadu_ps(x + j), vs);
        if (mr) z = _mm256_add_ps(z, _mm256_loadu_ps(mr + j));
        if (j + 8 == n) z = _mm256_blendv_ps(ninf, z, keep);
        _mm256_storeu_ps(x + j, z);
        vm = _mm256_max_ps(z, vm);       /* a NaN lane keeps vm (skipped, as the max loop) */
    }
    float m = cz_hmax8(vm);
    if (m == -INFINITY) return 0;
    const __m256 vmx = _mm256_set1_ps(m), zero = _mm256_setzero_ps();
    __m256 sum = zero;
    for (long j = 0; j < n; j += 8) {
        __m256 z = _mm256_sub_ps(_mm256_loadu_ps(x + j), vmx);
        if (j + 8 == n) z = _mm256_blendv_ps(zero, z, keep);   /* no -inf argument */
        __m256 e = _ZGVdN8v_expf(z);
        if (j + 8 == n) e = _mm256_and_ps(e, keep);
        _mm256_storeu_ps(x + j, e);
        sum = _mm256_add_ps(sum, e);
    }
    const __m256 inv = _mm256_set1_ps(1.0f / cz_hsum8(sum));
    for (long j = 0; j < n; j += 8)
        _mm256_storeu_ps(x + j, _mm256_mul_ps(_mm256_loadu_ps(x + j), inv));
    return 1;
}
#endif

/* A row whose every key is masked: zeros; NaN scores only: NaNs as eager */
static void cz_masked_row(float* x, long lim, long jn) {
    float nan = 0;
    for (long j = 0; j < lim; j++) if (x[j] != x[j]) nan = x[j];
    for (long j = 0; j < jn; j++) x[j] = j < lim ? nan : 0;
}

static void cz_softmax_scores(float* x, long lim, long jn, const float* mr, float scale) {
    long n = cz_padded(lim, jn);
#if defined(__AVX2__) && defined(CZ_VECTOR_MATH)
    if (n % 8 == 0 && n > 0) {
        if (!cz_softmax_avx2(x, lim, n, mr, scale)) { cz_masked_row(x, lim, jn); return; }
        for (long j = n; j < jn; j++) x[j] = 0;
        return;
    }
#endif
    float m = -INFINITY;
    if (mr) {
        _Pragma("omp simd reduction(max:m)")
        for (long j = 0; j < n; j++) {
            float z = j < lim ? x[j] * scale + mr[j] : -INFINITY; x[j] = z; m = z > m ? z : m; }
    } else {
        _Pragma("omp simd reduction(max:m)")
        for (long j = 0; j < n; j++) {
            float z = j < lim ? x[j] * scale : -INFINITY; x[j] = z; m = z > m ? z : m; }
    }
    if (m == -INFINITY) { cz_masked_row(x, lim, jn); return; }
    /* a NaN score is skipped by the max but gives exp(NaN) = NaN in the sum: the whole row
       is NaN, as the composite's. The padding's exponent is 0, not -inf: an argument out of
       range sends the whole vector down the vector expf's slow scalar path. */
    float s = 0;
    _Pragma("omp simd reduction(+:s)")
    for (long j = 0; j < n; j++) {
        float e = expf(j < lim ? x[j] - m : 0.0f); e = j < lim ? e : 0.0f; x[j] = e; s += e; }
    float inv = 1.0f / s;
    _Pragma("omp simd")
    for (long j = 0; j < n; j++) x[j] *= inv;
    for (long j = n; j < jn; j++) x[j] = 0;
}

/* One task's element offsets: q/k/v/mask/g of (batch, head) t start at base + off[t]. */
/* The kernels split their (batch, head) loop into up to 64 tasks over Cadenza's thread pool;
   each task has its own scratch. */
typedef struct {
    const float *q, *k, *v, *mask, *g; float *out, *dq, *dk, *dv;
    const long *qo, *ko, *vo, *mo, *go;
    long BH, rep, L, S, D, Dv, qs, ks, vs, ms, gs, n, tasks; float scale; int causal;
    const long *dqo, *dko, *dvo; long dqs, dks, dvs;   /* backward: the gradients' layouts */
} cz_sdpa_args;
#define CZ_SDPA_UNPACK(A)                                                                     \
    const float *q = A->q, *k = A->k, *v = A->v, *mask = A->mask, *g = A->g;                 \
    float *out = A->out, *dq = A->dq, *dk = A->dk, *dv = A->dv;                              \
    const long *qo = A->qo, *ko = A->ko, *vo = A->vo, *mo = A->mo, *go = A->go;              \
    long rep = A->rep, L = A->L, S = A->S, D = A->D, Dv = A->Dv, qs = A->qs, ks = A->ks;     \
    long vs = A->vs, ms = A->ms, gs = A->gs; float scale = A->scale; int causal = A->causal; \
    long t0 = A->n * task / A->tasks, t1 = A->n * (task + 1) / A->tasks;                     \
    (void)q; (void)k; (void)v; (void)mask; (void)g; (void)out; (void)dq; (void)dk; (void)dv; \
    (void)qo; (void)ko; (void)vo; (void)mo; (void)go; (void)rep; (void)L; (void)qs;          \
    (void)ks; (void)vs; (void)ms; (void)gs; (void)scale; (void)causal; (void)Dv
/* Tasks: up to 64, each with at least CZ_SDPA_TASK multiply-adds (score and value products
   over every key): a decoding step's attention (one query row per head) is a few microseconds
   of work, and waking a pool thread for it costs more (measured 1-5 ms a call on a loaded
   2-core VM, where the woken worker waits for a core; the caller then waits for its task). */
#define CZ_SDPA_TASK (1L << 18)
static void cz_sdpa_run(cz_task_t fn, cz_sdpa_args* a, long n) {
    long work = n * a->rep * a->L * a->S * (a->D + a->Dv), most = work / CZ_SDPA_TASK;
    a->n = n;
    a->tasks = n < 64 ? n : 64;
    if (a->tasks > most) a->tasks = most > 1 ? most : 1;
    if (n > 0) cz_for(fn, a, a->tasks);
}

/* A few query rows (decoding: one per head): each row's scores are dot products with the
   keys as stored (no transposed copy of K, whose packing costs more than one row's products),
   its softmax as cz_probs takes it, then the value rows weighted by it. */
#define CZ_SDPA_FEW_ROWS 4
static void cz_sdpa_fwd_rows(const cz_sdpa_args* A, int64_t task) {
    CZ_SDPA_UNPACK(A);
    (void)D;
    float* x = malloc(sizeof(float) * (S + 16));
    for (long t = t0; t < t1; t++) {
        const float* kh = k + ko[t];
        const float* vh = v + vo[t];
        for (long i = 0; i < L; i++) {
            const float* qi = q + qo[t] + i * qs;
            float* o = out + (t * L + i) * Dv;
            long jn = cz_keys(i + 1, S, causal);
            for (long e = 0; e < Dv; e++) o[e] = 0;
            if (jn == 0) continue;
            for (long j = 0; j < jn; j++) {
                const float* kj = kh + j * ks;
                float d = 0;
                _Pragma("omp simd reduction(+:d)")
                for (long e = 0; e < D; e++) d += qi[e] * kj[e];
                x[j] = d;
            }
            cz_softmax_scores(x, jn, jn, mask ? mask + mo[t] + i * ms : 0, scale);
            for (long j = 0; j < jn; j++) {
                const float* vj = vh + j * vs;
                float w = x[j];
                _Pragma("omp simd")
                for (long e = 0; e < Dv; e++) o[e] += w * vj[e];
            }
        }
    }
    free(x);
}

static void cz_sdpa_fwd_task(void* p_, int64_t task) {
    const cz_sdpa_args* A = p_;
    if (A->L <= CZ_SDPA_FEW_ROWS) { cz_sdpa_fwd_rows(A, task); return; }
    CZ_SDPA_UNPACK(A);
    float* kt = malloc(sizeof(float) * (D * S + CZ_BR * S + S * Dv + 16));
    float* p = kt + D * S;
    float* vbuf = p + CZ_BR * S;
    for (long t = t0; t < t1; t++) {
        const float* qt = q + qo[t];
        const float* mt = mask ? mask + mo[t] : 0;
        float* o = out + t * L * Dv;
        cz_pack_t(k + ko[t], ks, S, D, kt);
        const float* vt = cz_dense(v + vo[t], vs, S, Dv, vbuf);
        long vts = vt == vbuf ? Dv : vs;
        for (long i0 = 0; i0 < L; i0 += CZ_BR) {
            long i1 = i0 + CZ_BR < L ? i0 + CZ_BR : L, jn = cz_keys(i1, S, causal);
            if (jn == 0) { for (long e = i0 * Dv; e < i1 * Dv; e++) o[e] = 0; continue; }
            cz_probs(qt, qs, kt, S, D, mt, ms, i0, i1, jn, scale, causal, p);
            cz_mm_rows_by_keys(i1 - i0, Dv, jn, i0, causal, p, jn, vt, vts, o + i0 * Dv, Dv);
        }
    }
    free(kt);
}

void cz_sdpa_fwd_f32(const float* q, const float* k, const float* v, const float* mask,
                     float* out, const long* qo, const long* ko, const long* vo,
                     const long* mo, long BH, long L, long S, long D, long Dv, long qs,
                     long ks, long vs, long ms, float scale, int causal) {
    cz_sdpa_args a = {q, k, v, mask, 0, out, 0, 0, 0, qo, ko, vo, mo, 0,
                      BH, 1, L, S, D, Dv, qs, ks, vs, ms, 0, 0, 0, scale, causal};
    cz_sdpa_run(cz_sdpa_fwd_task, &a, BH);
}

/* Gradients for upstream g (BH, L, Dv) (rows at g + go[t], stride gs): dq (BH, L, D), and dk
   (BHk, S, D), dv (BHk, S, Dv) summed over the rep query heads that share each key/value head
   (tasks are key/value heads; query head t = kv * rep + r). */
/* x + 0 on rows x cols (row stride ld): -0.0 becomes +0.0, as the sum of the padded
   gradients of q, k and v has it where eager splits them from one projection (the gradients
   can be written straight into that projection's gradient, with no sum after them) */
static void cz_plus_zero(float* x, long rows, long cols, long ld) {
    for (long i = 0; i < rows; i++) {
        _Pragma("omp simd")
        for (long e = 0; e < cols; e++) x[i * ld + e] += 0.0f;
    }
}

static void cz_sdpa_bwd_task(void* p_, int64_t task) {
    const cz_sdpa_args* A = p_;
    CZ_SDPA_UNPACK(A);
    float* kt = malloc(sizeof(float) * (D * S + Dv * S + 2 * CZ_BR * S + S * D + L * D +
                                        L * Dv + 16));
    float* vt = kt + D * S;
    float* p = vt + Dv * S;
    float* dp = p + CZ_BR * S;
    float* kbuf = dp + CZ_BR * S;       /* dense copies of K, and of Q and G per query head */
    float* qbuf = kbuf + S * D;
    float* gbuf = qbuf + L * D;
    for (long h = t0; h < t1; h++) {
        long dqs = A->dqs, dks = A->dks, dvs = A->dvs;
        float* dkh = dk + A->dko[h];
        float* dvh = dv + A->dvo[h];
        for (long j = 0; j < S; j++) {
            memset(dkh + j * dks, 0, sizeof(float) * D);
            memset(dvh + j * dvs, 0, sizeof(float) * Dv);
        }
        const float* kh = k + ko[h * rep];
        const float* vh = v + vo[h * rep];
        cz_pack_t(kh, ks, S, D, kt);
        cz_pack_t(vh, vs, S, Dv, vt);
        const float* kd = cz_dense(kh, ks, S, D, kbuf);
        long kds = kd == kbuf ? D : ks;
        for (long r = 0; r < rep; r++) {
            long t = h * rep + r;
            const float* qt = cz_dense(q + qo[t], qs, L, D, qbuf);
            const float* mt = mask ? mask + mo[t] : 0;
            const float* gt = cz_dense(g + go[t], gs, L, Dv, gbuf);
            long qs = qt == qbuf ? D : A->qs, gs = gt == gbuf ? Dv : A->gs;
            float* dqt = dq + A->dqo[t];
            for (long i0 = 0; i0 < L; i0 += CZ_BR) {
                long i1 = i0 + CZ_BR < L ? i0 + CZ_BR : L, jn = cz_keys(i1, S, causal);
                long rows = i1 - i0;
                if (jn == 0) {
                    for (long i = i0; i < i1; i++) memset(dqt + i * dqs, 0, sizeof(float) * D);
                    continue;
                }
                cz_probs(qt, qs, kt, S, D, mt, ms, i0, i1, jn, scale, causal, p);
                /* dP = G V^T; dV += P^T G */
                cz_mm_scores(rows, Dv, jn, i0, causal, gt + i0 * gs, gs, vt, S, dp, jn);
                cz_mm_keys_by_rows(rows, Dv, jn, i0, causal, p, jn, gt + i0 * gs, gs, dvh, dvs);
                /* dS = scale P (dP - sum_j P dP), zero where the row sees no key */
                for (long rr = 0; rr < rows; rr++) {
                    long i = i0 + rr, lim = causal ? (i + 1 < jn ? i + 1 : jn) : jn;
                    long n = cz_padded(lim, jn);   /* whole vectors, the padding masked */
                    float* pr = p + rr * jn; float* dr = dp + rr * jn;
                    float s = 0;
                    _Pragma("omp simd reduction(+:s)")
                    for (long j = 0; j < n; j++) s += j < lim ? pr[j] * dr[j] : 0.0f;
                    _Pragma("omp simd")
                    for (long j = 0; j < n; j++)
                        dr[j] = j < lim ? scale * (pr[j] * (dr[j] - s)) : 0.0f;
                    for (long j = n; j < jn; j++) dr[j] = 0;
                }
                /* dQ = dS K; dK += dS^T Q */
                cz_mm_rows_by_keys(rows, D, jn, i0, causal, dp, jn, kd, kds, dqt + i0 * dqs,
                                   dqs);
                cz_plus_zero(dqt + i0 * dqs, rows, D, dqs);
                cz_mm_keys_by_rows(rows, D, jn, i0, causal, dp, jn, qt + i0 * qs, qs, dkh, dks);
            }
        }
        cz_plus_zero(dkh, S, D, dks);
        cz_plus_zero(dvh, S, Dv, dvs);
    }
    free(kt);
}

/* dq (BH heads), dk and dv (BH / rep) at their own offset tables and row strides: separate
   arrays, or interleaved in the (B, L, 3, H, D) gradient of one q/k/v projection */
void cz_sdpa_bwd_f32(const float* q, const float* k, const float* v, const float* mask,
                     const float* g, float* dq, float* dk, float* dv, const long* qo,
                     const long* ko, const long* vo, const long* mo, const long* go,
                     const long* dqo, const long* dko, const long* dvo, long BH,
                     long rep, long L, long S, long D, long Dv, long qs, long ks, long vs,
                     long ms, long gs, long dqs, long dks, long dvs,
                     float scale, int causal) {
    cz_sdpa_args a = {q, k, v, mask, g, 0, dq, dk, dv, qo, ko, vo, mo, go,
                      BH, rep, L, S, D, Dv, qs, ks, vs, ms, gs, 0, 0, scale, causal,
                      dqo, dko, dvo, dqs, dks, dvs};
    cz_sdpa_run(cz_sdpa_bwd_task, &a, BH / rep);
}
"""
_TEMPLATE += _ATTENTION
# float32 only (float64 attention stays the composite, bit for bit as before)
_F32_SIGNATURES = {
    "sdpa_fwd": [_P] * 9 + [_L] * 9 + [ctypes.c_float, ctypes.c_int],
    "sdpa_bwd": [_P] * 16 + [_L] * 14 + [ctypes.c_float, ctypes.c_int]}


def attention_kernels():
    """(forward, backward) float32 attention kernels, or None (no compiler, disabled)."""
    if not enabled:
        return None
    built = lib()
    if built is None:
        return None
    fns = _state.get("attention")
    if fns is None:
        fns = []
        for name, args in _F32_SIGNATURES.items():
            fn = getattr(built, f"cz_{name}_f32")
            fn.argtypes, fn.restype = args, None
            fns.append(fn)
        fns = _state["attention"] = tuple(fns)
    return fns
