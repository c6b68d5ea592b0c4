/* GEMM throughput at the model's shapes: lorabert's bf16 kernel (each path this CPU has: AMX,
 * AVX512-BF16, portable), its packed-weight fp32 kernel (f32packed) and its int8 kernel (int8_amx,
 * int8_avx512vnni, int8_avx2: per-row quantization of A, exact int32 sums, fp32 dequantization;
 * int8raw: the integer core alone on pre-quantized A), versus OpenBLAS sgemm (fp32) and, where
 * built with oneDNN (libdnnl-dev), oneDNN's matmul: onednn_f32, onednn_bf16 (A given already in
 * bf16), onednn_int8 (u8 A x s8 W -> s32, A given already quantized: compare with int8raw),
 * each with its weights reordered once into the layout oneDNN prefers. C[M,N] = A[M,K] x
 * W[N,K]^T, all OpenMP threads (wall clock), and on one thread timed by that thread's CPU clock,
 * which time spent descheduled does not inflate (a per-core figure that survives a shared
 * machine). Repeats alternate between the kernels so contention hits them alike.
 * Prints one JSON object: {"shapes": [{"M","N","K","sgemm_gflops","amx_gflops",
 * "avx512bf16_gflops","portable_gflops", ..., "onednn_int8_gflops", and the same with "_1t_cpu",
 * "onednn_impl": {kind: oneDNN's implementation name}}...]}, each [median, min, max] GFLOP/s
 * (int8: GOP/s). Re-executes itself with OPENBLAS_CORETYPE fixed (kernels.h) unless --no-blas-fix. */
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
#include "kernels/gemm_int8.h"
#include "kernels/kernels.h"
#ifdef LB_HAVE_DNNL
#include <dnnl.h>
#endif

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

enum {
    K_SGEMM,
    K_AMX,
    K_AVX512BF16,
    K_PORTABLE,
    K_F32PACKED,
    K_I8AMX,
    K_I8VNNI,
    K_I8AVX2,
    K_I8RAW,
    K_DNN_F32,
    K_DNN_BF16,
    K_DNN_I8,
    NK
};
static const char *const names[NK] = {"sgemm",     "amx",        "avx512bf16",      "portable",
                                      "f32packed", "int8_amx",   "int8_avx512vnni", "int8_avx2",
                                      "int8raw",   "onednn_f32", "onednn_bf16",     "onednn_int8"};

#ifdef LB_HAVE_DNNL
/* One oneDNN matmul: C [M,N] = A [M,K] x W^T, W given [N,K] row-major (a [K,N] "ba" matrix),
 * reordered once into the primitive's preferred weight layout. */
typedef struct dnn_mm {
    dnnl_primitive_t mm;
    dnnl_memory_t a, w, c;
    const char *impl;
} dnn_mm;

static dnnl_engine_t g_eng;
static dnnl_stream_t g_stream;

static bool dnn_make(dnn_mm *d, dnnl_data_type_t at, dnnl_data_type_t wt, dnnl_data_type_t ct, int M, int N, int K,
                     void *A, void *W, void *C) {
    memset(d, 0, sizeof *d);
    dnnl_memory_desc_t a_md, wu_md, wa_md, c_md;
    dnnl_dims_t ad = {M, K}, wd = {K, N}, cd = {M, N};
    dnnl_memory_desc_init_by_tag(&a_md, 2, ad, at, dnnl_ab);
    dnnl_memory_desc_init_by_tag(&wu_md, 2, wd, wt, dnnl_ba);
    dnnl_memory_desc_init_by_tag(&wa_md, 2, wd, wt, dnnl_format_tag_any);
    dnnl_memory_desc_init_by_tag(&c_md, 2, cd, ct, dnnl_ab);
    dnnl_matmul_desc_t desc;
    dnnl_primitive_desc_t pd, rpd;
    if (dnnl_matmul_desc_init(&desc, &a_md, &wa_md, NULL, &c_md) != dnnl_success ||
        dnnl_primitive_desc_create(&pd, &desc, NULL, g_eng, NULL) != dnnl_success)
        return false;
    const dnnl_memory_desc_t *wp = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    dnnl_memory_t wu;
    dnnl_primitive_t reorder;
    dnnl_memory_create(&wu, &wu_md, g_eng, W);
    dnnl_memory_create(&d->w, wp, g_eng, DNNL_MEMORY_ALLOCATE);
    dnnl_reorder_primitive_desc_create(&rpd, &wu_md, g_eng, wp, g_eng, NULL);
    dnnl_primitive_create(&reorder, rpd);
    dnnl_exec_arg_t rargs[2] = {{DNNL_ARG_FROM, wu}, {DNNL_ARG_TO, d->w}};
    dnnl_primitive_execute(reorder, g_stream, 2, rargs);
    dnnl_stream_wait(g_stream);
    dnnl_primitive_destroy(reorder);
    dnnl_primitive_desc_destroy(rpd);
    dnnl_memory_destroy(wu);
    dnnl_memory_create(&d->a, &a_md, g_eng, A);
    dnnl_memory_create(&d->c, &c_md, g_eng, C);
    const char *impl = NULL;
    dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl);
    d->impl = impl ? strdup(impl) : "?";
    bool ok = dnnl_primitive_create(&d->mm, pd) == dnnl_success;
    dnnl_primitive_desc_destroy(pd);
    return ok;
}

static void dnn_run(const dnn_mm *d) {
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, d->a}, {DNNL_ARG_WEIGHTS, d->w}, {DNNL_ARG_DST, d->c}};
    dnnl_primitive_execute(d->mm, g_stream, 3, args);
    dnnl_stream_wait(g_stream);
}

static void dnn_free(dnn_mm *d) {
    if (!d->mm) return;
    dnnl_primitive_destroy(d->mm);
    dnnl_memory_destroy(d->a);
    dnnl_memory_destroy(d->w);
    dnnl_memory_destroy(d->c);
}
#endif

typedef struct operands {
    int M, N, K;
    const float *A, *W;
    const lb_bf16_weight *pw;
    const lb_f32_weight *fw;
    const lb_int8_weight *iw;
    const int8_t *Aq; /* A quantized per row (int8raw) */
    int32_t *C32;
    float *C;
#ifdef LB_HAVE_DNNL
    dnn_mm dnn[3]; /* f32, bf16, int8 */
#endif
} operands;

static void one(int which, const operands *o) {
    static const lb_bf16_path bpath[] = {LB_BF16_AUTO, LB_BF16_AMX, LB_BF16_AVX512, LB_BF16_PORTABLE};
    static const lb_int8_path ipath[] = {LB_INT8_AMX, LB_INT8_VNNI, LB_INT8_AVX2};
    const int M = o->M, N = o->N, K = o->K;
    switch (which) {
    case K_SGEMM:
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, o->A, K, o->W, K, 0.0f, o->C, N);
        return;
    case K_AMX:
    case K_AVX512BF16:
    case K_PORTABLE:
        lb_gemm_bf16_set_path(bpath[which]);
        lb_gemm_bf16(o->A, M, K, o->pw, NULL, false, o->C, N);
        lb_gemm_bf16_set_path(LB_BF16_AUTO);
        return;
    case K_F32PACKED: lb_gemm_f32_packed(o->A, M, K, o->fw, NULL, false, o->C, N); return;
    case K_I8AMX:
    case K_I8VNNI:
    case K_I8AVX2:
        lb_gemm_int8_set_path(ipath[which - K_I8AMX]);
        lb_gemm_int8(o->A, M, K, o->iw, NULL, o->C, N);
        lb_gemm_int8_set_path(LB_INT8_AUTO);
        return;
    case K_I8RAW: lb_gemm_int8_s32(o->Aq, M, K, o->iw, o->C32, N); return;
#ifdef LB_HAVE_DNNL
    case K_DNN_F32:
    case K_DNN_BF16:
    case K_DNN_I8: dnn_run(&o->dnn[which - K_DNN_F32]); return;
#endif
    default: return;
    }
}

int main(int argc, char **argv) {
    int quick = 0, fix = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) quick = 1;
        else if (!strcmp(argv[i], "--no-blas-fix")) fix = 0; /* keep OpenBLAS's own kernel choice */
    }
    if (fix) lb_blas_reexec_if_slow(argv);
    int reps = quick ? 7 : 21;
    /* DistilBERT-base (768 / 3072) at a batch of tokens, 512, 128, 64 (b1 t64) and 16 rows, and
     * all-MiniLM-L6-v2 (384 / 1536) at 64 and 1024 rows. */
    const int shapes[][3] = {{1700, 768, 768}, {1700, 3072, 768}, {1700, 768, 3072}, {512, 768, 768},
                             {128, 768, 768},  {64, 768, 768},    {64, 3072, 768},   {64, 768, 3072},
                             {16, 768, 768},   {64, 384, 384},    {64, 1536, 384},   {64, 384, 1536},
                             {1024, 384, 384}, {1024, 1536, 384}, {1024, 384, 1536}};
    const int nshapes = (int)(sizeof shapes / sizeof shapes[0]);
    bool avail[NK] = {true,
                      lb_gemm_bf16_set_path(LB_BF16_AMX),
                      lb_gemm_bf16_set_path(LB_BF16_AVX512),
                      true,
                      lb_gemm_f32_available(),
                      lb_gemm_int8_set_path(LB_INT8_AMX),
                      lb_gemm_int8_set_path(LB_INT8_VNNI),
                      lb_gemm_int8_set_path(LB_INT8_AVX2),
                      true};
    lb_gemm_bf16_set_path(LB_BF16_AUTO);
    lb_gemm_int8_set_path(LB_INT8_AUTO);
#ifdef LB_HAVE_DNNL
    if (dnnl_engine_create(&g_eng, dnnl_cpu, 0) != dnnl_success ||
        dnnl_stream_create(&g_stream, g_eng, dnnl_stream_default_flags) != dnnl_success) {
        fprintf(stderr, "gemm_bench: oneDNN: no CPU engine\n");
        return 1;
    }
#endif
    lb_rng r;
    lb_rng_seed(&r, 1);
    printf("{\"threads\": %d, \"openblas_core\": \"%s\", \"shapes\": [", omp_get_max_threads(), lb_blas_corename());
    for (int s = 0; s < nshapes; s++) {
        int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        float *A = malloc(sizeof(float) * (size_t)M * K), *W = malloc(sizeof(float) * (size_t)N * K);
        float *C = malloc(sizeof(float) * (size_t)M * N);
        int32_t *C32 = malloc(sizeof(int32_t) * (size_t)M * N);
        int8_t *Aq = malloc((size_t)M * K);
        for (size_t i = 0; i < (size_t)M * K; i++) A[i] = lb_rng_uniform(&r) - 0.5f;
        for (size_t i = 0; i < (size_t)N * K; i++) W[i] = lb_rng_uniform(&r) - 0.5f;
        for (int m = 0; m < M; m++) lb_int8_quantize_row(A + (size_t)m * K, K, Aq + (size_t)m * K);
        lb_error e;
        operands o = {.M = M, .N = N, .K = K, .A = A, .W = W, .Aq = Aq, .C32 = C32, .C = C};
        lb_bf16_weight *pw = lb_bf16_weight_pack(W, N, K, false, &e);
        lb_int8_weight *iw = pw ? lb_int8_weight_pack(W, N, K, &e) : NULL;
        if (!pw || !iw) {
            fprintf(stderr, "gemm_bench: %s\n", e.msg);
            return 1;
        }
        lb_f32_weight *fw = avail[K_F32PACKED] ? lb_f32_weight_pack(W, N, K, false, &e) : NULL;
        o.pw = pw;
        o.fw = fw;
        o.iw = iw;
        bool av[NK];
        memcpy(av, avail, sizeof av);
#ifdef LB_HAVE_DNNL
        /* oneDNN's operands: A in bf16 / u8 (quantized A + 128), W in bf16 / s8 (our quantized W). */
        uint16_t *Ab = malloc(sizeof(uint16_t) * (size_t)M * K), *Wb = malloc(sizeof(uint16_t) * (size_t)N * K);
        uint8_t *Au = malloc((size_t)M * K);
        int8_t *Wq = malloc((size_t)N * K);
        float *Cd = malloc(sizeof(float) * (size_t)M * N);
        int32_t *Cd32 = malloc(sizeof(int32_t) * (size_t)M * N);
        for (size_t i = 0; i < (size_t)M * K; i++) {
            Ab[i] = lb_f32_to_bf16(A[i]);
            Au[i] = (uint8_t)(Aq[i] + 128);
        }
        for (int n = 0; n < N; n++)
            for (int k = 0; k < K; k++) {
                Wb[(size_t)n * K + k] = lb_f32_to_bf16(W[(size_t)n * K + k]);
                Wq[(size_t)n * K + k] = lb_int8_weight_at(iw, n, k);
            }
        av[K_DNN_F32] = dnn_make(&o.dnn[0], dnnl_f32, dnnl_f32, dnnl_f32, M, N, K, A, W, Cd);
        av[K_DNN_BF16] = dnn_make(&o.dnn[1], dnnl_bf16, dnnl_bf16, dnnl_f32, M, N, K, Ab, Wb, Cd);
        av[K_DNN_I8] = dnn_make(&o.dnn[2], dnnl_u8, dnnl_s8, dnnl_s32, M, N, K, Au, Wq, Cd32);
        if (av[K_DNN_I8]) { /* same integers: u8 = s8 + 128, so C_dnn - 128 colsum(W) = C_ours */
            dnn_run(&o.dnn[2]);
            lb_gemm_int8_s32(Aq, M, K, iw, C32, N);
            for (int n = 0; n < N; n++) {
                int32_t cs = 0;
                for (int k = 0; k < K; k++) cs += Wq[(size_t)n * K + k];
                for (int m = 0; m < M; m++)
                    if (Cd32[(size_t)m * N + n] - 128 * cs != C32[(size_t)m * N + n]) {
                        fprintf(stderr, "gemm_bench: oneDNN int8 and int8raw differ at [%d,%d]\n", m, n);
                        return 1;
                    }
            }
        }
#endif
        printf("%s\n  {\"M\": %d, \"N\": %d, \"K\": %d", s ? "," : "", M, N, K);
#ifdef LB_HAVE_DNNL
        printf(", \"onednn_impl\": {\"f32\": \"%s\", \"bf16\": \"%s\", \"int8\": \"%s\"}",
               av[K_DNN_F32] ? o.dnn[0].impl : "", av[K_DNN_BF16] ? o.dnn[1].impl : "",
               av[K_DNN_I8] ? o.dnn[2].impl : "");
#endif
        for (int mode = 0; mode < 2; mode++) { /* 0: all threads, wall; 1: one thread, its CPU time */
            int nt = omp_get_max_threads();
            if (mode == 1) {
                omp_set_num_threads(1);
                g_clock = CLOCK_THREAD_CPUTIME_ID;
            }
            double g[NK][64];
            for (int w = 0; w < NK; w++)
                if (av[w]) one(w, &o); /* warm-up */
            for (int rep = 0; rep < reps; rep++)
                for (int w = 0; w < NK; w++) {
                    if (!av[w] || (w == K_PORTABLE && rep >= 3)) continue; /* the portable kernel is slow: 3 runs */
                    double t0 = now();
                    one(w, &o);
                    g[w][rep] = 2.0 * M * N * K / (now() - t0) * 1e-9;
                }
            for (int w = 0; w < NK; w++) {
                const char *sfx = mode ? "_1t_cpu" : "";
                if (!av[w]) {
                    printf(", \"%s%s_gflops\": null", names[w], sfx);
                    continue;
                }
                int n = w == K_PORTABLE ? (reps < 3 ? reps : 3) : reps;
                qsort(g[w], n, sizeof g[w][0], cmp);
                printf(", \"%s%s_gflops\": [%.1f, %.1f, %.1f]", names[w], sfx, g[w][n / 2], g[w][0], g[w][n - 1]);
            }
            if (mode == 1) {
                omp_set_num_threads(nt);
                g_clock = CLOCK_MONOTONIC;
            }
        }
        printf("}");
        fflush(stdout);
#ifdef LB_HAVE_DNNL
        for (int i = 0; i < 3; i++) dnn_free(&o.dnn[i]);
        free(Ab);
        free(Wb);
        free(Au);
        free(Wq);
        free(Cd);
        free(Cd32);
#endif
        lb_bf16_weight_free(pw);
        lb_f32_weight_free(fw);
        lb_int8_weight_free(iw);
        free(A);
        free(W);
        free(C);
        free(C32);
        free(Aq);
    }
    printf("\n], \"note\": \"[median, min, max] GFLOP/s\"}\n");
    return 0;
}
