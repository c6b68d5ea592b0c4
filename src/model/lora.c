/* LoRA adapters (PEFT semantics): adding them (PEFT's init_lora_weights: kaiming-uniform A and
 * zero B by default, gaussian A, or both random for false; scaling alpha/r or
 * alpha/sqrt(r)), their forward and backward math inside a block linear (called by the
 * encoder), and folding them into the base weights. Adding an adapter makes the head trainable
 * too (PEFT's SEQ_CLS modules_to_save rule; which tensors that is, and the parameter list with
 * PEFT's saved key names, is the tensor table's: tensors.c).
 *
 * DoRA (PEFT 0.14 use_dora, tuners/lora/dora.py DoraLinearLayer): each adapted linear also has a
 * trainable magnitude m [out], initialised to the row norms ||W_j|| (B = 0 then). Every forward
 * recomputes the row norms n = ||W + s B A||_row, treated as constants (detached, DoRA paper
 * section 4.3), and with f = m / n the linear's output y = x W^T + b becomes
 *   y + (f - 1) z + f s (xd A^T) B^T,
 * where z = y - b without LoRA dropout (or in eval), and z = xd W^T with it (xd the dropped
 * input), as PEFT computes it. Merging writes W' = f (W + s B A). */
#include <cblas.h>
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kernels/kernels.h"
#include "model/internal.h"

int lb_lora_lowest_layer(const lb_model *m) {
    for (int l = 0; l < m->cfg.n_layers; l++) {
        const lb_layer_w *lw = &m->layers[l];
        if (lw->g_ln1_w || lw->g_ln1_b || lw->g_ln2_w || lw->g_ln2_b) return l; /* modules_to_save */
        for (int k = 0; k < LB_LIN__COUNT; k++)
            if (lw->lora_A[k] || lw->g_w[k]) return l;
    }
    return m->cfg.n_layers;
}

const lb_lora_config *lb_model_get_lora(const lb_model *m) { return m->has_lora ? &m->lora : NULL; }
bool lb_model_lora_converted_on_save(const lb_model *m) { return m->lora_init0 != NULL; }

/* ---- rank_pattern / alpha_pattern ------------------------------------------------------- */
/* Nodes of the tree glibc's regcomp builds for key: it compiles "x+" as "x x*", copying x, so
 * every '+' doubles its operand: stacked ("a+++") or nested ("((a+)+)+") repetitions grow as 2^n
 * (a 127-byte key could ask for 2^60 nodes). '*' and '?' copy nothing; bounded repetition is
 * refused before this is asked. Counted in double: no overflow. */
static double regcomp_nodes(const char *key) {
    double total[LB_LORA_PATTERN_KEY + 1], last[LB_LORA_PATTERN_KEY + 1];
    int depth = 0;
    total[0] = last[0] = 0;
    for (size_t i = 0; key[i]; i++) {
        char ch = key[i];
        if (ch == '(' && depth < LB_LORA_PATTERN_KEY) {
            depth++;
            total[depth] = last[depth] = 0;
        } else if (ch == ')' && depth > 0) {
            double g = total[depth--];
            total[depth] += g;
            last[depth] = g;
        } else if (ch == '|') {
            last[depth] = 0;
        } else if (ch == '+') {
            total[depth] += last[depth];
            last[depth] *= 2;
        } else if (ch == '*' || ch == '?') {
            continue;
        } else {
            if (ch == '\\' && key[i + 1]) i++;
            else if (ch == '[') { /* one node: a bracket expression, "[]...]" and "[^]...]" included */
                size_t j = i + 1;
                if (key[j] == '^') j++;
                if (key[j] == ']') j++;
                while (key[j] && key[j] != ']') j++;
                i = key[j] ? j : j - 1;
            }
            total[depth] += 1;
            last[depth] = 1;
        }
    }
    double n = 0;
    for (int d = 0; d <= depth; d++) n += total[d];
    return n;
}

lb_status lb_lora_pattern_check_key(const char *what, const char *key, lb_error *err) {
    size_t n = strlen(key);
    if (n < 1 || n >= LB_LORA_PATTERN_KEY)
        return lb_err(err, LB_ERR_UNSUPPORTED, "%s key of %zu bytes: expected 1..%d", what, n, LB_LORA_PATTERN_KEY - 1);
    bool in_brackets = false;
    for (size_t i = 0; i < n; i++) {
        char ch = key[i], nx = key[i + 1];
        bool bad = false;
        if (ch == '[') in_brackets = true;
        else if (ch == ']') in_brackets = false;
        if (ch == '\\') {
            bad =
                in_brackets || (nx >= 'a' && nx <= 'z') || (nx >= 'A' && nx <= 'Z') || (nx >= '0' && nx <= '9') || !nx;
            i++;
        } else if (ch == '(' && nx == '?') bad = true;
        else if ((ch == '*' || ch == '+' || ch == '?' || ch == '}') && nx == '?') bad = true;
        else if (ch == '{') bad = true; /* bounded repetition: regcomp expands it (a{255}{255}...) */
        if (bad)
            return lb_err(err, LB_ERR_UNSUPPORTED,
                          "%s key '%.127s': Python-only regular expression syntax (\\d, (?...), lazy quantifiers, "
                          "escapes in brackets) and bounded repetition {m,n} are not supported",
                          what, key);
    }
    if (regcomp_nodes(key) > LB_LORA_PATTERN_NODES)
        return lb_err(err, LB_ERR_UNSUPPORTED,
                      "%s key '%.127s': its repetitions ('+' after '+', or on a group holding '+') expand past "
                      "%d pattern nodes",
                      what, key, LB_LORA_PATTERN_NODES);
    char pat[LB_LORA_PATTERN_KEY + 16];
    snprintf(pat, sizeof pat, "^(.*\\.%s$)", key);
    regex_t re;
    if (regcomp(&re, pat, REG_EXTENDED | REG_NOSUB))
        return lb_err(err, LB_ERR_UNSUPPORTED, "%s key '%.127s' is not a regular expression lorabert reads", what, key);
    regfree(&re);
    return LB_OK;
}

/* re.match(f".*\.{key}$", module) */
static bool key_matches(const char *key, const char *module) {
    char pat[LB_LORA_PATTERN_KEY + 16];
    snprintf(pat, sizeof pat, "^(.*\\.%s$)", key);
    regex_t re;
    if (regcomp(&re, pat, REG_EXTENDED | REG_NOSUB)) return false; /* checked when the config was read */
    bool hit = regexec(&re, module, 0, NULL, 0) == 0;
    regfree(&re);
    return hit;
}

static const lb_lora_pattern *lookup(const lb_lora_pattern *p, int n, const char *key) {
    for (int i = 0; i < n; i++)
        if (!strcmp(p[i].key, key)) return &p[i];
    return NULL;
}

/* The first key of p matching module (NULL: none); two matching keys with different values
 * are refused. */
static lb_status first_match(const char *what, const lb_lora_pattern *p, int n, const char *module,
                             const lb_lora_pattern **hit, lb_error *err) {
    *hit = NULL;
    for (int i = 0; i < n; i++) {
        if (!key_matches(p[i].key, module)) continue;
        if (!*hit) *hit = &p[i];
        else if ((*hit)->value != p[i].value)
            return lb_err(err, LB_ERR_UNSUPPORTED,
                          "%s keys '%s' and '%s' both match module %s with different values (PEFT takes the first "
                          "in the dict's order, which saving sorts): make them exclusive",
                          what, (*hit)->key, p[i].key, module);
    }
    return LB_OK;
}

lb_status lb_lora_module_params(const lb_lora_config *cfg, const char *module, int *r, float *alpha, lb_error *err) {
    static const lb_lora_patterns none = {0};
    const lb_lora_patterns *p = cfg->patterns ? cfg->patterns : &none;
    const lb_lora_pattern *hr, *ha;
    lb_status st = first_match("rank_pattern", p->rank, p->n_rank, module, &hr, err);
    if (!st) st = first_match("alpha_pattern", p->alpha, p->n_alpha, module, &ha, err);
    if (st) return st;
    /* PEFT >= 0.7: each dict on its own; no match looks the module's own name up */
    const lb_lora_pattern *nr = hr ? hr : lookup(p->rank, p->n_rank, module);
    const lb_lora_pattern *na = ha ? ha : lookup(p->alpha, p->n_alpha, module);
    /* PEFT 0.6.2: the first match of rank_pattern then alpha_pattern keys, for both */
    const char *k0 = hr ? hr->key : ha ? ha->key : module;
    const lb_lora_pattern *orr = lookup(p->rank, p->n_rank, k0);
    const lb_lora_pattern *oa = lookup(p->alpha, p->n_alpha, k0);
    double r_new = nr ? nr->value : cfg->r, a_new = na ? na->value : cfg->alpha;
    double r_old = orr ? orr->value : cfg->r, a_old = oa ? oa->value : cfg->alpha;
    if (r_new != r_old || a_new != a_old)
        return lb_err(err, LB_ERR_UNSUPPORTED,
                      "module %s: rank_pattern key '%s' and alpha_pattern key '%s' both match it; PEFT 0.6 reads "
                      "r %g alpha %g, later PEFT r %g alpha %g: name the module the same way in both",
                      module, hr ? hr->key : "-", ha ? ha->key : "-", r_old, a_old, r_new, a_new);
    *r = (int)r_new;
    *alpha = (float)a_new;
    return LB_OK;
}

/* Each adapted linear's rank and scaling under cfg, into rr/ss [n_layers * LB_LIN__COUNT]. */
static lb_status resolve_modules(const lb_model *m, const lb_lora_config *cfg, int *rr, float *ss, int *rmax,
                                 lb_error *err) {
    const lb_model_config *c = &m->cfg;
    *rmax = 0;
    char key[LB_TENSOR_KEY_MAX + 64];
    for (int i = 0; i < m->n_tensors; i++) {
        const lb_tensor *e = &m->tensors[i];
        if (e->lin < 0 || !(cfg->target_mask & (1u << e->lin))) continue;
        lb_tensor_full_key(m, e, key, sizeof key);
        size_t n = strlen(key);
        if (n > 7 && !strcmp(key + n - 7, ".weight")) key[n - 7] = 0; /* the module path */
        int r;
        float alpha;
        lb_status st = lb_lora_module_params(cfg, key, &r, &alpha, err);
        if (st) return st;
        if (r < 1 || r > c->dim)
            return lb_err(err, LB_ERR_USAGE, "LoRA: rank r=%d of %s, expected 1..%d", r, key, c->dim);
        if (!isfinite(alpha)) return lb_err(err, LB_ERR_USAGE, "LoRA: alpha of %s is not finite", key);
        int at = e->layer * LB_LIN__COUNT + e->lin;
        rr[at] = r;
        ss[at] = cfg->use_rslora ? alpha / sqrtf((float)r) : alpha / (float)r;
        if (r > *rmax) *rmax = r;
    }
    return LB_OK;
}

/* ---- modules_to_save ------------------------------------------------------------------------ */
static bool ends_with(const char *s, size_t n, const char *t) {
    size_t k = strlen(t);
    return n >= k && !memcmp(s + n - k, t, k);
}

/* PEFT 0.6.2 _set_trainable: every module of the PeftModel whose name ends with a listed name is
 * wrapped (ModulesToSaveWrapper) and trains in full. The modules are the prefixes of each
 * tensor's "base_model.model.<key>" at its dots; lorabert trains the matched blocks' linears
 * and LayerNorms (tensors with a gradient field, e->g; a linear that is also a LoRA target is
 * refused) and the head (already trainable). mark[i] is set for the
 * tensors to train; *values their total. Any other match, or a name matching nothing, is refused
 * by name. */
static lb_status resolve_mts(const lb_model *m, const lb_lora_config *cfg, bool *mark, int64_t *values, lb_error *err) {
    *values = 0;
    char full[LB_TENSOR_KEY_MAX + 64], key[LB_TENSOR_KEY_MAX + 32];
    int nm = cfg->patterns ? cfg->patterns->n_mts : 0;
    for (int j = 0; j < nm; j++) {
        const char *t = cfg->patterns->mts[j];
        bool head_name = !strcmp(t, "classifier") || !strcmp(t, "score") || !strcmp(t, "pre_classifier");
        bool any = false;
        /* The PeftModel's own wrappers: "base_model" and "base_model.model" hold everything. */
        if (ends_with("base_model", 10, t) || ends_with("base_model.model", 16, t))
            return lb_err(err, LB_ERR_UNSUPPORTED,
                          "modules_to_save \"%s\" matches the whole model (base_model / base_model.model)", t);
        for (int i = 0; i < m->n_tensors; i++) {
            const lb_tensor *e = &m->tensors[i];
            lb_tensor_full_key(m, e, key, sizeof key);
            snprintf(full, sizeof full, "base_model.model.%s", key);
            size_t leaf = strrchr(full, '.') - full; /* the tensor's own module ends there */
            for (size_t n = 17; n <= leaf; n++) {
                if (full[n] != '.' || !ends_with(full, n, t)) continue;
                any = true;
                if (e->head) break; /* the head trains anyway */
                if (n == leaf && e->g && !m->arch->modern) {
                    if (e->lin >= 0 && (cfg->target_mask >> e->lin & 1u))
                        return lb_err(err, LB_ERR_UNSUPPORTED,
                                      "modules_to_save \"%s\" matches %.*s, which is also a LoRA target "
                                      "(target_modules): a module is adapted or trained in full, not both",
                                      t, (int)(n - 17), full + 17);
                    if (!*e->w)
                        return lb_err(err, LB_ERR_UNSUPPORTED,
                                      "modules_to_save \"%s\": an adapter held apart from its base model cannot "
                                      "train base modules in full: load it as the model's own adapter",
                                      t);
                    if (!mark[i]) *values += e->numel;
                    mark[i] = true;
                    break;
                }
                return lb_err(err, LB_ERR_UNSUPPORTED,
                              "modules_to_save \"%s\" matches %.*s, which lorabert cannot train in full (it trains "
                              "the encoder blocks' linears and LayerNorms and the classification head; not "
                              "embeddings, the pooler or modules holding others%s)",
                              t, (int)(n - 17), full + 17, m->arch->modern ? ", nor any module of ModernBERT" : "");
            }
        }
        if (!any && !head_name)
            return lb_err(err, LB_ERR_UNSUPPORTED, "modules_to_save \"%s\" names no module of this %s model", t,
                          m->arch->model_type);
    }
    return LB_OK;
}

lb_status lb_lora_mts_check(const lb_model *m, const lb_lora_config *cfg, lb_error *err) {
    if (!cfg->patterns || !cfg->patterns->n_mts) return LB_OK;
    bool *mark = calloc((size_t)m->n_tensors, sizeof(bool));
    if (!mark) return lb_err(err, LB_ERR_NOMEM, "LoRA: out of memory");
    int64_t n;
    lb_status st = resolve_mts(m, cfg, mark, &n, err);
    free(mark);
    return st;
}

lb_status lb_model_add_lora(lb_model *m, const lb_lora_config *cfg, uint64_t seed, lb_error *err) {
    return lb_lora_add(m, cfg, seed, false, err);
}

lb_status lb_lora_add(lb_model *m, const lb_lora_config *cfg, uint64_t seed, bool restore, lb_error *err) {
    const lb_model_config *c = &m->cfg;
    if (m->has_lora) return lb_err(err, LB_ERR_USAGE, "LoRA: the model already has an adapter");
    if (cfg->r < 1 || cfg->r > c->dim)
        return lb_err(err, LB_ERR_USAGE, "LoRA: rank r=%d, expected 1..%d", cfg->r, c->dim);
    if (!(cfg->dropout >= 0.0f && cfg->dropout < 1.0f))
        return lb_err(err, LB_ERR_USAGE, "LoRA: dropout %g, expected [0, 1)", (double)cfg->dropout);
    if (!isfinite(cfg->alpha)) return lb_err(err, LB_ERR_USAGE, "LoRA: alpha is not finite");
    if (cfg->init < 0 || cfg->init >= LB_LORA_INIT__COUNT)
        return lb_err(err, LB_ERR_USAGE, "LoRA: init %d, expected 0..%d", cfg->init, LB_LORA_INIT__COUNT - 1);
    if (cfg->target_mask >> LB_LIN__COUNT)
        return lb_err(err, LB_ERR_USAGE, "LoRA: target mask 0x%x names unknown layers", cfg->target_mask);
    for (int k = 0; k < LB_LIN__COUNT; k++)
        if ((cfg->target_mask >> k & 1u) && !lb_lin_present(m->arch, k))
            return lb_err(err, LB_ERR_USAGE, "LoRA: %s blocks have no separate %s projection (its linears: %s)",
                          m->arch->model_type, k == LB_LIN_K ? "key" : "value", "Wqkv, attn.Wo, Wi, mlp.Wo");
    if (cfg->use_dora && !strcmp(m->arch->model_type, "modernbert"))
        return lb_err(err, LB_ERR_UNSUPPORTED,
                      "LoRA: DoRA (use_dora) is not supported on ModernBERT yet (DistilBERT, BERT, RoBERTa and "
                      "XLM-RoBERTa have it)");
    if (cfg->use_dora)
        for (int l = 0; l < c->n_layers; l++)
            for (int k = 0; k < LB_LIN__COUNT; k++)
                if ((cfg->target_mask & (1u << k)) && !m->layers[l].w[k])
                    return lb_err(err, LB_ERR_UNSUPPORTED,
                                  "LoRA: a DoRA adapter (use_dora) cannot be held apart from its base model (its "
                                  "magnitudes are relative to the base weights): load it as the model's own adapter");
    lb_status rwst = lb_lora_rewrite_check(m, cfg, err);
    if (rwst) return rwst;
    int nlk = c->n_layers * LB_LIN__COUNT, rmax = 0;
    int *rr = calloc((size_t)nlk, sizeof(int));
    float *ss = calloc((size_t)nlk, sizeof(float));
    lb_lora_patterns *pats = cfg->patterns ? malloc(sizeof *pats) : NULL;
    if (!rr || !ss || (cfg->patterns && !pats)) {
        free(rr);
        free(ss);
        free(pats);
        return lb_err(err, LB_ERR_NOMEM, "LoRA: out of memory");
    }
    if (pats) *pats = *cfg->patterns;
    bool *mark = calloc((size_t)m->n_tensors, sizeof(bool));
    int64_t nmts = 0;
    lb_status rst =
        mark ? resolve_modules(m, cfg, rr, ss, &rmax, err) : lb_err(err, LB_ERR_NOMEM, "LoRA: out of memory");
    if (!rst) rst = resolve_mts(m, cfg, mark, &nmts, err);
    if (rst) {
        free(mark);
        free(rr);
        free(ss);
        free(pats);
        return rst;
    }
    int64_t hn = m->n_head, total = hn + nmts, ndora = 0, maxw = 0, nkey = 0;
    for (int l = 0; l < c->n_layers; l++)
        for (int k = 0; k < LB_LIN__COUNT; k++)
            if (cfg->target_mask & (1u << k)) {
                total += (int64_t)rr[l * LB_LIN__COUNT + k] * (lb_lin_in(c, k) + lb_lin_out(c, k));
                if (!cfg->use_dora) continue;
                total += lb_lin_out(c, k);
                ndora += 2 * (int64_t)lb_lin_out(c, k);
                nkey += (int64_t)rr[l * LB_LIN__COUNT + k] * (lb_lin_in(c, k) + lb_lin_out(c, k)) + lb_lin_out(c, k);
                if ((int64_t)lb_lin_in(c, k) * lb_lin_out(c, k) > maxw)
                    maxw = (int64_t)lb_lin_in(c, k) * lb_lin_out(c, k);
            }
    float *blk = calloc((size_t)total, sizeof(float)), *grad = calloc((size_t)total, sizeof(float));
    float *dbuf = ndora ? malloc(sizeof(float) * (size_t)(ndora + maxw + nkey)) : NULL;
    bool rewrite = lb_lora_init_rewrites_base(cfg->init);
    float *init0 = rewrite ? calloc((size_t)(total - hn - nmts) + 1, sizeof(float)) : NULL;
    float **res = rewrite ? calloc((size_t)nlk + 1, sizeof(float *)) : NULL;
    lb_status pst = !blk || !grad || (ndora && !dbuf) || (rewrite && (!init0 || !res))
                        ? lb_err(err, LB_ERR_NOMEM, "LoRA: out of memory for %lld trainable values", (long long)total)
                        : LB_OK;
    /* pissa / olora: decomposed before anything of m changes (a failure leaves m as it was) */
    if (!pst && rewrite && !restore) pst = lb_lora_rewrite_prepare(m, cfg, rr, ss, init0, res, err);
    if (pst) {
        free(blk);
        free(grad);
        free(dbuf);
        free(init0);
        free(res);
        free(mark);
        free(rr);
        free(ss);
        free(pats);
        return pst;
    }
    free(m->dora_buf);
    m->dora_buf = dbuf;
    m->dora_delta = dbuf ? dbuf + ndora : NULL;
    float *dp = dbuf, *kp = dbuf ? dbuf + ndora + maxw : NULL;
    memcpy(blk, m->train, sizeof(float) * (size_t)hn); /* the head keeps its values */
    /* modules_to_save: a trainable copy of each marked tensor after the head (PEFT's
     * ModulesToSaveWrapper copies the module), bound like the head's. */
    for (int i = 0; i < m->n_tensors; i++) {
        lb_tensor *e = &m->tensors[i];
        if (!mark[i]) continue;
        memcpy(blk + m->n_head, *e->w, sizeof(float) * (size_t)e->numel);
        e->head = e->mts = true;
        e->off = m->n_head;
        m->n_head += e->numel;
    }
    free(mark);
    hn = m->n_head;
    free(m->train);
    free(m->train_grad);
    m->train = blk;
    m->train_grad = grad;
    m->n_train = total;
    lb_tensors_bind_head(m, blk, grad);
    m->lora = *cfg;
    free(m->lora_patterns);
    m->lora_patterns = pats;
    m->lora.patterns = pats;
    m->lora_scaling = cfg->use_rslora ? cfg->alpha / sqrtf((float)cfg->r) : cfg->alpha / (float)cfg->r;
    m->has_lora = true;
    m->lora_rmax = rmax;
    free(m->lora_init0);
    m->lora_init0 = init0; /* pissa / olora: A0, B0 of the adapter part (after the head's) */
    m->lora_init0_off = hn;
    m->n_init0 = rewrite ? total - hn : 0;

    lb_rng rng;
    lb_rng_seed_stream(&rng, seed, 0x4c4f5241ull /* "LORA" */);
    float *p = blk + hn, *g = grad + hn;
    for (int l = 0; l < c->n_layers; l++) {
        lb_layer_w *lw = &m->layers[l];
        for (int k = 0; k < LB_LIN__COUNT; k++) {
            if (!(cfg->target_mask & (1u << k))) continue;
            int in = lb_lin_in(c, k), out = lb_lin_out(c, k), r = rr[l * LB_LIN__COUNT + k];
            lw->lora_r[k] = r;
            lw->lora_s[k] = ss[l * LB_LIN__COUNT + k];
            lw->lora_A[k] = p;
            lw->grad_A[k] = g;
            p += (int64_t)r * in;
            g += (int64_t)r * in;
            lw->lora_B[k] = p;
            lw->grad_B[k] = g;
            p += (int64_t)out * r;
            g += (int64_t)out * r;
            if (rewrite) {
                /* pissa / olora: A0 and B0 from the weight (lb_lora_rewrite_commit below) */
            } else if (cfg->init == LB_LORA_INIT_GAUSSIAN) {
                /* nn.init.normal_(std=1/r); B stays 0 */
                const double sd = 1.0 / (double)r;
                for (int64_t i = 0; i < (int64_t)r * in; i++) lw->lora_A[k][i] = (float)(lb_rng_normal(&rng) * sd);
            } else {
                /* kaiming_uniform_(a=sqrt(5)) on [r, in]: bound = 1/sqrt(in); B stays 0 ... */
                float bound = 1.0f / sqrtf((float)in);
                for (int64_t i = 0; i < (int64_t)r * in; i++)
                    lw->lora_A[k][i] = (2.0f * lb_rng_uniform(&rng) - 1.0f) * bound;
                if (cfg->init == LB_LORA_INIT_NONE) {
                    /* ... unless init_lora_weights=false: B keeps nn.Linear's init, U(+-1/sqrt(r)) */
                    float bb = 1.0f / sqrtf((float)r);
                    for (int64_t i = 0; i < (int64_t)out * r; i++)
                        lw->lora_B[k][i] = (2.0f * lb_rng_uniform(&rng) - 1.0f) * bb;
                }
            }
            if (!cfg->use_dora) continue;
            lw->dora_mag[k] = p;
            lw->grad_mag[k] = g;
            p += out;
            g += out;
            lw->dora_norm[k] = dp;
            lw->dora_f[k] = dp + out;
            dp += 2 * (int64_t)out;
            lw->dora_key[k] = kp;
            kp += (int64_t)r * (in + out) + out;
            /* PEFT dora_init: magnitude = ||W + s B A||_row (after A and B are initialised). */
            lb_dora_factors(m, lw, k);
            memcpy(lw->dora_mag[k], lw->dora_norm[k], sizeof(float) * (size_t)out);
        }
    }
    free(rr);
    free(ss);
    m->fwd_valid = false;
    if (rewrite && !restore) lb_lora_rewrite_commit(m, res, true);
    free(res);
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
            int in = lb_lin_in(c, k), out = lb_lin_out(c, k), r = lw->lora_r[k];
            float *w = malloc(sizeof(float) * (size_t)in * out);
            if (!w) return lb_err(err, LB_ERR_NOMEM, "merge: out of memory");
            memcpy(w, lw->w[k], sizeof(float) * (size_t)in * out);
            /* W += scaling * B @ A  ([out, r] @ [r, in]) */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, out, in, r, lw->lora_s[k], lw->lora_B[k], r,
                        lw->lora_A[k], in, 1.0f, w, in);
            if (lw->dora_mag[k]) /* PEFT: W = (m / ||W + dW||_row) (W + dW) */
                for (int j = 0; j < out; j++) {
                    float *row = w + (int64_t)j * in;
                    float fj = lw->dora_mag[k][j] / lb_dora_row_norm(row, in);
                    for (int i = 0; i < in; i++) row[i] *= fj;
                }
            m->owned[m->n_owned++] = w;
            lw->w[k] = w;
            lw->lora_A[k] = lw->lora_B[k] = lw->grad_A[k] = lw->grad_B[k] = NULL;
            lw->dora_mag[k] = lw->grad_mag[k] = lw->dora_norm[k] = lw->dora_f[k] = lw->dora_key[k] = NULL;
            lw->dora_cached[k] = false;
        }
    free(m->dora_buf);
    m->dora_buf = m->dora_delta = NULL;
    free(m->lora_init0); /* pissa / olora: the merged weights are W_res + s B A, the trained model */
    m->lora_init0 = NULL;
    m->n_init0 = 0;
    /* modules_to_save copies become the merged model's own (frozen) weights. */
    int nmts = 0;
    for (int i = 0; i < m->n_tensors; i++) nmts += m->tensors[i].mts;
    if (nmts) {
        float **ow = realloc(m->owned, sizeof(float *) * (size_t)(m->n_owned + nmts));
        if (!ow) return lb_err(err, LB_ERR_NOMEM, "merge: out of memory");
        m->owned = ow;
    }
    for (int i = 0; i < m->n_tensors; i++) {
        lb_tensor *e = &m->tensors[i];
        if (!e->mts) continue;
        float *w = malloc(sizeof(float) * (size_t)e->numel);
        if (!w) return lb_err(err, LB_ERR_NOMEM, "merge: out of memory");
        memcpy(w, m->train + e->off, sizeof(float) * (size_t)e->numel);
        m->owned[m->n_owned++] = w;
        *e->w = w;
        *e->g = NULL;
        e->head = e->mts = false;
        m->n_head -= e->numel;
        e->off = 0;
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
float lb_dora_row_norm(const float *row, int n) {
    double s2 = 0;
    for (int i = 0; i < n; i++) s2 += (double)row[i] * row[i];
    return (float)sqrt(s2);
}

void lb_dora_factors(const lb_model *m, lb_layer_w *lw, int k) {
    const lb_model_config *c = &m->cfg;
    int in = lb_lin_in(c, k), out = lb_lin_out(c, k), r = lw->lora_r[k];
    float s = lw->lora_s[k], *d = m->dora_delta;
    const float *W = lw->w[k];
    lw->dora_cached[k] = false; /* lb_dora_eval's key no longer describes dora_f */
    /* PEFT get_weight_norm: (W + s (B A)) row by row, in float, then its L2 norm. */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, out, in, r, 1.0f, lw->lora_B[k], r, lw->lora_A[k], in, 0.0f,
                d, in);
    for (int j = 0; j < out; j++) {
        float *row = d + (int64_t)j * in;
        const float *wr = W + (int64_t)j * in;
        for (int i = 0; i < in; i++) row[i] = wr[i] + s * row[i];
        lw->dora_norm[k][j] = lb_dora_row_norm(row, in);
        lw->dora_f[k][j] = lw->dora_mag[k] ? lw->dora_mag[k][j] / lw->dora_norm[k][j] : 1.0f;
    }
}

/* y [rows, ldy] += (f - 1) z + f v, v [rows, out] = s (xd A^T) B^T (in w on entry); z = y - bias
 * (z NULL: no LoRA dropout) or z [rows, out]. On return w holds z + v (the magnitude gradient's
 * factor). */
static void dora_combine(const float *f, const float *bias, const float *z, float *w, int rows, int out, float *y,
                         int ldy) {
    for (int i = 0; i < rows; i++) {
        float *yr = y + (int64_t)i * ldy, *wr = w + (int64_t)i * out;
        const float *zr = z ? z + (int64_t)i * out : NULL;
        for (int j = 0; j < out; j++) {
            float zz = zr ? zr[j] : bias ? yr[j] - bias[j] : yr[j];
            yr[j] += (f[j] - 1.0f) * zz + f[j] * wr[j];
            wr[j] += zz;
        }
    }
}

void lb_lora_forward(const lb_model *m, lb_layer_act *a, lb_layer_w *lw, int k, const float *x, int rows, float *y,
                     int ldy, const float *bias, lb_rng *rng) {
    const lb_model_config *c = &m->cfg;
    int in = lb_lin_in(c, k), out = lb_lin_out(c, k), r = lw->lora_r[k];
    const float *xd = x;
    if (a->lkeep[k]) {
        lb_dropout_mask(a->lkeep[k], (int64_t)rows * in, m->p_lora, rng);
        lb_dropout_forward(a->ldrop[k], x, a->lkeep[k], (int64_t)rows * in, m->p_lora);
        xd = a->ldrop[k];
    }
    a->lx[k] = xd;
    lb_linear_forward(a->lu[k], r, xd, in, lw->lora_A[k], NULL, rows, in, r);
    if (!lw->dora_mag[k]) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, out, r, lw->lora_s[k], a->lu[k], r, lw->lora_B[k], r,
                    1.0f, y, ldy);
        return;
    }
    lb_dora_factors(m, lw, k);
    float *w = a->ldw[k], *z = NULL;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, out, r, lw->lora_s[k], a->lu[k], r, lw->lora_B[k], r,
                0.0f, w, out);
    if (a->lkeep[k]) { /* PEFT: base_result = F.linear(dropout(x), W) */
        z = m->dora_tmp;
        lb_linear_forward(z, out, xd, in, lw->w[k], NULL, rows, in, out);
    }
    dora_combine(lw->dora_f[k], bias, z, w, rows, out, y, ldy);
}

/* The plain LoRA gradients for dy [rows, lddy] (DoRA: already scaled by f). */
static void lora_grads(const lb_model *m, const lb_layer_act *a, lb_layer_w *lw, int k, int rows, const float *dy,
                       int lddy, float *dx, float *du, float *tmp) {
    const lb_model_config *c = &m->cfg;
    int in = lb_lin_in(c, k), out = lb_lin_out(c, k), r = lw->lora_r[k];
    float s = lw->lora_s[k];
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

const float *lb_dora_scaled_dy(const lb_layer_act *a, const lb_layer_w *lw, int k, int rows, int out, const float *dy,
                               int lddy, float *buf) {
    if (!lw->dora_mag[k] || a->lkeep[k]) return dy;
    const float *f = lw->dora_f[k];
    for (int i = 0; i < rows; i++) {
        const float *dr = dy + (int64_t)i * lddy;
        float *br = buf + (int64_t)i * out;
        for (int j = 0; j < out; j++) br[j] = dr[j] * f[j];
    }
    return buf;
}

void lb_lora_backward(const lb_model *m, const lb_layer_act *a, lb_layer_w *lw, int k, int rows, const float *dy,
                      int lddy, const float *dyf, float *dx, float *du, float *tmp, float *dscr) {
    if (!lw->dora_mag[k]) {
        lora_grads(m, a, lw, k, rows, dy, lddy, dx, du, tmp);
        return;
    }
    const lb_model_config *c = &m->cfg;
    int in = lb_lin_in(c, k), out = lb_lin_out(c, k);
    const float *f = lw->dora_f[k], *nrm = lw->dora_norm[k], *w = a->ldw[k];
    /* magnitude: dL/dm_j = sum_i dy_ij (z + v)_ij / n_j (n detached) */
    for (int i = 0; i < rows; i++) {
        const float *dr = dy + (int64_t)i * lddy, *wr = w + (int64_t)i * out;
        for (int j = 0; j < out; j++) lw->grad_mag[k][j] += dr[j] * wr[j] / nrm[j];
    }
    if (dyf) { /* the caller's base path took f dy: it holds the (f - 1) z term already */
        lora_grads(m, a, lw, k, rows, dyf, out, dx, du, tmp);
        return;
    }
    /* A, B and the adapter path of dx see dy scaled by f. */
    for (int i = 0; i < rows; i++) {
        const float *dr = dy + (int64_t)i * lddy;
        float *dd = dscr + (int64_t)i * out;
        for (int j = 0; j < out; j++) dd[j] = dr[j] * f[j];
    }
    lora_grads(m, a, lw, k, rows, dscr, out, dx, du, tmp);
    if (!dx) return;
    /* The (f - 1) z term with z on the dropped input: dx += mask ((f - 1) dy) W / (1 - p). */
    for (int i = 0; i < rows; i++) {
        const float *dr = dy + (int64_t)i * lddy;
        float *dd = dscr + (int64_t)i * out;
        for (int j = 0; j < out; j++) dd[j] = dr[j] * (f[j] - 1.0f);
    }
    if (a->lkeep[k]) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, in, out, 1.0f, dscr, out, lw->w[k], in, 0.0f, tmp,
                    in);
        float sc = 1.0f / (1.0f - m->p_lora);
        const uint8_t *kp = a->lkeep[k];
        for (int64_t i = 0; i < (int64_t)rows * in; i++) dx[i] += kp[i] ? tmp[i] * sc : 0.0f;
    } else {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, in, out, 1.0f, dscr, out, lw->w[k], in, 1.0f, dx,
                    in);
    }
}

void lb_dora_eval(const lb_model *m, lb_layer_act *a, lb_layer_w *lw, int k, const float *x, int rows, float *y,
                  int ldy, const float *bias) {
    const lb_model_config *c = &m->cfg;
    int in = lb_lin_in(c, k), out = lb_lin_out(c, k), r = lw->lora_r[k];
    size_t na = (size_t)r * in, nb = (size_t)out * r;
    float *key = lw->dora_key[k];
    /* a linear modules_to_save trains (g_w) changes its weight in place: never cached */
    bool same = lw->dora_cached[k] && !lw->g_w[k] && lw->dora_key_w[k] == lw->w[k] &&
                lw->dora_key_s[k] == lw->lora_s[k] && !memcmp(key, lw->lora_A[k], sizeof(float) * na) &&
                !memcmp(key + na, lw->lora_B[k], sizeof(float) * nb) &&
                !memcmp(key + na + nb, lw->dora_mag[k], sizeof(float) * (size_t)out);
    if (!same) {
        lb_dora_factors(m, lw, k);
        memcpy(key, lw->lora_A[k], sizeof(float) * na);
        memcpy(key + na, lw->lora_B[k], sizeof(float) * nb);
        memcpy(key + na + nb, lw->dora_mag[k], sizeof(float) * (size_t)out);
        lw->dora_key_w[k] = lw->w[k];
        lw->dora_key_s[k] = lw->lora_s[k];
        lw->dora_cached[k] = true;
    }
    lb_linear_rows(a->lu[k], r, x, in, lw->lora_A[k], NULL, 1.0f, false, rows, in, r);
    lb_linear_rows(a->ldw[k], out, a->lu[k], r, lw->lora_B[k], NULL, lw->lora_s[k], false, rows, r, out);
    dora_combine(lw->dora_f[k], bias, NULL, a->ldw[k], rows, out, y, ldy);
}

void lb_dora_cache_drop(lb_model *m) {
    for (int l = 0; l < m->cfg.n_layers; l++)
        for (int k = 0; k < LB_LIN__COUNT; k++) m->layers[l].dora_cached[k] = false;
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
    if (shell->lora.use_dora)
        return lb_err(err, LB_ERR_UNSUPPORTED, "adapter: a DoRA adapter (use_dora) cannot be held apart from its base");
    const lb_model_config *c = &shell->cfg;
    int L = c->n_layers;
    lb_lora_adapter *a = calloc(1, sizeof *a);
    if (a) {
        a->A = calloc((size_t)L, sizeof *a->A);
        a->B = calloc((size_t)L, sizeof *a->B);
        a->r = calloc((size_t)L, sizeof *a->r);
        a->s = calloc((size_t)L, sizeof *a->s);
    }
    if (!a || !a->A || !a->B || !a->r || !a->s) {
        lb_lora_adapter_free(a);
        return lb_err(err, LB_ERR_NOMEM, "adapter: out of memory");
    }
    a->lora = shell->lora;
    a->lora.patterns = NULL; /* resolved into r and s */
    a->scaling = shell->lora_scaling;
    a->rmax = shell->lora_rmax;
    a->num_labels = c->num_labels;
    a->shape = *c;
    a->shape.id2label = NULL;
    a->block = shell->train;
    a->n_block = shell->n_train;
    for (int l = 0; l < L; l++)
        for (int k = 0; k < LB_LIN__COUNT; k++) {
            a->A[l][k] = shell->layers[l].lora_A[k];
            a->B[l][k] = shell->layers[l].lora_B[k];
            a->r[l][k] = shell->layers[l].lora_r[k];
            a->s[l][k] = shell->layers[l].lora_s[k];
            shell->layers[l].lora_A[k] = shell->layers[l].lora_B[k] = NULL;
            shell->layers[l].grad_A[k] = shell->layers[l].grad_B[k] = NULL;
        }
    bool own_dense = !shell->arch->head.dense_in_base;
    a->dense_w = own_dense ? shell->dense_w : NULL;
    a->dense_b = own_dense ? shell->dense_b : NULL;
    a->cls_w = shell->cls_w;
    a->cls_b = shell->cls_b;
    a->bytes = sizeof *a + 2 * (size_t)L * sizeof *a->A + (size_t)L * (sizeof *a->r + sizeof *a->s) +
               sizeof(float) * (size_t)a->n_block;
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
    free(a->r);
    free(a->s);
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
