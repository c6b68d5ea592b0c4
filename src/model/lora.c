/* LoRA adapters (PEFT semantics): adding them (kaiming-uniform A, zero B, scaling alpha/r or
 * alpha/sqrt(r)), the trainable-parameter table with PEFT's saved key names, parameter
 * counts as PEFT >= 0.6 prints them, and merging into the base weights. The SEQ_CLS rule
 * of PEFT makes the head trainable too: both pre_classifier and classifier for DistilBERT
 * (suffix match on "classifier"), classifier only for BERT (the pooler stays frozen). */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "model/internal.h"

void lb_model_bind_head(lb_model *m, float *block, float *grad);

static int64_t head_numel(const lb_model *m) {
    int64_t D = m->cfg.dim, NL = m->cfg.num_labels;
    return (m->arch->has_pre_classifier ? D * D + D : 0) + NL * D + NL;
}

int lb_lora_lowest_layer(const lb_model *m) {
    for (int l = 0; l < m->cfg.n_layers; l++)
        for (int k = 0; k < LB_LIN__COUNT; k++)
            if (m->layers[l].lora_A[k]) return l;
    return m->cfg.n_layers;
}

const lb_lora_config *lb_model_get_lora(const lb_model *m) { return m->has_lora ? &m->lora : NULL; }

static lb_status add_param(lb_model *m, const char *name, float *data, float *grad, int64_t d0, int64_t d1,
                           bool decay, lb_error *err) {
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

lb_status lb_model_add_lora(lb_model *m, const lb_lora_config *cfg, uint64_t seed, lb_error *err) {
    const lb_model_config *c = &m->cfg;
    if (m->has_lora) return lb_err(err, LB_ERR_USAGE, "LoRA: the model already has an adapter");
    if (cfg->r < 1 || cfg->r > c->dim)
        return lb_err(err, LB_ERR_USAGE, "LoRA: rank r=%d, expected 1..%d", cfg->r, c->dim);
    if (!(cfg->dropout >= 0.0f && cfg->dropout < 1.0f))
        return lb_err(err, LB_ERR_USAGE, "LoRA: dropout %g, expected [0, 1)", (double)cfg->dropout);
    if (!isfinite(cfg->alpha)) return lb_err(err, LB_ERR_USAGE, "LoRA: alpha is not finite");
    if (cfg->target_mask >> LB_LIN__COUNT)
        return lb_err(err, LB_ERR_USAGE, "LoRA: target mask 0x%x names unknown layers", cfg->target_mask);
    int64_t hn = head_numel(m), total = hn;
    int nad = 0;
    for (int k = 0; k < LB_LIN__COUNT; k++)
        if (cfg->target_mask & (1u << k)) {
            total += (int64_t)c->n_layers * cfg->r * (lb_lin_in(c, k) + lb_lin_out(c, k));
            nad += c->n_layers;
        }
    float *blk = calloc((size_t)total, sizeof(float)), *grad = calloc((size_t)total, sizeof(float));
    int np = 2 * nad + (m->arch->has_pre_classifier ? 4 : 2);
    lb_param *params = calloc((size_t)np, sizeof(lb_param));
    char **names = calloc((size_t)np, sizeof(char *));
    if (!blk || !grad || !params || !names) {
        free(blk); free(grad); free(params); free(names);
        return lb_err(err, LB_ERR_NOMEM, "LoRA: out of memory for %lld trainable values", (long long)total);
    }
    memcpy(blk, m->train, sizeof(float) * (size_t)hn);   /* the head keeps its values */
    free(m->train);
    free(m->train_grad);
    m->train = blk; m->train_grad = grad; m->n_train = total;
    m->params = params; m->param_names = names; m->n_params = 0;
    lb_model_bind_head(m, blk, grad);
    m->lora = *cfg;
    m->lora_scaling = cfg->use_rslora ? cfg->alpha / sqrtf((float)cfg->r) : cfg->alpha / (float)cfg->r;
    m->has_lora = true;

    lb_rng rng;
    lb_rng_seed_stream(&rng, seed, 0x4c4f5241ull /* "LORA" */);
    float *p = blk + hn, *g = grad + hn;
    char name[512], lp[128];
    lb_status st = LB_OK;
    for (int l = 0; l < c->n_layers && !st; l++) {
        lb_layer_w *lw = &m->layers[l];
        snprintf(lp, sizeof lp, m->arch->layer_fmt, l);
        for (int k = 0; k < LB_LIN__COUNT && !st; k++) {
            if (!(cfg->target_mask & (1u << k))) continue;
            int in = lb_lin_in(c, k), out = lb_lin_out(c, k), r = cfg->r;
            lw->lora_A[k] = p; lw->grad_A[k] = g; p += (int64_t)r * in; g += (int64_t)r * in;
            lw->lora_B[k] = p; lw->grad_B[k] = g; p += (int64_t)out * r; g += (int64_t)out * r;
            /* kaiming_uniform_(a=sqrt(5)) on [r, in]: bound = 1/sqrt(in); B stays 0. */
            float bound = 1.0f / sqrtf((float)in);
            for (int64_t i = 0; i < (int64_t)r * in; i++) lw->lora_A[k][i] = (2.0f * lb_rng_uniform(&rng) - 1.0f) * bound;
            snprintf(name, sizeof name, "base_model.model.%s.%s%s.lora_A.weight", m->arch->prefix, lp,
                     m->arch->lin_module[k]);
            st = add_param(m, name, lw->lora_A[k], lw->grad_A[k], r, in, true, err);
            if (st) break;
            snprintf(name, sizeof name, "base_model.model.%s.%s%s.lora_B.weight", m->arch->prefix, lp,
                     m->arch->lin_module[k]);
            st = add_param(m, name, lw->lora_B[k], lw->grad_B[k], out, r, true, err);
        }
    }
    int64_t D = c->dim, NL = c->num_labels;
    if (!st && m->arch->has_pre_classifier) {
        st = add_param(m, "base_model.model.pre_classifier.weight", m->pre_w, m->g_pre_w, D, D, true, err);
        if (!st) st = add_param(m, "base_model.model.pre_classifier.bias", m->pre_b, m->g_pre_b, D, -1, false, err);
    }
    if (!st) st = add_param(m, "base_model.model.classifier.weight", m->cls_w, m->g_cls_w, NL, D, true, err);
    if (!st) st = add_param(m, "base_model.model.classifier.bias", m->cls_b, m->g_cls_b, NL, -1, false, err);
    m->fwd_valid = false;
    return st;
}

int lb_model_params(lb_model *m, lb_param **params) {
    *params = m->params;
    return m->n_params;
}

void lb_model_param_counts(const lb_model *m, int64_t *trainable, int64_t *all) {
    const lb_model_config *c = &m->cfg;
    int64_t D = c->dim, F = c->hidden_dim;
    int64_t base = (int64_t)c->vocab_size * D + (int64_t)c->max_pos * D + (int64_t)c->type_vocab_size * D + 2 * D;
    base += (int64_t)c->n_layers * (4 * (D * D + D) + (D * F + F) + (F * D + D) + 4 * D);
    if (m->arch->has_pooler) base += D * D + D;
    int64_t head = head_numel(m);
    base += head;
    int64_t lora = m->has_lora ? m->n_train - head : 0;
    /* PEFT counts the frozen original head and its trainable modules_to_save copy. */
    if (trainable) *trainable = m->has_lora ? lora + head : 0;
    if (all) *all = base + (m->has_lora ? lora + head : 0);
}

lb_status lb_model_merge_lora(lb_model *m, lb_error *err) {
    if (!m->has_lora) return LB_OK;
    const lb_model_config *c = &m->cfg;
    int nmerge = 0;
    for (int l = 0; l < c->n_layers; l++)
        for (int k = 0; k < LB_LIN__COUNT; k++) nmerge += m->layers[l].lora_A[k] != NULL;
    float **owned = realloc(m->owned, sizeof(float *) * (size_t)(m->n_owned + nmerge));
    if (!owned) return lb_err(err, LB_ERR_NOMEM, "merge: out of memory");
    m->owned = owned;
    for (int l = 0; l < c->n_layers; l++)
        for (int k = 0; k < LB_LIN__COUNT; k++) {
            lb_layer_w *lw = &m->layers[l];
            if (!lw->lora_A[k]) continue;
            int in = lb_lin_in(c, k), out = lb_lin_out(c, k), r = m->lora.r;
            float *w = malloc(sizeof(float) * (size_t)in * out);
            if (!w) return lb_err(err, LB_ERR_NOMEM, "merge: out of memory");
            memcpy(w, lw->w[k], sizeof(float) * (size_t)in * out);
            /* W += scaling * B @ A  ([out, r] @ [r, in]) */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, out, in, r, m->lora_scaling, lw->lora_B[k], r,
                        lw->lora_A[k], in, 1.0f, w, in);
            m->owned[m->n_owned++] = w;
            lw->w[k] = w;
            lw->lora_A[k] = lw->lora_B[k] = lw->grad_A[k] = lw->grad_B[k] = NULL;
        }
    /* Keep only the head (now frozen) in the trainable block. */
    int64_t hn = head_numel(m);
    float *head = malloc(sizeof(float) * (size_t)hn);
    if (!head) return lb_err(err, LB_ERR_NOMEM, "merge: out of memory");
    memcpy(head, m->train, sizeof(float) * (size_t)hn);
    free(m->train); free(m->train_grad);
    m->train = head; m->train_grad = NULL; m->n_train = hn;
    m->g_pre_w = m->g_pre_b = m->g_cls_w = m->g_cls_b = NULL;
    lb_model_bind_head(m, head, NULL);
    for (int i = 0; i < m->n_params; i++) free(m->param_names[i]);
    free(m->param_names); free(m->params);
    m->param_names = NULL; m->params = NULL; m->n_params = 0;
    m->has_lora = false;
    m->fwd_valid = false;
    /* The weights changed: bf16 packs are rebuilt from them. */
    lb_precision_free_packs(m);
    /* The activation arena's LoRA buffers are no longer laid out; drop it. */
    lb_encoder_free_buffers(m);
    return LB_OK;
}
