/* Classification metrics with scikit-learn's semantics: accuracy, precision, recall, F1
 * (binary with pos_label 1 for two labels; macro averages for more) and the confusion matrix.
 * Predictions are argmax of logits with ties going to the first index (numpy argmax).
 * Undefined ratios (0/0) take `zero_division` (0, 1 or NaN), as sklearn's parameter. F1 uses
 * sklearn >= 1.4's formula 2tp/(2tp+fp+fn), which is 0/0 only when tp+fp+fn == 0. */
#ifndef LB_TRAIN_METRICS_H
#define LB_TRAIN_METRICS_H
#include <stdint.h>
#include <stdbool.h>
#include "base/error.h"

/* lb_metrics is defined in lorabert.h (public). */
#define LB_METRICS_MAX_LABELS LB_MAX_LABELS

/* Index of the largest value of row[0..n); ties and NaN handling as numpy argmax (first max;
 * a NaN wins as the first NaN). */
int lb_argmax(const float *row /* [n] */, int n);

/* Ratios from a filled confusion matrix ([true * num_labels + pred]); sets out->n too. */
lb_status lb_metrics_from_confusion(const int64_t *confusion, int num_labels, double zero_division, lb_metrics *out,
                                    lb_error *err);
/* Multi-label metrics of n examples (lb_eval_result's fields: subset accuracy, micro averages in
 * out->metrics, per-label ratios, macro averages, supports): label j of example i is predicted
 * when sigmoid(logits[i L + j]) (in double) >= threshold, true when targets[i L + j] >= 0.5.
 * Sets out->problem_type, threshold and metrics.num_labels / n; other fields untouched. */
void lb_multilabel_metrics(const float *logits /* [n, L] */, const float *targets /* [n, L] */, int64_t n, int L,
                           double threshold, lb_eval_result *out);
/* Regression metrics over m values (every output of every example): MSE, MAE, Pearson's r,
 * Spearman's rho with average ranks for ties (NaN for a constant side). LB_ERR_NOMEM only. */
lb_status lb_regression_metrics(const float *pred /* [m] */, const float *targets /* [m] */, int64_t m,
                                lb_eval_result *out, lb_error *err);
#endif
