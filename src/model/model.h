/* Encoder classifiers (DistilBERT, BERT, RoBERTa, XLM-R, ModernBERT) with optional LoRA adapters: loading, forward,
 * backward for the trainable parameters only, merging.
 *
 * Memory: frozen weights are used in place from the safetensors mapping; trainable
 * parameters (LoRA A/B, head) and their gradients live in one allocation; activations live
 * in an arena sized for the largest batch seen. Backward never computes weight gradients of
 * frozen weights and stops below the lowest layer that holds an adapter.
 *
 * Exactness: fp32 throughout, HF's math (SPEC 1.3, 2.2); padded positions are never computed
 * (attention per sequence on its real length; the last layer runs only the [CLS] rows after
 * attention), which changes no result. Parity with transformers 4.32.1 + PEFT 0.6.2 is tested
 * on tests/golden (and $LORABERT_FULL_GOLDEN); ModernBERT's (modernbert.c: no activation arena of
 * encoder.c, its own per-forward buffers) with transformers 4.48.3 + PEFT 0.14.0.
 * Precision: fp32 by default; lb_model_set_precision(LB_PRECISION_BF16) is the opt-in speed
 * mode (frozen encoder linears on bf16 copies of their weights, see below); LB_PRECISION_INT8
 * the inference-only one (per-channel int8 weights, per-row int8 inputs, int32 sums; a backward
 * is LB_ERR_UNSUPPORTED).
 * Speed: OpenBLAS must run its AVX-512 kernels: see lb_blas_preferred_coretype in
 * kernels/kernels.h (programs set OPENBLAS_CORETYPE and re-exec when it says so).
 * A model is not thread-safe: one forward/backward at a time per lb_model. */
#ifndef LB_MODEL_MODEL_H
#define LB_MODEL_MODEL_H
#include <stdbool.h>
#include <stdint.h>
#include "base/error.h"
#include "base/rng.h"

typedef enum lb_arch {
    LB_ARCH_DISTILBERT,
    LB_ARCH_BERT,
    LB_ARCH_ROBERTA,
    LB_ARCH_XLM_ROBERTA,
    LB_ARCH_MODERNBERT
} lb_arch;

typedef struct lb_model_config {
    lb_arch arch;
    int vocab_size, dim, n_layers, n_heads, hidden_dim, max_pos, type_vocab_size /* 0 for DistilBERT */;
    float ln_eps; /* 1e-12 for DistilBERT (hard-coded there) */
    float hidden_dropout, attention_dropout, classifier_dropout;
    int pad_token_id; /* RoBERTa / XLM-R: also padding_idx of the position ids */
    int max_tokens;   /* longest sequence the position table allows (set by the model, not read):
                         max_pos, or max_pos - pad_token_id - 1 for RoBERTa / XLM-R, whose
                         positions start at pad_token_id + 1 */
    int num_labels;
    char **id2label;  /* [num_labels] */
    bool multi_label; /* config.json problem_type "multi_label_classification": sigmoid scores */
    /* lb_problem_type: config.json's problem_type; absent or null: HF's inference, regression
     * for num_labels 1 (DistilBertForSequenceClassification.forward), else single-label */
    int problem;
    /* ModernBERT only (src/model/modernbert.c; zero for the others): attention is global in layers
     * l % global_every == 0, else a sliding window of |i - j| <= local_window / 2; RoPE base per
     * layer kind; GELU of the GeGLU MLP and of the head exact (erf) or tanh-approximated; the head
     * reads the first row (cls) or the mean of the real rows. */
    int global_every, local_window;
    float rope_global, rope_local;
    bool mlp_gelu_tanh, head_gelu_tanh, pool_mean;
} lb_model_config;

/* The linear layers of a block, in PEFT's names for each architecture. ModernBERT has four:
 * Q is its fused attn.Wqkv ([3D, D]: q | k | v), O attn.Wo, FFN1 mlp.Wi ([2F, D]: input | gate),
 * FFN2 mlp.Wo; K and V do not exist there (lb_lin_present). */
typedef enum lb_linear { LB_LIN_Q, LB_LIN_K, LB_LIN_V, LB_LIN_O, LB_LIN_FFN1, LB_LIN_FFN2, LB_LIN__COUNT } lb_linear;

/* PEFT's rank_pattern / alpha_pattern: a module-name regex and its rank or alpha. */
#define LB_LORA_MAX_PATTERNS 32 /* entries per pattern dict */
#define LB_LORA_PATTERN_KEY 128 /* bytes of a key, NUL included */
#define LB_LORA_PATTERN_NODES 4096 /* regcomp tree nodes a key may expand to (stacked / nested '+') */
#define LB_LORA_MAX_MTS 16      /* modules_to_save names (each at most LB_LORA_PATTERN_KEY - 1 bytes) */
typedef struct lb_lora_pattern {
    char key[LB_LORA_PATTERN_KEY];
    double value; /* rank (a whole number >= 1) or alpha */
} lb_lora_pattern;

typedef struct lb_lora_patterns {
    int n_rank, n_alpha;
    lb_lora_pattern rank[LB_LORA_MAX_PATTERNS], alpha[LB_LORA_MAX_PATTERNS]; /* in dict order */
    /* PEFT's modules_to_save beyond the head (the head always trains), in the config's order: a
     * module whose full name ("base_model.model.distilbert.transformer.layer.0.output_layer_norm")
     * ends with a name trains in full (PEFT 0.6.2's rule). lb_model_add_lora trains each matched
     * linear (weight and bias) and LayerNorm of an encoder block (DistilBERT, BERT, RoBERTa,
     * XLM-R); a name matching any other module but the head's (the embeddings, BERT's pooler, a
     * module holding others, a linear that is also a LoRA target), or matching nothing, is
     * LB_ERR_UNSUPPORTED naming it. "classifier", "score" and "pre_classifier" are the head's. */
    int n_mts;
    char mts[LB_LORA_MAX_MTS][LB_LORA_PATTERN_KEY];
} lb_lora_patterns;

typedef struct lb_lora_config {
    int r;
    float alpha;
    float dropout;
    bool use_rslora;      /* scaling = alpha/sqrt(r) instead of alpha/r */
    unsigned target_mask; /* bit (1u << lb_linear) per adapted layer kind */
    bool use_dora;        /* DoRA (PEFT use_dora): a trainable magnitude per output row, see lora.c */
    int init;             /* lb_lora_init: how lb_model_add_lora fills A and B */
    /* Per-module rank / alpha (PEFT rank_pattern, alpha_pattern; see lb_lora_module_params) and
     * modules_to_save's names (lb_lora_patterns.mts), or NULL: none. Borrowed: lb_model_add_lora keeps its own copy (lb_model_get_lora's points
     * there); a standalone adapter's is NULL (its ranks and scalings are resolved). */
    const lb_lora_patterns *patterns;
} lb_lora_config;

/* A pattern key PEFT and lorabert read alike: 1..127 bytes of a regular expression without
 * Python-only syntax (a backslash before a letter or digit, "(?", lazy quantifiers "*?" "+?"
 * "??" "}?", a backslash inside brackets), without bounded repetition "{m,n}" (regcomp expands
 * it: a 127-byte key could ask for 255^6 states) and whose '+' repetitions (regcomp copies the
 * operand of each) expand to at most LB_LORA_PATTERN_NODES nodes ("a+++..." doubles per '+'); else
 * LB_ERR_UNSUPPORTED naming the key. what: "rank_pattern" or "alpha_pattern". */
lb_status lb_lora_pattern_check_key(const char *what, const char *key, lb_error *err);

/* The rank and alpha of the adapted module `module` (its path in the model,
 * "distilbert.transformer.layer.0.attention.q_lin") as PEFT reads cfg's patterns: a key
 * matches when re.match(f".*\.{key}$", module) does. PEFT 0.6.2 takes the first matching key
 * of rank_pattern then alpha_pattern for both lookups; PEFT >= 0.7 looks each dict up on its
 * own. Where the two differ for this module, or two keys of one dict that match it give
 * different values (saving reorders a dict), it is LB_ERR_UNSUPPORTED naming the keys. */
lb_status lb_lora_module_params(const lb_lora_config *cfg, const char *module, int *r, float *alpha, lb_error *err);

/* PEFT's init_lora_weights, as lb_model_add_lora applies it to a fresh adapter (PEFT 0.14
 * LoraLayer.reset_lora_parameters): DEFAULT (true): A ~ kaiming_uniform(a=sqrt(5)) =
 * U(+-1/sqrt(in)), B = 0; GAUSSIAN ("gaussian"): A ~ N(0, (1/r)^2), B = 0; NONE (false): both
 * keep nn.Linear's own init, A ~ U(+-1/sqrt(in)), B ~ U(+-1/sqrt(r)) (the adapter starts
 * non-zero).
 * PISSA ("pissa", PEFT pissa_init) and OLORA ("olora", olora_init) rewrite the base weights:
 * per adapted linear W [out, in], pissa takes W's SVD (LAPACK dgesdd in double, full_matrices
 * false), A = sqrt(S_r / s) Vh_r, B = U_r sqrt(S_r / s); olora its QR (dgeqrf / dorgqr),
 * A = R[:r], B = Q[:, :r]; both then train on the residual W_res = W - s B A (s the module's
 * scaling), held in memory (lora_init.c). The adapter is SAVED converted as PEFT's
 * save_pretrained(path_initial_model_for_weight_conversion=...) does: a plain LoRA adapter of
 * rank 2r (A' = [A; A0], B' = [B, -B0], init true, alpha doubled or times sqrt 2 with rslora,
 * rank/alpha patterns doubled) that fits the ORIGINAL base. Singular vectors are defined up to
 * sign; LAPACK here and torch may pick different ones, which changes no product B A, logit, loss
 * or trajectory. Other names (PEFT's "pissa_niter_K": randomized SVD; "loftq", "eva", "corda",
 * ...) are refused by name by lb_lora_init_parse, the one place that knows the list. */
typedef enum lb_lora_init {
    LB_LORA_INIT_DEFAULT,
    LB_LORA_INIT_GAUSSIAN,
    LB_LORA_INIT_NONE,
    LB_LORA_INIT_PISSA,
    LB_LORA_INIT_OLORA,
    LB_LORA_INIT__COUNT
} lb_lora_init;

/* name: "default" or "true" (DEFAULT), "gaussian", "false" (NONE), "pissa", "olora". Unknown
 * names are LB_ERR_UNSUPPORTED "LoRA init 'loftq' is not supported (expected default, gaussian,
 * false, pissa or olora)"; "pissa_niter_K" says it is PEFT's randomized SVD (not reproducible). */
lb_status lb_lora_init_parse(const char *name, lb_lora_init *init, lb_error *err);
/* True for the inits that rewrite the base weights (PISSA, OLORA). */
bool lb_lora_init_rewrites_base(int init);
/* "default", "gaussian", "false", "pissa", "olora" ("?" out of range). */
const char *lb_lora_init_name(int init);

typedef struct lb_model lb_model;
/* A data-parallel run's start with a pissa / olora adapter (lora_init.c): makes rank 0's
 * decomposition every rank's. Each rank decomposed W on its own, and LAPACK (OpenBLAS picks its
 * kernels by CPU model) may differ in the last bits between hosts; this gathers the trainable
 * block (A, B, head, modules_to_save) and A0 / B0 from rank 0 (through coll's allgather, in
 * chunks), and recomputes each residual W - s B0 A0 from them and the original weight (in double,
 * the same bits on every rank). Every rank calls it with the same model layout: a rank whose
 * sizes differ is LB_ERR_USAGE on every rank. No-op without such an adapter or with a NULL /
 * one-process collective. Test hook: LORABERT_TEST_INIT_SKEW=1 in a process's environment moves
 * each A0 value of its own decomposition one float step up (what another LAPACK kernel gives),
 * so a test can show that rank 0's decomposition wins. */
lb_status lb_lora_rewrite_sync(lb_model *m, const lb_collective *coll, lb_error *err);

typedef struct lb_load_opts {
    int num_labels;            /* 0: from config.json (id2label), else override */
    const char *const *labels; /* optional label names [num_labels] */
    uint64_t seed;             /* initialisation of a newly created head / LoRA */
    bool quiet;                /* unused: the notice is kept (lb_model_load_notice), never printed */
    bool problem_set;          /* problem (lb_problem_type) overrides config.json's problem_type */
    int problem;
} lb_load_opts;

lb_model *lb_model_load(const char *dir, const lb_load_opts *opts, lb_error *err);
/* A model with random weights (N(0, 0.02), LayerNorm 1/0, biases 0) for the shape in cfg
 * (arch, vocab_size, dim, n_layers, n_heads, hidden_dim, max_pos, type_vocab_size (BERT),
 * dropouts, num_labels; id2label may be NULL). For benchmarks and tests without files. */
lb_model *lb_model_init_random(const lb_model_config *cfg, uint64_t seed, lb_error *err);
/* The sequence-length limit of a configuration: max_pos, or for RoBERTa / XLM-R (positions
 * pad_token_id + 1 ...) max_pos - pad_token_id - 1, at least 0. */
int lb_config_max_tokens(const lb_model_config *c);
void lb_model_free(lb_model *m);
const lb_model_config *lb_model_get_config(const lb_model *m);

/* Adds LoRA adapters (PEFT init per cfg->init, see lb_lora_init) and makes the classification
 * head trainable (PEFT SEQ_CLS modules_to_save rule). Everything else is frozen. With use_dora,
 * each adapted linear also gets PEFT's lora_magnitude_vector [out], initialised to the row norms
 * of its weight plus the initial adapter; a model without frozen weights (lb_model_adapter_shell)
 * cannot hold DoRA (LB_ERR_UNSUPPORTED: the norms need the base weights). With init PISSA or
 * OLORA the adapted linears' weights become owned residual copies (see lb_lora_init); refused
 * (LB_ERR_UNSUPPORTED, naming the reason) with DoRA, on ModernBERT, on a model without frozen
 * weights, with use_rslora and rank/alpha patterns together (PEFT cannot convert that on save),
 * and when LAPACK fails on a weight. */
lb_status lb_model_add_lora(lb_model *m, const lb_lora_config *cfg, uint64_t seed, lb_error *err);
/* What lb_model_add_lora checks of cfg's modules_to_save against m, without changing m (the
 * refusals named at lb_lora_config.patterns). */
lb_status lb_lora_mts_check(const lb_model *m, const lb_lora_config *cfg, lb_error *err);

/* A training run holds the model from its open to its close: one run at a time, and no merge or
 * new adapter under it (the run keeps pointers to the adapter's parameters). */
void lb_model_set_in_run(lb_model *m, bool in_run);
bool lb_model_in_run(const lb_model *m);

/* The adapter configuration added by lb_model_add_lora, or NULL when there is none. */
const lb_lora_config *lb_model_get_lora(const lb_model *m);
/* The adapter is saved converted (pissa / olora: PEFT's path_initial_model_for_weight_conversion,
 * a rank-2r LoRA over the original weights): only a resume copy trains on as before. */
bool lb_model_lora_converted_on_save(const lb_model *m);
/* PEFT's module name of a linear kind for this architecture ("q_lin", "query", "lin1", "dense"...).
 * BERT's O/FFN1/FFN2 are all "dense" (attention.output.dense, intermediate.dense,
 * output.dense): PEFT's suffix rule makes target "dense" select all three (and the pooler,
 * which lorabert does not adapt). */
const char *lb_model_linear_name(const lb_model *m, lb_linear kind);

/* A trainable tensor, named by its key in PEFT's adapter_model.safetensors, e.g.
 * "base_model.model.distilbert.transformer.layer.0.attention.q_lin.lora_A.weight". */
typedef struct lb_param {
    const char *name;
    float *data;
    float *grad;
    int64_t numel;
    int ndim;
    int64_t shape[2];
    bool decay; /* HF Trainer: weight decay applies (not bias, not LayerNorm) */
} lb_param;
/* Trainable parameters in a stable order; valid until lb_model_free. */
int lb_model_params(const lb_model *m, lb_param **params);
/* (trainable, all) parameter counts as PEFT >= 0.6 prints them (all = base + adapters + the
 * trainable copy of the head). Without an adapter: (0, base). */
void lb_model_param_counts(const lb_model *m, int64_t *trainable, int64_t *all);

/* A right-padded batch: row b has lengths[b] real tokens, then padding. */
typedef struct lb_batch {
    int B, T;
    const int32_t *ids;            /* [B*T] */
    const int32_t *lengths;        /* [B] */
    const int32_t *token_type_ids; /* [B*T] or NULL (all 0) */
} lb_batch;

/* Forward. logits: [B*num_labels]. With train=true activations are kept for backward and,
 * when rng is non-NULL, dropout is applied (rng NULL: train-mode math without dropout, for
 * parity tests). */
lb_status lb_model_forward(lb_model *m, const lb_batch *batch, bool train, lb_rng *rng, float *logits, lb_error *err);
/* Backward of the last train forward; dlogits [B*num_labels]. Adds into each param's grad. */
lb_status lb_model_backward(lb_model *m, const float *dlogits, lb_error *err);
void lb_model_zero_grad(lb_model *m);

/* Arithmetic of the frozen encoder linears (Q, K, V, attention output, FFN in, FFN out).
 * FP32: exact; the parity path and the default. BF16: each frozen weight is rounded to bf16 and
 * packed once (kernels/gemm_bf16.h; AMX tiles where the CPU has them), the GEMM inputs are
 * rounded to bf16 on the fly and accumulation is fp32, forward and input-gradient backward
 * alike. Everything else stays fp32: embeddings, LayerNorm, softmax/attention, GELU, dropout,
 * LoRA, the head (and BERT's pooler), the loss and the optimizer; activations are stored in
 * fp32. The bf16 packs take half the memory of the fp32 weights for inference and as much again
 * (W^T) once a backward runs. Fails (nothing changed) when out of memory. */
lb_status lb_model_set_precision(lb_model *m, lb_precision p, lb_error *err);
lb_precision lb_model_get_precision(const lb_model *m);
/* fp32 mode computes the frozen linears on copies of their weights packed once for an AVX-512
 * kernel (kernels/gemm_f32.h) where the CPU has AVX-512F: OpenBLAS would re-pack each weight on
 * every call, a third of predict time at 64 tokens. Results equal OpenBLAS's within fp32
 * summation-order rounding (parity tests run both ways). The packs replace the mapped weights
 * in memory (their pages are released once packed); backward adds transposed packs for the
 * layers it reaches. Off: OpenBLAS on the mapped weights. On by default. */
void lb_model_set_weight_packing(lb_model *m, bool on);

/* "fp32" / "bf16" / "int8"; lb_precision_parse accepts the same names. */
const char *lb_precision_name(lb_precision p);
bool lb_precision_parse(const char *name, lb_precision *p);

/* transformers' "Some weights ... newly initialized" notice of the last load, or NULL. */
const char *lb_model_load_notice(const lb_model *m);
/* Records where an opened model's adapter and tokenizer files came from (lb_model_get_info).
 * tokenizer_dir NULL: the model folder. */
lb_status lb_model_set_origin(lb_model *m, const char *adapter_dir, const char *tokenizer_dir, lb_error *err);

/* ---- Many adapters over one base ------------------------------------------------------ */
/* A trained LoRA classifier held apart from any model: its LoRA A/B tensors and its trained head
 * (DistilBERT's pre_classifier and classifier, BERT's classifier; BERT's pooler stays the
 * base's) in one block, its configuration and class count. It holds no frozen weight: a forward
 * over a base model (lb_model_forward_segments) uses the base's weights and packs. Read-only once
 * made, so one adapter may serve any number of forwards at once. */
typedef struct lb_lora_adapter lb_lora_adapter;

/* An empty model with base's architecture and shapes and a head of num_labels classes, but no
 * frozen weight, for loading an adapter apart (lb_peft_load on it, then lb_lora_adapter_take).
 * Reads only base's immutable configuration, so it may run while base runs a forward. */
lb_model *lb_model_adapter_shell(const lb_model *base, int num_labels, lb_error *err);
/* Moves the adapter and head that lb_model_add_lora / lb_peft_load put in shell into a standalone
 * adapter (shell keeps nothing of them; free it after). Gradients are dropped. */
lb_status lb_lora_adapter_take(lb_model *shell, lb_lora_adapter **out, lb_error *err);
void lb_lora_adapter_free(lb_lora_adapter *a);
const lb_lora_config *lb_lora_adapter_config(const lb_lora_adapter *a);
int lb_lora_adapter_num_labels(const lb_lora_adapter *a);
/* Values held (adapter tensors + head) and bytes held (every allocation of the adapter). */
int64_t lb_lora_adapter_params(const lb_lora_adapter *a);
size_t lb_lora_adapter_bytes(const lb_lora_adapter *a);
/* NULL when the adapter fits m (same architecture and shapes as the base it was made over), else
 * a static description of the first difference ("hidden size", "layers", ...). */
const char *lb_lora_adapter_mismatch(const lb_lora_adapter *a, const lb_model *m);

/* LB_OK when the model folder dir (its config.json) has m's architecture and shapes; else
 * LB_ERR_USAGE "DIR: attention heads 12, expected 4 as the base model (M) has" (the first
 * difference), or the config's own error. Reads only m's immutable configuration. */
lb_status lb_model_check_shapes(const lb_model *m, const char *dir, lb_error *err);

/* Sequences [begin, end) of a batch run through adapter (NULL: the model's own weights, its
 * adapter if it holds one, and its head). */
typedef struct lb_segment {
    int begin, end;
    const lb_lora_adapter *adapter;
} lb_segment;
/* Eval-mode forward of a batch whose sequences are split into segments (in order, covering
 * 0..B): every frozen linear runs once over all rows; each segment's adapter adds its low-rank
 * updates on the segment's rows and applies its head; row b's logits (its segment's class count)
 * go to logits + b * ld_logits. A row's logits are bitwise those of lb_model_forward in eval mode
 * on a model holding that adapter (the eval LoRA and head kernels are row-independent, as are the
 * packed frozen kernels; see kernels/kernels.h lb_linear_rows). m must not hold an adapter when
 * a segment names one. */
lb_status lb_model_forward_segments(lb_model *m, const lb_batch *batch, const lb_segment *segs, int nseg, float *logits,
                                    int ld_logits, lb_error *err);

/* Folds every adapter into its base weight (W += scaling * B A; DoRA: W = (m / ||W + s B A||_row)
 * (W + s B A), PEFT's merge) and drops the adapters. */
lb_status lb_model_merge_lora(lb_model *m, lb_error *err);
/* Writes a plain HF model folder: config.json (the loaded one with architectures, id2label,
 * label2id) + model.safetensors (prefixed HF keys, F32), loadable by
 * AutoModelForSequenceClassification. Refused while adapters are unmerged; a tensor holding NaN
 * or Inf is LB_ERR_NUMERIC naming the first such tensor, before anything is written. */
lb_status lb_model_save(const lb_model *m, const char *dir, lb_error *err);

#endif
