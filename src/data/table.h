/* A parsed tabular file (CSV/TSV, JSONL, Parquet): named columns of typed cells.
 * Every reader produces one of these; dataset.c picks text/label columns from it. */
#ifndef LB_DATA_TABLE_H
#define LB_DATA_TABLE_H
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include "base/error.h"

typedef enum lb_val_type { LB_VAL_NULL, LB_VAL_BOOL, LB_VAL_INT, LB_VAL_FLOAT, LB_VAL_STR } lb_val_type;

typedef struct lb_value {
    lb_val_type type;
    int64_t i;   /* LB_VAL_INT, LB_VAL_BOOL (0/1) */
    double f;    /* LB_VAL_FLOAT */
    char *s;     /* LB_VAL_STR: NUL-terminated UTF-8, owned by the table */
    size_t slen; /* LB_VAL_STR: byte length (the string may hold NULs) */
} lb_value;

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

#endif
