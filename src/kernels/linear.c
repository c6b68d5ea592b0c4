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

/* One output of lb_linear_rows: lane j sums the products of k = j (mod 16) in k order, then the
 * lanes are added as a fixed tree. The compiler vectorises the lane loop; without FP contraction
 * (ISO C) every build computes the same products and sums for every row. */
static inline float dot_lanes(const float *x, const float *w, int K) {
    float acc[16] = {0};
    int k = 0;
    for (; k + 16 <= K; k += 16)
        for (int j = 0; j < 16; j++) acc[j] += x[k + j] * w[k + j];
    for (int j = 0; k + j < K; j++) acc[j] += x[k + j] * w[k + j];
    for (int h = 8; h >= 1; h /= 2)
        for (int j = 0; j < h; j++) acc[j] += acc[j + h];
    return acc[0];
}

void lb_linear_rows(float *y, int ldy, const float *x, int ldx, const float *W, const float *b, float alpha,
                    bool accumulate, int M, int K, int N) {
    if (M <= 0 || N <= 0) return;
    /* Blocks of 16 outputs: their weights stay in cache while every row passes. */
    int nblocks = (N + 15) / 16;
#pragma omp parallel for schedule(static) if ((double)M * N * K > 4e6)
    for (int nb = 0; nb < nblocks; nb++) {
        int n0 = nb * 16, n1 = n0 + 16 < N ? n0 + 16 : N;
        for (int m = 0; m < M; m++) {
            const float *xm = x + (int64_t)m * ldx;
            float *ym = y + (int64_t)m * ldy;
            for (int n = n0; n < n1; n++) {
                float s = dot_lanes(xm, W + (int64_t)n * K, K);
                float base = accumulate ? ym[n] : b ? b[n] : 0.0f;
                ym[n] = base + alpha * s;
            }
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
