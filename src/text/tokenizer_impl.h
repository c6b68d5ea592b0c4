/* Internal layout of lb_tokenizer, shared by the loader (tokenizer_load.c) and the encoder
 * (tokenizer.c). Not part of the public interface. */
#ifndef LB_TEXT_TOKENIZER_IMPL_H
#define LB_TEXT_TOKENIZER_IMPL_H
#include "text/added_tokens.h"
#include "text/bert_normalizer.h"
#include "text/pipeline.h"
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
    lb_wordpiece wp;       /* WordPiece; wp.full is every model's token -> id table */
    int model;             /* lb_model_kind (0: WordPiece) */
    lb_bpe bpe;            /* model BPE */
    lb_unigram uni;        /* model Unigram */
    lb_seqnorm snorm;      /* a non-Bert normalizer (enabled: present) */
    lb_pretok pretok;      /* the pre-tokenizer of BPE / Unigram models */
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

/* tokenizer_pipeline_load.c: the non-WordPiece components of a tokenizer.json (j), and RobertaProcessing. */
struct cJSON;
lb_status lb_tok_parse_pipeline(lb_tokenizer *tok, const char *path, const struct cJSON *j, lb_error *err);
lb_status lb_tok_parse_roberta(lb_tokenizer *tok, const char *path, const struct cJSON *pp, lb_error *err);
/* tokenizer.c: the file's normalizer (Bert, Sequence, or none) applied to s[0..n), appended to out. */
lb_status lb_tok_normalize(const lb_tokenizer *tok, const uint8_t *s, size_t n, lb_bytebuf *out, lb_cpbuf *pend,
                           lb_bytebuf *tmp, lb_error *err);

#endif
