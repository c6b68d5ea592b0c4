/* The non-WordPiece components of the tokenizers pipeline, chosen from tokenizer.json by "type":
 *   normalizers    Sequence of Precompiled (sentencepiece charsmap) / Replace (a literal, or the
 *                  regex "C{n,}", a run of one char) (normalizers/precompiled.rs, replace.rs)
 *   pre-tokenizers ByteLevel (GPT-2's regex, add_prefix_space, use_regex; pre_tokenizers/byte_level.rs),
 *                  Metaspace (replacement, add_prefix_space / prepend_scheme, split), BertPreTokenizer
 *   models         BPE (merge ranks, continuing_subword_prefix, end_of_word_suffix, unk + fuse_unk,
 *                  byte_fallback; models/bpe), Unigram (Viterbi over the pieces' scores, unk fused;
 *                  models/unigram)
 * Owns: the parsed component state and the per-word encoders. The loader (tokenizer_pipeline_load.c)
 * fills these from the file; tokenizer.c runs them, span by span, after added tokens are split off.
 * Why: RoBERTa / ModernBERT (byte-level BPE) and XLM-RoBERTa (sentencepiece Unigram) tokenizers.
 * Guarantees: ids identical to tokenizers 0.13.3's Tokenizer.encode for files it loads (checked by
 * tests/unit/test_tokenizer_pipeline.c on trained files); a malformed charsmap is an error, never an
 * out-of-bounds read; the BPE merge loop is O(n log n) per word (heap + linked symbols).
 * Limits: a word is at most 2^31 bytes; vocabularies below 2^24 ids (MAX_TOKEN_ID). */
#ifndef LB_TEXT_PIPELINE_H
#define LB_TEXT_PIPELINE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "base/error.h"
#include "text/bert_normalizer.h"
#include "text/vocab.h"

typedef enum { LB_MODEL_WORDPIECE = 0, LB_MODEL_BPE, LB_MODEL_UNIGRAM } lb_model_kind;
typedef enum { LB_PRE_NONE = 0, LB_PRE_BERT, LB_PRE_BYTELEVEL, LB_PRE_METASPACE } lb_pre_kind;
typedef enum { LB_PREPEND_ALWAYS = 0, LB_PREPEND_NEVER, LB_PREPEND_FIRST } lb_prepend;

/* ------------------------------------------------------------------ normalizers */
enum { LB_NSTEP_PRECOMPILED, LB_NSTEP_REPLACE, LB_NSTEP_REPLACE_RUN };
typedef struct lb_nstep {
    int kind;
    char *pat; /* REPLACE: the literal; REPLACE_RUN: the repeated char (UTF-8) */
    size_t plen;
    char *content; /* the replacement */
    size_t clen;
    uint32_t run_min; /* REPLACE_RUN: at least this many repeats */
    uint32_t *trie;   /* PRECOMPILED: the double array (darts-clone units) */
    size_t ntrie;
    char *norm; /* PRECOMPILED: NUL-separated replacement strings (valid UTF-8) */
    size_t nnorm;
} lb_nstep;

typedef struct lb_seqnorm {
    lb_nstep *steps;
    size_t n;
    bool enabled;
} lb_seqnorm;

void lb_seqnorm_free(lb_seqnorm *sn);
/* Parses a base64 precompiled_charsmap into st (the format spm_precompiled reads). */
lb_status lb_precompiled_parse(lb_nstep *st, const char *b64, lb_error *err);
/* Appends the normalized form of the valid UTF-8 text s[0..n) to out (tmp: scratch). */
lb_status lb_seqnorm_apply(const lb_seqnorm *sn, const uint8_t *s, size_t n, lb_bytebuf *out, lb_bytebuf *tmp,
                           lb_error *err);

/* ------------------------------------------------------------------ models */
typedef struct lb_merge_slot {
    uint64_t key;
    uint32_t rank;
    int32_t new_id;
} lb_merge_slot;

typedef struct lb_bpe {
    lb_merge_slot *merges; /* open addressing on (left id, right id); key UINT64_MAX: empty */
    uint32_t mask;
    char *prefix, *suffix; /* continuing_subword_prefix / end_of_word_suffix, NULL when none */
    char *unk_token;       /* NULL: unknown chars are dropped */
    int32_t unk_id;
    bool fuse_unk, byte_fallback;
    int32_t byte_id[256]; /* ids of <0xXX>, -1 when absent */
} lb_bpe;

typedef struct lb_unigram {
    double *scores; /* [n] by id */
    int32_t n;
    int32_t unk_id; /* -1: none (an unknown char is then an error, as in tokenizers) */
    double min_score;
} lb_unigram;

void lb_bpe_free(lb_bpe *b);
void lb_unigram_free(lb_unigram *u);
/* Builds the merge table from "a b" pairs (rank = index). Error names the merge. */
lb_status lb_bpe_add_merge(lb_bpe *b, const lb_vocab *v, const char *a, size_t alen, const char *bb, size_t blen,
                           uint32_t rank, lb_error *err);
lb_status lb_bpe_init_merges(lb_bpe *b, size_t n, lb_error *err);

/* Per-call scratch for the encoders (one per thread). */
typedef struct lb_pipe_scratch {
    lb_bytebuf word, norm2;
    lb_cpbuf spans;
    void *sym, *heap, *best; /* BPE symbols / merge heap / Viterbi nodes */
    size_t sym_cap, heap_cap, best_cap;
    lb_bytebuf piece;
} lb_pipe_scratch;
void lb_pipe_scratch_free(lb_pipe_scratch *ps);

/* Encodes one word (valid UTF-8, already pre-tokenized) and appends its ids. */
lb_status lb_bpe_word(const lb_bpe *b, const lb_vocab *v, const uint8_t *w, size_t n, lb_pipe_scratch *ps,
                      lb_cpbuf *ids, lb_error *err);
lb_status lb_unigram_word(const lb_unigram *u, const lb_vocab *v, const uint8_t *w, size_t n, lb_pipe_scratch *ps,
                          lb_cpbuf *ids, lb_error *err);

/* ------------------------------------------------------------------ pre-tokenizers */
typedef struct lb_pretok {
    int kind;              /* lb_pre_kind */
    bool add_prefix_space; /* ByteLevel */
    bool use_regex;        /* ByteLevel */
    char rep[5];           /* Metaspace replacement (UTF-8, NUL-terminated) */
    size_t rep_len;
    int prepend; /* Metaspace lb_prepend */
    bool split;  /* Metaspace */
} lb_pretok;

/* Pre-tokenizes the normalized span s[0..n) and appends (offset, length) pairs of the words of
 * the transformed text in ps->word to spans. at_start: the span begins the original text. */
lb_status lb_pretok_run(const lb_pretok *pt, const uint8_t *s, size_t n, bool at_start, lb_pipe_scratch *ps,
                        lb_error *err);
/* The ByteLevel regex alone: appends (offset, length) byte pairs of its matches on s to spans. */
lb_status lb_bytelevel_split(const uint8_t *s, size_t n, lb_cpbuf *spans, lb_error *err);

#endif
