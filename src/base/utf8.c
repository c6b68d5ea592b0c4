/* Strict UTF-8 decoding (see utf8.h). */
#include "base/utf8.h"
#include <stdlib.h>
#include <string.h>

int lb_utf8_decode(const uint8_t *s, size_t n, int32_t *cp) {
    uint8_t b = s[0];
    if (b < 0x80) {
        *cp = b;
        return 1;
    }
    int len;
    uint8_t lo = 0x80, hi = 0xBF; /* allowed range of the second byte (Unicode Table 3-7) */
    int32_t c;
    if (b >= 0xC2 && b <= 0xDF) {
        len = 2;
        c = b & 0x1F;
    } else if (b >= 0xE0 && b <= 0xEF) {
        len = 3;
        c = b & 0x0F;
        if (b == 0xE0) lo = 0xA0;      /* no overlongs */
        else if (b == 0xED) hi = 0x9F; /* no surrogates */
    } else if (b >= 0xF0 && b <= 0xF4) {
        len = 4;
        c = b & 0x07;
        if (b == 0xF0) lo = 0x90;
        else if (b == 0xF4) hi = 0x8F; /* nothing above U+10FFFF */
    } else {
        return -1; /* 80..C1, F5..FF never start a sequence */
    }
    for (int i = 1; i < len; i++) {
        if ((size_t)i >= n) return -i;
        uint8_t t = s[i];
        uint8_t l = i == 1 ? lo : 0x80, h = i == 1 ? hi : 0xBF;
        if (t < l || t > h) return -i;
        c = (c << 6) | (t & 0x3F);
    }
    *cp = c;
    return len;
}

size_t lb_utf8_first_invalid(const uint8_t *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        /* ASCII fast path, 8 bytes at a time. */
        while (i + 8 <= n) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (w & 0x8080808080808080ull) break;
            i += 8;
        }
        if (i >= n) break;
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        int32_t cp;
        int k = lb_utf8_decode(s + i, n - i, &cp);
        if (k < 0) return i;
        i += (size_t)k;
    }
    return n;
}

lb_status lb_utf8_sanitize(const uint8_t *s, size_t n, char **out, size_t *out_len, lb_error *err) {
    /* Each invalid byte becomes at most 3 bytes. */
    if (n > (SIZE_MAX - 1) / 3) return lb_err(err, LB_ERR_NOMEM, "text too large to sanitize (%zu bytes)", n);
    uint8_t *o = malloc(3 * n + 1);
    if (!o) return lb_err(err, LB_ERR_NOMEM, "out of memory sanitizing %zu bytes of text", n);
    size_t i = 0, j = 0;
    while (i < n) {
        if (s[i] < 0x80) {
            o[j++] = s[i++];
            continue;
        }
        int32_t cp;
        int k = lb_utf8_decode(s + i, n - i, &cp);
        if (k > 0) {
            memcpy(o + j, s + i, (size_t)k);
            j += (size_t)k;
            i += (size_t)k;
        } else {
            o[j++] = 0xEF;
            o[j++] = 0xBF;
            o[j++] = 0xBD;
            i += (size_t)(-k);
        }
    }
    o[j] = 0;
    *out = (char *)o;
    *out_len = j;
    return LB_OK;
}
