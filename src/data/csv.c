/* CSV/TSV parsing (see csv.h). Errors name the file and the 1-based physical line. */
#include "data/csv.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/table_build.h"
#include "data/text_stream.h"

typedef struct csv_field {
    size_t off, len; /* into the record's byte buffer */
    bool quoted;
} csv_field;

typedef struct csv_rec { /* one parsed record: field bytes back to back, NUL after each */
    char *buf;
    size_t n, cap;
    csv_field *f;
    size_t nf, fcap;
} csv_rec;

static bool rec_put(csv_rec *r, const char *s, size_t n) {
    if (r->n + n + 1 > r->cap) {
        size_t nc = r->cap ? r->cap : 4096;
        while (r->n + n + 1 > nc) nc *= 2;
        char *nb = realloc(r->buf, nc);
        if (!nb) return false;
        r->buf = nb;
        r->cap = nc;
    }
    memcpy(r->buf + r->n, s, n);
    r->n += n;
    return true;
}

static bool rec_end_field(csv_rec *r, size_t start, bool quoted) {
    if (r->nf == r->fcap) {
        size_t nc = r->fcap ? r->fcap * 2 : 16;
        csv_field *nf = realloc(r->f, nc * sizeof *nf);
        if (!nf) return false;
        r->f = nf;
        r->fcap = nc;
    }
    r->f[r->nf++] = (csv_field){start, r->n - start, quoted};
    return rec_put(r, "", 1); /* NUL terminator (counted in n, not in len) */
}

static char *dup_bytes(const char *s, size_t n) {
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

static int cmp_name_ptr(const void *a, const void *b) { return strcmp(**(char **const *)a, **(char **const *)b); }

/* Header names must be unique (sorted check: O(n log n) for very wide headers). */
static lb_status check_unique_names(const lb_table *t, const char *name, size_t line, lb_error *err) {
    char ***p = malloc(t->ncols * sizeof *p);
    if (!p) return lb_err(err, LB_ERR_NOMEM, "out of memory");
    for (size_t c = 0; c < t->ncols; c++) p[c] = &t->col_names[c];
    qsort(p, t->ncols, sizeof *p, cmp_name_ptr);
    lb_status st = LB_OK;
    for (size_t c = 1; c < t->ncols && st == LB_OK; c++)
        if (strcmp(*p[c - 1], *p[c]) == 0) {
            size_t i = (size_t)(p[c - 1] - t->col_names), j = (size_t)(p[c] - t->col_names);
            st = lb_err(err, LB_ERR_FORMAT, "%s:%zu: duplicate column name \"%s\" (columns %zu and %zu)", name, line,
                        *p[c], (i < j ? i : j) + 1, (i < j ? j : i) + 1);
        }
    free(p);
    return st;
}

typedef enum rec_kind { REC_ROW, REC_BLANK, REC_MORE, REC_ERROR } rec_kind;

/* Parses the record at data[*i..len) into r: REC_ROW (a record), REC_BLANK (an empty line,
 * skipped as pandas does), REC_MORE (it runs past len and more of the file follows: the caller
 * widens the window and parses it again from its start) or REC_ERROR (*st set). `last`: len is
 * the end of the file. *i and *line advance past what was parsed. */
static rec_kind csv_record(const char *data, size_t len, bool last, char delim, const char *name, size_t *ip,
                           size_t *linep, csv_rec *r, lb_status *st, lb_error *err) {
    size_t i = *ip, line = *linep, rec_line = line;
    r->n = r->nf = 0;
    if (data[i] == '\n' || data[i] == '\r') {
        if (data[i] == '\r' && i + 1 >= len && !last) return REC_MORE; /* CR LF cut by the window */
        *ip = i + ((data[i] == '\r' && i + 1 < len && data[i + 1] == '\n') ? 2 : 1);
        *linep = line + 1;
        return REC_BLANK;
    }
    for (;;) { /* one field per iteration */
        size_t start = r->n;
        bool quoted = false;
        if (i >= len && !last) return REC_MORE;
        if (i < len && data[i] == '"') {
            quoted = true;
            size_t qline = line;
            i++;
            for (;;) {
                if (i >= len) {
                    if (!last) return REC_MORE;
                    *st = lb_err(err, LB_ERR_FORMAT,
                                 "%s:%zu: unterminated quoted field (field %zu of the record starting at line %zu)",
                                 name, qline, r->nf + 1, rec_line);
                    return REC_ERROR;
                }
                /* Copy the run up to the next quote in one go. */
                const char *q = memchr(data + i, '"', len - i);
                size_t run = q ? (size_t)(q - (data + i)) : len - i;
                for (size_t k = 0; k < run; k++)
                    if (data[i + k] == '\n' || (data[i + k] == '\r' && (i + k + 1 >= len || data[i + k + 1] != '\n')))
                        line++;
                if (!rec_put(r, data + i, run)) goto oom;
                i += run;
                if (i >= len) continue;
                if (i + 1 >= len && !last) return REC_MORE; /* a doubled quote cut by the window? */
                if (i + 1 < len && data[i + 1] == '"') {    /* doubled quote */
                    if (!rec_put(r, "\"", 1)) goto oom;
                    i += 2;
                    continue;
                }
                i++; /* closing quote */
                break;
            }
            if (i >= len && !last) return REC_MORE;
            if (i < len && data[i] != delim && data[i] != '\n' && data[i] != '\r') {
                *st = lb_err(err, LB_ERR_FORMAT,
                             "%s:%zu: unexpected character '%c' after the closing quote of field %zu (expected "
                             "'%s', a line end or end of file)",
                             name, line, data[i] >= 0x20 && (unsigned char)data[i] < 0x7f ? data[i] : '?', r->nf + 1,
                             delim == '\t' ? "\\t" : ",");
                return REC_ERROR;
            }
        } else {
            size_t s = i;
            while (i < len && data[i] != delim && data[i] != '\n' && data[i] != '\r') i++;
            if (i >= len && !last) return REC_MORE;
            if (!rec_put(r, data + s, i - s)) goto oom;
        }
        if (!rec_end_field(r, start, quoted)) goto oom;
        if (i < len && data[i] == delim) {
            i++;
            continue;
        }
        if (i < len) { /* line end */
            if (data[i] == '\r' && i + 1 >= len && !last) return REC_MORE;
            i += (data[i] == '\r' && i + 1 < len && data[i + 1] == '\n') ? 2 : 1;
            line++;
        }
        break;
    }
    *ip = i;
    *linep = line;
    return REC_ROW;
oom:
    *st = lb_err(err, LB_ERR_NOMEM, "%s:%zu: out of memory", name, line);
    return REC_ERROR;
}

/* Reads every record of s. The window moves on at record boundaries only, so a record is
 * always parsed from its first byte (the line counter goes back with it). */
static lb_status csv_parse(lb_text_stream *ts, char delim, lb_row_filter *keep, lb_table *out, lb_error *err) {
    memset(out, 0, sizeof *out);
    const char *name = ts->name;
    size_t i = ts->start, line = 1;
    lb_status st = LB_OK;
    lb_table_builder b = {.keep = keep};
    csv_rec r = {0};
    bool have_header = false;
    for (;;) {
        if (i >= ts->ready) {
            if (lb_text_stream_last(ts)) break;
            if ((st = lb_text_stream_more(ts, i, err)) != LB_OK) goto done;
            i = 0;
            continue;
        }
        size_t rec_start = i, rec_line = line;
        rec_kind k = csv_record(ts->buf, ts->ready, lb_text_stream_last(ts), delim, name, &i, &line, &r, &st, err);
        if (k == REC_ERROR) goto done;
        if (k == REC_MORE) {
            if ((st = lb_text_stream_more(ts, rec_start, err)) != LB_OK) goto done;
            i = 0;
            line = rec_line;
            continue;
        }
        if (k == REC_BLANK) continue;
        if (!have_header) {
            for (size_t c = 0; c < r.nf; c++) {
                char unnamed[32];
                const char *nm = r.buf + r.f[c].off;
                size_t nl = r.f[c].len;
                if (nl == 0) { /* pandas names an empty header cell "Unnamed: <index>" */
                    nl = (size_t)snprintf(unnamed, sizeof unnamed, "Unnamed: %zu", c);
                    nm = unnamed;
                }
                if (memchr(nm, 0, nl)) {
                    st = lb_err(err, LB_ERR_FORMAT, "%s:%zu: header column %zu contains a NUL byte", name, rec_line,
                                c + 1);
                    goto done;
                }
                size_t col;
                if ((st = lb_tb_add_col(&b, nm, nl, &col, err)) != LB_OK) goto done;
            }
            if ((st = check_unique_names(&b.t, name, rec_line, err)) != LB_OK) goto done;
            have_header = true;
            continue;
        }
        if (r.nf != b.t.ncols) {
            st = lb_err(err, LB_ERR_FORMAT, "%s:%zu: expected %zu fields (as in the header), found %zu", name, rec_line,
                        b.t.ncols, r.nf);
            goto done;
        }
        lb_value *row = lb_tb_add_row(&b, err);
        if (!row) {
            st = LB_ERR_NOMEM;
            goto done;
        }
        for (size_t c = 0; c < r.nf; c++) {
            if (r.f[c].len == 0 && !r.f[c].quoted) continue; /* NULL, as pandas' NaN */
            char *s = dup_bytes(r.buf + r.f[c].off, r.f[c].len);
            if (!s) {
                st = lb_err(err, LB_ERR_NOMEM, "%s:%zu: out of memory", name, rec_line);
                goto done;
            }
            row[c] = (lb_value){.type = LB_VAL_STR, .s = s, .slen = r.f[c].len};
        }
    }
    if (!have_header) {
        st = lb_err(err, LB_ERR_FORMAT, "%s: empty file (no header row)", name);
        goto done;
    }
    lb_tb_finish(&b, out);
done:
    free(r.buf);
    free(r.f);
    lb_tb_free(&b);
    return st;
}

lb_status lb_csv_parse(const char *data, size_t len, char delim, const char *name, lb_table *out, lb_error *err) {
    lb_text_stream ts;
    memset(out, 0, sizeof *out);
    lb_status st = lb_text_stream_open_mem(&ts, data, len, name, err);
    if (st == LB_OK) st = csv_parse(&ts, delim, NULL, out, err);
    lb_text_stream_close(&ts);
    return st;
}

lb_status lb_csv_read(const char *path, char delim, lb_table *out, lb_error *err) {
    return lb_csv_read_rows(path, delim, NULL, out, err);
}

lb_status lb_csv_read_rows(const char *path, char delim, lb_row_filter *keep, lb_table *out, lb_error *err) {
    /* Read through a bounded window (data/text_stream.h), not whole and not mapped (a mapped
     * file truncated by another process while parsed kills the process with SIGBUS): a process
     * holds the rows its filter keeps plus one chunk of the file. */
    lb_text_stream ts;
    memset(out, 0, sizeof *out);
    lb_status st = lb_text_stream_open(&ts, path, err);
    if (st != LB_OK) return st;
    st = csv_parse(&ts, delim, keep, out, err);
    lb_text_stream_close(&ts);
    return st;
}

lb_status lb_csv_read_stream(lb_text_stream *ts, char delim, lb_row_filter *keep, lb_table *out, lb_error *err) {
    return csv_parse(ts, delim, keep, out, err);
}
