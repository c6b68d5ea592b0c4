/* Private to src/kernels/gemm_*.c: storing a 1 x 32 strip of a C tile held in two zmm
 * registers, shared by the fp32 and bf16 packed-weight GEMMs. */
#ifndef LB_KERNELS_GEMM_TILE_H
#define LB_KERNELS_GEMM_TILE_H
#include <immintrin.h>
#include <stdbool.h>

/* c[0, nr) = (load_c ? c : 0) + (bias ? bias : 0) + (c0 | c1), nr <= 32; lanes past nr untouched. */
__attribute__((target("avx512f"))) static inline void lb_tile_store_row(float *c, __m512 c0, __m512 c1, int nr,
                                                                        const float *bias, bool load_c) {
    __mmask16 m0 = nr >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << nr) - 1u);
    __mmask16 m1 = nr >= 32 ? (__mmask16)0xffff : (nr > 16 ? (__mmask16)((1u << (nr - 16)) - 1u) : 0);
    if (bias) {
        c0 = _mm512_add_ps(c0, _mm512_maskz_loadu_ps(m0, bias));
        c1 = _mm512_add_ps(c1, _mm512_maskz_loadu_ps(m1, bias + 16));
    }
    if (load_c) {
        c0 = _mm512_add_ps(c0, _mm512_maskz_loadu_ps(m0, c));
        c1 = _mm512_add_ps(c1, _mm512_maskz_loadu_ps(m1, c + 16));
    }
    _mm512_mask_storeu_ps(c, m0, c0);
    _mm512_mask_storeu_ps(c + 16, m1, c1);
}

#endif
