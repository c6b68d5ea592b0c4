/* The adapters of `lorabert serve`: names, loading, reference counts and LRU unloading.
 *
 * Owns: the table name -> loaded adapter (its handle, labels, scoring rule and tokenizer),
 * filled at start (--adapter NAME=DIR), at run time (POST /adapters) and on demand from
 * --adapters-dir (a subfolder NAME holding adapter_config.json); at most max_adapters entries,
 * evicting the least recently used on-demand adapter that no queued row holds.
 * Why: the HTTP side names adapters; the batcher needs handles that stay valid while rows use
 * them; loading must not stall requests for other adapters.
 * Guarantees: thread-safe. Loading runs on the calling thread (the server's loader thread) with
 * no registry lock held, so requests for loaded adapters go on meanwhile; callers asking for an adapter being loaded wait
 * for that one load (it happens once). An acquired adapter is never freed before its release
 * (a DELETE or an eviction only unlists it; the last release closes it). The library's reason
 * for refusing an adapter (base or shapes that do not match) is passed on as a 422. */
#ifndef LB_SERVE_REGISTRY_H
#define LB_SERVE_REGISTRY_H
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include "lorabert.h"
#include "serve/batcher.h"
#include "serve/request.h"

/* What opening an adapter gives (filled by the loader). */
typedef struct sv_adapter_desc {
    void *handle;            /* for the forward pass */
    const lb_tokenizer *tok; /* its own tokenizer, or NULL: the base model's */
    lb_tokenizer *owned_tok; /* closed with the adapter (== tok when it has its own) */
    int num_labels;
    const char *const *labels; /* [num_labels], owned by handle */
    sv_score_mode mode;
    int max_length;     /* tokens per input after truncation */
    const char *source; /* resolved folder, owned by handle */
} sv_adapter_desc;

/* How adapters are opened and closed (the library in the server; fakes in the unit tests). */
typedef struct sv_loader {
    lb_status (*open)(void *ctx, const char *path, sv_adapter_desc *out, lb_error *err);
    void (*close)(void *ctx, sv_adapter_desc *d);
    void *ctx;
} sv_loader;

typedef struct sv_adapter {
    char *name, *path;
    sv_adapter_desc d;
    int refs;
    bool pinned;  /* from --adapter or POST /adapters: never evicted */
    bool loading; /* placeholder while its load runs */
    bool listed;  /* false once deleted or evicted (freed at the last release) */
    uint64_t last_used;
} sv_adapter;

typedef struct sv_registry {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    sv_loader loader;
    char *adapters_dir; /* NULL: no on-demand loading */
    int max_adapters;   /* 0: no limit */
    sv_metrics *metrics;
    sv_adapter **v;
    int n, cap;
    uint64_t tick;
    uint64_t evictions;
} sv_registry;

void sv_registry_init(sv_registry *r, const sv_loader *loader, const char *adapters_dir, int max_adapters,
                      sv_metrics *metrics);
/* Unlists and closes everything (no adapter may be held). */
void sv_registry_free(sv_registry *r);
/* Loads path as adapter name (pinned). 0, or 400 (bad name), 409 (name taken), 422 (the library
 * refused it: its message), 429 (max_adapters reached and every adapter is pinned or in use). */
int sv_registry_add(sv_registry *r, const char *name, const char *path, sv_status *st);
/* The adapter for a request, with a reference (release it): a listed one, or one loaded now
 * from adapters_dir. 0, or 400 unknown adapter, 422 the library refused it, 429 as above. */
int sv_registry_acquire(sv_registry *r, const char *name, sv_adapter **out, sv_status *st);
void sv_registry_release(sv_registry *r, sv_adapter *a);
/* Whether name is loaded now (so sv_registry_acquire will not load or wait). */
bool sv_registry_loaded(sv_registry *r, const char *name);
/* Unlists name (it is closed once no row holds it). 0 or 404. */
int sv_registry_remove(sv_registry *r, const char *name, sv_status *st);
/* {"adapters":[{"name","path","num_labels","labels","pinned","in_use"}...],"adapters_dir","max_adapters"} */
void sv_registry_json(sv_registry *r, sv_buf *b);
/* Listed (loaded) adapters now. */
int sv_registry_count(sv_registry *r);

#endif
