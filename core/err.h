/* A human-readable error detail, filled by a callee and read by its caller (STYLE.md §5).
 * Plain data, no allocation: any thread may use its own. */
#ifndef SIGMAPROXY_CORE_ERR_H
#define SIGMAPROXY_CORE_ERR_H

#include <stdarg.h>
#include <stdio.h>

#define ERR_MSG_BYTES 512

struct err {
    char msg[ERR_MSG_BYTES];
};

/* Formats into err->msg (truncating). err may be NULL: then nothing happens. */
static inline void err_set(struct err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static inline void err_set(struct err *err, const char *fmt, ...)
{
    if (err == NULL) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
}

#endif
