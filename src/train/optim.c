/* AdamW, clipping and the LR schedules; see optim.h. The arithmetic follows torch's
 * float32 kernels: scalars derived in double (as python floats), element math in float. */
#include "train/optim.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

void lb_adamw_defaults(lb_adamw_config *cfg) {
    cfg->beta1 = 0.9f;
    cfg->beta2 = 0.999f;
    cfg->eps = 1e-8f;
    cfg->weight_decay = 0.0f;
    cfg->loraplus = false;
}

lb_status lb_adamw_init(lb_adamw *opt, lb_param *params, int n_params, const lb_adamw_config *cfg, lb_error *err) {
    memset(opt, 0, sizeof *opt);
    opt->cfg = *cfg;
    opt->params = params;
    opt->n_params = n_params;
    for (int i = 0; i < n_params; i++) opt->total += params[i].numel;
    size_t n = opt->total > 0 ? (size_t)opt->total : 1;
    opt->m = calloc(n, sizeof(float));
    opt->v = calloc(n, sizeof(float));
    if (cfg->loraplus) {
        opt->fast = calloc(n_params > 0 ? (size_t)n_params : 1, sizeof(bool));
        if (!opt->fast) {
            lb_adamw_free(opt);
            return lb_err(err, LB_ERR_NOMEM, "AdamW: out of memory");
        }
        /* PEFT: `"lora_B" in name or param.ndim == 1` -> groupB / groupB_no_decay */
        for (int i = 0; i < n_params; i++) opt->fast[i] = strstr(params[i].name, "lora_B") || params[i].ndim == 1;
    }
    if (!opt->m || !opt->v) {
        lb_adamw_free(opt);
        return lb_err(err, LB_ERR_NOMEM, "AdamW: cannot allocate moments for %lld values", (long long)n);
    }
    return LB_OK;
}

void lb_adamw_free(lb_adamw *opt) {
    free(opt->m);
    free(opt->v);
    free(opt->fast);
    opt->m = opt->v = NULL;
    opt->fast = NULL;
}

void lb_adamw_step(lb_adamw *opt, double lr) { lb_adamw_step_groups(opt, lr, lr); }

void lb_adamw_step_groups(lb_adamw *opt, double lr_a, double lr_b) {
    opt->step++;
    const double b1 = opt->cfg.beta1, b2 = opt->cfg.beta2; /* python floats of the float32 args */
    /* torch: bias_correction1 = 1 - beta1**step; step_size = lr / bc1; bc2_sqrt = sqrt(1 - beta2**step) */
    const double bc1 = 1.0 - pow(b1, (double)opt->step);
    const double bc2_sqrt = sqrt(1.0 - pow(b2, (double)opt->step));
    const float inv_bc2 = (float)bc2_sqrt;
    const float w1 = (float)(1.0 - b1); /* lerp weight */
    const float fb2 = (float)b2, w2 = (float)(1.0 - b2);
    const float eps = opt->cfg.eps;
    int64_t off = 0;
    for (int i = 0; i < opt->n_params; i++) {
        lb_param *p = &opt->params[i];
        const double lr = opt->fast && opt->fast[i] ? lr_b : lr_a;
        const float neg_step = (float)-(lr / bc1);
        float *restrict x = p->data;
        const float *restrict g = p->grad;
        float *restrict m = opt->m + off, *restrict v = opt->v + off;
        const double wd = p->decay ? opt->cfg.weight_decay : 0.0;
        const float decay = (float)(1.0 - lr * wd);
        const int64_t n = p->numel;
#pragma omp parallel for if (n > 65536) schedule(static)
        for (int64_t j = 0; j < n; j++) {
            float xj = x[j] * decay; /* decoupled decay first */
            float gj = g[j];
            /* Operation order and fused multiply-adds as torch's CPU kernels, which makes m and
             * v bit-identical to torch: lerp is fma(w, g-m, m), addcmul is v + (w*g)*g, addcdiv
             * is x + (-step*m)/denom.  torch's vectorized sqrt may differ by 1 ulp. */
            float mj = fmaf(w1, gj - m[j], m[j]);
            float vj = fmaf(w2 * gj, gj, v[j] * fb2);
            float denom = sqrtf(vj) / inv_bc2 + eps;
            x[j] = xj + (neg_step * mj) / denom;
            m[j] = mj;
            v[j] = vj;
        }
        off += p->numel;
    }
}

double lb_clip_grad_norm(lb_param *params, int n_params, double max_norm) {
    /* torch takes each tensor's norm, then the norm of those norms; float32 results. */
    double sq = 0.0;
    for (int i = 0; i < n_params; i++) {
        const float *g = params[i].grad;
        double s = 0.0;
#pragma omp parallel for reduction(+ : s) if (params[i].numel > 65536)
        for (int64_t j = 0; j < params[i].numel; j++) s += (double)g[j] * g[j];
        float tn = (float)sqrt(s);
        sq += (double)tn * tn;
    }
    float total = (float)sqrt(sq);
    if (max_norm <= 0) return total;
    float coef = (float)max_norm / (total + 1e-6f);
    if (!(coef < 1.0f)) coef = coef > 1.0f ? 1.0f : coef; /* clamp(max=1); NaN stays NaN */
    for (int i = 0; i < n_params; i++) {
        float *g = params[i].grad;
        for (int64_t j = 0; j < params[i].numel; j++) g[j] *= coef;
    }
    return total;
}

double lb_linear_schedule(int64_t step, int64_t warmup_steps, int64_t total_steps) {
    if (step < warmup_steps) return (double)step / (double)(warmup_steps > 1 ? warmup_steps : 1);
    int64_t span = total_steps - warmup_steps;
    double f = (double)(total_steps - step) / (double)(span > 1 ? span : 1);
    return f > 0.0 ? f : 0.0;
}

static const char *const sched_names[LB_SCHED_COUNT] = {"linear",     "cosine",   "cosine_with_restarts",
                                                        "polynomial", "constant", "constant_with_warmup"};

const char *lb_lr_schedule_name(lb_lr_schedule k) { return k >= 0 && k < LB_SCHED_COUNT ? sched_names[k] : "?"; }

bool lb_lr_schedule_parse(const char *name, lb_lr_schedule *k) {
    for (int i = 0; name && i < LB_SCHED_COUNT; i++)
        if (!strcmp(name, sched_names[i])) {
            *k = (lb_lr_schedule)i;
            return true;
        }
    return false;
}

int64_t lb_warmup_steps(int64_t warmup_steps, double warmup_ratio, int64_t total_steps) {
    if (warmup_steps > 0) return warmup_steps;
    return (int64_t)ceil((double)total_steps * warmup_ratio);
}

/* Each lambda as transformers writes it; python floats are doubles, ints exact. */
static double warmup_factor(int64_t step, int64_t warmup) { return (double)step / (double)(warmup > 1 ? warmup : 1); }

static double sched_factor(lb_lr_schedule k, double lr, int64_t step, int64_t w, int64_t total) {
    const double pi = 3.141592653589793; /* math.pi */
    switch (k) {
    case LB_SCHED_CONSTANT: return 1.0;
    case LB_SCHED_CONSTANT_WARMUP: return step < w ? warmup_factor(step, w) : 1.0;
    case LB_SCHED_LINEAR: return lb_linear_schedule(step, w, total);
    case LB_SCHED_COSINE:
    case LB_SCHED_COSINE_RESTARTS: {
        if (step < w) return warmup_factor(step, w);
        int64_t span = total - w;
        double progress = (double)(step - w) / (double)(span > 1 ? span : 1);
        double f;
        if (k == LB_SCHED_COSINE) {
            f = 0.5 * (1.0 + cos(((pi * 0.5) * 2.0) * progress)); /* num_cycles 0.5 */
        } else {
            if (progress >= 1.0) return 0.0;
            f = 0.5 * (1.0 + cos(pi * fmod(1.0 * progress, 1.0))); /* num_cycles 1 */
        }
        return f > 0.0 ? f : 0.0;
    }
    case LB_SCHED_POLYNOMIAL: {
        if (step < w) return warmup_factor(step, w);
        if (step > total) return LB_POLY_LR_END / lr;
        const double range = lr - LB_POLY_LR_END;
        /* total == w divides by zero in Python (ZeroDivisionError): the end rate here */
        if (total == w) return LB_POLY_LR_END / lr;
        double pct = 1.0 - (double)(step - w) / (double)(total - w);
        double decay = range * pow(pct, 1.0);
        decay = decay + LB_POLY_LR_END;
        return decay / lr;
    }
    default: return 0.0;
    }
}

double lb_schedule_lr(lb_lr_schedule k, double lr, int64_t step, int64_t warmup_steps, int64_t total_steps) {
    return lr * sched_factor(k, lr, step, warmup_steps, total_steps);
}

double lb_schedule_group_lr(lb_lr_schedule k, double lr, double group_lr, int64_t step, int64_t warmup_steps,
                            int64_t total_steps) {
    return group_lr * sched_factor(k, lr, step, warmup_steps, total_steps);
}
