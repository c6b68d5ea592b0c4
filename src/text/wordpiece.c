/* Pre-tokenization and WordPiece (see wordpiece.h). */
#include "text/wordpiece.h"
#include <stdlib.h>
#include <string.h>
#include "base/utf8.h"

/* ASCII classes for the pre-tokenizer: 0 word byte, 1 whitespace, 2 punctuation. */
static const uint8_t ascii_class[128] = {
    ['\t'] = 1, ['\n'] = 1, [0x0B] = 1, [0x0C] = 1, ['\r'] = 1, [' '] = 1, ['!'] = 2, ['"'] = 2, ['#'] = 2, ['$'] = 2,
    ['%'] = 2,  ['&'] = 2,  ['\''] = 2, ['('] = 2,  [')'] = 2,  ['*'] = 2, ['+'] = 2, [','] = 2, ['-'] = 2, ['.'] = 2,
    ['/'] = 2,  [':'] = 2,  [';'] = 2,  ['<'] = 2,  ['='] = 2,  ['>'] = 2, ['?'] = 2, ['@'] = 2, ['['] = 2, ['\\'] = 2,
    [']'] = 2,  ['^'] = 2,  ['_'] = 2,  ['`'] = 2,  ['{'] = 2,  ['|'] = 2, ['}'] = 2, ['~'] = 2,
};

lb_status lb_wordpiece_finish(lb_wordpiece *wp, lb_error *err) {
    size_t pl = strlen(wp->prefix);
    lb_status st = lb_vocab_init(&wp->cont, wp->full.count / 4 + 16, err);
    if (st) return st;
    size_t pos = 0, len;
    const char *key;
    int32_t id;
    while (lb_vocab_next(&wp->full, &pos, &key, &len, &id)) {
        if (len < pl || memcmp(key, wp->prefix, pl)) continue;
        if ((st = lb_vocab_put(&wp->cont, key + pl, len - pl, id, err))) return st;
    }
    wp->unk_id = lb_vocab_get(&wp->full, wp->unk_token, strlen(wp->unk_token));
    return LB_OK;
}

void lb_wordpiece_free(lb_wordpiece *wp) {
    lb_vocab_free(&wp->full);
    lb_vocab_free(&wp->cont);
    free(wp->prefix);
    free(wp->unk_token);
    memset(wp, 0, sizeof *wp);
}

static lb_status push_unk(const lb_wordpiece *wp, lb_cpbuf *ids, lb_error *err) {
    if (wp->unk_id < 0)
        return lb_err(err, LB_ERR_FORMAT, "WordPiece: unk token '%s' is missing from the vocabulary", wp->unk_token);
    ids->p[ids->n++] = wp->unk_id;
    return LB_OK;
}

/* Steps back from byte offset `end` (> start) to the previous char boundary. */
static inline size_t back_to_boundary(const uint8_t *w, size_t start, size_t end) {
    while (end > start && (w[end] & 0xC0) == 0x80) end--;
    return end;
}

static lb_status word(const lb_wordpiece *wp, const uint8_t *w, size_t len, size_t nchars, lb_cpbuf *ids,
                      lb_error *err) {
    lb_status st = lb_cpbuf_reserve(ids, len + 1, err); /* at most one piece per byte */
    if (st) return st;
    if (nchars > (size_t)wp->max_chars) return push_unk(wp, ids, err);
    size_t n0 = ids->n, start = 0;
    while (start < len) {
        const lb_vocab *v = start ? &wp->cont : &wp->full;
        size_t end = len;
        /* No key is longer than max_key_len bytes: skip the probes that cannot match. */
        if (end - start > v->max_key_len) end = back_to_boundary(w, start, start + v->max_key_len);
        int32_t id = -1;
        while (end > start) {
            id = lb_vocab_get(v, (const char *)w + start, end - start);
            if (id >= 0) break;
            end = back_to_boundary(w, start, end - 1);
        }
        if (id < 0) {
            ids->n = n0;
            return push_unk(wp, ids, err);
        }
        ids->p[ids->n++] = id;
        start = end;
    }
    return LB_OK;
}

/* The BertPreTokenizer loop, calling fn on each word (a whitespace-free run of non-punctuation
 * chars, or one punctuation char). Inlined into both users below. */
typedef lb_status (*word_fn)(void *ctx, const uint8_t *w, size_t len, size_t nchars, lb_error *err);

static inline __attribute__((always_inline)) lb_status pretokenize(const uint8_t *s, size_t n, word_fn fn, void *ctx,
                                                                   lb_error *err) {
    lb_status st;
    size_t i = 0, ws = 0, nch = 0;
    while (i < n) {
        uint8_t b = s[i];
        if (b < 0x80) {
            uint8_t c = ascii_class[b];
            if (!c) {
                if (!nch) ws = i;
                nch++;
                i++;
                continue;
            }
            if (nch && (st = fn(ctx, s + ws, i - ws, nch, err))) return st;
            nch = 0;
            if (c == 2 && (st = fn(ctx, s + i, 1, 1, err))) return st;
            i++;
            continue;
        }
        int32_t cp;
        int k = lb_utf8_decode(s + i, n - i, &cp);
        if (k < 0) return lb_err(err, LB_ERR_INTERNAL, "pre-tokenizer given invalid UTF-8 at byte %zu", i);
        bool space = lb_uc_is_whitespace(cp);
        if (space || lb_uc_is_bert_punct(cp)) {
            if (nch && (st = fn(ctx, s + ws, i - ws, nch, err))) return st;
            nch = 0;
            if (!space && (st = fn(ctx, s + i, (size_t)k, 1, err))) return st;
        } else {
            if (!nch) ws = i;
            nch++;
        }
        i += (size_t)k;
    }
    if (nch) return fn(ctx, s + ws, n - ws, nch, err);
    return LB_OK;
}

typedef struct wp_ctx {
    const lb_wordpiece *wp;
    lb_cpbuf *ids;
} wp_ctx;

static lb_status wp_word(void *ctx, const uint8_t *w, size_t len, size_t nchars, lb_error *err) {
    wp_ctx *c = ctx;
    return word(c->wp, w, len, nchars, c->ids, err);
}

lb_status lb_wordpiece_encode(const lb_wordpiece *wp, const uint8_t *s, size_t n, lb_cpbuf *ids, lb_error *err) {
    if (!wp->pretokenize) {
        if (!n) return LB_OK;
        size_t nch = 0;
        for (size_t i = 0; i < n; i++) nch += (s[i] & 0xC0) != 0x80;
        return word(wp, s, n, nch, ids, err);
    }
    wp_ctx c = {wp, ids};
    return pretokenize(s, n, wp_word, &c, err);
}

typedef struct span_ctx {
    const uint8_t *base;
    lb_cpbuf *spans;
} span_ctx;

static lb_status span_word(void *ctx, const uint8_t *w, size_t len, size_t nchars, lb_error *err) {
    span_ctx *c = ctx;
    lb_status st = lb_cpbuf_reserve(c->spans, 2, err);
    if (st) return st;
    if ((size_t)(w - c->base) > INT32_MAX || len > INT32_MAX)
        return lb_err(err, LB_ERR_UNSUPPORTED, "pre-tokenizer: text over 2 GiB");
    c->spans->p[c->spans->n++] = (int32_t)(w - c->base);
    c->spans->p[c->spans->n++] = (int32_t)len;
    return LB_OK;
}

lb_status lb_pretokenize(const uint8_t *s, size_t n, lb_cpbuf *spans, lb_error *err) {
    span_ctx c = {s, spans};
    return pretokenize(s, n, span_word, &c, err);
}
