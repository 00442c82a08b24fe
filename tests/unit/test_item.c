/* Flagged items as JSON: the SPEC fields from a hand-made exchange, no query string, request as
 * JSON or as a (cut) string, bad UTF-8 replaced, a gzip body decoded for response_raw, streams'
 * ttft_ms, verdicts with their details. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <zlib.h>

#include "core/xalloc.h"
#include "proxy/item.h"
#include "tests/tap.h"

static struct exchange *make_exchange(const char *uri, const char *body, size_t body_len)
{
    struct exchange *ex = exchange_new("req-42", 1 << 20);
    strcpy(ex->method, "POST");
    ex->uri = xstrdup(uri);
    ex->upstream = xstrdup("openai");
    if (body) {
        ex->request_body = xmalloc(body_len);
        memcpy(ex->request_body, body, body_len);
        ex->request_body_len = body_len;
    }
    ex->status = 200;
    ex->start_unix_ms = 1764410160123; /* 2025-11-29T09:56:00.123Z */
    ex->start_us = 1000000;
    ex->first_byte_us = 1250000;
    ex->end_us = 3500500;
    return ex;
}

static json_t *build(const struct exchange *ex, const struct extracted *x)
{
    struct item_score scores[2] = {{"pii", true, 2, "email at 10..28"},
                                   {"latency", false, NAN, ""}};
    char *text = item_json(ex, x, "https://api.openai.com", scores, 2);
    json_error_t jerr;
    json_t *item = text ? json_loads(text, JSON_REJECT_DUPLICATES, &jerr) : NULL;
    if (item == NULL) diag("not JSON: %s", text ? text : "(null)");
    free(text);
    return item;
}

static const char *str(const json_t *item, const char *key)
{
    const char *s = json_string_value(json_object_get(item, key));
    return s ? s : "(not a string)";
}

static void test_fields(void)
{
    const char *body = "{\"model\":\"gpt-4o-mini\",\"messages\":[]}";
    struct exchange *ex =
        make_exchange("/v1/chat/completions?api_key=sk-SECRET", body, strlen(body));
    const char *reply = "{\"id\":\"x\"}";
    exchange_add_body(ex, reply, strlen(reply));
    struct extracted x;
    memset(&x, 0, sizeof(x));
    x.text = (char *)"hello \xff world";
    x.text_len = strlen(x.text);
    x.model = (char *)"gpt-4o-mini-2024-07-18";
    x.finish_reason = (char *)"stop";
    x.request = json_loads(body, 0, NULL);
    json_t *item = build(ex, &x);
    ok(item != NULL, "the item is JSON");
    is_str(str(item, "id"), "req-42", "id is the request id");
    is_str(str(item, "ts"), "2025-11-29T09:56:00.123Z", "ts: RFC 3339, UTC, milliseconds");
    is_str(str(item, "route"), "openai", "route: the upstream's name");
    is_str(str(item, "upstream"), "https://api.openai.com", "upstream: its URL");
    is_str(str(item, "path"), "/v1/chat/completions", "path: the query string (a key) left out");
    char *text = json_dumps(item, JSON_COMPACT);
    ok(text && strstr(text, "SECRET") == NULL, "the key in the query appears nowhere");
    free(text);
    is_str(str(item, "model"), "gpt-4o-mini-2024-07-18", "model");
    is_int(json_integer_value(json_object_get(item, "status")), 200, "status");
    is_str(str(item, "outcome"), "complete", "outcome");
    ok(json_is_false(json_object_get(item, "stream")), "stream: false");
    ok(fabs(json_number_value(json_object_get(item, "latency_ms")) - 2500.5) < 1e-9,
       "latency_ms: start to end");
    ok(json_is_null(json_object_get(item, "ttft_ms")), "ttft_ms: null when not a stream");
    ok(json_is_object(json_object_get(item, "request")) &&
           json_equal(json_object_get(item, "request"), x.request),
       "request: the body as JSON");
    is_str(str(item, "response_text"), "hello \xef\xbf\xbd world",
           "response_text: a bad byte becomes U+FFFD");
    is_str(str(item, "finish_reason"), "stop", "finish_reason");
    is_str(str(item, "response_raw"), reply, "response_raw: the body");
    ok(json_is_false(json_object_get(item, "response_raw_truncated")), "not truncated");
    json_t *scores = json_object_get(item, "scores");
    is_int(json_array_size(scores), 2, "two verdicts");
    json_t *s0 = json_array_get(scores, 0), *s1 = json_array_get(scores, 1);
    ok(json_is_true(json_object_get(s0, "defect")) && !strcmp(str(s0, "scorer"), "pii") &&
           json_number_value(json_object_get(s0, "score")) == 2 &&
           !strcmp(str(s0, "detail"), "email at 10..28"),
       "scores[0]: scorer, defect, score, detail");
    ok(json_is_false(json_object_get(s1, "defect")) && json_is_null(json_object_get(s1, "score")),
       "scores[1]: a NaN score is null");
    is_str(str(item, "sampled_by"), "rate", "sampled_by");
    ok(json_object_get(item, "system_fingerprint") == NULL, "no system_fingerprint when absent");
    json_decref(item);
    json_decref(x.request);
    exchange_release(ex);
}

static void test_request_forms(void)
{
    /* Not JSON, with a byte that is not UTF-8. */
    const char body[] = "prompt=hi\x80there";
    struct exchange *ex = make_exchange("/v1/completions", body, sizeof(body) - 1);
    struct extracted x;
    memset(&x, 0, sizeof(x));
    x.text = (char *)"";
    x.stream = true;
    x.system_fingerprint = (char *)"fp_1";
    json_t *item = build(ex, &x);
    is_str(str(item, "request"), "prompt=hi\xef\xbf\xbdthere", "a body that is not JSON: a string");
    ok(json_object_get(item, "request_truncated") == NULL, "not cut");
    ok(fabs(json_number_value(json_object_get(item, "ttft_ms")) - 250) < 1e-9,
       "ttft_ms for a stream");
    is_str(str(item, "system_fingerprint"), "fp_1", "system_fingerprint when present");
    json_decref(item);
    exchange_release(ex);

    /* Over the cap: a cut string, on a character boundary. */
    size_t len = ITEM_MAX_REQUEST_BYTES + 10;
    char *big = xmalloc(len);
    memset(big, 'a', len);
    memcpy(big + ITEM_MAX_REQUEST_BYTES - 1, "\xc3\xa9", 2); /* é across the cap */
    ex = make_exchange("/v1/chat/completions", big, len);
    free(big);
    item = build(ex, &x);
    const json_t *req = json_object_get(item, "request");
    is_int(json_string_length(req), ITEM_MAX_REQUEST_BYTES - 1,
           "a request over the cap is cut before the character that crosses it");
    ok(json_is_true(json_object_get(item, "request_truncated")), "request_truncated: true");
    json_decref(item);
    exchange_release(ex);
}

static void test_gzip(void)
{
    const char *plain = "{\"choices\":[{\"message\":{\"content\":\"zipped\"}}]}";
    unsigned char out[512];
    z_stream z;
    memset(&z, 0, sizeof(z));
    deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY); /* 31: gzip wrapper */
    z.next_in = (unsigned char *)plain;
    z.avail_in = (unsigned)strlen(plain);
    z.next_out = out;
    z.avail_out = sizeof(out);
    deflate(&z, Z_FINISH);
    size_t n = sizeof(out) - z.avail_out;
    deflateEnd(&z);
    struct exchange *ex = make_exchange("/v1/chat/completions", NULL, 0);
    buf_append(&ex->response_head, "content-type: application/json\ncontent-encoding: gzip\n",
               strlen("content-type: application/json\ncontent-encoding: gzip\n"));
    exchange_add_body(ex, out, n);
    struct extracted x;
    memset(&x, 0, sizeof(x));
    x.text = (char *)"zipped";
    x.text_len = 6;
    json_t *item = build(ex, &x);
    is_str(str(item, "response_raw"), plain, "response_raw: a gzip body decoded");
    ok(json_is_null(json_object_get(item, "request")), "no request body: null");

    /* Undecodable: null, with the reason. */
    json_decref(item);
    buf_reset(&ex->response_body);
    exchange_add_body(ex, "not gzip at all", 15);
    item = build(ex, &x);
    ok(json_is_null(json_object_get(item, "response_raw")), "corrupt gzip: response_raw null");
    ok(json_is_string(json_object_get(item, "response_raw_error")), "with response_raw_error");
    json_decref(item);
    exchange_release(ex);
}

int main(void)
{
    test_fields();
    test_request_forms();
    test_gzip();
    return done_testing();
}
