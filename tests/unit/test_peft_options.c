/* The PEFT options of issue 16 on the model and optimizer layers: LoRA inits (PEFT
 * init_lora_weights true / "gaussian" / false) against PEFT 0.14.0's own (moments of the draws,
 * and PEFT-saved adapters with these inits loading with PEFT's logits), their round trip through
 * adapter_config.json, LoRA+'s parameter groups (PEFT 0.14 create_loraplus_optimizer), and the
 * adapters refused by name (other inits, modules_to_save lorabert cannot train in full). Goldens:
 * tests/golden/peft_options (tools/reference/peft_options_golden.py). The LoRA+ trajectory
 * itself is tests/unit/test_trainer.c's loraplus_trajectory_matches_peft_optimizer. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "base/fileio.h"
#include "formats/safetensors.h"
#include "model/model.h"
#include "kernels/kernels.h"
#include "model/peft.h"
#include "train/optim.h"
#include "../support/test_support.h"

#define INITS "tests/golden/peft_options/inits"
#define MODEL_ALL "tests/golden/distilbert_tiny_all/model"

typedef struct {
    double n, mean, std;
} moments;

/* Population moments of every lora_A (want_b: lora_B) value of m's adapter. */
static moments adapter_moments(lb_model *m, bool want_b) {
    lb_param *ps;
    int np = lb_model_params(m, &ps);
    double n = 0, s = 0, s2 = 0;
    for (int i = 0; i < np; i++) {
        if (!strstr(ps[i].name, want_b ? ".lora_B." : ".lora_A.")) continue;
        for (int64_t j = 0; j < ps[i].numel; j++) {
            n++;
            s += ps[i].data[j];
            s2 += (double)ps[i].data[j] * ps[i].data[j];
        }
    }
    cr_assert(n > 0);
    moments o = {n, s / n, 0};
    o.std = sqrt(s2 / n - o.mean * o.mean);
    return o;
}

static moments golden_moments(const cJSON *stats, const char *init, const char *which) {
    const cJSON *x = cJSON_GetObjectItem(cJSON_GetObjectItem(stats, init), which);
    cr_assert_not_null(x, "stats.json lacks %s.%s", init, which);
    return (moments){cJSON_GetObjectItem(x, "count")->valuedouble, cJSON_GetObjectItem(x, "mean")->valuedouble,
                     cJSON_GetObjectItem(x, "std")->valuedouble};
}

/* Two samples of one distribution with standard deviation sd: means within 5 standard errors,
 * standard deviations within 5 of theirs (sd / sqrt(2n) each, for a normal or uniform law
 * this is within a factor 1.3). */
static void assert_same_law(moments a, moments b, double sd, const char *what) {
    double se_mean = sd * sqrt(1.0 / a.n + 1.0 / b.n), se_std = sd * sqrt(1.0 / (2 * a.n) + 1.0 / (2 * b.n));
    cr_log_info("%s: lorabert mean %.4g std %.4g (n %.0f), PEFT mean %.4g std %.4g (n %.0f), expected std %.4g", what,
                a.mean, a.std, a.n, b.mean, b.std, b.n, sd);
    cr_assert(fabs(a.mean - b.mean) <= 5 * se_mean, "%s: mean %.4g vs PEFT %.4g", what, a.mean, b.mean);
    cr_assert(fabs(a.std - b.std) <= 5 * se_std, "%s: std %.4g vs PEFT %.4g", what, a.std, b.std);
}

static lb_model *load_all(void) {
    lb_error e = {0};
    lb_load_opts lo = {.quiet = true};
    lb_model *m = lb_model_load(in_repo(MODEL_ALL), &lo, &e);
    cr_assert_not_null(m, "%s", e.msg);
    return m;
}

/* lorabert's draws follow PEFT's law for each init: gaussian A ~ N(0, 1/r^2) and B = 0; false A
 * U(+-1/sqrt(in)) and B U(+-1/sqrt(r)); the default's A is narrower than gaussian's at this
 * size (so the gaussian check can tell them apart). Same model, r and targets as PEFT's. */
Test(lora_init, draws_follow_peft_laws) {
    cJSON *sj = read_json(in_repo(INITS "/stats.json"));
    const cJSON *stats = cJSON_GetObjectItem(sj, "stats");
    lb_error e = {0};
    /* the A's input sizes: 5 of 6 kinds read 24 values, lin2 reads 40 */
    const double sd_kaiming = sqrt((5.0 * 24 * (1.0 / 24) / 3.0 + 1.0 * 40 * (1.0 / 40) / 3.0) /
                                   (5.0 * 24 + 40)); /* pooled U(+-1/sqrt(in)) */
    for (int seed = 1; seed <= 3; seed++) {
        lb_model *m = load_all();
        lb_lora_config c = {.r = 4, .alpha = 32, .target_mask = 0x3f, .init = LB_LORA_INIT_GAUSSIAN};
        cr_assert_eq(lb_model_add_lora(m, &c, (uint64_t)seed, &e), LB_OK, "%s", e.msg);
        assert_same_law(adapter_moments(m, false), golden_moments(stats, "gaussian", "lora_A"), 0.25, "gaussian A");
        moments b = adapter_moments(m, true);
        cr_assert(b.mean == 0 && b.std == 0, "gaussian: B must start at 0");
        cr_assert(golden_moments(stats, "gaussian", "lora_B").std == 0, "PEFT's gaussian B is 0 too");
        lb_model_free(m);

        m = load_all();
        c.init = LB_LORA_INIT_NONE;
        cr_assert_eq(lb_model_add_lora(m, &c, (uint64_t)seed, &e), LB_OK, "%s", e.msg);
        assert_same_law(adapter_moments(m, false), golden_moments(stats, "false", "lora_A"), sd_kaiming, "false A");
        assert_same_law(adapter_moments(m, true), golden_moments(stats, "false", "lora_B"), 0.5 / sqrt(3.0), "false B");
        lb_model_free(m);

        m = load_all();
        c.init = LB_LORA_INIT_DEFAULT;
        cr_assert_eq(lb_model_add_lora(m, &c, (uint64_t)seed, &e), LB_OK, "%s", e.msg);
        moments a = adapter_moments(m, false);
        cr_assert(fabs(a.std - sd_kaiming) < 0.1 * sd_kaiming && a.std < 0.6 * 0.25, "default A std %.4g", a.std);
        cr_assert(adapter_moments(m, true).std == 0);
        lb_model_free(m);
    }
    cJSON_Delete(sj);
}

/* PEFT 0.14's adapters with init_lora_weights "gaussian" and false load (as saved: the tensors
 * are the file's), and the false one - non-zero B - gives PEFT's logits. */
Test(lora_init, peft_saved_adapters_load_with_peft_logits) {
    lb_error e = {0};
    lb_lora_config c;
    cr_assert_eq(lb_peft_read_config(in_repo(INITS "/gaussian"), &c, NULL, &e), LB_OK, "%s", e.msg);
    cr_assert_eq(c.init, LB_LORA_INIT_GAUSSIAN);
    cr_assert_eq(c.target_mask, 0x3fu);
    cr_assert_eq(lb_peft_read_config(in_repo(INITS "/false"), &c, NULL, &e), LB_OK, "%s", e.msg);
    cr_assert_eq(c.init, LB_LORA_INIT_NONE);

    lb_st_file *fw = lb_st_open(in_repo("tests/golden/distilbert_tiny_all/forward.safetensors"), &e);
    cr_assert_not_null(fw, "%s", e.msg);
    const lb_st_tensor *ti = lb_st_find(fw, "input_ids"), *tm = lb_st_find(fw, "attention_mask");
    cr_assert(ti && tm && ti->ndim == 2);
    int B = (int)ti->shape[0], T = (int)ti->shape[1];
    int32_t *ids = calloc((size_t)B * T, sizeof(int32_t)), *lens = calloc((size_t)B, sizeof(int32_t));
    const int64_t *id64 = ti->data, *m64 = tm->data;
    for (int i = 0; i < B * T; i++) {
        ids[i] = (int32_t)id64[i];
        lens[i / T] += (int32_t)m64[i];
    }
    lb_st_file *gl = lb_st_open(in_repo(INITS "/logits.safetensors"), &e);
    cr_assert_not_null(gl, "%s", e.msg);
    const lb_st_tensor *tl = lb_st_find(gl, "logits_false");
    cr_assert(tl && tl->ndim == 2 && tl->shape[0] == B);
    int L = (int)tl->shape[1];
    const float *want = lb_st_f32(gl, tl, &e);
    cr_assert_not_null(want, "%s", e.msg);

    float *got = calloc((size_t)B * L, sizeof(float)), *base = calloc((size_t)B * L, sizeof(float));
    lb_batch bt = {.B = B, .T = T, .ids = ids, .lengths = lens};
    lb_model *m = load_all();
    cr_assert_eq(lb_model_forward(m, &bt, false, NULL, base, &e), LB_OK, "%s", e.msg);
    cr_assert_eq(lb_peft_load(m, in_repo(INITS "/false"), &e), LB_OK, "%s", e.msg);
    cr_assert_eq(lb_model_get_lora(m)->init, LB_LORA_INIT_NONE);
    cr_assert_eq(lb_model_forward(m, &bt, false, NULL, got, &e), LB_OK, "%s", e.msg);
    double md = 0, moved = 0;
    for (int i = 0; i < B * L; i++) {
        md = fmax(md, fabs((double)got[i] - want[i]) / fmax(1.0, fabs(want[i])));
        moved = fmax(moved, fabs((double)want[i] - base[i]));
    }
    cr_log_info("init false: max logit diff vs PEFT %.3g (the adapter moves the logits by up to %.3g)", md, moved);
    cr_assert(moved > 1e-3, "the false-init adapter must change the logits");
    cr_assert(md <= 1e-5, "logits differ from PEFT's by %.3g", md);
    lb_model_free(m);

    m = load_all();
    cr_assert_eq(lb_peft_load(m, in_repo(INITS "/gaussian"), &e), LB_OK, "%s", e.msg);
    cr_assert_eq(lb_model_forward(m, &bt, false, NULL, got, &e), LB_OK, "%s", e.msg);
    for (int i = 0; i < B * L; i++) cr_assert_eq(got[i], base[i], "a fresh gaussian adapter (B = 0) is a no-op");
    lb_model_free(m);
    free(got);
    free(base);
    free(ids);
    free(lens);
    lb_st_close(gl);
    lb_st_close(fw);
}

/* lorabert writes the init as PEFT does and reads it back (pissa / olora: test_lora_init, saved
 * converted with init true). */
Test(lora_init, save_writes_init_lora_weights) {
    const char *want[] = {"\"init_lora_weights\": true,", "\"init_lora_weights\": \"gaussian\",",
                          "\"init_lora_weights\": false,"};
    for (int k = 0; k <= LB_LORA_INIT_NONE; k++) {
        lb_error e = {0};
        lb_model *m = load_all();
        lb_lora_config c = {.r = 2, .alpha = 8, .target_mask = 1u << LB_LIN_Q, .init = k};
        cr_assert_eq(lb_model_add_lora(m, &c, 5, &e), LB_OK, "%s", e.msg);
        char dir[512];
        snprintf(dir, sizeof dir, "%s", make_scratch_dir("lbinit"));
        cr_assert_eq(lb_peft_save(m, dir, "model", &e), LB_OK, "%s", e.msg);
        char path[600];
        snprintf(path, sizeof path, "%s/adapter_config.json", dir);
        size_t n;
        char *text = slurp_file(path, &n);
        cr_assert(strstr(text, want[k]), "%s: %s", lb_lora_init_name(k), text);
        cr_assert(!strstr(text, "loraplus"), "LoRA+ is an optimizer setting, not in adapter_config.json");
        free(text);
        lb_lora_config back;
        cr_assert_eq(lb_peft_read_config(dir, &back, NULL, &e), LB_OK, "%s", e.msg);
        cr_assert_eq(back.init, k);
        lb_model *m2 = load_all();
        cr_assert_eq(lb_peft_load(m2, dir, &e), LB_OK, "%s", e.msg);
        lb_model_free(m2);
        remove_tree(dir);
        lb_model_free(m);
    }
}

Test(lora_init, names) {
    lb_lora_init k;
    lb_error e = {0};
    cr_assert_eq(lb_lora_init_parse(NULL, &k, &e), LB_OK);
    cr_assert_eq(k, LB_LORA_INIT_DEFAULT);
    cr_assert_eq(lb_lora_init_parse("true", &k, &e), LB_OK);
    cr_assert_eq(k, LB_LORA_INIT_DEFAULT);
    cr_assert_eq(lb_lora_init_parse("gaussian", &k, &e), LB_OK);
    cr_assert_eq(k, LB_LORA_INIT_GAUSSIAN);
    cr_assert_eq(lb_lora_init_parse("false", &k, &e), LB_OK);
    cr_assert_eq(k, LB_LORA_INIT_NONE);
    cr_assert_str_eq(lb_lora_init_name(LB_LORA_INIT_GAUSSIAN), "gaussian");
    cr_assert_eq(lb_lora_init_parse("loftq", &k, &e), LB_ERR_UNSUPPORTED);
    cr_assert(strstr(e.msg, "'loftq' is not supported"), "%s", e.msg);
    cr_assert_eq(lb_lora_init_parse("Gaussian", &k, &e), LB_ERR_UNSUPPORTED, "PEFT lower()s; names here are exact");
    lb_model *m = load_all();
    lb_lora_config c = {.r = 2, .alpha = 8, .target_mask = 1, .init = 7};
    cr_assert_eq(lb_model_add_lora(m, &c, 1, &e), LB_ERR_USAGE);
    cr_assert_null(lb_model_get_lora(m));
    lb_model_free(m);
}

/* adapter_config.json variants of the gaussian golden: refused by name, never loaded half-way. */
Test(peft_config, refused_by_name) {
    static const struct {
        const char *key, *value, *msg;
        lb_status code;
    } cases[] = {
        {"init_lora_weights", "\"pissa\"", "init_lora_weights \"pissa\" is not supported", LB_ERR_UNSUPPORTED},
        {"init_lora_weights", "\"olora\"", "init_lora_weights \"olora\" is not supported", LB_ERR_UNSUPPORTED},
        {"init_lora_weights", "\"loftq\"", "init_lora_weights \"loftq\" is not supported", LB_ERR_UNSUPPORTED},
        {"init_lora_weights", "\"pissa_niter_4\"", "\"pissa_niter_4\" is not supported", LB_ERR_UNSUPPORTED},
        {"init_lora_weights", "3", "\"init_lora_weights\" must be true, false or a string", LB_ERR_FORMAT},
        {"modules_to_save", "[\"classifier\", \"ffn\"]",
         "adapter_config.json: modules_to_save \"ffn\" matches distilbert.transformer.layer.0.ffn,",
         LB_ERR_UNSUPPORTED},
        {"modules_to_save", "[\"LayerNorm\"]", "modules_to_save \"LayerNorm\" matches distilbert.embeddings.LayerNorm",
         LB_ERR_UNSUPPORTED},
        {"modules_to_save", "[\"nowhere\"]", "modules_to_save \"nowhere\" names no module", LB_ERR_UNSUPPORTED},
        {"modules_to_save", "[3]", "modules_to_save must hold strings", LB_ERR_FORMAT},
        {"lora_bias", "true", "lora_bias true is not supported", LB_ERR_UNSUPPORTED},
        {"layer_replication", "[[0, 1]]", "layer_replication is not supported", LB_ERR_UNSUPPORTED},
        {"exclude_modules", "[\"q_lin\"]", "exclude_modules is not supported", LB_ERR_UNSUPPORTED},
        {"rank_pattern", "{\"layer\\\\.\\\\d\\\\.q_lin\": 8}", "Python-only regular expression", LB_ERR_UNSUPPORTED},
        {"rank_pattern", "{\"q_lin\": 2.5}", "rank_pattern[\"q_lin\"] must be a positive integer", LB_ERR_FORMAT},
        {"rank_pattern", "[8]", "\"rank_pattern\" must be an object", LB_ERR_FORMAT},
        {"alpha_pattern", "{\"q_lin\": \"x\"}", "alpha_pattern[\"q_lin\"] must be a number", LB_ERR_FORMAT},
        {"rank_pattern", "{\"q_lin\": 8}", "has shape [4,24], expected [8,24]", LB_ERR_FORMAT},
    };
    size_t n;
    char *orig = slurp_file(in_repo(INITS "/gaussian/adapter_config.json"), &n);
    cJSON *root = cJSON_Parse(orig);
    cr_assert_not_null(root);
    free(orig);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cJSON *copy = cJSON_Duplicate(root, true);
        cJSON *v = cJSON_Parse(cases[i].value);
        cr_assert_not_null(v);
        cJSON_DeleteItemFromObjectCaseSensitive(copy, cases[i].key);
        cJSON_AddItemToObject(copy, cases[i].key, v);
        char dir[512];
        snprintf(dir, sizeof dir, "%s", make_scratch_dir("lbcfg"));
        char path[600];
        snprintf(path, sizeof path, "%s/adapter_config.json", dir);
        char *text = cJSON_Print(copy);
        write_text(path, text);
        free(text);
        snprintf(path, sizeof path, "%s/adapter_model.safetensors", dir);
        copy_file(in_repo(INITS "/gaussian/adapter_model.safetensors"), path);
        lb_error e = {0};
        lb_model *m = load_all();
        cr_assert_eq(lb_peft_load(m, dir, &e), cases[i].code, "%s=%s: %s", cases[i].key, cases[i].value, e.msg);
        cr_assert(strstr(e.msg, cases[i].msg), "%s=%s: %s", cases[i].key, cases[i].value, e.msg);
        if (!strstr(cases[i].msg, "has shape")) /* (a tensor check runs after the adapter is made) */
            cr_assert_null(lb_model_get_lora(m), "%s=%s: refused before the adapter is made", cases[i].key,
                           cases[i].value);
        lb_model_free(m);
        remove_tree(dir);
        cJSON_Delete(copy);
    }
    cJSON_Delete(root);
}

/* LoRA+'s groups: "lora_B" in the name or a 1-D tensor steps with lr_b; the rest with lr. A
 * zero gradient isolates the decay term: x * (1 - lr * wd) with each group's rate. */
Test(loraplus, groups_and_rates) {
    float a[4] = {1, 1, 1, 1}, b[4] = {1, 1, 1, 1}, w[4] = {1, 1, 1, 1}, bias[2] = {1, 1}, g[4] = {0};
    lb_param ps[4] = {
        {.name = "base_model.model.x.q_lin.lora_A.weight", .data = a, .grad = g, .numel = 4, .ndim = 2, .decay = true},
        {.name = "base_model.model.x.q_lin.lora_B.weight", .data = b, .grad = g, .numel = 4, .ndim = 2, .decay = true},
        {.name = "base_model.model.classifier.weight", .data = w, .grad = g, .numel = 4, .ndim = 2, .decay = true},
        {.name = "base_model.model.classifier.bias", .data = bias, .grad = g, .numel = 2, .ndim = 1, .decay = false},
    };
    lb_adamw_config cfg;
    lb_adamw_defaults(&cfg);
    cfg.weight_decay = 0.5f;
    cfg.loraplus = true;
    lb_adamw opt;
    lb_error e = {0};
    cr_assert_eq(lb_adamw_init(&opt, ps, 4, &cfg, &e), LB_OK, "%s", e.msg);
    cr_assert(!opt.fast[0] && opt.fast[1] && !opt.fast[2] && opt.fast[3]);
    lb_adamw_step_groups(&opt, 0.1, 0.4);
    cr_assert_float_eq(a[0], (float)(1.0 - 0.1 * 0.5), 1e-7);
    cr_assert_float_eq(b[0], (float)(1.0 - 0.4 * 0.5), 1e-7);
    cr_assert_float_eq(w[0], (float)(1.0 - 0.1 * 0.5), 1e-7);
    cr_assert_eq(bias[0], 1.0f, "the bias group (groupB_no_decay) has no decay");
    lb_adamw_free(&opt);
    /* without LoRA+ both rates are lr: lb_adamw_step */
    cfg.loraplus = false;
    cr_assert_eq(lb_adamw_init(&opt, ps, 4, &cfg, &e), LB_OK, "%s", e.msg);
    cr_assert_null(opt.fast);
    lb_adamw_free(&opt);
    /* the group's rate under the schedule: group_lr * lambda(step), lambda from the base lr */
    cr_assert_eq(lb_schedule_group_lr(LB_SCHED_LINEAR, 1e-3, 8e-3, 3, 2, 10), 8e-3 * (7.0 / 8.0));
    cr_assert_eq(lb_schedule_group_lr(LB_SCHED_POLYNOMIAL, 1e-3, 8e-3, 12, 2, 10), 8e-3 * (LB_POLY_LR_END / 1e-3),
                 "past the end: lr_end / the optimizer's lr, times the group's");
}

/* ---- rank_pattern / alpha_pattern --------------------------------------------------------- */
#define PATTERN "tests/golden/peft_options/pattern"

/* PEFT 0.6.2's adapter with rank_pattern (a path, a kind, a regex) and alpha_pattern: per-module
 * shapes load, and logits, loss and every gradient match PEFT's. */
Test(lora_pattern, peft_adapter_logits_and_gradients) {
    lb_error e = {0};
    lb_model *m = load_all();
    cr_assert_eq(lb_peft_load(m, in_repo(PATTERN "/lora"), &e), LB_OK, "%s", e.msg);
    const lb_lora_config *c = lb_model_get_lora(m);
    cr_assert_not_null(c->patterns);
    cr_assert_eq(c->patterns->n_rank, 3);
    cr_assert_eq(c->patterns->n_alpha, 2);
    /* the ranks PEFT gave (meta.json): k_lin of layers 0 and 2 by the regex, layer 1's q_lin */
    cJSON *meta = read_json(in_repo(PATTERN "/meta.json"));
    const cJSON *mods = cJSON_GetObjectItem(cJSON_GetObjectItem(meta, "grads"), "modules");
    lb_param *ps;
    int np = lb_model_params(m, &ps);
    int checked = 0;
    const cJSON *mod;
    cJSON_ArrayForEach(mod, mods) {
        char want[600];
        snprintf(want, sizeof want, "%s.lora_A.weight", mod->string);
        for (int i = 0; i < np; i++)
            if (!strcmp(ps[i].name, want)) {
                cr_assert_eq(ps[i].shape[0], cJSON_GetObjectItem(mod, "r")->valueint, "%s", want);
                checked++;
            }
    }
    cr_assert_eq(checked, 18);
    cJSON_Delete(meta);

    lb_st_file *f = lb_st_open(in_repo(PATTERN "/grads.safetensors"), &e);
    cr_assert_not_null(f, "%s", e.msg);
    const lb_st_tensor *ti = lb_st_find(f, "input_ids"), *tm = lb_st_find(f, "attention_mask"),
                       *tl = lb_st_find(f, "labels");
    int B = (int)ti->shape[0], T = (int)ti->shape[1];
    int32_t *ids = calloc((size_t)B * T, sizeof(int32_t)), *lens = calloc((size_t)B, sizeof(int32_t)),
            *labels = calloc((size_t)B, sizeof(int32_t));
    const int64_t *id64 = ti->data, *m64 = tm->data, *l64 = tl->data;
    for (int i = 0; i < B * T; i++) {
        ids[i] = (int32_t)id64[i];
        lens[i / T] += (int32_t)m64[i];
    }
    for (int b = 0; b < B; b++) labels[b] = (int32_t)l64[b];
    int NL = lb_model_get_config(m)->num_labels;
    float *logits = calloc((size_t)B * NL, sizeof(float)), *dl = calloc((size_t)B * NL, sizeof(float));
    lb_batch bt = {.B = B, .T = T, .ids = ids, .lengths = lens};
    cr_assert_eq(lb_model_forward(m, &bt, true, NULL, logits, &e), LB_OK, "%s", e.msg);
    const float *want = lb_st_f32(f, lb_st_find(f, "logits"), &e);
    double md = 0;
    for (int i = 0; i < B * NL; i++) md = fmax(md, fabs((double)logits[i] - want[i]) / fmax(1.0, fabs(want[i])));
    cr_log_info("pattern: max logit diff vs PEFT %.3g", md);
    cr_assert(md <= 1e-5, "logits differ from PEFT's by %.3g", md);
    float loss = lb_cross_entropy(logits, labels, B, NL, dl);
    float ref_loss = *lb_st_f32(f, lb_st_find(f, "loss"), &e);
    cr_assert(fabsf(loss - ref_loss) <= 1e-5f * fabsf(ref_loss), "loss %.8g vs PEFT %.8g", loss, ref_loss);
    lb_model_zero_grad(m);
    cr_assert_eq(lb_model_backward(m, dl, &e), LB_OK, "%s", e.msg);
    double worst = 0;
    for (int i = 0; i < np; i++) {
        char key[600];
        snprintf(key, sizeof key, "grad.%s", ps[i].name);
        const lb_st_tensor *t = lb_st_find(f, key);
        cr_assert_not_null(t, "no golden %s", key);
        cr_assert_eq(t->numel, ps[i].numel, "%s", key);
        const float *ref = lb_st_f32(f, t, &e);
        double d = 0, mr = 0;
        for (int64_t j = 0; j < ps[i].numel; j++) {
            d = fmax(d, fabs((double)ps[i].grad[j] - ref[j]));
            mr = fmax(mr, fabs((double)ref[j]));
        }
        worst = fmax(worst, d / mr);
        cr_assert(d <= 1e-4 * mr, "%s: max|diff|/max|ref| %.3g", ps[i].name, d / mr);
    }
    cr_log_info("pattern: worst gradient relative error %.3g over %d tensors", worst, np);
    free(ids);
    free(lens);
    free(labels);
    free(logits);
    free(dl);
    lb_st_close(f);
    lb_model_free(m);
}

static char *json_section(const char *text, const char *key) {
    const char *s = strstr(text, key);
    cr_assert_not_null(s, "no %s", key);
    const char *e = strchr(s, '}');
    return strndup(s, (size_t)(e - s + 1));
}

/* lorabert writes the dicts as PEFT does (sorted keys, ints), reads them back, and merging a
 * per-module-rank adapter gives the unmerged logits. */
Test(lora_pattern, save_reload_merge) {
    lb_error e = {0};
    lb_model *m = load_all();
    cr_assert_eq(lb_peft_load(m, in_repo(PATTERN "/lora"), &e), LB_OK, "%s", e.msg);
    char dir[512];
    snprintf(dir, sizeof dir, "%s", make_scratch_dir("lbpat"));
    cr_assert_eq(lb_peft_save(m, dir, "model", &e), LB_OK, "%s", e.msg);
    char path[600];
    size_t n;
    snprintf(path, sizeof path, "%s/adapter_config.json", dir);
    char *ours = slurp_file(path, &n), *theirs = slurp_file(in_repo(PATTERN "/lora/adapter_config.json"), &n);
    const char *keys[] = {"\"alpha_pattern\"", "\"rank_pattern\""};
    for (int i = 0; i < 2; i++) {
        char *a = json_section(ours, keys[i]), *b = json_section(theirs, keys[i]);
        cr_assert_str_eq(a, b);
        free(a);
        free(b);
    }
    free(ours);
    free(theirs);
    lb_model *m2 = load_all();
    cr_assert_eq(lb_peft_load(m2, dir, &e), LB_OK, "%s", e.msg);
    int B = 2, T = 7;
    int32_t ids[14] = {2, 5, 9, 11, 40, 3, 0, 2, 7, 8, 13, 21, 33, 3}, lens[2] = {6, 7};
    lb_batch bt = {.B = B, .T = T, .ids = ids, .lengths = lens};
    float a[8], b[8], c[8];
    int NL = lb_model_get_config(m)->num_labels;
    cr_assert_eq(lb_model_forward(m, &bt, false, NULL, a, &e), LB_OK, "%s", e.msg);
    cr_assert_eq(lb_model_forward(m2, &bt, false, NULL, b, &e), LB_OK, "%s", e.msg);
    for (int i = 0; i < B * NL; i++) cr_assert_eq(a[i], b[i], "reloaded adapter differs");
    cr_assert_eq(lb_model_merge_lora(m2, &e), LB_OK, "%s", e.msg);
    cr_assert_eq(lb_model_forward(m2, &bt, false, NULL, c, &e), LB_OK, "%s", e.msg);
    for (int i = 0; i < B * NL; i++) cr_assert(fabsf(a[i] - c[i]) <= 1e-5f * fmaxf(1.0f, fabsf(a[i])), "merged");
    remove_tree(dir);
    lb_model_free(m2);
    lb_model_free(m);
}

/* PEFT's key rule and where lorabert refuses: keys of one dict in conflict, a rank and an alpha
 * key that PEFT 0.6 and later PEFT read differently, Python-only syntax. */
Test(lora_pattern, module_params_rules) {
    lb_lora_patterns p = {0};
    lb_lora_config c = {.r = 4, .alpha = 32, .patterns = &p};
    lb_error e = {0};
    int r;
    float alpha;
    const char *q0 = "distilbert.transformer.layer.0.attention.q_lin";
    const char *q1 = "distilbert.transformer.layer.1.attention.q_lin";
    p.n_rank = 1;
    p.rank[0] = (lb_lora_pattern){"layer.0.attention.q_lin", 8};
    cr_assert_eq(lb_lora_module_params(&c, q0, &r, &alpha, &e), LB_OK, "%s", e.msg);
    cr_assert(r == 8 && alpha == 32);
    cr_assert_eq(lb_lora_module_params(&c, q1, &r, &alpha, &e), LB_OK);
    cr_assert(r == 4 && alpha == 32);
    /* the key needs a '.' before it: "_lin" does not match q_lin; a full path falls back to
     * the exact lookup */
    p.rank[0] = (lb_lora_pattern){"_lin", 8};
    cr_assert_eq(lb_lora_module_params(&c, q0, &r, &alpha, &e), LB_OK);
    cr_assert_eq(r, 4);
    snprintf(p.rank[0].key, sizeof p.rank[0].key, "%s", q0);
    cr_assert_eq(lb_lora_module_params(&c, q0, &r, &alpha, &e), LB_OK);
    cr_assert_eq(r, 8);
    /* two rank keys for one module with different values */
    p.n_rank = 2;
    p.rank[0] = (lb_lora_pattern){"q_lin", 8};
    p.rank[1] = (lb_lora_pattern){"layer.0.attention.q_lin", 2};
    cr_assert_eq(lb_lora_module_params(&c, q0, &r, &alpha, &e), LB_ERR_UNSUPPORTED);
    cr_assert(strstr(e.msg, "'q_lin' and 'layer.0.attention.q_lin' both match"), "%s", e.msg);
    cr_assert_eq(lb_lora_module_params(&c, q1, &r, &alpha, &e), LB_OK, "only one matches layer 1");
    cr_assert_eq(r, 8);
    /* rank by kind, alpha by path: PEFT 0.6.2 looks alpha up under "q_lin" (default 32), later
     * PEFT under the path (16) */
    p.n_rank = 1;
    p.n_alpha = 1;
    p.alpha[0] = (lb_lora_pattern){"layer.0.attention.q_lin", 16};
    cr_assert_eq(lb_lora_module_params(&c, q0, &r, &alpha, &e), LB_ERR_UNSUPPORTED);
    cr_assert(strstr(e.msg, "PEFT 0.6 reads r 8 alpha 32, later PEFT r 8 alpha 16"), "%s", e.msg);
    /* the same key in both: both read r 8 alpha 16 */
    p.alpha[0] = (lb_lora_pattern){"q_lin", 16};
    cr_assert_eq(lb_lora_module_params(&c, q0, &r, &alpha, &e), LB_OK, "%s", e.msg);
    cr_assert(r == 8 && alpha == 16);
    /* keys */
    cr_assert_eq(lb_lora_pattern_check_key("rank_pattern", "layer\\.[0-3]\\.attention\\.q_lin", &e), LB_OK, "%s",
                 e.msg);
    cr_assert_eq(lb_lora_pattern_check_key("rank_pattern", "layer\\.\\d\\.q_lin", &e), LB_ERR_UNSUPPORTED);
    cr_assert(strstr(e.msg, "Python-only"), "%s", e.msg);
    cr_assert_eq(lb_lora_pattern_check_key("rank_pattern", "(?:q|v)_lin", &e), LB_ERR_UNSUPPORTED);
    cr_assert_eq(lb_lora_pattern_check_key("rank_pattern", "layer.*?q_lin", &e), LB_ERR_UNSUPPORTED);
    cr_assert_eq(lb_lora_pattern_check_key("rank_pattern", "q_lin(", &e), LB_ERR_UNSUPPORTED);
    cr_assert_eq(lb_lora_pattern_check_key("rank_pattern", "((((a{255}){255}){255}){255})", &e), LB_ERR_UNSUPPORTED);
    cr_assert(strstr(e.msg, "bounded repetition"), "%s", e.msg);
    /* '+' copies its operand in regcomp: stacked or nested ones double the tree each time (the
     * fuzzer's key, 60 stacked '+', took regcomp past 2 GB) */
    cr_assert_eq(lb_lora_pattern_check_key("rank_pattern", "ffn.l++++++++++++++++++++++++++++++++++++++++in1", &e),
                 LB_ERR_UNSUPPORTED);
    cr_assert(strstr(e.msg, "pattern nodes"), "%s", e.msg);
    cr_assert_eq(lb_lora_pattern_check_key("rank_pattern", "((((((((((((((((a+)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+", &e),
                 LB_ERR_UNSUPPORTED);
    cr_assert(strstr(e.msg, "pattern nodes"), "%s", e.msg);
    /* a few '+' and plain keys stay well inside */
    cr_assert_eq(lb_lora_pattern_check_key("rank_pattern", "layer\\.[0-9]+\\.(attention|ffn)\\.(q|v)_lin+", &e), LB_OK,
                 "%s", e.msg);
    cr_assert_eq(lb_lora_pattern_check_key("rank_pattern", "((a+)+)+b", &e), LB_OK, "%s", e.msg);
    cr_assert_eq(lb_lora_pattern_check_key("rank_pattern", "", &e), LB_ERR_UNSUPPORTED);
}

/* A rank above the hidden size through a pattern is refused, and nothing changes. */
Test(lora_pattern, add_refuses_bad_ranks) {
    lb_error e = {0};
    lb_model *m = load_all();
    lb_lora_patterns p = {.n_rank = 1};
    lb_lora_config c = {.r = 4, .alpha = 32, .target_mask = 0x3f, .patterns = &p};
    p.rank[0] = (lb_lora_pattern){"lin2", 1000};
    cr_assert_eq(lb_model_add_lora(m, &c, 1, &e), LB_ERR_USAGE);
    cr_assert(strstr(e.msg, "r=1000") && strstr(e.msg, "lin2"), "%s", e.msg);
    cr_assert_null(lb_model_get_lora(m));
    p.rank[0] = (lb_lora_pattern){"lin2", 2};
    cr_assert_eq(lb_model_add_lora(m, &c, 1, &e), LB_OK, "%s", e.msg);
    lb_param *ps;
    int np = lb_model_params(m, &ps);
    int n2 = 0;
    for (int i = 0; i < np; i++)
        if (strstr(ps[i].name, "lin2.lora_A")) {
            cr_assert_eq(ps[i].shape[0], 2);
            n2++;
        }
    cr_assert_eq(n2, 3);
    lb_model_free(m);
}

/* The multi-adapter (serve) path: the pattern adapter loaded apart and run as one segment of a
 * batch beside base rows gives, bit for bit, the logits of a model holding it (each module with
 * its own rank and scaling), in fp32 and bf16. */
Test(lora_pattern, adapter_apart_in_segments) {
    lb_error e = {0};
    int B = 3, T = 6;
    int32_t ids[18] = {2, 5, 9, 11, 40, 3, 2, 7, 8, 3, 0, 0, 2, 13, 21, 33, 17, 3}, lens[3] = {6, 4, 6};
    lb_batch bt = {.B = B, .T = T, .ids = ids, .lengths = lens};
    for (int prec = 0; prec < 2; prec++) {
        lb_model *held = load_all(), *base = load_all();
        if (prec) {
            cr_assert_eq(lb_model_set_precision(held, LB_PRECISION_BF16, &e), LB_OK, "%s", e.msg);
            cr_assert_eq(lb_model_set_precision(base, LB_PRECISION_BF16, &e), LB_OK, "%s", e.msg);
        }
        cr_assert_eq(lb_peft_load(held, in_repo(PATTERN "/lora"), &e), LB_OK, "%s", e.msg);
        int NL = lb_model_get_config(held)->num_labels;
        float want[16], got[16], plain[16];
        cr_assert_eq(lb_model_forward(held, &bt, false, NULL, want, &e), LB_OK, "%s", e.msg);
        cr_assert_eq(lb_model_forward(base, &bt, false, NULL, plain, &e), LB_OK, "%s", e.msg);
        lb_lora_adapter *ad;
        cr_assert_eq(lb_peft_load_apart(base, in_repo(PATTERN "/lora"), NL, &ad, &e), LB_OK, "%s", e.msg);
        lb_segment segs[2] = {{0, 1, NULL}, {1, 3, ad}};
        cr_assert_eq(lb_model_forward_segments(base, &bt, segs, 2, got, NL, &e), LB_OK, "%s", e.msg);
        for (int j = 0; j < NL; j++) cr_assert_eq(got[j], plain[j], "base row");
        for (int i = NL; i < B * NL; i++)
            cr_assert_eq(got[i], want[i], "%s: adapter row value %d", prec ? "bf16" : "fp32", i);
        lb_lora_adapter_free(ad);
        lb_model_free(base);
        lb_model_free(held);
    }
}
