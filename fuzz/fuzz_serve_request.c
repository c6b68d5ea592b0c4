/* libFuzzer harness for the request bodies of `lorabert serve` (POST /predict, POST /adapters):
 * any bytes give a request or an HTTP error with a type and a message; never a crash or leak.
 * Accepted requests hold 1..max_batch inputs whose texts survive a round trip through the
 * server's JSON string writer and cJSON. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include "serve/request.h"

static void round_trip(const char *s) {
    sv_buf b = {0};
    sv_buf_json_string(&b, s);
    if (b.oom) abort();
    cJSON *j = cJSON_ParseWithLength(b.p, b.len);
    if (!cJSON_IsString(j) || strcmp(j->valuestring, s)) abort();
    cJSON_Delete(j);
    sv_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *body = (const char *)data;
    sv_predict_req r;
    sv_status st;
    int rc = sv_parse_predict(body, size, 4, &r, &st);
    if (rc) {
        if (rc != st.http || !st.type || !st.msg[0] || (rc != 400 && rc != 413 && rc != 422 && rc != 500)) abort();
    } else {
        if (r.n < 1 || r.n > 4 || (!r.batch && r.n != 1)) abort();
        for (int i = 0; i < r.n; i++) {
            if (!r.inputs[i].text || strlen(r.inputs[i].text) != r.inputs[i].len) abort();
            round_trip(r.inputs[i].text);
            if (r.inputs[i].pair) round_trip(r.inputs[i].pair);
        }
        if (r.adapter && !sv_adapter_name_ok(r.adapter)) abort();
        double scores[3] = {0.5, 0.25, 0.25};
        const char *labels[3] = {r.inputs[0].text, "b", r.adapter ? r.adapter : "c"};
        sv_buf b = {0};
        sv_predictions_json(&b, scores, labels, 3);
        cJSON *j = cJSON_ParseWithLength(b.p, b.len);
        if (!cJSON_IsArray(j) || cJSON_GetArraySize(j) != 3) abort();
        cJSON_Delete(j);
        sv_buf_free(&b);
    }
    sv_predict_req_free(&r);
    char *name, *path;
    rc = sv_parse_adapter_add(body, size, &name, &path, &st);
    if (rc == 0 && (!sv_adapter_name_ok(name) || !path[0])) abort();
    if (rc && (name || path || !st.msg[0])) abort();
    free(name);
    free(path);
    return 0;
}
