/* Tests for ModernBERT's kernels (src/kernels/rope.c, geglu.c, local_attention.c): each fast float
 * kernel against its double twin (or, for the sliding window, the full-attention twin run on each
 * query's window), and each backward by finite differences or as the exact adjoint. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "kernels/kernels.h"

static lb_rng R;
static void fill(double *d, int64_t n, double scale) {
    for (int64_t i = 0; i < n; i++) d[i] = scale * (2.0 * lb_rng_uniform(&R) - 1.0);
}
static float *tof(const double *d, int64_t n) {
    float *f = malloc(sizeof(float) * (size_t)(n ? n : 1));
    for (int64_t i = 0; i < n; i++) f[i] = (float)d[i];
    return f;
}
static double *dz(int64_t n) { return calloc((size_t)(n ? n : 1), sizeof(double)); }
/* max |a-b| / max(|b|) */
static double relerr(const float *a, const double *b, int64_t n) {
    double m = 0, r = 1e-30;
    for (int64_t i = 0; i < n; i++) {
        m = fmax(m, fabs(a[i] - b[i]));
        r = fmax(r, fabs(b[i]));
    }
    return m / r;
}

static void init(void) { lb_rng_seed(&R, 77); }

/* ---- RoPE ---- */
Test(rope, forward_matches_reference_and_backward_is_the_adjoint, .init = init) {
    enum { N = 9, H = 3, dh = 8, D = H * dh, LD = D + 5 };
    const float theta = 10000.0f;
    double *x = dz(N * D), *xr = dz(N * D), *g = dz(N * D);
    fill(x, N * D, 2.0);
    fill(g, N * D, 1.0);
    memcpy(xr, x, sizeof(double) * N * D);
    int32_t pos[N];
    for (int n = 0; n < N; n++) pos[n] = n * 7; /* positions beyond the row index too */
    lb_rope_forward_ref(xr, pos, N, H, dh, theta);
    float inv[dh / 2], cs[N * dh];
    lb_rope_inv_freq(inv, dh, theta);
    for (int i = 0; i < dh / 2; i++)
        cr_assert(fabs(inv[i] - 1.0 / pow(theta, 2.0 * i / dh)) <= 1e-7 * (1.0 / pow(theta, 2.0 * i / dh)));
    for (int n = 0; n < N; n++) lb_rope_table(cs + n * dh, inv, dh, pos[n]);
    float xf[N * LD], gf[N * LD];
    for (int n = 0; n < N; n++)
        for (int c = 0; c < LD; c++) {
            xf[n * LD + c] = c < D ? (float)x[n * D + c] : 99.0f;
            gf[n * LD + c] = c < D ? (float)g[n * D + c] : 99.0f;
        }
    lb_rope_forward(xf, LD, cs, N, H, dh);
    float t[N * D];
    for (int n = 0; n < N; n++)
        for (int c = 0; c < D; c++) t[n * D + c] = xf[n * LD + c];
    cr_assert(relerr(t, xr, N * D) < 1e-5, "rope forward %g", relerr(t, xr, N * D));
    for (int n = 0; n < N; n++) cr_assert_eq(xf[n * LD + D], 99.0f, "columns past the heads untouched");
    /* backward = R^T: <g, R x> == <R^T g, x> */
    lb_rope_backward(gf, LD, cs, N, H, dh);
    double lhs = 0, rhs = 0;
    for (int n = 0; n < N; n++)
        for (int c = 0; c < D; c++) {
            lhs += g[n * D + c] * xr[n * D + c];
            rhs += gf[n * LD + c] * x[n * D + c];
        }
    cr_assert(fabs(lhs - rhs) < 1e-4 * fabs(lhs) + 1e-5, "adjoint %g vs %g", lhs, rhs);
    free(x);
    free(xr);
    free(g);
}

/* ---- GELU variants and GeGLU ---- */
static void geglu_case(bool tanh_approx) {
    enum { N = 5, F = 7 };
    double *in = dz(N * 2 * F), *g = dz(N * F), *out = dz(N * F);
    fill(in, N * 2 * F, 3.0);
    fill(g, N * F, 1.0);
    lb_geglu_forward_ref(out, in, N, F, tanh_approx);
    float *inf = tof(in, N * 2 * F), *gf = tof(g, N * F), outf[N * F], din[N * 2 * F];
    lb_geglu_forward(outf, inf, N, F, tanh_approx);
    cr_assert(relerr(outf, out, N * F) < 1e-6, "geglu forward %g", relerr(outf, out, N * F));
    lb_geglu_backward(din, gf, inf, N, F, tanh_approx);
    /* finite differences of L = <g, geglu(in)> on the double twin */
    double *num = dz(N * 2 * F), *y = dz(N * F);
    for (int i = 0; i < N * 2 * F; i++) {
        double s = in[i], h = 1e-6, lp = 0, lm = 0;
        in[i] = s + h;
        lb_geglu_forward_ref(y, in, N, F, tanh_approx);
        for (int j = 0; j < N * F; j++) lp += g[j] * y[j];
        in[i] = s - h;
        lb_geglu_forward_ref(y, in, N, F, tanh_approx);
        for (int j = 0; j < N * F; j++) lm += g[j] * y[j];
        in[i] = s;
        num[i] = (lp - lm) / (2 * h);
    }
    cr_assert(relerr(din, num, N * 2 * F) < 1e-5, "geglu backward %g", relerr(din, num, N * 2 * F));
    /* the plain activation: forward vs twin, backward vs the derivative by finite differences */
    float xs[6] = {-4.5f, -1.0f, -0.1f, 0.0f, 0.7f, 3.2f}, ys[6], ones[6] = {1, 1, 1, 1, 1, 1}, ds[6];
    lb_gelu_kind_forward(ys, xs, 6, tanh_approx);
    lb_gelu_kind_backward(ds, ones, xs, 6, tanh_approx);
    for (int i = 0; i < 6; i++) {
        double r = lb_gelu_kind_ref(xs[i], tanh_approx);
        double d = (lb_gelu_kind_ref(xs[i] + 1e-6, tanh_approx) - lb_gelu_kind_ref(xs[i] - 1e-6, tanh_approx)) / 2e-6;
        cr_assert(fabs(ys[i] - r) <= 1e-6 * fmax(1.0, fabs(r)), "gelu(%g) %g vs %g", xs[i], ys[i], r);
        cr_assert(fabs(ds[i] - d) <= 1e-5, "gelu'(%g) %g vs %g", xs[i], ds[i], d);
    }
    /* the two forms differ (so the flag is honoured) but agree to ~1e-3 */
    float ya[1], yb[1], x1[1] = {1.3f};
    lb_gelu_kind_forward(ya, x1, 1, false);
    lb_gelu_kind_forward(yb, x1, 1, true);
    cr_assert(ya[0] != yb[0] && fabsf(ya[0] - yb[0]) < 1e-3f);
    free(in);
    free(g);
    free(out);
    free(inf);
    free(gf);
    free(num);
    free(y);
}
Test(geglu, exact_gelu_matches_reference_and_fd, .init = init) { geglu_case(false); }
Test(geglu, tanh_gelu_matches_reference_and_fd, .init = init) { geglu_case(true); }

/* ---- sliding-window attention ---- */
static void local_case(int n, int w) {
    enum { H = 3, dh = 4, D = H * dh };
    int ld = 3 * D + 2, W = 2 * w + 1;
    double *q = dz(n * D), *k = dz(n * D), *v = dz(n * D), *g = dz(n * D);
    fill(q, n * D, 1.5);
    fill(k, n * D, 1.5);
    fill(v, n * D, 1.0);
    fill(g, n * D, 1.0);
    double scale = 1.0 / sqrt(dh);
    /* reference: query i alone against its window's keys */
    double *ctx = dz(n * D), *dq = dz(n * D), *dk = dz(n * D), *dv = dz(n * D);
    double *tdq = dz(D), *tdk = dz(n * D), *tdv = dz(n * D);
    for (int i = 0; i < n; i++) {
        int lo = i - w > 0 ? i - w : 0, hi = i + w < n - 1 ? i + w : n - 1, nk = hi - lo + 1;
        lb_attention_forward_ref(ctx + i * D, q + i * D, k + lo * D, v + lo * D, 1, nk, H, dh, scale);
        memset(tdq, 0, sizeof(double) * D);
        memset(tdk, 0, sizeof(double) * n * D);
        memset(tdv, 0, sizeof(double) * n * D);
        lb_attention_backward_ref(tdq, tdk, tdv, g + i * D, q + i * D, k + lo * D, v + lo * D, 1, nk, H, dh, scale);
        for (int c = 0; c < D; c++) dq[i * D + c] += tdq[c];
        for (int j = 0; j < nk * D; j++) {
            dk[lo * D + j] += tdk[j];
            dv[lo * D + j] += tdv[j];
        }
    }
    float *qkv = malloc(sizeof(float) * n * ld), *dqkv = calloc((size_t)n * ld, sizeof(float));
    for (int i = 0; i < n; i++)
        for (int c = 0; c < D; c++) {
            qkv[i * ld + c] = (float)q[i * D + c];
            qkv[i * ld + D + c] = (float)k[i * D + c];
            qkv[i * ld + 2 * D + c] = (float)v[i * D + c];
        }
    float *ctxf = malloc(sizeof(float) * n * D), *probs = malloc(sizeof(float) * H * n * W), *gf = tof(g, n * D);
    lb_local_attention_forward(ctxf, D, probs, qkv, ld, qkv + D, qkv + 2 * D, ld, n, w, H, dh, (float)scale);
    cr_assert(relerr(ctxf, ctx, n * D) < 1e-5, "n=%d w=%d ctx %g", n, w, relerr(ctxf, ctx, n * D));
    lb_local_attention_backward(dqkv, dqkv + D, dqkv + 2 * D, ld, gf, D, probs, qkv, ld, qkv + D, qkv + 2 * D, ld, n, w,
                                H, dh, (float)scale);
    float *t = malloc(sizeof(float) * n * D);
    const double *want[3] = {dq, dk, dv};
    for (int part = 0; part < 3; part++) {
        for (int i = 0; i < n; i++)
            for (int c = 0; c < D; c++) t[i * D + c] = dqkv[i * ld + part * D + c];
        cr_assert(relerr(t, want[part], n * D) < 1e-4, "n=%d w=%d part %d %g", n, w, part,
                  relerr(t, want[part], n * D));
    }
    /* a window covering the whole sequence is full attention: the same ctx as lb_attention_forward */
    if (w >= n - 1) {
        float *c2 = malloc(sizeof(float) * n * D), *p2 = malloc(sizeof(float) * H * n * n);
        float *scr = malloc(sizeof(float) * (size_t)lb_attention_scratch(n, n));
        lb_attention_forward(c2, D, p2, NULL, 0.0f, qkv, ld, qkv + D, qkv + 2 * D, ld, n, n, H, dh, (float)scale, scr);
        double md = 0;
        for (int i = 0; i < n * D; i++) md = fmax(md, fabs(c2[i] - ctxf[i]));
        cr_assert(md < 1e-5, "full window vs full attention %g", md);
        free(c2);
        free(p2);
        free(scr);
    }
    free(q);
    free(k);
    free(v);
    free(g);
    free(ctx);
    free(dq);
    free(dk);
    free(dv);
    free(tdq);
    free(tdk);
    free(tdv);
    free(qkv);
    free(dqkv);
    free(ctxf);
    free(probs);
    free(gf);
    free(t);
}
Test(local_attention, matches_reference_per_window, .init = init) {
    local_case(13, 3);
    local_case(24, 4);
    local_case(1, 4);
    local_case(2, 0);
}
Test(local_attention, whole_window_is_full_attention, .init = init) { local_case(7, 6); }
