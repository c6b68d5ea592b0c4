/* Internal layout of lb_tokenizer, shared by the loader (tokenizer_load.c) and the encoder
 * (tokenizer.c). Not part of the public interface. */
#ifndef LB_TEXT_TOKENIZER_IMPL_H
#define LB_TEXT_TOKENIZER_IMPL_H
#include "text/added_tokens.h"
#include "text/bert_normalizer.h"
#include "text/tokenizer.h"
#include "text/wordpiece.h"

/* One piece of a post-processing template: a special token (seq < 0, with its ids) or
 * sequence A (seq 0) / B (seq 1). */
typedef struct lb_tmpl_item {
    int seq;
    int32_t type_id;
    int32_t *ids;
    int32_t nids;
} lb_tmpl_item;

typedef struct lb_tmpl {
    lb_tmpl_item *items;
    int32_t n;
    int32_t n_special; /* ids the template adds (truncation reserves room for them) */
} lb_tmpl;

struct lb_tokenizer {
    lb_bert_norm norm;
    lb_wordpiece wp;
    lb_added_token *added; /* [n_added] */
    size_t n_added;
    lb_added_matcher raw_m;  /* normalized=false added tokens, matched in the raw text */
    lb_added_matcher norm_m; /* normalized=true ones, matched in the normalized text */
    bool has_post;
    lb_tmpl single, pair;
    const char **id_tok; /* [n_ids] id -> token (into wp.full's pool or added contents); may be NULL */
    int32_t n_ids;
    int32_t pad_id;
    int32_t model_max_length;
};

#endif
