/* Version queries of the public API. */
#include <omp.h>
#include "api/api.h"

const char *lb_version(void) { return LORABERT_VERSION; }
int lb_version_number(void) { return LORABERT_VERSION_NUMBER; }

/* OpenBLAS's OpenMP build follows omp_get_max_threads() of the calling thread, so one ICV sets
 * both for this thread only: handles used from different threads do not disturb each other. */
int lb_api_threads_push(int n) {
    int prev = omp_get_max_threads();
    if (n > 0) omp_set_num_threads(n);
    return prev;
}

lb_status lb_api_threads_check(int n, const char *what, lb_error *err) {
    if (n < 0 || n > LB_API_MAX_THREADS)
        return lb_err(err, LB_ERR_USAGE, "%s: threads %d, expected 0 (the process default) to %d", what, n,
                      LB_API_MAX_THREADS);
    return LB_OK;
}

void lb_api_threads_restore(int previous) { omp_set_num_threads(previous); }
