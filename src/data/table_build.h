/* Internal helpers shared by the tabular readers (csv.c, jsonl.c): a growable lb_table and a
 * UTF-8 checker. Ownership contract of lb_table (what lb_table_free releases): col_names[i]
 * and every LB_VAL_STR cell's s are separate malloc blocks (s may be NULL after a consumer
 * took it), col_names and cells are malloc'd arrays. */
#ifndef LB_DATA_TABLE_BUILD_H
#define LB_DATA_TABLE_BUILD_H
#include "data/table.h"

typedef struct lb_table_builder {
    lb_table t;
    size_t row_cap; /* rows allocated in t.cells */
} lb_table_builder;

/* Adds a column (name copied) and returns its index in *col; existing rows get NULL cells. */
lb_status lb_tb_add_col(lb_table_builder *b, const char *name, size_t len, size_t *col, lb_error *err);
/* Appends a row of NULL cells; returns a pointer to its [ncols] cells. */
lb_value *lb_tb_add_row(lb_table_builder *b, lb_error *err);
/* Hands the table to *out (the builder is left empty). */
void lb_tb_finish(lb_table_builder *b, lb_table *out);
void lb_tb_free(lb_table_builder *b);

/* Byte offset of the first invalid UTF-8 sequence in s[0..n), or n when all valid. */
size_t lb_utf8_invalid_at(const unsigned char *s, size_t n);

#endif
