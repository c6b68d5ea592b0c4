/* lorabert side of bench/run: the workloads of bench/peers.py, run through the library APIs
 * (training: the library's own step on caller-given batches, lb_train_step_batch: forward,
 * cross-entropy, backward, clipping, AdamW, schedule; inference: the model's forward; and the
 * tokenizer), on the batch file peers.py wrote, so every system does identical work.
 *   lb_bench run --model DIR --batches FILE --data IMDB_DIR [--quick] [--train-batches N] [--precision P]
 *   lb_bench rss --model DIR [--precision P]   peak RSS of a fresh process training 2 steps at 4x512
 *   lb_bench make-adapters --model DIR --out DIR --count N [--merged DIR]
 *       N distinct adapters of the seed recipe (r 4, alpha 32, q_lin), one training step each
 *       (seed i, a random 4x32 batch) so every LoRA B and head differs; OUT/a000 ... (kept when
 *       present); --merged: a000 merged into the base as a plain HF folder (what a peer serves)
 *   lb_bench eval-texts --model DIR --adapter DIR --data FILE [--precision P] [--repeats N]
 *       `lorabert eval`'s own path (lb_classifier_open + lb_evaluate_dataset, batch 8, left
 *       truncation at 512: tokenization included) on a labelled file: reviews/s, workload eval_texts
 *       (system lorabert_bf16 with --precision bf16)
 * run --suffix S appends S to every workload name (bench/run --contended: "_contended");
 * run --no-tokenize skips the tokenizer workload.
 * --precision bf16 runs the model in its bf16 mode (lb_model_set_precision) and reports as system
 * "lorabert_bf16" (the tokenizer is not re-measured there); --precision int8 (inference only: the
 * training workloads are left out) reports as "lorabert_int8".
 * Output: one JSON line per measurement, same fields as peers.py ("system": "lorabert"), plus
 * "gflops": model FLOPs per second (real tokens; see flops_step). */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include "lorabert.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void die(const char *what, const lb_error *e) {
    fprintf(stderr, "lb_bench: %s: %s\n", what, e ? e->msg : "");
    exit(1);
}

/* The whole file at path (malloc'd, NUL-terminated), or exit. */
static void slurp(const char *path, char **data, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "lb_bench: %s: cannot open\n", path);
        exit(1);
    }
    size_t cap = 1 << 20, n = 0;
    char *d = malloc(cap + 1);
    size_t got;
    while (d && (got = fread(d + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) d = realloc(d, (cap *= 2) + 1);
    }
    if (!d || ferror(f)) {
        fprintf(stderr, "lb_bench: %s: read failed\n", path);
        exit(1);
    }
    fclose(f);
    d[n] = '\0';
    *data = d;
    *len = n;
}

/* splitmix64: the bench's own random batches (any fixed sequence will do) */
static uint64_t mix_next(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static uint32_t mix_below(uint64_t *s, uint32_t n) { return (uint32_t)(mix_next(s) % n); }

/* ------------------------------------------------------------------ statistics / output */

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, n, sizeof *v, cmp_d);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static const char *sys_name = "lorabert";
static lb_precision precision = LB_PRECISION_FP32;
static const char *suffix = ""; /* --suffix: appended to every workload name (bench/run: "_contended") */

/* Prints one record; `extra` is a JSON fragment (",\"k\": v...") or "". */
static void emit(const char *workload, const char *unit, const char *better, double *v, int n, const char *extra) {
    double med = median(v, n);
    printf("{\"system\": \"%s\", \"workload\": \"%s%s\", \"unit\": \"%s\", \"better\": \"%s\", "
           "\"median\": %.6g, \"min\": %.6g, \"max\": %.6g, \"n\": %d%s}\n",
           sys_name, workload, suffix, unit, better, med, v[0], v[n - 1], n, extra);
    fflush(stdout);
}

/* ------------------------------------------------------------------ batches (peers.py format) */

typedef struct bbatch {
    int B, T;
    int32_t *labels, *lengths, *ids; /* [B], [B], [B*T] */
} bbatch;

static int read_batches(const char *path, bbatch **train, int *ntrain, bbatch **evalb, int *neval) {
    char *d;
    size_t n;
    slurp(path, &d, &n);
    if (n < 12 || memcmp(d, "LBB1", 4) != 0) {
        fprintf(stderr, "lb_bench: %s: not a batch file\n", path);
        exit(1);
    }
    int32_t h[2];
    memcpy(h, d + 4, 8);
    int total = h[0] + h[1];
    bbatch *all = calloc(total, sizeof *all);
    size_t off = 12;
    for (int i = 0; i < total; i++) {
        int32_t bt[2];
        if (off + 8 > n) goto bad;
        memcpy(bt, d + off, 8);
        off += 8;
        size_t need = 4 * ((size_t)bt[0] * 2 + (size_t)bt[0] * bt[1]);
        if (bt[0] <= 0 || bt[1] <= 0 || off + need > n) goto bad;
        all[i].B = bt[0];
        all[i].T = bt[1];
        all[i].labels = malloc(4 * bt[0]);
        all[i].lengths = malloc(4 * bt[0]);
        all[i].ids = malloc(4 * (size_t)bt[0] * bt[1]);
        memcpy(all[i].labels, d + off, 4 * bt[0]);
        off += 4 * bt[0];
        memcpy(all[i].lengths, d + off, 4 * bt[0]);
        off += 4 * bt[0];
        memcpy(all[i].ids, d + off, 4 * (size_t)bt[0] * bt[1]);
        off += 4 * (size_t)bt[0] * bt[1];
    }
    free(d);
    *train = all;
    *ntrain = h[0];
    *evalb = all + h[0];
    *neval = h[1];
    return 0;
bad:
    fprintf(stderr, "lb_bench: %s: truncated at byte %zu\n", path, off);
    exit(1);
}

static bbatch fixed_batch(uint64_t *r, int B, int T) {
    bbatch b = {B, T, malloc(4 * B), malloc(4 * B), malloc(4 * (size_t)B * T)};
    for (int i = 0; i < B; i++) {
        b.labels[i] = (int32_t)mix_below(r, 2);
        b.lengths[i] = T;
        for (int t = 0; t < T; t++) b.ids[(size_t)i * T + t] = 1000 + (int32_t)mix_below(r, 30522 - 1000);
        b.ids[(size_t)i * T] = 101;
        b.ids[(size_t)i * T + T - 1] = 102;
    }
    return b;
}

/* ------------------------------------------------------------------ FLOP model
 * DistilBERT-base per layer, n real tokens of a sequence of length L: linears 2 n (4 D^2 + 2 D F),
 * attention 4 L^2 D (scores + context). A LoRA training step = forward + input-gradient backward
 * (no frozen weight gradients): linears x2, attention x3. LoRA/head terms are < 0.1% and omitted. */
static double flops_seq(int L, bool train) {
    const double D = 768, F = 3072, layers = 6;
    double lin = 2.0 * L * (4 * D * D + 2 * D * F), att = 4.0 * (double)L * L * D;
    return layers * (train ? 2 * lin + 3 * att : lin + att);
}

static double flops_batch(const bbatch *b, bool train) {
    double f = 0;
    for (int i = 0; i < b->B; i++) f += flops_seq(b->lengths[i], train);
    return f;
}

/* ------------------------------------------------------------------ the trainer's step */

/* The schedule's length (lr 1e-3 decaying linearly over it): more than a full run takes. */
#define BENCH_MAX_STEPS 2500

typedef struct ctx {
    lb_model *m;
    lb_train_run *run; /* a run on caller-given batches: the library's own step */
} ctx;

static void setup(ctx *c, const char *dir) {
    lb_error e;
    lb_model_options mo = {.seed = 42};
    if (lb_model_open(dir, &mo, &c->m, &e) != LB_OK) die("load model", &e);
    lb_lora_options lo = {.r = 4, .alpha = 32, .dropout = 0.01, .seed = 42};
    if (lb_model_add_adapter(c->m, &lo, &e) != LB_OK) die("add lora", &e);
    if (lb_model_set_precision(c->m, precision, &e) != LB_OK) die("precision", &e);
    lb_train_options to;
    lb_train_options_init(&to); /* the seed recipe: AdamW lr 1e-3, weight decay 0.01, clip 1.0 */
    to.max_steps = BENCH_MAX_STEPS;
    c->run = NULL;
    if (precision == LB_PRECISION_INT8) return; /* inference only */
    if (lb_train_run_open(c->m, NULL, NULL, &to, NULL, &c->run, &e) != LB_OK) die("train run", &e);
}

static void teardown(ctx *c) {
    lb_train_run_close(c->run);
    lb_model_close(c->m);
}

/* zero grad, forward, loss, backward, clip, AdamW, schedule: lb_train_step_batch */
static void train_step(ctx *c, const bbatch *b) {
    lb_error e;
    if (lb_train_step_batch(c->run, b->ids, b->lengths, NULL, b->B, b->T, b->labels, NULL, &e) != LB_OK)
        die("train step", &e);
}

static void infer(ctx *c, const bbatch *b, float *logits) {
    lb_error e;
    if (lb_model_predict_tokens(c->m, b->ids, b->lengths, NULL, b->B, b->T, logits, &e) != LB_OK)
        die("forward (eval)", &e);
}

/* tokens/s (padded B*T, as peers.py counts) per repeat; *gflops: model GFLOP/s of the median repeat. */
static void time_train(ctx *c, const bbatch *bs, int nb, int reps, double *vals, double *gflops) {
    train_step(c, &bs[0]); /* warm-up: arenas sized, threads started */
    double fl = 0;
    for (int i = 0; i < nb; i++) fl += flops_batch(&bs[i], true);
    double secs[16];
    for (int r = 0; r < reps; r++) {
        double tokens = 0, t0 = now();
        for (int i = 0; i < nb; i++) {
            train_step(c, &bs[i]);
            tokens += (double)bs[i].B * bs[i].T;
        }
        secs[r] = now() - t0;
        vals[r] = tokens / secs[r];
    }
    *gflops = fl / median(secs, reps) * 1e-9;
}

/* ------------------------------------------------------------------ workloads */

static char **read_texts(const char *data_dir, int *count, size_t *bytes) {
    const char *splits[] = {"train.jsonl", "validation.jsonl"};
    char **texts = NULL;
    int n = 0, cap = 0;
    *bytes = 0;
    for (int s = 0; s < 2; s++) {
        char path[4096], *d;
        size_t len;
        snprintf(path, sizeof path, "%s/%s", data_dir, splits[s]);
        slurp(path, &d, &len);
        for (char *line = strtok(d, "\n"); line; line = strtok(NULL, "\n")) {
            cJSON *j = cJSON_Parse(line);
            const cJSON *t = j ? cJSON_GetObjectItemCaseSensitive(j, "text") : NULL;
            if (!cJSON_IsString(t)) {
                fprintf(stderr, "lb_bench: %s: bad line\n", path);
                exit(1);
            }
            if (n == cap) texts = realloc(texts, sizeof *texts * (cap = cap ? 2 * cap : 1024));
            texts[n++] = strdup(t->valuestring);
            *bytes += strlen(t->valuestring);
            cJSON_Delete(j);
        }
        free(d);
    }
    *count = n;
    return texts;
}

static void bench_tokenizer(const char *model_dir, const char *data_dir, bool quick) {
    lb_error e;
    lb_tokenizer *tok;
    if (lb_tokenizer_open(model_dir, &tok, &e) != LB_OK) die("tokenizer", &e);
    int n;
    size_t bytes;
    char **texts = read_texts(data_dir, &n, &bytes);
    lb_encode_options o = {.max_length = 512, .truncate_left = true};
    int reps = quick ? 3 : 7;
    double v[16];
    int failed = 0;
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        /* reviews split over the OpenMP threads, like HF's batched call over its Rayon pool */
#pragma omp parallel reduction(+ : failed)
        {
            lb_tokens enc = {0};
            lb_error te;
#pragma omp for schedule(dynamic, 16)
            for (int i = 0; i < n; i++)
                if (lb_tokenizer_encode(tok, texts[i], strlen(texts[i]), NULL, 0, &o, &enc, &te) != LB_OK) failed++;
            lb_tokens_free(&enc);
        }
        v[r] = bytes / 1e6 / (now() - t0);
    }
    if (failed) {
        fprintf(stderr, "lb_bench: %d reviews failed to tokenize\n", failed);
        exit(1);
    }
    char extra[128];
    snprintf(extra, sizeof extra, ", \"reviews\": %d, \"bytes\": %zu, \"threads\": %d", n, bytes,
             omp_get_max_threads());
    emit("tokenize_imdb", "MB/s", "higher", v, reps, extra);
    for (int i = 0; i < n; i++) free(texts[i]);
    free(texts);
    lb_tokenizer_close(tok);
}

/* repeats / eval_batches: 0 = the mode's default (quick: 1 / 10, full: 3 / all). */
static int cmd_run(const char *model, const char *batches, const char *data, bool quick, int train_batches, int repeats,
                   int eval_batches, bool tokenize) {
    bbatch *train, *evalb;
    int ntrain, neval;
    read_batches(batches, &train, &ntrain, &evalb, &neval);
    ctx c;
    setup(&c, model);
    double v[64], gf;
    char extra[256];

    /* training on real batches (not in int8: inference only) */
    int nb = quick ? 3 : (train_batches < ntrain ? train_batches : ntrain), reps = quick ? 1 : 3;
    if (repeats > 0) reps = repeats < 8 ? repeats : 8;
    uint64_t r = 1;
    if (precision != LB_PRECISION_INT8) {
        double epoch_tokens = 0;
        for (int i = 0; i < ntrain; i++) epoch_tokens += (double)train[i].B * train[i].T;
        time_train(&c, train, nb, reps, v, &gf);
        double med = median(v, reps);
        snprintf(extra, sizeof extra,
                 ", \"batches\": %d, \"s_per_epoch\": %.1f, \"epoch_padded_tokens\": %.0f, \"gflops\": %.1f", nb,
                 epoch_tokens / med, epoch_tokens, gf);
        emit("train_real", "tokens/s", "higher", v, reps, extra);

        const int Ts[2] = {128, 512}, steps[2] = {quick ? 3 : 10, quick ? 2 : 5};
        for (int i = 0; i < 2; i++) {
            bbatch fb = fixed_batch(&r, 4, Ts[i]), arr[16];
            for (int s = 0; s < steps[i]; s++) arr[s] = fb;
            time_train(&c, arr, steps[i], reps, v, &gf);
            char name[32];
            snprintf(name, sizeof name, "train_4x%d", Ts[i]);
            snprintf(extra, sizeof extra, ", \"steps\": %d, \"gflops\": %.1f", steps[i], gf);
            emit(name, "tokens/s", "higher", v, reps, extra);
            free(fb.labels);
            free(fb.lengths);
            free(fb.ids);
        }
    } /* training */

    /* evaluation over the validation reviews, batch 4 as in the seed job */
    float logits[64 * 2];
    int ne = quick ? 10 : neval, reviews = 0;
    if (eval_batches > 0 && eval_batches < neval) ne = eval_batches;
    double fl = 0;
    for (int i = 0; i < ne; i++) {
        reviews += evalb[i].B;
        fl += flops_batch(&evalb[i], false);
    }
    infer(&c, &evalb[0], logits);
    double secs[8];
    for (int k = 0; k < reps; k++) {
        double t0 = now();
        for (int i = 0; i < ne; i++) infer(&c, &evalb[i], logits);
        secs[k] = now() - t0;
        v[k] = reviews / secs[k];
    }
    snprintf(extra, sizeof extra, ", \"reviews\": %d, \"gflops\": %.1f", reviews, fl / median(secs, reps) * 1e-9);
    emit("eval_validation", "reviews/s", "higher", v, reps, extra);

    /* predict latency at batch 1, throughput at 32 x 128 */
    r = 2;
    const int Tp[3] = {16, 64, 128};
    for (int i = 0; i < 3; i++) {
        bbatch fb = fixed_batch(&r, 1, Tp[i]);
        infer(&c, &fb, logits);
        int n = quick ? 5 : 20;
        for (int k = 0; k < n; k++) {
            double t0 = now();
            infer(&c, &fb, logits);
            v[k] = (now() - t0) * 1e3;
        }
        char name[32];
        snprintf(name, sizeof name, "predict_b1_t%d", Tp[i]);
        emit(name, "ms", "lower", v, n, "");
        free(fb.labels);
        free(fb.lengths);
        free(fb.ids);
    }
    bbatch fb = fixed_batch(&r, 32, 128);
    infer(&c, &fb, logits);
    int n = quick ? 2 : 5;
    for (int k = 0; k < n; k++) {
        double t0 = now();
        infer(&c, &fb, logits);
        secs[k] = now() - t0;
        v[k] = 32 / secs[k];
    }
    snprintf(extra, sizeof extra, ", \"gflops\": %.1f", flops_batch(&fb, false) / median(secs, n) * 1e-9);
    emit("predict_b32_t128", "sequences/s", "higher", v, n, extra);
    free(fb.labels);
    free(fb.lengths);
    free(fb.ids);

    if (precision == LB_PRECISION_FP32 && tokenize) bench_tokenizer(model, data, quick);
    teardown(&c);
    for (int i = 0; i < ntrain + neval; i++) {
        free(train[i].labels);
        free(train[i].lengths);
        free(train[i].ids);
    }
    free(train);
    return 0;
}

static int cmd_rss(const char *model) {
    ctx c;
    setup(&c, model);
    uint64_t r = 3;
    bbatch fb = fixed_batch(&r, 4, 512);
    for (int i = 0; i < 2; i++) train_step(&c, &fb);
    teardown(&c);
    free(fb.labels);
    free(fb.lengths);
    free(fb.ids);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double mb = ru.ru_maxrss / 1024.0;
    emit("train_peak_rss", "MB", "lower", &mb, 1, "");
    return 0;
}

/* ------------------------------------------------------------------ serving bench helpers */

static bool is_file(const char *path) { return access(path, R_OK) == 0; }

static int cmd_make_adapters(const char *model, const char *out, int count, const char *merged) {
    for (int i = 0; i < count; i++) {
        char dir[4096], probe[4200];
        snprintf(dir, sizeof dir, "%s/a%03d", out, i);
        snprintf(probe, sizeof probe, "%s/adapter_model.safetensors", dir);
        bool want_merged = i == 0 && merged;
        char mprobe[4200] = "";
        if (want_merged) snprintf(mprobe, sizeof mprobe, "%s/model.safetensors", merged);
        if (is_file(probe) && (!want_merged || is_file(mprobe))) continue;
        lb_error e;
        lb_model *m;
        lb_model_options mo = {.seed = 42};
        if (lb_model_open(model, &mo, &m, &e) != LB_OK) die("load model", &e);
        lb_lora_options lo = {.r = 4, .alpha = 32, .dropout = 0.01, .seed = (uint64_t)i + 1};
        if (lb_model_add_adapter(m, &lo, &e) != LB_OK) die("add lora", &e);
        lb_train_options to;
        lb_train_options_init(&to);
        to.max_steps = 10;
        to.seed = (uint64_t)i + 1;
        lb_train_run *run;
        if (lb_train_run_open(m, NULL, NULL, &to, NULL, &run, &e) != LB_OK) die("train run", &e);
        uint64_t r = 1000 + (uint64_t)i;
        bbatch fb = fixed_batch(&r, 4, 32);
        if (lb_train_step_batch(run, fb.ids, fb.lengths, NULL, fb.B, fb.T, fb.labels, NULL, &e) != LB_OK)
            die("train step", &e);
        lb_train_run_close(run);
        free(fb.labels);
        free(fb.lengths);
        free(fb.ids);
        if (!is_file(probe) && lb_model_save_adapter(m, dir, &e) != LB_OK) die("save adapter", &e);
        if (want_merged && !is_file(mprobe) && lb_model_save_merged(m, merged, &e) != LB_OK) die("save merged", &e);
        lb_model_close(m);
        fprintf(stderr, "lb_bench: adapter %s written\n", dir);
    }
    return 0;
}

static int cmd_eval_texts(const char *model, const char *adapter, const char *data, int repeats) {
    lb_error e;
    lb_classifier *c;
    lb_dataset *ds;
    lb_classifier_options co = {.model = {.adapter = adapter, .precision = precision}, .truncate_left = true};
    if (lb_classifier_open(model, &co, &c, &e) != LB_OK) die("classifier", &e);
    if (lb_dataset_open(data, NULL, &ds, &e) != LB_OK) die("dataset", &e);
    lb_eval_options eo = {.batch_size = 8}; /* `lorabert eval`'s default */
    lb_eval_result res;
    /* warm-up (weights packed, buffers sized): the first 16 texts, not a whole pass */
    size_t nw = lb_dataset_size(ds) < 16 ? lb_dataset_size(ds) : 16;
    const char *warm[16];
    for (size_t i = 0; i < nw; i++) warm[i] = lb_dataset_text(ds, i);
    if (lb_classify(c, warm, NULL, NULL, NULL, nw, NULL, NULL, NULL, &e) != LB_OK) die("classify (warm-up)", &e);
    int reps = repeats > 0 ? (repeats < 8 ? repeats : 8) : 1;
    double v[8];
    for (int k = 0; k < reps; k++) {
        double t0 = now();
        if (lb_evaluate_dataset(c, ds, &eo, &res, &e) != LB_OK) die("evaluate", &e);
        v[k] = (double)lb_dataset_size(ds) / (now() - t0);
    }
    char extra[160];
    snprintf(extra, sizeof extra, ", \"reviews\": %zu, \"batch_size\": 8, \"accuracy\": %.4f", lb_dataset_size(ds),
             res.metrics.accuracy);
    emit("eval_texts", "reviews/s", "higher", v, reps, extra);
    lb_dataset_close(ds);
    lb_classifier_close(c);
    return 0;
}

int main(int argc, char **argv) {
    const char *model = NULL, *batches = NULL, *data = NULL, *out = NULL, *merged = NULL, *adapter = NULL;
    bool quick = false, tokenize = true;
    int train_batches = 20, repeats = 0, eval_batches = 0, count = 0;
    lb_runtime_reexec(argv);
    if (argc < 2) goto usage;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--model") && i + 1 < argc) model = argv[++i];
        else if (!strcmp(argv[i], "--batches") && i + 1 < argc) batches = argv[++i];
        else if (!strcmp(argv[i], "--data") && i + 1 < argc) data = argv[++i];
        else if (!strcmp(argv[i], "--train-batches") && i + 1 < argc) train_batches = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--out") && i + 1 < argc) out = argv[++i];
        else if (!strcmp(argv[i], "--merged") && i + 1 < argc) merged = argv[++i];
        else if (!strcmp(argv[i], "--adapter") && i + 1 < argc) adapter = argv[++i];
        else if (!strcmp(argv[i], "--count") && i + 1 < argc) count = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--quick")) quick = true;
        else if (!strcmp(argv[i], "--no-tokenize")) tokenize = false;
        else if (!strcmp(argv[i], "--suffix") && i + 1 < argc && strlen(argv[i + 1]) < 32) suffix = argv[++i];
        else if (!strcmp(argv[i], "--repeats") && i + 1 < argc) repeats = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--eval-batches") && i + 1 < argc) eval_batches = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--precision") && i + 1 < argc && lb_precision_parse(argv[i + 1], &precision)) i++;
        else goto usage;
    }
    if (train_batches < 1 || train_batches > 250) train_batches = 20;
    if (precision == LB_PRECISION_BF16) sys_name = "lorabert_bf16";
    if (precision == LB_PRECISION_INT8) sys_name = "lorabert_int8";
    if (!strcmp(argv[1], "run") && model && batches && data)
        return cmd_run(model, batches, data, quick, train_batches, repeats, eval_batches, tokenize);
    if (!strcmp(argv[1], "rss") && model) return cmd_rss(model);
    if (!strcmp(argv[1], "make-adapters") && model && out && count >= 1 && count <= 1000)
        return cmd_make_adapters(model, out, count, merged);
    if (!strcmp(argv[1], "eval-texts") && model && adapter && data)
        return cmd_eval_texts(model, adapter, data, repeats);
usage:
    fprintf(stderr, "usage: lb_bench run --model DIR --batches FILE --data IMDB_DIR [--quick] [--train-batches N] "
                    "[--precision fp32|bf16|int8] [--repeats N] [--eval-batches N] [--suffix S] [--no-tokenize]\n"
                    "       lb_bench rss --model DIR [--precision fp32|bf16|int8]\n"
                    "       lb_bench make-adapters --model DIR --out DIR --count N (1..1000) [--merged DIR]\n"
                    "       lb_bench eval-texts --model DIR --adapter DIR --data FILE [--precision fp32|bf16|int8] "
                    "[--repeats N]\n");
    return 2;
}
