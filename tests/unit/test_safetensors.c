/* Tests for src/formats/safetensors: reading files the real `safetensors` package wrote,
 * every validation rule on handcrafted bad files, truncation, sharded checkpoints, and the
 * writer's byte-identity with safetensors.torch.save_file. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fileio.h"
#include "formats/safetensors.h"
#include "../support/test_support.h"

/* ---- helpers ---------------------------------------------------------------------------- */

static char *mktmpdir(void) {
    char *d = strdup("/tmp/lb_st_XXXXXX");
    cr_assert_not_null(mkdtemp(d));
    return d;
}

static void rm_rf(const char *dir) {
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

static void write_bytes(const char *path, const void *data, size_t n) {
    FILE *fp = fopen(path, "wb");
    cr_assert_not_null(fp, "cannot write %s", path);
    if (n) cr_assert_eq(fwrite(data, 1, n, fp), n);
    fclose(fp);
}

/* Writes [u64 LE header length][header][data] to dir/name; returns the malloc'd path. */
static char *st_file(const char *dir, const char *name, const char *header, const void *data, size_t dlen) {
    char *p = lb_path_join(dir, name);
    size_t hl = strlen(header);
    unsigned char *buf = malloc(8 + hl + dlen + 1);
    uint64_t n = hl;
    memcpy(buf, &n, 8);
    memcpy(buf + 8, header, hl);
    if (dlen) memcpy(buf + 8 + hl, data, dlen);
    write_bytes(p, buf, 8 + hl + dlen);
    free(buf);
    return p;
}

/* Opens a file expected to be rejected; checks the status and that the message contains want. */
static void expect_bad(const char *header, const void *data, size_t dlen, lb_status code, const char *want) {
    char *d = mktmpdir();
    char *p = st_file(d, "bad.safetensors", header, data, dlen);
    lb_error e = {0};
    lb_st_file *f = lb_st_open(p, &e);
    cr_assert_null(f, "accepted bad header %s", header);
    cr_assert_eq(e.code, code, "code %d for %s: %s", e.code, header, e.msg);
    cr_assert_not_null(strstr(e.msg, want), "message \"%s\" lacks \"%s\"", e.msg, want);
    cr_assert_not_null(strstr(e.msg, "bad.safetensors"), "message \"%s\" does not name the file", e.msg);
    free(p);
    rm_rf(d);
    free(d);
}

/* Path of the reference python, or NULL (test skipped; failure when CI=true). */
static const char *ref_python(void) {
    static char buf[1024];
    const char *p = getenv("LORABERT_REF_PYTHON");
    if (!p) {
        const char *home = getenv("HOME");
        snprintf(buf, sizeof buf, "%s/.cache/lorabert/refenv/bin/python", home ? home : "");
        p = buf;
    }
    /* setup_env.sh writes .lorabert-pins last: without it the env is absent or half-built. */
    char stamp[1100];
    snprintf(stamp, sizeof stamp, "%s", p);
    char *slash = strrchr(stamp, '/');
    if (slash) {
        *slash = '\0';
        slash = strrchr(stamp, '/');
        if (slash) strcpy(slash, "/.lorabert-pins");
    }
    if (access(p, X_OK) == 0 && (getenv("LORABERT_REF_PYTHON") || access(stamp, R_OK) == 0)) return p;
    const char *ci = getenv("CI");
    if (ci && strcmp(ci, "true") == 0) cr_assert_fail("CI=true but the reference python env is missing (%s)", p);
    return NULL;
}

static int run_ref(const char *py, const char *cmd, const char *arg) {
    char line[9000];
    snprintf(line, sizeof line, "'%s' '%s' %s '%s' >/dev/null", py, in_repo("tools/reference/st_ref.py"), cmd, arg);
    return system(line);
}

static void *read_all(const char *path, size_t *n) {
    char *d;
    lb_error e;
    cr_assert_eq(lb_read_file(path, &d, n, &e), LB_OK, "%s", e.msg);
    return d;
}

/* Every tensor of f equals the .f32 files python wrote for it, bit for bit. */
static void check_against_expected(lb_st_file *f, const char *expdir) {
    lb_error e;
    for (size_t i = 0; i < lb_st_count(f); i++) {
        const lb_st_tensor *t = lb_st_at(f, i);
        char *fn = malloc(strlen(t->name) + 8);
        sprintf(fn, "%s.f32", t->name);
        char *p = lb_path_join(expdir, fn);
        size_t n;
        float *want = read_all(p, &n);
        cr_assert_eq(n, (size_t)t->numel * 4, "%s: numel %lld vs expected %zu floats", t->name, (long long)t->numel,
                     n / 4);
        const float *got = lb_st_f32(f, t, &e);
        cr_assert_not_null(got, "%s", e.msg);
        cr_assert_eq(memcmp(got, want, n), 0, "%s (%s): values differ from python", t->name, lb_dtype_name(t->dtype));
        free(want);
        free(p);
        free(fn);
    }
}

/* ---- files written by the real package --------------------------------------------------- */

Test(safetensors, reads_files_written_by_python) {
    const char *py = ref_python();
    if (!py) cr_skip_test("reference python env absent (tools/reference/setup_env.sh)");
    char *d = mktmpdir();
    cr_assert_eq(run_ref(py, "gen", d), 0, "st_ref.py gen failed");
    lb_error e;

    char *p = lb_path_join(d, "mixed.safetensors");
    lb_st_file *f = lb_st_open(p, &e);
    cr_assert_not_null(f, "%s", e.msg);
    cr_assert_eq(lb_st_count(f), 12);
    cr_assert_str_eq(lb_st_metadata(f, "format"), "pt");
    cr_assert_null(lb_st_metadata(f, "nope"));
    const lb_st_tensor *t = lb_st_find(f, "w.f64");
    cr_assert_not_null(t);
    cr_assert_eq(t->dtype, LB_DT_F64);
    cr_assert_eq(t->ndim, 3);
    cr_assert_eq(t->shape[0], 2);
    cr_assert_eq(t->shape[1], 3);
    cr_assert_eq(t->shape[2], 2);
    cr_assert_eq(t->numel, 12);
    cr_assert_eq(t->nbytes, 96);
    t = lb_st_find(f, "s.scalar");
    cr_assert_eq(t->ndim, 0);
    cr_assert_eq(t->numel, 1);
    t = lb_st_find(f, "e.empty");
    cr_assert_eq(t->ndim, 2);
    cr_assert_eq(t->numel, 0);
    cr_assert_eq(t->shape[0], 3);
    /* Zero-copy for aligned F32. */
    t = lb_st_find(f, "w.f32");
    cr_assert_eq((const void *)lb_st_f32(f, t, &e), t->data);
    char *ed = lb_path_join(d, "expected/mixed.safetensors");
    check_against_expected(f, ed);
    /* A second request returns the same cached conversion. */
    t = lb_st_find(f, "w.f16");
    cr_assert_eq(lb_st_f32(f, t, &e), lb_st_f32(f, t, &e));
    lb_st_close(f);
    free(ed);
    free(p);

    p = lb_path_join(d, "numpy.safetensors");
    f = lb_st_open(p, &e);
    cr_assert_not_null(f, "%s", e.msg);
    cr_assert_eq(lb_st_count(f), 4);
    cr_assert_null(lb_st_metadata(f, "format"));
    ed = lb_path_join(d, "expected/numpy.safetensors");
    check_against_expected(f, ed);
    lb_st_close(f);
    free(ed);
    free(p);

    p = lb_path_join(d, "sharded");
    f = lb_st_open_dir(p, &e);
    cr_assert_not_null(f, "%s", e.msg);
    cr_assert_eq(lb_st_count(f), 4);
    cr_assert_not_null(strstr(lb_st_find(f, "layer.1.weight")->file, "model-00002-of-00002"));
    cr_assert_not_null(strstr(lb_st_find(f, "layer.0.bias")->file, "model-00001-of-00002"));
    cr_assert_str_eq(lb_st_metadata(f, "format"), "pt");
    ed = lb_path_join(d, "expected/sharded");
    check_against_expected(f, ed);
    lb_st_close(f);
    free(ed);
    free(p);
    rm_rf(d);
    free(d);
}

/* ---- handcrafted files --------------------------------------------------------------------- */

Test(safetensors, minimal_valid_and_padding) {
    char *d = mktmpdir();
    lb_error e;
    float v[2] = {1.5f, -2.0f};
    /* Trailing space padding and leading whitespace are accepted. */
    const char *hdrs[] = {
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}       ",
        "  \n{\"a\":{\"shape\":[2],\"data_offsets\":[0,8],\"dtype\":\"F32\"}}",
    };
    for (int i = 0; i < 2; i++) {
        char *p = st_file(d, "ok.safetensors", hdrs[i], v, 8);
        lb_st_file *f = lb_st_open(p, &e);
        cr_assert_not_null(f, "%s", e.msg);
        cr_assert_eq(lb_st_count(f), 1);
        const float *x = lb_st_f32(f, lb_st_find(f, "a"), &e);
        cr_assert_not_null(x, "%s", e.msg);
        cr_assert_eq(x[0], 1.5f);
        cr_assert_eq(x[1], -2.0f);
        lb_st_close(f);
        free(p);
    }
    /* No tensors at all. */
    char *p = st_file(d, "empty.safetensors", "{}", NULL, 0);
    lb_st_file *f = lb_st_open(p, &e);
    cr_assert_not_null(f, "%s", e.msg);
    cr_assert_eq(lb_st_count(f), 0);
    cr_assert_null(lb_st_find(f, "a"));
    lb_st_close(f);
    free(p);
    rm_rf(d);
    free(d);
}

Test(safetensors, misaligned_f32_is_copied) {
    /* A 3-byte-long header leaves the buffer at file offset 11: F32 data is not 4-aligned. */
    char *d = mktmpdir();
    const char *h = "{\"x\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]}}";
    char hdr[128];
    snprintf(hdr, sizeof hdr, "%s%s", h,
             (strlen(h) % 4 == 3) ? "" : (strlen(h) % 4 == 0 ? "   " : (strlen(h) % 4 == 1 ? "  " : " ")));
    cr_assert_eq(strlen(hdr) % 4, 3);
    float v[3] = {0.1f, 2e30f, -7.0f};
    char *p = st_file(d, "m.safetensors", hdr, v, 12);
    lb_error e;
    lb_st_file *f = lb_st_open(p, &e);
    cr_assert_not_null(f, "%s", e.msg);
    const lb_st_tensor *t = lb_st_find(f, "x");
    const float *x = lb_st_f32(f, t, &e);
    cr_assert_neq((const void *)x, t->data);
    cr_assert_eq(((uintptr_t)x) % 4, 0);
    cr_assert_eq(memcmp(x, v, 12), 0);
    lb_st_close(f);
    free(p);
    rm_rf(d);
    free(d);
}

Test(safetensors, f16_bf16_conversions) {
    char *d = mktmpdir();
    /* f16: 1.0, -2.0, smallest subnormal, largest subnormal, max normal, +inf, -0.
     * bf16: 1.0, -2.0, 1.0e-38-ish subnormal (0x0001), inf. */
    uint16_t h[7] = {0x3C00, 0xC000, 0x0001, 0x03FF, 0x7BFF, 0x7C00, 0x8000};
    uint16_t b[4] = {0x3F80, 0xC000, 0x0001, 0x7F80};
    unsigned char data[22];
    memcpy(data, h, 14);
    memcpy(data + 14, b, 8);
    char *p = st_file(d, "h.safetensors",
                      "{\"h\":{\"dtype\":\"F16\",\"shape\":[7],\"data_offsets\":[0,14]},"
                      "\"b\":{\"dtype\":\"BF16\",\"shape\":[4],\"data_offsets\":[14,22]}}",
                      data, 22);
    lb_error e;
    lb_st_file *f = lb_st_open(p, &e);
    cr_assert_not_null(f, "%s", e.msg);
    const float *x = lb_st_f32(f, lb_st_find(f, "h"), &e);
    cr_assert_eq(x[0], 1.0f);
    cr_assert_eq(x[1], -2.0f);
    cr_assert_eq(x[2], ldexpf(1.0f, -24));
    cr_assert_eq(x[3], ldexpf(1023.0f, -24));
    cr_assert_eq(x[4], 65504.0f);
    cr_assert(isinf(x[5]) && x[5] > 0);
    cr_assert(x[6] == 0.0f && signbit(x[6]));
    const float *y = lb_st_f32(f, lb_st_find(f, "b"), &e);
    cr_assert_eq(y[0], 1.0f);
    cr_assert_eq(y[1], -2.0f);
    cr_assert_eq(y[2], ldexpf(1.0f, -133));
    cr_assert(isinf(y[3]));
    /* lb_st_at lists tensors in file order. */
    cr_assert_str_eq(lb_st_at(f, 0)->name, "h");
    cr_assert_str_eq(lb_st_at(f, 1)->name, "b");
    cr_assert_null(lb_st_at(f, 2));
    lb_st_close(f);
    free(p);
    rm_rf(d);
    free(d);
}

#define T1(dt, shape, off) "{\"t\":{\"dtype\":\"" dt "\",\"shape\":" shape ",\"data_offsets\":" off "}}"
static const unsigned char Z[64];

Test(safetensors, rejects_short_files) {
    char *d = mktmpdir();
    lb_error e;
    for (size_t n = 0; n < 8; n++) {
        char *p = lb_path_join(d, "short.safetensors");
        write_bytes(p, "\x02\0\0\0\0\0\0", n);
        cr_assert_null(lb_st_open(p, &e));
        cr_assert_eq(e.code, LB_ERR_FORMAT);
        cr_assert_not_null(strstr(e.msg, "shorter than the 8-byte header length"), "%s", e.msg);
        free(p);
    }
    cr_assert_null(lb_st_open("/nonexistent/x.safetensors", &e));
    cr_assert_eq(e.code, LB_ERR_IO);
    cr_assert_null(lb_st_open(d, &e)); /* a directory */
    cr_assert_eq(e.code, LB_ERR_IO);
    rm_rf(d);
    free(d);
}

Test(safetensors, rejects_bad_header_length) {
    char *d = mktmpdir();
    lb_error e;
    unsigned char buf[32] = {0};
    uint64_t n = 100000001ull;
    memcpy(buf, &n, 8);
    char *p = lb_path_join(d, "big.safetensors");
    write_bytes(p, buf, 32);
    cr_assert_null(lb_st_open(p, &e));
    cr_assert_not_null(strstr(e.msg, "exceeds the maximum 100000000"), "%s", e.msg);
    n = 25; /* past the end of a 32-byte file */
    memcpy(buf, &n, 8);
    write_bytes(p, buf, 32);
    cr_assert_null(lb_st_open(p, &e));
    cr_assert_not_null(strstr(e.msg, "runs past the end of the file"), "%s", e.msg);
    n = UINT64_MAX;
    memcpy(buf, &n, 8);
    write_bytes(p, buf, 32);
    cr_assert_null(lb_st_open(p, &e));
    cr_assert_eq(e.code, LB_ERR_FORMAT);
    free(p);
    rm_rf(d);
    free(d);
}

Test(safetensors, rejects_non_object_headers) {
    expect_bad("[1,2]   ", NULL, 0, LB_ERR_FORMAT, "must be a JSON object");
    expect_bad("\"abc\"   ", NULL, 0, LB_ERR_FORMAT, "must be a JSON object");
    expect_bad("        ", NULL, 0, LB_ERR_FORMAT, "only whitespace");
    expect_bad("{\"a\":", NULL, 0, LB_ERR_FORMAT, "not valid JSON");
    expect_bad("{} x", NULL, 0, LB_ERR_FORMAT, "not valid JSON");
    expect_bad("{\"\xff\":1}", NULL, 0, LB_ERR_FORMAT, "not valid UTF-8");
    expect_bad("{}\x01", NULL, 0, LB_ERR_FORMAT, "control byte 0x01");
    expect_bad("{\"t\":5}", NULL, 0, LB_ERR_FORMAT, "entry is not an object");
}

Test(safetensors, rejects_bad_dtype_and_metadata) {
    expect_bad(T1("F17", "[1]", "[0,4]"), Z, 4, LB_ERR_FORMAT, "unknown dtype \"F17\"");
    expect_bad(T1("F8_E4M3", "[1]", "[0,1]"), Z, 1, LB_ERR_UNSUPPORTED, "dtype F8_E4M3 is not supported");
    expect_bad("{\"__metadata__\":{\"format\":1}}", NULL, 0, LB_ERR_FORMAT, "__metadata__ value for \"format\"");
    expect_bad("{\"__metadata__\":[\"x\"]}", NULL, 0, LB_ERR_FORMAT, "__metadata__ must be an object");
    expect_bad("{\"t\":{\"dtype\":\"F32\",\"shape\":[1]}}", NULL, 0, LB_ERR_FORMAT, "data_offsets must be");
    expect_bad("{\"t\":{\"shape\":[1],\"data_offsets\":[0,4]}}", Z, 4, LB_ERR_FORMAT, "missing or non-string dtype");
    expect_bad("{\"t\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", Z, 4, LB_ERR_FORMAT, "non-array shape");
}

Test(safetensors, rejects_bad_shapes) {
    expect_bad(T1("F32", "[-1]", "[0,4]"), Z, 4, LB_ERR_FORMAT,
               "header byte 29: shape and data_offsets values must be plain");
    expect_bad(T1("F32", "[1.5]", "[0,4]"), Z, 4, LB_ERR_FORMAT, "must be plain non-negative integers");
    expect_bad(T1("F32", "[1.0]", "[0,4]"), Z, 4, LB_ERR_FORMAT, "must be plain non-negative integers");
    expect_bad(T1("F32", "[1e0]", "[0,4]"), Z, 4, LB_ERR_FORMAT, "must be plain non-negative integers");
    expect_bad(T1("F32", "[9007199254740993]", "[0,4]"), Z, 4, LB_ERR_FORMAT,
               "shape[0] is not a non-negative integer below 2^53");
    /* Numbers elsewhere (unknown fields) are not shape values. */
    char *d = mktmpdir();
    free(st_file(d, "x.safetensors", "{\"t\":{\"x\":[-1.5],\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", Z,
                 4));
    char *p = lb_path_join(d, "x.safetensors");
    lb_error e;
    lb_st_file *f = lb_st_open(p, &e);
    cr_assert_not_null(f, "%s", e.msg);
    lb_st_close(f);
    free(p);
    rm_rf(d);
    free(d);
    expect_bad(T1("F32", "[1,\"2\"]", "[0,8]"), Z, 8, LB_ERR_FORMAT, "shape[1] is not a non-negative integer");
    expect_bad(T1("F32", "[4503599627370496,4503599627370496]", "[0,4]"), Z, 4, LB_ERR_FORMAT, "shape overflows");
    expect_bad(T1("F32", "[1,1,1,1,1,1,1,1,1]", "[0,4]"), Z, 4, LB_ERR_UNSUPPORTED, "9 dimensions");
    expect_bad(T1("F32", "[1e300]", "[0,4]"), Z, 4, LB_ERR_FORMAT, "must be plain non-negative integers");
}

Test(safetensors, rejects_bad_offsets) {
    /* shape x dtype != byte range */
    expect_bad(T1("F32", "[2]", "[0,4]"), Z, 4, LB_ERR_FORMAT, "is 8 bytes but data_offsets span 4 bytes");
    /* hole at the start */
    expect_bad(T1("F32", "[1]", "[4,8]"), Z, 8, LB_ERR_FORMAT, "do not continue the buffer at 0");
    /* end before begin */
    expect_bad(T1("F32", "[1]", "[8,4]"), Z, 8, LB_ERR_FORMAT, "data_offsets");
    /* overlap */
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
               "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
               Z, 12, LB_ERR_FORMAT, "tensor \"b\": data_offsets [4, 12] do not continue the buffer at 8");
    /* hole in the middle */
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
               "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}",
               Z, 12, LB_ERR_FORMAT, "tensor \"b\": data_offsets [8, 12] do not continue the buffer at 4");
    /* negative / non-integer offsets */
    expect_bad(T1("F32", "[1]", "[-4,0]"), Z, 4, LB_ERR_FORMAT, "must be plain non-negative integers");
    expect_bad(T1("F32", "[1]", "[0,4,8]"), Z, 4, LB_ERR_FORMAT, "data_offsets must be");
    /* trailing bytes after the buffer, and a truncated buffer */
    expect_bad(T1("F32", "[1]", "[0,4]"), Z, 5, LB_ERR_FORMAT, "trailing bytes");
    expect_bad(T1("F32", "[2]", "[0,8]"), Z, 4, LB_ERR_FORMAT, "file is truncated");
}

Test(safetensors, rejects_duplicates) {
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
               "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
               Z, 8, LB_ERR_FORMAT, "duplicate tensor name \"a\"");
    expect_bad("{\"__metadata__\":{},\"__metadata__\":{}}", NULL, 0, LB_ERR_FORMAT,
               "duplicate header key \"__metadata__\"");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", Z, 4,
               LB_ERR_FORMAT, "duplicate field \"dtype\"");
}

Test(safetensors, every_truncation_is_rejected) {
    char *d = mktmpdir();
    float v[4] = {1, 2, 3, 4};
    char *p = st_file(d, "full.safetensors",
                      "{\"__metadata__\":{\"format\":\"pt\"},\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],"
                      "\"data_offsets\":[0,16]}}",
                      v, 16);
    size_t n;
    unsigned char *all = read_all(p, &n);
    char *q = lb_path_join(d, "cut.safetensors");
    lb_error e;
    for (size_t k = 0; k < n; k++) {
        write_bytes(q, all, k);
        lb_st_file *f = lb_st_open(q, &e);
        cr_assert_null(f, "truncated to %zu of %zu bytes but accepted", k, n);
        cr_assert_eq(e.code, LB_ERR_FORMAT, "cut at %zu: %s", k, e.msg);
    }
    write_bytes(q, all, n);
    lb_st_file *f = lb_st_open(q, &e);
    cr_assert_not_null(f, "%s", e.msg);
    lb_st_close(f);
    free(all);
    free(p);
    free(q);
    rm_rf(d);
    free(d);
}

Test(safetensors, sharded_index_errors) {
    char *d = mktmpdir();
    lb_error e;
    cr_assert_null(lb_st_open_dir(d, &e));
    cr_assert_eq(e.code, LB_ERR_IO);
    cr_assert_not_null(strstr(e.msg, "neither model.safetensors nor"), "%s", e.msg);
    float v[2] = {1, 2};
    free(st_file(d, "s1.safetensors", T1("F32", "[1]", "[0,4]"), v, 4));
    free(st_file(d, "s2.safetensors", "{\"u\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", v + 1, 4));
    char *ix = lb_path_join(d, "model.safetensors.index.json");
    write_bytes(ix, "{\"weight_map\":{\"t\":\"s1.safetensors\",\"u\":\"s2.safetensors\"}}", 58);
    lb_st_file *f = lb_st_open_dir(d, &e);
    cr_assert_not_null(f, "%s", e.msg);
    cr_assert_eq(lb_st_count(f), 2);
    cr_assert_eq(lb_st_f32(f, lb_st_find(f, "u"), &e)[0], 2.0f);
    lb_st_close(f);
    const char *bad[][2] = {
        {"{\"weight_map\":{\"t\":\"s1.safetensors\",\"x\":\"s2.safetensors\"}}",
         "\"x\" is in s2.safetensors, but no shard"},
        {"{\"weight_map\":{\"t\":\"s2.safetensors\"}}", "\"t\" is in s2.safetensors, but no shard"},
        {"{\"weight_map\":{\"t\":\"s1.safetensors\",\"u\":\"s1.safetensors\"}}",
         "\"u\" is in s1.safetensors, but no shard"},
        {"{\"weight_map\":{\"u\":\"s2.safetensors\",\"t\":\"s2.safetensors\",\"x\":\"s1.safetensors\"}}",
         "\"t\" is in s2.safetensors, but it is in another"},
        {"{\"weight_map\":{\"t\":\"../s1.safetensors\"}}", "is not a file name inside"},
        {"{\"weight_map\":{\"t\":\"missing.safetensors\"}}", "cannot open"},
        {"{\"weight_map\":{\"t\":1}}", "is not a string"},
        {"{\"meta\":{}}", "missing \"weight_map\""},
        {"[]", "expected a JSON object, found an array"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        write_bytes(ix, bad[i][0], strlen(bad[i][0]));
        cr_assert_null(lb_st_open_dir(d, &e), "accepted %s", bad[i][0]);
        cr_assert_not_null(strstr(e.msg, bad[i][1]), "message \"%s\" lacks \"%s\"", e.msg, bad[i][1]);
    }
    /* The same tensor in two shards. */
    free(st_file(d, "s3.safetensors", T1("F32", "[1]", "[0,4]"), v, 4));
    const char *dup = "{\"weight_map\":{\"t\":\"s1.safetensors\",\"z\":\"s3.safetensors\"}}";
    write_bytes(ix, dup, strlen(dup));
    cr_assert_null(lb_st_open_dir(d, &e));
    cr_assert_not_null(strstr(e.msg, "appears twice"), "%s", e.msg);
    /* model.safetensors wins over the index when both exist. */
    free(st_file(d, "model.safetensors", "{}", NULL, 0));
    f = lb_st_open_dir(d, &e);
    cr_assert_not_null(f, "%s", e.msg);
    cr_assert_eq(lb_st_count(f), 0);
    lb_st_close(f);
    free(ix);
    rm_rf(d);
    free(d);
}

/* ---- writer --------------------------------------------------------------------------------- */

/* The tensor set of golden_tensors() in tools/reference/st_ref.py, given in a scrambled order
 * (the writer must sort as the reference does). */
typedef struct golden {
    float bw[12], ab[4];
    uint16_t emb[6], h[2];
    int64_t ids[5];
    uint8_t mask[4], u[3];
    double scalar;
    int32_t i32[2];
    lb_st_out outs[10];
} golden;

static void golden_outs(golden *g) {
    for (int i = 0; i < 12; i++) g->bw[i] = i * 0.25f - 1.0f;
    for (int i = 0; i < 4; i++) g->ab[i] = (float)i;
    for (int i = 0; i < 6; i++) g->emb[i] = (uint16_t)(0x3C00 + i);
    for (int i = 0; i < 5; i++) g->ids[i] = i * 1000 - 3;
    uint8_t m[4] = {1, 0, 0, 1}, u[3] = {1, 2, 255};
    memcpy(g->mask, m, 4);
    memcpy(g->u, u, 3);
    g->scalar = 3.5;
    g->h[0] = 0x3F80;
    g->h[1] = 0xC000;
    g->i32[0] = -7;
    g->i32[1] = 7;
    lb_st_out o[10] = {
        {"zz.empty", LB_DT_F32, 2, {0, 3}, NULL},
        {"mask", LB_DT_BOOL, 2, {2, 2}, g->mask},
        {"emb", LB_DT_F16, 2, {2, 3}, g->emb},
        {"b.weight", LB_DT_F32, 2, {3, 4}, g->bw},
        {"u", LB_DT_U8, 1, {3}, g->u},
        {"ids", LB_DT_I64, 1, {5}, g->ids},
        {"scalar", LB_DT_F64, 0, {0}, &g->scalar},
        {"h", LB_DT_BF16, 1, {2}, g->h},
        {"a.bias", LB_DT_F32, 1, {4}, g->ab},
        {"i32", LB_DT_I32, 1, {2}, g->i32},
    };
    memcpy(g->outs, o, sizeof o);
}

static const char *const META_PT[] = {"format", "pt", NULL};

Test(safetensors, writer_is_byte_identical_to_reference) {
    golden g;
    golden_outs(&g);
    char *d = mktmpdir();
    char *p = lb_path_join(d, "ours.safetensors");
    lb_error e;
    cr_assert_eq(lb_st_write(p, g.outs, 10, META_PT, &e), LB_OK, "%s", e.msg);
    size_t n1, n2;
    unsigned char *ours = read_all(p, &n1);
    /* Committed golden written by safetensors.torch.save_file 0.3.3 (st_ref.py golden). */
    unsigned char *ref = read_all(in_repo("tests/data/safetensors/golden.safetensors"), &n2);
    cr_assert_eq(n1, n2, "size %zu vs reference %zu", n1, n2);
    cr_assert_eq(memcmp(ours, ref, n1), 0, "bytes differ from the committed reference file");
    free(ref);
    const char *py = ref_python();
    if (py) { /* Regenerate with the live package too, and let it load and check our file. */
        char *q = lb_path_join(d, "ref.safetensors");
        cr_assert_eq(run_ref(py, "golden", q), 0);
        ref = read_all(q, &n2);
        cr_assert_eq(n1, n2);
        cr_assert_eq(memcmp(ours, ref, n1), 0, "bytes differ from safetensors.torch.save_file");
        cr_assert_eq(run_ref(py, "check", p), 0, "python could not load our file");
        free(ref);
        free(q);
    }
    /* And it reads back through our own reader. */
    lb_st_file *f = lb_st_open(p, &e);
    cr_assert_not_null(f, "%s", e.msg);
    cr_assert_eq(lb_st_count(f), 10);
    cr_assert_eq(memcmp(lb_st_find(f, "ids")->data, g.ids, 40), 0);
    cr_assert_eq(lb_st_f32(f, lb_st_find(f, "b.weight"), &e)[11], 1.75f);
    lb_st_close(f);
    free(ours);
    free(p);
    rm_rf(d);
    free(d);
}

Test(safetensors, writer_matches_python_files) {
    /* Read python's files, write their tensors back in reverse order: the same bytes. */
    const char *py = ref_python();
    if (!py) cr_skip_test("reference python env absent (tools/reference/setup_env.sh)");
    char *d = mktmpdir();
    cr_assert_eq(run_ref(py, "gen", d), 0);
    const char *files[] = {"mixed.safetensors", "numpy.safetensors", "sharded/model-00002-of-00002.safetensors"};
    for (int k = 0; k < 3; k++) {
        char *p = lb_path_join(d, files[k]), *q = lb_path_join(d, "again.safetensors");
        lb_error e;
        lb_st_file *f = lb_st_open(p, &e);
        cr_assert_not_null(f, "%s", e.msg);
        size_t n = lb_st_count(f);
        lb_st_out *o = calloc(n, sizeof *o);
        for (size_t i = 0; i < n; i++) {
            const lb_st_tensor *t = lb_st_at(f, n - 1 - i);
            o[i] = (lb_st_out){t->name, t->dtype, t->ndim, {0}, t->data};
            memcpy(o[i].shape, t->shape, sizeof t->shape);
        }
        /* numpy's save_file was called without metadata. */
        cr_assert_eq(lb_st_write(q, o, n, k == 1 ? NULL : META_PT, &e), LB_OK, "%s", e.msg);
        size_t n1, n2;
        unsigned char *a = read_all(p, &n1), *b = read_all(q, &n2);
        cr_assert_eq(n1, n2, "%s: %zu vs %zu bytes", files[k], n2, n1);
        cr_assert_eq(memcmp(a, b, n1), 0, "%s: bytes differ", files[k]);
        free(a);
        free(b);
        free(o);
        lb_st_close(f);
        free(p);
        free(q);
    }
    rm_rf(d);
    free(d);
}

Test(safetensors, writer_escapes_and_pads) {
    char *d = mktmpdir();
    char *p = lb_path_join(d, "w.safetensors");
    float v = 2.0f;
    lb_st_out o[1] = {{"we\"ird\\name\n\x01/\xc3\xa9", LB_DT_F32, 1, {1}, &v}};
    const char *meta[] = {"k", "v\t", "k2", "v2", NULL};
    lb_error e;
    cr_assert_eq(lb_st_write(p, o, 1, meta, &e), LB_OK, "%s", e.msg);
    size_t n;
    unsigned char *all = read_all(p, &n);
    uint64_t hl;
    memcpy(&hl, all, 8);
    cr_assert_eq(hl % 8, 0);
    cr_assert_eq(n, 8 + hl + 4);
    const char *want =
        "{\"__metadata__\":{\"k\":\"v\\t\",\"k2\":\"v2\"},"
        "\"we\\\"ird\\\\name\\n\\u0001/\xc3\xa9\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
    cr_assert_eq(memcmp(all + 8, want, strlen(want)), 0, "header: %.*s", (int)hl, all + 8);
    for (size_t i = 8 + strlen(want); i < 8 + hl; i++) cr_assert_eq(all[i], ' ');
    lb_st_file *f = lb_st_open(p, &e);
    cr_assert_not_null(f, "%s", e.msg);
    cr_assert_not_null(lb_st_find(f, o[0].name));
    cr_assert_str_eq(lb_st_metadata(f, "k"), "v\t");
    lb_st_close(f);
    /* No tensors, no metadata: "{}" padded to 8. */
    cr_assert_eq(lb_st_write(p, NULL, 0, NULL, &e), LB_OK, "%s", e.msg);
    free(all);
    all = read_all(p, &n);
    cr_assert_eq(n, 16);
    cr_assert_eq(memcmp(all + 8, "{}      ", 8), 0);
    free(all);
    free(p);
    rm_rf(d);
    free(d);
}

Test(safetensors, writer_rejects_bad_input_and_keeps_old_file) {
    char *d = mktmpdir();
    char *p = lb_path_join(d, "w.safetensors");
    lb_error e;
    float v[2] = {1, 2};
    lb_st_out ok[1] = {{"a", LB_DT_F32, 1, {2}, v}};
    cr_assert_eq(lb_st_write(p, ok, 1, NULL, &e), LB_OK, "%s", e.msg);
    lb_st_out dup[2] = {{"a", LB_DT_F32, 1, {2}, v}, {"a", LB_DT_F32, 1, {1}, v}};
    cr_assert_eq(lb_st_write(p, dup, 2, NULL, &e), LB_ERR_USAGE);
    cr_assert_not_null(strstr(e.msg, "given twice"), "%s", e.msg);
    lb_st_out neg[1] = {{"a", LB_DT_F32, 1, {-2}, v}};
    cr_assert_eq(lb_st_write(p, neg, 1, NULL, &e), LB_ERR_USAGE);
    lb_st_out nul[1] = {{"a", LB_DT_F32, 1, {2}, NULL}};
    cr_assert_eq(lb_st_write(p, nul, 1, NULL, &e), LB_ERR_USAGE);
    lb_st_out meta[1] = {{"__metadata__", LB_DT_F32, 1, {2}, v}};
    cr_assert_eq(lb_st_write(p, meta, 1, NULL, &e), LB_ERR_USAGE);
    cr_assert_eq(lb_st_write("/nonexistent/dir/x.safetensors", ok, 1, NULL, &e), LB_ERR_IO);
    lb_st_file *f = lb_st_open(p, &e);
    cr_assert_not_null(f, "%s", e.msg);
    cr_assert_eq(lb_st_find(f, "a")->numel, 2);
    lb_st_close(f);
    free(p);
    rm_rf(d);
    free(d);
}

Test(safetensors, open_mem_matches_file) {
    size_t n;
    unsigned char *img = read_all(in_repo("tests/data/safetensors/golden.safetensors"), &n);
    lb_error e;
    lb_st_file *f = lb_st_open_mem(img, n, "golden(mem)", &e);
    cr_assert_not_null(f, "%s", e.msg);
    cr_assert_eq(lb_st_count(f), 10);
    const lb_st_tensor *t = lb_st_find(f, "emb");
    cr_assert_str_eq(t->file, "golden(mem)");
    cr_assert_eq((const unsigned char *)t->data >= img && (const unsigned char *)t->data + t->nbytes <= img + n, 1);
    const float *x = lb_st_f32(f, t, &e);
    for (int i = 0; i < 6; i++) cr_assert_eq(x[i], 1.0f + i / 1024.0f);
    lb_st_close(f);
    cr_assert_null(lb_st_open_mem(img, n - 1, "cut", &e));
    cr_assert_not_null(strstr(e.msg, "cut: tensor data ends at byte"), "%s", e.msg);
    free(img);
}

/* Differential check: lorabert accepts exactly the files the real package accepts, except
 * where lorabert is stricter on purpose (deviation != NULL says why). */
Test(safetensors, accepts_what_the_reference_accepts) {
    const char *py = ref_python();
    if (!py) cr_skip_test("reference python env absent (tools/reference/setup_env.sh)");
    static const struct {
        const char *h;
        size_t n;
        const char *deviation;
    } C[] = {
        {T1("F32", "[1]", "[0,4]"), 4, NULL},
        {"  " T1("F32", "[1]", "[0,4]"), 4, NULL},
        {T1("F32", "[1]", "[0,4]") "\n\t ", 4, NULL},
        {"{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":1}}", 4, NULL},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]},"
         "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
         4, NULL},
        {"{\"__metadata__\":null}", 0, NULL},
        {"{\"__metadata__\":{\"a\":\"1\",\"a\":\"2\"}}", 0, NULL},
        {"{\"__metadata__\":{\"a\":1}}", 0, NULL},
        {"{}", 0, NULL},
        {"{}\x01", 0, NULL},
        {"[]", 0, NULL},
        {"{\"t\":5}", 0, NULL},
        {T1("F32", "[1e0]", "[0,4]"), 4, NULL},
        {T1("F32", "[1.0]", "[0,4]"), 4, NULL},
        {T1("F32", "[1]", "[0,4.0]"), 4, NULL},
        {"{\"t\":{\"x\":[-1.5],\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, NULL},
        {T1("F32", "[-1]", "[0,4]"), 4, NULL},
        {T1("F32", "[1.5]", "[0,4]"), 4, NULL},
        {T1("F32", "[2]", "[0,4]"), 4, NULL},
        {T1("F32", "[1]", "[4,8]"), 8, NULL},
        {T1("F32", "[1]", "[8,4]"), 8, NULL},
        {T1("F32", "[1]", "[0,4]"), 5, NULL},
        {T1("F32", "[2]", "[0,8]"), 4, NULL},
        {T1("F17", "[1]", "[0,4]"), 4, NULL},
        {T1("BF16", "[3]", "[0,6]"), 6, NULL},
        {T1("BOOL", "[]", "[0,1]"), 1, NULL},
        {T1("F32", "[4503599627370496,4503599627370496]", "[0,4]"), 4, NULL},
        {"{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, NULL},
        {"{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, NULL},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
         "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
         12, NULL},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
         "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
         4, "0.3.3 keeps the last of repeated names; lorabert rejects duplicate tensor names"},
        {T1("F32", "[1,1,1,1,1,1,1,1,1]", "[0,4]"), 4, "lorabert supports at most 8 dimensions"},
    };
    size_t nc = sizeof C / sizeof *C;
    char *d = mktmpdir();
    for (size_t i = 0; i < nc; i++) {
        char fn[32];
        snprintf(fn, sizeof fn, "c%02zu.safetensors", i);
        free(st_file(d, fn, C[i].h, Z, C[i].n));
    }
    char line[9000];
    snprintf(line, sizeof line, "'%s' '%s' judge '%s'", py, in_repo("tools/reference/st_ref.py"), d);
    FILE *pp = popen(line, "r");
    cr_assert_not_null(pp);
    size_t seen = 0;
    char fn[64], verdict[8];
    while (fscanf(pp, "%63s %7s", fn, verdict) == 2) {
        size_t i = (size_t)atoi(fn + 1);
        cr_assert_lt(i, nc);
        char *p = lb_path_join(d, fn);
        lb_error e;
        lb_st_file *f = lb_st_open(p, &e);
        bool ours = f != NULL, theirs = strcmp(verdict, "OK") == 0;
        lb_st_close(f);
        free(p);
        seen++;
        if (C[i].deviation) {
            cr_assert(theirs && !ours, "case %zu: expected the documented deviation (%s)", i, C[i].deviation);
            continue;
        }
        cr_assert_eq(ours, theirs, "case %zu %s: reference %s, lorabert %s (%s)", i, C[i].h, verdict,
                     ours ? "OK" : "ERR", ours ? "" : e.msg);
    }
    cr_assert_eq(pclose(pp), 0);
    cr_assert_eq(seen, nc);
    rm_rf(d);
    free(d);
}
