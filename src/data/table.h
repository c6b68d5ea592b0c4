/* A parsed tabular file (CSV/TSV, JSONL, Parquet): named columns of typed cells.
 * Every reader produces one of these; dataset.c picks text/label columns from it. */
#ifndef LB_DATA_TABLE_H
#define LB_DATA_TABLE_H
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include "base/error.h"

typedef enum lb_val_type { LB_VAL_NULL, LB_VAL_BOOL, LB_VAL_INT, LB_VAL_FLOAT, LB_VAL_STR, LB_VAL_LIST } lb_val_type;

typedef struct lb_value {
    lb_val_type type;
    int64_t i;   /* LB_VAL_INT, LB_VAL_BOOL (0/1) */
    double f;    /* LB_VAL_FLOAT */
    char *s;     /* LB_VAL_STR: NUL-terminated UTF-8, owned by the table */
    size_t slen; /* LB_VAL_STR: byte length (the string may hold NULs) */
    /* LB_VAL_LIST (a JSON array of scalars): n_items scalar values (never lists themselves; a
     * null element is LB_VAL_NULL), a malloc'd array owned by the table with its strings. */
    struct lb_value *items;
    size_t n_items;
} lb_value;

/* Releases what a cell owns (a string, a list's items) and leaves it null. */
void lb_value_clear(lb_value *v);

/* Which rows a reader keeps, for data-parallel runs: row i (0-based over the whole input, the
 * file's first row being `first`) is kept when (i / block) % count == index. count <= 1 keeps
 * every row. A reader sets `seen` to the rows the file held (kept or not). */
typedef struct lb_row_filter {
    int64_t block; /* rows per block (>= 1) */
    int count, index;
    int64_t first; /* in: the global index of this file's first row */
    int64_t seen;  /* out: the file's rows */
} lb_row_filter;
static inline bool lb_row_filter_keeps(const lb_row_filter *f, int64_t i) {
    return !f || f->count <= 1 || ((f->first + i) / (f->block > 0 ? f->block : 1)) % f->count == f->index;
}

typedef struct lb_table {
    size_t ncols, nrows;
    char **col_names; /* [ncols] */
    lb_value *cells;  /* [nrows * ncols], row-major */
} lb_table;

static inline const lb_value *lb_table_cell(const lb_table *t, size_t row, size_t col) {
    return &t->cells[row * t->ncols + col];
}
/* Index of the named column, or -1. */
long lb_table_col(const lb_table *t, const char *name);
void lb_table_free(lb_table *t);

/* Drops the rows keep does not keep from a whole table (keep->seen: its rows); NULL keeps all.
 * For a reader that cannot filter while reading (the readers here all do: CSV/JSONL through
 * the table builder, Parquet per row group); the reference the tests compare them with. */
void lb_table_keep_rows(lb_table *t, lb_row_filter *keep);

#endif
