/* latency: total time and time to first byte against SLOs. Runs on the evaluator thread.
 *
 * params: total_ms (end - start), ttft_ms (first upstream byte - start): positive numbers, at
 * least one; include_errors (false: error statuses, timeouts, upstream errors and proxy refusals
 * are http_error's, not latency opportunities).
 * A bound is checked only when its measure is known, with one exception that makes the check
 * honest for slow failures: when no first byte came (or the client left early) but the time
 * already spent exceeds the SLO, the SLO was certainly missed.
 * score: the worst measured / SLO ratio among the checked bounds (> 1 means a miss). */
#include "scorers/scorer.h"

#include <stdlib.h>

#include "core/xalloc.h"
#include "scorers/params.h"

struct latency {
    double total_ms; /* 0: not configured */
    double ttft_ms;
    bool include_errors;
};

static int setup(void **state, const json_t *params, struct err *err)
{
    static const char *const known[] = {"total_ms", "ttft_ms", "include_errors", NULL};
    static const char *const ms = "milliseconds, a number above 0 (at most a day)";
    struct latency p = {0};
    if (params_check(params, "latency", known, err) < 0 ||
        params_number(params, "latency", "total_ms", PARAMS_ABOVE_ZERO, 8.64e7, ms, &p.total_ms,
                      err) < 0 ||
        params_number(params, "latency", "ttft_ms", PARAMS_ABOVE_ZERO, 8.64e7, ms, &p.ttft_ms,
                      err) < 0 ||
        params_bool(params, "latency", "include_errors", &p.include_errors, err) < 0)
        return -1;
    if (p.total_ms == 0 && p.ttft_ms == 0) {
        err_set(err, "latency.params: no SLO: give total_ms and/or ttft_ms");
        return -1;
    }
    struct latency *s = xmalloc(sizeof(*s));
    *s = p;
    *state = s;
    return 0;
}

static void teardown(void *state)
{
    free(state);
}

/* Appends "what 1234 ms > 1000 ms" to the detail and returns measured / slo. */
static double check(struct score *out, size_t *used, const char *what, double measured_ms,
                    double slo_ms, bool at_least)
{
    double ratio = measured_ms / slo_ms;
    if (*used < sizeof(out->detail))
        *used +=
            (size_t)snprintf(out->detail + *used, sizeof(out->detail) - *used,
                             "%s%s %s%.0f ms %s %.0f ms SLO", *used ? "; " : "", what,
                             at_least ? ">= " : "", measured_ms, ratio > 1 ? ">" : "<=", slo_ms);
    return ratio;
}

static void score(const void *state, const struct score_input *in, struct score *out)
{
    const struct latency *p = state;
    const struct exchange *ex = in->ex;
    score_reset(out);
    if (ex == NULL || ex->end_us <= 0 || ex->end_us < ex->start_us) {
        score_detail(out, "not scored: no timings");
        return;
    }
    bool failed = ex->status >= 400 || ex->outcome == EXCHANGE_TIMEOUT ||
                  ex->outcome == EXCHANGE_UPSTREAM_ERROR || ex->outcome == EXCHANGE_REFUSED;
    if (failed && !p->include_errors) {
        score_detail(out, "not scored: failed exchange (http_error's)");
        return;
    }
    double elapsed_ms = (double)(ex->end_us - ex->start_us) / 1000.0;
    bool aborted = ex->outcome == EXCHANGE_CLIENT_ABORT;
    size_t used = 0;
    double worst = 0;
    if (p->total_ms > 0 && (!aborted || elapsed_ms > p->total_ms)) {
        double r = check(out, &used, "total", elapsed_ms, p->total_ms, aborted);
        worst = r > worst ? r : worst;
        out->applicable = true;
    }
    if (p->ttft_ms > 0) {
        if (ex->first_byte_us > 0 && ex->first_byte_us >= ex->start_us) {
            double ttft_ms = (double)(ex->first_byte_us - ex->start_us) / 1000.0;
            double r = check(out, &used, "ttft", ttft_ms, p->ttft_ms, false);
            worst = r > worst ? r : worst;
            out->applicable = true;
        } else if (elapsed_ms > p->ttft_ms) {
            double r = check(out, &used, "ttft (no first byte)", elapsed_ms, p->ttft_ms, true);
            worst = r > worst ? r : worst;
            out->applicable = true;
        }
    }
    if (!out->applicable) {
        score_detail(out, "not scored: not measurable (client left early or no first byte)");
        return;
    }
    out->score = worst;
    out->defect = worst > 1;
}

const struct scorer scorer_latency = {
    .name = "latency",
    .setup = setup,
    .score = score,
    .teardown = teardown,
};
