/* Exchange records: reference counted, freed by whichever thread drops the last reference. */
#include "core/exchange.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/xalloc.h"

struct exchange *exchange_new(const char *id, size_t capture_max_bytes)
{
    struct exchange *ex = xcalloc(1, sizeof(*ex));
    atomic_init(&ex->refs, 1);
    strncpy(ex->id, id, sizeof(ex->id) - 1);
    buf_init(&ex->response_head, 64 * 1024);
    buf_init(&ex->response_body, capture_max_bytes);
    return ex;
}

void exchange_retain(struct exchange *ex)
{
    atomic_fetch_add_explicit(&ex->refs, 1, memory_order_relaxed);
}

void exchange_release(struct exchange *ex)
{
    if (ex == NULL) return;
    if (atomic_fetch_sub_explicit(&ex->refs, 1, memory_order_acq_rel) != 1) return;
    free(ex->uri);
    free(ex->upstream);
    free(ex->request_body);
    buf_fini(&ex->response_head);
    buf_fini(&ex->response_body);
    free(ex);
}

void exchange_add_body(struct exchange *ex, const void *data, size_t len)
{
    ex->response_bytes += len;
    if (buf_append_some(&ex->response_body, data, len) < len) ex->response_truncated = true;
}

int64_t exchange_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

const char *exchange_sampled_by_name(enum exchange_sampled_by by)
{
    switch (by) {
    case EXCHANGE_SAMPLED_RATE:
        return "rate";
    case EXCHANGE_SAMPLED_FORCED:
        return "forced";
    case EXCHANGE_SAMPLED_ERROR:
        return "error";
    }
    return "rate";
}

const char *exchange_outcome_name(enum exchange_outcome outcome)
{
    switch (outcome) {
    case EXCHANGE_COMPLETE:
        return "complete";
    case EXCHANGE_UPSTREAM_ERROR:
        return "upstream_error";
    case EXCHANGE_TIMEOUT:
        return "timeout";
    case EXCHANGE_CLIENT_ABORT:
        return "client_abort";
    case EXCHANGE_REFUSED:
        return "refused";
    }
    return "complete";
}

char *exchange_header(const struct exchange *ex, const char *name)
{
    const struct buf *head = &ex->response_head;
    if (head->data == NULL) return NULL;
    size_t name_len = strlen(name);
    struct buf v;
    buf_init(&v, 2 * head->len + 2);
    const char *p = head->data, *end = head->data + head->len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (eol == NULL) eol = end;
        const char *colon = memchr(p, ':', (size_t)(eol - p));
        if (colon && (size_t)(colon - p) == name_len && strncasecmp(p, name, name_len) == 0) {
            const char *a = colon + 1, *b = eol;
            while (a < b && (*a == ' ' || *a == '\t'))
                a++;
            while (b > a && (b[-1] == ' ' || b[-1] == '\t' || b[-1] == '\r'))
                b--;
            if (v.len > 0) buf_append(&v, ", ", 2);
            buf_append(&v, a, (size_t)(b - a));
        }
        p = eol + 1;
    }
    size_t len;
    return buf_steal(&v, &len); /* NULL when nothing was appended */
}
