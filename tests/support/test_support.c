/* Shared test helpers; see test_support.h. */
#include "test_support.h"
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "base/fileio.h"
#include "base/outdir.h"

const char *repo_root(void) {
    static char root[4096];
    if (root[0]) return root;
    if (access("tests/unit", F_OK) == 0 && access("src", F_OK) == 0) return strcpy(root, ".");
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return strcpy(root, ".");
    exe[n] = '\0';
    for (int up = 0; up < 4; up++) {
        char *slash = strrchr(exe, '/');
        if (!slash) return strcpy(root, ".");
        *slash = '\0';
    }
    return strcpy(root, exe);
}

const char *in_repo(const char *rel) {
    static char buf[8192];
    snprintf(buf, sizeof buf, "%s/%s", repo_root(), rel);
    return buf;
}

const char *shared_dir(void) {
    static char buf[4200];
    const char *s = getenv("LORABERT_SHARED");
    if (s && *s) return s;
    snprintf(buf, sizeof buf, "%s/../shared", repo_root());
    return buf;
}

char *shared_path(const char *rel) {
    char *p = lb_path_join(shared_dir(), rel);
    cr_assert_not_null(p);
    return p;
}

cJSON *read_json(const char *path) {
    char *text;
    size_t len;
    lb_error err;
    cr_assert_eq(lb_read_file(path, &text, &len, &err), LB_OK, "%s", err.msg);
    cJSON *j = cJSON_ParseWithLength(text, len);
    free(text);
    cr_assert_not_null(j, "%s: bad JSON", path);
    return j;
}

const char *make_scratch_dir(const char *prefix) {
    static char dir[256];
    snprintf(dir, sizeof dir, "/tmp/%sXXXXXX", prefix);
    cr_assert_not_null(mkdtemp(dir), "mkdtemp %s", dir);
    return dir;
}

void remove_tree(const char *path) {
    lb_error err;
    cr_assert_eq(lb_remove_tree(path, &err), LB_OK, "%s", err.msg);
}

void copy_file(const char *src, const char *dst) {
    FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
    cr_assert(in && out, "copy %s -> %s", src, dst);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0) cr_assert_eq(fwrite(buf, 1, n, out), n);
    cr_assert(!ferror(in), "read %s", src);
    fclose(in);
    cr_assert_eq(fclose(out), 0, "write %s", dst);
}

void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    fputs(text, f);
    cr_assert_eq(fclose(f), 0, "write %s", path);
}

char *slurp_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    char *d = malloc(*len + 1);
    cr_assert_not_null(d);
    cr_assert_eq(fread(d, 1, *len, f), *len, "read %s", path);
    d[*len] = '\0';
    fclose(f);
    return d;
}
