/* Tokenizers exactly as Hugging Face's fast tokenizer (tokenizers crate). WordPiece (BERT):
 * added special tokens split out literally, BertNormalizer, BertPreTokenizer, WordPiece,
 * truncation (left/right, specials kept), [CLS] A [SEP] post-processing. */
#ifndef LB_TEXT_TOKENIZER_H
#define LB_TEXT_TOKENIZER_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "base/error.h"

typedef struct lb_tokenizer lb_tokenizer;

/* Loads dir/tokenizer.json if present, else dir/vocab.txt, as transformers'
 * (Distil)BertTokenizerFast.from_pretrained(dir) does: tokenizer_config.json (do_lower_case,
 * strip_accents, tokenize_chinese_chars, model_max_length, special tokens) and
 * special_tokens_map.json are applied when present; their defaults (lowercase on) override
 * tokenizer.json's BertNormalizer flags, and the vocab.txt path matches [CLS] [SEP] [PAD]
 * [UNK] [MASK] literally in the text. tokenizer.json may also hold a BPE or Unigram pipeline
 * (text/pipeline.h: RoBERTa, ModernBERT, XLM-R); unsupported components fail with
 * LB_ERR_UNSUPPORTED naming the type. */
lb_tokenizer *lb_tokenizer_load(const char *dir, lb_error *err);
/* lb_tokenizer_load with the transformers class AutoTokenizer would build, which can override
 * tokenizer.json: tokenizer_config.json's tokenizer_class, else the model_type of dir/config.json,
 * else model_type (the model the files belong to, e.g. an adapter folder's base; may be NULL).
 * (Distil)BertTokenizerFast rebuild a BertNormalizer from the settings above (also when no class
 * is known, as before); RobertaTokenizerFast sets a top-level ByteLevel pre-tokenizer's
 * add_prefix_space to tokenizer_config.json's (default false); PreTrainedTokenizerFast and
 * XLMRobertaTokenizerFast read tokenizer.json as written. */
lb_tokenizer *lb_tokenizer_load_as(const char *dir, const char *model_type, lb_error *err);
/* The files of a tokenizer folder that lb_tokenizer_load reads (NULL-terminated): tokenizer.json,
 * vocab.txt, tokenizer_config.json, special_tokens_map.json. */
extern const char *const lb_tokenizer_files[];
/* Copies those of lb_tokenizer_files that exist in src_dir into dst_dir (each atomically), as
 * transformers' Trainer saves the tokenizer next to a model or adapter. src_dir NULL: nothing. */
lb_status lb_tokenizer_copy_files(const char *src_dir, const char *dst_dir, lb_error *err);
/* tokenizer.json exactly as tokenizers' Tokenizer.from_file (no transformers settings). */
lb_tokenizer *lb_tokenizer_load_json(const char *path, lb_error *err);
lb_tokenizer *lb_tokenizer_load_vocab(const char *vocab_path, const char *tokenizer_config_path /* may be NULL */,
                                      lb_error *err);
void lb_tokenizer_free(lb_tokenizer *tok);

typedef struct lb_tok_opts {
    int max_length;            /* 0: no truncation; else total length including specials */
    bool truncate_left;        /* truncation_side="left": keep the last tokens */
    bool add_special_tokens;   /* [CLS] ... [SEP] */
    bool replace_invalid_utf8; /* false: invalid UTF-8 is an error naming the byte offset */
} lb_tok_opts;

typedef struct lb_encoding {
    int32_t *ids; /* [n] token ids (capacity cap); free with lb_encoding_free */
    int32_t n, cap;
} lb_encoding;

/* Tokenizes text[0..len) into out (reusing its buffer). opts NULL: specials, no truncation,
 * invalid UTF-8 is an error. A loaded tokenizer is read-only: calls may run concurrently. */
lb_status lb_tokenize(const lb_tokenizer *tok, const char *text, size_t len, const lb_tok_opts *opts, lb_encoding *out,
                      lb_error *err);
/* Sentence pair: [CLS] A [SEP] B [SEP]; token_type_ids filled when non-NULL (0 for A, 1 for B):
 * *token_type_ids is realloc'd to out->cap entries (start with NULL; the caller frees it).
 * Truncation is longest_first, as tokenizers. max_length below the specials' count is an error. */
lb_status lb_tokenize_pair(const lb_tokenizer *tok, const char *a, size_t alen, const char *b, size_t blen,
                           const lb_tok_opts *opts, lb_encoding *out, int32_t **token_type_ids, lb_error *err);
void lb_encoding_free(lb_encoding *e);

const char *lb_tokenizer_id_to_token(const lb_tokenizer *tok, int32_t id);
int32_t lb_tokenizer_token_to_id(const lb_tokenizer *tok, const char *token); /* -1 if absent */
int32_t lb_tokenizer_vocab_size(const lb_tokenizer *tok);                     /* 1 + the largest id (vocab or added) */
int32_t lb_tokenizer_pad_id(const lb_tokenizer *tok);
int32_t lb_tokenizer_model_max_length(const lb_tokenizer *tok); /* 512 unless configured */
/* The model of the tokenizer: "WordPiece", "BPE" or "Unigram" (tokenizers' model.type). */
const char *lb_tokenizer_model_name(const lb_tokenizer *tok);

#endif
