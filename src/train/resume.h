/* The resume state: OUTPUT/resume/ that an interrupted run writes, the same state inside every
 * OUTPUT/checkpoint-<step>/, and a resumed run reading either back.
 *
 * Owns: the checkpoint folder (resume.json, optimizer.safetensors with the AdamW moments,
 * best.safetensors with the best epoch's parameters, the adapter files), written whole or not
 * at all and read back into the trainer's state (lb_resume_write / lb_resume_load); the parse
 * of resume.json text into a plain struct, with every field validated against the run it is
 * resumed into (sizes, ranges, the arithmetic that ties steps, epochs and rows
 * together, the batch order being a permutation), and the list of the checkpoint's other files
 * with their SHA-256 and the one checkpoint id they share.
 * Why: a resume folder is user input. Its numbers index arrays (order[], rows[], the epoch
 * table) and steer the schedule, so each one is checked before the trainer uses any; and a
 * folder whose files come from different steps must be refused, not trained on.
 * Guarantees: lb_resume_parse never reads or writes outside its buffers whatever the text, and
 * on LB_OK every field is within the bounds documented below; on error err names the file,
 * the field and the expected versus found value, and *out holds nothing to free. */
#ifndef LB_TRAIN_RESUME_H
#define LB_TRAIN_RESUME_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "base/error.h"
#include "model/model.h"
#include "train/optim.h"
#include "train/state.h"

#define LB_RESUME_FORMAT "lorabert-resume-1"
#define LB_RESUME_MAX_FILES 32
#define LB_RESUME_MAX_LABELS 64 /* = LB_METRICS_MAX_LABELS */

/* What the run being resumed is. */
typedef struct lb_resume_dims {
    int64_t n_train, n_eval; /* n_eval 0: no validation set */
    int epochs, batch_size;
    uint64_t seed;
    int64_t steps_per_epoch, total_steps;
    int num_labels;
    bool fixed_order;        /* a --batch-order file gives the batches (order[] unused) */
    int micro_per_step;      /* batches of a step: processes x gradient accumulation steps */
    const char *precision;   /* "fp32" | "bf16" */
    const char *run_options; /* lb_train_state.run_options of this run (NULL: not compared) */
} lb_resume_dims;

typedef struct lb_resume_eval {
    double loss, runtime_s;
    int64_t confusion[LB_RESUME_MAX_LABELS * LB_RESUME_MAX_LABELS]; /* [true][pred], first L*L */
} lb_resume_eval;

typedef struct lb_resume_row {
    double train_loss_logged, train_loss_mean; /* NaN: none */
    bool has_eval;
    lb_resume_eval eval;
} lb_resume_row;

typedef struct lb_resume_hist {
    int kind; /* 0 train log, 1 eval (the final entry is never in a checkpoint) */
    double epoch;
    int64_t step;
    double v[8];
} lb_resume_hist;

typedef struct lb_resume_file {
    char name[64];
    char sha256[65];
} lb_resume_file;

typedef struct lb_resume {
    char checkpoint_id[33];
    lb_resume_file files[LB_RESUME_MAX_FILES];
    int nfiles;
    /* 0 <= epoch < epochs, 0 <= step_in_epoch < steps_per_epoch,
     * global_step = epoch * steps_per_epoch + step_in_epoch >= 1, step_adam = global_step. */
    int64_t global_step, step_in_epoch, step_adam;
    int epoch;
    bool order_valid;                           /* order[] is this epoch's permutation of 0..n_train-1 */
    int32_t *order;                             /* [n_train] when order_valid, else NULL */
    uint64_t shuffle_rng[4], dropout_rng[4];    /* never all zero */
    double tr_loss, total_loss, epoch_loss_sum; /* finite, >= 0 */
    int64_t last_logged;                        /* 0..global_step */
    int64_t epoch_loss_steps;                   /* = step_in_epoch */
    double last_logged_loss;                    /* NaN: none yet */
    int best_epoch;                             /* 0 (none) .. epoch + 1; > 0 only with a validation set */
    int64_t best_step;                          /* a step of epoch best_epoch, <= global_step (0: none) */
    double best_metric;
    lb_resume_eval best_eval;
    double total_flos, train_time, token_time;
    int64_t tokens;
    int es_counter;      /* early stopping's counter, 0..global_step (absent in older files: 0) */
    lb_resume_row *rows; /* [epochs]; rows at and after `epoch` are empty */
    lb_resume_hist *hist;
    int nhist;
} lb_resume;

/* Parses resume.json (text[0..len), need not be NUL-terminated); path names it in errors. */
lb_status lb_resume_parse(const char *text, size_t len, const char *path, const lb_resume_dims *dims, lb_resume *out,
                          lb_error *err);
void lb_resume_free(lb_resume *r);

/* The digest resume.json records for `name`, or NULL when it lists no such file. */
const char *lb_resume_file_sha256(const lb_resume *r, const char *name);

/* work/resume: resume.json + optimizer.safetensors + best.safetensors + the adapter, written
 * into a staging folder that replaces work/resume in one rename only when complete. */
lb_status lb_resume_write(lb_model *m, const lb_train_state *s, const lb_adamw *opt, const lb_train_opts *o,
                          const char *work, lb_error *err);
/* work/checkpoint-<step of s>/, whole or not at all: HF's files (adapter, tokenizer files,
 * labels.json, trainer_state.json of s) and, when resume_at is non-NULL, the resume state of
 * resume_at (the run's state at the next step boundary; the same files and resume.json as
 * resume/, the adapter files the checkpoint's own). */
lb_status lb_resume_save_checkpoint(lb_model *m, const lb_train_state *s, const lb_train_state *resume_at,
                                    const lb_adamw *opt, const lb_train_opts *o, const char *work, lb_error *err);
/* The folder to resume from for path (malloc'd into *out): path itself when it holds
 * resume.json; for a run's output folder its newest checkpoint-<step>/ with resume.json, or its
 * resume/ when that one's global_step is larger (HF's get_last_checkpoint). An adapter folder
 * without resume.json: lb_resume_no_state's refusal (LB_ERR_FORMAT); no such folder or nothing
 * to resume from: LB_ERR_IO. */
lb_status lb_resume_find(const char *path, char **out, lb_error *err);
/* LB_ERR_FORMAT: dir holds no resume.json (an older lorabert's checkpoint, a last step's, a
 * pissa/olora run's). */
lb_status lb_resume_no_state(const char *dir, lb_error *err);
/* Reads o->resume_dir into s (counters, RNG streams, history, rows, best epoch) and opt (the
 * moments), after checking every file against resume.json's digests and checkpoint id. The
 * model must already hold the checkpoint's adapter (loaded from the same folder). s must be
 * sized for the run (order, rows, best_params when n_eval > 0). */
lb_status lb_resume_load(lb_model *m, lb_train_state *s, lb_adamw *opt, const lb_train_opts *o, int64_t n_eval,
                         lb_error *err);

#endif
