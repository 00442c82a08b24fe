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

struct stats {
#define STATS_DECLARE(name) _Atomic uint64_t name;
    STATS_FIELDS(STATS_DECLARE)
#undef STATS_DECLARE
    _Atomic int64_t inflight; /* exchanges between request head and completion */
};

/* A plain copy, for summing and printing. */
struct stats_snapshot {
#define STATS_DECLARE(name) uint64_t name;
    STATS_FIELDS(STATS_DECLARE)
#undef STATS_DECLARE
    int64_t inflight;
};

/* Owner thread only. */
static inline void stats_add(_Atomic uint64_t *counter, uint64_t n)
{
    atomic_store_explicit(counter, atomic_load_explicit(counter, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

/* Any thread: adds s into sum. */
static inline void stats_accumulate(struct stats_snapshot *sum, const struct stats *s)
{
#define STATS_SUM(name) sum->name += atomic_load_explicit(&s->name, memory_order_relaxed);
    STATS_FIELDS(STATS_SUM)
#undef STATS_SUM
    sum->inflight += atomic_load_explicit(&s->inflight, memory_order_relaxed);
}

#endif
