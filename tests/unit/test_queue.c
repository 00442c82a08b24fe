/* The bounded hand-off: FIFO order, a full queue refuses and counts, close wakes the consumer;
 * queue_push waits for room, times out, and is woken by close. */
#include <pthread.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/queue.h"
#include "tests/tap.h"

static void *consume(void *arg)
{
    struct queue *q = arg;
    uintptr_t sum = 0;
    void *item;
    while ((item = queue_pop(q, -1)) != NULL)
        sum += (uintptr_t)item;
    return (void *)sum;
}

struct blocked_push {
    struct queue *q;
    int rc;
};

static void *push_blocking(void *arg)
{
    struct blocked_push *bp = arg;
    bp->rc = queue_push(bp->q, (void *)9, -1);
    return NULL;
}

static void test_blocking_push(void)
{
    struct queue *q = queue_new(2);
    is_int(queue_push(q, (void *)1, 0), 0, "queue_push into room does not wait");
    is_int(queue_push(q, (void *)2, -1), 0, "queue_push fills the queue");
    is_int(queue_push(q, (void *)3, 20), -1, "queue_push on a full queue times out");
    is_int(queue_n_dropped(q), 0, "a timed-out queue_push is not counted as a drop");

    /* A producer waiting on a full queue gets in once the consumer pops. */
    queue_free(q);
    q = queue_new(1);
    queue_try_push(q, (void *)1);
    struct blocked_push bp = {q, 99};
    pthread_t t;
    pthread_create(&t, NULL, push_blocking, &bp);
    is_int((intptr_t)queue_pop(q, -1), 1, "the consumer pops the first item");
    is_int((intptr_t)queue_pop(q, 5000), 9, "the waiting producer's item follows");
    pthread_join(t, NULL);
    is_int(bp.rc, 0, "and its queue_push returned 0");

    /* close wakes a waiting producer, which keeps its item. */
    queue_try_push(q, (void *)1);
    bp.rc = 99;
    pthread_create(&t, NULL, push_blocking, &bp);
    queue_close(q);
    pthread_join(t, NULL);
    is_int(bp.rc, -1, "queue_close wakes a producer waiting for room: -1");
    is_int((intptr_t)queue_pop(q, 0), 1, "what was queued is still popped after close");
    queue_free(q);
}

int main(void)
{
    test_blocking_push();

    struct queue *q = queue_new(3);
    is_int(queue_try_push(q, (void *)1), 0, "push into an empty queue");
    queue_try_push(q, (void *)2);
    queue_try_push(q, (void *)3);
    is_int(queue_try_push(q, (void *)4), -1, "a full queue refuses without blocking");
    is_int(queue_n_dropped(q), 1, "the refusal is counted");
    is_int(queue_depth(q), 3, "depth is 3");
    is_int((intptr_t)queue_pop(q, 0), 1, "items come out in order (1)");
    is_int((intptr_t)queue_pop(q, 0), 2, "items come out in order (2)");
    is_int((intptr_t)queue_pop(q, 0), 3, "items come out in order (3)");
    ok(queue_pop(q, 10) == NULL, "pop on an empty queue times out with NULL");
    queue_free(q);

    q = queue_new(64);
    pthread_t t;
    pthread_create(&t, NULL, consume, q);
    uintptr_t want = 0;
    for (uintptr_t i = 1; i <= 1000; i++) {
        while (queue_try_push(q, (void *)i) < 0) {
        }
        want += i;
    }
    queue_close(q);
    void *got;
    pthread_join(t, &got);
    is_int((intptr_t)got, (intptr_t)want, "a consumer thread sees every item once, then close");
    is_int(queue_try_push(q, (void *)1), -1, "pushing into a closed queue fails");
    queue_free(q);

    struct buf b;
    buf_init(&b, 8);
    is_int(buf_append(&b, "12345", 5), 0, "buf: append under the cap");
    is_int(buf_append(&b, "6789", 4), -1, "buf: an append past the cap is refused whole");
    is_int(b.len, 5, "buf: nothing of it was kept");
    is_int(buf_append_some(&b, "6789", 4), 3, "buf: append_some keeps what fits");
    buf_consume(&b, 2);
    is_str(b.data, "345678", "buf: consume drops the prefix");
    buf_fini(&b);
    return done_testing();
}
