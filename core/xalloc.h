/* Allocation that never returns NULL: out of memory logs and aborts (STYLE.md §5).
 * Limits come from explicit caps, never from malloc failing. Any thread. */
#ifndef SIGMAPROXY_CORE_XALLOC_H
#define SIGMAPROXY_CORE_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

#endif
