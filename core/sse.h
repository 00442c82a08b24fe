/* An incremental server-sent events parser (WHATWG HTML "Server-sent events", the format is
 * summarised atop sse.c). Pure: no I/O, no globals; any thread may run its own parser. Fed bytes
 * as they arrive (a line or an event may be split anywhere), it hands back one event at a time,
 * in picohttpparser's shape: bytes consumed, SSE_PARTIAL or SSE_ERROR (STYLE.md §5). */
#ifndef SIGMAPROXY_CORE_SSE_H
#define SIGMAPROXY_CORE_SSE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "core/buf.h"
#include "core/err.h"

#define SSE_ERROR   (-1)
#define SSE_PARTIAL (-2)

/* One dispatched event. The slices are borrowed from the parser, valid until its next call;
 * each is NUL-terminated at ptr[len] (data may also hold NULs of its own). */
struct sse_event {
    struct slice type; /* the event: field, "message" when the event had none */
    struct slice data; /* the data: lines joined with "\n" (no trailing "\n") */
    struct slice id;   /* the last event ID: persists across events, as the spec says; "" none */
    long retry_ms;     /* the last valid retry: field seen, -1 when none */
};

/* Plain data, embedded by value; every buffer is capped at max_event_bytes (+1 for data). */
struct sse_parser {
    struct buf line; /* the unterminated end of the last input, carried to the next call */
    struct buf data; /* data: values of the current event, each followed by "\n" */
    struct buf type; /* event: value of the current event */
    struct buf id;   /* last event ID buffer */
    long retry_ms;
    size_t max_event_bytes;
    unsigned bom_matched; /* bytes of a leading UTF-8 BOM seen so far */
    bool bom_done;        /* past the point where a BOM may appear */
    bool after_cr;        /* the last byte seen was a \r: a \n next ends no further line */
    bool dispatched;      /* data and type still hold the event last returned */
    bool failed;          /* a cap was exceeded: every later call returns SSE_ERROR */
};

/* max_event_bytes caps one line and one event's data (a longer one is an error, never growth). */
void sse_parser_init(struct sse_parser *p, size_t max_event_bytes);
void sse_parser_fini(struct sse_parser *p);

/* Consumes bytes from data[0..len) until an event is complete. Returns the bytes consumed, up to
 * and including the line end that dispatched *ev (call again with the rest); SSE_PARTIAL when all
 * len bytes were consumed without completing an event (an unterminated line is kept: feed the
 * next bytes); SSE_ERROR when a line or an event's data exceeds max_event_bytes, with err saying
 * which, after which the parser stays failed. Blank lines without data dispatch nothing. */
ssize_t sse_parse(struct sse_parser *p, const char *data, size_t len, struct sse_event *ev,
                  struct err *err);

/* At the end of the stream. The spec discards an event the stream ends inside; a caller salvaging
 * a cut capture may want it: returns true with *ev (as sse_parse's) when the stream ended after
 * some data: line of an undispatched event (its last line need not be terminated). */
bool sse_parser_flush(struct sse_parser *p, struct sse_event *ev);

#endif
