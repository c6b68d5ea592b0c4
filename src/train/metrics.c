/* Classification metrics; see metrics.h. */
#include "train/metrics.h"
#include <math.h>
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
