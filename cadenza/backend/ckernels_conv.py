"""Convolution's matrix products (ops/conv.py) on Cadenza's thread pool: one product split into
tasks of row blocks x column blocks (x chunks of the inner dimension, whose partial products
are then summed in chunk order), each task one single-threaded call into NumPy's OpenBLAS
(found by backend/blas.py). OpenBLAS's own threads wait for each other inside every product: on a
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

Beside the products: the layout passes (im2col/col2im), 2x2 max pooling, ReLU and bias
gradient passes, and float32 direct kernels for convolutions of one input channel
(``direct``: forward with bias and ReLU, weight gradient, and the weight gradient through 2x2
max pooling that ops/pool.py's Conv2dPooledWeightGrad runs), which need no BLAS.
"""
from __future__ import annotations

import ctypes

import numpy as np

from . import ckernels
from .blas import GEMM_TYPEDEFS, pointers as _blas_pointers
from .cpool import POOL_HEADER
from .cpu import address

BIAS_LANES = 32   # the bias gradient's accumulator lanes (ops/conv.py's NumPy form reads it)

_SOURCE = r"""
#include <stdlib.h>
#include <string.h>
""" + POOL_HEADER + r"""
typedef int64_t I;
""" + GEMM_TYPEDEFS + r"""
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
                 I sums; int exact; } gemm_job_##S;                                           \
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
    /* chunk by chunk over the task's elements (each element's sum still in chunk order) */  \
    for (I e = e0; e < e1; e++) j->C[e] = j->part[e];                                         \
    for (I c = 1; c < j->kc; c++)                                                             \
        for (I e = e0; e < e1; e++) j->C[e] += j->part[c * total + e];                        \
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

/* convolution geometry (the arguments every layout kernel takes) */
typedef struct { I N, C, H, W, O, kh, kw, dh, dw, ph, pw, sh, sw, oh, ow; } cz_geom;

/* relu of v (NaN stays, -0 gives +0): cz_relu's element rule */
#define CZ_RELU(v) (((v) > 0) | ((v) != (v)) ? (v) : 0)
/* the window of row u = (c, i, j) of the columns: output rows [y0, y1) and columns [lo, hi)
   read inside the plane, at plane row y * sh + top and column q * sw + off */
typedef struct { I c, top, off, y0, y1, lo, hi; } cz_span;
static cz_span cz_span_of(I u, const cz_geom *g) {
    cz_span s;
    I i = u / g->kw % g->kh, j = u % g->kw;
    s.c = u / (g->kh * g->kw); s.off = j * g->dw - g->pw; s.top = i * g->dh - g->ph;
    s.lo = 0; s.hi = g->ow; s.y0 = 0; s.y1 = g->oh;
    while (s.lo < g->ow && s.lo * g->sw + s.off < 0) s.lo++;
    while (s.hi > s.lo && (s.hi - 1) * g->sw + s.off >= g->W) s.hi--;
    while (s.y0 < g->oh && s.y0 * g->sh + s.top < 0) s.y0++;
    while (s.y1 > s.y0 && (s.y1 - 1) * g->sh + s.top >= g->H) s.y1--;
    if (s.hi <= s.lo) s.y1 = s.y0;
    return s;
}
/* small planes (at most CZ_SMALL elements in and out): tables instead of spans.
   cz_window_index: the plane offset each of tap t's L window positions reads (-1: padding);
   cz_fold_index: for each plane element e, the column entries that read it (entries
   start[e]..start[e+1]: offset tap * ld + l), j by j and i by i within j; fresh marks each
   j's first entry (the fold's order, see col2im_plane) */
#define CZ_SMALL 256
static void cz_window_index(I t, const cz_geom *g, I *idx) {
    cz_span s = cz_span_of(t, g);
    for (I y = 0; y < g->oh; y++)
        for (I q = 0; q < g->ow; q++)
            idx[y * g->ow + q] = y >= s.y0 && y < s.y1 && q >= s.lo && q < s.hi
                ? (y * g->sh + s.top) * g->W + q * g->sw + s.off : -1;
}
static void cz_fold_index(const cz_geom *g, I ld, I *start, I *off, unsigned char *fresh) {
    I k = 0, kh = g->kh, kw = g->kw;
    for (I e = 0; e < g->H * g->W; e++) {
        I r = e / g->W, col = e % g->W;
        start[e] = k;
        for (I j = 0; j < kw; j++) {
            I tq = col + g->pw - j * g->dw;
            if (tq < 0 || tq % g->sw || tq / g->sw >= g->ow) continue;
            int first = 1;
            for (I i = 0; i < kh; i++) {
                I ty = r + g->ph - i * g->dh;
                if (ty < 0 || ty % g->sh || ty / g->sh >= g->oh) continue;
                off[k] = (i * kw + j) * ld + ty / g->sh * g->ow + tq / g->sw;
                fresh[k++] = (unsigned char)first;
                first = 0;
            }
        }
    }
    start[g->H * g->W] = k;
}
/* col2im_plane's scratch (elements): W + ow, or a plane where rows go whole */
static I cz_col2im_scratch(const cz_geom *g) {
    I a = g->W + g->ow, b = g->H * g->W;
    return a > b ? a : b;
}
static int cz_small(const cz_geom *g) {
    return g->H * g->W <= CZ_SMALL && g->oh * g->ow <= CZ_SMALL;
}
/* the spans of kernel columns j = 0..kw-1 (their columns do not depend on c or i) */
static cz_span *cz_column_spans(const cz_geom *g) {
    cz_span *js = malloc(sizeof(cz_span) * g->kw);
    for (I j = 0; j < g->kw; j++) js[j] = cz_span_of(j, g);
    return js;
}
/* tasks of the layout passes: about 16K elements each, at most 64 (and rows) */
static I cz_layout_tasks(I rows, I elements) {
    I t = elements / 16384;
    return t < 1 ? 1 : t > 64 ? 64 : t > rows ? rows : t;
}
#define CZ_CONV_SAMPLE(S, T, GEMM)                                                            \
/* d[y*ow+q] (oh*ow elements) = p[y*sh+top][q*sw+off] of one plane p (H, W), 0 where the      \
   window reads padding: each output row a copy (memcpy when long) between zeros */           \
static inline void im2col_fill_##S(const T *restrict p, T *restrict d, const cz_span *s,      \
                                   const cz_geom *g) {                                        \
    I W = g->W, oh = g->oh, ow = g->ow, sh = g->sh, sw = g->sw, lo = s->lo, hi = s->hi;       \
    for (I e = 0; e < s->y0 * ow; e++) d[e] = 0;                                              \
    for (I e = s->y1 * ow; e < oh * ow; e++) d[e] = 0;                                        \
    if (sw == 1 && sh == 1 && ow == W && s->y1 > s->y0) {                                     \
        /* rows as long as the plane's: the rows' copies are one span of the plane (the       \
           columns between them, read from the neighbouring rows, then zeroed) */             \
        memcpy(d + s->y0 * ow + lo, p + (s->y0 + s->top) * W + s->off + lo,                   \
               sizeof(T) * ((s->y1 - s->y0 - 1) * ow + hi - lo));                             \
        for (I y = s->y0; y < s->y1; y++) {                                                   \
            for (I q = 0; q < lo; q++) d[y * ow + q] = 0;                                     \
            for (I q = hi; q < ow; q++) d[y * ow + q] = 0;                                    \
        }                                                                                     \
        return;                                                                               \
    }                                                                                         \
    for (I y = s->y0; y < s->y1; y++) {                                                       \
        T *r = d + y * ow;                                                                    \
        const T *row = p + (y * sh + s->top) * W + s->off;                                    \
        for (I q = 0; q < lo; q++) r[q] = 0;                                                  \
        if (sw == 1 && hi - lo >= 32) memcpy(r + lo, row + lo, sizeof(T) * (hi - lo));        \
        else for (I q = lo; q < hi; q++) r[q] = row[q * sw];                                  \
        for (I q = hi; q < ow; q++) r[q] = 0;                                                 \
    }                                                                                         \
}                                                                                             \
/* cols[(c*kh+i)*kw+j][l] (row stride ld) = x[c, y*sh-ph+i*dh, q*sw-pw+j*dw] for l = y*ow+q   \
   of one image x (C, H, W), 0 where the window reads padding */                              \
static void im2col1_##S(const T *restrict x, T *restrict cols, I ld, const cz_geom *g) {      \
    for (I u = 0; u < g->C * g->kh * g->kw; u++) {                                            \
        cz_span s = cz_span_of(u, g);                                                         \
        im2col_fill_##S(x + s.c * g->H * g->W, cols + u * ld, &s, g);                         \
    }                                                                                         \
}                                                                                             \
/* the adjoint for one plane: out (H, W) of channel c = the sum of the columns (row stride    \
   ld, from the image's first column) that read each element, in the order of the NumPy fold  \
   (ops/conv.py's _fold_fwd): for each element, over j, the sum over i (from +0) of the terms \
   that read it, added (from +0) in j's order. v: cz_col2im_scratch(g) elements of scratch, \
   a: ow more (it may lie inside v past W: only the row form uses it) */                     \
static void col2im_plane_##S(const T *restrict cols, I ld, T *restrict out, I c,              \
                             const cz_geom *g, const cz_span *js, T *restrict v,              \
                             T *restrict a) {                                                 \
    I H = g->H, W = g->W, kh = g->kh, kw = g->kw, oh = g->oh, ow = g->ow, sh = g->sh;         \
    I sw = g->sw;                                                                             \
    if (sh == 1 && sw == 1 && ow == W) {                                                      \
        /* rows as long as the plane's, stride 1: the same sums plane by plane. For each j,   \
           v (H*W scratch) = +0 + the terms of each i in order (whole rows: one contiguous    \
           run per i), +0 at the columns j's windows never read, then added into out at       \
           j's column offset along the whole plane. The extra terms are +0, added to sums     \
           that are never -0 (they start from +0): the same bits as the rows below */         \
        I HW = H * W;                                                                         \
        for (I e = 0; e < HW; e++) out[e] = 0;                                                \
        for (I j = 0; j < kw; j++) {                                                          \
            cz_span s = js[j];                                                                \
            int any = 0;                                                                      \
            if (s.hi <= s.lo) continue;                                                       \
            for (I e = 0; e < HW; e++) v[e] = 0;                                              \
            for (I i = 0; i < kh; i++) {                                                      \
                I sh0 = i * g->dh - g->ph;     /* plane row r reads column row r - sh0 */     \
                I r0 = sh0 > 0 ? sh0 : 0, r1 = oh + sh0 < H ? oh + sh0 : H;                   \
                if (r1 <= r0) continue;                                                       \
                const T *src = cols + ((c * kh + i) * kw + j) * ld + (r0 - sh0) * ow;         \
                T *d = v + r0 * W;                                                            \
                for (I e = 0; e < (r1 - r0) * W; e++) d[e] += src[e];                         \
                any = 1;                                                                      \
            }                                                                                 \
            if (!any) continue;                                                               \
            for (I r = 0; r < H; r++) {                                                       \
                for (I q = 0; q < s.lo; q++) v[r * W + q] = 0;                                \
                for (I q = s.hi; q < W; q++) v[r * W + q] = 0;                                \
            }                                                                                 \
            I k0 = s.off > 0 ? s.off : 0, k1 = s.off < 0 ? HW + s.off : HW;                   \
            for (I k = k0; k < k1; k++) out[k] += v[k - s.off];                               \
        }                                                                                     \
        return;                                                                               \
    }                                                                                         \
    for (I r = 0; r < H; r++) {                                                               \
        for (I e = 0; e < W; e++) v[e] = 0;                                                   \
        for (I j = 0; j < kw; j++) {                                                          \
            cz_span s = js[j];                                                                \
            int any = 0;                                                                      \
            if (s.hi <= s.lo) continue;                                                       \
            for (I i = 0; i < kh; i++) {                                                      \
                I t = r + g->ph - i * g->dh, y = t / sh;                                      \
                if (t < 0 || t % sh || y >= oh) continue;                                     \
                const T *src = cols + ((c * kh + i) * kw + j) * ld + y * ow;                  \
                if (any) for (I q = s.lo; q < s.hi; q++) a[q] += src[q];                      \
                else for (I q = s.lo; q < s.hi; q++) a[q] = (T)0 + src[q];                    \
                any = 1;                                                                      \
            }                                                                                 \
            if (!any) continue;                                                               \
            if (sw == 1) for (I q = s.lo; q < s.hi; q++) v[q + s.off] += a[q];                \
            else for (I q = s.lo; q < s.hi; q++) v[q * sw + s.off] += a[q];                   \
        }                                                                                     \
        memcpy(out + r * W, v, sizeof(T) * W);                                                \
    }                                                                                         \
}                                                                                             \
typedef struct { cz_geom g; const T *x, *w, *b; T *out, *part; I kc; int exact; int relu;     \
                 I tasks; } conv_job_##S;                                                     \
/* the batch's (C*kh*kw, N*L) columns (row stride N*L): task t a block of rows, each row      \
   filled image by image (the writes run along the row); small planes through the taps'       \
   window tables */                                                                           \
static void im2col_task_##S(void *ctx, int64_t t) {                                           \
    const conv_job_##S *j = ctx; const cz_geom *g = &j->g;                                    \
    I L = g->oh * g->ow, taps = g->kh * g->kw, K = g->C * taps, plane = g->H * g->W;          \
    I u0 = K * t / j->tasks, u1 = K * (t + 1) / j->tasks;                                     \
    if (cz_small(g)) {                                                                        \
        I *idx = malloc(sizeof(I) * taps * L);                                                \
        for (I k = 0; k < taps; k++) cz_window_index(k, g, idx + k * L);                      \
        for (I u = u0; u < u1; u++) {                                                         \
            const I *ix = idx + u % taps * L;                                                 \
            const T *x = j->x + u / taps * plane;                                             \
            T *row = j->out + u * g->N * L;                                                   \
            for (I n = 0; n < g->N; n++) {                                                    \
                const T *p = x + n * g->C * plane;                                            \
                T *d = row + n * L;                                                           \
                for (I l = 0; l < L; l++) d[l] = ix[l] >= 0 ? p[ix[l]] : (T)0;                \
            }                                                                                 \
        }                                                                                     \
        free(idx);                                                                            \
        return;                                                                               \
    }                                                                                         \
    for (I u = u0; u < u1; u++) {                                                             \
        cz_span s = cz_span_of(u, g);                                                         \
        for (I n = 0; n < g->N; n++)                                                          \
            im2col_fill_##S(j->x + (n * g->C + s.c) * plane, j->out + u * g->N * L + n * L,   \
                            &s, g);                                                           \
    }                                                                                         \
}                                                                                             \
void cz_im2col_##S(const T *x, T *cols, const I *geom) {                                      \
    conv_job_##S j = {*(const cz_geom *)geom, x, 0, 0, cols, 0, 1, 0, 0, 0};                  \
    I K = j.g.C * j.g.kh * j.g.kw;                                                            \
    j.tasks = cz_layout_tasks(K, K * j.g.N * j.g.oh * j.g.ow);                                \
    cz_for(im2col_task_##S, &j, j.tasks);                                                     \
}                                                                                             \
/* task t: a block of channels, each channel's planes image by image; small planes through    \
   the fold table (each element's entries in the fold's order) */                             \
static void col2im_task_##S(void *ctx, int64_t t) {                                           \
    const conv_job_##S *j = ctx; const cz_geom *g = &j->g;                                    \
    I L = g->oh * g->ow, ld = g->N * L, plane = g->H * g->W, taps = g->kh * g->kw;            \
    I c0 = g->C * t / j->tasks, c1 = g->C * (t + 1) / j->tasks;                               \
    if (cz_small(g)) {                                                                        \
        I *start = malloc(sizeof(I) * (plane + 1 + plane * taps));                            \
        unsigned char *fresh = malloc(plane * taps + 1);                                      \
        I *off = start + plane + 1;                                                           \
        cz_fold_index(g, ld, start, off, fresh);                                              \
        for (I c = c0; c < c1; c++)                                                           \
            for (I n = 0; n < g->N; n++) {                                                    \
                const T *src = j->x + c * taps * ld + n * L;                                  \
                T *o = j->out + (n * g->C + c) * plane;                                       \
                for (I e = 0; e < plane; e++) {                                               \
                    T v = 0, a = 0;                                                           \
                    int any = 0;                                                              \
                    for (I k = start[e]; k < start[e + 1]; k++) {                             \
                        T term = src[off[k]];                                                 \
                        if (fresh[k]) {                                                       \
                            if (any) v += a;                                                  \
                            a = (T)0 + term;                                                  \
                            any = 1;                                                          \
                        } else {                                                              \
                            a += term;                                                        \
                        }                                                                     \
                    }                                                                         \
                    o[e] = any ? v + a : v;                                                   \
                }                                                                             \
            }                                                                                 \
        free(start);                                                                          \
        free(fresh);                                                                          \
        return;                                                                               \
    }                                                                                         \
    T *v = malloc(sizeof(T) * cz_col2im_scratch(g));                                          \
    cz_span *js = cz_column_spans(g);                                                         \
    for (I c = c0; c < c1; c++)                                                               \
        for (I n = 0; n < g->N; n++)                                                          \
            col2im_plane_##S(j->x + n * L, ld, j->out + (n * g->C + c) * plane, c, g, js, v,  \
                             v + g->W);                                                       \
    free(v);                                                                                  \
    free(js);                                                                                 \
}                                                                                             \
/* the adjoint of cz_im2col: (C*kh*kw, N*L) -> (N, C, H, W) */                                \
void cz_col2im_##S(const T *cols, T *out, const I *geom) {                                    \
    conv_job_##S j = {*(const cz_geom *)geom, cols, 0, 0, out, 0, 1, 0, 0, 0};                \
    j.tasks = cz_layout_tasks(j.g.C, j.g.N * j.g.C * j.g.kh * j.g.kw * j.g.oh * j.g.ow);      \
    cz_for(col2im_task_##S, &j, j.tasks);                                                     \
}                                                                                             \
/* one image's columns: x itself for a 1x1 window of stride 1 without padding */              \
static const T *cols1_##S(const T *x, T *buf, const cz_geom *g) {                             \
    if (g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && g->ph == 0 && g->pw == 0)     \
        return x;                                                                             \
    im2col1_##S(x, buf, g->oh * g->ow, g);                                                    \
    return buf;                                                                               \
}                                                                                             \
/* out[n] (O, L) = w (O, C*kh*kw) cols(x[n]) (+ bias per row), one image per task; with relu \
   set, then max(v, 0) as the relu kernel computes it, while the image's output is in cache */ \
static void fwd_task_##S(void *ctx, int64_t n) {                                              \
    const conv_job_##S *j = ctx; const cz_geom *g = &j->g;                                    \
    I K = g->C * g->kh * g->kw, L = g->oh * g->ow, O = g->O;                                  \
    if (cz_local && !j->exact) cz_local(1);                                                   \
    T *buf = malloc(sizeof(T) * K * L);                                                       \
    const T *cols = cols1_##S(j->x + n * g->C * g->H * g->W, buf, g);                         \
    T *o = j->out + n * O * L;                                                                \
    GEMM(101, 111, 111, O, L, K, (T)1, j->w, K, cols, L, (T)0, o, L);                         \
    if (j->b && j->relu) for (I r = 0; r < O; r++) {                                          \
        T b = j->b[r];                                                                        \
        for (I l = 0; l < L; l++) { T v = o[r * L + l] + b; o[r * L + l] = CZ_RELU(v); }      \
    } else if (j->b) for (I r = 0; r < O; r++) {                                              \
        T b = j->b[r];                                                                        \
        for (I l = 0; l < L; l++) o[r * L + l] += b;                                          \
    } else if (j->relu) for (I e = 0; e < O * L; e++) { T v = o[e]; o[e] = CZ_RELU(v); }      \
    free(buf);                                                                                \
}                                                                                             \
/* gx[n] = col2im(w^T g[n]): x is the gradient g (N, O, L) here, out gx (N, C, H, W) */       \
static void igrad_task_##S(void *ctx, int64_t n) {                                            \
    const conv_job_##S *j = ctx; const cz_geom *g = &j->g;                                    \
    I K = g->C * g->kh * g->kw, L = g->oh * g->ow, O = g->O;                                  \
    if (cz_local && !j->exact) cz_local(1);                                                   \
    T *cols = malloc(sizeof(T) * (K * L + cz_col2im_scratch(g)));                             \
    GEMM(101, 112, 111, K, L, O, (T)1, j->w, K, j->x + n * O * L, L, (T)0, cols, L);          \
    cz_span *js = cz_column_spans(g);                                                         \
    for (I c = 0; c < g->C; c++)                                                              \
        col2im_plane_##S(cols, L, j->out + (n * g->C + c) * g->H * g->W, c, g, js,            \
                         cols + K * L, cols + K * L + g->W);                                  \
    free(cols);                                                                               \
    free(js);                                                                                 \
}                                                                                             \
/* chunk c of the weight gradient: the sum over its images n of g[n] (O, L) cols(x[n])^T,      \
   added image by image; w is g here */                                                      \
static void wgrad_task_##S(void *ctx, int64_t c) {                                            \
    const conv_job_##S *j = ctx; const cz_geom *g = &j->g;                                    \
    I K = g->C * g->kh * g->kw, L = g->oh * g->ow, O = g->O;                                  \
    I n0 = g->N * c / j->kc, n1 = g->N * (c + 1) / j->kc;                                     \
    if (cz_local && !j->exact) cz_local(1);                                                   \
    T *buf = malloc(sizeof(T) * (K * L + O * K));                                             \
    T *tmp = buf + K * L, *dst = j->kc == 1 ? j->out : j->part + c * O * K;                   \
    for (I n = n0; n < n1; n++) {                                                             \
        const T *cols = cols1_##S(j->x + n * g->C * g->H * g->W, buf, g);                     \
        /* exact (float64): each product, then added, as the NumPy form; float32 adds each   \
           image's product into the chunk's sum inside the GEMM (within rounding) */          \
        int add = n > n0 && !j->exact;                                                        \
        GEMM(101, 111, 112, O, K, L, (T)1, j->w + n * O * L, L, cols, L, (T)add,              \
             n == n0 || add ? dst : tmp, K);                                                  \
        if (n > n0 && !add) for (I e = 0; e < O * K; e++) dst[e] += tmp[e];                   \
    }                                                                                         \
    free(buf);                                                                                \
}                                                                                             \
static void wgrad_sum_##S(void *ctx, int64_t t) {                                             \
    const conv_job_##S *j = ctx;                                                              \
    I total = j->g.O * j->g.C * j->g.kh * j->g.kw, e0 = total * t / 16;                       \
    I e1 = total * (t + 1) / 16;                                                              \
    for (I e = e0; e < e1; e++) j->out[e] = j->part[e];                                       \
    for (I c = 1; c < j->kc; c++)                                                             \
        for (I e = e0; e < e1; e++) j->out[e] += j->part[c * total + e];                      \
}                                                                                             \
static void conv_run_##S(void (*task)(void *, int64_t), conv_job_##S *j, I n) {               \
    if (j->exact) { for (I t = 0; t < n; t++) task(j, t); return; }                           \
    int prev = cz_local ? cz_local(1) : 0;                                                    \
    cz_for(task, j, n);                                                                       \
    if (cz_local) cz_local(prev);                                                             \
}                                                                                             \
/* out (N, O, oh, ow) = conv(x (N, C, H, W), w (O, C, kh, kw)) + b (NULL: none), then relu'd \
   where relu is set */                                                                       \
void cz_conv_fwd_##S(const T *x, const T *w, const T *b, T *out, const I *geom, int exact,    \
                     int relu) {                                                              \
    conv_job_##S j = {*(const cz_geom *)geom, x, w, b, out, 0, 1, exact, relu};               \
    conv_run_##S(fwd_task_##S, &j, j.g.N);                                                    \
}                                                                                             \
/* gx (N, C, H, W) from g (N, O, oh, ow) and w */                                             \
void cz_conv_igrad_##S(const T *gr, const T *w, T *gx, const I *geom, int exact) {            \
    conv_job_##S j = {*(const cz_geom *)geom, gr, w, 0, gx, 0, 1, exact};                     \
    conv_run_##S(igrad_task_##S, &j, j.g.N);                                                  \
}                                                                                             \
/* gw (O, C*kh*kw) from g (N, O, oh, ow) and x: kc chunks of images (part: kc * O*C*kh*kw    \
   scratch when kc > 1), summed in chunk order */                                             \
void cz_conv_wgrad_##S(const T *gr, const T *x, T *gw, T *part, const I *geom, I kc,          \
                       int exact) {                                                           \
    conv_job_##S j = {*(const cz_geom *)geom, x, gr, 0, gw, part, kc, exact};                 \
    conv_run_##S(wgrad_task_##S, &j, kc);                                                     \
    if (kc > 1) cz_for(wgrad_sum_##S, &j, 16);                                                \
}
CZ_CONV_SAMPLE(f32, float, cz_sgemm)
CZ_CONV_SAMPLE(f64, double, cz_dgemm)

/* max pooling over 2x2 windows of stride 2 (no padding or dilation): out = the window's
   elements folded left to right (rows first) with NumPy's maximum as x86 NumPy computes it
   (the NaN operand wins; of equal elements, +0 and -0 included, the later one), as
   ops/pool.py's four strided passes. When the windows tile the planes (even H and W) the
   input's rows pair up across the whole batch: a task takes a range of output rows, takes the
   maximum of each pair of neighbours along its input rows in one contiguous pass (it
   vectorises), then of the two rows' results: max(max(a, b), max(c, d)) gives the same
   element as the fold (the first NaN, else the last of the largest). Otherwise planes (N*C)
   split into up to 64 tasks, window by window. */
typedef struct { const void *x; void *out; I P, H, W, oh, ow, tasks; } cz_pool_job;
#define CZ_PB 64     /* output rows per block of the tiled pass (its scratch stays in cache) */
#define CZ_MAXPOOL2(S, T)                                                                     \
static inline T cz_max_##S(T m, T v) { return (m > v || m != m) ? m : v; }                   \
static inline void cz_max8_##S(T *restrict o, const T *restrict a, const T *restrict b) {      \
    for (int k = 0; k < 8; k++) o[k] = cz_max_##S(a[k], b[k]);                                \
}                                                                                             \
static void maxpool2_tiled_##S(const cz_pool_job *j, int64_t t) {                             \
    I W = j->W, ow = j->ow, rows = j->P * j->oh;                                              \
    I u0 = rows * t / j->tasks, u1 = rows * (t + 1) / j->tasks;                               \
    T *h = calloc(CZ_PB * 2 * ow + 8, sizeof(T));                                             \
    for (I b0 = u0; b0 < u1; b0 += CZ_PB) {                                                   \
        I nr = b0 + CZ_PB < u1 ? CZ_PB : u1 - b0, m = nr * 2 * ow;                            \
        const T *restrict x = (const T *)j->x + 2 * b0 * W;                                   \
        T *restrict hh = h, *restrict o = (T *)j->out + b0 * ow;                              \
        for (I k = 0; k < m; k++) hh[k] = cz_max_##S(x[2 * k], x[2 * k + 1]);                 \
        /* 8 at a time, those past a row's end overwritten by the next rows' (while they stay \
           inside the block), the block's last rows one by one */                             \
        I r = 0, span = (ow + 7) / 8 * 8;                                                     \
        for (; r * ow + span <= nr * ow; r++)                                                 \
            for (I q = 0; q < ow; q += 8)                                                     \
                cz_max8_##S(o + r * ow + q, hh + 2 * r * ow + q, hh + (2 * r + 1) * ow + q);  \
        for (; r < nr; r++)                                                                   \
            for (I k = 0; k < ow; k++)                                                        \
                o[r * ow + k] = cz_max_##S(hh[2 * r * ow + k], hh[(2 * r + 1) * ow + k]);     \
    }                                                                                         \
    free(h);                                                                                  \
}                                                                                             \
static void maxpool2_task_##S(void *ctx, int64_t t) {                                         \
    const cz_pool_job *j = ctx;                                                               \
    I W = j->W, oh = j->oh, ow = j->ow;                                                       \
    if (j->H == 2 * oh && W == 2 * ow) { maxpool2_tiled_##S(j, t); return; }                  \
    for (I p = j->P * t / j->tasks; p < j->P * (t + 1) / j->tasks; p++)                       \
        for (I y = 0; y < oh; y++) {                                                          \
            const T *restrict r0 = (const T *)j->x + (p * j->H + 2 * y) * W;                  \
            const T *restrict r1 = r0 + W;                                                    \
            T *restrict o = (T *)j->out + (p * oh + y) * ow;                                  \
            for (I q = 0; q < ow; q++)                                                        \
                o[q] = cz_max_##S(cz_max_##S(cz_max_##S(r0[2 * q], r0[2 * q + 1]),            \
                                             r1[2 * q]), r1[2 * q + 1]);                      \
        }                                                                                     \
}                                                                                             \
void cz_maxpool2_fwd_##S(const T *x, T *out, I P, I H, I W, I oh, I ow) {                     \
    cz_pool_job j = {x, out, P, H, W, oh, ow, P * oh * ow < 8192 ? 1 : P < 64 ? P : 64};      \
    cz_for(maxpool2_task_##S, &j, j.tasks);                                                   \
}
CZ_MAXPOOL2(f32, float)
CZ_MAXPOOL2(f64, double)

/* max pooling's gradient over 2x2 windows of stride 2: g at each window's winner (its first
   element equal to out, or its last NaN when out is NaN, as torch), +0 at the window's other
   elements and at the row and column no window covers. Tasks of output rows (windows tiling
   the planes: rows of the whole batch) or of planes. A row of windows goes 8 at a time in
   two passes, its top input row then its bottom one (each pass decides the winners and
   writes its own row, so the compiler's vectors never meet): blocks past a row's end read
   and write into the rows after it, which are written again after it (so only while those
   stay inside the task's rows; the task's last rows one window at a time) */
#define CZ_POOL2_WIN(T)                                                                       \
    T o = o_[q], a = r0[2 * q], b = r0[2 * q + 1], c = r1[2 * q], e = r1[2 * q + 1], v = g[q];\
    int n = o != o;                                                                           \
    int ha = n ? (a != a) & (b == b) & (c == c) & (e == e) : a == o;                          \
    int hb = n ? (b != b) & (c == c) & (e == e) : (b == o) & !ha;                             \
    int hc = n ? (c != c) & (e == e) : (c == o) & !ha & !hb;                                  \
    int he = !(ha | hb | hc);
#define CZ_MAXPOOL2_BWD(S, T)                                                                 \
static inline void cz_pool2_top8_##S(T *restrict d, const T *restrict r0,                     \
                                     const T *restrict r1, const T *restrict o_,              \
                                     const T *restrict g) {                                   \
    for (int q = 0; q < 8; q++) {                                                             \
        CZ_POOL2_WIN(T)                                                                       \
        (void)hc; (void)he;                                                                   \
        d[2 * q] = ha ? v : (T)0; d[2 * q + 1] = hb ? v : (T)0;                               \
    }                                                                                         \
}                                                                                             \
static inline void cz_pool2_bottom8_##S(T *restrict d, const T *restrict r0,                  \
                                        const T *restrict r1, const T *restrict o_,           \
                                        const T *restrict g) {                                \
    for (int q = 0; q < 8; q++) {                                                             \
        CZ_POOL2_WIN(T)                                                                       \
        d[2 * q] = hc ? v : (T)0; d[2 * q + 1] = he ? v : (T)0;                               \
    }                                                                                         \
}                                                                                             \
/* one row of windows: input rows r0, r1 (gradient rows d0, d1), ow windows, one by one */   \
static void cz_pool2_row_##S(T *d0, T *d1, const T *r0, const T *r1, const T *o_,             \
                             const T *g, I ow) {                                              \
    for (I q = 0; q < ow; q++) {                                                              \
        CZ_POOL2_WIN(T)                                                                       \
        d0[2 * q] = ha ? v : (T)0; d0[2 * q + 1] = hb ? v : (T)0;                             \
        d1[2 * q] = hc ? v : (T)0; d1[2 * q + 1] = he ? v : (T)0;                             \
    }                                                                                         \
}                                                                                             \
typedef struct { const T *g, *x, *out; T *gx; I P, H, W, oh, ow, tasks; } cz_pool_bwd_##S;     \
static void maxpool2_bwd_task_##S(void *ctx, int64_t t) {                                     \
    const cz_pool_bwd_##S *j = ctx;                                                           \
    I H = j->H, W = j->W, oh = j->oh, ow = j->ow;                                             \
    if (H == 2 * oh && W == 2 * ow) {                                                         \
        I rows = j->P * oh, u0 = rows * t / j->tasks, u1 = rows * (t + 1) / j->tasks;         \
        I span = (ow + 7) / 8 * 8, u = u0;                                                    \
        for (; u < u1 && (2 * u + 1) * W + 2 * span <= 2 * u1 * W; u++) {                     \
            const T *r0 = j->x + 2 * u * W, *r1 = r0 + W, *o_ = j->out + u * ow;              \
            const T *g = j->g + u * ow;                                                       \
            T *d0 = j->gx + 2 * u * W, *d1 = d0 + W;                                          \
            for (I q = 0; q < ow; q += 8)                                                     \
                cz_pool2_top8_##S(d0 + 2 * q, r0 + 2 * q, r1 + 2 * q, o_ + q, g + q);         \
            for (I q = 0; q < ow; q += 8)                                                     \
                cz_pool2_bottom8_##S(d1 + 2 * q, r0 + 2 * q, r1 + 2 * q, o_ + q, g + q);      \
        }                                                                                     \
        for (; u < u1; u++)                                                                   \
            cz_pool2_row_##S(j->gx + 2 * u * W, j->gx + (2 * u + 1) * W, j->x + 2 * u * W,    \
                             j->x + (2 * u + 1) * W, j->out + u * ow, j->g + u * ow, ow);     \
        return;                                                                               \
    }                                                                                         \
    for (I p = j->P * t / j->tasks; p < j->P * (t + 1) / j->tasks; p++) {                     \
        for (I y = 0; y < oh; y++) {                                                          \
            I at = (p * H + 2 * y) * W;                                                       \
            T *d0 = j->gx + at, *d1 = d0 + W;                                                 \
            cz_pool2_row_##S(d0, d1, j->x + at, j->x + at + W, j->out + (p * oh + y) * ow,    \
                             j->g + (p * oh + y) * ow, ow);                                   \
            for (I q = 2 * ow; q < W; q++) d0[q] = d1[q] = 0;                                 \
        }                                                                                     \
        for (I e = 2 * oh * W; e < H * W; e++) j->gx[p * H * W + e] = 0;                     \
    }                                                                                         \
}                                                                                             \
void cz_maxpool2_bwd_##S(const T *g, const T *x, const T *out, T *gx, I P, I H, I W, I oh,    \
                         I ow) {                                                              \
    cz_pool_bwd_##S j = {g, x, out, gx, P, H, W, oh, ow,                                      \
                         P * oh * ow < 8192 ? 1 : P < 64 ? P : 64};                           \
    cz_for(maxpool2_bwd_task_##S, &j, j.tasks);                                               \
}
CZ_MAXPOOL2_BWD(f32, float)
CZ_MAXPOOL2_BWD(f64, double)

/* the CNN layers' elementwise neighbours on the pool, in tasks of CZ_EW elements (a split by
   the size only; each element on its own, so any split gives the same bits):
   relu: out = maximum(x, 0) as NumPy computes it (NaN stays, -0 gives +0);
   relu_grad: gx = g where out > 0 or out is NaN, +0 where out <= 0 (torch's
   threshold_backward(g, out, 0));
   bias_grad: gb[c] = the sum of g (N, C, L) over n and l, per channel in a double accumulator
   of CZ_LANES lanes (element l of an image into lane l % CZ_LANES, images in order, then the
   lanes in order; ops/conv.py's NumPy form adds in this order too): one task per channel, so
   the order is the shape's alone */
#define CZ_EW 32768
#define CZ_LANES """ + str(BIAS_LANES) + r"""
typedef struct { const void *a, *b; void *out; I n, C, L; } cz_ew_job;
static inline I cz_ew_tasks(I n) { return (n + CZ_EW - 1) / CZ_EW; }
#define CZ_CNN_EW(S, T)                                                                       \
static void relu_task_##S(void *ctx, int64_t t) {                                             \
    const cz_ew_job *j = ctx;                                                                 \
    const T *restrict x = j->a; T *restrict o = j->out;                                       \
    I e1 = (t + 1) * CZ_EW < j->n ? (t + 1) * CZ_EW : j->n;                                   \
    for (I e = t * CZ_EW; e < e1; e++) { T v = x[e]; o[e] = CZ_RELU(v); }                   \
}                                                                                             \
void cz_relu_##S(const T *x, T *out, I n) {                                                   \
    cz_ew_job j = {x, 0, out, n, 0, 0};                                                       \
    cz_for(relu_task_##S, &j, cz_ew_tasks(n));                                                \
}                                                                                             \
static void relu_grad_task_##S(void *ctx, int64_t t) {                                        \
    const cz_ew_job *j = ctx;                                                                 \
    const T *restrict g = j->a, *restrict y = j->b; T *restrict o = j->out;                   \
    I e1 = (t + 1) * CZ_EW < j->n ? (t + 1) * CZ_EW : j->n;                                   \
    for (I e = t * CZ_EW; e < e1; e++) o[e] = y[e] <= 0 ? (T)0 : g[e];                       \
}                                                                                             \
void cz_relu_grad_##S(const T *g, const T *y, T *out, I n) {                                  \
    cz_ew_job j = {g, y, out, n, 0, 0};                                                       \
    cz_for(relu_grad_task_##S, &j, cz_ew_tasks(n));                                           \
}                                                                                             \
static void bias_grad_task_##S(void *ctx, int64_t c) {                                        \
    const cz_ew_job *j = ctx;                                                                 \
    I L = j->L, Lw = L / CZ_LANES * CZ_LANES;                                                 \
    double acc[CZ_LANES] = {0};                                                               \
    for (I n = 0; n < j->n; n++) {                                                            \
        const T *restrict r = (const T *)j->a + (n * j->C + c) * L;                           \
        for (I l = 0; l < Lw; l += CZ_LANES)                                                  \
            for (int k = 0; k < CZ_LANES; k++) acc[k] += r[l + k];                            \
        for (I l = Lw; l < L; l++) acc[l - Lw] += r[l];                                       \
    }                                                                                         \
    double s = acc[0];                                                                        \
    for (int k = 1; k < CZ_LANES; k++) s += acc[k];                                           \
    ((T *)j->out)[c] = (T)s;                                                                  \
}                                                                                             \
void cz_bias_grad_##S(const T *g, T *out, I N, I C, I L) {                                    \
    cz_ew_job j = {g, 0, out, N, C, L};                                                       \
    cz_for(bias_grad_task_##S, &j, C);                                                        \
}
CZ_CNN_EW(f32, float)
CZ_CNN_EW(f64, double)

/* float32 convolutions of one input channel (a CNN's first layer on grey images: C*kh*kw taps
   too few for a good GEMM), window columns of stride and dilation 1, at least 8 output
   columns. Each image's plane is copied once into a zero-padded buffer (the rows and columns
   the windows read), then:
   direct1_fwd: out[n, o, y, x] = sum over taps t = (i, j) in order of w[o, t] * xp[y*sh+i*dh,
   x+j] (each product rounded, added from the first tap on), + b[o], then relu where set: 8
   columns at a time in registers (a row's last 8 again where ow is not a multiple of 8: the
   same values written twice), one image per task;
   direct1_wgrad: gw[o, t] = the sum over images of (the sum over the image's rows of g * xp in
   8 column lanes, then the lanes in order) in double, images in order within each of
   CZ_WCHUNKS chunks of images (one task each, g read in memory order), then the chunks in
   order. Both orders depend on the shape only, not on the thread count. */
typedef float cz_v8 __attribute__((vector_size(32)));
typedef float cz_v8u __attribute__((vector_size(32), aligned(4), may_alias));
typedef int32_t cz_i8 __attribute__((vector_size(32)));
#define CZ_LOAD8(p) (*(const cz_v8u *)(p))
#define CZ_TAPS 64
#define CZ_WCHUNKS 16   /* chunks of images of the direct weight gradient */
#define CZ_NB 4      /* output blocks of 8 columns computed together */
typedef struct { cz_geom g; const float *x, *w, *b; float *out, *xp; double *part; int relu;
                 I Hp, Wp, kc; const float *r, *p; } cz_direct_job;
/* the padded plane of image n: rows y*sh + i*dh - ph, columns x + j - pw of the input, +0
   outside it (Hp x Wp, Wp rounded up to 8) */
static void cz_direct_pad(const cz_direct_job *j, const float *x, float *xp) {
    const cz_geom *g = &j->g;
    for (I r = 0; r < j->Hp; r++) {
        I sr = r - g->ph;
        float *d = xp + r * j->Wp;
        for (I q = 0; q < j->Wp; q++) {
            I sc = q - g->pw;
            d[q] = sr >= 0 && sr < g->H && sc >= 0 && sc < g->W ? x[sr * g->W + sc] : 0.0f;
        }
    }
}
/* one output channel's plane: 3x3 windows (taps known here: the products' sums stay in
   registers, a row's 8-column blocks side by side) or any other window (taps in a loop) */
static inline __attribute__((always_inline)) void cz_direct_plane(
        const cz_direct_job *j, const float *xp, const float *w, I o, float *out, I kh,
        I kw) {
    const cz_geom *g = &j->g;
    I oh = g->oh, ow = g->ow, Wp = j->Wp, rs = g->dh * Wp, taps = kh * kw;
    cz_v8 bias = {0}; bias += j->b ? j->b[o] : 0.0f;
    float wt[CZ_TAPS];
    for (I t = 0; t < taps; t++) wt[t] = w[t];
    I nb = (ow + 7) / 8;                 /* 8-column blocks of a row (the last at ow - 8) */
    for (I y = 0; y < oh; y++) {
        const float *row = xp + y * g->sh * Wp;
        for (I b0 = 0; b0 < nb; b0 += CZ_NB) {
            /* CZ_NB blocks side by side (independent sums: the adds overlap) */
            I xs[CZ_NB];
            cz_v8 acc[CZ_NB];
            for (int k = 0; k < CZ_NB; k++) {
                I x = (b0 + k < nb ? b0 + k : nb - 1) * 8;
                xs[k] = x + 8 <= ow ? x : ow - 8;
                acc[k] = CZ_LOAD8(row + xs[k]) * wt[0];
            }
            for (I t = 1; t < taps; t++)
                for (int k = 0; k < CZ_NB; k++)
                    acc[k] += CZ_LOAD8(row + t / kw * rs + t % kw + xs[k]) * wt[t];
            for (int k = 0; k < CZ_NB; k++) {
                cz_v8 v = acc[k];
                if (j->b) v += bias;
                if (j->relu) {      /* relu's rule: v where v > 0 or v is NaN, else +0 */
                    cz_i8 keep = (v > 0) | (v != v);
                    v = (cz_v8)((cz_i8)v & keep);
                }
                *(cz_v8u *)(out + y * ow + xs[k]) = v;
            }
        }
    }
}
static void direct1_fwd_task(void *ctx, int64_t n) {
    const cz_direct_job *j = ctx; const cz_geom *g = &j->g;
    I kh = g->kh, kw = g->kw, taps = kh * kw;
    float *xp = malloc(sizeof(float) * j->Hp * j->Wp);
    cz_direct_pad(j, j->x + n * g->H * g->W, xp);
    for (I o = 0; o < g->O; o++) {
        float *out = j->out + (n * g->O + o) * g->oh * g->ow;
        if (kh == 3 && kw == 3) cz_direct_plane(j, xp, j->w + o * 9, o, out, 3, 3);
        else cz_direct_plane(j, xp, j->w + o * taps, o, out, kh, kw);
    }
    free(xp);
}
static void direct1_pad_task(void *ctx, int64_t n) {
    const cz_direct_job *j = ctx;
    cz_direct_pad(j, j->x + n * j->g.H * j->g.W, j->xp + n * j->Hp * j->Wp);
}
/* d (H x W, both even) = max_pool2d_backward of one plane under 2x2 windows of stride 2: the
   pooled gradient g (H/2 x W/2) at each window's winner of x (its maximum o_), +0 elsewhere,
   window by window as cz_maxpool2_bwd decides them (CZ_POOL2_WIN) */
static void cz_pool2_plane(float *restrict d, const float *restrict g, const float *restrict x,
                           const float *restrict o_, I H, I W) {
    I ow = W / 2, span = (ow + 7) / 8 * 8, y = 0;
    /* 8 windows at a time (cz_maxpool2_bwd's passes) while the blocks past a row's end stay
       inside the plane (the next rows written again after), the last rows window by window */
    for (; y < H / 2 && (2 * y + 1) * W + 2 * span <= H * W; y++) {
        const float *r0 = x + 2 * y * W, *r1 = r0 + W, *oy = o_ + y * ow, *gy = g + y * ow;
        float *d0 = d + 2 * y * W, *d1 = d0 + W;
        for (I q = 0; q < ow; q += 8)
            cz_pool2_top8_f32(d0 + 2 * q, r0 + 2 * q, r1 + 2 * q, oy + q, gy + q);
        for (I q = 0; q < ow; q += 8)
            cz_pool2_bottom8_f32(d1 + 2 * q, r0 + 2 * q, r1 + 2 * q, oy + q, gy + q);
    }
    for (; y < H / 2; y++)
        cz_pool2_row_f32(d + 2 * y * W, d + (2 * y + 1) * W, x + 2 * y * W, x + (2 * y + 1) * W,
                         o_ + y * ow, g + y * ow, ow);
}
/* w is g (N, O, oh, ow) here, xp the padded planes of every image; task c: the images of
   chunk c (of kc), their sums per (o, tap) into part[c] (double, images in order), g read in
   memory order */
static inline __attribute__((always_inline)) void cz_direct_wsum(
        const cz_direct_job *j, I c, I kh, I kw) {
    const cz_geom *g = &j->g;
    I oh = g->oh, ow = g->ow, Wp = j->Wp, rs = g->dh * Wp, taps = kh * kw, O = g->O;
    I n0 = g->N * c / j->kc, n1 = g->N * (c + 1) / j->kc;
    double *tot = j->part + c * O * taps;
    for (I e = 0; e < O * taps; e++) tot[e] = 0;
    cz_i8 tail = {0};                   /* lanes of the last block not in an earlier one */
    for (int k = 0; k < 8; k++) tail[k] = (ow % 8 == 0 || k >= 8 - ow % 8) ? -1 : 0;
    float *plane = j->r ? malloc(sizeof(float) * oh * ow) : 0;
    for (I n = n0; n < n1; n++) {
        const float *xp = j->xp + n * j->Hp * Wp;
        for (I o = 0; o < O; o++) {
            const float *gp = j->w + (n * O + o) * oh * ow;
            if (j->r) {   /* the gradient of 2x2 max pooling: the plane from the pooled one */
                I P = (n * O + o) * (oh / 2) * (ow / 2);
                cz_pool2_plane(plane, j->w + P, j->r + (n * O + o) * oh * ow, j->p + P, oh, ow);
                gp = plane;
            }
            cz_v8 acc[CZ_TAPS];
            for (I t = 0; t < taps; t++) acc[t] = (cz_v8){0};
            for (I x0 = 0; x0 < ow; x0 += 8) {
                I x = x0 + 8 <= ow ? x0 : ow - 8;
                cz_i8 m = x0 + 8 <= ow ? (cz_i8){-1, -1, -1, -1, -1, -1, -1, -1} : tail;
                for (I y = 0; y < oh; y++) {
                    cz_v8 gv = CZ_LOAD8(gp + y * ow + x);
                    const float *row = xp + y * g->sh * Wp + x;
                    for (I t = 0; t < taps; t++)
                        acc[t] += (cz_v8)((cz_i8)(gv * CZ_LOAD8(row + t / kw * rs + t % kw)) & m);
                }
            }
            for (I t = 0; t < taps; t++) {
                float s = acc[t][0];
                for (int k = 1; k < 8; k++) s += acc[t][k];
                tot[o * taps + t] += s;
            }
        }
    }
    free(plane);
}
static void direct1_wgrad_task(void *ctx, int64_t c) {
    const cz_direct_job *j = ctx;
    if (j->g.kh == 3 && j->g.kw == 3) cz_direct_wsum(j, c, 3, 3);
    else cz_direct_wsum(j, c, j->g.kh, j->g.kw);
}
static cz_direct_job cz_direct_setup(const I *geom) {
    cz_direct_job j = {*(const cz_geom *)geom};
    j.Hp = (j.g.oh - 1) * j.g.sh + (j.g.kh - 1) * j.g.dh + 1;
    j.Wp = (j.g.ow + j.g.kw - 1 + 7) / 8 * 8;
    return j;
}
void cz_direct1_fwd_f32(const float *x, const float *w, const float *b, float *out,
                        const I *geom, int relu) {
    cz_direct_job j = cz_direct_setup(geom);
    j.x = x; j.w = w; j.b = b; j.out = out; j.relu = relu;
    cz_for(direct1_fwd_task, &j, j.g.N);
}
/* gw of conv2d (one channel) from gr (N, O, oh, ow); with r (N, O, oh, ow, both even) and p
   (N, O, oh/2, ow/2) set, gr is the gradient of p = max_pool2d(r, 2) and the convolution's
   output gradient is max_pool2d_backward(gr, r, p), made plane by plane */
void cz_direct1_wgrad_f32(const float *gr, const float *x, float *gw, const I *geom,
                          const float *r, const float *p) {
    cz_direct_job j = cz_direct_setup(geom);
    j.x = x; j.w = gr; j.out = gw; j.r = r; j.p = p;
    I taps = j.g.kh * j.g.kw, size = j.g.O * taps;
    j.kc = j.g.N < CZ_WCHUNKS ? j.g.N : CZ_WCHUNKS;
    j.xp = malloc(sizeof(float) * j.g.N * j.Hp * j.Wp);
    j.part = malloc(sizeof(double) * j.kc * size);
    cz_for(direct1_pad_task, &j, j.g.N);
    cz_for(direct1_wgrad_task, &j, j.kc);
    for (I e = 0; e < size; e++) {      /* the chunks' sums in chunk order */
        double s = j.part[e];
        for (I c = 1; c < j.kc; c++) s += j.part[c * size + e];
        gw[e] = (float)s;
    }
    free(j.part);
    free(j.xp);
}
"""

_state: dict = {}
_P, _L, _i = ctypes.c_void_p, ctypes.c_int64, ctypes.c_int
_SIGNATURES = {"conv_gemm": [_L, _L, _L, _P, _i, _L, _P, _i, _L, _P, _P, _L, _L, _L, _i],
               "im2col": [_P, _P, _P], "col2im": [_P, _P, _P],
               "conv_fwd": [_P, _P, _P, _P, _P, _i, _i], "conv_igrad": [_P, _P, _P, _P, _i],
               "conv_wgrad": [_P, _P, _P, _P, _P, _L, _i], "maxpool2_fwd": [_P, _P] + [_L] * 5,
               "maxpool2_bwd": [_P, _P, _P, _P] + [_L] * 5,
               "relu": [_P, _P, _L], "relu_grad": [_P, _P, _P, _L],
               "bias_grad": [_P, _P] + [_L] * 3}
_F32_ONLY = {"direct1_fwd": [_P, _P, _P, _P, _P, _i], "direct1_wgrad": [_P] * 6}
_GEMMS = ("conv_gemm", "conv_fwd", "conv_igrad", "conv_wgrad")
_SUFFIX = {np.dtype(np.float32): "f32", np.dtype(np.float64): "f64"}
_TASK_FLOPS = 1 << 23     # about 8 MFLOP per task (a fraction of a millisecond)
_MAX_TASKS = 32
_NO_TRANS, _TRANS = 111, 112


def library():
    """The built library (None without a compiler); its GEMM kernels need ``blas()`` too."""
    if "lib" not in _state:
        _state["lib"], _state["blas"] = None, False
        if ckernels.lib() is not None:
            lib = ckernels.build_library(_SOURCE)
            if lib is not None:
                ptrs = _blas_pointers()
                if ptrs is not None:
                    lib.cz_conv_blas_init(*ptrs)
                    _state["blas"] = True
                for name, args in _SIGNATURES.items():
                    for s in ("f32", "f64"):
                        fn = getattr(lib, f"cz_{name}_{s}")
                        fn.argtypes, fn.restype = args, None
                for name, args in _F32_ONLY.items():
                    fn = getattr(lib, f"cz_{name}_f32")
                    fn.argtypes, fn.restype = args, None
            _state["lib"] = lib
    return _state["lib"]


def blas() -> bool:
    """Whether the library's GEMM kernels have OpenBLAS to call."""
    return library() is not None and _state["blas"]


def kernel(name: str, *arrays):
    """The C function ``name`` for the arrays' dtype (float32/float64 NumPy arrays, all
    C-contiguous; None entries are skipped), or None when the NumPy form must run."""
    if not ckernels.enabled:
        return None
    arrays = [a for a in arrays if a is not None]
    dt = arrays[0].dtype
    if dt not in _SUFFIX or not all(type(a) is np.ndarray and a.dtype == dt and
                                    a.flags.c_contiguous for a in arrays):
        return None
    if library() is None or (name in _GEMMS and not _state["blas"]) or \
            (name in _F32_ONLY and dt != np.float32):
        return None
    return getattr(_state["lib"], f"cz_{name}_{_SUFFIX[dt]}")


def direct(c, kernel, stride, dilation, ow) -> bool:
    """Whether a float32 convolution of this geometry runs the direct one-channel kernels
    (direct1_fwd, direct1_wgrad): one input channel, at most 64 taps, window columns of stride
    and dilation 1, at least 8 output columns."""
    return c == 1 and kernel[0] * kernel[1] <= 64 and stride[1] == 1 and dilation[1] == 1 \
        and ow >= 8


def geometry(n, c, h, w, o, kernel, dilation, padding, stride, oh, ow) -> np.ndarray:
    """The kernels' geometry argument (cz_geom): int64 N, C, H, W, O, kh, kw, dh, dw, ph, pw,
    sh, sw, oh, ow."""
    return np.array([n, c, h, w, o, *kernel, *dilation, *padding, *stride, oh, ow], np.int64)


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
    fn = kernel("conv_gemm", out) if a.dtype == b.dtype and min(m, n) > 1 else None
    if fn is not None:
        la, lb = _operand(a), _operand(b)
        if la is None:
            a = np.ascontiguousarray(a)
            la = _operand(a)
        if lb is None:
            b = np.ascontiguousarray(b)
            lb = _operand(b)
        fn(m, n, k, address(a), la[0], la[1], address(b), lb[0], lb[1], address(out),
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
