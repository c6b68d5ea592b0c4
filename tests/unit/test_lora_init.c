/* Tests for the LoRA inits that rewrite the base weights (src/model/lora_init.c, PEFT 0.14
 * init_lora_weights "pissa" / "olora") against tests/golden/pissa/<case> (tools/reference/
 * pissa_golden.py): after the init the residual weights and s B0 A0 (sign-free products) within
 * 1e-5 (lorabert's SVD runs in double, so what is left is torch's own float32 error: 9.7e-6 on
 * distilbert_pissa's layer 0 lin1, whose S_4 - S_5 is 0.02), A0 and B0 themselves within 1e-4 relative once each component's sign is aligned to PEFT's (torch's
 * SVD / QR and LAPACK's may flip a singular vector pair; nothing downstream depends on it); logits
 * and loss at the init; gradients (signs aligned) within 1e-4 relative; a 5-step AdamW trajectory
 * (losses, gradient norms: sign-free) within 1e-3 and the final s (B A - B0 A0) (sign-free) within
 * 1e-3 relative; the adapter SAVED converted (rank 2r, init true, alpha doubled / times sqrt 2)
 * loaded over the ORIGINAL base gives the trained model's logits (1e-5) and PEFT's converted
 * adapter's (1e-4); a resume copy restores A, B and the residuals bit for bit; refusals by name. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "base/fileio.h"
#include "formats/safetensors.h"
#include "kernels/kernels.h"
#include "model/internal.h"
#include "model/peft.h"
#include "train/optim.h"

static const struct {
    const char *name, *src;
    int init;
    unsigned mask;
    int r;
    float alpha;
    bool rslora;
} CASES[] = {
    {"distilbert_pissa", "distilbert_tiny_all", LB_LORA_INIT_PISSA, 0x3f, 4, 32, false},
    {"distilbert_olora", "distilbert_tiny_all", LB_LORA_INIT_OLORA, 0x35, 4, 32, false},
    /* PEFT's "output.dense" is attention.output.dense and output.dense */
    {"bert_pissa", "bert_tiny", LB_LORA_INIT_PISSA, 0x3d, 4, 16, false},
    {"bert_olora_rslora", "bert_tiny", LB_LORA_INIT_OLORA, 0x3b, 4, 8, true},
};
#define NCASES (sizeof CASES / sizeof *CASES)

typedef struct golden {
    lb_model *m;
    lb_st_file *f;
    lb_batch b;
    int32_t *ids, *lens, *tt, *labels;
    int NL;
    float *logits, *dl; /* [B, NL] each, for the test's use */
} golden;

static int32_t *i64_to_i32(lb_st_file *f, const char *name, int64_t *shape) {
    const lb_st_tensor *t = lb_st_find(f, name);
    if (!t) return NULL;
    cr_assert_eq(t->dtype, LB_DT_I64, "%s: expected I64", name);
    int32_t *o = malloc(sizeof(int32_t) * (size_t)t->numel);
    const int64_t *s = t->data;
    for (int64_t i = 0; i < t->numel; i++) o[i] = (int32_t)s[i];
    if (shape) {
        shape[0] = t->shape[0];
        shape[1] = t->ndim > 1 ? t->shape[1] : 1;
    }
    return o;
}

static const float *gt(const golden *g, const char *name) {
    lb_error e = {0};
    const lb_st_tensor *t = lb_st_find(g->f, name);
    cr_assert_not_null(t, "golden lacks %s", name);
    const float *p = lb_st_f32(g->f, t, &e);
    cr_assert_not_null(p, "%s", e.msg);
    return p;
}

static lb_model *load_base(const char *src) {
    char mdir[256];
    snprintf(mdir, sizeof mdir, "tests/golden/%s/model", src);
    lb_error e = {0};
    lb_load_opts o = {.quiet = true};
    lb_model *m = lb_model_load(mdir, &o, &e);
    cr_assert_not_null(m, "%s", e.msg);
    return m;
}

static lb_lora_config case_config(size_t c) {
    return (lb_lora_config){.r = CASES[c].r,
                            .alpha = CASES[c].alpha,
                            .target_mask = CASES[c].mask,
                            .init = CASES[c].init,
                            .use_rslora = CASES[c].rslora};
}

/* The case's base with a fresh lorabert adapter of the case's init, and the golden batch. */
static void open_case(golden *g, size_t c) {
    memset(g, 0, sizeof *g);
    char dir[256], path[300];
    snprintf(dir, sizeof dir, "tests/golden/pissa/%s", CASES[c].name);
    if (!lb_dir_exists(dir)) cr_skip_test("golden %s missing (run tools/reference/pissa_golden.py)", dir);
    lb_error e = {0};
    g->m = load_base(CASES[c].src);
    lb_lora_config lc = case_config(c);
    cr_assert_eq(lb_model_add_lora(g->m, &lc, 1, &e), LB_OK, "%s: %s", CASES[c].name, e.msg);
    snprintf(path, sizeof path, "%s/golden.safetensors", dir);
    g->f = lb_st_open(path, &e);
    cr_assert_not_null(g->f, "%s", e.msg);
    int64_t shape[2];
    g->ids = i64_to_i32(g->f, "input_ids", shape);
    int B = (int)shape[0], T = (int)shape[1];
    int32_t *mask = i64_to_i32(g->f, "attention_mask", NULL);
    g->lens = calloc((size_t)B, sizeof(int32_t));
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) g->lens[b] += mask[b * T + t];
    free(mask);
    g->tt = i64_to_i32(g->f, "token_type_ids", NULL);
    g->labels = i64_to_i32(g->f, "labels", NULL);
    g->b = (lb_batch){.B = B, .T = T, .ids = g->ids, .lengths = g->lens, .token_type_ids = g->tt};
    g->NL = lb_model_get_config(g->m)->num_labels;
    g->logits = malloc(sizeof(float) * (size_t)B * g->NL);
    g->dl = malloc(sizeof(float) * (size_t)B * g->NL);
}

static void close_case(golden *g) {
    free(g->ids);
    free(g->lens);
    free(g->tt);
    free(g->labels);
    free(g->logits);
    free(g->dl);
    lb_st_close(g->f);
    lb_model_free(g->m);
}

/* body(g, c) for every case, each opened afresh. */
static void each_case(void (*body)(golden *g, size_t c)) {
    for (size_t c = 0; c < NCASES; c++) {
        golden g;
        open_case(&g, c);
        body(&g, c);
        close_case(&g);
    }
}

static double max_abs_diff(const float *a, const float *b, int64_t n) {
    double md = 0;
    for (int64_t i = 0; i < n; i++) md = fmax(md, fabs((double)a[i] - b[i]));
    return md;
}

/* max |got - ref| / max |ref| */
static double rel_diff(const float *got, const float *ref, int64_t n) {
    double md = 0, mr = 0;
    for (int64_t i = 0; i < n; i++) {
        md = fmax(md, fabs((double)got[i] - ref[i]));
        mr = fmax(mr, fabs((double)ref[i]));
    }
    return mr > 0 ? md / mr : md;
}

/* One adapted linear: its layer and kind, module path ("distilbert.transformer.layer.0.
 * attention.q_lin") and the golden's A0 / B0 keys. */
typedef struct mod {
    int l, k, in, out, r;
    char path[256], keyA[320], keyB[320];
    float s;
    const lb_param *pa, *pb;
} mod;

static int modules(const golden *g, mod *ms, int max) {
    lb_param *ps;
    int np = lb_model_params(g->m, &ps), n = 0;
    const lb_model_config *c = lb_model_get_config(g->m);
    for (int i = 0; i < np; i++) {
        const char *suf = strstr(ps[i].name, ".lora_A.weight");
        if (!suf) continue;
        cr_assert_lt(n, max);
        mod *d = &ms[n++];
        memset(d, 0, sizeof *d);
        d->pa = &ps[i];
        d->pb = &ps[i + 1];
        cr_assert_not_null(strstr(d->pb->name, ".lora_B.weight"), "%s follows %s", d->pb->name, d->pa->name);
        const char *start = ps[i].name + strlen("base_model.model.");
        snprintf(d->path, sizeof d->path, "%.*s", (int)(suf - start), start);
        snprintf(d->keyA, sizeof d->keyA, "init.%s", ps[i].name);
        snprintf(d->keyB, sizeof d->keyB, "init.%s", ps[i + 1].name);
        d->l = -1;
        for (int l = 0; l < c->n_layers && d->l < 0; l++)
            for (int k = 0; k < LB_LIN__COUNT; k++)
                if (g->m->layers[l].lora_A[k] == ps[i].data) {
                    d->l = l;
                    d->k = k;
                }
        cr_assert_geq(d->l, 0, "%s: no layer holds it", ps[i].name);
        d->in = lb_lin_in(c, d->k);
        d->out = lb_lin_out(c, d->k);
        d->r = g->m->layers[d->l].lora_r[d->k];
        d->s = g->m->layers[d->l].lora_s[d->k];
    }
    return n;
}

/* s B A [out, in] in double-accumulated float. */
static float *product(const float *A, const float *B, int out, int in, int r, float s) {
    float *p = malloc(sizeof(float) * (size_t)out * in);
    for (int j = 0; j < out; j++)
        for (int i = 0; i < in; i++) {
            double acc = 0;
            for (int q = 0; q < r; q++) acc += (double)B[j * r + q] * A[q * in + i];
            p[j * in + i] = (float)(s * acc);
        }
    return p;
}

/* +1 / -1 per component: the sign that maps lorabert's A0 row q onto PEFT's. */
static void signs(const float *mine, const float *peft, int r, int in, float *sg) {
    for (int q = 0; q < r; q++) {
        double d = 0;
        for (int i = 0; i < in; i++) d += (double)mine[q * in + i] * peft[q * in + i];
        sg[q] = d < 0 ? -1.0f : 1.0f;
    }
}

/* max |sign-aligned got - ref| / max |ref| for an A-shaped [r, in] or B-shaped [out, r] tensor. */
static double aligned_rel(const float *got, const float *ref, const float *sg, int rows, int cols, bool a_shaped) {
    double md = 0, mr = 0;
    for (int x = 0; x < rows; x++)
        for (int y = 0; y < cols; y++) {
            float s = sg[a_shaped ? x : y];
            md = fmax(md, fabs((double)s * got[x * cols + y] - ref[x * cols + y]));
            mr = fmax(mr, fabs((double)ref[x * cols + y]));
        }
    return mr > 0 ? md / mr : md;
}

static void residual_case(golden *g, size_t c) {
    mod ms[64];
    int n = modules(g, ms, 64), nres = 0;
    for (size_t i = 0; i < lb_st_count(g->f); i++) nres += !strncmp(lb_st_at(g->f, i)->name, "res.", 4);
    cr_assert_eq(n, nres, "%s: %d adapted linears, the golden has %d", CASES[c].name, n, nres);
    double wres = 0, wba = 0, wa = 0, wb = 0;
    for (int i = 0; i < n; i++) {
        mod *d = &ms[i];
        char key[320];
        snprintf(key, sizeof key, "res.%s.weight", d->path);
        int64_t nw = (int64_t)d->in * d->out;
        double dr = max_abs_diff(g->m->layers[d->l].w[d->k], gt(g, key), nw);
        snprintf(key, sizeof key, "ba0.%s", d->path);
        float *ba = product(d->pa->data, d->pb->data, d->out, d->in, d->r, d->s);
        double db = max_abs_diff(ba, gt(g, key), nw);
        free(ba);
        float sg[64];
        signs(d->pa->data, gt(g, d->keyA), d->r, d->in, sg);
        double da = aligned_rel(d->pa->data, gt(g, d->keyA), sg, d->r, d->in, true);
        double dbb = aligned_rel(d->pb->data, gt(g, d->keyB), sg, d->out, d->r, false);
        cr_assert(dr <= 1e-5, "%s %s: residual weight differs by %.3g", CASES[c].name, d->path, dr);
        cr_assert(db <= 1e-5, "%s %s: s B0 A0 differs by %.3g", CASES[c].name, d->path, db);
        /* a singular vector alone is fixed only to about eps / (gap to its neighbours), so the
         * factors get 1e-4; their product (above) and the residual hold the 1e-5 */
        cr_assert(da <= 1e-4 && dbb <= 1e-4, "%s %s: A0 / B0 (signs aligned) rel %.3g / %.3g", CASES[c].name, d->path,
                  da, dbb);
        wres = fmax(wres, dr);
        wba = fmax(wba, db);
        wa = fmax(wa, da);
        wb = fmax(wb, dbb);
    }
    cr_log_info("%s: %d linears; residual %.3g, s B0 A0 %.3g, A0 rel %.3g, B0 rel %.3g", CASES[c].name, n, wres, wba,
                wa, wb);
}

Test(lora_init, residual_and_adapter_match_peft_after_init) { each_case(residual_case); }

static void init_case(golden *g, size_t c) {
    lb_error e = {0};
    int B = g->b.B, NL = g->NL;
    float *logits = g->logits, *dl = g->dl;
    cr_assert_eq(lb_model_forward(g->m, &g->b, true, NULL, logits, &e), LB_OK, "%s", e.msg);
    double dlog = max_abs_diff(logits, gt(g, "init_logits"), (int64_t)B * NL);
    cr_assert(dlog <= 1e-5, "%s: logits at init differ by %.3g", CASES[c].name, dlog);
    float loss = lb_cross_entropy(logits, g->labels, B, NL, dl), rl = *gt(g, "init_loss");
    cr_assert(fabsf(loss - rl) <= 1e-5f * fabsf(rl), "%s: loss %.8g vs %.8g", CASES[c].name, loss, rl);
    lb_model_zero_grad(g->m);
    cr_assert_eq(lb_model_backward(g->m, dl, &e), LB_OK, "%s", e.msg);
    mod ms[64];
    int n = modules(g, ms, 64);
    lb_param *ps;
    int np = lb_model_params(g->m, &ps), ngold = 0;
    for (size_t i = 0; i < lb_st_count(g->f); i++) ngold += !strncmp(lb_st_at(g->f, i)->name, "grad.", 5);
    cr_assert_eq(np, ngold, "%s: %d trainable tensors, %d golden grads", CASES[c].name, np, ngold);
    double worst = 0;
    for (int i = 0; i < np; i++) {
        char key[600];
        snprintf(key, sizeof key, "grad.%s", ps[i].name);
        double rel = -1;
        for (int j = 0; j < n && rel < 0; j++) { /* dL/dA and dL/dB flip with their component */
            float sg[64];
            if (ms[j].pa != &ps[i] && ms[j].pb != &ps[i]) continue;
            signs(ms[j].pa->data, gt(g, ms[j].keyA), ms[j].r, ms[j].in, sg);
            rel = ms[j].pa == &ps[i] ? aligned_rel(ps[i].grad, gt(g, key), sg, ms[j].r, ms[j].in, true)
                                     : aligned_rel(ps[i].grad, gt(g, key), sg, ms[j].out, ms[j].r, false);
        }
        if (rel < 0) rel = rel_diff(ps[i].grad, gt(g, key), ps[i].numel); /* the head */
        worst = fmax(worst, rel);
        cr_assert(rel <= 1e-4, "%s: %s gradient rel %.3g", CASES[c].name, ps[i].name, rel);
    }
    cr_log_info("%s: logits %.3g, loss %.8g, worst gradient rel %.3g over %d tensors", CASES[c].name, dlog, loss, worst,
                np);
}

Test(lora_init, logits_and_gradients_at_init) { each_case(init_case); }

/* 5 AdamW steps on the golden batch; then the converted save (rank 2r over the original base). */
static void trajectory_case(golden *g, size_t c) {
    lb_error e = {0};
    int B = g->b.B, NL = g->NL;
    float *logits = g->logits, *dl = g->dl;
    lb_param *ps;
    int np = lb_model_params(g->m, &ps);
    lb_adamw opt;
    lb_adamw_config oc;
    lb_adamw_defaults(&oc);
    oc.weight_decay = 0.01f;
    cr_assert_eq(lb_adamw_init(&opt, ps, np, &oc, &e), LB_OK, "%s", e.msg);
    const lb_st_tensor *lt = lb_st_find(g->f, "traj_losses");
    const float *rl = gt(g, "traj_losses"), *rn = gt(g, "traj_gnorms");
    for (int64_t s = 0; s < lt->numel; s++) {
        cr_assert_eq(lb_model_forward(g->m, &g->b, true, NULL, logits, &e), LB_OK, "%s", e.msg);
        float loss = lb_cross_entropy(logits, g->labels, B, NL, dl);
        cr_assert(fabsf(loss - rl[s]) <= 1e-3f * fabsf(rl[s]), "%s step %lld: loss %.8g vs %.8g", CASES[c].name,
                  (long long)s, loss, rl[s]);
        lb_model_zero_grad(g->m);
        cr_assert_eq(lb_model_backward(g->m, dl, &e), LB_OK, "%s", e.msg);
        double g2 = 0;
        for (int i = 0; i < np; i++)
            for (int64_t j = 0; j < ps[i].numel; j++) g2 += (double)ps[i].grad[j] * ps[i].grad[j];
        cr_assert(fabs(sqrt(g2) - rn[s]) <= 1e-3 * rn[s], "%s step %lld: grad norm %.8g vs %.8g", CASES[c].name,
                  (long long)s, sqrt(g2), rn[s]);
        lb_adamw_step(&opt, 1e-2);
    }
    mod ms[64];
    int n = modules(g, ms, 64);
    double worst = 0;
    for (int i = 0; i < n; i++) { /* s (B A - B0 A0): what the converted adapter adds to W */
        mod *d = &ms[i];
        const float *A0 = g->m->lora_init0 + (d->pa->data - g->m->train - g->m->lora_init0_off);
        const float *B0 = g->m->lora_init0 + (d->pb->data - g->m->train - g->m->lora_init0_off);
        float *ba = product(d->pa->data, d->pb->data, d->out, d->in, d->r, d->s);
        float *ba0 = product(A0, B0, d->out, d->in, d->r, d->s);
        for (int64_t j = 0; j < (int64_t)d->out * d->in; j++) ba[j] -= ba0[j];
        char key[320];
        snprintf(key, sizeof key, "delta.%s", d->path);
        double rel = rel_diff(ba, gt(g, key), (int64_t)d->out * d->in);
        worst = fmax(worst, rel);
        cr_assert(rel <= 1e-3, "%s %s: final s (B A - B0 A0) rel %.3g", CASES[c].name, d->path, rel);
        free(ba);
        free(ba0);
    }
    cr_assert_eq(lb_model_forward(g->m, &g->b, false, NULL, logits, &e), LB_OK, "%s", e.msg);
    double dfin = max_abs_diff(logits, gt(g, "final_logits"), (int64_t)B * NL);
    cr_assert(dfin <= 1e-3, "%s: final logits differ from PEFT's by %.3g", CASES[c].name, dfin);

    /* saved converted; loaded over the ORIGINAL base as a plain rank-2r adapter */
    char tmpl[] = "/tmp/lb_pissa_XXXXXX";
    cr_assert_not_null(mkdtemp(tmpl));
    cr_assert_eq(lb_peft_save(g->m, tmpl, "base", &e), LB_OK, "%s", e.msg);
    lb_lora_config rc;
    lb_lora_patterns rp;
    cr_assert_eq(lb_peft_read_config(tmpl, &rc, &rp, &e), LB_OK, "%s", e.msg);
    double want_alpha = CASES[c].rslora ? CASES[c].alpha * sqrt(2.0) : 2.0 * CASES[c].alpha;
    cr_assert(rc.r == 2 * CASES[c].r && rc.init == LB_LORA_INIT_DEFAULT && fabs(rc.alpha - want_alpha) < 1e-5,
              "%s: converted config r %d init %d alpha %g", CASES[c].name, rc.r, rc.init, rc.alpha);
    lb_model *m2 = load_base(CASES[c].src);
    cr_assert_eq(lb_peft_load(m2, tmpl, &e), LB_OK, "%s", e.msg);
    cr_assert_null(m2->lora_init0, "a converted adapter is a plain LoRA");
    float *l2 = malloc(sizeof(float) * (size_t)B * NL);
    cr_assert_eq(lb_model_forward(m2, &g->b, false, NULL, l2, &e), LB_OK, "%s", e.msg);
    double dconv = max_abs_diff(l2, logits, (int64_t)B * NL);
    double dpeft = max_abs_diff(l2, gt(g, "conv_logits"), (int64_t)B * NL);
    cr_assert(dconv <= 1e-5, "%s: converted adapter over the original base vs trained: %.3g", CASES[c].name, dconv);
    cr_assert(dpeft <= 1e-3, "%s: vs PEFT's converted adapter: %.3g", CASES[c].name, dpeft);
    /* merge of the converted adapter: the same model again */
    cr_assert_eq(lb_model_merge_lora(m2, &e), LB_OK, "%s", e.msg);
    cr_assert_eq(lb_model_forward(m2, &g->b, false, NULL, l2, &e), LB_OK, "%s", e.msg);
    double dmerge = max_abs_diff(l2, logits, (int64_t)B * NL);
    cr_assert(dmerge <= 1e-5, "%s: merged converted adapter vs trained: %.3g", CASES[c].name, dmerge);
    cr_log_info("%s: %lld steps, loss %.6g -> %.6g, worst delta rel %.3g, final logits %.3g; converted over the "
                "original base %.3g (PEFT's %.3g), merged %.3g",
                CASES[c].name, (long long)lt->numel, rl[0], rl[lt->numel - 1], worst, dfin, dconv, dpeft, dmerge);
    lb_model_free(m2);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpl);
    cr_assert_eq(system(cmd), 0);
    free(l2);
    lb_adamw_free(&opt);
}

Test(lora_init, trajectory_and_converted_save) { each_case(trajectory_case); }

/* A resume checkpoint's copy (lb_peft_save_folder resume_copy) splits back into the trained rank-r
 * adapter over the same residuals, bit for bit. */
Test(lora_init, resume_copy_restores_bitwise) {
    for (size_t c = 0; c < NCASES; c++) {
        golden g;
        open_case(&g, c);
        lb_error e = {0};
        lb_param *ps;
        int np = lb_model_params(g.m, &ps);
        for (int i = 0; i < np; i++) /* move off the init: B A != B0 A0 */
            for (int64_t j = 0; j < ps[i].numel; j++) ps[i].data[j] += 1e-3f * (float)((j * 7 + i) % 13 - 6);
        char tmpl[] = "/tmp/lb_pissa_XXXXXX";
        cr_assert_not_null(mkdtemp(tmpl));
        cr_assert_eq(lb_peft_save_folder(g.m, tmpl, "base", NULL, NULL, true, &e), LB_OK, "%s", e.msg);
        lb_model *m2 = load_base(CASES[c].src);
        cr_assert_eq(lb_peft_load(m2, tmpl, &e), LB_OK, "%s", e.msg);
        const lb_lora_config *a = lb_model_get_lora(g.m), *b = lb_model_get_lora(m2);
        cr_assert(b && b->init == a->init && b->r == a->r && b->alpha == a->alpha && b->use_rslora == a->use_rslora,
                  "%s: restored config", CASES[c].name);
        cr_assert_eq(m2->n_train, g.m->n_train);
        cr_assert_eq(memcmp(m2->train, g.m->train, sizeof(float) * (size_t)g.m->n_train), 0, "%s: A, B, head",
                     CASES[c].name);
        cr_assert_eq(m2->n_init0, g.m->n_init0);
        cr_assert_eq(memcmp(m2->lora_init0, g.m->lora_init0, sizeof(float) * (size_t)g.m->n_init0), 0, "%s: A0, B0",
                     CASES[c].name);
        const lb_model_config *mc = lb_model_get_config(g.m);
        for (int l = 0; l < mc->n_layers; l++)
            for (int k = 0; k < LB_LIN__COUNT; k++) {
                if (!g.m->layers[l].lora_A[k]) continue;
                cr_assert_eq(memcmp(m2->layers[l].w[k], g.m->layers[l].w[k],
                                    sizeof(float) * (size_t)lb_lin_in(mc, k) * lb_lin_out(mc, k)),
                             0, "%s: residual of layer %d linear %d", CASES[c].name, l, k);
                cr_assert_eq(m2->layers[l].lora_s[k], g.m->layers[l].lora_s[k]);
            }
        /* held apart from its base: refused by name */
        lb_model *base = load_base(CASES[c].src);
        lb_lora_adapter *ad = NULL;
        cr_assert_eq(lb_peft_load_apart(base, tmpl, 0, &ad, &e), LB_ERR_UNSUPPORTED);
        cr_assert_not_null(strstr(e.msg, "held apart"), "%s", e.msg);
        lb_model_free(base);
        lb_model_free(m2);
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf %s", tmpl);
        cr_assert_eq(system(cmd), 0);
        close_case(&g);
    }
}

Test(lora_init, refusals_name_the_reason) {
    lb_error e = {0};
    lb_lora_init k;
    cr_assert_eq(lb_lora_init_parse("pissa", &k, &e), LB_OK);
    cr_assert_eq(k, LB_LORA_INIT_PISSA);
    cr_assert_eq(lb_lora_init_parse("olora", &k, &e), LB_OK);
    cr_assert_eq(k, LB_LORA_INIT_OLORA);
    cr_assert_str_eq(lb_lora_init_name(LB_LORA_INIT_OLORA), "olora");
    cr_assert_eq(lb_lora_init_parse("pissa_niter_4", &k, &e), LB_ERR_UNSUPPORTED);
    cr_assert_not_null(strstr(e.msg, "randomized SVD"), "%s", e.msg);
    cr_assert_eq(lb_lora_init_parse("loftq", &k, &e), LB_ERR_UNSUPPORTED);
    cr_assert_not_null(strstr(e.msg, "'loftq' is not supported"), "%s", e.msg);

    lb_model *m = load_base("distilbert_tiny_all");
    lb_lora_config c = {.r = 4, .alpha = 8, .target_mask = 1, .init = LB_LORA_INIT_PISSA, .use_dora = true};
    cr_assert_eq(lb_model_add_lora(m, &c, 1, &e), LB_ERR_UNSUPPORTED);
    cr_assert_not_null(strstr(e.msg, "DoRA"), "%s", e.msg);
    cr_assert_null(lb_model_get_lora(m));
    lb_lora_patterns p = {.n_rank = 1};
    snprintf(p.rank[0].key, sizeof p.rank[0].key, "q_lin");
    p.rank[0].value = 2;
    c = (lb_lora_config){
        .r = 4, .alpha = 8, .target_mask = 1, .init = LB_LORA_INIT_OLORA, .use_rslora = true, .patterns = &p};
    cr_assert_eq(lb_model_add_lora(m, &c, 1, &e), LB_ERR_UNSUPPORTED);
    cr_assert_not_null(strstr(e.msg, "use_rslora and rank_pattern"), "%s", e.msg);
    cr_assert_null(lb_model_get_lora(m));
    lb_model_free(m);

    lb_model *mb = load_base("modernbert_tiny");
    c = (lb_lora_config){.r = 4, .alpha = 8, .target_mask = 1, .init = LB_LORA_INIT_PISSA};
    cr_assert_eq(lb_model_add_lora(mb, &c, 1, &e), LB_ERR_UNSUPPORTED);
    cr_assert_not_null(strstr(e.msg, "ModernBERT"), "%s", e.msg);
    lb_model_free(mb);

    /* a weight holding NaN: refused before anything changes; the model then takes an adapter */
    lb_model *mn = load_base("distilbert_tiny_all");
    float *wq = NULL;
    for (int i = 0; i < mn->n_owned && !wq; i++) /* an owned copy of layer 1's q_lin, writable */
        if (mn->owned[i] == mn->layers[1].w[LB_LIN_Q]) wq = mn->owned[i];
    if (!wq) {
        const lb_model_config *mc = lb_model_get_config(mn);
        int64_t nq = (int64_t)lb_lin_in(mc, LB_LIN_Q) * lb_lin_out(mc, LB_LIN_Q);
        wq = malloc(sizeof(float) * (size_t)nq);
        memcpy(wq, mn->layers[1].w[LB_LIN_Q], sizeof(float) * (size_t)nq);
        mn->owned = realloc(mn->owned, sizeof(float *) * (size_t)(mn->n_owned + 1));
        mn->owned[mn->n_owned++] = wq;
        mn->layers[1].w[LB_LIN_Q] = wq;
    }
    wq[17] = NAN;
    c = (lb_lora_config){.r = 4, .alpha = 8, .target_mask = 1u << LB_LIN_Q, .init = LB_LORA_INIT_PISSA};
    cr_assert_eq(lb_model_add_lora(mn, &c, 1, &e), LB_ERR_FORMAT);
    cr_assert_not_null(strstr(e.msg, "layer 1 q_lin weight holds a non-finite value at 17"), "%s", e.msg);
    cr_assert_null(lb_model_get_lora(mn));
    cr_assert(mn->layers[0].w[LB_LIN_Q] != NULL && mn->layers[1].w[LB_LIN_Q] == wq, "weights untouched");
    c.init = LB_LORA_INIT_DEFAULT;
    cr_assert_eq(lb_model_add_lora(mn, &c, 1, &e), LB_OK, "%s", e.msg);
    lb_model_free(mn);

    /* a PEFT adapter saved unconverted (it fits only PEFT's rewritten base): still refused */
    char tmpl[] = "/tmp/lb_pissa_XXXXXX";
    cr_assert_not_null(mkdtemp(tmpl));
    char *path = lb_path_join(tmpl, "adapter_config.json");
    FILE *f = fopen(path, "w");
    fputs("{\"peft_type\": \"LORA\", \"task_type\": \"SEQ_CLS\", \"r\": 4, \"target_modules\": [\"q_lin\"], "
          "\"init_lora_weights\": \"olora\"}",
          f);
    fclose(f);
    lb_lora_config lc;
    cr_assert_eq(lb_peft_read_config(tmpl, &lc, NULL, &e), LB_ERR_UNSUPPORTED);
    cr_assert_not_null(strstr(e.msg, "path_initial_model_for_weight_conversion"), "%s", e.msg);
    unlink(path);
    rmdir(tmpl);
    free(path);
}
