/* The output folder of a training run and every file in it but the resume checkpoint.
 *
 * Owns: opening the output folder for a run (lock, leftovers of killed runs, refusal of a
 * foreign or another run's folder, staging when replacing one), the files HF Trainer writes
 * and their layout: checkpoint-<step>/ per epoch, the adapter folder (model/peft.h's
 * lb_peft_save_folder: PEFT files, tokenizer copies, labels.json), trainer_state.json (TrainerState's
 * log_history layout), metrics.json and training_curves.svg; publishing the final result.
 * Why: what lands on disk is an interface (HF and PEFT load it; users and tests read it); one
 * module decides names, layouts and the whole-or-nothing rules.
 * Guarantees: each checkpoint folder and the final output appear whole or not at all (staging +
 * rename); a failed write leaves the previous folder as it was and returns LB_ERR_IO naming the
 * file. Nothing here prints. */
#ifndef LB_TRAIN_RUN_FILES_H
#define LB_TRAIN_RUN_FILES_H
#include <stdbool.h>
#include "base/error.h"
#include "base/outdir.h"
#include "model/model.h"
#include "train/state.h"

/* The output folder of a run, opened (locked, checked, cleaned) for the whole run; see
 * lb_run_output_open. */
typedef struct lb_run_output {
    char *dir;   /* canonical output folder */
    char *work;  /* where checkpoints are written: dir, or run.dir when staged */
    bool staged; /* replacing a previous run: the whole run is built in run.dir */
    lb_staging run;
    lb_outdir_lock lock;
} lb_run_output;

/* Takes the lock of o->output_dir (another writer: LB_ERR_IO naming its pid), removes the
 * leftovers of killed runs (temporaries, staging folders; see base/outdir.h) and decides where
 * the run writes:
 *   - absent or empty folder: the run writes into it (checkpoints appear as they are made); an
 *     absent one is created by lb_run_output_create, not here (a run that fails before
 *     leaves no folder behind; only the lock's parent folder is created here);
 *   - o->resume_dir is output_dir/resume or output_dir/checkpoint-<step>: the run continues in it;
 *   - another run's output and o->overwrite_output: the whole run is built in a staging folder
 *     beside it that replaces it in one rename when the run ends or is interrupted; a failed
 *     run leaves the old folder untouched;
 *   - anything else is refused (LB_ERR_USAGE naming the entries in the way); with
 *     o->overwrite_output a folder holding entries lorabert does not write is refused too.
 * o->output_dir NULL: nothing to do. Close with lb_run_output_close (also after failures). */
lb_status lb_run_output_open(const lb_train_opts *o, lb_run_output *out, lb_error *err);
/* Creates the folder the run writes into (out->work) when it is absent; the trainer calls it
 * once the run is about to start. No-op on an output not opened. */
lb_status lb_run_output_create(lb_run_output *out, lb_error *err);
void lb_run_output_close(lb_run_output *out);

/* Publishes sg (this run's new top-level files or, when staged, the whole run) as the output
 * folder, keeping the old folder's entries that are neither this run's files nor, when
 * replacing a previous run, that run's checkpoints. sg is consumed either way. */
lb_status lb_run_publish(lb_run_output *out, lb_staging *sg, lb_error *err);

/* An adapter folder: PEFT files, tokenizer files, labels.json and, when s is non-NULL,
 * trainer_state.json; with s NULL it is the resume checkpoint's (lb_peft_save_folder's
 * resume_copy). A checkpoint-<step>/ is this folder plus the resume state (train/resume.h's
 * lb_resume_save_checkpoint). */
lb_status lb_run_save_adapter_dir(lb_model *m, const lb_train_state *s, const lb_train_opts *o, const char *dir,
                                  lb_error *err);
/* The evaluation of the adapter the run leaves, and its step in *step (0 and NULL: none): with
 * load_best_model_at_end and a best checkpoint, the best checkpoint's (HF's best model); else
 * the last evaluation when it ran at the run's last step (the adapter written); else none (the
 * last step's adapter was not evaluated; an earlier evaluation describes another adapter). */
const lb_eval_result *lb_run_result_eval(const lb_train_state *s, const lb_train_opts *o, int64_t *step);
/* The end of a run: the adapter the model holds, trainer_state.json, metrics.json and
 * training_curves.svg, published with the checkpoints in one rename. */
lb_status lb_run_write_final(lb_model *m, const lb_train_state *s, const lb_train_opts *o, lb_run_output *out,
                             lb_error *err);

/* HF Trainer._rotate_checkpoints over work/checkpoint-<step>/ folders (save_total_limit): the
 * oldest by step are removed until `limit` remain, the best (s->best_step, when s->best_epoch)
 * never: it is moved to the second-newest place first, and a limit of 1 keeps 2 while the best
 * is not the newest. at_end: the end of train()'s rule for limit 1, every checkpoint but the
 * best is removed. A folder that cannot be removed is LB_ERR_IO naming it. */
lb_status lb_run_rotate_checkpoints(const lb_train_state *s, int limit, bool at_end, const char *work, lb_error *err);

/* Appends e to s's log_history; -1 when out of memory. */
int lb_run_hist_push(lb_train_state *s, lb_hist_entry e);
/* x rounded to `digits` decimals, as HF rounds logged values (Python round()). */
double lb_run_round(double x, int digits);
/* HF's state.epoch: epoch + steps done in it / steps per epoch (epochs done + 1.0 at an epoch's end). */
double lb_run_epoch(const lb_train_state *s);
/* "eval_loss", "eval_accuracy", ... as HF's metric_for_best_model. */
const char *lb_best_metric_name(lb_best_metric b);

#endif
