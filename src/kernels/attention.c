/* Scaled dot-product attention for one sequence on its real length, all heads. Padded keys
 * are never materialised: HF fills their scores with finfo.min, whose exp underflows to
 * exactly 0, so leaving them out gives the same probabilities and costs nothing.
 * Heads run in parallel (OpenMP); the per-head GEMMs then run single-threaded inside
 * OpenBLAS (it detects the enclosing parallel region), so threads are not oversubscribed.
 * NaN/Inf as in torch: a row's softmax is all NaN when a score is NaN (or the max is +inf), and
 * dropped probabilities are multiplied by 0 (NaN stays NaN), not replaced by 0. */
#include "kernels/kernels.h"
#include <cblas.h>
#include "kernels/vmath.h"
#include <omp.h>
#include <string.h>

int64_t lb_attention_scratch(int nq, int nk) { return (int64_t)omp_get_max_threads() * 2 * nq * nk; }

static void softmax_rows(float *s, int nq, int nk) {
    for (int i = 0; i < nq; i++) {
        float *r = s + (int64_t)i * nk;
        float mx = r[0];
#pragma omp simd reduction(max : mx)
        for (int j = 1; j < nk; j++) mx = r[j] > mx ? r[j] : mx;
        float sum = 0.0f;
#pragma omp simd
        for (int j = 0; j < nk; j++) r[j] = expf(r[j] - mx);
#pragma omp simd reduction(+ : sum)
        for (int j = 0; j < nk; j++) sum += r[j];
        float inv = 1.0f / sum;
#pragma omp simd
        for (int j = 0; j < nk; j++) r[j] *= inv;
    }
}

void lb_attention_forward(float *ctx, int ldc, float *probs, const uint8_t *keep, float p_drop, const float *q, int ldq,
                          const float *k, const float *v, int ldkv, int nq, int nk, int H, int dh, float scale,
                          float *scratch) {
    int64_t hsz = (int64_t)nq * nk;
    float ks = p_drop < 1.0f ? 1.0f / (1.0f - p_drop) : 0.0f;
#pragma omp parallel for schedule(static) if (H > 1)
    for (int h = 0; h < H; h++) {
        float *P = probs + h * hsz;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nq, nk, dh, scale, q + h * dh, ldq, k + h * dh, ldkv, 0.0f,
                    P, nk);
        softmax_rows(P, nq, nk);
        const float *Pu = P;
        if (keep) {
            float *Pd = scratch + (int64_t)omp_get_thread_num() * 2 * hsz;
            const uint8_t *m = keep + h * hsz;
            for (int64_t i = 0; i < hsz; i++) Pd[i] = P[i] * (m[i] ? ks : 0.0f); /* NaN * 0 = NaN, as torch */
            Pu = Pd;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nq, dh, nk, 1.0f, Pu, nk, v + h * dh, ldkv, 0.0f,
                    ctx + h * dh, ldc);
    }
}

void lb_attention_backward(float *dq, int lddq, float *dk, float *dv, int lddkv, const float *dctx, int lddc,
                           const float *probs, const uint8_t *keep, float p_drop, const float *q, int ldq,
                           const float *k, const float *v, int ldkv, int nq, int nk, int H, int dh, float scale,
                           float *scratch) {
    int64_t hsz = (int64_t)nq * nk;
    float ks = p_drop < 1.0f ? 1.0f / (1.0f - p_drop) : 0.0f;
#pragma omp parallel for schedule(static) if (H > 1)
    for (int h = 0; h < H; h++) {
        const float *P = probs + h * hsz;
        float *dP = scratch + (int64_t)omp_get_thread_num() * 2 * hsz, *Pd = dP + hsz;
        const uint8_t *m = keep ? keep + h * hsz : NULL;
        /* dP' = dctx V^T : [nq, nk] */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nq, nk, dh, 1.0f, dctx + h * dh, lddc, v + h * dh, ldkv,
                    0.0f, dP, nk);
        if (dv) {
            const float *Pu = P;
            if (m) {
                for (int64_t i = 0; i < hsz; i++) Pd[i] = P[i] * (m[i] ? ks : 0.0f);
                Pu = Pd;
            }
            /* dV += P'^T dctx : [nk, dh] */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, nk, dh, nq, 1.0f, Pu, nk, dctx + h * dh, lddc, 1.0f,
                        dv + h * dh, lddkv);
        }
        if (!dq && !dk) continue;
        /* Through dropout, then softmax: dS = P * (dP - sum_j dP_j P_j). */
        for (int i = 0; i < nq; i++) {
            float *g = dP + (int64_t)i * nk;
            const float *p = P + (int64_t)i * nk;
            if (m) {
                const uint8_t *mr = m + (int64_t)i * nk;
                for (int j = 0; j < nk; j++) g[j] *= mr[j] ? ks : 0.0f;
            }
            float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
            for (int j = 0; j < nk; j++) dot += g[j] * p[j];
#pragma omp simd
            for (int j = 0; j < nk; j++) g[j] = p[j] * (g[j] - dot);
        }
        if (dq) /* dQ += scale dS K : [nq, dh] */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nq, dh, nk, scale, dP, nk, k + h * dh, ldkv, 1.0f,
                        dq + h * dh, lddq);
        if (dk) /* dK += scale dS^T Q : [nk, dh] */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, nk, dh, nq, scale, dP, nk, q + h * dh, ldq, 1.0f,
                        dk + h * dh, lddkv);
    }
}

void lb_attention_forward_ref(double *ctx, const double *q, const double *k, const double *v, int nq, int nk, int H,
                              int dh, double scale) {
    int D = H * dh;
    double s[nk > 0 ? nk : 1];
    for (int h = 0; h < H; h++)
        for (int i = 0; i < nq; i++) {
            double mx = -INFINITY, sum = 0;
            for (int j = 0; j < nk; j++) {
                double d = 0;
                for (int c = 0; c < dh; c++) d += q[(int64_t)i * D + h * dh + c] * k[(int64_t)j * D + h * dh + c];
                s[j] = d * scale;
                if (s[j] > mx) mx = s[j];
            }
            for (int j = 0; j < nk; j++) {
                s[j] = exp(s[j] - mx);
                sum += s[j];
            }
            for (int c = 0; c < dh; c++) {
                double a = 0;
                for (int j = 0; j < nk; j++) a += s[j] / sum * v[(int64_t)j * D + h * dh + c];
                ctx[(int64_t)i * D + h * dh + c] = a;
            }
        }
}

void lb_attention_backward_ref(double *dq, double *dk, double *dv, const double *dctx, const double *q, const double *k,
                               const double *v, int nq, int nk, int H, int dh, double scale) {
    int D = H * dh;
    double p[nk > 0 ? nk : 1], dp[nk > 0 ? nk : 1];
    for (int h = 0; h < H; h++)
        for (int i = 0; i < nq; i++) {
            double mx = -INFINITY, sum = 0, dot = 0;
            for (int j = 0; j < nk; j++) {
                double d = 0;
                for (int c = 0; c < dh; c++) d += q[(int64_t)i * D + h * dh + c] * k[(int64_t)j * D + h * dh + c];
                p[j] = d * scale;
                if (p[j] > mx) mx = p[j];
            }
            for (int j = 0; j < nk; j++) {
                p[j] = exp(p[j] - mx);
                sum += p[j];
            }
            for (int j = 0; j < nk; j++) {
                p[j] /= sum;
                double g = 0;
                for (int c = 0; c < dh; c++) {
                    g += dctx[(int64_t)i * D + h * dh + c] * v[(int64_t)j * D + h * dh + c];
                    dv[(int64_t)j * D + h * dh + c] += p[j] * dctx[(int64_t)i * D + h * dh + c];
                }
                dp[j] = g;
                dot += g * p[j];
            }
            for (int j = 0; j < nk; j++) {
                double ds = p[j] * (dp[j] - dot) * scale;
                for (int c = 0; c < dh; c++) {
                    dq[(int64_t)i * D + h * dh + c] += ds * k[(int64_t)j * D + h * dh + c];
                    dk[(int64_t)j * D + h * dh + c] += ds * q[(int64_t)i * D + h * dh + c];
                }
            }
        }
}
