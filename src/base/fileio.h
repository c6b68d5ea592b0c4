/* File helpers: whole-file reads, crash-safe writes (temp file + fsync + rename), paths.
 * An empty path is refused with LB_ERR_USAGE (never taken as the current or root folder).
 * Whole folders (staging, locks, leftovers): base/outdir.h. */
#ifndef LB_BASE_FILEIO_H
#define LB_BASE_FILEIO_H
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include "base/error.h"

/* Reads the whole file into a malloc'd buffer with a trailing NUL (not counted in *len). */
lb_status lb_read_file(const char *path, char **data, size_t *len, lb_error *err);

/* Writes data to path atomically: a reader (or a crash at any instant) sees either the old
 * file or the complete new one, never a torn one. */
lb_status lb_write_file_atomic(const char *path, const void *data, size_t len, lb_error *err);

/* Streaming form of the above: open, fwrite to ->fp, then commit (fsync+rename) or abort. */
typedef struct lb_atomic_file {
    FILE *fp;
    char *final_path;
    char *tmp_path;
} lb_atomic_file;
lb_status lb_atomic_open(lb_atomic_file *af, const char *path, lb_error *err);
lb_status lb_atomic_commit(lb_atomic_file *af, lb_error *err);
void lb_atomic_abort(lb_atomic_file *af);

/* mkdir -p. */
lb_status lb_mkdir_p(const char *path, lb_error *err);
bool lb_file_exists(const char *path);
bool lb_dir_exists(const char *path);
/* Joins a and b with one '/', into a malloc'd string ("" + b is b, as os.path.join). */
char *lb_path_join(const char *a, const char *b);

#endif
