/* HF Trainer.evaluate() on a tokenised set; see evaluate.h. */
#include "train/evaluate.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "kernels/kernels.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

lb_status lb_evaluate(lb_model *m, const lb_tokset *data, int batch_size, lb_eval_result *res, float *logits_out,
                      lb_error *err) {
    const lb_model_config *mc = lb_model_get_config(m);
    const int L = mc->num_labels;
    memset(res, 0, sizeof *res);
    if (data->n <= 0) return lb_err(err, LB_ERR_FORMAT, "evaluation: empty dataset");
    if (batch_size < 1) return lb_err(err, LB_ERR_USAGE, "evaluation: batch size %d < 1", batch_size);
    if (L > LB_METRICS_MAX_LABELS) return lb_err(err, LB_ERR_UNSUPPORTED, "evaluation: %d labels", L);
    double t0 = now_s();
    lb_collator bb = {0};
    float *logits = malloc(sizeof(float) * (size_t)batch_size * L);
    int32_t *rows = malloc(sizeof(int32_t) * (size_t)batch_size);
    lb_status st = LB_OK;
    if (!logits || !rows) {
        st = lb_err(err, LB_ERR_NOMEM, "evaluation: out of memory");
        goto out;
    }
    double loss_sum = 0;
    int64_t confusion[LB_METRICS_MAX_LABELS * LB_METRICS_MAX_LABELS] = {0};
    for (int64_t s = 0; s < data->n; s += batch_size) {
        int B = (int)(data->n - s < batch_size ? data->n - s : batch_size);
        for (int b = 0; b < B; b++) rows[b] = (int32_t)(s + b);
        lb_batch batch;
        if (lb_collate(&bb, data, rows, B, mc->pad_token_id, &batch) < 0) {
            st = lb_err(err, LB_ERR_NOMEM, "evaluation: out of memory for a batch");
            goto out;
        }
        if ((st = lb_model_forward(m, &batch, false, NULL, logits, err))) goto out;
        for (int64_t i = 0; i < (int64_t)B * L; i++)
            if (!isfinite(logits[i])) {
                st = lb_err(err, LB_ERR_NUMERIC,
                            "evaluation: example %lld: non-finite logits (%g for label %d); the "
                            "model's weights or its computation overflow or hold NaN",
                            (long long)(s + i / L), logits[i], (int)(i % L));
                goto out;
            }
        float loss = lb_cross_entropy(logits, bb.labels, B, L, NULL);
        loss_sum += (double)loss * B;
        for (int b = 0; b < B; b++) {
            int pred = lb_argmax(logits + (int64_t)b * L, L);
            confusion[bb.labels[b] * L + pred]++;
        }
        if (logits_out) memcpy(logits_out + s * L, logits, sizeof(float) * (size_t)B * L);
    }
    res->loss = loss_sum / (double)data->n;
    if (!isfinite(res->loss)) {
        st = lb_err(err, LB_ERR_NUMERIC, "evaluation: non-finite eval loss (%g) from finite logits", res->loss);
        goto out;
    }
    st = lb_metrics_from_confusion(confusion, L, 0.0, &res->metrics, err);
    res->runtime_s = now_s() - t0;
out:
    lb_collator_free(&bb);
    free(logits);
    free(rows);
    return st;
}
