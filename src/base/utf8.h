/* UTF-8 decoding and validation for every reader of text (the tokenizer, safetensors headers):
 * strict RFC 3629 (no overlongs, no surrogates, nothing above U+10FFFF), with Python's "replace"
 * error semantics (one U+FFFD per maximal invalid subpart) for lossy decoding. In base/ because
 * formats/ and text/ both need it and neither may include the other. */
#ifndef LB_BASE_UTF8_H
#define LB_BASE_UTF8_H
#include <stddef.h>
#include <stdint.h>
#include "base/error.h"

/* Decodes one code point at s[0..n) (n >= 1). Returns its byte length (1-4) and sets *cp, or,
 * for an invalid sequence, returns -k where k >= 1 is the length of the maximal invalid
 * subpart (the bytes one U+FFFD replaces, as Python's bytes.decode(errors="replace")). */
int lb_utf8_decode(const uint8_t *s, size_t n, int32_t *cp);

/* Returns n when s[0..n) is valid UTF-8, else the byte offset of the first invalid sequence. */
size_t lb_utf8_first_invalid(const uint8_t *s, size_t n);

/* Copies s[0..n) into a malloc'd buffer with every maximal invalid subpart replaced by U+FFFD
 * (EF BF BD). *out is NUL-terminated; *out_len excludes the NUL. */
lb_status lb_utf8_sanitize(const uint8_t *s, size_t n, char **out, size_t *out_len, lb_error *err);

/* Encodes cp (a valid scalar value) at out, returning the byte count (1-4). */
static inline int lb_utf8_encode(int32_t cp, uint8_t *out) {
    if (cp < 0x80) {
        out[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (uint8_t)(0xC0 | (cp >> 6));
        out[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (uint8_t)(0xE0 | (cp >> 12));
        out[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (uint8_t)(0xF0 | (cp >> 18));
    out[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}

#endif
