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

/* Formats a detail line (truncating). */
void score_detail(struct score *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
