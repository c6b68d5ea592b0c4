/* Prometheus metrics; see metrics.h. */
#include "serve/metrics.h"
#include <stdlib.h>
#include <string.h>

static const double time_bounds[SV_HIST_BUCKETS] = {0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                    0.05,   0.1,    0.25,  0.5,    1,     2.5,  10};
static const double length_bounds[SV_HIST_BUCKETS] = {8,    16,   32,   64,   128,   256,   512,
                                                      1024, 2048, 4096, 8192, 16384, 32768, 65536};
static const double size_bounds[SV_HIST_BUCKETS] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192};

static const char *const fail_names[SV_FAIL_KINDS] = {"validation", "tokenizer",    "overloaded", "unhealthy",
                                                      "backend",    "unauthorized", "not_found",  "other"};
static const char *const fail_types[SV_FAIL_KINDS] = {
    SV_ERR_VALIDATION, SV_ERR_TOKENIZER, SV_ERR_OVERLOADED, SV_ERR_UNHEALTHY,
    SV_ERR_BACKEND,    SV_ERR_AUTH,      SV_ERR_NOT_FOUND,  ""};

static const struct {
    const char *name, *help;
} hist_info[SV_H_COUNT] = {
    {"te_request_duration", "Time from the request's arrival to its answer (seconds)"},
    {"te_request_tokenization_duration", "Tokenization time per request (seconds)"},
    {"te_request_queue_duration", "Time a request's rows waited for a batch (seconds)"},
    {"te_request_inference_duration", "Inference time of the batches that held a request's rows (seconds)"},
    {"te_request_input_length", "Tokens per request (all its inputs)"},
    {"te_batch_inference_duration", "Time of one batch's forward pass (seconds)"},
    {"te_batch_inference_size", "Rows per batch"},
    {"te_batch_inference_tokens", "Real tokens per batch"},
};

void sv_metrics_init(sv_metrics *m) {
    memset(m, 0, sizeof *m);
    pthread_mutex_init(&m->mu, NULL);
    for (int h = 0; h < SV_H_COUNT; h++)
        m->hist[h].bounds = h == SV_H_INPUT_LENGTH || h == SV_H_BATCH_TOKENS ? length_bounds
                            : h == SV_H_BATCH_SIZE                           ? size_bounds
                                                                             : time_bounds;
}

void sv_metrics_free(sv_metrics *m) {
    for (int i = 0; i < m->n_adapters; i++) free(m->adapters[i].name);
    free(m->adapters);
    pthread_mutex_destroy(&m->mu);
}

void sv_metrics_request(sv_metrics *m) {
    pthread_mutex_lock(&m->mu);
    m->requests++;
    pthread_mutex_unlock(&m->mu);
}

static sv_adapter_count *adapter_slot(sv_metrics *m, const char *name) {
    for (int i = 0; i < m->n_adapters; i++)
        if (!strcmp(m->adapters[i].name, name)) return &m->adapters[i];
    if (m->n_adapters == m->cap_adapters) {
        int cap = m->cap_adapters ? 2 * m->cap_adapters : 8;
        sv_adapter_count *a = realloc(m->adapters, (size_t)cap * sizeof *a);
        if (!a) return NULL;
        m->adapters = a;
        m->cap_adapters = cap;
    }
    sv_adapter_count *s = &m->adapters[m->n_adapters];
    if (!(s->name = strdup(name))) return NULL;
    s->requests = s->failures = 0;
    m->n_adapters++;
    return s;
}

void sv_metrics_outcome(sv_metrics *m, const char *adapter, const char *error_type) {
    pthread_mutex_lock(&m->mu);
    if (!error_type) m->successes++;
    else {
        int k = SV_FAIL_KINDS - 1;
        for (int i = 0; i < SV_FAIL_KINDS - 1; i++)
            if (!strcmp(error_type, fail_types[i])) k = i;
        m->failures[k]++;
    }
    sv_adapter_count *a = adapter ? adapter_slot(m, adapter) : NULL;
    if (a) {
        a->requests++;
        if (error_type) a->failures++;
    }
    pthread_mutex_unlock(&m->mu);
}

void sv_metrics_observe(sv_metrics *m, int h, double v) {
    if (h < 0 || h >= SV_H_COUNT) return;
    pthread_mutex_lock(&m->mu);
    sv_hist *x = &m->hist[h];
    for (int i = 0; i < SV_HIST_BUCKETS; i++)
        if (v <= x->bounds[i]) x->counts[i]++;
    x->n++;
    x->sum += v;
    pthread_mutex_unlock(&m->mu);
}

void sv_metrics_queue_add(sv_metrics *m, int64_t d) {
    pthread_mutex_lock(&m->mu);
    m->queue_size += d;
    pthread_mutex_unlock(&m->mu);
}

void sv_metrics_batch_next(sv_metrics *m, int64_t size, int64_t tokens) {
    pthread_mutex_lock(&m->mu);
    m->batch_next_size = size;
    m->batch_next_tokens = tokens;
    pthread_mutex_unlock(&m->mu);
}

void sv_metrics_set_adapters_loaded(sv_metrics *m, int64_t n) {
    pthread_mutex_lock(&m->mu);
    m->adapters_loaded = n;
    pthread_mutex_unlock(&m->mu);
}

/* A label value: backslash, quote and newline escaped as the text format requires. */
static void put_label_value(sv_buf *b, const char *s) {
    for (; *s; s++) {
        if (*s == '\\') sv_buf_puts(b, "\\\\");
        else if (*s == '"') sv_buf_puts(b, "\\\"");
        else if (*s == '\n') sv_buf_puts(b, "\\n");
        else sv_buf_put(b, s, 1);
    }
}

static void header(sv_buf *b, const char *name, const char *type, const char *help) {
    sv_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void sv_metrics_render(sv_metrics *m, sv_buf *b) {
    pthread_mutex_lock(&m->mu);
    header(b, "te_request_count", "counter", "Requests received by POST /predict");
    sv_buf_printf(b, "te_request_count{method=\"predict\"} %llu\n", (unsigned long long)m->requests);
    header(b, "te_request_success", "counter", "Requests answered with 200");
    sv_buf_printf(b, "te_request_success{method=\"predict\"} %llu\n", (unsigned long long)m->successes);
    header(b, "te_request_failure", "counter", "Requests answered with an error, by error kind");
    for (int i = 0; i < SV_FAIL_KINDS; i++)
        sv_buf_printf(b, "te_request_failure{err=\"%s\"} %llu\n", fail_names[i], (unsigned long long)m->failures[i]);
    header(b, "te_queue_size", "gauge", "Tokenized rows waiting for the batcher");
    sv_buf_printf(b, "te_queue_size %lld\n", (long long)m->queue_size);
    header(b, "te_batch_next_size", "gauge", "Rows in the batch being run (or last run)");
    sv_buf_printf(b, "te_batch_next_size %lld\n", (long long)m->batch_next_size);
    header(b, "te_batch_next_tokens", "gauge", "Real tokens in the batch being run (or last run)");
    sv_buf_printf(b, "te_batch_next_tokens %lld\n", (long long)m->batch_next_tokens);
    for (int h = 0; h < SV_H_COUNT; h++) {
        const sv_hist *x = &m->hist[h];
        const char *name = hist_info[h].name;
        header(b, name, "histogram", hist_info[h].help);
        for (int i = 0; i < SV_HIST_BUCKETS; i++)
            sv_buf_printf(b, "%s_bucket{le=\"%g\"} %llu\n", name, x->bounds[i], (unsigned long long)x->counts[i]);
        sv_buf_printf(b, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.9g\n%s_count %llu\n", name, (unsigned long long)x->n,
                      name, x->sum, name, (unsigned long long)x->n);
    }
    header(b, "lorabert_adapters_loaded", "gauge", "Adapters loaded in memory");
    sv_buf_printf(b, "lorabert_adapters_loaded %lld\n", (long long)m->adapters_loaded);
    header(b, "lorabert_adapter_requests", "counter", "POST /predict requests by adapter (\"\": the base model)");
    for (int i = 0; i < m->n_adapters; i++) {
        sv_buf_puts(b, "lorabert_adapter_requests{adapter=\"");
        put_label_value(b, m->adapters[i].name);
        sv_buf_printf(b, "\"} %llu\n", (unsigned long long)m->adapters[i].requests);
    }
    header(b, "lorabert_adapter_failures", "counter", "POST /predict errors by adapter (\"\": the base model)");
    for (int i = 0; i < m->n_adapters; i++) {
        sv_buf_puts(b, "lorabert_adapter_failures{adapter=\"");
        put_label_value(b, m->adapters[i].name);
        sv_buf_printf(b, "\"} %llu\n", (unsigned long long)m->adapters[i].failures);
    }
    pthread_mutex_unlock(&m->mu);
}
