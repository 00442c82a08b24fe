/* The evaluation side's threads: take completed captures from the capture queue, off the hot
 * path; recover the text (core/extract), run the route's scorers, feed the Six-Sigma tracker,
 * report state changes (log, webhook) and, with --sample-rate auto, set the sampling rate each
 * window. Flagged exchanges (any defect) are counted, logged and submitted to triage as items. */
#ifndef SIGMAPROXY_PROXY_EVALUATOR_H
#define SIGMAPROXY_PROXY_EVALUATOR_H

#include <stdint.h>

#include <jansson.h>

#include "config/config.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/queue.h"
#include "core/sampler.h"

struct evaluator;
struct triage;

struct evaluator_stats {
    uint64_t n_evaluated;    /* captures taken from the queue */
    uint64_t n_flagged;      /* with at least one defect */
    uint64_t n_parse_errors; /* responses that could not be understood */
    uint64_t n_abandoned;    /* left in the queue past the stop deadline */
    uint64_t eval_us;        /* time spent evaluating, in all */
};

/* Main thread: validates the sampling, scorer and sigma configuration (what start would refuse)
 * without starting anything: for --check-config. Returns 0 or -1 with err. */
int evaluator_check(const struct config *cfg, struct err *err);

/* Main thread. Returns a started evaluator reading captures (which, like cfg, sampler and
 * triage, must outlive it), or NULL with err. Flagged items go to triage (NULL: nowhere).
 * requests(arg) returns the requests received so far (all loops): --sample-rate auto sizes the
 * rate from it. */
struct evaluator *evaluator_start(const struct config *cfg, struct queue *captures,
                                  struct sampler *sampler, struct triage *triage,
                                  uint64_t (*requests)(void *arg), void *arg, struct err *err);
/* Main thread: closes the queue, evaluates what is left until deadline_ms, joins, frees. Returns
 * how many captures were released unevaluated because the deadline passed. */
uint64_t evaluator_stop(struct evaluator *ev, int deadline_ms);

/* Any thread. */
void evaluator_get_stats(struct evaluator *ev, struct evaluator_stats *out);
/* Returns a new JSON object: the tracker's view plus sampling (mode, rate, required n, traffic,
 * power achieved) and the scorers in use. */
json_t *evaluator_stats_json(struct evaluator *ev);
/* Appends the Six-Sigma metrics in Prometheus text to out. */
void evaluator_metrics(struct evaluator *ev, struct buf *out);

#endif
