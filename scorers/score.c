/* Helpers shared by every scorer. */
#include "scorers/scorer.h"

#include <stdarg.h>
#include <stdio.h>

void score_detail(struct score *out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->detail, sizeof(out->detail), fmt, ap);
    va_end(ap);
}
