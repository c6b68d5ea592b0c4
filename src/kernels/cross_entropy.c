/* Cross-entropy over logits, mean over the batch (torch CrossEntropyLoss, reduction mean), and
 * its label-smoothed (HF LabelSmoother) and class-weighted (CrossEntropyLoss(weight=w)) forms. */
#include "kernels/kernels.h"
#include <math.h>
#include <stddef.h>

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
