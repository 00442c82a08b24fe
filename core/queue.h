/* A bounded multi-producer, multi-consumer queue of pointers: the hand-off between threads.
 * queue_try_push never blocks (the hot path drops and counts when full); queue_push waits for room
 * (for producers allowed to wait, such as the evaluator feeding triage); queue_pop blocks the
 * consumer, with a deadline. One mutex, held only for the copy of one pointer. */
#ifndef SIGMAPROXY_CORE_QUEUE_H
#define SIGMAPROXY_CORE_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct queue;

/* Returns a new queue holding at most capacity items; free with queue_free(). */
struct queue *queue_new(size_t capacity);
/* Frees the queue; items still in it are not touched (drain them first). */
void queue_free(struct queue *q);

/* Any thread. Returns 0, or -1 when full or closed (the caller keeps item and counts a drop). */
int queue_try_push(struct queue *q, void *item);

/* Any thread. Waits up to timeout_ms (-1: forever) for room. Returns 0, or -1 when the queue is
 * closed or the wait timed out (the caller keeps item; not counted as a drop). */
int queue_push(struct queue *q, void *item, int timeout_ms);

/* Any thread. Waits up to timeout_ms (-1: forever) for an item. Returns it, or NULL on timeout or
 * when the queue is closed and empty. */
void *queue_pop(struct queue *q, int timeout_ms);

/* Wakes every waiter (consumers and waiting producers); later pushes fail, pops return what is
 * left, then NULL. */
void queue_close(struct queue *q);

size_t queue_depth(struct queue *q);
/* Pushes refused because the queue was full, since creation. */
uint64_t queue_n_dropped(struct queue *q);

#endif
