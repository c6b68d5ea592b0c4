/* bf16 GEMM for frozen weights (the opt-in `--precision bf16` speed mode, never the parity path).
 *
 * Owns: the bf16 weight format (a frozen fp32 weight rounded to bf16 and packed ONCE into
 * column panels), the fast kernel C = A x W^T (+ bias) with A in fp32 (rounded to bf16 on the
 * fly) and fp32 accumulation, and a plain reference kernel with the same rounding.
 *
 * Rounding is round-to-nearest-even with denormal inputs flushed to signed zero, exactly what
 * AVX512-BF16's VCVTNEPS2BF16 does, so the fast and portable paths see the same bf16 values.
 * Three kernels over one packed layout, chosen at run time: AMX-BF16 tiles (TDPBF16PS, Sapphire
 * Rapids and later; measured here ~25x the VDPBF16PS rate), AVX512-BF16 (VDPBF16PS), and a
 * portable C loop. All are OpenMP-parallel. */
#ifndef LB_KERNELS_GEMM_BF16_H
#define LB_KERNELS_GEMM_BF16_H
#include <stdbool.h>
#include <stdint.h>
#include "base/error.h"

/* A weight of shape [N out, K in] in bf16, packed into panels of 32 output columns. */
typedef struct lb_bf16_weight lb_bf16_weight;

/* fp32 -> bf16 bits (RNE, denormals to signed zero, NaN kept quiet) and back (exact). */
uint16_t lb_f32_to_bf16(float x);
float lb_bf16_to_f32(uint16_t h);

/* Rounds and packs a frozen weight. trans=false: W is [N, K] row-major (an nn.Linear weight,
 * so lb_gemm_bf16 computes A x W^T); trans=true: W is [K, N] row-major (so it computes A x W:
 * the input gradient dX = dY x Wl of a Linear y = x Wl^T, Wl [out, in], packed with K = out,
 * N = in). Returns NULL with err set on bad shape or out of memory. */
lb_bf16_weight *lb_bf16_weight_pack(const float *W, int N, int K, bool trans, lb_error *err);
void lb_bf16_weight_free(lb_bf16_weight *w);

/* C[m, n] = (accumulate ? C[m, n] : 0) + (bias ? bias[n] : 0) + sum_k bf16(A[m, k]) * W[n, k].
 * A: [M, lda] (first K columns used), C: [M, ldc] (first N columns written), bias: [N] or NULL.
 * M may be 0. Parallel over the OpenMP threads when the product is large enough. */
void lb_gemm_bf16(const float *A, int M, int lda, const lb_bf16_weight *W, const float *bias, bool accumulate, float *C,
                  int ldc);

/* Reference: the same maths, one plain loop per output, fp32 accumulation in k order.
 * W here is the unpacked fp32 weight in the layout given by trans (see lb_bf16_weight_pack). */
void lb_gemm_bf16_ref(const float *A, int M, int lda, const float *W, int N, int K, bool trans, const float *bias,
                      bool accumulate, float *C, int ldc);

typedef enum lb_bf16_path { LB_BF16_AUTO, LB_BF16_AMX, LB_BF16_AVX512, LB_BF16_PORTABLE } lb_bf16_path;
/* Selects a kernel for later calls (process-wide; AUTO = the fastest this CPU has). Returns
 * false, changing nothing, when the CPU (or the kernel's AMX permission) lacks that path. */
bool lb_gemm_bf16_set_path(lb_bf16_path path);
/* The kernel lb_gemm_bf16 uses now (never AUTO). */
lb_bf16_path lb_gemm_bf16_path(void);

#endif
