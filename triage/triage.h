/* The triage writer: flagged items (JSON text, SPEC "Triage queue") go to a Redis stream with
 * XADD ... MAXLEN ~ N, or to the spool while Redis is away, and come out of the spool in order
 * once it is back. triage_submit() is called by the evaluator (and the admin thread); one triage
 * thread owns the Redis connection and the spool. With no Redis configured (redis_url ""),
 * there is no triage queue: items are counted as flagged and dropped (reason redis_off), and the
 * spool is left alone. */
#ifndef SIGMAPROXY_TRIAGE_TRIAGE_H
#define SIGMAPROXY_TRIAGE_TRIAGE_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/err.h"
#include "triage/spool.h"

#define TRIAGE_STREAM         "sigmaproxy:flagged"
#define TRIAGE_MAX_ITEM_BYTES (16u << 20) /* larger items are dropped (too_large) */
#define TRIAGE_BATCH_MAX      64          /* XADDs pipelined in one round trip ... */
#define TRIAGE_BATCH_BYTES    (1u << 20)  /* ... and their items' bytes, about (one at least) */
#define TRIAGE_BACKOFF_MIN_MS 100         /* reconnect delay after a failure, doubling ... */
#define TRIAGE_BACKOFF_MAX_MS 2000        /* ... up to this */
#define TRIAGE_TIMEOUT_MS     1000        /* default connect and command timeout */

/* Why a flagged item did not reach Redis. */
enum triage_drop {
    TRIAGE_DROP_REDIS_OFF = 0, /* no Redis configured: no triage queue */
    TRIAGE_DROP_SPOOL_CAP,     /* lost with the oldest spool segments at spool_max_bytes */
    TRIAGE_DROP_SPOOL_ERROR,   /* Redis away and the spool could not take it (unusable dir, disk) */
    TRIAGE_DROP_TORN,          /* a torn spool record (a crash mid-write), skipped on replay */
    TRIAGE_DROP_CORRUPT,       /* a spool record failing its CRC, skipped on replay */
    TRIAGE_DROP_TOO_LARGE,     /* over TRIAGE_MAX_ITEM_BYTES */
    TRIAGE_DROP_STOPPED,       /* submitted once triage_stop() had begun */
    TRIAGE_DROP_N,
};

enum triage_redis {
    TRIAGE_REDIS_OFF = 0, /* not configured */
    TRIAGE_REDIS_DOWN,    /* configured, not connected (reconnecting with backoff) */
    TRIAGE_REDIS_UP,
};

struct triage_config {
    const char *redis_url; /* redis://...; NULL or "": Redis off */
    const char *stream;    /* NULL: TRIAGE_STREAM */
    long maxlen;           /* XADD MAXLEN ~ maxlen; 0: no trimming */
    int queue_len;         /* items waiting for the triage thread; a full queue blocks submit */
    int timeout_ms;        /* connect and each command; 0: TRIAGE_TIMEOUT_MS */
    struct spool_config spool;
};

struct triage_stats {
    uint64_t n_flagged;  /* items submitted */
    uint64_t n_written;  /* written to Redis straight from the queue */
    uint64_t n_spooled;  /* appended to the spool */
    uint64_t n_replayed; /* written to Redis from the spool */
    uint64_t n_dropped[TRIAGE_DROP_N];
    uint64_t spool_bytes;
    uint64_t spool_items; /* in the spool, not yet acknowledged by Redis */
    uint64_t queue_depth;
    enum triage_redis redis;
};

struct triage;

/* Main thread. Starts the triage thread (none when Redis is off) and opens the spool, whose
 * leftover records are replayed first once Redis answers; a spool that cannot be opened is
 * logged and retried, never fatal. cfg's strings are copied. Returns a new triage, or NULL with
 * err (a bad redis_url, no thread). */
struct triage *triage_start(const struct triage_config *cfg, struct err *err);

/* Main thread, after every submitter stopped. Writes what is queued to Redis (connected and with
 * an empty spool) or else to the spool, switching to the spool alone once deadline_ms passed;
 * syncs and closes the spool, joins, frees. NULL does nothing. */
void triage_stop(struct triage *t, int deadline_ms);

/* Any thread but the triage thread. Takes ownership of item (a NUL-terminated JSON object, from
 * malloc), on success and on failure. Waits while the queue is full (never for Redis itself).
 * Returns 0, or -1 when the item was dropped (counted by reason). t may be NULL: item is freed. */
int triage_submit(struct triage *t, char *item);

/* Any thread. */
void triage_get_stats(struct triage *t, struct triage_stats *out);
/* Returns a new JSON object: the counters, drops by reason, spool and Redis state. */
json_t *triage_stats_json(struct triage *t);
/* Appends the sigmaproxy_triage_* metrics in Prometheus text to out. */
void triage_metrics(struct triage *t, struct buf *out);

const char *triage_drop_name(enum triage_drop d);
const char *triage_redis_name(enum triage_redis r);

#endif
