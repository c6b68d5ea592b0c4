/* The batcher of `lorabert serve`: one thread that owns the model and runs queued rows.
 *
 * Owns: the queue of tokenized rows (from every request and every adapter) and the one thread
 * that packs them into batches of at most max_batch_tokens real tokens and max_batch_requests
 * rows, waiting at most `window_us` after the oldest queued row for more, and runs each batch
 * through the forward callback (lb_model_predict_adapters: rows of different adapters in one batch
 * share the frozen GEMMs); then turns each row's logits into its scores and tells the row's job when all of its
 * rows are done.
 * Why: requests arrive one by one on the HTTP threads; the model is fastest on full batches and
 * a model handle is used by one thread at a time (include/lorabert.h, "Threads").
 * Guarantees: rows are taken first in, first out; a row is never split; every submitted row is
 * answered exactly once (results, or the batch's error), also during shutdown: sv_batcher_stop
 * returns after the queue is empty. Each job's on_done runs on the batcher thread, once, with no
 * batcher lock held. */
#ifndef LB_SERVE_BATCHER_H
#define LB_SERVE_BATCHER_H
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include "lorabert.h"
#include "serve/metrics.h"

/* How a job's logits become scores (raw_scores aside). */
typedef enum sv_score_mode { SV_SOFTMAX, SV_SIGMOID } sv_score_mode;

/* The forward pass of a batch: rows[0..B) (tokens as the tokenizer gave them), adapters[b] the
 * row's adapter (NULL: the base model); row b's logits to logits + b * ld (ld >= every row's
 * label count). Returns LB_OK or the error in *err. */
typedef lb_status (*sv_forward_fn)(void *ctx, const lb_tokens *rows, const lb_adapter *const *adapters, int B,
                                   float *logits, int ld, lb_error *err);

/* One HTTP request's rows. Filled by the request side; the batcher writes scores, status and
 * the timings, then calls on_done. */
typedef struct sv_job {
    int n_rows;
    int num_labels;            /* L of the job's model/adapter */
    const lb_adapter *adapter; /* NULL: the base model */
    sv_score_mode mode;
    bool raw_scores;
    double *scores; /* [n_rows * L] out */
    int rows_left;  /* batcher-private countdown */
    lb_status status;
    char error[LB_ERROR_MSG_MAX];
    double queue_s, inference_s; /* summed over the batches that held its rows (longest wait) */
    void (*on_done)(struct sv_job *job);
    void *user;
} sv_job;

typedef struct sv_row {
    int32_t *ids, *type_ids; /* owned by the row's creator; valid until its job is done */
    int32_t n;
    sv_job *job;
    int index;
    double t_queued;
    struct sv_row *next;
} sv_row;

typedef struct sv_batcher_options {
    long max_batch_tokens;   /* real tokens per batch */
    long max_batch_requests; /* rows per batch; 0: no limit but tokens */
    long window_us;          /* wait for more rows after the oldest arrived */
    int threads;             /* OpenMP threads of the forward pass (0: the default) */
} sv_batcher_options;

typedef struct sv_batcher {
    sv_forward_fn forward;
    void *forward_ctx;
    sv_batcher_options o;
    sv_metrics *metrics;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    sv_row *head, *tail;
    long queued_rows;
    bool stop, started;
    pthread_t thread;
} sv_batcher;

/* Starts the thread; forward(ctx, ...) runs on it only (the model it uses is the batcher's). */
lb_status sv_batcher_start(sv_batcher *b, sv_forward_fn forward, void *ctx, const sv_batcher_options *o,
                           sv_metrics *metrics, lb_error *err);
/* Queues rows[0..n) (linked by the batcher; the array's rows stay owned by the caller). */
void sv_batcher_submit(sv_batcher *b, sv_row *rows, int n);
/* Rows waiting now. */
long sv_batcher_queued(sv_batcher *b);
/* Answers what is queued, then joins the thread. */
void sv_batcher_stop(sv_batcher *b);

/* Monotonic seconds. */
double sv_now(void);

#endif
