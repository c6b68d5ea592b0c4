/* Measures this machine's peak arithmetic rate, so bench figures can be reported as a share of
 * what the cores can actually do rather than of a datasheet number.
 *   fp32: chains of AVX-512 FMA (vfmadd231ps zmm: 16 lanes x 2 flops)
 *   bf16: chains of AVX512-BF16 VDPBF16PS (zmm: 16 lanes x 2 products x 2 flops = 64 flops)
 * Enough independent accumulators to cover latency x throughput on both ports. Runs on 1 thread
 * and on all OpenMP threads; best of several repeats (peak, not typical).
 * Output: one JSON object on stdout. */
#define _POSIX_C_SOURCE 200809L
#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define NACC 16
/* 16 named accumulators (an array would be spilled to memory by the compiler) */
#define DECL16 __m512 c0 = _mm512_set1_ps(0.0f), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, \
    c6 = c0, c7 = c0, c8 = c0, c9 = c0, c10 = c0, c11 = c0, c12 = c0, c13 = c0, c14 = c0, c15 = c0
#define STEP16(OP) do { c0 = OP(c0); c1 = OP(c1); c2 = OP(c2); c3 = OP(c3); c4 = OP(c4); \
    c5 = OP(c5); c6 = OP(c6); c7 = OP(c7); c8 = OP(c8); c9 = OP(c9); c10 = OP(c10); \
    c11 = OP(c11); c12 = OP(c12); c13 = OP(c13); c14 = OP(c14); c15 = OP(c15); } while (0)
#define SUM15(s) do { s = _mm512_add_ps(s, c1); s = _mm512_add_ps(s, c2); s = _mm512_add_ps(s, c3); \
    s = _mm512_add_ps(s, c4); s = _mm512_add_ps(s, c5); s = _mm512_add_ps(s, c6); \
    s = _mm512_add_ps(s, c7); s = _mm512_add_ps(s, c8); s = _mm512_add_ps(s, c9); \
    s = _mm512_add_ps(s, c10); s = _mm512_add_ps(s, c11); s = _mm512_add_ps(s, c12); \
    s = _mm512_add_ps(s, c13); s = _mm512_add_ps(s, c14); s = _mm512_add_ps(s, c15); } while (0)

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static volatile float sink;

__attribute__((target("avx512f"))) static double fma_loop(long iters) {
    DECL16;
    __m512 x = _mm512_set1_ps(0.999999f), y = _mm512_set1_ps(1e-7f);
#define FMA(c) _mm512_fmadd_ps(c, x, y)
    for (long it = 0; it < iters; it++) {
        STEP16(FMA);
        /* empty asm: the compiler may not fold or hoist the chains */
        __asm__ volatile("" : "+v"(c0), "+v"(c1), "+v"(c2), "+v"(c3));
    }
    __m512 s = c0;
    SUM15(s);
    sink = _mm512_reduce_add_ps(s);
    return (double)iters * NACC * 16 * 2;
}

__attribute__((target("avx512f,avx512bf16"))) static double dpbf16_loop(long iters) {
    DECL16;
    __m512bh a = _mm512_cvtne2ps_pbh(_mm512_set1_ps(1e-3f), _mm512_set1_ps(2e-3f));
    __m512bh b = _mm512_cvtne2ps_pbh(_mm512_set1_ps(3e-3f), _mm512_set1_ps(-1e-3f));
#define DPB(c) _mm512_dpbf16_ps(c, a, b)
    for (long it = 0; it < iters; it++) {
        STEP16(DPB);
        /* empty asm: the compiler may not fold or hoist the chains */
        __asm__ volatile("" : "+v"(c0), "+v"(c1), "+v"(c2), "+v"(c3));
    }
    __m512 s = c0;
    SUM15(s);
    sink = _mm512_reduce_add_ps(s);
    return (double)iters * NACC * 16 * 4;
}

/* Best GFLOP/s over `reps` runs of `iters` iterations on `threads` threads. */
static double measure(int bf16, int threads, long iters, int reps) {
    double best = 0;
    for (int r = 0; r < reps; r++) {
        double flops = 0, t0 = now();
#pragma omp parallel num_threads(threads) reduction(+ : flops)
        flops += bf16 ? dpbf16_loop(iters) : fma_loop(iters);
        double g = flops / (now() - t0) * 1e-9;
        if (g > best) best = g;
    }
    return best;
}

int main(int argc, char **argv) {
    long iters = 20000000;   /* ~0.1-0.3 s per run */
    int reps = 5;
    if (argc > 1 && strcmp(argv[1], "--quick") == 0) { iters /= 4; reps = 3; }
    int nt = omp_get_max_threads();
    __builtin_cpu_init();
    int has_bf16 = __builtin_cpu_supports("avx512bf16");
    double f1 = measure(0, 1, iters, reps), fn = measure(0, nt, iters, reps);
    double b1 = has_bf16 ? measure(1, 1, iters, reps) : 0, bn = has_bf16 ? measure(1, nt, iters, reps) : 0;
    printf("{\"threads\": %d, \"fp32_gflops_1t\": %.1f, \"fp32_gflops\": %.1f, "
           "\"bf16_gflops_1t\": %.1f, \"bf16_gflops\": %.1f, \"avx512bf16\": %s}\n",
           nt, f1, fn, b1, bn, has_bf16 ? "true" : "false");
    return 0;
}
