/* fp32 GEMM on a frozen weight packed once (fp32 mode's frozen linears).
 *
 * Owns: the packed fp32 weight format (a frozen weight copied once into column panels of 32
 * outputs, k-major) and C = A x W^T (+ bias) over it with AVX-512 FMAs.
 * Why: OpenBLAS re-packs the weight on every call (its "incopy"); at the small row counts of
 * inference (one text of 16-128 tokens) that copy is a third of the time, since each weight is
 * used for only a few rows, and at training sizes the packed kernel is still as fast or faster
 * (bench/gemm_bench.c). Packing once removes it. Results equal a plain fp32 dot product up to
 * summation order (k ascending per output in KC slices, fp32 FMA), i.e. within fp32 rounding of
 * OpenBLAS, and do not depend on the thread count.
 * Needs AVX-512F; lb_gemm_f32_available() says whether this CPU has it (callers fall back to
 * sgemm otherwise). */
#ifndef LB_KERNELS_GEMM_F32_H
#define LB_KERNELS_GEMM_F32_H
#include <stdbool.h>
#include "base/error.h"

typedef struct lb_f32_weight lb_f32_weight;

bool lb_gemm_f32_available(void);

/* Packs W for C = A x W^T. trans=false: W is [N, K] row-major (an nn.Linear weight); trans=true:
 * W is [K, N] row-major (so C = A x W: the input gradient dX = dY Wl of y = x Wl^T, packed with
 * K = out, N = in). NULL with err set on a bad shape, out of memory, or a CPU without AVX-512F. */
lb_f32_weight *lb_f32_weight_pack(const float *W, int N, int K, bool trans, lb_error *err);
void lb_f32_weight_free(lb_f32_weight *w);

/* C[m, n] = (accumulate ? C[m, n] : 0) + (bias ? bias[n] : 0) + sum_k A[m, k] W[n, k].
 * A: [M, lda], C: [M, ldc]. M may be 0. OpenMP-parallel over row blocks and column panels. */
void lb_gemm_f32_packed(const float *A, int M, int lda, const lb_f32_weight *W, const float *bias, bool accumulate,
                        float *C, int ldc);

#endif
