/* Embedding gather-sum: word + position (+ token type) rows, one output row per token. */
#include "kernels/kernels.h"

void lb_embeddings_forward(float *out, const int32_t *ids, const int32_t *pos, const int32_t *tt, const float *wte,
                           const float *wpe, const float *wtt, int N, int D) {
#pragma omp parallel for schedule(static) if (N > 64)
    for (int n = 0; n < N; n++) {
        const float *a = wte + (int64_t)ids[n] * D, *p = wpe + (int64_t)pos[n] * D;
        float *o = out + (int64_t)n * D;
        if (wtt) {
            const float *t = wtt + (int64_t)(tt ? tt[n] : 0) * D;
            /* HF order: (word + token_type) + position. */
            for (int i = 0; i < D; i++) o[i] = (a[i] + t[i]) + p[i];
        } else {
            for (int i = 0; i < D; i++) o[i] = a[i] + p[i];
        }
    }
}
