/* Tests for src/kernels/gemm_bf16: bf16 rounding, weight packing, the AMX, AVX512-BF16 and
 * portable kernels against the reference, on shapes with ragged edges in every dimension. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "base/rng.h"
#include "kernels/cpu.h"
#include "kernels/gemm_bf16.h"

static float f_of(uint32_t u) {
    float x;
    memcpy(&x, &u, 4);
    return x;
}

Test(bf16, rounding_is_nearest_even_with_denormals_flushed) {
    cr_assert_eq(lb_f32_to_bf16(1.0f), 0x3f80);
    cr_assert_eq(lb_f32_to_bf16(-2.0f), 0xc000);
    cr_assert_eq(lb_f32_to_bf16(f_of(0x3f808000u)), 0x3f80, "tie rounds to even (down)");
    cr_assert_eq(lb_f32_to_bf16(f_of(0x3f818000u)), 0x3f82, "tie rounds to even (up)");
    cr_assert_eq(lb_f32_to_bf16(f_of(0x3f808001u)), 0x3f81, "above the tie rounds up");
    cr_assert_eq(lb_f32_to_bf16(f_of(0x3f807fffu)), 0x3f80, "below the tie rounds down");
    cr_assert_eq(lb_f32_to_bf16(1e-40f), 0x0000, "denormal -> +0");
    cr_assert_eq(lb_f32_to_bf16(-1e-40f), 0x8000, "denormal -> -0");
    cr_assert_eq(lb_f32_to_bf16(INFINITY), 0x7f80);
    cr_assert_eq(lb_f32_to_bf16(-INFINITY), 0xff80);
    cr_assert_eq(lb_f32_to_bf16(f_of(0x7f7fffffu)), 0x7f80, "FLT_MAX rounds to +inf");
    uint16_t qn = lb_f32_to_bf16(f_of(0x7f800001u)); /* signalling NaN, payload in low bits */
    cr_assert(isnan(lb_bf16_to_f32(qn)) && (qn & 0x0040), "NaN stays a quiet NaN: %#x", qn);
    cr_assert_eq(lb_bf16_to_f32(0x3f80), 1.0f);
    cr_assert_eq(lb_bf16_to_f32(0xbfc0), -1.5f);
}

Test(bf16, pack_rejects_bad_shapes) {
    float w[4] = {0};
    lb_error e;
    cr_assert_null(lb_bf16_weight_pack(w, 0, 4, false, &e));
    cr_assert_eq(e.code, LB_ERR_USAGE);
    cr_assert_null(lb_bf16_weight_pack(w, 4, -1, false, &e));
    cr_assert_null(lb_bf16_weight_pack(NULL, 2, 2, false, &e));
}

static void fill(lb_rng *r, float *x, size_t n, bool small_exact) {
    for (size_t i = 0; i < n; i++) {
        if (small_exact) /* multiples of 1/8 in [-4, 4]: bf16-exact, and every partial sum is exact */
            x[i] = (float)((int)lb_rng_below(r, 65) - 32) / 8.0f;
        else x[i] = (float)lb_rng_normal(r) * (lb_rng_below(r, 8) == 0 ? 30.0f : 1.0f);
    }
}

typedef struct {
    int M, N, K;
} shape;

/* Runs the packed kernel and the reference on one case and checks every output against the
 * exact (double) result over bf16-rounded inputs. The bound is the classical one for recursive
 * fp32 summation, (K + 2) u sum|a w| (+ the |C0| and |bias| terms); with exact inputs the
 * result must match bit for bit. */
static void check_case(shape s, bool trans, bool use_bias, bool accumulate, lb_bf16_path path, bool exact,
                       uint64_t seed) {
    const int M = s.M, N = s.N, K = s.K, lda = K + 3, ldc = N + 5;
    lb_rng r;
    lb_rng_seed(&r, seed);
    float *A = malloc(sizeof(float) * (size_t)M * lda);
    float *W = malloc(sizeof(float) * (size_t)N * K);
    float *bias = malloc(sizeof(float) * N);
    float *C = malloc(sizeof(float) * (size_t)M * ldc);
    float *Cref = malloc(sizeof(float) * (size_t)M * ldc);
    fill(&r, A, (size_t)M * lda, exact);
    fill(&r, W, (size_t)N * K, exact);
    fill(&r, bias, N, exact);
    fill(&r, C, (size_t)M * ldc, exact);
    memcpy(Cref, C, sizeof(float) * (size_t)M * ldc);
    float *Cinit = malloc(sizeof(float) * (size_t)M * ldc); /* C before the call */
    memcpy(Cinit, C, sizeof(float) * (size_t)M * ldc);

    lb_error e;
    lb_bf16_weight *pw = lb_bf16_weight_pack(W, N, K, trans, &e);
    cr_assert_not_null(pw, "%s", e.msg);
    cr_assert(lb_gemm_bf16_set_path(path));
    lb_gemm_bf16(A, M, lda, pw, use_bias ? bias : NULL, accumulate, C, ldc);
    lb_gemm_bf16_set_path(LB_BF16_AUTO);
    lb_gemm_bf16_ref(A, M, lda, W, N, K, trans, use_bias ? bias : NULL, accumulate, Cref, ldc);

    const double u = ldexp(1.0, -24);
    for (int m = 0; m < M; m++) {
        for (int n = 0; n < N; n++) {
            double exact_v = 0, mag = 0;
            for (int k = 0; k < K; k++) {
                float w = trans ? W[(size_t)k * N + n] : W[(size_t)n * K + k];
                double p = (double)lb_bf16_to_f32(lb_f32_to_bf16(A[(size_t)m * lda + k])) *
                           (double)lb_bf16_to_f32(lb_f32_to_bf16(w));
                exact_v += p;
                mag += fabs(p);
            }
            if (use_bias) {
                exact_v += bias[n];
                mag += fabs(bias[n]);
            }
            if (accumulate) {
                exact_v += Cinit[(size_t)m * ldc + n];
                mag += fabs(Cinit[(size_t)m * ldc + n]);
            }
            double tol = exact ? 0.0 : (K + 4) * u * mag;
            double got = C[(size_t)m * ldc + n], ref = Cref[(size_t)m * ldc + n];
            cr_assert(fabs(got - exact_v) <= tol,
                      "M=%d N=%d K=%d trans=%d path %d: C[%d,%d]=%.9g, exact %.9g (tol %.3g)", M, N, K, trans,
                      (int)path, m, n, got, exact_v, tol);
            cr_assert(fabs(ref - exact_v) <= tol, "reference C[%d,%d]=%.9g, exact %.9g", m, n, ref, exact_v);
        }
        /* Columns past N (the ldc padding) are never written. */
        for (int n = N; n < ldc; n++)
            cr_assert_eq(C[(size_t)m * ldc + n], Cinit[(size_t)m * ldc + n], "wrote past N at [%d,%d]", m, n);
    }
    lb_bf16_weight_free(pw);
    free(A);
    free(W);
    free(bias);
    free(C);
    free(Cref);
    free(Cinit);
}

/* Edges: 1x1x1; below one micro-tile; odd K; N just past a 32-column panel; M past a 96-row block;
 * K past one 384-deep slice (and odd there); a model-like shape. */
static const shape shapes[] = {
    {1, 1, 1},     {5, 3, 7},      {12, 32, 2},    {13, 33, 17},  {11, 31, 385},
    {97, 65, 386}, {200, 40, 769}, {130, 100, 64}, {64, 768, 96},
};

/* Each kernel is its own test, so a kernel this CPU lacks is a skip (an AMD Zen 4 has
 * AVX512-BF16 but no AMX), never a failure or a silent pass. */
static void require(lb_bf16_path p) {
    bool ok = lb_gemm_bf16_set_path(p);
    lb_gemm_bf16_set_path(LB_BF16_AUTO);
    if (!ok) cr_skip_test("bf16 kernel %d not available on this CPU", (int)p);
}

static void within_fp32_bound(lb_bf16_path path, int pi) {
    require(path);
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        for (int trans = 0; trans < 2; trans++)
            check_case(shapes[i], trans, i % 2 == 0, i % 3 == 0, path, false, 100 + i * 7 + trans + 2 * pi);
}

static void exact_when_representable(lb_bf16_path path, int pi) {
    require(path);
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        for (int trans = 0; trans < 2; trans++)
            check_case(shapes[i], trans, true, i % 2 == 1, path, true, 900 + i * 7 + trans + 2 * pi);
}

Test(gemm_bf16, amx_matches_exact_sum_within_fp32_bound) { within_fp32_bound(LB_BF16_AMX, 0); }
Test(gemm_bf16, avx512bf16_matches_exact_sum_within_fp32_bound) { within_fp32_bound(LB_BF16_AVX512, 1); }
Test(gemm_bf16, portable_matches_exact_sum_within_fp32_bound) { within_fp32_bound(LB_BF16_PORTABLE, 2); }
Test(gemm_bf16, amx_exact_when_every_partial_sum_is_representable) { exact_when_representable(LB_BF16_AMX, 0); }
Test(gemm_bf16, avx512bf16_exact_when_every_partial_sum_is_representable) {
    exact_when_representable(LB_BF16_AVX512, 1);
}
Test(gemm_bf16, portable_exact_when_every_partial_sum_is_representable) {
    exact_when_representable(LB_BF16_PORTABLE, 2);
}

Test(gemm_bf16, auto_picks_an_available_kernel) {
    lb_gemm_bf16_set_path(LB_BF16_AUTO);
    lb_bf16_path p = lb_gemm_bf16_path();
    cr_assert_neq(p, LB_BF16_AUTO);
    cr_assert(lb_gemm_bf16_set_path(p), "auto chose path %d, which cannot be selected", (int)p);
    cr_assert(lb_gemm_bf16_set_path(LB_BF16_PORTABLE), "the portable kernel is always available");
    lb_gemm_bf16_set_path(LB_BF16_AUTO);
}

/* With K = N = 1 and W = 1 each output is exactly bf16(A[m]): checks the vectorised A conversion
 * (tie cases, denormals, infinities, NaN) against lb_f32_to_bf16 lane by lane. */
static void a_conversion(lb_bf16_path path) {
    require(path);
    const uint32_t bits[] = {0x3f808000u, 0x3f818000u, 0x3f808001u, 0x3f807fffu, 0x00000001u, 0x80700000u, 0x7f800000u,
                             0xff800000u, 0x7fc00000u, 0x41200000u, 0xc2f6e979u, 0x3eaaaaabu, 0x7f7fffffu, 0x33d6bf95u};
    const int M = (int)(sizeof bits / sizeof bits[0]);
    float A[sizeof bits / sizeof bits[0]], C[sizeof bits / sizeof bits[0]], one = 1.0f;
    for (int m = 0; m < M; m++) A[m] = f_of(bits[m]);
    lb_bf16_weight *pw = lb_bf16_weight_pack(&one, 1, 1, false, NULL);
    cr_assert_not_null(pw);
    lb_gemm_bf16_set_path(path);
    lb_gemm_bf16(A, M, 1, pw, NULL, false, C, 1);
    lb_gemm_bf16_set_path(LB_BF16_AUTO);
    for (int m = 0; m < M; m++) {
        float want = lb_bf16_to_f32(lb_f32_to_bf16(A[m]));
        if (isnan(want)) cr_assert(isnan(C[m]), "row %d: NaN expected, got %g", m, C[m]);
        else cr_assert(C[m] == want, "path %d row %d (%#x): got %.9g want %.9g", (int)path, m, bits[m], C[m], want);
    }
    lb_bf16_weight_free(pw);
}

Test(gemm_bf16, amx_a_conversion_matches_scalar_rounding) { a_conversion(LB_BF16_AMX); }
Test(gemm_bf16, avx512bf16_a_conversion_matches_scalar_rounding) { a_conversion(LB_BF16_AVX512); }
Test(gemm_bf16, portable_a_conversion_matches_scalar_rounding) { a_conversion(LB_BF16_PORTABLE); }

Test(gemm_bf16, empty_m_is_a_no_op) {
    float w[6] = {1, 2, 3, 4, 5, 6}, c = 42.0f;
    lb_bf16_weight *pw = lb_bf16_weight_pack(w, 2, 3, false, NULL);
    cr_assert_not_null(pw);
    lb_gemm_bf16(NULL, 0, 3, pw, NULL, false, &c, 2);
    cr_assert_eq(c, 42.0f);
    lb_bf16_weight_free(pw);
}

/* $LORABERT_CPU_DISABLE takes a path away as a CPU without it would (each Criterion test runs in
 * its own process, so the mask is read fresh here). */
Test(gemm_bf16, cpu_mask_takes_amx_away_like_a_zen4) {
    setenv("LORABERT_CPU_DISABLE", "amx", 1);
    cr_assert_not(lb_cpu_has(LB_CPU_AMX_BF16));
    cr_assert_not(lb_gemm_bf16_set_path(LB_BF16_AMX), "AMX selectable although masked");
    lb_gemm_bf16_set_path(LB_BF16_AUTO);
    cr_assert_neq(lb_gemm_bf16_path(), LB_BF16_AMX);
    cr_assert(lb_gemm_bf16_set_path(LB_BF16_PORTABLE));
    lb_gemm_bf16_set_path(LB_BF16_AUTO);
}

Test(gemm_bf16, cpu_mask_avx512_takes_its_extensions_away) {
    setenv("LORABERT_CPU_DISABLE", "avx2,avx512", 1);
    cr_assert_not(lb_cpu_has(LB_CPU_AVX512F));
    cr_assert_not(lb_cpu_has(LB_CPU_AVX512BF16));
    cr_assert_not(lb_cpu_has(LB_CPU_AMX_BF16));
    cr_assert_not(lb_cpu_has(LB_CPU_AVX512VNNI));
    cr_assert_not(lb_cpu_has(LB_CPU_AVX2_FMA));
    lb_gemm_bf16_set_path(LB_BF16_AUTO);
    cr_assert_eq(lb_gemm_bf16_path(), LB_BF16_PORTABLE);
}

Test(gemm_bf16, cpu_mask_unknown_names_are_ignored) {
    setenv("LORABERT_CPU_DISABLE", "sse9,,", 1);
    __builtin_cpu_init();
    cr_assert_eq(lb_cpu_has(LB_CPU_AVX512F), (bool)__builtin_cpu_supports("avx512f") &&
                                                 __builtin_cpu_supports("avx512bw") &&
                                                 __builtin_cpu_supports("avx512vl"));
}
