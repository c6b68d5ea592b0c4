/* Tests for RoBERTa / XLM-RoBERTa in src/model beyond the golden parity of test_model.c (which
 * runs tests/golden/roberta_tiny and xlmr_tiny through forward, gradients, merge and save):
 * config.json defaults and refusals, the position limit max_position_embeddings - pad_token_id
 * - 1, the refused PEFT target "dense", and finite differences through the train path with
 * every dropout on (the head's extra dropout before classifier.dense included). */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "base/fileio.h"
#include "kernels/kernels.h"
#include "model/internal.h"
#include "model/peft.h"

static lb_status parse(const char *text, lb_model_config *out, lb_error *e) {
    lb_model *m = calloc(1, sizeof *m);
    cr_assert_not_null(m);
    lb_status st = lb_config_parse_text(m, "mem/config.json", text, NULL, e);
    *out = m->cfg;
    out->id2label = NULL;
    lb_config_free(&m->cfg);
    cJSON_Delete(m->config_json);
    free(m);
    return st;
}

Test(roberta_config, defaults_and_position_limit) {
    lb_error e;
    lb_model_config c;
    /* RobertaConfig's defaults: vocabulary 50265, pad 1, 512 positions -> 510 tokens */
    cr_assert_eq(parse("{\"model_type\": \"roberta\"}", &c, &e), LB_OK, "%s", e.msg);
    cr_assert_eq(c.arch, LB_ARCH_ROBERTA);
    cr_assert_eq(c.vocab_size, 50265);
    cr_assert_eq(c.pad_token_id, 1);
    cr_assert_eq(c.type_vocab_size, 2);
    cr_assert_eq(c.max_tokens, 510);
    /* XLMRobertaConfig: vocabulary 30522 by default */
    cr_assert_eq(parse("{\"model_type\": \"xlm-roberta\"}", &c, &e), LB_OK, "%s", e.msg);
    cr_assert_eq(c.arch, LB_ARCH_XLM_ROBERTA);
    cr_assert_eq(c.vocab_size, 30522);
    /* roberta-base's own: 514 positions, pad 1, one token type, eps 1e-5 -> 512 tokens */
    cr_assert_eq(parse("{\"model_type\": \"roberta\", \"max_position_embeddings\": 514, \"pad_token_id\": 1, "
                       "\"type_vocab_size\": 1, \"layer_norm_eps\": 1e-05}",
                       &c, &e),
                 LB_OK, "%s", e.msg);
    cr_assert_eq(c.max_tokens, 512);
    cr_assert_eq(c.type_vocab_size, 1);
    cr_assert_float_eq(c.ln_eps, 1e-5f, 1e-12f);
    /* another pad id moves the limit */
    cr_assert_eq(parse("{\"model_type\": \"roberta\", \"max_position_embeddings\": 514, \"pad_token_id\": 5}", &c, &e),
                 LB_OK, "%s", e.msg);
    cr_assert_eq(c.max_tokens, 508);
    /* BERT is unchanged */
    cr_assert_eq(parse("{\"model_type\": \"bert\", \"max_position_embeddings\": 514}", &c, &e), LB_OK, "%s", e.msg);
    cr_assert_eq(c.max_tokens, 514);
}

static void refused(const char *text, lb_status code, const char *needle) {
    lb_error e;
    lb_model_config c;
    cr_assert_eq(parse(text, &c, &e), code, "%s -> %s", text, e.msg);
    cr_assert(strstr(e.msg, needle), "%s: message lacks \"%s\": %s", text, needle, e.msg);
}

Test(roberta_config, unsupported_fields_are_refused_by_name) {
    refused("{\"model_type\": \"roberta\", \"position_embedding_type\": \"relative_key\"}", LB_ERR_UNSUPPORTED,
            "position_embedding_type");
    refused("{\"model_type\": \"xlm-roberta\", \"position_embedding_type\": \"relative_key_query\"}",
            LB_ERR_UNSUPPORTED, "relative_key_query");
    refused("{\"model_type\": \"roberta\", \"is_decoder\": true}", LB_ERR_UNSUPPORTED, "is_decoder");
    refused("{\"model_type\": \"roberta\", \"hidden_act\": \"relu\"}", LB_ERR_UNSUPPORTED, "hidden_act");
    /* position ids need the pad id: None would fail in transformers */
    refused("{\"model_type\": \"roberta\", \"pad_token_id\": null}", LB_ERR_FORMAT, "pad_token_id");
    /* nn.Embedding(padding_idx) must lie inside the position table, and leave a position */
    refused("{\"model_type\": \"roberta\", \"max_position_embeddings\": 66, \"pad_token_id\": 65}", LB_ERR_FORMAT,
            "pad_token_id");
    refused("{\"model_type\": \"camembert\"}", LB_ERR_UNSUPPORTED, "xlm-roberta");
}

static lb_model *load(const char *name) {
    char dir[256];
    snprintf(dir, sizeof dir, "tests/golden/%s/model", name);
    if (!lb_dir_exists(dir)) cr_skip_test("golden %s missing (tools/reference/make_goldens.py)", dir);
    lb_error e;
    lb_load_opts o = {.quiet = true, .seed = 5};
    lb_model *m = lb_model_load(dir, &o, &e);
    cr_assert_not_null(m, "%s", e.msg);
    return m;
}

Test(roberta_model, sequence_limit_is_positions_after_the_pad_id) {
    lb_model *m = load("roberta_tiny");
    const lb_model_config *c = lb_model_get_config(m);
    cr_assert_eq(c->max_pos, 66);
    cr_assert_eq(c->max_tokens, 64);
    lb_model_info info;
    lb_model_get_info(m, &info);
    cr_assert_eq(info.max_tokens, 64);
    cr_assert_eq(info.max_position_embeddings, 66);
    cr_assert_str_eq(info.architecture, "RobertaForSequenceClassification");
    int32_t ids[65], len = 64;
    for (int i = 0; i < 65; i++) ids[i] = 4 + i;
    lb_batch b = {.B = 1, .T = 64, .ids = ids, .lengths = &len};
    float logits[2];
    lb_error e;
    cr_assert_eq(lb_model_forward(m, &b, false, NULL, logits, &e), LB_OK, "%s", e.msg);
    cr_assert(isfinite(logits[0]) && isfinite(logits[1]));
    /* 65 tokens would read position 66, outside the table */
    len = 65;
    b.T = 65;
    cr_assert_eq(lb_model_forward(m, &b, false, NULL, logits, &e), LB_ERR_USAGE);
    cr_assert(strstr(e.msg, "64") && strstr(e.msg, "pad_token_id"), "%s", e.msg);
    /* pad ids inside a row take position pad_token_id and are not counted, so they never push
     * a row of 64 past the table either */
    ids[10] = ids[20] = 1;
    len = 64;
    b.T = 64;
    cr_assert_eq(lb_model_forward(m, &b, false, NULL, logits, &e), LB_OK, "%s", e.msg);
    lb_model_free(m);
}

Test(roberta_model, bare_dense_target_is_refused) {
    lb_model *m = load("xlmr_tiny");
    lb_error e;
    cr_assert_eq(lb_peft_check_target(m, "dense", &e), LB_ERR_UNSUPPORTED);
    cr_assert(strstr(e.msg, "classifier.dense") && strstr(e.msg, "xlm-roberta"), "%s", e.msg);
    cr_assert_eq(lb_peft_check_target(m, "query", &e), LB_OK, "%s", e.msg);
    cr_assert_eq(lb_peft_check_target(m, "attention.output.dense", &e), LB_OK, "%s", e.msg);
    cr_assert_eq(lb_peft_check_target(m, "q_lin", &e), LB_ERR_USAGE);
    cr_assert_str_eq(lb_model_linear_name(m, LB_LIN_FFN1), "intermediate.dense");
    lb_model_free(m);
}

/* A copy of a golden model folder whose config.json sets every dropout (the head's two
 * included), the weights linked. */
static char *with_dropout(const char *name) {
    char tmpl[] = "/tmp/lbrobXXXXXX", src[256], text_path[300];
    char *dir = strdup(mkdtemp(tmpl));
    snprintf(src, sizeof src, "tests/golden/%s/model", name);
    char abs[600], link[600];
    cr_assert_not_null(realpath(src, abs));
    snprintf(link, sizeof link, "%s/model.safetensors", dir);
    char target[700];
    snprintf(target, sizeof target, "%s/model.safetensors", abs);
    cr_assert_eq(symlink(target, link), 0);
    snprintf(text_path, sizeof text_path, "%s/config.json", src);
    char *text;
    lb_error e;
    cr_assert_eq(lb_read_file(text_path, &text, NULL, &e), LB_OK, "%s", e.msg);
    cJSON *j = cJSON_Parse(text);
    const char *keys[] = {"hidden_dropout_prob", "attention_probs_dropout_prob", "classifier_dropout"};
    const double vals[] = {0.1, 0.1, 0.3};
    for (int i = 0; i < 3; i++) {
        cJSON_DeleteItemFromObject(j, keys[i]);
        cJSON_AddNumberToObject(j, keys[i], vals[i]);
    }
    char *out = cJSON_Print(j), cp[300];
    snprintf(cp, sizeof cp, "%s/config.json", dir);
    cr_assert_eq(lb_write_file_atomic(cp, out, strlen(out), &e), LB_OK, "%s", e.msg);
    free(out);
    cJSON_Delete(j);
    free(text);
    return dir;
}

static void rm_dir(char *dir) {
    char p[600];
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/config.json", dir);
    unlink(p);
    rmdir(dir);
    free(dir);
}

/* Central differences of the train-mode loss (fixed dropout seed) against backward for every
 * trainable tensor: LoRA on all six linears with LoRA dropout, and the head's dense and out_proj
 * behind RoBERTa's two head dropouts. */
Test(roberta_model, gradients_with_every_dropout_match_finite_differences) {
    if (!lb_dir_exists("tests/golden/roberta_tiny")) cr_skip_test("golden roberta_tiny missing");
    char *dir = with_dropout("roberta_tiny");
    lb_error e;
    lb_load_opts lo = {.quiet = true, .seed = 9};
    lb_model *m = lb_model_load(dir, &lo, &e);
    cr_assert_not_null(m, "%s", e.msg);
    cr_assert_float_eq(lb_model_get_config(m)->classifier_dropout, 0.3f, 1e-7f);
    lb_lora_config lc = {.r = 4, .alpha = 32, .dropout = 0.1f, .target_mask = (1u << LB_LIN__COUNT) - 1};
    cr_assert_eq(lb_model_add_lora(m, &lc, 1, &e), LB_OK, "%s", e.msg);
    lb_param *ps;
    int np = lb_model_params(m, &ps);
    /* B = 0 at init gives no gradient through A: small random B so every tensor has one */
    lb_rng r;
    lb_rng_seed(&r, 3);
    for (int i = 0; i < np; i++)
        if (strstr(ps[i].name, "lora_B"))
            for (int64_t j = 0; j < ps[i].numel; j++) ps[i].data[j] = (float)(lb_rng_normal(&r) * 0.02);
    int32_t ids[2 * 7] = {0, 50, 70, 1, 90, 2, 1, 0, 11, 300, 2, 1, 1, 1}, lens[2] = {6, 4}, labels[2] = {1, 0};
    lb_batch b = {.B = 2, .T = 7, .ids = ids, .lengths = lens};
    float logits[4], dl[4];
    lb_rng_seed(&r, 77);
    cr_assert_eq(lb_model_forward(m, &b, true, &r, logits, &e), LB_OK, "%s", e.msg);
    /* the dropouts act: the same batch in eval mode gives other logits */
    float ev[4];
    cr_assert_eq(lb_model_forward(m, &b, false, NULL, ev, &e), LB_OK, "%s", e.msg);
    cr_assert(fabsf(ev[0] - logits[0]) > 1e-6f || fabsf(ev[2] - logits[2]) > 1e-6f);
    lb_rng_seed(&r, 77);
    cr_assert_eq(lb_model_forward(m, &b, true, &r, logits, &e), LB_OK, "%s", e.msg);
    lb_cross_entropy(logits, labels, 2, 2, dl);
    lb_model_zero_grad(m);
    cr_assert_eq(lb_model_backward(m, dl, &e), LB_OK, "%s", e.msg);
    int checked_head = 0;
    for (int i = 0; i < np; i++) {
        checked_head += strstr(ps[i].name, "classifier.dense") != NULL;
        for (int j = 0; j < 3; j++) {
            int64_t idx = (int64_t)(j * 7919 + i * 31) % ps[i].numel;
            float s = ps[i].data[idx], h = 1e-3f;
            double lp, lm;
            ps[i].data[idx] = s + h;
            lb_rng_seed(&r, 77);
            lb_model_forward(m, &b, true, &r, logits, &e);
            lp = lb_cross_entropy(logits, labels, 2, 2, NULL);
            ps[i].data[idx] = s - h;
            lb_rng_seed(&r, 77);
            lb_model_forward(m, &b, true, &r, logits, &e);
            lm = lb_cross_entropy(logits, labels, 2, 2, NULL);
            ps[i].data[idx] = s;
            double num = (lp - lm) / (2 * h), an = ps[i].grad[idx];
            cr_assert(fabs(num - an) <= 5e-3 * fabs(an) + 3e-4, "%s[%lld]: fd %.6g vs backward %.6g", ps[i].name,
                      (long long)idx, num, an);
        }
    }
    cr_assert_eq(checked_head, 2, "classifier.dense weight and bias are trainable");
    lb_model_free(m);
    rm_dir(dir);
}
