#include "base/fileio.h"
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The file type of a non-regular st_mode in words ("a directory", "a FIFO", ...). */
static const char *file_type_name(unsigned mode) {
    if (S_ISREG(mode)) return "a regular file";
    if (S_ISDIR(mode)) return "a directory";
    if (S_ISFIFO(mode)) return "a FIFO";
    if (S_ISCHR(mode)) return "a character device";
    if (S_ISBLK(mode)) return "a block device";
    if (S_ISSOCK(mode)) return "a socket";
    return "not a regular file";
}

static lb_status too_big(lb_error *err, const char *path, const char *what, size_t max) {
    return lb_err(err, LB_ERR_UNSUPPORTED, "%s: larger than the %zu MiB (%zu-byte) limit for a %s", path, max >> 20,
                  max, what ? what : "file");
}

lb_status lb_open_regular(const char *path, size_t max, const char *what, int *fd, uint64_t *size, lb_error *err) {
    *fd = -1;
    if (size) *size = 0;
    /* O_NONBLOCK: opening a FIFO with no writer must not wait for one. */
    int f = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (f < 0) return lb_err(err, LB_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(f, &sb) != 0) {
        lb_status st = lb_err(err, LB_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
        close(f);
        return st;
    }
    if (!S_ISREG(sb.st_mode)) {
        close(f);
        return lb_err(err, LB_ERR_IO, "%s: is %s, expected a regular file", path, file_type_name(sb.st_mode));
    }
    if (sb.st_size < 0 || (uint64_t)sb.st_size > max) {
        close(f);
        return too_big(err, path, what, max);
    }
    int fl = fcntl(f, F_GETFL);
    if (fl >= 0) (void)fcntl(f, F_SETFL, fl & ~O_NONBLOCK);
    *fd = f;
    if (size) *size = (uint64_t)sb.st_size;
    return LB_OK;
}

lb_status lb_read_file_max(const char *path, size_t max, const char *what, char **data, size_t *len, lb_error *err) {
    *data = NULL;
    if (len) *len = 0;
    if (!path || !*path) return lb_err(err, LB_ERR_USAGE, "read: empty path");
    int fd;
    uint64_t sz;
    lb_status st = lb_open_regular(path, max, what, &fd, &sz, err);
    if (st) return st;
    /* st_size is a hint only (the file may grow or shrink while read): read until EOF, but
     * never past max + 1 bytes. */
    size_t cap = (size_t)sz + 1 < ((size_t)1 << 16) ? ((size_t)1 << 16) : (size_t)sz + 2, n = 0;
    if (cap > max + 2) cap = max + 2;
    char *buf = malloc(cap);
    if (!buf) {
        close(fd);
        return lb_err(err, LB_ERR_NOMEM, "%s: out of memory for %zu bytes", path, cap);
    }
    for (;;) {
        if (n + 1 >= cap) {
            size_t ncap = cap * 2 > max + 2 ? max + 2 : cap * 2;
            if (ncap <= cap) break; /* n == max + 1: over the limit */
            char *nb = realloc(buf, ncap);
            if (!nb) {
                free(buf);
                close(fd);
                return lb_err(err, LB_ERR_NOMEM, "%s: out of memory", path);
            }
            buf = nb;
            cap = ncap;
        }
        ssize_t got = read(fd, buf + n, cap - n - 1);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) {
            st = lb_err(err, LB_ERR_IO, "%s: read failed: %s", path, strerror(errno));
            free(buf);
            close(fd);
            return st;
        }
        if (got == 0) break;
        n += (size_t)got;
        if (n > max) break;
    }
    close(fd);
    if (n > max) {
        free(buf);
        return too_big(err, path, what, max);
    }
    buf[n] = '\0';
    *data = buf;
    if (len) *len = n;
    return LB_OK;
}

lb_status lb_read_file(const char *path, char **data, size_t *len, lb_error *err) {
    return lb_read_file_max(path, LB_MAX_READ_BYTES, "file", data, len, err);
}

static void fsync_parent_dir(const char *path) {
    char *copy = strdup(path);
    if (!copy) return;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    free(copy);
}

lb_status lb_atomic_open(lb_atomic_file *af, const char *path, lb_error *err) {
    memset(af, 0, sizeof *af);
    if (!path || !*path) return lb_err(err, LB_ERR_USAGE, "write: empty path");
    size_t n = strlen(path) + 16;
    af->final_path = strdup(path);
    af->tmp_path = malloc(n);
    if (!af->final_path || !af->tmp_path) {
        lb_atomic_abort(af);
        return lb_err(err, LB_ERR_NOMEM, "out of memory");
    }
    snprintf(af->tmp_path, n, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(af->tmp_path);
    if (fd < 0) {
        lb_status st = lb_err(err, LB_ERR_IO, "%s: cannot create temporary file: %s", path, strerror(errno));
        free(af->tmp_path);
        af->tmp_path = NULL;
        lb_atomic_abort(af);
        return st;
    }
    (void)fchmod(fd, 0644);
    af->fp = fdopen(fd, "wb");
    if (!af->fp) {
        close(fd);
        lb_atomic_abort(af);
        return lb_err(err, LB_ERR_IO, "%s: fdopen failed", path);
    }
    return LB_OK;
}

lb_status lb_atomic_commit(lb_atomic_file *af, lb_error *err) {
    lb_status st = LB_OK;
    if (fflush(af->fp) != 0 || ferror(af->fp))
        st = lb_err(err, LB_ERR_IO, "%s: write failed: %s", af->final_path, strerror(errno));
    else if (fsync(fileno(af->fp)) != 0)
        st = lb_err(err, LB_ERR_IO, "%s: fsync failed: %s", af->final_path, strerror(errno));
    if (fclose(af->fp) != 0 && st == LB_OK)
        st = lb_err(err, LB_ERR_IO, "%s: close failed: %s", af->final_path, strerror(errno));
    af->fp = NULL;
    if (st == LB_OK && rename(af->tmp_path, af->final_path) != 0)
        st = lb_err(err, LB_ERR_IO, "%s: rename failed: %s", af->final_path, strerror(errno));
    if (st == LB_OK) fsync_parent_dir(af->final_path);
    else unlink(af->tmp_path);
    free(af->tmp_path);
    free(af->final_path);
    af->tmp_path = af->final_path = NULL;
    return st;
}

void lb_atomic_abort(lb_atomic_file *af) {
    if (af->fp) fclose(af->fp);
    if (af->tmp_path) unlink(af->tmp_path);
    free(af->tmp_path);
    free(af->final_path);
    memset(af, 0, sizeof *af);
}

lb_status lb_write_file_atomic(const char *path, const void *data, size_t len, lb_error *err) {
    lb_atomic_file af;
    lb_status st = lb_atomic_open(&af, path, err);
    if (st) return st;
    if (len && fwrite(data, 1, len, af.fp) != len) {
        st = lb_err(err, LB_ERR_IO, "%s: write failed: %s", path, strerror(errno));
        lb_atomic_abort(&af);
        return st;
    }
    return lb_atomic_commit(&af, err);
}

lb_status lb_mkdir_p(const char *path, lb_error *err) {
    /* "" would make the loop below start past the terminator */
    if (!path || !*path) return lb_err(err, LB_ERR_USAGE, "mkdir: empty path");
    char *p = strdup(path);
    if (!p) return lb_err(err, LB_ERR_NOMEM, "out of memory");
    for (char *s = p + 1;; s++) {
        if (*s == '/' || *s == '\0') {
            char c = *s;
            *s = '\0';
            if (mkdir(p, 0755) != 0 && errno != EEXIST) {
                lb_status st = lb_err(err, LB_ERR_IO, "%s: cannot create directory: %s", p, strerror(errno));
                free(p);
                return st;
            }
            *s = c;
            if (c == '\0') break;
        }
    }
    free(p);
    if (!lb_dir_exists(path)) return lb_err(err, LB_ERR_IO, "%s: exists and is not a directory", path);
    return LB_OK;
}

bool lb_file_exists(const char *path) {
    struct stat sb;
    return path && *path && stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

bool lb_files_equal(const char *a, const char *b) {
    struct stat sa, sb;
    if (!lb_file_exists(a) || !lb_file_exists(b) || stat(a, &sa) || stat(b, &sb) || sa.st_size != sb.st_size)
        return false;
    if (sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino) return true;
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    bool same = fa && fb;
    static const size_t chunk = 1 << 16;
    char *ba = same ? malloc(2 * chunk) : NULL;
    same = same && ba;
    while (same) {
        size_t na = fread(ba, 1, chunk, fa), nb = fread(ba + chunk, 1, chunk, fb);
        if (na != nb || memcmp(ba, ba + chunk, na)) same = false;
        else if (na < chunk) {
            same = !ferror(fa) && !ferror(fb);
            break;
        }
    }
    free(ba);
    if (fa) fclose(fa);
    if (fb) fclose(fb);
    return same;
}

bool lb_path_present(const char *path) {
    struct stat sb;
    return lstat(path, &sb) == 0;
}

bool lb_dir_exists(const char *path) {
    struct stat sb;
    return path && *path && stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

char *lb_path_join(const char *a, const char *b) {
    if (!*a) return strdup(b); /* as os.path.join: "" + "x" is "x", never "/x" */
    size_t la = strlen(a), lb = strlen(b);
    while (la > 1 && a[la - 1] == '/') la--;
    char *out = malloc(la + lb + 2);
    if (!out) return NULL;
    memcpy(out, a, la);
    out[la] = '/';
    memcpy(out + la + 1, b, lb + 1);
    return out;
}
