/* BertNormalizer (see bert_normalizer.h). Text is processed in one pass: ASCII runs go
 * through a 128-entry table; other code points through utf8proc. For strip_accents, the
 * decomposed marks of one combining sequence are held in `pend` until the next starter, so
 * canonical reordering (which HF's whole-string NFD performs) happens before Mn removal. */
#include "text/bert_normalizer.h"
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>
#include "base/utf8.h"

lb_status lb_bytebuf_grow(lb_bytebuf *b, size_t extra, lb_error *err) {
    if (b->n + extra <= b->cap) return LB_OK;
    size_t ncap = b->cap ? b->cap : 256;
    while (ncap < b->n + extra) ncap *= 2;
    uint8_t *np = realloc(b->p, ncap);
    if (!np) return lb_err(err, LB_ERR_NOMEM, "out of memory (tokenizer buffer of %zu bytes)", ncap);
    b->p = np;
    b->cap = ncap;
    return LB_OK;
}

lb_status lb_cpbuf_grow(lb_cpbuf *b, size_t extra, lb_error *err) {
    if (b->n + extra <= b->cap) return LB_OK;
    size_t ncap = b->cap ? b->cap : 64;
    while (ncap < b->n + extra) ncap *= 2;
    int32_t *np = realloc(b->p, ncap * sizeof *np);
    if (!np) return lb_err(err, LB_ERR_NOMEM, "out of memory (tokenizer buffer of %zu code points)", ncap);
    b->p = np;
    b->cap = ncap;
    return LB_OK;
}

static inline int category(int32_t cp) { return utf8proc_category(cp); }

/* tokenizers' own view of a few hundred characters that were assigned or re-categorized after
 * its Unicode tables were made (see tools/reference/gen_unicode_compat.c). */
typedef struct compat_range {
    int32_t lo, hi;
    int8_t cat, no_nfd;
} compat_range;
static const compat_range compat[] = {
#include "text/unicode_compat_table.h"
};
#define N_COMPAT ((int)(sizeof compat / sizeof compat[0]))

static inline const compat_range *compat_find(int32_t cp) {
    if (cp < compat[0].lo || cp > compat[N_COMPAT - 1].hi) return NULL;
    int lo = 0, hi = N_COMPAT - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (cp < compat[mid].lo) hi = mid - 1;
        else if (cp > compat[mid].hi) lo = mid + 1;
        else return &compat[mid];
    }
    return NULL;
}

/* The general category the tokenizers crate's tables give (for control / punctuation / Mn). */
static inline int tok_category(int32_t cp) {
    const compat_range *r = compat_find(cp);
    return r ? (int)r->cat : (int)utf8proc_category(cp);
}

bool lb_uc_is_whitespace(int32_t cp) {
    if (cp < 0x80) return cp == ' ' || (cp >= 9 && cp <= 13);
    if (cp == 0x85) return true;
    int c = category(cp);
    return c == UTF8PROC_CATEGORY_ZS || c == UTF8PROC_CATEGORY_ZL || c == UTF8PROC_CATEGORY_ZP;
}

/* tokenizers is_control: C* minus Cn, except \t \n \r */
static bool uc_is_control(int32_t cp) {
    if (cp == '\t' || cp == '\n' || cp == '\r') return false;
    /* The tokenizers crate's is_other() covers Cc, Cf, Co and Cs but not unassigned (Cn)
     * code points: those are kept (and usually become [UNK]). */
    int c = tok_category(cp);
    return c == UTF8PROC_CATEGORY_CC || c == UTF8PROC_CATEGORY_CF || c == UTF8PROC_CATEGORY_CO ||
           c == UTF8PROC_CATEGORY_CS;
}

bool lb_uc_is_bert_punct(int32_t cp) {
    if (cp < 0x80)
        return (cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126);
    int c = tok_category(cp);
    return c >= UTF8PROC_CATEGORY_PC && c <= UTF8PROC_CATEGORY_PO;
}

/* The handle_chinese_chars ranges. */
static bool uc_is_cjk(int32_t cp) {
    /* The Rust normalizer's ranges (normalizers/bert.rs is_chinese_char); note 2B920, not the
     * slow tokenizer's 2B820. */
    return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF) ||
           (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B920 && cp <= 0x2CEAF) ||
           (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

bool lb_uc_is_word(int32_t cp) {
    if (cp < 0x80) return (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || cp == '_';
    if (cp == 0x200C || cp == 0x200D) return true; /* Join_Control */
    int c = category(cp);
    return (c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_ND) || c == UTF8PROC_CATEGORY_NL ||
           c == UTF8PROC_CATEGORY_PC;
}

void lb_bert_norm_init(lb_bert_norm *nm, bool clean_text, bool handle_chinese_chars, int strip_accents,
                       bool lowercase) {
    nm->enabled = true;
    nm->clean_text = clean_text;
    nm->handle_chinese_chars = handle_chinese_chars;
    nm->strip_accents = strip_accents < 0 ? lowercase : strip_accents != 0;
    nm->lowercase = lowercase;
    for (int b = 0; b < 128; b++) {
        int16_t m = (int16_t)b;
        if (clean_text) {
            if (b == '\t' || b == '\n' || b == '\r') m = ' ';
            else if (b < 32 || b == 127) m = -1; /* NUL and the other Cc */
        }
        if (lowercase && m >= 'A' && m <= 'Z') m = (int16_t)(m + 32);
        nm->ascii[b] = m;
    }
}

/* Appends the lowercase mapping of cp (per the flag) as UTF-8; out has room for 8 bytes. */
static inline void put_char(const lb_bert_norm *nm, lb_bytebuf *out, int32_t cp) {
    if (nm->lowercase && cp >= 0x80) {
        if (cp == 0x130) {
            /* The only unconditional multi-char lowercase mapping (SpecialCasing.txt), which
             * utf8proc's simple mapping lacks: İ -> i + COMBINING DOT ABOVE. */
            out->p[out->n++] = 'i';
            out->n += (size_t)lb_utf8_encode(0x307, out->p + out->n);
            return;
        }
        cp = utf8proc_tolower(cp);
    } else if (nm->lowercase && cp >= 'A' && cp <= 'Z') {
        cp += 32;
    }
    out->n += (size_t)lb_utf8_encode(cp, out->p + out->n);
}

/* Emits the pending combining sequence: stable sort by combining class, drop Mn. */
static lb_status flush_pending(const lb_bert_norm *nm, lb_bytebuf *out, lb_cpbuf *pend, lb_error *err) {
    size_t m = pend->n;
    if (!m) return LB_OK;
    lb_status st = lb_bytebuf_reserve(out, m * 8, err);
    if (st) return st;
    int32_t *p = pend->p;
    if (m > 1) {
        for (size_t i = 1; i < m; i++) {
            int32_t x = p[i];
            int cx = utf8proc_get_property(x)->combining_class;
            size_t j = i;
            while (j > 0 && utf8proc_get_property(p[j - 1])->combining_class > cx) {
                p[j] = p[j - 1];
                j--;
            }
            p[j] = x;
        }
    }
    for (size_t i = 0; i < m; i++)
        if (tok_category(p[i]) != UTF8PROC_CATEGORY_MN) put_char(nm, out, p[i]);
    pend->n = 0;
    return LB_OK;
}

static lb_status emit_char(const lb_bert_norm *nm, int32_t cp, lb_bytebuf *out, lb_cpbuf *pend, lb_error *err) {
    lb_status st;
    if (!nm->strip_accents) {
        if ((st = lb_bytebuf_reserve(out, 8, err))) return st;
        put_char(nm, out, cp);
        return LB_OK;
    }
    utf8proc_int32_t d[32];
    int dummy = 0;
    const compat_range *r = cp >= 0x80 ? compat_find(cp) : NULL;
    utf8proc_ssize_t nd = r && r->no_nfd ? -1 : utf8proc_decompose_char(cp, d, 32, UTF8PROC_DECOMPOSE, &dummy);
    if (nd < 0 || nd > 32) {
        d[0] = cp;
        nd = 1;
    }
    if ((st = lb_cpbuf_reserve(pend, (size_t)nd, err))) return st;
    for (utf8proc_ssize_t k = 0; k < nd; k++) {
        if (utf8proc_get_property(d[k])->combining_class == 0 && (st = flush_pending(nm, out, pend, err))) return st;
        pend->p[pend->n++] = d[k];
    }
    return LB_OK;
}

static lb_status emit_space(const lb_bert_norm *nm, lb_bytebuf *out, lb_cpbuf *pend, lb_error *err) {
    lb_status st = flush_pending(nm, out, pend, err);
    if (st || (st = lb_bytebuf_reserve(out, 1, err))) return st;
    out->p[out->n++] = ' ';
    return LB_OK;
}

lb_status lb_bert_normalize(const lb_bert_norm *nm, const uint8_t *s, size_t n, lb_bytebuf *out, lb_cpbuf *pend,
                            lb_error *err) {
    lb_status st;
    if (!nm->enabled) {
        if ((st = lb_bytebuf_reserve(out, n, err))) return st;
        if (n) memcpy(out->p + out->n, s, n);
        out->n += n;
        return LB_OK;
    }
    pend->n = 0;
    size_t i = 0;
    while (i < n) {
        if (s[i] < 0x80) {
            if (pend->n && (st = flush_pending(nm, out, pend, err))) return st;
            if ((st = lb_bytebuf_reserve(out, n - i, err))) return st;
            uint8_t *o = out->p + out->n;
            const int16_t *tab = nm->ascii;
            while (i < n && s[i] < 0x80) {
                int16_t m = tab[s[i++]];
                if (m >= 0) *o++ = (uint8_t)m;
            }
            out->n = (size_t)(o - out->p);
            continue;
        }
        int32_t cp;
        int k = lb_utf8_decode(s + i, n - i, &cp);
        if (k < 0) return lb_err(err, LB_ERR_INTERNAL, "normalizer given invalid UTF-8 at byte %zu", i);
        i += (size_t)k;
        if (nm->clean_text) {
            if (cp == 0xFFFD || uc_is_control(cp)) continue;
            if (lb_uc_is_whitespace(cp)) {
                if ((st = emit_space(nm, out, pend, err))) return st;
                continue;
            }
        }
        if (nm->handle_chinese_chars && uc_is_cjk(cp)) {
            if ((st = emit_space(nm, out, pend, err)) || (st = emit_char(nm, cp, out, pend, err)) ||
                (st = emit_space(nm, out, pend, err)))
                return st;
            continue;
        }
        if ((st = emit_char(nm, cp, out, pend, err))) return st;
    }
    return flush_pending(nm, out, pend, err);
}
