/* resume.json: parse and validate against the run; see resume.h. */
#include "train/resume.h"
#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct rd {
    const cJSON *root;
    const char *path;
    lb_error *err;
    lb_status st;   /* first failure; later checks are skipped */
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
    fail(r, field, none_ok ? "a finite number >= 0, or -1 for none" : lo == -INFINITY ? "a finite number" : "a finite number >= 0", got);
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
        fail(r, key, "32 lowercase hex digits (a checkpoint written before checkpoints carried an id cannot be resumed: start the run again)", got);
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
        if (out->nfiles == LB_RESUME_MAX_FILES) { fail(r, "files", "at most 32 files", "more"); return; }
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
        if (lb_resume_file_sha256(out, name)) { fail(r, "files", "each file once", name); return; }
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
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(root, "n_train"), *ep = cJSON_GetObjectItemCaseSensitive(root, "epochs"),
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
                          "batch order differ); resume with the same options", path);
    }
    if (!failed(&r)) {
        /* Same arithmetic as before the interruption (absent: written before bf16 mode, so fp32). */
        const cJSON *prec = cJSON_GetObjectItemCaseSensitive(root, "precision");
        const char *was = cJSON_IsString(prec) ? prec->valuestring : "fp32";
        if (prec && !cJSON_IsString(prec)) fail(&r, "precision", "\"fp32\" or \"bf16\"", "another value");
        else if (strcmp(was, d->precision))
            r.st = lb_err(err, LB_ERR_USAGE, "%s: the run was trained with --precision %.16s, resuming with %s; "
                          "resume with --precision %.16s", path, was, d->precision, was);
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
    out->best_epoch = (int)key_int(&r, "best_epoch", 0, d->n_eval > 0 ? out->epoch : 0);
    out->best_step = key_int(&r, "best_step", out->best_epoch * d->steps_per_epoch, out->best_epoch * d->steps_per_epoch);
    out->best_metric = out->best_epoch ? key_num(&r, "best_metric", -INFINITY, false) : 0;
    out->total_flos = key_num(&r, "total_flos", 0, false);
    out->train_time = key_num(&r, "train_time", 0, false);
    out->tokens = key_int(&r, "tokens", 0, INT64_C(1) << 52);
    out->token_time = key_num(&r, "token_time", 0, false);
    const cJSON *be = array_of(&r, cJSON_GetObjectItemCaseSensitive(root, "best_eval"), "best_eval", 2);
    if (be && out->best_epoch) {
        out->best_eval.loss = num_from(&r, cJSON_GetArrayItem(be, 0), "best_eval", 0, false);
        out->best_eval.runtime_s = num_from(&r, cJSON_GetArrayItem(be, 1), "best_eval", 0, false);
        const cJSON *bc = array_of(&r, cJSON_GetObjectItemCaseSensitive(root, "best_confusion"), "best_confusion", L * L);
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
        er->has_eval = int_in(&r, cJSON_GetArrayItem(row, 2), field, done && d->n_eval > 0, done && d->n_eval > 0) == 1;
        er->eval.loss = num_from(&r, cJSON_GetArrayItem(row, 3), field, 0, false);
        er->eval.runtime_s = num_from(&r, cJSON_GetArrayItem(row, 4), field, 0, false);
        if (er->has_eval) read_confusion(&r, row, 5, L, d->n_eval, field, er->eval.confusion);
        else
            for (int k = 0; k < L * L; k++) int_in(&r, cJSON_GetArrayItem(row, 5 + k), field, 0, 0);
        if (!done && !failed(&r) && (!isnan(er->train_loss_logged) || !isnan(er->train_loss_mean)))
            fail(&r, field, "no losses for an epoch not yet finished (-1)", "a loss");
    }
    /* log_history so far: at most one train log per step and one eval per finished epoch. */
    const cJSON *hist = array_of(&r, cJSON_GetObjectItemCaseSensitive(root, "history"), "history", -1);
    int nh = hist ? cJSON_GetArraySize(hist) : 0;
    if (hist && nh > out->global_step + out->epoch) {
        char want[64], got[32];
        snprintf(want, sizeof want, "at most %lld entries", (long long)(out->global_step + out->epoch));
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
        if (!failed(&r) && i > 0 && e->step < out->hist[i - 1].step) fail(&r, field, "steps in order", "an earlier step");
        out->nhist = i + 1;
    }
    cJSON_Delete(root);
    if (failed(&r)) lb_resume_free(out);
    return r.st;
}
