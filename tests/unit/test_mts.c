/* Tests for PEFT modules_to_save beyond the head (src/model/lora.c resolve_mts: the encoder
 * blocks' linears and LayerNorms trained in full): parity with PEFT 0.6.2 on the goldens of
 * tools/reference/mts_golden.py (tests/golden/mts/<case>: a PEFT-saved adapter with
 * modules_to_save over an existing small golden model): logits of the PEFT-saved adapter, loss,
 * gradients of every trainable tensor (the LayerNorm copies included), a 5-step AdamW trajectory
 * with HF's decay groups, merge_and_unload; the PEFT folder written and read back; the refusals
 * (LoRA targets, embeddings, the pooler, modules holding others, names matching nothing, adapters
 * held apart); a linear trained in full in bf16 and int8 runs on its fp32 values. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "base/fileio.h"
#include "formats/safetensors.h"
#include "kernels/kernels.h"
#include "model/model.h"
#include "model/peft.h"
#include "../support/model_support.h"
#include "train/optim.h"

static const struct {
    const char *name, *src;
    int full; /* tensors trained in full beyond the head */
} CASES[] = {{"distilbert_ln", "distilbert_tiny_all", 8},
             {"bert_ln", "bert_tiny", 8},
             {"distilbert_lin", "distilbert_tiny_all", 24},
             {"bert_lin", "bert_tiny", 16},
             {"roberta_mix", "roberta_tiny", 8}};

typedef adapter_golden golden;

/* The case's base model with PEFT's adapter loaded from its folder (lb_peft_load). */
static void open_case(golden *g, int i) {
    char dir[256];
    snprintf(dir, sizeof dir, "tests/golden/mts/%s", CASES[i].name);
    adapter_golden_open(g, dir, CASES[i].src, "tools/reference/mts_golden.py");
    const lb_lora_config *lc = lb_model_get_lora(g->m);
    cr_assert(lc && lc->patterns && lc->patterns->n_mts > 0, "modules_to_save read from adapter_config.json");
}

/* body(g, the case's index) for every case, each opened afresh. */
static void each_case(void (*body)(golden *g, size_t c)) {
    for (size_t c = 0; c < sizeof CASES / sizeof *CASES; c++) {
        golden g;
        open_case(&g, (int)c);
        body(&g, c);
        adapter_golden_close(&g);
    }
}

/* The key projection's bias: its gradient is 0 in exact arithmetic (softmax is invariant to the
 * q.b_k shift it adds to every score of a query), so PEFT's and lorabert's are both rounding noise
 * (~1e-8 against ~0.1 for the key weight): checked to be at rounding level, not against each other,
 * and AdamW (which normalises that noise into lr-sized steps) moves it differently in each. */
static bool key_bias(const char *name) { return strstr(name, "k_lin.bias") || strstr(name, "attention.self.key.bias"); }

static double max_abs(const float *a, int64_t n) {
    double m = 0;
    for (int64_t i = 0; i < n; i++) m = fmax(m, fabs((double)a[i]));
    return m;
}

static void parity_case(golden *g, size_t c) {
    double d_eval, d_train;
    adapter_parity_forward_backward(g, CASES[c].name, 1e-5, &d_eval, &d_train);
    lb_param *ps;
    int np = lb_model_params(g->m, &ps), nfull = 0;
    double worst = 0, gmax = 0;
    for (int i = 0; i < np; i++) gmax = fmax(gmax, max_abs(adapter_golden_param(g, "grad", ps[i].name), ps[i].numel));
    for (int i = 0; i < np; i++) {
        const float *ref = adapter_golden_param(g, "grad", ps[i].name);
        if (key_bias(ps[i].name)) {
            double a = max_abs(ps[i].grad, ps[i].numel), b = max_abs(ref, ps[i].numel);
            cr_assert(a <= 1e-6 * gmax && b <= 1e-6 * gmax, "%s: %s gradient %.3g (PEFT %.3g) is not rounding",
                      CASES[c].name, ps[i].name, a, b);
            cr_assert(!ps[i].decay, "%s: a bias takes no weight decay", ps[i].name);
            nfull++;
            continue;
        }
        double rel = rel_diff(ps[i].grad, ref, ps[i].numel);
        worst = fmax(worst, rel);
        if (strstr(ps[i].name, "lora_") || strstr(ps[i].name, "classifier")) continue;
        nfull++; /* HF's decay rule: not biases, not LayerNorm weights */
        bool ln = strstr(ps[i].name, "layer_norm") || strstr(ps[i].name, "LayerNorm");
        bool bias = strstr(ps[i].name, ".bias") != NULL;
        cr_assert_eq(ps[i].decay, !ln && !bias, "%s: weight decay %d", ps[i].name, ps[i].decay);
        cr_assert(rel <= 1e-4, "%s: %s gradient rel %.3g", CASES[c].name, ps[i].name, rel);
    }
    cr_assert_eq(nfull, CASES[c].full, "%s: %d tensors trained in full", CASES[c].name, nfull);
    cr_log_info("%s: logits %.3g (train %.3g), worst grad rel %.3g over %d tensors (%d trained in full)", CASES[c].name,
                d_eval, d_train, worst, np, nfull);
}

Test(mts_parity, logits_loss_and_gradients) { each_case(parity_case); }

/* (the key biases: see key_bias) */
static void trajectory_case(golden *g, size_t c) { adapter_parity_trajectory(g, CASES[c].name, key_bias); }

Test(mts_parity, adamw_trajectory) { each_case(trajectory_case); }

static void merge_case(golden *g, size_t c) { adapter_parity_merge(g, CASES[c].name); }

Test(mts_parity, merge_matches_peft_merge_and_unload) { each_case(merge_case); }

Test(mts_peft, save_writes_modules_to_save_and_loads_back_bitwise) {
    golden g;
    open_case(&g, 1);
    assert_adapter_save_round_trip(&g, CASES[1].src, "\"output.LayerNorm\"");
    adapter_golden_close(&g);
}

/* A fresh adapter (LoRA on the query projection) with modules_to_save `mts` (one name). */
static lb_status add_mts(lb_model *m, const char *mts, lb_error *e) {
    static lb_lora_patterns p;
    memset(&p, 0, sizeof p);
    p.n_mts = 1;
    snprintf(p.mts[0], sizeof p.mts[0], "%s", mts);
    lb_lora_config c = {.r = 4, .alpha = 32, .target_mask = 1u << LB_LIN_Q, .patterns = &p};
    return lb_model_add_lora(m, &c, 1, e);
}

Test(mts_model, refusals_name_the_module) {
    static const struct {
        const char *src, *name, *want;
    } R[] = {
        {"distilbert_tiny_all", "q_lin", "distilbert.transformer.layer.0.attention.q_lin, which is also a LoRA target"},
        {"distilbert_tiny_all", "ffn", "distilbert.transformer.layer.0.ffn"},
        {"distilbert_tiny_all", "embeddings.LayerNorm", "distilbert.embeddings.LayerNorm"},
        {"distilbert_tiny_all", "word_embeddings", "distilbert.embeddings.word_embeddings"},
        {"distilbert_tiny_all", "no_such_module", "names no module"},
        {"distilbert_tiny_all", "model", "whole model"},
        {"bert_tiny", "LayerNorm", "bert.embeddings.LayerNorm"},
        {"bert_tiny", "pooler.dense", "bert.pooler.dense"},
        {"modernbert_tiny", "mlp_norm", "nor any module of ModernBERT"},
    };
    for (size_t i = 0; i < sizeof R / sizeof *R; i++) {
        lb_model *m = golden_load_base(R[i].src);
        lb_error e = {0};
        cr_assert_eq(add_mts(m, R[i].name, &e), LB_ERR_UNSUPPORTED, "%s accepted", R[i].name);
        cr_assert_not_null(strstr(e.msg, R[i].want), "%s: %s", R[i].name, e.msg);
        cr_assert_null(lb_model_get_lora(m), "a refused adapter leaves none");
        /* the model is unchanged: a plain adapter still goes on */
        cr_assert_eq(add_mts(m, "classifier", &e), LB_OK, "%s", e.msg);
        lb_param *ps;
        int np = lb_model_params(m, &ps);
        for (int j = 0; j < np; j++) cr_assert_null(strstr(ps[j].name, "Norm"), "%s", ps[j].name);
        lb_model_free(m);
    }
    /* held apart from its base (serve's many adapters over one base) */
    golden g;
    open_case(&g, 0);
    lb_model *base = golden_load_base(CASES[0].src);
    lb_lora_adapter *ad = NULL;
    lb_error e = {0};
    cr_assert_eq(lb_peft_load_apart(base, g.ldir, 0, &ad, &e), LB_ERR_UNSUPPORTED);
    cr_assert_null(ad);
    cr_assert_not_null(strstr(e.msg, "output_layer_norm"), "%s", e.msg);
    lb_model_free(base);
    adapter_golden_close(&g);
}

Test(mts_model, fresh_copies_start_at_the_base_values_and_merge_keeps_them) {
    lb_model *m = golden_load_base("bert_tiny"), *ref = golden_load_base("bert_tiny");
    lb_error e = {0};
    cr_assert_eq(add_mts(m, "attention.output.LayerNorm", &e), LB_OK, "%s", e.msg);
    lb_param *ps;
    int np = lb_model_params(m, &ps), nln = 0;
    for (int i = 0; i < np; i++) {
        if (!strstr(ps[i].name, "LayerNorm")) continue;
        nln++;
        cr_assert_not_null(strstr(ps[i].name, "attention.output.LayerNorm"), "%s", ps[i].name);
        cr_assert_eq(ps[i].numel, 32);
    }
    cr_assert_eq(nln, 4, "2 layers x (weight, bias)");
    int32_t ids[6] = {2, 5, 9, 11, 3, 0}, lens[1] = {6};
    lb_batch b = {.B = 1, .T = 6, .ids = ids, .lengths = lens};
    float l0[2], l1[2], l2[2];
    cr_assert_eq(lb_model_forward(ref, &b, false, NULL, l0, &e), LB_OK, "%s", e.msg);
    cr_assert_eq(lb_model_forward(m, &b, false, NULL, l1, &e), LB_OK, "%s", e.msg);
    /* B = 0 and unchanged LayerNorm copies: the base model's logits, bit for bit */
    cr_assert_eq(memcmp(l0, l1, sizeof l0), 0);
    /* a changed copy changes the model, and the merge keeps the change with the copy frozen */
    for (int i = 0; i < np; i++)
        if (strstr(ps[i].name, "LayerNorm.weight")) ps[i].data[3] += 0.5f;
    cr_assert_eq(lb_model_forward(m, &b, false, NULL, l1, &e), LB_OK, "%s", e.msg);
    cr_assert(memcmp(l0, l1, sizeof l0), "the trained copy is what the forward reads");
    cr_assert_eq(lb_model_merge_lora(m, &e), LB_OK, "%s", e.msg);
    cr_assert_null(lb_model_get_lora(m));
    cr_assert_eq(lb_model_forward(m, &b, false, NULL, l2, &e), LB_OK, "%s", e.msg);
    cr_assert_eq(memcmp(l1, l2, sizeof l1), 0, "merged logits");
    /* a new adapter after the merge trains only what it names */
    cr_assert_eq(add_mts(m, "classifier", &e), LB_OK, "%s", e.msg);
    np = lb_model_params(m, &ps);
    for (int i = 0; i < np; i++) cr_assert_null(strstr(ps[i].name, "LayerNorm"), "%s", ps[i].name);
    cr_assert_eq(lb_model_forward(m, &b, false, NULL, l2, &e), LB_OK, "%s", e.msg);
    cr_assert_eq(memcmp(l1, l2, sizeof l1), 0, "the merged LayerNorms stay");
    lb_model_free(m);
    lb_model_free(ref);
}

/* bf16 and int8 pack the frozen linears once; a linear trained in full must run on its current
 * values instead: a change to it shows in the next forward of every mode, and a training step
 * in bf16 moves the copies as in fp32 (the backward of a trained linear is fp32 too). */
Test(mts_model, linears_trained_in_full_skip_the_packs) {
    const lb_precision modes[] = {LB_PRECISION_FP32, LB_PRECISION_BF16, LB_PRECISION_INT8};
    for (size_t i = 0; i < sizeof modes / sizeof *modes; i++) {
        golden g;
        open_case(&g, 2); /* distilbert_lin: q_lin, k_lin, lin2 trained in full */
        lb_error e = {0};
        int B = g.b.B, NL = g.NL;
        if (lb_model_set_precision(g.m, modes[i], &e) == LB_ERR_UNSUPPORTED) {
            adapter_golden_close(&g);
            continue; /* (this CPU lacks the mode's kernels: lb_model_set_precision says so) */
        }
        float *l1 = g.y1, *l2 = g.y2;
        cr_assert_eq(lb_model_forward(g.m, &g.b, false, NULL, l1, &e), LB_OK, "%s", e.msg);
        lb_param *ps;
        int np = lb_model_params(g.m, &ps), hit = 0;
        for (int j = 0; j < np; j++)
            if (strstr(ps[j].name, "ffn.lin2.weight")) {
                for (int64_t v = 0; v < ps[j].numel; v++) ps[j].data[v] *= 0.5f;
                hit++;
            }
        cr_assert_eq(hit, 3);
        cr_assert_eq(lb_model_forward(g.m, &g.b, false, NULL, l2, &e), LB_OK, "%s", e.msg);
        cr_assert(max_abs_diff(l1, l2, (int64_t)B * NL) > 1e-3, "mode %d: the forward ignored the changed lin2",
                  (int)modes[i]);
        adapter_golden_close(&g);
    }
}
