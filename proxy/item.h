/* A flagged item: the JSON object a reviewer reads from the triage stream (SPEC "Triage queue"),
 * built on an evaluator thread from a captured exchange, what extract() recovered and the
 * scorers' verdicts. It holds no request header (the capture keeps none) and no query string
 * (where some APIs take their key). Texts are valid UTF-8 (bad bytes become U+FFFD) and capped. */
#ifndef SIGMAPROXY_PROXY_ITEM_H
#define SIGMAPROXY_PROXY_ITEM_H

#include <stdbool.h>
#include <stddef.h>

#include "core/exchange.h"
#include "core/extract.h"

#define ITEM_MAX_REQUEST_BYTES (1u << 20)  /* larger request bodies are kept as a cut string */
#define ITEM_MAX_TEXT_BYTES    (1u << 20)  /* response_text */
#define ITEM_MAX_RAW_BYTES     (64u << 10) /* response_raw: the decoded body */

/* One scorer's verdict, as the item shows it. */
struct item_score {
    const char *scorer;
    bool defect;
    double score;
    const char *detail;
};

/* Any thread. Returns a new compact JSON text (free with free()) with: id, ts (RFC 3339 UTC, ms),
 * route (upstream name), upstream (its URL; may be NULL), method, path, model, status, outcome,
 * stream, latency_ms, ttft_ms (streams; else null), request (the body as JSON, else as a string,
 * with request_truncated when cut), response_text, finish_reason, response_raw (+ _truncated),
 * scores [{scorer, defect, score, detail}], sampled_by, system_fingerprint when present. */
char *item_json(const struct exchange *ex, const struct extracted *x, const char *upstream_url,
                const struct item_score *scores, size_t n_scores);

#endif
