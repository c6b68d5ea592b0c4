/* The HF Trainer loop for LoRA classifiers: tokenized datasets, per-epoch shuffling, dynamic
 * padding, forward -> cross-entropy -> backward -> clip -> AdamW -> linear schedule, per-epoch
 * evaluation with metrics, best-model tracking, PEFT checkpoints, trainer_state.json with HF's
 * log_history layout, metrics.json, an SVG training-curve plot, and resumable interruption.
 * This module owns the training loop and everything written under the output folder; it prints
 * only to the FILE * given in lb_train_opts.log (NULL: silent). */
#ifndef LB_TRAIN_TRAINER_H
#define LB_TRAIN_TRAINER_H
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "base/outdir.h"
#include "model/model.h"
#include "text/tokenizer.h"
#include "train/metrics.h"

/* Tokenized labelled examples, all sequences end to end. */
typedef struct lb_tokset {
    int64_t n;
    int32_t *ids;       /* [offsets[n]] */
    int64_t *offsets;   /* [n+1] */
    int32_t *labels;    /* [n] */
    int32_t *type_start; /* [n] position where token type 1 (the pair's second text) starts;
                          * the length for single texts */
    bool has_pairs;     /* some example is a pair: batches carry token_type_ids */
    int64_t cap_n, cap_ids;  /* allocated sizes */
} lb_tokset;

/* Tokenizes texts once (HF: tokenizer(text, truncation=True, max_length, truncation_side)).
 * labels[i] must lie in [0, num_labels): otherwise LB_ERR_FORMAT naming the row. n == 0 is an
 * error ("empty dataset"). `what` names the data in messages (e.g. the file). */
lb_status lb_tokset_build(lb_tokset *ts, const lb_tokenizer *tok, const char *const *texts /* [n] */,
                          const size_t *lens /* [n] */, const int32_t *labels /* [n] */, int64_t n,
                          int num_labels, int max_length, bool truncate_left, const char *what, lb_error *err);
/* Sentence pairs (HF: tokenizer(a, b, truncation=True, max_length)): [CLS] A [SEP] B [SEP] with
 * token_type_ids 0 up to and including the first [SEP], 1 after; longest_first truncation.
 * pairs == NULL is lb_tokset_build. */
lb_status lb_tokset_build_pairs(lb_tokset *ts, const lb_tokenizer *tok, const char *const *texts /* [n] */,
                                const size_t *lens /* [n] */, const char *const *pairs /* [n] or NULL */,
                                const size_t *pair_lens /* [n] */, const int32_t *labels /* [n] */, int64_t n,
                                int num_labels, int max_length, bool truncate_left, const char *what, lb_error *err);
/* Appends one already tokenized example (used by tests and pre-tokenized inputs). */
lb_status lb_tokset_add(lb_tokset *ts, const int32_t *ids, int32_t len, int32_t label, lb_error *err);
/* The same for a pair whose second text starts at type_start (token_type_ids 1 from there). */
lb_status lb_tokset_add_pair(lb_tokset *ts, const int32_t *ids, int32_t len, int32_t type_start, int32_t label,
                             lb_error *err);
void lb_tokset_free(lb_tokset *ts);

/* lb_eval_result (HF eval_loss + metrics) is defined in lorabert.h. */

/* Eval mode (no dropout), sequential batches of batch_size, dynamic padding. logits_out
 * [n, num_labels] may be NULL. A non-finite logit (NaN/Inf, as torch would compute it) or a
 * non-finite mean loss is LB_ERR_NUMERIC naming the example (0-based row of data): no metrics
 * are computed from it. */
lb_status lb_evaluate(lb_model *m, const lb_tokset *data, int batch_size, lb_eval_result *res,
                      float *logits_out, lb_error *err);

typedef enum lb_best_metric { LB_BEST_LOSS, LB_BEST_ACCURACY, LB_BEST_F1, LB_BEST_PRECISION, LB_BEST_RECALL } lb_best_metric;

/* The output folder of a run, opened (locked, checked, cleaned) for the whole run; see
 * lb_train_output_open. */
typedef struct lb_train_output {
    char *dir;             /* canonical output folder */
    char *work;            /* where checkpoints are written: dir, or run.dir when staged */
    bool staged;           /* replacing a previous run: the whole run is built in run.dir */
    lb_staging run;
    lb_outdir_lock lock;
} lb_train_output;

typedef struct lb_train_opts {
    int epochs;                /* 10 */
    int batch_size;            /* 4 */
    int eval_batch_size;       /* 4 */
    double lr;                 /* 1e-3 */
    float weight_decay;        /* 0.01 */
    int64_t warmup_steps;      /* 0 */
    double max_grad_norm;      /* 1.0; <= 0 disables clipping */
    uint64_t seed;             /* 42: data order and dropout */
    int logging_steps;         /* 500 */
    lb_best_metric best;       /* LB_BEST_LOSS: lowest eval loss wins; others: highest */
    const char *output_dir;    /* NULL: nothing is written */
    bool overwrite_output;     /* output_dir may hold a previous run's output (replaced at the end) */
    struct lb_train_output *output;  /* output_dir already opened by the caller (NULL: lb_train opens it) */
    const char *base_model_name;  /* adapter_config base_model_name_or_path */
    const char *tokenizer_dir;    /* tokenizer files copied next to the adapters (NULL: none) */
    char **label_names;        /* [num_labels] written to labels.json (NULL: LABEL_i) */
    /* Test option: per-step batches of row indices (HF order.json); replaces shuffling.
     * n_order_steps must be a multiple of epochs. */
    const int32_t *order_rows;     /* concatenated rows of every step */
    const int32_t *order_offsets;  /* [n_order_steps+1] */
    int64_t n_order_steps;
    const char *resume_dir;    /* continue from a checkpoint written on interruption */
    volatile sig_atomic_t *stop;   /* set asynchronously (signal) -> checkpoint, LB_ERR_INTERRUPTED */
    int64_t stop_after_step;   /* test hook: behave as if stopped after this global step (0: off) */
    FILE *log;                 /* progress, table, notices; NULL: silent */
    float *step_losses;        /* optional [total steps]: each step's mean batch loss */
    float *step_grad_norms;    /* optional [total steps]: global grad norm before clipping */
} lb_train_opts;

void lb_train_defaults(lb_train_opts *o);

/* lb_train_result is defined in lorabert.h. */

/* Takes the lock of o->output_dir (another writer: LB_ERR_IO naming its pid), removes the
 * leftovers of killed runs (temporaries, staging folders; see base/outdir.h) and decides where
 * the run writes:
 *   - absent or empty folder: the run writes into it (checkpoints appear as they are made);
 *   - o->resume_dir is output_dir/resume: the interrupted run continues in it;
 *   - another run's output and o->overwrite_output: the whole run is built in a staging folder
 *     beside it that replaces it in one rename when the run ends or is interrupted; a failed
 *     run leaves the old folder untouched;
 *   - anything else is refused (LB_ERR_USAGE naming the entries in the way); with
 *     o->overwrite_output a folder holding entries lorabert does not write is refused too.
 * o->output_dir NULL: nothing to do. Close with lb_train_output_close (also after failures). */
lb_status lb_train_output_open(const lb_train_opts *o, lb_train_output *out, lb_error *err);
void lb_train_output_close(lb_train_output *out);

/* Trains m (which must hold an adapter: lb_model_add_lora or lb_peft_load) on train,
 * evaluating on eval (may be NULL) each epoch. At the end m holds the best epoch's adapter (the
 * last one without eval). With output_dir: checkpoint-<step>/ per epoch, the best adapter at
 * the top level with tokenizer files and labels.json, trainer_state.json, metrics.json and
 * training_curves.svg; each checkpoint, the resume folder and the final output folder appear
 * whole or not at all (staging + rename). Non-finite loss stops with LB_ERR_NUMERIC naming the step; a stop
 * request writes output_dir/resume/ and returns LB_ERR_INTERRUPTED. */
lb_status lb_train(lb_model *m, const lb_tokset *train, const lb_tokset *eval, const lb_train_opts *opts,
                   lb_train_result *res, lb_error *err);


/* Reads an HF trajectory order.json ({"epochs": E, "steps": [[rows...], ...]}) into malloc'd
 * arrays for lb_train_opts.order_*; *epochs gets E (0 when absent). */
lb_status lb_batch_order_load(const char *path, int32_t **rows, int32_t **offsets, int64_t *n_steps,
                              int *epochs, lb_error *err);

#endif
