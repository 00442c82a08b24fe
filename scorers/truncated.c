/* truncated: the reply stopped before the model finished. Runs on the evaluator thread.
 *
 * A defect when the finish reason says a limit cut it (compared without case): "length"
 * (OpenAI), "max_tokens" (Anthropic), "model_context_window_exceeded" (Anthropic), and for the
 * Responses API "max_output_tokens" or "incomplete"; "content_filter" too when
 * params.content_filter is true (default false: a filtered reply is a policy outcome). Also a
 * defect when the upstream answered 2xx and then the stream was cut (outcome UPSTREAM_ERROR or
 * TIMEOUT after the status was sent: "stream cut"), unless params.stream_cut is false; this
 * overlaps http_error on purpose: that one counts the failure, this one the cut reply.
 * Not applicable for error statuses (>= 400) and client aborts (the client cut it, we cannot
 * tell), nor when the capture cap hid the end and no finish reason was seen.
 * score: 1 truncated, 0 not. */
#include "scorers/scorer.h"

#include <stdlib.h>
#include <strings.h>

#include "core/xalloc.h"
#include "scorers/params.h"

struct truncated {
    bool content_filter;
    bool stream_cut;
};

static const char *const LIMIT_REASONS[] = {
    "length", "max_tokens", "model_context_window_exceeded", "max_output_tokens", "incomplete",
};

static int setup(void **state, const json_t *params, struct err *err)
{
    static const char *const known[] = {"content_filter", "stream_cut", NULL};
    struct truncated p = {.content_filter = false, .stream_cut = true};
    if (params_check(params, "truncated", known, err) < 0 ||
        params_bool(params, "truncated", "content_filter", &p.content_filter, err) < 0 ||
        params_bool(params, "truncated", "stream_cut", &p.stream_cut, err) < 0)
        return -1;
    struct truncated *s = xmalloc(sizeof(*s));
    *s = p;
    *state = s;
    return 0;
}

static void teardown(void *state)
{
    free(state);
}

static bool is_limit_reason(const struct truncated *p, const char *reason)
{
    for (size_t i = 0; i < sizeof(LIMIT_REASONS) / sizeof(LIMIT_REASONS[0]); i++)
        if (strcasecmp(reason, LIMIT_REASONS[i]) == 0) return true;
    return p->content_filter && strcasecmp(reason, "content_filter") == 0;
}

static void score(const void *state, const struct score_input *in, struct score *out)
{
    const struct truncated *p = state;
    const struct extracted *x = in->x;
    const struct exchange *ex = in->ex;
    score_reset(out);
    if (score_skip_error_status(ex, out)) return;
    if (ex && ex->outcome == EXCHANGE_CLIENT_ABORT) {
        score_detail(out, "not scored: the client went away");
        return;
    }
    const char *reason = x->finish_reason;
    bool cut = ex && (ex->outcome == EXCHANGE_UPSTREAM_ERROR || ex->outcome == EXCHANGE_TIMEOUT);
    if (cut && p->stream_cut) {
        out->applicable = out->defect = true;
        out->score = 1;
        score_detail(out, "stream cut: %s%s%.96s",
                     ex->outcome == EXCHANGE_TIMEOUT ? "timeout" : "upstream error",
                     ex->detail[0] ? ": " : "", ex->detail);
        return;
    }
    if (reason == NULL && ((ex && ex->response_truncated) || x->decoded_truncated || cut)) {
        score_detail(out, "not scored: the end of the reply was not seen");
        return;
    }
    out->applicable = true;
    if (reason && is_limit_reason(p, reason)) {
        out->defect = true;
        out->score = 1;
        score_detail(out, "finish_reason \"%.64s\": cut at a limit", reason);
    } else {
        score_detail(out, "finish_reason %s%.64s%s", reason ? "\"" : "", reason ? reason : "absent",
                     reason ? "\"" : "");
    }
}

const struct scorer scorer_truncated = {
    .name = "truncated",
    .setup = setup,
    .score = score,
    .teardown = teardown,
};
