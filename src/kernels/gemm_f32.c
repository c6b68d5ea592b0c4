/* fp32 GEMM over a pre-packed weight; see gemm_f32.h.
 *
 * Layout: panel p holds output columns [32p, 32p + 32) as [K][32] floats (two zmm per k),
 * zero beyond N. The micro-kernel keeps an MR x 32 tile of C in 2*MR zmm accumulators and, per
 * k, loads the panel row once and broadcasts A[r][k] from memory into one FMA per half: A is
 * read in place (no packing), since at inference sizes its rows are few and stay in L1/L2.
 * K is split into KC slices so that a panel slice (KC x 32 floats = 32 KiB) stays in L1 while
 * every row tile of the block reuses it. */
#include "kernels/gemm_f32.h"
#include <immintrin.h>
#include "kernels/cpu.h"
#include "kernels/gemm_tile.h"
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NR 32
#define MR 12
#ifndef KC
#define KC 256
#endif
#define MC 96 /* rows per work item (8 row tiles) */
#ifndef PF
#define PF 24 /* panel rows (k) prefetched ahead: 3 KiB */
#endif

struct lb_f32_weight {
    int N, K, npanels;
    float *data; /* [npanels][K][NR] */
};

bool lb_gemm_f32_available(void) { return lb_cpu_has(LB_CPU_AVX512F); }

lb_f32_weight *lb_f32_weight_pack(const float *W, int N, int K, bool trans, lb_error *err) {
    if (!W || N <= 0 || K <= 0) {
        lb_err(err, LB_ERR_USAGE, "fp32 weight pack: invalid shape [%d, %d]", N, K);
        return NULL;
    }
    if (!lb_gemm_f32_available()) {
        lb_err(err, LB_ERR_UNSUPPORTED, "fp32 weight pack: this CPU lacks AVX-512F");
        return NULL;
    }
    lb_f32_weight *w = calloc(1, sizeof *w);
    if (!w) {
        lb_err(err, LB_ERR_NOMEM, "fp32 weight pack: out of memory");
        return NULL;
    }
    w->N = N;
    w->K = K;
    w->npanels = (N + NR - 1) / NR;
    size_t bytes = (size_t)w->npanels * (size_t)K * NR * sizeof(float);
    w->data = aligned_alloc(64, bytes);
    if (!w->data) {
        free(w);
        lb_err(err, LB_ERR_NOMEM, "fp32 weight pack: cannot allocate %zu bytes for [%d, %d]", bytes, N, K);
        return NULL;
    }
    const int np = w->npanels;
#pragma omp parallel for schedule(static) if ((double)N * K > 1e5)
    for (int p = 0; p < np; p++) {
        float *dst = w->data + (size_t)p * K * NR;
        for (int k = 0; k < K; k++)
            for (int j = 0; j < NR; j++) {
                int n = p * NR + j;
                dst[(size_t)k * NR + j] = n >= N ? 0.0f : trans ? W[(size_t)k * N + n] : W[(size_t)n * K + k];
            }
    }
    return w;
}

void lb_f32_weight_free(lb_f32_weight *w) {
    if (!w) return;
    free(w->data);
    free(w);
}

/* One kernel per row count (constant bounds let the compiler keep the tile in registers).
 * C [ROWS, nr] (+)= A [ROWS, kc] (row stride lda) x Bp [kc][32]. */
#define DEFINE_UKERNEL(ROWS)                                                                                           \
    __attribute__((target("avx512f"))) static void ukernel_##ROWS(                                                     \
        int kc, const float *A, int lda, const float *Bp, float *C, int ldc, int nr, const float *bias, bool load_c) { \
        __m512 acc0[ROWS], acc1[ROWS];                                                                                 \
        for (int r = 0; r < ROWS; r++) {                                                                               \
            acc0[r] = _mm512_setzero_ps();                                                                             \
            acc1[r] = _mm512_setzero_ps();                                                                             \
        }                                                                                                              \
        for (int k = 0; k < kc; k++) {                                                                                 \
            /* the panel streams from memory on the first row tile: ask for it ahead of use */                         \
            _mm_prefetch((const char *)(Bp + (size_t)(k + PF) * NR), _MM_HINT_T0);                                     \
            _mm_prefetch((const char *)(Bp + (size_t)(k + PF) * NR + 16), _MM_HINT_T0);                                \
            __m512 b0 = _mm512_load_ps(Bp + (size_t)k * NR), b1 = _mm512_load_ps(Bp + (size_t)k * NR + 16);            \
            for (int r = 0; r < ROWS; r++) {                                                                           \
                __m512 a = _mm512_set1_ps(A[(size_t)r * lda + k]);                                                     \
                acc0[r] = _mm512_fmadd_ps(a, b0, acc0[r]);                                                             \
                acc1[r] = _mm512_fmadd_ps(a, b1, acc1[r]);                                                             \
            }                                                                                                          \
        }                                                                                                              \
        for (int r = 0; r < ROWS; r++) lb_tile_store_row(C + (size_t)r * ldc, acc0[r], acc1[r], nr, bias, load_c);     \
    }
/* Macro calls without semicolons: clang-format re-wraps them differently on every pass. */
/* clang-format off */
DEFINE_UKERNEL(1)
DEFINE_UKERNEL(2)
DEFINE_UKERNEL(3)
DEFINE_UKERNEL(4)
DEFINE_UKERNEL(5)
DEFINE_UKERNEL(6)
DEFINE_UKERNEL(7)
DEFINE_UKERNEL(8)
DEFINE_UKERNEL(9)
DEFINE_UKERNEL(10)
DEFINE_UKERNEL(11)
DEFINE_UKERNEL(12)
/* clang-format on */

typedef void (*ukernel_fn)(int, const float *, int, const float *, float *, int, int, const float *, bool);
static const ukernel_fn ukernels[MR + 1] = {NULL,       ukernel_1,  ukernel_2, ukernel_3, ukernel_4,
                                            ukernel_5,  ukernel_6,  ukernel_7, ukernel_8, ukernel_9,
                                            ukernel_10, ukernel_11, ukernel_12};

void lb_gemm_f32_packed(const float *A, int M, int lda, const lb_f32_weight *W, const float *bias, bool accumulate,
                        float *C, int ldc) {
    if (M <= 0) return;
    const int N = W->N, K = W->K, npanels = W->npanels;
    const int mblocks = (M + MC - 1) / MC;
    const int nthreads = 2.0 * M * N * K > 2e6 ? omp_get_max_threads() : 1;
    /* Few rows: split the columns too, so every thread gets work. */
    int nsplit = 1;
    if (mblocks < 4 * nthreads) nsplit = (4 * nthreads + mblocks - 1) / mblocks;
    if (nsplit > npanels) nsplit = npanels;
    const int items = mblocks * nsplit;
#pragma omp parallel for schedule(dynamic, 1) num_threads(nthreads)
    for (int it = 0; it < items; it++) {
        int mb = it / nsplit, ns = it % nsplit;
        int m0 = mb * MC, mrows = M - m0 < MC ? M - m0 : MC;
        int p0 = (int)((long)npanels * ns / nsplit), p1 = (int)((long)npanels * (ns + 1) / nsplit);
        for (int k0 = 0; k0 < K; k0 += KC) {
            int kc = K - k0 < KC ? K - k0 : KC;
            bool first = k0 == 0, load_c = !first || accumulate;
            for (int p = p0; p < p1; p++) {
                const float *Bp = W->data + ((size_t)p * K + k0) * NR;
                int n0 = p * NR, nr = N - n0 < NR ? N - n0 : NR;
                const float *bp = first && bias ? bias + n0 : NULL;
                for (int r0 = 0; r0 < mrows; r0 += MR) {
                    int mr = mrows - r0 < MR ? mrows - r0 : MR;
                    ukernels[mr](kc, A + (size_t)(m0 + r0) * lda + k0, lda, Bp, C + (size_t)(m0 + r0) * ldc + n0, ldc,
                                 nr, bp, load_c);
                }
            }
        }
    }
}
