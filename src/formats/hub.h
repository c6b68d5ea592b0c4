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
 * Environment: HF_ENDPOINT (default https://huggingface.co), HF_TOKEN (or
 * HUGGING_FACE_HUB_TOKEN, or the file $HF_HOME/token) sent as "Authorization: Bearer",
 * HF_HUB_OFFLINE=1 (cache only), HF_HUB_DISABLE_PROGRESS_BARS=1.
 *
 * Guarantees: a snapshot entry appears only once its blob is complete and verified (size, and
 * sha256 for LFS files / git blob sha1 for others, taken from X-Linked-Etag or ETag); partial
 * downloads stay as blobs/<etag>.incomplete and are resumed with an HTTP Range request. The
 * only output is a per-file progress line on stderr when stderr is a terminal.
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
lb_status lb_hub_resolve(const char *id_or_path, const char *kind, const char *revision,
                         const char *const *include, char **out_dir, lb_error *err);

/* The hub half of lb_hub_resolve: repo_id is always a hub repo id, never a local path. */
lb_status lb_hub_resolve_repo(const char *repo_id, const char *kind, const char *revision,
                              const char *const *include, char **out_dir, lb_error *err);

/* True when s has the shape of a hub repo id and is not an existing path. */
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

#endif
