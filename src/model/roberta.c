/* RoBERTa and XLM-RoBERTa (transformers' RobertaForSequenceClassification and
 * XLMRobertaForSequenceClassification, one code path): BERT's blocks and names under the
 * "roberta" prefix, with position ids counted from pad_token_id + 1 over the non-pad ids
 * (create_position_ids_from_input_ids), and the head RobertaClassificationHead: dropout ->
 * classifier.dense -> tanh -> dropout -> classifier.out_proj on the <s> row, trained whole
 * (PEFT's modules_to_save "classifier"). The math is shared with BERT in encoder.c.
 * PEFT's bare target "dense" would also adapt classifier.dense inside the saved head copy;
 * lorabert refuses it here and names the layer kinds by their dotted paths instead. */
#include "model/internal.h"

#define ROBERTA_FIELDS                                                                                                \
    .prefix = "roberta", .layer_fmt = "encoder.layer.%d.",                                                            \
    .lin_module = {"attention.self.query",   "attention.self.key", "attention.self.value",                            \
                   "attention.output.dense", "intermediate.dense", "output.dense"},                                   \
    .lin_short = {"query", "key", "value", "attention.output.dense", "intermediate.dense", "output.dense"},           \
    .ln1 = "attention.output.LayerNorm", .ln2 = "output.LayerNorm", .has_token_type = true, .attn_out_dropout = true, \
    .pos_from_pad = true, .no_target = "dense",                                                                       \
    .head = {.dense = "classifier.dense",                                                                             \
             .dense_in_base = false,                                                                                  \
             .dense_tanh = true,                                                                                      \
             .classifier = "classifier.out_proj",                                                                     \
             .pre_dropout = true}

const lb_arch_desc lb_roberta_desc = {
    .arch = LB_ARCH_ROBERTA,
    .model_type = "roberta",
    .seqcls_class = "RobertaForSequenceClassification",
    ROBERTA_FIELDS,
};

const lb_arch_desc lb_xlm_roberta_desc = {
    .arch = LB_ARCH_XLM_ROBERTA,
    .model_type = "xlm-roberta",
    .seqcls_class = "XLMRobertaForSequenceClassification",
    ROBERTA_FIELDS,
};
