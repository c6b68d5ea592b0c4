/* Parquet footer and page-header decoding: see parquet_meta.h.
 * Field ids follow apache/parquet-format's parquet.thrift. A field whose wire type does not
 * match the expected one is skipped like an unknown field; required fields are checked after. */
#include "data/parquet_meta.h"
#include <stdlib.h>
#include <string.h>
#include "data/thrift_compact.h"

/* Iterates the fields of one struct: `id`/`ty` are set for the body; the body must consume the
 * value or `continue` after skipping. On error, returns from the enclosing function. */
#define FOR_FIELDS(t, id, ty)                                                \
    for (int16_t last_ = 0, id = 0, once_ = 1; once_; once_ = 0)             \
        for (uint8_t ty = 0;;)                                               \
            if ((st = lb_thrift_next_field(t, &last_, &id, &ty))) return st; \
            else if (ty == LB_TC_STOP) break;                                \
            else

static lb_status read_i32_field(lb_thrift *t, uint8_t ty, int32_t *v, bool *ok) {
    if (!lb_thrift_is_int(ty)) return lb_thrift_skip(t, ty);
    lb_status st = lb_thrift_read_i32(t, ty, v);
    if (!st && ok) *ok = true;
    return st;
}

static lb_status read_i64_field(lb_thrift *t, uint8_t ty, int64_t *v, bool *ok) {
    if (!lb_thrift_is_int(ty)) return lb_thrift_skip(t, ty);
    lb_status st = lb_thrift_read_i64(t, ty, v);
    if (!st && ok) *ok = true;
    return st;
}

/* IntType { 1: i8 bitWidth, 2: bool isSigned } */
static lb_status parse_int_type(lb_thrift *t, bool *is_unsigned) {
    lb_status st;
    if ((st = lb_thrift_struct_begin(t))) return st;
    FOR_FIELDS(t, id, ty) {
        if (id == 2 && lb_thrift_is_bool(ty)) {
            bool s;
            if ((st = lb_thrift_read_bool(t, ty, false, &s))) return st;
            *is_unsigned = !s;
        } else if ((st = lb_thrift_skip(t, ty))) return st;
    }
    lb_thrift_struct_end(t);
    return LB_OK;
}

/* LogicalType union: 1 STRING, 10 INTEGER (others skipped). */
static lb_status parse_logical_type(lb_thrift *t, lb_pq_schema_el *e) {
    lb_status st;
    if ((st = lb_thrift_struct_begin(t))) return st;
    FOR_FIELDS(t, id, ty) {
        if (id == 1 && ty == LB_TC_STRUCT) {
            e->logical_string = true;
            if ((st = lb_thrift_skip(t, ty))) return st;
        } else if (id == 10 && ty == LB_TC_STRUCT) {
            if ((st = parse_int_type(t, &e->logical_unsigned))) return st;
        } else if ((st = lb_thrift_skip(t, ty))) return st;
    }
    lb_thrift_struct_end(t);
    return LB_OK;
}

static lb_status parse_schema_el(lb_thrift *t, lb_pq_schema_el *e) {
    lb_status st;
    *e = (lb_pq_schema_el){.type = -1, .repetition = -1, .converted_type = -1};
    bool has_name = false;
    size_t off = lb_thrift_offset(t);
    if ((st = lb_thrift_struct_begin(t))) return st;
    FOR_FIELDS(t, id, ty) {
        switch (id) {
        case 1: st = read_i32_field(t, ty, &e->type, NULL); break;
        case 2: st = read_i32_field(t, ty, &e->type_length, NULL); break;
        case 3: st = read_i32_field(t, ty, &e->repetition, NULL); break;
        case 4:
            if (ty == LB_TC_BINARY) {
                st = lb_thrift_read_binary(t, &e->name, &e->name_len);
                has_name = !st;
            } else st = lb_thrift_skip(t, ty);
            break;
        case 5: st = read_i32_field(t, ty, &e->num_children, NULL); break;
        case 6: st = read_i32_field(t, ty, &e->converted_type, NULL); break;
        case 10: st = ty == LB_TC_STRUCT ? parse_logical_type(t, e) : lb_thrift_skip(t, ty); break;
        default: st = lb_thrift_skip(t, ty);
        }
        if (st) return st;
    }
    lb_thrift_struct_end(t);
    if (!has_name) return lb_err(t->err, LB_ERR_FORMAT, "SchemaElement at offset %zu has no name", off);
    return LB_OK;
}

static lb_status parse_column_meta(lb_thrift *t, lb_pq_column_meta *c) {
    lb_status st;
    bool has_type = false, has_codec = false, has_nv = false, has_dpo = false, has_tcs = false;
    size_t off = lb_thrift_offset(t);
    if ((st = lb_thrift_struct_begin(t))) return st;
    FOR_FIELDS(t, id, ty) {
        switch (id) {
        case 1: st = read_i32_field(t, ty, &c->type, &has_type); break;
        case 3:
            if (ty == LB_TC_LIST) {
                uint8_t et;
                size_t n;
                if ((st = lb_thrift_list_begin(t, &et, &n))) return st;
                for (size_t i = 0; i < n && !st; i++) {
                    if (et != LB_TC_BINARY) {
                        bool b; /* container bools take a byte each */
                        st = lb_thrift_is_bool(et) ? lb_thrift_read_bool(t, et, true, &b) : lb_thrift_skip(t, et);
                        continue;
                    }
                    const uint8_t *s;
                    size_t len;
                    st = lb_thrift_read_binary(t, &s, &len);
                    if (!st && i == 0) {
                        c->path0 = s;
                        c->path0_len = len;
                    }
                }
                if (!st) c->path_len = et == LB_TC_BINARY ? n : 0;
                lb_thrift_list_end(t);
            } else st = lb_thrift_skip(t, ty);
            break;
        case 4: st = read_i32_field(t, ty, &c->codec, &has_codec); break;
        case 5: st = read_i64_field(t, ty, &c->num_values, &has_nv); break;
        case 7: st = read_i64_field(t, ty, &c->total_compressed_size, &has_tcs); break;
        case 9: st = read_i64_field(t, ty, &c->data_page_offset, &has_dpo); break;
        case 11: st = read_i64_field(t, ty, &c->dictionary_page_offset, NULL); break;
        default: st = lb_thrift_skip(t, ty);
        }
        if (st) return st;
    }
    lb_thrift_struct_end(t);
    if (!has_type || !has_codec || !has_nv || !has_dpo || !has_tcs)
        return lb_err(t->err, LB_ERR_FORMAT,
                      "ColumnMetaData at offset %zu lacks a required field (type, codec, num_values, "
                      "total_compressed_size or data_page_offset)",
                      off);
    return LB_OK;
}

static lb_status parse_column_chunk(lb_thrift *t, lb_pq_column_meta *c) {
    lb_status st;
    bool has_meta = false;
    size_t off = lb_thrift_offset(t);
    *c = (lb_pq_column_meta){.dictionary_page_offset = -1};
    if ((st = lb_thrift_struct_begin(t))) return st;
    size_t ext_len = 0;
    FOR_FIELDS(t, id, ty) {
        if (id == 3 && ty == LB_TC_STRUCT && !has_meta) {
            if ((st = parse_column_meta(t, c))) return st;
            has_meta = true;
        } else if (id == 1 && ty == LB_TC_BINARY) {
            const uint8_t *s;
            if ((st = lb_thrift_read_binary(t, &s, &ext_len))) return st;
        } else if ((st = lb_thrift_skip(t, ty))) return st;
    }
    lb_thrift_struct_end(t);
    /* file_path: the chunk lives in another file (summary/_metadata files). */
    if (ext_len)
        return lb_err(t->err, LB_ERR_UNSUPPORTED, "ColumnChunk at offset %zu is stored in an external file", off);
    if (!has_meta)
        return lb_err(t->err, LB_ERR_UNSUPPORTED,
                      "ColumnChunk at offset %zu has no inline meta_data (encrypted or external column chunk)", off);
    return LB_OK;
}

static lb_status parse_row_group(lb_thrift *t, lb_pq_row_group *rg) {
    lb_status st;
    bool has_cols = false, has_rows = false;
    size_t off = lb_thrift_offset(t);
    if ((st = lb_thrift_struct_begin(t))) return st;
    FOR_FIELDS(t, id, ty) {
        if (id == 1 && ty == LB_TC_LIST && !has_cols) {
            uint8_t et;
            size_t n;
            if ((st = lb_thrift_list_begin(t, &et, &n))) return st;
            if (et != LB_TC_STRUCT)
                return lb_err(t->err, LB_ERR_FORMAT,
                              "RowGroup.columns at offset %zu: expected a list of structs, found type %u",
                              lb_thrift_offset(t), et);
            rg->columns = calloc(n ? n : 1, sizeof *rg->columns);
            if (!rg->columns) return lb_err(t->err, LB_ERR_NOMEM, "out of memory reading row group metadata");
            rg->ncolumns = n;
            for (size_t i = 0; i < n; i++)
                if ((st = parse_column_chunk(t, &rg->columns[i]))) return st;
            lb_thrift_list_end(t);
            has_cols = true;
        } else if (id == 3) {
            if ((st = read_i64_field(t, ty, &rg->num_rows, &has_rows))) return st;
        } else if ((st = lb_thrift_skip(t, ty))) return st;
    }
    lb_thrift_struct_end(t);
    if (!has_cols || !has_rows)
        return lb_err(t->err, LB_ERR_FORMAT, "RowGroup at offset %zu lacks columns or num_rows", off);
    if (rg->num_rows < 0)
        return lb_err(t->err, LB_ERR_FORMAT, "RowGroup at offset %zu has negative num_rows %lld", off,
                      (long long)rg->num_rows);
    return LB_OK;
}

static lb_status parse_file_meta(lb_thrift *t, lb_pq_file_meta *m) {
    lb_status st;
    bool has_schema = false, has_rows = false, has_rgs = false;
    if ((st = lb_thrift_struct_begin(t))) return st;
    FOR_FIELDS(t, id, ty) {
        if (id == 2 && ty == LB_TC_LIST && !has_schema) {
            uint8_t et;
            size_t n;
            if ((st = lb_thrift_list_begin(t, &et, &n))) return st;
            if (et != LB_TC_STRUCT)
                return lb_err(t->err, LB_ERR_FORMAT, "FileMetaData.schema: expected a list of structs, found type %u",
                              et);
            m->schema = calloc(n ? n : 1, sizeof *m->schema);
            if (!m->schema) return lb_err(t->err, LB_ERR_NOMEM, "out of memory reading the schema");
            m->nschema = n;
            for (size_t i = 0; i < n; i++)
                if ((st = parse_schema_el(t, &m->schema[i]))) return st;
            lb_thrift_list_end(t);
            has_schema = true;
        } else if (id == 3) {
            if ((st = read_i64_field(t, ty, &m->num_rows, &has_rows))) return st;
        } else if (id == 4 && ty == LB_TC_LIST && !has_rgs) {
            uint8_t et;
            size_t n;
            if ((st = lb_thrift_list_begin(t, &et, &n))) return st;
            if (et != LB_TC_STRUCT)
                return lb_err(t->err, LB_ERR_FORMAT,
                              "FileMetaData.row_groups: expected a list of structs, found type %u", et);
            m->row_groups = calloc(n ? n : 1, sizeof *m->row_groups);
            if (!m->row_groups) return lb_err(t->err, LB_ERR_NOMEM, "out of memory reading row groups");
            m->nrow_groups = n;
            for (size_t i = 0; i < n; i++)
                if ((st = parse_row_group(t, &m->row_groups[i]))) return st;
            lb_thrift_list_end(t);
            has_rgs = true;
        } else if ((st = lb_thrift_skip(t, ty))) return st;
    }
    lb_thrift_struct_end(t);
    if (!has_schema || !has_rows || !has_rgs)
        return lb_err(t->err, LB_ERR_FORMAT, "FileMetaData lacks %s",
                      !has_schema ? "schema"
                      : !has_rows ? "num_rows"
                                  : "row_groups");
    if (m->nschema == 0) return lb_err(t->err, LB_ERR_FORMAT, "FileMetaData has an empty schema");
    return LB_OK;
}

lb_status lb_pq_parse_file_meta(const uint8_t *buf, size_t len, size_t file_off, lb_pq_file_meta *meta, lb_error *err) {
    memset(meta, 0, sizeof *meta);
    lb_thrift t;
    lb_thrift_init(&t, buf, len, file_off, err);
    lb_status st = parse_file_meta(&t, meta);
    if (st) lb_pq_file_meta_free(meta);
    return st;
}

void lb_pq_file_meta_free(lb_pq_file_meta *meta) {
    if (!meta) return;
    for (size_t i = 0; i < meta->nrow_groups; i++) free(meta->row_groups[i].columns);
    free(meta->row_groups);
    free(meta->schema);
    memset(meta, 0, sizeof *meta);
}

/* ---- schema tree -> leaves ---- */

typedef struct leaf_walk {
    const lb_pq_file_meta *m;
    size_t next; /* next schema element to visit */
    lb_pq_leaf *leaves;
    size_t nleaves, cap;
    char path[4096];
    size_t top_len; /* the name length of the top-level field being visited */
    lb_error *err;
} leaf_walk;

/* Visits the subtree rooted at schema[w->next]; depth-limited by the path buffer and a counter. */
static lb_status walk(leaf_walk *w, int depth, size_t top, int def, int rep, int rep_def, size_t path_len) {
    if (depth > 100) return lb_err(w->err, LB_ERR_FORMAT, "schema nests deeper than 100 levels");
    if (w->next >= w->m->nschema)
        return lb_err(w->err, LB_ERR_FORMAT, "schema: num_children points past the %zu schema elements", w->m->nschema);
    size_t idx = w->next++;
    const lb_pq_schema_el *e = &w->m->schema[idx];
    if (e->repetition == LB_PQ_OPTIONAL) def++;
    else if (e->repetition == LB_PQ_REPEATED) {
        def++;
        rep++;
        if (rep == 1) rep_def = def;
    }
    if (e->name_len + 2 > sizeof w->path - path_len)
        return lb_err(w->err, LB_ERR_FORMAT, "schema: column path longer than %zu bytes", sizeof w->path);
    size_t plen = path_len;
    if (plen) w->path[plen++] = '.';
    memcpy(w->path + plen, e->name, e->name_len);
    plen += e->name_len;
    if (depth == 1) w->top_len = e->name_len;
    w->path[plen] = 0;
    if (e->num_children > 0) {
        if ((size_t)e->num_children > w->m->nschema - w->next)
            return lb_err(w->err, LB_ERR_FORMAT, "schema element '%s' claims %d children, only %zu elements follow",
                          w->path, e->num_children, w->m->nschema - w->next);
        for (int32_t i = 0; i < e->num_children; i++) {
            lb_status st = walk(w, depth + 1, top, def, rep, rep_def, plen);
            if (st) return st;
        }
        return LB_OK;
    }
    if (e->type == -1 && e->num_children == 0) return LB_OK; /* an empty group: no columns */
    if (e->type < LB_PQ_BOOLEAN || e->type > LB_PQ_FLBA)
        return lb_err(w->err, LB_ERR_FORMAT, "schema: leaf '%s' has %s physical type %d", w->path,
                      e->type < 0 ? "no" : "unknown", e->type);
    if (e->type == LB_PQ_FLBA && e->type_length <= 0)
        return lb_err(w->err, LB_ERR_FORMAT, "schema: FIXED_LEN_BYTE_ARRAY leaf '%s' has type_length %d", w->path,
                      e->type_length);
    if (w->nleaves == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 16;
        lb_pq_leaf *nl = realloc(w->leaves, cap * sizeof *nl);
        if (!nl) return lb_err(w->err, LB_ERR_NOMEM, "out of memory building the schema");
        w->leaves = nl;
        w->cap = cap;
    }
    char *path = strdup(w->path);
    if (!path) return lb_err(w->err, LB_ERR_NOMEM, "out of memory building the schema");
    w->leaves[w->nleaves++] = (lb_pq_leaf){.path = path,
                                           .top = top,
                                           .el = e,
                                           .max_def = def,
                                           .max_rep = rep,
                                           .rep_def = rep_def,
                                           .top_len = w->top_len,
                                           .flat = depth == 1 && e->repetition != LB_PQ_REPEATED};
    return LB_OK;
}

lb_status lb_pq_schema_leaves(const lb_pq_file_meta *m, lb_pq_leaf **leaves, size_t *nleaves, lb_error *err) {
    leaf_walk w = {.m = m, .next = 1, .err = err};
    *leaves = NULL;
    *nleaves = 0;
    const lb_pq_schema_el *root = &m->schema[0];
    if (root->num_children < 0 || (size_t)root->num_children > m->nschema - 1)
        return lb_err(err, LB_ERR_FORMAT, "schema root claims %d children, only %zu elements follow",
                      root->num_children, m->nschema - 1);
    lb_status st = LB_OK;
    for (int32_t i = 0; i < root->num_children && !st; i++) st = walk(&w, 1, (size_t)i, 0, 0, 0, 0);
    /* lists of primitives: one repeated node, the only leaf of their top-level field */
    for (size_t i = 0; !st && i < w.nleaves; i++) {
        size_t same = 0;
        for (size_t j = 0; j < w.nleaves; j++) same += w.leaves[j].top == w.leaves[i].top;
        w.leaves[i].list = w.leaves[i].max_rep == 1 && same == 1;
    }
    if (!st && w.next != m->nschema)
        st = lb_err(err, LB_ERR_FORMAT, "schema: %zu elements are not reachable from the root", m->nschema - w.next);
    if (st) {
        lb_pq_leaves_free(w.leaves, w.nleaves);
        return st;
    }
    *leaves = w.leaves;
    *nleaves = w.nleaves;
    return LB_OK;
}

void lb_pq_leaves_free(lb_pq_leaf *leaves, size_t n) {
    for (size_t i = 0; i < n; i++) free(leaves[i].path);
    free(leaves);
}

/* ---- page headers ---- */

static lb_status parse_data_v1(lb_thrift *t, lb_pq_page_header *h) {
    lb_status st;
    bool has_n = false, has_enc = false;
    h->def_encoding = LB_PQ_ENC_RLE;
    h->rep_encoding = LB_PQ_ENC_RLE;
    if ((st = lb_thrift_struct_begin(t))) return st;
    FOR_FIELDS(t, id, ty) {
        switch (id) {
        case 1: st = read_i32_field(t, ty, &h->num_values, &has_n); break;
        case 2: st = read_i32_field(t, ty, &h->encoding, &has_enc); break;
        case 3: st = read_i32_field(t, ty, &h->def_encoding, NULL); break;
        case 4: st = read_i32_field(t, ty, &h->rep_encoding, NULL); break;
        default: st = lb_thrift_skip(t, ty);
        }
        if (st) return st;
    }
    lb_thrift_struct_end(t);
    h->has_sub = has_n && has_enc;
    return LB_OK;
}

static lb_status parse_dict(lb_thrift *t, lb_pq_page_header *h) {
    lb_status st;
    bool has_n = false, has_enc = false;
    if ((st = lb_thrift_struct_begin(t))) return st;
    FOR_FIELDS(t, id, ty) {
        switch (id) {
        case 1: st = read_i32_field(t, ty, &h->num_values, &has_n); break;
        case 2: st = read_i32_field(t, ty, &h->encoding, &has_enc); break;
        default: st = lb_thrift_skip(t, ty);
        }
        if (st) return st;
    }
    lb_thrift_struct_end(t);
    h->has_sub = has_n && has_enc;
    return LB_OK;
}

static lb_status parse_data_v2(lb_thrift *t, lb_pq_page_header *h) {
    lb_status st;
    bool has[6] = {0};
    h->is_compressed = true;
    if ((st = lb_thrift_struct_begin(t))) return st;
    FOR_FIELDS(t, id, ty) {
        switch (id) {
        case 1: st = read_i32_field(t, ty, &h->num_values, &has[0]); break;
        case 2: st = read_i32_field(t, ty, &h->num_nulls, &has[1]); break;
        case 3: st = read_i32_field(t, ty, &h->num_rows, &has[2]); break;
        case 4: st = read_i32_field(t, ty, &h->encoding, &has[3]); break;
        case 5: st = read_i32_field(t, ty, &h->def_len, &has[4]); break;
        case 6: st = read_i32_field(t, ty, &h->rep_len, &has[5]); break;
        case 7:
            st = lb_thrift_is_bool(ty) ? lb_thrift_read_bool(t, ty, false, &h->is_compressed) : lb_thrift_skip(t, ty);
            break;
        default: st = lb_thrift_skip(t, ty);
        }
        if (st) return st;
    }
    lb_thrift_struct_end(t);
    h->has_sub = has[0] && has[1] && has[2] && has[3] && has[4] && has[5];
    return LB_OK;
}

lb_status lb_pq_parse_page_header(const uint8_t *buf, size_t len, size_t file_off, lb_pq_page_header *h,
                                  size_t *hdr_len, lb_error *err) {
    lb_thrift tt, *t = &tt;
    lb_thrift_init(t, buf, len, file_off, err);
    memset(h, 0, sizeof *h);
    h->type = -1;
    lb_status st;
    bool has_type = false, has_u = false, has_c = false;
    if ((st = lb_thrift_struct_begin(t))) return st;
    FOR_FIELDS(t, id, ty) {
        switch (id) {
        case 1: st = read_i32_field(t, ty, &h->type, &has_type); break;
        case 2: st = read_i32_field(t, ty, &h->uncompressed_size, &has_u); break;
        case 3: st = read_i32_field(t, ty, &h->compressed_size, &has_c); break;
        case 4: {
            int32_t crc;
            bool ok = false;
            st = read_i32_field(t, ty, &crc, &ok);
            if (ok) {
                h->has_crc = true;
                h->crc = (uint32_t)crc;
            }
            break;
        }
        /* Only the sub-header matching the page type is kept (parsed after type is known). */
        case 5:
            st = ty == LB_TC_STRUCT && h->type == LB_PQ_PAGE_DATA ? parse_data_v1(t, h) : lb_thrift_skip(t, ty);
            break;
        case 7:
            st = ty == LB_TC_STRUCT && h->type == LB_PQ_PAGE_DICTIONARY ? parse_dict(t, h) : lb_thrift_skip(t, ty);
            break;
        case 8:
            st = ty == LB_TC_STRUCT && h->type == LB_PQ_PAGE_DATA_V2 ? parse_data_v2(t, h) : lb_thrift_skip(t, ty);
            break;
        default: st = lb_thrift_skip(t, ty);
        }
        if (st) return st;
    }
    lb_thrift_struct_end(t);
    if (!has_type || !has_u || !has_c)
        return lb_err(err, LB_ERR_FORMAT, "page header at offset %zu lacks type or page sizes", file_off);
    if (h->uncompressed_size < 0 || h->compressed_size < 0)
        return lb_err(err, LB_ERR_FORMAT,
                      "page header at offset %zu has negative page size (%d compressed, %d uncompressed)", file_off,
                      h->compressed_size, h->uncompressed_size);
    *hdr_len = (size_t)(t->p - buf);
    return LB_OK;
}

const char *lb_pq_codec_name(int32_t codec) {
    static const char *const n[] = {"UNCOMPRESSED", "SNAPPY", "GZIP", "LZO", "BROTLI", "LZ4", "ZSTD", "LZ4_RAW"};
    return codec >= 0 && codec < 8 ? n[codec] : "unknown codec";
}

const char *lb_pq_encoding_name(int32_t enc) {
    static const char *const n[] = {
        "PLAIN",          "GROUP_VAR_INT",       "PLAIN_DICTIONARY",        "RLE",
        "BIT_PACKED",     "DELTA_BINARY_PACKED", "DELTA_LENGTH_BYTE_ARRAY", "DELTA_BYTE_ARRAY",
        "RLE_DICTIONARY", "BYTE_STREAM_SPLIT"};
    return enc >= 0 && enc < 10 ? n[enc] : "unknown encoding";
}

const char *lb_pq_type_name(int32_t type) {
    static const char *const n[] = {"BOOLEAN", "INT32",  "INT64",      "INT96",
                                    "FLOAT",   "DOUBLE", "BYTE_ARRAY", "FIXED_LEN_BYTE_ARRAY"};
    return type >= 0 && type < 8 ? n[type] : "unknown type";
}
