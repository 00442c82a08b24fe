/* Helpers shared by every scorer. */
#include "scorers/scorer.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void score_reset(struct score *out)
{
    out->applicable = false;
    out->defect = false;
    out->score = 0;
    out->detail[0] = '\0';
}

bool score_skip_error_status(const struct exchange *ex, struct score *out)
{
    if (ex == NULL || ex->status < 400) return false;
    score_detail(out, "not scored: error status %d", ex->status);
    return true;
}

void score_detail(struct score *out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->detail, sizeof(out->detail), fmt, ap);
    va_end(ap);
}

static bool append(struct score *out, size_t *used, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
static bool append(struct score *out, size_t *used, const char *fmt, va_list ap)
{
    char item[SCORE_DETAIL_BYTES];
    int len = vsnprintf(item, sizeof(item), fmt, ap);
    const char *sep = *used ? "; " : "";
    if (len < 0 || *used + strlen(sep) + (size_t)len + SCORE_DETAIL_RESERVE >= sizeof(out->detail))
        return false;
    snprintf(out->detail + *used, sizeof(out->detail) - *used, "%s%s", sep, item);
    *used += strlen(sep) + (size_t)len;
    return true;
}

bool score_append(struct score *out, size_t *used, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    bool fits = append(out, used, fmt, ap);
    va_end(ap);
    return fits;
}

void score_list_init(struct score_list *l, struct score *out)
{
    *l = (struct score_list){.out = out};
    score_reset(out);
}

void score_list_add(struct score_list *l, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    l->n++;
    l->n_shown += append(l->out, &l->used, fmt, ap);
    va_end(ap);
}

void score_list_close(struct score_list *l, bool applicable, const char *none)
{
    struct score *out = l->out;
    out->applicable = applicable;
    out->defect = l->n > 0;
    out->score = (double)l->n;
    if (l->n == 0)
        score_detail(out, "%s", none);
    else if (l->n > l->n_shown)
        snprintf(out->detail + l->used, sizeof(out->detail) - l->used, "; +%zu more",
                 l->n - l->n_shown);
}
