/* Tests for src/formats/pyjson: scalars formatted byte-for-byte as Python's json.dumps
 * (expected strings produced by CPython 3.11 json.dumps). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include "formats/pyjson.h"

Test(pyjson, doubles_like_python_repr) {
    struct { double x; const char *want; } cases[] = {
        {0.01, "0.01"}, {1e-05, "1e-05"}, {0.42342880368232727, "0.42342880368232727"}, {1e16, "1e+16"},
        {1e22, "1e+22"}, {1.5e-07, "1.5e-07"}, {0.0001, "0.0001"}, {100.0, "100.0"},
        {1234567890123456.0, "1234567890123456.0"}, {0.1, "0.1"}, {2.5, "2.5"}, {-3.75e-300, "-3.75e-300"},
        {123456.789, "123456.789"}, {5e-324, "5e-324"}, {0.0, "0.0"}, {-0.0, "-0.0"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[32];
        lb_pyjson_fmt_double(buf, cases[i].x, 0);
        cr_assert_str_eq(buf, cases[i].want, "%.17g", cases[i].x);
    }
    char buf[32];
    lb_pyjson_fmt_double(buf, 0.01f, 1);   /* a float32 prints as the decimal the user typed */
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
