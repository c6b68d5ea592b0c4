/* ModernBERT (transformers' ModernBertForSequenceClassification, 4.48): the descriptor and its
 * math, forward and backward.
 *
 * Owns: ModernBERT's encoder over the packed real tokens of a batch: tok_embeddings -> norm;
 * per block (pre-norm, no biases) attn_norm (identity in layer 0) -> fused Wqkv -> RoPE on q and
 * k (global_rope_theta in global layers, local_rope_theta in local ones) -> attention, global
 * every global_attn_every_n_layers-th layer (l % n == 0), else a sliding window |i - j| <=
 * local_attention / 2 -> Wo -> residual; mlp_norm -> Wi -> GeGLU (input | gate) -> mlp.Wo ->
 * residual; final_norm; pooling (row 0, or the mean of the real rows); head.dense -> GELU ->
 * head.norm -> dropout -> classifier. LoRA on Wqkv (kind Q), attn.Wo (O), mlp.Wi (FFN1) and
 * mlp.Wo (FFN2) through lora.c, the same code as the other architectures.
 * Why: its math shares nothing with the post-LN blocks of encoder.c beyond the kernels, so it
 * has its own file; encoder.c's entry points hand ModernBERT models here.
 * Guarantees: transformers' eager path (padded batch, finfo.min masks) exactly: a masked key is
 * simply absent here (exp underflows to 0 there), so padding and the window need no masks. The
 * frozen block linears run as the other architectures' (precision.c's packs: fp32, bf16, int8;
 * everything else fp32); the eval LoRA updates and the head run on the row-independent kernel,
 * so a row's logits do not depend on its batch where the packed kernels run. Dropout: the classifier
 * dropout and LoRA dropout; config.c refuses non-zero attention/embedding/MLP dropout. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "kernels/kernels.h"
#include "model/internal.h"

const lb_arch_desc lb_modernbert_desc = {
    .arch = LB_ARCH_MODERNBERT,
    .model_type = "modernbert",
    .prefix = "model",
    .seqcls_class = "ModernBertForSequenceClassification",
    .layer_fmt = "layers.%d.",
    .lin_module = {"attn.Wqkv", NULL, NULL, "attn.Wo", "mlp.Wi", "mlp.Wo"},
    .lin_short = {"Wqkv", NULL, NULL, "attn.Wo", "Wi", "mlp.Wo"},
    .ln1 = "attn_norm",
    .ln2 = "mlp_norm",
    .lin_kinds = (1u << LB_LIN_Q) | (1u << LB_LIN_O) | (1u << LB_LIN_FFN1) | (1u << LB_LIN_FFN2),
    .modern = true,
    .head = {.dense = "head.dense", .classifier = "classifier"},
};

/* Activations of one block (train: one per layer; eval: one reused). */
typedef struct mb_act {
    const float *x;       /* [N, D] block input (== hs[l]) */
    float *an;            /* [N, D] attn_norm output (layer 0: == x) */
    float *mean1, *rstd1; /* [N] */
    float *qkv;           /* [N, 3D] after RoPE on q and k */
    float *probs;         /* per query window, [H, nq, nk] blocks (see attend) */
    float *ctx;           /* [N, D] */
    float *h;             /* [N, D] x + attention output */
    float *mn;            /* [N, D] mlp_norm output */
    float *mean2, *rstd2; /* [N] */
    float *wi;            /* [N, 2F] */
    float *g;             /* [N, F] GeGLU output */
    lb_layer_act la;      /* LoRA buffers (lx, ldrop, lkeep, lu) */
} mb_act;

typedef struct lb_mb_state {
    void *buf;
    size_t cap;
    int B, N, maxlen;
    int32_t *len, *off, *ids; /* [B], [B], [N] (own allocations) */
    float *cs_g, *cs_l;       /* [N, dh] RoPE tables (global, local theta) */
    float *inv_g, *inv_l;     /* [dh/2] */
    float **hs;               /* [L + 1] (train) or 2 ping-pong */
    mb_act *acts;             /* [L] or [1] */
    int nacts;
    float *fn, *meanf, *rstdf; /* final norm [N, D], [N], [N] */
    float *pooled;             /* [B, D] */
    float *hpre, *ha;          /* [B, D] head.dense out, after GELU */
    float *hn, *meanh, *rstdh; /* [B, D] head.norm out, [B], [B] */
    float *hd;                 /* [B, D] after dropout (== hn without) */
    uint8_t *hd_keep;          /* [B, D] or NULL */
    float *scratch;            /* attention scratch */
    float *zero;               /* [D] zeros: the LayerNorms' absent bias */
    int64_t probs_layer;       /* probs floats of one layer */
    bool train;
    /* backward */
    void *gbuf;
    size_t gcap;
} lb_mb_state;

typedef lb_bump bump;

static bool is_local(const lb_model_config *c, int l) { return l % c->global_every != 0; }

/* probs floats of layer l for the batch: [H, n, n] per sequence (global), [H, n, 2w+1] (local). */
static int64_t probs_floats(const lb_model *m, const lb_mb_state *s, int l) {
    const lb_model_config *c = &m->cfg;
    int64_t n = 0, W = 2 * (c->local_window / 2) + 1;
    for (int b = 0; b < s->B; b++) n += (int64_t)c->n_heads * s->len[b] * (is_local(c, l) ? W : s->len[b]);
    return n;
}

static void layout(lb_model *m, lb_mb_state *s, bump *b, bool train, bool drop) {
    const lb_model_config *c = &m->cfg;
    int B = s->B, N = s->N, D = c->dim, F = c->hidden_dim, L = c->n_layers, dh = D / c->n_heads;
    int r = m->has_lora ? m->lora_rmax : 0; /* the largest rank of any module (rank_pattern) */
    for (int sg = 0; sg < m->nseg; sg++)
        if (m->segs[sg].adapter && m->segs[sg].adapter->rmax > r) r = m->segs[sg].adapter->rmax;
    bool ldrop = drop && m->has_lora && m->lora.dropout > 0.0f;
    s->zero = TAKE_F(b, D);
    s->cs_g = TAKE_F(b, (int64_t)N * dh);
    s->cs_l = TAKE_F(b, (int64_t)N * dh);
    s->inv_g = TAKE_F(b, dh / 2 + 1);
    s->inv_l = TAKE_F(b, dh / 2 + 1);
    for (int i = 0; i < (train ? L + 1 : 2); i++) s->hs[i] = TAKE_F(b, (int64_t)N * D);
    int64_t pmax = 0; /* eval: one probs buffer serves every layer */
    for (int l = 0; l < L && !train; l++) {
        int64_t p = probs_floats(m, s, l);
        pmax = p > pmax ? p : pmax;
    }
    for (int l = 0; l < s->nacts; l++) {
        mb_act *a = &s->acts[l];
        memset(a, 0, sizeof *a);
        a->an = TAKE_F(b, (int64_t)N * D);
        a->mean1 = TAKE_F(b, N);
        a->rstd1 = TAKE_F(b, N);
        a->qkv = TAKE_F(b, (int64_t)N * 3 * D);
        a->probs = TAKE_F(b, train ? probs_floats(m, s, l) : pmax);
        a->ctx = TAKE_F(b, (int64_t)N * D);
        a->h = TAKE_F(b, (int64_t)N * D);
        a->mn = TAKE_F(b, (int64_t)N * D);
        a->mean2 = TAKE_F(b, N);
        a->rstd2 = TAKE_F(b, N);
        a->wi = TAKE_F(b, (int64_t)N * 2 * F);
        a->g = TAKE_F(b, (int64_t)N * F);
        for (int k = 0; k < LB_LIN__COUNT; k++) {
            if (!lb_lin_present(m->arch, k) || r == 0) continue;
            a->la.lu[k] = TAKE_F(b, (int64_t)N * r);
            if (ldrop) {
                a->la.ldrop[k] = TAKE_F(b, (int64_t)N * lb_lin_in(c, k));
                a->la.lkeep[k] = TAKE_U8(b, (int64_t)N * lb_lin_in(c, k));
            }
        }
    }
    s->fn = TAKE_F(b, (int64_t)N * D);
    s->meanf = TAKE_F(b, N);
    s->rstdf = TAKE_F(b, N);
    s->pooled = TAKE_F(b, (int64_t)B * D);
    s->hpre = TAKE_F(b, (int64_t)B * D);
    s->ha = TAKE_F(b, (int64_t)B * D);
    s->hn = TAKE_F(b, (int64_t)B * D);
    s->meanh = TAKE_F(b, B);
    s->rstdh = TAKE_F(b, B);
    bool cdrop = drop && c->classifier_dropout > 0.0f;
    s->hd = cdrop ? TAKE_F(b, (int64_t)B * D) : s->hn;
    s->hd_keep = cdrop ? TAKE_U8(b, (int64_t)B * D) : NULL;
    s->scratch = TAKE_F(b, lb_attention_scratch(s->maxlen, s->maxlen));
}

void lb_modernbert_free(lb_model *m) {
    lb_mb_state *s = m->mb;
    if (!s) return;
    free(s->buf);
    free(s->gbuf);
    free(s->len);
    free(s->off);
    free(s->ids);
    free(s->hs);
    free(s->acts);
    free(s);
    m->mb = NULL;
}

/* A frozen block linear, y [rows, ldy] = x [rows, in] W^T, on the precision's packs
 * (precision.c: fp32 packs, bf16, int8) or OpenBLAS, as encoder.c's frozen_forward. */
static void frozen(const lb_model *m, const lb_layer_w *lw, int k, float *y, int ldy, const float *x, int rows) {
    int in = lb_lin_in(&m->cfg, k);
    if (m->precision == LB_PRECISION_BF16) lb_gemm_bf16(x, rows, in, lw->wb[k], NULL, false, y, ldy);
    else if (m->precision == LB_PRECISION_INT8) lb_gemm_int8(x, rows, in, lw->wi[k], NULL, y, ldy);
    else if (lw->wf[k]) lb_gemm_f32_packed(x, rows, in, lw->wf[k], NULL, false, y, ldy);
    else lb_linear_forward(y, ldy, x, in, lw->w[k], NULL, rows, in, lb_lin_out(&m->cfg, k));
}

/* dx [rows, in] += dy [rows, lddy] W: the input gradient through a frozen block linear. */
static void frozen_dx(const lb_model *m, const lb_layer_w *lw, int k, float *dx, const float *dy, int lddy, int rows) {
    int in = lb_lin_in(&m->cfg, k);
    if (m->precision == LB_PRECISION_BF16) lb_gemm_bf16(dy, rows, lddy, lw->wbt[k], NULL, true, dx, in);
    else if (lw->wft[k]) lb_gemm_f32_packed(dy, rows, lddy, lw->wft[k], NULL, true, dx, in);
    else lb_linear_backward(dx, in, NULL, NULL, dy, lddy, NULL, in, lw->w[k], rows, in, lb_lin_out(&m->cfg, k));
}

/* The LoRA updates of kind k in layer l (as encoder.c's lora_add, without [CLS]-only rows). */
static void lora_add(lb_model *m, lb_mb_state *s, lb_layer_act *a, int l, int k, const float *x, float *y, int ldy,
                     bool train, lb_rng *rng) {
    lb_layer_w *lw = &m->layers[l];
    const lb_model_config *c = &m->cfg;
    int N = s->N;
    if (train || !m->nseg || m->has_lora) {
        if (!lw->lora_A[k]) return;
        /* no biases here and no DoRA (lb_model_add_lora refuses it for ModernBERT) */
        if (train) lb_lora_forward(m, a, lw, k, x, N, y, ldy, NULL, rng);
        else lb_lora_eval(c, k, lw->lora_r[k], lw->lora_s[k], lw->lora_A[k], lw->lora_B[k], x, N, a->lu[k], y, ldy);
        return;
    }
    int in = lb_lin_in(c, k);
    for (int sg = 0; sg < m->nseg; sg++) {
        const lb_segment *seg = &m->segs[sg];
        const lb_lora_adapter *ad = seg->adapter;
        if (!ad || !ad->A[l][k]) continue;
        int r0 = s->off[seg->begin], r1 = seg->end < s->B ? s->off[seg->end] : N;
        lb_lora_eval(c, k, ad->r[l][k], ad->s[l][k], ad->A[l][k], ad->B[l][k], x + (int64_t)r0 * in, r1 - r0, a->lu[k],
                     y + (int64_t)r0 * ldy, ldy);
    }
}

/* Attention of layer l over qkv [N, 3D] into ctx [N, D], one kernel call per sequence (global:
 * every key; local: the sliding window); probs blocks in sequence order. */
static void attend(const lb_model *m, lb_mb_state *s, int l, mb_act *a) {
    const lb_model_config *c = &m->cfg;
    int D = c->dim, H = c->n_heads, dh = D / H, ld = 3 * D, w = c->local_window / 2;
    float scale = 1.0f / sqrtf((float)dh);
    int64_t po = 0;
    for (int b = 0; b < s->B; b++) {
        int n = s->len[b];
        const float *base = a->qkv + (int64_t)s->off[b] * ld;
        float *ctx = a->ctx + (int64_t)s->off[b] * D;
        if (is_local(c, l)) {
            lb_local_attention_forward(ctx, D, a->probs + po, base, ld, base + D, base + 2 * D, ld, n, w, H, dh, scale);
            po += (int64_t)H * n * (2 * w + 1);
        } else {
            lb_attention_forward(ctx, D, a->probs + po, NULL, 0.0f, base, ld, base + D, base + 2 * D, ld, n, n, H, dh,
                                 scale, s->scratch);
            po += (int64_t)H * n * n;
        }
    }
}

static void attend_backward(const lb_model *m, lb_mb_state *s, int l, const mb_act *a, const float *dctx, float *dqkv) {
    const lb_model_config *c = &m->cfg;
    int D = c->dim, H = c->n_heads, dh = D / H, ld = 3 * D, w = c->local_window / 2;
    float scale = 1.0f / sqrtf((float)dh);
    int64_t po = 0;
    for (int b = 0; b < s->B; b++) {
        int n = s->len[b];
        int64_t r0 = s->off[b];
        const float *base = a->qkv + r0 * ld;
        float *dbase = dqkv + r0 * ld;
        const float *dc = dctx + r0 * D;
        if (is_local(c, l)) {
            lb_local_attention_backward(dbase, dbase + D, dbase + 2 * D, ld, dc, D, a->probs + po, base, ld, base + D,
                                        base + 2 * D, ld, n, w, H, dh, scale);
            po += (int64_t)H * n * (2 * w + 1);
        } else {
            lb_attention_backward(dbase, ld, dbase + D, dbase + 2 * D, ld, dc, D, a->probs + po, NULL, 0.0f, base, ld,
                                  base + D, base + 2 * D, ld, n, n, H, dh, scale, s->scratch);
            po += (int64_t)H * n * n;
        }
    }
}

static void block_forward(lb_model *m, lb_mb_state *s, int l, mb_act *a, const float *x, float *out, bool train,
                          lb_rng *rng) {
    const lb_model_config *c = &m->cfg;
    lb_layer_w *lw = &m->layers[l];
    int N = s->N, D = c->dim, F = c->hidden_dim, H = c->n_heads, dh = D / H;
    a->x = x;
    const float *an = x;
    if (l > 0) {
        lb_layernorm_forward(a->an, a->mean1, a->rstd1, x, lw->ln1_w, s->zero, N, D, c->ln_eps);
        an = a->an;
    }
    frozen(m, lw, LB_LIN_Q, a->qkv, 3 * D, an, N);
    lora_add(m, s, &a->la, l, LB_LIN_Q, an, a->qkv, 3 * D, train, rng);
    const float *cs = is_local(c, l) ? s->cs_l : s->cs_g;
    lb_rope_forward(a->qkv, 3 * D, cs, N, H, dh);
    lb_rope_forward(a->qkv + D, 3 * D, cs, N, H, dh);
    attend(m, s, l, a);
    frozen(m, lw, LB_LIN_O, a->h, D, a->ctx, N);
    lora_add(m, s, &a->la, l, LB_LIN_O, a->ctx, a->h, D, train, rng);
    for (int64_t i = 0; i < (int64_t)N * D; i++) a->h[i] += x[i];
    lb_layernorm_forward(a->mn, a->mean2, a->rstd2, a->h, lw->ln2_w, s->zero, N, D, c->ln_eps);
    frozen(m, lw, LB_LIN_FFN1, a->wi, 2 * F, a->mn, N);
    lora_add(m, s, &a->la, l, LB_LIN_FFN1, a->mn, a->wi, 2 * F, train, rng);
    lb_geglu_forward(a->g, a->wi, N, F, c->mlp_gelu_tanh);
    frozen(m, lw, LB_LIN_FFN2, out, D, a->g, N);
    lora_add(m, s, &a->la, l, LB_LIN_FFN2, a->g, out, D, train, rng);
    for (int64_t i = 0; i < (int64_t)N * D; i++) out[i] += a->h[i];
}

/* Head rows [b0, b1) with classifier cw [nl, D], cb [nl] into logits (row stride ld). */
static void head_rows(lb_model *m, lb_mb_state *s, int b0, int b1, const float *cw, const float *cb, int nl,
                      float *logits, int ld, lb_rng *rng) {
    const lb_model_config *c = &m->cfg;
    int D = c->dim, n = b1 - b0;
    int64_t o = (int64_t)b0 * D;
    lb_linear_rows(s->hpre + o, D, s->pooled + o, D, m->dense_w, NULL, 1.0f, false, n, D, D);
    lb_gelu_kind_forward(s->ha + o, s->hpre + o, (int64_t)n * D, c->head_gelu_tanh);
    lb_layernorm_forward(s->hn + o, s->meanh + b0, s->rstdh + b0, s->ha + o, m->head_norm_w, s->zero, n, D, c->ln_eps);
    if (s->hd_keep) {
        lb_dropout_mask(s->hd_keep + o, (int64_t)n * D, m->p_cls, rng);
        lb_dropout_forward(s->hd + o, s->hn + o, s->hd_keep + o, (int64_t)n * D, m->p_cls);
    }
    lb_linear_rows(logits + (int64_t)b0 * ld, ld, s->hd + o, D, cw, cb, 1.0f, false, n, D, nl);
}

lb_status lb_modernbert_forward(lb_model *m, const lb_batch *batch, int64_t N64, bool train, lb_rng *rng,
                                const lb_segment *segs, int nseg, float *logits, int ld, lb_error *err) {
    const lb_model_config *c = &m->cfg;
    int L = c->n_layers, D = c->dim, dh = D / c->n_heads;
    m->fwd_valid = false;
    if (dh % 2) return lb_err(err, LB_ERR_UNSUPPORTED, "model forward: RoPE needs an even head size, found %d", dh);
    lb_status st = lb_precision_prepare_forward(m, err);
    if (st) return st;
    if (!m->mb && !(m->mb = calloc(1, sizeof *m->mb))) return lb_err(err, LB_ERR_NOMEM, "model forward: out of memory");
    lb_mb_state *s = m->mb;
    int B = batch->B, N = (int)N64;
    bool drop = train && rng != NULL;
    m->p_cls = drop ? c->classifier_dropout : 0.0f;
    m->p_lora = drop && m->has_lora ? m->lora.dropout : 0.0f;
    m->p_hidden = m->p_attn = 0.0f;
    m->segs = segs;
    m->nseg = segs ? nseg : 0;
    free(s->hs);
    free(s->acts);
    free(s->len);
    free(s->off);
    free(s->ids);
    s->nacts = train ? L : 1;
    s->hs = calloc((size_t)L + 1, sizeof(float *));
    s->acts = calloc((size_t)s->nacts, sizeof(mb_act));
    s->len = malloc(sizeof(int32_t) * (size_t)B);
    s->off = malloc(sizeof(int32_t) * (size_t)B);
    s->ids = malloc(sizeof(int32_t) * (size_t)N);
    s->B = s->N = 0;
    s->train = false;
    if (!s->hs || !s->acts || !s->len || !s->off || !s->ids) {
        st = lb_err(err, LB_ERR_NOMEM, "model forward: out of memory");
        goto out;
    }
    s->B = B;
    s->N = N;
    s->maxlen = 0;
    for (int bb = 0, o = 0; bb < B; bb++) {
        s->len[bb] = batch->lengths[bb];
        s->off[bb] = o;
        o += s->len[bb];
        if (s->len[bb] > s->maxlen) s->maxlen = s->len[bb];
        memcpy(s->ids + s->off[bb], batch->ids + (int64_t)bb * batch->T, sizeof(int32_t) * (size_t)s->len[bb]);
    }
    bump b = {NULL, 0};
    layout(m, s, &b, train, drop);
    if (b.off > s->cap) {
        free(s->buf);
        s->buf = aligned_alloc(64, b.off);
        s->cap = s->buf ? b.off : 0;
        if (!s->buf) {
            st = lb_err(err, LB_ERR_NOMEM, "model forward: cannot allocate %zu MiB of activations", b.off >> 20);
            goto out;
        }
    }
    b = (bump){s->buf, 0};
    layout(m, s, &b, train, drop);
    memset(s->zero, 0, sizeof(float) * (size_t)D);
    lb_rope_inv_freq(s->inv_g, dh, c->rope_global);
    lb_rope_inv_freq(s->inv_l, dh, c->rope_local);
    for (int bb = 0; bb < B; bb++)
        for (int t = 0; t < s->len[bb]; t++) {
            int64_t n = s->off[bb] + t;
            lb_rope_table(s->cs_g + n * dh, s->inv_g, dh, t);
            lb_rope_table(s->cs_l + n * dh, s->inv_l, dh, t);
        }
    /* embeddings: tok_embeddings -> norm */
    float *e0 = s->hs[0];
    for (int n = 0; n < N; n++) memcpy(e0 + (int64_t)n * D, m->wte + (int64_t)s->ids[n] * D, sizeof(float) * D);
    lb_layernorm_forward(e0, NULL, NULL, e0, m->emb_ln_w, s->zero, N, D, c->ln_eps);
    for (int l = 0; l < L; l++) {
        const float *x = train ? s->hs[l] : s->hs[l % 2];
        float *out = train ? s->hs[l + 1] : s->hs[(l + 1) % 2];
        block_forward(m, s, l, &s->acts[train ? l : 0], x, out, train, rng);
    }
    const float *xl = train ? s->hs[L] : s->hs[L % 2];
    lb_layernorm_forward(s->fn, s->meanf, s->rstdf, xl, m->final_norm_w, s->zero, N, D, c->ln_eps);
    for (int bb = 0; bb < B; bb++) {
        float *p = s->pooled + (int64_t)bb * D;
        const float *r = s->fn + (int64_t)s->off[bb] * D;
        if (!c->pool_mean) {
            memcpy(p, r, sizeof(float) * D);
            continue;
        }
        memset(p, 0, sizeof(float) * D);
        for (int t = 0; t < s->len[bb]; t++)
            for (int i = 0; i < D; i++) p[i] += r[(int64_t)t * D + i];
        for (int i = 0; i < D; i++) p[i] /= (float)s->len[bb];
    }
    if (!m->nseg) {
        head_rows(m, s, 0, B, m->cls_w, m->cls_b, c->num_labels, logits, ld, rng);
    } else {
        for (int sg = 0; sg < m->nseg; sg++) {
            const lb_lora_adapter *ad = segs[sg].adapter;
            head_rows(m, s, segs[sg].begin, segs[sg].end, ad ? ad->cls_w : m->cls_w, ad ? ad->cls_b : m->cls_b,
                      ad ? ad->num_labels : c->num_labels, logits, ld, NULL);
        }
    }
    m->B = B;
    m->N = N;
    m->fwd_train = train;
    s->train = train;
    m->fwd_valid = true;
out:
    m->segs = NULL;
    m->nseg = 0;
    return st;
}

/* ---- backward ---------------------------------------------------------------------------- */
typedef struct mb_grad {
    float *dx, *dxin;        /* [N, D] gradient wrt block output / input */
    float *dmn, *dctx, *dan; /* [N, D] */
    float *tmp;              /* [N, max(D, F)] LoRA scratch */
    float *dg;               /* [N, F] */
    float *dwi;              /* [N, 2F] */
    float *dqkv;             /* [N, 3D] */
    float *du;               /* [N, r] */
    float *dh;               /* [B, D] head */
} mb_grad;

static void glayout(const lb_model *m, const lb_mb_state *s, bump *b, mb_grad *g) {
    const lb_model_config *c = &m->cfg;
    int64_t N = s->N, D = c->dim, F = c->hidden_dim;
    g->dx = TAKE_F(b, N * D);
    g->dxin = TAKE_F(b, N * D);
    g->dmn = TAKE_F(b, N * D);
    g->dctx = TAKE_F(b, N * D);
    g->dan = TAKE_F(b, N * D);
    g->tmp = TAKE_F(b, N * (D > F ? D : F));
    g->dg = TAKE_F(b, N * F);
    g->dwi = TAKE_F(b, N * 2 * F);
    g->dqkv = TAKE_F(b, N * 3 * D);
    g->du = TAKE_F(b, N * (m->lora_rmax > 0 ? m->lora_rmax : 1));
    g->dh = TAKE_F(b, (int64_t)s->B * D);
}

/* dx += the input gradient of LayerNorm (no bias, frozen weight w) given dy; t is scratch [N, D]. */
static void ln_back_add(float *dx, float *t, const float *dy, const float *x, const float *mean, const float *rstd,
                        const float *w, int N, int D) {
    lb_layernorm_backward(t, NULL, NULL, dy, x, mean, rstd, w, N, D);
    for (int64_t i = 0; i < (int64_t)N * D; i++) dx[i] += t[i];
}

/* Gradients of block l from dout (wrt its output); dxin (overwritten) wrt its input when need_dx. */
static void block_backward(lb_model *m, lb_mb_state *s, int l, const float *dout, float *dxin, bool need_dx,
                           mb_grad *g) {
    const lb_model_config *c = &m->cfg;
    lb_layer_w *lw = &m->layers[l];
    mb_act *a = &s->acts[l];
    int N = s->N, D = c->dim, F = c->hidden_dim, H = c->n_heads, dh = D / H;
    int64_t ND = (int64_t)N * D;
    /* MLP: out = h + mlp.Wo(geglu(Wi(mlp_norm(h)))) */
    memset(g->dg, 0, sizeof(float) * (size_t)N * F);
    frozen_dx(m, lw, LB_LIN_FFN2, g->dg, dout, D, N);
    if (lw->lora_A[LB_LIN_FFN2])
        lb_lora_backward(m, &a->la, lw, LB_LIN_FFN2, N, dout, D, NULL, g->dg, g->du, g->tmp, NULL);
    lb_geglu_backward(g->dwi, g->dg, a->wi, N, F, c->mlp_gelu_tanh);
    memset(g->dmn, 0, sizeof(float) * (size_t)ND);
    frozen_dx(m, lw, LB_LIN_FFN1, g->dmn, g->dwi, 2 * F, N);
    if (lw->lora_A[LB_LIN_FFN1])
        lb_lora_backward(m, &a->la, lw, LB_LIN_FFN1, N, g->dwi, 2 * F, NULL, g->dmn, g->du, g->tmp, NULL);
    /* dh = dout + mlp_norm's input gradient (kept in g->dxin, the block input's buffer) */
    float *dres = dxin;
    memcpy(dres, dout, sizeof(float) * (size_t)ND);
    ln_back_add(dres, g->tmp, g->dmn, a->h, a->mean2, a->rstd2, lw->ln2_w, N, D);
    /* attention: h = x + Wo(attn(rope(Wqkv(attn_norm(x))))) */
    bool lower = need_dx || lw->lora_A[LB_LIN_Q];
    if (!lower && !lw->lora_A[LB_LIN_O]) return;
    memset(g->dctx, 0, sizeof(float) * (size_t)ND);
    if (lower) frozen_dx(m, lw, LB_LIN_O, g->dctx, dres, D, N);
    if (lw->lora_A[LB_LIN_O])
        lb_lora_backward(m, &a->la, lw, LB_LIN_O, N, dres, D, NULL, lower ? g->dctx : NULL, g->du, g->tmp, NULL);
    if (!lower) return;
    memset(g->dqkv, 0, sizeof(float) * (size_t)N * 3 * D);
    attend_backward(m, s, l, a, g->dctx, g->dqkv);
    const float *cs = is_local(c, l) ? s->cs_l : s->cs_g;
    lb_rope_backward(g->dqkv, 3 * D, cs, N, H, dh);
    lb_rope_backward(g->dqkv + D, 3 * D, cs, N, H, dh);
    if (!need_dx) {
        if (lw->lora_A[LB_LIN_Q])
            lb_lora_backward(m, &a->la, lw, LB_LIN_Q, N, g->dqkv, 3 * D, NULL, NULL, g->du, g->tmp, NULL);
        return;
    }
    memset(g->dan, 0, sizeof(float) * (size_t)ND);
    frozen_dx(m, lw, LB_LIN_Q, g->dan, g->dqkv, 3 * D, N);
    if (lw->lora_A[LB_LIN_Q])
        lb_lora_backward(m, &a->la, lw, LB_LIN_Q, N, g->dqkv, 3 * D, NULL, g->dan, g->du, g->tmp, NULL);
    if (l > 0) ln_back_add(dres, g->tmp, g->dan, a->x, a->mean1, a->rstd1, lw->ln1_w, N, D);
    else
        for (int64_t i = 0; i < ND; i++) dres[i] += g->dan[i];
}

lb_status lb_modernbert_backward(lb_model *m, const float *dlogits, lb_error *err) {
    lb_mb_state *s = m->mb;
    if (!s || !s->train) return lb_err(err, LB_ERR_USAGE, "model backward: needs a preceding forward with train=true");
    const lb_model_config *c = &m->cfg;
    int B = s->B, N = s->N, D = c->dim, NL = c->num_labels, L = c->n_layers;
    lb_status st = lb_precision_prepare_backward(m, lb_lora_lowest_layer(m), err);
    if (st) return st;
    mb_grad g;
    bump b = {NULL, 0};
    glayout(m, s, &b, &g);
    if (b.off > s->gcap) {
        free(s->gbuf);
        s->gbuf = aligned_alloc(64, b.off);
        s->gcap = s->gbuf ? b.off : 0;
        if (!s->gbuf) return lb_err(err, LB_ERR_NOMEM, "model backward: out of memory");
    }
    b = (bump){s->gbuf, 0};
    glayout(m, s, &b, &g);
    /* classifier (trainable) */
    memset(g.dh, 0, sizeof(float) * (size_t)B * D);
    lb_linear_backward(g.dh, D, m->g_cls_w, m->g_cls_b, dlogits, NL, s->hd, D, m->cls_w, B, D, NL);
    int l0 = lb_lora_lowest_layer(m);
    if (l0 >= L) return LB_OK;
    if (s->hd_keep) lb_dropout_backward(g.dh, g.dh, s->hd_keep, (int64_t)B * D, m->p_cls);
    /* head.norm, GELU, head.dense (frozen): the pooled rows' gradient in g.dan [B, D] */
    lb_layernorm_backward(g.dmn, NULL, NULL, g.dh, s->ha, s->meanh, s->rstdh, m->head_norm_w, B, D);
    lb_gelu_kind_backward(g.dmn, g.dmn, s->hpre, (int64_t)B * D, c->head_gelu_tanh);
    memset(g.dan, 0, sizeof(float) * (size_t)B * D);
    lb_linear_backward(g.dan, D, NULL, NULL, g.dmn, D, NULL, D, m->dense_w, B, D, D);
    /* pooling -> the final norm's output gradient (g.dctx), then its input gradient (g.dx) */
    memset(g.dctx, 0, sizeof(float) * (size_t)N * D);
    for (int bb = 0; bb < B; bb++) {
        const float *dp = g.dan + (int64_t)bb * D;
        float *r = g.dctx + (int64_t)s->off[bb] * D;
        if (!c->pool_mean) {
            memcpy(r, dp, sizeof(float) * D);
            continue;
        }
        float inv = (float)s->len[bb];
        for (int t = 0; t < s->len[bb]; t++)
            for (int i = 0; i < D; i++) r[(int64_t)t * D + i] = dp[i] / inv;
    }
    lb_layernorm_backward(g.dx, NULL, NULL, g.dctx, s->hs[L], s->meanf, s->rstdf, m->final_norm_w, N, D);
    for (int l = L - 1; l >= l0; l--) {
        block_backward(m, s, l, g.dx, g.dxin, l > l0, &g);
        float *t = g.dx;
        g.dx = g.dxin;
        g.dxin = t;
    }
    return LB_OK;
}
