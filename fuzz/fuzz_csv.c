/* libFuzzer harness for the CSV/TSV reader: any bytes are parsed (first byte picks the
 * delimiter) into a table or rejected with a message; never a crash or leak. Accepted tables
 * must be rectangular with NUL-terminated strings of the recorded length. The same bytes read
 * from a file through a small window (4..14 bytes) give the same status and message. */
#include <stdlib.h>
#include <string.h>
#include "data/csv.h"
#include "fuzz_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    char delim = (data[0] & 1) ? '\t' : ',';
    lb_table t;
    lb_error e;
    lb_status st = lb_csv_parse((const char *)data + 1, size - 1, delim, "fuzz", &t, &e);
    const char *path = fuzz_file_with(data + 1, size - 1);
    if (path) {
        lb_text_stream ts;
        lb_table ft;
        lb_error fe;
        if (lb_text_stream_open_chunked(&ts, path, 4 + size % 11, &fe) != LB_OK) abort();
        ts.name = "fuzz";
        lb_status fst = lb_csv_read_stream(&ts, delim, NULL, &ft, &fe);
        lb_text_stream_close(&ts);
        if (fst != st || (st != LB_OK && strcmp(fe.msg, e.msg) != 0)) abort();
        if (fst == LB_OK) {
            if (ft.nrows != t.nrows || ft.ncols != t.ncols) abort();
            lb_table_free(&ft);
        }
    }
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
