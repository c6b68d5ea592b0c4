/* The tensor table: one row per tensor of the model (embeddings, every block, the pooler and
 * the head), built from the architecture descriptor (names) and the config (shapes). Each row
 * says where the tensor lives (the model field that points at it), whether it is the base
 * model's (key under base_model_prefix), whether it trains with an adapter (the head, PEFT's
 * modules_to_save rule for SEQ_CLS) and how it is initialised. Loading, random init, saving
 * (object.c), the parameter counts and the PEFT parameter list (here) loop over it, so the
 * names and shapes of a model are written down once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "model/internal.h"

typedef struct table {
    lb_model *m;
    int n;
    const char *too_long; /* a module path that made a key longer than LB_TENSOR_KEY_MAX */
} table;

static lb_tensor *put(table *t, const char *pre, const char *module, const char *leaf, int64_t d0, int64_t d1,
                      const float **w, lb_tensor_init init, bool decay) {
    lb_tensor *e = &t->m->tensors[t->n++];
    memset(e, 0, sizeof *e);
    int len = snprintf(e->key, sizeof e->key, "%s%s.%s", pre, module, leaf);
    if (len < 0 || (size_t)len >= sizeof e->key) t->too_long = module;
    e->base = true;
    e->ndim = d1 < 0 ? 1 : 2;
    e->shape[0] = d0;
    e->shape[1] = d1 < 0 ? 0 : d1;
    e->numel = d0 * (d1 < 0 ? 1 : d1);
    e->w = w;
    e->init = init;
    e->decay = decay;
    e->layer = e->lin = -1;
    return e;
}

/* nn.Embedding: weight [rows, D]. */
static void embedding(table *t, const char *module, int64_t rows, int64_t D, const float **w) {
    put(t, "", module, "weight", rows, D, w, LB_INIT_NORMAL, true);
}

/* nn.Linear: weight [out, in] and bias [out]; returns the weight's row. */
static lb_tensor *linear(table *t, const char *pre, const char *module, int64_t out, int64_t in, const float **w,
                         const float **b) {
    lb_tensor *e = put(t, pre, module, "weight", out, in, w, LB_INIT_NORMAL, true);
    put(t, pre, module, "bias", out, -1, b, LB_INIT_ZEROS, false);
    return e;
}

/* nn.LayerNorm: weight and bias [D], no weight decay. */
/* gw, gb: the gradient fields when modules_to_save may train it (a block's), else NULL. */
static void layernorm(table *t, const char *pre, const char *module, int64_t D, const float **w, const float **b,
                      float **gw, float **gb) {
    put(t, pre, module, "weight", D, -1, w, LB_INIT_ONES, false)->g = gw;
    put(t, pre, module, "bias", D, -1, b, LB_INIT_ZEROS, false)->g = gb;
}

/* The two rows of a head linear (weight, bias) just put: optional in a checkpoint (newly
 * initialised, as transformers does), and in the trainable block unless the base model owns
 * them (BERT's pooler). */
static void head_linear(table *t, lb_tensor *e, bool in_base, float **gw, float **gb) {
    float **g[2] = {gw, gb};
    for (int i = 0; i < 2; i++) {
        e[i].optional = true;
        if (in_base) continue;
        e[i].base = false;
        e[i].head = true;
        e[i].g = g[i];
        e[i].off = t->m->n_head;
        t->m->n_head += e[i].numel;
    }
}

/* ModernBertForSequenceClassification (biases off: config.c refuses them on): model.embeddings
 * (tok_embeddings, norm), model.layers.<l>. (attn_norm from layer 1 on, attn.Wqkv, attn.Wo,
 * mlp_norm, mlp.Wi, mlp.Wo), model.final_norm; outside the base model head.dense and head.norm
 * (frozen: PEFT's SEQ_CLS modules_to_save is "classifier" only) and the classifier. */
static void build_modern(table *t) {
    lb_model *m = t->m;
    const lb_model_config *c = &m->cfg;
    const lb_arch_desc *a = m->arch;
    int64_t D = c->dim, NL = c->num_labels;
    embedding(t, "embeddings.tok_embeddings", c->vocab_size, D, &m->wte);
    put(t, "", "embeddings.norm", "weight", D, -1, &m->emb_ln_w, LB_INIT_ONES, false);
    char pre[64];
    for (int l = 0; l < c->n_layers; l++) {
        lb_layer_w *lw = &m->layers[l];
        snprintf(pre, sizeof pre, a->layer_fmt, l);
        if (l > 0) put(t, pre, a->ln1, "weight", D, -1, &lw->ln1_w, LB_INIT_ONES, false);
        for (int k = 0; k < LB_LIN__COUNT; k++) {
            if (!lb_lin_present(a, k)) continue;
            lb_tensor *e = put(t, pre, a->lin_module[k], "weight", lb_lin_out(c, k), lb_lin_in(c, k), &lw->w[k],
                               LB_INIT_NORMAL, true);
            e->layer = l;
            e->lin = k;
            if (k == LB_LIN_O) put(t, pre, a->ln2, "weight", D, -1, &lw->ln2_w, LB_INIT_ONES, false);
        }
    }
    put(t, "", "final_norm", "weight", D, -1, &m->final_norm_w, LB_INIT_ONES, false);
    lb_tensor *e = put(t, "", a->head.dense, "weight", D, D, &m->dense_w, LB_INIT_NORMAL, true);
    e->base = false;
    e->optional = true;
    e = put(t, "", "head.norm", "weight", D, -1, &m->head_norm_w, LB_INIT_ONES, false);
    e->base = false;
    e->optional = true;
    e = linear(t, "", a->head.classifier, NL, D, &m->cls_w, &m->cls_b);
    head_linear(t, e, false, &m->g_cls_w, &m->g_cls_b);
}

lb_status lb_tensors_build(lb_model *m, lb_error *err) {
    const lb_model_config *c = &m->cfg;
    const lb_arch_desc *a = m->arch;
    int64_t D = c->dim, NL = c->num_labels;
    int cap = 5 + (2 * LB_LIN__COUNT + 4) * c->n_layers + 4; /* at most: embeddings, blocks, head */
    m->layers = calloc((size_t)c->n_layers, sizeof(lb_layer_w));
    m->tensors = calloc((size_t)cap, sizeof(lb_tensor));
    if (!m->layers || !m->tensors) return lb_err(err, LB_ERR_NOMEM, "%s: out of memory", m->dir);
    table t = {m, 0, NULL};
    m->n_head = 0;
    if (a->modern) {
        build_modern(&t);
        m->n_tensors = t.n;
        return LB_OK;
    }
    embedding(&t, "embeddings.word_embeddings", c->vocab_size, D, &m->wte);
    embedding(&t, "embeddings.position_embeddings", c->max_pos, D, &m->wpe);
    layernorm(&t, "", "embeddings.LayerNorm", D, &m->emb_ln_w, &m->emb_ln_b, NULL, NULL);
    if (a->has_token_type) embedding(&t, "embeddings.token_type_embeddings", c->type_vocab_size, D, &m->wtt);
    char pre[64];
    for (int l = 0; l < c->n_layers; l++) {
        lb_layer_w *lw = &m->layers[l];
        snprintf(pre, sizeof pre, a->layer_fmt, l);
        for (int k = 0; k < LB_LIN__COUNT; k++) {
            lb_tensor *e = linear(&t, pre, a->lin_module[k], lb_lin_out(c, k), lb_lin_in(c, k), &lw->w[k], &lw->b[k]);
            e->layer = l;
            e->lin = k;
            e[0].g = &lw->g_w[k]; /* modules_to_save may train it */
            e[1].g = &lw->g_b[k];
        }
        layernorm(&t, pre, a->ln1, D, &lw->ln1_w, &lw->ln1_b, &lw->g_ln1_w, &lw->g_ln1_b);
        layernorm(&t, pre, a->ln2, D, &lw->ln2_w, &lw->ln2_b, &lw->g_ln2_w, &lw->g_ln2_b);
    }
    m->n_head = 0;
    lb_tensor *e = linear(&t, "", a->head.dense, D, D, &m->dense_w, &m->dense_b);
    head_linear(&t, e, a->head.dense_in_base, &m->g_dense_w, &m->g_dense_b);
    e = linear(&t, "", a->head.classifier, NL, D, &m->cls_w, &m->cls_b);
    head_linear(&t, e, false, &m->g_cls_w, &m->g_cls_b);
    m->n_tensors = t.n;
    if (t.too_long)
        return lb_err(err, LB_ERR_UNSUPPORTED, "%s: tensor names of module \"%s\" exceed %d bytes", m->dir, t.too_long,
                      LB_TENSOR_KEY_MAX - 1);
    return LB_OK;
}

static void free_params(lb_model *m) {
    for (int i = 0; i < m->n_params; i++) free(m->param_names[i]);
    free(m->param_names);
    free(m->params);
    m->param_names = NULL;
    m->params = NULL;
    m->n_params = 0;
}

void lb_tensors_free(lb_model *m) {
    free_params(m);
    free(m->tensors);
    m->tensors = NULL;
    m->n_tensors = 0;
}

void lb_tensor_full_key(const lb_model *m, const lb_tensor *t, char *buf, size_t n) {
    if (t->base) snprintf(buf, n, "%s.%s", m->arch->prefix, t->key);
    else snprintf(buf, n, "%s", t->key);
}

void lb_tensors_bind_head(lb_model *m, float *block, float *grad) {
    for (int i = 0; i < m->n_tensors; i++) {
        const lb_tensor *e = &m->tensors[i];
        if (!e->head) continue;
        *e->w = block + e->off;
        *e->g = grad ? grad + e->off : NULL;
    }
}

static lb_status add_param(lb_model *m, const char *name, float *data, float *grad, int64_t d0, int64_t d1, bool decay,
                           lb_error *err) {
    int i = m->n_params;
    m->param_names[i] = strdup(name);
    if (!m->param_names[i]) return lb_err(err, LB_ERR_NOMEM, "LoRA: out of memory");
    lb_param *p = &m->params[i];
    p->name = m->param_names[i];
    p->data = data;
    p->grad = grad;
    p->ndim = d1 < 0 ? 1 : 2;
    p->shape[0] = d0;
    p->shape[1] = d1 < 0 ? 0 : d1;
    p->numel = d0 * (d1 < 0 ? 1 : d1);
    p->decay = decay;
    m->n_params++;
    return LB_OK;
}

/* PEFT's saved key names: "base_model.model." + the checkpoint key, the adapters of a linear
 * "<module>.lora_A.weight" / "<module>.lora_B.weight" beside its weight. */
lb_status lb_tensors_params(lb_model *m, lb_error *err) {
    free_params(m);
    if (!m->has_lora) return LB_OK;
    int np = 0;
    for (int i = 0; i < m->n_tensors; i++) {
        const lb_tensor *e = &m->tensors[i];
        np += e->head                                               ? 1
              : e->lin >= 0 && m->layers[e->layer].dora_mag[e->lin] ? 3
              : e->lin >= 0 && m->layers[e->layer].lora_A[e->lin]   ? 2
                                                                    : 0;
    }
    m->params = calloc(np > 0 ? (size_t)np : 1, sizeof(lb_param));
    m->param_names = calloc(np > 0 ? (size_t)np : 1, sizeof(char *));
    if (!m->params || !m->param_names) {
        free_params(m);
        return lb_err(err, LB_ERR_NOMEM, "LoRA: out of memory");
    }
    char key[LB_TENSOR_KEY_MAX + 64], name[LB_TENSOR_KEY_MAX + 128];
    lb_status st = LB_OK;
    /* The adapters, in layer order. */
    for (int i = 0; i < m->n_tensors && !st; i++) {
        const lb_tensor *e = &m->tensors[i];
        if (e->lin < 0) continue;
        lb_layer_w *lw = &m->layers[e->layer];
        int k = e->lin;
        if (!lw->lora_A[k]) continue;
        int64_t out = e->shape[0], in = e->shape[1], r = lw->lora_r[k];
        lb_tensor_full_key(m, e, key, sizeof key);
        int mod = (int)strlen(key) - (int)strlen(".weight"); /* the linear's module path */
        snprintf(name, sizeof name, "base_model.model.%.*s.lora_A.weight", mod, key);
        st = add_param(m, name, lw->lora_A[k], lw->grad_A[k], r, in, true, err);
        if (st) break;
        snprintf(name, sizeof name, "base_model.model.%.*s.lora_B.weight", mod, key);
        st = add_param(m, name, lw->lora_B[k], lw->grad_B[k], out, r, true, err);
        if (st || !lw->dora_mag[k]) continue;
        /* PEFT >= 0.12 saves DoRA's magnitude without the ".weight" of its DoraLinearLayer. */
        snprintf(name, sizeof name, "base_model.model.%.*s.lora_magnitude_vector", mod, key);
        st = add_param(m, name, lw->dora_mag[k], lw->grad_mag[k], out, -1, true, err);
    }
    /* The head (modules_to_save). */
    for (int i = 0; i < m->n_tensors && !st; i++) {
        const lb_tensor *e = &m->tensors[i];
        if (!e->head) continue;
        lb_tensor_full_key(m, e, key, sizeof key);
        snprintf(name, sizeof name, "base_model.model.%s", key);
        st = add_param(m, name, m->train + e->off, m->train_grad ? m->train_grad + e->off : NULL, e->shape[0],
                       e->ndim > 1 ? e->shape[1] : -1, e->decay, err);
    }
    return st;
}

int lb_model_params(const lb_model *m, lb_param **params) {
    *params = m->params;
    return m->n_params;
}

void lb_model_param_counts(const lb_model *m, int64_t *trainable, int64_t *all) {
    int64_t base = 0;
    for (int i = 0; i < m->n_tensors; i++) base += m->tensors[i].numel;
    int64_t head = m->n_head, lora = m->has_lora ? m->n_train - head : 0;
    /* PEFT counts the frozen original head and its trainable modules_to_save copy. */
    if (trainable) *trainable = m->has_lora ? lora + head : 0;
    if (all) *all = base + (m->has_lora ? lora + head : 0);
}
