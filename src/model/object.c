/* The model object of model.h, the top of src/model: made from a HF checkpoint folder
 * (config.json + safetensors, transformers' key rules) or at random, saved as a plain HF
 * folder, freed; the forward/backward entry points (encoder.c), merging (lora.c, then the packs
 * and the activation arena are dropped) and the model's description. Which tensors exist, with
 * their keys and shapes, is the tensor table's (tensors.c): load, random init and save loop over
 * it. (Named object.c, not model.c: model.h is the public face of the whole folder.)
 *
 * Key rules (transformers `_load_pretrained_model`): base-model keys are found with or
 * without the "distilbert."/"bert." prefix; legacy "gamma"/"beta" stand for
 * "weight"/"bias"; keys the SeqCls model does not use (vocab_* of the MaskedLM checkpoint,
 * embeddings.position_ids, ...) are ignored; a missing head (and BERT's pooler) is newly
 * initialised (N(0, initializer_range) weights, zero biases), with transformers' notice kept
 * for lb_model_load_notice. */
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
        snprintf(alt[n], sizeof alt[n], "%s.%s", m->arch->prefix, key);
        cands[n] = alt[n];
        n++;
    }
    snprintf(alt[n], sizeof alt[n], "%s", key);
    cands[n] = alt[n];
    n++;
    int nbase = n;
    /* legacy gamma/beta names */
    for (int i = 0; i < nbase; i++) {
        size_t len = strlen(cands[i]);
        const char *from = NULL, *to = NULL;
        if (len > 7 && strcmp(cands[i] + len - 7, ".weight") == 0) {
            from = ".weight";
            to = ".gamma";
        } else if (len > 5 && strcmp(cands[i] + len - 5, ".bias") == 0) {
            from = ".bias";
            to = ".beta";
        }
        if (!from) continue;
        snprintf(buf, sizeof buf, "%.*s%s", (int)(len - strlen(from)), cands[i], to);
        snprintf(alt[n], sizeof alt[n], "%s", buf);
        cands[n] = alt[n];
        n++;
    }
    for (int i = 0; i < n; i++) {
        const lb_st_tensor *t = lb_st_find(m->st, cands[i]);
        if (t) {
            if (found) snprintf(found, fsz, "%s", cands[i]);
            return t;
        }
    }
    return NULL;
}

static void shape_str(char *buf, size_t n, int ndim, const int64_t *shape) {
    size_t o = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < ndim && o < n; i++)
        o += (size_t)snprintf(buf + o, n - o, "%s%lld", i ? ", " : "", (long long)shape[i]);
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
static double init_range(const lb_model *m) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(m->config_json, "initializer_range");
    return v && cJSON_IsNumber(v) && v->valuedouble > 0 ? v->valuedouble : 0.02;
}

/* transformers' _init_weights for a tensor of n values. */
static void init_tensor(float *w, int64_t n, lb_tensor_init init, double std, lb_rng *r) {
    if (init == LB_INIT_NORMAL)
        for (int64_t i = 0; i < n; i++) w[i] = (float)(lb_rng_normal(r) * std);
    else
        for (int64_t i = 0; i < n; i++) w[i] = init == LB_INIT_ONES ? 1.0f : 0.0f;
}

static float *own(lb_model *m, int64_t n) {
    float **o = realloc(m->owned, sizeof(float *) * (size_t)(m->n_owned + 1));
    if (!o) return NULL;
    m->owned = o;
    float *w = malloc(sizeof(float) * (size_t)n);
    if (w) m->owned[m->n_owned++] = w;
    return w;
}

/* transformers' notice for the newly initialised tensors, kept for the caller to show (the
 * library prints nothing). */
static lb_status set_notice(lb_model *m, char **missing, int nmiss, lb_error *err) {
    size_t cap = 512 + strlen(m->dir);
    for (int i = 0; i < nmiss; i++) cap += strlen(missing[i]) + 4;
    char *s = malloc(cap);
    if (!s) return lb_err(err, LB_ERR_NOMEM, "%s: out of memory", m->dir);
    size_t used = (size_t)snprintf(s, cap,
                                   "Some weights of %s were not initialized from the model checkpoint at "
                                   "%s and are newly initialized: [",
                                   m->arch->seqcls_class, m->dir);
    for (int i = 0; i < nmiss; i++) used += (size_t)snprintf(s + used, cap - used, "%s'%s'", i ? ", " : "", missing[i]);
    snprintf(s + used, cap - used,
             "]\nYou should probably TRAIN this model on a down-stream task to be able to "
             "use it for predictions and inference.");
    m->load_notice = s;
    return LB_OK;
}

/* Every tensor of the table from the checkpoint: the frozen ones in place in the mapping, the
 * head's copied into the trainable block. An optional tensor that is absent (the head of a base
 * checkpoint, BERT's pooler) is newly initialised as transformers does and named in the notice. */
static lb_status load_weights(lb_model *m, const lb_load_opts *opts, lb_error *err) {
    lb_status st;
    m->n_train = m->n_head;
    m->train = calloc((size_t)m->n_head, sizeof(float));
    char **missing = calloc((size_t)m->n_tensors, sizeof(char *));
    if (!m->train || !missing) {
        free(missing);
        return lb_err(err, LB_ERR_NOMEM, "%s: out of memory", m->dir);
    }
    lb_tensors_bind_head(m, m->train, NULL);
    int nmiss = 0;
    lb_rng rng;
    lb_rng_seed_stream(&rng, opts ? opts->seed : 0, 0x4845414400ull /* "HEAD" */);
    double std = init_range(m);
    for (int i = 0; i < m->n_tensors; i++) {
        const lb_tensor *e = &m->tensors[i];
        const float *src;
        if ((st = load_w(m, e->key, e->base, e->shape[0], e->ndim > 1 ? e->shape[1] : -1, e->optional, &src, err)))
            goto out;
        float *dst = e->head ? m->train + e->off : NULL;
        if (src && !dst) {
            *e->w = src;
            continue;
        }
        if (src) {
            memcpy(dst, src, sizeof(float) * (size_t)e->numel);
            continue;
        }
        if (!dst && !(dst = own(m, e->numel))) {
            st = lb_err(err, LB_ERR_NOMEM, "%s: out of memory", m->dir);
            goto out;
        }
        init_tensor(dst, e->numel, e->init, std, &rng);
        *e->w = dst;
        char key[LB_TENSOR_KEY_MAX + 64];
        lb_tensor_full_key(m, e, key, sizeof key);
        if (!(missing[nmiss++] = strdup(key))) {
            st = lb_err(err, LB_ERR_NOMEM, "%s: out of memory", m->dir);
            goto out;
        }
    }
    st = nmiss ? set_notice(m, missing, nmiss, err) : LB_OK;
out:
    for (int i = 0; i < nmiss; i++) free(missing[i]);
    free(missing);
    return st;
}

/* The label names lb_model_get_info shows (LABEL_i where none is known), built when the model
 * is made so that reading them needs no allocation. */
static lb_status build_label_view(lb_model *m, lb_error *err) {
    int n = m->cfg.num_labels;
    char **v = calloc((size_t)n + 1, sizeof *v);
    if (!v) return lb_err(err, LB_ERR_NOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        const char *name = m->cfg.id2label && m->cfg.id2label[i] ? m->cfg.id2label[i] : NULL;
        char dflt[32];
        snprintf(dflt, sizeof dflt, "LABEL_%d", i);
        if (!(v[i] = strdup(name ? name : dflt))) {
            for (int k = 0; k < i; k++) free(v[k]);
            free(v);
            return lb_err(err, LB_ERR_NOMEM, "out of memory");
        }
    }
    m->label_view = v;
    return LB_OK;
}

lb_model *lb_model_load(const char *dir, const lb_load_opts *opts, lb_error *err) {
    lb_model *m = calloc(1, sizeof *m);
    if (!m) {
        lb_err(err, LB_ERR_NOMEM, "%s: out of memory", dir);
        return NULL;
    }
    m->dir = strdup(dir);
    lb_status st = lb_config_parse(m, dir, opts, err);
    if (!st) {
        m->st = lb_st_open_dir(dir, err);
        if (!m->st) st = err ? err->code : LB_ERR_IO;
    }
    if (!st) st = lb_tensors_build(m, err);
    if (!st) st = load_weights(m, opts, err);
    if (!st) st = build_label_view(m, err);
    if (st) {
        lb_model_free(m);
        return NULL;
    }
    return m;
}

lb_model *lb_model_init_random(const lb_model_config *cfg, uint64_t seed, lb_error *err) {
    const lb_arch_desc *arch = lb_arch_desc_of(cfg->arch);
    if (!arch) {
        lb_err(err, LB_ERR_USAGE, "random model: unknown architecture %d", (int)cfg->arch);
        return NULL;
    }
    if (cfg->dim < 1 || cfg->n_heads < 1 || cfg->dim % cfg->n_heads || cfg->n_layers < 1 || cfg->hidden_dim < 1 ||
        cfg->vocab_size < 1 || cfg->max_pos < 1 || cfg->num_labels < 2 ||
        (arch->has_token_type && cfg->type_vocab_size < 1)) {
        lb_err(err, LB_ERR_USAGE, "random model: invalid shape (dim %d, heads %d, layers %d, labels %d)", cfg->dim,
               cfg->n_heads, cfg->n_layers, cfg->num_labels);
        return NULL;
    }
    lb_model *m = calloc(1, sizeof *m);
    if (!m) {
        lb_err(err, LB_ERR_NOMEM, "random model: out of memory");
        return NULL;
    }
    m->cfg = *cfg;
    m->cfg.id2label = NULL;
    m->arch = arch;
    if (!arch->has_token_type) m->cfg.type_vocab_size = 0;
    if (!(m->cfg.ln_eps > 0)) m->cfg.ln_eps = 1e-12f;
    if (arch->pos_from_pad && (cfg->pad_token_id < 0 || cfg->pad_token_id + 1 >= cfg->max_pos)) {
        lb_err(err, LB_ERR_USAGE, "random model: pad_token_id %d outside [0, %d)", cfg->pad_token_id, cfg->max_pos - 1);
        free(m);
        return NULL;
    }
    m->cfg.max_tokens = lb_config_max_tokens(&m->cfg);
    m->dir = strdup("(random)");
    m->config_json = cJSON_CreateObject();
    cJSON_AddStringToObject(m->config_json, "model_type", m->arch->model_type);
    lb_model_config *c = &m->cfg;
    c->id2label = calloc((size_t)c->num_labels, sizeof(char *));
    if (!c->id2label || !m->dir || !m->config_json || lb_tensors_build(m, err)) {
        lb_model_free(m);
        lb_err(err, LB_ERR_NOMEM, "random model: out of memory");
        return NULL;
    }
    int64_t total = 0;
    for (int i = 0; i < m->n_tensors; i++) total += m->tensors[i].head ? 0 : m->tensors[i].numel;
    float *w = own(m, total);
    m->n_train = m->n_head;
    m->train = calloc((size_t)m->n_head, sizeof(float));
    if (!w || !m->train) {
        lb_model_free(m);
        lb_err(err, LB_ERR_NOMEM, "random model: out of memory for %lld weights", (long long)total);
        return NULL;
    }
    for (int i = 0; i < c->num_labels; i++) {
        char b[32];
        snprintf(b, sizeof b, "LABEL_%d", i);
        c->id2label[i] = strdup(b);
    }
    lb_tensors_bind_head(m, m->train, NULL);
    /* Table order: the frozen tensors one after the other in w, then the head. */
    lb_rng rng;
    lb_rng_seed(&rng, seed);
    double std = init_range(m);
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < m->n_tensors; i++) {
            const lb_tensor *e = &m->tensors[i];
            if (e->head != (pass == 1)) continue;
            float *dst = e->head ? m->train + e->off : w;
            if (!e->head) {
                *e->w = w;
                w += e->numel;
            }
            init_tensor(dst, e->numel, e->init, std, &rng);
        }
    if (build_label_view(m, err)) {
        lb_model_free(m);
        return NULL;
    }
    return m;
}

void lb_model_free(lb_model *m) {
    if (!m) return;
    lb_encoder_free_buffers(m);
    lb_precision_free_packs(m);
    for (int i = 0; i < m->n_owned; i++) free(m->owned[i]);
    free(m->owned);
    free(m->layers);
    free(m->train);
    free(m->lora_patterns);
    free(m->train_grad);
    free(m->dora_buf);
    free(m->lora_init0);
    lb_tensors_free(m);
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
    if ((unsigned)kind >= LB_LIN__COUNT) return NULL;
    return m->arch->lin_short[kind] ? m->arch->lin_short[kind] : ""; /* "": no such layer (ModernBERT's K, V) */
}

lb_status lb_model_forward(lb_model *m, const lb_batch *batch, bool train, lb_rng *rng, float *logits, lb_error *err) {
    return lb_encoder_forward(m, batch, train, rng, logits, err);
}

lb_status lb_model_backward(lb_model *m, const float *dlogits, lb_error *err) {
    return lb_encoder_backward(m, dlogits, err);
}

lb_status lb_model_merge_lora(lb_model *m, lb_error *err) {
    if (!m->has_lora) return LB_OK;
    lb_status st = lb_lora_merge(m, err);
    /* The weights and the adapters changed (all of them, or some before a failure): the packs
     * are rebuilt from the new weights, and the arena's LoRA buffers are no longer laid out. */
    lb_precision_free_packs(m);
    lb_encoder_free_buffers(m);
    return st;
}

void lb_model_zero_grad(lb_model *m) {
    if (m->train_grad) memset(m->train_grad, 0, sizeof(float) * (size_t)m->n_train);
}

/* ---- save -------------------------------------------------------------------------------- */
typedef struct outlist {
    lb_st_out *v;
    char **names;
    size_t n, cap;
} outlist;

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
        cJSON_AddStringToObject(root, "problem_type", lb_problem_type_name((lb_problem_type)m->cfg.problem));
    cJSON_DeleteItemFromObjectCaseSensitive(root, "torch_dtype");
    cJSON_AddStringToObject(root, "torch_dtype", "float32");
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text) return lb_err(err, LB_ERR_NOMEM, "%s: out of memory", dir);
    char *path = lb_path_join(dir, "config.json");
    size_t len = strlen(text);
    text[len] = '\n'; /* replaces the NUL: the buffer is written as bytes, not used as a string */
    lb_status st = lb_write_file_atomic(path, text, len + 1, err);
    free(path);
    free(text);
    return st;
}

lb_status lb_model_save(const lb_model *m, const char *dir, lb_error *err) {
    if (m->has_lora)
        return lb_err(err, LB_ERR_USAGE,
                      "%s: the model still holds LoRA adapters; merge them (lb_model_merge_lora) "
                      "before saving a plain model",
                      dir);
    lb_status st = LB_OK;
    outlist o = {0};
    bool ok = true;
    char key[LB_TENSOR_KEY_MAX + 64];
    for (int i = 0; i < m->n_tensors && ok; i++) {
        const lb_tensor *e = &m->tensors[i];
        lb_tensor_full_key(m, e, key, sizeof key);
        ok = out_add(&o, key, *e->w, e->shape[0], e->ndim > 1 ? e->shape[1] : -1);
    }
    if (!ok) st = lb_err(err, LB_ERR_NOMEM, "%s: out of memory", dir);
    /* Non-finite weights are refused before anything is written (the folder is not even made). */
    for (size_t i = 0; !st && i < o.n; i++) {
        const float *v = o.v[i].data;
        int64_t numel = o.v[i].shape[0] * (o.v[i].ndim == 2 ? o.v[i].shape[1] : 1);
        for (int64_t j = 0; j < numel; j++)
            if (!isfinite(v[j])) {
                st = lb_err(err, LB_ERR_NUMERIC,
                            "tensor \"%s\" holds a non-finite value (%g at index %lld); a model "
                            "with NaN/Inf weights is not written (nothing was)",
                            o.v[i].name, v[j], (long long)j);
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

void lb_model_set_in_run(lb_model *m, bool in_run) { m->in_run = in_run; }
bool lb_model_in_run(const lb_model *m) { return m->in_run; }

void lb_model_get_info(const lb_model *m, lb_model_info *info) {
    if (!info) return;
    memset(info, 0, sizeof *info);
    if (!m) return;
    const lb_model_config *c = &m->cfg;
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
    info->labels = (const char *const *)m->label_view;
    info->load_notice = m->load_notice;
    info->has_adapter = m->has_lora;
    if (m->has_lora) {
        info->lora_r = m->lora.r;
        info->lora_alpha = m->lora.alpha;
        info->lora_dropout = m->lora.dropout;
    }
    lb_model_param_counts(m, &info->trainable_params, &info->all_params);
    info->precision = m->precision;
    info->problem_type = lb_problem_type_name((lb_problem_type)c->problem);
    info->max_tokens = c->max_tokens;
}

/* ---- many adapters over one base --------------------------------------------------------- */
lb_model *lb_model_adapter_shell(const lb_model *base, int num_labels, lb_error *err) {
    lb_model *m = calloc(1, sizeof *m);
    if (!m) {
        lb_err(err, LB_ERR_NOMEM, "adapter: out of memory");
        return NULL;
    }
    m->cfg = base->cfg;
    m->cfg.id2label = NULL;
    m->cfg.num_labels = num_labels;
    m->arch = base->arch;
    m->dir = strdup(base->dir);
    lb_status st = m->dir ? lb_tensors_build(m, err) : lb_err(err, LB_ERR_NOMEM, "adapter: out of memory");
    if (!st) {
        m->n_train = m->n_head;
        m->train = calloc((size_t)m->n_head, sizeof(float));
        if (!m->train) st = lb_err(err, LB_ERR_NOMEM, "adapter: out of memory");
        else lb_tensors_bind_head(m, m->train, NULL);
    }
    if (st) {
        lb_model_free(m);
        return NULL;
    }
    return m;
}

lb_status lb_model_forward_segments(lb_model *m, const lb_batch *batch, const lb_segment *segs, int nseg, float *logits,
                                    int ld_logits, lb_error *err) {
    return lb_encoder_forward_segments(m, batch, segs, nseg, logits, ld_logits, err);
}

lb_status lb_model_check_shapes(const lb_model *m, const char *dir, lb_error *err) {
    lb_model *t = calloc(1, sizeof *t);
    if (!t) return lb_err(err, LB_ERR_NOMEM, "out of memory");
    lb_status st = lb_config_parse(t, dir, NULL, err);
    const lb_model_config *s = &t->cfg, *c = &m->cfg;
    if (!st && t->arch != m->arch)
        st = lb_err(err, LB_ERR_USAGE, "%s: model_type %s, expected %s as the base model (%s) has", dir,
                    t->arch->model_type, m->arch->model_type, m->dir);
    const struct {
        const char *what;
        int found, want;
    } f[] = {{"hidden size", s->dim, c->dim},
             {"layers", s->n_layers, c->n_layers},
             {"attention heads", s->n_heads, c->n_heads},
             {"intermediate size", s->hidden_dim, c->hidden_dim},
             {"vocabulary size", s->vocab_size, c->vocab_size},
             {"max_position_embeddings", s->max_pos, c->max_pos},
             {"token types", s->type_vocab_size, c->type_vocab_size}};
    for (size_t i = 0; !st && i < sizeof f / sizeof *f; i++)
        if (f[i].found != f[i].want)
            st = lb_err(err, LB_ERR_USAGE, "%s: %s %d, expected %d as the base model (%s) has", dir, f[i].what,
                        f[i].found, f[i].want, m->dir);
    lb_config_free(&t->cfg);
    if (t->config_json) cJSON_Delete(t->config_json);
    free(t);
    return st;
}
