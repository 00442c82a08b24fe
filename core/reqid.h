/* Request ids: 32 lowercase hex digits, unique per process and, with overwhelming probability,
 * across processes and restarts. One generator per thread; no locking. */
#ifndef SIGMAPROXY_CORE_REQID_H
#define SIGMAPROXY_CORE_REQID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define REQID_LEN     32  /* a generated id */
#define REQID_MAX_LEN 128 /* a client's id longer than this is replaced */

struct reqid {
    uint64_t prefix;  /* random per generator */
    uint64_t key;     /* random per generator: scrambles the counter */
    uint64_t counter; /* ids made so far */
};

/* Seeds from getrandom(2) (falls back to time and address bits when unavailable). */
void reqid_init(struct reqid *g);
/* Seeds deterministically (tests). */
void reqid_init_seeded(struct reqid *g, uint64_t prefix, uint64_t key);

/* Writes a fresh id and its NUL into out (REQID_LEN + 1 bytes). */
void reqid_next(struct reqid *g, char out[REQID_LEN + 1]);

/* True when a client-supplied id may be echoed and logged as is: 1..REQID_MAX_LEN bytes of
 * visible ASCII other than quotes and backslash (it goes into logs and JSON). */
bool reqid_is_acceptable(const char *id);

#endif
