/* Inverted dropout (torch nn.Dropout): zero with probability p, scale survivors by 1/(1-p).
 * The keep-mask is drawn sequentially from lb_rng so a run is reproducible for a given seed
 * whatever the thread count; each 64-bit draw yields two 32-bit uniforms. */
#include "kernels/kernels.h"

void lb_dropout_mask(uint8_t *keep, int64_t n, float p, lb_rng *rng) {
    if (p <= 0.0f) { for (int64_t i = 0; i < n; i++) keep[i] = 1; return; }
    if (p >= 1.0f) { for (int64_t i = 0; i < n; i++) keep[i] = 0; return; }
    uint32_t thr = (uint32_t)((double)p * 4294967296.0);
    int64_t i = 0;
    for (; i + 1 < n; i += 2) {
        uint64_t u = lb_rng_u64(rng);
        keep[i] = (uint32_t)u >= thr;
        keep[i + 1] = (uint32_t)(u >> 32) >= thr;
    }
    if (i < n) keep[i] = (uint32_t)lb_rng_u64(rng) >= thr;
}

void lb_dropout_forward(float *y, const float *x, const uint8_t *keep, int64_t n, float p) {
    float s = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
    #pragma omp parallel for schedule(static) if (n > 65536)
    for (int64_t i = 0; i < n; i++) y[i] = keep[i] ? x[i] * s : 0.0f;
}

void lb_dropout_backward(float *dx, const float *dy, const uint8_t *keep, int64_t n, float p) {
    lb_dropout_forward(dx, dy, keep, n, p);
}
