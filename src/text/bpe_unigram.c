/* BPE and Unigram word encoders (see pipeline.h), after tokenizers' models/bpe/{model,word}.rs and
 * models/unigram/model.rs (encode_optimized). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "text/pipeline.h"
#include "base/utf8.h"

#define EMPTY_KEY UINT64_MAX

void lb_pipe_scratch_free(lb_pipe_scratch *ps) {
    free(ps->word.p);
    free(ps->norm2.p);
    free(ps->spans.p);
    free(ps->sym);
    free(ps->heap);
    free(ps->best);
    free(ps->piece.p);
    memset(ps, 0, sizeof *ps);
}

void lb_bpe_free(lb_bpe *b) {
    free(b->merges);
    free(b->prefix);
    free(b->suffix);
    free(b->unk_token);
    memset(b, 0, sizeof *b);
}

void lb_unigram_free(lb_unigram *u) {
    free(u->scores);
    memset(u, 0, sizeof *u);
}

static inline uint32_t pair_hash(uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    return (uint32_t)k;
}

lb_status lb_bpe_init_merges(lb_bpe *b, size_t n, lb_error *err) {
    size_t cap = 16;
    while (cap < 2 * n + 16) cap <<= 1;
    if (cap > ((size_t)1 << 30)) return lb_err(err, LB_ERR_UNSUPPORTED, "BPE: %zu merges is too many", n);
    b->merges = malloc(cap * sizeof *b->merges);
    if (!b->merges) return lb_err(err, LB_ERR_NOMEM, "out of memory for %zu merges", n);
    for (size_t i = 0; i < cap; i++) b->merges[i].key = EMPTY_KEY;
    b->mask = (uint32_t)(cap - 1);
    return LB_OK;
}

static inline const lb_merge_slot *merge_get(const lb_bpe *b, int32_t l, int32_t r) {
    uint64_t key = (uint64_t)(uint32_t)l << 32 | (uint32_t)r;
    for (uint32_t h = pair_hash(key) & b->mask;; h = (h + 1) & b->mask) {
        const lb_merge_slot *s = &b->merges[h];
        if (s->key == key) return s;
        if (s->key == EMPTY_KEY) return NULL;
    }
}

lb_status lb_bpe_add_merge(lb_bpe *b, const lb_vocab *v, const char *a, size_t alen, const char *bb, size_t blen,
                           uint32_t rank, lb_error *err) {
    int32_t ia = lb_vocab_get(v, a, alen), ib = lb_vocab_get(v, bb, blen);
    if (ia < 0 || ib < 0)
        return lb_err(err, LB_ERR_FORMAT, "model.merges[%u]: token '%.*s' is not in the vocabulary", rank,
                      (int)(ia < 0 ? alen : blen), ia < 0 ? a : bb);
    /* The merged token: a + b without b's continuing_subword_prefix (tokenizers slices it off). */
    size_t pl = b->prefix ? strlen(b->prefix) : 0;
    if (blen < pl || (blen > pl && ((uint8_t)bb[pl] & 0xC0) == 0x80))
        return lb_err(err, LB_ERR_FORMAT, "model.merges[%u]: '%.*s' is shorter than the continuing_subword_prefix",
                      rank, (int)blen, bb);
    char *m = malloc(alen + blen - pl + 1);
    if (!m) return lb_err(err, LB_ERR_NOMEM, "out of memory");
    memcpy(m, a, alen);
    memcpy(m + alen, bb + pl, blen - pl);
    int32_t id = lb_vocab_get(v, m, alen + blen - pl);
    if (id < 0) {
        lb_err(err, LB_ERR_FORMAT, "model.merges[%u]: merged token '%.*s' is not in the vocabulary", rank,
               (int)(alen + blen - pl), m);
        free(m);
        return LB_ERR_FORMAT;
    }
    free(m);
    uint64_t key = (uint64_t)(uint32_t)ia << 32 | (uint32_t)ib;
    for (uint32_t h = pair_hash(key) & b->mask;; h = (h + 1) & b->mask) {
        lb_merge_slot *s = &b->merges[h];
        if (s->key == EMPTY_KEY || s->key == key) { /* a repeated pair: the later rank wins (a HashMap) */
            *s = (lb_merge_slot){key, rank, id};
            return LB_OK;
        }
    }
}

/* ------------------------------------------------------------------ BPE */

typedef struct sym {
    int32_t c, prev, next, len;
} sym;
typedef struct hent {
    uint32_t rank;
    int32_t pos, new_id;
} hent;

/* Min-heap on (rank, pos), as word.rs's Merge ordering. */
static inline bool hless(const hent *a, const hent *b) {
    return a->rank != b->rank ? a->rank < b->rank : a->pos < b->pos;
}

static void hpush(hent *h, size_t *n, hent e) {
    size_t i = (*n)++;
    while (i) {
        size_t p = (i - 1) / 2;
        if (!hless(&e, &h[p])) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = e;
}

static hent hpop(hent *h, size_t *n) {
    hent top = h[0], last = h[--*n];
    size_t i = 0, m = *n;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, c = i;
        const hent *best = &last;
        if (l < m && hless(&h[l], best)) {
            c = l;
            best = &h[l];
        }
        if (r < m && hless(&h[r], best)) c = r;
        if (c == i) break;
        h[i] = h[c];
        i = c;
    }
    if (m) h[i] = last;
    return top;
}

static lb_status grow(void **p, size_t *cap, size_t need, size_t elem, lb_error *err) {
    if (need <= *cap) return LB_OK;
    size_t c = *cap ? *cap : 64;
    while (c < need) c *= 2;
    void *q = realloc(*p, c * elem);
    if (!q) return lb_err(err, LB_ERR_NOMEM, "out of memory for a word of %zu chars", need);
    *p = q;
    *cap = c;
    return LB_OK;
}

lb_status lb_bpe_word(const lb_bpe *b, const lb_vocab *v, const uint8_t *w, size_t n, lb_pipe_scratch *ps,
                      lb_cpbuf *ids, lb_error *err) {
    if (!n) return LB_OK;
    /* At most one symbol per byte (byte fallback adds one per byte too). */
    lb_status st = grow(&ps->sym, &ps->sym_cap, n + 1, sizeof(sym), err);
    if (!st) st = grow(&ps->heap, &ps->heap_cap, 2 * n + 2, sizeof(hent), err);
    if (st) return st;
    sym *s = ps->sym;
    int32_t ns = 0;
    size_t pl = b->prefix ? strlen(b->prefix) : 0, sl = b->suffix ? strlen(b->suffix) : 0;
    lb_bytebuf *pc = &ps->piece;
    int32_t unk_len = 0; /* pending unk (fuse_unk accumulates it) */
    bool unk_pending = false;
    for (size_t i = 0; i < n;) {
        int32_t cp;
        int k = lb_utf8_decode(w + i, n - i, &cp);
        if (k < 0) return lb_err(err, LB_ERR_INTERNAL, "BPE given invalid UTF-8");
        bool first = i == 0, last = i + (size_t)k == n;
        const char *key = (const char *)w + i;
        size_t klen = (size_t)k;
        if ((!first && pl) || (last && sl)) {
            pc->n = 0;
            if ((st = lb_bytebuf_reserve(pc, pl + (size_t)k + sl, err))) return st;
            if (!first && pl) {
                memcpy(pc->p, b->prefix, pl);
                pc->n = pl;
            }
            memcpy(pc->p + pc->n, w + i, (size_t)k);
            pc->n += (size_t)k;
            if (last && sl) {
                memcpy(pc->p + pc->n, b->suffix, sl);
                pc->n += sl;
            }
            key = (const char *)pc->p;
            klen = pc->n;
        }
        int32_t id = lb_vocab_get(v, key, klen);
        if (id >= 0) {
            if (unk_pending) {
                s[ns++] = (sym){b->unk_id, -1, -1, unk_len};
                unk_pending = false;
            }
            s[ns++] = (sym){id, -1, -1, k};
        } else {
            bool done = false;
            if (b->byte_fallback) {
                /* Every byte of the piece (prefix and suffix included) as <0xXX>, if all exist. */
                bool all = true;
                for (size_t q = 0; q < klen; q++) all = all && b->byte_id[(uint8_t)key[q]] >= 0;
                if (all) {
                    if ((st = grow(&ps->sym, &ps->sym_cap, (size_t)ns + klen + n + 1, sizeof(sym), err))) return st;
                    s = ps->sym;
                    for (size_t q = 0; q < klen; q++) s[ns++] = (sym){b->byte_id[(uint8_t)key[q]], -1, -1, 1};
                    done = true;
                }
            }
            if (!done && b->unk_token) {
                if (b->unk_id < 0)
                    return lb_err(err, LB_ERR_FORMAT, "BPE: unk token '%s' is not in the vocabulary", b->unk_token);
                if (unk_pending && b->fuse_unk) {
                    unk_len += k;
                } else {
                    if (unk_pending) s[ns++] = (sym){b->unk_id, -1, -1, unk_len};
                    unk_pending = true;
                    unk_len = k;
                }
            }
        }
        i += (size_t)k;
    }
    if (unk_pending) s[ns++] = (sym){b->unk_id, -1, -1, unk_len};
    for (int32_t i = 0; i < ns; i++) {
        s[i].prev = i - 1;
        s[i].next = i + 1 < ns ? i + 1 : -1;
    }
    if ((st = grow(&ps->heap, &ps->heap_cap, 2 * (size_t)ns + 2, sizeof(hent), err))) return st;
    hent *h = ps->heap;
    size_t hn = 0;
    for (int32_t i = 0; i + 1 < ns; i++) {
        const lb_merge_slot *m = merge_get(b, s[i].c, s[i + 1].c);
        if (m) hpush(h, &hn, (hent){m->rank, i, m->new_id});
    }
    /* Each merge removes a symbol and pushes at most two entries: the heap stays below 2 * ns. */
    while (hn) {
        hent top = hpop(h, &hn);
        sym *cur = &s[top.pos];
        if (!cur->len || cur->next < 0) continue;
        sym *right = &s[cur->next];
        const lb_merge_slot *m = merge_get(b, cur->c, right->c);
        if (!m || m->new_id != top.new_id) continue; /* a stale entry */
        cur->c = top.new_id;
        cur->len += right->len;
        cur->next = right->next;
        right->len = 0;
        if (cur->next >= 0) s[cur->next].prev = top.pos;
        if (cur->prev >= 0 && (m = merge_get(b, s[cur->prev].c, cur->c)))
            hpush(h, &hn, (hent){m->rank, cur->prev, m->new_id});
        if (cur->next >= 0 && (m = merge_get(b, cur->c, s[cur->next].c)))
            hpush(h, &hn, (hent){m->rank, top.pos, m->new_id});
    }
    if ((st = lb_cpbuf_reserve(ids, (size_t)ns, err))) return st;
    for (int32_t i = 0; i < ns; i++)
        if (s[i].len) ids->p[ids->n++] = s[i].c;
    return LB_OK;
}

/* ------------------------------------------------------------------ Unigram */

typedef struct node {
    double score;
    int32_t start, id;
} node; /* start -1: unreached */

#define K_UNK_PENALTY 10.0

lb_status lb_unigram_word(const lb_unigram *u, const lb_vocab *v, const uint8_t *w, size_t n, lb_pipe_scratch *ps,
                          lb_cpbuf *ids, lb_error *err) {
    if (!n) return LB_OK;
    if (n > INT32_MAX - 1) return lb_err(err, LB_ERR_UNSUPPORTED, "Unigram: word over 2 GiB");
    lb_status st = grow(&ps->best, &ps->best_cap, n + 1, sizeof(node), err);
    if (st) return st;
    node *best = ps->best;
    for (size_t i = 0; i <= n; i++) best[i] = (node){0.0, -1, -1};
    double unk_score = u->min_score - K_UNK_PENALTY;
    size_t maxk = v->max_key_len;
    for (size_t at = 0; at < n;) {
        double here = best[at].score;
        int32_t cp;
        int mb = lb_utf8_decode(w + at, n - at, &cp);
        if (mb < 0) return lb_err(err, LB_ERR_INTERNAL, "Unigram given invalid UTF-8");
        bool single = false;
        /* Every vocabulary piece that is a prefix of w[at..] (the trie's common-prefix search). */
        for (size_t e = at + (size_t)mb; e <= n && e - at <= maxk;) {
            int32_t id = lb_vocab_get(v, (const char *)w + at, e - at);
            if (id >= 0) {
                double sc = u->scores[id] + here;
                node *t = &best[e];
                if (t->start < 0 || sc > t->score) *t = (node){sc, (int32_t)at, id};
                if (e - at == (size_t)mb) single = true;
            }
            if (e == n) break;
            int32_t c2;
            int k2 = lb_utf8_decode(w + e, n - e, &c2);
            e += (size_t)(k2 > 0 ? k2 : 1);
        }
        if (!single) {
            if (u->unk_id < 0)
                return lb_err(err, LB_ERR_FORMAT, "Unigram: a char is not in the vocabulary and unk_id is null");
            node *t = &best[at + (size_t)mb];
            double sc = unk_score + here;
            if (t->start < 0 || sc > t->score) *t = (node){sc, (int32_t)at, u->unk_id};
        }
        at += (size_t)mb;
    }
    /* Back from the end: consecutive unk nodes fuse into one piece (fuse_unk), whose id is the
     * vocabulary's for the joined text, else unk. Ids are written reversed, then flipped. */
    if ((st = lb_cpbuf_reserve(ids, n, err))) return st;
    size_t first = ids->n, end = n, unk_end = 0;
    bool in_unk = false;
    while (end > 0) {
        const node *nd = &best[end];
        size_t start = (size_t)nd->start;
        if (u->unk_id >= 0 && nd->id == u->unk_id) {
            if (!in_unk) {
                in_unk = true;
                unk_end = end;
            }
        } else {
            if (in_unk) {
                int32_t id = lb_vocab_get(v, (const char *)w + end, unk_end - end);
                ids->p[ids->n++] = id >= 0 ? id : u->unk_id;
                in_unk = false;
            }
            int32_t id = lb_vocab_get(v, (const char *)w + start, end - start);
            ids->p[ids->n++] = id >= 0 ? id : u->unk_id;
        }
        end = start;
    }
    if (in_unk) {
        int32_t id = lb_vocab_get(v, (const char *)w, unk_end);
        ids->p[ids->n++] = id >= 0 ? id : u->unk_id;
    }
    for (size_t i = first, j = ids->n - 1; i < j; i++, j--) {
        int32_t t = ids->p[i];
        ids->p[i] = ids->p[j];
        ids->p[j] = t;
    }
    return LB_OK;
}
