/* JSON Lines parsing (see jsonl.h). cJSON validates and builds each object; because cJSON keeps
 * numbers only as doubles, the literal of each top-level value is recovered from the source
 * text so that 1 is an INT, 1.0 a FLOAT, and large integers stay exact. */
#include "data/jsonl.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "data/text_stream.h"
#include "data/table_build.h"

/* Source spans of the values of a (valid) JSON object's members, in order: s[start[k]..end[k]).
 * Returns the number found (at most max). */
static size_t member_spans(const char *s, size_t n, size_t *start, size_t *end, size_t max) {
    size_t depth = 0, cnt = 0;
    bool in_str = false, in_val = false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (in_str) {
            if (c == '\\') i++;
            else if (c == '"') in_str = false;
            continue;
        }
        if (c == '"') {
            in_str = true;
            continue;
        }
        if (c == '{' || c == '[') {
            depth++;
            continue;
        }
        if (depth == 1 && c == ':' && !in_val) {
            size_t j = i + 1;
            while (j < n && (s[j] == ' ' || s[j] == '\t' || s[j] == '\n' || s[j] == '\r')) j++;
            if (cnt < max) start[cnt] = j;
            in_val = true;
            continue;
        }
        if (depth == 1 && (c == ',' || c == '}') && in_val) {
            size_t e = i;
            while (e > 0 && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\n' || s[e - 1] == '\r')) e--;
            if (cnt < max) end[cnt] = e;
            cnt++;
            in_val = false;
        }
        if (c == '}' || c == ']') depth--;
    }
    return cnt;
}

/* True when a string literal in s[0..n) holds the escape \u0000: cJSON would cut the string
 * there, silently truncating the text, so such lines are rejected instead. */
static bool has_nul_escape(const char *s, size_t n) {
    bool in_str = false;
    for (size_t i = 0; i < n; i++) {
        if (!in_str) {
            in_str = s[i] == '"';
            continue;
        }
        if (s[i] == '"') in_str = false;
        else if (s[i] == '\\') {
            if (i + 5 < n && s[i + 1] == 'u' && memcmp(s + i + 2, "0000", 4) == 0) return true;
            i++;
        }
    }
    return false;
}

/* Integer literal (JSON grammar: -?digits, no fraction/exponent) that fits int64. */
static bool int_literal(const char *s, size_t n, int64_t *v) {
    if (n == 0 || n > 20) return false;
    for (size_t k = 0; k < n; k++)
        if (!((s[k] >= '0' && s[k] <= '9') || (k == 0 && s[k] == '-'))) return false;
    char tmp[24];
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    errno = 0;
    char *endp;
    long long x = strtoll(tmp, &endp, 10);
    if (errno || *endp) return false;
    *v = x;
    return true;
}

/* Spans of the elements of the valid JSON array s[0..n) (s[0] == '['), at most cap: st[k]..en[k].
 * Returns their count, or (size_t)-1 when there are more than cap. */
static size_t array_item_spans(const char *s, size_t n, size_t *st, size_t *en, size_t cap) {
    size_t i = 1, k = 0;
    for (;;) {
        while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) i++;
        if (i >= n || s[i] == ']') return k;
        if (k == cap) return (size_t)-1;
        size_t a = i, depth = 0;
        bool in_str = false;
        for (; i < n; i++) {
            char ch = s[i];
            if (in_str) {
                if (ch == '\\') i++;
                else if (ch == '"') in_str = false;
            } else if (ch == '"') in_str = true;
            else if (ch == '[' || ch == '{') depth++;
            else if ((ch == ']' || ch == '}') && depth) depth--;
            else if (!depth && (ch == ',' || ch == ']')) break;
        }
        size_t b = i;
        while (b > a && (s[b - 1] == ' ' || s[b - 1] == '\t' || s[b - 1] == '\n' || s[b - 1] == '\r')) b--;
        st[k] = a, en[k] = b, k++;
        if (i < n && s[i] == ',') i++;
    }
}

typedef struct jl_ctx {
    lb_table_builder b;
    size_t *sp_start, *sp_end, sp_cap;
    const char *name;
    size_t *slot, nslot; /* open-addressing map column name -> index + 1 (0: empty) */
    size_t *stamp;       /* [ncols] 1 + the row that last set the column (duplicate-key check) */
} jl_ctx;

static size_t name_hash(const char *s) {
    size_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* Column index of name, or -1; O(1) expected. */
static long jl_find_col(const jl_ctx *c, const char *name) {
    if (!c->nslot) return -1;
    for (size_t h = name_hash(name) & (c->nslot - 1);; h = (h + 1) & (c->nslot - 1)) {
        if (!c->slot[h]) return -1;
        if (strcmp(c->b.t.col_names[c->slot[h] - 1], name) == 0) return (long)(c->slot[h] - 1);
    }
}

static lb_status jl_add_col(jl_ctx *c, const char *name, long *col, lb_error *err) {
    size_t idx;
    lb_status st = lb_tb_add_col(&c->b, name, strlen(name), &idx, err);
    if (st != LB_OK) return st;
    size_t *stamp = realloc(c->stamp, (idx + 1) * sizeof *stamp);
    if (!stamp) return lb_err(err, LB_ERR_NOMEM, "out of memory");
    c->stamp = stamp;
    stamp[idx] = 0;
    if (2 * (idx + 1) > c->nslot) { /* keep the load factor at most 1/2 */
        size_t ns = c->nslot ? c->nslot * 2 : 64;
        while (2 * (idx + 1) > ns) ns *= 2;
        size_t *slot = calloc(ns, sizeof *slot);
        if (!slot) return lb_err(err, LB_ERR_NOMEM, "out of memory");
        free(c->slot);
        c->slot = slot;
        c->nslot = ns;
        for (size_t k = 0; k < idx; k++) {
            size_t h = name_hash(c->b.t.col_names[k]) & (ns - 1);
            while (slot[h]) h = (h + 1) & (ns - 1);
            slot[h] = k + 1;
        }
    }
    size_t h = name_hash(name) & (c->nslot - 1);
    while (c->slot[h]) h = (h + 1) & (c->nslot - 1);
    c->slot[h] = idx + 1;
    *col = (long)idx;
    return LB_OK;
}

/* A JSON number as a typed cell: an integer literal (lit[0..ln), NULL when the source is not at
 * hand: then an integral double below 2^53) is LB_VAL_INT, anything else LB_VAL_FLOAT. */
static lb_value number_cell(const cJSON *it, const char *lit, size_t ln) {
    int64_t iv;
    double d = it->valuedouble;
    if (lit ? int_literal(lit, ln, &iv)
            : (d > -9007199254740992.0 && d < 9007199254740992.0 && d == (double)(int64_t)d && (iv = (int64_t)d, true)))
        return (lb_value){.type = LB_VAL_INT, .i = iv};
    return (lb_value){.type = LB_VAL_FLOAT, .f = d};
}

/* A JSON array of scalars (null, booleans, numbers, strings) as an LB_VAL_LIST cell, its numbers
 * typed from their source text src[0..n) when given. false (and *v untouched): the array holds an
 * array or an object (the caller keeps its JSON text). LB_ERR_NOMEM on allocation failure. */
static lb_status list_cell(const cJSON *arr, const char *src, size_t n, lb_value *v, bool *ok, lb_error *err) {
    *ok = false;
    size_t m = 0;
    for (const cJSON *e = arr->child; e; e = e->next, m++)
        if (cJSON_IsArray(e) || cJSON_IsObject(e)) return LB_OK;
    lb_value *items = calloc(m ? m : 1, sizeof *items);
    size_t *st = malloc((m ? m : 1) * sizeof *st), *en = malloc((m ? m : 1) * sizeof *en);
    if (!items || !st || !en) {
        free(items), free(st), free(en);
        return lb_err(err, LB_ERR_NOMEM, "out of memory");
    }
    const bool spans = src && array_item_spans(src, n, st, en, m) == m;
    size_t k = 0;
    for (const cJSON *e = arr->child; e; e = e->next, k++) {
        if (cJSON_IsBool(e)) items[k] = (lb_value){.type = LB_VAL_BOOL, .i = cJSON_IsTrue(e) ? 1 : 0};
        else if (cJSON_IsNumber(e)) items[k] = number_cell(e, spans ? src + st[k] : NULL, spans ? en[k] - st[k] : 0);
        else if (cJSON_IsString(e)) {
            size_t sl = strlen(e->valuestring);
            char *s = malloc(sl + 1);
            if (!s) {
                for (size_t j = 0; j < k; j++) lb_value_clear(&items[j]);
                free(items), free(st), free(en);
                return lb_err(err, LB_ERR_NOMEM, "out of memory");
            }
            memcpy(s, e->valuestring, sl + 1);
            items[k] = (lb_value){.type = LB_VAL_STR, .s = s, .slen = sl};
        }
    }
    free(st), free(en);
    *v = (lb_value){.type = LB_VAL_LIST, .items = items, .n_items = m};
    *ok = true;
    return LB_OK;
}

/* Adds one object (parsed from src[0..n)) as a row. where: "line N" / "element N" for messages. */
static lb_status add_object(jl_ctx *c, const cJSON *obj, const char *src, size_t n, size_t lineno, bool is_line,
                            lb_error *err) {
    const char *what = is_line ? "" : "array element ";
    if (!cJSON_IsObject(obj))
        return lb_err(err, LB_ERR_FORMAT, "%s:%s%zu: expected a JSON object, found %s", c->name, what, lineno,
                      cJSON_IsArray(obj)    ? "an array"
                      : cJSON_IsString(obj) ? "a string"
                                            : "a scalar");
    size_t nm = (size_t)cJSON_GetArraySize(obj);
    if (nm > c->sp_cap) {
        size_t *a = realloc(c->sp_start, nm * sizeof *a);
        if (!a) return lb_err(err, LB_ERR_NOMEM, "out of memory");
        c->sp_start = a;
        size_t *b2 = realloc(c->sp_end, nm * sizeof *b2);
        if (!b2) return lb_err(err, LB_ERR_NOMEM, "out of memory");
        c->sp_end = b2;
        c->sp_cap = nm;
    }
    size_t ns = src ? member_spans(src, n, c->sp_start, c->sp_end, nm) : 0;
    bool spans_ok = src && ns == nm;
    lb_value *row = lb_tb_add_row(&c->b, err);
    if (!row) return LB_ERR_NOMEM;
    size_t k = 0, rowno = c->b.keep ? (size_t)c->b.keep->seen : c->b.t.nrows; /* 1 + this row's index */
    for (const cJSON *it = obj->child; it; it = it->next, k++) {
        long col = jl_find_col(c, it->string);
        if (col < 0) {
            lb_status st = jl_add_col(c, it->string, &col, err);
            if (st != LB_OK) return st;
            row = lb_tb_row(&c->b, c->b.t.nrows - 1); /* cells may have moved */
        }
        /* Duplicate keys: Python's json keeps the last; we reject them as ambiguous. */
        if (c->stamp[col] == rowno)
            return lb_err(err, LB_ERR_FORMAT, "%s:%s%zu: duplicate key \"%s\"", c->name, what, lineno, it->string);
        c->stamp[col] = rowno;
        lb_value *v = &row[col];
        if (cJSON_IsNull(it)) continue;
        if (cJSON_IsBool(it)) {
            *v = (lb_value){.type = LB_VAL_BOOL, .i = cJSON_IsTrue(it) ? 1 : 0};
            continue;
        }
        if (cJSON_IsNumber(it)) {
            *v = number_cell(it, spans_ok ? src + c->sp_start[k] : NULL, spans_ok ? c->sp_end[k] - c->sp_start[k] : 0);
            continue;
        }
        if (cJSON_IsArray(it)) { /* an array of scalars is a list cell; other arrays stay JSON text */
            bool ok;
            lb_status st = list_cell(it, spans_ok ? src + c->sp_start[k] : NULL,
                                     spans_ok ? c->sp_end[k] - c->sp_start[k] : 0, v, &ok, err);
            if (st) return st;
            if (ok) continue;
        }
        char *s;
        size_t sl;
        if (cJSON_IsString(it)) {
            /* Lines with \u0000 were rejected above, so strlen is the whole decoded string. */
            sl = strlen(it->valuestring);
            s = malloc(sl + 1);
            if (s) memcpy(s, it->valuestring, sl + 1);
        } else {
            s = cJSON_PrintUnformatted(it);
            sl = s ? strlen(s) : 0;
        }
        if (!s) return lb_err(err, LB_ERR_NOMEM, "out of memory");
        *v = (lb_value){.type = LB_VAL_STR, .s = s, .slen = sl};
    }
    return LB_OK;
}

static bool is_space(char ch) { return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r'; }

/* Reads ts: JSON Lines a line at a time through the window (a line is never split: the window
 * moves on at line starts), or a single JSON array of objects, which is read whole (cJSON parses
 * a value at once; at most LB_MAX_DATASET_BYTES). */
static lb_status jsonl_parse(lb_text_stream *ts, lb_row_filter *keep, lb_table *out, lb_error *err) {
    memset(out, 0, sizeof *out);
    const char *name = ts->name;
    size_t i = ts->start;
    lb_status st = LB_OK;
    jl_ctx c = {.name = name};
    c.b.keep = keep;
    cJSON *arr = NULL;
    size_t first = i, *asp = NULL, *aen = NULL;
    for (;;) { /* the first non-blank byte tells the two forms apart */
        while (first < ts->ready && is_space(ts->buf[first])) first++;
        if (first < ts->ready || lb_text_stream_last(ts)) break;
        if ((st = lb_text_stream_more(ts, 0, err)) != LB_OK) goto done;
    }
    if (first < ts->ready && ts->buf[first] == '[') {
        /* A single JSON array of objects. */
        ts->max_window = LB_MAX_DATASET_BYTES;
        while (!lb_text_stream_last(ts))
            if ((st = lb_text_stream_more(ts, 0, err)) != LB_OK) goto done;
        const char *data = ts->buf;
        size_t len = ts->ready;
        if (has_nul_escape(data + i, len - i)) {
            st = lb_err(err, LB_ERR_UNSUPPORTED, "%s: a string holds \\u0000 (NUL), which lorabert does not support",
                        name);
            goto done;
        }
        const char *endp = NULL;
        arr = cJSON_ParseWithLengthOpts(data + i, len - i, &endp, 0);
        if (!arr || !cJSON_IsArray(arr)) {
            size_t line = 1;
            const char *stop = arr ? data + len : (endp ? endp : data + len);
            for (const char *p = data; p < stop && p < data + len; p++) line += *p == '\n';
            st = lb_err(err, LB_ERR_FORMAT, "%s:%zu: invalid JSON array", name, line);
            goto done;
        }
        size_t rest = (size_t)(endp - data);
        while (rest < len && (data[rest] == ' ' || data[rest] == '\t' || data[rest] == '\n' || data[rest] == '\r'))
            rest++;
        if (rest < len) {
            st = lb_err(err, LB_ERR_FORMAT, "%s: unexpected data after the top-level JSON array at offset %zu", name,
                        rest);
            goto done;
        }
        /* each element's source text, so that its numbers are typed from their literals as a
         * line's are (1 an INT, 1.0 a FLOAT: a multi-hot [0.0, 1.0] stays a vector) */
        size_t m = (size_t)cJSON_GetArraySize(arr), k = 0;
        asp = malloc((m ? m : 1) * sizeof *asp);
        aen = malloc((m ? m : 1) * sizeof *aen);
        if (!asp || !aen) {
            st = lb_err(err, LB_ERR_NOMEM, "%s: out of memory", name);
            goto done;
        }
        const char *src = data + first;
        const bool spans = array_item_spans(src, len - first, asp, aen, m) == m;
        for (const cJSON *it = arr->child; it; it = it->next, k++) {
            const char *o = spans ? src + asp[k] : NULL;
            if ((st = add_object(&c, it, o, spans ? aen[k] - asp[k] : 0, k, false, err)) != LB_OK) goto done;
        }
    } else {
        size_t line = 0;
        for (;;) {
            if (i >= ts->ready && lb_text_stream_last(ts)) break;
            const char *data = ts->buf;
            size_t len = ts->ready;
            const char *nl = i < len ? memchr(data + i, '\n', len - i) : NULL;
            if (!nl && !lb_text_stream_last(ts)) { /* the line goes on past the window */
                if ((st = lb_text_stream_more(ts, i, err)) != LB_OK) goto done;
                i = 0;
                continue;
            }
            line++;
            size_t e = nl ? (size_t)(nl - data) : len;
            size_t s = i;
            i = nl ? e + 1 : len;
            size_t ee = e;
            while (ee > s && (data[ee - 1] == '\r' || data[ee - 1] == ' ' || data[ee - 1] == '\t')) ee--;
            size_t ss = s;
            while (ss < ee && (data[ss] == ' ' || data[ss] == '\t')) ss++;
            if (ss == ee) continue; /* blank line */
            if (memchr(data + ss, 0, ee - ss)) {
                st = lb_err(err, LB_ERR_FORMAT, "%s:%zu: line contains a raw NUL byte", name, line);
                goto done;
            }
            if (has_nul_escape(data + ss, ee - ss)) {
                st = lb_err(err, LB_ERR_UNSUPPORTED,
                            "%s:%zu: a string holds \\u0000 (NUL), which lorabert does not support", name, line);
                goto done;
            }
            const char *endp = NULL;
            cJSON *obj = cJSON_ParseWithLengthOpts(data + ss, ee - ss, &endp, 0);
            if (!obj) {
                size_t col = endp ? (size_t)(endp - (data + ss)) + 1 : 1;
                st = lb_err(err, LB_ERR_FORMAT, "%s:%zu: invalid JSON near column %zu", name, line, col);
                goto done;
            }
            if (endp && (size_t)(endp - data) < ee) {
                cJSON_Delete(obj);
                st = lb_err(err, LB_ERR_FORMAT, "%s:%zu: more than one JSON value on the line (column %zu)", name, line,
                            (size_t)(endp - (data + ss)) + 1);
                goto done;
            }
            st = add_object(&c, obj, data + ss, ee - ss, line, true, err);
            cJSON_Delete(obj);
            if (st != LB_OK) goto done;
        }
    }
    lb_tb_finish(&c.b, out);
done:
    cJSON_Delete(arr);
    free(asp);
    free(aen);
    free(c.sp_start);
    free(c.sp_end);
    free(c.slot);
    free(c.stamp);
    lb_tb_free(&c.b);
    return st;
}

lb_status lb_jsonl_parse(const char *data, size_t len, const char *name, lb_table *out, lb_error *err) {
    lb_text_stream ts;
    memset(out, 0, sizeof *out);
    lb_status st = lb_text_stream_open_mem(&ts, data, len, name, err);
    if (st == LB_OK) st = jsonl_parse(&ts, NULL, out, err);
    lb_text_stream_close(&ts);
    return st;
}

lb_status lb_jsonl_read(const char *path, lb_table *out, lb_error *err) {
    return lb_jsonl_read_rows(path, NULL, out, err);
}

lb_status lb_jsonl_read_rows(const char *path, lb_row_filter *keep, lb_table *out, lb_error *err) {
    /* Through a bounded window (data/text_stream.h), not mapped (a mapped file truncated by
     * another process while parsed kills the process with SIGBUS): a process holds the rows its
     * filter keeps plus one chunk of the file. */
    lb_text_stream ts;
    memset(out, 0, sizeof *out);
    lb_status st = lb_text_stream_open(&ts, path, err);
    if (st != LB_OK) return st;
    st = jsonl_parse(&ts, keep, out, err);
    lb_text_stream_close(&ts);
    return st;
}

lb_status lb_jsonl_read_stream(lb_text_stream *ts, lb_row_filter *keep, lb_table *out, lb_error *err) {
    return jsonl_parse(ts, keep, out, err);
}
