/* Tokenizer throughput, single thread: tokenizes every text of an IMDb JSONL file R times and
 * prints MB/s of input text (and tokens/s). Build + run from the repo root:
 *   make MODE=release lib && make -C bench
 *   build/bench/tokenizer_bench ../shared/data/tokenizer ../shared/data/imdb/train.jsonl 20
 * (the first argument is a folder with tokenizer.json or vocab.txt). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "base/fileio.h"
#include "text/tokenizer.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL_DIR|tokenizer.json FILE.jsonl [REPEATS]\n", argv[0]);
        return 2;
    }
    int reps = argc > 3 ? atoi(argv[3]) : 10;
    lb_error err;
    size_t ml = strlen(argv[1]);
    lb_tokenizer *tok = ml > 5 && !strcmp(argv[1] + ml - 5, ".json") ? lb_tokenizer_load_json(argv[1], &err)
                                                                     : lb_tokenizer_load(argv[1], &err);
    if (!tok) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    char *data;
    size_t len;
    if (lb_read_file(argv[2], &data, &len, &err)) {
        fprintf(stderr, "%s\n", err.msg);
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
    lb_tok_opts o = {.max_length = 512, .truncate_left = true, .add_special_tokens = true};
    lb_encoding enc = {0};
    long tokens = 0;
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        for (size_t i = 0; i < n; i++) {
            if (lb_tokenize(tok, texts[i], strlen(texts[i]), &o, &enc, &err)) {
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
    lb_encoding_free(&enc);
    lb_tokenizer_free(tok);
    return 0;
}
