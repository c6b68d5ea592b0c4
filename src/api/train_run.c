/* The public training run (include/lorabert.h "Training"): datasets -> label ids -> tokenised
 * sets -> the trainer's step (train/trainer.h).
 *
 *   labels      the data layer's one rule (data/labels.h) with the model's classes as the known
 *               names: label names map onto them exactly (an unknown one is LB_ERR_FORMAT
 *               naming file, row and value), announced through on_log as "labels: 0=neg 1=pos";
 *               class ids are used as they are (below the model's class count)
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
#include "base/strlist.h"
#include "data/dataset.h"
#include "data/labels.h"
#include "model/model.h"
#include "text/tokenizer.h"
#include "train/optim.h"
#include "train/resume.h"
#include "train/run_files.h"
#include "train/trainer.h"

/* An output folder taken before its run (lb_train_output_open): the run's lb_run_output and the
 * options it was taken with, which the run must repeat. */
struct lb_train_output {
    lb_run_output out;
    char *output_dir, *resume_dir; /* copies */
    bool overwrite;
    bool used; /* a run took it: one run per output */
};

struct lb_train_run {
    lb_model *m;
    bool holds_model; /* this run set the model's in_run (cleared on close) */
    lb_trainer *t;
    lb_tokset train, eval;
    bool has_train, has_eval;
    char *output_dir, *resume_dir, *base_model_name, *tokenizer_dir, *logging_dir; /* copies */
    int32_t *order_rows, *order_offsets;
    int threads;
    float class_weights[LB_MAX_LABELS]; /* parsed lb_train_options.class_weights */
};

/* "no" | "steps" | "epoch" into an lb_strategy; false (err set) for another name. */
static bool parse_strategy(const char *name, const char *what, int *out, lb_error *err) {
    static const char *const names[] = {"no", "steps", "epoch"};
    for (int i = 0; i < 3; i++)
        if (!strcmp(name, names[i])) {
            *out = i;
            return true;
        }
    lb_err(err, LB_ERR_USAGE, "train: %s '%s': expected no, steps or epoch", what, name);
    return false;
}

void lb_train_options_init(lb_train_options *o) {
    if (!o) return;
    /* the recipe's values live once, in the trainer's defaults */
    lb_train_opts d;
    lb_train_defaults(&d);
    memset(o, 0, sizeof *o);
    o->num_train_epochs = d.epochs;
    o->per_device_train_batch_size = d.batch_size;
    o->per_device_eval_batch_size = d.eval_batch_size;
    o->learning_rate = d.lr;
    o->weight_decay = 0.01; /* the decimal of d.weight_decay (a float there) */
    o->warmup_steps = d.warmup_steps;
    o->max_grad_norm = d.max_grad_norm;
    o->seed = d.seed;
    o->seed_set = true;
    o->logging_steps = d.logging_steps;
    o->metric_for_best_model = "loss";
    o->lr_scheduler_type = "linear";
    o->max_length = 512;
}

/* lb_train_options.class_weights "w0,w1,..." into w[num_labels]. */
static lb_status parse_class_weights(const char *spec, int num_labels, float *w, lb_error *err) {
    const char *p = spec;
    int n = 0;
    for (;;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        char tok[64];
        if (len == 0 || len >= sizeof tok)
            return lb_err(err, LB_ERR_USAGE, "class_weights '%s': weight %d is %s: expected a number > 0 or \"auto\"",
                          spec, n + 1, len ? "too long" : "empty");
        memcpy(tok, p, len);
        tok[len] = 0;
        char *end;
        double v = strtod(tok, &end);
        if (*end || !isfinite(v) || v <= 0)
            return lb_err(err, LB_ERR_USAGE, "class_weights '%s': weight %d '%s': expected a finite number > 0", spec,
                          n + 1, tok);
        if (n < num_labels) w[n] = (float)v;
        n++;
        if (!e) break;
        p = e + 1;
    }
    if (n != num_labels)
        return lb_err(err, LB_ERR_USAGE, "class_weights '%s': %d weight%s for a model of %d labels (one per label)",
                      spec, n, n == 1 ? "" : "s", num_labels);
    return LB_OK;
}

static lb_status parse_best(const char *name, lb_best_metric *b, lb_error *err) {
    static const char *const names[] = {"loss", "accuracy", "f1",      "precision", "recall",
                                        "mse",  "mae",      "pearson", "spearman"};
    if (!name) name = "loss";
    const char *n = strncmp(name, "eval_", 5) ? name : name + 5;
    for (int i = 0; i < (int)LB_BEST_COUNT; i++)
        if (!strcmp(n, names[i])) {
            *b = (lb_best_metric)i;
            return LB_OK;
        }
    return lb_err(err, LB_ERR_USAGE,
                  "metric_for_best_model '%s': expected loss, accuracy, f1, precision or recall (regression: mse, "
                  "mae, pearson or spearman)",
                  name);
}

static lb_status dup_opt(const char *s, char **out, lb_error *err) {
    *out = NULL;
    if (!s) return LB_OK;
    return (*out = strdup(s)) ? LB_OK : lb_err(err, LB_ERR_NOMEM, "out of memory");
}

/* The data layer's one label rule (data/labels.h) with the model's classes as the known names:
 * label names map onto them exactly, class ids are used as they are. *named: the labels were
 * names (announced to the caller). */
static lb_status map_labels(lb_dataset *views, int nd, const lb_model_info *info, bool *named, lb_error *err) {
    lb_label_spec spec = {
        .names = info->labels, .n_names = info->num_labels, .policy = LB_LABELS_EXACT, .origin = "the model's labels"};
    char **names = NULL;
    int n = 0;
    lb_status st = lb_labels_map(views, nd, &spec, &names, &n, NULL, err);
    *named = names != NULL;
    lb_free_list(names);
    return st;
}

/* v (labels already mapped) tokenised for the model; `what` names it when it has no file. */
static lb_status tokenise(const lb_dataset *v, const char *what, const lb_tokenizer *tok, const lb_model_info *info,
                          const lb_train_options *o, lb_tokset *ts, lb_error *err) {
    if (v->n_sources > 0 && v->sources && v->sources[0]) what = v->sources[0];
    size_t *lens = malloc(sizeof(size_t) * 2 * (v->n ? v->n : 1));
    if (!lens) return lb_err(err, LB_ERR_NOMEM, "%s: out of memory", what);
    size_t *plens = lens + v->n;
    for (size_t i = 0; i < v->n; i++) {
        lens[i] = strlen(v->texts[i]);
        if (v->text_pairs) plens[i] = strlen(v->text_pairs[i]);
    }
    lb_status st =
        lb_tokset_build_pairs(ts, tok, (const char *const *)v->texts, lens, (const char *const *)v->text_pairs, plens,
                              v->labels, (int64_t)v->n, info->num_labels, o->max_length, !o->truncate_right, what, err);
    free(lens);
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

static bool same_str(const char *a, const char *b) { return a && b ? !strcmp(a, b) : a == b; }

void lb_train_output_close(lb_train_output *o) {
    if (!o) return;
    lb_run_output_close(&o->out);
    free(o->output_dir);
    free(o->resume_dir);
    free(o);
}

lb_status lb_train_resume_find(const char *path, char **dir, lb_error *err) {
    LB_API_NOT_NULL(dir);
    *dir = NULL;
    LB_API_NOT_NULL(path);
    if (!*path) return lb_err(err, LB_ERR_USAGE, "lb_train_resume_find: path is empty");
    return lb_resume_find(path, dir, err);
}

lb_status lb_train_output_open(const lb_train_options *opts, lb_train_output **out, lb_error *err) {
    LB_API_NOT_NULL(out);
    *out = NULL;
    if (!opts || !opts->output_dir || !*opts->output_dir)
        return lb_err(err, LB_ERR_USAGE, "train output: no output_dir to open");
    lb_train_output *o = calloc(1, sizeof *o);
    if (!o) return lb_err(err, LB_ERR_NOMEM, "out of memory");
    o->out.lock.fd = -1;
    o->overwrite = opts->overwrite_output_dir;
    lb_status st;
    if ((st = dup_opt(opts->output_dir, &o->output_dir, err)) ||
        (st = dup_opt(opts->resume_from_checkpoint, &o->resume_dir, err))) {
        lb_train_output_close(o);
        return st;
    }
    lb_train_opts to;
    lb_train_defaults(&to);
    to.output_dir = o->output_dir;
    to.resume_dir = o->resume_dir;
    to.overwrite_output = o->overwrite;
    if ((st = lb_run_output_open(&to, &o->out, err))) {
        lb_train_output_close(o);
        return st;
    }
    *out = o;
    return LB_OK;
}

void lb_train_run_close(lb_train_run *r) {
    if (!r) return;
    lb_trainer_close(r->t);
    if (r->holds_model) lb_model_set_in_run(r->m, false);
    lb_tokset_free(&r->train);
    lb_tokset_free(&r->eval);
    free(r->output_dir);
    free(r->resume_dir);
    free(r->base_model_name);
    free(r->tokenizer_dir);
    free(r->logging_dir);
    free(r->order_rows);
    free(r->order_offsets);
    free(r);
}

lb_status lb_train_run_open(lb_model *m, const lb_dataset *train, const lb_dataset *eval, const lb_train_options *opts,
                            const lb_train_callbacks *cb, lb_train_run **out, lb_error *err) {
    LB_API_NOT_NULL(out);
    *out = NULL;
    lb_train_options o;
    if (opts) o = *opts;
    else lb_train_options_init(&o);
    if (!m) return lb_err(err, LB_ERR_USAGE, "train: no model");
    if (lb_model_in_run(m))
        return lb_err(err, LB_ERR_USAGE,
                      "train: the model is already being trained by an open run (one run per model at a time: "
                      "close it first)");
    if (o.no_eval) eval = NULL;
    const int problem = lb_model_get_config(m)->problem;
    lb_best_metric best = LB_BEST_LOSS;
    lb_status st = parse_best(o.metric_for_best_model, &best, err);
    if (st) return st;
    if (o.output &&
        (o.output->used || !same_str(o.output_dir, o.output->output_dir) ||
         !same_str(o.resume_from_checkpoint, o.output->resume_dir) || o.overwrite_output_dir != o.output->overwrite))
        return lb_err(err, LB_ERR_USAGE, "train: options.output %s: %s", o.output->output_dir,
                      o.output->used ? "already used by a run (one run per output)"
                                     : "taken with another output_dir, overwrite_output_dir or resume_from_checkpoint");
    if ((st = lb_api_threads_check(o.threads, "train", err))) return st;
    if (o.max_length < 0) return lb_err(err, LB_ERR_USAGE, "train: max_length %d is negative", o.max_length);
    if (!isfinite(o.learning_rate) || o.learning_rate < 0 || !isfinite(o.weight_decay) || o.weight_decay < 0 ||
        isnan(o.max_grad_norm) || o.warmup_steps < 0 || o.logging_steps < 1 || o.max_steps < 0)
        return lb_err(err, LB_ERR_USAGE,
                      "train: learning_rate, weight_decay and warmup_steps must be finite and >= 0, "
                      "logging_steps >= 1, max_steps >= 0");
    lb_lr_schedule sched = LB_SCHED_LINEAR;
    if (o.lr_scheduler_type && !lb_lr_schedule_parse(o.lr_scheduler_type, &sched))
        return lb_err(err, LB_ERR_USAGE,
                      "train: lr_scheduler_type '%s': expected linear, cosine, cosine_with_restarts, polynomial, "
                      "constant or constant_with_warmup",
                      o.lr_scheduler_type);
    if (o.greater_is_better < -1 || o.greater_is_better > 1)
        return lb_err(err, LB_ERR_USAGE, "train: greater_is_better %d: expected -1, 0 or 1", o.greater_is_better);
    bool tensorboard = o.report_to && !strcmp(o.report_to, "tensorboard");
    if (o.report_to && !tensorboard && strcmp(o.report_to, "none"))
        return lb_err(err, LB_ERR_USAGE, "train: report_to '%s': expected none or tensorboard", o.report_to);
    if (tensorboard && !o.output_dir && !o.logging_dir)
        return lb_err(err, LB_ERR_USAGE, "train: report_to tensorboard needs output_dir or logging_dir");
    if (!(o.loraplus_lr_ratio >= 0 && o.loraplus_lr_ratio <= 1e6))
        return lb_err(err, LB_ERR_USAGE, "train: loraplus_lr_ratio %g: expected 0 (off) or a ratio in (0, 1e6]",
                      o.loraplus_lr_ratio);
    if (!(o.warmup_ratio >= 0 && o.warmup_ratio <= 1))
        return lb_err(err, LB_ERR_USAGE, "train: warmup_ratio %g must lie in range [0,1]", o.warmup_ratio);
    if (!(o.label_smoothing_factor >= 0 && o.label_smoothing_factor < 1))
        return lb_err(err, LB_ERR_USAGE, "train: label_smoothing_factor %g: expected 0 <= factor < 1",
                      o.label_smoothing_factor);
    if (o.label_smoothing_factor > 0 && o.class_weights && *o.class_weights)
        return lb_err(err, LB_ERR_UNSUPPORTED,
                      "train: class weights and label smoothing together are not supported (choose one)");
    if (o.logging_steps > INT32_MAX) o.logging_steps = INT32_MAX; /* never reached: one log at most */
    int eval_strategy = o.no_eval ? LB_STRATEGY_NO : LB_STRATEGY_EPOCH, save_strategy = LB_STRATEGY_EPOCH;
    if ((o.eval_strategy && !parse_strategy(o.eval_strategy, "eval_strategy", &eval_strategy, err)) ||
        (o.save_strategy && !parse_strategy(o.save_strategy, "save_strategy", &save_strategy, err)))
        return LB_ERR_USAGE;
    if (o.no_eval && eval_strategy != LB_STRATEGY_NO)
        return lb_err(err, LB_ERR_USAGE, "train: no_eval with eval_strategy \"%s\": choose one", o.eval_strategy);
    if (eval_strategy == LB_STRATEGY_NO) eval = NULL;
    if (o.load_best_model_at_end < -1 || o.load_best_model_at_end > 1)
        return lb_err(err, LB_ERR_USAGE, "train: load_best_model_at_end %d: expected -1, 0 or 1",
                      o.load_best_model_at_end);
    lb_train_run *r = calloc(1, sizeof *r);
    if (!r) return lb_err(err, LB_ERR_NOMEM, "out of memory");
    r->m = m;
    r->threads = o.threads;
    int prev = lb_api_threads_push(o.threads);
    lb_model_info info;
    lb_model_get_info(m, &info);
    lb_tokenizer *tok = NULL;
    if ((st = dup_opt(o.output_dir, &r->output_dir, err)) ||
        (st = dup_opt(o.resume_from_checkpoint, &r->resume_dir, err)) ||
        (st = dup_opt(o.base_model_name ? o.base_model_name : info.model_dir, &r->base_model_name, err)) ||
        (st = dup_opt(info.tokenizer_dir, &r->tokenizer_dir, err)) ||
        (st = dup_opt(o.logging_dir, &r->logging_dir, err)))
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
        if (!(tok = lb_tokenizer_load_as(info.tokenizer_dir, info.model_type, err))) {
            st = err ? err->code : LB_ERR_FORMAT;
            goto out;
        }
        lb_dataset views[2];
        memset(views, 0, sizeof views);
        bool named = false;
        int nd = eval ? 2 : 1;
        if (!(st = lb_api_dataset_view(train, &views[0], err)) &&
            (!eval || !(st = lb_api_dataset_view(eval, &views[1], err))) &&
            (problem || !(st = map_labels(views, nd, &info, &named, err))) &&
            !(st = tokenise(&views[0], "training set", tok, &info, &o, &r->train, err))) {
            r->has_train = true;
            /* multi-label / regression: the sets' targets in the model's label order */
            const bool t_empty = train->target_list == LB_TARGET_LIST_NAMES && !train->n_targets;
            const bool e_empty = eval && eval->target_list == LB_TARGET_LIST_NAMES && !eval->n_targets;
            if (problem && eval && train->target_list != eval->target_list && !t_empty && !e_empty) {
                char wa[1200], wb[1200];
                lb_dataset_where(train, 0, wa, sizeof wa);
                lb_dataset_where(eval, 0, wb, sizeof wb);
                static const char *const kn[] = {"label columns", "lists of label names", "lists of class ids",
                                                 "multi-hot lists"};
                st = lb_err(err, LB_ERR_FORMAT,
                            "the training set (%s) holds %s, the validation set (%s) %s: both must hold one kind", wa,
                            kn[train->target_list], wb, kn[eval->target_list]);
                r->has_eval = false;
            } else if (problem && (st = lb_api_set_targets(train, problem, info.num_labels, info.labels, "training set",
                                                           &r->train, err)))
                r->has_eval = false;
            else if (eval && !(st = tokenise(&views[1], "validation set", tok, &info, &o, &r->eval, err))) {
                r->has_eval = true;
                if (problem)
                    st = lb_api_set_targets(eval, problem, info.num_labels, info.labels, "validation set", &r->eval,
                                            err);
            }
        }
        if (views[0].labels) lb_api_dataset_view_free(&views[0]);
        if (views[1].labels) lb_api_dataset_view_free(&views[1]);
        if (st) goto out;
        if (named) announce_labels(cb, &info);
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
    to.loraplus_lr_ratio = o.loraplus_lr_ratio;
    to.warmup_steps = o.warmup_steps;
    to.warmup_ratio = o.warmup_ratio;
    to.lr_schedule = (int)sched;
    to.tensorboard = tensorboard;
    to.greater_is_better = o.greater_is_better;
    to.early_stopping_patience = o.early_stopping_patience;
    to.early_stopping_threshold = o.early_stopping_threshold;
    to.save_total_limit = o.save_total_limit;
    to.eval_strategy = eval_strategy;
    to.save_strategy = save_strategy;
    to.eval_steps = o.eval_steps;
    to.save_steps = o.save_steps > 0 ? o.save_steps : 500;
    if (o.save_steps < 0 || isnan(o.save_steps)) to.save_steps = o.save_steps; /* the trainer refuses it */
    to.load_best = o.load_best_model_at_end >= 0;
    to.logging_dir = r->logging_dir;
    to.max_grad_norm = o.max_grad_norm;
    to.seed = o.seed || o.seed_set ? o.seed : 42;
    to.logging_steps = (int)o.logging_steps;
    to.best = best;
    to.output_dir = r->output_dir;
    to.overwrite_output = o.overwrite_output_dir;
    to.base_model_name = r->base_model_name;
    to.tokenizer_dir = r->tokenizer_dir;
    to.label_names = info.labels; /* owned by the model */
    to.order_rows = r->order_rows;
    to.order_offsets = r->order_offsets;
    to.n_order_steps = n_order;
    to.resume_dir = r->resume_dir;
    to.max_steps = o.max_steps;
    to.output = o.output ? &o.output->out : NULL;
    to.grad_accum = o.gradient_accumulation_steps;
    to.coll = o.collective;
    to.label_smoothing = o.label_smoothing_factor;
    to.problem = problem;
    to.threshold = o.threshold;
    if (o.class_weights && !strcmp(o.class_weights, "auto")) to.class_weights_auto = true;
    else if (o.class_weights && *o.class_weights) {
        if ((st = parse_class_weights(o.class_weights, info.num_labels, r->class_weights, err))) goto out;
        to.class_weights = r->class_weights;
    }
    st = lb_trainer_open(m, r->has_train ? &r->train : NULL, r->has_eval ? &r->eval : NULL, &to, cb, &r->t, err);
    if (!st && o.output) o.output->used = true;
    if (!st) {
        lb_model_set_in_run(m, true);
        r->holds_model = true;
    }
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
    LB_API_NOT_NULL(r);
    int prev = lb_api_threads_push(r->threads);
    lb_status st = lb_trainer_step(r->t, info, done, err);
    lb_api_threads_restore(prev);
    return st;
}

lb_status lb_train_step_batch(lb_train_run *r, const int32_t *ids, const int32_t *lengths, const int32_t *type_ids,
                              int B, int T, const int32_t *labels, lb_step_info *info, lb_error *err) {
    LB_API_NOT_NULL(r);
    if (B < 1 || T < 1) return lb_err(err, LB_ERR_USAGE, "train: batch of %d x %d tokens: B and T must be >= 1", B, T);
    lb_batch batch = {.B = B, .T = T, .ids = ids, .lengths = lengths, .token_type_ids = type_ids};
    int prev = lb_api_threads_push(r->threads);
    lb_status st = lb_trainer_step_batch(r->t, &batch, labels, info, err);
    lb_api_threads_restore(prev);
    return st;
}

lb_status lb_train_run_all(lb_train_run *r, lb_train_result *res, lb_error *err) {
    LB_API_NOT_NULL(r);
    int prev = lb_api_threads_push(r->threads);
    lb_train_result tmp;
    lb_status st = lb_trainer_run(r->t, &tmp, err);
    lb_api_threads_restore(prev);
    if (!st && res) *res = tmp;
    return st;
}
