/* The OpenAPI 3 document of `lorabert serve` (GET /api-doc/openapi.json).
 *
 * Owns: the one description of every route, its request body, its answers (codes, schemas,
 * headers) and the bearer-token security when --api-key is set.
 * Why: clients and schemathesis (tests/cli/serve_schema.sh) read it; it must match the server.
 * Guarantees: the text is valid JSON (checked by the tests); limits in it (max client batch
 * size) are the running server's. */
#ifndef LB_SERVE_OPENAPI_H
#define LB_SERVE_OPENAPI_H
#include <stdbool.h>
#include "serve/request.h"

/* Appends the document to b. */
void sv_openapi_json(sv_buf *b, const char *version, int max_client_batch_size, bool api_key);

#endif
