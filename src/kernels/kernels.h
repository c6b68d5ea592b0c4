/* Numeric kernels of the encoder: each concept is a _forward/_backward pair over flat float
 * arrays (one .c file per concept), with a naive double-precision _ref twin used by the tests
 * (finite differences run on the double twins; the fast float kernels are compared to them).
 *
 * Conventions: matrices are row-major; "ld" arguments are row strides in elements (>= the
 * row length) so kernels can read/write column blocks of a packed buffer (e.g. Q|K|V).
 * Weight/bias gradients always ACCUMULATE (+=). Activation gradients are documented per
 * function: "+=" accumulates, "=" overwrites. Nullable outputs are skipped when NULL. */
#ifndef LB_KERNELS_KERNELS_H
#define LB_KERNELS_KERNELS_H
#include <stdbool.h>
#include <stdint.h>
#include "base/rng.h"

/* ---- linear (linear.c): y = x W^T + b, W stored [out, in] as in PyTorch ---------------- */
/* y [N, ldy] (first O columns written), x [N, ldx], W [O, I], b [O] nullable. */
void lb_linear_forward(float *y, int ldy, const float *x, int ldx, const float *W, const float *b, int N, int K, int O);
/* dx [N, lddx] += dy W (nullable: frozen input path not needed); dW [O, I] += dy^T x
 * (nullable: frozen weight); db [O] += sum_n dy (nullable). dy [N, lddy], x [N, ldx]. */
void lb_linear_backward(float *dx, int lddx, float *dW, float *db, const float *dy, int lddy, const float *x, int ldx,
                        const float *W, int N, int K, int O);
/* y [M, ldy] (first N columns) = base + alpha * (x W^T), base = y itself when accumulate, else
 * b [N] (nullable: 0); x [M, ldx], W [N, K]. Row-independent: each output is the same fixed-order
 * dot product (K < 64: the products summed in k order; else 16 lane sums over k, then a fixed
 * tree) whatever M, the row's position and the thread count, so a row's result never depends on the other rows of the call. OpenBLAS does
 * not promise that (its kernels change with the matrix sizes), so the eval paths that must give
 * one row the same bits alone and in any batch (the LoRA updates and the head) use this. */
void lb_linear_rows(float *y, int ldy, const float *x, int ldx, const float *W, const float *b, float alpha,
                    bool accumulate, int M, int K, int N);
void lb_linear_forward_ref(double *y, const double *x, const double *W, const double *b, int N, int K, int O);
void lb_linear_backward_ref(double *dx, double *dW, double *db, const double *dy, const double *x, const double *W,
                            int N, int K, int O);

/* ---- LayerNorm (layernorm.c): y = (x - mean) / sqrt(var_biased + eps) * w + b ---------- */
/* y, x [N, D]; mean, rstd [N] nullable (saved for backward); w, b [D]. */
void lb_layernorm_forward(float *y, float *mean, float *rstd, const float *x, const float *w, const float *b, int N,
                          int D, float eps);
/* Fused residual: x [N, D] is overwritten with x + r (the LayerNorm input, kept for backward),
 * then y = LN(x). r [N, ldr]. */
void lb_residual_layernorm_forward(float *y, float *mean, float *rstd, float *x, const float *r, int ldr,
                                   const float *w, const float *b, int N, int D, float eps);
/* dx [N, D] = (overwrite) gradient wrt x; dw, db [D] += (nullable). x, mean, rstd as saved. */
void lb_layernorm_backward(float *dx, float *dw, float *db, const float *dy, const float *x, const float *mean,
                           const float *rstd, const float *w, int N, int D);
void lb_layernorm_forward_ref(double *y, const double *x, const double *w, const double *b, int N, int D, double eps);
void lb_layernorm_backward_ref(double *dx, double *dw, double *db, const double *dy, const double *x, const double *w,
                               int N, int D, double eps);

/* ---- activations (activation.c): exact-erf GELU, ReLU, tanh -------------------------- */
/* Fused bias + GELU: pre [N, D] += b (kept for backward), out [N, D] = gelu(pre). */
void lb_bias_gelu_forward(float *out, float *pre, const float *b, int N, int D);
/* dpre [n] = dout * gelu'(pre)  (overwrite; dpre may alias dout). */
void lb_gelu_backward(float *dpre, const float *dout, const float *pre, int64_t n);
void lb_relu_forward(float *out, const float *x, int64_t n);
/* dx = dout * (out > 0)  (overwrite; may alias). */
void lb_relu_backward(float *dx, const float *dout, const float *out, int64_t n);
void lb_tanh_forward(float *out, const float *x, int64_t n);
/* dx = dout * (1 - out^2)  (overwrite; may alias). */
void lb_tanh_backward(float *dx, const float *dout, const float *out, int64_t n);
double lb_gelu_ref(double x);
double lb_gelu_grad_ref(double x);

/* ---- GELU variants and GeGLU (geglu.c): tanh_approx false = exact erf (HF "gelu"), true =
 * torch's tanh form (HF "gelu_pytorch_tanh"). ----------------------------------------------- */
/* out [n] = gelu(x); dx [n] = dout * gelu'(x) (overwrite; dx may alias dout). */
void lb_gelu_kind_forward(float *out, const float *x, int64_t n, bool tanh_approx);
void lb_gelu_kind_backward(float *dx, const float *dout, const float *x, int64_t n, bool tanh_approx);
/* GeGLU: in [N, 2F] = input | gate, out [N, F] = gelu(input) * gate. din [N, 2F] (overwrite). */
void lb_geglu_forward(float *out, const float *in, int N, int F, bool tanh_approx);
void lb_geglu_backward(float *din, const float *dout, const float *in, int N, int F, bool tanh_approx);
double lb_gelu_kind_ref(double x, bool tanh_approx);
void lb_geglu_forward_ref(double *out, const double *in, int N, int F, bool tanh_approx);

/* ---- rotary position embeddings (rope.c): rotate_half form, per head of dh (even) ----------- */
/* inv_freq [dh/2] = 1 / theta^(2i/dh) (float32 as torch computes it). */
void lb_rope_inv_freq(float *inv_freq, int dh, float theta);
/* cs [dh] = cos(angle) [dh/2] | sin(angle) [dh/2] at position pos. */
void lb_rope_table(float *cs, const float *inv_freq, int dh, int pos);
/* In place on x [N, ldx] (H heads of dh from column 0), row n rotated by cs [N, dh]. backward:
 * the transposed rotation on a gradient (exact: the map is linear and orthogonal). */
void lb_rope_forward(float *x, int ldx, const float *cs, int N, int H, int dh);
void lb_rope_backward(float *dx, int lddx, const float *cs, int N, int H, int dh);
/* Double twin on a contiguous [N, H*dh], positions pos [N]. */
void lb_rope_forward_ref(double *x, const int32_t *pos, int N, int H, int dh, double theta);

/* ---- dropout (dropout.c): inverted dropout, keep-mask from lb_rng -------------------- */
/* keep [n] = 1 with probability 1-p (sequential draws: deterministic for a given rng). */
void lb_dropout_mask(uint8_t *keep, int64_t n, float p, lb_rng *rng);
/* y = x * keep / (1-p)  (y may alias x). */
void lb_dropout_forward(float *y, const float *x, const uint8_t *keep, int64_t n, float p);
/* dx = dy * keep / (1-p)  (overwrite; may alias). */
void lb_dropout_backward(float *dx, const float *dy, const uint8_t *keep, int64_t n, float p);

/* ---- embeddings (embedding.c): out = wte[ids] + wpe[pos] (+ wtt[tt]) ------------------- */
/* out [N, D]; ids, pos [N]; tt [N] nullable (all 0 when wtt is given); wte [V, D], wpe [P, D],
 * wtt [TV, D] nullable. Indices must be in range (the caller validates). */
void lb_embeddings_forward(float *out, const int32_t *ids, const int32_t *pos, const int32_t *tt, const float *wte,
                           const float *wpe, const float *wtt, int N, int D);

/* ---- attention (attention.c): softmax(scale q k^T) v for ONE sequence of real length nk,
 * all heads; padded keys are simply absent, which equals HF's finfo.min masking exactly
 * (exp underflows to 0). Head h uses columns [h*dh, (h+1)*dh) of q, k, v, ctx. ---------- */
/* ctx [nq, ldc]; probs [H, nq, nk] = softmax (pre-dropout, saved for backward); keep
 * [H, nq, nk] nullable dropout mask applied to probs before multiplying v; q [nq, ldq],
 * k, v [nk, ldkv]. scratch: lb_attention_scratch(nq, nk) floats per thread. */
void lb_attention_forward(float *ctx, int ldc, float *probs, const uint8_t *keep, float p_drop, const float *q, int ldq,
                          const float *k, const float *v, int ldkv, int nq, int nk, int H, int dh, float scale,
                          float *scratch);
/* dq [nq, lddq], dk, dv [nk, lddkv] += (each nullable); dctx [nq, lddc]. */
void lb_attention_backward(float *dq, int lddq, float *dk, float *dv, int lddkv, const float *dctx, int lddc,
                           const float *probs, const uint8_t *keep, float p_drop, const float *q, int ldq,
                           const float *k, const float *v, int ldkv, int nq, int nk, int H, int dh, float scale,
                           float *scratch);
/* Scratch floats needed by one call (all threads). */
int64_t lb_attention_scratch(int nq, int nk);
/* Double twins, no dropout, contiguous [n, H*dh] layouts. */
void lb_attention_forward_ref(double *ctx, const double *q, const double *k, const double *v, int nq, int nk, int H,
                              int dh, double scale);
void lb_attention_backward_ref(double *dq, double *dk, double *dv, const double *dctx, const double *q, const double *k,
                               const double *v, int nq, int nk, int H, int dh, double scale);

/* ---- sliding-window attention (local_attention.c): ONE sequence of n tokens, query i attends
 * keys |i - j| <= w (the others are absent: equal to finfo.min masking), all heads, no dropout.
 * probs [H, n, 2w+1]: row (h, i) holds the softmax over keys max(0, i-w) .. min(n-1, i+w) from
 * its start (saved for backward). ctx [n, ldc]; q [n, ldq], k, v [n, ldkv]. backward: dq, dk, dv
 * [n, ldd] += (all three required); dctx [n, lddc]. Checked against lb_attention_*_ref per window. */
void lb_local_attention_forward(float *ctx, int ldc, float *probs, const float *q, int ldq, const float *k,
                                const float *v, int ldkv, int n, int w, int H, int dh, float scale);
void lb_local_attention_backward(float *dq, float *dk, float *dv, int ldd, const float *dctx, int lddc,
                                 const float *probs, const float *q, int ldq, const float *k, const float *v, int ldkv,
                                 int n, int w, int H, int dh, float scale);

/* ---- cross-entropy (cross_entropy.c) ---------------------------------------------------- */
/* Mean over the batch of logsumexp(z_b) - z_b[y_b] (torch CrossEntropyLoss). logits [B, L],
 * labels [B] in [0, L); dlogits [B, L] nullable = (softmax - onehot) / B (overwrite). */
float lb_cross_entropy(const float *logits, const int32_t *labels, int B, int L, float *dlogits);
double lb_cross_entropy_ref(const double *logits, const int32_t *labels, int B, int L, double *dlogits);
/* The training losses beside plain cross-entropy. smoothing: HF's LabelSmoother (epsilon):
 * (1 - eps) * mean_b nll_b + eps * mean_b mean_j -log softmax(z_b)_j. weights [L]: torch's
 * CrossEntropyLoss(weight=w): sum_b w[y_b] nll_b / sum_b w[y_b] (the batch's weighted mean). Both
 * at once is not defined here (callers refuse it). NULL spec or {0, NULL}: lb_cross_entropy. */
typedef struct lb_loss_spec {
    float smoothing;      /* 0: none; in [0, 1) */
    const float *weights; /* [L] > 0, or NULL */
    int problem;          /* lb_problem_type (lorabert.h): the loss lb_task_loss computes */
    double threshold;     /* evaluation of multi-label sets: predicted when sigmoid >= it (0: 0.5) */
} lb_loss_spec;
/* lb_cross_entropy under spec; dlogits [B, L] nullable = d loss / d logits (overwrite). */
float lb_cross_entropy_ex(const float *logits, const int32_t *labels, int B, int L, const lb_loss_spec *spec,
                          float *dlogits);
/* torch BCEWithLogitsLoss (reduction mean over B x L): mean of max(z, 0) - z t + log1p(exp(-|z|)).
 * logits, targets [B, L] (targets in [0, 1], multi-hot); dlogits [B, L] nullable =
 * (sigmoid(z) - t) / (B L) (overwrite). */
float lb_bce_logits(const float *logits, const float *targets, int B, int L, float *dlogits);
double lb_bce_logits_ref(const double *logits, const double *targets, int B, int L, double *dlogits);
/* torch MSELoss (reduction mean): mean over n of (z - t)^2; dpred [n] nullable = 2 (z - t) / n. */
float lb_mse(const float *pred, const float *targets, int64_t n, float *dpred);
double lb_mse_ref(const double *pred, const double *targets, int64_t n, double *dpred);
/* The loss of spec->problem (NULL spec: single-label): LB_PROBLEM_SINGLE_LABEL cross-entropy under
 * spec (labels [B]), LB_PROBLEM_MULTI_LABEL lb_bce_logits, LB_PROBLEM_REGRESSION lb_mse over the
 * B x L values (HF: logits.squeeze() against labels.squeeze() when L = 1: the same numbers);
 * targets [B, L] for the last two. */
float lb_task_loss(const float *logits, const int32_t *labels, const float *targets, int B, int L,
                   const lb_loss_spec *spec, float *dlogits);
/* Double twin (unit tests). */
double lb_cross_entropy_ex_ref(const double *logits, const int32_t *labels, int B, int L, double smoothing,
                               const double *weights, double *dlogits);

/* ---- BLAS backend (blas.c) ----------------------------------------------------------- */
/* The OpenBLAS kernel family in use ("SkylakeX", "Prescott", ...). */
const char *lb_blas_corename(void);
/* The OPENBLAS_CORETYPE this CPU should use when OpenBLAS picked a much slower family than
 * the CPU supports (e.g. "Prescott" on an AVX-512 CPU), else NULL. A program sets the
 * variable and re-executes itself: OpenBLAS reads it only when it loads. */
const char *lb_blas_preferred_coretype(void);
/* What every program using the library should run first in main(): when
 * lb_blas_preferred_coretype() names a faster family and OPENBLAS_CORETYPE is unset, sets it and
 * re-executes /proc/self/exe with argv once (LORABERT_BLAS_REEXEC guards against a loop). Returns
 * only when no re-exec was needed or exec failed (the program then runs, slower). */
void lb_blas_reexec_if_slow(char **argv);

/* ---- OpenMP wait policy (omp_wait.c) ------------------------------------------------- */
/* The GOMP_SPINCOUNT a program should start with when the user set neither OMP_WAIT_POLICY
 * nor GOMP_SPINCOUNT (a bounded spin: libgomp's own default keeps a waiting thread's core busy
 * ~3 ms, which collapses a run that shares a core with another process), else NULL. */
const char *lb_omp_preferred_spincount(void);
/* lb_blas_reexec_if_slow's superset, what every program should run first in main(): sets
 * OPENBLAS_CORETYPE (when lb_blas_preferred_coretype() names one and it is unset) and
 * GOMP_SPINCOUNT (when lb_omp_preferred_spincount() is not NULL) and re-executes
 * /proc/self/exe with argv once (LORABERT_REEXEC, or the older LORABERT_BLAS_REEXEC, guards
 * against a loop). Returns only when nothing was to be set or exec failed. */
void lb_runtime_reexec(char **argv);

#endif
