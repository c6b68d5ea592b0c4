/* Tests for src/train/optim: AdamW + clipping + linear schedule against torch
 * (tests/golden/optim/adamw.json, written by tools/reference/optim_golden.py). */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include "base/fileio.h"
#include "train/optim.h"

static void fill(float *dst, const cJSON *arr, int64_t n) {
    cr_assert_eq(cJSON_GetArraySize(arr), n);
    int64_t i = 0;
    const cJSON *x;
    cJSON_ArrayForEach(x, arr) dst[i++] = (float)x->valuedouble;
}

Test(optim, linear_schedule_matches_hf) {
    /* warmup 0: update k uses (T-k)/T; first full lr, last lr/T, then 0 */
    cr_assert_float_eq(lb_linear_schedule(0, 0, 2500), 1.0, 1e-15);
    cr_assert_float_eq(lb_linear_schedule(2499, 0, 2500), 1.0 / 2500, 1e-15);
    cr_assert_float_eq(lb_linear_schedule(2500, 0, 2500), 0.0, 1e-15);
    cr_assert_float_eq(lb_linear_schedule(3000, 0, 2500), 0.0, 1e-15);
    /* warmup 4 of 10: 0, .25, .5, .75, then (10-k)/6 */
    cr_assert_float_eq(lb_linear_schedule(0, 4, 10), 0.0, 1e-15);
    cr_assert_float_eq(lb_linear_schedule(3, 4, 10), 0.75, 1e-15);
    cr_assert_float_eq(lb_linear_schedule(4, 4, 10), 1.0, 1e-15);
    cr_assert_float_eq(lb_linear_schedule(7, 4, 10), 0.5, 1e-15);
}

Test(optim, clip_multiplies_by_clamped_coef) {
    float g1[2] = {3, 4}, g2[1] = {0}, d[3] = {0};
    lb_param p[2] = {{.name = "a", .data = d, .grad = g1, .numel = 2},
                     {.name = "b", .data = d + 2, .grad = g2, .numel = 1}};
    double n = lb_clip_grad_norm(p, 2, 1.0);
    cr_assert_float_eq(n, 5.0, 1e-6);
    cr_assert_float_eq(g1[0], 3.0f / (5.0f + 1e-6f), 1e-7);
    /* below the limit: coefficient clamps to exactly 1 */
    float g3[1] = {0.5f};
    lb_param q = {.name = "c", .data = d, .grad = g3, .numel = 1};
    cr_assert_float_eq(lb_clip_grad_norm(&q, 1, 1.0), 0.5, 1e-7);
    cr_assert_eq(g3[0], 0.5f);
}

Test(optim, adamw_clip_schedule_match_torch) {
    char *text;
    size_t len;
    lb_error err;
    cr_assert_eq(lb_read_file("tests/golden/optim/adamw.json", &text, &len, &err), LB_OK, "%s", err.msg);
    cJSON *root = cJSON_Parse(text);
    free(text);
    cr_assert_not_null(root);
    const cJSON *jp = cJSON_GetObjectItem(root, "params"), *js = cJSON_GetObjectItem(root, "steps");
    int np = cJSON_GetArraySize(jp);
    lb_param params[8];
    cr_assert(np <= 8);
    for (int i = 0; i < np; i++) {
        const cJSON *e = cJSON_GetArrayItem(jp, i);
        lb_param *p = &params[i];
        p->name = cJSON_GetObjectItem(e, "name")->valuestring;
        const cJSON *sh = cJSON_GetObjectItem(e, "shape");
        p->ndim = cJSON_GetArraySize(sh);
        p->numel = 1;
        for (int d = 0; d < p->ndim; d++) p->numel *= (p->shape[d] = cJSON_GetArrayItem(sh, d)->valueint);
        p->decay = cJSON_IsTrue(cJSON_GetObjectItem(e, "decay"));
        p->data = malloc(p->numel * sizeof(float));
        p->grad = malloc(p->numel * sizeof(float));
        fill(p->data, cJSON_GetObjectItem(e, "init"), p->numel);
    }
    double lr = cJSON_GetObjectItem(root, "lr")->valuedouble;
    int warmup = cJSON_GetObjectItem(root, "warmup")->valueint, total = cJSON_GetObjectItem(root, "total")->valueint;
    lb_adamw_config cfg;
    lb_adamw_defaults(&cfg);
    cfg.weight_decay = (float)cJSON_GetObjectItem(root, "weight_decay")->valuedouble;
    lb_adamw opt;
    cr_assert_eq(lb_adamw_init(&opt, params, np, &cfg, &err), LB_OK);
    double worst = 0;
    int clipped = 0;
    for (int k = 0; k < total; k++) {
        const cJSON *st = cJSON_GetArrayItem(js, k);
        for (int i = 0; i < np; i++)
            fill(params[i].grad, cJSON_GetArrayItem(cJSON_GetObjectItem(st, "grads"), i), params[i].numel);
        double lr_k = lr * lb_linear_schedule(k, warmup, total);
        cr_assert_float_eq(lr_k, cJSON_GetObjectItem(st, "lr")->valuedouble, 1e-12, "step %d lr", k);
        double norm = lb_clip_grad_norm(params, np, 1.0);
        double tn = cJSON_GetObjectItem(st, "norm")->valuedouble;
        cr_assert(fabs(norm - tn) <= 1e-6 * tn, "step %d norm %.9g vs torch %.9g", k, norm, tn);
        clipped += tn > 1.0;
        lb_adamw_step(&opt, lr_k);
        for (int i = 0; i < np; i++) {
            float *want = malloc(params[i].numel * sizeof(float));
            fill(want, cJSON_GetArrayItem(cJSON_GetObjectItem(st, "params"), i), params[i].numel);
            /* Element-wise: 1e-6 relative to max(|value|, lr): a value near zero is a sum of
             * lr-sized updates and carries their rounding (torch's vectorized sqrt and its norm
             * reduction order differ from ours by an ulp); per tensor: 1e-6 relative L2. */
            double dn = 0, wn = 0;
            for (int64_t j = 0; j < params[i].numel; j++) {
                double d = fabs((double)params[i].data[j] - want[j]);
                dn += d * d;
                wn += (double)want[j] * want[j];
                cr_assert(d <= 1e-6 * fmax(fabs(want[j]), lr), "step %d %s[%lld]: %.9g vs torch %.9g", k,
                          params[i].name, (long long)j, params[i].data[j], want[j]);
            }
            double rel = sqrt(dn / wn);
            if (rel > worst) worst = rel;
            cr_assert(rel <= 1e-6, "step %d %s: relative L2 diff %.3g", k, params[i].name, rel);
            free(want);
        }
    }
    cr_assert(clipped > 0 && clipped < total, "golden must exercise both clipped and unclipped steps");
    cr_log_info("AdamW vs torch: max per-tensor relative L2 diff %.3g over %d steps", worst, total);
    lb_adamw_free(&opt);
    for (int i = 0; i < np; i++) {
        free(params[i].data);
        free(params[i].grad);
    }
    cJSON_Delete(root);
}

/* Every schedule against transformers' get_scheduler (tests/golden/optim/schedules.json, written
 * by tools/reference/schedule_golden.py): the same doubles, bit for bit, at every step. */
Test(optim, schedules_match_transformers_bitwise) {
    char *text;
    size_t len;
    lb_error err;
    cr_assert_eq(lb_read_file("tests/golden/optim/schedules.json", &text, &len, &err), LB_OK, "%s", err.msg);
    cJSON *root = cJSON_Parse(text);
    free(text);
    cr_assert_not_null(root);
    const cJSON *c;
    int n_cases = 0, seen[LB_SCHED_COUNT] = {0};
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(root, "cases")) {
        const char *name = cJSON_GetObjectItem(c, "type")->valuestring;
        lb_lr_schedule k;
        cr_assert(lb_lr_schedule_parse(name, &k), "%s", name);
        cr_assert_str_eq(lb_lr_schedule_name(k), name);
        seen[k]++;
        double lr = cJSON_GetObjectItem(c, "learning_rate")->valuedouble;
        int64_t total = cJSON_GetObjectItem(c, "total")->valueint;
        int64_t ws = cJSON_GetObjectItem(c, "warmup_steps")->valueint;
        double wr = cJSON_GetObjectItem(c, "warmup_ratio")->valuedouble;
        int64_t w = lb_warmup_steps(ws, wr, total);
        cr_assert_eq(w, cJSON_GetObjectItem(c, "warmup")->valueint, "%s: warmup %lld", name, (long long)w);
        const cJSON *lrs = cJSON_GetObjectItem(c, "lrs");
        cr_assert_eq(cJSON_GetArraySize(lrs), total + 1);
        for (int64_t s = 0; s <= total; s++) {
            double want = strtod(cJSON_GetArrayItem(lrs, (int)s)->valuestring, NULL);
            double got = lb_schedule_lr(k, lr, s, w, total);
            cr_assert(got == want, "%s lr %g total %lld warmup %lld: step %lld: %.17g, transformers %.17g", name, lr,
                      (long long)total, (long long)w, (long long)s, got, want);
        }
        n_cases++;
    }
    for (int k = 0; k < LB_SCHED_COUNT; k++)
        cr_assert(seen[k] >= 4, "%s has %d cases", lb_lr_schedule_name(k), seen[k]);
    cr_assert_eq(n_cases, 29);
    cJSON_Delete(root);
    lb_lr_schedule k;
    cr_assert(!lb_lr_schedule_parse("inverse_sqrt", &k));
    cr_assert(!lb_lr_schedule_parse(NULL, &k));
}
