/* The evaluation side's thread: takes completed captures from the capture queue, off the hot path.
 * For now it accounts for them (count, bytes, outcome); scorers and the Six-Sigma tracker plug in
 * here (issue #3). */
#ifndef SIGMAPROXY_PROXY_EVALUATOR_H
#define SIGMAPROXY_PROXY_EVALUATOR_H

#include <stdint.h>

#include "core/err.h"
#include "core/queue.h"

struct evaluator;

struct evaluator_stats {
    uint64_t n_evaluated;    /* captures taken from the queue */
    uint64_t n_complete;     /* of which the exchange completed */
    uint64_t captured_bytes; /* response body bytes captured */
    uint64_t n_truncated;    /* captures whose body exceeded the capture cap */
    uint64_t n_abandoned;    /* left in the queue past the stop deadline */
};

/* Main thread. Returns a new evaluator reading from captures (which must outlive it), or NULL. */
struct evaluator *evaluator_start(struct queue *captures, struct err *err);
/* Main thread: closes the queue, evaluates what is left until deadline_ms, joins, frees. Returns
 * how many captures were released unevaluated because the deadline passed. */
uint64_t evaluator_stop(struct evaluator *ev, int deadline_ms);

/* Any thread. */
void evaluator_get_stats(struct evaluator *ev, struct evaluator_stats *out);

#endif
