/* Counters of one event loop. Each is written only by its loop thread (relaxed atomic
 * load + store, no locked instruction) and read by the admin thread, which sums the loops. */
#ifndef SIGMAPROXY_PROXY_STATS_H
#define SIGMAPROXY_PROXY_STATS_H

#include <stdatomic.h>
#include <stdint.h>

#define STATS_FIELDS(X)                                                                            \
    X(requests)      /* requests received (a head was parsed) */                                   \
    X(responses_1xx) /* responses sent, by status class */                                         \
    X(responses_2xx)                                                                               \
    X(responses_3xx)                                                                               \
    X(responses_4xx)                                                                               \
    X(responses_5xx)                                                                               \
    X(upstream_errors)   /* 502 made by the proxy: unreachable, reset, malformed */                \
    X(upstream_timeouts) /* 504 made by the proxy, or a stream cut by a deadline */                \
    X(body_too_large)    /* 413 */                                                                 \
    X(bad_requests)      /* 400 / 404 made by the proxy */                                         \
    X(client_aborts)     /* the client left before the response ended */                           \
    X(upstream_pauses)   /* a slow client paused the upstream transfer (backpressure) */           \
    X(captured)          /* exchanges handed to the evaluator */                                   \
    X(capture_dropped)   /* captures dropped: the evaluator queue was full */                      \
    X(request_bytes)     /* request body bytes forwarded */                                        \
    X(response_bytes)    /* response body bytes relayed */

#define STATS_MAX_ROUTES 32 /* = CONFIG_MAX_UPSTREAMS */
#define STATS_BUCKETS    19 /* histogram buckets, the last one +Inf */

/* Upper bounds of the histogram buckets, in seconds (Prometheus `le`). */
static const double stats_bucket_le[STATS_BUCKETS - 1] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
    0.1,    0.25,    0.5,    1,     2.5,    5,     10,   30,    60,
};

struct stats_hist {
    _Atomic uint64_t counts[STATS_BUCKETS]; /* not cumulative */
    _Atomic uint64_t sum_us;
};

struct stats {
#define STATS_DECLARE(name) _Atomic uint64_t name;
    STATS_FIELDS(STATS_DECLARE)
#undef STATS_DECLARE
    _Atomic int64_t inflight; /* exchanges between request head and completion */
    /* Responses by route (config order) and status class 1xx..5xx. */
    _Atomic uint64_t by_route[STATS_MAX_ROUTES][5];
    struct stats_hist upstream_latency; /* transfer start to upstream's last byte */
    struct stats_hist ttft;             /* transfer start to upstream's first byte */
    struct stats_hist overhead;         /* request complete to transfer start, plus upstream's
                                         * last byte to the client's last byte */
};

struct stats_hist_snapshot {
    uint64_t counts[STATS_BUCKETS];
    uint64_t sum_us;
};

/* A plain copy, for summing and printing. */
struct stats_snapshot {
#define STATS_DECLARE(name) uint64_t name;
    STATS_FIELDS(STATS_DECLARE)
#undef STATS_DECLARE
    int64_t inflight;
    uint64_t by_route[STATS_MAX_ROUTES][5];
    struct stats_hist_snapshot upstream_latency, ttft, overhead;
};

/* Owner thread only. */
static inline void stats_add(_Atomic uint64_t *counter, uint64_t n)
{
    atomic_store_explicit(counter, atomic_load_explicit(counter, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

/* Owner thread: one observation of us microseconds. */
static inline void stats_observe(struct stats_hist *h, int64_t us)
{
    double s = (double)us / 1e6;
    int i = 0;
    while (i < STATS_BUCKETS - 1 && s > stats_bucket_le[i])
        i++;
    stats_add(&h->counts[i], 1);
    stats_add(&h->sum_us, us > 0 ? (uint64_t)us : 0);
}

static inline void stats_hist_accumulate(struct stats_hist_snapshot *sum,
                                         const struct stats_hist *h)
{
    for (int i = 0; i < STATS_BUCKETS; i++)
        sum->counts[i] += atomic_load_explicit(&h->counts[i], memory_order_relaxed);
    sum->sum_us += atomic_load_explicit(&h->sum_us, memory_order_relaxed);
}

/* Any thread: adds s into sum. */
static inline void stats_accumulate(struct stats_snapshot *sum, const struct stats *s)
{
#define STATS_SUM(name) sum->name += atomic_load_explicit(&s->name, memory_order_relaxed);
    STATS_FIELDS(STATS_SUM)
#undef STATS_SUM
    sum->inflight += atomic_load_explicit(&s->inflight, memory_order_relaxed);
    for (int r = 0; r < STATS_MAX_ROUTES; r++) {
        for (int c = 0; c < 5; c++)
            sum->by_route[r][c] += atomic_load_explicit(&s->by_route[r][c], memory_order_relaxed);
    }
    stats_hist_accumulate(&sum->upstream_latency, &s->upstream_latency);
    stats_hist_accumulate(&sum->ttft, &s->ttft);
    stats_hist_accumulate(&sum->overhead, &s->overhead);
}

#endif
