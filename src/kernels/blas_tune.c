/* OpenBLAS kernel selection: see blas_tune.h. */
#include "kernels/blas_tune.h"
#include <cblas.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *lb_blas_corename(void) {
    const char *n = openblas_get_corename();
    return n ? n : "unknown";
}

/* OpenBLAS families that use AVX-512 or AVX2 kernels; anything else on such a CPU is a fallback. */
static int name_in(const char *name, const char *const *list) {
    for (; *list; list++)
        if (strcasecmp(name, *list) == 0) return 1;
    return 0;
}

const char *lb_blas_better_coretype(void) {
    const char *user = getenv("OPENBLAS_CORETYPE");
    if (user && *user) return NULL;
    static const char *const avx512[] = {"SkylakeX", "Cooperlake", "SapphireRapids", "Zen", NULL};
    static const char *const avx2[] = {"Haswell", "SkylakeX", "Cooperlake", "SapphireRapids", "Zen", "Excavator", NULL};
    const char *cur = lb_blas_corename();
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") && !name_in(cur, avx512))
        return "SkylakeX";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && !name_in(cur, avx2)) return "Haswell";
    return NULL;
}

void lb_blas_reexec_if_needed(char **argv) {
    if (getenv("LORABERT_BLAS_REEXEC")) return;     /* already re-executed once */
    const char *better = lb_blas_better_coretype();
    if (!better || !argv || !argv[0]) return;
    if (setenv("OPENBLAS_CORETYPE", better, 1) != 0 || setenv("LORABERT_BLAS_REEXEC", "1", 1) != 0) return;
    execv("/proc/self/exe", argv);
    /* exec failed: carry on with the kernels we have */
    unsetenv("OPENBLAS_CORETYPE");
}
