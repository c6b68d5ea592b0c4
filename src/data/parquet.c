/* Parquet reader: footer, column selection, page walk and value assembly into an lb_table.
 *
 * Owns: locating and validating the footer, mapping requested names to flat leaf columns,
 * walking each column chunk's pages (dictionary, data v1/v2), decompressing them, decoding
 * definition levels and values (via parquet_encodings), and copying cells into the table.
 * The thrift structs live in parquet_meta, codecs in parquet_codec. */
#include "data/parquet.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include "base/assert.h"
#include "base/fileio.h"
#include "data/parquet_codec.h"
#include "data/parquet_encodings.h"
#include "data/parquet_meta.h"

/* Limits against hostile files (a tiny RLE run can claim billions of values); the fuzz build
 * lowers them to stay inside libFuzzer's memory limit. */
#ifndef LB_PARQUET_MAX_PAGE_BYTES
#define LB_PARQUET_MAX_PAGE_BYTES ((size_t)1 << 30)
#endif
#ifndef LB_PARQUET_MAX_CELLS
#define LB_PARQUET_MAX_CELLS ((size_t)1 << 26)
#endif
/* Decoded-bytes budget of one read: table cells, copied strings, dictionaries, value scratch
 * and every decompressed page count against min(MAX, FLOOR + EXPANSION x file size). A 13 KB
 * file whose RLE runs or zstd frames claim gigabytes is refused before the memory is taken;
 * real datasets (text compresses ~3-4x) stay far below. */
#ifndef LB_PARQUET_DECODED_FLOOR
#define LB_PARQUET_DECODED_FLOOR ((size_t)64 << 20)
#endif
#ifndef LB_PARQUET_MAX_EXPANSION
#define LB_PARQUET_MAX_EXPANSION 64
#endif
#ifndef LB_PARQUET_MAX_DECODED_BYTES
#define LB_PARQUET_MAX_DECODED_BYTES ((size_t)16 << 30)
#endif

typedef struct decode_budget {
    size_t limit, used;
    size_t file_len;
} decode_budget;

static void budget_init(decode_budget *b, size_t file_len) {
    size_t lim = LB_PARQUET_MAX_DECODED_BYTES;
    if (file_len < (lim - LB_PARQUET_DECODED_FLOOR) / LB_PARQUET_MAX_EXPANSION)
        lim = LB_PARQUET_DECODED_FLOOR + file_len * LB_PARQUET_MAX_EXPANSION;
    *b = (decode_budget){.limit = lim, .file_len = file_len};
}

/* Charges n bytes of `what`; refuses (LB_ERR_UNSUPPORTED, naming the limit) past the budget. */
static lb_status budget_take(decode_budget *b, size_t n, const char *what, lb_error *err) {
    if (n <= b->limit - b->used) {
        b->used += n;
        return LB_OK;
    }
    return lb_err(err, LB_ERR_UNSUPPORTED,
                  "%s would take the decoded data past %zu bytes, the limit for a %zu-byte file "
                  "(%zu MiB + %d x the file size, at most %zu GiB; %zu bytes decoded so far): the file claims far more "
                  "data than it stores",
                  what, b->limit, b->file_len, (size_t)LB_PARQUET_DECODED_FLOOR >> 20, LB_PARQUET_MAX_EXPANSION,
                  (size_t)LB_PARQUET_MAX_DECODED_BYTES >> 30, b->used);
}

static uint32_t le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Where the file's bytes come from: a whole file in memory (the buffer API), or an open file read
 * with pread() a piece at a time (the footer, then each page of the column chunks a read needs),
 * so that a process reading its shard of a large file holds one page, not the file. Pieces are
 * copies, not a mapping: a file truncated while read is an error, not a SIGBUS. */
typedef struct pq_src {
    const uint8_t *mem; /* the whole file, or NULL */
    int fd;
    const char *name;
    uint64_t size;
    uint8_t *win; /* file bytes [win_off, win_off + win_len) */
    size_t win_cap, win_len;
    uint64_t win_off;
} pq_src;

/* File bytes [off, off + n) (off + n <= size), valid until the next call on s. */
static const uint8_t *src_get(pq_src *s, uint64_t off, size_t n, lb_error *err) {
    if (s->mem) return s->mem + off;
    if (off >= s->win_off && n <= s->win_len && off - s->win_off <= s->win_len - n) return s->win + (off - s->win_off);
    if (n > s->win_cap) {
        uint8_t *nw = realloc(s->win, n ? n : 1);
        if (!nw) {
            lb_err(err, LB_ERR_NOMEM, "%s: out of memory for %zu bytes at offset %llu", s->name, n,
                   (unsigned long long)off);
            return NULL;
        }
        s->win = nw;
        s->win_cap = n;
    }
    s->win_len = 0;
    for (size_t got = 0; got < n;) {
        ssize_t k = pread(s->fd, s->win + got, n - got, (off_t)(off + got));
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) {
            lb_err(err, LB_ERR_IO, "%s: reading %zu bytes at offset %llu: %s", s->name, n, (unsigned long long)off,
                   k < 0 ? strerror(errno) : "the file ends early (it shrank while read)");
            return NULL;
        }
        got += (size_t)k;
    }
    s->win_off = off;
    s->win_len = n;
    return s->win;
}

/* State for reading one column chunk (one selected column of one row group). */
typedef struct chunk_ctx {
    pq_src *src;
    size_t data_end; /* first byte of the footer: pages must end before it */
    const lb_pq_leaf *leaf;
    lb_pq_valtype vt;
    bool check_utf8;
    int32_t codec;
    int def_bits; /* bit width of definition levels */
    lb_table *t;
    size_t col;      /* table column */
    size_t row_base; /* first table row of this row group */
    size_t file_row; /* the file's row number of this row group's first row (for messages) */
    size_t rg_rows, rows_done;
    /* dictionary (values borrow from dict_buf) */
    lb_value *dict;
    size_t ndict;
    uint8_t *dict_buf;
    bool seen_data;
    /* per-page scratch, reused */
    uint8_t *page;
    size_t page_cap;
    uint32_t *levels, *idx, *reps;
    lb_value *vals;
    size_t vals_cap;
    /* list columns (leaf->list): level entries read, and the row the last entry belonged to */
    size_t levels_done;
    bool have_row;
    size_t cur_row; /* table row */
    decode_budget *budget;
    lb_error *err;
} chunk_ctx;

static void chunk_free(chunk_ctx *c) {
    free(c->dict);
    free(c->dict_buf);
    free(c->page);
    free(c->levels);
    free(c->idx);
    free(c->reps);
    free(c->vals);
}

/* Buffer of at least n bytes (>= 1), reusing *buf. */
static lb_status ensure_bytes(uint8_t **buf, size_t *cap, size_t n, lb_error *err) {
    if (n <= *cap && *buf) return LB_OK;
    free(*buf);
    *buf = malloc(n ? n : 1);
    *cap = *buf ? n : 0;
    return *buf ? LB_OK : lb_err(err, LB_ERR_NOMEM, "out of memory for a %zu-byte page", n);
}

static lb_status ensure_vals(chunk_ctx *c, size_t n) {
    if (n <= c->vals_cap && c->vals) return LB_OK;
    free(c->levels);
    free(c->idx);
    free(c->reps);
    free(c->vals);
    c->levels = NULL;
    c->idx = NULL;
    c->reps = NULL;
    c->vals = NULL;
    c->vals_cap = 0;
    size_t m = n ? n : 1;
    lb_status st = budget_take(c->budget, m * (3 * sizeof *c->levels + sizeof *c->vals), "a page's values", c->err);
    if (st) return st;
    c->levels = malloc(m * sizeof *c->levels);
    c->idx = malloc(m * sizeof *c->idx);
    c->reps = malloc(m * sizeof *c->reps);
    c->vals = malloc(m * sizeof *c->vals);
    c->vals_cap = n;
    if (!c->levels || !c->idx || !c->reps || !c->vals) {
        c->vals_cap = 0;
        return lb_err(c->err, LB_ERR_NOMEM, "out of memory for %zu page values", n);
    }
    return LB_OK;
}

/* Decompresses a page body into c->page (or returns it in place when uncompressed). */
static lb_status page_bytes(chunk_ctx *c, const uint8_t *raw, size_t raw_len, size_t out_len, bool compressed,
                            const uint8_t **out) {
    if (out_len > LB_PARQUET_MAX_PAGE_BYTES)
        return lb_err(c->err, LB_ERR_UNSUPPORTED, "page expands to %zu bytes, above the %zu-byte limit", out_len,
                      (size_t)LB_PARQUET_MAX_PAGE_BYTES);
    if (!compressed || c->codec == LB_PQ_UNCOMPRESSED) {
        if (raw_len != out_len)
            return lb_err(c->err, LB_ERR_FORMAT, "uncompressed page holds %zu bytes, header declares %zu", raw_len,
                          out_len);
        *out = raw;
        return LB_OK;
    }
    lb_status st = lb_pq_check_expansion(c->codec, raw, raw_len, out_len, c->err);
    if (st) return st;
    /* before the allocation: the header's uncompressed size is what the codec may produce */
    if ((st = budget_take(c->budget, out_len, "decompressing this page", c->err))) return st;
    if ((st = ensure_bytes(&c->page, &c->page_cap, out_len, c->err))) return st;
    if ((st = lb_pq_decompress(c->codec, raw, raw_len, c->page, out_len, c->err))) return st;
    *out = c->page;
    return LB_OK;
}

static lb_status read_dictionary(chunk_ctx *c, const lb_pq_page_header *h, const uint8_t *raw) {
    if (!h->has_sub) return lb_err(c->err, LB_ERR_FORMAT, "dictionary page without DictionaryPageHeader");
    if (c->dict || c->seen_data)
        return lb_err(c->err, LB_ERR_FORMAT, "unexpected dictionary page (%s)",
                      c->dict ? "a second one" : "after data pages");
    if (h->encoding != LB_PQ_ENC_PLAIN && h->encoding != LB_PQ_ENC_PLAIN_DICTIONARY)
        return lb_err(c->err, LB_ERR_UNSUPPORTED, "dictionary page encoding %s", lb_pq_encoding_name(h->encoding));
    if (c->vt.type == LB_PQ_BOOLEAN) return lb_err(c->err, LB_ERR_FORMAT, "dictionary page for a BOOLEAN column");
    size_t usize = (size_t)h->uncompressed_size;
    /* Every dictionary value takes at least 4 bytes (a BYTE_ARRAY length) or its fixed width,
     * which bounds the allocation below. */
    size_t minw = c->vt.type == LB_PQ_BYTE_ARRAY ? 4 : lb_pq_fixed_width(&c->vt);
    if (h->num_values < 0 || (size_t)h->num_values > usize / (minw ? minw : 1))
        return lb_err(c->err, LB_ERR_FORMAT, "dictionary page claims %d values in %zu bytes", h->num_values, usize);
    const uint8_t *data;
    lb_status st = page_bytes(c, raw, (size_t)h->compressed_size, usize, true, &data);
    if (st) return st;
    /* Dictionary strings borrow from the page: take over the decompression buffer (or the
     * file buffer itself when uncompressed and the whole file is in memory) instead of copying
     * it; an uncompressed page read from a file is copied (the next page replaces it). */
    if (data == c->page) {
        c->dict_buf = c->page;
        c->page = NULL;
        c->page_cap = 0;
    } else if (!c->src->mem) {
        if ((st = budget_take(c->budget, usize, "the dictionary page", c->err))) return st;
        if (!(c->dict_buf = malloc(usize ? usize : 1)))
            return lb_err(c->err, LB_ERR_NOMEM, "out of memory for a %zu-byte dictionary page", usize);
        memcpy(c->dict_buf, data, usize);
        data = c->dict_buf;
    }
    c->ndict = (size_t)h->num_values;
    if ((st = budget_take(c->budget, c->ndict * sizeof *c->dict, "the dictionary", c->err))) return st;
    c->dict = malloc((c->ndict ? c->ndict : 1) * sizeof *c->dict);
    if (!c->dict) return lb_err(c->err, LB_ERR_NOMEM, "out of memory for a dictionary page");
    return lb_pq_decode_plain(&c->vt, data, usize, c->ndict, c->dict, NULL, c->err);
}

static int bit_width(int v) {
    int b = 0;
    while (v >> b) b++;
    return b;
}

/* Strict UTF-8 check (no overlongs, surrogates or code points above U+10FFFF). */
static bool valid_utf8(const uint8_t *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        /* ASCII fast path, 8 bytes at a time (reviews are mostly ASCII). */
        while (n - i >= 8) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (w & 0x8080808080808080ULL) break;
            i += 8;
        }
        if (i >= n) break;
        uint8_t b = s[i];
        if (b < 0x80) {
            i++;
            continue;
        }
        size_t len;
        uint32_t cp, min;
        if ((b & 0xe0) == 0xc0) {
            len = 2;
            cp = b & 0x1f;
            min = 0x80;
        } else if ((b & 0xf0) == 0xe0) {
            len = 3;
            cp = b & 0x0f;
            min = 0x800;
        } else if ((b & 0xf8) == 0xf0) {
            len = 4;
            cp = b & 0x07;
            min = 0x10000;
        } else return false;
        if (n - i < len) return false;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80) return false;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
        i += len;
    }
    return true;
}

/* Decodes n non-null values of the page's encoding into c->vals. */
static lb_status decode_values(chunk_ctx *c, int32_t enc, const uint8_t *p, size_t len, size_t n, uint8_t **scratch) {
    lb_status st;
    switch (enc) {
    case LB_PQ_ENC_PLAIN: return lb_pq_decode_plain(&c->vt, p, len, n, c->vals, NULL, c->err);
    case LB_PQ_ENC_PLAIN_DICTIONARY:
    case LB_PQ_ENC_RLE_DICTIONARY:
        if (!c->dict)
            return lb_err(c->err, LB_ERR_FORMAT, "%s data page without a dictionary page", lb_pq_encoding_name(enc));
        if ((st = lb_pq_decode_dict_indices(p, len, n, c->idx, c->err))) return st;
        for (size_t i = 0; i < n; i++) {
            if (c->idx[i] >= c->ndict)
                return lb_err(c->err, LB_ERR_FORMAT, "dictionary index %u out of range (dictionary has %zu entries)",
                              c->idx[i], c->ndict);
            c->vals[i] = c->dict[c->idx[i]];
        }
        return LB_OK;
    case LB_PQ_ENC_RLE:
        if (c->vt.type != LB_PQ_BOOLEAN)
            return lb_err(c->err, LB_ERR_FORMAT, "RLE value encoding on a %s column", lb_pq_type_name(c->vt.type));
        return lb_pq_decode_rle_bool(p, len, n, c->vals, c->idx, c->err);
    case LB_PQ_ENC_DELTA_BINARY_PACKED: return lb_pq_decode_delta_ints(&c->vt, p, len, n, c->vals, c->err);
    case LB_PQ_ENC_DELTA_LENGTH_BYTE_ARRAY:
        if (c->vt.type != LB_PQ_BYTE_ARRAY)
            return lb_err(c->err, LB_ERR_FORMAT, "DELTA_LENGTH_BYTE_ARRAY on a %s column", lb_pq_type_name(c->vt.type));
        return lb_pq_decode_delta_length(p, len, n, c->vals, c->err);
    case LB_PQ_ENC_DELTA_BYTE_ARRAY:
        if (c->vt.type != LB_PQ_BYTE_ARRAY && c->vt.type != LB_PQ_FLBA)
            return lb_err(c->err, LB_ERR_FORMAT, "DELTA_BYTE_ARRAY on a %s column", lb_pq_type_name(c->vt.type));
        if ((st = lb_pq_decode_delta_byte_array(p, len, n, c->vals, scratch,
                                                c->budget->limit - c->budget->used < LB_PARQUET_MAX_PAGE_BYTES
                                                    ? c->budget->limit - c->budget->used
                                                    : LB_PARQUET_MAX_PAGE_BYTES,
                                                c->err)))
            return st;
        if (c->vt.type == LB_PQ_FLBA)
            for (size_t i = 0; i < n; i++)
                if (c->vals[i].slen != (size_t)c->vt.type_length)
                    return lb_err(c->err, LB_ERR_FORMAT, "DELTA_BYTE_ARRAY value %zu has %zu bytes, column width is %d",
                                  i, c->vals[i].slen, c->vt.type_length);
        return LB_OK;
    case LB_PQ_ENC_BYTE_STREAM_SPLIT:
        return lb_pq_decode_byte_stream_split(&c->vt, p, len, n, c->vals, scratch, c->err);
    default: return lb_err(c->err, LB_ERR_UNSUPPORTED, "value encoding %s (%d)", lb_pq_encoding_name(enc), enc);
    }
}

/* A value as its own cell: strings copied (UTF-8 checked for UTF8 columns), charged. */
static lb_status own_value(chunk_ctx *c, const lb_value *v, lb_value *out, size_t row) {
    if (v->type != LB_VAL_STR) {
        *out = *v;
        return LB_OK;
    }
    if (c->check_utf8 && !valid_utf8((const uint8_t *)v->s, v->slen))
        return lb_err(c->err, LB_ERR_FORMAT, "row %zu: value is not valid UTF-8 (column is annotated UTF8)", row);
    lb_status st = budget_take(c->budget, v->slen + 1, "copying the strings", c->err);
    if (st) return lb_err_prefix(c->err, "row %zu", row);
    char *s = malloc(v->slen + 1);
    if (!s) return lb_err(c->err, LB_ERR_NOMEM, "out of memory copying a %zu-byte string", v->slen);
    memcpy(s, v->s, v->slen);
    s[v->slen] = 0;
    *out = (lb_value){.type = LB_VAL_STR, .s = s, .slen = v->slen};
    return LB_OK;
}

/* Copies the page's values into table cells, following the definition levels. */
static lb_status scatter(chunk_ctx *c, size_t n, bool has_levels) {
    const int max_def = c->leaf->max_def;
    lb_table *t = c->t;
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        size_t row = c->file_row + c->rows_done + i; /* the file's row number, for messages */
        lb_value *cell = &t->cells[(c->row_base + c->rows_done + i) * t->ncols + c->col];
        if (has_levels && (int)c->levels[i] != max_def) continue; /* stays LB_VAL_NULL */
        /* a dictionary string repeated by an RLE run is copied per row: that is the growth */
        lb_status st = own_value(c, &c->vals[j++], cell, row);
        if (st) return st;
    }
    return LB_OK;
}

static lb_status read_data_page(chunk_ctx *c, const lb_pq_page_header *h, const uint8_t *raw) {
    lb_status st;
    if (!h->has_sub) return lb_err(c->err, LB_ERR_FORMAT, "data page without its DataPageHeader");
    c->seen_data = true;
    if (h->num_values < 0 || (size_t)h->num_values > c->rg_rows - c->rows_done)
        return lb_err(c->err, LB_ERR_FORMAT, "page holds %d values, but only %zu of the row group's %zu rows are left",
                      h->num_values, c->rg_rows - c->rows_done, c->rg_rows);
    size_t n = (size_t)h->num_values, raw_len = (size_t)h->compressed_size;
    if ((st = ensure_vals(c, n))) return st;
    const int max_def = c->leaf->max_def;
    const uint8_t *vp; /* values section */
    size_t vlen;
    if (h->type == LB_PQ_PAGE_DATA) {
        const uint8_t *page;
        if ((st = page_bytes(c, raw, raw_len, (size_t)h->uncompressed_size, true, &page))) return st;
        size_t plen = (size_t)h->uncompressed_size, used = 0;
        if (max_def > 0) {
            if (h->def_encoding == LB_PQ_ENC_RLE) {
                if (plen < 4) return lb_err(c->err, LB_ERR_FORMAT, "definition levels: missing 4-byte length");
                uint32_t l = le32(page);
                if (l > plen - 4)
                    return lb_err(c->err, LB_ERR_FORMAT, "definition levels length %u exceeds the %zu-byte page", l,
                                  plen - 4);
                if ((st = lb_pq_decode_hybrid(page + 4, l, c->def_bits, n, c->levels, c->err)))
                    return lb_err_prefix(c->err, "definition levels");
                used = 4 + (size_t)l;
            } else if (h->def_encoding == LB_PQ_ENC_BIT_PACKED) {
                if ((st = lb_pq_decode_bit_packed_levels(page, plen, c->def_bits, n, c->levels, &used, c->err)))
                    return lb_err_prefix(c->err, "definition levels");
            } else {
                return lb_err(c->err, LB_ERR_UNSUPPORTED, "definition level encoding %s",
                              lb_pq_encoding_name(h->def_encoding));
            }
        }
        vp = page + used;
        vlen = plen - used;
    } else {
        if (h->def_len < 0 || h->rep_len < 0 || (size_t)h->def_len + (size_t)h->rep_len > raw_len ||
            h->def_len + h->rep_len > h->uncompressed_size)
            return lb_err(c->err, LB_ERR_FORMAT,
                          "v2 level lengths (rep %d, def %d) exceed the page (%zu stored, %d uncompressed)", h->rep_len,
                          h->def_len, raw_len, h->uncompressed_size);
        size_t lev = (size_t)h->rep_len + (size_t)h->def_len;
        if (max_def > 0) {
            if ((st = lb_pq_decode_hybrid(raw + h->rep_len, (size_t)h->def_len, c->def_bits, n, c->levels, c->err)))
                return lb_err_prefix(c->err, "definition levels");
        }
        if ((st = page_bytes(c, raw + lev, raw_len - lev, (size_t)h->uncompressed_size - lev, h->is_compressed, &vp)))
            return st;
        vlen = (size_t)h->uncompressed_size - lev;
    }
    size_t nn = n;
    if (max_def > 0) {
        nn = 0;
        for (size_t i = 0; i < n; i++) {
            if ((int)c->levels[i] > max_def)
                return lb_err(c->err, LB_ERR_FORMAT, "definition level %u above the maximum %d", c->levels[i], max_def);
            nn += (int)c->levels[i] == max_def;
        }
    }
    uint8_t *scratch = NULL;
    st = decode_values(c, h->encoding, vp, vlen, nn, &scratch);
    if (!st) st = scatter(c, n, max_def > 0);
    free(scratch);
    if (st) return st;
    c->rows_done += n;
    return LB_OK;
}

/* Appends an element to a list cell (capacity: the next power of two of n_items). */
static lb_status list_push(chunk_ctx *c, lb_value *cell, const lb_value *v, size_t row) {
    size_t n = cell->n_items;
    if ((n & (n - 1)) == 0) { /* 0, 1, 2, 4, ...: full */
        lb_status st = budget_take(c->budget, (n ? n : 1) * sizeof *cell->items, "a list's elements", c->err);
        if (st) return lb_err_prefix(c->err, "row %zu", row);
        lb_value *items = realloc(cell->items, (n ? 2 * n : 1) * sizeof *items);
        if (!items) return lb_err(c->err, LB_ERR_NOMEM, "out of memory for a list of %zu elements", n + 1);
        cell->items = items;
    }
    lb_value *dst = &cell->items[n];
    *dst = (lb_value){.type = LB_VAL_NULL};
    if (v) {
        lb_status st = own_value(c, v, dst, row);
        if (st) return st;
    }
    cell->n_items = n + 1;
    return LB_OK;
}

/* Levels of one kind in a v1 page body (RLE with a 4-byte length, or the old BIT_PACKED) at
 * page[*used..plen): n of them into out, *used advanced. */
static lb_status v1_levels(chunk_ctx *c, const uint8_t *page, size_t plen, int32_t enc, int bits, size_t n,
                           uint32_t *out, size_t *used, const char *what) {
    lb_status st;
    if (enc == LB_PQ_ENC_RLE) {
        if (plen - *used < 4) return lb_err(c->err, LB_ERR_FORMAT, "%s levels: missing 4-byte length", what);
        uint32_t l = le32(page + *used);
        if (l > plen - *used - 4)
            return lb_err(c->err, LB_ERR_FORMAT, "%s levels length %u exceeds the %zu-byte page", what, l,
                          plen - *used - 4);
        if ((st = lb_pq_decode_hybrid(page + *used + 4, l, bits, n, out, c->err)))
            return lb_err_prefix(c->err, "%s levels", what);
        *used += 4 + (size_t)l;
        return LB_OK;
    }
    if (enc == LB_PQ_ENC_BIT_PACKED) {
        size_t u = 0;
        if ((st = lb_pq_decode_bit_packed_levels(page + *used, plen - *used, bits, n, out, &u, c->err)))
            return lb_err_prefix(c->err, "%s levels", what);
        *used += u;
        return LB_OK;
    }
    return lb_err(c->err, LB_ERR_UNSUPPORTED, "%s level encoding %s", what, lb_pq_encoding_name(enc));
}

/* A data page of a list column (leaf->list): repetition and definition levels, values, and the
 * rows' lists. A row may continue from the previous page of the chunk. */
static lb_status read_list_page(chunk_ctx *c, const lb_pq_page_header *h, const uint8_t *raw, size_t chunk_values) {
    lb_status st;
    if (!h->has_sub) return lb_err(c->err, LB_ERR_FORMAT, "data page without its DataPageHeader");
    c->seen_data = true;
    if (h->num_values < 0 || (size_t)h->num_values > chunk_values - c->levels_done)
        return lb_err(c->err, LB_ERR_FORMAT, "page holds %d values, but only %zu of the chunk's %zu are left",
                      h->num_values, chunk_values - c->levels_done, chunk_values);
    size_t n = (size_t)h->num_values, raw_len = (size_t)h->compressed_size;
    if ((st = ensure_vals(c, n))) return st;
    const int max_def = c->leaf->max_def, rep_def = c->leaf->rep_def;
    const uint8_t *vp;
    size_t vlen;
    if (h->type == LB_PQ_PAGE_DATA) {
        const uint8_t *page;
        if ((st = page_bytes(c, raw, raw_len, (size_t)h->uncompressed_size, true, &page))) return st;
        size_t plen = (size_t)h->uncompressed_size, used = 0;
        if ((st = v1_levels(c, page, plen, h->rep_encoding, 1, n, c->reps, &used, "repetition"))) return st;
        if ((st = v1_levels(c, page, plen, h->def_encoding, c->def_bits, n, c->levels, &used, "definition"))) return st;
        vp = page + used;
        vlen = plen - used;
    } else {
        if (h->def_len < 0 || h->rep_len < 0 || (size_t)h->def_len + (size_t)h->rep_len > raw_len ||
            h->def_len + h->rep_len > h->uncompressed_size)
            return lb_err(c->err, LB_ERR_FORMAT,
                          "v2 level lengths (rep %d, def %d) exceed the page (%zu stored, %d uncompressed)", h->rep_len,
                          h->def_len, raw_len, h->uncompressed_size);
        size_t lev = (size_t)h->rep_len + (size_t)h->def_len;
        if ((st = lb_pq_decode_hybrid(raw, (size_t)h->rep_len, 1, n, c->reps, c->err)))
            return lb_err_prefix(c->err, "repetition levels");
        if ((st = lb_pq_decode_hybrid(raw + h->rep_len, (size_t)h->def_len, c->def_bits, n, c->levels, c->err)))
            return lb_err_prefix(c->err, "definition levels");
        if ((st = page_bytes(c, raw + lev, raw_len - lev, (size_t)h->uncompressed_size - lev, h->is_compressed, &vp)))
            return st;
        vlen = (size_t)h->uncompressed_size - lev;
    }
    size_t nn = 0;
    for (size_t i = 0; i < n; i++) {
        if ((int)c->levels[i] > max_def)
            return lb_err(c->err, LB_ERR_FORMAT, "definition level %u above the maximum %d", c->levels[i], max_def);
        if (c->reps[i] > 1) return lb_err(c->err, LB_ERR_FORMAT, "repetition level %u above the maximum 1", c->reps[i]);
        nn += (int)c->levels[i] == max_def;
    }
    uint8_t *scratch = NULL;
    st = decode_values(c, h->encoding, vp, vlen, nn, &scratch);
    lb_table *t = c->t;
    for (size_t i = 0, j = 0; !st && i < n; i++) {
        const int d = (int)c->levels[i];
        if (c->reps[i] == 0) { /* a new row */
            if (c->rows_done == c->rg_rows) {
                st = lb_err(c->err, LB_ERR_FORMAT, "list entries start more rows than the row group's %zu", c->rg_rows);
                break;
            }
            c->cur_row = c->row_base + c->rows_done++;
            c->have_row = true;
            lb_value *cell = &t->cells[c->cur_row * t->ncols + c->col];
            if (d >= rep_def - 1) *cell = (lb_value){.type = LB_VAL_LIST}; /* else a null list */
        } else if (!c->have_row || t->cells[c->cur_row * t->ncols + c->col].type != LB_VAL_LIST || d < rep_def) {
            st = lb_err(c->err, LB_ERR_FORMAT, "list entry %zu continues %s (repetition level 1, definition level %d)",
                        i,
                        !c->have_row  ? "no row (the chunk's first entry)"
                        : d < rep_def ? "with no element"
                                      : "a null or empty list",
                        d);
            break;
        }
        if (d < rep_def) continue; /* a null or empty list: no element */
        const size_t file_row = c->file_row + (c->cur_row - c->row_base);
        st = list_push(c, &t->cells[c->cur_row * t->ncols + c->col], d == max_def ? &c->vals[j++] : NULL, file_row);
    }
    free(scratch);
    if (st) return st;
    c->levels_done += n;
    return LB_OK;
}

static lb_status read_chunk(chunk_ctx *c, const lb_pq_column_meta *cm, const char *name, size_t rg) {
    lb_error *err = c->err;
    lb_status st;
    const char *col = c->leaf->path;
    if (cm->type != c->leaf->el->type)
        return lb_err(err, LB_ERR_FORMAT, "%s: column '%s' row group %zu: chunk type %s differs from schema type %s",
                      name, col, rg, lb_pq_type_name(cm->type), lb_pq_type_name(c->leaf->el->type));
    if (!lb_pq_codec_supported(cm->codec))
        return lb_err(err, LB_ERR_UNSUPPORTED,
                      "%s: column '%s': codec %s is not supported (supported: UNCOMPRESSED, "
                      "SNAPPY, GZIP, ZSTD, LZ4_RAW)",
                      name, col, lb_pq_codec_name(cm->codec));
    const bool list = c->leaf->list;
    /* a list column holds one entry per element (at least one per row), a flat one one per row */
    if (cm->num_values < 0 || (list ? (uint64_t)cm->num_values < c->rg_rows : (uint64_t)cm->num_values != c->rg_rows))
        return lb_err(err, LB_ERR_FORMAT, "%s: column '%s' row group %zu: chunk holds %lld values for %zu rows", name,
                      col, rg, (long long)cm->num_values, c->rg_rows);
    const size_t chunk_values = (size_t)cm->num_values;
    c->codec = cm->codec;
    if (c->rg_rows == 0) return LB_OK; /* writers may leave offsets of empty chunks at 0 */
    /* dictionary_page_offset 0 (or any value not before the data pages) means "no dictionary". */
    int64_t start = cm->data_page_offset;
    if (cm->dictionary_page_offset >= 4 && cm->dictionary_page_offset < start) start = cm->dictionary_page_offset;
    if (start < 4 || (uint64_t)start >= c->data_end)
        return lb_err(err, LB_ERR_FORMAT,
                      "%s: column '%s' row group %zu: first page offset %lld outside the data area [4, %zu)", name, col,
                      rg, (long long)start, c->data_end);
    size_t pos = (size_t)start;
    while (list ? c->levels_done < chunk_values : c->rows_done < c->rg_rows) {
        if (pos >= c->data_end)
            return lb_err(err, LB_ERR_FORMAT,
                          "%s: column '%s' row group %zu: pages end at offset %zu after %zu of %zu values", name, col,
                          rg, pos, list ? c->levels_done : c->rows_done, list ? chunk_values : c->rg_rows);
        lb_pq_page_header h;
        size_t hlen;
        /* A page header's length is known only once parsed: read a piece, and a 4x larger one
         * while it did not hold the header (statistics make headers long), up to the footer. The
         * first piece is small so that real files take the retry path too (the tests compare
         * every read from a file with the same bytes read from memory). */
        size_t avail = c->data_end - pos, tryn = c->src->mem || avail < 64 ? avail : 64;
        for (;;) {
            const uint8_t *hp = src_get(c->src, pos, tryn, err);
            if (!hp) return lb_err_prefix(err, "%s: column '%s' row group %zu", name, col, rg);
            st = lb_pq_parse_page_header(hp, tryn, pos, &h, &hlen, err);
            if (st == LB_OK || tryn == avail) break;
            tryn = tryn > avail / 4 ? avail : tryn * 4;
        }
        if (st)
            return lb_err_prefix(err, "%s: column '%s' row group %zu: page header at offset %zu", name, col, rg, pos);
        size_t body = pos + hlen;
        if ((size_t)h.compressed_size > c->data_end - body)
            return lb_err(err, LB_ERR_FORMAT,
                          "%s: column '%s' row group %zu: page at offset %zu claims %d bytes, only %zu "
                          "before the footer",
                          name, col, rg, pos, h.compressed_size, c->data_end - body);
        const uint8_t *raw = src_get(c->src, body, (size_t)h.compressed_size, err);
        if (!raw) return lb_err_prefix(err, "%s: column '%s' row group %zu: page at offset %zu", name, col, rg, pos);
        if (h.has_crc) {
            uint32_t crc = (uint32_t)crc32(0L, raw, (uInt)h.compressed_size);
            if (crc != h.crc)
                return lb_err(err, LB_ERR_FORMAT,
                              "%s: column '%s' row group %zu: page at offset %zu: CRC32 mismatch "
                              "(header 0x%08x, data 0x%08x)",
                              name, col, rg, pos, h.crc, crc);
        }
        switch (h.type) {
        case LB_PQ_PAGE_DICTIONARY: st = read_dictionary(c, &h, raw); break;
        case LB_PQ_PAGE_DATA:
        case LB_PQ_PAGE_DATA_V2:
            st = list ? read_list_page(c, &h, raw, chunk_values) : read_data_page(c, &h, raw);
            break;
        default: st = LB_OK; /* index pages and unknown page types carry no values */
        }
        if (st) return lb_err_prefix(err, "%s: column '%s' row group %zu: page at offset %zu", name, col, rg, pos);
        pos = body + (size_t)h.compressed_size;
    }
    if (list && c->rows_done != c->rg_rows)
        return lb_err(err, LB_ERR_FORMAT,
                      "%s: column '%s' row group %zu: its %zu list entries make %zu of the %zu rows", name, col, rg,
                      chunk_values, c->rows_done, c->rg_rows);
    return LB_OK;
}

/* Rows kept by f among global rows [0, x) (f->count > 1). */
static size_t kept_below(const lb_row_filter *f, int64_t x) {
    if (x <= 0 || f->index < 0 || f->index >= f->count) return 0; /* no row is kept (lb_row_filter_keeps) */
    int64_t b = f->block > 0 ? f->block : 1, blocks = x / b, rem = x % b;
    int64_t full = blocks / f->count + (blocks % f->count > f->index ? 1 : 0);
    return (size_t)(full * b + (blocks % f->count == f->index ? rem : 0));
}

/* Rows kept by f among the file's rows [from, from + n). */
static size_t kept_rows(const lb_row_filter *f, size_t from, size_t n) {
    return kept_below(f, f->first + (int64_t)(from + n)) - kept_below(f, f->first + (int64_t)from);
}

/* Picks the leaves to read. *sel gets leaf indices (allocated, [*nsel]). */
static lb_status select_columns(const char *name, const lb_pq_leaf *leaves, size_t nleaves, const char *const *columns,
                                size_t ncolumns, size_t **sel, size_t *nsel, lb_error *err) {
    size_t want = columns ? ncolumns : nleaves;
    *sel = malloc((want ? want : 1) * sizeof **sel);
    if (!*sel) return lb_err(err, LB_ERR_NOMEM, "out of memory");
    *nsel = 0;
    if (!columns) {
        for (size_t i = 0; i < nleaves; i++)
            if (leaves[i].flat || leaves[i].list) (*sel)[(*nsel)++] = i;
        if (*nsel == 0 && nleaves > 0) {
            free(*sel);
            *sel = NULL;
            return lb_err(err, LB_ERR_UNSUPPORTED,
                          "%s: every column is nested (e.g. '%s'); lorabert reads flat columns and lists of "
                          "primitives only",
                          name, leaves[0].path);
        }
        return LB_OK;
    }
    for (size_t k = 0; k < ncolumns; k++) {
        const char *want_name = columns[k];
        size_t found = SIZE_MAX;
        size_t wl = strlen(want_name);
        for (size_t i = 0; i < nleaves && found == SIZE_MAX; i++)
            if ((leaves[i].flat && strcmp(leaves[i].path, want_name) == 0) ||
                (leaves[i].list && leaves[i].top_len == wl && strncmp(leaves[i].path, want_name, wl) == 0))
                found = i;
        if (found != SIZE_MAX) {
            (*sel)[(*nsel)++] = found;
            continue;
        }
        /* A top-level field of that name that is a group or repeated: nested. */
        const lb_pq_leaf *nested = NULL;
        for (size_t i = 0; i < nleaves && !nested; i++)
            if (strncmp(leaves[i].path, want_name, wl) == 0 && (leaves[i].path[wl] == '.' || leaves[i].path[wl] == 0))
                nested = &leaves[i];
        free(*sel);
        *sel = NULL;
        if (nested)
            return lb_err(err, LB_ERR_UNSUPPORTED,
                          "%s: column '%s' is nested (leaf '%s', %s); lorabert reads flat columns and lists of "
                          "primitives only",
                          name, want_name, nested->path,
                          nested->max_rep > 1 ? "a list of lists"
                          : nested->max_rep   ? "a map or a list of structs"
                                              : "group/struct");
        char list[512];
        size_t off = 0;
        list[0] = 0;
        for (size_t i = 0; i < nleaves && off < sizeof list - 1; i++) {
            if (!leaves[i].flat && !leaves[i].list) continue;
            int w = snprintf(list + off, sizeof list - off, "%s%s", off ? ", " : "", leaves[i].path);
            if (w < 0) break;
            off += (size_t)w;
        }
        return lb_err(err, LB_ERR_USAGE, "%s: no column named '%s' (flat columns: %s)", name, want_name,
                      off ? list : "none");
    }
    return LB_OK;
}

static lb_status read_src(pq_src *src, const char *const *columns, size_t ncolumns, lb_row_filter *keep, lb_table *out,
                          lb_error *err) {
    memset(out, 0, sizeof *out);
    const char *name = src->name;
    size_t len = (size_t)src->size;
    const uint8_t *p = len >= 12 ? src_get(src, 0, 4, err) : NULL;
    if (len >= 12 && !p) return LB_ERR_IO;
    if (len < 12 || memcmp(p, "PAR1", 4) != 0)
        return lb_err(err, LB_ERR_FORMAT, "%s: not a Parquet file (%s)", name,
                      len < 12 ? "shorter than 12 bytes" : "no PAR1 magic at offset 0");
    if (!(p = src_get(src, len - 8, 8, err))) return LB_ERR_IO;
    if (memcmp(p + 4, "PARE", 4) == 0)
        return lb_err(err, LB_ERR_UNSUPPORTED, "%s: encrypted Parquet footer (PARE) is not supported", name);
    if (memcmp(p + 4, "PAR1", 4) != 0)
        return lb_err(err, LB_ERR_FORMAT, "%s: no PAR1 magic at the end (offset %zu): file truncated?", name, len - 4);
    uint32_t flen = le32(p);
    if (flen > len - 12)
        return lb_err(err, LB_ERR_FORMAT, "%s: footer length %u exceeds the file (%zu bytes)", name, flen, len);
    size_t foot = len - 8 - flen;
    /* The metadata borrows names from the footer's bytes: from a file they get their own copy. */
    uint8_t *footer = NULL;
    if (!(p = src_get(src, foot, flen, err))) return LB_ERR_IO;
    if (!src->mem) {
        if (!(footer = malloc(flen ? flen : 1)))
            return lb_err(err, LB_ERR_NOMEM, "%s: out of memory for the %u-byte footer", name, flen);
        memcpy(footer, p, flen);
        p = footer;
    }
    lb_pq_file_meta m;
    lb_status st = lb_pq_parse_file_meta(p, flen, foot, &m, err);
    if (st) {
        free(footer);
        return lb_err_prefix(err, "%s: footer", name);
    }
    lb_pq_leaf *leaves = NULL;
    size_t nleaves = 0, *sel = NULL, nsel = 0;
    if ((st = lb_pq_schema_leaves(&m, &leaves, &nleaves, err))) {
        lb_err_prefix(err, "%s", name);
        goto done;
    }
    for (size_t r = 0; r < m.nrow_groups; r++)
        if (m.row_groups[r].ncolumns != nleaves) {
            st = lb_err(err, LB_ERR_FORMAT, "%s: row group %zu has %zu column chunks, schema has %zu leaf columns",
                        name, r, m.row_groups[r].ncolumns, nleaves);
            goto done;
        }
    if ((st = select_columns(name, leaves, nleaves, columns, ncolumns, &sel, &nsel, err))) goto done;

    size_t nrows = 0;
    for (size_t r = 0; r < m.nrow_groups; r++) {
        uint64_t rows = (uint64_t)m.row_groups[r].num_rows;
        if (rows > LB_PARQUET_MAX_CELLS || nrows + rows > LB_PARQUET_MAX_CELLS ||
            (nsel && (nrows + rows) * nsel > LB_PARQUET_MAX_CELLS)) {
            st =
                lb_err(err, LB_ERR_UNSUPPORTED, "%s: more than %zu cells (%zu columns, row group %zu claims %llu rows)",
                       name, (size_t)LB_PARQUET_MAX_CELLS, nsel, r, (unsigned long long)rows);
            goto done;
        }
        nrows += (size_t)rows;
    }
    lb_row_filter *f = keep && keep->count > 1 ? keep : NULL; /* NULL: every row is kept */
    size_t nkept = f ? kept_rows(f, 0, nrows) : nrows;
    decode_budget budget;
    budget_init(&budget, len);
    if ((st = budget_take(&budget, nkept * nsel * sizeof *out->cells, "the table's cells", err))) {
        lb_err_prefix(err, "%s: %zu rows x %zu columns", name, nkept, nsel);
        goto done;
    }
    out->ncols = nsel;
    out->nrows = nkept;
    out->col_names = calloc(nsel ? nsel : 1, sizeof *out->col_names);
    size_t ncells = nkept * nsel;
    out->cells = calloc(ncells ? ncells : 1, sizeof *out->cells); /* all LB_VAL_NULL */
    if (!out->col_names || !out->cells) {
        st = lb_err(err, LB_ERR_NOMEM, "%s: out of memory for the table", name);
        goto done;
    }
    for (size_t k = 0; k < nsel; k++)
        if (!(out->col_names[k] = leaves[sel[k]].list ? strndup(leaves[sel[k]].path, leaves[sel[k]].top_len)
                                                      : strdup(leaves[sel[k]].path))) {
            st = lb_err(err, LB_ERR_NOMEM, "%s: out of memory", name);
            goto done;
        }
    /* Without a filter every row group is decoded straight into out. With one, a row group with
     * none of the kept rows is not decoded at all (its row count is in the footer); one with
     * some is decoded into rg and its kept rows moved into out before the next one is decoded,
     * so what is held is one row group plus the kept rows. */
    size_t file_row = 0, out_row = 0;
    for (size_t r = 0; r < m.nrow_groups && !st; file_row += (size_t)m.row_groups[r].num_rows, r++) {
        const lb_pq_row_group *rgm = &m.row_groups[r];
        size_t rg_rows = (size_t)rgm->num_rows, rg_kept = f ? kept_rows(f, file_row, rg_rows) : rg_rows;
        if (rg_kept == 0 && rg_rows > 0) continue;
        lb_table rg = {.ncols = nsel, .nrows = rg_rows};
        lb_table *dst = out;
        size_t row_base = out_row;
        if (f) {
            /* the kept rows' cells were charged with the table's */
            if ((st =
                     budget_take(&budget, (rg_rows - rg_kept) * nsel * sizeof *rg.cells, "a row group's cells", err))) {
                lb_err_prefix(err, "%s: row group %zu: %zu rows x %zu columns", name, r, rg_rows, nsel);
                break;
            }
            rg.cells = calloc(rg_rows * nsel > 0 ? rg_rows * nsel : 1, sizeof *rg.cells);
            if (!rg.cells) {
                st = lb_err(err, LB_ERR_NOMEM, "%s: row group %zu: out of memory for %zu rows", name, r, rg_rows);
                break;
            }
            dst = &rg;
            row_base = 0;
        }
        for (size_t k = 0; k < nsel && !st; k++) {
            const lb_pq_leaf *leaf = &leaves[sel[k]];
            const lb_pq_schema_el *el = leaf->el;
            int ct = el->converted_type;
            chunk_ctx c = {
                .src = src,
                .data_end = foot,
                .leaf = leaf,
                .t = dst,
                .col = k,
                .row_base = row_base,
                .file_row = file_row,
                .rg_rows = rg_rows,
                .def_bits = bit_width(leaf->max_def),
                .err = err,
                .budget = &budget,
                .vt = {.type = el->type,
                       .type_length = el->type_length,
                       .is_unsigned = el->logical_unsigned || (ct >= LB_PQ_CT_UINT_8 && ct <= LB_PQ_CT_UINT_64)},
                .check_utf8 = el->type == LB_PQ_BYTE_ARRAY && (ct == LB_PQ_CT_UTF8 || el->logical_string),
            };
            st = read_chunk(&c, &rgm->columns[sel[k]], name, r);
            chunk_free(&c);
        }
        if (f && !st) { /* move the kept rows out, free the others' strings */
            for (size_t i = 0; i < rg_rows; i++) {
                lb_value *row = &rg.cells[i * nsel];
                if (lb_row_filter_keeps(f, (int64_t)(file_row + i))) {
                    memcpy(&out->cells[out_row++ * nsel], row, nsel * sizeof *row);
                    memset(row, 0, nsel * sizeof *row);
                }
            }
        } else if (!f) {
            out_row += rg_rows;
        }
        if (f) lb_table_free(&rg);
    }
    if (!st && keep) keep->seen = (int64_t)nrows;
    LB_ASSERT(st || out_row == out->nrows);
done:
    free(sel);
    lb_pq_leaves_free(leaves, nleaves);
    lb_pq_file_meta_free(&m);
    free(footer);
    if (st) lb_table_free(out);
    return st;
}

lb_status lb_parquet_read_buffer_rows(const uint8_t *buf, size_t len, const char *name, const char *const *columns,
                                      size_t ncolumns, lb_row_filter *keep, lb_table *out, lb_error *err) {
    pq_src src = {.mem = buf, .fd = -1, .name = name, .size = len};
    return read_src(&src, columns, ncolumns, keep, out, err);
}

lb_status lb_parquet_read_buffer(const uint8_t *buf, size_t len, const char *name, const char *const *columns,
                                 size_t ncolumns, lb_table *out, lb_error *err) {
    return lb_parquet_read_buffer_rows(buf, len, name, columns, ncolumns, NULL, out, err);
}

lb_status lb_parquet_read(const char *path, const char *const *columns, size_t ncolumns, lb_table *out, lb_error *err) {
    return lb_parquet_read_rows(path, columns, ncolumns, NULL, out, err);
}

lb_status lb_parquet_read_rows(const char *path, const char *const *columns, size_t ncolumns, lb_row_filter *keep,
                               lb_table *out, lb_error *err) {
    memset(out, 0, sizeof *out);
    int fd;
    uint64_t size;
    lb_status st = lb_open_regular(path, SIZE_MAX, "data file", &fd, &size, err);
    if (st) return st;
    pq_src src = {.fd = fd, .name = path, .size = size};
    st = read_src(&src, columns, ncolumns, keep, out, err);
    free(src.win);
    close(fd);
    return st;
}
