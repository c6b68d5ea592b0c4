/* The encoder shared by DistilBERT, BERT and RoBERTa / XLM-R: embeddings, post-LN transformer blocks with
 * optional LoRA on any of the six linears (the adapter math is lora.c's), the classification
 * head (dense -> tanh/ReLU -> dropout -> classifier, lb_head_desc), and their backward.
 *
 * Layout: the real tokens of a batch are packed into [N, D] rows (sequence b occupies rows
 * off[b] .. off[b]+len[b]-1); padded positions never exist. Attention runs per sequence on
 * its real length. In the last layer only the [CLS] rows are needed after attention (the
 * head reads position 0 only), so the query projection, attention output, LayerNorms and FFN
 * of that layer run on B rows instead of N; K and V still use every row.
 *
 * Memory: all activations live in one arena (m->arena) grown to the largest batch seen. A
 * train forward keeps what backward needs per layer; an eval forward reuses one layer's
 * buffers for every layer. Backward uses a second arena (m->garena). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "kernels/kernels.h"
#include "model/internal.h"

/* ---- arena layout ---------------------------------------------------------------------- */
typedef lb_bump bump;

typedef struct fwd_plan {
    bool train;                   /* keep per-layer activations */
    bool drop;                    /* dropout active (train with an rng) */
    int64_t attn_full, attn_last; /* probs floats of a full layer / of the last layer */
    int64_t attn_one;             /* of the longest sequence alone (eval) */
} fwd_plan;

/* The largest LoRA rank of the forward (the model's adapter, a segmented forward's adapters)
 * and the linear kinds any of them adapts. */
static int lora_rank_max(const lb_model *m, unsigned *kinds) {
    int r = m->has_lora ? m->lora_rmax : 0;
    *kinds = m->has_lora ? m->lora.target_mask : 0;
    for (int s = 0; s < m->nseg; s++) {
        const lb_lora_adapter *ad = m->segs[s].adapter;
        if (!ad) continue;
        if (ad->rmax > r) r = ad->rmax;
        *kinds |= ad->lora.target_mask;
    }
    return r;
}

/* Assigns every activation pointer from the bump allocator (base NULL: measure only). */
static void layout(lb_model *m, bump *b, const fwd_plan *p) {
    const lb_model_config *c = &m->cfg;
    int N = m->N, B = m->B, D = c->dim, F = c->hidden_dim, L = c->n_layers;
    unsigned seg_kinds = 0;
    int r = lora_rank_max(m, &seg_kinds);
    bool ldrop = p->drop && m->has_lora && m->lora.dropout > 0.0f;
    int nslot = p->train ? L : 1;
    int nhs = p->train ? L + 1 : 2;
    for (int i = 0; i < nhs; i++) m->hs[i] = TAKE_F(b, (int64_t)N * D);
    m->emb = TAKE_F(b, (int64_t)N * D);
    m->emb_keep = p->drop && c->hidden_dropout > 0 ? TAKE_U8(b, (int64_t)N * D) : NULL;
    float *cls_in = TAKE_F(b, (int64_t)B * D);
    /* Buffers only the forward needs unless an adapter reads them in backward. */
    float *sh_ctx = TAKE_F(b, (int64_t)N * D), *sh_h1 = TAKE_F(b, (int64_t)N * D);
    float *sh_f1 = p->train ? TAKE_F(b, (int64_t)N * F) : NULL;
    for (int s = 0; s < nslot; s++) {
        lb_layer_act *a = &m->acts[s];
        bool last = p->train ? s == L - 1 : false;
        int rq = p->train && last ? B : N; /* eval slot is sized for full layers */
        const lb_layer_w *lw = &m->layers[p->train ? s : 0];
        a->rq = rq;
        a->xq = cls_in; /* used by the last layer only; full layers read the layer input */
        a->q = TAKE_F(b, (int64_t)rq * D);
        a->kv = TAKE_F(b, (int64_t)N * 2 * D);
        /* Eval keeps no probabilities: one sequence's [H, len, len] is reused. */
        int64_t np = !p->train ? p->attn_one : last ? p->attn_last : p->attn_full;
        a->probs = TAKE_F(b, np);
        a->attn_keep = p->drop && c->attention_dropout > 0 ? TAKE_U8(b, np) : NULL;
        a->ctx = p->train && (lw->lora_A[LB_LIN_O] || lw->g_w[LB_LIN_O]) ? TAKE_F(b, (int64_t)rq * D) : sh_ctx;
        a->a = TAKE_F(b, (int64_t)rq * D);
        a->a_keep = p->drop && m->arch->attn_out_dropout && c->hidden_dropout > 0 ? TAKE_U8(b, (int64_t)rq * D) : NULL;
        a->mean1 = TAKE_F(b, rq);
        a->rstd1 = TAKE_F(b, rq);
        a->h1 = p->train && (lw->lora_A[LB_LIN_FFN1] || lw->g_w[LB_LIN_FFN1]) ? TAKE_F(b, (int64_t)rq * D) : sh_h1;
        a->f1pre = TAKE_F(b, (int64_t)rq * F);
        /* Eval: GELU runs in place (f1 == f1pre). */
        a->f1 = !p->train                                         ? a->f1pre
                : lw->lora_A[LB_LIN_FFN2] || lw->g_w[LB_LIN_FFN2] ? TAKE_F(b, (int64_t)rq * F)
                                                                  : sh_f1;
        a->f2 = TAKE_F(b, (int64_t)rq * D);
        a->f_keep = p->drop && c->hidden_dropout > 0 ? TAKE_U8(b, (int64_t)rq * D) : NULL;
        a->mean2 = TAKE_F(b, rq);
        a->rstd2 = TAKE_F(b, rq);
        for (int k = 0; k < LB_LIN__COUNT; k++) {
            a->lx[k] = NULL;
            a->ldrop[k] = NULL;
            a->lkeep[k] = NULL;
            a->lu[k] = NULL;
            a->ldw[k] = NULL;
            bool any = false;
            if (p->train) any = lw->lora_A[k] != NULL;
            else {
                for (int l = 0; l < L; l++) any |= m->layers[l].lora_A[k] != NULL;
                any |= (seg_kinds >> k) & 1u;
            }
            if (!any) continue;
            int rows = (k == LB_LIN_K || k == LB_LIN_V) ? N : rq;
            if (ldrop) {
                a->ldrop[k] = TAKE_F(b, (int64_t)rows * lb_lin_in(c, k));
                a->lkeep[k] = TAKE_U8(b, (int64_t)rows * lb_lin_in(c, k));
            }
            a->lu[k] = TAKE_F(b, (int64_t)rows * r);
            if (m->has_lora && m->lora.use_dora) a->ldw[k] = TAKE_F(b, (int64_t)rows * lb_lin_out(c, k));
        }
    }
    m->dora_tmp = m->has_lora && m->lora.use_dora && ldrop ? TAKE_F(b, (int64_t)N * F) : NULL;
    m->hdense = TAKE_F(b, (int64_t)B * D);
    m->hd = TAKE_F(b, (int64_t)B * D);
    m->hd_keep = p->drop && c->classifier_dropout > 0 ? TAKE_U8(b, (int64_t)B * D) : NULL;
    bool pre = p->drop && m->arch->head.pre_dropout && c->classifier_dropout > 0;
    m->hin = pre ? TAKE_F(b, (int64_t)B * D) : NULL;
    m->hin_keep = pre ? TAKE_U8(b, (int64_t)B * D) : NULL;
    int maxlen = 0;
    for (int i = 0; i < B; i++) maxlen = m->len[i] > maxlen ? m->len[i] : maxlen;
    m->attn_scratch = TAKE_F(b, lb_attention_scratch(maxlen, maxlen));
}

static lb_status ensure(void **buf, size_t *have, size_t need, lb_error *err) {
    if (need <= *have) return LB_OK;
    free(*buf);
    *buf = aligned_alloc(64, need);
    if (!*buf) {
        *have = 0;
        return lb_err(err, LB_ERR_NOMEM, "model: cannot allocate %zu MiB of activations", need >> 20);
    }
    *have = need;
    return LB_OK;
}

void lb_encoder_free_buffers(lb_model *m) {
    lb_modernbert_free(m);
    free(m->arena);
    m->arena = NULL;
    m->arena_size = 0;
    free(m->garena);
    m->garena = NULL;
    m->garena_size = 0;
    free(m->hs);
    m->hs = NULL;
    free(m->acts);
    m->acts = NULL;
    free(m->len);
    free(m->off);
    free(m->poff);
    free(m->tok_ids);
    free(m->tok_pos);
    free(m->tok_tt);
    m->len = m->off = m->tok_ids = m->tok_pos = m->tok_tt = NULL;
    m->poff = NULL;
    m->fwd_valid = false;
}

/* ---- frozen linears: packed fp32 / bf16 / int8 weights (precision.c), else OpenBLAS ------ */
/* y [rows, ldy] = x [rows, ldx] W^T (+ bias) for linear kind k of a layer. */
static void frozen_forward(const lb_model *m, const lb_layer_w *lw, int k, float *y, int ldy, const float *x, int ldx,
                           int rows, const float *bias) {
    if (lw->g_w[k]) /* trained in full (modules_to_save): fp32 on its current values in every mode */
        lb_linear_forward(y, ldy, x, ldx, lw->w[k], bias, rows, lb_lin_in(&m->cfg, k), lb_lin_out(&m->cfg, k));
    else if (m->precision == LB_PRECISION_BF16) lb_gemm_bf16(x, rows, ldx, lw->wb[k], bias, false, y, ldy);
    else if (m->precision == LB_PRECISION_INT8) lb_gemm_int8(x, rows, ldx, lw->wi[k], bias, y, ldy);
    else if (lw->wf[k]) lb_gemm_f32_packed(x, rows, ldx, lw->wf[k], bias, false, y, ldy);
    else lb_linear_forward(y, ldy, x, ldx, lw->w[k], bias, rows, lb_lin_in(&m->cfg, k), lb_lin_out(&m->cfg, k));
}

/* dx [rows, lddx] += dy [rows, lddy] W: the input gradient through a frozen linear. */
static void frozen_backward_dx(const lb_model *m, const lb_layer_w *lw, int k, float *dx, int lddx, const float *dy,
                               int lddy, int rows) {
    if (lw->g_w[k])
        lb_linear_backward(dx, lddx, NULL, NULL, dy, lddy, NULL, lb_lin_in(&m->cfg, k), lw->w[k], rows,
                           lb_lin_in(&m->cfg, k), lb_lin_out(&m->cfg, k));
    else if (m->precision == LB_PRECISION_BF16) lb_gemm_bf16(dy, rows, lddy, lw->wbt[k], NULL, true, dx, lddx);
    else if (lw->wft[k]) lb_gemm_f32_packed(dy, rows, lddy, lw->wft[k], NULL, true, dx, lddx);
    else
        lb_linear_backward(dx, lddx, NULL, NULL, dy, lddy, NULL, lb_lin_in(&m->cfg, k), lw->w[k], rows,
                           lb_lin_in(&m->cfg, k), lb_lin_out(&m->cfg, k));
}

/* ---- forward --------------------------------------------------------------------------- */
/* The LoRA updates of linear kind k in layer l on x [rows, in] into y [rows, ldy]. Train: the
 * model's adapter with dropout (lora.c). Eval: the row-independent kernel, for the model's own
 * adapter or, in a segmented forward, each segment's adapter on its own rows (token rows, or
 * the [CLS] rows when cls_rows: the last layer after attention). */
static void lora_add(lb_model *m, lb_layer_act *a, int l, int k, const float *x, int rows, float *y, int ldy,
                     bool train, bool cls_rows, lb_rng *rng) {
    lb_layer_w *lw = &m->layers[l];
    const lb_model_config *c = &m->cfg;
    if (train || !m->nseg || m->has_lora) { /* (a model's own adapter: every segment is NULL) */
        if (!lw->lora_A[k]) return;
        const float *bias = k == LB_LIN_FFN1 ? NULL : lw->b[k]; /* FFN1's GEMM leaves its bias out */
        if (train) lb_lora_forward(m, a, lw, k, x, rows, y, ldy, bias, rng);
        else if (lw->dora_mag[k]) lb_dora_eval(m, a, lw, k, x, rows, y, ldy, bias);
        else lb_lora_eval(c, k, lw->lora_r[k], lw->lora_s[k], lw->lora_A[k], lw->lora_B[k], x, rows, a->lu[k], y, ldy);
        return;
    }
    int in = lb_lin_in(c, k);
    for (int s = 0; s < m->nseg; s++) {
        const lb_segment *sg = &m->segs[s];
        const lb_lora_adapter *ad = sg->adapter;
        if (!ad || !ad->A[l][k]) continue;
        int r0 = cls_rows ? sg->begin : m->off[sg->begin];
        int r1 = cls_rows ? sg->end : sg->end < m->B ? m->off[sg->end] : m->N;
        lb_lora_eval(c, k, ad->r[l][k], ad->s[l][k], ad->A[l][k], ad->B[l][k], x + (int64_t)r0 * in, r1 - r0, a->lu[k],
                     y + (int64_t)r0 * ldy, ldy);
    }
}

static void layer_forward(lb_model *m, int l, lb_layer_act *a, const float *x, float *out, bool last, bool train,
                          lb_rng *rng) {
    const lb_model_config *c = &m->cfg;
    lb_layer_w *lw = &m->layers[l];
    int N = m->N, B = m->B, D = c->dim, F = c->hidden_dim, H = c->n_heads, dh = D / H;
    int rq = last ? B : N;
    const float *xq = x;
    if (last) {
        for (int b = 0; b < B; b++) memcpy(a->xq + (int64_t)b * D, x + (int64_t)m->off[b] * D, sizeof(float) * D);
        xq = a->xq;
    }
    frozen_forward(m, lw, LB_LIN_Q, a->q, D, xq, D, rq, lw->b[LB_LIN_Q]);
    lora_add(m, a, l, LB_LIN_Q, xq, rq, a->q, D, train, last, rng);
    frozen_forward(m, lw, LB_LIN_K, a->kv, 2 * D, x, D, N, lw->b[LB_LIN_K]);
    lora_add(m, a, l, LB_LIN_K, x, N, a->kv, 2 * D, train, false, rng);
    frozen_forward(m, lw, LB_LIN_V, a->kv + D, 2 * D, x, D, N, lw->b[LB_LIN_V]);
    lora_add(m, a, l, LB_LIN_V, x, N, a->kv + D, 2 * D, train, false, rng);

    int64_t total = 0;
    for (int b = 0; b < B; b++) total += (int64_t)H * (last ? 1 : m->len[b]) * m->len[b];
    if (a->attn_keep) lb_dropout_mask(a->attn_keep, total, m->p_attn, rng);
    float scale = 1.0f / sqrtf((float)dh);
    int64_t po = 0;
    for (int b = 0; b < B; b++) {
        int nk = m->len[b], nq = last ? 1 : nk, qr = last ? b : m->off[b];
        const float *kvb = a->kv + (int64_t)m->off[b] * 2 * D;
        lb_attention_forward(a->ctx + (int64_t)qr * D, D, a->probs + po, a->attn_keep ? a->attn_keep + po : NULL,
                             m->p_attn, a->q + (int64_t)qr * D, D, kvb, kvb + D, 2 * D, nq, nk, H, dh, scale,
                             m->attn_scratch);
        if (train) po += (int64_t)H * nq * nk;
    }
    frozen_forward(m, lw, LB_LIN_O, a->a, D, a->ctx, D, rq, lw->b[LB_LIN_O]);
    lora_add(m, a, l, LB_LIN_O, a->ctx, rq, a->a, D, train, last, rng);
    if (a->a_keep) {
        lb_dropout_mask(a->a_keep, (int64_t)rq * D, m->p_hidden, rng);
        lb_dropout_forward(a->a, a->a, a->a_keep, (int64_t)rq * D, m->p_hidden);
    }
    lb_residual_layernorm_forward(a->h1, a->mean1, a->rstd1, a->a, xq, D, lw->ln1_w, lw->ln1_b, rq, D, c->ln_eps);

    /* FFN: the GEMM leaves the bias out so it fuses with GELU; LoRA adds in between. */
    frozen_forward(m, lw, LB_LIN_FFN1, a->f1pre, F, a->h1, D, rq, NULL);
    lora_add(m, a, l, LB_LIN_FFN1, a->h1, rq, a->f1pre, F, train, last, rng);
    lb_bias_gelu_forward(a->f1, a->f1pre, lw->b[LB_LIN_FFN1], rq, F);
    frozen_forward(m, lw, LB_LIN_FFN2, a->f2, D, a->f1, F, rq, lw->b[LB_LIN_FFN2]);
    lora_add(m, a, l, LB_LIN_FFN2, a->f1, rq, a->f2, D, train, last, rng);
    if (a->f_keep) {
        lb_dropout_mask(a->f_keep, (int64_t)rq * D, m->p_hidden, rng);
        lb_dropout_forward(a->f2, a->f2, a->f_keep, (int64_t)rq * D, m->p_hidden);
    }
    lb_residual_layernorm_forward(out, a->mean2, a->rstd2, a->f2, a->h1, D, lw->ln2_w, lw->ln2_b, rq, D, c->ln_eps);
}

static void head_forward(lb_model *m, const float *hcls, float *logits, lb_rng *rng) {
    const lb_model_config *c = &m->cfg;
    int B = m->B, D = c->dim, NL = c->num_labels;
    float *h = m->hdense;
    if (m->hin_keep) { /* RoBERTa: dropout on the <s> rows before the dense */
        lb_dropout_mask(m->hin_keep, (int64_t)B * D, m->p_cls, rng);
        lb_dropout_forward(m->hin, hcls, m->hin_keep, (int64_t)B * D, m->p_cls);
        hcls = m->hin;
    }
    lb_linear_forward(h, D, hcls, D, m->dense_w, m->dense_b, B, D, D);
    if (m->arch->head.dense_tanh) lb_tanh_forward(h, h, (int64_t)B * D);
    else lb_relu_forward(h, h, (int64_t)B * D);
    if (m->hd_keep) {
        lb_dropout_mask(m->hd_keep, (int64_t)B * D, m->p_cls, rng);
        lb_dropout_forward(m->hd, h, m->hd_keep, (int64_t)B * D, m->p_cls);
    } else {
        memcpy(m->hd, h, sizeof(float) * (size_t)B * D);
    }
    lb_linear_forward(logits, NL, m->hd, D, m->cls_w, m->cls_b, B, D, NL);
}

/* Eval-mode head (no dropout) of the [CLS] rows [b0, b1) with the given weights, on the
 * row-independent kernel; logits + b * ld. */
static void head_eval_rows(lb_model *m, const float *hcls, int b0, int b1, const float *dw, const float *db,
                           const float *cw, const float *cb, int NL, float *logits, int ld) {
    int D = m->cfg.dim, n = b1 - b0;
    float *h = m->hdense + (int64_t)b0 * D;
    lb_linear_rows(h, D, hcls + (int64_t)b0 * D, D, dw, db, 1.0f, false, n, D, D);
    if (m->arch->head.dense_tanh) lb_tanh_forward(h, h, (int64_t)n * D);
    else lb_relu_forward(h, h, (int64_t)n * D);
    lb_linear_rows(logits + (int64_t)b0 * ld, ld, h, D, cw, cb, 1.0f, false, n, D, NL);
}

static void head_eval(lb_model *m, const float *hcls, float *logits, int ld) {
    if (!m->nseg) {
        head_eval_rows(m, hcls, 0, m->B, m->dense_w, m->dense_b, m->cls_w, m->cls_b, m->cfg.num_labels, logits, ld);
        return;
    }
    for (int s = 0; s < m->nseg; s++) {
        const lb_segment *sg = &m->segs[s];
        const lb_lora_adapter *ad = sg->adapter;
        if (!ad) {
            head_eval_rows(m, hcls, sg->begin, sg->end, m->dense_w, m->dense_b, m->cls_w, m->cls_b, m->cfg.num_labels,
                           logits, ld);
            continue;
        }
        head_eval_rows(m, hcls, sg->begin, sg->end, ad->dense_w ? ad->dense_w : m->dense_w,
                       ad->dense_w ? ad->dense_b : m->dense_b, ad->cls_w, ad->cls_b, ad->num_labels, logits, ld);
    }
}

/* The batch against the model, for this file's forward and modernbert.c's: B, T >= 1, every
 * length in 1..T, T within the positions, every token id in the vocabulary and (a model with
 * token types) every type id in range. *N: the real tokens. */
static lb_status check_batch(const lb_model *m, const lb_batch *bt, int64_t *N, lb_error *err) {
    const lb_model_config *c = &m->cfg;
    if (bt->B < 1 || bt->T < 1 || !bt->ids || !bt->lengths)
        return lb_err(err, LB_ERR_USAGE, "model forward: empty batch (B=%d, T=%d)", bt->B, bt->T);
    if (bt->T > c->max_tokens)
        return lb_err(err, LB_ERR_USAGE, "model forward: sequence length %d exceeds the %d positions of the model%s",
                      bt->T, c->max_tokens,
                      m->arch->pos_from_pad ? " (max_position_embeddings - pad_token_id - 1)" : "");
    *N = 0;
    for (int b = 0; b < bt->B; b++) {
        int len = bt->lengths[b];
        if (len < 1 || len > bt->T)
            return lb_err(err, LB_ERR_USAGE, "model forward: sequence %d has length %d, expected 1..%d", b, len, bt->T);
        for (int t = 0; t < len; t++) {
            int32_t id = bt->ids[(int64_t)b * bt->T + t];
            if (id < 0 || id >= c->vocab_size)
                return lb_err(err, LB_ERR_USAGE,
                              "model forward: token id %d at [%d, %d] outside the vocabulary "
                              "(size %d)",
                              id, b, t, c->vocab_size);
            if (bt->token_type_ids && m->wtt) {
                int32_t tt = bt->token_type_ids[(int64_t)b * bt->T + t];
                if (tt < 0 || tt >= c->type_vocab_size)
                    return lb_err(err, LB_ERR_USAGE, "model forward: token type %d at [%d, %d] outside [0, %d)", tt, b,
                                  t, c->type_vocab_size);
            }
        }
        *N += len;
    }
    if (*N > INT32_MAX / 4)
        return lb_err(err, LB_ERR_USAGE, "model forward: batch of %lld tokens is too large", (long long)*N);
    return LB_OK;
}

/* The per-batch index arrays of a checked batch of N real tokens. */
static lb_status prepare_batch(lb_model *m, const lb_batch *bt, int64_t N, lb_error *err) {
    const lb_model_config *c = &m->cfg;
    /* (Re)size the per-batch index arrays. */
    if (!m->len || m->B < bt->B || m->N < N) {
        free(m->len);
        free(m->off);
        free(m->poff);
        free(m->tok_ids);
        free(m->tok_pos);
        free(m->tok_tt);
        m->len = malloc(sizeof(int32_t) * (size_t)bt->B);
        m->off = malloc(sizeof(int32_t) * (size_t)bt->B);
        m->poff = malloc(sizeof(int64_t) * (size_t)bt->B);
        m->tok_ids = malloc(sizeof(int32_t) * (size_t)N);
        m->tok_pos = malloc(sizeof(int32_t) * (size_t)N);
        m->tok_tt = malloc(sizeof(int32_t) * (size_t)N);
        if (!m->len || !m->off || !m->poff || !m->tok_ids || !m->tok_pos || !m->tok_tt) {
            m->B = 0;
            m->N = 0;
            return lb_err(err, LB_ERR_NOMEM, "model forward: out of memory");
        }
    }
    m->B = bt->B;
    m->N = (int)N;
    int n = 0;
    for (int b = 0; b < bt->B; b++) {
        m->len[b] = bt->lengths[b];
        m->off[b] = n;
        /* RoBERTa (create_position_ids_from_input_ids): pad + cumsum(id != pad) on a non-pad id,
         * pad on a pad id; the padding after the row never counts */
        int32_t pad = c->pad_token_id, seen = 0;
        for (int t = 0; t < m->len[b]; t++, n++) {
            m->tok_ids[n] = bt->ids[(int64_t)b * bt->T + t];
            if (m->arch->pos_from_pad) {
                seen += m->tok_ids[n] != pad;
                m->tok_pos[n] = m->tok_ids[n] != pad ? pad + seen : pad;
            } else {
                m->tok_pos[n] = t;
            }
            m->tok_tt[n] = bt->token_type_ids ? bt->token_type_ids[(int64_t)b * bt->T + t] : 0;
        }
    }
    return LB_OK;
}

/* The forward of a checked batch of N real tokens (the entry points below check it). */
static lb_status forward(lb_model *m, const lb_batch *batch, int64_t N, bool train, lb_rng *rng, float *logits, int ld,
                         lb_error *err) {
    const lb_model_config *c = &m->cfg;
    int L = c->n_layers, D = c->dim, H = c->n_heads;
    lb_status st = prepare_batch(m, batch, N, err);
    if (st || (st = lb_precision_prepare_forward(m, err))) return st;
    fwd_plan p = {.train = train, .drop = train && rng != NULL};
    for (int b = 0; b < m->B; b++) {
        p.attn_full += (int64_t)H * m->len[b] * m->len[b];
        p.attn_last += (int64_t)H * m->len[b];
        int64_t one = (int64_t)H * m->len[b] * m->len[b];
        if (one > p.attn_one) p.attn_one = one;
    }
    m->p_hidden = p.drop ? c->hidden_dropout : 0.0f;
    m->p_attn = p.drop ? c->attention_dropout : 0.0f;
    m->p_cls = p.drop ? c->classifier_dropout : 0.0f;
    m->p_lora = p.drop && m->has_lora ? m->lora.dropout : 0.0f;
    if (!m->hs) m->hs = calloc((size_t)L + 1, sizeof(float *));
    if (!m->acts) m->acts = calloc((size_t)L, sizeof(lb_layer_act));
    if (!m->hs || !m->acts) return lb_err(err, LB_ERR_NOMEM, "model forward: out of memory");
    bump b = {NULL, 0};
    layout(m, &b, &p);
    if ((st = ensure(&m->arena, &m->arena_size, b.off, err))) return st;
    b = (bump){m->arena, 0};
    layout(m, &b, &p);

    lb_embeddings_forward(m->emb, m->tok_ids, m->tok_pos, m->wtt ? m->tok_tt : NULL, m->wte, m->wpe, m->wtt, m->N, D);
    lb_layernorm_forward(m->hs[0], NULL, NULL, m->emb, m->emb_ln_w, m->emb_ln_b, m->N, D, c->ln_eps);
    if (m->emb_keep) {
        lb_dropout_mask(m->emb_keep, (int64_t)m->N * D, m->p_hidden, rng);
        lb_dropout_forward(m->hs[0], m->hs[0], m->emb_keep, (int64_t)m->N * D, m->p_hidden);
    }
    for (int l = 0; l < L; l++) {
        bool last = l == L - 1;
        const float *x = train ? m->hs[l] : m->hs[l % 2];
        float *out = train ? m->hs[l + 1] : m->hs[(l + 1) % 2];
        layer_forward(m, l, &m->acts[train ? l : 0], x, out, last, train, rng);
    }
    if (train) head_forward(m, m->hs[L], logits, rng);
    else head_eval(m, m->hs[L % 2], logits, ld);
    m->fwd_train = train;
    m->fwd_valid = true;
    return LB_OK;
}

lb_status lb_encoder_forward(lb_model *m, const lb_batch *batch, bool train, lb_rng *rng, float *logits,
                             lb_error *err) {
    int64_t N = 0;
    m->fwd_valid = false;
    lb_status st = check_batch(m, batch, &N, err);
    if (st) return st;
    if (m->arch->modern) return lb_modernbert_forward(m, batch, N, train, rng, NULL, 0, logits, m->cfg.num_labels, err);
    return forward(m, batch, N, train, rng, logits, m->cfg.num_labels, err);
}

lb_status lb_encoder_forward_segments(lb_model *m, const lb_batch *batch, const lb_segment *segs, int nseg,
                                      float *logits, int ld_logits, lb_error *err) {
    if (!segs || nseg < 1 || !batch || segs[0].begin != 0 || segs[nseg - 1].end != batch->B)
        return lb_err(err, LB_ERR_USAGE, "model forward: segments must cover the batch's %d sequences",
                      batch ? batch->B : 0);
    for (int s = 0; s < nseg; s++) {
        const lb_segment *sg = &segs[s];
        if (sg->end <= sg->begin || (s > 0 && sg->begin != segs[s - 1].end))
            return lb_err(err, LB_ERR_USAGE, "model forward: segment %d [%d, %d) is empty or not contiguous", s,
                          sg->begin, sg->end);
        int nl = sg->adapter ? sg->adapter->num_labels : m->cfg.num_labels;
        if (ld_logits < nl)
            return lb_err(err, LB_ERR_USAGE, "model forward: ld_logits %d < segment %d's %d labels", ld_logits, s, nl);
        if (sg->adapter && m->has_lora)
            return lb_err(err, LB_ERR_USAGE, "model forward: the model holds an adapter of its own");
        const char *what = sg->adapter ? lb_lora_adapter_mismatch(sg->adapter, m) : NULL;
        if (what) return lb_err(err, LB_ERR_USAGE, "model forward: segment %d's adapter has another %s", s, what);
    }
    int64_t N = 0;
    m->fwd_valid = false;
    lb_status st = check_batch(m, batch, &N, err);
    if (st) return st;
    if (m->arch->modern) return lb_modernbert_forward(m, batch, N, false, NULL, segs, nseg, logits, ld_logits, err);
    m->segs = segs;
    m->nseg = nseg;
    st = forward(m, batch, N, false, NULL, logits, ld_logits, err);
    m->segs = NULL;
    m->nseg = 0;
    return st;
}

/* ---- backward -------------------------------------------------------------------------- */
typedef struct gbufs {
    float *dout, *dxin;                       /* [N, D] gradient wrt layer output / input (swapped per layer) */
    float *dsum, *dh1, *da, *dctx, *dq, *dxq; /* [N, D] */
    float *df1;                               /* [N, F] */
    float *dkv;                               /* [N, 2D] */
    float *du, *tmp;                          /* [N, r], [N, F] LoRA scratch */
    float *dscr;                              /* [N, F] DoRA scratch, or NULL */
    float *dyf;                               /* [N, max(F, 2D)] DoRA f dy (K at 0, V at N D), or NULL */
    float *dhd;                               /* [B, D] */
} gbufs;

static void glayout(lb_model *m, bump *b, gbufs *g) {
    int N = m->N, D = m->cfg.dim, F = m->cfg.hidden_dim, r = m->has_lora ? m->lora_rmax : 1;
    float **nd[] = {&g->dout, &g->dxin, &g->dsum, &g->dh1, &g->da, &g->dctx, &g->dq, &g->dxq};
    for (size_t i = 0; i < sizeof nd / sizeof *nd; i++) *nd[i] = TAKE_F(b, (int64_t)N * D);
    g->df1 = TAKE_F(b, (int64_t)N * F);
    g->dkv = TAKE_F(b, (int64_t)N * 2 * D);
    g->du = TAKE_F(b, (int64_t)N * r);
    g->tmp = TAKE_F(b, (int64_t)N * F);
    g->dscr = m->has_lora && m->lora.use_dora ? TAKE_F(b, (int64_t)N * F) : NULL;
    g->dyf = m->has_lora && m->lora.use_dora ? TAKE_F(b, (int64_t)N * (F > 2 * D ? F : 2 * D)) : NULL;
    g->dhd = TAKE_F(b, (int64_t)m->B * D);
}

/* DoRA without LoRA dropout: the f dy that the frozen path took, for lb_lora_backward (else NULL). */
#define DYF(dyb, dy) ((dyb) != (dy) ? (dyb) : NULL)

/* dout [rq, D] -> adapter grads of layer l; dxin [N, D] = gradient wrt the layer input when
 * need_dx (else untouched). */
/* A linear modules_to_save trains in full: dW [out, in] += dy^T x, db += column sums of dy
 * (dy [rows, lddy], x [rows, in]: the input its forward saw). */
static void full_grad(const lb_model *m, const lb_layer_w *lw, int k, const float *dy, int lddy, const float *x,
                      int rows) {
    if (!lw->g_w[k]) return;
    int in = lb_lin_in(&m->cfg, k), out = lb_lin_out(&m->cfg, k);
    lb_linear_backward(NULL, 0, lw->g_w[k], lw->g_b[k], dy, lddy, x, in, lw->w[k], rows, in, out);
}

static void layer_backward(lb_model *m, int l, const float *dout, float *dxin, bool need_dx, gbufs *g) {
    const lb_model_config *c = &m->cfg;
    lb_layer_w *lw = &m->layers[l];
    lb_layer_act *a = &m->acts[l];
    int N = m->N, B = m->B, D = c->dim, F = c->hidden_dim, H = c->n_heads, dh = D / H, L = c->n_layers;
    bool last = l == L - 1;
    int rq = last ? B : N;
    int64_t nD = (int64_t)rq * D;

    /* LN2 (input f2 = ffn_out + h1); its gradients when modules_to_save trains it */
    lb_layernorm_backward(g->dsum, lw->g_ln2_w, lw->g_ln2_b, dout, a->f2, a->mean2, a->rstd2, lw->ln2_w, rq, D);
    memcpy(g->dh1, g->dsum, sizeof(float) * (size_t)nD); /* residual into h1 */
    if (a->f_keep) lb_dropout_backward(g->dsum, g->dsum, a->f_keep, nD, m->p_hidden);
    /* lin2 */
    full_grad(m, lw, LB_LIN_FFN2, g->dsum, D, a->f1, rq);
    memset(g->df1, 0, sizeof(float) * (size_t)rq * F);
    const float *dyb = lb_dora_scaled_dy(a, lw, LB_LIN_FFN2, rq, D, g->dsum, D, g->dyf); /* DoRA: f dy */
    frozen_backward_dx(m, lw, LB_LIN_FFN2, g->df1, F, dyb, D, rq);
    if (lw->lora_A[LB_LIN_FFN2])
        lb_lora_backward(m, a, lw, LB_LIN_FFN2, rq, g->dsum, D, DYF(dyb, g->dsum), g->df1, g->du, g->tmp, g->dscr);
    lb_gelu_backward(g->df1, g->df1, a->f1pre, (int64_t)rq * F);
    /* lin1 */
    full_grad(m, lw, LB_LIN_FFN1, g->df1, F, a->h1, rq);
    dyb = lb_dora_scaled_dy(a, lw, LB_LIN_FFN1, rq, F, g->df1, F, g->dyf);
    frozen_backward_dx(m, lw, LB_LIN_FFN1, g->dh1, D, dyb, F, rq);
    if (lw->lora_A[LB_LIN_FFN1])
        lb_lora_backward(m, a, lw, LB_LIN_FFN1, rq, g->df1, F, DYF(dyb, g->df1), g->dh1, g->du, g->tmp, g->dscr);
    /* LN1 (input a = attn_out + xq) */
    lb_layernorm_backward(g->da, lw->g_ln1_w, lw->g_ln1_b, g->dh1, a->a, a->mean1, a->rstd1, lw->ln1_w, rq, D);
    /* Gradient wrt the query-row inputs starts with the residual. */
    float *dxq = last ? g->dxq : dxin;
    if (need_dx) memcpy(dxq, g->da, sizeof(float) * (size_t)nD);
    if (a->a_keep) lb_dropout_backward(g->da, g->da, a->a_keep, nD, m->p_hidden);
    /* out_lin */
    full_grad(m, lw, LB_LIN_O, g->da, D, a->ctx, rq);
    memset(g->dctx, 0, sizeof(float) * (size_t)nD);
    dyb = lb_dora_scaled_dy(a, lw, LB_LIN_O, rq, D, g->da, D, g->dyf);
    frozen_backward_dx(m, lw, LB_LIN_O, g->dctx, D, dyb, D, rq);
    if (lw->lora_A[LB_LIN_O])
        lb_lora_backward(m, a, lw, LB_LIN_O, rq, g->da, D, DYF(dyb, g->da), g->dctx, g->du, g->tmp, g->dscr);
    /* attention */
    bool need_q = need_dx || lw->lora_A[LB_LIN_Q] || lw->g_w[LB_LIN_Q],
         need_k = need_dx || lw->lora_A[LB_LIN_K] || lw->g_w[LB_LIN_K],
         need_v = need_dx || lw->lora_A[LB_LIN_V] || lw->g_w[LB_LIN_V];
    if (need_q) memset(g->dq, 0, sizeof(float) * (size_t)nD);
    if (need_k || need_v) memset(g->dkv, 0, sizeof(float) * (size_t)N * 2 * D);
    float scale = 1.0f / sqrtf((float)dh);
    int64_t po = 0;
    for (int b = 0; b < B; b++) {
        int nk = m->len[b], nq = last ? 1 : nk, qr = last ? b : m->off[b];
        const float *kvb = a->kv + (int64_t)m->off[b] * 2 * D;
        float *dkvb = g->dkv + (int64_t)m->off[b] * 2 * D;
        lb_attention_backward(need_q ? g->dq + (int64_t)qr * D : NULL, D, need_k ? dkvb : NULL,
                              need_v ? dkvb + D : NULL, 2 * D, g->dctx + (int64_t)qr * D, D, a->probs + po,
                              a->attn_keep ? a->attn_keep + po : NULL, m->p_attn, a->q + (int64_t)qr * D, D, kvb,
                              kvb + D, 2 * D, nq, nk, H, dh, scale, m->attn_scratch);
        po += (int64_t)H * nq * nk;
    }
    /* q, k, v projections (their inputs: the [CLS] rows of the last layer, else the layer's) */
    full_grad(m, lw, LB_LIN_Q, g->dq, D, last ? a->xq : m->hs[l], rq);
    full_grad(m, lw, LB_LIN_K, g->dkv, 2 * D, m->hs[l], N);
    full_grad(m, lw, LB_LIN_V, g->dkv + D, 2 * D, m->hs[l], N);
    dyb = lb_dora_scaled_dy(a, lw, LB_LIN_Q, rq, D, g->dq, D, g->dyf);
    if (lw->lora_A[LB_LIN_Q])
        lb_lora_backward(m, a, lw, LB_LIN_Q, rq, g->dq, D, DYF(dyb, g->dq), need_dx ? dxq : NULL, g->du, g->tmp,
                         g->dscr);
    if (need_dx) frozen_backward_dx(m, lw, LB_LIN_Q, dxq, D, dyb, D, rq);
    if (need_dx && last) {
        memset(dxin, 0, sizeof(float) * (size_t)N * D);
        for (int b = 0; b < B; b++) {
            float *d = dxin + (int64_t)m->off[b] * D;
            const float *s = dxq + (int64_t)b * D;
            for (int i = 0; i < D; i++) d[i] += s[i];
        }
    }
    const float *dyk = lb_dora_scaled_dy(a, lw, LB_LIN_K, N, D, g->dkv, 2 * D, g->dyf);
    const float *dyv =
        lb_dora_scaled_dy(a, lw, LB_LIN_V, N, D, g->dkv + D, 2 * D, g->dyf ? g->dyf + (int64_t)N * D : NULL);
    if (lw->lora_A[LB_LIN_K])
        lb_lora_backward(m, a, lw, LB_LIN_K, N, g->dkv, 2 * D, DYF(dyk, g->dkv), need_dx ? dxin : NULL, g->du, g->tmp,
                         g->dscr);
    if (lw->lora_A[LB_LIN_V])
        lb_lora_backward(m, a, lw, LB_LIN_V, N, g->dkv + D, 2 * D, DYF(dyv, g->dkv + D), need_dx ? dxin : NULL, g->du,
                         g->tmp, g->dscr);
    if (need_dx) {
        frozen_backward_dx(m, lw, LB_LIN_K, dxin, D, dyk, dyk == g->dkv ? 2 * D : D, N);
        frozen_backward_dx(m, lw, LB_LIN_V, dxin, D, dyv, dyv == g->dkv + D ? 2 * D : D, N);
    }
}

lb_status lb_encoder_backward(lb_model *m, const float *dlogits, lb_error *err) {
    if (!m->has_lora) return lb_err(err, LB_ERR_USAGE, "model backward: no trainable parameters (add LoRA first)");
    if (!m->fwd_valid || !m->fwd_train)
        return lb_err(err, LB_ERR_USAGE, "model backward: needs a preceding forward with train=true");
    if (m->arch->modern) return lb_modernbert_backward(m, dlogits, err);
    const lb_model_config *c = &m->cfg;
    int B = m->B, D = c->dim, NL = c->num_labels, L = c->n_layers;
    lb_status st = lb_precision_prepare_backward(m, lb_lora_lowest_layer(m), err);
    if (st) return st;
    gbufs g;
    bump b = {NULL, 0};
    glayout(m, &b, &g);
    if ((st = ensure(&m->garena, &m->garena_size, b.off, err))) return st;
    b = (bump){m->garena, 0};
    glayout(m, &b, &g);

    /* Head. */
    const float *hcls = m->hs[L];
    memset(g.dhd, 0, sizeof(float) * (size_t)B * D);
    lb_linear_backward(g.dhd, D, m->g_cls_w, m->g_cls_b, dlogits, NL, m->hd, D, m->cls_w, B, D, NL);
    if (m->hd_keep) lb_dropout_backward(g.dhd, g.dhd, m->hd_keep, (int64_t)B * D, m->p_cls);
    int l0 = lb_lora_lowest_layer(m);
    bool below = l0 < L;
    if (below) memset(g.dout, 0, sizeof(float) * (size_t)B * D);
    /* The dense: its gradients when it trains (pre_classifier), the input gradient when a
     * layer below holds an adapter; a frozen pooler with nothing below needs neither. */
    if (m->g_dense_w || below) {
        if (m->arch->head.dense_tanh) lb_tanh_backward(g.dhd, g.dhd, m->hdense, (int64_t)B * D);
        else lb_relu_backward(g.dhd, g.dhd, m->hdense, (int64_t)B * D);
        lb_linear_backward(below ? g.dout : NULL, D, m->g_dense_w, m->g_dense_b, g.dhd, D, m->hin_keep ? m->hin : hcls,
                           D, m->dense_w, B, D, D);
        if (below && m->hin_keep) lb_dropout_backward(g.dout, g.dout, m->hin_keep, (int64_t)B * D, m->p_cls);
    }
    for (int l = L - 1; l >= l0; l--) {
        layer_backward(m, l, g.dout, g.dxin, l > l0, &g);
        float *t = g.dout;
        g.dout = g.dxin;
        g.dxin = t;
    }
    return LB_OK;
}
