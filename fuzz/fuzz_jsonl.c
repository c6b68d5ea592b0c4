/* libFuzzer harness for the JSONL/JSON-array reader: any bytes are parsed into a table or
 * rejected with a message; never a crash or leak. Accepted tables hold valid cells. The same
 * bytes read from a file through a small window (4..14 bytes) give the same status and message. */
#include <stdlib.h>
#include <string.h>
#include "data/jsonl.h"
#include "fuzz_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    lb_table t;
    lb_error e;
    lb_status st = lb_jsonl_parse((const char *)data, size, "fuzz", &t, &e);
    const char *path = fuzz_file_with(data, size);
    if (path) {
        lb_text_stream ts;
        lb_table ft;
        lb_error fe;
        if (lb_text_stream_open_chunked(&ts, path, 4 + size % 11, &fe) != LB_OK) abort();
        ts.name = "fuzz";
        lb_status fst = lb_jsonl_read_stream(&ts, NULL, &ft, &fe);
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
    for (size_t r = 0; r < t.nrows; r++)
        for (size_t c = 0; c < t.ncols; c++) {
            const lb_value *v = lb_table_cell(&t, r, c);
            if (v->type > LB_VAL_STR) abort();
            if (v->type == LB_VAL_STR && v->s[v->slen] != '\0') abort();
        }
    lb_table_free(&t);
    return 0;
}
