/* Six-Sigma tracking of defect rates: per scorer and overall ("any"), for all traffic, per route
 * and per model, in fixed time windows. Each chart keeps its recent windows, judges the current
 * one against the configured baseline p0 and acceptable rate p1 (core/sigma.h) and reports a
 * state; a change of state is handed to a callback. Rate-sampled exchanges feed the estimates;
 * error captures (sampled_by=error) are counted apart so the estimates stay unbiased.
 * Written by the evaluator thread(s), read by the admin thread: one mutex, held for updates and
 * for building a snapshot, never for I/O. */
#ifndef SIGMAPROXY_CORE_TRACKER_H
#define SIGMAPROXY_CORE_TRACKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/exchange.h"
#include "core/sigma.h"

#define TRACKER_MAX_SCORERS 32

struct tracker_limits {
    double p0; /* baseline defect rate: the p-chart's centre line */
    double p1; /* acceptable rate: above it (credibly) is out_of_spec */
};

struct tracker_config {
    struct tracker_limits limits; /* for "any" and every scorer without its own */
    double alpha;                 /* false-alarm rate of the detection test (sample size) */
    double power;                 /* chance to detect p1 in one window (sample size) */
    double confidence;            /* of the Wilson intervals */
    int window_s;                 /* window length */
    int n_windows;                /* windows kept per chart (history, run rules) */
    uint64_t min_n;               /* fewer units in a window: insufficient_data; 0 = from
                                   * the detection sample size */
    double ewma_lambda;
    double ewma_L;
    double min_rate, max_rate; /* --sample-rate auto bounds */
    size_t max_models;         /* distinct models tracked; the rest count as "other" */
    int reference_windows;     /* > 0: each chart's centre becomes the pooled rate of its first
                                * N windows with data (Phase I), then stays frozen (Phase II) */
    /* Per scorer (same order as the names given to tracker_new): its own p0/p1, or NaN. */
    struct tracker_limits scorer_limits[TRACKER_MAX_SCORERS];
};

/* Fills c from the "sigma" config object (NULL: defaults) for the named scorers. Returns 0, or -1
 * with err naming the bad key ("sigma.p1: 0.5: must be above p0 (0.6)"). */
int tracker_config_parse(struct tracker_config *c, const json_t *sigma, const char *const *scorers,
                         size_t n_scorers, struct err *err);

struct tracker;

/* Returns a new tracker for n_scorers named scorers (n_scorers <= TRACKER_MAX_SCORERS; the names
 * must outlive it). Free with tracker_free(). */
struct tracker *tracker_new(const struct tracker_config *c, const char *const *scorers,
                            size_t n_scorers);
void tracker_free(struct tracker *t);

/* Evaluator thread. One evaluated exchange on route (an upstream name) for model (NULL when
 * unknown): applicable[i] / defect[i] per scorer, in creation order. */
void tracker_record(struct tracker *t, int64_t now_ms, const char *route, const char *model,
                    enum exchange_sampled_by by, const bool *applicable, const bool *defect);

/* Called for each chart whose state changed, with the chart's name ("all/any",
 * "route=openai/pii", ...) and a JSON summary (borrowed: valid during the call). */
typedef void tracker_change_fn(void *arg, const char *chart, enum sigma_state from,
                               enum sigma_state to, const json_t *summary);

/* Evaluator thread, about once a second: closes the windows whose time is over, re-judges every
 * chart and reports state changes (outside the lock). */
void tracker_tick(struct tracker *t, int64_t now_ms, tracker_change_fn *fn, void *arg);

/* Units per window needed to tell p1 from p0 (sigma_detect_n with the configured alpha and
 * power, rounded up). */
uint64_t tracker_required_n(const struct tracker *t);

/* Any thread. The /stats view: a new JSON object (caller decrefs). */
json_t *tracker_stats(struct tracker *t, int64_t now_ms);
/* Any thread. Prometheus text for every chart, appended to out. */
void tracker_metrics(struct tracker *t, int64_t now_ms, struct buf *out);

#endif
