/* Tests for src/kernels/gemm_f32: the packed-weight fp32 GEMM against a double-precision
 * reference and against OpenBLAS, on shapes with ragged edges in every dimension, row/column
 * strides, bias and accumulation. */
#include <cblas.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "base/rng.h"
#include "kernels/gemm_f32.h"

static void fill(lb_rng *r, float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = lb_rng_uniform(r) * 2.0f - 1.0f;
}

/* One case: C = (acc ? C0 : 0) + bias + A W^T with A [M, lda], C [M, ldc]. Every entry must be
 * within the fp32 summation bound of the exact value: |err| <= K * 2^-23 * sum_k |a w| (+ the
 * bias/accumulator adds). */
static void check(int M, int N, int K, int lda, int ldc, bool use_bias, bool acc, uint64_t seed) {
    lb_rng r;
    lb_rng_seed(&r, seed);
    float *A = malloc(sizeof(float) * (size_t)(M ? M : 1) * lda), *W = malloc(sizeof(float) * (size_t)N * K);
    float *C = malloc(sizeof(float) * (size_t)(M ? M : 1) * ldc), *bias = malloc(sizeof(float) * (size_t)N);
    fill(&r, A, (size_t)(M ? M : 1) * lda);
    fill(&r, W, (size_t)N * K);
    fill(&r, C, (size_t)(M ? M : 1) * ldc);
    fill(&r, bias, (size_t)N);
    float *C0 = malloc(sizeof(float) * (size_t)(M ? M : 1) * ldc);
    memcpy(C0, C, sizeof(float) * (size_t)(M ? M : 1) * ldc);
    lb_error e;
    lb_f32_weight *pw = lb_f32_weight_pack(W, N, K, false, &e);
    cr_assert_not_null(pw, "%s", e.msg);
    lb_gemm_f32_packed(A, M, lda, pw, use_bias ? bias : NULL, acc, C, ldc);
    for (int m = 0; m < M; m++) {
        for (int n = 0; n < N; n++) {
            double s = 0, mag = 0;
            for (int k = 0; k < K; k++) {
                double p = (double)A[(size_t)m * lda + k] * W[(size_t)n * K + k];
                s += p;
                mag += fabs(p);
            }
            if (use_bias) {
                s += bias[n];
                mag += fabs(bias[n]);
            }
            if (acc) {
                s += C0[(size_t)m * ldc + n];
                mag += fabs(C0[(size_t)m * ldc + n]);
            }
            double got = C[(size_t)m * ldc + n], bound = (K + 2) * 0x1p-23 * mag + 1e-30;
            cr_assert(fabs(got - s) <= bound, "M=%d N=%d K=%d [%d,%d]: %.9g vs %.9g (bound %.3g)", M, N, K, m, n, got,
                      s, bound);
        }
        /* columns past N are untouched */
        for (int n = N; n < ldc; n++)
            cr_assert_eq(C[(size_t)m * ldc + n], C0[(size_t)m * ldc + n], "wrote past N at [%d,%d]", m, n);
    }
    lb_f32_weight_free(pw);
    free(A);
    free(W);
    free(C);
    free(C0);
    free(bias);
}

Test(gemm_f32, matches_exact_sums_on_ragged_shapes) {
    if (!lb_gemm_f32_available()) cr_skip_test("CPU without AVX-512F: the packed fp32 path is never used");
    const int Ms[] = {0, 1, 5, 11, 12, 13, 64, 97, 200};
    const int Ns[] = {1, 16, 31, 32, 33, 70};
    const int Ks[] = {1, 7, 255, 256, 257, 600};
    uint64_t seed = 1;
    for (size_t a = 0; a < sizeof Ms / sizeof *Ms; a++)
        for (size_t b = 0; b < sizeof Ns / sizeof *Ns; b++)
            for (size_t c = 0; c < sizeof Ks / sizeof *Ks; c++) {
                int M = Ms[a], N = Ns[b], K = Ks[c];
                check(M, N, K, K, N, (seed & 1) != 0, (seed & 2) != 0, seed);
                seed++;
            }
    /* strides: A and C rows wider than K and N (a view into a larger buffer) */
    check(30, 40, 50, 64, 45, true, false, 99);
    check(13, 768, 768, 800, 2 * 768, true, true, 100);
}

Test(gemm_f32, agrees_with_openblas_on_model_shapes) {
    if (!lb_gemm_f32_available()) cr_skip_test("CPU without AVX-512F");
    const int shapes[][3] = {{64, 768, 768}, {64, 3072, 768}, {64, 768, 3072}, {1, 768, 768}, {300, 768, 768}};
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        lb_rng r;
        lb_rng_seed(&r, 7 + s);
        float *A = malloc(sizeof(float) * (size_t)M * K), *W = malloc(sizeof(float) * (size_t)N * K);
        float *C1 = malloc(sizeof(float) * (size_t)M * N), *C2 = malloc(sizeof(float) * (size_t)M * N);
        fill(&r, A, (size_t)M * K);
        fill(&r, W, (size_t)N * K);
        lb_error e;
        lb_f32_weight *pw = lb_f32_weight_pack(W, N, K, false, &e);
        cr_assert_not_null(pw, "%s", e.msg);
        lb_gemm_f32_packed(A, M, K, pw, NULL, false, C1, N);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, A, K, W, K, 0.0f, C2, N);
        double md = 0, mx = 0;
        for (size_t i = 0; i < (size_t)M * N; i++) {
            md = fmax(md, fabs((double)C1[i] - C2[i]));
            mx = fmax(mx, fabs(C2[i]));
        }
        cr_assert(md <= 1e-5 * mx, "M=%d N=%d K=%d: max |diff| %.3g (max |C| %.3g)", M, N, K, md, mx);
        lb_f32_weight_free(pw);
        free(A);
        free(W);
        free(C1);
        free(C2);
    }
}

Test(gemm_f32, pack_rejects_bad_shapes) {
    float w[4] = {0};
    lb_error e;
    cr_assert_null(lb_f32_weight_pack(w, 0, 4, false, &e));
    cr_assert_null(lb_f32_weight_pack(w, 4, 0, false, &e));
    cr_assert_null(lb_f32_weight_pack(NULL, 2, 2, false, &e));
}

Test(gemm_f32, transposed_pack_equals_packing_the_transpose) {
    if (!lb_gemm_f32_available()) cr_skip_test("CPU without AVX-512F");
    const int M = 37, N = 70, K = 300; /* C = A x Wt with Wt [K, N] row-major */
    lb_rng r;
    lb_rng_seed(&r, 3);
    float *A = malloc(sizeof(float) * M * K), *Wt = malloc(sizeof(float) * K * N), *W = malloc(sizeof(float) * N * K);
    float *C1 = malloc(sizeof(float) * M * N), *C2 = malloc(sizeof(float) * M * N);
    fill(&r, A, (size_t)M * K);
    fill(&r, Wt, (size_t)K * N);
    for (int k = 0; k < K; k++)
        for (int n = 0; n < N; n++) W[(size_t)n * K + k] = Wt[(size_t)k * N + n];
    lb_error e;
    lb_f32_weight *pt = lb_f32_weight_pack(Wt, N, K, true, &e), *pn = lb_f32_weight_pack(W, N, K, false, &e);
    cr_assert(pt && pn, "%s", e.msg);
    lb_gemm_f32_packed(A, M, K, pt, NULL, false, C1, N);
    lb_gemm_f32_packed(A, M, K, pn, NULL, false, C2, N);
    cr_assert(memcmp(C1, C2, sizeof(float) * M * N) == 0, "same packed panels must give identical results");
    lb_f32_weight_free(pt);
    lb_f32_weight_free(pn);
    free(A);
    free(Wt);
    free(W);
    free(C1);
    free(C2);
}
