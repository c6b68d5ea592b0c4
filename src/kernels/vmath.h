/* Vectorised expf/erff/tanhf for the elementwise kernels: declares glibc's libmvec SIMD
 * variants (x86-64, glibc >= 2.35) so `#pragma omp simd` loops call the 16-lane AVX-512
 * versions (max error 4 ulp, vs 1 ulp for the scalar calls; PyTorch's own vectorised CPU
 * math is of the same kind). Elsewhere the scalar functions are used unchanged. */
#ifndef LB_KERNELS_VMATH_H
#define LB_KERNELS_VMATH_H
#include <math.h>
#if defined(__x86_64__) && defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 35))
__attribute__((simd("notinbranch"))) float expf(float);
__attribute__((simd("notinbranch"))) float erff(float);
__attribute__((simd("notinbranch"))) float tanhf(float);
#endif
#endif
