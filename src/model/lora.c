/* LoRA adapters (PEFT semantics): adding them (kaiming-uniform A, zero B, scaling alpha/r or
 * alpha/sqrt(r)), their forward and backward math inside a block linear (called by the
 * encoder), and folding them into the base weights. Adding an adapter makes the head trainable
 * too (PEFT's SEQ_CLS modules_to_save rule; which tensors that is, and the parameter list with
 * PEFT's saved key names, is the tensor table's: tensors.c). */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kernels/kernels.h"
#include "model/internal.h"

int lb_lora_lowest_layer(const lb_model *m) {
    for (int l = 0; l < m->cfg.n_layers; l++)
        for (int k = 0; k < LB_LIN__COUNT; k++)
            if (m->layers[l].lora_A[k]) return l;
    return m->cfg.n_layers;
}

const lb_lora_config *lb_model_get_lora(const lb_model *m) { return m->has_lora ? &m->lora : NULL; }

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
    int64_t hn = m->n_head, total = hn;
    for (int k = 0; k < LB_LIN__COUNT; k++)
        if (cfg->target_mask & (1u << k)) total += (int64_t)c->n_layers * cfg->r * (lb_lin_in(c, k) + lb_lin_out(c, k));
    float *blk = calloc((size_t)total, sizeof(float)), *grad = calloc((size_t)total, sizeof(float));
    if (!blk || !grad) {
        free(blk);
        free(grad);
        return lb_err(err, LB_ERR_NOMEM, "LoRA: out of memory for %lld trainable values", (long long)total);
    }
    memcpy(blk, m->train, sizeof(float) * (size_t)hn); /* the head keeps its values */
    free(m->train);
    free(m->train_grad);
    m->train = blk;
    m->train_grad = grad;
    m->n_train = total;
    lb_tensors_bind_head(m, blk, grad);
    m->lora = *cfg;
    m->lora_scaling = cfg->use_rslora ? cfg->alpha / sqrtf((float)cfg->r) : cfg->alpha / (float)cfg->r;
    m->has_lora = true;

    lb_rng rng;
    lb_rng_seed_stream(&rng, seed, 0x4c4f5241ull /* "LORA" */);
    float *p = blk + hn, *g = grad + hn;
    for (int l = 0; l < c->n_layers; l++) {
        lb_layer_w *lw = &m->layers[l];
        for (int k = 0; k < LB_LIN__COUNT; k++) {
            if (!(cfg->target_mask & (1u << k))) continue;
            int in = lb_lin_in(c, k), out = lb_lin_out(c, k), r = cfg->r;
            lw->lora_A[k] = p;
            lw->grad_A[k] = g;
            p += (int64_t)r * in;
            g += (int64_t)r * in;
            lw->lora_B[k] = p;
            lw->grad_B[k] = g;
            p += (int64_t)out * r;
            g += (int64_t)out * r;
            /* kaiming_uniform_(a=sqrt(5)) on [r, in]: bound = 1/sqrt(in); B stays 0. */
            float bound = 1.0f / sqrtf((float)in);
            for (int64_t i = 0; i < (int64_t)r * in; i++)
                lw->lora_A[k][i] = (2.0f * lb_rng_uniform(&rng) - 1.0f) * bound;
        }
    }
    m->fwd_valid = false;
    return lb_tensors_params(m, err);
}

lb_status lb_lora_merge(lb_model *m, lb_error *err) {
    if (!m->has_lora) return LB_OK;
    const lb_model_config *c = &m->cfg;
    int nmerge = 0;
    for (int l = 0; l < c->n_layers; l++)
        for (int k = 0; k < LB_LIN__COUNT; k++) nmerge += m->layers[l].lora_A[k] != NULL;
    float **owned = realloc(m->owned, sizeof(float *) * (size_t)(m->n_owned + nmerge));
    if (!owned) return lb_err(err, LB_ERR_NOMEM, "merge: out of memory");
    m->owned = owned;
    m->fwd_valid = false;
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
    int64_t hn = m->n_head;
    float *head = malloc(sizeof(float) * (size_t)hn);
    if (!head) return lb_err(err, LB_ERR_NOMEM, "merge: out of memory");
    memcpy(head, m->train, sizeof(float) * (size_t)hn);
    free(m->train);
    free(m->train_grad);
    m->train = head;
    m->train_grad = NULL;
    m->n_train = hn;
    lb_tensors_bind_head(m, head, NULL);
    m->has_lora = false;
    return lb_tensors_params(m, err); /* none without an adapter */
}

/* ---- math (internal.h) ------------------------------------------------------------------ */
void lb_lora_forward(const lb_model *m, lb_layer_act *a, const lb_layer_w *lw, int k, const float *x, int rows,
                     float *y, int ldy, lb_rng *rng) {
    const lb_model_config *c = &m->cfg;
    int in = lb_lin_in(c, k), out = lb_lin_out(c, k), r = m->lora.r;
    const float *xd = x;
    if (a->lkeep[k]) {
        lb_dropout_mask(a->lkeep[k], (int64_t)rows * in, m->p_lora, rng);
        lb_dropout_forward(a->ldrop[k], x, a->lkeep[k], (int64_t)rows * in, m->p_lora);
        xd = a->ldrop[k];
    }
    a->lx[k] = xd;
    lb_linear_forward(a->lu[k], r, xd, in, lw->lora_A[k], NULL, rows, in, r);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, out, r, m->lora_scaling, a->lu[k], r, lw->lora_B[k], r,
                1.0f, y, ldy);
}

void lb_lora_backward(const lb_model *m, const lb_layer_act *a, lb_layer_w *lw, int k, int rows, const float *dy,
                      int lddy, float *dx, float *du, float *tmp) {
    const lb_model_config *c = &m->cfg;
    int in = lb_lin_in(c, k), out = lb_lin_out(c, k), r = m->lora.r;
    float s = m->lora_scaling;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, r, out, s, dy, lddy, lw->lora_B[k], r, 0.0f, du, r);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, r, rows, s, dy, lddy, a->lu[k], r, 1.0f, lw->grad_B[k],
                r);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, r, in, rows, 1.0f, du, r, a->lx[k], in, 1.0f, lw->grad_A[k],
                in);
    if (!dx) return;
    if (a->lkeep[k]) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, in, r, 1.0f, du, r, lw->lora_A[k], in, 0.0f, tmp,
                    in);
        float sc = 1.0f / (1.0f - m->p_lora);
        const uint8_t *kp = a->lkeep[k];
        for (int64_t i = 0; i < (int64_t)rows * in; i++) dx[i] += kp[i] ? tmp[i] * sc : 0.0f;
    } else {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, in, r, 1.0f, du, r, lw->lora_A[k], in, 1.0f, dx,
                    in);
    }
}
