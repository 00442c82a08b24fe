/* Unit tests for core/sse.c: each case (inline, and the upstream fixtures in \n, \r\n and \r
 * flavours) is fed whole, split at every point, and byte by byte, each piece placed against a
 * guard page (picohttpparser test.c); the events must come out the same. Also the field rules,
 * flush at end of stream, and the caps. Run from the repository root (make unit does). */
#include "core/sse.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/buf.h"
#include "tests/tap.h"

#define FIX            "tests/fixtures/upstream/"
#define MAX_EVENT      (64 * 1024)
#define RENDER_MAX     (1024 * 1024)
#define STR_AND_LEN(s) s, sizeof(s) - 1

/* ---- Input against a guard page: reading one byte past a piece faults. ---- */

struct guard {
    char *base;
    size_t size; /* bytes before the guard page */
};

static void guard_init(struct guard *g, size_t max_len)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    g->size = (max_len + page - 1) / page * page + page;
    g->base =
        mmap(NULL, g->size + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (g->base == MAP_FAILED || mprotect(g->base + g->size, page, PROT_NONE) != 0) {
        perror("mmap");
        exit(1);
    }
}

static void guard_fini(struct guard *g)
{
    munmap(g->base, g->size + (size_t)sysconf(_SC_PAGESIZE));
}

/* Returns a copy of p[0..n) ending where the guard page starts. */
static const char *guarded(struct guard *g, const char *p, size_t n)
{
    char *at = g->base + g->size - n;
    memcpy(at, p, n);
    return at;
}

/* ---- Running the parser ---- */

static void render_event(struct buf *out, const struct sse_event *ev, const char *tag)
{
    char head[256];
    snprintf(head, sizeof(head), "%s%.*s|%.*s|%ld|", tag, (int)ev->type.len, ev->type.ptr,
             (int)ev->id.len, ev->id.ptr, ev->retry_ms);
    buf_append(out, head, strlen(head));
    for (size_t i = 0; i < ev->data.len; i++) {
        char c = ev->data.ptr[i];
        if (c == '\n')
            buf_append(out, "\\n", 2);
        else if (c == '\r')
            buf_append(out, "\\r", 2);
        else if (c == '\0')
            buf_append(out, "\\0", 2);
        else
            buf_append(out, &c, 1);
    }
    buf_append(out, "\n", 1);
}

/* Feeds in[0..len) in pieces ending at cuts[0..n_cuts) (then at len) and returns the events
 * rendered one a line, "!error" at an error, "(flush)"-tagged flushed events. Free the result. */
static char *run(struct guard *g, const char *in, size_t len, const size_t *cuts, size_t n_cuts,
                 size_t max_event, bool flush)
{
    struct sse_parser p;
    struct buf out;
    struct sse_event ev;
    struct err err;
    size_t from = 0;
    bool failed = false;
    sse_parser_init(&p, max_event);
    buf_init(&out, RENDER_MAX);
    for (size_t c = 0; c <= n_cuts && !failed; c++) {
        size_t to = c < n_cuts ? cuts[c] : len;
        const char *piece = guarded(g, in + from, to - from);
        size_t left = to - from;
        from = to;
        for (;;) {
            ssize_t n = sse_parse(&p, piece, left, &ev, &err);
            if (n == SSE_PARTIAL) break;
            if (n == SSE_ERROR) {
                buf_append(&out, "!error\n", 7);
                failed = true;
                break;
            }
            if (n <= 0 || (size_t)n > left) {
                buf_append(&out, "!bad count\n", 11);
                failed = true;
                break;
            }
            render_event(&out, &ev, "");
            piece += n;
            left -= (size_t)n;
        }
    }
    if (flush && !failed && sse_parser_flush(&p, &ev)) render_event(&out, &ev, "(flush)");
    sse_parser_fini(&p);
    size_t n;
    char *s = buf_steal(&out, &n);
    return s ? s : strdup("");
}

/* Checks that whole, every two-piece split, and byte by byte all give want. */
static void check_all_splits(const char *name, const char *in, size_t len, const char *want,
                             size_t max_event, bool flush)
{
    struct guard g;
    guard_init(&g, len + 1);
    char *whole = run(&g, in, len, NULL, 0, max_event, flush);
    is_str(whole, want, "%s: whole input", name);
    free(whole);

    size_t bad_split = SIZE_MAX;
    char *bad = NULL;
    for (size_t k = 0; k <= len && bad == NULL; k++) {
        char *got = run(&g, in, len, &k, 1, max_event, flush);
        if (strcmp(got, want) != 0) {
            bad = got;
            bad_split = k;
        } else {
            free(got);
        }
    }
    if (!ok(bad == NULL, "%s: split at each of %zu points, same events", name, len + 1))
        diag("split at %zu gave:\n%s", bad_split, bad);
    free(bad);

    size_t *cuts = malloc((len + 1) * sizeof(*cuts));
    for (size_t k = 0; k < len; k++)
        cuts[k] = k + 1;
    char *bytewise = run(&g, in, len, cuts, len ? len - 1 : 0, max_event, flush);
    is_str(bytewise, want, "%s: byte by byte, same events", name);
    free(bytewise);
    free(cuts);
    guard_fini(&g);
}

/* ---- Inline cases ---- */

struct sse_case {
    const char *name;
    const char *in;
    size_t len;
    const char *want; /* rendered: type|id|retry|data, one event a line */
    size_t max_event; /* 0: MAX_EVENT */
    bool flush;
};

static const struct sse_case cases[] = {
    {"one event", STR_AND_LEN("data: hello\n\n"), "message||-1|hello\n", 0, false},
    {"data lines joined with \\n", STR_AND_LEN("data: a\ndata: b\n\n"), "message||-1|a\\nb\n", 0,
     false},
    {"CRLF line ends", STR_AND_LEN("data: a\r\ndata: b\r\n\r\n"), "message||-1|a\\nb\n", 0, false},
    {"CR line ends", STR_AND_LEN("data: a\rdata: b\r\r"), "message||-1|a\\nb\n", 0, false},
    {"mixed line ends", STR_AND_LEN("data: a\r\ndata: b\rdata: c\n\r\n"), "message||-1|a\\nb\\nc\n",
     0, false},
    {"CR then LF is one line end, CR CR is two",
     STR_AND_LEN("data: a\r\n\rdata: b\r\r\ndata: c\n\n"),
     "message||-1|a\nmessage||-1|b\n"
     "message||-1|c\n",
     0, false},
    {"comments ignored, a blank line after one dispatches nothing",
     STR_AND_LEN(": keep-alive\n\n:\ndata: x\n: inside\n\n"), "message||-1|x\n", 0, false},
    {"event type", STR_AND_LEN("event: ping\ndata: {}\n\ndata: next\n\n"),
     "ping||-1|{}\nmessage||-1|next\n", 0, false},
    {"event without data dispatches nothing and its type is dropped",
     STR_AND_LEN("event: lonely\n\ndata: b\n\n"), "message||-1|b\n", 0, false},
    {"id persists across events", STR_AND_LEN("id: 7\ndata: a\n\ndata: b\n\nid\ndata: c\n\n"),
     "message|7|-1|a\nmessage|7|-1|b\nmessage||-1|c\n", 0, false},
    {"id holding a NUL is ignored", STR_AND_LEN("id: 1\ndata: a\n\nid: x\0y\ndata: b\n\n"),
     "message|1|-1|a\nmessage|1|-1|b\n", 0, false},
    {"retry digits only", STR_AND_LEN("retry: 1500\ndata: a\n\nretry: 1x\ndata: b\n\n"),
     "message||1500|a\nmessage||1500|b\n", 0, false},
    {"field name without colon has an empty value", STR_AND_LEN("data\n\n"), "message||-1|\n", 0,
     false},
    {"empty data value", STR_AND_LEN("data:\ndata:\n\n"), "message||-1|\\n\n", 0, false},
    {"only one space after the colon is dropped", STR_AND_LEN("data:x\n\ndata:  y\n\n"),
     "message||-1|x\nmessage||-1| y\n", 0, false},
    {"colons inside the value kept", STR_AND_LEN("data: {\"a\": \"b:c\"}\n\n"),
     "message||-1|{\"a\": \"b:c\"}\n", 0, false},
    {"unknown fields ignored", STR_AND_LEN("foo: bar\nDATA: no\ndata: a\n\n"), "message||-1|a\n", 0,
     false},
    {"leading and repeated blank lines", STR_AND_LEN("\n\r\n\rdata: a\n\n\n\n"), "message||-1|a\n",
     0, false},
    {"leading UTF-8 BOM skipped",
     STR_AND_LEN("\xEF\xBB\xBF"
                 "data: a\n\n"),
     "message||-1|a\n", 0, false},
    {"a second BOM is part of the field name",
     STR_AND_LEN("\xEF\xBB\xBF\xEF\xBB\xBF"
                 "data: a\n\ndata: b\n\n"),
     "message||-1|b\n", 0, false},
    {"half a BOM is part of the first line",
     STR_AND_LEN("\xEF\xBB"
                 "data: a\n\ndata: b\n\n"),
     "message||-1|b\n", 0, false},
    {"NUL bytes in data kept", STR_AND_LEN("data: a\0b\n\n"), "message||-1|a\\0b\n", 0, false},
    {"unterminated event not dispatched", STR_AND_LEN("data: a\n\ndata: b\n"), "message||-1|a\n", 0,
     false},
    {"flush returns the event the stream ended inside",
     STR_AND_LEN("data: a\n\nevent: t\ndata: b\ndata: c"), "message||-1|a\n(flush)t||-1|b\\nc\n", 0,
     true},
    {"flush after a CR ended the last line", STR_AND_LEN("data: a\r"), "(flush)message||-1|a\n", 0,
     true},
    {"flush with no pending data returns nothing", STR_AND_LEN("data: a\n\n: comment"),
     "message||-1|a\n", 0, true},
    {"event data exactly at the cap", STR_AND_LEN("data: 01234567\ndata: 0123456\n\n"),
     "message||-1|01234567\\n0123456\n", 16, false},
    {"event data one byte over the cap is an error",
     STR_AND_LEN("data: 01234567\ndata: 01234567\n\n"), "!error\n", 16, false},
    {"line over the cap is an error", STR_AND_LEN("data: 0123456789abcdef\n\n"), "!error\n", 16,
     false},
    {"comment over the cap is an error", STR_AND_LEN(": 0123456789abcdefghij\ndata: a\n\n"),
     "!error\n", 16, false},
    {"event data over the cap is an error",
     STR_AND_LEN("data: a\n\ndata: 0123456789\ndata: 0123456789\n\ndata: b\n\n"),
     "message||-1|a\n!error\n", 16, false},
    {"unterminated line over the cap is an error", STR_AND_LEN("data: 0123456789abcdef"),
     "!error\n", 16, true},
};

/* ---- Fixtures ---- */

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        exit(1);
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (fread(s, 1, (size_t)n, f) != (size_t)n) exit(1);
    fclose(f);
    s[n] = '\0';
    *len = (size_t)n;
    return s;
}

/* Returns in with every "\n" replaced by eol. */
static char *with_line_ends(const char *in, size_t len, const char *eol, size_t *out_len)
{
    size_t n = 0, eol_len = strlen(eol);
    char *out = malloc(len * eol_len + 1);
    for (size_t i = 0; i < len; i++) {
        if (in[i] == '\n') {
            memcpy(out + n, eol, eol_len);
            n += eol_len;
        } else {
            out[n++] = in[i];
        }
    }
    out[n] = '\0';
    *out_len = n;
    return out;
}

static size_t count_lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

struct fixture_case {
    const char *file;
    size_t n_events;
    const char *first; /* first rendered line */
    const char *last;  /* last rendered line */
};

static const struct fixture_case fixtures[] = {
    {"openai_stream.sse", 7, "message||-1|{\"id\":\"chatcmpl-fx1\"", "message||-1|[DONE]\n"},
    {"openai_tool_call.sse", 6, "message||-1|{\"id\":\"chatcmpl-fx2\"", "message||-1|[DONE]\n"},
    {"anthropic_stream.sse", 8, "message_start||-1|{\"type\":\"message_start\"",
     "message_stop||-1|{\"type\":\"message_stop\"}\n"},
};

static void test_fixture(const struct fixture_case *fc)
{
    char path[256];
    size_t len;
    snprintf(path, sizeof(path), FIX "%s", fc->file);
    char *lf = slurp(path, &len);
    struct guard g;
    guard_init(&g, len);
    char *want = run(&g, lf, len, NULL, 0, MAX_EVENT, false);
    guard_fini(&g);
    is_int(count_lines(want), fc->n_events, "%s: %zu events", fc->file, fc->n_events);
    ok(strncmp(want, fc->first, strlen(fc->first)) == 0, "%s: first event is %s...", fc->file,
       fc->first);
    size_t want_len = strlen(want), last_len = strlen(fc->last);
    ok(want_len >= last_len && strcmp(want + want_len - last_len, fc->last) == 0,
       "%s: last event is %.*s", fc->file, (int)last_len - 1, fc->last);

    static const char *const eols[][2] = {{"\n", "LF"}, {"\r\n", "CRLF"}, {"\r", "CR"}};
    for (size_t e = 0; e < sizeof(eols) / sizeof(eols[0]); e++) {
        size_t n;
        char *in = with_line_ends(lf, len, eols[e][0], &n);
        char name[128];
        snprintf(name, sizeof(name), "%s (%s)", fc->file, eols[e][1]);
        check_all_splits(name, in, n, want, MAX_EVENT, false);
        free(in);
    }
    free(want);
    free(lf);
}

/* ---- Caps and state ---- */

static void test_many_events_under_cap(void)
{
    struct sse_parser p;
    struct sse_event ev;
    struct err err;
    static const char one[] = "data: x\n\n";
    size_t n_events = 0;
    sse_parser_init(&p, 16);
    for (int i = 0; i < 10000; i++) {
        const char *in = one;
        size_t left = sizeof(one) - 1;
        ssize_t n;
        while ((n = sse_parse(&p, in, left, &ev, &err)) > 0) {
            n_events++;
            in += n;
            left -= (size_t)n;
        }
        if (n == SSE_ERROR) break;
    }
    is_int(n_events, 10000, "the cap is per event: 10000 small events under a 16-byte cap");
    sse_parser_fini(&p);
}

static void test_failed_parser_stays_failed(void)
{
    struct sse_parser p;
    struct sse_event ev;
    struct err err = {{0}};
    sse_parser_init(&p, 8);
    is_int(sse_parse(&p, STR_AND_LEN("data: 0123456789\n\n"), &ev, &err), SSE_ERROR,
           "over the cap: SSE_ERROR");
    ok(strstr(err.msg, "over 8 bytes") != NULL, "err says the cap: %s", err.msg);
    ok(p.line.alloc <= 8 + 1 && p.data.alloc <= 8 + 2, "buffers did not outgrow the cap");
    is_int(sse_parse(&p, STR_AND_LEN("data: a\n\n"), &ev, &err), SSE_ERROR,
           "a failed parser keeps returning SSE_ERROR");
    ok(!sse_parser_flush(&p, &ev), "a failed parser flushes nothing");
    sse_parser_fini(&p);
}

static void test_counts_and_partial(void)
{
    struct sse_parser p;
    struct sse_event ev;
    sse_parser_init(&p, MAX_EVENT);
    is_int(sse_parse(&p, "", 0, &ev, NULL), SSE_PARTIAL, "no input: SSE_PARTIAL");
    is_int(sse_parse(&p, STR_AND_LEN("data: a\n\ndata: b\n\n"), &ev, NULL), 9,
           "returns the bytes up to the blank line that dispatched");
    is_int(sse_parse(&p, STR_AND_LEN("data: b\n"), &ev, NULL), SSE_PARTIAL,
           "a complete line without its blank line: SSE_PARTIAL");
    is_int(sse_parse(&p, STR_AND_LEN("\n"), &ev, NULL), 1, "the blank line alone dispatches");
    is_str(ev.data.ptr, "b", "the event's data is NUL-terminated");
    sse_parser_fini(&p);
}

int main(void)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct sse_case *c = &cases[i];
        check_all_splits(c->name, c->in, c->len, c->want, c->max_event ? c->max_event : MAX_EVENT,
                         c->flush);
    }
    for (size_t i = 0; i < sizeof(fixtures) / sizeof(fixtures[0]); i++)
        test_fixture(&fixtures[i]);
    test_many_events_under_cap();
    test_failed_parser_stays_failed();
    test_counts_and_partial();
    return done_testing();
}
