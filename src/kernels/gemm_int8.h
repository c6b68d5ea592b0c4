/* int8 GEMM for frozen weights (the opt-in `--precision int8` inference mode, never the parity
 * path, never training).
 *
 * Owns: the int8 weight format (a frozen fp32 weight [N out, K in] quantized ONCE, symmetric per
 * output channel: scale_n = max_k |W[n, k]| / 127, q = round-to-nearest-even(W * 127 / max),
 * in [-127, 127], packed into column panels with each column's sum), the per-row dynamic
 * quantization of the activations (the same rule per row of A, at every call), and the kernels
 * C[m, n] = (float)(sum_k qa[m, k] * qw[n, k]) * (scale_a[m] * scale_w[n]) (+ bias[n]) with exact
 * int32 accumulation.
 *
 * Why: int8 products with int32 sums run 2-4x the bf16 rate on VNNI/AMX and quarter the weight
 * bytes; per-channel weights and per-row activations keep the error at the level of one int8
 * rounding per operand (docs/performance.md, "int8").
 *
 * Guarantees:
 *  - Four kernels over one packed layout, chosen at run time: AMX-INT8 tiles (TDPBSSD), AVX512-VNNI
 *    (VPDPBUSD on the activations + 128 as u8, corrected by 128 x the column sum), AVX2
 *    (VPMADDUBSW on |a| and sign-moved weights, exact because both operands stay in [-127, 127],
 *    then VPMADDWD) and a portable C loop. Every one computes the EXACT integer dot product
 *    (|sum| <= K x 127^2 < 2^31 for K <= LB_INT8_MAX_K), and the fp32 epilogue is shared, so all
 *    paths give bitwise equal outputs.
 *  - Row independence: row m of C depends only on row m of A (its own scale), whatever M, the
 *    batch or the thread count: a mixed serving batch's row equals that row alone, bit for bit.
 *  - Rows of A that hold a NaN or infinity give NaN outputs; rows with max |a| < 2^-100 count as
 *    zero (output = bias).
 *  - Limit: K <= LB_INT8_MAX_K (the activation block lives on the stack); packing a larger weight
 *    fails with LB_ERR_UNSUPPORTED. */
#ifndef LB_KERNELS_GEMM_INT8_H
#define LB_KERNELS_GEMM_INT8_H
#include <stdbool.h>
#include <stdint.h>
#include "base/error.h"

#define LB_INT8_MAX_K 4096

typedef struct lb_int8_weight lb_int8_weight;

/* Quantizes one row of K floats into q[0, K) (symmetric, [-127, 127]); returns its scale
 * (max|x| / 127; 0 for a zero row, NaN when the row holds a NaN or infinity, and q is then 0). */
float lb_int8_quantize_row(const float *x, int K, int8_t *q);

/* Quantizes and packs W [N, K] row-major (an nn.Linear weight, so lb_gemm_int8 computes A x W^T).
 * Returns NULL with err set on bad shape, K > LB_INT8_MAX_K, or out of memory. */
lb_int8_weight *lb_int8_weight_pack(const float *W, int N, int K, lb_error *err);
void lb_int8_weight_free(lb_int8_weight *w);
/* The quantized value of W[n, k] and the scale of output channel n (for tests and references). */
int8_t lb_int8_weight_at(const lb_int8_weight *w, int n, int k);
float lb_int8_weight_scale(const lb_int8_weight *w, int n);

/* C[m, n] = (float)dot(qa_m, qw_n) * (scale_a[m] * scale_w[n]) (+ bias[n]), the product and the
 * sum rounded separately in that order. A: [M, lda] (first K columns), C: [M, ldc] (first N
 * columns written), bias: [N] or NULL. M may be 0. Parallel over the OpenMP threads when large. */
void lb_gemm_int8(const float *A, int M, int lda, const lb_int8_weight *W, const float *bias, float *C, int ldc);

/* The integer core alone: C32[m, n] = sum_k Aq[m, k] * qw[n, k], Aq [M, ldaq] int8 in [-127, 127]. */
void lb_gemm_int8_s32(const int8_t *Aq, int M, int ldaq, const lb_int8_weight *W, int32_t *C32, int ldc);

/* Reference: the same maths in plain loops (quantize each row, int64 dot products, the same
 * epilogue). */
void lb_gemm_int8_ref(const float *A, int M, int lda, const lb_int8_weight *W, const float *bias, float *C, int ldc);

typedef enum lb_int8_path { LB_INT8_AUTO, LB_INT8_AMX, LB_INT8_VNNI, LB_INT8_AVX2, LB_INT8_PORTABLE } lb_int8_path;
/* Selects a kernel for later calls (process-wide; AUTO = the fastest this CPU has). Returns false,
 * changing nothing, when the CPU (or the kernel's AMX permission) lacks that path. */
bool lb_gemm_int8_set_path(lb_int8_path path);
/* The kernel lb_gemm_int8 uses now (never AUTO); lb_gemm_int8_path_name: "amx", "avx512vnni",
 * "avx2", "portable". */
lb_int8_path lb_gemm_int8_path(void);
const char *lb_gemm_int8_path_name(lb_int8_path p);

#endif
