/* Tests for src/formats/pyjson: scalars formatted byte-for-byte as Python's json.dumps
 * (expected strings produced by CPython 3.11 json.dumps). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "base/fileio.h"
#include "formats/pyjson.h"

Test(pyjson, doubles_like_python_repr) {
    struct {
        double x;
        const char *want;
    } cases[] = {
        {0.01, "0.01"},
        {1e-05, "1e-05"},
        {0.42342880368232727, "0.42342880368232727"},
        {1e16, "1e+16"},
        {1e22, "1e+22"},
        {1.5e-07, "1.5e-07"},
        {0.0001, "0.0001"},
        {100.0, "100.0"},
        {1234567890123456.0, "1234567890123456.0"},
        {0.1, "0.1"},
        {2.5, "2.5"},
        {-3.75e-300, "-3.75e-300"},
        {123456.789, "123456.789"},
        {5e-324, "5e-324"},
        {0.0, "0.0"},
        {-0.0, "-0.0"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[32];
        lb_pyjson_fmt_double(buf, cases[i].x, 0);
        cr_assert_str_eq(buf, cases[i].want, "%.17g", cases[i].x);
    }
    char buf[32];
    lb_pyjson_fmt_double(buf, 0.01f, 1); /* a float32 prints as the decimal the user typed */
    cr_assert_str_eq(buf, "0.01");
    lb_pyjson_fmt_double(buf, 0.2f, 1);
    cr_assert_str_eq(buf, "0.2");
}

Test(pyjson, strings_ensure_ascii) {
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    lb_pyjson_str(f, "a\"b\\c\n\t\xc3\xa9\xf0\x9f\x98\x80\x01\x7f");
    fclose(f);
    cr_assert_str_eq(out, "\"a\\\"b\\\\c\\n\\t\\u00e9\\ud83d\\ude00\\u0001\\u007f\"");
    free(out);
}

/* Issue 10 item 6: json.loads' rules for the HF JSON files. */
Test(pyjson_read, extra_data_refused_with_line_and_column) {
    lb_error e;
    const char *t = "{\"a\": 1}\n x";
    cr_assert_null(lb_json_parse("c.json", t, strlen(t), &e));
    cr_assert_eq(e.code, LB_ERR_FORMAT);
    /* Python: "Extra data: line 2 column 2 (char 10)" */
    cr_assert(strstr(e.msg, "c.json: invalid JSON at line 2 column 2 (char 10): extra data"), "%s", e.msg);
    const char *ok = " {\"a\": 1} \n\t";
    cJSON *j = lb_json_parse("c.json", ok, strlen(ok), &e);
    cr_assert_not_null(j, "%s", e.msg);
    cJSON_Delete(j);
}

Test(pyjson_read, syntax_error_position_like_python) {
    lb_error e;
    /* Python: "Expecting value: line 1 column 7 (char 6)" */
    const char *t = "{\"a\": }";
    cr_assert_null(lb_json_parse("c.json", t, strlen(t), &e));
    cr_assert(strstr(e.msg, "invalid JSON at line 1 column 7 (char 6)"), "%s", e.msg);
    cr_assert_null(lb_json_parse("e.json", "  \n", 3, &e));
    cr_assert(strstr(e.msg, "expecting a value"), "%s", e.msg);
    cr_assert(!strstr(e.msg, "not a JSON object"), "%s", e.msg);
}

Test(pyjson_read, duplicate_keys_keep_the_last_value_at_the_first_place) {
    lb_error e;
    const char *t = "{\"model_type\": \"bert\", \"x\": 1, \"model_type\": \"distilbert\", "
                    "\"in\": {\"k\": 1, \"k\": 2, \"k\": 3}, \"x\": [{\"d\": 0, \"d\": 9}]}";
    cJSON *j = lb_json_parse("c.json", t, strlen(t), &e);
    cr_assert_not_null(j, "%s", e.msg);
    cr_assert_eq(cJSON_GetArraySize(j), 3);
    cr_assert_str_eq(j->child->string, "model_type"); /* Python dict order: first insertion */
    cr_assert_str_eq(cJSON_GetObjectItemCaseSensitive(j, "model_type")->valuestring, "distilbert");
    cr_assert_str_eq(j->child->next->string, "x");
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(j, "in");
    cr_assert_eq(cJSON_GetArraySize(in), 1);
    cr_assert_eq(cJSON_GetObjectItemCaseSensitive(in, "k")->valueint, 3);
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(j, "x");
    cr_assert(cJSON_IsArray(x));
    cr_assert_eq(cJSON_GetObjectItemCaseSensitive(x->child, "d")->valueint, 9);
    cJSON_Delete(j);
}

Test(pyjson_read, large_object_dedupe_is_fast) {
    /* a 250k-entry vocab object with one duplicate: sorted, not quadratic */
    size_t n = 250000, cap = n * 24 + 64, off = 0;
    char *t = malloc(cap);
    cr_assert_not_null(t);
    off += (size_t)snprintf(t + off, cap - off, "{");
    for (size_t i = 0; i < n; i++) off += (size_t)snprintf(t + off, cap - off, "\"tok%zu\": %zu,", i, i);
    off += (size_t)snprintf(t + off, cap - off, "\"tok7\": -1}");
    lb_error e;
    cJSON *j = lb_json_parse("tokenizer.json", t, off, &e);
    free(t);
    cr_assert_not_null(j, "%s", e.msg);
    cr_assert_eq(cJSON_GetArraySize(j), (int)n);
    cr_assert_eq(cJSON_GetObjectItemCaseSensitive(j, "tok7")->valueint, -1);
    cJSON_Delete(j);
}

Test(pyjson_read, read_file_wants_an_object) {
    char path[] = "/tmp/lbjsonXXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, "[1, 2]", 6), 6);
    close(fd);
    lb_error e;
    cr_assert_null(lb_json_read_file(path, LB_MAX_JSON_BYTES, "JSON file", true, &e));
    cr_assert(strstr(e.msg, "expected a JSON object, found an array"), "%s", e.msg);
    unlink(path);
}
