/* mock_upstream: the project's fake LLM API, upstream of sigmaproxy in integration tests and
 * benchmarks (STYLE.md §10). Each request is scripted by its own x-mock-* headers, which travel
 * through the proxy untouched; the mock answers from memory, never touching disk after startup.
 *
 * DESIGN. One MHD daemon with an internal epoll thread (or a pool: --threads) runs every callback.
 * A delay never sleeps in a callback: the callback suspends its connection and hands the deadline
 * to the one timer thread (a min-heap under a mutex and a condvar), which resumes it when due; MHD
 * then calls the same callback again. So thousands of slow streams cost one heap entry each. A
 * long wait is cut into PEER_CHECK_US slices, and between slices the callback peeks at the socket,
 * so a client that hangs up on a stalled or delayed reply is seen (and logged) within a slice.
 * Shutdown: stop the timer (which resumes every connection it holds and refuses new waits), then
 * stop MHD, which must never see a suspended connection.
 *
 * HEADER CONTRACT (names are case-insensitive; a bad value or an unknown x-mock-* name gets
 * 400 text/plain naming it; with no x-mock-* header at all the reply is a ~600-byte OpenAI
 * chat.completion JSON, Content-Type application/json, Content-Length set):
 *   x-mock-status: N          status code, 100..999 (default 200). Alone and >= 400, the body is
 *                             an OpenAI-style error JSON; 1xx, 204 and 304 have an empty body.
 *   x-mock-sse: N             stream N chat.completion.chunk events, `data: {json}\n\n` each,
 *                             then `data: [DONE]\n\n`; text/event-stream, chunked. Event i's
 *                             content is "w<i> " (+ filler, see event-bytes), i from 0; event 0's
 *                             delta has "role", event N-1 has finish_reason "stop". Each event
 *                             carries "sp_mock_seq": i and "sp_mock_ts_us": CLOCK_MONOTONIC
 *                             microseconds when it was handed to MHD, and is one reader call.
 *   x-mock-gap-ms: M          wait M ms before each event (not before [DONE]).
 *   x-mock-event-bytes: B     pad each event's content with filler until the event line is about
 *                             B bytes (max 1 MiB; default: no padding, ~250 bytes).
 *   x-mock-first-byte-ms: M   wait M ms after the request body before sending the status line.
 *   x-mock-stall-after: K     after K events (SSE) or K body bytes (otherwise), send nothing more
 *                             but keep the connection open, until the client leaves.
 *   x-mock-reset-after: K     after K events (SSE) or K body bytes (otherwise), close the
 *                             connection abruptly (outcome=reset). SSE: K = N cuts just before
 *                             [DONE], K > N has no effect; a body: K >= its size has no effect.
 *   x-mock-drop: 1            close the connection without any response (after first-byte-ms).
 *   x-mock-body-bytes: N      reply with exactly N bytes of text/plain, Content-Length: N: the
 *                             63-character line PATTERN_LINE and "\n", repeated and cut at N.
 *   x-mock-echo: 1            reply application/json with the request body, byte for byte, plus
 *                             x-mock-got-method, -path (path and query as received), -version,
 *                             -host, -body-bytes, -headers (the request's header names, lowercase,
 *                             in order, ';'-joined) and x-mock-got-h-<name>: <value> per header.
 *   x-mock-fixture: NAME      reply with the file NAME loaded from --fixtures DIR at startup:
 *                             *.sse as a stream, verbatim, one event (up to and including a
 *                             blank line) per write, so gap/stall/reset count its events and no
 *                             [DONE] is added; any other file as an application/json body.
 *   x-mock-header: Name: v    add a response header; repeat the line, or use x-mock-header-<any>
 *                             (up to 16 in all). It replaces the mock's own Content-Type.
 *   x-mock-content-length: V  send "Content-Length: V" verbatim instead of the true length (repeat
 *                             the line, up to 4, for conflicting values), no chunking, and close
 *                             the connection after the (unchanged) body, for framing tests.
 *
 * --log FILE gets one line per finished request, a single O_APPEND write(2) each:
 *   METHOD PATH body_bytes=N status=S events_sent=K outcome=complete|client_aborted|reset|...
 * where status is the one sent (0: none), events_sent counts data events (not [DONE]) handed to
 * MHD, and outcome is complete, client_aborted (the client hung up or the send failed), reset (the
 * mock closed on purpose: reset-after or drop), timeout, or shutdown (SIGTERM mid-request).
 *
 * --tls-cert FILE --tls-key FILE (both or neither): serve HTTPS instead, with this PEM certificate
 * (chain) and PEM private key, read at startup; the header contract is the same. Needs an MHD
 * built with TLS (GnuTLS), else the mock exits 1 saying so. A client's hang-up is seen as with
 * HTTP, though its close_notify alert lies unread before the FIN (is_peer_gone). */
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <microhttpd.h>

#define LOG_MODULE "mock"
#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "core/xalloc.h"

#define MOCK_MAX_CONNECTIONS 10000u
/* MHD's per-connection pool: request head, I/O buffers, reply head (echo copies every request
 * header). MHD zeroes it between keep-alive requests: 16 KB would save ~1 us per request. */
#define MOCK_CONN_MEMORY_BYTES (64u * 1024u)
/* Most a content reader is asked for at once. MHD callocs this per response, so each reply asks
 * for what it needs (one event, a small body) within [MOCK_MIN_BLOCK_BYTES, MOCK_BLOCK_BYTES]. */
#define MOCK_BLOCK_BYTES         (64u * 1024u)
#define MOCK_MIN_BLOCK_BYTES     1024u
#define MOCK_MAX_ECHO_BYTES      (64u * 1024u * 1024u) /* echoed request body; beyond: 413 */
#define MOCK_MAX_EVENT_BYTES     (1024u * 1024u)
#define MOCK_MAX_EVENTS          100000000LL
#define MOCK_MAX_BODY_BYTES      (1LL << 40)
#define MOCK_MAX_DELAY_MS        3600000LL
#define MOCK_MAX_EXTRA_HEADERS   16
#define MOCK_MAX_CONTENT_LENGTHS 4
#define MOCK_MAX_FIXTURE_BYTES   (16u * 1024u * 1024u)
#define MOCK_TIMER_BATCH         64
#define PEER_CHECK_US            250000u /* longest suspension before checking the client */
#define PATTERN_LINE             "sigmaproxy mock body 0123456789 abcdefghijklmnopqrstuvwxyz ABCD"

static const char DEFAULT_REPLY[] =
    "{\"id\":\"chatcmpl-mock0000000000000000000000001\",\"object\":\"chat.completion\","
    "\"created\":1764410160,\"model\":\"gpt-4o-mini-2024-07-18\",\"choices\":[{\"index\":0,"
    "\"message\":{\"role\":\"assistant\",\"content\":\"Six Sigma is a data-driven method for "
    "reducing defects: a process running at six sigma produces at most 3.4 defects per million "
    "opportunities. Teams improve a process through the DMAIC cycle: define, measure, analyze, "
    "improve and control.\",\"refusal\":null},\"logprobs\":null,\"finish_reason\":\"stop\"}],"
    "\"usage\":{\"prompt_tokens\":24,\"completion_tokens\":52,\"total_tokens\":76,"
    "\"prompt_tokens_details\":{\"cached_tokens\":0}},\"system_fingerprint\":\"fp_mock0001\"}";

static const char ERROR_REPLY[] =
    "{\"error\":{\"message\":\"mock_upstream: injected error status\",\"type\":\"server_error\","
    "\"param\":null,\"code\":null}}";

static const char FILLER[] = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do ";
static const char DONE_EVENT[] = "data: [DONE]\n\n";

struct fixture {
    char *name;
    char *data;
    size_t len;
    bool is_sse;
    struct slice *events; /* is_sse: the events, pointing into data */
    size_t n_events;
    size_t max_event_bytes;
};

struct timer_entry {
    uint64_t due_us;
    struct MHD_Connection *conn; /* suspended until popped */
};

/* Invariant: every connection in heap is suspended, and only this thread resumes it. Once
 * stopping is set the heap stays empty: timer_suspend() refuses instead of suspending. */
struct timer {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_t thread;
    struct timer_entry *heap; /* min-heap on due_us */
    size_t n;
    size_t alloc;
    bool stopping;
};

struct mock {
    struct timer timer;
    int log_fd; /* -1: no request log */
    struct fixture *fixtures;
    size_t n_fixtures;
    struct MHD_Response *default_reply; /* shared by every unscripted request */
    atomic_ullong n_requests;
    char *tls_cert, *tls_key; /* PEM, NUL-terminated; NULL: plain HTTP */
};

enum wait_result {
    WAIT_DUE = 0,   /* the deadline has passed: go on */
    WAIT_SUSPENDED, /* the connection is suspended: return and be called again */
    WAIT_END,       /* the client left (peer_gone) or we are stopping (shutdown): give up */
};

/* One request, from the URI callback to the completed callback, touched only by the MHD thread
 * that owns its connection. Scenario fields hold -1 when their header is absent. */
struct req {
    struct mock *mock;
    struct MHD_Connection *conn;
    char *uri;
    char method[16];
    unsigned long long id;
    long long created;
    bool started; /* the access handler has parsed the headers */

    bool has_scenario; /* at least one x-mock-* header */
    long long status, n_events, gap_ms, event_bytes, first_byte_ms;
    long long stall_after, reset_after, body_bytes;
    bool echo, drop;
    const char *content_length[MOCK_MAX_CONTENT_LENGTHS]; /* borrowed from the request */
    size_t n_content_length;
    const char *extra[MOCK_MAX_EXTRA_HEADERS]; /* "Name: value", borrowed likewise */
    size_t n_extra;
    const struct fixture *fixture;
    char bad[160]; /* non-empty: answer 400 with this */

    struct buf body; /* echo only */
    size_t body_bytes_in;
    bool body_too_big;

    int status_sent;
    uint64_t due_us; /* deadline of the current wait; 0: none */
    bool waiting;    /* suspended at least once in the current wait */
    long long events_sent;
    bool done_sent;
    struct buf ev;   /* the generated event being sent */
    const char *out; /* the event being sent, and how much of it went */
    size_t out_len, out_off;
    const char *mem; /* non-SSE body; NULL: PATTERN_LINE */
    uint64_t mem_len;
    bool did_reset, peer_gone, shutdown;
};

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ---- timer thread ---- */

static void heap_swap(struct timer *t, size_t a, size_t b)
{
    struct timer_entry e = t->heap[a];
    t->heap[a] = t->heap[b];
    t->heap[b] = e;
}

static void heap_push(struct timer *t, uint64_t due_us, struct MHD_Connection *conn)
{
    if (t->n == t->alloc) {
        t->alloc = t->alloc ? t->alloc * 2 : 256;
        t->heap = xrealloc(t->heap, t->alloc * sizeof(*t->heap));
    }
    size_t i = t->n++;
    t->heap[i] = (struct timer_entry){due_us, conn};
    while (i > 0 && t->heap[(i - 1) / 2].due_us > t->heap[i].due_us) {
        heap_swap(t, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static struct MHD_Connection *heap_pop(struct timer *t)
{
    struct MHD_Connection *conn = t->heap[0].conn;
    t->heap[0] = t->heap[--t->n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < t->n && t->heap[l].due_us < t->heap[m].due_us) m = l;
        if (r < t->n && t->heap[r].due_us < t->heap[m].due_us) m = r;
        if (m == i) break;
        heap_swap(t, i, m);
        i = m;
    }
    return conn;
}

static void *timer_main(void *arg)
{
    struct timer *t = arg;
    struct MHD_Connection *batch[MOCK_TIMER_BATCH];
    pthread_mutex_lock(&t->lock);
    for (;;) {
        uint64_t now = now_us();
        size_t n = 0;
        while (t->n > 0 && n < MOCK_TIMER_BATCH && (t->stopping || t->heap[0].due_us <= now))
            batch[n++] = heap_pop(t);
        if (n > 0) {
            /* Resume outside our lock: MHD threads take it before MHD's own (timer_suspend). */
            pthread_mutex_unlock(&t->lock);
            for (size_t i = 0; i < n; i++)
                MHD_resume_connection(batch[i]);
            pthread_mutex_lock(&t->lock);
            continue;
        }
        if (t->stopping) break;
        if (t->n == 0 || t->heap[0].due_us == UINT64_MAX) {
            pthread_cond_wait(&t->wake, &t->lock);
        } else {
            uint64_t due = t->heap[0].due_us;
            struct timespec ts = {(time_t)(due / 1000000u), (long)(due % 1000000u) * 1000};
            pthread_cond_timedwait(&t->wake, &t->lock, &ts);
        }
    }
    pthread_mutex_unlock(&t->lock);
    return NULL;
}

static int timer_start(struct timer *t, struct err *err)
{
    int rc = -1;
    pthread_condattr_t attr;
    memset(t, 0, sizeof(*t));
    pthread_mutex_init(&t->lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&t->wake, &attr);
    pthread_condattr_destroy(&attr);
    int e = pthread_create(&t->thread, NULL, timer_main, t);
    if (e != 0) {
        err_set(err, "cannot start the timer thread: %s", strerror(e));
        goto out;
    }
    rc = 0;
out:
    return rc;
}

/* Resumes every waiting connection, makes later waits refuse, joins the thread. MHD threads may
 * still call timer_suspend() until MHD_stop_daemon() returns: only then call timer_fini(). */
static void timer_stop(struct timer *t)
{
    pthread_mutex_lock(&t->lock);
    t->stopping = true;
    pthread_cond_signal(&t->wake);
    pthread_mutex_unlock(&t->lock);
    pthread_join(t->thread, NULL);
}

static void timer_fini(struct timer *t)
{
    assert(t->n == 0);
    free(t->heap);
    t->heap = NULL;
    pthread_cond_destroy(&t->wake);
    pthread_mutex_destroy(&t->lock);
}

/* Thread: MHD, inside a callback for conn. Suspends conn until due_us. Returns 0, or -1 when
 * stopping (conn is then not suspended). */
static int timer_suspend(struct timer *t, struct MHD_Connection *conn, uint64_t due_us)
{
    pthread_mutex_lock(&t->lock);
    if (t->stopping) {
        pthread_mutex_unlock(&t->lock);
        return -1;
    }
    /* Suspend before the entry is visible, so the timer never resumes a running connection. */
    MHD_suspend_connection(conn);
    heap_push(t, due_us, conn);
    if (t->heap[0].conn == conn) pthread_cond_signal(&t->wake);
    pthread_mutex_unlock(&t->lock);
    return 0;
}

/* ---- waiting inside callbacks ---- */

/* True when the client has closed or reset its end (peeking consumes nothing). Under TLS a
 * client's close_notify alert comes before its FIN and stays unread while we are suspended, so
 * there a pending FIN (POLLRDHUP) counts too: no TLS client half-closes and still reads. */
static bool is_peer_gone(struct MHD_Connection *conn, bool tls)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (ci == NULL) return false;
    char c;
    ssize_t n = recv(ci->connect_fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n > 0 && tls) {
        struct pollfd p = {.fd = ci->connect_fd, .events = POLLRDHUP};
        return poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
    }
    if (n > 0) return false;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return false;
    return true;
}

static enum wait_result wait_until(struct req *r, uint64_t due_us)
{
    uint64_t now = now_us();
    if (now >= due_us) {
        r->waiting = false;
        return WAIT_DUE;
    }
    if (r->waiting && is_peer_gone(r->conn, r->mock->tls_cert != NULL)) {
        r->peer_gone = true;
        return WAIT_END;
    }
    uint64_t wake_us = due_us - now > PEER_CHECK_US ? now + PEER_CHECK_US : due_us;
    if (timer_suspend(&r->mock->timer, r->conn, wake_us) < 0) {
        r->shutdown = true;
        return WAIT_END;
    }
    r->waiting = true;
    return WAIT_SUSPENDED;
}

/* ---- scenario headers ---- */

static int parse_ll(const char *s, long long min, long long max, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max) return -1;
    *out = v;
    return 0;
}

static const struct fixture *find_fixture(const struct mock *m, const char *name)
{
    for (size_t i = 0; i < m->n_fixtures; i++)
        if (strcmp(m->fixtures[i].name, name) == 0) return &m->fixtures[i];
    return NULL;
}

static bool is_header_line(const char *v)
{
    const char *colon = strchr(v, ':');
    return colon != NULL && colon != v && colon - v < 128 &&
           strcspn(v, " \t") > (size_t)(colon - v);
}

static enum MHD_Result on_scenario_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                          const char *value)
{
    struct req *r = cls;
    (void)kind;
    if (strncasecmp(key, "x-mock-", 7) != 0) return MHD_YES;
    const char *k = key + 7;
    const char *v = value ? value : "";
    int rc = 0;
    r->has_scenario = true;
    if (strcasecmp(k, "status") == 0) {
        rc = parse_ll(v, 100, 999, &r->status);
    } else if (strcasecmp(k, "sse") == 0) {
        rc = parse_ll(v, 0, MOCK_MAX_EVENTS, &r->n_events);
    } else if (strcasecmp(k, "gap-ms") == 0) {
        rc = parse_ll(v, 0, MOCK_MAX_DELAY_MS, &r->gap_ms);
    } else if (strcasecmp(k, "event-bytes") == 0) {
        rc = parse_ll(v, 0, MOCK_MAX_EVENT_BYTES, &r->event_bytes);
    } else if (strcasecmp(k, "first-byte-ms") == 0) {
        rc = parse_ll(v, 0, MOCK_MAX_DELAY_MS, &r->first_byte_ms);
    } else if (strcasecmp(k, "stall-after") == 0) {
        rc = parse_ll(v, 0, MOCK_MAX_BODY_BYTES, &r->stall_after);
    } else if (strcasecmp(k, "reset-after") == 0) {
        rc = parse_ll(v, 0, MOCK_MAX_BODY_BYTES, &r->reset_after);
    } else if (strcasecmp(k, "body-bytes") == 0) {
        rc = parse_ll(v, 0, MOCK_MAX_BODY_BYTES, &r->body_bytes);
    } else if (strcasecmp(k, "echo") == 0) {
        r->echo = strcmp(v, "1") == 0;
        rc = r->echo || strcmp(v, "0") == 0 ? 0 : -1;
    } else if (strcasecmp(k, "drop") == 0) {
        r->drop = strcmp(v, "1") == 0;
        rc = r->drop || strcmp(v, "0") == 0 ? 0 : -1;
    } else if (strcasecmp(k, "fixture") == 0) {
        r->fixture = find_fixture(r->mock, v);
        rc = r->fixture ? 0 : -1;
    } else if (strcasecmp(k, "content-length") == 0) {
        if (r->n_content_length == MOCK_MAX_CONTENT_LENGTHS)
            rc = -1;
        else
            r->content_length[r->n_content_length++] = v;
    } else if (strncasecmp(k, "header", 6) == 0 && (k[6] == '\0' || k[6] == '-')) {
        if (r->n_extra == MOCK_MAX_EXTRA_HEADERS || !is_header_line(v))
            rc = -1;
        else
            r->extra[r->n_extra++] = v;
    } else {
        snprintf(r->bad, sizeof(r->bad), "mock_upstream: unknown header %.64s\n", key);
        return MHD_NO;
    }
    if (rc < 0) {
        snprintf(r->bad, sizeof(r->bad), "mock_upstream: bad %.40s value \"%.64s\"\n", key, v);
        return MHD_NO;
    }
    return MHD_YES;
}

/* ---- content readers ---- */

static void render_event(struct req *r)
{
    char head[512];
    long long seq = r->events_sent;
    bool last = seq == r->n_events - 1;
    int n = snprintf(
        head, sizeof(head),
        "data: {\"id\":\"chatcmpl-mock%llu\",\"object\":\"chat.completion.chunk\","
        "\"created\":%lld,\"model\":\"gpt-4o-mini-2024-07-18\",\"sp_mock_ts_us\":%" PRIu64
        ",\"sp_mock_seq\":%lld,\"choices\":[{\"index\":0,\"delta\":{%s\"content\":\"w%lld ",
        r->id, r->created, now_us(), seq, seq == 0 ? "\"role\":\"assistant\"," : "", seq);
    const char *tail = last ? "\"},\"logprobs\":null,\"finish_reason\":\"stop\"}]}\n\n"
                            : "\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n";
    size_t tail_len = strlen(tail);
    buf_reset(&r->ev);
    buf_append(&r->ev, head, (size_t)n);
    size_t want = (size_t)(r->event_bytes > 0 ? r->event_bytes : 0);
    size_t off = 0;
    while (r->ev.len + tail_len < want) {
        size_t k = want - tail_len - r->ev.len;
        if (k > sizeof(FILLER) - 1 - off) k = sizeof(FILLER) - 1 - off;
        buf_append(&r->ev, FILLER + off, k);
        off = (off + k) % (sizeof(FILLER) - 1);
    }
    buf_append(&r->ev, tail, tail_len);
    r->out = r->ev.data;
    r->out_len = r->ev.len;
    r->out_off = 0;
}

/* Sets r->out to the next event and returns 1, or returns what the reader should return: 0 when
 * suspended, or an MHD_CONTENT_READER_END_* code. */
static ssize_t next_event(struct req *r)
{
    long long total = r->fixture ? (long long)r->fixture->n_events : r->n_events;
    if (r->events_sent == r->reset_after) {
        r->did_reset = true;
        return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    if (r->events_sent == r->stall_after)
        return wait_until(r, UINT64_MAX) == WAIT_SUSPENDED ? 0 : MHD_CONTENT_READER_END_WITH_ERROR;
    if (r->events_sent == total) {
        if (r->fixture != NULL || r->done_sent) return MHD_CONTENT_READER_END_OF_STREAM;
        r->done_sent = true;
        r->out = DONE_EVENT;
        r->out_len = sizeof(DONE_EVENT) - 1;
        r->out_off = 0;
        return 1;
    }
    if (r->gap_ms > 0) {
        if (r->due_us == 0) r->due_us = now_us() + (uint64_t)r->gap_ms * 1000u;
        enum wait_result w = wait_until(r, r->due_us);
        if (w == WAIT_SUSPENDED) return 0;
        if (w == WAIT_END) return MHD_CONTENT_READER_END_WITH_ERROR;
        r->due_us = 0;
    }
    if (r->fixture != NULL) {
        const struct slice *ev = &r->fixture->events[r->events_sent];
        r->out = ev->ptr;
        r->out_len = ev->len;
        r->out_off = 0;
    } else {
        render_event(r);
    }
    r->events_sent++;
    return 1;
}

static ssize_t on_sse_read(void *cls, uint64_t pos, char *out, size_t max)
{
    struct req *r = cls;
    (void)pos;
    if (r->out_off == r->out_len) {
        ssize_t rc = next_event(r);
        if (rc != 1) return rc;
    }
    size_t n = r->out_len - r->out_off;
    if (n > max) n = max;
    memcpy(out, r->out + r->out_off, n);
    r->out_off += n;
    return (ssize_t)n;
}

static void fill_pattern(char *out, uint64_t pos, size_t n)
{
    static const char line[] = PATTERN_LINE "\n";
    size_t off = (size_t)(pos % (sizeof(line) - 1));
    while (n > 0) {
        size_t k = sizeof(line) - 1 - off;
        if (k > n) k = n;
        memcpy(out, line + off, k);
        out += k;
        n -= k;
        off = 0;
    }
}

static ssize_t on_body_read(void *cls, uint64_t pos, char *out, size_t max)
{
    struct req *r = cls;
    uint64_t limit = r->mem_len;
    if (pos >= limit) return MHD_CONTENT_READER_END_OF_STREAM; /* only when the size is unknown */
    if (r->reset_after >= 0 && pos >= (uint64_t)r->reset_after) {
        r->did_reset = true;
        return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    if (r->stall_after >= 0 && pos >= (uint64_t)r->stall_after)
        return wait_until(r, UINT64_MAX) == WAIT_SUSPENDED ? 0 : MHD_CONTENT_READER_END_WITH_ERROR;
    if (r->reset_after >= 0 && (uint64_t)r->reset_after < limit) limit = (uint64_t)r->reset_after;
    if (r->stall_after >= 0 && (uint64_t)r->stall_after < limit) limit = (uint64_t)r->stall_after;
    size_t n = limit - pos < max ? (size_t)(limit - pos) : max;
    if (r->mem != NULL)
        memcpy(out, r->mem + pos, n);
    else
        fill_pattern(out, pos, n);
    return (ssize_t)n;
}

/* ---- responses ---- */

struct got_headers {
    struct MHD_Response *resp;
    struct buf names;
};

static enum MHD_Result on_got_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
    struct got_headers *g = cls;
    char name[160];
    (void)kind;
    size_t len = strlen(key);
    if (len > sizeof(name) - sizeof("x-mock-got-h-")) return MHD_YES;
    int n = snprintf(name, sizeof(name), "x-mock-got-h-%s", key);
    for (int i = 0; i < n; i++)
        name[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] + 32 : name[i]);
    if (g->names.len > 0) buf_append_some(&g->names, ";", 1);
    buf_append_some(&g->names, name + 13, len);
    MHD_add_response_header(g->resp, name, value ? value : "");
    return MHD_YES;
}

static void add_echo_headers(struct req *r, struct MHD_Response *resp, const char *version)
{
    char num[32];
    struct got_headers g = {resp, {0}};
    const char *host = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Host");
    MHD_add_response_header(resp, "x-mock-got-method", r->method);
    MHD_add_response_header(resp, "x-mock-got-path", r->uri);
    MHD_add_response_header(resp, "x-mock-got-version", version);
    MHD_add_response_header(resp, "x-mock-got-host", host ? host : "");
    snprintf(num, sizeof(num), "%zu", r->body_bytes_in);
    MHD_add_response_header(resp, "x-mock-got-body-bytes", num);
    buf_init(&g.names, 16384);
    MHD_get_connection_values(r->conn, MHD_HEADER_KIND, on_got_header, &g);
    MHD_add_response_header(resp, "x-mock-got-headers", g.names.data ? g.names.data : "");
    buf_fini(&g.names);
}

static void add_extra_headers(struct req *r, struct MHD_Response *resp)
{
    for (size_t i = 0; i < r->n_extra; i++) {
        char name[128];
        const char *v = r->extra[i];
        size_t len = (size_t)(strchr(v, ':') - v);
        memcpy(name, v, len);
        name[len] = '\0';
        v += len + 1;
        v += strspn(v, " \t");
        if (MHD_add_response_header(resp, name, v) == MHD_NO)
            log_warn("cannot add response header name=%s", name);
    }
}

static size_t block_bytes(uint64_t want)
{
    if (want < MOCK_MIN_BLOCK_BYTES) return MOCK_MIN_BLOCK_BYTES;
    return want > MOCK_BLOCK_BYTES ? MOCK_BLOCK_BYTES : (size_t)want;
}

/* A body from memory (mem, NULL for PATTERN_LINE) of len bytes, through the reader when it must
 * stall or reset, otherwise in one piece. Takes ownership of r->body when mem is its data. With a
 * scripted Content-Length, the size is left unknown so that MHD sends no length of its own. */
static struct MHD_Response *body_response(struct req *r, const char *mem, uint64_t len)
{
    bool own_length = r->n_content_length == 0;
    if (mem != NULL && r->reset_after < 0 && r->stall_after < 0 && own_length) {
        if (mem != r->body.data)
            return MHD_create_response_from_buffer((size_t)len, (void *)mem,
                                                   MHD_RESPMEM_PERSISTENT);
        size_t n;
        char *data = buf_steal(&r->body, &n);
        return MHD_create_response_from_buffer(n, data, MHD_RESPMEM_MUST_FREE);
    }
    r->mem = mem;
    r->mem_len = len;
    return MHD_create_response_from_callback(own_length ? len : MHD_SIZE_UNKNOWN, block_bytes(len),
                                             on_body_read, r, NULL);
}

static enum MHD_Result respond(struct req *r, const char *version)
{
    struct MHD_Response *resp;
    int status = r->status >= 0 ? (int)r->status : 200;
    const char *ctype = "application/json";
    if (r->bad[0] != '\0') {
        status = MHD_HTTP_BAD_REQUEST;
        ctype = "text/plain";
        resp = MHD_create_response_from_buffer(strlen(r->bad), r->bad, MHD_RESPMEM_MUST_COPY);
    } else if (r->drop) {
        r->did_reset = true;
        return MHD_NO;
    } else if (r->body_too_big) {
        status = MHD_HTTP_CONTENT_TOO_LARGE;
        resp = MHD_create_response_from_buffer(sizeof(ERROR_REPLY) - 1, (void *)ERROR_REPLY,
                                               MHD_RESPMEM_PERSISTENT);
    } else if (!r->has_scenario) {
        r->status_sent = MHD_HTTP_OK;
        return MHD_queue_response(r->conn, MHD_HTTP_OK, r->mock->default_reply);
    } else if (r->n_events >= 0 || (r->fixture != NULL && r->fixture->is_sse)) {
        ctype = "text/event-stream";
        uint64_t event_bytes = r->fixture
                                   ? r->fixture->max_event_bytes
                                   : (uint64_t)(r->event_bytes > 0 ? r->event_bytes : 0) + 512u;
        resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, block_bytes(event_bytes),
                                                 on_sse_read, r, NULL);
        if (resp != NULL) MHD_add_response_header(resp, "Cache-Control", "no-cache");
    } else if (r->echo) {
        resp = body_response(r, r->body.data ? r->body.data : "", r->body.len);
    } else if (r->body_bytes >= 0) {
        ctype = "text/plain";
        resp = body_response(r, NULL, (uint64_t)r->body_bytes);
    } else if (r->fixture != NULL) {
        resp = body_response(r, r->fixture->data, r->fixture->len);
    } else if (status >= 400) {
        resp = body_response(r, ERROR_REPLY, sizeof(ERROR_REPLY) - 1);
    } else if (status < 200 || status == 204 || status == 304) {
        ctype = NULL;
        resp = body_response(r, "", 0);
    } else {
        resp = body_response(r, DEFAULT_REPLY, sizeof(DEFAULT_REPLY) - 1);
    }
    if (resp == NULL) {
        log_error("cannot create a response req=%llu", r->id);
        return MHD_NO;
    }
    if (r->echo && r->bad[0] == '\0') add_echo_headers(r, resp, version);
    add_extra_headers(r, resp);
    if (ctype != NULL && MHD_get_response_header(resp, "Content-Type") == NULL)
        MHD_add_response_header(resp, "Content-Type", ctype);
    if (r->n_content_length > 0) {
        /* No chunking, close-delimited: the scripted values are the only framing sent. */
        MHD_set_response_options(
            resp, MHD_RF_HTTP_1_0_COMPATIBLE_STRICT | MHD_RF_INSANITY_HEADER_CONTENT_LENGTH,
            MHD_RO_END);
        for (size_t i = 0; i < r->n_content_length; i++)
            MHD_add_response_header(resp, "Content-Length", r->content_length[i]);
    }
    enum MHD_Result ret = MHD_queue_response(r->conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    if (ret == MHD_YES) r->status_sent = status;
    return ret;
}

/* ---- MHD callbacks ---- */

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    struct mock *m = cls;
    struct req *r = xcalloc(1, sizeof(*r));
    r->mock = m;
    r->conn = conn;
    r->uri = xstrdup(uri);
    strcpy(r->method, "-");
    r->id = atomic_fetch_add_explicit(&m->n_requests, 1, memory_order_relaxed) + 1;
    r->status = r->n_events = r->gap_ms = r->event_bytes = r->first_byte_ms = -1;
    r->stall_after = r->reset_after = r->body_bytes = -1;
    buf_init(&r->body, MOCK_MAX_ECHO_BYTES);
    buf_init(&r->ev, MOCK_MAX_EVENT_BYTES + 1024);
    return r;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct req *r = *con_cls;
    if (r == NULL) *con_cls = r = on_uri(cls, url, conn); /* not reached: on_uri runs first */
    if (!r->started) {
        r->started = true;
        snprintf(r->method, sizeof(r->method), "%s", method);
        r->created = (long long)time(NULL);
        MHD_get_connection_values(conn, MHD_HEADER_KIND, on_scenario_header, r);
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        r->body_bytes_in += *upload_data_size;
        if (r->echo && !r->body_too_big && buf_append(&r->body, upload_data, *upload_data_size) < 0)
            r->body_too_big = true;
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (r->first_byte_ms > 0 && r->bad[0] == '\0') {
        if (r->due_us == 0) r->due_us = now_us() + (uint64_t)r->first_byte_ms * 1000u;
        enum wait_result w = wait_until(r, r->due_us);
        if (w == WAIT_SUSPENDED) return MHD_YES;
        if (w == WAIT_END) return MHD_NO;
        r->due_us = 0;
        r->first_byte_ms = 0;
    }
    return respond(r, version);
}

static const char *outcome_name(const struct req *r, enum MHD_RequestTerminationCode toe)
{
    if (r->did_reset) return "reset";
    if (r->peer_gone) return "client_aborted";
    if (r->shutdown) return "shutdown";
    switch (toe) {
    case MHD_REQUEST_TERMINATED_COMPLETED_OK:
        return "complete";
    case MHD_REQUEST_TERMINATED_TIMEOUT_REACHED:
        return "timeout";
    case MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN:
        return "shutdown";
    case MHD_REQUEST_TERMINATED_WITH_ERROR:
    case MHD_REQUEST_TERMINATED_READ_ERROR:
    case MHD_REQUEST_TERMINATED_CLIENT_ABORT:
    default:
        return "client_aborted";
    }
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct mock *m = cls;
    struct req *r = *con_cls;
    (void)conn;
    if (r == NULL) return;
    if (m->log_fd >= 0) {
        char line[4096];
        int n = snprintf(line, sizeof(line),
                         "%s %.3000s body_bytes=%zu status=%d events_sent=%lld outcome=%s\n",
                         r->method, r->uri, r->body_bytes_in, r->status_sent, r->events_sent,
                         outcome_name(r, toe));
        if (n > 0 && write(m->log_fd, line, (size_t)n) != n)
            log_warn("cannot write the request log: %s", strerror(errno));
    }
    log_debug("req=%llu %s status=%d events_sent=%lld outcome=%s", r->id, r->method, r->status_sent,
              r->events_sent, outcome_name(r, toe));
    buf_fini(&r->body);
    buf_fini(&r->ev);
    free(r->uri);
    free(r);
    *con_cls = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    (void)cls;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    msg[strcspn(msg, "\n")] = '\0';
    log_debug("mhd: %s", msg);
}

/* ---- startup ---- */

static int read_file(const char *path, char **data, size_t *len, struct err *err)
{
    int rc = -1;
    char *p = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        err_set(err, "%s: %s", path, strerror(errno));
        goto out;
    }
    if (st.st_size > (off_t)MOCK_MAX_FIXTURE_BYTES) {
        err_set(err, "%s: larger than %u bytes", path, MOCK_MAX_FIXTURE_BYTES);
        goto out;
    }
    p = xmalloc((size_t)st.st_size + 1);
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, p + got, (size_t)st.st_size - got);
        if (n <= 0) {
            err_set(err, "%s: %s", path, n < 0 ? strerror(errno) : "shorter than its size");
            goto out;
        }
        got += (size_t)n;
    }
    p[got] = '\0';
    *data = p;
    *len = got;
    p = NULL;
    rc = 0;
out:
    free(p);
    if (fd >= 0) close(fd);
    return rc;
}

/* Splits an SSE fixture into events, each ending with its blank line (LF, CRLF or CR endings). */
static void split_events(struct fixture *f)
{
    size_t start = 0, alloc = 0;
    for (size_t i = 0; i < f->len; i++) {
        size_t end = 0;
        if (f->len - i >= 4 && memcmp(f->data + i, "\r\n\r\n", 4) == 0)
            end = i + 4;
        else if (f->len - i >= 2 && memcmp(f->data + i, "\n\n", 2) == 0)
            end = i + 2;
        else if (f->len - i >= 2 && memcmp(f->data + i, "\r\r", 2) == 0)
            end = i + 2;
        if (end == 0 && i + 1 < f->len) continue;
        if (end == 0) end = f->len; /* trailing bytes without a blank line */
        if (f->n_events == alloc) {
            alloc = alloc ? alloc * 2 : 16;
            f->events = xrealloc(f->events, alloc * sizeof(*f->events));
        }
        f->events[f->n_events++] = (struct slice){f->data + start, end - start};
        if (end - start > f->max_event_bytes) f->max_event_bytes = end - start;
        start = end;
        i = end - 1;
    }
}

static bool is_fixture_name(const char *name)
{
    return name[0] != '.' &&
           name[strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                             "0123456789._-")] == '\0';
}

static int load_fixtures(struct mock *m, const char *dir, struct err *err)
{
    int rc = -1;
    DIR *d = opendir(dir);
    if (d == NULL) {
        err_set(err, "--fixtures %s: %s", dir, strerror(errno));
        goto out;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (!is_fixture_name(de->d_name)) continue;
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        struct stat st;
        if (stat(path, &st) < 0 || !S_ISREG(st.st_mode)) continue;
        m->fixtures = xrealloc(m->fixtures, (m->n_fixtures + 1) * sizeof(*m->fixtures));
        struct fixture *f = &m->fixtures[m->n_fixtures];
        memset(f, 0, sizeof(*f));
        if (read_file(path, &f->data, &f->len, err) < 0) goto out;
        f->name = xstrdup(de->d_name);
        size_t nlen = strlen(f->name);
        f->is_sse = nlen > 4 && strcmp(f->name + nlen - 4, ".sse") == 0;
        if (f->is_sse) split_events(f);
        m->n_fixtures++;
    }
    rc = 0;
out:
    if (d != NULL) closedir(d);
    return rc;
}

static void free_fixtures(struct mock *m)
{
    for (size_t i = 0; i < m->n_fixtures; i++) {
        free(m->fixtures[i].name);
        free(m->fixtures[i].data);
        free(m->fixtures[i].events);
    }
    free(m->fixtures);
    m->fixtures = NULL;
    m->n_fixtures = 0;
}

/* --tls-cert/--tls-key: the PEM files, whole, for MHD_OPTION_HTTPS_MEM_CERT/KEY. */
static int load_tls(struct mock *m, const char *cert, const char *key, struct err *err)
{
    size_t len;
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
        err_set(err, "--tls-cert: this libmicrohttpd was built without TLS support");
        return -1;
    }
    if (read_file(cert, &m->tls_cert, &len, err) < 0) return -1;
    if (read_file(key, &m->tls_key, &len, err) < 0) return -1;
    return 0;
}

/* Readers poll for the file: write it whole under another name, then rename it into place. */
static int write_port_file(const char *path, unsigned port, struct err *err)
{
    int rc = -1;
    char tmp[PATH_MAX], line[16];
    snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
    int len = snprintf(line, sizeof(line), "%u\n", port);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, line, (size_t)len) != len || close(fd) < 0) {
        err_set(err, "%s: %s", tmp, strerror(errno));
        goto out;
    }
    fd = -1;
    if (rename(tmp, path) < 0) {
        err_set(err, "rename %s: %s", path, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    if (fd >= 0) close(fd);
    return rc;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: mock_upstream --port N --port-file FILE [--bind ADDR] [--log FILE]\n"
               "                     [--threads N] [--fixtures DIR] [--log-level LEVEL]\n"
               "                     [--blackhole]   (accept nothing: connects time out)\n"
               "                     [--tls-cert FILE --tls-key FILE]   (serve HTTPS, PEM)\n"
               "A fake LLM API scripted by x-mock-* request headers (see tests/mock/"
               "mock_upstream.c).\n");
}

struct options {
    long port;
    long threads;
    const char *bind;
    const char *port_file;
    const char *log_path;
    const char *fixtures;
    const char *tls_cert;
    const char *tls_key;
    bool blackhole;
};

static int parse_options(int argc, char **argv, struct options *o)
{
    static const struct option longopts[] = {
        {"port", required_argument, NULL, 'p'},
        {"port-file", required_argument, NULL, 'f'},
        {"bind", required_argument, NULL, 'b'},
        {"log", required_argument, NULL, 'l'},
        {"threads", required_argument, NULL, 't'},
        {"fixtures", required_argument, NULL, 'x'},
        {"log-level", required_argument, NULL, 'v'},
        {"blackhole", no_argument, NULL, 'B'},
        {"tls-cert", required_argument, NULL, 'C'},
        {"tls-key", required_argument, NULL, 'K'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    *o = (struct options){.port = 0, .threads = 1, .bind = "127.0.0.1"};
    int c, idx = 0;
    long long v;
    while ((c = getopt_long(argc, argv, "", longopts, &idx)) != -1) {
        switch (c) {
        case 'p':
            if (parse_ll(optarg, 0, 65535, &v) < 0) goto bad;
            o->port = (long)v;
            break;
        case 't':
            if (parse_ll(optarg, 1, 256, &v) < 0) goto bad;
            o->threads = (long)v;
            break;
        case 'f':
            o->port_file = optarg;
            break;
        case 'b':
            o->bind = optarg;
            break;
        case 'l':
            o->log_path = optarg;
            break;
        case 'x':
            o->fixtures = optarg;
            break;
        case 'v':
            if (log_level_parse(optarg, &log_level_current) < 0) goto bad;
            break;
        case 'B':
            o->blackhole = true;
            break;
        case 'C':
            o->tls_cert = optarg;
            break;
        case 'K':
            o->tls_key = optarg;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return -1;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return -1;
    }
    if ((o->tls_cert == NULL) != (o->tls_key == NULL)) {
        fprintf(stderr, "mock_upstream: --tls-cert and --tls-key go together\n");
        return -1;
    }
    return 0;
bad:
    fprintf(stderr, "mock_upstream: bad value \"%s\" for --%s\n", optarg, longopts[idx].name);
    return -1;
}

/* Slow-stream tests hold thousands of sockets: take every descriptor the hard limit allows. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* --blackhole: a port whose handshakes never complete, for connect-timeout tests. The listen
 * queue (backlog 0) is filled by our own connections and never drained, so Linux drops every
 * further SYN and a client's connect() hangs until its own deadline. */
static int run_blackhole(const struct options *opt, const sigset_t *sigs)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)opt->port)};
    socklen_t len = sizeof(sin);
    int fds[8], n = 0, sig;
    if (inet_pton(AF_INET, opt->bind, &sin.sin_addr) != 1) return 1;
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(lfd, 0) < 0 ||
        getsockname(lfd, (struct sockaddr *)&sin, &len) < 0) {
        log_error("blackhole: %s", strerror(errno));
        return 1;
    }
    for (; n < (int)(sizeof(fds) / sizeof(fds[0])); n++) {
        fds[n] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fds[n] < 0) break;
        connect(fds[n], (struct sockaddr *)&sin, sizeof(sin)); /* EINPROGRESS: left pending */
    }
    struct err err = {{0}};
    if (opt->port_file != NULL && write_port_file(opt->port_file, ntohs(sin.sin_port), &err) < 0) {
        log_error("%s", err.msg);
        return 1;
    }
    log_info("blackhole on port %u", ntohs(sin.sin_port));
    sigwait(sigs, &sig);
    for (int i = 0; i < n; i++)
        close(fds[i]);
    close(lfd);
    return 0;
}

int main(int argc, char **argv)
{
    struct options opt;
    struct mock m = {.log_fd = -1};
    struct MHD_Daemon *d = NULL;
    struct err err = {{0}};
    bool timer_running = false;
    int status = 1;
    if (parse_options(argc, argv, &opt) < 0) return 2;

    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL); /* before any thread: they all inherit it */
    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();
    if (opt.blackhole) return run_blackhole(&opt, &sigs);
    atomic_init(&m.n_requests, 0);

    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)opt.port)};
    if (inet_pton(AF_INET, opt.bind, &sin.sin_addr) != 1) {
        err_set(&err, "--bind %s: not an IPv4 address", opt.bind);
        goto out;
    }
    if (opt.fixtures != NULL && load_fixtures(&m, opt.fixtures, &err) < 0) goto out;
    if (opt.tls_cert != NULL && load_tls(&m, opt.tls_cert, opt.tls_key, &err) < 0) goto out;
    if (opt.log_path != NULL) {
        m.log_fd = open(opt.log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (m.log_fd < 0) {
            err_set(&err, "--log %s: %s", opt.log_path, strerror(errno));
            goto out;
        }
    }
    m.default_reply = MHD_create_response_from_buffer(
        sizeof(DEFAULT_REPLY) - 1, (void *)DEFAULT_REPLY, MHD_RESPMEM_PERSISTENT);
    if (m.default_reply == NULL ||
        MHD_add_response_header(m.default_reply, "Content-Type", "application/json") == MHD_NO) {
        err_set(&err, "cannot create the default reply");
        goto out;
    }
    if (timer_start(&m.timer, &err) < 0) goto out;
    timer_running = true;

    /* The PEM strings must outlive the daemon: they are freed after MHD_stop_daemon(). */
    struct MHD_OptionItem tls_opts[] = {
        {MHD_OPTION_HTTPS_MEM_CERT, 0, m.tls_cert},
        {MHD_OPTION_HTTPS_MEM_KEY, 0, m.tls_key},
        {MHD_OPTION_END, 0, NULL},
    };
    bool tls = m.tls_cert != NULL;
    d = MHD_start_daemon(
        MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | (tls ? MHD_USE_TLS : 0), 0, NULL,
        NULL, on_request, &m, MHD_OPTION_ARRAY, tls ? tls_opts : &tls_opts[2], MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&sin, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned int)(opt.threads > 1 ? opt.threads : 0), MHD_OPTION_CONNECTION_LIMIT,
        MOCK_MAX_CONNECTIONS, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)MOCK_CONN_MEMORY_BYTES,
        MHD_OPTION_CONNECTION_TIMEOUT, 0u, MHD_OPTION_LISTEN_BACKLOG_SIZE, 4096u,
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, &m, MHD_OPTION_NOTIFY_COMPLETED, on_completed, &m,
        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, &m, MHD_OPTION_END);
    if (d == NULL) {
        err_set(&err, "cannot start the %s daemon on %s:%ld (%srun with --log-level debug)",
                tls ? "HTTPS" : "HTTP", opt.bind, opt.port,
                tls ? "a bad --tls-cert or --tls-key? " : "");
        goto out;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    unsigned port = info ? info->port : 0;
    if (opt.port_file != NULL && write_port_file(opt.port_file, port, &err) < 0) goto out;
    log_info("listening addr=%s port=%u threads=%ld fixtures=%zu tls=%s", opt.bind, port,
             opt.threads, m.n_fixtures, tls ? "yes" : "no");

    int sig = 0;
    sigwait(&sigs, &sig);
    log_info("stopping signal=%d requests=%llu", sig,
             (unsigned long long)atomic_load(&m.n_requests));
    status = 0;
out:
    if (err.msg[0] != '\0') log_error("%s", err.msg);
    if (timer_running) timer_stop(&m.timer); /* MHD must not see a suspended connection */
    if (d != NULL) MHD_stop_daemon(d);
    if (timer_running) timer_fini(&m.timer);
    if (m.default_reply != NULL) MHD_destroy_response(m.default_reply);
    if (m.log_fd >= 0) close(m.log_fd);
    free_fixtures(&m);
    free(m.tls_cert);
    free(m.tls_key);
    return status;
}
