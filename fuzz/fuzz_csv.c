/* libFuzzer harness for the CSV/TSV reader: any bytes are parsed (first byte picks the
 * delimiter) into a table or rejected with a message; never a crash or leak. Accepted tables
 * must be rectangular with NUL-terminated strings of the recorded length. */
#include <stdlib.h>
#include <string.h>
#include "data/csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    char delim = (data[0] & 1) ? '\t' : ',';
    lb_table t;
    lb_error e;
    lb_status st = lb_csv_parse((const char *)data + 1, size - 1, delim, "fuzz", &t, &e);
    if (st != LB_OK) {
        if (!e.msg[0]) abort();
        return 0;
    }
    if (t.ncols == 0) abort();
    for (size_t c = 0; c < t.ncols; c++)
        if (!t.col_names[c]) abort();
    for (size_t r = 0; r < t.nrows; r++)
        for (size_t c = 0; c < t.ncols; c++) {
            const lb_value *v = lb_table_cell(&t, r, c);
            if (v->type == LB_VAL_STR && v->s[v->slen] != '\0') abort();
            if (v->type != LB_VAL_STR && v->type != LB_VAL_NULL) abort();
        }
    lb_table_free(&t);
    return 0;
}
