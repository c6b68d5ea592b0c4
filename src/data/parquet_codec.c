/* Parquet page decompression: see parquet_codec.h. */
#include "data/parquet_codec.h"
#include <limits.h>
#include <string.h>
#include <lz4.h>
#include <snappy-c.h>
#define ZLIB_CONST
#include <zlib.h>
#include <zstd.h>
#include "data/parquet_meta.h"

bool lb_pq_codec_supported(int32_t codec) {
    return codec == LB_PQ_UNCOMPRESSED || codec == LB_PQ_SNAPPY || codec == LB_PQ_GZIP || codec == LB_PQ_ZSTD ||
           codec == LB_PQ_LZ4_RAW;
}

/* GZIP pages may hold several concatenated gzip members (and zlib streams are accepted too). */
static lb_status gunzip(const uint8_t *src, size_t src_len, uint8_t *dst, size_t dst_len, lb_error *err) {
    if (src_len > UINT_MAX || dst_len > UINT_MAX)
        return lb_err(err, LB_ERR_UNSUPPORTED, "GZIP: page larger than 4 GiB");
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 15 + 32) != Z_OK) return lb_err(err, LB_ERR_NOMEM, "GZIP: inflateInit failed");
    z.next_in = src;
    z.avail_in = (uInt)src_len;
    z.next_out = dst;
    z.avail_out = (uInt)dst_len;
    lb_status st = LB_OK;
    /* Once dst is full, output goes to a 1-byte probe that must stay empty: that detects a page
     * inflating to more than declared while still consuming end markers and trailers. */
    uint8_t probe;
    bool probing = false;
    for (;;) {
        int r = inflate(&z, Z_FINISH);
        if (probing && z.avail_out == 0) {
            st = lb_err(err, LB_ERR_FORMAT, "GZIP: page inflates to more than the declared %zu bytes", dst_len);
            break;
        }
        if (!probing && z.avail_out == 0 && r != Z_STREAM_END && (r == Z_OK || r == Z_BUF_ERROR)) {
            probing = true;
            z.next_out = &probe;
            z.avail_out = 1;
            continue;
        }
        if (r == Z_OK) continue;
        if (r == Z_STREAM_END) {
            /* Another member follows? (trailing zero padding is tolerated) */
            bool more = false;
            for (size_t i = 0; i < z.avail_in; i++)
                if (z.next_in[i]) {
                    more = true;
                    break;
                }
            if (!more) break;
            if (inflateReset(&z) != Z_OK) {
                st = lb_err(err, LB_ERR_FORMAT, "GZIP: inflateReset failed");
                break;
            }
            if (!probing && z.avail_out == 0) {
                probing = true;
                z.next_out = &probe;
                z.avail_out = 1;
            }
            continue;
        }
        st = lb_err(err, LB_ERR_FORMAT, "GZIP: corrupt data (%s) after %zu of %zu input bytes",
                    z.msg ? z.msg : "truncated stream", src_len - z.avail_in, src_len);
        break;
    }
    size_t got = probing ? dst_len : dst_len - z.avail_out;
    inflateEnd(&z);
    if (!st && got != dst_len)
        st = lb_err(err, LB_ERR_FORMAT, "GZIP: page inflates to %zu bytes, header declares %zu", got, dst_len);
    return st;
}

lb_status lb_pq_check_expansion(int32_t codec, const uint8_t *src, size_t src_len, size_t dst_len, lb_error *err) {
    size_t n;
    switch (codec) {
    case LB_PQ_SNAPPY:
        if (snappy_uncompressed_length((const char *)src, src_len, &n) != SNAPPY_OK)
            return lb_err(err, LB_ERR_FORMAT, "SNAPPY: corrupt length header");
        if (n != dst_len)
            return lb_err(err, LB_ERR_FORMAT, "SNAPPY: page expands to %zu bytes, header declares %zu", n, dst_len);
        return LB_OK;
    case LB_PQ_ZSTD: {
        /* The first frame's stated size (more frames may follow, so only "too big" is certain). */
        unsigned long long z = ZSTD_getFrameContentSize(src, src_len);
        if (z == ZSTD_CONTENTSIZE_ERROR) return lb_err(err, LB_ERR_FORMAT, "ZSTD: corrupt frame header");
        if (z != ZSTD_CONTENTSIZE_UNKNOWN && z > dst_len)
            return lb_err(err, LB_ERR_FORMAT, "ZSTD: page expands to at least %llu bytes, header declares %zu", z,
                          dst_len);
        return LB_OK;
    }
    /* deflate expands at most ~1032:1 per member, LZ4 at most ~255:1 */
    case LB_PQ_GZIP: n = 1032; break;
    case LB_PQ_LZ4_RAW: n = 256; break;
    default: return LB_OK;
    }
    if (dst_len / n > src_len + 64)
        return lb_err(err, LB_ERR_FORMAT, "%s: %zu compressed bytes cannot expand to the declared %zu",
                      lb_pq_codec_name(codec), src_len, dst_len);
    return LB_OK;
}

lb_status lb_pq_decompress(int32_t codec, const uint8_t *src, size_t src_len, uint8_t *dst, size_t dst_len,
                           lb_error *err) {
    switch (codec) {
    case LB_PQ_UNCOMPRESSED:
        if (src_len != dst_len)
            return lb_err(err, LB_ERR_FORMAT, "uncompressed page: %zu stored bytes, header declares %zu", src_len,
                          dst_len);
        memcpy(dst, src, dst_len);
        return LB_OK;
    case LB_PQ_SNAPPY: {
        size_t n;
        if (snappy_uncompressed_length((const char *)src, src_len, &n) != SNAPPY_OK)
            return lb_err(err, LB_ERR_FORMAT, "SNAPPY: corrupt length header");
        if (n != dst_len)
            return lb_err(err, LB_ERR_FORMAT, "SNAPPY: page expands to %zu bytes, header declares %zu", n, dst_len);
        size_t out = dst_len;
        if (snappy_uncompress((const char *)src, src_len, (char *)dst, &out) != SNAPPY_OK || out != dst_len)
            return lb_err(err, LB_ERR_FORMAT, "SNAPPY: corrupt compressed data");
        return LB_OK;
    }
    case LB_PQ_GZIP: return gunzip(src, src_len, dst, dst_len, err);
    case LB_PQ_ZSTD: {
        /* ZSTD_decompress handles several concatenated frames. */
        size_t r = ZSTD_decompress(dst, dst_len, src, src_len);
        if (ZSTD_isError(r)) return lb_err(err, LB_ERR_FORMAT, "ZSTD: %s", ZSTD_getErrorName(r));
        if (r != dst_len)
            return lb_err(err, LB_ERR_FORMAT, "ZSTD: page expands to %zu bytes, header declares %zu", r, dst_len);
        return LB_OK;
    }
    case LB_PQ_LZ4_RAW: {
        if (src_len > INT_MAX || dst_len > INT_MAX)
            return lb_err(err, LB_ERR_UNSUPPORTED, "LZ4_RAW: page larger than 2 GiB");
        int r = LZ4_decompress_safe((const char *)src, (char *)dst, (int)src_len, (int)dst_len);
        if (r < 0) return lb_err(err, LB_ERR_FORMAT, "LZ4_RAW: corrupt compressed data");
        if ((size_t)r != dst_len)
            return lb_err(err, LB_ERR_FORMAT, "LZ4_RAW: page expands to %d bytes, header declares %zu", r, dst_len);
        return LB_OK;
    }
    default:
        return lb_err(err, LB_ERR_UNSUPPORTED,
                      "codec %s is not supported (supported: UNCOMPRESSED, SNAPPY, GZIP, ZSTD, LZ4_RAW)",
                      lb_pq_codec_name(codec));
    }
}
