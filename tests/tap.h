/* A tiny TAP producer for unit tests (picotest-like): prove reads what it prints. */
#ifndef SIGMAPROXY_TESTS_TAP_H
#define SIGMAPROXY_TESTS_TAP_H

#include <stdbool.h>

/* Each returns cond and prints "ok N - name" or "not ok N - name" with both values on failure. */
bool tap_ok(bool cond, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
bool tap_is_int(long long got, long long want, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
bool tap_is_str(const char *got, const char *want, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
void tap_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints the plan "1..N"; returns the exit status (0 when all passed). */
int tap_done(void);

#define ok(cond, ...) tap_ok((cond), __FILE__, __LINE__, __VA_ARGS__)
#define is_int(got, want, ...)                                                                     \
    tap_is_int((long long)(got), (long long)(want), __FILE__, __LINE__, __VA_ARGS__)
#define is_str(got, want, ...) tap_is_str((got), (want), __FILE__, __LINE__, __VA_ARGS__)
#define diag(...)              tap_diag(__VA_ARGS__)
#define done_testing()         tap_done()

#endif
