/* Added-token matching (see added_tokens.h). Added tokens are few, so a first-byte bucket
 * scan (memchr when every pattern starts with the same byte, e.g. '[') beats a full automaton
 * on text that rarely contains any of them. */
#include "text/added_tokens.h"
#include <stdlib.h>
#include <string.h>
#include "text/bert_normalizer.h"
#include "base/utf8.h"

typedef struct pat_ref {
    const char *p;
    size_t len;
    const lb_added_token *tok;
    size_t order;
} pat_ref;

static int cmp_pat(const void *a, const void *b) {
    const pat_ref *x = a, *y = b;
    uint8_t fx = (uint8_t)x->p[0], fy = (uint8_t)y->p[0];
    if (fx != fy) return fx < fy ? -1 : 1;
    if (x->len != y->len) return x->len > y->len ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

lb_status lb_added_matcher_build(lb_added_matcher *m, const char *const *pats, const lb_added_token *const *toks,
                                 size_t n, lb_error *err) {
    memset(m, 0, sizeof *m);
    m->single_first = -1;
    pat_ref *refs = calloc(n ? n : 1, sizeof *refs);
    if (!refs) return lb_err(err, LB_ERR_NOMEM, "out of memory building the added-token matcher");
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (pats[i][0]) refs[k] = (pat_ref){pats[i], strlen(pats[i]), toks[i], i}, k++;
    qsort(refs, k, sizeof *refs, cmp_pat);
    m->pat = calloc(k ? k : 1, sizeof *m->pat);
    m->plen = calloc(k ? k : 1, sizeof *m->plen);
    m->tok = calloc(k ? k : 1, sizeof *m->tok);
    if (!m->pat || !m->plen || !m->tok) {
        free(refs);
        lb_added_matcher_free(m);
        return lb_err(err, LB_ERR_NOMEM, "out of memory building the added-token matcher");
    }
    m->npat = k;
    for (size_t i = 0; i < k; i++) {
        m->pat[i] = strdup(refs[i].p);
        if (!m->pat[i]) {
            free(refs);
            lb_added_matcher_free(m);
            return lb_err(err, LB_ERR_NOMEM, "out of memory building the added-token matcher");
        }
        m->plen[i] = refs[i].len;
        m->tok[i] = refs[i].tok;
    }
    free(refs);
    size_t j = 0;
    for (int b = 0; b < 256; b++) {
        m->bucket[b] = (uint32_t)j;
        while (j < k && (uint8_t)m->pat[j][0] == b) j++;
    }
    m->bucket[256] = (uint32_t)k;
    if (k && (uint8_t)m->pat[0][0] == (uint8_t)m->pat[k - 1][0]) m->single_first = (uint8_t)m->pat[0][0];
    return LB_OK;
}

void lb_added_matcher_free(lb_added_matcher *m) {
    if (m->pat)
        for (size_t i = 0; i < m->npat; i++) free(m->pat[i]);
    free(m->pat);
    free(m->plen);
    free(m->tok);
    memset(m, 0, sizeof *m);
}

static lb_status push(lb_segbuf *b, size_t start, size_t end, int32_t id, lb_error *err) {
    if (b->n == b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 16;
        lb_segment *np = realloc(b->p, nc * sizeof *np);
        if (!np) return lb_err(err, LB_ERR_NOMEM, "out of memory splitting added tokens");
        b->p = np;
        b->cap = nc;
    }
    b->p[b->n++] = (lb_segment){start, end, id};
    return LB_OK;
}

/* The code point that ends at byte `end` (> 0) of valid UTF-8 text. */
static int32_t cp_before(const uint8_t *s, size_t end, size_t *start) {
    size_t i = end - 1;
    while (i > 0 && (s[i] & 0xC0) == 0x80) i--;
    int32_t cp = 0xFFFD;
    lb_utf8_decode(s + i, end - i, &cp);
    *start = i;
    return cp;
}

static int32_t cp_at(const uint8_t *s, size_t n, size_t i, int *len) {
    int32_t cp = 0xFFFD;
    int k = lb_utf8_decode(s + i, n - i, &cp);
    *len = k > 0 ? k : 1;
    return cp;
}

lb_status lb_added_split(const lb_added_matcher *m, const uint8_t *s, size_t n, lb_segbuf *segs, lb_error *err) {
    size_t seg_start = 0, i = 0;
    lb_status st;
    while (i < n) {
        /* Find the next position where some pattern may start. */
        if (m->single_first >= 0) {
            const uint8_t *q = memchr(s + i, m->single_first, n - i);
            if (!q) break;
            i = (size_t)(q - s);
        } else {
            while (i < n && m->bucket[s[i]] == m->bucket[s[i] + 1]) i++;
            if (i >= n) break;
        }
        /* Longest pattern matching at i (bucket is sorted longest first). */
        size_t best = SIZE_MAX;
        for (uint32_t p = m->bucket[s[i]]; p < m->bucket[s[i] + 1]; p++)
            if (m->plen[p] <= n - i && !memcmp(s + i, m->pat[p], m->plen[p])) {
                best = p;
                break;
            }
        if (best == SIZE_MAX) {
            i++;
            continue;
        }
        const lb_added_token *t = m->tok[best];
        size_t start = i, stop = i + m->plen[best];
        if (t->single_word) {
            size_t ps;
            int l;
            bool start_ok = start == 0 || !lb_uc_is_word(cp_before(s, start, &ps));
            bool stop_ok = stop == n || !lb_uc_is_word(cp_at(s, n, stop, &l));
            if (!start_ok || !stop_ok) {
                i = stop;
                continue;
            } /* matched, then discarded (as HF) */
        }
        if (t->lstrip) {
            size_t ps;
            while (start > seg_start && lb_uc_is_whitespace(cp_before(s, start, &ps))) start = ps;
        }
        if (t->rstrip) {
            int l;
            while (stop < n && lb_uc_is_whitespace(cp_at(s, n, stop, &l))) stop += (size_t)l;
        }
        if (seg_start < start && (st = push(segs, seg_start, start, -1, err))) return st;
        if ((st = push(segs, start, stop, t->id, err))) return st;
        seg_start = i = stop;
    }
    if (seg_start < n && (st = push(segs, seg_start, n, -1, err))) return st;
    return LB_OK;
}
