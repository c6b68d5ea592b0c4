/* Hugging Face Hub client and cache.
 *
 * Owns: turning a repo id ("org/name" or "name") into a local snapshot directory, downloading
 * what is missing over HTTP(S) with libcurl into the cache layout of huggingface_hub, so that
 * lorabert and Python users share one cache both ways:
 *   <cache>/models--org--name/refs/<revision>          commit hash (no newline)
 *   <cache>/models--org--name/blobs/<etag>             file content (<etag>.incomplete while partial)
 *   <cache>/models--org--name/snapshots/<commit>/<f>   relative symlink to ../../blobs/<etag>
 * (datasets: datasets--org--name). <cache> = $HF_HUB_CACHE | $HUGGINGFACE_HUB_CACHE |
 * $HF_HOME/hub | $XDG_CACHE_HOME/huggingface/hub | ~/.cache/huggingface/hub.
 *
 * Environment: HF_ENDPOINT (default https://huggingface.co; http:// or https:// only), HF_TOKEN
 * (or HUGGING_FACE_HUB_TOKEN, or the file $HF_TOKEN_PATH | $HF_HOME/token; visible ASCII only)
 * sent as "Authorization: Bearer" to the hub's own host only, HF_HUB_OFFLINE=1 (cache only),
 * HF_HUB_DISABLE_PROGRESS_BARS=1.
 *
 * Refusals (docs/hub.md): every request and every redirect is http or https (libcurl's
 * CURLOPT_PROTOCOLS_STR / REDIR_PROTOCOLS_STR, and the Location of a HEAD checked here); a file
 * body beyond its declared size (or beyond 4 GiB when none is declared) is stopped and removed;
 * API answers are capped at 16 MiB; repo ids are validated as huggingface_hub does and every
 * URL path component is percent-encoded.
 *
 * Guarantees: a snapshot entry appears only once its blob is complete and verified (size, and
 * sha256 for LFS files / git blob sha1 for others, taken from X-Linked-Etag or ETag); partial
 * downloads stay as blobs/<etag>.incomplete and are resumed with an HTTP Range request. Nothing
 * is printed: progress goes to the callback of lb_hub_set_progress.
 */
#ifndef LB_FORMATS_HUB_H
#define LB_FORMATS_HUB_H
#include <stdbool.h>
#include <stddef.h>
#include "base/error.h"

/* Resolves a local directory or a hub repo id ("org/name" or "name") to a local snapshot
 * directory (downloading what is missing into the HF cache). kind: "model" or "dataset".
 * revision: branch, tag or commit hash (NULL: "main").
 * include: NULL-terminated globs of files to fetch (NULL: all files); fnmatch semantics as in
 * huggingface_hub (`*` also matches '/', a pattern ending in '/' matches everything below it).
 * Offline (HF_HUB_OFFLINE=1), or when the hub cannot be reached, the cached snapshot of the
 * revision is returned as it is (files never fetched are absent from it; loaders name them).
 * *out_dir malloc'd. */
lb_status lb_hub_resolve(const char *id_or_path, const char *kind, const char *revision, const char *const *include,
                         char **out_dir, lb_error *err);

/* The hub half of lb_hub_resolve: repo_id is always a hub repo id, never a local path. */
lb_status lb_hub_resolve_repo(const char *repo_id, const char *kind, const char *revision, const char *const *include,
                              char **out_dir, lb_error *err);

/* Checks a repo id as huggingface_hub's validate_repo_id: "name" or "org/name", each part of
 * ASCII letters, digits, '-', '_', '.', starting and ending with a letter, digit or '_'; the name
 * at most 96 characters; no "--" or ".."; not ending in ".git". LB_ERR_USAGE naming the rule. */
lb_status lb_hub_check_repo_id(const char *repo_id, lb_error *err);

/* True when s has the shape of a hub repo id (lb_hub_check_repo_id) and is not an existing path. */
bool lb_hub_looks_like_repo_id(const char *s);

/* The cache root (see above), malloc'd; NULL when out of memory. */
char *lb_hub_cache_dir(void);

/* "models--org--name" / "datasets--org--name" for kind "model"/"dataset"; malloc'd, NULL on
 * a bad kind or out of memory. */
char *lb_hub_repo_folder_name(const char *repo_id, const char *kind);

/* Hex digests used to verify blobs (exposed for tests). out: 65 / 41 chars incl. NUL.
 * lb_hub_git_blob_sha1 hashes "blob <size>\0" + content, as git (the ETag of non-LFS files). */
lb_status lb_hub_file_sha256(const char *path, char out[65], lb_error *err);
lb_status lb_hub_git_blob_sha1(const char *path, char out[41], lb_error *err);

/* ---- Internal: the parsers of server answers, exposed only for fuzz/fuzz_hub.c and the unit
 * tests. Not a stable API. ---- */

/* What the HEAD answer for a file says (see lb_hub_parse_head_answer). */
typedef struct lb_hub_file_meta {
    long status;    /* HTTP status of the answer */
    char *location; /* absolute http(s) URL of a redirect (malloc'd), NULL when none */
    bool follow;    /* location is on the hub itself (a relative redirect: renamed repo); the
                      * rest is unset, ask again there */
    char etag[256]; /* X-Linked-Etag, else ETag, without W/ and quotes: [A-Za-z0-9._-], <= 200 */
    long long size; /* X-Linked-Size, else Content-Length; -1 when the server declares none */
    /* Content-Range "bytes START-END/TOTAL" (only lb_hub_parse_head_answer fills it): START <=
     * END < TOTAL (TOTAL -1 for "*"); all -1 when absent or malformed */
    long long range_start, range_end, range_total;
} lb_hub_file_meta;

/* Parses a raw header block (status line + header lines, as sent; CRLF or LF) of the answer to
 * HEAD request_url: the parsing fetch_file does on server data (sizes, ETag, Location resolved
 * against request_url, only http/https accepted, Content-Range). LB_ERR_NETWORK with a message
 * on anything unusable. Free out with lb_hub_file_meta_free (also after an error). */
lb_status lb_hub_parse_head_answer(const char *raw, size_t len, const char *request_url, lb_hub_file_meta *out,
                                   lb_error *err);
void lb_hub_file_meta_free(lb_hub_file_meta *m);

/* The answer of GET /api/{kind}s/{repo}/revision/{rev}: commit sha + file names, every name
 * checked to stay inside the snapshot. body: len bytes (at most the 16 MiB API cap). what/url
 * name the request in messages. Free with lb_hub_revision_info_free (also after an error). */
typedef struct lb_hub_revision_info {
    char sha[41];
    char **files;
    size_t n_files;
} lb_hub_revision_info;
lb_status lb_hub_parse_revision_info(const char *body, size_t len, const char *what, const char *url,
                                     lb_hub_revision_info *out, lb_error *err);
void lb_hub_revision_info_free(lb_hub_revision_info *info);

/* The callback of each file download (lb_download_progress_fn in lorabert.h); see
 * lb_set_download_progress. */
void lb_hub_set_progress(lb_download_progress_fn fn, void *user);
#endif
