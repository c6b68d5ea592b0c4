/* Sequence normalizer steps (see pipeline.h): Precompiled (spm_precompiled's double-array trie
 * over extended grapheme clusters, as tokenizers' normalizers/precompiled.rs) and Replace. */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>
#include "text/pipeline.h"
#include "base/utf8.h"

void lb_seqnorm_free(lb_seqnorm *sn) {
    for (size_t i = 0; i < sn->n; i++) {
        free(sn->steps[i].pat);
        free(sn->steps[i].content);
        free(sn->steps[i].trie);
        free(sn->steps[i].norm);
    }
    free(sn->steps);
    memset(sn, 0, sizeof *sn);
}

static int b64v(unsigned char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

/* Standard base64 with padding (the base64 crate's STANDARD engine: canonical, padded). */
static lb_status b64_decode(const char *s, uint8_t **out, size_t *olen, lb_error *err) {
    size_t n = strlen(s);
    if (n % 4) return lb_err(err, LB_ERR_FORMAT, "precompiled_charsmap: base64 length %zu is not a multiple of 4", n);
    uint8_t *o = malloc(n / 4 * 3 + 1);
    if (!o) return lb_err(err, LB_ERR_NOMEM, "out of memory");
    size_t k = 0;
    for (size_t i = 0; i < n; i += 4) {
        int v[4];
        int pad = 0;
        for (int j = 0; j < 4; j++) {
            if (s[i + j] == '=' && i + 4 == n && j >= 2) {
                v[j] = 0;
                pad++;
                continue;
            }
            if (pad || (v[j] = b64v((unsigned char)s[i + j])) < 0) {
                free(o);
                return lb_err(err, LB_ERR_FORMAT, "precompiled_charsmap: invalid base64 at char %zu", i + j);
            }
        }
        uint32_t x = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        o[k++] = (uint8_t)(x >> 16);
        if (pad < 2) o[k++] = (uint8_t)(x >> 8);
        if (pad < 1) o[k++] = (uint8_t)x;
        /* Non-canonical trailing bits are rejected by the STANDARD engine. */
        if ((pad == 1 && (x & 0xFF)) || (pad == 2 && (x & 0xFFFF))) {
            free(o);
            return lb_err(err, LB_ERR_FORMAT, "precompiled_charsmap: invalid base64 padding");
        }
    }
    *out = o;
    *olen = k;
    return LB_OK;
}

lb_status lb_precompiled_parse(lb_nstep *st, const char *b64, lb_error *err) {
    uint8_t *d = NULL;
    size_t n = 0;
    lb_status s = b64_decode(b64, &d, &n, err);
    if (s) return s;
    if (n < 4) {
        free(d);
        return lb_err(err, LB_ERR_FORMAT, "precompiled_charsmap: %zu bytes, no trie size", n);
    }
    uint32_t tsize = (uint32_t)d[0] | (uint32_t)d[1] << 8 | (uint32_t)d[2] << 16 | (uint32_t)d[3] << 24;
    size_t nunits = tsize / 4;
    if (nunits > (n - 4) / 4) {
        free(d);
        return lb_err(err, LB_ERR_FORMAT, "precompiled_charsmap: trie of %u bytes, only %zu present", tsize, n - 4);
    }
    st->ntrie = nunits;
    st->trie = malloc((nunits ? nunits : 1) * sizeof *st->trie);
    size_t off = 4 + nunits * 4;
    st->nnorm = n - off;
    st->norm = malloc(st->nnorm + 1);
    if (!st->trie || !st->norm) {
        free(d);
        return lb_err(err, LB_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < nunits; i++) {
        const uint8_t *p = d + 4 + 4 * i;
        st->trie[i] = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    }
    memcpy(st->norm, d + off, st->nnorm);
    st->norm[st->nnorm] = 0;
    free(d);
    if (lb_utf8_first_invalid((const uint8_t *)st->norm, st->nnorm) != st->nnorm)
        return lb_err(err, LB_ERR_FORMAT, "precompiled_charsmap: normalized strings are not valid UTF-8");
    if (!nunits) return lb_err(err, LB_ERR_FORMAT, "precompiled_charsmap: empty trie");
    return LB_OK;
}

/* darts-clone unit fields. */
static inline uint32_t u_offset(uint32_t u) { return (u >> 10) << ((u & (1u << 9)) >> 6); }
static inline uint32_t u_label(uint32_t u) { return u & ((1u << 31) | 0xFF); }
static inline bool u_leaf(uint32_t u) { return (u >> 8) & 1; }
static inline uint32_t u_value(uint32_t u) { return u & ((1u << 31) - 1); }

/* The replacement for the shortest key that prefixes s[0..n) (spm_precompiled's transform takes
 * the first common-prefix result): *out / *olen, or *olen = SIZE_MAX when none. A unit index or
 * string offset outside the charsmap is an error (tokenizers would panic). */
static lb_status transform(const lb_nstep *st, const uint8_t *s, size_t n, const char **out, size_t *olen,
                           lb_error *err) {
    *olen = SIZE_MAX;
    size_t pos = 0;
    uint32_t unit = st->trie[0];
    pos ^= u_offset(unit);
    for (size_t i = 0; i < n; i++) {
        uint8_t c = s[i];
        if (!c) break;
        pos ^= c;
        if (pos >= st->ntrie) goto bad;
        unit = st->trie[pos];
        if (u_label(unit) != c) return LB_OK;
        pos ^= u_offset(unit);
        if (u_leaf(unit)) {
            if (pos >= st->ntrie) goto bad;
            size_t v = u_value(st->trie[pos]);
            if (v > st->nnorm || (v < st->nnorm && ((uint8_t)st->norm[v] & 0xC0) == 0x80))
                return lb_err(err, LB_ERR_FORMAT, "precompiled_charsmap: replacement offset %zu is outside the strings",
                              v);
            size_t e = v;
            while (e < st->nnorm && st->norm[e]) e++;
            *out = st->norm + v;
            *olen = e - v;
            return LB_OK;
        }
    }
    return LB_OK;
bad:
    return lb_err(err, LB_ERR_FORMAT, "precompiled_charsmap: trie index %zu outside its %zu units", pos, st->ntrie);
}

static lb_status put(lb_bytebuf *o, const void *p, size_t n, lb_error *err) {
    lb_status st = lb_bytebuf_reserve(o, n, err);
    if (st) return st;
    if (n) memcpy(o->p + o->n, p, n);
    o->n += n;
    return LB_OK;
}

static lb_status precompiled(const lb_nstep *st, const uint8_t *s, size_t n, lb_bytebuf *o, lb_error *err) {
    size_t i = 0;
    lb_status r;
    while (i < n) {
        /* One extended grapheme cluster s[i..g). */
        int32_t state = 0, cp, prev;
        int k = lb_utf8_decode(s + i, n - i, &prev);
        if (k < 0) return lb_err(err, LB_ERR_INTERNAL, "normalizer given invalid UTF-8");
        size_t g = i + (size_t)k;
        while (g < n) {
            int k2 = lb_utf8_decode(s + g, n - g, &cp);
            if (k2 < 0) return lb_err(err, LB_ERR_INTERNAL, "normalizer given invalid UTF-8");
            if (utf8proc_grapheme_break_stateful(prev, cp, &state)) break;
            prev = cp;
            g += (size_t)k2;
        }
        const char *rep;
        size_t rl;
        if (g - i < 6) {
            if ((r = transform(st, s + i, g - i, &rep, &rl, err))) return r;
            if (rl != SIZE_MAX) {
                if ((r = put(o, rep, rl, err))) return r;
                i = g;
                continue;
            }
        }
        while (i < g) {
            int k2 = lb_utf8_decode(s + i, g - i, &cp);
            if ((r = transform(st, s + i, (size_t)k2, &rep, &rl, err))) return r;
            if ((r = rl != SIZE_MAX ? put(o, rep, rl, err) : put(o, s + i, (size_t)k2, err))) return r;
            i += (size_t)k2;
        }
    }
    return LB_OK;
}

static lb_status replace(const lb_nstep *st, const uint8_t *s, size_t n, lb_bytebuf *o, lb_error *err) {
    size_t i = 0;
    lb_status r;
    while (i < n) {
        if (st->kind == LB_NSTEP_REPLACE && st->plen && n - i >= st->plen && !memcmp(s + i, st->pat, st->plen)) {
            if ((r = put(o, st->content, st->clen, err))) return r;
            i += st->plen;
            continue;
        }
        if (st->kind == LB_NSTEP_REPLACE_RUN) {
            size_t j = i, cnt = 0;
            while (n - j >= st->plen && !memcmp(s + j, st->pat, st->plen)) {
                j += st->plen;
                cnt++;
            }
            if (cnt >= st->run_min) {
                if ((r = put(o, st->content, st->clen, err))) return r;
                i = j;
                continue;
            }
            if (cnt) { /* a shorter run stays as it is */
                if ((r = put(o, s + i, j - i, err))) return r;
                i = j;
                continue;
            }
        }
        if ((r = put(o, s + i, 1, err))) return r;
        i++;
    }
    return LB_OK;
}

lb_status lb_seqnorm_apply(const lb_seqnorm *sn, const uint8_t *s, size_t n, lb_bytebuf *out, lb_bytebuf *tmp,
                           lb_error *err) {
    /* Steps ping-pong between tmp and a copy in out; the result is appended to out at base. */
    size_t base = out->n;
    lb_status r = put(out, s, n, err);
    for (size_t k = 0; !r && k < sn->n; k++) {
        const lb_nstep *st = &sn->steps[k];
        tmp->n = 0;
        r = st->kind == LB_NSTEP_PRECOMPILED ? precompiled(st, out->p + base, out->n - base, tmp, err)
                                             : replace(st, out->p + base, out->n - base, tmp, err);
        if (r) break;
        out->n = base;
        r = put(out, tmp->p, tmp->n, err);
    }
    return r;
}
