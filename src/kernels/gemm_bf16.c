/* bf16 GEMM: packing, the AVX512-BF16 micro-kernel, a portable micro-kernel on the same layout,
 * the blocked/threaded driver, and the reference loop. See gemm_bf16.h for the contract.
 *
 * Layout. VDPBF16PS multiplies pairs of bf16 along k and adds both products into one fp32 lane,
 * so both operands are packed as k-pairs:
 *   weight panel p (32 output columns): [Kp/2][32][2] bf16, Kp = K rounded up to even;
 *     one 64-byte row per k-pair = two zmm registers (columns 0-15, 16-31);
 *   A block (MC rows x KC k): per panel of MR rows, [KC/2][MR] 32-bit words (a bf16 pair each),
 *     which the kernel broadcasts (AVX512); plain row-major [MC][KC] bf16 for AMX, whose A tile is
 *     16 rows x 32 k and whose B tile (16 k-pairs x 16 columns x 2) is a strided view of the
 *     weight panel (row stride 128 bytes), so both kernels share the packed weight.
 * Padding (columns past N, rows past M, the odd k) is zero, so tails need no special maths,
 * only masked stores.
 * Blocking. The driver splits K into KC-deep slices; inside one, a 32-column weight slice
 * (KC x 32 bf16 = 24 KiB) stays in L1 while it is reused for every MR-row panel of the A block
 * (MC x KC bf16 = 72 KiB, L2). Threads take (row block, column range) items. */
#define _GNU_SOURCE /* syscall() for the AMX permission */
#include "kernels/gemm_bf16.h"
#include <immintrin.h>
#include "kernels/amx_tiles.h"
#include "kernels/cpu.h"
#include "kernels/gemm_tile.h"
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NR 32 /* output columns per weight panel (two zmm) */
#define MR 12 /* rows per micro-tile: 12 x 2 accumulators + 2 B + 1 broadcast regs */
#ifndef MC
#define MC 96 /* rows per A block (8 micro-panels; a multiple of MR and of 32) */
#endif
#ifndef KC
#define KC 384 /* k per slice (192 pairs); a multiple of the AMX tile depth (32) */
#endif
#define KALIGN 32 /* weights are zero-padded in k to this (one AMX tile depth) */
_Static_assert(MC % MR == 0 && MC % 32 == 0, "A blocks hold whole AVX512 and AMX row panels");
_Static_assert(KC % KALIGN == 0, "k slices hold whole AMX tiles");

struct lb_bf16_weight {
    int N, K, Kp;   /* Kp = K rounded up to KALIGN */
    int npanels;    /* ceil(N / NR) */
    uint16_t *data; /* [npanels][Kp/2][NR][2] */
};

/* ---------------------------------------------------------------- conversions */

uint16_t lb_f32_to_bf16(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    uint32_t exp = u & 0x7f800000u, man = u & 0x007fffffu;
    if (exp == 0) return (uint16_t)((u >> 16) & 0x8000u); /* zero/denormal -> signed 0 */
    if (exp == 0x7f800000u) {
        if (man) return (uint16_t)((u >> 16) | 0x0040u); /* NaN stays NaN, quiet */
        return (uint16_t)(u >> 16);                      /* +-inf */
    }
    u += 0x7fffu + ((u >> 16) & 1u); /* round to nearest even */
    return (uint16_t)(u >> 16);
}

float lb_bf16_to_f32(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float x;
    memcpy(&x, &u, 4);
    return x;
}

/* ---------------------------------------------------------------- kernel choice */

static bool cpu_has_avx512bf16(void) { return lb_cpu_has(LB_CPU_AVX512BF16); }
static bool cpu_has_amx(void) { return lb_cpu_has(LB_CPU_AMX_BF16); }

static int g_path = LB_BF16_AUTO;

bool lb_gemm_bf16_set_path(lb_bf16_path path) {
    if ((path == LB_BF16_AMX && !cpu_has_amx()) || (path == LB_BF16_AVX512 && !cpu_has_avx512bf16())) return false;
    __atomic_store_n(&g_path, (int)path, __ATOMIC_RELAXED);
    return true;
}

lb_bf16_path lb_gemm_bf16_path(void) {
    int p = __atomic_load_n(&g_path, __ATOMIC_RELAXED);
    if (p != LB_BF16_AUTO) return (lb_bf16_path)p;
    return cpu_has_amx() ? LB_BF16_AMX : cpu_has_avx512bf16() ? LB_BF16_AVX512 : LB_BF16_PORTABLE;
}

/* ---------------------------------------------------------------- weight packing */

lb_bf16_weight *lb_bf16_weight_pack(const float *W, int N, int K, bool trans, lb_error *err) {
    if (!W || N <= 0 || K <= 0) {
        lb_err(err, LB_ERR_USAGE, "bf16 weight pack: invalid shape [%d, %d]", N, K);
        return NULL;
    }
    lb_bf16_weight *w = calloc(1, sizeof *w);
    if (!w) {
        lb_err(err, LB_ERR_NOMEM, "bf16 weight pack: out of memory");
        return NULL;
    }
    w->N = N;
    w->K = K;
    w->Kp = (K + KALIGN - 1) / KALIGN * KALIGN;
    w->npanels = (N + NR - 1) / NR;
    size_t elems = (size_t)w->npanels * (size_t)w->Kp * NR;
    size_t bytes = (elems * sizeof(uint16_t) + 63) / 64 * 64;
    w->data = aligned_alloc(64, bytes);
    if (!w->data) {
        free(w);
        lb_err(err, LB_ERR_NOMEM, "bf16 weight pack: cannot allocate %zu bytes for [%d, %d]", bytes, N, K);
        return NULL;
    }
    const int kpairs = w->Kp / 2, npanels = w->npanels;
#pragma omp parallel for schedule(static) if ((double)N * K > 1e5)
    for (int p = 0; p < npanels; p++) {
        uint16_t *dst = w->data + (size_t)p * kpairs * NR * 2;
        for (int kp = 0; kp < kpairs; kp++)
            for (int j = 0; j < NR; j++)
                for (int t = 0; t < 2; t++) {
                    int n = p * NR + j, k = 2 * kp + t;
                    float v = 0.0f;
                    if (n < N && k < K) v = trans ? W[(size_t)k * N + n] : W[(size_t)n * K + k];
                    dst[((size_t)kp * NR + j) * 2 + t] = lb_f32_to_bf16(v);
                }
    }
    return w;
}

void lb_bf16_weight_free(lb_bf16_weight *w) {
    if (!w) return;
    free(w->data);
    free(w);
}

/* ---------------------------------------------------------------- A packing */

/* Packs rows [0, mrows) x k [k0, k0 + kc) of A (kc even, or the final odd slice) into
 * dst: [ceil(mrows/MR)][kc2][MR] uint32 pairs, zero beyond mrows and beyond K. */
static void pack_a_portable(const float *A, int lda, int mrows, int K, int k0, int kc2, uint32_t *dst) {
    int mpan = (mrows + MR - 1) / MR;
    for (int mp = 0; mp < mpan; mp++)
        for (int r = 0; r < MR; r++) {
            int m = mp * MR + r;
            uint32_t *d = dst + (size_t)mp * kc2 * MR + r;
            if (m >= mrows) {
                for (int kp = 0; kp < kc2; kp++) d[(size_t)kp * MR] = 0;
                continue;
            }
            const float *a = A + (size_t)m * lda;
            for (int kp = 0; kp < kc2; kp++) {
                int k = k0 + 2 * kp;
                uint32_t lo = k < K ? lb_f32_to_bf16(a[k]) : 0;
                uint32_t hi = k + 1 < K ? lb_f32_to_bf16(a[k + 1]) : 0;
                d[(size_t)kp * MR] = lo | (hi << 16);
            }
        }
}

__attribute__((target("avx512f,avx512bw,avx512bf16"))) static void
pack_a_avx512(const float *A, int lda, int mrows, int K, int k0, int kc2, uint32_t *dst) {
    int mpan = (mrows + MR - 1) / MR;
    int kend = k0 + 2 * kc2 < K ? k0 + 2 * kc2 : K; /* real k in this slice: [k0, kend) */
    for (int mp = 0; mp < mpan; mp++)
        for (int r = 0; r < MR; r++) {
            int m = mp * MR + r;
            uint32_t *d = dst + (size_t)mp * kc2 * MR + r;
            if (m >= mrows) {
                for (int kp = 0; kp < kc2; kp++) d[(size_t)kp * MR] = 0;
                continue;
            }
            const float *a = A + (size_t)m * lda;
            /* 16 pairs (32 floats) per step: convert, then scatter the 16 pair-words with
             * stride MR (one row of the panel). */
            const __m512i idx = _mm512_mullo_epi32(
                _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), _mm512_set1_epi32(MR));
            for (int kp = 0; kp < kc2; kp += 16) {
                int k = k0 + 2 * kp;
                int left = kend - k; /* real floats left in the slice */
                __m512 lo, hi;
                if (left >= 32) {
                    lo = _mm512_loadu_ps(a + k);
                    hi = _mm512_loadu_ps(a + k + 16);
                } else {
                    int nlo = left < 0 ? 0 : (left < 16 ? left : 16), nhi = left > 16 ? left - 16 : 0;
                    lo = _mm512_maskz_loadu_ps((__mmask16)((1u << nlo) - 1u), a + k);
                    hi = _mm512_maskz_loadu_ps((__mmask16)((1u << nhi) - 1u), a + k + 16);
                }
                /* cvtne2ps_pbh(hi, lo): bf16 0..15 from lo, 16..31 from hi = k order. */
                __m512i pairs = (__m512i)_mm512_cvtne2ps_pbh(hi, lo);
                int npairs = kc2 - kp < 16 ? kc2 - kp : 16;
                _mm512_mask_i32scatter_epi32(d + (size_t)kp * MR, (__mmask16)((1u << npairs) - 1u), idx, pairs, 4);
            }
        }
}

/* ---------------------------------------------------------------- micro-kernels */

/* C tile [mr, nr] (+)= Ap [kc2][MR] pairs x Bp [kc2][32][2]. load_c: add to C's current value;
 * bias: added once (first k slice). */
__attribute__((target("avx512f,avx512bw,avx512bf16"))) static void ukernel_avx512(int kc2, const uint32_t *Ap,
                                                                                  const uint16_t *Bp, float *C, int ldc,
                                                                                  int mr, int nr, const float *bias,
                                                                                  bool load_c) {
    __m512 c[MR][2];
#pragma GCC unroll 12
    for (int r = 0; r < MR; r++) c[r][0] = c[r][1] = _mm512_setzero_ps();
    for (int kp = 0; kp < kc2; kp++) {
        __m512bh b0 = (__m512bh)_mm512_load_si512((const void *)(Bp + (size_t)kp * 64));
        __m512bh b1 = (__m512bh)_mm512_load_si512((const void *)(Bp + (size_t)kp * 64 + 32));
        const uint32_t *a = Ap + (size_t)kp * MR;
#pragma GCC unroll 12
        for (int r = 0; r < MR; r++) {
            __m512bh ar = (__m512bh)_mm512_set1_epi32((int)a[r]);
            c[r][0] = _mm512_dpbf16_ps(c[r][0], ar, b0);
            c[r][1] = _mm512_dpbf16_ps(c[r][1], ar, b1);
        }
    }
    for (int r = 0; r < mr; r++) lb_tile_store_row(C + (size_t)r * ldc, c[r][0], c[r][1], nr, bias, load_c);
}

/* Same contract, plain C (compilers vectorise the j loop). */
static void ukernel_portable(int kc2, const uint32_t *Ap, const uint16_t *Bp, float *C, int ldc, int mr, int nr,
                             const float *bias, bool load_c) {
    float acc[MR][NR];
    memset(acc, 0, sizeof acc);
    for (int kp = 0; kp < kc2; kp++) {
        const uint16_t *b = Bp + (size_t)kp * NR * 2;
        float b0[NR], b1[NR];
        for (int j = 0; j < NR; j++) {
            b0[j] = lb_bf16_to_f32(b[2 * j]);
            b1[j] = lb_bf16_to_f32(b[2 * j + 1]);
        }
        for (int r = 0; r < mr; r++) {
            uint32_t pr = Ap[(size_t)kp * MR + r];
            float a0 = lb_bf16_to_f32((uint16_t)(pr & 0xffffu)), a1 = lb_bf16_to_f32((uint16_t)(pr >> 16));
            for (int j = 0; j < NR; j++) acc[r][j] += a0 * b0[j] + a1 * b1[j];
        }
    }
    for (int r = 0; r < mr; r++) {
        float *c = C + (size_t)r * ldc;
        for (int j = 0; j < nr; j++) {
            float v = acc[r][j];
            if (bias) v += bias[j];
            c[j] = load_c ? c[j] + v : v;
        }
    }
}

/* ---------------------------------------------------------------- AMX */

/* Packs rows [0, mrows) x k [k0, k0 + 2*kc2) of A into dst [MC][KC] bf16 (row stride KC),
 * zero beyond mrows (up to the next 32 rows) and beyond K. */
__attribute__((target("avx512f,avx512bw,avx512bf16"))) static void pack_a_rows(const float *A, int lda, int mrows,
                                                                               int K, int k0, int kc2, uint16_t *dst) {
    int rows = (mrows + 31) / 32 * 32, kc = 2 * kc2;
    int kend = k0 + kc < K ? k0 + kc : K;
    for (int r = 0; r < rows; r++) {
        uint16_t *d = dst + (size_t)r * KC;
        if (r >= mrows) {
            memset(d, 0, sizeof(uint16_t) * kc);
            continue;
        }
        const float *a = A + (size_t)r * lda;
        for (int j = 0; j < kc; j += 32) { /* kc is a multiple of 32 (weights padded to KALIGN) */
            int left = kend - (k0 + j);
            __m512 lo, hi;
            if (left >= 32) {
                lo = _mm512_loadu_ps(a + k0 + j);
                hi = _mm512_loadu_ps(a + k0 + j + 16);
            } else {
                int nlo = left < 0 ? 0 : (left < 16 ? left : 16), nhi = left > 16 ? left - 16 : 0;
                lo = _mm512_maskz_loadu_ps((__mmask16)((1u << nlo) - 1u), a + k0 + j);
                hi = _mm512_maskz_loadu_ps((__mmask16)((1u << nhi) - 1u), a + k0 + j + 16);
            }
            _mm512_storeu_si512((void *)(d + j), (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
        }
    }
}

/* Tiles (kernels/amx_tiles.h): every tile 16 rows x 64 bytes: C 16x16 fp32, A 16 rows x 32 bf16, B 16 k-pairs x 32 bf16. */

/* C tile [mr <= 32, nr <= 32] (+)= Ap [32 rows][KC stride] x Bp (weight panel slice, kc2 pairs).
 * Accumulators tmm0-3 (2x2 tiles of 16x16), A tmm4-5, B tmm6-7. */
__attribute__((target("amx-tile,amx-bf16,avx512f"))) static void ukernel_amx(int kc2, const uint16_t *Ap,
                                                                             const uint16_t *Bp, float *C, int ldc,
                                                                             int mr, int nr, const float *bias,
                                                                             bool load_c) {
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    for (int kk = 0; kk < kc2; kk += 16) {
        _tile_loadd(4, Ap + 2 * kk, KC * 2);
        _tile_loadd(5, Ap + (size_t)16 * KC + 2 * kk, KC * 2);
        _tile_loadd(6, Bp + (size_t)kk * 64, 128);
        _tile_loadd(7, Bp + (size_t)kk * 64 + 32, 128);
        _tile_dpbf16ps(0, 4, 6);
        _tile_dpbf16ps(1, 4, 7);
        _tile_dpbf16ps(2, 5, 6);
        _tile_dpbf16ps(3, 5, 7);
    }
    float t[32][32] __attribute__((aligned(64)));
    _tile_stored(0, &t[0][0], 128);
    _tile_stored(1, &t[0][16], 128);
    _tile_stored(2, &t[16][0], 128);
    _tile_stored(3, &t[16][16], 128);
    for (int r = 0; r < mr; r++)
        lb_tile_store_row(C + (size_t)r * ldc, _mm512_load_ps(&t[r][0]), _mm512_load_ps(&t[r][16]), nr, bias, load_c);
}

/* ---------------------------------------------------------------- driver */

void lb_gemm_bf16(const float *A, int M, int lda, const lb_bf16_weight *W, const float *bias, bool accumulate, float *C,
                  int ldc) {
    if (M <= 0) return;
    const int N = W->N, K = W->K, kpairs = W->Kp / 2, npanels = W->npanels;
    const lb_bf16_path path = lb_gemm_bf16_path();
    const int mblocks = (M + MC - 1) / MC;
    const double flops = 2.0 * M * N * K;
    const int nthreads = flops > 2e6 ? omp_get_max_threads() : 1;
    /* Enough work items to feed every thread: split the columns when rows are few. */
    int nsplit = 1;
    if (mblocks < 2 * nthreads) nsplit = (2 * nthreads + mblocks - 1) / mblocks;
    if (nsplit > npanels) nsplit = npanels;
    const int items = mblocks * nsplit;

#pragma omp parallel num_threads(nthreads)
    {
        /* This thread's packed A block, on its stack (72 KiB): no allocation, no failure path.
         * AVX512/portable: [MC/MR][KC/2][MR] pairs; AMX: [MC][KC] bf16 (the same bytes). */
        uint32_t abuf[(MC / MR) * (KC / 2) * MR] __attribute__((aligned(64)));
        if (path == LB_BF16_AMX) lb_amx_tiles_begin();
#pragma omp for schedule(dynamic, 1)
        for (int it = 0; it < items; it++) {
            int mb = it / nsplit, ns = it % nsplit;
            int m0 = mb * MC, mrows = M - m0 < MC ? M - m0 : MC;
            int p0 = (int)((long)npanels * ns / nsplit), p1 = (int)((long)npanels * (ns + 1) / nsplit);
            const float *Ab = A + (size_t)m0 * lda;
            for (int kp0 = 0; kp0 < kpairs; kp0 += KC / 2) {
                int kc2 = kpairs - kp0 < KC / 2 ? kpairs - kp0 : KC / 2;
                bool first = kp0 == 0, load_c = !first || accumulate;
                if (path == LB_BF16_AMX) pack_a_rows(Ab, lda, mrows, K, 2 * kp0, kc2, (uint16_t *)abuf);
                else if (path == LB_BF16_AVX512) pack_a_avx512(Ab, lda, mrows, K, 2 * kp0, kc2, abuf);
                else pack_a_portable(Ab, lda, mrows, K, 2 * kp0, kc2, abuf);
                for (int p = p0; p < p1; p++) {
                    const uint16_t *Bp = W->data + ((size_t)p * kpairs + kp0) * NR * 2;
                    int n0 = p * NR, nr = N - n0 < NR ? N - n0 : NR;
                    const float *bp = first && bias ? bias + n0 : NULL;
                    if (path == LB_BF16_AMX) {
                        for (int r0 = 0; r0 < mrows; r0 += 32)
                            ukernel_amx(kc2, (const uint16_t *)abuf + (size_t)r0 * KC, Bp,
                                        C + (size_t)(m0 + r0) * ldc + n0, ldc, mrows - r0 < 32 ? mrows - r0 : 32, nr,
                                        bp, load_c);
                        continue;
                    }
                    for (int r0 = 0, mp = 0; r0 < mrows; r0 += MR, mp++) {
                        int mr = mrows - r0 < MR ? mrows - r0 : MR;
                        float *Ct = C + (size_t)(m0 + r0) * ldc + n0;
                        const uint32_t *Ap = abuf + (size_t)mp * kc2 * MR;
                        if (path == LB_BF16_AVX512) ukernel_avx512(kc2, Ap, Bp, Ct, ldc, mr, nr, bp, load_c);
                        else ukernel_portable(kc2, Ap, Bp, Ct, ldc, mr, nr, bp, load_c);
                    }
                }
            }
        }
        if (path == LB_BF16_AMX) lb_amx_tiles_end();
    }
}

/* ---------------------------------------------------------------- reference */

void lb_gemm_bf16_ref(const float *A, int M, int lda, const float *W, int N, int K, bool trans, const float *bias,
                      bool accumulate, float *C, int ldc) {
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            float s = 0.0f;
            for (int k = 0; k < K; k++) {
                float w = trans ? W[(size_t)k * N + n] : W[(size_t)n * K + k];
                s += lb_bf16_to_f32(lb_f32_to_bf16(A[(size_t)m * lda + k])) * lb_bf16_to_f32(lb_f32_to_bf16(w));
            }
            if (bias) s += bias[n];
            float *c = &C[(size_t)m * ldc + n];
            *c = accumulate ? *c + s : s;
        }
}
