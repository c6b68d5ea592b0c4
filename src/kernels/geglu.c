/* GELU variants by flag (exact erf: HF "gelu"; tanh form: "gelu_pytorch_tanh", torch's
 * gelu(approximate="tanh")) and the GeGLU of ModernBERT's MLP: Wi's output [N, 2F] is split
 * into input | gate (torch .chunk(2, -1)), out = gelu(input) * gate. */
#include <math.h>
#include "kernels/kernels.h"

#define INV_SQRT2 0.70710678118654752440f
#define INV_SQRT_2PI 0.39894228040143267794f
#define SQRT_2_OVER_PI 0.79788456080286535588f
#define GELU_C 0.044715f

static inline float gelu1(float x, bool tanh_approx) {
    if (!tanh_approx) return 0.5f * x * (1.0f + erff(x * INV_SQRT2));
    return 0.5f * x * (1.0f + tanhf(SQRT_2_OVER_PI * (x + GELU_C * x * x * x)));
}

static inline float gelu1_grad(float x, bool tanh_approx) {
    if (!tanh_approx) return 0.5f * (1.0f + erff(x * INV_SQRT2)) + x * INV_SQRT_2PI * expf(-0.5f * x * x);
    float t = tanhf(SQRT_2_OVER_PI * (x + GELU_C * x * x * x));
    return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * SQRT_2_OVER_PI * (1.0f + 3.0f * GELU_C * x * x);
}

void lb_gelu_kind_forward(float *out, const float *x, int64_t n, bool tanh_approx) {
    for (int64_t i = 0; i < n; i++) out[i] = gelu1(x[i], tanh_approx);
}

void lb_gelu_kind_backward(float *dx, const float *dout, const float *x, int64_t n, bool tanh_approx) {
    for (int64_t i = 0; i < n; i++) dx[i] = dout[i] * gelu1_grad(x[i], tanh_approx);
}

void lb_geglu_forward(float *out, const float *in, int N, int F, bool tanh_approx) {
#pragma omp parallel for schedule(static) if ((int64_t)N * F > 32768)
    for (int n = 0; n < N; n++) {
        const float *a = in + (int64_t)n * 2 * F, *g = a + F;
        float *o = out + (int64_t)n * F;
        for (int i = 0; i < F; i++) o[i] = gelu1(a[i], tanh_approx) * g[i];
    }
}

void lb_geglu_backward(float *din, const float *dout, const float *in, int N, int F, bool tanh_approx) {
#pragma omp parallel for schedule(static) if ((int64_t)N * F > 32768)
    for (int n = 0; n < N; n++) {
        const float *a = in + (int64_t)n * 2 * F, *g = a + F, *d = dout + (int64_t)n * F;
        float *da = din + (int64_t)n * 2 * F, *dg = da + F;
        for (int i = 0; i < F; i++) {
            da[i] = d[i] * g[i] * gelu1_grad(a[i], tanh_approx);
            dg[i] = d[i] * gelu1(a[i], tanh_approx);
        }
    }
}

double lb_gelu_kind_ref(double x, bool tanh_approx) {
    if (!tanh_approx) return 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
    return 0.5 * x * (1.0 + tanh(sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
}

void lb_geglu_forward_ref(double *out, const double *in, int N, int F, bool tanh_approx) {
    for (int n = 0; n < N; n++)
        for (int i = 0; i < F; i++)
            out[(int64_t)n * F + i] =
                lb_gelu_kind_ref(in[(int64_t)n * 2 * F + i], tanh_approx) * in[(int64_t)n * 2 * F + F + i];
}
