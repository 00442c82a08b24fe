/* Server-sent events, parsed incrementally; used by extract.c on the evaluator thread.
 *
 * The format (WHATWG HTML §9.2 "Server-sent events", "Parsing an event stream"):
 * - A UTF-8 stream of lines; a line ends with "\r\n", "\n" or "\r". A "\r" at the end of one input
 *   may be followed by its "\n" at the start of the next: that pair is one line end.
 * - One leading U+FEFF (EF BB BF) is skipped.
 * - A line starting with ":" is a comment. Otherwise the field name runs to the first ":" (or the
 *   whole line when there is none, the value then being empty); one space after the ":" is
 *   dropped from the value.
 * - "data": the value and a "\n" are appended to the data buffer. "event": sets the event type.
 *   "id": sets the last event ID unless the value holds a NUL. "retry": sets the reconnection
 *   time when the value is ASCII digits only. Any other field is ignored.
 * - A blank line dispatches: with an empty data buffer nothing is dispatched; otherwise the one
 *   trailing "\n" is removed and the event goes out with type (default "message"), data and the
 *   last event ID. Data and type are then reset; the last event ID persists.
 * - At end of stream an undispatched event is discarded (sse_parser_flush lets a caller keep it).
 */
#include "core/sse.h"

#include <limits.h>
#include <string.h>

static const unsigned char bom[3] = {0xEF, 0xBB, 0xBF};

void sse_parser_init(struct sse_parser *p, size_t max_event_bytes)
{
    memset(p, 0, sizeof(*p));
    p->max_event_bytes = max_event_bytes;
    p->retry_ms = -1;
    buf_init(&p->line, max_event_bytes);
    buf_init(&p->data, max_event_bytes + 1); /* the last data line's "\n" is removed at dispatch */
    buf_init(&p->type, max_event_bytes);
    buf_init(&p->id, max_event_bytes);
}

void sse_parser_fini(struct sse_parser *p)
{
    buf_fini(&p->line);
    buf_fini(&p->data);
    buf_fini(&p->type);
    buf_fini(&p->id);
}

static struct slice slice_of(const struct buf *b)
{
    return (struct slice){b->data ? b->data : "", b->len};
}

static void fill_event(struct sse_parser *p, struct sse_event *ev)
{
    p->data.len--; /* the "\n" after the last data line */
    p->data.data[p->data.len] = '\0';
    ev->type = p->type.len ? slice_of(&p->type) : (struct slice){"message", 7};
    ev->data = slice_of(&p->data);
    ev->id = slice_of(&p->id);
    ev->retry_ms = p->retry_ms;
    p->dispatched = true;
}

static bool is_field(const char *name, size_t len, const char *want)
{
    return len == strlen(want) && memcmp(name, want, len) == 0;
}

static void set_retry(struct sse_parser *p, const char *v, size_t len)
{
    long ms = 0;
    if (len == 0) return;
    for (size_t i = 0; i < len; i++) {
        if (v[i] < '0' || v[i] > '9') return;
        if (ms > (LONG_MAX - 9) / 10) return; /* out of range: ignored like any invalid value */
        ms = ms * 10 + (v[i] - '0');
    }
    p->retry_ms = ms;
}

/* Returns 1 when the line dispatched an event, 0 when not, -1 at a cap. */
static int process_line(struct sse_parser *p, const char *line, size_t len, struct err *err)
{
    if (len == 0) {
        if (p->data.len == 0) {
            buf_reset(&p->type);
            return 0;
        }
        return 1;
    }
    if (line[0] == ':') return 0;
    const char *colon = memchr(line, ':', len);
    size_t name_len = colon ? (size_t)(colon - line) : len;
    const char *value = colon ? colon + 1 : line + len;
    size_t value_len = (size_t)(line + len - value);
    if (value_len > 0 && value[0] == ' ') {
        value++;
        value_len--;
    }
    if (is_field(line, name_len, "data")) {
        if (p->data.len + value_len + 1 > p->max_event_bytes + 1) {
            err_set(err, "sse: event data over %zu bytes", p->max_event_bytes);
            return -1;
        }
        buf_append(&p->data, value, value_len);
        buf_append(&p->data, "\n", 1);
    } else if (is_field(line, name_len, "event")) {
        buf_reset(&p->type);
        buf_append(&p->type, value, value_len);
    } else if (is_field(line, name_len, "id")) {
        if (memchr(value, '\0', value_len) == NULL) {
            buf_reset(&p->id);
            buf_append(&p->id, value, value_len);
        }
    } else if (is_field(line, name_len, "retry")) {
        set_retry(p, value, value_len);
    }
    return 0;
}

/* Consumes the leading bytes that may be a BOM; returns how many of data's it took. A partial
 * match that fails is the start of the first line: its bytes go to the line buffer. */
static size_t skip_bom(struct sse_parser *p, const char *data, size_t len)
{
    size_t i = 0;
    while (!p->bom_done && i < len) {
        if ((unsigned char)data[i] == bom[p->bom_matched]) {
            i++;
            if (++p->bom_matched == sizeof(bom)) p->bom_done = true;
        } else {
            buf_append_some(&p->line, bom, p->bom_matched);
            p->bom_done = true;
        }
    }
    return i;
}

static ssize_t fail(struct sse_parser *p)
{
    p->failed = true;
    return SSE_ERROR;
}

ssize_t sse_parse(struct sse_parser *p, const char *data, size_t len, struct sse_event *ev,
                  struct err *err)
{
    if (p->failed) {
        err_set(err, "sse: parser failed earlier");
        return SSE_ERROR;
    }
    if (p->dispatched) {
        buf_reset(&p->data);
        buf_reset(&p->type);
        p->dispatched = false;
    }
    size_t i = skip_bom(p, data, len);
    while (i < len) {
        if (p->after_cr) {
            p->after_cr = false;
            if (data[i] == '\n') {
                i++;
                continue;
            }
        }
        size_t end = i;
        while (end < len && data[end] != '\n' && data[end] != '\r')
            end++;
        if (p->line.len + (end - i) > p->max_event_bytes) {
            err_set(err, "sse: line over %zu bytes", p->max_event_bytes);
            return fail(p);
        }
        if (end == len) {
            buf_append(&p->line, data + i, end - i);
            break;
        }
        /* A line whole in this input is read in place; only a carried-over one is copied. */
        const char *line = data + i;
        size_t line_len = end - i;
        if (p->line.len > 0) {
            buf_append(&p->line, data + i, end - i);
            line = p->line.data;
            line_len = p->line.len;
        }
        p->after_cr = data[end] == '\r';
        i = end + 1;
        int r = process_line(p, line, line_len, err);
        buf_reset(&p->line);
        if (r < 0) return fail(p);
        if (r == 1) {
            fill_event(p, ev);
            return (ssize_t)i;
        }
    }
    return SSE_PARTIAL;
}

bool sse_parser_flush(struct sse_parser *p, struct sse_event *ev)
{
    if (p->failed) return false;
    if (p->dispatched) {
        buf_reset(&p->data);
        buf_reset(&p->type);
        p->dispatched = false;
    }
    if (!p->bom_done) {
        buf_append_some(&p->line, bom, p->bom_matched);
        p->bom_done = true;
    }
    if (p->line.len > 0) {
        int r = process_line(p, p->line.data, p->line.len, NULL);
        buf_reset(&p->line);
        if (r < 0) {
            p->failed = true;
            return false;
        }
    }
    if (p->data.len == 0) return false;
    fill_event(p, ev);
    return true;
}
