/* GEMM throughput at the model's shapes: lorabert's bf16 kernel (AVX512-BF16 and portable
 * paths) versus OpenBLAS sgemm (fp32), C[M,N] = A[M,K] x W[N,K]^T, all OpenMP threads.
 * Prints one JSON object: {"shapes": [{"M","N","K","sgemm_gflops","bf16_gflops",
 * "bf16_portable_gflops"}...]} (median of repeats, min and max beside it). */
#define _POSIX_C_SOURCE 200809L
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "base/rng.h"
#include "kernels/gemm_bf16.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct { double med, min, max; } stat3;

/* GFLOP/s of `reps` timed runs (after one warm-up), median/min/max. which: 0 sgemm, 1 bf16, 2 portable */
static stat3 run(int which, int M, int N, int K, const float *A, const float *W, const lb_bf16_weight *pw,
                 float *C, int reps) {
    double g[64];
    for (int r = -1; r < reps; r++) {
        double t0 = now();
        if (which == 0)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, A, K, W, K, 0.0f, C, N);
        else {
            lb_gemm_bf16_force_portable(which == 2);
            lb_gemm_bf16(A, M, K, pw, NULL, false, C, N);
            lb_gemm_bf16_force_portable(false);
        }
        double dt = now() - t0;
        if (r >= 0) g[r] = 2.0 * M * N * K / dt * 1e-9;
    }
    qsort(g, reps, sizeof g[0], cmp);
    return (stat3){g[reps / 2], g[0], g[reps - 1]};
}

int main(int argc, char **argv) {
    int quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    int reps = quick ? 5 : 11;
    const int shapes[][3] = {{1700, 768, 768}, {1700, 3072, 768}, {1700, 768, 3072}, {512, 768, 768}, {128, 768, 768}};
    const int nshapes = (int)(sizeof shapes / sizeof shapes[0]);
    lb_rng r;
    lb_rng_seed(&r, 1);
    printf("{\"avx512bf16\": %s, \"shapes\": [", lb_gemm_bf16_uses_avx512() ? "true" : "false");
    for (int s = 0; s < nshapes; s++) {
        int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        float *A = malloc(sizeof(float) * (size_t)M * K), *W = malloc(sizeof(float) * (size_t)N * K);
        float *C = malloc(sizeof(float) * (size_t)M * N);
        for (size_t i = 0; i < (size_t)M * K; i++) A[i] = lb_rng_uniform(&r) - 0.5f;
        for (size_t i = 0; i < (size_t)N * K; i++) W[i] = lb_rng_uniform(&r) - 0.5f;
        lb_error e;
        lb_bf16_weight *pw = lb_bf16_weight_pack(W, N, K, false, &e);
        if (!pw) { fprintf(stderr, "gemm_bench: %s\n", e.msg); return 1; }
        stat3 f = run(0, M, N, K, A, W, pw, C, reps), b = run(1, M, N, K, A, W, pw, C, reps);
        stat3 p = run(2, M, N, K, A, W, pw, C, quick ? 3 : 5);
        printf("%s\n  {\"M\": %d, \"N\": %d, \"K\": %d, \"sgemm_gflops\": [%.1f, %.1f, %.1f], "
               "\"bf16_gflops\": [%.1f, %.1f, %.1f], \"bf16_portable_gflops\": [%.1f, %.1f, %.1f]}",
               s ? "," : "", M, N, K, f.med, f.min, f.max, b.med, b.min, b.max, p.med, p.min, p.max);
        lb_bf16_weight_free(pw);
        free(A); free(W); free(C);
    }
    printf("\n], \"note\": \"[median, min, max] GFLOP/s\"}\n");
    return 0;
}
