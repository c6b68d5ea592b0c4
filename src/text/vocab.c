/* Open-addressing vocabulary hash (see vocab.h). */
#include "text/vocab.h"
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>

static inline uint64_t load64(const unsigned char *p) { uint64_t w; memcpy(&w, p, 8); return w; }
static inline uint32_t load32(const unsigned char *p) { uint32_t w; memcpy(&w, p, 4); return w; }

static inline uint64_t mix(uint64_t a, uint64_t b) {
    __uint128_t r = (__uint128_t)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

uint32_t lb_vocab_hash(const char *key, size_t len) {
    /* wyhash-style: fixed-size (overlapping) loads instead of a byte loop or a variable-length
     * memcpy, so the short keys WordPiece probes hash in a handful of instructions. */
    const unsigned char *p = (const unsigned char *)key;
    const uint64_t s0 = 0xa0761d6478bd642full, s1 = 0xe7037ed1a0b428dbull;
    uint64_t a, b, h = s0 ^ len;
    if (len <= 16) {
        if (len >= 8) { a = load64(p); b = load64(p + len - 8); }
        else if (len >= 4) { a = load32(p); b = load32(p + len - 4); }
        else if (len) { a = ((uint64_t)p[0] << 16) | ((uint64_t)p[len >> 1] << 8) | p[len - 1]; b = 0; }
        else a = b = 0;
    } else {
        size_t i = 0;
        for (; i + 16 < len; i += 16) h = mix(load64(p + i) ^ s1, load64(p + i + 8) ^ h);
        a = load64(p + len - 16);
        b = load64(p + len - 8);
    }
    return (uint32_t)mix(a ^ s1, b ^ h);
}

/* key equality for short keys without a libc call. */
static inline bool key_eq(const char *x, const char *y, size_t len) {
    const unsigned char *a = (const unsigned char *)x, *b = (const unsigned char *)y;
    if (len >= 8) {
        if (len > 16) return !memcmp(a, b, len);
        return load64(a) == load64(b) && load64(a + len - 8) == load64(b + len - 8);
    }
    if (len >= 4) return load32(a) == load32(b) && load32(a + len - 4) == load32(b + len - 4);
    for (size_t i = 0; i < len; i++)
        if (a[i] != b[i]) return false;
    return true;
}

lb_status lb_vocab_init(lb_vocab *v, size_t expected, lb_error *err) {
    memset(v, 0, sizeof *v);
    size_t cap = 16;
    while (cap < expected * 2) cap *= 2;
    if (cap > (1u << 30)) return lb_err(err, LB_ERR_UNSUPPORTED, "vocabulary too large (%zu entries)", expected);
    v->slots = malloc(cap * sizeof *v->slots);
    v->filter = calloc((1u << LB_VOCAB_FILTER_LOG2) / 64, sizeof *v->filter);
    v->pool_cap = expected * 8 + 64;
    v->pool = malloc(v->pool_cap);
    if (!v->slots || !v->pool || !v->filter) { lb_vocab_free(v); return lb_err(err, LB_ERR_NOMEM, "out of memory for the vocabulary"); }
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
    if (len > UINT32_MAX / 2) return lb_err(err, LB_ERR_UNSUPPORTED, "vocabulary token of %zu bytes", len);
    uint32_t h = lb_vocab_hash(key, len);
    uint32_t j = h & v->mask;
    while (v->slots[j].id >= 0) {
        lb_vocab_slot *s = &v->slots[j];
        if (s->hash == h && s->len == len && key_eq(v->pool + s->off, key, len)) { s->id = id; return LB_OK; }
        j = (j + 1) & v->mask;
    }
    if (v->pool_len + len + 1 > v->pool_cap) {
        size_t ncap = v->pool_cap * 2 + len + 1;
        if (ncap > UINT32_MAX) return lb_err(err, LB_ERR_UNSUPPORTED, "vocabulary strings exceed 4 GiB");
        char *np = realloc(v->pool, ncap);
        if (!np) return lb_err(err, LB_ERR_NOMEM, "out of memory for the vocabulary");
        v->pool = np;
        v->pool_cap = ncap;
    }
    memcpy(v->pool + v->pool_len, key, len);
    v->pool[v->pool_len + len] = 0;
    v->slots[j] = (lb_vocab_slot){h, id, (uint32_t)v->pool_len, (uint32_t)len};
    uint32_t fb = h >> (32 - LB_VOCAB_FILTER_LOG2);
    v->filter[fb >> 6] |= 1ull << (fb & 63);
    v->pool_len += len + 1;
    v->count++;
    if (len > v->max_key_len) v->max_key_len = (uint32_t)len;
    /* Keep the load factor under 1/2 so probe chains stay short. */
    if ((size_t)v->count * 2 > (size_t)v->mask + 1) return grow(v, err);
    return LB_OK;
}

int32_t lb_vocab_get(const lb_vocab *v, const char *key, size_t len) {
    if (!v->slots || len > v->max_key_len) return -1;
    uint32_t h = lb_vocab_hash(key, len);
    uint32_t fb = h >> (32 - LB_VOCAB_FILTER_LOG2);
    if (!(v->filter[fb >> 6] >> (fb & 63) & 1)) return -1;
    uint32_t j = h & v->mask;
    for (;;) {
        const lb_vocab_slot *s = &v->slots[j];
        if (s->id < 0) return -1;
        if (s->hash == h && s->len == len && key_eq(v->pool + s->off, key, len)) return s->id;
        j = (j + 1) & v->mask;
    }
}
