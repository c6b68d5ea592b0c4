/* Rotary position embeddings as transformers' ModernBERT applies them (default rope type,
 * rotate_half form: the first and second halves of each head are the pair, not interleaved
 * lanes). The angle tables follow torch's float32 steps: inv_freq = 1 / theta^(2i/dh) in
 * float32, angle = inv_freq * pos rounded to float32, then cos/sin of that float. */
#include <math.h>
#include "kernels/kernels.h"

void lb_rope_inv_freq(float *inv_freq, int dh, float theta) {
    for (int i = 0; i < dh / 2; i++) {
        float e = (float)(2 * i) / (float)dh;
        inv_freq[i] = 1.0f / (float)pow((double)theta, (double)e);
    }
}

void lb_rope_table(float *cs, const float *inv_freq, int dh, int pos) {
    int h = dh / 2;
    for (int i = 0; i < h; i++) {
        float a = inv_freq[i] * (float)pos;
        cs[i] = (float)cos((double)a);
        cs[h + i] = (float)sin((double)a);
    }
}

/* One head of one row, in place: x [dh]; cs = cos [dh/2] | sin [dh/2]; sign +1 forward, -1 the
 * transposed rotation (backward). */
static void rotate(float *x, const float *cs, int h, float sign) {
    for (int i = 0; i < h; i++) {
        float c = cs[i], s = sign * cs[h + i], a = x[i], b = x[h + i];
        x[i] = a * c - b * s;
        x[h + i] = b * c + a * s;
    }
}

void lb_rope_forward(float *x, int ldx, const float *cs, int N, int H, int dh) {
    for (int n = 0; n < N; n++)
        for (int hh = 0; hh < H; hh++)
            rotate(x + (int64_t)n * ldx + (int64_t)hh * dh, cs + (int64_t)n * dh, dh / 2, 1.0f);
}

void lb_rope_backward(float *dx, int lddx, const float *cs, int N, int H, int dh) {
    for (int n = 0; n < N; n++)
        for (int hh = 0; hh < H; hh++)
            rotate(dx + (int64_t)n * lddx + (int64_t)hh * dh, cs + (int64_t)n * dh, dh / 2, -1.0f);
}

void lb_rope_forward_ref(double *x, const int32_t *pos, int N, int H, int dh, double theta) {
    int h = dh / 2;
    for (int n = 0; n < N; n++)
        for (int hh = 0; hh < H; hh++)
            for (int i = 0; i < h; i++) {
                double a = pos[n] / pow(theta, 2.0 * i / dh), c = cos(a), s = sin(a);
                double *p = x + ((int64_t)n * H + hh) * dh, u = p[i], v = p[h + i];
                p[i] = u * c - v * s;
                p[h + i] = v * c + u * s;
            }
}
