/* Linear layer y = x W^T + b over cblas_sgemm. W is [out, in] row-major (PyTorch layout), so
 * the forward is one NoTrans x Trans GEMM; the backward computes only what is asked for:
 * dx (through frozen weights), dW/db (trainable weights only). */
#include "kernels/kernels.h"
#include <cblas.h>
#include <string.h>

void lb_linear_forward(float *y, int ldy, const float *x, int ldx, const float *W, const float *b, int N, int K,
                       int O) {
    if (N <= 0 || O <= 0) return;
    float beta = 0.0f;
    if (b) {
        /* Broadcast the bias into y, then let the GEMM accumulate on top (beta = 1). */
        for (int n = 0; n < N; n++) memcpy(y + (int64_t)n * ldy, b, sizeof(float) * (size_t)O);
        beta = 1.0f;
    }
    if (K == 0) {
        if (!b)
            for (int n = 0; n < N; n++) memset(y + (int64_t)n * ldy, 0, sizeof(float) * (size_t)O);
        return;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, O, K, 1.0f, x, ldx, W, K, beta, y, ldy);
}

/* lb_linear_rows' arithmetic, on GCC vectors of 16 floats (one lane per j below; lanes never mix
 * until the final tree, and ISO C forbids FP contraction, so the vector width the compiler picks
 * changes no bit). K >= 64: lane j of output n sums x[k] W[n, k] over k = j (mod 16) in k order,
 * then the 16 lanes are added as a fixed tree. K < 64 (a LoRA rank): each output sums its
 * products in k order, 16 outputs at a time. */
typedef float v16 __attribute__((vector_size(64)));

static inline v16 load16(const float *p) {
    v16 v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline float tree16(v16 a) {
    float t[16];
    memcpy(t, &a, sizeof t);
    for (int h = 8; h >= 1; h /= 2)
        for (int j = 0; j < h; j++) t[j] += t[j + h];
    return t[0];
}

/* Lanes of 4 outputs' dot products with one row (the row's loads shared), tail k included. */
static inline void dot4(const float *x, const float *w0, const float *w1, const float *w2, const float *w3, int K,
                        float out[4]) {
    v16 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
    int k = 0;
    for (; k + 16 <= K; k += 16) {
        v16 xv = load16(x + k);
        a0 += xv * load16(w0 + k);
        a1 += xv * load16(w1 + k);
        a2 += xv * load16(w2 + k);
        a3 += xv * load16(w3 + k);
    }
    if (k < K) {
        float xt[16] = {0}, t0[16] = {0}, t1[16] = {0}, t2[16] = {0}, t3[16] = {0};
        size_t n = (size_t)(K - k) * sizeof(float);
        memcpy(xt, x + k, n);
        memcpy(t0, w0 + k, n);
        memcpy(t1, w1 + k, n);
        memcpy(t2, w2 + k, n);
        memcpy(t3, w3 + k, n);
        v16 xv = load16(xt);
        a0 += xv * load16(t0);
        a1 += xv * load16(t1);
        a2 += xv * load16(t2);
        a3 += xv * load16(t3);
    }
    out[0] = tree16(a0);
    out[1] = tree16(a1);
    out[2] = tree16(a2);
    out[3] = tree16(a3);
}

#define ROWS_SMALL_K 64

static inline void store_out(float *ym, const float *b, const float *s, int nn, float alpha, bool accumulate) {
    for (int j = 0; j < nn; j++) {
        float base = accumulate ? ym[j] : b ? b[j] : 0.0f;
        ym[j] = base + alpha * s[j];
    }
}

void lb_linear_rows(float *y, int ldy, const float *x, int ldx, const float *W, const float *b, float alpha,
                    bool accumulate, int M, int K, int N) {
    if (M <= 0 || N <= 0) return;
    /* Items: a chunk of 64 rows x a block of 16 outputs (blocks fastest, so a thread's rows stay
     * in cache while it passes every block). */
    int nblocks = (N + 15) / 16, mchunks = (M + 63) / 64;
    int64_t items = (int64_t)nblocks * mchunks;
#pragma omp parallel for schedule(static) if ((double)M * N * K > 4e6)
    for (int64_t it = 0; it < items; it++) {
        int nb = (int)(it % nblocks), mc = (int)(it / nblocks);
        int m0 = mc * 64, m1 = m0 + 64 < M ? m0 + 64 : M;
        int n0 = nb * 16, nn = N - n0 < 16 ? N - n0 : 16;
        const float *bb = b ? b + n0 : NULL;
        if (K < ROWS_SMALL_K) {
            /* the block's weights transposed once: wt[k] holds W[n0 .. n0+15, k] */
            v16 wt[ROWS_SMALL_K];
            for (int k = 0; k < K; k++) {
                float col[16] = {0};
                for (int j = 0; j < nn; j++) col[j] = W[(int64_t)(n0 + j) * K + k];
                wt[k] = load16(col);
            }
            v16 bv = {0};
            if (bb && nn == 16) bv = load16(bb);
            for (int m = m0; m < m1; m++) {
                const float *xm = x + (int64_t)m * ldx;
                float *ym = y + (int64_t)m * ldy + n0;
                v16 acc = {0};
                for (int k = 0; k < K; k++) acc += xm[k] * wt[k];
                if (nn == 16) { /* the same base + alpha * s as store_out, lane by lane */
                    v16 base = accumulate ? load16(ym) : bv;
                    v16 r = base + alpha * acc;
                    memcpy(ym, &r, sizeof r);
                    continue;
                }
                float s[16];
                memcpy(s, &acc, sizeof s);
                store_out(ym, bb, s, nn, alpha, accumulate);
            }
            continue;
        }
        for (int m = m0; m < m1; m++) {
            const float *xm = x + (int64_t)m * ldx;
            float s[16];
            for (int j = 0; j < nn; j += 4) {
                /* past the block's last output, repeat it (computed, not stored) */
                const float *w[4];
                for (int i = 0; i < 4; i++) w[i] = W + (int64_t)(n0 + (j + i < nn ? j + i : nn - 1)) * K;
                dot4(xm, w[0], w[1], w[2], w[3], K, s + j);
            }
            store_out(y + (int64_t)m * ldy + n0, bb, s, nn, alpha, accumulate);
        }
    }
}

void lb_linear_backward(float *dx, int lddx, float *dW, float *db, const float *dy, int lddy, const float *x, int ldx,
                        const float *W, int N, int K, int O) {
    if (N <= 0 || O <= 0 || K <= 0) return;
    if (dx) /* [N,K] += [N,O] [O,K] */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, K, O, 1.0f, dy, lddy, W, K, 1.0f, dx, lddx);
    if (dW) /* [O,K] += [N,O]^T [N,K] */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, O, K, N, 1.0f, dy, lddy, x, ldx, 1.0f, dW, K);
    if (db)
        for (int n = 0; n < N; n++) {
            const float *r = dy + (int64_t)n * lddy;
            for (int o = 0; o < O; o++) db[o] += r[o];
        }
}

void lb_linear_forward_ref(double *y, const double *x, const double *W, const double *b, int N, int K, int O) {
    for (int n = 0; n < N; n++)
        for (int o = 0; o < O; o++) {
            double s = b ? b[o] : 0.0;
            for (int i = 0; i < K; i++) s += x[(int64_t)n * K + i] * W[(int64_t)o * K + i];
            y[(int64_t)n * O + o] = s;
        }
}

void lb_linear_backward_ref(double *dx, double *dW, double *db, const double *dy, const double *x, const double *W,
                            int N, int K, int O) {
    for (int n = 0; n < N; n++)
        for (int o = 0; o < O; o++) {
            double g = dy[(int64_t)n * O + o];
            if (db) db[o] += g;
            for (int i = 0; i < K; i++) {
                if (dx) dx[(int64_t)n * K + i] += g * W[(int64_t)o * K + i];
                if (dW) dW[(int64_t)o * K + i] += g * x[(int64_t)n * K + i];
            }
        }
}
