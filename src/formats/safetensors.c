/* safetensors reader and writer.
 *
 * Owns: parsing + validating the header exactly as safetensors' `read_metadata`/`validate`
 * (tensor.rs), mmap-ing the files, widening non-F32 dtypes to F32 on demand, and writing the
 * reference layout that `safetensors.torch.save_file` produces (dtype desc, name asc, compact
 * JSON with __metadata__ first, header space-padded to a multiple of 8). */
#include "formats/safetensors.h"
#include "formats/pyjson.h"
#include "base/utf8.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fileio.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "safetensors data is little-endian");

#define ST_MAX_HEADER 100000000ull    /* MAX_HEADER_SIZE in tensor.rs */
#define ST_MAX_INT 9007199254740992.0 /* 2^53: cJSON numbers are doubles; beyond this they are inexact */

static const char *const DT_NAMES[LB_DT__COUNT] = {"BOOL", "U8",  "I8",  "I16", "U16", "F16", "BF16",
                                                   "I32",  "U32", "F32", "F64", "I64", "U64"};
static const size_t DT_SIZES[LB_DT__COUNT] = {1, 1, 1, 2, 2, 2, 2, 4, 4, 4, 8, 8, 8};
/* Valid safetensors dtypes that lorabert cannot represent: reported as UNSUPPORTED, not FORMAT. */
static const char *const DT_FOREIGN[] = {"F4",      "F6_E2M3",     "F6_E3M2",     "F8_E5M2", "F8_E4M3",
                                         "F8_E8M0", "F8_E4M3FNUZ", "F8_E5M2FNUZ", "C64"};

const char *lb_dtype_name(lb_dtype dt) { return (unsigned)dt < LB_DT__COUNT ? DT_NAMES[dt] : "?"; }

typedef struct st_shard {
    char *path;
    const unsigned char *map; /* whole file, read-only */
    size_t size;
    bool mapped; /* false: caller-owned memory (lb_st_open_mem) */
} st_shard;

typedef struct st_name_ix {
    const char *name;
    size_t idx;
} st_name_ix;

struct lb_st_file {
    st_shard *shards;
    size_t nshards;
    lb_st_tensor *tensors; /* [count], file order (by offset) within each shard */
    size_t count;
    float **f32;         /* [count] converted copies (NULL until requested or when zero-copy) */
    st_name_ix *by_name; /* [count] sorted by name, for lb_st_find */
    char **meta_keys, **meta_vals;
    size_t nmeta;
};

/* ------------------------------------------------------------------------------------------ */
/* Reader */

/* Tensor names are const for readers but owned (malloc'd) by the file; the mapping is read-only
 * for readers but ours to unmap. */
static void free_owned(const void *p) { free((void *)(uintptr_t)p); }
static void unmap_owned(const void *p, size_t n) { munmap((void *)(uintptr_t)p, n); }

static void st_free_contents(lb_st_file *f) {
    for (size_t i = 0; i < f->nshards; i++) {
        if (f->shards[i].map && f->shards[i].mapped) unmap_owned(f->shards[i].map, f->shards[i].size);
        free(f->shards[i].path);
    }
    free(f->shards);
    for (size_t i = 0; i < f->count; i++) {
        free_owned(f->tensors[i].name);
        if (f->f32) free(f->f32[i]);
    }
    free(f->tensors);
    free(f->f32);
    free(f->by_name);
    for (size_t i = 0; i < f->nmeta; i++) {
        free(f->meta_keys[i]);
        free(f->meta_vals[i]);
    }
    free(f->meta_keys);
    free(f->meta_vals);
}

void lb_st_release(lb_st_file *f, const void *p, size_t bytes) {
    if (!f || !p || !bytes) return;
    const unsigned char *a = p, *b = a + bytes;
    long pg = sysconf(_SC_PAGESIZE);
    for (size_t i = 0; i < f->nshards; i++) {
        const st_shard *s = &f->shards[i];
        if (!s->mapped || !s->map || a < s->map || b > s->map + s->size) continue;
        /* only whole pages inside the range: neighbours sharing a page stay resident */
        uintptr_t lo = ((uintptr_t)a + (uintptr_t)pg - 1) / (uintptr_t)pg * (uintptr_t)pg;
        uintptr_t hi = (uintptr_t)b / (uintptr_t)pg * (uintptr_t)pg;
        if (hi > lo) madvise((void *)lo, hi - lo, MADV_DONTNEED);
        return;
    }
}

void lb_st_close(lb_st_file *f) {
    if (!f) return;
    st_free_contents(f);
    free(f);
}

/* A JSON number that must be a non-negative integer (shape dims, offsets). */
static bool json_uint(const cJSON *v, uint64_t *out) {
    if (!cJSON_IsNumber(v)) return false;
    double d = v->valuedouble;
    if (!(d >= 0) || d >= ST_MAX_INT || d != floor(d)) return false;
    *out = (uint64_t)d;
    return true;
}

static int dtype_from_name(const char *s) {
    for (int i = 0; i < LB_DT__COUNT; i++)
        if (strcmp(s, DT_NAMES[i]) == 0) return i;
    return -1;
}

/* cJSON keeps numbers only as doubles, so 1e0 or 1.0 would pass as the integer 1; the reference
 * (serde, usize) rejects them. Scans the (already valid JSON) header for a number inside a tensor
 * entry's "shape" or "data_offsets" array that is not plain digits; returns its offset or -1. */
static long bad_int_literal(const char *s, size_t n) {
    int depth = 0;
    bool meta_entry = false, int_array = false;
    const char *last = NULL; /* last string token, and its length */
    size_t last_len = 0;
    char key2[16] = "";
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '"') {
            size_t j = i + 1;
            while (j < n && s[j] != '"') j += s[j] == '\\' ? 2 : 1;
            last = s + i + 1;
            last_len = j - i - 1;
            i = j;
        } else if (c == ':') {
            if (depth == 1) meta_entry = last_len == 12 && memcmp(last, "__metadata__", 12) == 0;
            if (depth == 2) {
                size_t k = last_len < sizeof key2 - 1 ? last_len : sizeof key2 - 1;
                memcpy(key2, last, k);
                key2[k] = '\0';
                if (last_len >= sizeof key2 - 1) key2[0] = '\0';
            }
        } else if (c == '{' || c == '[') {
            depth++;
            if (depth == 3)
                int_array = c == '[' && !meta_entry && (!strcmp(key2, "shape") || !strcmp(key2, "data_offsets"));
        } else if (c == '}' || c == ']') {
            if (depth == 3) int_array = false;
            depth--;
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            size_t j = i;
            bool plain = true;
            while (j < n && (s[j] == '-' || s[j] == '+' || s[j] == '.' || s[j] == 'e' || s[j] == 'E' ||
                             (s[j] >= '0' && s[j] <= '9'))) {
                if (s[j] < '0' || s[j] > '9') plain = false;
                j++;
            }
            if (int_array && depth == 3 && !plain) return (long)i;
            i = j - 1;
        }
    }
    return -1;
}

typedef struct st_entry { /* one parsed header entry, before sorting by offset */
    const cJSON *json;
    uint64_t begin, end;
} st_entry;

static int cmp_entry_begin(const void *a, const void *b) {
    const st_entry *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    /* Equal begins: the shorter one (e.g. empty tensor) first, so the contiguity check passes
     * exactly when some ordering is contiguous. */
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

static int cmp_by_name(const void *a, const void *b) {
    return strcmp(((const st_name_ix *)a)->name, ((const st_name_ix *)b)->name);
}

/* Appends tensor t to f (takes ownership of t->name). */
static lb_status st_push_tensor(lb_st_file *f, size_t *cap, const lb_st_tensor *t, lb_error *err) {
    if (f->count == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        lb_st_tensor *nt = realloc(f->tensors, nc * sizeof *nt);
        if (!nt) return lb_err(err, LB_ERR_NOMEM, "out of memory");
        f->tensors = nt;
        *cap = nc;
    }
    f->tensors[f->count++] = *t;
    return LB_OK;
}

static lb_status st_push_meta(lb_st_file *f, const char *k, const char *v, lb_error *err) {
    char **nk = realloc(f->meta_keys, (f->nmeta + 1) * sizeof *nk);
    if (!nk) return lb_err(err, LB_ERR_NOMEM, "out of memory");
    f->meta_keys = nk;
    char **nv = realloc(f->meta_vals, (f->nmeta + 1) * sizeof *nv);
    if (!nv) return lb_err(err, LB_ERR_NOMEM, "out of memory");
    f->meta_vals = nv;
    char *ks = strdup(k), *vs = strdup(v);
    if (!ks || !vs) {
        free(ks);
        free(vs);
        return lb_err(err, LB_ERR_NOMEM, "out of memory");
    }
    f->meta_keys[f->nmeta] = ks;
    f->meta_vals[f->nmeta] = vs;
    f->nmeta++;
    return LB_OK;
}

/* Validates the header of the mapped shard `sh` and appends its tensors (and, when
 * take_meta, its __metadata__) to f. Messages name the file and the offending tensor. */
static lb_status st_parse_shard(lb_st_file *f, size_t *cap, const st_shard *sh, bool take_meta, lb_error *err) {
    const char *path = sh->path;
    if (sh->size < 8)
        return lb_err(err, LB_ERR_FORMAT, "%s: file is %zu bytes, shorter than the 8-byte header length", path,
                      sh->size);
    uint64_t n = 0;
    memcpy(&n, sh->map, 8);
    if (n > ST_MAX_HEADER)
        return lb_err(err, LB_ERR_FORMAT, "%s: header length %llu exceeds the maximum %llu", path,
                      (unsigned long long)n, ST_MAX_HEADER);
    if (n > sh->size - 8)
        return lb_err(err, LB_ERR_FORMAT, "%s: header length %llu runs past the end of the file (%zu bytes)", path,
                      (unsigned long long)n, sh->size);
    const unsigned char *h = sh->map + 8;
    /* JSON allows no raw control characters (inside strings or out) except whitespace. */
    for (size_t i = 0; i < n; i++)
        if (h[i] < 0x20 && h[i] != '\t' && h[i] != '\n' && h[i] != '\r')
            return lb_err(err, LB_ERR_FORMAT, "%s: header has control byte 0x%02x at file offset %zu", path, h[i],
                          i + 8);
    if (lb_utf8_first_invalid(h, n) != n) return lb_err(err, LB_ERR_FORMAT, "%s: header is not valid UTF-8", path);
    size_t lead = 0;
    while (lead < n && (h[lead] == ' ' || h[lead] == '\t' || h[lead] == '\n' || h[lead] == '\r')) lead++;
    if (lead == n || h[lead] != '{')
        return lb_err(err, LB_ERR_FORMAT, "%s: header must be a JSON object starting with '{', found %s", path,
                      lead == n ? "only whitespace" : "another character");

    char *text = malloc(n + 1);
    if (!text)
        return lb_err(err, LB_ERR_NOMEM, "%s: out of memory for a %llu-byte header", path, (unsigned long long)n);
    memcpy(text, h, n);
    text[n] = '\0';
    const char *endp = NULL;
    cJSON *root = cJSON_ParseWithOpts(text, &endp, 1);
    if (!root) {
        size_t at = endp ? (size_t)(endp - text) : 0;
        free(text);
        return lb_err(err, LB_ERR_FORMAT, "%s: header is not valid JSON (error near header byte %zu)", path, at);
    }

    lb_status st = LB_OK;
    st_entry *ents = NULL;
    size_t nent = 0;
    long badnum = bad_int_literal(text, n);
    free(text);
    if (badnum >= 0) {
        st = lb_err(err, LB_ERR_FORMAT,
                    "%s: header byte %ld: shape and data_offsets values must be plain non-negative integers "
                    "(no sign, fraction or exponent)",
                    path, badnum);
        goto done;
    }
    if (!cJSON_IsObject(root)) {
        st = lb_err(err, LB_ERR_FORMAT, "%s: header is not a JSON object", path);
        goto done;
    }
    size_t nitems = (size_t)cJSON_GetArraySize(root);
    bool seen_meta = false;
    ents = calloc(nitems ? nitems : 1, sizeof *ents);
    if (!ents) {
        st = lb_err(err, LB_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (const cJSON *it = root->child; it; it = it->next) {
        const char *name = it->string;
        /* Repeated tensor names are caught after sorting (st_finish), in O(n log n). */
        if (strcmp(name, "__metadata__") == 0) {
            if (seen_meta) {
                st = lb_err(err, LB_ERR_FORMAT, "%s: duplicate header key \"__metadata__\"", path);
                goto done;
            }
            seen_meta = true;
            if (cJSON_IsNull(it)) continue; /* Option<HashMap>: null is allowed */
            if (!cJSON_IsObject(it)) {
                st = lb_err(err, LB_ERR_FORMAT, "%s: __metadata__ must be an object of strings", path);
                goto done;
            }
            /* Duplicate metadata keys: the reference keeps the last (lb_st_metadata does too). */
            for (const cJSON *m = it->child; m; m = m->next) {
                if (!cJSON_IsString(m)) {
                    st = lb_err(err, LB_ERR_FORMAT, "%s: __metadata__ value for \"%s\" must be a string", path,
                                m->string);
                    goto done;
                }
                if (take_meta && (st = st_push_meta(f, m->string, m->valuestring, err)) != LB_OK) goto done;
            }
            continue;
        }
        if (!cJSON_IsObject(it)) {
            st = lb_err(err, LB_ERR_FORMAT, "%s: tensor \"%s\": entry is not an object", path, name);
            goto done;
        }
        const cJSON *off = cJSON_GetObjectItemCaseSensitive(it, "data_offsets");
        uint64_t b = 0, e = 0;
        if (!cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2 || !json_uint(off->child, &b) ||
            !json_uint(off->child->next, &e)) {
            st = lb_err(err, LB_ERR_FORMAT,
                        "%s: tensor \"%s\": data_offsets must be [begin, end] non-negative integers", path, name);
            goto done;
        }
        ents[nent].json = it;
        ents[nent].begin = b;
        ents[nent].end = e;
        nent++;
    }
    qsort(ents, nent, sizeof *ents, cmp_entry_begin);

    const unsigned char *buf = h + n;
    uint64_t pos = 0;
    for (size_t i = 0; i < nent; i++) {
        const cJSON *it = ents[i].json;
        const char *name = it->string;
        /* Unknown fields are ignored (as serde does here); a repeated known field is an error. */
        static const char *const KNOWN[3] = {"dtype", "shape", "data_offsets"};
        int seen[3] = {0, 0, 0};
        for (const cJSON *fld = it->child; fld; fld = fld->next)
            for (int k = 0; k < 3; k++)
                if (strcmp(fld->string, KNOWN[k]) == 0 && ++seen[k] > 1) {
                    st = lb_err(err, LB_ERR_FORMAT, "%s: tensor \"%s\": duplicate field \"%s\"", path, name, KNOWN[k]);
                    goto done;
                }
        const cJSON *dt = cJSON_GetObjectItemCaseSensitive(it, "dtype");
        if (!cJSON_IsString(dt)) {
            st = lb_err(err, LB_ERR_FORMAT, "%s: tensor \"%s\": missing or non-string dtype", path, name);
            goto done;
        }
        int dti = dtype_from_name(dt->valuestring);
        if (dti < 0) {
            for (size_t k = 0; k < sizeof DT_FOREIGN / sizeof *DT_FOREIGN; k++)
                if (strcmp(dt->valuestring, DT_FOREIGN[k]) == 0) {
                    st = lb_err(err, LB_ERR_UNSUPPORTED, "%s: tensor \"%s\": dtype %s is not supported by lorabert",
                                path, name, dt->valuestring);
                    goto done;
                }
            st = lb_err(err, LB_ERR_FORMAT, "%s: tensor \"%s\": unknown dtype \"%.40s\"", path, name, dt->valuestring);
            goto done;
        }
        const cJSON *shape = cJSON_GetObjectItemCaseSensitive(it, "shape");
        if (!cJSON_IsArray(shape)) {
            st = lb_err(err, LB_ERR_FORMAT, "%s: tensor \"%s\": missing or non-array shape", path, name);
            goto done;
        }
        int nd = cJSON_GetArraySize(shape);
        if (nd > LB_ST_MAX_DIMS) {
            st = lb_err(err, LB_ERR_UNSUPPORTED, "%s: tensor \"%s\": %d dimensions, lorabert supports at most %d", path,
                        name, nd, LB_ST_MAX_DIMS);
            goto done;
        }
        lb_st_tensor t = {0};
        t.dtype = (lb_dtype)dti;
        t.ndim = nd;
        uint64_t numel = 1;
        bool overflow = false;
        int d = 0;
        for (const cJSON *s = shape->child; s; s = s->next, d++) {
            uint64_t v;
            if (!json_uint(s, &v)) {
                st = lb_err(err, LB_ERR_FORMAT, "%s: tensor \"%s\": shape[%d] is not a non-negative integer below 2^53",
                            path, name, d);
                goto done;
            }
            t.shape[d] = (int64_t)v;
            if (v && numel > UINT64_MAX / v) overflow = true;
            else numel *= v;
        }
        uint64_t nbytes = numel * DT_SIZES[dti];
        if (overflow || (numel && nbytes / numel != DT_SIZES[dti]) || numel > (uint64_t)INT64_MAX) {
            st = lb_err(err, LB_ERR_FORMAT, "%s: tensor \"%s\": shape overflows when computing its byte size", path,
                        name);
            goto done;
        }
        uint64_t b = ents[i].begin, e = ents[i].end;
        if (b != pos || e < b) {
            st = lb_err(err, LB_ERR_FORMAT,
                        "%s: tensor \"%s\": data_offsets [%llu, %llu] do not continue the buffer at %llu "
                        "(tensors must be contiguous from 0 with no holes or overlaps)",
                        path, name, (unsigned long long)b, (unsigned long long)e, (unsigned long long)pos);
            goto done;
        }
        if (e - b != nbytes) {
            st = lb_err(err, LB_ERR_FORMAT,
                        "%s: tensor \"%s\": shape x dtype %s is %llu bytes but data_offsets span %llu bytes", path,
                        name, DT_NAMES[dti], (unsigned long long)nbytes, (unsigned long long)(e - b));
            goto done;
        }
        pos = e;
        if (pos > sh->size - 8 - n) continue; /* reported below as incomplete buffer */
        t.numel = (int64_t)numel;
        t.nbytes = (size_t)nbytes;
        t.data = buf + b;
        t.file = sh->path;
        t.name = strdup(name);
        if (!t.name) {
            st = lb_err(err, LB_ERR_NOMEM, "out of memory");
            goto done;
        }
        if ((st = st_push_tensor(f, cap, &t, err)) != LB_OK) {
            free_owned(t.name);
            goto done;
        }
    }
    if (pos != sh->size - 8 - n) {
        st = lb_err(err, LB_ERR_FORMAT,
                    "%s: tensor data ends at byte %llu but the file is %zu bytes (expected 8 + header %llu + buffer "
                    "%llu = file size; %s)",
                    path, (unsigned long long)(8 + n + pos), sh->size, (unsigned long long)n, (unsigned long long)pos,
                    pos > sh->size - 8 - n ? "file is truncated" : "trailing bytes after the last tensor");
        goto done;
    }
done:
    free(ents);
    cJSON_Delete(root);
    return st;
}

static lb_status st_map(st_shard *sh, const char *path, lb_error *err) {
    memset(sh, 0, sizeof *sh);
    sh->path = strdup(path);
    if (!sh->path) return lb_err(err, LB_ERR_NOMEM, "out of memory");
    int fd;
    uint64_t fsize;
    lb_status st = lb_open_regular(path, SIZE_MAX, "safetensors file", &fd, &fsize, err);
    if (st) return st;
    sh->size = (size_t)fsize;
    if (sh->size < 8) {
        close(fd);
        return lb_err(err, LB_ERR_FORMAT, "%s: file is %zu bytes, shorter than the 8-byte header length", path,
                      sh->size);
    }
    void *m = mmap(NULL, sh->size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (m == MAP_FAILED) return lb_err(err, LB_ERR_IO, "%s: mmap failed: %s", path, strerror(e));
    sh->map = m;
    sh->mapped = true;
    return LB_OK;
}

/* Common tail of both openers: sort the name index, check names are unique across shards. */
static lb_status st_finish(lb_st_file *f, lb_error *err) {
    f->f32 = calloc(f->count ? f->count : 1, sizeof *f->f32);
    f->by_name = malloc((f->count ? f->count : 1) * sizeof *f->by_name);
    if (!f->f32 || !f->by_name) return lb_err(err, LB_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < f->count; i++) f->by_name[i] = (st_name_ix){f->tensors[i].name, i};
    qsort(f->by_name, f->count, sizeof *f->by_name, cmp_by_name);
    for (size_t i = 1; i < f->count; i++) {
        const lb_st_tensor *a = &f->tensors[f->by_name[i - 1].idx], *b = &f->tensors[f->by_name[i].idx];
        if (strcmp(a->name, b->name) == 0) {
            if (a->file == b->file)
                return lb_err(err, LB_ERR_FORMAT, "%s: duplicate tensor name \"%s\"", a->file, a->name);
            return lb_err(err, LB_ERR_FORMAT, "tensor \"%s\" appears twice: in %s and in %s", a->name, a->file,
                          b->file);
        }
    }
    return LB_OK;
}

/* A file of one (empty) shard; NULL with err set when out of memory. */
static lb_st_file *st_new1(lb_error *err) {
    lb_st_file *f = calloc(1, sizeof *f);
    if (!f) {
        lb_err(err, LB_ERR_NOMEM, "out of memory");
        return NULL;
    }
    f->shards = calloc(1, sizeof *f->shards);
    if (!f->shards) {
        free(f);
        lb_err(err, LB_ERR_NOMEM, "out of memory");
        return NULL;
    }
    f->nshards = 1;
    return f;
}

lb_st_file *lb_st_open(const char *path, lb_error *err) {
    lb_st_file *f = st_new1(err);
    if (!f) return NULL;
    size_t cap = 0;
    if (st_map(&f->shards[0], path, err) != LB_OK || st_parse_shard(f, &cap, &f->shards[0], true, err) != LB_OK ||
        st_finish(f, err) != LB_OK) {
        lb_st_close(f);
        return NULL;
    }
    return f;
}

lb_st_file *lb_st_open_mem(const void *data, size_t size, const char *name, lb_error *err) {
    lb_st_file *f = st_new1(err);
    if (!f) return NULL;
    f->shards[0].path = strdup(name ? name : "<memory>");
    f->shards[0].map = data;
    f->shards[0].size = size;
    size_t cap = 0;
    if (!f->shards[0].path) lb_err(err, LB_ERR_NOMEM, "out of memory");
    if (!f->shards[0].path || st_parse_shard(f, &cap, &f->shards[0], true, err) != LB_OK ||
        st_finish(f, err) != LB_OK) {
        lb_st_close(f);
        return NULL;
    }
    return f;
}

/* Opens the shards listed by an index.json's weight_map. Every weight_map entry must name a
 * tensor present in its shard; shard names must be plain file names inside dir. */
static lb_st_file *st_open_index(const char *dir, const char *index_path, lb_error *err) {
    char *text = NULL;
    size_t len = 0;
    if (lb_read_file_max(index_path, LB_MAX_JSON_BYTES, "JSON file", &text, &len, err) != LB_OK) return NULL;
    cJSON *root = lb_json_parse(index_path, text, len, err);
    free(text);
    lb_st_file *f = NULL;
    const cJSON *wm = root ? cJSON_GetObjectItemCaseSensitive(root, "weight_map") : NULL;
    if (!root) goto fail;
    if (!cJSON_IsObject(root)) {
        lb_err(err, LB_ERR_FORMAT, "%s: expected a JSON object, found %s", index_path, lb_json_kind(root));
        goto fail;
    }
    if (!cJSON_IsObject(wm)) {
        lb_err(err, LB_ERR_FORMAT, "%s: missing \"weight_map\" object", index_path);
        goto fail;
    }
    f = calloc(1, sizeof *f);
    if (!f) {
        lb_err(err, LB_ERR_NOMEM, "out of memory");
        goto fail;
    }
    size_t nw = (size_t)cJSON_GetArraySize(wm);
    f->shards = calloc(nw ? nw : 1, sizeof *f->shards);
    if (!f->shards) {
        lb_err(err, LB_ERR_NOMEM, "out of memory");
        goto fail;
    }
    size_t cap = 0;
    /* Shards in order of first appearance in weight_map. */
    for (const cJSON *e = wm->child; e; e = e->next) {
        if (!cJSON_IsString(e)) {
            lb_err(err, LB_ERR_FORMAT, "%s: weight_map[\"%s\"] is not a string", index_path, e->string);
            goto fail;
        }
        const char *fn = e->valuestring;
        if (!*fn || fn[0] == '/' || strstr(fn, "..") || strchr(fn, '/')) {
            lb_err(err, LB_ERR_FORMAT, "%s: weight_map[\"%s\"] = \"%s\" is not a file name inside %s", index_path,
                   e->string, fn, dir);
            goto fail;
        }
        bool have = false;
        char *full = lb_path_join(dir, fn);
        if (!full) {
            lb_err(err, LB_ERR_NOMEM, "out of memory");
            goto fail;
        }
        for (size_t s = 0; s < f->nshards && !have; s++) have = strcmp(f->shards[s].path, full) == 0;
        if (!have) {
            st_shard *sh = &f->shards[f->nshards++];
            lb_status st = st_map(sh, full, err);
            if (st == LB_OK) st = st_parse_shard(f, &cap, sh, f->nshards == 1, err);
            if (st != LB_OK) {
                free(full);
                lb_err_prefix(err, "%s", index_path);
                goto fail;
            }
        }
        free(full);
    }
    if (st_finish(f, err) != LB_OK) goto fail;
    for (const cJSON *e = wm->child; e; e = e->next) {
        const lb_st_tensor *t = lb_st_find(f, e->string);
        char *full = lb_path_join(dir, e->valuestring);
        bool ok = t && full && strcmp(t->file, full) == 0;
        free(full);
        if (!ok) {
            lb_err(err, LB_ERR_FORMAT, "%s: weight_map says tensor \"%s\" is in %s, but %s", index_path, e->string,
                   e->valuestring, t ? "it is in another shard" : "no shard holds it");
            goto fail;
        }
    }
    cJSON_Delete(root);
    return f;
fail:
    lb_st_close(f);
    cJSON_Delete(root);
    return NULL;
}

lb_st_file *lb_st_open_dir(const char *dir, lb_error *err) {
    char *single = lb_path_join(dir, "model.safetensors");
    char *index = lb_path_join(dir, "model.safetensors.index.json");
    lb_st_file *f = NULL;
    if (!single || !index) lb_err(err, LB_ERR_NOMEM, "out of memory");
    /* present, not only regular: a folder or FIFO named model.safetensors is reported as such */
    else if (lb_path_present(single)) f = lb_st_open(single, err);
    else if (lb_path_present(index)) f = st_open_index(dir, index, err);
    else lb_err(err, LB_ERR_IO, "%s: neither model.safetensors nor model.safetensors.index.json exists", dir);
    free(single);
    free(index);
    return f;
}

size_t lb_st_count(const lb_st_file *f) { return f->count; }
const lb_st_tensor *lb_st_at(const lb_st_file *f, size_t i) { return i < f->count ? &f->tensors[i] : NULL; }

const lb_st_tensor *lb_st_find(const lb_st_file *f, const char *name) {
    size_t lo = 0, hi = f->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(f->by_name[mid].name, name);
        if (c == 0) return &f->tensors[f->by_name[mid].idx];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

const char *lb_st_metadata(const lb_st_file *f, const char *key) {
    for (size_t i = f->nmeta; i-- > 0;) /* last wins for repeated keys, as in the reference */
        if (strcmp(f->meta_keys[i], key) == 0) return f->meta_vals[i];
    return NULL;
}

/* IEEE half -> single, exact for every input (subnormals, inf, NaN payload kept). */
static inline float f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1F, man = h & 0x3FF, bits;
    if (exp == 0x1F) bits = sign | 0x7F800000u | (man << 13);
    else if (exp) bits = sign | ((exp + 112) << 23) | (man << 13);
    else if (!man) bits = sign;
    else { /* subnormal: normalise */ int e = -1;
        do {
            man <<= 1;
            e++;
        } while (!(man & 0x400));
        bits = sign | ((uint32_t)(112 - e) << 23) | ((man & 0x3FF) << 13);
    }
    float out;
    memcpy(&out, &bits, 4);
    return out;
}

const float *lb_st_f32(lb_st_file *f, const lb_st_tensor *t, lb_error *err) {
    size_t idx = (size_t)(t - f->tensors);
    if (idx >= f->count || &f->tensors[idx] != t) {
        lb_err(err, LB_ERR_USAGE, "lb_st_f32: tensor does not belong to this file");
        return NULL;
    }
    if (t->dtype == LB_DT_F32 && ((uintptr_t)t->data % _Alignof(float)) == 0) return t->data;
    if (f->f32[idx]) return f->f32[idx];
    size_t n = (size_t)t->numel;
    float *o = malloc((n ? n : 1) * sizeof *o);
    if (!o) {
        lb_err(err, LB_ERR_NOMEM, "%s: tensor \"%s\": out of memory converting %zu values to F32", t->file, t->name, n);
        return NULL;
    }
    const unsigned char *p = t->data;
    /* memcpy per element: the mapping may be unaligned for the source type. */
#define LB_CONV(T)                                \
    for (size_t i = 0; i < n; i++) {              \
        T v;                                      \
        memcpy(&v, p + i * sizeof(T), sizeof(T)); \
        o[i] = (float)v;                          \
    }
    switch (t->dtype) {
    case LB_DT_BOOL:
        for (size_t i = 0; i < n; i++) o[i] = p[i] ? 1.0f : 0.0f;
        break;
    case LB_DT_U8: LB_CONV(uint8_t) break;
    case LB_DT_I8: LB_CONV(int8_t) break;
    case LB_DT_I16: LB_CONV(int16_t) break;
    case LB_DT_U16: LB_CONV(uint16_t) break;
    case LB_DT_I32: LB_CONV(int32_t) break;
    case LB_DT_U32: LB_CONV(uint32_t) break;
    case LB_DT_F32: LB_CONV(float) break;
    case LB_DT_F64: LB_CONV(double) break;
    case LB_DT_I64: LB_CONV(int64_t) break;
    case LB_DT_U64: LB_CONV(uint64_t) break;
    case LB_DT_F16:
        for (size_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, p + 2 * i, 2);
            o[i] = f16_to_f32(h);
        }
        break;
    case LB_DT_BF16:
        for (size_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, p + 2 * i, 2);
            uint32_t b = (uint32_t)h << 16;
            memcpy(&o[i], &b, 4);
        }
        break;
    default:
        free(o);
        lb_err(err, LB_ERR_INTERNAL, "%s: tensor \"%s\": bad dtype %d", t->file, t->name, (int)t->dtype);
        return NULL;
    }
#undef LB_CONV
    f->f32[idx] = o;
    return o;
}

/* ------------------------------------------------------------------------------------------ */
/* Writer */

/* Growable byte buffer for the header JSON. */
typedef struct st_buf {
    char *p;
    size_t n, cap;
    bool oom;
} st_buf;

static void sb_put(st_buf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 256;
        while (b->n + n + 1 > nc) nc *= 2;
        char *np = realloc(b->p, nc);
        if (!np) {
            b->oom = true;
            return;
        }
        b->p = np;
        b->cap = nc;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}
static void sb_str(st_buf *b, const char *s) { sb_put(b, s, strlen(s)); }
static void sb_u64(st_buf *b, uint64_t v) {
    char tmp[24];
    sb_put(b, tmp, (size_t)snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)v));
}
/* A JSON string the way serde_json writes it: only '"', '\\' and control characters escaped
 * (\b \t \n \f \r short forms, others \u00xx lower-case); '/' and non-ASCII are kept as is. */
static void sb_json_str(st_buf *b, const char *s) {
    sb_put(b, "\"", 1);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        char esc[8];
        switch (*c) {
        case '"': sb_put(b, "\\\"", 2); break;
        case '\\': sb_put(b, "\\\\", 2); break;
        case '\b': sb_put(b, "\\b", 2); break;
        case '\t': sb_put(b, "\\t", 2); break;
        case '\n': sb_put(b, "\\n", 2); break;
        case '\f': sb_put(b, "\\f", 2); break;
        case '\r': sb_put(b, "\\r", 2); break;
        default:
            if (*c < 0x20) sb_put(b, esc, (size_t)snprintf(esc, sizeof esc, "\\u%04x", *c));
            else sb_put(b, (const char *)c, 1);
        }
    }
    sb_put(b, "\"", 1);
}

typedef struct st_order {
    const lb_st_out *t;
    uint64_t nbytes;
} st_order;

/* The reference `prepare` order: dtype descending (enum = alignment order), then name ascending. */
static int cmp_out(const void *a, const void *b) {
    const lb_st_out *x = ((const st_order *)a)->t, *y = ((const st_order *)b)->t;
    if (x->dtype != y->dtype) return x->dtype > y->dtype ? -1 : 1;
    return strcmp(x->name, y->name);
}

lb_status lb_st_write(const char *path, const lb_st_out *tensors, size_t n, const char *const *meta, lb_error *err) {
    st_order *ord = calloc(n ? n : 1, sizeof *ord);
    if (!ord) return lb_err(err, LB_ERR_NOMEM, "%s: out of memory", path);
    lb_status st = LB_OK;
    st_buf hb = {0};
    for (size_t i = 0; i < n; i++) {
        const lb_st_out *t = &tensors[i];
        if (!t->name || !*t->name || strcmp(t->name, "__metadata__") == 0) {
            st = lb_err(err, LB_ERR_USAGE, "%s: tensor %zu has an invalid name \"%s\"", path, i,
                        t->name ? t->name : "(null)");
            goto done;
        }
        if (lb_utf8_first_invalid((const uint8_t *)t->name, strlen(t->name)) != strlen(t->name)) {
            st = lb_err(err, LB_ERR_USAGE, "%s: tensor %zu: name is not valid UTF-8", path, i);
            goto done;
        }
        if ((unsigned)t->dtype >= LB_DT__COUNT || t->ndim < 0 || t->ndim > LB_ST_MAX_DIMS) {
            st = lb_err(err, LB_ERR_USAGE, "%s: tensor \"%s\": bad dtype %d or ndim %d", path, t->name, (int)t->dtype,
                        t->ndim);
            goto done;
        }
        uint64_t numel = 1;
        for (int d = 0; d < t->ndim; d++) {
            if (t->shape[d] < 0 || (t->shape[d] && numel > (uint64_t)INT64_MAX / (uint64_t)t->shape[d])) {
                st = lb_err(err, LB_ERR_USAGE, "%s: tensor \"%s\": bad shape[%d] = %lld", path, t->name, d,
                            (long long)t->shape[d]);
                goto done;
            }
            numel *= (uint64_t)t->shape[d];
        }
        ord[i].t = t;
        ord[i].nbytes = numel * DT_SIZES[t->dtype];
        if (ord[i].nbytes && !t->data) {
            st = lb_err(err, LB_ERR_USAGE, "%s: tensor \"%s\": data is NULL", path, t->name);
            goto done;
        }
    }
    qsort(ord, n, sizeof *ord, cmp_out);
    for (size_t i = 1; i < n; i++)
        if (strcmp(ord[i - 1].t->name, ord[i].t->name) == 0) {
            st = lb_err(err, LB_ERR_USAGE, "%s: tensor name \"%s\" given twice", path, ord[i].t->name);
            goto done;
        }

    sb_put(&hb, "{", 1);
    bool first = true;
    if (meta && meta[0]) {
        sb_str(&hb, "\"__metadata__\":{");
        for (size_t k = 0; meta[k]; k += 2) {
            if (!meta[k + 1]) {
                st = lb_err(err, LB_ERR_USAGE, "%s: metadata key \"%s\" has no value", path, meta[k]);
                goto done;
            }
            if (k) sb_put(&hb, ",", 1);
            sb_json_str(&hb, meta[k]);
            sb_put(&hb, ":", 1);
            sb_json_str(&hb, meta[k + 1]);
        }
        sb_put(&hb, "}", 1);
        first = false;
    }
    uint64_t off = 0;
    for (size_t i = 0; i < n; i++) {
        const lb_st_out *t = ord[i].t;
        if (!first) sb_put(&hb, ",", 1);
        first = false;
        sb_json_str(&hb, t->name);
        sb_str(&hb, ":{\"dtype\":\"");
        sb_str(&hb, DT_NAMES[t->dtype]);
        sb_str(&hb, "\",\"shape\":[");
        for (int d = 0; d < t->ndim; d++) {
            if (d) sb_put(&hb, ",", 1);
            sb_u64(&hb, (uint64_t)t->shape[d]);
        }
        sb_str(&hb, "],\"data_offsets\":[");
        sb_u64(&hb, off);
        sb_put(&hb, ",", 1);
        off += ord[i].nbytes;
        sb_u64(&hb, off);
        sb_str(&hb, "]}");
    }
    sb_put(&hb, "}", 1);
    while (!hb.oom && hb.n % 8) sb_put(&hb, " ", 1); /* the reference pads to 8 for aligned loads */
    if (hb.oom) {
        st = lb_err(err, LB_ERR_NOMEM, "%s: out of memory building the header", path);
        goto done;
    }

    lb_atomic_file af;
    if ((st = lb_atomic_open(&af, path, err)) != LB_OK) goto done;
    uint64_t hl = hb.n;
    bool ok = fwrite(&hl, 8, 1, af.fp) == 1 && fwrite(hb.p, 1, hb.n, af.fp) == hb.n;
    for (size_t i = 0; ok && i < n; i++)
        if (ord[i].nbytes) ok = fwrite(ord[i].t->data, 1, ord[i].nbytes, af.fp) == ord[i].nbytes;
    if (!ok) {
        int e = errno;
        lb_atomic_abort(&af);
        st = lb_err(err, LB_ERR_IO, "%s: write failed: %s", path, strerror(e));
        goto done;
    }
    st = lb_atomic_commit(&af, err);
done:
    free(hb.p);
    free(ord);
    return st;
}
