/* Parquet page decompression.
 *
 * Owns: mapping a CompressionCodec to its library (snappy, zlib, zstd, lz4) and checking that
 * a page decompresses to exactly its declared size. Internal to src/data. */
#ifndef LB_DATA_PARQUET_CODEC_H
#define LB_DATA_PARQUET_CODEC_H
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include "base/error.h"

/* True for codecs this reader can decode (UNCOMPRESSED, SNAPPY, GZIP, ZSTD, LZ4_RAW). */
bool lb_pq_codec_supported(int32_t codec);

/* Cheap check, before allocating dst_len bytes, that src can plausibly expand to dst_len
 * (snappy and zstd headers state the size; gzip and lz4 have bounded ratios). Stops a
 * hostile header from making the reader allocate gigabytes for a few input bytes. */
lb_status lb_pq_check_expansion(int32_t codec, const uint8_t *src, size_t src_len, size_t dst_len, lb_error *err);

/* Decompresses src[0..src_len) into exactly dst_len bytes at dst. Errors (LB_ERR_FORMAT) name
 * the codec and what went wrong; an unsupported codec gives LB_ERR_UNSUPPORTED. */
lb_status lb_pq_decompress(int32_t codec, const uint8_t *src, size_t src_len, uint8_t *dst, size_t dst_len,
                           lb_error *err);
#endif
