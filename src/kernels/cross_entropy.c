/* Cross-entropy over logits, mean over the batch (torch CrossEntropyLoss, reduction mean), and
 * its label-smoothed (HF LabelSmoother) and class-weighted (CrossEntropyLoss(weight=w)) forms;
 * the multi-label (BCEWithLogitsLoss) and regression (MSELoss) losses; lb_task_loss picks one by
 * the problem type. */
#include "kernels/kernels.h"
#include "lorabert.h"
#include <math.h>
#include <stddef.h>
#include <string.h>

static const char *const problem_names[] = {"single_label_classification", "multi_label_classification", "regression"};

const char *lb_problem_type_name(lb_problem_type p) { return (unsigned)p < 3 ? problem_names[p] : "unknown"; }

bool lb_problem_type_parse(const char *name, lb_problem_type *p) {
    for (int i = 0; name && i < 3; i++)
        if (!strcmp(name, problem_names[i])) {
            if (p) *p = (lb_problem_type)i;
            return true;
        }
    return false;
}

float lb_cross_entropy(const float *logits, const int32_t *labels, int B, int L, float *dlogits) {
    double total = 0.0;
    for (int b = 0; b < B; b++) {
        const float *z = logits + (int64_t)b * L;
        float mx = z[0];
        for (int j = 1; j < L; j++)
            if (z[j] > mx) mx = z[j];
        double se = 0.0;
        for (int j = 0; j < L; j++) se += exp((double)z[j] - mx);
        double lse = mx + log(se);
        total += lse - z[labels[b]];
        if (dlogits)
            for (int j = 0; j < L; j++)
                dlogits[(int64_t)b * L + j] = (float)((exp((double)z[j] - lse) - (j == labels[b] ? 1.0 : 0.0)) / B);
    }
    return (float)(total / B);
}

double lb_cross_entropy_ref(const double *logits, const int32_t *labels, int B, int L, double *dlogits) {
    double total = 0.0;
    for (int b = 0; b < B; b++) {
        const double *z = logits + (int64_t)b * L;
        double mx = z[0], se = 0.0;
        for (int j = 1; j < L; j++)
            if (z[j] > mx) mx = z[j];
        for (int j = 0; j < L; j++) se += exp(z[j] - mx);
        double lse = mx + log(se);
        total += lse - z[labels[b]];
        if (dlogits)
            for (int j = 0; j < L; j++)
                dlogits[(int64_t)b * L + j] = (exp(z[j] - lse) - (j == labels[b] ? 1.0 : 0.0)) / B;
    }
    return total / B;
}

/* One row: logsumexp and the sum of -log softmax over the classes. */
static double row_lse(const float *z, int L, double *sum_neg_logp) {
    float mx = z[0];
    for (int j = 1; j < L; j++)
        if (z[j] > mx) mx = z[j];
    double se = 0.0, sz = 0.0;
    for (int j = 0; j < L; j++) se += exp((double)z[j] - mx), sz += z[j];
    double lse = mx + log(se);
    *sum_neg_logp = L * lse - sz;
    return lse;
}

float lb_cross_entropy_ex(const float *logits, const int32_t *labels, int B, int L, const lb_loss_spec *spec,
                          float *dlogits) {
    const double eps = spec ? spec->smoothing : 0.0;
    const float *w = spec ? spec->weights : NULL;
    if (eps == 0.0 && !w) return lb_cross_entropy(logits, labels, B, L, dlogits);
    double wsum = 0.0;
    if (w)
        for (int b = 0; b < B; b++) wsum += w[labels[b]];
    else wsum = B;
    double nll = 0.0, smooth = 0.0;
    for (int b = 0; b < B; b++) {
        const float *z = logits + (int64_t)b * L;
        double sneg, lse = row_lse(z, L, &sneg);
        const double wb = w ? w[labels[b]] : 1.0;
        nll += wb * (lse - z[labels[b]]);
        smooth += sneg;
        if (dlogits)
            for (int j = 0; j < L; j++) {
                const double p = exp((double)z[j] - lse), hit = j == labels[b] ? 1.0 : 0.0;
                /* d/dz_j: the weighted nll term gives w_b (p_j - [j = y_b]) / W, the smoothing
                 * term (mean over b and the L classes of lse_b - z_bk) gives (p_j - 1/L) / B */
                dlogits[(int64_t)b * L + j] = (float)((1.0 - eps) * wb * (p - hit) / wsum + eps * (p - 1.0 / L) / B);
            }
    }
    return (float)((1.0 - eps) * nll / wsum + eps * smooth / ((double)B * L));
}

double lb_cross_entropy_ex_ref(const double *logits, const int32_t *labels, int B, int L, double smoothing,
                               const double *weights, double *dlogits) {
    double wsum = 0.0, nll = 0.0, smooth = 0.0;
    for (int b = 0; b < B; b++) wsum += weights ? weights[labels[b]] : 1.0;
    for (int b = 0; b < B; b++) {
        const double *z = logits + (int64_t)b * L;
        double mx = z[0], se = 0.0;
        for (int j = 1; j < L; j++)
            if (z[j] > mx) mx = z[j];
        for (int j = 0; j < L; j++) se += exp(z[j] - mx);
        const double lse = mx + log(se), wb = weights ? weights[labels[b]] : 1.0;
        nll += wb * (lse - z[labels[b]]);
        for (int j = 0; j < L; j++) smooth += lse - z[j];
        if (dlogits)
            for (int j = 0; j < L; j++)
                dlogits[(int64_t)b * L + j] = (1.0 - smoothing) * wb * (exp(z[j] - lse) - (j == labels[b])) / wsum +
                                              smoothing * (exp(z[j] - lse) - 1.0 / L) / B;
    }
    return (1.0 - smoothing) * nll / wsum + smoothing * smooth / ((double)B * L);
}

/* log(1 + exp(-|z|)) + max(z, 0) - z t: torch's stable form of -[t log s(z) + (1 - t) log(1 - s(z))]. */
float lb_bce_logits(const float *logits, const float *targets, int B, int L, float *dlogits) {
    const int64_t n = (int64_t)B * L;
    double total = 0.0;
    for (int64_t i = 0; i < n; i++) {
        const double z = logits[i], y = targets[i];
        total += (z > 0 ? z : 0.0) - z * y + log1p(exp(-fabs(z)));
        if (dlogits) dlogits[i] = (float)((1.0 / (1.0 + exp(-z)) - y) / (double)n);
    }
    return (float)(total / (double)n);
}

double lb_bce_logits_ref(const double *logits, const double *targets, int B, int L, double *dlogits) {
    const int64_t n = (int64_t)B * L;
    double total = 0.0;
    for (int64_t i = 0; i < n; i++) {
        const double s = 1.0 / (1.0 + exp(-logits[i]));
        total -= targets[i] * log(s) + (1.0 - targets[i]) * log(1.0 - s);
        if (dlogits) dlogits[i] = (s - targets[i]) / (double)n;
    }
    return total / (double)n;
}

float lb_mse(const float *pred, const float *targets, int64_t n, float *dpred) {
    double total = 0.0;
    for (int64_t i = 0; i < n; i++) {
        const double d = (double)pred[i] - (double)targets[i];
        total += d * d;
        if (dpred) dpred[i] = (float)(2.0 * d / (double)n);
    }
    return (float)(total / (double)n);
}

double lb_mse_ref(const double *pred, const double *targets, int64_t n, double *dpred) {
    double total = 0.0;
    for (int64_t i = 0; i < n; i++) {
        total += (pred[i] - targets[i]) * (pred[i] - targets[i]);
        if (dpred) dpred[i] = 2.0 * (pred[i] - targets[i]) / (double)n;
    }
    return total / (double)n;
}

float lb_task_loss(const float *logits, const int32_t *labels, const float *targets, int B, int L,
                   const lb_loss_spec *spec, float *dlogits) {
    switch (spec ? spec->problem : LB_PROBLEM_SINGLE_LABEL) {
    case LB_PROBLEM_MULTI_LABEL: return lb_bce_logits(logits, targets, B, L, dlogits);
    case LB_PROBLEM_REGRESSION: return lb_mse(logits, targets, (int64_t)B * L, dlogits);
    default: return lb_cross_entropy_ex(logits, labels, B, L, spec, dlogits);
    }
}
