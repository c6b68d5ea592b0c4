/* Tests for src/kernels: every backward kernel against central finite differences of its
 * double-precision twin, and every fast float kernel against that twin. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <omp.h>
#include <cjson/cJSON.h>
#include "kernels/kernels.h"
#include "lorabert.h"
#include "../support/test_support.h"

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
static double dot(const double *a, const double *b, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}
/* max |a-b| / max(|b|) over n elements. */
static double relerr_fd(const float *a, const double *b, int64_t n) {
    double m = 0, r = 1e-30;
    for (int64_t i = 0; i < n; i++) {
        m = fmax(m, fabs(a[i] - b[i]));
        r = fmax(r, fabs(b[i]));
    }
    return m / r;
}

/* Loss used for finite differences: L(x) = <g, f(x)>. fn evaluates f for the current inputs. */
typedef void (*eval_fn)(void *ctx, double *y);
static void fd_check(const char *what, eval_fn fn, void *ctx, double *x, int64_t n, const double *g, int64_t ny,
                     const double *analytic) {
    const double h = 1e-6;
    double *y = dz(ny);
    double worst = 0, ref = 1e-30;
    for (int64_t i = 0; i < n; i++) {
        double s = x[i];
        x[i] = s + h;
        fn(ctx, y);
        double lp = dot(g, y, ny);
        x[i] = s - h;
        fn(ctx, y);
        double lm = dot(g, y, ny);
        x[i] = s;
        double num = (lp - lm) / (2 * h);
        worst = fmax(worst, fabs(num - analytic[i]));
        ref = fmax(ref, fabs(num));
    }
    free(y);
    cr_assert(worst / ref < 1e-6, "%s: finite difference mismatch %.3g (relative)", what, worst / ref);
}

/* ---------------- linear ---------------- */
enum { LN_ = 5, LI = 7, LO = 6 };
typedef struct {
    double *x, *W, *b;
} lin_ctx;
static void lin_eval(void *c, double *y) {
    lin_ctx *l = c;
    lb_linear_forward_ref(y, l->x, l->W, l->b, LN_, LI, LO);
}

Test(linear, backward_matches_finite_differences) {
    lb_rng_seed(&R, 1);
    lin_ctx c = {dz(LN_ * LI), dz(LO * LI), dz(LO)};
    fill(c.x, LN_ * LI, 1);
    fill(c.W, LO * LI, 1);
    fill(c.b, LO, 1);
    double *g = dz(LN_ * LO);
    fill(g, LN_ * LO, 1);
    double *dx = dz(LN_ * LI), *dW = dz(LO * LI), *db = dz(LO);
    lb_linear_backward_ref(dx, dW, db, g, c.x, c.W, LN_, LI, LO);
    fd_check("linear dx", lin_eval, &c, c.x, LN_ * LI, g, LN_ * LO, dx);
    fd_check("linear dW", lin_eval, &c, c.W, LO * LI, g, LN_ * LO, dW);
    fd_check("linear db", lin_eval, &c, c.b, LO, g, LN_ * LO, db);
    free(c.x);
    free(c.W);
    free(c.b);
    free(g);
    free(dx);
    free(dW);
    free(db);
}

/* lb_linear_rows: close to the double reference (bias, alpha, accumulate, strides), and a row's
 * bits do not depend on the other rows: each row alone equals its row in a call over many rows,
 * for both paths (K < 64 and K >= 64, with a tail of k), threaded or not. */
Test(linear, rows_kernel_is_row_independent) {
    lb_rng_seed(&R, 5);
    int shapes[][2] = {{8, 768}, {768, 8}, {3, 70}, {77, 5}, {40, 33}, {130, 200}};
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        int K = shapes[s][0], N = shapes[s][1], M = 300, ldx = K + 3, ldy = N + 5;
        double *x = dz(M * K), *W = dz(N * K), *b = dz(N), *y = dz(M * N);
        fill(x, M * K, 1);
        fill(W, N * K, 1);
        fill(b, N, 1);
        float *xs = calloc((size_t)M * ldx, 4), *Wf = tof(W, N * K), *bf = tof(b, N);
        float *all = calloc((size_t)M * ldy, 4), *one = calloc((size_t)ldy, 4), *acc = calloc((size_t)M * ldy, 4);
        for (int m = 0; m < M; m++)
            for (int k = 0; k < K; k++) xs[m * ldx + k] = (float)x[m * K + k];
        lb_linear_forward_ref(y, x, W, b, M, K, N);
        lb_linear_rows(all, ldy, xs, ldx, Wf, bf, 1.0f, false, M, K, N);
        for (int m = 0; m < M; m++)
            for (int n = 0; n < N; n++)
                cr_assert(fabs(all[m * ldy + n] - y[m * N + n]) <= 1e-5 * (1 + fabs(y[m * N + n])), "K=%d N=%d", K, N);
        for (int m = 0; m < M; m += 37) {
            lb_linear_rows(one, ldy, xs + m * ldx, ldx, Wf, bf, 1.0f, false, 1, K, N);
            cr_assert_eq(memcmp(one, all + m * ldy, sizeof(float) * N), 0, "K=%d N=%d row %d alone", K, N, m);
        }
        /* rows 100..199 as their own call, single-threaded: the same bits */
        int prev = omp_get_max_threads();
        omp_set_num_threads(1);
        float *part = calloc((size_t)100 * ldy, 4);
        lb_linear_rows(part, ldy, xs + 100 * ldx, ldx, Wf, bf, 1.0f, false, 100, K, N);
        omp_set_num_threads(prev);
        for (int m = 0; m < 100; m++)
            cr_assert_eq(memcmp(part + m * ldy, all + (100 + m) * ldy, sizeof(float) * N), 0, "K=%d N=%d", K, N);
        /* accumulate with alpha: y + alpha * (x W^T), the bias unused */
        for (int i = 0; i < M * ldy; i++) acc[i] = 0.5f;
        lb_linear_rows(acc, ldy, xs, ldx, Wf, bf, 0.25f, true, M, K, N);
        for (int m = 0; m < M; m++) {
            for (int n = 0; n < N; n++) {
                double want = 0.5 + 0.25 * (y[m * N + n] - b[n]);
                cr_assert(fabs(acc[m * ldy + n] - want) <= 1e-5 * (1 + fabs(want)), "K=%d N=%d accumulate", K, N);
            }
            cr_assert_eq(acc[m * ldy + N], 0.5f, "wrote past its N columns");
        }
        free(x), free(W), free(b), free(y), free(xs), free(Wf), free(bf), free(all), free(one), free(acc), free(part);
    }
}

Test(linear, fast_matches_reference_with_strides) {
    lb_rng_seed(&R, 2);
    int N = 33, I = 40, O = 24, ldx = 45, ldy = 3 * O;
    double *x = dz(N * I), *W = dz(O * I), *b = dz(O), *y = dz(N * O), *g = dz(N * O);
    fill(x, N * I, 1);
    fill(W, O * I, 1);
    fill(b, O, 1);
    fill(g, N * O, 1);
    float *xs = calloc((size_t)N * ldx, 4), *ys = calloc((size_t)N * ldy, 4), *gs = calloc((size_t)N * ldy, 4);
    for (int n = 0; n < N; n++)
        for (int i = 0; i < I; i++) xs[n * ldx + i] = (float)x[n * I + i];
    for (int n = 0; n < N; n++)
        for (int o = 0; o < O; o++) gs[n * ldy + O + o] = (float)g[n * O + o];
    float *Wf = tof(W, O * I), *bf = tof(b, O);
    lb_linear_forward_ref(y, x, W, b, N, I, O);
    lb_linear_forward(ys + O, ldy, xs, ldx, Wf, bf, N, I, O); /* middle column block */
    float *yc = malloc(sizeof(float) * N * O);
    for (int n = 0; n < N; n++)
        for (int o = 0; o < O; o++) yc[n * O + o] = ys[n * ldy + O + o];
    cr_assert(relerr_fd(yc, y, N * O) < 1e-5);
    for (int n = 0; n < N; n++) cr_assert_eq(ys[n * ldy], 0.0f, "wrote outside its column block");
    /* backward: accumulate into nonzero dx/dW/db */
    double *dx = dz(N * I), *dW = dz(O * I), *db = dz(O);
    for (int i = 0; i < N * I; i++) dx[i] = 0.5;
    for (int i = 0; i < O * I; i++) dW[i] = 0.25;
    for (int i = 0; i < O; i++) db[i] = -1;
    float *dxs = calloc((size_t)N * ldx, 4), *dWs = malloc(sizeof(float) * O * I), *dbs = malloc(sizeof(float) * O);
    for (int n = 0; n < N; n++)
        for (int i = 0; i < I; i++) dxs[n * ldx + i] = 0.5f;
    for (int i = 0; i < O * I; i++) dWs[i] = 0.25f;
    for (int i = 0; i < O; i++) dbs[i] = -1;
    lb_linear_backward_ref(dx, dW, db, g, x, W, N, I, O);
    lb_linear_backward(dxs, ldx, dWs, dbs, gs + O, ldy, xs, ldx, Wf, N, I, O);
    float *dxc = malloc(sizeof(float) * N * I);
    for (int n = 0; n < N; n++)
        for (int i = 0; i < I; i++) dxc[n * I + i] = dxs[n * ldx + i];
    cr_assert(relerr_fd(dxc, dx, N * I) < 1e-5);
    cr_assert(relerr_fd(dWs, dW, O * I) < 1e-5);
    cr_assert(relerr_fd(dbs, db, O) < 1e-5);
    /* frozen: only dx requested leaves dW untouched */
    float before = dWs[3];
    lb_linear_backward(dxs, ldx, NULL, NULL, gs + O, ldy, xs, ldx, Wf, N, I, O);
    cr_assert_eq(dWs[3], before);
    free(x);
    free(W);
    free(b);
    free(y);
    free(g);
    free(xs);
    free(ys);
    free(gs);
    free(Wf);
    free(bf);
    free(yc);
    free(dx);
    free(dW);
    free(db);
    free(dxs);
    free(dWs);
    free(dbs);
    free(dxc);
}

/* ---------------- layernorm ---------------- */
enum { NN = 4, ND = 9 };
typedef struct {
    double *x, *w, *b;
} ln_ctx;
static void ln_eval(void *c, double *y) {
    ln_ctx *l = c;
    lb_layernorm_forward_ref(y, l->x, l->w, l->b, NN, ND, 1e-5);
}

Test(layernorm, backward_matches_finite_differences) {
    lb_rng_seed(&R, 3);
    ln_ctx c = {dz(NN * ND), dz(ND), dz(ND)};
    fill(c.x, NN * ND, 2);
    fill(c.w, ND, 1);
    fill(c.b, ND, 1);
    double *g = dz(NN * ND);
    fill(g, NN * ND, 1);
    double *dx = dz(NN * ND), *dw = dz(ND), *db = dz(ND);
    lb_layernorm_backward_ref(dx, dw, db, g, c.x, c.w, NN, ND, 1e-5);
    fd_check("layernorm dx", ln_eval, &c, c.x, NN * ND, g, NN * ND, dx);
    fd_check("layernorm dw", ln_eval, &c, c.w, ND, g, NN * ND, dw);
    fd_check("layernorm db", ln_eval, &c, c.b, ND, g, NN * ND, db);
    free(c.x);
    free(c.w);
    free(c.b);
    free(g);
    free(dx);
    free(dw);
    free(db);
}

Test(layernorm, fast_matches_reference_and_residual_fusion) {
    lb_rng_seed(&R, 4);
    int N = 37, D = 96;
    double *x = dz(N * D), *r = dz(N * D), *w = dz(D), *b = dz(D), *y = dz(N * D), *g = dz(N * D), *xr = dz(N * D);
    fill(x, N * D, 3);
    fill(r, N * D, 1);
    fill(w, D, 1);
    fill(b, D, 1);
    fill(g, N * D, 1);
    for (int i = 0; i < N * D; i++) xr[i] = (double)((float)x[i] + (float)r[i]);
    lb_layernorm_forward_ref(y, xr, w, b, N, D, 1e-12);
    float *xf = tof(x, N * D), *rf = tof(r, N * D), *wf = tof(w, D), *bf = tof(b, D), *gf = tof(g, N * D);
    float *yf = malloc(sizeof(float) * N * D), *mean = malloc(sizeof(float) * N), *rstd = malloc(sizeof(float) * N);
    lb_residual_layernorm_forward(yf, mean, rstd, xf, rf, D, wf, bf, N, D, 1e-12f);
    cr_assert(relerr_fd(yf, y, N * D) < 1e-5);
    double *dx = dz(N * D), *dw = dz(D), *db = dz(D);
    lb_layernorm_backward_ref(dx, dw, db, g, xr, w, N, D, 1e-12);
    float *dxf = malloc(sizeof(float) * N * D), *dwf = calloc(D, 4), *dbf = calloc(D, 4);
    lb_layernorm_backward(dxf, dwf, dbf, gf, xf, mean, rstd, wf, N, D);
    cr_assert(relerr_fd(dxf, dx, N * D) < 1e-4, "dx %g", relerr_fd(dxf, dx, N * D));
    cr_assert(relerr_fd(dwf, dw, D) < 1e-5);
    cr_assert(relerr_fd(dbf, db, D) < 1e-5);
    free(x);
    free(r);
    free(w);
    free(b);
    free(y);
    free(g);
    free(xr);
    free(xf);
    free(rf);
    free(wf);
    free(bf);
    free(gf);
    free(yf);
    free(mean);
    free(rstd);
    free(dx);
    free(dw);
    free(db);
    free(dxf);
    free(dwf);
    free(dbf);
}

/* ---------------- activations ---------------- */
Test(activation, gelu_is_exact_erf_and_derivative_matches_fd) {
    double xs[] = {-6, -2.7, -1, -0.3, 0, 0.2, 1, 2.5, 5};
    for (size_t i = 0; i < sizeof xs / sizeof *xs; i++) {
        double x = xs[i], h = 1e-6;
        double num = (lb_gelu_ref(x + h) - lb_gelu_ref(x - h)) / (2 * h);
        cr_assert(fabs(num - lb_gelu_grad_ref(x)) < 1e-8, "gelu' at %g", x);
    }
    /* exact erf, not tanh: at -2.7 the two forms differ by ~4.7e-4 */
    float pre[2] = {-2.7f, 1.3f}, out[2], bias[2] = {0, 0};
    lb_bias_gelu_forward(out, pre, bias, 1, 2);
    cr_assert(fabs(out[0] - lb_gelu_ref(-2.7f)) < 1e-6);
    cr_assert(fabs(out[1] - lb_gelu_ref(1.3f)) < 1e-6);
    lb_rng_seed(&R, 5);
    int N = 50, D = 33;
    double *x = dz(N * D), *b = dz(D), *g = dz(N * D);
    fill(x, N * D, 4);
    fill(b, D, 1);
    fill(g, N * D, 1);
    float *xf = tof(x, N * D), *bf = tof(b, D), *gf = tof(g, N * D), *of = malloc(sizeof(float) * N * D);
    lb_bias_gelu_forward(of, xf, bf, N, D);
    double *ref = dz(N * D), *dref = dz(N * D);
    for (int n = 0; n < N; n++)
        for (int d = 0; d < D; d++) {
            double v = (double)((float)x[n * D + d] + (float)b[d]);
            ref[n * D + d] = lb_gelu_ref(v);
            dref[n * D + d] = g[n * D + d] * lb_gelu_grad_ref(v);
            cr_assert_eq(xf[n * D + d], (float)v, "pre keeps x + b");
        }
    cr_assert(relerr_fd(of, ref, N * D) < 1e-6);
    lb_gelu_backward(gf, gf, xf, N * D);
    cr_assert(relerr_fd(gf, dref, N * D) < 1e-5);
    free(x);
    free(b);
    free(g);
    free(xf);
    free(bf);
    free(gf);
    free(of);
    free(ref);
    free(dref);
}

Test(activation, relu_and_tanh_backward_match_fd) {
    float x[6] = {-2, -0.5f, 0.1f, 0.7f, 1.5f, 3}, y[6], dy[6] = {1, 2, 3, -1, 0.5f, 1}, dx[6];
    lb_tanh_forward(y, x, 6);
    lb_tanh_backward(dx, dy, y, 6);
    for (int i = 0; i < 6; i++) {
        double h = 1e-6, num = (tanh((double)x[i] + h) - tanh((double)x[i] - h)) / (2 * h) * dy[i];
        cr_assert(fabs(dx[i] - num) < 1e-5, "tanh' %d", i);
    }
    lb_relu_forward(y, x, 6);
    lb_relu_backward(dx, dy, y, 6);
    for (int i = 0; i < 6; i++) cr_assert_eq(dx[i], x[i] > 0 ? dy[i] : 0.0f);
}

/* ---------------- dropout ---------------- */
Test(dropout, inverted_scaling_rate_and_determinism) {
    int64_t n = 200000;
    uint8_t *k1 = malloc((size_t)n), *k2 = malloc((size_t)n);
    lb_rng r1, r2;
    lb_rng_seed(&r1, 9);
    lb_rng_seed(&r2, 9);
    lb_dropout_mask(k1, n, 0.1f, &r1);
    lb_dropout_mask(k2, n, 0.1f, &r2);
    cr_assert_eq(memcmp(k1, k2, (size_t)n), 0, "same seed, same mask");
    int64_t kept = 0;
    for (int64_t i = 0; i < n; i++) kept += k1[i];
    double rate = 1.0 - (double)kept / n;
    cr_assert(fabs(rate - 0.1) < 0.005, "drop rate %g", rate);
    float x[4] = {1, 2, 3, 4}, y[4];
    uint8_t keep[4] = {1, 0, 1, 0};
    lb_dropout_forward(y, x, keep, 4, 0.2f);
    cr_assert(fabsf(y[0] - 1.25f) < 1e-6f && y[1] == 0.0f && fabsf(y[2] - 3.75f) < 1e-6f && y[3] == 0.0f);
    lb_dropout_backward(y, x, keep, 4, 0.2f);
    cr_assert(fabsf(y[2] - 3.75f) < 1e-6f && y[3] == 0.0f);
    /* chunked (parallel) masks: same result with 1 thread as with several */
    int nt = omp_get_max_threads();
    lb_rng_seed(&r1, 11);
    lb_rng_seed(&r2, 11);
    omp_set_num_threads(1);
    lb_dropout_mask(k1, n, 0.3f, &r1);
    omp_set_num_threads(nt > 1 ? nt : 2);
    lb_dropout_mask(k2, n, 0.3f, &r2);
    omp_set_num_threads(nt);
    cr_assert_eq(memcmp(k1, k2, (size_t)n), 0, "mask depends on the thread count");
    cr_assert_eq(memcmp(&r1, &r2, sizeof r1), 0);
    kept = 0;
    for (int64_t i = 0; i < n; i++) kept += k1[i];
    cr_assert(fabs(1.0 - (double)kept / n - 0.3) < 0.005);
    lb_dropout_mask(k1, 10, 0.0f, &r1);
    for (int i = 0; i < 10; i++) cr_assert_eq(k1[i], 1);
    free(k1);
    free(k2);
}

/* ---------------- embeddings ---------------- */
Test(embedding, gather_sum) {
    int V = 5, P = 4, D = 3, N = 3;
    float wte[15], wpe[12], wtt[6];
    for (int i = 0; i < 15; i++) wte[i] = (float)i;
    for (int i = 0; i < 12; i++) wpe[i] = 100.0f * (float)i;
    for (int i = 0; i < 6; i++) wtt[i] = 0.5f * (float)i;
    int32_t ids[3] = {4, 0, 4}, pos[3] = {0, 1, 2}, tt[3] = {0, 1, 1};
    float out[9];
    lb_embeddings_forward(out, ids, pos, tt, wte, wpe, wtt, N, D);
    for (int n = 0; n < N; n++)
        for (int d = 0; d < D; d++)
            cr_assert_eq(out[n * D + d], wte[ids[n] * D + d] + wtt[tt[n] * D + d] + wpe[pos[n] * D + d]);
    lb_embeddings_forward(out, ids, pos, NULL, wte, wpe, NULL, N, D);
    cr_assert_eq(out[4], wte[1] + wpe[4]);
    (void)V;
    (void)P;
}

/* ---------------- attention ---------------- */
enum { AQ = 3, AK = 4, AH = 2, ADH = 3 };
typedef struct {
    double *q, *k, *v;
} at_ctx;
static void at_eval(void *c, double *y) {
    at_ctx *a = c;
    lb_attention_forward_ref(y, a->q, a->k, a->v, AQ, AK, AH, ADH, 0.577);
}

Test(attention, backward_matches_finite_differences) {
    lb_rng_seed(&R, 6);
    int D = AH * ADH;
    at_ctx c = {dz(AQ * D), dz(AK * D), dz(AK * D)};
    fill(c.q, AQ * D, 1.5);
    fill(c.k, AK * D, 1.5);
    fill(c.v, AK * D, 1);
    double *g = dz(AQ * D);
    fill(g, AQ * D, 1);
    double *dq = dz(AQ * D), *dk = dz(AK * D), *dv = dz(AK * D);
    lb_attention_backward_ref(dq, dk, dv, g, c.q, c.k, c.v, AQ, AK, AH, ADH, 0.577);
    fd_check("attention dq", at_eval, &c, c.q, AQ * D, g, AQ * D, dq);
    fd_check("attention dk", at_eval, &c, c.k, AK * D, g, AQ * D, dk);
    fd_check("attention dv", at_eval, &c, c.v, AK * D, g, AQ * D, dv);
    free(c.q);
    free(c.k);
    free(c.v);
    free(g);
    free(dq);
    free(dk);
    free(dv);
}

/* The fast kernel on a packed [n, 3D] Q|K|V buffer vs the reference; also the [CLS]-only
 * query case (nq = 1) used by the last layer. */
static void attention_fast_vs_ref(int nq, int nk) {
    lb_rng_seed(&R, 7 + (uint64_t)nq);
    int H = 4, dh = 8, D = H * dh, ld = 3 * D;
    double *q = dz(nq * D), *k = dz(nk * D), *v = dz(nk * D), *g = dz(nq * D);
    fill(q, nq * D, 2);
    fill(k, nk * D, 2);
    fill(v, nk * D, 1);
    fill(g, nq * D, 1);
    float *qkv = calloc((size_t)nk * ld, 4), *dqkv = calloc((size_t)nk * ld, 4);
    for (int i = 0; i < nq; i++)
        for (int c = 0; c < D; c++) qkv[i * ld + c] = (float)q[i * D + c];
    for (int i = 0; i < nk; i++)
        for (int c = 0; c < D; c++) {
            qkv[i * ld + D + c] = (float)k[i * D + c];
            qkv[i * ld + 2 * D + c] = (float)v[i * D + c];
        }
    double *ctx = dz(nq * D), *dq = dz(nq * D), *dk = dz(nk * D), *dv = dz(nk * D);
    double scale = 1.0 / sqrt(dh);
    lb_attention_forward_ref(ctx, q, k, v, nq, nk, H, dh, scale);
    lb_attention_backward_ref(dq, dk, dv, g, q, k, v, nq, nk, H, dh, scale);
    float *ctxf = malloc(sizeof(float) * nq * D), *probs = malloc(sizeof(float) * H * nq * nk);
    float *scratch = malloc(sizeof(float) * (size_t)lb_attention_scratch(nq, nk));
    float *gf = tof(g, nq * D);
    lb_attention_forward(ctxf, D, probs, NULL, 0.0f, qkv, ld, qkv + D, qkv + 2 * D, ld, nq, nk, H, dh, (float)scale,
                         scratch);
    cr_assert(relerr_fd(ctxf, ctx, nq * D) < 1e-5);
    lb_attention_backward(dqkv, ld, dqkv + D, dqkv + 2 * D, ld, gf, D, probs, NULL, 0.0f, qkv, ld, qkv + D, qkv + 2 * D,
                          ld, nq, nk, H, dh, (float)scale, scratch);
    float *t = malloc(sizeof(float) * nk * D);
    for (int i = 0; i < nq; i++)
        for (int c = 0; c < D; c++) t[i * D + c] = dqkv[i * ld + c];
    cr_assert(relerr_fd(t, dq, nq * D) < 1e-4, "dq %g", relerr_fd(t, dq, nq * D));
    for (int i = 0; i < nk; i++)
        for (int c = 0; c < D; c++) t[i * D + c] = dqkv[i * ld + D + c];
    cr_assert(relerr_fd(t, dk, nk * D) < 1e-4, "dk %g", relerr_fd(t, dk, nk * D));
    for (int i = 0; i < nk; i++)
        for (int c = 0; c < D; c++) t[i * D + c] = dqkv[i * ld + 2 * D + c];
    cr_assert(relerr_fd(t, dv, nk * D) < 1e-5);
    free(q);
    free(k);
    free(v);
    free(g);
    free(qkv);
    free(dqkv);
    free(ctx);
    free(dq);
    free(dk);
    free(dv);
    free(ctxf);
    free(probs);
    free(scratch);
    free(gf);
    free(t);
}
Test(attention, fast_matches_reference_full) { attention_fast_vs_ref(13, 13); }
Test(attention, fast_matches_reference_cls_query_only) { attention_fast_vs_ref(1, 11); }

/* With dropout, the kernel must equal ctx = (P*keep/(1-p)) V and its backward must match
 * finite differences through that same fixed mask. */
Test(attention, dropout_backward_matches_fd_of_fast_kernel) {
    lb_rng_seed(&R, 8);
    int nq = 3, nk = 5, H = 2, dh = 4, D = H * dh;
    float p = 0.3f;
    float *q = malloc(sizeof(float) * nq * D), *k = malloc(sizeof(float) * nk * D), *v = malloc(sizeof(float) * nk * D);
    for (int i = 0; i < nq * D; i++) q[i] = 2 * lb_rng_uniform(&R) - 1;
    for (int i = 0; i < nk * D; i++) {
        k[i] = 2 * lb_rng_uniform(&R) - 1;
        v[i] = 2 * lb_rng_uniform(&R) - 1;
    }
    uint8_t keep[2 * 3 * 5];
    lb_dropout_mask(keep, H * nq * nk, p, &R);
    float probs[2 * 3 * 5], ctx[3 * 8], g[3 * 8], scratch[1024];
    for (int i = 0; i < nq * D; i++) g[i] = 2 * lb_rng_uniform(&R) - 1;
    float dq[24] = {0}, dk[40] = {0}, dv[40] = {0};
    cr_assert(lb_attention_scratch(nq, nk) <= 1024);
    lb_attention_forward(ctx, D, probs, keep, p, q, D, k, v, D, nq, nk, H, dh, 0.5f, scratch);
    lb_attention_backward(dq, D, dk, dv, D, g, D, probs, keep, p, q, D, k, v, D, nq, nk, H, dh, 0.5f, scratch);
    float *arrs[3] = {q, k, v}, *grads[3] = {dq, dk, dv};
    int ns[3] = {nq * D, nk * D, nk * D};
    for (int a = 0; a < 3; a++)
        for (int i = 0; i < ns[a]; i++) {
            float s = arrs[a][i], h = 1e-2f;
            double l[2];
            for (int sgn = 0; sgn < 2; sgn++) {
                arrs[a][i] = s + (sgn ? -h : h);
                lb_attention_forward(ctx, D, probs, keep, p, q, D, k, v, D, nq, nk, H, dh, 0.5f, scratch);
                l[sgn] = 0;
                for (int j = 0; j < nq * D; j++) l[sgn] += (double)g[j] * ctx[j];
            }
            arrs[a][i] = s;
            double num = (l[0] - l[1]) / (2.0 * h);
            cr_assert(fabs(num - grads[a][i]) < 2e-3, "arg %d elem %d: fd %g vs %g", a, i, num, grads[a][i]);
        }
    free(q);
    free(k);
    free(v);
}

/* ---------------- cross-entropy ---------------- */
typedef struct {
    double *z;
    int32_t *y;
} ce_ctx;
static void ce_eval(void *c, double *out) {
    ce_ctx *e = c;
    out[0] = lb_cross_entropy_ref(e->z, e->y, 3, 4, NULL);
}

Test(cross_entropy, matches_fd_and_torch_definition) {
    lb_rng_seed(&R, 10);
    double z[12];
    int32_t y[3] = {0, 3, 2};
    fill(z, 12, 3);
    ce_ctx c = {z, y};
    double dz_[12], one = 1.0;
    lb_cross_entropy_ref(z, y, 3, 4, dz_);
    fd_check("cross-entropy dlogits", ce_eval, &c, z, 12, &one, 1, dz_);
    float zf[12], dzf[12];
    for (int i = 0; i < 12; i++) zf[i] = (float)z[i];
    float loss = lb_cross_entropy(zf, y, 3, 4, dzf);
    cr_assert(fabs(loss - lb_cross_entropy_ref(z, y, 3, 4, NULL)) < 1e-6);
    cr_assert(relerr_fd(dzf, dz_, 12) < 1e-6);
    /* hand value: logits (0, 0), label 1 -> log 2 */
    float z2[2] = {0, 0};
    int32_t y2 = 1;
    cr_assert(fabsf(lb_cross_entropy(z2, &y2, 1, 2, NULL) - logf(2.0f)) < 1e-7f);
}

/* Label smoothing and class weights: the double twin against finite differences, the float kernel
 * against the twin, and both against the pinned stack (tests/golden/loss/torch.json:
 * transformers 4.32.1's LabelSmoother, torch CrossEntropyLoss(weight=...), autograd). */
typedef struct {
    double *z;
    int32_t *y;
    double eps;
    const double *w;
} cex_ctx;
static void cex_eval(void *c, double *out) {
    cex_ctx *e = c;
    out[0] = lb_cross_entropy_ex_ref(e->z, e->y, 3, 4, e->eps, e->w, NULL);
}

Test(cross_entropy, smoothed_and_weighted_match_fd) {
    lb_rng_seed(&R, 12);
    double z[12], w[4] = {0.3, 1.0, 2.5, 0.8};
    int32_t y[3] = {0, 3, 3};
    fill(z, 12, 3);
    for (int k = 0; k < 2; k++) {
        cex_ctx c = {z, y, k ? 0.0 : 0.25, k ? w : NULL};
        double dz_[12], one = 1.0;
        lb_cross_entropy_ex_ref(z, y, 3, 4, c.eps, c.w, dz_);
        fd_check(k ? "weighted cross-entropy dlogits" : "smoothed cross-entropy dlogits", cex_eval, &c, z, 12, &one, 1,
                 dz_);
        float zf[12], dzf[12], wf[4];
        for (int i = 0; i < 12; i++) zf[i] = (float)z[i];
        for (int i = 0; i < 4; i++) wf[i] = (float)w[i];
        lb_loss_spec spec = {.smoothing = (float)c.eps, .weights = k ? wf : NULL};
        float loss = lb_cross_entropy_ex(zf, y, 3, 4, &spec, dzf);
        cr_assert(fabs(loss - lb_cross_entropy_ex_ref(z, y, 3, 4, c.eps, c.w, NULL)) < 1e-6);
        cr_assert(relerr_fd(dzf, dz_, 12) < 1e-6);
    }
    /* all weights 1 and no smoothing: plain cross-entropy, bit for bit */
    float zf[12], d1[12], d2[12], ones[4] = {1, 1, 1, 1};
    for (int i = 0; i < 12; i++) zf[i] = (float)z[i];
    lb_loss_spec none = {0}, unit = {.weights = ones};
    cr_assert_eq(lb_cross_entropy_ex(zf, y, 3, 4, &none, d1), lb_cross_entropy(zf, y, 3, 4, d2));
    cr_assert(fabsf(lb_cross_entropy_ex(zf, y, 3, 4, &unit, d1) - lb_cross_entropy(zf, y, 3, 4, NULL)) < 1e-6f);
    for (int i = 0; i < 12; i++) cr_assert(fabsf(d1[i] - d2[i]) < 1e-7f);
}

Test(cross_entropy, smoothed_and_weighted_match_torch) {
    cJSON *root = read_json("tests/golden/loss/torch.json");
    const cJSON *c;
    int n = 0;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(root, "cases")) {
        const int B = cJSON_GetObjectItem(c, "B")->valueint, L = cJSON_GetObjectItem(c, "L")->valueint;
        float z[64], want_d[64], d[64], w[8];
        int32_t y[16];
        cr_assert(B * L <= 64 && B <= 16 && L <= 8);
        for (int i = 0; i < B * L; i++) {
            z[i] = (float)cJSON_GetArrayItem(cJSON_GetObjectItem(c, "logits"), i)->valuedouble;
            want_d[i] = (float)cJSON_GetArrayItem(cJSON_GetObjectItem(c, "dlogits"), i)->valuedouble;
        }
        for (int b = 0; b < B; b++) y[b] = cJSON_GetArrayItem(cJSON_GetObjectItem(c, "labels"), b)->valueint;
        lb_loss_spec spec = {.smoothing = (float)cJSON_GetObjectItem(c, "smoothing")->valuedouble};
        const cJSON *wj = cJSON_GetObjectItem(c, "weights");
        if (cJSON_IsArray(wj)) {
            for (int j = 0; j < L; j++) w[j] = (float)cJSON_GetArrayItem(wj, j)->valuedouble;
            spec.weights = w;
        }
        const double want = cJSON_GetObjectItem(c, "loss")->valuedouble;
        const float loss = lb_cross_entropy_ex(z, y, B, L, &spec, d);
        double num = 0, den = 0;
        for (int i = 0; i < B * L; i++) {
            num += ((double)d[i] - want_d[i]) * ((double)d[i] - want_d[i]);
            den += (double)want_d[i] * want_d[i];
        }
        const char *name = cJSON_GetObjectItem(c, "name")->valuestring;
        cr_assert(fabs(loss - want) <= 1e-5 * fabs(want), "%s: loss %.9g vs torch %.9g", name, loss, want);
        cr_assert(sqrt(num / den) <= 1e-4, "%s: dlogits differ from torch by %.3g relative", name, sqrt(num / den));
        n++;
    }
    cr_assert_eq(n, 6);
    cJSON_Delete(root);
}

/* Multi-label (BCEWithLogitsLoss) and regression (MSELoss): the double twins against finite
 * differences, the float kernels against the twins, and both against torch
 * (tests/golden/loss/task_torch.json, tools/reference/task_golden.py). */
typedef struct {
    double *t;
    int kind; /* 0: bce, 1: mse */
} task_ctx;
static double *task_z;
static void task_eval(void *c, double *out) {
    task_ctx *e = c;
    out[0] = e->kind ? lb_mse_ref(task_z, e->t, 12, NULL) : lb_bce_logits_ref(task_z, e->t, 3, 4, NULL);
}

Test(task_loss, bce_and_mse_match_fd) {
    lb_rng_seed(&R, 13);
    double z[12], t[12], dz_[12], one = 1.0;
    fill(z, 12, 3);
    for (int kind = 0; kind < 2; kind++) {
        if (kind) fill(t, 12, 2);
        else
            for (int i = 0; i < 12; i++) t[i] = (double)(i % 3 == 0);
        task_ctx c = {t, kind};
        task_z = z;
        if (kind) lb_mse_ref(z, t, 12, dz_);
        else lb_bce_logits_ref(z, t, 3, 4, dz_);
        fd_check(kind ? "mse dpred" : "bce dlogits", task_eval, &c, z, 12, &one, 1, dz_);
        float zf[12], tf[12], dzf[12];
        for (int i = 0; i < 12; i++) zf[i] = (float)z[i], tf[i] = (float)t[i];
        lb_loss_spec spec = {.problem = kind ? LB_PROBLEM_REGRESSION : LB_PROBLEM_MULTI_LABEL};
        float loss = lb_task_loss(zf, NULL, tf, 3, 4, &spec, dzf);
        double want = kind ? lb_mse_ref(z, t, 12, NULL) : lb_bce_logits_ref(z, t, 3, 4, NULL);
        cr_assert(fabs(loss - want) < 1e-6 * fabs(want), "%s: %.9g vs %.9g", kind ? "mse" : "bce", loss, want);
        cr_assert(relerr_fd(dzf, dz_, 12) < 1e-6);
    }
}

Test(task_loss, bce_and_mse_match_torch) {
    cJSON *root = read_json("tests/golden/loss/task_torch.json");
    const cJSON *c;
    int n = 0;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(root, "cases")) {
        const int B = cJSON_GetObjectItem(c, "B")->valueint, L = cJSON_GetObjectItem(c, "L")->valueint;
        const bool mse = !strcmp(cJSON_GetObjectItem(c, "kind")->valuestring, "mse");
        float z[64], t[64], want_d[64], d[64];
        cr_assert(B * L <= 64);
        for (int i = 0; i < B * L; i++) {
            z[i] = (float)cJSON_GetArrayItem(cJSON_GetObjectItem(c, "logits"), i)->valuedouble;
            t[i] = (float)cJSON_GetArrayItem(cJSON_GetObjectItem(c, "targets"), i)->valuedouble;
            want_d[i] = (float)cJSON_GetArrayItem(cJSON_GetObjectItem(c, "dlogits"), i)->valuedouble;
        }
        lb_loss_spec spec = {.problem = mse ? LB_PROBLEM_REGRESSION : LB_PROBLEM_MULTI_LABEL};
        const double want = cJSON_GetObjectItem(c, "loss")->valuedouble;
        const float loss = lb_task_loss(z, NULL, t, B, L, &spec, d);
        double num = 0, den = 0;
        for (int i = 0; i < B * L; i++) {
            num += ((double)d[i] - want_d[i]) * ((double)d[i] - want_d[i]);
            den += (double)want_d[i] * want_d[i];
        }
        cr_assert(fabs(loss - want) <= 1e-5 * fabs(want), "%s %dx%d: loss %.9g vs torch %.9g", mse ? "mse" : "bce", B,
                  L, loss, want);
        cr_assert(sqrt(num / den) <= 1e-4, "%s %dx%d: dlogits differ from torch by %.3g relative", mse ? "mse" : "bce",
                  B, L, sqrt(num / den));
        n++;
    }
    cr_assert_eq(n, 11);
    cJSON_Delete(root);
}

/* ---- NaN / Inf: every forward kernel gives NaN where torch does ---------------------------- */

Test(nan_semantics, relu_gelu_tanh_as_torch) {
    const float nan = NAN, inf = INFINITY;
    float x[5] = {nan, -1.0f, 2.0f, inf, -inf}, y[5];
    lb_relu_forward(y, x, 5); /* torch.relu: nan, 0, 2, inf, 0 */
    cr_assert(isnan(y[0]), "relu(NaN) must be NaN (torch), got %g", y[0]);
    cr_assert(y[1] == 0.0f && y[2] == 2.0f && y[3] == inf && y[4] == 0.0f);
    float g[5] = {1, 1, 1, 1, 1}, dx[5];
    lb_relu_backward(dx, g, y, 5); /* threshold_backward(grad, result, 0): result <= 0 ? 0 : grad */
    cr_assert(dx[0] == 1.0f && dx[1] == 0.0f && dx[2] == 1.0f && dx[3] == 1.0f && dx[4] == 0.0f);
    float pre[4] = {nan, 0.5f, inf, 1.0f}, out[4], b[4] = {0, 0, 0, nan};
    lb_bias_gelu_forward(out, pre, b, 1, 4);
    cr_assert(isnan(out[0]) && isfinite(out[1]) && out[2] == inf && isnan(out[3]), "gelu: %g %g %g %g", out[0], out[1],
              out[2], out[3]);
    float t[2] = {nan, inf}, to[2];
    lb_tanh_forward(to, t, 2);
    cr_assert(isnan(to[0]) && to[1] == 1.0f);
}

Test(nan_semantics, dropout_multiplies_like_torch) {
    /* torch CPU dropout is input * mask / (1-p): a dropped NaN or Inf is NaN, not 0 */
    float x[4] = {NAN, INFINITY, 3.0f, NAN}, y[4];
    uint8_t keep[4] = {0, 0, 0, 1};
    lb_dropout_forward(y, x, keep, 4, 0.5f);
    cr_assert(isnan(y[0]) && isnan(y[1]) && y[2] == 0.0f && isnan(y[3]));
}

Test(nan_semantics, layernorm_row_and_column) {
    enum { N = 3, D = 8 };
    float x[N * D], w[D], b[D], y[N * D];
    for (int i = 0; i < N * D; i++) x[i] = (float)((i * 7) % 5) - 2.0f;
    for (int i = 0; i < D; i++) {
        w[i] = 1.0f + 0.1f * (float)i;
        b[i] = 0.01f * (float)i;
    }
    x[D + 3] = NAN;          /* row 1: every output NaN (mean and variance are NaN) */
    x[2 * D + 1] = INFINITY; /* row 2: x - mean = inf - inf: NaN */
    w[5] = NAN;              /* column 5: NaN in every row */
    lb_layernorm_forward(y, NULL, NULL, x, w, b, N, D, 1e-12f);
    for (int i = 0; i < D; i++) {
        cr_assert(i == 5 ? isnan(y[i]) : isfinite(y[i]), "row 0 col %d: %g", i, y[i]);
        cr_assert(isnan(y[D + i]), "row 1 col %d: %g", i, y[D + i]);
        cr_assert(isnan(y[2 * D + i]), "row 2 col %d: %g", i, y[2 * D + i]);
    }
}

Test(nan_semantics, attention_softmax_rows) {
    enum { NQ = 3, NK = 4, H = 2, DH = 2, W = H * DH };
    float q[NQ * W], k[NK * W], v[NK * W], ctx[NQ * W], probs[H * NQ * NK];
    for (int i = 0; i < NQ * W; i++) q[i] = 0.1f * (float)(i % 7) - 0.3f;
    for (int i = 0; i < NK * W; i++) {
        k[i] = 0.2f * (float)(i % 5) - 0.4f;
        v[i] = 0.05f * (float)i;
    }
    q[1 * W + 0] = NAN;       /* query 1, head 0: its whole softmax row is NaN */
    k[2 * W + DH] = INFINITY; /* key 2, head 1: its score is -inf, +inf or NaN (0 * inf) by the query */
    q[0 * W + DH] = -1.0f;    /* -inf: exp gives 0, the row stays finite (torch too) */
    q[1 * W + DH] = 1.0f;     /* +inf: the max is inf, inf - inf = NaN: the row is NaN */
    q[2 * W + DH] = 0.0f;     /* 0 * inf = NaN */
    float *scratch = malloc(sizeof(float) * (size_t)lb_attention_scratch(NQ, NK));
    lb_attention_forward(ctx, W, probs, NULL, 0.0f, q, W, k, v, W, NQ, NK, H, DH, 0.7f, scratch);
    free(scratch);
    for (int j = 0; j < NK; j++) {
        cr_assert(isnan(probs[1 * NK + j]), "head 0 row 1 prob %d: %g", j, probs[1 * NK + j]);
        cr_assert(isfinite(probs[0 * NK + j]) && isfinite(probs[2 * NK + j]));
    }
    for (int d = 0; d < DH; d++) {
        cr_assert(isnan(ctx[1 * W + d]));
        cr_assert(isfinite(ctx[0 * W + d]) && isfinite(ctx[2 * W + d]));
    }
    for (int i = 0; i < NQ; i++)
        for (int j = 0; j < NK; j++) {
            float p = probs[NQ * NK + i * NK + j];
            cr_assert(i == 0 ? isfinite(p) : isnan(p), "head 1 row %d prob %d: %g", i, j, p);
        }
}

Test(nan_semantics, cross_entropy) {
    float z[6] = {1.0f, NAN, 0.5f, NAN, 2.0f, 0.0f}, dz6[6];
    int32_t y[3] = {0, 1, 0};
    cr_assert(isnan(lb_cross_entropy(z, y, 3, 2, dz6)), "a NaN logit makes the mean loss NaN (torch)");
    cr_assert(isnan(dz6[0]) && isnan(dz6[1]) && isnan(dz6[2]) && isnan(dz6[3]));
    cr_assert(isfinite(dz6[4]) && isfinite(dz6[5]), "other rows keep finite gradients");
    /* first logit NaN (the running max starts there) */
    float z2[2] = {NAN, 1.0f};
    int32_t y2[1] = {1};
    cr_assert(isnan(lb_cross_entropy(z2, y2, 1, 2, NULL)));
    /* +inf logit: logsumexp is inf - inf inside torch's log_softmax: NaN */
    float z3[2] = {INFINITY, 0.0f};
    cr_assert(isnan(lb_cross_entropy(z3, y2, 1, 2, NULL)));
    /* -inf on the true class: loss +inf (torch) */
    float z4[2] = {0.0f, -INFINITY};
    cr_assert(isinf(lb_cross_entropy(z4, y2, 1, 2, NULL)));
}
