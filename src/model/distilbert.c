/* DistilBERT: checkpoint names and quirks (no token types, no dropout on the attention
 * output, head = pre_classifier -> ReLU -> dropout -> classifier). The math is shared with
 * BERT in encoder.c. */
#include "model/internal.h"

const lb_arch_desc lb_distilbert_desc = {
    .arch = LB_ARCH_DISTILBERT,
    .model_type = "distilbert",
    .prefix = "distilbert",
    .seqcls_class = "DistilBertForSequenceClassification",
    .layer_fmt = "transformer.layer.%d.",
    .lin_module = {"attention.q_lin", "attention.k_lin", "attention.v_lin", "attention.out_lin", "ffn.lin1",
                   "ffn.lin2"},
    .lin_short = {"q_lin", "k_lin", "v_lin", "out_lin", "lin1", "lin2"},
    .ln1 = "sa_layer_norm",
    .ln2 = "output_layer_norm",
    .has_token_type = false,
    .attn_out_dropout = false,
    .head = {.dense = "pre_classifier", .dense_in_base = false, .dense_tanh = false, .classifier = "classifier"},
};
