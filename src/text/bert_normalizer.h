/* BertNormalizer and the Unicode character classes of HF tokenizers' BERT pipeline
 * (normalizers/bert.rs, pre_tokenizers/bert.rs), on top of utf8proc's property tables:
 *   clean_text: drop U+0000, U+FFFD and category Cc/Cf/Co/Cs except \t \n \r; whitespace -> ' '
 *   handle_chinese_chars: ' ' + c + ' ' for the CJK ideograph blocks
 *   strip_accents: canonical NFD (with canonical reordering), then drop Mn
 *   lowercase: per-char full lowercase mapping (no final-sigma context)
 * in that order. */
#ifndef LB_TEXT_BERT_NORMALIZER_H
#define LB_TEXT_BERT_NORMALIZER_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "base/error.h"

/* Growable byte buffer and code point buffer (scratch reused across calls). */
typedef struct lb_bytebuf {
    uint8_t *p;
    size_t n, cap;
} lb_bytebuf;
typedef struct lb_cpbuf {
    int32_t *p;
    size_t n, cap;
} lb_cpbuf;
lb_status lb_bytebuf_grow(lb_bytebuf *b, size_t extra, lb_error *err);
lb_status lb_cpbuf_grow(lb_cpbuf *b, size_t extra, lb_error *err);
/* Ensure room for n + extra elements (inline fast path: these run once per word). */
static inline lb_status lb_bytebuf_reserve(lb_bytebuf *b, size_t extra, lb_error *err) {
    return b->n + extra <= b->cap ? LB_OK : lb_bytebuf_grow(b, extra, err);
}
static inline lb_status lb_cpbuf_reserve(lb_cpbuf *b, size_t extra, lb_error *err) {
    return b->n + extra <= b->cap ? LB_OK : lb_cpbuf_grow(b, extra, err);
}

typedef struct lb_bert_norm {
    bool enabled; /* false: the tokenizer has no normalizer (identity) */
    bool clean_text, handle_chinese_chars, strip_accents, lowercase;
    int16_t ascii[128]; /* byte -> output byte, or -1 to drop (the ASCII fast path) */
} lb_bert_norm;

/* strip_accents: 1 on, 0 off, -1 null (then it follows lowercase, as in HF). */
void lb_bert_norm_init(lb_bert_norm *nm, bool clean_text, bool handle_chinese_chars, int strip_accents, bool lowercase);

/* Appends the normalized form of the valid UTF-8 text s[0..n) to out. pend is scratch. */
lb_status lb_bert_normalize(const lb_bert_norm *nm, const uint8_t *s, size_t n, lb_bytebuf *out, lb_cpbuf *pend,
                            lb_error *err);

/* Character classes, as the tokenizers crate defines them. */
bool lb_uc_is_whitespace(int32_t cp); /* Rust char::is_whitespace (Unicode White_Space) */
bool lb_uc_is_bert_punct(int32_t cp); /* ASCII punctuation or Unicode P* */
bool lb_uc_is_word(int32_t cp);       /* regex \w (for added tokens' single_word) */

#endif
