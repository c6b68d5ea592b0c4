/* The batcher thread; see batcher.h. */
#include "serve/batcher.h"
#include <errno.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

double sv_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Takes one batch off the queue (mu held): FIFO, at least one row, within the limits. */
static sv_row *take_batch(sv_batcher *b, int *B, long *tokens) {
    sv_row *first = b->head, *last = NULL;
    long tok = 0;
    int n = 0;
    for (sv_row *r = b->head; r; r = r->next) {
        if (n > 0 &&
            (tok + r->n > b->o.max_batch_tokens || (b->o.max_batch_requests > 0 && n >= b->o.max_batch_requests)))
            break;
        tok += r->n;
        n++;
        last = r;
    }
    b->head = last->next;
    if (!b->head) b->tail = NULL;
    last->next = NULL;
    b->queued_rows -= n;
    *B = n;
    *tokens = tok;
    return first;
}

/* Whether the queue holds a full batch already (mu held). */
static bool queue_full(const sv_batcher *b) {
    long tok = 0, n = 0;
    for (const sv_row *r = b->head; r; r = r->next) {
        tok += r->n;
        n++;
        if (tok >= b->o.max_batch_tokens || (b->o.max_batch_requests > 0 && n >= b->o.max_batch_requests)) return true;
    }
    return false;
}

static void run_batch(sv_batcher *b, sv_row *rows, int B, long tokens) {
    double t0 = sv_now();
    lb_tokens *toks = malloc((size_t)B * sizeof *toks);
    const lb_adapter **adapters = malloc((size_t)B * sizeof *adapters);
    sv_row **list = malloc((size_t)B * sizeof *list);
    int ld = 1, i = 0;
    for (sv_row *r = rows; r; r = r->next, i++) {
        if (list) list[i] = r;
        if (r->job->num_labels > ld) ld = r->job->num_labels;
    }
    float *logits = malloc((size_t)B * (size_t)ld * sizeof *logits);
    lb_error err = {0};
    lb_status st = LB_OK;
    if (!toks || !adapters || !list || !logits) {
        st = LB_ERR_NOMEM;
        snprintf(err.msg, sizeof err.msg, "out of memory for a batch of %d rows", B);
    } else {
        for (i = 0; i < B; i++) {
            const sv_row *r = list[i];
            toks[i] = (lb_tokens){.ids = r->ids, .type_ids = r->type_ids, .n = r->n, .cap = r->n};
            adapters[i] = r->job->adapter;
        }
        sv_metrics_batch_next(b->metrics, B, tokens);
        st = b->forward(b->forward_ctx, toks, adapters, B, logits, ld, &err);
    }
    double t1 = sv_now(), infer = t1 - t0;
    sv_metrics_observe(b->metrics, SV_H_BATCH_DURATION, infer);
    sv_metrics_observe(b->metrics, SV_H_BATCH_SIZE, B);
    sv_metrics_observe(b->metrics, SV_H_BATCH_TOKENS, (double)tokens);
    sv_metrics_queue_add(b->metrics, -B);
    i = 0;
    for (sv_row *r = rows, *next; r; r = next, i++) {
        next = r->next; /* r belongs to its job, which on_done may hand back */
        sv_job *j = r->job;
        const int L = j->num_labels;
        if (st == LB_OK) {
            double *out = j->scores + (size_t)r->index * (size_t)L;
            const float *z = logits + (size_t)i * (size_t)ld;
            if (j->raw_scores)
                for (int k = 0; k < L; k++) out[k] = z[k];
            else lb_scores(z, L, j->mode == SV_SIGMOID, out);
        } else if (j->status == LB_OK) {
            j->status = st;
            snprintf(j->error, sizeof j->error, "%s", err.msg[0] ? err.msg : lb_status_name(st));
        }
        if (t0 - r->t_queued > j->queue_s) j->queue_s = t0 - r->t_queued;
        if (infer > j->inference_s) j->inference_s = infer;
        if (--j->rows_left == 0) j->on_done(j);
    }
    free(toks);
    free(adapters);
    free(list);
    free(logits);
}

static void *batcher_main(void *arg) {
    sv_batcher *b = arg;
    if (b->o.threads > 0) omp_set_num_threads(b->o.threads);
    pthread_mutex_lock(&b->mu);
    for (;;) {
        while (!b->head && !b->stop) pthread_cond_wait(&b->cv, &b->mu);
        if (!b->head) break; /* stopping and nothing queued */
        /* wait for more rows until the oldest has waited window_us or a batch is full */
        double deadline = b->head->t_queued + 1e-6 * (double)b->o.window_us;
        while (!b->stop && !queue_full(b)) {
            double now = sv_now();
            if (now >= deadline) break;
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            double wait = deadline - now;
            ts.tv_sec += (time_t)wait;
            ts.tv_nsec += (long)((wait - (double)(time_t)wait) * 1e9);
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            if (pthread_cond_timedwait(&b->cv, &b->mu, &ts) == ETIMEDOUT) break;
        }
        int B;
        long tokens;
        sv_row *rows = take_batch(b, &B, &tokens);
        pthread_mutex_unlock(&b->mu);
        run_batch(b, rows, B, tokens);
        pthread_mutex_lock(&b->mu);
    }
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

lb_status sv_batcher_start(sv_batcher *b, sv_forward_fn forward, void *ctx, const sv_batcher_options *o,
                           sv_metrics *metrics, lb_error *err) {
    memset(b, 0, sizeof *b);
    b->forward = forward;
    b->forward_ctx = ctx;
    b->o = *o;
    if (b->o.max_batch_tokens < 1) b->o.max_batch_tokens = 1;
    b->metrics = metrics;
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->cv, NULL);
    if (pthread_create(&b->thread, NULL, batcher_main, b)) {
        if (err) {
            err->code = LB_ERR_INTERNAL;
            snprintf(err->msg, sizeof err->msg, "serve: cannot start the batcher thread");
        }
        return LB_ERR_INTERNAL;
    }
    b->started = true;
    return LB_OK;
}

void sv_batcher_submit(sv_batcher *b, sv_row *rows, int n) {
    if (n <= 0) return;
    double now = sv_now();
    for (int i = 0; i < n; i++) {
        rows[i].t_queued = now;
        rows[i].next = i + 1 < n ? &rows[i + 1] : NULL;
    }
    sv_metrics_queue_add(b->metrics, n);
    pthread_mutex_lock(&b->mu);
    if (b->tail) b->tail->next = &rows[0];
    else b->head = &rows[0];
    b->tail = &rows[n - 1];
    b->queued_rows += n;
    pthread_cond_signal(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

long sv_batcher_queued(sv_batcher *b) {
    pthread_mutex_lock(&b->mu);
    long n = b->queued_rows;
    pthread_mutex_unlock(&b->mu);
    return n;
}

void sv_batcher_stop(sv_batcher *b) {
    if (!b->started) return;
    pthread_mutex_lock(&b->mu);
    b->stop = true;
    pthread_cond_signal(&b->cv);
    pthread_mutex_unlock(&b->mu);
    pthread_join(b->thread, NULL);
    pthread_mutex_destroy(&b->mu);
    pthread_cond_destroy(&b->cv);
    b->started = false;
}
