/* Sequential reading of a text data file (CSV/TSV, JSON Lines) through a bounded window.
 *
 * Owns: the window of file bytes a text parser sees, its refill, and the UTF-8 check of those
 * bytes. Why: a data-parallel process keeps one row in N of a corpus that may be far larger than
 * its memory; reading the whole file first would make every process hold all of it. A parser
 * reads records from buf[0..ready); when a record runs past `ready` before the end of the file
 * it calls lb_text_stream_more() with the record's start and parses that record again from the
 * moved window (records are re-parsed, never resumed: a parser keeps no state inside a record).
 * Guarantees: the window holds at most the current record plus one chunk (LB_TEXT_CHUNK_BYTES),
 * and grows past that only for a record longer than a chunk, up to max_window bytes
 * (LB_ERR_UNSUPPORTED naming the offset beyond); every byte a parser sees has been checked to be
 * UTF-8: an invalid byte ends what a parser sees, and asking for more reports it ("name:LINE:
 * invalid UTF-8 byte 0xXX at file offset N"), so a parser reports the first error in file order
 * whatever the chunk size (a sequence cut by the window's end waits for the next chunk); a UTF-8 byte order mark at the
 * start is skipped (`start`); a file is read up to the size it had when opened, and one that grew
 * meanwhile is refused (a file appended to for ever cannot hang a reader). A memory buffer
 * (lb_text_stream_open_mem) is one window holding everything, checked at once. */
#ifndef LB_DATA_TEXT_STREAM_H
#define LB_DATA_TEXT_STREAM_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "base/error.h"

#define LB_TEXT_CHUNK_BYTES ((size_t)1 << 20) /* bytes read per refill */
#define LB_MAX_RECORD_BYTES ((size_t)1 << 30) /* one CSV record or JSON line */

typedef struct lb_text_stream {
    const char *name; /* for messages (the path) */
    int fd;           /* -1: a memory buffer */
    char *buf;        /* the window: file bytes [base, base + len) */
    size_t cap, len;
    size_t ready;      /* buf[0..ready) is checked UTF-8: what a parser may read */
    size_t start;      /* where the text begins in the first window (past a BOM), else 0 */
    size_t max_window; /* the largest window a record may need (LB_MAX_RECORD_BYTES by default) */
    uint64_t base;     /* file offset of buf[0] */
    uint64_t lines;    /* '\n' bytes in the file before buf[ready] */
    uint64_t size_at_open, read_total;
    bool eof;         /* nothing follows buf[len) */
    bool bad_pending; /* an invalid UTF-8 byte stops `ready`; the next more() reports it */
    unsigned char bad_byte;
    uint64_t bad_offset;
} lb_text_stream;

/* Opens path (lb_open_regular's rule; no size limit: the window is bounded, not the file) and
 * reads its first chunk. On failure nothing is left to close. */
lb_status lb_text_stream_open(lb_text_stream *s, const char *path, lb_error *err);
/* The same reading chunk_bytes (>= 1) per refill: tests move the window's edge through every
 * byte of a record with small chunks. */
lb_status lb_text_stream_open_chunked(lb_text_stream *s, const char *path, size_t chunk_bytes, lb_error *err);
/* A stream over data[0..len) (borrowed, not copied; need not be NUL-terminated). */
lb_status lb_text_stream_open_mem(lb_text_stream *s, const char *data, size_t len, const char *name, lb_error *err);
/* True when buf[0..ready) is the rest of the file: a parser at `ready` is at the end. */
static inline bool lb_text_stream_last(const lb_text_stream *s) { return s->eof && s->ready == s->len; }
/* Drops buf[0..keep_from) and makes more of the file ready after what is kept (buf[0] is then
 * the byte that was buf[keep_from]). Call only when !lb_text_stream_last(s). */
lb_status lb_text_stream_more(lb_text_stream *s, size_t keep_from, lb_error *err);
void lb_text_stream_close(lb_text_stream *s);
#endif
