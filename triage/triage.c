/* The triage thread: queue -> Redis stream, or the spool while Redis is away; spool -> Redis.
 *
 * DESIGN: one thread owns the hiredis context and the spool, so neither needs a lock; submitters
 * only push onto a bounded queue (the evaluator may wait there; traffic never reaches it). Items
 * reach the stream in the order they were submitted: an item goes straight to Redis only while
 * the spool is empty, otherwise it is appended to the spool behind the older ones, and the spool
 * is replayed in batches, each acknowledged (its segments deleted) only once Redis answered every
 * XADD of it. Any failed command (timeout, reset, error reply) drops the connection: what Redis
 * did not acknowledge goes (back) to the spool, and reconnecting waits TRIAGE_BACKOFF_MIN_MS,
 * doubling up to TRIAGE_BACKOFF_MAX_MS. A round trip carries up to TRIAGE_BATCH_MAX pipelined
 * XADDs, so under load one round trip serves many items. Delivery is at least once: a reply lost
 * after Redis applied the XADD means a second copy later, with the same id. */
#include "triage/triage.h"

#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis.h>

#include "core/queue.h"
#include "core/xalloc.h"
#include "triage/redis.h"

#define LOG_MODULE "triage"
#include "core/log.h"

#define TRIAGE_TICK_MS        100   /* idle wake-up: reconnect, replay, interval fsync */
#define TRIAGE_SPOOL_RETRY_MS 10000 /* an unusable spool directory is tried again this often */
#define TRIAGE_LOG_EVERY_MS   60000 /* a repeated failure is logged once per this, with a count */
#define TRIAGE_QUEUE_LEN      1024

static const char *const drop_names[TRIAGE_DROP_N] = {
    "redis_off", "spool_cap", "spool_error", "torn", "corrupt", "too_large", "stopped",
};

struct triage {
    bool enabled;
    struct redis_url url;
    char *stream;
    char maxlen[24]; /* "" when not trimming */
    int timeout_ms;
    struct spool_config spool_cfg; /* dir owned */
    struct queue *queue;
    pthread_t thread;
    bool has_thread;
    atomic_bool stopping;
    atomic_llong deadline_ms; /* set by triage_stop: past it, the queue goes to the spool */

    /* Triage thread only (and main before the thread starts / after it ends). */
    redisContext *redis; /* NULL while down */
    int backoff_ms;
    int64_t next_connect_ms;
    uint64_t n_connect_failures; /* since the last success */
    int64_t connect_logged_ms;
    struct spool *spool; /* NULL while the directory is unusable */
    int64_t spool_retry_ms;
    int64_t spool_logged_ms;   /* last "spool unusable / append failed" error */
    uint64_t n_spool_failures; /* since that line */
    uint64_t bad_logged;       /* torn + corrupt records already logged */
    uint64_t cap_logged;       /* cap drops already logged */
    bool replaying;            /* for the "replay done" line */
    uint64_t replay_count;

    pthread_mutex_t lock; /* guards stats; held for a copy only */
    struct triage_stats stats;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void add(struct triage *t, uint64_t *counter, uint64_t n)
{
    pthread_mutex_lock(&t->lock);
    *counter += n;
    pthread_mutex_unlock(&t->lock);
}

static void set_redis_state(struct triage *t, enum triage_redis state)
{
    pthread_mutex_lock(&t->lock);
    t->stats.redis = state;
    pthread_mutex_unlock(&t->lock);
}

static bool past_deadline(struct triage *t)
{
    long long d = atomic_load(&t->deadline_ms);
    return d != 0 && now_ms() > d;
}

/* ---- the spool ---- */

static bool spool_ready(struct triage *t)
{
    if (t->spool) return true;
    if (now_ms() < t->spool_retry_ms) return false;
    struct err err = {{0}};
    t->spool = spool_open(&t->spool_cfg, &err);
    if (t->spool) {
        log_info("spool %s usable again", t->spool_cfg.dir);
        return true;
    }
    t->spool_retry_ms = now_ms() + TRIAGE_SPOOL_RETRY_MS;
    if (now_ms() - t->spool_logged_ms >= TRIAGE_LOG_EVERY_MS) {
        t->spool_logged_ms = now_ms();
        log_error("%s; flagged items are lost while Redis is away", err.msg);
    }
    return false;
}

static bool spool_is_empty(const struct triage *t)
{
    return t->spool == NULL || spool_pending(t->spool) == 0;
}

static void spool_item(struct triage *t, const char *item, size_t len)
{
    struct err err = {{0}};
    if (!spool_ready(t)) {
        add(t, &t->stats.n_dropped[TRIAGE_DROP_SPOOL_ERROR], 1);
        return;
    }
    if (spool_append(t->spool, item, len, &err) < 0) {
        add(t, &t->stats.n_dropped[TRIAGE_DROP_SPOOL_ERROR], 1);
        t->n_spool_failures++;
        if (now_ms() - t->spool_logged_ms >= TRIAGE_LOG_EVERY_MS) {
            t->spool_logged_ms = now_ms();
            log_error("flagged item lost (%llu so far): %s",
                      (unsigned long long)t->n_spool_failures, err.msg);
        }
        return;
    }
    add(t, &t->stats.n_spooled, 1);
}

/* ---- Redis ---- */

static void disconnect(struct triage *t, const char *why)
{
    redisFree(t->redis);
    t->redis = NULL;
    t->backoff_ms = TRIAGE_BACKOFF_MIN_MS;
    t->next_connect_ms = now_ms() + t->backoff_ms;
    t->n_connect_failures = 1; /* the loss is logged here: failed reconnects are repeats */
    t->connect_logged_ms = now_ms();
    set_redis_state(t, TRIAGE_REDIS_DOWN);
    log_warn("redis lost (%s): flagged items go to the spool", why);
}

static void connect_redis(struct triage *t)
{
    if (t->redis || now_ms() < t->next_connect_ms) return;
    struct err err = {{0}};
    t->redis = redis_connect(&t->url, t->timeout_ms, &err);
    if (t->redis == NULL) {
        t->next_connect_ms = now_ms() + t->backoff_ms;
        t->backoff_ms =
            t->backoff_ms * 2 < TRIAGE_BACKOFF_MAX_MS ? t->backoff_ms * 2 : TRIAGE_BACKOFF_MAX_MS;
        if (t->n_connect_failures++ == 0) {
            t->connect_logged_ms = now_ms();
            log_warn("redis unreachable (%s): flagged items go to the spool", err.msg);
        } else if (now_ms() - t->connect_logged_ms >= TRIAGE_LOG_EVERY_MS) {
            t->connect_logged_ms = now_ms();
            log_warn("redis still unreachable after %llu attempts (%s)",
                     (unsigned long long)t->n_connect_failures, err.msg);
        }
        return;
    }
    t->backoff_ms = TRIAGE_BACKOFF_MIN_MS;
    t->n_connect_failures = 0;
    set_redis_state(t, TRIAGE_REDIS_UP);
    log_info("redis up at %s:%d, stream %s", t->url.host, t->url.port, t->stream);
}

/* Sends n XADDs in one pipeline. Returns how many, from the first, Redis acknowledged with an
 * entry id; when fewer than n, err says why. */
static size_t xadd(struct triage *t, char *const *items, const size_t *lens, size_t n,
                   struct err *err)
{
    const char *argv[8];
    size_t argvlen[8];
    int argc = 0;
    argv[argc] = "XADD";
    argvlen[argc++] = 4;
    argv[argc] = t->stream;
    argvlen[argc++] = strlen(t->stream);
    if (t->maxlen[0] != '\0') {
        argv[argc] = "MAXLEN";
        argvlen[argc++] = 6;
        argv[argc] = "~";
        argvlen[argc++] = 1;
        argv[argc] = t->maxlen;
        argvlen[argc++] = strlen(t->maxlen);
    }
    argv[argc] = "*";
    argvlen[argc++] = 1;
    argv[argc] = "item";
    argvlen[argc++] = 4;
    for (size_t i = 0; i < n; i++) {
        argv[argc] = items[i];
        argvlen[argc] = lens[i];
        if (redisAppendCommandArgv(t->redis, argc + 1, argv, argvlen) != REDIS_OK) {
            err_set(err, "XADD: %s", t->redis->errstr);
            return 0;
        }
    }
    size_t acked = 0;
    bool failed = false;
    for (size_t i = 0; i < n; i++) {
        void *r = NULL;
        if (redisGetReply(t->redis, &r) != REDIS_OK || r == NULL) {
            if (!failed) err_set(err, "%s", t->redis->errstr[0] ? t->redis->errstr : "no reply");
            break;
        }
        redisReply *reply = r;
        if (reply->type == REDIS_REPLY_STRING && !failed) {
            acked++;
        } else if (!failed) {
            failed = true;
            err_set(err, "XADD: %s",
                    reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply type");
        }
        freeReplyObject(reply);
    }
    return acked;
}

/* New items, oldest first: to Redis while it is up and the spool empty, else to the spool. */
static void deliver(struct triage *t, char *const *items, const size_t *lens, size_t n)
{
    size_t done = 0;
    if (t->redis && spool_is_empty(t) && !past_deadline(t)) {
        struct err err = {{0}};
        done = xadd(t, items, lens, n, &err);
        add(t, &t->stats.n_written, done);
        if (done < n) disconnect(t, err.msg);
    }
    for (size_t i = done; i < n; i++)
        spool_item(t, items[i], lens[i]);
}

/* One batch from the spool to Redis; acknowledged only as far as Redis answered. Returns true
 * when Redis acknowledged something (more may follow at once). */
static bool replay(struct triage *t)
{
    if (t->redis == NULL || t->spool == NULL || spool_pending(t->spool) == 0) return false;
    struct spool_record recs[TRIAGE_BATCH_MAX];
    char *items[TRIAGE_BATCH_MAX];
    size_t lens[TRIAGE_BATCH_MAX];
    struct err err = {{0}};
    size_t n = 0, bytes = 0;
    int rc = 0;
    if (!t->replaying) {
        t->replaying = true;
        t->replay_count = 0;
        log_info("replaying %llu spooled item%s", (unsigned long long)spool_pending(t->spool),
                 spool_pending(t->spool) == 1 ? "" : "s");
    }
    while (n < TRIAGE_BATCH_MAX && bytes < TRIAGE_BATCH_BYTES &&
           (rc = spool_read(t->spool, &recs[n], &err)) == 1) {
        items[n] = recs[n].data;
        lens[n] = recs[n].len;
        bytes += lens[n++];
    }
    if (rc < 0 && now_ms() - t->spool_logged_ms >= TRIAGE_LOG_EVERY_MS) {
        t->spool_logged_ms = now_ms();
        log_error("spool replay: %s", err.msg);
    }
    size_t done = n > 0 ? xadd(t, items, lens, n, &err) : 0;
    if (done > 0) {
        struct err ack_err = {{0}};
        if (spool_ack(t->spool, &recs[done - 1], &ack_err) < 0) log_error("%s", ack_err.msg);
        add(t, &t->stats.n_replayed, done);
        t->replay_count += done;
    }
    if (done < n) {
        spool_rewind(t->spool);
        disconnect(t, err.msg);
    }
    for (size_t i = 0; i < n; i++)
        spool_record_fini(&recs[i]);
    if (spool_pending(t->spool) == 0) {
        t->replaying = false;
        log_info("spool replayed: %llu item%s delivered", (unsigned long long)t->replay_count,
                 t->replay_count == 1 ? "" : "s");
    }
    return done > 0;
}

/* Copies the spool's figures into the stats, and logs what it lost since the last look. */
static void refresh_stats(struct triage *t)
{
    struct spool_stats ss = {0};
    if (t->spool) {
        struct err err = {{0}};
        if (spool_sync(t->spool, &err) < 0) log_warn("%s", err.msg);
        spool_get_stats(t->spool, &ss);
    }
    pthread_mutex_lock(&t->lock);
    t->stats.spool_bytes = ss.bytes;
    t->stats.spool_items = ss.n_pending;
    if (t->spool) {
        t->stats.n_dropped[TRIAGE_DROP_SPOOL_CAP] = ss.n_dropped;
        t->stats.n_dropped[TRIAGE_DROP_TORN] = ss.n_torn;
        t->stats.n_dropped[TRIAGE_DROP_CORRUPT] = ss.n_corrupt;
    }
    pthread_mutex_unlock(&t->lock);
    if (ss.n_torn + ss.n_corrupt > t->bad_logged) {
        t->bad_logged = ss.n_torn + ss.n_corrupt;
        log_warn("spool: skipped %llu torn and %llu corrupt records in all",
                 (unsigned long long)ss.n_torn, (unsigned long long)ss.n_corrupt);
    }
    if (ss.n_dropped > t->cap_logged &&
        (t->cap_logged == 0 || now_ms() - t->spool_logged_ms >= TRIAGE_LOG_EVERY_MS)) {
        t->cap_logged = ss.n_dropped;
        t->spool_logged_ms = now_ms();
        log_error("spool full (spool_max_bytes %zu): %llu oldest items dropped in all",
                  t->spool_cfg.max_bytes, (unsigned long long)ss.n_dropped);
    }
}

static void *run(void *arg)
{
    struct triage *t = arg;
    char *items[TRIAGE_BATCH_MAX];
    size_t lens[TRIAGE_BATCH_MAX];
    bool replaying = false; /* the last replay made progress: go on without waiting */
    for (;;) {
        bool stopping = atomic_load(&t->stopping);
        size_t n = 0, bytes = 0;
        char *item = queue_pop(t->queue, replaying && !stopping ? 0 : TRIAGE_TICK_MS);
        while (item != NULL) {
            items[n] = item;
            lens[n] = strlen(item);
            bytes += lens[n];
            if (++n == TRIAGE_BATCH_MAX || bytes >= TRIAGE_BATCH_BYTES) break;
            item = queue_pop(t->queue, 0);
        }
        /* Stopping: no new connection (it could take a timeout); what is left goes to the spool
         * unless Redis is already up. */
        if (!stopping) connect_redis(t);
        if (n > 0) deliver(t, items, lens, n);
        for (size_t i = 0; i < n; i++)
            free(items[i]);
        replaying = !stopping && replay(t);
        refresh_stats(t);
        if (n == 0 && stopping && queue_depth(t->queue) == 0) break;
    }
    return NULL;
}

/* ---- lifecycle ---- */

struct triage *triage_start(const struct triage_config *cfg, struct err *err)
{
    struct triage *t = xcalloc(1, sizeof(*t));
    pthread_mutex_init(&t->lock, NULL);
    atomic_init(&t->stopping, false);
    atomic_init(&t->deadline_ms, 0);
    t->enabled = cfg->redis_url != NULL && cfg->redis_url[0] != '\0';
    t->stream = xstrdup(cfg->stream ? cfg->stream : TRIAGE_STREAM);
    if (cfg->maxlen > 0) snprintf(t->maxlen, sizeof(t->maxlen), "%ld", cfg->maxlen);
    t->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : TRIAGE_TIMEOUT_MS;
    t->spool_cfg = cfg->spool;
    t->spool_cfg.dir = xstrdup(cfg->spool.dir ? cfg->spool.dir : "");
    t->backoff_ms = TRIAGE_BACKOFF_MIN_MS;
    t->stats.redis = t->enabled ? TRIAGE_REDIS_DOWN : TRIAGE_REDIS_OFF;
    if (!t->enabled) {
        log_info("redis off: flagged items are counted and logged, not queued for triage");
        return t;
    }
    if (redis_url_parse(cfg->redis_url, &t->url, err) < 0) goto fail;
    t->queue = queue_new(cfg->queue_len > 0 ? (size_t)cfg->queue_len : TRIAGE_QUEUE_LEN);
    struct err spool_err = {{0}};
    t->spool = spool_open(&t->spool_cfg, &spool_err);
    if (t->spool == NULL) {
        t->spool_retry_ms = now_ms() + TRIAGE_SPOOL_RETRY_MS;
        t->spool_logged_ms = now_ms();
        log_error("%s; flagged items are lost while Redis is away (retried every %d s)",
                  spool_err.msg, TRIAGE_SPOOL_RETRY_MS / 1000);
    } else if (spool_pending(t->spool) > 0) {
        log_info("spool %s holds %llu item%s from an earlier run: replayed once Redis answers",
                 t->spool_cfg.dir, (unsigned long long)spool_pending(t->spool),
                 spool_pending(t->spool) == 1 ? "" : "s");
    }
    refresh_stats(t);
    int rc = pthread_create(&t->thread, NULL, run, t);
    if (rc != 0) {
        err_set(err, "triage: pthread_create: %s", strerror(rc));
        goto fail;
    }
    t->has_thread = true;
    return t;
fail:
    spool_close(t->spool);
    queue_free(t->queue);
    free((char *)t->spool_cfg.dir);
    free(t->stream);
    pthread_mutex_destroy(&t->lock);
    free(t);
    return NULL;
}

void triage_stop(struct triage *t, int deadline_ms)
{
    if (t == NULL) return;
    if (t->has_thread) {
        atomic_store(&t->deadline_ms, now_ms() + deadline_ms);
        atomic_store(&t->stopping, true);
        queue_close(t->queue);
        pthread_join(t->thread, NULL);
    }
    if (t->queue) { /* a submit that raced the stop */
        char *item;
        while ((item = queue_pop(t->queue, 0)) != NULL) {
            free(item);
            t->stats.n_dropped[TRIAGE_DROP_STOPPED]++;
        }
    }
    struct triage_stats st = t->stats; /* the thread is gone: no lock needed */
    if (t->enabled)
        log_info("triage stopped: %llu flagged, %llu written, %llu replayed, %llu in the spool",
                 (unsigned long long)st.n_flagged, (unsigned long long)st.n_written,
                 (unsigned long long)st.n_replayed, (unsigned long long)st.spool_items);
    if (t->redis) redisFree(t->redis);
    spool_close(t->spool);
    queue_free(t->queue);
    free((char *)t->spool_cfg.dir);
    free(t->stream);
    pthread_mutex_destroy(&t->lock);
    free(t);
}

int triage_submit(struct triage *t, char *item)
{
    if (t == NULL) {
        free(item);
        return -1;
    }
    assert(item[0] != '\0');
    enum triage_drop why = TRIAGE_DROP_N;
    if (!t->enabled)
        why = TRIAGE_DROP_REDIS_OFF;
    else if (strlen(item) > TRIAGE_MAX_ITEM_BYTES)
        why = TRIAGE_DROP_TOO_LARGE;
    else if (atomic_load(&t->stopping) || queue_push(t->queue, item, -1) < 0)
        why = TRIAGE_DROP_STOPPED;
    pthread_mutex_lock(&t->lock);
    t->stats.n_flagged++;
    if (why != TRIAGE_DROP_N) t->stats.n_dropped[why]++;
    pthread_mutex_unlock(&t->lock);
    if (why == TRIAGE_DROP_N) return 0;
    free(item);
    return -1;
}

/* ---- figures ---- */

const char *triage_drop_name(enum triage_drop d)
{
    return d < TRIAGE_DROP_N ? drop_names[d] : "unknown";
}

const char *triage_redis_name(enum triage_redis r)
{
    return r == TRIAGE_REDIS_UP ? "up" : r == TRIAGE_REDIS_DOWN ? "down" : "off";
}

void triage_get_stats(struct triage *t, struct triage_stats *out)
{
    size_t depth = t->queue ? queue_depth(t->queue) : 0;
    pthread_mutex_lock(&t->lock);
    *out = t->stats;
    pthread_mutex_unlock(&t->lock);
    out->queue_depth = depth;
}

json_t *triage_stats_json(struct triage *t)
{
    struct triage_stats st;
    triage_get_stats(t, &st);
    json_t *dropped = json_object();
    for (int i = 0; i < TRIAGE_DROP_N; i++)
        json_object_set_new(dropped, drop_names[i], json_integer((json_int_t)st.n_dropped[i]));
    return json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:o, s:I, s:I, s:I}", "redis",
                     triage_redis_name(st.redis), "stream", t->stream, "flagged",
                     (json_int_t)st.n_flagged, "written", (json_int_t)st.n_written, "spooled",
                     (json_int_t)st.n_spooled, "replayed", (json_int_t)st.n_replayed, "dropped",
                     dropped, "spool_bytes", (json_int_t)st.spool_bytes, "spool_items",
                     (json_int_t)st.spool_items, "queue_depth", (json_int_t)st.queue_depth);
}

static void metric(struct buf *b, const char *name, const char *type, const char *help,
                   const char *labels, uint64_t value)
{
    char line[512];
    int n;
    if (type) {
        n = snprintf(line, sizeof(line), "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
        buf_append(b, line, (size_t)n);
    }
    n = snprintf(line, sizeof(line), "%s%s %llu\n", name, labels ? labels : "",
                 (unsigned long long)value);
    buf_append(b, line, (size_t)n);
}

void triage_metrics(struct triage *t, struct buf *out)
{
    struct triage_stats st;
    triage_get_stats(t, &st);
    metric(out, "sigmaproxy_triage_flagged_total", "counter",
           "Flagged items handed to the triage writer.", NULL, st.n_flagged);
    metric(out, "sigmaproxy_triage_written_total", "counter",
           "Flagged items written to the Redis stream straight from the queue.", NULL,
           st.n_written);
    metric(out, "sigmaproxy_triage_spooled_total", "counter",
           "Flagged items appended to the spool (Redis away, or a backlog before them).", NULL,
           st.n_spooled);
    metric(out, "sigmaproxy_triage_replayed_total", "counter",
           "Spooled items written to the Redis stream.", NULL, st.n_replayed);
    for (int i = 0; i < TRIAGE_DROP_N; i++) {
        char labels[64];
        snprintf(labels, sizeof(labels), "{reason=\"%s\"}", drop_names[i]);
        metric(out, "sigmaproxy_triage_dropped_total", i == 0 ? "counter" : NULL,
               "Flagged items that will not reach Redis, by reason.", labels, st.n_dropped[i]);
    }
    metric(out, "sigmaproxy_triage_spool_bytes", "gauge", "Bytes in the spool directory.", NULL,
           st.spool_bytes);
    metric(out, "sigmaproxy_triage_spool_items", "gauge",
           "Items in the spool not yet acknowledged by Redis.", NULL, st.spool_items);
    metric(out, "sigmaproxy_triage_queue_depth", "gauge",
           "Flagged items waiting for the triage thread.", NULL, st.queue_depth);
    metric(out, "sigmaproxy_triage_redis_up", "gauge",
           "1 while the triage writer is connected to Redis.", NULL,
           st.redis == TRIAGE_REDIS_UP ? 1 : 0);
}
