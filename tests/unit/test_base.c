/* Tests for src/base: errors, crash-safe file writes, RNG. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "base/error.h"
#include "base/fileio.h"
#include "base/rng.h"

Test(error, formats_and_prefixes) {
    lb_error e;
    cr_assert_eq(lb_err(&e, LB_ERR_IO, "%s: bad %d", "f.bin", 3), LB_ERR_IO);
    cr_assert_str_eq(e.msg, "f.bin: bad 3");
    lb_err_prefix(&e, "loading %s", "model");
    cr_assert_str_eq(e.msg, "loading model: f.bin: bad 3");
    cr_assert_eq(e.code, LB_ERR_IO);
}

Test(fileio, atomic_write_replaces_whole_file) {
    char dir[] = "/tmp/lbtestXXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char *p = lb_path_join(dir, "a.txt");
    lb_error e;
    cr_assert_eq(lb_write_file_atomic(p, "old", 3, &e), LB_OK);
    cr_assert_eq(lb_write_file_atomic(p, "newer", 5, &e), LB_OK);
    char *d; size_t n;
    cr_assert_eq(lb_read_file(p, &d, &n, &e), LB_OK);
    cr_assert_eq(n, 5);
    cr_assert_str_eq(d, "newer");
    free(d);
    /* An aborted streaming write leaves the old file and no temporary behind. */
    lb_atomic_file af;
    cr_assert_eq(lb_atomic_open(&af, p, &e), LB_OK);
    fputs("torn", af.fp);
    lb_atomic_abort(&af);
    cr_assert_eq(lb_read_file(p, &d, &n, &e), LB_OK);
    cr_assert_str_eq(d, "newer");
    free(d);
    unlink(p);
    cr_assert_eq(rmdir(dir), 0, "temporary file left behind in %s", dir);
    free(p);
}

Test(fileio, missing_file_names_path) {
    lb_error e;
    char *d;
    cr_assert_eq(lb_read_file("/nonexistent/x.json", &d, NULL, &e), LB_ERR_IO);
    cr_assert(strstr(e.msg, "/nonexistent/x.json") != NULL);
}

Test(rng, deterministic_and_uniform) {
    lb_rng a, b;
    lb_rng_seed(&a, 42);
    lb_rng_seed(&b, 42);
    for (int i = 0; i < 100; i++) cr_assert_eq(lb_rng_u64(&a), lb_rng_u64(&b));
    double sum = 0;
    for (int i = 0; i < 100000; i++) {
        float u = lb_rng_uniform(&a);
        cr_assert(u >= 0.0f && u < 1.0f);
        sum += u;
    }
    cr_assert_float_eq(sum / 100000, 0.5, 0.01);
    int32_t idx[10];
    for (int i = 0; i < 10; i++) idx[i] = i;
    lb_rng_shuffle(&a, idx, 10);
    int seen = 0;
    for (int i = 0; i < 10; i++) seen |= 1 << idx[i];
    cr_assert_eq(seen, 0x3ff);
}
