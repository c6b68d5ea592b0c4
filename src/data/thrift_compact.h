/* Thrift compact protocol reader (the encoding of Parquet's footer and page headers).
 *
 * Owns: bounds-checked decoding of varints, field headers, strings, lists and skipping of
 * unknown values with a nesting-depth limit. It knows nothing about Parquet's structs; the
 * Parquet metadata module pulls fields one by one and skips what it does not know.
 * Every failure names the byte offset (relative to `base`, e.g. the file start). */
#ifndef LB_DATA_THRIFT_COMPACT_H
#define LB_DATA_THRIFT_COMPACT_H
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include "base/error.h"

/* Compact-protocol type codes (the low nibble of a field header). */
enum {
    LB_TC_STOP = 0,
    LB_TC_TRUE = 1,
    LB_TC_FALSE = 2,
    LB_TC_BYTE = 3,
    LB_TC_I16 = 4,
    LB_TC_I32 = 5,
    LB_TC_I64 = 6,
    LB_TC_DOUBLE = 7,
    LB_TC_BINARY = 8,
    LB_TC_LIST = 9,
    LB_TC_SET = 10,
    LB_TC_MAP = 11,
    LB_TC_STRUCT = 12
};

#define LB_THRIFT_MAX_DEPTH 64

typedef struct lb_thrift {
    const uint8_t *p, *end; /* read cursor and end of the readable region */
    const uint8_t *base;    /* offsets in messages are p - base + base_off */
    size_t base_off;
    int depth; /* current struct/container nesting */
    lb_error *err;
} lb_thrift;

/* Reader over [p, p+len); `file_off` is the file offset of p (used in error messages). */
void lb_thrift_init(lb_thrift *t, const uint8_t *p, size_t len, size_t file_off, lb_error *err);
/* File offset of the cursor. */
size_t lb_thrift_offset(const lb_thrift *t);

/* Struct traversal: call struct_begin, then next_field until it sets *type = LB_TC_STOP,
 * then struct_end. `last_id` is the per-struct running field id (start it at 0). */
lb_status lb_thrift_struct_begin(lb_thrift *t);
lb_status lb_thrift_next_field(lb_thrift *t, int16_t *last_id, int16_t *id, uint8_t *type);
void lb_thrift_struct_end(lb_thrift *t);

/* Value readers for a field of wire type `type`. A type that does not match the expected
 * kind is reported as LB_ERR_FORMAT (callers check types before reading). */
lb_status lb_thrift_read_i64(lb_thrift *t, uint8_t type, int64_t *v);
lb_status lb_thrift_read_i32(lb_thrift *t, uint8_t type, int32_t *v);
/* Field booleans live in the type nibble; list elements are one byte each. */
lb_status lb_thrift_read_bool(lb_thrift *t, uint8_t type, bool in_list, bool *v);
/* Binary/string: *s points into the buffer (not NUL-terminated). */
lb_status lb_thrift_read_binary(lb_thrift *t, const uint8_t **s, size_t *len);
/* List/set header. *count is validated against the bytes left (every element takes at least
 * one byte), so callers may allocate count elements safely. Increments depth; call
 * lb_thrift_list_end after the elements. */
lb_status lb_thrift_list_begin(lb_thrift *t, uint8_t *elem_type, size_t *count);
void lb_thrift_list_end(lb_thrift *t);
/* Skips one value of wire type `type` (recursing into containers, depth-limited). */
lb_status lb_thrift_skip(lb_thrift *t, uint8_t type);

/* True when wire type `type` can be read as an integer / as a bool field. */
static inline bool lb_thrift_is_int(uint8_t type) {
    return type == LB_TC_BYTE || type == LB_TC_I16 || type == LB_TC_I32 || type == LB_TC_I64;
}
static inline bool lb_thrift_is_bool(uint8_t type) { return type == LB_TC_TRUE || type == LB_TC_FALSE; }

#endif
