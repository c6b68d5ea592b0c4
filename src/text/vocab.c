/* Open-addressing vocabulary hash (see vocab.h). */
#include "text/vocab.h"
#include <stdlib.h>
#include <string.h>

uint32_t lb_vocab_hash(const char *key, size_t len) {
    /* 8 bytes per step with a 64-bit multiply: most WordPiece keys take 1-2 steps. */
    const uint64_t K = 0x9E3779B97F4A7C15ull;
    uint64_t h = 0x243F6A8885A308D3ull ^ (uint64_t)len;
    const unsigned char *p = (const unsigned char *)key;
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * K;
        h ^= h >> 29;
        p += 8;
        len -= 8;
    }
    if (len) {
        uint64_t w = 0;
        memcpy(&w, p, len);
        h = (h ^ w) * K;
        h ^= h >> 29;
    }
    h *= 0xBF58476D1CE4E5B9ull;
    h ^= h >> 32;
    return (uint32_t)h;
}

lb_status lb_vocab_init(lb_vocab *v, size_t expected, lb_error *err) {
    memset(v, 0, sizeof *v);
    size_t cap = 16;
    while (cap < expected * 2) cap *= 2;
    if (cap > (1u << 30)) return lb_err(err, LB_ERR_UNSUPPORTED, "vocabulary too large (%zu entries)", expected);
    v->slots = malloc(cap * sizeof *v->slots);
    v->pool_cap = expected * 8 + 64;
    v->pool = malloc(v->pool_cap);
    if (!v->slots || !v->pool) { lb_vocab_free(v); return lb_err(err, LB_ERR_NOMEM, "out of memory for the vocabulary"); }
    for (size_t i = 0; i < cap; i++) v->slots[i].id = -1;
    v->mask = (uint32_t)(cap - 1);
    return LB_OK;
}

void lb_vocab_free(lb_vocab *v) {
    free(v->slots);
    free(v->pool);
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
        if (s->hash == h && s->len == len && !memcmp(v->pool + s->off, key, len)) { s->id = id; return LB_OK; }
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
    uint32_t j = h & v->mask;
    for (;;) {
        const lb_vocab_slot *s = &v->slots[j];
        if (s->id < 0) return -1;
        if (s->hash == h && s->len == len && !memcmp(v->pool + s->off, key, len)) return s->id;
        j = (j + 1) & v->mask;
    }
}
