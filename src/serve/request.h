/* Request bodies and response bodies of `lorabert serve`, without sockets.
 *
 * Owns: parsing the JSON of POST /predict (TEI's PredictRequest plus the "adapter" extension)
 * and POST /adapters, with TEI's validation rules and HTTP codes; writing the JSON answers
 * (predictions sorted by score, TEI's error body) into a growable buffer.
 * Why: the HTTP glue (http.c) stays a dispatcher, and this part is unit-tested and fuzzed alone
 * (tests/unit/test_serve_request.c, fuzz/fuzz_serve_request.c).
 * Guarantees: any byte string gives either a request or an sv_status with an HTTP code, an
 * error_type and a one-line message (never a crash, nothing printed); output JSON is valid
 * UTF-8-transparent JSON (controls, quotes and backslashes escaped). */
#ifndef LB_SERVE_REQUEST_H
#define LB_SERVE_REQUEST_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* TEI's ErrorType names, as its JSON spells them. */
#define SV_ERR_VALIDATION "Validation"
#define SV_ERR_TOKENIZER "Tokenizer"
#define SV_ERR_OVERLOADED "Overloaded"
#define SV_ERR_UNHEALTHY "Unhealthy"
#define SV_ERR_BACKEND "Backend"
#define SV_ERR_AUTH "Unauthorized"
#define SV_ERR_NOT_FOUND "NotFound"

/* An HTTP error: code 0 means no error. */
typedef struct sv_status {
    int http;         /* 400, 401, 404, 413, 422, 429, 500, 503 */
    const char *type; /* one of SV_ERR_* (static) */
    char msg[512];
    int code; /* an lb_status: the library's status behind the error, when one is (an adapter's load); else 0 */
} sv_status;

/* Sets *st and returns st->http. */
int sv_fail(sv_status *st, int http, const char *type, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* One input: a text or a pair (pair NULL). Strings are NUL-terminated copies; len excludes it. */
typedef struct sv_input {
    char *text;
    size_t len;
    char *pair;
    size_t pair_len;
} sv_input;

typedef struct sv_predict_req {
    sv_input *inputs;
    int n;
    bool batch; /* the answer is a list of lists */
    bool truncate, truncate_left, raw_scores;
    char *adapter; /* NULL: the base model */
} sv_predict_req;

/* Parses a POST /predict body body[0..len). max_batch: --max-client-batch-size (more inputs: 413).
 * Returns 0 and fills *req, or the HTTP code with *st set (400 bad JSON / shape / empty batch,
 * 413 too many inputs, 422 a text holding a NUL). Free with sv_predict_req_free either way. */
int sv_parse_predict(const char *body, size_t len, int max_batch, sv_predict_req *req, sv_status *st);
void sv_predict_req_free(sv_predict_req *req);

/* POST /adapters {"name": "...", "path": "..."}: name is 1..128 bytes of [A-Za-z0-9._-], not
 * starting with '.'; path non-empty. Malloc'd copies into *name / *path. */
int sv_parse_adapter_add(const char *body, size_t len, char **name, char **path, sv_status *st);
/* Whether s is a valid adapter name (the rule above). */
bool sv_adapter_name_ok(const char *s);

/* A growable output buffer; on allocation failure it sets oom and stops growing. */
typedef struct sv_buf {
    char *p;
    size_t len, cap;
    bool oom;
} sv_buf;
void sv_buf_put(sv_buf *b, const char *s, size_t n);
void sv_buf_puts(sv_buf *b, const char *s);
void sv_buf_printf(sv_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s as a JSON string literal (quotes included). */
void sv_buf_json_string(sv_buf *b, const char *s);
void sv_buf_free(sv_buf *b);

/* {"error": msg, "error_type": type} */
void sv_error_json(sv_buf *b, const sv_status *st);

/* Writes one input's answer: [{"score": s, "label": name}, ...] over every label, by score
 * descending (ties keep label order). scores[L]. */
void sv_predictions_json(sv_buf *b, const double *scores, const char *const *labels, int L);

#endif
