"""Float32 C kernels for eager mode's row-wise and elementwise primitives: the tanh and the exact
(erf) GELU and their gradients (one pass each instead of ~8 to ~30 NumPy passes), layer/RMS norm
forward, input gradient and weight gradient, softmax / log_softmax over the last dim (softmax
with a scale and the causal mask) and their gradients, per-sample cross entropy and its gradient
(ops/activation.py, ops/normalization.py and ops/softmax_fused.py call them); and the eager
Adam/AdamW and SGD parameter updates as one pass each (optim/adam.py, optim/sgd.py).

They compute the NumPy forms' operations in the same order (row sums in float32 lanes rather
than NumPy's pairwise order, ``expf`` from libm/libmvec rather than NumPy's), so results agree
within float32 rounding, not bit for bit; float64 keeps the NumPy forms, so float64 eager and
compiled results stay as they were. The optimizer updates are the exception: they repeat the
eager update's float32 operations one by one (no contraction into FMAs: cbuild's flags), so
they give its bits. Rows (or blocks of elements) are split into tasks over
Cadenza's thread pool (backend/cpool.py); a task's range depends on the shape only, and the one
reduction across rows (the norm's weight gradient) adds per-task partial sums in task order, so
results do not depend on the thread count.

The library is built on first use (backend/cbuild.py's disk cache); ``kernel()`` is None without
a C compiler, when ``enabled`` (or ``ckernels.enabled``) is off, or for arrays that are not
C-contiguous float32 NumPy arrays: callers then run their NumPy form.
"""
from __future__ import annotations

import ctypes

import numpy as np

from . import ckernels
from .ckernels import build_library
from .cpool import POOL_HEADER
from .cpu import address

enabled = True
_state: dict = {}
F32 = np.dtype(np.float32)

_SOURCE = r"""
#include <stdlib.h>
#include <string.h>
#include <math.h>
""" + POOL_HEADER + r"""
#ifdef CZ_VECTOR_MATH
#pragma omp declare simd notinbranch
extern float expf(float);
#endif
typedef long L;
/* one kernel call: ``range`` computes units [lo, hi) (rows, or blocks of elements); the units
   are split into tasks of consecutive units; the split depends on the shape only */
typedef struct rk_args {
    const void *p[6]; void *o; L v[6]; double d[6]; void *part; L total, per;
    void (*range)(const struct rk_args *, L, L, L);
} rk_args;
static void rk_task(void *p, int64_t t) {
    const rk_args *a = p;
    L lo = t * a->per, hi = lo + a->per < a->total ? lo + a->per : a->total;
    a->range(a, lo, hi, t);
}
/* tasks of about 16K elements of work (one task below 32K): units of `unit` elements each */
static L rk_tasks(rk_args *a, L total, L unit) {
    L per = total;
    if (total * unit >= (1L << 15) && total > 1) {
        per = (1L << 14) / (unit > 0 ? unit : 1);
        if (per < 1) per = 1;
        if (per > total / 2) per = total / 2;
    }
    a->total = total; a->per = per;
    return per > 0 ? (total + per - 1) / per : 0;
}
static void rk_run(rk_args *a, L total, L unit) {
    L n = rk_tasks(a, total, unit);
    cz_for(rk_task, a, n);
}

/* ---- tanh GELU: x / (exp((x^2 (-2SK) - 2S) x) + 1); gradient
   g ((((1 - sig) x) (x^2 6KS + 2S) + 1) sig), sig = 1 / (exp(...) + 1) (ops/activation.py) */
#define GELU_BLOCK 4096
static void gelu_range(const rk_args *a, L lo, L hi, L t) {
    const float *restrict x = a->p[0]; float *restrict o = a->o;
    const float c1 = (float)a->d[0], c2 = (float)a->d[1];
    L n = a->v[0], e0 = lo * GELU_BLOCK, e1 = hi * GELU_BLOCK < n ? hi * GELU_BLOCK : n;
    #pragma omp simd
    for (L i = e0; i < e1; i++) {
        float v = x[i], e = v * v * c1;
        e = (e - c2) * v;
        o[i] = v / (expf(e) + 1.0f);
    }
}
void cz_gelu_tanh(const float *x, float *out, L n, double c1, double c2) {
    rk_args a = {{x}, out, {n}, {c1, c2}, 0, 0, 0, gelu_range};
    rk_run(&a, (n + GELU_BLOCK - 1) / GELU_BLOCK, GELU_BLOCK);
}
static void gelu_bwd_range(const rk_args *a, L lo, L hi, L t) {
    const float *restrict g = a->p[0], *restrict x = a->p[1]; float *restrict o = a->o;
    const float c1 = (float)a->d[0], c2 = (float)a->d[1], c3 = (float)a->d[2];
    const float c4 = (float)a->d[3];
    L n = a->v[0], e0 = lo * GELU_BLOCK, e1 = hi * GELU_BLOCK < n ? hi * GELU_BLOCK : n;
    #pragma omp simd
    for (L i = e0; i < e1; i++) {
        float v = x[i], x2 = v * v, e = x2 * c1;
        e = (e - c2) * v;
        float sig = 1.0f / (expf(e) + 1.0f);
        float d = x2 * c3 + c4;
        float r = (1.0f - sig) * v;
        r = r * d + 1.0f;
        o[i] = r * sig * g[i];
    }
}
void cz_gelu_tanh_bwd(const float *g, const float *x, float *out, L n, double c1, double c2,
                      double c3, double c4) {
    rk_args a = {{g, x}, out, {n}, {c1, c2, c3, c4}, 0, 0, 0, gelu_bwd_range};
    rk_run(&a, (n + GELU_BLOCK - 1) / GELU_BLOCK, GELU_BLOCK);
}

/* ---- exact GELU 0.5 x (1 + erf(x / sqrt 2)) and its gradient
   g (0.5 (1 + erf(x / sqrt 2)) + x (exp((-0.5 x) x) / sqrt(2 pi))), with erf the float32
   rational fit of ops/unary.py's _erf_f32 (coefficients c[0..6] = P, c[7..11] = Q), each
   operation as the NumPy forms do it, in the same order: the forward gives their bits */
#define ERF_COEF_LOCALS(cd) \
    const float P0 = (float)cd[0], P1 = (float)cd[1], P2 = (float)cd[2], P3 = (float)cd[3], \
        P4 = (float)cd[4], P5 = (float)cd[5], P6 = (float)cd[6], Q0 = (float)cd[7], \
        Q1 = (float)cd[8], Q2 = (float)cd[9], Q3 = (float)cd[10], Q4 = (float)cd[11]
/* erf_fit(t) into `r`, t clipped to [-4, 4] as np.clip (NaN stays NaN). GCC if-converts
   the clip's selects (and so vectorises the loops) only without trapping math: the kernels
   using it say so (C's floating-point exception flags are never read here) */
#define NO_TRAPS __attribute__((optimize("no-trapping-math")))
#define ERF_FIT(r, t0) do { \
    float t_ = (t0); t_ = t_ < -4.0f ? -4.0f : t_; t_ = t_ > 4.0f ? 4.0f : t_; \
    float x2_ = t_ * t_, p_ = x2_ * P0, q_ = x2_ * Q0; \
    p_ = p_ + P1; p_ = p_ * x2_; p_ = p_ + P2; p_ = p_ * x2_; p_ = p_ + P3; p_ = p_ * x2_; \
    p_ = p_ + P4; p_ = p_ * x2_; p_ = p_ + P5; p_ = p_ * x2_; p_ = p_ + P6; p_ = p_ * t_; \
    q_ = q_ + Q1; q_ = q_ * x2_; q_ = q_ + Q2; q_ = q_ * x2_; q_ = q_ + Q3; q_ = q_ * x2_; \
    q_ = q_ + Q4; (r) = p_ / q_; } while (0)
NO_TRAPS static void gelu_erf_range(const rk_args *a, L lo, L hi, L t) {
    const float *restrict x = a->p[0]; float *restrict o = a->o;
    const double *cd = a->p[1];
    ERF_COEF_LOCALS(cd);
    const float is2 = (float)a->d[0];
    L n = a->v[0], e0 = lo * GELU_BLOCK, e1 = hi * GELU_BLOCK < n ? hi * GELU_BLOCK : n;
    #pragma omp simd
    for (L i = e0; i < e1; i++) {
        float v = x[i], e;
        ERF_FIT(e, v * is2);
        e = e + 1.0f; e = e * v;
        o[i] = e * 0.5f;
    }
}
void cz_gelu_erf(const float *x, float *out, L n, const double *coef, double is2) {
    rk_args a = {{x, coef}, out, {n}, {is2}, 0, 0, 0, gelu_erf_range};
    rk_run(&a, (n + GELU_BLOCK - 1) / GELU_BLOCK, GELU_BLOCK);
}
NO_TRAPS static void gelu_erf_bwd_range(const rk_args *a, L lo, L hi, L t) {
    const float *restrict g = a->p[0], *restrict x = a->p[1]; float *restrict o = a->o;
    const double *cd = a->p[2];
    ERF_COEF_LOCALS(cd);
    const float is2 = (float)a->d[0], is2pi = (float)a->d[1];
    L n = a->v[0], e0 = lo * GELU_BLOCK, e1 = hi * GELU_BLOCK < n ? hi * GELU_BLOCK : n;
    #pragma omp simd
    for (L i = e0; i < e1; i++) {
        float v = x[i], e;
        ERF_FIT(e, v * is2);
        e = 1.0f + e; e = 0.5f * e;
        float m = -0.5f * v; m = m * v;
        float ph = expf(m) * is2pi;
        ph = v * ph;
        o[i] = g[i] * (e + ph);
    }
}
void cz_gelu_erf_bwd(const float *g, const float *x, float *out, L n, const double *coef,
                     double is2, double is2pi) {
    rk_args a = {{g, x, coef}, out, {n}, {is2, is2pi}, 0, 0, 0, gelu_erf_bwd_range};
    rk_run(&a, (n + GELU_BLOCK - 1) / GELU_BLOCK, GELU_BLOCK);
}

/* ---- layer norm (center) / RMS norm over rows of N: s = 1 / sqrt(var + eps),
   xh = (x - mean) s (rms: x s) */
static inline float norm_stats(const float *restrict x, L N, int center, float eps,
                               float *mean_out) {
    float mean = 0, var = 0, inv = 1.0f / (float)N;
    if (center) {
        #pragma omp simd reduction(+:mean)
        for (L j = 0; j < N; j++) mean += x[j];
        mean = mean * inv;
    }
    #pragma omp simd reduction(+:var)
    for (L j = 0; j < N; j++) { float d = x[j] - mean; var += d * d; }
    *mean_out = mean;
    return 1.0f / sqrtf(var * inv + eps);
}
static void norm_range(const rk_args *a, L lo, L hi, L t) {
    const float *restrict xs = a->p[0], *restrict w = a->p[1], *restrict b = a->p[2];
    float *restrict out = a->o;
    L N = a->v[0]; int center = (int)a->v[1]; float eps = (float)a->d[0];
    for (L r = lo; r < hi; r++) {
        const float *restrict x = xs + r * N; float *restrict o = out + r * N;
        float mean, s = norm_stats(x, N, center, eps, &mean);
        if (w && b) {
            #pragma omp simd
            for (L j = 0; j < N; j++) o[j] = (x[j] - mean) * s * w[j] + b[j];
        } else if (w) {
            #pragma omp simd
            for (L j = 0; j < N; j++) o[j] = (x[j] - mean) * s * w[j];
        } else if (b) {
            #pragma omp simd
            for (L j = 0; j < N; j++) o[j] = (x[j] - mean) * s + b[j];
        } else {
            #pragma omp simd
            for (L j = 0; j < N; j++) o[j] = (x[j] - mean) * s;
        }
    }
}
void cz_norm(const float *x, const float *w, const float *b, float *out, L R, L N, L center,
             double eps) {
    rk_args a = {{x, w, b}, out, {N, center}, {eps}, 0, 0, 0, norm_range};
    rk_run(&a, R, 2 * N);
}
/* grad_input: ((v - xh c) - mv) s, v = g w, c = mean(v xh), mv = mean(v) (rms: 0) */
static void norm_bwd_range(const rk_args *a, L lo, L hi, L t) {
    const float *restrict gs = a->p[0], *restrict xs = a->p[1], *restrict w = a->p[2];
    float *restrict out = a->o;
    L N = a->v[0]; int center = (int)a->v[1]; float eps = (float)a->d[0];
    float inv = 1.0f / (float)N;
    for (L r = lo; r < hi; r++) {
        const float *restrict x = xs + r * N, *restrict g = gs + r * N;
        float *restrict o = out + r * N;
        float mean, s = norm_stats(x, N, center, eps, &mean);
        float c = 0, mv = 0;
        if (w) {
            #pragma omp simd reduction(+:c, mv)
            for (L j = 0; j < N; j++) {
                float v = g[j] * w[j]; c += v * ((x[j] - mean) * s); mv += v;
            }
        } else {
            #pragma omp simd reduction(+:c, mv)
            for (L j = 0; j < N; j++) { c += g[j] * ((x[j] - mean) * s); mv += g[j]; }
        }
        c = c * inv;
        mv = center ? mv * inv : 0.0f;
        if (w) {
            #pragma omp simd
            for (L j = 0; j < N; j++) o[j] = ((g[j] * w[j] - (x[j] - mean) * s * c) - mv) * s;
        } else {
            #pragma omp simd
            for (L j = 0; j < N; j++) o[j] = ((g[j] - (x[j] - mean) * s * c) - mv) * s;
        }
    }
}
void cz_norm_bwd(const float *g, const float *x, const float *w, float *out, L R, L N,
                 L center, double eps) {
    rk_args a = {{g, x, w}, out, {N, center}, {eps}, 0, 0, 0, norm_bwd_range};
    rk_run(&a, R, 3 * N);
}
/* weight gradient: sum over rows of g xh, and with v[2] (bias) the bias gradient, the sum
   over rows of g, after it (out: N or 2N); task t's rows into part[t * M] (M = N or 2N),
   the tasks' partial sums added in task order */
static void norm_wgrad_range(const rk_args *a, L lo, L hi, L t) {
    const float *restrict gs = a->p[0], *restrict xs = a->p[1];
    L N = a->v[0]; int center = (int)a->v[1], bias = (int)a->v[2]; float eps = (float)a->d[0];
    float *restrict acc = (float *)a->part + t * N * (1 + bias);
    float *restrict bacc = acc + N;
    for (L j = 0; j < N * (1 + bias); j++) acc[j] = 0;
    for (L r = lo; r < hi; r++) {
        const float *restrict x = xs + r * N, *restrict g = gs + r * N;
        float mean, s = norm_stats(x, N, center, eps, &mean);
        if (bias) {
            #pragma omp simd
            for (L j = 0; j < N; j++) { acc[j] += g[j] * ((x[j] - mean) * s); bacc[j] += g[j]; }
        } else {
            #pragma omp simd
            for (L j = 0; j < N; j++) acc[j] += g[j] * ((x[j] - mean) * s);
        }
    }
}
int cz_norm_wgrad(const float *g, const float *x, float *out, L R, L N, L center,
                  double eps, L bias) {
    rk_args a = {{g, x}, out, {N, center, bias != 0}, {eps}, 0, 0, 0, norm_wgrad_range};
    L n = rk_tasks(&a, R, 3 * N), M = bias ? 2 * N : N;
    float *part = malloc(sizeof(float) * (n > 0 ? n : 1) * M);
    if (!part) return 1;
    a.part = part;
    cz_for(rk_task, &a, n);
    for (L j = 0; j < M; j++) {
        float s = 0;
        for (L q = 0; q < n; q++) s += part[q * M + j];
        out[j] = s;
    }
    free(part);
    return 0;
}

/* ---- softmax family over rows of N; causal (v[1] = L > 0): row r sees keys j <= r % L */
static void softmax_range(const rk_args *a, L lo, L hi, L t) {
    const float *restrict xs = a->p[0]; float *restrict out = a->o;
    L N = a->v[0], Lq = a->v[1]; float scale = (float)a->d[0]; int scaled = a->d[0] != 1.0;
    for (L r = lo; r < hi; r++) {
        const float *restrict x = xs + r * N; float *restrict o = out + r * N;
        L nv = N;
        if (Lq > 0) { nv = r % Lq + 1; if (nv > N) nv = N; }
        float m = -INFINITY, s = 0;
        if (scaled) {
            #pragma omp simd reduction(max:m)
            for (L j = 0; j < nv; j++) { float z = x[j] * scale; o[j] = z; m = z > m ? z : m; }
        } else {
            #pragma omp simd reduction(max:m)
            for (L j = 0; j < nv; j++) { o[j] = x[j]; m = x[j] > m ? x[j] : m; }
        }
        #pragma omp simd reduction(+:s)
        for (L j = 0; j < nv; j++) { float e = expf(o[j] - m); o[j] = e; s += e; }
        #pragma omp simd
        for (L j = 0; j < nv; j++) o[j] = o[j] / s;
        for (L j = nv; j < N; j++) o[j] = 0;
    }
}
void cz_softmax(const float *x, float *out, L R, L N, L Lq, double scale) {
    rk_args a = {{x}, out, {N, Lq}, {scale}, 0, 0, 0, softmax_range};
    rk_run(&a, R, 3 * N);
}
/* scale (g y - y sum(g y)) */
static void softmax_bwd_range(const rk_args *a, L lo, L hi, L t) {
    const float *restrict gs = a->p[0], *restrict ys = a->p[1]; float *restrict out = a->o;
    L N = a->v[0], Lq = a->v[1]; float scale = (float)a->d[0]; int scaled = a->d[0] != 1.0;
    for (L r = lo; r < hi; r++) {
        const float *restrict g = gs + r * N, *restrict y = ys + r * N;
        float *restrict o = out + r * N;
        L nv = N;
        if (Lq > 0) { nv = r % Lq + 1; if (nv > N) nv = N; }
        float s = 0;
        #pragma omp simd reduction(+:s)
        for (L j = 0; j < nv; j++) s += g[j] * y[j];
        if (scaled) {
            #pragma omp simd
            for (L j = 0; j < nv; j++) o[j] = (g[j] * y[j] - y[j] * s) * scale;
        } else {
            #pragma omp simd
            for (L j = 0; j < nv; j++) o[j] = g[j] * y[j] - y[j] * s;
        }
        for (L j = nv; j < N; j++) o[j] = 0;
    }
}
void cz_softmax_bwd(const float *g, const float *y, float *out, L R, L N, L Lq, double scale) {
    rk_args a = {{g, y}, out, {N, Lq}, {scale}, 0, 0, 0, softmax_bwd_range};
    rk_run(&a, R, 2 * N);
}
/* (x - max) - log(sum(exp(x - max))) */
static void log_softmax_range(const rk_args *a, L lo, L hi, L t) {
    const float *restrict xs = a->p[0]; float *restrict out = a->o;
    L N = a->v[0];
    for (L r = lo; r < hi; r++) {
        const float *restrict x = xs + r * N; float *restrict o = out + r * N;
        float m = -INFINITY, s = 0;
        #pragma omp simd reduction(max:m)
        for (L j = 0; j < N; j++) m = x[j] > m ? x[j] : m;
        #pragma omp simd reduction(+:s)
        for (L j = 0; j < N; j++) s += expf(x[j] - m);
        float ls = logf(s);
        #pragma omp simd
        for (L j = 0; j < N; j++) o[j] = (x[j] - m) - ls;
    }
}
void cz_log_softmax(const float *x, float *out, L R, L N) {
    rk_args a = {{x}, out, {N}, {0}, 0, 0, 0, log_softmax_range};
    rk_run(&a, R, 3 * N);
}
/* g - exp(y) sum(g) */
static void log_softmax_bwd_range(const rk_args *a, L lo, L hi, L t) {
    const float *restrict gs = a->p[0], *restrict ys = a->p[1]; float *restrict out = a->o;
    L N = a->v[0];
    for (L r = lo; r < hi; r++) {
        const float *restrict g = gs + r * N, *restrict y = ys + r * N;
        float *restrict o = out + r * N;
        float s = 0;
        #pragma omp simd reduction(+:s)
        for (L j = 0; j < N; j++) s += g[j];
        #pragma omp simd
        for (L j = 0; j < N; j++) o[j] = g[j] - expf(y[j]) * s;
    }
}
void cz_log_softmax_bwd(const float *g, const float *y, float *out, L R, L N) {
    rk_args a = {{g, y}, out, {N}, {0}, 0, 0, 0, log_softmax_bwd_range};
    rk_run(&a, R, 2 * N);
}

/* ---- cross entropy of rows of C logits against int64 targets (ignore_index: loss 0, no
   gradient); a target outside [0, C) marks the row in bad[] (the caller raises) */
static void ce_range(const rk_args *a, L lo, L hi, L t_) {
    const float *restrict xs = a->p[0], *restrict g = a->p[2];
    const int64_t *restrict ts = a->p[1]; char *restrict bad = a->part;
    L C = a->v[0], ii = a->v[1]; int backward = g != 0;
    for (L r = lo; r < hi; r++) {
        const float *restrict x = xs + r * C;
        int64_t t = ts[r]; int keep = t != ii;
        bad[r] = keep && (t < 0 || t >= C);
        if (bad[r]) continue;
        float m = -INFINITY, s = 0;
        #pragma omp simd reduction(max:m)
        for (L j = 0; j < C; j++) m = x[j] > m ? x[j] : m;
        if (backward) {
            float *restrict o = (float *)a->o + r * C;
            float gk = keep ? g[r] : 0.0f;
            #pragma omp simd reduction(+:s)
            for (L j = 0; j < C; j++) { float e = expf(x[j] - m); o[j] = e; s += e; }
            float f = gk / s;
            #pragma omp simd
            for (L j = 0; j < C; j++) o[j] = o[j] * f;
            if (keep) o[t] -= gk;
        } else {
            #pragma omp simd reduction(+:s)
            for (L j = 0; j < C; j++) s += expf(x[j] - m);
            ((float *)a->o)[r] = keep ? (logf(s) + m) - x[t] : 0.0f;
        }
    }
}
/* g NULL: the forward (out: R losses); else the gradient (out: R x C) */
void cz_cross_entropy(const float *x, const int64_t *t, const float *g, float *out, char *bad,
                      L R, L C, L ignore_index) {
    rk_args a = {{x, t, g}, out, {C, ignore_index}, {0}, bad, 0, 0, ce_range};
    rk_run(&a, R, 3 * C);
}

/* ---- optimizer updates of one float32 parameter, one pass each: the operations of the
   eager updates (optim/adam.py, optim/sgd.py through ops/inplace.py's raw NumPy writes) in
   their order, each rounded to float32 as NumPy rounds it, so the bits are the same.
   Adam: m = m + (g - m) w1; v = v b2; v = v + (g w2) g; d = sqrt(v) / bc2 + eps;
   p = p + (m step) / d */
#define OPT_BLOCK 8192
static void adam_range(const rk_args *a, L lo, L hi, L t) {
    float *restrict p = a->o;
    const float *restrict g = a->p[0];
    float *restrict m = (float *)a->p[1], *restrict v = (float *)a->p[2];
    L n = a->v[0], e0 = lo * OPT_BLOCK, e1 = hi * OPT_BLOCK < n ? hi * OPT_BLOCK : n;
    const float w1 = (float)a->d[0], b2 = (float)a->d[1], w2 = (float)a->d[2];
    const float step = (float)a->d[3], bc2 = (float)a->d[4], eps = (float)a->d[5];
    #pragma omp simd
    for (L i = e0; i < e1; i++) {
        float gi = g[i], mi = g[i] - m[i];
        mi = mi * w1;
        mi = m[i] + mi;
        float vi = v[i] * b2, q = gi * w2;
        q = q * gi;
        vi = vi + q;
        float d = sqrtf(vi);
        d = d / bc2;
        d = d + eps;
        float u = mi * step;
        u = u / d;
        m[i] = mi; v[i] = vi; p[i] = p[i] + u;
    }
}
void cz_adam(float *p, const float *g, float *m, float *v, L n, double w1, double b2,
             double w2, double step, double bc2, double eps) {
    rk_args a = {{g, m, v}, p, {n}, {w1, b2, w2, step, bc2, eps}, 0, 0, 0, adam_range};
    rk_run(&a, (n + OPT_BLOCK - 1) / OPT_BLOCK, 2 * OPT_BLOCK);
}
/* SGD: with a momentum buffer b: b = b mom; b = b + g damp (g alone when damp is 1);
   p = p - b lr. Without one (b NULL): p = p - g lr */
static void sgd_range(const rk_args *a, L lo, L hi, L t) {
    float *restrict p = a->o;
    const float *restrict g = a->p[0]; float *restrict b = (float *)a->p[1];
    L n = a->v[0], e0 = lo * OPT_BLOCK, e1 = hi * OPT_BLOCK < n ? hi * OPT_BLOCK : n;
    int damped = (int)a->v[1];
    const float mom = (float)a->d[0], damp = (float)a->d[1], lr = (float)a->d[2];
    if (!b) {
        #pragma omp simd
        for (L i = e0; i < e1; i++) p[i] = p[i] - g[i] * lr;
    } else if (damped) {
        #pragma omp simd
        for (L i = e0; i < e1; i++) {
            float bi = b[i] * mom, q = g[i] * damp;
            bi = bi + q;
            b[i] = bi; p[i] = p[i] - bi * lr;
        }
    } else {
        #pragma omp simd
        for (L i = e0; i < e1; i++) {
            float bi = b[i] * mom;
            bi = bi + g[i];
            b[i] = bi; p[i] = p[i] - bi * lr;
        }
    }
}
void cz_sgd(float *p, const float *g, float *b, L n, double mom, double damp, L damped,
            double lr) {
    rk_args a = {{g, b}, p, {n, damped}, {mom, damp, lr}, 0, 0, 0, sgd_range};
    rk_run(&a, (n + OPT_BLOCK - 1) / OPT_BLOCK, 2 * OPT_BLOCK);
}
"""

_P, _L, _D = ctypes.c_void_p, ctypes.c_long, ctypes.c_double
_SIGNATURES = {
    "gelu_tanh": ([_P, _P, _L, _D, _D], None),
    "gelu_tanh_bwd": ([_P, _P, _P, _L, _D, _D, _D, _D], None),
    "gelu_erf": ([_P, _P, _L, _P, _D], None),
    "gelu_erf_bwd": ([_P, _P, _P, _L, _P, _D, _D], None),
    "norm": ([_P, _P, _P, _P, _L, _L, _L, _D], None),
    "norm_bwd": ([_P, _P, _P, _P, _L, _L, _L, _D], None),
    "norm_wgrad": ([_P, _P, _P, _L, _L, _L, _D, _L], ctypes.c_int),
    "softmax": ([_P, _P, _L, _L, _L, _D], None),
    "softmax_bwd": ([_P, _P, _P, _L, _L, _L, _D], None),
    "log_softmax": ([_P, _P, _L, _L], None),
    "log_softmax_bwd": ([_P, _P, _P, _L, _L], None),
    "adam": ([_P, _P, _P, _P, _L] + [_D] * 6, None),
    "sgd": ([_P, _P, _P, _L, _D, _D, _L, _D], None),
    "cross_entropy": ([_P, _P, _P, _P, _P, _L, _L, _L], None),
}


def lib():
    """The ctypes library (built or loaded from the disk cache on the first call), or None
    when there is no C compiler or the build fails."""
    if "lib" not in _state:
        built = build_library(_SOURCE)
        if built is not None:
            for name, (args, res) in _SIGNATURES.items():
                fn = getattr(built, f"cz_{name}")
                fn.argtypes, fn.restype = args, res
        _state["lib"] = built
    return _state["lib"]


def kernel(name: str, *arrays):
    """The C function ``name`` when every array is a C-contiguous float32 NumPy array (None
    entries skipped) and the library is built, else None (the caller's NumPy form runs)."""
    if not (enabled and ckernels.enabled):
        return None
    for a in arrays:
        if a is not None and (type(a) is not np.ndarray or a.dtype != F32 or
                              not a.flags.c_contiguous):
            return None
    built = _state.get("lib") if "lib" in _state else lib()
    return None if built is None else getattr(built, f"cz_{name}")


def contiguous(a):
    """``a`` if it is C-contiguous (a 0-d array stays 0-d, unlike ``np.ascontiguousarray``),
    else a C-contiguous copy."""
    return a if a is None or a.flags.c_contiguous else np.ascontiguousarray(a)


def ptr(a) -> int | None:
    return None if a is None else address(a)
