/* CPU features for kernel dispatch.
 *
 * Owns: the one answer to "does this CPU have X" that every run-time kernel choice asks
 * (AVX2+FMA, AVX-512F, AVX512-BF16, AVX512-VNNI, AMX-BF16, AMX-INT8), the AMX permission
 * request.
 * Why: the machines this runs on differ (an Intel Xeon with AMX, an AMD EPYC Zen 4 without
 * it); one place means one rule, and one mask lets a test take the path another CPU would.
 * Guarantees: lb_cpu_has never claims a feature the CPU (and, for AMX, the kernel's
 * permission) lacks. $LORABERT_CPU_DISABLE, read once, takes features away for lorabert's own
 * kernel choices (comma-separated names: "avx2", "avx512", "avx512bf16", "avx512vnni", "amx",
 * "amxint8"; or "all"): e.g.
 * `LORABERT_CPU_DISABLE=amx` behaves like a Zen 4. Disabling a feature disables those built on
 * it (avx512 takes avx512bf16, avx512vnni and amx with it; amx takes amxint8). It never adds a feature, and does
 * not change code the compiler generated for -march. */
#ifndef LB_KERNELS_CPU_H
#define LB_KERNELS_CPU_H
#include <stdbool.h>

typedef enum lb_cpu_feature {
    LB_CPU_AVX2_FMA,
    LB_CPU_AVX512F, /* with BW and VL, as every AVX-512 kernel here needs */
    LB_CPU_AVX512BF16,
    LB_CPU_AVX512VNNI,
    LB_CPU_AMX_BF16, /* with AMX-TILE and the XTILEDATA permission */
    LB_CPU_AMX_INT8,
    LB_CPU_FEATURE_COUNT
} lb_cpu_feature;

bool lb_cpu_has(lb_cpu_feature f);

#endif
