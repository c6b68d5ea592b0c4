/* OpenBLAS kernel selection (owns: deciding whether this process runs OpenBLAS's right kernels).
 *
 * Debian's OpenBLAS 0.3.21 (DYNAMIC_ARCH) does not recognise recent Intel CPUs (this machine:
 * family 6 model 207) and falls back to its generic "Prescott" SSE3 kernels: sgemm then runs at
 * ~31 GFLOP/s per core where its SkylakeX AVX-512 kernels reach ~136 on the same core
 * (bench/gemm_bench, one thread, CPU time). OpenBLAS chooses its kernels once, when the library
 * is loaded, from the CPU or from the environment variable OPENBLAS_CORETYPE, so a program can
 * only fix this by setting the variable and re-executing itself before doing any work. */
#ifndef LB_KERNELS_BLAS_TUNE_H
#define LB_KERNELS_BLAS_TUNE_H

/* The kernel family OpenBLAS uses in this process ("Prescott", "SkylakeX", "Zen", ...). */
const char *lb_blas_corename(void);

/* The OPENBLAS_CORETYPE that would be faster here ("SkylakeX" on an AVX-512 CPU, "Haswell" on
 * an AVX2+FMA CPU) when OpenBLAS fell back to an older family; NULL when its choice is already
 * right or when the user set OPENBLAS_CORETYPE (their choice wins). */
const char *lb_blas_better_coretype(void);

/* For a program's main(), before any work: when lb_blas_better_coretype() is non-NULL, sets
 * OPENBLAS_CORETYPE and re-executes /proc/self/exe with argv (once; LORABERT_BLAS_REEXEC guards
 * against loops). Returns only when nothing needed doing or exec failed (the program then just
 * runs slower). Never called by library code. */
void lb_blas_reexec_if_needed(char **argv);

#endif
