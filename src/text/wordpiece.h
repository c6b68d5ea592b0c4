/* BertPreTokenizer + WordPiece model (pre_tokenizers/bert.rs, models/wordpiece/mod.rs): split
 * normalized text on whitespace, isolate each punctuation char, then greedy longest-match-first
 * WordPiece with a continuing-subword prefix; a word longer than max_input_chars_per_word chars,
 * or with any position that matches nothing, becomes one unk token. */
#ifndef LB_TEXT_WORDPIECE_H
#define LB_TEXT_WORDPIECE_H
#include <stdbool.h>
#include "text/bert_normalizer.h"
#include "text/vocab.h"

typedef struct lb_wordpiece {
    lb_vocab full; /* every vocab token -> id */
    lb_vocab cont; /* tokens that start with prefix, keyed by the rest -> id */
    char *prefix;  /* continuing_subword_prefix, "##" */
    char *unk_token;
    int32_t unk_id;    /* -1 when unk_token is not in the vocab (an error once needed) */
    int32_t max_chars; /* max_input_chars_per_word */
    bool pretokenize;  /* BertPreTokenizer present (else the whole text is one word) */
} lb_wordpiece;

/* Builds the continuation table and unk id once `full`, prefix and unk_token are set. */
lb_status lb_wordpiece_finish(lb_wordpiece *wp, lb_error *err);
void lb_wordpiece_free(lb_wordpiece *wp);

/* Appends the ids of the valid UTF-8 normalized text s[0..n) to ids. */
lb_status lb_wordpiece_encode(const lb_wordpiece *wp, const uint8_t *s, size_t n, lb_cpbuf *ids, lb_error *err);

/* BertPreTokenizer alone (for tests and tools): appends (offset, length) byte pairs of each
 * word of the valid UTF-8 text s[0..n) to spans. */
lb_status lb_pretokenize(const uint8_t *s, size_t n, lb_cpbuf *spans, lb_error *err);

#endif
