/* libFuzzer harness for the safetensors reader: any byte string must be accepted or rejected
 * with a message, never crash; for accepted files every tensor must convert to F32, lie
 * inside the input and be found by name. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "formats/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    lb_error e;
    lb_st_file *f = lb_st_open_mem(data, size, "fuzz", &e);
    if (!f) {
        if (e.code == LB_OK || !e.msg[0]) abort(); /* a rejection must say why */
        return 0;
    }
    size_t n = lb_st_count(f);
    for (size_t i = 0; i < n; i++) {
        const lb_st_tensor *t = lb_st_at(f, i);
        if ((const uint8_t *)t->data < data || (const uint8_t *)t->data + t->nbytes > data + size) abort();
        if (lb_st_find(f, t->name) != t) abort();
        const float *x = lb_st_f32(f, t, &e);
        if (!x) abort();
        volatile float sink = 0;
        for (int64_t k = 0; k < t->numel; k++) sink += x[k];
        (void)sink;
    }
    lb_st_close(f);
    return 0;
}
