/* Tests for ModernBERT in src/model beyond the golden parity of test_model.c (which runs
 * tests/golden/modernbert_tiny and modernbert_mean through forward, gradients and merge) and
 * test_trainer.c (the 102-step Trainer trajectory): config.json defaults and refusals, PEFT target
 * names, the PEFT adapter round trip, save/reload of a merged model, a mixed-adapter segmented
 * forward, the bf16 / int8 modes, and finite differences through the train path with the
 * classifier and LoRA dropouts on. */
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
#include "model/peft.h"
#include "../support/model_support.h"

#define MODEL_WRITER "tools/reference/make_goldens_modern.py"

Test(modernbert_config, transformers_defaults) {
    lb_model_config c;
    lb_error e;
    cr_assert_eq(golden_parse_config("{\"model_type\": \"modernbert\"}", NULL, &c, &e), LB_OK, "%s", e.msg);
    cr_assert_eq(c.arch, LB_ARCH_MODERNBERT);
    cr_assert(c.vocab_size == 50368 && c.dim == 768 && c.n_layers == 22 && c.n_heads == 12 && c.hidden_dim == 1152);
    cr_assert(c.max_pos == 8192 && c.max_tokens == 8192 && c.pad_token_id == 50283);
    cr_assert(c.global_every == 3 && c.local_window == 128);
    cr_assert(c.rope_global == 160000.0f && c.rope_local == 10000.0f && c.ln_eps == 1e-5f);
    cr_assert(!c.pool_mean && !c.mlp_gelu_tanh && !c.head_gelu_tanh && c.classifier_dropout == 0.0f);
    cr_assert_eq(
        golden_parse_config("{\"model_type\": \"modernbert\", \"local_rope_theta\": null, \"global_rope_theta\": 5.0, "
                            "\"classifier_pooling\": \"mean\", \"hidden_activation\": \"gelu_pytorch_tanh\", "
                            "\"classifier_dropout\": 0.2, \"attention_dropout\": 0.0, \"norm_bias\": false}",
                            NULL, &c, &e),
        LB_OK, "%s", e.msg);
    cr_assert(c.rope_local == 5.0f && c.pool_mean && c.mlp_gelu_tanh && !c.head_gelu_tanh);
    cr_assert_float_eq(c.classifier_dropout, 0.2f, 1e-7f);
}

Test(modernbert_config, unsupported_fields_are_refused_by_name) {
    golden_config_refused("{\"model_type\": \"modernbert\", \"norm_bias\": true}", LB_ERR_UNSUPPORTED, "norm_bias");
    golden_config_refused("{\"model_type\": \"modernbert\", \"attention_bias\": true}", LB_ERR_UNSUPPORTED,
                          "attention_bias");
    golden_config_refused("{\"model_type\": \"modernbert\", \"mlp_bias\": true}", LB_ERR_UNSUPPORTED, "mlp_bias");
    golden_config_refused("{\"model_type\": \"modernbert\", \"classifier_bias\": true}", LB_ERR_UNSUPPORTED,
                          "classifier_bias");
    golden_config_refused("{\"model_type\": \"modernbert\", \"attention_dropout\": 0.1}", LB_ERR_UNSUPPORTED,
                          "attention_dropout");
    golden_config_refused("{\"model_type\": \"modernbert\", \"embedding_dropout\": 0.1}", LB_ERR_UNSUPPORTED,
                          "embedding_dropout");
    golden_config_refused("{\"model_type\": \"modernbert\", \"mlp_dropout\": 0.1}", LB_ERR_UNSUPPORTED, "mlp_dropout");
    golden_config_refused("{\"model_type\": \"modernbert\", \"rope_scaling\": {\"type\": \"linear\", \"factor\": 2.0}}",
                          LB_ERR_UNSUPPORTED, "rope_scaling");
    golden_config_refused("{\"model_type\": \"modernbert\", \"hidden_activation\": \"silu\"}", LB_ERR_UNSUPPORTED,
                          "hidden_activation");
    golden_config_refused("{\"model_type\": \"modernbert\", \"classifier_activation\": \"tanh\"}", LB_ERR_UNSUPPORTED,
                          "classifier_activation");
    golden_config_refused("{\"model_type\": \"modernbert\", \"classifier_pooling\": \"max\"}", LB_ERR_UNSUPPORTED,
                          "classifier_pooling");
    golden_config_refused("{\"model_type\": \"modernbert\", \"norm_bias\": \"no\"}", LB_ERR_FORMAT, "norm_bias");
    golden_config_refused("{\"model_type\": \"modernbert\", \"global_rope_theta\": -1}", LB_ERR_FORMAT,
                          "global_rope_theta");
    golden_config_refused("{\"model_type\": \"modernbert\", \"global_rope_theta\": null}", LB_ERR_FORMAT,
                          "global_rope_theta");
    golden_config_refused("{\"model_type\": \"modernbert\", \"global_attn_every_n_layers\": 0}", LB_ERR_FORMAT,
                          "global_attn_every_n_layers");
    golden_config_refused("{\"model_type\": \"modernbert\", \"hidden_size\": 30, \"num_attention_heads\": 4}",
                          LB_ERR_FORMAT, "multiple");
}

Test(modernbert_model, info_and_peft_target_names) {
    lb_model *m = golden_load_model("modernbert_tiny", MODEL_WRITER);
    lb_model_info info;
    lb_model_get_info(m, &info);
    cr_assert_str_eq(info.architecture, "ModernBertForSequenceClassification");
    cr_assert_str_eq(info.model_type, "modernbert");
    cr_assert_str_eq(lb_model_linear_name(m, LB_LIN_Q), "Wqkv");
    cr_assert_str_eq(lb_model_linear_name(m, LB_LIN_K), "");
    lb_error e;
    const char *ok[] = {"Wqkv", "Wo", "Wi", "attn.Wo", "mlp.Wo", "attn.Wqkv", "mlp.Wi"};
    for (int i = 0; i < 7; i++) cr_assert_eq(lb_peft_check_target(m, ok[i], &e), LB_OK, "%s: %s", ok[i], e.msg);
    cr_assert_eq(lb_peft_check_target(m, "query", &e), LB_ERR_USAGE);
    cr_assert(strstr(e.msg, "Wqkv"), "%s", e.msg);
    cr_assert_eq(lb_peft_check_target(m, "attention.output.dense", &e), LB_ERR_USAGE);
    cr_assert_eq(lb_peft_check_target(m, "all-linear", &e), LB_ERR_UNSUPPORTED);
    cr_assert(strstr(e.msg, "head.dense"), "%s", e.msg);
    lb_lora_config lc = {.r = 2, .alpha = 4, .target_mask = (1u << LB_LIN_Q) | (1u << LB_LIN_K)};
    cr_assert_eq(lb_model_add_lora(m, &lc, 1, &e), LB_ERR_USAGE);
    cr_assert(strstr(e.msg, "key") && strstr(e.msg, "Wqkv"), "%s", e.msg);
    lb_model_free(m);
    /* BERT keeps its names: "Wo" is a ModernBERT name only */
    char dir[] = "tests/golden/bert_tiny/model";
    if (lb_dir_exists(dir)) {
        lb_load_opts o = {.quiet = true};
        lb_model *b = lb_model_load(dir, &o, &e);
        cr_assert_not_null(b, "%s", e.msg);
        cr_assert_eq(lb_peft_check_target(b, "Wo", &e), LB_ERR_USAGE);
        cr_assert_eq(lb_peft_check_target(b, "output.dense", &e), LB_OK, "%s", e.msg);
        lb_model_free(b);
    }
}

/* PEFT's adapter (tests/golden/<name>/lora) saved by lorabert and read back: the same tensors bit
 * for bit, target_modules in ModernBERT's names, the same logits. */
static void round_trip(const char *name, const char *want_targets) {
    char tmp[] = "/tmp/lbmodernXXXXXX", src[256];
    cr_assert_not_null(mkdtemp(tmp));
    snprintf(src, sizeof src, "tests/golden/%s/lora", name);
    lb_model *a = golden_load_model(name, MODEL_WRITER), *b = golden_load_model(name, MODEL_WRITER);
    lb_error e;
    cr_assert_eq(lb_peft_load(a, src, &e), LB_OK, "%s", e.msg);
    cr_assert_eq(lb_peft_save(a, tmp, "model", &e), LB_OK, "%s", e.msg);
    cr_assert_eq(lb_peft_load(b, tmp, &e), LB_OK, "%s", e.msg);
    lb_param *pa, *pb;
    int na = lb_model_params(a, &pa), nb = lb_model_params(b, &pb);
    cr_assert_eq(na, nb);
    for (int i = 0; i < na; i++) {
        cr_assert_str_eq(pa[i].name, pb[i].name);
        cr_assert_eq(memcmp(pa[i].data, pb[i].data, sizeof(float) * (size_t)pa[i].numel), 0, "%s", pa[i].name);
    }
    char *p = lb_path_join(tmp, "adapter_config.json"), *text;
    cr_assert_eq(lb_read_file(p, &text, NULL, &e), LB_OK, "%s", e.msg);
    cr_assert(strstr(text, want_targets), "target_modules: %s", text);
    free(text);
    unlink(p);
    free(p);
    p = lb_path_join(tmp, "adapter_model.safetensors");
    unlink(p);
    free(p);
    rmdir(tmp);
    golden_batch g;
    golden_read_forward(name, &g);
    int n = g.b.B * lb_model_get_config(a)->num_labels;
    float *la = malloc(sizeof(float) * n), *lb = malloc(sizeof(float) * n);
    cr_assert_eq(lb_model_forward(a, &g.b, false, NULL, la, &e), LB_OK, "%s", e.msg);
    cr_assert_eq(lb_model_forward(b, &g.b, false, NULL, lb, &e), LB_OK, "%s", e.msg);
    cr_assert_eq(memcmp(la, lb, sizeof(float) * n), 0);
    free(la);
    free(lb);
    golden_free_batch(&g);
    lb_model_free(a);
    lb_model_free(b);
}

Test(modernbert_model, peft_adapter_round_trip_is_bit_exact) {
    round_trip("modernbert_tiny",
               "\"target_modules\": [\n    \"Wqkv\",\n    \"attn.Wo\",\n    \"Wi\",\n    \"mlp.Wo\"\n  ]");
    round_trip("modernbert_mean", "\"target_modules\": [\n    \"Wqkv\",\n    \"mlp.Wo\"\n  ]");
}

/* Merge, save as a plain HF folder, reload: the merged model's logits. */
Test(modernbert_model, merged_model_saves_and_reloads) {
    char tmp[] = "/tmp/lbmodernXXXXXX";
    cr_assert_not_null(mkdtemp(tmp));
    lb_model *m = golden_load_model("modernbert_tiny", MODEL_WRITER);
    lb_error e;
    cr_assert_eq(lb_peft_load(m, "tests/golden/modernbert_tiny/lora", &e), LB_OK, "%s", e.msg);
    golden_batch g;
    golden_read_forward("modernbert_tiny", &g);
    float l0[16], l1[16], l2[16];
    cr_assert_eq(lb_model_forward(m, &g.b, false, NULL, l0, &e), LB_OK, "%s", e.msg);
    cr_assert_eq(lb_model_merge_lora(m, &e), LB_OK, "%s", e.msg);
    cr_assert_eq(lb_model_forward(m, &g.b, false, NULL, l1, &e), LB_OK, "%s", e.msg);
    cr_assert(max_abs_diff(l0, l1, 10) < 1e-4, "merged %g", max_abs_diff(l0, l1, 10));
    cr_assert_eq(lb_model_save(m, tmp, &e), LB_OK, "%s", e.msg);
    lb_load_opts o = {.quiet = true};
    lb_model *r = lb_model_load(tmp, &o, &e);
    cr_assert_not_null(r, "%s", e.msg);
    cr_assert_null(lb_model_load_notice(r), "every tensor saved: %s", lb_model_load_notice(r));
    cr_assert_eq(lb_model_forward(r, &g.b, false, NULL, l2, &e), LB_OK, "%s", e.msg);
    cr_assert_eq(memcmp(l1, l2, sizeof(float) * 10), 0);
    char *p = lb_path_join(tmp, "model.safetensors");
    lb_st_file *f = lb_st_open(p, &e);
    cr_assert_not_null(f, "%s", e.msg);
    cr_assert_not_null(lb_st_find(f, "model.layers.1.attn.Wqkv.weight"));
    cr_assert_not_null(lb_st_find(f, "head.dense.weight"));
    cr_assert_null(lb_st_find(f, "model.layers.0.attn_norm.weight"), "layer 0's attn_norm is Identity");
    lb_st_close(f);
    unlink(p);
    free(p);
    p = lb_path_join(tmp, "config.json");
    unlink(p);
    free(p);
    rmdir(tmp);
    golden_free_batch(&g);
    lb_model_free(m);
    lb_model_free(r);
}

/* Segments: rows [0, 2) through a standalone adapter, the rest through the bare base, equal the
 * model holding that adapter and the base alone. */
Test(modernbert_model, segmented_forward_matches_single_adapter_models) {
    lb_model *base = golden_load_model("modernbert_tiny", MODEL_WRITER),
             *own = golden_load_model("modernbert_tiny", MODEL_WRITER);
    lb_error e;
    cr_assert_eq(lb_peft_load(own, "tests/golden/modernbert_tiny/lora", &e), LB_OK, "%s", e.msg);
    lb_model *shell = lb_model_adapter_shell(base, 2, &e);
    cr_assert_not_null(shell, "%s", e.msg);
    cr_assert_eq(lb_peft_load(shell, "tests/golden/modernbert_tiny/lora", &e), LB_OK, "%s", e.msg);
    lb_lora_adapter *ad;
    cr_assert_eq(lb_lora_adapter_take(shell, &ad, &e), LB_OK, "%s", e.msg);
    lb_model_free(shell);
    golden_batch g;
    golden_read_forward("modernbert_tiny", &g);
    float seg[10], lown[10], lbase[10];
    lb_segment segs[2] = {{0, 2, ad}, {2, 5, NULL}};
    cr_assert_eq(lb_model_forward_segments(base, &g.b, segs, 2, seg, 2, &e), LB_OK, "%s", e.msg);
    cr_assert_eq(lb_model_forward(own, &g.b, false, NULL, lown, &e), LB_OK, "%s", e.msg);
    cr_assert_eq(lb_model_forward(base, &g.b, false, NULL, lbase, &e), LB_OK, "%s", e.msg);
    cr_assert(max_abs_diff(seg, lown, 4) < 1e-5, "adapter rows %g", max_abs_diff(seg, lown, 4));
    cr_assert(max_abs_diff(seg + 4, lbase + 4, 6) < 1e-5, "base rows %g", max_abs_diff(seg + 4, lbase + 4, 6));
    cr_assert(max_abs_diff(lown, lbase, 4) > 1e-3, "the adapter changes the logits");
    golden_free_batch(&g);
    lb_lora_adapter_free(ad);
    lb_model_free(base);
    lb_model_free(own);
}

/* bf16 and int8: near fp32 (the operands of the frozen GEMMs rounded), and fp32 again is bit-identical. */
Test(modernbert_model, bf16_and_int8_modes_track_fp32) {
    lb_model *m = golden_load_model("modernbert_tiny", MODEL_WRITER);
    lb_error e;
    cr_assert_eq(lb_peft_load(m, "tests/golden/modernbert_tiny/lora", &e), LB_OK, "%s", e.msg);
    golden_batch g;
    golden_read_forward("modernbert_tiny", &g);
    float f0[10], fb[10], fi[10], f1[10];
    cr_assert_eq(lb_model_forward(m, &g.b, false, NULL, f0, &e), LB_OK, "%s", e.msg);
    double scale = 0;
    for (int i = 0; i < 10; i++) scale = fmax(scale, fabs(f0[i]));
    cr_assert_eq(lb_model_set_precision(m, LB_PRECISION_BF16, &e), LB_OK, "%s", e.msg);
    cr_assert_eq(lb_model_forward(m, &g.b, false, NULL, fb, &e), LB_OK, "%s", e.msg);
    double db = max_abs_diff(fb, f0, 10) / scale;
    cr_log_info("bf16 vs fp32 logits: %.3g relative to the largest", db);
    cr_assert(db > 0 && db < 5e-2, "bf16 %g", db);
    /* a bf16 train step runs (transposed packs) and gives finite gradients */
    int32_t labels[5] = {0, 1, 1, 0, 1};
    float tl[10], dl[10];
    cr_assert_eq(lb_model_forward(m, &g.b, true, NULL, tl, &e), LB_OK, "%s", e.msg);
    lb_cross_entropy(tl, labels, 5, 2, dl);
    lb_model_zero_grad(m);
    cr_assert_eq(lb_model_backward(m, dl, &e), LB_OK, "%s", e.msg);
    lb_param *ps;
    int np = lb_model_params(m, &ps);
    for (int i = 0; i < np; i++)
        for (int64_t j = 0; j < ps[i].numel; j++) cr_assert(isfinite(ps[i].grad[j]), "%s", ps[i].name);
    cr_assert_eq(lb_model_set_precision(m, LB_PRECISION_INT8, &e), LB_OK, "%s", e.msg);
    cr_assert_eq(lb_model_forward(m, &g.b, false, NULL, fi, &e), LB_OK, "%s", e.msg);
    double di = max_abs_diff(fi, f0, 10) / scale;
    cr_log_info("int8 vs fp32 logits: %.3g relative to the largest", di);
    cr_assert(di > 0 && di < 1e-1, "int8 %g", di);
    cr_assert_eq(lb_model_forward(m, &g.b, true, NULL, tl, &e), LB_OK, "%s", e.msg);
    cr_assert_eq(lb_model_backward(m, dl, &e), LB_ERR_UNSUPPORTED);
    cr_assert_eq(lb_model_set_precision(m, LB_PRECISION_FP32, &e), LB_OK, "%s", e.msg);
    cr_assert_eq(lb_model_forward(m, &g.b, false, NULL, f1, &e), LB_OK, "%s", e.msg);
    cr_assert_eq(memcmp(f0, f1, sizeof f0), 0, "fp32 again is bit-identical");
    golden_free_batch(&g);
    lb_model_free(m);
}

/* Central differences of the train-mode loss (fixed dropout seed) against backward: LoRA on all four
 * linears with LoRA dropout, the classifier behind the classifier dropout, cls and mean pooling. */
static void fd_case(const char *name, float pl, double pc, unsigned mask) {
    if (!lb_dir_exists("tests/golden/modernbert_tiny")) cr_skip_test("golden modernbert_tiny missing");
    static const char *const keys[] = {"classifier_dropout"};
    char *dir = golden_model_copy(name, keys, &pc, 1);
    lb_error e;
    lb_load_opts lo = {.quiet = true, .seed = 9};
    lb_model *m = lb_model_load(dir, &lo, &e);
    cr_assert_not_null(m, "%s", e.msg);
    lb_model_set_weight_packing(m, false); /* OpenBLAS: the same arithmetic forward and backward */
    lb_lora_config lc = {.r = 4, .alpha = 32, .dropout = pl, .target_mask = mask};
    cr_assert_eq(lb_model_add_lora(m, &lc, 1, &e), LB_OK, "%s", e.msg);
    lb_param *ps;
    int np = lb_model_params(m, &ps);
    lb_rng r;
    lb_rng_seed(&r, 3);
    for (int i = 0; i < np; i++)
        if (strstr(ps[i].name, "lora_B"))
            for (int64_t j = 0; j < ps[i].numel; j++) ps[i].data[j] = (float)(lb_rng_normal(&r) * 0.02);
    /* 19 tokens: the local layer's window (+-4) cuts through the longer row */
    int32_t ids[2 * 19], lens[2] = {19, 7}, labels[2] = {1, 0};
    for (int i = 0; i < 2 * 19; i++) ids[i] = 5 + (i * 37) % 800;
    lb_batch b = {.B = 2, .T = 19, .ids = ids, .lengths = lens};
    int NL = lb_model_get_config(m)->num_labels;
    float logits[6], ev[6];
    lb_rng_seed(&r, 77);
    cr_assert_eq(lb_model_forward(m, &b, true, &r, logits, &e), LB_OK, "%s", e.msg);
    cr_assert_eq(lb_model_forward(m, &b, false, NULL, ev, &e), LB_OK, "%s", e.msg);
    if (pl > 0 || pc > 0)
        cr_assert(fabsf(ev[0] - logits[0]) > 1e-6f || fabsf(ev[NL] - logits[NL]) > 1e-6f, "the dropouts act");
    assert_fd_matches_backward(m, &b, labels, 77, NULL);
    lb_model_free(m);
    golden_remove_copy(dir);
}
#define ALL4 ((1u << LB_LIN_Q) | (1u << LB_LIN_O) | (1u << LB_LIN_FFN1) | (1u << LB_LIN_FFN2))
Test(modernbert_model, gradients_with_dropout_match_finite_differences_cls) {
    fd_case("modernbert_tiny", 0.1f, 0.3, ALL4);
}
Test(modernbert_model, gradients_with_dropout_match_finite_differences_mean) {
    fd_case("modernbert_mean", 0.1f, 0.3, ALL4);
}

/* Random init (benchmarks): a ModernBERT shape runs forward. */
Test(modernbert_model, random_init_runs) {
    lb_model_config c = {.arch = LB_ARCH_MODERNBERT,
                         .vocab_size = 50,
                         .dim = 16,
                         .n_layers = 2,
                         .n_heads = 2,
                         .hidden_dim = 24,
                         .max_pos = 32,
                         .ln_eps = 1e-5f,
                         .num_labels = 3,
                         .global_every = 2,
                         .local_window = 4,
                         .rope_global = 160000.0f,
                         .rope_local = 10000.0f};
    lb_error e;
    lb_model *m = lb_model_init_random(&c, 1, &e);
    cr_assert_not_null(m, "%s", e.msg);
    int32_t ids[12] = {1, 5, 9, 13, 17, 21, 25, 29, 2, 0, 0, 0}, lens[1] = {9};
    lb_batch b = {.B = 1, .T = 12, .ids = ids, .lengths = lens};
    float l[3];
    cr_assert_eq(lb_model_forward(m, &b, false, NULL, l, &e), LB_OK, "%s", e.msg);
    for (int i = 0; i < 3; i++) cr_assert(isfinite(l[i]));
    lb_model_free(m);
}
