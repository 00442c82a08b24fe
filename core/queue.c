/* Bounded ring of pointers under one mutex and two condition variables (not empty, not full). */
#include "core/queue.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "core/xalloc.h"

struct queue {
    pthread_mutex_t lock;
    pthread_cond_t nonempty;
    pthread_cond_t nonfull; /* signalled by pops; only queue_push waits on it */
    void **items;
    size_t capacity;
    size_t head; /* next to pop */
    size_t count;
    bool closed;
    uint64_t n_dropped;
};

struct queue *queue_new(size_t capacity)
{
    struct queue *q = xcalloc(1, sizeof(*q));
    pthread_mutex_init(&q->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&q->nonempty, &attr);
    pthread_cond_init(&q->nonfull, &attr);
    pthread_condattr_destroy(&attr);
    q->capacity = capacity ? capacity : 1;
    q->items = xcalloc(q->capacity, sizeof(void *));
    return q;
}

void queue_free(struct queue *q)
{
    if (q == NULL) return;
    pthread_cond_destroy(&q->nonempty);
    pthread_cond_destroy(&q->nonfull);
    pthread_mutex_destroy(&q->lock);
    free(q->items);
    free(q);
}

int queue_try_push(struct queue *q, void *item)
{
    int rc = -1;
    pthread_mutex_lock(&q->lock);
    if (!q->closed && q->count < q->capacity) {
        q->items[(q->head + q->count) % q->capacity] = item;
        q->count++;
        rc = 0;
    } else {
        q->n_dropped++;
    }
    pthread_mutex_unlock(&q->lock);
    if (rc == 0) pthread_cond_signal(&q->nonempty);
    return rc;
}

static void deadline_in(struct timespec *deadline, int timeout_ms)
{
    clock_gettime(CLOCK_MONOTONIC, deadline);
    deadline->tv_sec += timeout_ms / 1000;
    deadline->tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (deadline->tv_nsec >= 1000000000L) {
        deadline->tv_sec++;
        deadline->tv_nsec -= 1000000000L;
    }
}

int queue_push(struct queue *q, void *item, int timeout_ms)
{
    struct timespec deadline;
    if (timeout_ms >= 0) deadline_in(&deadline, timeout_ms);
    int rc = -1;
    pthread_mutex_lock(&q->lock);
    while (q->count == q->capacity && !q->closed) {
        if (timeout_ms < 0) {
            pthread_cond_wait(&q->nonfull, &q->lock);
        } else if (pthread_cond_timedwait(&q->nonfull, &q->lock, &deadline) == ETIMEDOUT) {
            break;
        }
    }
    if (!q->closed && q->count < q->capacity) {
        q->items[(q->head + q->count) % q->capacity] = item;
        q->count++;
        rc = 0;
    }
    pthread_mutex_unlock(&q->lock);
    if (rc == 0) pthread_cond_signal(&q->nonempty);
    return rc;
}

void *queue_pop(struct queue *q, int timeout_ms)
{
    struct timespec deadline;
    if (timeout_ms >= 0) deadline_in(&deadline, timeout_ms);
    void *item = NULL;
    pthread_mutex_lock(&q->lock);
    while (q->count == 0 && !q->closed) {
        if (timeout_ms < 0) {
            pthread_cond_wait(&q->nonempty, &q->lock);
        } else if (pthread_cond_timedwait(&q->nonempty, &q->lock, &deadline) == ETIMEDOUT) {
            break;
        }
    }
    if (q->count > 0) {
        item = q->items[q->head];
        q->head = (q->head + 1) % q->capacity;
        q->count--;
    }
    pthread_mutex_unlock(&q->lock);
    if (item != NULL) pthread_cond_signal(&q->nonfull);
    return item;
}

void queue_close(struct queue *q)
{
    pthread_mutex_lock(&q->lock);
    q->closed = true;
    pthread_mutex_unlock(&q->lock);
    pthread_cond_broadcast(&q->nonempty);
    pthread_cond_broadcast(&q->nonfull);
}

size_t queue_depth(struct queue *q)
{
    pthread_mutex_lock(&q->lock);
    size_t n = q->count;
    pthread_mutex_unlock(&q->lock);
    return n;
}

uint64_t queue_n_dropped(struct queue *q)
{
    pthread_mutex_lock(&q->lock);
    uint64_t n = q->n_dropped;
    pthread_mutex_unlock(&q->lock);
    return n;
}
