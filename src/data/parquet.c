/* Placeholder until the Parquet reader lands. */
#include "data/parquet.h"
lb_status lb_parquet_read(const char *path, const char *const *columns, size_t ncolumns, lb_table *out,
                          lb_error *err) {
    (void)columns; (void)ncolumns; (void)out;
    return lb_err(err, LB_ERR_UNSUPPORTED, "%s: Parquet reading is not available in this build", path);
}
