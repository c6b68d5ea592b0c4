/* Sliding-window self-attention for ONE sequence of n real tokens, all heads: query i attends
 * keys j with |i - j| <= w (ModernBERT's local layers: w = local_attention / 2). Keys outside the
 * window are absent, which equals transformers' finfo.min masking exactly (exp underflows to 0).
 * Numerics as lb_attention_forward: scores in float, max-subtracted expf, one division. Heads run
 * in parallel; within a head the queries run in order, so the backward's += into dk and dv (shared
 * by overlapping windows) is race-free and deterministic. */
#include <math.h>
#include "kernels/kernels.h"

static inline void bounds(int i, int n, int w, int *lo, int *hi) {
    *lo = i - w > 0 ? i - w : 0;
    *hi = i + w < n - 1 ? i + w : n - 1;
}

void lb_local_attention_forward(float *ctx, int ldc, float *probs, const float *q, int ldq, const float *k,
                                const float *v, int ldkv, int n, int w, int H, int dh, float scale) {
    int W = 2 * w + 1;
#pragma omp parallel for schedule(static) if (H > 1 && n > 8)
    for (int h = 0; h < H; h++) {
        for (int i = 0; i < n; i++) {
            int lo, hi;
            bounds(i, n, w, &lo, &hi);
            int nk = hi - lo + 1;
            float *p = probs + ((int64_t)h * n + i) * W;
            const float *qi = q + (int64_t)i * ldq + h * dh;
            for (int j = 0; j < nk; j++) {
                const float *kj = k + (int64_t)(lo + j) * ldkv + h * dh;
                float s = 0.0f;
                for (int d = 0; d < dh; d++) s += qi[d] * kj[d];
                p[j] = s * scale;
            }
            float mx = p[0];
            for (int j = 1; j < nk; j++) mx = p[j] > mx ? p[j] : mx;
            float sum = 0.0f;
            for (int j = 0; j < nk; j++) p[j] = expf(p[j] - mx);
            for (int j = 0; j < nk; j++) sum += p[j];
            float inv = 1.0f / sum;
            for (int j = 0; j < nk; j++) p[j] *= inv;
            float *ci = ctx + (int64_t)i * ldc + h * dh;
            for (int d = 0; d < dh; d++) ci[d] = 0.0f;
            for (int j = 0; j < nk; j++) {
                const float *vj = v + (int64_t)(lo + j) * ldkv + h * dh;
                for (int d = 0; d < dh; d++) ci[d] += p[j] * vj[d];
            }
        }
    }
}

void lb_local_attention_backward(float *dq, float *dk, float *dv, int ldd, const float *dctx, int lddc,
                                 const float *probs, const float *q, int ldq, const float *k, const float *v, int ldkv,
                                 int n, int w, int H, int dh, float scale) {
    int W = 2 * w + 1;
#pragma omp parallel for schedule(static) if (H > 1 && n > 8)
    for (int h = 0; h < H; h++) {
        float g[W];
        for (int i = 0; i < n; i++) {
            int lo, hi;
            bounds(i, n, w, &lo, &hi);
            int nk = hi - lo + 1;
            const float *p = probs + ((int64_t)h * n + i) * W;
            const float *dci = dctx + (int64_t)i * lddc + h * dh, *qi = q + (int64_t)i * ldq + h * dh;
            float dot = 0.0f;
            for (int j = 0; j < nk; j++) {
                const float *vj = v + (int64_t)(lo + j) * ldkv + h * dh;
                float *dvj = dv + (int64_t)(lo + j) * ldd + h * dh;
                float s = 0.0f;
                for (int d = 0; d < dh; d++) {
                    s += dci[d] * vj[d];
                    dvj[d] += p[j] * dci[d];
                }
                g[j] = s;
                dot += s * p[j];
            }
            float *dqi = dq + (int64_t)i * ldd + h * dh;
            for (int j = 0; j < nk; j++) {
                float ds = scale * p[j] * (g[j] - dot);
                const float *kj = k + (int64_t)(lo + j) * ldkv + h * dh;
                float *dkj = dk + (int64_t)(lo + j) * ldd + h * dh;
                for (int d = 0; d < dh; d++) {
                    dqi[d] += ds * kj[d];
                    dkj[d] += ds * qi[d];
                }
            }
        }
    }
}
