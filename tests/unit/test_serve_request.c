/* The server's pure parts without sockets: POST /predict and /adapters bodies (TEI's shapes and
 * codes), the JSON answers, the Prometheus text and the adapter registry's LRU and reference
 * counts (with a fake loader). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include "serve/metrics.h"
#include "serve/registry.h"
#include "serve/request.h"

static int parse(const char *body, int max_batch, sv_predict_req *r, sv_status *st) {
    return sv_parse_predict(body, strlen(body), max_batch, r, st);
}

Test(serve_request, shapes) {
    sv_predict_req r;
    sv_status st;
    cr_assert_eq(parse("{\"inputs\": \"hello\"}", 32, &r, &st), 0, "%s", st.msg);
    cr_assert(r.n == 1 && !r.batch && !r.inputs[0].pair && !strcmp(r.inputs[0].text, "hello"));
    cr_assert(!r.truncate && !r.truncate_left && !r.raw_scores && !r.adapter);
    sv_predict_req_free(&r);
    cr_assert_eq(parse("{\"inputs\": [\"a\", \"b\"], \"truncate\": true, \"raw_scores\": true, "
                       "\"truncation_direction\": \"left\", \"adapter\": \"x-1.v2\"}",
                       32, &r, &st),
                 0, "%s", st.msg);
    cr_assert(r.n == 1 && !r.batch && !strcmp(r.inputs[0].text, "a") && !strcmp(r.inputs[0].pair, "b"));
    cr_assert(r.truncate && r.truncate_left && r.raw_scores && !strcmp(r.adapter, "x-1.v2"));
    sv_predict_req_free(&r);
    cr_assert_eq(parse("{\"inputs\": [\"only\"]}", 32, &r, &st), 0);
    cr_assert(r.n == 1 && !r.batch && !r.inputs[0].pair);
    sv_predict_req_free(&r);
    cr_assert_eq(
        parse("{\"inputs\": [[\"t\"], [\"a\", \"b\"], [\"\"]], \"truncation_direction\": \"Right\"}", 3, &r, &st), 0,
        "%s", st.msg);
    cr_assert(r.n == 3 && r.batch && !r.inputs[0].pair && !strcmp(r.inputs[1].pair, "b") && r.inputs[2].len == 0);
    cr_assert(!r.truncate_left);
    sv_predict_req_free(&r);
    /* UTF-8 and escapes pass through; lengths are bytes */
    cr_assert_eq(parse("{\"inputs\": \"caf\\u00e9 \\\"q\\\"\"}", 32, &r, &st), 0);
    cr_assert_str_eq(r.inputs[0].text, "caf\xc3\xa9 \"q\"");
    cr_assert_eq(r.inputs[0].len, 9);
    sv_predict_req_free(&r);
}

Test(serve_request, errors) {
    static const struct {
        const char *body;
        int http;
        const char *type, *part;
    } cases[] = {
        {"", 400, SV_ERR_VALIDATION, "empty"},
        {"{\"inputs\": ", 400, SV_ERR_VALIDATION, "invalid JSON"},
        {"[\"inputs\"]", 400, SV_ERR_VALIDATION, "object"},
        {"{}", 400, SV_ERR_VALIDATION, "missing field `inputs`"},
        {"{\"inputs\": []}", 400, SV_ERR_VALIDATION, "cannot be empty"},
        {"{\"inputs\": 1}", 400, SV_ERR_VALIDATION, "must be a string"},
        {"{\"inputs\": [\"a\", \"b\", \"c\"]}", 400, SV_ERR_VALIDATION, "pair"},
        {"{\"inputs\": [\"a\", 2]}", 400, SV_ERR_VALIDATION, "pair"},
        {"{\"inputs\": [[\"a\"], [\"a\", \"b\", \"c\"]]}", 400, SV_ERR_VALIDATION, "inputs[1]"},
        {"{\"inputs\": [[\"a\"], \"b\"]}", 400, SV_ERR_VALIDATION, "inputs[1]"},
        {"{\"inputs\": [[\"a\"], []]}", 400, SV_ERR_VALIDATION, "inputs[1]"},
        {"{\"inputs\": [[\"a\"], [\"b\"], [\"c\"]]}", 413, SV_ERR_VALIDATION, "maximum allowed batch size 2"},
        {"{\"inputs\": \"x\", \"truncate\": 1}", 400, SV_ERR_VALIDATION, "`truncate`"},
        {"{\"inputs\": \"x\", \"raw_scores\": \"yes\"}", 400, SV_ERR_VALIDATION, "`raw_scores`"},
        {"{\"inputs\": \"x\", \"truncation_direction\": \"middle\"}", 400, SV_ERR_VALIDATION, "left"},
        {"{\"inputs\": \"x\", \"adapter\": \"../etc\"}", 400, SV_ERR_VALIDATION, "adapter name"},
        {"{\"inputs\": \"x\", \"adapter\": \"\"}", 400, SV_ERR_VALIDATION, "adapter name"},
        {"{\"inputs\": \"x\", \"adapter\": 3}", 400, SV_ERR_VALIDATION, "adapter name"},
        {"{\"inputs\": \"a\\u0000b\"}", 422, SV_ERR_TOKENIZER, "NUL"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sv_predict_req r;
        sv_status st;
        int rc = parse(cases[i].body, 2, &r, &st);
        cr_assert_eq(rc, cases[i].http, "%s: %d %s", cases[i].body, rc, st.msg);
        cr_assert_eq(st.http, cases[i].http);
        cr_assert_str_eq(st.type, cases[i].type, "%s", cases[i].body);
        cr_assert(strstr(st.msg, cases[i].part), "%s: '%s' lacks '%s'", cases[i].body, st.msg, cases[i].part);
        sv_predict_req_free(&r);
    }
    /* an escaped backslash before u0000 is no NUL */
    sv_predict_req r;
    sv_status st;
    cr_assert_eq(parse("{\"inputs\": \"a\\\\u0000\"}", 2, &r, &st), 0, "%s", st.msg);
    cr_assert_str_eq(r.inputs[0].text, "a\\u0000");
    sv_predict_req_free(&r);
}

Test(serve_request, adapter_add) {
    char *name, *path;
    sv_status st;
    const char *ok = "{\"name\": \"sst2\", \"path\": \"/models/sst2\"}";
    cr_assert_eq(sv_parse_adapter_add(ok, strlen(ok), &name, &path, &st), 0);
    cr_assert(!strcmp(name, "sst2") && !strcmp(path, "/models/sst2"));
    free(name);
    free(path);
    const char *bad[] = {"{\"name\": \".hidden\", \"path\": \"x\"}",
                         "{\"name\": \"a/b\", \"path\": \"x\"}",
                         "{\"name\": \"a\", \"path\": \"\"}",
                         "{\"name\": \"a\"}",
                         "[]",
                         "{"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(sv_parse_adapter_add(bad[i], strlen(bad[i]), &name, &path, &st), 400, "%s", bad[i]);
        cr_assert(!name && !path);
    }
    char long_name[200];
    memset(long_name, 'a', sizeof long_name);
    long_name[129] = '\0';
    cr_assert(!sv_adapter_name_ok(long_name));
    long_name[128] = '\0';
    cr_assert(sv_adapter_name_ok(long_name));
}

Test(serve_request, answers) {
    sv_buf b = {0};
    const double scores[3] = {0.2, 0.7, 0.1};
    const char *labels[3] = {"neg", "pos \"quoted\"", "mid\n"};
    sv_predictions_json(&b, scores, labels, 3);
    cr_assert_str_eq(b.p, "[{\"score\":0.69999999999999996,\"label\":\"pos \\\"quoted\\\"\"},"
                          "{\"score\":0.20000000000000001,\"label\":\"neg\"},"
                          "{\"score\":0.10000000000000001,\"label\":\"mid\\n\"}]");
    sv_buf_free(&b);
    /* ties keep label order */
    const double tie[2] = {0.5, 0.5};
    sv_predictions_json(&b, tie, labels, 2);
    cr_assert(strstr(b.p, "neg") < strstr(b.p, "pos"));
    sv_buf_free(&b);
    sv_status st;
    sv_fail(&st, 429, SV_ERR_OVERLOADED, "too many: %d", 3);
    sv_error_json(&b, &st);
    cr_assert_str_eq(b.p, "{\"error\":\"too many: 3\",\"error_type\":\"Overloaded\"}");
    sv_buf_free(&b);
    sv_buf_json_string(&b, "\x01tab\t");
    cr_assert_str_eq(b.p, "\"\\u0001tab\\u0009\"");
    sv_buf_free(&b);
}

Test(serve_metrics, text) {
    sv_metrics m;
    sv_metrics_init(&m);
    sv_metrics_request(&m);
    sv_metrics_request(&m);
    sv_metrics_request(&m);
    sv_metrics_outcome(&m, "", NULL);
    sv_metrics_outcome(&m, "a1", SV_ERR_TOKENIZER);
    sv_metrics_outcome(&m, NULL, SV_ERR_OVERLOADED);
    sv_metrics_observe(&m, SV_H_QUEUE, 0.003);
    sv_metrics_observe(&m, SV_H_QUEUE, 20);
    sv_metrics_queue_add(&m, 5);
    sv_metrics_queue_add(&m, -2);
    sv_buf b = {0};
    sv_metrics_render(&m, &b);
    const char *want[] = {"te_request_count{method=\"predict\"} 3\n",
                          "te_request_success{method=\"predict\"} 1\n",
                          "te_request_failure{err=\"tokenizer\"} 1\n",
                          "te_request_failure{err=\"overloaded\"} 1\n",
                          "te_request_failure{err=\"validation\"} 0\n",
                          "te_queue_size 3\n",
                          "te_request_queue_duration_bucket{le=\"0.0025\"} 0\n",
                          "te_request_queue_duration_bucket{le=\"0.005\"} 1\n",
                          "te_request_queue_duration_bucket{le=\"10\"} 1\n",
                          "te_request_queue_duration_bucket{le=\"+Inf\"} 2\n",
                          "te_request_queue_duration_count 2\n",
                          "te_request_queue_duration_sum 20.003\n",
                          "# TYPE te_request_duration histogram\n",
                          "lorabert_adapter_requests{adapter=\"\"} 1\n",
                          "lorabert_adapter_requests{adapter=\"a1\"} 1\n",
                          "lorabert_adapter_failures{adapter=\"a1\"} 1\n"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) cr_assert(strstr(b.p, want[i]), "missing: %s", want[i]);
    /* an unknown adapter name is not a label */
    cr_assert_eq(strstr(b.p, "adapter=\"(null)\""), NULL);
    /* every non-comment line is "name{labels} value" or "name value" */
    for (char *line = strtok(b.p, "\n"); line; line = strtok(NULL, "\n")) {
        if (line[0] == '#') continue;
        cr_assert(strchr(line, ' '), "%s", line);
    }
    sv_buf_free(&b);
    sv_metrics_free(&m);
}

/* A fake loader: "fail" fails, anything else loads; counts opens and closes. */
static int opened, closed;
static const char *const fake_labels[2] = {"a", "b"};
static lb_status fake_open(void *ctx, const char *path, sv_adapter_desc *out, lb_error *err) {
    (void)ctx;
    if (strstr(path, "fail")) {
        err->code = LB_ERR_FORMAT;
        strcpy(err->msg, "x/adapter_model.safetensors: shape [4,32], expected [4,16]");
        return LB_ERR_FORMAT;
    }
    opened++;
    *out = (sv_adapter_desc){.handle = strdup(path), .num_labels = 2, .labels = fake_labels, .max_length = 8};
    return LB_OK;
}
static void fake_close(void *ctx, sv_adapter_desc *d) {
    (void)ctx;
    closed++;
    free(d->handle);
}

Test(serve_registry, lru_and_refs) {
    char dir[] = "/tmp/lbsvregXXXXXX";
    cr_assert(mkdtemp(dir));
    char path[256];
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/d%d", dir, i);
        mkdir(path, 0700);
        snprintf(path, sizeof path, "%s/d%d/adapter_config.json", dir, i);
        FILE *f = fopen(path, "w");
        fputs("{}", f);
        fclose(f);
    }
    opened = closed = 0;
    sv_loader ld = {.open = fake_open, .close = fake_close};
    sv_registry r;
    sv_registry_init(&r, &ld, dir, 3, NULL);
    sv_status st;
    cr_assert_eq(sv_registry_add(&r, "pinned", "/p", &st), 0);
    cr_assert_eq(sv_registry_add(&r, "pinned", "/p", &st), 409);
    cr_assert_eq(sv_registry_add(&r, "bad", "/fail", &st), 422);
    cr_assert(strstr(st.msg, "expected [4,16]"), "%s", st.msg);
    cr_assert_eq(sv_registry_count(&r), 1);
    sv_adapter *a0, *a1, *a2, *x;
    cr_assert_eq(sv_registry_acquire(&r, "nope", &x, &st), 400);
    cr_assert_eq(sv_registry_acquire(&r, "..", &x, &st), 400);
    cr_assert_eq(sv_registry_acquire(&r, "d0", &a0, &st), 0, "%s", st.msg);
    cr_assert_eq(sv_registry_acquire(&r, "d1", &a1, &st), 0);
    cr_assert_eq(sv_registry_count(&r), 3);
    /* full, d0 and d1 held, "pinned" pinned: no room */
    cr_assert_eq(sv_registry_acquire(&r, "d2", &a2, &st), 429);
    sv_registry_release(&r, a0);
    /* d0 is the least recently used free one: evicted for d2 */
    cr_assert_eq(sv_registry_acquire(&r, "d2", &a2, &st), 0);
    cr_assert_eq(closed, 1);
    sv_registry_release(&r, a1);
    sv_registry_release(&r, a2);
    /* use d1 again so d2 is the oldest; d3 evicts d2 */
    cr_assert_eq(sv_registry_acquire(&r, "d1", &a1, &st), 0);
    sv_registry_release(&r, a1);
    cr_assert_eq(sv_registry_acquire(&r, "d3", &x, &st), 0);
    sv_buf b = {0};
    sv_registry_json(&r, &b);
    cr_assert(strstr(b.p, "\"d1\"") && strstr(b.p, "\"d3\"") && !strstr(b.p, "\"d2\"") && !strstr(b.p, "\"d0\""), "%s",
              b.p);
    cr_assert(strstr(b.p, "\"evictions\":2"), "%s", b.p);
    sv_buf_free(&b);
    /* DELETE while held: unlisted now, closed at the last release */
    int before = closed;
    cr_assert_eq(sv_registry_remove(&r, "d3", &st), 0);
    cr_assert_eq(sv_registry_remove(&r, "d3", &st), 404);
    cr_assert_eq(closed, before);
    sv_registry_release(&r, x);
    cr_assert_eq(closed, before + 1);
    sv_registry_free(&r);
    cr_assert_eq(opened, closed);
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/d%d/adapter_config.json", dir, i);
        remove(path);
        snprintf(path, sizeof path, "%s/d%d", dir, i);
        rmdir(path);
    }
    rmdir(dir);
}
