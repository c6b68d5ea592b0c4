/* Tests for src/kernels/blas_tune: OpenBLAS kernel-family detection and the coretype advice. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include "kernels/blas_tune.h"

Test(blas_tune, advice_only_when_openblas_fell_back) {
    const char *cur = lb_blas_corename();
    cr_assert(cur && *cur);
    const char *better = lb_blas_better_coretype();
    if (getenv("OPENBLAS_CORETYPE")) {
        cr_assert_null(better, "a user-set OPENBLAS_CORETYPE must win");
        return;
    }
    __builtin_cpu_init();
    if (better) {
        /* advice only ever names a family the CPU can run, and differs from the current one */
        cr_assert_neq(strcasecmp(better, cur), 0, "advises the family already in use (%s)", cur);
        if (strcmp(better, "SkylakeX") == 0) cr_assert(__builtin_cpu_supports("avx512f"));
        else cr_assert(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"));
    }
    if (strcmp(cur, "Prescott") == 0 && __builtin_cpu_supports("avx512f"))
        cr_assert_str_eq(better, "SkylakeX", "SSE3 fallback on an AVX-512 CPU must be corrected");
}

Test(blas_tune, user_choice_wins) {
    setenv("OPENBLAS_CORETYPE", "Haswell", 1);
    cr_assert_null(lb_blas_better_coretype());
    unsetenv("OPENBLAS_CORETYPE");
}
