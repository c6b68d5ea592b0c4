/* File helpers: whole-file reads, crash-safe writes (temp file + fsync + rename), paths.
 *
 * Owns: the one rule for opening a user's file to read it. Why: a FIFO, a directory or a
 * symlink to /dev/zero given where a file is expected must fail at once with its type named,
 * not block in open(), read forever or be reported as missing. Guarantees: every reader opens
 * with O_RDONLY|O_NONBLOCK|O_CLOEXEC (a FIFO cannot block the open), accepts only regular
 * files ("PATH: is a FIFO, expected a regular file"), and reads at most max+1 bytes whatever
 * st_size says (a file growing while read is refused at max, not followed). The caps per kind
 * of file are below and in docs/errors.md ("Limits").
 * An empty path is refused with LB_ERR_USAGE (never taken as the current or root folder).
 * Whole folders (staging, locks, leftovers): base/outdir.h. */
#ifndef LB_BASE_FILEIO_H
#define LB_BASE_FILEIO_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "base/error.h"

/* Size caps per kind of file (bytes). */
#define LB_MAX_JSON_BYTES ((size_t)64 << 20)            /* config.json, adapter/tokenizer config, resume, index */
#define LB_MAX_TOKENIZER_JSON_BYTES ((size_t)512 << 20) /* tokenizer.json (a 250k-vocab XLM-R one is ~17 MB) */
#define LB_MAX_VOCAB_BYTES ((size_t)64 << 20)           /* vocab.txt (bert-base-uncased's is 232 KB) */
#define LB_MAX_DATASET_BYTES \
    ((size_t)4               \
     << 30) /* a .json array data file (read whole); CSV/TSV/JSONL and Parquet are read in pieces: data/text_stream.h, data/parquet.h */
#define LB_MAX_SMALL_BYTES ((size_t)1 << 20)   /* hub refs and token files */
#define LB_MAX_READ_BYTES LB_MAX_DATASET_BYTES /* lb_read_file without an explicit cap */

/* Opens path for reading under the rule above: *fd (O_CLOEXEC, blocking mode restored) and
 * *size = st_size of a regular file of at most max bytes. Errors: LB_ERR_IO for a missing or
 * unreadable path and for a path that is not a regular file (named: "is a directory", "is a
 * FIFO", "is a character device", ...); LB_ERR_UNSUPPORTED for a file above max, naming what
 * (e.g. "JSON file") and the limit. */
lb_status lb_open_regular(const char *path, size_t max, const char *what, int *fd, uint64_t *size, lb_error *err);

/* Reads the whole regular file (at most max bytes, see above) into a malloc'd buffer with a
 * trailing NUL (not counted in *len). what names the kind of file in the size error. */
lb_status lb_read_file_max(const char *path, size_t max, const char *what, char **data, size_t *len, lb_error *err);
/* lb_read_file_max with LB_MAX_READ_BYTES. */
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
/* True for a regular file (after symlinks). */
bool lb_file_exists(const char *path);
/* True when both are regular files with the same bytes (false when either is missing or
 * unreadable): for sharing what two folders hold alike. */
bool lb_files_equal(const char *a, const char *b);
/* True when anything exists at path (a directory, FIFO, dangling symlink...): for choosing
 * which of several files to read, so that the reader can then say what is wrong with it. */
bool lb_path_present(const char *path);
bool lb_dir_exists(const char *path);
/* Joins a and b with one '/', into a malloc'd string ("" + b is b, as os.path.join). */
char *lb_path_join(const char *a, const char *b);

#endif
