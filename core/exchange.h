/* One captured exchange: a client request and its upstream response, as the evaluation side sees
 * it. Made on a loop thread only for exchanges chosen for evaluation, filled while the exchange
 * runs, then handed (with its reference) through the capture queue; read-only after that.
 * Never holds an Authorization or x-api-key value. */
#ifndef SIGMAPROXY_CORE_EXCHANGE_H
#define SIGMAPROXY_CORE_EXCHANGE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/reqid.h"

enum exchange_outcome {
    EXCHANGE_COMPLETE = 0,   /* the whole upstream response reached the client */
    EXCHANGE_UPSTREAM_ERROR, /* connect failure, reset, malformed response (502) */
    EXCHANGE_TIMEOUT,        /* connect, first-byte, idle or total deadline (504) */
    EXCHANGE_CLIENT_ABORT,   /* the client went away first */
    EXCHANGE_REFUSED,        /* the proxy answered itself (413, 400, 404) */
};

/* Why an exchange was captured. Rate-sampled ones are the unbiased estimate; error captures
 * (5xx, 429, timeouts, unreachable upstream) are always taken and counted apart (SIXSIGMA §13). */
enum exchange_sampled_by {
    EXCHANGE_SAMPLED_RATE = 0,
    EXCHANGE_SAMPLED_FORCED, /* x-sigmaproxy-sample: always */
    EXCHANGE_SAMPLED_ERROR,  /* not chosen, but the upstream failed */
};

/* "complete", "upstream_error", "timeout", "client_abort" or "refused". */
const char *exchange_outcome_name(enum exchange_outcome outcome);

/* "rate", "forced" or "error" (SPEC's sampled_by). */
const char *exchange_sampled_by_name(enum exchange_sampled_by by);

struct exchange {
    atomic_int refs;
    char id[REQID_MAX_LEN + 1];
    char method[16];
    char *uri;      /* path and query as the client sent them */
    char *upstream; /* upstream name */
    enum exchange_sampled_by sampled_by;

    char *request_body; /* may be NULL when empty */
    size_t request_body_len;

    int status;               /* sent to the client; 0 if none was */
    struct buf response_head; /* "name: value\n" lines of the response, hop-by-hop removed */
    struct buf response_body; /* raw upstream bytes, up to the capture cap */
    uint64_t response_bytes;  /* all body bytes relayed, captured or not */
    bool response_truncated;  /* response_body holds a prefix only */
    enum exchange_outcome outcome;
    char detail[128]; /* why, for outcomes other than COMPLETE */

    int64_t start_unix_ms; /* wall clock at arrival */
    int64_t start_us;      /* CLOCK_MONOTONIC at arrival */
    int64_t first_byte_us; /* first upstream response byte; 0 if none */
    int64_t end_us;        /* exchange finished */
};

/* Returns a new exchange with one reference; capture_max_bytes caps response_body. */
struct exchange *exchange_new(const char *id, size_t capture_max_bytes);
void exchange_retain(struct exchange *ex);
/* Drops a reference; the last one frees. NULL does nothing. */
void exchange_release(struct exchange *ex);

/* Returns a new string (free()): the values of every `name:` line of the captured response head
 * (any case) joined with ", "; NULL when there is none. */
char *exchange_header(const struct exchange *ex, const char *name);

/* Appends body bytes, keeping at most the cap and counting the rest. */
void exchange_add_body(struct exchange *ex, const void *data, size_t len);

/* CLOCK_MONOTONIC in microseconds. */
int64_t exchange_now_us(void);

#endif
