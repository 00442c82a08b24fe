/* TAP output for unit tests. */
#include "tests/tap.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int n_tests;
static int n_failed;

static bool report(bool cond, const char *file, int line, const char *fmt, va_list ap)
{
    n_tests++;
    printf("%sok %d - ", cond ? "" : "not ", n_tests);
    vprintf(fmt, ap);
    printf("\n");
    if (!cond) {
        n_failed++;
        printf("#   Failed at %s:%d\n", file, line);
    }
    fflush(stdout);
    return cond;
}

bool tap_ok(bool cond, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report(cond, file, line, fmt, ap);
    va_end(ap);
    return cond;
}

bool tap_is_int(long long got, long long want, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    bool cond = report(got == want, file, line, fmt, ap);
    va_end(ap);
    if (!cond) printf("#          got: %lld\n#     expected: %lld\n", got, want);
    return cond;
}

bool tap_is_str(const char *got, const char *want, const char *file, int line, const char *fmt, ...)
{
    bool same = (got == NULL && want == NULL) || (got && want && strcmp(got, want) == 0);
    va_list ap;
    va_start(ap, fmt);
    report(same, file, line, fmt, ap);
    va_end(ap);
    if (!same)
        printf("#          got: '%s'\n#     expected: '%s'\n", got ? got : "(null)",
               want ? want : "(null)");
    return same;
}

void tap_diag(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("# ");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
}

int tap_done(void)
{
    printf("1..%d\n", n_tests);
    return n_failed == 0 ? 0 : 1;
}
