/* Tests for src/data/parquet*.c and thrift_compact.c: every apache/parquet-testing file in
 * ../shared/data/parquet against its expected JSON (cell by cell), delta_byte_array against the
 * upstream CSV, the IMDb parquet files against their JSONL, pyarrow-written fixtures covering
 * each codec/encoding/page version (when the reference env has pyarrow), and corrupt input. */
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
#include "data/parquet_encodings.h"
#include "data/thrift_compact.h"

/* ---- helpers ---- */

static const char *shared_dir(void) {
    const char *s = getenv("LORABERT_SHARED");
    return s && *s ? s : "../shared";
}

static char *shared_path(const char *rel) {
    char *p = lb_path_join(shared_dir(), rel);
    cr_assert_not_null(p);
    return p;
}

static void require_shared(const char *rel) {
    char *p = shared_path(rel);
    bool ok = lb_file_exists(p);
    free(p);
    if (!ok) cr_skip_test("shared data missing (%s/%s); set LORABERT_SHARED", shared_dir(), rel);
}

static cJSON *load_json(const char *path) {
    char *d;
    size_t n;
    lb_error e;
    cr_assert_eq(lb_read_file(path, &d, &n, &e), LB_OK, "%s", e.msg);
    cJSON *j = cJSON_ParseWithLength(d, n);
    free(d);
    cr_assert_not_null(j, "%s: bad JSON", path);
    return j;
}

/* "2009-03-01T00:00:00.000Z" from nanoseconds since the epoch (hyparquet's INT96 rendering). */
static void iso_from_nanos(int64_t ns, char *buf, size_t n) {
    int64_t ms = ns / 1000000;
    if (ns % 1000000 < 0) ms--;
    time_t secs = (time_t)(ms / 1000);
    int64_t frac = ms % 1000;
    if (frac < 0) { frac += 1000; secs--; }
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
            cr_assert_eq(v->type, LB_VAL_FLOAT, "%s row %zu %s: expected a number, got type %d", file, row, col, v->type);
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
    cJSON *j = load_json(jp);
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
        if (lb_table_col(&t, kv->string) >= 0) { present++; continue; }
        lb_table t2;
        const char *cols[1] = {kv->string};
        cr_assert_eq(lb_parquet_read(pq, cols, 1, &t2, &e), LB_ERR_UNSUPPORTED, "%s: column %s: %s", name, kv->string, e.msg);
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

#define EXPECTED_TEST(id, file, min_cells)                                   \
    Test(parquet_testing, id) {                                              \
        size_t n = check_expected(file);                                     \
        cr_assert_geq(n, (size_t)(min_cells), "only %zu cells checked", n);  \
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
    static const int ids[] = {4, 5, 6, 7, 2, 3, 0, 1};  /* upstream README */
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

/* Flat columns of a file with nested ones still read; the nested one errors by name. */
Test(parquet_testing, nested_column_only_fails_when_asked) {
    require_shared("data/parquet/datapage_v2.snappy.parquet");
    char *p = shared_path("data/parquet/datapage_v2.snappy.parquet");
    lb_table t;
    lb_error e;
    const char *ok[] = {"b", "d"};
    cr_assert_eq(lb_parquet_read(p, ok, 2, &t, &e), LB_OK, "%s", e.msg);
    cr_assert_eq(t.nrows, 5);
    lb_table_free(&t);
    const char *nested[] = {"a", "e"};
    cr_assert_eq(lb_parquet_read(p, nested, 2, &t, &e), LB_ERR_UNSUPPORTED);
    cr_assert(strstr(e.msg, "'e'") && strstr(e.msg, "e.list.element"), "%s", e.msg);
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
                if (*p == '"' && p[1] == '"') { *w++ = '"'; p += 2; }
                else if (*p == '"') { p++; break; }
                else { cr_assert_neq(*p, 0, "unterminated quote"); *w++ = *p++; }
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
            if (!f[k]) { cr_assert_eq(v->type, LB_VAL_NULL, "row %zu %s", r, hdr[k]); nulls++; continue; }
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
