/* The public training run (lb_train_run_*, lb_train_step_batch) against the internal trainer:
 * the same datasets give a bitwise-identical adapter and train_loss; caller-given batches give
 * the same per-step losses as the trainer's own batches; callbacks see every step and epoch;
 * misuse is refused with a message. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "base/fileio.h"
#include "base/rng.h"
#include "data/dataset.h"
#include "model/model.h"
#include "text/tokenizer.h"
#include "train/trainer.h"
#include "../support/train_support.h"

/* A model folder: tests/golden/distilbert_tiny (vocab 120, every dropout active) with a
 * vocab.txt of [PAD] [UNK] [CLS] [SEP] [MASK] w5 .. w119. */
static char *tiny_model_dir(void) {
    char *dir = strdup("/tmp/lbtrainrunXXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    char cmd[512];
    snprintf(cmd, sizeof cmd, "cp tests/golden/distilbert_tiny/model/* '%s/'", dir);
    cr_assert_eq(system(cmd), 0);
    char *p = lb_path_join(dir, "vocab.txt");
    FILE *f = fopen(p, "w");
    cr_assert_not_null(f);
    fputs("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n", f);
    for (int i = 5; i < 120; i++) fprintf(f, "w%d\n", i);
    fclose(f);
    free(p);
    return dir;
}

static void rm_rf(const char *dir) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

/* n rows "w.. w.. ..." labelled "pos" when w115 occurs, else "neg" (string labels, sorted). */
static void toy_dataset(lb_dataset *d, int n, uint64_t seed) {
    lb_rng r;
    lb_rng_seed(&r, seed);
    memset(d, 0, sizeof *d);
    d->n = (size_t)n;
    d->texts = calloc((size_t)n, sizeof *d->texts);
    d->labels = calloc((size_t)n, sizeof *d->labels);
    d->num_labels = 2;
    d->label_kind = LB_LABEL_KIND_STR;
    d->label_names = calloc(3, sizeof *d->label_names);
    d->label_names[0] = strdup("neg");
    d->label_names[1] = strdup("pos");
    for (int i = 0; i < n; i++) {
        char buf[400];
        size_t used = 0;
        int len = 1 + (int)lb_rng_below(&r, 20), y = (int)lb_rng_below(&r, 2);
        int at = y ? (int)lb_rng_below(&r, (uint64_t)len) : -1;
        for (int t = 0; t < len; t++)
            used += (size_t)snprintf(buf + used, sizeof buf - used, "%sw%d", t ? " " : "",
                                     t == at ? 115 : 5 + (int)lb_rng_below(&r, 100));
        d->texts[i] = strdup(buf);
        d->labels[i] = y;
    }
}

typedef struct seen {
    int steps, epochs, logs;
    int64_t last_step;
    char labels_line[128];
} seen;
static void on_step(void *u, const lb_step_info *s) {
    seen *x = u;
    x->steps++;
    cr_assert_eq(s->step, x->last_step + 1);
    x->last_step = s->step;
    cr_assert(s->step_in_epoch >= 1 && s->step_in_epoch <= s->steps_per_epoch);
}
static void on_epoch(void *u, const lb_epoch_info *e) {
    seen *x = u;
    x->epochs++;
    cr_assert_eq(e->epoch, x->epochs);
    cr_assert(e->evaluated && e->checkpoint_dir && lb_dir_exists(e->checkpoint_dir), "epoch %d", e->epoch);
}
static void on_log(void *u, const char *line) {
    seen *x = u;
    x->logs++;
    if (!strncmp(line, "labels:", 7)) snprintf(x->labels_line, sizeof x->labels_line, "%s", line);
}

static char *slurp(const char *dir, const char *file, size_t *len) {
    char *p = lb_path_join(dir, file), *d = NULL;
    lb_error err;
    cr_assert_eq(lb_read_file(p, &d, len, &err), LB_OK, "%s", err.msg);
    free(p);
    return d;
}

static const char *const names[] = {"neg", "pos"};

static lb_model *public_model(const char *dir) {
    lb_model_options mo = {.labels = names, .num_labels = 2, .seed = 3};
    lb_model *m;
    lb_error err;
    cr_assert_eq(lb_model_open(dir, &mo, &m, &err), LB_OK, "%s", err.msg);
    lb_lora_options lo = {.r = 4, .alpha = 32, .dropout = 0.1, .seed = 7};
    cr_assert_eq(lb_model_add_adapter(m, &lo, &err), LB_OK, "%s", err.msg);
    return m;
}

Test(train_run, public_run_equals_internal_trainer, .timeout = 600) {
    char *dir = tiny_model_dir();
    lb_dataset tr, va;
    toy_dataset(&tr, 22, 1);
    toy_dataset(&va, 9, 2);
    char *out_a = lb_path_join(dir, "a"), *out_b = lb_path_join(dir, "b");
    lb_error err;
    /* public: datasets in, labels mapped by name, tokenised with the model's tokenizer */
    lb_model *m = public_model(dir);
    lb_train_options o;
    lb_train_options_init(&o);
    o.num_train_epochs = 2;
    o.logging_steps = 3;
    o.output_dir = out_a;
    o.base_model_name = "tiny";
    seen x = {0};
    lb_train_callbacks cb = {.user = &x, .on_step = on_step, .on_epoch = on_epoch, .on_log = on_log};
    lb_train_run *r;
    cr_assert_eq(lb_train_run_open(m, &tr, &va, &o, &cb, &r, &err), LB_OK, "%s", err.msg);
    lb_train_result ra;
    cr_assert_eq(lb_train_run_all(r, &ra, &err), LB_OK, "%s", err.msg);
    bool done = false;
    cr_assert_eq(lb_train_step(r, NULL, &done, &err), LB_ERR_USAGE, "a finished run takes no more steps");
    cr_assert(done);
    lb_train_run_close(r);
    lb_model_close(m);
    cr_assert_eq(x.steps, 12); /* 6 steps per epoch */
    cr_assert_eq(x.epochs, 2);
    cr_assert_str_eq(x.labels_line, "labels: 0=neg 1=pos");
    cr_assert_eq(ra.global_step, 12);

    /* internal: the same through lb_tokset + the internal trainer */
    lb_load_opts lo = {.quiet = true, .seed = 3, .num_labels = 2, .labels = names};
    m = lb_model_load(dir, &lo, &err);
    cr_assert_not_null(m, "%s", err.msg);
    lb_lora_config lc = {.r = 4, .alpha = 32, .dropout = 0.1f, .target_mask = 1u << LB_LIN_Q};
    cr_assert_eq(lb_model_add_lora(m, &lc, 7, &err), LB_OK, "%s", err.msg);
    lb_tokenizer *tok = lb_tokenizer_load(dir, &err);
    cr_assert_not_null(tok, "%s", err.msg);
    lb_tokset ts[2];
    const lb_dataset *ds[2] = {&tr, &va};
    for (int k = 0; k < 2; k++) {
        size_t lens[64];
        for (size_t i = 0; i < ds[k]->n; i++) lens[i] = strlen(ds[k]->texts[i]);
        cr_assert_eq(lb_tokset_build_pairs(&ts[k], tok, (const char *const *)ds[k]->texts, lens, NULL, NULL,
                                           ds[k]->labels, (int64_t)ds[k]->n, 2, 512, true, "set", &err),
                     LB_OK, "%s", err.msg);
    }
    lb_train_opts to;
    lb_train_defaults(&to);
    to.epochs = 2;
    to.logging_steps = 3;
    to.output_dir = out_b;
    to.base_model_name = "tiny";
    to.tokenizer_dir = dir;
    to.label_names = names;
    lb_train_result rb;
    cr_assert_eq(train_once(m, &ts[0], &ts[1], &to, &rb, &err), LB_OK, "%s", err.msg);
    cr_assert_eq(ra.train_loss, rb.train_loss);
    cr_assert_eq(ra.best_epoch, rb.best_epoch);
    cr_assert_eq(ra.best_eval.loss, rb.best_eval.loss);
    const char *files[] = {"adapter_model.safetensors", "labels.json", "adapter_config.json",
                           "checkpoint-6/adapter_model.safetensors"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        size_t la, lb;
        char *da = slurp(out_a, files[i], &la), *db = slurp(out_b, files[i], &lb);
        cr_assert(la == lb && !memcmp(da, db, la), "%s differs between the public and the internal run", files[i]);
        free(da);
        free(db);
    }
    lb_tokset_free(&ts[0]);
    lb_tokset_free(&ts[1]);
    lb_tokenizer_free(tok);
    lb_model_free(m);
    lb_dataset_free(&tr);
    lb_dataset_free(&va);
    free(out_a);
    free(out_b);
    rm_rf(dir);
    free(dir);
}

/* lb_train_step_batch on the batches the trainer would build gives the trainer's losses. */
Test(train_run, step_batch_equals_trainer_steps, .timeout = 600) {
    char *dir = tiny_model_dir();
    lb_error err;
    lb_tokset ts = {0};
    lb_rng r;
    lb_rng_seed(&r, 5);
    for (int i = 0; i < 12; i++) {
        int32_t ids[40];
        int len = 3 + (int)lb_rng_below(&r, 30), y = (int)lb_rng_below(&r, 2);
        ids[0] = 2;
        for (int t = 1; t < len - 1; t++) ids[t] = 5 + (int32_t)lb_rng_below(&r, 100);
        ids[len - 1] = 3;
        cr_assert_eq(lb_tokset_add_pair(&ts, ids, len, len, y, &err), LB_OK);
    }
    /* 4 steps of 3 rows in a fixed order */
    int32_t rows[12] = {3, 7, 1, 0, 11, 5, 9, 2, 6, 4, 10, 8}, offs[5] = {0, 3, 6, 9, 12};
    lb_train_opts to;
    lb_train_defaults(&to);
    to.epochs = 1;
    to.order_rows = rows;
    to.order_offsets = offs;
    to.n_order_steps = 4;
    to.warmup_steps = 1;
    float want[4];
    to.step_losses = want;
    lb_model *m = public_model(dir);
    lb_train_result res;
    cr_assert_eq(train_once(m, &ts, NULL, &to, &res, &err), LB_OK, "%s", err.msg);
    lb_param *pa;
    int np = lb_model_params(m, &pa);

    lb_model *m2 = public_model(dir);
    lb_train_options o;
    lb_train_options_init(&o);
    o.max_steps = 4;
    o.warmup_steps = 1;
    lb_train_run *run;
    cr_assert_eq(lb_train_run_open(m2, NULL, NULL, &o, NULL, &run, &err), LB_OK, "%s", err.msg);
    cr_assert_eq(lb_train_step(run, NULL, NULL, &err), LB_ERR_USAGE, "a batch run has no data order");
    lb_collator c = {0};
    for (int k = 0; k < 4; k++) {
        lb_batch b;
        cr_assert(lb_collate(&c, &ts, rows + offs[k], 3, 0, &b) > 0);
        lb_step_info info;
        cr_assert_eq(lb_train_step_batch(run, b.ids, b.lengths, NULL, b.B, b.T, c.labels, &info, &err), LB_OK, "%s",
                     err.msg);
        cr_assert_eq(info.step, k + 1);
        cr_assert_eq((float)info.loss, want[k], "step %d: %.9g vs the trainer's %.9g", k + 1, info.loss, want[k]);
    }
    lb_param *pb;
    cr_assert_eq(lb_model_params(m2, &pb), np);
    for (int i = 0; i < np; i++)
        cr_assert(!memcmp(pa[i].data, pb[i].data, sizeof(float) * (size_t)pa[i].numel), "%s differs", pa[i].name);
    /* past max_steps, and bad labels: refused */
    lb_batch b;
    lb_collate(&c, &ts, rows, 3, 0, &b);
    cr_assert_eq(lb_train_step_batch(run, b.ids, b.lengths, NULL, b.B, b.T, c.labels, NULL, &err), LB_ERR_USAGE);
    cr_assert(strstr(err.msg, "max_steps"), "%s", err.msg);
    lb_train_run_close(run);
    lb_train_options_init(&o);
    o.max_steps = 2;
    cr_assert_eq(lb_train_run_open(m2, NULL, NULL, &o, NULL, &run, &err), LB_OK, "%s", err.msg);
    int32_t bad[3] = {0, 2, 1};
    cr_assert_eq(lb_train_step_batch(run, b.ids, b.lengths, NULL, b.B, b.T, bad, NULL, &err), LB_ERR_USAGE);
    cr_assert(strstr(err.msg, "label 2"), "%s", err.msg);
    cr_assert_eq(lb_train_step_batch(run, b.ids, b.lengths, NULL, 0, b.T, c.labels, NULL, &err), LB_ERR_USAGE);
    lb_train_run_close(run);
    o.max_steps = 0;
    cr_assert_eq(lb_train_run_open(m2, NULL, NULL, &o, NULL, &run, &err), LB_ERR_USAGE, "max_steps is required");
    cr_assert_null(run);
    lb_collator_free(&c);
    lb_model_close(m);
    lb_model_close(m2);
    lb_tokset_free(&ts);
    rm_rf(dir);
    free(dir);
}

Test(train_run, unknown_string_label_is_named) {
    char *dir = tiny_model_dir();
    lb_dataset tr;
    toy_dataset(&tr, 5, 3);
    free(tr.label_names[1]);
    tr.label_names[1] = strdup("positive");
    for (size_t i = 0; i < tr.n; i++) tr.labels[i] = (int32_t)(i % 2);
    lb_model *m = public_model(dir);
    lb_train_run *r;
    lb_error err;
    cr_assert_eq(lb_train_run_open(m, &tr, NULL, NULL, NULL, &r, &err), LB_ERR_FORMAT);
    cr_assert(strstr(err.msg, "row 1") && strstr(err.msg, "unknown label \"positive\""), "%s", err.msg);
    lb_train_options o;
    lb_train_options_init(&o);
    o.metric_for_best_model = "bleu";
    cr_assert_eq(lb_train_run_open(m, &tr, NULL, &o, NULL, &r, &err), LB_ERR_USAGE);
    cr_assert(strstr(err.msg, "bleu"), "%s", err.msg);
    /* the planned epochs are bounded (each has its row up front), and the bound is named */
    for (size_t i = 0; i < tr.n; i++) tr.labels[i] = 0;
    free(tr.label_names[1]);
    tr.label_names[1] = strdup("pos");
    lb_train_options_init(&o);
    o.num_train_epochs = 10001;
    cr_assert_eq(lb_train_run_open(m, &tr, NULL, &o, NULL, &r, &err), LB_ERR_UNSUPPORTED, "%s", err.msg);
    cr_assert(strstr(err.msg, "10001 epochs, at most 10000"), "%s", err.msg);
    lb_model_close(m);
    lb_dataset_free(&tr);
    rm_rf(dir);
    free(dir);
}
