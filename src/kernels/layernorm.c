/* LayerNorm over the last dimension with the biased variance (PyTorch nn.LayerNorm), plus a
 * fused residual-add variant (the post-LN blocks of BERT/DistilBERT). Rows run in parallel. */
#include "kernels/kernels.h"
#include <math.h>
#include <stddef.h>

static inline void ln_row(float *y, float *mean_out, float *rstd_out, const float *x, const float *w, const float *b,
                          int D, float eps) {
    float s = 0.0f;
#pragma omp simd reduction(+ : s)
    for (int i = 0; i < D; i++) s += x[i];
    float mu = s / (float)D;
    float v = 0.0f;
#pragma omp simd reduction(+ : v)
    for (int i = 0; i < D; i++) {
        float d = x[i] - mu;
        v += d * d;
    }
    float rs = 1.0f / sqrtf(v / (float)D + eps);
#pragma omp simd
    for (int i = 0; i < D; i++) y[i] = (x[i] - mu) * rs * w[i] + b[i];
    if (mean_out) *mean_out = mu;
    if (rstd_out) *rstd_out = rs;
}

void lb_layernorm_forward(float *y, float *mean, float *rstd, const float *x, const float *w, const float *b, int N,
                          int D, float eps) {
#pragma omp parallel for schedule(static) if (N > 8)
    for (int n = 0; n < N; n++)
        ln_row(y + (int64_t)n * D, mean ? mean + n : NULL, rstd ? rstd + n : NULL, x + (int64_t)n * D, w, b, D, eps);
}

void lb_residual_layernorm_forward(float *y, float *mean, float *rstd, float *x, const float *r, int ldr,
                                   const float *w, const float *b, int N, int D, float eps) {
#pragma omp parallel for schedule(static) if (N > 8)
    for (int n = 0; n < N; n++) {
        float *xr = x + (int64_t)n * D;
        const float *rr = r + (int64_t)n * ldr;
        for (int i = 0; i < D; i++) xr[i] += rr[i];
        ln_row(y + (int64_t)n * D, mean ? mean + n : NULL, rstd ? rstd + n : NULL, xr, w, b, D, eps);
    }
}

void lb_layernorm_backward(float *dx, float *dw, float *db, const float *dy, const float *x, const float *mean,
                           const float *rstd, const float *w, int N, int D) {
#pragma omp parallel for schedule(static) if (N > 8)
    for (int n = 0; n < N; n++) {
        const float *xr = x + (int64_t)n * D, *g = dy + (int64_t)n * D;
        float mu = mean[n], rs = rstd[n];
        float m1 = 0.0f, m2 = 0.0f; /* means of dxhat and dxhat * xhat */
#pragma omp simd reduction(+ : m1, m2)
        for (int i = 0; i < D; i++) {
            float xh = (xr[i] - mu) * rs, dxh = g[i] * w[i];
            m1 += dxh;
            m2 += dxh * xh;
        }
        m1 /= (float)D;
        m2 /= (float)D;
        float *o = dx + (int64_t)n * D;
#pragma omp simd
        for (int i = 0; i < D; i++) {
            float xh = (xr[i] - mu) * rs;
            o[i] = rs * (g[i] * w[i] - m1 - xh * m2);
        }
    }
    /* Parameter grads reduce over rows: do it column-parallel to avoid races. */
    if (dw || db) {
#pragma omp parallel for schedule(static) if (N > 8)
        for (int i = 0; i < D; i++) {
            float sw = 0.0f, sb = 0.0f;
            for (int n = 0; n < N; n++) {
                float g = dy[(int64_t)n * D + i];
                sw += g * (x[(int64_t)n * D + i] - mean[n]) * rstd[n];
                sb += g;
            }
            if (dw) dw[i] += sw;
            if (db) db[i] += sb;
        }
    }
}

void lb_layernorm_forward_ref(double *y, const double *x, const double *w, const double *b, int N, int D, double eps) {
    for (int n = 0; n < N; n++) {
        const double *xr = x + (int64_t)n * D;
        double mu = 0, v = 0;
        for (int i = 0; i < D; i++) mu += xr[i];
        mu /= D;
        for (int i = 0; i < D; i++) v += (xr[i] - mu) * (xr[i] - mu);
        double rs = 1.0 / sqrt(v / D + eps);
        for (int i = 0; i < D; i++) y[(int64_t)n * D + i] = (xr[i] - mu) * rs * w[i] + b[i];
    }
}

void lb_layernorm_backward_ref(double *dx, double *dw, double *db, const double *dy, const double *x, const double *w,
                               int N, int D, double eps) {
    for (int n = 0; n < N; n++) {
        const double *xr = x + (int64_t)n * D, *g = dy + (int64_t)n * D;
        double mu = 0, v = 0;
        for (int i = 0; i < D; i++) mu += xr[i];
        mu /= D;
        for (int i = 0; i < D; i++) v += (xr[i] - mu) * (xr[i] - mu);
        double rs = 1.0 / sqrt(v / D + eps), m1 = 0, m2 = 0;
        for (int i = 0; i < D; i++) {
            double xh = (xr[i] - mu) * rs;
            m1 += g[i] * w[i];
            m2 += g[i] * w[i] * xh;
            if (dw) dw[i] += g[i] * xh;
            if (db) db[i] += g[i];
        }
        m1 /= D;
        m2 /= D;
        for (int i = 0; i < D; i++) {
            double xh = (xr[i] - mu) * rs;
            dx[(int64_t)n * D + i] = rs * (g[i] * w[i] - m1 - xh * m2);
        }
    }
}
