/* Python-compatible JSON scalars; see pyjson.h. */
#include "formats/pyjson.h"
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint32_t utf8_next(const unsigned char **p) {
    const unsigned char *s = *p;
    uint32_t c = s[0];
    int n = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : -1;
    if (n < 0) { *p = s + 1; return 0xFFFD; }
    if (n == 0) { *p = s + 1; return c; }
    c &= 0x3F >> n;
    for (int i = 1; i <= n; i++) {
        if ((s[i] & 0xC0) != 0x80) { *p = s + 1; return 0xFFFD; }
        c = (c << 6) | (s[i] & 0x3F);
    }
    *p = s + n + 1;
    return c;
}

void lb_pyjson_str(FILE *f, const char *s) {
    fputc('"', f);
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        uint32_t c = utf8_next(&p);
        switch (c) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        case '\b': fputs("\\b", f); break;
        case '\f': fputs("\\f", f); break;
        default:
            if (c < 0x20 || (c >= 0x7F && c < 0x10000)) fprintf(f, "\\u%04x", c);
            else if (c >= 0x10000) {
                c -= 0x10000;
                fprintf(f, "\\u%04x\\u%04x", 0xD800 + (c >> 10), 0xDC00 + (c & 0x3FF));
            } else fputc((int)c, f);
        }
    }
    fputc('"', f);
}

void lb_pyjson_fmt_double(char *buf, double x, int is_f32) {
    if (isnan(x)) { strcpy(buf, "NaN"); return; }
    if (isinf(x)) { strcpy(buf, x > 0 ? "Infinity" : "-Infinity"); return; }
    if (x == 0) { strcpy(buf, signbit(x) ? "-0.0" : "0.0"); return; }
    char tmp[40];
    int p;
    for (p = 1; p <= 17; p++) {
        snprintf(tmp, sizeof tmp, "%.*e", p - 1, x);
        double back = strtod(tmp, NULL);
        if (is_f32 ? (float)back == (float)x : back == x) break;
    }
    if (p > 17) p = 17;
    /* tmp = d.ddde[+-]XX; Python uses fixed notation for -4 <= exp < 16. */
    int exp10 = atoi(strchr(tmp, 'e') + 1);
    if (exp10 >= -4 && exp10 < 16) {
        int decimals = p - 1 - exp10;
        if (decimals < 0) decimals = 0;
        snprintf(buf, 32, "%.*f", decimals, x);
        if (!strchr(buf, '.')) strcat(buf, ".0");
    } else {
        /* mantissa digits without trailing zeros, then e-05 / e+16 */
        char mant[24];
        snprintf(mant, sizeof mant, "%.*e", p - 1, x);
        char *e = strchr(mant, 'e');
        *e = 0;
        snprintf(buf, 32, "%.23se%c%02d", mant, exp10 < 0 ? '-' : '+', abs(exp10) % 1000);
    }
}

void lb_pyjson_double(FILE *f, double x) {
    char b[32];
    lb_pyjson_fmt_double(b, x, 0);
    fputs(b, f);
}

void lb_pyjson_float32(FILE *f, float x) {
    char b[32];
    lb_pyjson_fmt_double(b, x, 1);
    fputs(b, f);
}
