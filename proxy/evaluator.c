/* Evaluator thread: pops captures (blocking on the queue's condvar), accounts for them, releases
 * them. DESIGN: it is the only consumer of the capture queue; loops never wait for it (a full
 * queue drops on their side). Its counters sit under one mutex, held for a copy only. */
#include "proxy/evaluator.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/exchange.h"
#include "core/xalloc.h"

#define LOG_MODULE "evaluator"
#include "core/log.h"

struct evaluator {
    struct queue *captures;
    pthread_t thread;
    pthread_mutex_t lock; /* guards stats */
    struct evaluator_stats stats;
    atomic_llong deadline_us; /* 0 while running; after stop, when to give up */
};

static void evaluate(struct evaluator *ev, struct exchange *ex)
{
    pthread_mutex_lock(&ev->lock);
    ev->stats.n_evaluated++;
    if (ex->outcome == EXCHANGE_COMPLETE) ev->stats.n_complete++;
    ev->stats.captured_bytes += ex->response_body.len;
    if (ex->response_truncated) ev->stats.n_truncated++;
    pthread_mutex_unlock(&ev->lock);
    log_debug("req=%s captured status=%d body=%zu/%llu bytes ttfb_us=%lld total_us=%lld", ex->id,
              ex->status, ex->response_body.len, (unsigned long long)ex->response_bytes,
              (long long)(ex->first_byte_us ? ex->first_byte_us - ex->start_us : -1),
              (long long)(ex->end_us - ex->start_us));
}

static void *run(void *arg)
{
    struct evaluator *ev = arg;
    for (;;) {
        struct exchange *ex = queue_pop(ev->captures, -1);
        if (ex == NULL) break; /* closed and empty */
        long long deadline = atomic_load(&ev->deadline_us);
        if (deadline != 0 && exchange_now_us() > deadline) {
            pthread_mutex_lock(&ev->lock);
            ev->stats.n_abandoned++;
            pthread_mutex_unlock(&ev->lock);
            exchange_release(ex);
            continue;
        }
        evaluate(ev, ex);
        exchange_release(ex);
    }
    return NULL;
}

struct evaluator *evaluator_start(struct queue *captures, struct err *err)
{
    struct evaluator *ev = xcalloc(1, sizeof(*ev));
    ev->captures = captures;
    pthread_mutex_init(&ev->lock, NULL);
    atomic_init(&ev->deadline_us, 0);
    int rc = pthread_create(&ev->thread, NULL, run, ev);
    if (rc != 0) {
        err_set(err, "evaluator: pthread_create: %s", strerror(rc));
        pthread_mutex_destroy(&ev->lock);
        free(ev);
        return NULL;
    }
    return ev;
}

uint64_t evaluator_stop(struct evaluator *ev, int deadline_ms)
{
    if (ev == NULL) return 0;
    atomic_store(&ev->deadline_us, exchange_now_us() + (long long)deadline_ms * 1000);
    queue_close(ev->captures);
    pthread_join(ev->thread, NULL);
    uint64_t abandoned = ev->stats.n_abandoned; /* the thread is gone: no lock needed */
    pthread_mutex_destroy(&ev->lock);
    free(ev);
    return abandoned;
}

void evaluator_get_stats(struct evaluator *ev, struct evaluator_stats *out)
{
    pthread_mutex_lock(&ev->lock);
    *out = ev->stats;
    pthread_mutex_unlock(&ev->lock);
}
