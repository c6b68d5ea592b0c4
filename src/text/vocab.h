/* String -> id hash table for tokenizer vocabularies: open addressing (linear probing). Keys
 * are byte strings looked up by (pointer, length), so WordPiece can probe substrings of a word
 * without copying them. Speed comes from memory behaviour: keys of up to 7 bytes (most
 * WordPiece tokens) live inside their 16-byte slot, so a hit costs one cache line; a 32 KiB
 * bitset rejects most misses (WordPiece probes many substrings that are not tokens) before
 * the table is touched. */
#ifndef LB_TEXT_VOCAB_H
#define LB_TEXT_VOCAB_H
#include <stddef.h>
#include <stdint.h>
#include "base/error.h"

#define LB_VOCAB_FILTER_LOG2 18           /* bitset of 2^18 bits */
#define LB_VOCAB_MAX_KEY ((1u << 23) - 1) /* longest key in bytes */

typedef struct lb_vocab_slot {
    uint32_t hash;
    int32_t id;   /* -1: empty slot */
    uint64_t key; /* len <= 7: key bytes | (0x80 | len) << 56; else pool offset | len << 32 */
} lb_vocab_slot;

typedef struct lb_vocab {
    lb_vocab_slot *slots;
    uint32_t mask; /* capacity - 1 (capacity is a power of two) */
    uint32_t count;
    char *pool; /* every key, in insertion order: uint32 length, bytes, NUL */
    size_t pool_len, pool_cap;
    uint32_t max_key_len; /* longest key in bytes (bounds WordPiece's search) */
    uint64_t *filter;     /* [2^LB_VOCAB_FILTER_LOG2 / 64] */
} lb_vocab;

/* Initializes an empty table sized for about `expected` keys. */
lb_status lb_vocab_init(lb_vocab *v, size_t expected, lb_error *err);
void lb_vocab_free(lb_vocab *v);
/* Inserts key -> id, or updates the id when the key exists (later entries win, as in a dict). */
lb_status lb_vocab_put(lb_vocab *v, const char *key, size_t len, int32_t id, lb_error *err);
/* Returns the id of key[0..len), or -1. */
int32_t lb_vocab_get(const lb_vocab *v, const char *key, size_t len);

/* Iterates over the keys in insertion order: start with *pos = 0; returns 0 at the end. *key
 * points into the pool (NUL-terminated, stable until the next put). */
int lb_vocab_next(const lb_vocab *v, size_t *pos, const char **key, size_t *len, int32_t *id);

#endif
