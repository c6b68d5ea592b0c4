/* Loading a tokenizer: HF tokenizer.json (tokenizers' serialization), or vocab.txt plus the
 * transformers tokenizer_config.json / special_tokens_map.json, converted the way
 * transformers' BertConverter + PreTrainedTokenizerFast.from_pretrained do it. */
#include <cjson/cJSON.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "base/fileio.h"
#include "formats/pyjson.h"
#include "text/tokenizer_impl.h"
#include "base/utf8.h"

#define MAX_TOKEN_ID (1 << 24) /* sanity bound: ids index dense arrays */

/* Settings from tokenizer_config.json + special_tokens_map.json (transformers' init kwargs). */
enum { SP_UNK, SP_SEP, SP_PAD, SP_CLS, SP_MASK, SP_N };
static const char *const sp_keys[SP_N] = {"unk_token", "sep_token", "pad_token", "cls_token", "mask_token"};
static const char *const sp_defaults[SP_N] = {"[UNK]", "[SEP]", "[PAD]", "[CLS]", "[MASK]"};

typedef struct tok_cfg {
    bool do_lower_case, tokenize_chinese_chars;
    int strip_accents;        /* -1 null */
    int64_t model_max_length; /* -1: not configured */
    lb_added_token sp[SP_N];  /* content NULL: explicitly null */
    lb_added_token *extra;    /* additional_special_tokens */
    size_t n_extra;
    char *tokenizer_class; /* tokenizer_config.json's, else NULL */
    int add_prefix_space;  /* tokenizer_config.json's: 0/1, -1 absent (RobertaTokenizerFast: false) */
    char *model_type;      /* config.json's beside the tokenizer files, or NULL */
} tok_cfg;

static void cfg_free(tok_cfg *c) {
    for (int i = 0; i < SP_N; i++) free(c->sp[i].content);
    for (size_t i = 0; i < c->n_extra; i++) free(c->extra[i].content);
    free(c->extra);
    free(c->tokenizer_class);
    free(c->model_type);
    memset(c, 0, sizeof *c);
}

static lb_status cfg_init(tok_cfg *c, lb_error *err) {
    memset(c, 0, sizeof *c);
    c->do_lower_case = true;
    c->tokenize_chinese_chars = true;
    c->strip_accents = -1;
    c->model_max_length = -1;
    c->add_prefix_space = -1;
    for (int i = 0; i < SP_N; i++) {
        c->sp[i] = (lb_added_token){.content = strdup(sp_defaults[i]), .special = true};
        if (!c->sp[i].content) {
            cfg_free(c);
            return lb_err(err, LB_ERR_NOMEM, "out of memory");
        }
    }
    return LB_OK;
}

/* Python json.loads rules (formats/pyjson.h); tokenizer.json gets the larger cap. */
static lb_status parse_json_file(const char *path, size_t max, cJSON **out, lb_error *err) {
    *out = lb_json_read_file(path, max, max == LB_MAX_JSON_BYTES ? "JSON file" : "tokenizer.json", false, err);
    return *out ? LB_OK : err->code;
}

static const cJSON *get(const cJSON *o, const char *key) { return cJSON_GetObjectItemCaseSensitive(o, key); }

/* Optional bool field: absent or null keeps *v. */
static lb_status get_bool(const char *path, const char *where, const cJSON *o, const char *key, bool *v,
                          lb_error *err) {
    const cJSON *x = get(o, key);
    if (!x || cJSON_IsNull(x)) return LB_OK;
    if (!cJSON_IsBool(x)) return lb_err(err, LB_ERR_FORMAT, "%s: %s.%s: expected true or false", path, where, key);
    *v = cJSON_IsTrue(x);
    return LB_OK;
}

static lb_status to_int(const char *path, const char *where, const cJSON *x, int64_t lo, int64_t hi, int64_t *v,
                        lb_error *err) {
    if (!cJSON_IsNumber(x) || !isfinite(x->valuedouble) || x->valuedouble != floor(x->valuedouble) ||
        x->valuedouble < (double)lo || x->valuedouble > (double)hi)
        return lb_err(err, LB_ERR_FORMAT, "%s: %s: expected an integer in [%lld, %lld]", path, where, (long long)lo,
                      (long long)hi);
    *v = (int64_t)x->valuedouble;
    return LB_OK;
}

static lb_status dup_str(const char *path, const char *where, const cJSON *x, char **out, lb_error *err) {
    if (!cJSON_IsString(x) || !x->valuestring)
        return lb_err(err, LB_ERR_FORMAT, "%s: %s: expected a string", path, where);
    size_t n = strlen(x->valuestring);
    if (lb_utf8_first_invalid((const uint8_t *)x->valuestring, n) != n)
        return lb_err(err, LB_ERR_FORMAT, "%s: %s: invalid UTF-8 in string", path, where);
    *out = strdup(x->valuestring);
    return *out ? LB_OK : lb_err(err, LB_ERR_NOMEM, "out of memory");
}

/* A special token setting: "[X]" or {"content": "[X]", "lstrip": .., ...}; null clears it. */
static lb_status parse_special(const char *path, const char *key, const cJSON *x, lb_added_token *t, lb_error *err) {
    free(t->content);
    *t = (lb_added_token){.special = true};
    if (cJSON_IsNull(x)) return LB_OK;
    if (cJSON_IsString(x)) return dup_str(path, key, x, &t->content, err);
    if (!cJSON_IsObject(x)) return lb_err(err, LB_ERR_FORMAT, "%s: %s: expected a string or an object", path, key);
    lb_status st = dup_str(path, key, get(x, "content"), &t->content, err);
    if (!st) st = get_bool(path, key, x, "lstrip", &t->lstrip, err);
    if (!st) st = get_bool(path, key, x, "rstrip", &t->rstrip, err);
    if (!st) st = get_bool(path, key, x, "single_word", &t->single_word, err);
    if (!st) st = get_bool(path, key, x, "normalized", &t->normalized, err);
    return st;
}

/* Reads the transformers settings file(s) present in cfg (either path may be NULL). */
static lb_status cfg_read(tok_cfg *c, const char *config_path, const char *special_map_path, lb_error *err) {
    const char *paths[2] = {config_path, special_map_path};
    for (int f = 0; f < 2; f++) {
        if (!paths[f]) continue;
        const char *path = paths[f];
        cJSON *j;
        lb_status st = parse_json_file(path, LB_MAX_JSON_BYTES, &j, err);
        if (st) return st;
        if (!cJSON_IsObject(j)) {
            cJSON_Delete(j);
            return lb_err(err, LB_ERR_FORMAT, "%s: expected a JSON object, found %s", path, lb_json_kind(j));
        }
        if (f == 0) {
            const cJSON *x;
            st = get_bool(path, "config", j, "do_lower_case", &c->do_lower_case, err);
            if (!st) st = get_bool(path, "config", j, "tokenize_chinese_chars", &c->tokenize_chinese_chars, err);
            if (!st && (x = get(j, "strip_accents")) && !cJSON_IsNull(x)) {
                if (!cJSON_IsBool(x))
                    st = lb_err(err, LB_ERR_FORMAT, "%s: strip_accents: expected true, false or null", path);
                else c->strip_accents = cJSON_IsTrue(x);
            }
            if (!st && (x = get(j, "model_max_length")) && !cJSON_IsNull(x)) {
                if (!cJSON_IsNumber(x) || !(x->valuedouble >= 1))
                    st = lb_err(err, LB_ERR_FORMAT, "%s: model_max_length: expected a positive number", path);
                else /* transformers uses 1e30 for "no limit" */
                    c->model_max_length = x->valuedouble > INT32_MAX ? INT32_MAX : (int64_t)x->valuedouble;
            }
            if (!st && (x = get(j, "tokenizer_class")) && !cJSON_IsNull(x))
                st = dup_str(path, "tokenizer_class", x, &c->tokenizer_class, err);
            if (!st && (x = get(j, "add_prefix_space")) && !cJSON_IsNull(x)) {
                bool aps = false;
                st = get_bool(path, "config", j, "add_prefix_space", &aps, err);
                c->add_prefix_space = aps;
            }
        }
        for (int i = 0; !st && i < SP_N; i++) {
            const cJSON *x = get(j, sp_keys[i]);
            if (x) st = parse_special(path, sp_keys[i], x, &c->sp[i], err);
        }
        const cJSON *extra = get(j, "additional_special_tokens");
        if (!st && extra && !cJSON_IsNull(extra)) {
            if (!cJSON_IsArray(extra)) {
                st = lb_err(err, LB_ERR_FORMAT, "%s: additional_special_tokens: expected an array", path);
            } else {
                for (size_t i = 0; i < c->n_extra; i++) free(c->extra[i].content);
                free(c->extra);
                c->n_extra = 0;
                int n = cJSON_GetArraySize(extra);
                c->extra = calloc(n ? (size_t)n : 1, sizeof *c->extra);
                if (!c->extra) st = lb_err(err, LB_ERR_NOMEM, "out of memory");
                const cJSON *x;
                cJSON_ArrayForEach(x, extra) {
                    if (st) break;
                    st = parse_special(path, "additional_special_tokens[]", x, &c->extra[c->n_extra], err);
                    c->n_extra++;
                }
            }
        }
        cJSON_Delete(j);
        if (st) return st;
    }
    return LB_OK;
}

static void tmpl_free(lb_tmpl *t) {
    for (int32_t i = 0; i < t->n; i++) free(t->items[i].ids);
    free(t->items);
    memset(t, 0, sizeof *t);
}

void lb_tokenizer_free(lb_tokenizer *tok) {
    if (!tok) return;
    lb_wordpiece_free(&tok->wp);
    lb_bpe_free(&tok->bpe);
    lb_unigram_free(&tok->uni);
    lb_seqnorm_free(&tok->snorm);
    for (size_t i = 0; i < tok->n_added; i++) free(tok->added[i].content);
    free(tok->added);
    lb_added_matcher_free(&tok->raw_m);
    lb_added_matcher_free(&tok->norm_m);
    tmpl_free(&tok->single);
    tmpl_free(&tok->pair);
    free(tok->id_tok);
    free(tok);
}

static lb_tokenizer *new_tokenizer(lb_error *err) {
    lb_tokenizer *tok = calloc(1, sizeof *tok);
    if (!tok) {
        lb_err(err, LB_ERR_NOMEM, "out of memory");
        return NULL;
    }
    tok->wp.unk_id = -1;
    tok->wp.max_chars = 100;
    tok->wp.pretokenize = true;
    tok->pad_id = -1;
    tok->model_max_length = 512;
    return tok;
}

/* Adds an added token; its id is the vocab's (or existing added token's) id for the content,
 * else the next free id, as AddedVocabulary::add_tokens does. id >= 0 forces the id. */
static lb_status add_token(lb_tokenizer *tok, const lb_added_token *t, int32_t id, lb_error *err) {
    if (!t->content || !t->content[0]) return LB_OK;
    size_t len = strlen(t->content);
    for (size_t i = 0; i < tok->n_added; i++)
        if (!strcmp(tok->added[i].content, t->content)) {
            /* The same content again: keep one entry (a forced id and the options update it). */
            if (id < 0) return LB_OK;
            if (id >= MAX_TOKEN_ID)
                return lb_err(err, LB_ERR_FORMAT, "added token '%s': id %d too large", t->content, id);
            char *c = tok->added[i].content;
            tok->added[i] = *t;
            tok->added[i].content = c;
            tok->added[i].id = id;
            return LB_OK;
        }
    if (id < 0) {
        id = lb_vocab_get(&tok->wp.full, t->content, len);
        if (id < 0) {
            int32_t next = tok->n_ids;
            for (size_t i = 0; i < tok->n_added; i++)
                if (tok->added[i].id >= next) next = tok->added[i].id + 1;
            id = next;
        }
    }
    if (id >= MAX_TOKEN_ID) return lb_err(err, LB_ERR_FORMAT, "added token '%s': id %d too large", t->content, id);
    lb_added_token *na = realloc(tok->added, (tok->n_added + 1) * sizeof *na);
    if (!na) return lb_err(err, LB_ERR_NOMEM, "out of memory");
    tok->added = na;
    na[tok->n_added] = *t;
    na[tok->n_added].id = id;
    na[tok->n_added].content = strdup(t->content);
    if (!na[tok->n_added].content) return lb_err(err, LB_ERR_NOMEM, "out of memory");
    tok->n_added++;
    return LB_OK;
}

/* Builds the template [CLS] $A [SEP] (+ $B:1 [SEP]:1) from token ids. */
static lb_status bert_templates(lb_tokenizer *tok, int32_t cls, int32_t sep, lb_error *err) {
    const int seqs1[3] = {-1, 0, -1}, seqs2[5] = {-1, 0, -1, 1, -1};
    const int32_t types2[5] = {0, 0, 0, 1, 1};
    lb_tmpl *ts[2] = {&tok->single, &tok->pair};
    for (int k = 0; k < 2; k++) {
        int n = k ? 5 : 3;
        lb_tmpl *t = ts[k];
        t->items = calloc((size_t)n, sizeof *t->items);
        if (!t->items) return lb_err(err, LB_ERR_NOMEM, "out of memory");
        t->n = n;
        for (int i = 0; i < n; i++) {
            lb_tmpl_item *it = &t->items[i];
            it->seq = k ? seqs2[i] : seqs1[i];
            it->type_id = k ? types2[i] : 0;
            if (it->seq >= 0) continue;
            it->ids = malloc(sizeof *it->ids);
            if (!it->ids) return lb_err(err, LB_ERR_NOMEM, "out of memory");
            it->ids[0] = i == 0 ? cls : sep;
            it->nids = 1;
            t->n_special++;
        }
    }
    tok->has_post = true;
    return LB_OK;
}

/* Finishes loading: WordPiece tables, added-token matchers, id -> token table. */
static lb_status finish(lb_tokenizer *tok, const char *path, lb_error *err) {
    lb_status st = tok->model == LB_MODEL_WORDPIECE ? lb_wordpiece_finish(&tok->wp, err) : LB_OK;
    if (st) return st;
    int32_t n = tok->n_ids;
    for (size_t i = 0; i < tok->n_added; i++)
        if (tok->added[i].id >= n) n = tok->added[i].id + 1;
    tok->n_ids = n;
    tok->id_tok = calloc(n ? (size_t)n : 1, sizeof *tok->id_tok);
    if (!tok->id_tok) return lb_err(err, LB_ERR_NOMEM, "out of memory");
    size_t pos = 0, klen;
    const char *key;
    int32_t kid;
    while (lb_vocab_next(&tok->wp.full, &pos, &key, &klen, &kid)) tok->id_tok[kid] = key;
    /* Normalized added tokens match their normalized content. */
    size_t na = tok->n_added;
    const char **raw = calloc(na ? na : 1, sizeof *raw), **nrm = calloc(na ? na : 1, sizeof *nrm);
    const lb_added_token **rt = calloc(na ? na : 1, sizeof *rt), **nt = calloc(na ? na : 1, sizeof *nt);
    char **owned = calloc(na ? na : 1, sizeof *owned);
    size_t nr = 0, nn = 0;
    if (!raw || !nrm || !rt || !nt || !owned) st = lb_err(err, LB_ERR_NOMEM, "out of memory");
    lb_bytebuf buf = {0}, tmp = {0};
    lb_cpbuf pend = {0};
    for (size_t i = 0; !st && i < na; i++) {
        const lb_added_token *t = &tok->added[i];
        tok->id_tok[t->id] = t->content;
        if (!t->normalized || (!tok->norm.enabled && !tok->snorm.enabled)) {
            raw[nr] = t->content;
            rt[nr++] = t;
            continue;
        }
        buf.n = 0;
        st = lb_tok_normalize(tok, (const uint8_t *)t->content, strlen(t->content), &buf, &pend, &tmp, err);
        if (!st) st = lb_bytebuf_reserve(&buf, 1, err);
        if (st) break;
        buf.p[buf.n] = 0;
        owned[nn] = strdup((const char *)buf.p);
        if (!owned[nn]) {
            st = lb_err(err, LB_ERR_NOMEM, "out of memory");
            break;
        }
        nrm[nn] = owned[nn];
        nt[nn++] = t;
    }
    if (!st) st = lb_added_matcher_build(&tok->raw_m, raw, rt, nr, err);
    if (!st) st = lb_added_matcher_build(&tok->norm_m, nrm, nt, nn, err);
    for (size_t i = 0; i < nn; i++) free(owned[i]);
    free(owned);
    free(raw);
    free(nrm);
    free(rt);
    free(nt);
    free(buf.p);
    free(tmp.p);
    free(pend.p);
    if (st) return st;
    /* Every id the post-processor adds must be a token, or the model would index past its
     * embedding table (tokenizers itself does not check; found by fuzzing). */
    const lb_tmpl *ts[2] = {&tok->single, &tok->pair};
    for (int k = 0; k < 2; k++)
        for (int32_t i = 0; i < ts[k]->n; i++)
            for (int32_t q = 0; q < ts[k]->items[i].nids; q++) {
                int32_t id = ts[k]->items[i].ids[q];
                if (id < 0 || id >= tok->n_ids || !tok->id_tok[id])
                    return lb_err(err, LB_ERR_FORMAT,
                                  "%s: post_processor: special token id %d is not in the vocabulary", path, id);
            }
    if (tok->pad_id < 0) tok->pad_id = lb_tokenizer_token_to_id(tok, "[PAD]");
    if (tok->pad_id < 0) tok->pad_id = lb_tokenizer_token_to_id(tok, "<pad>"); /* RoBERTa, XLM-R */
    if (tok->pad_id < 0) tok->pad_id = 0;
    return LB_OK;
}

/* ---------------------------------------------------------------- tokenizer.json */

static lb_status parse_template(const char *path, const char *name, const cJSON *arr, const cJSON *specials, lb_tmpl *t,
                                lb_error *err) {
    if (!cJSON_IsArray(arr)) return lb_err(err, LB_ERR_FORMAT, "%s: post_processor.%s: expected an array", path, name);
    int n = cJSON_GetArraySize(arr);
    t->items = calloc(n ? (size_t)n : 1, sizeof *t->items);
    if (!t->items) return lb_err(err, LB_ERR_NOMEM, "out of memory");
    const cJSON *x;
    cJSON_ArrayForEach(x, arr) {
        lb_tmpl_item *it = &t->items[t->n];
        const cJSON *sp = get(x, "SpecialToken"), *sq = get(x, "Sequence");
        const cJSON *body = sp ? sp : sq;
        int64_t tid = 0;
        if (!body || !cJSON_IsObject(body))
            return lb_err(err, LB_ERR_FORMAT, "%s: post_processor.%s[%d]: expected SpecialToken or Sequence", path,
                          name, t->n);
        const cJSON *id = get(body, "id");
        if (!cJSON_IsString(id))
            return lb_err(err, LB_ERR_FORMAT, "%s: post_processor.%s[%d].id: expected a string", path, name, t->n);
        if (get(body, "type_id") &&
            to_int(path, "post_processor type_id", get(body, "type_id"), 0, INT32_MAX, &tid, err))
            return LB_ERR_FORMAT;
        it->type_id = (int32_t)tid;
        if (sq) {
            if (!strcmp(id->valuestring, "A")) it->seq = 0;
            else if (!strcmp(id->valuestring, "B")) it->seq = 1;
            else
                return lb_err(err, LB_ERR_FORMAT, "%s: post_processor.%s: unknown sequence '%s'", path, name,
                              id->valuestring);
        } else {
            it->seq = -1;
            const cJSON *def = cJSON_IsObject(specials) ? get(specials, id->valuestring) : NULL;
            const cJSON *ids = def ? get(def, "ids") : NULL;
            if (!cJSON_IsArray(ids))
                return lb_err(err, LB_ERR_FORMAT, "%s: post_processor: special token '%s' is not defined", path,
                              id->valuestring);
            int m = cJSON_GetArraySize(ids);
            it->ids = calloc(m ? (size_t)m : 1, sizeof *it->ids);
            if (!it->ids) return lb_err(err, LB_ERR_NOMEM, "out of memory");
            const cJSON *v;
            cJSON_ArrayForEach(v, ids) {
                int64_t iv = 0;
                if (to_int(path, "post_processor special token id", v, 0, MAX_TOKEN_ID - 1, &iv, err))
                    return LB_ERR_FORMAT;
                it->ids[it->nids++] = (int32_t)iv;
            }
            t->n_special += it->nids;
        }
        t->n++;
    }
    return LB_OK;
}

static lb_status parse_post(lb_tokenizer *tok, const char *path, const cJSON *pp, lb_error *err) {
    if (!pp || cJSON_IsNull(pp)) return LB_OK;
    const cJSON *type = get(pp, "type");
    if (!cJSON_IsString(type)) return lb_err(err, LB_ERR_FORMAT, "%s: post_processor.type: expected a string", path);
    if (!strcmp(type->valuestring, "TemplateProcessing")) {
        lb_status st = parse_template(path, "single", get(pp, "single"), get(pp, "special_tokens"), &tok->single, err);
        if (!st) st = parse_template(path, "pair", get(pp, "pair"), get(pp, "special_tokens"), &tok->pair, err);
        if (!st) tok->has_post = true;
        return st;
    }
    if (!strcmp(type->valuestring, "RobertaProcessing")) return lb_tok_parse_roberta(tok, path, pp, err);
    if (!strcmp(type->valuestring, "BertProcessing")) {
        int64_t ids[2] = {102, 101}; /* sep, cls defaults (processors/bert.rs) */
        const char *keys[2] = {"sep", "cls"};
        for (int k = 0; k < 2; k++) {
            const cJSON *x = get(pp, keys[k]);
            if (!x) continue;
            if (!cJSON_IsArray(x) || cJSON_GetArraySize(x) != 2)
                return lb_err(err, LB_ERR_FORMAT, "%s: post_processor.%s: expected [token, id]", path, keys[k]);
            if (to_int(path, keys[k], cJSON_GetArrayItem(x, 1), 0, MAX_TOKEN_ID - 1, &ids[k], err))
                return LB_ERR_FORMAT;
        }
        return bert_templates(tok, (int32_t)ids[1], (int32_t)ids[0], err);
    }
    return lb_err(
        err, LB_ERR_UNSUPPORTED,
        "%s: post_processor type '%s' is not supported (TemplateProcessing, BertProcessing, RobertaProcessing)", path,
        type->valuestring);
}

static lb_status parse_common(lb_tokenizer *tok, const char *path, const cJSON *j, lb_error *err);

static lb_status parse_tokenizer_json(lb_tokenizer *tok, const char *path, const cJSON *j, lb_error *err) {
    lb_status st;
    if (!cJSON_IsObject(j)) return lb_err(err, LB_ERR_FORMAT, "%s: expected a JSON object", path);
    /* model */
    const cJSON *model = get(j, "model");
    if (!cJSON_IsObject(model)) return lb_err(err, LB_ERR_FORMAT, "%s: model: expected an object", path);
    const cJSON *mt = get(model, "type");
    if (mt && (!cJSON_IsString(mt) || strcmp(mt->valuestring, "WordPiece"))) {
        /* BPE / Unigram: their own normalizers and pre-tokenizers (tokenizer_pipeline_load.c). */
        if ((st = lb_tok_parse_pipeline(tok, path, j, err))) return st;
        return parse_common(tok, path, j, err);
    }
    const cJSON *vocab = get(model, "vocab");
    if (!cJSON_IsObject(vocab)) return lb_err(err, LB_ERR_FORMAT, "%s: model.vocab: expected an object", path);
    if ((st = lb_vocab_init(&tok->wp.full, (size_t)cJSON_GetArraySize(vocab), err))) return st;
    int32_t max_id = -1;
    const cJSON *v;
    cJSON_ArrayForEach(v, vocab) {
        int64_t id = 0;
        if (to_int(path, "model.vocab value", v, 0, MAX_TOKEN_ID - 1, &id, err)) return LB_ERR_FORMAT;
        size_t kl = strlen(v->string);
        if (lb_utf8_first_invalid((const uint8_t *)v->string, kl) != kl)
            return lb_err(err, LB_ERR_FORMAT, "%s: model.vocab: token with id %d is not valid UTF-8", path, (int)id);
        if ((st = lb_vocab_put(&tok->wp.full, v->string, kl, (int32_t)id, err))) return st;
        if (id > max_id) max_id = (int32_t)id;
    }
    tok->n_ids = max_id + 1;
    const cJSON *x;
    if ((x = get(model, "unk_token")) && !cJSON_IsNull(x)) {
        if ((st = dup_str(path, "model.unk_token", x, &tok->wp.unk_token, err))) return st;
    } else if (!(tok->wp.unk_token = strdup("[UNK]"))) return lb_err(err, LB_ERR_NOMEM, "out of memory");
    if ((x = get(model, "continuing_subword_prefix")) && !cJSON_IsNull(x)) {
        if ((st = dup_str(path, "model.continuing_subword_prefix", x, &tok->wp.prefix, err))) return st;
    } else if (!(tok->wp.prefix = strdup("##"))) return lb_err(err, LB_ERR_NOMEM, "out of memory");
    if ((x = get(model, "max_input_chars_per_word")) && !cJSON_IsNull(x)) {
        int64_t m = 0;
        if (to_int(path, "model.max_input_chars_per_word", x, 0, INT32_MAX, &m, err)) return LB_ERR_FORMAT;
        tok->wp.max_chars = (int32_t)m;
    }
    /* normalizer */
    const cJSON *nm = get(j, "normalizer");
    if (nm && !cJSON_IsNull(nm)) {
        const cJSON *t = get(nm, "type");
        if (!cJSON_IsString(t) || strcmp(t->valuestring, "BertNormalizer"))
            return lb_err(err, LB_ERR_UNSUPPORTED, "%s: normalizer type '%s' is not supported (only BertNormalizer)",
                          path, cJSON_IsString(t) ? t->valuestring : "?");
        bool clean = true, cjk = true, lower = true;
        int strip = -1;
        if ((st = get_bool(path, "normalizer", nm, "clean_text", &clean, err)) ||
            (st = get_bool(path, "normalizer", nm, "handle_chinese_chars", &cjk, err)) ||
            (st = get_bool(path, "normalizer", nm, "lowercase", &lower, err)))
            return st;
        if ((x = get(nm, "strip_accents")) && !cJSON_IsNull(x)) {
            if (!cJSON_IsBool(x))
                return lb_err(err, LB_ERR_FORMAT, "%s: normalizer.strip_accents: expected true, false or null", path);
            strip = cJSON_IsTrue(x);
        }
        lb_bert_norm_init(&tok->norm, clean, cjk, strip, lower);
    }
    /* pre_tokenizer */
    const cJSON *pt = get(j, "pre_tokenizer");
    tok->wp.pretokenize = false;
    if (pt && !cJSON_IsNull(pt)) {
        const cJSON *t = get(pt, "type");
        if (!cJSON_IsString(t) || strcmp(t->valuestring, "BertPreTokenizer"))
            return lb_err(err, LB_ERR_UNSUPPORTED,
                          "%s: pre_tokenizer type '%s' is not supported (only BertPreTokenizer)", path,
                          cJSON_IsString(t) ? t->valuestring : "?");
        tok->wp.pretokenize = true;
    }
    return parse_common(tok, path, j, err);
}

/* The parts every model shares: post-processor, padding, added tokens. */
static lb_status parse_common(lb_tokenizer *tok, const char *path, const cJSON *j, lb_error *err) {
    lb_status st;
    const cJSON *x;
    if ((st = parse_post(tok, path, get(j, "post_processor"), err))) return st;
    /* padding: the pad id, when configured */
    const cJSON *pad = get(j, "padding");
    if (cJSON_IsObject(pad) && (x = get(pad, "pad_id"))) {
        int64_t pid = 0;
        if (to_int(path, "padding.pad_id", x, 0, MAX_TOKEN_ID - 1, &pid, err)) return LB_ERR_FORMAT;
        tok->pad_id = (int32_t)pid;
    }
    /* added_tokens */
    const cJSON *at = get(j, "added_tokens");
    if (at && !cJSON_IsNull(at)) {
        if (!cJSON_IsArray(at)) return lb_err(err, LB_ERR_FORMAT, "%s: added_tokens: expected an array", path);
        int i = 0;
        cJSON_ArrayForEach(x, at) {
            lb_added_token t = {0};
            int64_t id = 0;
            char where[64];
            snprintf(where, sizeof where, "added_tokens[%d]", i);
            if (!cJSON_IsObject(x)) return lb_err(err, LB_ERR_FORMAT, "%s: %s: expected an object", path, where);
            if (to_int(path, where, get(x, "id"), 0, MAX_TOKEN_ID - 1, &id, err)) return LB_ERR_FORMAT;
            if ((st = get_bool(path, where, x, "special", &t.special, err))) return st;
            t.normalized = !t.special;
            if ((st = get_bool(path, where, x, "single_word", &t.single_word, err)) ||
                (st = get_bool(path, where, x, "lstrip", &t.lstrip, err)) ||
                (st = get_bool(path, where, x, "rstrip", &t.rstrip, err)) ||
                (st = get_bool(path, where, x, "normalized", &t.normalized, err)) ||
                (st = dup_str(path, where, get(x, "content"), &t.content, err)))
                return st;
            st = add_token(tok, &t, (int32_t)id, err);
            free(t.content);
            if (st) return st;
            i++;
        }
    }
    return LB_OK;
}

/* Which transformers class AutoTokenizer builds over tokenizer.json, as far as it changes the
 * result: tokenizer_config.json's tokenizer_class (with or without "Fast"), else the class
 * config.json's model_type maps to (TOKENIZER_MAPPING). */
typedef enum {
    TOKCLASS_UNKNOWN, /* neither says: BertTokenizerFast's rule when the normalizer is BERT's */
    TOKCLASS_BERT,    /* BertTokenizerFast, DistilBertTokenizerFast: the normalizer rebuilt */
    TOKCLASS_ROBERTA, /* RobertaTokenizerFast: the ByteLevel add_prefix_space rebuilt */
    TOKCLASS_PLAIN    /* PreTrainedTokenizerFast, XLMRobertaTokenizerFast: tokenizer.json as written */
} tok_class;

static tok_class class_of(const tok_cfg *cfg) {
    static const struct {
        const char *name;
        tok_class cls;
    } classes[] = {{"BertTokenizer", TOKCLASS_BERT},
                   {"DistilBertTokenizer", TOKCLASS_BERT},
                   {"RobertaTokenizer", TOKCLASS_ROBERTA},
                   {"XLMRobertaTokenizer", TOKCLASS_PLAIN},
                   {"PreTrainedTokenizer", TOKCLASS_PLAIN}},
      types[] = {{"bert", TOKCLASS_BERT},
                 {"distilbert", TOKCLASS_BERT},
                 {"roberta", TOKCLASS_ROBERTA},
                 {"xlm-roberta", TOKCLASS_PLAIN},
                 {"modernbert", TOKCLASS_PLAIN}};
    if (cfg->tokenizer_class) {
        size_t n = strlen(cfg->tokenizer_class);
        if (n > 4 && !strcmp(cfg->tokenizer_class + n - 4, "Fast")) n -= 4;
        for (size_t i = 0; i < sizeof classes / sizeof *classes; i++)
            if (strlen(classes[i].name) == n && !strncmp(classes[i].name, cfg->tokenizer_class, n))
                return classes[i].cls;
        return TOKCLASS_UNKNOWN;
    }
    for (size_t i = 0; cfg->model_type && i < sizeof types / sizeof *types; i++)
        if (!strcmp(types[i].name, cfg->model_type)) return types[i].cls;
    return TOKCLASS_UNKNOWN;
}

/* cfg (may be NULL): the transformers settings that override tokenizer.json (class_of). */
static lb_tokenizer *load_json(const char *path, const tok_cfg *cfg, lb_error *err) {
    cJSON *j;
    if (parse_json_file(path, LB_MAX_TOKENIZER_JSON_BYTES, &j, err)) return NULL;
    lb_tokenizer *tok = new_tokenizer(err);
    if (!tok) {
        cJSON_Delete(j);
        return NULL;
    }
    lb_status st = parse_tokenizer_json(tok, path, j, err);
    cJSON_Delete(j);
    if (!st && cfg) {
        /* BertTokenizerFast.__init__ rebuilds a BertNormalizer whose lowercase / strip_accents /
         * handle_chinese_chars differ from do_lower_case / strip_accents / tokenize_chinese_chars
         * (defaults true / None / true), so these settings win over tokenizer.json. */
        tok_class cls = class_of(cfg);
        if (tok->norm.enabled && (cls == TOKCLASS_BERT || cls == TOKCLASS_UNKNOWN))
            lb_bert_norm_init(&tok->norm, tok->norm.clean_text, cfg->tokenize_chinese_chars, cfg->strip_accents,
                              cfg->do_lower_case);
        /* RobertaTokenizerFast.__init__ (add_prefix_space=False unless tokenizer_config.json says
         * otherwise) rebuilds a top-level ByteLevel pre-tokenizer whose add_prefix_space differs;
         * its post-processor's add_prefix_space / trim_offsets change only offsets. */
        if (cls == TOKCLASS_ROBERTA && tok->pretok.kind == LB_PRE_BYTELEVEL)
            tok->pretok.add_prefix_space = cfg->add_prefix_space == 1;
        if (cfg->model_max_length > 0) tok->model_max_length = (int32_t)cfg->model_max_length;
        int32_t pid = cfg->sp[SP_PAD].content
                          ? lb_vocab_get(&tok->wp.full, cfg->sp[SP_PAD].content, strlen(cfg->sp[SP_PAD].content))
                          : -1;
        if (pid >= 0) tok->pad_id = pid;
    }
    if (!st) st = finish(tok, path, err);
    if (st) {
        lb_tokenizer_free(tok);
        return NULL;
    }
    return tok;
}

lb_tokenizer *lb_tokenizer_load_json(const char *path, lb_error *err) { return load_json(path, NULL, err); }

/* ---------------------------------------------------------------- vocab.txt */

static lb_status read_vocab_txt(lb_tokenizer *tok, const char *path, lb_error *err) {
    char *text;
    size_t len;
    lb_status st = lb_read_file_max(path, LB_MAX_VOCAB_BYTES, "vocab.txt", &text, &len, err);
    if (st) return st;
    size_t bad = lb_utf8_first_invalid((const uint8_t *)text, len);
    if (bad != len) {
        size_t line = 1;
        for (size_t i = 0; i < bad; i++) line += text[i] == '\n';
        free(text);
        return lb_err(err, LB_ERR_FORMAT, "%s: invalid UTF-8 at byte %zu (line %zu)", path, bad, line);
    }
    size_t nlines = 0;
    for (size_t i = 0; i < len; i++)
        nlines += text[i] == '\n' || (text[i] == '\r' && (i + 1 >= len || text[i + 1] != '\n'));
    if ((st = lb_vocab_init(&tok->wp.full, nlines + 1, err))) {
        free(text);
        return st;
    }
    /* Python's readlines() in text mode: \n, \r\n and \r all end a line; id = line index. */
    size_t i = 0;
    int32_t id = 0;
    while (i < len) {
        size_t s = i;
        while (i < len && text[i] != '\n' && text[i] != '\r') i++;
        size_t e = i;
        if (i < len) i += (text[i] == '\r' && i + 1 < len && text[i + 1] == '\n') ? 2 : 1;
        if (id >= MAX_TOKEN_ID) {
            free(text);
            return lb_err(err, LB_ERR_FORMAT, "%s: more than %d lines", path, MAX_TOKEN_ID);
        }
        if ((st = lb_vocab_put(&tok->wp.full, text + s, e - s, id, err))) {
            free(text);
            return st;
        }
        id++;
    }
    free(text);
    if (id == 0) return lb_err(err, LB_ERR_FORMAT, "%s: empty vocabulary", path);
    tok->n_ids = id;
    return LB_OK;
}

static lb_tokenizer *load_vocab(const char *vocab_path, const char *config_path, const char *special_map_path,
                                lb_error *err) {
    tok_cfg cfg;
    if (cfg_init(&cfg, err)) return NULL;
    lb_tokenizer *tok = NULL;
    lb_status st = cfg_read(&cfg, config_path, special_map_path, err);
    if (!st && !(tok = new_tokenizer(err))) st = err ? err->code : LB_ERR_NOMEM;
    if (!st) st = read_vocab_txt(tok, vocab_path, err);
    if (!st) {
        /* BertConverter: BertNormalizer(clean_text=True, ...), BertPreTokenizer, WordPiece(unk, "##", 100). */
        lb_bert_norm_init(&tok->norm, true, cfg.tokenize_chinese_chars, cfg.strip_accents, cfg.do_lower_case);
        tok->wp.unk_token = strdup(cfg.sp[SP_UNK].content ? cfg.sp[SP_UNK].content : "[UNK]");
        tok->wp.prefix = strdup("##");
        if (!tok->wp.unk_token || !tok->wp.prefix) st = lb_err(err, LB_ERR_NOMEM, "out of memory");
        if (cfg.model_max_length > 0) tok->model_max_length = (int32_t)cfg.model_max_length;
    }
    if (!st) {
        int32_t ids[2] = {-1, -1};
        const int which[2] = {SP_CLS, SP_SEP};
        for (int k = 0; k < 2; k++) {
            const char *c = cfg.sp[which[k]].content;
            ids[k] = c ? lb_vocab_get(&tok->wp.full, c, strlen(c)) : -1;
            /* transformers 4.32 then adds the token as a new id past the vocabulary and its
             * template uses that id: an IndexError in a model whose vocab_size is the file's
             * line count, or an untrained embedding row otherwise. Refused up front. */
            if (ids[k] < 0) {
                st = lb_err(err, LB_ERR_FORMAT,
                            "%s: %s '%s' is not in the vocabulary (%d tokens); every input "
                            "starts with [CLS] and ends with [SEP], so the vocabulary must hold both",
                            vocab_path, sp_keys[which[k]], c ? c : "null", (int)tok->wp.full.count);
                break;
            }
        }
        if (!st) st = bert_templates(tok, ids[0], ids[1], err);
    }
    /* from_pretrained adds the special tokens (normalized=false), so they match literally. */
    for (int i = 0; !st && i < SP_N; i++) st = add_token(tok, &cfg.sp[i], -1, err);
    for (size_t i = 0; !st && i < cfg.n_extra; i++) st = add_token(tok, &cfg.extra[i], -1, err);
    if (!st && cfg.sp[SP_PAD].content)
        tok->pad_id = lb_vocab_get(&tok->wp.full, cfg.sp[SP_PAD].content, strlen(cfg.sp[SP_PAD].content));
    if (!st) st = finish(tok, vocab_path, err);
    cfg_free(&cfg);
    if (st) {
        lb_tokenizer_free(tok);
        return NULL;
    }
    return tok;
}

lb_tokenizer *lb_tokenizer_load_vocab(const char *vocab_path, const char *tokenizer_config_path, lb_error *err) {
    return load_vocab(vocab_path, tokenizer_config_path, NULL, err);
}

/* config.json's model_type beside the tokenizer files, else fallback (NULL: unknown), which
 * decides the tokenizer class when tokenizer_config.json names none. */
static lb_status read_model_type(const char *dir, const char *fallback, tok_cfg *c, lb_error *err) {
    if (c->tokenizer_class) return LB_OK;
    char *path = lb_path_join(dir, "config.json");
    if (!path) return lb_err(err, LB_ERR_NOMEM, "out of memory");
    lb_status st = LB_OK;
    if (lb_path_present(path)) {
        cJSON *j;
        if (!(st = parse_json_file(path, LB_MAX_JSON_BYTES, &j, err))) {
            const cJSON *x = cJSON_IsObject(j) ? get(j, "model_type") : NULL;
            if (x && !cJSON_IsNull(x)) st = dup_str(path, "model_type", x, &c->model_type, err);
            cJSON_Delete(j);
        }
    }
    free(path);
    if (!st && !c->model_type && fallback && !(c->model_type = strdup(fallback)))
        st = lb_err(err, LB_ERR_NOMEM, "out of memory");
    return st;
}

lb_tokenizer *lb_tokenizer_load(const char *dir, lb_error *err) { return lb_tokenizer_load_as(dir, NULL, err); }

lb_tokenizer *lb_tokenizer_load_as(const char *dir, const char *model_type, lb_error *err) {
    char *tj = lb_path_join(dir, "tokenizer.json"), *vt = lb_path_join(dir, "vocab.txt");
    char *tc = lb_path_join(dir, "tokenizer_config.json"), *sm = lb_path_join(dir, "special_tokens_map.json");
    lb_tokenizer *tok = NULL;
    if (!tj || !vt || !tc || !sm) {
        lb_err(err, LB_ERR_NOMEM, "out of memory");
    } else if (!lb_dir_exists(dir)) {
        lb_err(err, LB_ERR_IO, "%s: not a directory", dir);
    } else {
        /* present (not only regular): a FIFO or folder in their place is reported as such */
        const char *tcp = lb_path_present(tc) ? tc : NULL, *smp = lb_path_present(sm) ? sm : NULL;
        if (lb_path_present(tj)) {
            tok_cfg cfg;
            if (!cfg_init(&cfg, err)) {
                if (!cfg_read(&cfg, tcp, smp, err) && !read_model_type(dir, model_type, &cfg, err))
                    tok = load_json(tj, &cfg, err);
                cfg_free(&cfg);
            }
        } else if (lb_path_present(vt)) {
            tok = load_vocab(vt, tcp, smp, err);
        } else {
            lb_err(err, LB_ERR_IO, "%s: no tokenizer.json or vocab.txt in this folder", dir);
        }
    }
    free(tj);
    free(vt);
    free(tc);
    free(sm);
    return tok;
}

const char *const lb_tokenizer_files[] = {"tokenizer.json", "vocab.txt", "tokenizer_config.json",
                                          "special_tokens_map.json", NULL};

lb_status lb_tokenizer_copy_files(const char *src_dir, const char *dst_dir, lb_error *err) {
    if (!src_dir) return LB_OK;
    lb_status st = LB_OK;
    for (const char *const *f = lb_tokenizer_files; !st && *f; f++) {
        char *src = lb_path_join(src_dir, *f), *dst = lb_path_join(dst_dir, *f);
        if (!src || !dst) {
            st = lb_err(err, LB_ERR_NOMEM, "out of memory");
        } else if (lb_file_exists(src)) {
            char *data;
            size_t len;
            st = lb_read_file_max(src, LB_MAX_TOKENIZER_JSON_BYTES, "tokenizer file", &data, &len, err);
            if (!st) {
                st = lb_write_file_atomic(dst, data, len, err);
                free(data);
            }
        }
        free(src);
        free(dst);
    }
    return st;
}
