/* Parquet reader (flat columns and lists of primitives) producing an lb_table.
 *
 * Supports: physical types BOOLEAN, INT32, INT64, INT96, FLOAT, DOUBLE, BYTE_ARRAY,
 * FIXED_LEN_BYTE_ARRAY; REQUIRED/OPTIONAL top-level columns; lists of primitives: a top-level
 * field whose only leaf has one REPEATED node on its path (the standard 3-level LIST layout
 * `optional group NAME (LIST) { repeated group list { optional T element; } }`, the legacy
 * 2-level one, a bare `repeated T NAME`), read as LB_VAL_LIST cells named NAME (a null list:
 * LB_VAL_NULL; an empty list: LB_VAL_LIST of 0 items; a null element: an LB_VAL_NULL item), from
 * repetition and definition levels (RLE/bit-packed hybrid; v1 and v2 pages; a list may continue
 * on the next page of its chunk); encodings PLAIN, PLAIN_DICTIONARY,
 * RLE_DICTIONARY, RLE (booleans), DELTA_BINARY_PACKED, DELTA_LENGTH_BYTE_ARRAY, DELTA_BYTE_ARRAY,
 * BYTE_STREAM_SPLIT; data pages v1 and v2; codecs UNCOMPRESSED, SNAPPY, GZIP (incl. concatenated
 * members), ZSTD, LZ4_RAW; any number of row groups; page CRC32 checked when present.
 *
 * Cell mapping: BOOLEAN -> LB_VAL_BOOL; INT32/INT64 -> LB_VAL_INT (UINT_8/16/32 zero-extended;
 * UINT_64 keeps its two's-complement bits); INT96 -> LB_VAL_INT nanoseconds since the Unix
 * epoch; FLOAT/DOUBLE -> LB_VAL_FLOAT; BYTE_ARRAY/FIXED_LEN_BYTE_ARRAY -> LB_VAL_STR holding
 * the raw bytes (NUL-terminated copy, slen = byte length; UTF8/STRING-annotated columns are
 * checked to be valid UTF-8); nulls -> LB_VAL_NULL. Other logical types (DATE, DECIMAL, ...)
 * keep their physical value.
 *
 * Not supported (LB_ERR_UNSUPPORTED naming the column, only when that column is read):
 * other nested columns (structs, maps, lists of lists or of structs), codecs
 * BROTLI, LZO and the old Hadoop LZ4, encrypted files. Hostile input never crashes; limits:
 * a page may expand to at most 1 GiB, a table may hold at most 2^26 cells, and everything
 * decoded from one file (cells, list elements, strings, dictionaries, decompressed pages) is at most
 * 64 MiB + 64 x the file size, and never above 16 GiB (LB_ERR_UNSUPPORTED naming the limit).
 * A list column's elements have no count limit of their own: each takes sizeof(lb_value) bytes
 * (plus its string's copy) of that budget, a page's level entries are bounded by its header's
 * num_values and the chunk's (entries past the chunk's num_values, rows past the row group's, a
 * first entry continuing no row, or a continuation of a null or empty list are LB_ERR_FORMAT). */
#ifndef LB_DATA_PARQUET_H
#define LB_DATA_PARQUET_H
#include "data/table.h"

/* Reads the named columns (NULL: all flat and list columns, in schema order) of every row group into
 * out, columns in the order asked. A name that is not a column is LB_ERR_USAGE; a nested
 * column is LB_ERR_UNSUPPORTED; NULL columns on a file whose columns are all nested is
 * LB_ERR_UNSUPPORTED too. On failure *out is left empty (zeroed). */
lb_status lb_parquet_read(const char *path, const char *const *columns, size_t ncolumns, lb_table *out, lb_error *err);

/* Same, from a whole file already in memory (name is used in messages only). */
lb_status lb_parquet_read_buffer(const uint8_t *buf, size_t len, const char *name, const char *const *columns,
                                 size_t ncolumns, lb_table *out, lb_error *err);

/* The two above keeping only the rows keep keeps (data/table.h; NULL keeps all), for a
 * process's shard: out holds the same rows as a whole read followed by lb_table_keep_rows
 * (keep->seen is set to the file's rows), but a row group none of whose rows is kept is not
 * decoded at all (nor checked: an error inside it is not seen), and one that is decoded is
 * filtered before the next one is, so the decoded data held at once is one row group plus the
 * kept rows. Messages name the file's row numbers, as a whole read does. A file is read with
 * pread a piece at a time (the footer, then each page of the selected columns of the row groups
 * decoded), never whole and never mapped: a file of any size, truncated while read an error. */
lb_status lb_parquet_read_rows(const char *path, const char *const *columns, size_t ncolumns, lb_row_filter *keep,
                               lb_table *out, lb_error *err);
lb_status lb_parquet_read_buffer_rows(const uint8_t *buf, size_t len, const char *name, const char *const *columns,
                                      size_t ncolumns, lb_row_filter *keep, lb_table *out, lb_error *err);
#endif
