/* Error reporting: every fallible function fills an lb_error and returns its status. */
#ifndef LB_BASE_ERROR_H
#define LB_BASE_ERROR_H
#include "lorabert.h"

/* Sets err (if non-NULL) to code + printf-formatted message; returns code so callers can
 * write `return lb_err(err, LB_ERR_IO, "%s: cannot open: %s", path, strerror(errno));`. */
lb_status lb_err(lb_error *err, lb_status code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Prepends "prefix: " to an existing message (adds context while unwinding). */
lb_status lb_err_prefix(lb_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
