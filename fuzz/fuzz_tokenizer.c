/* libFuzzer harness for src/text: the first input byte picks a mode.
 *   mode 0-2: tokenize the rest as text (single / pair / options varied) with the vocab.txt
 *             tokenizer (../shared/data/tokenizer/vocab.txt when present, else a small one);
 *   mode 3:   load the rest as a tokenizer.json, then tokenize a fixed text and the input;
 *   mode 4:   load the rest as a vocab.txt (+ a fixed tokenizer_config.json) and tokenize.
 * Build and run: make -C fuzz && make -C fuzz run  (or fuzz/build/fuzz_tokenizer -max_total_time=120 DIR...) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "base/fileio.h"
#include "text/tokenizer.h"

static lb_tokenizer *vocab_tok;
static char tmpdir[64];

static const char small_vocab[] =
    "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\nmovie\n##s\n##ing\na\nb\nc\n##a\n##b\n,\n.\n!\n[\n]\ncafe\n\xc3\xa9\n##\xc3\xa9\n"
    "\xe4\xb8\xad\ni\n##i\n";

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/lbfuzz.XXXXXX");
    if (!mkdtemp(tmpdir)) abort();
    const char *shared = getenv("LORABERT_SHARED");
    char path[512];
    snprintf(path, sizeof path, "%s/data/tokenizer/vocab.txt", shared ? shared : "../shared");
    lb_error err;
    if (!lb_file_exists(path)) {
        snprintf(path, sizeof path, "%s/vocab.txt", tmpdir);
        if (lb_write_file_atomic(path, small_vocab, sizeof small_vocab - 1, &err)) abort();
    }
    vocab_tok = lb_tokenizer_load_vocab(path, NULL, &err);
    if (!vocab_tok) {
        fprintf(stderr, "%s\n", err.msg);
        abort();
    }
    return 0;
}

static void exercise(const lb_tokenizer *tok, const uint8_t *d, size_t n, uint8_t sel) {
    lb_encoding enc = {0};
    lb_error err;
    int32_t *tt = NULL;
    lb_tok_opts o = {.max_length = (sel & 3) == 0 ? 0 : (int)(sel % 40),
                     .truncate_left = sel & 4,
                     .add_special_tokens = !(sel & 8),
                     .replace_invalid_utf8 = sel & 16};
    if (lb_tokenize(tok, (const char *)d, n, &o, &enc, &err) == LB_OK) {
        if (o.max_length && enc.n > o.max_length) abort();
        for (int32_t i = 0; i < enc.n; i++)
            if (enc.ids[i] < 0 || enc.ids[i] >= lb_tokenizer_vocab_size(tok)) abort();
    } else if (!err.msg[0]) {
        abort(); /* every error has a message */
    }
    size_t half = n / 2;
    if (lb_tokenize_pair(tok, (const char *)d, half, (const char *)d + half, n - half, &o, &enc, &tt, &err) == LB_OK)
        if (o.max_length && enc.n > o.max_length) abort();
    free(tt);
    lb_encoding_free(&enc);
}

static void load_and_use(const char *name, const uint8_t *d, size_t n) {
    char path[128];
    lb_error err;
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb"); /* plain write: no fsync per execution */
    if (!f || fwrite(d, 1, n, f) != n || fclose(f)) abort();
    lb_tokenizer *tok = !strcmp(name, "tokenizer.json") ? lb_tokenizer_load_json(path, &err)
                                                        : lb_tokenizer_load_vocab(path, NULL, &err);
    if (!tok) {
        if (!err.msg[0]) abort();
        return;
    }
    static const char text[] = "The movie [SEP] caf\xc3\xa9 <br /> \xe4\xb8\xad\xe6\x96\x87 i\xcc\x87 ##s";
    exercise(tok, (const uint8_t *)text, sizeof text - 1, 0);
    exercise(tok, (const uint8_t *)text, sizeof text - 1, 7);
    exercise(tok, d, n, 16);
    for (int32_t id = -1; id <= lb_tokenizer_vocab_size(tok); id++) (void)lb_tokenizer_id_to_token(tok, id);
    lb_tokenizer_free(tok);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    uint8_t mode = data[0] % 5, sel = data[0] / 5;
    data++;
    size--;
    switch (mode) {
    case 0:
    case 1:
    case 2: exercise(vocab_tok, data, size, (uint8_t)(sel * 3 + mode)); break;
    case 3: load_and_use("tokenizer.json", data, size); break;
    case 4: load_and_use("vocab.txt", data, size); break;
    }
    return 0;
}
