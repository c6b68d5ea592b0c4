/* Tests for RoBERTa / XLM-RoBERTa in src/model beyond the golden parity of test_model.c (which
 * runs tests/golden/roberta_tiny and xlmr_tiny through forward, gradients, merge and save):
 * config.json defaults and refusals, the position limit max_position_embeddings - pad_token_id
 * - 1, the refused PEFT target "dense", and finite differences through the train path with
 * every dropout on (the head's extra dropout before classifier.dense included). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "base/fileio.h"
#include "kernels/kernels.h"
#include "model/internal.h"
#include "model/peft.h"
#include "../support/model_support.h"

#define MODEL_WRITER "tools/reference/make_goldens.py"

Test(roberta_config, defaults_and_position_limit) {
    lb_error e;
    lb_model_config c;
    /* RobertaConfig's defaults: vocabulary 50265, pad 1, 512 positions -> 510 tokens */
    cr_assert_eq(golden_parse_config("{\"model_type\": \"roberta\"}", NULL, &c, &e), LB_OK, "%s", e.msg);
    cr_assert_eq(c.arch, LB_ARCH_ROBERTA);
    cr_assert_eq(c.vocab_size, 50265);
    cr_assert_eq(c.pad_token_id, 1);
    cr_assert_eq(c.type_vocab_size, 2);
    cr_assert_eq(c.max_tokens, 510);
    /* XLMRobertaConfig: vocabulary 30522 by default */
    cr_assert_eq(golden_parse_config("{\"model_type\": \"xlm-roberta\"}", NULL, &c, &e), LB_OK, "%s", e.msg);
    cr_assert_eq(c.arch, LB_ARCH_XLM_ROBERTA);
    cr_assert_eq(c.vocab_size, 30522);
    /* roberta-base's own: 514 positions, pad 1, one token type, eps 1e-5 -> 512 tokens */
    cr_assert_eq(
        golden_parse_config("{\"model_type\": \"roberta\", \"max_position_embeddings\": 514, \"pad_token_id\": 1, "
                            "\"type_vocab_size\": 1, \"layer_norm_eps\": 1e-05}",
                            NULL, &c, &e),
        LB_OK, "%s", e.msg);
    cr_assert_eq(c.max_tokens, 512);
    cr_assert_eq(c.type_vocab_size, 1);
    cr_assert_float_eq(c.ln_eps, 1e-5f, 1e-12f);
    /* another pad id moves the limit */
    cr_assert_eq(
        golden_parse_config("{\"model_type\": \"roberta\", \"max_position_embeddings\": 514, \"pad_token_id\": 5}",
                            NULL, &c, &e),
        LB_OK, "%s", e.msg);
    cr_assert_eq(c.max_tokens, 508);
    /* BERT is unchanged */
    cr_assert_eq(golden_parse_config("{\"model_type\": \"bert\", \"max_position_embeddings\": 514}", NULL, &c, &e),
                 LB_OK, "%s", e.msg);
    cr_assert_eq(c.max_tokens, 514);
}

Test(roberta_config, unsupported_fields_are_refused_by_name) {
    golden_config_refused("{\"model_type\": \"roberta\", \"position_embedding_type\": \"relative_key\"}",
                          LB_ERR_UNSUPPORTED, "position_embedding_type");
    golden_config_refused("{\"model_type\": \"xlm-roberta\", \"position_embedding_type\": \"relative_key_query\"}",
                          LB_ERR_UNSUPPORTED, "relative_key_query");
    golden_config_refused("{\"model_type\": \"roberta\", \"is_decoder\": true}", LB_ERR_UNSUPPORTED, "is_decoder");
    golden_config_refused("{\"model_type\": \"roberta\", \"hidden_act\": \"relu\"}", LB_ERR_UNSUPPORTED, "hidden_act");
    /* position ids need the pad id: None would fail in transformers */
    golden_config_refused("{\"model_type\": \"roberta\", \"pad_token_id\": null}", LB_ERR_FORMAT, "pad_token_id");
    /* nn.Embedding(padding_idx) must lie inside the position table, and leave a position */
    golden_config_refused("{\"model_type\": \"roberta\", \"max_position_embeddings\": 66, \"pad_token_id\": 65}",
                          LB_ERR_FORMAT, "pad_token_id");
    golden_config_refused("{\"model_type\": \"camembert\"}", LB_ERR_UNSUPPORTED, "xlm-roberta");
}

Test(roberta_model, sequence_limit_is_positions_after_the_pad_id) {
    lb_model *m = golden_load_model("roberta_tiny", MODEL_WRITER);
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
    lb_model *m = golden_load_model("xlmr_tiny", MODEL_WRITER);
    lb_error e;
    cr_assert_eq(lb_peft_check_target(m, "dense", &e), LB_ERR_UNSUPPORTED);
    cr_assert(strstr(e.msg, "classifier.dense") && strstr(e.msg, "xlm-roberta"), "%s", e.msg);
    cr_assert_eq(lb_peft_check_target(m, "query", &e), LB_OK, "%s", e.msg);
    cr_assert_eq(lb_peft_check_target(m, "attention.output.dense", &e), LB_OK, "%s", e.msg);
    cr_assert_eq(lb_peft_check_target(m, "q_lin", &e), LB_ERR_USAGE);
    cr_assert_str_eq(lb_model_linear_name(m, LB_LIN_FFN1), "intermediate.dense");
    lb_model_free(m);
}

/* Central differences of the train-mode loss (fixed dropout seed) against backward for every
 * trainable tensor: LoRA on all six linears with LoRA dropout, and the head's dense and out_proj
 * behind RoBERTa's two head dropouts. */
Test(roberta_model, gradients_with_every_dropout_match_finite_differences) {
    if (!lb_dir_exists("tests/golden/roberta_tiny")) cr_skip_test("golden roberta_tiny missing");
    static const char *const keys[] = {"hidden_dropout_prob", "attention_probs_dropout_prob", "classifier_dropout"};
    static const double vals[] = {0.1, 0.1, 0.3};
    char *dir = golden_model_copy("roberta_tiny", keys, vals, 3);
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
    float logits[4];
    lb_rng_seed(&r, 77);
    cr_assert_eq(lb_model_forward(m, &b, true, &r, logits, &e), LB_OK, "%s", e.msg);
    /* the dropouts act: the same batch in eval mode gives other logits */
    float ev[4];
    cr_assert_eq(lb_model_forward(m, &b, false, NULL, ev, &e), LB_OK, "%s", e.msg);
    cr_assert(fabsf(ev[0] - logits[0]) > 1e-6f || fabsf(ev[2] - logits[2]) > 1e-6f);
    assert_fd_matches_backward(m, &b, labels, 77, NULL);
    int checked_head = 0;
    for (int i = 0; i < np; i++) checked_head += strstr(ps[i].name, "classifier.dense") != NULL;
    cr_assert_eq(checked_head, 2, "classifier.dense weight and bias are trainable");
    lb_model_free(m);
    golden_remove_copy(dir);
}
