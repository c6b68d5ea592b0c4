/* `lorabert serve`: a TEI-compatible HTTP server for one base model and many LoRA classifiers.
 *
 * Owns: the server's life: opening the model and the start-up adapters, the batcher, the
 * adapter registry, the HTTP daemon (libmicrohttpd), the signal handling and the drain at
 * SIGTERM/SIGINT. The routes, limits and metrics are documented in docs/serving.md.
 * Why: the CLI (src/cli/cmd_serve.c) only parses options; everything here uses include/lorabert.h
 * and nothing below it, so the server is a client of the public API like any other.
 * Guarantees: serve_run returns only after the daemon stopped, every queued request was answered
 * and everything was freed; it prints one "listening on http://HOST:PORT" line on stderr once
 * the port is bound (PORT is the real port when 0 was asked), and one line per fatal error. */
#ifndef LB_SERVE_SERVE_H
#define LB_SERVE_SERVE_H
#include <stdbool.h>
#include "lorabert.h"

typedef struct serve_options {
    const char *model;           /* folder or hub id */
    const char *const *adapters; /* [n_adapters] "NAME=DIR|ID" */
    int n_adapters;
    const char *adapters_dir; /* NULL: none */
    const char *host;         /* "127.0.0.1" */
    int port;                 /* 0: any free port */
    lb_precision precision;
    const char *api_key;          /* NULL: no authentication */
    long max_concurrent_requests; /* 512 */
    long max_batch_tokens;        /* 16384 */
    long max_batch_requests;      /* 0: tokens only */
    long max_client_batch_size;   /* 32 */
    long payload_limit;           /* 2,000,000 bytes */
    long batch_window_us;         /* 2000 */
    long max_adapters;            /* 128 */
    long max_connections;         /* 1024 */
    long connection_timeout_s;    /* 10 */
    long http_threads;            /* 2 */
    long tokenization_workers;    /* 2 */
    long threads;                 /* OpenMP threads of the forward pass; 0: default */
    long drain_timeout_s;         /* 30 */
    bool auto_truncate;           /* truncate even when a request says truncate: false */
} serve_options;

/* Runs the server until SIGTERM/SIGINT; returns 0 after a clean drain, else the lb_status of a
 * start-up failure (err set). */
int serve_run(const serve_options *o, lb_error *err);

#endif
