/* tokenizer.json components beyond WordPiece (see pipeline.h): the model (BPE, Unigram), the
 * normalizer (Sequence / Replace / Precompiled), the pre-tokenizer (ByteLevel, Metaspace,
 * BertPreTokenizer) and RobertaProcessing. Anything else is refused by its type name. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "text/tokenizer_impl.h"
#include "base/utf8.h"

#define MAX_TOKEN_ID (1 << 24) /* as tokenizer_load.c */

static const cJSON *get(const cJSON *o, const char *key) { return cJSON_GetObjectItemCaseSensitive(o, key); }

static lb_status opt_bool(const char *path, const char *where, const cJSON *o, const char *key, bool *v,
                          lb_error *err) {
    const cJSON *x = get(o, key);
    if (!x || cJSON_IsNull(x)) return LB_OK;
    if (!cJSON_IsBool(x)) return lb_err(err, LB_ERR_FORMAT, "%s: %s.%s: expected true or false", path, where, key);
    *v = cJSON_IsTrue(x);
    return LB_OK;
}

/* Optional string: absent or null gives NULL. */
static lb_status opt_str(const char *path, const char *where, const cJSON *o, const char *key, char **out,
                         lb_error *err) {
    const cJSON *x = get(o, key);
    *out = NULL;
    if (!x || cJSON_IsNull(x)) return LB_OK;
    if (!cJSON_IsString(x) || !x->valuestring)
        return lb_err(err, LB_ERR_FORMAT, "%s: %s.%s: expected a string", path, where, key);
    size_t n = strlen(x->valuestring);
    if (lb_utf8_first_invalid((const uint8_t *)x->valuestring, n) != n)
        return lb_err(err, LB_ERR_FORMAT, "%s: %s.%s: invalid UTF-8", path, where, key);
    *out = strdup(x->valuestring);
    return *out ? LB_OK : lb_err(err, LB_ERR_NOMEM, "out of memory");
}

static bool valid_utf8(const char *s) {
    size_t n = strlen(s);
    return lb_utf8_first_invalid((const uint8_t *)s, n) == n;
}

static const char *type_of(const cJSON *o) {
    const cJSON *t = get(o, "type");
    return cJSON_IsString(t) ? t->valuestring : NULL;
}

/* ------------------------------------------------------------------ models */

/* The double tokenizers holds for a JSON number whose correctly rounded value is d. serde_json
 * (without float_roundtrip, as tokenizers builds it) parses "digits[.digits]" as the u64 of all
 * digits converted to f64, then one multiply or divide by 10^k, which can be 1 ulp off; Unigram
 * ties between segmentations depend on it (found by the differential). The text is recovered
 * as d's shortest round-trip digits, which is what tokenizers (ryu) and Python write. */
static double serde_f64(double d) {
    if (d == 0 || !isfinite(d)) return d;
    char buf[40];
    int p = 15;
    snprintf(buf, sizeof buf, "%.*e", p - 1, fabs(d));
    if (strtod(buf, NULL) == fabs(d)) {
        while (p > 1) {
            char b2[40];
            snprintf(b2, sizeof b2, "%.*e", p - 2, fabs(d));
            if (strtod(b2, NULL) != fabs(d)) break;
            memcpy(buf, b2, sizeof buf);
            p--;
        }
    } else {
        for (p = 16; p <= 17; p++) {
            snprintf(buf, sizeof buf, "%.*e", p - 1, fabs(d));
            if (strtod(buf, NULL) == fabs(d)) break;
        }
    }
    uint64_t sig = 0;
    int nd = 0;
    const char *c = buf;
    for (; *c && *c != 'e'; c++)
        if (*c >= '0' && *c <= '9') {
            sig = sig * 10 + (uint64_t)(*c - '0');
            nd++;
        }
    int e10 = *c == 'e' ? atoi(c + 1) : 0;
    int exp = e10 - (nd - 1);
    double f = (double)sig;
    for (;;) {
        int a = exp < 0 ? -exp : exp;
        if (a <= 308) {
            char pw[16];
            snprintf(pw, sizeof pw, "1e%d", a);
            double pow10 = strtod(pw, NULL);
            f = exp >= 0 ? f * pow10 : f / pow10;
            break;
        }
        if (exp >= 0) return d; /* out of range: not reached for finite d */
        f /= 1e308;
        exp += 308;
    }
    return d < 0 ? -f : f;
}

static lb_status parse_bpe(lb_tokenizer *tok, const char *path, const cJSON *m, lb_error *err) {
    lb_bpe *b = &tok->bpe;
    lb_status st;
    const cJSON *x;
    if ((x = get(m, "dropout")) && !cJSON_IsNull(x))
        return lb_err(err, LB_ERR_UNSUPPORTED, "%s: model.dropout: BPE dropout (random merges) is not supported", path);
    if ((x = get(m, "ignore_merges")) && cJSON_IsTrue(x))
        return lb_err(err, LB_ERR_UNSUPPORTED, "%s: model.ignore_merges is not supported", path);
    const cJSON *vocab = get(m, "vocab");
    if (!cJSON_IsObject(vocab)) return lb_err(err, LB_ERR_FORMAT, "%s: model.vocab: expected an object", path);
    if ((st = lb_vocab_init(&tok->wp.full, (size_t)cJSON_GetArraySize(vocab), err))) return st;
    int32_t max_id = -1;
    cJSON_ArrayForEach(x, vocab) {
        if (!cJSON_IsNumber(x) || !isfinite(x->valuedouble) || x->valuedouble != floor(x->valuedouble) ||
            x->valuedouble < 0 || x->valuedouble >= MAX_TOKEN_ID)
            return lb_err(err, LB_ERR_FORMAT, "%s: model.vocab value: expected an integer in [0, %d]", path,
                          MAX_TOKEN_ID - 1);
        int32_t id = (int32_t)x->valuedouble;
        size_t kl = strlen(x->string);
        if (!valid_utf8(x->string))
            return lb_err(err, LB_ERR_FORMAT, "%s: model.vocab: token with id %d is not valid UTF-8", path, (int)id);
        if ((st = lb_vocab_put(&tok->wp.full, x->string, kl, id, err))) return st;
        if (id > max_id) max_id = id;
    }
    tok->n_ids = max_id + 1;
    if ((st = opt_str(path, "model", m, "unk_token", &b->unk_token, err)) ||
        (st = opt_str(path, "model", m, "continuing_subword_prefix", &b->prefix, err)) ||
        (st = opt_str(path, "model", m, "end_of_word_suffix", &b->suffix, err)) ||
        (st = opt_bool(path, "model", m, "fuse_unk", &b->fuse_unk, err)) ||
        (st = opt_bool(path, "model", m, "byte_fallback", &b->byte_fallback, err)))
        return st;
    b->unk_id = b->unk_token ? lb_vocab_get(&tok->wp.full, b->unk_token, strlen(b->unk_token)) : -1;
    for (int i = 0; i < 256; i++) {
        char k[8];
        snprintf(k, sizeof k, "<0x%02X>", i);
        b->byte_id[i] = lb_vocab_get(&tok->wp.full, k, 6);
    }
    const cJSON *merges = get(m, "merges");
    if (!cJSON_IsArray(merges)) return lb_err(err, LB_ERR_FORMAT, "%s: model.merges: expected an array", path);
    if ((st = lb_bpe_init_merges(b, (size_t)cJSON_GetArraySize(merges), err))) return st;
    uint32_t rank = 0;
    cJSON_ArrayForEach(x, merges) {
        const char *a, *c;
        size_t al, cl;
        if (cJSON_IsString(x)) {
            /* "a b": exactly one space (tokenizers' convert_merges_to_hashmap). */
            const char *s = x->valuestring, *sp = strchr(s, ' ');
            if (!sp || strchr(sp + 1, ' '))
                return lb_err(err, LB_ERR_FORMAT, "%s: model.merges[%u]: expected \"left right\" with one space", path,
                              rank);
            a = s;
            al = (size_t)(sp - s);
            c = sp + 1;
            cl = strlen(c);
        } else if (cJSON_IsArray(x) && cJSON_GetArraySize(x) == 2 && cJSON_IsString(cJSON_GetArrayItem(x, 0)) &&
                   cJSON_IsString(cJSON_GetArrayItem(x, 1))) {
            a = cJSON_GetArrayItem(x, 0)->valuestring;
            al = strlen(a);
            c = cJSON_GetArrayItem(x, 1)->valuestring;
            cl = strlen(c);
        } else {
            return lb_err(err, LB_ERR_FORMAT, "%s: model.merges[%u]: expected a string or a pair of strings", path,
                          rank);
        }
        if ((st = lb_bpe_add_merge(b, &tok->wp.full, a, al, c, cl, rank, err))) {
            lb_err_prefix(err, "%s", path);
            return st;
        }
        rank++;
    }
    tok->model = LB_MODEL_BPE;
    return LB_OK;
}

static lb_status parse_unigram(lb_tokenizer *tok, const char *path, const cJSON *m, lb_error *err) {
    lb_unigram *u = &tok->uni;
    lb_status st;
    const cJSON *x;
    if ((x = get(m, "byte_fallback")) && cJSON_IsTrue(x))
        return lb_err(err, LB_ERR_UNSUPPORTED, "%s: model.byte_fallback: Unigram byte fallback is not supported", path);
    const cJSON *vocab = get(m, "vocab");
    if (!cJSON_IsArray(vocab)) return lb_err(err, LB_ERR_FORMAT, "%s: model.vocab: expected an array", path);
    int n = cJSON_GetArraySize(vocab);
    if (n <= 0) return lb_err(err, LB_ERR_FORMAT, "%s: model.vocab: empty Unigram vocabulary", path);
    if (n >= MAX_TOKEN_ID)
        return lb_err(err, LB_ERR_FORMAT, "%s: model.vocab: %d pieces, at most %d", path, n, MAX_TOKEN_ID - 1);
    if ((st = lb_vocab_init(&tok->wp.full, (size_t)n, err))) return st;
    u->scores = malloc((size_t)n * sizeof *u->scores);
    if (!u->scores) return lb_err(err, LB_ERR_NOMEM, "out of memory");
    u->n = n;
    u->min_score = INFINITY;
    int32_t id = 0;
    cJSON_ArrayForEach(x, vocab) {
        const cJSON *p = cJSON_GetArrayItem(x, 0), *s = cJSON_GetArrayItem(x, 1);
        if (!cJSON_IsArray(x) || cJSON_GetArraySize(x) != 2 || !cJSON_IsString(p) || !cJSON_IsNumber(s) ||
            !isfinite(s->valuedouble))
            return lb_err(err, LB_ERR_FORMAT, "%s: model.vocab[%d]: expected [piece, score]", path, (int)id);
        if (!valid_utf8(p->valuestring))
            return lb_err(err, LB_ERR_FORMAT, "%s: model.vocab[%d]: piece is not valid UTF-8", path, (int)id);
        if ((st = lb_vocab_put(&tok->wp.full, p->valuestring, strlen(p->valuestring), id, err))) return st;
        double sc = serde_f64(s->valuedouble);
        u->scores[id] = sc;
        if (sc < u->min_score) u->min_score = sc;
        id++;
    }
    tok->n_ids = n;
    u->unk_id = -1;
    if ((x = get(m, "unk_id")) && !cJSON_IsNull(x)) {
        if (!cJSON_IsNumber(x) || x->valuedouble != floor(x->valuedouble) || x->valuedouble < 0 || x->valuedouble >= n)
            return lb_err(err, LB_ERR_FORMAT, "%s: model.unk_id: expected an id in [0, %d)", path, n);
        u->unk_id = (int32_t)x->valuedouble;
    }
    tok->model = LB_MODEL_UNIGRAM;
    return LB_OK;
}

/* ------------------------------------------------------------------ normalizer */

static lb_status add_step(lb_seqnorm *sn, lb_nstep **out, lb_error *err) {
    lb_nstep *p = realloc(sn->steps, (sn->n + 1) * sizeof *p);
    if (!p) return lb_err(err, LB_ERR_NOMEM, "out of memory");
    sn->steps = p;
    *out = &p[sn->n++];
    memset(*out, 0, sizeof **out);
    return LB_OK;
}

/* Replace's regex: only a run of one literal char, "C{n,}" (what the sentencepiece converters write). */
static bool parse_run_regex(const char *re, size_t *clen, uint32_t *min) {
    int32_t cp;
    size_t n = strlen(re);
    int k = n ? lb_utf8_decode((const uint8_t *)re, n, &cp) : -1;
    if (k <= 0 || (k == 1 && strchr("\\^$.|?*+()[]{}", re[0]))) return false;
    const char *p = re + k;
    if (*p != '{') return false;
    p++;
    if (*p < '0' || *p > '9') return false;
    uint32_t v = 0;
    while (*p >= '0' && *p <= '9') {
        if (v > 100000) return false;
        v = v * 10 + (uint32_t)(*p++ - '0');
    }
    if (p[0] != ',' || p[1] != '}' || p[2] || v == 0) return false;
    *clen = (size_t)k;
    *min = v;
    return true;
}

static lb_status parse_norm_one(lb_seqnorm *sn, const char *path, const cJSON *nm, int depth, lb_error *err) {
    const char *t = type_of(nm);
    if (!t) return lb_err(err, LB_ERR_FORMAT, "%s: normalizer.type: expected a string", path);
    lb_status st;
    lb_nstep *s = NULL;
    if (!strcmp(t, "Sequence")) {
        const cJSON *arr = get(nm, "normalizers"), *x;
        if (!cJSON_IsArray(arr))
            return lb_err(err, LB_ERR_FORMAT, "%s: normalizer.normalizers: expected an array", path);
        if (depth > 8) return lb_err(err, LB_ERR_UNSUPPORTED, "%s: normalizer: Sequence nested too deep", path);
        cJSON_ArrayForEach(x, arr) if ((st = parse_norm_one(sn, path, x, depth + 1, err))) return st;
        return LB_OK;
    }
    if (!strcmp(t, "Precompiled")) {
        const cJSON *c = get(nm, "precompiled_charsmap");
        if (!cJSON_IsString(c))
            return lb_err(err, LB_ERR_FORMAT, "%s: normalizer.precompiled_charsmap: expected a string", path);
        if ((st = add_step(sn, &s, err))) return st;
        s->kind = LB_NSTEP_PRECOMPILED;
        if ((st = lb_precompiled_parse(s, c->valuestring, err))) lb_err_prefix(err, "%s", path);
        return st;
    }
    if (!strcmp(t, "Replace")) {
        const cJSON *pat = get(nm, "pattern"), *c = get(nm, "content");
        const cJSON *ps = cJSON_IsObject(pat) ? get(pat, "String") : NULL,
                    *pr = cJSON_IsObject(pat) ? get(pat, "Regex") : NULL;
        if (!cJSON_IsString(c) || !valid_utf8(c->valuestring) || !(cJSON_IsString(ps) || cJSON_IsString(pr)))
            return lb_err(err, LB_ERR_FORMAT,
                          "%s: normalizer Replace: expected pattern {String|Regex} and content strings", path);
        if ((st = add_step(sn, &s, err))) return st;
        if (!(s->content = strdup(c->valuestring))) return lb_err(err, LB_ERR_NOMEM, "out of memory");
        s->clen = strlen(s->content);
        if (cJSON_IsString(ps)) {
            if (!valid_utf8(ps->valuestring))
                return lb_err(err, LB_ERR_FORMAT, "%s: normalizer Replace: invalid UTF-8", path);
            s->kind = LB_NSTEP_REPLACE;
        } else {
            size_t cl;
            if (!parse_run_regex(pr->valuestring, &cl, &s->run_min))
                return lb_err(err, LB_ERR_UNSUPPORTED,
                              "%s: normalizer Replace with regex '%.60s' is not supported (only a run \"C{n,}\")", path,
                              pr->valuestring);
            s->kind = LB_NSTEP_REPLACE_RUN;
            if (!(s->pat = strndup(pr->valuestring, cl))) return lb_err(err, LB_ERR_NOMEM, "out of memory");
            s->plen = cl;
            return LB_OK;
        }
        if (!(s->pat = strdup(ps->valuestring))) return lb_err(err, LB_ERR_NOMEM, "out of memory");
        s->plen = strlen(s->pat);
        return LB_OK;
    }
    return lb_err(err, LB_ERR_UNSUPPORTED,
                  "%s: normalizer type '%s' is not supported (BertNormalizer, Sequence, Precompiled, Replace)", path,
                  t);
}

static lb_status lb_tok_parse_normalizer(lb_tokenizer *tok, const char *path, const cJSON *nm, lb_error *err) {
    lb_status st = parse_norm_one(&tok->snorm, path, nm, 0, err);
    if (!st) tok->snorm.enabled = true;
    return st;
}

/* ------------------------------------------------------------------ pre-tokenizer */

static lb_status parse_pretok(lb_tokenizer *tok, const char *path, const cJSON *pt, lb_error *err) {
    lb_pretok *p = &tok->pretok;
    p->kind = LB_PRE_NONE;
    if (!pt || cJSON_IsNull(pt)) return LB_OK;
    const char *t = type_of(pt);
    if (!t) return lb_err(err, LB_ERR_FORMAT, "%s: pre_tokenizer.type: expected a string", path);
    lb_status st;
    if (!strcmp(t, "BertPreTokenizer")) {
        p->kind = LB_PRE_BERT;
        return LB_OK;
    }
    if (!strcmp(t, "ByteLevel")) {
        p->kind = LB_PRE_BYTELEVEL;
        p->add_prefix_space = true; /* ByteLevel::default() */
        p->use_regex = true;
        bool trim = true;
        if ((st = opt_bool(path, "pre_tokenizer", pt, "add_prefix_space", &p->add_prefix_space, err)) ||
            (st = opt_bool(path, "pre_tokenizer", pt, "use_regex", &p->use_regex, err)) ||
            (st = opt_bool(path, "pre_tokenizer", pt, "trim_offsets", &trim, err))) /* offsets only */
            return st;
        return LB_OK;
    }
    if (!strcmp(t, "Metaspace")) {
        p->kind = LB_PRE_METASPACE;
        const cJSON *r = get(pt, "replacement");
        const char *rep = cJSON_IsString(r) ? r->valuestring : "\xE2\x96\x81";
        size_t rl = strlen(rep);
        int32_t cp;
        if ((r && !cJSON_IsString(r)) || !rl || lb_utf8_decode((const uint8_t *)rep, rl, &cp) != (int)rl)
            return lb_err(err, LB_ERR_FORMAT, "%s: pre_tokenizer.replacement: expected one character", path);
        memcpy(p->rep, rep, rl);
        p->rep[rl] = 0;
        p->rep_len = rl;
        bool aps = true;
        if ((st = opt_bool(path, "pre_tokenizer", pt, "add_prefix_space", &aps, err))) return st;
        p->prepend = aps ? LB_PREPEND_ALWAYS : LB_PREPEND_NEVER;
        const cJSON *ps = get(pt, "prepend_scheme");
        if (ps && !cJSON_IsNull(ps)) {
            const char *v = cJSON_IsString(ps) ? ps->valuestring : "";
            if (!strcmp(v, "always")) p->prepend = LB_PREPEND_ALWAYS;
            else if (!strcmp(v, "never")) p->prepend = LB_PREPEND_NEVER;
            else if (!strcmp(v, "first")) p->prepend = LB_PREPEND_FIRST;
            else
                return lb_err(err, LB_ERR_FORMAT, "%s: pre_tokenizer.prepend_scheme: expected always, never or first",
                              path);
        }
        p->split = true;
        return opt_bool(path, "pre_tokenizer", pt, "split", &p->split, err);
    }
    return lb_err(err, LB_ERR_UNSUPPORTED,
                  "%s: pre_tokenizer type '%s' is not supported (BertPreTokenizer, ByteLevel, Metaspace)", path, t);
}

lb_status lb_tok_parse_pipeline(lb_tokenizer *tok, const char *path, const cJSON *j, lb_error *err) {
    const cJSON *model = get(j, "model");
    const char *t = type_of(model);
    lb_status st;
    if (t && !strcmp(t, "BPE")) st = parse_bpe(tok, path, model, err);
    else if (t && !strcmp(t, "Unigram")) st = parse_unigram(tok, path, model, err);
    else
        return lb_err(err, LB_ERR_UNSUPPORTED, "%s: model type '%s' is not supported (WordPiece, BPE, Unigram)", path,
                      t ? t : "?");
    if (st) return st;
    const cJSON *nm = get(j, "normalizer");
    if (nm && !cJSON_IsNull(nm)) {
        const char *nt = type_of(nm);
        if (nt && !strcmp(nt, "BertNormalizer"))
            return lb_err(err, LB_ERR_UNSUPPORTED, "%s: normalizer BertNormalizer is supported with WordPiece only",
                          path);
        if ((st = lb_tok_parse_normalizer(tok, path, nm, err))) return st;
    }
    return parse_pretok(tok, path, get(j, "pre_tokenizer"), err);
}

/* ------------------------------------------------------------------ post-processor */

static lb_status tmpl_set(lb_tmpl *t, const int *seqs, const int32_t *ids, int n, lb_error *err) {
    t->items = calloc((size_t)n, sizeof *t->items);
    if (!t->items) return lb_err(err, LB_ERR_NOMEM, "out of memory");
    t->n = n;
    for (int i = 0; i < n; i++) {
        lb_tmpl_item *it = &t->items[i];
        it->seq = seqs[i];
        if (it->seq >= 0) continue;
        if (!(it->ids = malloc(sizeof *it->ids))) return lb_err(err, LB_ERR_NOMEM, "out of memory");
        it->ids[0] = ids[i];
        it->nids = 1;
        t->n_special++;
    }
    return LB_OK;
}

/* RobertaProcessing: <s> A </s> and <s> A </s> </s> B </s>, every type id 0, with or without the
 * specials (checked against tokenizers 0.13.3). */
lb_status lb_tok_parse_roberta(lb_tokenizer *tok, const char *path, const cJSON *pp, lb_error *err) {
    int64_t ids[2] = {2, 0}; /* sep, cls defaults: ("</s>", 2), ("<s>", 0) */
    const char *keys[2] = {"sep", "cls"};
    for (int k = 0; k < 2; k++) {
        const cJSON *x = get(pp, keys[k]);
        if (!x) continue;
        const cJSON *v = cJSON_GetArrayItem(x, 1);
        if (!cJSON_IsArray(x) || cJSON_GetArraySize(x) != 2 || !cJSON_IsNumber(v) ||
            v->valuedouble != floor(v->valuedouble) || v->valuedouble < 0 || v->valuedouble >= MAX_TOKEN_ID)
            return lb_err(err, LB_ERR_FORMAT, "%s: post_processor.%s: expected [token, id]", path, keys[k]);
        ids[k] = (int64_t)v->valuedouble;
    }
    int32_t cls = (int32_t)ids[1], sep = (int32_t)ids[0];
    const int s1[3] = {-1, 0, -1}, s2[6] = {-1, 0, -1, -1, 1, -1};
    const int32_t i1[3] = {cls, 0, sep}, i2[6] = {cls, 0, sep, sep, 0, sep};
    lb_status st = tmpl_set(&tok->single, s1, i1, 3, err);
    if (!st) st = tmpl_set(&tok->pair, s2, i2, 6, err);
    if (!st) tok->has_post = true;
    return st;
}
