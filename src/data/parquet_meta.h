/* Parquet file metadata: the footer (FileMetaData, schema, row groups, column chunks) and page
 * headers, decoded from the thrift compact protocol into plain C structs.
 *
 * Owns: field-by-field decoding of parquet.thrift structs (unknown fields skipped), checking
 * required fields, and turning the flattened schema into leaf columns with their levels.
 * Strings in these structs point into the caller's file buffer (not owned, not NUL-terminated)
 * except lb_pq_leaf.name/path, which are owned. Internal to src/data. */
#ifndef LB_DATA_PARQUET_META_H
#define LB_DATA_PARQUET_META_H
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include "base/error.h"

/* parquet.thrift enums (the values that matter to this reader). */
enum {
    LB_PQ_BOOLEAN = 0,
    LB_PQ_INT32 = 1,
    LB_PQ_INT64 = 2,
    LB_PQ_INT96 = 3,
    LB_PQ_FLOAT = 4,
    LB_PQ_DOUBLE = 5,
    LB_PQ_BYTE_ARRAY = 6,
    LB_PQ_FLBA = 7
};
enum { LB_PQ_REQUIRED = 0, LB_PQ_OPTIONAL = 1, LB_PQ_REPEATED = 2 };
enum {
    LB_PQ_ENC_PLAIN = 0,
    LB_PQ_ENC_PLAIN_DICTIONARY = 2,
    LB_PQ_ENC_RLE = 3,
    LB_PQ_ENC_BIT_PACKED = 4,
    LB_PQ_ENC_DELTA_BINARY_PACKED = 5,
    LB_PQ_ENC_DELTA_LENGTH_BYTE_ARRAY = 6,
    LB_PQ_ENC_DELTA_BYTE_ARRAY = 7,
    LB_PQ_ENC_RLE_DICTIONARY = 8,
    LB_PQ_ENC_BYTE_STREAM_SPLIT = 9
};
enum {
    LB_PQ_UNCOMPRESSED = 0,
    LB_PQ_SNAPPY = 1,
    LB_PQ_GZIP = 2,
    LB_PQ_LZO = 3,
    LB_PQ_BROTLI = 4,
    LB_PQ_LZ4 = 5,
    LB_PQ_ZSTD = 6,
    LB_PQ_LZ4_RAW = 7
};
enum { LB_PQ_PAGE_DATA = 0, LB_PQ_PAGE_INDEX = 1, LB_PQ_PAGE_DICTIONARY = 2, LB_PQ_PAGE_DATA_V2 = 3 };
/* ConvertedType values used for value interpretation. */
enum { LB_PQ_CT_UTF8 = 0, LB_PQ_CT_UINT_8 = 11, LB_PQ_CT_UINT_16 = 12, LB_PQ_CT_UINT_32 = 13, LB_PQ_CT_UINT_64 = 14 };

typedef struct lb_pq_schema_el {
    int32_t type; /* physical type, -1 for groups */
    int32_t type_length;
    int32_t repetition; /* -1 when absent (the root) */
    const uint8_t *name;
    size_t name_len;
    int32_t num_children;
    int32_t converted_type; /* -1 when absent */
    bool logical_string;    /* LogicalType STRING */
    bool logical_unsigned;  /* LogicalType INTEGER with isSigned = false */
} lb_pq_schema_el;

typedef struct lb_pq_column_meta {
    int32_t type;
    int32_t codec;
    int64_t num_values;
    int64_t total_compressed_size;
    int64_t data_page_offset;
    int64_t dictionary_page_offset; /* -1 when absent */
    size_t path_len;                /* number of path_in_schema elements */
    const uint8_t *path0;
    size_t path0_len; /* first path element */
} lb_pq_column_meta;

typedef struct lb_pq_row_group {
    int64_t num_rows;
    size_t ncolumns;
    lb_pq_column_meta *columns; /* [ncolumns]; NULL meta_data (encrypted/external) is an error */
} lb_pq_row_group;

typedef struct lb_pq_file_meta {
    int64_t num_rows;
    size_t nschema;
    lb_pq_schema_el *schema; /* [nschema], depth-first, schema[0] is the root */
    size_t nrow_groups;
    lb_pq_row_group *row_groups; /* [nrow_groups] */
} lb_pq_file_meta;

/* A leaf (primitive) column of the schema, in column-chunk order. */
typedef struct lb_pq_leaf {
    char *path; /* dotted path, owned ("a", "b_struct.b_c_int") */
    size_t top; /* index of its top-level field among the root's children */
    const lb_pq_schema_el *el;
    int max_def, max_rep;
    bool flat; /* a direct child of the root that is not REPEATED */
    /* A list of primitives: the only leaf of its top-level field, with one REPEATED node on its
     * path (the 3-level LIST layout, the legacy 2-level one, a bare repeated field). rep_def is
     * the definition level of that repeated node: below rep_def - 1 the list is null, at
     * rep_def - 1 it is empty, from rep_def to max_def - 1 an element is null, at max_def an
     * element has its value. */
    bool list;
    int rep_def;
    size_t top_len; /* path[0..top_len): the top-level field's name (the list column's name) */
} lb_pq_leaf;

typedef struct lb_pq_page_header {
    int32_t type;
    int32_t uncompressed_size, compressed_size;
    bool has_crc;
    uint32_t crc;
    int32_t num_values; /* data v1/v2 and dictionary pages */
    int32_t encoding;
    int32_t def_encoding;        /* v1 only */
    int32_t rep_encoding;        /* v1 only */
    int32_t num_nulls, num_rows; /* v2 only */
    int32_t def_len, rep_len;    /* v2 only */
    bool is_compressed;          /* v2 only (default true) */
    bool has_sub;                /* the matching sub-header was present */
} lb_pq_page_header;

/* Decodes FileMetaData from buf[0..len) (file offset `file_off`). Allocates meta's arrays. */
lb_status lb_pq_parse_file_meta(const uint8_t *buf, size_t len, size_t file_off, lb_pq_file_meta *meta, lb_error *err);
void lb_pq_file_meta_free(lb_pq_file_meta *meta);

/* Turns meta->schema into leaves (at most *nleaves written; allocated). Validates the tree. */
lb_status lb_pq_schema_leaves(const lb_pq_file_meta *meta, lb_pq_leaf **leaves, size_t *nleaves, lb_error *err);
void lb_pq_leaves_free(lb_pq_leaf *leaves, size_t n);

/* Decodes one PageHeader at buf[0..len); *hdr_len gets its encoded size. */
lb_status lb_pq_parse_page_header(const uint8_t *buf, size_t len, size_t file_off, lb_pq_page_header *h,
                                  size_t *hdr_len, lb_error *err);

const char *lb_pq_codec_name(int32_t codec);
const char *lb_pq_encoding_name(int32_t enc);
const char *lb_pq_type_name(int32_t type);
#endif
