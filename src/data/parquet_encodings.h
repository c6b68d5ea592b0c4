/* Parquet value and level encodings.
 *
 * Owns: decoding one page's encoded bytes into lb_values or integer levels: PLAIN,
 * RLE/bit-packed hybrid (levels, dictionary indices, RLE booleans), BIT_PACKED (legacy levels),
 * DELTA_BINARY_PACKED, DELTA_LENGTH_BYTE_ARRAY, DELTA_BYTE_ARRAY, BYTE_STREAM_SPLIT.
 * Every length and count is checked against the buffer; errors say what ran out or was bad
 * (the caller prefixes file/column/page). String values are *borrowed*: lb_value.s points into
 * the page buffer (or a scratch buffer the caller frees), is not NUL-terminated, and must be
 * copied before the buffer goes away. Internal to src/data. */
#ifndef LB_DATA_PARQUET_ENCODINGS_H
#define LB_DATA_PARQUET_ENCODINGS_H
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include "data/table.h"

/* How one column's physical values become lb_values. */
typedef struct lb_pq_valtype {
    int32_t type;        /* LB_PQ_BOOLEAN ... LB_PQ_FLBA */
    int32_t type_length; /* FIXED_LEN_BYTE_ARRAY width */
    bool is_unsigned;    /* INT32/INT64 annotated UINT_*: INT32 is zero-extended */
} lb_pq_valtype;

/* Byte width of a fixed-width physical type (0 for BOOLEAN and BYTE_ARRAY). */
size_t lb_pq_fixed_width(const lb_pq_valtype *vt);

/* PLAIN: decodes n values from p[0..len) into out[n]; *consumed = bytes used (may be NULL). */
lb_status lb_pq_decode_plain(const lb_pq_valtype *vt, const uint8_t *p, size_t len, size_t n, lb_value *out,
                             size_t *consumed, lb_error *err);

/* RLE/bit-packed hybrid without length prefix: n values of bit_width (0..32) into out[n]. */
lb_status lb_pq_decode_hybrid(const uint8_t *p, size_t len, int bit_width, size_t n, uint32_t *out, lb_error *err);
/* Legacy BIT_PACKED levels (MSB-first, ceil(n*bw/8) bytes); *consumed gets that size. */
lb_status lb_pq_decode_bit_packed_levels(const uint8_t *p, size_t len, int bit_width, size_t n, uint32_t *out,
                                         size_t *consumed, lb_error *err);
/* Dictionary indices (bit-width byte, then hybrid): n indices into idx[n]. */
lb_status lb_pq_decode_dict_indices(const uint8_t *p, size_t len, size_t n, uint32_t *idx, lb_error *err);
/* RLE-encoded BOOLEAN values (4-byte length prefix, then hybrid with width 1). */
lb_status lb_pq_decode_rle_bool(const uint8_t *p, size_t len, size_t n, lb_value *out, uint32_t *scratch,
                                lb_error *err);

/* DELTA_BINARY_PACKED: exactly n values (the header's count must be n) into out[n], as
 * wrapping 64-bit sums; *consumed = bytes used (may be NULL). */
lb_status lb_pq_decode_delta_binary(const uint8_t *p, size_t len, size_t n, int64_t *out, size_t *consumed,
                                    lb_error *err);
/* DELTA_BINARY_PACKED into INT32/INT64 lb_values. */
lb_status lb_pq_decode_delta_ints(const lb_pq_valtype *vt, const uint8_t *p, size_t len, size_t n, lb_value *out,
                                  lb_error *err);
/* DELTA_LENGTH_BYTE_ARRAY: n borrowed strings. */
lb_status lb_pq_decode_delta_length(const uint8_t *p, size_t len, size_t n, lb_value *out, lb_error *err);
/* DELTA_BYTE_ARRAY: n strings built in *arena (malloc'd here, caller frees; at most
 * max_bytes bytes in total, beyond which it is refused). */
lb_status lb_pq_decode_delta_byte_array(const uint8_t *p, size_t len, size_t n, lb_value *out, uint8_t **arena,
                                        size_t max_bytes, lb_error *err);
/* BYTE_STREAM_SPLIT for fixed-width types: n values; *scratch (malloc'd here, caller frees)
 * holds the reassembled bytes that FLBA strings borrow. */
lb_status lb_pq_decode_byte_stream_split(const lb_pq_valtype *vt, const uint8_t *p, size_t len, size_t n, lb_value *out,
                                         uint8_t **scratch, lb_error *err);
#endif
