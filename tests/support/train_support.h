/* Trainer helper shared by the trainer suites (tests/unit/test_trainer.c, test_train_run.c).
 *
 * Owns: one whole training run through the internal trainer without callbacks. Why: the
 * library's callers (src/api/train_run.c) drive lb_trainer_open/step/run/close themselves, so
 * the one-call form is a test convenience, not library API. */
#ifndef LB_TESTS_TRAIN_SUPPORT_H
#define LB_TESTS_TRAIN_SUPPORT_H
#include "train/trainer.h"

/* lb_trainer_open + lb_trainer_run + lb_trainer_close without callbacks. At the end m holds the
 * best epoch's adapter (the last one without eval). With output_dir: checkpoint-<step>/ per
 * epoch, the best adapter at the top level with tokenizer files and labels.json,
 * trainer_state.json, metrics.json and training_curves.svg. res is zeroed on failure. */
lb_status train_once(lb_model *m, const lb_tokset *train, const lb_tokset *eval, const lb_train_opts *opts,
                     lb_train_result *res, lb_error *err);

#endif
