/* PEFT adapter folders: the model's serialisation as an adapter. adapter_config.json and
 * adapter_model.safetensors are read and written exactly as PEFT does, so
 * PeftModel.from_pretrained loads ours and we load theirs; lorabert adds labels.json and a
 * copy of the tokenizer files, so that a folder is all a classifier needs. Built on the public
 * model API (model/model.h) only. */
#ifndef LB_MODEL_PEFT_H
#define LB_MODEL_PEFT_H
#include "model/model.h"

/* The files lorabert writes in an adapter folder (NULL-terminated): the two PEFT files,
 * labels.json and the tokenizer files (text/tokenizer.h: lb_tokenizer_files). */
extern const char *const lb_peft_folder_files[];

/* Parses dir/adapter_config.json into cfg (peft_type must be LORA; r, lora_alpha,
 * lora_dropout, target_modules (list or "all-linear"), use_rslora, use_dora, init_lora_weights,
 * rank_pattern / alpha_pattern, task_type SEQ_CLS). pats: where the patterns go (cfg->patterns
 * points there when any); NULL: checked, not kept. */
lb_status lb_peft_read_config(const char *dir, lb_lora_config *cfg, lb_lora_patterns *pats, lb_error *err);
/* Adds the adapter described by dir to m and loads its tensors (LoRA A/B and the head). A
 * tensor missing from the file, or of the wrong shape, is an error naming the key. */
lb_status lb_peft_load(lb_model *m, const char *dir, lb_error *err);
/* The adapter described by dir loaded apart (model.h lb_lora_adapter) over base, which must not
 * hold an adapter: the same reading and checks as lb_peft_load (config, target modules that are
 * linears of base's architecture, every tensor present with base's shapes, no unknown tensor),
 * with a head of num_labels classes. Reads only base's immutable configuration. */
lb_status lb_peft_load_apart(const lb_model *base, const char *dir, int num_labels, lb_lora_adapter **out,
                             lb_error *err);
/* Writes dir/adapter_config.json and dir/adapter_model.safetensors (atomically) for m's
 * trainable parameters, with PEFT's key names. A pissa / olora adapter (model.h lb_lora_init) is
 * written converted, as PEFT's save_pretrained(path_initial_model_for_weight_conversion=...): a
 * plain LoRA of rank 2r, init_lora_weights true, that fits the original base. */
lb_status lb_peft_save(const lb_model *m, const char *dir, const char *base_model_name_or_path, lb_error *err);
/* ORs into *mask the linear kinds that PEFT target-module name `name` adapts ("q_lin",
 * "query", "dense", ..., or "all-linear"); an unknown name is LB_ERR_UNSUPPORTED. */
lb_status lb_peft_target_mask(const char *name, unsigned *mask, lb_error *err);
/* LB_OK when target module `name` names a linear of m's architecture, or is "all-linear" or a
 * dotted path (q_lin is DistilBERT's, query BERT's): else LB_ERR_USAGE "target module 'q_lin' is
 * not a linear layer of this model (query, value, ...)" (LB_ERR_UNSUPPORTED for an unknown name). */
lb_status lb_peft_check_target(const lb_model *m, const char *name, lb_error *err);
/* The adapter's classes: labels.json ({"id2label": {"0": name, ...}}, as lorabert writes it next
 * to every adapter), else the head's classifier shape in adapter_model.safetensors (names NULL),
 * else *num_labels = 0. names (may be NULL) gets a malloc'd NULL-terminated list. */
lb_status lb_peft_read_labels(const char *dir, int *num_labels, char ***names, lb_error *err);
/* The problem_type labels.json records (lorabert writes it for multi-label and regression heads):
 * *problem gets its lb_problem_type, or -1 without labels.json or the key. Another name is
 * LB_ERR_UNSUPPORTED. */
lb_status lb_peft_read_problem(const char *dir, int *problem, lb_error *err);
/* adapter_config.json's base_model_name_or_path (malloc'd); absent or empty is LB_ERR_FORMAT. */
lb_status lb_peft_read_base_model(const char *dir, char **name, lb_error *err);
/* Writes the whole adapter folder (created when missing): lb_peft_save, the tokenizer files
 * found in tokenizer_dir (NULL: none are copied) and labels.json with m's num_labels names,
 * taken from labels (NULL: the model's, LABEL_i where it has none). Each file is written
 * atomically; the folder as a whole is not (callers stage it). resume_copy (a resume
 * checkpoint's adapter): a pissa / olora adapter's file also carries metadata
 * lorabert_lora_init and lorabert_lora_alpha, and lb_peft_load then splits it back into the
 * trained rank-r adapter over the same residual weights (bit for bit), so that a resumed run
 * continues as the interrupted one would have. */
lb_status lb_peft_save_folder(const lb_model *m, const char *dir, const char *base_model_name_or_path,
                              const char *tokenizer_dir, const char *const *labels, bool resume_copy, lb_error *err);
#endif
