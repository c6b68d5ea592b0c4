#include "base/error.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *lb_status_name(lb_status code) {
    switch (code) {
    case LB_OK: return "ok";
    case LB_ERR_INTERNAL: return "internal error";
    case LB_ERR_USAGE: return "usage error";
    case LB_ERR_IO: return "I/O error";
    case LB_ERR_FORMAT: return "format error";
    case LB_ERR_UNSUPPORTED: return "unsupported";
    case LB_ERR_NOMEM: return "out of memory";
    case LB_ERR_NETWORK: return "network error";
    case LB_ERR_NUMERIC: return "numeric error";
    case LB_ERR_INTERRUPTED: return "interrupted";
    }
    return "unknown error";
}

lb_status lb_err(lb_error *err, lb_status code, const char *fmt, ...) {
    if (err) {
        err->code = code;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

lb_status lb_err_prefix(lb_error *err, const char *fmt, ...) {
    if (!err) return LB_ERR_INTERNAL;
    char prefix[LB_ERROR_MSG_MAX], old[LB_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    size_t n = strlen(prefix);
    if (n > sizeof err->msg - 3) n = sizeof err->msg - 3;
    memcpy(err->msg, prefix, n);
    memcpy(err->msg + n, ": ", 2);
    size_t room = sizeof err->msg - n - 3, ol = strlen(old);
    if (ol > room) ol = room;
    memcpy(err->msg + n + 2, old, ol);
    err->msg[n + 2 + ol] = '\0';
    return err->code;
}

#ifdef LB_ASSERTS
#include <stdio.h>
#include <stdlib.h>
#include "base/assert.h"

/* The one place the library writes to stderr: a broken invariant in a checking build. */
_Noreturn void lb_assert_fail(const char *expr, const char *file, int line, const char *func) {
    fprintf(stderr, "lorabert: internal invariant broken at %s:%d (%s): %s\n", file, line, func, expr);
    abort();
}
#endif
