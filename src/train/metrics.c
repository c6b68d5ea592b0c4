/* Classification metrics; see metrics.h. */
#include "train/metrics.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

int lb_argmax(const float *row, int n) {
    int best = 0;
    for (int i = 0; i < n; i++) {
        if (isnan(row[i])) return i; /* numpy: the first NaN is the maximum */
        if (row[i] > row[best]) best = i;
    }
    return best;
}

static double ratio(int64_t num, int64_t den, double zero_division) {
    return den == 0 ? zero_division : (double)num / (double)den;
}

static lb_status check_labels(int num_labels, lb_error *err) {
    if (num_labels < 1 || num_labels > LB_METRICS_MAX_LABELS)
        return lb_err(err, LB_ERR_UNSUPPORTED, "metrics: %d labels (supported: 1..%d)", num_labels,
                      LB_METRICS_MAX_LABELS);
    return LB_OK;
}

lb_status lb_metrics_from_confusion(const int64_t *confusion, int num_labels, double zero_division, lb_metrics *out,
                                    lb_error *err) {
    if (check_labels(num_labels, err)) return err ? err->code : LB_ERR_UNSUPPORTED;
    const int L = num_labels;
    if (out->confusion != confusion) memcpy(out->confusion, confusion, sizeof(int64_t) * L * L);
    out->num_labels = L;
    int64_t n = 0, correct = 0;
    for (int k = 0; k < L * L; k++) n += confusion[k];
    for (int c = 0; c < L; c++) correct += confusion[c * L + c];
    out->n = n;
    out->accuracy = ratio(correct, n, zero_division);
    for (int c = 0; c < L; c++) {
        int64_t tp = confusion[c * L + c], fp = 0, fn = 0;
        for (int k = 0; k < L; k++) {
            if (k == c) continue;
            fp += confusion[k * L + c];
            fn += confusion[c * L + k];
        }
        out->class_precision[c] = ratio(tp, tp + fp, zero_division);
        out->class_recall[c] = ratio(tp, tp + fn, zero_division);
        out->class_f1[c] = ratio(2 * tp, 2 * tp + fp + fn, zero_division);
    }
    out->precision = out->recall = out->f1 = 0;
    if (L == 2) { /* average="binary", pos_label=1 */
        out->precision = out->class_precision[1];
        out->recall = out->class_recall[1];
        out->f1 = out->class_f1[1];
    } else { /* average="macro": unweighted mean over classes (NaN propagates) */
        for (int c = 0; c < L; c++) {
            out->precision += out->class_precision[c];
            out->recall += out->class_recall[c];
            out->f1 += out->class_f1[c];
        }
        out->precision /= L;
        out->recall /= L;
        out->f1 /= L;
    }
    return LB_OK;
}

void lb_multilabel_metrics(const float *logits, const float *targets, int64_t n, int L, double threshold,
                           lb_eval_result *out) {
    int64_t tp[LB_METRICS_MAX_LABELS] = {0}, fp[LB_METRICS_MAX_LABELS] = {0}, fn[LB_METRICS_MAX_LABELS] = {0};
    int64_t exact = 0;
    if (L > LB_METRICS_MAX_LABELS) L = LB_METRICS_MAX_LABELS;
    for (int64_t i = 0; i < n; i++) {
        bool all = true;
        for (int j = 0; j < L; j++) {
            const bool pred = 1.0 / (1.0 + exp(-(double)logits[i * L + j])) >= threshold;
            const bool truth = targets[i * L + j] >= 0.5f;
            tp[j] += pred && truth;
            fp[j] += pred && !truth;
            fn[j] += !pred && truth;
            all = all && pred == truth;
        }
        exact += all;
    }
    lb_metrics *m = &out->metrics;
    out->problem_type = LB_PROBLEM_MULTI_LABEL;
    out->threshold = threshold;
    m->num_labels = L;
    m->n = n;
    m->accuracy = ratio(exact, n, 0.0);
    int64_t TP = 0, FP = 0, FN = 0;
    double sp = 0, sr = 0, sf = 0;
    for (int j = 0; j < L; j++) {
        m->class_precision[j] = ratio(tp[j], tp[j] + fp[j], 0.0);
        m->class_recall[j] = ratio(tp[j], tp[j] + fn[j], 0.0);
        m->class_f1[j] = ratio(2 * tp[j], 2 * tp[j] + fp[j] + fn[j], 0.0);
        out->support[j] = tp[j] + fn[j];
        sp += m->class_precision[j], sr += m->class_recall[j], sf += m->class_f1[j];
        TP += tp[j], FP += fp[j], FN += fn[j];
    }
    m->precision = ratio(TP, TP + FP, 0.0);
    m->recall = ratio(TP, TP + FN, 0.0);
    m->f1 = ratio(2 * TP, 2 * TP + FP + FN, 0.0);
    out->macro_precision = L ? sp / L : 0;
    out->macro_recall = L ? sr / L : 0;
    out->macro_f1 = L ? sf / L : 0;
}

/* scipy.stats.pearsonr: NaN for a constant side, r clipped to [-1, 1]. */
static double pearson(const double *x, const double *y, int64_t m) {
    double mx = 0, my = 0;
    for (int64_t i = 0; i < m; i++) mx += x[i], my += y[i];
    mx /= (double)m, my /= (double)m;
    double sxy = 0, sxx = 0, syy = 0;
    for (int64_t i = 0; i < m; i++) {
        sxy += (x[i] - mx) * (y[i] - my);
        sxx += (x[i] - mx) * (x[i] - mx);
        syy += (y[i] - my) * (y[i] - my);
    }
    if (m < 2 || sxx == 0 || syy == 0) return NAN;
    double r = sxy / sqrt(sxx * syy);
    return r > 1 ? 1 : r < -1 ? -1 : r;
}

typedef struct {
    double v;
    int64_t i;
} keyed;

static int cmp_keyed(const void *a, const void *b) {
    const keyed *x = a, *y = b;
    return x->v < y->v ? -1 : x->v > y->v ? 1 : (x->i > y->i) - (x->i < y->i);
}

/* scipy.stats.rankdata(method="average"): 1-based ranks, ties their mean. */
static void average_ranks(const double *v, int64_t m, keyed *k, double *rank) {
    for (int64_t i = 0; i < m; i++) k[i] = (keyed){v[i], i};
    qsort(k, (size_t)m, sizeof *k, cmp_keyed);
    for (int64_t i = 0; i < m;) {
        int64_t j = i;
        while (j + 1 < m && k[j + 1].v == k[i].v) j++;
        const double r = 0.5 * (double)(i + j) + 1.0;
        for (int64_t q = i; q <= j; q++) rank[k[q].i] = r;
        i = j + 1;
    }
}

lb_status lb_regression_metrics(const float *pred, const float *targets, int64_t m, lb_eval_result *out,
                                lb_error *err) {
    out->problem_type = LB_PROBLEM_REGRESSION;
    out->metrics.n = m;
    double *x = malloc(sizeof(double) * (size_t)(4 * (m > 0 ? m : 1)));
    keyed *idx = malloc(sizeof(keyed) * (size_t)(m > 0 ? m : 1));
    if (!x || !idx) {
        free(x);
        free(idx);
        return lb_err(err, LB_ERR_NOMEM, "metrics: out of memory for %lld values", (long long)m);
    }
    double *y = x + m, *rx = y + m, *ry = rx + m, se = 0, ae = 0;
    for (int64_t i = 0; i < m; i++) {
        x[i] = pred[i], y[i] = targets[i];
        se += (x[i] - y[i]) * (x[i] - y[i]);
        ae += fabs(x[i] - y[i]);
    }
    out->mse = m ? se / (double)m : NAN;
    out->mae = m ? ae / (double)m : NAN;
    out->pearson = pearson(x, y, m);
    average_ranks(x, m, idx, rx);
    average_ranks(y, m, idx, ry);
    out->spearman = pearson(rx, ry, m);
    free(x);
    free(idx);
    return LB_OK;
}
