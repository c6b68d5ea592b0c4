/* Cross-entropy over logits, mean over the batch (torch CrossEntropyLoss, reduction mean). */
#include "kernels/kernels.h"
#include <math.h>

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
