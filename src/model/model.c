/* The model object: loading a HF checkpoint folder (config.json + safetensors) with
 * transformers' key rules, forward/backward entry points, and saving a plain HF folder.
 *
 * Key rules (transformers `_load_pretrained_model`): base-model keys are found with or
 * without the "distilbert."/"bert." prefix; legacy "gamma"/"beta" stand for
 * "weight"/"bias"; keys the SeqCls model does not use (vocab_* of the MaskedLM checkpoint,
 * embeddings.position_ids, ...) are ignored; a missing head is newly initialised
 * (N(0, initializer_range) weights, zero biases), keeping transformers' notice for the caller. */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "base/fileio.h"
#include "model/internal.h"

/* ---- tensor lookup ---------------------------------------------------------------------- */
static const lb_st_tensor *find_key(lb_model *m, const char *key, bool base, char *found, size_t fsz) {
    char buf[512];
    const char *cands[4];
    char alt[4][512];
    int n = 0;
    if (base) {
        snprintf(alt[n], sizeof alt[n], "%s.%s", m->arch->prefix, key); cands[n] = alt[n]; n++;
    }
    snprintf(alt[n], sizeof alt[n], "%s", key); cands[n] = alt[n]; n++;
    int nbase = n;
    /* legacy gamma/beta names */
    for (int i = 0; i < nbase; i++) {
        size_t len = strlen(cands[i]);
        const char *from = NULL, *to = NULL;
        if (len > 7 && strcmp(cands[i] + len - 7, ".weight") == 0) { from = ".weight"; to = ".gamma"; }
        else if (len > 5 && strcmp(cands[i] + len - 5, ".bias") == 0) { from = ".bias"; to = ".beta"; }
        if (!from) continue;
        snprintf(buf, sizeof buf, "%.*s%s", (int)(len - strlen(from)), cands[i], to);
        snprintf(alt[n], sizeof alt[n], "%s", buf); cands[n] = alt[n]; n++;
    }
    for (int i = 0; i < n; i++) {
        const lb_st_tensor *t = lb_st_find(m->st, cands[i]);
        if (t) { if (found) snprintf(found, fsz, "%s", cands[i]); return t; }
    }
    return NULL;
}

static void shape_str(char *buf, size_t n, int ndim, const int64_t *shape) {
    size_t o = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < ndim && o < n; i++) o += (size_t)snprintf(buf + o, n - o, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (o < n) snprintf(buf + o, n - o, "]");
}

/* Loads key with the expected shape [d0] (d1 < 0) or [d0, d1]. *out = NULL and LB_OK when the
 * key is absent and optional. */
static lb_status load_w(lb_model *m, const char *key, bool base, int64_t d0, int64_t d1, bool optional,
                        const float **out, lb_error *err) {
    char found[512];
    *out = NULL;
    const lb_st_tensor *t = find_key(m, key, base, found, sizeof found);
    int ndim = d1 < 0 ? 1 : 2;
    int64_t want[2] = {d0, d1};
    char ws[64], fs[128];
    shape_str(ws, sizeof ws, ndim, want);
    if (!t) {
        if (optional) return LB_OK;
        return lb_err(err, LB_ERR_FORMAT, "%s: tensor \"%s%s%s\" missing from the checkpoint (expected shape %s)",
                      m->dir, base ? m->arch->prefix : "", base ? "." : "", key, ws);
    }
    bool ok = t->ndim == ndim && t->shape[0] == d0 && (ndim == 1 || t->shape[1] == d1);
    if (!ok) {
        shape_str(fs, sizeof fs, t->ndim, t->shape);
        return lb_err(err, LB_ERR_FORMAT, "%s: tensor \"%s\" has shape %s, expected %s", t->file, found, fs, ws);
    }
    *out = lb_st_f32(m->st, t, err);
    if (!*out) return lb_err_prefix(err, "%s: tensor \"%s\"", t->file, found);
    return LB_OK;
}

/* ---- load -------------------------------------------------------------------------------- */
static int64_t head_numel(const lb_model *m) {
    int64_t D = m->cfg.dim, NL = m->cfg.num_labels;
    return (m->arch->has_pre_classifier ? D * D + D : 0) + NL * D + NL;
}

/* Points pre_w.. at a head laid out at the start of block. */
void lb_model_bind_head(lb_model *m, float *block, float *grad);
void lb_model_bind_head(lb_model *m, float *block, float *grad) {
    int64_t D = m->cfg.dim, NL = m->cfg.num_labels;
    float *p = block, *g = grad;
    if (m->arch->has_pre_classifier) {
        m->pre_w = p; p += D * D; m->pre_b = p; p += D;
        if (g) { m->g_pre_w = g; g += D * D; m->g_pre_b = g; g += D; }
    }
    m->cls_w = p; p += NL * D; m->cls_b = p;
    if (g) { m->g_cls_w = g; g += NL * D; m->g_cls_b = g; }
}

static double init_range(const lb_model *m) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(m->config_json, "initializer_range");
    return v && cJSON_IsNumber(v) && v->valuedouble > 0 ? v->valuedouble : 0.02;
}

static void normal_init(float *w, int64_t n, double std, lb_rng *r) {
    for (int64_t i = 0; i < n; i++) w[i] = (float)(lb_rng_normal(r) * std);
}

static lb_status load_weights(lb_model *m, const lb_load_opts *opts, lb_error *err) {
    const lb_model_config *c = &m->cfg;
    int64_t D = c->dim, F = c->hidden_dim, NL = c->num_labels;
    lb_status st;
    if ((st = load_w(m, "embeddings.word_embeddings.weight", true, c->vocab_size, D, false, &m->wte, err)) ||
        (st = load_w(m, "embeddings.position_embeddings.weight", true, c->max_pos, D, false, &m->wpe, err)) ||
        (st = load_w(m, "embeddings.LayerNorm.weight", true, D, -1, false, &m->emb_ln_w, err)) ||
        (st = load_w(m, "embeddings.LayerNorm.bias", true, D, -1, false, &m->emb_ln_b, err)))
        return st;
    if (m->arch->has_token_type &&
        (st = load_w(m, "embeddings.token_type_embeddings.weight", true, c->type_vocab_size, D, false, &m->wtt, err)))
        return st;
    m->layers = calloc((size_t)c->n_layers, sizeof(lb_layer_w));
    if (!m->layers) return lb_err(err, LB_ERR_NOMEM, "%s: out of memory", m->dir);
    char key[512], pre[128];
    for (int l = 0; l < c->n_layers; l++) {
        lb_layer_w *lw = &m->layers[l];
        snprintf(pre, sizeof pre, m->arch->layer_fmt, l);
        for (int k = 0; k < LB_LIN__COUNT; k++) {
            int64_t in = k == LB_LIN_FFN2 ? F : D, out = k == LB_LIN_FFN1 ? F : D;
            snprintf(key, sizeof key, "%s%s.weight", pre, m->arch->lin_module[k]);
            if ((st = load_w(m, key, true, out, in, false, &lw->w[k], err))) return st;
            snprintf(key, sizeof key, "%s%s.bias", pre, m->arch->lin_module[k]);
            if ((st = load_w(m, key, true, out, -1, false, &lw->b[k], err))) return st;
        }
        const char *lns[2] = {m->arch->ln1, m->arch->ln2};
        const float **dst[2][2] = {{&lw->ln1_w, &lw->ln1_b}, {&lw->ln2_w, &lw->ln2_b}};
        for (int i = 0; i < 2; i++) {
            snprintf(key, sizeof key, "%s%s.weight", pre, lns[i]);
            if ((st = load_w(m, key, true, D, -1, false, dst[i][0], err))) return st;
            snprintf(key, sizeof key, "%s%s.bias", pre, lns[i]);
            if ((st = load_w(m, key, true, D, -1, false, dst[i][1], err))) return st;
        }
    }
    /* Newly initialised modules are listed in transformers' notice. */
    const char *missing[8];
    int nmiss = 0;
    lb_rng rng;
    lb_rng_seed_stream(&rng, opts ? opts->seed : 0, 0x4845414400ull /* "HEAD" */);
    double std = init_range(m);
    if (m->arch->has_pooler) {
        if ((st = load_w(m, "pooler.dense.weight", true, D, D, true, &m->pool_w, err)) ||
            (st = load_w(m, "pooler.dense.bias", true, D, -1, true, &m->pool_b, err)))
            return st;
        if (!m->pool_w || !m->pool_b) {
            m->pool_owned = calloc((size_t)(D * D + D), sizeof(float));
            if (!m->pool_owned) return lb_err(err, LB_ERR_NOMEM, "%s: out of memory", m->dir);
            if (m->pool_w) memcpy(m->pool_owned, m->pool_w, sizeof(float) * (size_t)(D * D));
            else { normal_init(m->pool_owned, D * D, std, &rng); missing[nmiss++] = "bert.pooler.dense.weight"; }
            if (m->pool_b) memcpy(m->pool_owned + D * D, m->pool_b, sizeof(float) * (size_t)D);
            else missing[nmiss++] = "bert.pooler.dense.bias";
            m->pool_w = m->pool_owned; m->pool_b = m->pool_owned + D * D;
        }
    }
    m->n_train = head_numel(m);
    m->train = calloc((size_t)m->n_train, sizeof(float));
    if (!m->train) return lb_err(err, LB_ERR_NOMEM, "%s: out of memory", m->dir);
    lb_model_bind_head(m, m->train, NULL);
    typedef struct { const char *name; float *dst; int64_t d0, d1; bool weight; } head_t;
    head_t head[4];
    int nh = 0;
    if (m->arch->has_pre_classifier) {
        head[nh++] = (head_t){"pre_classifier.weight", m->pre_w, D, D, true};
        head[nh++] = (head_t){"pre_classifier.bias", m->pre_b, D, -1, false};
    }
    head[nh++] = (head_t){"classifier.weight", m->cls_w, NL, D, true};
    head[nh++] = (head_t){"classifier.bias", m->cls_b, NL, -1, false};
    for (int i = 0; i < nh; i++) {
        const float *src;
        if ((st = load_w(m, head[i].name, false, head[i].d0, head[i].d1, true, &src, err))) return st;
        int64_t n = head[i].d0 * (head[i].d1 < 0 ? 1 : head[i].d1);
        if (src) memcpy(head[i].dst, src, sizeof(float) * (size_t)n);
        else {
            missing[nmiss++] = head[i].name;
            if (head[i].weight) normal_init(head[i].dst, n, std, &rng);  /* biases stay 0 */
        }
    }
    if (nmiss) {
        /* transformers' notice, kept for the caller to show (the library prints nothing) */
        size_t cap = 512 + strlen(m->dir);
        for (int i = 0; i < nmiss; i++) cap += strlen(missing[i]) + 4;
        char *s = malloc(cap);
        if (!s) return lb_err(err, LB_ERR_NOMEM, "%s: out of memory", m->dir);
        size_t used = (size_t)snprintf(s, cap, "Some weights of %s were not initialized from the model checkpoint at "
                                       "%s and are newly initialized: [", m->arch->seqcls_class, m->dir);
        for (int i = 0; i < nmiss; i++) used += (size_t)snprintf(s + used, cap - used, "%s'%s'", i ? ", " : "", missing[i]);
        snprintf(s + used, cap - used, "]\nYou should probably TRAIN this model on a down-stream task to be able to "
                 "use it for predictions and inference.");
        m->load_notice = s;
    }
    return LB_OK;
}

lb_model *lb_model_load(const char *dir, const lb_load_opts *opts, lb_error *err) {
    lb_model *m = calloc(1, sizeof *m);
    if (!m) { lb_err(err, LB_ERR_NOMEM, "%s: out of memory", dir); return NULL; }
    m->dir = strdup(dir);
    lb_status st = lb_config_parse(m, dir, opts, err);
    if (!st) {
        m->st = lb_st_open_dir(dir, err);
        if (!m->st) st = err ? err->code : LB_ERR_IO;
    }
    if (!st) st = load_weights(m, opts, err);
    if (st) { lb_model_free(m); return NULL; }
    return m;
}

lb_model *lb_model_init_random(const lb_model_config *cfg, uint64_t seed, lb_error *err) {
    if (cfg->dim < 1 || cfg->n_heads < 1 || cfg->dim % cfg->n_heads || cfg->n_layers < 1 || cfg->hidden_dim < 1 ||
        cfg->vocab_size < 1 || cfg->max_pos < 1 || cfg->num_labels < 2 ||
        (cfg->arch == LB_ARCH_BERT && cfg->type_vocab_size < 1)) {
        lb_err(err, LB_ERR_USAGE, "random model: invalid shape (dim %d, heads %d, layers %d, labels %d)", cfg->dim,
               cfg->n_heads, cfg->n_layers, cfg->num_labels);
        return NULL;
    }
    lb_model *m = calloc(1, sizeof *m);
    if (!m) { lb_err(err, LB_ERR_NOMEM, "random model: out of memory"); return NULL; }
    m->cfg = *cfg;
    m->cfg.id2label = NULL;
    m->arch = cfg->arch == LB_ARCH_BERT ? &lb_bert_desc : &lb_distilbert_desc;
    if (cfg->arch != LB_ARCH_BERT) m->cfg.type_vocab_size = 0;
    if (!(m->cfg.ln_eps > 0)) m->cfg.ln_eps = 1e-12f;
    m->dir = strdup("(random)");
    m->config_json = cJSON_CreateObject();
    cJSON_AddStringToObject(m->config_json, "model_type", m->arch->model_type);
    lb_model_config *c = &m->cfg;
    c->id2label = calloc((size_t)c->num_labels, sizeof(char *));
    m->layers = calloc((size_t)c->n_layers, sizeof(lb_layer_w));
    int64_t D = c->dim, F = c->hidden_dim, NL = c->num_labels;
    int64_t per_layer = 4 * (D * D + D) + 2 * D * F + F + D + 4 * D;
    int64_t total = (int64_t)c->vocab_size * D + (int64_t)c->max_pos * D + (int64_t)c->type_vocab_size * D + 2 * D +
                    c->n_layers * per_layer + (m->arch->has_pooler ? D * D + D : 0);
    float *w = malloc(sizeof(float) * (size_t)total);
    m->owned = malloc(sizeof(float *));
    m->n_train = head_numel(m);
    m->train = calloc((size_t)m->n_train, sizeof(float));
    if (!c->id2label || !m->layers || !w || !m->owned || !m->train || !m->dir || !m->config_json) {
        free(w);
        lb_model_free(m);
        lb_err(err, LB_ERR_NOMEM, "random model: out of memory for %lld weights", (long long)total);
        return NULL;
    }
    m->owned[m->n_owned++] = w;
    for (int i = 0; i < c->num_labels; i++) {
        char b[32];
        snprintf(b, sizeof b, "LABEL_%d", i);
        c->id2label[i] = strdup(b);
    }
    lb_rng rng;
    lb_rng_seed(&rng, seed);
    float *p = w;
#define NEXT(ptr, n, kind) do { float *q_ = p; p += (n); ptr = q_; \
        if ((kind) == 0) normal_init(q_, (n), 0.02, &rng); \
        else for (int64_t i_ = 0; i_ < (n); i_++) q_[i_] = (kind) == 1 ? 1.0f : 0.0f; } while (0)
    NEXT(m->wte, (int64_t)c->vocab_size * D, 0);
    NEXT(m->wpe, (int64_t)c->max_pos * D, 0);
    if (c->type_vocab_size) NEXT(m->wtt, (int64_t)c->type_vocab_size * D, 0);
    NEXT(m->emb_ln_w, D, 1);
    NEXT(m->emb_ln_b, D, 2);
    for (int l = 0; l < c->n_layers; l++) {
        lb_layer_w *lw = &m->layers[l];
        for (int k = 0; k < LB_LIN__COUNT; k++) {
            int64_t in = k == LB_LIN_FFN2 ? F : D, out = k == LB_LIN_FFN1 ? F : D;
            NEXT(lw->w[k], in * out, 0);
            NEXT(lw->b[k], out, 2);
        }
        NEXT(lw->ln1_w, D, 1); NEXT(lw->ln1_b, D, 2);
        NEXT(lw->ln2_w, D, 1); NEXT(lw->ln2_b, D, 2);
    }
    if (m->arch->has_pooler) { NEXT(m->pool_w, D * D, 0); NEXT(m->pool_b, D, 2); }
#undef NEXT
    lb_model_bind_head(m, m->train, NULL);
    if (m->arch->has_pre_classifier) normal_init(m->pre_w, D * D, 0.02, &rng);
    normal_init(m->cls_w, NL * D, 0.02, &rng);
    return m;
}

void lb_model_free(lb_model *m) {
    if (!m) return;
    lb_encoder_free_buffers(m);
    lb_precision_free_packs(m);
    for (int i = 0; i < m->n_owned; i++) free(m->owned[i]);
    free(m->owned);
    free(m->layers);
    free(m->pool_owned);
    free(m->train);
    free(m->train_grad);
    for (int i = 0; i < m->n_params; i++) free(m->param_names[i]);
    free(m->param_names);
    free(m->params);
    lb_config_free(&m->cfg);
    if (m->config_json) cJSON_Delete(m->config_json);
    if (m->st) lb_st_close(m->st);
    free(m->dir);
    free(m->load_notice);
    free(m->adapter_dir);
    free(m->tokenizer_dir);
    if (m->label_view)
        for (int i = 0; i < m->cfg.num_labels; i++) free(m->label_view[i]);
    free(m->label_view);
    free(m);
}

const lb_model_config *lb_model_get_config(const lb_model *m) { return &m->cfg; }

const char *lb_model_linear_name(const lb_model *m, lb_linear kind) {
    return (unsigned)kind < LB_LIN__COUNT ? m->arch->lin_short[kind] : NULL;
}

lb_status lb_model_forward(lb_model *m, const lb_batch *batch, bool train, lb_rng *rng, float *logits,
                           lb_error *err) {
    return lb_encoder_forward(m, batch, train, rng, logits, err);
}

lb_status lb_model_backward(lb_model *m, const float *dlogits, lb_error *err) {
    return lb_encoder_backward(m, dlogits, err);
}

void lb_model_zero_grad(lb_model *m) {
    if (m->train_grad) memset(m->train_grad, 0, sizeof(float) * (size_t)m->n_train);
}

/* ---- save -------------------------------------------------------------------------------- */
typedef struct outlist { lb_st_out *v; char **names; size_t n, cap; } outlist;

static bool out_add(outlist *o, const char *name, const float *data, int64_t d0, int64_t d1) {
    if (o->n == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 64;
        lb_st_out *v = realloc(o->v, cap * sizeof *v);
        if (!v) return false;
        o->v = v;
        char **nm = realloc(o->names, cap * sizeof *nm);
        if (!nm) return false;
        o->names = nm;
        o->cap = cap;
    }
    char *s = strdup(name);
    if (!s) return false;
    o->names[o->n] = s;
    lb_st_out *t = &o->v[o->n++];
    memset(t, 0, sizeof *t);
    t->name = s;
    t->dtype = LB_DT_F32;
    t->ndim = d1 < 0 ? 1 : 2;
    t->shape[0] = d0;
    t->shape[1] = d1 < 0 ? 0 : d1;
    t->data = data;
    return true;
}

static lb_status write_config(const lb_model *m, const char *dir, lb_error *err) {
    cJSON *root = cJSON_Duplicate(m->config_json, 1);
    if (!root) return lb_err(err, LB_ERR_NOMEM, "%s: out of memory", dir);
    cJSON_DeleteItemFromObjectCaseSensitive(root, "architectures");
    cJSON *arch = cJSON_AddArrayToObject(root, "architectures");
    cJSON_AddItemToArray(arch, cJSON_CreateString(m->arch->seqcls_class));
    cJSON_DeleteItemFromObjectCaseSensitive(root, "id2label");
    cJSON_DeleteItemFromObjectCaseSensitive(root, "label2id");
    cJSON *i2l = cJSON_AddObjectToObject(root, "id2label"), *l2i = cJSON_AddObjectToObject(root, "label2id");
    for (int i = 0; i < m->cfg.num_labels; i++) {
        char k[32];
        snprintf(k, sizeof k, "%d", i);
        cJSON_AddStringToObject(i2l, k, m->cfg.id2label[i]);
        if (!cJSON_GetObjectItemCaseSensitive(l2i, m->cfg.id2label[i]))
            cJSON_AddNumberToObject(l2i, m->cfg.id2label[i], i);
    }
    if (!cJSON_GetObjectItemCaseSensitive(root, "problem_type"))
        cJSON_AddStringToObject(root, "problem_type", "single_label_classification");
    cJSON_DeleteItemFromObjectCaseSensitive(root, "torch_dtype");
    cJSON_AddStringToObject(root, "torch_dtype", "float32");
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text) return lb_err(err, LB_ERR_NOMEM, "%s: out of memory", dir);
    char *path = lb_path_join(dir, "config.json");
    size_t len = strlen(text);
    text[len] = '\n';  /* replaces the NUL: the buffer is written as bytes, not used as a string */
    lb_status st = lb_write_file_atomic(path, text, len + 1, err);
    free(path);
    free(text);
    return st;
}

lb_status lb_model_save(const lb_model *m, const char *dir, lb_error *err) {
    if (m->has_lora)
        return lb_err(err, LB_ERR_USAGE, "%s: the model still holds LoRA adapters; merge them (lb_model_merge_lora) "
                      "before saving a plain model", dir);
    lb_status st = LB_OK;
    const lb_model_config *c = &m->cfg;
    int64_t D = c->dim, F = c->hidden_dim;
    const char *p = m->arch->prefix;
    outlist o = {0};
    char k[512], pre[160];
    bool ok = true;
#define ADD(name, data, d0, d1) ok = ok && out_add(&o, name, data, d0, d1)
    snprintf(k, sizeof k, "%s.embeddings.word_embeddings.weight", p); ADD(k, m->wte, c->vocab_size, D);
    snprintf(k, sizeof k, "%s.embeddings.position_embeddings.weight", p); ADD(k, m->wpe, c->max_pos, D);
    if (m->wtt) { snprintf(k, sizeof k, "%s.embeddings.token_type_embeddings.weight", p); ADD(k, m->wtt, c->type_vocab_size, D); }
    snprintf(k, sizeof k, "%s.embeddings.LayerNorm.weight", p); ADD(k, m->emb_ln_w, D, -1);
    snprintf(k, sizeof k, "%s.embeddings.LayerNorm.bias", p); ADD(k, m->emb_ln_b, D, -1);
    for (int l = 0; l < c->n_layers; l++) {
        const lb_layer_w *lw = &m->layers[l];
        char lp[128];
        snprintf(lp, sizeof lp, m->arch->layer_fmt, l);
        snprintf(pre, sizeof pre, "%s.%s", p, lp);
        for (int kk = 0; kk < LB_LIN__COUNT; kk++) {
            int64_t in = kk == LB_LIN_FFN2 ? F : D, out = kk == LB_LIN_FFN1 ? F : D;
            snprintf(k, sizeof k, "%s%s.weight", pre, m->arch->lin_module[kk]); ADD(k, lw->w[kk], out, in);
            snprintf(k, sizeof k, "%s%s.bias", pre, m->arch->lin_module[kk]); ADD(k, lw->b[kk], out, -1);
        }
        snprintf(k, sizeof k, "%s%s.weight", pre, m->arch->ln1); ADD(k, lw->ln1_w, D, -1);
        snprintf(k, sizeof k, "%s%s.bias", pre, m->arch->ln1); ADD(k, lw->ln1_b, D, -1);
        snprintf(k, sizeof k, "%s%s.weight", pre, m->arch->ln2); ADD(k, lw->ln2_w, D, -1);
        snprintf(k, sizeof k, "%s%s.bias", pre, m->arch->ln2); ADD(k, lw->ln2_b, D, -1);
    }
    if (m->arch->has_pooler) {
        snprintf(k, sizeof k, "%s.pooler.dense.weight", p); ADD(k, m->pool_w, D, D);
        snprintf(k, sizeof k, "%s.pooler.dense.bias", p); ADD(k, m->pool_b, D, -1);
    }
    if (m->arch->has_pre_classifier) {
        ADD("pre_classifier.weight", m->pre_w, D, D);
        ADD("pre_classifier.bias", m->pre_b, D, -1);
    }
    ADD("classifier.weight", m->cls_w, c->num_labels, D);
    ADD("classifier.bias", m->cls_b, c->num_labels, -1);
#undef ADD
    if (!ok) st = lb_err(err, LB_ERR_NOMEM, "%s: out of memory", dir);
    /* Non-finite weights are refused before anything is written (the folder is not even made). */
    for (size_t i = 0; !st && i < o.n; i++) {
        const float *v = o.v[i].data;
        int64_t numel = o.v[i].shape[0] * (o.v[i].ndim == 2 ? o.v[i].shape[1] : 1);
        for (int64_t j = 0; j < numel; j++)
            if (!isfinite(v[j])) {
                st = lb_err(err, LB_ERR_NUMERIC, "tensor \"%s\" holds a non-finite value (%g at index %lld); a model "
                            "with NaN/Inf weights is not written (nothing was)", o.v[i].name, v[j], (long long)j);
                break;
            }
    }
    if (!st) st = lb_mkdir_p(dir, err);
    if (!st) {
        char *path = lb_path_join(dir, "model.safetensors");
        const char *meta[] = {"format", "pt", NULL};
        st = lb_st_write(path, o.v, o.n, meta, err);
        free(path);
    }
    for (size_t i = 0; i < o.n; i++) free(o.names[i]);
    free(o.names);
    free(o.v);
    if (!st) st = write_config(m, dir, err);
    return st;
}

const char *lb_model_load_notice(const lb_model *m) { return m->load_notice; }

lb_status lb_model_set_origin(lb_model *m, const char *adapter_dir, const char *tokenizer_dir, lb_error *err) {
    char *a = adapter_dir ? strdup(adapter_dir) : NULL;
    char *t = strdup(tokenizer_dir ? tokenizer_dir : m->dir);
    if ((adapter_dir && !a) || !t) {
        free(a);
        free(t);
        return lb_err(err, LB_ERR_NOMEM, "out of memory");
    }
    free(m->adapter_dir);
    free(m->tokenizer_dir);
    m->adapter_dir = a;
    m->tokenizer_dir = t;
    return LB_OK;
}

/* Label names with LABEL_i where none is known; built once, owned by the model. */
static char **label_view(lb_model *m) {
    if (m->label_view) return m->label_view;
    int n = m->cfg.num_labels;
    char **v = calloc((size_t)n + 1, sizeof *v);
    if (!v) return NULL;
    for (int i = 0; i < n; i++) {
        const char *name = m->cfg.id2label && m->cfg.id2label[i] ? m->cfg.id2label[i] : NULL;
        char dflt[32];
        snprintf(dflt, sizeof dflt, "LABEL_%d", i);
        if (!(v[i] = strdup(name ? name : dflt))) {
            for (int k = 0; k < i; k++) free(v[k]);
            free(v);
            return NULL;
        }
    }
    m->label_view = v;
    return v;
}

void lb_model_get_info(const lb_model *cm, lb_model_info *info) {
    lb_model *m = (lb_model *)cm;  /* the label view is a lazily built cache */
    const lb_model_config *c = &m->cfg;
    memset(info, 0, sizeof *info);
    info->architecture = m->arch->seqcls_class;
    info->model_type = m->arch->model_type;
    info->model_dir = m->dir;
    info->adapter_dir = m->adapter_dir;
    info->tokenizer_dir = m->tokenizer_dir ? m->tokenizer_dir : m->dir;
    info->vocab_size = c->vocab_size;
    info->hidden_size = c->dim;
    info->num_layers = c->n_layers;
    info->num_heads = c->n_heads;
    info->intermediate_size = c->hidden_dim;
    info->max_position_embeddings = c->max_pos;
    info->num_labels = c->num_labels;
    info->labels = (const char *const *)label_view(m);
    info->load_notice = m->load_notice;
    info->has_adapter = m->has_lora;
    if (m->has_lora) {
        info->lora_r = m->lora.r;
        info->lora_alpha = m->lora.alpha;
        info->lora_dropout = m->lora.dropout;
    }
    lb_model_param_counts(m, &info->trainable_params, &info->all_params);
    info->precision = m->precision;
}
