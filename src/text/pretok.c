/* Pre-tokenizers for BPE / Unigram (see pipeline.h): ByteLevel, Metaspace, BertPreTokenizer, none. */
#include <string.h>
#include <utf8proc.h>
#include "text/pipeline.h"
#include "base/utf8.h"
#include "text/wordpiece.h"

/* Character classes of GPT-2's regex: \p{L}, \p{N}, \s, anything else. */
enum { C_L, C_N, C_S, C_O };

static inline int cls_of(int32_t cp) {
    if (cp < 0x80) {
        if ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z') return C_L;
        if (cp >= '0' && cp <= '9') return C_N;
        if (cp == ' ' || (cp >= 9 && cp <= 13)) return C_S;
        return C_O;
    }
    if (lb_uc_is_whitespace(cp)) return C_S;
    switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO: return C_L;
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO: return C_N;
    default: return C_O;
    }
}

/* Class and byte length of the char at s[i] (valid UTF-8). */
static inline int char_at(const uint8_t *s, size_t n, size_t i, int *len) {
    int32_t cp;
    int k = lb_utf8_decode(s + i, n - i, &cp);
    if (k < 0) {
        *len = 1;
        return C_O;
    } /* not reached: the text is validated */
    *len = k;
    return cls_of(cp);
}

static lb_status push_span(lb_cpbuf *spans, size_t off, size_t len, lb_error *err) {
    if (off > INT32_MAX || len > INT32_MAX) return lb_err(err, LB_ERR_UNSUPPORTED, "pre-tokenizer: text over 2 GiB");
    lb_status st = lb_cpbuf_reserve(spans, 2, err);
    if (st) return st;
    spans->p[spans->n++] = (int32_t)off;
    spans->p[spans->n++] = (int32_t)len;
    return LB_OK;
}

/* 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ as leftmost-first
 * alternation: every char matches some branch, so the matches tile the text. */
lb_status lb_bytelevel_split(const uint8_t *s, size_t n, lb_cpbuf *spans, lb_error *err) {
    size_t i = 0;
    while (i < n) {
        size_t start = i;
        if (s[i] == '\'' && i + 1 < n) {
            uint8_t c = s[i + 1];
            size_t m = 0;
            if (c == 's' || c == 't' || c == 'm' || c == 'd') m = 2;
            else if (i + 2 < n &&
                     ((c == 'r' && s[i + 2] == 'e') || (c == 'v' && s[i + 2] == 'e') || (c == 'l' && s[i + 2] == 'l')))
                m = 3;
            if (m) {
                lb_status st = push_span(spans, start, m, err);
                if (st) return st;
                i += m;
                continue;
            }
        }
        size_t j = i;
        int len;
        if (s[j] == ' ' && j + 1 < n) {
            int c2 = char_at(s, n, j + 1, &len);
            if (c2 != C_S) j++; /* " ?" then a run of L, N or other */
        }
        int c = char_at(s, n, j, &len);
        if (c != C_S) {
            j += (size_t)len;
            while (j < n) {
                int c2 = char_at(s, n, j, &len);
                if (c2 != c) break;
                j += (size_t)len;
            }
        } else {
            /* A whitespace run: \s+(?!\S) leaves its last char to the next word when a non-space
             * follows, unless the run is one char (then \s+ takes it). */
            size_t k = j, last = j, nch = 0;
            while (k < n) {
                int c2 = char_at(s, n, k, &len);
                if (c2 != C_S) break;
                last = k;
                k += (size_t)len;
                nch++;
            }
            j = (k < n && nch >= 2) ? last : k;
        }
        lb_status st = push_span(spans, start, j - start, err);
        if (st) return st;
        i = j;
    }
    return LB_OK;
}

/* bytes_to_unicode(): printable Latin-1 bytes map to themselves, the others, in order, to
 * U+0100.. (0x00-0x20 -> 256.., 0x7F-0xA0 -> 289.., 0xAD -> 323). */
static inline int32_t byte_char(uint8_t b) {
    if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174) return b;
    if (b <= 32) return 256 + b;
    if (b <= 160) return 289 + (b - 127);
    return 323;
}

lb_status lb_pretok_run(const lb_pretok *pt, const uint8_t *s, size_t n, bool at_start, lb_pipe_scratch *ps,
                        lb_error *err) {
    lb_bytebuf *w = &ps->word;
    lb_cpbuf *sp = &ps->spans;
    w->n = 0;
    sp->n = 0;
    lb_status st;
    switch (pt->kind) {
    case LB_PRE_NONE:
        if ((st = lb_bytebuf_reserve(w, n, err))) return st;
        if (n) memcpy(w->p, s, n);
        w->n = n;
        return n ? push_span(sp, 0, n, err) : LB_OK;
    case LB_PRE_BERT:
        if ((st = lb_bytebuf_reserve(w, n, err))) return st;
        if (n) memcpy(w->p, s, n);
        w->n = n;
        return lb_pretokenize(s, n, sp, err);
    case LB_PRE_BYTELEVEL: {
        /* add_prefix_space: a space before a span that does not start with one. */
        bool pre = pt->add_prefix_space && (n == 0 || s[0] != ' ');
        size_t tn = n + pre;
        lb_bytebuf *t = &ps->norm2;
        t->n = 0;
        if ((st = lb_bytebuf_reserve(t, tn, err))) return st;
        if (pre) t->p[t->n++] = ' ';
        if (n) memcpy(t->p + t->n, s, n);
        t->n += n;
        lb_cpbuf *raw = &ps->spans;
        if (pt->use_regex) {
            if ((st = lb_bytelevel_split(t->p, t->n, raw, err))) return st;
        } else if (t->n && (st = push_span(raw, 0, t->n, err))) {
            return st;
        }
        /* Map every byte to its char; spans move to the mapped text. */
        if ((st = lb_bytebuf_reserve(w, 2 * t->n, err))) return st;
        for (size_t k = 0; k < raw->n; k += 2) {
            size_t o = (size_t)raw->p[k], l = (size_t)raw->p[k + 1], wo = w->n;
            for (size_t q = 0; q < l; q++) { w->n += (size_t)lb_utf8_encode(byte_char(t->p[o + q]), w->p + w->n); }
            raw->p[k] = (int32_t)wo;
            raw->p[k + 1] = (int32_t)(w->n - wo);
        }
        return LB_OK;
    }
    case LB_PRE_METASPACE: {
        /* ' ' -> replacement, the replacement prepended (as the scheme says), then split before
         * every replacement char (MergedWithNext). */
        size_t nsp = 0;
        for (size_t k = 0; k < n; k++) nsp += s[k] == ' ';
        bool pre = pt->prepend == LB_PREPEND_ALWAYS || (pt->prepend == LB_PREPEND_FIRST && at_start);
        if (pre && n >= pt->rep_len && !memcmp(s, pt->rep, pt->rep_len)) pre = false;
        if (pre && n && s[0] == ' ') pre = false; /* the leading space becomes the replacement */
        size_t cap = n + nsp * pt->rep_len + pt->rep_len;
        if ((st = lb_bytebuf_reserve(w, cap, err))) return st;
        if (pre) {
            memcpy(w->p, pt->rep, pt->rep_len);
            w->n = pt->rep_len;
        }
        for (size_t k = 0; k < n; k++) {
            if (s[k] == ' ') {
                memcpy(w->p + w->n, pt->rep, pt->rep_len);
                w->n += pt->rep_len;
            } else w->p[w->n++] = s[k];
        }
        if (!pt->split) return w->n ? push_span(sp, 0, w->n, err) : LB_OK;
        size_t start = 0;
        for (size_t k = 0; k + pt->rep_len <= w->n;) {
            if (!memcmp(w->p + k, pt->rep, pt->rep_len)) {
                if (k > start && (st = push_span(sp, start, k - start, err))) return st;
                start = k;
                k += pt->rep_len;
            } else {
                k++;
            }
        }
        if (w->n > start) return push_span(sp, start, w->n - start, err);
        return LB_OK;
    }
    }
    return lb_err(err, LB_ERR_INTERNAL, "pre-tokenizer kind %d", pt->kind);
}
