/* LoRA inits that rewrite the base weights: PEFT 0.14's pissa and olora (model.h lb_lora_init).
 *
 * Owns: the decomposition of each adapted weight (LAPACK through OpenBLAS, in double: dgesdd for
 * pissa, dgeqrf + dorgqr for olora), the initial adapter A0 / B0 kept in m->lora_init0, and the owned
 * residual weights W_res = W - s B0 A0 the adapter trains on; in a data-parallel run, making rank
 * 0's decomposition every rank's (lb_lora_rewrite_sync).
 * Why: PEFT's LoraLayer.pissa_init / olora_init move the principal part of W into the adapter;
 * lorabert trains on the same residual in memory and saves the adapter converted to a plain
 * rank-2r LoRA over the original base (peft.c), as PEFT's
 * save_pretrained(path_initial_model_for_weight_conversion=...) does.
 * Guarantees: A0, B0 as PEFT computes them up to the sign of each singular / QR component
 * (torch's LAPACK and OpenBLAS's may differ there; no product B A depends on it); W_res is
 * accumulated in double from A0, B0 and W, so a restored adapter (a resumed run) gets the same bits
 * on any machine and thread count; the original weights stay in the mapping (nothing is written
 * back to files); after lb_lora_rewrite_sync every rank of a run holds rank 0's A, B, A0, B0 and
 * residuals, whatever its own LAPACK computed. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "model/internal.h"

/* LAPACK (Fortran calling convention; OpenBLAS exports these; the trailing size_t is gfortran's
 * hidden length of the character argument). */
void dgesdd_(const char *jobz, const int *m, const int *n, double *a, const int *lda, double *s, double *u,
             const int *ldu, double *vt, const int *ldvt, double *work, const int *lwork, int *iwork, int *info,
             size_t jobz_len);
void dgeqrf_(const int *m, const int *n, double *a, const int *lda, double *tau, double *work, const int *lwork,
             int *info);
void dorgqr_(const int *m, const int *n, const int *k, double *a, const int *lda, const double *tau, double *work,
             const int *lwork, int *info);

/* The names of every init lorabert has (model.h lb_lora_init), and the refusals of the others. */
static const char *const init_names[LB_LORA_INIT__COUNT] = {"default", "gaussian", "false", "pissa", "olora"};

const char *lb_lora_init_name(int init) { return init >= 0 && init < LB_LORA_INIT__COUNT ? init_names[init] : "?"; }

lb_status lb_lora_init_parse(const char *name, lb_lora_init *init, lb_error *err) {
    if (!name) name = "default";
    if (!strcmp(name, "true")) name = "default";
    for (int i = 0; i < LB_LORA_INIT__COUNT; i++)
        if (!strcmp(name, init_names[i])) {
            *init = (lb_lora_init)i;
            return LB_OK;
        }
    if (!strncmp(name, "pissa_niter_", 12))
        return lb_err(err, LB_ERR_UNSUPPORTED,
                      "LoRA init '%.64s' is not supported: PEFT's randomized SVD (svd_lowrank) is not reproducible; "
                      "use pissa (the full SVD)",
                      name);
    return lb_err(err, LB_ERR_UNSUPPORTED,
                  "LoRA init '%.64s' is not supported (expected default, gaussian, false, pissa or olora)", name);
}

bool lb_lora_init_rewrites_base(int init) { return init == LB_LORA_INIT_PISSA || init == LB_LORA_INIT_OLORA; }

lb_status lb_lora_rewrite_check(const lb_model *m, const lb_lora_config *cfg, lb_error *err) {
    if (!lb_lora_init_rewrites_base(cfg->init)) return LB_OK;
    const char *name = lb_lora_init_name(cfg->init);
    if (cfg->use_dora)
        return lb_err(err, LB_ERR_UNSUPPORTED,
                      "LoRA init %s with DoRA (use_dora) is not supported: the converted adapter lorabert saves "
                      "cannot carry DoRA magnitudes relative to the rewritten base",
                      name);
    if (m->arch->modern)
        return lb_err(err, LB_ERR_UNSUPPORTED,
                      "LoRA init %s is not supported on ModernBERT yet (DistilBERT, BERT, RoBERTa and XLM-RoBERTa "
                      "have it)",
                      name);
    if (cfg->use_rslora && cfg->patterns && (cfg->patterns->n_rank || cfg->patterns->n_alpha))
        return lb_err(err, LB_ERR_UNSUPPORTED,
                      "LoRA init %s with use_rslora and rank_pattern / alpha_pattern together is not supported "
                      "(PEFT cannot convert such an adapter to plain LoRA on save)",
                      name);
    const lb_model_config *c = &m->cfg;
    for (int l = 0; l < c->n_layers; l++)
        for (int k = 0; k < LB_LIN__COUNT; k++) {
            if (!(cfg->target_mask >> k & 1u)) continue;
            const float *w = m->layers[l].w[k];
            if (!w)
                return lb_err(err, LB_ERR_UNSUPPORTED,
                              "LoRA init %s rewrites the base weights: such an adapter cannot be held apart from "
                              "its base model",
                              name);
            int64_t n = (int64_t)lb_lin_in(c, k) * lb_lin_out(c, k);
            for (int64_t i = 0; i < n; i++)
                if (!isfinite(w[i]))
                    return lb_err(err, LB_ERR_FORMAT,
                                  "LoRA init %s: layer %d %s weight holds a non-finite value at %lld: no SVD / QR "
                                  "of it",
                                  name, l, m->arch->lin_short[k], (long long)i);
        }
    return LB_OK;
}

/* pissa: W [out, in] row-major is, read column-major, M = W^T [in, out]; dgesdd gives
 * M = U_M S Vt_M, so W = Vt_M^T S U_M^T: U_M's buffer [k cols of in] is W's Vh [k, in]
 * row-major, Vt_M's [out cols of k] is W's U [out, k] row-major. In double: PEFT's float32 SVD
 * (torch) is off the exact one by about eps32 ||W|| / (S_r - S_r+1) in s B A; a double one
 * rounded once keeps lorabert's own error far below that, so the two differ by torch's alone. */
static lb_status pissa(const float *w, int out, int in, int r, float s, float *A, float *B, lb_error *err) {
    int k = out < in ? out : in, info = 0, lwork = -1;
    double *a = malloc(sizeof(double) * (size_t)out * in), *sv = malloc(sizeof(double) * (size_t)k);
    double *u = malloc(sizeof(double) * (size_t)in * k), *vt = malloc(sizeof(double) * (size_t)k * out);
    int *iwork = malloc(sizeof(int) * 8 * (size_t)k);
    double *work = NULL, q;
    lb_status st = LB_OK;
    if (!a || !sv || !u || !vt || !iwork) {
        st = lb_err(err, LB_ERR_NOMEM, "LoRA init pissa: out of memory");
        goto out;
    }
    for (int64_t i = 0; i < (int64_t)out * in; i++) a[i] = w[i];
    dgesdd_("S", &in, &out, a, &in, sv, u, &in, vt, &k, &q, &lwork, iwork, &info, 1);
    lwork = info == 0 ? (int)q : 0;
    if (info || !(work = malloc(sizeof(double) * (size_t)(lwork > 1 ? lwork : 1)))) {
        st = info
                 ? lb_err(err, LB_ERR_INTERNAL, "LoRA init pissa: LAPACK dgesdd workspace query failed (info %d)", info)
                 : lb_err(err, LB_ERR_NOMEM, "LoRA init pissa: out of memory");
        goto out;
    }
    dgesdd_("S", &in, &out, a, &in, sv, u, &in, vt, &k, work, &lwork, iwork, &info, 1);
    if (info) {
        st = lb_err(err, LB_ERR_UNSUPPORTED, "LoRA init pissa: LAPACK dgesdd failed on a [%d, %d] weight (info %d%s)",
                    out, in, info, info > 0 ? ": no convergence" : "");
        goto out;
    }
    for (int c = 0; c < r; c++) { /* PEFT: Sr /= scaling; A = diag(sqrt(Sr)) Uh_r; B = V_r diag(sqrt(Sr)) */
        double sq = sqrt(sv[c] / (double)s);
        for (int i = 0; i < in; i++) A[(int64_t)c * in + i] = (float)(sq * u[(int64_t)c * in + i]);
        for (int j = 0; j < out; j++) B[(int64_t)j * r + c] = (float)(vt[(int64_t)j * k + c] * sq);
    }
out:
    free(a);
    free(sv);
    free(u);
    free(vt);
    free(iwork);
    free(work);
    return st;
}

/* olora: torch.linalg.qr(W) (reduced): A = R[:r] [r, in], B = Q[:, :r] [out, r]. W is copied
 * column-major [out rows, in cols] (in double, as pissa); Q's first r columns need only the first
 * r reflectors. */
static lb_status olora(const float *w, int out, int in, int r, float *A, float *B, lb_error *err) {
    int k = out < in ? out : in, info = 0, lwork = -1;
    double *a = malloc(sizeof(double) * (size_t)out * in), *tau = malloc(sizeof(double) * (size_t)k);
    double *work = NULL, q1 = 0, q2 = 0;
    lb_status st = LB_OK;
    if (!a || !tau) {
        st = lb_err(err, LB_ERR_NOMEM, "LoRA init olora: out of memory");
        goto out;
    }
    for (int j = 0; j < out; j++)
        for (int i = 0; i < in; i++) a[(int64_t)i * out + j] = w[(int64_t)j * in + i];
    dgeqrf_(&out, &in, a, &out, tau, &q1, &lwork, &info);
    if (!info) dorgqr_(&out, &r, &r, a, &out, tau, &q2, &lwork, &info);
    lwork = (int)fmax(fmax(q1, q2), 1.0);
    if (info || !(work = malloc(sizeof(double) * (size_t)lwork))) {
        st = info ? lb_err(err, LB_ERR_INTERNAL, "LoRA init olora: LAPACK workspace query failed (info %d)", info)
                  : lb_err(err, LB_ERR_NOMEM, "LoRA init olora: out of memory");
        goto out;
    }
    dgeqrf_(&out, &in, a, &out, tau, work, &lwork, &info);
    if (info) {
        st = lb_err(err, LB_ERR_INTERNAL, "LoRA init olora: LAPACK dgeqrf failed (info %d)", info);
        goto out;
    }
    for (int c = 0; c < r; c++) /* R: the upper triangle */
        for (int i = 0; i < in; i++) A[(int64_t)c * in + i] = i >= c ? (float)a[(int64_t)i * out + c] : 0.0f;
    dorgqr_(&out, &r, &r, a, &out, tau, work, &lwork, &info);
    if (info) {
        st = lb_err(err, LB_ERR_INTERNAL, "LoRA init olora: LAPACK dorgqr failed (info %d)", info);
        goto out;
    }
    for (int j = 0; j < out; j++)
        for (int c = 0; c < r; c++) B[(int64_t)j * r + c] = (float)a[(int64_t)c * out + j];
out:
    free(a);
    free(tau);
    free(work);
    return st;
}

/* res = W - s (B0 A0) [out, in], accumulated in double. */
static bool residual_into(float *res, const float *w, const float *A0, const float *B0, int out, int in, int r,
                          float s) {
    double *row = malloc(sizeof(double) * (size_t)in);
    if (!row) return false;
    for (int j = 0; j < out; j++) {
        for (int i = 0; i < in; i++) row[i] = 0;
        for (int q = 0; q < r; q++) {
            double bq = B0[(int64_t)j * r + q];
            const float *aq = A0 + (int64_t)q * in;
            for (int i = 0; i < in; i++) row[i] += bq * aq[i];
        }
        const float *wj = w + (int64_t)j * in;
        for (int i = 0; i < in; i++) res[(int64_t)j * in + i] = (float)((double)wj[i] - (double)s * row[i]);
    }
    free(row);
    return true;
}

/* The same into a new array (malloc'd; NULL: out of memory). */
static float *residual(const float *w, const float *A0, const float *B0, int out, int in, int r, float s) {
    float *res = malloc(sizeof(float) * (size_t)in * out);
    if (res && !residual_into(res, w, A0, B0, out, in, r, s)) {
        free(res);
        res = NULL;
    }
    return res;
}

/* LORABERT_TEST_INIT_SKEW (model.h lb_lora_rewrite_sync): this process's A0 one float step up. */
static void test_skew(float *A0, int64_t n) {
    const char *e = getenv("LORABERT_TEST_INIT_SKEW");
    if (!e || strcmp(e, "1")) return;
    for (int64_t i = 0; i < n; i++) A0[i] = nextafterf(A0[i], INFINITY);
}

static void free_res(float **res, int n) {
    for (int i = 0; i < n; i++) free(res[i]);
}

lb_status lb_lora_rewrite_prepare(lb_model *m, const lb_lora_config *cfg, const int *rr, const float *ss, float *init0,
                                  float **res, lb_error *err) {
    const lb_model_config *c = &m->cfg;
    const char *name = lb_lora_init_name(cfg->init);
    int n = 0;
    int64_t off = 0;
    for (int l = 0; l < c->n_layers; l++)
        for (int k = 0; k < LB_LIN__COUNT; k++) n += (cfg->target_mask >> k & 1u) != 0;
    float **owned = realloc(m->owned, sizeof(float *) * (size_t)(m->n_owned + n)); /* room for the commit */
    if (!owned) return lb_err(err, LB_ERR_NOMEM, "LoRA init %s: out of memory", name);
    m->owned = owned;
    n = 0;
    for (int l = 0; l < c->n_layers; l++)
        for (int k = 0; k < LB_LIN__COUNT; k++) {
            if (!(cfg->target_mask >> k & 1u)) continue;
            const float *w = m->layers[l].w[k];
            int in = lb_lin_in(c, k), out = lb_lin_out(c, k), r = rr[l * LB_LIN__COUNT + k];
            float s = ss[l * LB_LIN__COUNT + k];
            float *A0 = init0 + off, *B0 = A0 + (int64_t)r * in;
            off += (int64_t)r * (in + out);
            lb_status st = cfg->init == LB_LORA_INIT_PISSA ? pissa(w, out, in, r, s, A0, B0, err)
                                                           : olora(w, out, in, r, A0, B0, err);
            if (!st) test_skew(A0, (int64_t)r * in);
            if (!st && !(res[n] = residual(w, A0, B0, out, in, r, s)))
                st = lb_err(err, LB_ERR_NOMEM, "LoRA init %s: out of memory", name);
            if (st) {
                free_res(res, n);
                return lb_err_prefix(err, "layer %d %s", l, m->arch->lin_short[k]);
            }
            n++;
        }
    return LB_OK;
}

void lb_lora_rewrite_commit(lb_model *m, float **res, bool copy_ab) {
    const lb_model_config *c = &m->cfg;
    int n = 0;
    lb_precision_free_packs(m);
    m->fwd_valid = false;
    for (int l = 0; l < c->n_layers; l++)
        for (int k = 0; k < LB_LIN__COUNT; k++) {
            lb_layer_w *lw = &m->layers[l];
            if (!lw->lora_A[k]) continue;
            int in = lb_lin_in(c, k), out = lb_lin_out(c, k), r = lw->lora_r[k];
            if (copy_ab) {
                memcpy(lw->lora_A[k], m->lora_init0 + (lw->lora_A[k] - m->train - m->lora_init0_off),
                       sizeof(float) * (size_t)r * in);
                memcpy(lw->lora_B[k], m->lora_init0 + (lw->lora_B[k] - m->train - m->lora_init0_off),
                       sizeof(float) * (size_t)out * r);
            }
            m->owned[m->n_owned++] = res[n];
            lw->w_src[k] = lw->w[k];
            lw->w[k] = res[n++];
        }
}

lb_status lb_lora_rewrite_restore(lb_model *m, lb_error *err) {
    const lb_model_config *c = &m->cfg;
    const char *name = lb_lora_init_name(m->lora.init);
    int n = 0;
    for (int l = 0; l < c->n_layers; l++)
        for (int k = 0; k < LB_LIN__COUNT; k++) n += m->layers[l].lora_A[k] != NULL;
    float **res = calloc((size_t)n + 1, sizeof *res);
    float **owned = res ? realloc(m->owned, sizeof(float *) * (size_t)(m->n_owned + n)) : NULL;
    if (!owned) {
        free(res);
        return lb_err(err, LB_ERR_NOMEM, "LoRA init %s: out of memory", name);
    }
    m->owned = owned;
    n = 0;
    for (int l = 0; l < c->n_layers; l++)
        for (int k = 0; k < LB_LIN__COUNT; k++) {
            const lb_layer_w *lw = &m->layers[l];
            if (!lw->lora_A[k]) continue;
            const float *A0 = m->lora_init0 + (lw->lora_A[k] - m->train - m->lora_init0_off);
            const float *B0 = m->lora_init0 + (lw->lora_B[k] - m->train - m->lora_init0_off);
            if (!(res[n] =
                      residual(lw->w[k], A0, B0, lb_lin_out(c, k), lb_lin_in(c, k), lw->lora_r[k], lw->lora_s[k]))) {
                free_res(res, n);
                free(res);
                return lb_err(err, LB_ERR_NOMEM, "LoRA init %s: out of memory", name);
            }
            n++;
        }
    lb_lora_rewrite_commit(m, res, false);
    free(res);
    return LB_OK;
}

/* Rank 0's bytes of buf on every rank, through allgather in chunks of at most 1 MiB a rank. */
static lb_status from_rank0(const lb_collective *coll, void *buf, size_t bytes, void *scratch, size_t chunk,
                            const char *name, lb_error *err) {
    for (size_t off = 0; off < bytes; off += chunk) {
        size_t n = bytes - off < chunk ? bytes - off : chunk;
        lb_status st = coll->allgather(coll->user, (char *)buf + off, n, scratch, err);
        if (st) return lb_err_prefix(err, "LoRA init %s: sharing rank 0's decomposition", name);
        memcpy((char *)buf + off, scratch, n); /* rank 0's part comes first */
    }
    return LB_OK;
}

lb_status lb_lora_rewrite_sync(lb_model *m, const lb_collective *coll, lb_error *err) {
    if (!coll || coll->size < 2 || !m->has_lora || !lb_lora_init_rewrites_base(m->lora.init)) return LB_OK;
    const lb_model_config *c = &m->cfg;
    const char *name = lb_lora_init_name(m->lora.init);
    /* every rank says its sizes first: a different layout would mix unrelated bytes */
    int64_t mine[2] = {m->n_train, m->lora_init0 ? m->n_init0 : -1};
    const size_t chunk = (size_t)1 << 20;
    size_t need = sizeof mine > chunk ? sizeof mine : chunk;
    void *scratch = malloc(need * (size_t)coll->size);
    if (!scratch) return lb_err(err, LB_ERR_NOMEM, "LoRA init %s: out of memory", name);
    lb_status st = coll->allgather(coll->user, mine, sizeof mine, scratch, err);
    if (st) {
        free(scratch);
        return lb_err_prefix(err, "LoRA init %s: sharing rank 0's decomposition", name);
    }
    for (int r = 1; r < coll->size; r++) {
        const int64_t *theirs = (const int64_t *)scratch + 2 * r, *first = scratch;
        if (theirs[0] != first[0] || theirs[1] != first[1]) {
            st = lb_err(err, LB_ERR_USAGE,
                        "LoRA init %s: rank %d holds %lld trainable and %lld initial values, rank 0 %lld and %lld: "
                        "every rank needs the same model and adapter options",
                        name, r, (long long)theirs[0], (long long)theirs[1], (long long)first[0], (long long)first[1]);
            free(scratch);
            return st;
        }
    }
    if (mine[1] < 0) { /* no A0 / B0 kept (an adapter merged since): nothing rests on them */
        free(scratch);
        return LB_OK;
    }
    st = from_rank0(coll, m->train, sizeof(float) * (size_t)m->n_train, scratch, chunk, name, err);
    if (!st) st = from_rank0(coll, m->lora_init0, sizeof(float) * (size_t)m->n_init0, scratch, chunk, name, err);
    free(scratch);
    if (st) return st;
    /* the residuals from rank 0's A0 / B0, into the owned arrays that hold them */
    for (int l = 0; l < c->n_layers; l++)
        for (int k = 0; k < LB_LIN__COUNT; k++) {
            lb_layer_w *lw = &m->layers[l];
            if (!lw->lora_A[k] || !lw->w_src[k]) continue;
            float *res = NULL;
            for (int i = 0; i < m->n_owned && !res; i++)
                if (m->owned[i] == lw->w[k]) res = m->owned[i];
            if (!res)
                return lb_err(err, LB_ERR_INTERNAL, "LoRA init %s: layer %d %s: the residual weight is not owned", name,
                              l, m->arch->lin_short[k]);
            const float *A0 = m->lora_init0 + (lw->lora_A[k] - m->train - m->lora_init0_off);
            const float *B0 = m->lora_init0 + (lw->lora_B[k] - m->train - m->lora_init0_off);
            if (!residual_into(res, lw->w_src[k], A0, B0, lb_lin_out(c, k), lb_lin_in(c, k), lw->lora_r[k],
                               lw->lora_s[k]))
                return lb_err(err, LB_ERR_NOMEM, "LoRA init %s: out of memory", name);
        }
    lb_precision_free_packs(m);
    m->fwd_valid = false;
    return LB_OK;
}
