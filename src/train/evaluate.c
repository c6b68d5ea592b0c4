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

/* What a process gives for each batch it evaluated when a collective shares the work: the
 * batch's mean loss, then each row's argmax, or (first row index + 1, label) of non-finite
 * logits in `bad`. */
typedef struct {
    double loss;
    int64_t bad; /* 0, or 1 + the example index of non-finite logits */
    int32_t bad_label;
    float bad_value;
} batch_rec;

static lb_status bad_logits(const batch_rec *r, lb_error *err) {
    return lb_err(err, LB_ERR_NUMERIC,
                  "evaluation: example %lld: non-finite logits (%g for label %d); the "
                  "model's weights or its computation overflow or hold NaN",
                  (long long)(r->bad - 1), r->bad_value, r->bad_label);
}

lb_status lb_evaluate(lb_model *m, const lb_tokset *data, int batch_size, const lb_collective *coll,
                      lb_eval_result *res, float *logits_out, lb_error *err) {
    const lb_model_config *mc = lb_model_get_config(m);
    const int L = mc->num_labels;
    memset(res, 0, sizeof *res);
    if (data->n <= 0) return lb_err(err, LB_ERR_FORMAT, "evaluation: empty dataset");
    if (batch_size < 1) return lb_err(err, LB_ERR_USAGE, "evaluation: batch size %d < 1", batch_size);
    if (L > LB_METRICS_MAX_LABELS) return lb_err(err, LB_ERR_UNSUPPORTED, "evaluation: %d labels", L);
    const int P = coll && coll->size > 1 ? coll->size : 1, rank = P > 1 ? coll->rank : 0;
    if (P > 1 && (rank < 0 || rank >= P || !coll->allgather || logits_out))
        return lb_err(err, LB_ERR_USAGE,
                      "evaluation: collective of size %d, rank %d: expected 0 <= rank < size, an "
                      "allgather and no logits out",
                      P, rank);
    double t0 = now_s();
    lb_collator bb = {0};
    const int64_t nb = (data->n + batch_size - 1) / batch_size;
    const int64_t mine = (nb + P - 1) / P; /* batch slots per process (batch b on rank b % P) */
    const size_t rec = sizeof(batch_rec) + sizeof(int32_t) * (size_t)batch_size;
    float *logits = malloc(sizeof(float) * (size_t)batch_size * L);
    int32_t *rows = malloc(sizeof(int32_t) * (size_t)batch_size);
    unsigned char *sendb = P > 1 ? calloc((size_t)mine, rec) : NULL;
    unsigned char *recvb = P > 1 ? malloc((size_t)mine * rec * (size_t)P) : NULL;
    lb_status st = LB_OK;
    if (!logits || !rows || (P > 1 && (!sendb || !recvb))) {
        st = lb_err(err, LB_ERR_NOMEM, "evaluation: out of memory");
        goto out;
    }
    double loss_sum = 0;
    int64_t confusion[LB_METRICS_MAX_LABELS * LB_METRICS_MAX_LABELS] = {0};
    for (int64_t bi = rank; bi < nb; bi += P) {
        const int64_t s = bi * batch_size;
        int B = (int)(data->n - s < batch_size ? data->n - s : batch_size);
        for (int b = 0; b < B; b++) rows[b] = (int32_t)(s + b);
        lb_batch batch;
        if (lb_collate(&bb, data, rows, B, mc->pad_token_id, &batch) < 0) {
            st = lb_err(err, LB_ERR_NOMEM, "evaluation: out of memory for a batch");
            goto out;
        }
        if ((st = lb_model_forward(m, &batch, false, NULL, logits, err))) goto out;
        batch_rec r = {0};
        int32_t *preds = P > 1 ? (int32_t *)(void *)(sendb + (size_t)(bi / P) * rec + sizeof(batch_rec)) : NULL;
        for (int64_t i = 0; i < (int64_t)B * L && !r.bad; i++)
            if (!isfinite(logits[i])) {
                r.bad = 1 + s + i / L;
                r.bad_label = (int32_t)(i % L);
                r.bad_value = logits[i];
            }
        if (!r.bad) {
            r.loss = lb_cross_entropy(logits, bb.labels, B, L, NULL);
            for (int b = 0; b < B; b++) {
                int pred = lb_argmax(logits + (int64_t)b * L, L);
                if (preds) preds[b] = pred;
                else confusion[bb.labels[b] * L + pred]++;
            }
        }
        if (P > 1) {
            memcpy(sendb + (size_t)(bi / P) * rec, &r, sizeof r);
            continue;
        }
        if (r.bad) {
            st = bad_logits(&r, err);
            goto out;
        }
        loss_sum += (double)(float)r.loss * B;
        if (logits_out) memcpy(logits_out + s * L, logits, sizeof(float) * (size_t)B * L);
    }
    if (P > 1 && (st = coll->allgather(coll->user, sendb, (size_t)mine * rec, recvb, err))) {
        lb_err_prefix(err, "evaluation: gathering results");
        goto out;
    }
    /* every batch in order, as one process runs them */
    for (int64_t bi = 0; bi < nb; bi++) {
        const int64_t s = bi * batch_size;
        const int B = (int)(data->n - s < batch_size ? data->n - s : batch_size);
        batch_rec r;
        const int32_t *preds = NULL;
        if (P > 1) {
            const unsigned char *p = recvb + ((size_t)(bi % P) * (size_t)mine + (size_t)(bi / P)) * rec;
            memcpy(&r, p, sizeof r);
            preds = (const int32_t *)(const void *)(p + sizeof r);
        } else if (bi == 0) {
            break; /* one process: summed above */
        }
        if (r.bad) {
            st = bad_logits(&r, err);
            goto out;
        }
        loss_sum += (double)(float)r.loss * B;
        for (int b = 0; b < B; b++) confusion[data->labels[s + b] * L + preds[b]]++;
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
    free(sendb);
    free(recvb);
    return st;
}
