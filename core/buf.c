/* Capped byte buffer. */
#include "core/buf.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"

void buf_init(struct buf *b, size_t cap)
{
    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
    b->cap = cap;
}

void buf_fini(struct buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->alloc = 0;
}

static void reserve(struct buf *b, size_t need)
{
    if (need + 1 <= b->alloc) return;
    size_t n = b->alloc ? b->alloc : 256;
    while (n < need + 1)
        n *= 2;
    if (n > b->cap + 1) n = b->cap + 1;
    b->data = xrealloc(b->data, n);
    b->alloc = n;
}

int buf_append(struct buf *b, const void *data, size_t len)
{
    if (len > b->cap - b->len) return -1;
    buf_append_some(b, data, len);
    return 0;
}

size_t buf_append_some(struct buf *b, const void *data, size_t len)
{
    size_t room = b->cap - b->len;
    if (len > room) len = room;
    reserve(b, b->len + len);
    if (len > 0) memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return len;
}

void buf_consume(struct buf *b, size_t n)
{
    assert(n <= b->len);
    if (n == b->len) {
        b->len = 0;
    } else {
        memmove(b->data, b->data + n, b->len - n);
        b->len -= n;
    }
    if (b->data) b->data[b->len] = '\0';
}

void buf_reset(struct buf *b)
{
    b->len = 0;
    if (b->data) b->data[0] = '\0';
}

char *buf_steal(struct buf *b, size_t *len)
{
    char *p = b->data;
    *len = b->len;
    b->data = NULL;
    b->len = b->alloc = 0;
    return p;
}
