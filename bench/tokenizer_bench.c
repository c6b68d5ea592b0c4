/* Tokenizer throughput, single thread: tokenizes every text of an IMDb JSONL file R times and
 * prints MB/s of input text (and tokens/s). Build + run from the repo root:
 *   make MODE=release lib && make -C bench
 *   build/bench/tokenizer_bench ../shared/data/tokenizer ../shared/data/imdb/train.jsonl 20
 * (the first argument is a folder with tokenizer.json or vocab.txt, or a hub id). Public API only. */
#define _DEFAULT_SOURCE /* strdup */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "lorabert.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* The whole file (malloc'd, NUL-terminated), or NULL. */
static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 20, n = 0, got;
    char *d = malloc(cap + 1);
    while (d && (got = fread(d + n, 1, cap - n, f)) > 0)
        if ((n += got) == cap) d = realloc(d, (cap *= 2) + 1);
    fclose(f);
    if (d) d[n] = '\0';
    return d;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL_DIR FILE.jsonl [REPEATS]\n", argv[0]);
        return 2;
    }
    int reps = argc > 3 ? atoi(argv[3]) : 10;
    lb_error err;
    lb_tokenizer *tok;
    if (lb_tokenizer_open(argv[1], &tok, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    char *data = slurp(argv[2]);
    if (!data) {
        fprintf(stderr, "%s: cannot read\n", argv[2]);
        return 1;
    }
    char **texts = NULL;
    size_t n = 0, bytes = 0;
    for (char *line = strtok(data, "\n"); line; line = strtok(NULL, "\n")) {
        cJSON *j = cJSON_Parse(line);
        const cJSON *t = cJSON_GetObjectItem(j, "text");
        if (cJSON_IsString(t)) {
            texts = realloc(texts, (n + 1) * sizeof *texts);
            texts[n++] = strdup(t->valuestring);
            bytes += strlen(t->valuestring);
        }
        cJSON_Delete(j);
    }
    lb_encode_options o = {.max_length = 512, .truncate_left = true};
    lb_tokens enc = {0};
    long tokens = 0;
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        for (size_t i = 0; i < n; i++) {
            if (lb_tokenizer_encode(tok, texts[i], strlen(texts[i]), NULL, 0, &o, &enc, &err)) {
                fprintf(stderr, "%s\n", err.msg);
                return 1;
            }
            if (!r) tokens += enc.n;
        }
        double dt = now() - t0;
        if (dt < best) best = dt;
    }
    printf("%zu texts, %.2f MB, best of %d: %.4f s = %.1f MB/s, %.0f texts/s, %.2f M tokens/s (max_length 512)\n", n,
           (double)bytes / 1e6, reps, best, (double)bytes / 1e6 / best, (double)n / best, (double)tokens / 1e6 / best);
    for (size_t i = 0; i < n; i++) free(texts[i]);
    free(texts);
    free(data);
    lb_tokens_free(&enc);
    lb_tokenizer_close(tok);
    return 0;
}
