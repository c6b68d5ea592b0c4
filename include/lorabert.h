/* lorabert: fine-tune, evaluate and run BERT-family text classifiers with LoRA.
 *
 * The public C API: the only header a program embedding lorabert includes (the CLI, the
 * benches, the examples and the Python package use nothing else).
 *
 * Conventions, stated once:
 *  - Errors. Every fallible function takes an `lb_error *err` (may be NULL) and returns a status
 *    (LB_OK == 0). On failure err->msg holds one line naming the file, position and what was
 *    expected versus found; err->code repeats the status. The library never prints, never exits,
 *    never calls isatty(); notices reach the caller through callbacks.
 *  - Handles. Opaque; `lb_x_open(..., lb_x **out, lb_error *err)` creates one (*out is NULL on
 *    failure), `lb_x_close(x)` frees it (NULL is a no-op). A NULL handle, output pointer or
 *    array where the function does not say NULL is allowed is LB_ERR_USAGE naming the function
 *    and the argument ("lb_classify: c is NULL"), never a crash; accessors given a NULL handle
 *    return their "nothing" value (NULL, 0, -1).
 *  - Ownership. Strings and arrays passed in are copied when a handle keeps them, so the caller
 *    may free them after the call. Pointers returned by accessors (names, labels) belong to the
 *    handle and stay valid until it is closed.
 *  - Options structs. Zero-initialised means "the default" for every field unless a field says
 *    otherwise; lb_X_options_init() fills the documented defaults explicitly. A NULL options
 *    pointer means all defaults.
 *  - Seeds. Every `uint64_t seed` comes with a `bool seed_set`, one rule for all: a non-zero
 *    seed is used as given; 0 means the default seed 42 unless seed_set is true, which makes it
 *    the seed 0 (so a zero-initialised struct means 42, and .seed = 0, .seed_set = true is 0).
 *    lb_train_options_init sets seed = 42 and seed_set = true.
 *  - Threads. Different handles may be used from different threads at the same time. One handle
 *    is used by one thread at a time (it owns its activation buffers), except where a function
 *    says "thread-safe". `threads` fields apply to the calling thread's OpenMP team (and so to
 *    OpenBLAS in its OpenMP build) for the duration of the call; 0 leaves the process default;
 *    at most 4096, and a negative or larger value is LB_ERR_USAGE (an OpenMP runtime aborts the
 *    process when it cannot create the team).
 *  - Models. A model argument is a local folder or a Hugging Face Hub repo id ("org/name"),
 *    resolved once through the HF cache ($HF_HOME, $HF_HUB_CACHE, $HF_ENDPOINT, $HF_TOKEN,
 *    $HF_HUB_OFFLINE). A folder (or repo) holding a PEFT adapter (adapter_config.json and no
 *    config.json) opens its base_model_name_or_path with the adapter on top, as
 *    transformers + PEFT's AutoModelForSequenceClassification.from_pretrained(adapter_dir) does.
 *  - Exactness. fp32 (the default) computes transformers 4.32.1 + PEFT 0.6.2's math; bf16 is an
 *    opt-in speed mode for the frozen encoder linears, int8 an inference-only one (see lb_precision).
 */
#ifndef LORABERT_H
#define LORABERT_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Version ---------------------------------------------------------------------------- */

#define LORABERT_VERSION_MAJOR 0
#define LORABERT_VERSION_MINOR 2
#define LORABERT_VERSION_PATCH 0
#define LORABERT_VERSION "0.2.0"
/* MAJOR * 10000 + MINOR * 100 + PATCH, for compile-time comparisons. */
#define LORABERT_VERSION_NUMBER (LORABERT_VERSION_MAJOR * 10000 + LORABERT_VERSION_MINOR * 100 + LORABERT_VERSION_PATCH)

/* The version of the library actually linked ("0.2.0"); thread-safe. */
const char *lb_version(void);
/* LORABERT_VERSION_NUMBER of the library actually linked; thread-safe. */
int lb_version_number(void);

/* ---- Errors ----------------------------------------------------------------------------- */

/* Status codes. The CLI exits with the same number, so they are stable and documented. */
typedef enum lb_status {
    LB_OK = 0,
    LB_ERR_INTERNAL = 1,    /* a bug in lorabert */
    LB_ERR_USAGE = 2,       /* bad command line / invalid argument */
    LB_ERR_IO = 3,          /* file missing, unreadable, unwritable, disk full */
    LB_ERR_FORMAT = 4,      /* file present but malformed (safetensors, json, csv, parquet, utf-8) */
    LB_ERR_UNSUPPORTED = 5, /* valid input that lorabert does not support (architecture, codec) */
    LB_ERR_NOMEM = 6,       /* allocation failed */
    LB_ERR_NETWORK = 7,     /* hub unreachable, HTTP error */
    LB_ERR_NUMERIC = 8,     /* non-finite loss, gradient, logits or weights */
    LB_ERR_INTERRUPTED = 9, /* stopped on request after writing a checkpoint */
} lb_status;

#define LB_ERROR_MSG_MAX 1024
typedef struct lb_error {
    lb_status code;
    char msg[LB_ERROR_MSG_MAX];
} lb_error;

/* Short name of a status code ("format error", ...); thread-safe. */
const char *lb_status_name(lb_status code);

/* ---- Shared types ------------------------------------------------------------------------ */

/* Arithmetic of the frozen encoder linears. FP32: exact (the parity path, the default). BF16:
 * frozen weights rounded to bf16 and packed once (AMX tiles where the CPU has them), inputs
 * rounded on the fly, fp32 accumulation; embeddings, LayerNorm, attention, LoRA, the head, the
 * loss and the optimizer stay fp32. INT8 (inference only: training refuses it with
 * LB_ERR_UNSUPPORTED): frozen weights quantized once per output channel (symmetric, scale =
 * max|w| / 127), each input row quantized the same way at every call, exact int32 sums (AMX-INT8
 * or AVX512-VNNI where the CPU has them), dequantized in fp32 with the bias; embeddings,
 * LayerNorm, attention, LoRA and the head stay fp32. A row's result never depends on the other
 * rows of its batch, in every precision. */
typedef enum lb_precision { LB_PRECISION_FP32, LB_PRECISION_BF16, LB_PRECISION_INT8 } lb_precision;
/* "fp32" / "bf16" / "int8"; lb_precision_parse accepts the same names. Thread-safe. */
const char *lb_precision_name(lb_precision p);
bool lb_precision_parse(const char *name, lb_precision *p);

/* What a classifier's outputs mean: HF's config.json problem_type. SINGLE_LABEL: one class per
 * text (softmax, cross-entropy; the default). MULTI_LABEL: any number of labels per text (each
 * label's sigmoid, BCEWithLogitsLoss over the multi-hot targets). REGRESSION: num_labels real
 * values per text, usually one (the raw outputs, MSELoss). */
typedef enum lb_problem_type {
    LB_PROBLEM_SINGLE_LABEL = 0,
    LB_PROBLEM_MULTI_LABEL = 1,
    LB_PROBLEM_REGRESSION = 2
} lb_problem_type;
/* "single_label_classification" / "multi_label_classification" / "regression" (HF's names);
 * lb_problem_type_parse accepts the same names. Thread-safe. */
const char *lb_problem_type_name(lb_problem_type p);
bool lb_problem_type_parse(const char *name, lb_problem_type *p);

/* At most this many classes (metrics arrays are sized by it). */
#define LB_MAX_LABELS 64

/* Classification metrics with scikit-learn's semantics: binary (two labels) with pos_label 1,
 * macro averages for more; 0/0 ratios are 0 (zero_division=0). */
typedef struct lb_metrics {
    int num_labels;
    int64_t n; /* examples */
    double accuracy;
    double precision, recall, f1; /* binary: class 1; more labels: macro average */
    double class_precision[LB_MAX_LABELS], class_recall[LB_MAX_LABELS], class_f1[LB_MAX_LABELS];
    int64_t confusion[LB_MAX_LABELS * LB_MAX_LABELS]; /* [true * num_labels + pred] */
} lb_metrics;

/* What HF Trainer.evaluate() reports: the per-sample-weighted mean loss (cross-entropy; for
 * multi-label models BCEWithLogitsLoss, for regression MSELoss: the model's own loss) and metrics. */
typedef struct lb_eval_result {
    double loss;
    lb_metrics metrics;
    double runtime_s;
    /* What the metrics below mean (single-label: everything below is 0). */
    lb_problem_type problem_type;
    /* Multi-label (sklearn's multilabel semantics, zero_division 0): a label is predicted when its
     * sigmoid >= threshold. metrics.accuracy is the subset accuracy (every label of a text right:
     * sklearn accuracy_score), metrics.precision / recall / f1 the micro averages (every label's
     * counts pooled), metrics.class_precision / class_recall / class_f1 each label's (confusion
     * stays 0); here the macro averages and each label's positives in the data. */
    double threshold;
    double macro_precision, macro_recall, macro_f1;
    int64_t support[LB_MAX_LABELS];
    /* Regression, over every output value: mean squared and mean absolute error, Pearson's r and
     * Spearman's rho (ties take their average rank, as scipy); r and rho are NaN when the
     * predictions or the targets are constant (scipy's ConstantInputWarning). */
    double mse, mae, pearson, spearman;
} lb_eval_result;

/* ---- Tokenizer -------------------------------------------------------------------------- */

/* A tokenizer exactly as HF's fast tokenizer loads it from a folder: tokenizer.json (WordPiece,
 * byte-level BPE, Unigram pipelines) or vocab.txt + tokenizer_config.json. Read-only once
 * opened: every function taking a const lb_tokenizer * is thread-safe. */
typedef struct lb_tokenizer lb_tokenizer;

/* dir_or_id: a folder or hub repo id holding the tokenizer files. */
lb_status lb_tokenizer_open(const char *dir_or_id, lb_tokenizer **out, lb_error *err);
void lb_tokenizer_close(lb_tokenizer *tok);

typedef struct lb_encode_options {
    int max_length;            /* 0: no truncation; else total length including special tokens */
    bool truncate_left;        /* truncation_side="left": keep the last tokens */
    bool no_special_tokens;    /* false (default): add [CLS] ... [SEP] (or the file's template) */
    bool replace_invalid_utf8; /* false (default): invalid UTF-8 is an error naming the byte */
} lb_encode_options;

/* One encoded text (or pair). Fill with lb_tokenizer_encode, free with lb_tokens_free; may be
 * reused across calls (buffers grow). Start from a zeroed struct. */
typedef struct lb_tokens {
    int32_t *ids;      /* [n] token ids */
    int32_t *type_ids; /* [n] token_type_ids: 0 for the first text, 1 for the pair's second */
    int32_t n;
    int32_t cap; /* allocated entries of ids and type_ids */
} lb_tokens;

/* Encodes text[0..len) (and, when pair is non-NULL, the pair pair[0..pair_len)) as
 * tokenizer(text, pair, truncation=True, max_length) does (pairs: longest_first). opts NULL:
 * specials, no truncation. Thread-safe for a shared tokenizer with distinct out. */
lb_status lb_tokenizer_encode(const lb_tokenizer *tok, const char *text, size_t len, const char *pair, size_t pair_len,
                              const lb_encode_options *opts, lb_tokens *out, lb_error *err);
void lb_tokens_free(lb_tokens *t);

/* Vocabulary queries (thread-safe). id_to_token: NULL when the id is unknown; token_to_id: -1. */
const char *lb_tokenizer_id_to_token(const lb_tokenizer *tok, int32_t id);
int32_t lb_tokenizer_token_to_id(const lb_tokenizer *tok, const char *token);
int32_t lb_tokenizer_vocab_size(const lb_tokenizer *tok);       /* 1 + the largest id */
int32_t lb_tokenizer_model_max_length(const lb_tokenizer *tok); /* 512 unless configured */

/* ---- Model ------------------------------------------------------------------------------ */

/* An encoder classifier (DistilBERT, BERT incl. MiniLM) with its classification head and at
 * most one LoRA adapter. Frozen weights are mapped from model.safetensors, not copied. */
typedef struct lb_model lb_model;

typedef struct lb_model_options {
    const char *adapter;       /* PEFT adapter folder or hub id loaded on top (NULL: none, or the
                                 * adapter the model argument itself names) */
    const char *revision;      /* hub revision of the model argument (NULL: "main") */
    int num_labels;            /* 0: from labels (below), else the adapter's labels.json, else
                                 * the adapter's head shape, else config.json; at most
                                 * LB_MAX_LABELS (negative: LB_ERR_USAGE) */
    const char *const *labels; /* [num_labels] class names overriding every other source */
    uint64_t seed;             /* initialisation of a newly created head (see "Seeds") */
    bool seed_set;             /* true: seed 0 is 0, not 42 */
    lb_precision precision;
    const char *problem_type; /* NULL: the adapter's labels.json "problem_type" (lorabert writes it
                                * for multi-label and regression heads), else config.json's, else
                                * HF's rule (num_labels 1: "regression", else single-label). Else one
                                * of lb_problem_type_name's names (other text: LB_ERR_USAGE); a
                                * single-label model needs 2 labels or more (LB_ERR_UNSUPPORTED) */
} lb_model_options;

/* Opens the model named by `model` (see "Models" above), a given adapter, and labels by the one
 * rule: options.labels > the adapter's labels.json > config.json's id2label. A head missing from
 * the checkpoint is initialised as transformers does (its notice is lb_model_info.load_notice,
 * not printed). The tokenizer files are the adapter's when it carries them, else the model's. */
lb_status lb_model_open(const char *model, const lb_model_options *opts, lb_model **out, lb_error *err);
void lb_model_close(lb_model *m);

/* Resolves a model argument by the rule of lb_model_open (a local folder as it is, else a hub
 * repo id fetched into the HF cache with every file a model or adapter folder may need) without
 * opening it: *dir gets the local folder (free with lb_free). For callers that fail fast on a
 * missing model, or fetch it before other work; lb_model_open(*dir, ...) then opens the same
 * folder without going to the hub again. An adapter folder resolves to itself (its base is
 * resolved when it is opened). A missing folder that is not a repo id is LB_ERR_IO. */
lb_status lb_model_resolve(const char *model, const char *revision, char **dir, lb_error *err);

typedef struct lb_model_info {
    const char *architecture;  /* "DistilBertForSequenceClassification", ... */
    const char *model_type;    /* "distilbert", "bert", "roberta", "xlm-roberta", "modernbert" */
    const char *model_dir;     /* resolved local folder of the base model */
    const char *adapter_dir;   /* resolved adapter folder, NULL without one */
    const char *tokenizer_dir; /* where the tokenizer files are: the adapter's when it has them */
    int vocab_size, hidden_size, num_layers, num_heads, intermediate_size, max_position_embeddings;
    int num_labels;
    const char *const *labels; /* [num_labels] names (LABEL_i when none are known) */
    const char *load_notice;   /* transformers' "Some weights ... newly initialized" notice when
                                 * weights (e.g. the head) were missing and initialised; else NULL */
    bool has_adapter;
    int lora_r; /* 0 without an adapter; the config's r (rank_pattern may give modules others) */
    double lora_alpha, lora_dropout;
    int64_t trainable_params, all_params; /* as PEFT's print_trainable_parameters() */
    lb_precision precision;
    const char *problem_type; /* lb_problem_type_name of the model's problem type
                               * (lb_model_options.problem_type's rule): multi-label models score
                               * each label by its sigmoid, regression models give their outputs */
    int max_tokens;           /* the longest input (tokens) the positions allow: max_position_embeddings, or
                     * for RoBERTa / XLM-R, whose position ids start at pad_token_id + 1,
                     * max_position_embeddings - pad_token_id - 1 (514 -> 512) */
} lb_model_info;

/* Fills *info; its pointers belong to the model. */
void lb_model_get_info(const lb_model *m, lb_model_info *info);

/* Switches the frozen linears' arithmetic (see lb_precision). Fails, changing nothing, when out
 * of memory, or (LB_ERR_UNSUPPORTED) for INT8 when a frozen linear's input size exceeds 4096.
 * A model in INT8 can evaluate, predict and serve; a training run on it is LB_ERR_UNSUPPORTED. */
lb_status lb_model_set_precision(lb_model *m, lb_precision p, lb_error *err);

typedef struct lb_lora_options {
    int r;                       /* 0 means 4 */
    double alpha;                /* 0 means 32 */
    double dropout;              /* applied to the adapter input; default 0 (the seed recipe: 0.01) */
    const char *target_modules;  /* PEFT module names, comma-separated, or "all-linear"; NULL means
                                 * the architecture's query projection ("q_lin", "query"; ModernBERT's
                                 * fused "Wqkv") */
    bool use_rslora;             /* scaling alpha/sqrt(r) instead of alpha/r */
    uint64_t seed;               /* LoRA A init (kaiming-uniform as PEFT; see "Seeds") */
    bool seed_set;               /* true: seed 0 is 0, not 42 */
    bool use_dora;               /* DoRA (PEFT use_dora, PEFT >= 0.9 loads it): a trainable magnitude per
                                 * output row of each adapted linear, W' = m (W + s B A) / ||W + s B A||_row
                                 * with the norm detached (PEFT 0.14's formula). lb_adapter_open
                                 * refuses DoRA adapters (LB_ERR_UNSUPPORTED): open them as the
                                 * model's own adapter (lb_model_options.adapter) */
    const char *init;            /* PEFT's init_lora_weights: NULL or "default" (A kaiming-uniform,
                                 * B = 0), "gaussian" (A ~ N(0, 1/r^2), B = 0), "false" (B
                                 * random too, U(+-1/sqrt(r)): training starts off the base
                                 * model), "pissa" / "olora" (A, B from the SVD / QR of each
                                 * adapted weight, which becomes the residual W - s B A in
                                 * memory; the adapter is saved converted, a plain rank-2r LoRA
                                 * over the original base: docs/training.md; not with DoRA or
                                 * ModernBERT, LB_ERR_UNSUPPORTED); others, e.g. "loftq" or
                                 * "pissa_niter_4", LB_ERR_UNSUPPORTED by name */
    const char *rank_pattern;    /* PEFT rank_pattern as "KEY=N,KEY=N" (NULL or "": none): the
                                 * adapted modules whose path matches re.match(".*\.KEY$") get
                                 * rank N instead of r, e.g. "layer.0.attention.q_lin=8,lin2=2".
                                 * A KEY is a regular expression (1..127 bytes, no ',' or '=',
                                 * no Python-only syntax such as \d or (?...), no {m,n});
                                 * at most 32 */
    const char *alpha_pattern;   /* the same for lora_alpha ("KEY=X,..."). Two keys that match one
                                 * module with different values, or a rank and an alpha key on
                                 * which PEFT 0.6 and later PEFT disagree, are LB_ERR_UNSUPPORTED;
                                 * adapter_config.json holds both dicts as PEFT writes them */
    const char *modules_to_save; /* PEFT modules_to_save beyond the head, comma-separated (NULL or
                                  * "": the head only): each module whose name ends with one of
                                  * them trains in full, e.g. "output_layer_norm" (every block's),
                                  * "layer.5.output.LayerNorm", "lin1". lorabert trains the encoder
                                  * blocks' linears (weight, bias; fp32 in every precision) and
                                  * LayerNorms (DistilBERT, BERT, RoBERTa, XLM-R); a name matching
                                  * the embeddings, BERT's pooler, a module holding others, a
                                  * LoRA target, or nothing is LB_ERR_UNSUPPORTED by name. At most 16 names of
                                  * 1..127 bytes. lb_adapter_open refuses such adapters
                                  * (LB_ERR_UNSUPPORTED): open them as the model's own adapter */
} lb_lora_options;

/* Checks opts without a model (what lb_model_add_adapter checks before looking at the model):
 * r in [1, 4096], alpha > 0, dropout in [0, 1) (LB_ERR_USAGE); init a known name (above, else
 * LB_ERR_UNSUPPORTED); each comma-separated target
 * module a PEFT module name of some supported architecture (q_lin k_lin v_lin out_lin lin1 lin2,
 * query key value dense and their dotted forms, ModernBERT's Wqkv Wo Wi attn.Wo mlp.Wo, all-linear),
 * else LB_ERR_UNSUPPORTED
 * "target module 'c_attn' is not supported (expected one of ...)"; a list naming no module is
 * LB_ERR_USAGE. NULL opts: the defaults, which pass. Thread-safe. */
lb_status lb_lora_options_check(const lb_lora_options *opts, lb_error *err);

/* Adds a fresh LoRA adapter (A random, B = 0) and makes the head trainable (PEFT SEQ_CLS).
 * Checks opts as lb_lora_options_check does, and that each target module (but "all-linear") ends
 * the path of a linear layer of this model's architecture at a dot, PEFT's suffix rule (q_lin is
 * DistilBERT's, query BERT's, Wqkv ModernBERT's): LB_ERR_USAGE "target module 'q_lin' is not a
 * linear layer of this model (query, value, ...)". ModernBERT refuses
 * "all-linear" (LB_ERR_UNSUPPORTED: PEFT would also adapt its head.dense). A model that already
 * holds an adapter is LB_ERR_USAGE. Nothing changes on failure. */
lb_status lb_model_add_adapter(lb_model *m, const lb_lora_options *opts, lb_error *err);

/* Writes the adapter as PEFT does (adapter_config.json, adapter_model.safetensors, labels.json,
 * the tokenizer files) into dir, which appears whole or not at all. */
lb_status lb_model_save_adapter(const lb_model *m, const char *dir, lb_error *err);

/* PEFT merge_and_unload + save_pretrained: folds the adapter into the base weights and writes a
 * plain HF model folder (config.json with labels, model.safetensors, tokenizer files) to dir,
 * whole or not at all, under a lock. Refused when dir is, holds or lies inside the model or
 * adapter folder, or holds files merge does not write; a non-finite merged weight is
 * LB_ERR_NUMERIC and nothing is written. The target is checked and locked before the adapter is
 * folded in, so a refused target leaves the model as it was (adapter in place). Refused while a
 * training run holds the model. Afterwards the model holds the merged weights and no adapter (as
 * merge_and_unload leaves it); lb_model_info.adapter_dir still names where the adapter came from. */
lb_status lb_model_save_merged(lb_model *m, const char *dir, lb_error *err);

/* Logits of rows the caller tokenized itself (benchmarks, servers with their own batching), in
 * eval mode: ids [B*T] right-padded (row b has lengths[b] real tokens, 1..T), type_ids [B*T] or
 * NULL (all 0), logits [B*L] out. An id outside the vocabulary or T beyond the model's positions
 * is LB_ERR_USAGE naming the row; non-finite logits are LB_ERR_NUMERIC. Not thread-safe per model. */
lb_status lb_model_predict_tokens(lb_model *m, const int32_t *ids, const int32_t *lengths, const int32_t *type_ids,
                                  int B, int T, float *logits, lb_error *err);

/* ---- Classifier ------------------------------------------------------------------------- */

/* A model + its tokenizer + inference settings: what predict, eval and serve run. */
typedef struct lb_classifier lb_classifier;

typedef struct lb_classifier_options {
    lb_model_options model; /* how the model is opened */
    int max_length;         /* 0: the tokenizer's model_max_length capped by the model's
                                 * positions; more than the positions is LB_ERR_USAGE */
    bool truncate_left;     /* cut long texts at the start (keep the end) */
    int batch_size;         /* texts per forward pass; 0 means 32 */
    int threads;            /* per call (see Conventions); 0: process default */
} lb_classifier_options;

/* Opens the model (lb_model_open with opts->model) and the tokenizer of its tokenizer_dir. */
lb_status lb_classifier_open(const char *model, const lb_classifier_options *opts, lb_classifier **out, lb_error *err);
void lb_classifier_close(lb_classifier *c);

/* The classifier's model (for lb_model_get_info, lb_model_save_*); owned by c. */
lb_model *lb_classifier_model(lb_classifier *c);
const lb_tokenizer *lb_classifier_tokenizer(const lb_classifier *c);
int lb_classifier_num_labels(const lb_classifier *c);
/* The name of class id (LABEL_<id> when none is known); NULL when id is out of range. */
const char *lb_classifier_label(const lb_classifier *c, int id);

/* Labels texts[0..n) (pairs[i] their second text when pairs is non-NULL; a NULL pairs[i] is a
 * single text). lens / pair_lens may be NULL (strlen). Eval mode; texts are batched by length
 * internally and results come back in input order:
 *   label_ids [n]        argmax, ties to the first (numpy); may be NULL
 *   probs     [n * L]    softmax computed in double (a multi_label_classification model:
 *                        each label's sigmoid, lb_scores; a regression model: the outputs
 *                        themselves); may be NULL
 *   logits    [n * L]    raw scores; may be NULL
 * with L = lb_classifier_num_labels(c). A text whose logits are not finite is LB_ERR_NUMERIC
 * naming its index; an empty text is allowed (it is [CLS] [SEP]). */
lb_status lb_classify(lb_classifier *c, const char *const *texts, const size_t *lens, const char *const *pairs,
                      const size_t *pair_lens, size_t n, int32_t *label_ids, double *probs, float *logits,
                      lb_error *err);

/* Scores of one row's logits[0..num_labels) into out[0..num_labels): the softmax computed in
 * double (max-subtracted; what lb_classify's probs are), or with sigmoid = true each logit's
 * sigmoid 1 / (1 + exp(-x)) in double (multi-label / one-output models). One place, so every
 * caller (CLI, C, Python, server) prints the same numbers. num_labels < 1 or NULL arrays: nothing
 * is written. Thread-safe. */
void lb_scores(const float *logits, int num_labels, bool sigmoid, double *out);

/* ---- Many adapters over one base ------------------------------------------------------- */

/* A trained LoRA classifier (a PEFT adapter folder: adapter tensors, its trained head =
 * modules_to_save, labels.json) attached to a shared base model: it holds only the adapter
 * tensors, its head and its labels (never a copy of a frozen weight), so many adapters over one
 * base cost little memory. Read-only once open: one adapter may be used by any number of calls
 * at once. It does not keep a pointer to the base: it may be used with any base of the same
 * architecture and shapes (lb_model_predict_adapters checks), and closed before or after it. */
typedef struct lb_adapter lb_adapter;

typedef struct lb_adapter_options {
    const char *revision;      /* hub revision when dir_or_id is a repo id (NULL: "main") */
    const char *const *labels; /* [num_labels] class names overriding labels.json / config */
    int num_labels;            /* as lb_model_options.num_labels: 0 (from labels, else the adapter's
                                * labels.json, else its head's shape, else the base's), at most
                                * LB_MAX_LABELS; a labels.json or head disagreeing with it is
                                * LB_ERR_USAGE */
} lb_adapter_options;

/* Opens a PEFT adapter folder or hub id over `base`, a model opened WITHOUT an adapter (plain or
 * merged; a base holding an adapter is LB_ERR_USAGE). Labels by lb_model_open's rule
 * (options.labels > labels.json > the head's shape > the base's). Refused with the reason
 * (expected versus found): target modules that are not linears of the base's architecture (q_lin
 * on BERT), a tensor missing, unknown or of another shape than the base's (hidden size, layers,
 * intermediate size, another architecture's names), unsupported PEFT options, a missing
 * adapter_model.safetensors (LB_ERR_IO), a torch adapter_model.bin or a DoRA adapter (use_dora:
 * its magnitudes are relative to the base's weights; LB_ERR_UNSUPPORTED naming DoRA); and
 * when base_model_name_or_path is a local model folder, a config.json there of another
 * model_type or shape than the base's (heads and vocabulary leave no trace in the adapter's
 * tensors: "attention heads 2, expected 4 as the base model (DIR) has"; a hub id is not fetched
 * for this check). base_model_name_or_path differing from the base's folder or id is not an
 * error when the shapes match (folders move): lb_adapter_info.base_model reports it. An adapter
 * must not be closed while a call that uses it runs. Thread-safe with respect to a
 * concurrent lb_model_predict_adapters on the same base (it reads only the base's immutable
 * configuration) and to other lb_adapter_open calls. */
lb_status lb_adapter_open(const lb_model *base, const char *dir_or_id, const lb_adapter_options *opts, lb_adapter **out,
                          lb_error *err);
void lb_adapter_close(lb_adapter *a);

typedef struct lb_adapter_info {
    const char *dir;           /* resolved local folder */
    const char *base_model;    /* base_model_name_or_path of adapter_config.json, or NULL */
    const char *tokenizer_dir; /* the adapter folder when it carries tokenizer files that differ
                                 * from the base's, else NULL: tokenize with the base's tokenizer
                                 * (lb_model_open's rule; files byte-identical to the base's give
                                 * the same tokenizer, so many adapters share one) */
    int num_labels;
    const char *const *labels;  /* [num_labels] names (LABEL_i when none are known) */
    int lora_r;                 /* the config's r and lora_alpha (rank_pattern / alpha_pattern may */
    double lora_alpha;          /* give some modules others) */
    const char *target_modules; /* comma list of PEFT module names ("q_lin,v_lin") */
    bool use_rslora;
    int64_t params; /* values held (adapter tensors + head) */
    size_t bytes;   /* memory held, every allocation of the adapter counted */
} lb_adapter_info;

/* Fills *info (zeroed for a NULL adapter); its pointers belong to the adapter. Thread-safe. */
void lb_adapter_get_info(const lb_adapter *a, lb_adapter_info *info);

/* Eval-mode logits of n tokenized rows (lb_tokenizer_encode with the tokenizer the adapter's
 * info names, else the base's), row i through adapters[i] (a NULL entry, or adapters == NULL:
 * the base model itself with its own head). Every frozen linear runs once over all rows of the
 * call; each adapter adds its low-rank updates on its own rows and applies its own head. Row i's
 * logits (its adapter's num_labels values, the base's for a NULL entry) go to
 * logits + i * ld_logits; ld_logits must be >= every used num_labels (LB_ERR_USAGE). Row i's
 * logits are bitwise those of lb_model_predict_tokens (and lb_classify) on a model opened with
 * that adapter alone (or on the base alone), at the base's precision (lb_model_set_precision on the base applies to
 * every row), whatever the other rows of the call, where the frozen linears run on packed
 * weights (fp32 on a CPU with AVX-512F with weight packing on, the default; bf16); elsewhere
 * equal within fp32 rounding. n = 0 is LB_OK with nothing read or written. A row of length 0 or
 * beyond the base's positions, an id outside the vocabulary or a token type out of range is
 * LB_ERR_USAGE naming the row; an adapter of another architecture or shape than the base, or a
 * base holding an adapter, LB_ERR_USAGE; non-finite logits LB_ERR_NUMERIC naming the row (the
 * other rows' logits are written). type_ids are used by models with token types (BERT) and
 * ignored otherwise (NULL: all 0). Not thread-safe per base (its activation buffers). */
lb_status lb_model_predict_adapters(lb_model *base, const lb_tokens *rows, const lb_adapter *const *adapters, size_t n,
                                    float *logits, int ld_logits, lb_error *err);

/* ---- Datasets --------------------------------------------------------------------------- */

/* A labelled text dataset loaded from CSV/TSV, JSONL/JSON, Parquet, a local HF dataset folder or
 * a hub dataset id. */
typedef struct lb_dataset lb_dataset;

/* How lists of integers in a multi-label list column are read (lb_dataset_options.label_format). */
typedef enum lb_label_format {
    LB_LABEL_FORMAT_AUTO = 0,     /* strings: names; integers: class ids; floats/booleans: 0/1 */
    LB_LABEL_FORMAT_MULTI_HOT = 1 /* every list is a 0/1 vector of one value per label */
} lb_label_format;

typedef struct lb_dataset_options {
    const char *split;            /* for folders / hub ids; NULL means "train" */
    const char *text_column;      /* NULL means "text" */
    const char *text_pair_column; /* NULL: single texts */
    const char *label_column;     /* NULL means "label" */
    const char *revision;         /* hub revision (NULL: "main") */
    /* Data-parallel reading (each process opens only its shard; lb_eval_options.collective):
     * shard_count 0 or 1 keeps every row; else row i (0-based over the split) is kept when
     * (i / shard_block) % shard_count == shard_index, so process r reads every shard_count-th block
     * of shard_block rows. CSV/TSV and JSONL are read through a 1 MiB window keeping only those
     * rows; Parquet is read a page at a time, row groups without shard rows skipped: a process
     * holds its shard, never the file. A shard with no rows is LB_ERR_USAGE; row numbers in
     * messages count the shard's rows. */
    int shard_count, shard_index;
    int shard_block;      /* rows per block; 0 means 1 */
    bool labels_optional; /* a file without the label column opens with every label -1 (input
                           * to label, e.g. lorabert predict --input) */
    /* What the labels are (default single-label: class ids or names, the rule above). Multi-label:
     * label_columns, comma-separated, name columns of 0/1 (JSON true/false, numbers 0/1, the
     * strings "0"/"1"), one per label, named by the column; without label_columns, label_column
     * holds each row's list of labels (a JSON array; see label_format and lb_dataset_label_list).
     * Regression: label_column holds each row's number (a typed number, or a string read whole by
     * strtod; finite). Every row needs its values: a null, another value or a missing column is
     * LB_ERR_FORMAT naming file, row, column and value. Training and evaluation take such a
     * dataset for a model of the same problem_type (lb_model_options.problem_type) and match label
     * columns (or listed names) to its labels by name. */
    lb_problem_type problem_type;
    const char *label_columns;
    /* Multi-label lists: a list of strings is label names, of integers class ids, of floats or
     * booleans a multi-hot vector of 0/1 (one value per label, in the model's label order);
     * LB_LABEL_FORMAT_MULTI_HOT reads lists of integers as 0/1 vectors too (HF's Trainer
     * format). Mixed kinds, duplicates, nulls, negative or >= LB_MAX_LABELS ids, empty names,
     * multi-hot values other than 0/1 or of unequal lengths are LB_ERR_FORMAT naming file and row.
     * Other problem types: must be AUTO (else LB_ERR_USAGE). */
    lb_label_format label_format;
} lb_dataset_options;

/* path_or_id: a file, an HF dataset folder (split files, data/<split>-*, <config>/<split>/) or a
 * hub dataset id. Shards of a split are concatenated in name order. */
lb_status lb_dataset_open(const char *path_or_id, const lb_dataset_options *opts, lb_dataset **out, lb_error *err);
void lb_dataset_close(lb_dataset *d);
size_t lb_dataset_size(const lb_dataset *d);
/* Row i's text / pair text (NULL without a pair column); NULL when i is out of range. */
const char *lb_dataset_text(const lb_dataset *d, size_t i);
const char *lb_dataset_text_pair(const lb_dataset *d, size_t i);
/* The labels as the file has them: class ids, or label names numbered in their sorted (byte)
 * order. lb_dataset_label: row i's class in that numbering (-1 when i is out of range);
 * lb_dataset_label_name: the name of class k, NULL when the labels are class ids. Evaluation and
 * training map them onto a model's classes by name (lb_evaluate_dataset, lb_train_run_open). */
int lb_dataset_num_labels(const lb_dataset *d);
int32_t lb_dataset_label(const lb_dataset *d, size_t i);
const char *lb_dataset_label_name(const lb_dataset *d, int k);
/* A multi-label dataset read from a list column (lb_dataset_options.label_format): what its
 * lists hold, and *n_targets (nullable) their number of targets: the distinct names (sorted, byte
 * order; lb_dataset_target_name), the largest class id + 1, or the multi-hot length. NONE (and 0)
 * for any other dataset. Training and evaluation map the targets onto a model's labels: names by
 * name, ids and vectors by position (lb_evaluate_dataset, lb_train_run_open). */
typedef enum lb_label_list {
    LB_LABEL_LIST_NONE = 0,
    LB_LABEL_LIST_NAMES = 1,
    LB_LABEL_LIST_IDS = 2,
    LB_LABEL_LIST_MULTI_HOT = 3
} lb_label_list;
lb_label_list lb_dataset_label_list(const lb_dataset *d, int *n_targets);
/* Name of target k of a NAMES list dataset; NULL otherwise or out of range. */
const char *lb_dataset_target_name(const lb_dataset *d, int k);
/* The files the rows were read from, in order (a split's shards): file i, NULL past the last.
 * For messages ("the label names of FILE ..."). */
const char *lb_dataset_file(const lb_dataset *d, int i);

/* The classes a model trained on ds[0..nd) (train, validation) gets, by the data layer's one
 * rule: class ids are used as they are (*classes = NULL, *n = n_names when names are given, else
 * 1 + the largest id); label names must each be one of names (exact, any order in the file), or,
 * with names_are_default, names that do not cover them give way to the labels' sorted unique
 * values (*sorted_fallback = true, so the caller can say so). Without names, the sorted values.
 * names_origin says where names come from in messages ("--labels": "... (the known labels, from
 * --labels, are ...)"); NULL: "the given label names" ("the default label names" with
 * names_are_default). *classes: NULL-terminated names in class order (free with
 * lb_free_strings). sorted_fallback may be NULL. Errors are LB_ERR_FORMAT naming file, row and
 * value (LB_ERR_USAGE for bad arguments: nd outside 1..8, a NULL dataset, a NULL or empty name,
 * classes or n NULL). */
lb_status lb_dataset_classes(const lb_dataset *const *ds, int nd, const char *const *names, int n_names,
                             bool names_are_default, const char *names_origin, char ***classes, int *n,
                             bool *sorted_fallback, lb_error *err);
/* Frees a NULL-terminated list of strings the library returned (NULL is a no-op). */
void lb_free_strings(char **list);

/* ---- Data-parallel runs ------------------------------------------------------------------ */

/* How the processes of a data-parallel run talk to each other, given by the caller (the CLI
 * gives one over Open MPI under mpirun; the library links no transport). Every process of the
 * run passes a collective with the same size and its own rank, and makes the same calls in the
 * same order. The library reduces in a fixed order itself (it gathers and sums in global
 * micro-batch order), so results do not depend on how the transport orders or sums: a run gives
 * bit-identical results on 1, 2, 3, ... processes for the same global batch and micro-batch size
 * (and the same threads per process; see docs/distributed.md). */
/* Every process gives `bytes` bytes in send; recv receives size * bytes bytes, process r's at
 * offset r * bytes (rank order). Returns LB_OK or fills err (the run then fails with it). */
typedef lb_status (*lb_allgather_fn)(void *user, const void *send, size_t bytes, void *recv, lb_error *err);
typedef struct lb_collective {
    int rank; /* 0 .. size-1; rank 0 alone writes files */
    int size; /* >= 1; 1 (or a NULL collective) is an ordinary one-process run */
    void *user;
    lb_allgather_fn allgather;
} lb_collective;

/* ---- Evaluation ------------------------------------------------------------------------- */

typedef struct lb_eval_options {
    int batch_size;                  /* 0 means 8 */
    const lb_collective *collective; /* NULL: this process evaluates every batch. Else each
                                      * process evaluates every size-th batch and the results are
                                      * gathered: every process gets the one-process result, bit
                                      * for bit. d is either the whole set on every process, or
                                      * each process's shard (lb_dataset_options shard_count =
                                      * size, shard_index = rank, shard_block = batch_size;
                                      * another shard is LB_ERR_USAGE) */
    double threshold;                /* 0: 0.5. Multi-label models: a label counts as predicted
                                      * when its sigmoid is >= this, in (0, 1) */
} lb_eval_options;

/* Evaluates c on d as Trainer.evaluate() does (eval mode, sequential batches, per-sample-weighted
 * loss), tokenizing with c's max_length and truncation side. Labels follow the data layer's one
 * rule: string labels are mapped to c's classes by name, integer labels must be below its class
 * count; a label the model does not know is LB_ERR_FORMAT naming row and value. Non-finite
 * logits or loss are LB_ERR_NUMERIC. A multi-label or regression model (lb_model_info.problem_type)
 * takes a dataset opened with its problem_type (label columns matched to its labels by name) and
 * fills the result's multi-label or regression fields; its loss is BCEWithLogitsLoss or MSELoss. */
lb_status lb_evaluate_dataset(lb_classifier *c, const lb_dataset *d, const lb_eval_options *opts, lb_eval_result *out,
                              lb_error *err);

/* ---- Training --------------------------------------------------------------------------- */

/* The output folder of a run taken beforehand (lb_train_output_open below). */
typedef struct lb_train_output lb_train_output;

/* HF TrainingArguments' names and defaults (the seed recipe). Start from lb_train_options_init:
 * zero is a meaningful value for several fields. */
typedef struct lb_train_options {
    const char *output_dir;             /* NULL: nothing is written */
    bool overwrite_output_dir;          /* replace a previous run's output when this run ends */
    const char *resume_from_checkpoint; /* OUTPUT/resume or OUTPUT/checkpoint-<step> (see
                                         * lb_train_resume_find), or NULL */
    int num_train_epochs;               /* 10; at most 10000 (more: LB_ERR_UNSUPPORTED) */
    int per_device_train_batch_size;    /* 4 */
    int per_device_eval_batch_size;     /* 4 */
    double learning_rate;               /* 1e-3; AdamW (betas 0.9/0.999, eps 1e-8), lr_scheduler_type */
    double weight_decay;                /* 0.01 (not on biases and LayerNorm weights) */
    int64_t warmup_steps;               /* 0 */
    double max_grad_norm;               /* 1.0; <= 0 disables clipping */
    uint64_t seed;                      /* 42: data order, dropout (see "Seeds") */
    bool seed_set;                      /* true (init): seed 0 is 0, not 42 */
    int64_t logging_steps;              /* 500 */
    const char *metric_for_best_model;  /* "loss" (lowest wins), "accuracy", "f1", "precision",
                                        * "recall" (highest wins) */
    bool no_eval;                       /* skip per-epoch evaluation even with an eval set */
    int max_length;                     /* 512: tokens per example incl. specials */
    bool truncate_right;                /* default: left truncation (keep the end) */
    int threads;                        /* 0: process default */
    const char *base_model_name;        /* adapter_config's base_model_name_or_path (NULL: the
                                        * model's resolved folder, lb_model_info.model_dir) */
    const char *batch_order_file;       /* tests: the rows of each micro-batch (HF order.json: one
                                        * entry per micro-batch, in global order) instead of
                                        * shuffling; NULL */
    int64_t max_steps;                  /* 0: num_train_epochs decides. Runs without a training
                                        * set (lb_train_step_batch): the schedule's total steps,
                                        * required; with a training set it must be 0 */
    lb_train_output *output;            /* output_dir taken beforehand with lb_train_output_open
                                        * (NULL: the run takes it when it opens); not copied */
    int gradient_accumulation_steps;    /* 0 or 1: a step per micro-batch. K: HF's semantics, each
                                        * micro-batch's loss scaled by 1/K, clip and step after K
                                        * micro-batches (of per_device_train_batch_size rows) */
    const lb_collective *collective;    /* NULL: one process. Else a data-parallel run: the
                                        * effective batch is per_device_train_batch_size x size x
                                        * gradient_accumulation_steps; every process opens the same
                                        * model, adapter, data and options, computes its share of
                                        * each step's micro-batches (global micro-batch j on rank
                                        * j % size), and all apply the same reduced step; only
                                        * rank 0 takes and writes output_dir (the others pass the
                                        * same options and write nothing). An epoch's micro-batches
                                        * must fill whole steps (LB_ERR_UNSUPPORTED otherwise,
                                        * naming the numbers). Not copied: outlives the run */
    const char *lr_scheduler_type;      /* "linear" (NULL: linear): transformers' schedules
                                        * "linear", "cosine" (half a cosine), "cosine_with_restarts"
                                        * (one cycle), "polynomial" (power 1, lr_end 1e-7: the
                                        * learning rate must exceed it), "constant" (no warmup),
                                        * "constant_with_warmup"; each with HF's warmup (below) and
                                        * its learning rates bit for bit. Other names: LB_ERR_USAGE */
    double warmup_ratio;                /* 0: in [0, 1]; the warmup is warmup_steps when > 0, else
                                        * ceil(total steps x warmup_ratio) (HF get_warmup_steps) */
    int greater_is_better;              /* 0: metric_for_best_model's own direction (loss: lower
                                        * wins, the others higher, HF's default); 1: higher wins;
                                        * -1: lower wins. Decides the best checkpoint and early
                                        * stopping's improvements */
    int early_stopping_patience;        /* 0: off. N >= 1: HF's EarlyStoppingCallback: training
                                        * ends after the evaluation that is the N-th in a row not
                                        * improving on the best so far by more than
                                        * early_stopping_threshold (the best adapter is the
                                        * result, as always). Needs evaluations (LB_ERR_USAGE
                                        * without). Its counter is kept across --resume */
    double early_stopping_threshold;    /* 0: the improvement that resets the counter */
    int save_total_limit;               /* 0: every checkpoint-<step>/ is kept. N: HF's rotation
                                        * after each save: the oldest are removed until N remain,
                                        * never the best (a limit of 1 keeps 2 while the best is not
                                        * the newest, and only the best at the end) */
    const char *report_to;              /* NULL or "none": no reporting (HF 4.32's default "all"
                                        * means every installed integration); "tensorboard": HF's
                                        * TensorBoardCallback, each log_history entry's numbers as
                                        * scalars (train/loss, train/learning_rate, train/epoch,
                                        * eval/loss, eval/accuracy, ..., train/train_runtime, ...,
                                        * plus train/grad_norm as transformers >= 4.38 logs it) in
                                        * an event file (events.out.tfevents.*) in logging_dir,
                                        * written as they are logged (rank 0). Other values:
                                        * LB_ERR_USAGE */
    const char *logging_dir;            /* NULL: HF's default output_dir/runs/<MonDD_HH-MM-SS>_<host>
                                        * (a resumed run starts a new folder there, as HF does);
                                        * report_to tensorboard needs it or output_dir */
    double label_smoothing_factor;      /* 0: off; else in (0, 1): HF's LabelSmoother, the loss
                                        * (1 - f) * cross-entropy + f * the mean over the classes
                                        * of -log softmax; the per-epoch eval_loss too (HF's
                                        * compute_loss). Outside [0, 1): LB_ERR_USAGE */
    const char *class_weights;          /* NULL or "": none. "w0,w1,...": one finite weight > 0
                                        * per class, in label id order; "auto": sklearn's
                                        * "balanced", n / (num_labels * count_c) over the training
                                        * set (a class without example: LB_ERR_USAGE). The loss is
                                        * torch CrossEntropyLoss(weight=w), per micro-batch
                                        * sum_b w[y_b] nll_b / sum_b w[y_b]; the per-epoch eval_loss
                                        * too. Not with label_smoothing_factor (LB_ERR_UNSUPPORTED) */
    /* When to evaluate and to checkpoint, as HF's DefaultFlowCallback (transformers 4.32). */
    const char *eval_strategy;  /* NULL: "epoch" ("no" with no_eval or without a validation set);
                                * "no" | "steps" (after every eval_steps-th global step) | "epoch"
                                * (after each epoch's last step). Other names: LB_ERR_USAGE */
    double eval_steps;          /* 0: logging_steps (HF's default for "steps"); x in (0, 1): a
                                * ratio, ceil(total steps x x); >= 1: an integer number of steps
                                * (a fraction above 1: LB_ERR_USAGE, as HF) */
    const char *save_strategy;  /* NULL: "epoch"; "no" | "steps" | "epoch": when checkpoint-<step>/
                                * is written; the best checkpoint is decided at a save whose step
                                * was evaluated (HF _save_checkpoint) */
    double save_steps;          /* 0: 500 (HF's default); the eval_steps rule */
    int load_best_model_at_end; /* 0: true (lorabert's default, as before); 1: true; -1: false.
                                * true: the best checkpoint's adapter is the result, and with
                                * evaluations HF's checks apply (LB_ERR_USAGE): the strategies
                                * must match, and with "steps" save_steps must be a round
                                * multiple of eval_steps. false: the last step's adapter is the
                                * result (the best is still tracked and kept by the rotation);
                                * early stopping requires true */
    double threshold;           /* 0: 0.5. Multi-label models (lb_model_options.problem_type):
                                        * a label counts as predicted in the per-epoch metrics when
                                        * its sigmoid is >= this, in (0, 1). The loss follows the
                                        * model's problem_type: cross-entropy, BCEWithLogitsLoss
                                        * (multi-label, mean over rows x labels) or MSELoss
                                        * (regression); label_smoothing_factor and class_weights
                                        * are cross-entropy's (LB_ERR_UNSUPPORTED with the others),
                                        * and metric_for_best_model may also be "mse", "mae"
                                        * (lower wins), "pearson", "spearman" for regression. The
                                        * datasets must be opened with the model's problem_type */
    double loraplus_lr_ratio;   /* 0: off. X in (0, 1e6]: LoRA+ as PEFT 0.14's
                                        * create_loraplus_optimizer(lr=learning_rate,
                                        * loraplus_lr_ratio=X, loraplus_weight_decay=weight_decay)
                                        * builds it: tensors named "...lora_B..." and every 1-D
                                        * tensor (the head's biases) learn at learning_rate x X,
                                        * the rest at learning_rate, each under the schedule;
                                        * weight decay as without LoRA+ (not on biases). Not part
                                        * of adapter_config.json (PEFT keeps it out too). Else
                                        * LB_ERR_USAGE */
} lb_train_options;
void lb_train_options_init(lb_train_options *o);

/* The output folder of a run, taken before the expensive work (datasets, model) so that a
 * folder the run may not write is refused at once, and held until the run is over.
 * Takes opts->output_dir for one run as lb_train_run_open would (reading output_dir,
 * overwrite_output_dir and resume_from_checkpoint): its writer lock (another process writing it:
 * LB_ERR_IO naming that pid), the removal of killed runs' leftovers beside and inside it, and
 * the refusal of a folder this run may not write (LB_ERR_USAGE naming the entries in the way;
 * docs/training.md). Creates nothing but the lock file beside the folder (and the folders above
 * it): the folder itself is created when the run opens, so a run that fails before leaves none.
 * output_dir NULL or empty is LB_ERR_USAGE. Pass it as opts->output to one lb_train_run_open
 * with the same output_dir, overwrite_output_dir and resume_from_checkpoint (else LB_ERR_USAGE;
 * a second run is refused too); it must outlive that run. lb_train_output_close releases the
 * lock (after lb_train_run_close). */
lb_status lb_train_output_open(const lb_train_options *opts, lb_train_output **out, lb_error *err);
void lb_train_output_close(lb_train_output *o);

/* The folder a run resumes from for path, as HF's resume_from_checkpoint (free *dir with
 * lb_free): a folder holding resume state (resume.json: OUTPUT/resume, OUTPUT/checkpoint-<step>)
 * is itself; a run's output folder gives its newest checkpoint-<step>/ with resume state, or its
 * resume/ when that one is further on (resume_from_checkpoint=True: transformers'
 * get_last_checkpoint over output_dir). Open the model with *dir as its adapter and set
 * resume_from_checkpoint to *dir. No such folder, or a run folder with nothing to resume:
 * LB_ERR_IO; a checkpoint without resume state (an older lorabert's, a run's last step, a
 * pissa / olora run's): LB_ERR_FORMAT saying so. */
lb_status lb_train_resume_find(const char *path, char **dir, lb_error *err);

/* Passed to on_step after each optimizer step (before that epoch's evaluation when it is the
 * epoch's last step). */
typedef struct lb_step_info {
    int64_t step, total_steps; /* 1-based global step */
    int epoch, num_epochs;     /* 1-based epoch the step belongs to */
    int64_t step_in_epoch;     /* 1-based step within the epoch */
    int64_t steps_per_epoch;
    double epoch_progress; /* HF's fractional epoch, e.g. 1.25 */
    double loss;           /* this step's mean batch loss */
    double grad_norm;      /* global norm before clipping */
    double learning_rate;  /* the rate this step used */
    int64_t tokens;        /* real tokens processed by this process so far */
    double elapsed_s;      /* wall time of this process's training so far */
    double tokens_per_s;   /* this process's real tokens per second of step time */
    double eta_s;          /* remaining steps at this process's pace so far */
} lb_step_info;

/* Passed to on_epoch at each epoch's end (after its evaluation and checkpoint, eval_strategy
 * "epoch"), and to on_evaluate after each evaluation of eval_strategy "steps" (epoch: the 1-based
 * epoch the step belongs to; train_loss NaN; evaluated true; checkpoint_dir when save_strategy
 * "steps" saved at the same step, is_best when that checkpoint is the new best). */
typedef struct lb_epoch_info {
    int epoch, num_epochs;
    int64_t step;       /* global step at the end of the epoch */
    double train_loss;  /* mean loss of the epoch's steps */
    double logged_loss; /* HF's "Training Loss" column: the last logged loss
                                        * (logging_steps); NaN ("No log") when none yet */
    bool evaluated;
    lb_eval_result eval;        /* valid when evaluated */
    bool is_best;               /* this epoch's checkpoint is the best so far */
    const char *checkpoint_dir; /* folder written at this step (checkpoint-<step>/), or NULL */
    double epoch_progress;      /* HF's fractional epoch of the step (epoch at an epoch's end) */
} lb_epoch_info;

/* The library prints nothing: progress reaches the caller here. Every member may be NULL. */
typedef struct lb_train_callbacks {
    void *user;
    void (*on_step)(void *user, const lb_step_info *s);
    void (*on_epoch)(void *user, const lb_epoch_info *e);
    /* Lines HF would print or log ("{'loss': 0.69, 'learning_rate': ..., 'epoch': 1.0}"),
     * and notices (labels mapped, output folder replaced, ...), without a newline. */
    void (*on_log)(void *user, const char *line);
    /* Non-zero asks the run to stop at the next step boundary: the resume checkpoint is written
     * and the call returns LB_ERR_INTERRUPTED. May be set from a signal handler. */
    volatile int *cancel;
    /* After each evaluation of eval_strategy "steps" (and that step's checkpoint, if any); the
     * epoch strategy's evaluations reach on_epoch as before. */
    void (*on_evaluate)(void *user, const lb_epoch_info *e);
} lb_train_callbacks;

typedef struct lb_train_result {
    int64_t global_step;
    int best_epoch; /* 1-based epoch of the best checkpoint's step; 0 when there is none (no
                     * evaluation, or no checkpoint whose step was evaluated) */
    lb_eval_result best_eval;
    double train_loss; /* HF train_loss: mean of every step's loss */
    double runtime_s;
    double tokens_per_s; /* real tokens through forward+backward per second */
    /* The evaluation of the adapter the run leaves (metrics.json's): with load_best_model_at_end
     * the best checkpoint's (best_eval, its step); without it the last step's evaluation when the
     * last step was evaluated. eval_step 0 (eval zeroed): none, e.g. load_best_model_at_end false
     * and the last evaluation before the last step (it describes another adapter). */
    int64_t eval_step;
    lb_eval_result eval;
} lb_train_result;

/* A training run of m (which must hold an adapter: lb_model_add_adapter, or an adapter opened
 * with the model) on train, evaluated on eval (may be NULL) as eval_strategy says. Tokenizes
 * both once with m's tokenizer, maps their labels to m's classes (the data layer's rule, announced via on_log),
 * checks lengths against the model, and opens output_dir (lock, leftovers, refusal of foreign
 * files; see docs/training.md; or takes opts->output, which did that already) and creates it
 * before anything is trained. m, train, eval, cb and opts->output must outlive the run; opts is
 * copied (its strings too). opts NULL: lb_train_options_init's defaults.
 * train NULL opens a run for lb_train_step_batch (eval must then be NULL too). String labels
 * the model does not know are LB_ERR_FORMAT naming the set, row and value. To resume, open the
 * model with the checkpoint folder as its adapter and set resume_from_checkpoint to it.
 * One run per model at a time: until lb_train_run_close, a second lb_train_run_open on m, and
 * lb_model_save_merged / lb_model_add_adapter on it, are LB_ERR_USAGE (the run steps the
 * adapter's parameters in place). */
typedef struct lb_train_run lb_train_run;
lb_status lb_train_run_open(lb_model *m, const lb_dataset *train, const lb_dataset *eval, const lb_train_options *opts,
                            const lb_train_callbacks *cb, lb_train_run **out, lb_error *err);
/* One optimizer step: zero grad, forward, loss, backward, clip, AdamW, schedule; then the
 * evaluation and checkpoint its strategies call for (eval_strategy / save_strategy "steps" at
 * this step, "epoch" at an epoch's last step) and best tracking. *done becomes true after
 * the last step (the final output is then written). info may be NULL. */
lb_status lb_train_step(lb_train_run *r, lb_step_info *info, bool *done, lb_error *err);
/* One optimizer step on a caller-given batch, for custom loops and benchmarks, on a run opened
 * with train == NULL (and eval NULL, no output_dir, resume or batch order, max_steps >= 1):
 *   ids     [B * T]  right-padded token ids (row b's first lengths[b] are real; [CLS] ... [SEP])
 *   lengths [B]      1..T
 *   type_ids [B * T] token_type_ids, or NULL (all 0)
 *   labels  [B]      class ids in 0..num_labels-1
 * A model whose problem_type is multi-label or regression cannot open such a run
 * (LB_ERR_UNSUPPORTED: its targets are not class ids).
 * Same arithmetic as lb_train_step (dropout from the run's seed; the learning rate follows
 * lr_scheduler_type over max_steps with the warmup of warmup_steps / warmup_ratio). One micro-batch per step: a run opened with
 * gradient_accumulation_steps > 1 or a collective of size > 1 and no training set is refused at
 * lb_train_run_open (LB_ERR_USAGE). Calls on_step; no evaluation, checkpoint or
 * file is written, and cancel is not read (the caller owns the loop). A step beyond max_steps,
 * a bad shape, token id, type or label is LB_ERR_USAGE (nothing changed); a non-finite loss or
 * gradient norm is LB_ERR_NUMERIC and ends the run (later steps are refused). info may be NULL.
 * The arrays are read during the call only. */
lb_status lb_train_step_batch(lb_train_run *r, const int32_t *ids, const int32_t *lengths, const int32_t *type_ids,
                              int B, int T, const int32_t *labels, lb_step_info *info, lb_error *err);
/* Steps until done (or cancelled / failed) and fills res; equivalent to looping lb_train_step. */
lb_status lb_train_run_all(lb_train_run *r, lb_train_result *res, lb_error *err);
/* Frees the run (releases the output folder's lock unless it came from lb_train_output_open);
 * the model keeps the trained adapter (the best checkpoint's with load_best_model_at_end, else the
 * last step's). */
void lb_train_run_close(lb_train_run *r);

/* ---- Hugging Face Hub ------------------------------------------------------------------- */

/* Fetches what is missing of a hub repo into the HF cache (huggingface_hub's layout, shared with
 * Python users) and gives its snapshot folder in *dir (free with lb_free). dataset: a dataset repo
 * instead of a model repo. revision: branch, tag or commit (NULL: "main"). include: NULL-terminated
 * globs of the files wanted (NULL: all; fnmatch as huggingface_hub, '*' also matches '/').
 * Offline (HF_HUB_OFFLINE=1) or unreachable: the cached snapshot as it is. */
lb_status lb_hub_download(const char *repo_id, bool dataset, const char *revision, const char *const *include,
                          char **dir, lb_error *err);

/* Progress of a file download: called at most every 0.1 s while it runs and once with final =
 * true when it ends; total is -1 when the server declared no size. */
typedef void (*lb_download_progress_fn)(void *user, const char *file, long long done, long long total,
                                        double bytes_per_s, bool final);
/* Where download progress goes (every hub download of the process: lb_hub_download, and models,
 * adapters, tokenizers and datasets opened by hub id). NULL (the default): nowhere. Process-wide:
 * set it once before downloads start, not while one runs. */
void lb_set_download_progress(lb_download_progress_fn fn, void *user);

/* ---- Describing folders ---------------------------------------------------------------- */

/* What `lorabert info` shows about a model folder, an adapter folder or a hub repo id, read from
 * headers only (nothing is loaded): one JSON object in *json (free with lb_free). Fields of a
 * model: kind "model", path, architecture, model_type, layers, dim, heads, ffn_dim, vocab_size,
 * max_position_embeddings, parameters, tensors, dtypes, num_labels, labels [names], problem_type
 * (config.json's; when absent HF's rule: "regression" for one label, else
 * "single_label_classification"), tokenizer
 * (a description), tokenizer_vocab_size, max_length. Of an adapter: kind "adapter", path,
 * peft_type, r, lora_alpha, lora_dropout, target_modules, task_type, base_model, has_weights,
 * tensors, parameters, dtypes, has_tokenizer. Thread-safe. */
lb_status lb_describe(const char *dir_or_id, char **json, lb_error *err);
/* Frees memory the library handed to the caller (lb_describe's string). NULL is a no-op. */
void lb_free(void *p);

/* ---- Process-wide helpers --------------------------------------------------------------- */

/* Debian's OpenBLAS 0.3.21 may not recognise the CPU and fall back to slow kernels: the
 * OPENBLAS_CORETYPE value a program should set before its first BLAS call (NULL: nothing to do).
 * lb_blas_reexec_if_slow(argv) sets it and re-executes the program once when needed (call it
 * first thing in main; it returns when nothing is to be done). */
const char *lb_blas_preferred_coretype(void);
void lb_blas_reexec_if_slow(char **argv);

/* libgomp (GCC's OpenMP, which the library and OpenBLAS use) reads its wait policy once, when
 * it loads. Unset, a thread that waits at a barrier spins ~3 ms before it sleeps; when another
 * process shares a core, that collapsed a 2-thread run to 28% of its idle speed
 * (docs/performance.md, "Under load"). lb_omp_preferred_spincount() is the GOMP_SPINCOUNT a
 * program should start with when the user set neither OMP_WAIT_POLICY nor GOMP_SPINCOUNT (a
 * bounded spin; NULL: the user chose, nothing to do). Results do not depend on it.
 * lb_runtime_reexec(argv) is lb_blas_reexec_if_slow's superset and what a program should call
 * first thing in main(): it sets OPENBLAS_CORETYPE and GOMP_SPINCOUNT as needed and
 * re-executes the program once (it returns when nothing is to be done, or exec failed). A
 * program that cannot re-execute (an interpreter) sets the variables before loading the
 * library, as the Python package does. */
const char *lb_omp_preferred_spincount(void);
void lb_runtime_reexec(char **argv);

#ifdef __cplusplus
}
#endif
#endif /* LORABERT_H */
