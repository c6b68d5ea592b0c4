/* Tokenised training / evaluation sets and the collator that turns rows into padded batches.
 *
 * Owns: lb_tokset, every example of a labelled dataset tokenised once (HF: dataset.map(
 * tokenizer(..., truncation=True, max_length)) with label ids checked against the model), and
 * lb_collator, the buffers of DataCollatorWithPadding: rows right-padded to the longest one of
 * the batch, token_type_ids for sentence pairs (padding gets type 0).
 * Why: the trainer, evaluation and the public training run all feed the model the same way;
 * the batch layout (dynamic padding, the pair's type start) is part of HF parity.
 * Guarantees: a built tokset holds only labels in [0, num_labels) (the row is named otherwise);
 * on error nothing is left to free. lb_collate reads only rows[0..B) of the set (the caller
 * checks row indices) and never reallocates below the largest batch seen. */
#ifndef LB_TRAIN_TOKSET_H
#define LB_TRAIN_TOKSET_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "base/error.h"
#include "model/model.h"
#include "text/tokenizer.h"

/* Tokenized labelled examples, all sequences end to end. */
typedef struct lb_tokset {
    int64_t n;
    int32_t *ids;           /* [offsets[n]] */
    int64_t *offsets;       /* [n+1] */
    int32_t *labels;        /* [n] */
    int32_t *type_start;    /* [n] position where token type 1 (the pair's second text) starts;
                          * the length for single texts */
    bool has_pairs;         /* some example is a pair: batches carry token_type_ids */
    int64_t cap_n, cap_ids; /* allocated sizes */
    /* Multi-label and regression sets: each example's n_targets values (multi-hot 0/1, or the
     * regression values; lb_tokset_set_targets); labels[] are then 0. NULL: class ids only. */
    float *targets; /* [n * n_targets] */
    int n_targets;
} lb_tokset;

/* Tokenizes texts once (HF: tokenizer(text, truncation=True, max_length, truncation_side)).
 * labels[i] must lie in [0, num_labels): otherwise LB_ERR_FORMAT naming the row. labels NULL:
 * every label 0 (a multi-label or regression set: lb_tokset_set_targets gives the values). n == 0 is an
 * error ("empty dataset"). `what` names the data in messages (e.g. the file).
 * Sentence pairs when pairs != NULL (HF: tokenizer(a, b, truncation=True, max_length)):
 * [CLS] A [SEP] B [SEP] with token_type_ids 0 up to and including the first [SEP], 1 after;
 * longest_first truncation. */
lb_status lb_tokset_build_pairs(lb_tokset *ts, const lb_tokenizer *tok, const char *const *texts /* [n] */,
                                const size_t *lens /* [n] */, const char *const *pairs /* [n] or NULL */,
                                const size_t *pair_lens /* [n] */, const int32_t *labels /* [n] */, int64_t n,
                                int num_labels, int max_length, bool truncate_left, const char *what, lb_error *err);
/* Appends one already tokenized example whose second text starts at type_start (token_type_ids
 * 1 from there; type_start == len: a single text). */
lb_status lb_tokset_add_pair(lb_tokset *ts, const int32_t *ids, int32_t len, int32_t type_start, int32_t label,
                             lb_error *err);
/* Copies targets [ts->n * k] (k >= 1 values per example, each finite) into ts->targets,
 * replacing any. A non-finite value is LB_ERR_FORMAT naming its example. */
lb_status lb_tokset_set_targets(lb_tokset *ts, const float *targets, int k, lb_error *err);
void lb_tokset_free(lb_tokset *ts);

/* Batch buffers, grown to the largest batch seen. Start from a zeroed struct. */
typedef struct lb_collator {
    int32_t *ids;     /* [B*T] */
    int32_t *types;   /* [B*T] token_type_ids (pair datasets only) */
    int32_t *lengths; /* [B] */
    int32_t *labels;  /* [B] the batch's labels, in row order */
    int64_t cap_bt, cap_types;
    int cap_b;
    float *targets; /* [B * ts->n_targets] the batch's targets (sets with targets), row order */
    int64_t cap_targets;
} lb_collator;

/* Right-pads rows[0..B) of ts to the longest (DataCollatorWithPadding) with pad_id; *out points
 * into c's buffers until the next call. Returns the batch's real tokens, or -1 when out of
 * memory. */
int64_t lb_collate(lb_collator *c, const lb_tokset *ts, const int32_t *rows, int B, int32_t pad_id, lb_batch *out);
void lb_collator_free(lb_collator *c);

#endif
