/* Inverted dropout (torch nn.Dropout): zero with probability p, scale survivors by 1/(1-p).
 * The keep-mask comes from lb_rng so a run is reproducible for a given seed whatever the
 * thread count; each 64-bit draw yields two 32-bit uniforms. */
#include "kernels/kernels.h"

static void mask_run(uint8_t *keep, int64_t n, uint32_t thr, lb_rng *rng) {
    int64_t i = 0;
    for (; i + 1 < n; i += 2) {
        uint64_t u = lb_rng_u64(rng);
        keep[i] = (uint32_t)u >= thr;
        keep[i + 1] = (uint32_t)(u >> 32) >= thr;
    }
    if (i < n) keep[i] = (uint32_t)lb_rng_u64(rng) >= thr;
}

/* Large masks (attention probabilities: millions of entries per layer) are cut into fixed
 * 64K chunks, each drawn from its own stream seeded by (one draw of rng, chunk index): the
 * result depends only on the rng state, not on the number of threads. */
#define MASK_CHUNK 65536
void lb_dropout_mask(uint8_t *keep, int64_t n, float p, lb_rng *rng) {
    if (p <= 0.0f) {
        for (int64_t i = 0; i < n; i++) keep[i] = 1;
        return;
    }
    if (p >= 1.0f) {
        for (int64_t i = 0; i < n; i++) keep[i] = 0;
        return;
    }
    uint32_t thr = (uint32_t)((double)p * 4294967296.0);
    if (n <= MASK_CHUNK) {
        mask_run(keep, n, thr, rng);
        return;
    }
    uint64_t base = lb_rng_u64(rng);
    int64_t nchunks = (n + MASK_CHUNK - 1) / MASK_CHUNK;
#pragma omp parallel for schedule(static)
    for (int64_t c = 0; c < nchunks; c++) {
        lb_rng r;
        lb_rng_seed_stream(&r, base, (uint64_t)c);
        int64_t start = c * MASK_CHUNK, len = n - start < MASK_CHUNK ? n - start : MASK_CHUNK;
        mask_run(keep + start, len, thr, &r);
    }
}

void lb_dropout_forward(float *y, const float *x, const uint8_t *keep, int64_t n, float p) {
    float s = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
#pragma omp parallel for schedule(static) if (n > 65536)
    for (int64_t i = 0; i < n; i++) y[i] = x[i] * (keep[i] ? s : 0.0f); /* torch: input * mask: NaN * 0 = NaN */
}

void lb_dropout_backward(float *dx, const float *dy, const uint8_t *keep, int64_t n, float p) {
    lb_dropout_forward(dx, dy, keep, n, p);
}
