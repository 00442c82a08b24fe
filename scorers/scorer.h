/* A scorer: one check of one captured exchange (SPEC "Built-in scorers"). Adding one means one
 * file here and one line in registry.c. score() does no I/O, keeps no hidden state and may run
 * on several evaluator threads at once with the same state (state is read-only after setup). */
#ifndef SIGMAPROXY_SCORERS_SCORER_H
#define SIGMAPROXY_SCORERS_SCORER_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "core/err.h"
#include "core/exchange.h"
#include "core/extract.h"

#define SCORE_DETAIL_BYTES 256

struct score {
    bool applicable; /* false: this exchange is not an opportunity for this scorer (e.g.
                      * json_valid when no JSON was asked for); defect is then false */
    bool defect;
    double score;                    /* scorer-defined, documented in its file; higher = worse */
    char detail[SCORE_DETAIL_BYTES]; /* what matched where, for a human; never a secret's value
                                      * in full (secrets and pii show a masked excerpt) */
};

/* What a scorer looks at. */
struct score_input {
    const struct exchange *ex; /* status, timings, raw bytes, outcome */
    const struct extracted *x; /* text, tool calls, finish reason, request JSON */
};

struct scorer {
    const char *name; /* config key, metric label */
    /* Validates params (a JSON object, or NULL for defaults) and builds state. Returns 0, or -1
     * with err naming the bad parameter ("pii.params.kinds[2]: \"ssn2\": unknown kind"). */
    int (*setup)(void **state, const json_t *params, struct err *err); /* may be NULL */
    void (*score)(const void *state, const struct score_input *in, struct score *out);
    void (*teardown)(void *state); /* may be NULL */
};

/* Room score_append() keeps free at the end of the detail, for a closing "; +N more". */
#define SCORE_DETAIL_RESERVE 16

/* Sets out to the verdict a scorer starts from: not applicable, no defect, score 0, no detail. */
void score_reset(struct score *out);

/* The rule of the scorers that judge the reply (empty, length, regex, repetition, truncated): an
 * error status (>= 400) is http_error's opportunity, not theirs. Returns true, with the detail
 * "not scored: error status N", when ex (may be NULL) has one; the caller then returns. */
bool score_skip_error_status(const struct exchange *ex, struct score *out);

/* Formats a detail line (truncating). */
void score_detail(struct score *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends one item to the detail, "; " between items. *used is the detail's length so far (0
 * for an empty detail). Returns false, appending nothing, when the item would leave less than
 * SCORE_DETAIL_RESERVE bytes: the caller counts it among the ones not shown. */
bool score_append(struct score *out, size_t *used, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The findings of a scorer that counts them (pii, secrets): each one a defect, listed in the
 * detail as far as it holds them. */
struct score_list {
    struct score *out;
    size_t used;    /* bytes of out->detail */
    size_t n;       /* findings added */
    size_t n_shown; /* of which in the detail */
};

/* Starts an empty list in out (reset: see score_reset()). */
void score_list_init(struct score_list *l, struct score *out);

/* Counts one finding and appends it to the detail when it fits. */
void score_list_add(struct score_list *l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Ends the verdict: applicable as given, a defect when there are findings, score their number;
 * the detail is none when there are none, else the list, closed by "; +N more" when some did not
 * fit. */
void score_list_close(struct score_list *l, bool applicable, const char *none);

#endif
