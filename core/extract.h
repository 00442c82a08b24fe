/* What the scorers read: the assistant's text, tool calls, finish reason and model, recovered
 * from a captured exchange whatever the API shape (OpenAI chat completions, completions,
 * responses; Anthropic messages), streamed (SSE deltas reassembled) or not, compressed (gzip,
 * deflate, br) or not. Pure: no I/O, no globals; runs on the evaluator thread. */
#ifndef SIGMAPROXY_CORE_EXTRACT_H
#define SIGMAPROXY_CORE_EXTRACT_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "core/err.h"
#include "core/exchange.h"

#define EXTRACT_MAX_TOOL_CALLS 128 /* tool calls past this many are ignored */
#define EXTRACT_MAX_ENCODINGS  4   /* codings in one Content-Encoding list; more is an error */

enum extract_api {
    EXTRACT_API_UNKNOWN = 0,        /* forwarded and counted, not scored for content */
    EXTRACT_API_OPENAI_CHAT,        /* /chat/completions */
    EXTRACT_API_OPENAI_COMPLETIONS, /* /completions (legacy) */
    EXTRACT_API_OPENAI_RESPONSES,   /* /responses */
    EXTRACT_API_ANTHROPIC_MESSAGES, /* /messages */
};

struct extract_tool_call {
    char *id;        /* may be NULL */
    char *name;      /* may be NULL when the body never named it */
    char *arguments; /* JSON text as the model produced it (deltas concatenated; Anthropic's input
                      * object serialised), NUL-terminated, never NULL ("" when none) */
};

/* Which API: the body's shape when it shows one ("object": "chat.completion", "type":
 * "message_start", a "choices" array, ...), else the path (query ignored): .../chat/completions,
 * .../completions, .../responses, .../v1/messages or /messages.
 *
 * parse_error is set only when the status is below 400 and one of: the Content-Encoding could not
 * be decoded; the API is known but the body is empty, not JSON, not an object, JSON of no known
 * shape, or SSE whose event data is not JSON; the stream carried an error event (Anthropic
 * "error", OpenAI {"error": ...}). Upstream error replies (status >= 400) are answers, not parse
 * failures: whatever they hold (error_type, error_message) is extracted and parse_error stays
 * false, even for an HTML page. A body known to be a prefix (decoded_truncated) is not a parse
 * error for ending early: a JSON document or last SSE event cut short is skipped. */
struct extracted {
    enum extract_api api;
    bool stream; /* the response was an SSE stream */

    char *text; /* assistant text (first choice / all text blocks joined), NUL-terminated, never
                 * NULL after extract(); "" when there was none */
    size_t text_len;
    struct extract_tool_call *tool_calls; /* in index order (OpenAI tool_calls[].index, Anthropic
                                           * content block index, Responses output_index) */
    size_t n_tool_calls;
    char *finish_reason; /* as the API said it ("stop", "length", "tool_calls", "end_turn",
                          * "max_tokens", "refusal", "model_context_window_exceeded", ...); for
                          * the Responses API incomplete_details.reason ("max_output_tokens") when
                          * there is one, else status ("completed", "failed"); NULL when absent */
    char *refusal;       /* OpenAI's message.refusal text (deltas concatenated); NULL when absent */
    char *model;         /* response's model, else the request's; NULL when neither */
    char *system_fingerprint;
    char *error_type; /* the upstream's error object: type (or code), message; NULL when none */
    char *error_message;

    json_t *request; /* the request body parsed, or NULL when it is not JSON; owned */

    /* The response could not be understood (not JSON, broken SSE, undecodable encoding):
     * scorers see what could be recovered; the evaluator counts a `parse` defect. */
    bool parse_error;
    char parse_detail[160];
    /* The body extracted from is a prefix of the response: the capture was cut
     * (exchange.response_truncated), the exchange ended early (outcome timeout, upstream error or
     * client abort), decoding stopped at max_decoded_bytes, or the compressed stream ended early.
     * text and tool calls are then prefixes too. */
    bool decoded_truncated;
};

/* Any thread (the evaluator's). Fills *out from ex. max_decoded_bytes caps the decompressed body
 * (a small gzip can inflate to gigabytes; PITFALLS.md). Returns 0 (even when out->parse_error is
 * set: that is a finding, not a failure). Free with extracted_fini(). */
int extract(const struct exchange *ex, size_t max_decoded_bytes, struct extracted *out);
void extracted_fini(struct extracted *x);

/* Decodes body per the Content-Encoding value (gzip, x-gzip, deflate, br, identity, or NULL;
 * a list like "gzip, br" is decoded right to left; names are case-insensitive). deflate may be
 * zlib-wrapped or raw. On success returns 0 and a new NUL-terminated buffer in *out (free()) of
 * *out_len <= max_bytes bytes, *truncated set when the output is a prefix: the cap cut it, or the
 * body ended inside the compressed stream (a cut capture). Returns -1 with err (the library's
 * message) for an unknown encoding or corrupt data; *out is then NULL. */
int extract_decode(const char *content_encoding, const char *body, size_t len, size_t max_bytes,
                   char **out, size_t *out_len, bool *truncated, struct err *err);

#endif
