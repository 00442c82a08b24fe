/* Unit tests for core/extract.c. A table of exchanges over the fixtures (tests/fixtures/upstream,
 * tests/fixtures/extract): each API shape streamed and not, tool calls, refusals, finish reasons,
 * upstream errors, broken bodies; every fixture case runs again gzip-, zlib- and raw-deflate-
 * compressed here. Then decoding on its own: br fixtures (made with libbrotlienc, see
 * tests/fixtures/extract/README.md), bombs, corrupt and cut streams, codings lists. Then cut
 * captures, nesting depth, the path table. Run from the repository root (make unit does). */
#include "core/extract.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <zlib.h>

#include "core/buf.h"
#include "core/exchange.h"
#include "tests/tap.h"

#define UP             "tests/fixtures/upstream/"
#define FX             "tests/fixtures/extract/"
#define MAX_DECODED    (1024 * 1024)
#define CAPTURE_BYTES  (16 * 1024 * 1024)
#define SSE_HEAD       "Content-Type: text/event-stream; charset=utf-8\n"
#define JSON_HEAD      "Content-Type: application/json\n"
#define CHAT           "/v1/chat/completions"
#define MESSAGES       "/v1/messages"
#define RESPONSES      "/v1/responses"
#define COMPLETIONS    "/v1/completions"
#define STR_AND_LEN(s) s, sizeof(s) - 1

#define OPENAI_STREAM_TEXT "The capital of France is Paris." /* upstream/openai_stream.sse */

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        exit(1);
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (fread(s, 1, (size_t)n, f) != (size_t)n) exit(1);
    fclose(f);
    s[n] = '\0';
    *len = (size_t)n;
    return s;
}

/* Returns a new buffer: in compressed with zlib; window_bits 31 gzip, 15 zlib, -15 raw. */
static char *compress_with(const char *in, size_t len, int window_bits, size_t *out_len)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    if (deflateInit2(&z, 6, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY) != Z_OK) exit(1);
    size_t cap = deflateBound(&z, (uLong)len) + 64;
    char *out = malloc(cap);
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)len;
    z.next_out = (Bytef *)out;
    z.avail_out = (uInt)cap;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END) exit(1);
    *out_len = z.total_out;
    deflateEnd(&z);
    return out;
}

static struct exchange *make_exchange(const char *uri, int status, const char *head,
                                      const char *body, size_t body_len, const char *request)
{
    struct exchange *ex = exchange_new("test", CAPTURE_BYTES);
    ex->uri = uri ? strdup(uri) : NULL;
    ex->status = status;
    if (head) buf_append(&ex->response_head, head, strlen(head));
    exchange_add_body(ex, body, body_len);
    if (request) {
        ex->request_body = strdup(request);
        ex->request_body_len = strlen(request);
    }
    return ex;
}

/* "id|name|arguments" of each tool call, one a line. */
static void render_tools(const struct extracted *x, char *out, size_t size)
{
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < x->n_tool_calls && n < size; i++) {
        const struct extract_tool_call *t = &x->tool_calls[i];
        n += (size_t)snprintf(out + n, size - n, "%s|%s|%s\n", t->id ? t->id : "(null)",
                              t->name ? t->name : "(null)", t->arguments);
    }
}

/* Everything extract() filled, as text: compressed variants must match the plain one. */
static char *render_extracted(const struct extracted *x)
{
    char tools[4096];
    render_tools(x, tools, sizeof(tools));
    const char *fields[] = {x->text,          x->finish_reason,      x->refusal,
                            x->model,         x->system_fingerprint, x->error_type,
                            x->error_message, x->parse_detail,       tools};
    size_t size = 256 + x->text_len;
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        size += fields[i] ? strlen(fields[i]) + 16 : 16;
    char *out = malloc(size);
    size_t n =
        (size_t)snprintf(out, size, "api=%d stream=%d parse_error=%d truncated=%d req=%d\n", x->api,
                         x->stream, x->parse_error, x->decoded_truncated, x->request != NULL);
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        n += (size_t)snprintf(out + n, size - n, "%s\n", fields[i] ? fields[i] : "(null)");
    return out;
}

/* ---- The table ---- */

struct want {
    enum extract_api api;
    bool stream;
    const char *text;
    const char *finish_reason;
    const char *model;
    const char *tools; /* render_tools(); "" for none */
    const char *refusal;
    bool parse_error;
    const char *detail; /* a substring of parse_detail; NULL: no check */
    const char *error_message;
    const char *system_fingerprint;
};

struct ecase {
    const char *name;
    const char *uri;
    int status;
    const char *head;
    const char *fixture; /* a path; or NULL and body */
    const char *body;
    const char *request;
    struct want want;
};

static const struct ecase ecases[] = {
    /* OpenAI chat */
    {"openai chat JSON: content, finish reason, model, fingerprint",
     CHAT,
     200,
     JSON_HEAD,
     UP "openai_json_content.json",
     NULL,
     NULL,
     {EXTRACT_API_OPENAI_CHAT, false,
      "{\"city\": \"Paris\", \"population\": 2102650, \"landmarks\": [\"Eiffel Tower\", "
      "\"Louvre\"]}",
      "stop", "gpt-4o-mini-2024-07-18", "", NULL, false, NULL, NULL, "fp_mock0001"}},
    {"openai chat JSON cut by max_tokens: finish reason length",
     CHAT,
     200,
     JSON_HEAD,
     UP "openai_json_content_truncated.json",
     NULL,
     NULL,
     {EXTRACT_API_OPENAI_CHAT, false,
      "{\"city\": \"Paris\", \"population\": 2102650, \"landmarks\": [\"Eiffel Tow", "length",
      "gpt-4o-mini-2024-07-18", "", NULL, false, NULL, NULL, "fp_mock0001"}},
    {"openai chat JSON: refusal written as content stays text, refusal null",
     CHAT,
     200,
     JSON_HEAD,
     UP "openai_refusal.json",
     NULL,
     NULL,
     {EXTRACT_API_OPENAI_CHAT, false, "I'm sorry, but I can't help with that.", "stop",
      "gpt-4o-mini-2024-07-18", "", NULL, false, NULL, NULL, "fp_mock0001"}},
    {"openai chat JSON: refusal field",
     CHAT,
     200,
     JSON_HEAD,
     FX "openai_refusal_field.json",
     NULL,
     NULL,
     {EXTRACT_API_OPENAI_CHAT, false, "", "stop", "gpt-4o-2024-08-06", "",
      "I'm sorry, I can't assist with that request.", false, NULL, NULL, "fp_fx90001"}},
    {"openai chat JSON: two tool calls in order",
     CHAT,
     200,
     JSON_HEAD,
     FX "openai_tool_calls.json",
     NULL,
     NULL,
     {EXTRACT_API_OPENAI_CHAT, false, "", "tool_calls", "gpt-4o-2024-08-06",
      "call_fx8a|get_weather|{\"location\": \"Paris\"}\n"
      "call_fx8b|get_time|{\"timezone\": \"Europe/Paris\"}\n",
      NULL, false, NULL, NULL, "fp_fx80001"}},
    {"openai chat JSON: content parts, text parts joined, others skipped",
     CHAT,
     200,
     JSON_HEAD,
     FX "openai_content_parts.json",
     NULL,
     NULL,
     {EXTRACT_API_OPENAI_CHAT, false, "Bonjour tout le monde.", "stop", "mistral-medium-2508", "",
      NULL, false, NULL, NULL, NULL}},
    {"openai chat JSON: legacy function_call is a tool call",
     CHAT,
     200,
     JSON_HEAD,
     FX "openai_function_call_legacy.json",
     NULL,
     NULL,
     {EXTRACT_API_OPENAI_CHAT, false, "", "function_call", "gpt-3.5-turbo-0613",
      "(null)|get_current_weather|{\n  \"location\": \"Boston, MA\"\n}\n", NULL, false, NULL, NULL,
      NULL}},
    {"openai chat SSE: deltas concatenated, usage chunk and [DONE] handled",
     CHAT,
     200,
     SSE_HEAD,
     UP "openai_stream.sse",
     NULL,
     NULL,
     {EXTRACT_API_OPENAI_CHAT, true, "The capital of France is Paris.", "stop",
      "gpt-4o-mini-2024-07-18", "", NULL, false, NULL, NULL, "fp_mock0001"}},
    {"openai chat SSE: tool call arguments concatenated, id and name from the first delta",
     CHAT,
     200,
     SSE_HEAD,
     UP "openai_tool_call.sse",
     NULL,
     NULL,
     {EXTRACT_API_OPENAI_CHAT, true, "", "tool_calls", "gpt-4o-mini-2024-07-18",
      "call_fx2a|get_weather|{\"location\": \"Paris\", \"unit\": \"celsius\"}\n", NULL, false, NULL,
      NULL, NULL}},
    {"openai chat SSE: interleaved tool call deltas merged by index",
     CHAT,
     200,
     SSE_HEAD,
     FX "openai_tool_calls_interleaved.sse",
     NULL,
     NULL,
     {EXTRACT_API_OPENAI_CHAT, true, "", "tool_calls", "gpt-4o-2024-08-06",
      "call_fx13a|get_weather|{\"location\": \"Paris\"}\n"
      "call_fx13b|get_time|{\"timezone\": \"Europe/Paris\"}\n",
      NULL, false, NULL, NULL, "fp_fx130001"}},
    {"openai chat SSE: refusal deltas concatenated",
     CHAT,
     200,
     SSE_HEAD,
     FX "openai_refusal_stream.sse",
     NULL,
     NULL,
     {EXTRACT_API_OPENAI_CHAT, true, "", "stop", "gpt-4o-2024-08-06", "",
      "I'm sorry, I can't help with that.", false, NULL, NULL, "fp_fx130001"}},
    {"openai chat SSE cut by max_tokens: finish reason length",
     CHAT,
     200,
     SSE_HEAD,
     FX "openai_length_stream.sse",
     NULL,
     NULL,
     {EXTRACT_API_OPENAI_CHAT, true, "Once upon a time", "length", "gpt-4o-2024-08-06", "", NULL,
      false, NULL, NULL, "fp_fx130001"}},
    {"openai chat SSE recognised without Content-Type or path",
     "/proxy/anything",
     200,
     NULL,
     UP "openai_stream.sse",
     NULL,
     NULL,
     {EXTRACT_API_OPENAI_CHAT, true, "The capital of France is Paris.", "stop",
      "gpt-4o-mini-2024-07-18", "", NULL, false, NULL, NULL, "fp_mock0001"}},
    /* OpenAI completions */
    {"openai completions JSON: choices[0].text",
     COMPLETIONS,
     200,
     JSON_HEAD,
     FX "openai_completions.json",
     NULL,
     NULL,
     {EXTRACT_API_OPENAI_COMPLETIONS, false, "\n\nThis is indeed a test", "length",
      "gpt-3.5-turbo-instruct", "", NULL, false, NULL, NULL, NULL}},
    {"openai completions SSE: text deltas concatenated",
     COMPLETIONS,
     200,
     SSE_HEAD,
     FX "openai_completions_stream.sse",
     NULL,
     NULL,
     {EXTRACT_API_OPENAI_COMPLETIONS, true, "\n\nThis is a test.", "stop", "gpt-3.5-turbo-instruct",
      "", NULL, false, NULL, NULL, NULL}},
    /* OpenAI responses */
    {"openai responses JSON: output_text, status completed",
     RESPONSES,
     200,
     JSON_HEAD,
     FX "openai_responses.json",
     NULL,
     NULL,
     {EXTRACT_API_OPENAI_RESPONSES, false, "Hi there! How can I help?", "completed",
      "gpt-4.1-2025-04-14", "", NULL, false, NULL, NULL, NULL}},
    {"openai responses JSON incomplete: finish reason max_output_tokens",
     RESPONSES,
     200,
     JSON_HEAD,
     FX "openai_responses_incomplete.json",
     NULL,
     NULL,
     {EXTRACT_API_OPENAI_RESPONSES, false, "The three primary colours are red,",
      "max_output_tokens", "gpt-4.1-2025-04-14", "", NULL, false, NULL, NULL, NULL}},
    {"openai responses SSE: response.completed's response wins",
     RESPONSES,
     200,
     SSE_HEAD,
     FX "openai_responses_stream.sse",
     NULL,
     NULL,
     {EXTRACT_API_OPENAI_RESPONSES, true, "Hi there! How can I help?", "completed",
      "gpt-4.1-2025-04-14", "", NULL, false, NULL, NULL, NULL}},
    {"openai responses SSE: function call",
     RESPONSES,
     200,
     SSE_HEAD,
     FX "openai_responses_tool_stream.sse",
     NULL,
     NULL,
     {EXTRACT_API_OPENAI_RESPONSES, true, "", "completed", "gpt-4.1-2025-04-14",
      "call_fx19|get_weather|{\"location\":\"Paris, France\"}\n", NULL, false, NULL, NULL, NULL}},
    /* Anthropic messages */
    {"anthropic JSON: text block, end_turn",
     MESSAGES,
     200,
     JSON_HEAD,
     UP "anthropic_message.json",
     NULL,
     NULL,
     {EXTRACT_API_ANTHROPIC_MESSAGES, false, "Hello! How can I help you today?", "end_turn",
      "claude-sonnet-4-20250514", "", NULL, false, NULL, NULL, NULL}},
    {"anthropic JSON: tool_use input serialised as arguments",
     MESSAGES,
     200,
     JSON_HEAD,
     FX "anthropic_tool_use.json",
     NULL,
     NULL,
     {EXTRACT_API_ANTHROPIC_MESSAGES, false, "I'll check the weather in Paris.", "tool_use",
      "claude-sonnet-4-20250514",
      "toolu_fx20|get_weather|{\"location\":\"Paris, France\",\"unit\":\"celsius\"}\n", NULL, false,
      NULL, NULL, NULL}},
    {"anthropic JSON: stop_reason refusal",
     MESSAGES,
     200,
     JSON_HEAD,
     FX "anthropic_refusal.json",
     NULL,
     NULL,
     {EXTRACT_API_ANTHROPIC_MESSAGES, false, "I can't", "refusal", "claude-sonnet-4-5-20250929", "",
      NULL, false, NULL, NULL, NULL}},
    {"anthropic JSON: stop_reason model_context_window_exceeded",
     MESSAGES,
     200,
     JSON_HEAD,
     FX "anthropic_context_exceeded.json",
     NULL,
     NULL,
     {EXTRACT_API_ANTHROPIC_MESSAGES, false, "Summary so far: the", "model_context_window_exceeded",
      "claude-sonnet-4-5-20250929", "", NULL, false, NULL, NULL, NULL}},
    {"anthropic SSE: text deltas, ping skipped, stop reason from message_delta",
     MESSAGES,
     200,
     SSE_HEAD,
     UP "anthropic_stream.sse",
     NULL,
     NULL,
     {EXTRACT_API_ANTHROPIC_MESSAGES, true, "Hello! How can I help you today?", "end_turn",
      "claude-sonnet-4-20250514", "", NULL, false, NULL, NULL, NULL}},
    {"anthropic SSE: input_json_delta concatenated per block; a tool without deltas gets {}",
     MESSAGES,
     200,
     SSE_HEAD,
     FX "anthropic_tool_use_stream.sse",
     NULL,
     NULL,
     {EXTRACT_API_ANTHROPIC_MESSAGES, true, "I'll check the weather.", "tool_use",
      "claude-sonnet-4-20250514",
      "toolu_fx21|get_weather|{\"location\": \"Paris, France\", \"unit\": \"celsius\"}\n"
      "toolu_fx21b|get_time|{}\n",
      NULL, false, NULL, NULL, NULL}},
    {"anthropic SSE: max_tokens",
     MESSAGES,
     200,
     SSE_HEAD,
     FX "anthropic_max_tokens_stream.sse",
     NULL,
     NULL,
     {EXTRACT_API_ANTHROPIC_MESSAGES, true, "The history of Rome begins", "max_tokens",
      "claude-sonnet-4-20250514", "", NULL, false, NULL, NULL, NULL}},
    {"anthropic SSE error event: parse error with the message, text so far kept",
     MESSAGES,
     200,
     SSE_HEAD,
     FX "anthropic_error_stream.sse",
     NULL,
     NULL,
     {EXTRACT_API_ANTHROPIC_MESSAGES, true, "Sure, here", NULL, "claude-sonnet-4-20250514", "",
      NULL, true, "overloaded_error: Overloaded", "Overloaded", NULL}},
    {"anthropic JSON body on an unknown path: the shape says the API",
     "/vertex/models/claude:rawPredict",
     200,
     JSON_HEAD,
     UP "anthropic_message.json",
     NULL,
     NULL,
     {EXTRACT_API_ANTHROPIC_MESSAGES, false, "Hello! How can I help you today?", "end_turn",
      "claude-sonnet-4-20250514", "", NULL, false, NULL, NULL, NULL}},
    {"anthropic JSON body on a chat path: the body's shape wins",
     CHAT,
     200,
     JSON_HEAD,
     UP "anthropic_message.json",
     NULL,
     NULL,
     {EXTRACT_API_ANTHROPIC_MESSAGES, false, "Hello! How can I help you today?", "end_turn",
      "claude-sonnet-4-20250514", "", NULL, false, NULL, NULL, NULL}},
    /* Upstream errors: answers, not parse failures */
    {"openai 429 error body: message extracted, model from the request, no parse error",
     CHAT,
     429,
     JSON_HEAD,
     FX "openai_error_429.json",
     NULL,
     "{\"model\": \"gpt-4o-mini\", \"messages\": []}",
     {EXTRACT_API_OPENAI_CHAT, false, "", NULL, "gpt-4o-mini", "", NULL, false, NULL,
      "Rate limit reached for gpt-4o-mini in organization org-fx on requests per min (RPM): "
      "Limit 3, Used 3, Requested 1. Please try again in 20s.",
      NULL}},
    {"anthropic 529 error body: message extracted, no parse error",
     MESSAGES,
     529,
     JSON_HEAD,
     FX "anthropic_error_529.json",
     NULL,
     NULL,
     {EXTRACT_API_ANTHROPIC_MESSAGES, false, "", NULL, NULL, "", NULL, false, NULL, "Overloaded",
      NULL}},
    {"HTML 502 page: no parse error",
     CHAT,
     502,
     "Content-Type: text/html\n",
     FX "html_502.html",
     NULL,
     NULL,
     {EXTRACT_API_OPENAI_CHAT, false, "", NULL, NULL, "", NULL, false, NULL, NULL, NULL}},
    {"HTML page with status 200 on a chat path: parse error",
     CHAT,
     200,
     "Content-Type: text/html\n",
     FX "html_502.html",
     NULL,
     NULL,
     {EXTRACT_API_OPENAI_CHAT, false, "", NULL, NULL, "", NULL, true, "not JSON", NULL, NULL}},
    {"openai error object in a 200 stream: parse error",
     CHAT,
     200,
     SSE_HEAD,
     NULL,
     "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"model\":\"m\",\"choices\":[{"
     "\"index\":0,\"delta\":{\"content\":\"Hel\"},\"finish_reason\":null}]}\n\n"
     "data: {\"error\":{\"message\":\"The server had an error while processing your "
     "request.\",\"type\":\"server_error\",\"param\":null,\"code\":null}}\n\n",
     NULL,
     {EXTRACT_API_OPENAI_CHAT, true, "Hel", NULL, "m", "", NULL, true, "server_error",
      "The server had an error while processing your request.", NULL}},
    /* Bodies that are not the API's */
    {"non-JSON body on a chat path: parse error with jansson's position",
     CHAT,
     200,
     "Content-Type: text/plain\n",
     NULL,
     "Hello, world",
     NULL,
     {EXTRACT_API_OPENAI_CHAT, false, "", NULL, NULL, "", NULL, true, "body is not JSON: 1:", NULL,
      NULL}},
    {"non-JSON body on an unknown path: not ours to judge",
     "/healthz",
     200,
     "Content-Type: text/plain\n",
     NULL,
     "ok",
     NULL,
     {EXTRACT_API_UNKNOWN, false, "", NULL, NULL, "", NULL, false, NULL, NULL, NULL}},
    {"JSON of another shape on an unknown path: api unknown, no parse error",
     "/v1/models",
     200,
     JSON_HEAD,
     NULL,
     "{\"object\":\"list\",\"data\":[{\"id\":\"gpt-4o\",\"object\":\"model\"}]}",
     NULL,
     {EXTRACT_API_UNKNOWN, false, "", NULL, NULL, "", NULL, false, NULL, NULL, NULL}},
    {"JSON of no known shape on a chat path: parse error",
     CHAT,
     200,
     JSON_HEAD,
     NULL,
     "{\"hello\": \"world\"}",
     NULL,
     {EXTRACT_API_OPENAI_CHAT, false, "", NULL, NULL, "", NULL, true, "no known API shape", NULL,
      NULL}},
    {"JSON array body on a chat path: parse error",
     CHAT,
     200,
     JSON_HEAD,
     NULL,
     "[1, 2, 3]",
     NULL,
     {EXTRACT_API_OPENAI_CHAT, false, "", NULL, NULL, "", NULL, true, "not an object", NULL, NULL}},
    {"empty 200 body on a chat path: parse error",
     CHAT,
     200,
     JSON_HEAD,
     NULL,
     "",
     "{\"model\": \"gpt-4o\"}",
     {EXTRACT_API_OPENAI_CHAT, false, "", NULL, "gpt-4o", "", NULL, true, "empty body", NULL,
      NULL}},
    {"SSE event whose data is not JSON: parse error naming the event",
     CHAT,
     200,
     SSE_HEAD,
     NULL,
     "data: {\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{"
     "\"content\":\"a\"}}]}\n\ndata: oops\n\ndata: [DONE]\n\n",
     NULL,
     {EXTRACT_API_OPENAI_CHAT, true, "a", NULL, NULL, "", NULL, true, "SSE event 2", NULL, NULL}},
    {"event-stream with no events: parse error",
     CHAT,
     200,
     SSE_HEAD,
     NULL,
     ": keep-alive\n\n",
     NULL,
     {EXTRACT_API_OPENAI_CHAT, true, "", NULL, NULL, "", NULL, true, "without events", NULL, NULL}},
    {"event-stream Content-Type over a JSON body: read as JSON",
     MESSAGES,
     200,
     SSE_HEAD,
     UP "anthropic_message.json",
     NULL,
     NULL,
     {EXTRACT_API_ANTHROPIC_MESSAGES, false, "Hello! How can I help you today?", "end_turn",
      "claude-sonnet-4-20250514", "", NULL, false, NULL, NULL, NULL}},
    {"data after [DONE] ignored",
     CHAT,
     200,
     SSE_HEAD,
     NULL,
     "data: {\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{"
     "\"content\":\"a\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\ndata: junk\n\n",
     NULL,
     {EXTRACT_API_OPENAI_CHAT, true, "a", "stop", NULL, "", NULL, false, NULL, NULL, NULL}},
    {"only choice 0 of n is read, its finish reason too",
     CHAT,
     200,
     SSE_HEAD,
     NULL,
     "data: {\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":1,\"delta\":{"
     "\"content\":\"B\"}},{\"index\":0,\"delta\":{\"content\":\"A\"}}]}\n\n"
     "data: {\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{},"
     "\"finish_reason\":\"length\"},{\"index\":1,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
     NULL,
     {EXTRACT_API_OPENAI_CHAT, true, "A", "length", NULL, "", NULL, false, NULL, NULL, NULL}},
    {"a stream's last event without its blank line is still read",
     CHAT,
     200,
     SSE_HEAD,
     NULL,
     "data: {\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{"
     "\"content\":\"a\"},\"finish_reason\":\"stop\"}]}",
     NULL,
     {EXTRACT_API_OPENAI_CHAT, true, "a", "stop", NULL, "", NULL, false, NULL, NULL, NULL}},

    /* JSON as jansson reads it (load_json's own reader must agree, else leave it to jansson) */
    {"JSON escapes decoded: \\n, \\u00e9, a surrogate pair, \\\" and \\/",
     CHAT,
     200,
     JSON_HEAD,
     NULL,
     "{\"object\":\"chat.completion\",\"choices\":[{\"index\":0,\"message\":{\"content\":"
     "\"caf\\u00e9\\n\\ud83d\\ude00 \\\"ok\\\" "
     "a\\/b\\t\xe2\x80\x99\"},\"finish_reason\":\"stop\"}]}",
     NULL,
     {EXTRACT_API_OPENAI_CHAT, false, "caf\xc3\xa9\n\xf0\x9f\x98\x80 \"ok\" a/b\t\xe2\x80\x99",
      "stop", NULL, "", NULL, false, NULL, NULL, NULL}},
    {"JSON member named twice: the last value wins",
     CHAT,
     200,
     JSON_HEAD,
     NULL,
     "{\"object\":\"chat.completion\",\"model\":\"m1\",\"model\":\"m2\",\"choices\":[{"
     "\"message\":{\"content\":\"a\"},\"finish_reason\":\"stop\"}]}",
     NULL,
     {EXTRACT_API_OPENAI_CHAT, false, "a", "stop", "m2", "", NULL, false, NULL, NULL, NULL}},
    {"numbers of every form elsewhere in the body",
     CHAT,
     200,
     JSON_HEAD,
     NULL,
     "{\"object\":\"chat.completion\",\"choices\":[{\"message\":{\"content\":\"a\"},"
     "\"logprobs\":[-0,-0.5e-3,1E+2,0.1,9223372036854775807,-9223372036854775808,1e-400],"
     "\"finish_reason\":\"stop\"}],\"x\":[true,false,null,{},[]]}",
     NULL,
     {EXTRACT_API_OPENAI_CHAT, false, "a", "stop", NULL, "", NULL, false, NULL, NULL, NULL}},
    {"nesting deeper than load_json's own reader goes: still read",
     CHAT,
     200,
     JSON_HEAD,
     NULL,
     "{\"object\":\"chat.completion\",\"choices\":[{\"message\":{\"content\":\"a\"}}],\"x\":"
     "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
     "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
     NULL,
     {EXTRACT_API_OPENAI_CHAT, false, "a", NULL, NULL, "", NULL, false, NULL, NULL, NULL}},
    {"\\u0000 in a string: not JSON, with jansson's reason",
     CHAT,
     200,
     JSON_HEAD,
     NULL,
     "{\"object\":\"chat.completion\",\"choices\":[{\"message\":{\"content\":\"a\\u0000b\"}}]}",
     NULL,
     {EXTRACT_API_OPENAI_CHAT, false, "", NULL, NULL, "", NULL, true, "JSON_ALLOW_NUL", NULL,
      NULL}},
    {"a real that overflows: not JSON",
     CHAT,
     200,
     JSON_HEAD,
     NULL,
     "{\"object\":\"chat.completion\",\"choices\":[{\"message\":{\"content\":\"a\"}}],"
     "\"x\":1e999}",
     NULL,
     {EXTRACT_API_OPENAI_CHAT, false, "", NULL, NULL, "", NULL, true, "real number overflow", NULL,
      NULL}},
    {"an integer too big for json_int_t: not JSON",
     CHAT,
     200,
     JSON_HEAD,
     NULL,
     "{\"object\":\"chat.completion\",\"choices\":[{\"message\":{\"content\":\"a\"}}],"
     "\"x\":9223372036854775808}",
     NULL,
     {EXTRACT_API_OPENAI_CHAT, false, "", NULL, NULL, "", NULL, true, "too big integer", NULL,
      NULL}},
    {"invalid UTF-8 in a string: not JSON",
     CHAT,
     200,
     JSON_HEAD,
     NULL,
     "{\"object\":\"chat.completion\",\"choices\":[{\"message\":{\"content\":\"a\xc0\xaf"
     "b\"}}]}",
     NULL,
     {EXTRACT_API_OPENAI_CHAT, false, "", NULL, NULL, "", NULL, true, "unable to decode byte", NULL,
      NULL}},
    {"a lone surrogate escape: not JSON",
     CHAT,
     200,
     JSON_HEAD,
     NULL,
     "{\"object\":\"chat.completion\",\"choices\":[{\"message\":{\"content\":\"\\ud83d x\"}}]}",
     NULL,
     {EXTRACT_API_OPENAI_CHAT, false, "", NULL, NULL, "", NULL, true, "invalid Unicode", NULL,
      NULL}},
    {"a trailing comma: not JSON",
     CHAT,
     200,
     JSON_HEAD,
     NULL,
     "{\"object\":\"chat.completion\",\"choices\":[{\"message\":{\"content\":\"a\"}},]}",
     NULL,
     {EXTRACT_API_OPENAI_CHAT, false, "", NULL, NULL, "", NULL, true, "body is not JSON", NULL,
      NULL}},
    {"the model from a request holding escapes",
     CHAT,
     200,
     JSON_HEAD,
     NULL,
     "{\"object\":\"chat.completion\",\"choices\":[{\"message\":{\"content\":\"a\"}}]}",
     "{\"model\": \"gpt\\u002d4o\", \"messages\": [{\"role\": \"user\", \"content\": \"hi\\n\"}]}",
     {EXTRACT_API_OPENAI_CHAT, false, "a", NULL, "gpt-4o", "", NULL, false, NULL, NULL, NULL}},
};

static struct exchange *case_exchange(const struct ecase *c, const char *encoding, const char *body,
                                      size_t len)
{
    char head[512];
    snprintf(head, sizeof(head), "%s%s%s%s", c->head ? c->head : "",
             encoding ? "Content-Encoding: " : "", encoding ? encoding : "", encoding ? "\n" : "");
    return make_exchange(c->uri, c->status, head, body, len, c->request);
}

/* Checks each field of c's extraction; returns it rendered (free()). */
static char *check_case(const struct ecase *c, const char *variant, const char *encoding,
                        const char *body, size_t len)
{
    struct exchange *ex = case_exchange(c, encoding, body, len);
    struct extracted x;
    const struct want *w = &c->want;
    char tools[4096];

    is_int(extract(ex, MAX_DECODED, &x), 0, "%s%s: extract returns 0", c->name, variant);
    render_tools(&x, tools, sizeof(tools));
    is_int(x.api, w->api, "%s%s: api", c->name, variant);
    is_int(x.stream, w->stream, "%s%s: stream", c->name, variant);
    is_str(x.text, w->text, "%s%s: text", c->name, variant);
    is_int(x.text_len, strlen(w->text), "%s%s: text_len", c->name, variant);
    is_str(x.finish_reason, w->finish_reason, "%s%s: finish_reason", c->name, variant);
    is_str(x.model, w->model, "%s%s: model", c->name, variant);
    is_str(tools, w->tools, "%s%s: tool calls", c->name, variant);
    is_str(x.refusal, w->refusal, "%s%s: refusal", c->name, variant);
    is_str(x.error_message, w->error_message, "%s%s: error_message", c->name, variant);
    is_str(x.system_fingerprint, w->system_fingerprint, "%s%s: system_fingerprint", c->name,
           variant);
    is_int(x.parse_error, w->parse_error, "%s%s: parse_error (%s)", c->name, variant,
           x.parse_detail);
    if (w->detail)
        ok(strstr(x.parse_detail, w->detail) != NULL, "%s%s: detail has \"%s\": %s", c->name,
           variant, w->detail, x.parse_detail);
    ok(!x.decoded_truncated, "%s%s: not truncated", c->name, variant);
    ok((x.request != NULL) == (c->request != NULL), "%s%s: request parsed when given", c->name,
       variant);
    char *rendered = render_extracted(&x);
    extracted_fini(&x);
    exchange_release(ex);
    return rendered;
}

/* The same body compressed: one test, the whole extraction the same as the plain one's. */
static void check_variant(const struct ecase *c, const char *variant, const char *encoding,
                          const char *body, size_t len, const char *want)
{
    struct exchange *ex = case_exchange(c, encoding, body, len);
    struct extracted x;
    extract(ex, MAX_DECODED, &x);
    char *got = render_extracted(&x);
    is_str(got, want, "%s%s: the same extraction", c->name, variant);
    free(got);
    extracted_fini(&x);
    exchange_release(ex);
}

static void test_table(void)
{
    static const struct {
        const char *name;
        const char *coding;
        int window_bits;
    } codings[] = {
        {"gzip", "gzip", 31}, {"deflate", "deflate", 15}, {"raw deflate", "deflate", -15}};
    for (size_t i = 0; i < sizeof(ecases) / sizeof(ecases[0]); i++) {
        const struct ecase *c = &ecases[i];
        size_t len;
        char *body = c->fixture ? slurp(c->fixture, &len) : strdup(c->body);
        if (!c->fixture) len = strlen(body);
        char *want = check_case(c, "", NULL, body, len);
        for (size_t k = 0; c->fixture && k < sizeof(codings) / sizeof(codings[0]); k++) {
            size_t zlen;
            char *z = compress_with(body, len, codings[k].window_bits, &zlen);
            char variant[64];
            snprintf(variant, sizeof(variant), " [%s]", codings[k].name);
            check_variant(c, variant, codings[k].coding, z, zlen, want);
            free(z);
        }
        free(want);
        free(body);
    }
}

/* ---- br fixtures, through extract ---- */

static void test_brotli_fixtures(void)
{
    static const struct ecase br_cases[] = {
        {"openai chat SSE, br",
         CHAT,
         200,
         SSE_HEAD "Content-Encoding: br\n",
         FX "openai_stream.sse.br",
         NULL,
         NULL,
         {EXTRACT_API_OPENAI_CHAT, true, "The capital of France is Paris.", "stop",
          "gpt-4o-mini-2024-07-18", "", NULL, false, NULL, NULL, "fp_mock0001"}},
        {"anthropic JSON, br (BR in capitals)",
         MESSAGES,
         200,
         JSON_HEAD "content-encoding: BR\n",
         FX "anthropic_message.json.br",
         NULL,
         NULL,
         {EXTRACT_API_ANTHROPIC_MESSAGES, false, "Hello! How can I help you today?", "end_turn",
          "claude-sonnet-4-20250514", "", NULL, false, NULL, NULL, NULL}},
        {"anthropic SSE, gzip then br, one header",
         MESSAGES,
         200,
         SSE_HEAD "Content-Encoding: gzip, br\n",
         FX "anthropic_stream.sse.gz.br",
         NULL,
         NULL,
         {EXTRACT_API_ANTHROPIC_MESSAGES, true, "Hello! How can I help you today?", "end_turn",
          "claude-sonnet-4-20250514", "", NULL, false, NULL, NULL, NULL}},
        {"anthropic SSE, gzip then br, two header lines",
         MESSAGES,
         200,
         SSE_HEAD "Content-Encoding: gzip\nContent-Encoding: br\n",
         FX "anthropic_stream.sse.gz.br",
         NULL,
         NULL,
         {EXTRACT_API_ANTHROPIC_MESSAGES, true, "Hello! How can I help you today?", "end_turn",
          "claude-sonnet-4-20250514", "", NULL, false, NULL, NULL, NULL}},
    };
    for (size_t i = 0; i < sizeof(br_cases) / sizeof(br_cases[0]); i++) {
        size_t len;
        char *body = slurp(br_cases[i].fixture, &len);
        free(check_case(&br_cases[i], "", NULL, body, len));
        free(body);
    }
}

/* ---- extract_decode ---- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool all_zero(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != 0) return false;
    return true;
}

static void test_bombs(void)
{
    size_t n = 10 * 1024 * 1024, zlen, len;
    char *zeros = calloc(n, 1);
    char *gz = compress_with(zeros, n, 31, &zlen);
    char *out;
    bool truncated;
    struct err err = {{0}};
    free(zeros);
    double t0 = now_s();
    is_int(extract_decode("gzip", gz, zlen, MAX_DECODED, &out, &len, &truncated, &err), 0,
           "gzip bomb (%zu bytes -> 10 MiB): decodes", zlen);
    double dt = now_s() - t0;
    is_int(len, MAX_DECODED, "gzip bomb: stops at the 1 MiB cap");
    ok(truncated, "gzip bomb: truncated");
    ok(all_zero(out, len) && out[len] == '\0', "gzip bomb: the prefix is right, NUL-terminated");
    ok(dt < 2.0, "gzip bomb: stopped early (%.3f s)", dt);
    free(out);

    /* Through extract: a known API, so the zeros are "not JSON"; the cut is still reported. */
    struct exchange *ex =
        make_exchange(CHAT, 200, JSON_HEAD "Content-Encoding: gzip\n", gz, zlen, NULL);
    struct extracted x;
    extract(ex, MAX_DECODED, &x);
    ok(x.decoded_truncated, "gzip bomb through extract: decoded_truncated");
    extracted_fini(&x);
    exchange_release(ex);
    free(gz);

    char *br = slurp(FX "zeros_10mb.br", &zlen);
    is_int(extract_decode("br", br, zlen, MAX_DECODED, &out, &len, &truncated, &err), 0,
           "br bomb (%zu bytes -> 10 MiB): decodes", zlen);
    is_int(len, MAX_DECODED, "br bomb: stops at the cap");
    ok(truncated && all_zero(out, len), "br bomb: truncated, the prefix is right");
    free(out);
    free(br);
}

static void test_cap_edges(void)
{
    static const char text[] = "0123456789abcdef";
    size_t zlen, len;
    char *gz = compress_with(STR_AND_LEN(text), 31, &zlen);
    char *out;
    bool truncated;
    struct err err = {{0}};

    extract_decode("gzip", gz, zlen, 16, &out, &len, &truncated, &err);
    ok(len == 16 && !truncated && strcmp(out, text) == 0, "output exactly at the cap: whole");
    free(out);
    extract_decode("gzip", gz, zlen, 15, &out, &len, &truncated, &err);
    ok(len == 15 && truncated && memcmp(out, text, 15) == 0, "one byte over the cap: truncated");
    free(out);
    extract_decode("gzip", gz, zlen, 0, &out, &len, &truncated, &err);
    ok(len == 0 && truncated && out[0] == '\0', "cap 0: empty, truncated");
    free(out);
    extract_decode(NULL, STR_AND_LEN(text), 10, &out, &len, &truncated, &err);
    ok(len == 10 && truncated, "identity over the cap: truncated");
    free(out);
    extract_decode("identity", STR_AND_LEN(text), 100, &out, &len, &truncated, &err);
    ok(len == 16 && !truncated && strcmp(out, text) == 0, "identity: copied");
    free(out);
    free(gz);
}

static void test_corrupt_and_cut(void)
{
    size_t len, zlen, blen;
    char *plain = slurp(UP "anthropic_stream.sse", &len);
    char *gz = compress_with(plain, len, 31, &zlen);
    char *out;
    size_t out_len;
    bool truncated;
    struct err err = {{0}};

    /* Cut in the middle: a prefix, no error. */
    is_int(extract_decode("gzip", gz, zlen / 2, MAX_DECODED, &out, &out_len, &truncated, &err), 0,
           "gzip cut in half: decodes what is there");
    ok(truncated && out_len > 0 && out_len < len && memcmp(out, plain, out_len) == 0,
       "gzip cut in half: truncated, a prefix of the original (%zu of %zu bytes)", out_len, len);
    free(out);

    /* Flipped bytes in the deflate data. */
    char *bad = malloc(zlen);
    memcpy(bad, gz, zlen);
    for (size_t i = 20; i < 40 && i < zlen; i++)
        bad[i] ^= 0x55;
    err.msg[0] = '\0';
    is_int(extract_decode("gzip", bad, zlen, MAX_DECODED, &out, &out_len, &truncated, &err), -1,
           "corrupt gzip: -1");
    ok(out == NULL && strncmp(err.msg, "gzip: ", 6) == 0, "corrupt gzip: zlib's reason: %s",
       err.msg);
    struct exchange *ex =
        make_exchange(MESSAGES, 200, SSE_HEAD "Content-Encoding: gzip\n", bad, zlen, NULL);
    struct extracted x;
    extract(ex, MAX_DECODED, &x);
    ok(x.parse_error && strstr(x.parse_detail, "gzip") != NULL,
       "corrupt gzip through extract: parse_error: %s", x.parse_detail);
    is_str(x.text, "", "corrupt gzip through extract: text empty, not NULL");
    extracted_fini(&x);
    exchange_release(ex);
    ex = make_exchange(MESSAGES, 503, SSE_HEAD "Content-Encoding: gzip\n", bad, zlen, NULL);
    extract(ex, MAX_DECODED, &x);
    ok(!x.parse_error, "corrupt gzip on a 503: no parse error");
    extracted_fini(&x);
    exchange_release(ex);
    ex = make_exchange(CHAT, 200, "Content-Encoding: gzip\n", "not gzip at all", 15, NULL);
    extract(ex, MAX_DECODED, &x);
    ok(x.parse_error, "plain text labelled gzip: parse_error: %s", x.parse_detail);
    extracted_fini(&x);
    exchange_release(ex);
    free(bad);

    /* Not gzip at all, and unknown codings. */
    ok(extract_decode("deflate", STR_AND_LEN("plain text!"), MAX_DECODED, &out, &out_len,
                      &truncated, &err) == -1,
       "deflate of plain text: -1 (%s)", err.msg);
    ok(extract_decode("zstd", STR_AND_LEN("x"), MAX_DECODED, &out, &out_len, &truncated, &err) ==
               -1 &&
           strstr(err.msg, "unsupported Content-Encoding \"zstd\"") != NULL,
       "unknown coding: -1 naming it: %s", err.msg);
    ok(extract_decode("gzip, gzip, gzip, gzip, gzip", STR_AND_LEN("x"), MAX_DECODED, &out, &out_len,
                      &truncated, &err) == -1,
       "more than %d codings: -1 (%s)", EXTRACT_MAX_ENCODINGS, err.msg);

    /* br: corrupt and cut. */
    char *br = slurp(FX "openai_stream.sse.br", &blen);
    size_t openai_len;
    char *plain_openai = slurp(UP "openai_stream.sse", &openai_len);
    is_int(extract_decode("br", br, blen / 2, MAX_DECODED, &out, &out_len, &truncated, &err), 0,
           "br cut in half: decodes what is there");
    ok(truncated && out_len < openai_len && memcmp(out, plain_openai, out_len) == 0,
       "br cut in half: truncated, a prefix (%zu of %zu bytes)", out_len, openai_len);
    free(out);
    for (size_t i = 10; i < 30 && i < blen; i++)
        br[i] ^= 0x5a;
    ok(extract_decode("br", br, blen, MAX_DECODED, &out, &out_len, &truncated, &err) == -1 &&
           strncmp(err.msg, "br: ", 4) == 0,
       "corrupt br: -1 with the decoder's reason: %s", err.msg);
    free(br);
    free(plain_openai);

    /* Two gzip members back to back decode as their concatenation (RFC 1952). */
    char *two = malloc(2 * zlen);
    memcpy(two, gz, zlen);
    memcpy(two + zlen, gz, zlen);
    extract_decode("x-gzip", two, 2 * zlen, MAX_DECODED, &out, &out_len, &truncated, &err);
    ok(out_len == 2 * len && memcmp(out, plain, len) == 0 && memcmp(out + len, plain, len) == 0,
       "two gzip members: both decoded (x-gzip)");
    free(out);
    free(two);

    /* Empty bodies decode to nothing whatever the coding. */
    is_int(extract_decode("gzip, br", "", 0, MAX_DECODED, &out, &out_len, &truncated, &err), 0,
           "empty body with codings: 0");
    ok(out_len == 0 && !truncated && out[0] == '\0', "empty body with codings: empty output");
    free(out);
    free(gz);
    free(plain);
}

/* ---- Cut captures ---- */

/* Extracts body cut at capture bytes (or cut by outcome). want_text NULL: x.text must be a
 * prefix of OPENAI_STREAM_TEXT. */
static void check_cut(const char *name, const char *uri, const char *head, const char *body,
                      size_t len, size_t capture, enum exchange_outcome outcome,
                      const char *want_text, bool want_parse_error)
{
    struct exchange *ex = exchange_new("cut", capture);
    ex->uri = strdup(uri);
    ex->status = 200;
    ex->outcome = outcome;
    buf_append(&ex->response_head, head, strlen(head));
    exchange_add_body(ex, body, len);
    struct extracted x;
    extract(ex, MAX_DECODED, &x);
    if (want_text)
        is_str(x.text, want_text, "%s: text", name);
    else
        ok(strncmp(x.text, OPENAI_STREAM_TEXT, x.text_len) == 0, "%s: text is a prefix: \"%s\"",
           name, x.text);
    is_int(x.parse_error, want_parse_error, "%s: parse_error (%s)", name, x.parse_detail);
    ok(x.decoded_truncated, "%s: decoded_truncated", name);
    extracted_fini(&x);
    exchange_release(ex);
}

static void test_cut_captures(void)
{
    size_t len, zlen;
    char *sse = slurp(UP "openai_stream.sse", &len);
    /* The third event ends at " of France"...; cut inside the fourth. */
    const char *fourth = strstr(sse, " is Paris.");
    size_t cut = (size_t)(fourth - sse) + 3;
    check_cut("openai SSE capture cut mid-event", CHAT, SSE_HEAD, sse, len, cut, EXCHANGE_COMPLETE,
              "The capital of France", false);
    check_cut("openai SSE, client gone mid-event", CHAT, SSE_HEAD, sse, cut, CAPTURE_BYTES,
              EXCHANGE_CLIENT_ABORT, "The capital of France", false);
    char *gz = compress_with(sse, len, 31, &zlen);
    check_cut("gzip SSE capture cut", CHAT, SSE_HEAD "Content-Encoding: gzip\n", gz, zlen,
              zlen * 3 / 4, EXCHANGE_COMPLETE, NULL, false);
    check_cut("gzip SSE capture cut inside the gzip trailer: every event read", CHAT,
              SSE_HEAD "Content-Encoding: gzip\n", gz, zlen, zlen - 4, EXCHANGE_COMPLETE,
              OPENAI_STREAM_TEXT, false);
    free(gz);
    free(sse);

    char *resp = slurp(FX "openai_responses_stream.sse", &len);
    cut = (size_t)(strstr(resp, "event: response.completed") - resp) + 40;
    check_cut("responses SSE cut before response.completed: the deltas' text", RESPONSES, SSE_HEAD,
              resp, len, cut, EXCHANGE_COMPLETE, "Hi there! How can I help?", false);
    free(resp);

    char *json = slurp(UP "openai_json_content.json", &len);
    check_cut("JSON capture cut", CHAT, JSON_HEAD, json, len, len / 2, EXCHANGE_COMPLETE, "",
              false);
    check_cut("JSON cut by a timeout", CHAT, JSON_HEAD, json, len / 2, CAPTURE_BYTES,
              EXCHANGE_TIMEOUT, "", false);
    free(json);

    /* The same half document on a complete exchange is broken. */
    json = slurp(UP "openai_json_content.json", &len);
    struct exchange *ex = make_exchange(CHAT, 200, JSON_HEAD, json, len / 2, NULL);
    struct extracted x;
    extract(ex, MAX_DECODED, &x);
    ok(x.parse_error && !x.decoded_truncated,
       "half a JSON document on a complete exchange: parse_error (%s)", x.parse_detail);
    extracted_fini(&x);
    exchange_release(ex);
    free(json);

    /* Cut HTML is still not JSON. */
    ex = exchange_new("cut", 40);
    ex->uri = strdup(CHAT);
    ex->status = 200;
    char *html = slurp(FX "html_502.html", &len);
    exchange_add_body(ex, html, len);
    extract(ex, MAX_DECODED, &x);
    ok(x.parse_error, "cut HTML with status 200: still a parse error (%s)", x.parse_detail);
    extracted_fini(&x);
    exchange_release(ex);
    free(html);

    ex = make_exchange(CHAT, 0, NULL, "", 0, NULL);
    ex->outcome = EXCHANGE_UPSTREAM_ERROR;
    extract(ex, MAX_DECODED, &x);
    ok(!x.parse_error && x.decoded_truncated && strcmp(x.text, "") == 0,
       "no response at all (upstream error): no parse error");
    extracted_fini(&x);
    exchange_release(ex);
}

/* ---- Depth and sizes ---- */

static void test_deep_nesting(void)
{
    size_t depth = 100000;
    char *deep = malloc(2 * depth + 64);
    size_t n = (size_t)sprintf(deep, "{\"choices\":");
    memset(deep + n, '[', depth);
    memset(deep + n + depth, ']', depth);
    n += 2 * depth;
    deep[n++] = '}';
    deep[n] = '\0';
    struct exchange *ex = make_exchange(CHAT, 200, JSON_HEAD, deep, n, deep);
    struct extracted x;
    extract(ex, MAX_DECODED, &x);
    ok(x.parse_error && strstr(x.parse_detail, "depth") != NULL,
       "JSON nested %zu deep: parse error, no crash (%s)", depth, x.parse_detail);
    ok(x.request == NULL, "a request nested too deep is not JSON");
    extracted_fini(&x);
    exchange_release(ex);

    /* In an SSE event. */
    char *sse = malloc(2 * depth + 64);
    n = (size_t)sprintf(sse, "data: {\"a\":");
    memset(sse + n, '[', depth);
    memset(sse + n + depth, ']', depth);
    n += 2 * depth;
    n += (size_t)sprintf(sse + n, "}\n\n");
    ex = make_exchange(CHAT, 200, SSE_HEAD, sse, n, NULL);
    extract(ex, MAX_DECODED, &x);
    ok(x.parse_error && strstr(x.parse_detail, "depth") != NULL,
       "SSE event nested %zu deep: parse error (%s)", depth, x.parse_detail);
    extracted_fini(&x);
    exchange_release(ex);

    /* Just under jansson's limit, as an Anthropic tool input: serialised whole. */
    size_t ok_depth = 2000;
    n = (size_t)sprintf(deep, "{\"type\":\"message\",\"content\":[{\"type\":\"tool_use\",\"id\":"
                              "\"t\",\"name\":\"f\",\"input\":{\"a\":");
    memset(deep + n, '[', ok_depth);
    memset(deep + n + ok_depth, ']', ok_depth);
    n += 2 * ok_depth;
    n += (size_t)sprintf(deep + n, "}}],\"stop_reason\":\"tool_use\"}");
    ex = make_exchange(MESSAGES, 200, JSON_HEAD, deep, n, NULL);
    extract(ex, MAX_DECODED, &x);
    ok(!x.parse_error && x.n_tool_calls == 1 &&
           strlen(x.tool_calls[0].arguments) == 2 * ok_depth + 6,
       "tool input nested %zu deep: serialised (%s)", ok_depth, x.parse_detail);
    extracted_fini(&x);
    exchange_release(ex);
    free(sse);
    free(deep);
}

static void test_tool_call_cap(void)
{
    struct buf b;
    buf_init(&b, 1024 * 1024);
    for (int i = 0; i < EXTRACT_MAX_TOOL_CALLS + 20; i++) {
        char ev[256];
        snprintf(ev, sizeof(ev),
                 "data: {\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,"
                 "\"delta\":{\"tool_calls\":[{\"index\":%d,\"id\":\"c%d\",\"function\":{"
                 "\"name\":\"f\",\"arguments\":\"{}\"}}]}}]}\n\n",
                 EXTRACT_MAX_TOOL_CALLS + 20 - 1 - i, i);
        buf_append(&b, ev, strlen(ev));
    }
    struct exchange *ex = make_exchange(CHAT, 200, SSE_HEAD, b.data, b.len, NULL);
    struct extracted x;
    extract(ex, MAX_DECODED, &x);
    is_int(x.n_tool_calls, EXTRACT_MAX_TOOL_CALLS, "tool calls past %d are dropped",
           EXTRACT_MAX_TOOL_CALLS);
    /* Arrival i has index 147 - i: the first 128 to arrive are indices 147..20. */
    bool sorted = true;
    for (size_t i = 1; i < x.n_tool_calls; i++)
        sorted &= atoi(x.tool_calls[i - 1].id + 1) == atoi(x.tool_calls[i].id + 1) + 1;
    ok(sorted && strcmp(x.tool_calls[0].id, "c127") == 0,
       "tool calls come out in index order, not arrival order (first: %s)", x.tool_calls[0].id);
    extracted_fini(&x);
    exchange_release(ex);
    buf_fini(&b);
}

/* ---- The path decides when the body cannot ---- */

static void test_paths(void)
{
    static const struct {
        const char *uri;
        enum extract_api want;
    } paths[] = {
        {"/v1/chat/completions", EXTRACT_API_OPENAI_CHAT},
        {"/v1/chat/completions?stream=true", EXTRACT_API_OPENAI_CHAT},
        {"/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21",
         EXTRACT_API_OPENAI_CHAT},
        {"/chat/completions", EXTRACT_API_OPENAI_CHAT},
        {"/api/v1/chat/completions/", EXTRACT_API_OPENAI_CHAT},
        {"/v1/completions", EXTRACT_API_OPENAI_COMPLETIONS},
        {"/v1/responses", EXTRACT_API_OPENAI_RESPONSES},
        {"/v1/responses?x=1#frag", EXTRACT_API_OPENAI_RESPONSES},
        {"/v1/messages", EXTRACT_API_ANTHROPIC_MESSAGES},
        {"/v1/messages?beta=true", EXTRACT_API_ANTHROPIC_MESSAGES},
        {"/messages", EXTRACT_API_ANTHROPIC_MESSAGES},
        {"/v1/messages/count_tokens", EXTRACT_API_UNKNOWN},
        {"/v1/threads/thread_1/messages", EXTRACT_API_UNKNOWN},
        {"/v1/responses/resp_1", EXTRACT_API_UNKNOWN},
        {"/v1/models", EXTRACT_API_UNKNOWN},
        {"/", EXTRACT_API_UNKNOWN},
        {NULL, EXTRACT_API_UNKNOWN},
    };
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        struct exchange *ex = make_exchange(paths[i].uri, 500, NULL, "", 0, NULL);
        struct extracted x;
        extract(ex, MAX_DECODED, &x);
        is_int(x.api, paths[i].want, "path %s: api %d", paths[i].uri ? paths[i].uri : "(null)",
               paths[i].want);
        extracted_fini(&x);
        exchange_release(ex);
    }
}

static void test_request(void)
{
    struct exchange *ex = make_exchange(CHAT, 200, JSON_HEAD, STR_AND_LEN("{\"choices\":[]}"),
                                        "{\"model\":\"gpt-4o\",\"stream\":false}");
    struct extracted x;
    extract(ex, MAX_DECODED, &x);
    ok(json_is_object(x.request) && json_is_false(json_object_get(x.request, "stream")),
       "request body parsed");
    is_str(x.model, "gpt-4o", "model falls back to the request's");
    extracted_fini(&x);
    ok(x.text == NULL && x.request == NULL, "extracted_fini leaves nothing reachable");
    exchange_release(ex);

    ex = make_exchange(CHAT, 200, JSON_HEAD, STR_AND_LEN("{\"choices\":[]}"), "model=gpt-4o");
    extract(ex, MAX_DECODED, &x);
    ok(x.request == NULL && x.model == NULL, "a form-encoded request is not JSON: NULL");
    extracted_fini(&x);
    exchange_release(ex);
}

int main(void)
{
    test_table();
    test_brotli_fixtures();
    test_bombs();
    test_cap_edges();
    test_corrupt_and_cut();
    test_cut_captures();
    test_deep_nesting();
    test_tool_call_cap();
    test_paths();
    test_request();
    return done_testing();
}
