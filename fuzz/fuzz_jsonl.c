/* libFuzzer harness for the JSONL/JSON-array reader: any bytes are parsed into a table or
 * rejected with a message; never a crash or leak. Accepted tables hold valid cells (list cells:
 * scalar items). The same bytes read from a file through a small window (4..14 bytes) give the
 * same status and message. Each column of an accepted table then goes through the multi-label
 * list reader (data/labels.h, both label formats): targets or a clean error. */
#include <stdlib.h>
#include <string.h>
#include "data/dataset.h"
#include "data/jsonl.h"
#include "data/labels.h"
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
            if (v->type > LB_VAL_LIST) abort();
            if (v->type == LB_VAL_STR && v->s[v->slen] != '\0') abort();
            for (size_t k = 0; v->type == LB_VAL_LIST && k < v->n_items; k++) {
                const lb_value *x = &v->items[k];
                if (x->type >= LB_VAL_LIST || (x->type == LB_VAL_STR && x->s[x->slen] != '\0')) abort();
            }
        }
    for (size_t c = 0; c < t.ncols && c < 4; c++)
        for (int hot = 0; hot < 2; hot++) {
            lb_dataset d = {0};
            lb_error le = {0};
            lb_status ls = lb_targets_read_lists("fuzz", &t, (long)c, hot, &d, &le);
            if (ls != LB_OK && !le.msg[0]) abort();
            if (ls == LB_OK) {
                if (d.n_targets < 0 || d.n_targets > LB_MAX_LABELS || !d.targets) abort();
                for (size_t i = 0; i < t.nrows * (size_t)d.n_targets; i++)
                    if (d.targets[i] != 0 && d.targets[i] != 1) abort();
            }
            lb_dataset_free(&d);
        }
    lb_table_free(&t);
    return 0;
}
