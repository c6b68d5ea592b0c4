/* Many adapters over one base (include/lorabert.h "Many adapters over one base"): the public
 * adapter handle and the mixed-adapter predict.
 *
 * Owns: lb_adapter (a standalone model/ adapter, lb_lora_adapter, plus what the caller reads:
 * folder, labels, base name, tokenizer folder, target modules) and lb_model_predict_adapters,
 * which orders the rows so that each adapter's rows are contiguous (a stable sort by first
 * appearance), packs them into one batch and runs one segmented forward (model.h
 * lb_model_forward_segments), then writes each row's logits back in the caller's order.
 * Why here: resolving folders and hub ids, the labels rule and the row checks are the façade's;
 * the math and the PEFT loading are src/model's (peft.c lb_peft_load_apart shares lb_peft_load).
 * Guarantees: an adapter holds only its tensors, head and small metadata; lb_adapter_open reads
 * only the base's immutable configuration (safe beside a predict on the same base). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "api/api.h"
#include "base/fileio.h"
#include "model/model.h"
#include "model/peft.h"
#include "text/tokenizer.h"

struct lb_adapter {
    lb_lora_adapter *w;
    char *dir, *base_model, *tokenizer_dir, *targets;
    char **labels; /* [num_labels] */
    int num_labels;
    size_t bytes; /* this handle's own allocations (the weights' are w's) */
};

static void free_strings_n(char **v, int n) {
    if (!v) return;
    for (int i = 0; i < n; i++) free(v[i]);
    free(v);
}

void lb_adapter_close(lb_adapter *a) {
    if (!a) return;
    lb_lora_adapter_free(a->w);
    free(a->dir);
    free(a->base_model);
    free(a->tokenizer_dir);
    free(a->targets);
    free_strings_n(a->labels, a->num_labels);
    free(a);
}

/* PEFT module names of the adapted kinds, in lb_linear order, each once ("query,value,dense"). */
static char *target_list(const lb_model *base, unsigned mask) {
    char buf[256];
    size_t o = 0;
    buf[0] = '\0';
    const char *seen[LB_LIN__COUNT];
    int nseen = 0;
    for (int k = 0; k < LB_LIN__COUNT; k++) {
        if (!(mask & (1u << k))) continue;
        const char *name = lb_model_linear_name(base, (lb_linear)k);
        bool dup = false;
        for (int j = 0; j < nseen; j++) dup |= !strcmp(seen[j], name);
        if (dup) continue;
        seen[nseen++] = name;
        int w = snprintf(buf + o, sizeof buf - o, "%s%s", o ? "," : "", name);
        if (w > 0 && (size_t)w < sizeof buf - o) o += (size_t)w;
    }
    return strdup(buf);
}

/* Sums what the handle allocated (strings and arrays), for lb_adapter_info.bytes. */
static size_t str_bytes(const char *s) { return s ? strlen(s) + 1 : 0; }

/* The adapter's tokenizer files are the base's, byte for byte (trainers save the base's
 * tokenizer beside every adapter): it tokenizes with the base's, so a server holding many such
 * adapters keeps one tokenizer, not one per adapter. */
static bool same_tokenizer_files(const char *dir, const char *base_dir) {
    if (!base_dir) return false;
    for (const char *const *f = lb_tokenizer_files; *f; f++) {
        char *a = lb_path_join(dir, *f), *b = lb_path_join(base_dir, *f);
        bool in_a = a && lb_path_present(a), in_b = b && lb_path_present(b);
        bool same = a && b && in_a == in_b && (!in_a || lb_files_equal(a, b));
        free(a);
        free(b);
        if (!same) return false;
    }
    return true;
}

lb_status lb_adapter_open(const lb_model *base, const char *dir_or_id, const lb_adapter_options *opts, lb_adapter **out,
                          lb_error *err) {
    lb_adapter_options o = {0};
    if (opts) o = *opts;
    LB_API_NOT_NULL(out);
    *out = NULL;
    LB_API_NOT_NULL(base);
    LB_API_NOT_NULL(dir_or_id);
    if (lb_model_get_lora(base))
        return lb_err(err, LB_ERR_USAGE,
                      "lb_adapter_open: the base model holds an adapter; open the base without one (plain or "
                      "merged)");
    if (o.num_labels < 0 || o.num_labels > LB_MAX_LABELS)
        return lb_err(err, LB_ERR_USAGE, "num_labels %d: expected 0 (from the labels, adapter or base) to %d",
                      o.num_labels, LB_MAX_LABELS);
    if (o.labels) {
        if (o.num_labels < 1)
            return lb_err(err, LB_ERR_USAGE, "labels: %d names given, expected 1..%d", o.num_labels, LB_MAX_LABELS);
        for (int i = 0; i < o.num_labels; i++)
            if (!o.labels[i] || !*o.labels[i]) return lb_err(err, LB_ERR_USAGE, "labels: name %d is empty", i);
    }
    lb_adapter *a = calloc(1, sizeof *a);
    if (!a) return lb_err(err, LB_ERR_NOMEM, "out of memory");
    char **file_labels = NULL;
    int n = 0;
    lb_status st = lb_api_resolve(dir_or_id, "adapter", o.revision, &a->dir, err);
    if (!st && !lb_api_dir_has(a->dir, "adapter_config.json"))
        st = lb_err(err, LB_ERR_IO, "%s: no adapter_config.json: not a PEFT adapter folder", a->dir);
    /* Labels: options > labels.json > the head's shape > the base's. */
    if (!st && o.labels) n = o.num_labels;
    else if (!st) {
        st = lb_peft_read_labels(a->dir, &n, &file_labels, err);
        if (!st && o.num_labels && n && o.num_labels != n)
            st = lb_err(err, LB_ERR_USAGE, "%s: the adapter has %d labels, %d were asked for", a->dir, n, o.num_labels);
        if (!st && !n) n = o.num_labels;
    }
    lb_model_info binfo;
    lb_model_get_info(base, &binfo);
    if (!st && !n) n = binfo.num_labels;
    if (!st && (n < 2 || n > LB_MAX_LABELS))
        st = lb_err(err, LB_ERR_UNSUPPORTED, "%s: %d labels: lorabert supports 2..%d", a->dir, n, LB_MAX_LABELS);
    /* The base the adapter was trained on, when it is a local model folder: its shapes must be
     * the base's (heads and vocabulary leave no trace in the adapter's tensors). A hub id is not
     * fetched for this: the tensors' shapes are checked either way. */
    if (!st) {
        lb_error ignored;
        char *trained_on = NULL;
        if (!lb_peft_read_base_model(a->dir, &trained_on, &ignored) && lb_api_dir_has(trained_on, "config.json") &&
            (st = lb_model_check_shapes(base, trained_on, err)))
            lb_err_prefix(err, "%s: its base_model_name_or_path", a->dir);
        free(trained_on);
    }
    if (!st) st = lb_peft_load_apart(base, a->dir, n, &a->w, err);
    if (!st && !(a->labels = calloc((size_t)n, sizeof *a->labels))) st = lb_err(err, LB_ERR_NOMEM, "out of memory");
    if (!st) {
        a->num_labels = n;
        const char *const *names = o.labels                ? o.labels
                                   : file_labels           ? (const char *const *)file_labels
                                   : n == binfo.num_labels ? binfo.labels
                                                           : NULL;
        for (int i = 0; i < n && !st; i++) {
            char dflt[32];
            snprintf(dflt, sizeof dflt, "LABEL_%d", i);
            if (!(a->labels[i] = strdup(names && names[i] ? names[i] : dflt)))
                st = lb_err(err, LB_ERR_NOMEM, "out of memory");
        }
    }
    if (!st) {
        lb_error ignored;
        if (lb_peft_read_base_model(a->dir, &a->base_model, &ignored)) a->base_model = NULL;
        if ((lb_api_dir_has(a->dir, "tokenizer.json") || lb_api_dir_has(a->dir, "vocab.txt")) &&
            !same_tokenizer_files(a->dir, binfo.tokenizer_dir) && !(a->tokenizer_dir = strdup(a->dir)))
            st = lb_err(err, LB_ERR_NOMEM, "out of memory");
    }
    if (!st && !(a->targets = target_list(base, lb_lora_adapter_config(a->w)->target_mask)))
        st = lb_err(err, LB_ERR_NOMEM, "out of memory");
    if (file_labels)
        for (char **p = file_labels; *p; p++) free(*p);
    free(file_labels);
    if (st) {
        lb_adapter_close(a);
        return st;
    }
    a->bytes = sizeof *a + str_bytes(a->dir) + str_bytes(a->base_model) + str_bytes(a->tokenizer_dir) +
               str_bytes(a->targets) + (size_t)n * sizeof *a->labels;
    for (int i = 0; i < n; i++) a->bytes += str_bytes(a->labels[i]);
    *out = a;
    return LB_OK;
}

void lb_adapter_get_info(const lb_adapter *a, lb_adapter_info *info) {
    if (!info) return;
    memset(info, 0, sizeof *info);
    if (!a) return;
    const lb_lora_config *c = lb_lora_adapter_config(a->w);
    info->dir = a->dir;
    info->base_model = a->base_model;
    info->tokenizer_dir = a->tokenizer_dir;
    info->num_labels = a->num_labels;
    info->labels = (const char *const *)a->labels;
    info->lora_r = c->r;
    info->lora_alpha = c->alpha;
    info->target_modules = a->targets;
    info->use_rslora = c->use_rslora;
    info->params = lb_lora_adapter_params(a->w);
    info->bytes = a->bytes + lb_lora_adapter_bytes(a->w);
}

void lb_scores(const float *logits, int num_labels, bool sigmoid, double *out) {
    if (!logits || !out || num_labels < 1) return;
    if (sigmoid) {
        for (int k = 0; k < num_labels; k++) out[k] = 1.0 / (1.0 + exp(-(double)logits[k]));
        return;
    }
    int best = 0;
    for (int k = 1; k < num_labels; k++)
        if (logits[k] > logits[best]) best = k;
    double sum = 0;
    for (int k = 0; k < num_labels; k++) {
        out[k] = exp((double)logits[k] - (double)logits[best]);
        sum += out[k];
    }
    for (int k = 0; k < num_labels; k++) out[k] /= sum;
}

lb_status lb_model_predict_adapters(lb_model *base, const lb_tokens *rows, const lb_adapter *const *adapters, size_t n,
                                    float *logits, int ld_logits, lb_error *err) {
    LB_API_NOT_NULL(base);
    if (n == 0) return LB_OK;
    LB_API_NOT_NULL(rows);
    LB_API_NOT_NULL(logits);
    if (n > (size_t)INT32_MAX / 2)
        return lb_err(err, LB_ERR_USAGE, "lb_model_predict_adapters: %zu rows in one call, at most %d", n,
                      INT32_MAX / 2);
    if (lb_model_get_lora(base))
        return lb_err(err, LB_ERR_USAGE,
                      "lb_model_predict_adapters: the base model holds an adapter; open the base without one");
    const lb_model_config *c = lb_model_get_config(base);
    bool types = c->type_vocab_size > 0;
    int T = 0;
    for (size_t i = 0; i < n; i++) {
        const lb_tokens *r = &rows[i];
        const lb_adapter *ad = adapters ? adapters[i] : NULL;
        int nl = ad ? ad->num_labels : c->num_labels;
        if (ld_logits < nl)
            return lb_err(err, LB_ERR_USAGE, "lb_model_predict_adapters: row %zu: ld_logits %d < its %d labels", i,
                          ld_logits, nl);
        const char *what = ad ? lb_lora_adapter_mismatch(ad->w, base) : NULL;
        if (what)
            return lb_err(err, LB_ERR_USAGE,
                          "lb_model_predict_adapters: row %zu: adapter %s was opened over a base of another %s", i,
                          ad->dir, what);
        if (r->n < 1 || r->n > c->max_tokens || !r->ids)
            return lb_err(err, LB_ERR_USAGE, "lb_model_predict_adapters: row %zu: length %d, expected 1..%d tokens", i,
                          r->n, c->max_tokens);
        for (int t = 0; t < r->n; t++) {
            if (r->ids[t] < 0 || r->ids[t] >= c->vocab_size)
                return lb_err(err, LB_ERR_USAGE,
                              "lb_model_predict_adapters: row %zu position %d: id %d outside the vocabulary of %d", i,
                              t, r->ids[t], c->vocab_size);
            if (types && r->type_ids && (r->type_ids[t] < 0 || r->type_ids[t] >= c->type_vocab_size))
                return lb_err(err, LB_ERR_USAGE,
                              "lb_model_predict_adapters: row %zu position %d: token type %d outside [0, %d)", i, t,
                              r->type_ids[t], c->type_vocab_size);
        }
        if (r->n > T) T = r->n;
    }
    /* Rows ordered by adapter (groups in order of first appearance, rows in input order). */
    size_t *order = malloc(n * sizeof *order);
    lb_segment *segs = malloc(n * sizeof *segs);
    int32_t *ids = malloc(n * (size_t)T * sizeof *ids), *lens = malloc(n * sizeof *lens);
    int32_t *tt = types ? malloc(n * (size_t)T * sizeof *tt) : NULL;
    float *out = malloc(n * (size_t)ld_logits * sizeof *out);
    bool *done = calloc(n, sizeof *done);
    lb_status st = LB_OK;
    if (!order || !segs || !ids || !lens || (types && !tt) || !out || !done) {
        st = lb_err(err, LB_ERR_NOMEM, "lb_model_predict_adapters: out of memory for %zu rows of %d tokens", n, T);
        goto out;
    }
    size_t k = 0;
    int nseg = 0;
    for (size_t i = 0; i < n; i++) {
        if (done[i]) continue;
        const lb_adapter *ad = adapters ? adapters[i] : NULL;
        segs[nseg] = (lb_segment){.begin = (int)k, .end = (int)k, .adapter = ad ? ad->w : NULL};
        for (size_t j = i; j < n; j++) {
            if (done[j] || (adapters ? adapters[j] : NULL) != ad) continue;
            done[j] = true;
            order[k++] = j;
        }
        segs[nseg++].end = (int)k;
    }
    for (size_t b = 0; b < n; b++) {
        const lb_tokens *r = &rows[order[b]];
        memcpy(ids + b * (size_t)T, r->ids, (size_t)r->n * sizeof *ids);
        for (int t = r->n; t < T; t++) ids[b * (size_t)T + (size_t)t] = 0;
        if (tt) {
            if (r->type_ids) memcpy(tt + b * (size_t)T, r->type_ids, (size_t)r->n * sizeof *tt);
            else memset(tt + b * (size_t)T, 0, (size_t)r->n * sizeof *tt);
            for (int t = r->n; t < T; t++) tt[b * (size_t)T + (size_t)t] = 0;
        }
        lens[b] = r->n;
    }
    lb_batch batch = {.B = (int)n, .T = T, .ids = ids, .lengths = lens, .token_type_ids = tt};
    if ((st = lb_model_forward_segments(base, &batch, segs, nseg, out, ld_logits, err))) goto out;
    size_t bad = n;
    for (size_t b = 0; b < n; b++) {
        size_t i = order[b];
        const lb_adapter *ad = adapters ? adapters[i] : NULL;
        int nl = ad ? ad->num_labels : c->num_labels;
        memcpy(logits + i * (size_t)ld_logits, out + b * (size_t)ld_logits, (size_t)nl * sizeof *logits);
        for (int j = 0; j < nl; j++)
            if (!isfinite(out[b * (size_t)ld_logits + (size_t)j]) && i < bad) bad = i;
    }
    if (bad < n) {
        const lb_adapter *ad = adapters ? adapters[bad] : NULL;
        int nl = ad ? ad->num_labels : c->num_labels;
        const float *z = logits + bad * (size_t)ld_logits;
        int j = 0;
        while (j < nl && isfinite(z[j])) j++;
        st = lb_err(err, LB_ERR_NUMERIC, "lb_model_predict_adapters: row %zu: non-finite logit %g for label %d", bad,
                    (double)z[j], j);
    }
out:
    free(order);
    free(segs);
    free(ids);
    free(lens);
    free(tt);
    free(out);
    free(done);
    return st;
}
