/* Structured log lines to stderr, one write(2) per line so threads never interleave (STYLE.md §7).
 * Format: 2026-11-29T10:16:00.123Z warn module: message key=value ...
 * Never log prompts, completions or credentials: ids and sizes only. Any thread. */
#ifndef SIGMAPROXY_CORE_LOG_H
#define SIGMAPROXY_CORE_LOG_H

enum log_level {
    LOG_ERROR = 0,
    LOG_WARN,
    LOG_INFO,
    LOG_DEBUG,
};

/* The one mutable global of the program: set once by main before threads start. */
extern enum log_level log_level_current;

/* Returns 0 and sets *out for "error", "warn", "info" or "debug"; -1 otherwise. */
int log_level_parse(const char *name, enum log_level *out);
const char *log_level_name(enum log_level level);

void log_write(enum log_level level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Each .c defines LOG_MODULE before using these; arguments are evaluated only when enabled. */
#define LOG_AT(level, ...)                                                                         \
    do {                                                                                           \
        if ((level) <= log_level_current) log_write((level), LOG_MODULE, __VA_ARGS__);             \
    } while (0)
#define log_error(...) LOG_AT(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  LOG_AT(LOG_WARN, __VA_ARGS__)
#define log_info(...)  LOG_AT(LOG_INFO, __VA_ARGS__)
#define log_debug(...) LOG_AT(LOG_DEBUG, __VA_ARGS__)

#endif
