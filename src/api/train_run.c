/* The public training run (include/lorabert.h "Training"): datasets -> label ids -> tokenised
 * sets -> the trainer's step (train/trainer.h).
 *
 *   labels      string labels are mapped to the model's classes by name (a value the model does
 *               not know is LB_ERR_FORMAT naming row and value), announced through on_log as
 *               "labels: 0=neg 1=pos"; integer labels are used as they are (below the model's
 *               class count, checked while tokenising)
 *   tokenizer   the model's (lb_model_get_info's tokenizer_dir: the adapter's files when it
 *               carries them), truncation at max_length on the left unless truncate_right
 *   files       labels.json gets the model's class names; the tokenizer files of tokenizer_dir
 *               are copied next to every adapter written
 * A run opened without a training set takes caller-given batches (lb_train_step_batch) over a
 * schedule of max_steps steps: the benches' and custom loops' way in.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "api/api.h"
#include "data/dataset.h"
#include "model/model.h"
#include "text/tokenizer.h"
#include "train/trainer.h"

struct lb_train_run {
    lb_model *m;
    lb_trainer *t;
    lb_tokset train, eval;
    bool has_train, has_eval;
    char *output_dir, *resume_dir, *base_model_name, *tokenizer_dir;   /* copies */
    int32_t *order_rows, *order_offsets;
    int threads;
};

void lb_train_options_init(lb_train_options *o) {
    memset(o, 0, sizeof *o);
    o->num_train_epochs = 10;
    o->per_device_train_batch_size = 4;
    o->per_device_eval_batch_size = 4;
    o->learning_rate = 1e-3;
    o->weight_decay = 0.01;
    o->warmup_steps = 0;
    o->max_grad_norm = 1.0;
    o->seed = 42;
    o->logging_steps = 500;
    o->metric_for_best_model = "loss";
    o->max_length = 512;
}

static lb_status parse_best(const char *name, lb_best_metric *b, lb_error *err) {
    static const char *const names[] = {"loss", "accuracy", "f1", "precision", "recall"};
    if (!name) name = "loss";
    const char *n = strncmp(name, "eval_", 5) ? name : name + 5;
    for (int i = 0; i < 5; i++)
        if (!strcmp(n, names[i])) {
            *b = (lb_best_metric)i;
            return LB_OK;
        }
    return lb_err(err, LB_ERR_USAGE, "metric_for_best_model '%s': expected loss, accuracy, f1, precision or recall",
                  name);
}

static lb_status dup_opt(const char *s, char **out, lb_error *err) {
    *out = NULL;
    if (!s) return LB_OK;
    return (*out = strdup(s)) ? LB_OK : lb_err(err, LB_ERR_NOMEM, "out of memory");
}

/* The label id of every row of d for a model whose classes are names[0..n): the data layer's
 * one rule (string labels by name, integer labels as they are). *ids malloc'd [d->n]; *mapped
 * tells whether string labels were mapped. (One call to replace by the data layer's label
 * mapping when it moves out of the CLI.) */
static lb_status map_labels(const lb_dataset *d, const char *what, const char *const *names, int n, int32_t **ids,
                            bool *mapped, lb_error *err) {
    *mapped = false;
    *ids = malloc(sizeof(int32_t) * (d->n ? d->n : 1));
    int *map = NULL;
    if (!*ids) return lb_err(err, LB_ERR_NOMEM, "%s: out of memory", what);
    lb_status st = LB_OK;
    if (d->label_names) {
        map = malloc(sizeof(int) * (size_t)(d->num_labels ? d->num_labels : 1));
        if (!map) {
            st = lb_err(err, LB_ERR_NOMEM, "%s: out of memory", what);
            goto out;
        }
        for (int k = 0; k < d->num_labels; k++) {
            map[k] = -1;
            for (int c = 0; c < n && map[k] < 0; c++)
                if (names[c] && !strcmp(names[c], d->label_names[k])) map[k] = c;
        }
        *mapped = true;
    }
    for (size_t i = 0; i < d->n; i++) {
        int32_t y = d->labels[i];
        if (map && y >= 0 && y < d->num_labels) {
            if (map[y] < 0) {
                st = lb_err(err, LB_ERR_FORMAT, "%s: row %zu: label \"%s\" is not one of the model's %d classes (%s%s%s)",
                            what, i + 1, d->label_names[y], n, n > 0 ? names[0] : "", n > 1 ? ", " : "",
                            n > 1 ? names[1] : "");
                goto out;
            }
            y = map[y];
        }
        (*ids)[i] = y;
    }
out:
    free(map);
    if (st) {
        free(*ids);
        *ids = NULL;
    }
    return st;
}

/* d tokenised for the model: label ids by map_labels, texts with tok. */
static lb_status tokenise(const lb_dataset *d, const char *what, const lb_tokenizer *tok, const lb_model_info *info,
                          const lb_train_options *o, lb_tokset *ts, bool *mapped, lb_error *err) {
    int32_t *ids = NULL;
    lb_status st = map_labels(d, what, info->labels, info->num_labels, &ids, mapped, err);
    if (st) return st;
    size_t *lens = malloc(sizeof(size_t) * 2 * (d->n ? d->n : 1));
    if (!lens) {
        free(ids);
        return lb_err(err, LB_ERR_NOMEM, "%s: out of memory", what);
    }
    size_t *plens = lens + d->n;
    for (size_t i = 0; i < d->n; i++) {
        lens[i] = strlen(d->texts[i]);
        if (d->text_pairs) plens[i] = strlen(d->text_pairs[i]);
    }
    st = lb_tokset_build_pairs(ts, tok, (const char *const *)d->texts, lens, (const char *const *)d->text_pairs, plens,
                               ids, (int64_t)d->n, info->num_labels, o->max_length, !o->truncate_right, what, err);
    free(lens);
    free(ids);
    return st;
}

static void announce_labels(const lb_train_callbacks *cb, const lb_model_info *info) {
    if (!cb || !cb->on_log) return;
    char line[2048];
    size_t used = (size_t)snprintf(line, sizeof line, "labels:");
    for (int i = 0; i < info->num_labels && used < sizeof line; i++)
        used += (size_t)snprintf(line + used, sizeof line - used, " %d=%s", i, info->labels[i]);
    cb->on_log(cb->user, line);
}

void lb_train_run_close(lb_train_run *r) {
    if (!r) return;
    lb_trainer_close(r->t);
    lb_tokset_free(&r->train);
    lb_tokset_free(&r->eval);
    free(r->output_dir);
    free(r->resume_dir);
    free(r->base_model_name);
    free(r->tokenizer_dir);
    free(r->order_rows);
    free(r->order_offsets);
    free(r);
}

lb_status lb_train_run_open(lb_model *m, const lb_dataset *train, const lb_dataset *eval,
                            const lb_train_options *opts, const lb_train_callbacks *cb, lb_train_run **out,
                            lb_error *err) {
    *out = NULL;
    lb_train_options o;
    if (opts) o = *opts;
    else lb_train_options_init(&o);
    if (!m) return lb_err(err, LB_ERR_USAGE, "train: no model");
    if (o.no_eval) eval = NULL;
    lb_best_metric best = LB_BEST_LOSS;
    lb_status st = parse_best(o.metric_for_best_model, &best, err);
    if (st) return st;
    if (o.max_length < 0) return lb_err(err, LB_ERR_USAGE, "train: max_length %d is negative", o.max_length);
    if (!isfinite(o.learning_rate) || o.learning_rate < 0 || !isfinite(o.weight_decay) || o.weight_decay < 0 ||
        isnan(o.max_grad_norm) || o.warmup_steps < 0 || o.logging_steps < 1 || o.max_steps < 0)
        return lb_err(err, LB_ERR_USAGE, "train: learning_rate, weight_decay and warmup_steps must be finite and >= 0, "
                      "logging_steps >= 1, max_steps >= 0");
    if (o.logging_steps > INT32_MAX) o.logging_steps = INT32_MAX;   /* never reached: one log at most */
    lb_train_run *r = calloc(1, sizeof *r);
    if (!r) return lb_err(err, LB_ERR_NOMEM, "out of memory");
    r->m = m;
    r->threads = o.threads;
    int prev = lb_api_threads_push(o.threads);
    lb_model_info info;
    lb_model_get_info(m, &info);
    lb_tokenizer *tok = NULL;
    if ((st = dup_opt(o.output_dir, &r->output_dir, err)) || (st = dup_opt(o.resume_from_checkpoint, &r->resume_dir, err)) ||
        (st = dup_opt(o.base_model_name ? o.base_model_name : info.model_dir, &r->base_model_name, err)) ||
        (st = dup_opt(info.tokenizer_dir, &r->tokenizer_dir, err)))
        goto out;
    int64_t n_order = 0;
    if (o.batch_order_file) {
        int oe = 0;
        if ((st = lb_batch_order_load(o.batch_order_file, &r->order_rows, &r->order_offsets, &n_order, &oe, err)))
            goto out;
        if (oe && oe != o.num_train_epochs) {
            st = lb_err(err, LB_ERR_USAGE, "%s is for %d epochs, num_train_epochs is %d", o.batch_order_file, oe,
                        o.num_train_epochs);
            goto out;
        }
    }
    if (train) {
        if (!(tok = lb_tokenizer_load(info.tokenizer_dir, err))) {
            st = err ? err->code : LB_ERR_FORMAT;
            goto out;
        }
        bool mapped_train = false, mapped_eval = false;
        if ((st = tokenise(train, "training set", tok, &info, &o, &r->train, &mapped_train, err))) goto out;
        r->has_train = true;
        if (eval) {
            if ((st = tokenise(eval, "validation set", tok, &info, &o, &r->eval, &mapped_eval, err))) goto out;
            r->has_eval = true;
        }
        if (mapped_train || mapped_eval) announce_labels(cb, &info);
    } else if (eval) {
        st = lb_err(err, LB_ERR_USAGE, "train: a validation set needs a training set");
        goto out;
    }
    lb_train_opts to;
    lb_train_defaults(&to);
    to.epochs = o.num_train_epochs;
    to.batch_size = o.per_device_train_batch_size;
    to.eval_batch_size = o.per_device_eval_batch_size;
    to.lr = o.learning_rate;
    to.weight_decay = (float)o.weight_decay;
    to.warmup_steps = o.warmup_steps;
    to.max_grad_norm = o.max_grad_norm;
    to.seed = o.seed;
    to.logging_steps = (int)o.logging_steps;
    to.best = best;
    to.output_dir = r->output_dir;
    to.overwrite_output = o.overwrite_output_dir;
    to.base_model_name = r->base_model_name;
    to.tokenizer_dir = r->tokenizer_dir;
    to.label_names = (char **)info.labels;   /* read only; owned by the model */
    to.order_rows = r->order_rows;
    to.order_offsets = r->order_offsets;
    to.n_order_steps = n_order;
    to.resume_dir = r->resume_dir;
    to.max_steps = o.max_steps;
    st = lb_trainer_open(m, r->has_train ? &r->train : NULL, r->has_eval ? &r->eval : NULL, &to, cb, &r->t, err);
out:
    if (tok) lb_tokenizer_free(tok);
    lb_api_threads_restore(prev);
    if (st) {
        lb_train_run_close(r);
        return st;
    }
    *out = r;
    return LB_OK;
}

lb_status lb_train_step(lb_train_run *r, lb_step_info *info, bool *done, lb_error *err) {
    int prev = lb_api_threads_push(r->threads);
    lb_status st = lb_trainer_step(r->t, info, done, err);
    lb_api_threads_restore(prev);
    return st;
}

lb_status lb_train_step_batch(lb_train_run *r, const int32_t *ids, const int32_t *lengths, const int32_t *type_ids,
                              int B, int T, const int32_t *labels, lb_step_info *info, lb_error *err) {
    if (B < 1 || T < 1) return lb_err(err, LB_ERR_USAGE, "train: batch of %d x %d tokens: B and T must be >= 1", B, T);
    lb_batch batch = {.B = B, .T = T, .ids = ids, .lengths = lengths, .token_type_ids = type_ids};
    int prev = lb_api_threads_push(r->threads);
    lb_status st = lb_trainer_step_batch(r->t, &batch, labels, info, err);
    lb_api_threads_restore(prev);
    return st;
}

lb_status lb_train_run_all(lb_train_run *r, lb_train_result *res, lb_error *err) {
    int prev = lb_api_threads_push(r->threads);
    lb_train_result tmp;
    lb_status st = lb_trainer_run(r->t, &tmp, err);
    lb_api_threads_restore(prev);
    if (!st && res) *res = tmp;
    return st;
}
