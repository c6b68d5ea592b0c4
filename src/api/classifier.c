/* The public classifier: model + tokenizer + inference settings, and lb_classify.
 *
 * Texts are tokenized first, then run longest first in batches of batch_size so that a batch
 * holds texts of similar lengths (padding costs nothing in the model anyway: rows are packed);
 * results are written back in input order. Probabilities are a softmax computed in double from
 * the float logits, so every caller (CLI, C, Python, server) prints the same numbers. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "api/api.h"
#include "base/assert.h"
#include "model/model.h"
#include "text/tokenizer.h"

#define CLASSIFIER_DEFAULT_BATCH 32

struct lb_classifier {
    lb_model *model;
    lb_tokenizer *tok;
    lb_tok_opts to; /* max_length resolved, truncation side, specials */
    int batch_size;
    int threads;
    /* per-call scratch, grown as needed */
    lb_encoding *enc;
    int32_t **types; /* [n] pair type ids or NULL */
    size_t enc_cap;
    int32_t *order;
};

lb_status lb_classifier_open(const char *model, const lb_classifier_options *opts, lb_classifier **out, lb_error *err) {
    lb_classifier_options o = {0};
    if (opts) o = *opts;
    LB_API_NOT_NULL(out);
    *out = NULL;
    if (o.batch_size < 0 || o.max_length < 0)
        return lb_err(err, LB_ERR_USAGE, "classifier: batch_size and max_length must not be negative");
    lb_status tst = lb_api_threads_check(o.threads, "classifier", err);
    if (tst) return tst;
    lb_classifier *c = calloc(1, sizeof *c);
    if (!c) return lb_err(err, LB_ERR_NOMEM, "out of memory");
    int prev = lb_api_threads_push(o.threads);
    lb_status st = lb_model_open(model, &o.model, &c->model, err);
    lb_model_info info;
    if (!st) {
        lb_model_get_info(c->model, &info);
        if (!(c->tok = lb_tokenizer_load_as(info.tokenizer_dir, info.model_type, err)))
            st = err ? err->code : LB_ERR_FORMAT;
    }
    if (!st) {
        int limit = lb_tokenizer_model_max_length(c->tok);
        if (limit <= 0 || limit > info.max_tokens) limit = info.max_tokens;
        if (o.max_length > info.max_tokens)
            st = lb_err(err, LB_ERR_USAGE, "max_length %d exceeds the model's %d positions (max_position_embeddings%s)",
                        o.max_length, info.max_tokens,
                        info.max_tokens != info.max_position_embeddings ? " - pad_token_id - 1" : "");
        else if (o.max_length == 1)
            st = lb_err(err, LB_ERR_USAGE, "max_length must leave room for the special tokens (>= 2)");
        c->to = (lb_tok_opts){.max_length = o.max_length ? o.max_length : limit,
                              .truncate_left = o.truncate_left,
                              .add_special_tokens = true,
                              .replace_invalid_utf8 = false};
        c->batch_size = o.batch_size ? o.batch_size : CLASSIFIER_DEFAULT_BATCH;
        c->threads = o.threads;
    }
    lb_api_threads_restore(prev);
    if (st) {
        lb_classifier_close(c);
        return st;
    }
    *out = c;
    return LB_OK;
}

static void free_scratch(lb_classifier *c) {
    for (size_t i = 0; i < c->enc_cap; i++) {
        lb_encoding_free(&c->enc[i]);
        free(c->types[i]);
    }
    free(c->enc);
    free(c->types);
    free(c->order);
    c->enc = NULL;
    c->types = NULL;
    c->order = NULL;
    c->enc_cap = 0;
}

void lb_classifier_close(lb_classifier *c) {
    if (!c) return;
    free_scratch(c);
    lb_tokenizer_free(c->tok);
    lb_model_free(c->model);
    free(c);
}

lb_model *lb_classifier_model(lb_classifier *c) { return c ? c->model : NULL; }
const lb_tokenizer *lb_classifier_tokenizer(const lb_classifier *c) { return c ? c->tok : NULL; }
int lb_classifier_num_labels(const lb_classifier *c) { return c ? lb_model_get_config(c->model)->num_labels : 0; }

const char *lb_classifier_label(const lb_classifier *c, int id) {
    if (!c) return NULL;
    lb_model_info info;
    lb_model_get_info(c->model, &info);
    if (id < 0 || id >= info.num_labels || !info.labels) return NULL;
    return info.labels[id];
}

/* Internal settings for evaluation (src/api/evaluate.c). */
const lb_tok_opts *lb_api_classifier_tok_opts(const lb_classifier *c) { return &c->to; }
int lb_api_classifier_threads(const lb_classifier *c) { return c->threads; }

static lb_status reserve(lb_classifier *c, size_t n, lb_error *err) {
    if (n <= c->enc_cap) return LB_OK;
    size_t cap = n < 64 ? 64 : n;
    lb_encoding *e = realloc(c->enc, cap * sizeof *e);
    if (!e) return lb_err(err, LB_ERR_NOMEM, "out of memory for %zu texts", n);
    c->enc = e;
    int32_t **t = realloc(c->types, cap * sizeof *t);
    if (!t) return lb_err(err, LB_ERR_NOMEM, "out of memory for %zu texts", n);
    c->types = t;
    int32_t *o = realloc(c->order, cap * sizeof *o);
    if (!o) return lb_err(err, LB_ERR_NOMEM, "out of memory for %zu texts", n);
    c->order = o;
    memset(c->enc + c->enc_cap, 0, (cap - c->enc_cap) * sizeof *e);
    memset(c->types + c->enc_cap, 0, (cap - c->enc_cap) * sizeof *t);
    c->enc_cap = cap;
    return LB_OK;
}

/* Longest first, then input order (a stable, thread-safe comparison via a context array). */
static void sort_by_length_desc(int32_t *order, size_t n, const lb_encoding *enc) {
    /* insertion into runs would do; n is a request's size, so a simple merge sort is enough */
    int32_t *tmp = malloc(n * sizeof *tmp);
    if (!tmp) { /* no memory for the sort: input order (results are the same, only slower) */
        for (size_t i = 0; i < n; i++) order[i] = (int32_t)i;
        return;
    }
    for (size_t i = 0; i < n; i++) order[i] = (int32_t)i;
    for (size_t width = 1; width < n; width *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * width) {
            size_t mid = lo + width < n ? lo + width : n, hi = lo + 2 * width < n ? lo + 2 * width : n;
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi) {
                /* longer first; equal lengths keep input order (stable) */
                if (enc[order[j]].n > enc[order[i]].n) tmp[k++] = order[j++];
                else tmp[k++] = order[i++];
            }
            while (i < mid) tmp[k++] = order[i++];
            while (j < hi) tmp[k++] = order[j++];
        }
        memcpy(order, tmp, n * sizeof *order);
    }
    free(tmp);
}

static lb_status run_batches(lb_classifier *c, size_t n, bool pairs, float *logits, lb_error *err) {
    const lb_model_config *cfg = lb_model_get_config(c->model);
    const int L = cfg->num_labels;
    sort_by_length_desc(c->order, n, c->enc);
    int bmax = c->batch_size < (int)(n < (size_t)INT32_MAX ? n : (size_t)INT32_MAX) ? c->batch_size : (int)n;
    int32_t T_max = c->enc[c->order[0]].n;
    int32_t *ids = malloc((size_t)bmax * (size_t)T_max * sizeof *ids);
    int32_t *tt = pairs ? malloc((size_t)bmax * (size_t)T_max * sizeof *tt) : NULL;
    int32_t *blen = malloc((size_t)bmax * sizeof *blen);
    float *blogits = malloc((size_t)bmax * (size_t)L * sizeof *blogits);
    lb_status st = LB_OK;
    if (!ids || !blen || !blogits || (pairs && !tt)) st = lb_err(err, LB_ERR_NOMEM, "out of memory");
    int32_t pad = lb_tokenizer_pad_id(c->tok);
    for (size_t s = 0; !st && s < n; s += (size_t)bmax) {
        int B = (int)(n - s < (size_t)bmax ? n - s : (size_t)bmax);
        int T = c->enc[c->order[s]].n;
        for (int b = 0; b < B; b++) {
            size_t i = (size_t)c->order[s + (size_t)b];
            const lb_encoding *e = &c->enc[i];
            LB_ASSERT(e->n <= T && e->n <= T_max); /* longest first: the batch's first row is its longest */
            memcpy(ids + (size_t)b * T, e->ids, (size_t)e->n * sizeof *ids);
            for (int k = e->n; k < T; k++) ids[(size_t)b * T + k] = pad;
            if (tt) {
                if (c->types[i]) memcpy(tt + (size_t)b * T, c->types[i], (size_t)e->n * sizeof *tt);
                else memset(tt + (size_t)b * T, 0, (size_t)e->n * sizeof *tt);
                for (int k = e->n; k < T; k++) tt[(size_t)b * T + k] = 0;
            }
            blen[b] = e->n;
        }
        lb_batch batch = {.B = B, .T = T, .ids = ids, .lengths = blen, .token_type_ids = tt};
        if ((st = lb_model_forward(c->model, &batch, false, NULL, blogits, err))) break;
        for (int b = 0; b < B; b++)
            memcpy(logits + (size_t)c->order[s + (size_t)b] * L, blogits + (size_t)b * L, (size_t)L * sizeof *logits);
    }
    free(ids);
    free(tt);
    free(blen);
    free(blogits);
    return st;
}

lb_status lb_classify(lb_classifier *c, const char *const *texts, const size_t *lens, const char *const *pairs,
                      const size_t *pair_lens, size_t n, int32_t *label_ids, double *probs, float *logits,
                      lb_error *err) {
    LB_API_NOT_NULL(c);
    if (n == 0) return LB_OK;
    if (!texts) return lb_err(err, LB_ERR_USAGE, "classify: texts is NULL");
    const lb_model_config *cfg = lb_model_get_config(c->model);
    const int L = cfg->num_labels;
    if (n > (size_t)INT32_MAX / (size_t)(L > 0 ? L : 1))
        return lb_err(err, LB_ERR_USAGE, "classify: %zu texts in one call, at most %d", n, INT32_MAX / L);
    lb_status st = reserve(c, n, err);
    if (st) return st;
    float *z = logits ? logits : malloc(n * (size_t)L * sizeof *z);
    if (!z) return lb_err(err, LB_ERR_NOMEM, "out of memory for %zu logits", n * (size_t)L);
    int prev = lb_api_threads_push(c->threads);
    bool any_pair = false;
    for (size_t i = 0; i < n && !st; i++) {
        if (!texts[i]) {
            st = lb_err(err, LB_ERR_USAGE, "text %zu is NULL", i);
            break;
        }
        size_t len = lens ? lens[i] : strlen(texts[i]);
        const char *p = pairs ? pairs[i] : NULL;
        size_t plen = p ? (pair_lens ? pair_lens[i] : strlen(p)) : 0;
        c->enc[i].n = 0;
        if (p) {
            any_pair = true;
            st = lb_tokenize_pair(c->tok, texts[i], len, p, plen, &c->to, &c->enc[i], &c->types[i], err);
        } else {
            free(c->types[i]);
            c->types[i] = NULL;
            st = lb_tokenize(c->tok, texts[i], len, &c->to, &c->enc[i], err);
        }
        if (st) {
            lb_err_prefix(err, "text %zu", i);
            break;
        }
        for (int32_t k = 0; k < c->enc[i].n; k++)
            if (c->enc[i].ids[k] < 0 || c->enc[i].ids[k] >= cfg->vocab_size) {
                lb_model_info info;
                lb_model_get_info(c->model, &info);
                st = lb_err(err, LB_ERR_FORMAT,
                            "text %zu: token id %d is outside the model's vocabulary of %d "
                            "(tokenizer from %s does not match the model)",
                            i, c->enc[i].ids[k], cfg->vocab_size, info.tokenizer_dir);
                break;
            }
    }
    if (!st) st = run_batches(c, n, any_pair, z, err);
    lb_api_threads_restore(prev);
    const bool multi = cfg->multi_label;
    for (size_t i = 0; i < n && !st; i++) {
        const float *zi = z + i * (size_t)L;
        for (int k = 0; k < L; k++)
            if (!isfinite(zi[k])) {
                st = lb_err(err, LB_ERR_NUMERIC,
                            "text %zu: non-finite logit %g for label %d (the model's weights or "
                            "inputs give NaN/Inf)",
                            i, (double)zi[k], k);
                break;
            }
        if (st) break;
        /* argmax: ties go to the first index (numpy); softmax in double */
        int best = 0;
        for (int k = 1; k < L; k++)
            if (zi[k] > zi[best]) best = k;
        if (label_ids) label_ids[i] = best;
        if (probs && cfg->problem == LB_PROBLEM_REGRESSION) /* the values themselves */
            for (int k = 0; k < L; k++) probs[i * (size_t)L + k] = zi[k];
        else if (probs) lb_scores(zi, L, multi, probs + i * (size_t)L);
    }
    if (z != logits) free(z);
    /* a large request's scratch is not kept */
    if (c->enc_cap > 4096) free_scratch(c);
    return st;
}

lb_status lb_model_predict_tokens(lb_model *m, const int32_t *ids, const int32_t *lengths, const int32_t *type_ids,
                                  int B, int T, float *logits, lb_error *err) {
    LB_API_NOT_NULL(m);
    const lb_model_config *cfg = lb_model_get_config(m);
    if (B < 1 || T < 1 || !ids || !lengths || !logits)
        return lb_err(err, LB_ERR_USAGE, "predict tokens: need B >= 1, T >= 1, ids, lengths and logits (B=%d, T=%d)", B,
                      T);
    if (T > cfg->max_tokens)
        return lb_err(err, LB_ERR_USAGE, "predict tokens: T=%d exceeds the model's %d positions", T, cfg->max_tokens);
    for (int b = 0; b < B; b++) {
        if (lengths[b] < 1 || lengths[b] > T)
            return lb_err(err, LB_ERR_USAGE, "predict tokens: row %d: length %d, expected 1..%d", b, lengths[b], T);
        for (int t = 0; t < lengths[b]; t++) {
            int32_t id = ids[(size_t)b * T + t];
            if (id < 0 || id >= cfg->vocab_size)
                return lb_err(err, LB_ERR_USAGE,
                              "predict tokens: row %d position %d: id %d outside the vocabulary of %d", b, t, id,
                              cfg->vocab_size);
            if (type_ids && (type_ids[(size_t)b * T + t] < 0 ||
                             type_ids[(size_t)b * T + t] >= (cfg->type_vocab_size > 0 ? cfg->type_vocab_size : 1)))
                return lb_err(err, LB_ERR_USAGE, "predict tokens: row %d position %d: token type %d out of range", b, t,
                              type_ids[(size_t)b * T + t]);
        }
    }
    lb_batch batch = {.B = B, .T = T, .ids = ids, .lengths = lengths, .token_type_ids = type_ids};
    lb_status st = lb_model_forward(m, &batch, false, NULL, logits, err);
    for (int64_t i = 0; !st && i < (int64_t)B * cfg->num_labels; i++)
        if (!isfinite(logits[i]))
            st = lb_err(err, LB_ERR_NUMERIC, "predict tokens: row %lld: non-finite logit %g",
                        (long long)(i / cfg->num_labels), (double)logits[i]);
    return st;
}
