/* `lorabert serve`: model, adapters, batcher, workers and the libmicrohttpd daemon; see serve.h.
 *
 * A POST /predict travels: an MHD polling thread reads and parses the body, checks the limits,
 * suspends the connection and queues the request for a tokenization worker; the worker takes a
 * reference on the adapter (an adapter not loaded yet sends the request to the loader thread
 * first, which loads it and hands the request back), tokenizes every input with the adapter's
 * tokenizer and queues the rows for the batcher; the batcher runs them, writes the scores and,
 * at the request's last row, builds the answer and resumes the connection; MHD calls the
 * handler again and sends it. No MHD thread ever waits for tokenization, loading or inference,
 * and no tokenization worker waits for a load. */
#include "serve/serve.h"
#include <arpa/inet.h>
#include <errno.h>
#include <cjson/cJSON.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "serve/batcher.h"
#include "serve/metrics.h"
#include "serve/openapi.h"
#include "serve/registry.h"
#include "serve/request.h"

typedef enum { R_NONE, R_HEALTH, R_INFO, R_METRICS, R_OPENAPI, R_PREDICT, R_ADAPTERS, R_ADAPTER_ONE } route;

typedef struct server server;
typedef struct req_ctx req_ctx;

/* A queue of suspended requests and the threads that serve it. */
typedef struct wqueue {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    req_ctx *head, *tail;
    bool stop, init;
    pthread_t *th;
    int n;
    void (*run)(req_ctx *c);
} wqueue;

/* One HTTP request (MHD's per-request closure). */
struct req_ctx {
    server *s;
    struct MHD_Connection *conn;
    route r;
    bool is_post, is_get, is_delete;
    double t_start, t_tokenized;
    sv_buf body;
    bool too_large, counted, outcome_recorded, working, queued;
    /* predict */
    sv_predict_req pr;
    sv_adapter *adapter;
    lb_tokens *toks;
    sv_row *rows;
    sv_job job;
    long chars, tokens;
    /* POST /adapters */
    char *add_name, *add_path;
    /* the answer, once known */
    _Atomic bool answered;
    int http;
    sv_buf out;
    const char *content_type;
    sv_status st;
    req_ctx *next; /* wqueue */
};

struct server {
    serve_options o;
    lb_model *model;
    lb_model_info info;
    const lb_tokenizer *tok;
    lb_tokenizer *tok_owned;
    int max_len;
    sv_score_mode mode;
    int multi_label; /* the base's config.json problem_type (see multi_label()) */
    sv_metrics metrics;
    sv_batcher batcher;
    sv_registry reg;
    struct MHD_Daemon *d;
    _Atomic long inflight;
    _Atomic bool ready, draining;
    wqueue work; /* tokenization workers */
    wqueue load; /* the adapter loader: loads never hold up a tokenization worker */
};

static void wqueue_push(wqueue *q, req_ctx *c);

/* ---- answers ------------------------------------------------------------------------------ */

static void set_error(req_ctx *c, const sv_status *st) {
    c->http = st->http ? st->http : 500;
    c->st = *st;
    c->out.len = 0;
    sv_error_json(&c->out, st);
    c->content_type = "application/json";
}

static void set_fail(req_ctx *c, int http, const char *type, const char *msg) {
    sv_status st;
    sv_fail(&st, http, type, "%s", msg);
    set_error(c, &st);
}

static void record_outcome(req_ctx *c) {
    if (c->r != R_PREDICT || c->outcome_recorded) return;
    c->outcome_recorded = true;
    const char *adapter = c->adapter ? c->adapter->name : c->pr.adapter ? NULL : "";
    sv_metrics_outcome(&c->s->metrics, adapter, c->http == 200 ? NULL : c->st.type ? c->st.type : SV_ERR_BACKEND);
}

static enum MHD_Result send_answer(req_ctx *c) {
    if (c->queued) return MHD_YES; /* answered already (an early error): MHD drops the rest */
    c->queued = true;
    record_outcome(c);
    if (c->out.oom) {
        sv_buf_free(&c->out);
        c->http = 500;
        sv_buf_puts(&c->out, "{\"error\":\"out of memory\",\"error_type\":\"Backend\"}");
        c->content_type = "application/json";
    }
    size_t len = c->out.len;
    char *p = c->out.p;
    c->out.p = NULL;
    c->out.len = c->out.cap = 0;
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, p ? p : (char *)"", p ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        free(p);
        return MHD_NO;
    }
    if (c->content_type) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, c->content_type);
    if (c->r == R_PREDICT && c->http == 200) {
        char v[64];
        double now = sv_now();
        snprintf(v, sizeof v, "%.0f", 1e3 * (now - c->t_start));
        MHD_add_response_header(resp, "x-compute-time", v);
        MHD_add_response_header(resp, "x-total-time", v);
        snprintf(v, sizeof v, "%.0f", 1e3 * (c->t_tokenized - c->t_start));
        MHD_add_response_header(resp, "x-tokenization-time", v);
        snprintf(v, sizeof v, "%.0f", 1e3 * c->job.queue_s);
        MHD_add_response_header(resp, "x-queue-time", v);
        snprintf(v, sizeof v, "%.0f", 1e3 * c->job.inference_s);
        MHD_add_response_header(resp, "x-inference-time", v);
        snprintf(v, sizeof v, "%ld", c->chars);
        MHD_add_response_header(resp, "x-compute-characters", v);
        snprintf(v, sizeof v, "%ld", c->tokens);
        MHD_add_response_header(resp, "x-compute-tokens", v);
        MHD_add_response_header(resp, "x-compute-type", "cpu");
        sv_metrics_observe(&c->s->metrics, SV_H_DURATION, now - c->t_start);
    }
    if (atomic_load(&c->s->draining)) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result rc = MHD_queue_response(c->conn, (unsigned)c->http, resp);
    MHD_destroy_response(resp);
    return rc;
}

/* ---- predict: worker and batcher sides ------------------------------------------------------ */

static void resume(req_ctx *c) {
    atomic_store(&c->answered, true);
    MHD_resume_connection(c->conn);
}

/* The batcher's callback at a job's last row. */
static void job_done(sv_job *job) {
    req_ctx *c = job->user;
    server *s = c->s;
    if (job->status != LB_OK) {
        set_fail(c, 500, SV_ERR_BACKEND, job->error); /* e.g. non-finite logits */
    } else {
        const int L = job->num_labels;
        const char *const *labels = c->adapter ? c->adapter->d.labels : s->info.labels;
        c->http = 200;
        c->content_type = "application/json";
        if (c->pr.batch) sv_buf_puts(&c->out, "[");
        for (int i = 0; i < c->pr.n; i++) {
            if (i) sv_buf_puts(&c->out, ",");
            sv_predictions_json(&c->out, job->scores + (size_t)i * (size_t)L, labels, L);
        }
        if (c->pr.batch) sv_buf_puts(&c->out, "]");
        sv_metrics_observe(&s->metrics, SV_H_QUEUE, job->queue_s);
        sv_metrics_observe(&s->metrics, SV_H_INFERENCE, job->inference_s);
    }
    resume(c);
}

static void work_predict(req_ctx *c) {
    server *s = c->s;
    sv_status st = {0};
    const lb_tokenizer *tok = s->tok;
    int max_len = s->max_len, L = s->info.num_labels;
    sv_score_mode mode = s->mode;
    if (c->pr.adapter && !c->adapter) {
        if (!sv_registry_loaded(&s->reg, c->pr.adapter)) { /* to the loader: this worker goes on */
            wqueue_push(&s->load, c);
            return;
        }
        if (sv_registry_acquire(&s->reg, c->pr.adapter, &c->adapter, &st)) {
            set_error(c, &st);
            resume(c);
            return;
        }
    }
    if (c->adapter) {
        if (c->adapter->d.tok) tok = c->adapter->d.tok;
        max_len = c->adapter->d.max_length;
        L = c->adapter->d.num_labels;
        mode = c->adapter->d.mode;
    }
    const int n = c->pr.n;
    c->toks = calloc((size_t)n, sizeof *c->toks);
    c->rows = calloc((size_t)n, sizeof *c->rows);
    c->job.scores = malloc((size_t)n * (size_t)L * sizeof *c->job.scores);
    if (!c->toks || !c->rows || !c->job.scores) {
        set_fail(c, 500, SV_ERR_BACKEND, "out of memory");
        resume(c);
        return;
    }
    bool truncate = c->pr.truncate || s->o.auto_truncate;
    lb_encode_options eo = {.max_length = truncate ? max_len : 0, .truncate_left = c->pr.truncate_left};
    for (int i = 0; i < n; i++) {
        const sv_input *in = &c->pr.inputs[i];
        lb_error err = {0};
        c->chars += (long)(in->len + in->pair_len);
        if (lb_tokenizer_encode(tok, in->text, in->len, in->pair, in->pair_len, &eo, &c->toks[i], &err)) {
            bool oom = err.code == LB_ERR_NOMEM;
            if (n > 1)
                sv_fail(&st, oom ? 500 : 422, oom ? SV_ERR_BACKEND : SV_ERR_TOKENIZER, "inputs[%d]: %s", i, err.msg);
            else sv_fail(&st, oom ? 500 : 422, oom ? SV_ERR_BACKEND : SV_ERR_TOKENIZER, "%s", err.msg);
            set_error(c, &st);
            resume(c);
            return;
        }
        if (c->toks[i].n > max_len) {
            sv_fail(
                &st, 422, SV_ERR_VALIDATION,
                "Input validation error: `inputs` must have less than %d tokens. Given: %d (set \"truncate\": true)",
                max_len, c->toks[i].n);
            set_error(c, &st);
            resume(c);
            return;
        }
        c->tokens += c->toks[i].n;
        c->rows[i] = (sv_row){
            .ids = c->toks[i].ids, .type_ids = c->toks[i].type_ids, .n = c->toks[i].n, .job = &c->job, .index = i};
    }
    c->t_tokenized = sv_now();
    sv_metrics_observe(&s->metrics, SV_H_TOKENIZATION, c->t_tokenized - c->t_start);
    sv_metrics_observe(&s->metrics, SV_H_INPUT_LENGTH, (double)c->tokens);
    c->job = (sv_job){.n_rows = n,
                      .num_labels = L,
                      .adapter = c->adapter ? (const lb_adapter *)c->adapter->d.handle : NULL,
                      .mode = mode,
                      .raw_scores = c->pr.raw_scores,
                      .scores = c->job.scores,
                      .rows_left = n,
                      .on_done = job_done,
                      .user = c};
    sv_batcher_submit(&s->batcher, c->rows, n);
}

static void work_adapter_add(req_ctx *c) {
    sv_status st = {0};
    if (sv_registry_add(&c->s->reg, c->add_name, c->add_path, &st)) set_error(c, &st);
    else {
        c->http = 200;
        c->content_type = "application/json";
        sv_buf_puts(&c->out, "{\"loaded\":");
        sv_buf_json_string(&c->out, c->add_name);
        sv_buf_puts(&c->out, "}");
    }
    resume(c);
}

static void *wqueue_main(void *arg) {
    wqueue *q = arg;
    pthread_mutex_lock(&q->mu);
    for (;;) {
        while (!q->head && !q->stop) pthread_cond_wait(&q->cv, &q->mu);
        req_ctx *c = q->head;
        if (!c) break; /* stopping, and everything queued was served */
        q->head = c->next;
        if (!q->head) q->tail = NULL;
        pthread_mutex_unlock(&q->mu);
        q->run(c);
        pthread_mutex_lock(&q->mu);
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

static void wqueue_push(wqueue *q, req_ctx *c) {
    pthread_mutex_lock(&q->mu);
    c->next = NULL;
    if (q->tail) q->tail->next = c;
    else q->head = c;
    q->tail = c;
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

static bool wqueue_start(wqueue *q, int n, void (*run)(req_ctx *)) {
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->cv, NULL);
    q->init = true;
    q->run = run;
    if (!(q->th = calloc((size_t)n, sizeof *q->th))) return false;
    for (int i = 0; i < n; i++) {
        if (pthread_create(&q->th[i], NULL, wqueue_main, q)) return false;
        q->n++;
    }
    return true;
}

/* Serves what is queued, then joins the threads. */
static void wqueue_stop(wqueue *q) {
    if (!q->init) return;
    pthread_mutex_lock(&q->mu);
    q->stop = true;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
    for (int i = 0; i < q->n; i++) pthread_join(q->th[i], NULL);
    free(q->th);
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->cv);
    memset(q, 0, sizeof *q);
}

/* Suspends the connection (no MHD thread waits) and queues the request. */
static void suspend_to(wqueue *q, req_ctx *c) {
    c->working = true;
    MHD_suspend_connection(c->conn);
    wqueue_push(q, c);
}

/* The loader's side of a request: POST /adapters, or a predict whose adapter is not loaded yet
 * (acquired here, loading it if needed, then back to the tokenization workers). */
static void load_run(req_ctx *c) {
    if (c->r != R_PREDICT) {
        work_adapter_add(c);
        return;
    }
    sv_status st = {0};
    if (sv_registry_acquire(&c->s->reg, c->pr.adapter, &c->adapter, &st)) {
        set_error(c, &st);
        resume(c);
        return;
    }
    wqueue_push(&c->s->work, c);
}

/* ---- routes ------------------------------------------------------------------------------- */

static void info_json(server *s, sv_buf *b) {
    const lb_model_info *in = &s->info;
    sv_buf_puts(b, "{\"model_id\":");
    sv_buf_json_string(b, s->o.model);
    sv_buf_printf(b, ",\"model_sha\":null,\"model_dtype\":\"%s\",\"model_type\":{\"classifier\":{\"id2label\":{",
                  s->o.precision == LB_PRECISION_BF16   ? "bfloat16"
                  : s->o.precision == LB_PRECISION_INT8 ? "int8"
                                                        : "float32");
    for (int k = 0; k < in->num_labels; k++) {
        sv_buf_printf(b, "%s\"%d\":", k ? "," : "", k);
        sv_buf_json_string(b, in->labels[k]);
    }
    sv_buf_puts(b, "},\"label2id\":{");
    for (int k = 0; k < in->num_labels; k++) {
        if (k) sv_buf_puts(b, ",");
        sv_buf_json_string(b, in->labels[k]);
        sv_buf_printf(b, ":%d", k);
    }
    sv_buf_printf(b,
                  "}}},\"max_concurrent_requests\":%ld,\"max_input_length\":%d,\"max_batch_tokens\":%ld,"
                  "\"max_batch_requests\":",
                  s->o.max_concurrent_requests, s->max_len, s->o.max_batch_tokens);
    if (s->o.max_batch_requests > 0) sv_buf_printf(b, "%ld", s->o.max_batch_requests);
    else sv_buf_puts(b, "null");
    sv_buf_printf(b,
                  ",\"max_client_batch_size\":%ld,\"auto_truncate\":%s,\"tokenization_workers\":%d,"
                  "\"version\":\"%s\",\"sha\":null,\"docker_label\":null,\"backend\":\"lorabert\","
                  "\"architecture\":",
                  s->o.max_client_batch_size, s->o.auto_truncate ? "true" : "false", s->work.n, lb_version());
    sv_buf_json_string(b, in->architecture);
    sv_buf_printf(b, ",\"problem_type\":\"%s\",\"payload_limit\":%ld,\"max_adapters\":%ld,\"adapters\":",
                  s->mode == SV_SIGMOID ? "multi_label_classification" : "single_label_classification",
                  s->o.payload_limit, s->o.max_adapters);
    sv_buf reg = {0};
    sv_registry_json(&s->reg, &reg);
    /* the registry's list: {"adapters":[...],...} -> its array */
    const char *a = reg.p ? strchr(reg.p, '[') : NULL;
    const char *e = reg.p ? strstr(reg.p, "],\"adapters_dir\"") : NULL;
    if (a && e) sv_buf_put(b, a, (size_t)(e - a) + 1);
    else sv_buf_puts(b, "[]");
    sv_buf_free(&reg);
    sv_buf_puts(b, "}");
}

/* Constant-time comparison of the Authorization header with "Bearer KEY". */
static bool authorized(server *s, struct MHD_Connection *conn) {
    if (!s->o.api_key) return true;
    const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h) return false;
    static const char prefix[] = "Bearer ";
    size_t hl = strlen(h), kl = strlen(s->o.api_key), want = sizeof prefix - 1 + kl;
    volatile unsigned char diff = (unsigned char)(hl != want);
    for (size_t i = 0; i < want; i++) {
        unsigned char x =
            i < sizeof prefix - 1 ? (unsigned char)prefix[i] : (unsigned char)s->o.api_key[i - (sizeof prefix - 1)];
        unsigned char y = i < hl ? (unsigned char)h[i] : 0;
        diff |= x ^ y;
    }
    return diff == 0;
}

static route route_of(const char *url, bool *method_ok, const char *method) {
    bool get = !strcmp(method, "GET") || !strcmp(method, "HEAD"), post = !strcmp(method, "POST"),
         del = !strcmp(method, "DELETE");
    route r = R_NONE;
    *method_ok = false;
    if (!strcmp(url, "/health") || !strcmp(url, "/") || !strcmp(url, "/ping")) r = R_HEALTH, *method_ok = get;
    else if (!strcmp(url, "/info")) r = R_INFO, *method_ok = get;
    else if (!strcmp(url, "/metrics")) r = R_METRICS, *method_ok = get;
    else if (!strcmp(url, "/api-doc/openapi.json")) r = R_OPENAPI, *method_ok = get;
    else if (!strcmp(url, "/predict")) r = R_PREDICT, *method_ok = post;
    else if (!strcmp(url, "/adapters")) r = R_ADAPTERS, *method_ok = get || post;
    else if (!strncmp(url, "/adapters/", 10) && url[10]) r = R_ADAPTER_ONE, *method_ok = del;
    return r;
}

static void dispatch(req_ctx *c, const char *url) {
    server *s = c->s;
    bool ready = atomic_load(&s->ready), draining = atomic_load(&s->draining);
    switch (c->r) {
    case R_HEALTH:
        if (!ready || draining)
            set_fail(c, 503, SV_ERR_UNHEALTHY, draining ? "the server is shutting down" : "the model is loading");
        else c->http = 200;
        return;
    case R_OPENAPI:
        c->http = 200;
        c->content_type = "application/json";
        sv_openapi_json(&c->out, lb_version(), (int)s->o.max_client_batch_size, s->o.api_key != NULL);
        return;
    case R_METRICS:
        c->http = 200;
        c->content_type = "text/plain; version=0.0.4";
        sv_metrics_render(&s->metrics, &c->out);
        return;
    default: break;
    }
    if (!ready || draining) {
        set_fail(c, 503, SV_ERR_UNHEALTHY, draining ? "the server is shutting down" : "the model is loading");
        return;
    }
    sv_status st = {0};
    switch (c->r) {
    case R_INFO:
        c->http = 200;
        c->content_type = "application/json";
        info_json(s, &c->out);
        return;
    case R_ADAPTERS:
        if (c->is_get) {
            c->http = 200;
            c->content_type = "application/json";
            sv_registry_json(&s->reg, &c->out);
            return;
        }
        if (sv_parse_adapter_add(c->body.p, c->body.len, &c->add_name, &c->add_path, &st)) {
            set_error(c, &st);
            return;
        }
        suspend_to(&s->load, c);
        return;
    case R_ADAPTER_ONE: {
        const char *name = url + 10;
        if (sv_registry_remove(&s->reg, name, &st)) set_error(c, &st);
        else {
            c->http = 200;
            c->content_type = "application/json";
            sv_buf_puts(&c->out, "{\"deleted\":");
            sv_buf_json_string(&c->out, name);
            sv_buf_puts(&c->out, "}");
        }
        return;
    }
    case R_PREDICT:
        if (sv_parse_predict(c->body.p, c->body.len, (int)s->o.max_client_batch_size, &c->pr, &st)) {
            set_error(c, &st);
            return;
        }
        suspend_to(&s->work, c);
        return;
    default: set_fail(c, 404, SV_ERR_NOT_FOUND, "no such route"); return;
    }
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                               const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls) {
    (void)version;
    server *s = cls;
    req_ctx *c = *con_cls;
    if (!c) {
        if (!(c = calloc(1, sizeof *c))) return MHD_NO;
        *con_cls = c;
        c->s = s;
        c->conn = conn;
        c->t_start = c->t_tokenized = sv_now();
        bool method_ok;
        c->r = route_of(url, &method_ok, method);
        c->is_get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
        c->is_post = !strcmp(method, "POST");
        c->is_delete = !strcmp(method, "DELETE");
        if (c->r == R_PREDICT) {
            sv_metrics_request(&s->metrics);
            /* the concurrency limit counts requests from their headers to their answer */
            if (atomic_fetch_add(&s->inflight, 1) >= s->o.max_concurrent_requests) {
                atomic_fetch_sub(&s->inflight, 1);
                char m[160];
                snprintf(m, sizeof m,
                         "Model is overloaded: more than %ld concurrent requests (--max-concurrent-requests)",
                         s->o.max_concurrent_requests);
                set_fail(c, 429, SV_ERR_OVERLOADED, m);
            } else c->counted = true;
        }
        if (c->http) {
        } else if (c->r == R_NONE) set_fail(c, 404, SV_ERR_NOT_FOUND, "no such route (see GET /api-doc/openapi.json)");
        else if (!method_ok) set_fail(c, 405, SV_ERR_VALIDATION, "method not allowed on this route");
        else if (c->r != R_HEALTH || strcmp(url, "/health")) {
            if (!authorized(s, conn)) set_fail(c, 401, SV_ERR_AUTH, "missing or wrong Authorization: Bearer key");
        }
        if (!c->http && c->is_post) {
            const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
            if (cl && strtoull(cl, NULL, 10) > (unsigned long long)s->o.payload_limit) {
                char m[160];
                snprintf(m, sizeof m, "payload of %s bytes is over the %ld-byte limit (--payload-limit)", cl,
                         s->o.payload_limit);
                set_fail(c, 413, SV_ERR_VALIDATION, m);
            }
        }
        /* an early answer is sent right away: MHD discards the body it did not read */
        if (c->http) return send_answer(c);
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (c->http) { /* answered already: drop the body */
            *upload_data_size = 0;
            return MHD_YES;
        }
        if (c->body.len + *upload_data_size > (size_t)s->o.payload_limit) c->too_large = true;
        else sv_buf_put(&c->body, upload_data, *upload_data_size);
        *upload_data_size = 0;
        if (c->too_large) { /* a chunked body over the limit: 413 now, or close when MHD cannot answer yet */
            char m[160];
            snprintf(m, sizeof m, "payload over the %ld-byte limit (--payload-limit)", s->o.payload_limit);
            set_fail(c, 413, SV_ERR_VALIDATION, m);
            return send_answer(c) == MHD_YES ? MHD_YES : MHD_NO;
        }
        return MHD_YES;
    }
    if (atomic_load(&c->answered)) return send_answer(c);
    if (c->working) return MHD_YES; /* spurious call while suspended */
    if (c->body.oom) set_fail(c, 500, SV_ERR_BACKEND, "out of memory");
    else if (!c->http) dispatch(c, url);
    if (c->working) return MHD_YES;
    return send_answer(c);
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe) {
    (void)conn;
    (void)toe;
    server *s = cls;
    req_ctx *c = *con_cls;
    if (!c) return;
    *con_cls = NULL;
    if (c->r == R_PREDICT && !c->outcome_recorded) {
        if (!c->http) { /* the client went away first: counted as err="other" */
            sv_fail(&c->st, 499, "ClientClosed", "client closed the connection");
            c->http = 499;
        }
        record_outcome(c);
    }
    sv_registry_release(&s->reg, c->adapter);
    if (c->toks)
        for (int i = 0; i < c->pr.n; i++) lb_tokens_free(&c->toks[i]);
    free(c->toks);
    free(c->rows);
    free(c->job.scores);
    sv_predict_req_free(&c->pr);
    free(c->add_name);
    free(c->add_path);
    sv_buf_free(&c->body);
    sv_buf_free(&c->out);
    if (c->counted) atomic_fetch_sub(&s->inflight, 1);
    free(c);
}

/* ---- the model and the adapters -------------------------------------------------------------- */

/* The forward pass of a batch: one lb_model_predict_adapters call, rows of every adapter together
 * (the frozen linears run once over all of them). */
static lb_status forward(void *ctx, const lb_tokens *rows, const lb_adapter *const *adapters, int B, float *logits,
                         int ld, lb_error *err) {
    server *s = ctx;
    return lb_model_predict_adapters(s->model, rows, adapters, (size_t)B, logits, ld, err);
}

static int max_input_length(const lb_tokenizer *tok, const lb_model_info *info);

/* Whether folder/config.json, else folder/labels.json (lorabert's adapters record a trained
 * head's problem type there), says problem_type multi_label_classification (TEI ignores it; a
 * multi-label model's scores are sigmoids whatever its head size). -1: neither says a problem_type. */
static int multi_label_in(const char *folder, const char *file);
static int multi_label(const char *folder) {
    int r = multi_label_in(folder, "config.json");
    return r >= 0 ? r : multi_label_in(folder, "labels.json");
}

static int multi_label_in(const char *folder, const char *file) {
    char path[4096];
    if (!folder || snprintf(path, sizeof path, "%s/%s", folder, file) >= (int)sizeof path) return -1;
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    size_t cap = (size_t)4 << 20, n = 0; /* a config.json is a few KB; 4 MiB is plenty */
    char *buf = malloc(cap);
    if (buf) n = fread(buf, 1, cap, f);
    fclose(f);
    cJSON *root = buf ? cJSON_ParseWithLength(buf, n) : NULL;
    const cJSON *pt = cJSON_GetObjectItemCaseSensitive(root, "problem_type");
    int r = cJSON_IsString(pt) ? !strcmp(pt->valuestring, "multi_label_classification") : -1;
    cJSON_Delete(root);
    free(buf);
    return r;
}

static sv_score_mode score_mode(int num_labels, int multi) {
    return num_labels == 1 || multi == 1 ? SV_SIGMOID : SV_SOFTMAX;
}

/* Opens an adapter over the base (it holds only its own tensors, head and labels; the library
 * refuses one whose shapes do not fit the base), and its own tokenizer when it carries one. */
static lb_status adapter_open(void *ctx, const char *path, sv_adapter_desc *out, lb_error *err) {
    server *s = ctx;
    lb_adapter *a = NULL;
    lb_status st = lb_adapter_open(s->model, path, NULL, &a, err);
    if (st) return st;
    lb_adapter_info ai;
    lb_adapter_get_info(a, &ai);
    lb_tokenizer *tok = NULL;
    if (ai.tokenizer_dir && (st = lb_tokenizer_open(ai.tokenizer_dir, &tok, err))) {
        lb_adapter_close(a);
        return st;
    }
    int multi = multi_label(ai.dir);
    if (multi < 0) multi = s->multi_label;
    *out = (sv_adapter_desc){.handle = a,
                             .tok = tok,
                             .owned_tok = tok,
                             .num_labels = ai.num_labels,
                             .labels = ai.labels,
                             .mode = score_mode(ai.num_labels, multi),
                             .max_length = max_input_length(tok ? tok : s->tok, &s->info),
                             .source = ai.dir};
    return LB_OK;
}

static void adapter_close(void *ctx, sv_adapter_desc *d) {
    (void)ctx;
    lb_tokenizer_close(d->owned_tok);
    lb_adapter_close(d->handle);
    memset(d, 0, sizeof *d);
}

static int max_input_length(const lb_tokenizer *tok, const lb_model_info *info) {
    int n = lb_tokenizer_model_max_length(tok);
    if (n <= 0 || n > info->max_tokens) n = info->max_tokens;
    return n;
}

/* ---- life --------------------------------------------------------------------------------- */

static lb_status fail_msg(lb_error *err, lb_status code, const char *fmt, const char *a) {
    err->code = code;
    snprintf(err->msg, sizeof err->msg, fmt, a);
    return code;
}

static struct MHD_Daemon *start_daemon(server *s, lb_error *err) {
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME;
    struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, s->o.host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)s->o.port);
    } else if (inet_pton(AF_INET6, s->o.host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)s->o.port);
        flags |= MHD_USE_IPv6;
    } else {
        fail_msg(err, LB_ERR_USAGE, "serve: --host '%s' is not an IPv4 or IPv6 address", s->o.host);
        return NULL;
    }
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, (uint16_t)s->o.port, NULL, NULL, handler, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)s->o.http_threads, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)s->o.max_connections, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)s->o.connection_timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)64 * 1024, MHD_OPTION_NOTIFY_COMPLETED, completed, s,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u, MHD_OPTION_END);
    if (!d) {
        char where[300];
        snprintf(where, sizeof where, "%s:%d", s->o.host, s->o.port);
        fail_msg(err, LB_ERR_IO, "serve: cannot listen on %s (port in use, or not an address of this host?)", where);
    }
    return d;
}

/* Waits for SIGTERM/SIGINT (blocked in every thread, taken here with sigtimedwait). */
static void wait_signal(const sigset_t *set) {
    for (;;) {
        int sig = sigwaitinfo(set, NULL);
        if (sig == SIGTERM || sig == SIGINT) return;
        if (sig < 0 && errno != EINTR) return;
    }
}

static int load_startup_adapters(server *s, lb_error *err) {
    for (int i = 0; i < s->o.n_adapters; i++) {
        const char *spec = s->o.adapters[i], *eq = strchr(spec, '=');
        if (!eq || eq == spec || !eq[1])
            return fail_msg(err, LB_ERR_USAGE, "serve: --adapter '%s' must be NAME=DIR|ID", spec);
        char name[160];
        size_t nl = (size_t)(eq - spec);
        if (nl >= sizeof name) return fail_msg(err, LB_ERR_USAGE, "serve: --adapter '%s': name too long", spec);
        memcpy(name, spec, nl);
        name[nl] = '\0';
        sv_status st = {0};
        if (sv_registry_add(&s->reg, name, eq + 1, &st)) {
            err->code = st.code ? st.code : st.http == 422 ? LB_ERR_FORMAT : LB_ERR_USAGE;
            snprintf(err->msg, sizeof err->msg, "serve: --adapter %s: %s", name, st.msg);
            return err->code;
        }
    }
    return LB_OK;
}

int serve_run(const serve_options *o, lb_error *err) {
    server *s = calloc(1, sizeof *s);
    if (!s) return fail_msg(err, LB_ERR_NOMEM, "%s", "out of memory");
    s->o = *o;
    if (s->o.tokenization_workers < 1) s->o.tokenization_workers = 1;
    if (s->o.http_threads < 1) s->o.http_threads = 1;
    int rc = LB_OK;
    sv_metrics_init(&s->metrics);
    sv_loader loader = {.open = adapter_open, .close = adapter_close, .ctx = s};
    sv_registry_init(&s->reg, &loader, o->adapters_dir, (int)o->max_adapters, &s->metrics);

    /* SIGTERM/SIGINT go to wait_signal only: block them before any thread starts */
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, &old);
    signal(SIGPIPE, SIG_IGN);

    bool workers = false, batcher = false;
    /* listen first: /health says 503 while the model loads */
    if (!(s->d = start_daemon(s, err))) {
        rc = err->code;
        goto out;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    int port = di ? (int)di->port : o->port;
    fprintf(stderr, "lorabert serve: listening on http://%s%s%s:%d\n", strchr(o->host, ':') ? "[" : "", o->host,
            strchr(o->host, ':') ? "]" : "", port);

    lb_model_options mo = {.precision = o->precision};
    if ((rc = lb_model_open(o->model, &mo, &s->model, err))) goto out;
    lb_model_get_info(s->model, &s->info);
    if ((rc = lb_tokenizer_open(s->info.tokenizer_dir, &s->tok_owned, err))) goto out;
    s->tok = s->tok_owned;
    s->max_len = max_input_length(s->tok, &s->info);
    /* the model's own rule: an adapter's labels.json, else config.json */
    s->multi_label = !strcmp(s->info.problem_type, "multi_label_classification");
    s->mode = score_mode(s->info.num_labels, s->multi_label);
    workers = true;
    if (!wqueue_start(&s->work, (int)o->tokenization_workers, work_predict) || !wqueue_start(&s->load, 1, load_run)) {
        rc = fail_msg(err, LB_ERR_INTERNAL, "%s", "serve: cannot start the tokenization workers");
        goto out;
    }
    sv_batcher_options bo = {.max_batch_tokens = o->max_batch_tokens,
                             .max_batch_requests = o->max_batch_requests,
                             .window_us = o->batch_window_us,
                             .threads = (int)o->threads};
    if ((rc = sv_batcher_start(&s->batcher, forward, s, &bo, &s->metrics, err))) goto out;
    batcher = true;
    if ((rc = load_startup_adapters(s, err))) goto out;
    atomic_store(&s->ready, true);
    fprintf(stderr, "lorabert serve: ready (%s, %d labels, %d adapters)\n", s->info.architecture, s->info.num_labels,
            sv_registry_count(&s->reg));

    wait_signal(&set);
    /* drain: refuse new work, stop accepting, answer everything accepted */
    atomic_store(&s->draining, true);
    fprintf(stderr, "lorabert serve: draining\n");
    MHD_socket lfd = MHD_quiesce_daemon(s->d);
    if (lfd != MHD_INVALID_SOCKET) close(lfd);
    double deadline = sv_now() + (double)o->drain_timeout_s;
    while (atomic_load(&s->inflight) > 0 && sv_now() < deadline) {
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (atomic_load(&s->inflight) > 0)
        fprintf(stderr, "lorabert serve: %ld requests still open after %ld s; closing them\n",
                (long)atomic_load(&s->inflight), o->drain_timeout_s);
out:
    atomic_store(&s->draining, true);
    if (workers) { /* the loader hands requests to the workers: it stops first */
        wqueue_stop(&s->load);
        wqueue_stop(&s->work);
    }
    if (batcher) sv_batcher_stop(&s->batcher);
    if (s->d) MHD_stop_daemon(s->d);
    sv_registry_free(&s->reg);
    lb_tokenizer_close(s->tok_owned);
    lb_model_close(s->model);
    sv_metrics_free(&s->metrics);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    free(s);
    if (!rc) fprintf(stderr, "lorabert serve: stopped\n");
    return rc;
}
