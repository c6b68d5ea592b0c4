/* lb_table: lookup, freeing, and the builder the text readers fill (see table_build.h). */
#include "data/table.h"

#include <stdlib.h>
#include <string.h>

#include "base/utf8.h"
#include "data/table_build.h"

long lb_table_col(const lb_table *t, const char *name) {
    for (size_t i = 0; i < t->ncols; i++)
        if (t->col_names[i] && strcmp(t->col_names[i], name) == 0) return (long)i;
    return -1;
}

void lb_value_clear(lb_value *v) {
    if (v->type == LB_VAL_STR) free(v->s);
    if (v->type == LB_VAL_LIST) {
        for (size_t k = 0; k < v->n_items; k++) lb_value_clear(&v->items[k]);
        free(v->items);
    }
    *v = (lb_value){.type = LB_VAL_NULL};
}

void lb_table_free(lb_table *t) {
    if (!t) return;
    if (t->cells)
        for (size_t i = 0; i < t->nrows * t->ncols; i++) lb_value_clear(&t->cells[i]);
    if (t->col_names)
        for (size_t i = 0; i < t->ncols; i++) free(t->col_names[i]);
    free(t->col_names);
    free(t->cells);
    memset(t, 0, sizeof *t);
}

lb_status lb_tb_add_col(lb_table_builder *b, const char *name, size_t len, size_t *col, lb_error *err) {
    lb_table *t = &b->t;
    if (t->ncols == b->name_cap) {
        size_t nc = b->name_cap ? b->name_cap * 2 : 16;
        char **names = realloc(t->col_names, nc * sizeof *names);
        if (!names) return lb_err(err, LB_ERR_NOMEM, "out of memory");
        t->col_names = names;
        b->name_cap = nc;
    }
    char *nm = malloc(len + 1);
    if (!nm) return lb_err(err, LB_ERR_NOMEM, "out of memory");
    memcpy(nm, name, len);
    nm[len] = '\0';
    if (t->ncols + 1 > b->stride && t->cells) {
        /* Widen every row: a new stride, doubled so that columns added one by one (JSONL rows
         * with new keys) cost amortised O(1) per cell. */
        size_t ns = b->stride * 2 > t->ncols + 1 ? b->stride * 2 : t->ncols + 1;
        lb_value *cells = calloc(b->row_cap * ns, sizeof *cells);
        if (!cells) {
            free(nm);
            return lb_err(err, LB_ERR_NOMEM, "out of memory");
        }
        for (size_t r = 0; r < t->nrows; r++)
            memcpy(&cells[r * ns], &t->cells[r * b->stride], t->ncols * sizeof *cells);
        free(t->cells);
        t->cells = cells;
        b->stride = ns;
    } else if (t->ncols + 1 > b->stride) {
        b->stride = t->ncols + 1;
    }
    /* Cells [ncols, stride) of existing rows are already NULL (rows are zeroed across the stride). */
    t->col_names[t->ncols] = nm;
    *col = t->ncols++;
    return LB_OK;
}

/* With a filter: drops the last row when it is not kept (its strings freed). */
static void tb_drop_unkept(lb_table_builder *b) {
    lb_table *t = &b->t;
    if (!b->keep || t->nrows == 0 || lb_row_filter_keeps(b->keep, b->keep->seen - 1)) return;
    lb_value *row = &t->cells[(t->nrows - 1) * b->stride];
    for (size_t c = 0; c < t->ncols; c++) lb_value_clear(&row[c]);
    t->nrows--;
}

lb_value *lb_tb_add_row(lb_table_builder *b, lb_error *err) {
    lb_table *t = &b->t;
    tb_drop_unkept(b);
    if (b->keep) b->keep->seen++;
    if (b->stride == 0) b->stride = t->ncols ? t->ncols : 1;
    if (t->nrows == b->row_cap || !t->cells) {
        size_t cap = b->row_cap ? b->row_cap * 2 : 256;
        lb_value *cells = realloc(t->cells, cap * b->stride * sizeof *cells);
        if (!cells) {
            lb_err(err, LB_ERR_NOMEM, "out of memory (%zu rows)", t->nrows);
            return NULL;
        }
        t->cells = cells;
        b->row_cap = cap;
    }
    lb_value *row = &t->cells[t->nrows * b->stride];
    memset(row, 0, b->stride * sizeof *row); /* LB_VAL_NULL == 0 */
    t->nrows++;
    return row;
}

/* Packs rows to stride ncols in place (row r moves down to r * ncols <= r * stride). */
static void tb_compact(lb_table_builder *b) {
    lb_table *t = &b->t;
    if (t->cells && b->stride != t->ncols)
        for (size_t r = 0; r < t->nrows; r++)
            memmove(&t->cells[r * t->ncols], &t->cells[r * b->stride], t->ncols * sizeof *t->cells);
    b->stride = t->ncols;
}

void lb_tb_finish(lb_table_builder *b, lb_table *out) {
    tb_drop_unkept(b);
    tb_compact(b);
    *out = b->t;
    memset(b, 0, sizeof *b);
}

lb_status lb_tb_check_text(const char *data, size_t len, const char *name, size_t *start, lb_error *err) {
    const unsigned char *u = (const unsigned char *)data;
    size_t bad = lb_utf8_first_invalid(u, len);
    if (bad < len) {
        size_t line = 1;
        for (size_t k = 0; k < bad; k++) line += data[k] == '\n';
        return lb_err(err, LB_ERR_FORMAT, "%s:%zu: invalid UTF-8 byte 0x%02x at file offset %zu", name, line, u[bad],
                      bad);
    }
    *start = len >= 3 && u[0] == 0xEF && u[1] == 0xBB && u[2] == 0xBF ? 3 : 0; /* UTF-8 BOM */
    return LB_OK;
}

void lb_tb_free(lb_table_builder *b) {
    tb_compact(b);
    lb_table_free(&b->t);
    memset(b, 0, sizeof *b);
}

void lb_table_keep_rows(lb_table *t, lb_row_filter *keep) {
    if (!keep) return;
    keep->seen = (int64_t)t->nrows;
    size_t w = 0;
    for (size_t r = 0; r < t->nrows; r++) {
        lb_value *row = &t->cells[r * t->ncols];
        if (lb_row_filter_keeps(keep, (int64_t)r)) {
            if (w != r) memmove(&t->cells[w * t->ncols], row, t->ncols * sizeof *row);
            w++;
        } else {
            for (size_t c = 0; c < t->ncols; c++) lb_value_clear(&row[c]);
        }
    }
    t->nrows = w;
}
