/* The bounded window over a text data file (see text_stream.h). */
#include "data/text_stream.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/fileio.h"
#include "base/utf8.h"

/* Bytes of the sequence a UTF-8 lead byte starts (0: not a lead byte). */
static size_t utf8_seq_len(unsigned char c) {
    if (c >= 0xC2 && c <= 0xDF) return 2;
    if (c >= 0xE0 && c <= 0xEF) return 3;
    if (c >= 0xF0 && c <= 0xF4) return 4;
    return 0;
}

/* Checks buf[ready..len) and moves `ready` past what is valid. A sequence cut by the end of
 * the window waits (unless the file ends there). An invalid byte stops `ready` before it and is
 * reported when a parser asks for more: errors come in file order whatever the chunk size. */
static void check_new_bytes(lb_text_stream *s) {
    if (s->bad_pending) return;
    const unsigned char *u = (const unsigned char *)s->buf;
    size_t from = s->ready, n = s->len - from;
    size_t bad = from + lb_utf8_first_invalid(u + from, n);
    if (bad < s->len) {
        size_t need = utf8_seq_len(u[bad]), have = s->len - bad;
        bool cut = !s->eof && need > have;
        for (size_t k = 1; cut && k < have; k++) cut = (u[bad + k] & 0xC0) == 0x80;
        if (!cut) {
            s->bad_pending = true;
            s->bad_byte = u[bad];
            s->bad_offset = s->base + bad;
        }
    }
    for (const char *p = s->buf + from, *end = s->buf + bad; (p = memchr(p, '\n', (size_t)(end - p))) != NULL; p++)
        s->lines++;
    s->ready = bad;
}

/* Reads into buf[len..cap) until it is full or the file ends. */
static lb_status fill(lb_text_stream *s, lb_error *err) {
    while (s->len < s->cap && !s->eof) {
        uint64_t left = s->size_at_open - s->read_total;
        size_t want = s->cap - s->len;
        if (left == 0) {
            /* The size at open is read: one more byte means the file grew meanwhile. */
            char probe;
            ssize_t got = read(s->fd, &probe, 1);
            if (got < 0 && errno == EINTR) continue;
            if (got < 0) return lb_err(err, LB_ERR_IO, "%s: read failed: %s", s->name, strerror(errno));
            if (got > 0)
                return lb_err(err, LB_ERR_IO, "%s: the file grew while it was read (it had %llu bytes when opened)",
                              s->name, (unsigned long long)s->size_at_open);
            s->eof = true;
            break;
        }
        if (want > left) want = (size_t)left;
        ssize_t got = read(s->fd, s->buf + s->len, want);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) return lb_err(err, LB_ERR_IO, "%s: read failed: %s", s->name, strerror(errno));
        if (got == 0) { /* shorter than at open: what was there is the file */
            s->eof = true;
            break;
        }
        s->len += (size_t)got;
        s->read_total += (uint64_t)got;
    }
    check_new_bytes(s);
    return LB_OK;
}

lb_status lb_text_stream_open(lb_text_stream *s, const char *path, lb_error *err) {
    return lb_text_stream_open_chunked(s, path, LB_TEXT_CHUNK_BYTES, err);
}

lb_status lb_text_stream_open_chunked(lb_text_stream *s, const char *path, size_t chunk_bytes, lb_error *err) {
    memset(s, 0, sizeof *s);
    s->fd = -1;
    int fd;
    uint64_t size;
    lb_status st = lb_open_regular(path, SIZE_MAX, "data file", &fd, &size, err);
    if (st) return st;
    *s = (lb_text_stream){.name = path,
                          .fd = fd,
                          .cap = chunk_bytes > 4 ? chunk_bytes : 4, /* room for a BOM */
                          .max_window = LB_MAX_RECORD_BYTES,
                          .size_at_open = size};
    if (size + 1 < s->cap) s->cap = (size_t)size + 1; /* a small file: a small window */
    s->buf = malloc(s->cap);
    if (!s->buf) {
        close(fd);
        return lb_err(err, LB_ERR_NOMEM, "%s: out of memory for a %zu-byte read window", path, s->cap);
    }
    if ((st = fill(s, err)) != LB_OK) {
        lb_text_stream_close(s);
        return st;
    }
    const unsigned char *u = (const unsigned char *)s->buf;
    s->start = s->ready >= 3 && u[0] == 0xEF && u[1] == 0xBB && u[2] == 0xBF ? 3 : 0;
    return LB_OK;
}

lb_status lb_text_stream_open_mem(lb_text_stream *s, const char *data, size_t len, const char *name, lb_error *err) {
    *s = (lb_text_stream){.name = name,
                          .fd = -1,
                          .buf = (char *)(uintptr_t)data, /* never written: fd < 0 */
                          .cap = len,
                          .len = len,
                          .max_window = len,
                          .size_at_open = len,
                          .read_total = len,
                          .eof = true};
    check_new_bytes(s);
    const unsigned char *u = (const unsigned char *)data;
    s->start = s->ready >= 3 && u[0] == 0xEF && u[1] == 0xBB && u[2] == 0xBF ? 3 : 0;
    return LB_OK;
}

lb_status lb_text_stream_more(lb_text_stream *s, size_t keep_from, lb_error *err) {
    if (s->bad_pending)
        return lb_err(err, LB_ERR_FORMAT, "%s:%llu: invalid UTF-8 byte 0x%02x at file offset %llu", s->name,
                      (unsigned long long)s->lines + 1, s->bad_byte, (unsigned long long)s->bad_offset);
    if (s->fd < 0 || lb_text_stream_last(s)) return LB_OK; /* nothing more to read */
    if (keep_from > 0) {
        s->len -= keep_from;
        s->ready -= keep_from;
        memmove(s->buf, s->buf + keep_from, s->len);
        s->base += keep_from;
        s->start = 0;
    } else if (s->len == s->cap) { /* one record fills the window: widen it */
        if (s->cap >= s->max_window)
            return lb_err(err, LB_ERR_UNSUPPORTED,
                          "%s: the record at file offset %llu is longer than %zu bytes (the limit of one row)", s->name,
                          (unsigned long long)s->base, s->max_window);
        size_t ncap = s->cap > s->max_window / 2 ? s->max_window : s->cap * 2;
        char *nb = realloc(s->buf, ncap);
        if (!nb) return lb_err(err, LB_ERR_NOMEM, "%s: out of memory for a %zu-byte read window", s->name, ncap);
        s->buf = nb;
        s->cap = ncap;
    }
    return fill(s, err);
}

void lb_text_stream_close(lb_text_stream *s) {
    if (s->fd >= 0) {
        close(s->fd);
        free(s->buf);
    }
    memset(s, 0, sizeof *s);
    s->fd = -1;
}
