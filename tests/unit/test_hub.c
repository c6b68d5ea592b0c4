/* Tests for src/formats/hub: repo ids, cache layout, downloads against a local look-alike of the
 * Hub (tests/support/hubserver.py on 127.0.0.1; no test touches the internet): redirects,
 * 401/404, resumed and corrupted transfers, offline mode, unreachable hub, write failures. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "base/fileio.h"
#include "formats/hub.h"

/* ------------------------------------------------------------------ server fixture */

static pid_t srv_pid = -1;
static char root[64];
static char cache[128];
static char endpoint[64];

static void clean_env(void) {
    const char *vars[] = {
        "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH",  "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE",
        "HF_HOME",  "HUGGINGFACE_HUB_CACHE",  "XDG_CACHE_HOME", "HF_HUB_CACHE",   "HF_ENDPOINT"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) unsetenv(vars[i]);
    setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1", 1);
}

/* Starts the look-alike hub in a fresh temp root; false when python3 is missing. */
static bool srv_start(void) {
    clean_env();
    strcpy(root, "/tmp/lbhubXXXXXX");
    cr_assert_not_null(mkdtemp(root));
    cr_assert(lb_file_exists("tests/support/hubserver.py"), "run the tests from the repository root");
    if (system("command -v python3 >/dev/null 2>&1") != 0) return false;
    srv_pid = fork();
    cr_assert(srv_pid >= 0);
    if (srv_pid == 0) {
        execlp("python3", "python3", "tests/support/hubserver.py", root, (char *)NULL);
        _exit(127);
    }
    char port_path[128];
    snprintf(port_path, sizeof port_path, "%s/port", root);
    for (int i = 0; i < 200 && !lb_file_exists(port_path); i++) {
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    char *port = NULL;
    lb_error e;
    cr_assert_eq(lb_read_file(port_path, &port, NULL, &e), LB_OK, "hub server did not start: %s", e.msg);
    snprintf(endpoint, sizeof endpoint, "http://127.0.0.1:%s", port);
    free(port);
    snprintf(cache, sizeof cache, "%s/cache", root);
    setenv("HF_ENDPOINT", endpoint, 1);
    setenv("HF_HUB_CACHE", cache, 1);
    return true;
}

static void srv_stop(void) {
    if (srv_pid > 0) {
        kill(srv_pid, SIGTERM);
        waitpid(srv_pid, NULL, 0);
        srv_pid = -1;
    }
    if (root[0]) {
        char cmd[256];
        snprintf(cmd, sizeof cmd, "chmod -R u+w %s 2>/dev/null; rm -rf %s", root, root);
        (void)!system(cmd);
    }
}

#define SERVER()                                                                                \
    do {                                                                                        \
        if (!srv_start()) cr_skip_test("python3 not found: it runs the look-alike hub server"); \
    } while (0)

TestSuite(hub, .fini = srv_stop);

/* ------------------------------------------------------------------ helpers */

static char *slurp(const char *path) {
    char *d = NULL;
    lb_error e;
    if (lb_read_file(path, &d, NULL, &e)) return NULL;
    return d;
}

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...) {
    static char bufs[8][512];
    static int k;
    char *b = bufs[k++ % 8];
    va_list ap;
    va_start(ap, f);
    vsnprintf(b, 512, f, ap);
    va_end(ap);
    return b;
}

/* Number of logged requests whose JSON line contains every needle (NULL-terminated). */
static int requests(const char *needle, const char *needle2) {
    char *log = slurp(fmt("%s/requests.log", root));
    if (!log) return 0;
    int n = 0;
    for (char *line = strtok(log, "\n"); line; line = strtok(NULL, "\n"))
        if (strstr(line, needle) && (!needle2 || strstr(line, needle2))) n++;
    free(log);
    return n;
}

static void control(const char *json) {
    lb_error e;
    cr_assert_eq(lb_write_file_atomic(fmt("%s/control.json", root), json, strlen(json), &e), LB_OK);
}

static void assert_same_file(const char *got, const char *want) {
    char *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    lb_error e;
    cr_assert_eq(lb_read_file(got, &a, &na, &e), LB_OK, "%s", e.msg);
    cr_assert_eq(lb_read_file(want, &b, &nb, &e), LB_OK, "%s", e.msg);
    cr_assert_eq(na, nb, "%s: %zu bytes, want %zu", got, na, nb);
    cr_assert(memcmp(a, b, na) == 0, "%s differs from %s", got, want);
    free(a);
    free(b);
}

static char *resolve_ok(const char *id, const char *kind, const char *rev, const char *const *include) {
    char *dir = NULL;
    lb_error e = {0};
    lb_status st = lb_hub_resolve(id, kind, rev, include, &dir, &e);
    cr_assert_eq(st, LB_OK, "resolve %s: %s", id, e.msg);
    cr_assert(lb_dir_exists(dir));
    return dir;
}

static lb_status resolve_fail(const char *id, const char *kind, const char *rev, const char *const *include,
                              lb_error *e) {
    char *dir = NULL;
    lb_status st = lb_hub_resolve(id, kind, rev, include, &dir, e);
    cr_assert_neq(st, LB_OK, "resolve %s unexpectedly succeeded: %s", id, dir);
    cr_assert_null(dir);
    cr_assert(e->msg[0] && !strchr(e->msg, '\n'), "want a one-line message, got '%s'", e->msg);
    return st;
}

static size_t count_files(const char *dir, const char *suffix) {
    char cmd[512];
    snprintf(cmd, sizeof cmd, "find %s -name '*%s' 2>/dev/null | wc -l", dir, suffix);
    FILE *p = popen(cmd, "r");
    size_t n = 0;
    if (p) {
        if (fscanf(p, "%zu", &n) != 1) n = 0;
        pclose(p);
    }
    return n;
}

/* ------------------------------------------------------------------ pure functions */

Test(hub_ids, repo_id_shapes) {
    cr_assert(lb_hub_looks_like_repo_id("distilbert-base-uncased"));
    cr_assert(lb_hub_looks_like_repo_id("shawhin/imdb-truncated"));
    cr_assert(lb_hub_looks_like_repo_id("sentence-transformers/all-MiniLM-L6-v2"));
    cr_assert(lb_hub_looks_like_repo_id("a_b.c"));
    cr_assert_not(lb_hub_looks_like_repo_id(""));
    cr_assert_not(lb_hub_looks_like_repo_id("./model"));
    cr_assert_not(lb_hub_looks_like_repo_id("/abs/path"));
    cr_assert_not(lb_hub_looks_like_repo_id("a/b/c"));
    cr_assert_not(lb_hub_looks_like_repo_id("org/"));
    cr_assert_not(lb_hub_looks_like_repo_id("org--name"));
    cr_assert_not(lb_hub_looks_like_repo_id("a..b"));
    cr_assert_not(lb_hub_looks_like_repo_id("name-"));
    cr_assert_not(lb_hub_looks_like_repo_id("repo.git"));
    cr_assert_not(lb_hub_looks_like_repo_id("has space"));
    char long_name[120];
    memset(long_name, 'a', 97);
    long_name[97] = '\0';
    cr_assert_not(lb_hub_looks_like_repo_id(long_name));
    long_name[96] = '\0';
    cr_assert(lb_hub_looks_like_repo_id(long_name));
    /* an existing path is a path, not an id */
    cr_assert_not(lb_hub_looks_like_repo_id("tests"));
}

Test(hub_ids, folder_names_and_cache_dir) {
    char *s = lb_hub_repo_folder_name("org/name", "model");
    cr_assert_str_eq(s, "models--org--name");
    free(s);
    s = lb_hub_repo_folder_name("imdb", "dataset");
    cr_assert_str_eq(s, "datasets--imdb");
    free(s);
    cr_assert_null(lb_hub_repo_folder_name("x", "space"));

    clean_env();
    setenv("HOME", "/home/u", 1);
    s = lb_hub_cache_dir();
    cr_assert_str_eq(s, "/home/u/.cache/huggingface/hub");
    free(s);
    setenv("XDG_CACHE_HOME", "/xdg", 1);
    s = lb_hub_cache_dir();
    cr_assert_str_eq(s, "/xdg/huggingface/hub");
    free(s);
    setenv("HF_HOME", "/hfhome", 1);
    s = lb_hub_cache_dir();
    cr_assert_str_eq(s, "/hfhome/hub");
    free(s);
    setenv("HUGGINGFACE_HUB_CACHE", "/legacy", 1);
    s = lb_hub_cache_dir();
    cr_assert_str_eq(s, "/legacy");
    free(s);
    setenv("HF_HUB_CACHE", "/new", 1);
    s = lb_hub_cache_dir();
    cr_assert_str_eq(s, "/new");
    free(s);
}

Test(hub_ids, digests_match_known_vectors) {
    char path[] = "/tmp/lbhubdigXXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, "abc", 3), 3);
    close(fd);
    char hex[65], sha1[41];
    lb_error e;
    cr_assert_eq(lb_hub_file_sha256(path, hex, &e), LB_OK);
    cr_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    /* `printf abc | git hash-object --stdin` */
    cr_assert_eq(lb_hub_git_blob_sha1(path, sha1, &e), LB_OK);
    cr_assert_str_eq(sha1, "f2ba8f84ab5c1bce84a7b441cb1959cfc7093b7f");
    unlink(path);
    cr_assert_eq(lb_hub_file_sha256(path, hex, &e), LB_ERR_IO);
    cr_assert(strstr(e.msg, path));
}

Test(hub_ids, local_paths_pass_through) {
    clean_env();
    char *dir = NULL;
    lb_error e;
    cr_assert_eq(lb_hub_resolve("tests", "model", NULL, NULL, &dir, &e), LB_OK);
    cr_assert_str_eq(dir, "tests");
    free(dir);
    cr_assert_eq(lb_hub_resolve("./no/such/dir", "model", NULL, NULL, &dir, &e), LB_ERR_IO);
    cr_assert(strstr(e.msg, "./no/such/dir") && strstr(e.msg, "no such directory"), "%s", e.msg);
    cr_assert_eq(lb_hub_resolve("Makefile", "model", NULL, NULL, &dir, &e), LB_ERR_USAGE);
    cr_assert(strstr(e.msg, "is a file"), "%s", e.msg);
    cr_assert_eq(lb_hub_resolve("org/x", "space", NULL, NULL, &dir, &e), LB_ERR_USAGE);
    setenv("HF_HUB_CACHE", "/nonexistent-lb-cache", 1);
    cr_assert_eq(lb_hub_resolve("org/x", "model", "../../etc", NULL, &dir, &e), LB_ERR_USAGE);
}

/* ------------------------------------------------------------------ against the look-alike hub */

Test(hub, downloads_model_in_hf_cache_layout) {
    SERVER();
    char *dir = resolve_ok("org/tiny", "model", NULL, NULL);
    char storage[256], repo[256];
    snprintf(storage, sizeof storage, "%s/models--org--tiny", cache);
    snprintf(repo, sizeof repo, "%s/repos/models/org--tiny", root);
    char *sha = slurp(fmt("%s/refs/main", storage));
    cr_assert_not_null(sha);
    cr_assert_eq(strlen(sha), 40, "refs/main holds the bare commit hash, got '%s'", sha);
    cr_assert_str_eq(dir, fmt("%s/snapshots/%s", storage, sha));
    const char *files[] = {".gitattributes", "config.json", "vocab.txt", "model.safetensors", "sub/dir/notes.txt"};
    for (size_t i = 0; i < 5; i++) {
        const char *p = fmt("%s/%s", dir, files[i]);
        struct stat sb;
        cr_assert_eq(lstat(p, &sb), 0, "%s missing", p);
        cr_assert(S_ISLNK(sb.st_mode), "%s is not a symlink", p);
        assert_same_file(p, fmt("%s/%s", repo, files[i]));
    }
    /* LFS blob named by its sha256, small files by git blob sha1; relative links */
    char target[512];
    ssize_t n = readlink(fmt("%s/model.safetensors", dir), target, sizeof target - 1);
    cr_assert(n > 0);
    target[n] = '\0';
    char hex[65];
    lb_error e;
    cr_assert_eq(lb_hub_file_sha256(fmt("%s/model.safetensors", repo), hex, &e), LB_OK);
    cr_assert_str_eq(target, fmt("../../blobs/%s", hex));
    n = readlink(fmt("%s/sub/dir/notes.txt", dir), target, sizeof target - 1);
    target[n] = '\0';
    char sha1[41];
    cr_assert_eq(lb_hub_git_blob_sha1(fmt("%s/sub/dir/notes.txt", repo), sha1, &e), LB_OK);
    cr_assert_str_eq(target, fmt("../../../../blobs/%s", sha1));
    cr_assert_eq(count_files(cache, ".incomplete"), 0);
    cr_assert_eq(count_files(cache, ".lock"), 0);
    /* The LFS file came from the CDN redirect, without the hub's credentials. */
    cr_assert_eq(requests("\"GET\", \"path\": \"/cdn/", NULL), 1);
    free(dir);

    /* Everything cached: a second call only asks the API for the commit. */
    int before = requests("\"path\"", NULL);
    dir = resolve_ok("org/tiny", "model", "main", NULL);
    cr_assert_eq(requests("\"path\"", NULL), before + 1);
    cr_assert_eq(requests("/resolve/", NULL), 9); /* 4 small files x (HEAD+GET) + HEAD of the LFS one */
    free(dir);
    free(sha);
}

Test(hub, include_globs_and_commit_revision) {
    SERVER();
    const char *inc[] = {"*.json", "sub/", NULL};
    char *dir = resolve_ok("org/tiny", "model", NULL, inc);
    cr_assert(lb_file_exists(fmt("%s/config.json", dir)));
    cr_assert(lb_file_exists(fmt("%s/sub/dir/notes.txt", dir)));
    cr_assert_not(lb_file_exists(fmt("%s/model.safetensors", dir)));
    cr_assert_not(lb_file_exists(fmt("%s/vocab.txt", dir)));
    cr_assert_eq(requests("/cdn/", NULL), 0);
    /* The commit hash as revision: same snapshot, no new ref. */
    const char *sha = strrchr(dir, '/') + 1;
    const char *inc2[] = {"model.safetensors", NULL};
    char *dir2 = resolve_ok("org/tiny", "model", sha, inc2);
    cr_assert_str_eq(dir, dir2);
    cr_assert(lb_file_exists(fmt("%s/model.safetensors", dir)));
    cr_assert_not(lb_file_exists(fmt("%s/models--org--tiny/refs/%s", cache, sha)));
    free(dir);
    free(dir2);
}

Test(hub, dataset_and_single_name_repos) {
    SERVER();
    char *dir = resolve_ok("org/data", "dataset", NULL, NULL);
    cr_assert(strstr(dir, "/datasets--org--data/snapshots/"));
    assert_same_file(fmt("%s/data/validation.parquet", dir),
                     fmt("%s/repos/datasets/org--data/data/validation.parquet", root));
    assert_same_file(fmt("%s/train.csv", dir), fmt("%s/repos/datasets/org--data/train.csv", root));
    cr_assert_eq(requests("/api/datasets/org/data/revision/main", NULL), 1);
    cr_assert_eq(requests("/datasets/org/data/resolve/", NULL), 3); /* HEAD+GET csv, HEAD parquet (then CDN) */
    free(dir);
    dir = resolve_ok("solo", "model", NULL, NULL);
    cr_assert(strstr(dir, "/models--solo/snapshots/"));
    free(dir);
}

Test(hub, renamed_repo_follows_relative_redirect) {
    SERVER();
    char *dir = resolve_ok("org/old-name", "model", NULL, NULL);
    cr_assert(strstr(dir, "/models--org--old-name/snapshots/"));
    assert_same_file(fmt("%s/model.safetensors", dir), fmt("%s/repos/models/org--tiny/model.safetensors", root));
    free(dir);
}

Test(hub, private_repo_needs_token) {
    SERVER();
    lb_error e;
    cr_assert_eq(resolve_fail("org/private", "model", NULL, NULL, &e), LB_ERR_NETWORK);
    cr_assert(strstr(e.msg, "401") && strstr(e.msg, "HF_TOKEN") && strstr(e.msg, "org/private"), "%s", e.msg);
    setenv("HF_TOKEN", "hf_wrong", 1);
    cr_assert_eq(resolve_fail("org/private", "model", NULL, NULL, &e), LB_ERR_NETWORK);
    cr_assert(strstr(e.msg, "no access"), "%s", e.msg);
    setenv("HF_TOKEN", "hf_secret_token", 1);
    char *dir = resolve_ok("org/private", "model", NULL, NULL);
    cr_assert(lb_file_exists(fmt("%s/config.json", dir)));
    cr_assert_gt(requests("Bearer hf_secret_token", NULL), 0);
    free(dir);
    /* The token file written by huggingface-cli login works too. */
    unsetenv("HF_TOKEN");
    setenv("HF_HOME", root, 1);
    lb_error we;
    cr_assert_eq(lb_write_file_atomic(fmt("%s/token", root), "hf_secret_token\n", 16, &we), LB_OK);
    dir = resolve_ok("org/private", "model", NULL, NULL);
    free(dir);
}

Test(hub, not_found_errors_name_what_is_missing) {
    SERVER();
    lb_error e;
    cr_assert_eq(resolve_fail("org/nope", "model", NULL, NULL, &e), LB_ERR_NETWORK);
    cr_assert(strstr(e.msg, "no such model repo 'org/nope'"), "%s", e.msg);
    cr_assert_eq(resolve_fail("org/tiny", "model", "v9", NULL, &e), LB_ERR_NETWORK);
    cr_assert(strstr(e.msg, "no such revision 'v9'"), "%s", e.msg);
    cr_assert_eq(resolve_fail("org/tiny", "dataset", NULL, NULL, &e), LB_ERR_NETWORK);
    cr_assert(strstr(e.msg, "dataset"), "%s", e.msg);
}

Test(hub, refuses_file_names_leaving_the_snapshot) {
    SERVER();
    lb_error e;
    resolve_fail("org/evil", "model", NULL, NULL, &e);
    cr_assert(strstr(e.msg, "../evil.txt"), "%s", e.msg);
    cr_assert_not(lb_dir_exists(fmt("%s/models--org--evil/snapshots", cache)));
    cr_assert_not(lb_file_exists(fmt("%s/evil.txt", cache)));
}

Test(hub, unexpected_server_answers) {
    SERVER();
    lb_error e;
    cr_assert_eq(resolve_fail("org/badjson", "model", NULL, NULL, &e), LB_ERR_NETWORK);
    cr_assert(strstr(e.msg, "unexpected answer") && strstr(e.msg, "/api/models/org/badjson"), "%s", e.msg);
    cr_assert_eq(resolve_fail("org/noetag", "model", NULL, NULL, &e), LB_ERR_NETWORK);
    cr_assert(strstr(e.msg, "no ETag") && strstr(e.msg, "config.json"), "%s", e.msg);
    cr_assert_eq(count_files(fmt("%s/models--org--noetag/snapshots", cache), "config.json"), 0);
}

Test(hub, cut_transfer_resumes_with_range) {
    SERVER();
    control("{\"cut\": {\"model.safetensors\": 1, \"vocab.txt\": 1}}");
    char *dir = resolve_ok("org/tiny", "model", NULL, NULL);
    assert_same_file(fmt("%s/model.safetensors", dir), fmt("%s/repos/models/org--tiny/model.safetensors", root));
    assert_same_file(fmt("%s/vocab.txt", dir), fmt("%s/repos/models/org--tiny/vocab.txt", root));
    /* The second request asked only for the rest. */
    cr_assert_eq(requests("/cdn/", "\"range\": \"bytes=150000-\""), 1, "no Range request for the rest");
    cr_assert_eq(requests("vocab.txt", "\"range\": \"bytes=15-\""), 1);
    cr_assert_eq(count_files(cache, ".incomplete"), 0);
    free(dir);
}

Test(hub, server_ignoring_range_restarts_the_file) {
    SERVER();
    control("{\"cut\": {\"model.safetensors\": 1}, \"norange\": {\"model.safetensors\": 1}}");
    const char *inc[] = {"model.safetensors", NULL};
    char *dir = resolve_ok("org/tiny", "model", NULL, inc);
    assert_same_file(fmt("%s/model.safetensors", dir), fmt("%s/repos/models/org--tiny/model.safetensors", root));
    cr_assert_eq(requests("/cdn/", "\"range\": \"bytes=150000-\""), 1);
    free(dir);
}

Test(hub, interrupted_download_kept_then_resumed_next_run) {
    SERVER();
    control("{\"cut\": {\"model.safetensors\": 100}}");
    const char *inc[] = {"model.safetensors", NULL};
    lb_error e;
    cr_assert_eq(resolve_fail("org/tiny", "model", NULL, inc, &e), LB_ERR_NETWORK);
    cr_assert(strstr(e.msg, "model.safetensors") && strstr(e.msg, "kept for resuming"), "%s", e.msg);
    /* Nothing half-written in the snapshot; the partial blob waits in blobs/. */
    cr_assert_eq(count_files(fmt("%s/models--org--tiny/snapshots", cache), "model.safetensors"), 0);
    cr_assert_eq(count_files(fmt("%s/models--org--tiny/blobs", cache), ".incomplete"), 1);
    control("{}");
    int full_before = requests("/cdn/", "\"range\": null");
    char *dir = resolve_ok("org/tiny", "model", NULL, inc);
    assert_same_file(fmt("%s/model.safetensors", dir), fmt("%s/repos/models/org--tiny/model.safetensors", root));
    cr_assert_eq(requests("/cdn/", "\"range\": null"), full_before, "the next run restarted from zero");
    cr_assert_eq(count_files(cache, ".incomplete"), 0);
    free(dir);
}

Test(hub, failed_cdn_request_leaves_nothing_behind) {
    SERVER();
    control("{\"gone\": {\"model.safetensors\": 1}}");
    const char *inc[] = {"model.safetensors", NULL};
    lb_error e;
    cr_assert_eq(resolve_fail("org/tiny", "model", NULL, inc, &e), LB_ERR_NETWORK);
    cr_assert(strstr(e.msg, "model.safetensors") && strstr(e.msg, "404"), "%s", e.msg);
    cr_assert_eq(count_files(cache, ".incomplete"), 0);
    cr_assert_eq(count_files(fmt("%s/models--org--tiny/snapshots", cache), "model.safetensors"), 0);
}

Test(hub, corrupted_transfer_is_rejected) {
    SERVER();
    control("{\"corrupt\": {\"model.safetensors\": 1, \"config.json\": 1}}");
    const char *inc[] = {"model.safetensors", NULL};
    lb_error e;
    cr_assert_eq(resolve_fail("org/tiny", "model", NULL, inc, &e), LB_ERR_NETWORK);
    cr_assert(strstr(e.msg, "checksum mismatch"), "%s", e.msg);
    cr_assert_eq(count_files(fmt("%s/models--org--tiny/snapshots", cache), "model.safetensors"), 0);
    cr_assert_eq(count_files(cache, ".incomplete"), 0, "the damaged partial file must go");
    const char *inc2[] = {"config.json", NULL};
    cr_assert_eq(resolve_fail("org/tiny", "model", NULL, inc2, &e), LB_ERR_NETWORK);
    cr_assert(strstr(e.msg, "checksum mismatch") && strstr(e.msg, "config.json"), "%s", e.msg);
    /* A clean retry works. */
    char *dir = resolve_ok("org/tiny", "model", NULL, inc);
    free(dir);
}

Test(hub, offline_mode_uses_only_the_cache) {
    SERVER();
    setenv("HF_HUB_OFFLINE", "1", 1);
    lb_error e;
    cr_assert_eq(resolve_fail("org/tiny", "model", NULL, NULL, &e), LB_ERR_IO);
    cr_assert(strstr(e.msg, "HF_HUB_OFFLINE") && strstr(e.msg, "lorabert download org/tiny"), "%s", e.msg);
    cr_assert_eq(requests("\"path\"", NULL), 0);
    unsetenv("HF_HUB_OFFLINE");
    char *online = resolve_ok("org/tiny", "model", NULL, NULL);
    int before = requests("\"path\"", NULL);
    setenv("HF_HUB_OFFLINE", "1", 1);
    char *offline = resolve_ok("org/tiny", "model", NULL, NULL);
    cr_assert_str_eq(online, offline);
    cr_assert_eq(requests("\"path\"", NULL), before, "offline mode made a request");
    cr_assert_eq(resolve_fail("org/tiny", "model", "v2", NULL, &e), LB_ERR_IO);
    cr_assert_eq(resolve_fail("org/tiny", "dataset", NULL, NULL, &e), LB_ERR_IO);
    cr_assert(strstr(e.msg, "--dataset"), "%s", e.msg);
    free(online);
    free(offline);
}

Test(hub, unreachable_hub_falls_back_to_cache) {
    SERVER();
    lb_error e;
    setenv("HF_ENDPOINT", "http://127.0.0.1:1", 1);
    cr_assert_eq(resolve_fail("org/tiny", "model", NULL, NULL, &e), LB_ERR_NETWORK);
    cr_assert(strstr(e.msg, "cannot reach http://127.0.0.1:1") && strstr(e.msg, "HF_HUB_OFFLINE"), "%s", e.msg);
    setenv("HF_ENDPOINT", endpoint, 1);
    char *online = resolve_ok("org/tiny", "model", NULL, NULL);
    setenv("HF_ENDPOINT", "http://127.0.0.1:1", 1);
    char *fallback = resolve_ok("org/tiny", "model", NULL, NULL);
    cr_assert_str_eq(online, fallback);
    free(online);
    free(fallback);
}

Test(hub, write_failure_is_reported_and_leaves_no_snapshot_entry) {
    SERVER();
    /* A file size limit stands in for a full disk: writes fail part-way (EFBIG). */
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl = {100000, 100000};
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
    const char *inc[] = {"model.safetensors", NULL};
    lb_error e;
    cr_assert_eq(resolve_fail("org/tiny", "model", NULL, inc, &e), LB_ERR_IO);
    cr_assert(strstr(e.msg, "cannot write") && strstr(e.msg, ".incomplete"), "%s", e.msg);
    cr_assert_eq(count_files(fmt("%s/models--org--tiny/snapshots", cache), "model.safetensors"), 0);
}

/* ------------------------------------------------------------------ refusals (issue 10 §2) */

/* A TCP listener on 127.0.0.1 that nothing may ever connect to (the target of a forged
 * redirect): the kernel completes a connection into the backlog even if we never accept. */
static int bystander(int *port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert(fd >= 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(fd, 16), 0);
    socklen_t al = sizeof a;
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &al), 0);
    *port = ntohs(a.sin_port);
    cr_assert_eq(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
    return fd;
}

static void assert_no_connection(int fd, const char *what) {
    int c = accept(fd, NULL, NULL);
    if (c >= 0) close(c);
    cr_assert(c < 0 && (errno == EAGAIN || errno == EWOULDBLOCK), "%s: lorabert connected to the bystander port", what);
}

static size_t count_blob_files(const char *repo_folder) {
    char cmd[512];
    snprintf(cmd, sizeof cmd, "find %s/%s/blobs -type f 2>/dev/null | wc -l", cache, repo_folder);
    FILE *p = popen(cmd, "r");
    size_t n = 0;
    if (p) {
        if (fscanf(p, "%zu", &n) != 1) n = 0;
        pclose(p);
    }
    return n;
}

Test(hub, redirects_to_other_protocols_are_refused_without_connecting) {
    SERVER();
    int port;
    int fd = bystander(&port);
    const char *inc[] = {"model.safetensors", NULL};
    lb_error e;

    /* The hub's LFS redirect (read by lorabert itself) to gopher:// (raw bytes to a TCP service). */
    control(fmt("{\"location\": {\"model.safetensors\": \"gopher://127.0.0.1:%d/_SET%%20k%%201\"}}", port));
    cr_assert_eq(resolve_fail("org/tiny", "model", NULL, inc, &e), LB_ERR_NETWORK);
    cr_assert(strstr(e.msg, "model.safetensors") && strstr(e.msg, fmt("gopher://127.0.0.1:%d/_SET", port)) &&
                  strstr(e.msg, "scheme 'gopher'"),
              "%s", e.msg);
    assert_no_connection(fd, "gopher LFS redirect");
    cr_assert_eq(count_blob_files("models--org--tiny"), 0);

    /* A redirect libcurl follows (the API call) to dict://. */
    control(fmt("{\"api_location\": {\"org/tiny\": \"dict://127.0.0.1:%d/info\"}}", port));
    cr_assert_eq(resolve_fail("org/tiny", "model", NULL, inc, &e), LB_ERR_NETWORK);
    cr_assert(strstr(e.msg, fmt("dict://127.0.0.1:%d/info", port)) && strstr(e.msg, "scheme 'dict'"), "%s", e.msg);
    assert_no_connection(fd, "dict API redirect");

    /* The CDN (followed by libcurl during the download) to file://: no local file is read. */
    lb_error we;
    cr_assert_eq(lb_write_file_atomic(fmt("%s/secret.txt", root), "TOPSECRET", 9, &we), LB_OK);
    control(fmt("{\"cdn_location\": {\"model.safetensors\": \"file://%s/secret.txt\"}}", root));
    cr_assert_eq(resolve_fail("org/tiny", "model", NULL, inc, &e), LB_ERR_NETWORK);
    cr_assert(strstr(e.msg, "model.safetensors") && strstr(e.msg, "scheme 'file'"), "%s", e.msg);
    cr_assert_eq(count_blob_files("models--org--tiny"), 0, "the refused download left a file in blobs/");
    cr_assert_neq(system(fmt("grep -rq TOPSECRET %s", cache)), 0, "a local file was copied into the cache");

    /* HF_ENDPOINT itself: only http(s). */
    control("{}");
    setenv("HF_ENDPOINT", fmt("gopher://127.0.0.1:%d", port), 1);
    cr_assert_eq(resolve_fail("org/tiny", "model", NULL, inc, &e), LB_ERR_UNSUPPORTED);
    cr_assert(strstr(e.msg, "HF_ENDPOINT") && strstr(e.msg, "scheme 'gopher'") &&
                  strstr(e.msg, fmt("gopher://127.0.0.1:%d", port)),
              "%s", e.msg);
    setenv("HF_ENDPOINT", "file:///etc", 1);
    cr_assert_eq(resolve_fail("org/tiny", "model", NULL, inc, &e), LB_ERR_UNSUPPORTED);
    cr_assert(strstr(e.msg, "scheme 'file'"), "%s", e.msg);
    setenv("HF_ENDPOINT", "127.0.0.1:1", 1);
    cr_assert_eq(resolve_fail("org/tiny", "model", NULL, inc, &e), LB_ERR_UNSUPPORTED);
    assert_no_connection(fd, "HF_ENDPOINT");
    close(fd);

    /* The real redirect still works afterwards. */
    setenv("HF_ENDPOINT", endpoint, 1);
    char *dir = resolve_ok("org/tiny", "model", NULL, inc);
    free(dir);
}

/* The number after `key` in msg (-1 when absent). */
static long long number_after(const char *msg, const char *key) {
    const char *p = strstr(msg, key);
    return p ? strtoll(p + strlen(key), NULL, 10) : -1;
}

Test(hub, body_beyond_the_declared_size_is_stopped_and_removed) {
    SERVER();
    /* HEAD declares the real size; the GET streams 32 MB more with no Content-Length. */
    control("{\"oversize\": {\"model.safetensors\": 33554432, \"config.json\": 100000}}");
    lb_error e;
    const char *inc[] = {"model.safetensors", NULL};
    cr_assert_eq(resolve_fail("org/tiny", "model", NULL, inc, &e), LB_ERR_NETWORK);
    cr_assert(strstr(e.msg, "model.safetensors") && strstr(e.msg, "declared 300000 bytes"), "%s", e.msg);
    long long got = number_after(e.msg, "stopped at ");
    cr_assert(got > 300000 && got <= 300000 + (1 << 20), "stopped at %lld bytes: %s", got, e.msg);
    cr_assert_eq(count_blob_files("models--org--tiny"), 0, "bytes of the refused download stayed in blobs/");
    cr_assert_eq(count_files(fmt("%s/models--org--tiny/snapshots", cache), "model.safetensors"), 0);
    const char *inc2[] = {"config.json", NULL};
    cr_assert_eq(resolve_fail("org/tiny", "model", NULL, inc2, &e), LB_ERR_NETWORK);
    cr_assert(strstr(e.msg, "config.json") && strstr(e.msg, "declared 40 bytes"), "%s", e.msg);
    cr_assert_eq(count_blob_files("models--org--tiny"), 0);
    /* An honest server afterwards: the download works. */
    control("{}");
    char *dir = resolve_ok("org/tiny", "model", NULL, inc);
    assert_same_file(fmt("%s/model.safetensors", dir), fmt("%s/repos/models/org--tiny/model.safetensors", root));
    free(dir);
}

Test(hub, api_answer_above_the_cap_is_refused) {
    SERVER();
    control("{\"bigapi\": {\"org/tiny\": 17000000}}");
    lb_error e;
    cr_assert_eq(resolve_fail("org/tiny", "model", NULL, NULL, &e), LB_ERR_NETWORK);
    cr_assert(strstr(e.msg, "/api/models/org/tiny/revision/main") && strstr(e.msg, "16 MiB"), "%s", e.msg);
    cr_assert_not(lb_dir_exists(fmt("%s/models--org--tiny/snapshots", cache)));
}

Test(hub, token_with_control_characters_is_refused_and_never_sent) {
    SERVER();
    lb_error e;
    setenv("HF_TOKEN", "hf_secret_token\r\nX-Injected: 1", 1);
    cr_assert_eq(resolve_fail("org/tiny", "model", NULL, NULL, &e), LB_ERR_USAGE);
    cr_assert(strstr(e.msg, "HF_TOKEN") && strstr(e.msg, "0x0d") && !strstr(e.msg, "hf_secret"), "%s", e.msg);
    setenv("HF_TOKEN", "hf_secret token", 1);
    cr_assert_eq(resolve_fail("org/tiny", "model", NULL, NULL, &e), LB_ERR_USAGE);
    cr_assert(strstr(e.msg, "0x20"), "%s", e.msg);
    setenv("HF_TOKEN", "hf_secr\xc3\xa9t", 1);
    cr_assert_eq(resolve_fail("org/tiny", "model", NULL, NULL, &e), LB_ERR_USAGE);
    unsetenv("HF_TOKEN");
    setenv("HUGGING_FACE_HUB_TOKEN", "hf_x\x7f", 1);
    cr_assert_eq(resolve_fail("org/tiny", "model", NULL, NULL, &e), LB_ERR_USAGE);
    cr_assert(strstr(e.msg, "HUGGING_FACE_HUB_TOKEN") && strstr(e.msg, "0x7f"), "%s", e.msg);
    unsetenv("HUGGING_FACE_HUB_TOKEN");
    /* The token file: a newline inside is refused; the trailing one is trimmed. */
    setenv("HF_HOME", root, 1);
    setenv("HF_HUB_CACHE", cache, 1);
    lb_error we;
    const char *inj = "hf_secret_token\nX-Injected: 1\n";
    cr_assert_eq(lb_write_file_atomic(fmt("%s/token", root), inj, strlen(inj), &we), LB_OK);
    cr_assert_eq(resolve_fail("org/tiny", "model", NULL, NULL, &e), LB_ERR_USAGE);
    cr_assert(strstr(e.msg, fmt("%s/token", root)) && strstr(e.msg, "0x0a"), "%s", e.msg);
    cr_assert_eq(requests("\"path\"", NULL), 0, "a request went out with a refused token");
    /* HF_TOKEN_PATH (huggingface_hub's override of the token file), CRLF at the end trimmed. */
    cr_assert_eq(lb_write_file_atomic(fmt("%s/tok2", root), "hf_secret_token\r\n", 17, &we), LB_OK);
    setenv("HF_TOKEN_PATH", fmt("%s/tok2", root), 1);
    char *dir = resolve_ok("org/private", "model", NULL, NULL);
    cr_assert_gt(requests("\"Bearer hf_secret_token\"", NULL), 0);
    free(dir);
}

Test(hub, invalid_repo_ids_are_refused_before_any_request) {
    SERVER();
    char long_name[120];
    memset(long_name, 'a', 97);
    long_name[97] = '\0';
    const struct {
        const char *id, *rule;
    } bad[] = {
        {"org/x?y=1#", "'?'"},
        {"org/x#frag", "'#'"},
        {"org/x y", "' '"},
        {"org/x%2F..", "'%'"},
        {"a/b/c", "more than one '/'"},
        {"-org/x", "start or end"},
        {"org/x-", "start or end"},
        {".x", "start or end"},
        {"org/x.", "start or end"},
        {"org--x/y", "'--'"},
        {"org/a..b", "'..'"},
        {"org/x.git", ".git"},
        {"org/", "empty"},
        {"/x", "empty"},
        {"org/\xc3\xa9", "0xc3"},
        {"org/x\r\nHost: evil", "0x0d"},
        {long_name, "96"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *dir = NULL;
        lb_error e = {0};
        lb_status st = lb_hub_resolve_repo(bad[i].id, "model", NULL, NULL, &dir, &e);
        cr_assert_eq(st, LB_ERR_USAGE, "repo id '%s': status %d (%s)", bad[i].id, st, e.msg);
        cr_assert(strstr(e.msg, "invalid hub repo id") && strstr(e.msg, bad[i].rule) && !strchr(e.msg, '\n') &&
                      !strchr(e.msg, '\r'),
                  "repo id '%s': want the rule %s named, got: %s", bad[i].id, bad[i].rule, e.msg);
        cr_assert_null(dir);
    }
    cr_assert_eq(requests("\"path\"", NULL), 0, "an invalid repo id reached the server");
    cr_assert_not(lb_dir_exists(cache), "an invalid repo id created a cache folder");
}

Test(hub, revision_is_url_encoded_as_one_path_component) {
    SERVER();
    const char *inc[] = {"config.json", NULL};
    char *dir = NULL;
    lb_error e = {0};
    cr_assert_eq(lb_hub_resolve_repo("org/tiny", "model", "refs/pr/1", inc, &dir, &e), LB_OK, "%s", e.msg);
    cr_assert_eq(requests("/api/models/org/tiny/revision/refs%2Fpr%2F1\"", NULL), 1);
    /* the ref is stored as huggingface_hub stores it */
    char *sha = slurp(fmt("%s/models--org--tiny/refs/refs/pr/1", cache));
    cr_assert(sha && strstr(dir, sha));
    free(sha);
    free(dir);
    cr_assert_eq(lb_hub_resolve_repo("org/tiny", "model", "v1?x=1#y", inc, &dir, &e), LB_ERR_NETWORK);
    cr_assert(strstr(e.msg, "no such revision 'v1?x=1#y'"), "%s", e.msg);
    cr_assert_eq(requests("/revision/v1%3Fx%3D1%23y\"", NULL), 1);
}
