/* CSV/TSV parsing (see csv.h). Errors name the file and the 1-based physical line. */
#include "data/csv.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "data/table_build.h"

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

static lb_status csv_parse(const char *data, size_t len, char delim, const char *name, lb_row_filter *keep,
                           lb_table *out, lb_error *err) {
    memset(out, 0, sizeof *out);
    size_t i, line = 1;
    lb_status st = lb_tb_check_text(data, len, name, &i, err);
    if (st) return st;

    lb_table_builder b = {.keep = keep};
    csv_rec r = {0};
    bool have_header = false;
    while (i < len) {
        if (data[i] == '\n' || data[i] == '\r') { /* blank line: skipped, as pandas does */
            i += (data[i] == '\r' && i + 1 < len && data[i + 1] == '\n') ? 2 : 1;
            line++;
            continue;
        }
        size_t rec_line = line;
        r.n = r.nf = 0;
        for (;;) { /* one field per iteration */
            size_t start = r.n;
            bool quoted = false;
            if (i < len && data[i] == '"') {
                quoted = true;
                size_t qline = line;
                i++;
                for (;;) {
                    if (i >= len) {
                        st = lb_err(err, LB_ERR_FORMAT,
                                    "%s:%zu: unterminated quoted field (field %zu of the record starting at line %zu)",
                                    name, qline, r.nf + 1, rec_line);
                        goto done;
                    }
                    /* Copy the run up to the next quote in one go. */
                    const char *q = memchr(data + i, '"', len - i);
                    size_t run = q ? (size_t)(q - (data + i)) : len - i;
                    for (size_t k = 0; k < run; k++)
                        if (data[i + k] == '\n' ||
                            (data[i + k] == '\r' && (i + k + 1 >= len || data[i + k + 1] != '\n')))
                            line++;
                    if (!rec_put(&r, data + i, run)) goto oom;
                    i += run;
                    if (i >= len) continue;
                    if (i + 1 < len && data[i + 1] == '"') { /* doubled quote */
                        if (!rec_put(&r, "\"", 1)) goto oom;
                        i += 2;
                        continue;
                    }
                    i++; /* closing quote */
                    break;
                }
                if (i < len && data[i] != delim && data[i] != '\n' && data[i] != '\r') {
                    st = lb_err(err, LB_ERR_FORMAT,
                                "%s:%zu: unexpected character '%c' after the closing quote of field %zu (expected "
                                "'%s', a line end or end of file)",
                                name, line, data[i] >= 0x20 && (unsigned char)data[i] < 0x7f ? data[i] : '?', r.nf + 1,
                                delim == '\t' ? "\\t" : ",");
                    goto done;
                }
            } else {
                size_t s = i;
                while (i < len && data[i] != delim && data[i] != '\n' && data[i] != '\r') i++;
                if (!rec_put(&r, data + s, i - s)) goto oom;
            }
            if (!rec_end_field(&r, start, quoted)) goto oom;
            if (i < len && data[i] == delim) {
                i++;
                continue;
            }
            if (i < len) { /* line end */
                i += (data[i] == '\r' && i + 1 < len && data[i + 1] == '\n') ? 2 : 1;
                line++;
            }
            break;
        }
        if (!have_header) {
            for (size_t k = 0; k < r.nf; k++) {
                char unnamed[32];
                const char *nm = r.buf + r.f[k].off;
                size_t nl = r.f[k].len;
                if (nl == 0) { /* pandas names an empty header cell "Unnamed: <index>" */
                    nl = (size_t)snprintf(unnamed, sizeof unnamed, "Unnamed: %zu", k);
                    nm = unnamed;
                }
                if (memchr(nm, 0, nl)) {
                    st = lb_err(err, LB_ERR_FORMAT, "%s:%zu: header column %zu contains a NUL byte", name, rec_line,
                                k + 1);
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
        for (size_t k = 0; k < r.nf; k++) {
            if (r.f[k].len == 0 && !r.f[k].quoted) continue; /* NULL, as pandas' NaN */
            char *s = dup_bytes(r.buf + r.f[k].off, r.f[k].len);
            if (!s) goto oom;
            row[k] = (lb_value){.type = LB_VAL_STR, .s = s, .slen = r.f[k].len};
        }
    }
    if (!have_header) {
        st = lb_err(err, LB_ERR_FORMAT, "%s: empty file (no header row)", name);
        goto done;
    }
    lb_tb_finish(&b, out);
    goto done;
oom:
    st = lb_err(err, LB_ERR_NOMEM, "%s:%zu: out of memory", name, line);
done:
    free(r.buf);
    free(r.f);
    lb_tb_free(&b);
    return st;
}

lb_status lb_csv_parse(const char *data, size_t len, char delim, const char *name, lb_table *out, lb_error *err) {
    return csv_parse(data, len, delim, name, NULL, out, err);
}

lb_status lb_csv_read(const char *path, char delim, lb_table *out, lb_error *err) {
    return lb_csv_read_rows(path, delim, NULL, out, err);
}

lb_status lb_csv_read_rows(const char *path, char delim, lb_row_filter *keep, lb_table *out, lb_error *err) {
    char *data;
    size_t len;
    memset(out, 0, sizeof *out);
    /* A heap copy, not an mmap: a mapped file truncated by another process while parsed kills
     * the process with SIGBUS instead of failing, and the copy is freed as soon as parsed (the
     * table keeps only the filter's rows). */
    lb_status st = lb_read_file_max(path, LB_MAX_DATASET_BYTES, "data file", &data, &len, err);
    if (st != LB_OK) return st;
    st = csv_parse(data, len, delim, path, keep, out, err);
    free(data);
    return st;
}
