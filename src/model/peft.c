/* PEFT LoRA adapter folders; see peft.h.
 * adapter_config.json is written as json.dumps(indent=2, sort_keys=True) of PEFT's LoraConfig
 * (the peft 0.6 field set, which every later PEFT reads; use_rslora only when true; and
 * modules_to_save as PEFT >= 0.11 writes it for SEQ_CLS); adapter_model.safetensors holds F32 tensors under PEFT's saved key names. */
#include "model/internal.h"
#include "model/peft.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "base/fileio.h"
#include "formats/pyjson.h"
#include "formats/safetensors.h"
#include "text/tokenizer.h"

const char *const lb_peft_folder_files[] = {
    "adapter_config.json",   "adapter_model.safetensors", "labels.json", "tokenizer.json", "vocab.txt",
    "tokenizer_config.json", "special_tokens_map.json",   NULL};

/* PEFT module names of both architectures -> the linear kinds they adapt. BERT's "dense"
 * suffix-matches the attention output, intermediate and output projections alike. */
static const struct {
    const char *name;
    unsigned mask;
} target_names[] = {
    {"q_lin", 1u << LB_LIN_Q},
    {"k_lin", 1u << LB_LIN_K},
    {"v_lin", 1u << LB_LIN_V},
    {"out_lin", 1u << LB_LIN_O},
    {"lin1", 1u << LB_LIN_FFN1},
    {"lin2", 1u << LB_LIN_FFN2},
    {"query", 1u << LB_LIN_Q},
    {"key", 1u << LB_LIN_K},
    {"value", 1u << LB_LIN_V},
    {"attention.output.dense", 1u << LB_LIN_O},
    {"intermediate.dense", 1u << LB_LIN_FFN1},
    {"output.dense", (1u << LB_LIN_O) | (1u << LB_LIN_FFN2)},
    {"dense", (1u << LB_LIN_O) | (1u << LB_LIN_FFN1) | (1u << LB_LIN_FFN2)},
    /* ModernBERT: the fused attention projection, its output, the GeGLU's input and output
     * ("Wo" suffix-matches attn.Wo and mlp.Wo alike) */
    {"Wqkv", 1u << LB_LIN_Q},
    {"attn.Wqkv", 1u << LB_LIN_Q},
    {"Wo", (1u << LB_LIN_O) | (1u << LB_LIN_FFN2)},
    {"attn.Wo", 1u << LB_LIN_O},
    {"Wi", 1u << LB_LIN_FFN1},
    {"mlp.Wi", 1u << LB_LIN_FFN1},
    {"mlp.Wo", 1u << LB_LIN_FFN2},
};

lb_status lb_peft_target_mask(const char *name, unsigned *mask, lb_error *err) {
    if (!strcmp(name, "all-linear")) {
        *mask |= (1u << LB_LIN__COUNT) - 1;
        return LB_OK;
    }
    for (size_t i = 0; i < sizeof target_names / sizeof target_names[0]; i++)
        if (!strcmp(name, target_names[i].name)) {
            *mask |= target_names[i].mask;
            return LB_OK;
        }
    return lb_err(err, LB_ERR_UNSUPPORTED,
                  "target module '%s' is not supported (expected one of q_lin k_lin v_lin out_lin lin1 lin2, "
                  "query key value dense, Wqkv Wo Wi attn.Wo mlp.Wo, or all-linear)",
                  name);
}

lb_status lb_peft_check_target(const lb_model *m, const char *name, lb_error *err) {
    if (m->arch->no_target && !strcmp(name, m->arch->no_target))
        return lb_err(err, LB_ERR_UNSUPPORTED,
                      "target module '%s' is not supported for %s: PEFT would also adapt the head's "
                      "classifier.%s; name attention.output.dense, intermediate.dense or output.dense "
                      "(or all-linear) instead",
                      name, m->arch->model_type, name);
    if (m->arch->modern && !strcmp(name, "all-linear"))
        return lb_err(err, LB_ERR_UNSUPPORTED,
                      "target module 'all-linear' is not supported for modernbert: PEFT would also adapt "
                      "head.dense; name Wqkv, Wo, Wi (or attn.Wo, mlp.Wo) instead");
    unsigned mask = 0;
    lb_status st = lb_peft_target_mask(name, &mask, err);
    if (st) return st;
    if (!strcmp(name, "all-linear")) return LB_OK;
    /* PEFT's rule: the name ends a module path at a dot boundary */
    size_t n = strlen(name);
    for (int k = 0; k < LB_LIN__COUNT; k++) {
        const char *mod = m->arch->lin_module[k];
        size_t ml = mod ? strlen(mod) : 0;
        if ((mask & (1u << k)) && ml >= n && !strcmp(mod + ml - n, name) && (ml == n || mod[ml - n - 1] == '.'))
            return LB_OK;
    }
    return lb_err(err, LB_ERR_USAGE, "target module '%s' is not a linear layer of this model (%s, %s, ...)", name,
                  lb_model_linear_name(m, LB_LIN_Q),
                  lb_model_linear_name(m, lb_lin_present(m->arch, LB_LIN_V) ? LB_LIN_V : LB_LIN_O));
}

/* One target module name into cfg's mask, and, when m is given, checked against m's architecture. */
static lb_status add_target(const lb_model *m, const char *name, lb_lora_config *cfg, lb_error *err) {
    lb_status st = lb_peft_target_mask(name, &cfg->target_mask, err);
    if (!st && m) st = lb_peft_check_target(m, name, err);
    return st;
}

static lb_status cfg_error(lb_error *err, lb_status code, const char *path, const char *what) {
    return lb_err(err, code, "%s: %s", path, what);
}

static const cJSON *field(const cJSON *root, const char *key) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(root, key);
    return x && !cJSON_IsNull(x) ? x : NULL;
}

static lb_status read_config(const char *dir, const lb_model *m, lb_lora_config *cfg, lb_lora_patterns *pats,
                             lb_error *err) {
    char *path = lb_path_join(dir, "adapter_config.json");
    char *text = NULL;
    size_t len;
    lb_status st = lb_read_file_max(path, LB_MAX_JSON_BYTES, "JSON file", &text, &len, err);
    if (st) {
        free(path);
        return st;
    }
    cJSON *root = lb_json_parse(path, text, len, err);
    free(text);
    char msg[512];
    const cJSON *x;
    if (!root) {
        st = LB_ERR_FORMAT;
        goto out;
    }
    if (!cJSON_IsObject(root)) {
        snprintf(msg, sizeof msg, "expected a JSON object, found %s", lb_json_kind(root));
        st = cfg_error(err, LB_ERR_FORMAT, path, msg);
        goto out;
    }
    memset(cfg, 0, sizeof *cfg);
    memset(pats, 0, sizeof *pats);
    if (!(x = field(root, "peft_type")) || !cJSON_IsString(x)) {
        st = cfg_error(err, LB_ERR_FORMAT, path, "missing \"peft_type\"");
        goto out;
    }
    if (strcmp(x->valuestring, "LORA")) {
        snprintf(msg, sizeof msg, "peft_type \"%.100s\" is not supported (expected \"LORA\")", x->valuestring);
        st = cfg_error(err, LB_ERR_UNSUPPORTED, path, msg);
        goto out;
    }
    if ((x = field(root, "task_type")) && (!cJSON_IsString(x) || strcmp(x->valuestring, "SEQ_CLS"))) {
        snprintf(msg, sizeof msg, "task_type %.100s is not supported (expected \"SEQ_CLS\")",
                 cJSON_IsString(x) ? x->valuestring : "(not a string)");
        st = cfg_error(err, LB_ERR_UNSUPPORTED, path, msg);
        goto out;
    }
    cfg->r = 8; /* LoraConfig defaults */
    cfg->alpha = 8;
    if ((x = field(root, "r"))) {
        if (!cJSON_IsNumber(x) || x->valuedouble < 1 || x->valuedouble != floor(x->valuedouble) ||
            x->valuedouble > 65536) {
            st = cfg_error(err, LB_ERR_FORMAT, path, "\"r\" must be a positive integer");
            goto out;
        }
        cfg->r = x->valueint;
    }
    if ((x = field(root, "lora_alpha"))) {
        if (!cJSON_IsNumber(x)) {
            st = cfg_error(err, LB_ERR_FORMAT, path, "\"lora_alpha\" must be a number");
            goto out;
        }
        cfg->alpha = (float)x->valuedouble;
    }
    if ((x = field(root, "lora_dropout"))) {
        if (!cJSON_IsNumber(x) || x->valuedouble < 0 || x->valuedouble >= 1) {
            st = cfg_error(err, LB_ERR_FORMAT, path, "\"lora_dropout\" must be a number in [0, 1)");
            goto out;
        }
        cfg->dropout = (float)x->valuedouble;
    }
    if ((x = field(root, "use_rslora"))) cfg->use_rslora = cJSON_IsTrue(x);
    if ((x = field(root, "bias")) && (!cJSON_IsString(x) || strcmp(x->valuestring, "none"))) {
        st = cfg_error(err, LB_ERR_UNSUPPORTED, path, "only bias \"none\" is supported");
        goto out;
    }
    if ((x = field(root, "fan_in_fan_out")) && cJSON_IsTrue(x)) {
        st = cfg_error(err, LB_ERR_UNSUPPORTED, path, "fan_in_fan_out true is not supported");
        goto out;
    }
    if ((x = field(root, "use_dora"))) cfg->use_dora = cJSON_IsTrue(x);
    /* Inits that change the base weights: such an adapter only fits the modified base PEFT
     * held when it saved it, which lorabert never sees. PEFT converts them to plain LoRA on save
     * when asked (init_lora_weights true then). */
    if ((x = field(root, "init_lora_weights")) && cJSON_IsString(x) &&
        (!strncmp(x->valuestring, "pissa", 5) || !strcmp(x->valuestring, "olora") ||
         !strcmp(x->valuestring, "loftq"))) {
        snprintf(msg, sizeof msg,
                 "init_lora_weights \"%.40s\" is not supported: PEFT rewrote the base weights for that init and "
                 "this adapter only fits the rewritten ones; save it with "
                 "save_pretrained(path_initial_model_for_weight_conversion=...) to get a plain LoRA adapter",
                 x->valuestring);
        st = cfg_error(err, LB_ERR_UNSUPPORTED, path, msg);
        goto out;
    }
    /* init_lora_weights: how PEFT filled a fresh adapter; the saved tensors are what counts, but
     * inits that also rewrite the base weights (pissa, olora, loftq, ...) need that base and
     * are refused by name. */
    if ((x = field(root, "init_lora_weights"))) {
        lb_lora_init init = LB_LORA_INIT_DEFAULT;
        if (cJSON_IsFalse(x)) init = LB_LORA_INIT_NONE;
        else if (cJSON_IsString(x)) {
            if (lb_lora_init_parse(x->valuestring, &init, NULL)) {
                snprintf(msg, sizeof msg,
                         "init_lora_weights \"%.64s\" is not supported (expected true, false or \"gaussian\")",
                         x->valuestring);
                st = cfg_error(err, LB_ERR_UNSUPPORTED, path, msg);
                goto out;
            }
        } else if (!cJSON_IsTrue(x)) {
            st = cfg_error(err, LB_ERR_FORMAT, path, "\"init_lora_weights\" must be true, false or a string");
            goto out;
        }
        cfg->init = (int)init;
    }
    /* newer PEFT's structural options (0.11-0.14): each changes which weights exist or apply */
    if ((x = field(root, "lora_bias")) && cJSON_IsTrue(x)) {
        st = cfg_error(err, LB_ERR_UNSUPPORTED, path, "lora_bias true is not supported");
        goto out;
    }
    const char *structural[] = {"layer_replication", "exclude_modules"};
    for (int i = 0; i < 2; i++)
        if ((x = field(root, structural[i])) && !(cJSON_IsArray(x) && cJSON_GetArraySize(x) == 0) &&
            !(cJSON_IsString(x) && !*x->valuestring)) {
            snprintf(msg, sizeof msg, "%s is not supported", structural[i]);
            st = cfg_error(err, LB_ERR_UNSUPPORTED, path, msg);
            goto out;
        }
    if ((x = field(root, "layers_to_transform"))) {
        st = cfg_error(err, LB_ERR_UNSUPPORTED, path, "layers_to_transform is not supported");
        goto out;
    }
    /* rank_pattern / alpha_pattern: {key: value} in file order (PEFT's json.load) */
    const char *pat[] = {"rank_pattern", "alpha_pattern"};
    for (int i = 0; i < 2; i++) {
        if (!(x = field(root, pat[i]))) continue;
        if (!cJSON_IsObject(x)) {
            snprintf(msg, sizeof msg, "\"%s\" must be an object (module pattern -> %s)", pat[i], i ? "alpha" : "rank");
            st = cfg_error(err, LB_ERR_FORMAT, path, msg);
            goto out;
        }
        lb_lora_pattern *dst = i ? pats->alpha : pats->rank;
        int *n = i ? &pats->n_alpha : &pats->n_rank;
        const cJSON *e;
        cJSON_ArrayForEach(e, x) {
            if (*n == LB_LORA_MAX_PATTERNS) {
                snprintf(msg, sizeof msg, "%s has more than %d entries", pat[i], LB_LORA_MAX_PATTERNS);
                st = cfg_error(err, LB_ERR_UNSUPPORTED, path, msg);
                goto out;
            }
            if ((st = lb_lora_pattern_check_key(pat[i], e->string, err))) goto prefix;
            bool ok =
                cJSON_IsNumber(e) && isfinite(e->valuedouble) &&
                (i ? true : e->valuedouble >= 1 && e->valuedouble <= 65536 && e->valuedouble == floor(e->valuedouble));
            if (!ok) {
                snprintf(msg, sizeof msg, "%s[\"%.127s\"] must be %s", pat[i], e->string,
                         i ? "a number" : "a positive integer");
                st = cfg_error(err, LB_ERR_FORMAT, path, msg);
                goto out;
            }
            snprintf(dst[*n].key, sizeof dst[*n].key, "%s", e->string);
            dst[*n].value = e->valuedouble;
            (*n)++;
        }
    }
    cfg->patterns = pats->n_rank || pats->n_alpha ? pats : NULL;
    if (!(x = field(root, "target_modules"))) {
        st = cfg_error(err, LB_ERR_FORMAT, path, "missing \"target_modules\"");
        goto out;
    }
    if (cJSON_IsString(x)) {
        if ((st = add_target(m, x->valuestring, cfg, err))) goto prefix;
    } else if (cJSON_IsArray(x)) {
        const cJSON *t;
        cJSON_ArrayForEach(t, x) {
            if (!cJSON_IsString(t)) {
                st = cfg_error(err, LB_ERR_FORMAT, path, "target_modules must hold strings");
                goto out;
            }
            if ((st = add_target(m, t->valuestring, cfg, err))) goto prefix;
        }
    } else {
        st = cfg_error(err, LB_ERR_FORMAT, path, "\"target_modules\" must be a list or a string");
        goto out;
    }
    if (!cfg->target_mask) {
        st = cfg_error(err, LB_ERR_FORMAT, path, "\"target_modules\" is empty");
        goto out;
    }
    /* modules_to_save: null (PEFT <= 0.10) or a list; the head is trained either way (SEQ_CLS). */
    if ((x = field(root, "modules_to_save")) && !cJSON_IsArray(x)) {
        st = cfg_error(err, LB_ERR_FORMAT, path, "\"modules_to_save\" must be a list or null");
        goto out;
    }
    /* The names as PEFT reads them (its suffix rule: "classifier" also wraps DistilBERT's
     * pre_classifier and RoBERTa's classifier.dense / out_proj); lb_model_add_lora matches them
     * against the model and refuses, by name, any module it cannot train in full. */
    if (x) {
        const cJSON *t;
        cJSON_ArrayForEach(t, x) {
            if (!cJSON_IsString(t)) {
                st = cfg_error(err, LB_ERR_FORMAT, path, "modules_to_save must hold strings");
                goto out;
            }
            size_t n = strlen(t->valuestring);
            bool dup = false;
            for (int j = 0; j < pats->n_mts; j++) dup |= !strcmp(pats->mts[j], t->valuestring);
            if (dup) continue;
            if (n < 1 || n >= LB_LORA_PATTERN_KEY || pats->n_mts >= LB_LORA_MAX_MTS) {
                snprintf(msg, sizeof msg,
                         "modules_to_save \"%.64s\": lorabert reads at most %d names of 1..%d bytes each",
                         t->valuestring, LB_LORA_MAX_MTS, LB_LORA_PATTERN_KEY - 1);
                st = cfg_error(err, LB_ERR_UNSUPPORTED, path, msg);
                goto out;
            }
            memcpy(pats->mts[pats->n_mts++], t->valuestring, n + 1);
        }
    }
    cfg->patterns = pats->n_rank || pats->n_alpha || pats->n_mts ? pats : NULL;
    st = LB_OK;
    goto out;
prefix:
    lb_err_prefix(err, "%s", path);
out:
    cJSON_Delete(root);
    free(path);
    return st;
}

lb_status lb_peft_read_config(const char *dir, lb_lora_config *cfg, lb_lora_patterns *pats, lb_error *err) {
    lb_lora_patterns *own = pats ? pats : malloc(sizeof *own);
    if (!own) return lb_err(err, LB_ERR_NOMEM, "out of memory");
    lb_status st = read_config(dir, NULL, cfg, own, err);
    if (!pats) {
        free(own);
        cfg->patterns = NULL;
    }
    return st;
}

static lb_status load_tensors(lb_model *m, const char *dir, const lb_lora_config *cfg, lb_error *err);

lb_status lb_peft_load(lb_model *m, const char *dir, lb_error *err) {
    lb_lora_config cfg;
    lb_lora_patterns *pats = malloc(sizeof *pats);
    if (!pats) return lb_err(err, LB_ERR_NOMEM, "out of memory");
    lb_status st = read_config(dir, m, &cfg, pats, err);
    if (!st) st = load_tensors(m, dir, &cfg, err); /* lb_model_add_lora copies the patterns */
    free(pats);
    return st;
}

/* 1 for a lora_A key, 2 for a lora_B key, else 0. */
static int lora_half(const char *name) { return strstr(name, ".lora_A.") ? 1 : strstr(name, ".lora_B.") ? 2 : 0; }

/* The configuration a resume checkpoint's converted adapter was trained with: rank and patterns
 * halved, alpha from the file's metadata (exact; the config's was doubled or times sqrt 2). */
static lb_status restore_config(const lb_lora_config *cfg, const char *init_name, const char *alpha, lb_lora_config *h,
                                lb_lora_patterns *hp, lb_error *err) {
    lb_lora_init init;
    char *end = NULL;
    float a = alpha ? strtof(alpha, &end) : NAN;
    if (lb_lora_init_parse(init_name, &init, NULL) || !lb_lora_init_rewrites_base((int)init))
        return lb_err(err, LB_ERR_FORMAT, "metadata lorabert_lora_init \"%.40s\": expected pissa or olora", init_name);
    if (!alpha || *end || !isfinite(a) || !(a > 0))
        return lb_err(err, LB_ERR_FORMAT, "metadata lorabert_lora_alpha: expected a number > 0, found %.40s",
                      alpha ? alpha : "nothing");
    if (cfg->init != LB_LORA_INIT_DEFAULT || cfg->r % 2 || cfg->use_dora)
        return lb_err(err, LB_ERR_FORMAT,
                      "a converted %s adapter has init_lora_weights true, an even r and no DoRA; found init %s, r %d",
                      init_name, lb_lora_init_name(cfg->init), cfg->r);
    *h = *cfg;
    h->r = cfg->r / 2;
    h->alpha = a;
    h->init = (int)init;
    if (cfg->patterns) {
        *hp = *cfg->patterns;
        for (int i = 0; i < hp->n_rank; i++) {
            if ((int)hp->rank[i].value % 2)
                return lb_err(err, LB_ERR_FORMAT, "rank_pattern '%s': a converted adapter's ranks are even",
                              hp->rank[i].key);
            hp->rank[i].value /= 2;
        }
        for (int i = 0; i < hp->n_alpha; i++) hp->alpha[i].value /= 2;
        h->patterns = hp;
    }
    return LB_OK;
}

/* A converted tensor's halves: lora_A [2r, in] = [A; A0], lora_B [out, 2r] = [B, -B0]; the
 * first go to the trainable A / B, the second to m->lora_init0. */
static void restore_halves(lb_model *m, const lb_param *p, int half, const float *src) {
    float *init0 = m->lora_init0 + (p->data - m->train - m->lora_init0_off);
    if (half == 1) {
        memcpy(p->data, src, sizeof(float) * (size_t)p->numel);
        memcpy(init0, src + p->numel, sizeof(float) * (size_t)p->numel);
        return;
    }
    int64_t out = p->shape[0], r = p->shape[1];
    for (int64_t j = 0; j < out; j++)
        for (int64_t c = 0; c < r; c++) {
            p->data[j * r + c] = src[j * 2 * r + c];
            init0[j * r + c] = -src[j * 2 * r + r + c];
        }
}

static lb_status load_tensors(lb_model *m, const char *dir, const lb_lora_config *cfg, lb_error *err) {
    lb_status st;
    char *path = lb_path_join(dir, "adapter_model.safetensors");
    if (!lb_path_present(path)) {
        char *bin = lb_path_join(dir, "adapter_model.bin");
        int has_bin = lb_file_exists(bin);
        free(bin);
        st = has_bin ? lb_err(err, LB_ERR_UNSUPPORTED,
                              "%s: adapter_model.bin (torch pickle) is not supported; save the adapter with "
                              "safe_serialization=True to get adapter_model.safetensors",
                              dir)
                     : lb_err(err, LB_ERR_IO, "%s: missing adapter_model.safetensors", dir);
        free(path);
        return st;
    }
    if (lb_model_get_lora(m)) {
        free(path);
        return lb_err(err, LB_ERR_USAGE, "%s: the model already holds an adapter", dir);
    }
    lb_st_file *f = lb_st_open(path, err);
    if (!f) {
        free(path);
        return err ? err->code : LB_ERR_IO;
    }
    if ((st = lb_lora_mts_check(m, cfg, err))) { /* named with the file that asks for it */
        lb_err_prefix(err, "%s/adapter_config.json", dir);
        goto out;
    }
    /* A lorabert resume checkpoint of a pissa / olora run: the converted rank-2r adapter whose
     * halves are the trained A, B and the initial A0, -B0 (see write_converted). */
    lb_lora_config hcfg;
    lb_lora_patterns hpats;
    const char *rw = lb_st_metadata(f, "lorabert_lora_init");
    if (rw) {
        if ((st = restore_config(cfg, rw, lb_st_metadata(f, "lorabert_lora_alpha"), &hcfg, &hpats, err))) {
            lb_err_prefix(err, "%s", path);
            goto out;
        }
        cfg = &hcfg;
    }
    if ((st = lb_lora_add(m, cfg, 0, rw != NULL, err))) goto out;
    lb_param *params;
    int np = lb_model_params(m, &params);
    for (int i = 0; i < np; i++) {
        const lb_st_tensor *t = lb_st_find(f, params[i].name);
        int half = rw ? lora_half(params[i].name) : 0; /* 1: lora_A [2r, in], 2: lora_B [out, 2r] */
        if (!t) {
            st = lb_err(err, LB_ERR_FORMAT, "%s: tensor \"%s\" is missing (the adapter does not match this model%s)",
                        path, params[i].name,
                        strstr(params[i].name, "classifier") || strstr(params[i].name, "score")
                            ? "; the classification head must be saved with the adapter"
                            : "");
            goto out;
        }
        int64_t numel = 1;
        for (int d = 0; d < t->ndim; d++) numel *= t->shape[d];
        int same = t->ndim == params[i].ndim;
        for (int d = 0; same && d < t->ndim; d++)
            same = t->shape[d] == params[i].shape[d] * ((half == 1 && d == 0) || (half == 2 && d == 1) ? 2 : 1);
        if (!same) {
            st = lb_err(err, LB_ERR_FORMAT, "%s: tensor \"%s\" has shape [%lld%s%lld], expected [%lld%s%lld]", path,
                        params[i].name, (long long)t->shape[0], t->ndim > 1 ? "," : "",
                        t->ndim > 1 ? (long long)t->shape[1] : 0LL, (long long)params[i].shape[0],
                        params[i].ndim > 1 ? "," : "", params[i].ndim > 1 ? (long long)params[i].shape[1] : 0LL);
            goto out;
        }
        const float *src = lb_st_f32(f, t, err);
        if (!src) {
            st = err ? err->code : LB_ERR_FORMAT;
            goto out;
        }
        if (half) restore_halves(m, &params[i], half, src);
        else memcpy(params[i].data, src, sizeof(float) * numel);
    }
    if (rw && (st = lb_lora_rewrite_restore(m, err))) goto out;
    /* A tensor we do not know means a different model or adapter layout: refuse rather than
     * silently drop weights. */
    for (size_t i = 0; i < lb_st_count(f); i++) {
        const char *name = lb_st_at(f, i)->name;
        int known = 0;
        for (int k = 0; k < np && !known; k++) known = !strcmp(params[k].name, name);
        if (!known) {
            st = lb_err(err, LB_ERR_FORMAT, "%s: tensor \"%s\" does not belong to this model's adapter", path, name);
            goto out;
        }
    }
    st = LB_OK;
out:
    lb_st_close(f);
    free(path);
    return st;
}

lb_status lb_peft_load_apart(const lb_model *base, const char *dir, int num_labels, lb_lora_adapter **out,
                             lb_error *err) {
    *out = NULL;
    if (lb_model_get_lora(base))
        return lb_err(err, LB_ERR_USAGE, "%s: the base model holds an adapter (open it without one)", dir);
    lb_model *shell = lb_model_adapter_shell(base, num_labels, err);
    if (!shell) return err ? err->code : LB_ERR_NOMEM;
    lb_status st = lb_peft_load(shell, dir, err);
    if (!st) st = lb_lora_adapter_take(shell, out, err);
    lb_model_free(shell);
    if (st) {
        lb_lora_adapter_free(*out);
        *out = NULL;
    }
    return st;
}

/* An alpha as Python prints the number it was given: an int when whole, else the float. */
static void write_alpha(FILE *f, double alpha) {
    if (alpha == floor(alpha) && fabs(alpha) < 1e9) fprintf(f, "%d", (int)alpha);
    else if ((double)(float)alpha == alpha) lb_pyjson_float32(f, (float)alpha);
    else lb_pyjson_double(f, alpha); /* a converted rslora alpha (times sqrt 2), as Python prints it */
}

static int cmp_key(const void *a, const void *b) {
    return strcmp(((const lb_lora_pattern *)a)->key, ((const lb_lora_pattern *)b)->key);
}

/* A pattern dict as json.dumps(indent=2, sort_keys=True) nests it (two more spaces). */
static void write_pattern(FILE *f, const lb_lora_pattern *p, int n, bool alpha) {
    if (!n) {
        fputs("{}", f);
        return;
    }
    lb_lora_pattern sorted[LB_LORA_MAX_PATTERNS];
    memcpy(sorted, p, sizeof *p * (size_t)n);
    qsort(sorted, (size_t)n, sizeof *sorted, cmp_key);
    fputs("{", f);
    for (int i = 0; i < n; i++) {
        fputs(i ? ",\n    " : "\n    ", f);
        lb_pyjson_str(f, sorted[i].key);
        fputs(": ", f);
        if (alpha) write_alpha(f, sorted[i].value);
        else fprintf(f, "%d", (int)sorted[i].value);
    }
    fputs("\n  }", f);
}

/* json.dumps(LoraConfig.to_dict(), indent=2, sort_keys=True) */
static lb_status write_config(const lb_model *m, const lb_lora_config *cfg, double alpha, const char *path,
                              const char *base, lb_error *err) {
    lb_atomic_file af;
    lb_status st = lb_atomic_open(&af, path, err);
    if (st) return st;
    FILE *f = af.fp;
    static const lb_lora_patterns none = {0};
    const lb_lora_patterns *pats = cfg->patterns ? cfg->patterns : &none;
    fputs("{\n  \"alpha_pattern\": ", f);
    write_pattern(f, pats->alpha, pats->n_alpha, true);
    fputs(",\n  \"auto_mapping\": null,\n  \"base_model_name_or_path\": ", f);
    if (base) lb_pyjson_str(f, base);
    else fputs("null", f);
    fputs(",\n  \"bias\": \"none\",\n  \"fan_in_fan_out\": false,\n  \"inference_mode\": true,\n"
          "  \"init_lora_weights\": ",
          f);
    /* true / false / "gaussian" as PEFT writes them (PEFT 0.6 loads the string too: the tensors
     * are read from the file, the init only shapes a fresh adapter) */
    if (cfg->init == LB_LORA_INIT_GAUSSIAN) fputs("\"gaussian\"", f);
    else fputs(cfg->init == LB_LORA_INIT_NONE ? "false" : "true", f);
    fputs(",\n  \"layers_pattern\": null,\n  \"layers_to_transform\": null,\n  \"lora_alpha\": ", f);
    write_alpha(f, alpha);
    fputs(",\n  \"lora_dropout\": ", f);
    lb_pyjson_float32(f, cfg->dropout);
    /* The head's names (PEFT >= 0.11 writes them for SEQ_CLS), then the others trained in full. */
    fputs(",\n  \"modules_to_save\": [\n    \"classifier\",\n    \"score\"", f);
    for (int j = 0; j < pats->n_mts; j++) {
        if (!strcmp(pats->mts[j], "classifier") || !strcmp(pats->mts[j], "score")) continue;
        fputs(",\n    ", f);
        lb_pyjson_str(f, pats->mts[j]);
    }
    fputs("\n  ],\n  \"peft_type\": \"LORA\",\n", f);
    fprintf(f, "  \"r\": %d,\n  \"rank_pattern\": ", cfg->r);
    write_pattern(f, pats->rank, pats->n_rank, false);
    fputs(",\n  \"revision\": null,\n  \"target_modules\": [", f);
    /* module names in lb_linear order, each once (BERT's "dense" covers several kinds) */
    const char *seen[LB_LIN__COUNT];
    int nseen = 0;
    for (int k = 0; k < LB_LIN__COUNT; k++) {
        if (!(cfg->target_mask & (1u << k))) continue;
        const char *name = lb_model_linear_name(m, (lb_linear)k);
        int dup = 0;
        for (int j = 0; j < nseen; j++) dup |= !strcmp(seen[j], name);
        if (dup) continue;
        fputs(nseen ? ",\n    " : "\n    ", f);
        lb_pyjson_str(f, name);
        seen[nseen++] = name;
    }
    fputs(nseen ? "\n  ],\n" : "],\n", f);
    /* PEFT < 0.7 refuses unknown keys, so use_rslora is written only when set (older PEFT
     * then fails loudly instead of silently using alpha/r). */
    fputs("  \"task_type\": \"SEQ_CLS\"", f);
    if (cfg->use_dora) fputs(",\n  \"use_dora\": true", f);
    if (cfg->use_rslora) fputs(",\n  \"use_rslora\": true", f);
    fputs("\n}", f);
    if (ferror(f)) {
        lb_atomic_abort(&af);
        return lb_err(err, LB_ERR_IO, "%s: write failed", path);
    }
    return lb_atomic_commit(&af, err);
}

/* pissa / olora (model.h lb_lora_init): the adapter as PEFT's
 * save_pretrained(path_initial_model_for_weight_conversion=...) converts it, a plain LoRA over the
 * original base: lora_A [2r, in] = [A; A0], lora_B [out, 2r] = [B, -B0] (so s B' A' = s (B A -
 * B0 A0) and W + s B' A' = W_res + s B A); the head and modules_to_save copies as they are (PEFT
 * 0.14's conversion drops them, which loses a SEQ_CLS head: lorabert keeps them). *bufs gets the
 * converted tensors (freed by the caller). */
static lb_status convert_tensors(const lb_model *m, const lb_param *params, int np, lb_st_out *outs, float ***bufs,
                                 lb_error *err) {
    *bufs = calloc((size_t)np + 1, sizeof **bufs);
    if (!*bufs) return lb_err(err, LB_ERR_NOMEM, "out of memory");
    for (int i = 0; i < np; i++) {
        int half = lora_half(params[i].name);
        if (!half) continue;
        const float *init0 = m->lora_init0 + (params[i].data - m->train - m->lora_init0_off);
        float *t = malloc(sizeof(float) * 2 * (size_t)params[i].numel);
        if (!t) return lb_err(err, LB_ERR_NOMEM, "out of memory");
        (*bufs)[i] = t;
        if (half == 1) {
            memcpy(t, params[i].data, sizeof(float) * (size_t)params[i].numel);
            memcpy(t + params[i].numel, init0, sizeof(float) * (size_t)params[i].numel);
            outs[i].shape[0] *= 2;
        } else {
            int64_t out = params[i].shape[0], r = params[i].shape[1];
            for (int64_t j = 0; j < out; j++)
                for (int64_t c = 0; c < r; c++) {
                    t[j * 2 * r + c] = params[i].data[j * r + c];
                    t[j * 2 * r + r + c] = -init0[j * r + c];
                }
            outs[i].shape[1] *= 2;
        }
        outs[i].data = t;
    }
    return LB_OK;
}

static lb_status save_adapter(const lb_model *m, const char *dir, const char *base_model_name_or_path, bool resume_copy,
                              lb_error *err) {
    const lb_lora_config *cfg = lb_model_get_lora(m);
    if (!cfg) return lb_err(err, LB_ERR_USAGE, "%s: the model has no adapter to save", dir);
    lb_status st = lb_mkdir_p(dir, err);
    if (st) return st;
    lb_param *params;
    int np = lb_model_params(m, &params);
    lb_st_out *outs = calloc(np > 0 ? (size_t)np : 1, sizeof *outs);
    if (!outs) return lb_err(err, LB_ERR_NOMEM, "%s: out of memory", dir);
    for (int i = 0; i < np; i++) {
        outs[i].name = params[i].name;
        outs[i].dtype = LB_DT_F32;
        outs[i].ndim = params[i].ndim;
        for (int d = 0; d < params[i].ndim; d++) outs[i].shape[d] = params[i].shape[d];
        outs[i].data = params[i].data;
    }
    float **bufs = NULL;
    lb_lora_config conv = *cfg;
    lb_lora_patterns cpats;
    double alpha = cfg->alpha;
    char alpha_s[32];
    const char *meta[] = {"format", "pt", NULL, NULL, NULL, NULL, NULL};
    if (m->lora_init0) {
        if ((st = convert_tensors(m, params, np, outs, &bufs, err))) {
            lb_err_prefix(err, "%s", dir);
            goto out;
        }
        /* PEFT: init true, r doubled, alpha doubled (times sqrt 2 with rslora: the same
         * scaling), rank_pattern and alpha_pattern values doubled */
        conv.init = LB_LORA_INIT_DEFAULT;
        conv.r = 2 * cfg->r;
        alpha = cfg->use_rslora ? (double)cfg->alpha * sqrt(2.0) : 2.0 * (double)cfg->alpha;
        if (cfg->patterns) {
            cpats = *cfg->patterns;
            for (int i = 0; i < cpats.n_rank; i++) cpats.rank[i].value *= 2;
            for (int i = 0; i < cpats.n_alpha; i++) cpats.alpha[i].value *= 2;
            conv.patterns = &cpats;
        }
        if (resume_copy) { /* what lb_peft_load needs to train on as before (restore_config) */
            snprintf(alpha_s, sizeof alpha_s, "%.9g", (double)cfg->alpha);
            meta[2] = "lorabert_lora_init";
            meta[3] = lb_lora_init_name(cfg->init);
            meta[4] = "lorabert_lora_alpha";
            meta[5] = alpha_s;
        }
    }
    char *tpath = lb_path_join(dir, "adapter_model.safetensors");
    char *cpath = lb_path_join(dir, "adapter_config.json");
    st = lb_st_write(tpath, outs, (size_t)np, meta, err);
    if (!st) st = write_config(m, &conv, alpha, cpath, base_model_name_or_path, err);
    free(tpath);
    free(cpath);
out:
    for (int i = 0; bufs && i < np; i++) free(bufs[i]);
    free(bufs);
    free(outs);
    return st;
}

lb_status lb_peft_save(const lb_model *m, const char *dir, const char *base_model_name_or_path, lb_error *err) {
    return save_adapter(m, dir, base_model_name_or_path, false, err);
}

static void free_list(char **names, int n) {
    if (!names) return;
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
}

lb_status lb_peft_read_labels(const char *dir, int *num_labels, char ***names, lb_error *err) {
    *num_labels = 0;
    if (names) *names = NULL;
    char *p = lb_path_join(dir, "labels.json");
    if (!p) return lb_err(err, LB_ERR_NOMEM, "out of memory");
    if (lb_file_exists(p)) {
        cJSON *root = lb_json_read_file(p, LB_MAX_JSON_BYTES, "JSON file", true, err);
        if (!root) {
            free(p);
            return err ? err->code : LB_ERR_FORMAT;
        }
        const cJSON *id2 = cJSON_GetObjectItemCaseSensitive(root, "id2label");
        int n = cJSON_GetArraySize(id2);
        lb_status st = LB_OK;
        if (!cJSON_IsObject(id2) || n < 1 || n > LB_MAX_LABELS)
            st = lb_err(err, LB_ERR_FORMAT, "%s: expected {\"id2label\": {\"0\": name, ...}} with 1..%d labels", p,
                        LB_MAX_LABELS);
        char **v = NULL;
        if (!st && names && !(v = calloc((size_t)n + 1, sizeof *v))) st = lb_err(err, LB_ERR_NOMEM, "out of memory");
        for (int i = 0; !st && i < n; i++) {
            char key[16];
            snprintf(key, sizeof key, "%d", i);
            const cJSON *s = cJSON_GetObjectItemCaseSensitive(id2, key);
            if (!cJSON_IsString(s)) st = lb_err(err, LB_ERR_FORMAT, "%s: id2label has no name for label %d", p, i);
            else if (v && !(v[i] = strdup(s->valuestring))) st = lb_err(err, LB_ERR_NOMEM, "out of memory");
        }
        cJSON_Delete(root);
        free(p);
        if (st) {
            free_list(v, n);
            return st;
        }
        *num_labels = n;
        if (names) *names = v;
        return LB_OK;
    }
    free(p);
    /* No labels.json (an adapter PEFT saved): the head's classifier shape says how many. */
    p = lb_path_join(dir, "adapter_model.safetensors");
    if (!p) return lb_err(err, LB_ERR_NOMEM, "out of memory");
    if (lb_file_exists(p)) {
        lb_st_file *f = lb_st_open(p, err);
        if (!f) {
            free(p);
            return err ? err->code : LB_ERR_FORMAT;
        }
        for (size_t i = 0; i < lb_st_count(f); i++) {
            const lb_st_tensor *t = lb_st_at(f, i);
            size_t n = strlen(t->name);
            static const char *suffixes[] = {".classifier.weight", ".score.weight"};
            for (int k = 0; k < 2; k++) {
                size_t sl = strlen(suffixes[k]);
                if (n > sl && !strcmp(t->name + n - sl, suffixes[k]) && !strstr(t->name, "pre_classifier") &&
                    t->ndim == 2)
                    *num_labels = (int)t->shape[0];
            }
        }
        lb_st_close(f);
    }
    free(p);
    return LB_OK;
}

lb_status lb_peft_read_problem(const char *dir, int *problem, lb_error *err) {
    *problem = -1;
    char *p = lb_path_join(dir, "labels.json");
    if (!p) return lb_err(err, LB_ERR_NOMEM, "out of memory");
    if (!lb_file_exists(p)) {
        free(p);
        return LB_OK;
    }
    cJSON *root = lb_json_read_file(p, LB_MAX_JSON_BYTES, "JSON file", true, err);
    lb_status st = root ? LB_OK : err ? err->code : LB_ERR_FORMAT;
    const cJSON *pt = root ? cJSON_GetObjectItemCaseSensitive(root, "problem_type") : NULL;
    lb_problem_type k;
    if (pt && !cJSON_IsNull(pt)) {
        if (cJSON_IsString(pt) && lb_problem_type_parse(pt->valuestring, &k)) *problem = (int)k;
        else
            st = lb_err(err, LB_ERR_UNSUPPORTED,
                        "%s: problem_type %s: lorabert supports \"single_label_classification\", "
                        "\"multi_label_classification\" and \"regression\"",
                        p, cJSON_IsString(pt) ? pt->valuestring : "(not a string)");
    }
    cJSON_Delete(root);
    free(p);
    return st;
}

lb_status lb_peft_read_base_model(const char *dir, char **name, lb_error *err) {
    *name = NULL;
    char *p = lb_path_join(dir, "adapter_config.json");
    if (!p) return lb_err(err, LB_ERR_NOMEM, "out of memory");
    cJSON *root = lb_json_read_file(p, LB_MAX_JSON_BYTES, "JSON file", true, err);
    if (!root) {
        free(p);
        return err ? err->code : LB_ERR_FORMAT;
    }
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "base_model_name_or_path");
    lb_status st = LB_OK;
    if (!cJSON_IsString(v) || !*v->valuestring)
        st = lb_err(err, LB_ERR_FORMAT,
                    "%s: base_model_name_or_path: expected the base model's name or folder, found %s", p,
                    v ? lb_json_kind(v) : "nothing");
    else if (!(*name = strdup(v->valuestring))) st = lb_err(err, LB_ERR_NOMEM, "out of memory");
    cJSON_Delete(root);
    free(p);
    return st;
}

/* Writes dir/labels.json (id2label, label2id, num_labels) atomically. */
static lb_status write_labels(const char *dir, const char *const *names, int n, int problem, lb_error *err) {
    char *path = lb_path_join(dir, "labels.json");
    if (!path) return lb_err(err, LB_ERR_NOMEM, "out of memory");
    lb_atomic_file af;
    lb_status st = lb_atomic_open(&af, path, err);
    if (st) {
        free(path);
        return st;
    }
    FILE *f = af.fp;
    fputs("{\n  \"id2label\": {", f);
    for (int i = 0; i < n; i++) {
        char key[16];
        snprintf(key, sizeof key, "%d", i);
        fprintf(f, "%s\n    ", i ? "," : "");
        lb_pyjson_str(f, key);
        fputs(": ", f);
        lb_pyjson_str(f, names[i]);
    }
    fputs("\n  },\n  \"label2id\": {", f);
    for (int i = 0; i < n; i++) {
        fprintf(f, "%s\n    ", i ? "," : "");
        lb_pyjson_str(f, names[i]);
        fprintf(f, ": %d", i);
    }
    fprintf(f, "\n  },\n  \"num_labels\": %d", n);
    if (problem != LB_PROBLEM_SINGLE_LABEL) { /* what the head means, for predict / eval / serve */
        fputs(",\n  \"problem_type\": ", f);
        lb_pyjson_str(f, lb_problem_type_name((lb_problem_type)problem));
    }
    fputs("\n}\n", f);
    if (ferror(f)) {
        lb_atomic_abort(&af);
        st = lb_err(err, LB_ERR_IO, "%s: write failed", path);
    } else st = lb_atomic_commit(&af, err);
    free(path);
    return st;
}

lb_status lb_peft_save_folder(const lb_model *m, const char *dir, const char *base_model_name_or_path,
                              const char *tokenizer_dir, const char *const *labels, bool resume_copy, lb_error *err) {
    lb_status st = save_adapter(m, dir, base_model_name_or_path, resume_copy, err);
    if (!st) st = lb_tokenizer_copy_files(tokenizer_dir, dir, err);
    if (st) return st;
    lb_model_info info;
    lb_model_get_info(m, &info);
    if (!labels && !info.labels) return lb_err(err, LB_ERR_NOMEM, "%s: out of memory", dir);
    return write_labels(dir, labels ? labels : info.labels, info.num_labels, lb_model_get_config(m)->problem, err);
}
