/* The public model handle (include/lorabert.h "Model"): one resolution rule for every command,
 * the server and embedders.
 *
 *   model argument   local folder, else hub repo id (HF cache, downloaded when missing)
 *   adapter folder   a model argument holding adapter_config.json and no config.json opens
 *                    base_model_name_or_path with that adapter (transformers + PEFT's
 *                    AutoModelForSequenceClassification.from_pretrained(adapter_dir))
 *   labels           options.labels > adapter labels.json > adapter head shape > config.json
 *   tokenizer        the adapter's files when it carries tokenizer.json or vocab.txt, else the
 *                    base model's (a corrupt adapter tokenizer is an error, never skipped)
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "api/api.h"
#include "base/fileio.h"
#include "base/strlist.h"
#include "formats/hub.h"
#include "model/peft.h"

/* Every file a model or adapter folder may need (configs, weights, tokenizers, labels). */
static const char *const model_files[] = {"*.json", "*.safetensors", "vocab.txt", NULL};

lb_status lb_api_resolve(const char *id_or_dir, const char *kind, const char *revision, char **dir, lb_error *err) {
    *dir = NULL;
    if (!id_or_dir || !*id_or_dir) return lb_err(err, LB_ERR_USAGE, "empty %s name", kind);
    if (lb_dir_exists(id_or_dir)) {
        *dir = strdup(id_or_dir);
        return *dir ? LB_OK : lb_err(err, LB_ERR_NOMEM, "out of memory");
    }
    if (!lb_hub_looks_like_repo_id(id_or_dir))
        return lb_err(err, LB_ERR_IO, "%s: no such %s folder (and not a hub repo id)", id_or_dir, kind);
    return lb_hub_resolve(id_or_dir, strcmp(kind, "dataset") ? "model" : "dataset", revision,
                          strcmp(kind, "dataset") ? model_files : NULL, dir, err);
}

bool lb_api_dir_has(const char *dir, const char *name) {
    char *p = lb_path_join(dir, name);
    bool ok = p && lb_file_exists(p);
    free(p);
    return ok;
}

static void free_names(char **names) {
    if (!names) return;
    for (char **p = names; *p; p++) free(*p);
    free(names);
}

lb_status lb_model_open(const char *model, const lb_model_options *opts, lb_model **out, lb_error *err) {
    lb_model_options o = {0};
    if (opts) o = *opts;
    LB_API_NOT_NULL(out);
    *out = NULL;
    char *model_dir = NULL, *adapter_dir = NULL, *base_name = NULL, **adapter_labels = NULL;
    lb_model *m = NULL;
    lb_status st;
    if ((st = lb_api_resolve(model, "model", o.revision, &model_dir, err))) goto fail;
    /* An adapter folder as the model: its base plus the adapter. */
    if (!lb_api_dir_has(model_dir, "config.json") && lb_api_dir_has(model_dir, "adapter_config.json")) {
        if (o.adapter) {
            st = lb_err(err, LB_ERR_USAGE,
                        "%s is a PEFT adapter folder and an adapter (%s) was given too: give the base "
                        "model with the adapter, or the adapter folder alone",
                        model, o.adapter);
            goto fail;
        }
        if ((st = lb_peft_read_base_model(model_dir, &base_name, err))) goto fail;
        adapter_dir = model_dir;
        model_dir = NULL;
        /* A relative base path in adapter_config.json is taken as written (PEFT does the same,
         * relative to the working directory). */
        if ((st = lb_api_resolve(base_name, "model", NULL, &model_dir, err))) {
            lb_err_prefix(err, "%s: base_model_name_or_path", adapter_dir);
            goto fail;
        }
        if (!lb_api_dir_has(model_dir, "config.json") && lb_api_dir_has(model_dir, "adapter_config.json")) {
            st = lb_err(err, LB_ERR_UNSUPPORTED,
                        "%s: base_model_name_or_path %s is itself an adapter folder (stacked "
                        "adapters are not supported)",
                        adapter_dir, base_name);
            goto fail;
        }
    } else if (o.adapter) {
        if ((st = lb_api_resolve(o.adapter, "adapter", NULL, &adapter_dir, err))) goto fail;
        if (!lb_api_dir_has(adapter_dir, "adapter_config.json")) {
            st = lb_err(err, LB_ERR_IO, "%s: no adapter_config.json: not a PEFT adapter folder", adapter_dir);
            goto fail;
        }
    }
    if (o.num_labels < 0 || o.num_labels > LB_MAX_LABELS) {
        st = lb_err(err, LB_ERR_USAGE, "num_labels %d: expected 0 (from the labels, adapter or config.json) to %d",
                    o.num_labels, LB_MAX_LABELS);
        goto fail;
    }
    int num_labels = 0;
    const char *const *labels = o.labels;
    if (labels) {
        num_labels = o.num_labels;
        if (num_labels < 1 || num_labels > LB_MAX_LABELS) {
            st = lb_err(err, LB_ERR_USAGE, "labels: %d names given, expected 1..%d", num_labels, LB_MAX_LABELS);
            goto fail;
        }
        for (int i = 0; i < num_labels; i++)
            if (!labels[i] || !*labels[i]) {
                st = lb_err(err, LB_ERR_USAGE, "labels: name %d is empty", i);
                goto fail;
            }
    } else if (adapter_dir) {
        if ((st = lb_peft_read_labels(adapter_dir, &num_labels, &adapter_labels, err))) goto fail;
        labels = (const char *const *)adapter_labels;
        if (o.num_labels && num_labels && o.num_labels != num_labels) {
            st = lb_err(err, LB_ERR_USAGE, "%s: the adapter has %d labels, %d were asked for", adapter_dir, num_labels,
                        o.num_labels);
            goto fail;
        }
        if (!num_labels) num_labels = o.num_labels;
    } else num_labels = o.num_labels;
    lb_load_opts lo = {
        .num_labels = num_labels, .labels = labels, .seed = o.seed || o.seed_set ? o.seed : 42, .quiet = true};
    /* problem_type: the option, else the adapter's labels.json, else config.json's (HF's rule) */
    if (o.problem_type) {
        lb_problem_type k;
        if (!lb_problem_type_parse(o.problem_type, &k)) {
            st = lb_err(err, LB_ERR_USAGE,
                        "problem_type '%s': expected single_label_classification, multi_label_classification or "
                        "regression",
                        o.problem_type);
            goto fail;
        }
        lo.problem_set = true, lo.problem = (int)k;
    } else if (adapter_dir) {
        int k;
        if ((st = lb_peft_read_problem(adapter_dir, &k, err))) goto fail;
        if (k >= 0) lo.problem_set = true, lo.problem = k;
    }
    if (!(m = lb_model_load(model_dir, &lo, err))) {
        st = err ? err->code : LB_ERR_FORMAT;
        goto fail;
    }
    if (adapter_dir && (st = lb_peft_load(m, adapter_dir, err))) goto fail;
    const char *tok_dir =
        adapter_dir && (lb_api_dir_has(adapter_dir, "tokenizer.json") || lb_api_dir_has(adapter_dir, "vocab.txt"))
            ? adapter_dir
            : model_dir;
    if ((st = lb_model_set_origin(m, adapter_dir, tok_dir, err))) goto fail;
    if (o.precision != LB_PRECISION_FP32 && (st = lb_model_set_precision(m, o.precision, err))) goto fail;
    *out = m;
    m = NULL;
fail:
    lb_model_free(m);
    free(model_dir);
    free(adapter_dir);
    free(base_name);
    free_names(adapter_labels);
    return st;
}

void lb_model_close(lb_model *m) { lb_model_free(m); }

lb_status lb_model_resolve(const char *model, const char *revision, char **dir, lb_error *err) {
    LB_API_NOT_NULL(dir);
    *dir = NULL;
    return lb_api_resolve(model, "model", revision, dir, err);
}

/* "KEY=V,KEY=V" into p (rank: whole numbers in [1, 4096]; alpha: finite numbers). */
static lb_status parse_pattern(const char *what, const char *text, bool alpha, lb_lora_pattern *p, int *n,
                               lb_error *err) {
    *n = 0;
    if (!text || !*text) return LB_OK;
    const char *s = text;
    for (;;) {
        const char *end = strchr(s, ','), *eq = memchr(s, '=', end ? (size_t)(end - s) : strlen(s));
        size_t len = end ? (size_t)(end - s) : strlen(s);
        if (!eq || eq == s)
            return lb_err(err, LB_ERR_USAGE, "%s '%s': expected KEY=%s entries separated by commas", what, text,
                          alpha ? "X" : "N");
        if (*n == LB_LORA_MAX_PATTERNS)
            return lb_err(err, LB_ERR_USAGE, "%s: more than %d entries", what, LB_LORA_MAX_PATTERNS);
        size_t klen = (size_t)(eq - s);
        if (klen >= LB_LORA_PATTERN_KEY)
            return lb_err(err, LB_ERR_USAGE, "%s: key of %zu bytes, expected 1..%d", what, klen,
                          LB_LORA_PATTERN_KEY - 1);
        memcpy(p[*n].key, s, klen);
        p[*n].key[klen] = 0;
        lb_status st = lb_lora_pattern_check_key(what, p[*n].key, err);
        if (st) return st;
        for (int i = 0; i < *n; i++)
            if (!strcmp(p[i].key, p[*n].key)) return lb_err(err, LB_ERR_USAGE, "%s: key '%s' twice", what, p[i].key);
        char num[64];
        size_t vlen = len - klen - 1;
        if (vlen == 0 || vlen >= sizeof num)
            return lb_err(err, LB_ERR_USAGE, "%s: key '%s' has no value", what, p[*n].key);
        memcpy(num, eq + 1, vlen);
        num[vlen] = 0;
        char *stop;
        double v = strtod(num, &stop);
        if (*stop || !isfinite(v) || (alpha ? !(v > 0) : (v < 1 || v > 4096 || v != floor(v))))
            return lb_err(err, LB_ERR_USAGE, "%s: '%s' for key '%s': expected %s", what, num, p[*n].key,
                          alpha ? "a number > 0" : "a whole number in [1, 4096]");
        p[*n].value = v;
        (*n)++;
        if (!end) return LB_OK;
        s = end + 1;
    }
}

/* The configuration of opts (NULL: defaults), checked without a model; target_modules NULL (the
 * architecture's query projection) leaves c->target_mask 0. */
static lb_status lora_config(const lb_lora_options *opts, lb_lora_config *c, lb_lora_patterns *pats, lb_error *err) {
    lb_lora_options o = {0};
    if (opts) o = *opts;
    *c = (lb_lora_config){.r = o.r ? o.r : 4,
                          .alpha = (float)(o.alpha ? o.alpha : 32),
                          .dropout = (float)o.dropout,
                          .use_rslora = o.use_rslora,
                          .use_dora = o.use_dora};
    if (c->r < 1 || c->r > 4096) return lb_err(err, LB_ERR_USAGE, "LoRA r must be in [1, 4096], got %d", c->r);
    if (!(c->alpha > 0)) return lb_err(err, LB_ERR_USAGE, "LoRA alpha must be positive, got %g", o.alpha);
    if (!(o.dropout >= 0 && o.dropout < 1))
        return lb_err(err, LB_ERR_USAGE, "LoRA dropout must be in [0, 1), got %g", o.dropout);
    lb_lora_init init;
    lb_status ist = lb_lora_init_parse(o.init, &init, err);
    if (ist) return ist;
    c->init = (int)init;
    if ((ist = parse_pattern("rank_pattern", o.rank_pattern, false, pats->rank, &pats->n_rank, err))) return ist;
    if ((ist = parse_pattern("alpha_pattern", o.alpha_pattern, true, pats->alpha, &pats->n_alpha, err))) return ist;
    c->patterns = pats->n_rank || pats->n_alpha ? pats : NULL;
    if (o.modules_to_save && *o.modules_to_save) {
        int nm = 0;
        char **names = lb_split_list(o.modules_to_save, &nm);
        if (!names) return lb_err(err, LB_ERR_NOMEM, "out of memory");
        for (int i = 0; i < nm && !ist; i++) {
            size_t len = strlen(names[i]);
            bool dup = false;
            for (int j = 0; j < pats->n_mts; j++) dup |= !strcmp(pats->mts[j], names[i]);
            if (dup) continue;
            if (len < 1 || len >= LB_LORA_PATTERN_KEY || pats->n_mts >= LB_LORA_MAX_MTS)
                ist = lb_err(err, LB_ERR_USAGE, "modules_to_save '%.64s': at most %d names of 1..%d bytes each",
                             names[i], LB_LORA_MAX_MTS, LB_LORA_PATTERN_KEY - 1);
            else memcpy(pats->mts[pats->n_mts++], names[i], len + 1);
        }
        lb_free_list(names);
        if (ist) return ist;
        c->patterns = pats;
    }
    if (!o.target_modules) return LB_OK;
    int n = 0;
    char **names = lb_split_list(o.target_modules, &n);
    if (*o.target_modules && !names) return lb_err(err, LB_ERR_NOMEM, "out of memory");
    lb_status st = LB_OK;
    for (int i = 0; i < n && !st; i++) st = lb_peft_target_mask(names[i], &c->target_mask, err);
    lb_free_list(names);
    if (!st && !c->target_mask) st = lb_err(err, LB_ERR_USAGE, "target_modules '%s' names no module", o.target_modules);
    return st;
}

lb_status lb_lora_options_check(const lb_lora_options *opts, lb_error *err) {
    lb_lora_config c;
    lb_lora_patterns *pats = calloc(1, sizeof *pats);
    if (!pats) return lb_err(err, LB_ERR_NOMEM, "out of memory");
    lb_status st = lora_config(opts, &c, pats, err);
    free(pats);
    return st;
}

/* Each target that names a module type (not all-linear, not a dotted path) must be one of this
 * architecture's linears: q_lin is DistilBERT's, query BERT's. */
static lb_status check_arch_targets(const lb_model *m, const char *targets, lb_error *err) {
    int n = 0;
    char **names = lb_split_list(targets, &n);
    if (*targets && !names) return lb_err(err, LB_ERR_NOMEM, "out of memory");
    lb_status st = LB_OK;
    for (int i = 0; i < n && !st; i++) st = lb_peft_check_target(m, names[i], err);
    lb_free_list(names);
    return st;
}

lb_status lb_model_add_adapter(lb_model *m, const lb_lora_options *opts, lb_error *err) {
    lb_lora_options o = {0};
    if (opts) o = *opts;
    if (!m) return lb_err(err, LB_ERR_USAGE, "add adapter: no model");
    if (lb_model_get_lora(m)) return lb_err(err, LB_ERR_USAGE, "the model already holds an adapter");
    if (lb_model_in_run(m)) return lb_err(err, LB_ERR_USAGE, "add adapter: a training run holds the model");
    if (!o.target_modules) o.target_modules = lb_model_linear_name(m, LB_LIN_Q);
    lb_lora_config c;
    lb_lora_patterns *pats = calloc(1, sizeof *pats);
    if (!pats) return lb_err(err, LB_ERR_NOMEM, "out of memory");
    lb_status st = lora_config(&o, &c, pats, err);
    if (!st) st = check_arch_targets(m, o.target_modules, err);
    if (!st) st = lb_model_add_lora(m, &c, o.seed || o.seed_set ? o.seed : 42, err); /* copies the patterns */
    free(pats);
    return st;
}
