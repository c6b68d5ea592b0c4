/* Encoding with a loaded tokenizer (see tokenizer.h): the tokenizers crate's pipeline
 * added tokens -> normalizer -> pre-tokenizer -> WordPiece -> truncation -> post-processor. */
#include <stdlib.h>
#include <string.h>
#include "text/tokenizer_impl.h"
#include "base/utf8.h"

/* Per-call scratch, so one tokenizer can be shared by threads. */
typedef struct scratch {
    lb_bytebuf norm;
    lb_cpbuf pend;
    lb_segbuf segs, nsegs;
    lb_cpbuf a, b; /* ids of sequence A and B */
    lb_bytebuf tmp;
    lb_pipe_scratch ps; /* BPE / Unigram */
} scratch;

static void scratch_free(scratch *s) {
    free(s->norm.p);
    free(s->pend.p);
    free(s->segs.p);
    free(s->nsegs.p);
    free(s->a.p);
    free(s->b.p);
    free(s->tmp.p);
    lb_pipe_scratch_free(&s->ps);
}

lb_status lb_tok_normalize(const lb_tokenizer *tok, const uint8_t *s, size_t n, lb_bytebuf *out, lb_cpbuf *pend,
                           lb_bytebuf *tmp, lb_error *err) {
    if (tok->snorm.enabled) return lb_seqnorm_apply(&tok->snorm, s, n, out, tmp, err);
    return lb_bert_normalize(&tok->norm, s, n, out, pend, err);
}

/* BPE / Unigram on one normalized span: pre-tokenize, then the model on each word. Empty spans
 * produce nothing (tokenizers drops empty splits before pre-tokenizing). */
static lb_status model_span(const lb_tokenizer *tok, const uint8_t *s, size_t n, bool at_start, scratch *sc,
                            lb_cpbuf *ids, lb_error *err) {
    if (tok->model == LB_MODEL_WORDPIECE) return lb_wordpiece_encode(&tok->wp, s, n, ids, err);
    if (!n) return LB_OK;
    lb_pipe_scratch *ps = &sc->ps;
    lb_status st = lb_pretok_run(&tok->pretok, s, n, at_start, ps, err);
    for (size_t k = 0; !st && k < ps->spans.n; k += 2) {
        const uint8_t *w = ps->word.p + ps->spans.p[k];
        size_t wl = (size_t)ps->spans.p[k + 1];
        st = tok->model == LB_MODEL_BPE ? lb_bpe_word(&tok->bpe, &tok->wp.full, w, wl, ps, ids, err)
                                        : lb_unigram_word(&tok->uni, &tok->wp.full, w, wl, ps, ids, err);
    }
    return st;
}

static lb_status push_id(lb_cpbuf *ids, int32_t id, lb_error *err) {
    lb_status st = lb_cpbuf_reserve(ids, 1, err);
    if (!st) ids->p[ids->n++] = id;
    return st;
}

/* Normalizes, pre-tokenizes and WordPiece-encodes one span without raw added tokens. */
static lb_status encode_span(const lb_tokenizer *tok, const uint8_t *s, size_t n, bool at_start, scratch *sc,
                             lb_cpbuf *ids, lb_error *err) {
    sc->norm.n = 0;
    lb_status st = lb_tok_normalize(tok, s, n, &sc->norm, &sc->pend, &sc->tmp, err);
    if (st) return st;
    if (!tok->norm_m.npat) return model_span(tok, sc->norm.p, sc->norm.n, at_start, sc, ids, err);
    sc->nsegs.n = 0;
    if ((st = lb_added_split(&tok->norm_m, sc->norm.p, sc->norm.n, &sc->nsegs, err))) return st;
    for (size_t k = 0; k < sc->nsegs.n; k++) {
        const lb_segment *g = &sc->nsegs.p[k];
        st = g->id >= 0
                 ? push_id(ids, g->id, err)
                 : model_span(tok, sc->norm.p + g->start, g->end - g->start, at_start && g->start == 0, sc, ids, err);
        if (st) return st;
    }
    return LB_OK;
}

/* Tokenizes one text (no specials, no truncation) into ids. */
static lb_status encode_seq(const lb_tokenizer *tok, const char *text, size_t len, bool replace_invalid, scratch *sc,
                            lb_cpbuf *ids, lb_error *err) {
    ids->n = 0;
    if (!text && len) return lb_err(err, LB_ERR_USAGE, "tokenize: NULL text of length %zu", len);
    const uint8_t *s = (const uint8_t *)text;
    char *fixed = NULL;
    size_t bad = len ? lb_utf8_first_invalid(s, len) : 0;
    if (bad != len) {
        if (!replace_invalid)
            return lb_err(err, LB_ERR_FORMAT, "invalid UTF-8 at byte %zu (0x%02X)", bad, (unsigned)s[bad]);
        lb_status st = lb_utf8_sanitize(s, len, &fixed, &len, err);
        if (st) return st;
        s = (const uint8_t *)fixed;
    }
    lb_status st = LB_OK;
    if (!tok->raw_m.npat) {
        st = encode_span(tok, s, len, true, sc, ids, err);
    } else {
        sc->segs.n = 0;
        st = lb_added_split(&tok->raw_m, s, len, &sc->segs, err);
        for (size_t k = 0; !st && k < sc->segs.n; k++) {
            const lb_segment *g = &sc->segs.p[k];
            st = g->id >= 0 ? push_id(ids, g->id, err)
                            : encode_span(tok, s + g->start, g->end - g->start, g->start == 0, sc, ids, err);
        }
    }
    free(fixed);
    return st;
}

static lb_status reserve_out(lb_encoding *out, size_t n, int32_t **type_ids, lb_error *err) {
    if (n > INT32_MAX) return lb_err(err, LB_ERR_UNSUPPORTED, "encoding of %zu tokens is too long", n);
    if ((size_t)out->cap < n || !out->ids) {
        size_t cap = n < 64 ? 64 : n;
        int32_t *p = realloc(out->ids, cap * sizeof *p);
        if (!p) return lb_err(err, LB_ERR_NOMEM, "out of memory for %zu token ids", cap);
        out->ids = p;
        out->cap = (int32_t)cap;
    }
    if (type_ids) {
        int32_t *t = realloc(*type_ids, (size_t)out->cap * sizeof *t);
        if (!t) return lb_err(err, LB_ERR_NOMEM, "out of memory for %zu token type ids", (size_t)out->cap);
        *type_ids = t;
    }
    return LB_OK;
}

/* Encoding::truncate: keep max ids from the chosen side. */
static void truncate_ids(lb_cpbuf *ids, size_t max, bool left) {
    if (ids->n <= max) return;
    if (left) memmove(ids->p, ids->p + (ids->n - max), max * sizeof *ids->p);
    ids->n = max;
}

/* Writes the template (or plain concatenation) into out / type_ids. */
static lb_status render(const lb_tokenizer *tok, const lb_tmpl *t, bool specials, const lb_cpbuf *a, const lb_cpbuf *b,
                        lb_encoding *out, int32_t **type_ids, lb_error *err) {
    size_t total = a->n + (b ? b->n : 0) + (specials ? (size_t)t->n_special : 0);
    lb_status st = reserve_out(out, total, type_ids, err);
    if (st) return st;
    int32_t *tt = type_ids ? *type_ids : NULL;
    size_t o = 0;
    if (!specials) {
        if (a->n) memcpy(out->ids, a->p, a->n * sizeof *a->p);
        if (tt)
            for (size_t i = 0; i < a->n; i++) tt[i] = 0;
        o = a->n;
        /* The pair's type id comes from the template's $B when there is one, else 1. */
        int32_t tb = 1;
        if (b && tok->has_post)
            for (int32_t i = 0; i < tok->pair.n; i++)
                if (tok->pair.items[i].seq == 1) tb = tok->pair.items[i].type_id;
        if (b) {
            if (b->n) memcpy(out->ids + o, b->p, b->n * sizeof *b->p);
            if (tt)
                for (size_t i = 0; i < b->n; i++) tt[o + i] = tb;
            o += b->n;
        }
        out->n = (int32_t)o;
        return LB_OK;
    }
    for (int32_t k = 0; k < t->n; k++) {
        const lb_tmpl_item *it = &t->items[k];
        const int32_t *src;
        size_t m;
        if (it->seq < 0) {
            src = it->ids;
            m = (size_t)it->nids;
        } else if (it->seq == 0) {
            src = a->p;
            m = a->n;
        } else if (b) {
            src = b->p;
            m = b->n;
        } else continue;
        if (m) memcpy(out->ids + o, src, m * sizeof *src);
        if (tt)
            for (size_t i = 0; i < m; i++) tt[o + i] = it->type_id;
        o += m;
    }
    out->n = (int32_t)o;
    return LB_OK;
}

static const lb_tok_opts default_opts = {
    .max_length = 0, .truncate_left = false, .add_special_tokens = true, .replace_invalid_utf8 = false};

lb_status lb_tokenize(const lb_tokenizer *tok, const char *text, size_t len, const lb_tok_opts *opts, lb_encoding *out,
                      lb_error *err) {
    if (!tok || !out) return lb_err(err, LB_ERR_USAGE, "lb_tokenize: NULL tokenizer or output");
    if (!opts) opts = &default_opts;
    if (opts->max_length < 0) return lb_err(err, LB_ERR_USAGE, "max_length %d is negative", opts->max_length);
    bool specials = opts->add_special_tokens && tok->has_post;
    size_t n_added = specials ? (size_t)tok->single.n_special : 0;
    if (opts->max_length > 0 && (size_t)opts->max_length < n_added)
        return lb_err(err, LB_ERR_USAGE, "max_length %d leaves no room for the %zu special tokens", opts->max_length,
                      n_added);
    scratch sc = {0};
    lb_status st = encode_seq(tok, text, len, opts->replace_invalid_utf8, &sc, &sc.a, err);
    if (!st) {
        /* Truncation runs before the post-processor, on max_length minus the added tokens. */
        if (opts->max_length > 0) truncate_ids(&sc.a, (size_t)opts->max_length - n_added, opts->truncate_left);
        st = render(tok, &tok->single, specials, &sc.a, NULL, out, NULL, err);
    }
    scratch_free(&sc);
    return st;
}

lb_status lb_tokenize_pair(const lb_tokenizer *tok, const char *a, size_t alen, const char *b, size_t blen,
                           const lb_tok_opts *opts, lb_encoding *out, int32_t **token_type_ids, lb_error *err) {
    if (!tok || !out) return lb_err(err, LB_ERR_USAGE, "lb_tokenize_pair: NULL tokenizer or output");
    if (!opts) opts = &default_opts;
    if (opts->max_length < 0) return lb_err(err, LB_ERR_USAGE, "max_length %d is negative", opts->max_length);
    bool specials = opts->add_special_tokens && tok->has_post;
    size_t n_added = specials ? (size_t)tok->pair.n_special : 0;
    if (opts->max_length > 0 && (size_t)opts->max_length < n_added)
        return lb_err(err, LB_ERR_USAGE, "max_length %d leaves no room for the %zu special tokens", opts->max_length,
                      n_added);
    scratch sc = {0};
    lb_status st = encode_seq(tok, a, alen, opts->replace_invalid_utf8, &sc, &sc.a, err);
    if (st) lb_err_prefix(err, "first text");
    if (!st && (st = encode_seq(tok, b, blen, opts->replace_invalid_utf8, &sc, &sc.b, err)))
        lb_err_prefix(err, "second text");
    if (!st && opts->max_length > 0) {
        /* truncation.rs, strategy longest_first: split the budget, the shorter keeps what it can. */
        size_t m = (size_t)opts->max_length - n_added, n1 = sc.a.n, n2 = sc.b.n;
        if (n1 + n2 > m) {
            bool swap = n1 > n2;
            if (swap) {
                size_t t = n1;
                n1 = n2;
                n2 = t;
            }
            if (n1 > m) n2 = n1;
            else n2 = n1 > m - n1 ? n1 : m - n1;
            if (n1 + n2 > m) {
                n1 = m / 2;
                n2 = n1 + m % 2;
            }
            if (swap) {
                size_t t = n1;
                n1 = n2;
                n2 = t;
            }
            truncate_ids(&sc.a, n1, opts->truncate_left);
            truncate_ids(&sc.b, n2, opts->truncate_left);
        }
    }
    if (!st) st = render(tok, &tok->pair, specials, &sc.a, &sc.b, out, token_type_ids, err);
    scratch_free(&sc);
    return st;
}

void lb_encoding_free(lb_encoding *e) {
    if (!e) return;
    free(e->ids);
    e->ids = NULL;
    e->n = e->cap = 0;
}

const char *lb_tokenizer_id_to_token(const lb_tokenizer *tok, int32_t id) {
    if (!tok || id < 0 || id >= tok->n_ids) return NULL;
    return tok->id_tok[id];
}

int32_t lb_tokenizer_token_to_id(const lb_tokenizer *tok, const char *token) {
    if (!tok || !token) return -1;
    for (size_t i = 0; i < tok->n_added; i++)
        if (!strcmp(tok->added[i].content, token)) return tok->added[i].id;
    return lb_vocab_get(&tok->wp.full, token, strlen(token));
}

int32_t lb_tokenizer_vocab_size(const lb_tokenizer *tok) { return tok ? tok->n_ids : 0; }
int32_t lb_tokenizer_pad_id(const lb_tokenizer *tok) { return tok ? tok->pad_id : 0; }
int32_t lb_tokenizer_model_max_length(const lb_tokenizer *tok) { return tok ? tok->model_max_length : 512; }

const char *lb_tokenizer_model_name(const lb_tokenizer *tok) {
    int k = tok ? tok->model : LB_MODEL_WORDPIECE;
    return k == LB_MODEL_BPE ? "BPE" : k == LB_MODEL_UNIGRAM ? "Unigram" : "WordPiece";
}
