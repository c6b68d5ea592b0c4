/* Tests for src/base: errors, crash-safe file writes, RNG. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
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

/* Issue 10 item 5: one opening rule for every reader. Each case must fail at once (a FIFO
 * without a writer would block a plain open forever: the test would hang, not pass). */
Test(fileio, non_regular_files_refused_with_their_type, .timeout = 10) {
    char dir[] = "/tmp/lbtestXXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char fifo[256], sub[256], zero[256], big[256], miss[256];
    snprintf(fifo, sizeof fifo, "%s/config.json", dir);
    snprintf(sub, sizeof sub, "%s/model.safetensors", dir);
    snprintf(zero, sizeof zero, "%s/zero.json", dir);
    snprintf(big, sizeof big, "%s/big.txt", dir);
    snprintf(miss, sizeof miss, "%s/missing.json", dir);
    cr_assert_eq(mkfifo(fifo, 0644), 0);
    cr_assert_eq(mkdir(sub, 0755), 0);
    cr_assert_eq(symlink("/dev/zero", zero), 0);
    char *d;
    size_t n;
    lb_error e;
    cr_assert_eq(lb_read_file_max(fifo, LB_MAX_JSON_BYTES, "JSON file", &d, &n, &e), LB_ERR_IO);
    cr_assert(strstr(e.msg, "config.json: is a FIFO, expected a regular file"), "%s", e.msg);
    cr_assert_eq(lb_read_file_max(sub, LB_MAX_JSON_BYTES, "JSON file", &d, &n, &e), LB_ERR_IO);
    cr_assert(strstr(e.msg, "model.safetensors: is a directory, expected a regular file"), "%s", e.msg);
    cr_assert_eq(lb_read_file_max(zero, LB_MAX_JSON_BYTES, "JSON file", &d, &n, &e), LB_ERR_IO);
    cr_assert(strstr(e.msg, "is a character device"), "%s", e.msg);
    cr_assert_eq(lb_read_file(miss, &d, &n, &e), LB_ERR_IO);
    cr_assert(strstr(e.msg, "No such file"), "%s", e.msg);
    cr_assert(lb_path_present(fifo) && lb_path_present(sub) && !lb_path_present(miss));
    int fd;
    cr_assert_eq(lb_open_regular(fifo, SIZE_MAX, "file", &fd, NULL, &e), LB_ERR_IO);
    /* the cap: a file one byte over is refused naming the limit; exactly at it reads */
    FILE *f = fopen(big, "wb");
    cr_assert_not_null(f);
    for (int i = 0; i < 4097; i++) fputc('x', f);
    fclose(f);
    cr_assert_eq(lb_read_file_max(big, 4096, "vocab.txt", &d, &n, &e), LB_ERR_UNSUPPORTED);
    cr_assert(strstr(e.msg, "4096-byte") && strstr(e.msg, "vocab.txt"), "%s", e.msg);
    cr_assert_eq(lb_read_file_max(big, 4097, "vocab.txt", &d, &n, &e), LB_OK, "%s", e.msg);
    cr_assert_eq(n, 4097);
    cr_assert_eq(d[n], 0);
    free(d);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

/* A file that grows while it is read is cut at the cap + 1 bytes, never followed: a writer
 * appends for as long as the reader reads. */
Test(fileio, growing_file_refused_at_the_cap, .timeout = 20) {
    char path[] = "/tmp/lbgrowXXXXXX";
    int wfd = mkstemp(path);
    cr_assert_geq(wfd, 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        char buf[65536];
        memset(buf, 'y', sizeof buf);
        for (int i = 0; i < 4096; i++)
            if (write(wfd, buf, sizeof buf) < 0) break;  /* up to 256 MiB */
        _exit(0);
    }
    char *d;
    size_t n;
    lb_error e;
    usleep(1000);
    lb_status st = lb_read_file_max(path, 1 << 20, "JSON file", &d, &n, &e);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    close(wfd);
    unlink(path);
    cr_assert_eq(st, LB_ERR_UNSUPPORTED, "%s", st ? e.msg : "read");
    cr_assert(strstr(e.msg, "1048576-byte"), "%s", e.msg);
}
