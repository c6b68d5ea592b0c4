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
    for (int k = 0; k < LB_LIN__COUNT; k++)
        if ((cfg->target_mask >> k & 1u) && !lb_lin_present(m->arch, k))
            return lb_err(err, LB_ERR_USAGE, "LoRA: %s blocks have no separate %s projection (its linears: %s)",
                          m->arch->model_type, k == LB_LIN_K ? "key" : "value", "Wqkv, attn.Wo, Wi, mlp.Wo");
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

void lb_lora_eval(const lb_model_config *c, int k, int r, float scaling, const float *A, const float *B, const float *x,
                  int rows, float *u, float *y, int ldy) {
    int in = lb_lin_in(c, k), out = lb_lin_out(c, k);
    lb_linear_rows(u, r, x, in, A, NULL, 1.0f, false, rows, in, r);
    lb_linear_rows(y, ldy, u, r, B, NULL, scaling, true, rows, r, out);
}

/* ---- standalone adapters (model.h) ------------------------------------------------------- */
lb_status lb_lora_adapter_take(lb_model *shell, lb_lora_adapter **out, lb_error *err) {
    *out = NULL;
    if (!shell->has_lora) return lb_err(err, LB_ERR_INTERNAL, "adapter: the shell holds no adapter");
    const lb_model_config *c = &shell->cfg;
    int L = c->n_layers;
    lb_lora_adapter *a = calloc(1, sizeof *a);
    if (a) {
        a->A = calloc((size_t)L, sizeof *a->A);
        a->B = calloc((size_t)L, sizeof *a->B);
    }
    if (!a || !a->A || !a->B) {
        lb_lora_adapter_free(a);
        return lb_err(err, LB_ERR_NOMEM, "adapter: out of memory");
    }
    a->lora = shell->lora;
    a->scaling = shell->lora_scaling;
    a->num_labels = c->num_labels;
    a->shape = *c;
    a->shape.id2label = NULL;
    a->block = shell->train;
    a->n_block = shell->n_train;
    for (int l = 0; l < L; l++)
        for (int k = 0; k < LB_LIN__COUNT; k++) {
            a->A[l][k] = shell->layers[l].lora_A[k];
            a->B[l][k] = shell->layers[l].lora_B[k];
            shell->layers[l].lora_A[k] = shell->layers[l].lora_B[k] = NULL;
            shell->layers[l].grad_A[k] = shell->layers[l].grad_B[k] = NULL;
        }
    bool own_dense = !shell->arch->head.dense_in_base;
    a->dense_w = own_dense ? shell->dense_w : NULL;
    a->dense_b = own_dense ? shell->dense_b : NULL;
    a->cls_w = shell->cls_w;
    a->cls_b = shell->cls_b;
    a->bytes = sizeof *a + 2 * (size_t)L * sizeof *a->A + sizeof(float) * (size_t)a->n_block;
    /* The shell no longer owns the block; its head pointers are dropped with it. */
    shell->train = NULL;
    shell->n_train = 0;
    free(shell->train_grad);
    shell->train_grad = NULL;
    shell->has_lora = false;
    for (int i = 0; i < shell->n_tensors; i++)
        if (shell->tensors[i].head) {
            *shell->tensors[i].w = NULL;
            *shell->tensors[i].g = NULL;
        }
    *out = a;
    return lb_tensors_params(shell, err);
}

void lb_lora_adapter_free(lb_lora_adapter *a) {
    if (!a) return;
    free(a->block);
    free(a->A);
    free(a->B);
    free(a);
}

const lb_lora_config *lb_lora_adapter_config(const lb_lora_adapter *a) { return &a->lora; }
int lb_lora_adapter_num_labels(const lb_lora_adapter *a) { return a->num_labels; }
int64_t lb_lora_adapter_params(const lb_lora_adapter *a) { return a->n_block; }
size_t lb_lora_adapter_bytes(const lb_lora_adapter *a) { return a->bytes; }

const char *lb_lora_adapter_mismatch(const lb_lora_adapter *a, const lb_model *m) {
    const lb_model_config *s = &a->shape, *c = &m->cfg;
    if (s->arch != c->arch) return "architecture";
    if (s->dim != c->dim) return "hidden size";
    if (s->n_layers != c->n_layers) return "layers";
    if (s->n_heads != c->n_heads) return "attention heads";
    if (s->hidden_dim != c->hidden_dim) return "intermediate size";
    if (s->vocab_size != c->vocab_size) return "vocabulary size";
    if (s->max_pos != c->max_pos) return "positions";
    if (s->type_vocab_size != c->type_vocab_size) return "token types";
    if (s->pad_token_id != c->pad_token_id && lb_arch_desc_of(c->arch)->pos_from_pad) return "pad_token_id";
    return NULL;
}
