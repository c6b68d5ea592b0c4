/* The training loop, evaluation, checkpoints and training reports; see trainer.h.
 * HF semantics (transformers 4.32 Trainer): the scheduler steps after each optimizer step, the
 * logged loss is the float32 running sum since the last log divided by the steps, rounded to 4
 * decimals; eval_loss weights each batch's mean loss by its size; the best epoch is the lowest
 * eval_loss (strictly better replaces). */
#include "train/trainer.h"
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "base/digest.h"
#include "base/fileio.h"
#include "model/peft.h"
#include "formats/pyjson.h"
#include "formats/safetensors.h"
#include "kernels/kernels.h"
#include "train/optim.h"
#include "train/resume.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- tokenized datasets ---------------------------------------------------------------- */

lb_status lb_tokset_add(lb_tokset *ts, const int32_t *ids, int32_t len, int32_t label, lb_error *err) {
    return lb_tokset_add_pair(ts, ids, len, len, label, err);
}

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

void lb_tokset_free(lb_tokset *ts) {
    free(ts->ids);
    free(ts->offsets);
    free(ts->labels);
    free(ts->type_start);
    memset(ts, 0, sizeof *ts);
}

lb_status lb_tokset_build(lb_tokset *ts, const lb_tokenizer *tok, const char *const *texts, const size_t *lens,
                          const int32_t *labels, int64_t n, int num_labels, int max_length, bool truncate_left,
                          const char *what, lb_error *err) {
    return lb_tokset_build_pairs(ts, tok, texts, lens, NULL, NULL, labels, n, num_labels, max_length, truncate_left,
                                 what, err);
}

lb_status lb_tokset_build_pairs(lb_tokset *ts, const lb_tokenizer *tok, const char *const *texts, const size_t *lens,
                                const char *const *pairs, const size_t *pair_lens, const int32_t *labels, int64_t n,
                                int num_labels, int max_length, bool truncate_left, const char *what, lb_error *err) {
    memset(ts, 0, sizeof *ts);
    if (n <= 0) return lb_err(err, LB_ERR_FORMAT, "%s: empty dataset (no examples)", what);
    lb_tok_opts to = {.max_length = max_length, .truncate_left = truncate_left, .add_special_tokens = true,
                      .replace_invalid_utf8 = false};
    lb_encoding enc = {0};
    int32_t *tt = NULL;   /* [enc.cap] token types of the current pair */
    lb_status st = LB_OK;
    for (int64_t i = 0; i < n; i++) {
        if (labels[i] < 0 || labels[i] >= num_labels) {
            st = lb_err(err, LB_ERR_FORMAT, "%s: row %lld: label %d is outside 0..%d (the model has %d labels)",
                        what, (long long)i + 1, labels[i], num_labels - 1, num_labels);
            break;
        }
        st = pairs ? lb_tokenize_pair(tok, texts[i], lens[i], pairs[i], pair_lens[i], &to, &enc, &tt, err)
                   : lb_tokenize(tok, texts[i], lens[i], &to, &enc, err);
        if (st) {
            lb_err_prefix(err, "%s: row %lld", what, (long long)i + 1);
            break;
        }
        int32_t start = enc.n;   /* types are 0...0 1...1: keep where the 1s begin */
        if (pairs)
            for (int32_t k = 0; k < enc.n; k++)
                if (tt[k]) { start = k; break; }
        if ((st = lb_tokset_add_pair(ts, enc.ids, enc.n, start, labels[i], err))) break;
    }
    free(tt);
    lb_encoding_free(&enc);
    if (st) lb_tokset_free(ts);
    return st;
}

/* ---- batches ----------------------------------------------------------------------------- */

typedef struct batchbuf {
    int32_t *ids;        /* [B*T] */
    int32_t *types;      /* [B*T] token_type_ids (pair datasets only) */
    int32_t *lengths;    /* [B] */
    int32_t *labels;     /* [B] */
    int64_t cap_bt, cap_types;
    int cap_b;
} batchbuf;

static void batchbuf_free(batchbuf *bb) {
    free(bb->ids);
    free(bb->types);
    free(bb->lengths);
    free(bb->labels);
}

/* Right-pads rows[0..B) of ts to the longest (DataCollatorWithPadding). Returns real tokens, or
 * -1 on allocation failure. */
static int64_t make_batch(batchbuf *bb, const lb_tokset *ts, const int32_t *rows, int B, int32_t pad_id,
                          lb_batch *out) {
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
    for (int b = 0; b < B; b++) {
        const int32_t *src = ts->ids + ts->offsets[rows[b]];
        int len = (int)(ts->offsets[rows[b] + 1] - ts->offsets[rows[b]]);
        memcpy(bb->ids + (int64_t)b * T, src, sizeof(int32_t) * len);
        for (int t = len; t < T; t++) bb->ids[(int64_t)b * T + t] = pad_id;
        bb->lengths[b] = len;
        bb->labels[b] = ts->labels[rows[b]];
        if (ts->has_pairs) {   /* padding gets type 0, as DataCollatorWithPadding */
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

/* ---- evaluation -------------------------------------------------------------------------- */

lb_status lb_evaluate(lb_model *m, const lb_tokset *data, int batch_size, lb_eval_result *res, float *logits_out,
                      lb_error *err) {
    const lb_model_config *mc = lb_model_get_config(m);
    const int L = mc->num_labels;
    memset(res, 0, sizeof *res);
    if (data->n <= 0) return lb_err(err, LB_ERR_FORMAT, "evaluation: empty dataset");
    if (batch_size < 1) return lb_err(err, LB_ERR_USAGE, "evaluation: batch size %d < 1", batch_size);
    if (L > LB_METRICS_MAX_LABELS) return lb_err(err, LB_ERR_UNSUPPORTED, "evaluation: %d labels", L);
    double t0 = now_s();
    batchbuf bb = {0};
    float *logits = malloc(sizeof(float) * (size_t)batch_size * L);
    int32_t *rows = malloc(sizeof(int32_t) * (size_t)batch_size);
    lb_status st = LB_OK;
    if (!logits || !rows) { st = lb_err(err, LB_ERR_NOMEM, "evaluation: out of memory"); goto out; }
    double loss_sum = 0;
    int64_t confusion[LB_METRICS_MAX_LABELS * LB_METRICS_MAX_LABELS] = {0};
    for (int64_t s = 0; s < data->n; s += batch_size) {
        int B = (int)(data->n - s < batch_size ? data->n - s : batch_size);
        for (int b = 0; b < B; b++) rows[b] = (int32_t)(s + b);
        lb_batch batch;
        if (make_batch(&bb, data, rows, B, mc->pad_token_id, &batch) < 0) {
            st = lb_err(err, LB_ERR_NOMEM, "evaluation: out of memory for a batch");
            goto out;
        }
        if ((st = lb_model_forward(m, &batch, false, NULL, logits, err))) goto out;
        for (int64_t i = 0; i < (int64_t)B * L; i++)
            if (!isfinite(logits[i])) {
                st = lb_err(err, LB_ERR_NUMERIC, "evaluation: example %lld: non-finite logits (%g for label %d); the "
                            "model's weights or its computation overflow or hold NaN", (long long)(s + i / L),
                            logits[i], (int)(i % L));
                goto out;
            }
        float loss = lb_cross_entropy(logits, bb.labels, B, L, NULL);
        loss_sum += (double)loss * B;
        for (int b = 0; b < B; b++) {
            int pred = lb_argmax(logits + (int64_t)b * L, L);
            confusion[bb.labels[b] * L + pred]++;
        }
        if (logits_out) memcpy(logits_out + s * L, logits, sizeof(float) * (size_t)B * L);
    }
    res->loss = loss_sum / (double)data->n;
    if (!isfinite(res->loss)) {
        st = lb_err(err, LB_ERR_NUMERIC, "evaluation: non-finite eval loss (%g) from finite logits", res->loss);
        goto out;
    }
    st = lb_metrics_from_confusion(confusion, L, 0.0, &res->metrics, err);
    res->runtime_s = now_s() - t0;
out:
    batchbuf_free(&bb);
    free(logits);
    free(rows);
    return st;
}

/* ---- training state ---------------------------------------------------------------------- */

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
}

enum { H_TRAIN, H_EVAL, H_FINAL };
typedef struct hentry {
    int kind;
    double epoch;
    int64_t step;
    double v[8];   /* train: lr, loss; eval: loss acc f1 prec rec runtime sps stepsps; final: flos loss rt sps stepsps */
} hentry;

typedef struct epoch_row {   /* one row of the per-epoch table / plot */
    double train_loss_logged;   /* NaN: "No log" */
    double train_loss_mean;     /* mean step loss over the epoch (plot) */
    lb_eval_result eval;
    int has_eval;
} epoch_row;

typedef struct tstate {
    int64_t n_train, steps_per_epoch, total_steps;
    int64_t global_step;
    int epoch;                  /* 0-based epoch being run */
    int64_t step_in_epoch;      /* steps done in this epoch */
    int order_valid;            /* order[] holds this epoch's permutation */
    int32_t *order;             /* [n_train] */
    lb_rng shuffle_rng, dropout_rng;
    float tr_loss;              /* float32 running sum since the last log, as HF's tensor */
    double total_loss;          /* HF _total_loss_scalar */
    int64_t last_logged;
    double epoch_loss_sum;
    int64_t epoch_loss_steps;
    double last_logged_loss;    /* NaN until the first log */
    int best_epoch;
    int64_t best_step;
    double best_metric;
    lb_eval_result best_eval;
    float *best_params;         /* [Σ numel] */
    hentry *hist;
    int nhist, caphist;
    epoch_row *rows;            /* [epochs] */
    double total_flos;
    double train_time;          /* seconds in training steps + evals (HF train_runtime) */
    int64_t tokens;             /* real tokens trained on (for tokens/s) */
    double token_time;
} tstate;

static int push_hist(tstate *s, hentry e) {
    if (s->nhist == s->caphist) {
        int cap = s->caphist ? 2 * s->caphist : 64;
        hentry *h = realloc(s->hist, sizeof(hentry) * cap);
        if (!h) return -1;
        s->hist = h;
        s->caphist = cap;
    }
    s->hist[s->nhist++] = e;
    return 0;
}

static double round_to(double x, int digits) {
    double p = pow(10.0, digits);
    return round(x * p) / p;
}

static double best_value(const lb_eval_result *e, lb_best_metric b) {
    switch (b) {
    case LB_BEST_ACCURACY: return e->metrics.accuracy;
    case LB_BEST_F1: return e->metrics.f1;
    case LB_BEST_PRECISION: return e->metrics.precision;
    case LB_BEST_RECALL: return e->metrics.recall;
    default: return e->loss;
    }
}

static const char *best_name(lb_best_metric b) {
    static const char *names[] = {"eval_loss", "eval_accuracy", "eval_f1", "eval_precision", "eval_recall"};
    return names[b];
}

/* ---- files ------------------------------------------------------------------------------- */

static void put_key(FILE *f, int indent, const char *key, int *first) {
    fprintf(f, "%s\n%*s", *first ? "" : ",", indent, "");
    lb_pyjson_str(f, key);
    fputs(": ", f);
    *first = 0;
}
static void put_num(FILE *f, int indent, const char *key, double v, int *first) {
    put_key(f, indent, key, first);
    lb_pyjson_double(f, v);
}
static void put_int(FILE *f, int indent, const char *key, int64_t v, int *first) {
    put_key(f, indent, key, first);
    fprintf(f, "%lld", (long long)v);
}

static void write_hentry(FILE *f, const hentry *e) {
    int first = 1;
    fputs("    {", f);
    put_num(f, 6, "epoch", e->epoch, &first);
    if (e->kind == H_TRAIN) {
        put_num(f, 6, "learning_rate", e->v[0], &first);
        put_num(f, 6, "loss", e->v[1], &first);
    } else if (e->kind == H_EVAL) {
        put_num(f, 6, "eval_accuracy", e->v[1], &first);
        put_num(f, 6, "eval_f1", e->v[2], &first);
        put_num(f, 6, "eval_loss", e->v[0], &first);
        put_num(f, 6, "eval_precision", e->v[3], &first);
        put_num(f, 6, "eval_recall", e->v[4], &first);
        put_num(f, 6, "eval_runtime", e->v[5], &first);
        put_num(f, 6, "eval_samples_per_second", e->v[6], &first);
        put_num(f, 6, "eval_steps_per_second", e->v[7], &first);
    }
    put_int(f, 6, "step", e->step, &first);
    if (e->kind == H_FINAL) {
        put_num(f, 6, "total_flos", e->v[0], &first);
        put_num(f, 6, "train_loss", e->v[1], &first);
        put_num(f, 6, "train_runtime", e->v[2], &first);
        put_num(f, 6, "train_samples_per_second", e->v[3], &first);
        put_num(f, 6, "train_steps_per_second", e->v[4], &first);
    }
    fputs("\n    }", f);
}

/* trainer_state.json as TrainerState.save_to_json (indent 2, sorted keys). */
static lb_status write_trainer_state(const tstate *s, const lb_train_opts *o, const char *path, lb_error *err) {
    lb_atomic_file af;
    lb_status st = lb_atomic_open(&af, path, err);
    if (st) return st;
    FILE *f = af.fp;
    int first = 1;
    fputs("{", f);
    put_key(f, 2, "best_metric", &first);
    if (s->best_epoch) lb_pyjson_double(f, s->best_metric); else fputs("null", f);
    put_key(f, 2, "best_model_checkpoint", &first);
    if (s->best_epoch) {
        char name[64];
        snprintf(name, sizeof name, "checkpoint-%lld", (long long)s->best_step);
        char *p = lb_path_join(o->output_dir, name);
        lb_pyjson_str(f, p);
        free(p);
    } else fputs("null", f);
    put_num(f, 2, "epoch", s->steps_per_epoch ? (double)s->global_step / (double)s->steps_per_epoch : 0.0, &first);
    put_int(f, 2, "eval_steps", 500, &first);
    put_int(f, 2, "global_step", s->global_step, &first);
    put_key(f, 2, "is_hyper_param_search", &first); fputs("false", f);
    put_key(f, 2, "is_local_process_zero", &first); fputs("true", f);
    put_key(f, 2, "is_world_process_zero", &first); fputs("true", f);
    put_key(f, 2, "log_history", &first);
    fputs("[", f);
    for (int i = 0; i < s->nhist; i++) {
        fputs(i ? ",\n" : "\n", f);
        write_hentry(f, &s->hist[i]);
    }
    fputs(s->nhist ? "\n  ]" : "]", f);
    put_int(f, 2, "logging_steps", o->logging_steps, &first);
    put_int(f, 2, "max_steps", s->total_steps, &first);
    put_int(f, 2, "num_train_epochs", o->epochs, &first);
    put_int(f, 2, "save_steps", 500, &first);
    put_num(f, 2, "total_flos", s->total_flos, &first);
    put_key(f, 2, "trial_name", &first); fputs("null", f);
    put_key(f, 2, "trial_params", &first); fputs("null", f);
    fputs("\n}\n", f);
    if (ferror(f)) { lb_atomic_abort(&af); return lb_err(err, LB_ERR_IO, "%s: write failed", path); }
    return lb_atomic_commit(&af, err);
}

/* An adapter folder: PEFT files, tokenizer files, labels.json and (when given) trainer state. */
static lb_status save_adapter_dir(lb_model *m, const tstate *s, const lb_train_opts *o, const char *dir,
                                  lb_error *err) {
    lb_status st = lb_peft_save_folder(m, dir, o->base_model_name, o->tokenizer_dir, o->label_names, err);
    if (!st && s) {
        char *p = lb_path_join(dir, "trainer_state.json");
        st = write_trainer_state(s, o, p, err);
        free(p);
    }
    return st;
}

static void write_metric_fields(FILE *f, const lb_eval_result *e, int L) {
    fprintf(f, "  \"accuracy\": ");
    lb_pyjson_double(f, e->metrics.accuracy);
    fputs(",\n  \"confusion_matrix\": [", f);
    for (int i = 0; i < L; i++) {
        fprintf(f, "%s[", i ? ", " : "");
        for (int j = 0; j < L; j++) fprintf(f, "%s%lld", j ? ", " : "", (long long)e->metrics.confusion[i * L + j]);
        fputs("]", f);
    }
    fputs("],\n  \"f1\": ", f);
    lb_pyjson_double(f, e->metrics.f1);
    fputs(",\n  \"loss\": ", f);
    lb_pyjson_double(f, e->loss);
    fprintf(f, ",\n  \"n_examples\": %lld,\n  \"precision\": ", (long long)e->metrics.n);
    lb_pyjson_double(f, e->metrics.precision);
    fputs(",\n  \"recall\": ", f);
    lb_pyjson_double(f, e->metrics.recall);
}

static lb_status write_metrics_json(const tstate *s, const lb_train_opts *o, int L, const char *path, lb_error *err) {
    lb_atomic_file af;
    lb_status st = lb_atomic_open(&af, path, err);
    if (st) return st;
    FILE *f = af.fp;
    fputs("{\n", f);
    if (s->best_epoch) {
        write_metric_fields(f, &s->best_eval, L);
        fprintf(f, ",\n  \"best_epoch\": %d,\n  \"metric_for_best\": \"%s\",\n", s->best_epoch, best_name(o->best));
    }
    fprintf(f, "  \"global_step\": %lld,\n  \"train_loss\": ", (long long)s->global_step);
    lb_pyjson_double(f, s->global_step ? s->total_loss / (double)s->global_step : 0.0);
    fputs(",\n  \"train_runtime\": ", f);
    lb_pyjson_double(f, round_to(s->train_time, 4));
    fputs("\n}\n", f);
    if (ferror(f)) { lb_atomic_abort(&af); return lb_err(err, LB_ERR_IO, "%s: write failed", path); }
    return lb_atomic_commit(&af, err);
}

/* Training curves: loss (train mean, eval) on the left axis, metrics in [0,1] on the right. */
static lb_status write_svg(const tstate *s, int epochs_done, const char *path, lb_error *err) {
    lb_atomic_file af;
    lb_status st = lb_atomic_open(&af, path, err);
    if (st) return st;
    FILE *f = af.fp;
    const double W = 720, H = 420, x0 = 70, x1 = 560, y0 = 40, y1 = 360;
    double lmax = 1e-9;
    for (int e = 0; e < epochs_done; e++) {
        if (isfinite(s->rows[e].train_loss_mean)) lmax = fmax(lmax, s->rows[e].train_loss_mean);
        if (s->rows[e].has_eval && isfinite(s->rows[e].eval.loss)) lmax = fmax(lmax, s->rows[e].eval.loss);
    }
    lmax *= 1.1;
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" font-family=\"sans-serif\" "
               "font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n", W, H);
    fprintf(f, "<text x=\"%.0f\" y=\"22\" font-size=\"15\">lorabert training curves</text>\n", x0);
    fprintf(f, "<path d=\"M%.0f %.0fV%.0fH%.0fV%.0f\" fill=\"none\" stroke=\"#444\"/>\n", x0, y0, y1, x1, y0);
    for (int k = 0; k <= 4; k++) {
        double y = y1 - (y1 - y0) * k / 4;
        fprintf(f, "<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\">%.3g</text>\n", x0 - 6, y + 4, lmax * k / 4);
        fprintf(f, "<text x=\"%.0f\" y=\"%.1f\">%.2f</text>\n", x1 + 6, y + 4, k / 4.0);
        fprintf(f, "<path d=\"M%.0f %.1fH%.0f\" stroke=\"#ddd\"/>\n", x0, y, x1);
    }
    fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">epoch</text>\n", (x0 + x1) / 2, y1 + 36);
    fprintf(f, "<text x=\"20\" y=\"%.0f\" transform=\"rotate(-90 20 %.0f)\" text-anchor=\"middle\">loss</text>\n",
            (y0 + y1) / 2, (y0 + y1) / 2);
    for (int e = 0; e < epochs_done; e++) {
        double x = epochs_done > 1 ? x0 + (x1 - x0) * e / (epochs_done - 1) : (x0 + x1) / 2;
        fprintf(f, "<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\">%d</text>\n", x, y1 + 18, e + 1);
    }
    static const char *names[] = {"train loss", "eval loss", "accuracy", "f1"};
    static const char *colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd"};
    for (int c = 0; c < 4; c++) {
        int any = 0;
        for (int e = 0; e < epochs_done; e++) {
            const epoch_row *r = &s->rows[e];
            double v = c == 0 ? r->train_loss_mean : !r->has_eval ? NAN
                     : c == 1 ? r->eval.loss : c == 2 ? r->eval.metrics.accuracy : r->eval.metrics.f1;
            if (!isfinite(v)) continue;
            double x = epochs_done > 1 ? x0 + (x1 - x0) * e / (epochs_done - 1) : (x0 + x1) / 2;
            double y = c < 2 ? y1 - (y1 - y0) * v / lmax : y1 - (y1 - y0) * v;
            if (!any) fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", colors[c]);
            fprintf(f, "%s%.1f,%.1f", any ? " " : "", x, y);
            any = 1;
        }
        if (any) fputs("\"/>\n", f);
        fprintf(f, "<rect x=\"%.0f\" y=\"%.0f\" width=\"14\" height=\"4\" fill=\"%s\"/>"
                   "<text x=\"%.0f\" y=\"%.0f\">%s%s</text>\n",
                x1 + 50, y0 + 20.0 * c, colors[c], x1 + 70, y0 + 20.0 * c + 6, names[c], c < 2 ? " (left)" : " (right)");
    }
    fputs("</svg>\n", f);
    if (ferror(f)) { lb_atomic_abort(&af); return lb_err(err, LB_ERR_IO, "%s: write failed", path); }
    return lb_atomic_commit(&af, err);
}

/* ---- resumable checkpoints ----------------------------------------------------------------- */

static int64_t params_total(lb_param *p, int np) {
    int64_t t = 0;
    for (int i = 0; i < np; i++) t += p[i].numel;
    return t;
}

static void put_u64s(FILE *f, const char *key, const uint64_t *v, int n) {
    fprintf(f, "  \"%s\": [", key);
    for (int i = 0; i < n; i++) fprintf(f, "%s\"%llu\"", i ? ", " : "", (unsigned long long)v[i]);
    fputs("],\n", f);
}

/* "name": "sha256" for every regular file in dir but resume.json, in name order. */
static int cmp_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static lb_status put_file_digests(FILE *f, const char *dir, lb_error *err) {
    DIR *d = opendir(dir);
    if (!d) return lb_err(err, LB_ERR_IO, "%s: cannot list: %s", dir, strerror(errno));
    char *names[LB_RESUME_MAX_FILES];
    int n = 0;
    lb_status st = LB_OK;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' || !strcmp(de->d_name, "resume.json") || strstr(de->d_name, ".tmp")) continue;
        if (n == LB_RESUME_MAX_FILES) { st = lb_err(err, LB_ERR_INTERNAL, "%s: more than %d files", dir, n); break; }
        if (!(names[n] = strdup(de->d_name))) { st = lb_err(err, LB_ERR_NOMEM, "out of memory"); break; }
        n++;
    }
    closedir(d);
    if (!st) qsort(names, (size_t)n, sizeof names[0], cmp_names);
    for (int i = 0; !st && i < n; i++) {
        char *p = lb_path_join(dir, names[i]), hex[65];
        st = lb_sha256_file(p, hex, err);
        free(p);
        if (!st) fprintf(f, "%s\"%s\": \"%s\"", i ? ", " : "", names[i], hex);
    }
    for (int i = 0; i < n; i++) free(names[i]);
    return st;
}

/* work/resume: resume.json + optimizer.safetensors + best.safetensors + the adapter; written
 * into a staging folder that replaces work/resume in one rename only when complete. */
static lb_status write_resume(lb_model *m, const tstate *s, const lb_adamw *opt, const lb_train_opts *o,
                              const char *work, lb_error *err) {
    char *dir = lb_path_join(work, "resume");
    lb_staging sg = {0};
    lb_status st = dir ? lb_staging_begin(&sg, dir, err) : lb_err(err, LB_ERR_NOMEM, "out of memory");
    const char *tmp = sg.dir;
    const int L = lb_model_get_config(m)->num_labels;
    lb_param *params;
    int np = lb_model_params(m, &params);
    lb_st_out *outs = calloc((size_t)np * 2 + 1, sizeof *outs);
    char **names = calloc((size_t)np * 2 + 1, sizeof *names);
    char *p = NULL;
    if (!st && (!outs || !names)) st = lb_err(err, LB_ERR_NOMEM, "resume checkpoint: out of memory");
    if (st) goto out;
    /* One id for the checkpoint's files (in the tensor files' metadata and in resume.json),
     * and resume.json lists every other file's digest: a folder mixed from two checkpoints is
     * refused on resume. */
    char ckpt_id[33];
    if ((st = lb_random_hex(ckpt_id, 16, err))) goto out;
    const char *const id_meta[] = {"format", "pt", "lorabert_checkpoint_id", ckpt_id, NULL};
    if ((st = save_adapter_dir(m, NULL, o, tmp, err))) goto out;
    int64_t off = 0;
    for (int i = 0; i < np; i++) {
        for (int k = 0; k < 2; k++) {
            lb_st_out *t = &outs[2 * i + k];
            size_t len = strlen(params[i].name) + 16;
            names[2 * i + k] = malloc(len);
            if (!names[2 * i + k]) { st = lb_err(err, LB_ERR_NOMEM, "resume checkpoint: out of memory"); goto out; }
            snprintf(names[2 * i + k], len, "%s.%s", k ? "exp_avg_sq" : "exp_avg", params[i].name);
            t->name = names[2 * i + k];
            t->dtype = LB_DT_F32;
            t->ndim = 1;
            t->shape[0] = params[i].numel;
            t->data = (k ? opt->v : opt->m) + off;
        }
        off += params[i].numel;
    }
    p = lb_path_join(tmp, "optimizer.safetensors");
    if ((st = lb_st_write(p, outs, (size_t)np * 2, id_meta, err))) goto out;
    free(p);
    p = NULL;
    if (s->best_params) {
        lb_st_out b = {.name = "best", .dtype = LB_DT_F32, .ndim = 1, .shape = {off}, .data = s->best_params};
        p = lb_path_join(tmp, "best.safetensors");
        if ((st = lb_st_write(p, &b, 1, id_meta, err))) goto out;
        free(p);
        p = NULL;
    }
    p = lb_path_join(tmp, "resume.json");
    lb_atomic_file af;
    if ((st = lb_atomic_open(&af, p, err))) goto out;
    FILE *f = af.fp;
    fprintf(f, "{\n  \"format\": \"%s\",\n  \"checkpoint_id\": \"%s\",\n  \"files\": {", LB_RESUME_FORMAT, ckpt_id);
    if ((st = put_file_digests(f, tmp, err))) { lb_atomic_abort(&af); goto out; }
    fprintf(f, "},\n  \"n_train\": %lld,\n  \"epochs\": %d,\n  \"batch_size\": %d,\n"
               "  \"seed\": \"%llu\",\n  \"total_steps\": %lld,\n  \"global_step\": %lld,\n  \"epoch\": %d,\n"
               "  \"step_in_epoch\": %lld,\n  \"order_valid\": %d,\n  \"step_adam\": %lld,\n",
            (long long)s->n_train, o->epochs, o->batch_size, (unsigned long long)o->seed, (long long)s->total_steps,
            (long long)s->global_step, s->epoch, (long long)s->step_in_epoch, s->order_valid, (long long)opt->step);
    put_u64s(f, "shuffle_rng", s->shuffle_rng.s, 4);
    put_u64s(f, "dropout_rng", s->dropout_rng.s, 4);
    fprintf(f, "  \"tr_loss\": %.9g,\n  \"total_loss\": %.17g,\n  \"last_logged\": %lld,\n  \"epoch_loss_sum\": %.17g,\n"
               "  \"epoch_loss_steps\": %lld,\n  \"last_logged_loss\": %.17g,\n  \"best_epoch\": %d,\n  \"best_step\": %lld,\n"
               "  \"best_metric\": %.17g,\n  \"total_flos\": %.17g,\n  \"train_time\": %.17g,\n  \"tokens\": %lld,\n"
               "  \"token_time\": %.17g,\n  \"precision\": \"%s\",\n",
            (double)s->tr_loss, s->total_loss, (long long)s->last_logged, s->epoch_loss_sum,
            (long long)s->epoch_loss_steps, isnan(s->last_logged_loss) ? -1.0 : s->last_logged_loss, s->best_epoch,
            (long long)s->best_step, s->best_metric, s->total_flos, s->train_time, (long long)s->tokens,
            s->token_time, lb_precision_name(lb_model_get_precision(m)));
    const lb_eval_result *be = &s->best_eval;
    fprintf(f, "  \"best_eval\": [%.17g, %.17g], \"best_confusion\": [", be->loss, be->runtime_s);
    for (int k = 0; k < L * L; k++)
        fprintf(f, "%s%lld", k ? ", " : "", (long long)be->metrics.confusion[k]);
    fputs("],\n  \"order\": [", f);
    for (int64_t i = 0; s->order_valid && i < s->n_train; i++) fprintf(f, "%s%d", i ? "," : "", s->order[i]);
    fputs("],\n  \"rows\": [", f);
    for (int e = 0; e < o->epochs; e++) {
        const epoch_row *r = &s->rows[e];
        fprintf(f, "%s[%.17g, %.17g, %d, %.17g, %.17g", e ? ", " : "", isnan(r->train_loss_logged) ? -1.0 : r->train_loss_logged,
                isnan(r->train_loss_mean) ? -1.0 : r->train_loss_mean, r->has_eval, r->eval.loss, r->eval.runtime_s);
        for (int k = 0; k < L * L; k++) fprintf(f, ", %lld", (long long)r->eval.metrics.confusion[k]);
        fputs("]", f);
    }
    fputs("],\n  \"history\": [", f);
    for (int i = 0; i < s->nhist; i++) {
        const hentry *h = &s->hist[i];
        fprintf(f, "%s[%d, %.17g, %lld", i ? ", " : "", h->kind, h->epoch, (long long)h->step);
        for (int k = 0; k < 8; k++) fprintf(f, ", %.17g", h->v[k]);
        fputs("]", f);
    }
    fputs("]\n}\n", f);
    if (ferror(f)) { lb_atomic_abort(&af); st = lb_err(err, LB_ERR_IO, "%s: write failed", p); goto out; }
    if ((st = lb_atomic_commit(&af, err))) goto out;
    st = lb_staging_commit(&sg, err);   /* the complete folder replaces the old one at once */
out:
    lb_staging_abort(&sg);   /* nothing left to do after a commit */
    if (names)
        for (int i = 0; i < np * 2; i++) free(names[i]);
    free(names);
    free(outs);
    free(p);
    free(dir);
    return st;
}

/* A tensor file of the checkpoint: its digest is the one resume.json lists and its metadata
 * carries the checkpoint's id. */
static lb_status check_ckpt_file(const lb_resume *r, const char *dir, const char *name, bool tensors, lb_error *err) {
    const char *want = lb_resume_file_sha256(r, name);
    char *p = lb_path_join(dir, name), hex[65];
    lb_status st = LB_OK;
    if (!want) {
        st = lb_err(err, LB_ERR_FORMAT, "%s/resume.json: lists no digest for %s; the folder is not one checkpoint", dir, name);
    } else if (!(st = lb_sha256_file(p, hex, err)) && strcmp(hex, want)) {
        st = lb_err(err, LB_ERR_FORMAT, "%s: SHA-256 %.12s... differs from the %.12s... that resume.json (checkpoint %s) "
                    "lists: the folder mixes files of different checkpoints", p, hex, want, r->checkpoint_id);
    } else if (!st && tensors) {
        lb_st_file *sf = lb_st_open(p, err);
        if (!sf) st = err ? err->code : LB_ERR_FORMAT;
        else {
            const char *id = lb_st_metadata(sf, "lorabert_checkpoint_id");
            if (!id || strcmp(id, r->checkpoint_id))
                st = lb_err(err, LB_ERR_FORMAT, "%s: checkpoint id %s, resume.json says %s: the folder mixes files of "
                            "different checkpoints", p, id ? id : "(none)", r->checkpoint_id);
            lb_st_close(sf);
        }
    }
    free(p);
    return st;
}

static lb_status read_resume(lb_model *m, tstate *s, lb_adamw *opt, const lb_train_opts *o, int L, int64_t n_eval,
                             lb_error *err) {
    char *path = lb_path_join(o->resume_dir, "resume.json");
    char *text = NULL;
    size_t len;
    lb_st_file *sf = NULL;
    char *p2 = NULL;
    lb_resume r;
    memset(&r, 0, sizeof r);
    lb_status st = lb_read_file_max(path, LB_MAX_JSON_BYTES, "JSON file", &text, &len, err);
    if (st) goto out;
    lb_resume_dims d = {.n_train = s->n_train, .n_eval = n_eval, .epochs = o->epochs, .batch_size = o->batch_size,
                        .seed = o->seed, .steps_per_epoch = s->steps_per_epoch, .total_steps = s->total_steps,
                        .num_labels = L, .fixed_order = o->order_rows != NULL,
                        .precision = lb_precision_name(lb_model_get_precision(m))};
    if ((st = lb_resume_parse(text, len, path, &d, &r, err))) goto out;
    /* Every file is the one this resume.json was written with. */
    static const char *const plain[] = {"adapter_model.safetensors", "adapter_config.json"};
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++)
        if ((st = check_ckpt_file(&r, o->resume_dir, plain[i], false, err))) goto out;
    for (int i = 0; i < r.nfiles; i++) {
        bool tens = !strcmp(r.files[i].name, "optimizer.safetensors") || !strcmp(r.files[i].name, "best.safetensors");
        if ((st = check_ckpt_file(&r, o->resume_dir, r.files[i].name, tens, err))) goto out;
    }
    if (!lb_resume_file_sha256(&r, "optimizer.safetensors") || (r.best_epoch && !lb_resume_file_sha256(&r, "best.safetensors"))) {
        st = lb_err(err, LB_ERR_FORMAT, "%s: lists no optimizer.safetensors%s; the folder is not a whole checkpoint", path,
                    r.best_epoch ? " or best.safetensors" : "");
        goto out;
    }
    s->global_step = r.global_step;
    s->epoch = r.epoch;
    s->step_in_epoch = r.step_in_epoch;
    s->order_valid = r.order_valid && !o->order_rows;
    if (s->order_valid) memcpy(s->order, r.order, sizeof(int32_t) * (size_t)s->n_train);
    opt->step = r.step_adam;
    memcpy(s->shuffle_rng.s, r.shuffle_rng, sizeof r.shuffle_rng);
    memcpy(s->dropout_rng.s, r.dropout_rng, sizeof r.dropout_rng);
    s->tr_loss = (float)r.tr_loss;
    s->total_loss = r.total_loss;
    s->last_logged = r.last_logged;
    s->epoch_loss_sum = r.epoch_loss_sum;
    s->epoch_loss_steps = r.epoch_loss_steps;
    s->last_logged_loss = r.last_logged_loss;
    s->best_epoch = r.best_epoch;
    s->best_step = r.best_step;
    s->best_metric = r.best_metric;
    s->total_flos = r.total_flos;
    s->train_time = r.train_time;
    s->tokens = r.tokens;
    s->token_time = r.token_time;
    if (s->best_epoch) {
        s->best_eval.loss = r.best_eval.loss;
        s->best_eval.runtime_s = r.best_eval.runtime_s;
        lb_metrics_from_confusion(r.best_eval.confusion, L, 0.0, &s->best_eval.metrics, NULL);
    }
    for (int e = 0; e < o->epochs; e++) {
        epoch_row *er = &s->rows[e];
        const lb_resume_row *rr = &r.rows[e];
        er->train_loss_logged = rr->train_loss_logged;
        er->train_loss_mean = rr->train_loss_mean;
        er->has_eval = rr->has_eval;
        lb_metrics_from_confusion(rr->eval.confusion, L, 0.0, &er->eval.metrics, NULL);
        er->eval.loss = rr->eval.loss;
        er->eval.runtime_s = rr->eval.runtime_s;
    }
    for (int i = 0; i < r.nhist; i++) {
        hentry e = {.kind = r.hist[i].kind, .epoch = r.hist[i].epoch, .step = r.hist[i].step};
        memcpy(e.v, r.hist[i].v, sizeof e.v);
        if (push_hist(s, e)) { st = lb_err(err, LB_ERR_NOMEM, "out of memory"); goto out; }
    }
    /* optimizer moments and the best epoch's parameters */
    lb_param *params;
    int np = lb_model_params(m, &params);
    p2 = lb_path_join(o->resume_dir, "optimizer.safetensors");
    if (!(sf = lb_st_open(p2, err))) { st = err ? err->code : LB_ERR_IO; goto out; }
    int64_t off = 0;
    for (int i = 0; i < np; i++) {
        for (int k = 0; k < 2; k++) {
            char name[512];
            snprintf(name, sizeof name, "%s.%s", k ? "exp_avg_sq" : "exp_avg", params[i].name);
            const lb_st_tensor *t = lb_st_find(sf, name);
            if (!t || t->numel != params[i].numel || t->dtype != LB_DT_F32) {
                st = lb_err(err, LB_ERR_FORMAT, "%s: tensor \"%s\" missing or of the wrong size", p2, name);
                goto out;
            }
            const float *src = lb_st_f32(sf, t, err);
            if (!src) { st = err ? err->code : LB_ERR_FORMAT; goto out; }
            memcpy((k ? opt->v : opt->m) + off, src, sizeof(float) * (size_t)params[i].numel);
        }
        off += params[i].numel;
    }
    lb_st_close(sf);
    sf = NULL;
    if (s->best_epoch) {
        free(p2);
        p2 = lb_path_join(o->resume_dir, "best.safetensors");
        if (!(sf = lb_st_open(p2, err))) { st = err ? err->code : LB_ERR_IO; goto out; }
        const lb_st_tensor *t = lb_st_find(sf, "best");
        const float *src = t && t->numel == off && t->dtype == LB_DT_F32 ? lb_st_f32(sf, t, err) : NULL;
        if (!src || !s->best_params) {
            st = lb_err(err, LB_ERR_FORMAT, "%s: tensor \"best\" missing or of the wrong size", p2);
            goto out;
        }
        memcpy(s->best_params, src, sizeof(float) * (size_t)off);
    }
    st = LB_OK;
out:
    if (sf) lb_st_close(sf);
    lb_resume_free(&r);
    free(text);
    free(path);
    free(p2);
    return st;
}

/* ---- printing ------------------------------------------------------------------------------ */

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

static void print_table_header(FILE *f) {
    fprintf(f, "%-6s %-14s %-16s %-9s %-10s %-9s %-9s\n", "Epoch", "Training Loss", "Validation Loss", "Accuracy",
            "Precision", "Recall", "F1");
}

static void print_table_row(FILE *f, int epoch, const epoch_row *r) {
    char tl[32];
    if (isnan(r->train_loss_logged)) snprintf(tl, sizeof tl, "No log");
    else snprintf(tl, sizeof tl, "%.6f", r->train_loss_logged);
    if (r->has_eval)
        fprintf(f, "%-6d %-14s %-16.6f %-9.6f %-10.6f %-9.6f %-9.6f\n", epoch, tl, r->eval.loss,
                r->eval.metrics.accuracy, r->eval.metrics.precision, r->eval.metrics.recall, r->eval.metrics.f1);
    else
        fprintf(f, "%-6d %-14s %-16s\n", epoch, tl, "-");
}

static void fmt_eta(char *buf, size_t n, double s) {
    if (!isfinite(s) || s < 0) { snprintf(buf, n, "--:--"); return; }
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
    else snprintf(buf, n, "%02ld:%02ld", t / 60, t % 60);
}

/* ---- the output folder --------------------------------------------------------------------- */

/* Every file name a run writes at the top level, in checkpoint-<step>/ or in resume/. */
static const char *const run_files[] = {
    "adapter_config.json", "adapter_model.safetensors", "labels.json", "tokenizer.json", "vocab.txt",
    "tokenizer_config.json", "special_tokens_map.json", "trainer_state.json", "metrics.json",
    "training_curves.svg", "optimizer.safetensors", "best.safetensors", "resume.json", NULL};

static bool is_checkpoint_name(const char *s) {
    if (strncmp(s, "checkpoint-", 11)) return false;
    size_t n = 0;
    for (s += 11; *s; s++, n++)
        if (*s < '0' || *s > '9') return false;
    return n > 0 && n <= 19;
}

/* Folders inside the output folder that only a run writes (under the output folder's lock). */
static bool owned_inside(const char *name) { return is_checkpoint_name(name) || !strcmp(name, "resume"); }

enum { ENT_LEFTOVER, ENT_OURS, ENT_FOREIGN };
static int classify_entry(const char *name, bool is_dir) {
    char base[256];
    if (!is_dir && lb_outdir_tmp_name(name, base, sizeof base))
        for (const char *const *f = run_files; *f; f++)
            if (!strcmp(*f, base)) return ENT_LEFTOVER;
    if (lb_outdir_staging_name(name, base, sizeof base) && owned_inside(base)) return ENT_LEFTOVER;
    if (is_dir && !strcmp(name, "resume.tmp")) return ENT_LEFTOVER;   /* staging of lorabert <= 0.1 */
    if (is_dir) return owned_inside(name) ? ENT_OURS : ENT_FOREIGN;
    for (const char *const *f = run_files; *f; f++)
        if (!strcmp(*f, name)) return ENT_OURS;
    return ENT_FOREIGN;
}

/* Removes what killed runs left inside dir (and inside its checkpoint and resume folders). */
static lb_status clean_output(const char *dir, lb_error *err) {
    lb_status st = lb_outdir_clean_inside(dir, run_files, owned_inside, err);
    char **names = NULL;
    int n = 0;
    if (!st) st = lb_dir_list(dir, &names, &n, err);
    for (int i = 0; !st && i < n; i++) {
        size_t len = strlen(names[i]);
        if (!len || names[i][len - 1] != '/') continue;
        names[i][len - 1] = '\0';
        char *p = lb_path_join(dir, names[i]);
        if (!p) st = lb_err(err, LB_ERR_NOMEM, "out of memory");
        else if (!strcmp(names[i], "resume.tmp")) st = lb_remove_tree(p, err);
        else if (owned_inside(names[i])) st = lb_outdir_clean_inside(p, run_files, NULL, err);
        free(p);
    }
    lb_dir_list_free(names);
    return st;
}

/* "a, b/, c, ... (9 entries)" */
static void list_names(char *buf, size_t cap, char **names, int n) {
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && used + 1 < cap; i++) {
        if (i == 6) {
            snprintf(buf + used, cap - used, ", ... (%d entries)", n);
            return;
        }
        int w = snprintf(buf + used, cap - used, "%s%s", i ? ", " : "", names[i]);
        if (w < 0) return;
        used += (size_t)w;
    }
}

lb_status lb_train_output_open(const lb_train_opts *o, lb_train_output *out, lb_error *err) {
    memset(out, 0, sizeof *out);
    out->lock.fd = -1;
    if (!o->output_dir) return LB_OK;
    char **names = NULL, **ours = NULL, **foreign = NULL;
    int n = 0, nours = 0, nforeign = 0;
    char *resume_canon = NULL;
    lb_status st = lb_outdir_check_target(o->output_dir, "output folder", err);
    if (!st) st = lb_path_canonical(o->output_dir, &out->dir, err);
    if (!st) st = lb_outdir_lock_acquire(out->dir, &out->lock, err);
    if (!st) st = lb_outdir_clean(out->dir, err);
    if (st) goto out;
    struct stat sb;
    if (lstat(out->dir, &sb) != 0) {
        if ((st = lb_mkdir_p(out->dir, err))) goto out;
        goto fresh;
    }
    if (!S_ISDIR(sb.st_mode)) { st = lb_err(err, LB_ERR_IO, "%s: exists and is not a directory", o->output_dir); goto out; }
    if ((st = clean_output(out->dir, err)) || (st = lb_dir_list(out->dir, &names, &n, err))) goto out;
    ours = calloc((size_t)n + 1, sizeof *ours);
    foreign = calloc((size_t)n + 1, sizeof *foreign);
    if (!ours || !foreign) { st = lb_err(err, LB_ERR_NOMEM, "out of memory"); goto out; }
    bool has_resume = false;
    for (int i = 0; i < n; i++) {
        size_t len = strlen(names[i]);
        bool is_dir = len && names[i][len - 1] == '/';
        char nm[256];
        snprintf(nm, sizeof nm, "%.*s", (int)(is_dir ? len - 1 : len), names[i]);
        int kind = classify_entry(nm, is_dir);
        if (kind == ENT_OURS) ours[nours++] = names[i];
        else if (kind == ENT_FOREIGN) foreign[nforeign++] = names[i];
        if (is_dir && !strcmp(nm, "resume")) has_resume = true;
    }
    if (!nours && !nforeign) goto fresh;
    if (o->resume_dir) {
        if ((st = lb_path_canonical(o->resume_dir, &resume_canon, err))) goto out;
        char *mine = lb_path_join(out->dir, "resume");
        bool same = mine && !strcmp(mine, resume_canon);
        free(mine);
        if (same) goto fresh;   /* the interrupted run continues in its own folder */
    }
    char list[600];
    if (o->overwrite_output) {
        if (nforeign) {
            list_names(list, sizeof list, foreign, nforeign);
            st = lb_err(err, LB_ERR_USAGE, "%s: the output folder holds entries lorabert does not write (%s); "
                        "--overwrite-output-dir replaces only a training output folder: choose another --output",
                        o->output_dir, list);
            goto out;
        }
        /* the previous run stays whole until this one has finished or is interrupted */
        if ((st = lb_staging_begin(&out->run, out->dir, err))) goto out;
        out->staged = true;
        if (!(out->work = strdup(out->run.dir))) st = lb_err(err, LB_ERR_NOMEM, "out of memory");
        goto out;
    }
    list_names(list, sizeof list, names, n);
    st = lb_err(err, LB_ERR_USAGE, "%s: the output folder is not empty (%s) and this is not a resume of its run; "
                "choose another --output, or pass --overwrite-output-dir to replace %s when this run completes%s%s%s",
                o->output_dir, list, nforeign ? "it (only a training output folder)" : "that run's output",
                has_resume ? ", or continue it with --resume " : "", has_resume ? o->output_dir : "",
                has_resume ? "/resume" : "");
    goto out;
fresh:
    if (!(out->work = strdup(out->dir))) st = lb_err(err, LB_ERR_NOMEM, "out of memory");
out:
    free(resume_canon);
    free(ours);
    free(foreign);
    lb_dir_list_free(names);
    if (st) lb_train_output_close(out);
    return st;
}

void lb_train_output_close(lb_train_output *out) {
    lb_staging_abort(&out->run);   /* a staged run not published: the old folder stays */
    lb_outdir_lock_release(&out->lock);
    free(out->dir);
    free(out->work);
    out->dir = out->work = NULL;
    out->staged = false;
}

/* Entries of the old output folder not carried into the new version: what this run writes or
 * drops (its top-level files, resume/, leftovers) and, when it replaces a previous run, that
 * run's checkpoints. Anything else (a file a user put there during the run) is kept. */
static bool carry_skip(const char *name, void *ctx) {
    bool replacing = *(const bool *)ctx;
    bool is_dir = owned_inside(name) || !strcmp(name, "resume.tmp");
    int kind = classify_entry(name, is_dir);
    if (kind == ENT_LEFTOVER || !strcmp(name, "resume")) return true;
    if (kind == ENT_OURS && !is_dir) return true;
    if (is_checkpoint_name(name)) return replacing;
    return false;
}

/* Publishes sg (holding this run's new top-level files or, when staged, the whole run) as the
 * output folder, with the old folder's entries that carry_skip keeps. */
static lb_status publish_output(lb_train_output *out, lb_staging *sg, lb_error *err) {
    lb_status st = LB_OK;
    if (lb_dir_exists(out->dir)) st = lb_link_tree(out->dir, sg->dir, carry_skip, &out->staged, err);
    if (st) {
        lb_staging_abort(sg);
        return st;
    }
    return lb_staging_commit(sg, err);
}

/* checkpoint-<step>/ inside the run's folder, whole or not at all. */
static lb_status save_checkpoint(lb_model *m, const tstate *s, const lb_train_opts *o, const char *work,
                                 lb_error *err) {
    char name[64];
    snprintf(name, sizeof name, "checkpoint-%lld", (long long)s->global_step);
    char *dir = lb_path_join(work, name);
    if (!dir) return lb_err(err, LB_ERR_NOMEM, "out of memory");
    lb_staging sg;
    lb_status st = lb_staging_begin(&sg, dir, err);
    free(dir);
    if (st) return st;
    if ((st = save_adapter_dir(m, s, o, sg.dir, err))) {
        lb_staging_abort(&sg);
        return st;
    }
    return lb_staging_commit(&sg, err);
}

/* ---- the loop ------------------------------------------------------------------------------ */

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
    if (!*rows || !*offsets) { st = lb_err(err, LB_ERR_NOMEM, "%s: out of memory", path); goto fail; }
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

lb_status lb_train(lb_model *m, const lb_tokset *train, const lb_tokset *eval, const lb_train_opts *o,
                   lb_train_result *res, lb_error *err) {
    memset(res, 0, sizeof *res);
    const lb_model_config *mc = lb_model_get_config(m);
    const int L = mc->num_labels;
    if (!lb_model_get_lora(m)) return lb_err(err, LB_ERR_USAGE, "train: the model has no adapter");
    if (train->n <= 0) return lb_err(err, LB_ERR_FORMAT, "train: empty training set");
    if (eval && eval->n <= 0) return lb_err(err, LB_ERR_FORMAT, "train: empty validation set");
    if (o->epochs < 1 || o->batch_size < 1 || o->eval_batch_size < 1 || o->logging_steps < 1)
        return lb_err(err, LB_ERR_USAGE, "train: epochs, batch sizes and logging steps must be >= 1");
    if (L > LB_METRICS_MAX_LABELS) return lb_err(err, LB_ERR_UNSUPPORTED, "train: %d labels", L);

    tstate s;
    memset(&s, 0, sizeof s);
    s.n_train = train->n;
    lb_train_output own_out;   /* when the caller did not open the output folder */
    memset(&own_out, 0, sizeof own_out);
    own_out.lock.fd = -1;
    lb_train_output *out = NULL;
    FILE *log = o->log;
    int tty = log && isatty(fileno(log));
    int32_t *rows_buf = NULL;
    if (o->order_rows) {
        if (o->n_order_steps % o->epochs)
            return lb_err(err, LB_ERR_USAGE, "train: batch order has %lld steps, not a multiple of %d epochs",
                          (long long)o->n_order_steps, o->epochs);
        for (int64_t k = 0; k < o->order_offsets[o->n_order_steps]; k++)
            if (o->order_rows[k] < 0 || o->order_rows[k] >= train->n)
                return lb_err(err, LB_ERR_USAGE, "train: batch order names row %d; the training set has %lld rows",
                              o->order_rows[k], (long long)train->n);
        s.steps_per_epoch = o->n_order_steps / o->epochs;
    } else {
        s.steps_per_epoch = (train->n + o->batch_size - 1) / o->batch_size;
    }
    s.total_steps = s.steps_per_epoch * o->epochs;
    s.last_logged_loss = NAN;
    lb_rng_seed_stream(&s.shuffle_rng, o->seed, 1);
    lb_rng_seed_stream(&s.dropout_rng, o->seed, 2);

    lb_param *params;
    int np = lb_model_params(m, &params);
    int64_t ptotal = params_total(params, np);
    lb_adamw_config acfg;
    lb_adamw_defaults(&acfg);
    acfg.weight_decay = o->weight_decay;
    lb_adamw opt;
    lb_status st = lb_adamw_init(&opt, params, np, &acfg, err);
    if (st) return st;
    batchbuf bb = {0};
    int maxB = o->batch_size;
    if (o->order_rows)
        for (int64_t k = 0; k < o->n_order_steps; k++)
            if (o->order_offsets[k + 1] - o->order_offsets[k] > maxB) maxB = o->order_offsets[k + 1] - o->order_offsets[k];
    float *logits = malloc(sizeof(float) * (size_t)maxB * L);
    float *dlogits = malloc(sizeof(float) * (size_t)maxB * L);
    s.order = malloc(sizeof(int32_t) * (size_t)train->n);
    s.rows = calloc((size_t)o->epochs, sizeof *s.rows);
    s.best_params = eval ? malloc(sizeof(float) * (size_t)(ptotal ? ptotal : 1)) : NULL;
    if (!logits || !dlogits || !s.order || !s.rows || (eval && !s.best_params)) {
        st = lb_err(err, LB_ERR_NOMEM, "train: out of memory");
        goto out;
    }
    for (int e = 0; e < o->epochs; e++) s.rows[e].train_loss_logged = s.rows[e].train_loss_mean = NAN;
    /* Up front, before the output folder exists: a forward on a longer example would fail. */
    for (int k = 0; k < 2; k++) {
        const lb_tokset *ts = k ? eval : train;
        for (int64_t i = 0; ts && i < ts->n; i++)
            if (ts->offsets[i + 1] - ts->offsets[i] > mc->max_pos) {
                st = lb_err(err, LB_ERR_USAGE, "train: %s example %lld has %lld tokens, more than the model's %d "
                            "positions (max_position_embeddings); lower --max-length", k ? "eval" : "train",
                            (long long)i, (long long)(ts->offsets[i + 1] - ts->offsets[i]), mc->max_pos);
                goto out;
            }
    }
    if (o->output_dir) {
        if (o->output) out = o->output;
        else if (!(st = lb_train_output_open(o, &own_out, err))) out = &own_out;
        if (st) goto out;
    }
    if (o->resume_dir && (st = read_resume(m, &s, &opt, o, L, eval ? eval->n : 0, err))) goto out;

    int64_t trainable, all;
    lb_model_param_counts(m, &trainable, &all);
    /* HF total_flos counts 6 * padded tokens * parameters outside embedding tables. */
    double nonemb = (double)all - (double)mc->dim * ((double)mc->vocab_size + mc->max_pos + mc->type_vocab_size);
    if (log) {
        char a[32], b[32];
        fmt_count(a, sizeof a, trainable);
        fmt_count(b, sizeof b, all);
        fprintf(log, "trainable params: %s || all params: %s || trainable%%: %.4f\n", a, b,
                all ? 100.0 * (double)trainable / (double)all : 0.0);
        if (o->resume_dir)
            fprintf(log, "resuming at step %lld of %lld (epoch %d)\n", (long long)s.global_step,
                    (long long)s.total_steps, s.epoch + 1);
        fprintf(log, "%lld training examples, %d epochs, batch size %d, %lld steps\n", (long long)train->n, o->epochs,
                o->batch_size, (long long)s.total_steps);
        fflush(log);
    }
    int table_started = 0;
    const int64_t plain_every = s.steps_per_epoch / 10 > 0 ? s.steps_per_epoch / 10 : 1;
    double t_start = now_s() - s.train_time;
    /* Rate and ETA on the display count this process only (a resumed run's earlier part may
     * have run on another machine, or a busier one). */
    const double sess_t0 = now_s();
    const int64_t sess_step0 = s.global_step;
    int64_t sess_tokens = 0;
    double sess_token_time = 0;
    int interrupted = 0;
    rows_buf = malloc(sizeof(int32_t) * (size_t)maxB);
    if (!rows_buf) { st = lb_err(err, LB_ERR_NOMEM, "train: out of memory"); goto out; }

    for (; s.epoch < o->epochs; s.epoch++) {
        if (!o->order_rows && !s.order_valid) {
            for (int64_t i = 0; i < train->n; i++) s.order[i] = (int32_t)i;
            lb_rng_shuffle(&s.shuffle_rng, s.order, train->n);
            s.order_valid = 1;
        }
        for (; s.step_in_epoch < s.steps_per_epoch; s.step_in_epoch++) {
            const int32_t *rows;
            int B;
            if (o->order_rows) {
                int64_t k = s.epoch * s.steps_per_epoch + s.step_in_epoch;
                rows = o->order_rows + o->order_offsets[k];
                B = o->order_offsets[k + 1] - o->order_offsets[k];
            } else {
                int64_t first = s.step_in_epoch * o->batch_size;
                B = (int)(train->n - first < o->batch_size ? train->n - first : o->batch_size);
                memcpy(rows_buf, s.order + first, sizeof(int32_t) * B);
                rows = rows_buf;
            }
            double t0 = now_s();
            lb_batch batch;
            int64_t real = make_batch(&bb, train, rows, B, mc->pad_token_id, &batch);
            if (real < 0) { st = lb_err(err, LB_ERR_NOMEM, "train: out of memory for a batch"); goto out; }
            lb_model_zero_grad(m);
            if ((st = lb_model_forward(m, &batch, true, &s.dropout_rng, logits, err))) goto out;
            float loss = lb_cross_entropy(logits, bb.labels, B, L, dlogits);
            if (!isfinite(loss)) {
                /* a staged run is discarded: its output folder still holds the previous run */
                int kept = (s.best_epoch || s.epoch > 0) && out && !out->staged;
                st = lb_err(err, LB_ERR_NUMERIC, "train: non-finite loss (%g) at step %lld (epoch %d)%s%s%s", loss,
                            (long long)s.global_step + 1, s.epoch + 1,
                            kept ? "; the last epoch checkpoint is kept in " : "", kept ? o->output_dir : "",
                            out && out->staged ? "; the output folder still holds the previous run" : "");
                goto out;
            }
            if ((st = lb_model_backward(m, dlogits, err))) goto out;
            double gnorm = lb_clip_grad_norm(params, np, o->max_grad_norm);
            if (!isfinite(gnorm)) {
                st = lb_err(err, LB_ERR_NUMERIC, "train: non-finite gradient norm at step %lld (epoch %d)",
                            (long long)s.global_step + 1, s.epoch + 1);
                goto out;
            }
            double lr = o->lr * lb_linear_schedule(s.global_step, o->warmup_steps, s.total_steps);
            lb_adamw_step(&opt, lr);
            s.global_step++;
            double dt = now_s() - t0;
            s.tokens += real;
            s.token_time += dt;
            sess_tokens += real;
            sess_token_time += dt;
            s.total_flos += 6.0 * (double)B * batch.T * nonemb;
            s.tr_loss += loss;
            s.epoch_loss_sum += loss;
            s.epoch_loss_steps++;
            if (o->step_losses) o->step_losses[s.global_step - 1] = loss;
            if (o->step_grad_norms) o->step_grad_norms[s.global_step - 1] = (float)gnorm;
            if (s.global_step % o->logging_steps == 0) {
                double logged = round_to((double)s.tr_loss / (double)(s.global_step - s.last_logged), 4);
                s.total_loss += (double)s.tr_loss;
                s.tr_loss = 0;
                s.last_logged = s.global_step;
                s.last_logged_loss = logged;
                hentry h = {.kind = H_TRAIN, .step = s.global_step,
                            .epoch = round_to(s.epoch + (double)(s.step_in_epoch + 1) / s.steps_per_epoch, 2),
                            .v = {o->lr * lb_linear_schedule(s.global_step, o->warmup_steps, s.total_steps), logged}};
                if (push_hist(&s, h)) { st = lb_err(err, LB_ERR_NOMEM, "out of memory"); goto out; }
            }
            if (log) {
                double tps = sess_token_time > 0 ? (double)sess_tokens / sess_token_time : 0;
                double spent = now_s() - sess_t0;
                char eta[32];
                fmt_eta(eta, sizeof eta,
                        spent / (double)(s.global_step - sess_step0) * (double)(s.total_steps - s.global_step));
                if (tty) {
                    fprintf(log, "\repoch %d/%d  step %lld/%lld  loss %.4f  lr %.3e  %.0f tok/s  ETA %s   ",
                            s.epoch + 1, o->epochs, (long long)s.global_step, (long long)s.total_steps, loss, lr, tps, eta);
                    fflush(log);
                } else if ((s.step_in_epoch + 1) % plain_every == 0) {
                    fprintf(log, "epoch %d/%d step %lld/%lld loss %.4f lr %.3e %.0f tok/s ETA %s\n", s.epoch + 1,
                            o->epochs, (long long)s.global_step, (long long)s.total_steps, loss, lr, tps, eta);
                    fflush(log);
                }
            }
            if (s.step_in_epoch + 1 < s.steps_per_epoch &&
                ((o->stop && *o->stop) || (o->stop_after_step && s.global_step == o->stop_after_step))) {
                s.step_in_epoch++;
                interrupted = 1;
                break;
            }
        }
        if (interrupted) break;
        /* end of epoch: evaluate, checkpoint, track the best */
        epoch_row *row = &s.rows[s.epoch];
        row->train_loss_logged = s.last_logged_loss;
        row->train_loss_mean = s.epoch_loss_steps ? s.epoch_loss_sum / (double)s.epoch_loss_steps : NAN;
        s.epoch_loss_sum = 0;
        s.epoch_loss_steps = 0;
        if (tty) fputc('\n', log);
        if (eval) {
            if ((st = lb_evaluate(m, eval, o->eval_batch_size, &row->eval, NULL, err))) {
                if (st == LB_ERR_NUMERIC) lb_err_prefix(err, "train: epoch %d", s.epoch + 1);
                goto out;
            }
            row->has_eval = 1;
            double rt = row->eval.runtime_s;
            hentry h = {.kind = H_EVAL, .step = s.global_step, .epoch = s.epoch + 1.0,
                        .v = {row->eval.loss, row->eval.metrics.accuracy, row->eval.metrics.f1,
                              row->eval.metrics.precision, row->eval.metrics.recall, round_to(rt, 4),
                              round_to(rt > 0 ? (double)eval->n / rt : 0, 3),
                              round_to(rt > 0 ? ceil((double)eval->n / o->eval_batch_size) / rt : 0, 3)}};
            if (push_hist(&s, h)) { st = lb_err(err, LB_ERR_NOMEM, "out of memory"); goto out; }
            double v = best_value(&row->eval, o->best);
            int better = !s.best_epoch || (o->best == LB_BEST_LOSS ? v < s.best_metric : v > s.best_metric);
            if (better) {
                s.best_epoch = s.epoch + 1;
                s.best_step = s.global_step;
                s.best_metric = v;
                s.best_eval = row->eval;
                int64_t off = 0;
                for (int i = 0; i < np; i++) {
                    memcpy(s.best_params + off, params[i].data, sizeof(float) * (size_t)params[i].numel);
                    off += params[i].numel;
                }
            }
        }
        if (log) {
            if (!table_started) print_table_header(log);
            table_started = 1;
            print_table_row(log, s.epoch + 1, row);
            fflush(log);
        }
        s.train_time = now_s() - t_start;
        if (out && (st = save_checkpoint(m, &s, o, out->work, err))) goto out;
        s.step_in_epoch = 0;
        s.order_valid = 0;
        if (s.epoch + 1 < o->epochs &&
            ((o->stop && *o->stop) || (o->stop_after_step && s.global_step == o->stop_after_step))) {
            s.epoch++;
            interrupted = 1;
            break;
        }
    }
    s.train_time = now_s() - t_start;
    if (interrupted) {
        if (tty) fputc('\n', log);
        if (!out) {
            st = lb_err(err, LB_ERR_INTERRUPTED, "train: interrupted at step %lld (no output folder to checkpoint to)",
                        (long long)s.global_step);
            goto out;
        }
        if ((st = write_resume(m, &s, &opt, o, out->work, err))) goto out;
        if (out->staged && (st = publish_output(out, &out->run, err))) goto out;
        char *dir = lb_path_join(o->output_dir, "resume");
        st = lb_err(err, LB_ERR_INTERRUPTED, "train: interrupted after step %lld of %lld; resume with --resume %s",
                    (long long)s.global_step, (long long)s.total_steps, dir);
        free(dir);
        goto out;
    }
    /* HF: the remaining loss since the last log joins the total; train_loss = total / steps */
    s.total_loss += (double)s.tr_loss;
    s.tr_loss = 0;
    double train_loss = s.total_loss / (double)s.global_step;
    hentry fin = {.kind = H_FINAL, .step = s.global_step, .epoch = (double)o->epochs,
                  .v = {s.total_flos, train_loss, round_to(s.train_time, 4),
                        round_to((double)train->n * o->epochs / s.train_time, 3),
                        round_to((double)s.total_steps / s.train_time, 3)}};
    if (push_hist(&s, fin)) { st = lb_err(err, LB_ERR_NOMEM, "out of memory"); goto out; }
    if (s.best_epoch) {   /* load_best_model_at_end */
        int64_t off = 0;
        for (int i = 0; i < np; i++) {
            memcpy(params[i].data, s.best_params + off, sizeof(float) * (size_t)params[i].numel);
            off += params[i].numel;
        }
        if (log) fprintf(log, "best epoch: %d (%s %.6f); its adapter is the result\n", s.best_epoch, best_name(o->best),
                         s.best_metric);
    }
    if (out) {
        /* The new top-level files are staged together with (links to) the checkpoints and
         * published in one rename: the folder never shows a half-written result, nor stale
         * top-level files of an earlier version, and resume/ goes with the old version. */
        lb_staging fin_sg = {0};
        lb_staging *sg = out->staged ? &out->run : &fin_sg;
        if (!out->staged && (st = lb_staging_begin(&fin_sg, out->dir, err))) goto out;
        if (!(st = save_adapter_dir(m, &s, o, sg->dir, err))) {
            char *p = lb_path_join(sg->dir, "metrics.json");
            st = write_metrics_json(&s, o, L, p, err);
            free(p);
        }
        if (!st) {
            char *p = lb_path_join(sg->dir, "training_curves.svg");
            st = write_svg(&s, o->epochs, p, err);
            free(p);
        }
        if (!st) st = publish_output(out, sg, err);
        lb_staging_abort(&fin_sg);
        if (st) goto out;
        if (log) fprintf(log, "adapter written to %s\n", o->output_dir);
    }
    res->global_step = s.global_step;
    res->best_epoch = s.best_epoch;
    res->best_eval = s.best_eval;
    res->train_loss = train_loss;
    res->runtime_s = s.train_time;
    res->tokens_per_s = s.token_time > 0 ? (double)s.tokens / s.token_time : 0;
    st = LB_OK;
out:
    lb_train_output_close(&own_out);
    free(rows_buf);
    if (st && log && tty) fputc('\n', log);
    lb_adamw_free(&opt);
    batchbuf_free(&bb);
    free(logits);
    free(dlogits);
    free(s.order);
    free(s.rows);
    free(s.best_params);
    free(s.hist);
    return st;
}
