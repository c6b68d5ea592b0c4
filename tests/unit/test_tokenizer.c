/* Tests for src/text (the HF fast BERT tokenizer): exact equality with the tokenizers oracle
 * in ../shared/data/tokenizer/oracle (2000 IMDb reviews, 38 edge cases; loading from
 * tokenizer.json and from vocab.txt), a per-code-point golden of the normalizer and
 * pre-tokenizer made with the pinned tokenizers 0.13.3 (tests/golden/tokenizer_unicode.txt),
 * pair truncation as tokenizers 0.13.3, and error handling. */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "base/fileio.h"
#include "text/bert_normalizer.h"
#include "text/tokenizer.h"
#include "base/utf8.h"
#include "text/vocab.h"
#include "text/wordpiece.h"
#include "../support/test_support.h"

#define REQUIRE_SHARED(rel)                                                              \
    do {                                                                                 \
        char *p_ = shared_path(rel);                                                     \
        bool ok_ = lb_file_exists(p_);                                                   \
        free(p_);                                                                        \
        if (!ok_) cr_skip_test("%s/%s absent (set LORABERT_SHARED)", shared_dir(), rel); \
    } while (0)

static char *read_all(const char *path, size_t *len) {
    char *d;
    lb_error e;
    cr_assert_eq(lb_read_file(path, &d, len, &e), LB_OK, "%s", e.msg);
    return d;
}

/* Decodes the JSON string value of "key" in one JSON line (handles \u0000, which cJSON cannot). */
static char *json_str_field(const char *line, const char *key, size_t *out_len) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(line, pat);
    cr_assert_not_null(p, "no field %s", key);
    p += strlen(pat);
    while (*p == ' ') p++;
    cr_assert_eq(*p, '"');
    p++;
    size_t cap = strlen(p) + 1, n = 0;
    char *o = malloc(cap);
    while (*p != '"') {
        cr_assert(*p, "unterminated string");
        if (*p != '\\') {
            o[n++] = *p++;
            continue;
        }
        p++;
        char c = *p++;
        switch (c) {
        case 'n': o[n++] = '\n'; break;
        case 't': o[n++] = '\t'; break;
        case 'r': o[n++] = '\r'; break;
        case 'b': o[n++] = '\b'; break;
        case 'f': o[n++] = '\f'; break;
        case 'u': {
            unsigned cp = (unsigned)strtoul((char[5]){p[0], p[1], p[2], p[3], 0}, NULL, 16);
            p += 4;
            if (cp >= 0xD800 && cp < 0xDC00 && p[0] == '\\' && p[1] == 'u') {
                unsigned lo = (unsigned)strtoul((char[5]){p[2], p[3], p[4], p[5], 0}, NULL, 16);
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                p += 6;
            }
            n += (size_t)lb_utf8_encode((int32_t)cp, (uint8_t *)o + n);
            break;
        }
        default: o[n++] = c;
        }
    }
    o[n] = 0;
    *out_len = n;
    return o;
}

/* Compares an encoding with a JSON array of ids. */
static bool same_ids(const lb_encoding *e, const cJSON *arr, char *why, size_t whylen) {
    int n = cJSON_GetArraySize(arr);
    if (n != e->n) {
        snprintf(why, whylen, "length %d, expected %d", e->n, n);
        return false;
    }
    int i = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, arr) {
        if ((int32_t)v->valuedouble != e->ids[i]) {
            snprintf(why, whylen, "id[%d] = %d, expected %d", i, e->ids[i], (int)v->valuedouble);
            return false;
        }
        i++;
    }
    return true;
}

static lb_tokenizer *load_json_tok(void) {
    char *p = shared_path("data/tokenizer/tokenizer.shawhin-checkpoint.json");
    lb_error e;
    lb_tokenizer *t = lb_tokenizer_load_json(p, &e);
    cr_assert_not_null(t, "%s", e.msg);
    free(p);
    return t;
}

static lb_tokenizer *load_vocab_tok(void) {
    char *p = shared_path("data/tokenizer/vocab.txt");
    lb_error e;
    lb_tokenizer *t = lb_tokenizer_load_vocab(p, NULL, &e);
    cr_assert_not_null(t, "%s", e.msg);
    free(p);
    return t;
}

static char *make_tmpdir(void) {
    char *d = strdup("/tmp/lbtokXXXXXX");
    cr_assert_not_null(mkdtemp(d));
    return d;
}

static void write_file(const char *dir, const char *name, const char *data, size_t len) {
    char *p = lb_path_join(dir, name);
    lb_error e;
    cr_assert_eq(lb_write_file_atomic(p, data, len, &e), LB_OK, "%s", e.msg);
    free(p);
}

static void rm_dir(const char *dir) {
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

static lb_tok_opts opts_default(void) {
    return (lb_tok_opts){
        .max_length = 0, .truncate_left = false, .add_special_tokens = true, .replace_invalid_utf8 = false};
}

/* ------------------------------------------------------------------ oracle: edge cases */

static void check_edge_cases(lb_tokenizer *tok, const char *which) {
    REQUIRE_SHARED("data/tokenizer/oracle/edge_cases.jsonl");
    char *p = shared_path("data/tokenizer/oracle/edge_cases.jsonl");
    size_t len;
    char *data = read_all(p, &len);
    free(p);
    lb_encoding enc = {0};
    lb_error e;
    int cases = 0, bad = 0;
    for (char *line = strtok(data, "\n"); line; line = strtok(NULL, "\n")) {
        cJSON *j = cJSON_Parse(line);
        cr_assert_not_null(j);
        size_t tl;
        char *text = json_str_field(line, "text", &tl);
        const char *id = cJSON_GetObjectItem(j, "id")->valuestring;
        char why[128];
        lb_tok_opts o = opts_default();
        cr_assert_eq(lb_tokenize(tok, text, tl, &o, &enc, &e), LB_OK, "%s: %s", id, e.msg);
        if (!same_ids(&enc, cJSON_GetObjectItem(j, "input_ids"), why, sizeof why)) {
            cr_log_error("%s: edge case %s: %s", which, id, why);
            bad++;
        }
        o.add_special_tokens = false;
        cr_assert_eq(lb_tokenize(tok, text, tl, &o, &enc, &e), LB_OK, "%s: %s", id, e.msg);
        if (!same_ids(&enc, cJSON_GetObjectItem(j, "input_ids_no_special"), why, sizeof why)) {
            cr_log_error("%s: edge case %s without specials: %s", which, id, why);
            bad++;
        }
        cases++;
        free(text);
        cJSON_Delete(j);
    }
    lb_encoding_free(&enc);
    free(data);
    cr_assert_eq(cases, 38);
    cr_assert_eq(bad, 0, "%d edge-case mismatches (%s)", bad, which);
}

Test(tokenizer_oracle, edge_cases_tokenizer_json) {
    lb_tokenizer *t = load_json_tok();
    check_edge_cases(t, "tokenizer.json");
    lb_tokenizer_free(t);
}

Test(tokenizer_oracle, edge_cases_vocab_txt) {
    REQUIRE_SHARED("data/tokenizer/vocab.txt");
    /* from_pretrained on a vocab.txt-only folder adds [CLS] [SEP] [PAD] [UNK] [MASK] as
     * special tokens, so they match literally, as in the oracle (checked with transformers
     * 4.32.1: AutoTokenizer/DistilBertTokenizerFast.from_pretrained(dir with vocab.txt)). */
    lb_tokenizer *t = load_vocab_tok();
    check_edge_cases(t, "vocab.txt");
    lb_tokenizer_free(t);
}

/* ------------------------------------------------------------------ oracle: IMDb */

static void check_imdb(lb_tokenizer *tok, const char *split, const char *which) {
    char rel_text[128], rel_ids[128];
    snprintf(rel_text, sizeof rel_text, "data/imdb/%s.jsonl", split);
    snprintf(rel_ids, sizeof rel_ids, "data/tokenizer/oracle/imdb_%s_ids.jsonl", split);
    REQUIRE_SHARED(rel_text);
    REQUIRE_SHARED(rel_ids);
    char *pt = shared_path(rel_text), *pi = shared_path(rel_ids);
    size_t lt, li;
    char *texts = read_all(pt, &lt), *ids = read_all(pi, &li);
    free(pt);
    free(pi);
    lb_encoding enc = {0};
    lb_error e;
    int rows = 0, bad = 0, truncated = 0;
    char *s1, *s2;
    char *tl = strtok_r(texts, "\n", &s1), *il = strtok_r(ids, "\n", &s2);
    for (; tl && il; tl = strtok_r(NULL, "\n", &s1), il = strtok_r(NULL, "\n", &s2)) {
        size_t n;
        char *text = json_str_field(tl, "text", &n);
        cJSON *j = cJSON_Parse(il);
        cr_assert_not_null(j);
        char why[128];
        lb_tok_opts o = opts_default();
        cr_assert_eq(lb_tokenize(tok, text, n, &o, &enc, &e), LB_OK, "%s", e.msg);
        const cJSON *full = cJSON_GetObjectItem(j, "input_ids");
        if (!same_ids(&enc, full, why, sizeof why)) {
            cr_log_error("%s %s row %d: %s", which, split, rows, why);
            bad++;
        }
        const cJSON *left = cJSON_GetObjectItem(j, "input_ids_trunc512_left");
        const cJSON *right = cJSON_GetObjectItem(j, "input_ids_trunc512_right");
        truncated += left != NULL;
        o.max_length = 512;
        o.truncate_left = true;
        cr_assert_eq(lb_tokenize(tok, text, n, &o, &enc, &e), LB_OK, "%s", e.msg);
        if (!same_ids(&enc, left ? left : full, why, sizeof why)) {
            cr_log_error("%s %s row %d left-truncated: %s", which, split, rows, why);
            bad++;
        }
        o.truncate_left = false;
        cr_assert_eq(lb_tokenize(tok, text, n, &o, &enc, &e), LB_OK, "%s", e.msg);
        if (!same_ids(&enc, right ? right : full, why, sizeof why)) {
            cr_log_error("%s %s row %d right-truncated: %s", which, split, rows, why);
            bad++;
        }
        cJSON_Delete(j);
        free(text);
        rows++;
    }
    free(texts);
    free(ids);
    lb_encoding_free(&enc);
    cr_assert_eq(rows, 1000);
    cr_assert_gt(truncated, 100);
    cr_assert_eq(bad, 0, "%d mismatches (%s, %s)", bad, which, split);
}

Test(tokenizer_oracle, imdb_tokenizer_json, .timeout = 120) {
    lb_tokenizer *t = load_json_tok();
    check_imdb(t, "train", "tokenizer.json");
    check_imdb(t, "validation", "tokenizer.json");
    lb_tokenizer_free(t);
}

Test(tokenizer_oracle, imdb_vocab_txt, .timeout = 120) {
    REQUIRE_SHARED("data/tokenizer/vocab.txt");
    lb_tokenizer *t = load_vocab_tok();
    check_imdb(t, "train", "vocab.txt");
    check_imdb(t, "validation", "vocab.txt");
    lb_tokenizer_free(t);
}

/* ------------------------------------------------------------------ per-code-point golden */

/* The signature tools/reference/gen_tokenizer_unicode.py writes for code point cp. */
static void signature(const lb_bert_norm *nm, int32_t cp, lb_bytebuf *norm, lb_cpbuf *pend, lb_cpbuf *spans, char *sig,
                      size_t cap) {
    uint8_t in[8];
    size_t n = 0;
    in[n++] = 'a';
    n += (size_t)lb_utf8_encode(cp, in + n);
    in[n++] = 'b';
    lb_error e;
    norm->n = 0;
    spans->n = 0;
    cr_assert_eq(lb_bert_normalize(nm, in, n, norm, pend, &e), LB_OK, "%s", e.msg);
    cr_assert_eq(lb_pretokenize(norm->p, norm->n, spans, &e), LB_OK, "%s", e.msg);
    size_t o = 0;
    for (size_t w = 0; w < spans->n; w += 2) {
        if (w) sig[o++] = '|';
        const uint8_t *s = norm->p + spans->p[w];
        size_t len = (size_t)spans->p[w + 1], i = 0;
        while (i < len) {
            int32_t c;
            int k = lb_utf8_decode(s + i, len - i, &c);
            cr_assert_gt(k, 0);
            i += (size_t)k;
            if (o + 16 >= cap) break;
            if (c == cp) sig[o++] = '@';
            else if (c >= 'a' && c <= 'z') sig[o++] = (char)c;
            else o += (size_t)snprintf(sig + o, cap - o, "{%X}", (unsigned)c);
        }
    }
    if (!o) sig[o++] = '-';
    sig[o] = 0;
}

Test(tokenizer_unicode, every_code_point_matches_tokenizers_0_13_3, .timeout = 300) {
    size_t len;
    char *data = read_all("tests/golden/tokenizer_unicode.txt", &len);
    lb_bert_norm uncased, cased;
    lb_bert_norm_init(&uncased, true, true, -1, true);
    lb_bert_norm_init(&cased, true, true, -1, false);
    lb_bytebuf norm = {0};
    lb_cpbuf pend = {0}, spans = {0};
    long checked = 0, bad = 0;
    char *save;
    for (char *line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == '#') continue;
        char cfg[16], want[256];
        unsigned lo, hi;
        cr_assert_eq(sscanf(line, "%15s %X %X %255s", cfg, &lo, &hi, want), 4, "bad golden line: %s", line);
        const lb_bert_norm *nm = !strcmp(cfg, "uncased") ? &uncased : &cased;
        for (unsigned cp = lo; cp <= hi; cp++) {
            char got[256];
            signature(nm, (int32_t)cp, &norm, &pend, &spans, got, sizeof got);
            checked++;
            if (strcmp(got, want)) {
                if (bad < 20) cr_log_error("%s U+%04X: got %s, tokenizers gives %s", cfg, cp, got, want);
                bad++;
            }
        }
    }
    free(norm.p);
    free(pend.p);
    free(spans.p);
    free(data);
    cr_assert_eq(checked, 2L * (0x110000 - 0x800), "golden covers %ld code points", checked);
    cr_assert_eq(bad, 0, "%ld of %ld code points differ from tokenizers 0.13.3", bad, checked);
}

/* ------------------------------------------------------------------ added tokens */

/* A tiny tokenizer.json exercising added-token options; expected ids from tokenizers 0.13.3. */
static const char tiny_json[] =
    "{\"version\":\"1.0\",\"truncation\":null,\"padding\":null,\"added_tokens\":[{\"id\":0,\"content\":\"[PAD]\",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,\"normalized\":false,\"special\":true},{\"id\":1,\"content\":\"[UNK]\",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,\"normalized\":false,\"special\":true},{\"id\":2,\"content\":\"[CLS]\",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,\"normalized\":false,\"special\":true},{\"id\":3,\"content\":\"[SEP]\",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,\"normalized\":false,\"special\":true},{\"id\":4,\"content\":\"[MASK]\",\"single_word\":false,\"lstrip\":true,\"rstrip\":true,\"normalized\":false,\"special\":true},{\"id\":18,\"content\":\"<Tag>\",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,\"normalized\":true,\"special\":false},{\"id\":19,\"content\":\"zed\",\"single_word\":true,\"lstrip\":false,\"rstrip\":false,\"normalized\":false,\"special\":false}],\"normalizer\":{\"type\":\"BertNormalizer\",\"clean_text\":true,\"handle_chinese_chars\":true,\"strip_accents\":null,\"lowercase\":true},\"pre_tokenizer\":{\"type\":\"BertPreTokenizer\"},\"post_processor\":{\"type\":\"BertProcessing\",\"sep\":[\"[SEP]\",3],\"cls\":[\"[CLS]\",2]},\"decoder\":null,\"model\":{\"type\":\"WordPiece\",\"unk_token\":\"[UNK]\",\"continuing_subword_prefix\":\"##\",\"max_input_chars_per_word\":100,\"vocab\":{\"[PAD]\":0,\"[UNK]\":1,\"[CLS]\":2,\"[SEP]\":3,\"[MASK]\":4,\"hello\":5,\"world\":6,\"foo\":7,\"##bar\":8,\"bar\":9,\"a\":10,\"b\":11,\",\":12,\"!\":13,\"the\":14,\"##s\":15,\"cafe\":16,\"new\":17}}}";

static lb_tokenizer *load_tiny(char **dir) {
    *dir = make_tmpdir();
    write_file(*dir, "tokenizer.json", tiny_json, strlen(tiny_json));
    char *p = lb_path_join(*dir, "tokenizer.json");
    lb_error e;
    lb_tokenizer *t = lb_tokenizer_load_json(p, &e);
    cr_assert_not_null(t, "%s", e.msg);
    free(p);
    return t;
}

static void expect_ids(lb_tokenizer *t, const char *text, bool specials, const int32_t *want, int n) {
    lb_encoding enc = {0};
    lb_error e;
    lb_tok_opts o = opts_default();
    o.add_special_tokens = specials;
    cr_assert_eq(lb_tokenize(t, text, strlen(text), &o, &enc, &e), LB_OK, "%s", e.msg);
    cr_assert_eq(enc.n, n, "'%s': %d ids, expected %d", text, enc.n, n);
    for (int i = 0; i < n; i++)
        cr_assert_eq(enc.ids[i], want[i], "'%s': id[%d] = %d, expected %d", text, i, enc.ids[i], want[i]);
    lb_encoding_free(&enc);
}

#define EXPECT(t, text, specials, ...)                                      \
    do {                                                                    \
        const int32_t w_[] = {__VA_ARGS__};                                 \
        expect_ids(t, text, specials, w_, (int)(sizeof w_ / sizeof w_[0])); \
    } while (0)

Test(tokenizer_added, lstrip_rstrip_single_word_normalized) {
    char *dir;
    lb_tokenizer *t = load_tiny(&dir);
    EXPECT(t, "hello [MASK] world", true, 2, 5, 4, 6, 3);
    EXPECT(t, "hello[MASK]world", false, 5, 4, 6);
    EXPECT(t, "a <tag> b <TAG>c", true, 2, 10, 18, 11, 18, 1, 3);
    EXPECT(t, "zed a zedzed zed,b _zed", true, 2, 19, 10, 1, 19, 12, 11, 1, 1, 3);
    EXPECT(t, "foobar bars Café!", true, 2, 7, 8, 9, 15, 16, 13, 3);
    EXPECT(t, "hello   [MASK]   ", true, 2, 5, 4, 3);
    EXPECT(t, "x[SEP]y", false, 1, 3, 1);
    cr_assert_eq(lb_tokenizer_vocab_size(t), 20);
    cr_assert_str_eq(lb_tokenizer_id_to_token(t, 18), "<Tag>");
    cr_assert_eq(lb_tokenizer_token_to_id(t, "zed"), 19);
    cr_assert_eq(lb_tokenizer_token_to_id(t, "##bar"), 8);
    cr_assert_eq(lb_tokenizer_token_to_id(t, "nope"), -1);
    lb_tokenizer_free(t);
    rm_dir(dir);
    free(dir);
}

/* ------------------------------------------------------------------ truncation */

Test(tokenizer_truncation, pair_longest_first_as_tokenizers_0_13_3) {
    REQUIRE_SHARED("data/tokenizer/tokenizer.shawhin-checkpoint.json");
    lb_tokenizer *t = load_json_tok();
    /* [CLS] A [SEP] B [SEP]; expected lengths of A and B from tokenizers 0.13.3 (enable_truncation). */
    struct {
        const char *a, *b;
        int ml;
        int na, nb;
    } cases[] = {
        {"one two three four five six seven", "alpha beta gamma", 3, 0, 0},
        {"one two three four five six seven", "alpha beta gamma", 4, 1, 0},
        {"one two three four five six seven", "alpha beta gamma", 5, 1, 1},
        {"one two three four five six seven", "alpha beta gamma", 6, 2, 1},
        {"one two three four five six seven", "alpha beta gamma", 8, 3, 2},
        {"one two three four five six seven", "alpha beta gamma", 10, 4, 3},
        {"one two three four five six seven", "alpha beta gamma", 12, 6, 3},
        {"one two three four five six seven", "alpha beta gamma", 14, 7, 3},
        {"one two three", "alpha beta gamma", 8, 2, 3},
        {"one two three", "alpha beta gamma", 6, 1, 2},
        {"one two", "alpha beta gamma delta epsilon zeta", 4, 0, 1},
        {"one two", "alpha beta gamma delta epsilon zeta", 6, 1, 2},
        {"one two", "alpha beta gamma delta epsilon zeta", 8, 2, 3},
    };
    lb_encoding enc = {0}, ea = {0}, eb = {0};
    int32_t *tt = NULL;
    lb_error e;
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        for (int left = 0; left < 2; left++) {
            lb_tok_opts o = opts_default();
            lb_tok_opts plain = opts_default();
            plain.add_special_tokens = false;
            o.max_length = cases[k].ml;
            o.truncate_left = left;
            cr_assert_eq(
                lb_tokenize_pair(t, cases[k].a, strlen(cases[k].a), cases[k].b, strlen(cases[k].b), &o, &enc, &tt, &e),
                LB_OK, "%s", e.msg);
            cr_assert_eq(lb_tokenize(t, cases[k].a, strlen(cases[k].a), &plain, &ea, &e), LB_OK);
            cr_assert_eq(lb_tokenize(t, cases[k].b, strlen(cases[k].b), &plain, &eb, &e), LB_OK);
            int na = cases[k].na, nb = cases[k].nb;
            cr_assert_eq(enc.n, na + nb + 3, "case %zu: %d ids", k, enc.n);
            cr_assert_eq(enc.ids[0], 101);
            cr_assert_eq(enc.ids[na + 1], 102);
            cr_assert_eq(enc.ids[na + nb + 2], 102);
            for (int i = 0; i < na; i++)
                cr_assert_eq(enc.ids[1 + i], ea.ids[left ? ea.n - na + i : i], "case %zu A[%d]", k, i);
            for (int i = 0; i < nb; i++)
                cr_assert_eq(enc.ids[na + 2 + i], eb.ids[left ? eb.n - nb + i : i], "case %zu B[%d]", k, i);
            for (int i = 0; i < enc.n; i++) cr_assert_eq(tt[i], i < na + 2 ? 0 : 1, "case %zu type[%d]", k, i);
        }
    }
    /* Without specials the pair is A B with type ids 0... 1... */
    lb_tok_opts plain = opts_default();
    plain.add_special_tokens = false;
    cr_assert_eq(lb_tokenize_pair(t, "hello world", 11, "good day", 8, &plain, &enc, &tt, &e), LB_OK);
    cr_assert_eq(enc.n, 4);
    cr_assert_eq(tt[0] + tt[1], 0);
    cr_assert_eq(tt[2] + tt[3], 2);
    free(tt);
    lb_encoding_free(&enc);
    lb_encoding_free(&ea);
    lb_encoding_free(&eb);
    lb_tokenizer_free(t);
}

Test(tokenizer_truncation, single_sides_and_limits) {
    REQUIRE_SHARED("data/tokenizer/vocab.txt");
    lb_tokenizer *t = load_vocab_tok();
    EXPECT(t, "one two three four", true, 101, 2028, 2048, 2093, 2176, 102);
    lb_encoding enc = {0};
    lb_error e;
    lb_tok_opts o = opts_default();
    o.max_length = 4;
    cr_assert_eq(lb_tokenize(t, "one two three four", 18, &o, &enc, &e), LB_OK);
    cr_assert_eq(enc.n, 4);
    cr_assert_eq(enc.ids[1], 2028);
    cr_assert_eq(enc.ids[2], 2048);
    cr_assert_eq(enc.ids[3], 102);
    o.truncate_left = true;
    cr_assert_eq(lb_tokenize(t, "one two three four", 18, &o, &enc, &e), LB_OK);
    cr_assert_eq(enc.ids[1], 2093);
    cr_assert_eq(enc.ids[2], 2176);
    o.max_length = 2; /* only the specials fit */
    cr_assert_eq(lb_tokenize(t, "one two", 7, &o, &enc, &e), LB_OK);
    cr_assert_eq(enc.n, 2);
    o.max_length = 1;
    cr_assert_eq(lb_tokenize(t, "one two", 7, &o, &enc, &e), LB_ERR_USAGE);
    cr_assert(strstr(e.msg, "max_length 1"), "%s", e.msg);
    o.add_special_tokens = false; /* now 1 is fine */
    cr_assert_eq(lb_tokenize(t, "one two", 7, &o, &enc, &e), LB_OK);
    cr_assert_eq(enc.n, 1);
    cr_assert_eq(enc.ids[0], 2048);
    lb_encoding_free(&enc);
    lb_tokenizer_free(t);
}

/* ------------------------------------------------------------------ bad input */

Test(tokenizer_input, invalid_utf8_names_the_byte) {
    REQUIRE_SHARED("data/tokenizer/vocab.txt");
    lb_tokenizer *t = load_vocab_tok();
    lb_encoding enc = {0};
    lb_error e;
    lb_tok_opts o = opts_default();
    struct {
        const char *s;
        size_t len, off;
    } bad[] = {
        {"hello\xff world", 12, 5}, {"ab\xc0\x80", 4, 2},              /* overlong */
        {"abc\xed\xa0\x80", 6, 3},  /* surrogate */ {"caf\xc3", 4, 3}, /* truncated */
        {"\xf4\x90\x80\x80", 4, 0}, /* above U+10FFFF */ {"x\x80", 2, 1},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        cr_assert_eq(lb_tokenize(t, bad[k].s, bad[k].len, &o, &enc, &e), LB_ERR_FORMAT, "case %zu", k);
        char want[64];
        snprintf(want, sizeof want, "invalid UTF-8 at byte %zu", bad[k].off);
        cr_assert(strstr(e.msg, want), "case %zu: %s", k, e.msg);
    }
    /* Replaced by U+FFFD, which clean_text drops: "ca\xff fe" == "ca fe", "hel\xfflo" == "hello". */
    o.replace_invalid_utf8 = true;
    cr_assert_eq(lb_tokenize(t, "hel\xfflo wor\xed\xa0\x80ld", 16, &o, &enc, &e), LB_OK, "%s", e.msg);
    cr_assert_eq(enc.n, 4);
    cr_assert_eq(enc.ids[1], 7592);
    cr_assert_eq(enc.ids[2], 2088);
    lb_encoding_free(&enc);
    lb_tokenizer_free(t);
}

Test(tokenizer_input, sanitize_matches_python_replace) {
    /* Python: b"a\xed\xa0\x80b\xe2\x82c\xc0\x80d\xf0\x9f\x98".decode("utf-8", "replace") has
     * 3 + 1 + 2 + 1 replacement chars. */
    const char in[] = "a\xed\xa0\x80"
                      "b\xe2\x82"
                      "c\xc0\x80"
                      "d\xf0\x9f\x98";
    char *out;
    size_t n;
    lb_error e;
    cr_assert_eq(lb_utf8_sanitize((const uint8_t *)in, sizeof in - 1, &out, &n, &e), LB_OK);
    int repl = 0;
    for (size_t i = 0; i + 2 < n; i++) repl += !memcmp(out + i, "\xef\xbf\xbd", 3);
    cr_assert_eq(repl, 7);
    cr_assert_eq(n, 4 + 7 * 3);
    cr_assert_eq(lb_utf8_first_invalid((const uint8_t *)out, n), n);
    free(out);
}

Test(tokenizer_input, empty_and_huge) {
    REQUIRE_SHARED("data/tokenizer/vocab.txt");
    lb_tokenizer *t = load_vocab_tok();
    EXPECT(t, "", true, 101, 102);
    lb_encoding enc = {0};
    lb_error e;
    lb_tok_opts o = opts_default();
    o.add_special_tokens = false;
    cr_assert_eq(lb_tokenize(t, "", 0, &o, &enc, &e), LB_OK);
    cr_assert_eq(enc.n, 0);
    cr_assert_eq(lb_tokenize(t, NULL, 0, &o, &enc, &e), LB_OK);
    cr_assert_eq(enc.n, 0);
    /* A 1 MB word is one [UNK]; 200k short words are 200k ids. */
    size_t n = 1 << 20;
    char *big = malloc(n);
    memset(big, 'a', n);
    o.add_special_tokens = true;
    cr_assert_eq(lb_tokenize(t, big, n, &o, &enc, &e), LB_OK);
    cr_assert_eq(enc.n, 3);
    cr_assert_eq(enc.ids[1], 100);
    for (size_t i = 0; i < 200000; i++) memcpy(big + 4 * i, "the ", 4);
    cr_assert_eq(lb_tokenize(t, big, 800000, &o, &enc, &e), LB_OK);
    cr_assert_eq(enc.n, 200002);
    cr_assert_eq(enc.ids[100000], 1996);
    o.max_length = 512;
    o.truncate_left = true;
    cr_assert_eq(lb_tokenize(t, big, 800000, &o, &enc, &e), LB_OK);
    cr_assert_eq(enc.n, 512);
    free(big);
    lb_encoding_free(&enc);
    lb_tokenizer_free(t);
}

/* ------------------------------------------------------------------ loading */

Test(tokenizer_load, accessors) {
    REQUIRE_SHARED("data/tokenizer/vocab.txt");
    lb_tokenizer *t = load_vocab_tok(), *j = load_json_tok();
    lb_tokenizer *both[2] = {t, j};
    for (int k = 0; k < 2; k++) {
        cr_assert_eq(lb_tokenizer_vocab_size(both[k]), 30522);
        cr_assert_eq(lb_tokenizer_pad_id(both[k]), 0);
        cr_assert_eq(lb_tokenizer_model_max_length(both[k]), 512);
        cr_assert_str_eq(lb_tokenizer_id_to_token(both[k], 101), "[CLS]");
        cr_assert_str_eq(lb_tokenizer_id_to_token(both[k], 30521), "##\xef\xbd\x9e");
        cr_assert_null(lb_tokenizer_id_to_token(both[k], 30522));
        cr_assert_null(lb_tokenizer_id_to_token(both[k], -1));
        cr_assert_eq(lb_tokenizer_token_to_id(both[k], "##ing"), 2075);
    }
    lb_tokenizer_free(t);
    lb_tokenizer_free(j);
}

Test(tokenizer_load, folder_prefers_tokenizer_json_and_applies_config) {
    REQUIRE_SHARED("data/tokenizer/tokenizer.shawhin-checkpoint.json");
    char *dir = make_tmpdir();
    lb_error e;
    /* vocab.txt only */
    char *vp = shared_path("data/tokenizer/vocab.txt");
    size_t vl;
    char *vocab = read_all(vp, &vl);
    free(vp);
    write_file(dir, "vocab.txt", vocab, vl);
    free(vocab);
    lb_tokenizer *t = lb_tokenizer_load(dir, &e);
    cr_assert_not_null(t, "%s", e.msg);
    EXPECT(t, "Hello [SEP]", true, 101, 7592, 102, 102);
    lb_tokenizer_free(t);
    /* tokenizer.json with lowercase=false: transformers' BertTokenizerFast still lowercases
     * (do_lower_case defaults to true) unless tokenizer_config.json says otherwise. */
    char *jp = shared_path("data/tokenizer/tokenizer.shawhin-checkpoint.json");
    size_t jl;
    char *json = read_all(jp, &jl);
    free(jp);
    char *lc = strstr(json, "\"lowercase\": true");
    cr_assert_not_null(lc);
    memcpy(lc, "\"lowercase\":false", 17);
    write_file(dir, "tokenizer.json", json, jl);
    free(json);
    t = lb_tokenizer_load(dir, &e);
    cr_assert_not_null(t, "%s", e.msg);
    EXPECT(t, "Hello", true, 101, 7592, 102);
    lb_tokenizer_free(t);
    write_file(dir, "tokenizer_config.json", "{\"do_lower_case\": false, \"model_max_length\": 128}", 49);
    t = lb_tokenizer_load(dir, &e);
    cr_assert_not_null(t, "%s", e.msg);
    EXPECT(t, "Hello", true, 101, 100, 102); /* "Hello" is not in the uncased vocab */
    cr_assert_eq(lb_tokenizer_model_max_length(t), 128);
    lb_tokenizer_free(t);
    /* lb_tokenizer_load_json alone follows tokenizer.json (tokenizers' Tokenizer.from_file). */
    char *p = lb_path_join(dir, "tokenizer.json");
    t = lb_tokenizer_load_json(p, &e);
    cr_assert_not_null(t, "%s", e.msg);
    EXPECT(t, "Hello", true, 101, 100, 102);
    lb_tokenizer_free(t);
    free(p);
    rm_dir(dir);
    free(dir);
}

static void expect_load_error(const char *name, const char *content, lb_status code, const char *needle) {
    char *dir = make_tmpdir();
    write_file(dir, name, content, strlen(content));
    lb_error e = {0};
    lb_tokenizer *t = lb_tokenizer_load(dir, &e);
    cr_assert_null(t, "%s loaded: %s", name, content);
    cr_assert_eq(e.code, code, "%s: code %d (%s)", content, e.code, e.msg);
    cr_assert(strstr(e.msg, needle), "message '%s' lacks '%s'", e.msg, needle);
    cr_assert(strstr(e.msg, name), "message '%s' does not name %s", e.msg, name);
    rm_dir(dir);
    free(dir);
}

Test(tokenizer_load, errors_are_clear) {
    lb_error e = {0};
    cr_assert_null(lb_tokenizer_load("/nonexistent/lorabert/model", &e));
    cr_assert_eq(e.code, LB_ERR_IO);
    char *dir = make_tmpdir();
    cr_assert_null(lb_tokenizer_load(dir, &e));
    cr_assert_eq(e.code, LB_ERR_IO);
    cr_assert(strstr(e.msg, "no tokenizer.json or vocab.txt"), "%s", e.msg);
    rm_dir(dir);
    free(dir);
    expect_load_error("tokenizer.json", "", LB_ERR_FORMAT, "invalid JSON");
    expect_load_error("tokenizer.json", "{\"model\": {\"vocab\": {\"a\": 0}", LB_ERR_FORMAT, "invalid JSON");
    expect_load_error("tokenizer.json", "{\"model\": {\"vocab\": {\"a\": 0}}} x", LB_ERR_FORMAT, "after the JSON");
    expect_load_error("tokenizer.json", "[]", LB_ERR_FORMAT, "expected a JSON object");
    expect_load_error("tokenizer.json", "{}", LB_ERR_FORMAT, "model");
    expect_load_error("tokenizer.json", "{\"model\": {\"type\": \"WordLevel\", \"vocab\": {}}}", LB_ERR_UNSUPPORTED,
                      "WordLevel");
    expect_load_error("tokenizer.json", "{\"model\": {\"vocab\": []}}", LB_ERR_FORMAT, "model.vocab");
    expect_load_error("tokenizer.json", "{\"model\": {\"vocab\": {\"a\": -1}}}", LB_ERR_FORMAT, "integer");
    expect_load_error("tokenizer.json", "{\"model\": {\"vocab\": {\"a\": 1e12}}}", LB_ERR_FORMAT, "integer");
    expect_load_error("tokenizer.json", "{\"model\": {\"vocab\": {\"a\": 0}}, \"normalizer\": {\"type\": \"NFKC\"}}",
                      LB_ERR_UNSUPPORTED, "NFKC");
    expect_load_error("tokenizer.json", "{\"model\": {\"vocab\": {\"a\": 0}}, \"added_tokens\": [{\"id\": 1}]}",
                      LB_ERR_FORMAT, "added_tokens[0]");
    expect_load_error("tokenizer.json",
                      "{\"model\": {\"vocab\": {\"a\": 0}}, \"post_processor\": {\"type\": \"TemplateProcessing\", "
                      "\"single\": [{\"SpecialToken\": {\"id\": \"[CLS]\"}}], \"pair\": []}}",
                      LB_ERR_FORMAT, "[CLS]");
    /* Fuzzer find: BertProcessing without "cls" defaults to id 101, absent from this vocab. */
    expect_load_error("tokenizer.json",
                      "{\"model\": {\"vocab\": {\"[SEP]\": 0}}, \"post_processor\": {\"type\": \"BertProcessing\", "
                      "\"sep\": [\"[SEP]\", 0]}}",
                      LB_ERR_FORMAT, "special token id 101 is not in the vocabulary");
    expect_load_error("vocab.txt", "[PAD]\nab\xff\n", LB_ERR_FORMAT, "line 2");
    expect_load_error("vocab.txt", "", LB_ERR_FORMAT, "empty");
}

Test(tokenizer_load, truncated_tokenizer_json_never_crashes) {
    REQUIRE_SHARED("data/tokenizer/tokenizer.shawhin-checkpoint.json");
    char *jp = shared_path("data/tokenizer/tokenizer.shawhin-checkpoint.json");
    size_t jl;
    char *json = read_all(jp, &jl);
    free(jp);
    char *dir = make_tmpdir();
    size_t cuts[] = {1, 100, 1500, 2400, 3000, jl / 2, jl - 3};
    for (size_t k = 0; k < sizeof cuts / sizeof cuts[0]; k++) {
        write_file(dir, "tokenizer.json", json, cuts[k]);
        lb_error e = {0};
        lb_tokenizer *t = lb_tokenizer_load(dir, &e);
        cr_assert_null(t, "cut at %zu loaded", cuts[k]);
        cr_assert_eq(e.code, LB_ERR_FORMAT, "cut %zu: %s", cuts[k], e.msg);
        cr_assert(strstr(e.msg, "tokenizer.json: invalid JSON at line"), "%s", e.msg);
    }
    free(json);
    rm_dir(dir);
    free(dir);
}

Test(tokenizer_vocab, hash_table_grows_and_finds_everything) {
    lb_vocab v;
    lb_error e;
    cr_assert_eq(lb_vocab_init(&v, 4, &e), LB_OK);
    char key[32];
    for (int i = 0; i < 50000; i++) {
        int n = snprintf(key, sizeof key, "k%d", i * 7);
        cr_assert_eq(lb_vocab_put(&v, key, (size_t)n, i, &e), LB_OK);
    }
    cr_assert_eq(lb_vocab_put(&v, "k0", 2, 99, &e), LB_OK); /* later entries win */
    for (int i = 1; i < 50000; i++) {
        int n = snprintf(key, sizeof key, "k%d", i * 7);
        cr_assert_eq(lb_vocab_get(&v, key, (size_t)n), i);
    }
    cr_assert_eq(lb_vocab_get(&v, "k0", 2), 99);
    cr_assert_eq(lb_vocab_get(&v, "k1", 2), -1);
    cr_assert_eq(lb_vocab_get(&v, "", 0), -1);
    cr_assert_eq(v.count, 50000);
    lb_vocab_free(&v);
}

/* The tokenizer is shared read-only: OpenMP threads tokenizing at once give the sequential ids. */
Test(tokenizer_batch, parallel_equals_sequential) {
    REQUIRE_SHARED("data/imdb/train.jsonl");
    lb_tokenizer *t = load_vocab_tok();
    char *p = shared_path("data/imdb/train.jsonl");
    size_t len;
    char *data = read_all(p, &len);
    free(p);
    enum { N = 200 };
    char *texts[N];
    size_t lens[N];
    int n = 0;
    for (char *line = strtok(data, "\n"); line && n < N; line = strtok(NULL, "\n"), n++)
        texts[n] = json_str_field(line, "text", &lens[n]);
    cr_assert_eq(n, N);
    lb_encoding outs[N] = {{0}}, one = {0};
    lb_error e;
    lb_tok_opts o = opts_default();
    o.max_length = 128;
    o.truncate_left = true;
    int bad = 0;
#pragma omp parallel for schedule(dynamic, 8) reduction(+ : bad)
    for (int i = 0; i < N; i++) {
        lb_error te;
        bad += lb_tokenize(t, texts[i], lens[i], &o, &outs[i], &te) != LB_OK;
    }
    cr_assert_eq(bad, 0);
    for (int i = 0; i < N; i++) {
        cr_assert_eq(lb_tokenize(t, texts[i], lens[i], &o, &one, &e), LB_OK);
        cr_assert_eq(outs[i].n, one.n);
        cr_assert_arr_eq(outs[i].ids, one.ids, (size_t)one.n * sizeof *one.ids, "text %d", i);
    }
    for (int i = 0; i < N; i++) {
        free(texts[i]);
        lb_encoding_free(&outs[i]);
    }
    lb_encoding_free(&one);
    free(data);
    lb_tokenizer_free(t);
}

Test(tokenizer_vocab, inline_and_pooled_keys_with_any_bytes) {
    lb_vocab v;
    lb_error e;
    cr_assert_eq(lb_vocab_init(&v, 8, &e), LB_OK);
    /* Lengths 0..24 cross the inline (<= 7 bytes) / pooled boundary; keys contain NUL and
     * 0xFF bytes and share prefixes. */
    char keys[25][24];
    for (int l = 0; l <= 24; l++) {
        for (int i = 0; i < l; i++) keys[l][i] = (char)(i % 3 == 0 ? 0 : i % 3 == 1 ? 0xff : 'a' + l);
        cr_assert_eq(lb_vocab_put(&v, keys[l], (size_t)l, 1000 + l, &e), LB_OK);
    }
    for (int l = 0; l <= 24; l++) {
        cr_assert_eq(lb_vocab_get(&v, keys[l], (size_t)l), 1000 + l, "length %d", l);
        if (l) {
            char k[24];
            memcpy(k, keys[l], (size_t)l);
            k[l - 1] ^= 1; /* differs in the last byte only */
            cr_assert_eq(lb_vocab_get(&v, k, (size_t)l), -1, "length %d", l);
        }
    }
    size_t pos = 0, len;
    const char *key;
    int32_t id;
    int n = 0;
    while (lb_vocab_next(&v, &pos, &key, &len, &id)) {
        cr_assert_eq(len, (size_t)n);
        cr_assert_eq(id, 1000 + n);
        cr_assert(!memcmp(key, keys[n], len));
        cr_assert_eq(key[len], 0);
        n++;
    }
    cr_assert_eq(n, 25);
    lb_vocab_free(&v);
}

/* Issue 10 item 6: a vocab.txt without [CLS] or [SEP] is refused naming the token
 * (transformers 4.32 would add it as a new id past the vocabulary: an IndexError in a model
 * of that vocab_size); it used to fall back to [UNK]'s id silently. */
Test(tokenizer_vocab, missing_cls_or_sep_refused) {
    char dir[] = "/tmp/lbvocXXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    const char *cases[] = {"[PAD]\n[UNK]\n[SEP]\n[MASK]\nhello\n", "[PAD]\n[UNK]\n[CLS]\n[MASK]\nhello\n"};
    const char *want[] = {"cls_token '[CLS]' is not in the vocabulary", "sep_token '[SEP]' is not in the vocabulary"};
    for (int k = 0; k < 2; k++) {
        write_file(dir, "vocab.txt", cases[k], strlen(cases[k]));
        lb_error e;
        lb_tokenizer *t = lb_tokenizer_load(dir, &e);
        cr_assert_null(t);
        cr_assert_eq(e.code, LB_ERR_FORMAT);
        cr_assert(strstr(e.msg, want[k]), "%s", e.msg);
    }
    const char *ok = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\n";
    write_file(dir, "vocab.txt", ok, strlen(ok));
    lb_error e;
    lb_tokenizer *t = lb_tokenizer_load(dir, &e);
    cr_assert_not_null(t, "%s", e.msg);
    lb_tokenizer_free(t);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

/* ---- the transformers class AutoTokenizer builds over tokenizer.json (golden:
 * tools/reference/tokenizer_class_golden.py -> tests/golden/tokenizer_class/cases.json) */

static void write_json_or_nothing(const char dir[4096], const char *name, const cJSON *obj) {
    if (!obj || cJSON_IsNull(obj)) return;
    char *text = cJSON_PrintUnformatted(obj), path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    write_text(path, text);
    free(text);
}

/* Every text of the golden through t must give the case's ids. */
static void expect_case_ids(lb_tokenizer *t, const cJSON *texts, const cJSON *ids, const char *name) {
    lb_tok_opts o = opts_default();
    for (int i = 0; i < cJSON_GetArraySize(texts); i++) {
        const char *text = cJSON_GetArrayItem(texts, i)->valuestring;
        lb_encoding enc = {0};
        lb_error e;
        cr_assert_eq(lb_tokenize(t, text, strlen(text), &o, &enc, &e), LB_OK, "%s", e.msg);
        char why[128];
        cr_assert(same_ids(&enc, cJSON_GetArrayItem(ids, i), why, sizeof why), "%s, '%s': %s", name, text, why);
        lb_encoding_free(&enc);
    }
}

Test(tokenizer_class, auto_tokenizer_class_overrides_as_transformers) {
    cJSON *doc = read_json(in_repo("tests/golden/tokenizer_class/cases.json"));
    char src[4096];
    snprintf(src, sizeof src, "%s", in_repo(cJSON_GetObjectItem(doc, "source")->valuestring));
    const cJSON *texts = cJSON_GetObjectItem(doc, "texts"), *c, *plain_ids = NULL, *roberta_ids = NULL;
    int n = 0, differ = 0;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(doc, "cases")) {
        const char *name = cJSON_GetObjectItem(c, "name")->valuestring;
        char dir[4096], path[4200];
        snprintf(dir, sizeof dir, "%s", make_scratch_dir("lbtokcls"));
        snprintf(path, sizeof path, "%s/tokenizer.json", dir);
        copy_file(src, path);
        write_json_or_nothing(dir, "config.json", cJSON_GetObjectItem(c, "config"));
        write_json_or_nothing(dir, "tokenizer_config.json", cJSON_GetObjectItem(c, "tokenizer_config"));
        lb_error e;
        lb_tokenizer *t = lb_tokenizer_load(dir, &e);
        cr_assert_not_null(t, "%s: %s", name, e.msg);
        const cJSON *ids = cJSON_GetObjectItem(c, "ids");
        expect_case_ids(t, texts, ids, name);
        lb_tokenizer_free(t);
        remove_tree(dir);
        if (!strcmp(name, "roberta_model_type")) roberta_ids = ids;
        if (!strcmp(name, "class_plain_over_roberta")) plain_ids = ids;
        n++;
    }
    cr_assert(n >= 7 && roberta_ids && plain_ids, "golden incomplete: %d cases", n);
    /* not blind: the classes give different ids for some text */
    for (int i = 0; i < cJSON_GetArraySize(texts); i++)
        differ += !cJSON_Compare(cJSON_GetArrayItem(roberta_ids, i), cJSON_GetArrayItem(plain_ids, i), true);
    cr_assert(differ > 0, "the golden's classes agree on every text: the test is blind");
    /* A folder that names no class (an adapter folder: tokenizer files, no config.json) reads
     * tokenizer.json as written, or as the class of the model it is loaded for. */
    char dir[4096], path[4200];
    snprintf(dir, sizeof dir, "%s", make_scratch_dir("lbtokcls"));
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    copy_file(src, path);
    lb_error e;
    lb_tokenizer *t = lb_tokenizer_load(dir, &e);
    cr_assert_not_null(t, "%s", e.msg);
    expect_case_ids(t, texts, plain_ids, "no class known");
    lb_tokenizer_free(t);
    t = lb_tokenizer_load_as(dir, "roberta", &e);
    cr_assert_not_null(t, "%s", e.msg);
    expect_case_ids(t, texts, roberta_ids, "loaded for a roberta model");
    lb_tokenizer_free(t);
    /* a class named in tokenizer_config.json wins over the model's */
    snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
    write_text(path, "{\"tokenizer_class\": \"PreTrainedTokenizerFast\"}");
    t = lb_tokenizer_load_as(dir, "roberta", &e);
    cr_assert_not_null(t, "%s", e.msg);
    expect_case_ids(t, texts, plain_ids, "tokenizer_class over the model's type");
    lb_tokenizer_free(t);
    /* a bad config.json beside the files is named */
    write_text(path, "{}");
    snprintf(path, sizeof path, "%s/config.json", dir);
    write_text(path, "{\"model_type\": 7}");
    cr_assert_null(lb_tokenizer_load(dir, &e));
    cr_assert(strstr(e.msg, "config.json") && strstr(e.msg, "model_type"), "%s", e.msg);
    remove_tree(dir);
    cJSON_Delete(doc);
}
