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
    char *arguments; /* JSON text as the model produced it (deltas concatenated), NUL-terminated */
};

struct extracted {
    enum extract_api api;
    bool stream; /* the response was an SSE stream */

    char *text; /* assistant text (first choice / all text blocks joined), NUL-terminated, never
                 * NULL after extract(); "" when there was none */
    size_t text_len;
    struct extract_tool_call *tool_calls;
    size_t n_tool_calls;
    char *finish_reason; /* as the API said it ("stop", "length", "tool_calls", "end_turn",
                          * "max_tokens", "refusal", "model_context_window_exceeded", ...); NULL
                          * when absent */
    char *refusal;       /* OpenAI's message.refusal text; NULL when absent */
    char *model;         /* response's model, else the request's; NULL when neither */
    char *system_fingerprint;

    json_t *request; /* the request body parsed, or NULL when it is not JSON; owned */

    /* The response could not be understood (not JSON, broken SSE, undecodable encoding):
     * scorers see what could be recovered; the evaluator counts a `parse` defect. */
    bool parse_error;
    char parse_detail[160];
    bool decoded_truncated; /* decoding stopped at the cap: text is a prefix */
};

/* Fills *out from ex. max_decoded_bytes caps the decompressed body (a small gzip can inflate
 * to gigabytes; PITFALLS.md). Returns 0 (even when out->parse_error is set: that is a finding,
 * not a failure). Free with extracted_fini(). */
int extract(const struct exchange *ex, size_t max_decoded_bytes, struct extracted *out);
void extracted_fini(struct extracted *x);

/* Decodes body per the Content-Encoding value (gzip, x-gzip, deflate, br, identity, or NULL;
 * a list like "gzip, br" is decoded right to left). On success returns 0 and a new
 * NUL-terminated buffer in *out (free()) of *out_len bytes, *truncated set when the cap cut it.
 * Returns -1 with err for an unknown encoding or corrupt data. */
int extract_decode(const char *content_encoding, const char *body, size_t len, size_t max_bytes,
                   char **out, size_t *out_len, bool *truncated, struct err *err);

#endif
