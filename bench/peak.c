/* Measures this machine's peak arithmetic rate, so bench figures can be reported as a share of
 * what the cores can actually do rather than of a datasheet number.
 *   fp32: chains of AVX-512 FMA (vfmadd231ps zmm: 16 lanes x 2 flops)
 *   bf16: chains of AVX512-BF16 VDPBF16PS (zmm: 16 lanes x 2 products x 2 flops = 64 flops)
 *   amx:  AMX-BF16 TDPBF16PS on 4 accumulator tiles (16x16 fp32 += 16x32 . 32x16 bf16 =
 *         16384 flops each), where the CPU has AMX and the kernel grants tile data (else 0)
 * Enough independent accumulators to cover latency x throughput on both ports. Runs on 1 thread
 * and on all OpenMP threads; best of many short bursts (peak, not typical).
 * Output: one JSON object on stdout. */
#define _GNU_SOURCE
#include <immintrin.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define NACC 16
/* 16 named accumulators (an array would be spilled to memory by the compiler) */
#define DECL16                                                                                    \
    __m512 c0 = _mm512_set1_ps(0.0f), c1 = _mm512_set1_ps(0.01f), c2 = _mm512_set1_ps(0.02f),     \
           c3 = _mm512_set1_ps(0.03f), c4 = _mm512_set1_ps(0.04f), c5 = _mm512_set1_ps(0.05f),    \
           c6 = _mm512_set1_ps(0.06f), c7 = _mm512_set1_ps(0.07f), c8 = _mm512_set1_ps(0.08f),    \
           c9 = _mm512_set1_ps(0.09f), c10 = _mm512_set1_ps(0.10f), c11 = _mm512_set1_ps(0.11f),  \
           c12 = _mm512_set1_ps(0.12f), c13 = _mm512_set1_ps(0.13f), c14 = _mm512_set1_ps(0.14f), \
           c15 = _mm512_set1_ps(0.15f)
/* An empty asm that claims to change every chain: nothing can be merged, folded or hoisted
 * (distinct chains with equal inputs would otherwise be computed once). */
#define OPAQUE16                                                                                                     \
    do {                                                                                                             \
        __asm__ volatile("" : "+v"(c0), "+v"(c1), "+v"(c2), "+v"(c3), "+v"(c4), "+v"(c5), "+v"(c6), "+v"(c7));       \
        __asm__ volatile("" : "+v"(c8), "+v"(c9), "+v"(c10), "+v"(c11), "+v"(c12), "+v"(c13), "+v"(c14), "+v"(c15)); \
    } while (0)
#define STEP16(OP)     \
    do {               \
        c0 = OP(c0);   \
        c1 = OP(c1);   \
        c2 = OP(c2);   \
        c3 = OP(c3);   \
        c4 = OP(c4);   \
        c5 = OP(c5);   \
        c6 = OP(c6);   \
        c7 = OP(c7);   \
        c8 = OP(c8);   \
        c9 = OP(c9);   \
        c10 = OP(c10); \
        c11 = OP(c11); \
        c12 = OP(c12); \
        c13 = OP(c13); \
        c14 = OP(c14); \
        c15 = OP(c15); \
    } while (0)
#define SUM15(s)                   \
    do {                           \
        s = _mm512_add_ps(s, c1);  \
        s = _mm512_add_ps(s, c2);  \
        s = _mm512_add_ps(s, c3);  \
        s = _mm512_add_ps(s, c4);  \
        s = _mm512_add_ps(s, c5);  \
        s = _mm512_add_ps(s, c6);  \
        s = _mm512_add_ps(s, c7);  \
        s = _mm512_add_ps(s, c8);  \
        s = _mm512_add_ps(s, c9);  \
        s = _mm512_add_ps(s, c10); \
        s = _mm512_add_ps(s, c11); \
        s = _mm512_add_ps(s, c12); \
        s = _mm512_add_ps(s, c13); \
        s = _mm512_add_ps(s, c14); \
        s = _mm512_add_ps(s, c15); \
    } while (0)

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
        OPAQUE16;
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
        OPAQUE16;
    }
    __m512 s = c0;
    SUM15(s);
    sink = _mm512_reduce_add_ps(s);
    return (double)iters * NACC * 16 * 4;
}

/* ---- AMX (Sapphire Rapids and later): the tile unit, for reference against VDPBF16PS. */
#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_XTILEDATA 18

static int amx_permitted(void) {
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("amx-bf16")) return 0;
    /* Linux requires each process to ask for the (large) tile state. */
    return syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0;
}

struct tilecfg {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
};

__attribute__((target("amx-tile,amx-bf16"))) static double amx_loop(long iters) {
    struct tilecfg cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int t = 0; t < 8; t++) {
        cfg.rows[t] = 16;
        cfg.colsb[t] = 64;
    }
    _tile_loadconfig(&cfg);
    static _Thread_local uint16_t buf[2][16 * 32] __attribute__((aligned(64)));
    for (int i = 0; i < 16 * 32; i++) buf[0][i] = buf[1][i] = 0x3c00; /* bf16 ~ 0.0078 */
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    _tile_loadd(4, buf[0], 64);
    _tile_loadd(5, buf[1], 64);
    _tile_loadd(6, buf[0], 64);
    _tile_loadd(7, buf[1], 64);
    for (long it = 0; it < iters; it++) {
        _tile_dpbf16ps(0, 4, 6);
        _tile_dpbf16ps(1, 4, 7);
        _tile_dpbf16ps(2, 5, 6);
        _tile_dpbf16ps(3, 5, 7);
    }
    static _Thread_local float outb[16 * 16] __attribute__((aligned(64)));
    _tile_stored(0, outb, 64);
    _tile_release();
    sink = outb[0];
    return (double)iters * 4 * 16 * 16 * 32 * 2;
}

/* Best GFLOP/s over `reps` runs of `iters` iterations on `threads` threads. */
static double measure(int kind, int threads, long iters, int reps) {
    double best = 0;
    for (int r = 0; r < reps; r++) {
        double flops = 0, t0 = now();
#pragma omp parallel num_threads(threads) reduction(+ : flops)
        flops += kind == 2 ? amx_loop(iters) : kind == 1 ? dpbf16_loop(iters) : fma_loop(iters);
        double g = flops / (now() - t0) * 1e-9;
        if (g > best) best = g;
    }
    return best;
}

int main(int argc, char **argv) {
    /* Many short bursts (~2 ms, inside one scheduler time slice) and the best of them: on a
     * shared machine a long run measures the share of the core we got, not the core. */
    long iters = 12000;
    int reps = 400;
    if (argc > 1 && strcmp(argv[1], "--quick") == 0) reps = 120;
    int nt = omp_get_max_threads();
    __builtin_cpu_init();
    int has_bf16 = __builtin_cpu_supports("avx512bf16");
    double f1 = measure(0, 1, iters, reps), fn = measure(0, nt, iters, reps);
    double b1 = has_bf16 ? measure(1, 1, iters, reps) : 0, bn = has_bf16 ? measure(1, nt, iters, reps) : 0;
    int has_amx = amx_permitted();
    /* the tile-data permission is per process; each thread loads its own tile config */
    double a1 = has_amx ? measure(2, 1, iters / 16, reps) : 0, an = has_amx ? measure(2, nt, iters / 16, reps) : 0;
    printf("{\"threads\": %d, \"fp32_gflops_1t\": %.1f, \"fp32_gflops\": %.1f, "
           "\"bf16_gflops_1t\": %.1f, \"bf16_gflops\": %.1f, \"avx512bf16\": %s, "
           "\"amx_bf16_gflops_1t\": %.1f, \"amx_bf16_gflops\": %.1f, \"amx\": %s}\n",
           nt, f1, fn, b1, bn, has_bf16 ? "true" : "false", a1, an, has_amx ? "true" : "false");
    return 0;
}
