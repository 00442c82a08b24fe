/* The spool: an append-only directory of segment files where flagged items wait while Redis is
 * away (format at the top of spool.c). Records are replayed in the order they were appended; a
 * segment is deleted once every record in it was acknowledged; a size cap drops the oldest
 * segments (counted). Not thread-safe: one owner, the triage thread (STYLE.md §2). */
#ifndef SIGMAPROXY_TRIAGE_SPOOL_H
#define SIGMAPROXY_TRIAGE_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define SPOOL_MAX_RECORD_BYTES (64u << 20) /* one record's payload, at most */
#define SPOOL_SEGMENT_BYTES    (4u << 20)  /* default segment size */
#define SPOOL_HEADER_BYTES     16          /* segment header: magic, version, reserved */
#define SPOOL_RECORD_OVERHEAD  8           /* per record: length and CRC-32 */
#define SPOOL_FSYNC_ALWAYS     0           /* fsync_ms: after every append */
#define SPOOL_FSYNC_NEVER      (-1)        /* fsync_ms: leave it to the kernel */

struct spool_config {
    const char *dir;      /* created (0700, parents too) when missing; copied */
    size_t segment_bytes; /* a segment takes no new record past this size; 0 = default */
    size_t max_bytes;     /* all segments together; beyond, the oldest are dropped */
    long fsync_ms;        /* SPOOL_FSYNC_ALWAYS, SPOOL_FSYNC_NEVER, or at most every N ms (N > 0:
                           * after an append once N ms passed since the last, and spool_sync) */
};

struct spool_stats {
    uint64_t bytes; /* on disk, every segment */
    uint64_t n_segments;
    uint64_t n_pending;     /* records not acknowledged yet */
    uint64_t n_appended;    /* since open */
    uint64_t n_acked;       /* since open */
    uint64_t n_dropped;     /* unacknowledged records lost with the oldest segments at the cap */
    uint64_t n_torn;        /* torn tails skipped (a crash mid-write) */
    uint64_t n_corrupt;     /* corrupt records (or segment headers) skipped */
    uint64_t n_sync_errors; /* fsyncs that failed after an append (the record was written) */
};

/* A record handed out by spool_read(). data is owned by the record. */
struct spool_record {
    char *data;
    size_t len;
    uint64_t seq;     /* its segment */
    uint64_t end_off; /* offset just past it in that segment */
    uint64_t index;   /* among the valid records of that segment, from 0 */
};

struct spool;

/* Opens the spool in cfg->dir, finding the segments a previous run left (their records come
 * first on replay; new ones go to new segments). Returns a new spool; close with spool_close(),
 * or NULL with err when the directory cannot be made, read or written. */
struct spool *spool_open(const struct spool_config *cfg, struct err *err);
/* Syncs (unless SPOOL_FSYNC_NEVER) and closes; unacknowledged records stay on disk. NULL: no-op. */
void spool_close(struct spool *sp);

/* Appends one record of len bytes (1..SPOOL_MAX_RECORD_BYTES), dropping the oldest segments
 * first when the cap would be passed. Returns 0 (a failed fsync after the write only counts in
 * n_sync_errors), or -1 with err: nothing was appended (a failed write is cut off again). */
int spool_append(struct spool *sp, const void *data, size_t len, struct err *err);

/* The interval fsync: syncs the segment being written when it is dirty and fsync_ms passed since
 * the last sync. Call it now and then. Returns 0, or -1 with err. */
int spool_sync(struct spool *sp, struct err *err);

/* Replay. Reads the next record after the last one read, oldest first, skipping (and counting)
 * torn and corrupt ones. Returns 1 with *rec filled (free with spool_record_fini()), 0 when
 * every record was read, or -1 with err (an I/O error). */
int spool_read(struct spool *sp, struct spool_record *rec, struct err *err);
void spool_record_fini(struct spool_record *rec);

/* Acknowledges rec and every record read before it; segments whose records are all acknowledged
 * are deleted. Returns 0, or -1 with err (a segment could not be deleted; it is kept). */
int spool_ack(struct spool *sp, const struct spool_record *rec, struct err *err);

/* Makes the records read but not acknowledged readable again (after a failed delivery). */
void spool_rewind(struct spool *sp);

/* Records not acknowledged yet (read or not). */
uint64_t spool_pending(const struct spool *sp);
void spool_get_stats(const struct spool *sp, struct spool_stats *out);

#endif
