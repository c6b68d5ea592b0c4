/* Tests for src/kernels/gemm_int8: the quantization rule, weight packing, and the AMX-INT8,
 * AVX512-VNNI, AVX2 and portable kernels: integer results EXACT against an int64 loop, outputs
 * bitwise equal to the reference, row independence and thread-count independence, on shapes with
 * ragged edges in every dimension. A kernel this CPU lacks is a skip, never a failure. */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include "base/rng.h"
#include "kernels/cpu.h"
#include "kernels/gemm_int8.h"

/* The rule, written again from the header's words: scale = max|x| / 127,
 * q = clamp(rint(x * (127 / max)), -127, 127). */
static float rule(const float *x, int K, int8_t *q) {
    float m = 0;
    for (int k = 0; k < K; k++) m = fmaxf(m, fabsf(x[k]));
    if (m < 0x1p-100f) {
        memset(q, 0, (size_t)K);
        return 0;
    }
    float inv = 127.0f / m;
    for (int k = 0; k < K; k++) {
        float v = rintf(x[k] * inv);
        q[k] = (int8_t)fmaxf(-127.0f, fminf(127.0f, v));
    }
    return m / 127.0f;
}

static void fill(lb_rng *r, float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = (float)lb_rng_normal(r) * (lb_rng_below(r, 8) == 0 ? 30.0f : 1.0f);
}

Test(int8, quantize_row_follows_the_rule) {
    float x[5] = {1.0f, -2.0f, 0.5f, 254.0f, -254.0f};
    int8_t q[5];
    float s = lb_int8_quantize_row(x, 5, q);
    cr_assert_eq(s, 2.0f);
    cr_assert(q[0] == 0 && q[1] == -1 && q[2] == 0 && q[3] == 127 && q[4] == -127, "%d %d %d %d %d", q[0], q[1], q[2],
              q[3], q[4]);
    float ties[3] = {127.0f, 0.5f, 1.5f}; /* scale 1: 0.5 -> 0, 1.5 -> 2 (nearest even) */
    lb_int8_quantize_row(ties, 3, q);
    cr_assert(q[0] == 127 && q[1] == 0 && q[2] == 2, "%d %d %d", q[0], q[1], q[2]);
    float z[3] = {0, -0.0f, 1e-35f};
    cr_assert_eq(lb_int8_quantize_row(z, 3, q), 0.0f, "a (near-)zero row has scale 0");
    cr_assert(!q[0] && !q[1] && !q[2]);
    float bad[3] = {1.0f, NAN, 2.0f};
    cr_assert(isnan(lb_int8_quantize_row(bad, 3, q)), "NaN row -> NaN scale");
    float inf[20] = {0};
    int8_t q20[20];
    inf[17] = -INFINITY;
    cr_assert(isnan(lb_int8_quantize_row(inf, 20, q20)), "inf in the masked tail -> NaN scale");
    /* Random rows of every length up to 70 (the vector path's tails): equal to the rule. */
    lb_rng r;
    lb_rng_seed(&r, 7);
    for (int K = 1; K <= 70; K++) {
        float a[70];
        int8_t q1[70], q2[70];
        fill(&r, a, (size_t)K);
        float s1 = lb_int8_quantize_row(a, K, q1), s2 = rule(a, K, q2);
        cr_assert_eq(s1, s2, "K=%d scale", K);
        cr_assert_eq(memcmp(q1, q2, (size_t)K), 0, "K=%d values", K);
    }
}

Test(int8, pack_rejects_bad_shapes_and_states_its_limit) {
    float w[4] = {0};
    lb_error e;
    cr_assert_null(lb_int8_weight_pack(w, 0, 4, &e));
    cr_assert_eq(e.code, LB_ERR_USAGE);
    cr_assert_null(lb_int8_weight_pack(NULL, 2, 2, &e));
    float *big = calloc(LB_INT8_MAX_K + 1, sizeof(float));
    cr_assert_null(lb_int8_weight_pack(big, 1, LB_INT8_MAX_K + 1, &e));
    cr_assert_eq(e.code, LB_ERR_UNSUPPORTED);
    cr_assert(strstr(e.msg, "4096"), "%s", e.msg);
    free(big);
}

Test(int8, weights_are_quantized_per_output_channel) {
    const int N = 37, K = 70;
    lb_rng r;
    lb_rng_seed(&r, 3);
    float *W = malloc(sizeof(float) * N * K);
    fill(&r, W, (size_t)N * K);
    for (int k = 0; k < K; k++) W[5 * K + k] = 0; /* a zero channel */
    lb_error e;
    lb_int8_weight *pw = lb_int8_weight_pack(W, N, K, &e);
    cr_assert_not_null(pw, "%s", e.msg);
    int8_t q[70];
    for (int n = 0; n < N; n++) {
        float s = rule(W + (size_t)n * K, K, q);
        cr_assert_eq(lb_int8_weight_scale(pw, n), s, "scale of channel %d", n);
        for (int k = 0; k < K; k++) cr_assert_eq(lb_int8_weight_at(pw, n, k), q[k], "W[%d,%d]", n, k);
    }
    cr_assert_eq(lb_int8_weight_scale(pw, 5), 0.0f);
    lb_int8_weight_free(pw);
    free(W);
}

typedef struct {
    int M, N, K;
} shape;

/* Edges: 1x1x1; below one tile; N just past a 32-column panel; M past 8, 16 and 32 rows; K past
 * one 64-deep AMX tile; model shapes (MiniLM: 384 -> 384, 384 -> 1536, 1536 -> 384); the K limit. */
static const shape shapes[] = {{1, 1, 1},     {5, 3, 7},      {8, 32, 64},     {13, 33, 65},    {17, 31, 130},
                               {33, 65, 257}, {64, 384, 384}, {70, 100, 1536}, {40, 1536, 384}, {3, 40, LB_INT8_MAX_K}};
#define NSHAPES ((int)(sizeof shapes / sizeof shapes[0]))

static void require(lb_int8_path p) {
    bool ok = lb_gemm_int8_set_path(p);
    lb_gemm_int8_set_path(LB_INT8_AUTO);
    if (!ok) cr_skip_test("int8 kernel %s not available on this CPU", lb_gemm_int8_path_name(p));
}

/* Integer core: random int8 in [-127, 127], plus the extreme case (every product 127 x -127 at
 * the K limit), against an int64 loop: exact. */
static void exact_integers(lb_int8_path path) {
    require(path);
    lb_rng r;
    lb_rng_seed(&r, 11);
    for (int si = 0; si <= NSHAPES; si++) {
        bool extreme = si == NSHAPES;
        shape s = extreme ? (shape){35, 33, LB_INT8_MAX_K} : shapes[si];
        const int M = s.M, N = s.N, K = s.K, ldq = K + 3, ldc = N + 5;
        float *W = malloc(sizeof(float) * (size_t)N * K);
        int8_t *Aq = malloc((size_t)M * ldq);
        int32_t *C = malloc(sizeof(int32_t) * (size_t)M * ldc);
        for (size_t i = 0; i < (size_t)N * K; i++)
            W[i] = extreme ? -1.0f : (float)((int)lb_rng_below(&r, 255) - 127); /* scale 1: q = W */
        for (size_t i = 0; i < (size_t)M * ldq; i++) Aq[i] = extreme ? 127 : (int8_t)((int)lb_rng_below(&r, 255) - 127);
        for (size_t i = 0; i < (size_t)M * ldc; i++) C[i] = 0x5a5a5a5a;
        lb_error e;
        lb_int8_weight *pw = lb_int8_weight_pack(W, N, K, &e);
        cr_assert_not_null(pw, "%s", e.msg);
        cr_assert(lb_gemm_int8_set_path(path));
        lb_gemm_int8_s32(Aq, M, ldq, pw, C, ldc);
        lb_gemm_int8_set_path(LB_INT8_AUTO);
        for (int m = 0; m < M; m++) {
            for (int n = 0; n < N; n++) {
                int64_t want = 0;
                for (int k = 0; k < K; k++) want += (int64_t)Aq[(size_t)m * ldq + k] * lb_int8_weight_at(pw, n, k);
                cr_assert_eq((int64_t)C[(size_t)m * ldc + n], want, "%s M=%d N=%d K=%d: C[%d,%d]",
                             lb_gemm_int8_path_name(path), M, N, K, m, n);
            }
            for (int n = N; n < ldc; n++) cr_assert_eq(C[(size_t)m * ldc + n], 0x5a5a5a5a, "wrote past N");
        }
        lb_int8_weight_free(pw);
        free(W);
        free(Aq);
        free(C);
    }
}

/* Float API: bitwise equal to the reference (so to every other path), with and without bias. */
static void bitwise_reference(lb_int8_path path) {
    require(path);
    lb_rng r;
    lb_rng_seed(&r, 5);
    for (int si = 0; si < NSHAPES; si++) {
        const int M = shapes[si].M, N = shapes[si].N, K = shapes[si].K, lda = K + 3, ldc = N + 5;
        float *A = malloc(sizeof(float) * (size_t)M * lda), *W = malloc(sizeof(float) * (size_t)N * K);
        float *bias = malloc(sizeof(float) * N), *C = malloc(sizeof(float) * (size_t)M * ldc);
        float *Cref = malloc(sizeof(float) * (size_t)M * ldc);
        fill(&r, A, (size_t)M * lda);
        fill(&r, W, (size_t)N * K);
        fill(&r, bias, (size_t)N);
        if (M > 2)
            for (int k = 0; k < K; k++) A[(size_t)1 * lda + k] = 0; /* a zero row: bias only */
        lb_error e;
        lb_int8_weight *pw = lb_int8_weight_pack(W, N, K, &e);
        cr_assert_not_null(pw, "%s", e.msg);
        for (int b = 0; b < 2; b++) {
            for (size_t i = 0; i < (size_t)M * ldc; i++) C[i] = Cref[i] = -7.0f;
            cr_assert(lb_gemm_int8_set_path(path));
            lb_gemm_int8(A, M, lda, pw, b ? bias : NULL, C, ldc);
            lb_gemm_int8_set_path(LB_INT8_AUTO);
            lb_gemm_int8_ref(A, M, lda, pw, b ? bias : NULL, Cref, ldc);
            cr_assert_eq(memcmp(C, Cref, sizeof(float) * (size_t)M * ldc), 0, "%s M=%d N=%d K=%d bias=%d",
                         lb_gemm_int8_path_name(path), M, N, K, b);
        }
        lb_int8_weight_free(pw);
        free(A);
        free(W);
        free(bias);
        free(C);
        free(Cref);
    }
}

Test(int8, amx_exact) { exact_integers(LB_INT8_AMX); }
Test(int8, vnni_exact) { exact_integers(LB_INT8_VNNI); }
Test(int8, avx2_exact) { exact_integers(LB_INT8_AVX2); }
Test(int8, portable_exact) { exact_integers(LB_INT8_PORTABLE); }
Test(int8, amx_bitwise_reference) { bitwise_reference(LB_INT8_AMX); }
Test(int8, vnni_bitwise_reference) { bitwise_reference(LB_INT8_VNNI); }
Test(int8, avx2_bitwise_reference) { bitwise_reference(LB_INT8_AVX2); }
Test(int8, portable_bitwise_reference) { bitwise_reference(LB_INT8_PORTABLE); }

/* The reference against exact maths. Each operand is off by at most half its step (a: sa / 2,
 * w: sw / 2, up to the rounding of x * (127 / max), relative 2^-22 of 127, i.e. a step fraction
 * of 3e-5), so |sum a w - sum â ŵ| <= sum (|a| sw + |ŵ| sa) (1/2 + 3e-5); the epilogue adds
 * three fp32 roundings (int -> float, scale product, product) and one for the bias. */
Test(int8, reference_within_the_quantization_bound) {
    lb_rng r;
    lb_rng_seed(&r, 9);
    const int M = 9, N = 40, K = 300;
    float *A = malloc(sizeof(float) * M * K), *W = malloc(sizeof(float) * N * K), *bias = malloc(sizeof(float) * N);
    float *C = malloc(sizeof(float) * M * N);
    fill(&r, A, (size_t)M * K);
    fill(&r, W, (size_t)N * K);
    fill(&r, bias, (size_t)N);
    lb_error e;
    lb_int8_weight *pw = lb_int8_weight_pack(W, N, K, &e);
    cr_assert_not_null(pw, "%s", e.msg);
    lb_gemm_int8_ref(A, M, K, pw, bias, C, N);
    const double u = ldexp(1.0, -24);
    int8_t q[300];
    for (int m = 0; m < M; m++) {
        double sa = rule(A + (size_t)m * K, K, q);
        for (int n = 0; n < N; n++) {
            double sw = lb_int8_weight_scale(pw, n), exact = bias[n], bound = 0, deq = 0;
            for (int k = 0; k < K; k++) {
                double a = A[(size_t)m * K + k], wq = lb_int8_weight_at(pw, n, k) * sw;
                exact += a * W[(size_t)n * K + k];
                bound += (fabs(a) * sw + fabs(wq) * sa) * (0.5 + 3e-5);
                deq += (double)q[k] * lb_int8_weight_at(pw, n, k) * sa * sw;
            }
            bound += 4 * u * (fabs(deq) + fabs(bias[n])) + 4 * u * fabs(deq);
            double got = C[(size_t)m * N + n];
            cr_assert(fabs(got - exact) <= bound, "C[%d,%d] = %.9g, exact %.9g, bound %.3g", m, n, got, exact, bound);
        }
    }
    lb_int8_weight_free(pw);
    free(A);
    free(W);
    free(bias);
    free(C);
}

/* Each row alone equals that row inside a batch, bit for bit; so do 1 and 2 threads. */
Test(int8, rows_and_threads_are_independent) {
    const int M = 75, N = 96, K = 384;
    lb_rng r;
    lb_rng_seed(&r, 13);
    float *A = malloc(sizeof(float) * M * K), *W = malloc(sizeof(float) * N * K), *bias = malloc(sizeof(float) * N);
    float *C = malloc(sizeof(float) * M * N), *C1 = malloc(sizeof(float) * M * N), row[96];
    fill(&r, A, (size_t)M * K);
    fill(&r, W, (size_t)N * K);
    fill(&r, bias, (size_t)N);
    lb_error e;
    lb_int8_weight *pw = lb_int8_weight_pack(W, N, K, &e);
    cr_assert_not_null(pw, "%s", e.msg);
    int nt = omp_get_max_threads();
    omp_set_num_threads(2);
    lb_gemm_int8(A, M, K, pw, bias, C, N);
    omp_set_num_threads(1);
    lb_gemm_int8(A, M, K, pw, bias, C1, N);
    omp_set_num_threads(nt);
    cr_assert_eq(memcmp(C, C1, sizeof(float) * M * N), 0, "1 vs 2 threads");
    for (int m = 0; m < M; m++) {
        lb_gemm_int8(A + (size_t)m * K, 1, K, pw, bias, row, N);
        cr_assert_eq(memcmp(row, C + (size_t)m * N, sizeof row), 0, "row %d alone", m);
    }
    lb_int8_weight_free(pw);
    free(A);
    free(W);
    free(bias);
    free(C);
    free(C1);
}

Test(int8, non_finite_rows_give_nan_and_leave_others_alone) {
    const int N = 33, K = 50;
    float A[3 * 50], W[33 * 50], C[3 * 33], Cok[33];
    lb_rng r;
    lb_rng_seed(&r, 17);
    fill(&r, A, 150);
    fill(&r, W, (size_t)N * K);
    A[50 + 7] = INFINITY;
    lb_error e;
    lb_int8_weight *pw = lb_int8_weight_pack(W, N, K, &e);
    cr_assert_not_null(pw);
    lb_gemm_int8(A, 3, K, pw, NULL, C, N);
    lb_gemm_int8(A + 100, 1, K, pw, NULL, Cok, N);
    for (int n = 0; n < N; n++) cr_assert(isnan(C[N + n]), "row 1 holds inf: C[1,%d] = %g", n, C[N + n]);
    cr_assert_eq(memcmp(Cok, C + 2 * N, sizeof Cok), 0, "row 2 is unaffected");
    lb_int8_weight_free(pw);
}

Test(int8, auto_path_is_the_best_available) {
    lb_int8_path p = lb_gemm_int8_path();
    if (lb_cpu_has(LB_CPU_AMX_INT8)) cr_assert_eq(p, LB_INT8_AMX);
    else if (lb_cpu_has(LB_CPU_AVX512VNNI)) cr_assert_eq(p, LB_INT8_VNNI);
    else if (lb_cpu_has(LB_CPU_AVX2_FMA)) cr_assert_eq(p, LB_INT8_AVX2);
    else cr_assert_eq(p, LB_INT8_PORTABLE);
    cr_log_info("int8 kernel on this CPU: %s", lb_gemm_int8_path_name(p));
}
