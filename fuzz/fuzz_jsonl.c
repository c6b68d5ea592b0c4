/* libFuzzer harness for the JSONL/JSON-array reader: any bytes are parsed into a table or
 * rejected with a message; never a crash or leak. Accepted tables hold valid cells. */
#include <stdlib.h>
#include <string.h>
#include "data/jsonl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    lb_table t;
    lb_error e;
    lb_status st = lb_jsonl_parse((const char *)data, size, "fuzz", &t, &e);
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
