/* libFuzzer harness for the model config parser (src/model/config.c): any bytes as
 * config.json must be accepted or rejected with a message, never crash or leak. Each input is
 * parsed twice: with the file's own labels, and with a num_labels override (3 labels, the
 * second time with caller-given names). Accepted configs must satisfy the invariants the rest
 * of the model code relies on (positive sizes, heads dividing the hidden size, >= 2 labels (1 for regression),
 * every label named, dropouts in [0, 1)). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "model/internal.h"

static void check_ok(const lb_model *m) {
    const lb_model_config *c = &m->cfg;
    if (!m->arch || !m->config_json) abort();
    if (c->vocab_size < 1 || c->dim < 1 || c->n_layers < 1 || c->n_heads < 1 || c->hidden_dim < 1 || c->max_pos < 1 ||
        c->dim % c->n_heads != 0)
        abort();
    /* token types only where the architecture has an embedding for them (BERT, RoBERTa, XLM-R) */
    if (m->arch->has_token_type ? c->type_vocab_size < 1 : c->type_vocab_size != 0) abort();
    /* the sequence limit: every position; RoBERTa / XLM-R's start after the pad id, at least one */
    if (c->max_tokens < 1 || c->max_tokens > c->max_pos) abort();
    if (m->arch->pos_from_pad && c->max_tokens != c->max_pos - c->pad_token_id - 1) abort();
    /* one output only for regression (HF: num_labels 1 without problem_type means regression) */
    if (c->num_labels < (c->problem == LB_PROBLEM_REGRESSION ? 1 : 2) || !c->id2label) abort();
    for (int i = 0; i < c->num_labels; i++)
        if (!c->id2label[i]) abort();
    float p[3] = {c->hidden_dropout, c->attention_dropout, c->classifier_dropout};
    for (int i = 0; i < 3; i++)
        if (!(p[i] >= 0.0f && p[i] < 1.0f)) abort();
    /* layer_norm_eps is range-checked as a double; a tiny one (1e-52) rounds to 0 in float32,
     * as it does in torch's float32 LayerNorm, so only finiteness and sign are invariant. */
    if (!(c->ln_eps >= 0.0f && isfinite(c->ln_eps))) abort();
}

static void parse_once(const char *text, const lb_load_opts *opts) {
    lb_model *m = calloc(1, sizeof *m);
    if (!m) abort();
    lb_error e;
    memset(&e, 0, sizeof e);
    lb_status st = lb_config_parse_text(m, "fuzz/config.json", text, opts, &e);
    if (st) {
        if (e.code != st || !e.msg[0]) abort(); /* a rejection must say why */
    } else {
        check_ok(m);
        if (opts && opts->num_labels && m->cfg.num_labels != opts->num_labels) abort();
    }
    lb_config_free(&m->cfg);
    cJSON_Delete(m->config_json);
    free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1); /* the parser takes NUL-terminated text, as read from a file */
    if (!text) abort();
    memcpy(text, data, size);
    text[size] = '\0';
    parse_once(text, NULL);
    const char *names[3] = {"neg", "neutral", "pos"};
    lb_load_opts o1 = {.num_labels = 3, .quiet = true};
    lb_load_opts o2 = {.num_labels = 3, .labels = names, .quiet = true};
    parse_once(text, (size & 1) ? &o2 : &o1);
    free(text);
    return 0;
}
