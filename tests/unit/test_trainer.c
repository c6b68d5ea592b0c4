/* Tests for src/train/trainer: per-step loss and final-adapter parity with an HF Trainer
 * trajectory (tests/golden/distilbert_traj, written by the real transformers 4.32.1 + peft
 * 0.6.2), interruption + resume giving a bitwise-identical adapter, output files, evaluation
 * consistency and the non-finite-loss stop. */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "base/fileio.h"
#include "model/peft.h"
#include "formats/safetensors.h"
#include "kernels/kernels.h"
#include "train/optim.h"
#include "train/trainer.h"
#include "../support/train_support.h"
#include "../support/test_support.h"

/* Labels of imdb/train.csv rows (0-based data rows): each line starts with its label. */
static int read_labels(const char *csv, int32_t *labels, int max) {
    char *text;
    size_t len;
    lb_error err;
    if (lb_read_file(csv, &text, &len, &err)) return -1;
    int n = 0;
    char *p = strchr(text, '\n');
    while (p && p[1] && n < max) {
        labels[n++] = p[1] - '0';
        p = strchr(p + 1, '\n');
    }
    free(text);
    return n;
}

/* The trajectory case at dir (model/, trajectory/{init,final,order.json,tokens.json,expected.json});
 * src (NULL: dir) holds model/ and trajectory/{init,order.json,tokens.json} when dir has only
 * trajectory/{final,expected.json} (a schedule case over distilbert_traj's run). */
static void run_trajectory_from(const char *dir, const char *src) {
    if (!src) src = dir;
    char p[512], csv[512];
    snprintf(csv, sizeof csv, "%s/data/imdb/train.csv", shared_dir());
    if (!lb_file_exists(csv)) cr_skip_test("shared data absent (%s); set LORABERT_SHARED", csv);
    static int32_t labels[100000];
    int nrows = read_labels(csv, labels, 100000);
    cr_assert(nrows > 0);
    snprintf(p, sizeof p, "%s/trajectory/tokens.json", src);
    cJSON *tok = read_json(p);
    const cJSON *rows = cJSON_GetObjectItem(tok, "rows");
    /* every train.csv row; rows the trajectory never uses hold [CLS] [SEP] */
    lb_tokset ts = {0};
    lb_error err;
    int32_t *ids = malloc(sizeof(int32_t) * 100000);
    for (int r = 0; r < nrows; r++) {
        char key[16];
        snprintf(key, sizeof key, "%d", r);
        const cJSON *a = cJSON_GetObjectItem(rows, key);
        int n = 0;
        if (a) {
            const cJSON *x;
            cJSON_ArrayForEach(x, a) ids[n++] = x->valueint;
        } else {
            ids[0] = 101, ids[1] = 102, n = 2;
        }
        cr_assert_eq(lb_tokset_add_pair(&ts, ids, n, n, labels[r], &err), LB_OK);
    }
    free(ids);
    cJSON_Delete(tok);
    snprintf(p, sizeof p, "%s/model", src);
    lb_load_opts lo = {.quiet = true};
    lb_model *m = lb_model_load(p, &lo, &err);
    cr_assert_not_null(m, "%s", err.msg);
    snprintf(p, sizeof p, "%s/trajectory/init", dir); /* the case's own init, else the source's */
    if (!lb_dir_exists(p)) snprintf(p, sizeof p, "%s/trajectory/init", src);
    cr_assert_eq(lb_peft_load(m, p, &err), LB_OK, "%s", err.msg);
    snprintf(p, sizeof p, "%s/trajectory/expected.json", dir);
    cJSON *exp = read_json(p);
    const cJSON *args = cJSON_GetObjectItem(exp, "args"), *losses = cJSON_GetObjectItem(exp, "losses");
    lb_train_opts o;
    lb_train_defaults(&o);
    o.epochs = cJSON_GetObjectItem(args, "num_train_epochs")->valueint;
    o.batch_size = cJSON_GetObjectItem(args, "per_device_train_batch_size")->valueint;
    o.lr = cJSON_GetObjectItem(args, "learning_rate")->valuedouble;
    o.weight_decay = (float)cJSON_GetObjectItem(args, "weight_decay")->valuedouble;
    o.max_grad_norm = cJSON_GetObjectItem(args, "max_grad_norm")->valuedouble;
    const cJSON *sched = cJSON_GetObjectItem(args, "lr_scheduler_type");
    if (sched) {
        lb_lr_schedule k;
        cr_assert(lb_lr_schedule_parse(sched->valuestring, &k), "%s", sched->valuestring);
        o.lr_schedule = (int)k;
        const cJSON *wr = cJSON_GetObjectItem(args, "warmup_ratio"), *ws = cJSON_GetObjectItem(args, "warmup_steps");
        o.warmup_ratio = wr ? wr->valuedouble : 0.0;
        o.warmup_steps = ws ? ws->valueint : 0;
    }
    int epochs;
    int32_t *orows, *ooff;
    int64_t nsteps;
    snprintf(p, sizeof p, "%s/trajectory/order.json", src);
    cr_assert_eq(lb_batch_order_load(p, &orows, &ooff, &nsteps, &epochs, &err), LB_OK, "%s", err.msg);
    cr_assert_eq(epochs, o.epochs);
    /* the loss options of the smoothing / class-weight cases */
    const cJSON *ls = cJSON_GetObjectItem(args, "label_smoothing_factor"),
                *cwj = cJSON_GetObjectItem(args, "class_weights");
    float cw[LB_METRICS_MAX_LABELS];
    lb_loss_spec spec = {0};
    if (ls) o.label_smoothing = spec.smoothing = (float)ls->valuedouble;
    if (cwj) {
        cr_assert_eq(cJSON_GetArraySize(cwj), 2);
        for (int c = 0; c < 2; c++) cw[c] = (float)cJSON_GetArrayItem(cwj, c)->valuedouble;
        o.class_weights = spec.weights = cw;
    }
    /* multi-label / regression cases: the targets of every row they use (others 0) */
    const cJSON *pt = cJSON_GetObjectItem(args, "problem_type");
    if (pt) {
        lb_problem_type pk;
        cr_assert(lb_problem_type_parse(pt->valuestring, &pk), "%s", pt->valuestring);
        o.problem = spec.problem = (int)pk;
        const int L = lb_model_get_config(m)->num_labels;
        float *tg = calloc((size_t)ts.n * L, sizeof(float));
        const cJSON *x;
        cJSON_ArrayForEach(x, cJSON_GetObjectItem(exp, "targets")) {
            const int r = atoi(x->string);
            if (cJSON_IsArray(x)) {
                cr_assert_eq(cJSON_GetArraySize(x), L);
                for (int j = 0; j < L; j++) tg[(int64_t)r * L + j] = (float)cJSON_GetArrayItem(x, j)->valuedouble;
            } else {
                cr_assert_eq(L, 1);
                tg[r] = (float)x->valuedouble;
            }
        }
        cr_assert_eq(lb_tokset_set_targets(&ts, tg, L, &err), LB_OK, "%s", err.msg);
        free(tg);
    }
    const cJSON *lp = cJSON_GetObjectItem(args, "loraplus_lr_ratio"); /* LoRA+ (PEFT 0.14's optimizer) */
    if (lp) o.loraplus_lr_ratio = lp->valuedouble;
    const cJSON *ga = cJSON_GetObjectItem(args, "gradient_accumulation_steps");
    o.grad_accum = ga ? ga->valueint : 1; /* order.json lists micro-batches, K per step */
    const int64_t nmicro = nsteps;
    nsteps /= o.grad_accum;
    cr_assert_eq(nsteps, cJSON_GetArraySize(losses));
    o.order_rows = orows;
    o.order_offsets = ooff;
    o.n_order_steps = nmicro;
    o.step_losses = calloc(nsteps, sizeof(float));
    o.step_grad_norms = calloc(nsteps, sizeof(float));
    lb_train_result res;
    cr_assert_eq(train_once(m, &ts, NULL, &o, &res, &err), LB_OK, "%s", err.msg);
    cr_assert_eq(res.global_step, nsteps);
    /* the learning rate of each update, bit for bit (HF: the optimizer's lr at that step) */
    const cJSON *lrs = cJSON_GetObjectItem(exp, "learning_rates");
    const int64_t wsteps = lb_warmup_steps(o.warmup_steps, o.warmup_ratio, nsteps);
    const cJSON *wexp = cJSON_GetObjectItem(args, "warmup");
    if (wexp) cr_assert_eq(wsteps, wexp->valueint);
    for (int64_t k = 0; k < nsteps; k++) {
        double got = lb_schedule_lr((lb_lr_schedule)o.lr_schedule, o.lr, k, wsteps, nsteps);
        double want = cJSON_GetArrayItem(lrs, (int)k)->valuedouble;
        cr_assert(got == want, "%s: update %lld: lr %.17g, HF %.17g", dir, (long long)k, got, want);
    }
    const cJSON *lrs_b = cJSON_GetObjectItem(exp, "learning_rates_b"); /* LoRA+'s lora_B group */
    for (int64_t k = 0; lrs_b && k < nsteps; k++) {
        double got =
            lb_schedule_group_lr((lb_lr_schedule)o.lr_schedule, o.lr, o.lr * o.loraplus_lr_ratio, k, wsteps, nsteps);
        double want = cJSON_GetArrayItem(lrs_b, (int)k)->valuedouble;
        cr_assert(got == want, "%s: update %lld: lora_B lr %.17g, HF %.17g", dir, (long long)k, got, want);
    }
    double worst = 0;
    int64_t worst_k = 0;
    for (int64_t k = 0; k < nsteps; k++) {
        double want = cJSON_GetArrayItem(losses, (int)k)->valuedouble;
        double rel = fabs(o.step_losses[k] - want) / fabs(want);
        if (rel > worst) worst = rel, worst_k = k;
    }
    cr_log_info("%s: per-step loss max relative diff %.3g (step %lld of %lld)", dir, worst, (long long)worst_k,
                (long long)nsteps);
    cr_assert(worst <= 1e-3, "step %lld loss %.9g vs HF %.9g", (long long)worst_k, o.step_losses[worst_k],
              cJSON_GetArrayItem(losses, (int)worst_k)->valuedouble);
    /* global grad norm before clipping, per step */
    const cJSON *norms = cJSON_GetObjectItem(exp, "grad_norms");
    double nworst = 0;
    for (int64_t k = 0; k < nsteps; k++) {
        double want = cJSON_GetArrayItem(norms, (int)k)->valuedouble;
        double rel = fabs(o.step_grad_norms[k] - want) / fabs(want);
        if (rel > nworst) nworst = rel;
        cr_assert(rel <= 1e-3, "step %lld grad norm %.9g vs HF %.9g", (long long)k, o.step_grad_norms[k], want);
    }
    cr_log_info("%s: per-step grad norm max relative diff %.3g", dir, nworst);
    /* final trainable tensors vs HF's final adapter */
    snprintf(p, sizeof p, "%s/trajectory/final/adapter_model.safetensors", dir);
    lb_st_file *f = lb_st_open(p, &err);
    cr_assert_not_null(f, "%s", err.msg);
    lb_param *params;
    int np = lb_model_params(m, &params);
    double tworst = 0;
    const char *tname = "";
    for (int i = 0; i < np; i++) {
        const lb_st_tensor *t = lb_st_find(f, params[i].name);
        cr_assert_not_null(t, "final adapter lacks %s", params[i].name);
        const float *want = lb_st_f32(f, t, &err);
        double d = 0, w = 0;
        for (int64_t j = 0; j < params[i].numel; j++) {
            d += ((double)params[i].data[j] - want[j]) * ((double)params[i].data[j] - want[j]);
            w += (double)want[j] * want[j];
        }
        double rel = sqrt(d / w);
        if (rel > tworst) tworst = rel, tname = params[i].name;
    }
    cr_log_info("%s: final tensors max relative L2 diff %.3g (%s)", dir, tworst, tname);
    cr_assert(tworst <= 1e-3, "final %s differs from HF by %.3g relative", tname, tworst);
    lb_st_close(f);
    /* HF's Trainer.evaluate() afterwards: eval_loss under the same compute_loss */
    const cJSON *erows = cJSON_GetObjectItem(exp, "eval_rows");
    if (erows) {
        lb_tokset ev = {0};
        const cJSON *x;
        cJSON_ArrayForEach(x, erows) {
            const int r = x->valueint;
            const int32_t n = (int32_t)(ts.offsets[r + 1] - ts.offsets[r]);
            cr_assert_eq(lb_tokset_add_pair(&ev, ts.ids + ts.offsets[r], n, n, ts.labels[r], &err), LB_OK);
        }
        if (ts.targets) { /* the eval rows' targets, in eval_rows order */
            const int K = ts.n_targets;
            float *tg = malloc(sizeof(float) * (size_t)ev.n * K);
            int i = 0;
            cJSON_ArrayForEach(x, erows)
                memcpy(tg + (int64_t)i++ * K, ts.targets + (int64_t)x->valueint * K, sizeof(float) * K);
            cr_assert_eq(lb_tokset_set_targets(&ev, tg, K, &err), LB_OK, "%s", err.msg);
            free(tg);
        }
        lb_eval_result er;
        cr_assert_eq(lb_evaluate_loss(m, &ev, o.batch_size, NULL, &spec, &er, NULL, &err), LB_OK, "%s", err.msg);
        const double want = cJSON_GetObjectItem(exp, "eval_loss")->valuedouble;
        cr_log_info("%s: eval_loss %.9g vs HF %.9g", dir, er.loss, want);
        cr_assert(fabs(er.loss - want) <= 1e-3 * fabs(want), "eval_loss %.9g vs HF %.9g", er.loss, want);
        lb_tokset_free(&ev);
    }
    free(o.step_losses);
    free(o.step_grad_norms);
    free(orows);
    free(ooff);
    cJSON_Delete(exp);
    lb_tokset_free(&ts);
    lb_model_free(m);
}

static void run_trajectory(const char *dir) { run_trajectory_from(dir, NULL); }

Test(trainer, trajectory_matches_hf_trainer, .timeout = 600) { run_trajectory("tests/golden/distilbert_traj"); }
/* lr_scheduler_type cosine with warmup_ratio 0.1 (11 warmup steps of 102) over distilbert_traj's run */
Test(trainer, cosine_warmup_ratio_trajectory_matches_hf_trainer, .timeout = 600) {
    run_trajectory_from("tests/golden/distilbert_traj_cosine", "tests/golden/distilbert_traj");
}
/* LoRA+ (loraplus_lr_ratio 8, lr 5e-4, weight decay 0.01): HF Trainer 4.48.3 with PEFT 0.14.0's
 * create_loraplus_optimizer over distilbert_traj's run (tools/reference/peft_options_golden.py) */
Test(trainer, loraplus_trajectory_matches_peft_optimizer, .timeout = 600) {
    run_trajectory_from("tests/golden/distilbert_traj_loraplus", "tests/golden/distilbert_traj");
}
/* rank_pattern / alpha_pattern (per-module ranks 8/4/2, alphas 32/16): HF Trainer 4.32.1 + PEFT
 * 0.6.2 from PEFT's own init of that config (tools/reference/pattern_golden.py) */
Test(trainer, rank_alpha_pattern_trajectory_matches_hf_trainer, .timeout = 600) {
    run_trajectory_from("tests/golden/peft_options/pattern", "tests/golden/distilbert_traj");
}
/* gradient_accumulation_steps 2 (HF's loss / K, clip and step after K micro-batches), 75 steps */
Test(trainer, accumulation_trajectory_matches_hf_trainer, .timeout = 600) {
    run_trajectory("tests/golden/distilbert_traj_accum");
}

/* label_smoothing_factor 0.2: HF's LabelSmoother, in training and in evaluate() */
Test(trainer, label_smoothing_trajectory_matches_hf_trainer, .timeout = 600) {
    run_trajectory("tests/golden/distilbert_traj_smooth");
}
/* class weights 0.4,1.6: torch CrossEntropyLoss(weight=...) as a custom compute_loss */
Test(trainer, class_weights_trajectory_matches_hf_trainer, .timeout = 600) {
    run_trajectory("tests/golden/distilbert_traj_cw");
}
/* problem_type multi_label_classification (3 labels): BCEWithLogitsLoss, in training and evaluate() */
Test(trainer, multilabel_trajectory_matches_hf_trainer, .timeout = 600) {
    run_trajectory("tests/golden/distilbert_traj_multilabel");
}
/* regression (num_labels 1, HF's inferred problem_type): MSELoss of the squeezed output */
Test(trainer, regression_trajectory_matches_hf_trainer, .timeout = 600) {
    run_trajectory("tests/golden/distilbert_traj_regression");
}
/* RoBERTa (byte-level BPE tokens) and XLM-R (Unigram tokens) on their small golden models: 102 steps each. */
Test(trainer, roberta_trajectory_matches_hf_trainer, .timeout = 600) { run_trajectory("tests/golden/roberta_tiny"); }
Test(trainer, xlmr_trajectory_matches_hf_trainer, .timeout = 600) { run_trajectory("tests/golden/xlmr_tiny"); }
Test(trainer, modernbert_trajectory_matches_hf_trainer, .timeout = 600) {
    run_trajectory("tests/golden/modernbert_tiny");
}

Test(trainer, full_trajectory_matches_hf_trainer, .timeout = 3600) {
    const char *g = getenv("LORABERT_FULL_GOLDEN");
    char dir[512];
    snprintf(dir, sizeof dir, "%s/distilbert_base", g ? g : "");
    if (!g || !lb_dir_exists(dir)) cr_skip_test("LORABERT_FULL_GOLDEN/distilbert_base absent");
    run_trajectory(dir);
}

/* The real pretrained checkpoint (all-MiniLM-L6-v2, BERT), LoRA on query,value. */
Test(trainer, real_model_trajectory_matches_hf_trainer, .timeout = 3600) {
    const char *g = getenv("LORABERT_FULL_GOLDEN");
    char dir[512];
    snprintf(dir, sizeof dir, "%s/minilm_real/trajectory", g ? g : "");
    if (!g || !lb_dir_exists(dir)) cr_skip_test("LORABERT_FULL_GOLDEN/minilm_real absent");
    snprintf(dir, sizeof dir, "%s/minilm_real", g);
    run_trajectory(dir);
}

/* A small synthetic task for tests/golden/distilbert_tiny (vocab 120, every dropout active:
 * hidden 0.1, attention 0.1, head 0.2): class = whether token 115 occurs. */
static void toy_set(lb_tokset *ts, int n, uint64_t seed) {
    lb_rng r;
    lb_rng_seed(&r, seed);
    memset(ts, 0, sizeof *ts);
    for (int i = 0; i < n; i++) {
        int32_t ids[40];
        int len = 3 + (int)lb_rng_below(&r, 30);
        int y = (int)lb_rng_below(&r, 2);
        ids[0] = 2;
        for (int t = 1; t < len - 1; t++) ids[t] = 5 + (int32_t)lb_rng_below(&r, 100);
        if (y) ids[1 + lb_rng_below(&r, len - 2)] = 115;
        ids[len - 1] = 3;
        lb_error err;
        cr_assert_eq(lb_tokset_add_pair(ts, ids, len, len, y, &err), LB_OK);
    }
}

static lb_model *toy_model(float lora_dropout) {
    lb_load_opts lo = {.quiet = true, .seed = 3};
    lb_error err;
    lb_model *m = lb_model_load("tests/golden/distilbert_tiny/model", &lo, &err);
    cr_assert_not_null(m, "%s", err.msg);
    lb_lora_config c = {.r = 4, .alpha = 32, .dropout = lora_dropout, .target_mask = 1u << LB_LIN_Q};
    cr_assert_eq(lb_model_add_lora(m, &c, 7, &err), LB_OK, "%s", err.msg);
    return m;
}

static void toy_opts(lb_train_opts *o, const char *out) {
    lb_train_defaults(o);
    o->epochs = 3;
    o->batch_size = 4;
    o->logging_steps = 4;
    o->output_dir = out;
    o->base_model_name = "tiny";
}

static char *slurp(const char *dir, const char *file, size_t *len) {
    char *p = lb_path_join(dir, file), *d = NULL;
    lb_error err;
    cr_assert_eq(lb_read_file(p, &d, len, &err), LB_OK, "%s", err.msg);
    free(p);
    return d;
}

static void rm_rf(const char *dir) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

Test(trainer, interrupt_and_resume_is_bitwise_identical, .timeout = 600) {
    lb_tokset tr, va;
    toy_set(&tr, 26, 1); /* 7 steps per epoch, the last one partial */
    toy_set(&va, 10, 2);
    char a[] = "/tmp/lbtrainAXXXXXX", b[] = "/tmp/lbtrainBXXXXXX";
    cr_assert_not_null(mkdtemp(a));
    cr_assert_not_null(mkdtemp(b));
    lb_error err;
    lb_train_result ra, rb;
    lb_train_opts o;
    /* uninterrupted */
    lb_model *m = toy_model(0.1f);
    toy_opts(&o, a);
    cr_assert_eq(train_once(m, &tr, &va, &o, &ra, &err), LB_OK, "%s", err.msg);
    lb_model_free(m);
    /* interrupted mid-epoch 2, then at the end of epoch 2, then resumed to the end */
    int64_t stops[] = {10, 14, 0};
    for (int k = 0; k < 3; k++) {
        m = toy_model(0.1f);
        toy_opts(&o, b);
        char *resume = lb_path_join(b, "resume");
        if (k > 0) {
            lb_model_free(m);
            lb_load_opts lo = {.quiet = true, .seed = 3};
            m = lb_model_load("tests/golden/distilbert_tiny/model", &lo, &err);
            cr_assert_eq(lb_peft_load(m, resume, &err), LB_OK, "%s", err.msg);
            o.resume_dir = resume;
        }
        o.stop_after_step = stops[k];
        lb_status st = train_once(m, &tr, &va, &o, &rb, &err);
        if (stops[k]) {
            cr_assert_eq(st, LB_ERR_INTERRUPTED, "run %d: %s", k, err.msg);
            cr_assert(strstr(err.msg, "--resume"), "%s", err.msg);
        } else {
            cr_assert_eq(st, LB_OK, "%s", err.msg);
        }
        free(resume);
        lb_model_free(m);
    }
    size_t la, lb;
    char *da = slurp(a, "adapter_model.safetensors", &la), *db = slurp(b, "adapter_model.safetensors", &lb);
    cr_assert(la == lb && !memcmp(da, db, la), "resumed adapter differs from the uninterrupted one");
    free(da);
    free(db);
    cr_assert_eq(ra.best_epoch, rb.best_epoch);
    cr_assert_eq(ra.train_loss, rb.train_loss);
    /* outputs: checkpoints per epoch, state with HF's layout, metrics, plot, labels, no resume left */
    const char *files[] = {"adapter_config.json",
                           "trainer_state.json",
                           "metrics.json",
                           "training_curves.svg",
                           "labels.json",
                           "checkpoint-7/adapter_model.safetensors",
                           "checkpoint-14/trainer_state.json",
                           "checkpoint-21/adapter_config.json"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char *p = lb_path_join(b, files[i]);
        cr_assert(lb_file_exists(p), "%s missing", p);
        free(p);
    }
    char *rp = lb_path_join(b, "resume");
    cr_assert(!lb_dir_exists(rp), "resume folder left behind after a finished run");
    free(rp);
    char *p = lb_path_join(b, "trainer_state.json");
    cJSON *s = read_json(p);
    free(p);
    cr_assert_eq(cJSON_GetObjectItem(s, "global_step")->valueint, 21);
    cr_assert_eq(cJSON_GetObjectItem(s, "max_steps")->valueint, 21);
    const cJSON *h = cJSON_GetObjectItem(s, "log_history");
    /* logs at steps 4,8,...,20 (5), evals at 7,14,21 (3), the final summary (1) */
    cr_assert_eq(cJSON_GetArraySize(h), 9);
    const cJSON *first = cJSON_GetArrayItem(h, 0);
    cr_assert_eq(cJSON_GetObjectItem(first, "step")->valueint, 4);
    cr_assert_float_eq(cJSON_GetObjectItem(first, "epoch")->valuedouble, 0.57, 1e-12);
    cr_assert_float_eq(cJSON_GetObjectItem(first, "learning_rate")->valuedouble, 1e-3 * 17 / 21, 1e-15);
    cr_assert(cJSON_GetObjectItem(cJSON_GetArrayItem(h, 1), "eval_loss"));
    const char *best = cJSON_GetObjectItem(s, "best_model_checkpoint")->valuestring;
    cr_assert(!strncmp(best, b, strlen(b)) && strstr(best, "/checkpoint-"), "%s", best);
    cJSON_Delete(s);
    rm_rf(a);
    rm_rf(b);
    lb_tokset_free(&tr);
    lb_tokset_free(&va);
}

Test(trainer, eval_loss_is_per_sample_weighted_mean) {
    lb_tokset va;
    toy_set(&va, 11, 5);
    lb_model *m = toy_model(0.0f);
    lb_error err;
    lb_eval_result r4, r1;
    float *lg = malloc(sizeof(float) * 11 * 2);
    cr_assert_eq(lb_evaluate(m, &va, 4, NULL, &r4, lg, &err), LB_OK, "%s", err.msg);
    cr_assert_eq(lb_evaluate(m, &va, 1, NULL, &r1, NULL, &err), LB_OK, "%s", err.msg);
    double sum = 0;
    for (int i = 0; i < 11; i++) sum += lb_cross_entropy(lg + 2 * i, va.labels + i, 1, 2, NULL);
    cr_assert(fabs(r4.loss - sum / 11) <= 1e-6 * fabs(r4.loss), "%.9g vs %.9g", r4.loss, sum / 11);
    cr_assert(fabs(r4.loss - r1.loss) <= 1e-5 * fabs(r1.loss), "batching changed the loss: %.9g vs %.9g", r4.loss,
              r1.loss);
    cr_assert_eq(r4.metrics.n, 11);
    free(lg);
    lb_model_free(m);
    lb_tokset_free(&va);
}

Test(trainer, non_finite_loss_stops_with_step) {
    lb_tokset tr;
    toy_set(&tr, 8, 9);
    lb_model *m = toy_model(0.0f);
    lb_param *params;
    int np = lb_model_params(m, &params);
    for (int i = 0; i < np; i++)
        if (strstr(params[i].name, "classifier.bias")) params[i].data[0] = NAN;
    lb_train_opts o;
    lb_train_defaults(&o);
    o.epochs = 1;
    lb_train_result r;
    lb_error err;
    cr_assert_eq(train_once(m, &tr, NULL, &o, &r, &err), LB_ERR_NUMERIC);
    cr_assert(strstr(err.msg, "step 1"), "%s", err.msg);
    lb_model_free(m);
    lb_tokset_free(&tr);
}

/* Evaluation refuses non-finite numbers (torch would give NaN metrics from NaN logits): a NaN
 * logit names its example; finite logits whose loss overflows float give "non-finite eval loss";
 * training's own per-epoch evaluation then stops with LB_ERR_NUMERIC like a non-finite train loss. */
static void set_head_bias(lb_model *m, float b0, float b1) {
    lb_param *params;
    int np = lb_model_params(m, &params);
    for (int i = 0; i < np; i++)
        if (strstr(params[i].name, "classifier.bias") && !strstr(params[i].name, "pre_classifier")) {
            params[i].data[0] = b0;
            params[i].data[1] = b1;
        }
}

Test(trainer, evaluate_refuses_non_finite) {
    lb_tokset va;
    toy_set(&va, 6, 5);
    lb_model *m = toy_model(0.0f);
    lb_error err;
    lb_eval_result r;
    set_head_bias(m, 0.0f, NAN);
    cr_assert_eq(lb_evaluate(m, &va, 4, NULL, &r, NULL, &err), LB_ERR_NUMERIC);
    cr_assert(strstr(err.msg, "example 0: non-finite logits (nan for label 1)"), "%s", err.msg);
    set_head_bias(m, 3e38f, -3e38f); /* finite logits, but logsumexp - z overflows float */
    int has_one = 0;
    for (int i = 0; i < va.n; i++) has_one |= va.labels[i] == 1;
    cr_assert(has_one);
    cr_assert_eq(lb_evaluate(m, &va, 4, NULL, &r, NULL, &err), LB_ERR_NUMERIC);
    cr_assert(strstr(err.msg, "non-finite eval loss"), "%s", err.msg);
    lb_model_free(m);
    lb_tokset_free(&va);
}

Test(trainer, non_finite_eval_stops_training) {
    lb_tokset tr = {0}, va;
    toy_set(&va, 6, 5);
    lb_error err;
    for (int i = 0; i < 8; i++) { /* train on label 0 only: its loss stays finite */
        int32_t ids[4] = {2, 5 + i, 6 + i, 3};
        cr_assert_eq(lb_tokset_add_pair(&tr, ids, 4, 4, 0, &err), LB_OK);
    }
    lb_model *m = toy_model(0.0f);
    set_head_bias(m, 3e38f, -3e38f);
    lb_train_opts o;
    lb_train_defaults(&o);
    o.epochs = 1;
    lb_train_result r;
    cr_assert_eq(train_once(m, &tr, &va, &o, &r, &err), LB_ERR_NUMERIC, "%s", err.msg);
    cr_assert(strstr(err.msg, "epoch 1") && strstr(err.msg, "non-finite eval loss"), "%s", err.msg);
    lb_model_free(m);
    lb_tokset_free(&tr);
    lb_tokset_free(&va);
}

Test(trainer, empty_and_bad_inputs) {
    lb_tokset empty = {0};
    lb_model *m = toy_model(0.0f);
    lb_train_opts o;
    lb_train_defaults(&o);
    lb_train_result r;
    lb_error err;
    cr_assert_eq(train_once(m, &empty, NULL, &o, &r, &err), LB_ERR_FORMAT);
    cr_assert(strstr(err.msg, "empty"), "%s", err.msg);
    lb_model_free(m);
}

/* --metric-for-best accuracy: the winning epoch has the highest eval accuracy (first on ties),
 * and the model ends holding that epoch's adapter. */
Test(trainer, best_by_accuracy_is_highest_first, .timeout = 600) {
    lb_tokset tr, va;
    toy_set(&tr, 16, 11);
    toy_set(&va, 12, 12);
    char out[] = "/tmp/lbtrainCXXXXXX";
    cr_assert_not_null(mkdtemp(out));
    lb_model *m = toy_model(0.0f);
    lb_train_opts o;
    toy_opts(&o, out);
    o.epochs = 4;
    o.lr = 5e-3;
    o.best = LB_BEST_ACCURACY;
    lb_train_result r;
    lb_error err;
    cr_assert_eq(train_once(m, &tr, &va, &o, &r, &err), LB_OK, "%s", err.msg);
    char *p = lb_path_join(out, "trainer_state.json");
    cJSON *s = read_json(p);
    free(p);
    double best = -1;
    int best_epoch = 0;
    const cJSON *h;
    cJSON_ArrayForEach(h, cJSON_GetObjectItem(s, "log_history")) {
        const cJSON *acc = cJSON_GetObjectItem(h, "eval_accuracy");
        if (acc && acc->valuedouble > best) {
            best = acc->valuedouble;
            best_epoch = (int)cJSON_GetObjectItem(h, "epoch")->valuedouble;
        }
    }
    cr_assert_eq(r.best_epoch, best_epoch);
    cr_assert_float_eq(cJSON_GetObjectItem(s, "best_metric")->valuedouble, best, 0);
    /* the model now holds the best epoch's adapter: re-evaluating gives its accuracy */
    lb_eval_result e;
    cr_assert_eq(lb_evaluate(m, &va, 4, NULL, &e, NULL, &err), LB_OK, "%s", err.msg);
    cr_assert_float_eq(e.metrics.accuracy, best, 0);
    cJSON_Delete(s);
    rm_rf(out);
    lb_model_free(m);
    lb_tokset_free(&tr);
    lb_tokset_free(&va);
}

/* Early stopping (patience 2 with a threshold no improvement exceeds, so the run ends after
 * epoch 3 of 6) and save_total_limit 1 (only the best checkpoint at the end): a run interrupted
 * mid-epoch 3, when the counter is 1, and resumed ends bit for bit as the uninterrupted one (the
 * counter travels in resume.json; without it the resumed run would go on to epoch 4). */
Test(trainer, early_stopping_and_rotation_survive_resume, .timeout = 600) {
    lb_tokset tr, va;
    toy_set(&tr, 28, 1); /* 7 steps per epoch */
    toy_set(&va, 10, 2);
    char a[] = "/tmp/lbtrainESAXXXXXX", b[] = "/tmp/lbtrainESBXXXXXX";
    cr_assert_not_null(mkdtemp(a));
    cr_assert_not_null(mkdtemp(b));
    lb_error err;
    lb_train_result ra, rb;
    lb_train_opts o;
    const int64_t stops[] = {0, 17, 0};
    for (int k = 0; k < 3; k++) {
        const char *dir = k ? b : a;
        lb_model *m;
        char *resume = lb_path_join(b, "resume");
        if (k == 2) {
            lb_load_opts lo = {.quiet = true, .seed = 3};
            m = lb_model_load("tests/golden/distilbert_tiny/model", &lo, &err);
            cr_assert_not_null(m, "%s", err.msg);
            cr_assert_eq(lb_peft_load(m, resume, &err), LB_OK, "%s", err.msg);
        } else {
            m = toy_model(0.1f);
        }
        toy_opts(&o, dir);
        o.epochs = 6;
        o.early_stopping_patience = 2;
        o.early_stopping_threshold = 1e9;
        o.save_total_limit = 1;
        o.stop_after_step = stops[k];
        if (k == 2) o.resume_dir = resume;
        lb_status st = train_once(m, &tr, &va, &o, k ? &rb : &ra, &err);
        cr_assert_eq(st, stops[k] ? LB_ERR_INTERRUPTED : LB_OK, "run %d: %s", k, err.msg);
        free(resume);
        lb_model_free(m);
    }
    cr_assert_eq(ra.global_step, 21, "stopped at step %lld, expected after epoch 3 (21)", (long long)ra.global_step);
    cr_assert_eq(rb.global_step, 21);
    size_t la, lb;
    char *da = slurp(a, "adapter_model.safetensors", &la), *db = slurp(b, "adapter_model.safetensors", &lb);
    cr_assert(la == lb && !memcmp(da, db, la), "resumed adapter differs from the uninterrupted one");
    free(da);
    free(db);
    for (int k = 0; k < 2; k++) {
        const char *dir = k ? b : a;
        char *p = lb_path_join(dir, "trainer_state.json");
        cJSON *s = read_json(p);
        free(p);
        cr_assert_float_eq(cJSON_GetObjectItem(s, "epoch")->valuedouble, 3.0, 0);
        const cJSON *h = cJSON_GetObjectItem(s, "log_history");
        const cJSON *fin = cJSON_GetArrayItem(h, cJSON_GetArraySize(h) - 1);
        cr_assert(cJSON_GetObjectItem(fin, "train_runtime"));
        cr_assert_float_eq(cJSON_GetObjectItem(fin, "epoch")->valuedouble, 3.0, 0);
        const char *best = strrchr(cJSON_GetObjectItem(s, "best_model_checkpoint")->valuestring, '/') + 1;
        /* save_total_limit 1: the best alone is left */
        for (int step = 7; step <= 21; step += 7) {
            char name[64];
            snprintf(name, sizeof name, "checkpoint-%d", step);
            char *cp = lb_path_join(dir, name);
            cr_assert_eq(lb_dir_exists(cp), !strcmp(name, best), "%s: %s (best %s)", dir, name, best);
            free(cp);
        }
        cJSON_Delete(s);
    }
    rm_rf(a);
    rm_rf(b);
    lb_tokset_free(&tr);
    lb_tokset_free(&va);
}

/* log_history without the timings (runtimes and rates differ between two runs) as text. */
static char *history_text(const char *dir) {
    char *p = lb_path_join(dir, "trainer_state.json");
    cJSON *s = read_json(p);
    free(p);
    cJSON *h = cJSON_DetachItemFromObject(s, "log_history");
    cJSON *e;
    cJSON_ArrayForEach(e, h) {
        static const char *const timing[] = {"eval_runtime",  "eval_samples_per_second",  "eval_steps_per_second",
                                             "train_runtime", "train_samples_per_second", "train_steps_per_second"};
        for (size_t i = 0; i < sizeof timing / sizeof timing[0]; i++) cJSON_DeleteItemFromObject(e, timing[i]);
    }
    char *t = cJSON_PrintUnformatted(h);
    cJSON_Delete(h);
    cJSON_Delete(s);
    return t;
}

/* eval / save strategy "steps" (intervals that do not divide the 7-step epoch), rotation, early
 * stopping in the middle of an epoch, and load_best_model_at_end false with mixed strategies:
 * a run interrupted after a plain step, right after an evaluation, and right after an evaluation
 * with a checkpoint, then resumed, ends bit for bit as the uninterrupted run (adapter, log
 * history, best checkpoint, the checkpoints left). */
Test(trainer, steps_strategies_survive_resume, .timeout = 600) {
    lb_tokset tr, va;
    toy_set(&tr, 28, 1); /* 7 steps per epoch */
    toy_set(&va, 10, 2);
    for (int cfg = 0; cfg < 2; cfg++) {
        char a[] = "/tmp/lbtrainSTAXXXXXX", b[] = "/tmp/lbtrainSTBXXXXXX";
        cr_assert_not_null(mkdtemp(a));
        cr_assert_not_null(mkdtemp(b));
        lb_error err;
        lb_train_result ra, rb;
        lb_train_opts o;
        /* cfg 0: eval every 3, save every 6, limit 2, patience 3 (threshold 1e9: state.best_metric is
         * None until the first checkpoint at step 6, so the evaluations at 3 and 6 "improve", those at
         * 9, 12 and 15 do not: the run ends at step 15, in the middle of epoch 3). cfg 1: eval each epoch, save every
         * 4 steps, load_best_model_at_end false. */
        const int64_t stops[][5] = {{0, 4, 6, 9, 0}, {0, 7, 8, 13, 0}};
        for (int k = 0; k < 5; k++) {
            const char *dir = k ? b : a;
            lb_model *m;
            char *resume = lb_path_join(b, "resume");
            if (k >= 2) {
                lb_load_opts lo = {.quiet = true, .seed = 3};
                m = lb_model_load("tests/golden/distilbert_tiny/model", &lo, &err);
                cr_assert_not_null(m, "%s", err.msg);
                cr_assert_eq(lb_peft_load(m, resume, &err), LB_OK, "%s", err.msg);
            } else {
                m = toy_model(0.1f);
            }
            toy_opts(&o, dir);
            o.epochs = 4;
            o.logging_steps = 2;
            if (cfg == 0) {
                o.eval_strategy = o.save_strategy = LB_STRATEGY_STEPS;
                o.eval_steps = 3;
                o.save_steps = 6;
                o.save_total_limit = 2;
                o.early_stopping_patience = 3;
                o.early_stopping_threshold = 1e9;
            } else {
                o.save_strategy = LB_STRATEGY_STEPS;
                o.save_steps = 4;
                o.load_best = false;
            }
            o.stop_after_step = stops[cfg][k];
            if (k >= 2) o.resume_dir = resume;
            lb_status st = train_once(m, &tr, &va, &o, k ? &rb : &ra, &err);
            cr_assert_eq(st, stops[cfg][k] ? LB_ERR_INTERRUPTED : LB_OK, "cfg %d run %d: %s", cfg, k, err.msg);
            free(resume);
            lb_model_free(m);
        }
        cr_assert_eq(ra.global_step, cfg ? 28 : 15, "cfg %d: stopped at step %lld", cfg, (long long)ra.global_step);
        cr_assert_eq(rb.global_step, ra.global_step);
        size_t la, lb;
        char *da = slurp(a, "adapter_model.safetensors", &la), *db = slurp(b, "adapter_model.safetensors", &lb);
        cr_assert(la == lb && !memcmp(da, db, la), "cfg %d: resumed adapter differs from the uninterrupted one", cfg);
        free(da);
        free(db);
        char *ha = history_text(a), *hb = history_text(b);
        cr_assert_str_eq(ha, hb, "cfg %d: log_history", cfg);
        free(ha);
        free(hb);
        char best_a[64];
        for (int k = 0; k < 2; k++) {
            const char *dir = k ? b : a;
            char *p = lb_path_join(dir, "trainer_state.json");
            cJSON *s = read_json(p);
            free(p);
            const cJSON *bm = cJSON_GetObjectItem(s, "best_model_checkpoint");
            /* cfg 1: no save's step was evaluated in the same call (the epoch's evaluation comes
             * after the step's checkpoint, as HF's on_epoch_end after on_step_end): no best */
            cr_assert_eq(cJSON_IsString(bm), cfg == 0, "cfg %d: best_model_checkpoint", cfg);
            const char *best = cJSON_IsString(bm) ? strrchr(bm->valuestring, '/') + 1 : "none";
            if (cfg == 0) cr_assert(!strcmp(best, "checkpoint-6") || !strcmp(best, "checkpoint-12"), "best %s", best);
            if (k == 0) snprintf(best_a, sizeof best_a, "%s", best);
            else cr_assert_str_eq(best, best_a, "cfg %d: the resumed run's best", cfg);
            cr_assert_eq(cJSON_GetObjectItem(s, "eval_steps")->valueint, cfg ? 500 : 3);
            cr_assert_eq(cJSON_GetObjectItem(s, "save_steps")->valueint, cfg ? 4 : 6);
            if (cfg == 0) {
                /* evaluations at 3, 6, 9, 12, 15; saves at 6 and 12 */
                cr_assert_float_eq(cJSON_GetObjectItem(s, "epoch")->valuedouble, 2 + 1.0 / 7, 0);
                const cJSON *h = cJSON_GetObjectItem(s, "log_history");
                int nev = 0;
                const cJSON *e;
                cJSON_ArrayForEach(e, h) nev += cJSON_GetObjectItem(e, "eval_loss") != NULL;
                cr_assert_eq(nev, 5);
                const cJSON *fin = cJSON_GetArrayItem(h, cJSON_GetArraySize(h) - 1);
                cr_assert_float_eq(cJSON_GetObjectItem(fin, "epoch")->valuedouble, 2.14, 0);
            }
            /* cfg 0: checkpoints 6 and 12, both within the limit; cfg 1: every 4th step, all kept */
            for (int step = 1; step <= 28; step++) {
                char name[64];
                snprintf(name, sizeof name, "checkpoint-%d", step);
                char *cp = lb_path_join(dir, name);
                bool want = cfg ? step % 4 == 0 : step == 6 || step == 12;
                cr_assert_eq(lb_dir_exists(cp), want, "cfg %d %s: %s (best %s)", cfg, dir, name, best);
                free(cp);
            }
            cJSON_Delete(s);
        }
        rm_rf(a);
        rm_rf(b);
    }
    lb_tokset_free(&tr);
    lb_tokset_free(&va);
}

/* load_best_model_at_end false: the adapter is the last step's, so metrics.json and the run's
 * result report the last step's evaluation (eval_step), never the best checkpoint's; a last step
 * that was not evaluated reports none. load_best_model_at_end true reports the best checkpoint's. */
Test(trainer, result_eval_is_the_written_adapters, .timeout = 600) {
    lb_tokset tr, va;
    toy_set(&tr, 28, 1); /* 7 steps per epoch, 14 in all */
    toy_set(&va, 10, 2);
    /* eval every 2 (the last step, 14, evaluated), every 3 (the last evaluation at 12), every 2
     * with load_best true (checkpoints every 4: the best is one of 4, 8, 12) */
    const int every[] = {2, 3, 2};
    for (int cfg = 0; cfg < 3; cfg++) {
        char dir[] = "/tmp/lbtrainREXXXXXX";
        cr_assert_not_null(mkdtemp(dir));
        lb_model *m = toy_model(0.1f);
        lb_train_opts o;
        toy_opts(&o, dir);
        o.epochs = 2;
        o.eval_strategy = o.save_strategy = LB_STRATEGY_STEPS;
        o.eval_steps = every[cfg];
        o.save_steps = every[cfg] * 2;
        o.load_best = cfg == 2;
        lb_train_result r;
        lb_error err;
        cr_assert_eq(train_once(m, &tr, &va, &o, &r, &err), LB_OK, "cfg %d: %s", cfg, err.msg);
        lb_model_free(m);
        cr_assert_eq(r.global_step, 14);
        char *p = lb_path_join(dir, "trainer_state.json");
        cJSON *st = read_json(p);
        free(p);
        p = lb_path_join(dir, "metrics.json");
        cJSON *mj = read_json(p);
        free(p);
        /* the last evaluation in log_history, and the best checkpoint's */
        const cJSON *e, *last = NULL;
        cJSON_ArrayForEach(e, cJSON_GetObjectItem(st, "log_history")) if (cJSON_GetObjectItem(e, "eval_loss")) last = e;
        cr_assert_not_null(last);
        const int last_step = cJSON_GetObjectItem(last, "step")->valueint;
        cr_assert_eq(last_step, cfg == 1 ? 12 : 14);
        const cJSON *loss = cJSON_GetObjectItem(mj, "loss"), *es = cJSON_GetObjectItem(mj, "eval_step");
        cr_assert_gt(r.best_epoch, 0, "cfg %d: a best checkpoint is tracked either way", cfg);
        if (cfg == 0) {
            cr_assert_eq(r.eval_step, 14);
            cr_assert(cJSON_IsNumber(es) && es->valueint == 14, "cfg 0: metrics.json eval_step");
            cr_assert_null(cJSON_GetObjectItem(mj, "best_epoch"));
            cr_assert(cJSON_IsNumber(loss) &&
                          fabs(loss->valuedouble - cJSON_GetObjectItem(last, "eval_loss")->valuedouble) < 1e-6,
                      "cfg 0: metrics.json's loss is the last step's evaluation");
            cr_assert(fabs(r.eval.loss - cJSON_GetObjectItem(last, "eval_loss")->valuedouble) < 1e-6);
            /* the best is a checkpoint (4, 8 or 12), another adapter than step 14's */
            cr_assert_neq(r.eval.loss, r.best_eval.loss, "cfg 0: eval is the last step's, not the best's");
        } else if (cfg == 1) {
            cr_assert_eq(r.eval_step, 0, "cfg 1: the last step was not evaluated");
            cr_assert_eq(r.eval.loss, 0);
            cr_assert_null(loss, "cfg 1: metrics.json names no evaluation of an adapter it does not hold");
            cr_assert_null(es);
        } else {
            const cJSON *bm = cJSON_GetObjectItem(st, "best_model_checkpoint");
            cr_assert(cJSON_IsString(bm));
            const long long best_step = atoll(strrchr(bm->valuestring, '-') + 1);
            cr_assert_eq(r.eval_step, best_step);
            cr_assert_eq(r.eval.loss, r.best_eval.loss);
            cr_assert(cJSON_IsNumber(loss) && fabs(loss->valuedouble - r.best_eval.loss) < 1e-6);
            cr_assert_null(es, "load_best true: metrics.json as before (best_epoch, no eval_step)");
            cr_assert_not_null(cJSON_GetObjectItem(mj, "best_epoch"));
        }
        cJSON_Delete(st);
        cJSON_Delete(mj);
        rm_rf(dir);
    }
    lb_tokset_free(&tr);
    lb_tokset_free(&va);
}

static void keep_line(void *user, const char *line) {
    char *buf = user;
    if (strstr(line, "class weights")) snprintf(buf, 512, "%s", line);
}

/* class_weights_auto: sklearn's "balanced" n / (num_labels * count_c) over the training set, the
 * same run as those weights given explicitly (bit for bit), announced through on_log. */
Test(trainer, class_weights_auto_are_balanced_counts, .timeout = 600) {
    lb_tokset tr;
    toy_set(&tr, 26, 1);
    int64_t count[2] = {0, 0};
    for (int64_t i = 0; i < tr.n; i++) count[tr.labels[i]]++;
    cr_assert(count[0] != count[1], "the toy set should be unbalanced (%lld/%lld)", (long long)count[0],
              (long long)count[1]);
    const float want[2] = {(float)(26.0 / (2.0 * (double)count[0])), (float)(26.0 / (2.0 * (double)count[1]))};
    float losses[2][14];
    char line[512] = "";
    for (int k = 0; k < 2; k++) {
        lb_model *m = toy_model(0.0f);
        lb_train_opts o;
        toy_opts(&o, NULL);
        o.epochs = 2;
        o.step_losses = losses[k];
        if (k) o.class_weights = want;
        else o.class_weights_auto = true;
        lb_train_callbacks cb = {.user = line, .on_log = k ? NULL : keep_line};
        lb_trainer *t;
        lb_error err;
        cr_assert_eq(lb_trainer_open(m, &tr, NULL, &o, &cb, &t, &err), LB_OK, "%s", err.msg);
        lb_train_result res;
        cr_assert_eq(lb_trainer_run(t, &res, &err), LB_OK, "%s", err.msg);
        cr_assert_eq(res.global_step, 14);
        lb_trainer_close(t);
        lb_model_free(m);
    }
    for (int s = 0; s < 14; s++) cr_assert_eq(losses[0][s], losses[1][s], "step %d: auto differs from explicit", s + 1);
    char expect[128];
    snprintf(expect, sizeof expect, "[%.6g, %.6g]", (double)want[0], (double)want[1]);
    cr_assert(strstr(line, "auto") && strstr(line, expect), "notice '%s' lacks %s", line, expect);
    lb_tokset_free(&tr);
}

Test(trainer, loss_options_refused) {
    lb_tokset tr = {0};
    lb_error err;
    int32_t ids[3] = {2, 7, 3};
    for (int i = 0; i < 5; i++) cr_assert_eq(lb_tokset_add_pair(&tr, ids, 3, 3, 0, &err), LB_OK);
    lb_model *m = toy_model(0.0f);
    lb_trainer *t = NULL;
    lb_train_opts o;
    toy_opts(&o, NULL);
    o.class_weights_auto = true; /* label 1 has no example */
    cr_assert_eq(lb_trainer_open(m, &tr, NULL, &o, NULL, &t, &err), LB_ERR_USAGE);
    cr_assert(strstr(err.msg, "label 1") && strstr(err.msg, "no example"), "%s", err.msg);
    toy_opts(&o, NULL);
    o.label_smoothing = 1.0;
    cr_assert_eq(lb_trainer_open(m, &tr, NULL, &o, NULL, &t, &err), LB_ERR_USAGE);
    cr_assert(strstr(err.msg, "label_smoothing_factor 1"), "%s", err.msg);
    o.label_smoothing = NAN;
    cr_assert_eq(lb_trainer_open(m, &tr, NULL, &o, NULL, &t, &err), LB_ERR_USAGE);
    const float w[2] = {1.0f, 0.0f};
    toy_opts(&o, NULL);
    o.class_weights = w;
    cr_assert_eq(lb_trainer_open(m, &tr, NULL, &o, NULL, &t, &err), LB_ERR_USAGE);
    cr_assert(strstr(err.msg, "class weight 1 is 0"), "%s", err.msg);
    const float w2[2] = {1.0f, 2.0f};
    o.class_weights = w2;
    o.label_smoothing = 0.1;
    cr_assert_eq(lb_trainer_open(m, &tr, NULL, &o, NULL, &t, &err), LB_ERR_UNSUPPORTED);
    cr_assert_null(t);
    lb_model_free(m);
    lb_tokset_free(&tr);
}
