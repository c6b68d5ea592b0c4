/* config.json -> lb_model_config for DistilBERT, BERT, RoBERTa and XLM-RoBERTa, with transformers' defaults for
 * absent fields, and refusal (LB_ERR_UNSUPPORTED, naming the field) of values whose math
 * lorabert does not implement. Labels follow PretrainedConfig: id2label from the file,
 * replaced by LABEL_i when the caller asks for a different num_labels, or by the caller's
 * names. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "base/fileio.h"
#include "formats/pyjson.h"
#include "model/internal.h"

/* Every architecture lorabert runs. */
static const lb_arch_desc *const archs[] = {&lb_distilbert_desc, &lb_bert_desc, &lb_roberta_desc, &lb_xlm_roberta_desc,
                                            &lb_modernbert_desc};

const lb_arch_desc *lb_arch_desc_of(lb_arch arch) {
    for (size_t i = 0; i < sizeof archs / sizeof archs[0]; i++)
        if (archs[i]->arch == arch) return archs[i];
    return NULL;
}

typedef struct cfg_ctx {
    const char *path;
    cJSON *root;
    lb_error *err;
} cfg_ctx;

/* An explicit null reaches transformers' __init__ as None (not the default), and the model
 * then fails to build (nn.Embedding(None, ...), nn.Dropout(p=None), ACT2FN[None]): refused
 * here with the field named, except where None has a meaning (noted at the call). */
static lb_status null_field(cfg_ctx *c, const char *key) {
    return lb_err(c->err, LB_ERR_FORMAT,
                  "%s: \"%s\" is null (transformers would pass None to the model and fail); "
                  "remove the field for the default or give a value",
                  c->path, key);
}

/* An integer; absent gives def; null gives def only with null_ok. */
static lb_status get_int_n(cfg_ctx *c, const char *key, int def, int lo, int hi, bool null_ok, int *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c->root, key);
    if (v && cJSON_IsNull(v) && !null_ok) return null_field(c, key);
    if (!v || cJSON_IsNull(v)) {
        *out = def;
        return LB_OK;
    }
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < lo || v->valuedouble > hi)
        return lb_err(c->err, LB_ERR_FORMAT, "%s: \"%s\": expected an integer in [%d, %d]", c->path, key, lo, hi);
    *out = (int)v->valuedouble;
    return LB_OK;
}

static lb_status get_int(cfg_ctx *c, const char *key, int def, int lo, int hi, int *out) {
    return get_int_n(c, key, def, lo, hi, false, out);
}

/* A probability; absent gives `def`; JSON null is refused unless was_null is given (then it
 * gives `def` and sets *was_null, which is also set when absent). */
static lb_status get_prob(cfg_ctx *c, const char *key, float def, float *out, bool *was_null) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c->root, key);
    if (v && cJSON_IsNull(v) && !was_null) return null_field(c, key);
    if (was_null) *was_null = !v || cJSON_IsNull(v);
    if (!v || cJSON_IsNull(v)) {
        *out = def;
        return LB_OK;
    }
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0.0 && v->valuedouble < 1.0))
        return lb_err(c->err, LB_ERR_FORMAT, "%s: \"%s\": expected a probability in [0, 1)", c->path, key);
    *out = (float)v->valuedouble;
    return LB_OK;
}

static lb_status expect_str(cfg_ctx *c, const char *key, const char *want, bool required_if_present) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c->root, key);
    if (v && cJSON_IsNull(v)) return null_field(c, key);
    if (!v) return LB_OK;
    if (!cJSON_IsString(v)) return lb_err(c->err, LB_ERR_FORMAT, "%s: \"%s\": expected a string", c->path, key);
    if (required_if_present && strcmp(v->valuestring, want) != 0)
        return lb_err(c->err, LB_ERR_UNSUPPORTED, "%s: \"%s\" is \"%s\"; lorabert supports only \"%s\"", c->path, key,
                      v->valuestring, want);
    return LB_OK;
}

void lb_config_free(lb_model_config *c) {
    if (c->id2label)
        for (int i = 0; i < c->num_labels; i++) free(c->id2label[i]);
    free(c->id2label);
    c->id2label = NULL;
}

static lb_status parse_labels(cfg_ctx *c, lb_model_config *cfg, const lb_load_opts *opts) {
    const cJSON *ids = cJSON_GetObjectItemCaseSensitive(c->root, "id2label");
    int n_file = 0;
    if (ids && !cJSON_IsNull(ids)) {
        if (!cJSON_IsObject(ids)) return lb_err(c->err, LB_ERR_FORMAT, "%s: \"id2label\": expected an object", c->path);
        n_file = cJSON_GetArraySize(ids);
    }
    if (opts && opts->labels && opts->num_labels < 1)
        return lb_err(c->err, LB_ERR_USAGE, "%s: label names given without num_labels (>= 1)", c->path);
    int want = opts && opts->num_labels > 0 ? opts->num_labels : (n_file > 0 ? n_file : 2);
    /* one output: a regression model (config.json "regression", or no problem_type: HF's rule) */
    if (want < 2 && cfg->problem != LB_PROBLEM_REGRESSION)
        return lb_err(c->err, LB_ERR_UNSUPPORTED,
                      "%s: num_labels %d with problem_type %s: classification needs at least 2 labels "
                      "(one output is a regression model)",
                      c->path, want, lb_problem_type_name((lb_problem_type)cfg->problem));
    cfg->num_labels = want;
    cfg->id2label = calloc((size_t)want, sizeof(char *));
    if (!cfg->id2label) return lb_err(c->err, LB_ERR_NOMEM, "%s: out of memory", c->path);
    if (opts && opts->labels) {
        for (int i = 0; i < want; i++) cfg->id2label[i] = strdup(opts->labels[i] ? opts->labels[i] : "");
    } else if (n_file == want) {
        const cJSON *it;
        cJSON_ArrayForEach(it, ids) {
            char *end;
            long k = strtol(it->string, &end, 10);
            if (*it->string == '\0' || *end != '\0' || k < 0 || k >= want || cfg->id2label[k])
                return lb_err(c->err, LB_ERR_FORMAT,
                              "%s: \"id2label\": key \"%s\" is not a label index in [0, %d) "
                              "(or repeats)",
                              c->path, it->string, want);
            if (!cJSON_IsString(it))
                return lb_err(c->err, LB_ERR_FORMAT, "%s: \"id2label\"[\"%s\"]: expected a string", c->path,
                              it->string);
            cfg->id2label[k] = strdup(it->valuestring);
        }
    } else {
        for (int i = 0; i < want; i++) {
            char b[32];
            snprintf(b, sizeof b, "LABEL_%d", i);
            cfg->id2label[i] = strdup(b);
        }
    }
    for (int i = 0; i < want; i++)
        if (!cfg->id2label[i]) return lb_err(c->err, LB_ERR_NOMEM, "%s: out of memory", c->path);
    return LB_OK;
}

/* A positive finite number; absent gives def; null refused unless null_def >= 0 (then that). */
static lb_status get_pos(cfg_ctx *c, const char *key, double def, double hi, double null_def, float *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c->root, key);
    if (v && cJSON_IsNull(v) && null_def < 0) return null_field(c, key);
    if (!v || cJSON_IsNull(v)) {
        *out = (float)(v ? null_def : def);
        return LB_OK;
    }
    if (!cJSON_IsNumber(v) || !(v->valuedouble > 0 && v->valuedouble < hi))
        return lb_err(c->err, LB_ERR_FORMAT, "%s: \"%s\": expected a number in (0, %g)", c->path, key, hi);
    *out = (float)v->valuedouble;
    return LB_OK;
}

/* A boolean that lorabert supports only as `want` (absent: transformers' default `def`). */
static lb_status expect_bool(cfg_ctx *c, const char *key, bool def, bool want) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c->root, key);
    if (v && cJSON_IsNull(v)) return null_field(c, key);
    if (v && !cJSON_IsBool(v)) return lb_err(c->err, LB_ERR_FORMAT, "%s: \"%s\": expected true or false", c->path, key);
    bool val = v ? cJSON_IsTrue(v) : def;
    if (val != want)
        return lb_err(c->err, LB_ERR_UNSUPPORTED, "%s: \"%s\" is %s; lorabert supports only %s", c->path, key,
                      val ? "true" : "false", want ? "true" : "false");
    return LB_OK;
}

/* A GELU variant: "gelu" (exact erf) or "gelu_pytorch_tanh" (tanh approximation). */
static lb_status get_gelu(cfg_ctx *c, const char *key, bool *tanh_approx) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c->root, key);
    if (v && cJSON_IsNull(v)) return null_field(c, key);
    const char *s = v && cJSON_IsString(v) ? v->valuestring : v ? NULL : "gelu";
    if (!s) return lb_err(c->err, LB_ERR_FORMAT, "%s: \"%s\": expected a string", c->path, key);
    if (strcmp(s, "gelu") && strcmp(s, "gelu_pytorch_tanh"))
        return lb_err(c->err, LB_ERR_UNSUPPORTED,
                      "%s: \"%s\" is \"%s\"; lorabert supports \"gelu\" and \"gelu_pytorch_tanh\"", c->path, key, s);
    *tanh_approx = s[4] != '\0';
    return LB_OK;
}

/* ModernBertConfig (transformers 4.48): its defaults for absent fields; the biases it can switch
 * on, non-zero embedding/attention/MLP dropout and RoPE scaling are refused by name. */
static lb_status parse_modernbert(cfg_ctx *c, lb_model_config *cfg) {
    lb_status st;
    float p;
    if ((st = get_int(c, "vocab_size", 50368, 1, 1 << 24, &cfg->vocab_size)) ||
        (st = get_int(c, "hidden_size", 768, 1, 1 << 16, &cfg->dim)) ||
        (st = get_int(c, "num_hidden_layers", 22, 1, 256, &cfg->n_layers)) ||
        (st = get_int(c, "num_attention_heads", 12, 1, 1024, &cfg->n_heads)) ||
        (st = get_int(c, "intermediate_size", 1152, 1, 1 << 18, &cfg->hidden_dim)) ||
        (st = get_int(c, "max_position_embeddings", 8192, 1, 1 << 20, &cfg->max_pos)) ||
        (st = get_int_n(c, "pad_token_id", 50283, 0, 1 << 24, true, &cfg->pad_token_id)) ||
        (st = get_int(c, "global_attn_every_n_layers", 3, 1, 1 << 16, &cfg->global_every)) ||
        (st = get_int(c, "local_attention", 128, 0, 1 << 24, &cfg->local_window)) ||
        (st = get_pos(c, "norm_eps", 1e-5, 1.0, -1, &cfg->ln_eps)) ||
        (st = get_pos(c, "global_rope_theta", 160000.0, 1e30, -1, &cfg->rope_global)) ||
        (st = get_pos(c, "local_rope_theta", 10000.0, 1e30, 0, &cfg->rope_local)) ||
        (st = get_gelu(c, "hidden_activation", &cfg->mlp_gelu_tanh)) ||
        (st = get_gelu(c, "classifier_activation", &cfg->head_gelu_tanh)) ||
        (st = expect_bool(c, "norm_bias", false, false)) || (st = expect_bool(c, "attention_bias", false, false)) ||
        (st = expect_bool(c, "mlp_bias", false, false)) || (st = expect_bool(c, "classifier_bias", false, false)) ||
        (st = get_prob(c, "classifier_dropout", 0.0f, &cfg->classifier_dropout, NULL)))
        return st;
    if (cfg->rope_local == 0) cfg->rope_local = cfg->rope_global; /* null: the global theta */
    static const char *const zero[] = {"attention_dropout", "embedding_dropout", "mlp_dropout"};
    for (int i = 0; i < 3; i++) {
        if ((st = get_prob(c, zero[i], 0.0f, &p, NULL))) return st;
        if (p != 0.0f)
            return lb_err(c->err, LB_ERR_UNSUPPORTED, "%s: \"%s\" is %g; lorabert supports only 0 for ModernBERT",
                          c->path, zero[i], (double)p);
    }
    const cJSON *rs = cJSON_GetObjectItemCaseSensitive(c->root, "rope_scaling");
    if (rs && !cJSON_IsNull(rs))
        return lb_err(c->err, LB_ERR_UNSUPPORTED, "%s: \"rope_scaling\" is set; lorabert supports only plain RoPE",
                      c->path);
    const cJSON *pool = cJSON_GetObjectItemCaseSensitive(c->root, "classifier_pooling");
    if (pool && cJSON_IsNull(pool)) return null_field(c, "classifier_pooling");
    const char *ps = pool ? (cJSON_IsString(pool) ? pool->valuestring : "") : "cls";
    if (strcmp(ps, "cls") && strcmp(ps, "mean"))
        return lb_err(c->err, LB_ERR_UNSUPPORTED, "%s: \"classifier_pooling\": expected \"cls\" or \"mean\"", c->path);
    cfg->pool_mean = ps[0] == 'm';
    cfg->type_vocab_size = 0;
    return LB_OK;
}

lb_status lb_config_parse(lb_model *m, const char *dir, const lb_load_opts *opts, lb_error *err) {
    char *path = lb_path_join(dir, "config.json");
    char *text = NULL;
    lb_status st = lb_read_file_max(path, LB_MAX_JSON_BYTES, "JSON file", &text, NULL, err);
    if (st) {
        free(path);
        return st;
    }
    st = lb_config_parse_text(m, path, text, opts, err);
    free(text);
    free(path);
    return st;
}

lb_status lb_config_parse_text(lb_model *m, const char *path, const char *text, const lb_load_opts *opts,
                               lb_error *err) {
    lb_status st;
    cJSON *root = lb_json_parse(path, text, strlen(text), err);
    cfg_ctx c = {path, root, err};
    lb_model_config *cfg = &m->cfg;
    memset(cfg, 0, sizeof *cfg);
    if (!root) {
        st = LB_ERR_FORMAT;
        goto out;
    }
    if (!cJSON_IsObject(root)) {
        st = lb_err(err, LB_ERR_FORMAT, "%s: expected a JSON object, found %s", path, lb_json_kind(root));
        goto out;
    }
    m->config_json = root;
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(root, "model_type");
    const char *type = cJSON_IsString(mt) ? mt->valuestring : NULL;
    if (!type) {
        st = lb_err(err, LB_ERR_FORMAT, "%s: \"model_type\" missing", path);
        goto out;
    }
    float p_cls;
    if (strcmp(type, "distilbert") == 0) {
        m->arch = &lb_distilbert_desc;
        cfg->arch = m->arch->arch;
        bool sin = false;
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(root, "sinusoidal_pos_embds");
        if (s && cJSON_IsBool(s)) sin = cJSON_IsTrue(s);
        if (sin) {
            st = lb_err(err, LB_ERR_UNSUPPORTED,
                        "%s: \"sinusoidal_pos_embds\" is true; lorabert supports only "
                        "learned position embeddings",
                        path);
            goto out;
        }
        if ((st = expect_str(&c, "activation", "gelu", true)) ||
            (st = get_int(&c, "vocab_size", 30522, 1, 1 << 24, &cfg->vocab_size)) ||
            (st = get_int(&c, "dim", 768, 1, 1 << 16, &cfg->dim)) ||
            (st = get_int(&c, "n_layers", 6, 1, 256, &cfg->n_layers)) ||
            (st = get_int(&c, "n_heads", 12, 1, 1024, &cfg->n_heads)) ||
            (st = get_int(&c, "hidden_dim", 4 * 768, 1, 1 << 18, &cfg->hidden_dim)) ||
            (st = get_int(&c, "max_position_embeddings", 512, 1, 1 << 20, &cfg->max_pos)) ||
            /* pad_token_id null is nn.Embedding(padding_idx=None): no padding row, same math */
            (st = get_int_n(&c, "pad_token_id", 0, 0, 1 << 24, true, &cfg->pad_token_id)) ||
            (st = get_prob(&c, "dropout", 0.1f, &cfg->hidden_dropout, NULL)) ||
            (st = get_prob(&c, "attention_dropout", 0.1f, &cfg->attention_dropout, NULL)) ||
            (st = get_prob(&c, "seq_classif_dropout", 0.2f, &p_cls, NULL)))
            goto out;
        cfg->classifier_dropout = p_cls;
        cfg->type_vocab_size = 0;
        cfg->ln_eps = 1e-12f; /* hard-coded in modeling_distilbert */
    } else if (strcmp(type, "bert") == 0 || strcmp(type, "roberta") == 0 || strcmp(type, "xlm-roberta") == 0) {
        /* RobertaConfig / XLMRobertaConfig are BertConfig with other defaults: vocabulary 50265
         * (RoBERTa) and pad_token_id 1 */
        m->arch = type[0] == 'b' ? &lb_bert_desc : type[0] == 'r' ? &lb_roberta_desc : &lb_xlm_roberta_desc;
        cfg->arch = m->arch->arch;
        bool rob = m->arch->pos_from_pad;
        int def_vocab = m->arch == &lb_roberta_desc ? 50265 : 30522;
        bool cls_null;
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "layer_norm_eps");
        cfg->ln_eps = 1e-12f;
        if (e && cJSON_IsNull(e)) {
            st = null_field(&c, "layer_norm_eps");
            goto out;
        }
        /* position_embedding_type None makes BertEmbeddings skip position embeddings */
        const cJSON *pe = cJSON_GetObjectItemCaseSensitive(root, "position_embedding_type");
        if (pe && cJSON_IsNull(pe)) {
            st = lb_err(err, LB_ERR_UNSUPPORTED,
                        "%s: \"position_embedding_type\" is null (transformers then adds no "
                        "position embeddings); lorabert supports only \"absolute\"",
                        path);
            goto out;
        }
        if (e) {
            if (!cJSON_IsNumber(e) || !(e->valuedouble > 0 && e->valuedouble < 1)) {
                st = lb_err(err, LB_ERR_FORMAT, "%s: \"layer_norm_eps\": expected a small positive number", path);
                goto out;
            }
            cfg->ln_eps = (float)e->valuedouble;
        }
        if ((st = expect_str(&c, "hidden_act", "gelu", true)) ||
            (st = expect_str(&c, "position_embedding_type", "absolute", true)) ||
            (st = get_int(&c, "vocab_size", def_vocab, 1, 1 << 24, &cfg->vocab_size)) ||
            (st = get_int(&c, "hidden_size", 768, 1, 1 << 16, &cfg->dim)) ||
            (st = get_int(&c, "num_hidden_layers", 12, 1, 256, &cfg->n_layers)) ||
            (st = get_int(&c, "num_attention_heads", 12, 1, 1024, &cfg->n_heads)) ||
            (st = get_int(&c, "intermediate_size", 3072, 1, 1 << 18, &cfg->hidden_dim)) ||
            (st = get_int(&c, "max_position_embeddings", 512, 1, 1 << 20, &cfg->max_pos)) ||
            (st = get_int(&c, "type_vocab_size", 2, 1, 1 << 16, &cfg->type_vocab_size)) ||
            (st = get_int_n(&c, "pad_token_id", rob ? 1 : 0, 0, 1 << 24, !rob, &cfg->pad_token_id)) ||
            (st = get_prob(&c, "hidden_dropout_prob", 0.1f, &cfg->hidden_dropout, NULL)) ||
            (st = get_prob(&c, "attention_probs_dropout_prob", 0.1f, &cfg->attention_dropout, NULL)) ||
            (st = get_prob(&c, "classifier_dropout", 0.0f, &p_cls, &cls_null)))
            goto out;
        cfg->classifier_dropout = cls_null ? cfg->hidden_dropout : p_cls;
        const cJSON *dec = cJSON_GetObjectItemCaseSensitive(root, "is_decoder");
        if (dec && cJSON_IsTrue(dec)) {
            st = lb_err(err, LB_ERR_UNSUPPORTED, "%s: \"is_decoder\" is true; lorabert supports encoders only", path);
            goto out;
        }
        /* RoBERTa's position table has padding_idx pad_token_id: nn.Embedding refuses it
         * outside the table, and every position id is at least pad_token_id + 1 */
        if (rob && cfg->pad_token_id + 1 >= cfg->max_pos) {
            st = lb_err(err, LB_ERR_FORMAT,
                        "%s: \"pad_token_id\" %d leaves no position below max_position_embeddings %d "
                        "(%s positions start at pad_token_id + 1)",
                        path, cfg->pad_token_id, cfg->max_pos, type);
            goto out;
        }
    } else if (strcmp(type, "modernbert") == 0) {
        m->arch = &lb_modernbert_desc;
        cfg->arch = m->arch->arch;
        if ((st = parse_modernbert(&c, cfg))) goto out;
    } else {
        st = lb_err(err, LB_ERR_UNSUPPORTED,
                    "%s: model_type \"%s\": lorabert supports \"distilbert\", \"bert\", \"roberta\", "
                    "\"xlm-roberta\" and \"modernbert\"",
                    path, type);
        goto out;
    }
    if (cfg->dim % cfg->n_heads != 0) {
        st = lb_err(err, LB_ERR_FORMAT, "%s: hidden size %d is not a multiple of the number of heads %d", path,
                    cfg->dim, cfg->n_heads);
        goto out;
    }
    cfg->max_tokens = lb_config_max_tokens(cfg);
    /* problem_type: HF's three names; absent or null: HF's inference once the labels are known
     * (num_labels 1: regression; more: single-label, the class-id labels lorabert reads) */
    const cJSON *pt = cJSON_GetObjectItemCaseSensitive(root, "problem_type");
    lb_problem_type pk = LB_PROBLEM_SINGLE_LABEL;
    const bool pt_given = pt && !cJSON_IsNull(pt);
    if (pt_given && !(cJSON_IsString(pt) && lb_problem_type_parse(pt->valuestring, &pk))) {
        st = lb_err(err, LB_ERR_UNSUPPORTED,
                    "%s: problem_type %s%s%s: lorabert supports \"single_label_classification\", "
                    "\"multi_label_classification\" and \"regression\"",
                    path, cJSON_IsString(pt) ? "\"" : "", cJSON_IsString(pt) ? pt->valuestring : "(not a string)",
                    cJSON_IsString(pt) ? "\"" : "");
        goto out;
    }
    if (!pt_given) { /* HF: num_labels == 1 -> regression */
        const cJSON *ids = cJSON_GetObjectItemCaseSensitive(root, "id2label");
        int n = opts && opts->num_labels > 0 ? opts->num_labels : cJSON_IsObject(ids) ? cJSON_GetArraySize(ids) : 2;
        if (n == 1) pk = LB_PROBLEM_REGRESSION;
    }
    if (opts && opts->problem_set) pk = (lb_problem_type)opts->problem;
    cfg->problem = (int)pk;
    cfg->multi_label = pk == LB_PROBLEM_MULTI_LABEL;
    st = parse_labels(&c, cfg, opts);
out:
    if (st && root && m->config_json != root) cJSON_Delete(root);
    return st;
}

int lb_config_max_tokens(const lb_model_config *c) {
    const lb_arch_desc *a = lb_arch_desc_of(c->arch);
    int n = a && a->pos_from_pad ? c->max_pos - c->pad_token_id - 1 : c->max_pos;
    return n > 0 ? n : 0;
}
