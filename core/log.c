/* Log line formatting and the single write(2) that emits it. */
#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum log_level log_level_current = LOG_INFO;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

int log_level_parse(const char *name, enum log_level *out)
{
    for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    return -1;
}

const char *log_level_name(enum log_level level)
{
    return level_names[level];
}

void log_write(enum log_level level, const char *module, const char *fmt, ...)
{
    char line[2048];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t len = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
    len += (size_t)snprintf(line + len, sizeof(line) - len, ".%03ldZ %s %s: ", ts.tv_nsec / 1000000,
                            level_names[level], module);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line + len, sizeof(line) - len - 1, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    len += (size_t)n;
    if (len > sizeof(line) - 2) len = sizeof(line) - 2; /* truncated: keep the newline */
    line[len++] = '\n';
    if (write(STDERR_FILENO, line, len) < 0) {
        /* stderr is gone: there is nobody left to tell. */
    }
}
