/* The resume checkpoint: resume.json parsed and validated against the run, and the whole
 * checkpoint folder written and read back; see resume.h. */
#include "train/resume.h"
#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include "base/digest.h"
#include "base/fileio.h"
#include "base/outdir.h"
#include "formats/pyjson.h"
#include "formats/safetensors.h"
#include "train/metrics.h"
#include "train/run_files.h"

typedef struct rd {
    const cJSON *root;
    const char *path;
    lb_error *err;
    lb_status st; /* first failure; later checks are skipped */
} rd;

static bool failed(rd *r) { return r->st != LB_OK; }

static void fail(rd *r, const char *field, const char *expected, const char *found) {
    if (failed(r)) return;
    r->st = lb_err(r->err, LB_ERR_FORMAT, "%s: field \"%s\": expected %s, found %s", r->path, field, expected, found);
}

static void describe(const cJSON *x, char *buf, size_t n) {
    if (!x) snprintf(buf, n, "nothing (missing)");
    else if (cJSON_IsNumber(x)) snprintf(buf, n, "%.17g", x->valuedouble);
    else if (cJSON_IsString(x)) snprintf(buf, n, "the string \"%.40s\"", x->valuestring);
    else if (cJSON_IsArray(x)) snprintf(buf, n, "an array of %d", cJSON_GetArraySize(x));
    else if (cJSON_IsObject(x)) snprintf(buf, n, "an object");
    else if (cJSON_IsBool(x)) snprintf(buf, n, "%s", cJSON_IsTrue(x) ? "true" : "false");
    else snprintf(buf, n, "null");
}

/* An integral JSON number in [lo, hi]. */
static int64_t int_in(rd *r, const cJSON *x, const char *field, int64_t lo, int64_t hi) {
    if (failed(r)) return lo;
    char want[96], got[96];
    if (!cJSON_IsNumber(x) || !isfinite(x->valuedouble) || x->valuedouble != floor(x->valuedouble) ||
        x->valuedouble < (double)lo || x->valuedouble > (double)hi) {
        snprintf(want, sizeof want, "an integer in [%lld, %lld]", (long long)lo, (long long)hi);
        describe(x, got, sizeof got);
        fail(r, field, want, got);
        return lo;
    }
    return (int64_t)x->valuedouble;
}

static int64_t key_int(rd *r, const char *key, int64_t lo, int64_t hi) {
    return int_in(r, cJSON_GetObjectItemCaseSensitive(r->root, key), key, lo, hi);
}

/* A finite number >= lo; with none_ok, -1 stands for "none" and gives NaN. */
static double num_from(rd *r, const cJSON *x, const char *field, double lo, bool none_ok) {
    if (failed(r)) return 0;
    char got[96];
    if (cJSON_IsNumber(x) && isfinite(x->valuedouble)) {
        if (none_ok && x->valuedouble == -1.0) return NAN;
        if (x->valuedouble >= lo) return x->valuedouble;
    }
    describe(x, got, sizeof got);
    fail(r, field,
         none_ok           ? "a finite number >= 0, or -1 for none"
         : lo == -INFINITY ? "a finite number"
                           : "a finite number >= 0",
         got);
    return 0;
}

static double key_num(rd *r, const char *key, double lo, bool none_ok) {
    return num_from(r, cJSON_GetObjectItemCaseSensitive(r->root, key), key, lo, none_ok);
}

/* A decimal uint64 written as a string (JSON numbers cannot hold 64 bits). */
static uint64_t u64_from(rd *r, const cJSON *x, const char *field) {
    if (failed(r)) return 0;
    char got[96];
    if (cJSON_IsString(x) && x->valuestring[0] >= '0' && x->valuestring[0] <= '9' && strlen(x->valuestring) <= 20) {
        errno = 0;
        char *end;
        unsigned long long v = strtoull(x->valuestring, &end, 10);
        if (!errno && *end == '\0') return (uint64_t)v;
    }
    describe(x, got, sizeof got);
    fail(r, field, "a decimal unsigned 64-bit integer in a string", got);
    return 0;
}

static const cJSON *array_of(rd *r, const cJSON *x, const char *field, int n) {
    if (failed(r)) return NULL;
    if (!cJSON_IsArray(x) || (n >= 0 && cJSON_GetArraySize(x) != n)) {
        char want[64], got[96];
        if (n >= 0) snprintf(want, sizeof want, "an array of %d", n);
        else snprintf(want, sizeof want, "an array");
        describe(x, got, sizeof got);
        fail(r, field, want, got);
        return NULL;
    }
    return x;
}

static void read_rng(rd *r, const char *key, uint64_t s[4]) {
    const cJSON *a = array_of(r, cJSON_GetObjectItemCaseSensitive(r->root, key), key, 4);
    if (!a) return;
    for (int i = 0; i < 4; i++) s[i] = u64_from(r, cJSON_GetArrayItem(a, i), key);
    if (!failed(r) && !(s[0] | s[1] | s[2] | s[3])) fail(r, key, "a generator state that is not all zero", "all zero");
}

/* L*L confusion counts from items [first, first+L*L) of a; each in [0, n_eval], summing to n_eval. */
static void read_confusion(rd *r, const cJSON *a, int first, int L, int64_t n_eval, const char *field, int64_t *conf) {
    int64_t sum = 0;
    for (int k = 0; k < L * L && !failed(r); k++) {
        conf[k] = int_in(r, cJSON_GetArrayItem(a, first + k), field, 0, n_eval);
        sum += conf[k];
    }
    if (!failed(r) && sum != n_eval) {
        char want[64], got[64];
        snprintf(want, sizeof want, "confusion counts summing to the %lld validation rows", (long long)n_eval);
        snprintf(got, sizeof got, "a sum of %lld", (long long)sum);
        fail(r, field, want, got);
    }
}

void lb_resume_free(lb_resume *r) {
    if (!r) return;
    free(r->order);
    free(r->rows);
    free(r->hist);
    memset(r, 0, sizeof *r);
}

const char *lb_resume_file_sha256(const lb_resume *r, const char *name) {
    for (int i = 0; i < r->nfiles; i++)
        if (!strcmp(r->files[i].name, name)) return r->files[i].sha256;
    return NULL;
}

static bool is_hex(const char *s, size_t n) {
    if (strlen(s) != n) return false;
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i])) return false;
    return true;
}

static void read_files(rd *r, lb_resume *out) {
    const char *key = "checkpoint_id";
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(r->root, key);
    if (!cJSON_IsString(id) || !is_hex(id->valuestring, 32)) {
        char got[96];
        describe(id, got, sizeof got);
        fail(
            r, key,
            "32 lowercase hex digits (a checkpoint written before checkpoints carried an id cannot be resumed: start the run again)",
            got);
        return;
    }
    memcpy(out->checkpoint_id, id->valuestring, 33);
    const cJSON *files = cJSON_GetObjectItemCaseSensitive(r->root, "files");
    if (!cJSON_IsObject(files)) {
        char got[96];
        describe(files, got, sizeof got);
        fail(r, "files", "an object of file name -> SHA-256", got);
        return;
    }
    const cJSON *f;
    cJSON_ArrayForEach(f, files) {
        if (out->nfiles == LB_RESUME_MAX_FILES) {
            fail(r, "files", "at most 32 files", "more");
            return;
        }
        const char *name = f->string;
        if (!name || !*name || strlen(name) >= sizeof out->files[0].name || strchr(name, '/') || !strcmp(name, "..") ||
            !strcmp(name, ".")) {
            fail(r, "files", "plain file names of at most 63 bytes", "another name");
            return;
        }
        if (!cJSON_IsString(f) || !is_hex(f->valuestring, 64)) {
            fail(r, "files", "64 lowercase hex digits per file", "another value");
            return;
        }
        if (lb_resume_file_sha256(out, name)) {
            fail(r, "files", "each file once", name);
            return;
        }
        lb_resume_file *e = &out->files[out->nfiles++];
        memcpy(e->name, name, strlen(name) + 1);
        memcpy(e->sha256, f->valuestring, 65);
    }
}

lb_status lb_resume_parse(const char *text, size_t len, const char *path, const lb_resume_dims *d, lb_resume *out,
                          lb_error *err) {
    memset(out, 0, sizeof *out);
    const int L = d->num_labels;
    if (L < 1 || L > LB_RESUME_MAX_LABELS || d->epochs < 1 || d->steps_per_epoch < 1 || d->n_train < 1 ||
        d->n_eval < 0 || d->total_steps != d->steps_per_epoch * d->epochs)
        return lb_err(err, LB_ERR_INTERNAL, "%s: resume dimensions are inconsistent", path);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        size_t off = at && at >= text && at <= text + len ? (size_t)(at - text) : 0;
        return lb_err(err, LB_ERR_FORMAT, "%s: invalid JSON at byte %zu", path, off);
    }
    while (end && (size_t)(end - text) < len && isspace((unsigned char)*end)) end++;
    if (end && (size_t)(end - text) < len) {
        size_t off = (size_t)(end - text);
        cJSON_Delete(root);
        return lb_err(err, LB_ERR_FORMAT, "%s: invalid JSON: extra data at byte %zu", path, off);
    }
    rd r = {.root = root, .path = path, .err = err, .st = LB_OK};
    if (!cJSON_IsObject(root)) fail(&r, "(top level)", "an object", "another JSON value");
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(root, "format");
    if (!failed(&r) && (!cJSON_IsString(fmt) || strcmp(fmt->valuestring, LB_RESUME_FORMAT)))
        r.st = lb_err(err, LB_ERR_FORMAT, "%s: not a lorabert resume checkpoint (format is not \"%s\")", path,
                      LB_RESUME_FORMAT);
    /* The run it was written for. */
    if (!failed(&r)) {
        const cJSON *seed = cJSON_GetObjectItemCaseSensitive(root, "seed");
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(root, "n_train"),
                    *ep = cJSON_GetObjectItemCaseSensitive(root, "epochs"),
                    *bs = cJSON_GetObjectItemCaseSensitive(root, "batch_size"),
                    *ts = cJSON_GetObjectItemCaseSensitive(root, "total_steps");
        bool same = cJSON_IsNumber(n) && n->valuedouble == (double)d->n_train && cJSON_IsNumber(ep) &&
                    ep->valuedouble == d->epochs && cJSON_IsNumber(bs) && bs->valuedouble == d->batch_size &&
                    cJSON_IsNumber(ts) && ts->valuedouble == (double)d->total_steps && cJSON_IsString(seed);
        if (same) {
            uint64_t s = u64_from(&r, seed, "seed");
            same = !failed(&r) && s == d->seed;
        }
        if (!failed(&r) && !same)
            r.st = lb_err(err, LB_ERR_USAGE,
                          "%s: the checkpoint was written for another run (training rows, epochs, batch size, seed or "
                          "batch order differ); resume with the same options",
                          path);
    }
    if (!failed(&r)) {
        /* The same batches make a step (absent: written before accumulation, so one). A different
         * number of processes is fine when the step stays the same. */
        const cJSON *mps = cJSON_GetObjectItemCaseSensitive(root, "micro_batches_per_step");
        int64_t was = mps ? int_in(&r, mps, "micro_batches_per_step", 1, INT32_MAX) : 1;
        if (!failed(&r) && was != d->micro_per_step)
            r.st = lb_err(err, LB_ERR_USAGE,
                          "%s: a step of the run was %lld batches (processes x gradient accumulation steps), this "
                          "run's is %d; resume with the same product (e.g. half the processes, twice the "
                          "accumulation)",
                          path, (long long)was, d->micro_per_step);
    }
    if (!failed(&r)) {
        /* Same arithmetic as before the interruption (absent: written before bf16 mode, so fp32). */
        const cJSON *prec = cJSON_GetObjectItemCaseSensitive(root, "precision");
        const char *was = cJSON_IsString(prec) ? prec->valuestring : "fp32";
        if (prec && !cJSON_IsString(prec)) fail(&r, "precision", "\"fp32\" or \"bf16\"", "another value");
        else if (strcmp(was, d->precision))
            r.st = lb_err(err, LB_ERR_USAGE,
                          "%s: the run was trained with --precision %.16s, resuming with %s; "
                          "resume with --precision %.16s",
                          path, was, d->precision, was);
    }
    if (!failed(&r) && d->run_options) {
        /* The options that decide the loss, evaluations, checkpoints and the result (absent:
         * written before they were recorded, not compared). */
        const cJSON *ro = cJSON_GetObjectItemCaseSensitive(root, "run_options");
        if (ro && !cJSON_IsString(ro)) fail(&r, "run_options", "a string", "another value");
        else if (ro && strcmp(ro->valuestring, d->run_options)) {
            /* name the first option that differs */
            const char *a = ro->valuestring, *b = d->run_options;
            for (;;) {
                size_t la = strcspn(a, ";"), lb = strcspn(b, ";");
                if (la != lb || strncmp(a, b, la) || !a[la] || !b[lb]) {
                    r.st = lb_err(err, LB_ERR_USAGE,
                                  "%s: the run was trained with %.*s, resuming with %.*s; resume with the same "
                                  "options",
                                  path, (int)(la > 200 ? 200 : la), a, (int)(lb > 200 ? 200 : lb), b);
                    break;
                }
                a += la + 1;
                b += lb + 1;
            }
        }
    }
    read_files(&r, out);
    /* Where the run stopped. */
    out->epoch = (int)key_int(&r, "epoch", 0, d->epochs - 1);
    out->step_in_epoch = key_int(&r, "step_in_epoch", 0, d->steps_per_epoch - 1);
    out->global_step = key_int(&r, "global_step", 1, d->total_steps - 1);
    if (!failed(&r) && out->global_step != out->epoch * d->steps_per_epoch + out->step_in_epoch) {
        char want[96], got[32];
        snprintf(want, sizeof want, "epoch x %lld steps + step_in_epoch = %lld", (long long)d->steps_per_epoch,
                 (long long)(out->epoch * d->steps_per_epoch + out->step_in_epoch));
        snprintf(got, sizeof got, "%lld", (long long)out->global_step);
        fail(&r, "global_step", want, got);
    }
    out->step_adam = key_int(&r, "step_adam", out->global_step, out->global_step);
    out->order_valid = key_int(&r, "order_valid", 0, 1) == 1;
    /* Mid-epoch with a shuffled order, the order is part of the state; with a batch-order file it is not used. */
    if (!failed(&r) && !d->fixed_order && out->step_in_epoch > 0 && !out->order_valid)
        fail(&r, "order_valid", "1 (the epoch's order is needed to continue mid-epoch)", "0");
    read_rng(&r, "shuffle_rng", out->shuffle_rng);
    read_rng(&r, "dropout_rng", out->dropout_rng);
    out->tr_loss = key_num(&r, "tr_loss", 0, false);
    out->total_loss = key_num(&r, "total_loss", 0, false);
    out->last_logged = key_int(&r, "last_logged", 0, out->global_step);
    out->epoch_loss_sum = key_num(&r, "epoch_loss_sum", 0, false);
    out->epoch_loss_steps = key_int(&r, "epoch_loss_steps", out->step_in_epoch, out->step_in_epoch);
    out->last_logged_loss = key_num(&r, "last_logged_loss", 0, true);
    /* the best checkpoint: at a step of a finished epoch or of this one (eval / save "steps") */
    out->best_epoch = (int)key_int(&r, "best_epoch", 0, d->n_eval > 0 ? out->epoch + 1 : 0);
    {
        const int64_t be = out->best_epoch, hi = be * d->steps_per_epoch;
        out->best_step = key_int(&r, "best_step", be ? (be - 1) * d->steps_per_epoch + 1 : 0,
                                 be ? (hi < out->global_step ? hi : out->global_step) : 0);
    }
    out->best_metric = out->best_epoch ? key_num(&r, "best_metric", -INFINITY, false) : 0;
    out->total_flos = key_num(&r, "total_flos", 0, false);
    out->train_time = key_num(&r, "train_time", 0, false);
    out->tokens = key_int(&r, "tokens", 0, INT64_C(1) << 52);
    out->token_time = key_num(&r, "token_time", 0, false);
    if (cJSON_GetObjectItemCaseSensitive(root, "early_stopping_counter"))
        out->es_counter = (int)key_int(&r, "early_stopping_counter", 0, out->global_step);
    const cJSON *be = array_of(&r, cJSON_GetObjectItemCaseSensitive(root, "best_eval"), "best_eval", 2);
    if (be && out->best_epoch) {
        out->best_eval.loss = num_from(&r, cJSON_GetArrayItem(be, 0), "best_eval", 0, false);
        out->best_eval.runtime_s = num_from(&r, cJSON_GetArrayItem(be, 1), "best_eval", 0, false);
        const cJSON *bc =
            array_of(&r, cJSON_GetObjectItemCaseSensitive(root, "best_confusion"), "best_confusion", L * L);
        if (bc) read_confusion(&r, bc, 0, L, d->n_eval, "best_confusion", out->best_eval.confusion);
    }
    /* The epoch's batch order: a permutation of the training rows. */
    const cJSON *ord = cJSON_GetObjectItemCaseSensitive(root, "order");
    if (!failed(&r) && out->order_valid && !d->fixed_order) {
        ord = array_of(&r, ord, "order", (int)(d->n_train > INT32_MAX ? -1 : d->n_train));
        out->order = ord ? malloc(sizeof(int32_t) * (size_t)d->n_train) : NULL;
        uint8_t *seen = ord ? calloc((size_t)d->n_train, 1) : NULL;
        if (ord && (!out->order || !seen)) r.st = lb_err(err, LB_ERR_NOMEM, "%s: out of memory", path);
        int64_t i = 0;
        const cJSON *x;
        if (ord && !failed(&r)) {
            cJSON_ArrayForEach(x, ord) {
                int64_t v = int_in(&r, x, "order", 0, d->n_train - 1);
                if (failed(&r)) break;
                if (seen[v]) {
                    char got[64];
                    snprintf(got, sizeof got, "row %lld twice (at position %lld)", (long long)v, (long long)i);
                    fail(&r, "order", "a permutation of the training rows", got);
                    break;
                }
                seen[v] = 1;
                out->order[i++] = (int32_t)v;
            }
        }
        free(seen);
    } else if (!failed(&r) && !(cJSON_IsArray(ord) && cJSON_GetArraySize(ord) == 0)) {
        char got[96];
        describe(ord, got, sizeof got);
        fail(&r, "order", "an empty array when order_valid is 0", got);
    }
    /* The per-epoch table: rows before `epoch` are done, the others empty. */
    const cJSON *rows = array_of(&r, cJSON_GetObjectItemCaseSensitive(root, "rows"), "rows", d->epochs);
    if (rows && !(out->rows = calloc((size_t)d->epochs, sizeof *out->rows)))
        r.st = lb_err(err, LB_ERR_NOMEM, "%s: out of memory", path);
    for (int e = 0; rows && !failed(&r) && e < d->epochs; e++) {
        char field[32];
        snprintf(field, sizeof field, "rows[%d]", e);
        const cJSON *row = array_of(&r, cJSON_GetArrayItem(rows, e), field, 5 + L * L);
        if (!row) break;
        lb_resume_row *er = &out->rows[e];
        er->train_loss_logged = num_from(&r, cJSON_GetArrayItem(row, 0), field, 0, true);
        er->train_loss_mean = num_from(&r, cJSON_GetArrayItem(row, 1), field, 0, true);
        bool done = e < out->epoch;
        /* an epoch's row holds its end's evaluation (eval strategy "epoch"; none with "steps") */
        er->has_eval = int_in(&r, cJSON_GetArrayItem(row, 2), field, 0, done && d->n_eval > 0) == 1;
        er->eval.loss = num_from(&r, cJSON_GetArrayItem(row, 3), field, 0, false);
        er->eval.runtime_s = num_from(&r, cJSON_GetArrayItem(row, 4), field, 0, false);
        if (er->has_eval) read_confusion(&r, row, 5, L, d->n_eval, field, er->eval.confusion);
        else
            for (int k = 0; k < L * L; k++) int_in(&r, cJSON_GetArrayItem(row, 5 + k), field, 0, 0);
        if (!done && !failed(&r) && (!isnan(er->train_loss_logged) || !isnan(er->train_loss_mean)))
            fail(&r, field, "no losses for an epoch not yet finished (-1)", "a loss");
    }
    /* log_history so far: at most one train log per step and one eval per step or finished epoch. */
    const cJSON *hist = array_of(&r, cJSON_GetObjectItemCaseSensitive(root, "history"), "history", -1);
    int nh = hist ? cJSON_GetArraySize(hist) : 0;
    if (hist && nh > 2 * out->global_step + out->epoch) {
        char want[64], got[32];
        snprintf(want, sizeof want, "at most %lld entries", (long long)(2 * out->global_step + out->epoch));
        snprintf(got, sizeof got, "%d", nh);
        fail(&r, "history", want, got);
    }
    if (hist && !failed(&r) && nh > 0 && !(out->hist = calloc((size_t)nh, sizeof *out->hist)))
        r.st = lb_err(err, LB_ERR_NOMEM, "%s: out of memory", path);
    for (int i = 0; hist && !failed(&r) && i < nh; i++) {
        char field[32];
        snprintf(field, sizeof field, "history[%d]", i);
        const cJSON *h = array_of(&r, cJSON_GetArrayItem(hist, i), field, 11);
        if (!h) break;
        lb_resume_hist *e = &out->hist[i];
        e->kind = (int)int_in(&r, cJSON_GetArrayItem(h, 0), field, 0, 1);
        e->epoch = num_from(&r, cJSON_GetArrayItem(h, 1), field, 0, false);
        e->step = int_in(&r, cJSON_GetArrayItem(h, 2), field, 1, out->global_step);
        for (int k = 0; k < 8; k++) e->v[k] = num_from(&r, cJSON_GetArrayItem(h, 3 + k), field, -INFINITY, false);
        if (!failed(&r) && e->epoch > d->epochs) fail(&r, field, "an epoch within the run", "a later one");
        if (!failed(&r) && i > 0 && e->step < out->hist[i - 1].step)
            fail(&r, field, "steps in order", "an earlier step");
        out->nhist = i + 1;
    }
    cJSON_Delete(root);
    if (failed(&r)) lb_resume_free(out);
    return r.st;
}

/* ---- the checkpoint folder ------------------------------------------------------------- */

static void put_u64s(FILE *f, const char *key, const uint64_t *v, int n) {
    fprintf(f, "  \"%s\": [", key);
    for (int i = 0; i < n; i++) fprintf(f, "%s\"%llu\"", i ? ", " : "", (unsigned long long)v[i]);
    fputs("],\n", f);
}

/* "name": "sha256" for every regular file in dir but resume.json, in name order. */
static int cmp_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static lb_status put_file_digests(FILE *f, const char *dir, lb_error *err) {
    DIR *d = opendir(dir);
    if (!d) return lb_err(err, LB_ERR_IO, "%s: cannot list: %s", dir, strerror(errno));
    char *names[LB_RESUME_MAX_FILES];
    int n = 0;
    lb_status st = LB_OK;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' || !strcmp(de->d_name, "resume.json") || strstr(de->d_name, ".tmp")) continue;
        if (n == LB_RESUME_MAX_FILES) {
            st = lb_err(err, LB_ERR_INTERNAL, "%s: more than %d files", dir, n);
            break;
        }
        if (!(names[n] = strdup(de->d_name))) {
            st = lb_err(err, LB_ERR_NOMEM, "out of memory");
            break;
        }
        n++;
    }
    closedir(d);
    if (!st) qsort(names, (size_t)n, sizeof names[0], cmp_names);
    for (int i = 0; !st && i < n; i++) {
        char *p = lb_path_join(dir, names[i]), hex[65];
        st = lb_sha256_file(p, hex, err);
        free(p);
        if (!st) fprintf(f, "%s\"%s\": \"%s\"", i ? ", " : "", names[i], hex);
    }
    for (int i = 0; i < n; i++) free(names[i]);
    return st;
}

/* The resume state (optimizer.safetensors, best.safetensors, then resume.json listing every
 * file already in tmp) written into the folder being staged. */
static lb_status write_state(lb_model *m, const lb_train_state *s, const lb_adamw *opt, const lb_train_opts *o,
                             const char *tmp, lb_error *err) {
    lb_status st = LB_OK;
    const int L = lb_model_get_config(m)->num_labels;
    lb_param *params;
    int np = lb_model_params(m, &params);
    lb_st_out *outs = calloc((size_t)np * 2 + 1, sizeof *outs);
    char **names = calloc((size_t)np * 2 + 1, sizeof *names);
    char *p = NULL;
    if (!outs || !names) st = lb_err(err, LB_ERR_NOMEM, "resume checkpoint: out of memory");
    if (st) goto out;
    /* One id for the checkpoint's files (in the tensor files' metadata and in resume.json),
     * and resume.json lists every other file's digest: a folder mixed from two checkpoints is
     * refused on resume. */
    char ckpt_id[33];
    if ((st = lb_random_hex(ckpt_id, 16, err))) goto out;
    const char *const id_meta[] = {"format", "pt", "lorabert_checkpoint_id", ckpt_id, NULL};
    int64_t off = 0;
    for (int i = 0; i < np; i++) {
        for (int k = 0; k < 2; k++) {
            lb_st_out *t = &outs[2 * i + k];
            size_t len = strlen(params[i].name) + 16;
            names[2 * i + k] = malloc(len);
            if (!names[2 * i + k]) {
                st = lb_err(err, LB_ERR_NOMEM, "resume checkpoint: out of memory");
                goto out;
            }
            snprintf(names[2 * i + k], len, "%s.%s", k ? "exp_avg_sq" : "exp_avg", params[i].name);
            t->name = names[2 * i + k];
            t->dtype = LB_DT_F32;
            t->ndim = 1;
            t->shape[0] = params[i].numel;
            t->data = (k ? opt->v : opt->m) + off;
        }
        off += params[i].numel;
    }
    p = lb_path_join(tmp, "optimizer.safetensors");
    if ((st = lb_st_write(p, outs, (size_t)np * 2, id_meta, err))) goto out;
    free(p);
    p = NULL;
    if (s->best_params) {
        lb_st_out b = {.name = "best", .dtype = LB_DT_F32, .ndim = 1, .shape = {off}, .data = s->best_params};
        p = lb_path_join(tmp, "best.safetensors");
        if ((st = lb_st_write(p, &b, 1, id_meta, err))) goto out;
        free(p);
        p = NULL;
    }
    p = lb_path_join(tmp, "resume.json");
    lb_atomic_file af;
    if ((st = lb_atomic_open(&af, p, err))) goto out;
    FILE *f = af.fp;
    fprintf(f, "{\n  \"format\": \"%s\",\n  \"checkpoint_id\": \"%s\",\n  \"files\": {", LB_RESUME_FORMAT, ckpt_id);
    if ((st = put_file_digests(f, tmp, err))) {
        lb_atomic_abort(&af);
        goto out;
    }
    fprintf(f,
            "},\n  \"n_train\": %lld,\n  \"epochs\": %d,\n  \"batch_size\": %d,\n"
            "  \"seed\": \"%llu\",\n  \"total_steps\": %lld,\n  \"global_step\": %lld,\n  \"epoch\": %d,\n"
            "  \"step_in_epoch\": %lld,\n  \"order_valid\": %d,\n  \"step_adam\": %lld,\n",
            (long long)s->n_train, o->epochs, o->batch_size, (unsigned long long)o->seed, (long long)s->total_steps,
            (long long)s->global_step, s->epoch, (long long)s->step_in_epoch, s->order_valid, (long long)opt->step);
    put_u64s(f, "shuffle_rng", s->shuffle_rng.s, 4);
    put_u64s(f, "dropout_rng", s->dropout_rng.s, 4);
    fprintf(
        f,
        "  \"tr_loss\": %.9g,\n  \"total_loss\": %.17g,\n  \"last_logged\": %lld,\n  \"epoch_loss_sum\": %.17g,\n"
        "  \"epoch_loss_steps\": %lld,\n  \"last_logged_loss\": %.17g,\n  \"best_epoch\": %d,\n  \"best_step\": %lld,\n"
        "  \"best_metric\": %.17g,\n  \"total_flos\": %.17g,\n  \"train_time\": %.17g,\n  \"tokens\": %lld,\n"
        "  \"token_time\": %.17g,\n  \"precision\": \"%s\",\n  \"micro_batches_per_step\": %d,\n",
        (double)s->tr_loss, s->total_loss, (long long)s->last_logged, s->epoch_loss_sum, (long long)s->epoch_loss_steps,
        isnan(s->last_logged_loss) ? -1.0 : s->last_logged_loss, s->best_epoch, (long long)s->best_step, s->best_metric,
        s->total_flos, s->train_time, (long long)s->tokens, s->token_time, lb_precision_name(lb_model_get_precision(m)),
        lb_train_micro_per_step(o));
    fprintf(f, "  \"early_stopping_counter\": %d,\n  \"run_options\": ", s->es_counter);
    lb_pyjson_str(f, s->run_options);
    fputs(",\n", f);
    const lb_eval_result *be = &s->best_eval;
    fprintf(f, "  \"best_eval\": [%.17g, %.17g], \"best_confusion\": [", be->loss, be->runtime_s);
    for (int k = 0; k < L * L; k++) fprintf(f, "%s%lld", k ? ", " : "", (long long)be->metrics.confusion[k]);
    fputs("],\n  \"order\": [", f);
    for (int64_t i = 0; s->order_valid && i < s->n_train; i++) fprintf(f, "%s%d", i ? "," : "", s->order[i]);
    fputs("],\n  \"rows\": [", f);
    for (int e = 0; e < o->epochs; e++) {
        const lb_epoch_row *r = &s->rows[e];
        fprintf(f, "%s[%.17g, %.17g, %d, %.17g, %.17g", e ? ", " : "",
                isnan(r->train_loss_logged) ? -1.0 : r->train_loss_logged,
                isnan(r->train_loss_mean) ? -1.0 : r->train_loss_mean, r->has_eval, r->eval.loss, r->eval.runtime_s);
        for (int k = 0; k < L * L; k++) fprintf(f, ", %lld", (long long)r->eval.metrics.confusion[k]);
        fputs("]", f);
    }
    fputs("],\n  \"history\": [", f);
    for (int i = 0; i < s->nhist; i++) {
        const lb_hist_entry *h = &s->hist[i];
        fprintf(f, "%s[%d, %.17g, %lld", i ? ", " : "", h->kind, h->epoch, (long long)h->step);
        for (int k = 0; k < 8; k++) fprintf(f, ", %.17g", h->v[k]);
        fputs("]", f);
    }
    fputs("]\n}\n", f);
    if (ferror(f)) {
        lb_atomic_abort(&af);
        st = lb_err(err, LB_ERR_IO, "%s: write failed", p);
        goto out;
    }
    st = lb_atomic_commit(&af, err);
out:
    if (names)
        for (int i = 0; i < np * 2; i++) free(names[i]);
    free(names);
    free(outs);
    free(p);
    return st;
}

lb_status lb_resume_write(lb_model *m, const lb_train_state *s, const lb_adamw *opt, const lb_train_opts *o,
                          const char *work, lb_error *err) {
    char *dir = lb_path_join(work, "resume");
    lb_staging sg = {0};
    lb_status st = dir ? lb_staging_begin(&sg, dir, err) : lb_err(err, LB_ERR_NOMEM, "out of memory");
    if (!st) st = lb_run_save_adapter_dir(m, NULL, o, sg.dir, err);
    if (!st) st = write_state(m, s, opt, o, sg.dir, err);
    if (!st) st = lb_staging_commit(&sg, err); /* the complete folder replaces the old one at once */
    lb_staging_abort(&sg);                     /* nothing left to do after a commit */
    free(dir);
    return st;
}

lb_status lb_resume_save_checkpoint(lb_model *m, const lb_train_state *s, const lb_train_state *resume_at,
                                    const lb_adamw *opt, const lb_train_opts *o, const char *work, lb_error *err) {
    char name[64];
    snprintf(name, sizeof name, "checkpoint-%lld", (long long)s->global_step);
    char *dir = lb_path_join(work, name);
    lb_staging sg = {0};
    lb_status st = dir ? lb_staging_begin(&sg, dir, err) : lb_err(err, LB_ERR_NOMEM, "out of memory");
    if (!st) st = lb_run_save_adapter_dir(m, s, o, sg.dir, err); /* HF's files, trainer_state.json */
    if (!st && resume_at) st = write_state(m, resume_at, opt, o, sg.dir, err);
    if (!st) st = lb_staging_commit(&sg, err);
    lb_staging_abort(&sg);
    free(dir);
    return st;
}

lb_status lb_resume_no_state(const char *dir, lb_error *err) {
    return lb_err(err, LB_ERR_FORMAT,
                  "%s: holds no resume state (resume.json): a checkpoint written by an older lorabert without resume "
                  "state, at its run's last step, or of a pissa/olora run (whose checkpoints hold the converted "
                  "adapter; those resume from OUTPUT/resume only); start the run again, or train on from its adapter "
                  "with --init-adapter",
                  dir);
}

/* checkpoint-<digits> (at most 19), its step in *step. */
static bool checkpoint_step(const char *name, int64_t *step) {
    if (strncmp(name, "checkpoint-", 11)) return false;
    size_t n = strlen(name + 11);
    if (!n || n > 18) return false;
    for (size_t i = 0; i < n; i++)
        if (name[11 + i] < '0' || name[11 + i] > '9') return false;
    *step = strtoll(name + 11, NULL, 10);
    return true;
}

/* dir/name/resume.json exists. */
static bool has_state(const char *dir, const char *name) {
    char *d = lb_path_join(dir, name), *p = d ? lb_path_join(d, "resume.json") : NULL;
    bool yes = p && lb_file_exists(p);
    free(p);
    free(d);
    return yes;
}

/* resume/resume.json's global_step. */
static lb_status resume_step(const char *dir, int64_t *step, lb_error *err) {
    char *d = lb_path_join(dir, "resume"), *p = d ? lb_path_join(d, "resume.json") : NULL, *text = NULL;
    size_t len = 0;
    lb_status st = p ? lb_read_file_max(p, LB_MAX_JSON_BYTES, "JSON file", &text, &len, err)
                     : lb_err(err, LB_ERR_NOMEM, "out of memory");
    cJSON *root = st ? NULL : cJSON_ParseWithLength(text, len);
    const cJSON *g = root ? cJSON_GetObjectItemCaseSensitive(root, "global_step") : NULL;
    if (!st && !(cJSON_IsNumber(g) && g->valuedouble >= 0 && g->valuedouble < 9e18))
        st = lb_err(err, LB_ERR_FORMAT, "%s: no global_step (expected a number >= 0): not a resume checkpoint", p);
    if (!st) *step = (int64_t)g->valuedouble;
    cJSON_Delete(root);
    free(text);
    free(p);
    free(d);
    return st;
}

lb_status lb_resume_find(const char *path, char **out, lb_error *err) {
    *out = NULL;
    if (!lb_dir_exists(path)) {
        const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
        return lb_err(err, LB_ERR_IO, "%s: no such folder to resume from%s", path,
                      !strcmp(base, "resume")
                          ? " (a run killed by a signal it cannot catch, SIGKILL, an OOM kill or a power cut, writes "
                            "no resume/; --resume OUTPUT continues from its newest checkpoint-<step>/)"
                          : "");
    }
    char *p = lb_path_join(path, "resume.json");
    bool own = p && lb_file_exists(p);
    free(p);
    if (own) return (*out = strdup(path)) ? LB_OK : lb_err(err, LB_ERR_NOMEM, "out of memory");
    p = lb_path_join(path, "adapter_config.json");
    bool adapter = p && lb_file_exists(p);
    free(p);
    if (adapter) return lb_resume_no_state(path, err);
    /* a run's output folder: its newest checkpoint with state (get_last_checkpoint), or resume/
     * when that is further on */
    char **names = NULL;
    int n = 0;
    lb_status st = lb_dir_list(path, &names, &n, err);
    if (st) return st;
    int64_t best = -1, stateless = -1, rs = -1;
    for (int i = 0; !st && i < n; i++) {
        size_t len = strlen(names[i]);
        if (len < 2 || names[i][len - 1] != '/') continue;
        names[i][len - 1] = 0;
        int64_t step;
        if (checkpoint_step(names[i], &step)) {
            if (has_state(path, names[i])) best = step > best ? step : best;
            else stateless = step > stateless ? step : stateless;
        } else if (!strcmp(names[i], "resume") && has_state(path, "resume")) {
            st = resume_step(path, &rs, err);
        }
    }
    lb_dir_list_free(names);
    if (st) return st;
    char name[64];
    if (rs >= 0 && rs > best) snprintf(name, sizeof name, "resume");
    else if (best >= 0) snprintf(name, sizeof name, "checkpoint-%lld", (long long)best);
    else if (stateless >= 0) {
        snprintf(name, sizeof name, "checkpoint-%lld", (long long)stateless);
        char *d = lb_path_join(path, name);
        st = d ? lb_resume_no_state(d, err) : lb_err(err, LB_ERR_NOMEM, "out of memory");
        free(d);
        return st;
    } else
        return lb_err(err, LB_ERR_IO,
                      "%s: holds no checkpoint-<step>/ with resume state and no resume/: nothing to resume from", path);
    return (*out = lb_path_join(path, name)) ? LB_OK : lb_err(err, LB_ERR_NOMEM, "out of memory");
}

/* A file of the checkpoint: a tensor file is whole (a truncated one is refused naming its
 * size and where its data should end) and carries the checkpoint's id in its metadata; its
 * digest is the one resume.json lists. */
static lb_status check_ckpt_file(const lb_resume *r, const char *dir, const char *name, bool tensors, lb_error *err) {
    const char *want = lb_resume_file_sha256(r, name);
    char *p = lb_path_join(dir, name), hex[65];
    lb_status st = LB_OK;
    if (!p) return lb_err(err, LB_ERR_NOMEM, "out of memory");
    if (!want) {
        st = lb_err(err, LB_ERR_FORMAT, "%s/resume.json: lists no digest for %s; the folder is not one checkpoint", dir,
                    name);
    } else if (tensors) {
        lb_st_file *sf = lb_st_open(p, err);
        if (!sf) st = err ? err->code : LB_ERR_FORMAT;
        else {
            const char *id = lb_st_metadata(sf, "lorabert_checkpoint_id");
            if (!id || strcmp(id, r->checkpoint_id))
                st = lb_err(err, LB_ERR_FORMAT,
                            "%s: checkpoint id %s, resume.json says %s: the folder mixes files of "
                            "different checkpoints",
                            p, id ? id : "(none)", r->checkpoint_id);
            lb_st_close(sf);
        }
    }
    if (!st && want && !(st = lb_sha256_file(p, hex, err)) && strcmp(hex, want))
        st = lb_err(err, LB_ERR_FORMAT,
                    "%s: SHA-256 %.12s... differs from the %.12s... that resume.json (checkpoint %s) "
                    "lists: the folder mixes files of different checkpoints, or the file was changed",
                    p, hex, want, r->checkpoint_id);
    free(p);
    return st;
}

lb_status lb_resume_load(lb_model *m, lb_train_state *s, lb_adamw *opt, const lb_train_opts *o, int64_t n_eval,
                         lb_error *err) {
    const int L = lb_model_get_config(m)->num_labels;
    char *path = lb_path_join(o->resume_dir, "resume.json");
    char *text = NULL;
    size_t len;
    lb_st_file *sf = NULL;
    char *p2 = NULL;
    lb_resume r;
    memset(&r, 0, sizeof r);
    lb_status st = LB_OK;
    if (path && !lb_file_exists(path)) {
        st = lb_resume_no_state(o->resume_dir, err);
        goto out;
    }
    if ((st = lb_read_file_max(path, LB_MAX_JSON_BYTES, "JSON file", &text, &len, err))) goto out;
    lb_resume_dims d = {.n_train = s->n_train,
                        .n_eval = n_eval,
                        .epochs = o->epochs,
                        .batch_size = o->batch_size,
                        .seed = o->seed,
                        .steps_per_epoch = s->steps_per_epoch,
                        .total_steps = s->total_steps,
                        .num_labels = L,
                        .fixed_order = o->order_rows != NULL,
                        .micro_per_step = lb_train_micro_per_step(o),
                        .precision = lb_precision_name(lb_model_get_precision(m)),
                        .run_options = s->run_options};
    if ((st = lb_resume_parse(text, len, path, &d, &r, err))) goto out;
    /* Every file is the one this resume.json was written with. */
    static const char *const plain[] = {"adapter_model.safetensors", "adapter_config.json"};
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++)
        if ((st = check_ckpt_file(&r, o->resume_dir, plain[i], false, err))) goto out;
    for (int i = 0; i < r.nfiles; i++) {
        bool tens = !strcmp(r.files[i].name, "optimizer.safetensors") || !strcmp(r.files[i].name, "best.safetensors");
        if ((st = check_ckpt_file(&r, o->resume_dir, r.files[i].name, tens, err))) goto out;
    }
    if (!lb_resume_file_sha256(&r, "optimizer.safetensors") ||
        (r.best_epoch && !lb_resume_file_sha256(&r, "best.safetensors"))) {
        st = lb_err(err, LB_ERR_FORMAT, "%s: lists no optimizer.safetensors%s; the folder is not a whole checkpoint",
                    path, r.best_epoch ? " or best.safetensors" : "");
        goto out;
    }
    s->global_step = r.global_step;
    s->epoch = r.epoch;
    s->step_in_epoch = r.step_in_epoch;
    s->order_valid = r.order_valid && !o->order_rows;
    if (s->order_valid) memcpy(s->order, r.order, sizeof(int32_t) * (size_t)s->n_train);
    opt->step = r.step_adam;
    memcpy(s->shuffle_rng.s, r.shuffle_rng, sizeof r.shuffle_rng);
    memcpy(s->dropout_rng.s, r.dropout_rng, sizeof r.dropout_rng);
    s->tr_loss = (float)r.tr_loss;
    s->total_loss = r.total_loss;
    s->last_logged = r.last_logged;
    s->epoch_loss_sum = r.epoch_loss_sum;
    s->epoch_loss_steps = r.epoch_loss_steps;
    s->last_logged_loss = r.last_logged_loss;
    s->best_epoch = r.best_epoch;
    s->best_step = r.best_step;
    s->best_metric = r.best_metric;
    s->total_flos = r.total_flos;
    s->train_time = r.train_time;
    s->tokens = r.tokens;
    s->token_time = r.token_time;
    s->es_counter = r.es_counter;
    if (s->best_epoch) {
        s->best_eval.loss = r.best_eval.loss;
        s->best_eval.runtime_s = r.best_eval.runtime_s;
        lb_metrics_from_confusion(r.best_eval.confusion, L, 0.0, &s->best_eval.metrics, NULL);
    }
    for (int e = 0; e < o->epochs; e++) {
        lb_epoch_row *er = &s->rows[e];
        const lb_resume_row *rr = &r.rows[e];
        er->train_loss_logged = rr->train_loss_logged;
        er->train_loss_mean = rr->train_loss_mean;
        er->has_eval = rr->has_eval;
        lb_metrics_from_confusion(rr->eval.confusion, L, 0.0, &er->eval.metrics, NULL);
        er->eval.loss = rr->eval.loss;
        er->eval.runtime_s = rr->eval.runtime_s;
    }
    for (int i = 0; i < r.nhist; i++) {
        lb_hist_entry e = {.kind = r.hist[i].kind, .epoch = r.hist[i].epoch, .step = r.hist[i].step};
        memcpy(e.v, r.hist[i].v, sizeof e.v);
        if (lb_run_hist_push(s, e)) {
            st = lb_err(err, LB_ERR_NOMEM, "out of memory");
            goto out;
        }
    }
    /* optimizer moments and the best epoch's parameters */
    lb_param *params;
    int np = lb_model_params(m, &params);
    p2 = lb_path_join(o->resume_dir, "optimizer.safetensors");
    if (!(sf = lb_st_open(p2, err))) {
        st = err ? err->code : LB_ERR_IO;
        goto out;
    }
    int64_t off = 0;
    for (int i = 0; i < np; i++) {
        for (int k = 0; k < 2; k++) {
            char name[512];
            snprintf(name, sizeof name, "%s.%s", k ? "exp_avg_sq" : "exp_avg", params[i].name);
            const lb_st_tensor *t = lb_st_find(sf, name);
            if (!t || t->numel != params[i].numel || t->dtype != LB_DT_F32) {
                st = lb_err(err, LB_ERR_FORMAT, "%s: tensor \"%s\" missing or of the wrong size", p2, name);
                goto out;
            }
            const float *src = lb_st_f32(sf, t, err);
            if (!src) {
                st = err ? err->code : LB_ERR_FORMAT;
                goto out;
            }
            memcpy((k ? opt->v : opt->m) + off, src, sizeof(float) * (size_t)params[i].numel);
        }
        off += params[i].numel;
    }
    lb_st_close(sf);
    sf = NULL;
    if (s->best_epoch) {
        free(p2);
        p2 = lb_path_join(o->resume_dir, "best.safetensors");
        if (!(sf = lb_st_open(p2, err))) {
            st = err ? err->code : LB_ERR_IO;
            goto out;
        }
        const lb_st_tensor *t = lb_st_find(sf, "best");
        const float *src = t && t->numel == off && t->dtype == LB_DT_F32 ? lb_st_f32(sf, t, err) : NULL;
        if (!src || !s->best_params) {
            st = lb_err(err, LB_ERR_FORMAT, "%s: tensor \"best\" missing or of the wrong size", p2);
            goto out;
        }
        memcpy(s->best_params, src, sizeof(float) * (size_t)off);
    }
    st = LB_OK;
out:
    if (sf) lb_st_close(sf);
    lb_resume_free(&r);
    free(text);
    free(path);
    free(p2);
    return st;
}
