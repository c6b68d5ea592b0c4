/* Tests for DoRA (src/model/lora.c, PEFT use_dora): parity with PEFT 0.14.0 on the goldens of
 * tools/reference/dora_golden.py (tests/golden/dora/<case>: a PEFT-saved DoRA adapter over an
 * existing small golden model): logits, loss, gradients of every trainable tensor (magnitudes
 * included), a 5-step AdamW trajectory, merge_and_unload; the PEFT folder read and written; a fresh
 * DoRA adapter is a no-op; gradients with LoRA dropout against finite differences; and the
 * refusals (DoRA held apart from its base, the base-rewriting inits); the eval-mode cache of the
 * row norms (lb_dora_eval): the same bits as recomputing, used, and dropped when A, B or the
 * magnitude change. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "base/fileio.h"
#include "formats/safetensors.h"
#include "kernels/kernels.h"
#include "model/internal.h"
#include "model/model.h"
#include "model/peft.h"
#include "../support/model_support.h"
#include "train/optim.h"

static const struct {
    const char *name, *src;
} CASES[] = {{"distilbert_all", "distilbert_tiny_all"}, {"bert_qv_ffn", "bert_tiny"}};

typedef adapter_golden golden;

/* The case's base model with PEFT's DoRA adapter loaded from its folder (lb_peft_load). */
static void open_case(golden *g, int i) {
    char dir[256];
    snprintf(dir, sizeof dir, "tests/golden/dora/%s", CASES[i].name);
    adapter_golden_open(g, dir, CASES[i].src, "tools/reference/dora_golden.py");
    const lb_lora_config *lc = lb_model_get_lora(g->m);
    cr_assert(lc && lc->use_dora, "use_dora read from adapter_config.json");
}

/* body(g, the case's name) for every case, each opened afresh. */
static void each_case(void (*body)(golden *g, const char *name)) {
    for (size_t c = 0; c < sizeof CASES / sizeof *CASES; c++) {
        golden g;
        open_case(&g, (int)c);
        body(&g, CASES[c].name);
        adapter_golden_close(&g);
    }
}

static void parity_case(golden *g, const char *name) {
    double d_eval, d_train;
    adapter_parity_forward_backward(g, name, 1e-4, &d_eval, &d_train);
    lb_param *ps;
    int np = lb_model_params(g->m, &ps), nmag = 0;
    double worst = 0;
    for (int i = 0; i < np; i++) {
        double rel = rel_diff(ps[i].grad, adapter_golden_param(g, "grad", ps[i].name), ps[i].numel);
        worst = fmax(worst, rel);
        nmag += strstr(ps[i].name, "lora_magnitude_vector") != NULL;
        cr_assert(rel <= 1e-4, "%s: %s gradient rel %.3g", name, ps[i].name, rel);
    }
    cr_assert_gt(nmag, 0);
    cr_log_info("%s: logits %.3g (train %.3g), worst grad rel %.3g over %d tensors (%d magnitudes)", name, d_eval,
                d_train, worst, np, nmag);
}

Test(dora_parity, logits_loss_and_gradients) { each_case(parity_case); }

static void trajectory_case(golden *g, const char *name) { adapter_parity_trajectory(g, name, NULL); }

Test(dora_parity, adamw_trajectory) { each_case(trajectory_case); }

Test(dora_parity, merge_matches_peft_merge_and_unload) { each_case(adapter_parity_merge); }

/* The first trainable tensor whose name holds `part` (A or magnitude of the first DoRA module). */
static float *param_with(lb_model *m, const char *part) {
    lb_param *ps;
    int np = lb_model_params(m, &ps);
    for (int i = 0; i < np; i++)
        if (strstr(ps[i].name, part)) return ps[i].data;
    cr_assert_fail("no trainable tensor named *%s*", part);
    return NULL;
}

/* eval-mode logits into y, with the DoRA cache kept (cached) or dropped first. */
static void eval_logits(golden *g, bool cached, float *y) {
    lb_error e = {0};
    if (!cached) lb_dora_cache_drop(g->m);
    cr_assert_eq(lb_model_forward(g->m, &g->b, false, NULL, y, &e), LB_OK, "%s", e.msg);
}

static void cache_case(golden *g, const char *name) {
    size_t n = (size_t)g->b.B * (size_t)g->NL, bytes = sizeof(float) * n;
    float *ref = malloc(bytes), *y = malloc(bytes), *y2 = malloc(bytes);
    cr_assert(ref && y && y2);
    eval_logits(g, false, ref);
    int modules = 0, cached = 0;
    lb_layer_w *first = NULL;
    int fk = 0;
    for (int l = 0; l < g->m->cfg.n_layers; l++)
        for (int k = 0; k < LB_LIN__COUNT; k++) {
            if (!g->m->layers[l].dora_mag[k]) continue;
            if (!first) first = &g->m->layers[l], fk = k;
            modules++;
            cached += g->m->layers[l].dora_cached[k];
        }
    cr_assert(modules > 0 && cached == modules, "%s: %d of %d DoRA modules cached after an eval forward", name, cached,
              modules);
    eval_logits(g, true, y);
    cr_assert(!memcmp(y, ref, bytes), "%s: cached eval logits differ from the recomputed ones", name);
    /* the cache is what the forward uses: a spoiled factor shows (and dropping it heals) */
    float f0 = first->dora_f[fk][0];
    first->dora_f[fk][0] = f0 * 2.0f + 1.0f;
    eval_logits(g, true, y);
    cr_assert(memcmp(y, ref, bytes), "%s: the eval forward recomputed the factors it had cached", name);
    eval_logits(g, false, y);
    cr_assert(!memcmp(y, ref, bytes), "%s: dropping the cache did not recompute", name);
    /* A changed (as by a training step): the key no longer matches, the factors are recomputed */
    static const char *const parts[] = {"lora_A", "lora_B", "lora_magnitude_vector"};
    for (int p = 0; p < 3; p++) {
        float *v = param_with(g->m, parts[p]), old = v[0];
        v[0] = old + 0.25f;
        eval_logits(g, true, y);
        eval_logits(g, false, y2);
        cr_assert(!memcmp(y, y2, bytes), "%s: %s changed: cached and recomputed logits differ", name, parts[p]);
        cr_assert(memcmp(y, ref, bytes), "%s: %s changed and the logits did not", name, parts[p]);
        v[0] = old;
        eval_logits(g, true, y);
        cr_assert(!memcmp(y, ref, bytes), "%s: %s restored: logits differ from the first ones", name, parts[p]);
    }
    /* a training forward recomputes the factors for itself and leaves the cache stale */
    lb_error e = {0};
    cr_assert_eq(lb_model_forward(g->m, &g->b, true, NULL, y, &e), LB_OK, "%s", e.msg);
    cr_assert(!first->dora_cached[fk], "%s: a training forward left the eval cache marked current", name);
    eval_logits(g, true, y);
    cr_assert(!memcmp(y, ref, bytes), "%s: eval after a training forward differs", name);
    cr_log_info("%s: %d DoRA modules, cached eval logits bitwise equal to recomputed ones", name, modules);
    free(ref);
    free(y);
    free(y2);
}

Test(dora_cache, eval_reuses_the_norms_bitwise_and_follows_changes) { each_case(cache_case); }

Test(dora_peft, save_writes_use_dora_and_loads_back_bitwise) {
    golden g;
    open_case(&g, 1);
    assert_adapter_save_round_trip(&g, CASES[1].src, "\"use_dora\": true");
    adapter_golden_close(&g);
}

Test(dora_peft, refusals_name_the_reason) {
    golden g;
    open_case(&g, 0);
    lb_error e = {0};
    /* held apart from its base (many adapters over one base) */
    lb_model *base = golden_load_base(CASES[0].src);
    lb_lora_adapter *ad = NULL;
    cr_assert_eq(lb_peft_load_apart(base, g.ldir, 0, &ad, &e), LB_ERR_UNSUPPORTED);
    cr_assert_null(ad);
    cr_assert_not_null(strstr(e.msg, "DoRA"), "%s", e.msg);
    /* inits that rewrite the base weights */
    const char *inits[] = {"pissa", "pissa_niter_4", "olora", "loftq"};
    for (size_t i = 0; i < sizeof inits / sizeof *inits; i++) {
        char tmpl[] = "/tmp/lb_dora_XXXXXX";
        cr_assert_not_null(mkdtemp(tmpl));
        char *p = lb_path_join(tmpl, "adapter_config.json");
        FILE *f = fopen(p, "w");
        fprintf(f,
                "{\"peft_type\": \"LORA\", \"task_type\": \"SEQ_CLS\", \"r\": 4, \"target_modules\": [\"q_lin\"], "
                "\"init_lora_weights\": \"%s\"}",
                inits[i]);
        fclose(f);
        lb_lora_config lc;
        cr_assert_eq(lb_peft_read_config(tmpl, &lc, NULL, &e), LB_ERR_UNSUPPORTED, "%s", inits[i]);
        cr_assert_not_null(strstr(e.msg, inits[i]), "%s", e.msg);
        cr_assert_not_null(strstr(e.msg, "path_initial_model_for_weight_conversion"), "%s", e.msg);
        unlink(p);
        rmdir(tmpl);
        free(p);
    }
    lb_model_free(base);
    adapter_golden_close(&g);
}

Test(dora_model, fresh_adapter_is_a_no_op_with_row_norm_magnitudes) {
    lb_model *m = golden_load_base("bert_tiny");
    char dir[] = "tests/golden/dora/bert_qv_ffn";
    if (!lb_dir_exists(dir)) cr_skip_test("golden missing");
    lb_error e = {0};
    lb_st_file *f = lb_st_open("tests/golden/dora/bert_qv_ffn/golden.safetensors", &e);
    cr_assert_not_null(f, "%s", e.msg);
    golden_batch gb;
    golden_read_batch(f, &gb);
    lb_batch bt = gb.b;
    int B = bt.B;
    int NL = lb_model_get_config(m)->num_labels;
    float *l0 = malloc(sizeof(float) * (size_t)B * NL), *l1 = malloc(sizeof(float) * (size_t)B * NL);
    cr_assert_eq(lb_model_forward(m, &bt, false, NULL, l0, &e), LB_OK, "%s", e.msg);
    lb_lora_config lc = {.r = 4, .alpha = 32, .target_mask = (1u << LB_LIN_Q) | (1u << LB_LIN_FFN1), .use_dora = true};
    cr_assert_eq(lb_model_add_lora(m, &lc, 3, &e), LB_OK, "%s", e.msg);
    lb_param *ps;
    int np = lb_model_params(m, &ps), nmag = 0;
    int64_t trainable = 0, all = 0;
    lb_model_param_counts(m, &trainable, &all);
    int64_t sum = 0;
    for (int i = 0; i < np; i++) sum += ps[i].numel;
    cr_assert_eq(sum, trainable, "param counts include the magnitudes");
    for (int i = 0; i < np; i++) {
        if (!strstr(ps[i].name, "lora_magnitude_vector")) continue;
        nmag++;
        cr_assert_eq(ps[i].ndim, 1);
        for (int64_t j = 0; j < ps[i].numel; j++) cr_assert_gt(ps[i].data[j], 0.0f, "%s", ps[i].name);
    }
    cr_assert_eq(nmag, 2 * 2, "2 layers x 2 kinds");
    /* B = 0 and m = ||W|| (the head copy is the base's head): the logits do not change. */
    cr_assert_eq(lb_model_forward(m, &bt, false, NULL, l1, &e), LB_OK, "%s", e.msg);
    double d = max_abs_diff(l0, l1, (int64_t)B * NL);
    cr_assert(d <= 1e-5, "a fresh DoRA adapter changes the logits by %.3g", d);
    free(l0);
    free(l1);
    golden_free_batch(&gb);
    lb_st_close(f);
    lb_model_free(m);
}

static bool lora_a_or_b(const char *name) { return strstr(name, "lora_A") || strstr(name, "lora_B"); }

Test(dora_model, gradients_with_dropout_match_finite_differences) {
    golden g;
    open_case(&g, 0);
    /* The golden tensors with LoRA dropout on and lora_B scaled down (smooth enough for float
     * central differences at h = 1e-3). */
    char mdir[256];
    snprintf(mdir, sizeof mdir, "tests/golden/%s/model", CASES[0].src);
    lb_lora_config lc = {
        .r = 4, .alpha = 32, .dropout = 0.1f, .target_mask = (1u << LB_LIN__COUNT) - 1, .use_dora = true};
    reload_adapter_scaled(&g.m, mdir, &lc);
    int32_t ids[2 * 6] = {101, 5, 7, 9, 102, 0, 101, 11, 102, 0, 0, 0}, lens[2] = {5, 3}, labels[2] = {2, 0};
    lb_batch b = {.B = 2, .T = 6, .ids = ids, .lengths = lens};
    /* The row norms are detached (PEFT, DoRA paper 4.3), so the gradients of A and B are not the
     * derivative of this loss: only the magnitudes (every layer's, so the input gradients through
     * the layers above, dropout mask included) and the head are checked here; A and B are
     * checked against PEFT without dropout (logits_loss_and_gradients). */
    int checked = assert_fd_matches_backward(g.m, &b, labels, 77, lora_a_or_b);
    cr_assert_eq(checked, 3 * 6 + 4, "18 magnitudes and the 4 head tensors");
    adapter_golden_close(&g);
}

static double rel_l2(const float *a, const float *b, int64_t n) {
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        num += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        den += (double)b[i] * b[i];
    }
    return sqrt(num / (den > 0 ? den : 1));
}

/* bf16 and int8 run DoRA on their frozen-linear products (the norms and the adapter stay fp32):
 * within those modes' bars of test_model_precision.c (bf16 3e-2 for logits and gradients, int8
 * 0.15 for logits), and fp32 afterwards is the golden again. */
Test(dora_model, bf16_and_int8_track_fp32) {
    for (size_t c = 0; c < sizeof CASES / sizeof *CASES; c++) {
        golden g;
        open_case(&g, (int)c);
        lb_error e = {0};
        int B = g.b.B, NL = g.NL;
        lb_param *ps;
        int np = lb_model_params(g.m, &ps);
        float *l32 = malloc(sizeof(float) * (size_t)B * NL), *lo = malloc(sizeof(float) * (size_t)B * NL);
        float *dl = malloc(sizeof(float) * (size_t)B * NL);
        cr_assert_eq(lb_model_forward(g.m, &g.b, false, NULL, l32, &e), LB_OK, "%s", e.msg);
        cr_assert_eq(lb_model_set_precision(g.m, LB_PRECISION_BF16, &e), LB_OK, "%s", e.msg);
        cr_assert_eq(lb_model_forward(g.m, &g.b, true, NULL, lo, &e), LB_OK, "%s", e.msg);
        double lr16 = rel_l2(lo, l32, (int64_t)B * NL), gr = 0;
        lb_cross_entropy(lo, g.labels, B, NL, dl);
        lb_model_zero_grad(g.m);
        cr_assert_eq(lb_model_backward(g.m, dl, &e), LB_OK, "%s", e.msg);
        for (int i = 0; i < np; i++) {
            char key[600];
            snprintf(key, sizeof key, "grad.%s", ps[i].name);
            gr = fmax(gr, rel_l2(ps[i].grad, adapter_golden_tensor(&g, key), ps[i].numel));
        }
        cr_assert_eq(lb_model_set_precision(g.m, LB_PRECISION_INT8, &e), LB_OK, "%s", e.msg);
        cr_assert_eq(lb_model_forward(g.m, &g.b, false, NULL, lo, &e), LB_OK, "%s", e.msg);
        double lr8 = rel_l2(lo, l32, (int64_t)B * NL);
        cr_log_info("%s: bf16 logits rel %.3g, worst grad tensor rel %.3g; int8 logits rel %.3g", CASES[c].name, lr16,
                    gr, lr8);
        cr_assert(lr16 > 0 && lr16 <= 3e-2, "%s: bf16 logits rel %.3g", CASES[c].name, lr16);
        cr_assert(gr <= 3e-2, "%s: bf16 grads rel %.3g", CASES[c].name, gr);
        cr_assert(lr8 > 0 && lr8 <= 0.15, "%s: int8 logits rel %.3g", CASES[c].name, lr8);
        cr_assert_eq(lb_model_set_precision(g.m, LB_PRECISION_FP32, &e), LB_OK, "%s", e.msg);
        cr_assert_eq(lb_model_forward(g.m, &g.b, false, NULL, lo, &e), LB_OK, "%s", e.msg);
        cr_assert(max_abs_diff(lo, adapter_golden_tensor(&g, "logits"), (int64_t)B * NL) <= 1e-4, "%s: fp32 again",
                  CASES[c].name);
        free(l32);
        free(lo);
        free(dl);
        adapter_golden_close(&g);
    }
}
