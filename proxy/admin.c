/* Admin endpoints, served by MHD's own thread. Every number comes from a snapshot: the loops'
 * relaxed-atomic counters, the queue's depth, the evaluator's locked copy. */
#include "proxy/admin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>

#include "core/buf.h"
#include "core/exchange.h"
#include "core/xalloc.h"
#include "proxy/dashboard.h"

#define LOG_MODULE "admin"
#include "core/log.h"

struct admin {
    struct admin_view view;
    struct MHD_Daemon *mhd;
    int64_t start_us;
};

struct snapshot {
    struct stats_snapshot proxy;
    struct evaluator_stats eval;
    size_t queue_depth;
    double uptime_s;
};

static void take_snapshot(struct admin *a, struct snapshot *s)
{
    memset(s, 0, sizeof(*s));
    for (size_t i = 0; i < a->view.n_loops; i++)
        stats_accumulate(&s->proxy, loop_stats(a->view.loops[i]));
    evaluator_get_stats(a->view.evaluator, &s->eval);
    s->queue_depth = queue_depth(a->view.captures);
    s->uptime_s = (double)(exchange_now_us() - a->start_us) / 1e6;
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *type,
                             char *body, size_t len)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(resp, "Content-Type", type);
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    enum MHD_Result ret = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result reply_text(struct MHD_Connection *conn, unsigned status, const char *text)
{
    return reply(conn, status, "text/plain; charset=utf-8", xstrdup(text), strlen(text));
}

static enum MHD_Result serve_stats(struct admin *a, struct MHD_Connection *conn)
{
    struct snapshot s;
    take_snapshot(a, &s);
    json_t *root = json_pack(
        "{s:f, s:b, s:{s:I, s:{s:I, s:I, s:I, s:I, s:I}, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
        "s:I}, s:{s:f, s:I, s:I, s:I, s:I, s:I, s:I}}",
        "uptime_s", s.uptime_s, "ready", (int)atomic_load(a->view.ready), "proxy", "requests",
        (json_int_t)s.proxy.requests, "responses", "1xx", (json_int_t)s.proxy.responses_1xx, "2xx",
        (json_int_t)s.proxy.responses_2xx, "3xx", (json_int_t)s.proxy.responses_3xx, "4xx",
        (json_int_t)s.proxy.responses_4xx, "5xx", (json_int_t)s.proxy.responses_5xx,
        "upstream_errors", (json_int_t)s.proxy.upstream_errors, "upstream_timeouts",
        (json_int_t)s.proxy.upstream_timeouts, "body_too_large", (json_int_t)s.proxy.body_too_large,
        "bad_requests", (json_int_t)s.proxy.bad_requests, "client_aborts",
        (json_int_t)s.proxy.client_aborts, "upstream_pauses", (json_int_t)s.proxy.upstream_pauses,
        "request_bytes", (json_int_t)s.proxy.request_bytes, "response_bytes",
        (json_int_t)s.proxy.response_bytes, "inflight", (json_int_t)s.proxy.inflight, "capture",
        "sample_rate", sampler_global_rate(a->view.sampler), "captured",
        (json_int_t)s.proxy.captured, "dropped", (json_int_t)s.proxy.capture_dropped, "queue_depth",
        (json_int_t)s.queue_depth, "evaluated", (json_int_t)s.eval.n_evaluated, "flagged",
        (json_int_t)s.eval.n_flagged, "parse_errors", (json_int_t)s.eval.n_parse_errors);
    json_object_set_new(root, "sigma", evaluator_stats_json(a->view.evaluator));
    json_object_set_new(root, "triage", triage_stats_json(a->view.triage));
    char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(root);
    size_t len = strlen(text);
    text = xrealloc(text, len + 2);
    text[len++] = '\n';
    text[len] = '\0';
    return reply(conn, MHD_HTTP_OK, "application/json", text, len);
}

static void metric(struct buf *b, const char *name, const char *type, const char *help,
                   const char *labels, double value)
{
    char line[512];
    int n;
    if (type) {
        n = snprintf(line, sizeof(line), "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
        buf_append(b, line, (size_t)n);
    }
    n = snprintf(line, sizeof(line), "%s%s %.17g\n", name, labels ? labels : "", value);
    buf_append(b, line, (size_t)n);
}

static void histogram(struct buf *b, const char *name, const char *help,
                      const struct stats_hist_snapshot *h)
{
    char line[256];
    int n = snprintf(line, sizeof(line), "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    buf_append(b, line, (size_t)n);
    uint64_t cumulative = 0;
    for (int i = 0; i < STATS_BUCKETS; i++) {
        cumulative += h->counts[i];
        if (i < STATS_BUCKETS - 1)
            n = snprintf(line, sizeof(line), "%s_bucket{le=\"%g\"} %llu\n", name,
                         stats_bucket_le[i], (unsigned long long)cumulative);
        else
            n = snprintf(line, sizeof(line), "%s_bucket{le=\"+Inf\"} %llu\n", name,
                         (unsigned long long)cumulative);
        buf_append(b, line, (size_t)n);
    }
    n = snprintf(line, sizeof(line), "%s_sum %.6f\n%s_count %llu\n", name, (double)h->sum_us / 1e6,
                 name, (unsigned long long)cumulative);
    buf_append(b, line, (size_t)n);
}

static enum MHD_Result serve_metrics(struct admin *a, struct MHD_Connection *conn)
{
    struct snapshot s;
    take_snapshot(a, &s);
    struct buf b;
    buf_init(&b, 8 << 20);
    const struct stats_snapshot *p = &s.proxy;
    metric(&b, "sigmaproxy_requests_total", "counter", "Requests received.", NULL,
           (double)p->requests);
    metric(&b, "sigmaproxy_responses_total", "counter", "Responses sent, by status class.",
           "{class=\"1xx\"}", (double)p->responses_1xx);
    metric(&b, "sigmaproxy_responses_total", NULL, NULL, "{class=\"2xx\"}",
           (double)p->responses_2xx);
    metric(&b, "sigmaproxy_responses_total", NULL, NULL, "{class=\"3xx\"}",
           (double)p->responses_3xx);
    metric(&b, "sigmaproxy_responses_total", NULL, NULL, "{class=\"4xx\"}",
           (double)p->responses_4xx);
    metric(&b, "sigmaproxy_responses_total", NULL, NULL, "{class=\"5xx\"}",
           (double)p->responses_5xx);
    for (size_t r = 0; r < a->view.cfg->n_upstreams && r < STATS_MAX_ROUTES; r++) {
        for (int c = 0; c < 5; c++) {
            char labels[200];
            snprintf(labels, sizeof(labels), "{route=\"%s\",class=\"%dxx\"}",
                     a->view.cfg->upstreams[r].name, c + 1);
            metric(&b, "sigmaproxy_route_responses_total", r == 0 && c == 0 ? "counter" : NULL,
                   "Responses sent, by route (upstream name) and status class.", labels,
                   (double)p->by_route[r][c]);
        }
    }
    histogram(&b, "sigmaproxy_upstream_latency_seconds",
              "Upstream transfer time, start to last byte.", &p->upstream_latency);
    histogram(&b, "sigmaproxy_upstream_ttft_seconds",
              "Upstream time to first byte (time to first token for streams).", &p->ttft);
    histogram(&b, "sigmaproxy_proxy_overhead_seconds",
              "Time the proxy added: request complete to upstream start, plus upstream's last "
              "byte to the client's.",
              &p->overhead);
    metric(&b, "sigmaproxy_upstream_errors_total", "counter",
           "Exchanges failed by the upstream (unreachable, reset, malformed).", NULL,
           (double)p->upstream_errors);
    metric(&b, "sigmaproxy_upstream_timeouts_total", "counter",
           "Exchanges ended by a connect, first-byte, idle or total deadline.", NULL,
           (double)p->upstream_timeouts);
    metric(&b, "sigmaproxy_body_too_large_total", "counter", "Requests refused with 413.", NULL,
           (double)p->body_too_large);
    metric(&b, "sigmaproxy_bad_requests_total", "counter", "Requests refused with 400 or 404.",
           NULL, (double)p->bad_requests);
    metric(&b, "sigmaproxy_client_aborts_total", "counter",
           "Clients that left before their response ended.", NULL, (double)p->client_aborts);
    metric(&b, "sigmaproxy_upstream_pauses_total", "counter",
           "Upstream transfers paused because a client read slowly.", NULL,
           (double)p->upstream_pauses);
    metric(&b, "sigmaproxy_request_bytes_total", "counter", "Request body bytes forwarded.", NULL,
           (double)p->request_bytes);
    metric(&b, "sigmaproxy_response_bytes_total", "counter", "Response body bytes relayed.", NULL,
           (double)p->response_bytes);
    metric(&b, "sigmaproxy_inflight_requests", "gauge", "Exchanges in progress.", NULL,
           (double)p->inflight);
    metric(&b, "sigmaproxy_captured_total", "counter", "Exchanges captured for evaluation.", NULL,
           (double)p->captured);
    metric(&b, "sigmaproxy_capture_dropped_total", "counter",
           "Captures dropped because the evaluator queue was full.", NULL,
           (double)p->capture_dropped);
    metric(&b, "sigmaproxy_capture_queue_depth", "gauge", "Captures waiting for the evaluator.",
           NULL, (double)s.queue_depth);
    metric(&b, "sigmaproxy_evaluated_total", "counter", "Captures taken by the evaluator.", NULL,
           (double)s.eval.n_evaluated);
    metric(&b, "sigmaproxy_flagged_total", "counter", "Evaluated exchanges with a defect.", NULL,
           (double)s.eval.n_flagged);
    metric(&b, "sigmaproxy_sample_rate", "gauge", "Global sampling rate in force.", NULL,
           sampler_global_rate(a->view.sampler));
    metric(&b, "sigmaproxy_uptime_seconds", "gauge", "Seconds since start.", NULL, s.uptime_s);
    evaluator_metrics(a->view.evaluator, &b);
    triage_metrics(a->view.triage, &b);
    size_t len;
    char *text = buf_steal(&b, &len);
    return reply(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", text, len);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    (void)version;
    (void)upload;
    struct admin *a = cls;
    if (*con_cls == NULL) {
        *con_cls = a; /* first call: headers only */
        return MHD_YES;
    }
    if (*upload_size > 0) {
        *upload_size = 0; /* no endpoint here takes a body yet */
        return MHD_YES;
    }
    bool is_get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    if (strcmp(url, "/healthz") == 0 && is_get) return reply_text(conn, MHD_HTTP_OK, "ok\n");
    if (strcmp(url, "/readyz") == 0 && is_get) {
        bool ready = atomic_load(a->view.ready);
        return reply_text(conn, ready ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE,
                          ready ? "ready\n" : "not ready\n");
    }
    if (strcmp(url, "/stats") == 0 && is_get) return serve_stats(a, conn);
    if (strcmp(url, "/dashboard") == 0 && is_get) {
        struct MHD_Response *resp = MHD_create_response_from_buffer(
            dashboard_html_len, (void *)dashboard_html, MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(resp, "Content-Type", "text/html; charset=utf-8");
        enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_OK, resp);
        MHD_destroy_response(resp);
        return ret;
    }
    if (strcmp(url, "/metrics") == 0 && is_get) return serve_metrics(a, conn);
    if (strcmp(url, "/healthz") == 0 || strcmp(url, "/readyz") == 0 || strcmp(url, "/stats") == 0 ||
        strcmp(url, "/metrics") == 0)
        return reply_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
    return reply_text(conn, MHD_HTTP_NOT_FOUND,
                      "not found; endpoints: /healthz /readyz /stats /metrics /dashboard\n");
}

struct admin *admin_start(const struct admin_view *view, int listen_fd, struct err *err)
{
    struct admin *a = xcalloc(1, sizeof(*a));
    a->view = *view;
    a->start_us = exchange_now_us();
    a->mhd =
        MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, 0, NULL, NULL, on_request,
                         a, MHD_OPTION_LISTEN_SOCKET, listen_fd, MHD_OPTION_CONNECTION_LIMIT, 64U,
                         MHD_OPTION_CONNECTION_TIMEOUT, 30U, MHD_OPTION_END);
    if (a->mhd == NULL) {
        err_set(err, "admin: MHD_start_daemon failed");
        close(listen_fd);
        free(a);
        return NULL;
    }
    return a;
}

void admin_stop(struct admin *a)
{
    if (a == NULL) return;
    MHD_stop_daemon(a->mhd);
    free(a);
}
