/* Adapter table with on-demand loading and LRU unloading; see registry.h. */
#include "serve/registry.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void sv_registry_init(sv_registry *r, const sv_loader *loader, const char *adapters_dir, int max_adapters,
                      sv_metrics *metrics) {
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    r->loader = *loader;
    r->adapters_dir = adapters_dir ? strdup(adapters_dir) : NULL;
    r->max_adapters = max_adapters;
    r->metrics = metrics;
}

static void adapter_free(sv_registry *r, sv_adapter *a) {
    if (!a) return;
    if (!a->loading && a->d.handle) r->loader.close(r->loader.ctx, &a->d);
    free(a->name);
    free(a->path);
    free(a);
}

void sv_registry_free(sv_registry *r) {
    for (int i = 0; i < r->n; i++) adapter_free(r, r->v[i]);
    free(r->v);
    free(r->adapters_dir);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    memset(r, 0, sizeof *r);
}

static int find(const sv_registry *r, const char *name) {
    for (int i = 0; i < r->n; i++)
        if (!strcmp(r->v[i]->name, name)) return i;
    return -1;
}

/* Takes entry i off the list (mu held); returns it when nobody holds it (to free), else NULL. */
static sv_adapter *unlist(sv_registry *r, int i) {
    sv_adapter *a = r->v[i];
    memmove(r->v + i, r->v + i + 1, (size_t)(r->n - i - 1) * sizeof *r->v);
    r->n--;
    a->listed = false;
    if (r->metrics) sv_metrics_set_adapters_loaded(r->metrics, r->n);
    return a->refs == 0 ? a : NULL;
}

/* Room for one more entry (mu held): evicts the least recently used on-demand adapter no row
 * holds. *victim gets what to free after unlocking. 0 or 429. */
static int make_room(sv_registry *r, sv_adapter **victim, sv_status *st) {
    *victim = NULL;
    if (r->max_adapters <= 0 || r->n < r->max_adapters) return 0;
    int best = -1;
    for (int i = 0; i < r->n; i++) {
        const sv_adapter *a = r->v[i];
        if (a->pinned || a->loading || a->refs > 0) continue;
        if (best < 0 || a->last_used < r->v[best]->last_used) best = i;
    }
    if (best < 0)
        return sv_fail(st, 429, SV_ERR_OVERLOADED,
                       "all %d adapter slots (--max-adapters) hold adapters that are pinned or in use",
                       r->max_adapters);
    *victim = unlist(r, best);
    r->evictions++;
    return 0;
}

/* Inserts a loading placeholder (mu held). */
static sv_adapter *placeholder(sv_registry *r, const char *name, const char *path, bool pinned, sv_status *st) {
    if (r->n == r->cap) {
        int cap = r->cap ? 2 * r->cap : 16;
        sv_adapter **v = realloc(r->v, (size_t)cap * sizeof *v);
        if (!v) {
            sv_fail(st, 500, SV_ERR_BACKEND, "out of memory");
            return NULL;
        }
        r->v = v;
        r->cap = cap;
    }
    sv_adapter *a = calloc(1, sizeof *a);
    if (!a || !(a->name = strdup(name)) || !(a->path = strdup(path))) {
        if (a) free(a->name);
        free(a);
        sv_fail(st, 500, SV_ERR_BACKEND, "out of memory");
        return NULL;
    }
    a->pinned = pinned;
    a->loading = true;
    a->listed = true;
    r->v[r->n++] = a;
    return a;
}

/* Runs the load of placeholder a (mu held on entry and exit, released during the load). On
 * failure a is unlisted and freed. */
static int load(sv_registry *r, sv_adapter *a, sv_status *st) {
    pthread_mutex_unlock(&r->mu);
    lb_error err = {0};
    sv_adapter_desc d = {0};
    lb_status rc = r->loader.open(r->loader.ctx, a->path, &d, &err);
    pthread_mutex_lock(&r->mu);
    int i = find(r, a->name);
    if (rc) {
        if (i >= 0 && r->v[i] == a) unlist(r, i);
        free(a->name);
        free(a->path);
        free(a);
        pthread_cond_broadcast(&r->cv);
        int http = sv_fail(st, rc == LB_ERR_NOMEM ? 500 : 422, rc == LB_ERR_NOMEM ? SV_ERR_BACKEND : SV_ERR_VALIDATION,
                           "adapter: %s", err.msg[0] ? err.msg : lb_status_name(rc));
        st->code = rc; /* `serve --adapter` exits with it, as `predict --adapter` would */
        return http;
    }
    a->d = d;
    a->loading = false;
    a->last_used = ++r->tick;
    if (r->metrics) sv_metrics_set_adapters_loaded(r->metrics, r->n);
    pthread_cond_broadcast(&r->cv);
    return 0;
}

int sv_registry_add(sv_registry *r, const char *name, const char *path, sv_status *st) {
    if (!sv_adapter_name_ok(name))
        return sv_fail(st, 400, SV_ERR_VALIDATION, "adapter name '%.128s' is not valid (1-128 of A-Z a-z 0-9 . _ -)",
                       name);
    pthread_mutex_lock(&r->mu);
    sv_adapter *victim = NULL, *a = NULL;
    int rc = 0;
    if (find(r, name) >= 0) rc = sv_fail(st, 409, SV_ERR_VALIDATION, "adapter '%s' exists (DELETE it first)", name);
    else if (!(rc = make_room(r, &victim, st)) && !(a = placeholder(r, name, path, true, st))) rc = st->http;
    if (!rc) {
        pthread_mutex_unlock(&r->mu);
        adapter_free(r, victim);
        victim = NULL;
        pthread_mutex_lock(&r->mu);
        rc = load(r, a, st);
    }
    pthread_mutex_unlock(&r->mu);
    adapter_free(r, victim);
    return rc;
}

int sv_registry_acquire(sv_registry *r, const char *name, sv_adapter **out, sv_status *st) {
    *out = NULL;
    pthread_mutex_lock(&r->mu);
    int rc = 0;
    sv_adapter *victim = NULL;
    for (;;) {
        int i = find(r, name);
        if (i >= 0 && r->v[i]->loading) {
            pthread_cond_wait(&r->cv, &r->mu);
            continue;
        }
        if (i >= 0) {
            *out = r->v[i];
            (*out)->refs++;
            (*out)->last_used = ++r->tick;
            pthread_mutex_unlock(&r->mu);
            return 0;
        }
        break;
    }
    char path[4096];
    int k = r->adapters_dir && sv_adapter_name_ok(name)
                ? snprintf(path, sizeof path, "%s/%s/adapter_config.json", r->adapters_dir, name)
                : -1;
    if (k < 0 || (size_t)k >= sizeof path || access(path, R_OK) != 0) {
        pthread_mutex_unlock(&r->mu);
        return sv_fail(st, 400, SV_ERR_VALIDATION, "unknown adapter '%.128s' (see GET /adapters)", name);
    }
    path[k - (int)strlen("/adapter_config.json")] = '\0';
    sv_adapter *a = NULL;
    if (!(rc = make_room(r, &victim, st)) && !(a = placeholder(r, name, path, false, st))) rc = st->http;
    if (!rc) {
        pthread_mutex_unlock(&r->mu);
        adapter_free(r, victim);
        victim = NULL;
        pthread_mutex_lock(&r->mu);
        if (!(rc = load(r, a, st))) {
            a->refs++;
            *out = a;
        }
    }
    pthread_mutex_unlock(&r->mu);
    adapter_free(r, victim);
    return rc;
}

void sv_registry_release(sv_registry *r, sv_adapter *a) {
    if (!a) return;
    pthread_mutex_lock(&r->mu);
    bool free_it = --a->refs == 0 && !a->listed;
    pthread_mutex_unlock(&r->mu);
    if (free_it) adapter_free(r, a);
}

bool sv_registry_loaded(sv_registry *r, const char *name) {
    pthread_mutex_lock(&r->mu);
    int i = find(r, name);
    bool ok = i >= 0 && !r->v[i]->loading;
    pthread_mutex_unlock(&r->mu);
    return ok;
}

int sv_registry_remove(sv_registry *r, const char *name, sv_status *st) {
    pthread_mutex_lock(&r->mu);
    int i = find(r, name);
    sv_adapter *victim = NULL;
    int rc = 0;
    if (i < 0) rc = sv_fail(st, 404, SV_ERR_NOT_FOUND, "no adapter '%.128s' is loaded", name);
    else if (r->v[i]->loading) rc = sv_fail(st, 409, SV_ERR_VALIDATION, "adapter '%.128s' is being loaded", name);
    else victim = unlist(r, i);
    pthread_mutex_unlock(&r->mu);
    adapter_free(r, victim);
    return rc;
}

int sv_registry_count(sv_registry *r) {
    pthread_mutex_lock(&r->mu);
    int n = r->n;
    pthread_mutex_unlock(&r->mu);
    return n;
}

void sv_registry_json(sv_registry *r, sv_buf *b) {
    pthread_mutex_lock(&r->mu);
    sv_buf_puts(b, "{\"adapters\":[");
    int shown = 0;
    for (int i = 0; i < r->n; i++) {
        const sv_adapter *a = r->v[i];
        if (a->loading) continue;
        if (shown++) sv_buf_puts(b, ",");
        sv_buf_puts(b, "{\"name\":");
        sv_buf_json_string(b, a->name);
        sv_buf_puts(b, ",\"path\":");
        sv_buf_json_string(b, a->path);
        sv_buf_printf(b, ",\"num_labels\":%d,\"labels\":[", a->d.num_labels);
        for (int k = 0; k < a->d.num_labels; k++) {
            if (k) sv_buf_puts(b, ",");
            sv_buf_json_string(b, a->d.labels[k]);
        }
        sv_buf_printf(b, "],\"problem_type\":\"%s\",\"pinned\":%s,\"in_use\":%d}",
                      a->d.mode == SV_SIGMOID ? "multi_label_classification" : "single_label_classification",
                      a->pinned ? "true" : "false", a->refs);
    }
    sv_buf_puts(b, "],\"adapters_dir\":");
    if (r->adapters_dir) sv_buf_json_string(b, r->adapters_dir);
    else sv_buf_puts(b, "null");
    sv_buf_printf(b, ",\"max_adapters\":%d,\"evictions\":%llu}", r->max_adapters, (unsigned long long)r->evictions);
    pthread_mutex_unlock(&r->mu);
}
