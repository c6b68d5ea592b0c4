/* Internal helpers shared by the tabular readers (csv.c, jsonl.c): a growable lb_table and a
 * UTF-8 checker. Ownership contract of lb_table (what lb_table_free releases): col_names[i]
 * and every LB_VAL_STR cell's s are separate malloc blocks (s may be NULL after a consumer
 * took it), col_names and cells are malloc'd arrays. */
#ifndef LB_DATA_TABLE_BUILD_H
#define LB_DATA_TABLE_BUILD_H
#include "data/table.h"

typedef struct lb_table_builder {
    lb_table t;          /* while building, row r's cells start at t.cells + r * stride */
    size_t row_cap;      /* rows allocated in t.cells */
    size_t stride;       /* cells per row allocated (>= t.ncols; grows by doubling) */
    size_t name_cap;     /* entries allocated in t.col_names */
    lb_row_filter *keep; /* NULL: every row; else rows it does not keep are dropped as the next row
                          * is added (or at finish) and keep->seen counts every row */
} lb_table_builder;

/* Adds a column (name copied) and returns its index in *col; existing rows get NULL cells.
 * Amortised O(1) per cell: the row stride grows geometrically. */
lb_status lb_tb_add_col(lb_table_builder *b, const char *name, size_t len, size_t *col, lb_error *err);
/* Appends a row of NULL cells; returns a pointer to its cells (valid until the next add). With
 * a filter, the previous row is dropped first when the filter does not keep it. */
lb_value *lb_tb_add_row(lb_table_builder *b, lb_error *err);
/* Cells of row r (valid until the next add). */
static inline lb_value *lb_tb_row(lb_table_builder *b, size_t r) { return &b->t.cells[r * b->stride]; }
/* Hands the table (dense row-major) to *out; the builder is left empty. */
void lb_tb_finish(lb_table_builder *b, lb_table *out);
void lb_tb_free(lb_table_builder *b);

/* Checks that a text file's bytes data[0..len) are valid UTF-8: otherwise LB_ERR_FORMAT
 * "name:LINE: invalid UTF-8 byte 0xXX at file offset N". *start is where the text begins:
 * past a UTF-8 byte order mark, else 0. */
lb_status lb_tb_check_text(const char *data, size_t len, const char *name, size_t *start, lb_error *err);

#endif
