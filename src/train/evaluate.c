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
 * batch's mean loss and size, or (1 + the example index, label, value) of non-finite logits in
 * `bad`; then (label, argmax) per row. */
typedef struct {
    double loss;
    int64_t bad; /* 0, or 1 + the example index of non-finite logits */
    int32_t bad_label, B;
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
    return lb_evaluate_shard(m, data, batch_size, coll, false, res, logits_out, err);
}

static lb_status evaluate(lb_model *m, const lb_tokset *data, int batch_size, const lb_collective *coll, bool shard,
                          const lb_loss_spec *loss, lb_eval_result *res, float *logits_out, lb_error *err);

lb_status lb_evaluate_shard(lb_model *m, const lb_tokset *data, int batch_size, const lb_collective *coll, bool shard,
                            lb_eval_result *res, float *logits_out, lb_error *err) {
    return evaluate(m, data, batch_size, coll, shard, NULL, res, logits_out, err);
}

lb_status lb_evaluate_shard_loss(lb_model *m, const lb_tokset *data, int batch_size, const lb_collective *coll,
                                 bool shard, const lb_loss_spec *loss, lb_eval_result *res, lb_error *err) {
    return evaluate(m, data, batch_size, coll, shard, loss, res, NULL, err);
}

lb_status lb_evaluate_loss(lb_model *m, const lb_tokset *data, int batch_size, const lb_collective *coll,
                           const lb_loss_spec *loss, lb_eval_result *res, float *logits_out, lb_error *err) {
    return evaluate(m, data, batch_size, coll, false, loss, res, logits_out, err);
}

static lb_status evaluate(lb_model *m, const lb_tokset *data, int batch_size, const lb_collective *coll, bool shard,
                          const lb_loss_spec *loss, lb_eval_result *res, float *logits_out, lb_error *err) {
    const lb_model_config *mc = lb_model_get_config(m);
    const int L = mc->num_labels;
    memset(res, 0, sizeof *res);
    const int P = coll && coll->size > 1 ? coll->size : 1, rank = P > 1 ? coll->rank : 0;
    if (P > 1 && (rank < 0 || rank >= P || !coll->allgather || logits_out))
        return lb_err(err, LB_ERR_USAGE,
                      "evaluation: collective of size %d, rank %d: expected 0 <= rank < size, an "
                      "allgather and no logits out",
                      P, rank);
    if (data->n <= 0) return lb_err(err, LB_ERR_FORMAT, "evaluation: empty dataset");
    if (batch_size < 1) return lb_err(err, LB_ERR_USAGE, "evaluation: batch size %d < 1", batch_size);
    if (L > LB_METRICS_MAX_LABELS) return lb_err(err, LB_ERR_UNSUPPORTED, "evaluation: %d labels", L);
    /* multi-label and regression: every example's logits and targets are kept for the metrics */
    const int problem = loss ? loss->problem : LB_PROBLEM_SINGLE_LABEL;
    const bool multi = problem != LB_PROBLEM_SINGLE_LABEL;
    if (multi && (!data->targets || data->n_targets != L))
        return lb_err(err, LB_ERR_USAGE, "evaluation: problem_type %s: %d target values per example, expected %d",
                      lb_problem_type_name((lb_problem_type)problem), data->targets ? data->n_targets : 0, L);
    shard = shard && P > 1;
    float *all_logits = NULL, *all_targets = NULL; /* [n_total * L] (multi) */
    double t0 = now_s();
    lb_collator bb = {0};
    /* Batches: the whole set's (this process runs every P-th), or this process's shard's (blocks
     * rank, rank + P, ... of the whole input: its k-th batch is global batch k * P + rank). */
    const int64_t nb_local = (data->n + batch_size - 1) / batch_size;
    int64_t nb = nb_local, mine = (nb + P - 1) / P, n_total = data->n;
    const size_t row_bytes = multi ? 2 * sizeof(float) * (size_t)L : 2 * sizeof(int32_t);
    const size_t rec = sizeof(batch_rec) + row_bytes * (size_t)batch_size;
    float *logits = malloc(sizeof(float) * (size_t)batch_size * L);
    int32_t *rows = malloc(sizeof(int32_t) * (size_t)batch_size);
    unsigned char *sendb = NULL, *recvb = NULL;
    lb_status st = LB_OK;
    if (!logits || !rows) {
        st = lb_err(err, LB_ERR_NOMEM, "evaluation: out of memory");
        goto out;
    }
    if (shard) { /* every process's batch and row counts */
        int64_t cnt[2] = {nb_local, data->n}, *all = malloc(sizeof cnt * (size_t)P);
        if (!all) {
            st = lb_err(err, LB_ERR_NOMEM, "evaluation: out of memory");
            goto out;
        }
        if ((st = coll->allgather(coll->user, cnt, sizeof cnt, all, err))) {
            free(all);
            lb_err_prefix(err, "evaluation: gathering shard sizes");
            goto out;
        }
        nb = 0, mine = 0, n_total = 0;
        for (int r = 0; r < P; r++) {
            nb += all[2 * r];
            n_total += all[2 * r + 1];
            if (all[2 * r] > mine) mine = all[2 * r];
        }
        free(all);
    }
    if (multi) {
        all_logits = malloc(sizeof(float) * (size_t)(n_total * L));
        all_targets = malloc(sizeof(float) * (size_t)(n_total * L));
        if (!all_logits || !all_targets) {
            st = lb_err(err, LB_ERR_NOMEM, "evaluation: out of memory");
            goto out;
        }
    }
    if (P > 1) {
        sendb = calloc((size_t)(mine ? mine : 1), rec);
        recvb = malloc((size_t)(mine ? mine : 1) * rec * (size_t)P);
        if (!sendb || !recvb) {
            st = lb_err(err, LB_ERR_NOMEM, "evaluation: out of memory");
            goto out;
        }
    }
    double loss_sum = 0;
    int64_t confusion[LB_METRICS_MAX_LABELS * LB_METRICS_MAX_LABELS] = {0};
    for (int64_t k = shard ? 0 : rank; k < nb_local; k += shard ? 1 : P) {
        const int64_t s = k * batch_size;           /* first local row */
        const int64_t g = shard ? k * P + rank : k; /* global batch */
        const int64_t slot = shard ? k : k / P;
        int B = (int)(data->n - s < batch_size ? data->n - s : batch_size);
        for (int b = 0; b < B; b++) rows[b] = (int32_t)(s + b);
        lb_batch batch;
        if (lb_collate(&bb, data, rows, B, mc->pad_token_id, &batch) < 0) {
            st = lb_err(err, LB_ERR_NOMEM, "evaluation: out of memory for a batch");
            goto out;
        }
        if ((st = lb_model_forward(m, &batch, false, NULL, logits, err))) goto out;
        batch_rec r = {.B = B};
        int32_t *lp = P > 1 ? (int32_t *)(void *)(sendb + (size_t)slot * rec + sizeof(batch_rec)) : NULL;
        for (int64_t i = 0; i < (int64_t)B * L && !r.bad; i++)
            if (!isfinite(logits[i])) {
                r.bad = 1 + g * batch_size + i / L;
                r.bad_label = (int32_t)(i % L);
                r.bad_value = logits[i];
            }
        if (!r.bad && multi) {
            r.loss = lb_task_loss(logits, bb.labels, bb.targets, B, L, loss, NULL);
            const size_t nb_bytes = sizeof(float) * (size_t)B * L;
            if (lp) { /* the batch's logits, then its targets */
                memcpy(lp, logits, nb_bytes);
                memcpy((unsigned char *)lp + nb_bytes, bb.targets, nb_bytes);
            } else {
                memcpy(all_logits + s * L, logits, nb_bytes);
                memcpy(all_targets + s * L, bb.targets, nb_bytes);
            }
        } else if (!r.bad) {
            r.loss = lb_cross_entropy_ex(logits, bb.labels, B, L, loss, NULL);
            for (int b = 0; b < B; b++) {
                int pred = lb_argmax(logits + (int64_t)b * L, L);
                if (lp) lp[2 * b] = bb.labels[b], lp[2 * b + 1] = pred;
                else confusion[bb.labels[b] * L + pred]++;
            }
        }
        if (P > 1) {
            memcpy(sendb + (size_t)slot * rec, &r, sizeof r);
            continue;
        }
        if (r.bad) {
            st = bad_logits(&r, err);
            goto out;
        }
        loss_sum += (double)(float)r.loss * B;
        if (logits_out) memcpy(logits_out + s * L, logits, sizeof(float) * (size_t)B * L);
    }
    if (P > 1) {
        if ((st = coll->allgather(coll->user, sendb, (size_t)(mine ? mine : 1) * rec, recvb, err))) {
            lb_err_prefix(err, "evaluation: gathering results");
            goto out;
        }
        /* every batch in global order, as one process runs them */
        for (int64_t g = 0; g < nb; g++) {
            const unsigned char *p = recvb + ((size_t)(g % P) * (size_t)(mine ? mine : 1) + (size_t)(g / P)) * rec;
            batch_rec r;
            memcpy(&r, p, sizeof r);
            const int32_t *lp = (const int32_t *)(const void *)(p + sizeof r);
            if (r.bad) {
                st = bad_logits(&r, err);
                goto out;
            }
            loss_sum += (double)(float)r.loss * r.B;
            if (multi) {
                const size_t nb_bytes = sizeof(float) * (size_t)r.B * L;
                memcpy(all_logits + g * batch_size * L, lp, nb_bytes);
                memcpy(all_targets + g * batch_size * L, (const unsigned char *)lp + nb_bytes, nb_bytes);
            } else
                for (int b = 0; b < r.B; b++) confusion[lp[2 * b] * L + lp[2 * b + 1]]++;
        }
    }
    res->loss = loss_sum / (double)n_total;
    if (!isfinite(res->loss)) {
        st = lb_err(err, LB_ERR_NUMERIC, "evaluation: non-finite eval loss (%g) from finite logits", res->loss);
        goto out;
    }
    if (problem == LB_PROBLEM_MULTI_LABEL)
        lb_multilabel_metrics(all_logits, all_targets, n_total, L, loss->threshold > 0 ? loss->threshold : 0.5, res);
    else if (problem == LB_PROBLEM_REGRESSION)
        st = lb_regression_metrics(all_logits, all_targets, n_total * L, res, err);
    else st = lb_metrics_from_confusion(confusion, L, 0.0, &res->metrics, err);
    res->runtime_s = now_s() - t0;
out:
    lb_collator_free(&bb);
    free(logits);
    free(rows);
    free(sendb);
    free(recvb);
    free(all_logits);
    free(all_targets);
    return st;
}
