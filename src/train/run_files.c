/* The output folder of a run and the files HF Trainer writes; see run_files.h. */
#include "train/run_files.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "base/fileio.h"
#include "model/peft.h"
#include "formats/pyjson.h"

int lb_run_hist_push(lb_train_state *s, lb_hist_entry e) {
    if (s->nhist == s->caphist) {
        int cap = s->caphist ? 2 * s->caphist : 64;
        lb_hist_entry *h = realloc(s->hist, sizeof(lb_hist_entry) * cap);
        if (!h) return -1;
        s->hist = h;
        s->caphist = cap;
    }
    s->hist[s->nhist++] = e;
    return 0;
}

double lb_run_round(double x, int digits) {
    double p = pow(10.0, digits);
    return round(x * p) / p;
}

double lb_run_epoch(const lb_train_state *s) {
    return s->steps_per_epoch ? s->epoch + (double)s->step_in_epoch / (double)s->steps_per_epoch : 0.0;
}

const char *lb_best_metric_name(lb_best_metric b) {
    static const char *names[] = {"eval_loss", "eval_accuracy", "eval_f1",      "eval_precision", "eval_recall",
                                  "eval_mse",  "eval_mae",      "eval_pearson", "eval_spearman"};
    return (unsigned)b < LB_BEST_COUNT ? names[b] : "?";
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

static void write_hentry(FILE *f, const lb_hist_entry *e, int problem) {
    int first = 1;
    fputs("    {", f);
    put_num(f, 6, "epoch", e->epoch, &first);
    if (e->kind == LB_HIST_TRAIN) {
        put_num(f, 6, "learning_rate", e->v[0], &first);
        put_num(f, 6, "loss", e->v[1], &first);
    } else if (e->kind == LB_HIST_EVAL && problem == LB_PROBLEM_REGRESSION) {
        /* v[1..4]: mse, mae, pearson, spearman (the trainer's regression entry); keys sorted as HF */
        put_num(f, 6, "eval_loss", e->v[0], &first);
        put_num(f, 6, "eval_mae", e->v[2], &first);
        put_num(f, 6, "eval_mse", e->v[1], &first);
        put_num(f, 6, "eval_pearson", e->v[3], &first);
        put_num(f, 6, "eval_runtime", e->v[5], &first);
        put_num(f, 6, "eval_samples_per_second", e->v[6], &first);
        put_num(f, 6, "eval_spearman", e->v[4], &first);
        put_num(f, 6, "eval_steps_per_second", e->v[7], &first);
    } else if (e->kind == LB_HIST_EVAL) {
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
    if (e->kind == LB_HIST_FINAL) {
        put_num(f, 6, "total_flos", e->v[0], &first);
        put_num(f, 6, "train_loss", e->v[1], &first);
        put_num(f, 6, "train_runtime", e->v[2], &first);
        put_num(f, 6, "train_samples_per_second", e->v[3], &first);
        put_num(f, 6, "train_steps_per_second", e->v[4], &first);
    }
    fputs("\n    }", f);
}

/* trainer_state.json as TrainerState.save_to_json (indent 2, sorted keys). */
static lb_status write_trainer_state(const lb_train_state *s, const lb_train_opts *o, const char *path, lb_error *err) {
    lb_atomic_file af;
    lb_status st = lb_atomic_open(&af, path, err);
    if (st) return st;
    FILE *f = af.fp;
    int first = 1;
    fputs("{", f);
    put_key(f, 2, "best_metric", &first);
    if (s->best_epoch) lb_pyjson_double(f, s->best_metric);
    else fputs("null", f);
    put_key(f, 2, "best_model_checkpoint", &first);
    if (s->best_epoch) {
        char name[64];
        snprintf(name, sizeof name, "checkpoint-%lld", (long long)s->best_step);
        char *p = lb_path_join(o->output_dir, name);
        lb_pyjson_str(f, p);
        free(p);
    } else fputs("null", f);
    put_num(f, 2, "epoch", lb_run_epoch(s), &first);
    put_int(f, 2, "eval_steps", s->eval_steps, &first);
    put_int(f, 2, "global_step", s->global_step, &first);
    put_key(f, 2, "is_hyper_param_search", &first);
    fputs("false", f);
    put_key(f, 2, "is_local_process_zero", &first);
    fputs("true", f);
    put_key(f, 2, "is_world_process_zero", &first);
    fputs("true", f);
    put_key(f, 2, "log_history", &first);
    fputs("[", f);
    for (int i = 0; i < s->nhist; i++) {
        fputs(i ? ",\n" : "\n", f);
        write_hentry(f, &s->hist[i], o->problem);
    }
    fputs(s->nhist ? "\n  ]" : "]", f);
    put_int(f, 2, "logging_steps", o->logging_steps, &first);
    put_int(f, 2, "max_steps", s->total_steps, &first);
    put_int(f, 2, "num_train_epochs", o->epochs, &first);
    put_int(f, 2, "save_steps", s->save_steps, &first);
    put_num(f, 2, "total_flos", s->total_flos, &first);
    put_key(f, 2, "trial_name", &first);
    fputs("null", f);
    put_key(f, 2, "trial_params", &first);
    fputs("null", f);
    fputs("\n}\n", f);
    if (ferror(f)) {
        lb_atomic_abort(&af);
        return lb_err(err, LB_ERR_IO, "%s: write failed", path);
    }
    return lb_atomic_commit(&af, err);
}

lb_status lb_run_save_adapter_dir(lb_model *m, const lb_train_state *s, const lb_train_opts *o, const char *dir,
                                  lb_error *err) {
    lb_status st = lb_peft_save_folder(m, dir, o->base_model_name, o->tokenizer_dir, o->label_names, s == NULL, err);
    if (!st && s) {
        char *p = lb_path_join(dir, "trainer_state.json");
        st = write_trainer_state(s, o, p, err);
        free(p);
    }
    return st;
}

static void write_metric_fields(FILE *f, const lb_eval_result *e, int L) {
    if (e->problem_type == LB_PROBLEM_REGRESSION) { /* keys sorted, as the classification ones */
        fputs("  \"loss\": ", f);
        lb_pyjson_double(f, e->loss);
        fputs(",\n  \"mae\": ", f);
        lb_pyjson_double(f, e->mae);
        fputs(",\n  \"mse\": ", f);
        lb_pyjson_double(f, e->mse);
        fprintf(f, ",\n  \"n_examples\": %lld,\n  \"pearson\": ", (long long)e->metrics.n);
        lb_pyjson_double(f, e->pearson);
        fputs(",\n  \"spearman\": ", f);
        lb_pyjson_double(f, e->spearman);
        return;
    }
    if (e->problem_type == LB_PROBLEM_MULTI_LABEL) { /* subset accuracy, micro and macro averages */
        const char *const keys[] = {"accuracy",        "f1",     "f1_macro",     "loss",     "precision",
                                    "precision_macro", "recall", "recall_macro", "threshold"};
        const double vals[] = {e->metrics.accuracy,  e->metrics.f1,      e->macro_f1,       e->loss,
                               e->metrics.precision, e->macro_precision, e->metrics.recall, e->macro_recall,
                               e->threshold};
        for (int k = 0; k < 9; k++) {
            fprintf(f, "%s  \"%s\": ", k ? ",\n" : "", keys[k]);
            lb_pyjson_double(f, vals[k]);
            if (k == 3) fprintf(f, ",\n  \"n_examples\": %lld", (long long)e->metrics.n);
        }
        return;
    }
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

const lb_eval_result *lb_run_result_eval(const lb_train_state *s, const lb_train_opts *o, int64_t *step) {
    if (o->load_best) {
        *step = s->best_epoch ? s->best_step : 0;
        return s->best_epoch ? &s->best_eval : NULL;
    }
    bool last = s->last_eval_step > 0 && s->last_eval_step == s->global_step;
    *step = last ? s->last_eval_step : 0;
    return last ? &s->last_eval : NULL;
}

static lb_status write_metrics_json(const lb_train_state *s, const lb_train_opts *o, int L, const char *path,
                                    lb_error *err) {
    lb_atomic_file af;
    lb_status st = lb_atomic_open(&af, path, err);
    if (st) return st;
    FILE *f = af.fp;
    fputs("{\n", f);
    int64_t eval_step;
    const lb_eval_result *ev = lb_run_result_eval(s, o, &eval_step);
    if (ev && o->load_best) { /* the best checkpoint's adapter and evaluation */
        write_metric_fields(f, ev, L);
        fprintf(f, ",\n  \"best_epoch\": %d,\n  \"metric_for_best\": \"%s\",\n", s->best_epoch,
                lb_best_metric_name(o->best));
    } else if (ev) { /* load_best_model_at_end false: the last step's adapter and evaluation */
        write_metric_fields(f, ev, L);
        fprintf(f, ",\n  \"eval_step\": %lld,\n", (long long)eval_step);
    }
    fprintf(f, "  \"global_step\": %lld,\n  \"train_loss\": ", (long long)s->global_step);
    lb_pyjson_double(f, s->global_step ? s->total_loss / (double)s->global_step : 0.0);
    fputs(",\n  \"train_runtime\": ", f);
    lb_pyjson_double(f, lb_run_round(s->train_time, 4));
    fputs("\n}\n", f);
    if (ferror(f)) {
        lb_atomic_abort(&af);
        return lb_err(err, LB_ERR_IO, "%s: write failed", path);
    }
    return lb_atomic_commit(&af, err);
}

/* The curves' x (pixels) of an epoch position: the epoch strategy's points sit at epochs 1..n
 * (evenly spread); with mid-epoch evaluations (eval strategy steps) the axis runs 0..n and each
 * evaluation sits at its fractional epoch, the epochs' train loss at their ends. */
static double svg_x(double p, int n, bool frac, double x0, double x1) {
    if (frac) return x0 + (x1 - x0) * p / n;
    return n > 1 ? x0 + (x1 - x0) * (p - 1) / (n - 1) : (x0 + x1) / 2;
}

/* Training curves: loss (train mean, eval) on the left axis, metrics in [0,1] on the right. */
static lb_status write_svg(const lb_train_state *s, const lb_train_opts *o, int epochs_done, const char *path,
                           lb_error *err) {
    lb_atomic_file af;
    lb_status st = lb_atomic_open(&af, path, err);
    if (st) return st;
    FILE *f = af.fp;
    const double W = 720, H = 420, x0 = 70, x1 = 560, y0 = 40, y1 = 360;
    const bool frac = o->eval_strategy == LB_STRATEGY_STEPS && epochs_done > 0;
    double lmax = 1e-9;
    for (int e = 0; e < epochs_done; e++) {
        if (isfinite(s->rows[e].train_loss_mean)) lmax = fmax(lmax, s->rows[e].train_loss_mean);
        if (s->rows[e].has_eval && isfinite(s->rows[e].eval.loss)) lmax = fmax(lmax, s->rows[e].eval.loss);
    }
    for (int i = 0; frac && i < s->nhist; i++)
        if (s->hist[i].kind == LB_HIST_EVAL && isfinite(s->hist[i].v[0])) lmax = fmax(lmax, s->hist[i].v[0]);
    lmax *= 1.1;
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" font-family=\"sans-serif\" "
            "font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
            W, H);
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
    for (int e = frac ? 0 : 1; e <= epochs_done; e++)
        fprintf(f, "<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\">%d</text>\n",
                svg_x(e, epochs_done, frac, x0, x1), y1 + 18, e);
    static const char *names[] = {"train loss", "eval loss", "accuracy", "f1"};
    static const char *colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd"};
    for (int c = 0; c < 4; c++) {
        int any = 0;
        /* the train loss per epoch; the evaluations per epoch, or (frac) each in log_history */
        const int n = c > 0 && frac ? s->nhist : epochs_done;
        for (int i = 0; i < n; i++) {
            double v, p;
            if (c > 0 && frac) {
                const lb_hist_entry *h = &s->hist[i];
                if (h->kind != LB_HIST_EVAL) continue;
                v = h->v[c == 1 ? 0 : c == 2 ? 1 : 2];
                p = (double)h->step / (double)s->steps_per_epoch;
            } else {
                const lb_epoch_row *r = &s->rows[i];
                v = c == 0         ? r->train_loss_mean
                    : !r->has_eval ? NAN
                    : c == 1       ? r->eval.loss
                    : c == 2       ? r->eval.metrics.accuracy
                                   : r->eval.metrics.f1;
                p = i + 1;
            }
            if (!isfinite(v)) continue;
            double x = svg_x(p, epochs_done, frac, x0, x1);
            double y = c < 2 ? y1 - (y1 - y0) * v / lmax : y1 - (y1 - y0) * v;
            if (!any) fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", colors[c]);
            fprintf(f, "%s%.1f,%.1f", any ? " " : "", x, y);
            any = 1;
        }
        if (any) fputs("\"/>\n", f);
        fprintf(f,
                "<rect x=\"%.0f\" y=\"%.0f\" width=\"14\" height=\"4\" fill=\"%s\"/>"
                "<text x=\"%.0f\" y=\"%.0f\">%s%s</text>\n",
                x1 + 50, y0 + 20.0 * c, colors[c], x1 + 70, y0 + 20.0 * c + 6, names[c],
                c < 2 ? " (left)" : " (right)");
    }
    fputs("</svg>\n", f);
    if (ferror(f)) {
        lb_atomic_abort(&af);
        return lb_err(err, LB_ERR_IO, "%s: write failed", path);
    }
    return lb_atomic_commit(&af, err);
}

/* ---- the output folder --------------------------------------------------------------------- */

/* Every file name a run writes at the top level, in checkpoint-<step>/ or in resume/. */
static const char *const run_files[] = {"adapter_config.json",
                                        "adapter_model.safetensors",
                                        "labels.json",
                                        "tokenizer.json",
                                        "vocab.txt",
                                        "tokenizer_config.json",
                                        "special_tokens_map.json",
                                        "trainer_state.json",
                                        "metrics.json",
                                        "training_curves.svg",
                                        "optimizer.safetensors",
                                        "best.safetensors",
                                        "resume.json",
                                        NULL};

static bool is_checkpoint_name(const char *s) {
    if (strncmp(s, "checkpoint-", 11)) return false;
    size_t n = 0;
    for (s += 11; *s; s++, n++)
        if (*s < '0' || *s > '9') return false;
    return n > 0 && n <= 19;
}

/* Folders inside the output folder that only a run writes (under the output folder's lock). */
static bool owned_inside(const char *name) {
    return is_checkpoint_name(name) || !strcmp(name, "resume") || !strcmp(name, "runs"); /* runs/: TensorBoard */
}

enum { ENT_LEFTOVER, ENT_OURS, ENT_FOREIGN };
static int classify_entry(const char *name, bool is_dir) {
    char base[256];
    if (!is_dir && lb_outdir_tmp_name(name, base, sizeof base))
        for (const char *const *f = run_files; *f; f++)
            if (!strcmp(*f, base)) return ENT_LEFTOVER;
    if (lb_outdir_staging_name(name, base, sizeof base) && owned_inside(base)) return ENT_LEFTOVER;
    if (is_dir && !strcmp(name, "resume.tmp")) return ENT_LEFTOVER; /* staging of lorabert <= 0.1 */
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

lb_status lb_run_output_open(const lb_train_opts *o, lb_run_output *out, lb_error *err) {
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
    if (lstat(out->dir, &sb) != 0) goto fresh; /* created by lb_run_output_create */
    if (!S_ISDIR(sb.st_mode)) {
        st = lb_err(err, LB_ERR_IO, "%s: exists and is not a directory", o->output_dir);
        goto out;
    }
    if ((st = clean_output(out->dir, err)) || (st = lb_dir_list(out->dir, &names, &n, err))) goto out;
    ours = calloc((size_t)n + 1, sizeof *ours);
    foreign = calloc((size_t)n + 1, sizeof *foreign);
    if (!ours || !foreign) {
        st = lb_err(err, LB_ERR_NOMEM, "out of memory");
        goto out;
    }
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
        /* OUTPUT/resume or OUTPUT/checkpoint-<step>: the run continues in its own folder (later
         * checkpoints stay until it reaches and rewrites them, as HF's) */
        size_t dl = strlen(out->dir);
        bool same = !strncmp(resume_canon, out->dir, dl) && resume_canon[dl] == '/' &&
                    (!strcmp(resume_canon + dl + 1, "resume") || is_checkpoint_name(resume_canon + dl + 1));
        if (same) goto fresh;
    }
    char list[600];
    if (o->overwrite_output) {
        if (nforeign) {
            list_names(list, sizeof list, foreign, nforeign);
            st = lb_err(err, LB_ERR_USAGE,
                        "%s: the output folder holds entries lorabert does not write (%s); "
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
    st = lb_err(err, LB_ERR_USAGE,
                "%s: the output folder is not empty (%s) and this is not a resume of its run; "
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
    if (st) lb_run_output_close(out);
    return st;
}

lb_status lb_run_output_create(lb_run_output *out, lb_error *err) {
    if (!out->work) return LB_OK;
    struct stat sb;
    if (lstat(out->work, &sb) == 0) return LB_OK;
    return lb_mkdir_p(out->work, err);
}

void lb_run_output_close(lb_run_output *out) {
    lb_staging_abort(&out->run); /* a staged run not published: the old folder stays */
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
    if (is_checkpoint_name(name) || !strcmp(name, "runs")) return replacing;
    return false;
}

lb_status lb_run_publish(lb_run_output *out, lb_staging *sg, lb_error *err) {
    lb_status st = LB_OK;
    if (lb_dir_exists(out->dir)) st = lb_link_tree(out->dir, sg->dir, carry_skip, &out->staged, err);
    if (st) {
        lb_staging_abort(sg);
        return st;
    }
    return lb_staging_commit(sg, err);
}

lb_status lb_run_write_final(lb_model *m, const lb_train_state *s, const lb_train_opts *o, lb_run_output *out,
                             lb_error *err) {
    /* The new top-level files are staged together with (links to) the checkpoints and
     * published in one rename: the folder never shows a half-written result, nor stale
     * top-level files of an earlier version, and resume/ goes with the old version. */
    const int L = lb_model_get_config(m)->num_labels;
    lb_staging fin_sg = {0};
    lb_staging *sg = out->staged ? &out->run : &fin_sg;
    lb_status st = LB_OK;
    if (!out->staged && (st = lb_staging_begin(&fin_sg, out->dir, err))) return st;
    if (!(st = lb_run_save_adapter_dir(m, s, o, sg->dir, err))) {
        char *p = lb_path_join(sg->dir, "metrics.json");
        st = write_metrics_json(s, o, L, p, err);
        free(p);
    }
    if (!st) {
        char *p = lb_path_join(sg->dir, "training_curves.svg");
        /* early stopping: fewer epochs, the last one maybe partial */
        int done = s->epoch + (s->step_in_epoch > 0);
        st = write_svg(s, o, done < o->epochs ? done : o->epochs, p, err);
        free(p);
    }
    if (!st) st = lb_run_publish(out, sg, err);
    lb_staging_abort(&fin_sg);
    return st;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

lb_status lb_run_rotate_checkpoints(const lb_train_state *s, int limit, bool at_end, const char *work, lb_error *err) {
    char **names = NULL;
    int n = 0;
    lb_status st = lb_dir_list(work, &names, &n, err);
    if (st) return st;
    int64_t *steps = malloc(sizeof(int64_t) * (size_t)(n ? n : 1));
    int k = 0;
    for (int i = 0; steps && i < n; i++) {
        size_t len = strlen(names[i]);
        if (len < 2 || names[i][len - 1] != '/') continue; /* folders only, listed with a '/' */
        names[i][len - 1] = 0;
        if (is_checkpoint_name(names[i])) steps[k++] = strtoll(names[i] + 11, NULL, 10);
    }
    lb_dir_list_free(names);
    if (!steps) return lb_err(err, LB_ERR_NOMEM, "out of memory");
    qsort(steps, (size_t)k, sizeof *steps, cmp_i64);
    int best = -1;
    for (int i = 0; s->best_epoch && i < k; i++)
        if (steps[i] == s->best_step) best = i;
    int drop = 0;
    if (at_end) {
        if (best >= 0) { /* every one but the best */
            steps[best] = steps[k - 1];
            drop = k - 1;
        }
    } else {
        /* _sorted_checkpoints: the best bubbles up to the second-newest place */
        for (int i = best; best >= 0 && i < k - 2; i++) {
            int64_t tmp = steps[i];
            steps[i] = steps[i + 1];
            steps[i + 1] = tmp;
        }
        int keep = limit;
        if (best >= 0 && limit == 1 && steps[k - 1] != s->best_step) keep = 2;
        drop = k > keep ? k - keep : 0;
    }
    for (int i = 0; !st && i < drop; i++) {
        char name[64];
        snprintf(name, sizeof name, "checkpoint-%lld", (long long)steps[i]);
        char *p = lb_path_join(work, name);
        if (!p) st = lb_err(err, LB_ERR_NOMEM, "out of memory");
        else st = lb_remove_tree(p, err);
        free(p);
    }
    free(steps);
    return st;
}
