/* GEMM throughput at the model's shapes: lorabert's bf16 kernel (each path this CPU has: AMX,
 * AVX512-BF16, portable) and its packed-weight fp32 kernel (f32packed) versus OpenBLAS sgemm (fp32), C[M,N] = A[M,K] x W[N,K]^T, all OpenMP
 * threads (wall clock), and on one thread timed by that thread's CPU clock, which time spent
 * descheduled does not inflate (a per-core figure that survives a shared machine). Repeats
 * alternate between the kernels so contention hits them alike.
 * Prints one JSON object: {"shapes": [{"M","N","K","sgemm_gflops","amx_gflops",
 * "avx512bf16_gflops","portable_gflops", and the same with "_1t_cpu"}...]}, each
 * [median, min, max] GFLOP/s. Re-executes itself with OPENBLAS_CORETYPE fixed (kernels.h)
 * unless --no-blas-fix. */
#define _GNU_SOURCE
#include <cblas.h>
#include <omp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "base/rng.h"
#include "kernels/gemm_bf16.h"
#include "kernels/gemm_f32.h"
#include "kernels/kernels.h"

static clockid_t g_clock = CLOCK_MONOTONIC;

static double now(void) {
    struct timespec ts;
    clock_gettime(g_clock, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void one(int which, int M, int N, int K, const float *A, const float *W, const lb_bf16_weight *pw,
                const lb_f32_weight *fw, float *C) {
    if (which == 4) {
        lb_gemm_f32_packed(A, M, K, fw, NULL, false, C, N);
        return;
    }
    static const lb_bf16_path path[] = {LB_BF16_AUTO, LB_BF16_AMX, LB_BF16_AVX512, LB_BF16_PORTABLE};
    if (which == 0) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, A, K, W, K, 0.0f, C, N);
        return;
    }
    lb_gemm_bf16_set_path(path[which]);
    lb_gemm_bf16(A, M, K, pw, NULL, false, C, N);
    lb_gemm_bf16_set_path(LB_BF16_AUTO);
}

int main(int argc, char **argv) {
    int quick = 0, fix = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) quick = 1;
        else if (!strcmp(argv[i], "--no-blas-fix")) fix = 0; /* keep OpenBLAS's own kernel choice */
    }
    if (fix) lb_blas_reexec_if_slow(argv);
    int reps = quick ? 7 : 21;
    const int shapes[][3] = {{1700, 768, 768}, {1700, 3072, 768}, {1700, 768, 3072}, {512, 768, 768}, {128, 768, 768},
                             {64, 768, 768},   {64, 3072, 768},   {64, 768, 3072},   {16, 768, 768}};
    const int nshapes = (int)(sizeof shapes / sizeof shapes[0]);
    const char *names[] = {"sgemm", "amx", "avx512bf16", "portable", "f32packed"};
    bool avail[5] = {true, lb_gemm_bf16_set_path(LB_BF16_AMX), lb_gemm_bf16_set_path(LB_BF16_AVX512), true,
                     lb_gemm_f32_available()};
    lb_gemm_bf16_set_path(LB_BF16_AUTO);
    lb_rng r;
    lb_rng_seed(&r, 1);
    printf("{\"threads\": %d, \"openblas_core\": \"%s\", \"shapes\": [", omp_get_max_threads(), lb_blas_corename());
    for (int s = 0; s < nshapes; s++) {
        int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        float *A = malloc(sizeof(float) * (size_t)M * K), *W = malloc(sizeof(float) * (size_t)N * K);
        float *C = malloc(sizeof(float) * (size_t)M * N);
        for (size_t i = 0; i < (size_t)M * K; i++) A[i] = lb_rng_uniform(&r) - 0.5f;
        for (size_t i = 0; i < (size_t)N * K; i++) W[i] = lb_rng_uniform(&r) - 0.5f;
        lb_error e;
        lb_bf16_weight *pw = lb_bf16_weight_pack(W, N, K, false, &e);
        if (!pw) {
            fprintf(stderr, "gemm_bench: %s\n", e.msg);
            return 1;
        }
        lb_f32_weight *fw = avail[4] ? lb_f32_weight_pack(W, N, K, false, &e) : NULL;
        printf("%s\n  {\"M\": %d, \"N\": %d, \"K\": %d", s ? "," : "", M, N, K);
        for (int mode = 0; mode < 2; mode++) { /* 0: all threads, wall; 1: one thread, its CPU time */
            int nt = omp_get_max_threads();
            if (mode == 1) {
                omp_set_num_threads(1);
                g_clock = CLOCK_THREAD_CPUTIME_ID;
            }
            double g[5][64];
            for (int w = 0; w < 5; w++)
                if (avail[w]) one(w, M, N, K, A, W, pw, fw, C); /* warm-up */
            for (int rep = 0; rep < reps; rep++)
                for (int w = 0; w < 5; w++) {
                    if (!avail[w] || (w == 3 && rep >= 3)) continue; /* the portable kernel is slow: 3 runs */
                    double t0 = now();
                    one(w, M, N, K, A, W, pw, fw, C);
                    g[w][rep] = 2.0 * M * N * K / (now() - t0) * 1e-9;
                }
            for (int w = 0; w < 5; w++) {
                const char *sfx = mode ? "_1t_cpu" : "";
                if (!avail[w]) {
                    printf(", \"%s%s_gflops\": null", names[w], sfx);
                    continue;
                }
                int n = w == 3 ? (reps < 3 ? reps : 3) : reps;
                qsort(g[w], n, sizeof g[w][0], cmp);
                printf(", \"%s%s_gflops\": [%.1f, %.1f, %.1f]", names[w], sfx, g[w][n / 2], g[w][0], g[w][n - 1]);
            }
            if (mode == 1) {
                omp_set_num_threads(nt);
                g_clock = CLOCK_MONOTONIC;
            }
        }
        printf("}");
        lb_bf16_weight_free(pw);
        lb_f32_weight_free(fw);
        free(A);
        free(W);
        free(C);
    }
    printf("\n], \"note\": \"[median, min, max] GFLOP/s\"}\n");
    return 0;
}
