/* http_error: the service failed the client: a server-side status, a timeout or an upstream
 * failure. Runs on the evaluator thread. Every exchange is an opportunity, except those the proxy
 * answered itself (EXCHANGE_REFUSED: 413, 400, 404 are the client's doing) and client aborts
 * that carried no failing status (the client left; nothing failed).
 *
 * params: statuses (the statuses that are defects: numbers 100-599 and classes "4xx"/"5xx";
 * default ["5xx"]: other 4xx are the client's errors), rate_limit (true: 429 is a defect too:
 * the user was not served), timeouts (true: outcome TIMEOUT is a defect), upstream_errors
 * (true: connect failures, resets, malformed responses). For a timeout or an upstream error
 * the outcome decides, not the status the proxy then made up (504, 502).
 * score: 1 defect, 0 not. */
#include "scorers/scorer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"
#include "scorers/params.h"

#define HTTP_STATUS_MAX 599

struct http_error {
    bool defect_status[HTTP_STATUS_MAX + 1];
    bool timeouts;
    bool upstream_errors;
};

static int parse_statuses(struct http_error *p, const json_t *params, struct err *err)
{
    const json_t *list = json_object_get(params, "statuses");
    if (list == NULL) return 0;
    if (!json_is_array(list)) {
        err_set(err, "http_error.params.statuses: expected an array of statuses (503) and "
                     "classes (\"5xx\")");
        return -1;
    }
    memset(p->defect_status, 0, sizeof(p->defect_status));
    size_t i;
    const json_t *v;
    json_array_foreach(list, i, v)
    {
        if (json_is_integer(v) && json_integer_value(v) >= 100 &&
            json_integer_value(v) <= HTTP_STATUS_MAX) {
            p->defect_status[json_integer_value(v)] = true;
            continue;
        }
        const char *s = json_string_value(v);
        if (s && strlen(s) == 3 && s[0] >= '1' && s[0] <= '5' && (s[1] == 'x' || s[1] == 'X') &&
            (s[2] == 'x' || s[2] == 'X')) {
            int base = (s[0] - '0') * 100;
            for (int c = base; c < base + 100; c++)
                p->defect_status[c] = true;
            continue;
        }
        err_set(err,
                "http_error.params.statuses[%zu]: expected a status 100-599 or a class "
                "\"1xx\"..\"5xx\"",
                i);
        return -1;
    }
    return 0;
}

static int setup(void **state, const json_t *params, struct err *err)
{
    static const char *const known[] = {"statuses", "rate_limit", "timeouts", "upstream_errors",
                                        NULL};
    struct http_error *p = xcalloc(1, sizeof(*p));
    bool rate_limit = true;
    p->timeouts = p->upstream_errors = true;
    for (int c = 500; c <= HTTP_STATUS_MAX; c++)
        p->defect_status[c] = true;
    if (params_check(params, "http_error", known, err) < 0 || parse_statuses(p, params, err) < 0 ||
        params_bool(params, "http_error", "rate_limit", &rate_limit, err) < 0 ||
        params_bool(params, "http_error", "timeouts", &p->timeouts, err) < 0 ||
        params_bool(params, "http_error", "upstream_errors", &p->upstream_errors, err) < 0)
        goto fail;
    if (rate_limit) p->defect_status[429] = true;
    *state = p;
    return 0;
fail:
    free(p);
    return -1;
}

static void teardown(void *state)
{
    free(state);
}

static void score(const void *state, const struct score_input *in, struct score *out)
{
    const struct http_error *p = state;
    const struct exchange *ex = in->ex;
    score_reset(out);
    if (ex == NULL) {
        score_detail(out, "not scored: no exchange");
        return;
    }
    bool bad_status =
        ex->status > 0 && ex->status <= HTTP_STATUS_MAX && p->defect_status[ex->status];
    switch (ex->outcome) {
    case EXCHANGE_REFUSED:
        score_detail(out, "not scored: refused by the proxy (status %d)", ex->status);
        return;
    case EXCHANGE_TIMEOUT:
    case EXCHANGE_UPSTREAM_ERROR:
        out->applicable = true;
        bool is_timeout = ex->outcome == EXCHANGE_TIMEOUT;
        out->defect = is_timeout ? p->timeouts : p->upstream_errors;
        score_detail(out, "%s (status %d)%s%.160s", is_timeout ? "timeout" : "upstream error",
                     ex->status, ex->detail[0] ? ": " : "", ex->detail);
        break;
    case EXCHANGE_CLIENT_ABORT:
        if (!bad_status) {
            score_detail(out, "not scored: the client went away (status %d)", ex->status);
            return;
        }
        out->applicable = out->defect = true; /* the failure came before the client left */
        score_detail(out, "status %d (then the client went away)", ex->status);
        break;
    case EXCHANGE_COMPLETE:
        out->applicable = true;
        out->defect = bad_status;
        score_detail(out, "status %d", ex->status);
        break;
    }
    out->score = out->defect ? 1 : 0;
}

const struct scorer scorer_http_error = {
    .name = "http_error",
    .setup = setup,
    .score = score,
    .teardown = teardown,
};
