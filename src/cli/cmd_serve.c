/* `lorabert serve`: options -> serve_run (src/serve/). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"
#include "cli/options.h"
#include "serve/serve.h"

static const char serve_usage[] =
    "usage: lorabert serve --model DIR|ID [--adapter NAME=DIR|ID ...] [--adapters-dir DIR] [options]\n"
    "\n"
    "Serves the classifier over HTTP with the API of Hugging Face text-embeddings-inference (TEI):\n"
    "POST /predict {\"inputs\": \"text\" | [\"a\", \"b\"] | [[\"t\"], [\"a\", \"b\"], ...], \"truncate\": bool,\n"
    "\"truncation_direction\": \"left\"|\"right\", \"raw_scores\": bool, \"adapter\": \"NAME\"} answers every label\n"
    "with its score (softmax; sigmoid for a one-output or multi_label_classification model), by\n"
    "score descending. Also GET /info, /health (/, /ping), /metrics (Prometheus),\n"
    "/api-doc/openapi.json, and GET/POST /adapters, DELETE /adapters/NAME to list, load and unload\n"
    "adapters at run time. With --api-key every route but /health needs 'Authorization: Bearer KEY'.\n"
    "One base model is loaded once; rows of every request and every adapter are batched together\n"
    "(--max-batch-tokens real tokens, waiting at most --batch-window-us for more). --adapters-dir:\n"
    "each subfolder holding adapter_config.json is loadable by its folder name on first use, at most\n"
    "--max-adapters at once (the least recently used on-demand adapter is unloaded). Prints\n"
    "\"listening on http://HOST:PORT\" on stderr once bound (--port 0 picks a free port).\n"
    "SIGTERM/SIGINT: stop accepting, answer what was accepted (at most --drain-timeout seconds),\n"
    "exit 0. See docs/serving.md.\n";

static const char serve_epilog[] =
    "Exit status: 0 after a clean shutdown, 2 usage, 3 I/O (model missing, port in use), 4 bad\n"
    "model or adapter files, 5 unsupported model.\n";

int cmd_serve(int argc, char **argv) {
    const char *model = NULL, *adapters_dir = NULL, *host = "127.0.0.1", *precision_arg = "fp32", *api_key = NULL;
    long port = 3000, max_concurrent = 512, max_batch_tokens = 16384, max_batch_requests = 0, max_client_batch = 32,
         payload_limit = 2000000, window_us = 2000, max_adapters = 128, max_connections = 1024, conn_timeout = 10,
         http_threads = 2, workers = 2, threads = 0, drain_timeout = 30;
    bool auto_truncate = false;
    cli_strlist adapters = {0};
    const cli_opt opts[] = {
        {"--model", OPT_STR, &model, "DIR|ID", "base model folder or hub repo id (required)", 0, 0},
        {"--adapter", OPT_MULTI, &adapters, "NAME=DIR|ID", "an adapter loaded at start under NAME (repeatable)", 0, 0},
        {"--adapters-dir", OPT_STR, &adapters_dir, "DIR", "folder of adapter folders, loaded on first use by name", 0,
         0},
        {"--max-adapters", OPT_INT, &max_adapters, "N", "adapters loaded at once (LRU unloading of on-demand ones)", 1,
         100000},
        {"--host", OPT_STR, &host, "ADDR", "IPv4 or IPv6 address to listen on", 0, 0},
        {"--port", OPT_INT, &port, "N", "TCP port (0: a free one, printed at start)", 0, 65535},
        {"--precision", OPT_STR, &precision_arg, "fp32|bf16|int8",
         "fp32 (exact), bf16 (frozen linears in bf16: faster) or int8 (frozen linears in int8: fastest)", 0, 0},
        {"--api-key", OPT_STR, &api_key, "KEY", "require 'Authorization: Bearer KEY' on every route but /health", 0, 0},
        {"--max-concurrent-requests", OPT_INT, &max_concurrent, "N", "predict requests in flight (more: 429)", 1,
         1000000},
        {"--max-batch-tokens", OPT_INT, &max_batch_tokens, "N", "real tokens per batch", 2, 10000000},
        {"--max-batch-requests", OPT_INT, &max_batch_requests, "N", "rows per batch (0: no limit but tokens)", 0,
         1000000},
        {"--max-client-batch-size", OPT_INT, &max_client_batch, "N", "inputs per request (more: 413)", 1, 100000},
        {"--payload-limit", OPT_INT, &payload_limit, "BYTES", "request body size (more: 413)", 64, 1000000000},
        {"--batch-window-us", OPT_INT, &window_us, "US", "wait at most this long for more rows before a batch", 0,
         1000000},
        {"--auto-truncate", OPT_FLAG, &auto_truncate, NULL, "truncate inputs even when a request does not ask", 0, 0},
        {"--max-connections", OPT_INT, &max_connections, "N", "open connections at once (more are refused)", 1, 100000},
        {"--connection-timeout", OPT_INT, &conn_timeout, "S", "close a connection idle for S seconds (slow clients)", 1,
         3600},
        {"--http-threads", OPT_INT, &http_threads, "N", "threads polling the connections", 1, 64},
        {"--tokenization-workers", OPT_INT, &workers, "N", "threads tokenizing requests (adapters load on one more)", 1,
         64},
        {"--threads", OPT_INT, &threads, "N", "CPU threads of the forward pass (0: all)", 0, 4096},
        {"--drain-timeout", OPT_INT, &drain_timeout, "S", "at shutdown, wait at most S seconds for open requests", 0,
         3600},
    };
    const cli_command cmd = {.name = "serve",
                             .usage = serve_usage,
                             .opts = opts,
                             .nopts = (int)(sizeof opts / sizeof opts[0]),
                             .epilog = serve_epilog};
    bool help = false;
    int rc = cli_parse_command(&cmd, argc, argv, NULL, NULL, &help);
    if (rc || help) goto out;
    lb_precision precision;
    if (!model) {
        rc = cli_usage_error("serve", "--model DIR|ID is required");
        goto out;
    }
    if (!lb_precision_parse(precision_arg, &precision)) {
        rc = cli_usage_error("serve", "--precision must be fp32, bf16 or int8, got '%s'", precision_arg);
        goto out;
    }
    if (api_key && !*api_key) {
        rc = cli_usage_error("serve", "--api-key must not be empty");
        goto out;
    }
    serve_options so = {.model = model,
                        .adapters = adapters.v,
                        .n_adapters = adapters.n,
                        .adapters_dir = adapters_dir,
                        .host = host,
                        .port = (int)port,
                        .precision = precision,
                        .api_key = api_key,
                        .max_concurrent_requests = max_concurrent,
                        .max_batch_tokens = max_batch_tokens,
                        .max_batch_requests = max_batch_requests,
                        .max_client_batch_size = max_client_batch,
                        .payload_limit = payload_limit,
                        .batch_window_us = window_us,
                        .max_adapters = max_adapters,
                        .max_connections = max_connections,
                        .connection_timeout_s = conn_timeout,
                        .http_threads = http_threads,
                        .tokenization_workers = workers,
                        .threads = threads,
                        .drain_timeout_s = drain_timeout,
                        .auto_truncate = auto_truncate};
    lb_error err = {0};
    if ((rc = serve_run(&so, &err))) rc = cli_fail(&err);
out:
    free(adapters.v);
    return rc;
}
