/* Upstream transfers with libcurl, on the relay's loop thread. The request goes out with the
 * client's method, target, body bytes and end-to-end headers; the response head is parsed here
 * (status, framing, headers to relay) and its body bytes are appended to the relay buffer
 * untouched. A full buffer pauses the transfer (CURL_WRITEFUNC_PAUSE) until the client reads. */
#include "proxy/upstream.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/xalloc.h"
#include "proxy/headers.h"
#include "proxy/loop.h"
#include "proxy/server.h"

#define LOG_MODULE "upstream"
#include "core/log.h"

static void fail(struct relay *r, enum exchange_outcome outcome, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void fail(struct relay *r, enum exchange_outcome outcome, int status, const char *fmt, ...)
{
    if (r->upstream_error != EXCHANGE_COMPLETE) return; /* the first cause wins */
    r->upstream_error = outcome;
    r->error_status = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->error_detail, sizeof(r->error_detail), fmt, ap);
    va_end(ap);
}

struct header_walk {
    struct relay *r;
    const char *connection;
    bool has_content_type;
    bool has_accept;
};

static enum MHD_Result add_request_header(void *cls, enum MHD_ValueKind kind, const char *name,
                                          const char *value)
{
    (void)kind;
    struct header_walk *w = cls;
    size_t len = strlen(name);
    if (!headers_should_forward(name, len, HEADERS_REQUEST, w->connection)) return MHD_YES;
    if (strcasecmp(name, "content-type") == 0)
        w->has_content_type = true;
    else if (strcasecmp(name, "accept") == 0)
        w->has_accept = true;
    size_t vlen = value ? strlen(value) : 0;
    char stack[512];
    char *line = len + vlen + 3 <= sizeof(stack) ? stack : xmalloc(len + vlen + 3);
    /* "Name;" is libcurl's spelling of a header with an empty value ("Name:" would remove it). */
    if (vlen == 0)
        sprintf(line, "%s;", name);
    else
        sprintf(line, "%s: %s", name, value);
    struct curl_slist *next = curl_slist_append(w->r->request_headers, line);
    if (line != stack) free(line);
    if (next == NULL) {
        fprintf(stderr, "fatal: out of memory\n");
        abort();
    }
    w->r->request_headers = next;
    return MHD_YES;
}

static void add_header_line(struct relay *r, const char *line)
{
    struct curl_slist *next = curl_slist_append(r->request_headers, line);
    if (next == NULL) {
        fprintf(stderr, "fatal: out of memory\n");
        abort();
    }
    r->request_headers = next;
}

/* Response head lines. curl gives every line of every head, interim 1xx ones included, and the
 * trailers of a chunked body after it: only the final head before its body is relayed. */
static size_t on_header(char *line, size_t size, size_t nitems, void *userdata)
{
    struct relay *r = userdata;
    size_t n = size * nitems;
    if (r->client_gone) return 0;
    if (r->head_complete) return n; /* trailers: not relayed */
    int64_t now = exchange_now_us();
    if (r->first_byte_us == 0) r->first_byte_us = now;
    if (n >= 5 && memcmp(line, "HTTP/", 5) == 0) {
        const char *sp = memchr(line, ' ', n);
        int status = 0;
        if (sp && (size_t)(sp - line) + 4 <= n && isdigit((unsigned char)sp[1]) &&
            isdigit((unsigned char)sp[2]) && isdigit((unsigned char)sp[3]))
            status = (sp[1] - '0') * 100 + (sp[2] - '0') * 10 + (sp[3] - '0');
        if (status < 100) {
            r->bad_head = true;
            fail(r, EXCHANGE_UPSTREAM_ERROR, 502, "malformed upstream status line");
            return 0;
        }
        r->status = status;
        r->content_length = -1;
        r->chunked = false;
        buf_reset(&r->response_head);
        free(r->connection);
        r->connection = NULL;
        return n;
    }
    size_t len = n;
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        len--;
    if (len == 0) {
        if (r->status < 200) return n; /* end of an interim head */
        r->head_complete = true;
        r->last_byte_us = now;
        if (r->chunked) r->content_length = -1;
        server_wake(r);
        return n;
    }
    const char *colon = memchr(line, ':', len);
    if (colon == NULL || !headers_is_token(line, (size_t)(colon - line)))
        return n; /* obsolete line folding or junk: dropped, as RFC 9112 §5.2 allows a proxy */
    size_t name_len = (size_t)(colon - line);
    const char *value = colon + 1;
    const char *value_end = line + len;
    while (value < value_end && (*value == ' ' || *value == '\t'))
        value++;
    while (value_end > value && (value_end[-1] == ' ' || value_end[-1] == '\t'))
        value_end--;
    size_t value_len = (size_t)(value_end - value);

    if (name_len == 14 && strncasecmp(line, "content-length", 14) == 0) {
        char digits[32];
        char *endp;
        snprintf(digits, sizeof(digits), "%.*s", (int)value_len, value);
        long long cl = strtoll(digits, &endp, 10);
        if (value_len == 0 || value_len >= sizeof(digits) || *endp != '\0' || cl < 0 ||
            (r->content_length >= 0 && r->content_length != cl)) {
            r->bad_head = true;
            fail(r, EXCHANGE_UPSTREAM_ERROR, 502,
                 "upstream sent an invalid or conflicting "
                 "Content-Length");
            return 0;
        }
        r->content_length = cl;
        return n;
    }
    if (name_len == 17 && strncasecmp(line, "transfer-encoding", 17) == 0) r->chunked = true;
    if (name_len == 10 && strncasecmp(line, "connection", 10) == 0) {
        free(r->connection);
        r->connection = xstrndup(value, value_len);
    }
    char name[256];
    if (name_len >= sizeof(name)) return n;
    memcpy(name, line, name_len);
    name[name_len] = '\0';
    if (!headers_should_forward(name, name_len, HEADERS_RESPONSE, r->connection)) return n;
    /* x-request-id on the response is ours (SPEC); upstream's own id stays visible. */
    const char *out_name = strcasecmp(name, "x-request-id") == 0 ? "x-upstream-request-id" : name;
    if (buf_append(&r->response_head, out_name, strlen(out_name) + 1) < 0 ||
        buf_append(&r->response_head, value, value_len) < 0 ||
        buf_append(&r->response_head, "", 1) < 0) {
        r->bad_head = true;
        fail(r, EXCHANGE_UPSTREAM_ERROR, 502, "upstream response head exceeds %zu bytes",
             r->response_head.cap);
        return 0;
    }
    return n;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *userdata)
{
    struct relay *r = userdata;
    size_t n = size * nmemb;
    if (r->client_gone) return 0;
    const struct config *cfg = loop_config(r->loop);
    size_t pending = r->body.len - r->body_off;
    if (pending > 0 && pending + n > cfg->relay_buffer_bytes) {
        if (!r->paused) stats_add(&loop_stats_mut(r->loop)->upstream_pauses, 1);
        r->paused = true;
        return CURL_WRITEFUNC_PAUSE;
    }
    if (r->body_off > 0) {
        buf_consume(&r->body, r->body_off);
        r->body_off = 0;
    }
    if (buf_append(&r->body, data, n) < 0) {
        r->paused = true;
        return CURL_WRITEFUNC_PAUSE;
    }
    r->paused = false;
    r->last_byte_us = exchange_now_us();
    r->response_bytes += n;
    if (r->capture) exchange_add_body(r->capture, data, n);
    server_wake(r);
    return n;
}

void upstream_maybe_unpause(struct relay *r)
{
    if (!r->paused || r->easy == NULL) return;
    const struct config *cfg = loop_config(r->loop);
    if (r->body.len - r->body_off > cfg->relay_buffer_bytes / 2) return;
    r->paused = false;
    r->last_byte_us = exchange_now_us();
    /* May call on_write at once with the bytes curl held back. */
    curl_easy_pause(r->easy, CURLPAUSE_CONT);
}

/* The handle may have served another request: every method option is set afresh. */
static void set_method_and_body(struct relay *r, CURL *e)
{
    curl_easy_setopt(e, CURLOPT_NOBODY, 0L);
    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, NULL);
    bool has_body = r->request_body.len > 0 ||
                    MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Content-Length") ||
                    MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Transfer-Encoding");
    if (has_body) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->request_body.len);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->request_body.data ? r->request_body.data : "");
        if (strcmp(r->method, "POST") != 0) curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r->method);
    } else if (strcmp(r->method, "HEAD") == 0) {
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else if (strcmp(r->method, "GET") != 0) {
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r->method);
    }
}

int upstream_start(struct relay *r)
{
    CURL *e = loop_easy_get(r->loop);
    if (e == NULL) {
        fail(r, EXCHANGE_UPSTREAM_ERROR, 502, "curl_easy_init failed");
        return -1;
    }
    struct header_walk walk = {
        .r = r,
        .connection = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Connection"),
    };
    MHD_get_connection_values(r->conn, MHD_HEADER_KIND, add_request_header, &walk);
    /* PITFALLS.md: no "Expect: 100-continue" wait; no libcurl defaults the client did not send. */
    add_header_line(r, "Expect:");
    if (!walk.has_accept) add_header_line(r, "Accept:");
    if (!walk.has_content_type) add_header_line(r, "Content-Type:");

    size_t base_len = strlen(r->upstream->url);
    char *url = xmalloc(base_len + strlen(r->uri) + 1);
    memcpy(url, r->upstream->url, base_len);
    strcpy(url + base_len, r->uri);
    curl_easy_setopt(e, CURLOPT_URL, url);
    free(url); /* libcurl copies strings it is given */
    curl_easy_setopt(e, CURLOPT_PRIVATE, r);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->request_headers);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->curl_error);
    set_method_and_body(r, e);

    r->easy = e;
    r->transfer_start_us = exchange_now_us();
    r->last_byte_us = r->transfer_start_us;
    loop_track(r->loop, r);
    CURLMcode mc = curl_multi_add_handle(loop_multi(r->loop), e);
    if (mc != CURLM_OK) {
        loop_untrack(r->loop, r);
        r->easy = NULL;
        loop_easy_put(r->loop, e);
        fail(r, EXCHANGE_UPSTREAM_ERROR, 502, "curl_multi_add_handle: %s", curl_multi_strerror(mc));
        return -1;
    }
    return 0;
}

/* Releases the transfer's resources; the relay keeps its outcome. */
static void end_transfer(struct relay *r)
{
    curl_multi_remove_handle(loop_multi(r->loop), r->easy);
    loop_easy_put(r->loop, r->easy);
    r->easy = NULL;
    r->paused = false;
    r->upstream_done = true;
    r->upstream_end_us = exchange_now_us();
    curl_slist_free_all(r->request_headers);
    r->request_headers = NULL;
    free(r->connection);
    r->connection = NULL;
    loop_untrack(r->loop, r);
}

void upstream_on_done(struct relay *r, CURLcode rc)
{
    if (rc != CURLE_OK && !r->bad_head) {
        const char *what = r->curl_error[0] ? r->curl_error : curl_easy_strerror(rc);
        if (r->client_gone)
            fail(r, EXCHANGE_CLIENT_ABORT, 0, "client closed the connection");
        else if (rc == CURLE_OPERATION_TIMEDOUT)
            fail(r, EXCHANGE_TIMEOUT, 504, "upstream connect timeout: %s", what);
        else
            fail(r, EXCHANGE_UPSTREAM_ERROR, 502, "upstream failed: %s", what);
    }
    end_transfer(r);
    server_wake(r);
}

void upstream_abort(struct relay *r, enum exchange_outcome outcome, int status, const char *why)
{
    if (r->easy == NULL) return;
    fail(r, outcome, status, "%s", why);
    /* Removing a running transfer closes its connection: the upstream sees the abort now. */
    end_transfer(r);
    server_wake(r);
}
