/* Open-addressing vocabulary hash (see vocab.h). */
#include "text/vocab.h"
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static inline uint64_t load64(const unsigned char *p) {
    uint64_t w;
    memcpy(&w, p, 8);
    return w;
}
static inline uint32_t load32(const unsigned char *p) {
    uint32_t w;
    memcpy(&w, p, 4);
    return w;
}

static inline uint64_t mix(uint64_t a, uint64_t b) {
    __uint128_t r = (__uint128_t)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

/* wyhash-style: fixed-size (overlapping) loads instead of a byte loop or a variable-length
 * memcpy, so the short keys WordPiece probes hash in a handful of instructions. For len <= 7,
 * *small receives the slot's inline form of the key. */
static inline uint32_t hash_key(const unsigned char *p, size_t len, uint64_t *small) {
    const uint64_t s0 = 0xa0761d6478bd642full, s1 = 0xe7037ed1a0b428dbull;
    uint64_t a, b, h = s0 ^ len;
    if (len <= 16) {
        if (len >= 8) {
            a = load64(p);
            b = load64(p + len - 8);
        } else if (len >= 4) {
            a = load32(p);
            b = load32(p + len - 4);
            *small = (a | b << ((len - 4) * 8)) | (uint64_t)(0x80 | len) << 56;
        } else {
            a = len ? ((uint64_t)p[0] << 16) | ((uint64_t)p[len >> 1] << 8) | p[len - 1] : 0;
            b = 0;
            uint64_t w = 0;
            for (size_t i = 0; i < len; i++) w |= (uint64_t)p[i] << (8 * i);
            *small = w | (uint64_t)(0x80 | len) << 56;
        }
    } else {
        for (size_t i = 0; i + 16 < len; i += 16) h = mix(load64(p + i) ^ s1, load64(p + i + 8) ^ h);
        a = load64(p + len - 16);
        b = load64(p + len - 8);
    }
    return (uint32_t)mix(a ^ s1, b ^ h);
}

/* Equality of keys of 8+ bytes without a libc call for the common lengths. */
static inline bool key_eq(const char *x, const char *y, size_t len) {
    const unsigned char *a = (const unsigned char *)x, *b = (const unsigned char *)y;
    if (len > 16) return !memcmp(a, b, len);
    return load64(a) == load64(b) && load64(a + len - 8) == load64(b + len - 8);
}

static inline const char *long_key(const lb_vocab *v, uint64_t key) { return v->pool + (uint32_t)key; }

/* Does slot s hold key (hash h, inline form small when len <= 7)? */
static inline bool slot_is(const lb_vocab *v, const lb_vocab_slot *s, uint32_t h, uint64_t small, const char *key,
                           size_t len) {
    if (s->hash != h) return false;
    if (len <= 7) return s->key == small;
    return (s->key >> 32) == len && key_eq(long_key(v, s->key), key, len);
}

lb_status lb_vocab_init(lb_vocab *v, size_t expected, lb_error *err) {
    memset(v, 0, sizeof *v);
    size_t cap = 16;
    while (cap < expected * 2) cap *= 2;
    if (cap > (1u << 30)) return lb_err(err, LB_ERR_UNSUPPORTED, "vocabulary too large (%zu entries)", expected);
    v->slots = malloc(cap * sizeof *v->slots);
    v->pool_cap = expected * 12 + 64;
    v->pool = malloc(v->pool_cap);
    v->filter = calloc((1u << LB_VOCAB_FILTER_LOG2) / 64, sizeof *v->filter);
    if (!v->slots || !v->pool || !v->filter) {
        lb_vocab_free(v);
        return lb_err(err, LB_ERR_NOMEM, "out of memory for the vocabulary");
    }
    for (size_t i = 0; i < cap; i++) v->slots[i].id = -1;
    v->mask = (uint32_t)(cap - 1);
    return LB_OK;
}

void lb_vocab_free(lb_vocab *v) {
    free(v->slots);
    free(v->pool);
    free(v->filter);
    memset(v, 0, sizeof *v);
}

static lb_status grow(lb_vocab *v, lb_error *err) {
    size_t cap = (size_t)v->mask + 1, ncap = cap * 2;
    if (ncap > (1u << 30)) return lb_err(err, LB_ERR_UNSUPPORTED, "vocabulary too large (%u entries)", v->count);
    lb_vocab_slot *ns = malloc(ncap * sizeof *ns);
    if (!ns) return lb_err(err, LB_ERR_NOMEM, "out of memory for the vocabulary");
    for (size_t i = 0; i < ncap; i++) ns[i].id = -1;
    uint32_t nmask = (uint32_t)(ncap - 1);
    for (size_t i = 0; i < cap; i++) {
        if (v->slots[i].id < 0) continue;
        uint32_t j = v->slots[i].hash & nmask;
        while (ns[j].id >= 0) j = (j + 1) & nmask;
        ns[j] = v->slots[i];
    }
    free(v->slots);
    v->slots = ns;
    v->mask = nmask;
    return LB_OK;
}

lb_status lb_vocab_put(lb_vocab *v, const char *key, size_t len, int32_t id, lb_error *err) {
    if (len > LB_VOCAB_MAX_KEY) return lb_err(err, LB_ERR_UNSUPPORTED, "vocabulary token of %zu bytes", len);
    if (id < 0) return lb_err(err, LB_ERR_FORMAT, "vocabulary token with negative id %d", id);
    uint64_t small = 0;
    uint32_t h = hash_key((const unsigned char *)key, len, &small);
    uint32_t j = h & v->mask;
    for (; v->slots[j].id >= 0; j = (j + 1) & v->mask)
        if (slot_is(v, &v->slots[j], h, small, key, len)) {
            v->slots[j].id = id;
            return LB_OK;
        }
    size_t need = v->pool_len + 4 + len + 1;
    if (need > v->pool_cap) {
        size_t ncap = v->pool_cap * 2 > need ? v->pool_cap * 2 : need;
        if (ncap > UINT32_MAX) return lb_err(err, LB_ERR_UNSUPPORTED, "vocabulary strings exceed 4 GiB");
        char *np = realloc(v->pool, ncap);
        if (!np) return lb_err(err, LB_ERR_NOMEM, "out of memory for the vocabulary");
        v->pool = np;
        v->pool_cap = ncap;
    }
    uint32_t l32 = (uint32_t)len, off = (uint32_t)(v->pool_len + 4);
    memcpy(v->pool + v->pool_len, &l32, 4);
    if (len) memcpy(v->pool + off, key, len);
    v->pool[off + len] = 0;
    v->pool_len = (size_t)off + len + 1;
    v->slots[j] = (lb_vocab_slot){h, id, len <= 7 ? small : (uint64_t)off | (uint64_t)len << 32};
    uint32_t fb = h >> (32 - LB_VOCAB_FILTER_LOG2);
    v->filter[fb >> 6] |= 1ull << (fb & 63);
    v->count++;
    if (len > v->max_key_len) v->max_key_len = (uint32_t)len;
    /* Keep the load factor under 1/2 so probe chains stay short. */
    if ((size_t)v->count * 2 > (size_t)v->mask + 1) return grow(v, err);
    return LB_OK;
}

int32_t lb_vocab_get(const lb_vocab *v, const char *key, size_t len) {
    if (!v->slots || len > v->max_key_len) return -1;
    uint64_t small = 0;
    uint32_t h = hash_key((const unsigned char *)key, len, &small);
    uint32_t fb = h >> (32 - LB_VOCAB_FILTER_LOG2);
    if (!(v->filter[fb >> 6] >> (fb & 63) & 1)) return -1;
    for (uint32_t j = h & v->mask; v->slots[j].id >= 0; j = (j + 1) & v->mask)
        if (slot_is(v, &v->slots[j], h, small, key, len)) return v->slots[j].id;
    return -1;
}

int lb_vocab_next(const lb_vocab *v, size_t *pos, const char **key, size_t *len, int32_t *id) {
    if (*pos + 4 > v->pool_len) return 0;
    uint32_t l;
    memcpy(&l, v->pool + *pos, 4);
    *key = v->pool + *pos + 4;
    *len = l;
    *id = lb_vocab_get(v, *key, l);
    *pos += 4 + (size_t)l + 1;
    return 1;
}
