/* Optimization, exactly as torch + HF Trainer do it: torch.optim.AdamW (the
 * `_single_tensor_adamw` path, decoupled decay first), two parameter groups (decay / no decay,
 * chosen per lb_param.decay; LoRA+ adds a second learning rate), global-norm gradient clipping (torch.nn.utils.clip_grad_norm_)
 * and the learning-rate schedules of transformers' get_scheduler (linear, cosine,
 * cosine_with_restarts, polynomial, constant, constant_with_warmup) with HF's warmup rule.
 * This module owns the AdamW moments; parameters and grads belong to the model. */
#ifndef LB_TRAIN_OPTIM_H
#define LB_TRAIN_OPTIM_H
#include <stdbool.h>
#include <stdint.h>
#include "base/error.h"
#include "model/model.h"

typedef struct lb_adamw_config {
    float beta1, beta2; /* 0.9, 0.999 */
    float eps;          /* 1e-8 */
    float weight_decay; /* applied to params with decay=true only (HF's second group has 0) */
    bool loraplus;      /* LoRA+ groups (PEFT 0.14 create_loraplus_optimizer): params named
                         * "...lora_B..." and every 1-D param (biases, LayerNorm) step with
                         * lr_b of lb_adamw_step_groups, the rest with lr; decay as above
                         * (PEFT's loraplus_weight_decay = weight_decay: its groupB_no_decay
                         * is exactly the decay=false 1-D params) */
} lb_adamw_config;

/* Fills HF Trainer's defaults (betas 0.9/0.999, eps 1e-8, weight_decay 0). */
void lb_adamw_defaults(lb_adamw_config *cfg);

typedef struct lb_adamw {
    lb_adamw_config cfg;
    int n_params;
    lb_param *params; /* [n_params], not owned */
    int64_t total;    /* Σ numel */
    float *m, *v;     /* [total] each: first/second moments, params laid end to end */
    int64_t step;     /* optimizer steps taken (torch's state['step']) */
    bool *fast;       /* [n_params] with cfg.loraplus: the param steps with lr_b; else NULL */
} lb_adamw;

/* Binds the optimizer to params (the array must outlive it) with zeroed moments. */
lb_status lb_adamw_init(lb_adamw *opt, lb_param *params, int n_params, const lb_adamw_config *cfg, lb_error *err);
void lb_adamw_free(lb_adamw *opt);

/* One AdamW update of every parameter with learning rate lr (the scheduled value). */
void lb_adamw_step(lb_adamw *opt, double lr);
/* The same with LoRA+'s second rate: params in opt->fast use lr_b (equal to lb_adamw_step
 * without cfg.loraplus). */
void lb_adamw_step_groups(lb_adamw *opt, double lr, double lr_b);

/* Global L2 norm of all grads, then grads *= min(1, max_norm/(norm+1e-6)) (torch always
 * multiplies by the clamped coefficient). Returns the norm before clipping (may be inf/nan;
 * the caller decides). max_norm <= 0 only measures. */
double lb_clip_grad_norm(lb_param *params, int n_params, double max_norm);

/* Linear schedule factor after `step` scheduler steps (the update with 0-based index k uses
 * factor(k)): k/max(1,W) while k < W, else max(0, (T-k)/max(1, T-W)). */
double lb_linear_schedule(int64_t step, int64_t warmup_steps, int64_t total_steps);

/* transformers' SchedulerType values lorabert runs (lr_scheduler_type). */
typedef enum lb_lr_schedule {
    LB_SCHED_LINEAR = 0,      /* get_linear_schedule_with_warmup (the default) */
    LB_SCHED_COSINE,          /* get_cosine_schedule_with_warmup, num_cycles 0.5 */
    LB_SCHED_COSINE_RESTARTS, /* get_cosine_with_hard_restarts_schedule_with_warmup, num_cycles 1 */
    LB_SCHED_POLYNOMIAL,      /* get_polynomial_decay_schedule_with_warmup, lr_end 1e-7, power 1.0 */
    LB_SCHED_CONSTANT,        /* get_constant_schedule (no warmup) */
    LB_SCHED_CONSTANT_WARMUP, /* get_constant_schedule_with_warmup */
    LB_SCHED_COUNT
} lb_lr_schedule;

/* The name HF uses ("linear", ...); lb_lr_schedule_parse is its inverse (false: unknown). */
const char *lb_lr_schedule_name(lb_lr_schedule k);
bool lb_lr_schedule_parse(const char *name, lb_lr_schedule *k);

/* The polynomial schedule's end rate (HF's lr_end default); its initial rate must exceed it. */
#define LB_POLY_LR_END 1e-7

/* HF TrainingArguments.get_warmup_steps: warmup_steps when > 0, else ceil(total * ratio). */
int64_t lb_warmup_steps(int64_t warmup_steps, double warmup_ratio, int64_t total_steps);

/* The learning rate after `step` scheduler steps (the update with 0-based index k uses
 * lb_schedule_lr(.., k, ..); HF logs lb_schedule_lr(.., global_step, ..)): torch's LambdaLR
 * base_lr * lambda(step) with transformers 4.32.1's lambdas, in the same double arithmetic
 * (the same operation order, no fused multiply-adds), so the values are Python's bit for bit. */
double lb_schedule_lr(lb_lr_schedule k, double lr, int64_t step, int64_t warmup_steps, int64_t total_steps);
/* The rate of a parameter group whose initial rate is group_lr, in an optimizer created with
 * lr (torch LambdaLR: group_lr * lambda(step); the polynomial lambda reads the optimizer's
 * default lr): LoRA+'s lora_B group has group_lr = lr * loraplus_lr_ratio. */
double lb_schedule_group_lr(lb_lr_schedule k, double lr, double group_lr, int64_t step, int64_t warmup_steps,
                            int64_t total_steps);

#endif
