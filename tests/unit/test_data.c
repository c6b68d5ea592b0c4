/* Tests for src/data: CSV/TSV and JSONL readers (RFC 4180 edge cases, typed JSON values,
 * errors with line numbers) and lb_dataset_load (IMDb splits, label mapping, errors). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "base/fileio.h"
#include "data/csv.h"
#include "data/dataset.h"
#include "data/labels.h"
#include "data/splits.h"
#include "base/strlist.h"
#include "data/jsonl.h"
#include "data/table.h"
#include "../support/test_support.h"

/* ---- helpers ---------------------------------------------------------------------------- */

/* Path under ../shared/data, or NULL when the shared folder is absent. */
static char *shared_data(const char *rel) {
    char *d = lb_path_join(shared_dir(), "data");
    char *p = lb_path_join(d, rel);
    free(d);
    if (access(p, R_OK) != 0) {
        free(p);
        return NULL;
    }
    return p;
}

static lb_table csv_ok(const char *s, char delim) {
    lb_table t;
    lb_error e;
    cr_assert_eq(lb_csv_parse(s, strlen(s), delim, "t.csv", &t, &e), LB_OK, "%s", e.msg);
    return t;
}

static void csv_bad(const char *s, const char *want) {
    lb_table t;
    lb_error e = {0};
    cr_assert_eq(lb_csv_parse(s, strlen(s), ',', "t.csv", &t, &e), LB_ERR_FORMAT, "accepted: %s", s);
    cr_assert_not_null(strstr(e.msg, want), "message \"%s\" lacks \"%s\"", e.msg, want);
    cr_assert_eq(t.nrows, 0);
}

static lb_table jsonl_ok(const char *s) {
    lb_table t;
    lb_error e;
    cr_assert_eq(lb_jsonl_parse(s, strlen(s), "t.jsonl", &t, &e), LB_OK, "%s", e.msg);
    return t;
}

static void jsonl_bad(const char *s, const char *want) {
    lb_table t;
    lb_error e = {0};
    cr_assert_eq(lb_jsonl_parse(s, strlen(s), "t.jsonl", &t, &e), LB_ERR_FORMAT, "accepted: %s", s);
    cr_assert_not_null(strstr(e.msg, want), "message \"%s\" lacks \"%s\"", e.msg, want);
}

static void cell_str(const lb_table *t, size_t r, size_t c, const char *want) {
    const lb_value *v = lb_table_cell(t, r, c);
    cr_assert_eq(v->type, LB_VAL_STR, "cell (%zu,%zu) has type %d", r, c, v->type);
    cr_assert_eq(v->slen, strlen(want), "cell (%zu,%zu): length %zu, want %zu (\"%s\" vs \"%s\")", r, c, v->slen,
                 strlen(want), v->s, want);
    cr_assert_str_eq(v->s, want);
}

/* Writes content to a fresh temp dir as name; returns the path (dir freed by rm_file_dir). */
static char *tmp_file(const char *name, const char *content) {
    char *d = strdup("/tmp/lb_data_XXXXXX");
    cr_assert_not_null(mkdtemp(d));
    char *p = lb_path_join(d, name);
    free(d);
    FILE *fp = fopen(p, "wb");
    cr_assert_not_null(fp);
    fputs(content, fp);
    fclose(fp);
    return p;
}

static void rm_file_dir(char *p) {
    unlink(p);
    char *slash = strrchr(p, '/');
    *slash = '\0';
    rmdir(p);
    free(p);
}

static lb_status load_str(const char *name, const char *content, const lb_dataset_opts *o, lb_dataset *d, lb_error *e) {
    char *p = tmp_file(name, content);
    lb_status st = lb_dataset_load(p, o, d, e);
    rm_file_dir(p);
    return st;
}

/* ---- CSV ------------------------------------------------------------------------------------ */

Test(csv, rfc4180_quoting) {
    lb_table t = csv_ok("id,text\n"
                        "1,\"a, b\"\n"
                        "2,\"say \"\"hi\"\"\"\n"
                        "3,\"two\nlines\"\n"
                        "4,\"crlf\r\ninside\"\n"
                        "5,plain \"quote\" inside\n"
                        "6,\"\"\n"
                        "7,\n",
                        ',');
    cr_assert_eq(t.ncols, 2);
    cr_assert_eq(t.nrows, 7);
    cr_assert_str_eq(t.col_names[0], "id");
    cr_assert_str_eq(t.col_names[1], "text");
    cell_str(&t, 0, 0, "1");
    cell_str(&t, 0, 1, "a, b");
    cell_str(&t, 1, 1, "say \"hi\"");
    cell_str(&t, 2, 1, "two\nlines");
    cell_str(&t, 3, 1, "crlf\r\ninside");
    cell_str(&t, 4, 1, "plain \"quote\" inside");
    cell_str(&t, 5, 1, "");                                   /* quoted empty: an empty string */
    cr_assert_eq(lb_table_cell(&t, 6, 1)->type, LB_VAL_NULL); /* unquoted empty: null, like pandas */
    cr_assert_eq(lb_table_col(&t, "text"), 1);
    cr_assert_eq(lb_table_col(&t, "nope"), -1);
    lb_table_free(&t);
}

Test(csv, crlf_bom_blank_lines_no_final_newline) {
    lb_table t = csv_ok("\xEF\xBB\xBFlabel,text\r\n0,x\r\n\r\n1,\"y\"\r\n\n2,z", ',');
    cr_assert_str_eq(t.col_names[0], "label"); /* BOM stripped */
    cr_assert_eq(t.nrows, 3);
    cell_str(&t, 0, 1, "x");
    cell_str(&t, 1, 1, "y");
    cell_str(&t, 2, 0, "2");
    cell_str(&t, 2, 1, "z");
    lb_table_free(&t);
    /* Old-Mac CR line ends. */
    t = csv_ok("a,b\r1,2\r", ',');
    cr_assert_eq(t.nrows, 1);
    cell_str(&t, 0, 1, "2");
    lb_table_free(&t);
    /* Header only. */
    t = csv_ok("a,b\n", ',');
    cr_assert_eq(t.nrows, 0);
    cr_assert_eq(t.ncols, 2);
    lb_table_free(&t);
}

Test(csv, tsv_and_unicode) {
    lb_table t = csv_ok("text\tlabel\ncaf\xC3\xA9, ok\tpos\n\"tab\there\"\tneg\n", '\t');
    cr_assert_eq(t.nrows, 2);
    cell_str(&t, 0, 0, "caf\xC3\xA9, ok");
    cell_str(&t, 0, 1, "pos");
    cell_str(&t, 1, 0, "tab\there");
    lb_table_free(&t);
    t = csv_ok(",a,\n1,2,3\n", ',');
    cr_assert_str_eq(t.col_names[0], "Unnamed: 0");
    cr_assert_str_eq(t.col_names[2], "Unnamed: 2");
    lb_table_free(&t);
}

Test(csv, errors_name_the_line) {
    csv_bad("a,b\n1,2\n3,\"open\nstill open\n", "t.csv:3: unterminated quoted field");
    csv_bad("a,b\n1,2\n3\n", "t.csv:3: expected 2 fields (as in the header), found 1");
    csv_bad("a,b\n1,\"x\ny\"\n3,4,5\n", "t.csv:4: expected 2 fields (as in the header), found 3");
    csv_bad("a,b\n1,\"x\"y\n", "t.csv:2: unexpected character 'y' after the closing quote of field 2");
    csv_bad("a,b\n1,\xff\n", "t.csv:2: invalid UTF-8 byte 0xff at file offset 6");
    csv_bad("a,b\n1,\xC3\n", "invalid UTF-8");
    csv_bad("", "t.csv: empty file (no header row)");
    csv_bad("\n\n", "empty file");
    csv_bad("a,b,a\n1,2,3\n", "t.csv:1: duplicate column name \"a\" (columns 1 and 3)");
    lb_table t;
    lb_error e;
    cr_assert_eq(lb_csv_read("/nonexistent.csv", ',', &t, &e), LB_ERR_IO);
}

/* Round trip with an independent writer: files Python's csv module wrote must read back as the
 * exact rows it was given (an unquoted empty field reads as NULL, Python's ""). */
Test(csv, reads_what_python_csv_writes) {
    if (system("python3 -c pass >/dev/null 2>&1") != 0) {
        const char *ci = getenv("CI");
        if (ci && strcmp(ci, "true") == 0) cr_assert_fail("CI=true but python3 is missing");
        cr_skip_test("python3 absent");
    }
    char dir[] = "/tmp/lb_csvref_XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char cmd[9000];
    const int N = 300;
    snprintf(cmd, sizeof cmd, "python3 '%s' gen '%s' %d", in_repo("tools/reference/csv_ref.py"), dir, N);
    cr_assert_eq(system(cmd), 0);
    for (int i = 0; i < N; i++) {
        char jn[600], cn[600];
        snprintf(jn, sizeof jn, "%s/case_%03d.json", dir, i);
        snprintf(cn, sizeof cn, "%s/case_%03d.csv", dir, i);
        char delim = ',';
        if (access(cn, R_OK) != 0) {
            snprintf(cn, sizeof cn, "%s/case_%03d.tsv", dir, i);
            delim = '\t';
        }
        char *js;
        size_t jl;
        lb_error e;
        cr_assert_eq(lb_read_file(jn, &js, &jl, &e), LB_OK, "%s", e.msg);
        cJSON *rows = cJSON_Parse(js);
        free(js);
        cr_assert_not_null(rows);
        lb_table t;
        cr_assert_eq(lb_csv_read(cn, delim, &t, &e), LB_OK, "%s", e.msg);
        cr_assert_eq(t.nrows + 1, (size_t)cJSON_GetArraySize(rows), "%s: %zu rows", cn, t.nrows);
        size_t r = 0;
        for (const cJSON *row = rows->child; row; row = row->next, r++) {
            cr_assert_eq((size_t)cJSON_GetArraySize(row), t.ncols, "%s", cn);
            size_t c = 0;
            for (const cJSON *f = row->child; f; f = f->next, c++) {
                if (r == 0) {
                    cr_assert_str_eq(t.col_names[c], f->valuestring, "%s header", cn);
                    continue;
                }
                const lb_value *v = lb_table_cell(&t, r - 1, c);
                const char *got = v->type == LB_VAL_STR ? v->s : "";
                cr_assert(v->type == LB_VAL_STR || v->type == LB_VAL_NULL);
                cr_assert_str_eq(got, f->valuestring, "%s row %zu col %zu", cn, r, c);
                if (v->type == LB_VAL_NULL) cr_assert_str_eq(f->valuestring, "");
            }
        }
        lb_table_free(&t);
        cJSON_Delete(rows);
    }
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

/* ---- JSONL ---------------------------------------------------------------------------------- */

Test(jsonl, typed_values_and_escapes) {
    lb_table t = jsonl_ok("{\"text\": \"a\\\"b\\\\c\\nd\\u00e9\\ud83d\\ude00\", \"label\": 1, \"f\": 1.0, \"g\": 1e3}\n"
                          "\n"
                          "  \n"
                          "{\"text\":\"caf\xC3\xA9\",\"label\":-2,\"f\":null,\"g\":true,\"big\":9007199254740993}\r\n"
                          "{\"label\": 0, \"text\": \"x\", \"nest\": {\"a\": [1, 2]}, \"g\": false}");
    cr_assert_eq(t.nrows, 3);
    cr_assert_eq(t.ncols, 6);
    long tx = lb_table_col(&t, "text"), lb = lb_table_col(&t, "label"), f = lb_table_col(&t, "f"),
         g = lb_table_col(&t, "g"), big = lb_table_col(&t, "big"), nest = lb_table_col(&t, "nest");
    cr_assert(tx == 0 && lb == 1 && f == 2 && g == 3 && big == 4 && nest == 5);
    cell_str(&t, 0, 0, "a\"b\\c\nd\xC3\xA9\xF0\x9F\x98\x80");
    cell_str(&t, 1, 0, "caf\xC3\xA9");
    const lb_value *v = lb_table_cell(&t, 0, 1);
    cr_assert(v->type == LB_VAL_INT && v->i == 1);
    v = lb_table_cell(&t, 1, 1);
    cr_assert(v->type == LB_VAL_INT && v->i == -2);
    v = lb_table_cell(&t, 0, 2);
    cr_assert(v->type == LB_VAL_FLOAT && v->f == 1.0);
    v = lb_table_cell(&t, 0, 3);
    cr_assert(v->type == LB_VAL_FLOAT && v->f == 1000.0);
    cr_assert_eq(lb_table_cell(&t, 1, 2)->type, LB_VAL_NULL);
    v = lb_table_cell(&t, 1, 3);
    cr_assert(v->type == LB_VAL_BOOL && v->i == 1);
    v = lb_table_cell(&t, 2, 3);
    cr_assert(v->type == LB_VAL_BOOL && v->i == 0);
    v = lb_table_cell(&t, 1, 4);
    cr_assert(v->type == LB_VAL_INT && v->i == 9007199254740993LL, "big int not exact");
    cr_assert_eq(lb_table_cell(&t, 0, 4)->type, LB_VAL_NULL); /* key missing in earlier row */
    cr_assert_eq(lb_table_cell(&t, 2, 4)->type, LB_VAL_NULL);
    cell_str(&t, 2, 5, "{\"a\":[1,2]}");
    cell_str(&t, 2, 0, "x"); /* keys in another order still land in their columns */
    lb_table_free(&t);
}

Test(jsonl, json_array_file) {
    lb_table t = jsonl_ok(" [ {\"text\": \"a\", \"label\": 1}, {\"label\": 0, \"text\": \"b\", \"x\": 2.5} ] \n");
    cr_assert_eq(t.nrows, 2);
    cell_str(&t, 1, 0, "b");
    cr_assert_eq(lb_table_cell(&t, 0, 1)->type, LB_VAL_INT);
    cr_assert_eq(lb_table_cell(&t, 1, 2)->type, LB_VAL_FLOAT);
    lb_table_free(&t);
    /* numbers are typed from their literals as in JSON Lines: 1 an INT, 1.0 a FLOAT (a multi-hot
     * vector of floats stays one), large integers exact; escapes and nesting do not shift the
     * elements' spans */
    t = jsonl_ok("[\n {\"t\": \"a,]}\\\"\", \"l\": [0.0, 1.0], \"n\": 1, \"f\": 1.0, \"o\": {\"x\": [1]}},\n"
                 " {\"n\": 9007199254740993, \"f\": 2, \"l\": [1, 0]}\n]");
    cr_assert_eq(t.nrows, 2);
    long l = lb_table_col(&t, "l"), n = lb_table_col(&t, "n"), f = lb_table_col(&t, "f");
    cell_str(&t, 0, 0, "a,]}\"");
    const lb_value *v = lb_table_cell(&t, 0, l);
    cr_assert(v->type == LB_VAL_LIST && v->n_items == 2 && v->items[0].type == LB_VAL_FLOAT &&
              v->items[1].type == LB_VAL_FLOAT && v->items[1].f == 1.0);
    v = lb_table_cell(&t, 1, l);
    cr_assert(v->type == LB_VAL_LIST && v->items[0].type == LB_VAL_INT && v->items[0].i == 1);
    cr_assert(lb_table_cell(&t, 0, n)->type == LB_VAL_INT && lb_table_cell(&t, 0, n)->i == 1);
    cr_assert(lb_table_cell(&t, 0, f)->type == LB_VAL_FLOAT && lb_table_cell(&t, 0, f)->f == 1.0);
    cr_assert(lb_table_cell(&t, 1, n)->type == LB_VAL_INT && lb_table_cell(&t, 1, n)->i == 9007199254740993LL,
              "big int not exact");
    cr_assert(lb_table_cell(&t, 1, f)->type == LB_VAL_INT && lb_table_cell(&t, 1, f)->i == 2);
    lb_table_free(&t);
    jsonl_bad("[{\"a\":1}, 3]", "t.jsonl:array element 1: expected a JSON object");
    jsonl_bad("[{\"a\":1}] x", "unexpected data after the top-level JSON array");
    jsonl_bad("[{\"a\":1},\n{\"a\":}]", "t.jsonl:2: invalid JSON array");
}

Test(jsonl, errors_name_the_line) {
    jsonl_bad("{\"a\":1}\n\n{\"a\":2,}\n", "t.jsonl:3: invalid JSON");
    jsonl_bad("{\"a\":1}\n\"str\"\n", "t.jsonl:2: expected a JSON object, found a string");
    jsonl_bad("{\"a\":1}\n[1]\n",
              "t.jsonl:2: expected a JSON object, found an array"); /* a line with an array is not JSON Lines */
    jsonl_bad("{\"a\":1}\n{\"a\":1,\"a\":2}\n", "t.jsonl:2: duplicate key \"a\"");
    jsonl_bad("{\"a\":1} {\"a\":2}\n", "t.jsonl:1: more than one JSON value on the line");
    jsonl_bad("{\"a\":1}\n{\"a\":\"\xC0\xAF\"}\n", "t.jsonl:2: invalid UTF-8 byte 0xc0");
    jsonl_bad("{\"a\":\"x\ny\"}\n", "t.jsonl:1: invalid JSON");
    lb_table t = jsonl_ok("\n  \n");
    cr_assert_eq(t.nrows, 0);
    lb_table_free(&t);
}

/* A list cell as a cJSON array (numbers as doubles), to compare with what Python wrote. */
static cJSON *list_json(const lb_value *v) {
    cJSON *a = cJSON_CreateArray();
    for (size_t k = 0; k < v->n_items; k++) {
        const lb_value *e = &v->items[k];
        cJSON *x = e->type == LB_VAL_STR     ? cJSON_CreateString(e->s)
                   : e->type == LB_VAL_INT   ? cJSON_CreateNumber((double)e->i)
                   : e->type == LB_VAL_FLOAT ? cJSON_CreateNumber(e->f)
                   : e->type == LB_VAL_BOOL  ? cJSON_CreateBool(e->i != 0)
                                             : cJSON_CreateNull();
        cJSON_AddItemToArray(a, x);
    }
    return a;
}

/* Files Python's json module wrote (random keys, escapes, ensure_ascii on/off, big ints,
 * floats, nested values, blank lines) read back with the same typed values. */
Test(jsonl, reads_what_python_json_writes) {
    if (system("python3 -c pass >/dev/null 2>&1") != 0) {
        const char *ci = getenv("CI");
        if (ci && strcmp(ci, "true") == 0) cr_assert_fail("CI=true but python3 is missing");
        cr_skip_test("python3 absent");
    }
    char dir[] = "/tmp/lb_jsonlref_XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char cmd[9000];
    const int N = 300;
    snprintf(cmd, sizeof cmd, "python3 '%s' gen '%s' %d", in_repo("tools/reference/jsonl_ref.py"), dir, N);
    cr_assert_eq(system(cmd), 0);
    size_t ncells = 0;
    for (int i = 0; i < N; i++) {
        char fn[600], en[600];
        snprintf(fn, sizeof fn, "%s/case_%03d.jsonl", dir, i);
        snprintf(en, sizeof en, "%s/case_%03d.expect", dir, i);
        lb_table t;
        lb_error e;
        cr_assert_eq(lb_jsonl_read(fn, &t, &e), LB_OK, "%s", e.msg);
        char *ex;
        size_t exl;
        cr_assert_eq(lb_read_file(en, &ex, &exl, &e), LB_OK, "%s", e.msg);
        size_t row = 0;
        /* One expect line per row (an empty line is a row of nulls). */
        char *line = ex;
        while (*line) {
            char *nl = strchr(line, '\n');
            *nl = '\0';
            cr_assert_lt(row, t.nrows, "%s: more expected rows than read", fn);
            size_t nonnull = 0;
            for (size_t c = 0; c < t.ncols; c++) nonnull += lb_table_cell(&t, row, c)->type != LB_VAL_NULL;
            size_t seen = 0;
            const char *p = line;
            while (*p) {
                const char *endp;
                cJSON *key = cJSON_ParseWithOpts(p, &endp, 0);
                cr_assert(cJSON_IsString(key), "%s: bad expect line %s", en, line);
                char type[8];
                int tl = 0;
                p = endp + 1;
                while (*p != ' ') type[tl++] = *p++;
                type[tl] = '\0';
                cJSON *val = cJSON_ParseWithOpts(p + 1, &endp, 0);
                cr_assert(cJSON_IsString(val));
                p = *endp == '\t' ? endp + 1 : endp;
                long col = lb_table_col(&t, key->valuestring);
                cr_assert_geq(col, 0, "%s: no column %s", fn, key->valuestring);
                const lb_value *v = lb_table_cell(&t, row, (size_t)col);
                const char *want = val->valuestring;
                if (!strcmp(type, "int")) {
                    cr_assert(v->type == LB_VAL_INT && v->i == strtoll(want, NULL, 10),
                              "%s row %zu %s: want int %s, type %d", fn, row, key->valuestring, want, v->type);
                } else if (!strcmp(type, "float")) {
                    cr_assert(v->type == LB_VAL_FLOAT && v->f == strtod(want, NULL), "%s row %zu: want float %s", fn,
                              row, want);
                } else if (!strcmp(type, "bool")) {
                    cr_assert(v->type == LB_VAL_BOOL && v->i == atoi(want));
                } else if (!strcmp(type, "str")) {
                    cr_assert_eq(v->type, LB_VAL_STR, "%s row %zu", fn, row);
                    cr_assert_str_eq(v->s, want, "%s row %zu col %s", fn, row, key->valuestring);
                } else if (v->type == LB_VAL_LIST) { /* an array of scalars: a list cell */
                    cJSON *b = cJSON_Parse(want), *a = list_json(v);
                    cr_assert(cJSON_IsArray(b) && cJSON_Compare(a, b, 1), "%s row %zu: list vs %s", fn, row, want);
                    cJSON_Delete(a);
                    cJSON_Delete(b);
                } else {
                    cr_assert_eq(v->type, LB_VAL_STR);
                    cJSON *a = cJSON_Parse(v->s), *b = cJSON_Parse(want);
                    cr_assert(a && b && cJSON_Compare(a, b, 1), "%s row %zu: nested %s vs %s", fn, row, v->s, want);
                    cJSON_Delete(a);
                    cJSON_Delete(b);
                }
                cJSON_Delete(key);
                cJSON_Delete(val);
                seen++;
                ncells++;
            }
            cr_assert_eq(seen, nonnull, "%s row %zu: %zu non-null cells, expected %zu", fn, row, nonnull, seen);
            row++;
            line = nl + 1;
        }
        cr_assert_eq(row, t.nrows, "%s: %zu rows read, %zu expected", fn, t.nrows, row);
        free(ex);
        lb_table_free(&t);
    }
    cr_assert_gt(ncells, 1000);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

/* Wide inputs stay fast: no step is quadratic in the number of columns. */
Test(data, wide_inputs_are_linear, .timeout = 20) {
    size_t ncols = 50000, cap = ncols * 16 + 64;
    char *s = malloc(cap);
    size_t n = 0;
    for (size_t c = 0; c < ncols; c++) n += (size_t)snprintf(s + n, cap - n, "%sc%zu", c ? "," : "", c);
    n += (size_t)snprintf(s + n, cap - n, "\n");
    for (size_t c = 0; c < ncols; c++) n += (size_t)snprintf(s + n, cap - n, "%s%zu", c ? "," : "", c);
    lb_table t;
    lb_error e;
    cr_assert_eq(lb_csv_parse(s, n, ',', "wide.csv", &t, &e), LB_OK, "%s", e.msg);
    cr_assert_eq(t.ncols, ncols);
    cell_str(&t, 0, ncols - 1, "49999");
    lb_table_free(&t);
    /* JSONL where every line brings a new key: columns grow one by one. */
    size_t nl = 2000;
    n = 0;
    for (size_t r = 0; r < nl; r++) n += (size_t)snprintf(s + n, cap - n, "{\"k%zu\":%zu,\"text\":\"t\"}\n", r, r);
    cr_assert_eq(lb_jsonl_parse(s, n, "wide.jsonl", &t, &e), LB_OK, "%s", e.msg);
    cr_assert_eq(t.ncols, nl + 1);
    cr_assert_eq(t.nrows, nl);
    const lb_value *v = lb_table_cell(&t, nl - 1, (size_t)lb_table_col(&t, "k1999"));
    cr_assert(v->type == LB_VAL_INT && v->i == 1999);
    cr_assert_eq(lb_table_cell(&t, 0, (size_t)lb_table_col(&t, "k1999"))->type, LB_VAL_NULL);
    cell_str(&t, 1234, 1, "t");
    lb_table_free(&t);
    free(s);
}

/* ---- datasets ----------------------------------------------------------------------------- */

static void check_imdb(const char *split) {
    char csvn[64], jsn[64];
    snprintf(csvn, sizeof csvn, "imdb/%s.csv", split);
    snprintf(jsn, sizeof jsn, "imdb/%s.jsonl", split);
    char *pc = shared_data(csvn), *pj = shared_data(jsn);
    if (!pc || !pj) cr_skip_test("%s/data/imdb absent (set LORABERT_SHARED)", shared_dir());
    lb_dataset a, b;
    lb_error e;
    lb_dataset_opts o = {.require_labels = true};
    cr_assert_eq(lb_dataset_load(pc, &o, &a, &e), LB_OK, "%s", e.msg);
    cr_assert_eq(lb_dataset_load(pj, NULL, &b, &e), LB_OK, "%s", e.msg);
    cr_assert_eq(a.n, 1000);
    cr_assert_eq(b.n, 1000);
    cr_assert_eq(a.num_labels, 2);
    cr_assert_eq(b.num_labels, 2);
    cr_assert_null(a.label_names);
    cr_assert_null(a.text_pairs);
    int ones = 0;
    for (size_t i = 0; i < a.n; i++) {
        cr_assert_str_eq(a.texts[i], b.texts[i], "row %zu differs between CSV and JSONL", i);
        cr_assert_eq(a.labels[i], b.labels[i], "row %zu label differs", i);
        cr_assert(a.labels[i] == 0 || a.labels[i] == 1);
        ones += a.labels[i];
    }
    cr_assert_eq(ones, 500);
    lb_dataset_free(&a);
    lb_dataset_free(&b);
    free(pc);
    free(pj);
}

Test(dataset, imdb_train) { check_imdb("train"); }
Test(dataset, imdb_validation) { check_imdb("validation"); }

Test(dataset, imdb_first_row_exact) {
    char *p = shared_data("imdb/train.jsonl");
    if (!p) cr_skip_test("%s/data/imdb absent", shared_dir());
    lb_dataset d;
    lb_error e;
    cr_assert_eq(lb_dataset_load(p, NULL, &d, &e), LB_OK, "%s", e.msg);
    cr_assert_eq(strncmp(d.texts[0], "When I refer to Malice as a film noir", 37), 0);
    cr_assert_eq(d.labels[0], 0);
    cr_assert_eq(d.labels[1], 1);
    lb_dataset_free(&d);
    free(p);
}

Test(dataset, parquet_dispatch) {
    /* Parquet goes through lb_parquet_read; while that is a placeholder the error is passed on. */
    char *p = shared_data("imdb/train.snappy.parquet"), *j = shared_data("imdb/train.jsonl");
    if (!p || !j) cr_skip_test("%s/data/imdb absent", shared_dir());
    lb_dataset d, ref;
    lb_error e;
    lb_status st = lb_dataset_load(p, NULL, &d, &e);
    if (st != LB_OK) {
        cr_assert_eq(st, LB_ERR_UNSUPPORTED, "%s", e.msg);
    } else {
        cr_assert_eq(lb_dataset_load(j, NULL, &ref, &e), LB_OK, "%s", e.msg);
        cr_assert_eq(d.n, ref.n);
        for (size_t i = 0; i < d.n; i++) {
            cr_assert_str_eq(d.texts[i], ref.texts[i]);
            cr_assert_eq(d.labels[i], ref.labels[i]);
        }
        lb_dataset_free(&ref);
        lb_dataset_free(&d);
    }
    free(p);
    free(j);
}

Test(dataset, string_labels_sorted_or_named) {
    lb_dataset d;
    lb_error e;
    const char *csv = "text,label\na,pos\nb,neg\nc,pos\nd,neutral\n";
    cr_assert_eq(load_str("s.csv", csv, NULL, &d, &e), LB_OK, "%s", e.msg);
    cr_assert_eq(d.num_labels, 3);
    cr_assert_str_eq(d.label_names[0], "neg");
    cr_assert_str_eq(d.label_names[1], "neutral");
    cr_assert_str_eq(d.label_names[2], "pos");
    int want[4] = {2, 0, 2, 1};
    for (int i = 0; i < 4; i++) cr_assert_eq(d.labels[i], want[i]);
    lb_dataset_free(&d);

    char *names[] = {"pos", "neg", "neutral", "unused"};
    lb_dataset_opts o = {.label_names = (const char *const *)names, .n_label_names = 4};
    cr_assert_eq(load_str("s.csv", csv, &o, &d, &e), LB_OK, "%s", e.msg);
    cr_assert_eq(d.num_labels, 4);
    int want2[4] = {0, 1, 0, 2};
    for (int i = 0; i < 4; i++) cr_assert_eq(d.labels[i], want2[i]);
    cr_assert_str_eq(d.label_names[3], "unused");
    lb_dataset_free(&d);

    o.n_label_names = 2;
    cr_assert_eq(load_str("s.csv", csv, &o, &d, &e), LB_ERR_FORMAT);
    cr_assert_not_null(strstr(e.msg, "s.csv: row 3: unknown label \"neutral\" (the known labels, from the given label "
                                     "names, are \"pos\", \"neg\")"),
                       "%s", e.msg);
}

Test(dataset, integer_labels) {
    lb_dataset d;
    lb_error e;
    /* CSV strings of canonical decimal digits are integers; num_labels = max + 1. */
    cr_assert_eq(load_str("i.csv", "text,label\na,2\nb,0\n", NULL, &d, &e), LB_OK, "%s", e.msg);
    cr_assert_eq(d.num_labels, 3);
    cr_assert_eq(d.labels[0], 2);
    cr_assert_eq(d.labels[1], 0);
    cr_assert_null(d.label_names);
    lb_dataset_free(&d);
    /* With known names, num_labels comes from them and out-of-range labels are errors. */
    char *names[] = {"NEG", "POS"};
    lb_dataset_opts o = {.label_names = (const char *const *)names, .n_label_names = 2};
    cr_assert_eq(load_str("i.jsonl", "{\"text\":\"a\",\"label\":0}\n", &o, &d, &e), LB_OK, "%s", e.msg);
    cr_assert_eq(d.num_labels, 2);
    cr_assert_str_eq(d.label_names[1], "POS");
    lb_dataset_free(&d);
    cr_assert_eq(load_str("i.jsonl", "{\"text\":\"a\",\"label\":0}\n{\"text\":\"b\",\"label\":2}\n", &o, &d, &e),
                 LB_ERR_FORMAT);
    cr_assert_not_null(strstr(e.msg, "i.jsonl: row 1: label 2 is not a class id below 2 (2 labels, from the given "
                                     "label names: \"NEG\", \"POS\")"),
                       "%s", e.msg);
    cr_assert_eq(load_str("i.jsonl", "{\"text\":\"a\",\"label\":-1}\n", NULL, &d, &e), LB_ERR_FORMAT);
    cr_assert_not_null(strstr(e.msg, "row 0: label -1 in column \"label\" is not a class index"), "%s", e.msg);
    cr_assert_eq(load_str("i.jsonl", "{\"text\":\"a\",\"label\":0.5}\n", NULL, &d, &e), LB_ERR_UNSUPPORTED);
    cr_assert_not_null(strstr(e.msg, "non-integer number"), "%s", e.msg);
    /* 1.0 is a float literal (JSON Lines and .json arrays alike): the message says so */
    cr_assert_eq(load_str("f.json", "[{\"text\":\"a\",\"label\":1.0}]", NULL, &d, &e), LB_ERR_UNSUPPORTED);
    cr_assert_not_null(strstr(e.msg, "f.json: row 0: label column \"label\" holds 1.0, a number written with a "
                                     "fraction or an exponent; class labels are integers written as integers (1)"),
                       "%s", e.msg);
    /* Booleans are 0/1. */
    cr_assert_eq(
        load_str("b.jsonl", "{\"text\":\"a\",\"label\":true}\n{\"text\":\"b\",\"label\":false}\n", NULL, &d, &e), LB_OK,
        "%s", e.msg);
    cr_assert_eq(d.labels[0], 1);
    cr_assert_eq(d.num_labels, 2);
    lb_dataset_free(&d);
}

Test(dataset, columns_pairs_and_missing_labels) {
    lb_dataset d;
    lb_error e;
    lb_dataset_opts o = {.text_column = "premise", .text_pair_column = "hypothesis", .label_column = "y"};
    cr_assert_eq(load_str("p.tsv", "premise\thypothesis\ty\nA\tB\t1\nC\tD\t0\n", &o, &d, &e), LB_OK, "%s", e.msg);
    cr_assert_eq(d.n, 2);
    cr_assert_str_eq(d.texts[1], "C");
    cr_assert_str_eq(d.text_pairs[1], "D");
    cr_assert_eq(d.labels[0], 1);
    lb_dataset_free(&d);
    /* No label column: labels -1 (prediction), unless required. */
    cr_assert_eq(load_str("n.csv", "text\nhello\nworld\n", NULL, &d, &e), LB_OK, "%s", e.msg);
    cr_assert_eq(d.labels[0], -1);
    cr_assert_eq(d.labels[1], -1);
    cr_assert_eq(d.num_labels, 0);
    lb_dataset_free(&d);
    lb_dataset_opts req = {.require_labels = true};
    cr_assert_eq(load_str("n.csv", "text\nhello\n", &req, &d, &e), LB_ERR_FORMAT);
    cr_assert_not_null(strstr(e.msg, "no label column \"label\" (columns: \"text\")"), "%s", e.msg);
    /* Null labels: -1, or an error when labels are required. */
    cr_assert_eq(load_str("n.csv", "text,label\na,1\nb,\n", NULL, &d, &e), LB_OK, "%s", e.msg);
    cr_assert_eq(d.labels[1], -1);
    lb_dataset_free(&d);
    cr_assert_eq(load_str("n.csv", "text,label\na,1\nb,\n", &req, &d, &e), LB_ERR_FORMAT);
    cr_assert_not_null(strstr(e.msg, "row 1: label column \"label\" is null"), "%s", e.msg);
}

Test(dataset, errors) {
    lb_dataset d;
    lb_error e;
    cr_assert_eq(load_str("m.csv", "review,label\nx,1\n", NULL, &d, &e), LB_ERR_FORMAT);
    cr_assert_not_null(strstr(e.msg, "no text column \"text\" (columns: \"review\", \"label\")"), "%s", e.msg);
    cr_assert_eq(load_str("m.csv", "text,label\n", NULL, &d, &e), LB_ERR_FORMAT);
    cr_assert_not_null(strstr(e.msg, "the dataset has no rows"), "%s", e.msg);
    cr_assert_eq(load_str("m.csv", "text,label\na,1\n,0\n", NULL, &d, &e), LB_ERR_FORMAT);
    cr_assert_not_null(strstr(e.msg, "row 1: text column \"text\" is null"), "%s", e.msg);
    cr_assert_eq(load_str("m.jsonl", "{\"text\":5,\"label\":1}\n", NULL, &d, &e), LB_ERR_FORMAT);
    cr_assert_not_null(strstr(e.msg, "row 0: text column \"text\" is not a string (found integer)"), "%s", e.msg);
    cr_assert_eq(load_str("m.jsonl", "{\"text\":\"a\\u0000b\",\"label\":1}\n", NULL, &d, &e), LB_ERR_UNSUPPORTED);
    cr_assert_not_null(strstr(e.msg, "m.jsonl:1: a string holds \\u0000"), "%s", e.msg);
    /* An escaped backslash before u0000 is not a NUL escape. */
    cr_assert_eq(load_str("m.jsonl", "{\"text\":\"a\\\\u0000b\",\"label\":1}\n", NULL, &d, &e), LB_OK, "%s", e.msg);
    cr_assert_str_eq(d.texts[0], "a\\u0000b");
    lb_dataset_free(&d);
    cr_assert_eq(load_str("m.jsonl", "{\"text\":\"a\",\"label\":1}\n{\"text\":\"b\",\"label\":\"x\"}\n", NULL, &d, &e),
                 LB_ERR_FORMAT);
    cr_assert_not_null(strstr(e.msg, "mixes class ids and label names: row 0 is 1 (a class id), row 1 is \"x\" (a "
                                     "label name)"),
                       "%s", e.msg);
    cr_assert_eq(load_str("m.xlsx", "x", NULL, &d, &e), LB_ERR_UNSUPPORTED);
    cr_assert_not_null(strstr(e.msg, "unknown data file type"), "%s", e.msg);
    cr_assert_eq(lb_dataset_load("/tmp", NULL, &d, &e), LB_ERR_UNSUPPORTED);
    cr_assert_eq(lb_dataset_load("/nonexistent/x.csv", NULL, &d, &e), LB_ERR_IO);
    /* The label column may be a text column; text and text-pair may not be the same. */
    lb_dataset_opts same = {.label_column = "text"};
    cr_assert_eq(load_str("m.csv", "text\nb\na\n", &same, &d, &e), LB_OK, "%s", e.msg);
    cr_assert_str_eq(d.texts[0], "b");
    cr_assert_eq(d.labels[0], 1);
    cr_assert_str_eq(d.label_names[0], "a");
    lb_dataset_free(&d);
    lb_dataset_opts pair = {.text_pair_column = "text"};
    cr_assert_eq(load_str("m.csv", "text\nb\n", &pair, &d, &e), LB_ERR_USAGE);
    cr_assert_not_null(strstr(e.msg, "text and text-pair column are both \"text\""), "%s", e.msg);
    /* CSV parse errors pass through with file and line. */
    cr_assert_eq(load_str("m.csv", "text,label\n\"open,1\n", NULL, &d, &e), LB_ERR_FORMAT);
    cr_assert_not_null(strstr(e.msg, "m.csv:2: unterminated quoted field"), "%s", e.msg);
}

/* ---- the label rule (data/labels.h): each repro of issue 10 §4 ----------------------------- */

Test(labels, canonical_class_ids_only) {
    const char *yes[] = {"0", "1", "7", "10", "123456"};
    const char *no[] = {"", "+1", " 1", "1 ", "0x1", "01", "00", "NaN", "1.0", "1e0", "-1", "-0", "one", "1_0"};
    int64_t v;
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++)
        cr_assert(lb_label_is_class_id(yes[i], strlen(yes[i]), &v) && v == atoll(yes[i]), "\"%s\"", yes[i]);
    for (size_t i = 0; i < sizeof no / sizeof *no; i++)
        cr_assert(!lb_label_is_class_id(no[i], strlen(no[i]), &v), "\"%s\" must not be a class id", no[i]);
    cr_assert(lb_label_is_class_id("99999999999999999999999", 23, &v) && v == INT64_MAX, "saturates");
    /* a digit string too large for a class is an error, not a name */
    lb_dataset d;
    lb_error e;
    cr_assert_eq(load_str("big.csv", "text,label\na,99999999999\n", NULL, &d, &e), LB_ERR_FORMAT);
    cr_assert_not_null(strstr(e.msg, "row 0: label \"99999999999\" in column \"label\" is too large"), "%s", e.msg);
}

Test(labels, eval_names_never_sorted_onto_the_model) {
    /* "favorable" became the model's Negative (sorted unique values mapped onto its classes) */
    char *model[] = {"Negative", "Positive"};
    lb_dataset_opts o = {.label_names = (const char *const *)model,
                         .n_label_names = 2,
                         .require_labels = true,
                         .label_names_origin = "the model's config.json id2label"};
    lb_dataset d;
    lb_error e;
    cr_assert_eq(load_str("fav.csv", "text,label\ngood,favorable\nbad,unfavorable\n", &o, &d, &e), LB_ERR_FORMAT);
    cr_assert_not_null(strstr(e.msg, "fav.csv: row 0: unknown label \"favorable\" (the known labels, from the model's "
                                     "config.json id2label, are \"Negative\", \"Positive\")"),
                       "%s", e.msg);
    /* exact names map by name, in the model's order */
    cr_assert_eq(load_str("ok.csv", "text,label\ngood,Positive\nbad,Negative\n", &o, &d, &e), LB_OK, "%s", e.msg);
    cr_assert_eq(d.labels[0], 1);
    cr_assert_eq(d.labels[1], 0);
    cr_assert_eq(d.label_kind, LB_LABEL_KIND_STR);
    lb_dataset_free(&d);
    /* "+1", " 1", "0x1", "NaN" are label names, so against the model's names they are unknown */
    const char *odd[] = {"+1", " 1", "0x1", "NaN"};
    for (int i = 0; i < 4; i++) {
        char csv[64], want[64];
        snprintf(csv, sizeof csv, "text,label\na,\"%s\"\nb,Negative\n", odd[i]);
        snprintf(want, sizeof want, "row 0: unknown label \"%s\"", odd[i]);
        cr_assert_eq(load_str("odd.csv", csv, &o, &d, &e), LB_ERR_FORMAT, "%s", odd[i]);
        cr_assert_not_null(strstr(e.msg, want), "%s", e.msg);
    }
}

Test(labels, ids_and_names_never_mix) {
    /* a file with labels 1 and x mapped 1 to class 0 */
    lb_dataset d;
    lb_error e;
    cr_assert_eq(load_str("mix.csv", "text,label\na,1\nb,x\nc,0\n", NULL, &d, &e), LB_ERR_FORMAT);
    cr_assert_not_null(strstr(e.msg, "mix.csv: label column \"label\" mixes class ids and label names: row 0 is \"1\" "
                                     "(a class id), row 1 is \"x\" (a label name)"),
                       "%s", e.msg);
    const char *odd[] = {"+1", " 1", "0x1", "NaN", "01", "1.0"};
    for (int i = 0; i < 6; i++) {
        char csv[64];
        snprintf(csv, sizeof csv, "text,label\na,0\nb,\"%s\"\n", odd[i]);
        cr_assert_eq(load_str("odd.csv", csv, NULL, &d, &e), LB_ERR_FORMAT, "\"%s\" with 0", odd[i]);
        cr_assert_not_null(strstr(e.msg, "row 0 is \"0\" (a class id), row 1 is"), "%s", e.msg);
    }
    /* typed JSON integers and digit strings are both class ids */
    cr_assert_eq(load_str("ok.jsonl", "{\"text\":\"a\",\"label\":1}\n{\"text\":\"b\",\"label\":\"0\"}\n", NULL, &d, &e),
                 LB_OK, "%s", e.msg);
    cr_assert_eq(d.label_kind, LB_LABEL_KIND_INT);
    cr_assert_eq(d.labels[1], 0);
    lb_dataset_free(&d);
    /* names alone, without known names: their sorted values */
    cr_assert_eq(load_str("n.csv", "text,label\na,NaN\nb,+1\n", NULL, &d, &e), LB_OK, "%s", e.msg);
    cr_assert_str_eq(d.label_names[0], "+1");
    cr_assert_str_eq(d.label_names[1], "NaN");
    cr_assert_eq(d.labels[0], 1);
    lb_dataset_free(&d);
}

static lb_dataset load_ok(const char *name, const char *content) {
    lb_dataset d;
    lb_error e;
    lb_dataset_opts o = {.require_labels = true};
    cr_assert_eq(load_str(name, content, &o, &d, &e), LB_OK, "%s", e.msg);
    return d;
}

Test(labels, map_policies) {
    lb_error e;
    char **out;
    int n;
    bool sorted;
    char *dflt[] = {"Negative", "Positive"};
    /* train's default names that do not cover the labels: sorted values, and the caller is told */
    lb_dataset ds[2] = {load_ok("tr.csv", "text,label\na,pos\nb,neg\n"), load_ok("va.csv", "text,label\na,neg\n")};
    lb_label_spec spec = {
        .names = (const char *const *)dflt, .n_names = 2, .policy = LB_LABELS_DEFAULT_NAMES, .origin = "the default"};
    cr_assert_eq(lb_labels_map(ds, 2, &spec, &out, &n, &sorted, &e), LB_OK, "%s", e.msg);
    cr_assert(sorted);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(out[0], "neg");
    cr_assert_eq(ds[0].labels[0], 1);
    cr_assert_eq(ds[1].labels[0], 0);
    cr_assert_eq(ds[1].num_labels, 2);
    lb_free_list(out);
    lb_dataset_free(&ds[0]);
    lb_dataset_free(&ds[1]);
    /* the same names given explicitly: an error naming the value, file, row and names */
    ds[0] = load_ok("tr.csv", "text,label\na,Positive\nb,Negative\n");
    ds[1] = load_ok("va.csv", "text,label\na,Negative\nb,neutral\n");
    spec.policy = LB_LABELS_EXACT;
    spec.origin = "--labels";
    cr_assert_eq(lb_labels_map(ds, 2, &spec, &out, &n, &sorted, &e), LB_ERR_FORMAT);
    cr_assert_not_null(strstr(e.msg, "va.csv: row 1: unknown label \"neutral\" (the known labels, from --labels, are "
                                     "\"Negative\", \"Positive\")"),
                       "%s", e.msg);
    cr_assert_null(out);
    lb_dataset_free(&ds[0]);
    lb_dataset_free(&ds[1]);
    /* covered: the names' order wins */
    ds[0] = load_ok("tr.csv", "text,label\na,Positive\nb,Negative\n");
    cr_assert_eq(lb_labels_map(ds, 1, &spec, &out, &n, &sorted, &e), LB_OK, "%s", e.msg);
    cr_assert(!sorted);
    cr_assert_eq(ds[0].labels[0], 1);
    lb_free_list(out);
    lb_dataset_free(&ds[0]);
    /* class ids in train, names in validation */
    ds[0] = load_ok("tr.csv", "text,label\na,0\nb,1\n");
    ds[1] = load_ok("va.csv", "text,label\na,Negative\n");
    cr_assert_eq(lb_labels_map(ds, 2, &spec, &out, &n, &sorted, &e), LB_ERR_FORMAT);
    cr_assert_not_null(strstr(e.msg, "tr.csv: row 0: label 0 is a class id, but "), "%s", e.msg);
    cr_assert_not_null(strstr(e.msg, "va.csv: row 0: label \"Negative\" is a label name"), "%s", e.msg);
    lb_dataset_free(&ds[1]);
    /* class ids must be below the number of names */
    ds[1] = load_ok("va.csv", "text,label\na,1\nb,2\n");
    cr_assert_eq(lb_labels_map(ds, 2, &spec, &out, &n, &sorted, &e), LB_ERR_FORMAT);
    cr_assert_not_null(strstr(e.msg, "va.csv: row 1: label 2 is not a class id below 2 (2 labels, from --labels"), "%s",
                       e.msg);
    lb_dataset_free(&ds[1]);
    cr_assert_eq(lb_labels_map(ds, 1, &spec, &out, &n, &sorted, &e), LB_OK, "%s", e.msg);
    cr_assert_null(out, "class ids: nothing mapped");
    cr_assert_eq(n, 2);
    lb_dataset_free(&ds[0]);
    /* names listed twice cannot take label names */
    char *dup[] = {"a", "b", "a"};
    lb_label_spec ds_dup = {
        .names = (const char *const *)dup, .n_names = 3, .policy = LB_LABELS_EXACT, .origin = "--labels"};
    ds[0] = load_ok("tr.csv", "text,label\nx,a\n");
    cr_assert_eq(lb_labels_map(ds, 1, &ds_dup, &out, &n, &sorted, &e), LB_ERR_FORMAT);
    cr_assert_not_null(strstr(e.msg, "--labels names \"a\" twice"), "%s", e.msg);
    lb_dataset_free(&ds[0]);
}

static char *shard_dir(void) {
    char *d = strdup("/tmp/lb_shards_XXXXXX");
    cr_assert_not_null(mkdtemp(d));
    return d;
}
static char *put(const char *dir, const char *name, const char *content) {
    char *p = lb_path_join(dir, name);
    FILE *f = fopen(p, "wb");
    cr_assert_not_null(f);
    fputs(content, f);
    fclose(f);
    return p;
}

Test(splits, shards_share_one_label_rule) {
    char *dir = shard_dir();
    char *sub = lb_path_join(dir, "data");
    cr_assert_eq(mkdir(sub, 0755), 0);
    char *a = put(sub, "train-00000-of-00002.csv", "text,label\nx,pos\ny,neg\n");
    char *b = put(sub, "train-00001-of-00002.csv", "text,label\nz,neutral\nw,pos\n");
    char **paths;
    int n;
    lb_error e;
    cr_assert_eq(lb_data_resolve_split(dir, "train", &paths, &n, &e), LB_OK, "%s", e.msg);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(paths[0], a);
    lb_dataset d;
    cr_assert_eq(lb_data_load_shards(paths, n, NULL, &d, &e), LB_OK, "%s", e.msg);
    cr_assert_eq(d.n, 4);
    cr_assert_eq(d.num_labels, 3); /* neg, neutral, pos over both shards */
    int want[4] = {2, 0, 1, 2};
    for (int i = 0; i < 4; i++) cr_assert_eq(d.labels[i], want[i]);
    char where[256];
    lb_dataset_where(&d, 3, where, sizeof where);
    cr_assert(strstr(where, "train-00001-of-00002.csv: row 1"), "%s", where);
    lb_dataset_free(&d);
    /* known names: exact over the split, errors name the shard and its own row */
    char *names[] = {"neg", "pos"};
    lb_dataset_opts o = {
        .label_names = (const char *const *)names, .n_label_names = 2, .label_names_origin = "labels.json"};
    cr_assert_eq(lb_data_load_shards(paths, n, &o, &d, &e), LB_ERR_FORMAT);
    cr_assert(strstr(e.msg, "train-00001-of-00002.csv: row 0: unknown label \"neutral\" (the known labels, from "
                            "labels.json, are \"neg\", \"pos\")"),
              "%s", e.msg);
    /* a shard of class ids beside a shard of names */
    free(put(sub, "train-00001-of-00002.csv", "text,label\nz,1\n"));
    cr_assert_eq(lb_data_load_shards(paths, n, NULL, &d, &e), LB_ERR_FORMAT);
    cr_assert(strstr(e.msg, "train-00001-of-00002.csv: row 0: label 1 is a class id, but ") &&
                  strstr(e.msg, "train-00000-of-00002.csv: row 0: label \"pos\" is a label name"),
              "%s", e.msg);
    lb_free_list(paths);
    cr_assert_eq(lb_data_resolve_split(dir, "test", &paths, &n, &e), LB_ERR_IO);
    cr_assert_null(paths);
    cr_assert(strstr(e.msg, "no 'test' split"), "%s", e.msg);
    unlink(a);
    unlink(b);
    rmdir(sub);
    rmdir(dir);
    free(a);
    free(b);
    free(sub);
    free(dir);
}

/* ---- multi-label targets from a column of lists ------------------------------------------- */

Test(jsonl, arrays_of_scalars_are_list_cells) {
    lb_table t = jsonl_ok("{\"l\": [1, 2.0, \"x\", true, null, -7, 1e2]}\n{\"l\": []}\n{\"l\": [[1], {\"a\": 2}]}\n");
    const lb_value *v = lb_table_cell(&t, 0, 0);
    cr_assert_eq(v->type, LB_VAL_LIST);
    cr_assert_eq(v->n_items, 7);
    cr_assert(v->items[0].type == LB_VAL_INT && v->items[0].i == 1);
    cr_assert(v->items[1].type == LB_VAL_FLOAT && v->items[1].f == 2.0); /* 2.0 is a float literal */
    cr_assert(v->items[2].type == LB_VAL_STR && !strcmp(v->items[2].s, "x") && v->items[2].slen == 1);
    cr_assert(v->items[3].type == LB_VAL_BOOL && v->items[3].i == 1);
    cr_assert_eq(v->items[4].type, LB_VAL_NULL);
    cr_assert(v->items[5].type == LB_VAL_INT && v->items[5].i == -7);
    cr_assert(v->items[6].type == LB_VAL_FLOAT && v->items[6].f == 100.0);
    v = lb_table_cell(&t, 1, 0);
    cr_assert(v->type == LB_VAL_LIST && v->n_items == 0);
    cell_str(&t, 2, 0, "[[1],{\"a\":2}]"); /* arrays holding arrays or objects stay JSON text */
    lb_table_free(&t);
}

static lb_status load_lists(const char *content, bool multi_hot, lb_dataset *d, lb_error *e) {
    lb_dataset_opts o = {
        .label_column = "labels", .problem = LB_PROBLEM_MULTI_LABEL, .label_multi_hot = multi_hot, .require_labels = 1};
    return load_str("l.jsonl", content, &o, d, e);
}

static void lists_bad(const char *content, bool multi_hot, const char *want) {
    lb_dataset d;
    lb_error e = {0};
    cr_assert_eq(load_lists(content, multi_hot, &d, &e), LB_ERR_FORMAT, "accepted: %s", content);
    cr_assert_not_null(strstr(e.msg, want), "message \"%s\" lacks \"%s\"", e.msg, want);
}

Test(labels, lists_of_names_ids_and_multi_hot) {
    lb_dataset d;
    lb_error e;
    /* names: the sorted unique names, each row a set */
    cr_assert_eq(load_lists("{\"text\":\"a\",\"labels\":[\"drama\",\"comedy\"]}\n{\"text\":\"b\",\"labels\":[]}\n"
                            "{\"text\":\"c\",\"labels\":[\"horror\"]}\n",
                            false, &d, &e),
                 LB_OK, "%s", e.msg);
    cr_assert_eq(d.target_list, LB_TARGET_LIST_NAMES);
    cr_assert_eq(d.n_targets, 3);
    cr_assert(!strcmp(d.target_names[0], "comedy") && !strcmp(d.target_names[1], "drama") &&
              !strcmp(d.target_names[2], "horror"));
    const float want[9] = {1, 1, 0, 0, 0, 0, 0, 0, 1};
    for (int k = 0; k < 9; k++) cr_assert_eq(d.targets[k], want[k], "target %d", k);
    cr_assert(d.labels[0] == 0 && d.labels[2] == 0);
    /* onto a model's labels, by name: another order and a label the data lacks */
    const char *const labels[] = {"horror", "western", "comedy", "drama"};
    float out[12];
    cr_assert_eq(lb_targets_to_labels(&d, labels, 4, NULL, out, &e), LB_OK, "%s", e.msg);
    const float mapped[12] = {0, 0, 1, 1, 0, 0, 0, 0, 1, 0, 0, 0};
    for (int k = 0; k < 12; k++) cr_assert_eq(out[k], mapped[k], "mapped %d", k);
    const char *const few[] = {"comedy", "drama"};
    cr_assert_eq(lb_targets_to_labels(&d, few, 2, "--labels", out, &e), LB_ERR_FORMAT);
    cr_assert(strstr(e.msg, "l.jsonl: row 2: unknown label \"horror\" in the list (the known labels, from --labels"),
              "%s", e.msg);
    lb_dataset_free(&d);
    /* class ids: the largest + 1 targets; ids at or past the model's labels are refused by row */
    cr_assert_eq(load_lists("{\"text\":\"a\",\"labels\":[3,0]}\n{\"text\":\"b\",\"labels\":[1]}\n", false, &d, &e),
                 LB_OK, "%s", e.msg);
    cr_assert(d.target_list == LB_TARGET_LIST_IDS && d.n_targets == 4 && !d.target_names);
    cr_assert(d.targets[0] == 1 && d.targets[3] == 1 && d.targets[5] == 1 && d.targets[1] == 0);
    const char *const three[] = {"a", "b", "c"};
    cr_assert_eq(lb_targets_to_labels(&d, three, 3, NULL, out, &e), LB_ERR_FORMAT);
    cr_assert(strstr(e.msg, "l.jsonl: row 0: class id 3 in the list: expected a class id below 3"), "%s", e.msg);
    lb_dataset_free(&d);
    /* multi-hot: floats and booleans by themselves, integers with the flag */
    cr_assert_eq(
        load_lists("{\"text\":\"a\",\"labels\":[0.0,1.0,1.0]}\n{\"text\":\"b\",\"labels\":[true,false,false]}\n", false,
                   &d, &e),
        LB_OK, "%s", e.msg);
    cr_assert(d.target_list == LB_TARGET_LIST_MULTI_HOT && d.n_targets == 3);
    cr_assert(d.targets[1] == 1 && d.targets[3] == 1 && d.targets[4] == 0);
    const char *const two[] = {"a", "b"};
    cr_assert_eq(lb_targets_to_labels(&d, two, 2, NULL, out, &e), LB_ERR_FORMAT);
    cr_assert(strstr(e.msg, "a multi-hot list of 3 values: expected 2, one per label"), "%s", e.msg);
    lb_dataset_free(&d);
    cr_assert_eq(load_lists("{\"text\":\"a\",\"labels\":[0,1]}\n", true, &d, &e), LB_OK, "%s", e.msg);
    cr_assert(d.target_list == LB_TARGET_LIST_MULTI_HOT && d.n_targets == 2 && d.targets[1] == 1);
    lb_dataset_free(&d);
}

Test(labels, bad_lists_name_file_and_row) {
    const char *a = "{\"text\":\"a\",\"labels\":";
    char buf[512];
#define BAD(rows, hot, want)                   \
    do {                                       \
        snprintf(buf, sizeof buf, rows, a, a); \
        lists_bad(buf, hot, want);             \
    } while (0)
    BAD("%s[\"x\"]}\n%s[\"y\",2]}\n", false,
        "l.jsonl: row 1: label column \"labels\" mixes kinds in one list: element 0 is \"y\"");
    BAD("%s[\"x\"]}\n%s[2]}\n", false, "label column \"labels\" mixes kinds: row 0 holds label names (strings), row 1");
    BAD("%s[1]}\n%s[1,1]}\n", false, "row 1: label column \"labels\": label 1 is in the list twice (element 1)");
    BAD("%s[0,1,0]}\n%s[1,0,0]}\n", false, /* MultiLabelBinarizer's integers read as ids: the hint */
        "row 0: label column \"labels\": label 0 is in the list twice (element 2); a list names each label once (a "
        "multi-hot vector of 0/1 integers: --label-format multi-hot)");
    BAD("%s[1]}\n%s[64]}\n", false, "row 1: label column \"labels\": class id 64 (element 0): expected 0 to 63");
    BAD("%s[1]}\n%s[-2]}\n", false, "row 1: label column \"labels\": class id -2 (element 0)");
    BAD("%s[1.0]}\n%s[1.0,0.0]}\n", false,
        "row 1: label column \"labels\" holds a multi-hot list of 2 values: expected 1");
    BAD("%s[0.5]}\n%s[1.0]}\n", false, "row 0: label column \"labels\": element 0 is 0.5: expected 0 or 1");
    BAD("%s[0,2]}\n%s[1,0]}\n", true, "row 0: label column \"labels\": element 1 is 2: expected 0 or 1");
    BAD("%s[\"a\"]}\n%s[\"b\"]}\n", true, "row 0: label column \"labels\": element 0 is \"a\": expected 0 or 1");
    BAD("%s[]}\n%s[]}\n", true, "row 0: label column \"labels\" holds a multi-hot list of 0 values");
    BAD("%s[]}\n%s[1.0,0.0]}\n", false,
        "row 0: label column \"labels\" holds an empty list: expected a multi-hot vector of 2 values, as row 1");
    BAD("%s[0.0]}\n%s[]}\n", false, "row 1: label column \"labels\" holds a multi-hot list of 0 values: expected 1");
    BAD("%s[\"a\"]}\n%s[null]}\n", false, "row 1: label column \"labels\": element 0 is null");
    BAD("%s[\"a\"]}\n%s\"a\"}\n", false, "row 1: label column \"labels\" holds \"a\" (a string): expected a list");
    BAD("%s[\"a\"]}\n%snull}\n", false, "row 1: label column \"labels\" holds null (null): expected a list");
    BAD("%s[\"a\"]}\n%s[\"\"]}\n", false, "row 1: label column \"labels\": element 0 is an empty string");
#undef BAD
    lb_dataset d;
    lb_error e = {0};
    lb_dataset_opts o = {.label_column = "labels", .problem = LB_PROBLEM_MULTI_LABEL, .require_labels = 1};
    cr_assert_eq(load_str("l.csv", "text,labels\na,\"[1]\"\n", &o, &d, &e), LB_ERR_UNSUPPORTED);
    cr_assert(strstr(e.msg, "a CSV/TSV cell cannot hold a list of labels; use JSONL"), "%s", e.msg);
    /* a single-label read of a list says what lists are for */
    o = (lb_dataset_opts){.require_labels = 1};
    cr_assert_eq(load_str("s.jsonl", "{\"text\":\"a\",\"label\":[1]}\n", &o, &d, &e), LB_ERR_FORMAT);
    cr_assert(strstr(e.msg, "row 0: label column \"label\" holds a list (1 values)"), "%s", e.msg);
}

Test(splits, list_shards_share_one_set_of_names) {
    char *dir = shard_dir();
    char *a = put(dir, "train-0.jsonl", "{\"text\":\"x\",\"labels\":[\"pos\"]}\n{\"text\":\"y\",\"labels\":[]}\n");
    char *b = put(dir, "train-1.jsonl", "{\"text\":\"z\",\"labels\":[\"neutral\",\"big\"]}\n");
    char *paths[] = {a, b, NULL};
    lb_dataset_opts o = {.label_column = "labels", .problem = LB_PROBLEM_MULTI_LABEL};
    lb_dataset d;
    lb_error e;
    cr_assert_eq(lb_data_load_shards(paths, 2, &o, &d, &e), LB_OK, "%s", e.msg);
    cr_assert(d.n == 3 && d.n_targets == 3 && d.target_list == LB_TARGET_LIST_NAMES);
    cr_assert(!strcmp(d.target_names[0], "big") && !strcmp(d.target_names[1], "neutral") &&
              !strcmp(d.target_names[2], "pos"));
    const float want[9] = {0, 0, 1, 0, 0, 0, 1, 1, 0};
    for (int k = 0; k < 9; k++) cr_assert_eq(d.targets[k], want[k], "target %d", k);
    lb_dataset_free(&d);
    char *c = put(dir, "train-2.jsonl", "{\"text\":\"w\",\"labels\":[2]}\n");
    char *mixed[] = {a, c, NULL};
    cr_assert_eq(lb_data_load_shards(mixed, 2, &o, &d, &e), LB_ERR_FORMAT);
    cr_assert(strstr(e.msg, "train-0.jsonl: row 0 holds label names (strings)") &&
                  strstr(e.msg, "train-2.jsonl: row 0 holds class ids"),
              "%s", e.msg);
    unlink(a), unlink(b), unlink(c);
    rmdir(dir);
    free(a), free(b), free(c), free(dir);
}
