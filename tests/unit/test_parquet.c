/* Tests for src/data/parquet*.c and thrift_compact.c: every apache/parquet-testing file in
 * ../shared/data/parquet against its expected JSON (cell by cell), delta_byte_array against the
 * upstream CSV, the IMDb parquet files against their JSONL, pyarrow-written fixtures covering
 * each codec/encoding/page version (when the reference env has pyarrow), and corrupt input. */
#define _GNU_SOURCE /* memmem */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "base/fileio.h"
#include "data/parquet.h"
#include "data/parquet_codec.h"
#include "data/parquet_meta.h"
#include "data/parquet_encodings.h"
#include "data/thrift_compact.h"
#include <zstd.h>
#include "../support/test_support.h"

static void require_shared(const char *rel) {
    char *p = shared_path(rel);
    bool ok = lb_file_exists(p);
    free(p);
    if (!ok) cr_skip_test("shared data missing (%s/%s); set LORABERT_SHARED", shared_dir(), rel);
}

/* "2009-03-01T00:00:00.000Z" from nanoseconds since the epoch (hyparquet's INT96 rendering). */
static void iso_from_nanos(int64_t ns, char *buf, size_t n) {
    int64_t ms = ns / 1000000;
    if (ns % 1000000 < 0) ms--;
    time_t secs = (time_t)(ms / 1000);
    int64_t frac = ms % 1000;
    if (frac < 0) {
        frac += 1000;
        secs--;
    }
    struct tm tm;
    gmtime_r(&secs, &tm);
    snprintf(buf, n, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, (int)frac);
}

/* Compares one cell with a JSON value per PROVENANCE.md §5 (hyparquet rendering). */
static void check_cell(const lb_value *v, const cJSON *x, bool int96, const char *file, size_t row, const char *col) {
    if (cJSON_IsNull(x)) {
        cr_assert_eq(v->type, LB_VAL_NULL, "%s row %zu %s: expected null, got type %d", file, row, col, v->type);
    } else if (cJSON_IsBool(x)) {
        cr_assert_eq(v->type, LB_VAL_BOOL, "%s row %zu %s: expected bool", file, row, col);
        cr_assert_eq(v->i, cJSON_IsTrue(x) ? 1 : 0, "%s row %zu %s: bool mismatch", file, row, col);
    } else if (cJSON_IsNumber(x)) {
        double want = x->valuedouble;
        if (v->type == LB_VAL_INT) {
            cr_assert(fabs(want) < 9007199254740992.0, "%s row %zu %s: expected value beyond 2^53", file, row, col);
            cr_assert_eq((double)v->i, want, "%s row %zu %s: %lld != %.17g", file, row, col, (long long)v->i, want);
        } else {
            cr_assert_eq(v->type, LB_VAL_FLOAT, "%s row %zu %s: expected a number, got type %d", file, row, col,
                         v->type);
            cr_assert(v->f == want, "%s row %zu %s: %.17g != %.17g", file, row, col, v->f, want);
        }
    } else if (cJSON_IsString(x)) {
        const char *want = x->valuestring;
        if (int96) {
            cr_assert_eq(v->type, LB_VAL_INT, "%s row %zu %s: INT96 should be INT nanoseconds", file, row, col);
            char iso[64];
            iso_from_nanos(v->i, iso, sizeof iso);
            cr_assert_str_eq(iso, want, "%s row %zu %s", file, row, col);
            return;
        }
        cr_assert_eq(v->type, LB_VAL_STR, "%s row %zu %s: expected a string, got type %d", file, row, col, v->type);
        cr_assert_eq(v->s[v->slen], 0, "%s row %zu %s: string not NUL-terminated", file, row, col);
        /* cJSON strings stop at an embedded U+0000 (binary.parquet): compare up to it. */
        size_t ours = strnlen(v->s, v->slen);
        cr_assert_eq(ours, strlen(want), "%s row %zu %s: length %zu != %zu", file, row, col, ours, strlen(want));
        cr_assert_eq(memcmp(v->s, want, ours), 0, "%s row %zu %s: string mismatch", file, row, col);
        if (ours < v->slen) cr_assert_eq(strlen(want), ours);
    } else if (cJSON_IsArray(x)) { /* a list of primitives */
        cr_assert_eq(v->type, LB_VAL_LIST, "%s row %zu %s: expected a list, got type %d", file, row, col, v->type);
        cr_assert_eq(v->n_items, (size_t)cJSON_GetArraySize(x), "%s row %zu %s: %zu elements, expected %d", file, row,
                     col, v->n_items, cJSON_GetArraySize(x));
        size_t k = 0;
        const cJSON *it;
        cJSON_ArrayForEach(it, x) check_cell(&v->items[k++], it, int96, file, row, col);
    } else {
        cr_assert_fail("%s row %zu %s: unexpected JSON value kind", file, row, col);
    }
}

/* Reads <name>.parquet and compares with expected/<name>.json; columns the table lacks must
 * be nested ones that give LB_ERR_UNSUPPORTED naming them. Returns the number of cells checked. */
static size_t check_expected(const char *name) {
    char rel[256];
    snprintf(rel, sizeof rel, "data/parquet/%s.parquet", name);
    require_shared(rel);
    char *pq = shared_path(rel);
    snprintf(rel, sizeof rel, "data/parquet/expected/%s.json", name);
    char *jp = shared_path(rel);
    cJSON *j = read_json(jp);
    const cJSON *meta = cJSON_GetObjectItem(j, "metadata"), *rows = cJSON_GetObjectItem(j, "rows");
    cr_assert(cJSON_IsArray(rows));
    /* INT96 columns, from the expected schema. */
    const cJSON *schema = cJSON_GetObjectItem(meta, "schema"), *el;
    char int96[16][64];
    int nint96 = 0;
    cJSON_ArrayForEach(el, schema) {
        const cJSON *ty = cJSON_GetObjectItem(el, "type");
        if (ty && cJSON_IsString(ty) && !strcmp(ty->valuestring, "INT96") && nint96 < 16)
            snprintf(int96[nint96++], 64, "%s", cJSON_GetObjectItem(el, "name")->valuestring);
    }
    lb_table t;
    lb_error e;
    lb_status st = lb_parquet_read(pq, NULL, 0, &t, &e);
    size_t checked = 0;
    const cJSON *row0 = cJSON_GetArrayItem(rows, 0), *kv;
    if (st == LB_ERR_UNSUPPORTED) {
        /* Every column is nested. */
        cr_assert(strstr(e.msg, "nested"), "%s: %s", name, e.msg);
        memset(&t, 0, sizeof t);
    } else {
        cr_assert_eq(st, LB_OK, "%s: %s", name, e.msg);
        cr_assert_eq((double)t.nrows, cJSON_GetObjectItem(meta, "num_rows")->valuedouble, "%s: row count", name);
        cr_assert_eq(t.nrows, (size_t)cJSON_GetArraySize(rows));
    }
    /* Columns absent from the table must be nested: asking for them is LB_ERR_UNSUPPORTED. */
    size_t present = 0;
    cJSON_ArrayForEach(kv, row0) {
        if (lb_table_col(&t, kv->string) >= 0) {
            present++;
            continue;
        }
        lb_table t2;
        const char *cols[1] = {kv->string};
        cr_assert_eq(lb_parquet_read(pq, cols, 1, &t2, &e), LB_ERR_UNSUPPORTED, "%s: column %s: %s", name, kv->string,
                     e.msg);
        cr_assert(strstr(e.msg, kv->string) && strstr(e.msg, "nested"), "%s: message should name %s: %s", name,
                  kv->string, e.msg);
        cr_assert_eq(t2.cells, NULL);
    }
    cr_assert_eq(present, t.ncols, "%s: table has columns the expected rows lack", name);
    size_t r = 0;
    const cJSON *row;
    cJSON_ArrayForEach(row, rows) {
        for (size_t c = 0; c < t.ncols; c++) {
            const cJSON *x = cJSON_GetObjectItem(row, t.col_names[c]);
            cr_assert_not_null(x, "%s row %zu: no expected value for %s", name, r, t.col_names[c]);
            bool is96 = false;
            for (int k = 0; k < nint96; k++) is96 |= !strcmp(int96[k], t.col_names[c]);
            check_cell(lb_table_cell(&t, r, c), x, is96, name, r, t.col_names[c]);
            checked++;
        }
        r++;
    }
    lb_table_free(&t);
    cJSON_Delete(j);
    free(pq);
    free(jp);
    return checked;
}

#define EXPECTED_TEST(id, file, min_cells)                                  \
    Test(parquet_testing, id) {                                             \
        size_t n = check_expected(file);                                    \
        cr_assert_geq(n, (size_t)(min_cells), "only %zu cells checked", n); \
    }

EXPECTED_TEST(alltypes_plain, "alltypes_plain", 88)
EXPECTED_TEST(alltypes_plain_snappy, "alltypes_plain.snappy", 22)
EXPECTED_TEST(alltypes_dictionary, "alltypes_dictionary", 22)
EXPECTED_TEST(binary, "binary", 12)
EXPECTED_TEST(byte_stream_split_zstd, "byte_stream_split.zstd", 600)
EXPECTED_TEST(concatenated_gzip_members, "concatenated_gzip_members", 513)
EXPECTED_TEST(datapage_v1_checksum, "datapage_v1-snappy-compressed-checksum", 10240)
EXPECTED_TEST(datapage_v2_snappy, "datapage_v2.snappy", 20)
EXPECTED_TEST(delta_byte_array, "delta_byte_array", 9000)
EXPECTED_TEST(delta_length_byte_array, "delta_length_byte_array", 1000)
EXPECTED_TEST(dict_page_offset_zero, "dict-page-offset-zero", 39)
EXPECTED_TEST(int32_with_null_pages, "int32_with_null_pages", 1000)
EXPECTED_TEST(lz4_raw_compressed, "lz4_raw_compressed", 12)
EXPECTED_TEST(nullable_impala, "nullable.impala", 7)
EXPECTED_TEST(nulls_snappy, "nulls.snappy", 0)
EXPECTED_TEST(plain_dict_uncompressed_checksum, "plain-dict-uncompressed-checksum", 2000)
EXPECTED_TEST(rle_dict_snappy_checksum, "rle-dict-snappy-checksum", 2000)
EXPECTED_TEST(rle_boolean_encoding, "rle_boolean_encoding", 68)

/* binary.parquet holds the single bytes 0..11, which cJSON cannot carry past U+0000. */
Test(parquet_testing, binary_bytes_exact) {
    require_shared("data/parquet/binary.parquet");
    char *p = shared_path("data/parquet/binary.parquet");
    lb_table t;
    lb_error e;
    cr_assert_eq(lb_parquet_read(p, NULL, 0, &t, &e), LB_OK, "%s", e.msg);
    cr_assert_eq(t.nrows, 12);
    for (size_t r = 0; r < 12; r++) {
        const lb_value *v = lb_table_cell(&t, r, 0);
        cr_assert_eq(v->type, LB_VAL_STR);
        cr_assert_eq(v->slen, 1);
        cr_assert_eq((unsigned char)v->s[0], r);
    }
    lb_table_free(&t);
    free(p);
}

/* Column selection: order as asked, unknown names are usage errors listing the columns. */
Test(parquet_testing, select_columns) {
    require_shared("data/parquet/alltypes_plain.parquet");
    char *p = shared_path("data/parquet/alltypes_plain.parquet");
    lb_table t;
    lb_error e;
    const char *cols[] = {"string_col", "id"};
    cr_assert_eq(lb_parquet_read(p, cols, 2, &t, &e), LB_OK, "%s", e.msg);
    cr_assert_eq(t.ncols, 2);
    cr_assert_str_eq(t.col_names[0], "string_col");
    cr_assert_eq(lb_table_col(&t, "id"), 1);
    cr_assert_eq(lb_table_col(&t, "bool_col"), -1);
    static const int ids[] = {4, 5, 6, 7, 2, 3, 0, 1}; /* upstream README */
    for (size_t r = 0; r < 8; r++) {
        cr_assert_eq(lb_table_cell(&t, r, 1)->i, ids[r]);
        cr_assert_eq(lb_table_cell(&t, r, 0)->s[0], '0' + ids[r] % 2);
    }
    lb_table_free(&t);
    const char *bad[] = {"nope"};
    cr_assert_eq(lb_parquet_read(p, bad, 1, &t, &e), LB_ERR_USAGE);
    cr_assert(strstr(e.msg, "'nope'") && strstr(e.msg, "bigint_col"), "%s", e.msg);
    cr_assert_eq(t.cells, NULL);
    free(p);
}

/* Flat columns and lists of primitives of a file with other nested ones read; the others error by
 * name (a list of lists, a map, a struct). */
Test(parquet_testing, nested_column_only_fails_when_asked) {
    require_shared("data/parquet/datapage_v2.snappy.parquet");
    char *p = shared_path("data/parquet/datapage_v2.snappy.parquet");
    lb_table t;
    lb_error e;
    const char *ok[] = {"b", "e"};
    cr_assert_eq(lb_parquet_read(p, ok, 2, &t, &e), LB_OK, "%s", e.msg);
    cr_assert_eq(t.nrows, 5);
    cr_assert_str_eq(t.col_names[1], "e"); /* the list column is named by its top-level field */
    const lb_value *e0 = lb_table_cell(&t, 0, 1), *e1 = lb_table_cell(&t, 1, 1);
    cr_assert(e0->type == LB_VAL_LIST && e0->n_items == 3 && e0->items[2].type == LB_VAL_INT && e0->items[2].i == 3);
    cr_assert_eq(e1->type, LB_VAL_NULL);
    lb_table_free(&t);
    free(p);
    require_shared("data/parquet/nullable.impala.parquet");
    p = shared_path("data/parquet/nullable.impala.parquet");
    const struct {
        const char *col, *says;
    } bad[] = {{"int_array_Array", "a list of lists"},
               {"int_map", "a map or a list of structs"},
               {"nested_struct", "group/struct"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *one[] = {bad[i].col};
        cr_assert_eq(lb_parquet_read(p, one, 1, &t, &e), LB_ERR_UNSUPPORTED, "%s", bad[i].col);
        cr_assert(strstr(e.msg, bad[i].col) && strstr(e.msg, bad[i].says) && strstr(e.msg, "lists of primitives only"),
                  "%s", e.msg);
    }
    free(p);
}

/* ---- delta_byte_array vs upstream CSV ---- */

/* Splits one CSV line (quoted fields, "" escapes) into at most max fields; an empty unquoted
 * field is NULL. Returns the field count. Modifies line. */
static int csv_split(char *line, char **f, int max) {
    int n = 0;
    char *p = line;
    for (;;) {
        cr_assert_lt(n, max);
        if (*p == '"') {
            char *w = ++p, *start = p;
            for (;;) {
                if (*p == '"' && p[1] == '"') {
                    *w++ = '"';
                    p += 2;
                } else if (*p == '"') {
                    p++;
                    break;
                } else {
                    cr_assert_neq(*p, 0, "unterminated quote");
                    *w++ = *p++;
                }
            }
            *w = 0;
            f[n++] = start;
        } else {
            char *start = p;
            while (*p && *p != ',') p++;
            f[n++] = p == start ? NULL : start;
            if (*p == 0) return n;
            *p = 0;
            p++;
            continue;
        }
        if (*p == 0) return n;
        cr_assert_eq(*p, ',');
        p++;
    }
}

Test(parquet_testing, delta_byte_array_matches_upstream_csv) {
    require_shared("data/parquet/delta_byte_array_expect.csv");
    char *p = shared_path("data/parquet/delta_byte_array.parquet");
    char *c = shared_path("data/parquet/delta_byte_array_expect.csv");
    lb_table t;
    lb_error e;
    cr_assert_eq(lb_parquet_read(p, NULL, 0, &t, &e), LB_OK, "%s", e.msg);
    char *csv;
    size_t n;
    cr_assert_eq(lb_read_file(c, &csv, &n, &e), LB_OK);
    char *save = NULL, *line = strtok_r(csv, "\n", &save);
    char *hdr[16], *f[16];
    int nh = csv_split(line, hdr, 16);
    cr_assert_eq((size_t)nh, t.ncols);
    long map[16];
    for (int k = 0; k < nh; k++) {
        map[k] = lb_table_col(&t, hdr[k]);
        cr_assert_geq(map[k], 0, "no column %s", hdr[k]);
    }
    size_t r = 0, nulls = 0;
    while ((line = strtok_r(NULL, "\n", &save))) {
        cr_assert_lt(r, t.nrows);
        int nf = csv_split(line, f, 16);
        cr_assert_eq(nf, nh, "csv row %zu", r);
        for (int k = 0; k < nf; k++) {
            const lb_value *v = lb_table_cell(&t, r, (size_t)map[k]);
            if (!f[k]) {
                cr_assert_eq(v->type, LB_VAL_NULL, "row %zu %s", r, hdr[k]);
                nulls++;
                continue;
            }
            cr_assert_eq(v->type, LB_VAL_STR, "row %zu %s", r, hdr[k]);
            cr_assert_str_eq(v->s, f[k], "row %zu %s", r, hdr[k]);
        }
        r++;
    }
    cr_assert_eq(r, 1000);
    cr_assert_gt(nulls, 0);
    free(csv);
    lb_table_free(&t);
    free(p);
    free(c);
}

/* ---- IMDb parquet vs JSONL ---- */

static void check_imdb(const char *split) {
    char rel[128];
    snprintf(rel, sizeof rel, "data/imdb/%s.snappy.parquet", split);
    require_shared(rel);
    char *p = shared_path(rel);
    snprintf(rel, sizeof rel, "data/imdb/%s.jsonl", split);
    char *jl = shared_path(rel);
    lb_table t;
    lb_error e;
    const char *cols[] = {"text", "label"};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    cr_assert_eq(lb_parquet_read(p, cols, 2, &t, &e), LB_OK, "%s", e.msg);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    cr_log_info("%s.snappy.parquet: %zu rows read in %.2f ms", split, t.nrows, ms);
    cr_assert_eq(t.nrows, 1000);
    char *d;
    size_t n;
    cr_assert_eq(lb_read_file(jl, &d, &n, &e), LB_OK);
    char *save = NULL, *line = strtok_r(d, "\n", &save);
    size_t r = 0, ones = 0;
    for (; line; line = strtok_r(NULL, "\n", &save), r++) {
        cr_assert_lt(r, 1000);
        cJSON *j = cJSON_Parse(line);
        cr_assert_not_null(j);
        const cJSON *text = cJSON_GetObjectItem(j, "text"), *label = cJSON_GetObjectItem(j, "label");
        const lb_value *tv = lb_table_cell(&t, r, 0), *lv = lb_table_cell(&t, r, 1);
        cr_assert_eq(tv->type, LB_VAL_STR);
        cr_assert_eq(tv->slen, strlen(text->valuestring), "row %zu", r);
        cr_assert_eq(memcmp(tv->s, text->valuestring, tv->slen), 0, "row %zu text differs", r);
        cr_assert_eq(lv->type, LB_VAL_INT);
        cr_assert_eq((double)lv->i, label->valuedouble, "row %zu label", r);
        ones += lv->i == 1;
        cJSON_Delete(j);
    }
    cr_assert_eq(r, 1000);
    cr_assert_eq(ones, 500);
    free(d);
    lb_table_free(&t);
    free(p);
    free(jl);
}

Test(imdb, train_matches_jsonl) { check_imdb("train"); }
Test(imdb, validation_matches_jsonl) { check_imdb("validation"); }

/* ---- pyarrow-written fixtures (every codec, encoding and page version) ---- */

static int hexval(char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; }

static void check_fixture_cell(const lb_value *v, const char *kind, const cJSON *x, const char *file, size_t row,
                               const char *col) {
    if (cJSON_IsNull(x)) {
        cr_assert_eq(v->type, LB_VAL_NULL, "%s row %zu %s: expected null, got type %d", file, row, col, v->type);
        return;
    }
    if (!strncmp(kind, "list:", 5)) { /* a list of primitives */
        cr_assert_eq(v->type, LB_VAL_LIST, "%s row %zu %s: expected a list, got type %d", file, row, col, v->type);
        cr_assert_eq(v->n_items, (size_t)cJSON_GetArraySize(x), "%s row %zu %s: %zu elements, expected %d", file, row,
                     col, v->n_items, cJSON_GetArraySize(x));
        size_t k = 0;
        const cJSON *it;
        cJSON_ArrayForEach(it, x) check_fixture_cell(&v->items[k++], kind + 5, it, file, row, col);
        return;
    }
    if (!strcmp(kind, "bool")) {
        cr_assert_eq(v->type, LB_VAL_BOOL, "%s row %zu %s", file, row, col);
        cr_assert_eq(v->i, cJSON_IsTrue(x), "%s row %zu %s", file, row, col);
        return;
    }
    const char *s = x->valuestring;
    cr_assert_not_null(s);
    if (!strcmp(kind, "int") || !strcmp(kind, "ts")) {
        cr_assert_eq(v->type, LB_VAL_INT, "%s row %zu %s: type %d", file, row, col, v->type);
        long long want = strtoll(s, NULL, 10);
        cr_assert_eq(v->i, want, "%s row %zu %s: %lld != %s", file, row, col, (long long)v->i, s);
    } else if (!strcmp(kind, "float")) {
        cr_assert_eq(v->type, LB_VAL_FLOAT, "%s row %zu %s: type %d", file, row, col, v->type);
        double want = strtod(s, NULL);
        cr_assert(v->f == want && signbit(v->f) == signbit(want), "%s row %zu %s: %a != %s", file, row, col, v->f, s);
    } else {
        cr_assert_eq(v->type, LB_VAL_STR, "%s row %zu %s: type %d", file, row, col, v->type);
        size_t n = strlen(s) / 2;
        cr_assert_eq(v->slen, n, "%s row %zu %s: length %zu != %zu", file, row, col, v->slen, n);
        for (size_t k = 0; k < n; k++)
            cr_assert_eq((unsigned char)v->s[k], hexval(s[2 * k]) * 16 + hexval(s[2 * k + 1]), "%s row %zu %s byte %zu",
                         file, row, col, k);
        cr_assert_eq(v->s[n], 0);
    }
}

static char *ref_python(void) {
    const char *p = getenv("LORABERT_REF_PYTHON");
    if (p && *p) return strdup(p);
    const char *cache = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    char buf[1024];
    if (cache && *cache) snprintf(buf, sizeof buf, "%s/lorabert/refenv/bin/python", cache);
    else snprintf(buf, sizeof buf, "%s/.cache/lorabert/refenv/bin/python", home ? home : "");
    return strdup(buf);
}

Test(pyarrow, fixtures_every_codec_and_encoding) {
    char *py = ref_python();
    bool ci = getenv("CI") && !strcmp(getenv("CI"), "true");
    if (access(py, X_OK) != 0) {
        if (ci) cr_assert_fail("reference env python %s missing (CI=true)", py);
        free(py);
        cr_skip_test("reference env absent (run tools/reference/setup_env.sh)");
    }
    if (access("tools/reference/make_parquet_fixtures.py", R_OK) != 0) {
        free(py);
        cr_skip_test("run from the repository root (tools/reference/make_parquet_fixtures.py not found)");
    }
    char dir[] = "/tmp/lbpqfixXXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' tools/reference/make_parquet_fixtures.py '%s' >/dev/null", py, dir);
    int rc = system(cmd);
    free(py);
    if (WIFEXITED(rc) && WEXITSTATUS(rc) == 77) {
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        cr_assert_eq(system(cmd), 0);
        cr_skip_test("pyarrow not installed in the reference env (pip install pyarrow)");
    }
    cr_assert(WIFEXITED(rc) && WEXITSTATUS(rc) == 0, "make_parquet_fixtures.py failed (%d)", rc);
    char *mp = lb_path_join(dir, "manifest.json");
    cJSON *m = read_json(mp);
    const cJSON *fx;
    size_t nfix = 0, cells = 0;
    cJSON_ArrayForEach(fx, cJSON_GetObjectItem(m, "fixtures")) {
        const char *file = cJSON_GetObjectItem(fx, "file")->valuestring;
        /* Random fixtures carry their own columns; the others share the manifest's. */
        const cJSON *kinds = cJSON_GetObjectItem(fx, "kinds"), *data = cJSON_GetObjectItem(fx, "data");
        if (!kinds) kinds = cJSON_GetObjectItem(m, "kinds");
        if (!data) data = cJSON_GetObjectItem(m, "data");
        size_t nrows = (size_t)cJSON_GetObjectItem(fx, "num_rows")->valuedouble;
        const cJSON *order = cJSON_GetObjectItem(fx, "order"), *unsup = cJSON_GetObjectItem(fx, "unsupported");
        char *path = lb_path_join(dir, file);
        lb_table t;
        lb_error e;
        /* Columns to read: all but the unsupported ones, which must fail by name. */
        const char *want[32];
        size_t nwant = 0;
        const cJSON *c;
        cJSON_ArrayForEach(c, order) {
            const cJSON *u = cJSON_GetObjectItem(unsup, c->valuestring);
            cr_assert_lt(nwant, 32);
            if (!u) {
                want[nwant++] = c->valuestring;
                continue;
            }
            const char *one[1] = {c->valuestring};
            cr_assert_eq(lb_parquet_read(path, one, 1, &t, &e), LB_ERR_UNSUPPORTED, "%s %s", file, c->valuestring);
            cr_assert(strstr(e.msg, u->valuestring) && strstr(e.msg, c->valuestring), "%s: %s", file, e.msg);
            cr_assert_eq(lb_parquet_read(path, NULL, 0, &t, &e), LB_ERR_UNSUPPORTED, "%s (all columns)", file);
        }
        cr_assert_eq(lb_parquet_read(path, cJSON_GetArraySize(unsup) ? want : NULL,
                                     cJSON_GetArraySize(unsup) ? nwant : 0, &t, &e),
                     LB_OK, "%s: %s", file, e.msg);
        cr_assert_eq(t.nrows, nrows, "%s", file);
        cr_assert_eq(t.ncols, nwant, "%s", file);
        for (size_t k = 0; k < nwant; k++) {
            cr_assert_str_eq(t.col_names[k], want[k], "%s", file);
            const char *kind = cJSON_GetObjectItem(kinds, want[k])->valuestring;
            const cJSON *vals = cJSON_GetObjectItem(data, want[k]);
            for (size_t r = 0; r < nrows; r++, cells++)
                check_fixture_cell(lb_table_cell(&t, r, k), kind, cJSON_GetArrayItem(vals, (int)r), file, r, want[k]);
        }
        lb_table_free(&t);
        free(path);
        nfix++;
    }
    cr_log_info("pyarrow %s: %zu fixtures, %zu cells compared", cJSON_GetObjectItem(m, "pyarrow")->valuestring, nfix,
                cells);
    cr_assert_geq(nfix, 18 + 40);
    cJSON_Delete(m);
    free(mp);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

/* ---- thrift compact protocol ---- */

Test(thrift, skips_unknown_fields_of_every_type) {
    /* struct { 1: i32 = -3 (zigzag 5), 2: bool true, 3: binary "hi", 4: list<i64>[1, 2],
     *          5: map<i32,i32>{1:2}, 6: double, 7: struct { 1: byte 9 }, 300 (long form): i64 1 } */
    static const uint8_t buf[] = {0x15, 0x05, 0x11, 0x18, 0x02, 'h',  'i',  0x19, 0x26, 0x02, 0x04, 0x1b,
                                  0x01, 0x55, 0x02, 0x04, 0x17, 0,    0,    0,    0,    0,    0,    0xf0,
                                  0x3f, 0x1c, 0x13, 0x09, 0x00, 0x06, 0xd8, 0x04, 0x02, 0x00};
    lb_thrift t;
    lb_error e;
    lb_thrift_init(&t, buf, sizeof buf, 100, &e);
    cr_assert_eq(lb_thrift_struct_begin(&t), LB_OK);
    int16_t last = 0, id;
    uint8_t ty;
    int32_t i32 = 0;
    int seen = 0;
    for (;;) {
        cr_assert_eq(lb_thrift_next_field(&t, &last, &id, &ty), LB_OK, "%s", e.msg);
        if (ty == LB_TC_STOP) break;
        seen++;
        if (id == 1) cr_assert_eq(lb_thrift_read_i32(&t, ty, &i32), LB_OK);
        else if (id == 300) {
            int64_t v;
            cr_assert_eq(lb_thrift_read_i64(&t, ty, &v), LB_OK);
            cr_assert_eq(v, 1);
        } else cr_assert_eq(lb_thrift_skip(&t, ty), LB_OK, "field %d: %s", id, e.msg);
    }
    lb_thrift_struct_end(&t);
    cr_assert_eq(seen, 8);
    cr_assert_eq(i32, -3);
    cr_assert_eq(lb_thrift_offset(&t), 100 + sizeof buf);
    cr_assert_eq(t.depth, 0);
}

Test(thrift, rejects_hostile_input) {
    lb_thrift t;
    lb_error e;
    /* 200 nested structs: depth limit, not a stack overflow. */
    uint8_t deep[400];
    for (size_t i = 0; i < sizeof deep; i++) deep[i] = 0x1c;
    lb_thrift_init(&t, deep, sizeof deep, 0, &e);
    cr_assert_eq(lb_thrift_skip(&t, LB_TC_STRUCT), LB_ERR_FORMAT);
    cr_assert(strstr(e.msg, "nesting deeper"), "%s", e.msg);
    /* A list claiming 2^32 elements in 6 bytes. */
    static const uint8_t biglist[] = {0xf5, 0x80, 0x80, 0x80, 0x80, 0x10};
    lb_thrift_init(&t, biglist, sizeof biglist, 0, &e);
    uint8_t et;
    size_t n;
    cr_assert_eq(lb_thrift_list_begin(&t, &et, &n), LB_ERR_FORMAT);
    cr_assert(strstr(e.msg, "exceeds"), "%s", e.msg);
    /* Truncated varint, string longer than the buffer, 11-byte varint. */
    static const uint8_t trunc[] = {0x80, 0x80};
    lb_thrift_init(&t, trunc, sizeof trunc, 0, &e);
    int64_t v;
    cr_assert_eq(lb_thrift_read_i64(&t, LB_TC_I64, &v), LB_ERR_FORMAT);
    static const uint8_t longstr[] = {0x10, 'a'};
    const uint8_t *s;
    lb_thrift_init(&t, longstr, sizeof longstr, 0, &e);
    cr_assert_eq(lb_thrift_read_binary(&t, &s, &n), LB_ERR_FORMAT);
    static const uint8_t over[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    lb_thrift_init(&t, over, sizeof over, 0, &e);
    cr_assert_eq(lb_thrift_read_i64(&t, LB_TC_I64, &v), LB_ERR_FORMAT);
    /* i32 out of range, unknown type nibble. */
    static const uint8_t big[] = {0x80, 0x80, 0x80, 0x80, 0x20};
    int32_t i32;
    lb_thrift_init(&t, big, sizeof big, 0, &e);
    cr_assert_eq(lb_thrift_read_i32(&t, LB_TC_I32, &i32), LB_ERR_FORMAT);
    static const uint8_t badtype[] = {0x1d};
    int16_t last = 0, id;
    lb_thrift_init(&t, badtype, sizeof badtype, 0, &e);
    cr_assert_eq(lb_thrift_next_field(&t, &last, &id, &et), LB_ERR_FORMAT);
}

/* ---- encodings, with hand-made vectors from the format spec ---- */

Test(encodings, rle_bitpacked_hybrid) {
    /* bit-packed run of 8 values (0..7, width 3) then an RLE run of 5 x 4 */
    static const uint8_t buf[] = {0x03, 0x88, 0xc6, 0xfa, 0x0a, 0x04};
    uint32_t out[13];
    lb_error e;
    cr_assert_eq(lb_pq_decode_hybrid(buf, sizeof buf, 3, 13, out, &e), LB_OK, "%s", e.msg);
    for (uint32_t i = 0; i < 8; i++) cr_assert_eq(out[i], i);
    for (int i = 8; i < 13; i++) cr_assert_eq(out[i], 4);
    cr_assert_eq(lb_pq_decode_hybrid(buf, sizeof buf, 3, 14, out, &e), LB_ERR_FORMAT); /* runs out */
    cr_assert_eq(lb_pq_decode_hybrid(buf, sizeof buf, 33, 1, out, &e), LB_ERR_FORMAT);
    /* legacy BIT_PACKED levels are MSB-first: 0..7 in width 3 = 000 001 010 011 100 101 110 111 */
    static const uint8_t msb[] = {0x05, 0x39, 0x77};
    size_t used;
    cr_assert_eq(lb_pq_decode_bit_packed_levels(msb, 3, 3, 8, out, &used, &e), LB_OK);
    for (uint32_t i = 0; i < 8; i++) cr_assert_eq(out[i], i);
    cr_assert_eq(used, 3);
}

Test(encodings, delta_binary_packed) {
    lb_error e;
    int64_t out[8];
    size_t used;
    static const uint8_t ex1[] = {0x80, 0x01, 0x04, 0x05, 0x02, 0x02, 0, 0, 0, 0}; /* 1,2,3,4,5 */
    cr_assert_eq(lb_pq_decode_delta_binary(ex1, sizeof ex1, 5, out, &used, &e), LB_OK, "%s", e.msg);
    for (int i = 0; i < 5; i++) cr_assert_eq(out[i], i + 1);
    cr_assert_eq(used, sizeof ex1);
    static const uint8_t ex2[] = {0x80, 0x01, 0x04, 0x08, 0x0e, 0x03, 0x02, 0, 0,
                                  0,    0xc0, 0x3f, 0,    0,    0,    0,    0, 0}; /* 7,5,3,1,2,3,4,5 */
    static const int64_t want2[] = {7, 5, 3, 1, 2, 3, 4, 5};
    cr_assert_eq(lb_pq_decode_delta_binary(ex2, sizeof ex2, 8, out, &used, &e), LB_OK, "%s", e.msg);
    for (int i = 0; i < 8; i++) cr_assert_eq(out[i], want2[i]);
    cr_assert_eq(used, sizeof ex2);
    /* wrong count, truncated miniblock, width > 64 */
    cr_assert_eq(lb_pq_decode_delta_binary(ex2, sizeof ex2, 7, out, &used, &e), LB_ERR_FORMAT);
    cr_assert_eq(lb_pq_decode_delta_binary(ex2, 11, 8, out, &used, &e), LB_ERR_FORMAT);
    uint8_t bad[sizeof ex2];
    memcpy(bad, ex2, sizeof bad);
    bad[6] = 65;
    cr_assert_eq(lb_pq_decode_delta_binary(bad, sizeof bad, 8, out, &used, &e), LB_ERR_FORMAT);
}

Test(encodings, delta_byte_array) {
    /* "axis", "axle", "babble", "babyhood": prefixes 0,2,0,3; suffixes axis, le, babble, yhood */
    static const uint8_t buf[] = {
        0x80, 0x01, 0x04, 0x04, 0x00, 0x03, 0x03, 0,    0,   0,   0x44, 0x01, 0,    0,   0,   0,   0,   0,   0,  0, 0,
        0,    0x80, 0x01, 0x04, 0x04, 0x08, 0x03, 0x03, 0,   0,   0,    0x70, 0x00, 0,   0,   0,   0,   0,   0,  0, 0,
        0,    0,    'a',  'x',  'i',  's',  'l',  'e',  'b', 'a', 'b',  'b',  'l',  'e', 'y', 'h', 'o', 'o', 'd'};
    lb_value v[4];
    uint8_t *arena;
    lb_error e;
    cr_assert_eq(lb_pq_decode_delta_byte_array(buf, sizeof buf, 4, v, &arena, 1 << 20, &e), LB_OK, "%s", e.msg);
    static const char *const want[] = {"axis", "axle", "babble", "babyhood"};
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(v[i].slen, strlen(want[i]));
        cr_assert_eq(memcmp(v[i].s, want[i], v[i].slen), 0, "value %d", i);
    }
    free(arena);
    /* expansion cap and truncated suffix data */
    cr_assert_eq(lb_pq_decode_delta_byte_array(buf, sizeof buf, 4, v, &arena, 10, &e), LB_ERR_UNSUPPORTED);
    cr_assert_null(arena);
    cr_assert_eq(lb_pq_decode_delta_byte_array(buf, sizeof buf - 1, 4, v, &arena, 1 << 20, &e), LB_ERR_FORMAT);
}

Test(encodings, byte_stream_split_and_plain_bounds) {
    lb_pq_valtype vt = {.type = 4 /* FLOAT */};
    float f[2] = {1.5f, -2.25f};
    uint8_t raw[8], split[8];
    memcpy(raw, f, 8);
    for (int j = 0; j < 4; j++)
        for (int i = 0; i < 2; i++) split[j * 2 + i] = raw[i * 4 + j];
    lb_value v[2];
    uint8_t *scratch;
    lb_error e;
    cr_assert_eq(lb_pq_decode_byte_stream_split(&vt, split, 8, 2, v, &scratch, &e), LB_OK, "%s", e.msg);
    cr_assert(v[0].f == 1.5 && v[1].f == -2.25);
    free(scratch);
    cr_assert_eq(lb_pq_decode_byte_stream_split(&vt, split, 7, 2, v, &scratch, &e), LB_ERR_FORMAT);
    /* PLAIN BYTE_ARRAY whose length prefix points past the page */
    static const uint8_t ba[] = {5, 0, 0, 0, 'a', 'b'};
    lb_pq_valtype bt = {.type = 6};
    cr_assert_eq(lb_pq_decode_plain(&bt, ba, sizeof ba, 1, v, NULL, &e), LB_ERR_FORMAT);
    /* INT96: Julian day 2440589 + 1 ns = one day after the epoch, plus 1 ns */
    static const uint8_t i96[12] = {1, 0, 0, 0, 0, 0, 0, 0, 0x8d, 0x3d, 0x25, 0x00};
    lb_pq_valtype t96 = {.type = 3};
    cr_assert_eq(lb_pq_decode_plain(&t96, i96, 12, 1, v, NULL, &e), LB_OK, "%s", e.msg);
    cr_assert_eq(v[0].i, 86400000000001LL);
}

/* ---- corrupt and truncated input ---- */

static const char *const SHARED_FILES[] = {"alltypes_dictionary",
                                           "alltypes_plain",
                                           "alltypes_plain.snappy",
                                           "binary",
                                           "byte_stream_split.zstd",
                                           "concatenated_gzip_members",
                                           "datapage_v1-snappy-compressed-checksum",
                                           "datapage_v2.snappy",
                                           "delta_byte_array",
                                           "delta_length_byte_array",
                                           "dict-page-offset-zero",
                                           "int32_with_null_pages",
                                           "lz4_raw_compressed",
                                           "nullable.impala",
                                           "nulls.snappy",
                                           "plain-dict-uncompressed-checksum",
                                           "rle-dict-snappy-checksum",
                                           "rle_boolean_encoding"};

static uint8_t *load_shared_parquet(const char *name, size_t *len) {
    char rel[256];
    snprintf(rel, sizeof rel, "data/parquet/%s.parquet", name);
    char *p = shared_path(rel);
    char *d;
    lb_error e;
    cr_assert_eq(lb_read_file(p, &d, len, &e), LB_OK, "%s", e.msg);
    free(p);
    return (uint8_t *)d;
}

static void same_tables(const lb_table *a, const lb_table *b) {
    cr_assert_eq(a->ncols, b->ncols);
    cr_assert_eq(a->nrows, b->nrows);
    for (size_t c = 0; c < a->ncols; c++) cr_assert_str_eq(a->col_names[c], b->col_names[c]);
    for (size_t i = 0; i < a->nrows * a->ncols; i++) {
        const lb_value *x = &a->cells[i], *y = &b->cells[i];
        cr_assert_eq(x->type, y->type, "cell %zu", i);
        cr_assert_eq(x->i, y->i, "cell %zu", i);
        cr_assert(memcmp(&x->f, &y->f, sizeof x->f) == 0, "cell %zu", i);
        if (x->type == LB_VAL_STR) cr_assert(x->slen == y->slen && memcmp(x->s, y->s, x->slen) == 0, "cell %zu", i);
    }
}

/* Reads an exact-size copy (so ASan sees any over-read); a failure must be a clean error. The
 * same bytes read from a file (pieces by pread, not the whole file) give the same table or the
 * same message. */
static lb_status read_copy(const uint8_t *buf, size_t len, lb_error *e) {
    uint8_t *c = malloc(len ? len : 1);
    cr_assert_not_null(c);
    memcpy(c, buf, len);
    lb_table t;
    lb_status st = lb_parquet_read_buffer(c, len, "mutant.parquet", NULL, 0, &t, e);

    char dir[] = "/tmp/lb_pqmut_XXXXXX", path[64];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/mutant.parquet", dir);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(c, 1, len, f), len);
    fclose(f);
    lb_table ft;
    lb_error fe;
    lb_status fst = lb_parquet_read(path, NULL, 0, &ft, &fe);
    cr_assert_eq(fst, st, "file read %d vs buffer read %d (%s | %s)", fst, st, fst ? fe.msg : "", st ? e->msg : "");
    if (st == LB_OK) {
        same_tables(&ft, &t);
        lb_table_free(&ft);
    } else {
        size_t pl = strlen(path), ml = strlen("mutant.parquet");
        cr_assert(strncmp(fe.msg, path, pl) == 0 && strcmp(fe.msg + pl, e->msg + ml) == 0, "file: %s | buffer: %s",
                  fe.msg, e->msg);
    }
    unlink(path);
    rmdir(dir);
    if (st == LB_OK) {
        lb_table_free(&t);
    } else {
        cr_assert(st == LB_ERR_FORMAT || st == LB_ERR_UNSUPPORTED, "status %d: %s", st, e->msg);
        cr_assert(strncmp(e->msg, "mutant.parquet: ", 16) == 0, "message should name the file: %s", e->msg);
        cr_assert_eq(t.cells, NULL);
    }
    free(c);
    return st;
}

Test(corrupt, basic_errors) {
    lb_table t;
    lb_error e;
    cr_assert_eq(lb_parquet_read("/nonexistent/x.parquet", NULL, 0, &t, &e), LB_ERR_IO);
    cr_assert(strstr(e.msg, "/nonexistent/x.parquet"), "%s", e.msg);
    cr_assert_eq(read_copy((const uint8_t *)"", 0, &e), LB_ERR_FORMAT);
    cr_assert_eq(read_copy((const uint8_t *)"PAR1PAR1", 8, &e), LB_ERR_FORMAT);
    cr_assert_eq(read_copy((const uint8_t *)"PAR1\0\0\0\0\0\0\0\0PAR0", 16, &e), LB_ERR_FORMAT);
    cr_assert(strstr(e.msg, "truncated?"), "%s", e.msg);
    cr_assert_eq(read_copy((const uint8_t *)"PAR1\0\0\0\0\xff\xff\0\0PAR1", 16, &e), LB_ERR_FORMAT);
    cr_assert(strstr(e.msg, "footer length"), "%s", e.msg);
    cr_assert_eq(read_copy((const uint8_t *)"PAR1\0\0\0\0\x04\0\0\0PARE", 16, &e), LB_ERR_UNSUPPORTED);
    cr_assert_eq(read_copy((const uint8_t *)"PAR1\0\0\0\0\x04\0\0\0PAR1", 16, &e), LB_ERR_FORMAT);
    cr_assert(strstr(e.msg, "footer"), "%s", e.msg);
}

Test(corrupt, crc_mismatch_is_reported) {
    require_shared("data/parquet/plain-dict-uncompressed-checksum.parquet");
    size_t len;
    uint8_t *buf = load_shared_parquet("plain-dict-uncompressed-checksum", &len);
    lb_error e;
    cr_assert_eq(read_copy(buf, len, &e), LB_OK, "%s", e.msg);
    uint8_t *hit = memmem(buf, len, "a655fd0e", 8); /* inside the dictionary page */
    cr_assert_not_null(hit);
    *hit ^= 0x20;
    cr_assert_eq(read_copy(buf, len, &e), LB_ERR_FORMAT);
    cr_assert(strstr(e.msg, "CRC32 mismatch") && strstr(e.msg, "binary_field"), "%s", e.msg);
    free(buf);
}

Test(corrupt, truncations_and_byte_flips_never_crash) {
    require_shared("data/parquet/alltypes_plain.parquet");
    size_t total = 0, failures = 0;
    for (size_t f = 0; f < sizeof SHARED_FILES / sizeof *SHARED_FILES; f++) {
        size_t len;
        uint8_t *buf = load_shared_parquet(SHARED_FILES[f], &len);
        lb_error e;
        /* Any truncation loses the footer magic: always an error. */
        size_t step = len / 64 + 1;
        for (size_t n = 0; n < len; n += step, total++)
            cr_assert_neq(read_copy(buf, n, &e), LB_OK, "%s truncated to %zu bytes read fine", SHARED_FILES[f], n);
        /* Byte flips anywhere: OK or a clean error, never a crash or leak. */
        step = len / 700 + 1;
        for (size_t i = 0; i < len; i += step, total++) {
            static const uint8_t masks[] = {0xff, 0x01, 0x80};
            uint8_t old = buf[i];
            buf[i] ^= masks[i % 3];
            failures += read_copy(buf, len, &e) != LB_OK;
            buf[i] = old;
        }
        free(buf);
    }
    cr_log_info("%zu mutants read, %zu byte-flip mutants rejected", total, failures);
    cr_assert_gt(failures, 1000);
}

/* A page header claiming a huge size is refused before anything that large is allocated. */
Test(corrupt, implausible_expansion_refused_before_allocation) {
    lb_error e;
    static const uint8_t snappy_hdr[] = {0x80, 0x80, 0x80, 0x04, 0x00}; /* says 8 MiB */
    cr_assert_eq(lb_pq_check_expansion(LB_PQ_SNAPPY, snappy_hdr, sizeof snappy_hdr, 1u << 30, &e), LB_ERR_FORMAT);
    cr_assert_eq(lb_pq_check_expansion(LB_PQ_SNAPPY, snappy_hdr, sizeof snappy_hdr, 8u << 20, &e), LB_OK, "%s", e.msg);
    static const uint8_t tiny[16] = {0};
    cr_assert_eq(lb_pq_check_expansion(LB_PQ_GZIP, tiny, sizeof tiny, 1u << 30, &e), LB_ERR_FORMAT);
    cr_assert(strstr(e.msg, "GZIP"), "%s", e.msg);
    cr_assert_eq(lb_pq_check_expansion(LB_PQ_LZ4_RAW, tiny, sizeof tiny, 1u << 20, &e), LB_ERR_FORMAT);
    cr_assert_eq(lb_pq_check_expansion(LB_PQ_GZIP, tiny, sizeof tiny, 4096, &e), LB_OK);
    uint8_t out[4];
    cr_assert_eq(lb_pq_decompress(LB_PQ_BROTLI, tiny, 4, out, 4, &e), LB_ERR_UNSUPPORTED);
    cr_assert(strstr(e.msg, "BROTLI"), "%s", e.msg);
}

/* Regression (differential testing vs pyarrow): a 0-row file whose empty column chunk has
 * data_page_offset 0 reads as an empty table. Bytes: pyarrow 19.0.1, int32 column 'x'. */
Test(regression, zero_row_chunk_with_zero_offsets) {
    static const uint8_t f[] = {
        0x50, 0x41, 0x52, 0x31, 0x15, 0x04, 0x15, 0x00, 0x15, 0x00, 0x4c, 0x15, 0x00, 0x15, 0x00, 0x12, 0x00, 0x00,
        0x15, 0x04, 0x19, 0x2c, 0x35, 0x00, 0x18, 0x06, 0x73, 0x63, 0x68, 0x65, 0x6d, 0x61, 0x15, 0x02, 0x00, 0x15,
        0x02, 0x25, 0x02, 0x18, 0x01, 0x78, 0x00, 0x16, 0x00, 0x19, 0x1c, 0x19, 0x1c, 0x26, 0x00, 0x1c, 0x15, 0x02,
        0x19, 0x25, 0x00, 0x06, 0x19, 0x18, 0x01, 0x78, 0x15, 0x00, 0x16, 0x00, 0x16, 0x1c, 0x16, 0x1c, 0x26, 0x00,
        0x26, 0x08, 0x29, 0x1c, 0x15, 0x04, 0x15, 0x00, 0x15, 0x02, 0x00, 0x00, 0x00, 0x16, 0x1c, 0x16, 0x00, 0x26,
        0x08, 0x16, 0x1c, 0x14, 0x00, 0x00, 0x28, 0x20, 0x70, 0x61, 0x72, 0x71, 0x75, 0x65, 0x74, 0x2d, 0x63, 0x70,
        0x70, 0x2d, 0x61, 0x72, 0x72, 0x6f, 0x77, 0x20, 0x76, 0x65, 0x72, 0x73, 0x69, 0x6f, 0x6e, 0x20, 0x31, 0x39,
        0x2e, 0x30, 0x2e, 0x31, 0x19, 0x1c, 0x1c, 0x00, 0x00, 0x00, 0x76, 0x00, 0x00, 0x00, 0x50, 0x41, 0x52, 0x31};
    lb_table t;
    lb_error e;
    cr_assert_eq(lb_parquet_read_buffer(f, sizeof f, "empty.parquet", NULL, 0, &t, &e), LB_OK, "%s", e.msg);
    cr_assert_eq(t.nrows, 0);
    cr_assert_eq(t.ncols, 1);
    cr_assert_str_eq(t.col_names[0], "x");
    lb_table_free(&t);
}

/* ---- decoded-size limits (issue 10 item 5): hand-made bombs, no pyarrow needed ----
 * A tiny thrift compact writer: just what a one-column file needs. */
typedef struct tw {
    uint8_t *b;
    size_t n, cap;
    int16_t last[16];
    int depth;
} tw;
static void tw_byte(tw *w, uint8_t x) {
    if (w->n == w->cap) {
        w->cap = w->cap ? 2 * w->cap : 256;
        w->b = realloc(w->b, w->cap);
        cr_assert_not_null(w->b);
    }
    w->b[w->n++] = x;
}
static void tw_bytes(tw *w, const void *p, size_t n) {
    for (size_t i = 0; i < n; i++) tw_byte(w, ((const uint8_t *)p)[i]);
}
static void tw_varint(tw *w, uint64_t v) {
    while (v >= 0x80) {
        tw_byte(w, (uint8_t)(v | 0x80));
        v >>= 7;
    }
    tw_byte(w, (uint8_t)v);
}
static void tw_zz(tw *w, int64_t v) { tw_varint(w, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63)); }
static void tw_field(tw *w, int16_t id, uint8_t type) {
    int16_t d = id - w->last[w->depth];
    cr_assert(d > 0 && d <= 15);
    tw_byte(w, (uint8_t)(d << 4 | type));
    w->last[w->depth] = id;
}
static void tw_i32(tw *w, int16_t id, int32_t v) {
    tw_field(w, id, 5);
    tw_zz(w, v);
}
static void tw_i64(tw *w, int16_t id, int64_t v) {
    tw_field(w, id, 6);
    tw_zz(w, v);
}
static void tw_str(tw *w, int16_t id, const char *s) {
    tw_field(w, id, 8);
    tw_varint(w, strlen(s));
    tw_bytes(w, s, strlen(s));
}
static void tw_begin(tw *w, int16_t id) {
    if (id) tw_field(w, id, 12);
    w->last[++w->depth] = 0;
} /* id 0: list element */
static void tw_end(tw *w) {
    tw_byte(w, 0);
    w->depth--;
}
static void tw_list(tw *w, int16_t id, uint8_t et, size_t n) {
    tw_field(w, id, 9);
    cr_assert_lt(n, 15);
    tw_byte(w, (uint8_t)(n << 4 | et));
}

/* PageHeader: type 0 data (v1) or 2 dictionary; encoding of the values. */
static void tw_page(tw *w, int type, int32_t usize, int32_t csize, int32_t nvals, int32_t enc) {
    memset(w->last, 0, sizeof w->last);
    w->depth = 0;
    tw_i32(w, 1, type);
    tw_i32(w, 2, usize);
    tw_i32(w, 3, csize);
    if (type == 0) {
        tw_begin(w, 5);
        tw_i32(w, 1, nvals);
        tw_i32(w, 2, enc);
        tw_i32(w, 3, 3);
        tw_i32(w, 4, 3);
        tw_end(w);
    } else {
        tw_begin(w, 7);
        tw_i32(w, 1, nvals);
        tw_i32(w, 2, enc);
        tw_end(w);
    }
    tw_byte(w, 0);
}

/* Footer for one REQUIRED column "x" of physical type ptype holding nrows rows in one row
 * group whose pages start at dict_off (or data_off when dict_off is 0). */
static void tw_footer(tw *w, int ptype, int codec, int64_t nrows, int64_t dict_off, int64_t data_off, int64_t csize) {
    size_t start = w->n;
    memset(w->last, 0, sizeof w->last);
    w->depth = 0;
    tw_i32(w, 1, 1);
    tw_list(w, 2, 12, 2);
    tw_begin(w, 0);
    tw_str(w, 4, "schema");
    tw_i32(w, 5, 1);
    tw_end(w);
    tw_begin(w, 0);
    tw_i32(w, 1, ptype);
    tw_i32(w, 3, 0);
    tw_str(w, 4, "x");
    tw_end(w);
    tw_i64(w, 3, nrows);
    tw_list(w, 4, 12, 1);
    tw_begin(w, 0);
    tw_list(w, 1, 12, 1);
    tw_begin(w, 0);
    tw_i64(w, 2, dict_off ? dict_off : data_off);
    tw_begin(w, 3);
    tw_i32(w, 1, ptype);
    tw_list(w, 2, 5, 1);
    tw_zz(w, 0);
    tw_list(w, 3, 8, 1);
    tw_varint(w, 1);
    tw_byte(w, 'x');
    tw_i32(w, 4, codec);
    tw_i64(w, 5, nrows);
    tw_i64(w, 6, csize);
    tw_i64(w, 7, csize);
    tw_i64(w, 9, data_off);
    if (dict_off) tw_i64(w, 11, dict_off);
    tw_end(w);
    tw_end(w);
    tw_i64(w, 2, csize);
    tw_i64(w, 3, nrows);
    tw_end(w);
    tw_byte(w, 0);
    uint32_t flen = (uint32_t)(w->n - start);
    uint8_t le[4] = {(uint8_t)flen, (uint8_t)(flen >> 8), (uint8_t)(flen >> 16), (uint8_t)(flen >> 24)};
    tw_bytes(w, le, 4);
    tw_bytes(w, "PAR1", 4);
}

/* The dictionary + RLE bomb: a one-entry dictionary (slen bytes) and one data page
 * whose bit-width-0 indices repeat it for nrows rows. */
static tw dict_bomb(int32_t nrows, size_t slen) {
    tw w = {0};
    tw_bytes(&w, "PAR1", 4);
    int64_t dict_off = (int64_t)w.n;
    tw_page(&w, 2, (int32_t)(4 + slen), (int32_t)(4 + slen), 1, 0 /* PLAIN */);
    uint8_t le[4] = {(uint8_t)slen, (uint8_t)(slen >> 8), 0, 0};
    tw_bytes(&w, le, 4);
    for (size_t i = 0; i < slen; i++) tw_byte(&w, 'a');
    int64_t data_off = (int64_t)w.n;
    tw_page(&w, 0, 1, 1, nrows, 8 /* RLE_DICTIONARY */);
    tw_byte(&w, 0); /* bit width 0: every index is 0 */
    tw_footer(&w, 6 /* BYTE_ARRAY */, 0, nrows, dict_off, data_off, (int64_t)w.n - dict_off);
    return w;
}

Test(limits, dictionary_rle_bomb_30m_rows_refused_up_front) {
    tw w = dict_bomb(30000000, 100);
    cr_assert_lt(w.n, 14000, "the bomb is %zu bytes", w.n);
    lb_table t;
    lb_error e;
    cr_assert_eq(lb_parquet_read_buffer(w.b, w.n, "bomb.parquet", NULL, 0, &t, &e), LB_ERR_UNSUPPORTED, "%s", e.msg);
    cr_assert(strstr(e.msg, "30000000 rows") && strstr(e.msg, "64 x the file size"), "%s", e.msg);
    cr_assert_eq(t.nrows, 0);
    free(w.b);
}

/* 500 k rows fit the cell budget, their 100-byte copies do not: refused while copying. */
Test(limits, dictionary_rle_bomb_refused_while_copying_strings) {
    tw w = dict_bomb(500000, 100);
    lb_table t;
    lb_error e;
    cr_assert_eq(lb_parquet_read_buffer(w.b, w.n, "bomb.parquet", NULL, 0, &t, &e), LB_ERR_UNSUPPORTED, "%s", e.msg);
    cr_assert(strstr(e.msg, "copying the strings") && strstr(e.msg, "the limit for a"), "%s", e.msg);
    free(w.b);
}

/* The same shape at an honest size reads. */
Test(limits, small_dictionary_file_reads) {
    tw w = dict_bomb(1000, 100);
    lb_table t;
    lb_error e;
    cr_assert_eq(lb_parquet_read_buffer(w.b, w.n, "ok.parquet", NULL, 0, &t, &e), LB_OK, "%s", e.msg);
    cr_assert_eq(t.nrows, 1000);
    cr_assert_eq(lb_table_cell(&t, 999, 0)->slen, 100);
    lb_table_free(&t);
    free(w.b);
}

/* The zstd bomb: one INT32 page declaring 831 MB, a zstd frame of zeros that really
 * expands to it (~13 KB compressed). Refused before the 831 MB buffer is allocated. */
Test(limits, zstd_page_bomb_refused_before_allocation) {
    const size_t usize = 831u << 20;
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    cr_assert_not_null(cc);
    cr_assert(!ZSTD_isError(ZSTD_CCtx_setPledgedSrcSize(cc, usize)));
    size_t zcap = 1 << 20, zn = 0;
    uint8_t *z = malloc(zcap), *zeros = calloc(1, 1 << 20);
    cr_assert(z && zeros);
    for (size_t done = 0; done < usize; done += 1 << 20) {
        ZSTD_inBuffer in = {zeros, 1 << 20, 0};
        ZSTD_EndDirective end = done + (1 << 20) >= usize ? ZSTD_e_end : ZSTD_e_continue;
        size_t left;
        do {
            ZSTD_outBuffer out = {z + zn, zcap - zn, 0};
            left = ZSTD_compressStream2(cc, &out, &in, end);
            cr_assert(!ZSTD_isError(left));
            zn += out.pos;
            cr_assert_lt(zn, zcap);
        } while (end == ZSTD_e_end ? left != 0 : in.pos < in.size);
    }
    ZSTD_freeCCtx(cc);
    free(zeros);
    tw w = {0};
    tw_bytes(&w, "PAR1", 4);
    int64_t data_off = (int64_t)w.n;
    tw_page(&w, 0, (int32_t)usize, (int32_t)zn, 1, 0 /* PLAIN */);
    tw_bytes(&w, z, zn);
    free(z);
    tw_footer(&w, 1 /* INT32 */, 6 /* ZSTD */, 1, 0, data_off, (int64_t)w.n - data_off);
    cr_log_info("zstd bomb: %zu bytes declaring %zu", w.n, usize);
    cr_assert_lt(w.n, 64 << 10);
    lb_table t;
    lb_error e;
    cr_assert_eq(lb_parquet_read_buffer(w.b, w.n, "zbomb.parquet", NULL, 0, &t, &e), LB_ERR_UNSUPPORTED, "%s", e.msg);
    cr_assert(strstr(e.msg, "decompressing this page") && strstr(e.msg, "the limit for a"), "%s", e.msg);
    free(w.b);
}

/* ---- row filters (issue 13: a process's shard) ----
 * A hand-made file of one REQUIRED BYTE_ARRAY column "x" in uneven row groups (one of them
 * empty); row i holds "r<i>"; utf8: annotated UTF8. */
static const int64_t kRgRows[] = {7, 1, 0, 13, 5, 20, 3, 9};
#define NRG (sizeof kRgRows / sizeof kRgRows[0])

typedef struct rg_file {
    tw w;
    int64_t data_off[NRG], size[NRG];
    size_t body[NRG]; /* offset of the row group's first value */
    int64_t nrows;
} rg_file;

static rg_file rg_file_make(bool utf8) {
    rg_file f = {0};
    tw *w = &f.w;
    tw_bytes(w, "PAR1", 4);
    for (size_t g = 0; g < NRG; g++) {
        char vals[512];
        size_t n = 0;
        for (int64_t i = 0; i < kRgRows[g]; i++) {
            char s[32];
            uint32_t l = (uint32_t)snprintf(s, sizeof s, "r%lld", (long long)(f.nrows + i));
            uint8_t le[4] = {(uint8_t)l, 0, 0, 0};
            memcpy(vals + n, le, 4);
            memcpy(vals + n + 4, s, l);
            n += 4 + l;
        }
        f.data_off[g] = (int64_t)w->n;
        tw_page(w, 0, (int32_t)n, (int32_t)n, (int32_t)kRgRows[g], 0 /* PLAIN */);
        f.body[g] = w->n;
        tw_bytes(w, vals, n);
        f.size[g] = (int64_t)w->n - f.data_off[g];
        f.nrows += kRgRows[g];
    }
    size_t start = w->n;
    memset(w->last, 0, sizeof w->last);
    w->depth = 0;
    tw_i32(w, 1, 1);
    tw_list(w, 2, 12, 2);
    tw_begin(w, 0);
    tw_str(w, 4, "schema");
    tw_i32(w, 5, 1);
    tw_end(w);
    tw_begin(w, 0);
    tw_i32(w, 1, 6 /* BYTE_ARRAY */);
    tw_i32(w, 3, 0);
    tw_str(w, 4, "x");
    if (utf8) tw_i32(w, 6, 0); /* converted_type UTF8 */
    tw_end(w);
    tw_i64(w, 3, f.nrows);
    tw_list(w, 4, 12, NRG);
    for (size_t g = 0; g < NRG; g++) {
        tw_begin(w, 0);
        tw_list(w, 1, 12, 1);
        tw_begin(w, 0);
        tw_i64(w, 2, f.data_off[g]);
        tw_begin(w, 3);
        tw_i32(w, 1, 6);
        tw_list(w, 2, 5, 1);
        tw_zz(w, 0);
        tw_list(w, 3, 8, 1);
        tw_varint(w, 1);
        tw_byte(w, 'x');
        tw_i32(w, 4, 0);
        tw_i64(w, 5, kRgRows[g]);
        tw_i64(w, 6, f.size[g]);
        tw_i64(w, 7, f.size[g]);
        tw_i64(w, 9, f.data_off[g]);
        tw_end(w);
        tw_end(w);
        tw_i64(w, 2, f.size[g]);
        tw_i64(w, 3, kRgRows[g]);
        tw_end(w);
    }
    tw_byte(w, 0);
    uint32_t flen = (uint32_t)(w->n - start);
    uint8_t le[4] = {(uint8_t)flen, (uint8_t)(flen >> 8), (uint8_t)(flen >> 16), (uint8_t)(flen >> 24)};
    tw_bytes(w, le, 4);
    tw_bytes(w, "PAR1", 4);
    return f;
}

static void assert_tables_equal(const lb_table *a, const lb_table *b, const char *what) {
    cr_assert_eq(a->nrows, b->nrows, "%s: %zu rows, expected %zu", what, a->nrows, b->nrows);
    cr_assert_eq(a->ncols, b->ncols, "%s", what);
    for (size_t r = 0; r < a->nrows; r++)
        for (size_t c = 0; c < a->ncols; c++) {
            const lb_value *x = lb_table_cell(a, r, c), *y = lb_table_cell(b, r, c);
            cr_assert_eq(x->type, LB_VAL_STR, "%s", what);
            cr_assert_eq(y->type, LB_VAL_STR, "%s", what);
            cr_assert_str_eq(x->s, y->s, "%s: row %zu", what, r);
        }
}

static const int64_t kBlocks[] = {1, 2, 3, 5, 8, 30, 64};
static const int kCounts[] = {1, 2, 3, 4, 7};
static const int64_t kFirsts[] = {0, 5};

Test(shard, row_groups_filtered_equal_whole_read_filtered) {
    rg_file f = rg_file_make(false);
    lb_table whole;
    lb_error e;
    cr_assert_eq(lb_parquet_read_buffer(f.w.b, f.w.n, "rg.parquet", NULL, 0, &whole, &e), LB_OK, "%s", e.msg);
    cr_assert_eq(whole.nrows, (size_t)f.nrows);
    for (int64_t i = 0; i < f.nrows; i++) {
        char s[32];
        snprintf(s, sizeof s, "r%lld", (long long)i);
        cr_assert_str_eq(lb_table_cell(&whole, (size_t)i, 0)->s, s);
    }
    lb_table_free(&whole);
    size_t checked = 0;
    for (size_t bi = 0; bi < sizeof kBlocks / sizeof *kBlocks; bi++)
        for (size_t ci = 0; ci < sizeof kCounts / sizeof *kCounts; ci++)
            for (size_t fi = 0; fi < sizeof kFirsts / sizeof *kFirsts; fi++)
                for (int idx = 0; idx < kCounts[ci]; idx++) {
                    char what[96];
                    snprintf(what, sizeof what, "block %lld, process %d of %d, first %lld", (long long)kBlocks[bi], idx,
                             kCounts[ci], (long long)kFirsts[fi]);
                    lb_row_filter ref = {
                        .block = kBlocks[bi], .count = kCounts[ci], .index = idx, .first = kFirsts[fi]};
                    lb_row_filter got = ref;
                    lb_table want, t;
                    cr_assert_eq(lb_parquet_read_buffer(f.w.b, f.w.n, "rg.parquet", NULL, 0, &want, &e), LB_OK);
                    lb_table_keep_rows(&want, &ref);
                    cr_assert_eq(lb_parquet_read_buffer_rows(f.w.b, f.w.n, "rg.parquet", NULL, 0, &got, &t, &e), LB_OK,
                                 "%s: %s", what, e.msg);
                    assert_tables_equal(&t, &want, what);
                    cr_assert_eq(got.seen, f.nrows, "%s: seen %lld", what, (long long)got.seen);
                    cr_assert_eq(ref.seen, got.seen, "%s", what);
                    lb_table_free(&want);
                    lb_table_free(&t);
                    checked++;
                }
    cr_log_info("%zu shards compared", checked);
    free(f.w.b);
}

/* A row group with a broken page (its first string claims more bytes than the page holds) is
 * an error naming it for a shard with rows in it, and unseen by one without: such row groups
 * are not decoded at all. */
Test(shard, row_groups_outside_the_shard_are_not_decoded) {
    rg_file f = rg_file_make(false);
    int64_t rg_first = 0;
    size_t skipped = 0, failed = 0;
    for (size_t g = 0; g < NRG; rg_first += kRgRows[g], g++) {
        if (kRgRows[g] == 0) continue;
        uint8_t *bad = malloc(f.w.n);
        cr_assert_not_null(bad);
        memcpy(bad, f.w.b, f.w.n);
        memset(bad + f.body[g], 0xff, 4); /* the first value's length */
        lb_table t;
        lb_error e;
        char rgname[32];
        snprintf(rgname, sizeof rgname, "row group %zu:", g);
        cr_assert_eq(lb_parquet_read_buffer(bad, f.w.n, "bad.parquet", NULL, 0, &t, &e), LB_ERR_FORMAT);
        cr_assert(strstr(e.msg, rgname), "%s", e.msg);
        for (size_t bi = 0; bi < sizeof kBlocks / sizeof *kBlocks; bi++)
            for (size_t ci = 1; ci < sizeof kCounts / sizeof *kCounts; ci++)
                for (int idx = 0; idx < kCounts[ci]; idx++) {
                    lb_row_filter keep = {.block = kBlocks[bi], .count = kCounts[ci], .index = idx};
                    bool covers = false;
                    for (int64_t i = rg_first; i < rg_first + kRgRows[g]; i++)
                        covers = covers || lb_row_filter_keeps(&keep, i);
                    lb_status st = lb_parquet_read_buffer_rows(bad, f.w.n, "bad.parquet", NULL, 0, &keep, &t, &e);
                    if (covers) {
                        cr_assert_eq(st, LB_ERR_FORMAT, "row group %zu, block %lld, %d of %d", g,
                                     (long long)kBlocks[bi], idx, kCounts[ci]);
                        cr_assert(strstr(e.msg, "bad.parquet: ") && strstr(e.msg, rgname), "%s", e.msg);
                        cr_assert_eq(t.nrows, 0);
                        failed++;
                        continue;
                    }
                    cr_assert_eq(st, LB_OK, "row group %zu, block %lld, %d of %d: %s", g, (long long)kBlocks[bi], idx,
                                 kCounts[ci], e.msg);
                    lb_row_filter ref = {.block = kBlocks[bi], .count = kCounts[ci], .index = idx};
                    lb_table want;
                    cr_assert_eq(lb_parquet_read_buffer(f.w.b, f.w.n, "rg.parquet", NULL, 0, &want, &e), LB_OK);
                    lb_table_keep_rows(&want, &ref);
                    assert_tables_equal(&t, &want, "skipping a broken row group");
                    cr_assert_eq(keep.seen, f.nrows);
                    lb_table_free(&want);
                    lb_table_free(&t);
                    skipped++;
                }
        free(bad);
    }
    cr_assert(skipped > 0 && failed > 0, "skipped %zu, failed %zu", skipped, failed);
    free(f.w.b);
}

/* Messages name the file's row numbers, not the shard's: row 30 (in row group 5) not UTF-8. */
Test(shard, messages_name_the_files_rows) {
    rg_file f = rg_file_make(true);
    size_t at = f.body[5];
    for (int64_t i = 26; i < 30; i++) at += 4 + (size_t)f.w.b[at]; /* skip rows 26..29 */
    f.w.b[at + 4] = 0xff;                                          /* "r30" -> "\xff30" */
    lb_table t;
    lb_error e;
    cr_assert_eq(lb_parquet_read_buffer(f.w.b, f.w.n, "u.parquet", NULL, 0, &t, &e), LB_ERR_FORMAT);
    cr_assert(strstr(e.msg, "row 30: value is not valid UTF-8"), "%s", e.msg);
    lb_row_filter keep = {.block = 26, .count = 2, .index = 1}; /* rows 26..51: row 30 is the shard's 5th */
    cr_assert_eq(lb_parquet_read_buffer_rows(f.w.b, f.w.n, "u.parquet", NULL, 0, &keep, &t, &e), LB_ERR_FORMAT);
    cr_assert(strstr(e.msg, "row group 5") && strstr(e.msg, "row 30: value is not valid UTF-8"), "%s", e.msg);
    keep = (lb_row_filter){.block = 26, .count = 2, .index = 0}; /* rows 0..25, 52..57: not row group 5 */
    cr_assert_eq(lb_parquet_read_buffer_rows(f.w.b, f.w.n, "u.parquet", NULL, 0, &keep, &t, &e), LB_OK, "%s", e.msg);
    cr_assert_eq(t.nrows, 32);
    cr_assert_str_eq(lb_table_cell(&t, 26, 0)->s, "r52");
    lb_table_free(&t);
    free(f.w.b);
}
