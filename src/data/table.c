/* lb_table helpers shared by every tabular reader (see table.h). */
#include "data/table.h"
#include <stdlib.h>
#include <string.h>

long lb_table_col(const lb_table *t, const char *name) {
    for (size_t i = 0; i < t->ncols; i++)
        if (t->col_names[i] && strcmp(t->col_names[i], name) == 0) return (long)i;
    return -1;
}

void lb_table_free(lb_table *t) {
    if (!t) return;
    if (t->cells)
        for (size_t i = 0; i < t->nrows * t->ncols; i++) free(t->cells[i].s);
    if (t->col_names)
        for (size_t i = 0; i < t->ncols; i++) free(t->col_names[i]);
    free(t->cells);
    free(t->col_names);
    memset(t, 0, sizeof *t);
}
