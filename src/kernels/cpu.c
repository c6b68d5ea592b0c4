/* CPU feature detection for kernel dispatch; see cpu.h. */
#include "kernels/cpu.h"
#include <cpuid.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *const names[LB_CPU_FEATURE_COUNT] = {"avx2", "avx512", "avx512bf16", "avx512vnni", "amx", "amxint8"};

/* What the hardware (and OS) offers, before any mask. */
static bool detect(lb_cpu_feature f) {
    __builtin_cpu_init();
    bool avx512 =
        __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
    unsigned a = 0, b = 0, c = 0, d = 0;
    switch (f) {
    case LB_CPU_AVX2_FMA: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case LB_CPU_AVX512F: return avx512;
    case LB_CPU_AVX512BF16: return avx512 && __builtin_cpu_supports("avx512bf16");
    case LB_CPU_AVX512VNNI: return avx512 && __builtin_cpu_supports("avx512vnni");
    case LB_CPU_AMX_BF16:
    case LB_CPU_AMX_INT8: {
        /* CPUID.(7,0):EDX bit 24 AMX-TILE, 22 AMX-BF16, 25 AMX-INT8 (read directly: clang 14's
         * __builtin_cpu_supports does not know the AMX names). Linux also wants the process to
         * ask for the tile data state (ARCH_REQ_XCOMP_PERM) before the first tile instruction. */
        if (!avx512 || !__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(d >> 24 & 1u)) return false;
        if (!(d >> (f == LB_CPU_AMX_BF16 ? 22 : 25) & 1u)) return false;
        return syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */, 18 /* XTILEDATA */) == 0;
    }
    default: return false;
    }
}

/* Features a disabled one takes with it. */
static bool depends_on(lb_cpu_feature f, lb_cpu_feature g) {
    if (f == g) return true;
    if (g == LB_CPU_AVX2_FMA) return true; /* every kernel above AVX2 assumes it */
    if (g == LB_CPU_AVX512F) return f != LB_CPU_AVX2_FMA;
    if (g == LB_CPU_AVX512BF16) return f == LB_CPU_AMX_BF16;
    if (g == LB_CPU_AVX512VNNI) return f == LB_CPU_AMX_INT8;
    if (g == LB_CPU_AMX_BF16) return f == LB_CPU_AMX_INT8; /* "amx": no AMX at all, like a Zen 4 */
    return false;
}

static bool masked(lb_cpu_feature f) {
    const char *env = getenv("LORABERT_CPU_DISABLE");
    if (!env || !*env) return false;
    const char *p = env;
    while (*p) {
        size_t n = strcspn(p, ",");
        if (n == 3 && strncmp(p, "all", 3) == 0) return true;
        for (int g = 0; g < LB_CPU_FEATURE_COUNT; g++)
            if (strlen(names[g]) == n && strncmp(p, names[g], n) == 0 && depends_on(f, (lb_cpu_feature)g)) return true;
        p += n;
        if (*p == ',') p++;
    }
    return false;
}

bool lb_cpu_has(lb_cpu_feature f) {
    static int cached[LB_CPU_FEATURE_COUNT];
    if ((unsigned)f >= LB_CPU_FEATURE_COUNT) return false;
    int v = __atomic_load_n(&cached[f], __ATOMIC_RELAXED);
    if (v == 0) {
        v = !masked(f) && detect(f) ? 1 : 2;
        __atomic_store_n(&cached[f], v, __ATOMIC_RELAXED);
    }
    return v == 1;
}
