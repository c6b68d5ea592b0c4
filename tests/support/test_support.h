/* Helpers shared by the Criterion suites of tests/unit (linked into every test binary).
 *
 * Owns: finding the repository and ../shared from a test binary, reading a JSON fixture, and
 * scratch folders. Why: five suites carried their own copies. Guarantees: failures are Criterion
 * assertions naming the path; returned strings are static buffers (one at a time) unless said. */
#ifndef LB_TESTS_SUPPORT_H
#define LB_TESTS_SUPPORT_H
#include <cjson/cJSON.h>

/* The repository root: the working directory when it holds this repo (tests/run runs there),
 * else three levels above the test binary (build/<mode>/tests/<name>). */
const char *repo_root(void);
/* root/rel in a static buffer (one at a time). */
const char *in_repo(const char *rel);
/* $LORABERT_SHARED, default <repo>/../shared (tests needing it skip with a message when absent). */
const char *shared_dir(void);
/* shared_dir()/rel, malloc'd. */
char *shared_path(const char *rel);
/* The parsed JSON file at path (cJSON_Delete it); a missing or bad file fails the test. */
cJSON *read_json(const char *path);
/* A fresh folder /tmp/<prefix>XXXXXX (static buffer), and its removal with everything in it. */
const char *make_scratch_dir(const char *prefix);
void remove_tree(const char *path);
/* Small file helpers that fail the test on any error: a byte copy, a text written whole, a file
 * read whole (NUL-terminated, *len without it; free it). */
void copy_file(const char *src, const char *dst);
void write_text(const char *path, const char *text);
char *slurp_file(const char *path, size_t *len);
#endif
