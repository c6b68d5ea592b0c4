/* String -> id hash table for tokenizer vocabularies: open addressing (linear probing) over a
 * single string pool, so a lookup hashes the bytes once and compares at most a few keys. Keys
 * are byte strings looked up by (pointer, length), so WordPiece can probe substrings of a word
 * without copying them. */
#ifndef LB_TEXT_VOCAB_H
#define LB_TEXT_VOCAB_H
#include <stddef.h>
#include <stdint.h>
#include "base/error.h"

typedef struct lb_vocab_slot {
    uint32_t hash;
    int32_t id;   /* -1: empty slot */
    uint32_t off; /* key offset in the pool */
    uint32_t len; /* key length in bytes */
} lb_vocab_slot;

typedef struct lb_vocab {
    lb_vocab_slot *slots;
    uint32_t mask;      /* capacity - 1 (capacity is a power of two) */
    uint32_t count;
    char *pool;         /* keys, each NUL-terminated */
    size_t pool_len, pool_cap;
    uint32_t max_key_len; /* longest key in bytes (bounds WordPiece's search) */
} lb_vocab;

/* Initializes an empty table sized for about `expected` keys. */
lb_status lb_vocab_init(lb_vocab *v, size_t expected, lb_error *err);
void lb_vocab_free(lb_vocab *v);
/* Inserts key -> id, or updates the id when the key exists (later entries win, as in a dict). */
lb_status lb_vocab_put(lb_vocab *v, const char *key, size_t len, int32_t id, lb_error *err);
/* Returns the id of key[0..len), or -1. */
int32_t lb_vocab_get(const lb_vocab *v, const char *key, size_t len);

/* The hash used by the table (exposed for tests). */
uint32_t lb_vocab_hash(const char *key, size_t len);

#endif
