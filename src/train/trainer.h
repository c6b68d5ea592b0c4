/* The HF Trainer step and epoch loop for LoRA classifiers.
 *
 * Owns: a run in progress (lb_trainer): the AdamW state, the data order (per-epoch shuffling
 * or a fixed batch order), the optimizer step (zero grad -> forward -> loss -> backward ->
 * clip -> AdamW -> linear schedule; the loss is cross-entropy, HF's label smoothing or
 * torch's class-weighted cross-entropy, also for the eval loss, as HF's compute_loss), the
 * loss logging of HF (logging_steps), and the evaluations (train/evaluate.h) and checkpoints
 * (train/run_files.h) of HF's DefaultFlowCallback: after a step for the "steps" strategies
 * (eval_steps / save_steps), after an epoch's last step for "epoch"; the best checkpoint is
 * tracked at a save whose call evaluated (HF _save_checkpoint), early stopping at every
 * evaluation (in the middle of an epoch too); at the last step the final output; on a cancel request the resume
 * checkpoint (train/resume.h). lb_trainer_run() is the loop over lb_trainer_step.
 * Why: the CLI, the public lb_train_run_* API, the benches and the tests all train through one
 * step function, so they compute the same thing (HF parity, bitwise-identical resume).
 * Guarantees: the library prints nothing: progress, the per-epoch results and HF's notices
 * reach the caller through lb_train_callbacks (lorabert.h); a failed or interrupted step
 * leaves the output folder as documented in run_files.h and every later step is refused;
 * cancellation is read only between steps. HF semantics (transformers 4.32 Trainer): the
 * scheduler steps after each optimizer step, the logged loss is the float32 running sum since
 * the last log divided by the steps, rounded to 4 decimals; eval_loss weights each batch's mean
 * loss by its size; the best epoch is the lowest eval_loss (strictly better replaces), or the
 * highest of another metric. A trainer is used by one thread at a time. */
#ifndef LB_TRAIN_TRAINER_H
#define LB_TRAIN_TRAINER_H
#include <stdbool.h>
#include <stdint.h>
#include "base/error.h"
#include "model/model.h"
#include "train/evaluate.h"
#include "train/metrics.h"
#include "train/run_files.h"
#include "train/state.h"
#include "train/tokset.h"

/* HF TrainingArguments' defaults (the seed recipe) in lb_train_opts. */
void lb_train_defaults(lb_train_opts *o);

typedef struct lb_trainer lb_trainer;

/* Opens a run of m (which must hold an adapter: lb_model_add_lora or lb_peft_load) on train,
 * evaluating on eval (may be NULL) at each epoch's end. Checks the options and every example's
 * length against the model, opens o->output_dir (unless o->output is already open), reads
 * o->resume_dir, and announces the run through cb->on_log (PEFT's trainable-parameters line,
 * "resuming at step ...", the run's size). train NULL opens a run for lb_trainer_step_batch:
 * then eval, output_dir, resume_dir and the batch order must be NULL and o->max_steps >= 1 is
 * the schedule's total. m, train, eval, *o's strings and arrays and cb->cancel must outlive the
 * trainer; *o and *cb are copied. cb may be NULL. */
lb_status lb_trainer_open(lb_model *m, const lb_tokset *train, const lb_tokset *eval, const lb_train_opts *o,
                          const lb_train_callbacks *cb, lb_trainer **out, lb_error *err);

/* One optimizer step on the next batch of the data order (then cb->on_step), plus the
 * evaluation / checkpoint-<step>/ its strategies call for (then cb->on_evaluate for "steps"),
 * plus at an epoch's last step the epoch strategies' (then cb->on_epoch), plus at the run's last step the final output (the best epoch's adapter
 * restored into the model; cb->on_log notices). After a step that is not the run's last, a
 * cancel request (*cb->cancel non-zero, or o->stop_after_step reached) writes output_dir/resume/
 * and returns LB_ERR_INTERRUPTED. Non-finite loss or gradient norm: LB_ERR_NUMERIC naming the
 * step. *done (may be NULL) becomes true after the last step; info (may be NULL) gets the
 * step's figures. After done, a failure or an interruption every call is LB_ERR_USAGE. */
lb_status lb_trainer_step(lb_trainer *t, lb_step_info *info, bool *done, lb_error *err);

/* One optimizer step on a caller-given right-padded batch (labels [batch->B]) of a run opened
 * with train NULL; the learning rate follows the schedule over o->max_steps. Checks the batch
 * (shape, lengths, token ids, labels) against the model; more than max_steps steps is
 * LB_ERR_USAGE. Calls cb->on_step; cancellation is the caller's (no checkpoint is written). */
lb_status lb_trainer_step_batch(lb_trainer *t, const lb_batch *batch, const int32_t *labels, lb_step_info *info,
                                lb_error *err);

/* Steps until done (or failed / interrupted) and fills res. */
lb_status lb_trainer_run(lb_trainer *t, lb_train_result *res, lb_error *err);
/* Frees the trainer and releases the output folder it opened (a staged run not published
 * leaves the previous folder as it was). NULL is a no-op. */
void lb_trainer_close(lb_trainer *t);

/* Reads an HF trajectory order.json ({"epochs": E, "steps": [[rows...], ...]}) into malloc'd
 * arrays for lb_train_opts.order_*; *epochs gets E (0 when absent). */
lb_status lb_batch_order_load(const char *path, int32_t **rows, int32_t **offsets, int64_t *n_steps, int *epochs,
                              lb_error *err);

#endif
