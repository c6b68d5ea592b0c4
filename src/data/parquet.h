/* Parquet reader (flat columns) producing an lb_table. */
#ifndef LB_DATA_PARQUET_H
#define LB_DATA_PARQUET_H
#include "data/table.h"

/* Reads the named columns (NULL: all flat columns) of every row group into out. */
lb_status lb_parquet_read(const char *path, const char *const *columns, size_t ncolumns, lb_table *out,
                          lb_error *err);
#endif
