/* Tokenised datasets and the padding collator; see tokset.h. */
#include "train/tokset.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

lb_status lb_tokset_add_pair(lb_tokset *ts, const int32_t *ids, int32_t len, int32_t type_start, int32_t label,
                             lb_error *err) {
    if (type_start < 0 || type_start > len)
        return lb_err(err, LB_ERR_USAGE, "example %lld: token type start %d outside 0..%d", (long long)ts->n,
                      type_start, len);
    if (ts->n + 1 >= ts->cap_n) {
        int64_t cap = ts->cap_n ? ts->cap_n * 2 : 256;
        int64_t *o = realloc(ts->offsets, sizeof(int64_t) * (size_t)(cap + 1));
        if (!o) return lb_err(err, LB_ERR_NOMEM, "out of memory for %lld examples", (long long)cap);
        ts->offsets = o;
        int32_t *l = realloc(ts->labels, sizeof(int32_t) * (size_t)cap);
        if (!l) return lb_err(err, LB_ERR_NOMEM, "out of memory for %lld examples", (long long)cap);
        ts->labels = l;
        int32_t *s = realloc(ts->type_start, sizeof(int32_t) * (size_t)cap);
        if (!s) return lb_err(err, LB_ERR_NOMEM, "out of memory for %lld examples", (long long)cap);
        ts->type_start = s;
        if (ts->cap_n == 0) ts->offsets[0] = 0;
        ts->cap_n = cap;
    }
    int64_t used = ts->offsets[ts->n];
    if (used + len > ts->cap_ids) {
        int64_t cap = ts->cap_ids ? ts->cap_ids * 2 : 65536;
        while (cap < used + len) cap *= 2;
        int32_t *d = realloc(ts->ids, sizeof(int32_t) * (size_t)cap);
        if (!d) return lb_err(err, LB_ERR_NOMEM, "out of memory for %lld token ids", (long long)cap);
        ts->ids = d;
        ts->cap_ids = cap;
    }
    if (len) memcpy(ts->ids + used, ids, sizeof(int32_t) * (size_t)len);
    ts->labels[ts->n] = label;
    ts->type_start[ts->n] = type_start;
    if (type_start < len) ts->has_pairs = true;
    ts->offsets[++ts->n] = used + len;
    return LB_OK;
}

lb_status lb_tokset_set_targets(lb_tokset *ts, const float *targets, int k, lb_error *err) {
    if (k < 1) return lb_err(err, LB_ERR_USAGE, "targets: %d values per example, expected >= 1", k);
    for (int64_t i = 0; i < ts->n * k; i++)
        if (!isfinite(targets[i]))
            return lb_err(err, LB_ERR_FORMAT, "example %lld: target %lld is %g, expected a finite number",
                          (long long)(i / k), (long long)(i % k), (double)targets[i]);
    float *t = malloc(sizeof(float) * (size_t)(ts->n * k > 0 ? ts->n * k : 1));
    if (!t) return lb_err(err, LB_ERR_NOMEM, "out of memory for %lld targets", (long long)(ts->n * k));
    if (ts->n) memcpy(t, targets, sizeof(float) * (size_t)(ts->n * k));
    free(ts->targets);
    ts->targets = t;
    ts->n_targets = k;
    return LB_OK;
}

void lb_tokset_free(lb_tokset *ts) {
    free(ts->targets);
    free(ts->ids);
    free(ts->offsets);
    free(ts->labels);
    free(ts->type_start);
    memset(ts, 0, sizeof *ts);
}

lb_status lb_tokset_build_pairs(lb_tokset *ts, const lb_tokenizer *tok, const char *const *texts, const size_t *lens,
                                const char *const *pairs, const size_t *pair_lens, const int32_t *labels, int64_t n,
                                int num_labels, int max_length, bool truncate_left, const char *what, lb_error *err) {
    memset(ts, 0, sizeof *ts);
    if (n <= 0) return lb_err(err, LB_ERR_FORMAT, "%s: empty dataset (no examples)", what);
    lb_tok_opts to = {.max_length = max_length,
                      .truncate_left = truncate_left,
                      .add_special_tokens = true,
                      .replace_invalid_utf8 = false};
    lb_encoding enc = {0};
    int32_t *tt = NULL; /* [enc.cap] token types of the current pair */
    lb_status st = LB_OK;
    for (int64_t i = 0; i < n; i++) {
        const int32_t y = labels ? labels[i] : 0;
        if (y < 0 || y >= num_labels) {
            st = lb_err(err, LB_ERR_FORMAT, "%s: row %lld: label %d is outside 0..%d (the model has %d labels)", what,
                        (long long)i + 1, y, num_labels - 1, num_labels);
            break;
        }
        st = pairs ? lb_tokenize_pair(tok, texts[i], lens[i], pairs[i], pair_lens[i], &to, &enc, &tt, err)
                   : lb_tokenize(tok, texts[i], lens[i], &to, &enc, err);
        if (st) {
            lb_err_prefix(err, "%s: row %lld", what, (long long)i + 1);
            break;
        }
        int32_t start = enc.n; /* types are 0...0 1...1: keep where the 1s begin */
        if (pairs)
            for (int32_t k = 0; k < enc.n; k++)
                if (tt[k]) {
                    start = k;
                    break;
                }
        if ((st = lb_tokset_add_pair(ts, enc.ids, enc.n, start, y, err))) break;
    }
    free(tt);
    lb_encoding_free(&enc);
    if (st) lb_tokset_free(ts);
    return st;
}

void lb_collator_free(lb_collator *bb) {
    free(bb->ids);
    free(bb->types);
    free(bb->lengths);
    free(bb->labels);
    free(bb->targets);
    memset(bb, 0, sizeof *bb);
}

int64_t lb_collate(lb_collator *bb, const lb_tokset *ts, const int32_t *rows, int B, int32_t pad_id, lb_batch *out) {
    int T = 1;
    int64_t real = 0;
    for (int b = 0; b < B; b++) {
        int len = (int)(ts->offsets[rows[b] + 1] - ts->offsets[rows[b]]);
        if (len > T) T = len;
        real += len;
    }
    if (B > bb->cap_b) {
        int32_t *l = realloc(bb->lengths, sizeof(int32_t) * B), *y = realloc(bb->labels, sizeof(int32_t) * B);
        if (l) bb->lengths = l;
        if (y) bb->labels = y;
        if (!l || !y) return -1;
        bb->cap_b = B;
    }
    if ((int64_t)B * T > bb->cap_bt) {
        int32_t *d = realloc(bb->ids, sizeof(int32_t) * (size_t)B * T);
        if (!d) return -1;
        bb->ids = d;
        bb->cap_bt = (int64_t)B * T;
    }
    if (ts->has_pairs && (int64_t)B * T > bb->cap_types) {
        int32_t *y = realloc(bb->types, sizeof(int32_t) * (size_t)B * T);
        if (!y) return -1;
        bb->types = y;
        bb->cap_types = (int64_t)B * T;
    }
    const int K = ts->targets ? ts->n_targets : 0;
    if ((int64_t)B * K > bb->cap_targets) {
        float *y = realloc(bb->targets, sizeof(float) * (size_t)B * K);
        if (!y) return -1;
        bb->targets = y;
        bb->cap_targets = (int64_t)B * K;
    }
    for (int b = 0; b < B; b++) {
        if (K) memcpy(bb->targets + (int64_t)b * K, ts->targets + (int64_t)rows[b] * K, sizeof(float) * (size_t)K);
        const int32_t *src = ts->ids + ts->offsets[rows[b]];
        int len = (int)(ts->offsets[rows[b] + 1] - ts->offsets[rows[b]]);
        memcpy(bb->ids + (int64_t)b * T, src, sizeof(int32_t) * len);
        for (int t = len; t < T; t++) bb->ids[(int64_t)b * T + t] = pad_id;
        bb->lengths[b] = len;
        bb->labels[b] = ts->labels[rows[b]];
        if (ts->has_pairs) { /* padding gets type 0, as DataCollatorWithPadding */
            int32_t *ty = bb->types + (int64_t)b * T;
            int s = ts->type_start[rows[b]];
            for (int t = 0; t < T; t++) ty[t] = t >= s && t < len;
        }
    }
    out->B = B;
    out->T = T;
    out->ids = bb->ids;
    out->lengths = bb->lengths;
    out->token_type_ids = ts->has_pairs ? bb->types : NULL;
    return real;
}
