/* What a training run is: its options and its numeric state.
 *
 * Owns: the types shared by the trainer (train/trainer.c), the files it writes into the output
 * folder (train/run_files.c) and the resume checkpoint (train/resume.c): lb_train_opts (HF
 * TrainingArguments in lorabert's internal form), lb_train_state (counters, RNG streams, loss
 * accumulators, the log history, the per-epoch rows, the best epoch) and their small entries.
 * Why: those three modules read and write the same state; defining it below all of them keeps
 * the includes one-way (state <- run_files <- resume <- trainer).
 * Guarantees: plain data, no functions with side effects; every pointer member documents its
 * owner. */
#ifndef LB_TRAIN_STATE_H
#define LB_TRAIN_STATE_H

/* Most epochs one run may plan (each has its ~34 KB row in memory and in resume.json). */
#define LB_TRAIN_MAX_EPOCHS 10000
/* Most micro-batches one optimizer step may gather (processes x gradient accumulation steps). */
#define LB_TRAIN_MAX_ACCUM 4096
#include <stdbool.h>
#include <stdint.h>
#include "base/error.h"
#include "base/rng.h"

typedef enum lb_best_metric {
    LB_BEST_LOSS,
    LB_BEST_ACCURACY,
    LB_BEST_F1,
    LB_BEST_PRECISION,
    LB_BEST_RECALL,
    LB_BEST_MSE, /* regression (lower wins) */
    LB_BEST_MAE,
    LB_BEST_PEARSON, /* higher wins */
    LB_BEST_SPEARMAN,
    LB_BEST_COUNT
} lb_best_metric;

struct lb_run_output; /* train/run_files.h */

/* HF IntervalStrategy of evaluation_strategy / save_strategy. */
typedef enum lb_strategy { LB_STRATEGY_NO, LB_STRATEGY_STEPS, LB_STRATEGY_EPOCH } lb_strategy;

typedef struct lb_train_opts {
    int epochs;                      /* 10 */
    int batch_size;                  /* 4 */
    int eval_batch_size;             /* 4 */
    double lr;                       /* 1e-3 */
    float weight_decay;              /* 0.01 */
    double loraplus_lr_ratio;        /* 0: off; X > 0: LoRA+, lora_B and 1-D params at lr x X */
    int64_t warmup_steps;            /* 0; > 0 wins over warmup_ratio (HF get_warmup_steps) */
    double warmup_ratio;             /* 0: warmup = ceil(total steps x ratio) when warmup_steps is 0 */
    int lr_schedule;                 /* lb_lr_schedule (train/optim.h): LB_SCHED_LINEAR */
    int greater_is_better;           /* 0: the metric's own (loss: lower wins, others higher); 1: higher
                                     * wins; -1: lower wins */
    int early_stopping_patience;     /* 0: off; N: stop after N evaluations without improvement */
    double early_stopping_threshold; /* an improvement must exceed this (HF EarlyStoppingCallback) */
    int save_total_limit;            /* 0: keep every checkpoint; N: HF's rotation (the best is kept) */
    bool tensorboard;                /* report_to tensorboard: log_history's scalars as event files */
    const char *logging_dir;         /* their folder; NULL: output_dir/runs/<Mon DD_HH-MM-SS>_<host> */
    double max_grad_norm;            /* 1.0; <= 0 disables clipping */
    uint64_t seed;                   /* 42: data order and dropout */
    int logging_steps;               /* 500 */
    lb_best_metric best;             /* LB_BEST_LOSS: lowest eval loss wins; others: highest */
    const char *output_dir;          /* NULL: nothing is written */
    bool overwrite_output;           /* output_dir may hold a previous run's output (replaced at the end) */
    struct lb_run_output *output;    /* output_dir already opened by the caller (NULL: the trainer opens it) */
    const char *base_model_name;     /* adapter_config base_model_name_or_path */
    const char *tokenizer_dir;       /* tokenizer files copied next to the adapters (NULL: none) */
    const char *const *label_names;  /* [num_labels] written to labels.json (NULL: LABEL_i) */
    /* Test option: per-step batches of row indices (HF order.json); replaces shuffling.
     * n_order_steps must be a multiple of epochs. */
    const int32_t *order_rows;    /* concatenated rows of every micro-batch */
    const int32_t *order_offsets; /* [n_order_steps+1] */
    int64_t n_order_steps;        /* micro-batches listed (a multiple of epochs) */
    const char *resume_dir;       /* continue from a checkpoint written on interruption */
    int64_t stop_after_step;      /* test hook: behave as if cancelled after this global step (0: off) */
    int64_t max_steps;            /* runs without a training set (lb_trainer_step_batch): the schedule's
                                * total steps; must be 0 with a training set */
    float *step_losses;           /* optional [total steps]: each step's mean batch loss */
    float *step_grad_norms;       /* optional [total steps]: global grad norm before clipping */
    int grad_accum;               /* micro-batches per step on each process (HF gradient_accumulation_steps) */
    const lb_collective *coll;    /* NULL: one process (see lorabert.h lb_train_options.collective) */
    /* The training loss (and the per-epoch eval_loss, as HF's compute_loss): plain cross-entropy
     * unless one of these is set (not both). */
    double label_smoothing;     /* HF label_smoothing_factor, in [0, 1) */
    const float *class_weights; /* [num_labels] > 0: CrossEntropyLoss(weight=...); NULL: none */
    bool class_weights_auto;    /* weights n / (num_labels * count_c) from the training set's labels */
    /* When to evaluate and to checkpoint (HF DefaultFlowCallback), and the final adapter. */
    int eval_strategy; /* lb_strategy: LB_STRATEGY_EPOCH (lb_train_defaults); NO without an eval set */
    int save_strategy; /* lb_strategy: LB_STRATEGY_EPOCH */
    double eval_steps; /* 0: logging_steps (HF __post_init__); < 1: ceil(total steps x it); else an integer */
    double save_steps; /* 500; the same rule */
    bool load_best;    /* true: HF load_best_model_at_end (the best checkpoint's adapter is the result);
                        * false: the last step's */
    /* lb_problem_type: the loss (cross-entropy, BCEWithLogitsLoss, MSELoss) and the metrics.
     * Multi-label and regression need the sets' targets (lb_tokset_set_targets, num_labels values
     * per example) and no label smoothing or class weights. */
    int problem;
    double threshold; /* multi-label metrics: a label is predicted when its sigmoid >= this; 0: 0.5 */
} lb_train_opts;

/* Batches per optimizer step: processes x gradient accumulation steps. */
static inline int lb_train_micro_per_step(const lb_train_opts *o) {
    return (o->grad_accum > 1 ? o->grad_accum : 1) * (o->coll && o->coll->size > 1 ? o->coll->size : 1);
}

/* One entry of trainer_state.json's log_history. */
enum { LB_HIST_TRAIN, LB_HIST_EVAL, LB_HIST_FINAL };
typedef struct lb_hist_entry {
    int kind; /* LB_HIST_* */
    double epoch;
    int64_t step;
    double v[8]; /* train: lr, loss; eval: loss acc f1 prec rec runtime sps stepsps; final: flos loss rt sps stepsps */
} lb_hist_entry;

typedef struct lb_epoch_row { /* one row of the per-epoch table / plot */
    double train_loss_logged; /* NaN: "No log" */
    double train_loss_mean;   /* mean step loss over the epoch (plot) */
    lb_eval_result eval;
    int has_eval;
} lb_epoch_row;

/* The state of a run; what the resume checkpoint saves and the run files are written from. */
typedef struct lb_train_state {
    int64_t n_train, steps_per_epoch, total_steps;
    int64_t global_step;
    int epoch;             /* 0-based epoch being run */
    int64_t step_in_epoch; /* steps done in this epoch */
    int order_valid;       /* order[] holds this epoch's permutation */
    int32_t *order;        /* [n_train], owned */
    lb_rng shuffle_rng, dropout_rng;
    float tr_loss;     /* float32 running sum since the last log, as HF's tensor */
    double total_loss; /* HF _total_loss_scalar */
    int64_t last_logged;
    double epoch_loss_sum;
    int64_t epoch_loss_steps;
    double last_logged_loss; /* NaN until the first log */
    int es_counter;          /* evaluations without improvement (EarlyStoppingCallback's counter) */
    int best_epoch;          /* 1-based epoch of the best checkpoint's step; 0: no best (yet) */
    int64_t best_step;       /* the best checkpoint's global step (HF best_model_checkpoint) */
    double best_metric;
    lb_eval_result best_eval;
    float *best_params; /* [Σ numel], owned */
    /* The last evaluation of this session and its step (0: none yet). Not in the resume
     * checkpoint: it only names the final adapter's evaluation (lb_run_result_eval), which needs
     * the last step evaluated, and the last step always runs in the last session. */
    int64_t last_eval_step;
    lb_eval_result last_eval;
    lb_hist_entry *hist; /* owned */
    int nhist, caphist;
    lb_epoch_row *rows;             /* [epochs], owned */
    int64_t eval_steps, save_steps; /* trainer_state.json's (HF TrainerState: the intervals with ratios
                                     * resolved; eval_steps 500 when not given and not "steps") */
    char run_options[2048];         /* "key=value;..." of the options a resume must keep (loss, strategies,
                             * best model, early stopping): resume.json's run_options */
    double total_flos;
    double train_time; /* seconds in training steps + evals (HF train_runtime) */
    int64_t tokens;    /* real tokens trained on (for tokens/s) */
    double token_time;
} lb_train_state;

#endif
