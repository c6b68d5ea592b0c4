/* Thrift compact protocol reader: see thrift_compact.h. */
#include "data/thrift_compact.h"

void lb_thrift_init(lb_thrift *t, const uint8_t *p, size_t len, size_t file_off, lb_error *err) {
    t->p = p;
    t->end = p + len;
    t->base = p;
    t->base_off = file_off;
    t->depth = 0;
    t->err = err;
}

size_t lb_thrift_offset(const lb_thrift *t) { return (size_t)(t->p - t->base) + t->base_off; }

static lb_status truncated(lb_thrift *t, const char *what) {
    return lb_err(t->err, LB_ERR_FORMAT, "thrift: truncated %s at offset %zu", what, lb_thrift_offset(t));
}

static lb_status read_varint(lb_thrift *t, uint64_t *v) {
    uint64_t r = 0;
    *v = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (t->p >= t->end) return truncated(t, "varint");
        uint8_t b = *t->p++;
        if (shift == 63 && (b & 0x7e))
            return lb_err(t->err, LB_ERR_FORMAT, "thrift: varint overflows 64 bits at offset %zu",
                          lb_thrift_offset(t) - 1);
        r |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = r;
            return LB_OK;
        }
    }
    return lb_err(t->err, LB_ERR_FORMAT, "thrift: varint longer than 10 bytes at offset %zu", lb_thrift_offset(t));
}

static int64_t unzigzag(uint64_t v) { return (int64_t)(v >> 1) ^ -(int64_t)(v & 1); }

static lb_status depth_push(lb_thrift *t) {
    if (t->depth >= LB_THRIFT_MAX_DEPTH)
        return lb_err(t->err, LB_ERR_FORMAT, "thrift: nesting deeper than %d at offset %zu", LB_THRIFT_MAX_DEPTH,
                      lb_thrift_offset(t));
    t->depth++;
    return LB_OK;
}

lb_status lb_thrift_struct_begin(lb_thrift *t) { return depth_push(t); }
void lb_thrift_struct_end(lb_thrift *t) { t->depth--; }

lb_status lb_thrift_next_field(lb_thrift *t, int16_t *last_id, int16_t *id, uint8_t *type) {
    if (t->p >= t->end) return truncated(t, "struct (no stop byte)");
    uint8_t b = *t->p++;
    *type = b & 0x0f;
    if (*type == LB_TC_STOP) {
        *id = 0;
        return LB_OK;
    }
    if (*type > LB_TC_STRUCT)
        return lb_err(t->err, LB_ERR_FORMAT, "thrift: unknown field type %u at offset %zu", *type,
                      lb_thrift_offset(t) - 1);
    uint8_t delta = b >> 4;
    if (delta) {
        *id = (int16_t)(*last_id + delta);
    } else {
        uint64_t v = 0;
        lb_status st = read_varint(t, &v);
        if (st) return st;
        int64_t s = unzigzag(v);
        if (s < INT16_MIN || s > INT16_MAX)
            return lb_err(t->err, LB_ERR_FORMAT, "thrift: field id %lld out of range at offset %zu", (long long)s,
                          lb_thrift_offset(t));
        *id = (int16_t)s;
    }
    *last_id = *id;
    return LB_OK;
}

lb_status lb_thrift_read_i64(lb_thrift *t, uint8_t type, int64_t *v) {
    if (type == LB_TC_BYTE) {
        if (t->p >= t->end) return truncated(t, "byte");
        *v = (int8_t)*t->p++;
        return LB_OK;
    }
    if (type != LB_TC_I16 && type != LB_TC_I32 && type != LB_TC_I64)
        return lb_err(t->err, LB_ERR_FORMAT, "thrift: expected an integer, found type %u at offset %zu", type,
                      lb_thrift_offset(t));
    uint64_t u = 0;
    lb_status st = read_varint(t, &u);
    if (st) return st;
    *v = unzigzag(u);
    return LB_OK;
}

lb_status lb_thrift_read_i32(lb_thrift *t, uint8_t type, int32_t *v) {
    size_t off = lb_thrift_offset(t);
    int64_t w;
    lb_status st = lb_thrift_read_i64(t, type, &w);
    if (st) return st;
    if (w < INT32_MIN || w > INT32_MAX)
        return lb_err(t->err, LB_ERR_FORMAT, "thrift: i32 value %lld out of range at offset %zu", (long long)w, off);
    *v = (int32_t)w;
    return LB_OK;
}

lb_status lb_thrift_read_bool(lb_thrift *t, uint8_t type, bool in_list, bool *v) {
    if (in_list) {
        if (t->p >= t->end) return truncated(t, "bool");
        *v = *t->p++ == LB_TC_TRUE;
        return LB_OK;
    }
    if (!lb_thrift_is_bool(type))
        return lb_err(t->err, LB_ERR_FORMAT, "thrift: expected a bool, found type %u at offset %zu", type,
                      lb_thrift_offset(t));
    *v = type == LB_TC_TRUE;
    return LB_OK;
}

lb_status lb_thrift_read_binary(lb_thrift *t, const uint8_t **s, size_t *len) {
    uint64_t n = 0;
    lb_status st = read_varint(t, &n);
    if (st) return st;
    if (n > (uint64_t)(t->end - t->p))
        return lb_err(t->err, LB_ERR_FORMAT, "thrift: string of %llu bytes at offset %zu exceeds the %zu bytes left",
                      (unsigned long long)n, lb_thrift_offset(t), (size_t)(t->end - t->p));
    *s = t->p;
    *len = (size_t)n;
    t->p += n;
    return LB_OK;
}

lb_status lb_thrift_list_begin(lb_thrift *t, uint8_t *elem_type, size_t *count) {
    if (t->p >= t->end) return truncated(t, "list header");
    uint8_t b = *t->p++;
    uint64_t n = b >> 4;
    if (n == 15) {
        lb_status st = read_varint(t, &n);
        if (st) return st;
    }
    *elem_type = b & 0x0f;
    if (*elem_type == LB_TC_STOP || *elem_type > LB_TC_STRUCT)
        return lb_err(t->err, LB_ERR_FORMAT, "thrift: bad list element type %u at offset %zu", *elem_type,
                      lb_thrift_offset(t));
    if (n > (uint64_t)(t->end - t->p))
        return lb_err(t->err, LB_ERR_FORMAT, "thrift: list of %llu elements at offset %zu exceeds the %zu bytes left",
                      (unsigned long long)n, lb_thrift_offset(t), (size_t)(t->end - t->p));
    *count = (size_t)n;
    return depth_push(t);
}

void lb_thrift_list_end(lb_thrift *t) { t->depth--; }

static lb_status skip_bytes(lb_thrift *t, size_t n, const char *what) {
    if (n > (size_t)(t->end - t->p)) return truncated(t, what);
    t->p += n;
    return LB_OK;
}

lb_status lb_thrift_skip(lb_thrift *t, uint8_t type) {
    lb_status st;
    uint64_t u;
    switch (type) {
    case LB_TC_TRUE:
    case LB_TC_FALSE: return LB_OK; /* field bools carry no payload */
    case LB_TC_BYTE: return skip_bytes(t, 1, "byte");
    case LB_TC_I16:
    case LB_TC_I32:
    case LB_TC_I64: return read_varint(t, &u);
    case LB_TC_DOUBLE: return skip_bytes(t, 8, "double");
    case LB_TC_BINARY: {
        const uint8_t *s;
        size_t n;
        return lb_thrift_read_binary(t, &s, &n);
    }
    case LB_TC_LIST:
    case LB_TC_SET: {
        uint8_t et;
        size_t n;
        if ((st = lb_thrift_list_begin(t, &et, &n))) return st;
        for (size_t i = 0; i < n; i++) {
            /* bools inside containers take one byte each */
            st = lb_thrift_is_bool(et) ? skip_bytes(t, 1, "bool") : lb_thrift_skip(t, et);
            if (st) return st;
        }
        lb_thrift_list_end(t);
        return LB_OK;
    }
    case LB_TC_MAP: {
        if ((st = read_varint(t, &u))) return st;
        if (u == 0) return LB_OK;
        if (t->p >= t->end) return truncated(t, "map header");
        uint8_t kv = *t->p++;
        uint8_t kt = kv >> 4, vt = kv & 0x0f;
        if (kt == LB_TC_STOP || kt > LB_TC_STRUCT || vt == LB_TC_STOP || vt > LB_TC_STRUCT)
            return lb_err(t->err, LB_ERR_FORMAT, "thrift: bad map types 0x%02x at offset %zu", kv,
                          lb_thrift_offset(t) - 1);
        if (u > (uint64_t)(t->end - t->p) / 2)
            return lb_err(t->err, LB_ERR_FORMAT, "thrift: map of %llu entries at offset %zu exceeds the bytes left",
                          (unsigned long long)u, lb_thrift_offset(t));
        if ((st = depth_push(t))) return st;
        for (uint64_t i = 0; i < u; i++) {
            st = lb_thrift_is_bool(kt) ? skip_bytes(t, 1, "bool") : lb_thrift_skip(t, kt);
            if (!st) st = lb_thrift_is_bool(vt) ? skip_bytes(t, 1, "bool") : lb_thrift_skip(t, vt);
            if (st) return st;
        }
        t->depth--;
        return LB_OK;
    }
    case LB_TC_STRUCT: {
        if ((st = lb_thrift_struct_begin(t))) return st;
        int16_t last = 0, id;
        uint8_t ft;
        for (;;) {
            if ((st = lb_thrift_next_field(t, &last, &id, &ft))) return st;
            if (ft == LB_TC_STOP) break;
            if ((st = lb_thrift_skip(t, ft))) return st;
        }
        lb_thrift_struct_end(t);
        return LB_OK;
    }
    default:
        return lb_err(t->err, LB_ERR_FORMAT, "thrift: cannot skip unknown type %u at offset %zu", type,
                      lb_thrift_offset(t));
    }
}
