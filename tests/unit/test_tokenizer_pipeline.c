/* Tests for the BPE / Unigram tokenizer pipeline (src/text/pipeline.h): the differential against
 * HF tokenizers 0.13.3 written by tools/reference/tokenizer_pipeline_oracle.py (2000 IMDb reviews,
 * edge cases, 20,000 random texts and pairs, for every trained file in tests/golden/tokenizers/),
 * the ByteLevel regex on hand-checked cases, refusal of unsupported components, malformed
 * charsmaps, and the BPE merge loop's cost on a long word. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "base/fileio.h"
#include "text/pipeline.h"
#include "../support/test_support.h"
#include "text/tokenizer.h"

static char *oracle_dir(void) {
    const char *e = getenv("LORABERT_TOK_ORACLE");
    if (e && *e) return strdup(e);
    const char *h = getenv("HOME");
    char buf[1024];
    snprintf(buf, sizeof buf, "%s/.cache/lorabert/tokenizer-oracle", h ? h : "/root");
    return strdup(buf);
}

static int hexv(char c) { return c <= '9' ? c - '0' : c - 'a' + 10; }

static char *unhex(const char *h, size_t hl, size_t *n) {
    char *o = malloc(hl / 2 + 1);
    for (size_t i = 0; i + 1 < hl; i += 2) o[i / 2] = (char)(hexv(h[i]) << 4 | hexv(h[i + 1]));
    *n = hl / 2;
    o[*n] = 0;
    return o;
}

typedef struct tcase {
    char mode;
    int ml, left, sp;
    char *a, *b;
    size_t al, bl;
} tcase;

static tcase *read_cases(const char *dir, size_t *nc) {
    char *p = lb_path_join(dir, "cases.tsv");
    char *d;
    size_t len;
    lb_error e;
    cr_assert_eq(lb_read_file(p, &d, &len, &e), LB_OK, "%s", e.msg);
    free(p);
    size_t cap = 1024, n = 0;
    tcase *c = malloc(cap * sizeof *c);
    char *save, *line = strtok_r(d, "\n", &save);
    for (; line; line = strtok_r(NULL, "\n", &save)) {
        if (n == cap) c = realloc(c, (cap *= 2) * sizeof *c);
        tcase *t = &c[n++];
        char *f[6];
        f[0] = line; /* fields may be empty: split on each tab */
        for (int k = 1; k < 6; k++) {
            char *tb = f[k - 1] ? strchr(f[k - 1], '\t') : NULL;
            if (tb) *tb = 0;
            f[k] = tb ? tb + 1 : NULL;
        }
        cr_assert(f[5], "bad cases.tsv line %zu", n);
        t->mode = f[0][0];
        t->ml = atoi(f[1]);
        t->left = atoi(f[2]);
        t->sp = atoi(f[3]);
        t->a = strcmp(f[4], "-") ? unhex(f[4], strlen(f[4]), &t->al) : (t->al = 0, strdup(""));
        t->b = strcmp(f[5], "-") ? unhex(f[5], strlen(f[5]), &t->bl) : (t->bl = 0, strdup("")); /* "" or "-": empty */
    }
    free(d);
    *nc = n;
    return c;
}

/* "1 2 3|0 0 1" against ids / type ids. */
static bool same(const char *line, const lb_encoding *enc, const int32_t *tt, bool pair, char *why, size_t wl) {
    const char *p = line;
    for (int32_t i = 0;; i++) {
        while (*p == ' ') p++;
        if (*p == '|' || !*p) {
            if (i != enc->n) {
                snprintf(why, wl, "%d ids, expected %d", enc->n, i);
                return false;
            }
            break;
        }
        char *end;
        long v = strtol(p, &end, 10);
        p = end;
        if (i >= enc->n || enc->ids[i] != v) {
            snprintf(why, wl, "id[%d] = %d, expected %ld", i, i < enc->n ? enc->ids[i] : -1, v);
            return false;
        }
    }
    if (!pair) return true;
    p = strchr(line, '|') + 1;
    for (int32_t i = 0; i < enc->n; i++) {
        char *end;
        long v = strtol(p, &end, 10);
        p = end;
        if (tt[i] != v) {
            snprintf(why, wl, "type_id[%d] = %d, expected %ld", i, tt[i], v);
            return false;
        }
    }
    return true;
}

Test(tokenizer_pipeline, differential_vs_tokenizers, .timeout = 600) {
    char *dir = oracle_dir();
    char *fl = lb_path_join(dir, "files.txt");
    if (!lb_file_exists(fl))
        cr_skip_test("%s absent: tools/reference/tokenizer_oracle.sh writes it (needs the reference env)", fl);
    size_t nc;
    tcase *cs = read_cases(dir, &nc);
    cr_assert_gt(nc, 20000);
    char *files;
    size_t flen;
    lb_error e;
    cr_assert_eq(lb_read_file(fl, &files, &flen, &e), LB_OK, "%s", e.msg);
    int nfiles = 0, total_bad = 0;
    char *s1, *line = strtok_r(files, "\n", &s1);
    for (; line; line = strtok_r(NULL, "\n", &s1)) {
        char *tab = strchr(line, '\t');
        cr_assert(tab);
        *tab = 0;
        const char *name = line, *listed = tab + 1;
        /* committed files are listed relative to the checkout (any clone), others absolute */
        char *path = listed[0] == '/' ? strdup(listed) : lb_path_join(repo_root(), listed);
        lb_tokenizer *tok = lb_tokenizer_load_json(path, &e);
        cr_assert_not_null(tok, "%s (%s): %s", name, path, e.msg);
        free(path);
        char idn[300];
        snprintf(idn, sizeof idn, "%s.ids", name);
        char *ip = lb_path_join(dir, idn), *ids;
        size_t il;
        cr_assert_eq(lb_read_file(ip, &ids, &il, &e), LB_OK, "%s", e.msg);
        free(ip);
        lb_encoding enc = {0};
        int32_t *tt = NULL;
        size_t k = 0;
        int bad = 0;
        char *s2, *il_line = strtok_r(ids, "\n", &s2);
        for (; il_line && k < nc; il_line = strtok_r(NULL, "\n", &s2), k++) {
            const tcase *c = &cs[k];
            lb_tok_opts o = {.max_length = c->ml,
                             .truncate_left = c->left,
                             .add_special_tokens = c->sp,
                             .replace_invalid_utf8 = false};
            lb_status st = c->mode == 'p' ? lb_tokenize_pair(tok, c->a, c->al, c->b, c->bl, &o, &enc, &tt, &e)
                                          : lb_tokenize(tok, c->a, c->al, &o, &enc, &e);
            char why[160];
            if (st) snprintf(why, sizeof why, "error: %.140s", e.msg);
            if (st || !same(il_line, &enc, tt, c->mode == 'p', why, sizeof why)) {
                if (++bad <= 5)
                    cr_log_error("%s case %zu (%c, max %d): %s; text %.80s", name, k, c->mode, c->ml, why, c->a);
            }
        }
        cr_assert_eq(k, nc, "%s: %zu id lines for %zu cases", name, k, nc);
        cr_log_info("%s: %d mismatches in %zu cases", name, bad, nc);
        fprintf(stderr, "tokenizer differential %s: %d mismatches / %zu cases\n", name, bad, nc);
        total_bad += bad;
        nfiles++;
        free(ids);
        free(tt);
        lb_encoding_free(&enc);
        lb_tokenizer_free(tok);
    }
    for (size_t i = 0; i < nc; i++) {
        free(cs[i].a);
        free(cs[i].b);
    }
    free(cs);
    free(files);
    free(fl);
    free(dir);
    cr_assert_geq(nfiles, 6);
    cr_assert_eq(total_bad, 0, "%d mismatches", total_bad);
}

/* ------------------------------------------------------------------ ByteLevel regex */

static void check_split(const char *text, const char *want) {
    lb_cpbuf sp = {0};
    lb_error e;
    cr_assert_eq(lb_bytelevel_split((const uint8_t *)text, strlen(text), &sp, &e), LB_OK);
    char got[512] = "";
    for (size_t k = 0; k < sp.n; k += 2) {
        if (k) strcat(got, "|");
        strncat(got, text + sp.p[k], (size_t)sp.p[k + 1]);
    }
    cr_assert_str_eq(got, want, "split of '%s'", text);
    free(sp.p);
}

Test(tokenizer_pipeline, bytelevel_regex) {
    /* Expected pieces from tokenizers 0.13.3's ByteLevel(add_prefix_space=False).pre_tokenize_str. */
    check_split("a  b\n\nc   \n d's 12x", "a| | b|\n|\n|c|   \n| d|'s| 12|x");
    check_split("I'm we're they've 'S 'll", "I|'m| we|'re| they|'ve| '|S| '|ll");
    check_split("  ", "  ");
    check_split(" ", " ");
    check_split("x  ", "x|  ");
    check_split("!!  ?", "!!| | ?");
    check_split("caf\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87!", "caf\xc3\xa9| \xe4\xb8\xad\xe6\x96\x87|!");
}

/* ------------------------------------------------------------------ files and refusals */

static char *golden(const char *name) {
    char p[256];
    snprintf(p, sizeof p, "tests/golden/tokenizers/%s/tokenizer.json", name);
    return strdup(p);
}

static lb_tokenizer *load_text(const char *json, lb_error *e) {
    char path[] = "/tmp/lbtokpipeXXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    FILE *f = fdopen(fd, "w");
    fputs(json, f);
    fclose(f);
    lb_tokenizer *t = lb_tokenizer_load_json(path, e);
    remove(path);
    return t;
}

Test(tokenizer_pipeline, golden_files_load) {
    const char *names[] = {"bpe_roberta", "bpe_modernbert", "bpe_suffix", "bpe_bytefallback", "unigram", "xlmr_spm"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char *p = golden(names[i]);
        lb_error e;
        lb_tokenizer *t = lb_tokenizer_load_json(p, &e);
        cr_assert_not_null(t, "%s: %s", p, e.msg);
        lb_encoding enc = {0};
        cr_assert_eq(lb_tokenize(t, "Hello world, it's great!", 24, NULL, &enc, &e), LB_OK, "%s", e.msg);
        cr_assert_gt(enc.n, 3);
        lb_encoding_free(&enc);
        lb_tokenizer_free(t);
        free(p);
    }
}

Test(tokenizer_pipeline, roberta_known_ids) {
    /* tokenizers: <s> Ġhello ... with add_prefix_space; pair <s> A </s></s> B </s>, all type ids 0. */
    const char *j =
        "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"<s>\":0,\"</s>\":1,\"\\u0120\":2,\"a\":3,\"b\":4,"
        "\"\\u0120a\":5},\"merges\":[\"\\u0120 a\"]},\"pre_tokenizer\":{\"type\":\"ByteLevel\","
        "\"add_prefix_space\":true},\"post_processor\":{\"type\":\"RobertaProcessing\",\"sep\":[\"</s>\",1],"
        "\"cls\":[\"<s>\",0]}}";
    lb_error e;
    lb_tokenizer *t = load_text(j, &e);
    cr_assert_not_null(t, "%s", e.msg);
    lb_encoding enc = {0};
    int32_t *tt = NULL;
    cr_assert_eq(lb_tokenize_pair(t, "a", 1, "b", 1, NULL, &enc, &tt, &e), LB_OK, "%s", e.msg);
    const int32_t want[] = {0, 5, 1, 1, 2, 4, 1};
    cr_assert_eq(enc.n, 7);
    for (int i = 0; i < 7; i++) {
        cr_assert_eq(enc.ids[i], want[i], "id %d", i);
        cr_assert_eq(tt[i], 0);
    }
    cr_assert_eq(lb_tokenize(t, "", 0, NULL, &enc, &e), LB_OK);
    cr_assert_eq(enc.n, 2);
    free(tt);
    lb_encoding_free(&enc);
    lb_tokenizer_free(t);
}

static void refused(const char *json, lb_status code, const char *needle) {
    lb_error e;
    lb_tokenizer *t = load_text(json, &e);
    cr_assert_null(t, "accepted: %s", json);
    cr_assert_eq(e.code, code, "code %d for %s: %s", e.code, json, e.msg);
    cr_assert(strstr(e.msg, needle), "'%s' does not name '%s'", e.msg, needle);
}

Test(tokenizer_pipeline, unsupported_components_named) {
    refused("{\"model\":{\"type\":\"WordLevel\",\"vocab\":{}}}", LB_ERR_UNSUPPORTED, "WordLevel");
    refused("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]},\"normalizer\":{\"type\":\"NFKC\"}}",
            LB_ERR_UNSUPPORTED, "NFKC");
    refused("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]},\"pre_tokenizer\":{\"type\":\"Digits\"}}",
            LB_ERR_UNSUPPORTED, "Digits");
    refused("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[],\"dropout\":0.1}}", LB_ERR_UNSUPPORTED,
            "dropout");
    refused("{\"model\":{\"type\":\"Unigram\",\"vocab\":[[\"a\",0]]},\"normalizer\":{\"type\":\"Replace\","
            "\"pattern\":{\"Regex\":\"a|b\"},\"content\":\"\"}}",
            LB_ERR_UNSUPPORTED, "a|b");
    refused(
        "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]},\"post_processor\":{\"type\":\"ByteLevel\"}}",
        LB_ERR_UNSUPPORTED, "ByteLevel");
    refused("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[\"a b\"]}}", LB_ERR_FORMAT, "merges[0]");
    refused("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[\"a a a\"]}}", LB_ERR_FORMAT, "merges[0]");
    refused("{\"model\":{\"type\":\"Unigram\",\"vocab\":[]}}", LB_ERR_FORMAT, "empty");
    refused("{\"model\":{\"type\":\"Unigram\",\"vocab\":[[\"a\",0]],\"unk_id\":5}}", LB_ERR_FORMAT, "unk_id");
}

Test(tokenizer_pipeline, malformed_charsmap) {
    const char *pre = "{\"model\":{\"type\":\"Unigram\",\"vocab\":[[\"<unk>\",0],[\"a\",-1]],\"unk_id\":0},"
                      "\"normalizer\":{\"type\":\"Precompiled\",\"precompiled_charsmap\":\"";
    const char *bad[] = {"", "AAA", "!!!!", "/////w==" /* trie bigger than the data */, "BAAAAP////8=" /* index out */};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char j[512];
        snprintf(j, sizeof j, "%s%s\"}}", pre, bad[i]);
        lb_error e;
        lb_tokenizer *t = load_text(j, &e);
        if (!t) {
            cr_assert_eq(e.code, LB_ERR_FORMAT, "%s: %s", bad[i], e.msg);
            continue;
        }
        /* Loaded (the trie is well formed at its root): encoding must fail cleanly or succeed. */
        lb_encoding enc = {0};
        lb_status st = lb_tokenize(t, "abc \xc3\xa9", 6, NULL, &enc, &e);
        cr_assert(st == LB_OK || e.code == LB_ERR_FORMAT, "%s: %s", bad[i], e.msg);
        lb_encoding_free(&enc);
        lb_tokenizer_free(t);
    }
}

Test(tokenizer_pipeline, bpe_long_word_not_quadratic, .timeout = 60) {
    char *p = golden("bpe_modernbert");
    lb_error e;
    lb_tokenizer *t = lb_tokenizer_load_json(p, &e);
    cr_assert_not_null(t, "%s", e.msg);
    size_t n = 1 << 20; /* one 1 MiB word */
    char *w = malloc(n);
    for (size_t i = 0; i < n; i++) w[i] = "thequickbrownfox"[i % 16];
    lb_encoding enc = {0};
    clock_t c0 = clock();
    cr_assert_eq(lb_tokenize(t, w, n, NULL, &enc, &e), LB_OK, "%s", e.msg);
    double s = (double)(clock() - c0) / CLOCKS_PER_SEC;
    cr_assert_lt(s, 20.0, "a 1 MiB word took %.1f s", s); /* quadratic would be hours */
    cr_assert_gt(enc.n, 1000);
    free(w);
    lb_encoding_free(&enc);
    lb_tokenizer_free(t);
    free(p);
}
