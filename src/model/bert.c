/* BERT (and MiniLM / sentence-transformers BertModel checkpoints): checkpoint names and
 * quirks (token-type embeddings, dropout on the attention output, tanh pooler, head =
 * dropout -> classifier). The math is shared with DistilBERT in encoder.c. */
#include "model/internal.h"

const lb_arch_desc lb_bert_desc = {
    .arch = LB_ARCH_BERT,
    .model_type = "bert",
    .prefix = "bert",
    .seqcls_class = "BertForSequenceClassification",
    .layer_fmt = "encoder.layer.%d.",
    .lin_module = {"attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense",
                   "intermediate.dense", "output.dense"},
    .lin_short = {"query", "key", "value", "dense", "dense", "dense"},
    .ln1 = "attention.output.LayerNorm",
    .ln2 = "output.LayerNorm",
    .has_token_type = true,
    .attn_out_dropout = true,
    .head = {.dense = "pooler.dense", .dense_in_base = true, .dense_tanh = true, .classifier = "classifier"},
};
