/* int8 GEMM: quantization, packing, the AMX-INT8, AVX512-VNNI, AVX2 and portable integer
 * kernels, the blocked/threaded driver with its shared fp32 epilogue, and the reference loop.
 * See gemm_int8.h for the contract.
 *
 * Layout. Weight panel p (32 output columns): [Kp/4][32][4] int8, Kp = K rounded up to 64 (one
 * AMX tile depth): one 128-byte row per k-quad, each column's 4 consecutive k together, which
 * is the operand VPDPBUSD / VPMADDUBSW want per 32-bit lane, and, read with a 128-byte stride,
 * the AMX B tile (16 k-quads x 16 columns x 4) for columns 0-15 or 16-31. Per panel, each
 * column's scale and its sum of quantized values (the VNNI correction).
 * A block: up to 32 rows quantized into [32][Kp] int8 (row stride Kp), zero past the rows and
 * past K; the AMX A tile is 16 of its rows x 64 k. Padding is zero, so tails need no maths.
 * Blocking. A work item is (32-row block, range of panels): its rows are quantized once into
 * the thread's stack buffer, then each panel's full-depth integer tile is computed and
 * dequantized. Every path yields the exact integer dot product; the epilogue is one shared C
 * loop, so the outputs are bitwise equal across paths and thread counts. */
#define _GNU_SOURCE
#include "kernels/gemm_int8.h"
#include <float.h>
#include <immintrin.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include "kernels/amx_tiles.h"
#include "kernels/cpu.h"

#define NR 32     /* output columns per weight panel */
#define MB 32     /* rows per A block (two AMX tiles) */
#define KALIGN 64 /* k padding: one AMX tile depth */
#define TINY 0x1p-100f
_Static_assert(LB_INT8_MAX_K % KALIGN == 0, "the A buffer holds whole AMX tiles");

struct lb_int8_weight {
    int N, K, Kp, npanels;
    int8_t *data;    /* [npanels][Kp/4][NR][4] */
    float *scale;    /* [npanels * NR], 0 past N */
    int32_t *colsum; /* [npanels * NR], sum over k of the quantized column */
};

/* ---------------------------------------------------------------- kernel choice */

static int g_path = LB_INT8_AUTO;

static bool path_ok(lb_int8_path p) {
    switch (p) {
    case LB_INT8_AMX: return lb_cpu_has(LB_CPU_AMX_INT8);
    case LB_INT8_VNNI: return lb_cpu_has(LB_CPU_AVX512VNNI);
    case LB_INT8_AVX2: return lb_cpu_has(LB_CPU_AVX2_FMA);
    case LB_INT8_PORTABLE:
    case LB_INT8_AUTO: return true;
    default: return false;
    }
}

bool lb_gemm_int8_set_path(lb_int8_path path) {
    if (!path_ok(path)) return false;
    __atomic_store_n(&g_path, (int)path, __ATOMIC_RELAXED);
    return true;
}

lb_int8_path lb_gemm_int8_path(void) {
    int p = __atomic_load_n(&g_path, __ATOMIC_RELAXED);
    if (p != LB_INT8_AUTO) return (lb_int8_path)p;
    if (path_ok(LB_INT8_AMX)) return LB_INT8_AMX;
    if (path_ok(LB_INT8_VNNI)) return LB_INT8_VNNI;
    if (path_ok(LB_INT8_AVX2)) return LB_INT8_AVX2;
    return LB_INT8_PORTABLE;
}

const char *lb_gemm_int8_path_name(lb_int8_path p) {
    switch (p) {
    case LB_INT8_AMX: return "amx";
    case LB_INT8_VNNI: return "avx512vnni";
    case LB_INT8_AVX2: return "avx2";
    case LB_INT8_PORTABLE: return "portable";
    default: return "auto";
    }
}

/* ---------------------------------------------------------------- quantization */

/* The one rule, in plain C: scale = max|x| / 127, q = clamp(rint(x * (127 / max)), -127, 127). */
static float quantize_portable(const float *x, int K, int8_t *q) {
    float m = 0.0f;
    bool bad = false;
    for (int k = 0; k < K; k++) {
        float a = fabsf(x[k]);
        bad |= !(a <= FLT_MAX);
        m = a > m ? a : m;
    }
    if (bad || m < TINY) {
        memset(q, 0, (size_t)K);
        return bad ? NAN : 0.0f;
    }
    const float inv = 127.0f / m;
    for (int k = 0; k < K; k++) {
        long v = lrintf(x[k] * inv);
        q[k] = (int8_t)(v > 127 ? 127 : v < -127 ? -127 : v);
    }
    return m / 127.0f;
}

/* The same rule, 16 lanes at a time (VCVTPS2DQ rounds to nearest even like lrintf). */
__attribute__((target("avx512f"))) static float quantize_avx512(const float *x, int K, int8_t *q) {
    __m512 mx = _mm512_setzero_ps();
    __mmask16 bad = 0;
    const __m512 big = _mm512_set1_ps(FLT_MAX);
    for (int k = 0; k < K; k += 16) {
        __mmask16 mk = K - k >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (K - k)) - 1u);
        __m512 a = _mm512_abs_ps(_mm512_maskz_loadu_ps(mk, x + k));
        bad |= _mm512_cmp_ps_mask(a, big, _CMP_NLE_UQ);
        mx = _mm512_max_ps(mx, a);
    }
    float m = _mm512_reduce_max_ps(mx);
    if (bad || m < TINY) {
        memset(q, 0, (size_t)K);
        return bad ? NAN : 0.0f;
    }
    const __m512 inv = _mm512_set1_ps(127.0f / m);
    const __m512i hi = _mm512_set1_epi32(127), lo = _mm512_set1_epi32(-127);
    for (int k = 0; k < K; k += 16) {
        __mmask16 mk = K - k >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (K - k)) - 1u);
        __m512i v = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_maskz_loadu_ps(mk, x + k), inv));
        v = _mm512_min_epi32(_mm512_max_epi32(v, lo), hi);
        _mm512_mask_cvtsepi32_storeu_epi8(q + k, mk, v);
    }
    return m / 127.0f;
}

float lb_int8_quantize_row(const float *x, int K, int8_t *q) {
    if (K <= 0) return 0.0f;
    return lb_cpu_has(LB_CPU_AVX512F) ? quantize_avx512(x, K, q) : quantize_portable(x, K, q);
}

/* ---------------------------------------------------------------- weight packing */

lb_int8_weight *lb_int8_weight_pack(const float *W, int N, int K, lb_error *err) {
    if (!W || N <= 0 || K <= 0) {
        lb_err(err, LB_ERR_USAGE, "int8 weight pack: invalid shape [%d, %d]", N, K);
        return NULL;
    }
    if (K > LB_INT8_MAX_K) {
        lb_err(err, LB_ERR_UNSUPPORTED, "int8 weight pack: input size %d exceeds the int8 kernels' limit %d", K,
               LB_INT8_MAX_K);
        return NULL;
    }
    lb_int8_weight *w = calloc(1, sizeof *w);
    if (!w) {
        lb_err(err, LB_ERR_NOMEM, "int8 weight pack: out of memory");
        return NULL;
    }
    w->N = N;
    w->K = K;
    w->Kp = (K + KALIGN - 1) / KALIGN * KALIGN;
    w->npanels = (N + NR - 1) / NR;
    size_t cols = (size_t)w->npanels * NR, bytes = cols * (size_t)w->Kp;
    int8_t *rowq = malloc((size_t)N * K);
    w->data = aligned_alloc(64, (bytes + 63) / 64 * 64);
    w->scale = calloc(cols, sizeof(float));
    w->colsum = calloc(cols, sizeof(int32_t));
    if (!rowq || !w->data || !w->scale || !w->colsum) {
        free(rowq);
        lb_int8_weight_free(w);
        lb_err(err, LB_ERR_NOMEM, "int8 weight pack: cannot allocate %zu bytes for [%d, %d]", bytes, N, K);
        return NULL;
    }
    memset(w->data, 0, bytes);
    for (int n = 0; n < N; n++) w->scale[n] = quantize_portable(W + (size_t)n * K, K, rowq + (size_t)n * K);
    const int kq4 = w->Kp / 4;
    for (int n = 0; n < N; n++) {
        int8_t *dst = w->data + (size_t)(n / NR) * kq4 * NR * 4 + (size_t)(n % NR) * 4;
        int32_t s = 0;
        for (int k = 0; k < K; k++) {
            int8_t v = rowq[(size_t)n * K + k];
            dst[(size_t)(k / 4) * NR * 4 + k % 4] = v;
            s += v;
        }
        w->colsum[n] = s;
    }
    free(rowq);
    return w;
}

void lb_int8_weight_free(lb_int8_weight *w) {
    if (!w) return;
    free(w->data);
    free(w->scale);
    free(w->colsum);
    free(w);
}

int8_t lb_int8_weight_at(const lb_int8_weight *w, int n, int k) {
    return w->data[(size_t)(n / NR) * (w->Kp / 4) * NR * 4 + (size_t)(k / 4) * NR * 4 + (size_t)(n % NR) * 4 + k % 4];
}

float lb_int8_weight_scale(const lb_int8_weight *w, int n) { return w->scale[n]; }

/* ---------------------------------------------------------------- integer kernels */

/* acc[r][j] = sum over k < 4 * kq4 of Ab[r * ks + k] * panel column j, for r < rows (rows of Ab
 * up to the next multiple of 8 (AVX512), 2 (AVX2) or 16 (AMX) exist and are zero). */
typedef int32_t acc_tile[MB][NR];

static void kern_portable(const int8_t *Ab, int ks, int rows, const int8_t *Bp, int kq4, const int32_t *colsum,
                          acc_tile acc) {
    (void)colsum;
    for (int r = 0; r < rows; r++) {
        int32_t s[NR] = {0};
        const int8_t *a = Ab + (size_t)r * ks;
        for (int kq = 0; kq < kq4; kq++) {
            const int8_t *b = Bp + (size_t)kq * NR * 4;
            for (int j = 0; j < NR; j++)
                for (int t = 0; t < 4; t++) s[j] += (int32_t)a[4 * kq + t] * b[4 * j + t];
        }
        memcpy(acc[r], s, sizeof s);
    }
}

static inline uint32_t load4(const int8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* VPDPBUSD wants u8 x s8: a + 128 (a XOR 0x80) as u8, then subtract 128 x the column sum. */
__attribute__((target("avx512f,avx512bw,avx512vnni"))) static void
kern_vnni(const int8_t *Ab, int ks, int rows, const int8_t *Bp, int kq4, const int32_t *colsum, acc_tile acc) {
    const __m512i corr0 = _mm512_slli_epi32(_mm512_loadu_si512((const void *)colsum), 7);
    const __m512i corr1 = _mm512_slli_epi32(_mm512_loadu_si512((const void *)(colsum + 16)), 7);
    for (int r0 = 0; r0 < rows; r0 += 8) {
        __m512i c[8][2];
#pragma GCC unroll 8
        for (int i = 0; i < 8; i++) c[i][0] = c[i][1] = _mm512_setzero_si512();
        const int8_t *a = Ab + (size_t)r0 * ks;
        for (int kq = 0; kq < kq4; kq++) {
            __m512i b0 = _mm512_load_si512((const void *)(Bp + (size_t)kq * 128));
            __m512i b1 = _mm512_load_si512((const void *)(Bp + (size_t)kq * 128 + 64));
#pragma GCC unroll 8
            for (int i = 0; i < 8; i++) {
                __m512i ai = _mm512_set1_epi32((int)(load4(a + (size_t)i * ks + 4 * kq) ^ 0x80808080u));
                c[i][0] = _mm512_dpbusd_epi32(c[i][0], ai, b0);
                c[i][1] = _mm512_dpbusd_epi32(c[i][1], ai, b1);
            }
        }
        for (int i = 0; i < 8 && r0 + i < rows; i++) {
            _mm512_storeu_si512((void *)&acc[r0 + i][0], _mm512_sub_epi32(c[i][0], corr0));
            _mm512_storeu_si512((void *)&acc[r0 + i][16], _mm512_sub_epi32(c[i][1], corr1));
        }
    }
}

/* VPMADDUBSW(|a|, sign(a) w): both in [-127, 127], so a pair sums to at most 2 x 127^2 < 2^15 and
 * never saturates; VPMADDWD with ones then adds the pairs into the 32-bit lane of the column. */
__attribute__((target("avx2"))) static void kern_avx2(const int8_t *Ab, int ks, int rows, const int8_t *Bp, int kq4,
                                                      const int32_t *colsum, acc_tile acc) {
    (void)colsum;
    const __m256i ones = _mm256_set1_epi16(1);
    for (int r0 = 0; r0 < rows; r0 += 2) {
        __m256i c[2][4];
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 4; j++) c[i][j] = _mm256_setzero_si256();
        for (int kq = 0; kq < kq4; kq++) {
            __m256i b[4];
            for (int j = 0; j < 4; j++) b[j] = _mm256_load_si256((const __m256i *)(Bp + (size_t)kq * 128 + 32 * j));
            for (int i = 0; i < 2; i++) {
                __m256i ai = _mm256_set1_epi32((int)load4(Ab + (size_t)(r0 + i) * ks + 4 * kq));
                __m256i ax = _mm256_abs_epi8(ai);
                for (int j = 0; j < 4; j++) {
                    __m256i p = _mm256_maddubs_epi16(ax, _mm256_sign_epi8(b[j], ai));
                    c[i][j] = _mm256_add_epi32(c[i][j], _mm256_madd_epi16(p, ones));
                }
            }
        }
        for (int i = 0; i < 2 && r0 + i < rows; i++)
            for (int j = 0; j < 4; j++) _mm256_storeu_si256((__m256i *)&acc[r0 + i][8 * j], c[i][j]);
    }
}

/* Tiles (kernels/amx_tiles.h): every tile 16 rows x 64 bytes: C 16x16 int32, A 16 rows x 64 int8, B 16 k-quads x 16 cols x 4. */

/* TDPBSSD: s8 x s8 straight, no correction. Accumulators tmm0-3, A tmm4-5, B tmm6-7. */
__attribute__((target("amx-tile,amx-int8"))) static void kern_amx(const int8_t *Ab, int ks, int rows, const int8_t *Bp,
                                                                  int kq4, const int32_t *colsum, acc_tile acc) {
    (void)colsum;
    _tile_zero(0);
    _tile_zero(1);
    if (rows > 16) {
        _tile_zero(2);
        _tile_zero(3);
        for (int kk = 0; kk < kq4; kk += 16) {
            _tile_loadd(4, Ab + 4 * kk, ks);
            _tile_loadd(5, Ab + (size_t)16 * ks + 4 * kk, ks);
            _tile_loadd(6, Bp + (size_t)kk * 128, 128);
            _tile_loadd(7, Bp + (size_t)kk * 128 + 64, 128);
            _tile_dpbssd(0, 4, 6);
            _tile_dpbssd(1, 4, 7);
            _tile_dpbssd(2, 5, 6);
            _tile_dpbssd(3, 5, 7);
        }
        _tile_stored(2, &acc[16][0], NR * 4);
        _tile_stored(3, &acc[16][16], NR * 4);
    } else {
        for (int kk = 0; kk < kq4; kk += 16) {
            _tile_loadd(4, Ab + 4 * kk, ks);
            _tile_loadd(6, Bp + (size_t)kk * 128, 128);
            _tile_loadd(7, Bp + (size_t)kk * 128 + 64, 128);
            _tile_dpbssd(0, 4, 6);
            _tile_dpbssd(1, 4, 7);
        }
    }
    _tile_stored(0, &acc[0][0], NR * 4);
    _tile_stored(1, &acc[0][16], NR * 4);
}

/* ---------------------------------------------------------------- driver */

/* C (float, with scales and bias) or C32 (the integer tile) from A (float, quantized here) or
 * Aq (already int8). */
static void drive(const float *A, const int8_t *Aq, int M, int lda, const lb_int8_weight *W, const float *bias,
                  float *C, int32_t *C32, int ldc) {
    if (M <= 0) return;
    const int N = W->N, K = W->K, Kp = W->Kp, kq4 = Kp / 4, npanels = W->npanels;
    const lb_int8_path path = lb_gemm_int8_path();
    const int mblocks = (M + MB - 1) / MB;
    const int nthreads = 2.0 * M * N * K > 2e6 ? omp_get_max_threads() : 1;
    int nsplit = 1;
    if (mblocks < 2 * nthreads) nsplit = (2 * nthreads + mblocks - 1) / mblocks;
    if (nsplit > npanels) nsplit = npanels;
    const int items = mblocks * nsplit;
    void (*kern)(const int8_t *, int, int, const int8_t *, int, const int32_t *, acc_tile) =
        path == LB_INT8_AMX    ? kern_amx
        : path == LB_INT8_VNNI ? kern_vnni
        : path == LB_INT8_AVX2 ? kern_avx2
                               : kern_portable;

#pragma omp parallel num_threads(nthreads)
    {
        /* This thread's quantized A block (128 KiB at K = LB_INT8_MAX_K) and integer tile, on its
         * stack: no allocation, no failure path. */
        int8_t abuf[MB * LB_INT8_MAX_K] __attribute__((aligned(64)));
        int32_t acc[MB][NR] __attribute__((aligned(64)));
        float sa[MB];
        if (path == LB_INT8_AMX) lb_amx_tiles_begin();
#pragma omp for schedule(dynamic, 1)
        for (int it = 0; it < items; it++) {
            int mb = it / nsplit, ns = it % nsplit;
            int m0 = mb * MB, mrows = M - m0 < MB ? M - m0 : MB;
            int p0 = (int)((long)npanels * ns / nsplit), p1 = (int)((long)npanels * (ns + 1) / nsplit);
            int rows_alloc = (mrows + 15) / 16 * 16;
            for (int r = 0; r < rows_alloc; r++) {
                int8_t *q = abuf + (size_t)r * Kp;
                if (r >= mrows) {
                    memset(q, 0, (size_t)Kp);
                    continue;
                }
                if (A) sa[r] = lb_int8_quantize_row(A + (size_t)(m0 + r) * lda, K, q);
                else memcpy(q, Aq + (size_t)(m0 + r) * lda, (size_t)K);
                memset(q + K, 0, (size_t)(Kp - K));
            }
            for (int p = p0; p < p1; p++) {
                const int8_t *Bp = W->data + (size_t)p * kq4 * NR * 4;
                int n0 = p * NR, nr = N - n0 < NR ? N - n0 : NR;
                kern(abuf, Kp, mrows, Bp, kq4, W->colsum + n0, acc);
                for (int r = 0; r < mrows; r++) {
                    if (!C) {
                        memcpy(C32 + (size_t)(m0 + r) * ldc + n0, acc[r], sizeof(int32_t) * (size_t)nr);
                        continue;
                    }
                    float *c = C + (size_t)(m0 + r) * ldc + n0;
                    const float *sw = W->scale + n0;
                    for (int j = 0; j < nr; j++) {
                        float s = sa[r] * sw[j];
                        float v = (float)acc[r][j] * s;
                        if (bias) v = v + bias[n0 + j];
                        c[j] = v;
                    }
                }
            }
        }
        if (path == LB_INT8_AMX) lb_amx_tiles_end();
    }
}

void lb_gemm_int8(const float *A, int M, int lda, const lb_int8_weight *W, const float *bias, float *C, int ldc) {
    drive(A, NULL, M, lda, W, bias, C, NULL, ldc);
}

void lb_gemm_int8_s32(const int8_t *Aq, int M, int ldaq, const lb_int8_weight *W, int32_t *C32, int ldc) {
    drive(NULL, Aq, M, ldaq, W, NULL, NULL, C32, ldc);
}

/* ---------------------------------------------------------------- reference */

void lb_gemm_int8_ref(const float *A, int M, int lda, const lb_int8_weight *W, const float *bias, float *C, int ldc) {
    const int N = W->N, K = W->K;
    int8_t q[LB_INT8_MAX_K]; /* K <= LB_INT8_MAX_K: lb_int8_weight_pack refuses more */
    for (int m = 0; m < M; m++) {
        float sa = quantize_portable(A + (size_t)m * lda, K, q);
        for (int n = 0; n < N; n++) {
            int64_t s = 0;
            for (int k = 0; k < K; k++) s += (int64_t)q[k] * lb_int8_weight_at(W, n, k);
            float sc = sa * W->scale[n];
            float v = (float)(int32_t)s * sc;
            if (bias) v = v + bias[n];
            C[(size_t)m * ldc + n] = v;
        }
    }
}
