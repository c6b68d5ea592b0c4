/* Python-compatible JSON scalars; see pyjson.h. */
#include "formats/pyjson.h"
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "base/fileio.h"

static uint32_t utf8_next(const unsigned char **p) {
    const unsigned char *s = *p;
    uint32_t c = s[0];
    int n = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : -1;
    if (n < 0) {
        *p = s + 1;
        return 0xFFFD;
    }
    if (n == 0) {
        *p = s + 1;
        return c;
    }
    c &= 0x3F >> n;
    for (int i = 1; i <= n; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            *p = s + 1;
            return 0xFFFD;
        }
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
    if (isnan(x)) {
        strcpy(buf, "NaN");
        return;
    }
    if (isinf(x)) {
        strcpy(buf, x > 0 ? "Infinity" : "-Infinity");
        return;
    }
    if (x == 0) {
        strcpy(buf, signbit(x) ? "-0.0" : "0.0");
        return;
    }
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

/* ---------------------------------------------------------------- reading */

const char *lb_json_kind(const cJSON *v) {
    if (!v) return "nothing";
    if (cJSON_IsObject(v)) return "an object";
    if (cJSON_IsArray(v)) return "an array";
    if (cJSON_IsString(v)) return "a string";
    if (cJSON_IsNumber(v)) return "a number";
    if (cJSON_IsBool(v)) return "a boolean";
    if (cJSON_IsNull(v)) return "null";
    return "an invalid value";
}

typedef struct key_ref {
    const char *key;
    size_t index;
    cJSON *item;
} key_ref;

static int key_ref_cmp(const void *a, const void *b) {
    const key_ref *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    if (c) return c;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* Makes every object hold each key once, as a Python dict built from the pairs in order:
 * the last value, at the place where the key first appeared. Sorting keeps it O(n log n)
 * for a 250k-entry vocab. Returns false when out of memory. */
static bool dedupe_keys(cJSON *v) {
    if (!cJSON_IsObject(v) && !cJSON_IsArray(v)) return true;
    size_t n = 0;
    for (cJSON *c = v->child; c; c = c->next) {
        n++;
        if (!dedupe_keys(c)) return false;
    }
    if (!cJSON_IsObject(v) || n < 2) return true;
    key_ref *refs = malloc(n * sizeof *refs);
    if (!refs) return false;
    size_t i = 0;
    for (cJSON *c = v->child; c; c = c->next, i++) refs[i] = (key_ref){c->string ? c->string : "", i, c};
    qsort(refs, n, sizeof *refs, key_ref_cmp);
    for (size_t a = 0; a < n;) {
        size_t b = a + 1;
        while (b < n && strcmp(refs[a].key, refs[b].key) == 0) b++;
        if (b - a > 1) {
            /* refs[a] is the first occurrence, refs[b-1] the last: the last value takes the
             * first one's place; the ones in between go. */
            cJSON *last = cJSON_DetachItemViaPointer(v, refs[b - 1].item);
            for (size_t k = a + 1; k + 1 < b; k++) cJSON_Delete(cJSON_DetachItemViaPointer(v, refs[k].item));
            cJSON_ReplaceItemViaPointer(v, refs[a].item, last);
        }
        a = b;
    }
    free(refs);
    return true;
}

static void line_col(const char *text, size_t off, size_t *line, size_t *col) {
    size_t l = 1, last_nl = 0;
    bool any = false;
    for (size_t i = 0; i < off; i++)
        if (text[i] == '\n') {
            l++;
            last_nl = i;
            any = true;
        }
    *line = l;
    *col = any ? off - last_nl : off + 1;
}

static bool json_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

cJSON *lb_json_parse(const char *name, const char *text, size_t len, lb_error *err) {
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(text, len, &end, false);
    size_t off;
    const char *why;
    if (j) {
        off = end && end >= text && end <= text + len ? (size_t)(end - text) : len;
        while (off < len && json_ws(text[off])) off++;
        if (off == len) {
            if (!dedupe_keys(j)) {
                cJSON_Delete(j);
                lb_err(err, LB_ERR_NOMEM, "%s: out of memory", name);
                return NULL;
            }
            return j;
        }
        cJSON_Delete(j);
        why = "extra data after the JSON value";
    } else {
        off = end && end >= text && end <= text + len ? (size_t)(end - text) : 0;
        size_t k = 0;
        while (k < len && json_ws(text[k])) k++;
        if (k == len) {
            off = k;
            why = "expecting a value (the file is empty or only whitespace)";
        }
        /* cJSON places an error at the end of a truncated text on its last byte */
        else if (off + 1 >= len)
            why = "unexpected end of the text (truncated, or a bad last character)";
        else if (text[off] == '\0') why = "NUL byte in the text";
        else why = "syntax error";
    }
    size_t line, col;
    line_col(text, off, &line, &col);
    if (off < len && (unsigned char)text[off] >= 0x20 && (unsigned char)text[off] < 0x7f)
        lb_err(err, LB_ERR_FORMAT, "%s: invalid JSON at line %zu column %zu (char %zu): %s, at '%c'", name, line, col,
               off, why, text[off]);
    else
        lb_err(err, LB_ERR_FORMAT, "%s: invalid JSON at line %zu column %zu (char %zu): %s", name, line, col, off, why);
    return NULL;
}

cJSON *lb_json_read_file(const char *path, size_t max, const char *what, bool want_object, lb_error *err) {
    char *text;
    size_t len;
    if (lb_read_file_max(path, max, what, &text, &len, err)) return NULL;
    cJSON *j = lb_json_parse(path, text, len, err);
    free(text);
    if (j && want_object && !cJSON_IsObject(j)) {
        lb_err(err, LB_ERR_FORMAT, "%s: expected a JSON object, found %s", path, lb_json_kind(j));
        cJSON_Delete(j);
        return NULL;
    }
    return j;
}
