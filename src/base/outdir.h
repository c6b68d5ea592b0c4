/* Output folders written as one unit: staging + atomic publish, a writer lock, leftovers.
 *
 * Owns: how lorabert writes a folder whole (a merged model, an adapter checkpoint, the resume
 * checkpoint, a training run's output folder), who may write it, and which leftovers of killed
 * writers are removed. For a target folder PARENT/NAME its helper entries all live in PARENT:
 *   .NAME.lock                   the writer lock: flock(2), held for the whole run, the holder's
 *                                pid inside; the holder removes it on release
 *   .NAME.staging.<pid>.<hex8>   the next version while it is written; right after a publish
 *                                that replaced an older version, that older version until removed
 *   .NAME.old.<pid>.<hex8>       only where RENAME_EXCHANGE is unsupported: the older version,
 *                                moved aside for the instant between two renames
 * Why: files that are each written atomically still mix versions inside a folder (a new
 * adapter beside an old trainer_state.json, an old tokenizer.json beside a new vocab.txt, a
 * half-written set after a full disk); only a folder published by one rename is consistent.
 * Guarantees: a reader, or a crash at any instant, sees the target absent (never written), the
 * old complete folder or the new complete one: every file and directory of the staging folder
 * is fsynced before the publishing rename (renameat2 RENAME_EXCHANGE when the target exists),
 * the parent after it. Where the file system refuses RENAME_EXCHANGE the old folder is moved
 * aside first; a crash between the two renames leaves the target absent and .NAME.old.*
 * present, and lb_outdir_clean puts it back. Leftovers are removed only under the lock and only
 * when their names follow the patterns above (lb_outdir_clean, lb_outdir_clean_inside).
 * Nothing here follows a symlink while removing or linking. An empty path is LB_ERR_USAGE.
 * Linux (renameat2, flock); the fallback covers file systems without RENAME_EXCHANGE. */
#ifndef LB_BASE_OUTDIR_H
#define LB_BASE_OUTDIR_H
#include <stdbool.h>
#include <stddef.h>
#include "base/error.h"

/* ---- paths ---- */

/* Absolute path with "." / ".." / repeated '/' removed and the symlinks of its longest
 * existing prefix resolved; the rest (not yet existing) is appended lexically. *out malloc'd. */
lb_status lb_path_canonical(const char *path, char **out, lb_error *err);
/* True when canonical path inner is outer or lies inside it. */
bool lb_path_within(const char *inner, const char *outer);
/* Refuses (LB_ERR_USAGE) a path that cannot be replaced as a whole: empty, "/", the current
 * folder or one of its ancestors (replacing it would leave the shell in a deleted folder), or a
 * mount point (rename(2) refuses it). what names the option in messages ("--output"). */
lb_status lb_outdir_check_target(const char *path, const char *what, lb_error *err);

/* ---- the writer lock ---- */

typedef struct lb_outdir_lock {
    int fd;     /* -1 when not held */
    char *path; /* PARENT/.NAME.lock */
} lb_outdir_lock;
/* Creates PARENT (mkdir -p) and takes the lock of target without waiting. Held by another
 * process: LB_ERR_IO naming its pid. */
lb_status lb_outdir_lock_acquire(const char *target, lb_outdir_lock *lk, lb_error *err);
/* Removes the lock file and releases the lock; harmless on a lock not held. */
void lb_outdir_lock_release(lb_outdir_lock *lk);

/* ---- staging ---- */

typedef struct lb_staging {
    char *target; /* canonical target */
    char *dir;    /* PARENT/.NAME.staging.<pid>.<hex8>: write the new version here */
} lb_staging;
/* Creates a new empty staging folder beside target (PARENT must exist). */
lb_status lb_staging_begin(lb_staging *sg, const char *target, lb_error *err);
/* fsyncs the staging tree, publishes it as target (an existing target keeps its permission
 * bits and is replaced whole), removes the older version, fsyncs PARENT. sg is released
 * either way; on failure the staging folder is removed and the target is unchanged. */
lb_status lb_staging_commit(lb_staging *sg, lb_error *err);
/* Removes the staging folder and releases sg; harmless on a released one. */
void lb_staging_abort(lb_staging *sg);

/* ---- leftovers and trees ---- */

/* Beside target (call under its lock): removes .NAME.staging.* and .NAME.old.* left by killed
 * writers; when target is absent and a .NAME.old.* exists, renames that back to target first. */
lb_status lb_outdir_clean(const char *target, lb_error *err);
/* Inside dir (call under the lock that covers dir): removes NAME.tmp.XXXXXX temporaries of
 * lb_atomic_* for NAME in tmp_names (NULL-terminated) and .X.staging.* / .X.old.* folders for
 * X with owned(X) true (owned NULL: none). */
lb_status lb_outdir_clean_inside(const char *dir, const char *const *tmp_names, bool (*owned)(const char *name),
                                 lb_error *err);
/* Name patterns of the above: "X.tmp.XXXXXX" (6 letters/digits) -> true, base X copied to out
 * (out may be NULL); ".X.staging.<pid>.<hex8>" or ".X.old.<pid>.<hex8>" -> true, X to out. */
bool lb_outdir_tmp_name(const char *entry, char *out, size_t cap);
bool lb_outdir_staging_name(const char *entry, char *out, size_t cap);

/* rm -rf without following symlinks (a symlink is removed, not its target); absent: LB_OK. */
lb_status lb_remove_tree(const char *path, lb_error *err);
/* Recreates the entries of folder src inside folder dst (which exists): regular files as hard
 * links (copied where the file system refuses a link), folders recursively, symlinks as
 * symlinks; other file types are skipped. Top-level names with skip(name, ctx) true are left
 * out; existing names in dst are kept. */
lb_status lb_link_tree(const char *src, const char *dst, bool (*skip)(const char *name, void *ctx), void *ctx,
                       lb_error *err);
/* The entry names of dir, sorted, without "." and "..", in a malloc'd NULL-terminated array of
 * malloc'd strings (folders get a trailing '/'); *n gets the count. */
lb_status lb_dir_list(const char *dir, char ***names, int *n, lb_error *err);
void lb_dir_list_free(char **names);

#endif
