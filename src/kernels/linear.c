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
