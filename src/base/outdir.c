/* Whole-folder outputs; see outdir.h. */
#define _GNU_SOURCE /* renameat2 */
#include "base/outdir.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "base/fileio.h"

#define MAX_DEPTH 64 /* deepest tree removed, linked or fsynced (ours are 2 levels) */

/* ---- paths ---------------------------------------------------------------------------------- */

/* Appends the components of rel to the absolute path buf (capacity cap), lexically. */
static int append_lexical(char *buf, size_t cap, const char *rel) {
    size_t n = strlen(buf);
    const char *s = rel;
    while (*s) {
        while (*s == '/') s++;
        if (!*s) break;
        const char *e = strchr(s, '/');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        if (len == 1 && s[0] == '.') {
        } else if (len == 2 && s[0] == '.' && s[1] == '.') {
            while (n > 1 && buf[n - 1] != '/') n--;
            if (n > 1) n--;
            buf[n] = '\0';
        } else {
            if (n + 1 + len + 1 > cap) return -1;
            if (n > 1) buf[n++] = '/';
            memcpy(buf + n, s, len);
            n += len;
            buf[n] = '\0';
        }
        s += len;
    }
    return 0;
}

lb_status lb_path_canonical(const char *path, char **out, lb_error *err) {
    *out = NULL;
    if (!path || !*path) return lb_err(err, LB_ERR_USAGE, "empty path");
    char abs[PATH_MAX];
    if (path[0] == '/') {
        strcpy(abs, "/");
    } else if (!getcwd(abs, sizeof abs)) {
        return lb_err(err, LB_ERR_IO, "%s: cannot get the current folder: %s", path, strerror(errno));
    }
    if (append_lexical(abs, sizeof abs, path)) return lb_err(err, LB_ERR_USAGE, "%s: path too long", path);
    /* resolve the longest existing prefix; the remainder cannot hold symlinks (absent) */
    size_t n = strlen(abs);
    for (;;) {
        char save = abs[n];
        abs[n] = '\0';
        char real[PATH_MAX];
        if (realpath(n ? abs : "/", real)) {
            abs[n] = save;
            if (append_lexical(real, sizeof real, abs + n)) return lb_err(err, LB_ERR_USAGE, "%s: path too long", path);
            *out = strdup(real);
            return *out ? LB_OK : lb_err(err, LB_ERR_NOMEM, "out of memory");
        }
        if (errno != ENOENT && errno != ENOTDIR) {
            int e = errno;
            abs[n] = save;
            return lb_err(err, LB_ERR_IO, "%s: cannot resolve: %s", path, strerror(e));
        }
        abs[n] = save;
        if (n == 0) return lb_err(err, LB_ERR_IO, "%s: cannot resolve", path);
        while (n > 0 && abs[n - 1] != '/') n--; /* drop the last component */
        if (n > 1) n--;
        else if (n == 1) n = 0;
    }
}

bool lb_path_within(const char *inner, const char *outer) {
    size_t n = strlen(outer);
    if (n == 1 && outer[0] == '/') return inner[0] == '/';
    return !strncmp(inner, outer, n) && (inner[n] == '\0' || inner[n] == '/');
}

lb_status lb_outdir_check_target(const char *path, const char *what, lb_error *err) {
    if (!path || !*path) return lb_err(err, LB_ERR_USAGE, "%s is empty: name a folder", what);
    char *canon = NULL, *cwd = NULL;
    lb_status st = lb_path_canonical(path, &canon, err);
    if (!st) st = lb_path_canonical(".", &cwd, err);
    if (!st && !strcmp(canon, "/"))
        st = lb_err(err, LB_ERR_USAGE, "%s %s is the root folder: name a folder to create or replace", what, path);
    else if (!st && lb_path_within(cwd, canon))
        st = lb_err(err, LB_ERR_USAGE,
                    "%s %s is the current folder or holds it; lorabert replaces its output folder as a whole, "
                    "which would leave this shell in a deleted folder: run from outside it",
                    what, path);
    if (!st) { /* a mount point cannot be renamed (EBUSY): say so before hours of training */
        struct stat a, b;
        char *parent = strdup(canon);
        if (!parent) st = lb_err(err, LB_ERR_NOMEM, "out of memory");
        else {
            char *slash = strrchr(parent, '/');
            if (slash == parent) slash[1] = '\0';
            else *slash = '\0';
            if (lstat(canon, &a) == 0 && S_ISDIR(a.st_mode) && stat(parent, &b) == 0 && a.st_dev != b.st_dev)
                st = lb_err(err, LB_ERR_USAGE,
                            "%s %s is a mount point; lorabert publishes an output folder by "
                            "renaming it, which a mount point refuses: name a folder inside it",
                            what, path);
            free(parent);
        }
    }
    free(canon);
    free(cwd);
    return st;
}

/* Splits canonical target into parent and name (malloc'd). */
static lb_status split_target(const char *target, char **canon, char **parent, const char **name, lb_error *err) {
    *parent = NULL;
    lb_status st = lb_path_canonical(target, canon, err);
    if (st) return st;
    char *slash = strrchr(*canon, '/');
    if (!slash[1]) {
        free(*canon);
        *canon = NULL;
        return lb_err(err, LB_ERR_USAGE, "%s: the root folder cannot be an output", target);
    }
    *parent = slash == *canon ? strdup("/") : strndup(*canon, (size_t)(slash - *canon));
    *name = slash + 1;
    if (!*parent) {
        free(*canon);
        *canon = NULL;
        return lb_err(err, LB_ERR_NOMEM, "out of memory");
    }
    return LB_OK;
}

static char *fmt_path(const char *parent, const char *name, const char *kind, long pid, const char *hex) {
    size_t n = strlen(parent) + strlen(name) + 64;
    char *p = malloc(n);
    if (!p) return NULL;
    const char *sep = strcmp(parent, "/") ? "/" : "";
    if (hex) snprintf(p, n, "%s%s.%s.%s.%ld.%s", parent, sep, name, kind, pid, hex);
    else snprintf(p, n, "%s%s.%s.%s", parent, sep, name, kind);
    return p;
}

static void random_hex(char out[9]) {
    uint32_t r;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) {
        static uint32_t counter;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        r = (uint32_t)ts.tv_nsec ^ ((uint32_t)getpid() << 16) ^ (++counter * 2654435761u);
    }
    snprintf(out, 9, "%08x", (unsigned)r);
}

/* ---- the writer lock ------------------------------------------------------------------------ */

lb_status lb_outdir_lock_acquire(const char *target, lb_outdir_lock *lk, lb_error *err) {
    lk->fd = -1;
    lk->path = NULL;
    char *canon, *parent;
    const char *name;
    lb_status st = split_target(target, &canon, &parent, &name, err);
    if (st) return st;
    if ((st = lb_mkdir_p(parent, err))) goto out;
    lk->path = fmt_path(parent, name, "lock", 0, NULL);
    if (!lk->path) {
        st = lb_err(err, LB_ERR_NOMEM, "out of memory");
        goto out;
    }
    /* A holder unlinks the file before releasing it: a lock taken on an unlinked (or replaced)
     * file is stale, so take it again on the file now at the path. */
    for (int tries = 0; tries < 100; tries++) {
        int fd = open(lk->path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0) {
            st = lb_err(err, LB_ERR_IO, "%s: cannot create the lock file %s: %s", target, lk->path, strerror(errno));
            goto out;
        }
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            int e = errno;
            char buf[32] = {0};
            ssize_t got = pread(fd, buf, sizeof buf - 1, 0);
            close(fd);
            long pid = got > 0 ? strtol(buf, NULL, 10) : 0;
            if (e == EWOULDBLOCK) {
                if (pid > 0)
                    st = lb_err(err, LB_ERR_IO,
                                "%s: another lorabert process (pid %ld) is writing this folder "
                                "(lock %s); wait for it to finish or choose another output folder",
                                target, pid, lk->path);
                else
                    st = lb_err(err, LB_ERR_IO,
                                "%s: another lorabert process is writing this folder (lock %s); "
                                "wait for it to finish or choose another output folder",
                                target, lk->path);
            } else {
                st = lb_err(err, LB_ERR_IO, "%s: cannot lock %s: %s", target, lk->path, strerror(e));
            }
            goto out;
        }
        struct stat a, b;
        if (fstat(fd, &a) == 0 && stat(lk->path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
            /* the pid only makes a second writer's message clearer: best effort (a full disk) */
            char buf[32];
            int len = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
            if (ftruncate(fd, 0) == 0 && pwrite(fd, buf, (size_t)len, 0) != len) (void)ftruncate(fd, 0);
            lk->fd = fd;
            goto out;
        }
        close(fd);
    }
    st = lb_err(err, LB_ERR_IO, "%s: the lock file %s keeps being replaced", target, lk->path);
out:
    if (st) {
        free(lk->path);
        lk->path = NULL;
    }
    free(canon);
    free(parent);
    return st;
}

void lb_outdir_lock_release(lb_outdir_lock *lk) {
    if (lk->fd >= 0) {
        unlink(lk->path); /* while still held: see lb_outdir_lock_acquire */
        close(lk->fd);
    }
    free(lk->path);
    lk->fd = -1;
    lk->path = NULL;
}

/* ---- trees ---------------------------------------------------------------------------------- */

static int rm_at(int dfd, const char *name, int depth) {
    struct stat sb;
    if (fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) != 0) return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR(sb.st_mode)) return unlinkat(dfd, name, 0) != 0 && errno != ENOENT ? -1 : 0;
    if (depth > MAX_DEPTH) {
        errno = ELOOP;
        return -1;
    }
    int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return -1;
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return -1;
    }
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if (rm_at(fd, e->d_name, depth + 1)) rc = -1;
    }
    closedir(d);
    if (unlinkat(dfd, name, AT_REMOVEDIR) != 0 && errno != ENOENT) rc = -1;
    return rc;
}

lb_status lb_remove_tree(const char *path, lb_error *err) {
    if (!path || !*path) return lb_err(err, LB_ERR_USAGE, "remove: empty path");
    if (rm_at(AT_FDCWD, path, 0)) return lb_err(err, LB_ERR_IO, "%s: cannot remove: %s", path, strerror(errno));
    return LB_OK;
}

/* A stream over the entries of the folder open at fd, which stays open for the caller's *at
 * calls (the stream reads a duplicate); NULL with errno, ELOOP deeper than MAX_DEPTH. */
static DIR *open_entries(int fd, int depth) {
    if (depth > MAX_DEPTH) {
        errno = ELOOP;
        return NULL;
    }
    int dup_fd = dup(fd);
    if (dup_fd < 0) return NULL;
    DIR *d = fdopendir(dup_fd);
    if (!d) {
        int e = errno;
        close(dup_fd);
        errno = e;
    }
    return d;
}

static int fsync_tree_fd(int fd, int depth) {
    DIR *d = open_entries(fd, depth);
    if (!d) return -1;
    int rc = 0;
    struct dirent *e;
    while (!rc && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        struct stat sb;
        if (fstatat(fd, e->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0) {
            rc = -1;
            break;
        }
        if (!S_ISDIR(sb.st_mode) && !S_ISREG(sb.st_mode)) continue;
        int cfd = openat(fd, e->d_name, (S_ISDIR(sb.st_mode) ? O_DIRECTORY : 0) | O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (cfd < 0) {
            rc = -1;
            break;
        }
        rc = S_ISDIR(sb.st_mode) ? fsync_tree_fd(cfd, depth + 1) : fsync(cfd);
        int e2 = errno;
        close(cfd);
        errno = e2;
    }
    closedir(d);
    if (!rc) rc = fsync(fd);
    return rc;
}

static lb_status fsync_path(const char *path, bool tree, lb_error *err) {
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return lb_err(err, LB_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    int rc = tree ? fsync_tree_fd(fd, 0) : fsync(fd);
    int e = errno;
    close(fd);
    if (rc) return lb_err(err, LB_ERR_IO, "%s: fsync failed: %s", path, strerror(e));
    return LB_OK;
}

static int copy_at(int sfd, int dfd, const char *name, mode_t mode) {
    int in = openat(sfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (in < 0) return -1;
    int out = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode & 07777);
    if (out < 0) {
        close(in);
        return -1;
    }
    char buf[1 << 16];
    int rc = 0;
    for (;;) {
        ssize_t got = read(in, buf, sizeof buf);
        if (got < 0) {
            if (errno == EINTR) continue;
            rc = -1;
            break;
        }
        if (got == 0) break;
        for (ssize_t off = 0; off < got;) {
            ssize_t w = write(out, buf + off, (size_t)(got - off));
            if (w < 0) {
                if (errno == EINTR) continue;
                rc = -1;
                break;
            }
            off += w;
        }
        if (rc) break;
    }
    if (!rc && fsync(out) != 0) rc = -1;
    int e = errno;
    close(in);
    if (close(out) != 0 && !rc) {
        rc = -1;
        e = errno;
    }
    if (rc) unlinkat(dfd, name, 0);
    errno = e;
    return rc;
}

static int link_at(int sfd, int dfd, int depth, bool (*skip)(const char *, void *), void *ctx) {
    DIR *d = open_entries(sfd, depth);
    if (!d) return -1;
    int rc = 0;
    struct dirent *e;
    while (!rc && (e = readdir(d))) {
        const char *nm = e->d_name;
        if (!strcmp(nm, ".") || !strcmp(nm, "..")) continue;
        if (skip && skip(nm, ctx)) continue;
        struct stat sb, db;
        if (fstatat(sfd, nm, &sb, AT_SYMLINK_NOFOLLOW) != 0) {
            rc = errno == ENOENT ? 0 : -1;
            continue;
        }
        if (fstatat(dfd, nm, &db, AT_SYMLINK_NOFOLLOW) == 0) continue; /* dst's own version wins */
        if (S_ISREG(sb.st_mode)) {
            if (linkat(sfd, nm, dfd, nm, 0) != 0) {
                if (errno == EXDEV || errno == EPERM || errno == EMLINK || errno == ENOTSUP || errno == EOPNOTSUPP)
                    rc = copy_at(sfd, dfd, nm, sb.st_mode);
                else rc = -1;
            }
        } else if (S_ISDIR(sb.st_mode)) {
            if (mkdirat(dfd, nm, sb.st_mode & 07777) != 0) {
                rc = -1;
                continue;
            }
            int cs = openat(sfd, nm, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            int cd = openat(dfd, nm, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            rc = cs < 0 || cd < 0 ? -1 : link_at(cs, cd, depth + 1, NULL, NULL);
            int e2 = errno;
            if (cs >= 0) close(cs);
            if (cd >= 0) close(cd);
            errno = e2;
        } else if (S_ISLNK(sb.st_mode)) {
            char target[PATH_MAX];
            ssize_t n = readlinkat(sfd, nm, target, sizeof target - 1);
            if (n < 0) {
                rc = -1;
                continue;
            }
            target[n] = '\0';
            rc = symlinkat(target, dfd, nm);
        }
    }
    closedir(d);
    return rc;
}

lb_status lb_link_tree(const char *src, const char *dst, bool (*skip)(const char *name, void *ctx), void *ctx,
                       lb_error *err) {
    int sfd = open(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (sfd < 0) return lb_err(err, LB_ERR_IO, "%s: cannot open: %s", src, strerror(errno));
    int dfd = open(dst, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        close(sfd);
        return lb_err(err, LB_ERR_IO, "%s: cannot open: %s", dst, strerror(errno));
    }
    int rc = link_at(sfd, dfd, 0, skip, ctx);
    int e = errno;
    close(sfd);
    close(dfd);
    if (rc) return lb_err(err, LB_ERR_IO, "%s: cannot carry its files over to %s: %s", src, dst, strerror(e));
    return LB_OK;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

lb_status lb_dir_list(const char *dir, char ***names, int *n, lb_error *err) {
    *names = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) return lb_err(err, LB_ERR_IO, "%s: cannot list: %s", dir, strerror(errno));
    int cap = 16, cnt = 0;
    char **v = malloc(sizeof(char *) * (size_t)cap);
    lb_status st = v ? LB_OK : lb_err(err, LB_ERR_NOMEM, "out of memory");
    struct dirent *e;
    while (!st && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if (cnt + 2 > cap) {
            char **nv = realloc(v, sizeof(char *) * (size_t)(cap *= 2));
            if (!nv) {
                st = lb_err(err, LB_ERR_NOMEM, "out of memory");
                break;
            }
            v = nv;
        }
        struct stat sb;
        bool is_dir = fstatat(dirfd(d), e->d_name, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(sb.st_mode);
        size_t len = strlen(e->d_name);
        char *s = malloc(len + 2);
        if (!s) {
            st = lb_err(err, LB_ERR_NOMEM, "out of memory");
            break;
        }
        memcpy(s, e->d_name, len);
        if (is_dir) s[len++] = '/';
        s[len] = '\0';
        v[cnt++] = s;
    }
    closedir(d);
    if (st) {
        for (int i = 0; i < cnt; i++) free(v[i]);
        free(v);
        return st;
    }
    qsort(v, (size_t)cnt, sizeof *v, cmp_str);
    v[cnt] = NULL;
    *names = v;
    *n = cnt;
    return LB_OK;
}

void lb_dir_list_free(char **names) {
    if (!names) return;
    for (char **p = names; *p; p++) free(*p);
    free(names);
}

/* ---- leftover names ------------------------------------------------------------------------- */

bool lb_outdir_tmp_name(const char *entry, char *out, size_t cap) {
    size_t n = strlen(entry);
    if (n < 12 || memcmp(entry + n - 11, ".tmp.", 5)) return false; /* NAME + ".tmp." + 6 */
    for (size_t i = n - 6; i < n; i++)
        if (!((entry[i] >= 'a' && entry[i] <= 'z') || (entry[i] >= 'A' && entry[i] <= 'Z') ||
              (entry[i] >= '0' && entry[i] <= '9')))
            return false;
    if (out) {
        size_t b = n - 11;
        if (b + 1 > cap) return false;
        memcpy(out, entry, b);
        out[b] = '\0';
    }
    return true;
}

bool lb_outdir_staging_name(const char *entry, char *out, size_t cap) {
    if (entry[0] != '.') return false;
    size_t n = strlen(entry);
    /* ... ".<pid>.<hex8>" at the end */
    if (n < 14) return false;
    for (size_t i = n - 8; i < n; i++)
        if (!((entry[i] >= '0' && entry[i] <= '9') || (entry[i] >= 'a' && entry[i] <= 'f'))) return false;
    if (entry[n - 9] != '.') return false;
    size_t p = n - 9;
    size_t digits = 0;
    while (p > 0 && entry[p - 1] >= '0' && entry[p - 1] <= '9') {
        p--;
        digits++;
    }
    if (!digits || p == 0 || entry[p - 1] != '.') return false;
    p--; /* entry[p] is the '.' before the pid */
    size_t kind_len;
    if (p >= 8 && !memcmp(entry + p - 8, ".staging", 8)) kind_len = 8;
    else if (p >= 4 && !memcmp(entry + p - 4, ".old", 4)) kind_len = 4;
    else return false;
    size_t base = p - kind_len; /* entry[1..base) is X */
    if (base <= 1) return false;
    if (out) {
        if (base > cap) return false;
        memcpy(out, entry + 1, base - 1);
        out[base - 1] = '\0';
    }
    return true;
}

lb_status lb_outdir_clean(const char *target, lb_error *err) {
    char *canon, *parent;
    const char *name;
    lb_status st = split_target(target, &canon, &parent, &name, err);
    if (st) return st;
    DIR *d = opendir(parent);
    if (!d) {
        st = errno == ENOENT ? LB_OK : lb_err(err, LB_ERR_IO, "%s: cannot list: %s", parent, strerror(errno));
        goto out;
    }
    struct stat sb;
    bool target_absent = lstat(canon, &sb) != 0 && errno == ENOENT;
    char **found = NULL;
    int nfound = 0, cap = 0;
    struct dirent *e;
    char base[NAME_MAX + 1];
    while ((e = readdir(d))) {
        if (!lb_outdir_staging_name(e->d_name, base, sizeof base) || strcmp(base, name)) continue;
        if (nfound == cap) {
            char **nf = realloc(found, sizeof(char *) * (size_t)(cap = cap ? 2 * cap : 4));
            if (!nf) {
                st = lb_err(err, LB_ERR_NOMEM, "out of memory");
                break;
            }
            found = nf;
        }
        if (!(found[nfound] = strdup(e->d_name))) {
            st = lb_err(err, LB_ERR_NOMEM, "out of memory");
            break;
        }
        nfound++;
    }
    closedir(d);
    for (int i = 0; !st && i < nfound; i++) {
        char *p = lb_path_join(parent, found[i]);
        if (!p) {
            st = lb_err(err, LB_ERR_NOMEM, "out of memory");
            break;
        }
        bool is_old = !strncmp(found[i] + 1 + strlen(name), ".old.", 5);
        if (is_old && target_absent) {
            /* a crash between the two renames of the fallback publish: the old version is whole */
            if (rename(p, canon) != 0)
                st = lb_err(err, LB_ERR_IO, "%s: cannot restore %s: %s", canon, p, strerror(errno));
            target_absent = false;
        } else {
            st = lb_remove_tree(p, err);
        }
        free(p);
    }
    for (int i = 0; i < nfound; i++) free(found[i]);
    free(found);
out:
    free(canon);
    free(parent);
    return st;
}

lb_status lb_outdir_clean_inside(const char *dir, const char *const *tmp_names, bool (*owned)(const char *name),
                                 lb_error *err) {
    char **names;
    int n;
    lb_status st = lb_dir_list(dir, &names, &n, err);
    if (st) return st;
    char base[NAME_MAX + 1];
    for (int i = 0; !st && i < n; i++) {
        size_t len = strlen(names[i]);
        bool is_dir = len && names[i][len - 1] == '/';
        if (is_dir) names[i][len - 1] = '\0';
        bool drop = false;
        if (!is_dir && tmp_names && lb_outdir_tmp_name(names[i], base, sizeof base))
            for (const char *const *t = tmp_names; *t; t++)
                if (!strcmp(*t, base)) drop = true;
        if (owned && lb_outdir_staging_name(names[i], base, sizeof base) && owned(base)) drop = true;
        if (drop) {
            char *p = lb_path_join(dir, names[i]);
            st = p ? lb_remove_tree(p, err) : lb_err(err, LB_ERR_NOMEM, "out of memory");
            free(p);
        }
    }
    lb_dir_list_free(names);
    return st;
}

/* ---- staging -------------------------------------------------------------------------------- */

lb_status lb_staging_begin(lb_staging *sg, const char *target, lb_error *err) {
    sg->target = sg->dir = NULL;
    char *canon, *parent;
    const char *name;
    lb_status st = split_target(target, &canon, &parent, &name, err);
    if (st) return st;
    for (int tries = 0; tries < 100; tries++) {
        char hex[9];
        random_hex(hex);
        char *p = fmt_path(parent, name, "staging", (long)getpid(), hex);
        if (!p) {
            st = lb_err(err, LB_ERR_NOMEM, "out of memory");
            break;
        }
        if (mkdir(p, 0755) == 0) {
            sg->dir = p;
            sg->target = canon;
            free(parent);
            return LB_OK;
        }
        int e = errno;
        free(p);
        if (e != EEXIST) {
            st = lb_err(err, LB_ERR_IO, "%s: cannot create a staging folder in %s: %s", target, parent, strerror(e));
            break;
        }
    }
    if (!st) st = lb_err(err, LB_ERR_IO, "%s: cannot create a staging folder in %s", target, parent);
    free(canon);
    free(parent);
    return st;
}

void lb_staging_abort(lb_staging *sg) {
    if (sg->dir) (void)lb_remove_tree(sg->dir, NULL);
    free(sg->dir);
    free(sg->target);
    sg->dir = sg->target = NULL;
}

lb_status lb_staging_commit(lb_staging *sg, lb_error *err) {
    if (!sg->dir) return lb_err(err, LB_ERR_INTERNAL, "staging: commit without a staging folder");
    char *parent = strdup(sg->target);
    if (!parent) {
        lb_staging_abort(sg);
        return lb_err(err, LB_ERR_NOMEM, "out of memory");
    }
    char *slash = strrchr(parent, '/');
    if (slash == parent) slash[1] = '\0';
    else *slash = '\0';
    lb_status st = fsync_path(sg->dir, true, err);
    struct stat tb;
    bool exists = !st && lstat(sg->target, &tb) == 0;
    if (exists && !S_ISDIR(tb.st_mode)) st = lb_err(err, LB_ERR_IO, "%s: exists and is not a directory", sg->target);
    if (st) {
        lb_staging_abort(sg);
        free(parent);
        return st;
    }
    if (!exists) {
        if (rename(sg->dir, sg->target) == 0) goto published;
        if (errno != ENOTEMPTY && errno != EEXIST) {
            st = lb_err(err, LB_ERR_IO, "%s: cannot publish %s: %s", sg->target, sg->dir, strerror(errno));
            goto fail;
        }
        if (lstat(sg->target, &tb) != 0) { /* appeared and vanished: give up rather than guess */
            st = lb_err(err, LB_ERR_IO, "%s: changed while being published", sg->target);
            goto fail;
        }
    }
    (void)chmod(sg->dir, tb.st_mode & 07777);
    if (renameat2(AT_FDCWD, sg->dir, AT_FDCWD, sg->target, RENAME_EXCHANGE) == 0) {
        (void)lb_remove_tree(sg->dir, NULL); /* now the old version; a failure leaves a named leftover */
        goto published;
    }
    if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP && errno != EOPNOTSUPP) {
        st = lb_err(err, LB_ERR_IO, "%s: cannot publish %s: %s", sg->target, sg->dir, strerror(errno));
        goto fail;
    }
    { /* no RENAME_EXCHANGE here: move the old version aside, then the new one in */
        const char *name = strrchr(sg->target, '/') + 1;
        char hex[9];
        random_hex(hex);
        char *old = fmt_path(parent, name, "old", (long)getpid(), hex);
        if (!old) {
            st = lb_err(err, LB_ERR_NOMEM, "out of memory");
            goto fail;
        }
        if (rename(sg->target, old) != 0) {
            st = lb_err(err, LB_ERR_IO, "%s: cannot move the old version aside: %s", sg->target, strerror(errno));
            free(old);
            goto fail;
        }
        if (rename(sg->dir, sg->target) != 0) {
            st = lb_err(err, LB_ERR_IO, "%s: cannot publish %s: %s", sg->target, sg->dir, strerror(errno));
            (void)rename(old, sg->target);
            free(old);
            goto fail;
        }
        (void)fsync_path(parent, false, NULL);
        (void)lb_remove_tree(old, NULL);
        free(old);
    }
published:
    free(sg->dir);
    sg->dir = NULL;
    st = fsync_path(parent, false, err);
    free(parent);
    free(sg->target);
    sg->target = NULL;
    return st;
fail:
    lb_staging_abort(sg);
    free(parent);
    return st;
}
