/* Prometheus metrics of `lorabert serve` (GET /metrics).
 *
 * Owns: the counters, gauges and histograms the server records, under TEI's te_* names
 * (te_request_count, te_request_success, te_request_failure{err}, te_queue_size,
 * te_batch_next_size, te_batch_next_tokens, te_request_duration, te_request_tokenization_duration,
 * te_request_queue_duration, te_request_inference_duration, te_request_input_length,
 * te_batch_inference_duration, te_batch_inference_size) plus per-adapter counts
 * (lorabert_adapter_requests{adapter}, lorabert_adapter_failures{adapter}) and the adapter
 * registry's size (lorabert_adapters_loaded), rendered in the Prometheus text format 0.0.4.
 * Why: one place that knows the names, so docs/serving.md and the tests can rely on them.
 * Guarantees: every function is thread-safe (one mutex); durations are in seconds; rendering
 * never fails except for out of memory (the buffer's oom flag). */
#ifndef LB_SERVE_METRICS_H
#define LB_SERVE_METRICS_H
#include <pthread.h>
#include <stdint.h>
#include "serve/request.h"

#define SV_HIST_BUCKETS 14

typedef struct sv_hist {
    const double *bounds; /* [SV_HIST_BUCKETS] upper bounds, ascending */
    uint64_t counts[SV_HIST_BUCKETS];
    uint64_t n;
    double sum;
} sv_hist;

typedef struct sv_adapter_count {
    char *name;
    uint64_t requests, failures;
} sv_adapter_count;

enum {
    SV_H_DURATION,
    SV_H_TOKENIZATION,
    SV_H_QUEUE,
    SV_H_INFERENCE,
    SV_H_INPUT_LENGTH,
    SV_H_BATCH_DURATION,
    SV_H_BATCH_SIZE,
    SV_H_BATCH_TOKENS,
    SV_H_COUNT
};

#define SV_FAIL_KINDS 8

typedef struct sv_metrics {
    pthread_mutex_t mu;
    uint64_t requests, successes;
    uint64_t failures[SV_FAIL_KINDS]; /* by error_type, see metrics.c */
    int64_t queue_size;               /* rows waiting for the batcher */
    int64_t batch_next_size, batch_next_tokens;
    int64_t adapters_loaded;
    sv_hist hist[SV_H_COUNT];
    sv_adapter_count *adapters;
    int n_adapters, cap_adapters;
} sv_metrics;

void sv_metrics_init(sv_metrics *m);
void sv_metrics_free(sv_metrics *m);
/* A request reached a route that counts (POST /predict). */
void sv_metrics_request(sv_metrics *m);
/* Its outcome: error_type NULL for success; adapter "" for the base model, a loaded adapter's
 * name, or NULL (an unknown name: not counted per adapter, so the label set stays bounded). */
void sv_metrics_outcome(sv_metrics *m, const char *adapter, const char *error_type);
/* Adds a sample to histogram h (SV_H_*). */
void sv_metrics_observe(sv_metrics *m, int h, double value);
void sv_metrics_queue_add(sv_metrics *m, int64_t delta);
void sv_metrics_batch_next(sv_metrics *m, int64_t size, int64_t tokens);
void sv_metrics_set_adapters_loaded(sv_metrics *m, int64_t n);
/* Appends the Prometheus text exposition to b. */
void sv_metrics_render(sv_metrics *m, sv_buf *b);

#endif
