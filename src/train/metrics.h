/* Classification metrics with scikit-learn's semantics: accuracy, precision, recall, F1
 * (binary with pos_label 1 for two labels; macro averages for more) and the confusion matrix.
 * Predictions are argmax of logits with ties going to the first index (numpy argmax).
 * Undefined ratios (0/0) take `zero_division` (0, 1 or NaN), as sklearn's parameter. F1 uses
 * sklearn >= 1.4's formula 2tp/(2tp+fp+fn), which is 0/0 only when tp+fp+fn == 0. */
#ifndef LB_TRAIN_METRICS_H
#define LB_TRAIN_METRICS_H
#include <stdint.h>
#include "base/error.h"

/* lb_metrics is defined in lorabert.h (public). */
#define LB_METRICS_MAX_LABELS LB_MAX_LABELS

/* Index of the largest value of row[0..n); ties and NaN handling as numpy argmax (first max;
 * a NaN wins as the first NaN). */
int lb_argmax(const float *row /* [n] */, int n);

/* Ratios from a filled confusion matrix ([true * num_labels + pred]); sets out->n too. */
lb_status lb_metrics_from_confusion(const int64_t *confusion, int num_labels, double zero_division, lb_metrics *out,
                                    lb_error *err);
#endif
