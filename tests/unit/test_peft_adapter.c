/* Tests for src/model/peft: reading PEFT-written adapters (tests/golden/<case>/lora, made
 * by the real peft 0.6.2), logits parity with PEFT, save/load round trips and error messages. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "base/fileio.h"
#include "model/peft.h"
#include "formats/safetensors.h"

static lb_model *load_tiny(const char *casedir) {
    char path[256];
    snprintf(path, sizeof path, "tests/golden/%s/model", casedir);
    lb_load_opts lo = {.quiet = true};
    lb_error err;
    lb_model *m = lb_model_load(path, &lo, &err);
    cr_assert_not_null(m, "%s", err.msg);
    return m;
}

/* Forward of grads.safetensors' inputs in eval mode; returns max |ours - PEFT's| / max|PEFT's|. */
static double logits_vs_golden(lb_model *m, const char *casedir) {
    char path[256];
    snprintf(path, sizeof path, "tests/golden/%s/grads.safetensors", casedir);
    lb_error err;
    lb_st_file *f = lb_st_open(path, &err);
    cr_assert_not_null(f, "%s", err.msg);
    const lb_st_tensor *ids = lb_st_find(f, "input_ids"), *mask = lb_st_find(f, "attention_mask"),
                       *lg = lb_st_find(f, "logits");
    cr_assert(ids && mask && lg);
    int B = (int)ids->shape[0], T = (int)ids->shape[1], L = (int)lg->shape[1];
    const float *fid = lb_st_f32(f, ids, &err), *fmask = lb_st_f32(f, mask, &err), *want = lb_st_f32(f, lg, &err);
    const lb_st_tensor *tt = lb_st_find(f, "token_type_ids");
    const float *ftt = tt ? lb_st_f32(f, tt, &err) : NULL;
    int32_t *id32 = malloc(sizeof(int32_t) * B * T), *len = malloc(sizeof(int32_t) * B);
    int32_t *tt32 = malloc(sizeof(int32_t) * B * T);
    for (int b = 0; b < B; b++) {
        len[b] = 0;
        for (int t = 0; t < T; t++) {
            id32[b * T + t] = (int32_t)fid[b * T + t];
            tt32[b * T + t] = ftt ? (int32_t)ftt[b * T + t] : 0;
            len[b] += fmask[b * T + t] != 0;
        }
    }
    lb_batch batch = {.B = B, .T = T, .ids = id32, .lengths = len, .token_type_ids = ftt ? tt32 : NULL};
    float *got = malloc(sizeof(float) * B * L);
    cr_assert_eq(lb_model_forward(m, &batch, false, NULL, got, &err), LB_OK, "%s", err.msg);
    double worst = 0, scale = 0;
    for (int i = 0; i < B * L; i++) {
        worst = fmax(worst, fabs(got[i] - want[i]));
        scale = fmax(scale, fabs(want[i]));
    }
    free(id32);
    free(len);
    free(got);
    free(tt32);
    lb_st_close(f);
    return worst / scale;
}

Test(peft_adapter, reads_peft_config) {
    lb_lora_config c;
    lb_error err;
    cr_assert_eq(lb_peft_read_config("tests/golden/distilbert_tiny/lora", &c, NULL, &err), LB_OK, "%s", err.msg);
    cr_assert_eq(c.r, 4);
    cr_assert_float_eq(c.alpha, 32.0f, 0);
    cr_assert_float_eq(c.dropout, 0.0f, 0);
    cr_assert_eq(c.target_mask, 1u << LB_LIN_Q);
    cr_assert_eq(lb_peft_read_config("tests/golden/distilbert_tiny_all/lora", &c, NULL, &err), LB_OK, "%s", err.msg);
    cr_assert(c.target_mask & (1u << LB_LIN_FFN2));
}

Test(peft_adapter, loads_peft_adapter_with_peft_logits) {
    const char *cases[] = {"distilbert_tiny", "distilbert_tiny_all", "bert_tiny"};
    for (int k = 0; k < 3; k++) {
        char dir[256];
        snprintf(dir, sizeof dir, "tests/golden/%s/lora", cases[k]);
        lb_model *m = load_tiny(cases[k]);
        lb_error err;
        cr_assert_eq(lb_peft_load(m, dir, &err), LB_OK, "%s: %s", cases[k], err.msg);
        double rel = logits_vs_golden(m, cases[k]);
        cr_log_info("%s: logits vs PEFT max relative diff %.3g", cases[k], rel);
        cr_assert(rel <= 1e-5, "%s: logits differ from PEFT's by %.3g relative", cases[k], rel);
        lb_model_free(m);
    }
}

Test(peft_adapter, save_then_load_is_bit_exact) {
    char tmp[] = "/tmp/lbpeftXXXXXX";
    cr_assert_not_null(mkdtemp(tmp));
    lb_model *a = load_tiny("distilbert_tiny_all");
    lb_error err;
    cr_assert_eq(lb_peft_load(a, "tests/golden/distilbert_tiny_all/lora", &err), LB_OK, "%s", err.msg);
    cr_assert_eq(lb_peft_save(a, tmp, "some/base", &err), LB_OK, "%s", err.msg);
    lb_model *b = load_tiny("distilbert_tiny_all");
    cr_assert_eq(lb_peft_load(b, tmp, &err), LB_OK, "%s", err.msg);
    lb_param *pa, *pb;
    int na = lb_model_params(a, &pa), nb = lb_model_params(b, &pb);
    cr_assert_eq(na, nb);
    for (int i = 0; i < na; i++) {
        cr_assert_str_eq(pa[i].name, pb[i].name);
        cr_assert_eq(memcmp(pa[i].data, pb[i].data, sizeof(float) * pa[i].numel), 0, "%s differs", pa[i].name);
    }
    const lb_lora_config *ca = lb_model_get_lora(a), *cb = lb_model_get_lora(b);
    cr_assert(ca->r == cb->r && ca->alpha == cb->alpha && ca->target_mask == cb->target_mask);
    /* the written config is what PEFT writes: sorted keys, indent 2, SEQ_CLS, inference mode */
    char *p = lb_path_join(tmp, "adapter_config.json"), *text;
    size_t len;
    cr_assert_eq(lb_read_file(p, &text, &len, &err), LB_OK);
    cr_assert(strstr(text, "{\n  \"alpha_pattern\": {},\n  \"auto_mapping\": null,\n"
                           "  \"base_model_name_or_path\": \"some/base\",\n") == text,
              "%s", text);
    cr_assert(strstr(text, "\"inference_mode\": true") && strstr(text, "\"task_type\": \"SEQ_CLS\""), "%s", text);
    cr_assert(strstr(text, "\"lora_dropout\": 0.0,\n"), "%s", text);
    free(text);
    unlink(p);
    free(p);
    p = lb_path_join(tmp, "adapter_model.safetensors");
    lb_st_file *f = lb_st_open(p, &err);
    cr_assert_not_null(f, "%s", err.msg);
    cr_assert_str_eq(lb_st_metadata(f, "format"), "pt");
    lb_st_close(f);
    unlink(p);
    free(p);
    rmdir(tmp);
    lb_model_free(a);
    lb_model_free(b);
}

Test(peft_adapter, missing_head_tensor_is_a_loud_error) {
    char tmp[] = "/tmp/lbpeftXXXXXX";
    cr_assert_not_null(mkdtemp(tmp));
    lb_model *a = load_tiny("distilbert_tiny");
    lb_error err;
    cr_assert_eq(lb_peft_load(a, "tests/golden/distilbert_tiny/lora", &err), LB_OK, "%s", err.msg);
    /* write the adapter without its last tensor (the head's) */
    lb_param *pa;
    int na = lb_model_params(a, &pa);
    lb_st_out outs[64];
    int k = 0;
    for (int i = 0; i < na && k < 64; i++) {
        if (!strcmp(pa[i].name, "base_model.model.classifier.weight")) continue;
        outs[k] = (lb_st_out){.name = pa[i].name,
                              .dtype = LB_DT_F32,
                              .ndim = pa[i].ndim,
                              .shape = {pa[i].shape[0], pa[i].shape[1]},
                              .data = pa[i].data};
        k++;
    }
    char *p = lb_path_join(tmp, "adapter_model.safetensors");
    cr_assert_eq(lb_st_write(p, outs, k, NULL, &err), LB_OK, "%s", err.msg);
    char *c = lb_path_join(tmp, "adapter_config.json"), *text;
    size_t len;
    cr_assert_eq(lb_read_file("tests/golden/distilbert_tiny/lora/adapter_config.json", &text, &len, &err), LB_OK);
    cr_assert_eq(lb_write_file_atomic(c, text, len, &err), LB_OK);
    free(text);
    lb_model *b = load_tiny("distilbert_tiny");
    cr_assert_eq(lb_peft_load(b, tmp, &err), LB_ERR_FORMAT);
    cr_assert(strstr(err.msg, "base_model.model.classifier.weight") && strstr(err.msg, "missing"), "%s", err.msg);
    lb_model_free(b);
    /* a config that is not LoRA */
    cr_assert_eq(lb_write_file_atomic(c, "{\"peft_type\": \"IA3\"}", 20, &err), LB_OK);
    lb_lora_config cfg;
    cr_assert_eq(lb_peft_read_config(tmp, &cfg, NULL, &err), LB_ERR_UNSUPPORTED, "%s", err.msg);
    cr_assert(strstr(err.msg, "IA3"), "%s", err.msg);
    cr_assert_eq(lb_write_file_atomic(c, "{\"peft_type\": \"LORA\", \"target_modules\": [\"nope\"]}", 49, &err), LB_OK);
    cr_assert_eq(lb_peft_read_config(tmp, &cfg, NULL, &err), LB_ERR_UNSUPPORTED);
    cr_assert(strstr(err.msg, "nope"), "%s", err.msg);
    cr_assert_eq(lb_write_file_atomic(c, "{not json", 9, &err), LB_OK);
    cr_assert_eq(lb_peft_read_config(tmp, &cfg, NULL, &err), LB_ERR_FORMAT);
    unlink(p);
    unlink(c);
    free(p);
    free(c);
    rmdir(tmp);
    lb_model_free(a);
}
