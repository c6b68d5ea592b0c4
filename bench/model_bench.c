/* Model speed benchmark: a full-size random DistilBERT (distilbert-base-uncased shape) with
 * LoRA r=4 on q_lin, B sequences of T real tokens; reports ms per forward (eval), per train
 * forward+backward, and the achieved GFLOP/s of the arithmetic actually executed.
 * Build + run from the repo root: make MODE=release lib && make -C bench && build/bench/model_bench [B] [T] [iters] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <sys/resource.h>
#include <unistd.h>
#include "kernels/kernels.h"
#include "model/model.h"

static double cpu(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    /* The recipe for programs: OpenBLAS reads OPENBLAS_CORETYPE only at load time. */
    const char *ct = lb_blas_preferred_coretype();
    if (ct && !getenv("OPENBLAS_CORETYPE")) {
        setenv("OPENBLAS_CORETYPE", ct, 1);
        execv("/proc/self/exe", argv);
    }
    printf("OpenBLAS core: %s\n", lb_blas_corename());
    int B = argc > 1 ? atoi(argv[1]) : 4, T = argc > 2 ? atoi(argv[2]) : 512, iters = argc > 3 ? atoi(argv[3]) : 5;
    lb_model_config cfg = {.arch = LB_ARCH_DISTILBERT,
                           .vocab_size = 30522,
                           .dim = 768,
                           .n_layers = 6,
                           .n_heads = 12,
                           .hidden_dim = 3072,
                           .max_pos = 512,
                           .ln_eps = 1e-12f,
                           .hidden_dropout = 0.1f,
                           .attention_dropout = 0.1f,
                           .classifier_dropout = 0.2f,
                           .num_labels = 2};
    lb_error e;
    lb_model *m = lb_model_init_random(&cfg, 1, &e);
    if (!m) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    lb_lora_config lc = {.r = 4, .alpha = 32, .dropout = 0.01f, .target_mask = 1u << LB_LIN_Q};
    if (lb_model_add_lora(m, &lc, 2, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    int64_t tr, all;
    lb_model_param_counts(m, &tr, &all);
    printf("trainable params: %lld || all params: %lld || trainable%%: %.4f\n", (long long)tr, (long long)all,
           100.0 * (double)tr / (double)all);
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)B * T), *lens = malloc(sizeof(int32_t) * (size_t)B);
    int32_t *labels = malloc(sizeof(int32_t) * (size_t)B);
    lb_rng r;
    lb_rng_seed(&r, 3);
    for (int i = 0; i < B * T; i++) ids[i] = 1000 + (int32_t)lb_rng_below(&r, 20000);
    for (int b = 0; b < B; b++) {
        lens[b] = T;
        labels[b] = b & 1;
        ids[b * T] = 101;
    }
    lb_batch batch = {.B = B, .T = T, .ids = ids, .lengths = lens};
    float logits[64], dl[64];
    /* Executed FLOPs (GEMMs + attention), from the shapes. */
    double D = 768, F = 3072, L = 6, N = (double)B * T, Tt = T;
    double full = 2 * N * (4 * D * D + 2 * D * F) + B * 4 * Tt * Tt * D;
    double last = 2 * N * 2 * D * D + 2 * B * (2 * D * D + 2 * D * F) + B * 4 * Tt * D;
    double fwd = (L - 1) * full + last;
    /* backward with an adapter in every layer: dX through every frozen GEMM above layer 0,
     * attention backward (4 GEMMs per head), in layer 0 only what q_lin's adapter needs. */
    double bw_full = 2 * N * (4 * D * D + 2 * D * F) + B * 8 * Tt * Tt * D;
    double bw_last = 2 * N * 2 * D * D + 2 * B * (2 * D * D + 2 * D * F) + B * 8 * Tt * D;
    double bw0 = 2 * N * (D * D + 2 * D * F) + B * 6 * Tt * Tt * D;
    double bwd = (L - 2) * bw_full + bw_last + bw0;
    lb_model_forward(m, &batch, false, NULL, logits, &e); /* warm-up: arena, page faults */
    double t0 = now(), c0 = cpu();
    for (int i = 0; i < iters; i++) lb_model_forward(m, &batch, false, NULL, logits, &e);
    double tf = (now() - t0) / iters, cf = (cpu() - c0) / iters;
    lb_model_forward(m, &batch, true, &r, logits, &e);
    lb_cross_entropy(logits, labels, B, 2, dl);
    lb_model_backward(m, dl, &e);
    t0 = now();
    c0 = cpu();
    double tfw = 0;
    for (int i = 0; i < iters; i++) {
        double a = now();
        if (lb_model_forward(m, &batch, true, &r, logits, &e)) {
            fprintf(stderr, "%s\n", e.msg);
            return 1;
        }
        tfw += now() - a;
        lb_cross_entropy(logits, labels, B, 2, dl);
        lb_model_zero_grad(m);
        if (lb_model_backward(m, dl, &e)) {
            fprintf(stderr, "%s\n", e.msg);
            return 1;
        }
    }
    double ttb = (now() - t0) / iters, ctb = (cpu() - c0) / iters;
    tfw /= iters;
    printf("B=%d T=%d: eval forward %.1f ms (%.1f GFLOP/s) | train forward %.1f ms | forward+backward %.1f ms "
           "(%.1f GFLOP/s, backward %.1f ms) | %.1f train seq/s\n",
           B, T, tf * 1e3, fwd / tf * 1e-9, tfw * 1e3, ttb * 1e3, (fwd + bwd) / ttb * 1e-9, (ttb - tfw) * 1e3, B / ttb);
    printf("CPU time (all threads): eval forward %.1f s -> %.1f GFLOP per CPU-second; forward+backward %.1f s -> "
           "%.1f GFLOP per CPU-second (wall figures are low when other processes share the cores)\n",
           cf, fwd / cf * 1e-9, ctb, (fwd + bwd) / ctb * 1e-9);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("peak RSS %.0f MiB (weights %.0f MiB fp32, activations of a B=%d T=%d train step)\n", ru.ru_maxrss / 1024.0,
           (double)all * 4 / 1048576.0, B, T);
    free(ids);
    free(lens);
    free(labels);
    lb_model_free(m);
    return 0;
}
