/* The step and the loop of a training run; see trainer.h. */
#include "train/trainer.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "base/fileio.h"
#include "formats/pyjson.h"
#include "formats/tfevents.h"
#include "kernels/kernels.h"
#include "train/optim.h"
#include "train/resume.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* A process's part of a step's gather begins with this header: its cancel request, then per
 * micro-batch (loss, real tokens, B x T) as doubles; its K gradients follow. */
static size_t step_header_bytes(int K) { return sizeof(double) * (1 + 3 * (size_t)K); }

void lb_train_defaults(lb_train_opts *o) {
    memset(o, 0, sizeof *o);
    o->epochs = 10;
    o->batch_size = 4;
    o->eval_batch_size = 4;
    o->lr = 1e-3;
    o->weight_decay = 0.01f;
    o->warmup_steps = 0;
    o->max_grad_norm = 1.0;
    o->seed = 42;
    o->logging_steps = 500;
    o->best = LB_BEST_LOSS;
    o->eval_strategy = LB_STRATEGY_EPOCH;
    o->save_strategy = LB_STRATEGY_EPOCH;
    o->save_steps = 500;
    o->load_best = true;
}

struct lb_trainer {
    lb_model *m;
    const lb_tokset *train, *eval; /* train NULL: caller-given batches (lb_trainer_step_batch) */
    lb_train_opts o;
    lb_train_callbacks cb;
    const lb_model_config *mc;
    int L;
    lb_train_state s;
    lb_param *params;
    int np;
    lb_adamw opt;
    lb_collator bb;
    float *logits, *dlogits; /* [maxB * L] */
    int32_t *rows_buf;       /* [maxB] */
    int maxB;
    double nonemb;         /* parameters outside the embedding tables (HF total_flos) */
    lb_run_output own_out; /* when the caller did not open the output folder */
    lb_run_output *out;    /* NULL: nothing is written */
    double t_start;        /* now_s() - train_time at open */
    /* Rate and ETA count this process only (a resumed run's earlier part may have run on
     * another machine, or a busier one). */
    double sess_t0;
    int64_t sess_step0, sess_tokens;
    double sess_token_time;
    char *ckpt_dir; /* the checkpoint folder this step wrote, or NULL (for on_epoch / on_evaluate) */
    /* HF's intervals with ratios resolved (state.eval_steps / save_steps); 0: never */
    int64_t eval_every, save_every;
    /* A step's micro-batches: G = K per process x P processes. Global micro-batch j of a step is
     * computed by rank j % P; its gradient is summed in j order on every process. */
    int G, K, P, rank;
    int64_t warmup;       /* the schedule's warmup steps (HF get_warmup_steps) */
    lb_tfevents tb;       /* report_to tensorboard (rank 0); fd -1: off */
    bool greater;         /* metric_for_best_model: higher wins (HF greater_is_better) */
    bool stop_early;      /* early stopping asked the run to end after this evaluation */
    int64_t n_flat;       /* trainable floats (the gradient of one micro-batch) */
    float *acc;           /* [n_flat] P == 1 < G: running sum of the step's gradients */
    double *mb;           /* [3 G] per micro-batch j of a step: loss, real tokens, B x T */
    unsigned char *gsend; /* P > 1: this process's header + K gradients */
    unsigned char *grecv; /* P > 1: every process's, in rank order */
    size_t gbytes;        /* bytes of one process's part */
    bool coll_cancel;     /* P > 1: some process asked to stop after this step */
    bool done;
    lb_status stopped;               /* non-zero once a step failed or was interrupted */
    double train_loss;               /* HF train_loss, set when done */
    lb_loss_spec loss;               /* the training (and per-epoch eval) loss */
    float cw[LB_METRICS_MAX_LABELS]; /* class weights when loss.weights is set */
};

/* HF's eval_steps / save_steps: a ratio (< 1) of the run's steps, rounded up, or a step count. */
static int64_t resolve_steps(double v, int64_t total) {
    if (v <= 0) return 0;
    if (v < 1) return (int64_t)ceil((double)total * v);
    return (int64_t)v;
}

/* TrainingArguments.__post_init__'s checks of the strategies and load_best_model_at_end, with
 * HF's meaning (eval_steps unset is logging_steps there). Without evaluations (no validation
 * set, or evaluation turned off) load_best_model_at_end has nothing to load: no check. */
static lb_status check_strategies(const lb_train_opts *o, bool has_eval, lb_error *err) {
    static const char *const names[] = {"no", "steps", "epoch"};
    if (o->eval_strategy < LB_STRATEGY_NO || o->eval_strategy > LB_STRATEGY_EPOCH ||
        o->save_strategy < LB_STRATEGY_NO || o->save_strategy > LB_STRATEGY_EPOCH)
        return lb_err(err, LB_ERR_USAGE, "train: evaluation / save strategy %d / %d: expected one of lb_strategy",
                      o->eval_strategy, o->save_strategy);
    const struct {
        const char *name;
        double v;
    } steps[] = {{"eval_steps", o->eval_steps}, {"save_steps", o->save_steps}};
    for (int i = 0; i < 2; i++) {
        const double v = steps[i].v;
        if (!(isfinite(v) && v >= 0) || v > 1e15)
            return lb_err(err, LB_ERR_USAGE, "train: %s %g: expected a number of steps >= 1 or a ratio in (0, 1)",
                          steps[i].name, v);
        if (v > 1 && v != floor(v))
            return lb_err(err, LB_ERR_USAGE, "train: --%s must be an integer if bigger than 1: %g", steps[i].name, v);
    }
    const double ev = o->eval_steps > 0 ? o->eval_steps : (double)o->logging_steps;
    const int es = has_eval ? o->eval_strategy : LB_STRATEGY_NO;
    if (!o->load_best || es == LB_STRATEGY_NO) return LB_OK;
    if (es != o->save_strategy)
        return lb_err(err, LB_ERR_USAGE,
                      "train: load_best_model_at_end requires the save and eval strategy to match, but found "
                      "evaluation strategy %s and save strategy %s (or turn load_best_model_at_end off)",
                      names[es], names[o->save_strategy]);
    if (es == LB_STRATEGY_STEPS && fmod(o->save_steps, ev) != 0) {
        if ((ev < 1) != (o->save_steps < 1))
            return lb_err(err, LB_ERR_USAGE,
                          "train: load_best_model_at_end requires the saving steps to be a multiple of the "
                          "evaluation steps, which cannot get guaranteed when mixing ratio and absolute steps for "
                          "save_steps %g and eval_steps %g",
                          o->save_steps, ev);
        return lb_err(err, LB_ERR_USAGE,
                      "train: load_best_model_at_end requires the saving steps to be a round multiple of the "
                      "evaluation steps, but found %g, which is not a round multiple of %g",
                      o->save_steps, ev);
    }
    return LB_OK;
}

/* The shortest %g that reads back as v (0.1, not 0.10000000000000001). */
static void fmt_shortest(char *buf, size_t n, double v) {
    for (int p = 1; p <= 17; p++) {
        snprintf(buf, n, "%.*g", p, v);
        if (strtod(buf, NULL) == v) return;
    }
}

static void notice(const lb_trainer *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void notice(const lb_trainer *t, const char *fmt, ...) {
    if (!t->cb.on_log) return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    t->cb.on_log(t->cb.user, line);
}

static void fmt_count(char *buf, size_t n, int64_t v) {
    char tmp[32];
    snprintf(tmp, sizeof tmp, "%lld", (long long)v);
    size_t len = strlen(tmp), j = 0;
    for (size_t i = 0; i < len && j + 2 < n; i++) {
        buf[j++] = tmp[i];
        if ((len - i - 1) % 3 == 0 && i + 1 < len) buf[j++] = ',';
    }
    buf[j] = 0;
}

static double best_value(const lb_eval_result *e, lb_best_metric b) {
    switch (b) {
    case LB_BEST_ACCURACY: return e->metrics.accuracy;
    case LB_BEST_F1: return e->metrics.f1;
    case LB_BEST_PRECISION: return e->metrics.precision;
    case LB_BEST_RECALL: return e->metrics.recall;
    case LB_BEST_MSE: return e->mse;
    case LB_BEST_MAE: return e->mae;
    case LB_BEST_PEARSON: return e->pearson;
    case LB_BEST_SPEARMAN: return e->spearman;
    default: return e->loss;
    }
}

/* logits / dlogits / rows for batches of up to B rows. */
static lb_status reserve_batch(lb_trainer *t, int B, lb_error *err) {
    if (B <= t->maxB) return LB_OK;
    float *l = realloc(t->logits, sizeof(float) * (size_t)B * t->L);
    if (l) t->logits = l;
    float *d = realloc(t->dlogits, sizeof(float) * (size_t)B * t->L);
    if (d) t->dlogits = d;
    int32_t *r = realloc(t->rows_buf, sizeof(int32_t) * (size_t)B);
    if (r) t->rows_buf = r;
    if (!l || !d || !r) return lb_err(err, LB_ERR_NOMEM, "train: out of memory");
    t->maxB = B;
    return LB_OK;
}

static double unix_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* HF's TensorBoardCallback's SummaryWriter: logging_dir, by default
 * output_dir/runs/<Mon DD_HH-MM-SS>_<host> (a resumed run starts a new one, as HF does). */
static lb_status open_tensorboard(lb_trainer *t, lb_error *err) {
    const double now = unix_now();
    char *dir = NULL;
    if (t->o.logging_dir) {
        dir = strdup(t->o.logging_dir);
    } else if (t->out) {
        char leaf[400];
        lb_tfevents_run_name(leaf, sizeof leaf, now);
        char *runs = lb_path_join(t->out->work, "runs");
        dir = runs ? lb_path_join(runs, leaf) : NULL;
        free(runs);
    } else {
        return LB_OK; /* not the writing process */
    }
    if (!dir) return lb_err(err, LB_ERR_NOMEM, "out of memory");
    lb_status st = lb_tfevents_open(&t->tb, dir, now, err);
    free(dir);
    return st;
}

/* Appends h to log_history and, with report_to tensorboard, writes its scalars as HF's
 * TensorBoardCallback.on_log does: rewrite_logs names eval_X "eval/X" and every other key
 * "train/X" (epoch included), each at the global step. A training entry also gets
 * train/grad_norm (the norm before clipping of the logged step), which transformers >= 4.38
 * logs and 4.32 does not. */
static lb_status push_hist(lb_trainer *t, lb_hist_entry h, double grad_norm, lb_error *err) {
    if (lb_run_hist_push(&t->s, h)) return lb_err(err, LB_ERR_NOMEM, "out of memory");
    if (t->tb.fd < 0) return LB_OK;
    const char *tags[12];
    double vals[12];
    int n = 0;
#define TB(tag, v) (tags[n] = (tag), vals[n++] = (v))
    if (h.kind == LB_HIST_TRAIN) {
        TB("train/loss", h.v[1]);
        TB("train/grad_norm", grad_norm);
        TB("train/learning_rate", h.v[0]);
    } else if (h.kind == LB_HIST_EVAL) {
        const bool reg = t->o.problem == LB_PROBLEM_REGRESSION; /* v[1..4]: mse mae pearson spearman */
        TB("eval/loss", h.v[0]);
        TB(reg ? "eval/mse" : "eval/accuracy", h.v[1]);
        TB(reg ? "eval/mae" : "eval/f1", h.v[2]);
        TB(reg ? "eval/pearson" : "eval/precision", h.v[3]);
        TB(reg ? "eval/spearman" : "eval/recall", h.v[4]);
        TB("eval/runtime", h.v[5]);
        TB("eval/samples_per_second", h.v[6]);
        TB("eval/steps_per_second", h.v[7]);
    } else {
        TB("train/train_runtime", h.v[2]);
        TB("train/train_samples_per_second", h.v[3]);
        TB("train/train_steps_per_second", h.v[4]);
        TB("train/total_flos", h.v[0]);
        TB("train/train_loss", h.v[1]);
    }
    TB("train/epoch", h.epoch);
#undef TB
    const double now = unix_now();
    for (int i = 0; i < n; i++) {
        lb_status st = lb_tfevents_scalar(&t->tb, tags[i], vals[i], h.step, now, err);
        if (st) return st;
    }
    return LB_OK;
}

lb_status lb_trainer_open(lb_model *m, const lb_tokset *train, const lb_tokset *eval, const lb_train_opts *o,
                          const lb_train_callbacks *cb, lb_trainer **out, lb_error *err) {
    *out = NULL;
    lb_status st0;
    const lb_model_config *mc = lb_model_get_config(m);
    const int L = mc->num_labels;
    if (!lb_model_get_lora(m)) return lb_err(err, LB_ERR_USAGE, "train: the model has no adapter");
    if (lb_model_get_precision(m) == LB_PRECISION_INT8)
        return lb_err(err, LB_ERR_UNSUPPORTED,
                      "train: --precision int8 is for inference only (eval, predict, serve); train in fp32 or bf16");
    if (train) {
        if (train->n <= 0) return lb_err(err, LB_ERR_FORMAT, "train: empty training set");
        if (o->max_steps) return lb_err(err, LB_ERR_USAGE, "train: max_steps is for runs on caller-given batches");
    } else if (eval || o->output_dir || o->resume_dir || o->order_rows || o->max_steps < 1) {
        return lb_err(err, LB_ERR_USAGE,
                      "train: a run without a training set takes max_steps >= 1 and no "
                      "validation set, output folder, resume folder or batch order");
    }
    if (eval && eval->n <= 0) return lb_err(err, LB_ERR_FORMAT, "train: empty validation set");
    if (o->epochs < 1 || o->batch_size < 1 || o->eval_batch_size < 1 || o->logging_steps < 1)
        return lb_err(err, LB_ERR_USAGE, "train: epochs, batch sizes and logging steps must be >= 1");
    if (o->early_stopping_patience < 0 || o->save_total_limit < 0 || !isfinite(o->early_stopping_threshold))
        return lb_err(err, LB_ERR_USAGE,
                      "train: early_stopping_patience %d and save_total_limit %d must be >= 0, "
                      "early_stopping_threshold finite",
                      o->early_stopping_patience, o->save_total_limit);
    if ((st0 = check_strategies(o, eval != NULL, err))) return st0;
    /* EarlyStoppingCallback.on_train_begin's assertions (the metric always holds here) */
    if (o->early_stopping_patience > 0 && (!eval || o->eval_strategy == LB_STRATEGY_NO))
        return lb_err(err, LB_ERR_USAGE,
                      "train: early stopping needs evaluations (a validation set, evaluation not turned off)");
    if (o->early_stopping_patience > 0 && !o->load_best)
        return lb_err(err, LB_ERR_USAGE,
                      "train: early stopping requires load_best_model_at_end (HF's "
                      "EarlyStoppingCallback asserts it)");
    if (o->tensorboard && !o->logging_dir && !o->output_dir)
        return lb_err(err, LB_ERR_USAGE, "train: report_to tensorboard needs an output folder or a logging_dir");
    if (o->lr_schedule < 0 || o->lr_schedule >= LB_SCHED_COUNT)
        return lb_err(err, LB_ERR_USAGE, "train: learning-rate schedule %d is not one of lb_lr_schedule",
                      o->lr_schedule);
    /* TrainingArguments: "warmup_ratio must lie in range [0,1]" */
    if (!(o->warmup_ratio >= 0 && o->warmup_ratio <= 1) || o->warmup_steps < 0)
        return lb_err(err, LB_ERR_USAGE, "train: warmup_ratio %g must lie in range [0,1], warmup_steps %lld >= 0",
                      o->warmup_ratio, (long long)o->warmup_steps);
    /* get_polynomial_decay_schedule_with_warmup's ValueError */
    if (o->lr_schedule == LB_SCHED_POLYNOMIAL && !(o->lr > LB_POLY_LR_END))
        return lb_err(err, LB_ERR_USAGE,
                      "train: lr_end (%g) must be smaller than the initial learning rate (%g) of "
                      "the polynomial schedule",
                      LB_POLY_LR_END, o->lr);
    /* Each planned epoch has its row (losses, metrics, confusion matrix: ~34 KB) from the start,
     * in memory and in resume.json: the number is bounded, and said. */
    if (o->epochs > LB_TRAIN_MAX_EPOCHS)
        return lb_err(err, LB_ERR_UNSUPPORTED, "train: %d epochs, at most %d", o->epochs, LB_TRAIN_MAX_EPOCHS);
    if (L > LB_METRICS_MAX_LABELS) return lb_err(err, LB_ERR_UNSUPPORTED, "train: %d labels", L);
    if (!(o->label_smoothing >= 0 && o->label_smoothing < 1))
        return lb_err(err, LB_ERR_USAGE, "train: label_smoothing_factor %g: expected 0 <= factor < 1",
                      o->label_smoothing);
    const bool weighted = o->class_weights || o->class_weights_auto;
    if (o->problem < LB_PROBLEM_SINGLE_LABEL || o->problem > LB_PROBLEM_REGRESSION)
        return lb_err(err, LB_ERR_USAGE, "train: problem type %d is not one of lb_problem_type", o->problem);
    if (o->problem != LB_PROBLEM_SINGLE_LABEL) {
        const char *pn = lb_problem_type_name((lb_problem_type)o->problem);
        /* HF's LabelSmoother takes class ids (log-softmax gathered at the label); lorabert's class
         * weights are CrossEntropyLoss's */
        if (o->label_smoothing > 0)
            return lb_err(err, LB_ERR_UNSUPPORTED,
                          "train: label smoothing with problem_type %s: HF's LabelSmoother needs class ids "
                          "(single_label_classification)",
                          pn);
        if (weighted)
            return lb_err(err, LB_ERR_UNSUPPORTED,
                          "train: class weights with problem_type %s: they weight cross-entropy "
                          "(single_label_classification)",
                          pn);
        if (!train)
            return lb_err(err, LB_ERR_UNSUPPORTED,
                          "train: runs on caller-given batches take class ids (single_label_classification), "
                          "not problem_type %s",
                          pn);
        const lb_tokset *sets[2] = {train, eval};
        for (int i = 0; i < 2; i++)
            if (sets[i] && (!sets[i]->targets || sets[i]->n_targets != L))
                return lb_err(err, LB_ERR_USAGE,
                              "train: problem_type %s: the %s set has %d target values per example, expected %d "
                              "(the model's num_labels)",
                              pn, i ? "validation" : "training", sets[i]->targets ? sets[i]->n_targets : 0, L);
        /* resume.json keeps each epoch's metrics as a confusion matrix: single-label only */
        if (o->resume_dir)
            return lb_err(err, LB_ERR_UNSUPPORTED,
                          "train: resuming a problem_type %s run is not supported (the resume checkpoint keeps "
                          "single-label metrics); train again, or start from the last checkpoint-<step>/ with "
                          "--init-adapter",
                          pn);
        const bool reg_metric = o->best >= LB_BEST_MSE;
        if (o->best != LB_BEST_LOSS && reg_metric != (o->problem == LB_PROBLEM_REGRESSION))
            return lb_err(err, LB_ERR_USAGE, "train: metric_for_best_model %s is not a metric of problem_type %s",
                          lb_best_metric_name(o->best), pn);
        if (!(o->threshold >= 0 && o->threshold < 1))
            return lb_err(err, LB_ERR_USAGE, "train: threshold %g: expected 0 < threshold < 1", o->threshold);
    }
    if (o->problem == LB_PROBLEM_SINGLE_LABEL && o->best >= LB_BEST_MSE)
        return lb_err(err, LB_ERR_USAGE,
                      "train: metric_for_best_model %s is a regression metric; this model is a single-label "
                      "classifier",
                      lb_best_metric_name(o->best));
    if (weighted && o->label_smoothing > 0)
        return lb_err(err, LB_ERR_UNSUPPORTED,
                      "train: class weights and label smoothing together are not supported (choose one)");
    if (o->class_weights_auto && !train)
        return lb_err(err, LB_ERR_USAGE, "train: class weights \"auto\" need a training set to count labels in");
    float cw[LB_METRICS_MAX_LABELS];
    if (o->class_weights)
        for (int c = 0; c < L; c++) {
            if (!(isfinite(o->class_weights[c]) && o->class_weights[c] > 0))
                return lb_err(err, LB_ERR_USAGE, "train: class weight %d is %g: expected a finite number > 0", c,
                              o->class_weights[c]);
            cw[c] = o->class_weights[c];
        }
    else if (o->class_weights_auto) { /* sklearn's "balanced": n / (num_labels * count_c) */
        int64_t count[LB_METRICS_MAX_LABELS] = {0};
        for (int64_t i = 0; i < train->n; i++) count[train->labels[i]]++;
        for (int c = 0; c < L; c++) {
            if (!count[c])
                return lb_err(err, LB_ERR_USAGE,
                              "train: class weights \"auto\": label %d (%s) has no example in the training set "
                              "(%lld rows); give the weights explicitly",
                              c, o->label_names ? o->label_names[c] : "unnamed", (long long)train->n);
            cw[c] = (float)((double)train->n / ((double)L * (double)count[c]));
        }
    }
    const int K = o->grad_accum > 1 ? o->grad_accum : 1;
    const int P = o->coll && o->coll->size > 1 ? o->coll->size : 1;
    if (o->grad_accum < 0 || o->grad_accum > LB_TRAIN_MAX_ACCUM)
        return lb_err(err, LB_ERR_USAGE, "train: gradient_accumulation_steps %d: expected 1..%d", o->grad_accum,
                      LB_TRAIN_MAX_ACCUM);
    if (o->coll &&
        (o->coll->size < 1 || o->coll->rank < 0 || o->coll->rank >= o->coll->size || (P > 1 && !o->coll->allgather)))
        return lb_err(err, LB_ERR_USAGE,
                      "train: collective of size %d, rank %d: expected size >= 1, 0 <= rank < size "
                      "and an allgather",
                      o->coll->size, o->coll->rank);
    if ((int64_t)K * P > LB_TRAIN_MAX_ACCUM)
        return lb_err(err, LB_ERR_UNSUPPORTED,
                      "train: %d processes x %d accumulation steps: at most %d micro-batches "
                      "per step",
                      P, K, LB_TRAIN_MAX_ACCUM);
    const int G = K * P;
    /* pissa / olora: rank 0's decomposition is every rank's (LAPACK may differ between hosts) */
    lb_status sst = P > 1 ? lb_lora_rewrite_sync(m, o->coll, err) : LB_OK;
    if (sst) return sst;
    if (!train && G > 1)
        return lb_err(err, LB_ERR_USAGE,
                      "train: a run on caller-given batches takes one micro-batch per step (no accumulation or "
                      "collective)");
    int64_t steps_per_epoch, micro_per_epoch;
    if (!train) {
        steps_per_epoch = micro_per_epoch = o->max_steps;
    } else if (o->order_rows) {
        if (o->n_order_steps % o->epochs)
            return lb_err(err, LB_ERR_USAGE, "train: batch order has %lld batches, not a multiple of %d epochs",
                          (long long)o->n_order_steps, o->epochs);
        for (int64_t k = 0; k < o->order_offsets[o->n_order_steps]; k++)
            if (o->order_rows[k] < 0 || o->order_rows[k] >= train->n)
                return lb_err(err, LB_ERR_USAGE, "train: batch order names row %d; the training set has %lld rows",
                              o->order_rows[k], (long long)train->n);
        micro_per_epoch = o->n_order_steps / o->epochs;
    } else {
        micro_per_epoch = (train->n + o->batch_size - 1) / o->batch_size;
    }
    if (train) {
        /* HF 4.32.1 steps after every K-th micro-batch counted over the whole run, so an epoch
         * whose micro-batches do not fill whole steps carries its remainder into the next epoch
         * (and the run can end epochs early); lorabert keeps epochs whole and says so. */
        if (micro_per_epoch % G)
            return lb_err(err, LB_ERR_UNSUPPORTED,
                          "train: an epoch has %lld batches of %d rows, not a multiple of the %d batches of a step "
                          "(%d process%s x %d gradient accumulation steps); choose a batch size, accumulation or "
                          "process count whose step divides the epoch",
                          (long long)micro_per_epoch, o->batch_size, G, P, P > 1 ? "es" : "", K);
        steps_per_epoch = micro_per_epoch / G;
    }

    lb_trainer *t = calloc(1, sizeof *t);
    if (!t) return lb_err(err, LB_ERR_NOMEM, "train: out of memory");
    t->m = m;
    t->train = train;
    t->eval = eval;
    t->o = *o;
    if (!train) t->o.epochs = 1;
    if (cb) t->cb = *cb;
    t->mc = mc;
    t->L = L;
    t->K = K;
    t->P = P;
    t->G = G;
    t->rank = P > 1 ? o->coll->rank : 0;
    t->own_out.lock.fd = -1;
    t->tb.fd = -1;
    t->greater = o->greater_is_better ? o->greater_is_better > 0
                                      : o->best != LB_BEST_LOSS && o->best != LB_BEST_MSE && o->best != LB_BEST_MAE;
    t->loss.smoothing = (float)o->label_smoothing;
    t->loss.problem = o->problem;
    t->loss.threshold = o->threshold;
    if (weighted) {
        memcpy(t->cw, cw, sizeof(float) * (size_t)L);
        t->loss.weights = t->cw;
    }
    t->o.class_weights = NULL; /* copied into t->cw: the caller's array need not outlive the run */
    lb_train_state *s = &t->s;
    const lb_train_opts *to = &t->o;
    s->n_train = train ? train->n : 0;
    s->steps_per_epoch = steps_per_epoch;
    s->total_steps = s->steps_per_epoch * to->epochs;
    s->last_logged_loss = NAN;
    t->warmup = lb_warmup_steps(to->warmup_steps, to->warmup_ratio, s->total_steps);
    /* HF _inner_training_loop: ratios of max_steps rounded up; eval_steps unset is logging_steps
     * for the "steps" strategy (TrainingArguments.__post_init__), else None (the state's 500) */
    const double ev_steps = to->eval_steps > 0                       ? to->eval_steps
                            : to->eval_strategy == LB_STRATEGY_STEPS ? (double)to->logging_steps
                                                                     : 0;
    t->eval_every = resolve_steps(ev_steps, s->total_steps);
    t->save_every = resolve_steps(to->save_steps, s->total_steps);
    s->eval_steps = ev_steps > 0 ? t->eval_every : 500;
    s->save_steps = t->save_every;
    if (!eval || to->eval_strategy != LB_STRATEGY_STEPS) t->eval_every = 0;
    if (to->save_strategy != LB_STRATEGY_STEPS) t->save_every = 0;
    {
        static const char *const strat[] = {"no", "steps", "epoch"};
        char cws[1400] = "none", ls[32], est[32], w[32];
        size_t n = 0;
        for (int c = 0; t->loss.weights && c < L && n + 40 < sizeof cws; c++) {
            fmt_shortest(w, sizeof w, (double)t->cw[c]);
            n += (size_t)snprintf(cws + n, sizeof cws - n, "%s%s", c ? "," : "", w);
        }
        fmt_shortest(ls, sizeof ls, to->label_smoothing);
        fmt_shortest(est, sizeof est, to->early_stopping_threshold);
        snprintf(s->run_options, sizeof s->run_options,
                 "label_smoothing_factor=%s;class_weights=%s;eval_strategy=%s;eval_steps=%lld;save_strategy=%s;"
                 "save_steps=%lld;load_best_model_at_end=%s;metric_for_best_model=%s;greater_is_better=%s;"
                 "early_stopping_patience=%d;early_stopping_threshold=%s;save_total_limit=%d",
                 ls, cws, strat[eval ? to->eval_strategy : LB_STRATEGY_NO], (long long)t->eval_every,
                 strat[to->save_strategy], (long long)t->save_every, to->load_best ? "true" : "false",
                 lb_best_metric_name(to->best), t->greater ? "true" : "false", to->early_stopping_patience, est,
                 to->save_total_limit);
    }
    lb_rng_seed_stream(&s->shuffle_rng, to->seed, 1);
    lb_rng_seed_stream(&s->dropout_rng, to->seed, 2);

    t->np = lb_model_params(m, &t->params);
    int64_t ptotal = 0;
    for (int i = 0; i < t->np; i++) ptotal += t->params[i].numel;
    t->n_flat = ptotal;
    lb_adamw_config acfg;
    lb_adamw_defaults(&acfg);
    acfg.weight_decay = to->weight_decay;
    acfg.loraplus = to->loraplus_lr_ratio > 0;
    lb_status st = lb_adamw_init(&t->opt, t->params, t->np, &acfg, err);
    if (st) {
        free(t);
        return st;
    }
    int maxB = to->batch_size;
    if (to->order_rows)
        for (int64_t k = 0; k < to->n_order_steps; k++)
            if (to->order_offsets[k + 1] - to->order_offsets[k] > maxB)
                maxB = to->order_offsets[k + 1] - to->order_offsets[k];
    if ((st = reserve_batch(t, maxB, err))) goto fail;
    s->order = malloc(sizeof(int32_t) * (size_t)(s->n_train ? s->n_train : 1));
    s->rows = calloc((size_t)to->epochs, sizeof *s->rows);
    s->best_params = eval ? malloc(sizeof(float) * (size_t)(ptotal ? ptotal : 1)) : NULL;
    if (P == 1 && G > 1) t->acc = malloc(sizeof(float) * (size_t)(ptotal ? ptotal : 1));
    t->mb = malloc(sizeof(double) * 3 * (size_t)G);
    if (P > 1) {
        /* each process's part starts with doubles: a whole number of them, so that part r of the
         * gathered buffer stays aligned whatever the count of trainable floats (odd with a
         * one-output head) */
        t->gbytes = step_header_bytes(K) + sizeof(float) * (size_t)ptotal * (size_t)K;
        t->gbytes = (t->gbytes + sizeof(double) - 1) / sizeof(double) * sizeof(double);
        t->gsend = calloc(1, t->gbytes);
        t->grecv = malloc(t->gbytes * (size_t)P);
    }
    if (!s->order || !s->rows || !t->mb || (eval && !s->best_params) || (P == 1 && G > 1 && !t->acc) ||
        (P > 1 && (!t->gsend || !t->grecv))) {
        st = lb_err(err, LB_ERR_NOMEM, "train: out of memory");
        goto fail;
    }
    for (int e = 0; e < to->epochs; e++) s->rows[e].train_loss_logged = s->rows[e].train_loss_mean = NAN;
    /* Up front, before the output folder exists: a forward on a longer example would fail. */
    for (int k = 0; k < 2; k++) {
        const lb_tokset *ts = k ? eval : train;
        for (int64_t i = 0; ts && i < ts->n; i++)
            if (ts->offsets[i + 1] - ts->offsets[i] > mc->max_tokens) {
                st = lb_err(err, LB_ERR_USAGE,
                            "train: %s example %lld has %lld tokens, more than the model's %d "
                            "positions; lower --max-length",
                            k ? "eval" : "train", (long long)i, (long long)(ts->offsets[i + 1] - ts->offsets[i]),
                            mc->max_tokens);
                goto fail;
            }
    }
    if (to->output_dir && t->rank == 0) { /* rank 0 alone writes */
        if (to->output) t->out = to->output;
        else if (!(st = lb_run_output_open(to, &t->own_out, err))) t->out = &t->own_out;
        if (st || (st = lb_run_output_create(t->out, err))) goto fail;
    }
    if (to->resume_dir && (st = lb_resume_load(m, s, &t->opt, to, eval ? eval->n : 0, err))) goto fail;

    if (to->tensorboard && train && t->rank == 0 && (st = open_tensorboard(t, err))) goto fail;
    int64_t trainable, all;
    lb_model_param_counts(m, &trainable, &all);
    /* HF total_flos counts 6 * padded tokens * parameters outside embedding tables. */
    t->nonemb = (double)all - (double)mc->dim * ((double)mc->vocab_size + mc->max_pos + mc->type_vocab_size);
    char a[32], b[32];
    fmt_count(a, sizeof a, trainable);
    fmt_count(b, sizeof b, all);
    notice(t, "trainable params: %s || all params: %s || trainable%%: %.4f", a, b,
           all ? 100.0 * (double)trainable / (double)all : 0.0);
    if (to->resume_dir)
        notice(t, "resuming at step %lld of %lld (epoch %d)", (long long)s->global_step, (long long)s->total_steps,
               s->epoch + 1);
    /* HF's "Total train batch size (w. parallel, distributed & accumulation)" */
    if (train)
        notice(t,
               "%lld training examples, %d epochs, batch size %d, effective batch %lld (%d per process x %d "
               "process%s x %d gradient accumulation step%s), %lld steps",
               (long long)train->n, to->epochs, to->batch_size, (long long)to->batch_size * G, to->batch_size, P,
               P > 1 ? "es" : "", K, K > 1 ? "s" : "", (long long)s->total_steps);
    if (t->loss.weights) {
        char line[900];
        size_t n = 0;
        for (int c = 0; c < L && n + 40 < sizeof line; c++)
            n += (size_t)snprintf(line + n, sizeof line - n, "%s%.6g", c ? ", " : "", (double)t->cw[c]);
        notice(t, "class weights%s: [%s] (CrossEntropyLoss(weight=...))",
               to->class_weights_auto ? " (auto: n / (num_labels * count))" : "", line);
    }
    if (t->loss.smoothing > 0) notice(t, "label smoothing factor %g (HF LabelSmoother)", (double)t->loss.smoothing);
    t->t_start = now_s() - s->train_time;
    t->sess_t0 = now_s();
    t->sess_step0 = s->global_step;
    *out = t;
    return LB_OK;
fail:
    lb_trainer_close(t);
    return st;
}

void lb_trainer_close(lb_trainer *t) {
    if (!t) return;
    lb_tfevents_close(&t->tb);
    lb_run_output_close(&t->own_out);
    lb_adamw_free(&t->opt);
    lb_collator_free(&t->bb);
    free(t->logits);
    free(t->dlogits);
    free(t->rows_buf);
    free(t->s.order);
    free(t->s.rows);
    free(t->s.best_params);
    free(t->s.hist);
    free(t->ckpt_dir);
    free(t->acc);
    free(t->mb);
    free(t->gsend);
    free(t->grecv);
    free(t);
}

static bool cancel_local(const lb_trainer *t) { return t->cb.cancel && *t->cb.cancel; }

/* Every process of a run decides the same: a request seen by any of them at the step's gather. */
static bool cancel_requested(const lb_trainer *t) {
    return (t->P > 1 ? t->coll_cancel : cancel_local(t)) ||
           (t->o.stop_after_step && t->s.global_step == t->o.stop_after_step);
}

static lb_status refuse(const lb_trainer *t, lb_error *err) {
    if (t->done)
        return lb_err(err, LB_ERR_USAGE, "train: the run has finished (%lld steps)", (long long)t->s.global_step);
    return lb_err(err, LB_ERR_USAGE, "train: the run stopped at step %lld (%s); open a new one",
                  (long long)t->s.global_step, lb_status_name(t->stopped));
}

/* The stream of global micro-batch i's dropout masks when a step has several micro-batches (one
 * stream per micro-batch, so a mask depends on the micro-batch, never on which process runs it);
 * a step of one micro-batch draws from the run's dropout stream as always. */
#define LB_DROPOUT_STREAM0 (UINT64_C(1) << 40)

/* One micro-batch: zero grad, forward (train mode), loss, backward. A non-finite loss skips the
 * backward; the step fails once every process knows (lb_trainer_step). */
static lb_status micro_grad(lb_trainer *t, const lb_batch *batch, const int32_t *labels, const float *targets,
                            lb_rng *rng, float *loss, lb_error *err) {
    lb_model_zero_grad(t->m);
    lb_status st = lb_model_forward(t->m, batch, true, rng, t->logits, err);
    if (st) return st;
    *loss = lb_task_loss(t->logits, labels, targets, batch->B, t->L, &t->loss, t->dlogits);
    if (!isfinite(*loss)) return LB_OK;
    return lb_model_backward(t->m, t->dlogits, err);
}

/* The model's gradients copied into (add: added onto) dst [n_flat], in parameter order. */
static void grads_out(const lb_trainer *t, float *dst, bool add) {
    int64_t off = 0;
    for (int i = 0; i < t->np; i++) {
        const float *g = t->params[i].grad;
        const int64_t n = t->params[i].numel;
        if (add)
            for (int64_t k = 0; k < n; k++) dst[off + k] += g[k];
        else memcpy(dst + off, g, sizeof(float) * (size_t)n);
        off += n;
    }
}

/* src [n_flat] copied into (add: added onto) the model's gradients. */
static void grads_in(lb_trainer *t, const float *src, bool add) {
    int64_t off = 0;
    for (int i = 0; i < t->np; i++) {
        float *g = t->params[i].grad;
        const int64_t n = t->params[i].numel;
        if (add)
            for (int64_t k = 0; k < n; k++) g[k] += src[off + k];
        else memcpy(g, src + off, sizeof(float) * (size_t)n);
        off += n;
    }
}

static lb_status nonfinite_loss(const lb_trainer *t, double loss, lb_error *err) {
    /* a staged run is discarded: its output folder still holds the previous run */
    const lb_train_state *s = &t->s;
    const lb_run_output *out = t->out;
    int kept = (s->best_epoch || s->epoch > 0) && out && !out->staged;
    return lb_err(err, LB_ERR_NUMERIC, "train: non-finite loss (%g) at step %lld (epoch %d)%s%s%s", loss,
                  (long long)s->global_step + 1, s->epoch + 1, kept ? "; the last epoch checkpoint is kept in " : "",
                  kept ? t->o.output_dir : "",
                  out && out->staged ? "; the output folder still holds the previous run" : "");
}

/* With the step's gradient in the model: clip, AdamW, schedule, and the step's bookkeeping (loss
 * sums, HF's log entry, tokens, flos). loss: the step's loss (HF's tr_loss increment); real:
 * this process's real tokens; padded: every micro-batch's B x T summed. t0: when the step began. */
static lb_status finish_step(lb_trainer *t, float loss, int64_t real, double padded, double t0, lb_step_info *info,
                             lb_error *err) {
    lb_train_state *s = &t->s;
    const lb_train_opts *o = &t->o;
    double gnorm = lb_clip_grad_norm(t->params, t->np, o->max_grad_norm);
    if (!isfinite(gnorm))
        return lb_err(err, LB_ERR_NUMERIC, "train: non-finite gradient norm at step %lld (epoch %d)",
                      (long long)s->global_step + 1, s->epoch + 1);
    double lr = lb_schedule_lr((lb_lr_schedule)o->lr_schedule, o->lr, s->global_step, t->warmup, s->total_steps);
    /* LoRA+: the lora_B group starts at lr * ratio (a Python float product) under the same lambda */
    double lr_b = o->loraplus_lr_ratio > 0
                      ? lb_schedule_group_lr((lb_lr_schedule)o->lr_schedule, o->lr, o->lr * o->loraplus_lr_ratio,
                                             s->global_step, t->warmup, s->total_steps)
                      : lr;
    lb_adamw_step_groups(&t->opt, lr, lr_b);
    s->global_step++;
    double dt = now_s() - t0;
    s->tokens += real;
    s->token_time += dt;
    t->sess_tokens += real;
    t->sess_token_time += dt;
    s->total_flos += 6.0 * padded * t->nonemb;
    s->tr_loss += loss;
    s->epoch_loss_sum += loss;
    s->epoch_loss_steps++;
    if (o->step_losses) o->step_losses[s->global_step - 1] = loss;
    if (o->step_grad_norms) o->step_grad_norms[s->global_step - 1] = (float)gnorm;
    if (s->global_step % o->logging_steps == 0) {
        double logged = lb_run_round((double)s->tr_loss / (double)(s->global_step - s->last_logged), 4);
        s->total_loss += (double)s->tr_loss;
        s->tr_loss = 0;
        s->last_logged = s->global_step;
        s->last_logged_loss = logged;
        lb_hist_entry h = {
            .kind = LB_HIST_TRAIN,
            .step = s->global_step,
            .epoch = lb_run_round(s->epoch + (double)(s->step_in_epoch + 1) / s->steps_per_epoch, 2),
            .v = {lb_schedule_lr((lb_lr_schedule)o->lr_schedule, o->lr, s->global_step, t->warmup, s->total_steps),
                  logged}};
        lb_status st = push_hist(t, h, gnorm, err);
        if (st) return st;
    }
    s->step_in_epoch++;
    double spent = now_s() - t->sess_t0;
    lb_step_info in = {.step = s->global_step,
                       .total_steps = s->total_steps,
                       .epoch = s->epoch + 1,
                       .num_epochs = o->epochs,
                       .step_in_epoch = s->step_in_epoch,
                       .steps_per_epoch = s->steps_per_epoch,
                       .epoch_progress = s->epoch + (double)s->step_in_epoch / (double)s->steps_per_epoch,
                       .loss = loss,
                       .grad_norm = gnorm,
                       .learning_rate = lr,
                       .tokens = t->sess_tokens,
                       .elapsed_s = spent,
                       .tokens_per_s = t->sess_token_time > 0 ? (double)t->sess_tokens / t->sess_token_time : 0,
                       .eta_s = spent / (double)(s->global_step - t->sess_step0) *
                                (double)(s->total_steps - s->global_step)};
    if (info) *info = in;
    if (t->cb.on_step) t->cb.on_step(t->cb.user, &in);
    return LB_OK;
}

static void close_row(lb_trainer *t);

/* HF's _maybe_log_save_evaluate after the log: evaluate when ev, then checkpoint when sv, the
 * best tracked at a checkpoint whose evaluation ran in the same call (_save_checkpoint's
 * metrics). at_epoch_end: the epoch strategies' call after the epoch's last step (its evaluation
 * is the epoch row's); else the steps strategies' call after a step. *better: the checkpoint is
 * the new best. */
static lb_status eval_save(lb_trainer *t, bool ev, bool sv, bool at_epoch_end, bool *better, lb_error *err) {
    lb_train_state *s = &t->s;
    const lb_train_opts *o = &t->o;
    lb_status st;
    lb_eval_result res;
    *better = false;
    if (ev) {
        if ((st = lb_evaluate_loss(t->m, t->eval, o->eval_batch_size, o->coll, &t->loss, &res, NULL, err))) {
            if (st == LB_ERR_NUMERIC) {
                if (at_epoch_end) lb_err_prefix(err, "train: epoch %d", s->epoch + 1);
                else lb_err_prefix(err, "train: step %lld", (long long)s->global_step);
            }
            return st;
        }
        double rt = res.runtime_s;
        const bool reg = o->problem == LB_PROBLEM_REGRESSION; /* its history entry holds its metrics */
        int64_t n = t->eval->n;
        lb_hist_entry h = {.kind = LB_HIST_EVAL,
                           .step = s->global_step,
                           .epoch = lb_run_round(lb_run_epoch(s), 2),
                           .v = {res.loss, reg ? res.mse : res.metrics.accuracy, reg ? res.mae : res.metrics.f1,
                                 reg ? res.pearson : res.metrics.precision, reg ? res.spearman : res.metrics.recall,
                                 lb_run_round(rt, 4), lb_run_round(rt > 0 ? (double)n / rt : 0, 3),
                                 lb_run_round(rt > 0 ? ceil((double)n / o->eval_batch_size) / rt : 0, 3)}};
        if ((st = push_hist(t, h, 0, err))) return st;
        s->last_eval_step = s->global_step;
        s->last_eval = res;
        if (at_epoch_end) {
            lb_epoch_row *row = &s->rows[s->epoch];
            row->has_eval = 1;
            row->eval = res;
        }
        if (o->early_stopping_patience > 0) {
            /* EarlyStoppingCallback.check_metric_value (on_evaluate), against the best of the
             * checkpoints so far (state.best_metric) */
            double v = best_value(&res, o->best);
            bool improved = !s->best_epoch || ((t->greater ? v > s->best_metric : v < s->best_metric) &&
                                               fabs(v - s->best_metric) > o->early_stopping_threshold);
            s->es_counter = improved ? 0 : s->es_counter + 1;
            if (s->es_counter >= o->early_stopping_patience && s->global_step < s->total_steps) t->stop_early = true;
        }
    }
    if (sv) {
        if (ev) {
            double v = best_value(&res, o->best);
            *better = !s->best_epoch || (t->greater ? v > s->best_metric : v < s->best_metric);
            if (*better) {
                s->best_epoch = s->epoch + 1;
                s->best_step = s->global_step;
                s->best_metric = v;
                s->best_eval = res;
                int64_t off = 0;
                for (int i = 0; i < t->np; i++) {
                    memcpy(s->best_params + off, t->params[i].data, sizeof(float) * (size_t)t->params[i].numel);
                    off += t->params[i].numel;
                }
            }
        }
        s->train_time = now_s() - t->t_start;
        if (t->out) {
            /* The checkpoint carries the resume state as the run stands at this step's boundary
             * (what OUTPUT/resume would hold after it): at an epoch's last step that is after
             * the epoch's end (its row closed, the next epoch's start; like HF, an epoch-end
             * evaluation that follows a steps checkpoint is not part of it). The run's last
             * step, an early stop and pissa / olora (whose checkpoints hold the converted
             * adapter) leave none. */
            const bool last = s->global_step == s->total_steps || t->stop_early;
            lb_train_state at = *s;
            if (s->step_in_epoch == s->steps_per_epoch) {
                if (!at_epoch_end) close_row(t); /* end_epoch's first act, the same values */
                at.epoch_loss_sum = 0;
                at.epoch_loss_steps = 0;
                at.step_in_epoch = 0;
                at.order_valid = 0;
                at.epoch++;
            }
            const bool state = !last && !lb_model_lora_converted_on_save(t->m);
            if ((st = lb_resume_save_checkpoint(t->m, s, state ? &at : NULL, &t->opt, o, t->out->work, err))) return st;
            if (o->save_total_limit > 0 &&
                (st = lb_run_rotate_checkpoints(s, o->save_total_limit, false, t->out->work, err)))
                return st;
            char name[64];
            snprintf(name, sizeof name, "checkpoint-%lld", (long long)s->global_step);
            free(t->ckpt_dir);
            if (!(t->ckpt_dir = lb_path_join(t->out->work, name))) return lb_err(err, LB_ERR_NOMEM, "out of memory");
        }
    }
    if (ev && !at_epoch_end && t->cb.on_evaluate) {
        lb_epoch_info e = {.epoch = s->epoch + 1,
                           .num_epochs = o->epochs,
                           .step = s->global_step,
                           .train_loss = NAN,
                           .logged_loss = s->last_logged_loss,
                           .evaluated = true,
                           .eval = res,
                           .is_best = *better,
                           .checkpoint_dir = sv ? t->ckpt_dir : NULL,
                           .epoch_progress = lb_run_epoch(s)};
        t->cb.on_evaluate(t->cb.user, &e);
    }
    return LB_OK;
}

/* The epoch's row (its losses) when the run ends in the middle of it (early stopping). */
static void close_row(lb_trainer *t) {
    lb_train_state *s = &t->s;
    lb_epoch_row *row = &s->rows[s->epoch];
    row->train_loss_logged = s->last_logged_loss;
    row->train_loss_mean = s->epoch_loss_steps ? s->epoch_loss_sum / (double)s->epoch_loss_steps : NAN;
}

/* End of epoch s->epoch: its row, the epoch strategies' evaluation and checkpoint (best
 * tracking), report; then the next epoch. */
static lb_status end_epoch(lb_trainer *t, lb_error *err) {
    lb_train_state *s = &t->s;
    const lb_train_opts *o = &t->o;
    close_row(t);
    lb_epoch_row *row = &s->rows[s->epoch];
    s->epoch_loss_sum = 0;
    s->epoch_loss_steps = 0;
    bool better = false;
    const bool ev = t->eval && o->eval_strategy == LB_STRATEGY_EPOCH, sv = o->save_strategy == LB_STRATEGY_EPOCH;
    lb_status st = eval_save(t, ev, sv, true, &better, err);
    if (st) return st;
    if (t->cb.on_epoch) {
        lb_epoch_info e = {.epoch = s->epoch + 1,
                           .num_epochs = o->epochs,
                           .step = s->global_step,
                           .train_loss = row->train_loss_mean,
                           .logged_loss = row->train_loss_logged,
                           .evaluated = ev,
                           .eval = row->eval,
                           .is_best = better,
                           .checkpoint_dir = t->ckpt_dir,
                           .epoch_progress = s->epoch + 1.0};
        t->cb.on_epoch(t->cb.user, &e);
    }
    s->step_in_epoch = 0;
    s->order_valid = 0;
    s->epoch++;
    /* A data-parallel run keeps OUTPUT/resume current at every epoch end: a lost process (a
     * machine, a kill -9) costs at most an epoch, and --resume continues from there with the
     * same or another process count. The last epoch's result replaces it. */
    if (t->out && t->P > 1 && s->epoch < o->epochs && (st = lb_resume_write(t->m, s, &t->opt, o, t->out->work, err)))
        return st;
    return LB_OK;
}

/* A cancel request between steps: the resume checkpoint, then LB_ERR_INTERRUPTED. */
static lb_status interrupt(lb_trainer *t, lb_error *err) {
    lb_train_state *s = &t->s;
    s->train_time = now_s() - t->t_start;
    if (!t->out && t->rank > 0) /* every process stops here; rank 0 writes the checkpoint */
        return lb_err(err, LB_ERR_INTERRUPTED,
                      "train: interrupted after step %lld of %lld (rank 0 writes the resume "
                      "checkpoint)",
                      (long long)s->global_step, (long long)s->total_steps);
    if (!t->out)
        return lb_err(err, LB_ERR_INTERRUPTED, "train: interrupted at step %lld (no output folder to checkpoint to)",
                      (long long)s->global_step);
    lb_status st = lb_resume_write(t->m, s, &t->opt, &t->o, t->out->work, err);
    if (st) return st;
    if (t->out->staged && (st = lb_run_publish(t->out, &t->out->run, err))) return st;
    char *dir = lb_path_join(t->o.output_dir, "resume");
    st = lb_err(err, LB_ERR_INTERRUPTED, "train: interrupted after step %lld of %lld; resume with --resume %s",
                (long long)s->global_step, (long long)s->total_steps, dir ? dir : t->o.output_dir);
    free(dir);
    return st;
}

/* After the last step: HF's final log entry, the best epoch's adapter, the output folder. */
static lb_status finish(lb_trainer *t, lb_error *err) {
    lb_train_state *s = &t->s;
    const lb_train_opts *o = &t->o;
    s->train_time = now_s() - t->t_start;
    /* HF: the remaining loss since the last log joins the total; train_loss = total / steps */
    s->total_loss += (double)s->tr_loss;
    s->tr_loss = 0;
    t->train_loss = s->total_loss / (double)s->global_step;
    lb_hist_entry fin = {.kind = LB_HIST_FINAL,
                         .step = s->global_step,
                         .epoch = lb_run_round(lb_run_epoch(s), 2), /* HF state.epoch: fewer when stopped early */
                         .v = {s->total_flos, t->train_loss, lb_run_round(s->train_time, 4),
                               lb_run_round((double)s->n_train * o->epochs / s->train_time, 3),
                               lb_run_round((double)s->total_steps / s->train_time, 3)}};
    lb_status hst = push_hist(t, fin, 0, err);
    lb_tfevents_close(&t->tb); /* the run's last scalars are in */
    if (hst) return hst;
    if (s->best_epoch && o->load_best) { /* load_best_model_at_end */
        int64_t off = 0;
        for (int i = 0; i < t->np; i++) {
            memcpy(t->params[i].data, s->best_params + off, sizeof(float) * (size_t)t->params[i].numel);
            off += t->params[i].numel;
        }
        if (o->save_strategy == LB_STRATEGY_EPOCH)
            notice(t, "best epoch: %d (%s %.6f); its adapter is the result", s->best_epoch,
                   lb_best_metric_name(o->best), s->best_metric);
        else
            notice(t, "best checkpoint: checkpoint-%lld (epoch %.2f, %s %.6f); its adapter is the result",
                   (long long)s->best_step, (double)s->best_step / (double)s->steps_per_epoch,
                   lb_best_metric_name(o->best), s->best_metric);
    }
    /* HF: with save_total_limit 1 the end keeps the best checkpoint alone */
    if (t->out && o->save_total_limit == 1 && s->best_epoch) {
        lb_status st = lb_run_rotate_checkpoints(s, 1, true, t->out->work, err);
        if (st) return st;
    }
    if (t->out) {
        lb_status st = lb_run_write_final(t->m, s, o, t->out, err);
        if (st) return st;
        notice(t, "adapter written to %s", o->output_dir);
    }
    return LB_OK;
}

lb_status lb_trainer_step(lb_trainer *t, lb_step_info *info, bool *done, lb_error *err) {
    if (done) *done = t->done;
    if (t->done || t->stopped) return refuse(t, err);
    if (!t->train)
        return lb_err(err, LB_ERR_USAGE, "train: this run has no training set; give it batches (lb_train_step_batch)");
    lb_train_state *s = &t->s;
    const lb_train_opts *o = &t->o;
    const lb_tokset *train = t->train;
    if (!o->order_rows && !s->order_valid) {
        for (int64_t i = 0; i < train->n; i++) s->order[i] = (int32_t)i;
        lb_rng_shuffle(&s->shuffle_rng, s->order, train->n);
        s->order_valid = 1;
    }
    double t0 = now_s();
    lb_status st = LB_OK;
    const int G = t->G, P = t->P;
    const int64_t m0 = s->step_in_epoch * G; /* the step's first micro-batch in the epoch */
    const int64_t g0 = s->global_step * G;   /* ... in the run */
    double *mb = t->mb;
    int64_t real_local = 0;
    for (int k = 0; k < t->K; k++) {
        const int64_t j = (int64_t)k * P + t->rank;
        const int32_t *rows;
        int B;
        if (o->order_rows) {
            int64_t e = s->epoch * s->steps_per_epoch * G + m0 + j;
            rows = o->order_rows + o->order_offsets[e];
            B = o->order_offsets[e + 1] - o->order_offsets[e];
        } else {
            int64_t first = (m0 + j) * o->batch_size;
            B = (int)(train->n - first < o->batch_size ? train->n - first : o->batch_size);
            memcpy(t->rows_buf, s->order + first, sizeof(int32_t) * B);
            rows = t->rows_buf;
        }
        lb_batch batch;
        int64_t real = lb_collate(&t->bb, train, rows, B, t->mc->pad_token_id, &batch);
        if (real < 0) {
            st = lb_err(err, LB_ERR_NOMEM, "train: out of memory for a batch");
            goto fail;
        }
        lb_rng own, *rng = &s->dropout_rng;
        if (G > 1) {
            lb_rng_seed_stream(&own, o->seed, LB_DROPOUT_STREAM0 + (uint64_t)(g0 + j));
            rng = &own;
        }
        float loss = 0;
        if ((st = micro_grad(t, &batch, t->bb.labels, t->bb.targets, rng, &loss, err))) goto fail;
        mb[3 * j] = loss;
        mb[3 * j + 1] = (double)real;
        mb[3 * j + 2] = (double)batch.B * batch.T;
        real_local += real;
        if (P > 1) grads_out(t, (float *)(void *)(t->gsend + step_header_bytes(t->K)) + (size_t)k * t->n_flat, false);
        else if (G > 1) grads_out(t, t->acc, k > 0);
    }
    if (P > 1) {
        double *hdr = (double *)(void *)t->gsend;
        hdr[0] = cancel_local(t) ? 1.0 : 0.0;
        for (int k = 0; k < t->K; k++)
            for (int f = 0; f < 3; f++) hdr[1 + 3 * k + f] = mb[3 * ((int64_t)k * P + t->rank) + f];
        if ((st = t->o.coll->allgather(t->o.coll->user, t->gsend, t->gbytes, t->grecv, err))) {
            lb_err_prefix(err, "train: step %lld: gathering gradients", (long long)s->global_step + 1);
            goto fail;
        }
        t->coll_cancel = false;
        for (int r = 0; r < P; r++)
            if (((const double *)(const void *)(t->grecv + (size_t)r * t->gbytes))[0] != 0) t->coll_cancel = true;
        /* the sum in global micro-batch order, the same on every process and for every P */
        for (int j = 0; j < G; j++) {
            const unsigned char *part = t->grecv + (size_t)(j % P) * t->gbytes;
            const int k = j / P;
            for (int f = 0; f < 3; f++) mb[3 * j + f] = ((const double *)(const void *)part)[1 + 3 * k + f];
            grads_in(t, (const float *)(const void *)(part + step_header_bytes(t->K)) + (size_t)k * t->n_flat, j > 0);
        }
    } else if (G > 1) {
        grads_in(t, t->acc, false);
    }
    double lsum = 0, padded = 0;
    for (int j = 0; j < G; j++) {
        if (!isfinite(mb[3 * j])) {
            st = nonfinite_loss(t, mb[3 * j], err);
            goto fail;
        }
        lsum += mb[3 * j];
        padded += mb[3 * j + 2];
    }
    if (G > 1) { /* HF: each micro-batch's loss / K, averaged over the processes */
        const float inv = 1.0f / (float)G;
        for (int i = 0; i < t->np; i++)
            for (int64_t k = 0; k < t->params[i].numel; k++) t->params[i].grad[k] *= inv;
    }
    const float step_loss = G > 1 ? (float)(lsum / G) : (float)mb[0];
    if ((st = finish_step(t, step_loss, real_local, padded, t0, info, err))) goto fail;
    const bool epoch_end = s->step_in_epoch == s->steps_per_epoch;
    bool last = s->global_step == s->total_steps;
    free(t->ckpt_dir);
    t->ckpt_dir = NULL;
    /* DefaultFlowCallback.on_step_end's evaluation and checkpoint ("steps") */
    const bool ev = t->eval_every > 0 && s->global_step % t->eval_every == 0,
               sv = t->save_every > 0 && s->global_step % t->save_every == 0;
    bool better;
    if ((ev || sv) && (st = eval_save(t, ev, sv, false, &better, err))) goto fail;
    /* then, at the epoch's end (or after a stop in its middle: HF leaves the step loop), on_epoch_end's */
    if (epoch_end && (st = end_epoch(t, err))) goto fail;
    if (t->stop_early) {
        if (!epoch_end) close_row(t);
        notice(t,
               "early stopping: %s did not improve by more than %g in %d evaluation%s; stopping after step %lld "
               "(epoch %.2f of %d)",
               lb_best_metric_name(o->best), o->early_stopping_threshold, o->early_stopping_patience,
               o->early_stopping_patience > 1 ? "s" : "", (long long)s->global_step, lb_run_epoch(s), o->epochs);
        last = true;
    }
    if (!last && cancel_requested(t)) {
        st = interrupt(t, err);
        goto fail;
    }
    if (last) {
        if ((st = finish(t, err))) goto fail;
        t->done = true;
    }
    if (done) *done = t->done;
    return LB_OK;
fail:
    t->stopped = st;
    return st;
}

lb_status lb_trainer_step_batch(lb_trainer *t, const lb_batch *batch, const int32_t *labels, lb_step_info *info,
                                lb_error *err) {
    if (t->done || t->stopped) return refuse(t, err);
    if (t->train)
        return lb_err(err, LB_ERR_USAGE,
                      "train: this run steps over its training set (lb_train_step); it takes no batches");
    lb_train_state *s = &t->s;
    if (s->global_step >= s->total_steps)
        return lb_err(err, LB_ERR_USAGE, "train: all %lld steps of the schedule (max_steps) are done",
                      (long long)s->total_steps);
    if (!batch || !labels || !batch->ids || !batch->lengths || batch->B < 1 || batch->T < 1)
        return lb_err(err, LB_ERR_USAGE, "train: empty batch (B and T must be >= 1, ids, lengths and labels given)");
    for (int b = 0; b < batch->B; b++)
        if (labels[b] < 0 || labels[b] >= t->L)
            return lb_err(err, LB_ERR_USAGE, "train: batch row %d: label %d is outside 0..%d", b, labels[b], t->L - 1);
    int64_t real = 0;
    for (int b = 0; b < batch->B; b++) real += batch->lengths[b];
    lb_status st = reserve_batch(t, batch->B, err);
    if (st) return st;
    double t0 = now_s();
    float loss = 0;
    st = micro_grad(t, batch, labels, NULL, &s->dropout_rng, &loss, err);
    if (!st && !isfinite(loss)) st = nonfinite_loss(t, loss, err);
    if (!st) st = finish_step(t, loss, real, (double)batch->B * batch->T, t0, info, err);
    s->train_time = now_s() - t->t_start;
    if (st) t->stopped = st;
    return st;
}

/* The run's figures so far (final once done). */
static void trainer_result(const lb_trainer *t, lb_train_result *res) {
    const lb_train_state *s = &t->s;
    memset(res, 0, sizeof *res);
    res->global_step = s->global_step;
    res->best_epoch = s->best_epoch;
    res->best_eval = s->best_eval;
    const lb_eval_result *ev = lb_run_result_eval(s, &t->o, &res->eval_step);
    if (ev) res->eval = *ev;
    res->train_loss = t->done          ? t->train_loss
                      : s->global_step ? (s->total_loss + (double)s->tr_loss) / (double)s->global_step
                                       : 0.0;
    res->runtime_s = s->train_time;
    res->tokens_per_s = s->token_time > 0 ? (double)s->tokens / s->token_time : 0;
}

lb_status lb_trainer_run(lb_trainer *t, lb_train_result *res, lb_error *err) {
    bool done = t->done;
    while (!done) {
        lb_status st = lb_trainer_step(t, NULL, &done, err);
        if (st) return st;
    }
    if (res) trainer_result(t, res);
    return LB_OK;
}

lb_status lb_batch_order_load(const char *path, int32_t **rows, int32_t **offsets, int64_t *n_steps, int *epochs,
                              lb_error *err) {
    char *text;
    size_t len;
    *rows = NULL;
    *offsets = NULL;
    lb_status st = lb_read_file_max(path, LB_MAX_JSON_BYTES, "JSON file", &text, &len, err);
    if (st) return st;
    cJSON *root = lb_json_parse(path, text, len, err);
    free(text);
    if (!root) return LB_ERR_FORMAT;
    const cJSON *steps = root ? cJSON_GetObjectItemCaseSensitive(root, "steps") : NULL;
    if (!cJSON_IsArray(steps) || cJSON_GetArraySize(steps) == 0) {
        cJSON_Delete(root);
        return lb_err(err, LB_ERR_FORMAT, "%s: expected an object with a non-empty \"steps\" list", path);
    }
    int64_t ns = cJSON_GetArraySize(steps), total = 0;
    const cJSON *s, *x;
    cJSON_ArrayForEach(s, steps) total += cJSON_GetArraySize(s);
    *rows = malloc(sizeof(int32_t) * (size_t)(total ? total : 1));
    *offsets = malloc(sizeof(int32_t) * (size_t)(ns + 1));
    if (!*rows || !*offsets) {
        st = lb_err(err, LB_ERR_NOMEM, "%s: out of memory", path);
        goto fail;
    }
    int64_t k = 0, i = 0;
    (*offsets)[0] = 0;
    cJSON_ArrayForEach(s, steps) {
        if (!cJSON_IsArray(s) || cJSON_GetArraySize(s) == 0) {
            st = lb_err(err, LB_ERR_FORMAT, "%s: step %lld is not a non-empty list of rows", path, (long long)i);
            goto fail;
        }
        cJSON_ArrayForEach(x, s) {
            if (!cJSON_IsNumber(x) || x->valuedouble < 0) {
                st = lb_err(err, LB_ERR_FORMAT, "%s: step %lld holds a bad row index", path, (long long)i);
                goto fail;
            }
            (*rows)[k++] = (int32_t)x->valuedouble;
        }
        (*offsets)[++i] = (int32_t)k;
    }
    *n_steps = ns;
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "epochs");
    *epochs = cJSON_IsNumber(e) ? e->valueint : 0;
    cJSON_Delete(root);
    return LB_OK;
fail:
    free(*rows);
    free(*offsets);
    *rows = NULL;
    *offsets = NULL;
    cJSON_Delete(root);
    return st;
}
