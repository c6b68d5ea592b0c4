/* Private structures of src/model: the model object, per-architecture descriptors and the
 * activation arena. Only the .c files of src/model include this. */
#ifndef LB_MODEL_INTERNAL_H
#define LB_MODEL_INTERNAL_H
#include <cjson/cJSON.h>
#include <stddef.h>
#include "formats/safetensors.h"
#include "kernels/gemm_bf16.h"
#include "kernels/gemm_f32.h"
#include "kernels/gemm_int8.h"
#include "model/model.h"

/* Frozen weights of one encoder block (pointers into the mapping, or into owned copies
 * after a merge). */
typedef struct lb_layer_w {
    const float *w[LB_LIN__COUNT]; /* [out, in] */
    /* pissa / olora (lora_init.c): the weight w[k]'s residual was taken from (the mapping's or an
     * owned copy), for lb_lora_rewrite_sync; NULL otherwise. */
    const float *w_src[LB_LIN__COUNT];
    const float *b[LB_LIN__COUNT]; /* [out] */
    const float *ln1_w, *ln1_b;    /* [D] after attention (sa_layer_norm / attention.output.LayerNorm) */
    const float *ln2_w, *ln2_b;    /* [D] after FFN (output_layer_norm / output.LayerNorm) */
    /* Their gradients when modules_to_save trains them (the values then live in the trainable
     * block like the head's), else NULL. */
    float *g_ln1_w, *g_ln1_b, *g_ln2_w, *g_ln2_b;
    /* The same for the linears modules_to_save trains in full: their weight [out, in] and bias
     * [out] live in the trainable block (w[k] / b[k] point there), every mode runs them in fp32
     * on those values (no packs), and backward adds dW = dY^T X and db. NULL: frozen. */
    float *g_w[LB_LIN__COUNT], *g_b[LB_LIN__COUNT];
    float *lora_A[LB_LIN__COUNT]; /* [r, in] or NULL (in the trainable block) */
    float *lora_B[LB_LIN__COUNT]; /* [out, r] */
    float *grad_A[LB_LIN__COUNT], *grad_B[LB_LIN__COUNT];
    /* DoRA (lora.c): the magnitude [out] and its gradient (in the trainable block), and the
     * detached row norms ||W + s B A|| [out] and factors magnitude / norm [out] of the last
     * forward (in m->dora_buf). NULL without DoRA. */
    float *dora_mag[LB_LIN__COUNT], *grad_mag[LB_LIN__COUNT];
    float *dora_norm[LB_LIN__COUNT], *dora_f[LB_LIN__COUNT];
    /* DoRA's eval-mode cache (lb_dora_eval): dora_key holds the A [r, in], B [out, r] and
     * magnitude [out] that dora_norm / dora_f were last computed from by lb_dora_eval (in
     * m->dora_buf), dora_key_w and dora_key_s the weight and scaling; dora_cached says they are
     * current (any other lb_dora_factors call clears it). */
    float *dora_key[LB_LIN__COUNT];
    const float *dora_key_w[LB_LIN__COUNT];
    float dora_key_s[LB_LIN__COUNT];
    bool dora_cached[LB_LIN__COUNT];
    int lora_r[LB_LIN__COUNT];   /* each adapted linear's rank (rank_pattern) */
    float lora_s[LB_LIN__COUNT]; /* and scaling alpha/r or alpha/sqrt(r) (alpha_pattern) */
    /* bf16 mode (precision.c): w packed for the forward, and W^T for dX = dY W (NULL until a
     * backward needs it, and in fp32 mode). */
    lb_bf16_weight *wb[LB_LIN__COUNT], *wbt[LB_LIN__COUNT];
    /* fp32 mode with weight packing (precision.c): the same for kernels/gemm_f32. */
    lb_f32_weight *wf[LB_LIN__COUNT], *wft[LB_LIN__COUNT];
    /* int8 mode (precision.c): w quantized per output channel for the forward (inference only). */
    lb_int8_weight *wi[LB_LIN__COUNT];
} lb_layer_w;

/* The sequence-classification head on the [CLS] row: dense -> activation -> dropout ->
 * classifier (transformers' DistilBertForSequenceClassification and BertForSequenceClassification). */
typedef struct lb_head_desc {
    const char *dense;      /* module of the dense layer: "pre_classifier" / "pooler.dense" */
    bool dense_in_base;     /* BERT's pooler: the base model's (key under base_model_prefix),
                                        frozen under an adapter, newly initialised when absent; else the
                                        dense belongs to the head and trains with it */
    bool dense_tanh;        /* activation: tanh (pooler) or ReLU (pre_classifier) */
    const char *classifier; /* module of the output layer: "classifier" / "classifier.out_proj" */
    bool pre_dropout;       /* RoBERTa's head: dropout on the <s> row before the dense too */
} lb_head_desc;

/* What differs between architectures: checkpoint names and the few quirks of the math. The
 * tensor table (tensors.c) is built from it; the encoder reads the quirk flags. */
typedef struct lb_arch_desc {
    lb_arch arch;                          /* its value in lb_model_config.arch */
    const char *model_type;                /* "distilbert" / "bert" */
    const char *prefix;                    /* base_model_prefix: "distilbert" / "bert" */
    const char *seqcls_class;              /* "DistilBertForSequenceClassification" */
    const char *layer_fmt;                 /* "transformer.layer.%d." */
    const char *lin_module[LB_LIN__COUNT]; /* module path inside a layer, e.g. "attention.q_lin" */
    const char *lin_short[LB_LIN__COUNT];  /* PEFT target name, e.g. "q_lin" */
    const char *ln1, *ln2;                 /* LayerNorm module paths inside a layer */
    bool has_token_type;                   /* BERT token_type embeddings */
    bool attn_out_dropout;                 /* BERT: dropout on the attention output dense */
    bool pos_from_pad;                     /* RoBERTa: position ids pad_token_id + 1 + (count of
                                              non-pad ids so far), pad_token_id on a pad id */
    const char *no_target;                 /* a PEFT target name refused here (NULL: none) */
    unsigned lin_kinds;                    /* bits of the linear kinds a block has (0: all six);
                                              lin_module/lin_short are NULL for the others */
    bool modern;                           /* ModernBERT's math and tensors (modernbert.c) */
    lb_head_desc head;
} lb_arch_desc;

extern const lb_arch_desc lb_distilbert_desc;
extern const lb_arch_desc lb_bert_desc;
extern const lb_arch_desc lb_roberta_desc;
extern const lb_arch_desc lb_xlm_roberta_desc;
extern const lb_arch_desc lb_modernbert_desc;

/* Activations of one layer; rq = rows after attention (all tokens, or one [CLS] row per
 * sequence in the last layer). */
typedef struct lb_layer_act {
    int rq;
    float *xq;            /* [rq, D] gathered [CLS] inputs (last layer) or == layer input */
    float *q;             /* [rq, D] */
    float *kv;            /* [N, 2D] K | V */
    float *probs;         /* per sequence [H, nq_b, len_b], concatenated */
    uint8_t *attn_keep;   /* same layout, or NULL */
    float *ctx;           /* [rq, D] */
    float *a;             /* [rq, D] attention output + residual (LN1 input) */
    uint8_t *a_keep;      /* [rq, D] BERT attention-output dropout mask or NULL */
    float *mean1, *rstd1; /* [rq] */
    float *h1;            /* [rq, D] */
    float *f1pre, *f1;    /* [rq, F] */
    float *f2;            /* [rq, D] FFN output + residual (LN2 input) */
    uint8_t *f_keep;      /* [rq, D] or NULL */
    float *mean2, *rstd2;
    /* LoRA on linear kind k: the input the adapter saw (the dropout buffer, or the layer's own
     * input when there is no LoRA dropout), the dropout buffer and mask, u = xd A^T. */
    const float *lx[LB_LIN__COUNT]; /* [rows, in] */
    float *ldrop[LB_LIN__COUNT];    /* [rows, in] or NULL */
    uint8_t *lkeep[LB_LIN__COUNT];  /* [rows, in] or NULL */
    float *lu[LB_LIN__COUNT];       /* [rows, r] */
    /* DoRA: the directional output z + s (xd A^T) B^T (z = the base product without bias, on the
     * adapter's input) [rows, out], kept in train mode for the magnitude gradient. */
    float *ldw[LB_LIN__COUNT];
} lb_layer_act;

/* Random initialisation of a tensor (transformers' _init_weights): N(0, initializer_range),
 * ones (LayerNorm weights) or zeros (biases). */
typedef enum lb_tensor_init { LB_INIT_NORMAL, LB_INIT_ONES, LB_INIT_ZEROS } lb_tensor_init;

#define LB_TENSOR_KEY_MAX 160

/* One tensor of the model, in the tensor table (tensors.c): every weight of the embeddings,
 * the blocks, the pooler and the head, in checkpoint order. Loading, random init, saving,
 * parameter counts and the PEFT parameter list loop over the table. */
typedef struct lb_tensor {
    char key[LB_TENSOR_KEY_MAX]; /* HF key below the base model: "embeddings.LayerNorm.weight",
                                        "transformer.layer.0.attention.q_lin.weight", "classifier.bias" */
    bool base;                   /* stored under base_model_prefix ("distilbert." + key) */
    bool head;                   /* the head's trainable part: owned, in the trainable block at
                                        `off` (PEFT modules_to_save once an adapter is added) */
    bool optional;               /* absent from a checkpoint: newly initialised, named in the notice */
    bool decay;                  /* HF Trainer: weight decay applies (not biases, not LayerNorm) */
    lb_tensor_init init;
    int ndim;
    int64_t shape[2]; /* [out, in] for linears; [n] for vectors */
    int64_t numel;
    const float **w; /* the model field pointing at the values */
    bool mts;        /* a frozen tensor that modules_to_save made trainable (head is set too; after
                        the head's tensors in the block) */
    float **g;       /* head, or a tensor modules_to_save can train (a block's LayerNorm): the
                        model field pointing at its gradient */
    int64_t off;     /* head: offset in the trainable block */
    int layer, lin;  /* a block linear's weight: layer and lb_linear kind (LoRA sits
                                        there); -1 otherwise */
} lb_tensor;

/* A standalone adapter (model.h): the trainable block of a model that held it (head at the
 * start, then A/B per layer and linear kind as lb_model_add_lora lays them out), and the shapes
 * of the base it was made over. */
struct lb_lora_adapter {
    lb_lora_config lora;
    float scaling;
    int num_labels;
    lb_model_config shape; /* the base's configuration (id2label NULL) */
    float *block;
    int64_t n_block;
    float *(*A)[LB_LIN__COUNT]; /* [n_layers][kind] or NULL */
    float *(*B)[LB_LIN__COUNT];
    int (*r)[LB_LIN__COUNT];        /* [n_layers][kind]: ranks */
    float (*s)[LB_LIN__COUNT];      /* scalings */
    int rmax;                       /* the largest rank */
    const float *dense_w, *dense_b; /* head dense, NULL when the base's (BERT's pooler) */
    const float *cls_w, *cls_b;
    size_t bytes;
};

struct lb_model {
    lb_model_config cfg;
    const lb_arch_desc *arch;
    char *dir;
    char *load_notice;   /* transformers' "newly initialized" notice, or NULL */
    char *adapter_dir;   /* where the loaded adapter came from (lb_model_set_origin), or NULL */
    char *tokenizer_dir; /* where the tokenizer files are (adapter's when it carries them) */
    char **label_view;   /* [num_labels] names for lb_model_get_info (LABEL_i filled in) */
    cJSON *config_json;  /* the config.json as read, rewritten by lb_model_save */
    lb_st_file *st;
    lb_tensor *tensors; /* the tensor table [n_tensors] */
    int n_tensors;
    /* embeddings: [V, D], [P, D], [TV, D] or NULL, LayerNorm [D] */
    const float *wte, *wpe, *wtt, *emb_ln_w, *emb_ln_b;
    lb_layer_w *layers; /* [n_layers] */
    float **owned;      /* weights allocated by the model (random init, newly initialised
                                  base tensors, merged weights), freed with it */
    int n_owned;
    /* Head: dense [D, D], [D] (DistilBERT pre_classifier, trainable; BERT pooler, frozen, in the
     * mapping or owned) and classifier [NL, D], [NL]. The head's trainable tensors live at the
     * start of `train` (one block with the LoRA tensors); their gradients (NULL without an
     * adapter) at the same offsets of `train_grad`. */
    const float *dense_w, *dense_b, *cls_w, *cls_b;
    const float *final_norm_w, *head_norm_w; /* ModernBERT: final_norm and head.norm [D] (no bias) */
    struct lb_mb_state *mb;                  /* ModernBERT: forward state (modernbert.c) or NULL */
    float *g_dense_w, *g_dense_b, *g_cls_w, *g_cls_b;
    float *train, *train_grad; /* trainable block and its gradients */
    int64_t n_train;
    int64_t n_head; /* values of the head's trainable tensors (start of `train`) */
    bool has_lora;
    bool in_run; /* a training run holds the model (lb_model_set_in_run) */
    lb_precision precision;
    bool no_weight_packing; /* fp32: OpenBLAS on the mapped weights instead of packs */
    bool packs_fwd;         /* forward packs made for the current settings */
    int packs_bwd_layers;   /* the top packs_bwd_layers layers have transposed packs */
    lb_lora_config lora;
    float lora_scaling;              /* of the config's r and alpha (modules may differ: lb_layer_w.lora_s) */
    int lora_rmax;                   /* the largest rank of the adapter's modules */
    lb_lora_patterns *lora_patterns; /* lora.patterns' storage (owned; NULL: none) */
    /* DoRA: norms and factors of every adapted linear (lb_layer_w dora_norm / dora_f), then a
     * scratch [max out * in] for B A, then the eval cache's keys (lb_layer_w dora_key), and one
     * [N, F]-sized forward scratch (in the arena). */
    float *dora_buf, *dora_delta, *dora_tmp;
    /* pissa / olora (lora_init.c): the adapter's initial A0 and B0, laid out as the adapter part
     * of `train` from index lora_init0_off on (n_init0 values), kept to convert the adapter on
     * save; NULL for the other inits (and after a merge). */
    float *lora_init0;
    int64_t lora_init0_off, n_init0;
    lb_param *params;
    char **param_names;
    int n_params;
    /* Forward state for backward. */
    bool fwd_train, fwd_valid;
    float p_hidden, p_attn, p_cls, p_lora; /* dropout probabilities used by the last forward */
    int B, N;                              /* sequences, real tokens */
    int32_t *len, *off;                    /* [B] lengths, packed row offsets */
    int64_t *poff;                         /* [B] offsets into probs per layer */
    int32_t *tok_ids, *tok_pos, *tok_tt;   /* [N] */
    void *arena;
    size_t arena_size;
    float **hs;         /* [n_layers + 1] layer inputs/outputs (train); eval ping-pongs */
    lb_layer_act *acts; /* [n_layers] (train) or [1] reused (eval) */
    float *emb;         /* [N, D] raw embedding sum */
    uint8_t *emb_keep;  /* [N, D] */
    float *hdense, *hd; /* head activations [B, D]: dense + activation out, after dropout */
    uint8_t *hd_keep;   /* [B, D] */
    float *hin;         /* [B, D] RoBERTa: the dense's input after the pre-dense dropout */
    uint8_t *hin_keep;  /* [B, D] its mask, or NULL (no dropout: the dense reads the <s> rows) */
    float *attn_scratch;
    /* A segmented forward (lb_model_forward_segments) in progress, else NULL / 0. */
    const lb_segment *segs;
    int nseg;
    /* Backward buffers. */
    void *garena;
    size_t garena_size;
};

/* config.c: every architecture's descriptor by lb_arch (NULL: unknown), and config.json. */
const lb_arch_desc *lb_arch_desc_of(lb_arch arch);
lb_status lb_config_parse(lb_model *m, const char *dir, const lb_load_opts *opts, lb_error *err);
/* The same from NUL-terminated JSON text already in memory; `path` only names it in errors.
 * On return (either way) m->config_json may own the parsed tree and m->cfg.id2label the
 * labels: lb_model_free (or lb_config_free + cJSON_Delete) releases them. */
lb_status lb_config_parse_text(lb_model *m, const char *path, const char *text, const lb_load_opts *opts,
                               lb_error *err);
void lb_config_free(lb_model_config *c);

/* encoder.c: the math of forward and backward; free drops the activation arenas (after a
 * merge changed the adapters, or on free). */
lb_status lb_encoder_forward(lb_model *m, const lb_batch *batch, bool train, lb_rng *rng, float *logits, lb_error *err);
lb_status lb_encoder_forward_segments(lb_model *m, const lb_batch *batch, const lb_segment *segs, int nseg,
                                      float *logits, int ld_logits, lb_error *err);
lb_status lb_encoder_backward(lb_model *m, const float *dlogits, lb_error *err);
void lb_encoder_free_buffers(lb_model *m);

/* The activation arenas' bump allocator (encoder.c, modernbert.c): a layout pass with base NULL
 * measures (every pointer NULL, off the bytes needed), a second over the allocated block assigns;
 * every piece starts 64-byte aligned. */
typedef struct lb_bump {
    char *base;
    size_t off;
} lb_bump;
static inline void *lb_bump_take(lb_bump *b, size_t bytes) {
    void *p = b->base ? b->base + b->off : NULL;
    b->off += (bytes + 63) & ~(size_t)63;
    return p;
}
#define TAKE_F(b, n) ((float *)lb_bump_take((b), sizeof(float) * (size_t)(n)))
#define TAKE_U8(b, n) ((uint8_t *)lb_bump_take((b), (size_t)(n)))
#define TAKE_I(b, n) ((int32_t *)lb_bump_take((b), sizeof(int32_t) * (size_t)(n)))

/* Input and output widths of a block's linear kind (ModernBERT: Q is the fused Wqkv [3D, D],
 * FFN1 the GeGLU's Wi [2F, D]). */
static inline int lb_lin_in(const lb_model_config *c, int k) { return k == LB_LIN_FFN2 ? c->hidden_dim : c->dim; }
static inline int lb_lin_out(const lb_model_config *c, int k) {
    bool modern = c->arch == LB_ARCH_MODERNBERT;
    if (k == LB_LIN_FFN1) return modern ? 2 * c->hidden_dim : c->hidden_dim;
    return k == LB_LIN_Q && modern ? 3 * c->dim : c->dim;
}
/* Whether the architecture's blocks have linear kind k. */
static inline bool lb_lin_present(const lb_arch_desc *a, int k) { return !a->lin_kinds || (a->lin_kinds >> k) & 1u; }

/* modernbert.c: ModernBERT's forward (of a batch of N real tokens that encoder.c's entry points
 * checked; segs NULL: the model's own adapter and head; train keeps what backward needs),
 * backward and buffers; encoder.c's entry points call them for it. */
lb_status lb_modernbert_forward(lb_model *m, const lb_batch *batch, int64_t N, bool train, lb_rng *rng,
                                const lb_segment *segs, int nseg, float *logits, int ld_logits, lb_error *err);
lb_status lb_modernbert_backward(lb_model *m, const float *dlogits, lb_error *err);
void lb_modernbert_free(lb_model *m);

/* lora.c: the adapters' math. forward: y [rows, ldy] += s * (drop(x) A^T) B^T for linear kind k
 * of block lw (x [rows, in] contiguous; the dropout mask and u = xd A^T are kept in a for
 * backward); y holds the base product x W^T + bias on entry (bias NULL: without it), which DoRA
 * rescales (lora.c's header). backward: adapter gradients from dy [rows, lddy]; dx [rows, in] +=
 * gradient wrt x through the adapter (NULL: not needed); du [rows, r], tmp [rows, in] and dscr
 * [rows, out] (DoRA) are scratch. DoRA's (f - 1) z term: without LoRA dropout the caller's frozen
 * path takes dyf = lb_dora_scaled_dy(...) = f dy [rows, out] instead of dy (one GEMM for both),
 * and passes it here; dyf NULL: this adds that term to dx itself (through the dropout mask). */
void lb_lora_forward(const lb_model *m, lb_layer_act *a, lb_layer_w *lw, int k, const float *x, int rows, float *y,
                     int ldy, const float *bias, lb_rng *rng);
void lb_lora_backward(const lb_model *m, const lb_layer_act *a, lb_layer_w *lw, int k, int rows, const float *dy,
                      int lddy, const float *dyf, float *dx, float *du, float *tmp, float *dscr);
/* dy itself, or, for a DoRA linear without LoRA dropout, f dy in buf [rows, out] (ld out). */
const float *lb_dora_scaled_dy(const lb_layer_act *a, const lb_layer_w *lw, int k, int rows, int out, const float *dy,
                               int lddy, float *buf);
/* DoRA: the detached row norms ||W + s B A|| and factors magnitude / norm of linear kind k of lw
 * (into lw->dora_norm / dora_f; m->dora_delta is scratch), and the eval-mode update (as
 * lb_lora_eval, row-independent; a->lu and a->ldw are scratch). PEFT recomputes the norms every
 * forward; lb_dora_eval computes them once for the adapter it is given and reuses them while A,
 * B, the magnitude (compared bit for bit with dora_key), the weight and the scaling stay the
 * same: the same bits as a recomputation (the same call on the same inputs), at a compare of
 * r (in + out) + out values instead of an [out, r] x [r, in] product and out norms per forward.
 * Training's forward (lb_lora_forward) recomputes them every time. lb_dora_cache_drop forgets
 * every module's (tests: the uncached path). */
void lb_dora_factors(const lb_model *m, lb_layer_w *lw, int k);
float lb_dora_row_norm(const float *row, int n);
void lb_dora_eval(const lb_model *m, lb_layer_act *a, lb_layer_w *lw, int k, const float *x, int rows, float *y,
                  int ldy, const float *bias);
void lb_dora_cache_drop(lb_model *m);
/* Eval-mode LoRA update of linear kind k with adapter tensors A [r, in], B [out, r]:
 * y [rows, ldy] += scaling * (x A^T) B^T, x [rows, in], u [rows, r] scratch; row-independent
 * (lb_linear_rows), so the model's own adapter and a standalone one give the same bits. */
void lb_lora_eval(const lb_model_config *c, int k, int r, float scaling, const float *A, const float *B, const float *x,
                  int rows, float *u, float *y, int ldy);
/* Index of the lowest layer holding an adapter, or n_layers if none. */
int lb_lora_lowest_layer(const lb_model *m);
/* Folds every adapter into its base weight (W += scaling * B A, into owned copies), drops the
 * adapters and keeps only the head (frozen) in the trainable block. The caller drops what
 * depended on the old weights (packs, activation arena). */
lb_status lb_lora_merge(lb_model *m, lb_error *err);

/* lb_model_add_lora; with restore and a pissa / olora init, the adapter is laid out (A, B and
 * m->lora_init0 zero) but nothing is decomposed: the caller fills A, B and m->lora_init0 and
 * calls lb_lora_rewrite_restore. */
lb_status lb_lora_add(lb_model *m, const lb_lora_config *cfg, uint64_t seed, bool restore, lb_error *err);
/* lora_init.c: pissa / olora (model.h lb_lora_init), in two steps so that a failure leaves m as it
 * was. prepare (before lb_lora_add commits anything): for each adapted linear of cfg (layer, then
 * kind order; ranks rr and scalings ss [n_layers * LB_LIN__COUNT]) its A0 [r, in] and B0 [out, r]
 * from the weight's SVD / QR into init0 (the adapter's layout, no DoRA), and res[i] (malloc'd)
 * = W - s B0 A0, accumulated in double (so the same A0 and B0 give the same bits on any machine);
 * it only grows m->owned's capacity. commit (after the layout): A, B = A0, B0 from m->lora_init0
 * when copy_ab, each adapted weight = res[i] (owned by m from then on), packs dropped. restore: res
 * from m->lora_init0 (a resume copy's A0, B0), then commit without the copy. */
lb_status lb_lora_rewrite_prepare(lb_model *m, const lb_lora_config *cfg, const int *rr, const float *ss, float *init0,
                                  float **res, lb_error *err);
void lb_lora_rewrite_commit(lb_model *m, float **res, bool copy_ab);
lb_status lb_lora_rewrite_restore(lb_model *m, lb_error *err);
/* What lb_model_add_lora refuses for cfg's init on m (LB_OK for the other inits). */
lb_status lb_lora_rewrite_check(const lb_model *m, const lb_lora_config *cfg, lb_error *err);

/* precision.c: packs of the frozen linears, made by the first forward (every layer) and the
 * first backward reaching first_layer (transposed, layers >= first_layer) that need them;
 * free drops every pack (after a merge changed the weights, or on free). */
lb_status lb_precision_prepare_forward(lb_model *m, lb_error *err);
lb_status lb_precision_prepare_backward(lb_model *m, int first_layer, lb_error *err);
void lb_precision_free_packs(lb_model *m);

/* tensors.c: the tensor table. build makes it (and m->layers) from m->arch and m->cfg; bind
 * points the head's fields at the trainable block `block` (and its gradients at `grad`, or
 * NULL); params makes the PEFT parameter list (adapters in layer order, then the head) after
 * an adapter was added or removed. */
lb_status lb_tensors_build(lb_model *m, lb_error *err);
void lb_tensors_free(lb_model *m);
void lb_tensors_bind_head(lb_model *m, float *block, float *grad);
lb_status lb_tensors_params(lb_model *m, lb_error *err);
/* A tensor's key as stored in a checkpoint (with base_model_prefix where it has one). */
void lb_tensor_full_key(const lb_model *m, const lb_tensor *t, char *buf, size_t n);

#endif
