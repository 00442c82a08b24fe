/* A growable byte buffer with a cap fixed at creation (STYLE.md §6, curl's dynbuf).
 * Owned by one thread at a time; no locking. */
#ifndef SIGMAPROXY_CORE_BUF_H
#define SIGMAPROXY_CORE_BUF_H

#include <stdbool.h>
#include <stddef.h>

struct buf {
    char *data; /* NULL until the first append; always NUL-terminated after it */
    size_t len;
    size_t alloc;
    size_t cap; /* len never exceeds cap */
};

struct slice {
    const char *ptr;
    size_t len;
};

void buf_init(struct buf *b, size_t cap);
void buf_fini(struct buf *b);

/* Appends len bytes. Returns 0, or -1 when it would exceed the cap (nothing is appended). */
int buf_append(struct buf *b, const void *data, size_t len);

/* Appends as much of data as fits under the cap. Returns the number of bytes appended. */
size_t buf_append_some(struct buf *b, const void *data, size_t len);

/* Removes the first n bytes (n <= len). */
void buf_consume(struct buf *b, size_t n);

void buf_reset(struct buf *b);

/* Moves the bytes out: returns the data (caller frees; may be NULL when empty) and empties b. */
char *buf_steal(struct buf *b, size_t *len);

#endif
