/* libFuzzer harness for the BPE / Unigram pipeline (src/text/pipeline.h): the first byte picks a mode.
 *   mode 0: load the rest as a tokenizer.json (BPE / Unigram / normalizer / pre-tokenizer parsers),
 *           then tokenize a fixed text and the input;
 *   mode 1: tokenize the rest as text with the trained files in ../tests/golden/tokenizers/
 *           (byte-level BPE, byte-fallback BPE, XLM-R-style Precompiled + Unigram);
 *   mode 2: the rest, base64-encoded, is a precompiled_charsmap: load it with a small Unigram
 *           and normalize a fixed text and the input (the double-array walker).
 * Run from fuzz/: build/fuzz_tokenizer_pipeline -max_total_time=120 corpus/tokenizer_pipeline */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "text/tokenizer.h"

static lb_tokenizer *fixed[3];
static char tmpdir[64];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/lbfuzzp.XXXXXX");
    if (!mkdtemp(tmpdir)) abort();
    const char *names[3] = {"bpe_roberta", "bpe_bytefallback", "xlmr_spm"};
    for (int i = 0; i < 3; i++) {
        char p[256];
        snprintf(p, sizeof p, "../tests/golden/tokenizers/%s/tokenizer.json", names[i]);
        lb_error err;
        fixed[i] = lb_tokenizer_load_json(p, &err);
        if (!fixed[i]) {
            fprintf(stderr, "%s: %s (run from fuzz/)\n", p, err.msg);
            abort();
        }
    }
    return 0;
}

static void exercise(const lb_tokenizer *tok, const uint8_t *d, size_t n, uint8_t sel) {
    lb_encoding enc = {0};
    lb_error err;
    int32_t *tt = NULL;
    lb_tok_opts o = {.max_length = (sel & 3) == 0 ? 0 : (int)(sel % 40) + 6,
                     .truncate_left = sel & 4,
                     .add_special_tokens = !(sel & 8),
                     .replace_invalid_utf8 = true};
    if (lb_tokenize(tok, (const char *)d, n, &o, &enc, &err) == LB_OK) {
        if (o.max_length && enc.n > o.max_length) abort();
        for (int32_t i = 0; i < enc.n; i++)
            if (enc.ids[i] < 0 || enc.ids[i] >= lb_tokenizer_vocab_size(tok)) abort();
    } else if (!err.msg[0]) {
        abort();
    }
    size_t half = n / 2;
    if (lb_tokenize_pair(tok, (const char *)d, half, (const char *)d + half, n - half, &o, &enc, &tt, &err) == LB_OK &&
        o.max_length && enc.n > o.max_length)
        abort();
    free(tt);
    lb_encoding_free(&enc);
}

static void load_and_use(const char *json, size_t n, const uint8_t *text, size_t tn) {
    char path[128];
    lb_error err;
    snprintf(path, sizeof path, "%s/tokenizer.json", tmpdir);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(json, 1, n, f) != n || fclose(f)) abort();
    lb_tokenizer *tok = lb_tokenizer_load_json(path, &err);
    if (!tok) {
        if (!err.msg[0]) abort();
        return;
    }
    static const char t[] =
        "Hello  world, it's \xef\xbd\x97 caf\xc3\xa9 <s> \xe4\xb8\xad 'll\t\n e\xcc\x81 \xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd";
    exercise(tok, (const uint8_t *)t, sizeof t - 1, 0);
    exercise(tok, (const uint8_t *)t, sizeof t - 1, 7);
    exercise(tok, text, tn, 16);
    for (int32_t id = -1; id <= lb_tokenizer_vocab_size(tok); id++) (void)lb_tokenizer_id_to_token(tok, id);
    lb_tokenizer_free(tok);
}

static const char b64c[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    uint8_t mode = data[0] % 3, sel = data[0] / 3;
    data++;
    size--;
    if (mode == 0) {
        load_and_use((const char *)data, size, data, size);
    } else if (mode == 1) {
        exercise(fixed[sel % 3], data, size, sel);
    } else {
        /* {"model":Unigram,"normalizer":{"type":"Precompiled","precompiled_charsmap":B64(data)}} */
        static const char pre[] = "{\"model\":{\"type\":\"Unigram\",\"unk_id\":0,\"vocab\":[[\"<unk>\",0],[\"a\",-1],"
                                  "[\"\\u2581\",-2],[\"b\",-1.5]]},\"pre_tokenizer\":{\"type\":\"Metaspace\"},"
                                  "\"normalizer\":{\"type\":\"Precompiled\",\"precompiled_charsmap\":\"";
        size_t cap = sizeof pre + (size + 2) / 3 * 4 + 8;
        char *j = malloc(cap);
        if (!j) abort();
        size_t k = sizeof pre - 1;
        memcpy(j, pre, k);
        for (size_t i = 0; i < size; i += 3) {
            uint32_t v = (uint32_t)data[i] << 16 | (i + 1 < size ? (uint32_t)data[i + 1] << 8 : 0) |
                         (i + 2 < size ? data[i + 2] : 0);
            j[k++] = b64c[v >> 18 & 63];
            j[k++] = b64c[v >> 12 & 63];
            j[k++] = i + 1 < size ? b64c[v >> 6 & 63] : '=';
            j[k++] = i + 2 < size ? b64c[v & 63] : '=';
        }
        memcpy(j + k, "\"}}", 3);
        k += 3;
        load_and_use(j, k, data, size);
        free(j);
    }
    return 0;
}
