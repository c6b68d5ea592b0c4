/* Parquet encodings: see parquet_encodings.h. Layouts follow apache/parquet-format Encodings.md. */
#include "data/parquet_encodings.h"
#include <stdlib.h>
#include <string.h>
#include "data/parquet_meta.h"

/* Decoded byte-array values are views into the page (parquet.c copies them into the table's own
 * strings, with the decode budget charged, before the page buffer goes away); lb_value's string
 * field is not const because the table owns and frees its copies. Nothing writes through a view. */
static char *page_view(const uint8_t *p) { return (char *)(uintptr_t)p; }

/* Unix epoch as a Julian day number (INT96 timestamps count Julian days). */
#define JULIAN_UNIX_EPOCH 2440588LL
#define NANOS_PER_DAY 86400000000000LL

static uint32_t le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t le64(const uint8_t *p) { return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32; }

size_t lb_pq_fixed_width(const lb_pq_valtype *vt) {
    switch (vt->type) {
    case LB_PQ_INT32:
    case LB_PQ_FLOAT: return 4;
    case LB_PQ_INT64:
    case LB_PQ_DOUBLE: return 8;
    case LB_PQ_INT96: return 12;
    case LB_PQ_FLBA: return vt->type_length > 0 ? (size_t)vt->type_length : 0;
    default: return 0;
    }
}

static void set_int32(const lb_pq_valtype *vt, uint32_t raw, lb_value *v) {
    v->type = LB_VAL_INT;
    v->i = vt->is_unsigned ? (int64_t)raw : (int64_t)(int32_t)raw;
}

/* One fixed-width value at src into v (strings borrowed). */
static lb_status set_fixed(const lb_pq_valtype *vt, const uint8_t *src, lb_value *v, lb_error *err) {
    memset(v, 0, sizeof *v);
    switch (vt->type) {
    case LB_PQ_INT32: set_int32(vt, le32(src), v); break;
    case LB_PQ_INT64:
        v->type = LB_VAL_INT;
        v->i = (int64_t)le64(src);
        break;
    case LB_PQ_FLOAT: {
        float f;
        memcpy(&f, src, 4); /* little-endian host (x86-64/aarch64) */
        v->type = LB_VAL_FLOAT;
        v->f = f;
        break;
    }
    case LB_PQ_DOUBLE:
        v->type = LB_VAL_FLOAT;
        memcpy(&v->f, src, 8);
        break;
    case LB_PQ_INT96: {
        /* 8 bytes nanoseconds within the day, then 4 bytes Julian day; stored as Unix-epoch ns. */
        int64_t nanos = (int64_t)le64(src), day = (int32_t)le32(src + 8), r;
        if (__builtin_mul_overflow(day - JULIAN_UNIX_EPOCH, NANOS_PER_DAY, &r) || __builtin_add_overflow(r, nanos, &r))
            return lb_err(err, LB_ERR_FORMAT, "INT96 timestamp (Julian day %lld) is outside the int64 nanosecond range",
                          (long long)day);
        v->type = LB_VAL_INT;
        v->i = r;
        break;
    }
    case LB_PQ_FLBA:
        v->type = LB_VAL_STR;
        v->s = page_view(src);
        v->slen = (size_t)vt->type_length;
        break;
    default: return lb_err(err, LB_ERR_INTERNAL, "set_fixed: type %d is not fixed-width", vt->type);
    }
    return LB_OK;
}

lb_status lb_pq_decode_plain(const lb_pq_valtype *vt, const uint8_t *p, size_t len, size_t n, lb_value *out,
                             size_t *consumed, lb_error *err) {
    size_t used = 0;
    if (vt->type == LB_PQ_BOOLEAN) {
        used = (n + 7) / 8;
        if (used > len)
            return lb_err(err, LB_ERR_FORMAT, "PLAIN BOOLEAN: %zu values need %zu bytes, page has %zu", n, used, len);
        for (size_t i = 0; i < n; i++) out[i] = (lb_value){.type = LB_VAL_BOOL, .i = (p[i >> 3] >> (i & 7)) & 1};
    } else if (vt->type == LB_PQ_BYTE_ARRAY) {
        for (size_t i = 0; i < n; i++) {
            if (len - used < 4)
                return lb_err(
                    err, LB_ERR_FORMAT,
                    "PLAIN BYTE_ARRAY: value %zu of %zu: length prefix at byte %zu runs past the %zu-byte page", i, n,
                    used, len);
            uint32_t l = le32(p + used);
            used += 4;
            if (l > len - used)
                return lb_err(err, LB_ERR_FORMAT,
                              "PLAIN BYTE_ARRAY: value %zu of %zu has length %u, only %zu bytes left", i, n, l,
                              len - used);
            out[i] = (lb_value){.type = LB_VAL_STR, .s = page_view(p + used), .slen = l};
            used += l;
        }
    } else {
        size_t w = lb_pq_fixed_width(vt);
        if (!w) return lb_err(err, LB_ERR_FORMAT, "PLAIN: bad physical type %d", vt->type);
        if (n > len / w)
            return lb_err(err, LB_ERR_FORMAT, "PLAIN %s: %zu values need %zu bytes, page has %zu",
                          lb_pq_type_name(vt->type), n, n * w > n ? n * w : SIZE_MAX, len);
        used = n * w;
        for (size_t i = 0; i < n; i++) {
            lb_status st = set_fixed(vt, p + i * w, &out[i], err);
            if (st) return st;
        }
    }
    if (consumed) *consumed = used;
    return LB_OK;
}

/* ---- bit unpacking ---- */

/* bw (1..64) bits at bit offset pos of the little-endian bit stream p[0..nbytes). Bytes past
 * nbytes read as zero (callers check that the bits they need are present). */
static uint64_t get_bits(const uint8_t *p, size_t nbytes, size_t pos, int bw) {
    size_t byte = pos >> 3;
    int shift = (int)(pos & 7);
    if (byte + 8 <= nbytes && bw + shift <= 64) {
        uint64_t w;
        memcpy(&w, p + byte, 8);
        w >>= shift;
        return bw == 64 ? w : w & ((1ULL << bw) - 1);
    }
    uint64_t v = 0;
    int got = 0;
    while (got < bw) {
        uint8_t b = byte < nbytes ? p[byte] : 0;
        int take = 8 - shift;
        if (take > bw - got) take = bw - got;
        v |= (uint64_t)((b >> shift) & ((1u << take) - 1)) << got;
        got += take;
        byte++;
        shift = 0;
    }
    return v;
}

static lb_status read_uleb(const uint8_t **pp, const uint8_t *end, uint64_t *v, const char *what, lb_error *err) {
    const uint8_t *p = *pp;
    uint64_t r = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (p >= end) return lb_err(err, LB_ERR_FORMAT, "%s: truncated varint", what);
        uint8_t b = *p++;
        r |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = r;
            *pp = p;
            return LB_OK;
        }
    }
    return lb_err(err, LB_ERR_FORMAT, "%s: varint longer than 10 bytes", what);
}

lb_status lb_pq_decode_hybrid(const uint8_t *p, size_t len, int bw, size_t n, uint32_t *out, lb_error *err) {
    if (bw < 0 || bw > 32) return lb_err(err, LB_ERR_FORMAT, "RLE/bit-packed: bit width %d is not in 0..32", bw);
    if (bw == 0) {
        memset(out, 0, n * sizeof *out);
        return LB_OK;
    }
    const uint8_t *end = p + len;
    size_t i = 0, vbytes = ((size_t)bw + 7) / 8;
    while (i < n) {
        uint64_t h = 0;
        lb_status st = read_uleb(&p, end, &h, "RLE/bit-packed run header", err);
        if (st) return lb_err_prefix(err, "after %zu of %zu values", i, n);
        size_t avail = (size_t)(end - p);
        if (h & 1) {
            uint64_t groups = h >> 1;
            /* Each group of 8 values takes bw bytes; a short final group is accepted. */
            size_t nbytes = groups > avail / (size_t)bw ? avail : (size_t)groups * (size_t)bw;
            size_t nvals = nbytes * 8 / (size_t)bw;
            if (nvals > groups * 8) nvals = (size_t)groups * 8;
            size_t take = nvals < n - i ? nvals : n - i;
            if (take == 0 && groups)
                return lb_err(err, LB_ERR_FORMAT, "RLE/bit-packed: bit-packed run truncated after %zu of %zu values", i,
                              n);
            for (size_t k = 0; k < take; k++) out[i + k] = (uint32_t)get_bits(p, nbytes, k * (size_t)bw, bw);
            p += nbytes;
            i += take;
        } else {
            uint64_t count = h >> 1;
            if (vbytes > avail)
                return lb_err(err, LB_ERR_FORMAT, "RLE/bit-packed: RLE run value truncated after %zu of %zu values", i,
                              n);
            uint32_t v = 0;
            for (size_t k = 0; k < vbytes; k++) v |= (uint32_t)p[k] << (8 * k);
            p += vbytes;
            size_t take = count < n - i ? (size_t)count : n - i;
            for (size_t k = 0; k < take; k++) out[i + k] = v;
            i += take;
        }
    }
    return LB_OK;
}

lb_status lb_pq_decode_bit_packed_levels(const uint8_t *p, size_t len, int bw, size_t n, uint32_t *out,
                                         size_t *consumed, lb_error *err) {
    if (bw < 0 || bw > 32) return lb_err(err, LB_ERR_FORMAT, "BIT_PACKED: bit width %d is not in 0..32", bw);
    if ((size_t)bw && n > (len * 8) / (size_t)bw)
        return lb_err(err, LB_ERR_FORMAT, "BIT_PACKED levels: %zu values of %d bits need more than the %zu bytes left",
                      n, bw, len);
    size_t bit = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t v = 0;
        for (int k = 0; k < bw; k++, bit++) v = v << 1 | ((p[bit >> 3] >> (7 - (bit & 7))) & 1);
        out[i] = v;
    }
    *consumed = (n * (size_t)bw + 7) / 8;
    return LB_OK;
}

lb_status lb_pq_decode_dict_indices(const uint8_t *p, size_t len, size_t n, uint32_t *idx, lb_error *err) {
    if (n == 0) return LB_OK;
    if (len < 1) return lb_err(err, LB_ERR_FORMAT, "dictionary indices: missing bit-width byte");
    return lb_pq_decode_hybrid(p + 1, len - 1, p[0], n, idx, err);
}

lb_status lb_pq_decode_rle_bool(const uint8_t *p, size_t len, size_t n, lb_value *out, uint32_t *scratch,
                                lb_error *err) {
    if (n == 0) return LB_OK;
    if (len < 4) return lb_err(err, LB_ERR_FORMAT, "RLE BOOLEAN: missing 4-byte length prefix");
    uint32_t l = le32(p);
    if (l > len - 4)
        return lb_err(err, LB_ERR_FORMAT, "RLE BOOLEAN: length prefix %u exceeds the %zu bytes left", l, len - 4);
    lb_status st = lb_pq_decode_hybrid(p + 4, l, 1, n, scratch, err);
    if (st) return st;
    for (size_t i = 0; i < n; i++) out[i] = (lb_value){.type = LB_VAL_BOOL, .i = scratch[i]};
    return LB_OK;
}

/* ---- delta encodings ---- */

#define DELTA_MAX_BLOCK (1u << 24)

lb_status lb_pq_decode_delta_binary(const uint8_t *p, size_t len, size_t n, int64_t *out, size_t *consumed,
                                    lb_error *err) {
    const uint8_t *q = p, *end = p + len;
    uint64_t block = 0, nmb = 0, total = 0, first = 0;
    lb_status st;
    const char *w = "DELTA_BINARY_PACKED header";
    if ((st = read_uleb(&q, end, &block, w, err)) || (st = read_uleb(&q, end, &nmb, w, err)) ||
        (st = read_uleb(&q, end, &total, w, err)) || (st = read_uleb(&q, end, &first, w, err)))
        return st;
    if (block == 0 || block > DELTA_MAX_BLOCK || nmb == 0 || block % nmb || (block / nmb) % 8)
        return lb_err(err, LB_ERR_FORMAT, "DELTA_BINARY_PACKED: bad block layout (block size %llu, %llu miniblocks)",
                      (unsigned long long)block, (unsigned long long)nmb);
    if (total != n)
        return lb_err(err, LB_ERR_FORMAT, "DELTA_BINARY_PACKED: header holds %llu values, page expects %zu",
                      (unsigned long long)total, n);
    size_t vpm = (size_t)(block / nmb);
    if (n > 0) out[0] = (int64_t)((first >> 1) ^ -(first & 1));
    size_t i = 1;
    while (i < n) {
        uint64_t zz = 0;
        if ((st = read_uleb(&q, end, &zz, "DELTA_BINARY_PACKED block min delta", err))) return st;
        uint64_t min_delta = (zz >> 1) ^ -(zz & 1);
        if (nmb > (uint64_t)(end - q))
            return lb_err(err, LB_ERR_FORMAT,
                          "DELTA_BINARY_PACKED: miniblock bit widths truncated after %zu of %zu values", i, n);
        const uint8_t *widths = q;
        q += nmb;
        for (size_t mb = 0; mb < nmb && i < n; mb++) {
            int bw = widths[mb];
            if (bw > 64)
                return lb_err(err, LB_ERR_FORMAT, "DELTA_BINARY_PACKED: miniblock bit width %d exceeds 64", bw);
            size_t avail = (size_t)(end - q);
            size_t full = vpm / 8 * (size_t)bw;
            size_t need = vpm < n - i ? vpm : n - i;
            if ((need * (size_t)bw + 7) / 8 > avail)
                return lb_err(err, LB_ERR_FORMAT, "DELTA_BINARY_PACKED: miniblock truncated after %zu of %zu values", i,
                              n);
            uint64_t prev = (uint64_t)out[i - 1];
            for (size_t k = 0; k < need; k++) {
                uint64_t d = bw ? get_bits(q, avail, k * (size_t)bw, bw) : 0;
                prev += min_delta + d; /* wrapping, as the format specifies */
                out[i + k] = (int64_t)prev;
            }
            q += full < avail ? full : avail;
            i += need;
        }
    }
    if (consumed) *consumed = (size_t)(q - p);
    return LB_OK;
}

lb_status lb_pq_decode_delta_ints(const lb_pq_valtype *vt, const uint8_t *p, size_t len, size_t n, lb_value *out,
                                  lb_error *err) {
    if (vt->type != LB_PQ_INT32 && vt->type != LB_PQ_INT64)
        return lb_err(err, LB_ERR_FORMAT, "DELTA_BINARY_PACKED is not valid for %s", lb_pq_type_name(vt->type));
    if (n == 0) return LB_OK;
    int64_t *tmp = malloc(n * sizeof *tmp);
    if (!tmp) return lb_err(err, LB_ERR_NOMEM, "out of memory decoding %zu values", n);
    lb_status st = lb_pq_decode_delta_binary(p, len, n, tmp, NULL, err);
    for (size_t i = 0; !st && i < n; i++) {
        out[i] = (lb_value){.type = LB_VAL_INT, .i = tmp[i]};
        if (vt->type == LB_PQ_INT32) set_int32(vt, (uint32_t)tmp[i], &out[i]);
    }
    free(tmp);
    return st;
}

/* Lengths (DELTA_BINARY_PACKED) followed by the concatenated bytes. */
static lb_status delta_lengths(const uint8_t *p, size_t len, size_t n, int64_t **lens, size_t *consumed,
                               lb_error *err) {
    *lens = malloc((n ? n : 1) * sizeof **lens);
    if (!*lens) return lb_err(err, LB_ERR_NOMEM, "out of memory decoding %zu lengths", n);
    lb_status st = lb_pq_decode_delta_binary(p, len, n, *lens, consumed, err);
    for (size_t i = 0; !st && i < n; i++)
        if ((*lens)[i] < 0)
            st = lb_err(err, LB_ERR_FORMAT, "negative length %lld for value %zu", (long long)(*lens)[i], i);
    if (st) {
        free(*lens);
        *lens = NULL;
    }
    return st;
}

lb_status lb_pq_decode_delta_length(const uint8_t *p, size_t len, size_t n, lb_value *out, lb_error *err) {
    if (n == 0) return LB_OK;
    int64_t *lens;
    size_t used;
    lb_status st = delta_lengths(p, len, n, &lens, &used, err);
    if (st) return lb_err_prefix(err, "DELTA_LENGTH_BYTE_ARRAY lengths");
    for (size_t i = 0; i < n; i++) {
        if ((uint64_t)lens[i] > len - used) {
            st = lb_err(err, LB_ERR_FORMAT,
                        "DELTA_LENGTH_BYTE_ARRAY: value %zu of %zu has length %lld, only %zu bytes left", i, n,
                        (long long)lens[i], len - used);
            break;
        }
        out[i] = (lb_value){.type = LB_VAL_STR, .s = page_view(p + used), .slen = (size_t)lens[i]};
        used += (size_t)lens[i];
    }
    free(lens);
    return st;
}

lb_status lb_pq_decode_delta_byte_array(const uint8_t *p, size_t len, size_t n, lb_value *out, uint8_t **arena,
                                        size_t max_bytes, lb_error *err) {
    *arena = NULL;
    if (n == 0) return LB_OK;
    int64_t *pre = NULL, *suf = NULL;
    size_t c1, c2;
    lb_status st = delta_lengths(p, len, n, &pre, &c1, err);
    if (st) return lb_err_prefix(err, "DELTA_BYTE_ARRAY prefix lengths");
    st = delta_lengths(p + c1, len - c1, n, &suf, &c2, err);
    if (st) {
        free(pre);
        return lb_err_prefix(err, "DELTA_BYTE_ARRAY suffix lengths");
    }
    const uint8_t *data = p + c1 + c2;
    size_t avail = len - c1 - c2, total = 0, sufsum = 0, prev = 0;
    /* First pass: validate and size, so hostile prefixes cannot make us copy unboundedly. */
    for (size_t i = 0; i < n; i++) {
        if ((uint64_t)pre[i] > prev) {
            st = lb_err(err, LB_ERR_FORMAT, "DELTA_BYTE_ARRAY: value %zu has prefix length %lld > previous length %zu",
                        i, (long long)pre[i], prev);
            break;
        }
        if ((uint64_t)suf[i] > avail - sufsum) {
            st = lb_err(err, LB_ERR_FORMAT, "DELTA_BYTE_ARRAY: value %zu suffix length %lld exceeds the %zu bytes left",
                        i, (long long)suf[i], avail - sufsum);
            break;
        }
        sufsum += (size_t)suf[i];
        prev = (size_t)pre[i] + (size_t)suf[i];
        if (prev > max_bytes - total) {
            st = lb_err(err, LB_ERR_UNSUPPORTED, "DELTA_BYTE_ARRAY: page expands to more than %zu bytes", max_bytes);
            break;
        }
        total += prev;
    }
    if (!st && !(*arena = malloc(total ? total : 1)))
        st = lb_err(err, LB_ERR_NOMEM, "out of memory expanding a DELTA_BYTE_ARRAY page (%zu bytes)", total);
    if (!st) {
        size_t off = 0, soff = 0;
        for (size_t i = 0; i < n; i++) {
            uint8_t *dst = *arena + off;
            if (pre[i]) memcpy(dst, out[i - 1].s, (size_t)pre[i]);
            if (suf[i]) memcpy(dst + pre[i], data + soff, (size_t)suf[i]);
            soff += (size_t)suf[i];
            out[i] = (lb_value){.type = LB_VAL_STR, .s = (char *)dst, .slen = (size_t)(pre[i] + suf[i])};
            off += out[i].slen;
        }
    }
    free(pre);
    free(suf);
    if (st) {
        free(*arena);
        *arena = NULL;
    }
    return st;
}

lb_status lb_pq_decode_byte_stream_split(const lb_pq_valtype *vt, const uint8_t *p, size_t len, size_t n, lb_value *out,
                                         uint8_t **scratch, lb_error *err) {
    *scratch = NULL;
    size_t w = lb_pq_fixed_width(vt);
    if (!w || vt->type == LB_PQ_INT96)
        return lb_err(err, LB_ERR_FORMAT, "BYTE_STREAM_SPLIT is not valid for %s", lb_pq_type_name(vt->type));
    if (n == 0) return LB_OK;
    if (n > len / w || len != n * w)
        return lb_err(err, LB_ERR_FORMAT, "BYTE_STREAM_SPLIT: %zu values of %zu bytes, but the page holds %zu bytes", n,
                      w, len);
    uint8_t *buf = malloc(len);
    if (!buf) return lb_err(err, LB_ERR_NOMEM, "out of memory decoding BYTE_STREAM_SPLIT (%zu bytes)", len);
    for (size_t j = 0; j < w; j++) {
        const uint8_t *stream = p + j * n;
        for (size_t i = 0; i < n; i++) buf[i * w + j] = stream[i];
    }
    lb_status st = lb_pq_decode_plain(vt, buf, len, n, out, NULL, err);
    if (st) {
        free(buf);
        return st;
    }
    *scratch = buf;
    return LB_OK;
}
