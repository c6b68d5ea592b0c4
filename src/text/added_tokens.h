/* Added tokens (tokenizer/added_vocabulary.rs): tokens matched literally in the text before the
 * model runs, leftmost-longest, with the single_word / lstrip / rstrip options. Tokens with
 * normalized=false are matched in the raw text; normalized ones in the normalized text, against
 * their normalized content. */
#ifndef LB_TEXT_ADDED_TOKENS_H
#define LB_TEXT_ADDED_TOKENS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "base/error.h"

typedef struct lb_added_token {
    char *content;
    int32_t id;
    bool single_word, lstrip, rstrip, normalized, special;
} lb_added_token;

/* One piece of a split: a text span (id < 0) or a matched added token (id >= 0). */
typedef struct lb_segment {
    size_t start, end;
    int32_t id;
} lb_segment;
typedef struct lb_segbuf {
    lb_segment *p;
    size_t n, cap;
} lb_segbuf;

typedef struct lb_added_matcher {
    size_t npat;
    char **pat;                 /* [npat] pattern bytes (owned), sorted by first byte, then longest first */
    size_t *plen;               /* [npat] */
    const lb_added_token **tok; /* [npat] the token each pattern belongs to */
    uint32_t bucket[257];       /* patterns whose first byte is b: [bucket[b], bucket[b+1]) */
    int single_first;           /* the only first byte in use (memchr fast path), or -1 */
} lb_added_matcher;

/* Builds a matcher over the given patterns (pats[i] is the text that token toks[i] matches;
 * empty patterns are skipped). Copies the patterns. */
lb_status lb_added_matcher_build(lb_added_matcher *m, const char *const *pats, const lb_added_token *const *toks,
                                 size_t n, lb_error *err);
void lb_added_matcher_free(lb_added_matcher *m);

/* Splits s[0..n) into segments (appended to segs; offsets relative to s). */
lb_status lb_added_split(const lb_added_matcher *m, const uint8_t *s, size_t n, lb_segbuf *segs, lb_error *err);

#endif
