/* TensorBoard event files; see tfevents.h. */
#include "formats/tfevents.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "base/fileio.h"

uint32_t lb_crc32c(uint32_t crc, const void *p, size_t n) {
    static uint32_t table[256];
    static int ready; /* the table is the same whoever fills it: a benign race */
    if (!__atomic_load_n(&ready, __ATOMIC_ACQUIRE)) {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++) c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
            __atomic_store_n(&table[i], c, __ATOMIC_RELAXED);
        }
        __atomic_store_n(&ready, 1, __ATOMIC_RELEASE);
    }
    const unsigned char *b = p;
    crc = ~crc;
    for (size_t i = 0; i < n; i++) crc = table[(crc ^ b[i]) & 0xff] ^ (crc >> 8);
    return ~crc;
}

uint32_t lb_crc32c_masked(const void *p, size_t n) {
    uint32_t c = lb_crc32c(0, p, n);
    return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

/* ---- protobuf, the few wire types an Event needs ---------------------------------------- */

typedef struct pbuf {
    unsigned char *b;
    size_t n, cap;
    bool oom;
} pbuf;

static void pb_put(pbuf *p, const void *src, size_t n) {
    if (p->oom) return;
    if (p->n + n > p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 128;
        while (cap < p->n + n) cap *= 2;
        unsigned char *nb = realloc(p->b, cap);
        if (!nb) {
            p->oom = true;
            return;
        }
        p->b = nb;
        p->cap = cap;
    }
    memcpy(p->b + p->n, src, n);
    p->n += n;
}

static void pb_varint(pbuf *p, uint64_t v) {
    unsigned char t[10];
    int k = 0;
    do {
        t[k] = (unsigned char)(v & 0x7f);
        v >>= 7;
        if (v) t[k] |= 0x80;
        k++;
    } while (v);
    pb_put(p, t, (size_t)k);
}

static void pb_le(pbuf *p, uint64_t v, int bytes) {
    unsigned char t[8];
    for (int i = 0; i < bytes; i++) t[i] = (unsigned char)(v >> (8 * i));
    pb_put(p, t, (size_t)bytes);
}

static void pb_bytes(pbuf *p, int field, const void *data, size_t n) {
    pb_varint(p, (uint64_t)field << 3 | 2);
    pb_varint(p, n);
    pb_put(p, data, n);
}

static void pb_double(pbuf *p, int field, double v) {
    uint64_t u;
    memcpy(&u, &v, 8);
    pb_varint(p, (uint64_t)field << 3 | 1);
    pb_le(p, u, 8);
}

/* Event {1: double wall_time, 2: int64 step (0 omitted, as proto3 does), 3: string file_version,
 * 5: Summary summary}; Summary {1: repeated Value}; Value {1: string tag, 2: float simple_value}. */
static void pb_event(pbuf *p, double wall_time, int64_t step, const char *file_version, const char *tag, float value) {
    pb_double(p, 1, wall_time);
    if (step) {
        pb_varint(p, 2 << 3 | 0);
        pb_varint(p, (uint64_t)step);
    }
    if (file_version) pb_bytes(p, 3, file_version, strlen(file_version));
    if (tag) {
        pbuf v = {0}, s = {0};
        pb_bytes(&v, 1, tag, strlen(tag));
        uint32_t u;
        memcpy(&u, &value, 4);
        pb_varint(&v, 2 << 3 | 5);
        pb_le(&v, u, 4);
        if (v.oom) p->oom = true;
        else pb_bytes(&s, 1, v.b, v.n);
        if (s.oom) p->oom = true;
        else pb_bytes(p, 5, s.b, s.n);
        free(v.b);
        free(s.b);
    }
}

static lb_status write_record(lb_tfevents *w, pbuf *ev, lb_error *err) {
    if (ev->oom) return lb_err(err, LB_ERR_NOMEM, "%s: out of memory", w->path);
    pbuf r = {0};
    unsigned char len[8];
    for (int i = 0; i < 8; i++) len[i] = (unsigned char)((uint64_t)ev->n >> (8 * i));
    pb_put(&r, len, 8);
    pb_le(&r, lb_crc32c_masked(len, 8), 4);
    pb_put(&r, ev->b, ev->n);
    pb_le(&r, lb_crc32c_masked(ev->b, ev->n), 4);
    if (r.oom) return lb_err(err, LB_ERR_NOMEM, "%s: out of memory", w->path);
    size_t off = 0;
    lb_status st = LB_OK;
    while (off < r.n) {
        ssize_t k = write(w->fd, r.b + off, r.n - off);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) {
            st = lb_err(err, LB_ERR_IO, "%s: write failed: %s", w->path, k < 0 ? strerror(errno) : "no progress");
            break;
        }
        off += (size_t)k;
    }
    free(r.b);
    return st;
}

lb_status lb_tfevents_open(lb_tfevents *w, const char *dir, double wall_time, lb_error *err) {
    w->fd = -1;
    w->path = NULL;
    lb_status st = lb_mkdir_p(dir, err);
    if (st) return st;
    char host[256] = "localhost";
    if (gethostname(host, sizeof host - 1) != 0) strcpy(host, "localhost");
    host[sizeof host - 1] = 0;
    /* SummaryWriter's name; the counter makes a second file of this process in the same second
     * distinct (torch counts files per process from 0) */
    static int counter;
    int uid = __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED);
    char name[512];
    snprintf(name, sizeof name, "events.out.tfevents.%010lld.%s.%ld.%d", (long long)wall_time, host, (long)getpid(),
             uid);
    if (!(w->path = lb_path_join(dir, name))) return lb_err(err, LB_ERR_NOMEM, "out of memory");
    w->fd = open(w->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (w->fd < 0) {
        st = lb_err(err, LB_ERR_IO, "%s: cannot create: %s", w->path, strerror(errno));
        lb_tfevents_close(w);
        return st;
    }
    pbuf ev = {0};
    pb_event(&ev, wall_time, 0, "brain.Event:2", NULL, 0);
    st = write_record(w, &ev, err);
    free(ev.b);
    if (st) lb_tfevents_close(w);
    return st;
}

lb_status lb_tfevents_scalar(lb_tfevents *w, const char *tag, double value, int64_t step, double wall_time,
                             lb_error *err) {
    if (w->fd < 0) return lb_err(err, LB_ERR_USAGE, "event file: not open");
    pbuf ev = {0};
    pb_event(&ev, wall_time, step, NULL, tag, (float)value);
    lb_status st = write_record(w, &ev, err);
    free(ev.b);
    return st;
}

void lb_tfevents_close(lb_tfevents *w) {
    if (w->fd >= 0) close(w->fd);
    w->fd = -1;
    free(w->path);
    w->path = NULL;
}

void lb_tfevents_run_name(char *buf, size_t n, double unix_time) {
    static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t t = (time_t)unix_time;
    struct tm tm;
    localtime_r(&t, &tm);
    char host[256] = "localhost";
    if (gethostname(host, sizeof host - 1) != 0) strcpy(host, "localhost");
    host[sizeof host - 1] = 0;
    snprintf(buf, n, "%s%02d_%02d-%02d-%02d_%s", mon[tm.tm_mon % 12], tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             host);
}
