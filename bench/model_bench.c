/* Model speed benchmark through the public API: a model folder (default: bench/run's full-size
 * random distilbert-base-uncased, ~/.cache/lorabert/bench-model) with LoRA r=4 on its query
 * projection, B sequences of T real tokens; reports ms per eval forward (lb_model_predict_tokens)
 * and per training step (lb_train_step_batch: forward, loss, backward, clip, AdamW), and the
 * GFLOP/s of the arithmetic executed (wall and per CPU-second).
 * Build + run from the repo root: make MODE=release lib && make -C bench &&
 *   build/bench/model_bench [MODEL_DIR] [B] [T] [iters] */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include "lorabert.h"

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

static void die(const char *what, const lb_error *e) {
    fprintf(stderr, "model_bench: %s: %s\n", what, e->msg);
    exit(1);
}

int main(int argc, char **argv) {
    lb_runtime_reexec(argv); /* OpenBLAS and libgomp read their settings only at load time */
    char dflt[4096];
    snprintf(dflt, sizeof dflt, "%s/.cache/lorabert/bench-model", getenv("HOME") ? getenv("HOME") : ".");
    const char *dir = argc > 1 ? argv[1] : dflt;
    int B = argc > 2 ? atoi(argv[2]) : 4, T = argc > 3 ? atoi(argv[3]) : 512, iters = argc > 4 ? atoi(argv[4]) : 5;
    if (B < 1 || B > 32 || T < 2 || iters < 1) {
        fprintf(stderr, "usage: %s [MODEL_DIR] [B 1..32] [T >= 2] [iters >= 1]\n", argv[0]);
        return 2;
    }
    lb_error e;
    lb_model *m;
    if (lb_model_open(dir, NULL, &m, &e)) die("model", &e);
    lb_lora_options lo = {.r = 4, .alpha = 32, .dropout = 0.01};
    if (lb_model_add_adapter(m, &lo, &e)) die("adapter", &e);
    lb_model_info info;
    lb_model_get_info(m, &info);
    printf("%s (%s): trainable params: %lld || all params: %lld || trainable%%: %.4f\n", info.model_dir,
           info.architecture, (long long)info.trainable_params, (long long)info.all_params,
           100.0 * (double)info.trainable_params / (double)info.all_params);
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)B * T), *lens = malloc(sizeof(int32_t) * (size_t)B);
    int32_t *labels = malloc(sizeof(int32_t) * (size_t)B);
    uint64_t s = 3;
    for (int i = 0; i < B * T; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        ids[i] = 1000 + (int32_t)((s >> 33) % 20000);
    }
    for (int b = 0; b < B; b++) {
        lens[b] = T;
        labels[b] = b & 1;
        ids[b * T] = 101;
    }
    /* Executed FLOPs (GEMMs + attention) from the shapes; the last layer runs only the [CLS]
     * rows after attention. Backward: dX through every frozen GEMM above the lowest adapter,
     * attention backward, in layer 0 only what the query adapter needs. */
    double D = info.hidden_size, F = info.intermediate_size, L = info.num_layers, N = (double)B * T, Tt = T;
    double full = 2 * N * (4 * D * D + 2 * D * F) + B * 4 * Tt * Tt * D;
    double last = 2 * N * 2 * D * D + 2 * B * (2 * D * D + 2 * D * F) + B * 4 * Tt * D;
    double fwd = (L - 1) * full + last;
    double bw_full = 2 * N * (4 * D * D + 2 * D * F) + B * 8 * Tt * Tt * D;
    double bw_last = 2 * N * 2 * D * D + 2 * B * (2 * D * D + 2 * D * F) + B * 8 * Tt * D;
    double bw0 = 2 * N * (D * D + 2 * D * F) + B * 6 * Tt * Tt * D;
    double bwd = (L - 2) * bw_full + bw_last + bw0;
    float logits[32 * 64];
    if (lb_model_predict_tokens(m, ids, lens, NULL, B, T, logits, &e)) die("forward", &e); /* warm-up */
    double t0 = now(), c0 = cpu();
    for (int i = 0; i < iters; i++)
        if (lb_model_predict_tokens(m, ids, lens, NULL, B, T, logits, &e)) die("forward", &e);
    double tf = (now() - t0) / iters, cf = (cpu() - c0) / iters;
    lb_train_options to;
    lb_train_options_init(&to);
    to.max_steps = iters + 1;
    lb_train_run *run;
    if (lb_train_run_open(m, NULL, NULL, &to, NULL, &run, &e)) die("train run", &e);
    if (lb_train_step_batch(run, ids, lens, NULL, B, T, labels, NULL, &e)) die("train step", &e); /* warm-up */
    t0 = now();
    c0 = cpu();
    for (int i = 0; i < iters; i++)
        if (lb_train_step_batch(run, ids, lens, NULL, B, T, labels, NULL, &e)) die("train step", &e);
    double ts = (now() - t0) / iters, cs = (cpu() - c0) / iters;
    printf("B=%d T=%d: eval forward %.1f ms (%.1f GFLOP/s) | train step %.1f ms (%.1f GFLOP/s; backward + "
           "optimizer ~ step - eval forward = %.1f ms) | %.1f train seq/s\n",
           B, T, tf * 1e3, fwd / tf * 1e-9, ts * 1e3, (fwd + bwd) / ts * 1e-9, (ts - tf) * 1e3, B / ts);
    printf("CPU time (all threads): eval forward %.2f s -> %.1f GFLOP per CPU-second; train step %.2f s -> "
           "%.1f GFLOP per CPU-second (wall figures are low when other processes share the cores)\n",
           cf, fwd / cf * 1e-9, cs, (fwd + bwd) / cs * 1e-9);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("peak RSS %.0f MiB (B=%d T=%d train step)\n", ru.ru_maxrss / 1024.0, B, T);
    lb_train_run_close(run);
    lb_model_close(m);
    free(ids);
    free(lens);
    free(labels);
    return 0;
}
