/* Elementwise activations: exact-erf GELU (HF "gelu" = torch gelu, not the tanh form), with a
 * fused bias add; ReLU (DistilBERT head); tanh (BERT pooler). NaN and Inf behave as in torch:
 * each formula is torch's own (gelu = x/2 (1 + erf(x/sqrt2)), so gelu(-inf) is NaN there too). */
#include "kernels/kernels.h"
#include "kernels/vmath.h"

#define INV_SQRT2 0.70710678118654752440f
#define INV_SQRT_2PI 0.39894228040143267794f

void lb_bias_gelu_forward(float *out, float *pre, const float *b, int N, int D) {
#pragma omp parallel for schedule(static) if ((int64_t)N * D > 32768)
    for (int n = 0; n < N; n++) {
        float *p = pre + (int64_t)n * D, *o = out + (int64_t)n * D;
#pragma omp simd
        for (int i = 0; i < D; i++) {
            float x = p[i] + b[i];
            p[i] = x;
            o[i] = 0.5f * x * (1.0f + erff(x * INV_SQRT2));
        }
    }
}

void lb_gelu_backward(float *dpre, const float *dout, const float *pre, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > 32768)
    for (int64_t i = 0; i < n; i++) {
        float x = pre[i];
        float cdf = 0.5f * (1.0f + erff(x * INV_SQRT2));
        float pdf = INV_SQRT_2PI * expf(-0.5f * x * x);
        dpre[i] = dout[i] * (cdf + x * pdf);
    }
}

/* torch.relu: NaN stays NaN (clamp_min propagates it), so "x > 0 ? x : 0" is wrong for NaN. */
void lb_relu_forward(float *out, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) out[i] = x[i] > 0.0f || x[i] != x[i] ? x[i] : 0.0f;
}
/* torch's threshold_backward(grad, result, 0): result <= 0 ? 0 : grad (a NaN result passes grad). */
void lb_relu_backward(float *dx, const float *dout, const float *out, int64_t n) {
    for (int64_t i = 0; i < n; i++) dx[i] = out[i] <= 0.0f ? 0.0f : dout[i];
}
void lb_tanh_forward(float *out, const float *x, int64_t n) {
#pragma omp simd
    for (int64_t i = 0; i < n; i++) out[i] = tanhf(x[i]);
}
void lb_tanh_backward(float *dx, const float *dout, const float *out, int64_t n) {
    for (int64_t i = 0; i < n; i++) dx[i] = dout[i] * (1.0f - out[i] * out[i]);
}

double lb_gelu_ref(double x) { return 0.5 * x * (1.0 + erf(x / sqrt(2.0))); }
double lb_gelu_grad_ref(double x) {
    return 0.5 * (1.0 + erf(x / sqrt(2.0))) + x * exp(-0.5 * x * x) / sqrt(2.0 * M_PI);
}
