/* Client side of an exchange, on its loop thread. MHD calls us when the request line is parsed
 * (on_uri: the relay is made), for the head and each body piece (on_request), for response bytes
 * (on_read) and at the end (on_completed: the relay is freed). While we wait for upstream, the
 * connection is suspended; upstream.c resumes it through server_wake(). Every answer the proxy
 * makes itself comes from answer_error(), in OpenAI's error shape. */
#include "proxy/server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "core/sampler.h"
#include "core/xalloc.h"
#include "proxy/headers.h"
#include "proxy/loop.h"
#include "proxy/relay.h"

#define LOG_MODULE "server"
#include "core/log.h"

/* MHD allocates (and zeroes) this buffer with every response; it only serves responses of known
 * length (chunked ones are written from the connection's pool), so it is sized to the body. */
#define SERVER_BLOCK_BYTES (16 * 1024)
/* Body bytes past max_body_bytes read (and dropped) so that a 413 can still be sent. */
#define SERVER_DISCARD_MAX_BYTES (1024 * 1024)

void *server_on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    struct loop *l = cls;
    const struct config *cfg = loop_config(l);
    struct relay *r = xcalloc(1, sizeof(*r));
    r->loop = l;
    r->conn = conn;
    r->phase = RELAY_RECEIVING;
    r->client_fd = -1;
    r->uri = xstrdup(uri);
    r->content_length = -1;
    r->start_us = exchange_now_us();
    buf_init(&r->request_body, cfg->max_body_bytes);
    buf_init(&r->response_head, 64 * 1024);
    /* One curl chunk beyond the relay cap: curl hands over at most CURL_MAX_WRITE_SIZE bytes at a
     * time and a callback must take all of them or pause. */
    buf_init(&r->body, cfg->relay_buffer_bytes + CURL_MAX_WRITE_SIZE);
    struct stats *st = loop_stats_mut(l);
    stats_add(&st->requests, 1);
    atomic_store_explicit(&st->inflight,
                          atomic_load_explicit(&st->inflight, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    return r;
}

size_t server_on_unescape(void *cls, struct MHD_Connection *conn, char *s)
{
    (void)cls;
    (void)conn;
    return strlen(s);
}

static void count_status(struct relay *r, int status)
{
    struct stats *st = loop_stats_mut(r->loop);
    const struct config *cfg = loop_config(r->loop);
    int cls = status / 100;
    if (r->upstream && cls >= 1 && cls <= 5) {
        size_t route = (size_t)(r->upstream - cfg->upstreams);
        if (route < STATS_MAX_ROUTES) stats_add(&st->by_route[route][cls - 1], 1);
    }
    switch (status / 100) {
    case 1:
        stats_add(&st->responses_1xx, 1);
        break;
    case 2:
        stats_add(&st->responses_2xx, 1);
        break;
    case 3:
        stats_add(&st->responses_3xx, 1);
        break;
    case 4:
        stats_add(&st->responses_4xx, 1);
        break;
    default:
        stats_add(&st->responses_5xx, 1);
        break;
    }
}

/* Writes s into out as JSON string content (no quotes); truncates to fit. */
static void json_escape(char *out, size_t size, const char *s)
{
    size_t o = 0;
    for (; *s && o + 7 < size; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c < 0x20) {
            o += (size_t)snprintf(out + o, size - o, "\\u%04x", c);
        } else {
            out[o++] = (char)c;
        }
    }
    out[o] = '\0';
}

/* The one place where the proxy answers by itself. */
static enum MHD_Result answer_error(struct relay *r, int status, const char *type, const char *code,
                                    const char *message)
{
    struct stats *st = loop_stats_mut(r->loop);
    char escaped[512], body[768];
    json_escape(escaped, sizeof(escaped), message);
    int len = snprintf(body, sizeof(body),
                       "{\"error\":{\"message\":\"%s\",\"type\":\"%s\",\"code\":\"%s\"}}\n",
                       escaped, type, code);
    struct MHD_Response *resp =
        MHD_create_response_from_buffer((size_t)len, body, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(resp, "Content-Type", "application/json");
    MHD_add_response_header(resp, "x-request-id", r->id);
    if (loop_is_draining(r->loop) || status == MHD_HTTP_CONTENT_TOO_LARGE ||
        status == MHD_HTTP_BAD_REQUEST)
        MHD_add_response_header(resp, "Connection", "close");
    enum MHD_Result ret = MHD_queue_response(r->conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    r->phase = RELAY_ANSWERED;
    r->status = status;
    count_status(r, status);
    if (status == MHD_HTTP_BAD_GATEWAY) {
        stats_add(&st->upstream_errors, 1);
        log_warn("req=%s status=502 upstream=%s error=\"%s\"", r->id,
                 r->upstream ? r->upstream->name : "-", message);
    } else if (status == MHD_HTTP_GATEWAY_TIMEOUT) {
        stats_add(&st->upstream_timeouts, 1);
        log_warn("req=%s status=504 upstream=%s error=\"%s\"", r->id,
                 r->upstream ? r->upstream->name : "-", message);
    } else if (status == MHD_HTTP_CONTENT_TOO_LARGE) {
        stats_add(&st->body_too_large, 1);
        log_info("req=%s status=413 error=\"%s\"", r->id, message);
    } else {
        stats_add(&st->bad_requests, 1);
        log_info("req=%s status=%d error=\"%s\"", r->id, status, message);
    }
    if (r->capture && r->capture->outcome == EXCHANGE_COMPLETE) {
        r->capture->outcome = EXCHANGE_REFUSED;
        snprintf(r->capture->detail, sizeof(r->capture->detail), "%s", message);
    }
    return ret;
}

static enum MHD_Result answer_upstream_failure(struct relay *r)
{
    bool timeout = r->upstream_error == EXCHANGE_TIMEOUT;
    enum MHD_Result ret =
        answer_error(r, r->error_status ? r->error_status : MHD_HTTP_BAD_GATEWAY,
                     timeout ? "upstream_timeout" : "upstream_error",
                     timeout ? "upstream_timeout" : "upstream_unavailable", r->error_detail);
    /* answer_error marks captures REFUSED; this one failed upstream. */
    if (r->capture) {
        r->capture->outcome = r->upstream_error;
        snprintf(r->capture->detail, sizeof(r->capture->detail), "%s", r->error_detail);
    }
    return ret;
}

static void suspend(struct relay *r)
{
    MHD_suspend_connection(r->conn);
    r->suspended = true;
    if (r->client_fd < 0) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        r->client_fd = ci ? ci->connect_fd : -1;
    }
}

void server_wake(struct relay *r)
{
    if (!r->suspended) return;
    r->suspended = false;
    MHD_resume_connection(r->conn);
    loop_need_mhd_run(r->loop, r->phase == RELAY_RESPONDING);
}

void server_on_client_hangup(struct relay *r)
{
    if (r->client_watched) {
        loop_unwatch_client(r->loop, r->client_fd);
        r->client_watched = false;
    }
    r->client_gone = true;
    upstream_abort(r, EXCHANGE_CLIENT_ABORT, 0, "client closed the connection");
    server_wake(r);
}

/* The response cannot be completed: make the client see it now. MHD in turbo mode does not
 * shut the socket down when a reader fails, so the connection would linger until the client
 * timeout; a shutdown here sends the FIN at once and wakes MHD to close the connection. */
static void cut_client(struct relay *r)
{
    int fd = r->client_fd;
    if (fd < 0) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        fd = ci ? ci->connect_fd : -1;
    }
    if (fd >= 0) shutdown(fd, SHUT_RDWR);
}

static ssize_t on_read(void *cls, uint64_t pos, char *out, size_t max)
{
    (void)pos;
    struct relay *r = cls;
    size_t pending = r->body.len - r->body_off;
    if (pending > 0) {
        size_t n = pending < max ? pending : max;
        memcpy(out, r->body.data + r->body_off, n);
        r->body_off += n;
        if (r->body_off == r->body.len) {
            buf_reset(&r->body);
            r->body_off = 0;
        }
        stats_add(&loop_stats_mut(r->loop)->response_bytes, n);
        upstream_maybe_unpause(r);
        return (ssize_t)n;
    }
    if (r->client_gone) return MHD_CONTENT_READER_END_WITH_ERROR;
    if (r->upstream_done) {
        if (r->upstream_error == EXCHANGE_COMPLETE) return MHD_CONTENT_READER_END_OF_STREAM;
        cut_client(r);
        return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    /* Nothing to send yet: returning 0 without suspending would make MHD spin (PITFALLS.md). */
    suspend(r);
    return 0;
}

static bool has_no_body(const struct relay *r)
{
    return r->status < 200 || r->status == 204 || r->status == 304;
}

/* True when the transfer is over and every body byte it brought is still in r->body. */
static bool is_whole_body_here(const struct relay *r)
{
    return r->upstream_done && r->upstream_error == EXCHANGE_COMPLETE && r->body_off == 0 &&
           !has_no_body(r) && strcmp(r->method, "HEAD") != 0 &&
           (r->content_length < 0 || (uint64_t)r->content_length == r->body.len) &&
           r->response_bytes == r->body.len;
}

/* The upstream head is complete: queue our response, whose body on_read feeds. */
static enum MHD_Result respond(struct relay *r)
{
    uint64_t size = MHD_SIZE_UNKNOWN;
    if (has_no_body(r))
        size = 0;
    else if (r->content_length >= 0)
        size = (uint64_t)r->content_length;
    struct MHD_Response *resp;
    if (is_whole_body_here(r)) {
        /* Small replies often arrive complete with their head: hand MHD the bytes at once, so it
         * writes head and body in one send. */
        size_t len;
        char *body = buf_steal(&r->body, &len);
        resp = MHD_create_response_from_buffer_with_free_callback(len, body, free);
        stats_add(&loop_stats_mut(r->loop)->response_bytes, len);
    } else {
        size_t block = SERVER_BLOCK_BYTES;
        if (size != MHD_SIZE_UNKNOWN && size < block)
            block = size > 0 ? (size_t)size : 1;
        else if (size == MHD_SIZE_UNKNOWN)
            block = 1;
        resp = MHD_create_response_from_callback(size, block, on_read, r, NULL);
    }
    if (resp == NULL) return MHD_NO;
    /* response_head holds "name\0value\0" pairs already filtered by upstream.c. */
    const char *p = r->response_head.data;
    const char *end = p ? p + r->response_head.len : p;
    while (p && p < end) {
        const char *name = p;
        const char *value = name + strlen(name) + 1;
        p = value + strlen(value) + 1;
        if (MHD_add_response_header(resp, name, value) == MHD_NO)
            log_debug("req=%s response header %s refused by MHD", r->id, name);
        if (r->capture && !headers_is_secret(name, strlen(name))) {
            buf_append_some(&r->capture->response_head, name, strlen(name));
            buf_append_some(&r->capture->response_head, ": ", 2);
            buf_append_some(&r->capture->response_head, value, strlen(value));
            buf_append_some(&r->capture->response_head, "\n", 1);
        }
    }
    MHD_add_response_header(resp, "x-request-id", r->id);
    if (loop_is_draining(r->loop)) MHD_add_response_header(resp, "Connection", "close");
    enum MHD_Result ret = MHD_queue_response(r->conn, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    r->phase = RELAY_RESPONDING;
    count_status(r, r->status);
    return ret;
}

/* Returns a new capture of r, for the evaluator. */
static struct exchange *new_capture(struct relay *r, enum exchange_sampled_by by)
{
    const struct config *cfg = loop_config(r->loop);
    struct exchange *ex = exchange_new(r->id, cfg->capture_max_bytes);
    ex->sampled_by = by;
    snprintf(ex->method, sizeof(ex->method), "%s", r->method);
    ex->uri = xstrdup(r->uri);
    ex->upstream = xstrdup(r->upstream ? r->upstream->name : "-");
    ex->start_us = r->start_us;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ex->start_unix_ms =
        (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 - (exchange_now_us() - r->start_us) / 1000;
    return ex;
}

/* The request is complete: is this exchange captured? The header forces it either way; else
 * the rate of its model, route or the global one decides, on the request id. */
static void choose_capture(struct relay *r)
{
    const struct sampler *s = loop_sampler(r->loop);
    enum sampler_force force = sampler_parse_force(
        MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "x-sigmaproxy-sample"));
    if (force == SAMPLER_FORCE_NEVER) return;
    if (force == SAMPLER_FORCE_ALWAYS) {
        r->capture = new_capture(r, EXCHANGE_SAMPLED_FORCED);
        return;
    }
    char model[128];
    bool has_model =
        sampler_has_model_rates(s) &&
        sampler_find_model(r->request_body.data, r->request_body.len, model, sizeof(model));
    double rate = sampler_rate(s, r->upstream->name, has_model ? model : NULL);
    if (sampler_should_sample(r->id, rate)) r->capture = new_capture(r, EXCHANGE_SAMPLED_RATE);
}

/* Upstream failures are always captured, apart from the rate sample (SIXSIGMA.md §13). */
static bool is_upstream_failure(const struct relay *r, enum exchange_outcome outcome)
{
    return outcome == EXCHANGE_TIMEOUT || outcome == EXCHANGE_UPSTREAM_ERROR || r->status >= 500 ||
           r->status == 429;
}

/* The request head is parsed: identify, route, check limits. */
static enum MHD_Result intake(struct relay *r, const char *method)
{
    struct loop *l = r->loop;
    const struct config *cfg = loop_config(l);
    const char *client_id = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "x-request-id");
    if (client_id && reqid_is_acceptable(client_id))
        snprintf(r->id, sizeof(r->id), "%s", client_id);
    else
        reqid_next(loop_reqid(l), r->id);
    if (strlen(method) >= sizeof(r->method))
        return answer_error(r, MHD_HTTP_NOT_IMPLEMENTED, "invalid_request_error",
                            "method_not_supported", "request method is too long");
    snprintf(r->method, sizeof(r->method), "%s", method);

    if (r->uri[0] != '/')
        return answer_error(r, MHD_HTTP_BAD_REQUEST, "invalid_request_error", "bad_request_target",
                            "request target must be a path starting with '/'");
    r->upstream = config_route(cfg, r->uri);
    if (r->upstream == NULL)
        return answer_error(r, MHD_HTTP_NOT_FOUND, "invalid_request_error", "no_route",
                            "no upstream is configured for this path");

    /* RFC 9112 §6.3: both framings at once is a smuggling attempt; refuse, never pick one. */
    const char *te = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Transfer-Encoding");
    const char *cl = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Content-Length");
    if (te && cl)
        return answer_error(r, MHD_HTTP_BAD_REQUEST, "invalid_request_error", "bad_framing",
                            "request has both Content-Length and Transfer-Encoding");
    if (cl) {
        char *endp;
        unsigned long long n = strtoull(cl, &endp, 10);
        if (*endp == '\0' && n > cfg->max_body_bytes) {
            char msg[128];
            snprintf(msg, sizeof(msg), "request body of %llu bytes exceeds the limit of %zu bytes",
                     n, cfg->max_body_bytes);
            return answer_error(r, MHD_HTTP_CONTENT_TOO_LARGE, "invalid_request_error",
                                "request_too_large", msg);
        }
    }
    return MHD_YES;
}

enum MHD_Result server_on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    (void)cls;
    (void)conn;
    (void)url;
    (void)version;
    struct relay *r = *con_cls;
    if (r == NULL) return MHD_NO;
    switch (r->phase) {
    case RELAY_RECEIVING:
        if (r->id[0] == '\0') return intake(r, method);
        if (*upload_size > 0) {
            if (!r->request_too_large && buf_append(&r->request_body, upload, *upload_size) < 0)
                r->request_too_large = true;
            if (r->request_too_large) {
                /* MHD cannot answer before the body is read: discard it to send the 413, but
                 * not without end. Past the allowance the connection is closed unanswered. */
                r->discarded_bytes += *upload_size;
                if (r->discarded_bytes > SERVER_DISCARD_MAX_BYTES) {
                    log_info("req=%s body over the limit by more than %d bytes: closing", r->id,
                             SERVER_DISCARD_MAX_BYTES);
                    stats_add(&loop_stats_mut(r->loop)->body_too_large, 1);
                    return MHD_NO;
                }
            }
            *upload_size = 0;
            return MHD_YES;
        }
        if (r->request_too_large) {
            char msg[128];
            snprintf(msg, sizeof(msg), "request body exceeds the limit of %zu bytes",
                     r->request_body.cap);
            return answer_error(r, MHD_HTTP_CONTENT_TOO_LARGE, "invalid_request_error",
                                "request_too_large", msg);
        }
        stats_add(&loop_stats_mut(r->loop)->request_bytes, r->request_body.len);
        choose_capture(r);
        r->request_done_us = exchange_now_us();
        if (upstream_start(r) < 0) return answer_upstream_failure(r);
        r->phase = RELAY_WAITING;
        suspend(r);
        return MHD_YES;
    case RELAY_WAITING:
        if (r->client_gone) return MHD_NO; /* nobody to answer: close */
        if (r->head_complete) return respond(r);
        if (r->upstream_done) return answer_upstream_failure(r);
        suspend(r);
        return MHD_YES;
    case RELAY_RESPONDING:
    case RELAY_ANSWERED:
        break;
    }
    return MHD_YES;
}

static void finish_capture(struct relay *r, enum exchange_outcome outcome)
{
    struct exchange *ex = r->capture;
    r->capture = NULL;
    struct stats *st = loop_stats_mut(r->loop);
    ex->status = r->status;
    if (ex->outcome == EXCHANGE_COMPLETE && outcome != EXCHANGE_COMPLETE) {
        ex->outcome = outcome;
        snprintf(ex->detail, sizeof(ex->detail), "%s", r->error_detail);
    }
    ex->first_byte_us = r->first_byte_us;
    ex->end_us = exchange_now_us();
    /* The transfer is over, so libcurl no longer reads the body: hand it over. */
    ex->request_body = buf_steal(&r->request_body, &ex->request_body_len);
    if (queue_try_push(loop_captures(r->loop), ex) == 0) {
        stats_add(&st->captured, 1);
    } else {
        stats_add(&st->capture_dropped, 1);
        exchange_release(ex);
    }
}

void server_on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    struct relay *r = *con_cls;
    if (r == NULL) return;
    *con_cls = NULL;
    struct loop *l = r->loop;
    struct stats *st = loop_stats_mut(l);
    if (r->client_watched) loop_unwatch_client(l, r->client_fd);
    r->suspended = false; /* MHD is closing the connection: nothing to resume */
    if (r->easy) upstream_abort(r, EXCHANGE_CLIENT_ABORT, 0, "client closed the connection");

    enum exchange_outcome outcome = r->upstream_error;
    if (outcome == EXCHANGE_COMPLETE && toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
        outcome = EXCHANGE_CLIENT_ABORT;
    if (outcome == EXCHANGE_CLIENT_ABORT) {
        stats_add(&st->client_aborts, 1);
        log_debug("req=%s client left before the end of the response", r->id);
    } else if (outcome == EXCHANGE_TIMEOUT && r->phase == RELAY_RESPONDING) {
        stats_add(&st->upstream_timeouts, 1);
        log_warn("req=%s stream cut: %s", r->id, r->error_detail);
    } else if (outcome == EXCHANGE_UPSTREAM_ERROR && r->phase == RELAY_RESPONDING) {
        stats_add(&st->upstream_errors, 1);
        log_warn("req=%s stream cut: %s", r->id, r->error_detail);
    }
    if (r->upstream_end_us > 0) {
        int64_t now = exchange_now_us();
        stats_observe(&st->upstream_latency, r->upstream_end_us - r->transfer_start_us);
        if (r->first_byte_us > 0) stats_observe(&st->ttft, r->first_byte_us - r->transfer_start_us);
        if (outcome == EXCHANGE_COMPLETE)
            stats_observe(&st->overhead,
                          (r->transfer_start_us - r->request_done_us) + (now - r->upstream_end_us));
    }
    if (r->capture == NULL && r->upstream && is_upstream_failure(r, outcome) &&
        sampler_parse_force(MHD_lookup_connection_value(
            r->conn, MHD_HEADER_KIND, "x-sigmaproxy-sample")) != SAMPLER_FORCE_NEVER)
        r->capture = new_capture(r, EXCHANGE_SAMPLED_ERROR);
    if (r->capture) finish_capture(r, outcome);
    if (loop_config(l)->access_log) {
        const char *q = strchr(r->uri, '?');
        int path_len = q ? (int)(q - r->uri) : (int)strlen(r->uri);
        /* The query is left out: some APIs take keys there. */
        log_info("access req=%s method=%s path=%.*s status=%d bytes=%llu ms=%.3f upstream=%s "
                 "outcome=%s",
                 r->id[0] ? r->id : "-", r->method[0] ? r->method : "-", path_len, r->uri,
                 r->status, (unsigned long long)r->response_bytes,
                 (double)(exchange_now_us() - r->start_us) / 1000.0,
                 r->upstream ? r->upstream->name : "-", exchange_outcome_name(outcome));
    }
    atomic_store_explicit(&st->inflight,
                          atomic_load_explicit(&st->inflight, memory_order_relaxed) - 1,
                          memory_order_relaxed);
    curl_slist_free_all(r->request_headers);
    buf_fini(&r->request_body);
    buf_fini(&r->response_head);
    buf_fini(&r->body);
    free(r->uri);
    free(r);
}
