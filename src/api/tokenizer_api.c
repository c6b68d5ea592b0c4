/* The public tokenizer handle: text/tokenizer.h behind lb_tokenizer_open / lb_tokenizer_encode. */
#include <stdlib.h>
#include <string.h>
#include "api/api.h"
#include "base/fileio.h"
#include "formats/hub.h"
#include "text/tokenizer.h"

lb_status lb_tokenizer_open(const char *dir_or_id, lb_tokenizer **out, lb_error *err) {
    LB_API_NOT_NULL(out);
    *out = NULL;
    char *dir = NULL;
    /* not a folder nor a repo id: the loader names what is wrong with the path */
    if (dir_or_id && !lb_dir_exists(dir_or_id) && !lb_hub_looks_like_repo_id(dir_or_id)) {
        *out = lb_tokenizer_load(dir_or_id, err);
        return *out ? LB_OK : (err ? err->code : LB_ERR_IO);
    }
    lb_status st = lb_api_resolve(dir_or_id, "model", NULL, &dir, err);
    if (st) return st;
    *out = lb_tokenizer_load(dir, err);
    free(dir);
    return *out ? LB_OK : (err ? err->code : LB_ERR_FORMAT);
}

void lb_tokenizer_close(lb_tokenizer *tok) { lb_tokenizer_free(tok); }

lb_status lb_tokenizer_encode(const lb_tokenizer *tok, const char *text, size_t len, const char *pair, size_t pair_len,
                              const lb_encode_options *opts, lb_tokens *out, lb_error *err) {
    lb_encode_options o = {0};
    if (opts) o = *opts;
    LB_API_NOT_NULL(tok);
    LB_API_NOT_NULL(out);
    if (!text) return lb_err(err, LB_ERR_USAGE, "encode: text is NULL");
    if (o.max_length < 0) return lb_err(err, LB_ERR_USAGE, "encode: max_length %d is negative", o.max_length);
    lb_tok_opts to = {.max_length = o.max_length,
                      .truncate_left = o.truncate_left,
                      .add_special_tokens = !o.no_special_tokens,
                      .replace_invalid_utf8 = o.replace_invalid_utf8};
    lb_encoding enc = {.ids = out->ids, .n = 0, .cap = out->cap};
    int32_t *types = out->type_ids;
    int32_t old_cap = out->cap;
    lb_status st = pair ? lb_tokenize_pair(tok, text, len, pair, pair_len, &to, &enc, &types, err)
                        : lb_tokenize(tok, text, len, &to, &enc, err);
    out->ids = enc.ids;
    if (!pair && !st && (enc.cap > old_cap || !types)) {
        /* single texts: every type id is 0; keep type_ids as large as ids */
        int32_t *t = realloc(types, (size_t)(enc.cap > 0 ? enc.cap : 1) * sizeof *t);
        if (!t) st = lb_err(err, LB_ERR_NOMEM, "out of memory");
        else types = t;
    }
    out->type_ids = types;
    out->cap = enc.cap;
    out->n = st ? 0 : enc.n;
    if (!pair && !st) memset(out->type_ids, 0, (size_t)enc.n * sizeof *out->type_ids);
    return st;
}

void lb_tokens_free(lb_tokens *t) {
    if (!t) return;
    free(t->ids);
    free(t->type_ids);
    memset(t, 0, sizeof *t);
}
