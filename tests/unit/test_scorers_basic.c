/* The small scorers, table-driven: empty, truncated, length, latency, http_error. Each row is an
 * exchange and its extraction built by hand, the params, and the expected verdict. */
#include <string.h>

#include "scorers/scorer.h"
#include "tests/tap.h"

extern const struct scorer scorer_empty;
extern const struct scorer scorer_truncated;
extern const struct scorer scorer_length;
extern const struct scorer scorer_latency;
extern const struct scorer scorer_http_error;

#define MS 1000 /* microseconds */

struct basic_case {
    const struct scorer *scorer;
    const char *name;
    const char *params;
    /* exchange */
    int status; /* 0 reads as 200; -1 as no status */
    enum exchange_outcome outcome;
    int64_t ttfb_ms, total_ms; /* -1: no first byte; 0 total: no timings */
    /* extraction */
    const char *text;
    int n_tool_calls;
    const char *finish_reason;
    const char *refusal;
    bool parse_error;
    int api; /* 0: OpenAI chat; -1: an unknown API shape */
    /* verdict */
    bool applicable;
    bool defect;
    double score; /* checked when >= 0 */
    const char *detail;
};

#define EMPTY      &scorer_empty
#define TRUNCATED  &scorer_truncated
#define LENGTH     &scorer_length
#define LATENCY    &scorer_latency
#define HTTP_ERROR &scorer_http_error

static const struct basic_case CASES[] = {
    /* empty */
    {EMPTY, "empty: text is not empty", NULL, 0, 0, 0, 0, "Hello", 0, "stop", NULL, false, 0, true,
     false, 0, "5 bytes of text"},
    {EMPTY, "empty: no text, no tool call", NULL, 0, 0, 0, 0, "", 0, "stop", NULL, false, 0, true,
     true, 1, "no text and no tool call (finish_reason stop)"},
    {EMPTY, "empty: whitespace only", NULL, 0, 0, 0, 0, " \n\t\r\n", 0, NULL, NULL, false, 0, true,
     true, 1, "only whitespace (5 bytes)"},
    {EMPTY, "empty: NBSP, zero-width space, ideographic space and BOM are blank", NULL, 0, 0, 0, 0,
     "\xc2\xa0\xe2\x80\x8b\xe3\x80\x80\xef\xbb\xbf", 0, NULL, NULL, false, 0, true, true, 1, NULL},
    {EMPTY, "empty: a single non-blank character is content", NULL, 0, 0, 0, 0, " .", 0, NULL, NULL,
     false, 0, true, false, 0, NULL},
    {EMPTY, "empty: tool calls are content", NULL, 0, 0, 0, 0, "", 2, "tool_calls", NULL, false, 0,
     true, false, 0, "2 tool call(s)"},
    {EMPTY, "empty: a refusal is content", NULL, 0, 0, 0, 0, "", 0, "stop", "I can't", false, 0,
     true, false, 0, "refusal"},
    {EMPTY, "empty: error status is not applicable", NULL, 503, 0, 0, 0, "", 0, NULL, NULL, false,
     0, false, false, 0, "error status 503"},
    {EMPTY, "empty: 4xx is not applicable", NULL, 400, 0, 0, 0, "", 0, NULL, NULL, false, 0, false,
     false, 0, NULL},
    {EMPTY, "empty: incomplete exchange is not applicable", NULL, 200, EXCHANGE_TIMEOUT, 0, 0, "",
     0, NULL, NULL, false, 0, false, false, 0, "incomplete"},
    {EMPTY, "empty: unparsed reply is not applicable", NULL, 0, 0, 0, 0, "", 0, NULL, NULL, true, 0,
     false, false, 0, "not understood"},
    {EMPTY, "empty: unknown API is not applicable", NULL, 0, 0, 0, 0, "", 0, NULL, NULL, false, -1,
     false, false, 0, NULL},

    /* truncated */
    {TRUNCATED, "truncated: stop is fine", NULL, 0, 0, 0, 0, "x", 0, "stop", NULL, false, 0, true,
     false, 0, "finish_reason \"stop\""},
    {TRUNCATED, "truncated: end_turn is fine", NULL, 0, 0, 0, 0, "x", 0, "end_turn", NULL, false, 0,
     true, false, 0, NULL},
    {TRUNCATED, "truncated: tool_calls is fine", NULL, 0, 0, 0, 0, "", 1, "tool_calls", NULL, false,
     0, true, false, 0, NULL},
    {TRUNCATED, "truncated: OpenAI length", NULL, 0, 0, 0, 0, "x", 0, "length", NULL, false, 0,
     true, true, 1, "finish_reason \"length\": cut at a limit"},
    {TRUNCATED, "truncated: Anthropic max_tokens", NULL, 0, 0, 0, 0, "x", 0, "max_tokens", NULL,
     false, 0, true, true, 1, NULL},
    {TRUNCATED, "truncated: Anthropic context window", NULL, 0, 0, 0, 0, "x", 0,
     "model_context_window_exceeded", NULL, false, 0, true, true, 1, NULL},
    {TRUNCATED, "truncated: Responses max_output_tokens", NULL, 0, 0, 0, 0, "x", 0,
     "max_output_tokens", NULL, false, 0, true, true, 1, NULL},
    {TRUNCATED, "truncated: Responses incomplete status", NULL, 0, 0, 0, 0, "x", 0, "incomplete",
     NULL, false, 0, true, true, 1, NULL},
    {TRUNCATED, "truncated: reasons compare without case", NULL, 0, 0, 0, 0, "x", 0, "MAX_TOKENS",
     NULL, false, 0, true, true, 1, NULL},
    {TRUNCATED, "truncated: content_filter is not truncation by default", NULL, 0, 0, 0, 0, "x", 0,
     "content_filter", NULL, false, 0, true, false, 0, NULL},
    {TRUNCATED, "truncated: content_filter when asked", "{\"content_filter\": true}", 0, 0, 0, 0,
     "x", 0, "content_filter", NULL, false, 0, true, true, 1, NULL},
    {TRUNCATED, "truncated: no finish reason is not a defect", NULL, 0, 0, 0, 0, "x", 0, NULL, NULL,
     false, 0, true, false, 0, "finish_reason absent"},
    {TRUNCATED, "truncated: stream cut by an upstream error", NULL, 200, EXCHANGE_UPSTREAM_ERROR, 0,
     0, "par", 0, NULL, NULL, false, 0, true, true, 1, "stream cut: upstream error: reset"},
    {TRUNCATED, "truncated: stream cut by a timeout", NULL, 200, EXCHANGE_TIMEOUT, 0, 0, "par", 0,
     NULL, NULL, false, 0, true, true, 1, "stream cut: timeout"},
    {TRUNCATED, "truncated: stream_cut false leaves cuts to http_error", "{\"stream_cut\": false}",
     200, EXCHANGE_TIMEOUT, 0, 0, "par", 0, NULL, NULL, false, 0, false, false, 0, "not seen"},
    {TRUNCATED, "truncated: client abort is not applicable", NULL, 200, EXCHANGE_CLIENT_ABORT, 0, 0,
     "par", 0, NULL, NULL, false, 0, false, false, 0, "client went away"},
    {TRUNCATED, "truncated: error status is not applicable", NULL, 500, 0, 0, 0, "", 0, NULL, NULL,
     false, 0, false, false, 0, NULL},

    /* length */
    {LENGTH, "length: no bound configured: not applicable", NULL, 0, 0, 0, 0, "abc", 0, NULL, NULL,
     false, 0, false, false, 0, "no bound configured"},
    {LENGTH, "length: within max_chars", "{\"max_chars\": 5}", 0, 0, 0, 0, "abcde", 0, NULL, NULL,
     false, 0, true, false, 0, "5 chars, ~2 tokens: within bounds"},
    {LENGTH, "length: over max_chars, score is the relative excess", "{\"max_chars\": 4}", 0, 0, 0,
     0, "abcdef", 0, NULL, NULL, false, 0, true, true, 0.5, "6 chars > max_chars 4"},
    {LENGTH, "length: characters are code points", "{\"max_chars\": 3}", 0, 0, 0, 0,
     "\xc3\xa9\xc3\xa9\xc3\xa9", 0, NULL, NULL, false, 0, true, false, 0, "3 chars"},
    {LENGTH, "length: under min_chars", "{\"min_chars\": 10}", 0, 0, 0, 0, "short", 0, NULL, NULL,
     false, 0, true, true, 0.5, "5 chars < min_chars 10"},
    {LENGTH, "length: tokens are ceil(chars / 4)", "{\"max_tokens\": 2}", 0, 0, 0, 0, "123456789",
     0, NULL, NULL, false, 0, true, true, 0.5, "~3 tokens > max_tokens 2"},
    {LENGTH, "length: min_tokens met exactly", "{\"min_tokens\": 3}", 0, 0, 0, 0, "123456789", 0,
     NULL, NULL, false, 0, true, false, 0, NULL},
    {LENGTH, "length: the worst bound is reported", "{\"max_chars\": 8, \"max_tokens\": 1}", 0, 0,
     0, 0, "123456789", 0, NULL, NULL, false, 0, true, true, 2, "~3 tokens > max_tokens 1"},
    {LENGTH, "length: min skipped on a cut stream", "{\"min_chars\": 100}", 200, EXCHANGE_TIMEOUT,
     0, 0, "ab", 0, NULL, NULL, false, 0, false, false, 0, "no full text"},
    {LENGTH, "length: max still holds on a cut stream", "{\"max_chars\": 1}", 200, EXCHANGE_TIMEOUT,
     0, 0, "ab", 0, NULL, NULL, false, 0, true, true, 1, NULL},
    {LENGTH, "length: min skipped for tool calls only", "{\"min_chars\": 10}", 0, 0, 0, 0, "", 1,
     NULL, NULL, false, 0, false, false, 0, NULL},
    {LENGTH, "length: error status not applicable", "{\"max_chars\": 1}", 500, 0, 0, 0, "abc", 0,
     NULL, NULL, false, 0, false, false, 0, NULL},

    /* latency */
    {LATENCY, "latency: within both SLOs", "{\"total_ms\": 2000, \"ttft_ms\": 500}", 0, 0, 100,
     1500, "x", 0, NULL, NULL, false, 0, true, false, 0.75,
     "total 1500 ms <= 2000 ms SLO; ttft 100 ms <= 500 ms SLO"},
    {LATENCY, "latency: total over SLO, score is measured / SLO", "{\"total_ms\": 1000}", 0, 0, 100,
     2500, "x", 0, NULL, NULL, false, 0, true, true, 2.5, "total 2500 ms > 1000 ms SLO"},
    {LATENCY, "latency: ttft over SLO", "{\"ttft_ms\": 200}", 0, 0, 300, 400, "x", 0, NULL, NULL,
     false, 0, true, true, 1.5, "ttft 300 ms > 200 ms SLO"},
    {LATENCY, "latency: exactly at the SLO is a pass", "{\"total_ms\": 1000}", 0, 0, 10, 1000, "x",
     0, NULL, NULL, false, 0, true, false, 1, NULL},
    {LATENCY, "latency: no timings: not applicable", "{\"total_ms\": 1000}", 0, 0, 0, 0, "x", 0,
     NULL, NULL, false, 0, false, false, 0, "no timings"},
    {LATENCY, "latency: errors are not opportunities by default", "{\"total_ms\": 1000}", 504,
     EXCHANGE_TIMEOUT, -1, 30000, "", 0, NULL, NULL, false, 0, false, false, 0, "failed"},
    {LATENCY, "latency: include_errors counts a slow timeout",
     "{\"total_ms\": 1000, \"ttft_ms\": 500, \"include_errors\": true}", 504, EXCHANGE_TIMEOUT, -1,
     30000, "", 0, NULL, NULL, false, 0, true, true, 60, "ttft (no first byte) >= 30000 ms"},
    {LATENCY, "latency: client left after the SLO: a miss", "{\"total_ms\": 1000}", 200,
     EXCHANGE_CLIENT_ABORT, 100, 1500, "", 0, NULL, NULL, false, 0, true, true, 1.5,
     "total >= 1500 ms > 1000 ms SLO"},
    {LATENCY, "latency: client left before the SLO: unknown", "{\"total_ms\": 1000}", 200,
     EXCHANGE_CLIENT_ABORT, 100, 500, "", 0, NULL, NULL, false, 0, false, false, 0,
     "not measurable"},

    /* http_error */
    {HTTP_ERROR, "http_error: 200 is fine", NULL, 200, 0, 0, 0, "", 0, NULL, NULL, false, 0, true,
     false, 0, "status 200"},
    {HTTP_ERROR, "http_error: 500 is a defect", NULL, 500, 0, 0, 0, "", 0, NULL, NULL, false, 0,
     true, true, 1, "status 500"},
    {HTTP_ERROR, "http_error: 529 (overloaded) is a defect", NULL, 529, 0, 0, 0, "", 0, NULL, NULL,
     false, 0, true, true, 1, NULL},
    {HTTP_ERROR, "http_error: 429 is a defect by default", NULL, 429, 0, 0, 0, "", 0, NULL, NULL,
     false, 0, true, true, 1, NULL},
    {HTTP_ERROR, "http_error: rate_limit false spares 429", "{\"rate_limit\": false}", 429, 0, 0, 0,
     "", 0, NULL, NULL, false, 0, true, false, 0, NULL},
    {HTTP_ERROR, "http_error: 400 is the client's error", NULL, 400, 0, 0, 0, "", 0, NULL, NULL,
     false, 0, true, false, 0, NULL},
    {HTTP_ERROR, "http_error: 401 is the client's error", NULL, 401, 0, 0, 0, "", 0, NULL, NULL,
     false, 0, true, false, 0, NULL},
    {HTTP_ERROR, "http_error: statuses can list 4xx", "{\"statuses\": [\"4xx\", \"5xx\"]}", 404, 0,
     0, 0, "", 0, NULL, NULL, false, 0, true, true, 1, NULL},
    {HTTP_ERROR, "http_error: statuses replaces the default", "{\"statuses\": [503]}", 500, 0, 0, 0,
     "", 0, NULL, NULL, false, 0, true, false, 0, NULL},
    {HTTP_ERROR, "http_error: statuses listing one code", "{\"statuses\": [503]}", 503, 0, 0, 0, "",
     0, NULL, NULL, false, 0, true, true, 1, NULL},
    {HTTP_ERROR, "http_error: timeout is a defect", NULL, 504, EXCHANGE_TIMEOUT, 0, 0, "", 0, NULL,
     NULL, false, 0, true, true, 1, "timeout (status 504): first byte"},
    {HTTP_ERROR, "http_error: upstream reset after 200 is a defect", NULL, 200,
     EXCHANGE_UPSTREAM_ERROR, 0, 0, "", 0, NULL, NULL, false, 0, true, true, 1,
     "upstream error (status 200): reset"},
    {HTTP_ERROR, "http_error: timeouts false spares even the made-up 504", "{\"timeouts\": false}",
     504, EXCHANGE_TIMEOUT, 0, 0, "", 0, NULL, NULL, false, 0, true, false, 0, NULL},
    {HTTP_ERROR, "http_error: upstream_errors false", "{\"upstream_errors\": false}", 502,
     EXCHANGE_UPSTREAM_ERROR, 0, 0, "", 0, NULL, NULL, false, 0, true, false, 0, NULL},
    {HTTP_ERROR, "http_error: client abort is not applicable", NULL, 200, EXCHANGE_CLIENT_ABORT, 0,
     0, "", 0, NULL, NULL, false, 0, false, false, 0, "client went away"},
    {HTTP_ERROR, "http_error: client abort after a 503 still counts", NULL, 503,
     EXCHANGE_CLIENT_ABORT, 0, 0, "", 0, NULL, NULL, false, 0, true, true, 1, NULL},
    {HTTP_ERROR, "http_error: proxy refusal is not applicable", NULL, 413, EXCHANGE_REFUSED, 0, 0,
     "", 0, NULL, NULL, false, 0, false, false, 0, "refused by the proxy"},
};

struct setup_case {
    const struct scorer *scorer;
    const char *params;
    const char *error;
};

static const struct setup_case SETUP_ERRORS[] = {
    {EMPTY, "{\"min\": 1}", "empty.params.min: unknown parameter"},
    {EMPTY, "[]", "empty.params: expected an object"},
    {TRUNCATED, "{\"content_filter\": 1}",
     "truncated.params.content_filter: expected true or false"},
    {TRUNCATED, "{\"length\": true}", "truncated.params.length: unknown parameter"},
    {LENGTH, "{\"max_chars\": -1}", "length.params.max_chars: expected a non-negative integer"},
    {LENGTH, "{\"max_chars\": 1.5}", "length.params.max_chars: expected a non-negative integer"},
    {LENGTH, "{\"min_tokens\": 10, \"max_tokens\": 5}",
     "length.params.min_tokens: 10 is above "
     "max_tokens 5"},
    {LENGTH, "{\"max_words\": 5}", "length.params.max_words: unknown parameter"},
    {LATENCY, NULL, "latency.params: no SLO"},
    {LATENCY, "{}", "latency.params: no SLO"},
    {LATENCY, "{\"total_ms\": 0}", "latency.params.total_ms: expected milliseconds"},
    {LATENCY, "{\"ttft_ms\": \"500\"}", "latency.params.ttft_ms: expected milliseconds"},
    {LATENCY, "{\"total_ms\": 1, \"include_errors\": 1}",
     "latency.params.include_errors: "
     "expected true or false"},
    {LATENCY, "{\"p99_ms\": 1}", "latency.params.p99_ms: unknown parameter"},
    {HTTP_ERROR, "{\"statuses\": 500}", "http_error.params.statuses: expected an array"},
    {HTTP_ERROR, "{\"statuses\": [500, 600]}", "http_error.params.statuses[1]: expected a status"},
    {HTTP_ERROR, "{\"statuses\": [\"6xx\"]}", "http_error.params.statuses[0]: expected a status"},
    {HTTP_ERROR, "{\"rate_limit\": \"no\"}",
     "http_error.params.rate_limit: expected true or "
     "false"},
    {HTTP_ERROR, "{\"client_errors\": true}", "http_error.params.client_errors: unknown"},
};

static void run_case(const struct basic_case *c)
{
    json_error_t e;
    json_t *params = c->params ? json_loads(c->params, 0, &e) : NULL;
    void *state = NULL;
    struct err err = {{0}};
    if (c->scorer->setup && c->scorer->setup(&state, params, &err) != 0) {
        ok(false, "%s: setup: %s", c->name, err.msg);
        json_decref(params);
        return;
    }
    struct exchange ex = {.status = c->status == 0  ? 200
                                    : c->status < 0 ? 0
                                                    : c->status,
                          .outcome = c->outcome};
    strcpy(ex.detail, c->outcome == EXCHANGE_TIMEOUT ? "first byte" : "reset");
    if (c->total_ms > 0) {
        ex.start_us = 5000 * MS;
        ex.first_byte_us = c->ttfb_ms < 0 ? 0 : ex.start_us + c->ttfb_ms * MS;
        ex.end_us = ex.start_us + c->total_ms * MS;
    }
    struct extract_tool_call calls[2] = {{NULL, (char *)"f", (char *)"{}"},
                                         {NULL, (char *)"g", (char *)"{}"}};
    struct extracted x = {.api = c->api == -1 ? EXTRACT_API_UNKNOWN : EXTRACT_API_OPENAI_CHAT,
                          .text = (char *)c->text,
                          .text_len = strlen(c->text),
                          .tool_calls = c->n_tool_calls ? calls : NULL,
                          .n_tool_calls = (size_t)c->n_tool_calls,
                          .finish_reason = (char *)c->finish_reason,
                          .refusal = (char *)c->refusal,
                          .parse_error = c->parse_error};
    struct score out;
    memset(&out, 0xA5, sizeof(out));
    c->scorer->score(state, &(struct score_input){&ex, &x}, &out);
    bool good = out.applicable == c->applicable && out.defect == c->defect &&
                (c->score < 0 || out.score == c->score) &&
                (c->detail == NULL || strstr(out.detail, c->detail));
    ok(good, "%s", c->name);
    if (!good)
        diag("applicable %d defect %d score %g detail '%s'; want %d %d %g '%s'", out.applicable,
             out.defect, out.score, out.detail, c->applicable, c->defect, c->score,
             c->detail ? c->detail : "");
    if (c->scorer->teardown) c->scorer->teardown(state);
    json_decref(params);
}

int main(void)
{
    for (size_t i = 0; i < sizeof(CASES) / sizeof(CASES[0]); i++)
        run_case(&CASES[i]);
    for (size_t i = 0; i < sizeof(SETUP_ERRORS) / sizeof(SETUP_ERRORS[0]); i++) {
        const struct setup_case *c = &SETUP_ERRORS[i];
        json_error_t e;
        json_t *params = c->params ? json_loads(c->params, 0, &e) : NULL;
        void *state = NULL;
        struct err err = {{0}};
        int rc = c->scorer->setup(&state, params, &err);
        ok(rc == -1 && strstr(err.msg, c->error), "%s setup rejects %s", c->scorer->name,
           c->params ? c->params : "no params");
        if (rc != -1 || !strstr(err.msg, c->error)) diag("got '%s'", err.msg);
        json_decref(params);
    }
    /* Defaults: every scorer here but latency accepts no params. */
    const struct scorer *no_params[] = {EMPTY, TRUNCATED, LENGTH, HTTP_ERROR};
    for (size_t i = 0; i < sizeof(no_params) / sizeof(no_params[0]); i++) {
        void *state = NULL;
        ok(no_params[i]->setup(&state, NULL, NULL) == 0, "%s sets up with no params",
           no_params[i]->name);
        if (no_params[i]->teardown) no_params[i]->teardown(state);
    }
    return done_testing();
}
