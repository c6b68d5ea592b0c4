/* Tests for src/data/text_stream: the CSV and JSON Lines readers through a window of 1..N bytes
 * give exactly what they give on the whole file in memory (same table, same error message), the
 * window stays bounded, a file that grows while read is refused, a record over the limit is
 * refused by offset. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/csv.h"
#include "data/jsonl.h"
#include "data/table.h"
#include "data/text_stream.h"
#include "../support/test_support.h"

static char dir[] = "/tmp/lb_textstream_XXXXXX";
static void setup(void) { cr_assert_not_null(mkdtemp(dir)); }
static void teardown(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}
TestSuite(text_stream, .init = setup, .fini = teardown);

static char *put_file(const char *name, const char *data, size_t len) {
    char *p = malloc(strlen(dir) + strlen(name) + 2);
    sprintf(p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(data, 1, len, f), len);
    fclose(f);
    return p;
}

static void same_table(const lb_table *a, const lb_table *b, const char *what) {
    cr_assert_eq(a->ncols, b->ncols, "%s: columns", what);
    cr_assert_eq(a->nrows, b->nrows, "%s: rows %zu vs %zu", what, a->nrows, b->nrows);
    for (size_t c = 0; c < a->ncols; c++) cr_assert_str_eq(a->col_names[c], b->col_names[c], "%s", what);
    for (size_t i = 0; i < a->nrows * a->ncols; i++) {
        const lb_value *x = &a->cells[i], *y = &b->cells[i];
        cr_assert_eq(x->type, y->type, "%s: cell %zu type", what, i);
        cr_assert_eq(x->i, y->i, "%s: cell %zu", what, i);
        cr_assert(x->f == y->f || (x->f != x->f && y->f != y->f), "%s: cell %zu", what, i);
        if (x->type == LB_VAL_STR) {
            cr_assert_eq(x->slen, y->slen, "%s: cell %zu length", what, i);
            cr_assert_eq(memcmp(x->s, y->s, x->slen), 0, "%s: cell %zu bytes", what, i);
        }
    }
}

enum { CSV, TSV, JSONL };

static lb_status parse_mem(int kind, const char *data, size_t len, const char *name, lb_table *t, lb_error *e) {
    if (kind == JSONL) return lb_jsonl_parse(data, len, name, t, e);
    return lb_csv_parse(data, len, kind == TSV ? '\t' : ',', name, t, e);
}

static lb_status parse_file(int kind, const char *path, size_t chunk, lb_table *t, lb_error *e, size_t *max_cap) {
    lb_text_stream ts;
    memset(t, 0, sizeof *t);
    lb_status st = lb_text_stream_open_chunked(&ts, path, chunk, e);
    if (st) return st;
    st = kind == JSONL ? lb_jsonl_read_stream(&ts, NULL, t, e)
                       : lb_csv_read_stream(&ts, kind == TSV ? '\t' : ',', NULL, t, e);
    if (max_cap) *max_cap = ts.cap;
    lb_text_stream_close(&ts);
    return st;
}

/* The whole-buffer parse and the windowed parse of the same bytes agree for every chunk size. */
static void agree(int kind, const char *data, size_t len) {
    char *path = put_file(kind == JSONL ? "x.jsonl" : "x.csv", data, len);
    lb_table want;
    lb_error we = {0};
    lb_status wst = parse_mem(kind, data, len, path, &want, &we);
    static const size_t chunks[] = {1, 2, 3, 4, 5, 7, 8, 13, 64, 4096};
    for (size_t k = 0; k < sizeof chunks / sizeof *chunks; k++) {
        lb_table got;
        lb_error ge = {0};
        lb_status gst = parse_file(kind, path, chunks[k], &got, &ge, NULL);
        cr_assert_eq(gst, wst, "chunk %zu: status %d vs %d (%s | %s) on [%.*s]", chunks[k], gst, wst, ge.msg, we.msg,
                     (int)len, data);
        if (wst == LB_OK) {
            char what[64];
            snprintf(what, sizeof what, "chunk %zu", chunks[k]);
            same_table(&got, &want, what);
            lb_table_free(&got);
        } else {
            cr_assert_str_eq(ge.msg, we.msg, "chunk %zu on [%.*s]", chunks[k], (int)len, data);
        }
    }
    if (wst == LB_OK) lb_table_free(&want);
    free(path);
}

Test(text_stream, csv_edge_cases_agree) {
    static const char *cases[] = {
        "a,b\n1,2\n",
        "a,b\r\n1,2\r\n3,4",
        "a,b\r1,2\r3,4\r",
        "\xEF\xBB\xBF"
        "a,b\n\"x,y\",\"he said \"\"hi\"\"\"\n\"multi\nline\r\nfield\",z\n",
        "a,b\n\n\n1,2\n\r\n3,\n",
        "a\n\"\"\"\"\n\"\"\n",
        "a,b\n\"caf\xC3\xA9\",\"\xE2\x82\xAC\xF0\x9F\x98\x80\"\n",
        "a,b\n1,\"unterminated\n",
        "a,b\n1,\"x\"y\n",
        "a,b\n1,2,3\n",
        "a,a\n1,2\n",
        "a,b\n1,\xff\n",
        "a,b\n1,\xE2\x82\n",
        "a,b\n1,\xE2\x82",
        "",
        "\n\n",
        "a,b\n1,\"x\"",
        "a,b\n1,\"x\"\r",
        "a,b\n1,\"\"",
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) agree(CSV, cases[i], strlen(cases[i]));
    agree(TSV, "a\tb\n\"t\tab\"\tx\n", strlen("a\tb\n\"t\tab\"\tx\n"));
}

Test(text_stream, jsonl_edge_cases_agree) {
    static const char *cases[] = {
        "{\"a\":1,\"b\":\"x\"}\n{\"a\":2.5,\"b\":null}\n",
        "\xEF\xBB\xBF{\"a\":1}\r\n\r\n  {\"a\":\"caf\xC3\xA9 \xF0\x9F\x98\x80\"}  \n",
        "{\"a\":1}\n{\"a\":1,\"a\":2}\n",
        "{\"a\":1}\n{\"a\":\n",
        "{\"a\":1}\n{\"a\":\"\xC0\xAF\"}\n",
        "{\"a\":1} {\"a\":2}\n",
        "{\"a\":\"\\u0000\"}\n",
        "  \n [{\"a\":1},{\"a\":[1,2]}]\n",
        "[{\"a\":1}] x",
        "{\"a\":1}",
        "\n\n\n",
        "{\"a\":[1,{\"b\":2}],\"c\":{\"d\":true}}\n",
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) agree(JSONL, cases[i], strlen(cases[i]));
}

/* Random records from the bytes that matter to the parsers (quotes, delimiters, every line end,
 * multi-byte UTF-8, and now and then an invalid byte): the two reads agree. */
Test(text_stream, random_inputs_agree, .timeout = 120) {
    static const char *atoms[] = {
        "a", "b", ",", "\"", "\"\"", "\n", "\r", "\r\n", " ", "\t", "\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80",
        "{", "}", ":", "1",  "[",    "]",  "\\"};
    uint64_t seed = 0x9E3779B97F4A7C15ull;
    char buf[512];
    for (int round = 0; round < 400; round++) {
        int kind = round % 3;
        size_t n = 0;
        if (kind != JSONL) n += (size_t)snprintf(buf, sizeof buf, kind == TSV ? "x\ty\n" : "x,y\n");
        int natoms = 1 + (int)(round % 37);
        for (int k = 0; k < natoms && n < sizeof buf - 8; k++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            unsigned r = (unsigned)(seed >> 33);
            const char *a = (r % 97 == 0) ? "\xff" : atoms[r % (sizeof atoms / sizeof *atoms)];
            if (kind == JSONL && r % 5 == 0) a = (r & 32) ? "{\"t\":\"a\"}\n" : "{\"t\":1}\r\n";
            memcpy(buf + n, a, strlen(a));
            n += strlen(a);
        }
        agree(kind, buf, n);
    }
}

/* A file of many rows read through a small window: the window never grows past a record plus a
 * chunk, and the rows a filter keeps are those of the whole read. */
Test(text_stream, window_stays_bounded_and_filters_rows) {
    size_t cap = 1 << 20, n = (size_t)snprintf(NULL, 0, "text,label\n");
    char *data = malloc(cap);
    n = (size_t)snprintf(data, cap, "text,label\n");
    for (int i = 0; i < 5000; i++)
        n += (size_t)snprintf(data + n, cap - n, "\"row %d, with a \"\"quote\"\"\nand a line\",%d\n", i, i % 2);
    char *path = put_file("big.csv", data, n);
    lb_table t;
    lb_error e;
    size_t window = 0;
    cr_assert_eq(parse_file(CSV, path, 256, &t, &e, &window), LB_OK, "%s", e.msg);
    cr_assert_eq(t.nrows, 5000);
    cr_assert_leq(window, 256, "the window grew to %zu bytes for records of ~40", window);
    lb_table_free(&t);

    lb_row_filter keep = {.block = 3, .count = 4, .index = 2};
    cr_assert_eq(lb_csv_read_rows(path, ',', &keep, &t, &e), LB_OK, "%s", e.msg);
    lb_table all;
    cr_assert_eq(lb_csv_parse(data, n, ',', path, &all, &e), LB_OK);
    lb_row_filter keep2 = keep;
    lb_table_keep_rows(&all, &keep2);
    same_table(&t, &all, "filtered");
    cr_assert_eq(keep.seen, 5000);
    lb_table_free(&t);
    lb_table_free(&all);
    free(path);
    free(data);
}

/* One record longer than the window's limit is refused naming its offset; a longer limit reads it. */
Test(text_stream, record_limit_is_stated) {
    char data[300] = "a\n";
    memset(data + 2, 'x', 200);
    strcpy(data + 202, "\nb\n");
    char *path = put_file("long.csv", data, strlen(data));
    lb_text_stream ts;
    lb_error e;
    cr_assert_eq(lb_text_stream_open_chunked(&ts, path, 16, &e), LB_OK);
    ts.max_window = 64;
    lb_table t;
    cr_assert_eq(lb_csv_read_stream(&ts, ',', NULL, &t, &e), LB_ERR_UNSUPPORTED);
    cr_assert_not_null(strstr(e.msg, "record at file offset 2 is longer than 64 bytes"), "%s", e.msg);
    lb_text_stream_close(&ts);
    cr_assert_eq(lb_text_stream_open_chunked(&ts, path, 16, &e), LB_OK);
    cr_assert_eq(lb_csv_read_stream(&ts, ',', NULL, &t, &e), LB_OK, "%s", e.msg);
    cr_assert_eq(t.nrows, 2);
    cr_assert_eq(t.cells[0].slen, 200);
    lb_table_free(&t);
    lb_text_stream_close(&ts);
    free(path);
}

/* A file appended to while it is read is refused (never followed for ever). */
Test(text_stream, growing_file_is_refused) {
    char *path = put_file("grow.jsonl", "{\"a\":1}\n{\"a\":2}\n", 16);
    lb_text_stream ts;
    lb_error e;
    cr_assert_eq(lb_text_stream_open_chunked(&ts, path, 4, &e), LB_OK);
    FILE *f = fopen(path, "ab");
    fputs("{\"a\":3}\n", f);
    fclose(f);
    lb_table t;
    cr_assert_eq(lb_jsonl_read_stream(&ts, NULL, &t, &e), LB_ERR_IO);
    cr_assert_not_null(strstr(e.msg, "grew while it was read (it had 16 bytes when opened)"), "%s", e.msg);
    lb_text_stream_close(&ts);
    free(path);
}
