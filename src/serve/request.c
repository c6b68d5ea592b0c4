/* Request and response bodies of `lorabert serve`; see request.h. */
#include "serve/request.h"
#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sv_fail(sv_status *st, int http, const char *type, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    st->http = http;
    st->type = type;
    st->code = 0;
    vsnprintf(st->msg, sizeof st->msg, fmt, ap);
    va_end(ap);
    return http;
}

/* Whether a JSON string in body[0..len) escapes a NUL (\u0000): cJSON would cut the text there. */
static bool escapes_nul(const char *body, size_t len) {
    for (size_t i = 0; i + 1 < len; i++) {
        if (body[i] != '\\') continue;
        if (body[i + 1] == 'u' && i + 5 < len && !memcmp(body + i + 2, "0000", 4)) return true;
        i++; /* the escaped character */
    }
    return false;
}

static char *dup_string(const cJSON *s, size_t *len) {
    size_t n = strlen(s->valuestring);
    char *p = malloc(n + 1);
    if (p) memcpy(p, s->valuestring, n + 1);
    *len = n;
    return p;
}

static const char inputs_shape[] =
    "`inputs` must be a string, a pair of strings [string, string] or a batch of mixed strings and pairs "
    "[[string], [string, string], ...]";

/* One sequence of a batch: ["t"] or ["a", "b"]. */
static int parse_sequence(const cJSON *a, int i, sv_input *in, sv_status *st) {
    int n = cJSON_GetArraySize(a);
    if (!cJSON_IsArray(a) || n < 1 || n > 2)
        return sv_fail(st, 400, SV_ERR_VALIDATION, "inputs[%d]: %s", i, inputs_shape);
    const cJSON *t = cJSON_GetArrayItem(a, 0), *p = n == 2 ? cJSON_GetArrayItem(a, 1) : NULL;
    if (!cJSON_IsString(t) || (p && !cJSON_IsString(p)))
        return sv_fail(st, 400, SV_ERR_VALIDATION, "inputs[%d]: %s", i, inputs_shape);
    if (!(in->text = dup_string(t, &in->len)) || (p && !(in->pair = dup_string(p, &in->pair_len))))
        return sv_fail(st, 500, SV_ERR_BACKEND, "out of memory");
    return 0;
}

static int parse_inputs(const cJSON *v, int max_batch, sv_predict_req *req, sv_status *st) {
    if (cJSON_IsString(v)) {
        if (!(req->inputs = calloc(1, sizeof *req->inputs))) return sv_fail(st, 500, SV_ERR_BACKEND, "out of memory");
        req->n = 1;
        if (!(req->inputs[0].text = dup_string(v, &req->inputs[0].len)))
            return sv_fail(st, 500, SV_ERR_BACKEND, "out of memory");
        return 0;
    }
    if (!cJSON_IsArray(v)) return sv_fail(st, 400, SV_ERR_VALIDATION, "%s", inputs_shape);
    int n = cJSON_GetArraySize(v);
    if (n == 0) return sv_fail(st, 400, SV_ERR_VALIDATION, "`inputs` cannot be empty");
    const cJSON *first = cJSON_GetArrayItem(v, 0);
    if (cJSON_IsString(first)) { /* a single text or a pair */
        if (n > 2) return sv_fail(st, 400, SV_ERR_VALIDATION, "%s", inputs_shape);
        if (!(req->inputs = calloc(1, sizeof *req->inputs))) return sv_fail(st, 500, SV_ERR_BACKEND, "out of memory");
        req->n = 1;
        return parse_sequence(v, 0, req->inputs, st);
    }
    if (n > max_batch)
        return sv_fail(st, 413, SV_ERR_VALIDATION,
                       "batch size %d > maximum allowed batch size %d (--max-client-batch-size)", n, max_batch);
    req->batch = true;
    if (!(req->inputs = calloc((size_t)n, sizeof *req->inputs)))
        return sv_fail(st, 500, SV_ERR_BACKEND, "out of memory");
    req->n = n;
    int i = 0;
    for (const cJSON *a = v->child; a; a = a->next, i++)
        if (parse_sequence(a, i, &req->inputs[i], st)) return st->http;
    return 0;
}

static int get_bool(const cJSON *root, const char *key, bool *out, sv_status *st) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!v || cJSON_IsNull(v)) return 0;
    if (!cJSON_IsBool(v)) return sv_fail(st, 400, SV_ERR_VALIDATION, "`%s` must be a boolean", key);
    *out = cJSON_IsTrue(v);
    return 0;
}

int sv_parse_predict(const char *body, size_t len, int max_batch, sv_predict_req *req, sv_status *st) {
    memset(req, 0, sizeof *req);
    memset(st, 0, sizeof *st);
    if (!body || len == 0) return sv_fail(st, 400, SV_ERR_VALIDATION, "empty request body (expected JSON)");
    cJSON *root = cJSON_ParseWithLength(body, len);
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        size_t off = at && at >= body && at <= body + len ? (size_t)(at - body) : 0;
        return sv_fail(st, 400, SV_ERR_VALIDATION, "request body: invalid JSON near byte %zu", off);
    }
    int rc = 0;
    if (!cJSON_IsObject(root)) {
        rc = sv_fail(st, 400, SV_ERR_VALIDATION, "request body must be a JSON object");
        goto out;
    }
    const cJSON *inputs = cJSON_GetObjectItemCaseSensitive(root, "inputs");
    if (!inputs) {
        rc = sv_fail(st, 400, SV_ERR_VALIDATION, "missing field `inputs`");
        goto out;
    }
    if ((rc = get_bool(root, "truncate", &req->truncate, st)) ||
        (rc = get_bool(root, "raw_scores", &req->raw_scores, st)))
        goto out;
    const cJSON *dir = cJSON_GetObjectItemCaseSensitive(root, "truncation_direction");
    if (dir && !cJSON_IsNull(dir)) {
        const char *d = cJSON_IsString(dir) ? dir->valuestring : "";
        if (!strcmp(d, "left") || !strcmp(d, "Left")) req->truncate_left = true;
        else if (strcmp(d, "right") && strcmp(d, "Right")) {
            rc = sv_fail(st, 400, SV_ERR_VALIDATION, "`truncation_direction` must be \"left\" or \"right\"");
            goto out;
        }
    }
    const cJSON *ad = cJSON_GetObjectItemCaseSensitive(root, "adapter");
    if (ad && !cJSON_IsNull(ad)) {
        if (!cJSON_IsString(ad) || !sv_adapter_name_ok(ad->valuestring)) {
            rc = sv_fail(st, 400, SV_ERR_VALIDATION,
                         "`adapter` must be an adapter name (1-128 of A-Z a-z 0-9 . _ -, not starting with '.')");
            goto out;
        }
        if (!(req->adapter = strdup(ad->valuestring))) {
            rc = sv_fail(st, 500, SV_ERR_BACKEND, "out of memory");
            goto out;
        }
    }
    if ((rc = parse_inputs(inputs, max_batch, req, st))) goto out;
    if (escapes_nul(body, len))
        rc = sv_fail(st, 422, SV_ERR_TOKENIZER, "a text holds a NUL character (\\u0000), which cannot be tokenized");
out:
    cJSON_Delete(root);
    return rc;
}

void sv_predict_req_free(sv_predict_req *req) {
    for (int i = 0; req->inputs && i < req->n; i++) {
        free(req->inputs[i].text);
        free(req->inputs[i].pair);
    }
    free(req->inputs);
    free(req->adapter);
    memset(req, 0, sizeof *req);
}

bool sv_adapter_name_ok(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > 128 || s[0] == '.') return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-'))
            return false;
    }
    return true;
}

int sv_parse_adapter_add(const char *body, size_t len, char **name, char **path, sv_status *st) {
    *name = *path = NULL;
    memset(st, 0, sizeof *st);
    cJSON *root = body && len ? cJSON_ParseWithLength(body, len) : NULL;
    int rc = 0;
    if (!cJSON_IsObject(root)) {
        rc = sv_fail(st, 400, SV_ERR_VALIDATION, "request body must be a JSON object {\"name\": ..., \"path\": ...}");
        goto out;
    }
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(root, "name"),
                *p = cJSON_GetObjectItemCaseSensitive(root, "path");
    if (!cJSON_IsString(n) || !sv_adapter_name_ok(n->valuestring)) {
        rc = sv_fail(st, 400, SV_ERR_VALIDATION,
                     "`name` must be an adapter name (1-128 of A-Z a-z 0-9 . _ -, not starting with '.')");
        goto out;
    }
    if (!cJSON_IsString(p) || !p->valuestring[0] || escapes_nul(body, len)) {
        rc = sv_fail(st, 400, SV_ERR_VALIDATION, "`path` must be a non-empty string (an adapter folder or hub id)");
        goto out;
    }
    if (!(*name = strdup(n->valuestring)) || !(*path = strdup(p->valuestring))) {
        free(*name);
        *name = NULL;
        rc = sv_fail(st, 500, SV_ERR_BACKEND, "out of memory");
    }
out:
    cJSON_Delete(root);
    return rc;
}

void sv_buf_put(sv_buf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->cap - b->len < n + 1) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->len < n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void sv_buf_puts(sv_buf *b, const char *s) { sv_buf_put(b, s, strlen(s)); }

void sv_buf_printf(sv_buf *b, const char *fmt, ...) {
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof tmp) {
        sv_buf_put(b, tmp, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        b->oom = true;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sv_buf_put(b, big, (size_t)n);
    free(big);
}

void sv_buf_json_string(sv_buf *b, const char *s) {
    sv_buf_put(b, "\"", 1);
    const char *run = s;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p >= 0x20 && *p != '"' && *p != '\\') continue;
        sv_buf_put(b, run, (size_t)((const char *)p - run));
        if (*p == '"') sv_buf_put(b, "\\\"", 2);
        else if (*p == '\\') sv_buf_put(b, "\\\\", 2);
        else if (*p == '\n') sv_buf_put(b, "\\n", 2);
        else sv_buf_printf(b, "\\u%04x", *p);
        run = (const char *)p + 1;
    }
    sv_buf_puts(b, run);
    sv_buf_put(b, "\"", 1);
}

void sv_buf_free(sv_buf *b) {
    free(b->p);
    memset(b, 0, sizeof *b);
}

void sv_error_json(sv_buf *b, const sv_status *st) {
    sv_buf_puts(b, "{\"error\":");
    sv_buf_json_string(b, st->msg);
    sv_buf_puts(b, ",\"error_type\":");
    sv_buf_json_string(b, st->type ? st->type : SV_ERR_BACKEND);
    sv_buf_puts(b, "}");
}

void sv_predictions_json(sv_buf *b, const double *scores, const char *const *labels, int L) {
    int order[512];
    int n = L < 512 ? L : 512;
    for (int i = 0; i < n; i++) order[i] = i;
    /* insertion sort: stable, descending (L is small) */
    for (int i = 1; i < n; i++) {
        int k = order[i], j = i;
        while (j > 0 && scores[order[j - 1]] < scores[k]) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = k;
    }
    sv_buf_put(b, "[", 1);
    for (int i = 0; i < n; i++) {
        double s = scores[order[i]];
        if (i) sv_buf_put(b, ",", 1);
        /* %.17g: the double exactly (a raw float score too); JSON has no NaN, so null */
        if (s == s && s - s == 0) sv_buf_printf(b, "{\"score\":%.17g,\"label\":", s);
        else sv_buf_puts(b, "{\"score\":null,\"label\":");
        sv_buf_json_string(b, labels[order[i]]);
        sv_buf_put(b, "}", 1);
    }
    sv_buf_put(b, "]", 1);
}
